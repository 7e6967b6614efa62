# egressctl import istio, end to end: the TLS origination fixtures of
# regress/istio/ (Istio's egress gateway task, SIMPLE and MUTUAL),
# imported as they are, serve plain HTTP from a client with TLS that
# egressd originates and verifies, as the hand-written etc/seed-cnn.conf
# does.  What the test changes is where things are: the fixtures' CA
# and client certificate are made here with openssl (the fixtures name
# /tmp/egressd-istio-tls, rewritten to this test's directory), dnsmasq
# points the names at origins on loopback addresses of this test's own
# (127.X.Y.n, from its pid, so that the fixtures' ports 80 and 443 are
# free), and since those are private addresses, "allow private" is
# added to the imported services.
. "$SRCDIR/regress/e2e/common.sh"
command -v dnsmasq >/dev/null || { fail "dnsmasq is installed"; done_testing; exit 1; }
command -v openssl >/dev/null || { fail "openssl is installed"; done_testing; exit 1; }
EGRESSCTL=${EGRESSCTL:-$(dirname "$EGRESSD")/egressctl}
FIX=$SRCDIR/regress/istio

# Three loopback addresses whose ports 80, 443 and 8080 are free.
bindable() {	# bindable ADDR PORT...
	python3 - "$@" <<'PY'
import socket, sys
for p in sys.argv[2:]:
    s = socket.socket()
    try:
        s.bind((sys.argv[1], int(p)))
    except OSError:
        sys.exit(1)
    finally:
        s.close()
PY
}
i=0
while :; do
	X=$(( ($$ + i) % 200 + 20 )) Y=$(( ($$ / 200 + i) % 250 + 1 ))
	GW=127.$X.$Y.1 CNN=127.$X.$Y.2 NGX=127.$X.$Y.3
	bindable "$GW" 80 8080 && bindable "$CNN" 443 && bindable "$NGX" 443 &&
	    break
	i=$((i + 1))
	[ "$i" -lt 20 ] || { fail "free loopback addresses"; done_testing; exit 1; }
done
DP=$(free_port)

# The CA, the origins' certificates, the client's, and an impostor's
# from a CA egressd does not know.
tls=$T/tls
mkdir -p "$tls"
mkca() {	# mkca NAME
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=$1" \
	    -keyout "$tls/$1.key" -out "$tls/$1.pem" >/dev/null 2>&1
}
mkcert() {	# mkcert NAME CN CA
	openssl req -newkey rsa:2048 -nodes -subj "/CN=$2" \
	    -keyout "$tls/$1.key" -out "$tls/$1.csr" >/dev/null 2>&1
	printf 'subjectAltName=DNS:%s\n' "$2" >"$tls/$1.ext"
	openssl x509 -req -in "$tls/$1.csr" -CA "$tls/$3.pem" \
	    -CAkey "$tls/$3.key" -CAcreateserial -days 2 \
	    -extfile "$tls/$1.ext" -out "$tls/$1.pem" >/dev/null 2>&1
}
mkca ca
mkca otherca
mkcert cnn edition.cnn.com ca
mkcert nginx my-nginx.mesh-external.svc.cluster.local ca
mkcert client client.egress.test ca
mkcert impostor edition.cnn.com otherca
ok $([ -s "$tls/cnn.pem" ] && [ -s "$tls/nginx.pem" ] && [ -s "$tls/client.pem" ] &&
    [ -s "$tls/impostor.pem" ]; echo $?) "test CA and certificates made"

# An HTTPS origin that logs each handshake's server name, the client
# certificate if it asked for one, and each request.
cat >"$T/origin.py" <<'PY'
import http.server, ssl, sys, threading
addr, cert, key, log, ca = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
def note(s):
    with open(log, "a") as f:
        f.write(s + "\n")
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        peer = self.connection.getpeercert()
        cn = "-"
        if peer:
            cn = dict(x[0] for x in peer["subject"]).get("commonName", "?")
        note("GET %s %s client=%s" % (self.headers.get("Host"), self.path, cn))
        body = b"origin says hello over TLS\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
srv = http.server.ThreadingHTTPServer((addr, 443), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
if ca != "-":
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_verify_locations(ca)
ctx.sni_callback = lambda s, name, c: note("HELLO sni=%s" % name)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True,
    do_handshake_on_connect=False)
