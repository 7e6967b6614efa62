#!/usr/bin/env python3
"""Rows of requests for match.sh, sent and judged in one process each (a
loaded machine takes a second to start Python).  A row is one line:

  GATEWAY|PATH|HEADER LINES|STATUS|REASON|ROUTE|PATH|PATH_RAW|TARGET

the request sent to GATEWAY's port (GET PATH, Host: HOST, the header
lines with \\r \\n \\t escapes, "-" for none; PATH is sent byte for byte),
then what must come of it: the status answered, the audit record's
reason ("-": an allowed REQUEST), route, path and path_raw ("-": absent),
and the target the origin receives ("-": nothing arrives).  Each request
gets a query t=N (N: its line number) so that its record and its arrival
can be found; the expected paths and target get the same.

  match.py send ROWS RESULTS HOST GATEWAY=PORT...
  match.py judge ROWS RESULTS AUDIT-JSON ORIGIN-LOG...

judge prints one line per check: 0 or 1 (failed), a tab, what was
checked."""
import json, re, socket, sys


def rows(path):
    out = []
    for line in open(path, encoding="latin-1"):
        line = line.rstrip("\n")
        if not line or line.startswith("#"):
            continue
        f = line.split("|")
        if len(f) != 9:
            raise SystemExit("bad row: " + line)
        out.append(f)
    return out


def tagged(s, tag):
    if s == "-":
        return None
    return s + ("&" if "?" in s else "?") + tag


def unescape(h):
    return "" if h == "-" else h.replace("\\r", "\r").replace(
        "\\n", "\n").replace("\\t", "\t")


def send(rowsfile, results, host, gws):
    ports = dict(g.split("=", 1) for g in gws)
    with open(results, "w", encoding="latin-1") as res:
        for n, r in enumerate(rows(rowsfile), 1):
            req = "GET %s HTTP/1.1\r\nHost: %s\r\n%sConnection: close\r\n\r\n" % (
                tagged(r[1], "t=%d" % n), host, unescape(r[2]))
            s = socket.create_connection(("127.0.0.1", int(ports[r[0]])),
                                         timeout=120)
            s.sendall(req.encode("latin-1"))
            got = b""
            try:
                while True:
                    d = s.recv(65536)
                    if not d:
                        break
                    got += d
            except socket.timeout:
                pass
            s.close()
            first = got.split(b"\r\n", 1)[0].decode("latin-1")
            res.write(first + "\n")


def shown(s):
    """For a TAP line (sh's echo reads backslashes): lines split by " | ",
    tabs and backslashes named."""
    s = s.replace("\\r\\n", " | ").replace("\\t", "<TAB>")
    return s.replace("\\", "<BACKSLASH>").rstrip(" |")


def judge(rowsfile, results, auditfile, origins):
    recs = [json.loads(l) for l in open(auditfile)]
    arrived = []
    for f in origins:
        for l in open(f):
            e = json.loads(l)
            arrived.append((e["target"], e["head"]))
    status = open(results, encoding="latin-1").read().split("\n")
    for n, r in enumerate(rows(rowsfile), 1):
        g, path, hdrs, want_st, reason, route, rpath, rraw, target = r
        tag = "t=%d" % n
        mine = re.compile(r"[?&]" + re.escape(tag) + "$")
        what = "%s: GET %s%s" % (g, shown(path), "" if hdrs == "-" else
                                 " with " + shown(hdrs))
        got = status[n - 1].split(" ")
        got = got[1] if len(got) > 1 else "none"
        print("%d\t%s: %s (got %s)" % (got != want_st, what, want_st, got))
        seen = [(t, h) for t, h in arrived if mine.search(t)]
        want = [] if target == "-" else [tagged(target, tag)]
        # What arrives carries the header lines as sent, in order.
        sent = [x for x in unescape(hdrs).split("\r\n") if x]
        fine = [t for t, _ in seen] == want and all(
            [x for x in h if x in sent] == sent for _, h in seen)
        print("%d\t%s: %s%s" % (not fine, what,
              "nothing reaches the origin" if target == "-" else
              "the origin gets " + target + (", with the header lines"
                                             if sent else ""),
              "" if fine else " (got %r)" % seen))
        sel = [x for x in recs if mine.search(x.get("path", ""))]
        if len(sel) != 1:
            bad = "%d records" % len(sel)
        else:
            x = sel[0]
            exp = {"_msgid": "REQUEST" if reason == "-" else "DENY",
                   "decision": "allow" if reason == "-" else "deny",
                   "path": tagged(rpath, tag), "path_raw": tagged(rraw, tag),
                   "route": None if route == "-" else route}
            if reason != "-":
                exp["reason"] = reason
            bad = ", ".join("%s=%r (want %r)" % (k, x.get(k), v)
                            for k, v in exp.items() if x.get(k) != v)
        print("%d\t%s: audit %s%s" % (bad != "", what,
              "REQUEST" if reason == "-" else "DENY " + reason,
              " (" + bad + ")" if bad else ""))


if sys.argv[1] == "send":
    send(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:])
elif sys.argv[1] == "judge":
    judge(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:])
else:
    raise SystemExit(__doc__)
