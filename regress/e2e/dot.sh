# DNS over TLS to a configured resolver ("nameserver ADDRESS port N tls
# NAME ca FILE"), end to end against dnsforge.py speaking DNS over TLS
# with certificates made here by openssl:
#   - names resolve over TLS, and only over TLS (the same server's UDP
#     and TCP ports get nothing); the next connection resumes the session;
#   - a certificate for another name, one from another CA, and one that
#     expired: the handshake fails, no question is written (the server
#     logs none), the request fails with dns_failed at no origin;
#   - a reload back to the right name resolves again;
#   - the helper's sandbox held (TLS added no system call beyond the DNS
#     group's stream sockets).
. "$SRCDIR/regress/e2e/common.sh"
command -v openssl >/dev/null || { fail "openssl is installed"; done_testing; exit 1; }

openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=egressd DNS test CA" \
    -keyout "$T/ca.key" -out "$T/ca.pem" >/dev/null 2>&1
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=another CA" \
    -keyout "$T/ca2.key" -out "$T/ca2.pem" >/dev/null 2>&1
openssl req -newkey rsa:2048 -nodes -subj "/CN=dns.test" \
    -keyout "$T/dns.key" -out "$T/dns.csr" >/dev/null 2>&1
printf 'subjectAltName=DNS:dns.test\n' > "$T/dns.ext"
openssl x509 -req -in "$T/dns.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" \
    -CAcreateserial -days 2 -extfile "$T/dns.ext" -out "$T/dns.pem" >/dev/null 2>&1
cp "$T/dns.csr" "$T/old.csr"
cp "$T/dns.ext" "$T/old.ext"
sign_expired "$T/old"
cp "$T/dns.key" "$T/old.key"
ok $([ -s "$T/dns.pem" ] && [ -s "$T/old.pem" ] && [ -s "$T/ca2.pem" ]; echo $?) \
    "test CAs and certificates made (dns.test, and dns.test expired)"

P=$(free_port); OP=$(free_port); FP=$(free_port); TP=$(free_port); XP=$(free_port)
start_origin 127.0.0.1 "$OP"
forge() {	# forge LOG TLSPORT CERT KEY: dnsforge.py, DNS over TLS on TLSPORT
	: > "$T/$1"
	python3 "$SRCDIR/regress/e2e/dnsforge.py" 127.0.0.1 "$(free_port)" "$T/$1" 300 "$2" "$3" "$4" &
	EXTRA_PIDS="${EXTRA_PIDS:-} $!"
	wait_for 50 test -f "$T/$1.ready"
}
forge forge.log "$TP" "$T/dns.pem" "$T/dns.key"
forge expired.log "$XP" "$T/old.pem" "$T/old.key"
conf() {	# conf PORT NAME CA
	cat > "$T/egressd.conf" <<CONF
user "$EGD_USER"
chroot "$T/root"
workers 1
nameserver 127.0.0.1 port $1 tls "$2" ca "$3"
dns negative ttl 0
gateway "gw" {
	listen on 127.0.0.1 port $P http
}
service "web" {
	hosts { "*.test" }
	port $OP http
	allow private
}
CONF
}
conf "$TP" dns.test "$T/ca.pem"
start_egressd "$T/egressd.conf" -v || { fail "egressd starts"; done_testing; exit 1; }

req() { curl -s -m 10 -o "$T/body" -w '%{http_code}' -x "http://127.0.0.1:$P" "http://$1:$OP/small"; }
hits() { if [ -f "$T/origin.log" ]; then grep -c "\"host\": \"$1:" "$T/origin.log" || true; else echo 0; fi; }
# q LOG NAME [FIELD=VALUE]: questions for NAME the server got (any case)
q() {
	python3 - "$T/$1" "$2" "${3:-}" <<'PY'
import json, sys
qs = [json.loads(l) for l in open(sys.argv[1])]
qs = [x for x in qs if x.get("qname", "").lower() == sys.argv[2]]
if sys.argv[3]:
    k, v = sys.argv[3].split("=", 1)
    qs = [x for x in qs if str(x.get(k)) == v]
print(len(qs))
PY
}
handshakes() { grep -c '"handshake"' "$T/$1" || true; }

