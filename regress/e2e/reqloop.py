#!/usr/bin/env python3
"""Requests through a proxy in a loop, counting answers and failures.

  reqloop.py HOST PORT STATUS STATE STOP SECONDS

Sends one proxy request (GET http://example.test/, Connection: close) at
a time to HOST:PORT, without pause, until the file STOP exists or
SECONDS have passed.  A request is answered if its status line says
STATUS; anything else (refused, reset, no answer within 5 s, another
status) is a failure.  STATE is rewritten after every request:
"answered failed first-failure last-failure", the times in seconds since
the start (-1 when none), so that a test can poll it.
"""
import os
import socket
import sys
import time


def one(host, port, status):
    req = (b"GET http://example.test/ HTTP/1.1\r\nHost: example.test\r\n"
           b"Connection: close\r\n\r\n")
    try:
        with socket.create_connection((host, port), timeout=5) as s:
            s.sendall(req)
            data = b""
            while b"\r\n" not in data:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
    except OSError:
        return False
    return data.startswith(b"HTTP/1.1 " + status.encode() + b" ")


def main():
    host, port, status, state, stop = sys.argv[1:6]
    seconds = float(sys.argv[6])
    t0 = time.monotonic()
    answered = failed = 0
    first = last = -1.0
    while not os.path.exists(stop) and time.monotonic() - t0 < seconds:
        good = one(host, int(port), status)
        if good:
            answered += 1
        else:
            failed += 1
            last = time.monotonic() - t0
            if first < 0:
                first = last
        with open(state + ".tmp", "w") as f:
            f.write("%d %d %.3f %.3f\n" % (answered, failed, first, last))
        os.rename(state + ".tmp", state)
        if not good:
            time.sleep(0.01)    # a refused connection returns at once


main()
