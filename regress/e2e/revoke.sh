# A reload revokes: what was let through is decided again by the new
# configuration.  Requests on a keep-alive connection opened before the
# reload (the next one sees the new policy, the connection stays usable);
# a request in flight finishes as it started, the one pipelined behind it
# does not; CONNECT tunnels and websockets the new configuration refuses
# are closed after "revoke grace" and audited "revoked", those it allows
# carry every byte through many reloads; reloading back withdraws a
# revocation; an upgrade in flight at the reload is decided when it
# opens; a removed listener's connections; retiring workers; requests
# under load through reloads; egressctl and the metrics per generation.
. "$SRCDIR/regress/e2e/common.sh"
command -v dnsmasq >/dev/null || { fail "dnsmasq is installed"; done_testing; exit 1; }
EGRESSCTL=${EGRESSCTL:-$(dirname "$EGRESSD")/egressctl}
RV="$SRCDIR/regress/e2e/revoke.py"

P=$(free_port); P2=$(free_port); OP=$(free_port); EP=$(free_port)
DP=$(free_port); MP=$(free_port)
start_origin 127.0.0.1 "$OP"
python3 "$RV" echo 127.0.0.1 "$EP" 300 "$T/echo.ready" &
EXTRA_PIDS="$EXTRA_PIDS $!"
wait_for 50 test -f "$T/echo.ready"
start_dns "$DP" --address=/a.test/127.0.0.1 --address=/b.test/127.0.0.1 \
    --address=/c.test/127.0.0.1 --address=/d.test/127.0.0.1

