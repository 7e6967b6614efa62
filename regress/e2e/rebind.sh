# The private-address guard against DNS rebinding, and the guard against
# the gateway's own addresses, end to end with real processes in two
# network namespaces this test creates (the only way to have non-loopback
# addresses here; no packet leaves them: they have no route but a veth
# pair between them, and every client runs inside them):
#
#   egd-gw-PID   lo 127.0.0.1, veth 198.51.100.1/24: egressd, dnsmasq,
#                a "loopback" origin on 127.0.0.1:OP and a "self" origin
#                on 198.51.100.1:OP (the gateway's own address), curl
#   egd-pub-PID  veth 198.51.100.7/24: the "public" origin on
#                198.51.100.7:OP
#
# 198.51.100.0/24 is a documentation range, which the guard counts as
# public, so 198.51.100.7 is let out; 198.51.100.1 is in the same range
# and is refused only because it is the gateway host's own address.
#
# What it proves:
#   - rebinding: a name first answers 198.51.100.7 (200 from the public
#     origin), then, after dnsmasq is made to answer 127.0.0.1 and the
#     short TTL has run out, the gateway asks again, gets 127.0.0.1 and
#     refuses with 403 private_address; nothing reaches the loopback origin;
#   - a name answering a public and a private address at once: requests go
#     to the public one only (one worker, so without the guard its round
#     robin would send every second request to 127.0.0.1);
#   - a name whose only address is the gateway's own 198.51.100.1: 403
#     private_address, nothing reaches the listener there;
#   - an AAAA record ::ffff:127.0.0.1 (IPv4-mapped loopback) only: 403;
#   - the same for ::ffff:198.51.100.1 (the gateway's own address, mapped);
#   - an address added to the gateway after start counts as its own once
#     the configuration is reloaded (before that it does not: see the diag
#     line; the snapshot of addresses is taken at start and on reload);
#   - a gateway with over 64 addresses: the last one is refused too;
#     (this and the mapped own address fail as of this writing: the
#     own-address check compares bytes without unmapping ::ffff:a.b.c.d,
#     and conf_local_addrs() keeps only the first 64 addresses)
#   - the helper and the worker were never killed by seccomp.
#
# Why each "nothing arrived" can fail: for every refused destination a
# control service with "allow private" reaches the very same listener
# through the very same gateway (and logs the request there), so the
# listeners are up and reachable; only the guard stands between the
# refused request and the listener.  Were the guard removed, each refused
# request would get 200 and show up in that listener's log.
. "$SRCDIR/regress/e2e/common.sh"
command -v dnsmasq >/dev/null || { fail "dnsmasq is installed"; done_testing; exit 1; }
command -v curl >/dev/null || { fail "curl is installed"; done_testing; exit 1; }
if ! command -v ip >/dev/null || ! ip netns list >/dev/null 2>&1; then
	fail "ip netns is available (iproute2 with network namespace support; this test needs it)"
	done_testing; exit 1
fi

GWNS=egd-gw-$$ PUBNS=egd-pub-$$
VG=egdg$$ VP=egdp$$		# interface names: at most 15 bytes
GWA=198.51.100.1 PUBA=198.51.100.7 GWA2=198.51.100.2
NS_MADE=	# namespaces this test created
NS_PIDS=	# processes it started inside them

# common.sh's cleanup, then everything started in a namespace is killed
# by PID and waited for (bounded) before the namespaces are deleted.
rebind_cleanup() {
	trap - EXIT INT TERM HUP
	eg=
	[ -n "$EGD_PID" ] && eg=$(children_of "$EGD_PID")
	cleanup
	for p in $eg $NS_PIDS; do kill -KILL "$p" 2>/dev/null; done
	for ns in $NS_MADE; do
		# a process of ours left inside (a grandchild, say): by PID too
		for p in $(ip netns pids "$ns" 2>/dev/null); do
			kill -KILL "$p" 2>/dev/null
		done
	done
	n=50
	for p in $eg $NS_PIDS; do
		while [ "$n" -gt 0 ] && kill -0 "$p" 2>/dev/null; do
			sleep 0.1; n=$((n - 1))
		done
	done
	for ns in $NS_MADE; do
		ip netns del "$ns" || echo "# could not delete namespace $ns"
	done
}
trap rebind_cleanup EXIT
trap 'exit 1' INT TERM HUP

