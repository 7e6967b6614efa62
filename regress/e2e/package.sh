# The Debian package, as an operator builds and installs it.  Needs
# root; installs what it lacks with apt-get (git, dpkg-dev, debhelper,
# lintian, debootstrap, systemd-container, then the build dependencies
# of debian/control with apt-get build-dep), and the Debian mirror once
# for the root file system, which is kept.  It runs in make check except
# in a sanitizer build (the package builds its own production binaries
# from a clean clone, so the sanitizer pass would test the same thing
# twice); EGD_PACKAGE_TEST=1 runs it there too, EGD_PACKAGE_TEST=0 skips
# it.  The whole test is bounded by EGD_PACKAGE_TIMEOUT (default 1500 s).
#
# 1. A clean clone of the committed HEAD of SRCDIR (uncommitted changes
#    are not in it), dpkg-buildpackage -us -uc -b: the .deb's files,
#    conffiles, dependencies and maintainer scripts; lintian on it: no
#    error, no warning.
# 2. The same clone as the next version (configure.ac and a changelog
#    entry), built again: an upgrade that is another build.
# 3. A Debian 12 root file system made by debootstrap (minbase, systemd,
#    the package's dependencies), kept in /var/tmp for the next run under
#    a name made of ROOTFS_REV and that list, made under a lock so that
#    runs at once neither build it twice nor see it half made.  A
#    container boots it with a tmpfs laid over it (nspawn.sh,
#    CT_VOLATILE=overlay): nothing it does reaches the kept copy.  In it,
#    with apt-get: the first .deb installed (user, chroot, unit enabled
#    and started, answering on 127.0.0.1:8080 with the shipped
#    configuration, egressctl for root); the second installed over it
#    while a client sends requests without pause (the failures during
#    the restart are counted and reported, not judged); then remove and
#    purge, which must leave no unit, binary or process, and keep the
#    user and the audit trail.
. "$SRCDIR/regress/lib.sh"
. "$SRCDIR/regress/e2e/nspawn.sh"

case ${EGD_PACKAGE_TEST:-} in
0)
	skip "the package test (EGD_PACKAGE_TEST=0)"
	done_testing
	exit 0 ;;
1)	;;
*)
	if [ -n "$(sed -n 's/^SAN_CFLAGS = //p' "$BUILDDIR/Makefile" 2>/dev/null)" ]; then
		skip "the package test in a sanitizer build: the package is built from a clean clone without sanitizers, as in the other pass (EGD_PACKAGE_TEST=1 runs it)"
		done_testing
		exit 0
	fi ;;
esac
[ "$(id -u)" -eq 0 ] || { fail "the package test needs root"; done_testing; exit 1; }

