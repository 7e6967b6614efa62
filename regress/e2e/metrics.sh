# Metrics: GET /metrics on the admin listener, answered by whichever of
# two workers accepts, from the shared status of both.  Counts are exact:
# N allowed, M denied for no service, K for a DNS failure, by service,
# decision and status class; bytes equal the audit records' sums; the
# gauges come back to 0; the configuration generation follows reloads
# (and a failed one shows); a worker killed with SIGKILL is a restart and
# takes no count with it.  The text format is checked line by line.
. "$SRCDIR/regress/e2e/common.sh"
command -v dnsmasq >/dev/null || { fail "dnsmasq is installed"; done_testing; exit 1; }

P=$(free_port); OP=$(free_port); DP=$(free_port); MP=$(free_port)
start_origin 127.0.0.1 "$OP"
start_dns "$DP" --address=/origin.test/127.0.0.1 --address=/odd.test/127.0.0.1
conf() {
	cat > "$T/egressd.conf" <<CONF
user "$EGD_USER"
chroot "$T/root"
workers 2
nameserver 127.0.0.1 port $DP
metrics listen on 127.0.0.1 port $MP
control socket "$T/egressd.sock"
$1
gateway "gw" {
	listen on 127.0.0.1 port $P http
}
service "origin" {
	hosts { "origin.test" }
	port $OP http
	allow private
}
service "fails" {
	hosts { "fail.test" }
	port $OP http
}
service "we\"ird\\\\name" {
	hosts { "odd.test" }
	port $OP http
	allow private
}
CONF
}
conf ""
start_egressd "$T/egressd.conf" || { fail "egressd starts"; done_testing; exit 1; }

scrape() { curl -s -m 5 -o "$T/metrics" -w '%{http_code}' "http://127.0.0.1:$MP/metrics"; }
# m 'SERIES': the value of one series in the last scrape, "none" if absent
m() { S="$1" awk 'BEGIN { s = ENVIRON["S"] } substr($0, 1, length(s) + 1) == s " " { print $NF; f = 1 } END { if (!f) print "none" }' "$T/metrics"; }
is() {	# is 'SERIES' VALUE DESCRIPTION
	v=$(m "$1")
	ok $([ "$v" = "$2" ]; echo $?) "$3 ($1 = $v, want $2)"
}
proxied() { curl -s -o /dev/null -m 8 -w '%{http_code}' -x "http://127.0.0.1:$P" "$@"; }

# --- before any request ---------------------------------------------------
ok $([ "$(scrape)" = 200 ]; echo $?) "GET /metrics: 200"
ok $(curl -s -m 5 -D - -o /dev/null "http://127.0.0.1:$MP/metrics" | grep -qi '^content-type: text/plain; version=0.0.4'; echo $?) \
    "content type: text/plain; version=0.0.4"
is 'egressd_config_generation' 1 "generation 1"
is 'egressd_workers' 2 "two workers"
is 'egressd_connections_active' 0 "no connections yet"

# The format: HELP and TYPE before a family's samples, names and labels
# well-formed, no series twice, histogram buckets cumulative.
check_format() {
	python3 - "$T/metrics" <<'PY'
import re, sys
name = r'[a-zA-Z_:][a-zA-Z0-9_:]*'
lval = r'"(?:[^"\\\n]|\\[\\"n])*"'
sample = re.compile(r'^(%s)(\{%s=%s(?:,%s=%s)*\})? (-?[0-9.e+]+|\+Inf|NaN)$' %
    (name, name, lval, name, lval))
types, seen, errors = {}, set(), []
for n, line in enumerate(open(sys.argv[1]), 1):
    line = line.rstrip("\n")
    if line.startswith("# HELP ") or line.startswith("# TYPE "):
        f = line.split(" ", 3)
        if line.startswith("# TYPE "):
            types[f[2]] = f[3]
        continue
    m = sample.match(line)
    if not m:
        errors.append("%d: malformed: %s" % (n, line))
        continue
    base = re.sub(r'_(bucket|sum|count)$', '', m.group(1))
    if m.group(1) not in types and base not in types:
        errors.append("%d: no TYPE before %s" % (n, m.group(1)))
    key = m.group(1) + (m.group(2) or "")
    if key in seen:
        errors.append("%d: series twice: %s" % (n, key))
    seen.add(key)
for e in errors:
    print("# " + e)
sys.exit(1 if errors else 0)
PY
}
check_format; ok $? "the text format is well-formed"

# --- N allowed, M denied (no service), K denied (DNS) ----------------------
N=12 M=5 K=3
for i in $(seq $N); do proxied "http://origin.test:$OP/small" >>"$T/codes"; echo >>"$T/codes"; done
for i in $(seq $M); do proxied "http://nothere.test/x" >>"$T/codes"; echo >>"$T/codes"; done
for i in $(seq $K); do proxied "http://fail.test:$OP/x" >>"$T/codes"; echo >>"$T/codes"; done
proxied "http://odd.test:$OP/small" >>"$T/codes"; echo >>"$T/codes"
diag "statuses: $(sort "$T/codes" | uniq -c | tr '\n' ' ')"
ok $([ "$(grep -c '^200$' "$T/codes")" -eq $((N + 1)) ]; echo $?) "$N + 1 requests answered 200"
scrape >/dev/null
is 'egressd_requests_total{service="origin",decision="allow",code_class="2xx"}' $N \
    "requests by service, decision, class: exactly N"
