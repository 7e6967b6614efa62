# TLS passthrough, end to end: a tls listener routes by the ClientHello's
# server name without terminating (the client sees the origin's own
# certificate), and CONNECT tunnels to tls/https ports have their hello's
# name checked against the CONNECT host.  A test CA and the origin's
# certificate are made here with openssl; the origin is a small Python
# HTTPS server on 127.0.0.1; dnsmasq maps the names.  The gateway listens
# on 127.0.0.2 at the origin's port: a passthrough dials SNI:that port.
. "$SRCDIR/regress/e2e/common.sh"
command -v dnsmasq >/dev/null || { fail "dnsmasq is installed"; done_testing; exit 1; }
command -v openssl >/dev/null || { fail "openssl is installed"; done_testing; exit 1; }

P=$(free_port); HP=$(free_port); DP=$(free_port)

# A test CA, and one certificate for every name the origin answers.
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=egressd test CA" \
    -keyout "$T/ca.key" -out "$T/ca.pem" >/dev/null 2>&1
openssl req -newkey rsa:2048 -nodes -subj "/CN=origin.test" \
    -keyout "$T/origin.key" -out "$T/origin.csr" >/dev/null 2>&1
printf 'subjectAltName=DNS:allowed.test,DNS:*.wild.test,DNS:guarded.test,DNS:front.test,DNS:other.test,DNS:evil.test\n' \
    > "$T/san.ext"
openssl x509 -req -in "$T/origin.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" \
    -CAcreateserial -days 2 -extfile "$T/san.ext" -out "$T/origin.pem" \
    >/dev/null 2>&1
ok $([ -s "$T/origin.pem" ]; echo $?) "test CA and origin certificate made"

cat > "$T/tlsorigin.py" <<'PY'
import http.server, ssl, sys, threading, time
addr, port, cert, key, log = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        with open(log, "a") as f:
            f.write("GET %s %s\n" % (self.headers.get("Host"), self.path))
        body = b"origin says hello\n"
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
# hello.py MODE ADDR PORT SNI [CONNECT-HOST]: sends a real ClientHello
# (made by Python's ssl) in a given shape; prints the first byte of the
# answer in hex (16: a handshake record, from the origin) or "closed".
cat > "$T/hello.py" <<'PY'
import socket, ssl, sys, time
mode, addr, port, sni = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
ctx = ssl.create_default_context()
o = ssl.MemoryBIO()
c = ctx.wrap_bio(ssl.MemoryBIO(), o, server_hostname=sni)
try:
    c.do_handshake()
except ssl.SSLWantReadError:
    pass
h = o.read()
s = socket.create_connection((addr, port), 5)
s.settimeout(5)
if mode == "split":		# one record, over three writes
    for part in (h[:3], h[3:40], h[40:]):
        s.sendall(part); time.sleep(0.2)
elif mode == "records":		# the handshake over two records
    body = h[5:]; a, b = body[:60], body[60:]
    s.sendall(h[:3] + len(a).to_bytes(2, "big") + a +
        h[:3] + len(b).to_bytes(2, "big") + b)
