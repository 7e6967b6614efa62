#!/bin/sh
# egressctl import istio, run by regress/run-tests; needs no root and no
# daemon.  The cases are in regress/istio/:
#
#   NN-name.yaml	Istio resources that import: egressctl must exit 0,
#			print NN-name.conf exactly, say NN-name.warn on
#			stderr (nothing when there is no such file), print
#			the same bytes again and through -o, and egressd -n
#			must accept what it printed; with warnings, --strict
#			must fail with the same lines and write nothing.
#   bad-NN-name.yaml	resources that must not import: exit 1, nothing on
#			stdout, bad-NN-name.err on stderr exactly, and -o
#			must leave its file alone.
#   *.args		extra arguments for a case (split on blanks).
#
# The cases name their certificates under /tmp/egressd-istio-tls/; the
# test runs on a copy that names its own directory instead.
#   seed-cnn.yaml	etc/seed-cnn.conf as Istio resources: egressd -nv
#			of the import must be that of etc/seed-cnn.conf,
#			names and comments aside.
#
# Then the command line: standard input, several files, the order of
# the files, -l, -o, usage errors, and that no daemon is needed.
. "$SRCDIR/regress/lib.sh"

EGRESSCTL=${EGRESSCTL:-$(dirname "$EGRESSD")/egressctl}
[ -x "$EGRESSCTL" ] || { fail "egressctl is built ($EGRESSCTL)"; done_testing; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/egressd-istio.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' HUP INT PIPE TERM
# The certificates the cases name, which egressd -n reads.  The cases
# say /tmp/egressd-istio-tls/; they are copied here with that directory
# replaced by this run's own, expected outputs included, so that two
# runs at once never share a file.
certs=$tmp/tls
mkdir -p "$certs" "$tmp/cases" || exit 1
for f in "$SRCDIR"/regress/istio/*; do
	sed "s|/tmp/egressd-istio-tls/|$certs/|g" "$f" >"$tmp/cases/${f##*/}"
done
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=istio test CA" \
    -keyout "$certs/ca.key" -out "$certs/ca.pem" >/dev/null 2>&1
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -days 2 -subj "/CN=gw.test" -keyout "$certs/gw.key" -out "$certs/gw.pem" \
    >/dev/null 2>&1
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -days 2 -subj "/CN=client" -keyout "$certs/client.key" \
    -out "$certs/client.pem" >/dev/null 2>&1

show_diff() {	# show_diff EXPECTED GOT: the difference as TAP comments
	diff -u "$1" "$2" | sed 's/^/# /'
}

# conf_ok FILE: egressd -n says "configuration OK" and nothing else.
conf_ok() {
	"$EGRESSD" -n -f "$1" >"$tmp/n.out" 2>&1 &&
	    [ "$(cat "$tmp/n.out")" = "configuration OK" ]
}

cd "$tmp/cases" || exit 1

for y in [0-9][0-9]-*.yaml; do
	name=${y%.yaml}
	args=
	[ -f "$name.args" ] && args=$(cat "$name.args")
	# shellcheck disable=SC2086 # args are split on purpose
	"$EGRESSCTL" import istio $args "$y" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	ok $([ "$rc" -eq 0 ]; echo $?) "$name: imports (exit $rc)"
	[ "$rc" -eq 0 ] || sed 's/^/# /' "$tmp/err"
	if cmp -s "$name.conf" "$tmp/out"; then
		pass "$name: prints $name.conf"
	else
		fail "$name: prints $name.conf"
		show_diff "$name.conf" "$tmp/out"
	fi
	if [ -f "$name.warn" ]; then
		cp "$name.warn" "$tmp/warn"
	else
		: >"$tmp/warn"
	fi
	if cmp -s "$tmp/warn" "$tmp/err"; then
		pass "$name: says $([ -s "$tmp/warn" ] && echo "$name.warn" ||
		    echo nothing) on stderr"
	else
		fail "$name: stderr"
		show_diff "$tmp/warn" "$tmp/err"
	fi
	if conf_ok "$tmp/out"; then
		pass "$name: egressd -n accepts the output"
	else
		fail "$name: egressd -n accepts the output"
		sed 's/^/# /' "$tmp/n.out"
	fi
	# shellcheck disable=SC2086
	"$EGRESSCTL" import istio $args "$y" >"$tmp/out2" 2>/dev/null
	ok $(cmp -s "$tmp/out" "$tmp/out2"; echo $?) "$name: the same bytes again"
	rm -f "$tmp/o.conf"
	# shellcheck disable=SC2086
	"$EGRESSCTL" import istio -o "$tmp/o.conf" $args "$y" >"$tmp/out3" \
	    2>/dev/null
	ok $([ ! -s "$tmp/out3" ] && cmp -s "$tmp/out" "$tmp/o.conf"; echo $?) \
	    "$name: -o writes the same bytes, nothing on stdout"
	if [ -s "$tmp/warn" ]; then
		# shellcheck disable=SC2086
		"$EGRESSCTL" import istio --strict -o "$tmp/strict.conf" $args \
		    "$y" >"$tmp/out4" 2>"$tmp/err4"
		rc=$?
		n=$(wc -l <"$tmp/warn" | tr -d ' ')
		{ cat "$tmp/warn"; echo "egressctl: $n errors, nothing written"; } \
		    >"$tmp/warn4"
		ok $([ "$rc" -eq 1 ] && [ ! -s "$tmp/out4" ] &&
		    [ ! -e "$tmp/strict.conf" ] && cmp -s "$tmp/warn4" "$tmp/err4"
		    echo $?) "$name: --strict makes the $n warnings errors, writes nothing"
	fi
