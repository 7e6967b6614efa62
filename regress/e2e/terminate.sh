# TLS termination, end to end: https listeners that terminate TLS with
# an RSA or an EC key, client certificates verified against a test CA
# (required, or optional), the verified identity in the audit record and
# in "from identity" rules of services and routes, the SNI/Host check,
# TLS origination with a client certificate ("tls mutual"), private keys
# held by the helper only (proved from /proc/PID/mem with keymem.py), and
# a reload that replaces the certificate, or refuses a key that does not
# fit.  Certificates are made here with openssl; the origins are
# origin.py (plain HTTP) and a small Python HTTPS server that requires a
# client certificate; dnsmasq maps every *.test name to 127.0.0.1.
. "$SRCDIR/regress/e2e/common.sh"
command -v dnsmasq >/dev/null || { fail "dnsmasq is installed"; done_testing; exit 1; }
command -v openssl >/dev/null || { fail "openssl is installed"; done_testing; exit 1; }

# Eight ports, all different (free_port may give one twice).
while :; do
	P1=$(free_port); P2=$(free_port); P3=$(free_port); P4=$(free_port)
	P5=$(free_port); OP=$(free_port); MP=$(free_port); DP=$(free_port)
	[ "$(printf '%s\n' $P1 $P2 $P3 $P4 $P5 $OP $MP $DP | sort -u | wc -l)" = 8 ] && break
done
SPIFFE_B=spiffe://cluster.local/ns/a/sa/b
SPIFFE_Y=spiffe://cluster.local/ns/x/sa/y

# --- certificates ---
# Two CAs; the gateway's server certificate (RSA), the same names with
# an EC P-256 key, two more RSA pairs for the reload, one under an
# intermediate CA; clients: b
# (SAN URI, SAN DNS, CN client-b), y, a CN-only one, a SAN-DNS-only one,
# one from the other CA, one expired; the mutual origin's certificate and
# the gateway's own client certificate for "tls mutual".
RSA=rsa:2048
EC="ec -pkeyopt ec_paramgen_curve:P-256"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=egressd test CA" \
    -keyout "$T/ca.key" -out "$T/ca.pem" >/dev/null 2>&1
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=another CA" \
    -keyout "$T/ca2.key" -out "$T/ca2.pem" >/dev/null 2>&1
NAMES="gw.test api.test other.test front.test bonly.test nsa.test legacy.test dnsid.test cnid.test netok.test netno.test rid.test"
SAN=$(for n in $NAMES; do printf 'DNS:%s,' "$n"; done | sed 's/,$//')
mkcert() {	# mkcert NAME KEYTYPE SUBJECT EXTENSIONS [CA]
	# shellcheck disable=SC2086	# KEYTYPE is words on purpose
	openssl req -newkey $2 -nodes -subj "$3" \
	    -keyout "$T/$1.key" -out "$T/$1.csr" >/dev/null 2>&1
	printf '%b\n' "$4" > "$T/$1.ext"
	openssl x509 -req -in "$T/$1.csr" -CA "$T/${5:-ca}.pem" -CAkey "$T/${5:-ca}.key" \
	    -CAcreateserial -days 2 -extfile "$T/$1.ext" -out "$T/$1.pem" >/dev/null 2>&1
}
CLI='basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth'
mkcert gw "$RSA" /CN=gw.test "subjectAltName=$SAN"
mkcert gwec "$EC" /CN=gw.test "subjectAltName=$SAN"
mkcert gw2 "$RSA" /CN=gw.test "subjectAltName=$SAN"
mkcert gw3 "$RSA" /CN=gw.test "subjectAltName=$SAN"
# A chain: the leaf signed by an intermediate CA, the file leaf first.
mkcert ica "$RSA" "/CN=egressd test intermediate" \
    'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign'
mkcert gwchain "$RSA" /CN=gw.test "subjectAltName=$SAN" ica
cat "$T/gwchain.pem" "$T/ica.pem" > "$T/gwchain-full.pem"
mkcert b "$RSA" /CN=client-b "subjectAltName=URI:$SPIFFE_B,DNS:b.client.test\n$CLI"
mkcert y "$EC" /CN=client-y "subjectAltName=URI:$SPIFFE_Y\n$CLI"
mkcert legacy "$EC" /CN=legacy-client "$CLI"
mkcert dnsonly "$EC" /CN=dns-client "subjectAltName=DNS:dns.client.test\n$CLI"
mkcert rogue "$EC" /CN=client-b "subjectAltName=URI:$SPIFFE_B\n$CLI" ca2
mkcert mtlsorigin "$RSA" /CN=mtls.test "subjectAltName=DNS:mtls.test,DNS:mtls-simple.test"
mkcert gwclient "$EC" /CN=egressd-gateway \
    "subjectAltName=URI:spiffe://cluster.local/ns/egress/sa/egressd\n$CLI"
# The expired client, signed with a validity that ended in 2020.
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=client-b \
    -keyout "$T/expired.key" -out "$T/expired.csr" >/dev/null 2>&1
printf 'subjectAltName=URI:%s\n%b\n' "$SPIFFE_B" "$CLI" > "$T/expired.ext"
sign_expired "$T/expired"
made=0
for c in gw gwec gw2 gw3 ica gwchain b y legacy dnsonly rogue mtlsorigin gwclient expired; do
	[ -s "$T/$c.pem" ] && [ -s "$T/$c.key" ] || { made=1; diag "certificate $c missing"; }