# Bump to make the kept root file system again (a change of what goes
# into it, beyond the package's own dependencies).
ROOTFS_REV=1
MIRROR=${EGD_DEBIAN_MIRROR:-http://deb.debian.org/debian}
ROOTFS_BASE=${EGD_ROOTFS_DIR:-/var/tmp/egressd-bookworm}

# What the test itself runs, installed when missing (CI's autogen.sh
# --deps has them already).
missing=
for c in git:git dpkg-buildpackage:dpkg-dev dh:debhelper lintian:lintian \
    debootstrap:debootstrap systemd-nspawn:systemd-container \
    nsenter:util-linux python3:python3 flock:util-linux curl:curl; do
	command -v "${c%%:*}" >/dev/null || missing="$missing ${c#*:}"
done
if [ -n "$missing" ]; then
	diag "installing:$missing"
	DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y -q \
	    --no-install-recommends $missing >/dev/null 2>&1 ||
	    { DEBIAN_FRONTEND=noninteractive timeout 300 apt-get update -q >/dev/null 2>&1 &&
	    DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y -q \
	    --no-install-recommends $missing >/dev/null 2>&1; }
	ok $? "what this test runs is installed (apt-get install$missing)"
	[ "$T_FAILED" -eq 0 ] || { done_testing; exit 1; }
fi
if ! git -C "$SRCDIR" rev-parse --verify -q HEAD >/dev/null; then
	skip "the package test: $SRCDIR is no git checkout (a release tarball, make distcheck), and the package is built from a clean clone"
	done_testing
	exit 0
fi

T=$(mktemp -d /var/tmp/egressd-package.XXXXXX)
chmod 755 "$T"
CLIENT=
sh -c 'trap "kill \$s; exit 0" TERM; sleep "$1" & s=$!; wait $s
    echo "# timed out after $1 s"; kill -TERM "$2"' sh \
    "${EGD_PACKAGE_TIMEOUT:-1500}" $$ &
WATCHDOG=$!
cleanup() {
	kill "$WATCHDOG" 2>/dev/null
	[ -n "$CLIENT" ] && kill "$CLIENT" 2>/dev/null
	ct_stop
	[ "${KEEP_TMP:-0}" = 1 ] && echo "# kept $T" || rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM
t0=$(date +%s)
elapsed() { echo "$(($(date +%s) - t0)) s"; }

# ---- 1. build from a clean clone ------------------------------------------
B=$T/build
mkdir -p "$B"
git clone -q "$SRCDIR" "$B/egressd" || { fail "git clone $SRCDIR"; done_testing; exit 1; }
[ -n "$(git -C "$SRCDIR" status --porcelain --untracked-files=no 2>/dev/null)" ] &&
    diag "$SRCDIR has uncommitted changes: the package is built from HEAD without them"
ok $([ "$(git -C "$B/egressd" rev-parse HEAD)" = "$(git -C "$SRCDIR" rev-parse HEAD)" ]; echo $?) \
    "a clean clone of HEAD ($(git -C "$B/egressd" rev-parse --short HEAD))"
if ! (cd "$B/egressd" && dpkg-checkbuilddeps) >/dev/null 2>&1; then
	diag "installing the build dependencies (apt-get build-dep ./)"
	(cd "$B/egressd" && DEBIAN_FRONTEND=noninteractive timeout 900 \
	    apt-get build-dep -y -q ./) >"$T/build-dep.log" 2>&1
fi
out=$(cd "$B/egressd" && dpkg-checkbuilddeps 2>&1)
ok $? "the build dependencies of debian/control are installed${out:+ ($out)}"
[ -n "$out" ] && tail -n 20 "$T/build-dep.log" 2>/dev/null | sed 's/^/# /'

ARCH=$(dpkg --print-architecture)
V1=$(dpkg-parsechangelog -l "$B/egressd/debian/changelog" -S Version)
DEB1=$B/egressd_${V1}_$ARCH.deb
(cd "$B/egressd" && dpkg-buildpackage -us -uc -b -j2) >"$T/build1.log" 2>&1
rc=$?
ok $([ $rc -eq 0 ] && [ -f "$DEB1" ]; echo $?) \
    "dpkg-buildpackage -us -uc -b builds ${DEB1##*/} ($(elapsed))"
if [ ! -f "$DEB1" ]; then
	tail -n 40 "$T/build1.log" | sed 's/^/# /'
	done_testing
	exit 1
fi
ok $(grep -q '^[0-9]* passed, 0 failed' "$T/build1.log"; echo $?) \
    "the build ran the unit and manual-page tests: $(grep '^[0-9]* passed' "$T/build1.log" | tail -1)"

# What the .deb holds, exactly (directories aside).
dpkg-deb -c "$DEB1" | awk '$1 !~ /^d/ { print $6 }' | sed 's|^\./|/|' |
    sort > "$T/files"
{
	for f in /usr/sbin/egressd /usr/sbin/egressctl \
	    /lib/systemd/system/egressd.service \
	    /usr/lib/sysusers.d/egressd.conf /usr/lib/tmpfiles.d/egressd.conf \
	    /etc/egressd.conf /usr/share/doc/egressd/copyright \
	    /usr/share/doc/egressd/changelog.gz; do
		echo "$f"
	done
	for f in "$B"/egressd/src/*.[1-8]; do	# every manual page of the tree
		echo "/usr/share/man/man${f##*.}/${f##*/}.gz"
	done
	for f in "$B"/egressd/etc/*.conf; do
		echo "/usr/share/doc/egressd/examples/${f##*/}"
	done
	for f in "$B"/egressd/etc/nftables/*.nft; do
		[ -f "$f" ] && echo "/usr/share/doc/egressd/examples/nftables/${f##*/}"
	done
} | sort > "$T/want"
ok $(cmp -s "$T/want" "$T/files"; echo $?) \
    "the .deb holds the daemon, egressctl, $(grep -c /man/ "$T/want") manual pages, the unit, the sysusers.d and tmpfiles.d snippets, /etc/egressd.conf and $(grep -c /examples/ "$T/want") examples, nothing else"
