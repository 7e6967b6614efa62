#!/usr/bin/env python3
"""Tunnels for the soak tests: N CONNECT tunnels through 127.0.0.1:PORT to
TARGET (an echo server), each sending a numbered line and reading it
back, over and over, until STOPFILE exists or MAXSEC seconds pass (a
bound).  A tunnel is cut when a line does not come back whole, or the
connection ends; it is not opened again.  Writes the round trips done so
far to PROGRESS every 20.  At the end, one JSON object on stdout:
tunnels opened, round trips, and how many were cut.

Usage: tunnels.py PORT TARGET N MAXSEC STOPFILE PROGRESS"""
import json, os, socket, sys, threading, time

port, target, n, maxsec = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
stopfile, progress = sys.argv[5], sys.argv[6]
lock = threading.Lock()
state = {"opened": 0, "trips": 0, "cut": 0, "why": []}
end = time.time() + maxsec


def tunnel(i):
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=30)
        s.sendall(b"CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (target.encode(), target.encode()))
        f = s.makefile("rb")
        if not f.readline().startswith(b"HTTP/1.1 200"):
            raise OSError("no 200")
        while f.readline() not in (b"\r\n", b"\n", b""):
            pass
    except OSError as e:
        with lock:
            state["cut"] += 1
            state["why"].append("open: %s" % e)
        return
    with lock:
        state["opened"] += 1
    k = 0
    while time.time() < end and not os.path.exists(stopfile):
        line = b"tunnel %d line %d\n" % (i, k)
        try:
            s.sendall(line)
            back = f.readline()
        except OSError as e:
            back = b""
        if back != line:
            with lock:
                state["cut"] += 1
                state["why"].append("tunnel %d at line %d: %r" % (i, k, back))
            s.close()
            return
        k += 1
        with lock:
            state["trips"] += 1
            t = state["trips"]
        if t % 20 == 0:
            with lock:
                with open(progress + ".tmp", "w") as pf:
                    pf.write("%d\n" % t)
                os.replace(progress + ".tmp", progress)
        time.sleep(0.01)
    s.close()


threads = [threading.Thread(target=tunnel, args=(i,)) for i in range(n)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(json.dumps(state))
