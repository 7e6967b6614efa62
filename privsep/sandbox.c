/*
 * Seccomp allowlists, built with libseccomp and loaded by each child as
 * the last step of its start-up (after the privilege drop and once its
 * event loop exists).  A role's profile is a set of the groups below;
 * within a group there is one syscall per line with the reason it is
 * needed.  Anything else kills the whole process (SCMP_ACT_KILL_PROCESS),
 * which the parent logs as a seccomp kill and answers with a respawn.
 *
 * Debugging a profile: configure --with-seccomp-action=log (the kernel
 * logs the call and lets it run) or =trap (SIGSYS, core dump with the
 * syscall number in the siginfo).  Never ship either.
 *
 * Arguments are restricted where it matters: socket() only for the
 * address families and types a group needs, mmap/mprotect never with
 * PROT_EXEC, fcntl/ioctl/setsockopt/getsockopt only for the commands
 * listed.  clone3 answers ENOSYS so that a library probing for it falls
 * back to clone, which is not allowed either.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <linux/netfilter_ipv4.h>		/* SO_ORIGINAL_DST */
#include <linux/netfilter_ipv6/ip6_tables.h>	/* IP6T_SO_ORIGINAL_DST */
#include <seccomp.h>
#include <stddef.h>
#include <string.h>

#include "ps.h"

struct ps_rule {
	uint32_t		 groups;
	int			 nr;
	uint32_t		 action;	/* 0: allow */
	unsigned int		 unused;
	struct scmp_arg_cmp	 arg[3];
};

/*
 * ALLOW(groups, syscall, why), ALLOWA(groups, syscall, why, conditions),
 * ERRNO(groups, syscall, errno, why).  Conditions are ARG(n, op, a[, b])
 * rows; unused rows stay zero (op 0 is no comparison) and are not counted.
 */
#define ALLOW(g, sc, why)	{ (g), SCMP_SYS(sc), 0, 0, { { 0 } } }
#define ALLOWA(g, sc, why, ...)	{ (g), SCMP_SYS(sc), 0, 0, { __VA_ARGS__ } }
#define ERRNO(g, sc, e, why)	{ (g), SCMP_SYS(sc), SCMP_ACT_ERRNO(e), 0, \
				    { { 0 } } }
#define ARG(n, op, ...)		{ (n), (op), __VA_ARGS__ }
#define EQ(n, v)		ARG(n, SCMP_CMP_EQ, (v), 0)

#define NOEXEC(n)	ARG((n), SCMP_CMP_MASKED_EQ, PROT_EXEC, 0)
#define ANY		0xffffffff

