# sd_notify without systemd: the test owns NOTIFY_SOCKET and sees, from
# the parent's pid, READY=1 once serving, RELOADING=1 then READY=1 around
# a reload, and STOPPING=1 on SIGTERM, in that order.  Without
# NOTIFY_SOCKET nothing breaks.
. "$SRCDIR/regress/e2e/common.sh"

PORT=$(free_port)
cat > "$T/egressd.conf" <<CONF
user "$EGD_USER"
chroot "$T/root"
workers 1
gateway "test" {
	listen on 127.0.0.1 port $PORT http
}
CONF

python3 "$SRCDIR/regress/e2e/notify_recv.py" "$T/notify.sock" "$T/notify.out" 300 &
RECV=$!
EXTRA_PIDS=$RECV
wait_for 50 test -f "$T/notify.out.bound"
NOTIFY_SOCKET="$T/notify.sock" start_egressd "$T/egressd.conf" ||
    { fail "egressd starts"; done_testing; exit 1; }
ok $(wait_for 30 grep -q 'READY=1' "$T/notify.out"; echo $?) "READY=1 arrives"
ok $([ "$(http_status "http://127.0.0.1:$PORT/")" = 403 ]; echo $?) "and the listener serves when it does"
kill -HUP "$EGD_PID"
ok $(wait_for 50 log_has "reload: generation 2 in force"; echo $?) "SIGHUP reloads"
NPID=$EGD_PID
kill -TERM "$EGD_PID"
wait "$EGD_PID"
st=$?
EGD_PID=
ok $([ "$st" -eq 0 ]; echo $?) "stops with status 0"
# STOPPING=1 was sent before the exit; the receiver writes it when it
# gets to it.
wait_for 50 grep -q 'STOPPING=1' "$T/notify.out"
kill "$RECV" 2>/dev/null
diag "notifications: $(tr '\n' ' ' < "$T/notify.out")"
seq=$(awk '{ $1 = ""; print }' "$T/notify.out" | grep -o -e 'READY=1' -e 'RELOADING=1' -e 'STOPPING=1' | tr '\n' ' ')
ok $([ "$seq" = "READY=1 RELOADING=1 READY=1 STOPPING=1 " ]; echo $?) "in order: READY, RELOADING, READY, STOPPING ($seq)"
ok $(grep -q 'RELOADING=1|MONOTONIC_USEC=[0-9]' "$T/notify.out"; echo $?) "RELOADING carries MONOTONIC_USEC"
pids=$(awk '{ print $1 }' "$T/notify.out" | sort -u | tr '\n' ' ')
ok $([ "$pids" = "$NPID " ]; echo $?) "all from the parent, pid $NPID ($pids)"

# Without NOTIFY_SOCKET: starts and stops as usual.
unset NOTIFY_SOCKET
start_egressd "$T/egressd.conf" && pass "starts without NOTIFY_SOCKET" || fail "starts without NOTIFY_SOCKET"
stop_egressd
ok $([ "$EGD_STATUS" -eq 0 ]; echo $?) "and stops with status 0"
done_testing