done
serial() { openssl x509 -in "$T/$1.pem" -noout -serial; }
[ "$(serial gw)" != "$(serial gw2)" ] && [ "$(serial gw2)" != "$(serial gw3)" ] || made=1
openssl verify -CAfile "$T/ca.pem" "$T/b.pem" >/dev/null 2>&1 || made=1
openssl verify -CAfile "$T/ca.pem" "$T/gwchain.pem" >/dev/null 2>&1 && made=1	# not without ica
openssl verify -CAfile "$T/ca.pem" -untrusted "$T/ica.pem" "$T/gwchain.pem" >/dev/null 2>&1 || made=1
openssl verify -CAfile "$T/ca.pem" "$T/rogue.pem" >/dev/null 2>&1 && made=1
openssl verify -CAfile "$T/ca.pem" "$T/expired.pem" >/dev/null 2>&1 && made=1
ok $made "test CAs and certificates made (the rogue and the expired one fail to verify)"

# --- origins ---
start_origin 127.0.0.1 "$OP"
# The mutual origin: HTTPS, a client certificate required (test CA); it
# logs each handshake's SNI, each refused handshake, and with each
# request the subject and SAN of the client's certificate.
cat > "$T/mtlsorigin.py" <<'PY'
import http.server, ssl, sys, threading
addr, port, cert, key, ca, log = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6]
def note(s):
    with open(log, "a") as f:
        f.write(s + "\n")
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        pc = self.connection.getpeercert() or {}
        subj = ",".join("%s=%s" % a for rdn in pc.get("subject", ()) for a in rdn)
        san = ",".join("%s:%s" % a for a in pc.get("subjectAltName", ()))
        note("GET %s %s peer=%s san=%s" % (self.headers.get("Host"), self.path, subj, san))
        body = b"mutual origin says hello\n"
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
ctx.verify_mode = ssl.CERT_REQUIRED
ctx.load_verify_locations(ca)
ctx.sni_callback = lambda s, name, c: note("HELLO sni=%s" % name)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True,
    do_handshake_on_connect=False)
open(log + ".ready", "w").close()
threading.Timer(1800, srv.shutdown).start()
srv.serve_forever()
PY
: > "$T/mtls.log"
python3 "$T/mtlsorigin.py" 127.0.0.1 "$MP" "$T/mtlsorigin.pem" "$T/mtlsorigin.key" \
    "$T/ca.pem" "$T/mtls.log" 2>"$T/mtlsorigin.err" &
EXTRA_PIDS="${EXTRA_PIDS:-} $!"
wait_for 50 test -f "$T/mtls.log.ready"
start_dns "$DP" --address=/test/127.0.0.1

# The mutual origin itself: no client certificate, no answer; the
# gateway's client certificate, an answer (so a 502 below is the
# origin's doing, and a 200 the certificate's).
direct() {
	curl -s -m 5 -o /dev/null -w '%{http_code}' --cacert "$T/ca.pem" \
	    --resolve "mtls.test:$MP:127.0.0.1" "$@" "https://mtls.test:$MP/direct"
}
c1=$(direct); c2=$(direct --cert "$T/gwclient.pem" --key "$T/gwclient.key")
ok $([ "$c1" = 000 ] && [ "$c2" = 200 ]; echo $?) \
    "the mutual origin refuses a client without a certificate ($c1) and serves one with ($c2)"

# --- egressd -n: what the grammar refuses, each next to what it accepts ---
mini() {	# mini NAME LISTEN-OPTIONS [DESTINATION-PORT-LINE]: $T/NAME.conf
	{
		echo "user \"$EGD_USER\""
		echo "chroot \"$T/root\""
		echo 'gateway "g" {'
		echo "	listen on 127.0.0.1 port $P1 $2"
		echo '}'
		echo "nameserver 127.0.0.1 port $DP"
		if [ -n "${3:-}" ]; then
			echo 'service "s" {'
			echo '	hosts { "mtls.test" }'
			echo "	port $MP https"
			echo '}'
			echo 'destination "d" {'
			echo '	host "mtls.test"'
			echo "	$3"
			echo '}'
		fi
	} > "$T/$1.conf"
	"$EGRESSD" -n -f "$T/$1.conf" > "$T/$1.out" 2>&1
}
said() { grep -q -- "$2" "$T/$1.out"; }
out1() { head -n 2 "$T/$1.out" | tr '\n' ' '; }
# accepted NAME LISTEN [DEST]: -n says OK.  refused NAME LINE LISTEN [DEST]:
# -n fails with an error at NAME.conf:LINE ('[0-9]*' for any line).
accepted() { mini "$@" && said "$1" "configuration OK"; }
refused() { _n=$1 _l=$2; shift 2; ! mini "$_n" "$@" && said "$_n" "$_n.conf:$_l: "; }
ok $(accepted n-https "https cert \"$T/gw.pem\" key \"$T/gw.key\""; echo $?) \
    "-n: an https listener with cert and key is accepted ($(out1 n-https))"
ok $(accepted n-full "https cert \"$T/gwec.pem\" key \"$T/gwec.key\" client ca \"$T/ca.pem\" client optional min version \"1.3\" ciphers \"ECDHE-ECDSA-AES128-GCM-SHA256\""; echo $?) \
    "-n: an EC key, client ca, client optional, min version, ciphers are accepted ($(out1 n-full))"
