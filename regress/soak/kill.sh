# Soak: children killed under load.  Twenty keep-alive clients send
# requests without a pause.  A worker killed with SIGKILL costs only its
# own connections: every request that fails was on a connection the
# audit trail shows that worker serving, each such connection fails once
# at most (the client connects again), the other worker's connections
# lose nothing, and once the worker is replaced the load goes on.  The
# helper killed with SIGKILL costs nothing at all: the workers hold the
# lookups it had not answered and ask its replacement, which asks the
# DNS server again (its cache went with it), and not a request fails.
. "$SRCDIR/regress/e2e/common.sh"
command -v dnsmasq >/dev/null || { fail "dnsmasq is installed"; done_testing; exit 1; }

P=$(free_port); OP=$(free_port); DP=$(free_port)
start_origin 127.0.0.1 "$OP"
start_dns "$DP" --address=/dns.test/127.0.0.1
cat > "$T/egressd.conf" <<CONF
user "$EGD_USER"
chroot "$T/root"
workers 2
nameserver 127.0.0.1 port $DP
dns min ttl 300
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
service "dns" {
	hosts { "dns.test" }
	port $OP http
	allow private
}
CONF
start_egressd "$T/egressd.conf" || { fail "egressd starts"; done_testing; exit 1; }

progress() { cat "$T/load.progress" 2>/dev/null || echo 0; }
moved() { [ "$(progress)" -ge "$1" ]; }
# The load's request bound is far above what a phase needs: reading the
# records after the kill takes longer on a fast machine, where a bound of
# a million was once reached before the load could be seen to go on.
load() {	# load HOST STOPFILE
	rm -f "$T/load.progress"
	python3 "$SRCDIR/regress/soak/load.py" "$P" "$1" /small 20 5000000 1200 \
	    "$2" "$T/load.progress" > "$T/load.out" &
	LOAD=$!
	EXTRA_PIDS="$EXTRA_PIDS $LOAD"
}
result() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["ok"], d["failed"], d["reconnects"])' "$T/load.out"; }
worker_pid() {
	for c in $(workers_of "$EGD_PID"); do
		[ "$(instance_of "$c")" = "$1" ] && echo "$c"
	done
}
replaced() {	# replaced ROLE-TEST OLDPID: a new one runs, sandboxed
	for c in $(children_of "$EGD_PID"); do
		[ "$c" != "$2" ] && [ "$(status_field "$c" Seccomp)" = 2 ] &&
		    $1 "$c" && return 0
	done
	return 1
}
is_worker0() { [ "$(role_of "$1")" = worker ] && [ "$(instance_of "$1")" = 0 ]; }
is_helper() { [ "$(role_of "$1")" = helper ]; }

# --- a worker ---
load "origin.test:$OP" "$T/stop1"
ok $(wait_for 300 moved 400; echo $?) "load is running"
w0=$(worker_pid 0)
kill -KILL "$w0"
# The connections each worker served, from the records written so far.
audit_get dump > "$T/before.json"
ok $(wait_for 100 replaced is_worker0 "$w0"; echo $?) "the killed worker is replaced"
at=$(progress)
ok $(wait_for 300 moved $((at + 400)); echo $?) "the load goes on after the replacement"
touch "$T/stop1"
wait "$LOAD"
read -r lok lfail lre <<EOF
$(result)
EOF
python3 - "$T/before.json" "$T/load.out" > "$T/verdict" <<'PY'
import json, sys
served = {}
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r.get("_msgid") == "REQUEST" and r.get("client") == "127.0.0.1":
        served.setdefault(int(r["client_port"]), set()).add(r["worker"])
load = json.load(open(sys.argv[2]))
w0 = [p for p, w in served.items() if w == {"0"}]
bad = []
for p, st in load["ports"].items():
    if st["failed"] == 0:
        continue
    if served.get(int(p)) != {"0"}:
        bad.append("port %s (served by %s) lost %d" % (p, sorted(served.get(int(p), [])), st["failed"]))
    elif st["failed"] > 1:
        bad.append("port %s lost %d requests" % (p, st["failed"]))
lost = sum(st["failed"] for st in load["ports"].values())
print(len(w0), lost, "; ".join(bad) or "-")
PY
read -r n0 lost bad < "$T/verdict"
ok $([ "$bad" = - ] && [ "$lost" = "$lfail" ] && [ "$lfail" -le "$n0" ]; echo $?) \
    "only the killed worker's connections lost a request, one each at most ($lfail lost; worker 0 had served $n0 client connections; $lok answered)"
[ "$bad" = - ] || diag "$bad"

# --- the helper ---
q0=$(grep -ci 'query\[A\] dns.test' "$T/dnsmasq.log")
load "dns.test:$OP" "$T/stop2"
ok $(wait_for 300 moved 400; echo $?) "load through DNS is running (the name cached by the helper)"
h=$(for c in $(children_of "$EGD_PID"); do is_helper "$c" && echo "$c"; done)
q1=$(grep -ci 'query\[A\] dns.test' "$T/dnsmasq.log")
kill -KILL "$h"
ok $(wait_for 100 replaced is_helper "$h"; echo $?) "the killed helper is replaced"
at=$(progress)
ok $(wait_for 300 moved $((at + 400)); echo $?) "the load goes on after the replacement"
touch "$T/stop2"
wait "$LOAD"
read -r lok lfail lre <<EOF
$(result)
EOF
ok $([ "$lfail" = 0 ] && [ "$lok" -gt 800 ]; echo $?) \
    "the helper's death cost no request ($lok answered, $lfail failed)"
q2=$(grep -ci 'query\[A\] dns.test' "$T/dnsmasq.log")
ok $([ "$q1" -gt "$q0" ] && [ "$q2" -gt "$q1" ]; echo $?) \
    "its replacement asked the DNS server again ($((q1 - q0)) queries before the kill, $((q2 - q1)) after)"
ok $([ "$(audit_get count _msgid=DENY)" = 0 ]; echo $?) "no request was refused"
stop_egressd
ok $([ "$EGD_STATUS" -eq 0 ]; echo $?) "stops with status 0"
done_testing
