#!/usr/bin/env python3
"""An origin that answers with what a hostile or broken server would send,
for regress/e2e/interim.sh.  It listens on ADDR:PORT, reads each request
head (and a Content-Length body), appends one JSON line per request to LOG
({"target", "method", "headers"}), and answers by path with the bytes of
ANSWERS below.  After a 101 it becomes a raw echo and logs every byte it
receives from then on as {"raw": ...}: a test reads the log to see whether
anything reached it through a tunnel that should not exist.  Stops by
itself after SECONDS.

Paths: /switch (101 websocket), /switch-h2c (101 naming h2c), /switch-bare
(101 without Upgrade), /continue-switch (100, reads the body, then 101),
/processing (102 and 199, then 200), /hints (103 with a Link, then 200),
/continue (an unasked 100, then 200), /status-1, /status-099 and
/status-600 (status codes out of 100..599), anything else 200 "ok".  Every 200
carries Content-Length: 3 (and no body for HEAD).  Only the last segment
of the path counts: /w/switch is /switch."""
import json, socket, sys, threading, time

addr, port, logpath, seconds = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
lock = threading.Lock()

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n"
SWITCH = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
ANSWERS = {
    "/switch": SWITCH,
    "/switch-h2c": b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n",
    "/switch-bare": b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n\r\n",
    "/processing": b"HTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 199 Odd\r\nX-Interim: 1\r\n\r\n" + OK,
    "/hints": b"HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n" + OK,
    "/continue": b"HTTP/1.1 100 Continue\r\n\r\n" + OK,
    "/status-1": b"HTTP/1.1 1 Odd\r\nContent-Length: 3\r\n\r\nok\n",
    "/status-600": b"HTTP/1.1 600 Odd\r\nContent-Length: 3\r\n\r\nok\n",
    "/status-099": b"HTTP/1.1 099 Odd\r\nContent-Length: 3\r\n\r\nok\n",
}


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


def raw(conn, f):
    """After a 101: whatever comes is logged and echoed."""
    while True:
        d = f.read1(65536)
        if not d:
            return
        log({"raw": d.decode("latin-1")})
        conn.sendall(d)


def handle(conn):
    f = conn.makefile("rb")
    try:
        while True:
            head = read_head(f)
            if head is None:
                return
            method, target, _ = head[0].split(" ", 2)
            headers = {}
            for h in head[1:]:
                k, _, v = h.partition(":")
                headers[k.strip().lower()] = v.strip()
            log({"method": method, "target": target, "headers": headers})
            n = int(headers.get("content-length", "0"))
            name = "/" + target.split("?")[0].rsplit("/", 1)[1]
            if name == "/continue-switch":
                conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
                f.read(n)
                conn.sendall(SWITCH)
                raw(conn, f)
                return
            f.read(n)
            answer = ANSWERS.get(name, OK)
            if method != "HEAD" and answer.endswith(OK):
                answer += b"ok\n"
            conn.sendall(answer)
            if answer.startswith(b"HTTP/1.1 101"):
                raw(conn, f)
                return
    except (OSError, ValueError):
        return
    finally:
        conn.close()


s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((addr, port))
s.listen(64)
s.settimeout(0.5)
open(logpath + ".ready", "w").close()
end = time.time() + seconds
while time.time() < end:
    try:
        c, _ = s.accept()
    except socket.timeout:
        continue
    c.settimeout(20)
    threading.Thread(target=handle, args=(c,), daemon=True).start()
