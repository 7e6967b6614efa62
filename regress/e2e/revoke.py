#!/usr/bin/env python3
"""Clients (and an echo origin) for regress/e2e/revoke.sh: what a reload
does to connections, requests and tunnels that are open.  The shell
drives the reloads; files synchronise (READY: the client is where the
test wants it; GO/STOP: the shell did its part).  Every wait is bounded.

  echo ADDR PORT SECONDS READY          TCP echo server
  https ADDR PORT CERT KEY SECONDS READY
                                        HTTPS origin: 200 "hello" to
                                        any request, keep-alive
  keep PORT HOSTA HOSTB READY GO        one keep-alive connection: a
                                        request, then (after GO) three
                                        for HOSTA and one for HOSTB
  inflight PORT HOST GATE READY         a request held at the origin
                                        until GATE exists, with another
                                        pipelined behind it
  tunnel PORT TARGET READY STOP OUT     CONNECT TARGET (host:port), or
                                        "ws:HOST:PORT:PATH" for a websocket;
                                        then random bytes both ways,
                                        checksummed, until STOP or the
                                        close; OUT.progress: bytes back
                                        "tls:NAME" for TLS passthrough
                                        (a real ClientHello for NAME)
  tlskeep PORT HOST CERT KEY READY GO OUT
                                        a keep-alive connection over
                                        TLS with a client certificate:
                                        a request; after GO another;
                                        after GO2 wait for the close
  many PORT TARGET N READY OUT          N CONNECT tunnels, held until
                                        all are closed
  idle PORT HOST READY OUT              a request, then wait for the
                                        gateway to close the connection
  load PORT HOST STOP OUT               keep-alive and new connections
                                        asking HOST until STOP;
                                        OUT.progress: requests so far

HOST is host:port of the origin, asked for in absolute-form."""
import hashlib, json, os, socket, ssl, sys, threading, time

def touch(path):
    open(path, "w").close()

def wait_file(path, limit):
    end = time.time() + limit
    while not os.path.exists(path) and time.time() < end:
        time.sleep(0.02)
    return os.path.exists(path)

def connect(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=20)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s

def read_response(f):
    """(status, headers, body) of one response, or None at the close."""
    line = f.readline(65537)
    if not line:
        return None
    status = int(line.split(b" ", 2)[1])
    headers = {}
    while True:
        h = f.readline(65537)
        if h in (b"\r\n", b"\n", b""):
            break
        k, _, v = h.decode("latin-1").partition(":")
        headers[k.strip().lower()] = v.strip()
    n = int(headers.get("content-length", "0"))
    body = f.read(n) if n else b""
    return status, headers, body

def get(host, path="/small"):
    return ("GET http://%s%s HTTP/1.1\r\nHost: %s\r\n\r\n" %
            (host, path, host)).encode()

def show(r):
    if r is None:
        return "closed"
    return "%d %s" % (r[0], r[2].decode("latin-1").strip().replace(" ", "_") or "-")

def cmd_echo(addr, port, seconds, ready):
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((addr, int(port)))
    srv.listen(64)
    srv.settimeout(0.5)

    def serve(c):
        try:
            while True:
                d = c.recv(65536)
                if not d:
                    break
                c.sendall(d)
        except OSError:
            pass
        c.close()
    touch(ready)
    end = time.time() + float(seconds)
    while time.time() < end:
        try:
            c, _ = srv.accept()
        except socket.timeout:
            continue
        c.settimeout(float(seconds))
        threading.Thread(target=serve, args=(c,), daemon=True).start()

def cmd_https(addr, port, cert, key, seconds, ready):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((addr, int(port)))
    srv.listen(64)
    srv.settimeout(0.5)

    def serve(c):
        try:
            c = ctx.wrap_socket(c, server_side=True)
            f = c.makefile("rb")
            while True:
                line = f.readline(65537)
                if not line:
                    break
                while f.readline(65537) not in (b"\r\n", b"\n", b""):
                    pass
                c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\n"
                          b"hello\n")
        except (OSError, ssl.SSLError):
            pass
        c.close()
    touch(ready)
    end = time.time() + float(seconds)
    while time.time() < end:
        try:
            c, _ = srv.accept()
        except socket.timeout:
            continue
        c.settimeout(30)
        threading.Thread(target=serve, args=(c,), daemon=True).start()