ok $(accepted n-mutual http "port $MP tls mutual cert \"$T/gwclient.pem\" key \"$T/gwclient.key\" ca \"$T/ca.pem\""; echo $?) \
    "-n: tls mutual with cert and key is accepted ($(out1 n-mutual))"
ok $(refused n-nokey '[0-9]*' "https cert \"$T/gw.pem\""; echo $?) \
    "-n: an https listener without key is refused ($(out1 n-nokey))"
ok $(refused n-nocert '[0-9]*' "https key \"$T/gw.key\""; echo $?) \
    "-n: an https listener without cert is refused ($(out1 n-nocert))"
ok $(refused n-bare '[0-9]*' https; echo $?) \
    "-n: an https listener with neither is refused ($(out1 n-bare))"
ok $(refused n-mismatch '[0-9]*' "https cert \"$T/gw.pem\" key \"$T/gw2.key\"" &&
    said n-mismatch gw2.key; echo $?) \
    "-n: a key that does not match the certificate is refused, naming the key ($(out1 n-mismatch))"
ok $(refused n-missing 4 "https cert \"$T/gw.pem\" key \"$T/nosuch.key\"" &&
    said n-missing nosuch.key; echo $?) \
    "-n: a missing key file is refused at FILE:LINE, naming it ($(out1 n-missing))"
ok $(refused n-missingcert 4 "https cert \"$T/nosuch.pem\" key \"$T/gw.key\"" &&
    said n-missingcert nosuch.pem; echo $?) \
    "-n: a missing cert file is refused at FILE:LINE, naming it ($(out1 n-missingcert))"
echo "this is not a certificate" > "$T/notpem.pem"
ok $(refused n-notpem '[0-9]*' "https cert \"$T/notpem.pem\" key \"$T/gw.key\""; echo $?) \
    "-n: a cert file that is not PEM is refused ($(out1 n-notpem))"
ok $(refused n-mutualnocert '[0-9]*' http "port $MP tls mutual ca \"$T/ca.pem\""; echo $?) \
    "-n: tls mutual without cert and key is refused ($(out1 n-mutualnocert))"
ok $(refused n-mutualnokey '[0-9]*' http "port $MP tls mutual cert \"$T/gwclient.pem\" ca \"$T/ca.pem\""; echo $?) \
    "-n: tls mutual without key is refused ($(out1 n-mutualnokey))"

# --- the gateway ---
# mtls: client certificate required; opt: optional; ec: an EC key, one
# TLS 1.2 cipher; v13: TLS 1.3 only, a certificate chain; plain: HTTP.  Every name is routed
# to the plain origin; the services carry the identity rules, the route
# "rid" one of its own.
MXP=$(free_port)
fwd() { for n in "$@"; do printf '\tmatch authority "%s" {\n\t\tforward to "%s" port %s\n\t}\n' "$n" "$n" "$OP"; done; }
cat > "$T/egressd.conf" <<CONF
user "$EGD_USER"
chroot "$T/root"
workers 2
nameserver 127.0.0.1 port $DP
request timeout 2
idle timeout 5
metrics listen on 127.0.0.1 port $MXP
gateway "mtls" {
	listen on 127.0.0.1 port $P1 https cert "$T/gw.pem" key "$T/gw.key" client ca "$T/ca.pem"
}
gateway "opt" {
	listen on 127.0.0.1 port $P2 https cert "$T/gw.pem" key "$T/gw.key" client ca "$T/ca.pem" client optional
}
gateway "ec" {
	listen on 127.0.0.1 port $P3 https cert "$T/gwec.pem" key "$T/gwec.key" ciphers "ECDHE-ECDSA-AES128-GCM-SHA256"
}
gateway "v13" {
	listen on 127.0.0.1 port $P4 https cert "$T/gwchain-full.pem" key "$T/gwchain.key" min version "1.3"
}
gateway "plain" {
	listen on 127.0.0.1 port $P5 http
}
service "api" {
	hosts { "api.test", "other.test" }
	port $OP http
	allow private
}
service "front" {
	hosts { "front.test" }
	port $OP http
	allow private
	sni check off
}
service "bonly" {
	hosts { "bonly.test" }
	port $OP http
	allow private
	from identity "$SPIFFE_B"
}
service "nsa" {
	hosts { "nsa.test" }
	port $OP http
	allow private
	from identity "spiffe://cluster.local/ns/a/*"
}
service "legacy" {
	hosts { "legacy.test" }
	port $OP http
	allow private
	from identity "legacy-client"
	from identity "$SPIFFE_Y"
}
service "dnsid" {
	hosts { "dnsid.test" }
	port $OP http
	allow private
	from identity "b.client.test"
}
service "cnid" {
	hosts { "cnid.test" }
	port $OP http
	allow private
	from identity "client-b"
}
service "netok" {
	hosts { "netok.test" }
	port $OP http
	allow private
	from { 127.0.0.0/8 }
	from identity "$SPIFFE_B"
}
service "netno" {
	hosts { "netno.test" }
	port $OP http
	allow private
	from { 10.99.0.0/16 }
	from identity "$SPIFFE_B"
}
service "rid" {
	hosts { "rid.test" }
	port $OP http
	allow private
}
service "mtls" {
	hosts { "mtls.test", "mtls-simple.test" }
	port $MP https
	allow private
}
route "rid" {
	from identity "$SPIFFE_Y"
$(fwd rid.test)
}
route "to-origin" {
$(fwd api.test other.test front.test bonly.test nsa.test legacy.test dnsid.test cnid.test netok.test netno.test)
}
destination "mtls" {
	host "mtls.test"
	port $MP tls mutual cert "$T/gwclient.pem" key "$T/gwclient.key" ca "$T/ca.pem"
}
destination "mtls-simple" {
	host "mtls-simple.test"
	port $MP tls simple ca "$T/ca.pem"
}
CONF
mkdir -p "$T/root"
"$EGRESSD" -n -f "$T/egressd.conf" > "$T/n.out" 2>&1
ok $(grep -q "configuration OK" "$T/n.out"; echo $?) \
    "-n: the test configuration (https listeners, from identity, tls mutual) is OK ($(head -n 3 "$T/n.out" | tr '\n' ' '))"