ok $(log_has "helper: .*nameserver 127.0.0.1 port $TP tls dns.test"; echo $?) "the helper has the server, over TLS"

# --- over TLS, and only over TLS ---------------------------------------------
s=$(req good.test)
ok $([ "$s" = 200 ] && [ "$(hits good.test)" = 1 ] && [ "$(audit_get last upstream authority=good.test)" = 127.0.0.1 ]; echo $?) \
    "good.test resolved over TLS: 200 from the origin ($s)"
ok $([ "$(q forge.log good.test t=tls)" = 2 ] && [ "$(q forge.log good.test)" = 2 ]; echo $?) \
    "the server got its A and AAAA questions over TLS, nothing over UDP or TCP ($(q forge.log good.test t=tls) of $(q forge.log good.test))"
s=$(req p1.test)
ok $([ "$s" = 200 ] && [ "$(q forge.log p1.test resumed=True)" -ge 1 ]; echo $?) \
    "the next name: 200, over a resumed TLS session ($s; $(q forge.log p1.test resumed=True) of 2 resumed)"

# --- a certificate for another name -----------------------------------------
conf "$TP" other.test "$T/ca.pem"
kill -HUP "$EGD_PID"
ok $(wait_for 50 log_has "reload: generation 2 in force"; echo $?) "reload: the server must now be other.test"
h0=$(handshakes forge.log)
s=$(req wrongname.test)
ok $([ "$s" = 503 ] && [ "$(audit_get last reason authority=wrongname.test)" = dns_failed ] && [ "$(hits wrongname.test)" = 0 ]; echo $?) \
    "a certificate for dns.test where other.test is wanted: 503 dns_failed ($s)"
ok $([ "$(q forge.log wrongname.test)" = 0 ] && [ "$(handshakes forge.log)" -gt "$h0" ]; echo $?) \
    "handshakes failed, and no question was written ($(q forge.log wrongname.test) questions)"
ok $(log_has "wrongname.test A: .*certificate not verified"; echo $?) "the helper says why: certificate not verified"

# --- a certificate from another CA -------------------------------------------
conf "$TP" dns.test "$T/ca2.pem"
kill -HUP "$EGD_PID"
ok $(wait_for 50 log_has "reload: generation 3 in force"; echo $?) "reload: verified against another CA"
s=$(req otherca.test)
ok $([ "$s" = 503 ] && [ "$(q forge.log otherca.test)" = 0 ] && [ "$(hits otherca.test)" = 0 ]; echo $?) \
    "a certificate the CA did not sign: 503, no question written ($s)"

# --- an expired certificate ----------------------------------------------------
conf "$XP" dns.test "$T/ca.pem"
kill -HUP "$EGD_PID"
ok $(wait_for 50 log_has "reload: generation 4 in force"; echo $?) "reload: a server whose certificate expired"
s=$(req expired.test)
ok $([ "$s" = 503 ] && [ "$(q expired.log expired.test)" = 0 ] && [ "$(handshakes expired.log)" -ge 1 ]; echo $?) \
    "an expired certificate: 503, handshakes failed, no question written ($s)"

# --- back to the right one ------------------------------------------------------
conf "$TP" dns.test "$T/ca.pem"
kill -HUP "$EGD_PID"
ok $(wait_for 50 log_has "reload: generation 5 in force"; echo $?) "reload: back to dns.test and its CA"
s=$(req p2.test)
ok $([ "$s" = 200 ] && [ "$(q forge.log p2.test t=tls)" = 2 ]; echo $?) "resolves over TLS again ($s)"

ok $(log_has "killed by\|exited with status"; [ $? -ne 0 ]; echo $?) "no process died (no seccomp kill)"
stop_egressd
ok $([ "$EGD_STATUS" -eq 0 ]; echo $?) "SIGTERM: exit status 0"
done_testing
