#!/usr/bin/env python3
"""A small HTTP/1.1 origin for the end-to-end tests.  It listens on
ADDR:PORT, answers by path, and appends one JSON line per request it
received to LOG (method, target, headers, body length), so that tests can
check from the origin's side what arrived (and from which address), and
that a denied request arrived nowhere.  It stops by itself after SECONDS.

Paths: /small (200, "hello\n"), /big?n=N (N bytes), /chunked (a chunked
body), /close (HTTP/1.0-style body ended by close), /status/NNN, /echo
(the request body back), /slow?ms=N (answers after N ms), /headers (the
request head back as the body), /ws (101 then echoes bytes).  With
?gate=FILE, any path is answered only once FILE exists (at most 30 s
later): a test holds a request in flight for as long as it needs."""
import json, os, socket, sys, threading, time
from urllib.parse import urlsplit, parse_qs

addr, port, logpath, seconds = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
lock = threading.Lock()

def log(entry):
    with lock, open(logpath, "a") as f:
        f.write(json.dumps(entry) + "\n")

def read_head(f):
    lines = []
    while True:
        line = f.readline(65537)
        if not line:
            return None
        if line in (b"\r\n", b"\n"):
            return lines
        lines.append(line.rstrip(b"\r\n").decode("latin-1"))

def read_body(f, headers):
    te = headers.get("transfer-encoding", "").lower()
    if "chunked" in te:
        body = b""
        while True:
            size = int(f.readline().strip().split(b";")[0], 16)
            if size == 0:
                while f.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return body
            body += f.read(size)
            f.readline()
    n = int(headers.get("content-length", "0"))
    return f.read(n) if n else b""

def respond(conn, status, body, extra=b"", close=False):
    head = b"HTTP/1.1 %d X\r\nContent-Length: %d\r\n" % (status, len(body))
    if close:
        head += b"Connection: close\r\n"
    conn.sendall(head + extra + b"\r\n" + body)

def handle(conn):
    f = conn.makefile("rb")
    try:
        while True:
            head = read_head(f)
            if head is None:
                return
            method, target, version = head[0].split(" ", 2)
            headers = {}
            for h in head[1:]:
                k, _, v = h.partition(":")
                headers[k.strip().lower()] = v.strip()
            if headers.get("expect", "").lower() == "100-continue":
                conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
            body = read_body(f, headers)
            u = urlsplit(target)
            q = parse_qs(u.query)
            log({"method": method, "target": target, "version": version,
                 "headers": headers, "head": head, "body_len": len(body),
                 "body": body[:200].decode("latin-1"),
                 "peer": conn.getpeername()[0]})
            p = u.path
            if "gate" in q:
                end = time.time() + 30
                while not os.path.exists(q["gate"][0]) and time.time() < end:
                    time.sleep(0.02)
            if p == "/small":
                respond(conn, 200, b"hello\n", b"Content-Type: text/plain\r\n")
            elif p == "/big":
                respond(conn, 200, b"x" * int(q.get("n", ["1048576"])[0]))
            elif p == "/chunked":
                conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                             b"6\r\nchunk1\r\n6\r\nchunk2\r\n0\r\n\r\n")
            elif p == "/close":
                conn.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil-close\n")
                return
            elif p.startswith("/status/"):
                code = int(p[8:])
                if code in (204, 304):
                    conn.sendall(b"HTTP/1.1 %d X\r\n\r\n" % code)
                else:
                    respond(conn, code, b"status\n")
            elif p == "/echo":
                respond(conn, 200, body)
            elif p == "/slow":
                time.sleep(int(q.get("ms", ["1000"])[0]) / 1000)
                respond(conn, 200, b"slow\n")
            elif p == "/headers":
                respond(conn, 200, ("\n".join(head) + "\n").encode())
            elif p == "/ws":
                conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\n"
                             b"Upgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
                while True:
                    d = conn.recv(4096)
                    if not d:
                        return
                    conn.sendall(d)
            else:
                respond(conn, 404, b"no such path\n")
            if headers.get("connection", "").lower() == "close" or version == "HTTP/1.0":
                return
    except (OSError, ValueError):
        return
    finally:
        conn.close()

fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
s = socket.socket(fam, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((addr, port))
s.listen(128)
s.settimeout(0.5)
open(logpath + ".ready", "w").close()
end = time.time() + seconds
while time.time() < end:
    try:
        c, _ = s.accept()
    except socket.timeout:
        continue
    c.settimeout(30)
    threading.Thread(target=handle, args=(c,), daemon=True).start()