done

for y in bad-[0-9][0-9]-*.yaml; do
	name=${y%.yaml}
	args=
	[ -f "$name.args" ] && args=$(cat "$name.args")
	# shellcheck disable=SC2086
	"$EGRESSCTL" import istio $args "$y" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	ok $([ "$rc" -eq 1 ] && [ ! -s "$tmp/out" ]; echo $?) \
	    "$name: exit 1, nothing on stdout (exit $rc)"
	if cmp -s "$name.err" "$tmp/err"; then
		pass "$name: stderr is $name.err"
	else
		fail "$name: stderr is $name.err"
		show_diff "$name.err" "$tmp/err"
	fi
	echo "# the old file" >"$tmp/old.conf"
	# shellcheck disable=SC2086
	"$EGRESSCTL" import istio $args -o "$tmp/old.conf" "$y" >/dev/null 2>&1
	ok $([ $? -eq 1 ] && [ "$(cat "$tmp/old.conf")" = "# the old file" ] &&
	    [ "$(ls -A "$tmp" | grep -c '^\.egressctl')" = 0 ]; echo $?) \
	    "$name: -o leaves its file as it was, no temporary file"
done

# The round trip: etc/seed-cnn.conf and its Istio resources give the
# same normalised configuration, port labels and comments aside.
norm() {	# norm FILE: egressd -nv, port labels dropped
	"$EGRESSD" -nv -f "$1" |
	    sed -e 's/^\(	port [0-9]* [a-z]*\) "[^"]*"$/\1/'
}
"$EGRESSCTL" import istio seed-cnn.yaml >"$tmp/seed.conf" 2>"$tmp/err"
ok $([ $? -eq 0 ] && [ ! -s "$tmp/err" ]; echo $?) \
    "seed-cnn.yaml: imports without a word"
norm "$SRCDIR/etc/seed-cnn.conf" >"$tmp/seed.want"
norm "$tmp/seed.conf" >"$tmp/seed.got"
if [ -s "$tmp/seed.want" ] && cmp -s "$tmp/seed.want" "$tmp/seed.got"; then
	pass "seed-cnn.yaml: egressd -nv of the import is that of etc/seed-cnn.conf"
else
	fail "seed-cnn.yaml: egressd -nv of the import is that of etc/seed-cnn.conf"
	show_diff "$tmp/seed.want" "$tmp/seed.got"
fi
# ... and the port labels are what the YAML names them.
ok $(grep -qx '	port 443 https "http-port-for-tls-origination"' "$tmp/seed.conf"
    echo $?) "seed-cnn.yaml: the TLS origination port keeps its Istio name"

# Standard input: the same blocks, "<stdin>" for the file.
"$EGRESSCTL" import istio - <02-tls-origination-simple.yaml >"$tmp/out" 2>"$tmp/err"
sed 's/02-tls-origination-simple\.yaml/<stdin>/g' 02-tls-origination-simple.conf \
    >"$tmp/want"
ok $([ $? -eq 0 ] && cmp -s "$tmp/want" "$tmp/out"; echo $?) \
    "- reads standard input"
