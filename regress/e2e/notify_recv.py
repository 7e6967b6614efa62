#!/usr/bin/env python3
"""Owns a NOTIFY_SOCKET: binds a datagram socket at PATH and appends every
message it receives to OUT, one per line ('|' between a message's lines),
with the sender's pid, until SECONDS have passed (bounded)."""
import os, socket, struct, sys, time

path, out, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
open(out + ".bound", "w").close()
end = time.time() + seconds
with open(out, "a") as f:
    while time.time() < end:
        s.settimeout(max(0.05, end - time.time()))
        try:
            msg, anc, _, _ = s.recvmsg(4096, socket.CMSG_SPACE(12))
        except socket.timeout:
            continue
        pid = 0
        for level, typ, data in anc:
            if level == socket.SOL_SOCKET and typ == socket.SCM_CREDENTIALS:
                pid = struct.unpack("iII", data[:12])[0]
        f.write("%d %s\n" % (pid, msg.decode(errors="replace").replace("\n", "|")))
        f.flush()
