# A registry of 100,000 host names (10,000 services of ten) and 1,000
# patterns (100 services of ten): egressd checks it, starts with it and
# answers from it as from a small one: the first service's host, the last
# one's, one in the middle and a host two labels under a pattern get
# through to the origin; a name no service lists, the same names with a
# trailing label more or less, and an unregistered port are refused with
# 403 and the reason.  Then it is reloaded twice under keep-alive load (a
# host renamed, then renamed back): no request fails, the new names take,
# the old do not.  No timing is asserted; the load's latency is printed.
. "$SRCDIR/regress/e2e/common.sh"
command -v dnsmasq >/dev/null || { fail "dnsmasq is installed"; done_testing; exit 1; }

P=$(free_port); OP=$(free_port); DP=$(free_port)
start_origin 127.0.0.1 "$OP"
start_dns "$DP" --address=/wild.example.org/127.0.0.1
conf() {	# conf [--rename-last NAME]: the configuration, into egressd.conf
	{
		cat <<CONF
user "$EGD_USER"
chroot "$T/root"
workers 2
nameserver 127.0.0.1 port $DP
control socket "$T/egressd.sock"
gateway "gw" {
	listen on 127.0.0.1 port $P http
}
CONF
		python3 "$SRCDIR/regress/e2e/scaleconf.py" 100000 1000 \
		    --origin "$OP" "$@"
	} > "$T/egressd.conf.new" && mv "$T/egressd.conf.new" "$T/egressd.conf"
}
conf
ok $([ "$(grep -c '^service ' "$T/egressd.conf")" -eq 10100 ]; echo $?) \
    "a configuration of 10,100 services"

out=$("$EGRESSD" -n -f "$T/egressd.conf" 2>&1)
ok $([ "$out" = "configuration OK" ]; echo $?) "egressd -n: $out"
"$EGRESSD" -nv -f "$T/egressd.conf" > "$T/dump.conf" 2>&1
n=$(grep -c '^		"\(h[0-9]-[0-9]*\.svc[0-9]*\.example\.com\|\*\.w[0-9]*\.wild\.example\.org\)"$' "$T/dump.conf")
ok $([ "$n" -eq 101000 ]; echo $?) "egressd -nv lists every host, once ($n)"
ok $(sed -n '/^service "s9999" {/,/^}/p' "$T/dump.conf" |
    grep -q '"h9-9999.svc9999.example.com"'; echo $?) \
    "the last service's last host is its own"

# start_egressd's bound is for small files: a generous one here.
: > "$T/egressd.log"
"$EGRESSD" -d -v -f "$T/egressd.conf" 2>>"$T/egressd.log" &
EGD_PID=$!
if ! wait_for 600 log_has "ready:"; then
	fail "egressd starts with 101,000 names"
	sed 's/^/# /' "$T/egressd.log" | tail -20
	done_testing
	exit 1
fi
pass "egressd starts with 101,000 names"
for w in $(workers_of "$EGD_PID"); do
	diag "worker $w: $(status_field "$w" VmRSS)"
done

get() {	# get HOST: the status of GET /small with that Host
	http_status -H "Host: $1" "http://127.0.0.1:$P/small"
}
origin_above() { [ "$(origin_count '"/small"')" -gt "$1" ]; }
before=$(origin_count '"/small"')
st=$(get h0-0.svc0.example.com)
ok $([ "$st" = 200 ]; echo $?) "the first service's first host: $st"
st=$(get h9-9999.svc9999.example.com)
ok $([ "$st" = 200 ]; echo $?) "the last service's last host: $st"
st=$(get h4-5000.svc5000.example.com)
ok $([ "$st" = 200 ]; echo $?) "a host in the middle: $st"
st=$(get "x.y.w999.wild.example.org:$OP")
ok $([ "$st" = 200 ]; echo $?) "two labels under the last pattern: $st"
ok $([ "$(origin_count '"/small"')" -eq $((before + 4)) ]; echo $?) \
    "the origin saw those four"
ok $([ "$(audit_get last service authority=h9-9999.svc9999.example.com)" = s9999 ] &&
    [ "$(audit_get last service authority=x.y.w999.wild.example.org)" = w990 ]; echo $?) \
    "each decided by its own service (s9999, w990)"

st=$(get none.example.net)
ok $([ "$st" = 403 ] && [ "$(audit_get last reason authority=none.example.net)" = no_service ]; echo $?) \
    "a host no service lists: $st, no_service"
st=$(get h0-0.svc0.example.com.evil.net)$(get h0-0.svc0.example.co)
ok $([ "$st" = 403403 ]; echo $?) "a trailing label more, a last label shorter: $st"
st=$(get w999.wild.example.org:$OP)
ok $([ "$st" = 403 ]; echo $?) "the pattern's own suffix is not under it: $st"
st=$(get h0-0.svc0.example.com:81)
ok $([ "$st" = 403 ]; echo $?) "a port the service does not register: $st"
ok $([ "$(origin_count '"/small"')" -eq $((before + 4)) ]; echo $?) \
    "none of those reached the origin"

# Reloads under keep-alive load: four connections asking in turn for the
# first host, the last, a pattern's and an unknown one.
rm -f "$T/stop" "$T/mark"
python3 "$SRCDIR/regress/e2e/keepload.py" "$P" 4 "$T/stop" "$T/mark" 600 100000 \
    h0-0.svc0.example.com=200 h8-9999.svc9999.example.com=200 \
    "a.w5.wild.example.org:$OP=200" none.example.net=403 \
    > "$T/load.out" 2> "$T/load.err" &
LOAD=$!
EXTRA_PIDS="$EXTRA_PIDS $LOAD"
wait_for 100 origin_above $((before + 40))
conf --rename-last renamed.svc9999.example.com
kill -HUP "$EGD_PID"
ok $(wait_for 600 log_has "reload: generation 2 in force"; echo $?) \
    "reload under load: generation 2 in force"
st=$(get renamed.svc9999.example.com)$(get h9-9999.svc9999.example.com)
ok $([ "$st" = 200403 ]; echo $?) "the renamed host is let out, the old name no more: $st"
conf
kill -HUP "$EGD_PID"
ok $(wait_for 600 log_has "reload: generation 3 in force"; echo $?) \
    "a second reload under load: generation 3 in force"
touch "$T/mark"
now=$(origin_count '"/small"')
wait_for 100 origin_above $((now + 40))
touch "$T/stop"
wait "$LOAD"
read total bad after p50 p99 max < "$T/load.out"
sed 's/^/# /' "$T/load.err"
ok $([ "$bad" -eq 0 ] && [ "$total" -gt 0 ] && [ "$after" -gt 0 ]; echo $?) \
    "keep-alive load across both reloads: $total answered as expected, $bad failed, $after after them"
diag "load latency: p50 $p50 ms, p99 $p99 ms, max $max ms (two reloads of 101,000 names; not a measure, see bench/scale-run)"
st=$(get h9-9999.svc9999.example.com)$(get renamed.svc9999.example.com)
ok $([ "$st" = 200403 ]; echo $?) "renamed back: $st"
ok $(wait_for 100 log_has "generation 2 released"; echo $?) "the generations replaced are freed"
for w in $(workers_of "$EGD_PID"); do
	diag "worker $w after the reloads: $(status_field "$w" VmRSS)"
done
stop_egressd
ok $([ "$EGD_STATUS" -eq 0 ]; echo $?) "stops with status 0"
done_testing
