# DNS answers judged as a careful resolver would, end to end: egressd
# asks a DNS server that crafts its answers (dnsforge.py, on loopback)
# and each outcome is judged where it matters: at the origins and in the
# audit record.  Two origins listen on the same port: the real one on
# 127.0.0.1 and a "spoof" one on 127.0.0.2, the address every forged or
# unowned record points to.  Whenever a bad answer is followed by the
# right one, the request must reach the real origin (200, audit
# upstream 127.0.0.1) and nothing the spoof one; when only a bad answer
# comes, the request fails with the DNS reason and reaches neither.
#
#   - the right answer from another source port: ignored;
#   - records not owned by the name asked (nor by its CNAME chain):
#     ignored, and logged; a CNAME chain is followed, one too long is a
#     failure;
#   - 40 A records, over 512 bytes over UDP, no TC: not used; asked
#     again over TCP (used if the server answers there, a failure if not);
#   - another id, another question, another letter case (0x20): ignored;
#   - TC: asked again over TCP; a failure if TCP gives nothing;
#   - every try from a new source port, with random letter case.
. "$SRCDIR/regress/e2e/common.sh"
command -v curl >/dev/null || { fail "curl is installed"; done_testing; exit 1; }

P=$(free_port); OP=$(free_port); FP=$(free_port)
REAL=127.0.0.1 SPOOF=127.0.0.2
start_origin "$REAL" "$OP"
python3 "$SRCDIR/regress/e2e/origin.py" "$SPOOF" "$OP" "$T/spoof.log" 300 &
EXTRA_PIDS="${EXTRA_PIDS:-} $!"
wait_for 50 test -f "$T/spoof.log.ready"
python3 "$SRCDIR/regress/e2e/dnsforge.py" 127.0.0.1 "$FP" "$T/forge.log" 300 &
EXTRA_PIDS="${EXTRA_PIDS:-} $!"
wait_for 50 test -f "$T/forge.log.ready" || { fail "dnsforge.py starts"; done_testing; exit 1; }
: > "$T/forge.log"

# One worker: without the checks its round robin over a forged and a
# real address would send every other request to the forged one.
cat > "$T/egressd.conf" <<CONF
user "$EGD_USER"
chroot "$T/root"
workers 1
nameserver 127.0.0.1 port $FP
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
start_egressd "$T/egressd.conf" || { fail "egressd starts"; done_testing; exit 1; }

req() { curl -s -m 10 -o "$T/body" -w '%{http_code}' -x "http://127.0.0.1:$P" "http://$1:$OP/small"; }
# real NAME, spoof NAME: requests for NAME that each origin received
hits() { if [ -f "$1" ]; then grep -c "\"host\": \"$2:" "$1" || true; else echo 0; fi; }
real() { hits "$T/origin.log" "$1"; }
spoof() { hits "$T/spoof.log" "$1"; }
aud() { audit_get last "$2" "authority=$1"; }
# forge CMD NAME: what dnsforge.py logged for NAME's A questions:
#   sent  - "transport:label,label ..." per question, in order
#   tcp   - how many came over TCP
#   size  - the largest answer it sent over UDP, in bytes
forge() {
	python3 - "$T/forge.log" "$@" <<'PY'
import json, sys
path, cmd, name = sys.argv[1], sys.argv[2], sys.argv[3]
qs = [json.loads(l) for l in open(path)]
qs = [q for q in qs if q["qname"].lower() == name and q["qtype"] == 1]
if cmd == "sent":
    print(" ".join("%s:%s" % (q["t"], ",".join(s[0] for s in q["sent"]) if q["sent"] != "closed" else "closed") for q in qs))
elif cmd == "tcp":
    print(sum(1 for q in qs if q["t"] == "tcp"))
elif cmd == "size":
    print(max([s[1] for q in qs if q["t"] == "udp" for s in q["sent"]] or [0]))
PY
}