diff "$T/want" "$T/files" | sed -n 's/^[<>]/#&/p'
nft=$(grep -c '/examples/nftables/' "$T/want")
diag "nftables rulesets in etc/nftables: $nft (packaged as examples/nftables/ when there are any)"

X1=$T/x1
dpkg-deb -x "$DEB1" "$X1"
ok $(cmp -s "$B/egressd/etc/egressd.conf" "$X1/etc/egressd.conf"; echo $?) \
    "/etc/egressd.conf is etc/egressd.conf"
listens=$(grep -E '^[[:space:]]*listen on' "$X1/etc/egressd.conf")
ok $([ -n "$listens" ] && ! echo "$listens" | grep -vq 'listen on 127\.0\.0\.1 '; echo $?) \
    "and listens on loopback only: $(echo $listens)"
ok $("$X1/usr/sbin/egressd" -n -f "$X1/etc/egressd.conf" >/dev/null 2>&1; echo $?) \
    "the packaged egressd accepts it (egressd -n)"
conffiles=$(dpkg-deb --ctrl-tarfile "$DEB1" | tar -xOf - ./conffiles)
ok $([ "$conffiles" = /etc/egressd.conf ]; echo $?) \
    "conffiles: exactly /etc/egressd.conf ($(echo $conffiles))"
ID1=$("$X1/usr/sbin/egressd" -V)
ok $([ "$ID1" != "${ID1#egressd ${V1%%-*} build-id }" ]; echo $?) \
    "egressd -V says the package's version ($ID1)"
ok $(grep -q EGRESSD_REGRESS_CHILD_EXE "$X1/usr/sbin/egressd"; [ $? -ne 0 ]; echo $?) \
    "a production build: no test hooks in the binary"
ok $(grep -qx 'ExecStart=/usr/sbin/egressd -d -f /etc/egressd.conf' "$X1/lib/systemd/system/egressd.service"; echo $?) \
    "the unit runs /usr/sbin/egressd on /etc/egressd.conf"
DEPS=$(dpkg-deb -f "$DEB1" Depends)
bad=
for want in libevent-core libevent-openssl libssl3 libseccomp2 libcap-ng0 \
    libyaml-0-2 systemd; do
	echo "$DEPS" | grep -q "$want" || bad="$bad $want"
done
ok $([ -z "$bad" ] && ! echo "$DEPS" | grep -qi 'llhttp\|node'; echo $?) \
    "Depends comes from the shared libraries, no llhttp (build-time only)${bad:+; missing:$bad}"
diag "Depends: $DEPS"
ctl() { dpkg-deb --ctrl-tarfile "$DEB1" | tar -xOf - "./$1" 2>/dev/null; }
ok $(ctl postinst | grep -q 'systemd-sysusers .*egressd.conf' &&
    ctl postinst | grep -q 'systemd-tmpfiles .*--create egressd.conf' &&
    ctl postinst | grep -q "deb-systemd-helper enable 'egressd.service'" &&
    ctl postinst | grep -q '_dh_action=restart' &&
    ctl prerm | grep -q "deb-systemd-invoke stop 'egressd.service'" &&
    ctl postrm | grep -q "deb-systemd-helper purge 'egressd.service'"; echo $?) \
    "maintainer scripts from debhelper: sysusers, tmpfiles, enable, start/restart, stop on remove, purge"

lintian -I --fail-on error,warning "$DEB1" >"$T/lintian.out" 2>"$T/lintian.err"
rc=$?
ok $([ $rc -eq 0 ] && ! grep -q '^[EW]:' "$T/lintian.out"; echo $?) \
    "lintian: no error, no warning ($(grep -c '^I:' "$T/lintian.out") informational tags, $(elapsed))"
sed 's/^/# lintian: /' "$T/lintian.out"
[ $rc -ne 0 ] && sed 's/^/# lintian: /' "$T/lintian.err"