start_egressd "$T/egressd.conf" || { fail "egressd starts with https listeners"; done_testing; exit 1; }
pass "egressd starts with https listeners"
kids0=$(children_of "$EGD_PID" | sort | tr '\n' ' ')

audit_last() { audit_get last "$@"; }
wait_audit() { wait_for 30 sh -c "[ \"\$(python3 '$SRCDIR/regress/e2e/audit.py' '$T/egressd.log' count $*)\" -gt 0 ]"; }
# wait_more N KEY=VALUE...: until more than N records match
wait_more() { n=$1; shift; wait_for 30 sh -c "[ \"\$(python3 '$SRCDIR/regress/e2e/audit.py' '$T/egressd.log' count $*)\" -gt $n ]"; }
seen() { origin_count "\"/small?t=$1\""; }	# requests the plain origin got with tag $1
# get PORT NAME TAG CLIENT [CURL-ARGS...]: GET https://NAME:PORT/small?t=TAG
# as CLIENT (a certificate in $T, or - for none); prints the status
# (000: no answer), the body in $T/body, curl's -v in $T/TAG.err.
get() {
	_p=$1 _n=$2 _t=$3 _c=$4; shift 4
	[ "$_c" != - ] && set -- --cert "$T/$_c.pem" --key "$T/$_c.key" "$@"
	curl -s -v -m 5 -o "$T/body" -w '%{http_code}' --cacert "$T/ca.pem" \
	    --resolve "$_n:$_p:127.0.0.1" "$@" "https://$_n:$_p/small?t=$_t" 2>"$T/$_t.err"
}
body() { cat "$T/body" 2>/dev/null; }
ssl_line() { sed -n 's/^\* SSL connection using //p' "$T/$1.err" | head -n 1; }

# 1. Terminated: a client with certificate b, the answer from the plain origin.
code=$(get "$P1" api.test t01 b)
ok $([ "$code" = 200 ] && [ "$(body)" = hello ]; echo $?) \
    "https listener: 200 and the origin's body through the terminating listener ($code)"
ok $([ "$(seen t01)" = 1 ]; echo $?) "the origin got the request once"
ok $(grep -q "subject: CN=gw.test" "$T/t01.err"; echo $?) \
    "the client saw the gateway's certificate (terminated, not passed through)"
ok $(ssl_line t01 | grep -q '^TLSv1.3'; echo $?) "RSA key, TLS 1.3 ($(ssl_line t01))"
wait_audit _msgid=REQUEST path=/small?t=t01
ok $([ "$(audit_last scheme _msgid=REQUEST path=/small?t=t01)" = https ]; echo $?) \
    "audit: scheme https ($(audit_last scheme _msgid=REQUEST path=/small?t=t01))"
ok $([ "$(audit_last identity _msgid=REQUEST path=/small?t=t01)" = "$SPIFFE_B" ]; echo $?) \
    "audit: identity is the SAN URI ($(audit_last identity _msgid=REQUEST path=/small?t=t01))"
ok $([ "$(audit_last gateway _msgid=REQUEST path=/small?t=t01)" = mtls ] &&
    [ "$(audit_last status _msgid=REQUEST path=/small?t=t01)" = 200 ]; echo $?) \
    "audit: gateway mtls, status 200"

code=$(get "$P1" api.test t02 b --tls-max 1.2)
ok $([ "$code" = 200 ] && ssl_line t02 | grep -q '^TLSv1.2 / ECDHE-RSA-'; echo $?) \
    "RSA key, TLS 1.2: 200 ($code, $(ssl_line t02))"
code=$(get "$P1" api.test t03 dnsonly)
wait_audit _msgid=REQUEST path=/small?t=t03
ok $([ "$code" = 200 ] && [ "$(audit_last identity _msgid=REQUEST path=/small?t=t03)" = dns.client.test ]; echo $?) \
    "a certificate with only a SAN DNS: identity is that name ($code, $(audit_last identity _msgid=REQUEST path=/small?t=t03))"
code=$(get "$P1" api.test t04 legacy)
wait_audit _msgid=REQUEST path=/small?t=t04
ok $([ "$code" = 200 ] && [ "$(audit_last identity _msgid=REQUEST path=/small?t=t04)" = legacy-client ]; echo $?) \
    "a certificate without SAN: identity is the CN ($code, $(audit_last identity _msgid=REQUEST path=/small?t=t04))"
