# DNS through the gateway, end to end, against a real DNS server
# (dnsmasq) and a real origin (origin.py):
#   - a registered name is resolved by the helper and the request reaches
#     the origin; repeated requests are served from the helper's cache
#     (dnsmasq's query log shows one A and one AAAA query per TTL window);
#   - NXDOMAIN is answered 503 dns_failed and cached for the negative TTL;
#   - "dns max ttl" bounds how long an answer is kept;
#   - a killed helper is respawned and requests resolve again;
#   - a reload that changes the nameserver sends lookups to the new one
#     and starts with an empty cache;
#   - the helper is never killed by its seccomp filter along the way.
. "$SRCDIR/regress/e2e/common.sh"
NX_STATUS=503
NX_REASON=dns_failed
command -v dnsmasq >/dev/null || { fail "dnsmasq is installed"; done_testing; exit 1; }

P=$(free_port); OP=$(free_port); DP=$(free_port); DP2=$(free_port)
start_origin 127.0.0.1 "$OP"
# --local-ttl: the TTL dnsmasq gives its --address answers (default 0).
start_dns "$DP" --local-ttl=60 --local=/test/ \
    --address=/a.test/127.0.0.1 --address=/short.test/127.0.0.1 \
    --address=/nx.test/
conf() {	# conf NAMESERVER-PORT
	cat > "$T/egressd.conf" <<CONF
user "$EGD_USER"
chroot "$T/root"
workers 2
nameserver 127.0.0.1 port $1
dns min ttl 1
dns max ttl 6
dns negative ttl 4
gateway "gw" {
	listen on 127.0.0.1 port $P http
}
service "a" {
	hosts { "a.test" }
	port $OP http
	allow private
}
service "short" {
	hosts { "short.test" }
	port $OP http
	allow private
}
service "nx" {
	hosts { "nx.test" }
	port $OP http
	allow private
}
CONF
}
conf "$DP"
start_egressd "$T/egressd.conf" -v || { fail "egressd starts"; done_testing; exit 1; }
X="-x http://127.0.0.1:$P"
req() { curl -s -m 10 -o "$T/body" -w '%{http_code}' "$@"; }
# queries NAME TYPE [LOG]: how many queries of TYPE (A, AAAA) for NAME,
# in any letter case (each query has its letters in random case: 0x20)
queries() {
	grep -ci "query\[$2\] $1 from" "${3:-$T/dnsmasq.log}" 2>/dev/null || true
}

ok $(log_has "helper: .*nameserver 127.0.0.1 port $DP"; echo $?) \
    "the helper was given the configured nameserver"

# --- a name, then the cache ---
ok $([ "$(req $X "http://a.test:$OP/small")" = 200 ] && [ "$(cat "$T/body")" = hello ]; echo $?) \
    "a registered name is resolved and reaches the origin"
ok $([ "$(queries a.test A)" = 1 ] && [ "$(queries a.test AAAA)" = 1 ]; echo $?) \
    "the helper asked for A and AAAA, once each"
req $X "http://a.test:$OP/small" >/dev/null
req $X "http://a.test:$OP/small" >/dev/null
ok $([ "$(queries a.test A)" = 1 ] && [ "$(queries a.test AAAA)" = 1 ]; echo $?) \
    "two more requests within the TTL: no new query (cache)"
ok $(log_has "hdns_dispatch_query: worker [01]: a.test: cached"; echo $?) \
    "the helper says it answered from its cache"	# EXPECTS -v lines

# --- the TTL is clamped to "dns max ttl 6" (dnsmasq says 60) ---
sleep 6.5
req $X "http://a.test:$OP/small" >/dev/null
ok $([ "$(queries a.test A)" = 2 ]; echo $?) \
    "after dns max ttl, the name is asked again ($(queries a.test A) A queries)"

# --- NXDOMAIN, cached for "dns negative ttl 4" ---
# The second request goes at once, well within the negative TTL; the
# checks of the first come after it.
s=$(req $X "http://nx.test:$OP/small")
body1=$(cat "$T/body")
req $X "http://nx.test:$OP/small" >/dev/null
ok $([ "$s" = "$NX_STATUS" ]; echo $?) "a name that does not exist: $NX_STATUS ($s: $body1)"
r=$(audit_get last reason authority=nx.test)
ok $([ "$r" = "$NX_REASON" ]; echo $?) "audit: reason $NX_REASON ($r)"
ok $([ "$(origin_count nx.test)" = 0 ]; echo $?) "nothing reached the origin"
ok $([ "$(queries nx.test A)" = 1 ]; echo $?) "the failure is cached: one query for two requests"
sleep 4.5
req $X "http://nx.test:$OP/small" >/dev/null
ok $([ "$(queries nx.test A)" = 2 ]; echo $?) "and asked again after the negative TTL"

# --- the helper dies: respawned, resolves again ---
hp=
for c in $(children_of "$EGD_PID"); do [ "$(role_of "$c")" = helper ] && hp=$c; done
kill -KILL "$hp"
ok $(wait_for 50 log_has "helper killed by signal 9"; echo $?) "helper killed"
n=$(queries short.test A)
s=000
for i in $(seq 50); do	# bounded: until the new helper serves
	s=$(req $X "http://short.test:$OP/small")
	[ "$s" = 200 ] && break
	sleep 0.2
done
ok $([ "$s" = 200 ]; echo $?) "a request after the helper's death resolves ($s)"
ok $([ "$(queries short.test A)" -gt "$n" ]; echo $?) "the new helper asked the server"

# --- reload to another nameserver: its answers, an empty cache ---
dnsmasq --keep-in-foreground --no-resolv --no-hosts --no-poll \
    --listen-address=127.0.0.1 --bind-interfaces --port="$DP2" \
    --user=root --group=root --pid-file="$T/dnsmasq2.pid" \
    --log-queries --log-facility="$T/dnsmasq2.log" --local-ttl=60 \
    --address=/a.test/127.0.0.1 &
EXTRA_PIDS="${EXTRA_PIDS:-} $!"
wait_for 50 test -s "$T/dnsmasq2.pid"
conf "$DP2"
kill -HUP "$EGD_PID"
ok $(wait_for 50 log_has "reload: generation 2 in force"; echo $?) "reload with another nameserver"
ok $(log_has "nameservers changed: cache flushed"; echo $?) "the helper flushed its cache"
ok $([ "$(req $X "http://a.test:$OP/small")" = 200 ]; echo $?) "requests still resolve"
ok $([ "$(queries a.test A "$T/dnsmasq2.log")" = 1 ]; echo $?) "asked of the new server"

# --- no seccomp kill anywhere (new sockets were made on reload) ---
ok $(log_has "SIGSYS"; [ $? -ne 0 ]; echo $?) "no process was killed by its seccomp filter"
stop_egressd
ok $([ "$EGD_STATUS" -eq 0 ]; echo $?) "SIGTERM: exit status 0"
done_testing
