# One build per daemon.  egressd runs from a copy of the binary; the
# copy's path then gets another build renamed over it (as a package
# upgrade does), a worker and the helper are killed, and their
# replacements must be the build the parent was started from: the same
# file (/proc/PID/exe, now deleted) and the same build-id, serving.
# Then the check itself: with a test-build hook the parent executes its
# children from a binary that claims another build (the same program
# with its build-id rewritten by buildid.py); each child refuses to run
# before it reads its configuration, the parent logs the refusal with
# both identities and nothing ever serves.  The same hook with an
# identical copy starts normally, the control.
. "$SRCDIR/regress/e2e/common.sh"
ID="python3 $SRCDIR/regress/e2e/buildid.py"

PORT=$(free_port)
mkdir -p "$T/bin" "$T/other" "$T/same"
BIN=$T/bin/egressd
cp "$EGRESSD" "$BIN"
ORIG=$($ID "$BIN")
NEW=$($ID "$BIN" "$T/other/egressd")
cp "$BIN" "$T/same/egressd"
ok $([ -n "$ORIG" ] && [ -n "$NEW" ] && [ "$ORIG" != "$NEW" ]; echo $?) \
    "two builds: $ORIG (started) and $NEW (the upgrade)"
VERSION=$("$BIN" -V)
ok $(case $VERSION in "egressd "*" build-id $ORIG") echo 0 ;; *) echo 1 ;; esac) \
    "egressd -V prints the build identity ($VERSION)"

cat > "$T/egressd.conf" <<CONF
user "$EGD_USER"
chroot "$T/root"
workers 2
gateway "test" {
	listen on 127.0.0.1 port $PORT http
}
CONF
EGRESSD=$BIN
start_egressd "$T/egressd.conf" || { fail "egressd starts"; done_testing; exit 1; }
ok $(log_has "$VERSION: starting 2 workers"; echo $?) \
    "the parent logs its build identity at start"

ino() { stat -L -c %d:%i "$1" 2>/dev/null; }
# The parent's children (children_of reads every process: too slow to poll).
kids() { pgrep -P "$EGD_PID"; }
build_of() { $ID "/proc/$1/exe" 2>/dev/null; }
PINO=$(ino "/proc/$EGD_PID/exe")
# every child: the parent's file and build
kids_ok() {
	bad=
	for c in $(kids); do
		[ "$(ino "/proc/$c/exe")" = "$PINO" ] &&
		    [ "$(build_of "$c")" = "$ORIG" ] || bad="$bad $c"
	done
	echo "$bad"
}
ok $([ "$PINO" = "$(ino "$BIN")" ] && [ "$(build_of "$EGD_PID")" = "$ORIG" ]; echo $?) \
    "the parent runs $BIN, build $ORIG"
bad=$(kids_ok)
ok $([ -z "$bad" ] && [ "$(kids | wc -l)" -eq 3 ]; echo $?) \
    "its three children run the same file and build${bad:+ (not:$bad)}"

# ---- the binary replaced on disk, as dpkg does: a rename over it ----
mv "$T/other/egressd" "$BIN"
ok $([ "$($ID "$BIN")" = "$NEW" ] && [ "$(ino "$BIN")" != "$PINO" ] &&
    case $(readlink "/proc/$EGD_PID/exe") in *" (deleted)") true ;; *) false ;; esac; echo $?) \
    "$BIN is now build $NEW, another file; the parent's own is deleted"

respawned() {	# respawned ROLE INSTANCE OLDPID: the sandboxed replacement
	for c in $(kids); do
		[ "$(role_of "$c")" = "$1" ] && [ "$c" != "$3" ] &&
		    { [ "$1" = helper ] || [ "$(instance_of "$c")" = "$2" ]; } &&
		    [ "$(status_field "$c" Seccomp)" = 2 ] && { echo "$c"; return 0; }
	done
	return 1
}
w0=$(for c in $(kids); do [ "$(role_of "$c")" = worker ] && [ "$(instance_of "$c")" = 0 ] && echo "$c"; done)
kill -KILL "$w0"
wait_for 300 respawned worker 0 "$w0" >/dev/null
n0=$(respawned worker 0 "$w0")
ok $([ -n "$n0" ]; echo $?) "worker 0 (pid $w0) killed and respawned (pid ${n0:-none})"
ok $([ -n "$n0" ] && [ "$(ino "/proc/$n0/exe")" = "$PINO" ] &&
    [ "$(ino "/proc/$n0/exe")" != "$(ino "$BIN")" ]; echo $?) \
    "the new worker runs the parent's file, not the one now at the path ($(readlink "/proc/${n0:-0}/exe" 2>/dev/null))"
ok $([ -n "$n0" ] && [ "$(build_of "$n0")" = "$ORIG" ]; echo $?) \
    "the new worker is build $ORIG ($(build_of "${n0:-0}"))"
