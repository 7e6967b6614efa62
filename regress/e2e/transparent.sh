# Transparent mode, end to end, as an operator deploys it: three network
# namespaces this test creates and deletes (also on failure), nothing
# else touched, no packet leaves them.
#
#   egd-tc-PID  the client: 10.77.0.2, fd77::2, its routes via the
#               gateway; no proxy setting, no name server (curl is told
#               the addresses its own resolution would have given);
#               later the shipped egressd-node.nft, and a second link
#               straight to the internet namespace (the way around)
#   egd-tg-PID  the egress host: inside 10.77.0.1, fd77::1; outside
#               198.51.100.1, 2001:db8:100::1; forwarding on; egressd
#               with http and tls transparent listeners; the shipped
#               egressd-gateway.nft, loaded with only its defines set
#   egd-ti-PID  the "internet": dnsmasq on 203.0.113.53, an HTTP origin
#               on 198.51.100.10 and 2001:db8:100::10, an HTTPS origin
#               on 198.51.100.20 (certificate from a test CA made here),
#               canaries on 203.0.113.66, 203.0.113.67 and
#               2001:db8:100::66 logging whatever reaches them
#
# Every "never arrives" has a control: before the rulesets are loaded
# the same packet does arrive (the canary logs it), so only the ruleset
# stands between the client and the canary.
. "$SRCDIR/regress/e2e/common.sh"
for c in dnsmasq curl openssl nft ip python3; do
	command -v "$c" >/dev/null || { fail "$c is installed"; done_testing; exit 1; }
done
if ! ip netns list >/dev/null 2>&1; then
	fail "ip netns is available"; done_testing; exit 1
fi
GWRULES=$SRCDIR/etc/nftables/egressd-gateway.nft
NODERULES=$SRCDIR/etc/nftables/egressd-node.nft

CNS=egd-tc-$$ GNS=egd-tg-$$ INS=egd-ti-$$
VC=tc$$ VGI=tgi$$ VGO=tgo$$ VI=ti$$ VCB=tcb$$ VIB=tib$$
CA4=10.77.0.2 CA6=fd77::2 GI4=10.77.0.1 GI6=fd77::1
GO4=198.51.100.1 GO6=2001:db8:100::1 IR4=198.51.100.2 IR6=2001:db8:100::2
WEB4=198.51.100.10 WEB6=2001:db8:100::10 SEC4=198.51.100.20
DNS4=203.0.113.53 CAN4=203.0.113.66 CAN6=2001:db8:100::66 BYP4=203.0.113.67
CB4=10.78.0.2
HTP=15080 TLP=15443
NS_MADE= NS_PIDS=

