# Reload: a broken file changes nothing and the old listener keeps
# serving; a new port is served after SIGHUP and a removed one is closed;
# a request begun before the reload on the removed port is answered (503,
# shutting_down); a listener present in both configurations refuses no
# connection while reloads happen.  What a reload does to the policy of
# open connections and tunnels is regress/e2e/revoke.sh's.
. "$SRCDIR/regress/e2e/common.sh"

P1=$(free_port)
P2=$(free_port)
while [ "$P2" = "$P1" ]; do P2=$(free_port); done
conf() {	# conf PORT...: a config listening on those ports
	{
		echo "user \"$EGD_USER\""
		echo "chroot \"$T/root\""
		echo "workers 2"
		echo 'gateway "test" {'
		for p in "$@"; do echo "	listen on 127.0.0.1 port $p http"; done
		echo '}'
	} > "$T/egressd.conf"
}
conf "$P1"
start_egressd "$T/egressd.conf" -v || { fail "egressd starts"; done_testing; exit 1; }
kids0=$(children_of "$EGD_PID" | sort | tr '\n' ' ')

# --- a broken file ---
cp "$T/egressd.conf" "$T/good.conf"
printf 'workers 2\nbogus keyword\ngateway "x" {\n\tlisten on 127.0.0.1 port 99999\n}\n' > "$T/egressd.conf"
kill -HUP "$EGD_PID"
ok $(wait_for 50 log_has "has errors; keeping generation 1"; echo $?) "a broken file: reload refused, generation 1 kept"
ok $(log_has "egressd.conf:2: "; echo $?) "the errors are reported with file and line"
ok $([ "$(http_status "http://127.0.0.1:$P1/")" = 403 ]; echo $?) "the old listener still serves"
ok $([ "$(children_of "$EGD_PID" | sort | tr '\n' ' ')" = "$kids0" ]; echo $?) "no child was restarted"

# --- a connection in flight across a reload ---
rm -f "$T/ready" "$T/go"
python3 "$SRCDIR/regress/e2e/slowclient.py" "$P1" "$T/ready" "$T/go" > "$T/slow.out" &
SLOW=$!
EXTRA_PIDS=$SLOW
wait_for 50 test -f "$T/ready"
ok $(wait_for 50 conn_accepted "$P1" "$(cat "$T/ready")"; echo $?) \
    "a worker has accepted the slow client's connection"

# --- a new port, the old one dropped ---
conf "$P2"
kill -HUP "$EGD_PID"
ok $(wait_for 50 log_has "reload: generation 2 in force"; echo $?) "SIGHUP with a new port: generation 2 in force"
ok $([ "$(http_status "http://127.0.0.1:$P2/")" = 403 ]; echo $?) "the new port serves"
ok $([ "$(http_status "http://127.0.0.1:$P1/")" = 000 ]; echo $?) "the dropped port refuses connections"
touch "$T/go"
wait "$SLOW"
ok $(grep -q '^HTTP/1.1 503' "$T/slow.out"; echo $?) "a request begun on a listener the reload removed gets an answer ($(cat "$T/slow.out"))"
ok $([ "$(audit_get count _msgid=DENY reason=shutting_down status=503 method=GET)" = 1 ]; echo $?) \
    "it is recorded: shutting_down"
ok $(wait_for 30 log_has "worker [01]: wconf_unref: generation 1 released"; echo $?) \
    "the old generation is freed once its last connection ends"

# --- reloads under load on a listener kept across them ---
conf "$P2" "$P1"
kill -HUP "$EGD_PID"
wait_for 50 log_has "reload: generation 3 in force"
python3 - "$P2" > "$T/load.out" <<'PY' &
import socket, sys, time
port = int(sys.argv[1]); ok = bad = 0
end = time.time() + 4
while time.time() < end and ok + bad < 2000:
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        d = s.recv(100)
        ok += d.startswith(b"HTTP/1.1 403")
        bad += not d.startswith(b"HTTP/1.1 403")
        s.close()
    except OSError:
        bad += 1
print(ok, bad)
PY
LOAD=$!
EXTRA_PIDS=$LOAD
for i in 1 2 3 4 5; do
	sleep 0.5
	kill -HUP "$EGD_PID"
done
wait "$LOAD"
read good bad < "$T/load.out"
ok $([ "$bad" -eq 0 ] && [ "$good" -gt 0 ]; echo $?) "five reloads under load: $good answered, $bad refused or cut"
ok $(wait_for 50 log_has "reload: generation 8 in force"; echo $?) "all five reloads took (generation 8)"
stop_egressd
ok $([ "$EGD_STATUS" -eq 0 ]; echo $?) "stops with status 0"
done_testing
