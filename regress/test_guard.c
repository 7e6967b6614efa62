/*
 * Unit tests for src/guard.c (what a worker may dial) and for
 * egd_cidr_private() in src/addr.c (what "allow private { }" may name).
 * Run by make check as one ordinary process that speaks TAP on stdout.
 * The configuration is built by hand: this host's addresses, the
 * addresses and ports it listens on (one exact, one IPv4 wildcard, one
 * IPv6 listener), and one service of each kind of "allow private".
 * Each table line is one dial and the verdict it must get.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "egressd.h"
#include "audit.h"
#include "tap.h"

static struct egressd_conf	 conf;
static struct service		 svc_none, svc_all, svc_nets, svc_wide;
static struct egd_cidr		 nets_nets[EGD_MAX_CIDRS];
static struct egd_cidr		 nets_wide[EGD_MAX_CIDRS];

static struct egd_addr
addr(const char *s)
{
	struct egd_addr	a;

	if (egd_addr_parse(s, &a) == -1) {
		printf("Bail out! bad address in the test: %s\n", s);
		exit(1);
	}
	return a;
}

/* A network for s, into its array (svc_nets's or svc_wide's). */
static void
net(struct service *s, const char *text)
{
	if (s->private_nets == NULL)
		s->private_nets = s == &svc_nets ? nets_nets : nets_wide;
	if (s->nprivate_nets >= EGD_MAX_CIDRS ||
	    egd_cidr_parse(text, &s->private_nets[s->nprivate_nets++]) ==
	    -1) {
		printf("Bail out! bad network in the test: %s\n", text);
		exit(1);
	}
	s->allow_private = PRIV_NETS;
}

static struct egd_addr		 own[4];
static struct egd_sockname	 listens[4];

static void
setup(void)
{
	own[0] = addr("127.0.0.1");
	own[1] = addr("203.0.113.5");		/* public, ours */
	own[2] = addr("10.20.0.5");
	own[3] = addr("::1");
	conf.ownaddrs = own;
	conf.nownaddrs = 4;
	listens[0].a = addr("127.0.0.1");	/* a gateway's listener */
	listens[0].port = 8080;
	listens[1].a = addr("0.0.0.0");		/* a wildcard one */
	listens[1].port = 3128;
	listens[2].a = addr("::1");		/* metrics, IPv6 */
	listens[2].port = 9100;
	listens[3].a = addr("203.0.113.5");
	listens[3].port = 443;
	conf.listens = listens;
	conf.nlistens = 4;

	svc_all.allow_private = PRIV_ALL;
	net(&svc_nets, "127.0.0.0/8");
	net(&svc_nets, "10.20.0.5/32");
	net(&svc_nets, "192.168.7.0/24");
	net(&svc_nets, "fd00:1::/32");
	net(&svc_nets, "::ffff:172.16.9.0/120");
	net(&svc_wide, "10.0.0.0/8");
}

