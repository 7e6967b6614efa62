#!/usr/bin/env python3
"""Keep-alive HTTP load for the soak tests: CONNS client connections to
127.0.0.1:PORT, each sending GET requests one after the other on one
connection (a new one only when the server closed it), until STOPFILE
exists or MAXREQ requests were sent or MAXSEC seconds passed (a bound,
not a measure).  A request fails when it got no whole response with
status 200 and body "hello\\n".  Every REQS_EVERY requests the progress
(requests done) is written to PROGRESS, so that a test can wait for the
load to have moved on, not for time to pass.  At the end, one JSON
object on stdout: ok, failed, reconnects, and for every connection its
local ports, the requests that failed on each and the number of each
port's last request that succeeded (for matching with audit records).

Usage: load.py PORT HOST PATH CONNS MAXREQ MAXSEC STOPFILE PROGRESS"""
import json, os, socket, sys, threading, time

port, host, path = int(sys.argv[1]), sys.argv[2], sys.argv[3]
conns, maxreq, maxsec = int(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6])
stopfile, progress = sys.argv[7], sys.argv[8]
REQ = ("GET %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (path, host)).encode()
lock = threading.Lock()
state = {"ok": 0, "failed": 0, "reconnects": 0, "sent": 0}
ports = {}          # local port -> {"ok": n, "failed": n}
end = time.time() + maxsec


def more():
    with lock:
        if state["sent"] >= maxreq:
            return False
        state["sent"] += 1
        return True


def read_response(f):
    line = f.readline()
    if not line.startswith(b"HTTP/1.1 "):
        return None
    status = int(line.split()[1])
    length = None
    while True:
        h = f.readline()
        if not h:
            return None
        if h in (b"\r\n", b"\n"):
            break
        k, _, v = h.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v.strip())
    body = f.read(length) if length else b""
    if length is not None and len(body) != length:
        return None
    return status, body


def client(i):
    s = f = None
    lport = None
    while time.time() < end and not os.path.exists(stopfile):
        if s is None:
            try:
                s = socket.create_connection(("127.0.0.1", port), timeout=30)
            except OSError:
                with lock:
                    state["failed"] += 1
                time.sleep(0.05)
                continue
            f = s.makefile("rb")
            lport = s.getsockname()[1]
            with lock:
                ports.setdefault(lport, {"ok": 0, "failed": 0, "conn": i})
        if not more():
            break
        try:
            s.sendall(REQ)
            r = read_response(f)
        except OSError:
            r = None
        good = r is not None and r[0] == 200 and r[1] == b"hello\n"
        with lock:
            if good:
                state["ok"] += 1
                ports[lport]["ok"] += 1
                n = state["ok"]
            else:
                state["failed"] += 1
                ports[lport]["failed"] += 1
                n = 0
        if n and n % 50 == 0:
            with lock:
                with open(progress + ".tmp", "w") as pf:
                    pf.write("%d\n" % n)
                os.replace(progress + ".tmp", progress)
        if not good:
            s.close()
            s = None
            with lock:
                state["reconnects"] += 1
    if s is not None:
        s.close()


threads = [threading.Thread(target=client, args=(i,)) for i in range(conns)]
for t in threads:
    t.start()
for t in threads:
    t.join()
state["ports"] = ports
print(json.dumps(state))
