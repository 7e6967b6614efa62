"""RFC 5424 as egressd writes its audit records: a HEADER, one
SD-ELEMENT, no MSG.  Shared by audit.py and audit_sinks.py."""
import re

HDR = re.compile(r'^<(\d+)>1 (\S+) (\S+) (\S+) (\S+) (\S+) '
                 r'\[([^ =\]"]+)((?: [^=\s\]"]+="(?:[^"\\\]]|\\.)*")*)\]$')
PARAM = re.compile(r' ([^=\s\]"]+)="((?:[^"\\\]]|\\.)*)"')


def parse(line):
    """The record's parts, PARAM values unescaped; None if it is not one."""
    m = HDR.match(line)
    if not m:
        return None
    params = {}
    for k, v in PARAM.findall(m.group(8)):
        params[k] = re.sub(r'\\(.)', r'\1', v)
    return {"pri": int(m.group(1)), "ts": m.group(2), "host": m.group(3),
            "app": m.group(4), "procid": m.group(5), "msgid": m.group(6),
            "sdid": m.group(7), "params": params, "line": line}