is 'egressd_requests_total{service="",decision="deny",code_class="4xx"}' $M \
    "denials with no service: exactly M, under service=\"\""
is 'egressd_requests_total{service="fails",decision="deny",code_class="5xx"}' $K \
    "DNS failures: exactly K, 5xx"
is 'egressd_requests_total{service="we\"ird\\name",decision="allow",code_class="2xx"}' 1 \
    "a service name with a quote and a backslash is escaped in its label"
is 'egressd_denials_total{reason="no_service"}' $M "denials by reason: no_service"
is 'egressd_denials_total{reason="dns_failed"}' $K "denials by reason: dns_failed"
is 'egressd_denials_total{reason="rate_limited"}' 0 "reasons never seen are there, at 0"
total=$((N + M + K + 1))
is 'egressd_request_duration_seconds_count' $total "histogram count: every record"
is 'egressd_request_duration_seconds_bucket{le="+Inf"}' $total "the +Inf bucket holds them all"
bin=$(audit_get dump | python3 -c 'import json,sys; print(sum(int(json.loads(l).get("bytes_in", 0)) for l in sys.stdin))')
bout=$(audit_get dump | python3 -c 'import json,sys; print(sum(int(json.loads(l).get("bytes_out", 0)) for l in sys.stdin))')
is 'egressd_bytes_total{direction="in"}' "$bin" "bytes in: the sum of the audit records"
is 'egressd_bytes_total{direction="out"}' "$bout" "bytes out: the sum of the audit records"
is 'egressd_dns_queries_total' $((N + K + 1)) "DNS: one question to the helper per resolved request"
is 'egressd_dns_failures_total' $K "DNS: failures"
hm=$(( $(m egressd_dns_cache_hits_total) + $(m egressd_dns_cache_misses_total) ))
ok $([ "$hm" -ge 3 ] && [ "$hm" -le $((N + K + 1)) ]; echo $?) "DNS: hits and misses add up ($hm)"
check_format; ok $? "still well-formed with samples"
ok $(wait_for 50 sh -c "curl -s -m 5 http://127.0.0.1:$MP/metrics | grep -qx 'egressd_connections_active 0'"; echo $?) \
    "active connections back to 0"
is 'egressd_tunnels_active' 0 "no tunnels"

# --- gauges while a tunnel is open ----------------------------------------
rm -f "$T/r1" "$T/s1"
python3 "$SRCDIR/regress/e2e/hold.py" "$P" 1 "CONNECT origin.test:$OP HTTP/1.1\r\nHost: origin.test:$OP\r\n\r\n" "$T/r1" "$T/s1" > "$T/h1" &
H1=$!; EXTRA_PIDS="${EXTRA_PIDS:-} $H1"
wait_for 100 test -f "$T/r1"
scrape >/dev/null
is 'egressd_tunnels_active' 1 "an open tunnel is counted"
is 'egressd_connections_active' 1 "and its connection"
touch "$T/s1"; wait "$H1"
ok $(wait_for 50 sh -c "curl -s -m 5 http://127.0.0.1:$MP/metrics | grep -qx 'egressd_tunnels_active 0'"; echo $?) \
    "tunnels back to 0 when it ends"
scrape >/dev/null
is 'egressd_requests_total{service="origin",decision="allow",code_class="2xx"}' $((N + 1)) \
    "the tunnel is counted once, when it ends"
is 'egressd_connections_active' 0 "connections back to 0"