# ignored NAME LABEL WHAT: a bad answer (LABEL) came first, then the
# right one: 200 from the real origin, nothing at the spoof one.
ignored() {
	s=$(req "$1")
	ok $([ "$s" = 200 ] && [ "$(real "$1")" = 1 ] && [ "$(spoof "$1")" = 0 ]; echo $?) \
	    "$3: ignored, the right answer used: $s, real origin $(real "$1"), spoof origin $(spoof "$1")"
	ok $([ "$(aud "$1" decision)" = allow ] && [ "$(aud "$1" upstream)" = "$REAL" ]; echo $?) \
	    "$1: audit decision allow, upstream $REAL ($(aud "$1" decision), $(aud "$1" upstream))"
	case " $(forge sent "$1") " in
	*":$2,right "*) pass "$1: the server did send $2 first ($(forge sent "$1"))" ;;
	*) fail "$1: the server did send $2 first ($(forge sent "$1"))" ;;
	esac
}
# refused NAME STATUS REASON WHAT: only bad answers: the DNS failure,
# at neither origin.
refused() {
	s=$(req "$1")
	ok $([ "$s" = "$2" ] && [ "$(real "$1")" = 0 ] && [ "$(spoof "$1")" = 0 ]; echo $?) \
	    "$4: $2, at neither origin ($s: $(cat "$T/body"); real $(real "$1"), spoof $(spoof "$1"))"
	ok $([ "$(aud "$1" reason)" = "$3" ] && [ -z "$(aud "$1" upstream)" ]; echo $?) \
	    "$1: audit reason $3, no upstream ($(aud "$1" reason))"
}

# --- the control: a plain answer ------------------------------------------
s=$(req good.test)
ok $([ "$s" = 200 ] && [ "$(real good.test)" = 1 ] && [ "$(aud good.test upstream)" = "$REAL" ]; echo $?) \
    "good.test: 200 from the real origin, audit upstream $REAL ($s)"

# --- the right answer from another source port -----------------------------
ignored otherport.test spoof-otherport "the answer from another source port, then the right one"
refused otherportonly.test 504 dns_timeout "only an answer from another source port"

# --- records not owned by the name ----------------------------------------
refused owner.test 503 dns_failed "owner.test answered only 'zzz.example. A $SPOOF'"
ok $(log_has "owner.test A: .*1 records owned by other names ignored"; echo $?) \
    "the helper logged the record it ignored"
good=0
for i in 1 2 3 4; do [ "$(req mixedowner.test)" = 200 ] && good=$((good + 1)); done
ok $([ "$good" = 4 ] && [ "$(real mixedowner.test)" = 4 ] && [ "$(spoof mixedowner.test)" = 0 ]; echo $?) \
    "its own A and a record of another name: four requests, all at the real origin ($good, $(real mixedowner.test), spoof $(spoof mixedowner.test))"
s=$(req chain.test)
ok $([ "$s" = 200 ] && [ "$(real chain.test)" = 1 ] && [ "$(spoof chain.test)" = 0 ] && [ "$(aud chain.test upstream)" = "$REAL" ]; echo $?) \
    "a CNAME chain of two (records out of order, a decoy of another name): followed to $REAL ($s)"
refused longchain.test 503 dns_failed "a CNAME chain of 9 (more than 8)"

# --- longer than 512 bytes over UDP, no TC ---------------------------------
s=$(req big.test)
ok $([ "$(forge size big.test)" -gt 512 ]; echo $?) "big.test: the server sent $(forge size big.test) bytes over UDP (over 512), TC clear"
ok $([ "$s" = 200 ] && [ "$(real big.test)" = 1 ] && [ "$(spoof big.test)" = 0 ] && [ "$(aud big.test upstream)" = "$REAL" ]; echo $?) \
    "40 A records over UDP not used; the answer over TCP is: 200 from the real origin ($s)"
