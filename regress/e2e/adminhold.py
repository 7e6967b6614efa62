#!/usr/bin/env python3
"""Idle clients against an admin socket, for the end-to-end tests.

  adminhold.py tcp HOST:PORT N OUT SECONDS [MAXOPENS]
  adminhold.py unix PATH N OUT SECONDS [MAXOPENS]

Opens N connections and sends nothing on them.  Whenever the server
closes one, what it said last is recorded and, until MAXOPENS
connections were opened (default 20000), another one takes its place,
so that N stay held.  OUT.holding appears once N were connected at the
same time.  It stops after SECONDS, or as soon as OUT.stop exists, and
writes to OUT one JSON document: how many it opened, how many the
server closed, how many were open at the end, the server's last words
by kind ("make room", "no request", "busy", other text, nothing at
all), and for each of the first N connections (in the order they were
opened) the kind of last word it got, if any."""
import json, os, selectors, socket, sys, time

kind, target, n, out, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], float(sys.argv[5])
maxopens = int(sys.argv[6]) if len(sys.argv) > 6 else 20000
sel = selectors.DefaultSelector()
stats = {"opened": 0, "closed": 0, "open": 0, "words": {}, "first": [None] * n, "texts": []}
conns = {}		# socket -> [index, bytes received, connected]
pending = 0		# connections still to open (EAGAIN on a full backlog)

def classify(data):
    if not data:
        return "none"
    for key in ("make room", "no request", "busy"):
        if key.encode() in data:
            return key
    return "other"

def open_one():
    global pending
    if stats["opened"] >= maxopens:
        return
    if kind == "tcp":
        host, port = target.rsplit(":", 1)
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        addr = (host, int(port))
    else:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        addr = target
    s.setblocking(False)
    try:
        s.connect(addr)
        connected = True
    except (BlockingIOError, InterruptedError) as e:
        # TCP: in progress; unix: the backlog is full, try again later
        if kind == "unix":
            s.close()
            pending += 1
            return
        connected = False
    except OSError:
        s.close()
        pending += 1
        return
    conns[s] = [stats["opened"], b"", connected]
    stats["opened"] += 1
    sel.register(s, selectors.EVENT_READ | (0 if connected else selectors.EVENT_WRITE))

def closed(s):
    idx, data, _ = conns.pop(s)
    sel.unregister(s)
    s.close()
    stats["closed"] += 1
    w = classify(data)
    stats["words"][w] = stats["words"].get(w, 0) + 1
    if idx < n:
        stats["first"][idx] = w
    if w == "other" and len(stats["texts"]) < 5:
        stats["texts"].append(data[:200].decode("latin-1"))
    open_one()

for _ in range(n):
    open_one()
end = time.monotonic() + seconds
held = False
while time.monotonic() < end and not os.path.exists(out + ".stop"):
    if pending:
        p, pending = pending, 0
        for _ in range(p):
            open_one()
    for key, ev in sel.select(timeout=0.05):
        s = key.fileobj
        c = conns.get(s)
        if c is None:
            continue
        if not c[2] and ev & selectors.EVENT_WRITE:
            if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) != 0:
                closed(s)
                continue
            c[2] = True
            sel.modify(s, selectors.EVENT_READ)
            continue
        try:
            data = s.recv(4096)
        except (ConnectionResetError, BrokenPipeError):
            data = b""
        except BlockingIOError:
            continue
        if data:
            c[1] += data
        else:
            closed(s)
    stats["open"] = sum(1 for c in conns.values() if c[2])
    if not held and stats["open"] >= n:
        held = True
        open(out + ".holding", "w").close()
stats["open"] = sum(1 for c in conns.values() if c[2])
for s in list(conns):
    s.close()
with open(out + ".tmp", "w") as f:
    json.dump(stats, f)
os.rename(out + ".tmp", out)
