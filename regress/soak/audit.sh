# Soak: the audit receiver away under load.  Twenty keep-alive clients
# send a fixed number of requests while a unix datagram receiver (the
# kind of sink that can count every record) is stopped, the workers'
# queues (4096 bytes each) fill and overflow, and the receiver is
# started again.  The stderr sink, which never queues, is the
# reference: one REQUEST record per request answered.  Once the load is
# over, the receiver must have every REQUEST record it did not miss,
# and DROPPED records (one or several per worker) whose counts add up to
# exactly the records it missed: none lost without a count.
. "$SRCDIR/regress/e2e/common.sh"

P=$(free_port); OP=$(free_port)
REQS=${REQS:-6000}
start_origin 127.0.0.1 "$OP"
cat > "$T/egressd.conf" <<CONF
user "$EGD_USER"
chroot "$T/root"
workers 2
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
audit {
	sink unix "$T/audit.sock"
	sink stderr
	buffer 4096
}
CONF
sink() {	# sink STOPFILE: a receiver in the background
	rm -f "$1"
	python3 "$SRCDIR/regress/soak/sink.py" "$T/audit.sock" "$T/received" "$1" 1800 &
	SINK=$!
	EXTRA_PIDS="$EXTRA_PIDS $SINK"
	wait_for 50 test -f "$T/audit.sock.ready"
}
sink "$T/sink1.stop"
start_egressd "$T/egressd.conf" || { fail "egressd starts"; done_testing; exit 1; }
progress() { cat "$T/load.progress" 2>/dev/null || echo 0; }
moved() { [ "$(progress)" -ge "$1" ]; }
counts() {	# what the receiver has: "requests dropped-total droppeds"
	python3 - "$T/received" <<'PY'
import re, sys
req = dropped = n = 0
for line in open(sys.argv[1], errors="replace"):
    if " REQUEST [" in line:
        req += 1
    m = re.search(r' DROPPED \[\S+ dropped="(\d+)"', line)
    if m:
        dropped += int(m.group(1))
        n += 1
print(req, dropped, n)
PY
}

python3 "$SRCDIR/regress/soak/load.py" "$P" "origin.test:$OP" /small 20 "$REQS" 1200 \
    "$T/load.stop" "$T/load.progress" > "$T/load.out" &
LOAD=$!
EXTRA_PIDS="$EXTRA_PIDS $LOAD"
ok $(wait_for 300 moved 500; echo $?) "load is running, records reach the receiver"
touch "$T/sink1.stop"
wait "$SINK"
ok $(wait_for 300 log_has "records dropped\|dropped"; echo $?) "the receiver is gone: the queues overflow, records are dropped"
at=$(progress)
wait_for 300 moved $((at + 500))
sink "$T/sink2.stop"
wait "$LOAD"
read -r lok lfail <<END
$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["ok"], d["failed"])' "$T/load.out")
END
ok $([ "$lfail" = 0 ] && [ "$lok" = "$REQS" ]; echo $?) "all $REQS requests answered ($lok, $lfail failed)"
ref=$(audit_get count _msgid=REQUEST)
ok $([ "$ref" = "$lok" ]; echo $?) "the stderr sink has one REQUEST record for each ($ref)"
whole() { set -- $(counts); [ $(($1 + $2)) -ge "$ref" ]; }
wait_for 300 whole
read -r got dropped ndropped <<END
$(counts)
END
ok $([ $((got + dropped)) = "$ref" ] && [ "$dropped" -gt 0 ] && [ "$ndropped" -ge 1 ]; echo $?) \
    "the receiver got $got records and $ndropped DROPPED records counting $dropped: together exactly the $ref written"
ok $(tail -n 20 "$T/received" | grep -q ' REQUEST \['; echo $?) "records flow again after the DROPPED ones"
touch "$T/sink2.stop"
wait "$SINK"
stop_egressd
ok $([ "$EGD_STATUS" -eq 0 ]; echo $?) "stops with status 0"
done_testing