st=0
for i in 1 2 3 4 5 6 7 8 9 10; do
	[ "$(http_status -x "http://127.0.0.1:$PORT" http://example.test/)" = 403 ] || st=1
done
ok $st "ten requests are answered (403, default deny) after the respawn"

h=$(for c in $(kids); do [ "$(role_of "$c")" = helper ] && echo "$c"; done)
kill -KILL "$h"
wait_for 300 respawned helper 0 "$h" >/dev/null
nh=$(respawned helper 0 "$h")
ok $([ -n "$nh" ] && [ "$(ino "/proc/$nh/exe")" = "$PINO" ] &&
    [ "$(build_of "$nh")" = "$ORIG" ]; echo $?) \
    "the helper killed and respawned (pid ${nh:-none}): the parent's file and build too"
ok $(log_has "refused to run"; [ $? -ne 0 ]; echo $?) \
    "no child refused to run"
bad=$(kids_ok)
ok $([ -z "$bad" ]; echo $?) "every child is still of the parent's build${bad:+ (not:$bad)}"
# No descriptor of the binary in any child: it is close-on-exec.
leak=
for c in $(kids); do
	for fd in /proc/$c/fd/*; do
		[ "${fd##*/}" -le 2 ] && continue	# stdio: the test's log
		case $(readlink "$fd") in */egressd*) leak="$leak $c:${fd##*/}" ;; esac
	done
done
ok $([ -z "$leak" ]; echo $?) "no child holds a descriptor of the binary${leak:+ ($leak)}"
stop_egressd
ok $([ "$EGD_STATUS" -eq 0 ]; echo $?) "it stops with status 0"
EGD_PID=

# ---- the check itself --------------------------------------------------
if ! grep -q 'define EGRESSD_REGRESS 1' "$BUILDDIR/config.h" 2>/dev/null; then
	fail "the build-identity check: this build has no test hooks (configure --enable-regress)"
	done_testing
	exit 1
fi
cp "$T/same/egressd" "$BIN"
$ID "$BIN" "$T/other/egressd" >/dev/null
: > "$T/egressd.log"
EGRESSD_REGRESS_CHILD_EXE=$T/other/egressd "$BIN" -d -f "$T/egressd.conf" \
    2>>"$T/egressd.log" &
EGD_PID=$!
refused() {	# refused LABEL: the parent logged LABEL's refusal with both builds
	grep -q "$1 (pid [0-9]*) refused to run: it is egressd [^ ]* build-id $NEW, this parent is egressd [^ ]* build-id $ORIG" "$T/egressd.log"
}
ok $(wait_for 100 refused "worker 0"; echo $?) \
    "a worker of another build refuses, and the parent logs both builds"
ok $(wait_for 100 refused "worker 1" && wait_for 100 refused helper; echo $?) \
    "so do worker 1 and the helper"
ok $(wait_for 50 log_has "refusing to run: I am egressd [^ ]* build-id $NEW, my parent is egressd [^ ]* build-id $ORIG"; echo $?) \
    "the child says so itself on stderr (-d)"
ok $(wait_for 50 log_has "worker 0 exited with status 3"; echo $?) \
    "it exits by itself, status 3, once the parent has closed its channel"
ok $(log_has "killing pid"; [ $? -ne 0 ]; echo $?) "no child had to be killed"
ok $(wait_for 100 sh -c "[ \$(grep -c 'worker 0 (pid [0-9]*) refused' '$T/egressd.log') -ge 2 ]"; echo $?) \
    "a respawned one refuses again: no child of another build ever runs"
sandboxed=0
for c in $(kids); do
	[ "$(status_field "$c" Seccomp)" = 2 ] && sandboxed=$((sandboxed + 1))
done
ok $([ "$sandboxed" -eq 0 ] && ! log_has "ready:" && ! log_has "generation 1 in force"; echo $?) \
    "none went on to take its configuration and sandbox ($sandboxed sandboxed), never ready"
kill -TERM "$EGD_PID"
wait "$EGD_PID"
ok $? "the parent stops on SIGTERM with status 0"
EGD_PID=
[ "$T_FAILED" -gt 0 ] && sed 's/^/# log: /' "$T/egressd.log" | tail -n 40

# The control: the hook with an identical copy.
: > "$T/egressd.log"
EGRESSD_REGRESS_CHILD_EXE=$T/same/egressd "$BIN" -d -f "$T/egressd.conf" \
    2>>"$T/egressd.log" &
EGD_PID=$!
ok $(wait_for 100 log_has "ready:"; echo $?) \
    "with a copy of the same build through the hook it starts and is ready"
ok $([ "$(http_status -x "http://127.0.0.1:$PORT" http://example.test/)" = 403 ] &&
    ! log_has "refused to run"; echo $?) "and serves, nothing refused"
stop_egressd
EGD_PID=
done_testing
