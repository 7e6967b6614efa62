# The audit trail against real receivers.  egressd sends every record to
# a private rsyslogd on each kind of sink (unix datagram socket, UDP, TCP
# with RFC 6587 octet counting), to syslog-ng as a strict RFC 5424
# validator on the same three, to an rsyslogd running the shipped
# etc/rsyslog-egressd.conf, and to stderr, which never drops and so is
# the reference.  What the receivers PARSED is compared with it field by
# field, values holding '"', '\' and ']' included.  Then the receiver is
# stopped mid-run and started again: the records of the meantime arrive.
# Then with "buffer 4096": the records beyond it are dropped and a DROPPED
# record with their count arrives in their place.  Last, journald's
# native protocol against a real systemd-journald, run in a private mount
# namespace by audit_journald.sh (its encoder is also unit-tested by
# regress/test_audit.c).
#
# syslog-ng conflicts with rsyslog as a package: it runs unpacked from
# "apt-get download" into $EGD_SYSLOGNG_DIR (default
# /var/tmp/egressd-syslog-ng, kept for the next run); without network or
# package lists, its checks are skipped and say so.
. "$SRCDIR/regress/e2e/common.sh"
CHECK="python3 $SRCDIR/regress/e2e/audit_sinks.py"
if ! command -v rsyslogd >/dev/null; then
	fail "rsyslogd is installed (apt-get install rsyslog)"
	done_testing
	exit 1
fi

P=$(free_port); OP=$(free_port); DP=$(free_port)
UP=$(free_port); TP=$(free_port); SUP=$(free_port); STP=$(free_port)
RS=$T/rsyslog; SH=$T/shipped; SNG=$T/syslog-ng
mkdir -p "$RS" "$SH" "$SNG"
start_origin 127.0.0.1 "$OP"
BASE_PIDS=${EXTRA_PIDS:-}
RS_PID= SH_PID= SNG_PID=
# Only live receivers are in EXTRA_PIDS, which the cleanup kills.
track() { EXTRA_PIDS="$BASE_PIDS $RS_PID $SH_PID $SNG_PID"; }

tcp_listening() {
	python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1).close()' "$1" 2>/dev/null
}

# ---- receivers --------------------------------------------------------

cat > "$RS/rsyslog.conf" <<CONF
global(workDirectory="$RS" net.enableDNS="off")
module(load="imuxsock" SysSock.Use="off")
module(load="imudp")
module(load="imtcp")
module(load="mmpstrucdata")
input(type="imuxsock" Socket="$RS/audit.sock" UseSpecialParser="off"
      ParseHostname="on" IgnoreTimestamp="off" RateLimit.Interval="0"
      ruleset="audit")
input(type="imudp" address="127.0.0.1" port="$UP" ruleset="audit")
input(type="imtcp" address="127.0.0.1" port="$TP" ruleset="audit")
template(name="json" type="list") {
	constant(value="{")
	property(name="pri" format="jsonf") constant(value=",")
	property(name="syslogfacility-text" format="jsonf" outname="facility")
	constant(value=",")
	property(name="syslogseverity-text" format="jsonf" outname="severity")
	constant(value=",")
	property(name="timereported" dateFormat="rfc3339" format="jsonf"
	    outname="timestamp") constant(value=",")
	property(name="hostname" format="jsonf") constant(value=",")
	property(name="app-name" format="jsonf" outname="appname")
	constant(value=",")
	property(name="procid" format="jsonf") constant(value=",")
	property(name="msgid" format="jsonf") constant(value=",")
	property(name="inputname" format="jsonf") constant(value=",")
	constant(value="\"parsed\":") property(name="\$!all-json")
	constant(value="}\n")
}
ruleset(name="audit") {
	action(type="mmpstrucdata" sd_name.lowercase="off")
	action(type="omfile" file="$RS/audit.jsonl" template="json")
}
CONF

start_rsyslog() {
	rm -f "$RS/audit.sock"
	rsyslogd -n -f "$RS/rsyslog.conf" -i "$RS/rsyslogd.pid" \
	    >>"$RS/out" 2>&1 &
	RS_PID=$!; track
	wait_for 100 sh -c "test -S '$RS/audit.sock'" &&
	    wait_for 100 tcp_listening "$TP"
}
stop_rsyslog() {
	kill -TERM "$RS_PID"; wait "$RS_PID"
	RS_PID=; track
}