open(log + ".ready", "w").close()
threading.Timer(1800, srv.shutdown).start()
srv.serve_forever()
PY
ORIGIN_PID=
origin() {	# origin ADDR CERT LOG CA|-
	rm -f "$T/$3.ready"
	python3 "$T/origin.py" "$1" "$tls/$2.pem" "$tls/$2.key" "$T/$3" "$4" &
	ORIGIN_PID=$!
	EXTRA_PIDS="${EXTRA_PIDS:-} $!"
	: >"$T/$3"
	wait_for 50 test -f "$T/$3.ready"
}
start_dns "$DP" --address=/edition.cnn.com/"$CNN" \
    --address=/my-nginx.mesh-external.svc.cluster.local/"$NGX"
mkdir -p "$T/root"

# import FIXTURE: the fixture, its certificates here, imported to listen
# on $GW, then the test's own settings around it.
import() {
	sed "s|/tmp/egressd-istio-tls/|$tls/|g" "$FIX/$1" >"$T/$1"
	"$EGRESSCTL" import istio -l "$GW" -o "$T/imported.conf" "$T/$1" \
	    2>"$T/import.err"
	ok $([ $? -eq 0 ] && [ ! -s "$T/import.err" ]; echo $?) \
	    "$1: imported without a word"
	sed 's/^	resolution dns$/&\
	allow private/' "$T/imported.conf" >"$T/local.conf"
	cat >"$T/egressd.conf" <<CONF
user "$EGD_USER"
chroot "$T/root"
workers 1
nameserver 127.0.0.1 port $DP
include "$T/local.conf"
CONF
}
lines() { grep -c -- "$2" "$T/$1" || true; }
wait_audit() { wait_for 30 sh -c "[ \"\$(python3 '$SRCDIR/regress/e2e/audit.py' '$T/egressd.log' count $*)\" -gt 0 ]"; }

# 1. SIMPLE: Istio's egress gateway with TLS origination.
import 02-tls-origination-simple.yaml
grep -q "ca \"$tls/ca.pem\"" "$T/imported.conf"
ok $? "the destination verifies with the fixture's CA bundle"
origin "$CNN" cnn cnn.log -
start_egressd "$T/egressd.conf" || { fail "egressd starts on the import"; done_testing; exit 1; }
pass "egressd starts on the import"

