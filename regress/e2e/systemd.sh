# egressd under a real systemd.  make install puts the unit, the
# sysusers.d and tmpfiles.d snippets and the configuration into a staging
# directory; a throw-away container booted from this host's own OS with
# the stage laid over it (nspawn.sh) then checks the unit (systemd-analyze
# verify and security), lets systemd create the user and the empty root,
# starts the service (READY from the parent, status "serving"), reads the
# hardening of the running parent and children from /proc, sends
# requests through the gateway (default deny, the own-address guard that
# needs AF_NETLINK, an allowed request resolved by the helper), reloads
# (a new port below 1024, a broken file refused), stops (drain, exit 0)
# and reads the journal.  The container is powered off and its cgroups
# removed whatever happens.  Needs root and systemd-nspawn (Debian:
# systemd-container); a few seconds (the boot takes about one).
. "$SRCDIR/regress/lib.sh"
. "$SRCDIR/regress/e2e/nspawn.sh"

[ "$(id -u)" -eq 0 ] || { echo "1..0 # skip needs root (it boots a container)"; exit 0; }
: "${BUILDDIR:?}"
# The highest acceptable "systemd-analyze security" exposure, times ten.
MAX_EXPOSURE=${EGD_MAX_EXPOSURE:-25}
U=egressd.service
# Parent: CAP_KILL 5, CAP_SETGID 6, CAP_SETUID 7, CAP_SETPCAP 8,
# CAP_NET_BIND_SERVICE 10, CAP_SYS_CHROOT 18; nothing else.
SIX_CAPS=00000000000405e0

missing=
for c in systemd-nspawn:systemd-container systemd-analyze:systemd \
    nsenter:util-linux pgrep:procps curl:curl dnsmasq:dnsmasq-base \
    ip:iproute2 python3:python3 make:make; do
	command -v "${c%%:*}" >/dev/null || missing="$missing ${c#*:}"
done
[ -x /usr/lib/systemd/systemd ] || missing="$missing systemd"
if [ -n "$missing" ]; then
	fail "what this test needs is installed (apt-get install$missing)"
	done_testing
	exit 1
fi

T=$(mktemp -d /tmp/egressd-systemd.XXXXXX)
chmod 755 "$T"
ST=$T/stage
# Every wait below is bounded; this bounds them all together: after
# EGD_SYSTEMD_TIMEOUT seconds the test is stopped (and cleans up).
sh -c 'trap "kill \$s; exit 0" TERM; sleep "$1" & s=$!; wait $s
    echo "# timed out after $1 s"; kill -TERM "$2"' sh \
    "${EGD_SYSTEMD_TIMEOUT:-180}" $$ &
