# Helpers for the end-to-end drivers: a scratch directory, a free
# loopback port, starting egressd in the foreground on a test config and
# stopping it (by PID only), reading its children from /proc.
. "$SRCDIR/regress/lib.sh"

[ "$(id -u)" -eq 0 ] || { echo "1..0 # skip end-to-end tests need root"; exit 0; }
EGD_USER=${EGD_USER:-_egressd}
if ! getent passwd "$EGD_USER" >/dev/null; then
	echo "not ok 1 - user $EGD_USER missing (useradd --system $EGD_USER)"
	exit 1
fi
EGD_UID=$(id -u "$EGD_USER")

T=$(mktemp -d /tmp/egressd-test.XXXXXX)
chmod 755 "$T"
EGD_PID=
cleanup() {
	if [ -n "$EGD_PID" ] && kill -0 "$EGD_PID" 2>/dev/null; then
		kids=$(children_of "$EGD_PID")	# before they lose their parent
		kill -KILL "$EGD_PID" 2>/dev/null
		for c in $kids; do kill -KILL "$c" 2>/dev/null; done
	fi
	[ -n "${EXTRA_PIDS:-}" ] && kill $EXTRA_PIDS 2>/dev/null
	[ "${KEEP_TMP:-0}" = 1 ] && echo "# kept $T" || rm -rf "$T"
}
trap cleanup EXIT

# free_port: a loopback port free now and not handed out before in this
# test (the kernel may give the same ephemeral port twice in a row; the
# list is a file because $(free_port) runs in a subshell).
free_port() {
	while :; do
		fp=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
		grep -qx "$fp" "$T/.ports" 2>/dev/null && continue
		echo "$fp" >> "$T/.ports"
		echo "$fp"
		return 0
	done
}

# children_of PID: the pids whose parent is PID.
children_of() {
	for s in /proc/[0-9]*/status; do
		pp=$(awk '/^PPid:/ {print $2}' "$s" 2>/dev/null)
		[ "$pp" = "$1" ] && { p=${s#/proc/}; echo "${p%/status}"; }
	done
	return 0
}

# role_of PID: worker or helper, from the command line.
role_of() {
	tr '\0' ' ' < "/proc/$1/cmdline" 2>/dev/null |
	    sed -n 's/.* -P \([a-z]*\) .*/\1/p'
}

instance_of() {
	tr '\0' ' ' < "/proc/$1/cmdline" 2>/dev/null |
	    sed -n 's/.* -I \([0-9]*\).*/\1/p'
}

workers_of() {
	for c in $(children_of "$1"); do
		[ "$(role_of "$c")" = worker ] && echo "$c"
	done
	return 0
}

# wait_for COUNT-OF-TENTHS COMMAND...: poll until COMMAND succeeds.
# The bound is for a thing that never happens, not a measure of speed:
# it is stretched by EGD_WAIT_SCALE (default 3) so that a sanitizer build
# on a loaded machine is given time; a passing poll returns at once.
wait_for() {
	n=$(($1 * ${EGD_WAIT_SCALE:-3})); shift
	while [ "$n" -gt 0 ]; do
		"$@" && return 0
		sleep 0.1
		n=$((n - 1))
	done
	return 1
}

log_has() { grep -q -- "$1" "$T/egressd.log"; }
log_count() { grep -c -- "$1" "$T/egressd.log"; }

# start_egressd CONF [ARGS...]: starts it with -d, waits for "ready".
# A configuration without a control socket gets one in $T: tests never
# meet each other, or a running egressd, at the default path.
start_egressd() {
	conf=$1; shift
	grep -q '^control socket' "$conf" ||
	    printf '\ncontrol socket "%s"\n' "$T/egressd.sock" >> "$conf"
	: > "$T/egressd.log"
	"$EGRESSD" -d -f "$conf" "$@" 2>>"$T/egressd.log" &
	EGD_PID=$!
	if ! wait_for 100 log_has "ready:"; then
		diag "egressd did not become ready; its log:"
		sed 's/^/# /' "$T/egressd.log"
		return 1
	fi
	return 0
}

# stop_egressd: SIGTERM, wait for exit; sets EGD_STATUS.
stop_egressd() {
	kill -TERM "$EGD_PID"
	wait "$EGD_PID"
	EGD_STATUS=$?
}

http_status() {	# http_status URL: prints the status code, 000 on failure
	curl -s -o /dev/null -m 5 -w '%{http_code}' "$@"
}

status_field() {	# status_field PID FIELD: the values, space-separated
	awk -v f="$2:" '$1 == f { $1 = ""; sub(/^ /, ""); print }' "/proc/$1/status"
}

# start_origin ADDR PORT: the test origin (origin.py), logging to $T/origin.log
start_origin() {
	python3 "$SRCDIR/regress/e2e/origin.py" "$1" "$2" "$T/origin.log" 1800 &
	EXTRA_PIDS="${EXTRA_PIDS:-} $!"
	wait_for 50 test -f "$T/origin.log.ready"
}

# conn_accepted PORT CLIENTPORT: the connection from loopback CLIENTPORT
# to PORT has been accepted by a process (its server side has a socket
# inode; one still in the listen queue has none).
conn_accepted() {
	python3 - "$1" "$2" <<'PY'
import sys
lp, rp = int(sys.argv[1]), int(sys.argv[2])
for t in ("/proc/net/tcp", "/proc/net/tcp6"):
    for line in open(t).readlines()[1:]:
        f = line.split()
        if (int(f[1].rsplit(":", 1)[1], 16) == lp and
            int(f[2].rsplit(":", 1)[1], 16) == rp and f[9] != "0"):
            sys.exit(0)
sys.exit(1)
PY
}

# origin_count PATTERN: requests the origin saw whose JSON line matches
origin_count() {
	[ -f "$T/origin.log" ] || { echo 0; return; }
	grep -c -- "$1" "$T/origin.log"
}

# start_dns PORT ARGS...: dnsmasq on 127.0.0.1:PORT answering only from
# ARGS (--address=/name/addr ..., --host-record=...), logging queries.
start_dns() {
	p=$1; shift
	dnsmasq --keep-in-foreground --no-resolv --no-hosts --no-poll \
	    --listen-address=127.0.0.1 --bind-interfaces --port="$p" \
	    --user=root --group=root --pid-file="$T/dnsmasq.pid" \
	    --log-queries --log-facility="$T/dnsmasq.log" "$@" &
	EXTRA_PIDS="${EXTRA_PIDS:-} $!"
	wait_for 50 test -s "$T/dnsmasq.pid"
}

# audit_field RECORD-LINE NAME: one PARAM-VALUE of an audit record
audit_get() {
	python3 "$SRCDIR/regress/e2e/audit.py" "$T/egressd.log" "$@"
}

# sign_expired BASE: BASE.pem from BASE.csr and BASE.ext, signed by the
# test CA $T/ca.pem with a validity that ended in 2020 (openssl ca:
# OpenSSL 3.0's x509 has no -not_before).
sign_expired() {
	: > "$T/index.txt"
	echo 1000 > "$T/serial"
	cat > "$T/ca.cnf" <<CNF
[ ca ]
default_ca = tca
[ tca ]
database = $T/index.txt
new_certs_dir = $T
serial = $T/serial
default_md = sha256
policy = pol
[ pol ]
commonName = supplied
CNF
	openssl ca -batch -notext -config "$T/ca.cnf" -cert "$T/ca.pem" \
	    -keyfile "$T/ca.key" -in "$1.csr" -out "$1.pem" \
	    -startdate 20200101000000Z -enddate 20200102000000Z \
	    -extfile "$1.ext" >/dev/null 2>&1
}