tp_cleanup() {
	trap - EXIT INT TERM HUP
	eg=
	[ -n "$EGD_PID" ] && eg=$(children_of "$EGD_PID")
	cleanup
	for p in $eg $NS_PIDS; do kill -KILL "$p" 2>/dev/null; done
	for ns in $NS_MADE; do
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
trap tp_cleanup EXIT
trap 'exit 1' INT TERM HUP

# --- the namespaces ------------------------------------------------------
nsup() {
	ip netns add "$CNS" && NS_MADE="$CNS" &&
	ip netns add "$GNS" && NS_MADE="$NS_MADE $GNS" &&
	ip netns add "$INS" && NS_MADE="$NS_MADE $INS" &&
	ip link add "$VC" netns "$CNS" type veth peer name "$VGI" netns "$GNS" &&
	ip link add "$VGO" netns "$GNS" type veth peer name "$VI" netns "$INS" &&
	ip link add "$VCB" netns "$CNS" type veth peer name "$VIB" netns "$INS" &&
	for ns in "$CNS" "$GNS" "$INS"; do ip -n "$ns" link set lo up || return 1; done &&
	ip -n "$CNS" addr add "$CA4/24" dev "$VC" &&
	ip -n "$CNS" addr add "$CA6/64" dev "$VC" nodad &&
	ip -n "$CNS" addr add "$CB4/32" dev "$VCB" &&
	ip -n "$GNS" addr add "$GI4/24" dev "$VGI" &&
	ip -n "$GNS" addr add "$GI6/64" dev "$VGI" nodad &&
	ip -n "$GNS" addr add "$GO4/24" dev "$VGO" &&
	ip -n "$GNS" addr add "$GO6/64" dev "$VGO" nodad &&
	for a in "$IR4/24" "$WEB4/24" "$SEC4/24" "$DNS4/24" "$CAN4/24" "$BYP4/24"; do
		ip -n "$INS" addr add "$a" dev "$VI" || return 1
	done &&
	for a in "$IR6/64" "$WEB6/64" "$CAN6/64"; do
		ip -n "$INS" addr add "$a" dev "$VI" nodad || return 1
	done &&
	ip -n "$CNS" link set "$VC" up && ip -n "$CNS" link set "$VCB" up &&
	ip -n "$GNS" link set "$VGI" up && ip -n "$GNS" link set "$VGO" up &&
	ip -n "$INS" link set "$VI" up && ip -n "$INS" link set "$VIB" up &&
	ip -n "$CNS" route add default via "$GI4" &&
	ip -n "$CNS" -6 route add default via "$GI6" &&
	ip -n "$GNS" route add default via "$IR4" &&
	ip -n "$GNS" -6 route add default via "$IR6" &&
	ip -n "$INS" route add 10.77.0.0/24 via "$GO4" &&
	ip -n "$INS" -6 route add fd77::/64 via "$GO6" &&
	ip -n "$INS" route add "$CB4/32" dev "$VIB" &&
	ip netns exec "$GNS" sysctl -qw net.ipv4.ip_forward=1 &&
	ip netns exec "$GNS" sysctl -qw net.ipv6.conf.all.forwarding=1
}
if ! nsup; then
	fail "namespaces $CNS, $GNS and $INS with their links"
	done_testing; exit 1
fi
pass "namespaces $CNS (client), $GNS (egress host) and $INS (internet)"
ok $([ -z "$(ip -n "$INS" route show default)" ] &&
    [ -z "$(ip -n "$INS" -6 route show default)" ]; echo $?) \
    "the internet namespace has no default route (nothing leaves the three)"

# --- certificates, peers ---------------------------------------------------
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=egressd test CA" \
    -keyout "$T/ca.key" -out "$T/ca.pem" >/dev/null 2>&1
openssl req -newkey rsa:2048 -nodes -subj "/CN=secure origin" \
    -keyout "$T/origin.key" -out "$T/origin.csr" >/dev/null 2>&1
printf 'subjectAltName=DNS:secure.allowed.test,DNS:secure.denied.test,IP:%s\n' \
    "$SEC4" > "$T/san.ext"
openssl x509 -req -in "$T/origin.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" \
    -CAcreateserial -days 2 -extfile "$T/san.ext" -out "$T/origin.pem" \
    >/dev/null 2>&1
ok $([ -s "$T/origin.pem" ]; echo $?) "test CA and the HTTPS origin's certificate made"

cat > "$T/tlsorigin.py" <<'PY'
import http.server, ssl, sys, threading
addr, port, cert, key, log = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        with open(log, "a") as f:
            f.write("GET %s %s\n" % (self.headers.get("Host"), self.path))
        body = b"secure origin says hello\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
srv = http.server.ThreadingHTTPServer((addr, port), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
open(log + ".ready", "w").close()
threading.Timer(1800, srv.shutdown).start()
srv.serve_forever()
PY
# probe.py KIND ADDR PORT [ARG]: one bounded attempt from the client.
#   tcp: connect (3 s): "connected", "timeout" or "error"
#   udp: a datagram, then wait 3 s for an answer or an ICMP error:
#        "answer", "timeout" or "error"
#   dns NAME: an A query: "answer", "timeout" or "error"
#   http RAW: RAW (with \r\n escapes) sent, the status line printed
#   nosni: TLS without a server name, the peer verified against ARG
#        (the CA), then GET /nameless: the status line, or "refused"
cat > "$T/probe.py" <<'PY'
import socket, ssl, struct, sys
kind, addr, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
def out(s):
    print(s); sys.exit(0)
try:
    if kind == "tcp":
        s = socket.create_connection((addr, port), 3); out("connected")
    if kind in ("udp", "dns"):
        s = socket.socket(fam, socket.SOCK_DGRAM); s.settimeout(3)
        s.connect((addr, port))
        if kind == "dns":
            q = struct.pack(">HHHHHH", 0x4567, 0x0100, 1, 0, 0, 0)
            for l in sys.argv[4].split("."):
                q += bytes([len(l)]) + l.encode()
            q += b"\0" + struct.pack(">HH", 1, 1)
            s.send(q)
        else:
            s.send(b"\xc0quic-probe")
        s.recv(512); out("answer")
    if kind == "http":
        s = socket.create_connection((addr, port), 5); s.settimeout(5)
        s.sendall(sys.argv[4].encode().decode("unicode_escape").encode("latin-1"))
        r = b""
        while b"\r\n" not in r:
            b = s.recv(1024)
            if not b:
                out("closed")
            r += b
        out(r.split(b"\r\n")[0].decode())
    if kind == "nosni":
        ctx = ssl.create_default_context(cafile=sys.argv[4])
        ctx.check_hostname = False
        s = socket.create_connection((addr, port), 5); s.settimeout(5)
        try:
            t = ctx.wrap_socket(s)	# no server_hostname: no SNI
            t.sendall(b"GET /nameless HTTP/1.1\r\nHost: nameless\r\nConnection: close\r\n\r\n")
            out(t.recv(200).split(b"\r\n")[0].decode())
        except (ssl.SSLError, ConnectionError):
            out("refused")
except socket.timeout:
    out("timeout")
except OSError as e:
    out("error")
PY

: > "$T/tls.log" ; : > "$T/web.log"; : > "$T/web6.log"
# in the internet namespace, each by PID
inet() { ip netns exec "$INS" "$@" & NS_PIDS="$NS_PIDS $!"; }
inet python3 "$SRCDIR/regress/e2e/origin.py" "$WEB4" 80 "$T/web.log" 1800
inet python3 "$SRCDIR/regress/e2e/origin.py" "$WEB6" 80 "$T/web6.log" 1800
inet python3 "$T/tlsorigin.py" "$SEC4" 443 "$T/origin.pem" "$T/origin.key" "$T/tls.log"
inet python3 "$SRCDIR/regress/e2e/canary.py" "$T/canary.log" 1800 \
    "tcp:$CAN4:80" "tcp:$CAN4:443" "tcp:$CAN4:8080" "tcp:$CAN4:22" \
    "udp:$CAN4:443" "udp:$CAN4:53" "tcp:$BYP4:8080" \
    "tcp:[$CAN6]:80" "tcp:[$CAN6]:8080" "udp:[$CAN6]:443"
inet dnsmasq --keep-in-foreground --no-resolv --no-hosts --no-poll \
    --listen-address="$DNS4" --bind-interfaces --port=53 \
    --user=root --group=root --pid-file="$T/dnsmasq.pid" \
    --log-queries --log-facility="$T/dnsmasq.log" --local=/test/ \
    --host-record="www.allowed.test,$WEB4" --host-record="v6.allowed.test,$WEB6" \
    --host-record="late.allowed.test,$WEB4" \
    --host-record="secure.allowed.test,$SEC4" \
    --host-record="www.denied.test,$WEB4" --host-record="secure.denied.test,$SEC4"
ok $(wait_for 50 test -f "$T/web.log.ready" && wait_for 50 test -f "$T/web6.log.ready" &&
    wait_for 50 test -f "$T/tls.log.ready" && wait_for 50 test -f "$T/canary.log.ready" &&
    wait_for 50 test -s "$T/dnsmasq.pid"; echo $?) \
    "in $INS: dnsmasq on $DNS4, origins on $WEB4, [$WEB6], $SEC4:443, canaries"

# --- egressd on the egress host ---------------------------------------------
conf() {
	cat > "$T/egressd.conf" <<CONF
user "$EGD_USER"
chroot "$T/root"
workers 2
nameserver $DNS4 port 53
request timeout 5
connect timeout 5
control socket "$T/egressd.sock"
gateway "inside" {
	listen on $GI4 port $HTP http transparent
	listen on "$GI6" port $HTP http transparent
	listen on $GI4 port $TLP tls transparent
	listen on "$GI6" port $TLP tls transparent
}
service "web" {
	hosts { "www.allowed.test", "v6.allowed.test" }
	port 80 http
}
service "secure" {
	hosts { "secure.allowed.test" }
	port 443 tls
}
# a hello without a server name, to this address only
service "nameless" {
	hosts { "$SEC4" }
	port 443 tls
}
CONF
	cat "$@" >> "$T/egressd.conf"
}
mkdir -p "$T/root"
conf /dev/null
: > "$T/egressd.log"
ip netns exec "$GNS" "$EGRESSD" -d -f "$T/egressd.conf" 2>>"$T/egressd.log" &
EGD_PID=$!
NS_PIDS="$NS_PIDS $EGD_PID"
if ! wait_for 100 log_has "ready:"; then
	diag "egressd did not become ready; its log:"
	sed 's/^/# /' "$T/egressd.log"
	fail "egressd starts in $GNS"; done_testing; exit 1
fi
pass "egressd starts in $GNS with four transparent listeners"
kids0=$(children_of "$EGD_PID" | sort | tr '\n' ' ')

# The client: no proxy in its environment, none given to curl.
cl() {
	ip netns exec "$CNS" env -u http_proxy -u https_proxy -u HTTP_PROXY \
	    -u HTTPS_PROXY -u ALL_PROXY -u all_proxy "$@"
}
ccurl() {	# ccurl ARGS: the status; the body in $T/body
	cl curl -s -m 8 --noproxy '*' -o "$T/body" -w '%{http_code}' "$@"
}
probe() { cl python3 "$T/probe.py" "$@"; }
canary() { grep -c -- "$1" "$T/canary.log" 2>/dev/null || true; }
ctr() {	# ctr NS TABLE COUNTER: its packets
	ip netns exec "$1" nft list counter inet "$2" "$3" 2>/dev/null |
	    awk '$1 == "packets" { print $2 }'
}
gwctr() { ctr "$GNS" egressd_gateway "$1"; }
al() { audit_get last "$@"; }
webhits() { grep -cF "\"target\": \"$1\"" "$T/web.log" 2>/dev/null || true; }

# --- controls, before any ruleset: the paths exist ----------------------
ok $([ "$(probe tcp "$CAN4" 8080)" = connected ] &&
    [ "$(canary "tcp $CAN4 8080 from $CA4")" = 1 ]; echo $?) \
    "control: without the ruleset the client reaches $CAN4:8080 through the gateway (the canary logs it)"
ok $([ "$(probe udp "$CAN4" 443)" = timeout ] &&
    [ "$(canary "udp $CAN4 443 from $CA4")" = 1 ]; echo $?) \
    "control: UDP 443 reaches the canary"
ok $([ "$(probe dns "$DNS4" 53 control.probe.test)" = answer ] &&
    grep -q "query\[A\] control.probe.test from $CA4" "$T/dnsmasq.log"; echo $?) \
    "control: the client's own DNS query reaches dnsmasq and is answered"
ok $([ "$(probe tcp "$CAN6" 8080)" = connected ] &&
    [ "$(canary "tcp $CAN6 8080 from $CA6")" = 1 ]; echo $?) \
    "control: over IPv6 too ([$CAN6]:8080)"

# egressd's own refusal of connections that were not redirected: first
# with no connection tracking in the namespace at all, then with it (a
# nat chain of the test's own, no rule: the kernel then answers the
# original destination, the listener's own address).
s=$(probe http "$GI4" "$HTP" 'GET /small?direct HTTP/1.1\r\nHost: www.allowed.test\r\n\r\n')
ok $([ "$s" = "HTTP/1.1 421 Misdirected Request" ] && [ "$(webhits /small?direct)" = 0 ]; echo $?) \
    "a client connecting to the transparent listener itself: 421 ($s), nothing sent on"
nr() { audit_get count _msgid=DENY reason=not_redirected "client=$CA4"; }
ok $([ "$(nr)" = 1 ]; echo $?) "audit: DENY not_redirected"
ip netns exec "$GNS" nft -f - <<'NFT'
table inet egd_test_ct {
	chain pre { type nat hook prerouting priority dstnat; policy accept; }
}
NFT
s=$(probe http "$GI4" "$HTP" 'GET /small?direct2 HTTP/1.1\r\nHost: www.allowed.test\r\n\r\n')
ok $([ "$s" = "HTTP/1.1 421 Misdirected Request" ] && [ "$(webhits /small?direct2)" = 0 ] &&
    [ "$(nr)" = 2 ]; echo $?) \
    "the same with connection tracking on: 421, not_redirected ($s)"
ip netns exec "$GNS" nft delete table inet egd_test_ct

# --- the shipped gateway ruleset, only its defines set ----------------------
sed -e "s|^define inside_if = .*|define inside_if = \"$VGI\"|" \
    -e "s|^define outside_if = .*|define outside_if = \"$VGO\"|" \
    -e "s|^define http_port = .*|define http_port = $HTP|" \
    -e "s|^define tls_port = .*|define tls_port = $TLP|" \
    -e "s|^define egressd_user = .*|define egressd_user = \"$EGD_USER\"|" \
    -e "s|^define resolvers4 = .*|define resolvers4 = { $DNS4 }|" \
    -e "s|^define resolvers6 = .*|define resolvers6 = { $IR6 }|" \
    "$GWRULES" > "$T/gateway.nft"
other=$(diff "$GWRULES" "$T/gateway.nft" | grep '^[<>]' | grep -vc '^[<>] define ')
ok $([ "$other" = 0 ]; echo $?) "gateway ruleset: only define lines differ from the shipped file"
ok $(ip netns exec "$GNS" nft -f "$T/gateway.nft"; echo $?) "egressd-gateway.nft loads in $GNS"
ok $(ip netns exec "$GNS" nft -f "$T/gateway.nft"; echo $?) "and loads again (it replaces its own table)"

# --- HTTP, no proxy setting ------------------------------------------------
s=$(ccurl --resolve "www.allowed.test:80:$WEB4" http://www.allowed.test/small?t1)
ok $([ "$s" = 200 ] && [ "$(cat "$T/body")" = hello ]; echo $?) \
    "http://www.allowed.test/small?t1 from the client, no proxy: $s"
ok $([ "$(webhits /small?t1)" = 1 ]; echo $?) "the origin got it"
ok $(grep '"target": "/small?t1"' "$T/web.log" | grep -q "\"peer\": \"$GO4\""; echo $?) \
    "from the egress host's outside address $GO4: egressd's own connection left the gateway"
ok $([ "$(al _msgid authority=www.allowed.test path=/small?t1)" = REQUEST ] &&
    [ "$(al original_dst path=/small?t1)" = "$WEB4" ] &&
    [ "$(al original_dst_port path=/small?t1)" = 80 ] &&
    [ "$(al original_dst_resolved path=/small?t1)" = yes ] &&
    [ "$(al client path=/small?t1)" = "$CA4" ] && [ "$(al port path=/small?t1)" = 80 ]; echo $?) \
    "audit: REQUEST, original_dst $WEB4 port 80, among the resolved addresses, client $CA4"

s=$(ccurl --resolve "www.denied.test:80:$WEB4" http://www.denied.test/small?t2)
ok $([ "$s" = 403 ] && [ "$(webhits /small?t2)" = 0 ]; echo $?) \
    "http://www.denied.test/ (unregistered): 403, nothing at the origin ($s)"
ok $([ "$(al reason path=/small?t2)" = no_service ] && [ "$(al original_dst path=/small?t2)" = "$WEB4" ] &&
    [ "$(al original_dst_port path=/small?t2)" = 80 ]; echo $?) \
    "audit: DENY no_service, original_dst $WEB4 port 80"

# The name of a registered host, sent to another address (the canary):
# the registered name's address answers, the canary sees nothing.
c0=$(canary "$CAN4 80 ")
s=$(ccurl --resolve "www.allowed.test:80:$CAN4" http://www.allowed.test/small?t3)
ok $([ "$s" = 200 ] && [ "$(webhits /small?t3)" = 1 ] && [ "$(canary "$CAN4 80 ")" = "$c0" ]; echo $?) \
    "Host www.allowed.test sent to $CAN4: 200 from $WEB4, nothing at the canary ($s)"
ok $([ "$(al original_dst path=/small?t3)" = "$CAN4" ] && [ "$(al original_dst_resolved path=/small?t3)" = no ] &&
    [ "$(al upstream path=/small?t3)" = "$WEB4" ]; echo $?) \
    "audit: original_dst $CAN4, not among the resolved addresses, upstream $WEB4"

# Requests a transparent listener refuses.
h() { probe http "$WEB4" 80 "$1"; }
s=$(h 'GET /small?t4 HTTP/1.0\r\n\r\n')
ok $([ "$s" = "HTTP/1.0 400 Bad Request" ] && [ "$(webhits /small?t4)" = 0 ]; echo $?) \
    "a request without Host: 400 ($s)"
s=$(h 'GET /small?t5 HTTP/1.1\r\nHost: www.allowed.test:8080\r\n\r\n')
ok $([ "$s" = "HTTP/1.1 400 Bad Request" ] && [ "$(webhits /small?t5)" = 0 ] &&
    [ "$(audit_get count _msgid=DENY reason=host_mismatch)" = 1 ]; echo $?) \
    "Host naming port 8080 on a connection to port 80: 400 host_mismatch ($s)"
ok $([ "$(h 'GET http://www.allowed.test/t6 HTTP/1.1\r\nHost: www.allowed.test\r\n\r\n')" = "HTTP/1.1 400 Bad Request" ] &&
    [ "$(webhits http://www.allowed.test/t6)" = 0 ]; echo $?) "absolute-form: 400"
ok $([ "$(h 'CONNECT www.allowed.test:80 HTTP/1.1\r\nHost: www.allowed.test:80\r\n\r\n')" = "HTTP/1.1 400 Bad Request" ]; echo $?) \
    "CONNECT: 400"
ok $([ "$(h 'GET /small?t7 HTTP/1.1\r\nHost: WWW.Allowed.Test.\r\n\r\n')" = "HTTP/1.1 200 X" ] &&
    [ "$(al authority path=/small?t7)" = www.allowed.test ]; echo $?) \
    "Host in capitals with a trailing dot: the registered name, 200"

# Each request of a kept connection is decided by its own Host: a second
# one for an unregistered name, behind an allowed one, is refused.
s=$(h 'GET /small?k1 HTTP/1.1\r\nHost: www.allowed.test\r\n\r\nGET /small?k2 HTTP/1.1\r\nHost: www.denied.test\r\n\r\n')
wait_for 30 sh -c "[ \"\$(python3 '$SRCDIR/regress/e2e/audit.py' '$T/egressd.log' count path=/small?k2)\" -ge 1 ]"
ok $([ "$s" = "HTTP/1.1 200 X" ] && [ "$(webhits /small?k1)" = 1 ] && [ "$(webhits /small?k2)" = 0 ] &&
    [ "$(al reason path=/small?k2)" = no_service ] && [ "$(al original_dst path=/small?k2)" = "$WEB4" ]; echo $?) \
    "keep-alive: www.allowed.test then www.denied.test on one connection: 200, then 403 no_service"

# --- IPv6 ------------------------------------------------------------------
s=$(ccurl -6 --resolve "v6.allowed.test:80:[$WEB6]" http://v6.allowed.test/small?v1)
ok $([ "$s" = 200 ] && [ "$(grep -c '"target": "/small?v1"' "$T/web6.log")" = 1 ]; echo $?) \
    "IPv6: http://v6.allowed.test/small?v1: 200 from [$WEB6] ($s)"
ok $([ "$(al original_dst path=/small?v1)" = "$WEB6" ] && [ "$(al original_dst_port path=/small?v1)" = 80 ] &&
    [ "$(al client path=/small?v1)" = "$CA6" ] && [ "$(al original_dst_resolved path=/small?v1)" = yes ]; echo $?) \
    "audit: original_dst $WEB6 port 80, client $CA6"
s=$(ccurl -6 --resolve "www.denied.test:80:[$WEB6]" http://www.denied.test/small?v2)
ok $([ "$s" = 403 ] && [ "$(grep -c '"target": "/small?v2"' "$T/web6.log")" = 0 ] &&
    [ "$(al reason path=/small?v2)" = no_service ] && [ "$(al original_dst path=/small?v2)" = "$WEB6" ]; echo $?) \
    "IPv6: www.denied.test: 403 no_service, original_dst $WEB6, nothing at the origin ($s)"
c0=$(canary "$CAN6 80 ")
s=$(ccurl -6 --resolve "v6.allowed.test:80:[$CAN6]" http://v6.allowed.test/small?v3)
ok $([ "$s" = 200 ] && [ "$(grep -c '"target": "/small?v3"' "$T/web6.log")" = 1 ] &&
    [ "$(canary "$CAN6 80 ")" = "$c0" ] && [ "$(al original_dst_resolved path=/small?v3)" = no ]; echo $?) \
    "IPv6: Host v6.allowed.test sent to [$CAN6]: 200 from [$WEB6], nothing at the canary ($s)"

# --- HTTPS, passed through --------------------------------------------------
s=$(ccurl -v --cacert "$T/ca.pem" --resolve "secure.allowed.test:443:$SEC4" \
    https://secure.allowed.test/s1 2>"$T/curl.err")
ok $([ "$s" = 200 ] && [ "$(cat "$T/body")" = "secure origin says hello" ]; echo $?) \
    "https://secure.allowed.test/s1: 200 through the tls transparent listener ($s)"
ok $(grep -q "subject: CN=secure origin" "$T/curl.err" &&
    grep -q "SSL certificate verify ok" "$T/curl.err"; echo $?) \
    "the client verified the origin's own certificate, end to end"
ok $([ "$(grep -c "GET secure.allowed.test /s1" "$T/tls.log")" = 1 ]; echo $?) "the origin got it"
wait_for 30 sh -c "[ \"\$(python3 '$SRCDIR/regress/e2e/audit.py' '$T/egressd.log' count _msgid=TUNNEL authority=secure.allowed.test)\" -ge 1 ]"
ok $([ "$(al scheme _msgid=TUNNEL authority=secure.allowed.test)" = tls ] &&
    [ "$(al original_dst _msgid=TUNNEL authority=secure.allowed.test)" = "$SEC4" ] &&
    [ "$(al original_dst_port _msgid=TUNNEL authority=secure.allowed.test)" = 443 ] &&
    [ "$(al port _msgid=TUNNEL authority=secure.allowed.test)" = 443 ]; echo $?) \
    "audit: TUNNEL scheme tls, original_dst $SEC4 port 443"

s=$(ccurl --cacert "$T/ca.pem" --resolve "secure.denied.test:443:$SEC4" https://secure.denied.test/s2)
ok $([ "$s" = 000 ] && [ "$(grep -c "/s2" "$T/tls.log")" = 0 ]; echo $?) \
    "https://secure.denied.test (unregistered): refused, nothing at the origin ($s)"
ok $([ "$(al reason authority=secure.denied.test)" = no_service ] &&
    [ "$(al original_dst authority=secure.denied.test)" = "$SEC4" ]; echo $?) \
    "audit: DENY no_service, original_dst $SEC4"

c0=$(canary "$CAN4 443 ")
s=$(ccurl --cacert "$T/ca.pem" --resolve "secure.allowed.test:443:$CAN4" https://secure.allowed.test/s3)
ok $([ "$s" = 200 ] && [ "$(grep -c "GET secure.allowed.test /s3" "$T/tls.log")" = 1 ] &&
    [ "$(canary "$CAN4 443 ")" = "$c0" ]; echo $?) \
    "SNI secure.allowed.test sent to $CAN4: 200 from $SEC4, nothing at the canary ($s)"
wait_for 30 sh -c "[ \"\$(python3 '$SRCDIR/regress/e2e/audit.py' '$T/egressd.log' count _msgid=TUNNEL original_dst=$CAN4)\" -ge 1 ]"
ok $([ "$(al original_dst_resolved _msgid=TUNNEL original_dst=$CAN4)" = no ] &&
    [ "$(al upstream _msgid=TUNNEL original_dst=$CAN4)" = "$SEC4" ]; echo $?) \
    "audit: original_dst $CAN4 not among the resolved, upstream $SEC4"

s=$(probe nosni "$SEC4" 443 "$T/ca.pem")
ok $([ "$s" = "HTTP/1.0 200 OK" ] && [ "$(grep -c "/nameless" "$T/tls.log")" = 1 ]; echo $?) \
    "no server name, to $SEC4 (a service registers that literal): passed through, verified ($s)"
# Every later hello is read too (a HelloRetryRequest's second one): a
# connection let out without a name goes on without one.
hr() { cl python3 "$SRCDIR/regress/e2e/hrr.py" "$@"; }
s=$(hr "$SEC4" 443 retry "" "")
ok $([ "$s" = serverhello ]; echo $?) \
    "no server name in either hello around a retry request, to $SEC4: the origin went on ($s)"
n0=$(audit_get count _msgid=DENY reason=sni_mismatch "original_dst=$SEC4")
s=$(hr "$SEC4" 443 retry "" secure.allowed.test)
wait_for 30 sh -c "[ \"\$(python3 '$SRCDIR/regress/e2e/audit.py' '$T/egressd.log' count _msgid=DENY reason=sni_mismatch original_dst=$SEC4)\" -gt $n0 ]"
ok $([ "$s" != serverhello ] &&
    [ "$(audit_get count _msgid=DENY reason=sni_mismatch "original_dst=$SEC4")" -gt "$n0" ]; echo $?) \
    "no name first, then a name after the retry request: refused, sni_mismatch ($s)"
c0=$(canary "$CAN4 443 ")
s=$(probe nosni "$CAN4" 443 "$T/ca.pem")
ok $([ "$s" = refused ] && [ "$(canary "$CAN4 443 ")" = "$c0" ]; echo $?) \
    "no server name, to $CAN4 (registered nowhere): refused, nothing at the canary ($s)"
ok $([ "$(al reason original_dst=$CAN4 _msgid=DENY)" = no_sni ]; echo $?) "audit: DENY no_sni"

s=$(probe http "$SEC4" 443 'GET /plain HTTP/1.1\r\nHost: secure.allowed.test\r\n\r\n')
ok $([ "$s" = closed ] && [ "$(grep -c "/plain" "$T/tls.log")" = 0 ] &&
    [ "$(al reason _msgid=DENY original_dst=$SEC4 scheme=tls)" = bad_client_hello ]; echo $?) \
    "plain HTTP to port 443: closed, bad_client_hello, nothing at the origin ($s)"

# --- everything else: dropped, counted --------------------------------------
f0=$(gwctr forward_dropped) q0=$(gwctr quic_refused)
c0=$(canary "tcp $CAN4 8080 ") c1=$(canary "tcp $CAN4 22 ")
ok $([ "$(probe tcp "$CAN4" 8080)" = timeout ] && [ "$(probe tcp "$CAN4" 22)" = timeout ] &&
    [ "$(canary "tcp $CAN4 8080 ")" = "$c0" ] && [ "$(canary "tcp $CAN4 22 ")" = "$c1" ]; echo $?) \
    "TCP to $CAN4 ports 8080 and 22: never connected, nothing at the canary"
f1=$(gwctr forward_dropped)
ok $([ "$f1" -gt "$f0" ]; echo $?) "forward_dropped moved ($f0 -> $f1)"
c0=$(canary "udp $CAN4 443 ")
s=$(probe udp "$CAN4" 443)
ok $([ "$s" = error ] && [ "$(canary "udp $CAN4 443 ")" = "$c0" ]; echo $?) \
    "UDP 443 (QUIC): refused at once with ICMP, nothing at the canary ($s)"
q1=$(gwctr quic_refused)
ok $([ "$q1" -gt "$q0" ]; echo $?) "quic_refused moved ($q0 -> $q1)"
f0=$(gwctr forward_dropped)
s=$(probe dns "$DNS4" 53 direct.probe.test); s2=$(probe dns "$CAN4" 53 direct2.probe.test)
ok $([ "$s" = timeout ] && [ "$s2" = timeout ] &&
    ! grep -q "direct.probe.test" "$T/dnsmasq.log" &&
    [ "$(canary "udp $CAN4 53 ")" = 0 ]; echo $?) \
    "direct DNS to $DNS4 and $CAN4: no answer, never arrived"
f1=$(gwctr forward_dropped)
ok $([ "$f1" -gt "$f0" ]; echo $?) "forward_dropped moved ($f0 -> $f1)"
c0=$(canary "tcp $CAN6 8080 ") c1=$(canary "udp $CAN6 443 ")
ok $([ "$(probe tcp "$CAN6" 8080)" = timeout ] && [ "$(probe udp "$CAN6" 443)" = error ] &&
    [ "$(canary "tcp $CAN6 8080 ")" = "$c0" ] && [ "$(canary "udp $CAN6 443 ")" = "$c1" ]; echo $?) \
    "IPv6: TCP 8080 dropped, UDP 443 refused, nothing at the canary"
n0=$(gwctr not_redirected)
ok $([ "$(probe tcp "$GI4" "$HTP")" = timeout ] && [ "$(gwctr not_redirected)" -gt "$n0" ]; echo $?) \
    "a direct connection to the listener's port: dropped by the ruleset, counted"

# On the egress host, only egressd's user reaches the outside.
o0=$(gwctr output_dropped)
s=$(ip netns exec "$GNS" curl -s -m 3 --noproxy '*' -o /dev/null -w '%{http_code}' "http://$WEB4/small?fromroot")
ok $([ "$s" = 000 ] && [ "$(webhits /small?fromroot)" = 0 ] && [ "$(gwctr output_dropped)" -gt "$o0" ]; echo $?) \
    "root on the egress host cannot reach $WEB4 ($s), output_dropped moved"

# --- reload: the transparent listeners keep serving, the new file rules ----
cat > "$T/late.inc" <<CONF
service "late" {
	hosts { "late.allowed.test" }
	port 80 http
}
CONF
s=$(ccurl --resolve "late.allowed.test:80:$WEB4" http://late.allowed.test/small?r0)
ok $([ "$s" = 403 ]; echo $?) "late.allowed.test before the reload: 403 ($s)"
conf "$T/late.inc"
kill -HUP "$EGD_PID"
ok $(wait_for 50 log_has "reload: generation 2 in force"; echo $?) "reload"
s=$(ccurl --resolve "late.allowed.test:80:$WEB4" http://late.allowed.test/small?r1)
s2=$(ccurl --resolve "www.allowed.test:80:$WEB4" http://www.allowed.test/small?r2)
s3=$(ccurl --cacert "$T/ca.pem" --resolve "secure.allowed.test:443:$SEC4" https://secure.allowed.test/r3)
ok $([ "$s" = 200 ] && [ "$s2" = 200 ] && [ "$s3" = 200 ] && [ "$(webhits /small?r1)" = 1 ]; echo $?) \
    "after it: late.allowed.test 200, www.allowed.test 200, HTTPS 200 ($s $s2 $s3)"
ok $([ "$(al original_dst path=/small?r1)" = "$WEB4" ]; echo $?) "audit after the reload: original_dst"

# --- the node ruleset in the client -----------------------------------------
# A way around the gateway: a route to $BYP4 over the second link.
ip -n "$CNS" route add "$BYP4/32" dev "$VCB" src "$CB4"
ok $([ "$(probe tcp "$BYP4" 8080)" = connected ] &&
    [ "$(canary "tcp $BYP4 8080 from $CB4")" = 1 ]; echo $?) \
    "control: without the node ruleset the client reaches $BYP4 around the gateway"
sed -e "s|^define egress_host4 = .*|define egress_host4 = $GI4|" \
    -e "s|^define egress_host6 = .*|define egress_host6 = $GI6|" \
    "$NODERULES" > "$T/node.nft"
other=$(diff "$NODERULES" "$T/node.nft" | grep '^[<>]' | grep -vc '^[<>] define ')
ok $([ "$other" = 0 ]; echo $?) "node ruleset: only define lines differ from the shipped file"
ok $(ip netns exec "$CNS" nft -f "$T/node.nft"; echo $?) "egressd-node.nft loads in $CNS"
d0=$(ctr "$CNS" egressd_node dropped)
ok $([ "$(probe tcp "$BYP4" 8080)" != connected ] &&
    [ "$(canary "tcp $BYP4 8080 ")" = 1 ]; echo $?) \
    "with it, the way around the gateway is closed: nothing more at the canary"
ok $([ "$(ctr "$CNS" egressd_node dropped)" -gt "$d0" ]; echo $?) "the node's dropped counter moved"
s=$(ccurl --resolve "www.allowed.test:80:$WEB4" http://www.allowed.test/small?n1)
s2=$(ccurl -6 --resolve "v6.allowed.test:80:[$WEB6]" http://v6.allowed.test/small?n2)
ok $([ "$s" = 200 ] && [ "$s2" = 200 ]; echo $?) \
    "through the gateway still: 200 over IPv4 and IPv6 ($s $s2)"

# --- the sandbox held --------------------------------------------------------
ok $(log_has "killed by seccomp"; [ $? -ne 0 ]; echo $?) "no process was killed by its seccomp filter"
kids1=$(children_of "$EGD_PID" | sort | tr '\n' ' ')
ok $([ "$kids1" = "$kids0" ]; echo $?) "the workers and the helper are the ones started ($kids1)"
ok $(audit_get dump > "$T/audit.json"; echo $?) "every audit record parses"

kill -TERM "$EGD_PID"
wait "$EGD_PID"
ok $([ $? -eq 0 ]; echo $?) "SIGTERM: exit status 0"
done_testing
