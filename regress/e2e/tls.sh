# TLS origination, end to end: the seed scenario.  A plain HTTP request
# for edition.cnn.com goes to the gateway, a route sends it to the https
# port, and the gateway originates TLS there, verifying the server with
# a test CA.  Certificates are made here with openssl (a CA, the good
# one, a wrong name, an expired one); the origins are small Python HTTPS
# servers on 127.0.0.1 that log each handshake's SNI and each request;
# dnsmasq maps edition.cnn.com to 127.0.0.1.
. "$SRCDIR/regress/e2e/common.sh"
command -v dnsmasq >/dev/null || { fail "dnsmasq is installed"; done_testing; exit 1; }
command -v openssl >/dev/null || { fail "openssl is installed"; done_testing; exit 1; }

# Ten ports, all different (free_port may give one twice).
while :; do
	P=$(free_port); DP=$(free_port)
	OP=$(free_port); WP=$(free_port); XP=$(free_port); UP=$(free_port)
	SP=$(free_port); PP=$(free_port); VP=$(free_port)
	[ "$(printf '%s\n' $P $DP $OP $WP $XP $UP $SP $PP $VP 80 |
	    sort -u | wc -l)" = 10 ] && break
done

# The CA, and a certificate for edition.cnn.com, one for another name,
# and one for edition.cnn.com that expired (openssl ca: OpenSSL 3.0's
# x509 has no -not_before).
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=egressd test CA" \
    -keyout "$T/ca.key" -out "$T/ca.pem" >/dev/null 2>&1
mkcsr() {	# mkcsr NAME CN
	openssl req -newkey rsa:2048 -nodes -subj "/CN=$2" \
	    -keyout "$T/$1.key" -out "$T/$1.csr" >/dev/null 2>&1
	printf 'subjectAltName=DNS:%s\n' "$2" > "$T/$1.ext"
}
mkcsr good edition.cnn.com
mkcsr wrong www.example.org
mkcsr expired edition.cnn.com
for n in good wrong; do
	openssl x509 -req -in "$T/$n.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" \
	    -CAcreateserial -days 2 -extfile "$T/$n.ext" -out "$T/$n.pem" \
	    >/dev/null 2>&1
done
sign_expired "$T/expired"
ok $([ -s "$T/good.pem" ] && [ -s "$T/wrong.pem" ] && [ -s "$T/expired.pem" ]; echo $?) \
    "test CA and certificates made"

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
        if self.path.startswith("/eof"):
            self.protocol_version = "HTTP/1.0"
            self.send_response(200)
            self.end_headers()
            self.wfile.write(body * 1000)
            self.close_connection = True
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        if self.path.startswith("/close"):
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(body)
    def do_HEAD(self):
        note("HEAD %s %s" % (self.headers.get("Host"), self.path))
        self.send_response(200)
        self.send_header("Content-Length", "27")
        self.end_headers()
    def log_message(self, *a):
        pass
srv = http.server.ThreadingHTTPServer((addr, port), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
ctx.sni_callback = lambda s, name, c: note("HELLO sni=%s" % name)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True,
    do_handshake_on_connect=False)
open(log + ".ready", "w").close()
threading.Timer(1800, srv.shutdown).start()
srv.serve_forever()
PY
origin() {	# origin PORT CERT LOG
	python3 "$T/tlsorigin.py" 127.0.0.1 "$1" "$T/$2.pem" "$T/$2.key" "$T/$3" &
	EXTRA_PIDS="${EXTRA_PIDS:-} $!"
	: > "$T/$3"
	wait_for 50 test -f "$T/$3.ready"
}
origin "$OP" good good.log
origin "$WP" wrong wrong.log
origin "$XP" expired expired.log
origin "$UP" good unknown.log
# openssl s_server -www: HTTP/1.0, the body runs to its close_notify.
openssl s_server -accept "127.0.0.1:$SP" -cert "$T/good.pem" -key "$T/good.key" \
    -www -quiet >/dev/null 2>&1 </dev/null &
EXTRA_PIDS="${EXTRA_PIDS:-} $!"
# One that speaks TLS 1.2 only, for a port that wants 1.3 at least.
openssl s_server -accept "127.0.0.1:$VP" -cert "$T/good.pem" -key "$T/good.key" \
    -www -quiet -tls1_2 >/dev/null 2>&1 </dev/null &
EXTRA_PIDS="${EXTRA_PIDS:-} $!"
# A plain origin behind an https port its destination sets to "tls disable".
start_origin 127.0.0.1 "$PP"
start_dns "$DP" --address=/edition.cnn.com/127.0.0.1