# The shipped snippet as /etc/rsyslog.d/ would hold it, its two paths
# moved into the test directory; imuxsock is loaded as Debian's
# rsyslog.conf does, but without /dev/log.
sed -e "s|/run/egressd/audit.sock|$SH/run/audit.sock|" \
    -e "s|/var/log/egressd/audit.json|$SH/log/audit.json|" \
    "$SRCDIR/etc/rsyslog-egressd.conf" > "$SH/egressd.conf"
cat > "$SH/rsyslog.conf" <<CONF
global(workDirectory="$SH" net.enableDNS="off")
module(load="imuxsock" SysSock.Use="off")
include(file="$SH/egressd.conf")
CONF
ok $(grep -q "$SH/run/audit.sock" "$SH/egressd.conf" &&
    grep -q "$SH/log/audit.json" "$SH/egressd.conf"; echo $?) \
    "etc/rsyslog-egressd.conf names /run/egressd/audit.sock and /var/log/egressd/audit.json"
rsyslogd -n -f "$SH/rsyslog.conf" -i "$SH/rsyslogd.pid" >"$SH/out" 2>&1 &
SH_PID=$!; track
ok $(wait_for 100 test -S "$SH/run/audit.sock"; echo $?) \
    "rsyslogd runs etc/rsyslog-egressd.conf (its socket is there)"

