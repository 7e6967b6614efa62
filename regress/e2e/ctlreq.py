#!/usr/bin/env python3
"""Control-socket clients that ask and then wait, for the end-to-end
tests: what egressctl does, many times over and without giving up.

  ctlreq.py PATH N TYPE VERSION OUT SECONDS

Opens N connections to the control socket PATH, one after the other,
and on each sends IMSG_CTL_HELLO with VERSION and one request of
message type TYPE (flags 0).  Then it reads every answer until the
server closes each connection, SECONDS pass, or OUT.stop exists, and
writes to OUT one JSON list, in the order the connections were opened:
for each, the text it got and the status of IMSG_CTL_END (null if none
came).  OUT.sent appears once every request is written."""
import json, os, selectors, socket, struct, sys, time

path, n, mtype, version, out, seconds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], float(sys.argv[6])
HELLO, TEXT, END = 1000, 1001, 1002

def msg(t, payload):
    return struct.pack("=5I", t, 20 + len(payload), 0, 0, 0) + payload

sel = selectors.DefaultSelector()
conns = []
for i in range(n):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    s.sendall(msg(HELLO, struct.pack("=I", version)) + msg(mtype, struct.pack("=I", 0)))
    s.setblocking(False)
    conns.append([s, b"", False])
    sel.register(s, selectors.EVENT_READ, i)
open(out + ".sent", "w").close()
end = time.monotonic() + seconds
while time.monotonic() < end and not os.path.exists(out + ".stop") and not all(c[2] for c in conns):
    for key, ev in sel.select(timeout=0.05):
        c = conns[key.data]
        try:
            d = c[0].recv(65536)
        except BlockingIOError:
            continue
        except OSError:
            d = b""
        if d:
            c[1] += d
        else:
            c[2] = True
            sel.unregister(c[0])
result = []
for s, data, _ in conns:
    s.close()
    text, status, off = "", None, 0
    while off + 20 <= len(data):
        t, l = struct.unpack_from("=2I", data, off)
        body = data[off + 20:off + l]
        if t == TEXT:
            text += body.decode(errors="replace")
        elif t == END and status is None:
            status = struct.unpack("=i", body[:4])[0]
        off += l
    result.append({"text": text, "end": status})
with open(out + ".tmp", "w") as f:
    json.dump(result, f)
os.rename(out + ".tmp", out)
