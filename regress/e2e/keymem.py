#!/usr/bin/env python3
"""Looks for a private key in the memory of running processes.

  keymem.py PID... KEYFILE [PID...]

The arguments that are all digits are process ids; the one that is not is
the key file (PEM, RSA or EC, not encrypted).  The key's secret numbers
(RSA: d, p, q, dmp1, dmq1, iqmp; EC and others: the private scalar) are
read from `openssl pkey -text`, and each readable mapping of every
process (/proc/PID/maps and /proc/PID/mem) is searched for them:

  be    the number's bytes, big-endian (as in DER, and in most buffers);
  le    the bytes reversed: an OpenSSL BIGNUM's array of 64-bit limbs on
        a little-endian machine (the top limb's zero padding left out, so
        padded copies match too);

and for the encodings of the whole key:

  pem:N the Nth base64 line of the key file's body, for the lines that
        encode secret bytes (lines holding only public values, such as
        the RSA modulus, are not searched: a certificate holds those);
  der:* the key's DER, the whole of it: the file's body decoded, and
        both forms openssl writes, PKCS#8 and the traditional one
        (RSAPrivateKey, ECPrivateKey); named der:pkcs8, der:traditional.

It prints one line per process: what was found, or how much was searched.
Exit status: 0 if any secret was found in any process, 1 if none was
found in any, 2 on an error (a key it cannot read, a process it cannot
read at all).  A finding wins over an error.

Memory is read in 16 MiB pieces that overlap by the longest needle, so
a needle across two pieces is found; mappings with nothing resident or
swapped (smaps Rss and Swap 0) are skipped without reading, large sparse
ones are read only where pagemap says a page is present, and mappings
larger than 64 GiB (AddressSanitizer's shadow) are skipped and named.
Needs CAP_SYS_PTRACE or the same user for the processes (the tests run as
root)."""
import base64, os, re, struct, subprocess, sys

CHUNK = 16 << 20
BIG = 1 << 30            # above this, only pages pagemap says are there
HUGE = 64 << 30          # above this, skipped (a sanitizer's shadow)
CAP = 8 << 30            # at most this much read per process
PAGE = os.sysconf("SC_PAGE_SIZE")
MIN_SECRET = 16          # shorter numbers could match by chance

RSA_FIELDS = [("privateExponent", "d"), ("prime1", "p"), ("prime2", "q"),
              ("exponent1", "dmp1"), ("exponent2", "dmq1"),
              ("coefficient", "iqmp")]


class Error(Exception):
    pass


def openssl(*args):
    r = subprocess.run(["openssl"] + list(args), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE)
    if r.returncode != 0:
        raise Error("openssl %s: %s" % (" ".join(args),
                    r.stderr.decode(errors="replace").strip()))
    return r.stdout


def hexblocks(text):
    """The labelled hex blocks of `openssl pkey -text`: {label: bytes}."""
    out, label, buf = {}, None, []
    for line in text.splitlines():
        m = re.match(r"^([A-Za-z][A-Za-z0-9 ]*):\s*$", line)
        if m:
            if label is not None and buf:
                out[label] = bytes.fromhex("".join(buf))
            label, buf = m.group(1), []
            continue
        if label is not None and re.match(r"^\s+[0-9a-fA-F]{2}(:[0-9a-fA-F]{2})*:?\s*$", line):
            buf.append(line.strip().replace(":", ""))
            continue
        if label is not None and buf:
            out[label] = bytes.fromhex("".join(buf))
        label, buf = None, []
    if label is not None and buf:
        out[label] = bytes.fromhex("".join(buf))
    return out


def derform(d):
    """pkcs8 or traditional: after the outer SEQUENCE and the version
    INTEGER, PKCS#8 has a SEQUENCE (the algorithm), RSAPrivateKey an
    INTEGER (the modulus), ECPrivateKey an OCTET STRING."""
    try:
        i = 2 + (d[1] & 0x7f if d[1] & 0x80 else 0)     # outer header
        i += 2 + d[i + 1]                               # version INTEGER
        return "pkcs8" if d[i] == 0x30 else "traditional"
    except IndexError:
        return "other"


