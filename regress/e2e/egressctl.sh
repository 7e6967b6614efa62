# egressctl against a running egressd: every command as text and as JSON
# (checked with python3 -m json.tool and against what the daemon did),
# reload (a new generation; a second within a second refused; a broken file fails and
# keeps the generation), log verbose and brief (debug lines come and go),
# who may talk (root, the control group; not a user without it, checked
# by the socket's mode and again by SO_PEERCRED), a protocol version
# mismatch, clients that break the protocol, no daemon at all.
. "$SRCDIR/regress/e2e/common.sh"
command -v dnsmasq >/dev/null || { fail "dnsmasq is installed"; done_testing; exit 1; }
EGRESSCTL=${EGRESSCTL:-$(dirname "$EGRESSD")/egressctl}
[ -x "$EGRESSCTL" ] || { fail "egressctl is built ($EGRESSCTL)"; done_testing; exit 1; }

P=$(free_port); OP=$(free_port); DP=$(free_port)
S=$T/ctl/egressd.sock
G=nogroup			# the control group of this test
getent group "$G" >/dev/null || { fail "group $G exists"; done_testing; exit 1; }
start_origin 127.0.0.1 "$OP"
start_dns "$DP" --address=/origin.test/127.0.0.1
cat > "$T/egressd.conf" <<CONF
user "$EGD_USER"
chroot "$T/root"
workers 2
nameserver 127.0.0.1 port $DP
control socket "$S" group "$G"
gateway "gw" {
	listen on 127.0.0.1 port $P http
}
service "origin" {
	hosts { "origin.test" }
	port $OP http
	allow private
}
route "to-origin" {
	gateway "gw"
	match authority "alias.test" {
		forward to "origin.test" port $OP weight 100
		rewrite authority "origin.test"
	}
}
CONF
start_egressd "$T/egressd.conf" || { fail "egressd starts"; done_testing; exit 1; }