# ---- 2. the next version, another build --------------------------------------
UP1=$(sed -n 's/^AC_INIT(\[egressd\], \[\([0-9.]*\)\].*/\1/p' "$B/egressd/configure.ac")
UP2=${UP1%.*}.$((${UP1##*.} + 1))
V2=$UP2
ok $([ -n "$UP1" ] && dpkg --compare-versions "$V2" gt "$V1"; echo $?) \
    "the upgrade is version $V2 (above $V1)"
sed -i "s/^AC_INIT(\[egressd\], \[$UP1\]/AC_INIT([egressd], [$UP2]/" "$B/egressd/configure.ac"
{
	printf 'egressd (%s) unstable; urgency=medium\n\n' "$V2"
	printf '  * Test upgrade.\n\n'
	printf ' -- egressd developers <dev@egressd.invalid>  %s\n\n' "$(date -R)"
	cat "$B/egressd/debian/changelog"
} > "$T/changelog" && mv "$T/changelog" "$B/egressd/debian/changelog"
DEB2=$B/egressd_${V2}_$ARCH.deb
(cd "$B/egressd" && DEB_BUILD_OPTIONS=nocheck dpkg-buildpackage -us -uc -b -j2) \
    >"$T/build2.log" 2>&1
ok $([ -f "$DEB2" ]; echo $?) "built ${DEB2##*/} ($(elapsed))"
[ -f "$DEB2" ] || { tail -n 40 "$T/build2.log" | sed 's/^/# /'; done_testing; exit 1; }
X2=$T/x2
dpkg-deb -x "$DEB2" "$X2"
ID2=$("$X2/usr/sbin/egressd" -V)
ok $([ "$ID2" != "${ID2#egressd $UP2 build-id }" ] && [ "$ID2" != "$ID1" ]; echo $?) \
    "another build: $ID2"

# ---- 3. the root file system, kept ---------------------------------------------
# What it holds: systemd, procps, and the first alternative of every
# dependency of the package.
pkgs=$(echo "$DEPS" | tr ',' '\n' | sed 's/|.*//; s/(.*)//; s/[[:space:]]//g' |
    grep -v '^$' | sort -u | tr '\n' ',')
INCLUDE=$(printf '%s' "systemd,procps,$pkgs" | tr ',' '\n' | sort -u | grep -v '^$' |
    tr '\n' ',' | sed 's/,$//')
KEY=$(printf '%s %s %s' "$ROOTFS_REV" "$MIRROR" "$INCLUDE" | sha256sum | cut -c1-12)
ROOT=$ROOTFS_BASE-$KEY
exec 8>"$ROOTFS_BASE.lock"
if ! flock -w 1200 8; then
	fail "the lock on $ROOTFS_BASE.lock (another run holds it)"
	done_testing
	exit 1
fi
if [ ! -f "$ROOT/.egressd-complete" ]; then
	rm -rf "$ROOT.tmp"
	debootstrap --variant=minbase --include="$INCLUDE" bookworm "$ROOT.tmp" \
	    "$MIRROR" >"$T/debootstrap.log" 2>&1
	rc=$?
	if [ $rc -eq 0 ]; then
		# Loopback is all the container has; every container boot
		# makes a machine id of its own.
		echo 'nameserver 127.0.0.1' > "$ROOT.tmp/etc/resolv.conf"
		: > "$ROOT.tmp/etc/machine-id"
		rm -f "$ROOT.tmp"/var/cache/apt/archives/*.deb
		touch "$ROOT.tmp/.egressd-complete"
		rm -rf "$ROOT" && mv "$ROOT.tmp" "$ROOT"
		how="made by debootstrap from $MIRROR"
	else
		tail -n 20 "$T/debootstrap.log" | sed 's/^/# /'
		rm -rf "$ROOT.tmp"
		how="debootstrap failed"
	fi
else
	how="kept from an earlier run"
fi
flock -u 8
exec 8>&-
ok $([ -f "$ROOT/.egressd-complete" ]; echo $?) \
    "a Debian 12 root file system in $ROOT, $how ($(elapsed))"
[ -f "$ROOT/.egressd-complete" ] || { done_testing; exit 1; }

# ---- the container ----------------------------------------------------------------
mkdir -p "$T/debs"
cp "$DEB1" "$DEB2" "$T/debs/"
CT_ROOT=$ROOT CT_VOLATILE=overlay
CT_BOOT_ARGS=
for f in "$ROOT"/lib/systemd/system/*wait-online*.service; do
	[ -e "$f" ] && CT_BOOT_ARGS="$CT_BOOT_ARGS systemd.mask=${f##*/}"
done
if ! ct_start "egressd-pkg-$$" "$T/console.log" --resolv-conf=off \
    --bind-ro="$T/debs:/srv/debs"; then
	fail "a container boots from $ROOT ($CT_STATE)"
	tail -n 30 "$T/console.log" | sed 's/^/# /'
	done_testing
	exit 1
fi
pass "a container boots from it ($(elapsed))"
[ -n "$CT_FAILED" ] && diag "failed units in the container: $CT_FAILED"

U=egressd.service
prop() { ct systemctl show -P "$1" "$U"; }
journal() { ct journalctl -q -u "$U" -o cat --no-pager; }
# A request through the gateway, from the host's curl in the container's
# network: "STATUS BODY".
req() {
	rm -f "$T/body"
	code=$(nsenter -t "$CT_LEADER" -n curl -s -m 5 -o "$T/body" \
	    -w '%{http_code}' -x http://127.0.0.1:8080 http://example.test/)
	echo "$code $(cat "$T/body" 2>/dev/null)"
}
apt_get() { CT_TIMEOUT=300 ct env DEBIAN_FRONTEND=noninteractive apt-get -y -q "$@"; }

# ---- install ------------------------------------------------------------------------
apt_get install "/srv/debs/${DEB1##*/}" >"$T/apt1.log" 2>&1
ok $? "apt-get install ${DEB1##*/}"
[ "$T_FAILED" -gt 0 ] && tail -n 20 "$T/apt1.log" | sed 's/^/# /'
ok $([ "$(ct dpkg-query -W -f '${Status} ${Version}' egressd)" = "install ok installed $V1" ]; echo $?) \
    "dpkg: egressd $V1 installed"
ok $([ "$(prop ActiveState)/$(prop SubState)" = active/running ] &&
    [ "$(ct systemctl is-enabled "$U")" = enabled ]; echo $?) \
    "the unit is enabled and active/running"
EGD_UID=$(ct getent passwd _egressd | cut -d: -f3)
ok $([ -n "$EGD_UID" ] && [ "$EGD_UID" -lt 1000 ] &&
    [ "$(ct stat -c '%a %U %G' /var/empty)" = "755 root root" ]; echo $?) \
    "user _egressd (uid ${EGD_UID:-none}) and the empty root /var/empty made by sysusers and tmpfiles"
r=$(req)
ok $(case $r in "403 egressd: no_service"*) echo 0 ;; *) echo 1 ;; esac) \
    "it answers on 127.0.0.1:8080 with the shipped configuration: $r"
out=$(ct /usr/sbin/egressctl show summary 2>&1)
ok $(echo "$out" | grep -q '^workers [0-9]* of [0-9]* running'; echo $?) \
    "egressctl show summary, as root: $(echo "$out" | sed -n 1p)"
MP1=$(prop MainPID)
ok $(journal | grep -q "$ID1: starting"; echo $?) "journal: $ID1 started"

# ---- upgrade under load --------------------------------------------------------------
rm -f "$T/stop" "$T/state"
nsenter -t "$CT_LEADER" -n python3 "$SRCDIR/regress/e2e/reqloop.py" 127.0.0.1 8080 \
    403 "$T/state" "$T/stop" 600 &
CLIENT=$!
answered() { set -- $(cat "$T/state" 2>/dev/null) 0; echo "$1"; }
# wait_for SECONDS CMD...: CMD polled until it succeeds, at most SECONDS.
wait_for() {
	wf_end=$(($(date +%s) + $1))
	shift
	until "$@"; do
		[ "$(date +%s)" -lt "$wf_end" ] || return 1
		sleep 0.2
	done
}
past() { [ "$(answered)" -ge "$1" ]; }
wait_for 300 past 20
before=$(answered)
ok $([ "$before" -ge 20 ]; echo $?) "a client sends requests without pause ($before answered so far)"
apt_get install "/srv/debs/${DEB2##*/}" >"$T/apt2.log" 2>&1
ok $? "apt-get install ${DEB2##*/} over it, while the client runs"
[ "$T_FAILED" -gt 0 ] && tail -n 20 "$T/apt2.log" | sed 's/^/# /'
after=$(answered)
wait_for 300 past $((after + 20))
touch "$T/stop"
wait "$CLIENT"
CLIENT=
set -- $(cat "$T/state")
ANS=$1 FAILED=$2
ok $([ "$ANS" -ge $((after + 20)) ]; echo $?) \
    "requests are answered after the upgrade ($((ANS - after)) since)"
diag "during the upgrade: $FAILED of $((ANS + FAILED)) requests failed (refused while the service restarted), between $3 s and $4 s of the client's run"
ok $([ "$(ct dpkg-query -W -f '${Status} ${Version}' egressd)" = "install ok installed $V2" ]; echo $?) \
    "dpkg: egressd $V2 installed"
MP2=$(prop MainPID)
ok $([ "$(prop ActiveState)/$(prop SubState)" = active/running ] &&
    [ -n "$MP2" ] && [ "$MP2" != "$MP1" ] && [ "$MP2" != 0 ]; echo $?) \
    "active/running, restarted (main pid $MP1, now $MP2)"
ok $(journal | grep -q "$ID2: starting"; echo $?) "journal: $ID2 started"
exes=$(ct sh -c "readlink /proc/$MP2/exe; for c in \$(pgrep -P $MP2); do readlink /proc/\$c/exe; done" | sort | uniq -c)
ok $([ "$(echo "$exes" | wc -l)" -eq 1 ] &&
    echo "$exes" | grep -q ' /usr/sbin/egressd$'; echo $?) \
    "the parent and every child run the new /usr/sbin/egressd ($(echo $exes))"
ok $(journal | grep -q 'refused to run'; [ $? -ne 0 ]; echo $?) \
    "no child refused to run during the upgrade"
r=$(req)
ok $(case $r in "403 egressd: no_service"*) echo 0 ;; *) echo 1 ;; esac) "it answers: $r"

