#!/usr/bin/env python3
"""Reads egressd's audit records (RFC 5424 lines with one audit@32473
STRUCTURED-DATA element) from a log file, parses them strictly, and
answers questions for the tests:

  audit.py LOG count KEY=VALUE...   records whose fields all match
  audit.py LOG last FIELD KEY=VALUE...  FIELD of the last such record
  audit.py LOG dump                 every record as JSON lines
"""
import json, sys

import rfc5424

def records(path):
    out = []
    with open(path, errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line.startswith("<"):
                continue
            r = rfc5424.parse(line)
            if r is None or r["sdid"] != "audit@32473":
                raise SystemExit("malformed audit record: " + line)
            rec = {"_msgid": r["msgid"]}
            rec.update(r["params"])
            out.append(rec)
    return out

def matches(rec, conds):
    for c in conds:
        k, _, v = c.partition("=")
        if rec.get(k) != v:
            return False
    return True

path, cmd = sys.argv[1], sys.argv[2]
recs = records(path)
if cmd == "count":
    print(sum(1 for r in recs if matches(r, sys.argv[3:])))
elif cmd == "last":
    sel = [r for r in recs if matches(r, sys.argv[4:])]
    print(sel[-1].get(sys.argv[3], "") if sel else "")
elif cmd == "dump":
    for r in recs:
        print(json.dumps(r))