# No SNI (an address in the URL): no check, the Host decides.
code=$(curl -s -m 5 -k -o "$T/body" -w '%{http_code}' --cert "$T/b.pem" --key "$T/b.key" \
    -H "Host: api.test:$P1" "https://127.0.0.1:$P1/small?t=t05")
ok $([ "$code" = 200 ] && [ "$(seen t05)" = 1 ]; echo $?) "a client without SNI is served by its Host ($code)"

# 2. The client certificate is required: none, another CA's, an expired one.
tls_refused() {	# tls_refused PORT TAG CLIENT WHAT
	n0=$(audit_get count _msgid=DENY reason=client_tls_failed)
	code=$(get "$1" api.test "$2" "$3")
	ok $([ "$code" = 000 ] && [ "$(seen "$2")" = 0 ]; echo $?) \
	    "$4: the handshake fails, nothing reaches the origin ($code)"
	wait_more "$n0" _msgid=DENY reason=client_tls_failed
	ok $([ "$(audit_get count _msgid=DENY reason=client_tls_failed)" -gt "$n0" ]; echo $?) \
	    "$4: audit DENY client_tls_failed"
}
tls_refused "$P1" t10 - "client ca, no client certificate"
tls_refused "$P1" t11 rogue "client ca, a certificate from another CA (same SAN URI)"
tls_refused "$P1" t12 expired "client ca, an expired certificate"
tls_refused "$P2" t13 rogue "client optional, a certificate from another CA"
ok $([ "$(audit_last client_tls_error _msgid=DENY reason=client_tls_failed)" != "" ]; echo $?) \
    "the DENY says why ($(audit_last client_tls_error _msgid=DENY reason=client_tls_failed))"

# A client that sends its ClientHello and then nothing: closed after the
# request timeout (2 s), on the record.  One that says nothing at all is
# closed without one.
n0=$(audit_get count _msgid=DENY reason=client_tls_failed)
python3 - "$P1" <<'PY'
import socket, ssl, sys, time
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
inb, outb = ssl.MemoryBIO(), ssl.MemoryBIO()
o = ctx.wrap_bio(inb, outb, server_hostname="api.test")
try:
    o.do_handshake()
except ssl.SSLWantReadError:
    pass
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(outb.read())		# the ClientHello, then silence
# Closed by egressd (an end of stream or a reset, not our own time-out
# of a minute), and not before the request timeout: a lower bound only,
# which a slow machine cannot break.
s.settimeout(60)
t = time.time()
closed = False
try:
    while s.recv(65536):
        pass
    closed = True
except socket.timeout:
    pass
except OSError:
    closed = True
sys.exit(0 if closed and time.time() - t >= 1 else 1)
PY
ok $? "a stalled handshake is closed after the request timeout"
wait_more "$n0" _msgid=DENY reason=client_tls_failed
ok $([ "$(audit_last client_tls_error _msgid=DENY reason=client_tls_failed)" = "handshake not finished in time" ]; echo $?) \
    "and recorded: client_tls_failed, handshake not finished in time"
n0=$(audit_get count _msgid=DENY)
r0=$(audit_get count _msgid=REQUEST)
python3 -c 'import socket,sys,time; s=socket.create_connection(("127.0.0.1",int(sys.argv[1]))); time.sleep(0.3); s.close()' "$P1"
get "$P3" api.test t14 - >/dev/null	# a record after it, to wait for
wait_more "$r0" _msgid=REQUEST
ok $([ "$(audit_get count _msgid=DENY)" = "$n0" ]; echo $?) \
    "a connection closed before any ClientHello leaves no record"
# Plain HTTP to the https port: a failed handshake, nothing forwarded.
python3 -c 'import socket,sys; s=socket.create_connection(("127.0.0.1",int(sys.argv[1]))); s.sendall(b"GET /small?t=t15 HTTP/1.1\r\nHost: api.test\r\n\r\n"); s.settimeout(5); s.recv(100)' "$P1" 2>/dev/null
wait_more "$n0" _msgid=DENY reason=client_tls_failed
ok $([ "$(audit_last client_tls_error _msgid=DENY reason=client_tls_failed)" = "http request" ] &&
    [ "$(seen t15)" = 0 ]; echo $?) \
    "plain HTTP to an https listener: refused in the handshake ($(audit_last client_tls_error _msgid=DENY reason=client_tls_failed))"

# 3. client optional: no certificate, no identity.
code=$(get "$P2" api.test t20 -)
ok $([ "$code" = 200 ] && [ "$(seen t20)" = 1 ]; echo $?) \
    "client optional, no certificate: served on a service without identity rules ($code)"
wait_audit _msgid=REQUEST path=/small?t=t20
ok $([ "$(audit_last identity _msgid=REQUEST path=/small?t=t20)" = "" ] &&
    [ "$(audit_last scheme _msgid=REQUEST path=/small?t=t20)" = https ]; echo $?) \
    "audit: scheme https and no identity"
code=$(get "$P2" bonly.test t21 -)
ok $([ "$code" = 403 ] && [ "$(seen t21)" = 0 ] && grep -q identity_denied "$T/body"; echo $?) \
    "client optional, no certificate, a service with an identity rule: 403 ($code, $(body))"
