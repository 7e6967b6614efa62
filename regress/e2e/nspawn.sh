# A real systemd to test egressd's unit against, in a throw-away
# container: systemd-nspawn boots this host's own OS (no image to build)
# read-only and volatile (a tmpfs root, /usr from the host, /etc and /var
# empty at boot), with whatever the test lays over it, only as far as
# basic.target.  Works where PID 1 is not systemd.  Sourced by a test;
# POSIX sh.
#
# CT_ROOT (default /) boots another root directory instead, and
# CT_VOLATILE (default yes) is nspawn's --volatile= for it: "overlay"
# lays a tmpfs over the whole directory, so that a root file system kept
# for the next run (regress/e2e/package.sh's) is never written to.
#
#   ct_start NAME LOG [systemd-nspawn options...]
#	boots, with CT_BOOT_ARGS added to the kernel command line, for at
#	most CT_BOOT_TIMEOUT seconds (default 180); the console goes to LOG.
#	Sets CT_PID (systemd-nspawn) and CT_LEADER (the container's PID 1,
#	as the host sees it); returns 0 once the container's systemd says
#	"running" or "degraded", 1 otherwise (CT_STATE says what went
#	wrong).  "degraded" means some unit failed, often one of the host's
#	own that cannot work in a container (nftables.service where the host
#	has the nftables package, say): CT_FAILED lists the failed units, and
#	the test decides which of them are its business.
#   ct CMD...		runs CMD in every namespace of the container, for
#			at most CT_TIMEOUT seconds (default 30)
#   ct_stop		powers it off, waits (bounded), SIGKILLs what is
#			left of it by PID, removes its cgroups
#
# Pitfalls, all measured: without systemd.unit=basic.target every
# service of the host starts and the boot takes minutes; without masking
# systemd-firstboot the container ends up "degraded".  With no systemd
# on the host there is no machined (hence --register=no, and no
# systemctl -M: nsenter into the leader instead), and nspawn creates its
# payload/supervisor cgroups under the cgroup it runs in and leaves them
# behind: each container gets a cgroup of its own, named after it, which
# ct_stop removes.  Names must be unique if tests run in parallel.

CT_PID= CT_LEADER= CT_NAME= CT_CGROUPS= CT_STATE= CT_FAILED=

# The cgroup hierarchies nspawn will use: the unified one (cgroup2 at
# /sys/fs/cgroup), or the hybrid pair name=systemd + unified.
ct_hierarchies() {
	if [ "$(stat -fc %T /sys/fs/cgroup 2>/dev/null)" = cgroup2fs ]; then
		echo /sys/fs/cgroup
		return
	fi
	for h in /sys/fs/cgroup/systemd /sys/fs/cgroup/unified; do
		[ -f "$h/cgroup.procs" ] && echo "$h"
	done
	return 0
}

ct() {
	timeout -k 2 "${CT_TIMEOUT:-30}" nsenter -t "$CT_LEADER" -a "$@"
}

ct_start() {
	CT_NAME=$1 ct_log=$2
	shift 2
	CT_CGROUPS=
	for h in $(ct_hierarchies); do
		mkdir -p "$h/$CT_NAME" ||
		    { CT_STATE="cannot create cgroup $h/$CT_NAME"; return 1; }
		CT_CGROUPS="$CT_CGROUPS $h/$CT_NAME"
	done
	# The shell moves itself into the cgroups, then becomes nspawn.
	sh -c 'for c in $0; do echo $$ > "$c/cgroup.procs" || exit 125; done
	    exec "$@"' "$CT_CGROUPS" \
	    systemd-nspawn -q -D "${CT_ROOT:-/}" \
	    --volatile="${CT_VOLATILE:-yes}" -M "$CT_NAME" \
	    --register=no --keep-unit --private-network \
	    --system-call-filter=bpf -b --console=pipe "$@" \
	    -- systemd.unit=basic.target \
	    systemd.mask=systemd-firstboot.service $CT_BOOT_ARGS \
	    </dev/null >"$ct_log" 2>&1 &
	CT_PID=$!
	CT_LEADER=
	i=0
	while [ $i -lt 200 ] && kill -0 "$CT_PID" 2>/dev/null; do
		CT_LEADER=$(pgrep -P "$CT_PID" -x systemd) && break
		sleep 0.05
		i=$((i + 1))
	done
	[ -n "$CT_LEADER" ] || { CT_STATE="no systemd started"; return 1; }
	# is-system-running --wait returns at the end of the boot; it fails
	# at once while the container's manager cannot be reached yet.  The
	# whole boot gets CT_BOOT_TIMEOUT seconds (default 180): a bound for a
	# boot that never ends, generous for a loaded machine.
	end=$(($(date +%s) + ${CT_BOOT_TIMEOUT:-180}))
	while [ "$(date +%s)" -lt "$end" ]; do
		CT_STATE=$(timeout -k 2 $((end - $(date +%s) + 1)) \
		    nsenter -t "$CT_LEADER" -a \
		    systemctl is-system-running --wait 2>/dev/null)
		case $CT_STATE in
		running) CT_FAILED=; return 0 ;;
		degraded)
			CT_FAILED=$(ct systemctl list-units --state=failed \
			    --no-legend --plain 2>/dev/null | awk '{ print $1 }' |
			    tr '\n' ' ')
			return 0 ;;
		maintenance|stopping|offline) return 1 ;;
		esac
		kill -0 "$CT_PID" 2>/dev/null || { CT_STATE="nspawn exited"; return 1; }
		sleep 0.1
	done
	CT_STATE="still booting after ${CT_BOOT_TIMEOUT:-180} s (${CT_STATE:-no answer})"
	return 1
}

# The PIDs in the container's cgroups, as the host sees them.
ct_pids() {
	for c in $CT_CGROUPS; do
		[ -d "$c" ] && find "$c" -name cgroup.procs -exec cat {} + 2>/dev/null
	done | sort -u
}

ct_stop() {
	[ -n "$CT_PID" ] || return 0
	if kill -0 "$CT_PID" 2>/dev/null; then
		[ -n "$CT_LEADER" ] &&
		    timeout 5 nsenter -t "$CT_LEADER" -a systemctl poweroff \
		    >/dev/null 2>&1
		i=0
		while [ $i -lt 200 ] && kill -0 "$CT_PID" 2>/dev/null; do
			sleep 0.05
			i=$((i + 1))
		done
		kill -0 "$CT_PID" 2>/dev/null && kill -KILL "$CT_PID"
	fi
	wait "$CT_PID" 2>/dev/null
	# Whatever is left in its cgroups was started by this container.
	for p in $(ct_pids); do kill -KILL "$p" 2>/dev/null; done
	i=0
	for c in $CT_CGROUPS; do
		while [ -d "$c" ] && [ $i -lt 50 ]; do
			find "$c" -depth -type d -exec rmdir {} + 2>/dev/null
			[ -d "$c" ] && { sleep 0.1; i=$((i + 1)); }
		done
	done
	CT_PID=
	for c in $CT_CGROUPS; do [ -d "$c" ] && return 1; done
	return 0
}