# conf GRACE WORKERS "PORTS" SERVICES...: a and b are HTTP services on
# the origin (each with a route allowing websocket on /ws), c and d
# tunnel services on the echo server.
conf() {
	grace=$1 workers=$2 ports=$3
	shift 3
	{
		echo "user \"$EGD_USER\""
		echo "chroot \"$T/root\""
		echo "workers $workers"
		echo "nameserver 127.0.0.1 port $DP"
		echo "revoke grace $grace"
		echo "drain timeout 60"
		echo "metrics listen on 127.0.0.1 port $MP"
		echo "control socket \"$T/egressd.sock\""
		echo 'gateway "gw" {'
		for p in $ports; do echo "	listen on 127.0.0.1 port $p http"; done
		echo '}'
		for s in "$@"; do
			case $s in
			a|b)	printf 'service "%s" {\n\thosts { "%s.test" }\n\tport %s http\n\tallow private\n}\n' "$s" "$s" "$OP"
				printf 'route "ws-%s" {\n\tmatch authority "%s.test" path "/ws" {\n\t\twebsocket\n\t}\n}\n' "$s" "$s" ;;
			c|d)	printf 'service "%s" {\n\thosts { "%s.test" }\n\tport %s tcp\n\tallow private\n}\n' "$s" "$s" "$EP" ;;
			esac
		done
	} > "$T/egressd.conf"
}
G=1
reload() {	# SIGHUP; wait until the next generation is in force everywhere
	G=$((G + 1))
	kill -HUP "$EGD_PID"
	wait_for 200 log_has "reload: generation $G in force"
}
json() { python3 -c 'import json, sys; j = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"; }
metric() { curl -s -m 5 "http://127.0.0.1:$MP/metrics" | awk -v k="$1" '$1 == k { print $2 }'; }
progress() { cat "$1.progress" 2>/dev/null || echo 0; }
gt() { [ "$(progress "$1")" -gt "$2" ]; }
head_len() { printf 'CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n' "$1" "$1" | wc -c; }

conf 30 2 "$P $P2" a b c d
start_egressd "$T/egressd.conf" || { fail "egressd starts"; done_testing; exit 1; }

# --- the issue's scenario: a kept connection after a reload ---------------
python3 "$RV" keep "$P" "a.test:$OP" "b.test:$OP" "$T/keep.ready" "$T/keep.go" > "$T/keep.out" &
KEEP=$!
wait_for 100 test -f "$T/keep.ready"
conf 30 2 "$P $P2" b c d
reload
ok $? "a.test removed: generation $G in force"
touch "$T/keep.go"
wait "$KEEP"
sed 's/^/# /' "$T/keep.out"
ok $(grep -qx 'first 200 hello' "$T/keep.out"; echo $?) "before the reload: 200 on the kept connection"
ok $([ "$(grep -c '^after 403 egressd:_no_service$' "$T/keep.out")" = 3 ]; echo $?) \
    "after it: three requests on the same connection, each 403 no_service"
fresh=$(curl -s -m 5 -x "http://127.0.0.1:$P" "http://a.test:$OP/small")
ok $([ "$fresh" = "egressd: no_service" ]; echo $?) \
    "the same body as on a new connection ($fresh)"
ok $(grep -qx 'other 200 hello' "$T/keep.out" && grep -qx 'again 403 egressd:_no_service' "$T/keep.out"; echo $?) \
    "the connection stays usable for what is allowed, and refuses again"
cport=$(awk '$1 == "port" { print $2 }' "$T/keep.out")
ok $([ "$(audit_get count _msgid=DENY reason=no_service authority=a.test client_port="$cport")" = 4 ] &&
    [ "$(audit_get count _msgid=REQUEST service=a authority=a.test client_port="$cport")" = 1 ]; echo $?) \
    "the kept connection's records: one REQUEST, then four DENY no_service"

# --- a request in flight, and one pipelined behind it ----------------------
conf 30 2 "$P $P2" a b c d
reload
n0=$(origin_count '"target": "/small"')
python3 "$RV" inflight "$P" "a.test:$OP" "$T/gate1" "$T/if.ready" > "$T/if.out" &
IF=$!
wait_for 100 test -f "$T/if.ready"
wait_for 100 sh -c "grep -q 'gate1' '$T/origin.log'"
ok $? "a request for a.test is held at the origin"
conf 30 2 "$P $P2" b c d
reload
touch "$T/gate1"
wait "$IF"
sed 's/^/# /' "$T/if.out"
ok $(grep -qx 'first 200 hello' "$T/if.out"; echo $?) "the request in flight at the reload finishes as it started (200)"
ok $(grep -qx 'second 403 egressd:_no_service' "$T/if.out"; echo $?) \
    "the request pipelined behind it is decided by the new generation (403)"
ok $([ "$(origin_count '"target": "/small"')" = "$n0" ]; echo $?) "it never reached the origin"

# --- tunnels and websockets across reloads ----------------------------------
conf 60 2 "$P $P2" a b c d
reload
G0=$G
rm -f "$T/stop"
python3 "$RV" tunnel "$P" "c.test:$EP" "$T/rc.ready" "$T/stop" "$T/rc.out" &
RC=$!
python3 "$RV" tunnel "$P" "d.test:$EP" "$T/kd.ready" "$T/stop" "$T/kd.out" &
KD=$!
python3 "$RV" tunnel "$P" "ws:a.test:$OP:/ws" "$T/ws.ready" "$T/stop" "$T/ws.out" &
WS=$!
wait_for 100 test -f "$T/rc.ready" -a -f "$T/kd.ready" -a -f "$T/ws.ready"
wait_for 100 gt "$T/rc.out" 0 && wait_for 100 gt "$T/ws.out" 0
ok $? "two CONNECT tunnels (c.test, d.test) and a websocket (a.test) carry bytes"

conf 60 2 "$P $P2" b d
reload
ok $(wait_for 50 log_has "to c.test port $EP: refused by generation $G (no_service), closing in 60 s"; echo $?) \
    "a.test and c.test removed: the c.test tunnel is refused, closing in 60 s"
ok $(log_has "to a.test port $OP: refused by generation $G (no_service), closing in 60 s"; echo $?) \
    "and the websocket to a.test"
ok $(log_has "to d.test port $EP: refused"; [ $? -ne 0 ]; echo $?) "the d.test tunnel is not"
n=$(progress "$T/rc.out")
ok $(wait_for 100 gt "$T/rc.out" $((n + 65536)); echo $?) "a refused tunnel goes on during its grace"

ctl() { "$EGRESSCTL" -s "$T/egressd.sock" "$@"; }
ctl -j show summary > "$T/sum.json"
ok $([ "$(json "$T/sum.json" '[(g["generation"], g["connections"], g["tunnels"]) for g in j["generations"]]')" = "[($G, 0, 0), ($G0, 3, 3)]" ]; echo $?) \
    "egressctl: generation $G holds nothing, generation $G0 three tunnels ($(json "$T/sum.json" 'j["generations"]'))"
ok $(ctl show summary | grep -qx "generation $G0: 3 connections, 3 tunnels"; echo $?) "and says so as text"
ok $([ "$(metric "egressd_generation_tunnels{generation=\"$G0\"}")" = 3 ]; echo $?) "the metrics too"

conf 60 2 "$P $P2" a b c d
reload
ok $(wait_for 50 log_has "to c.test port $EP: allowed again by generation $G, not closed"; echo $?) \
    "reloaded back: the revocation is withdrawn"
conf 60 2 "$P $P2" b d
reload
GR=$G
ok $(wait_for 50 log_has "to c.test port $EP: refused by generation $G "; echo $?) "and away again: refused again"
conf 0 2 "$P $P2" b d
reload
ok $(wait_for 100 test -s "$T/rc.out"; echo $?) "a reload with revoke grace 0 closes the refused tunnel at once"
wait "$RC"
ok $([ "$(json "$T/rc.out" 'j["eof"]')" = True ]; echo $?) "the client saw it closed"
wait_for 100 test -s "$T/ws.out"
wait "$WS"
ok $([ "$(json "$T/ws.out" 'j["eof"]')" = True ]; echo $?) "and the websocket"
r=$(audit_get count _msgid=DENY reason=revoked authority=c.test generation="$GR" revoked_by=no_service status=200)
ok $([ "$r" = 1 ]; echo $?) "the tunnel's one record: DENY, revoked, by generation $GR, no_service"
bin=$(audit_get last bytes_in reason=revoked authority=c.test)
bout=$(audit_get last bytes_out reason=revoked authority=c.test)
ok $([ "$bout" -gt 65536 ] && [ "$bin" -ge "$bout" ] &&
    [ "$bin" -le $(($(json "$T/rc.out" 'j["sent"]') + $(head_len "c.test:$EP"))) ] &&
    [ "$bout" -ge "$(json "$T/rc.out" 'j["received"]')" ]; echo $?) \
    "with the bytes carried so far ($bin in, $bout out, as the client counted)"
ok $([ "$(audit_get count reason=revoked authority=a.test generation="$GR" status=101 method=GET)" = 1 ]; echo $?) \
    "the websocket's: revoked, status 101"
ok $([ "$(audit_get count authority=c.test _msgid=TUNNEL)" = 0 ]; echo $?) "no other record for them"

# The d.test tunnel carries on through many reloads, under load for b.test.
rm -f "$T/lstop"
python3 "$RV" load "$P" "b.test:$OP" "$T/lstop" "$T/load.out" &
LOAD=$!
wait_for 100 gt "$T/load.out" 40
i=0
while [ $i -lt 10 ]; do
	if [ $((i % 2)) = 0 ]; then conf 0 2 "$P $P2" a b c d; else conf 0 2 "$P $P2" b d; fi
	reload || break
	i=$((i + 1))
done
ok $([ $i = 10 ]; echo $?) "ten more reloads (generation $G)"
n=$(progress "$T/kd.out")
wait_for 100 gt "$T/kd.out" $((n + 65536))
n=$(progress "$T/load.out")
wait_for 100 gt "$T/load.out" $((n + 40))
touch "$T/stop" "$T/lstop"
wait "$KD"
wait "$LOAD"
sed 's/^/# /' "$T/kd.out"; echo
ok $([ "$(json "$T/kd.out" 'j["same"], j["eof"], j["sent"] > 1000000')" = "(True, False, True)" ]; echo $?) \
    "the allowed tunnel lost no byte: $(json "$T/kd.out" 'j["sent"]') sent, the same checksummed back"
read good bad < "$T/load.out"
ok $([ "$bad" -eq 0 ] && [ "$good" -gt 100 ]; echo $?) \
    "b.test under load through the reloads: $good answered 200, $bad failed"
d_recorded() { [ "$(audit_get count _msgid=TUNNEL authority=d.test)" = 1 ]; }
wait_for 100 d_recorded
ok $([ "$(audit_get last bytes_in _msgid=TUNNEL authority=d.test)" = $(($(json "$T/kd.out" 'j["sent"]') + $(head_len "d.test:$EP"))) ] &&
    [ "$(audit_get last reason _msgid=TUNNEL authority=d.test)" = - ]; echo $?) \
    "its record: a TUNNEL with every byte, nothing revoked"
g0_gone() { ! ctl show summary | grep -q "^generation $G0:"; }
ok $(wait_for 100 g0_gone; echo $?) \
    "generation $G0 is gone once its last tunnel ended"
ok $([ "$(metric egressd_revocations_total)" = 2 ] &&
    [ "$(metric 'egressd_denials_total{reason="revoked"}')" = 2 ]; echo $?) "metrics: 2 revocations"

# --- an upgrade in flight at the reload ---------------------------------------
conf 60 2 "$P $P2" a b c d
reload
rm -f "$T/stop"
python3 "$RV" tunnel "$P" "ws:a.test:$OP:/ws?gate=$T/gate2" "$T/w2.ready" "$T/stop" "$T/w2.out" &
W2=$!
wait_for 100 sh -c "grep -q 'gate2' '$T/origin.log'"
conf 0 2 "$P $P2" b c d
reload
touch "$T/gate2"
wait_for 100 test -s "$T/w2.out"
wait "$W2"
ok $([ "$(json "$T/w2.out" 'j["status"], j["eof"]')" = "('101', True)" ]; echo $?) \
    "a websocket upgraded after the reload that removed it: closed at once"
ok $([ "$(audit_get count reason=revoked authority=a.test generation="$G" status=101)" = 1 ]; echo $?) \
    "audited revoked by generation $G"

# --- a grace that runs out by itself ------------------------------------------
conf 60 2 "$P $P2" a b c d
reload
rm -f "$T/stop" "$T/g.out"
python3 "$RV" tunnel "$P" "c.test:$EP" "$T/g.ready" "$T/stop" "$T/g.out" &
GT=$!
wait_for 100 test -f "$T/g.ready"
conf 1 2 "$P $P2" a b d
reload
ok $(wait_for 300 test -s "$T/g.out"; echo $?) "revoke grace 1: the tunnel is closed by itself"
wait "$GT"
ok $([ "$(audit_get count reason=revoked authority=c.test generation="$G")" = 1 ]; echo $?) "and audited"

# --- a removed listener ---------------------------------------------------------
conf 60 2 "$P $P2" a b c d
reload
python3 "$RV" idle "$P2" "b.test:$OP" "$T/idle.ready" "$T/idle.out" &
ID=$!
python3 "$RV" inflight "$P2" "b.test:$OP" "$T/gate3" "$T/if3.ready" > "$T/if3.out" &
IF3=$!
wait_for 100 test -f "$T/idle.ready" -a -f "$T/if3.ready"
wait_for 100 sh -c "grep -q 'gate3' '$T/origin.log'"
conf 60 2 "$P" a b c d
reload
wait "$ID"
ok $(grep -qx '200 hello closed' "$T/idle.out"; echo $?) \
    "its listener removed: an idle keep-alive connection is closed ($(cat "$T/idle.out"))"
touch "$T/gate3"
wait "$IF3"
ok $(grep -qx 'first 200 hello' "$T/if3.out" && grep -qx 'second closed' "$T/if3.out"; echo $?) \
    "a busy one gets its answer, then the close ($(tr '\n' ' ' < "$T/if3.out"))"

# --- workers retired by a reload revoke too -----------------------------------
python3 "$RV" many "$P" "c.test:$EP" 8 "$T/many.ready" "$T/many.out" &
MANY=$!
wait_for 100 test -f "$T/many.ready"
conf 0 1 "$P" a b d
reload
ok $(wait_for 200 test -s "$T/many.out"; echo $?) "workers 2 -> 1 with c.test removed"
wait "$MANY"
ok $([ "$(cat "$T/many.out")" = 8 ] &&
    [ "$(audit_get count reason=revoked authority=c.test generation="$G")" = 8 ]; echo $?) \
    "all eight tunnels closed and audited revoked, on either worker"
diag "revoked by the retiring worker 1: $(audit_get count reason=revoked authority=c.test generation="$G" worker=1)"

stop_egressd
ok $([ "$EGD_STATUS" -eq 0 ]; echo $?) "stops with status 0"
ok $(grep -q 'AddressSanitizer\|runtime error' "$T/egressd.log"; [ $? -ne 0 ]; echo $?) "no sanitizer report"
done_testing
