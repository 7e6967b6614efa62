#!/usr/bin/env python3
"""Checks for regress/e2e/audit.sh: what real receivers parsed of egressd's
audit records, against what egressd wrote on stderr (its stderr sink never
drops, so it is the reference).  Exits 0 when the check holds, 1 with the
reasons on stdout as TAP comments otherwise.

  audit_sinks.py REF FORM FILE INPUT SINCE
      Every reference record from the SINCE-th on arrived exactly once, as
      written.  FORM is how FILE holds what a receiver parsed: rsyslog
      (the test's JSON lines; INPUT: imuxsock, imudp or imtcp), syslog-ng
      (format-json lines; INPUT ignored, one file per source), shipped
      (the JSON lines of etc/rsyslog-egressd.conf) or journal (journalctl
      -o json of a journal that journald's native protocol filled).
  audit_sinks.py REF drops FILE INPUT SINCE
      The reference records from the SINCE-th on: the first R arrived,
      the others did not, and one DROPPED record with dropped="N-R" came
      right after them, then the rest of the records that arrived.
  audit_sinks.py REF count SINCE [MSGID]
      How many reference records from the SINCE-th on (of that MSGID).
  audit_sinks.py REF field SINCE NAME
      PARAM NAME of the reference records from the SINCE-th on, a line each.
"""
import json, sys

import rfc5424
SEV = ["emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"]
FAC = {19: "local3", 3: "daemon"}

bad = []


