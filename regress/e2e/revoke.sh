# A reload revokes: what was let through is decided again by the new
# configuration.  Requests on a keep-alive connection opened before the
# reload (the next one sees the new policy, the connection stays usable);
# a request in flight finishes as it started, the one pipelined behind it
# does not; CONNECT tunnels and websockets the new configuration refuses
# are closed after "revoke grace" and audited "revoked", those it allows
# carry every byte through many reloads; reloading back withdraws a
# revocation; an upgrade in flight at the reload is decided when it
# opens; a removed listener's connections; TLS passthrough; an https
# listener whose client CA changes; a destination whose CA changes (the
# pooled connection is not reused); retiring workers; requests under
# load through reloads; egressctl and the metrics per generation.
. "$SRCDIR/regress/e2e/common.sh"
command -v dnsmasq >/dev/null || { fail "dnsmasq is installed"; done_testing; exit 1; }
EGRESSCTL=${EGRESSCTL:-$(dirname "$EGRESSD")/egressctl}
RV="$SRCDIR/regress/e2e/revoke.py"

command -v openssl >/dev/null || { fail "openssl is installed"; done_testing; exit 1; }
P=$(free_port); P2=$(free_port); P3=$(free_port); P4=$(free_port)
OP=$(free_port); EP=$(free_port); DP=$(free_port); MP=$(free_port)
HP=$(free_port)
start_origin 127.0.0.1 "$OP"
python3 "$RV" echo 127.0.0.1 "$EP" 300 "$T/echo.ready" &
EXTRA_PIDS="$EXTRA_PIDS $!"
# Passthrough goes to the listener's port: the echo for it is on .2.
python3 "$RV" echo 127.0.0.2 "$P4" 300 "$T/echo2.ready" &
EXTRA_PIDS="$EXTRA_PIDS $!"
wait_for 50 test -f "$T/echo.ready" -a -f "$T/echo2.ready"
start_dns "$DP" --address=/a.test/127.0.0.1 --address=/b.test/127.0.0.1 \
    --address=/c.test/127.0.0.1 --address=/d.test/127.0.0.1 \
    --address=/t.test/127.0.0.2 --address=/h.test/127.0.0.1

# Two CAs, the https listener's certificate and a client's, by the first.
for ca in ca ca2; do
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=$ca" \
	    -keyout "$T/$ca.key" -out "$T/$ca.pem" >/dev/null 2>&1
done
mkcert() {	# mkcert NAME SUBJECT EXTENSIONS
	openssl req -newkey rsa:2048 -nodes -subj "$2" -keyout "$T/$1.key" \
	    -out "$T/$1.csr" >/dev/null 2>&1
	printf '%b\n' "$3" > "$T/$1.ext"
	openssl x509 -req -in "$T/$1.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" \
	    -CAcreateserial -days 2 -extfile "$T/$1.ext" -out "$T/$1.pem" >/dev/null 2>&1
}
mkcert gw /CN=gw.test "subjectAltName=DNS:gw.test,DNS:b.test"
mkcert cb /CN=client-b "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth"
mkcert h /CN=h.test "subjectAltName=DNS:h.test"
cp "$T/ca.pem" "$T/clientca.pem"
cp "$T/ca.pem" "$T/originca.pem"
python3 "$RV" https 127.0.0.1 "$HP" "$T/h.pem" "$T/h.key" 300 "$T/https.ready" &
EXTRA_PIDS="$EXTRA_PIDS $!"
wait_for 50 test -f "$T/https.ready"

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
		echo 'gateway "sec" {'
		echo "	listen on 127.0.0.1 port $P3 https cert \"$T/gw.pem\" key \"$T/gw.key\" client ca \"$T/clientca.pem\""
		echo '}'
		echo 'gateway "pt" {'
		echo "	listen on 127.0.0.1 port $P4 tls"
		echo '}'
		for s in "$@"; do
			case $s in
			a|b)	printf 'service "%s" {\n\thosts { "%s.test" }\n\tport %s http\n\tallow private\n}\n' "$s" "$s" "$OP"
				printf 'route "ws-%s" {\n\tmatch authority "%s.test" path "/ws" {\n\t\twebsocket\n\t}\n}\n' "$s" "$s" ;;
			c|d)	printf 'service "%s" {\n\thosts { "%s.test" }\n\tport %s tcp\n\tallow private\n}\n' "$s" "$s" "$EP" ;;
			t)	printf 'service "t" {\n\thosts { "t.test" }\n\tport %s tls\n\tallow private\n}\n' "$P4" ;;
			h)	printf 'service "h" {\n\thosts { "h.test" }\n\tport %s https\n\tallow private\n}\n' "$HP"
				printf 'destination "h" {\n\thost "h.test"\n\tport %s tls simple ca "%s"\n}\n' "$HP" "$T/originca.pem" ;;
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
conf 600 2 "$P $P2" a b c d
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

conf 600 2 "$P $P2" b d
reload
ok $(wait_for 50 log_has "to c.test port $EP: refused by generation $G (no_service), closing in 600 s"; echo $?) \
    "a.test and c.test removed: the c.test tunnel is refused, closing in 600 s"
ok $(log_has "to a.test port $OP: refused by generation $G (no_service), closing in 600 s"; echo $?) \
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