out=$(curl -s -m 5 -x "http://$GW:80" http://edition.cnn.com/politics)
ok $([ "$out" = "origin says hello over TLS" ]; echo $?) \
    "simple: http://edition.cnn.com/politics through the gateway, answered over TLS"
ok $([ "$(lines cnn.log 'HELLO sni=edition.cnn.com')" = 1 ]; echo $?) \
    "simple: the origin saw one handshake, server name edition.cnn.com"
ok $([ "$(lines cnn.log 'GET edition.cnn.com /politics client=-')" = 1 ]; echo $?) \
    "simple: the request reached it over TLS, Host edition.cnn.com"
wait_audit _msgid=REQUEST path=/politics
ok $([ "$(audit_get last tls _msgid=REQUEST path=/politics)" = originated ] &&
    [ "$(audit_get last tls_verify _msgid=REQUEST path=/politics)" = ok ] &&
    [ "$(audit_get last service _msgid=REQUEST path=/politics)" = cnn ] &&
    [ "$(audit_get last route _msgid=REQUEST path=/politics)" = \
    direct-cnn-through-egress-gateway ]; echo $?) \
    "simple: audit: service cnn, the route, tls originated, verified"
out=$(curl -s -m 5 -H 'Host: edition.cnn.com' "http://$GW/sport")
ok $([ "$out" = "origin says hello over TLS" ]; echo $?) \
    "simple: origin-form, Host edition.cnn.com: served the same way"
code=$(curl -s -m 5 -o /dev/null -w '%{http_code}' -x "http://$GW:80" http://example.com/)
wait_audit _msgid=DENY authority=example.com
ok $([ "$code" = 403 ] &&
    [ "$(audit_get last reason _msgid=DENY authority=example.com)" = gateway_host ]; echo $?) \
    "simple: a host the Gateway does not list: 403 gateway_host"

FIELDS="decision reason service authority port path upstream_port status tls tls_verify"
for f in $FIELDS; do
	echo "$f=$(audit_get last "$f" _msgid=REQUEST path=/politics)"
done >"$T/import.audit"

# The server must be verified: an impostor with a certificate from
# another CA gets nothing.
kill "$ORIGIN_PID"
wait "$ORIGIN_PID" 2>/dev/null
origin "$CNN" impostor impostor.log -
code=$(curl -s -m 5 -o "$T/body" -w '%{http_code}' -x "http://$GW:80" \
    http://edition.cnn.com/secret)
wait_audit _msgid=DENY path=/secret
ok $([ "$code" = 502 ] &&
    [ "$(audit_get last reason _msgid=DENY path=/secret)" = tls_verify_failed ] &&
    [ "$(lines impostor.log GET)" = 0 ]; echo $?) \
    "simple: a server from another CA: 502 tls_verify_failed, no request sent"
kill "$ORIGIN_PID"
wait "$ORIGIN_PID" 2>/dev/null
stop_egressd

# The same request through etc/seed-cnn.conf, the hand-written seed
# scenario (its CA, listener and resolver moved here the same way):
# the origin sees the same thing, the audit record says the same.
origin "$CNN" cnn seed.log -
sed -e "s|/etc/ssl/certs/ca-certificates.crt|$tls/ca.pem|" \
    -e "s|listen on 127.0.0.1 port 8080|listen on $GW port 8080|" \
    -e 's/^	resolution dns$/&\
	allow private/' -e '/^user /d' -e '/^chroot /d' -e '/^workers /d' \
    "$SRCDIR/etc/seed-cnn.conf" >"$T/local.conf"
start_egressd "$T/egressd.conf" || { fail "egressd starts on etc/seed-cnn.conf"; done_testing; exit 1; }
out=$(curl -s -m 5 -x "http://$GW:8080" http://edition.cnn.com/politics)
wait_audit _msgid=REQUEST path=/politics route=rewrite-port-for-edition-cnn-com
for f in $FIELDS; do
	echo "$f=$(audit_get last "$f" _msgid=REQUEST path=/politics)"
done >"$T/seed.audit"
ok $(cmp -s "$T/import.audit" "$T/seed.audit"; echo $?) \
    "etc/seed-cnn.conf: the same audit record as with the import ($(tr '\n' ' ' <"$T/seed.audit"))"
[ -s "$T/seed.audit" ] && diff "$T/import.audit" "$T/seed.audit" | sed 's/^/# /'
ok $([ "$out" = "origin says hello over TLS" ] &&
    [ "$(lines seed.log 'HELLO sni=edition.cnn.com')" = 1 ] &&
    [ "$(lines seed.log 'GET edition.cnn.com /politics client=-')" = 1 ]
    echo $?) "etc/seed-cnn.conf: the origin saw what it saw with the import"
kill "$ORIGIN_PID"
stop_egressd

# 2. MUTUAL: the origin requires a client certificate of the test CA.
import 03-tls-origination-mutual.yaml
grep -q "tls mutual cert \"$tls/client.pem\" key \"$tls/client.key\"" \
    "$T/imported.conf"
ok $? "the destination presents the fixture's client certificate"
origin "$NGX" nginx nginx.log "$tls/ca.pem"
start_egressd "$T/egressd.conf" || { fail "egressd starts on the mutual import"; done_testing; exit 1; }
out=$(curl -s -m 5 -x "http://$GW:80" \
    http://my-nginx.mesh-external.svc.cluster.local/index.html)
ok $([ "$out" = "origin says hello over TLS" ]; echo $?) \
    "mutual: plain HTTP in, answered by the origin that requires a client certificate"
ok $([ "$(lines nginx.log 'HELLO sni=my-nginx.mesh-external.svc.cluster.local')" = 1 ] &&
    [ "$(lines nginx.log 'GET my-nginx.mesh-external.svc.cluster.local /index.html client=client.egress.test')" = 1 ]
    echo $?) "mutual: the origin saw the server name and egressd's client certificate"
wait_audit _msgid=REQUEST path=/index.html
ok $([ "$(audit_get last tls _msgid=REQUEST path=/index.html)" = originated ] &&
    [ "$(audit_get last tls_verify _msgid=REQUEST path=/index.html)" = ok ]; echo $?) \
    "mutual: audit: tls originated, verified"
stop_egressd

done_testing
