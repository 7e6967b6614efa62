#!/usr/bin/env python3
"""Keep-alive load for the end-to-end tests: CONNS connections to
127.0.0.1:PORT, each sending "GET /small" requests in turn for the
HOST=STATUS pairs given (the Host header and the status it must get),
one at a time, each read to its end (Content-Length) before the next.

It stops by itself when STOPFILE exists, after MAXSECONDS, or after
MAXREQ requests, whichever comes first, and prints one line:

  total bad after p50_ms p99_ms max_ms

bad counts requests that got another status, no answer, or a broken
connection; after counts the requests answered once MARKFILE existed.
The first few failures go to stderr.  A connection the server closes
after an answer that said "Connection: close" is opened again; any
other close is a failure.

Usage: keepload.py PORT CONNS STOPFILE MARKFILE MAXSECONDS MAXREQ
           HOST=STATUS...
"""
import os, socket, sys, threading, time

port, conns = int(sys.argv[1]), int(sys.argv[2])
stopfile, markfile = sys.argv[3], sys.argv[4]
maxsecs, maxreq = float(sys.argv[5]), int(sys.argv[6])
want = []
for a in sys.argv[7:]:
    h, s = a.rsplit("=", 1)
    want.append((h, int(s)))

lock = threading.Lock()
total = bad = after = 0
lat = []
errors = []
end = time.time() + maxsecs
marked = [False]


def failed(why):
    global bad
    with lock:
        bad += 1
        if len(errors) < 10:
            errors.append(why)


def read_response(f):
    """(status, close) of one response, its body read; None on EOF."""
    line = f.readline(8192)
    if not line:
        return None
    parts = line.split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1."):
        raise ValueError("bad status line %r" % line)
    status = int(parts[1])
    length, close = 0, False
    while True:
        h = f.readline(8192)
        if not h:
            raise ValueError("head cut")
        if h in (b"\r\n", b"\n"):
            break
        k, _, v = h.decode("latin-1").partition(":")
        k, v = k.strip().lower(), v.strip().lower()
        if k == "content-length":
            length = int(v)
        elif k == "connection" and v == "close":
            close = True
    while length > 0:
        d = f.read(length)
        if not d:
            raise ValueError("body cut")
        length -= len(d)
    return status, close


def worker(n):
    global total, after
    i = n
    s = f = None
    while True:
        with lock:
            if (total + bad >= maxreq or time.time() >= end or
                    os.path.exists(stopfile)):
                break
            if not marked[0] and os.path.exists(markfile):
                marked[0] = True
        host, status = want[i % len(want)]
        i += 1
        try:
            if s is None:
                s = socket.create_connection(("127.0.0.1", port), timeout=10)
                f = s.makefile("rb")
            t0 = time.time()
            s.sendall(("GET /small HTTP/1.1\r\nHost: %s\r\n\r\n" %
                       host).encode())
            r = read_response(f)
            t = time.time() - t0
        except (OSError, ValueError) as e:
            failed("%s: %s" % (host, e))
            s = None
            continue
        if r is None:
            failed("%s: connection closed with no answer" % host)
            s = None
            continue
        got, close = r
        with lock:
            total += 1
            lat.append(t)
            if marked[0]:
                after += 1
        if got != status:
            failed("%s: status %d, want %d" % (host, got, status))
        if close:
            s.close()
            s = None
    if s is not None:
        s.close()


threads = [threading.Thread(target=worker, args=(n,)) for n in range(conns)]
for t in threads:
    t.start()
for t in threads:
    t.join()
lat.sort()


def pct(p):
    return 1000 * lat[min(len(lat) - 1, int(len(lat) * p))] if lat else 0


for e in errors:
    sys.stderr.write("keepload: %s\n" % e)
print(total, bad, after, "%.1f" % pct(0.5), "%.1f" % pct(0.99),
      "%.1f" % (1000 * lat[-1] if lat else 0))
