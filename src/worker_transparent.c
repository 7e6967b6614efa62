/*
 * Transparent listeners, run in the workers.  nftables redirected a
 * client's connection to one of our ports (REDIRECT in the egress host's
 * prerouting chain): the client believes it speaks to its origin and has
 * no proxy setting.  This file reads where the connection was going from
 * the accepted socket (SO_ORIGINAL_DST for IPv4, IP6T_SO_ORIGINAL_DST for
 * IPv6, both answered by the kernel's connection tracking), and tells
 * whether the addresses egressd resolved for the registered name include
 * it.  The original destination only names the port and goes into the
 * audit record: it is never dialed (names bind connections; see the
 * TRANSPARENT MODE section of egressd.conf(5)).
 *
 * Offers tp_accept() to http_accept() and tp_resolved() to
 * http_resolved(); worker_http.c and worker_tls.c read hc->odst.
 * Needs getsockopt(SOL_IP/SOL_IPV6, SO_ORIGINAL_DST) in the worker's
 * seccomp profile (privsep/sandbox.c, group PS_SC_ACCEPT).
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <linux/netfilter_ipv4.h>		/* SO_ORIGINAL_DST */
#include <linux/netfilter_ipv6/ip6_tables.h>	/* IP6T_SO_ORIGINAL_DST */

#include <errno.h>
#include <string.h>

#include "worker.h"

/*
 * The original destination of an accepted connection, into hc->odst.
 * A connection that was not redirected (the kernel has no translation
 * for it, or the answer is the listener's own address) is marked so and
 * refused when it speaks: a transparent listener is no proxy that
 * clients may choose.
 */
void
tp_accept(struct hconn *hc, int fd)
{
	struct sockaddr_storage	 ss, local;
	struct egd_addr		 la;
	socklen_t		 len = sizeof(ss), llen = sizeof(local);
	uint16_t		 lport;
	int			 r;

	hc->odst_ok = 0;
	memset(&ss, 0, sizeof(ss));
	if (hc->caddr.af == AF_INET6)
		r = getsockopt(fd, SOL_IPV6, IP6T_SO_ORIGINAL_DST, &ss, &len);
	else	/* IPv4, also as ::ffff:a.b.c.d on a dual-stack socket */
		r = getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, &ss, &len);
	if (r == -1) {
		log_debug("transparent: no original destination: %s",
		    strerror(errno));
		return;
	}
	if ((ss.ss_family != AF_INET || len < sizeof(struct sockaddr_in)) &&
	    (ss.ss_family != AF_INET6 || len < sizeof(struct sockaddr_in6)))
		return;
	egd_addr_from_sa((struct sockaddr *)&ss, &hc->odst, &hc->odport);
	if (getsockname(fd, (struct sockaddr *)&local, &llen) == -1)
		return;
	egd_addr_from_sa((struct sockaddr *)&local, &la, &lport);
	if (lport == hc->odport && egd_addr_equal(&la, &hc->odst)) {
		log_debug("transparent: connection not redirected");
		return;
	}
	hc->odst_ok = 1;
}

/*
 * The addresses the registered name resolved to (or its static
 * endpoints) are in hc->addrs: is the original destination among them?
 * Only recorded; what is dialed stays what was resolved.
 */
void
tp_resolved(struct hconn *hc)
{
	int	i;

	if (!hc->odst_ok)
		return;
	hc->odst_match = TP_MATCH_NO;
	for (i = 0; i < hc->naddrs; i++)
		if (egd_addr_equal(&hc->addrs[i], &hc->odst))
			hc->odst_match = TP_MATCH_YES;
}