"$EGRESSCTL" import istio - - <01-egress-gateway-http.yaml >/dev/null 2>"$tmp/err"
ok $([ $? -eq 1 ] && grep -q 'standard input named twice' "$tmp/err"; echo $?) \
    "- twice is refused"

# Several files, in any order: the same blocks (comments aside).
blocks() { grep -v '^[ 	]*#' "$1"; }
awk -v d="$tmp" 'BEGIN { n = 0 } /^---$/ { n++; next } { print > (d "/part" n ".yaml") }' \
    02-tls-origination-simple.yaml
ls "$tmp"/part*.yaml >"$tmp/parts"
# shellcheck disable=SC2046 # one word per file
"$EGRESSCTL" import istio $(cat "$tmp/parts") >"$tmp/fwd" 2>&1
# shellcheck disable=SC2046
"$EGRESSCTL" import istio $(sort -r "$tmp/parts") >"$tmp/rev" 2>&1
blocks 02-tls-origination-simple.conf >"$tmp/want"
blocks "$tmp/fwd" >"$tmp/fwd.b"
blocks "$tmp/rev" >"$tmp/rev.b"
ok $(cmp -s "$tmp/want" "$tmp/fwd.b" && cmp -s "$tmp/want" "$tmp/rev.b"; echo $?) \
    "one document a file, in either order: the same blocks"
grep -q "^# Gateway default/istio-egressgateway, $tmp/part1.yaml:1\$" "$tmp/rev"
ok $? "each block names the file and line it comes from"

# -l: the address the gateways listen on.
"$EGRESSCTL" import istio -l ::1 01-egress-gateway-http.yaml >"$tmp/out" 2>&1
ok $(grep -qx '	listen on "::1" port 80 http' "$tmp/out" && conf_ok "$tmp/out"
    echo $?) "-l ::1: listen on \"::1\", accepted by egressd -n"
"$EGRESSCTL" import istio -l '*' 01-egress-gateway-http.yaml >"$tmp/out" 2>&1
ok $(grep -qx '	listen on \* port 80 http' "$tmp/out" && conf_ok "$tmp/out"
    echo $?) "-l '*': listen on *"
"$EGRESSCTL" import istio -l 10.1.2.300 01-egress-gateway-http.yaml \
    >"$tmp/out" 2>"$tmp/err"
ok $([ $? -eq 1 ] && [ ! -s "$tmp/out" ] &&
    grep -qx 'egressctl: -l 10.1.2.300: an IPv4 or IPv6 address, or \*' "$tmp/err"
    echo $?) "-l with a bad address: refused"
"$EGRESSCTL" import istio -l 192.0.2.7 06-routes.yaml >"$tmp/out" 2>&1
ok $(grep -qx '	listen on 192.0.2.7 port 8080 http' "$tmp/out" &&
    grep -qx '	listen on "::1" port 8443 https .*' "$tmp/out"; echo $?) \
    "-l: servers with bind keep their own address"

# The command line.
"$EGRESSCTL" import istio >/dev/null 2>"$tmp/err"
ok $([ $? -eq 1 ] && grep -q '^usage: egressctl import istio' "$tmp/err"; echo $?) \
    "no file: usage"
"$EGRESSCTL" import istio --frobnicate x.yaml >/dev/null 2>"$tmp/err"
ok $([ $? -eq 1 ] && grep -q '^usage: egressctl import istio' "$tmp/err"; echo $?) \
    "an unknown option: usage"
"$EGRESSCTL" import istio "$tmp/missing.yaml" >/dev/null 2>"$tmp/err"
ok $([ $? -eq 1 ] && grep -qx "egressctl: $tmp/missing.yaml: No such file or directory" "$tmp/err"
    echo $?) "a missing file: named, exit 1"
"$EGRESSCTL" import istio "$tmp" >/dev/null 2>"$tmp/err"
ok $([ $? -eq 1 ] && grep -qx "egressctl: $tmp: a directory" "$tmp/err"; echo $?) \
    "a directory: refused"
"$EGRESSCTL" import >/dev/null 2>"$tmp/err"
ok $([ $? -eq 1 ] && grep -q 'incomplete command' "$tmp/err" &&
    grep -q 'import istio \.\.\.' "$tmp/err"; echo $?) \
    "import alone: incomplete, and the valid commands list import istio"