wait_audit _msgid=DENY path=/small?t=t21
ok $([ "$(audit_last reason _msgid=DENY path=/small?t=t21)" = identity_denied ]; echo $?) \
    "audit: DENY identity_denied"
code=$(get "$P2" bonly.test t22 b)
wait_audit _msgid=REQUEST path=/small?t=t22
ok $([ "$code" = 200 ] && [ "$(audit_last identity _msgid=REQUEST path=/small?t=t22)" = "$SPIFFE_B" ]; echo $?) \
    "client optional with certificate b: verified, identity recorded, 200 ($code)"

# 4. Identity rules.
allowed() {	# allowed NAME TAG CLIENT WHAT
	code=$(get "$P1" "$1" "$2" "$3")
	ok $([ "$code" = 200 ] && [ "$(seen "$2")" = 1 ]; echo $?) "$4: 200, the origin got it ($code)"
}
denied() {	# denied NAME TAG CLIENT WHAT [REASON]
	code=$(get "$P1" "$1" "$2" "$3")
	wait_audit _msgid=DENY path=/small?t=$2
	r=$(audit_last reason _msgid=DENY path=/small?t="$2")
	ok $([ "$code" = 403 ] && [ "$(seen "$2")" = 0 ] &&
	    echo "$r" | grep -Eqx "${5:-identity_denied}"; echo $?) \
	    "$4: 403 $r, nothing reached the origin ($code)"
}
allowed bonly.test t30 b "exact identity rule, client b"
denied bonly.test t31 y "exact identity rule, client y"
denied bonly.test t32 legacy "exact identity rule, the CN-only client"
ok $([ "$(audit_last identity _msgid=DENY path=/small?t=t31)" = "$SPIFFE_Y" ]; echo $?) \
    "audit: the refused client's identity is recorded"
allowed nsa.test t33 b "prefix rule spiffe://cluster.local/ns/a/*, client b"
denied nsa.test t34 y "prefix rule, client y (ns/x)"
allowed legacy.test t35 legacy "CN rule legacy-client, the CN-only client"
allowed legacy.test t36 y "a second from identity line, client y"
denied legacy.test t37 b "two identity lines, client b in neither"
allowed dnsid.test t38 b "a rule naming a SAN DNS of client b"
denied dnsid.test t39 y "a SAN DNS rule, client y"
allowed cnid.test t40 b "a rule naming the CN of client b, which has SANs too"
denied cnid.test t41 y "a CN rule, client y"
allowed netok.test t42 b "identity and from networks that both hold"
denied netok.test t43 y "networks hold, identity does not"
denied netno.test t44 b "identity holds, networks do not" "identity_denied|source_denied"
allowed rid.test t45 y "a route's identity rule, client y"
denied rid.test t46 b "a route's identity rule, client b"
ok $([ "$(audit_last route _msgid=DENY path=/small?t=t46)" = rid ]; echo $?) \
    "audit: the refusing route is named"

# A plain HTTP client has no identity: never matches a rule.
code=$(curl -s -m 5 -o "$T/body" -w '%{http_code}' -H "Host: bonly.test" "http://127.0.0.1:$P5/small?t=t47")
wait_audit _msgid=DENY path=/small?t=t47
ok $([ "$code" = 403 ] && [ "$(seen t47)" = 0 ] &&
    [ "$(audit_last reason _msgid=DENY path=/small?t=t47)" = identity_denied ]; echo $?) \
    "plain http listener, a service with an identity rule: 403 identity_denied ($code)"
code=$(curl -s -m 5 -o "$T/body" -w '%{http_code}' -H "Host: api.test" "http://127.0.0.1:$P5/small?t=t48")
wait_audit _msgid=REQUEST path=/small?t=t48
ok $([ "$code" = 200 ] && [ "$(audit_last scheme _msgid=REQUEST path=/small?t=t48)" = http ] &&
    [ "$(audit_last identity _msgid=REQUEST path=/small?t=t48)" = "" ]; echo $?) \
    "plain http listener: 200, scheme http, no identity ($code)"

# 5. SNI against Host.
code=$(get "$P1" api.test t50 b -H "Host: other.test:$P1")
wait_audit _msgid=DENY path=/small?t=t50
ok $([ "$code" = 421 ] && [ "$(seen t50)" = 0 ]; echo $?) \
    "SNI api.test, Host other.test: 421, nothing reached the origin ($code, $(body))"
ok $([ "$(audit_last reason _msgid=DENY path=/small?t=t50)" = sni_mismatch ]; echo $?) \
    "audit: DENY sni_mismatch"
code2=$(curl -s -m 5 -o /dev/null -w '%{http_code}' -H "Host: other.test" "http://127.0.0.1:$P5/small?t=t52")
ok $([ "$code2" = 200 ]; echo $?) "(other.test itself is let out: over plain http, 200 ($code2))"
code=$(get "$P1" api.test t53 b -H "Host: front.test:$P1")
ok $([ "$code" = 200 ] && [ "$(seen t53)" = 1 ]; echo $?) \
    "SNI api.test, Host front.test, whose service has sni check off: 200 ($code)"

# 6. The EC key, TLS 1.3 and 1.2, one cipher; TLS 1.3 only.
code=$(get "$P3" api.test t60 -)
ok $([ "$code" = 200 ] && ssl_line t60 | grep -q '^TLSv1.3'; echo $?) "EC key, TLS 1.3: 200 ($code, $(ssl_line t60))"
openssl s_client -connect "127.0.0.1:$P3" -servername api.test </dev/null 2>/dev/null |
    openssl x509 -noout -text > "$T/ec.txt" 2>&1
