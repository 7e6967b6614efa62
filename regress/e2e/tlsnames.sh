# Server names in TLS, tried as a client that wants past the checks
# would: a session resumed under another name (origination and
# termination), verify-san lists of names, patterns and addresses, SNI
# for address literals, and a second ClientHello after a
# HelloRetryRequest in tunnels.  A test CA and certificates are made here
# with openssl; the origins are openssl s_server and a small Python HTTPS
# server that logs the server name of every ClientHello it reads;
# regress/e2e/hrr.py is the client that sends hellos of its own making;
# dnsmasq maps every *.test name to 127.0.0.1 (and, later, one name to
# 127.0.0.2, where a relay reaches the same server).  One worker, so that
# the sessions a test means to resume are in the process that serves it.
. "$SRCDIR/regress/e2e/common.sh"
command -v dnsmasq >/dev/null || { fail "dnsmasq is installed"; done_testing; exit 1; }
command -v openssl >/dev/null || { fail "openssl is installed"; done_testing; exit 1; }

# Fifteen ports, all different (free_port may give one twice).
while :; do
	P=$(free_port); DP=$(free_port); OP=$(free_port); P1=$(free_port)
	P3A=$(free_port); P3I=$(free_port); P4=$(free_port); P4B=$(free_port)
	P5=$(free_port); L2=$(free_port); L2N=$(free_port); L2R=$(free_port)
	P1B=$(free_port); MXP=$(free_port); P3W=$(free_port)
	[ "$(printf '%s\n' $P $DP $OP $P1 $P3A $P3I $P4 $P4B $P5 $L2 $L2N $L2R \
	    $P1B $MXP $P3W | sort -u | wc -l)" = 15 ] && break
done

# --- certificates ---
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj "/CN=egressd test CA" -keyout "$T/ca.key" -out "$T/ca.pem" >/dev/null 2>&1
mkcert() {	# mkcert NAME CN EXTENSIONS
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$2" \
	    -keyout "$T/$1.key" -out "$T/$1.csr" >/dev/null 2>&1
	printf '%b\n' "$3" > "$T/$1.ext"
	openssl x509 -req -in "$T/$1.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" \
	    -CAcreateserial -days 2 -extfile "$T/$1.ext" -out "$T/$1.pem" >/dev/null 2>&1
}
mkcert ab a.tls.test "subjectAltName=DNS:a.tls.test,DNS:b.tls.test"
mkcert d d.tls.test "subjectAltName=DNS:d.tls.test"
mkcert a a.test "subjectAltName=DNS:a.test"
mkcert ip 127.0.0.1 "subjectAltName=IP:127.0.0.1"
mkcert w w.test "subjectAltName=DNS:*.w.test"
mkcert hrr a.hrr.test "subjectAltName=DNS:a.hrr.test,DNS:b.hrr.test,DNS:r.hrr.test"
mkcert gw gw.test "subjectAltName=DNS:api.test,DNS:other.test"
mkcert cl client "subjectAltName=URI:spiffe://test/client\nextendedKeyUsage=clientAuth"
made=0
for c in ab d a ip w hrr gw cl; do
	openssl verify -CAfile "$T/ca.pem" "$T/$c.pem" >/dev/null 2>&1 || made=1
done
ok $made "test CA and certificates made"

# --- origins ---
# tlsorigin.py ADDR PORT CERT KEY LOG [GROUP]: HTTPS, "HELLO sni=NAME"
# in LOG for every ClientHello read (None: no server name), "GET HOST
# PATH" for every request; with GROUP, the only key exchange group it
# takes (so a client whose first key share is for another gets a
# HelloRetryRequest).
cat > "$T/tlsorigin.py" <<'PY'
import http.server, ssl, sys, threading
addr, port, cert, key, log = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
def note(s):
    with open(log, "a") as f:
        f.write(s + "\n")
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        note("GET %s %s" % (self.headers.get("Host"), self.path))
        body = b"origin says hello over TLS\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
