#!/usr/bin/env python3
"""An audit receiver for the soak tests: a unix datagram socket at PATH
whose every datagram is appended to OUT as a line.  When STOPFILE
appears it stops the way that loses nothing it was sent: it shuts its
reading side (senders get EPIPE from then on, and count what they
cannot deliver), reads what was already queued, closes and removes its
socket.  Stops by itself after SECONDS.  Usage: sink.py PATH OUT STOPFILE SECONDS"""
import os, socket, sys, time

path, out, stopfile, seconds = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
try:
    os.unlink(path)
except FileNotFoundError:
    pass
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
s.settimeout(0.1)
end = time.time() + seconds
with open(out, "ab", buffering=0) as f:
    open(path + ".ready", "w").close()
    while time.time() < end and not os.path.exists(stopfile):
        try:
            f.write(s.recv(65536) + b"\n")
        except socket.timeout:
            pass
    s.shutdown(socket.SHUT_RD)
    s.setblocking(False)
    while True:
        try:
            d = s.recv(65536)
        except BlockingIOError:
            break
        if not d:
            break
        f.write(d + b"\n")
s.close()
os.unlink(path)
os.unlink(path + ".ready")
