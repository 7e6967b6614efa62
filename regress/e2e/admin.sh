# The admin sockets (metrics listener, control socket) against clients
# who connect and say nothing, end to end:
#   - an idle connection is answered and closed once its request is not
#     whole within the deadline (408; egressctl's error), one at a time;
#   - 64 idle connections held against the metrics listener, and 64
#     against the control socket by a member of the control group (each
#     one the server closes is opened again, so that 64 stay held):
#     GET /metrics, root's egressctl show summary and a group member's
#     still answer, and the idle ones were closed to make room;
#   - with one worker, deterministically (the worker stopped while the
#     clients queue): the oldest idle connection is the one closed to
#     make room; with every place busy (reloads waiting for a stopped
#     parent) a member is turned away with "egressd is busy", root takes
#     a member's place and is answered;
#   - egressctl's messages for all of it, and for a server that closes
#     without answering (what a reset looks like now);
#   - the counters (egressd_admin_closed_total) say the same.
. "$SRCDIR/regress/e2e/common.sh"
command -v curl >/dev/null || { fail "curl is installed"; done_testing; exit 1; }
command -v setpriv >/dev/null || { fail "setpriv is installed (util-linux)"; done_testing; exit 1; }
EGRESSCTL=${EGRESSCTL:-$(dirname "$EGRESSD")/egressctl}
G=nogroup
getent group "$G" >/dev/null || { fail "group $G exists"; done_testing; exit 1; }
GID=$(getent group "$G" | cut -d: -f3)
HOLD=$SRCDIR/regress/e2e/adminhold.py
V=$(grep 'define EGD_PROTO_VERSION' "$SRCDIR/src/proto.h" | awk '{print $3}')

P=$(free_port); MP=$(free_port)
S=$T/ctl/egressd.sock
conf() {	# conf WORKERS
	cat > "$T/egressd.conf" <<CONF
user "$EGD_USER"
chroot "$T/root"
workers $1
nameserver 127.0.0.1 port 53
metrics listen on 127.0.0.1 port $MP
control socket "$S" group "$G"
gateway "gw" {
	listen on 127.0.0.1 port $P http
}
service "none" {
	hosts { "none.test" }
	port 80 http
}
CONF
}
conf 2
start_egressd "$T/egressd.conf" || { fail "egressd starts"; done_testing; exit 1; }

