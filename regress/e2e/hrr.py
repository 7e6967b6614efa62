#!/usr/bin/env python3
# A TLS 1.3 client that goes as far as the ServerHello, made to try
# the gateway's reading of ClientHellos: it offers no key share in its
# first hello, so the server answers with a HelloRetryRequest, and then
# sends a second hello that may name another host.
#
#   hrr.py ADDR PORT [-c HOST:PORT] MODE NAME1 [NAME2]
#
#   An empty NAME is a hello without the server_name extension.
#   -c HOST:PORT  first a CONNECT to HOST:PORT through ADDR:PORT (a proxy)
#   MODE retry    hello NAME1, wait for the retry request, hello NAME2
#        pipeline hello NAME1 and hello NAME2 at once, without waiting
#        joined   both hellos in one TLS record
#        behind   hello NAME1, an application_data record, hello NAME2,
#                 at once
#        garbage  hello NAME1, bytes that are no TLS record, hello
#                 NAME2, at once
#
# Prints one word, how it ended: "serverhello" (the server went on past
# the last hello: it took it), "retry" (a retry request and then the
# end), "alert", "closed" (closed before any of these), and exits 0; 2
# on a usage error, 3 when the CONNECT was refused.
import os, socket, struct, sys

def ext(t, data):
    return struct.pack("!HH", t, len(data)) + data

# Key shares for the group a retry request asks for: X25519 takes any
# 32 bytes; for P-256, the group's generator (a valid point: the key
# share of the private key 1, which is all a hello needs to be taken).
P256_G = bytes.fromhex(
    "04"
    "6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296"
    "4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5")

def hello(name, group):
    n = name.encode()
    entry = b"\x00" + struct.pack("!H", len(n)) + n
    exts = ext(0, struct.pack("!H", len(entry)) + entry) if n else b""  # server_name ("": none)
    exts += ext(43, b"\x02\x03\x04")                             # supported_versions: 1.3
    exts += ext(10, b"\x00\x04\x00\x17\x00\x1d")                 # groups: P-256, X25519
    exts += ext(13, b"\x00\x08\x04\x03\x08\x04\x04\x01\x08\x07") # signature algorithms
    exts += ext(45, b"\x01\x01")                                 # psk_dhe_ke
    ks = b""
    if group == 0x1d:
        ks = struct.pack("!HH", 0x1d, 32) + os.urandom(32)
    elif group == 0x17:
        ks = struct.pack("!HH", 0x17, len(P256_G)) + P256_G
    exts += ext(51, struct.pack("!H", len(ks)) + ks)             # key_share
    body = (b"\x03\x03" + os.urandom(32) + b"\x20" + SID +
            b"\x00\x06\x13\x01\x13\x02\x13\x03" + b"\x01\x00" +
            struct.pack("!H", len(exts)) + exts)
    return b"\x01" + struct.pack("!I", len(body))[1:] + body

def record(payload):
    return b"\x16\x03\x01" + struct.pack("!H", len(payload)) + payload

HRR = bytes.fromhex("cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c")

def recv_exact(s, n):
    b = b""
    while len(b) < n:
        d = s.recv(n - len(b))
        if not d:
            return None
        b += d
    return b

def hrr_group(body):
    """The group a HelloRetryRequest asks for (its key_share)."""
    try:
        i = 4 + 2 + 32
        i += 1 + body[i] + 2 + 1
        end = i + 2 + struct.unpack("!H", body[i:i + 2])[0]
        i += 2
        while i + 4 <= end:
            t, n = struct.unpack("!HH", body[i:i + 4])
            if t == 51 and n == 2:
                return struct.unpack("!H", body[i + 4:i + 6])[0]
            i += 4 + n
    except (IndexError, struct.error):
        pass
    return 0x1d

GROUP = [0x1d]

def server_says(s):
    """The server's next handshake message that matters: 'retry',
    'serverhello', 'alert' or 'closed'."""
    while True:
        try:
            h = recv_exact(s, 5)
        except OSError:
            return "closed"
        if h is None:
            return "closed"
        n = struct.unpack("!H", h[3:5])[0]
        try:
            body = recv_exact(s, n)
        except OSError:
            return "closed"
        if body is None:
            return "closed"
        if h[0] == 21:
            return "alert"
        if h[0] == 22 and body[0] == 2:
            if body[6:38] != HRR:
                return "serverhello"
            GROUP[0] = hrr_group(body)
            return "retry"
        # change_cipher_spec and anything else: read on

def main():
    a = sys.argv[1:]
    if len(a) < 4:
        sys.exit(2)
    addr, port, a = a[0], int(a[1]), a[2:]
    target = None
    if a[0] == "-c":
        target, a = a[1], a[2:]
    mode, name1 = a[0], a[1]
    name2 = a[2] if len(a) > 2 else name1
    s = socket.create_connection((addr, port), timeout=10)
    if target:
        s.sendall(("CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n" %
                   (target, target)).encode())
        head = b""
        while b"\r\n\r\n" not in head:
            d = s.recv(1)
            if not d:
                sys.exit(3)
            head += d
        if not head.startswith(b"HTTP/1.1 200"):
            sys.exit(3)
    first = hello(name1, 0)
    if mode == "retry":
        s.sendall(record(first))
        said = server_says(s)
        if said != "retry":
            print(said)
            return
        s.sendall(b"\x14\x03\x03\x00\x01\x01" +
                  record(hello(name2, GROUP[0])))
    elif mode == "pipeline":
        s.sendall(record(first) + record(hello(name2, PIPE_GROUP)))
        said = server_says(s)
        if said != "retry":
            print(said)
            return
    elif mode in ("behind", "garbage"):
        between = (b"\x17\x03\x03\x00\x10" + os.urandom(16)
                   if mode == "behind" else b"\x00\x00not TLS at all\r\n")
        s.sendall(record(first) + between + record(hello(name2, PIPE_GROUP)))
        said = server_says(s)
        if said != "retry":
            print(said)
            return
    elif mode == "joined":
        s.sendall(record(first + hello(name2, PIPE_GROUP)))
        said = server_says(s)
        if said != "retry":
            print(said)
            return
    else:
        sys.exit(2)
    said = server_says(s)
    print("retry" if said == "closed" else said)

SID = os.urandom(32)
# A hello sent before the retry request asks: the gateway's test origins
# prefer P-256.
PIPE_GROUP = 0x17
main()
