#!/usr/bin/env python3
"""The GNU build-id of an ELF file, read or rewritten, for the tests.

  buildid.py FILE          prints FILE's build-id in hex (as readelf -n)
  buildid.py FILE OUT      writes a copy of FILE to OUT whose build-id has
                           every bit flipped, and prints the new one

FILE may be /proc/PID/exe.  The copy is the same program that claims to
be another build: what egressd compares when a child checks that its
parent is of its own build.  Only the 20-odd bytes of the note change.
"""
import shutil
import struct
import sys


def find_note(data):
    """Offset and length of the build-id's bytes in an ELF64 LE file."""
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        sys.exit("not a little-endian ELF64 file")
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, _ = struct.unpack_from("<HHH", data, 0x3A)
    for i in range(shnum):
        sh = shoff + i * shentsize
        stype, = struct.unpack_from("<I", data, sh + 4)
        off, size = struct.unpack_from("<QQ", data, sh + 0x18)
        if stype != 7:                  # SHT_NOTE
            continue
        p = off
        while p + 12 <= off + size:
            namesz, descsz, ntype = struct.unpack_from("<III", data, p)
            name = data[p + 12:p + 12 + namesz]
            desc = p + 12 + ((namesz + 3) & ~3)
            if ntype == 3 and name == b"GNU\0":     # NT_GNU_BUILD_ID
                return desc, descsz
            p = desc + ((descsz + 3) & ~3)
    sys.exit("no build-id note")


def main():
    with open(sys.argv[1], "rb") as f:
        data = bytearray(f.read())
    off, n = find_note(data)
    if len(sys.argv) == 2:
        print(data[off:off + n].hex())
        return
    for i in range(off, off + n):
        data[i] ^= 0xFF
    with open(sys.argv[2], "wb") as f:
        f.write(data)
    shutil.copymode(sys.argv[1], sys.argv[2])
    print(data[off:off + n].hex())


main()