ok $(grep -q "id-ecPublicKey" "$T/ec.txt"; echo $?) "EC listener: the certificate presented has the EC key"
code=$(get "$P3" api.test t61 - --tls-max 1.2)
ok $([ "$code" = 200 ] && [ "$(ssl_line t61)" = "TLSv1.2 / ECDHE-ECDSA-AES128-GCM-SHA256" ]; echo $?) \
    "EC key, TLS 1.2 with the configured cipher: 200 ($code, $(ssl_line t61))"
code=$(get "$P3" api.test t62 - --tls-max 1.2 --ciphers ECDHE-ECDSA-AES256-GCM-SHA384)
ok $([ "$code" = 000 ] && [ "$(seen t62)" = 0 ]; echo $?) "EC listener: a TLS 1.2 cipher outside its list fails ($code)"
code=$(get "$P4" api.test t63 -)
ok $([ "$code" = 200 ]; echo $?) \
    "min version 1.3: TLS 1.3 served, the chain verified against the root alone ($code)"
n=$(openssl s_client -connect "127.0.0.1:$P4" -servername api.test -showcerts </dev/null 2>/dev/null |
    grep -c 'BEGIN CERTIFICATE')
ok $([ "$n" = 2 ]; echo $?) "the listener sends the leaf and the intermediate of its cert file ($n)"
code=$(get "$P4" api.test t64 - --tls-max 1.2)
ok $([ "$code" = 000 ] && [ "$(seen t64)" = 0 ]; echo $?) "min version 1.3: TLS 1.2 fails ($code)"

# 7. tls mutual: the origin sees the gateway's client certificate.
code=$(curl -s -m 5 -o "$T/body" -w '%{http_code}' -H "Host: mtls.test:$MP" "http://127.0.0.1:$P5/m1")
ok $([ "$code" = 200 ] && [ "$(body)" = "mutual origin says hello" ]; echo $?) \
    "tls mutual: 200 from the origin that requires a client certificate ($code)"
ok $(grep -q "^GET mtls.test:$MP /m1 peer=commonName=egressd-gateway san=URI:spiffe://cluster.local/ns/egress/sa/egressd" "$T/mtls.log"; echo $?) \
    "tls mutual: the origin saw the gateway's client certificate ($(grep ' /m1 ' "$T/mtls.log"))"
wait_audit _msgid=REQUEST path=/m1
ok $([ "$(audit_last tls _msgid=REQUEST path=/m1)" = originated ] &&
    [ "$(audit_last tls_verify _msgid=REQUEST path=/m1)" = ok ]; echo $?) \
    "audit: tls originated, tls_verify ok"
r0=$(grep -c '^REFUSED' "$T/mtls.log")
code=$(curl -s -m 5 -o "$T/body" -w '%{http_code}' -H "Host: mtls-simple.test:$MP" "http://127.0.0.1:$P5/m2")
ok $([ "$code" = 502 ] && ! grep -q ' /m2 ' "$T/mtls.log"; echo $?) \
    "tls simple to the same origin: 502, no request reached it ($code, $(body))"
ok $([ "$(grep -c '^REFUSED' "$T/mtls.log")" -gt "$r0" ]; echo $?) \
    "tls simple: the origin refused the handshake without a client certificate"
ok $([ "$(audit_last reason _msgid=DENY path=/m2)" = tls_handshake_failed ] &&
    [ -n "$(audit_last tls_verify _msgid=DENY path=/m2)" ]; echo $?) \
    "audit: tls_handshake_failed, with OpenSSL's reason ($(audit_last tls_verify _msgid=DENY path=/m2))"
# a second request, so that both workers have likely done a mutual handshake
curl -s -m 5 -o /dev/null -H "Host: mtls.test:$MP" -H 'Connection: close' "http://127.0.0.1:$P5/m3"
for i in 1 2 3 4; do get "$P1" api.test "t7$i" b >/dev/null; get "$P3" api.test "t8$i" - >/dev/null; done

# 8. The keys: never in a worker, in the helper (which proves the search).
workers=$(workers_of "$EGD_PID" | tr '\n' ' ')
helper=
for c in $(children_of "$EGD_PID"); do [ "$(role_of "$c")" = helper ] && helper=$c; done
ok $([ "$(echo $workers | wc -w)" = 2 ] && [ -n "$helper" ]; echo $?) "two workers ($workers), one helper ($helper)"
ok $([ "$(children_of "$EGD_PID" | sort | tr '\n' ' ')" = "$kids0" ]; echo $?) \
    "no worker and no helper died or was replaced while serving TLS ($kids0)"
for k in gw gwec gwclient; do
	python3 "$SRCDIR/regress/e2e/keymem.py" $workers "$T/$k.key" > "$T/km-w-$k.out" 2>&1
	rc=$?
	ok $([ "$rc" = 1 ]; echo $?) "$k.key: in no worker's memory (keymem exit $rc)"
	[ "$rc" = 1 ] || sed 's/^/# /' "$T/km-w-$k.out"
	python3 "$SRCDIR/regress/e2e/keymem.py" "$helper" "$T/$k.key" > "$T/km-h-$k.out" 2>&1
	rc=$?
	ok $([ "$rc" = 0 ]; echo $?) "$k.key: in the helper's memory (keymem exit $rc: $(grep '^pid' "$T/km-h-$k.out"))"