class S(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        note("REFUSED %s" % (sys.exc_info()[1],))
srv = S((addr, port), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
if len(sys.argv) > 6:
    ctx.set_ecdh_curve(sys.argv[6])
ctx.sni_callback = lambda s, name, c: note("HELLO sni=%s" % name)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True,
    do_handshake_on_connect=False)
open(log + ".ready", "w").close()
threading.Timer(1800, srv.shutdown).start()
srv.serve_forever()
PY
origin() {	# origin ADDR PORT CERT LOG [GROUP]
	: > "$T/$4"
	python3 "$T/tlsorigin.py" "$1" "$2" "$T/$3.pem" "$T/$3.key" "$T/$4" ${5:+"$5"} &
	EXTRA_PIDS="${EXTRA_PIDS:-} $!"
	wait_for 50 test -f "$T/$4.ready"
}
sserver() {	# sserver PORT CERT: openssl s_server -www (HTTP/1.0: one request a connection)
	openssl s_server -accept "127.0.0.1:$1" -cert "$T/$2.pem" -key "$T/$2.key" \
	    -www -quiet >/dev/null 2>&1 </dev/null &
	EXTRA_PIDS="${EXTRA_PIDS:-} $!"
}
sserver "$P1" ab
# One more, reached at 127.0.0.1 and, through a relay, at 127.0.0.2:
# the same server (the same ticket keys) at two addresses.
sserver "$P1B" d
cat > "$T/relay.py" <<'PY'
import socket, sys, threading
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.2", int(sys.argv[1])))
ls.listen(16)
open(sys.argv[2], "w").close()
def pipe(a, b):
    try:
        while True:
            d = a.recv(65536)
            if not d:
                break
            b.sendall(d)
    except OSError:
        pass
    for s in (a, b):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
ls.settimeout(1800)
while True:
    c, _ = ls.accept()
    u = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
    threading.Thread(target=pipe, args=(c, u), daemon=True).start()
    threading.Thread(target=pipe, args=(u, c), daemon=True).start()
PY
python3 "$T/relay.py" "$P1B" "$T/relay.ready" &
EXTRA_PIDS="${EXTRA_PIDS:-} $!"
wait_for 50 test -f "$T/relay.ready"
sserver "$P3A" a
sserver "$P3I" ip
sserver "$P3W" w
origin 127.0.0.1 "$P4" ip dip.log
origin 127.0.0.1 "$P4B" ip dipsni.log
origin 127.0.0.1 "$P5" hrr hrr.log prime256v1
start_origin 127.0.0.1 "$OP"
start_dns "$DP" --address=/test/127.0.0.1
up() { python3 -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1).close()' "$1" 2>/dev/null; }
for p in "$P1" "$P1B" "$P3A" "$P3I" "$P3W"; do wait_for 50 up "$p"; done

cat > "$T/egressd.conf" <<CONF
user "$EGD_USER"
chroot "$T/root"
workers 1
nameserver 127.0.0.1 port $DP
request timeout 2
idle timeout 5
dns min ttl 0
metrics listen on 127.0.0.1 port $MXP
gateway "http" {
	listen on 127.0.0.1 port $P http
}
gateway "opt" {
	listen on 127.0.0.1 port $L2 https cert "$T/gw.pem" key "$T/gw.key" client ca "$T/ca.pem" client optional
}
gateway "nocli" {
	listen on 127.0.0.1 port $L2N https cert "$T/gw.pem" key "$T/gw.key"
}
gateway "req" {
	listen on 127.0.0.1 port $L2R https cert "$T/gw.pem" key "$T/gw.key" client ca "$T/ca.pem"
}
gateway "pass" {
	listen on 127.0.0.2 port $P5 tls
}
service "wild" {
	hosts { "*.tls.test" }
	port $P1 https
	port $P1B https
	allow private
}
service "api" {
	hosts { "api.test", "other.test" }
	port $OP http
	allow private
}
service "sans" {
	hosts { "san1.test", "san2.test", "san3.test", "san4.test", "san5.test",
	    "san6.test", "san7.test", "san8.test", "san9.test", "san10.test",
	    "san11.test" }
	port $P3A https
	port $P3I https
	port $P3W https
	allow private
}
service "dip" {
	hosts { "127.0.0.1" }
	port $P4 https
	port $P4B https
	allow private
}
service "hrr" {
	hosts { "a.hrr.test" }
	port $P5 tls
	allow private
}
service "hrr-report" {
	hosts { "r.hrr.test" }
	port $P5 tls
	allow private
	action report
}
route "to-origin" {
	match authority "api.test" {
		forward to "api.test" port $OP
	}
	match authority "other.test" {
		forward to "other.test" port $OP
	}
}
destination "wild" {
	host "*.tls.test"
	port $P1 tls simple ca "$T/ca.pem"
	port $P1B tls simple ca "$T/ca.pem"
}
destination "san1" {
	host "san1.test"
	port $P3A tls simple ca "$T/ca.pem" verify-san { "a.test" "127.0.0.1" }
}
destination "san2" {
	host "san2.test"
	port $P3I tls simple ca "$T/ca.pem" verify-san { "zz.test" "127.0.0.1" }
}
destination "san3" {
	host "san3.test"
	port $P3I tls simple ca "$T/ca.pem" verify-san { "127.0.0.1" "127.0.0.2" }
}
destination "san4" {
	host "san4.test"
	port $P3A tls simple ca "$T/ca.pem" verify-san { "zz.test" "127.0.0.2" }
}
destination "san5" {
	host "san5.test"
	port $P3I tls simple ca "$T/ca.pem" verify-san { "127.0.0.2" "[::1]" }
}
destination "san6" {
	host "san6.test"
	port $P3A tls simple ca "$T/ca.pem" verify-san { "zz.test" "*.test" }
}
destination "san7" {
	host "san7.test"
	port $P3A tls simple ca "$T/ca.pem" verify-san { "*.a.test" "*.other.test" }
}
destination "san8" {
	host "san8.test"
	port $P3W tls simple ca "$T/ca.pem" verify-san { "*.test" }
}
destination "san9" {
	host "san9.test"
	port $P3W tls simple ca "$T/ca.pem" verify-san { "*.x.w.test" }
}
destination "san10" {
	host "san10.test"
	port $P3W tls simple ca "$T/ca.pem" verify-san { "*.w.test" }
}
destination "san11" {
	host "san11.test"
	port $P3I tls simple ca "$T/ca.pem" verify-san { "*.test" }
}
destination "dip" {
	host "127.0.0.1"
	port $P4 tls simple ca "$T/ca.pem"
	port $P4B tls simple sni "dip.test" ca "$T/ca.pem"
}
CONF
mkdir -p "$T/root"
"$EGRESSD" -n -f "$T/egressd.conf" > "$T/n.out" 2>&1
ok $(grep -q "configuration OK" "$T/n.out"; echo $?) \
    "-n: the test configuration is OK ($(head -n 2 "$T/n.out" | tr '\n' ' '))"
start_egressd "$T/egressd.conf" || { fail "egressd starts"; done_testing; exit 1; }
pass "egressd starts"

audit_last() { audit_get last "$@"; }
wait_audit() { wait_for 30 sh -c "[ \"\$(python3 '$SRCDIR/regress/e2e/audit.py' '$T/egressd.log' count $*)\" -gt 0 ]"; }
lines() { grep -c -- "$2" "$T/$1" || true; }

# --- 1. Origination: a session is offered only under its own key ---
# get NAME PORT TAG: plain HTTP through the gateway, Host NAME:PORT;
# prints the status, the body in $T/body.
get() {
	curl -s -m 5 -o "$T/body" -w '%{http_code}' -H "Host: $1:$2" \
	    "http://127.0.0.1:$P/$3"
}
# rec TAG FIELD: FIELD of the audit record of the request /TAG
rec() { wait_audit path=/$1; audit_last "$2" path=/"$1"; }

code=$(get c.tls.test "$P1" w1)
ok $([ "$code" = 502 ] && [ "$(rec w1 reason)" = tls_verify_failed ]; echo $?) \
    "c.tls.test first, the certificate names a and b only: 502 tls_verify_failed ($code)"
code=$(get a.tls.test "$P1" w2)
ok $([ "$code" = 200 ] && [ "$(rec w2 tls_verify)" = ok ] &&
    [ "$(rec w2 tls_resumed)" = 0 ]; echo $?) \
    "a.tls.test: 200, verified, a full handshake ($code)"
code=$(get c.tls.test "$P1" w3)
ok $([ "$code" = 502 ]; echo $?) \
    "c.tls.test after a.tls.test: 502, a's session is not offered for c ($code, $(tr -s '\r\n' '  ' < "$T/body"))"
ok $([ "$(rec w3 reason)" = tls_verify_failed ] &&
    [ "$(rec w3 tls_verify)" = "hostname mismatch" ] &&
    [ "$(rec w3 tls_resumed)" != 1 ]; echo $?) \
    "audit: DENY tls_verify_failed, hostname mismatch, not resumed ($(rec w3 _msgid) $(rec w3 reason) $(rec w3 tls_verify))"
code=$(get a.tls.test "$P1" w4)
ok $([ "$code" = 200 ] && [ "$(rec w4 tls_resumed)" = 1 ] &&
    [ "$(rec w4 tls_verify)" = ok ]; echo $?) \
    "a.tls.test again: 200, its session resumed (tls_resumed $(rec w4 tls_resumed))"
code=$(get b.tls.test "$P1" w5)
ok $([ "$code" = 200 ] && [ "$(rec w5 tls_resumed)" = 0 ]; echo $?) \
    "b.tls.test, also on the certificate: 200 with a handshake of its own, not a's session ($code, tls_resumed $(rec w5 tls_resumed))"
code=$(get b.tls.test "$P1" w6)
ok $([ "$code" = 200 ] && [ "$(rec w6 tls_resumed)" = 1 ]; echo $?) \
    "b.tls.test again: resumed ($code)"
# The same name, port and settings at another address: a session of its
# own, though the server there would take the other one.
get d.tls.test "$P1B" d1 >/dev/null
code=$(get d.tls.test "$P1B" d2)
ok $([ "$code" = 200 ] && [ "$(rec d2 upstream)" = 127.0.0.1 ] &&
    [ "$(rec d2 tls_resumed)" = 1 ]; echo $?) \
    "d.tls.test at 127.0.0.1: resumed the second time ($code)"
# dnsmasq (in the foreground: our child) removes its pid file as it
# exits: read it once, before; wait reaps it.
dpid=$(cat "$T/dnsmasq.pid")
kill "$dpid"
wait "$dpid" 2>/dev/null
rm -f "$T/dnsmasq.pid"
EXTRA_PIDS=$(echo " $EXTRA_PIDS " | sed "s/ $dpid / /")	# gone: not killed again
start_dns "$DP" --address=/test/127.0.0.1 --address=/d.tls.test/127.0.0.2
i=0 moved=
while [ $i -lt 20 ] && [ -z "$moved" ]; do
	i=$((i + 1))
	get d.tls.test "$P1B" "d3-$i" >/dev/null
	[ "$(rec "d3-$i" upstream)" = 127.0.0.2 ] && moved=d3-$i
done
ok $([ -n "$moved" ] && [ "$(rec "$moved" status)" = 200 ] &&
    [ "$(rec "$moved" tls_resumed)" = 0 ]; echo $?) \
    "d.tls.test now at 127.0.0.2: 200 with a handshake of its own, 127.0.0.1's session not offered (${moved:-never moved}, tls_resumed $(rec "$moved" tls_resumed))"
code=$(get d.tls.test "$P1B" d4)
ok $([ "$code" = 200 ] && [ "$(rec d4 upstream)" = 127.0.0.2 ] &&
    [ "$(rec d4 tls_resumed)" = 1 ]; echo $?) \
    "d.tls.test at 127.0.0.2 again: resumed ($code)"

# --- 3. verify-san: any one of the names and addresses ---
code=$(get san1.test "$P3A" s1)
ok $([ "$code" = 200 ] && [ "$(rec s1 tls_verify)" = ok ]; echo $?) \
    "verify-san { a.test 127.0.0.1 }, a certificate for a.test: 200 ($code, $(head -c 80 "$T/body" | tr -s '\r\n' '  '))"
code=$(get san2.test "$P3I" s2)
ok $([ "$code" = 200 ] && [ "$(rec s2 tls_verify)" = ok ]; echo $?) \
    "verify-san { zz.test 127.0.0.1 }, a certificate for the address 127.0.0.1 only: 200 ($code, $(head -c 80 "$T/body" | tr -s '\r\n' '  '))"
code=$(get san3.test "$P3I" s3)
ok $([ "$code" = 200 ] && [ "$(rec s3 tls_verify)" = ok ]; echo $?) \
    "verify-san { 127.0.0.1 127.0.0.2 }, two addresses: 200 ($code, $(head -c 80 "$T/body" | tr -s '\r\n' '  '))"
code=$(get san4.test "$P3A" s4)
ok $([ "$code" = 502 ] && [ "$(rec s4 reason)" = tls_verify_failed ] &&
    [ "$(rec s4 tls_verify)" = "hostname mismatch" ]; echo $?) \
    "verify-san { zz.test 127.0.0.2 }, a certificate for a.test: 502 tls_verify_failed, hostname mismatch ($code)"
code=$(get san5.test "$P3I" s5)
ok $([ "$code" = 502 ] && [ "$(rec s5 reason)" = tls_verify_failed ] &&
    [ "$(rec s5 tls_verify)" = "IP address mismatch" ]; echo $?) \
    "verify-san { 127.0.0.2 ::1 }, a certificate for 127.0.0.1: 502 tls_verify_failed, IP address mismatch ($code)"
code=$(get san6.test "$P3A" s6)
ok $([ "$code" = 200 ] && [ "$(rec s6 tls_verify)" = ok ]; echo $?) \
    "verify-san { zz.test *.test }, a certificate for a.test: 200, a.test is below test ($code)"
code=$(get san7.test "$P3A" s7)
ok $([ "$code" = 502 ] && [ "$(rec s7 tls_verify)" = "hostname mismatch" ]; echo $?) \
    "verify-san { *.a.test *.other.test }, a certificate for a.test: 502, a.test is below neither ($code)"
code=$(get san8.test "$P3W" s8)
ok $([ "$code" = 200 ] && [ "$(rec s8 tls_verify)" = ok ]; echo $?) \
    "verify-san { *.test }, a certificate for *.w.test: 200, every name it stands for is below test ($code)"
code=$(get san9.test "$P3W" s9)
ok $([ "$code" = 502 ] && [ "$(rec s9 tls_verify)" = "hostname mismatch" ]; echo $?) \
    "verify-san { *.x.w.test }, a certificate for *.w.test: 502, the names it stands for are not below x.w.test ($code)"
code=$(get san10.test "$P3W" s10)
ok $([ "$code" = 200 ] && [ "$(rec s10 tls_verify)" = ok ]; echo $?) \
    "verify-san { *.w.test }, a certificate for *.w.test: 200, the same names ($code)"
code=$(get san11.test "$P3I" s11)
ok $([ "$code" = 502 ] && [ "$(rec s11 reason)" = tls_verify_failed ] &&
    [ "$(rec s11 tls_verify)" = "hostname mismatch" ]; echo $?) \
    "verify-san { *.test }, a certificate for the address 127.0.0.1 only: 502, a pattern takes DNS names only ($code, $(rec s11 tls_verify))"
# What the check cannot do is refused by egressd -n, at its line.
nconf() {	# nconf NAME PORT-OPTIONS: a one-destination file, checked
	cat > "$T/$1.conf" <<C
gateway "g" {
	listen on 127.0.0.1 port $P http
}
destination "d" {
	host "d.test"
	port 443 tls simple ca "$T/ca.pem" $2
}
C
	"$EGRESSD" -n -f "$T/$1.conf" > "$T/$1.out" 2>&1
}
nconf n-pattern 'verify-san { "a.test" "*.*.test" }'
ok $([ $? = 1 ] && grep -q "n-pattern.conf:6: verify-san: \"\*.\*.test\": a pattern is" "$T/n-pattern.out"; echo $?) \
    "-n: a wildcard other than a first \"*.\" is refused ($(head -n 1 "$T/n-pattern.out"))"
nconf n-number 'verify-san { "127.1" }'
ok $([ $? = 1 ] && grep -q "n-number.conf:6: verify-san: \"127.1\": ambiguous address" "$T/n-number.out"; echo $?) \
    "-n: a number that is no dotted quad is refused ($(head -n 1 "$T/n-number.out"))"
nconf n-empty 'verify-san { }'
ok $([ $? = 1 ] && grep -q "n-empty.conf:6: verify-san: an empty list" "$T/n-empty.out"; echo $?) \
    "-n: an empty verify-san is refused ($(head -n 1 "$T/n-empty.out"))"
nconf n-addrs 'verify-san { "127.0.0.1" "127.0.0.2" "[::1]" }'
ok $([ $? = 0 ] && grep -q "configuration OK" "$T/n-addrs.out"; echo $?) \
    "-n: several addresses are accepted ($(head -n 1 "$T/n-addrs.out"))"

# --- 4. No SNI for an address literal, unless sni names one ---
code=$(curl -s -m 5 -o "$T/body" -w '%{http_code}' -x "http://127.0.0.1:$P" \
    "http://127.0.0.1:$P4/lit")
ok $([ "$code" = 200 ] && [ "$(lines dip.log 'GET 127.0.0.1:.* /lit')" = 1 ]; echo $?) \
    "destination 127.0.0.1: 200 over TLS, verified against the address ($code)"
ok $([ "$(lines dip.log '^HELLO')" = 1 ] && [ "$(lines dip.log '^HELLO sni=None$')" = 1 ]; echo $?) \
    "destination 127.0.0.1: the origin got a ClientHello without a server name ($(grep HELLO "$T/dip.log" | tr '\n' ' '))"
wait_audit path=/lit
ok $([ "$(audit_last tls path=/lit)" = originated ] &&
    [ "$(audit_last tls_verify path=/lit)" = ok ]; echo $?) \
    "audit: tls originated, tls_verify ok"
code=$(curl -s -m 5 -o "$T/body" -w '%{http_code}' -x "http://127.0.0.1:$P" \
    "http://127.0.0.1:$P4B/named")
ok $([ "$code" = 200 ] && [ "$(lines dipsni.log '^HELLO sni=dip.test$')" = 1 ] &&
    [ "$(lines dipsni.log '^HELLO')" = 1 ]; echo $?) \
    "destination 127.0.0.1 with sni \"dip.test\": that name is sent ($code, $(grep HELLO "$T/dipsni.log" | tr '\n' ' '))"
nconf n-sni 'sni "127.0.0.1"'
ok $([ $? = 1 ] && grep -q "n-sni.conf:6: sni: \"127.0.0.1\": an address literal" "$T/n-sni.out"; echo $?) \
    "-n: sni with an address literal is refused ($(head -n 1 "$T/n-sni.out"))"

# --- 2. Termination: the SNI/Host check holds on resumed sessions ---
# sc PORT SNI HOST TAG [s_client options...]: one request with openssl
# s_client; prints the status (000: none) and whether the session was
# resumed (Reused: 1, New: 0).
sc() {
	_p=$1 _s=$2 _h=$3 _t=$4; shift 4
	printf 'GET /small?t=%s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n' "$_t" "$_h" |
	    timeout 10 openssl s_client -connect "127.0.0.1:$_p" -servername "$_s" \
	    -CAfile "$T/ca.pem" -ign_eof "$@" > "$T/$_t.out" 2>&1
	# (the status line may follow a ticket's printout on the same line)
	_c=$(grep -ao 'HTTP/1\.1 [0-9][0-9][0-9] ' "$T/$_t.out" | head -n 1 | cut -d ' ' -f 2)
	echo "${_c:-000} $(grep -c '^Reused, ' "$T/$_t.out")"
}
seen() { origin_count "\"/small?t=$1\""; }
CL="-cert $T/cl.pem -key $T/cl.key"
# shellcheck disable=SC2086	# CL is words on purpose
r=$(sc "$L2" api.test other.test t1 -tls1_2 $CL)
ok $([ "$r" = "421 0" ] && [ "$(seen t1)" = 0 ]; echo $?) \
    "TLS 1.2, SNI api.test, Host other.test, a full handshake: 421 ($r)"
# shellcheck disable=SC2086
r=$(sc "$L2" api.test api.test t2 -tls1_2 $CL -sess_out "$T/s12")
ok $([ "$r" = "200 0" ] && [ -s "$T/s12" ]; echo $?) \
    "TLS 1.2, SNI api.test, Host api.test: 200, the session kept by the client ($r)"
# shellcheck disable=SC2086
r=$(sc "$L2" api.test other.test t3 -tls1_2 $CL -sess_in "$T/s12")
ok $([ "$r" = "421 1" ] && [ "$(seen t3)" = 0 ]; echo $?) \
    "TLS 1.2 resumed, SNI api.test, Host other.test: 421, nothing reached the origin ($r)"
wait_audit path=/small?t=t3
ok $([ "$(audit_last reason path=/small?t=t3)" = sni_mismatch ] &&
    [ "$(audit_last _msgid path=/small?t=t3)" = DENY ]; echo $?) \
    "audit: DENY sni_mismatch for the resumed session"
# shellcheck disable=SC2086
r=$(sc "$L2" api.test api.test t4 -tls1_2 $CL -sess_in "$T/s12")
wait_audit path=/small?t=t4
ok $([ "$r" = "200 1" ] && [ "$(seen t4)" = 1 ] &&
    [ "$(audit_last identity path=/small?t=t4)" = spiffe://test/client ]; echo $?) \
    "TLS 1.2 resumed, the same name again: 200, resumed, the identity kept ($r)"
# shellcheck disable=SC2086
r=$(sc "$L2" other.test other.test t5 -tls1_2 $CL -sess_in "$T/s12")
ok $([ "$r" = "200 0" ]; echo $?) \
    "TLS 1.2, api.test's session offered with SNI other.test: a full handshake, 200 ($r)"
# shellcheck disable=SC2086
r=$(sc "$L2" api.test api.test t6 -tls1_3 $CL -sess_out "$T/s13")
ok $([ "$r" = "200 0" ] && [ -s "$T/s13" ]; echo $?) "TLS 1.3, SNI api.test: 200 ($r)"
# shellcheck disable=SC2086
r=$(sc "$L2" api.test other.test t7 -tls1_3 $CL -sess_in "$T/s13")
ok $([ "$r" = "421 1" ] && [ "$(seen t7)" = 0 ]; echo $?) \
    "TLS 1.3 resumed, SNI api.test, Host other.test: 421 ($r)"
# shellcheck disable=SC2086
r=$(sc "$L2" other.test other.test t8 -tls1_3 $CL -sess_in "$T/s13")
ok $([ "$r" = "200 0" ]; echo $?) \
    "TLS 1.3, api.test's session offered with SNI other.test: a full handshake, 200 ($r)"
for v in 2 3; do
	r=$(sc "$L2N" api.test api.test "n$v" "-tls1_$v" -sess_out "$T/sn$v")
	r2=$(sc "$L2R" api.test api.test "r$v" "-tls1_$v" -sess_in "$T/sn$v")
	ok $([ "$r" = "200 0" ] && [ "$r2" = "000 0" ] && [ "$(seen "r$v")" = 0 ]; echo $?) \
	    "TLS 1.$v: a session of a listener without client certificates does not let a client without one into a listener that requires one ($r, $r2)"
done
wait_audit reason=client_tls_failed
ok $([ "$(audit_get count _msgid=DENY reason=client_tls_failed gateway=req)" -ge 2 ]; echo $?) \
    "audit: DENY client_tls_failed on that listener"
# A second ClientHello after a HelloRetryRequest must name the same host.
hr=$(python3 "$SRCDIR/regress/e2e/hrr.py" 127.0.0.1 "$L2" retry api.test api.test)
ok $([ "$hr" = serverhello ]; echo $?) \
    "https listener: a HelloRetryRequest, then a hello for the same name: the handshake goes on ($hr)"
hr=$(python3 "$SRCDIR/regress/e2e/hrr.py" 127.0.0.1 "$L2" retry api.test other.test)
ok $([ "$hr" != serverhello ]; echo $?) \
    "https listener: a HelloRetryRequest, then a hello for another name: refused ($hr)"
wait_audit _msgid=DENY reason=client_tls_failed gateway=opt
ok $([ "$(audit_get count _msgid=DENY reason=client_tls_failed "client_tls_error=server name changed after HelloRetryRequest")" = 1 ]; echo $?) \
    "audit: DENY client_tls_failed, server name changed after HelloRetryRequest"

# --- 5. Tunnels: every ClientHello is read ---
# An honest client whose first key share the origin does not take: two
# hellos, both for the tunnel's name, and the handshake completes.
ch() {	# ch OUT ARGS...: openssl s_client to a.hrr.test, with -msg
	_o=$1; shift
	echo | timeout 10 openssl s_client -servername a.hrr.test -CAfile "$T/ca.pem" \
	    -groups X25519:P-256 -msg "$@" > "$T/$_o" 2>&1
}
ch hrr1.out -connect "127.0.0.2:$P5"
ok $([ "$(grep -c 'ClientHello$' "$T/hrr1.out")" = 2 ] &&
    grep -q 'Verify return code: 0 (ok)' "$T/hrr1.out"; echo $?) \
    "tls listener: a HelloRetryRequest and a second hello for the same name: verified, done ($(grep -c 'ClientHello$' "$T/hrr1.out") hellos)"
ch hrr2.out -proxy "127.0.0.1:$P" -connect "a.hrr.test:$P5"
ok $([ "$(grep -c 'ClientHello$' "$T/hrr2.out")" = 2 ] &&
    grep -q 'Verify return code: 0 (ok)' "$T/hrr2.out"; echo $?) \
    "CONNECT: a HelloRetryRequest and a second hello for the same name: verified, done"
ok $([ "$(lines hrr.log '^HELLO sni=a.hrr.test$')" = 4 ] &&
    [ "$(lines hrr.log '^HELLO')" = 4 ]; echo $?) \
    "the origin read four hellos for a.hrr.test ($(grep -c HELLO "$T/hrr.log"))"
wait_audit _msgid=TUNNEL authority=a.hrr.test scheme=tls
ok $([ "$(audit_get count _msgid=TUNNEL authority=a.hrr.test)" = 2 ]; echo $?) \
    "audit: two TUNNEL records for them"
# hrr VIA MODE NAME2: hrr.py's first hello names a.hrr.test, its second
# NAME2; VIA is "tls" (the tls listener) or "connect".
hrr() {
	if [ "$1" = tls ]; then
		python3 "$SRCDIR/regress/e2e/hrr.py" 127.0.0.2 "$P5" "$2" a.hrr.test "$3"
	else
		python3 "$SRCDIR/regress/e2e/hrr.py" 127.0.0.1 "$P" -c "${4:-a.hrr.test}:$P5" \
		    "$2" "${4:-a.hrr.test}" "$3"
	fi
}
for via in tls connect; do
	n0=$(audit_get count _msgid=DENY reason=sni_mismatch authority=a.hrr.test)
	hr=$(hrr $via retry b.hrr.test)
	ok $([ "$hr" = retry ]; echo $?) \
	    "$via: a HelloRetryRequest, then a hello for b.hrr.test: closed before the origin read it ($hr)"
	wait_for 30 sh -c "[ \"\$(python3 '$SRCDIR/regress/e2e/audit.py' '$T/egressd.log' count _msgid=DENY reason=sni_mismatch authority=a.hrr.test)\" -gt $n0 ]"
	ok $([ "$(audit_get count _msgid=DENY reason=sni_mismatch authority=a.hrr.test)" = $((n0 + 1)) ]; echo $?) \
	    "$via: audit DENY sni_mismatch, authority a.hrr.test"
	hr=$(hrr $via pipeline b.hrr.test)
	ok $([ "$hr" = closed ]; echo $?) \
	    "$via: a second hello for b.hrr.test sent at once behind the first: closed, nothing reached the origin ($hr)"
	hr=$(hrr $via joined b.hrr.test)
	ok $([ "$hr" = closed ]; echo $?) \
	    "$via: two hellos in one record: closed ($hr)"
	hr=$(hrr $via behind b.hrr.test)
	ok $([ "$hr" = closed ]; echo $?) \
	    "$via: a second hello behind an application_data record: closed ($hr)"
	hr=$(hrr $via garbage b.hrr.test)
	ok $([ "$hr" != serverhello ]; echo $?) \
	    "$via: a second hello behind bytes that are no TLS record: the server ends there ($hr)"
	hr=$(hrr $via retry a.hrr.test)
	ok $([ "$hr" = serverhello ]; echo $?) \
	    "$via: hrr.py's own retry with the same name goes through ($hr)"
done
ok $([ "$(lines hrr.log 'sni=b.hrr.test')" = 0 ]; echo $?) \
    "the origin never read a hello for b.hrr.test ($(grep -c 'sni=b' "$T/hrr.log"))"
ok $([ "$(audit_get count _msgid=DENY reason=sni_mismatch)" -ge 4 ] &&
    [ "$(audit_get count _msgid=DENY reason=bad_client_hello)" -ge 2 ]; echo $?) \
    "audit: the pipelined hellos DENY sni_mismatch, the joined ones bad_client_hello"
# A service in report mode lets the change through and says so.
hr=$(hrr connect retry b.hrr.test r.hrr.test)
ok $([ "$hr" = serverhello ]; echo $?) "report mode: the changed hello goes through ($hr)"
wait_audit _msgid=TUNNEL authority=r.hrr.test
ok $([ "$(audit_last decision _msgid=TUNNEL authority=r.hrr.test)" = report ] &&
    [ "$(audit_last would _msgid=TUNNEL authority=r.hrr.test)" = sni_mismatch ]; echo $?) \
    "report mode: audit TUNNEL decision report, would sni_mismatch"

# --- a reload: other settings for the port, so no session of before ---
code=$(get a.tls.test "$P1" g1)
ok $([ "$code" = 200 ] && [ "$(rec g1 tls_resumed)" = 1 ]; echo $?) \
    "before the reload: a.tls.test resumes ($code)"
cp "$T/ca.pem" "$T/ca-copy.pem"
sed "s|port $P1 tls simple ca \"$T/ca.pem\"|port $P1 tls simple ca \"$T/ca-copy.pem\" min version 1.3|" \
    "$T/egressd.conf" > "$T/egressd.conf.new" && mv "$T/egressd.conf.new" "$T/egressd.conf"
kill -HUP "$EGD_PID"
ok $(wait_for 50 log_has "generation 2 in force"; echo $?) "SIGHUP with another CA bundle and min version 1.3: generation 2"
code=$(get a.tls.test "$P1" g2)
ok $([ "$code" = 200 ] && [ "$(rec g2 tls_resumed)" = 0 ] &&
    [ "$(rec g2 tls_version)" = TLSv1.3 ]; echo $?) \
    "after it: a full TLS 1.3 handshake, the session of before not offered ($code, $(rec g2 tls_version), tls_resumed $(rec g2 tls_resumed))"
code=$(get a.tls.test "$P1" g3)
ok $([ "$code" = 200 ] && [ "$(rec g3 tls_resumed)" = 1 ]; echo $?) \
    "and then its own session resumed ($code)"

ok $(audit_get dump > "$T/audit.json"; echo $?) "every audit record parses ($(wc -l < "$T/audit.json") records)"
stop_egressd
ok $([ "$EGD_STATUS" = 0 ]; echo $?) "egressd stops cleanly"
ok $(! grep -q "seccomp\|fatal\|killed by" "$T/egressd.log"; echo $?) "no sandbox kill, no fatal error"
done_testing