elif mode == "partial":		# half of it, then silence
    s.sendall(h[:len(h) // 2])
elif mode == "pipelined":	# CONNECT and the hello in one write
    s.sendall(b"CONNECT %s HTTP/1.1\r\n\r\n" % sys.argv[5].encode() + h)
    r = b""
    while b"\r\n\r\n" not in r:
        b = s.recv(1)
        if not b:
            print("closed"); sys.exit(0)
        r += b
else:
    s.sendall(h)
try:
    r = s.recv(1)
except socket.timeout:
    r = b""
print(r.hex() if r else "closed")
PY
python3 "$T/tlsorigin.py" 127.0.0.1 "$P" "$T/origin.pem" "$T/origin.key" "$T/tls.log" &
EXTRA_PIDS="${EXTRA_PIDS:-} $!"
: > "$T/tls.log"
wait_for 50 test -f "$T/tls.log.ready"
start_dns "$DP" --address=/allowed.test/127.0.0.1 --address=/wild.test/127.0.0.1 \
    --address=/guarded.test/127.0.0.1 --address=/front.test/127.0.0.1 \
    --address=/other.test/127.0.0.1 --address=/evil.test/127.0.0.1 \
    --address=/opaque.test/127.0.0.1

cat > "$T/egressd.conf" <<CONF
user "$EGD_USER"
chroot "$T/root"
workers 2
nameserver 127.0.0.1 port $DP
request timeout 2
idle timeout 5
gateway "edge" {
	listen on 127.0.0.2 port $P tls
	listen on 127.0.0.1 port $HP http
}
service "allowed" {
	hosts { "allowed.test" }
	port $P tls
	allow private
}
service "wild" {
	hosts { "*.wild.test" }
	port $P tls
	allow private
}
service "guarded" {
	hosts { "guarded.test" }
	port $P tls
}
service "opaque" {
	hosts { "opaque.test" }
	port $P tcp
	allow private
}
service "front" {
	hosts { "front.test" }
	port $P https
	allow private
	sni check off
}
CONF
mkdir -p "$T/root"
start_egressd "$T/egressd.conf" || { fail "egressd starts with a tls listener"; done_testing; exit 1; }
pass "egressd starts with a tls listener"

hits() { grep -c "$1" "$T/tls.log"; }
audit_last() { audit_get last "$@"; }
wait_audit() { wait_for 30 sh -c "[ \"\$(python3 '$SRCDIR/regress/e2e/audit.py' '$T/egressd.log' count $*)\" -gt 0 ]"; }

# 1. Passthrough: the origin's certificate, end to end.
out=$(curl -s -m 5 -v --cacert "$T/ca.pem" --resolve "allowed.test:$P:127.0.0.2" \
    "https://allowed.test:$P/pt" 2>"$T/curl.err")
ok $([ "$out" = "origin says hello" ]; echo $?) "passthrough: allowed.test answers through the tls listener"
ok $(grep -q "subject: CN=origin.test" "$T/curl.err"; echo $?) \
    "passthrough: the client saw the origin's certificate (not terminated)"
ok $([ "$(hits "GET allowed.test:$P /pt")" = 1 ]; echo $?) "passthrough: the origin saw the request"
wait_audit _msgid=TUNNEL scheme=tls authority=allowed.test
ok $([ "$(audit_last service _msgid=TUNNEL scheme=tls authority=allowed.test)" = allowed ]; echo $?) \
    "audit: one TUNNEL record, scheme tls, the SNI as authority"
ok $([ "$(audit_last port _msgid=TUNNEL scheme=tls authority=allowed.test)" = "$P" ]; echo $?) \
    "audit: the listener's port"

# The hello over several reads is put together; over several records,
# or not whole in time, refused.
ok $([ "$(python3 "$T/hello.py" split 127.0.0.2 "$P" allowed.test)" = 16 ]; echo $?) \
    "passthrough: a hello over several reads reaches the origin"
ok $([ "$(python3 "$T/hello.py" records 127.0.0.2 "$P" allowed.test)" = closed ]; echo $?) \
    "passthrough: a hello over two records is closed"
ok $([ "$(audit_get count _msgid=DENY reason=bad_client_hello)" -ge 1 ]; echo $?) \
    "audit: DENY bad_client_hello for it"
ok $([ "$(python3 "$T/hello.py" partial 127.0.0.2 "$P" allowed.test)" = closed ]; echo $?) \
    "passthrough: half a hello is closed at the request timeout"
wait_audit _msgid=DENY reason=request_timeout
ok $([ "$(audit_get count _msgid=DENY reason=request_timeout)" -ge 1 ]; echo $?) \
    "audit: DENY request_timeout for it"

# 2. Wildcards.
out=$(curl -s -m 5 --cacert "$T/ca.pem" --resolve "sub.wild.test:$P:127.0.0.2" \
    "https://sub.wild.test:$P/w" 2>/dev/null)
ok $([ "$out" = "origin says hello" ]; echo $?) "passthrough: *.wild.test lets sub.wild.test through"

# 3. A name no service registers: nothing reaches the origin.
before=$(wc -l < "$T/tls.log")
curl -s -m 5 --cacert "$T/ca.pem" --resolve "evil.test:$P:127.0.0.2" \
    "https://evil.test:$P/evil" >/dev/null 2>&1
ok $([ $? -ne 0 ] && [ "$(wc -l < "$T/tls.log")" = "$before" ]; echo $?) \
    "passthrough: an unregistered SNI gets nothing"
wait_audit _msgid=DENY authority=evil.test
ok $([ "$(audit_last reason _msgid=DENY authority=evil.test)" = no_service ]; echo $?) \
    "audit: DENY no_service for the SNI"

# A port of protocol tcp is for CONNECT only.
curl -s -m 5 -k --resolve "opaque.test:$P:127.0.0.2" "https://opaque.test:$P/o" >/dev/null 2>&1
ok $([ "$(hits /o)" = 0 ]; echo $?) "passthrough: a name registered on a tcp port only is closed"
wait_audit _msgid=DENY authority=opaque.test
ok $([ "$(audit_last reason _msgid=DENY authority=opaque.test)" = protocol_mismatch ]; echo $?) \
    "audit: DENY protocol_mismatch"

# 4. No SNI at all; not TLS at all.
openssl s_client -connect "127.0.0.2:$P" -noservername </dev/null >"$T/nosni.out" 2>&1
ok $(! grep -q "CN = origin.test" "$T/nosni.out"; echo $?) "passthrough: a hello without SNI is closed"
wait_audit _msgid=DENY reason=no_sni
ok $([ "$(audit_get count _msgid=DENY reason=no_sni)" -ge 1 ]; echo $?) "audit: DENY no_sni"
python3 -c 'import socket,sys; s=socket.create_connection(("127.0.0.2",int(sys.argv[1])),5); s.sendall(b"GET / HTTP/1.0\r\n\r\n"); s.settimeout(5); print(len(s.recv(100)))' "$P" > "$T/plain.out" 2>&1
ok $([ "$(cat "$T/plain.out")" = 0 ]; echo $?) "passthrough: plain HTTP on the tls listener is closed unanswered"
wait_audit _msgid=DENY reason=bad_client_hello
ok $([ "$(audit_get count _msgid=DENY reason=bad_client_hello)" -ge 1 ]; echo $?) "audit: DENY bad_client_hello"

# 5. The private-address guard applies to the SNI's address.
curl -s -m 5 --cacert "$T/ca.pem" --resolve "guarded.test:$P:127.0.0.2" \
    "https://guarded.test:$P/g" >/dev/null 2>&1
ok $([ "$(hits /g)" = 0 ]; echo $?) "passthrough: a name resolving to a private address is closed"
wait_audit _msgid=DENY authority=guarded.test
ok $([ "$(audit_last reason _msgid=DENY authority=guarded.test)" = private_address ]; echo $?) \
    "audit: DENY private_address"

# 6. CONNECT: the hello must name the CONNECT host.
out=$(curl -s -m 5 -p -x "http://127.0.0.1:$HP" --cacert "$T/ca.pem" \
    "https://allowed.test:$P/c1" 2>/dev/null)
ok $([ "$out" = "origin says hello" ]; echo $?) "CONNECT: a matching SNI goes through"
openssl s_client -proxy "127.0.0.1:$HP" -connect "allowed.test:$P" \
    -servername other.test -CAfile "$T/ca.pem" </dev/null >"$T/front.out" 2>&1
ok $(! grep -q "CN = origin.test" "$T/front.out"; echo $?) \
    "CONNECT allowed.test with SNI other.test: closed before the origin"
wait_audit _msgid=DENY reason=sni_mismatch
ok $([ "$(audit_last authority _msgid=DENY reason=sni_mismatch)" = allowed.test ]; echo $?) \
    "audit: DENY sni_mismatch"
python3 -c '
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 5)
s.sendall(b"CONNECT allowed.test:%s HTTP/1.1\r\nHost: allowed.test\r\n\r\n" % sys.argv[2].encode())
s.settimeout(5)
h = b""
while b"\r\n\r\n" not in h:
    h += s.recv(1000)
s.sendall(b"not a hello at all\r\n")
r = s.recv(100)
print(h.split(b" ")[1].decode(), len(r))' "$HP" "$P" > "$T/raw.out" 2>&1
ok $([ "$(cat "$T/raw.out")" = "200 0" ]; echo $?) "CONNECT to a tls port: bytes that are not TLS are closed"
wait_audit _msgid=DENY reason=bad_client_hello authority=allowed.test
ok $([ "$(audit_get count _msgid=DENY reason=bad_client_hello authority=allowed.test)" -ge 1 ]; echo $?) \
    "audit: DENY bad_client_hello in a tunnel"

ok $([ "$(python3 "$T/hello.py" pipelined 127.0.0.1 "$HP" allowed.test "allowed.test:$P")" = 16 ]; echo $?) \
    "CONNECT: a hello sent with the CONNECT is checked and goes through"
ok $([ "$(python3 "$T/hello.py" pipelined 127.0.0.1 "$HP" other.test "allowed.test:$P")" = closed ]; echo $?) \
    "CONNECT: a mismatched hello sent with the CONNECT is closed"

# 7. "sni check off" lets a mismatched name through.
openssl s_client -proxy "127.0.0.1:$HP" -connect "front.test:$P" \
    -servername other.test -CAfile "$T/ca.pem" </dev/null >"$T/off.out" 2>&1
ok $(grep -q "CN = origin.test" "$T/off.out"; echo $?) "sni check off: the mismatched hello goes through"

ok $([ "$(audit_get count _msgid=DENY authority=front.test)" = 0 ]; echo $?) "sni check off: no DENY"

stop_egressd
ok $([ "$EGD_STATUS" = 0 ]; echo $?) "egressd stops cleanly"
done_testing