# --- the namespaces ------------------------------------------------------
nsup() {
	ip netns add "$GWNS" && NS_MADE="$GWNS" &&
	ip netns add "$PUBNS" && NS_MADE="$NS_MADE $PUBNS" &&
	ip link add "$VG" netns "$GWNS" type veth peer name "$VP" netns "$PUBNS" &&
	ip -n "$GWNS" addr add "$GWA/24" dev "$VG" &&
	ip -n "$PUBNS" addr add "$PUBA/24" dev "$VP" &&
	ip -n "$GWNS" link set lo up && ip -n "$PUBNS" link set lo up &&
	ip -n "$GWNS" link set "$VG" up && ip -n "$PUBNS" link set "$VP" up
}
if ! nsup; then
	fail "create namespaces $GWNS and $PUBNS with a veth pair"
	done_testing; exit 1
fi
pass "namespaces $GWNS ($GWA) and $PUBNS ($PUBA) with a veth pair"
ok $([ -z "$(ip -n "$GWNS" route show default)" ] &&
    [ -z "$(ip -n "$PUBNS" route show default)" ]; echo $?) \
    "neither namespace has a default route (nothing can leave them)"

# in_ns NS PID: PID is the program ip exec'd, inside NS (not ip itself)
in_ns() {
	[ "$(ip netns identify "$2" 2>/dev/null)" = "$1" ] &&
	    [ "$(readlink "/proc/$2/exe")" != "$(readlink -f "$(command -v ip)")" ]
}
PIDS_OK=0

# ns_origin NS ADDR PORT NAME: origin.py in NS, logging to $T/NAME.log
ns_origin() {
	: > "$T/$4.log"
	ip netns exec "$1" python3 "$SRCDIR/regress/e2e/origin.py" "$2" "$3" \
	    "$T/$4.log" 1800 &
	op=$!
	NS_PIDS="$NS_PIDS $op"
	wait_for 50 test -f "$T/$4.log.ready" || return 1
	in_ns "$1" "$op" || { diag "pid $op is not $4's origin in $1"; PIDS_OK=1; }
}
# hits NAME HOST: requests for HOST that origin NAME received
hits() { grep -c "\"host\": \"$2:" "$T/$1.log" 2>/dev/null || true; }

P=$(free_port); OP=$(free_port); DP=$(free_port)
ns_origin "$PUBNS" "$PUBA" "$OP" pub &&
ns_origin "$GWNS" 127.0.0.1 "$OP" lo &&
ns_origin "$GWNS" "$GWA" "$OP" self
ok $? "origins up: $PUBA:$OP (public), 127.0.0.1:$OP and $GWA:$OP (gateway namespace)"

# --- dnsmasq, answering from a hosts file it re-reads on SIGHUP ----------
# --local-ttl=1: answers carry TTL 1, so the gateway asks again soon.
hosts() {	# hosts LINE...: the whole file, replaced atomically
	printf '%s\n' "$@" > "$T/hosts.new" && mv "$T/hosts.new" "$T/hosts"
}
reads() { grep -c "read $T/hosts" "$T/dnsmasq.log" 2>/dev/null || true; }
HOSTS_BASE="$GWA self.test
$GWA selfok.test
127.0.0.1 lo.test
::ffff:127.0.0.1 mapped.test
::ffff:127.0.0.1 mappedok.test
::ffff:$GWA selfmapped.test
$PUBA both.test
127.0.0.1 both.test
$GWA2 self2.test
198.51.100.199 far.test"
hosts "$HOSTS_BASE" "$PUBA rebind.test"
ip netns exec "$GWNS" dnsmasq --keep-in-foreground --no-resolv --no-hosts \
    --no-poll --listen-address=127.0.0.1 --bind-interfaces --port="$DP" \
    --user=root --group=root --pid-file="$T/dnsmasq.pid" --log-queries \
    --log-facility="$T/dnsmasq.log" --local=/test/ --local-ttl=1 \
    --addn-hosts="$T/hosts" &
