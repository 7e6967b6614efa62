#!/usr/bin/env python3
"""Sends raw bytes to PORT on 127.0.0.1 and prints what comes back until
the peer closes or WAIT seconds pass without data.  Bytes come from the
argument (with \\r \\n escapes) so that tests can send exactly what a
hostile client would.  Usage: rawreq.py PORT WAIT 'GET / HTTP/1.1\\r\\n...'"""
import os, socket, sys, time

port, wait, data = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
data = data.encode("latin-1").decode("unicode_escape").encode("latin-1")
s = socket.create_connection(("127.0.0.1", port), timeout=10)
s.sendall(data)
if os.environ.get("HALFCLOSE"):
    s.shutdown(socket.SHUT_WR)	# a client that says it is done sending
s.settimeout(wait)
out = b""
try:
    while True:
        d = s.recv(65536)
        if not d:
            break
        out += d
except socket.timeout:
    pass
sys.stdout.write(out.decode("latin-1"))