# syslog-ng, unpacked once.  Its libraries beside it: libivykis0, libnet1
# and libwrap0 are downloaded too unless they are installed.
SNGDIR=${EGD_SYSLOGNG_DIR:-/var/tmp/egressd-syslog-ng}
sng_unpack() {
	[ -x "$SNGDIR/root/usr/sbin/syslog-ng" ] && return 0
	rm -rf "$SNGDIR.tmp" && mkdir -p "$SNGDIR.tmp/debs" || return 1
	pkgs=syslog-ng-core
	for p in libivykis0 libnet1 libwrap0; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
		    grep -q "ok installed" || pkgs="$pkgs $p"
	done
	(cd "$SNGDIR.tmp/debs" && apt-get download $pkgs) \
	    >"$SNGDIR.tmp/download.log" 2>&1 || {
		sed 's/^/# /' "$SNGDIR.tmp/download.log" | tail -5
		return 1
	}
	for d in "$SNGDIR.tmp"/debs/*.deb; do
		dpkg-deb -x "$d" "$SNGDIR.tmp/root" || return 1
	done
	rm -rf "$SNGDIR" && mv "$SNGDIR.tmp" "$SNGDIR"
}
SNG_OK=0
if sng_unpack; then
	R=$SNGDIR/root
	SNGMOD=$(echo "$R"/usr/lib/syslog-ng/3.*)
	JSONT='$(format-json --scope rfc5424 --scope sdata --key ISODATE)\n'
	cat > "$SNG/syslog-ng.conf" <<CONF
@version: 3.38
options { use-dns(no); dns-cache(no); keep-hostname(yes);
	keep-timestamp(yes); frac-digits(6); stats-freq(0); };
source s_unix { unix-dgram("$SNG/log.sock" flags(syslog-protocol)); };
source s_udp { network(ip("127.0.0.1") port($SUP) transport("udp")
	flags(syslog-protocol)); };
source s_tcp { syslog(ip("127.0.0.1") port($STP) transport("tcp")); };
source s_canary { unix-dgram("$SNG/canary.sock" flags(syslog-protocol)); };
destination d_unix { file("$SNG/unix.jsonl" template("$JSONT")); };
destination d_udp { file("$SNG/udp.jsonl" template("$JSONT")); };
destination d_tcp { file("$SNG/tcp.jsonl" template("$JSONT")); };
log { source(s_unix); destination(d_unix); };
log { source(s_udp); destination(d_udp); };
log { source(s_tcp); destination(d_tcp); };
destination d_canary { file("$SNG/canary.jsonl" template("$JSONT")); };
log { source(s_canary); destination(d_canary); };
CONF
	LD_LIBRARY_PATH=$R/usr/lib/x86_64-linux-gnu:$R/usr/lib/syslog-ng \
	    "$R/usr/sbin/syslog-ng" -F --no-caps -f "$SNG/syslog-ng.conf" \
	    --module-path="$SNGMOD" -R "$SNG/persist" -p "$SNG/pid" \
	    -c "$SNG/ctl" >"$SNG/out" 2>&1 &
	SNG_PID=$!; track
	if wait_for 100 test -S "$SNG/log.sock" &&
	    wait_for 100 tcp_listening "$STP"; then
		SNG_OK=1
	else
		diag "syslog-ng did not start:"; sed 's/^/# /' "$SNG/out"
	fi
fi
if [ "$SNG_OK" = 1 ]; then
	pass "syslog-ng runs unpacked from $SNGDIR"
	# It must be strict to be worth asking: an unescaped ']' is refused.
	python3 -c 'import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.sendto(b"<29>1 2026-01-02T03:04:05.000001Z h egressd 1 DENY [x@32473 a=\"b]c\"]", sys.argv[1])' "$SNG/canary.sock"
	ok $(wait_for 50 grep -q '"PROGRAM":"syslog-ng".*Error processing log message' "$SNG/canary.jsonl"; echo $?) \
	    "syslog-ng refuses a record with an unescaped ']' (it is strict)"
	SNG_SINKS="	sink unix \"$SNG/log.sock\"
	sink udp 127.0.0.1 port $SUP
	sink tcp 127.0.0.1 port $STP"
else
	skip "syslog-ng could not be downloaded or started: its checks are skipped"
	SNG_SINKS=
fi

start_rsyslog
ok $? "rsyslogd runs the test's configuration (unix socket, UDP, TCP)"

# ---- egressd ------------------------------------------------------------

# conf AUDIT-OPTIONS: every sink, with extra audit options.
conf() {
	cat > "$T/egressd.conf" <<CONF
user "$EGD_USER"
chroot "$T/root"
workers 1
nameserver 127.0.0.1 port $DP
log facility local3
audit {
	sink unix "$RS/audit.sock"
	sink udp 127.0.0.1 port $UP
	sink tcp 127.0.0.1 port $TP
$SNG_SINKS
	sink unix "$SH/run/audit.sock"
	sink stderr
	sd-id "egressd-test@32473"
$1
}
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
CONF
}
conf ""
start_egressd "$T/egressd.conf" || { fail "egressd starts"; done_testing; exit 1; }
WPID=$(workers_of "$EGD_PID")

nref() { $CHECK "$T/egressd.log" count "${1:-0}" ${2:-}; }
req() {	# req URL: the status through the gateway
	curl -g -s -o /dev/null -m 5 -w '%{http_code}' -x "http://127.0.0.1:$P" "$1"
}
# rs_has INPUT SINCE: every reference record from SINCE on arrived there
rs_has() { $CHECK "$T/egressd.log" rsyslog "$RS/audit.jsonl" "$1" "$2" >/dev/null; }

# ---- every field as written, on every sink -----------------------------

# A path with '"', '\' and ']', raw: curl -g sends them as they are.
# (A raw backslash in a path is refused with 400 before any policy: some
# origins read it as a slash; the record keeps the path as received.)
st1=$(req "http://origin.test:$OP/small?q=\"a\\b]c\"")
st2=$(req "http://evil.test/x\"y\\z]w?k=[v]")
ok $([ "$st1" = 200 ] && [ "$st2" = 400 ]; echo $?) \
    "a request let out and one refused ($st1 $st2)"
wait_for 50 sh -c "[ \$($CHECK '$T/egressd.log' count 0) -ge 2 ]"
ok $([ "$(nref 0 REQUEST)" = 1 ] && [ "$(nref 0 DENY)" = 1 ]; echo $?) \
    "stderr has their REQUEST and DENY records"
paths=$($CHECK "$T/egressd.log" field 0 path)
ok $(printf '%s\n' "$paths" | grep -qF '/small?q="a\b]c"' &&
    printf '%s\n' "$paths" | grep -qF '/x"y\z]w?k=[v]'; echo $?) \
    "their paths hold '\"', '\\' and ']' as sent"
for i in imuxsock imudp imtcp; do
	wait_for 50 rs_has "$i" 0
	out=$($CHECK "$T/egressd.log" rsyslog "$RS/audit.jsonl" "$i" 0)
	ok $? "rsyslog $i parsed every record as written: MSGID, SD-ID, every field, PRI, header"
	printf '%s\n' "$out"
done
if [ "$SNG_OK" = 1 ]; then
	for i in unix udp tcp; do
		wait_for 50 sh -c "$CHECK '$T/egressd.log' syslog-ng '$SNG/$i.jsonl' - 0 >/dev/null"
		out=$($CHECK "$T/egressd.log" syslog-ng "$SNG/$i.jsonl" - 0)
		ok $? "syslog-ng (strict RFC 5424) over $i accepted and parsed every record as written"
		printf '%s\n' "$out"
	done
fi
wait_for 50 sh -c "$CHECK '$T/egressd.log' shipped '$SH/log/audit.json' - 0 >/dev/null"
out=$($CHECK "$T/egressd.log" shipped "$SH/log/audit.json" - 0)
ok $? "etc/rsyslog-egressd.conf wrote every record as a JSON line, every field its own key"
printf '%s\n' "$out"

# ---- the receiver goes away and comes back -----------------------------

N0=$(nref 0)
stop_rsyslog
for i in 1 2 3; do req "http://evil.test/queued-$i" >/dev/null; done
wait_for 50 sh -c "[ \$($CHECK '$T/egressd.log' count $N0) -ge 3 ]"
queueing() {
	log_has "audit sink unix $RS/audit.sock: .*queueing" &&
	    log_has "audit sink tcp 127.0.0.1 port $TP: .*queueing"
}
ok $(wait_for 50 queueing; echo $?) \
    "the worker noticed that the unix and tcp receivers went away"
start_rsyslog
for i in imuxsock imtcp; do
	wait_for 200 rs_has "$i" "$N0"
	out=$($CHECK "$T/egressd.log" rsyslog "$RS/audit.jsonl" "$i" "$N0")
	ok $? "rsyslog back: the records queued meanwhile arrived over $i, as written"
	printf '%s\n' "$out"
done
diag "UDP cannot tell a missing receiver: $(grep -c '"inputname":"imudp".*queued-' "$RS/audit.jsonl") of 3 arrived over it"

# ---- reload: buffer 4096, events denials ------------------------------

conf "	buffer 4096
	events denials"
kill -HUP "$EGD_PID"
ok $(wait_for 100 log_has "reload: generation 2 in force"; echo $?) "reloaded with buffer 4096 and events denials"
N1=$(nref 0)
st=$(req "http://origin.test:$OP/small")
sleep 0.5
ok $([ "$st" = 200 ] && [ "$(nref 0)" = "$N1" ]; echo $?) \
    "events denials: a request let out ($st) leaves no record"
stop_rsyslog
for i in $(seq 10 29); do req "http://evil.test/dropped-$i" >/dev/null; done
wait_for 50 sh -c "[ \$($CHECK '$T/egressd.log' count $N1) -ge 20 ]"
ok $([ "$(nref "$N1" DENY)" = 20 ]; echo $?) "20 refusals recorded on stderr while the receiver is away"
start_rsyslog
for i in imuxsock imtcp; do
	wait_for 200 sh -c "$CHECK '$T/egressd.log' drops '$RS/audit.jsonl' $i $N1 >/dev/null"
	out=$($CHECK "$T/egressd.log" drops "$RS/audit.jsonl" "$i" "$N1")
	ok $? "over $i: records beyond the buffer dropped, then one DROPPED record with their count in their place"
	printf '%s\n' "$out"
done
ok $(log_has "queue full (4096 bytes), dropping records" &&
    log_has "records dropped"; echo $?) "the drops are logged"
N2=$(nref 0)
req "http://evil.test/after-drops" >/dev/null
for i in imuxsock imtcp; do
	ok $(wait_for 50 rs_has "$i" "$N2"; echo $?) "over $i: records flow again after the DROPPED one"
done
if [ "$SNG_OK" = 1 ]; then
	out=$($CHECK "$T/egressd.log" syslog-ng "$SNG/tcp.jsonl" - 0)
	ok $? "syslog-ng, never away, has every record and no DROPPED"
	printf '%s\n' "$out"
fi

# ---- sandbox ---------------------------------------------------------------

ok $([ "$(log_count 'killed by seccomp')" = 0 ]; echo $?) "no process was killed by seccomp"
ok $([ "$(workers_of "$EGD_PID")" = "$WPID" ]; echo $?) "the worker is the one that started (pid $WPID)"
stop_egressd
ok $([ "$EGD_STATUS" = 0 ]; echo $?) "egressd stops cleanly"

stop_rsyslog
kill -TERM "$SH_PID"; wait "$SH_PID"; SH_PID=
[ -n "$SNG_PID" ] && { kill -TERM "$SNG_PID"; wait "$SNG_PID"; SNG_PID=; }
track

# ---- journald, in a mount namespace of its own ------------------------

if command -v unshare >/dev/null; then
	T_START=$T_N EGD_PRIVATE_MNT=1 unshare -m --propagation private \
	    sh "$SRCDIR/regress/e2e/audit_journald.sh" >"$T/journald.tap" 2>&1
	cat "$T/journald.tap"
	T_N=$((T_N + $(grep -cE '^(not )?ok ' "$T/journald.tap")))
	T_FAILED=$((T_FAILED + $(grep -c '^not ok ' "$T/journald.tap")))
else
	skip "journald: no unshare(1) to give it a mount namespace"
fi
done_testing
