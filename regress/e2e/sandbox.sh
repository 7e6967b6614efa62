# The sandbox, proved from /proc: every worker and the helper run as the
# unprivileged user, chrooted into the empty root, with no capability in
# any set, no_new_privs and a seccomp filter; the parent is the only root
# process and keeps only the capabilities it documents.  A request gets
# a one-line refusal (default deny).
. "$SRCDIR/regress/e2e/common.sh"

PORT=$(free_port)
cat > "$T/egressd.conf" <<CONF
user "$EGD_USER"
chroot "$T/root"
workers 2
gateway "test" {
	listen on 127.0.0.1 port $PORT http
}
CONF

start_egressd "$T/egressd.conf" || { fail "egressd starts"; done_testing; exit 1; }
pass "egressd starts and reports ready"

root_st=$(stat -c '%u %a' "$T/root")
ok $([ "$root_st" = "0 755" ]; echo $?) "the chroot was created root-owned 0755 ($root_st)"

kids=$(children_of "$EGD_PID")
nw=0 nh=0
for c in $kids; do
	r=$(role_of "$c")
	case $r in worker) nw=$((nw + 1)) ;; helper) nh=$((nh + 1)) ;; esac
	ok $([ "$(status_field "$c" Uid)" = "$EGD_UID $EGD_UID $EGD_UID $EGD_UID" ]; echo $?) \
	    "$r $c: real, effective, saved and fs uid are $EGD_USER ($(status_field "$c" Uid))"
	gid=$(id -g "$EGD_USER")
	ok $([ "$(status_field "$c" Gid)" = "$gid $gid $gid $gid" ]; echo $?) \
	    "$r $c: every gid is $EGD_USER's group"
	ok $([ -z "$(status_field "$c" Groups)" ]; echo $?) \
	    "$r $c: no supplementary groups"
	for set in CapInh CapPrm CapEff CapBnd CapAmb; do
		v=$(status_field "$c" $set)
		ok $([ "$v" = 0000000000000000 ]; echo $?) "$r $c: $set is empty ($v)"
	done
	ok $([ "$(status_field "$c" NoNewPrivs)" = 1 ]; echo $?) "$r $c: NoNewPrivs 1"
	ok $([ "$(status_field "$c" Seccomp)" = 2 ]; echo $?) "$r $c: Seccomp 2 (filter)"
	rt=$(readlink "/proc/$c/root")
	ok $([ "$rt" = "$T/root" ]; echo $?) "$r $c: root directory is the chroot ($rt)"
	ok $([ "$(readlink "/proc/$c/cwd")" = "$T/root" ]; echo $?) "$r $c: cwd is the chroot"
	# Nothing but stdio, the parent channel, peer channels and listeners.
	bad=$(for fd in /proc/$c/fd/*; do
		[ "${fd##*/}" -le 2 ] && continue	# stdio, inherited
		readlink "$fd"
	done | grep -v -e '^socket:' -e '^anon_inode:\[eventpoll\]' -e '^pipe:' | head -3)
	# (the pipe is libevent's internal signal pipe, made by event_base_new)
	ok $([ -z "$bad" ]; echo $?) "$r $c: no file open, only stdio, sockets, epoll, pipe ${bad:+($bad)}"
done
ok $([ "$nw" -eq 2 ]; echo $?) "two workers run ($nw)"
ok $([ "$nh" -eq 1 ]; echo $?) "one helper runs ($nh)"

# The parent: root, and only the capabilities it documents.
ok $([ "$(status_field "$EGD_PID" Uid)" = "0 0 0 0" ]; echo $?) "parent runs as root"
# CAP_SETGID 6, CAP_SETUID 7, CAP_SETPCAP 8, CAP_NET_BIND_SERVICE 10,
# CAP_SYS_CHROOT 18, CAP_KILL 5
want=$(printf '%016x' $(( (1<<5) | (1<<6) | (1<<7) | (1<<8) | (1<<10) | (1<<18) )))
for set in CapEff CapPrm CapBnd; do
	v=$(status_field "$EGD_PID" $set)
	ok $([ "$v" = "$want" ]; echo $?) "parent: $set is exactly the documented set ($v)"
done
roots=0
for c in $kids; do
	[ "$(status_field "$c" Uid | cut -d' ' -f2)" = 0 ] && roots=$((roots + 1))
done
ok $([ "$roots" -eq 0 ]; echo $?) "the parent is the only root process ($roots root children)"

# The plumbing end to end: a request gets the fixed answer.
body=$(curl -s -m 5 -D "$T/hdr" "http://127.0.0.1:$PORT/")
ok $(grep -q '^HTTP/1.1 403' "$T/hdr"; echo $?) "a request is answered 403 (no service registers it: default deny)"
ok $(echo "$body" | grep -q '^egressd: ip_literal'; echo $?) "with a one-line reason ($body)"

stop_egressd
ok $([ "$EGD_STATUS" -eq 0 ]; echo $?) "SIGTERM: exit status 0 ($EGD_STATUS)"
done_testing