# --- not /metrics ---------------------------------------------------------
ok $([ "$(curl -s -o /dev/null -m 5 -w '%{http_code}' "http://127.0.0.1:$MP/")" = 404 ]; echo $?) "GET /: 404"
ok $([ "$(curl -s -o /dev/null -m 5 -w '%{http_code}' "http://127.0.0.1:$MP/metricsx")" = 404 ]; echo $?) "GET /metricsx: 404"
ok $([ "$(curl -s -o /dev/null -m 5 -w '%{http_code}' -X POST "http://127.0.0.1:$MP/metrics")" = 405 ]; echo $?) "POST /metrics: 405"
st=$(python3 -c '
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(b"GET /metrics\r\n\r\n")
print(s.recv(64).split(b"\r\n")[0].decode())' "$MP")
ok $([ "$st" = "HTTP/1.1 400 Bad Request" ]; echo $?) "a request line without a version: 400 ($st)"
st=$(python3 -c '
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(b"GET /metrics HTTP/1.1\r\nX: " + b"a" * 8000 + b"\r\n\r\n")
d = b""
try:
    while True:
        c = s.recv(4096)
        if not c: break
        d += c
except OSError:
    pass
print(d.split(b"\r\n")[0].decode())' "$MP")
ok $([ "$st" = "HTTP/1.1 431 Request Header Fields Too Large" ]; echo $?) "a head over 4 KiB: 431 ($st)"
ok $([ "$(proxied "http://origin.test:$OP/small")" = 200 ]; echo $?) "the gateway still serves"

# --- reloads ----------------------------------------------------------------
scrape >/dev/null
t0=$(m egressd_config_last_reload_timestamp_seconds)
before=$(m 'egressd_requests_total{service="origin",decision="allow",code_class="2xx"}')
sleep 1
kill -HUP "$EGD_PID"
ok $(wait_for 50 sh -c "curl -s -m 5 http://127.0.0.1:$MP/metrics | grep -qx 'egressd_config_generation 2'"; echo $?) \
    "after SIGHUP: generation 2"
scrape >/dev/null
is 'egressd_config_last_reload_success' 1 "the reload succeeded"
t1=$(m egressd_config_last_reload_timestamp_seconds)
ok $([ "$t1" -gt "$t0" ]; echo $?) "its time is recorded ($t0 -> $t1)"
is 'egressd_requests_total{service="origin",decision="allow",code_class="2xx"}' "$before" \
    "counters keep their values across a reload"
cp "$T/egressd.conf" "$T/good.conf"
echo "this is not a keyword" >> "$T/egressd.conf"
kill -HUP "$EGD_PID"
ok $(wait_for 50 sh -c "curl -s -m 5 http://127.0.0.1:$MP/metrics | grep -qx 'egressd_config_last_reload_success 0'"; echo $?) \
    "a broken file: last reload success 0"
scrape >/dev/null
is 'egressd_config_generation' 2 "generation 2 kept"
cp "$T/good.conf" "$T/egressd.conf"

# --- a worker killed -----------------------------------------------------------
is 'egressd_worker_restarts_total' 0 "no restarts yet"
w=$(workers_of "$EGD_PID" | head -n 1)
kill -KILL "$w"
ok $(wait_for 50 sh -c "curl -s -m 5 http://127.0.0.1:$MP/metrics | grep -qx 'egressd_worker_restarts_total 1'"; echo $?) \
    "a worker killed with SIGKILL: restarts 1"
two_workers() { [ "$(workers_of "$EGD_PID" | wc -l)" -eq 2 ]; }
ok $(wait_for 50 two_workers; echo $?) "and it is back"
scrape >/dev/null
is 'egressd_requests_total{service="origin",decision="allow",code_class="2xx"}' "$before" \
    "no count lost with it"
is 'egressd_connections_active' 0 "its gauges start again at 0"
for i in 1 2 3 4; do proxied "http://origin.test:$OP/small" >/dev/null; done
scrape >/dev/null
is 'egressd_requests_total{service="origin",decision="allow",code_class="2xx"}' $((before + 4)) \
    "and counting goes on from there"

# --- the metrics address moves on reload ------------------------------------
MP2=$(free_port)
sed -i "s/^metrics listen on .*/metrics listen on 127.0.0.1 port $MP2/" "$T/egressd.conf"
kill -HUP "$EGD_PID"
ok $(wait_for 50 sh -c "curl -s -m 5 http://127.0.0.1:$MP2/metrics | grep -qx 'egressd_config_generation 3'"; echo $?) \
    "a reload moves the metrics listener"
ok $([ "$(curl -s -o /dev/null -m 5 -w '%{http_code}' "http://127.0.0.1:$MP/metrics")" = 000 ]; echo $?) \
    "and closes the old one"
ok $(grep -c "seccomp" "$T/egressd.log" | grep -qx 0; echo $?) "no seccomp kill in the log"

stop_egressd
ok $([ "$EGD_STATUS" -eq 0 ]; echo $?) "stops with status 0"

# --- more service names than the table holds ---------------------------------
# 260 services, one request each: 256 keep their names, 4 count as other.
{
	cat <<CONF
user "$EGD_USER"
chroot "$T/root"
workers 2
nameserver 127.0.0.1 port $DP
metrics listen on 127.0.0.1 port $MP
control socket "$T/egressd.sock"
gateway "gw" {
	listen on 127.0.0.1 port $P http
}
CONF
	for i in $(seq 260); do
		printf 'service "s%d" {\n\thosts { "s%d.test" }\n\tport %d http\n\tresolution static\n\tendpoint 127.0.0.1\n\tallow private\n}\n' \
		    "$i" "$i" "$OP"
	done
} > "$T/many.conf"
start_egressd "$T/many.conf" || { fail "egressd starts with 260 services"; done_testing; exit 1; }
urls=; for i in $(seq 260); do urls="$urls http://s$i.test:$OP/small"; done
# shellcheck disable=SC2086 # one URL a word
curl -s -m 60 -x "http://127.0.0.1:$P" $urls >/dev/null
scrape >/dev/null
named=$(grep -c '^egressd_requests_total{service="s[0-9]*",decision="allow",code_class="2xx"} 1$' "$T/metrics")
ok $([ "$named" -eq 256 ]; echo $?) "256 service names get their own series ($named)"
is 'egressd_requests_total{service="other",decision="allow",code_class="2xx"}' 4 \
    "the 4 beyond count as other"
check_format; ok $? "well-formed with 257 services"
stop_egressd
done_testing
