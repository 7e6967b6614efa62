# Limits, shared by all workers: a request rate with burst per client
# address (429), concurrent connections per address and concurrent
# tunnels per address (503), each denial recorded.  Two workers, so a
# limit that were counted per worker would let twice as much through.
. "$SRCDIR/regress/e2e/common.sh"

P=$(free_port); OP=$(free_port); DP=$(free_port)
start_origin 127.0.0.1 "$OP"
start_dns "$DP" --address=/origin.test/127.0.0.1
conf() {
	cat > "$T/egressd.conf" <<CONF
user "$EGD_USER"
chroot "$T/root"
workers 2
nameserver 127.0.0.1 port $DP
$1
gateway "gw" {
	listen on 127.0.0.1 port $P http
}
service "origin" {
	hosts { "origin.test" }
	port $OP http
	allow private
}
CONF
}

# --- rate: 1 per second, burst 5, per source ---
conf "limit rate 1 burst 5 per source"
start_egressd "$T/egressd.conf" || { fail "egressd starts"; done_testing; exit 1; }
# The bucket holds 5 and gains one a second: of 20 requests sent in E
# seconds at most 5 + E (rounded up) pass, and at least 5.  E is measured
# rather than assumed, so a slow machine changes the bound, not the verdict.
codes=""
t0=$(date +%s%N)
for i in $(seq 20); do
	codes="$codes $(curl -s -o /dev/null -m 5 -w '%{http_code}' -x "http://127.0.0.1:$P" "http://origin.test:$OP/small")"
done
t1=$(date +%s%N)
max=$((5 + (t1 - t0 + 999999999) / 1000000000))
n200=$(echo $codes | tr ' ' '\n' | grep -c 200)
n429=$(echo $codes | tr ' ' '\n' | grep -c 429)
diag "statuses: $codes ($(( (t1 - t0) / 1000000 )) ms)"
ok $([ "$n200" -ge 5 ] && [ "$n200" -le "$max" ] && [ "$n200" -lt 20 ]; echo $?) \
    "burst 5 at 1/s: of 20 requests, 5 to $max pass, across both workers ($n200)"
ok $([ "$n429" -eq $((20 - n200)) ]; echo $?) "the others get 429 ($n429)"
ok $([ "$(audit_get count _msgid=DENY reason=rate_limited)" -eq "$n429" ]; echo $?) "each 429 is a DENY record with reason rate_limited"
ok $([ "$(origin_count '"/small"')" -eq "$n200" ]; echo $?) "only the allowed ones reached the origin"
sleep 2
ok $([ "$(curl -s -o /dev/null -m 5 -w '%{http_code}' -x "http://127.0.0.1:$P" "http://origin.test:$OP/small")" = 200 ]; echo $?) \
    "after a pause the bucket refills"
stop_egressd

# --- concurrent connections and tunnels per source ---
conf "limit connections 3 per source
limit tunnels 1 per source"
start_egressd "$T/egressd.conf" || { fail "egressd restarts"; done_testing; exit 1; }
rm -f "$T/r1" "$T/s1"
python3 "$SRCDIR/regress/e2e/hold.py" "$P" 3 "GET /small HTTP/1.1\r\nHost: origin" "$T/r1" "$T/s1" > "$T/h1" &
H1=$!; EXTRA_PIDS="$EXTRA_PIDS $H1"
wait_for 100 test -f "$T/r1"
ok $([ "$(grep -c -- '^-$' "$T/h1")" -eq 3 ]; echo $?) "three connections held open"
st=$(curl -s -o "$T/body" -m 5 -w '%{http_code}' -x "http://127.0.0.1:$P" "http://origin.test:$OP/small")
ok $([ "$st" = 503 ] && grep -q connection_limit "$T/body"; echo $?) "a fourth from the same address: 503 connection_limit ($st)"
ok $([ "$(audit_get count _msgid=DENY reason=connection_limit)" -ge 1 ]; echo $?) "recorded"
touch "$T/s1"; wait "$H1"
ok $(wait_for 30 sh -c "[ \$(curl -s -o /dev/null -m 5 -w '%{http_code}' -x http://127.0.0.1:$P http://origin.test:$OP/small) = 200 ]"; echo $?) \
    "once they close, connections are accepted again"

rm -f "$T/r2" "$T/s2"
python3 "$SRCDIR/regress/e2e/hold.py" "$P" 1 "CONNECT origin.test:$OP HTTP/1.1\r\nHost: origin.test:$OP\r\n\r\n" "$T/r2" "$T/s2" > "$T/h2" &
H2=$!; EXTRA_PIDS="$EXTRA_PIDS $H2"
wait_for 100 test -f "$T/r2"
ok $(grep -q '^HTTP/1.1 200' "$T/h2"; echo $?) "one tunnel is open"
st=$(curl -s -o "$T/body" -m 5 -w '%{http_code}' -p -x "http://127.0.0.1:$P" "http://origin.test:$OP/small")
ok $([ "$st" = 503 ] || [ "$st" = 000 ]; echo $?) "a second tunnel from the same address is refused ($st)"
ok $([ "$(audit_get count _msgid=DENY reason=tunnel_limit)" -ge 1 ]; echo $?) "recorded as tunnel_limit"
touch "$T/s2"; wait "$H2"
ok $(wait_for 30 sh -c "[ \$(curl -s -o /dev/null -m 5 -w '%{http_code}' -p -x http://127.0.0.1:$P http://origin.test:$OP/small) = 200 ]"; echo $?) \
    "once it ends, a new tunnel opens"
stop_egressd
ok $([ "$EGD_STATUS" -eq 0 ]; echo $?) "stops with status 0"

# --- max connections per worker: accepting pauses, nothing is refused ---
conf "max connections 2"
sed -i 's/^workers 2$/workers 1/' "$T/egressd.conf"
start_egressd "$T/egressd.conf" || { fail "egressd restarts"; done_testing; exit 1; }
rm -f "$T/r3" "$T/s3"
python3 "$SRCDIR/regress/e2e/hold.py" "$P" 2 "GET /small HTTP/1.1\r\nHost: origin" "$T/r3" "$T/s3" > "$T/h3" &
H3=$!; EXTRA_PIDS="$EXTRA_PIDS $H3"
wait_for 100 test -f "$T/r3"
st=$(curl -s -o /dev/null -m 2 -w '%{http_code}' -x "http://127.0.0.1:$P" "http://origin.test:$OP/small")
ok $([ "$st" = 000 ]; echo $?) "a worker at max connections accepts no more: the third waits ($st)"
curl -s -o "$T/late" -m 10 -w '%{http_code}' -x "http://127.0.0.1:$P" "http://origin.test:$OP/small" > "$T/late.st" &
LATE=$!
sleep 0.5
touch "$T/s3"; wait "$H3"; wait "$LATE"
ok $([ "$(cat "$T/late.st")" = 200 ]; echo $?) "and is served as soon as a connection ends"
stop_egressd
ok $([ "$EGD_STATUS" -eq 0 ]; echo $?) "stops with status 0"
done_testing
