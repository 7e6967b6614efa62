#!/usr/bin/env python3
"""A client that holds a request open: connects, sends the first part of a
request, writes its local port to READYFILE, waits (bounded) until GOFILE
exists, sends the rest, and prints the status line of the answer (or
"closed" / "timeout").  Used to prove that a reload or a stop does not cut
a connection in flight."""
import os, socket, sys, time

port, readyfile, gofile = int(sys.argv[1]), sys.argv[2], sys.argv[3]
s = socket.create_connection(("127.0.0.1", port), timeout=120)
s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
with open(readyfile + ".tmp", "w") as f:
    f.write(str(s.getsockname()[1]))
os.rename(readyfile + ".tmp", readyfile)
deadline = time.time() + 120
while not os.path.exists(gofile) and time.time() < deadline:
    time.sleep(0.05)
try:
    s.sendall(b"\r\n")
    data = b""
    while b"\r\n" not in data:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    print(data.split(b"\r\n")[0].decode() if data else "closed")
except socket.timeout:
    print("timeout")
except OSError as e:
    print("error", e)