cat > "$T/egressd.conf" <<CONF
user "$EGD_USER"
chroot "$T/root"
workers 1
nameserver 127.0.0.1 port $DP
request timeout 2
idle timeout 5
gateway "istio-egressgateway" {
	listen on 127.0.0.1 port $P http
}
service "cnn" {
	hosts { "edition.cnn.com" }
	port 80 http
	port $OP https "http-port-for-tls-origination"
	port $WP https
	port $XP https
	port $UP https
	port $SP https
	port $PP https
	port $VP https
	allow private
}
route "rewrite-port-for-edition-cnn-com" {
	gateway "istio-egressgateway"
	match authority "edition.cnn.com" port 80 {
		forward to "edition.cnn.com" port $OP
	}
}
destination "originate-tls-for-edition-cnn-com" {
	host "edition.cnn.com"
	port $OP tls simple sni "edition.cnn.com" ca "$T/ca.pem"
	port $WP tls simple ca "$T/ca.pem"
	port $XP tls simple ca "$T/ca.pem"
	port $SP tls simple ca "$T/ca.pem" min version 1.3
	port $PP tls disable
	port $VP tls simple ca "$T/ca.pem" min version 1.3
}
CONF
mkdir -p "$T/root"
start_egressd "$T/egressd.conf" || { fail "egressd starts with a destination"; done_testing; exit 1; }
pass "egressd starts with a destination"

lines() { grep -c -- "$2" "$T/$1" || true; }
wait_audit() { wait_for 30 sh -c "[ \"\$(python3 '$SRCDIR/regress/e2e/audit.py' '$T/egressd.log' count $*)\" -gt 0 ]"; }
audit_last() { audit_get last "$@"; }

# 1. The seed scenario: plain HTTP in, TLS out, verified.
out=$(curl -s -m 5 -H 'Host: edition.cnn.com' "http://127.0.0.1:$P/politics")
ok $([ "$out" = "origin says hello over TLS" ]; echo $?) \
    "seed: http://edition.cnn.com/politics answered by the TLS origin"
ok $([ "$(lines good.log 'HELLO sni=edition.cnn.com')" = 1 ]; echo $?) \
    "seed: the origin saw one handshake with SNI edition.cnn.com"
ok $([ "$(lines good.log "GET edition.cnn.com:$OP /politics")" = 1 ]; echo $?) \
    "seed: the origin saw the request over TLS, Host the authority"
wait_audit _msgid=REQUEST path=/politics
ok $([ "$(audit_last tls _msgid=REQUEST path=/politics)" = originated ]; echo $?) \
    "audit: tls originated"
v=$(audit_last tls_version _msgid=REQUEST path=/politics)
ok $(case "$v" in TLSv1.[23]) echo 0;; *) echo 1;; esac) "audit: tls_version ($v)"
ok $([ "$(audit_last tls_verify _msgid=REQUEST path=/politics)" = ok ]; echo $?) \
    "audit: tls_verify ok"
ok $([ "$(audit_last tls_resumed _msgid=REQUEST path=/politics)" = 0 ]; echo $?) \
    "audit: tls_resumed 0 on a first handshake"
ok $([ -n "$(audit_last tls_ms _msgid=REQUEST path=/politics)" ]; echo $?) \
    "audit: tls_ms given"

# 2. Two requests on one client connection: one TLS connection, reused.
curl -s -m 5 -o /dev/null -o /dev/null -H 'Host: edition.cnn.com' \
    "http://127.0.0.1:$P/one" "http://127.0.0.1:$P/two"
ok $([ "$(lines good.log 'GET .* /two')" = 1 ]; echo $?) \
    "keep-alive: both requests reached the origin"
ok $([ "$(lines good.log HELLO)" = 1 ]; echo $?) \
    "keep-alive: no second handshake (the pooled TLS connection served them)"
wait_audit _msgid=REQUEST path=/two
ok $([ -z "$(audit_last tls_ms _msgid=REQUEST path=/two)" ] &&
    [ "$(audit_last tls_verify _msgid=REQUEST path=/two)" = ok ]; echo $?) \
    "audit: a reused connection's request has no tls_ms, verify ok"

# A malformed request after an originated one on the same connection:
# its record says nothing of the TLS the earlier request went over.
out=$(python3 "$SRCDIR/regress/e2e/rawreq.py" "$P" 5 \
    'GET /stale1 HTTP/1.1\r\nHost: edition.cnn.com\r\n\r\nGET /stale2 HTTP/1.1\r\nHost: edition.cnn.com\r\nBad Header: 1\r\n\r\n')
wait_audit _msgid=DENY reason=bad_request
ok $(echo "$out" | grep -q 'origin says hello over TLS' &&
    echo "$out" | grep -q '^HTTP/1.1 400' &&
    [ "$(audit_last tls _msgid=REQUEST path=/stale1)" = originated ] &&
    [ -z "$(audit_last tls _msgid=DENY reason=bad_request)" ] &&
    [ -z "$(audit_last tls_verify _msgid=DENY reason=bad_request)" ] &&
    [ -z "$(audit_last would _msgid=DENY reason=bad_request)" ]; echo $?) \
    "keep-alive: a malformed request after an originated one has no tls fields"

