# What an origin may answer before its response, tried as a hostile one
# would (regress/e2e/evil_origin.py).  A 101 Switching Protocols turns the
# client connection into a tunnel to that origin for good, so it is taken
# only as the answer to a GET that asked for websocket, on a route that
# allows it, naming websocket; any other 101 is a bad response (502,
# upstream_bad_response, the upstream closed), and nothing the client
# sends afterwards reaches that origin unchecked.  Interim answers: 100
# and 103 go to HTTP/1.1 clients, other 1xx codes to nobody, none to an
# HTTP/1.0 client; HEAD keeps its framing through them.
. "$SRCDIR/regress/e2e/common.sh"

P=$(free_port); OP=$(free_port)
python3 "$SRCDIR/regress/e2e/evil_origin.py" 127.0.0.1 "$OP" "$T/evil.log" 1800 &
EXTRA_PIDS="$!"
wait_for 50 test -f "$T/evil.log.ready"
cat > "$T/egressd.conf" <<CONF
user "$EGD_USER"
chroot "$T/root"
workers 1
idle timeout 5
gateway "gw" {
	listen on 127.0.0.1 port $P http
}
service "evil" {
	hosts { "evil.test" }
	port $OP http
	resolution static
	endpoint 127.0.0.1
	allow private
}
route "ws" {
	match authority "evil.test" path prefix "/w/" {
		websocket
	}
	match authority "evil.test" path prefix "/h/" header "x-team" "blue" {
		websocket
	}
}
CONF
start_egressd "$T/egressd.conf" || { fail "egressd starts"; done_testing; exit 1; }

H="Host: evil.test:$OP"
UP="Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13"
raw() { python3 "$SRCDIR/regress/e2e/rawreq.py" "$P" "$1" "$2" | tr -d '\r'; }
reached() { grep -c -- "$1" "$T/evil.log"; }
audit_last() { audit_get last "$@"; }
leaked() { grep -c '"raw"' "$T/evil.log"; }

# --- 101 to a request that did not ask ---
out=$(raw 2 "GET /switch HTTP/1.1\r\n$H\r\n\r\nGET /second HTTP/1.1\r\nHost: other.test\r\n\r\n")
ok $(echo "$out" | head -1 | grep -q '^HTTP/1.1 502'; echo $?) \
    "101 to a request without Upgrade: 502 ($(echo "$out" | head -1))"
ok $(echo "$out" | grep -q '^HTTP/1.1 101'; [ $? -ne 0 ]; echo $?) "and the 101 never reaches the client"
ok $([ "$(reached /second)" = 0 ] && [ "$(leaked)" = 0 ]; echo $?) \
    "the client's next request does not reach the origin through a tunnel"
ok $([ "$(audit_last reason path=/switch)" = upstream_bad_response ] &&
    [ "$(audit_last status path=/switch)" = 502 ] &&
    [ "$(audit_last _msgid path=/switch)" = DENY ]; echo $?) \
    "audit: DENY, upstream_bad_response, 502"
ok $(echo "$out" | grep -q '^HTTP/1.1 403' &&
    [ "$(audit_last reason authority=other.test)" = no_service ]; echo $?) \
    "the next request on that connection is decided on its own (403 no_service)"

# --- websocket asked, but not allowed or answered wrongly ---
out=$(raw 2 "GET /switch HTTP/1.1\r\n$H\r\n$UP\r\n\r\nping")
ok $(echo "$out" | head -1 | grep -q '^HTTP/1.1 403'; echo $?) "websocket where no route allows it: 403, never 101"
out=$(raw 2 "GET /w/switch-h2c HTTP/1.1\r\n$H\r\n$UP\r\n\r\nping")
ok $(echo "$out" | head -1 | grep -q '^HTTP/1.1 502' && [ "$(leaked)" = 0 ]; echo $?) \
    "101 naming another protocol (h2c) than the websocket asked: 502, nothing tunnelled"
out=$(raw 2 "GET /w/switch-bare HTTP/1.1\r\n$H\r\n$UP\r\n\r\nping")
ok $(echo "$out" | head -1 | grep -q '^HTTP/1.1 502' && [ "$(leaked)" = 0 ]; echo $?) \
    "101 without an Upgrade field: 502, nothing tunnelled"
ok $([ "$(audit_last reason path=/w/switch-bare)" = upstream_bad_response ]; echo $?) "audit: upstream_bad_response"
out=$(raw 2 "POST /w/switch HTTP/1.1\r\n$H\r\n$UP\r\nContent-Length: 0\r\n\r\nping")
ok $(echo "$out" | head -1 | grep -q '^HTTP/1.1 502' && [ "$(leaked)" = 0 ]; echo $?) \
    "101 to a POST that asked for websocket (RFC 6455 wants GET): 502"
out=$(raw 2 "GET /w/switch HTTP/1.0\r\n$H\r\n$UP\r\n\r\nping")
ok $(echo "$out" | head -1 | grep -q '^HTTP/1.0 502\|^HTTP/1.1 502' && [ "$(leaked)" = 0 ]; echo $?) \
    "101 to an HTTP/1.0 request: 502"
out=$(raw 2 "HEAD /switch HTTP/1.1\r\n$H\r\n\r\n")
ok $(echo "$out" | head -1 | grep -q '^HTTP/1.1 502' && [ "$(leaked)" = 0 ]; echo $?) "101 to HEAD: 502"

