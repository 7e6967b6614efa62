#!/bin/sh
# Configuration tests, run by regress/run-tests: egressd -n and -nv
# against the cases in regress/conf/.  NN.conf must pass, print NN.ok with
# -nv (the normalised configuration, then "configuration OK"), print the
# same again when its own output is parsed (round trip), and print only
# "configuration OK" with -n; with NN.warn, -n's stderr (its warnings)
# must be that file exactly (an empty one: no warning).  bad-NN.conf must fail with status 1 and
# bad-NN.err on stderr exactly.  NN.args or bad-NN.args, when present,
# hold extra arguments (split on blanks, e.g. -D name=value).  Files named
# *.inc are only included by the cases.
. "$SRCDIR/regress/lib.sh"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/egressd-conf.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' HUP INT PIPE TERM

# show_diff EXPECTED GOT: the difference as TAP comments.
show_diff() {
	diff -u "$1" "$2" | sed 's/^/# /'
}

# check_valid NAME FILE [ARGS...]: the four checks of a valid file.
check_valid() {
	name=$1 file=$2
	shift 2
	"$EGRESSD" -nv -f "$file" "$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	if [ "$rc" -eq 0 ]; then
		pass "$name: -nv exits 0"
	else
		fail "$name: -nv exits 0 (got $rc)"
		sed 's/^/# /' "$tmp/err"
	fi

	if [ -f "$name.ok" ]; then
		if cmp -s "$name.ok" "$tmp/out"; then
			pass "$name: -nv prints $name.ok"
		else
			fail "$name: -nv prints $name.ok"
			show_diff "$name.ok" "$tmp/out"
		fi
	fi

	# Round trip: the printed configuration, without its last line,
	# parses and prints the same.  It is self-contained: no -D needed.
	sed '$d' "$tmp/out" >"$tmp/again.conf"
	"$EGRESSD" -nv -f "$tmp/again.conf" >"$tmp/out2" 2>"$tmp/err2"
	rc=$?
	if [ "$rc" -eq 0 ] && cmp -s "$tmp/out" "$tmp/out2"; then
		pass "$name: round trip"
	else
		fail "$name: round trip (exit $rc)"
		sed 's/^/# /' "$tmp/err2"
		show_diff "$tmp/out" "$tmp/out2"
	fi
	rm -f "$tmp/again.conf" "$tmp/out2" "$tmp/err2"

	"$EGRESSD" -n -f "$file" "$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	if [ "$rc" -eq 0 ] && [ "$(cat "$tmp/out")" = "configuration OK" ] &&
	    [ "$(wc -l <"$tmp/out" | tr -d ' ')" = 1 ]; then
		pass "$name: -n prints configuration OK"
	else
		fail "$name: -n prints configuration OK (exit $rc)"
		sed 's/^/# /' "$tmp/out" "$tmp/err"
	fi
	if [ -f "$name.warn" ]; then
		if cmp -s "$name.warn" "$tmp/err"; then
			pass "$name: -n warns as $name.warn says"
		else
			fail "$name: -n warns as $name.warn says"
			show_diff "$name.warn" "$tmp/err"
		fi
	fi
}

# Certificates for the cases with https listeners and tls mutual, made
# now at a fixed place, since the expected output prints their paths.
# Two runs at once (two checkouts on one machine) would remove each
# other's: the place is held under a lock for the whole run.
ctls=/tmp/egressd-conf-tls
exec 9>"$ctls.lock"
flock 9 || exit 1
rm -rf "$ctls" && mkdir -p "$ctls" || exit 1
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=conf CA" \
    -keyout "$ctls/ca.key" -out "$ctls/ca.pem" >/dev/null 2>&1
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -days 2 -subj "/CN=gw.test" -keyout "$ctls/gw.key" -out "$ctls/gw.pem" \
    >/dev/null 2>&1
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=other" \
    -keyout "$ctls/other.key" -out "$ctls/other.pem" >/dev/null 2>&1
cat "$ctls/gw.pem" "$ctls/gw.key" > "$ctls/combined.pem"
printf 'not a certificate\n' > "$ctls/junk.pem"
openssl pkey -in "$ctls/gw.key" -aes128 -passout pass:x \
    -out "$ctls/encrypted.key" >/dev/null 2>&1
openssl genpkey -algorithm ed25519 -out "$ctls/ed.key" >/dev/null 2>&1
openssl req -x509 -key "$ctls/ed.key" -days 2 -subj "/CN=ed" \
    -out "$ctls/ed.pem" >/dev/null 2>&1
trap 'rm -rf "$tmp" "$ctls"' EXIT

cd "$SRCDIR/regress/conf" || exit 1

for conf in [0-9][0-9].conf; do
	[ -f "$conf" ] || continue
	name=${conf%.conf}
	args=
	[ -f "$name.args" ] && args=$(cat "$name.args")
	# shellcheck disable=SC2086 # args are split on purpose
	check_valid "$name" "$conf" $args
done

for conf in bad-[0-9][0-9].conf; do
	[ -f "$conf" ] || continue
	name=${conf%.conf}
	args=
	[ -f "$name.args" ] && args=$(cat "$name.args")
	# shellcheck disable=SC2086
	"$EGRESSD" -n -f "$conf" $args >"$tmp/out" 2>"$tmp/err"
	rc=$?
	if [ "$rc" -eq 1 ] && [ ! -s "$tmp/out" ]; then
		pass "$name: -n exits 1"
	else
		fail "$name: -n exits 1 (got $rc)"
		sed 's/^/# /' "$tmp/out"
	fi
	if cmp -s "$name.err" "$tmp/err"; then
		pass "$name: stderr is $name.err"
	else
		fail "$name: stderr is $name.err"
		show_diff "$name.err" "$tmp/err"
	fi
done

# The examples shipped in etc/ must be valid.  terminate.conf names
# certificates and keys, made here: a CA, the gateway's (RSA) and a
# client's (EC).
tls=$tmp/tls
mkdir -p "$tls"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=conf test CA" \
    -keyout "$tls/ca.key" -out "$tls/ca.pem" >/dev/null 2>&1
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=gw.test" \
    -keyout "$tls/gw.key" -out "$tls/gw.pem" >/dev/null 2>&1
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -days 2 -subj "/CN=client" -keyout "$tls/cl.key" -out "$tls/cl.pem" \
    >/dev/null 2>&1
for conf in "$SRCDIR"/etc/*.conf; do
	case $conf in *rsyslog*) continue ;; esac
	set --
	case $conf in
	*/terminate.conf)
		set -- -D "gw_cert=\"$tls/gw.pem\"" -D "gw_key=\"$tls/gw.key\"" \
		    -D "clients_ca=\"$tls/ca.pem\"" \
		    -D "partner_cert=\"$tls/cl.pem\"" \
		    -D "partner_key=\"$tls/cl.key\"" ;;
	esac
	check_valid "etc/${conf##*/}" "$conf" "$@"
done

rm -f "$tmp/out" "$tmp/err"
done_testing