ok $([ "$(forge tcp big.test)" -ge 1 ]; echo $?) "the question was asked again over TCP ($(forge sent big.test))"
refused bigonly.test 503 dns_failed "over 512 bytes over UDP and nothing over TCP"
ok $([ "$(forge tcp bigonly.test)" -ge 1 ]; echo $?) "(TCP was tried: $(forge sent bigonly.test))"

# --- another id, another question, another letter case --------------------
ignored wrongid.test spoof-wrongid "an answer with another id, then the right one"
refused wrongidonly.test 504 dns_timeout "only an answer with another id"
ignored wrongq.test spoof-wrongq "an answer to another question, then the right one"
refused wrongqonly.test 504 dns_timeout "only an answer to another question"
ignored case.test spoof-case "an answer with the question's letter case changed (0x20), then the right one"

# --- TC ---------------------------------------------------------------------
s=$(req tc.test)
ok $([ "$s" = 200 ] && [ "$(real tc.test)" = 1 ] && [ "$(spoof tc.test)" = 0 ] && [ "$(aud tc.test upstream)" = "$REAL" ]; echo $?) \
    "TC set (with a forged record in it): not used; the answer over TCP is ($s)"
ok $([ "$(forge tcp tc.test)" = 1 ]; echo $?) "asked again over TCP, once ($(forge sent tc.test))"
refused tconly.test 503 dns_failed "TC set and nothing over TCP"

# --- source ports and letter case -------------------------------------------
for n in p1 p2 p3 p4; do req "$n.test" >/dev/null; done
python3 - "$T/forge.log" > "$T/ports" <<'PY'
import json, sys
qs = [json.loads(l) for l in open(sys.argv[1])]
qs = [q for q in qs if q["t"] == "udp" and q["qname"].lower() in ("p1.test", "p2.test", "p3.test", "p4.test")]
print(len(qs), len(set(q["sport"] for q in qs)),
      sum(1 for q in qs if q["qname"] != q["qname"].lower()),
      " ".join("%s/%d:%d" % (q["qname"], q["qtype"], q["sport"]) for q in qs))
PY
read -r nq nports ncase list < "$T/ports"
diag "queries: $list"
ok $([ "$nq" = 8 ]; echo $?) "four names, eight questions (A and AAAA) over UDP ($nq)"
ok $([ "$nports" -ge 7 ]; echo $?) \
    "they left from $nports different source ports (one socket per question; one repeat allowed for the kernel's random choice)"
ok $(python3 - "$T/forge.log" <<'PY'
import json, sys
qs = [json.loads(l) for l in open(sys.argv[1])]
qs = [q for q in qs if q["t"] == "udp" and q["qname"].lower() == "p1.test"]
sys.exit(0 if len(qs) == 2 and qs[0]["sport"] != qs[1]["sport"] else 1)
PY
echo $?) "p1.test's A and AAAA questions, asked at once, left from two different ports"
ok $([ "$ncase" -ge 1 ]; echo $?) "letters in random case (0x20): $ncase of $nq questions had capitals"

# --- counted, and the sandbox held ------------------------------------------
EGRESSCTL=${EGRESSCTL:-$(dirname "$EGRESSD")/egressctl}
"$EGRESSCTL" -s "$T/egressd.sock" -j show dns > "$T/dns.json"
sed 's/^/# /' "$T/dns.json"
# wrongid, wrongidonly (2 tries), wrongq, wrongqonly (2), case: 7 at least
ok $(python3 -c 'import json, sys; j = json.load(open(sys.argv[1])); sys.exit(0 if j["answers_ignored"] >= 7 and j["records_ignored"] >= 3 and j["tries"]["tcp"] >= 3 else 1)' "$T/dns.json"; echo $?) \
    "egressctl show dns counts the answers and records ignored and the tries over TCP"
ok $(log_has "killed by\|exited with status"; [ $? -ne 0 ]; echo $?) "no process died (no seccomp kill)"
stop_egressd
ok $([ "$EGD_STATUS" -eq 0 ]; echo $?) "SIGTERM: exit status 0"
done_testing
