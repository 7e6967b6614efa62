# The end of a drain: on SIGTERM, connections in flight get drain
# timeout seconds; what is still open then, a tunnel and a request
# waiting for a slow origin, is cut by the worker itself and recorded
# with the reason shutting_down, so that no decision goes without its
# record; the daemon exits 0 without having to kill a worker.
. "$SRCDIR/regress/e2e/common.sh"

P=$(free_port); OP=$(free_port)
start_origin 127.0.0.1 "$OP"
cat > "$T/egressd.conf" <<CONF
user "$EGD_USER"
chroot "$T/root"
workers 1
drain timeout 1
gateway "gw" {
	listen on 127.0.0.1 port $P http
}
service "origin" {
	hosts { "origin.test" }
	port $OP http
	resolution static
	endpoint 127.0.0.1
	allow private
}
service "tunnel" {
	hosts { "tunnel.test" }
	port $OP tcp
	resolution static
	endpoint 127.0.0.1
	allow private
}
CONF
start_egressd "$T/egressd.conf" || { fail "egressd starts"; done_testing; exit 1; }

# A tunnel held open, and a request its origin answers in 20 s.
python3 - "$P" "$OP" > "$T/tunnel.out" <<'PY' &
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=30)
s.sendall(b"CONNECT tunnel.test:%s HTTP/1.1\r\nHost: tunnel.test\r\n\r\n" % sys.argv[2].encode())
print(s.recv(4096).split(b"\r\n")[0].decode(), flush=True)
try:
    print("closed" if s.recv(4096) == b"" else "data", flush=True)
except socket.timeout:
    print("timeout", flush=True)
PY
TUN=$!
curl -s -m 30 -o /dev/null -w '%{http_code}\n' -x "http://127.0.0.1:$P" \
    "http://origin.test:$OP/slow?ms=20000" > "$T/slow.out" &
SLOW=$!
EXTRA_PIDS="$EXTRA_PIDS $TUN $SLOW"
wait_for 50 grep -q "200 Connection established" "$T/tunnel.out"
wait_for 50 sh -c "grep -c /slow $T/origin.log >/dev/null 2>&1"

kill -TERM "$EGD_PID"
wait "$EGD_PID"
st=$?
EGD_PID=
ok $([ "$st" -eq 0 ]; echo $?) "the daemon exits 0 after the drain timeout ($st)"
ok $(! log_has "drain timeout, killing"; echo $?) "no worker had to be killed"
ok $(log_has "drain timeout: cutting 2 connections"; echo $?) "the worker cut its two connections itself"
wait "$TUN" "$SLOW"
ok $(grep -qx closed "$T/tunnel.out"; echo $?) "the tunnel's client saw the close"
ok $([ "$(audit_get last reason _msgid=TUNNEL authority=tunnel.test)" = shutting_down ]; echo $?) \
    "the tunnel is recorded: TUNNEL, reason shutting_down"
ok $([ "$(audit_get last reason _msgid=REQUEST path=/slow?ms=20000)" = shutting_down ] &&
    [ "$(cat "$T/slow.out")" = 000 ]; echo $?) \
    "the request waiting for its origin is cut and recorded: REQUEST, reason shutting_down"
done_testing
