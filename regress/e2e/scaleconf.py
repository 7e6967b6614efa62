#!/usr/bin/env python3
"""Service blocks of a large registry, for e2e/scale.sh and
bench/scale-run: HOSTS names in services of ten ("s0" lists
h0-0.svc0.example.com ... h9-0.svc0.example.com, "s1" the h*-1.svc1
names, and so on), then WILDCARDS patterns in services of ten ("w0"
lists *.w0.wild.example.org ... *.w9.wild.example.org, ...).

Ports are 80 http and 443 tls, as the issue's measurements have them;
with --origin PORT the named services go to a test origin instead
(port 80 http, resolution static, endpoint 127.0.0.1 port PORT, allow
private) and the wildcard ones register PORT itself (allow private,
resolution dns).  --rename-last NAME puts NAME in place of the last
named host.

Usage: scaleconf.py HOSTS WILDCARDS [--origin PORT] [--rename-last NAME]
"""
import sys

args = sys.argv[1:]
origin = rename = None
while len(args) > 2:
    if args[-2] == "--origin":
        origin = int(args[-1])
    elif args[-2] == "--rename-last":
        rename = args[-1]
    else:
        sys.exit(__doc__)
    args = args[:-2]
if len(args) != 2:
    sys.exit(__doc__)
hosts, wild = int(args[0]), int(args[1])

out = []
nsvc = (hosts + 9) // 10
for s in range(nsvc):
    names = ["h%d-%d.svc%d.example.com" % (i, s, s)
             for i in range(min(10, hosts - 10 * s))]
    if rename and s == nsvc - 1:
        names[-1] = rename
    out.append('service "s%d" {\n\thosts { %s }\n' %
               (s, " ".join('"%s"' % n for n in names)))
    if origin:
        out.append("\tport 80 http\n\tresolution static\n"
                   "\tendpoint 127.0.0.1 port %d\n\tallow private\n}\n" %
                   origin)
    else:
        out.append("\tport 80 http\n\tport 443 tls\n}\n")
for w in range(0, wild, 10):
    names = ["*.w%d.wild.example.org" % (w + i)
             for i in range(min(10, wild - w))]
    out.append('service "w%d" {\n\thosts { %s }\n' %
               (w, " ".join('"%s"' % n for n in names)))
    if origin:
        out.append("\tport %d http\n\tallow private\n}\n" % origin)
    else:
        out.append("\tport 80 http\n\tport 443 tls\n}\n")
sys.stdout.write("".join(out))