done
metric() {
	curl -s "http://127.0.0.1:$MXP/metrics" | awk -v n="$1" '$1 == n { print $2 }'
}
kops=$(metric egressd_key_operations_total)
kref=$(metric egressd_key_operations_refused_total)
ok $([ "${kops:-0}" -ge 2 ] && [ "$kref" = 0 ]; echo $?) \
    "metrics: the helper signed for the handshakes ($kops operations, $kref refused)"
for w in $workers; do
	bad=$(for fd in "/proc/$w/fd"/*; do
		[ "${fd##*/}" -le 2 ] && continue	# stdio, inherited
		l=$(readlink "$fd") || continue
		case $l in socket:*|pipe:*|anon_inode:*|/dev/null) ;; *) echo "$l" ;; esac
	done | head -n 3)
	ok $([ -z "$bad" ]; echo $?) "worker $w: no file open, only sockets, pipes, anon inodes ${bad:+($bad)}"
done

# 9. Reload: a new certificate and key; then a key that does not fit.
srv_serial() {
	openssl s_client -connect "127.0.0.1:$P1" -servername api.test \
	    -cert "$T/b.pem" -key "$T/b.key" </dev/null 2>/dev/null |
	    openssl x509 -noout -serial 2>/dev/null
}
s1=$(srv_serial)
ok $([ "$s1" = "$(serial gw)" ]; echo $?) "before the reload: the first certificate is served ($s1)"
# The new certificate file holds its key too (a combined PEM): the
# parent passes on only the certificates.
cat "$T/gw2.pem" "$T/gw2.key" > "$T/gw.pem"; cp "$T/gw2.key" "$T/gw.key"
kill -HUP "$EGD_PID"
ok $(wait_for 50 log_has "reload: generation 2 in force"; echo $?) "SIGHUP with a new pair: generation 2 in force"
s2=$(srv_serial)
ok $([ "$s2" = "$(serial gw2)" ]; echo $?) "after the reload: the new certificate is served ($s2)"
code=$(get "$P1" api.test t90 b)
ok $([ "$code" = 200 ]; echo $?) "after the reload: requests are served with the new key ($code)"
for i in 1 2 3; do get "$P1" api.test "t9$i" b >/dev/null; done
workers=$(workers_of "$EGD_PID" | tr '\n' ' ')
python3 "$SRCDIR/regress/e2e/keymem.py" $workers "$T/gw2.key" > "$T/km-w-gw2.out" 2>&1
rc=$?
ok $([ "$rc" = 1 ]; echo $?) \
    "a key inside the certificate file reaches no worker (keymem exit $rc)"
[ "$rc" = 1 ] || sed 's/^/# /' "$T/km-w-gw2.out"
cp "$T/gw3.pem" "$T/gw.pem"	# gw.key stays gw2's
kill -HUP "$EGD_PID"
ok $(wait_for 50 log_has "keeping generation 2"; echo $?) \
    "SIGHUP with a key that does not fit the certificate: refused, generation 2 kept"
grep 'gw\.key\|gw\.pem' "$T/egressd.log" | tail -n 2 | sed 's/^/# log: /'
ok $(! log_has "generation 3 in force"; echo $?) "no generation 3"
s3=$(srv_serial)
ok $([ "$s3" = "$(serial gw2)" ]; echo $?) "the certificate of generation 2 is still served ($s3)"
code=$(get "$P1" api.test t95 b)
ok $([ "$code" = 200 ]; echo $?) "and requests are still served ($code)"

# 10. The helper dies: the parent starts another, gives it the keys and
# the workers new key channels; handshakes work again.
for c in $(children_of "$EGD_PID"); do [ "$(role_of "$c")" = helper ] && helper=$c; done
kill -KILL "$helper"
newhelper() {
	for c in $(children_of "$EGD_PID"); do
		[ "$(role_of "$c")" = helper ] && [ "$c" != "$helper" ] &&
		    return 0
	done
	return 1
}
ok $(wait_for 50 newhelper; echo $?) "a killed helper is replaced"
code=000
for i in $(seq 50); do	# bounded: until the new helper signs
	code=$(get "$P1" api.test "t96$i" b)
	[ "$code" = 200 ] && break
	sleep 0.2
done
ok $([ "$code" = 200 ]; echo $?) "handshakes are signed by the new helper ($code)"
for i in 1 2 3; do
	code=$(get "$P1" api.test "t97$i" b)
	[ "$code" = 200 ] || break
done
ok $([ "$code" = 200 ]; echo $?) "on every worker ($code)"

ok $(audit_get dump > "$T/audit.json"; echo $?) "every audit record parses ($(wc -l < "$T/audit.json") records)"
# (but the helper this test killed)
died=$(grep "seccomp\|killed by\|exited with status [1-9]" "$T/egressd.log" |
    grep -v "helper killed by signal 9" | head -n 1)
ok $([ -z "$died" ]; echo $?) "no child killed by its sandbox or dead with an error ($died)"
stop_egressd
ok $([ "$EGD_STATUS" = 0 ]; echo $?) "egressd stops cleanly"
done_testing
