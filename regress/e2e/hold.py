#!/usr/bin/env python3
"""Opens N connections to 127.0.0.1:PORT, sends PAYLOAD (\\r\\n escapes)
on each, prints for each the first line answered within a second ("-" for
none), writes READYFILE, and holds them open until STOPFILE exists
(bounded: 120 s)."""
import os, socket, sys, time

port, n, payload, ready, stop = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
payload = payload.encode("latin-1").decode("unicode_escape").encode("latin-1")
socks = []
for i in range(n):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(payload)
    s.settimeout(1)
    try:
        d = s.recv(4096)
        print(d.split(b"\r\n")[0].decode() if d else "closed")
    except socket.timeout:
        print("-")
    socks.append(s)
    sys.stdout.flush()
open(ready, "w").close()
end = time.time() + 120
while not os.path.exists(stop) and time.time() < end:
    time.sleep(0.05)
for s in socks:
    s.close()
