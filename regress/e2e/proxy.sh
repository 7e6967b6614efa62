# The data path, end to end: a real DNS server (dnsmasq), a real origin
# (origin.py), real clients (curl, raw sockets).  For every rule an allow
# case and a deny case, checked from the origin's side (a denied request
# reaches nothing) and in the audit record.
. "$SRCDIR/regress/e2e/common.sh"
command -v dnsmasq >/dev/null || { fail "dnsmasq is installed"; done_testing; exit 1; }

P=$(free_port); OP=$(free_port); DP=$(free_port); CP=$(free_port)
start_origin 127.0.0.1 "$OP"
python3 "$SRCDIR/regress/e2e/origin.py" 127.0.0.3 "$OP" "$T/origin3.log" 1800 &
EXTRA_PIDS="$EXTRA_PIDS $!"
wait_for 50 test -f "$T/origin3.log.ready"
start_dns "$DP" --host-record=multi.test,127.0.0.2 --host-record=multi.test,127.0.0.1 \
    --address=/origin.test/127.0.0.1 --address=/wild.test/127.0.0.1 \
    --address=/guarded.test/127.0.0.1 --address=/report.test/127.0.0.1 \
    --address=/src.test/127.0.0.1 --address=/tunnel.test/127.0.0.1 \
    --address=/closed.test/127.0.0.1 --address=/evil.test/127.0.0.1 \
    --address=/alias.test/127.0.0.1
cat > "$T/egressd.conf" <<CONF
user "$EGD_USER"
chroot "$T/root"
workers 2
nameserver 127.0.0.1 port $DP
request timeout 2
idle timeout 2
max uri length 1024
max header size 4096
max headers 20
gateway "gw" {
	listen on 127.0.0.1 port $P http
}
service "origin" {
	hosts { "origin.test", "*.wild.test" }
	port $OP http
	allow private
}
service "guarded" {
	hosts { "guarded.test" }
	port $OP http
}
service "reporting" {
	hosts { "report.test" }
	port $OP http
	action report
}
service "fixed" {
	hosts { "fixed.test" }
	port $OP http
	resolution static
	endpoint 127.0.0.1
	allow private
}
service "moved" {
	hosts { "moved.test" }
	port 80 http
	resolution static
	endpoint 127.0.0.1 port $OP
	allow private
}
service "multi" {
	hosts { "multi.test" }
	port $OP http
	allow private
}
service "pair" {
	hosts { "pair.test" }
	port $OP http
	resolution static
	endpoint 127.0.0.1
	endpoint 127.0.0.3
	allow private
}
service "only-src" {
	hosts { "src.test" }
	port $OP http
	allow private
	from { 10.99.0.0/16 }
}
service "literal" {
	hosts { "127.0.0.1" }
	port $OP http
	allow private
}
service "tunnel" {
	hosts { "tunnel.test" }
	port $OP tcp
	allow private
}
service "tlsport" {
	hosts { "tls.wild.test" }
	port $CP https
	allow private
}
service "closed" {
	hosts { "closed.test" }
	port $CP http
	allow private
}
route "narrow" {
	from { 10.77.0.0/16 }
	match authority "narrow.test" {
		forward to "origin.test" port $OP
	}
}
route "aliases" {
	gateway "gw"
	match authority "alias.test" {
		forward to "origin.test" port $OP
		rewrite authority "origin.test"
	}
	match authority "origin.test" path prefix "/old/" {
		forward to "origin.test" port $OP
		rewrite path prefix "/new/"
	}
	match authority "origin.test" path "/ws" {
		websocket
	}
	match authority "origin.test" header "x-short" {
		timeout 1
	}
	match authority "origin.test" path "/slow" {
		timeout 10
	}
}
CONF
start_egressd "$T/egressd.conf" || { fail "egressd starts"; done_testing; exit 1; }
GW="http://127.0.0.1:$P"
X="-x $GW"
req() { curl -s -m 10 -o "$T/body" -w '%{http_code}' "$@"; }
audit_last() { audit_get last "$@"; }
seen() { origin_count "$1"; }