def reference(path):
    out = []
    with open(path, errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line.startswith("<"):
                continue
            r = rfc5424.parse(line)
            if r is None:
                sys.exit("# malformed reference record: " + line)
            out.append(r)
    return out


def received(form, path, inp):
    """The records a receiver wrote, normalised: key fields and SD."""
    out = []
    try:
        f = open(path, errors="replace")
    except FileNotFoundError:
        return out
    for line in f:
        if not line.strip():
            continue
        j = json.loads(line)
        if form == "rsyslog":
            if j.get("inputname") != inp:
                continue
            sd = j.get("parsed", {}).get("rfc5424-sd", {})
            r = {"pri": int(j["pri"]), "ts": j["timestamp"],
                 "host": j["hostname"], "app": j["appname"],
                 "procid": j["procid"], "msgid": j["msgid"], "sd": sd,
                 "fac": j["facility"], "sev": j["severity"]}
        elif form == "shipped":
            r = {"pri": None, "ts": j["timestamp"], "host": j["host"],
                 "app": j["app"], "procid": j["procid"],
                 "msgid": j["msgid"], "sd": j["sd"], "fac": j["facility"],
                 "sev": j["severity"]}
        else:	# syslog-ng's format-json --scope rfc5424 --scope sdata
            if j.get("PROGRAM") == "syslog-ng":
                bad.append("syslog-ng refused a record: " +
                           j.get("MESSAGE", ""))
                continue
            sd = j.get("_SDATA", {})
            r = {"pri": None, "ts": j.get("ISODATE"), "host": j.get("HOST"),
                 "app": j.get("PROGRAM"), "procid": j.get("PID"),
                 "msgid": j.get("MSGID"), "sd": sd,
                 "fac": j.get("FACILITY"), "sev": j.get("PRIORITY")}
        out.append(r)
    return out


def same_time(ref_ts, ts):
    # syslog-ng writes ISODATE with +00:00 where egressd wrote Z.
    return ts in (ref_ts, ref_ts[:-1] + "+00:00")


def compare(ref, r):
    why = []
    if not same_time(ref["ts"], r["ts"]):
        why.append("timestamp %s, want %s" % (r["ts"], ref["ts"]))
    for k in ("host", "app", "procid", "msgid"):
        if r[k] != ref[k]:
            why.append("%s %r, want %r" % (k, r[k], ref[k]))
    if r["pri"] is not None and r["pri"] != ref["pri"]:
        why.append("pri %r, want %r" % (r["pri"], ref["pri"]))
    if r["fac"] != FAC.get(ref["pri"] >> 3):
        why.append("facility %r, want %r" % (r["fac"],
                                             FAC.get(ref["pri"] >> 3)))
    if r["sev"] != SEV[ref["pri"] & 7]:
        why.append("severity %r, want %r" % (r["sev"], SEV[ref["pri"] & 7]))
    if r["sd"] != {ref["sdid"]: ref["params"]}:
        why.append("SD %s, want %s" % (json.dumps(r["sd"]),
                                       json.dumps({ref["sdid"]:
                                                   ref["params"]})))
    return why


def key(r):
    return (r["ts"][:26], r["msgid"])


def check_all(refs, recs):
    for ref in refs:
        found = [r for r in recs if key(r) == key(ref)]
        if len(found) != 1:
            bad.append("%d copies of %s" % (len(found), ref["line"]))
            continue
        for w in compare(ref, found[0]):
            bad.append(w + " in " + ref["line"])


def check_drops(refs, recs, sdid):
    keys = [key(r) for r in refs]
    got = [r for r in recs if key(r) in keys or r["msgid"] == "DROPPED"]
    # The ones that arrived are the first ones, in order.
    arrived = [r for r in got if r["msgid"] != "DROPPED"]
    n = len(arrived)
    if [key(r) for r in arrived] != keys[:n]:
        bad.append("arrived out of order or with gaps: %s" %
                   [r["params"].get("path") for r in refs])
    drops = [i for i, r in enumerate(got) if r["msgid"] == "DROPPED"]
    if len(drops) != 1:
        bad.append("%d DROPPED records, want 1" % len(drops))
        return
    d = got[drops[0]]
    if n == len(refs):
        bad.append("nothing was dropped: the buffer took all %d" % n)
    want = {sdid: {"dropped": str(len(refs) - n), "worker": "0"}}
    if d["sd"] != want:
        bad.append("DROPPED record %s, want %s" % (json.dumps(d["sd"]),
                                                   json.dumps(want)))
    if d["sev"] != "warning":
        bad.append("DROPPED severity %s, want warning" % d["sev"])
    if drops[0] != n:
        bad.append("DROPPED record at position %d, want %d (after the "
                   "records that arrived)" % (drops[0], n))
    print("# %d records arrived, %d dropped and reported" %
          (n, len(refs) - n))


def check_journal(refs, path):
    """journald: MESSAGE is the record from MSGID on, PRIORITY and
    SYSLOG_FACILITY from PRI, every PARAM an EGRESSD_ field, nothing more."""
    entries = [json.loads(l) for l in open(path) if l.strip()]
    for ref in refs:
        msg = " ".join(ref["line"].split(" ")[5:])
        found = [e for e in entries if e.get("MESSAGE") == msg]
        if len(found) != 1:
            bad.append("%d journal entries for %s" % (len(found), msg))
            continue
        e = found[0]
        want = {"PRIORITY": str(ref["pri"] & 7),
                "SYSLOG_FACILITY": str(ref["pri"] >> 3),
                "SYSLOG_IDENTIFIER": "egressd", "_PID": ref["procid"],
                "EGRESSD_MSGID": ref["msgid"], "EGRESSD_SD_ID": ref["sdid"]}
        for k, v in ref["params"].items():
            want["EGRESSD_" + k.upper()] = v
        for k, v in want.items():
            if e.get(k) != v:
                bad.append("%s=%r, want %r in %s" % (k, e.get(k), v, msg))
        extra = [k for k in e if k.startswith("EGRESSD_") and k not in want]
        if extra:
            bad.append("fields %s not in the record %s" % (extra, msg))


def main():
    refs = reference(sys.argv[1])
    form = sys.argv[2]
    if form == "count":
        sel = refs[int(sys.argv[3]):]
        if len(sys.argv) > 4:
            sel = [r for r in sel if r["msgid"] == sys.argv[4]]
        print(len(sel))
        return 0
    if form == "field":
        for r in refs[int(sys.argv[3]):]:
            print(r["params"].get(sys.argv[4], ""))
        return 0
    path, inp, since = sys.argv[3], sys.argv[4], int(sys.argv[5])
    sel = refs[since:]
    if form == "journal":
        check_journal(sel, path)
        if not bad:
            print("# %d records, all as written" % len(sel))
    elif form == "drops":
        check_drops(sel, received("rsyslog", path, inp),
                    refs[0]["sdid"] if refs else "")
    else:
        recs = received(form, path, inp)
        check_all(sel, recs)
        if not bad:
            print("# %d records, all as written" % len(sel))
    for b in bad:
        print("# " + b)
    return 1 if bad or not sel else 0


sys.exit(main())