"$EGRESSCTL" -s "$tmp/no-such.sock" imp ist 01-egress-gateway-http.yaml \
    >"$tmp/out" 2>&1
ok $([ $? -eq 0 ] && cmp -s 01-egress-gateway-http.conf "$tmp/out"; echo $?) \
    "shortened words, and no daemon needed (-s names no socket)"
"$EGRESSCTL" -j import istio 01-egress-gateway-http.yaml >/dev/null 2>"$tmp/err"
ok $([ $? -eq 1 ] && grep -q -- '-j: import writes egressd.conf text' "$tmp/err"
    echo $?) "-j is refused for import"
"$EGRESSCTL" import istio --strict 01-egress-gateway-http.yaml >"$tmp/out" 2>"$tmp/err"
ok $([ $? -eq 0 ] && [ ! -s "$tmp/err" ] && cmp -s 01-egress-gateway-http.conf "$tmp/out"
    echo $?) "--strict without warnings: written"
# An empty file and a file of comments hold no Gateway.
: >"$tmp/empty.yaml"
"$EGRESSCTL" import istio "$tmp/empty.yaml" >/dev/null 2>"$tmp/err"
ok $([ $? -eq 1 ] && grep -q 'no Gateway in the input' "$tmp/err"; echo $?) \
    "an empty file: no Gateway, exit 1"
# Bytes that are not text.
head -c 4096 /dev/urandom >"$tmp/noise.yaml"
"$EGRESSCTL" import istio "$tmp/noise.yaml" >/dev/null 2>"$tmp/err"
rc=$?
ok $([ "$rc" -eq 1 ] && grep -q "^$tmp/noise.yaml:[0-9]*:[0-9]*: " "$tmp/err"
    echo $?) "random bytes: a located error, exit 1 (exit $rc)"

# Damaged input: each good fixture cut short at 6 places and without
# every 6th of its lines, one at a time (a bounded sample: a random
# search of thousands found nothing more).  egressctl must end with 0
# or 1, never by a signal, and whatever it writes egressd -n must
# accept (but for a certificate path cut short, which only egressd can
# find missing); outputs that differ only in comments are checked once.
mkdir -p "$tmp/damage.d"
python3 - "$EGRESSCTL" "$EGRESSD" "$tmp/damage.d" [0-9][0-9]-*.yaml seed-cnn.yaml \
    >"$tmp/damage" <<'PY'
import os, subprocess, sys
ctl, egressd, tmp, files = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
runs = written = bad = 0
seen = set()
def check(data):
    global runs, written, bad
    inp, out = os.path.join(tmp, "d.yaml"), os.path.join(tmp, "d.conf")
    with open(inp, "wb") as f:
        f.write(data)
    if os.path.exists(out):
        os.unlink(out)
    r = subprocess.run([ctl, "import", "istio", "-o", out, inp],
        capture_output=True)
    runs += 1
    if r.returncode not in (0, 1) or b"Sanitizer" in r.stderr or \
        b"runtime error" in r.stderr:
        bad += 1
        print("# exit %d: %r" % (r.returncode, r.stderr[-300:]))
        return
    if r.returncode == 1:
        if os.path.exists(out):
            bad += 1
            print("# exit 1 with a file written")
        return
    written += 1
    with open(out, "rb") as f:
        text = b"".join(l for l in f if not l.lstrip().startswith(b"#"))
    if text in seen:
        return
    seen.add(text)
    c = subprocess.run([egressd, "-n", "-f", out], capture_output=True)
    if c.returncode != 0 and b"No such file" not in c.stderr:
        bad += 1
        print("# egressd -n refused: %r" % c.stderr[:300])
for n, name in enumerate(files):
    data = open(name, "rb").read()
    for k in range(1, 7):
        check(data[:len(data) * k // 7])
    lines = data.split(b"\n")
    for i in range(n % 6, len(lines), 6):
        check(b"\n".join(lines[:i] + lines[i + 1:]))
print("%d %d %d" % (runs, written, bad))
PY
set -- $(tail -n 1 "$tmp/damage")
grep '^#' "$tmp/damage"
ok $([ "${3:-1}" = 0 ] && [ "${1:-0}" -gt 150 ] && [ "${2:-0}" -gt 50 ]; echo $?) \
    "damaged input: ${1:-0} runs, ${2:-0} written and accepted by egressd -n, ${3:-?} bad"

done_testing
