/*
 * Unit tests for src/addr.c: address and network parsing, the socket
 * address conversions, network matching, the private-destination table,
 * host names and patterns, and request authorities.  Run by make check as
 * one ordinary unprivileged process that speaks TAP on stdout and exits
 * non-zero on any failure.  The cases are tables, each line one test with
 * both what is accepted and what is refused; a refusal is checked for its
 * exact reason.  Decisions the tables pin down: a CIDR length has no
 * leading zero ("/08" is refused), a bracketed address is accepted in a
 * CIDR, host_valid() accepts all-numeric names (authority_parse() refuses
 * the ambiguous ones itself), a port may have leading zeros within its
 * five digits, and a v4-mapped IPv6 address is not equal to its IPv4 form.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "egressd.h"
#include "tap.h"

/* A string literal and its length, NULs inside included. */
#define B(s)		(s), (sizeof(s) - 1)

static const char *nz(const char *);
static int	 streq(const char *, const char *);
static char	*mkname(char *, size_t, const char *, const int *, int);
static void	 test_addr_parse(void);
static void	 test_cidr_parse(void);
static void	 test_cidr_match(void);
static void	 test_private(void);
static void	 test_sockaddr(void);
static void	 test_host_valid(void);
static void	 test_host_match(void);
static void	 test_authority(void);

static const char *
nz(const char *s)
{
	return s == NULL ? "(null)" : s;
}