def cmd_keep(port, hosta, hostb, ready, go):
    s = connect(int(port))
    f = s.makefile("rb")
    print("port", s.getsockname()[1])
    s.sendall(get(hosta))
    print("first", show(read_response(f)))
    sys.stdout.flush()
    touch(ready)
    if not wait_file(go, 60):
        print("no go")
        return
    for i in range(3):
        s.sendall(get(hosta))
        print("after", show(read_response(f)))
    s.sendall(get(hostb))
    print("other", show(read_response(f)))
    s.sendall(get(hosta))
    print("again", show(read_response(f)))

def cmd_inflight(port, host, gate, ready):
    s = connect(int(port))
    f = s.makefile("rb")
    s.sendall(get(host, "/small?gate=" + gate) + get(host))
    touch(ready)
    print("first", show(read_response(f)))
    print("second", show(read_response(f)))

def client_hello(name):
    """The bytes of a real ClientHello for name."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname=name)
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return out.read()

def open_tunnel(port, target):
    s = connect(int(port))
    if target.startswith("tls:"):
        return s, "-", client_hello(target[4:])
    f = s.makefile("rb")
    if target.startswith("ws:"):
        _, name, port, path = target.split(":", 3)
        host = name + ":" + port
        s.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\n"
                   "Connection: Upgrade\r\nSec-WebSocket-Key: x\r\n\r\n" %
                   (path, host)).encode())
        want = 101
    else:
        s.sendall(("CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n" %
                   (target, target)).encode())
        want = 200
    r = read_response(f)
    if r is None or r[0] != want:
        return None, show(r), b""
    return s, "%d" % r[0], b""

def cmd_tunnel(port, target, ready, stop, out):
    s, status, first = open_tunnel(port, target)
    res = {"status": status, "sent": 0, "received": 0, "eof": False}
    if s is None:
        json.dump(res, open(out, "w"))
        touch(ready)
        return
    s.settimeout(None)
    hs, hr = hashlib.sha256(), hashlib.sha256()
    lock = threading.Lock()
    done = threading.Event()

    def receiver():
        last = 0
        try:
            while True:
                d = s.recv(65536)
                if not d:
                    res["eof"] = True
                    break
                with lock:
                    hr.update(d)
                    res["received"] += len(d)
                if time.time() - last > 0.05:
                    last = time.time()
                    with open(out + ".progress.tmp", "w") as p:
                        p.write("%d\n" % res["received"])
                    os.replace(out + ".progress.tmp", out + ".progress")
        except OSError as e:
            res["error"] = str(e)
            res["eof"] = True
        with open(out + ".progress", "w") as p:
            p.write("%d\n" % res["received"])
        done.set()
    t = threading.Thread(target=receiver, daemon=True)
    t.start()
    if first:
        s.sendall(first)
        hs.update(first)
        res["sent"] += len(first)
    touch(ready)
    end = time.time() + 120
    while not os.path.exists(stop) and not done.is_set() and time.time() < end:
        chunk = os.urandom(4096)
        try:
            s.sendall(chunk)
        except OSError as e:
            res["send_error"] = str(e)
            break
        hs.update(chunk)
        res["sent"] += len(chunk)
        time.sleep(0.005)	# under 1 MB/s: the machine is shared
    # Everything sent must come back unless the gateway closed.
    end = time.time() + 30
    while not done.is_set() and time.time() < end:
        with lock:
            if res["received"] >= res["sent"]:
                break
        time.sleep(0.02)
    with lock:
        res["same"] = res["received"] == res["sent"] and \
            hs.hexdigest() == hr.hexdigest()
    s.close()
    json.dump(res, open(out, "w"))

def cmd_many(port, target, n, ready, out):
    socks = []
    for i in range(int(n)):
        s, status, first = open_tunnel(port, target)
        if s is None:
            print("refused", status)
            return
        socks.append(s)
    touch(ready)
    closed = 0
    end = time.time() + 60
    for s in socks:
        s.settimeout(max(0.1, end - time.time()))
        try:
            if s.recv(1) == b"":
                closed += 1
        except OSError:
            pass
    with open(out, "w") as f:
        f.write("%d\n" % closed)

def cmd_idle(port, host, ready, out):
    s = connect(int(port))
    f = s.makefile("rb")
    s.sendall(get(host))
    first = show(read_response(f))
    touch(ready)
    s.settimeout(30)
    try:
        d = s.recv(1)
        what = "closed" if d == b"" else "data"
    except socket.timeout:
        what = "open"
    except OSError:
        what = "closed"
    with open(out, "w") as o:
        o.write("%s %s\n" % (first, what))

def cmd_tlskeep(port, host, cert, key, ready, go, out):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.load_cert_chain(cert, key)
    s = ctx.wrap_socket(connect(int(port)), server_hostname=host.split(":")[0])
    f = s.makefile("rb")
    res = []
    s.sendall(("GET /small HTTP/1.1\r\nHost: %s\r\n\r\n" % host).encode())
    res.append(show(read_response(f)))
    touch(ready)
    if wait_file(go, 60):
        s.sendall(("GET /small HTTP/1.1\r\nHost: %s\r\n\r\n" % host).encode())
        res.append(show(read_response(f)))
    touch(ready + "2")
    if wait_file(go + "2", 60):
        s.settimeout(30)
        try:
            res.append("data" if s.recv(1) else "closed")
        except socket.timeout:
            res.append("open")
        except OSError:
            res.append("closed")
    with open(out, "w") as o:
        o.write(" ".join(res) + "\n")

def cmd_load(port, host, stop, out):
    counts = {"ok": 0, "bad": 0}
    lock = threading.Lock()
    end = time.time() + 120

    def count(good):
        with lock:
            counts["ok" if good else "bad"] += 1
            if (counts["ok"] + counts["bad"]) % 20 == 0:
                with open(out + ".progress.tmp", "w") as p:
                    p.write("%d\n" % (counts["ok"] + counts["bad"]))
                os.replace(out + ".progress.tmp", out + ".progress")

    def keepalive():
        s = None
        n = 0
        while not os.path.exists(stop) and time.time() < end and n < 5000:
            n += 1
            try:
                if s is None:
                    s = connect(int(port))
                    f = s.makefile("rb")
                s.sendall(get(host))
                r = read_response(f)
                count(r is not None and r[0] == 200)
                if r is None:
                    s.close()
                    s = None
            except OSError:
                count(False)
                s = None
            time.sleep(0.002)

    def fresh():
        n = 0
        while not os.path.exists(stop) and time.time() < end and n < 5000:
            n += 1
            try:
                s = connect(int(port))
                s.sendall(get(host)[:-2] + b"Connection: close\r\n\r\n")
                r = read_response(s.makefile("rb"))
                count(r is not None and r[0] == 200)
                s.close()
            except OSError:
                count(False)
            time.sleep(0.002)
    ts = [threading.Thread(target=keepalive) for i in range(3)]
    ts.append(threading.Thread(target=fresh))
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    with open(out, "w") as f:
        f.write("%d %d\n" % (counts["ok"], counts["bad"]))

cmds = {"echo": cmd_echo, "https": cmd_https, "keep": cmd_keep, "inflight": cmd_inflight,
        "tunnel": cmd_tunnel, "many": cmd_many, "idle": cmd_idle,
        "tlskeep": cmd_tlskeep, "load": cmd_load}
cmds[sys.argv[1]](*sys.argv[2:])
