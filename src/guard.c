/*
 * The dial guard, run in the workers: whether a service's request may
 * connect to an address and port.  Every dial asks it, retries and
 * reconnections included (worker_http.c filters a destination's
 * addresses with it before the first dial, worker_relay.c asks again
 * before each connect).  Two rules, in this order:
 *
 *  - loop: never an address and port this daemon listens on (its
 *    gateways' listeners and the metrics listener), nor one that reaches
 *    a wildcard listener (one of this host's addresses, loopback, or the
 *    unspecified address, on that port).  Nothing relaxes it: a request
 *    that reached us again would recurse until a resource ran out.
 *  - private: an address in a non-public range (addr.c) or one of this
 *    host's own is refused unless the service allows it: "allow private"
 *    allows all of them, "allow private { network ... }" those networks.
 *    The most specific rule decides: a network, always within a private
 *    range (the parser sees to it), is more specific than its range and
 *    wins; one of this host's own addresses is a rule of its own, as
 *    specific as an address can be, and only a network of that one
 *    address (a /32 or /128) allows it.
 *
 * A pure function of the configuration: this host's addresses and the
 * listening ones come with each generation (conf_wire.c).
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <string.h>

#include "egressd.h"
#include "audit.h"

static int	 guard_own(const struct egressd_conf *,
		    const struct egd_addr *);
static int	 guard_unspecified(const struct egd_addr *);
static int	 guard_local(const struct egressd_conf *,
		    const struct egd_addr *);
static int	 guard_loop(const struct egressd_conf *,
		    const struct egd_addr *, uint16_t);

static int
guard_own(const struct egressd_conf *conf, const struct egd_addr *a)
{
	int	i;

	for (i = 0; i < conf->nownaddrs; i++)
		if (egd_addr_equal(&conf->ownaddrs[i], a))
			return 1;
	return 0;
}

static int
guard_unspecified(const struct egd_addr *a)
{
	static const uint8_t	zero[16];

	return (a->af == AF_INET && memcmp(a->addr, zero, 4) == 0) ||
	    (a->af == AF_INET6 && memcmp(a->addr, zero, 16) == 0);
}

/* Whether a connection to a ends on this host. */
static int
guard_local(const struct egressd_conf *conf, const struct egd_addr *a)
{
	static const uint8_t	v6lo[16] = { [15] = 1 };

	if (guard_unspecified(a) || guard_own(conf, a))
		return 1;
	if (a->af == AF_INET)
		return a->addr[0] == 127;
	return a->af == AF_INET6 && memcmp(a->addr, v6lo, 16) == 0;
}

/*
 * Whether a:port reaches a listener of ours.  IPv6 listeners are
 * IPV6_V6ONLY (parent.c), so only the same family counts.
 */
static int
guard_loop(const struct egressd_conf *conf, const struct egd_addr *a,
    uint16_t port)
{
	const struct egd_sockname	*l;
	int				 i;

	for (i = 0; i < conf->nlistens; i++) {
		l = &conf->listens[i];
		if (l->port != port || l->a.af != a->af)
			continue;
		if (egd_addr_equal(&l->a, a) || guard_unspecified(a))
			return 1;
		if (guard_unspecified(&l->a) && guard_local(conf, a))
			return 1;
	}
	return 0;
}

/*
 * AR_NONE if svc's request may connect to a:port, else the reason:
 * AR_LOOP or AR_PRIVATE_ADDRESS.  An IPv4-mapped address is judged as
 * the IPv4 address the kernel would connect to.
 */
int
guard_dial(const struct egressd_conf *conf, const struct service *svc,
    const struct egd_addr *addr, uint16_t port)
{
	static const uint8_t	 mapped[12] = { [10] = 0xff, [11] = 0xff };
	const struct egd_cidr	*n;
	struct egd_addr		 a = *addr;
	int			 i, own, hostlen;

	if (a.af == AF_INET6 && memcmp(a.addr, mapped, 12) == 0) {
		memmove(a.addr, a.addr + 12, 4);
		memset(a.addr + 4, 0, 12);
		a.af = AF_INET;
	}
	if (a.af != AF_INET && a.af != AF_INET6)
		return AR_PRIVATE_ADDRESS;
	if (guard_loop(conf, &a, port))
		return AR_LOOP;
	own = guard_own(conf, &a);
	if (!own && egd_addr_private(&a) == NULL)
		return AR_NONE;
	if (svc->allow_private == PRIV_ALL)
		return AR_NONE;
	if (svc->allow_private != PRIV_NETS)
		return AR_PRIVATE_ADDRESS;
	hostlen = a.af == AF_INET ? 32 : 128;
	for (i = 0; i < svc->nprivate_nets && i < EGD_MAX_CIDRS; i++) {
		n = &svc->private_nets[i];
		if (!egd_cidr_match(n, &a))
			continue;
		/* A mapped network's length counts the 96 bits before. */
		if (!own || n->prefixlen == hostlen ||
		    (a.af == AF_INET && n->a.af == AF_INET6 &&
		    n->prefixlen == 128))
			return AR_NONE;
	}
	return AR_PRIVATE_ADDRESS;
}