# --- request forms ---
ok $([ "$(req $X "http://origin.test:$OP/small")" = 200 ] && [ "$(cat "$T/body")" = hello ]; echo $?) \
    "absolute-form to a registered service: 200 with the origin's body"
ok $([ "$(audit_last decision _msgid=REQUEST service=origin path=/small)" = allow ]; echo $?) \
    "audit: REQUEST, decision allow, service origin"
ok $([ "$(audit_last status _msgid=REQUEST service=origin path=/small)" = 200 ]; echo $?) "audit: status 200"
ok $([ "$(req -H "Host: origin.test:$OP" "$GW/small")" = 200 ]; echo $?) "origin-form with Host: 200"
ok $([ "$(req -p $X "http://tunnel.test:$OP/small")" = 200 ] && [ "$(cat "$T/body")" = hello ]; echo $?) \
    "CONNECT to a registered host and port: tunnel works"
ok $(wait_for 30 sh -c "[ \$(python3 $SRCDIR/regress/e2e/audit.py $T/egressd.log count _msgid=TUNNEL authority=tunnel.test) -ge 1 ]"; echo $?) \
    "audit: a TUNNEL record when the tunnel ends"

# --- default deny ---
n0=$(seen evil.test)
ok $([ "$(req $X "http://evil.test:$OP/small")" = 403 ]; echo $?) "unregistered host: 403"
ok $(grep -q 'no_service' "$T/body"; echo $?) "with a one-line reason ($(cat "$T/body"))"
ok $([ "$(seen evil.test)" = "$n0" ]; echo $?) "and nothing reached the origin"
ok $(grep -qi 'evil.test' "$T/dnsmasq.log"; [ $? -ne 0 ]; echo $?) "nor the DNS server"
ok $([ "$(audit_last reason _msgid=DENY authority=evil.test)" = no_service ]; echo $?) "audit: DENY, reason no_service"
ok $([ "$(req $X "http://origin.test:$CP/small")" = 403 ]; echo $?) "registered host on an unregistered port: 403"
ok $([ "$(req -p $X "http://evil.test:$OP/small")" = 403 ] || [ "$(req -p $X "http://evil.test:$OP/small")" = 000 ]; echo $?) \
    "CONNECT to an unregistered host: refused"
ok $([ "$(audit_last reason _msgid=DENY method=CONNECT authority=evil.test)" = no_service ]; echo $?) "audit: CONNECT denial"

# --- wildcards ---
ok $([ "$(req $X "http://a.wild.test:$OP/small")" = 200 ]; echo $?) "wildcard service: a.wild.test allowed"
ok $([ "$(req $X "http://b.c.wild.test:$OP/small")" = 200 ]; echo $?) "wildcard service: b.c.wild.test allowed"
ok $([ "$(req $X "http://wild.test:$OP/small")" = 403 ]; echo $?) "wildcard service: the apex wild.test is not"
ok $([ "$(seen '"host": "b.c.wild.test')" -ge 1 ]; echo $?) "the requested name itself was resolved and asked for"

# --- private-address guard, report mode, static, literals, sources ---
ok $([ "$(req $X "http://guarded.test:$OP/small")" = 403 ]; echo $?) "name resolving to loopback: 403"
ok $([ "$(audit_last reason authority=guarded.test)" = private_address ]; echo $?) "audit: private_address"
ok $([ "$(seen guarded.test)" = 0 ]; echo $?) "nothing reached the origin"
ok $([ "$(req $X "http://report.test:$OP/small")" = 200 ]; echo $?) "report-only service: passes"
ok $([ "$(audit_last decision authority=report.test)" = report ] &&
    [ "$(audit_last would authority=report.test)" = private_address ]; echo $?) \
    "audit: decision report, would private_address"
ok $([ "$(req $X "http://fixed.test:$OP/small")" = 200 ]; echo $?) "static endpoints: 200"
ok $(grep -qi 'fixed.test' "$T/dnsmasq.log"; [ $? -ne 0 ]; echo $?) "without asking DNS"
ok $([ "$(req $X "http://moved.test/headers")" = 200 ] &&
    grep -q "^Host: moved.test\r\?$" "$T/body"; echo $?) \
    "an endpoint on another port: the Host is the one asked, without that port ($(grep '^Host' "$T/body"))"
ok $([ "$(req $X "http://127.0.0.1:$OP/small")" = 200 ]; echo $?) "an address literal a service lists: 200"
ok $([ "$(req $X "http://127.0.0.2:$OP/small")" = 403 ] &&
    [ "$(audit_last reason authority=127.0.0.2)" = ip_literal ]; echo $?) "one no service lists: 403 ip_literal"
ok $([ "$(req $X "http://src.test:$OP/small")" = 403 ] &&
    [ "$(audit_last reason authority=src.test)" = source_denied ]; echo $?) "a service limited to other sources: 403 source_denied"

# --- normalisation ---
ok $([ "$(req $X "http://ORIGIN.Test.:$OP/small")" = 200 ]; echo $?) "case and one trailing dot are normalised"
ok $([ "$(req -H "Host: user@origin.test:$OP" "$GW/small")" = 400 ]; echo $?) "userinfo: 400"
ok $([ "$(req -H "Host: or%69gin.test:$OP" "$GW/small")" = 400 ]; echo $?) "percent-encoding: 400"
ok $([ "$(req -H "Host: origin..test:$OP" "$GW/small")" = 400 ]; echo $?) "empty label: 400"
ok $([ "$(req -H "Host: origin.test:99999" "$GW/small")" = 400 ]; echo $?) "malformed port: 400"
ok $([ "$(req $X -H "Host: other.test:$OP" "http://origin.test:$OP/small")" = 400 ]; echo $?) \
    "absolute-form with a disagreeing Host: 400"

# --- routes ---
ok $([ "$(req -H "Host: alias.test" "$GW/headers")" = 200 ] && grep -q "^Host: origin.test:$OP" "$T/body"; echo $?) \
    "a route forwards alias.test to origin.test and rewrites the authority"
ok $([ "$(audit_last route authority=alias.test)" = aliases ]; echo $?) "audit: the route's name"
ok $([ "$(req $X "http://origin.test:$OP/old/thing?q=1")" = 404 ] && [ "$(seen '"target": "/new/thing?q=1"')" -ge 1 ]; echo $?) \
    "a path prefix is rewritten (/old/ -> /new/)"
ok $([ "$(req $X -H 'X-Short: 1' "http://origin.test:$OP/slow?ms=3000")" = 504 ]; echo $?) "a route's timeout (1 s, matched by a header): 504"
ok $([ "$(audit_last reason path=/slow?ms=3000)" = upstream_timeout ]; echo $?) "audit: upstream_timeout"
ok $([ "$(req $X "http://origin.test:$OP/slow?ms=3500")" = 200 ]; echo $?) \
    "a client silent past the idle timeout while its answer comes within the route's timeout: 200"
out=$(HALFCLOSE=1 python3 "$SRCDIR/regress/e2e/rawreq.py" "$P" 3 "GET /small HTTP/1.1\r\nHost: origin.test:$OP\r\n\r\n")
ok $(echo "$out" | grep -q '^hello'; echo $?) "a client that half-closes after its request still gets the answer"
echo "$out" | grep -q '^hello' || diag "got: $(echo "$out" | head -3 | tr '\r\n' '  ')"
out=$(HALFCLOSE=1 python3 "$SRCDIR/regress/e2e/rawreq.py" "$P" 3 "POST /echo?whole HTTP/1.1\r\nHost: origin.test:$OP\r\nContent-Length: 11\r\n\r\nhalf-closed")
ok $(echo "$out" | grep -q 'half-closed$'; echo $?) "and so does one that half-closes after a whole request with a body"
out=$(HALFCLOSE=1 python3 "$SRCDIR/regress/e2e/rawreq.py" "$P" 3 "POST /echo?cut HTTP/1.1\r\nHost: origin.test:$OP\r\nContent-Length: 20\r\n\r\nhalf a body")
ok $([ -z "$out" ] && [ "$(audit_last reason path=/echo?cut)" = client_closed ]; echo $?) \
    "one that half-closes in the middle of its body is closed, client_closed ($out)"

ok $([ "$(req -H "Host: narrow.test" "$GW/small")" = 403 ] &&
    [ "$(audit_last reason authority=narrow.test)" = source_denied ] &&
    [ "$(audit_last route authority=narrow.test)" = narrow ]; echo $?) \
    "a route limited to other client networks: 403 source_denied"

# --- addresses: each in turn, round robin ---
st=""; for i in 1 2 3 4; do st="$st$(req $X "http://multi.test:$OP/small")"; done
ok $([ "$st" = 200200200200 ] && [ "$(audit_get count authority=multi.test upstream=127.0.0.1 status=200)" -eq 4 ]; echo $?) \
    "a name with a refusing address and a working one: the next address is tried (4 of 4 served by 127.0.0.1)"
st=""; for i in 1 2 3 4 5 6; do st="$st$(req $X "http://pair.test:$OP/small")"; done
n1=$(grep -c '"pair.test' "$T/origin.log"); n3=$(grep -c '"pair.test' "$T/origin3.log")
ok $([ "$st" = 200200200200200200 ] && [ "$n1" -ge 2 ] && [ "$n3" -ge 2 ]; echo $?) \
    "two endpoints share the requests round robin ($n1 and $n3 of 6)"

# --- upstream errors ---
ok $([ "$(req $X "http://closed.test:$CP/small")" = 502 ] &&
    [ "$(audit_last reason authority=closed.test)" = upstream_refused ]; echo $?) "connect refused: 502 upstream_refused"
ok $([ "$(req $X "http://nx.wild.test.invalid:$OP/small")" = 403 ]; echo $?) "(a name under no service stays 403)"

ok $([ "$(req $X "http://tls.wild.test:$CP/small")" = 502 ] &&
    [ "$(audit_last reason authority=tls.wild.test)" = upstream_refused ]; echo $?) \
    "plain HTTP to an https service port originates TLS: closed, 502 upstream_refused"

# --- HTTP/1.1 semantics ---
req $X -H 'Connection: X-Secret, keep-alive' -H 'X-Secret: 1' -H 'Keep-Alive: 5' \
    -H 'Proxy-Authorization: Basic Zm9vOmJhcg==' -H 'TE: trailers' -H 'X-Kept: yes' \
    "http://origin.test:$OP/headers" >/dev/null
ok $(grep -qi -e '^x-secret' -e '^keep-alive' -e '^proxy-authorization' -e '^te:' -e '^proxy-connection' "$T/body"; [ $? -ne 0 ]; echo $?) \
    "hop-by-hop headers and those Connection names are removed"
ok $(grep -q '^X-Kept: yes' "$T/body" && grep -q '^Via: 1.1 [^ ]* (egressd)' "$T/body"; echo $?) "end-to-end headers kept, Via added"
head -c 100000 /dev/urandom > "$T/upload"
ok $([ "$(req $X -H 'Transfer-Encoding: chunked' --data-binary @"$T/upload" "http://origin.test:$OP/echo")" = 200 ] &&
    cmp -s "$T/body" "$T/upload"; echo $?) "a chunked request body arrives whole (100 kB)"
ok $([ "$(req $X --data-binary @"$T/upload" -H 'Expect: 100-continue' "http://origin.test:$OP/echo")" = 200 ] &&
    cmp -s "$T/body" "$T/upload"; echo $?) "Expect: 100-continue with a body"
ok $([ "$(req $X "http://origin.test:$OP/chunked")" = 200 ] && [ "$(cat "$T/body")" = chunk1chunk2 ]; echo $?) "a chunked response"
ok $([ "$(req -0 $X "http://origin.test:$OP/chunked")" = 200 ] && [ "$(cat "$T/body")" = chunk1chunk2 ]; echo $?) "a chunked response to an HTTP/1.0 client"
ok $([ "$(req $X "http://origin.test:$OP/close")" = 200 ] && [ "$(cat "$T/body")" = until-close ]; echo $?) "a body delimited by close"
curl -s -m 20 $X -o "$T/b1" -o "$T/b2" -o "$T/b3" "http://origin.test:$OP/big?n=1048576" \
    "http://origin.test:$OP/big?n=3000001" "http://origin.test:$OP/small"
ok $([ "$(stat -c %s "$T/b1")" = 1048576 ] && [ "$(stat -c %s "$T/b2")" = 3000001 ] &&
    [ "$(cat "$T/b3")" = hello ]; echo $?) "large Content-Length bodies whole, then more requests on the same connection"
out=$(python3 "$SRCDIR/regress/e2e/rawreq.py" "$P" 2 "GET /x HTTP/1.0\r\nHost: evil.test\r\n\r\n" | tr -d '\r')
ok $(echo "$out" | head -1 | grep -q '^HTTP/1.0 403'; echo $?) \
    "an HTTP/1.0 client is refused in HTTP/1.0 ($(echo "$out" | head -1))"
ok $([ "$(req -I $X "http://origin.test:$OP/small")" = 200 ]; echo $?) "HEAD"
ok $([ "$(req $X "http://origin.test:$OP/status/204")" = 204 ] && [ "$(req $X "http://origin.test:$OP/status/304")" = 304 ]; echo $?) "204 and 304 without bodies"
n=$(curl -s -m 10 -o /dev/null -o /dev/null -o /dev/null -w '%{num_connects} ' $X "http://origin.test:$OP/small" "http://origin.test:$OP/small" "http://origin.test:$OP/small")
ok $([ "$n" = "1 0 0 " ]; echo $?) "keep-alive: three requests on one client connection ($n)"
out=$(python3 "$SRCDIR/regress/e2e/rawreq.py" "$P" 2 "GET /small HTTP/1.1\r\nHost: origin.test:$OP\r\n\r\nGET /chunked HTTP/1.1\r\nHost: origin.test:$OP\r\nConnection: close\r\n\r\n")
ok $(echo "$out" | tr -d '\r' | tr '\n' ' ' | grep -q 'hello .*HTTP/1.1 200.*chunk1'; echo $?) "pipelined requests are answered in order"

# --- limits ---
long=$(head -c 2000 /dev/zero | tr '\0' a)
ok $([ "$(req $X "http://origin.test:$OP/$long")" = 414 ]; echo $?) "a request-target over max uri length: 414"
big=$(head -c 5000 /dev/zero | tr '\0' b)
ok $([ "$(req $X -H "X-Big: $big" "http://origin.test:$OP/small")" = 431 ]; echo $?) "a head over max header size: 431"
hs=""; for i in $(seq 1 25); do hs="$hs -H X-H$i:$i"; done
ok $([ "$(req $X $hs "http://origin.test:$OP/small")" = 431 ]; echo $?) "more than max headers: 431"
out=$(python3 "$SRCDIR/regress/e2e/rawreq.py" "$P" 5 "GET /small HTTP/1.1\r\nHost: origin.test:$OP\r\n")
ok $(echo "$out" | grep -q '^HTTP/1.1 408'; echo $?) "a request head not finished in time: 408"
n408=$(audit_get count reason=request_timeout)
out=$(python3 "$SRCDIR/regress/e2e/rawreq.py" "$P" 6 "GET /small HTTP/1.1\r\nHost: origin.test:$OP\r\n\r\n")
ok $(echo "$out" | grep -q '^hello' && [ "$(echo "$out" | grep -c '^HTTP/1.1 ')" = 1 ]; echo $?) \
    "an idle keep-alive connection reaching idle timeout is closed with no answer ($(echo "$out" | grep '^HTTP/1.1 ' | tr '\r\n' '  '))"
ok $([ "$(audit_get count reason=request_timeout)" = "$n408" ]; echo $?) "and nothing is recorded for it"
out=$(python3 "$SRCDIR/regress/e2e/rawreq.py" "$P" 6 "GET /small HTTP/1.1\r\nHost: origin.test:$OP\r\n\r\nGET /small HTTP/1.1\r\nHost: origin.test:$OP\r\n")
ok $(echo "$out" | tr -d '\r' | tr '\n' ' ' | grep -q 'HTTP/1.1 200 .*hello HTTP/1.1 408' &&
    [ "$(audit_get count reason=request_timeout)" = $((n408 + 1)) ]; echo $?) \
    "a second head begun and not finished on a kept connection: 408, recorded"

# --- framing attacks: refused, and no second request reaches the origin ---
smuggle() {	# smuggle NAME RAW
	before=$(seen '/smuggled')
	out=$(python3 "$SRCDIR/regress/e2e/rawreq.py" "$P" 2 "$2")
	ok $(echo "$out" | grep -q '^HTTP/1.1 400'; echo $?) "$1: 400"
	ok $([ "$(seen '/smuggled')" = "$before" ]; echo $?) "$1: no smuggled request reached the origin"
}
H="Host: origin.test:$OP"
smuggle "CL and TE together" "POST /echo HTTP/1.1\r\n$H\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\n$H\r\n\r\n"
smuggle "duplicate Content-Length" "POST /echo HTTP/1.1\r\n$H\r\nContent-Length: 3\r\nContent-Length: 40\r\n\r\nabcGET /smuggled HTTP/1.1\r\n$H\r\n\r\n"
smuggle "bad chunk size" "POST /echo HTTP/1.1\r\n$H\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nGET /smuggled HTTP/1.1\r\n$H\r\n\r\n"
smuggle "bare LF" "GET /small HTTP/1.1\n$H\n\nGET /smuggled HTTP/1.1\n$H\n\n"
smuggle "bare CR" "GET /small HTTP/1.1\r\n$H\rX: y\r\n\r\nGET /smuggled HTTP/1.1\r\n$H\r\n\r\n"
smuggle "obs-fold" "GET /small HTTP/1.1\r\n$H\r\nX-A: a\r\n b\r\n\r\nGET /smuggled HTTP/1.1\r\n$H\r\n\r\n"
smuggle "TE other than chunked" "POST /echo HTTP/1.1\r\n$H\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\n$H\r\n\r\n"

# --- websocket ---
out=$(python3 "$SRCDIR/regress/e2e/rawreq.py" "$P" 2 "GET /ws HTTP/1.1\r\n$H\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: x\r\n\r\nping-through-tunnel")
ok $(echo "$out" | grep -q '^HTTP/1.1 101' && echo "$out" | grep -q 'ping-through-tunnel'; echo $?) \
    "Upgrade: websocket on a route that allows it: 101, then bytes both ways"
out=$(python3 "$SRCDIR/regress/e2e/rawreq.py" "$P" 2 "GET /small HTTP/1.1\r\n$H\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
ok $(echo "$out" | grep -q '^HTTP/1.1 403'; echo $?) "websocket where no route allows it: 403"

# the audit trail parsed whole (a malformed record fails this)
ok $(audit_get dump > "$T/audit.json"; echo $?) "every audit record parses ($(wc -l < "$T/audit.json") records)"

stop_egressd
ok $([ "$EGD_STATUS" -eq 0 ]; echo $?) "stops with status 0"
done_testing
