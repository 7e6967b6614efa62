#!/usr/bin/env python3
"""A TCP echo server for the soak tests' tunnels: ADDR PORT, every
connection echoed line by line; stops by itself after SECONDS."""
import socket, sys, threading, time

addr, port, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])


def echo(c):
    try:
        while True:
            d = c.recv(65536)
            if not d:
                break
            c.sendall(d)
    except OSError:
        pass
    c.close()


s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((addr, port))
s.listen(128)
s.settimeout(0.5)
print("ready", flush=True)
end = time.time() + seconds
while time.time() < end:
    try:
        c, _ = s.accept()
    except socket.timeout:
        continue
    threading.Thread(target=echo, args=(c,), daemon=True).start()