# --- 101 after 100 Continue ---
out=$(raw 2 "POST /continue-switch HTTP/1.1\r\n$H\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\nbodyGET /second2 HTTP/1.1\r\nHost: other.test\r\n\r\n")
ok $(echo "$out" | head -1 | grep -q '^HTTP/1.1 100' &&
    echo "$out" | grep -q '^HTTP/1.1 502' && ! echo "$out" | grep -q '^HTTP/1.1 101'; echo $?) \
    "100 Continue, then a 101 nobody asked for: the 100 passes, then 502"
ok $([ "$(reached /second2)" = 0 ] && [ "$(leaked)" = 0 ]; echo $?) "and nothing more reaches the origin"

# --- the websocket that is asked for and allowed still works ---
out=$(raw 2 "GET /w/switch HTTP/1.1\r\n$H\r\n$UP\r\n\r\nping-through")
ok $(echo "$out" | head -1 | grep -q '^HTTP/1.1 101' && echo "$out" | grep -q 'ping-through' &&
    [ "$(leaked)" = 1 ]; echo $?) "websocket asked, allowed and answered as asked: 101, bytes both ways"

# --- other interim answers ---
out=$(raw 2 "GET /processing HTTP/1.1\r\n$H\r\n\r\n")
ok $(echo "$out" | head -1 | grep -q '^HTTP/1.1 200' && ! echo "$out" | grep -q 'X-Interim\|^HTTP/1.1 1'; echo $?) \
    "102 and 199 are not passed on; the 200 is ($(echo "$out" | head -1))"
out=$(raw 2 "GET /hints HTTP/1.1\r\n$H\r\n\r\n")
ok $(echo "$out" | head -1 | grep -q '^HTTP/1.1 103' && echo "$out" | grep -q '^Link: </s.css>' &&
    echo "$out" | grep -q '^HTTP/1.1 200'; echo $?) "103 Early Hints passes with its Link field, then the 200"
out=$(raw 2 "GET /hints HTTP/1.0\r\n$H\r\n\r\n")
ok $(echo "$out" | head -1 | grep -q '^HTTP/1.0 200' && ! echo "$out" | grep -q ' 103 '; echo $?) \
    "an HTTP/1.0 client gets no interim answer (RFC 9110 15.2)"
out=$(raw 2 "HEAD /hints HTTP/1.1\r\n$H\r\n\r\nGET /continue HTTP/1.1\r\n$H\r\n\r\n")
ok $(echo "$out" | tr '\n' ' ' | grep -q '^HTTP/1.1 103 .*HTTP/1.1 200 .*HTTP/1.1 100 .*HTTP/1.1 200 .*ok $'; echo $?) \
    "HEAD through a 103: no body, and the next response on the connection is framed right"
ok $([ "$(audit_get count _msgid=REQUEST path=/hints method=HEAD status=200)" = 1 ]; echo $?) "audit: HEAD recorded with 200, not 103"

# --- a websocket on a route matched by a header, across a reload ---
# A reload decides open websockets again, through the route's header
# condition: the request's fields must be read as the policy reads them.
python3 - "$P" "$OP" > "$T/ws.out" <<'PY' &
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=30)
s.sendall(b"GET /h/switch HTTP/1.1\r\nHost: evil.test:%s\r\nX-Team: blue\r\n"
          b"Connection: Upgrade\r\nUpgrade: websocket\r\n\r\n" % sys.argv[2].encode())
f = s.makefile("rb")
print(f.readline().decode().strip(), flush=True)
while f.readline() not in (b"\r\n", b""):
    pass
for i in range(40):
    line = b"line %d\n" % i
    try:
        s.sendall(line)
        back = f.readline()
    except OSError:
        back = b""
    print("echo" if back == line else "cut", flush=True)
    if back != line:
        break
    time.sleep(0.1)
PY
WS=$!
EXTRA_PIDS="$EXTRA_PIDS $WS"
wait_for 50 grep -q echo "$T/ws.out"
kill -HUP "$EGD_PID"
ok $(wait_for 100 log_has "reload: generation 2 in force"; echo $?) "a reload while a header-matched websocket is open"
wait "$WS"
ok $(head -1 "$T/ws.out" | grep -q '^HTTP/1.1 101' && ! grep -q cut "$T/ws.out" &&
    [ "$(grep -c echo "$T/ws.out")" = 40 ]; echo $?) \
    "the websocket, decided again through its header condition, goes on ($(grep -c echo "$T/ws.out") of 40 lines)"
ok $(! log_has "killed by\|signal 11"; echo $?) "no worker died"

# --- status codes outside 100..599 (a fuzz finding) ---
for st in 1 099 600; do
	out=$(raw 2 "GET /status-$st HTTP/1.1\r\n$H\r\n\r\n")
	ok $(echo "$out" | head -1 | grep -q '^HTTP/1.1 502' &&
	    [ "$(audit_last reason path=/status-$st)" = upstream_bad_response ]; echo $?) \
	    "status $st from the origin: 502 upstream_bad_response ($(echo "$out" | head -1))"
done

ok $(audit_get dump > "$T/audit.json"; echo $?) "every audit record parses ($(wc -l < "$T/audit.json") records)"
stop_egressd
ok $([ "$EGD_STATUS" -eq 0 ]; echo $?) "stops with status 0"
done_testing