static const struct {
	const struct service	*svc;
	const char		*addr;
	int			 port;
	int			 want;
	const char		*what;
} dials[] = {
	/* loops: whatever the service allows */
	{ &svc_all, "127.0.0.1", 8080, AR_LOOP, "a gateway's listener" },
	{ &svc_nets, "127.0.0.1", 8080, AR_LOOP, "the same, listed" },
	{ &svc_none, "127.0.0.1", 8080, AR_LOOP,
	    "the same: loop before private" },
	{ &svc_all, "::ffff:127.0.0.1", 8080, AR_LOOP,
	    "the same, IPv4-mapped" },
	{ &svc_all, "0.0.0.0", 8080, AR_LOOP,
	    "0.0.0.0 on a listener's port (the kernel dials this host)" },
	{ &svc_all, "127.0.0.2", 8080, AR_NONE,
	    "another loopback address on that port: no listener" },
	{ &svc_all, "127.0.0.1", 8081, AR_NONE, "another port" },
	{ &svc_all, "127.0.0.9", 3128, AR_LOOP,
	    "a wildcard listener through any loopback address" },
	{ &svc_all, "10.20.0.5", 3128, AR_LOOP,
	    "a wildcard listener through an own address" },
	{ &svc_all, "203.0.113.5", 3128, AR_LOOP,
	    "a wildcard listener through an own public address" },
	{ &svc_all, "0.0.0.0", 3128, AR_LOOP,
	    "a wildcard listener through 0.0.0.0" },
	{ &svc_all, "10.20.0.6", 3128, AR_NONE,
	    "another host on the wildcard's port" },
	{ &svc_all, "::1", 3128, AR_NONE,
	    "IPv6 loopback on an IPv4 wildcard's port (V6ONLY)" },
	{ &svc_all, "::1", 9100, AR_LOOP, "the metrics listener" },
	{ &svc_all, "::", 9100, AR_LOOP, ":: on the metrics port" },
	{ &svc_none, "203.0.113.5", 443, AR_LOOP,
	    "a listener on a public address" },
	/* private, nothing allowed */
	{ &svc_none, "198.51.100.7", 80, AR_NONE, "a public address" },
	{ &svc_none, "10.1.2.3", 80, AR_PRIVATE_ADDRESS, "RFC 1918" },
	{ &svc_none, "203.0.113.5", 80, AR_PRIVATE_ADDRESS,
	    "an own public address" },
	{ &svc_none, "::ffff:10.1.2.3", 80, AR_PRIVATE_ADDRESS,
	    "RFC 1918, IPv4-mapped" },
	/* allow private */
	{ &svc_all, "10.1.2.3", 80, AR_NONE, "allow private: RFC 1918" },
	{ &svc_all, "127.0.0.1", 80, AR_NONE,
	    "allow private: an own address on a port nobody listens on" },
	{ &svc_all, "203.0.113.5", 80, AR_NONE,
	    "allow private: an own public address" },
	/* allow private { ... } */
	{ &svc_nets, "127.0.0.5", 80, AR_NONE, "a listed network" },
	{ &svc_nets, "192.168.7.200", 80, AR_NONE, "another listed network" },
	{ &svc_nets, "192.168.8.1", 80, AR_PRIVATE_ADDRESS,
	    "a private address outside the list" },
	{ &svc_nets, "10.1.2.3", 80, AR_PRIVATE_ADDRESS,
	    "RFC 1918 outside the list" },
	{ &svc_nets, "198.51.100.7", 80, AR_NONE,
	    "a public address needs no allowance" },
	{ &svc_nets, "127.0.0.1", 80, AR_PRIVATE_ADDRESS,
	    "an own address in a listed /8: the own-address rule is more "
	    "specific" },
	{ &svc_nets, "10.20.0.5", 80, AR_NONE,
	    "an own address listed as a /32: as specific, the list wins" },
	{ &svc_nets, "203.0.113.5", 80, AR_PRIVATE_ADDRESS,
	    "an own public address: no list can name it" },
	{ &svc_nets, "fd00:1:2::3", 80, AR_NONE, "a listed IPv6 network" },
	{ &svc_nets, "fd00:2::3", 80, AR_PRIVATE_ADDRESS,
	    "unique-local outside the list" },
	{ &svc_nets, "172.16.9.7", 80, AR_NONE,
	    "an IPv4 address in a listed IPv4-mapped network" },
	{ &svc_nets, "::ffff:192.168.7.1", 80, AR_NONE,
	    "an IPv4-mapped address in a listed IPv4 network" },
	{ &svc_nets, "::ffff:172.16.10.1", 80, AR_PRIVATE_ADDRESS,
	    "an IPv4-mapped address outside the list" },
	{ &svc_nets, "64:ff9b::c0a8:701", 80, AR_PRIVATE_ADDRESS,
	    "the NAT64 form of a listed address is not listed" },
	{ &svc_wide, "10.20.0.5", 80, AR_PRIVATE_ADDRESS,
	    "an own address in a listed /8" },
	{ &svc_wide, "10.20.0.6", 80, AR_NONE, "its neighbour" },
	{ &svc_wide, "10.20.0.5", 3128, AR_LOOP,
	    "a listed network holding a wildcard listener's address" },
};

static const struct {
	const char	*net;
	const char	*want;		/* NULL: not wholly private */
} nets[] = {
	{ "10.0.0.0/8", "rfc1918" },
	{ "10.1.2.0/24", "rfc1918" },
	{ "10.1.2.3/32", "rfc1918" },
	{ "10.0.0.0/7", NULL },
	{ "0.0.0.0/0", NULL },
	{ "8.8.8.0/24", NULL },
	{ "172.0.0.0/11", NULL },
	{ "172.16.0.0/12", "rfc1918" },
	{ "127.0.0.0/8", "loopback" },
	{ "224.0.0.0/3", NULL },		/* two ranges, not one */
	{ "255.255.255.255/32", "broadcast" },
	{ "fd00::/8", "ula" },
	{ "fc00::/6", NULL },
	{ "::1/128", "loopback" },
	{ "::/128", "unspecified" },
	{ "::/96", NULL },
	{ "::ffff:10.0.0.0/104", "v4-mapped rfc1918" },
	{ "::ffff:0.0.0.0/96", NULL },
	{ "::ffff:8.8.8.0/120", NULL },
	{ "64:ff9b::a00:0/104", "nat64 rfc1918" },
	{ "64:ff9b::/96", NULL },
	{ "2002:a00::/24", "6to4 rfc1918" },
	{ "2002::/16", NULL },
	{ "2001::/32", NULL },			/* Teredo: two */
	{ "2001:db8::/32", NULL },
};

int
main(void)
{
	struct egd_cidr	 c;
	struct egd_addr	 a;
	const char	*got;
	size_t		 i;
	int		 rv;

	setup();
	for (i = 0; i < nitems(dials); i++) {
		a = addr(dials[i].addr);
		rv = guard_dial(&conf, dials[i].svc, &a,
		    (uint16_t)dials[i].port);
		ok(rv == dials[i].want, "%s port %d: %s (%s)", dials[i].addr,
		    dials[i].port, audit_reason_name(dials[i].want),
		    dials[i].what);
	}
	for (i = 0; i < nitems(nets); i++) {
		if (egd_cidr_parse(nets[i].net, &c) == -1) {
			ok(0, "%s parses", nets[i].net);
			continue;
		}
		got = egd_cidr_private(&c);
		ok((got == NULL && nets[i].want == NULL) || (got != NULL &&
		    nets[i].want != NULL && strcmp(got, nets[i].want) == 0),
		    "%s is %s%s", nets[i].net, nets[i].want ? "within " :
		    "not wholly private", nets[i].want ? nets[i].want : "");
	}
	return tap_done();
}