def strip0(b):
    """A number's minimal big-endian bytes (openssl prints a 00 before a
    high bit)."""
    return b.lstrip(b"\0") or b"\0"


def key_needles(path):
    """[(name, bytes)] to search for, and a short description."""
    text = openssl("pkey", "-in", path, "-text", "-noout").decode()
    blocks = hexblocks(text)
    secrets = []
    if "privateExponent" in blocks:
        kind = "RSA"
        for label, name in RSA_FIELDS:
            if label not in blocks:
                raise Error("%s: no %s in the key's text" % (path, label))
            secrets.append((name, strip0(blocks[label])))
    elif "priv" in blocks:
        kind = "EC" if "ASN1 OID" in text or "NIST CURVE" in text else "key"
        secrets.append(("priv", strip0(blocks["priv"])))
    else:
        raise Error("%s: no private numbers found in openssl's text" % path)
    for name, b in secrets:
        if len(b) < MIN_SECRET:
            raise Error("%s: secret %s is only %d bytes" % (path, name, len(b)))

    needles = []
    for name, b in secrets:
        needles.append((name + ":be", b))
        needles.append((name + ":le", b[::-1]))

    # The file's PEM body: its lines, and its DER.
    with open(path, "rb") as f:
        pem = f.read()
    m = re.search(rb"-----BEGIN ([A-Z ]+)-----\r?\n(.*?)-----END \1-----", pem, re.S)
    if not m:
        raise Error("%s: not a PEM file" % path)
    body = [l.strip() for l in m.group(2).splitlines()]
    body = [l for l in body if l and b":" not in l]   # no Proc-Type headers
    fder = base64.b64decode(b"".join(body))
    ranges = []
    for _, b in secrets:
        i = fder.find(b)
        while i >= 0:
            ranges.append((i, i + len(b)))
            i = fder.find(b, i + 1)
    if not ranges:
        raise Error("%s: the secret numbers are not in the file's DER" % path)
    off = 0
    for n, line in enumerate(body, 1):
        nbytes = len(base64.b64decode(line))
        lo, hi = off, off + nbytes
        off = hi
        if len(line) < 32 or len(line) % 4:
            continue
        if any(lo < r_hi and r_lo < hi for r_lo, r_hi in ranges):
            needles.append(("pem:%d" % n, line))

    # openssl 3.0's pkey writes DER in the traditional form, pkcs8 -topk8
    # in PKCS#8; each is named by what it is, not by who wrote it.
    ders = [fder, openssl("pkey", "-in", path, "-outform", "DER")]
    try:
        ders.append(openssl("pkcs8", "-topk8", "-nocrypt", "-in", path,
                            "-outform", "DER"))
    except Error:
        pass
    seen = set()
    for d in ders:
        if d not in seen:
            seen.add(d)
            needles.append(("der:" + derform(d), d))
    desc = "%s key, %s" % (kind, ", ".join("%s %d bytes" % (n, len(b))
                                           for n, b in secrets))
    return needles, desc


def regions(pid):
    """[(start, end, perms, name, resident_or_swapped_kB or None)]"""
    out = []
    try:
        with open("/proc/%d/smaps" % pid) as f:
            cur = None
            for line in f:
                m = re.match(r"^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)$", line)
                if m:
                    cur = [int(m.group(1), 16), int(m.group(2), 16), m.group(3),
                           m.group(4).strip(), 0]
                    out.append(cur)
                elif cur is not None and (line.startswith("Rss:") or line.startswith("Swap:")):
                    cur[4] += int(line.split()[1])
        return [tuple(r) for r in out]
    except OSError:
        pass
    with open("/proc/%d/maps" % pid) as f:       # no smaps: read them all
        for line in f:
            m = re.match(r"^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)$", line)
            if m:
                out.append((int(m.group(1), 16), int(m.group(2), 16), m.group(3),
                            m.group(4).strip(), None))
    return out