static const struct ps_rule ps_rules[] = {
	/* --- PS_SC_BASE: memory, time, exit, signals --- */
	ALLOW(PS_SC_BASE, exit_group, "leaving"),
	ALLOW(PS_SC_BASE, exit, "leaving"),
	ALLOW(PS_SC_BASE, brk, "malloc"),
	ALLOWA(PS_SC_BASE, mmap, "malloc, OpenSSL arenas; never executable",
	    NOEXEC(2)),
	ALLOWA(PS_SC_BASE, mprotect, "malloc heap growth; never executable",
	    NOEXEC(2)),
	ALLOW(PS_SC_BASE, munmap, "free"),
	ALLOW(PS_SC_BASE, mremap, "realloc of large blocks"),
	ALLOW(PS_SC_BASE, madvise, "free returning pages; populating tables"),
	ALLOW(PS_SC_BASE, rt_sigreturn, "return from a signal handler"),
	ALLOW(PS_SC_BASE, rt_sigprocmask, "libc blocks signals in places"),
	ALLOW(PS_SC_BASE, clock_gettime, "event loop timeouts (vDSO fallback)"),
	ALLOW(PS_SC_BASE, gettimeofday, "log timestamps (vDSO fallback)"),
	ALLOW(PS_SC_BASE, getrandom, "OpenSSL and libevent randomness"),
	ALLOW(PS_SC_BASE, futex, "libc and OpenSSL locks"),
	ALLOW(PS_SC_BASE, restart_syscall, "restarted sleep after a signal"),
	ALLOW(PS_SC_BASE, getpid, "log lines and message headers"),
	ERRNO(PS_SC_BASE, clone3, ENOSYS, "libc probes it; no threads"),

	/* --- PS_SC_IO: descriptors the process already holds --- */
	ALLOW(PS_SC_IO, read, "sockets, the parent channel"),
	ALLOW(PS_SC_IO, write, "sockets, stderr with -d"),
	ALLOW(PS_SC_IO, readv, "sockets"),
	ALLOW(PS_SC_IO, writev, "sockets, stdio"),
	ALLOW(PS_SC_IO, close, "descriptors we are done with"),
	ALLOWA(PS_SC_IO, fcntl, "libevent: close-on-exec",
	    EQ(1, F_GETFD)),
	ALLOWA(PS_SC_IO, fcntl, "libevent: close-on-exec",
	    EQ(1, F_SETFD)),
	ALLOWA(PS_SC_IO, fcntl, "libevent: non-blocking",
	    EQ(1, F_GETFL)),
	ALLOWA(PS_SC_IO, fcntl, "libevent: non-blocking",
	    EQ(1, F_SETFL)),
	ALLOWA(PS_SC_IO, ioctl, "libevent sizes reads with FIONREAD",
	    EQ(1, FIONREAD)),
	ALLOW(PS_SC_IO, fstat, "stdio on stderr"),
	ALLOWA(PS_SC_IO, newfstatat, "fstat() as libc implements it",
	    EQ(3, AT_EMPTY_PATH)),
	ALLOW(PS_SC_IO, shutdown, "half-close of a relayed connection"),
	ALLOW(PS_SC_IO, poll, "blocking flush of the parent channel"),

	/* --- PS_SC_EVENT: the epoll loop --- */
	ALLOW(PS_SC_EVENT, epoll_wait, "event loop"),
	ALLOW(PS_SC_EVENT, epoll_pwait, "event loop"),
	ALLOW(PS_SC_EVENT, epoll_ctl, "event loop"),

	/* --- PS_SC_IMSG: channels with descriptor passing --- */
	ALLOW(PS_SC_IMSG, sendmsg, "messages, SCM_RIGHTS"),
	ALLOW(PS_SC_IMSG, recvmsg, "messages, SCM_RIGHTS"),

	/* --- PS_SC_ACCEPT: listeners passed by the parent --- */
	ALLOW(PS_SC_ACCEPT, accept4, "clients"),
	ALLOW(PS_SC_ACCEPT, getsockname, "local address of a client"),
	ALLOW(PS_SC_ACCEPT, getpeername, "client address"),
	ALLOWA(PS_SC_ACCEPT, getsockopt, "SO_PEERCRED of a control client",
	    EQ(1, SOL_SOCKET),
	    EQ(2, SO_PEERCRED)),
	ALLOWA(PS_SC_ACCEPT, getsockopt, "transparent listener: where an "
	    "IPv4 client's redirected connection went",
	    EQ(1, SOL_IP),
	    EQ(2, SO_ORIGINAL_DST)),
	ALLOWA(PS_SC_ACCEPT, getsockopt, "transparent listener: the same "
	    "for IPv6",
	    EQ(1, SOL_IPV6),
	    EQ(2, IP6T_SO_ORIGINAL_DST)),
	ALLOWA(PS_SC_ACCEPT | PS_SC_TCP, setsockopt, "TCP_NODELAY",
	    EQ(1, IPPROTO_TCP),
	    EQ(2, TCP_NODELAY)),
	ALLOWA(PS_SC_ACCEPT | PS_SC_TCP, setsockopt, "SO_KEEPALIVE",
	    EQ(1, SOL_SOCKET),
	    EQ(2, SO_KEEPALIVE)),

	/* --- PS_SC_TCP: outgoing TCP connections --- */
	ALLOWA(PS_SC_TCP, socket, "TCP over IPv4",
	    EQ(0, AF_INET),
	    ARG(1, SCMP_CMP_MASKED_EQ, 0xff, SOCK_STREAM)),
	ALLOWA(PS_SC_TCP, socket, "TCP over IPv6",
	    EQ(0, AF_INET6),
	    ARG(1, SCMP_CMP_MASKED_EQ, 0xff, SOCK_STREAM)),
	ALLOW(PS_SC_TCP, connect, "upstreams"),
	ALLOWA(PS_SC_TCP, getsockopt, "SO_ERROR after connect",
	    EQ(1, SOL_SOCKET),
	    EQ(2, SO_ERROR)),
	ALLOW(PS_SC_TCP, getsockname, "local address of an upstream"),
	ALLOW(PS_SC_TCP, getpeername, "address of an upstream"),

	/*
	 * --- PS_SC_DNS: DNS questions (the helper's stub resolver) ---
	 * One socket per try of a question, connected to the server, so
	 * that each try has a new random source port and the kernel drops
	 * datagrams from any other address or port.  UDP first; TCP after
	 * a truncated answer, and for DNS over TLS (OpenSSL reads and
	 * writes with read(2)/write(2), IO group).  Protocol 0 only: no
	 * ICMP ping sockets; no bind, listen or socket option to set.
	 */
	ALLOWA(PS_SC_DNS, socket, "DNS over UDP, IPv4",
	    EQ(0, AF_INET),
	    ARG(1, SCMP_CMP_MASKED_EQ, 0xff, SOCK_DGRAM),
	    EQ(2, 0)),
	ALLOWA(PS_SC_DNS, socket, "DNS over UDP, IPv6",
	    EQ(0, AF_INET6),
	    ARG(1, SCMP_CMP_MASKED_EQ, 0xff, SOCK_DGRAM),
	    EQ(2, 0)),
	ALLOWA(PS_SC_DNS, socket, "DNS over TCP or TLS, IPv4",
	    EQ(0, AF_INET),
	    ARG(1, SCMP_CMP_MASKED_EQ, 0xff, SOCK_STREAM),
	    EQ(2, 0)),
	ALLOWA(PS_SC_DNS, socket, "DNS over TCP or TLS, IPv6",
	    EQ(0, AF_INET6),
	    ARG(1, SCMP_CMP_MASKED_EQ, 0xff, SOCK_STREAM),
	    EQ(2, 0)),
	ALLOW(PS_SC_DNS, connect, "to the server: fixes the source port, "
	    "filters the answers' source"),
	ALLOWA(PS_SC_DNS, getsockopt, "SO_ERROR: a TCP connect's outcome",
	    EQ(1, SOL_SOCKET),
	    EQ(2, SO_ERROR)),
	ALLOWA(PS_SC_DNS, sendto, "DNS questions over UDP, no flags",
	    EQ(3, 0)),
	ALLOWA(PS_SC_DNS, recvfrom, "DNS answers over UDP, no flags",
	    EQ(3, 0)),

#ifdef EGRESSD_SANITIZE
	/*
	 * --- Sanitizer build only: what ASan/UBSan's runtime does at
	 * run time and when it reports.  Never in a production build.
	 */
	ALLOW(ANY, sigaltstack, "sanitizer: alternate signal stack"),
	ALLOW(ANY, rt_sigaction, "sanitizer: deadly signal handlers"),
	ALLOW(ANY, gettid, "sanitizer: reports"),
	ALLOW(ANY, tgkill, "sanitizer: abort after a report"),
	ALLOW(ANY, sched_yield, "sanitizer: spin locks"),
	ALLOW(ANY, readlink, "sanitizer: symbolizing a report"),
	ALLOW(ANY, readlinkat, "sanitizer: symbolizing a report"),
	ALLOW(ANY, openat, "sanitizer: /proc/self/maps (fails in chroot)"),
	ALLOW(ANY, prctl, "sanitizer: reading dumpable state"),
	ALLOW(ANY, getrlimit, "sanitizer: stack size"),
	ALLOW(ANY, prlimit64, "sanitizer: stack size"),
#endif
};