WATCHDOG=$!
cleanup() {
	kill "$WATCHDOG" 2>/dev/null
	ct_stop
	[ "${KEEP_TMP:-0}" = 1 ] && echo "# kept $T" || rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM
t0=$(date +%s)

# ---- make install, make uninstall --------------------------------------
# A first stage for what install and uninstall do to a configuration.
S2=$T/stage2
minst() {	# minst DESTDIR TARGET: make TARGET, output in $T/make.log
	${MAKE:-make} -s -C "$BUILDDIR" "$2" DESTDIR="$1" >"$T/make.log" 2>&1 ||
	    { sed 's/^/# /' "$T/make.log"; return 1; }
}
minst "$S2" install
ok $? "make install DESTDIR=stage"
c2=$(cd "$S2" && find . -path '*/etc/egressd.conf' | sed 's/^\.//')
ok $([ -n "$c2" ] && cmp -s "$SRCDIR/etc/egressd.conf" "$S2$c2"; echo $?) \
    "the example configuration is installed ($c2)"
echo "# edited by the operator" >> "$S2$c2"
minst "$S2" install
ok $(tail -1 "$S2$c2" | grep -q 'edited by the operator'; echo $?) \
    "a second make install keeps the operator's configuration"
minst "$S2" uninstall
ok $(tail -1 "$S2$c2" | grep -q 'edited by the operator'; echo $?) \
    "make uninstall keeps it too"
left=$(find "$S2" -type f ! -path "*$c2")
ok $([ -z "$left" ]; echo $?) "and removes everything else make install put${left:+ (left: $left)}"
rm -f "$S2$c2"
minst "$S2" install && minst "$S2" uninstall
left=$(find "$S2" -type f)
ok $([ -z "$left" ]; echo $?) "an unchanged configuration goes with make uninstall${left:+ (left: $left)}"

# The stage the container gets, unless configure was told not to install
# the systemd files.
for v in systemdsystemunitdir sysusersdir tmpfilesdir; do
	if [ "$(sed -n "s/^$v = //p" "$BUILDDIR/Makefile")" = no ]; then
		skip "the rest: configured with --with-$v=no"
		done_testing
		exit
	fi
done
minst "$ST" install || { fail "make install DESTDIR=$ST"; done_testing; exit 1; }
staged() { (cd "$ST" && find . -path "$1" | sed 's/^\.//' | head -1); }
UNIT=$(staged '*/systemd/system/egressd.service')
SYSUSERS=$(staged '*/sysusers.d/egressd.conf')
TMPFILES=$(staged '*/tmpfiles.d/egressd.conf')
MAN8=$(staged '*/man8/egressd.8')
ok $([ -n "$UNIT" ] && [ -n "$SYSUSERS" ] && [ -n "$TMPFILES" ] && [ -n "$MAN8" ]; echo $?) \
    "installed: the unit ($UNIT), sysusers ($SYSUSERS), tmpfiles ($TMPFILES), man pages"
[ -n "$UNIT" ] || { done_testing; exit 1; }
EXE=$(sed -n 's/^ExecStart=\([^ ]*\) .*/\1/p' "$ST$UNIT")
CONF=$(sed -n 's/^ExecStart=.* -f \([^ ]*\).*/\1/p' "$ST$UNIT")
ok $([ -x "$ST$EXE" ] && [ -f "$ST$CONF" ]; echo $?) \
    "the unit starts the installed binary ($EXE) on the installed configuration ($CONF)"
ok $(grep -q "^ExecStartPre=$EXE -n -f $CONF\$" "$ST$UNIT"; echo $?) \
    "and checks that configuration first"

# ---- the container --------------------------------------------------------
# It boots with /usr from this host and an empty tmpfs for the rest, so
# /lib, /bin and /sbin are /usr's (merged /usr): what the stage has there
# goes under its usr/.  /usr is overlaid with the stage; anything
# installed elsewhere (a prefix outside /usr, as in distcheck) is bound
# at the same path.  The test configuration replaces the installed one.
for d in lib lib64 bin sbin; do
	[ -d "$ST/$d" ] || continue
	mkdir -p "$ST/usr/$d" && cp -a "$ST/$d/." "$ST/usr/$d/" && rm -rf "${ST:?}/$d"
done
set --
[ -d "$ST/usr" ] && set -- "$@" --overlay-ro="/usr:$ST/usr:/usr"
inusr() { case $1 in /usr/*|/lib/*|/lib64/*|/bin/*|/sbin/*) return 0 ;; esac; return 1; }
CTL=${EXE%/*}/egressctl		# the control program, when installed
[ -x "$ST$CTL" ] || [ -x "$ST/usr$CTL" ] || CTL=
for p in "$EXE" "$UNIT" "$SYSUSERS" "$TMPFILES" $CTL; do
	inusr "$p" || set -- "$@" --bind-ro="$ST$p:$p"
done
mkdir -p "$T/ct"
GW=127.0.0.1:80
conf() {	# the test configuration; "$1" goes into the gateway
	cat <<CONF
user "_egressd"
chroot "/var/empty"
workers 2
nameserver 127.0.0.1
gateway "gw" {
	listen on 127.0.0.1 port 80 http
	$1
}
service "origin" {
	hosts { "origin.test" }
	port 8081 http
	allow private
}
service "self" {
	hosts { "203.0.113.7" }
	port 8081 http
}
CONF
}
conf "" > "$T/ct/egressd.conf"
set -- "$@" --bind-ro="$T/ct/egressd.conf:$CONF" \
    --bind-ro="$SRCDIR/regress/e2e:/srv/egressd-e2e"
# systemd-analyze verify looks the Documentation= pages up with man-db.
VERIFY_MAN=--man=no
if command -v man >/dev/null && [ -f /etc/manpath.config ] && inusr "$MAN8"; then
	set -- "$@" --bind-ro=/etc/manpath.config
	VERIFY_MAN=--man=yes
fi

# The unit wants network-online.target; in a container with nothing but
# loopback, whichever wait-online service the host's presets enable
# would wait for a network that never comes (two minutes): masked.
CT_BOOT_ARGS=
for f in /usr/lib/systemd/system/*wait-online*.service; do
	[ -e "$f" ] && CT_BOOT_ARGS="$CT_BOOT_ARGS systemd.mask=${f##*/}"
done

if ! ct_start "egressd-sd-$$" "$T/console.log" "$@"; then
	fail "a container boots from this host ($CT_STATE)"
	sed 's/^/# /' "$T/console.log" | tail -n 30
	[ -n "$CT_LEADER" ] && ct systemctl --failed --no-legend | sed 's/^/# /'
	done_testing
	exit 1
fi
pass "a container boots from this host to basic.target ($(($(date +%s) - t0)) s so far)"
# The container boots the host's own units.  One of them failing inside
# it (the host's nftables.service, a mail or DNS daemon) says nothing of
# egressd: named in the log, not counted.  Those that apply egressd's
# snippets, and egressd's own, must not fail.
ours=
for u in $CT_FAILED; do
	case $u in
	egressd*|systemd-sysusers.service|systemd-tmpfiles-setup*.service)
		ours="$ours $u" ;;
	*)	diag "a host unit failed inside the container, not egressd's: $u" ;;
	esac
