# The journald sink against a real systemd-journald.  Run by audit.sh in
# a private mount namespace (unshare -m), where tmpfs hides /run/systemd
# and /run/log and a journald.conf of the test's is bound over the host's:
# the journald started here owns /run/systemd/journal/socket inside the
# namespace only, keeps its journal in memory, reads no kernel log, turns
# no auditing on, and forwards nothing.  Nothing of it is seen outside.
# egressd sends its records with journald's native protocol and to stderr
# (the reference); journalctl -o json shows what journald kept.  Then,
# with no audit block, -d and $JOURNAL_STREAM naming egressd's stderr, as
# under systemd: the default sink is journald.  TAP numbering goes on
# from T_START.
# Its mounts would hide this host's /run/systemd: it runs only in a mount
# namespace of its own, entered here when audit.sh has not made one.
if [ "${EGD_PRIVATE_MNT:-}" != 1 ]; then
	EGD_PRIVATE_MNT=1 exec unshare -m --propagation private sh "$0" "$@"
	echo "not ok 1 - journald: no private mount namespace (unshare)"
	exit 1
fi
. "$SRCDIR/regress/e2e/common.sh"
T_N=${T_START:-0}
CHECK="python3 $SRCDIR/regress/e2e/audit_sinks.py"

JD=
for j in /lib/systemd/systemd-journald /usr/lib/systemd/systemd-journald; do
	[ -x "$j" ] && { JD=$j; break; }
done
if [ -z "$JD" ] || ! command -v journalctl >/dev/null; then
	skip "journald: no systemd-journald here (package systemd)"
	exit 0
fi
J=$T/journald
mkdir -p "$J"
cat > "$J/journald.conf" <<'CONF'
[Journal]
Storage=volatile
Audit=no
ReadKMsg=no
ForwardToSyslog=no
ForwardToKMsg=no
ForwardToConsole=no
ForwardToWall=no
RateLimitIntervalSec=0
CONF
if ! mount -t tmpfs tmpfs /run/systemd || ! mkdir /run/systemd/journal ||
    ! mount -t tmpfs tmpfs /run/log ||
    ! mount --bind "$J/journald.conf" /etc/systemd/journald.conf; then
	skip "journald: cannot prepare its directories in a mount namespace"
	exit 0
fi
[ -d /etc/systemd/journald.conf.d ] &&
    mount -t tmpfs tmpfs /etc/systemd/journald.conf.d
"$JD" >"$J/out" 2>&1 &
JPID=$!; EXTRA_PIDS="${EXTRA_PIDS:-} $JPID"
if ! wait_for 100 test -S /run/systemd/journal/socket; then
	skip "journald: systemd-journald does not start here"
	sed 's/^/# /' "$J/out"
	exit 0
fi
pass "journald runs in a private mount namespace"

P=$(free_port); OP=$(free_port); DP=$(free_port)
start_origin 127.0.0.1 "$OP"
conf() {
	cat > "$T/egressd.conf" <<CONF
user "$EGD_USER"
chroot "$T/root"
workers 1
nameserver 127.0.0.1 port $DP
log facility local3
$1
gateway "gw" {
	listen on 127.0.0.1 port $P http
}
service "origin" {
	hosts { "origin.test" }
	port $OP http
	resolution static
	endpoint 127.0.0.1
	allow private
}
CONF
}
req() {
	curl -g -s -o /dev/null -m 5 -w '%{http_code}' -x "http://127.0.0.1:$P" "$1"
}
journal() {
	journalctl -D /run/log/journal -o json --no-pager \
	    SYSLOG_IDENTIFIER=egressd >"$J/journal.json" 2>"$J/journalctl.err"
}
journal_has() { journal; [ "$(wc -l <"$J/journal.json")" -ge "$1" ]; }

conf 'audit {
	sink journald
	sink stderr
	sd-id "egressd-test@32473"
}'
start_egressd "$T/egressd.conf" || { fail "egressd starts"; exit 1; }
st1=$(req "http://origin.test:$OP/small?q=\"a\\b]c\"")
st2=$(req "http://evil.test/x\"y\\z]w?k=[v]")	# a raw backslash: 400
ok $([ "$st1" = 200 ] && [ "$st2" = 400 ]; echo $?) "a request let out and one refused ($st1 $st2)"
wait_for 50 journal_has 2
out=$($CHECK "$T/egressd.log" journal "$J/journal.json" - 0)
ok $? "journald kept every record: MESSAGE, PRIORITY, SYSLOG_FACILITY, _PID, each PARAM as EGRESSD_NAME"
printf '%s\n' "$out"
stop_egressd

# The default, as systemd runs it: -d, stderr to the journal's stream.
conf ""
: > "$T/egressd.log"
JOURNAL_STREAM=$(stat -c '%d:%i' "$T/egressd.log")
export JOURNAL_STREAM
start_egressd "$T/egressd.conf" || { fail "egressd starts"; exit 1; }
unset JOURNAL_STREAM
ok $(log_has "no sink configured, writing to journald"; echo $?) \
    "no audit block, -d, stderr is the journal's stream: the default sink is journald"
st=$(req "http://evil.test/default-sink")
wait_for 50 journal_has 3
ok $([ "$st" = 403 ] && grep -q '"EGRESSD_PATH":"/default-sink"' "$J/journal.json" &&
    ! grep -q '^<' "$T/egressd.log"; echo $?) \
    "its record is in the journal, structured, and not on stderr"
ok $([ "$(log_count 'killed by seccomp')" = 0 ]; echo $?) "no process was killed by seccomp"
stop_egressd
kill -TERM "$JPID"; wait "$JPID"
EXTRA_PIDS=$(echo " $EXTRA_PIDS " | sed "s/ $JPID / /")
exit "$T_FAILED"