DNS_PID=$!
NS_PIDS="$NS_PIDS $DNS_PID"
wait_for 50 test -s "$T/dnsmasq.pid"
ok $([ "$(cat "$T/dnsmasq.pid" 2>/dev/null)" = "$DNS_PID" ] && in_ns "$GWNS" "$DNS_PID"; echo $?) \
    "dnsmasq runs in $GWNS, and \$! of ip netns exec is its pid"
# set_rebind ADDR...: rebind.test's answers; SIGHUP, until dnsmasq re-read
set_rebind() {
	n=$(reads)
	l=; for a in "$@"; do l="$l
$a rebind.test"; done
	hosts "$HOSTS_BASE$l"
	kill -HUP "$DNS_PID"
	wait_for 50 sh -c "[ \$(grep -c 'read $T/hosts' '$T/dnsmasq.log') -gt $n ]"
}

# --- egressd in the gateway namespace -------------------------------------
conf() {
	cat > "$T/egressd.conf" <<CONF
user "$EGD_USER"
chroot "$T/root"
workers 1
nameserver 127.0.0.1 port $DP
dns min ttl 0
dns max ttl 1
dns negative ttl 1
connect timeout 3
control socket "$T/egressd.sock"
gateway "gw" {
	listen on 127.0.0.1 port $P http
}
service "rebind" {
	hosts { "rebind.test", "both.test" }
	port $OP http
}
service "self" {
	hosts { "self.test", "selfmapped.test", "self2.test", "far.test" }
	port $OP http
}
service "mapped" {
	hosts { "mapped.test" }
	port $OP http
}
# controls: the same listeners, reached with the guard lifted
service "controls" {
	hosts { "lo.test", "selfok.test", "mappedok.test" }
	port $OP http
	allow private
}
CONF
}
conf
: > "$T/egressd.log"
ip netns exec "$GWNS" "$EGRESSD" -d -f "$T/egressd.conf" 2>>"$T/egressd.log" &
EGD_PID=$!
NS_PIDS="$NS_PIDS $EGD_PID"
if ! wait_for 100 log_has "ready:"; then
	diag "egressd did not become ready; its log:"
	sed 's/^/# /' "$T/egressd.log"
	fail "egressd starts in $GWNS"; done_testing; exit 1
fi
pass "egressd starts in $GWNS"
in_ns "$GWNS" "$EGD_PID" || PIDS_OK=1
ok $PIDS_OK "every pid started with ip netns exec is the program itself, in its namespace"
kids0=$(children_of "$EGD_PID" | sort | tr '\n' ' ')
ok $([ "$(echo $kids0 | wc -w)" -eq 2 ]; echo $?) "one worker and the helper ($kids0)"

req() {	# req URL: the status of a request through the gateway
	ip netns exec "$GWNS" curl -s -m 5 -o "$T/body" -w '%{http_code}' \
	    -x "http://127.0.0.1:$P" "$@"
}
reason() { audit_get last reason "authority=$1"; }
dnslog() { grep -ci "$1" "$T/dnsmasq.log" 2>/dev/null || true; }