/* Equal strings, NULL equal only to NULL. */
static int
streq(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

/*
 * Labels of the given lengths joined by dots, each label made of its
 * letter ('a' for the first, and so on), followed by tail.
 */
static char *
mkname(char *buf, size_t size, const char *tail, const int *lens, int n)
{
	size_t	o = 0;
	int	i;

	for (i = 0; i < n; i++) {
		if (i > 0)
			buf[o++] = '.';
		if (o + (size_t)lens[i] + 2 >= size)
			abort();
		memset(buf + o, 'a' + i, (size_t)lens[i]);
		o += (size_t)lens[i];
	}
	buf[o] = '\0';
	if (strlcat(buf, tail, size) >= size)
		abort();
	return buf;
}

static const struct {
	const char	*in;
	int		 af;		/* 0: refused */
	const char	*text;		/* egd_addr_ntop() of the result */
} addr_cases[] = {
	{ "192.0.2.1",		AF_INET,	"192.0.2.1" },
	{ "0.0.0.0",		AF_INET,	"0.0.0.0" },
	{ "255.255.255.255",	AF_INET,	"255.255.255.255" },
	{ "::",			AF_INET6,	"::" },
	{ "::1",		AF_INET6,	"::1" },
	{ "[::1]",		AF_INET6,	"::1" },
	{ "2001:DB8:0:0::1",	AF_INET6,	"2001:db8::1" },
	{ "[2001:db8::1]",	AF_INET6,	"2001:db8::1" },
	{ "::ffff:192.0.2.1",	AF_INET6,	"::ffff:192.0.2.1" },
	{ "fe80::1",		AF_INET6,	"fe80::1" },
	{ "",			0,		NULL },
	{ "1.2.3",		0,		NULL },
	{ "1.2.3.4.5",		0,		NULL },
	{ "256.1.1.1",		0,		NULL },
	{ "010.1.1.1",		0,		NULL },
	{ "0x7f.0.0.1",		0,		NULL },
	{ "2130706433",		0,		NULL },
	{ " 1.2.3.4",		0,		NULL },
	{ "1.2.3.4 ",		0,		NULL },
	{ "[1.2.3.4]",		0,		NULL },
	{ "[::1",		0,		NULL },
	{ "::1]",		0,		NULL },
	{ "[]",			0,		NULL },
	{ "[[::1]]",		0,		NULL },
	{ "fe80::1%eth0",	0,		NULL },
	{ "[fe80::1%25eth0]",	0,		NULL },
	{ "1.2.3.4/32",		0,		NULL },
	{ "example.com",	0,		NULL },
	{ "::1:",		0,		NULL },
	{ "1:2:3:4:5:6:7:8:9",	0,		NULL },
	{ "[0000:0000:0000:0000:0000:ffff:255.255.255.255]", AF_INET6,
	    "::ffff:255.255.255.255" },
};

static void
test_addr_parse(void)
{
	struct egd_addr	 a, keep;
	char		 buf[INET6_ADDRSTRLEN], small[4];
	size_t		 i;
	int		 rc, good;

	for (i = 0; i < nitems(addr_cases); i++) {
		memset(&a, 0xa5, sizeof(a));
		keep = a;
		rc = egd_addr_parse(addr_cases[i].in, &a);
		if (addr_cases[i].af == 0)
			good = rc == -1 && memcmp(&a, &keep, sizeof(a)) == 0;
		else
			good = rc == 0 && a.af == addr_cases[i].af &&
			    strcmp(egd_addr_ntop(&a, buf, sizeof(buf)),
			    addr_cases[i].text) == 0;
		ok(good, "addr_parse \"%s\" %s %s", addr_cases[i].in,
		    addr_cases[i].af ? "is" : "refused",
		    nz(addr_cases[i].text));
	}
	ok(egd_addr_parse(NULL, &a) == -1, "addr_parse NULL refused");
	memset(buf, 'a', sizeof(buf) - 1);
	buf[sizeof(buf) - 1] = '\0';
	ok(egd_addr_parse(buf, &a) == -1, "addr_parse overlong refused");

	/* An IPv4 address leaves the rest of addr[] zero (memcmp users). */
	memset(&a, 0xff, sizeof(a));
	rc = egd_addr_parse("192.0.2.1", &a);
	memset(&keep, 0, sizeof(keep));
	keep.af = AF_INET;
	keep.addr[0] = 192, keep.addr[2] = 2, keep.addr[3] = 1;
	ok(rc == 0 && memcmp(&a, &keep, sizeof(a)) == 0,
	    "addr_parse IPv4 zeroes the unused bytes");

	egd_addr_parse("2001:db8::1", &a);
	ok(strcmp(egd_addr_ntop(&a, small, sizeof(small)), "?") == 0,
	    "addr_ntop too small a buffer gives \"?\"");
	memset(&a, 0, sizeof(a));
	ok(strcmp(egd_addr_ntop(&a, buf, sizeof(buf)), "?") == 0,
	    "addr_ntop no family gives \"?\"");
}

static const struct {
	const char	*in;
	const char	*net;		/* "addr/len" parsed, NULL: refused */
} cidr_cases[] = {
	{ "10.0.0.0/8",			"10.0.0.0/8" },
	{ "10.1.2.3",			"10.1.2.3/32" },
	{ "10.0.0.0/32",		"10.0.0.0/32" },
	{ "0.0.0.0/0",			"0.0.0.0/0" },
	{ "172.16.0.0/12",		"172.16.0.0/12" },
	{ "192.168.1.128/25",		"192.168.1.128/25" },
	{ "10.0.0.0/7",			"10.0.0.0/7" },
	{ "::1",			"::1/128" },
	{ "::/0",			"::/0" },
	{ "2001:db8::/32",		"2001:db8::/32" },
	{ "2001:DB8:0::/48",		"2001:db8::/48" },
	{ "[2001:db8::]/48",		"2001:db8::/48" },
	{ "fe80::/10",			"fe80::/10" },
	{ "::ffff:10.0.0.0/104",	"::ffff:10.0.0.0/104" },
	{ "2001:db8::1/128",		"2001:db8::1/128" },
	/* host bits set */
	{ "10.1.2.3/16",		NULL },
	{ "192.168.1.1/24",		NULL },
	{ "192.168.1.128/24",		NULL },
	{ "11.0.0.0/7",			NULL },
	{ "2001:db8::1/32",		NULL },
	{ "::1/127",			NULL },
	/* lengths */
	{ "10.0.0.0/33",		NULL },
	{ "::/129",			NULL },
	{ "10.0.0.0/1000",		NULL },
	{ "10.0.0.0/08",		NULL },
	{ "10.0.0.0/00",		NULL },
	{ "10.0.0.0/",			NULL },
	{ "10.0.0.0/-1",		NULL },
	{ "10.0.0.0/+8",		NULL },
	{ "10.0.0.0/ 8",		NULL },
	{ "10.0.0.0/8 ",		NULL },
	{ "10.0.0.0/0x8",		NULL },
	{ "10.0.0.0/8/8",		NULL },
	/* addresses */
	{ "/",				NULL },
	{ "/8",				NULL },
	{ "",				NULL },
	{ "10/8",			NULL },
	{ "10.0.0/24",			NULL },
	{ "010.0.0.0/8",		NULL },
	{ "fe80::%eth0/64",		NULL },
	{ "example.com/24",		NULL },
	{ "[0000:0000:0000:0000:0000:ffff:255.255.255.255]/128",
	    "::ffff:255.255.255.255/128" },
	{ "0000:0000:0000:0000:0000:0000:0000:0000:0000/128", NULL },
};

static void
test_cidr_parse(void)
{
	struct egd_cidr	 c;
	char		 buf[INET6_ADDRSTRLEN], net[INET6_ADDRSTRLEN + 8];
	size_t		 i;
	int		 rc, good;

	for (i = 0; i < nitems(cidr_cases); i++) {
		memset(&c, 0, sizeof(c));
		rc = egd_cidr_parse(cidr_cases[i].in, &c);
		snprintf(net, sizeof(net), "%s/%u",
		    egd_addr_ntop(&c.a, buf, sizeof(buf)), c.prefixlen);
		if (cidr_cases[i].net == NULL)
			good = rc == -1;
		else
			good = rc == 0 && strcmp(net, cidr_cases[i].net) == 0;
		ok(good, "cidr_parse \"%s\" %s %s", cidr_cases[i].in,
		    cidr_cases[i].net ? "is" : "refused",
		    nz(cidr_cases[i].net));
		if (!good)
			printf("# got %d %s\n", rc, net);
	}
	ok(egd_cidr_parse(NULL, &c) == -1, "cidr_parse NULL refused");
}

static const struct {
	const char	*net;
	const char	*addr;
	int		 match;
} match_cases[] = {
	{ "10.0.0.0/8",		"10.0.0.0",		1 },
	{ "10.0.0.0/8",		"10.255.255.255",	1 },
	{ "10.0.0.0/8",		"9.255.255.255",	0 },
	{ "10.0.0.0/8",		"11.0.0.0",		0 },
	{ "172.16.0.0/12",	"172.31.255.255",	1 },
	{ "172.16.0.0/12",	"172.32.0.0",		0 },
	{ "192.168.1.128/25",	"192.168.1.128",	1 },
	{ "192.168.1.128/25",	"192.168.1.255",	1 },
	{ "192.168.1.128/25",	"192.168.1.127",	0 },
	{ "10.1.2.3",		"10.1.2.3",		1 },
	{ "10.1.2.3",		"10.1.2.4",		0 },
	{ "0.0.0.0/0",		"198.51.100.7",		1 },
	{ "0.0.0.0/0",		"2001:db8::1",		0 },
	{ "::/0",		"2001:db8::1",		1 },
	{ "::/0",		"198.51.100.7",		0 },
	{ "2001:db8::/32",	"2001:db8:ffff:ffff::1", 1 },
	{ "2001:db8::/32",	"2001:db9::",		0 },
	{ "2001:db8::/32",	"2001:db7:ffff::",	0 },
	{ "fe80::/10",		"febf:ffff::1",		1 },
	{ "fe80::/10",		"fec0::1",		0 },
	{ "::1",		"::1",			1 },
	{ "::1",		"127.0.0.1",		0 },
	/* a v4-mapped client is its IPv4 address */
	{ "10.0.0.0/8",		"::ffff:10.1.2.3",	1 },
	{ "10.0.0.0/8",		"::ffff:11.1.2.3",	0 },
	{ "10.0.0.0/8",		"::a01:203",		0 },	/* compat */
	{ "::/0",		"::ffff:10.1.2.3",	0 },
	/* a network inside ::ffff:0:0/96 is the IPv4 network it maps */
	{ "::ffff:10.0.0.0/104", "10.1.1.1",		1 },
	{ "::ffff:10.0.0.0/104", "11.1.1.1",		0 },
	{ "::ffff:10.0.0.0/104", "::ffff:10.1.1.1",	1 },
	{ "::ffff:0:0/96",	"198.51.100.7",		1 },
	{ "::ffff:0:0/96",	"2001:db8::1",		0 },
};

static void
test_cidr_match(void)
{
	struct egd_cidr	 c;
	struct egd_addr	 a;
	size_t		 i;
	int		 good;

	for (i = 0; i < nitems(match_cases); i++) {
		good = egd_cidr_parse(match_cases[i].net, &c) == 0 &&
		    egd_addr_parse(match_cases[i].addr, &a) == 0 &&
		    egd_cidr_match(&c, &a) == match_cases[i].match;
		ok(good, "cidr_match %s %s %s", match_cases[i].net,
		    match_cases[i].match ? "holds" : "does not hold",
		    match_cases[i].addr);
	}
	egd_cidr_parse("0.0.0.0/0", &c);
	memset(&a, 0, sizeof(a));
	ok(egd_cidr_match(&c, &a) == 0, "cidr_match no family matches none");
}

/*
 * Each private range: its first and last address, and the addresses just
 * outside.  NULL: public.
 */
static const struct {
	const char	*addr;
	const char	*why;
} private_cases[] = {
	{ "0.0.0.0",		"unspecified" },
	{ "0.255.255.255",	"unspecified" },
	{ "1.0.0.0",		NULL },
	{ "9.255.255.255",	NULL },
	{ "10.0.0.0",		"rfc1918" },
	{ "10.255.255.255",	"rfc1918" },
	{ "11.0.0.0",		NULL },
	{ "100.63.255.255",	NULL },
	{ "100.64.0.0",		"cgnat" },
	{ "100.127.255.255",	"cgnat" },
	{ "100.128.0.0",	NULL },
	{ "126.255.255.255",	NULL },
	{ "127.0.0.0",		"loopback" },
	{ "127.0.0.1",		"loopback" },
	{ "127.255.255.255",	"loopback" },
	{ "128.0.0.0",		NULL },
	{ "169.253.255.255",	NULL },
	{ "169.254.0.0",	"link-local" },
	{ "169.254.169.254",	"link-local" },
	{ "169.254.255.255",	"link-local" },
	{ "169.255.0.0",	NULL },
	{ "172.15.255.255",	NULL },
	{ "172.16.0.0",		"rfc1918" },
	{ "172.31.255.255",	"rfc1918" },
	{ "172.32.0.0",		NULL },
	{ "191.255.255.255",	NULL },
	{ "192.0.0.0",		"reserved" },
	{ "192.0.0.255",	"reserved" },
	{ "192.0.1.0",		NULL },
	{ "192.0.2.1",		NULL },		/* documentation */
	{ "192.167.255.255",	NULL },
	{ "192.168.0.0",	"rfc1918" },
	{ "192.168.255.255",	"rfc1918" },
	{ "192.169.0.0",	NULL },
	{ "198.17.255.255",	NULL },
	{ "198.18.0.0",		"reserved" },
	{ "198.19.255.255",	"reserved" },
	{ "198.20.0.0",		NULL },
	{ "198.51.100.1",	NULL },		/* documentation */
	{ "203.0.113.1",	NULL },		/* documentation */
	{ "8.8.8.8",		NULL },
	{ "223.255.255.255",	NULL },
	{ "224.0.0.0",		"multicast" },
	{ "239.255.255.255",	"multicast" },
	{ "240.0.0.0",		"reserved" },
	{ "255.255.255.254",	"reserved" },
	{ "255.255.255.255",	"broadcast" },

	{ "::",			"unspecified" },
	{ "::1",		"loopback" },
	{ "::2",		"v4-compatible unspecified" },
	{ "::127.0.0.1",	"v4-compatible loopback" },
	{ "::10.0.0.1",		"v4-compatible rfc1918" },
	{ "::198.51.100.1",	NULL },
	{ "::ffff:127.0.0.1",	"v4-mapped loopback" },
	{ "::ffff:10.0.0.1",	"v4-mapped rfc1918" },
	{ "::ffff:169.254.169.254", "v4-mapped link-local" },
	{ "::ffff:0.0.0.0",	"v4-mapped unspecified" },
	{ "::ffff:255.255.255.255", "v4-mapped broadcast" },
	{ "::ffff:198.51.100.1", NULL },
	{ "::fffe:ffff:ffff",	NULL },		/* between the two /96 */
	{ "::1:0:0:0",		NULL },		/* past ::ffff:0:0/96 */
	{ "64:ff9b::10.0.0.1",	"nat64 rfc1918" },
	{ "64:ff9b::7f00:1",	"nat64 loopback" },
	{ "64:ff9b::100.64.0.1", "nat64 cgnat" },
	{ "64:ff9b::198.51.100.1", NULL },
	{ "64:ff9b::1:0:0",	NULL },		/* past 64:ff9b::/96 */
	{ "64:ff9a:ffff:ffff:ffff:ffff:ffff:ffff", NULL },
	{ "64:ff9b:1::",	"nat64-local" },
	{ "64:ff9b:1:ffff:ffff:ffff:ffff:ffff", "nat64-local" },
	{ "64:ff9b:2::",	NULL },
	{ "2002:a00:1::",	"6to4 rfc1918" },
	{ "2002:7f00:1::1",	"6to4 loopback" },
	{ "2002:a9fe:a9fe::",	"6to4 link-local" },
	{ "2002:c633:6401::1",	NULL },		/* 198.51.100.1 */
	{ "2001:ffff::1",	NULL },
	{ "2003::1",		NULL },
	/* Teredo: 2001:0:server:flags:port:~client */
	{ "2001:0:c633:6401::3f57:fefe", "teredo rfc1918" },	/* client */
	{ "2001:0:c633:6401::80ff:fffe", "teredo loopback" },	/* client */
	{ "2001:0:a00:1::39cc:9bfe",	"teredo rfc1918" },	/* server */
	{ "2001:0:a9fe:a9fe::39cc:9bfe", "teredo link-local" },	/* server */
	{ "2001:0:c633:6401::39cc:9bfe", NULL },	/* both public */
	{ "2001:0:c633:6401::",	"teredo broadcast" },	/* ~0: all ones */
	{ "2001:1::1",		NULL },
	{ "100::",		"discard" },
	{ "100::ffff:ffff:ffff:ffff", "discard" },
	{ "100:0:0:1::",	NULL },
	{ "ff::",		NULL },
	{ "fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", NULL },
	{ "fc00::",		"ula" },
	{ "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "ula" },
	{ "fe00::",		NULL },
	{ "fe7f:ffff:ffff:ffff:ffff:ffff:ffff:ffff", NULL },
	{ "fe80::",		"link-local" },
	{ "febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "link-local" },
	{ "fec0::",		"site-local" },
	{ "feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "site-local" },
	{ "ff00::",		"multicast" },
	{ "ff02::1",		"multicast" },
	{ "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "multicast" },
	{ "2001:db8::1",	NULL },		/* documentation */
	{ "2606:4700::1111",	NULL },
};

static void
test_private(void)
{
	struct egd_addr	 a;
	const char	*why = "(unparsed)";
	size_t		 i;
	int		 good;

	for (i = 0; i < nitems(private_cases); i++) {
		good = egd_addr_parse(private_cases[i].addr, &a) == 0 &&
		    streq(why = egd_addr_private(&a), private_cases[i].why);
		ok(good, "private %s: %s", private_cases[i].addr,
		    private_cases[i].why ? private_cases[i].why : "public");
		if (!good)
			printf("# got %s\n", nz(why));
	}
	memset(&a, 0, sizeof(a));
	ok(streq(egd_addr_private(&a), "unspecified"),
	    "private no family: unspecified");
}

static void
test_sockaddr(void)
{
	struct sockaddr_storage	 ss;
	struct sockaddr_in	 sin;
	struct sockaddr_in6	 sin6;
	struct sockaddr_un	 sun;
	struct egd_addr		 a, b;
	struct egd_cidr		 c;
	char			 buf[INET6_ADDRSTRLEN];
	socklen_t		 len;
	uint16_t		 port;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(8080);
	inet_pton(AF_INET, "192.0.2.1", &sin.sin_addr);
	egd_addr_from_sa((struct sockaddr *)&sin, &a, &port);
	ok(a.af == AF_INET && port == 8080 &&
	    strcmp(egd_addr_ntop(&a, buf, sizeof(buf)), "192.0.2.1") == 0,
	    "from_sa IPv4 192.0.2.1 port 8080");

	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	sin6.sin6_port = htons(443);
	inet_pton(AF_INET6, "2001:db8::1", &sin6.sin6_addr);
	egd_addr_from_sa((struct sockaddr *)&sin6, &a, &port);
	ok(a.af == AF_INET6 && port == 443 &&
	    strcmp(egd_addr_ntop(&a, buf, sizeof(buf)), "2001:db8::1") == 0,
	    "from_sa IPv6 2001:db8::1 port 443");

	/* A dual-stack socket's IPv4 client. */
	inet_pton(AF_INET6, "::ffff:10.1.2.3", &sin6.sin6_addr);
	sin6.sin6_port = htons(40000);
	egd_addr_from_sa((struct sockaddr *)&sin6, &a, &port);
	egd_addr_parse("10.1.2.3", &b);
	ok(a.af == AF_INET && port == 40000 && egd_addr_equal(&a, &b),
	    "from_sa v4-mapped ::ffff:10.1.2.3 becomes IPv4 10.1.2.3");
	egd_cidr_parse("10.0.0.0/8", &c);
	ok(egd_cidr_match(&c, &a) == 1,
	    "from_sa v4-mapped client matches 10.0.0.0/8");
	egd_cidr_parse("::/0", &c);
	ok(egd_cidr_match(&c, &a) == 0,
	    "from_sa v4-mapped client does not match ::/0");

	/* ::a01:203 is v4-compatible, not mapped: it stays IPv6. */
	inet_pton(AF_INET6, "::a01:203", &sin6.sin6_addr);
	egd_addr_from_sa((struct sockaddr *)&sin6, &a, NULL);
	ok(a.af == AF_INET6, "from_sa v4-compatible stays IPv6, port NULL");

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	port = 1;
	egd_addr_from_sa((struct sockaddr *)&sun, &a, &port);
	ok(a.af == 0 && port == 0, "from_sa AF_UNIX gives no family");

	egd_addr_parse("192.0.2.1", &a);
	len = egd_addr_to_sa(&a, 8080, &ss);
	memcpy(&sin, &ss, sizeof(sin));
	ok(len == sizeof(sin) && sin.sin_family == AF_INET &&
	    ntohs(sin.sin_port) == 8080 &&
	    memcmp(&sin.sin_addr, a.addr, 4) == 0,
	    "to_sa IPv4 192.0.2.1 port 8080");
	egd_addr_from_sa((struct sockaddr *)&ss, &b, &port);
	ok(egd_addr_equal(&a, &b) && port == 8080, "to_sa IPv4 round trip");

	egd_addr_parse("2001:db8::1", &a);
	len = egd_addr_to_sa(&a, 443, &ss);
	memcpy(&sin6, &ss, sizeof(sin6));
	ok(len == sizeof(sin6) && sin6.sin6_family == AF_INET6 &&
	    ntohs(sin6.sin6_port) == 443 && sin6.sin6_scope_id == 0 &&
	    memcmp(&sin6.sin6_addr, a.addr, 16) == 0,
	    "to_sa IPv6 2001:db8::1 port 443");
	egd_addr_from_sa((struct sockaddr *)&ss, &b, &port);
	ok(egd_addr_equal(&a, &b) && port == 443, "to_sa IPv6 round trip");

	memset(&a, 0, sizeof(a));
	ok(egd_addr_to_sa(&a, 80, &ss) == 0, "to_sa no family gives 0");

	egd_addr_parse("192.0.2.1", &a);
	egd_addr_parse("192.0.2.1", &b);
	ok(egd_addr_equal(&a, &b) == 1, "equal 192.0.2.1 192.0.2.1");
	egd_addr_parse("192.0.2.2", &b);
	ok(egd_addr_equal(&a, &b) == 0, "not equal 192.0.2.1 192.0.2.2");
	egd_addr_parse("::ffff:192.0.2.1", &b);
	ok(egd_addr_equal(&a, &b) == 0,
	    "not equal 192.0.2.1 ::ffff:192.0.2.1 (families differ)");
	egd_addr_parse("::1", &a);
	egd_addr_parse("[::1]", &b);
	ok(egd_addr_equal(&a, &b) == 1, "equal ::1 [::1]");
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	ok(egd_addr_equal(&a, &b) == 0, "not equal: no family");
}

static const struct {
	const char	*name;
	int		 wildcard;
	const char	*err;		/* NULL: valid */
} host_cases[] = {
	{ "a",			0, NULL },
	{ "example.com",	0, NULL },
	{ "a-b.c-d.example",	0, NULL },
	{ "xn--bcher-kva.example", 0, NULL },
	{ "a1.2b.3",		0, NULL },
	{ "192.0.2.1",		0, NULL },	/* numeric: callers decide */
	{ "*.example.com",	1, NULL },
	{ "*.com",		1, NULL },
	{ "example.com",	1, NULL },
	{ "",			0, "empty label" },
	{ ".",			0, "empty label" },
	{ ".a",			0, "empty label" },
	{ "a..b",		0, "empty label" },
	{ "a.",			0, "empty label" },
	{ "*..a",		1, "empty label" },
	{ "A.com",		0, "invalid character" },
	{ "a.coM",		0, "invalid character" },
	{ "a_b.com",		0, "invalid character" },
	{ "a b.com",		0, "invalid character" },
	{ "a/b",		0, "invalid character" },
	{ "a:80",		0, "invalid character" },
	{ "\xc3\xa9.com",	0, "invalid character" },
	{ "a\tb",		0, "invalid character" },
	{ "-a.com",		0, "hyphen at label edge" },
	{ "a-.com",		0, "hyphen at label edge" },
	{ "a.-com",		0, "hyphen at label edge" },
	{ "a.com-",		0, "hyphen at label edge" },
	{ "-",			0, "hyphen at label edge" },
	{ "*.-a.com",		1, "hyphen at label edge" },
	{ "*.example.com",	0, "bad wildcard" },
	{ "*",			1, "bad wildcard" },
	{ "*.",			1, "bad wildcard" },
	{ "*a.com",		1, "bad wildcard" },
	{ "a*.com",		1, "bad wildcard" },
	{ "a.*.com",		1, "bad wildcard" },
	{ "*.*.com",		1, "bad wildcard" },
	{ "**.com",		1, "bad wildcard" },
	{ "a.com.*",		1, "bad wildcard" },
};

static void
test_host_valid(void)
{
	char		 name[400];
	const char	*err;
	size_t		 i;
	int		 rc, good;
	static const int l63[] = { 63, 3 }, l64[] = { 64, 3 };
	static const int n253[] = { 63, 63, 63, 61 };
	static const int n254[] = { 63, 63, 63, 62 };
	static const int w253[] = { 1, 63, 63, 63, 59 };
	static const int w254[] = { 1, 63, 63, 63, 60 };

	for (i = 0; i < nitems(host_cases); i++) {
		err = NULL;
		rc = host_valid(host_cases[i].name, host_cases[i].wildcard,
		    &err);
		if (host_cases[i].err == NULL)
			good = rc == 0;
		else
			good = rc == -1 && streq(err, host_cases[i].err);
		ok(good, "host_valid \"%s\"%s: %s",
		    tap_show(host_cases[i].name, strlen(host_cases[i].name)),
		    host_cases[i].wildcard ? " wildcard" : "",
		    host_cases[i].err ? host_cases[i].err : "valid");
		if (!good)
			printf("# got %d %s\n", rc, nz(err));
	}

	mkname(name, sizeof(name), "", l63, 2);
	ok(host_valid(name, 0, &err) == 0, "host_valid label of 63: valid");
	mkname(name, sizeof(name), "", l64, 2);
	err = NULL;
	ok(host_valid(name, 0, &err) == -1 && streq(err, "label too long"),
	    "host_valid label of 64: label too long");
	mkname(name, sizeof(name), "", n253, 4);
	ok(strlen(name) == 253 && host_valid(name, 0, &err) == 0,
	    "host_valid name of 253: valid");
	mkname(name, sizeof(name), "", n254, 4);
	err = NULL;
	ok(strlen(name) == 254 && host_valid(name, 0, &err) == -1 &&
	    streq(err, "name too long"), "host_valid name of 254: too long");
	mkname(name, sizeof(name), "", w253, 5);
	name[0] = '*';
	ok(strlen(name) == 253 && host_valid(name, 1, &err) == 0,
	    "host_valid pattern of 253: valid");
	mkname(name, sizeof(name), "", w254, 5);
	name[0] = '*';
	err = NULL;
	ok(strlen(name) == 254 && host_valid(name, 1, &err) == -1 &&
	    streq(err, "name too long"), "host_valid pattern of 254: too long");
	ok(host_valid(NULL, 0, &err) == -1, "host_valid NULL refused");
	ok(host_valid("a..b", 0, NULL) == -1, "host_valid err may be NULL");
}

static const struct {
	const char	*pattern;
	const char	*host;
	int		 match;
} hmatch_cases[] = {
	{ "example.com",	"example.com",		1 },
	{ "example.com",	"www.example.com",	0 },
	{ "example.com",	"example.co",		0 },
	{ "example.com",	"example.comx",		0 },
	{ "example.com",	"Example.com",		0 },
	{ "*.wikipedia.org",	"en.wikipedia.org",	1 },
	{ "*.wikipedia.org",	"a.b.wikipedia.org",	1 },
	{ "*.wikipedia.org",	"wikipedia.org",	0 },
	{ "*.wikipedia.org",	"xwikipedia.org",	0 },
	{ "*.wikipedia.org",	".wikipedia.org",	0 },
	{ "*.wikipedia.org",	"a..wikipedia.org",	0 },
	{ "*.wikipedia.org",	"en.wikipedia.org.evil.example", 0 },
	{ "*.wikipedia.org",	"en.wikipedia.orgx",	0 },
	{ "*.wikipedia.org",	"en.wikipedia.or",	0 },
	{ "*.com",		"a.com",		1 },
	{ "*.com",		"com",			0 },
	{ "*.a.com",		"b.a.com",		1 },
	{ "*.a.com",		"b.ba.com",		0 },
	{ "*",			"a",			0 },
	{ "*.",			"a.",			0 },
	{ "",			"a",			0 },
};

static void
test_host_match(void)
{
	size_t	i;

	for (i = 0; i < nitems(hmatch_cases); i++)
		ok(host_match(hmatch_cases[i].pattern, hmatch_cases[i].host) ==
		    hmatch_cases[i].match, "host_match \"%s\" %s \"%s\"",
		    hmatch_cases[i].pattern,
		    hmatch_cases[i].match ? "matches" : "does not match",
		    hmatch_cases[i].host);
	ok(host_match(NULL, "a") == 0 && host_match("a", NULL) == 0,
	    "host_match NULL matches nothing");
}

struct auth_case {
	const char	*in;
	size_t		 len;
	uint16_t	 defport;
	const char	*host;		/* NULL: refused */
	uint16_t	 port;
	int		 literal;	/* the literal's family, 0: a name */
	const char	*err;		/* the reason when refused */
};

static const struct auth_case auth_cases[] = {
	{ B("example.com"),		80, "example.com", 80, 0, NULL },
	{ B("Example.COM"),		80, "example.com", 80, 0, NULL },
	{ B("example.com."),		80, "example.com", 80, 0, NULL },
	{ B("EXAMPLE.com.:8080"),	80, "example.com", 8080, 0, NULL },
	{ B("example.com:443"),		80, "example.com", 443, 0, NULL },
	{ B("example.com:1"),		80, "example.com", 1, 0, NULL },
	{ B("example.com:65535"),	80, "example.com", 65535, 0, NULL },
	{ B("example.com:00080"),	443, "example.com", 80, 0, NULL },
	{ B("example.com:443"),		0, "example.com", 443, 0, NULL },
	{ B("a.b-c.example:8443"),	80, "a.b-c.example", 8443, 0, NULL },
	{ B("xn--bcher-kva.example"),	443, "xn--bcher-kva.example", 443, 0,
	    NULL },
	{ B("localhost"),		80, "localhost", 80, 0, NULL },
	{ B("123.example"),		80, "123.example", 80, 0, NULL },
	{ B("0x7f.example"),		80, "0x7f.example", 80, 0, NULL },
	{ B("192.0.2.1"),		80, "192.0.2.1", 80, AF_INET, NULL },
	{ B("192.0.2.1:8080"),		80, "192.0.2.1", 8080, AF_INET, NULL },
	{ B("192.0.2.1."),		80, "192.0.2.1", 80, AF_INET, NULL },
	{ B("127.0.0.1"),		80, "127.0.0.1", 80, AF_INET, NULL },
	{ B("0.0.0.0"),			80, "0.0.0.0", 80, AF_INET, NULL },
	{ B("255.255.255.255:1"),	80, "255.255.255.255", 1, AF_INET,
	    NULL },
	{ B("[::1]:443"),		80, "::1", 443, AF_INET6, NULL },
	{ B("[::1]"),			80, "::1", 80, AF_INET6, NULL },
	{ B("[2001:DB8::1]"),		80, "2001:db8::1", 80, AF_INET6, NULL },
	{ B("[2001:db8:0:0:0:0:0:1]:8080"), 80, "2001:db8::1", 8080, AF_INET6,
	    NULL },
	{ B("[::ffff:127.0.0.1]"),	80, "::ffff:127.0.0.1", 80, AF_INET6,
	    NULL },
	/* only len bytes count */
	{ "example.com:80garbage", 14,	443, "example.com", 80, 0, NULL },
	{ "[::1]:8080", 5,		443, "::1", 443, AF_INET6, NULL },

	/* empty parts */
	{ B(""),			80, NULL, 0, 0, "empty host" },
	{ B(":80"),			80, NULL, 0, 0, "empty host" },
	{ B("."),			80, NULL, 0, 0, "empty host" },
	{ B(".:80"),			80, NULL, 0, 0, "empty host" },
	{ B("example.com.."),		80, NULL, 0, 0, "empty label" },
	{ B("example..com"),		80, NULL, 0, 0, "empty label" },
	{ B(".example.com"),		80, NULL, 0, 0, "empty label" },
	{ B("192.0.2.1.."),		80, NULL, 0, 0, "empty label" },
	/* userinfo, percent-encoding */
	{ B("user@example.com"),	80, NULL, 0, 0, "userinfo" },
	{ B("user:pw@example.com"),	80, NULL, 0, 0, "userinfo" },
	{ B("example.com@evil.example"), 80, NULL, 0, 0, "userinfo" },
	{ B("@example.com"),		80, NULL, 0, 0, "userinfo" },
	{ B("example%2ecom"),		80, NULL, 0, 0, "percent-encoding" },
	{ B("[fe80::1%25eth0]"),	80, NULL, 0, 0, "percent-encoding" },
	{ B("[fe80::1%eth0]:80"),	80, NULL, 0, 0, "percent-encoding" },
	/* ports */
	{ B("example.com:0"),		80, NULL, 0, 0, "bad port" },
	{ B("example.com:00000"),	80, NULL, 0, 0, "bad port" },
	{ B("example.com:65536"),	80, NULL, 0, 0, "bad port" },
	{ B("example.com:99999"),	80, NULL, 0, 0, "bad port" },
	{ B("example.com:123456"),	80, NULL, 0, 0, "bad port" },
	{ B("example.com:000080"),	80, NULL, 0, 0, "bad port" },
	{ B("example.com:+80"),		80, NULL, 0, 0, "invalid character" },
	{ B("example.com:-1"),		80, NULL, 0, 0, "bad port" },
	{ B("example.com:0x50"),	80, NULL, 0, 0, "bad port" },
	{ B("example.com:8o"),		80, NULL, 0, 0, "bad port" },
	{ B("example.com:"),		80, NULL, 0, 0, "bad port" },
	{ B("example.com: 80"),		80, NULL, 0, 0, "whitespace" },
	{ B("example.com:80 "),		80, NULL, 0, 0, "whitespace" },
	{ B("192.0.2.1:0"),		80, NULL, 0, 0, "bad port" },
	{ B("[::1]:"),			80, NULL, 0, 0, "bad port" },
	{ B("[::1]:0"),			80, NULL, 0, 0, "bad port" },
	{ B("[::1]:80]"),		80, NULL, 0, 0, "bad port" },
	{ B("example.com"),		0, NULL, 0, 0, "port required" },
	{ B("192.0.2.1"),		0, NULL, 0, 0, "port required" },
	{ B("[::1]"),			0, NULL, 0, 0, "port required" },
	/* IPv6 */
	{ B("::1"),			80, NULL, 0, 0, "unbracketed ipv6" },
	{ B("2001:db8::1"),		80, NULL, 0, 0, "unbracketed ipv6" },
	{ B("::1]"),			80, NULL, 0, 0, "invalid character" },
	{ B("example.com:80:80"),	80, NULL, 0, 0, "unbracketed ipv6" },
	{ B("[::1"),			80, NULL, 0, 0, "bad ipv6 literal" },
	{ B("[::1]x"),			80, NULL, 0, 0, "bad ipv6 literal" },
	{ B("[::1]]"),			80, NULL, 0, 0, "bad ipv6 literal" },
	{ B("[[::1]]"),			80, NULL, 0, 0, "bad ipv6 literal" },
	{ B("[]"),			80, NULL, 0, 0, "bad ipv6 literal" },
	{ B("[]:80"),			80, NULL, 0, 0, "bad ipv6 literal" },
	{ B("[192.0.2.1]"),		80, NULL, 0, 0, "bad ipv6 literal" },
	{ B("[example.com]"),		80, NULL, 0, 0, "bad ipv6 literal" },
	{ B("[::g]"),			80, NULL, 0, 0, "bad ipv6 literal" },
	{ B("[1:2:3:4:5:6:7:8:9]"),	80, NULL, 0, 0, "bad ipv6 literal" },
	{ B("a[::1]"),			80, NULL, 0, 0, "invalid character" },
	{ B("example.com]"),		80, NULL, 0, 0, "invalid character" },
	/* numbers a resolver might read otherwise */
	{ B("127.1"),			80, NULL, 0, 0, "ambiguous address" },
	{ B("127.0.1"),			80, NULL, 0, 0, "ambiguous address" },
	{ B("2130706433"),		80, NULL, 0, 0, "ambiguous address" },
	{ B("2130706433:80"),		80, NULL, 0, 0, "ambiguous address" },
	{ B("0x7f.0.0.1"),		80, NULL, 0, 0, "ambiguous address" },
	{ B("0X7F.0.0.1"),		80, NULL, 0, 0, "ambiguous address" },
	{ B("0x7f000001"),		80, NULL, 0, 0, "ambiguous address" },
	{ B("010.0.0.1"),		80, NULL, 0, 0, "ambiguous address" },
	{ B("192.0.2.01"),		80, NULL, 0, 0, "ambiguous address" },
	{ B("017700000001"),		80, NULL, 0, 0, "ambiguous address" },
	{ B("1.2.3.4.5"),		80, NULL, 0, 0, "ambiguous address" },
	{ B("256.0.0.1"),		80, NULL, 0, 0, "ambiguous address" },
	{ B("1.2.3.1000"),		80, NULL, 0, 0, "ambiguous address" },
	{ B("example.123"),		80, NULL, 0, 0, "ambiguous address" },
	{ B("example.0x1f"),		80, NULL, 0, 0, "ambiguous address" },
	{ B("a.0x"),			80, NULL, 0, 0, "ambiguous address" },
	/* characters */
	{ B("exa mple.com"),		80, NULL, 0, 0, "whitespace" },
	{ B(" example.com"),		80, NULL, 0, 0, "whitespace" },
	{ B("example.com\t"),		80, NULL, 0, 0, "whitespace" },
	{ B("example.com\r\n"),		80, NULL, 0, 0, "control character" },
	{ B("exa\0mple.com"),		80, NULL, 0, 0, "control character" },
	{ B("example.com\0"),		80, NULL, 0, 0, "control character" },
	{ B("\0"),			80, NULL, 0, 0, "control character" },
	{ B("example.com\x7f"),		80, NULL, 0, 0, "control character" },
	{ B("\xc3\xa9xample.com"),	80, NULL, 0, 0, "invalid character" },
	{ B("exa_mple.com"),		80, NULL, 0, 0, "invalid character" },
	{ B("*.example.com"),		80, NULL, 0, 0, "invalid character" },
	{ B("example.com/"),		80, NULL, 0, 0, "invalid character" },
	{ B("example.com?x"),		80, NULL, 0, 0, "invalid character" },
	{ B("a,b.example"),		80, NULL, 0, 0, "invalid character" },
	{ B("a\\b.example"),		80, NULL, 0, 0, "invalid character" },
	{ B("-a.example"),		80, NULL, 0, 0,
	    "hyphen at label edge" },
	{ B("a-.example"),		80, NULL, 0, 0,
	    "hyphen at label edge" },
	{ B("example.com-:80"),		80, NULL, 0, 0,
	    "hyphen at label edge" },
};

/* One authority case: the result, or the reason and cleared outputs. */
static void
auth_check(const struct auth_case *t)
{
	char		 host[EGD_HOST_MAX], text[INET6_ADDRSTRLEN];
	struct egd_addr	 lit;
	const char	*err = NULL;
	uint16_t	 port = 4321;
	int		 rc, isl = -1, good;

	memset(host, 'x', sizeof(host) - 1);
	host[sizeof(host) - 1] = '\0';
	memset(&lit, 0xa5, sizeof(lit));
	rc = authority_parse(t->in, t->len, t->defport, host, sizeof(host),
	    &port, &lit, &isl, &err);
	if (t->host == NULL)
		good = rc == -1 && streq(err, t->err) && host[0] == '\0' &&
		    port == 0 && isl == 0;
	else
		good = rc == 0 && strcmp(host, t->host) == 0 &&
		    port == t->port && isl == (t->literal != 0) &&
		    (t->literal == 0 || (lit.af == t->literal &&
		    strcmp(egd_addr_ntop(&lit, text, sizeof(text)),
		    t->host) == 0));
	ok(good, "authority \"%s\" defport %u: %s", tap_show(t->in, t->len),
	    t->defport, t->host ? t->host : t->err);
	if (!good)
		printf("# got %d host \"%s\" port %u literal %d err %s\n",
		    rc, tap_show(host, strlen(host)), port, isl, nz(err));
}

static void
test_authority(void)
{
	struct auth_case c;
	char		 name[400], want[400], host[8];
	struct egd_addr	 lit;
	const char	*err;
	uint16_t	 port;
	size_t		 i;
	int		 isl, rc;
	static const int l63[] = { 63, 7 }, l64[] = { 64, 7 };
	static const int n253[] = { 63, 63, 63, 61 };
	static const int n254[] = { 63, 63, 63, 62 };

	for (i = 0; i < nitems(auth_cases); i++)
		auth_check(&auth_cases[i]);

	/* Lengths, on names built here. */
	memset(&c, 0, sizeof(c));
	c.defport = 443;
	c.in = name;

	mkname(name, sizeof(name), "", l63, 2);
	c.len = strlen(name), c.host = name, c.port = 443, c.err = NULL;
	auth_check(&c);
	mkname(name, sizeof(name), "", l64, 2);
	c.len = strlen(name), c.host = NULL, c.err = "label too long";
	auth_check(&c);

	mkname(name, sizeof(name), "", n253, 4);
	c.len = strlen(name), c.host = name, c.port = 443, c.err = NULL;
	auth_check(&c);
	/* With its trailing dot and a port: 259 bytes in, 253 out. */
	mkname(want, sizeof(want), "", n253, 4);
	mkname(name, sizeof(name), ".:8443", n253, 4);
	c.len = strlen(name), c.host = want, c.port = 8443, c.err = NULL;
	auth_check(&c);
	c.port = 443;
	mkname(name, sizeof(name), "", n254, 4);
	c.len = strlen(name), c.host = NULL, c.err = "name too long";
	auth_check(&c);
	mkname(name, sizeof(name), ".", n254, 4);
	c.len = strlen(name), c.host = NULL, c.err = "name too long";
	auth_check(&c);
	memset(name, 'a', 300);
	name[300] = '\0';
	c.len = 300, c.host = NULL, c.err = "name too long";
	auth_check(&c);

	/* A host buffer too small is an error, never a truncated name. */
	host[0] = 'x';
	err = NULL;
	rc = authority_parse("example.com", 11, 80, host, sizeof(host), &port,
	    &lit, &isl, &err);
	ok(rc == -1 && streq(err, "name too long") && host[0] == '\0' &&
	    isl == 0 && port == 0,
	    "authority host buffer too small refused");
	rc = authority_parse("a.b", 3, 80, host, sizeof(host), &port,
	    &lit, &isl, NULL);
	ok(rc == 0 && strcmp(host, "a.b") == 0, "authority err may be NULL");
}

int
main(void)
{
	test_addr_parse();
	test_cidr_parse();
	test_cidr_match();
	test_private();
	test_sockaddr();
	test_host_valid();
	test_host_match();
	test_authority();
	return tap_done();
}