# 3. Verification failures: 502, the reason, nothing reaches the origin.
refused() {	# refused PORT LOG WHAT: body, status, audit, origin's log
	code=$(curl -s -m 5 -o "$T/body" -w '%{http_code}' \
	    -x "http://127.0.0.1:$P" "http://edition.cnn.com:$1/secret")
	ok $([ "$code" = 502 ]; echo $?) "$3: 502 ($code)"
	ok $(grep -q "tls_verify_failed" "$T/body"; echo $?) \
	    "$3: body says tls_verify_failed ($(cat "$T/body"))"
	ok $([ "$(lines "$2" GET)" = 0 ]; echo $?) "$3: no request reached the origin"
	wait_audit _msgid=DENY port=$1
	ok $([ "$(audit_last reason _msgid=DENY port="$1")" = tls_verify_failed ]; echo $?) \
	    "$3: audit DENY tls_verify_failed"
}
refused "$WP" wrong.log "wrong name"
ok $(grep -q "mismatch" "$T/body"; echo $?) "wrong name: OpenSSL's reason in the body"
refused "$XP" expired.log "expired"
ok $(grep -q "expired" "$T/body"; echo $?) "expired: OpenSSL's reason in the body"
# An https port without a destination rule: the system bundle, which
# does not know the test CA.
refused "$UP" unknown.log "unknown CA (defaults)"
ok $([ "$(audit_last tls_verify _msgid=DENY port="$UP")" != ok ]; echo $?) \
    "unknown CA: audit tls_verify has the error"

# 4. Still serving after the failures; the session is resumed.
out=$(curl -s -m 5 -H 'Host: edition.cnn.com' -H 'Connection: close' \
    "http://127.0.0.1:$P/again")
ok $([ "$out" = "origin says hello over TLS" ]; echo $?) "after failures: still served"

# 5. A new TLS connection resumes the cached session: the origin closes
# the pooled one after /close.
curl -s -m 5 -o /dev/null -H 'Host: edition.cnn.com' "http://127.0.0.1:$P/close"
out=$(curl -s -m 5 -H 'Host: edition.cnn.com' "http://127.0.0.1:$P/resume")
wait_audit _msgid=REQUEST path=/resume
ok $([ "$out" = "origin says hello over TLS" ] &&
    [ "$(audit_last tls_resumed _msgid=REQUEST path=/resume)" = 1 ]; echo $?) \
    "resumption: a new connection resumes the session (tls_resumed 1)"

# A body that runs to the origin's close (no close_notify from it).
n=$(curl -s -m 5 -H 'Host: edition.cnn.com' "http://127.0.0.1:$P/eof" | wc -l)
ok $([ "$n" = 1000 ]; echo $?) "a body delimited by the close arrives whole ($n lines)"

# Responses with the close_notify right behind them, over fresh and
# resumed sessions (libevent reports that close with the data).
n=0
for i in 1 2 3 4 5; do
	curl -s -m 5 -x "http://127.0.0.1:$P" "http://edition.cnn.com:$SP/" |
	    grep -q "s_server" && n=$((n + 1))
done
ok $([ "$n" = 5 ]; echo $?) "s_server: 5 of 5 close-delimited responses arrive ($n)"

# No common version: 502 tls_handshake_failed.
code=$(curl -s -m 5 -o "$T/body" -w '%{http_code}' -x "http://127.0.0.1:$P" \
    "http://edition.cnn.com:$VP/")
wait_audit _msgid=DENY port=$VP
ok $([ "$code" = 502 ] &&
    [ "$(audit_last reason _msgid=DENY port="$VP")" = tls_handshake_failed ]; echo $?) \
    "min version 1.3 against a TLS 1.2 server: 502 tls_handshake_failed ($(cat "$T/body"))"

# "tls disable": plain HTTP to that port, even though it is https.
code=$(curl -s -m 5 -o "$T/body" -w '%{http_code}' -x "http://127.0.0.1:$P" \
    "http://edition.cnn.com:$PP/small")
ok $([ "$code" = 200 ] && [ "$(cat "$T/body")" = hello ] &&
    [ "$(origin_count '"/small"')" = 1 ]; echo $?) "tls disable: plain HTTP to the port ($code)"
wait_audit _msgid=REQUEST port=$PP
ok $([ -z "$(audit_last tls _msgid=REQUEST port="$PP")" ]; echo $?) "tls disable: no tls field"

# 6. Reload: the CA bundles are read again, TLS still originates (the
# contexts are built anew inside the sandbox).
kill -HUP "$EGD_PID"
wait_for 50 sh -c "[ \"\$(grep -c 'generation 2' '$T/egressd.log')\" -gt 0 ]"
out=$(curl -s -m 5 -H 'Host: edition.cnn.com' "http://127.0.0.1:$P/reloaded")
ok $([ "$out" = "origin says hello over TLS" ]; echo $?) "reload: TLS origination still works"

stop_egressd
ok $([ "$EGD_STATUS" = 0 ]; echo $?) "egressd stops cleanly"
ok $(! grep -q "seccomp\|fatal" "$T/egressd.log"; echo $?) "no sandbox kill, no fatal error"
done_testing