done
ok $([ -z "$ours" ]; echo $?) \
    "no unit that applies egressd's snippets failed at boot${ours:+ ($ours)}"

# A unit installed outside systemd's search path (a prefix install, as
# in distcheck) is linked into it, as an operator would.
case $UNIT in
/usr/lib/systemd/system/*|/lib/systemd/system/*|/etc/systemd/system/*) ;;
*) ct systemctl link "$UNIT" >/dev/null 2>&1 && ct systemctl daemon-reload ;;
esac

# ---- the unit, statically -----------------------------------------------
out=$(ct systemd-analyze verify $VERIFY_MAN "$UNIT" 2>&1)
ok $([ -z "$out" ]; echo $?) "systemd-analyze verify $VERIFY_MAN: nothing to say"
[ -n "$out" ] && echo "$out" | sed 's/^/# /'
out=$(ct systemd-analyze security --offline=true --no-pager \
    --threshold="$MAX_EXPOSURE" "$UNIT" 2>&1)
rc=$?
EXPOSURE=$(echo "$out" | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
ok $rc "systemd-analyze security: exposure ${EXPOSURE:-?} (at most $MAX_EXPOSURE/10)"
[ $rc -ne 0 ] && echo "$out" | grep '✗' | sed 's/^/# /'

# ---- what the boot made of the sysusers and tmpfiles snippets ---------
# In the standard directories systemd applies them at boot; elsewhere
# they are applied by hand, as a package's scripts would.
case $SYSUSERS in
/usr/lib/sysusers.d/*|/lib/sysusers.d/*) how="at boot" ;;
*) how="by systemd-sysusers"; ct systemd-sysusers "$SYSUSERS" >/dev/null 2>&1 ;;
esac
EGD_UID=$(ct getent passwd _egressd | cut -d: -f3)
ok $([ -n "$EGD_UID" ] && [ "$EGD_UID" -gt 0 ] && [ "$EGD_UID" -lt 1000 ] &&
    ct getent passwd _egressd | grep -q ':/usr/sbin/nologin$'; echo $?) \
    "user _egressd created $how (system uid ${EGD_UID:-none}, no shell)"
case $TMPFILES in
/usr/lib/tmpfiles.d/*|/lib/tmpfiles.d/*) how="at boot" ;;
*) how="by systemd-tmpfiles"; ct systemd-tmpfiles --create "$TMPFILES" >/dev/null 2>&1 ;;
esac
ok $([ "$(ct stat -c '%a %U %G' /var/empty)" = "755 root root" ]; echo $?) \
    "/var/empty created $how, 0755 root root"

# The unit gives the service a /tmp of its own and no /home or /root: a
# binary installed there (distcheck's prefix is inside the build tree)
# cannot start under it, by design.  The rest needs a prefix elsewhere.
case $EXE in
/tmp/*|/var/tmp/*|/home/*|/root/*|/run/user/*)
	skip "running the service: $EXE is hidden by the unit's PrivateTmp/ProtectHome (configure with a prefix elsewhere)"
	ct_stop
	ok $? "the container is powered off and its cgroups removed"
	done_testing
	exit
	;;
esac

# ---- start ----------------------------------------------------------------
prop() { ct systemctl show -P "$1" "$U"; }
wait_prop() {	# wait_prop TENTHS PROPERTY VALUE (scaled as wait_for)
	n=$(($1 * ${EGD_WAIT_SCALE:-3}))
	while [ "$n" -gt 0 ]; do
		[ "$(prop "$2")" = "$3" ] && return 0
		sleep 0.1
		n=$((n - 1))
	done
	return 1
}
journal() { ct journalctl -q -u "$U" -o cat --no-pager; }
journal_has() { journal | grep -q -- "$1"; }
wait_journal() {	# wait_journal TENTHS PATTERN (scaled as wait_for)
	n=$(($1 * ${EGD_WAIT_SCALE:-3}))
	while [ "$n" -gt 0 ]; do
		journal_has "$2" && return 0
		sleep 0.1
		n=$((n - 1))
	done
	return 1
}
req() {		# req URL [GATEWAY]: "STATUS BODY" of a request through the gateway
	ct rm -f /run/egd-body
	ct curl -s -m 5 -x "http://${2:-$GW}" -w '%{http_code} ' -o /run/egd-body "$1"
	ct cat /run/egd-body 2>/dev/null
}

# An upstream and a DNS server for it inside the container, and an
# address of this host that is not private, for the own-address guard.
ct systemd-run -q --unit=egd-origin python3 /srv/egressd-e2e/origin.py \
    127.0.0.1 8081 /run/egd-origin.log 1800
ct systemd-run -q --unit=egd-dns dnsmasq --keep-in-foreground --no-resolv \
    --no-hosts --listen-address=127.0.0.1 --bind-interfaces --port=53 \
    --user=root --group=root --pid-file= --address=/origin.test/127.0.0.1
ct ip addr add 203.0.113.7/32 dev lo

# A sanitizer build (--enable-sanitizers): LeakSanitizer stops the
# process with ptrace at exit, which the unit's system call filter
# forbids (it would hang, its tracer killed); a runtime drop-in turns
# leak checking off here.  ASan and UBSan stay on.
if grep -q '^#define EGRESSD_SANITIZE 1' "$BUILDDIR/config.h" 2>/dev/null; then
	ct sh -c 'mkdir -p /run/systemd/system/egressd.service.d &&
	    printf "[Service]\nEnvironment=ASAN_OPTIONS=detect_leaks=0\n" \
	    > /run/systemd/system/egressd.service.d/sanitizer.conf' &&
	    ct systemctl daemon-reload
	diag "sanitizer build: the service runs with ASAN_OPTIONS=detect_leaks=0"
fi

if ! ct systemctl start "$U"; then
	fail "systemctl start: READY (Type=notify)"
	journal | sed 's/^/# journal: /'
	ct systemctl status --no-pager "$U" | sed 's/^/# /'
	done_testing
	exit 1
fi
pass "systemctl start: READY (Type=notify)"
ok $([ "$(prop ActiveState)/$(prop SubState)" = active/running ]; echo $?) \
    "active/running"
ok $([ "$(prop StatusText)" = serving ]; echo $?) "status from the parent: \"$(prop StatusText)\""
ok $(wait_journal 30 'configuration OK'; echo $?) "ExecStartPre checked the file (\"configuration OK\")"
ok $(wait_journal 30 'ready: 2 workers and the helper'; echo $?) "journal: ready, 2 workers and the helper"

# ---- the sandbox, from /proc ----------------------------------------------
MP=$(prop MainPID)
# /proc/PID/status field, read in the container, parsed here (awk is an
# alternatives link to /etc, which the container lacks).
field() { ct cat "/proc/$1/status" | awk -v f="$2:" '$1 == f { print $2 }'; }
ok $([ "$(field "$MP" Uid)" = 0 ]; echo $?) "the parent (pid $MP in the container) runs as root"
ok $([ "$(field "$MP" CapBnd)" = $SIX_CAPS ] && [ "$(field "$MP" CapPrm)" = $SIX_CAPS ] &&
    [ "$(field "$MP" CapEff)" = $SIX_CAPS ]; echo $?) \
    "with exactly its six capabilities (CapBnd $(field "$MP" CapBnd), CapEff $(field "$MP" CapEff))"
ok $([ "$(field "$MP" CapInh)" = 0000000000000000 ] && [ "$(field "$MP" CapAmb)" = 0000000000000000 ]; echo $?) \
    "none inheritable, none ambient"
ok $([ "$(field "$MP" NoNewPrivs)" = 1 ] && [ "$(field "$MP" Seccomp)" = 2 ]; echo $?) \
    "NoNewPrivileges and systemd's seccomp filter on the parent"
ok $(ct nsenter -t "$MP" -m sh -c ': > /var/egressd-probe' 2>/dev/null; [ $? -ne 0 ]; echo $?) \
    "it sees the file system read-only (ProtectSystem=strict)"
ok $(ct grep -qE ' /proc .*(hidepid=invisible|hidepid=4).*subset=pid| /proc .*subset=pid.*(hidepid=invisible|hidepid=4)' "/proc/$MP/mountinfo"; echo $?) \
    "and a /proc of its own processes only (ProtectProc, ProcSubset)"
PF=$(field "$MP" Seccomp_filters)
kids=$(ct pgrep -P "$MP" | tr '\n' ' ')
nk=0 bad=
for c in $kids; do
	nk=$((nk + 1))
	[ "$(ct cat "/proc/$c/status" | awk '/^Uid:/ { print $2 $3 $4 $5 }')" = "$EGD_UID$EGD_UID$EGD_UID$EGD_UID" ] || bad="$bad $c:uid"
	[ "$(field "$c" CapBnd)" = 0000000000000000 ] && [ "$(field "$c" CapEff)" = 0000000000000000 ] &&
	    [ "$(field "$c" CapPrm)" = 0000000000000000 ] || bad="$bad $c:caps"
	[ "$(field "$c" NoNewPrivs)" = 1 ] || bad="$bad $c:nnp"
	[ "$(field "$c" Seccomp)" = 2 ] && [ "$(field "$c" Seccomp_filters)" -gt "$PF" ] || bad="$bad $c:seccomp"
	[ "$(ct readlink "/proc/$c/root")" = /var/empty ] || bad="$bad $c:root=$(ct readlink "/proc/$c/root")"
done
ok $([ $nk -eq 3 ]; echo $?) "three children: two workers and the helper ($kids)"
ok $([ $nk -gt 0 ] && [ -z "$bad" ]; echo $?) \
    "every child: uid _egressd, no capability, no_new_privs, its own seccomp filter on top of systemd's, root /var/empty${bad:+ (wrong:$bad)}"

# ---- requests through the gateway ------------------------------------------
wait_n=0
while [ $wait_n -lt 150 ] && ! ct test -f /run/egd-origin.log.ready; do sleep 0.1; wait_n=$((wait_n + 1)); done
r=$(req http://unregistered.test/)
ok $(case $r in "403 egressd: no_service"*) echo 0 ;; *) echo 1 ;; esac) \
    "an unregistered host: 403 \"egressd: no_service\" ($r)"
r=$(req http://203.0.113.7:8081/small)
ok $(case $r in "403 egressd: private_address"*) echo 0 ;; *) echo 1 ;; esac) \
    "this host's own address is refused (getifaddrs over AF_NETLINK works): $r"
r=$(req http://origin.test:8081/small)
ok $([ "$r" = "200 hello" ]; echo $?) \
    "a registered service, resolved by the helper, reached by a worker: $r"

# The control socket, made by the parent in the RuntimeDirectory.
if [ -n "$CTL" ]; then
	ok $(ct "$CTL" show summary >/dev/null 2>&1; echo $?) \
	    "egressctl show summary, through the control socket in /run/egressd"
else
	skip "egressctl is not installed"
fi

# ---- reload -----------------------------------------------------------------
# systemd 252 has no Type=notify-reload: systemctl reload returns once
# kill -HUP did; the parent's RELOADING=1 ... READY=1 follows.  Poll.
conf "listen on 127.0.0.1 port 81 http" > "$T/ct/egressd.conf"	# same inode
ok $(ct systemctl reload "$U"; echo $?) "systemctl reload"
ok $(wait_journal 100 'reload: generation 2 in force'; echo $?) \
    "journal: \"reload: generation 2 in force\""
ok $(wait_prop 50 ActiveState active && [ "$(prop MainPID)" = "$MP" ] &&
    [ "$(prop StatusText)" = serving ]; echo $?) "active again, same main process, serving"
r=$(req http://unregistered.test/ 127.0.0.1:81)
ok $(case $r in "403 egressd: no_service"*) echo 0 ;; *) echo 1 ;; esac) \
    "a port below 1024 added on reload serves (CAP_NET_BIND_SERVICE kept): $r"
echo 'workers 0' > "$T/ct/egressd.conf"
ct systemctl reload "$U"
ok $(wait_journal 100 'has errors; keeping generation 2'; echo $?) \
    "a broken file on reload: refused, generation 2 kept"
ok $(wait_prop 30 ActiveState active && [ "$(req http://origin.test:8081/small)" = "200 hello" ]; echo $?) \
    "still active and serving"

# ---- stop -------------------------------------------------------------------
ok $(ct systemctl stop "$U"; echo $?) "systemctl stop"
ok $([ "$(prop ActiveState)/$(prop Result)/$(prop ExecMainStatus)" = inactive/success/0 ]; echo $?) \
    "inactive, result success, exit status 0 ($(prop ActiveState)/$(prop Result)/$(prop ExecMainStatus))"
ok $([ -z "$(ct pgrep -f "$EXE")" ]; echo $?) "no egressd process left"
ok $(wait_journal 30 'stopping on signal 15' && wait_journal 30 'stopped'; echo $?) \
    "journal: \"stopping on signal 15\" ... \"stopped\""
ok $(journal | grep -qE 'killed by seccomp|getifaddrs|Operation not permitted|Read-only file system'; [ $? -ne 0 ]; echo $?) \
    "journal: no seccomp kill, no getifaddrs failure, nothing refused by the sandbox"
[ "$T_FAILED" -gt 0 ] && journal | head -n 60 | sed 's/^/# journal: /'

ct_stop
ok $? "the container is powered off and its cgroups removed"
diag "exposure ${EXPOSURE:-?}; $(($(date +%s) - t0)) s in all"
done_testing
