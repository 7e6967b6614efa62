# Loops and the scoped private-address guard, tried as a careless operator
# would configure them.  A service with "allow private" whose name leads
# back to the gateway's own listener (http, tls passthrough, a CONNECT
# tunnel, the metrics listener, a static endpoint on another port, a
# service in report mode) is refused before any dial: 508 "loop", one
# record, no recursion.  A request carrying this gateway's own Via name
# is refused the same way, in every spelling a client may use.
# "allow private { network }" lets a service reach those networks and no
# other private address, this host's own addresses only when named
# exactly, and every dial, retries included, stays inside it; a reload
# decides open tunnels again through the same guard.
. "$SRCDIR/regress/e2e/common.sh"
command -v dnsmasq >/dev/null || { fail "dnsmasq is installed"; done_testing; exit 1; }

P=$(free_port); TP=$(free_port); MP=$(free_port); OP=$(free_port)
OP1=$(free_port); OP3=$(free_port); DP=$(free_port); EP=$(free_port)
python3 "$SRCDIR/regress/e2e/origin.py" 127.0.0.2 "$OP" "$T/origin2.log" 1800 &
EXTRA_PIDS="$!"
python3 "$SRCDIR/regress/e2e/origin.py" 127.0.0.3 "$OP" "$T/origin3.log" 1800 &
EXTRA_PIDS="$EXTRA_PIDS $!"
python3 "$SRCDIR/regress/e2e/origin.py" 127.0.0.1 "$OP1" "$T/origin1.log" 1800 &
EXTRA_PIDS="$EXTRA_PIDS $!"
python3 "$SRCDIR/regress/e2e/origin.py" 127.0.0.3 "$OP3" "$T/origin3b.log" 1800 &
EXTRA_PIDS="$EXTRA_PIDS $!"
python3 "$SRCDIR/regress/e2e/revoke.py" echo 127.0.0.2 "$EP" 1800 "$T/echo.ready" &
EXTRA_PIDS="$EXTRA_PIDS $!"
touch "$T/origin1.log" "$T/origin2.log" "$T/origin3.log" "$T/origin3b.log"
wait_for 50 test -f "$T/echo.ready"
wait_for 50 test -f "$T/origin2.log.ready"
wait_for 50 test -f "$T/origin3.log.ready"
wait_for 50 test -f "$T/origin1.log.ready"
wait_for 50 test -f "$T/origin3b.log.ready"
start_dns "$DP" --address=/self.test/127.0.0.1 --address=/metrics.test/127.0.0.1 \
    --address=/selfreport.test/127.0.0.1 --address=/two.test/127.0.0.2 \
    --address=/three.test/127.0.0.3 --host-record=both.test,127.0.0.2 \
    --host-record=both.test,127.0.0.3 --address=/own.test/127.0.0.1 \
    --address=/ownx.test/127.0.0.1 --address=/mapped.test/::ffff:127.0.0.1 \
    --address=/narrowed.test/127.0.0.2 --address=/widened.test/127.0.0.2
# NARROWED and WIDENED: the networks of two tunnel services, changed by
# a reload below.
NARROWED=127.0.0.2/32 WIDENED=127.0.0.2/32
writeconf() {
cat > "$T/egressd.conf" <<CONF
user "$EGD_USER"
chroot "$T/root"
workers 2
revoke grace 0
nameserver 127.0.0.1 port $DP
metrics listen on 127.0.0.1 port $MP
gateway "gw" {
	listen on 127.0.0.1 port $P http
	listen on 127.0.0.1 port $TP tls
}
service "self" {
	hosts { "self.test", "mapped.test" }
	port $P http
	port $TP tls
	allow private
}
service "selftunnel" {
	hosts { "selftunnel.test" }
	port $P tcp
	resolution static
	endpoint 127.0.0.1
	allow private
}
service "metrics" {
	hosts { "metrics.test" }
	port $MP http
	allow private
}
service "moved" {
	hosts { "moved.test" }
	port 80 http
	resolution static
	endpoint 127.0.0.1 port $P
	allow private
}
service "selfreport" {
	hosts { "selfreport.test" }
	port $P http
	action report
}
service "scoped" {
	hosts { "two.test", "three.test", "both.test" }
	port $OP http
	allow private { 127.0.0.2/32 }
}
service "own-in-net" {
	hosts { "own.test" }
	port $OP1 http
	allow private { 127.0.0.0/8 }
}
service "own-named" {
	hosts { "ownx.test" }
	port $OP1 http
	allow private { 127.0.0.1/32 }
}
service "retry" {
	hosts { "retry.test" }
	port 80 http
	resolution static
	endpoint 127.0.0.2 port $OP3
	endpoint 127.0.0.3 port $OP3
	allow private { 127.0.0.2/32 }
}
service "split" {
	hosts { "split.test" }
	port 80 http
	resolution static
	endpoint 127.0.0.2 port $OP
	endpoint 127.0.0.3 port $OP3
	allow private
}
service "narrowed" {
	hosts { "narrowed.test" }
	port $EP tcp
	allow private { $NARROWED }
}
service "widened" {
	hosts { "widened.test" }
	port $EP tcp
	allow private { $WIDENED }
}
route "retries" {
	match authority "retry.test" {
		retries 2
	}
}
CONF
}
writeconf
start_egressd "$T/egressd.conf" || { fail "egressd starts"; done_testing; exit 1; }
GW="http://127.0.0.1:$P"
req() { curl -s -m 20 -o "$T/body" -w '%{http_code}' "$@"; }
reqc() { curl -s -m 20 -o "$T/body" -w '%{http_connect}' -p "$@"; }
audit_last() { audit_get last "$@"; }
records() { audit_get count "$@"; }

