#!/usr/bin/env python3
"""A DNS server that crafts answers, for the end-to-end tests: what a
broken server, or an off-path forger who guessed part of a query, would
send.  It listens on ADDR:PORT over UDP and TCP, and appends one JSON
line per query to LOG (transport, source port, id, the name as it
arrived with its letter case, type, and what was sent back), so that a
test can tell what the gateway asked and what it was offered.  It stops
by itself after SECONDS.  With TLSPORT CERT KEY it also answers DNS over
TLS (RFC 7858) on ADDR:TLSPORT with that certificate, as over TCP, and
logs whether each TLS session was resumed.

The first label of the name asked picks the behaviour (A questions;
AAAA questions are answered NOERROR without records, unknown names
NXDOMAIN).  REAL is 127.0.0.1, SPOOF 127.0.0.2:

  good, p*       REAL
  otherport      SPOOF from another socket (another source port), then
                 REAL from the server's port
  otherportonly  SPOOF from another source port, nothing else
  owner          only "zzz.example. A SPOOF": a record of another name
  mixedowner     "zzz.example. A SPOOF" and the name's own A REAL
  chain          name -> c1.chain.example -> c2.chain.example (CNAMEs,
                 out of order) A REAL, and a decoy "c9.example. A SPOOF"
  longchain      9 CNAMEs, the last target A SPOOF
  big            40 A records (SPOOF first), owner names uncompressed,
                 over 512 bytes, no TC; over TCP: REAL
  bigonly        the same over UDP; over TCP the connection is closed
  wrongid        SPOOF with another id, then REAL
  wrongidonly    SPOOF with another id, nothing else
  wrongq         SPOOF answering another name, then REAL
  wrongqonly     SPOOF answering another name, nothing else
  case           SPOOF with the question's letter case changed, then REAL
  tc             SPOOF with TC set; over TCP: REAL
  tconly         SPOOF with TC set; over TCP the connection is closed
"""
import json, socket, ssl, struct, sys, threading, time

addr, port, logpath, seconds = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
tlsport = int(sys.argv[5]) if len(sys.argv) > 7 else 0
REAL, SPOOF = "127.0.0.1", "127.0.0.2"
A, CNAME, AAAA = 1, 5, 28
lock = threading.Lock()

def log(entry):
    with lock, open(logpath, "a") as f:
        f.write(json.dumps(entry) + "\n")

def wire(name):
    out = b""
    for label in name.rstrip(".").split("."):
        out += bytes([len(label)]) + label.encode()
    return out + b"\0"

def parse_query(msg):
    """id, flags, the question's name in wire form (as it came), text, type"""
    qid, flags, qd = struct.unpack("!HHH", msg[:6])
    off, labels = 12, []
    while msg[off]:
        n = msg[off]
        labels.append(msg[off + 1:off + 1 + n].decode("latin-1"))
        off += n + 1
    qwire = msg[12:off + 1]
    qtype, qclass = struct.unpack("!HH", msg[off + 1:off + 5])
    return qid, qwire, ".".join(labels), qtype

def rr(owner, rtype, rdata, ttl=60):
    """owner: wire bytes (uncompressed)"""
    return owner + struct.pack("!HHIH", rtype, 1, ttl, len(rdata)) + rdata

def a(ip):
    return socket.inet_aton(ip)

def answer(qid, qwire, qtype, rrs, rcode=0, tc=False):
    flags = 0x8000 | 0x0100 | 0x0080 | rcode | (0x0200 if tc else 0)
    head = struct.pack("!HHHHHH", qid, flags, 1, len(rrs), 0, 0)
    return head + qwire + struct.pack("!HH", qtype, 1) + b"".join(rrs)

def flipcase(qwire):
    """the same name with every letter's case changed"""
    return bytes(c ^ 0x20 if chr(c).isalpha() else c for c in qwire)