ctl() { "$EGRESSCTL" -s "$S" "$@"; }
# json FILE EXPR: a Python expression on the parsed JSON document j
json() { python3 -c 'import json, sys; j = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"; }

# --- the socket ------------------------------------------------------------
ok $([ "$(stat -c '%a %U %G' "$S")" = "660 root $G" ]; echo $?) \
    "the socket is 0660 root:$G ($(stat -c '%a %U %G' "$S"))"
ok $([ "$(stat -c '%a %U' "$T/ctl")" = "755 root" ]; echo $?) "its directory was made 0755 root"

for i in 1 2 3 4 5; do
	curl -s -o /dev/null -m 5 -x "http://127.0.0.1:$P" "http://origin.test:$OP/small"
done
curl -s -o /dev/null -m 5 -x "http://127.0.0.1:$P" "http://nothere.test/"

# --- every command, as text and as JSON --------------------------------------
for c in "show summary" "show services" "show routes" "show workers" "show dns"; do
	# shellcheck disable=SC2086 # the command's words
	ctl $c > "$T/out" 2> "$T/err"
	ok $([ $? -eq 0 ] && [ -s "$T/out" ] && [ ! -s "$T/err" ]; echo $?) "$c: text, exit 0"
	f=$T/$(echo "$c" | tr ' ' _).json
	# shellcheck disable=SC2086
	ctl -j $c > "$f" 2> "$T/err"
	ok $([ $? -eq 0 ] && python3 -m json.tool "$f" >/dev/null; echo $?) "$c -j: valid JSON"
done
sed 's/^/# /' "$T/show_summary.json"
ok $([ "$(json "$T/show_summary.json" 'j["generation"]')" = 1 ]; echo $?) "summary: generation 1"
ok $([ "$(json "$T/show_summary.json" 'j["requests"]["allow"], j["requests"]["deny"]')" = "(5, 1)" ]; echo $?) \
    "summary: 5 allowed, 1 denied"
ok $([ "$(json "$T/show_summary.json" 'j["workers"]["running"], j["connections"]')" = "(2, 0)" ]; echo $?) \
    "summary: 2 workers running, no connection"
ok $([ "$(json "$T/show_summary.json" 'j["pid"]')" = "$EGD_PID" ]; echo $?) "summary: the parent's pid"
ok $(ctl show summary | grep -q '^requests 6: 5 allowed, 1 denied'; echo $?) \
    "summary as text says the same"
ok $([ "$(json "$T/show_services.json" '[(s["name"], s["requests"]["allow"]) for s in j["services"]]')" = "[('origin', 5)]" ]; echo $?) \
    "services: origin, 5 allowed"
ok $(ctl show services | grep -q 'requests 5 allowed, 0 denied'; echo $?) "services as text"
ok $([ "$(json "$T/show_routes.json" '[(r["name"], r["matches"][0]["destinations"][0]["host"]) for r in j["routes"]]')" = "[('to-origin', 'origin.test')]" ]; echo $?) \
    "routes: to-origin, to origin.test"
ok $(ctl show routes | grep -q 'rewrite authority "origin.test"'; echo $?) "routes as text"
pids=$(workers_of "$EGD_PID" | sort -n | tr '\n' ' ')
jpids=$(json "$T/show_workers.json" '" ".join(str(p) for p in sorted(w["pid"] for w in j["workers"])) + " "')
ok $([ "$pids" = "$jpids" ]; echo $?) "workers: the pids of the running workers ($jpids)"
ok $([ "$(json "$T/show_workers.json" 'sum(w["requests"] for w in j["workers"])')" = 6 ]; echo $?) \
    "workers: their requests add up"
ok $([ "$(json "$T/show_dns.json" 'j["queries"]')" = 5 ]; echo $?) "dns: 5 queries"
ok $(ctl show dns | grep -q '^queries 5,'; echo $?) "dns as text"
ok $([ "$(ctl sh sum | head -n 1 | cut -d' ' -f1-3)" = "egressd pid $EGD_PID," ]; echo $?) \
    "unambiguous abbreviations work (sh sum)"

# --- reload ----------------------------------------------------------------
# Two reloads back to back: the second is refused if it comes less than a
# second after the first.  The pair is timed from outside: if the machine
# was so slow that the pair took a second or more, the rule cannot be
# judged by it; the pair is tried again (at most five times) and the
# generation followed as it goes.
gen=1 judged=
for try in 1 2 3 4 5; do
	t0=$(date +%s%N)
	ctl reload > "$T/out" 2>&1; rc1=$?
	ctl reload > "$T/out2" 2>&1; rc2=$?
	t1=$(date +%s%N)
	[ "$rc1" -eq 0 ] && gen=$((gen + 1))
	g1=$gen
	[ "$rc2" -eq 0 ] && gen=$((gen + 1))
	if [ $(( (t1 - t0) / 1000000 )) -lt 1000 ]; then
		judged=1
		break
	fi
	diag "the pair of reloads took $(( (t1 - t0) / 1000000 )) ms; again"
	sleep 1.1
done
ok $([ "$rc1" -eq 0 ] && grep -q "generation $g1" "$T/out"; echo $?) "reload: $(cat "$T/out")"
ok $([ -n "$judged" ] && [ "$rc2" -eq 1 ] && grep -q 'refused' "$T/out2"; echo $?) \
    "a second reload within a second is refused, exit 1 ($(cat "$T/out2"))"
ok $([ "$(ctl -j show summary | json /dev/stdin 'j["generation"]')" = "$gen" ]; echo $?) "show summary: generation $gen"
ok $(wait_for 50 log_has "generation $gen in force"; echo $?) "generation $gen in force everywhere"
sleep 1.1
cp "$T/egressd.conf" "$T/good.conf"
echo "no such keyword" >> "$T/egressd.conf"
ctl -j reload > "$T/out" 2>&1
ok $([ $? -eq 1 ] && [ "$(json "$T/out" 'j["reload"], j["generation"]')" = "('failed', $gen)" ]; echo $?) \
    "a broken file: reload failed, generation $gen kept, exit 1 ($(cat "$T/out"))"
cp "$T/good.conf" "$T/egressd.conf"
sed -i "s|^control socket .*|control socket \"$T/moved.sock\" group \"$G\"|" "$T/egressd.conf"
sleep 1.1
ctl reload > "$T/out" 2>&1
rc=$? gen=$((gen + 1))
ok $([ $rc -eq 0 ] && grep -q "generation $gen" "$T/out"; echo $?) "a reload that moves the socket: generation $gen"
ok $(log_has "control socket changes take a restart"; echo $?) "the move is refused, said in the log"
ok $([ -S "$S" ] && [ ! -e "$T/moved.sock" ] && ctl show summary >/dev/null; echo $?) "the socket stays where it was"
cp "$T/good.conf" "$T/egressd.conf"

# --- log verbose and brief ---------------------------------------------------
# The level reaches every process by message, so the checks poll (bounded)
# rather than sleep for a guessed time.
dbg() { grep -c 'hdns_dispatch_query' "$T/egressd.log"; }
fetch() { curl -s -o /dev/null -m 5 -x "http://127.0.0.1:$P" "http://origin.test:$OP/small"; }
n0=$(dbg)
fetch
ok $([ "$(dbg)" = "$n0" ]; echo $?) "no debug lines before"
ok $([ "$(ctl log verbose)" = "logging verbose" ]; echo $?) "log verbose"
more() { fetch; [ "$(dbg)" -gt "$n0" ]; }
ok $(wait_for 50 more; echo $?) "debug lines appear ($n0 -> $(dbg))"
ok $([ "$(ctl -j show summary | json /dev/stdin 'j["verbose"]')" = 1 ]; echo $?) "show summary says verbose"
ok $([ "$(ctl -j log brief | json /dev/stdin 'j["log"]')" = brief ]; echo $?) "log brief (JSON)"
# They stop: a request that adds none, once the level has arrived.
quiet() { a=$(dbg); fetch; sleep 0.2; [ "$(dbg)" = "$a" ]; }
ok $(wait_for 50 quiet; echo $?) "and they stop"
n1=$(dbg)
fetch; fetch
ok $([ "$(dbg)" = "$n1" ]; echo $?) "and stay stopped"

# --- who may talk ----------------------------------------------------------
if command -v setpriv >/dev/null; then
	setpriv --reuid=nobody --regid=daemon --clear-groups "$EGRESSCTL" -s "$S" show summary > "$T/out" 2>&1
	rc=$?
	ok $([ $rc -eq 1 ] && grep -q "^egressctl: permission denied on $S (root or group $G)" "$T/out"; echo $?) \
	    "a user without the group: permission denied, exit 1 ($(cat "$T/out"))"
	setpriv --reuid=nobody --regid=daemon --groups="$(getent group "$G" | cut -d: -f3)" \
	    "$EGRESSCTL" -s "$S" show summary > "$T/out" 2>&1
	rc=$?
	ok $([ $rc -eq 1 ] && grep -q "permission denied" "$T/out"; echo $?) \
	    "the group only as a supplementary one passes the mode, not SO_PEERCRED"
	ok $(log_has "control: pid [0-9]* uid $(id -u nobody) gid $(getent group daemon | cut -d: -f3): permission denied"; echo $?) \
	    "the worker logs who was turned away"
	setpriv --reuid=nobody --regid="$G" --clear-groups "$EGRESSCTL" -s "$S" show summary > "$T/out" 2>&1
	ok $(grep -q '^egressd pid' "$T/out"; echo $?) "a user whose group is $G may"
else
	skip "setpriv is not installed"
fi

# --- the protocol --------------------------------------------------------------
# raw WORDS...: send framed messages (type:payload-hex), print the answer
raw() {
	python3 - "$S" "$@" <<'PY'
import socket, struct, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
out = b""
for a in sys.argv[2:]:
    if a == "junk":
        out += b"\xff" * 40
        continue
    t, _, p = a.partition(":")
    p = bytes.fromhex(p)
    out += struct.pack("=5I", int(t), 20 + len(p), 0, 0, 0) + p
s.sendall(out)
data = b""
s.settimeout(5)
try:
    while True:
        d = s.recv(65536)
        if not d:
            break
        data += d
except OSError:
    pass
off = 0
while off + 20 <= len(data):
    t, l = struct.unpack_from("=2I", data, off)
    body = data[off + 20:off + l]
    if t == 1002:
        print("END %d" % struct.unpack("=i", body)[0])
    else:
        print("TEXT %s" % body.decode(errors="replace").strip())
    off += l
PY
}
le32() { python3 -c 'import struct, sys; print(struct.pack("<I", int(sys.argv[1])).hex())' "$1"; }
V=$(grep 'define EGD_PROTO_VERSION' "$SRCDIR/src/proto.h" | awk '{print $3}')
raw "1000:$(le32 $((V + 1)))" "1003:$(le32 0)" > "$T/out"
sed 's/^/# /' "$T/out"
ok $(grep -q "^TEXT protocol version mismatch: egressd speaks $V, egressctl $((V + 1))" "$T/out" && grep -qx 'END 2' "$T/out"; echo $?) \
    "a HELLO with another version: refused with a clear answer"
raw "1000:$(le32 "$V")00000000" > "$T/out"
ok $(grep -q 'protocol version mismatch' "$T/out"; echo $?) "a HELLO of another size: refused the same way"
raw "1003:$(le32 0)" > "$T/out"
ok $(grep -qx 'END 1' "$T/out"; echo $?) "a request before HELLO: an error ($(head -n 1 "$T/out"))"
raw "1000:$(le32 "$V")" "1003:$(le32 4)" > "$T/out"
ok $(grep -q 'unknown request flags' "$T/out" && grep -qx 'END 1' "$T/out"; echo $?) "unknown flags: an error"
raw "1000:$(le32 "$V")" "1001:41" > "$T/out"
ok $(grep -qx 'END 1' "$T/out"; echo $?) "a message only egressd sends: an error"
raw "1000:$(le32 "$V")" junk > "$T/out"
ok $(grep -q '^END' "$T/out" || [ ! -s "$T/out" ]; echo $?) "junk after HELLO: the connection ends"
raw "1000:$(le32 "$V")" "1003:$(le32 1)" > "$T/out"
ok $(grep -q '"generation"' "$T/out" && grep -qx 'END 0' "$T/out"; echo $?) "a well-formed raw request is answered"
ok $([ "$(ctl show summary | sed -n 's/^workers \([0-9]*\) of.*/\1/p')" = 2 ]; echo $?) \
    "both workers are still there"
ok $(grep -c "seccomp" "$T/egressd.log" | grep -qx 0; echo $?) "no seccomp kill in the log"

# --- the command line ------------------------------------------------------------
ctl show nothing > "$T/out" 2>&1
ok $([ $? -eq 1 ] && grep -q '^egressctl: unknown command: nothing' "$T/out" && grep -q 'show summary' "$T/out"; echo $?) \
    "an unknown command: exit 1 with the valid ones"
ctl > "$T/out" 2>&1
ok $([ $? -eq 1 ] && grep -q 'reload' "$T/out"; echo $?) "no command: exit 1 with the valid ones"
ctl log > "$T/out" 2>&1
ok $([ $? -eq 1 ] && grep -q 'log verbose' "$T/out"; echo $?) "an incomplete command: exit 1"
ctl reload now > "$T/out" 2>&1
ok $([ $? -eq 1 ] && grep -q 'too many arguments' "$T/out"; echo $?) "too many words: exit 1"

# --- no daemon -----------------------------------------------------------------
stop_egressd
ok $([ "$EGD_STATUS" -eq 0 ] && [ ! -e "$S" ]; echo $?) "egressd stops and removes its socket"
ctl show summary > "$T/out" 2>&1
ok $([ $? -eq 1 ] && grep -qx "egressd is not running (no socket at $S)" "$T/out"; echo $?) \
    "no daemon: $(cat "$T/out")"
python3 -c 'import socket, sys; s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' "$S"
ctl show summary > "$T/out" 2>&1
ok $([ $? -eq 1 ] && grep -q "egressd is not running" "$T/out"; echo $?) \
    "a stale socket file: $(cat "$T/out")"
start_egressd "$T/egressd.conf" || fail "egressd starts over a stale socket"
ok $(ctl show summary >/dev/null; echo $?) "and replaces it"
sed "s/port $P http/port $(free_port) http/" "$T/egressd.conf" > "$T/second.conf"
"$EGRESSD" -d -f "$T/second.conf" > "$T/second" 2>&1
ok $([ $? -eq 1 ] && grep -q "in use by a running egressd" "$T/second"; echo $?) \
    "a second egressd on the same socket refuses to start"
stop_egressd
done_testing