# ---- remove and purge ------------------------------------------------------------
none_left() {	# nothing of the package runs or is installed
	[ -z "$(ct pgrep -x egressd)" ] && ! ct test -e /usr/sbin/egressd &&
	    ! ct test -e /usr/sbin/egressctl &&
	    ! ct test -e /lib/systemd/system/egressd.service &&
	    ! ct systemctl cat "$U" >/dev/null 2>&1
}
apt_get remove egressd >"$T/apt3.log" 2>&1
ok $? "apt-get remove egressd"
ok $(none_left; echo $?) "no unit, binary or process left"
ok $([ "$(ct dpkg-query -W -f '${Status}' egressd)" = "deinstall ok config-files" ] &&
    ct test -f /etc/egressd.conf; echo $?) "the conffile stays until purge"
apt_get purge egressd >"$T/apt4.log" 2>&1
ok $? "apt-get purge egressd"
ok $(none_left && ! ct test -e /etc/egressd.conf &&
    ! ct test -e /etc/systemd/system/multi-user.target.wants/egressd.service &&
    [ -z "$(ct sh -c 'ls /var/lib/systemd/deb-systemd-helper-enabled/ 2>/dev/null' | grep egressd)" ] &&
    [ -z "$(ct dpkg-query -W -f '${Status}' egressd 2>/dev/null)" ]; echo $?) \
    "purged: no conffile, no enablement, no trace in dpkg"
ok $(! ct test -e /run/egressd && ! ct test -e /var/empty; echo $?) \
    "the runtime directory and the empty root are gone"
ok $(ct getent passwd _egressd >/dev/null &&
    journal | grep -q 'DENY .*reason="no_service"'; echo $?) \
    "the user _egressd and the audit trail in the journal are kept"
[ "$T_FAILED" -gt 0 ] && journal | tail -n 40 | sed 's/^/# journal: /'

ct_stop
ok $? "the container is powered off and its cgroups removed"
diag "$(elapsed) in all"
done_testing