# The gateway's own Via name, from one of its answers.
VIA=$(curl -s -m 5 -D - -o /dev/null -x "$GW" http://nowhere.test/ | tr -d '\r' |
    sed -n 's/^Via: 1.1 \([^ ]*\) (egressd)$/\1/p')
ok $([ -n "$VIA" ]; echo $?) "answers carry Via: 1.1 NAME (egressd) (NAME: $VIA)"

# --- the gateway's own listeners, whatever allow private says ---
ok $([ "$(req -x "$GW" "http://self.test:$P/small")" = 508 ] && grep -q '^egressd: loop' "$T/body"; echo $?) \
    "a name that resolves to the gateway's listener: 508 loop ($(cat "$T/body"))"
ok $([ "$(records authority=self.test)" = 1 ] && [ "$(audit_last reason authority=self.test)" = loop ] &&
    [ "$(audit_last _msgid authority=self.test)" = DENY ]; echo $?) \
    "one DENY record, reason loop: the request never came back ($(records authority=self.test) records)"
ok $([ "$(req -x "$GW" "http://mapped.test:$P/small")" = 508 ]; echo $?) \
    "the same through an IPv4-mapped AAAA answer: 508"
ok $([ "$(reqc -x "$GW" "http://selftunnel.test:$P/small")" = 508 ] &&
    [ "$(audit_last reason authority=selftunnel.test)" = loop ] &&
    [ "$(records authority=selftunnel.test)" = 1 ]; echo $?) "a CONNECT tunnel to the listener: 508, one record"
ok $([ "$(req -x "$GW" "http://metrics.test:$MP/metrics")" = 508 ]; echo $?) "the metrics listener: 508"
ok $([ "$(req -x "$GW" "http://moved.test/small")" = 508 ] &&
    [ "$(records authority=moved.test)" = 1 ]; echo $?) "a static endpoint on the listener's port: 508"
ok $([ "$(req -x "$GW" "http://selfreport.test:$P/small")" = 508 ] &&
    [ "$(audit_last reason authority=selfreport.test)" = loop ]; echo $?) \
    "a service in report mode does not dial the listener either: 508"
out=$(openssl s_client -connect "127.0.0.1:$TP" -servername self.test </dev/null 2>&1)
ok $(wait_for 50 sh -c "[ \$(python3 $SRCDIR/regress/e2e/audit.py $T/egressd.log count reason=loop scheme=tls) -ge 1 ]"; echo $?) \
    "tls passthrough to a name that leads to the tls listener: closed, DENY loop"
sleep 1
ok $([ "$(records scheme=tls authority=self.test)" = 1 ]; echo $?) \
    "and only that one record ($(records scheme=tls authority=self.test))"

# --- a request that came through this gateway before ---
ok $([ "$(req -x "$GW" -H "Via: 1.1 $VIA (egressd)" "http://two.test:$OP/small")" = 508 ] &&
    [ "$(audit_last reason authority=two.test)" = loop ]; echo $?) "our own Via: 508 loop"
ok $([ "$(req -x "$GW" -H "Via: 1.0 far-away, HTTP/1.1 $(echo "$VIA" | tr a-z A-Z)" "http://two.test:$OP/small")" = 508 ]; echo $?) \
    "our Via second in a list, upper case, with a protocol name: 508"
ok $([ "$(req -x "$GW" -H "Via: 1.0 far-away" -H "Via:	1.1	$VIA" "http://two.test:$OP/small")" = 508 ]; echo $?) \
    "our Via on a second line, tab-separated: 508"
ok $([ "$(reqc -x "$GW" --proxy-header "Via: 1.1 $VIA" "http://selftunnel.test:$P/")" = 508 ]; echo $?) "a CONNECT with our Via: 508"
ok $([ "$(req -x "$GW" -H "Via: 1.1 $VIA-other, 1.1 x$VIA (comment $VIA)" "http://two.test:$OP/small")" = 200 ]; echo $?) \
    "other gateways' names, and ours only in a comment: 200"
ok $(grep -qF "\"Via: 1.1 $VIA-other, 1.1 x$VIA (comment $VIA)\"" "$T/origin2.log" &&
    grep -qF "\"Via: 1.1 $VIA (egressd)\"" "$T/origin2.log"; echo $?) \
    "the origin gets the client's Via and ours"

# --- allow private { network } ---
ok $([ "$(req -x "$GW" "http://two.test:$OP/small")" = 200 ]; echo $?) "a listed network (127.0.0.2/32): 200"
ok $([ "$(req -x "$GW" "http://three.test:$OP/small")" = 403 ] &&
    [ "$(audit_last reason authority=three.test)" = private_address ] &&
    [ "$(grep -c three.test "$T/origin3.log")" = 0 ]; echo $?) \
    "a private address outside the list: 403 private_address, nothing reached it"
st=""; for i in 1 2 3 4; do st="$st$(req -x "$GW" "http://both.test:$OP/small")"; done
ok $([ "$st" = 200200200200 ] && [ "$(grep -c both.test "$T/origin3.log")" = 0 ] &&
    [ "$(grep -c both.test "$T/origin2.log")" = 4 ]; echo $?) \
    "a name with a listed and an unlisted address: only the listed one is dialed (4 of 4)"
ok $([ "$(req -x "$GW" "http://own.test:$OP1/small")" = 403 ] &&
    [ "$(grep -c own.test "$T/origin1.log")" = 0 ]; echo $?) \
    "this host's own address in a listed /8: 403 (the own-address rule is more specific)"
ok $([ "$(req -x "$GW" "http://ownx.test:$OP1/small")" = 200 ]; echo $?) \
    "this host's own address listed as a /32: 200"
ok $([ "$(req -x "$GW" "http://retry.test/small")" = 502 ] &&
    [ "$(audit_last reason authority=retry.test)" = upstream_refused ] &&
    [ "$(grep -c retry.test "$T/origin3b.log")" = 0 ]; echo $?) \
    "retries: the refused listed endpoint is tried again, the unlisted one never (502)"
st=""; for i in 1 2 3 4; do st="$st$(req -x "$GW" "http://split.test/small")"; done
# Round robin is per worker: with two workers, one of them takes at
# least two of the four requests, and so dials both endpoints.
s2=$(grep -c split.test "$T/origin2.log"); s3=$(grep -c split.test "$T/origin3b.log")
ok $([ "$st" = 200200200200 ] && [ "$s2" -ge 1 ] && [ "$s3" -ge 1 ] &&
    [ $((s2 + s3)) = 4 ]; echo $?) \
    "static endpoints on different ports: each dialed at its own port ($s2 and $s3 of 4)"

# --- open tunnels decided again by a reload, through the same guard ---
rm -f "$T/stop"
python3 "$SRCDIR/regress/e2e/revoke.py" tunnel "$P" "narrowed.test:$EP" "$T/n.ready" "$T/stop" "$T/n.out" &
TN=$!
python3 "$SRCDIR/regress/e2e/revoke.py" tunnel "$P" "widened.test:$EP" "$T/w.ready" "$T/stop" "$T/w.out" &
TW=$!
EXTRA_PIDS="$EXTRA_PIDS $TN $TW"
progress() { cat "$1.progress" 2>/dev/null || echo 0; }
gt() { [ "$(progress "$1")" -gt "$2" ]; }
wait_for 100 test -f "$T/n.ready" -a -f "$T/w.ready"
ok $(wait_for 100 gt "$T/n.out" 0 && wait_for 100 gt "$T/w.out" 0; echo $?) \
    "two tunnels to 127.0.0.2, each service allowed 127.0.0.2/32"
NARROWED=127.0.0.3/32 WIDENED=127.0.0.0/29
writeconf
kill -HUP "$EGD_PID"
ok $(wait_for 200 log_has "reload: generation 2 in force"; echo $?) \
    "reloaded: one service now allows 127.0.0.3/32 only, the other 127.0.0.0/29"
ok $(wait_for 100 test -s "$T/n.out"; echo $?) "the tunnel outside its service's networks now is closed"
wait "$TN"
ok $([ "$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["eof"])' "$T/n.out")" = True ] &&
    [ "$(records _msgid=DENY reason=revoked revoked_by=private_address authority=narrowed.test upstream=127.0.0.2)" = 1 ]; echo $?) \
    "its one record: DENY, revoked by private_address, where it went"
n=$(progress "$T/w.out")
ok $(wait_for 100 gt "$T/w.out" $((n + 65536)) && [ ! -s "$T/w.out" ] &&
    [ "$(records authority=widened.test)" = 0 ]; echo $?) \
    "the tunnel still inside its service's networks goes on, unrecorded"
touch "$T/stop"
wait "$TW"

ok $(audit_get dump > "$T/audit.json"; echo $?) "every audit record parses ($(wc -l < "$T/audit.json") records)"
stop_egressd
ok $([ "$EGD_STATUS" -eq 0 ]; echo $?) "stops with status 0"
done_testing