def present_runs(pmfd, start, end):
    """Runs [a, b) of pages in [start, end) that are present or swapped."""
    runs, run = [], None
    step = 1 << 17                       # pages per pagemap read (1 MiB)
    page = start // PAGE
    last = end // PAGE
    while page < last:
        n = min(step, last - page)
        try:
            data = os.pread(pmfd, n * 8, page * 8)
        except OSError:
            data = b""
        if len(data) < n * 8:
            data += b"\xff" * (n * 8 - len(data))   # unknown: read it
        for i, (e,) in enumerate(struct.iter_unpack("<Q", data)):
            there = e >> 62 != 0
            a = (page + i) * PAGE
            if there:
                if run is None:
                    run = [a, a + PAGE]
                else:
                    run[1] = a + PAGE
            elif run is not None:
                runs.append(tuple(run))
                run = None
        page += n
    if run is not None:
        runs.append(tuple(run))
    return runs


def scan(pid, needles):
    """({needle name}, notes, bytes read)"""
    found, notes = set(), []
    overlap = max(len(b) for _, b in needles) - 1
    try:
        regs = regions(pid)
        memfd = os.open("/proc/%d/mem" % pid, os.O_RDONLY)
    except OSError as e:
        raise Error("pid %d: %s" % (pid, e.strerror))
    try:
        pmfd = os.open("/proc/%d/pagemap" % pid, os.O_RDONLY)
    except OSError:
        pmfd = -1
    total = 0
    try:
        for start, end, perms, name, kb in regs:
            if perms[0] != "r" or name in ("[vvar]", "[vvar_vclock]", "[vsyscall]"):
                continue
            if kb == 0:
                continue                 # nothing resident, nothing swapped
            size = end - start
            if size > HUGE:
                notes.append("skipped %s %x-%x (%d GiB, %s kB resident)"
                             % (name or "anon", start, end, size >> 30, kb))
                continue
            if size > BIG and pmfd >= 0:
                runs = present_runs(pmfd, start, end)
            else:
                runs = [(start, end)]
            for a, b in runs:
                pos, tail = a, b""
                while pos < b:
                    if total >= CAP:
                        notes.append("stopped at the cap of %d GiB" % (CAP >> 30))
                        return found, notes, total
                    n = min(CHUNK, b - pos)
                    try:
                        data = os.pread(memfd, n, pos)
                    except OSError:
                        data = b""       # EIO and the like: end of region
                    if not data:
                        break
                    total += len(data)
                    buf = tail + data
                    for nm, nd in needles:
                        if nm not in found and buf.find(nd) >= 0:
                            found.add(nm)
                    tail = buf[-overlap:] if overlap > 0 else b""
                    pos += len(data)
    finally:
        os.close(memfd)
        if pmfd >= 0:
            os.close(pmfd)
    return found, notes, total


def comm(pid):
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip()
    except OSError:
        return "?"


def main(argv):
    pids = [int(a) for a in argv if a.isdigit()]
    keys = [a for a in argv if not a.isdigit()]
    if len(keys) != 1 or not pids:
        sys.stderr.write("usage: keymem.py PID... KEYFILE [PID...]\n")
        return 2
    try:
        needles, desc = key_needles(keys[0])
    except (Error, OSError, ValueError) as e:
        sys.stderr.write("keymem: %s\n" % e)
        return 2
    print("# %s: %s; %d needles" % (keys[0], desc, len(needles)))
    any_found = error = False
    for pid in pids:
        try:
            found, notes, total = scan(pid, needles)
        except Error as e:
            print("pid %d: error: %s" % (pid, e))
            error = True
            continue
        for n in notes:
            print("# pid %d: %s" % (pid, n))
        if total == 0:
            print("pid %d (%s): error: nothing readable" % (pid, comm(pid)))
            error = True
            continue
        order = [n for n, _ in needles if n in found]
        if order:
            any_found = True
            print("pid %d (%s): FOUND %s (searched %d MiB)"
                  % (pid, comm(pid), " ".join(order), total >> 20))
        else:
            print("pid %d (%s): not found (searched %d MiB)"
                  % (pid, comm(pid), total >> 20))
    if any_found:
        return 0
    return 2 if error else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