# --- the controls: every listener is reachable through the gateway --------
ok $([ "$(req "http://lo.test:$OP/small")" = 200 ] && [ "$(hits lo lo.test)" = 1 ]; echo $?) \
    "control (allow private): lo.test -> 127.0.0.1 reaches the loopback origin"
ok $([ "$(req "http://selfok.test:$OP/small")" = 200 ] && [ "$(hits self selfok.test)" = 1 ]; echo $?) \
    "control (allow private): selfok.test -> $GWA reaches the listener on the gateway's address"
ok $([ "$(req "http://mappedok.test:$OP/small")" = 200 ] && [ "$(hits lo mappedok.test)" = 1 ]; echo $?) \
    "control (allow private): mappedok.test -> ::ffff:127.0.0.1 reaches the loopback origin"

# --- rebinding: public first, then loopback -------------------------------
s=$(req "http://rebind.test:$OP/small")
ok $([ "$s" = 200 ] && [ "$(cat "$T/body")" = hello ] && [ "$(hits pub rebind.test)" = 1 ]; echo $?) \
    "rebind.test -> $PUBA (public): 200 from the public origin ($s)"
ok $([ "$(audit_get last decision authority=rebind.test)" = allow ]; echo $?) "audit: allow"
ok $(set_rebind 127.0.0.1; echo $?) "dnsmasq re-read its hosts file on SIGHUP: rebind.test -> 127.0.0.1"
q0=$(dnslog "rebind.test is 127.0.0.1")
# poll, bounded: requests within the TTL may still go to the old answer
s=200 end=$(($(date +%s) + 8))
while [ "$s" = 200 ] && [ "$(date +%s)" -lt "$end" ]; do
	s=$(req -m 2 "http://rebind.test:$OP/small"); [ "$s" = 200 ] && sleep 0.1
done
ok $([ "$(dnslog "rebind.test is 127.0.0.1")" -gt "$q0" ]; echo $?) \
    "the gateway asked again once the TTL ran out and was answered 127.0.0.1"
ok $([ "$s" = 403 ]; echo $?) "rebound to 127.0.0.1: 403 ($s: $(cat "$T/body"))"
ok $([ "$(reason rebind.test)" = private_address ]; echo $?) "audit: reason private_address ($(reason rebind.test))"
ok $([ "$(hits lo rebind.test)" = 0 ]; echo $?) "nothing reached the loopback origin"
for i in 1 2 3; do s=$(req "http://rebind.test:$OP/small"); [ "$s" = 403 ] || break; done
ok $([ "$s" = 403 ] && [ "$(hits lo rebind.test)" = 0 ]; echo $?) \
    "three more requests: 403 each, still nothing at the loopback origin"

# --- rebinding back to public: allowed again (the refusal was the answer's) -
set_rebind "$PUBA"
p0=$(hits pub rebind.test)
s=403 end=$(($(date +%s) + 8))
while [ "$s" != 200 ] && [ "$(date +%s)" -lt "$end" ]; do
	s=$(req -m 2 "http://rebind.test:$OP/small"); [ "$s" = 200 ] || sleep 0.1
done
ok $([ "$s" = 200 ] && [ "$(hits pub rebind.test)" -gt "$p0" ]; echo $?) \
    "rebound back to $PUBA: 200 from the public origin again ($s)"

# --- one public and one private address -----------------------------------
# One worker: without the guard its round robin over both addresses would
# send requests 2, 4, 6 (or 1, 3, 5) to 127.0.0.1.
good=0
for i in 1 2 3 4 5 6; do [ "$(req "http://both.test:$OP/small")" = 200 ] && good=$((good + 1)); done
ok $([ "$good" = 6 ] && [ "$(hits pub both.test)" = 6 ]; echo $?) \
    "both.test -> $PUBA and 127.0.0.1: six requests, 200 each, all at the public origin ($good, $(hits pub both.test))"
ok $([ "$(hits lo both.test)" = 0 ]; echo $?) "none at the loopback origin"
ok $([ "$(dnslog "both.test is 127.0.0.1")" -ge 1 ] && [ "$(dnslog "both.test is $PUBA")" -ge 1 ]; echo $?) \
    "(dnsmasq did answer both addresses)"

# --- the gateway's own address --------------------------------------------
s=$(req "http://self.test:$OP/small")
ok $([ "$s" = 403 ]; echo $?) "self.test -> $GWA (the gateway's own, a documentation address): 403 ($s)"
ok $([ "$(reason self.test)" = private_address ]; echo $?) "audit: reason private_address ($(reason self.test))"
ok $([ "$(hits self self.test)" = 0 ]; echo $?) "nothing reached the listener on $GWA"

# --- IPv4-mapped IPv6 -----------------------------------------------------
s=$(req "http://mapped.test:$OP/small")
ok $([ "$s" = 403 ] && [ "$(reason mapped.test)" = private_address ]; echo $?) \
    "mapped.test -> AAAA ::ffff:127.0.0.1 only: 403 private_address ($s, $(reason mapped.test))"
ok $([ "$(hits lo mapped.test)" = 0 ]; echo $?) "nothing reached the loopback origin"
s=$(req "http://selfmapped.test:$OP/small")
ok $([ "$s" = 403 ] && [ "$(reason selfmapped.test)" = private_address ]; echo $?) \
    "selfmapped.test -> AAAA ::ffff:$GWA only (own address, mapped): 403 private_address ($s, $(reason selfmapped.test))"
ok $([ "$(hits self selfmapped.test)" = 0 ]; echo $?) "nothing reached the listener on $GWA"

# --- an address the gateway gains while running ---------------------------
ip -n "$GWNS" addr add "$GWA2/24" dev "$VG"
ns_origin "$GWNS" "$GWA2" "$OP" self2
s=$(req "http://self2.test:$OP/small")
diag "self2.test -> $GWA2, added after start, before a reload: $s ($(hits self2 self2.test) at the listener)"
kill -HUP "$EGD_PID"
ok $(wait_for 50 log_has "reload: generation 2 in force"; echo $?) "reload"
h0=$(hits self2 self2.test)
s=$(req "http://self2.test:$OP/small")
ok $([ "$s" = 403 ] && [ "$(reason self2.test)" = private_address ] &&
    [ "$(hits self2 self2.test)" = "$h0" ]; echo $?) \
    "after the reload, $GWA2 (added while running) is the gateway's own: 403, nothing arrived ($s)"

# --- a gateway with many addresses: every one of them is its own ----------
# 70 more (198.51.100.130 to .199): with lo's and the others, over 70
# IPv4 addresses; the last one must be refused like the first.
i=130
while [ "$i" -le 199 ]; do
	ip -n "$GWNS" addr add "198.51.100.$i/24" dev "$VG" || break
	i=$((i + 1))
done
ns_origin "$GWNS" 198.51.100.199 "$OP" far
kill -HUP "$EGD_PID"
ok $(wait_for 50 log_has "reload: generation 3 in force"; echo $?) \
    "reload with $(ip -n "$GWNS" -o addr show | wc -l) addresses in the gateway namespace"
s=$(req "http://far.test:$OP/small")
ok $([ "$s" = 403 ] && [ "$(reason far.test)" = private_address ]; echo $?) \
    "far.test -> 198.51.100.199 (the last of them): 403 private_address ($s, $(reason far.test))"
ok $([ "$(hits far far.test)" = 0 ]; echo $?) "nothing reached the listener on 198.51.100.199"

# --- the sandbox held -----------------------------------------------------
ok $(log_has "killed by seccomp"; [ $? -ne 0 ]; echo $?) "no process was killed by its seccomp filter"
kids1=$(children_of "$EGD_PID" | sort | tr '\n' ' ')
ok $([ "$kids1" = "$kids0" ]; echo $?) "the worker and the helper are the ones started ($kids1)"
ok $(log_has "killed by\|exited with status"; [ $? -ne 0 ]; echo $?) "no child died at all"
ok $(audit_get dump > "$T/audit.json"; echo $?) "every audit record parses"

stop_egressd
ok $([ "$EGD_STATUS" -eq 0 ]; echo $?) "SIGTERM: exit status 0"
done_testing