/*
 * Load the filter made of groups.  Called last, right before the event
 * loop runs; every failure is fatal because running unfiltered is worse
 * than not running.
 */
void
ps_sandbox(const char *role, uint32_t groups)
{
	scmp_filter_ctx	 ctx;
	size_t		 i;
	unsigned int	 argc;
	int		 rv, n = 0;

	if ((ctx = seccomp_init(PS_SECCOMP_DEFAULT)) == NULL)
		fatalx("%s: seccomp_init failed", role);
	for (i = 0; i < sizeof(ps_rules) / sizeof(ps_rules[0]); i++) {
		const struct ps_rule	*r = &ps_rules[i];

		if ((r->groups & groups) == 0)
			continue;
		for (argc = 0; argc < 3 && r->arg[argc].op != 0; argc++)
			;
		rv = seccomp_rule_add_array(ctx,
		    r->action ? r->action : SCMP_ACT_ALLOW, r->nr, argc,
		    r->arg);
		if (rv != 0)
			fatalx("%s: seccomp rule %zu (syscall %d): %s", role,
			    i, r->nr, strerror(-rv));
		n++;
	}
	if ((rv = seccomp_load(ctx)) != 0)
		fatalx("%s: seccomp_load: %s", role, strerror(-rv));
	seccomp_release(ctx);
	log_debug("%s: seccomp allowlist loaded, %d rules", role, n);
}