conf 600 2 "$P $P2" a b c d
reload
ok $(wait_for 50 log_has "to c.test port $EP: allowed again by generation $G, not closed"; echo $?) \
    "reloaded back: the revocation is withdrawn"
conf 600 2 "$P $P2" b d
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
r=$(audit_get count _msgid=DENY reason=revoked authority=c.test generation="$GR" revoked_by=no_service status=200 upstream=127.0.0.1 upstream_port="$EP")
ok $([ "$r" = 1 ]; echo $?) "the tunnel's one record: DENY, revoked, by generation $GR, no_service, where it went"
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
conf 600 2 "$P $P2" a b c d
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
conf 600 2 "$P $P2" a b c d
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
conf 600 2 "$P $P2" a b c d
reload
python3 "$RV" idle "$P2" "b.test:$OP" "$T/idle.ready" "$T/idle.out" &
ID=$!
python3 "$RV" inflight "$P2" "b.test:$OP" "$T/gate3" "$T/if3.ready" > "$T/if3.out" &
IF3=$!
wait_for 100 test -f "$T/idle.ready" -a -f "$T/if3.ready"
wait_for 100 sh -c "grep -q 'gate3' '$T/origin.log'"
conf 600 2 "$P" a b c d
reload
wait "$ID"
ok $(grep -qx '200 hello closed' "$T/idle.out"; echo $?) \
    "its listener removed: an idle keep-alive connection is closed ($(cat "$T/idle.out"))"
touch "$T/gate3"
wait "$IF3"
ok $(grep -qx 'first 200 hello' "$T/if3.out" && grep -qx 'second closed' "$T/if3.out"; echo $?) \
    "a busy one gets its answer, then the close ($(tr '\n' ' ' < "$T/if3.out"))"

# --- TLS passthrough ------------------------------------------------------------
conf 600 2 "$P" a b c d t
reload
rm -f "$T/stop"
python3 "$RV" tunnel "$P4" "tls:t.test" "$T/pt.ready" "$T/stop" "$T/pt.out" &
PT=$!
wait_for 100 test -f "$T/pt.ready"
ok $(wait_for 100 gt "$T/pt.out" 65536; echo $?) "a passthrough tunnel to t.test carries bytes"
conf 0 2 "$P" b t
reload
n=$(progress "$T/pt.out")
ok $(wait_for 100 gt "$T/pt.out" $((n + 65536)) && ! log_has "to t.test port $P4: refused"; echo $?) \
    "a reload that keeps t.test leaves it alone"
conf 0 2 "$P" a b c d
reload
ok $(wait_for 100 test -s "$T/pt.out"; echo $?) "t.test removed: the passthrough tunnel is closed"
wait "$PT"
ok $([ "$(audit_get count reason=revoked authority=t.test scheme=tls generation="$G" revoked_by=no_service)" = 1 ]; echo $?) \
    "audited revoked, no_service"

# --- an https listener whose client CA changes ----------------------------------
python3 "$RV" tlskeep "$P3" "b.test:$OP" "$T/cb.pem" "$T/cb.key" "$T/tk.ready" "$T/tk.go" "$T/tk.out" &
TK=$!
wait_for 100 test -f "$T/tk.ready"
conf 0 2 "$P" a b c d
reload
touch "$T/tk.go"
wait_for 100 test -f "$T/tk.ready2"
cp "$T/ca2.pem" "$T/clientca.pem"	# the same path, another CA in it
reload
touch "$T/tk.go2"
wait "$TK"
ok $([ "$(cat "$T/tk.out")" = "200 hello 200 hello closed" ]; echo $?) \
    "a client-certificate connection: kept across a reload, closed by one that changes its client CA ($(cat "$T/tk.out"))"
touch "$T/tn.go" "$T/tn.go2"
python3 "$RV" tlskeep "$P3" "b.test:$OP" "$T/cb.pem" "$T/cb.key" "$T/tn.ready" "$T/tn.go" "$T/tn.out" 2>/dev/null
ok $([ "$(cut -d' ' -f1 "$T/tn.out" 2>/dev/null)" != 200 ]; echo $?) \
    "and the same certificate cannot connect again"

# --- a destination's TLS settings, and the pool ---------------------------------
conf 0 2 "$P" b h
reload
rm -f "$T/hk.ready" "$T/hk.go"
python3 "$RV" keep "$P" "h.test:$HP" "b.test:$OP" "$T/hk.ready" "$T/hk.go" > "$T/hk.out" &
HK=$!
wait_for 100 test -f "$T/hk.ready"
cp "$T/ca2.pem" "$T/originca.pem"	# the origin's CA no longer trusted
reload
touch "$T/hk.go"
wait "$HK"
sed 's/^/# /' "$T/hk.out"
ok $(grep -qx 'first 200 hello' "$T/hk.out" &&
    [ "$(grep -c '^after 502 egressd:_tls_verify_failed' "$T/hk.out")" = 3 ] &&
    grep -qx 'other 200 hello' "$T/hk.out"; echo $?) \
    "a kept connection after the destination's CA changed: 502 tls_verify_failed, the pooled TLS connection not reused"

# --- workers retired by a reload revoke too -----------------------------------
conf 600 2 "$P" a b c d
reload
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