def plan(mode, qid, qwire, name, qtype, tcp):
    """[(label, bytes, 'main'|'other', delay)] to send; None: close (TCP)"""
    own = qwire
    if qtype != A:
        return [("empty", answer(qid, qwire, qtype, []), "main", 0)]
    right = ("right", answer(qid, qwire, qtype, [rr(own, A, a(REAL))]), "main", 0.2)
    spoof = answer(qid, qwire, qtype, [rr(own, A, a(SPOOF))])
    if mode in ("good",) or mode.startswith("p"):
        return [("right", answer(qid, qwire, qtype, [rr(own, A, a(REAL))]), "main", 0)]
    if mode == "otherport":
        return [("spoof-otherport", spoof, "other", 0), right]
    if mode == "otherportonly":
        return [("spoof-otherport", spoof, "other", 0)]
    if mode == "owner":
        return [("other-owner", answer(qid, qwire, qtype, [rr(wire("zzz.example"), A, a(SPOOF))]), "main", 0)]
    if mode == "mixedowner":
        return [("mixed-owner", answer(qid, qwire, qtype, [
            rr(wire("zzz.example"), A, a(SPOOF)), rr(own, A, a(REAL))]), "main", 0)]
    if mode == "chain":
        c1, c2 = wire("c1.chain.example"), wire("c2.chain.example")
        return [("chain", answer(qid, qwire, qtype, [
            rr(c2, A, a(REAL)), rr(wire("c9.example"), A, a(SPOOF)),
            rr(c1, CNAME, c2), rr(own, CNAME, c1)]), "main", 0)]
    if mode == "longchain":
        names = [own] + [wire("l%d.chain.example" % i) for i in range(1, 10)]
        rrs = [rr(names[i], CNAME, names[i + 1]) for i in range(9)]
        rrs.append(rr(names[9], A, a(SPOOF)))
        return [("longchain", answer(qid, qwire, qtype, rrs), "main", 0)]
    if mode in ("big", "bigonly"):
        if tcp:
            if mode == "bigonly":
                return None
            return [("right", answer(qid, qwire, qtype, [rr(own, A, a(REAL))]), "main", 0)]
        ips = [SPOOF] + ["127.0.2.%d" % i for i in range(1, 40)]
        return [("big", answer(qid, qwire, qtype, [rr(own, A, a(ip)) for ip in ips]), "main", 0)]
    if mode in ("wrongid", "wrongidonly"):
        out = [("spoof-wrongid", answer(qid ^ 0x5555, qwire, qtype, [rr(own, A, a(SPOOF))]), "main", 0)]
        return out + ([right] if mode == "wrongid" else [])
    if mode in ("wrongq", "wrongqonly"):
        other = wire("other.test")
        out = [("spoof-wrongq", answer(qid, other, qtype, [rr(other, A, a(SPOOF))]), "main", 0)]
        return out + ([right] if mode == "wrongq" else [])
    if mode == "case":
        return [("spoof-case", answer(qid, flipcase(qwire), qtype, [rr(own, A, a(SPOOF))]), "main", 0), right]
    if mode in ("tc", "tconly"):
        if tcp:
            if mode == "tconly":
                return None
            return [("right", answer(qid, qwire, qtype, [rr(own, A, a(REAL))]), "main", 0)]
        return [("spoof-tc", answer(qid, qwire, qtype, [rr(own, A, a(SPOOF))], tc=True), "main", 0)]
    return [("nxdomain", answer(qid, qwire, qtype, [], rcode=3), "main", 0)]

udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
udp.bind((addr, port))
other = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
other.bind((addr, 0))
tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
tcp.bind((addr, port))
tcp.listen(64)

def entry(t, src, qid, name, qtype, sends, resumed=None):
    e = {"t": t, "sport": src[1], "id": qid, "qname": name, "qtype": qtype,
         "sent": [(s[0], len(s[1]), s[2]) for s in sends] if sends is not None else "closed"}
    if resumed is not None:
        e["resumed"] = resumed
    return e

def serve_udp():
    while True:
        msg, src = udp.recvfrom(65535)
        try:
            qid, qwire, name, qtype = parse_query(msg)
        except Exception:
            continue
        sends = plan(name.split(".")[0].lower(), qid, qwire, name, qtype, False)
        log(entry("udp", src, qid, name, qtype, sends))
        for label, data, sock, delay in sends:
            s = udp if sock == "main" else other
            if delay:
                threading.Timer(delay, s.sendto, (data, src)).start()
            else:
                s.sendto(data, src)

def recv_exact(conn, n):
    buf = b""
    while len(buf) < n:
        chunk = conn.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf

def serve_tcp_conn(conn, src, tls=None):
    with conn:
        conn.settimeout(10)
        resumed = None
        if tls is not None:
            try:
                conn = tls.wrap_socket(conn, server_side=True)
                resumed = conn.session_reused
            except Exception as e:
                log({"t": "tls", "sport": src[1], "handshake": str(e)[:100]})
                return
        try:
            head = recv_exact(conn, 2)
            if head is None:
                return
            msg = recv_exact(conn, struct.unpack("!H", head)[0])
            qid, qwire, name, qtype = parse_query(msg)
        except Exception:
            return
        sends = plan(name.split(".")[0].lower(), qid, qwire, name, qtype, True)
        log(entry("tcp" if tls is None else "tls", src, qid, name, qtype, sends, resumed))
        for label, data, sock, delay in sends or []:
            conn.sendall(struct.pack("!H", len(data)) + data)

def serve_tcp():
    while True:
        conn, src = tcp.accept()
        threading.Thread(target=serve_tcp_conn, args=(conn, src), daemon=True).start()

def serve_tls(listener, ctx):
    while True:
        conn, src = listener.accept()
        threading.Thread(target=serve_tcp_conn, args=(conn, src, ctx), daemon=True).start()

threading.Thread(target=serve_udp, daemon=True).start()
threading.Thread(target=serve_tcp, daemon=True).start()
if tlsport:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(sys.argv[6], sys.argv[7])
    tl = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tl.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    tl.bind((addr, tlsport))
    tl.listen(64)
    threading.Thread(target=serve_tls, args=(tl, ctx), daemon=True).start()
open(logpath + ".ready", "w").close()
time.sleep(seconds)
