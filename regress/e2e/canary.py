#!/usr/bin/env python3
"""Canary listeners for the end-to-end tests: whatever arrives is logged,
nothing is answered but a TCP accept.  A test proves that a packet never
arrived by the absence of its line.

  canary.py LOG SECONDS SPEC...

SPEC is tcp:ADDR:PORT or udp:ADDR:PORT (ADDR an IPv4 or IPv6 literal,
IPv6 in brackets).  For each TCP connection accepted and each UDP
datagram received, one line is appended to LOG:

  tcp ADDR PORT from PEER
  udp ADDR PORT from PEER

LOG.ready is created once every socket listens; the process stops by
itself after SECONDS."""
import os, selectors, socket, sys, time

logpath, seconds = sys.argv[1], float(sys.argv[2])
sel = selectors.DefaultSelector()
for spec in sys.argv[3:]:
    proto, rest = spec.split(":", 1)
    addr, _, port = rest.rpartition(":")
    addr = addr.strip("[]")
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
    s = socket.socket(fam, kind)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, int(port)))
    if proto == "tcp":
        s.listen(16)
    s.setblocking(False)
    sel.register(s, selectors.EVENT_READ, (proto, addr, port))

def log(line):
    with open(logpath, "a") as f:
        f.write(line + "\n")

open(logpath, "a").close()
open(logpath + ".ready", "w").close()
end = time.time() + seconds
while time.time() < end:
    for key, _ in sel.select(0.5):
        proto, addr, port = key.data
        try:
            if proto == "tcp":
                c, peer = key.fileobj.accept()
                c.close()
            else:
                _, peer = key.fileobj.recvfrom(65535)
        except OSError:
            continue
        log("%s %s %s from %s" % (proto, addr, port, peer[0]))