member() { setpriv --reuid=nobody --regid="$GID" --clear-groups "$@"; }
# the member cannot read root's Python (a pyenv shim, say): the system's
PY=/usr/bin/python3
ctl() { "$EGRESSCTL" -s "$S" "$@"; }
scrape() { curl -s -m 10 -o "$T/metrics" -w '%{http_code}' "http://127.0.0.1:$MP/metrics"; }
# m 'SERIES': its value in the last scrape
m() { S="$1" awk 'BEGIN { s = ENVIRON["S"] } substr($0, 1, length(s) + 1) == s " " { print $NF; f = 1 } END { if (!f) print "none" }' "$T/metrics"; }
# js FILE EXPR: a Python expression on the JSON document j in FILE
js() { python3 -c 'import json, sys; j = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"; }
# Reports of the clients that run as the member go where it may write.
R=$T/r
mkdir -m 1777 "$R"
# hold NAME KIND TARGET N SECONDS [MAXOPENS] [member]: adminhold.py in
# the background, its report in $R/NAME
hold() {
	name=$1 kind=$2 target=$3 n=$4 secs=$5 max=${6:-20000}
	rm -f "$R/$name" "$R/$name.stop" "$R/$name.holding"
	if [ "${7:-}" = member ]; then
		member "$PY" "$HOLD" "$kind" "$target" "$n" "$R/$name" "$secs" "$max" &
	else
		python3 "$HOLD" "$kind" "$target" "$n" "$R/$name" "$secs" "$max" &
	fi
	HOLD_PID=$!
	EXTRA_PIDS="${EXTRA_PIDS:-} $HOLD_PID"
}
# unhold NAME: stop it, wait for its report
unhold() { touch "$R/$1.stop"; wait "$HOLD_PID"; test -s "$R/$1"; }
# established TCP connections to the metrics listener

# --- one idle connection: closed after the deadline, with a word ---------
hold idle-met tcp "127.0.0.1:$MP" 1 30 1
wait "$HOLD_PID"
ok $([ "$(js "$R/idle-met" 'j["closed"], j["first"][0]')" = "(1, 'no request')" ]; echo $?) \
    "an idle metrics connection is closed, with 'no request' ($(js "$R/idle-met" 'j["words"]'))"
hold idle-ctl unix "$S" 1 30 1 member
wait "$HOLD_PID"
ok $([ "$(js "$R/idle-ctl" 'j["closed"], j["first"][0]')" = "(1, 'no request')" ]; echo $?) \
    "an idle control connection (a group member) is closed, with 'no request' ($(js "$R/idle-ctl" 'j["words"]'))"
ok $([ "$(scrape)" = 200 ] && [ "$(m 'egressd_admin_closed_total{socket="metrics",reason="deadline"}')" = 1 ] &&
    [ "$(m 'egressd_admin_closed_total{socket="control",reason="deadline"}')" = 1 ]; echo $?) \
    "counted: one deadline on each socket"

# --- 64 idle connections held against the metrics listener ---------------
hold met tcp "127.0.0.1:$MP" 64 60
ok $(wait_for 300 test -f "$R/met.holding"; echo $?) "64 idle connections to the metrics listener held"
good=0
for i in 1 2 3 4 5; do
	code=$(scrape)
	if [ "$code" = 200 ] && grep -q '^egressd_config_generation 1$' "$T/metrics"; then
		good=$((good + 1))
	else
		diag "scrape $i: $code $(head -c 200 "$T/metrics" 2>/dev/null)"
	fi
done
ok $([ "$good" = 5 ]; echo $?) "while they are held, GET /metrics answers 200, five times out of five ($good)"
ok $(kill -0 "$HOLD_PID"; echo $?) "(the 64 were still held then)"
ok $(ctl show summary > "$T/out" 2>&1 && grep -q '^generation 1' "$T/out"; echo $?) \
    "and egressctl show summary too"
unhold met
ok $([ "$(js "$R/met" 'j["words"].get("make room", 0) > 0 and j["opened"] > 64')" = True ]; echo $?) \
    "idle ones were closed to make room and opened again ($(js "$R/met" 'j["opened"], j["words"]'))"
scrape >/dev/null
ok $([ "$(m 'egressd_admin_closed_total{socket="metrics",reason="idle"}')" -gt 0 ]; echo $?) \
    "counted: metrics connections closed while idle ($(m 'egressd_admin_closed_total{socket="metrics",reason="idle"}'))"

# --- 64 idle connections held against the control socket, as a member ----
hold ctl unix "$S" 64 60 20000 member
ok $(wait_for 300 test -f "$R/ctl.holding"; echo $?) "64 idle connections to the control socket held by a member of $G"
good=0
for i in 1 2 3 4 5; do
	ctl show summary > "$T/out" 2>&1 && grep -q '^generation 1' "$T/out" && good=$((good + 1))
done
ok $([ "$good" = 5 ]; echo $?) "while they are held, root's egressctl show summary answers, five times out of five ($good; $(head -n 1 "$T/out"))"
good=0
for i in 1 2 3; do
	member "$EGRESSCTL" -s "$S" show summary > "$T/out" 2>&1
	rc=$?
	if [ $rc -eq 0 ] && grep -q '^generation 1' "$T/out"; then
		good=$((good + 1))
	else
		diag "member's egressctl $i: exit $rc: $(cat "$T/out")"
	fi
done
ok $([ "$good" = 3 ]; echo $?) "and a group member's, three times out of three ($good; $(head -n 1 "$T/out"))"
ok $([ "$(scrape)" = 200 ]; echo $?) "and GET /metrics"
ok $(kill -0 "$HOLD_PID"; echo $?) "(the 64 were still held then)"
unhold ctl
ok $([ "$(js "$R/ctl" 'j["words"].get("make room", 0) > 0 and j["opened"] > 64')" = True ]; echo $?) \
    "idle ones were closed to make room, with egressctl's words ($(js "$R/ctl" 'j["opened"], j["words"]'))"
scrape >/dev/null
ok $([ "$(m 'egressd_admin_closed_total{socket="control",reason="idle"}')" -gt 0 ]; echo $?) \
    "counted: control connections closed while idle"
ok $(log_has "killed by\|exited with status"; [ $? -ne 0 ]; echo $?) "no process died"
stop_egressd

# --- one worker: which connection makes room, and who is turned away -----
conf 1
start_egressd "$T/egressd.conf" || { fail "egressd starts with one worker"; done_testing; exit 1; }
W=$(workers_of "$EGD_PID")
# The worker stopped, 16 idle connections and a scrape queue up in order;
# once it runs again it accepts them all at once: the 17th needs a place.
kill -STOP "$W"
hold order tcp "127.0.0.1:$MP" 16 60 16
wait_for 100 test -f "$R/order.holding"
curl -s -m 20 -o "$T/metrics" -w '%{http_code}' "http://127.0.0.1:$MP/metrics" > "$T/code" &
CURL=$!
# curl's connection is queued after the 16 once the kernel has 17
ok $(wait_for 100 sh -c "[ \$(ss -Htn state established '( dport = :$MP )' | wc -l) -ge 17 ]"; echo $?) \
    "the worker stopped: 16 idle connections, then a scrape, queued in that order"
kill -CONT "$W"
wait "$CURL"
ok $([ "$(cat "$T/code")" = 200 ]; echo $?) "16 idle connections and a scrape: the scrape is answered 200"
unhold order
ok $([ "$(js "$R/order" 'j["first"][0]')" = "make room" ]; echo $?) \
    "the oldest idle connection was the one closed to make room ($(js "$R/order" 'j["first"]'))"

# Every place busy: 16 reloads waiting for a stopped parent.
kill -STOP "$EGD_PID"
rm -f "$R/busy"*
n0=$(log_count "control: reload asked")
member "$PY" "$SRCDIR/regress/e2e/ctlreq.py" "$S" 16 1008 "$V" "$R/busy" 60 &	# reload
REQ=$!
EXTRA_PIDS="${EXTRA_PIDS:-} $REQ"
ok $(wait_for 100 sh -c "[ \$(grep -c 'control: reload asked' '$T/egressd.log') -ge $((n0 + 16)) ]"; echo $?) \
    "the parent stopped: 16 reloads asked by a member wait for it"
for i in 1 2; do
	member "$EGRESSCTL" -s "$S" show summary > "$T/out" 2>&1
	rc=$?
	ok $([ $rc -eq 1 ] && grep -qx "egressctl: egressd is busy: 16 control connections being answered; try again" "$T/out"; echo $?) \
	    "every place busy: a member is turned away, exit 1 ($(cat "$T/out"))"
done
ctl show summary > "$T/out" 2>&1
ok $([ $? -eq 0 ] && grep -q '^generation 1' "$T/out"; echo $?) "root is answered all the same"
kill -CONT "$EGD_PID"
wait "$REQ"
ok $([ "$(js "$R/busy" 'j[0]["text"].strip(), j[0]["end"]')" = "('connection closed to make room for another client', 1)" ]; echo $?) \
    "root took the place of the oldest member's reload, which was told so ($(js "$R/busy" 'j[0]'))"
ok $([ "$(js "$R/busy" 'all(c["end"] is not None and c["text"].startswith("reload") for c in j[1:])')" = True ]; echo $?) \
    "the parent running again, the other 15 reloads were answered ($(js "$R/busy" '[c["text"].strip()[:24] for c in j[1:4]]'))"
ok $(wait_for 50 sh -c "'$EGRESSCTL' -s '$S' show summary | grep -q '^generation 2'"; echo $?) \
    "and the first one asked (the one whose place root took) was done: generation 2"
scrape >/dev/null
ok $([ "$(m 'egressd_admin_closed_total{socket="control",reason="busy"}')" = 2 ] &&
    [ "$(m 'egressd_admin_closed_total{socket="control",reason="answering"}')" = 1 ] &&
    [ "$(m 'egressd_admin_closed_total{socket="metrics",reason="idle"}')" = 1 ]; echo $?) \
    "counted: two busy, one answering, one idle"
ok $(log_has "killed by\|exited with status"; [ $? -ne 0 ]; echo $?) "no process died"
stop_egressd
ok $([ "$EGD_STATUS" -eq 0 ]; echo $?) "SIGTERM: exit status 0"

# --- a server that closes without answering ------------------------------
python3 - "$T/fake.sock" <<'PY' &
import os, socket, sys
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1])
s.listen(1)
open(sys.argv[1] + ".ready", "w").close()
c, _ = s.accept()
c.recv(1)	# leaves the rest unread: the close resets the connection
c.close()
PY
FAKE=$!
wait_for 50 test -f "$T/fake.sock.ready"
"$EGRESSCTL" -s "$T/fake.sock" show summary > "$T/out" 2>&1
rc=$?
wait "$FAKE"
ok $([ $rc -eq 1 ] && grep -qx "egressctl: $T/fake.sock: egressd closed the connection without an answer" "$T/out"; echo $?) \
    "a reset: 'egressd closed the connection without an answer', exit 1 ($(cat "$T/out"))"
done_testing
