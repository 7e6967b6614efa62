/*
 * Addresses, networks, host names and request authorities, for every
 * process that judges them: the parent's configuration parser (service
 * hosts, "from" networks, static endpoints), the workers (client
 * addresses, Host headers, absolute-URI and CONNECT authorities, the
 * private-destination check) and the helper (the addresses its answers
 * carry).  Everything here is a pure function on caller buffers: no
 * allocation, no logging and no system call, so any sandbox profile
 * allows it and it never fails for lack of a resource.  Input is treated
 * as hostile: lengths are bounded before anything is copied, and what is
 * not exactly one accepted form is refused with a fixed short reason.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdint.h>
#include <string.h>

#include "egressd.h"

#define HOST_NAME_LEN	253	/* a DNS name in text, no trailing dot */
#define HOST_LABEL_LEN	63
#define CIDR_TEXT_LEN	(INET6_ADDRSTRLEN + 2 + 4)	/* "[a]/128" */

static int	 addr_len(int);
static int	 prefix_eq(const uint8_t *, const uint8_t *, int);
static int	 addr_unmap(const struct egd_addr *, struct egd_addr *);
static const char *v4_private(const uint8_t *, int);
static int	 fail(const char **, const char *);
static int	 is_digit(int);
static int	 is_hex(int);
static int	 numeric_label(const char *, size_t);
static int	 dotted_quad(const char *, struct egd_addr *);

/*
 * The ranges that are not public unicast destinations.  The longest
 * matching prefix decides, so the order of the lines does not matter
 * (255.255.255.255 is "broadcast" inside 240/4, ::1 "loopback" inside
 * the v4-compatible ::/96).  Documentation ranges (192.0.2/24,
 * 198.51.100/24, 203.0.113/24, 2001:db8::/32) are deliberately absent:
 * they stand for public addresses in the tests and in examples.
 */
enum v4_why {
	W_UNSPECIFIED = 0,
	W_RFC1918,
	W_CGNAT,
	W_LOOPBACK,
	W_LINKLOCAL,
	W_RESERVED,
	W_MULTICAST,
	W_BROADCAST,
	W_MAX
};

/* Where an IPv6 address carries an IPv4 address that decides for it. */
enum v6_embed {
	E_NONE = 0,	/* the line's own reason */
	E_MAPPED,	/* ::ffff:a.b.c.d, last 32 bits */
	E_COMPAT,	/* ::a.b.c.d, last 32 bits */
	E_NAT64,	/* 64:ff9b::a.b.c.d, last 32 bits */
	E_6TO4,		/* 2002:aabb:ccdd::, bytes 2..5 */
	E_TEREDO,	/* 2001:0:server::~client, bytes 4..7 and 12..15 */
	E_MAX
};

/* Every reason is a fixed string: the IPv4 ones, once per embedding. */
#define WHY(p) {							\
	[W_UNSPECIFIED] = p "unspecified",				\
	[W_RFC1918] =	p "rfc1918",					\
	[W_CGNAT] =	p "cgnat",					\
	[W_LOOPBACK] =	p "loopback",					\
	[W_LINKLOCAL] =	p "link-local",					\
	[W_RESERVED] =	p "reserved",					\
	[W_MULTICAST] =	p "multicast",					\
	[W_BROADCAST] =	p "broadcast",					\
}
static const char *const v4_reasons[E_MAX][W_MAX] = {
	[E_NONE] =	WHY(""),
	[E_MAPPED] =	WHY("v4-mapped "),
	[E_COMPAT] =	WHY("v4-compatible "),
	[E_NAT64] =	WHY("nat64 "),
	[E_6TO4] =	WHY("6to4 "),
	[E_TEREDO] =	WHY("teredo "),
};
#undef WHY

static const struct {
	uint8_t		 net[4];
	uint8_t		 len;
	uint8_t		 why;		/* enum v4_why */
} v4_table[] = {
	{ { 0, 0, 0, 0 },	 8, W_UNSPECIFIED },	/* "this network" */
	{ { 10, 0, 0, 0 },	 8, W_RFC1918 },
	{ { 100, 64, 0, 0 },	10, W_CGNAT },		/* RFC 6598 */
	{ { 127, 0, 0, 0 },	 8, W_LOOPBACK },
	{ { 169, 254, 0, 0 },	16, W_LINKLOCAL },	/* and cloud metadata */
	{ { 172, 16, 0, 0 },	12, W_RFC1918 },
	{ { 192, 0, 0, 0 },	24, W_RESERVED },	/* IETF assignments */
	{ { 192, 168, 0, 0 },	16, W_RFC1918 },
	{ { 198, 18, 0, 0 },	15, W_RESERVED },	/* benchmarking */
	{ { 224, 0, 0, 0 },	 4, W_MULTICAST },
	{ { 240, 0, 0, 0 },	 4, W_RESERVED },
	{ { 255, 255, 255, 255 }, 32, W_BROADCAST },
};

static const struct {
	uint8_t		 net[16];
	uint8_t		 len;
	uint8_t		 embed;		/* enum v6_embed */
	const char	*why;		/* for E_NONE */
} v6_table[] = {
	{ { 0 },				128, E_NONE, "unspecified" },
	{ { [15] = 0x01 },			128, E_NONE, "loopback" },
	{ { 0 },				 96, E_COMPAT, NULL },
	{ { [10] = 0xff, [11] = 0xff },		 96, E_MAPPED, NULL },
	{ { 0x00, 0x64, 0xff, 0x9b },		 96, E_NAT64, NULL },
	{ { 0x00, 0x64, 0xff, 0x9b, 0x00, 0x01 }, 48, E_NONE, "nat64-local" },
	{ { 0x01, 0x00 },			 64, E_NONE, "discard" },
	{ { 0x20, 0x01, 0x00, 0x00 },		 32, E_TEREDO, NULL },
	{ { 0x20, 0x02 },			 16, E_6TO4, NULL },
	{ { 0xfc },				  7, E_NONE, "ula" },
	{ { 0xfe, 0x80 },			 10, E_NONE, "link-local" },
	{ { 0xfe, 0xc0 },			 10, E_NONE, "site-local" },
	{ { 0xff },				  8, E_NONE, "multicast" },
};

/* The bytes of an address of family af, 0 for any other family. */
static int
addr_len(int af)
{
	switch (af) {
	case AF_INET:
		return 4;
	case AF_INET6:
		return 16;
	}
	return 0;
}

/* Whether the first bits of a and b are the same. */
static int
prefix_eq(const uint8_t *a, const uint8_t *b, int bits)
{
	int	n = bits / 8, rest = bits % 8;
	uint8_t	mask;

	if (memcmp(a, b, n) != 0)
		return 0;
	if (rest == 0)
		return 1;
	mask = (uint8_t)(0xff << (8 - rest));
	return (a[n] & mask) == (b[n] & mask);
}

/* Copies a to out, an IPv4-mapped IPv6 address as its IPv4 address. */
static int
addr_unmap(const struct egd_addr *a, struct egd_addr *out)
{
	static const uint8_t	mapped[12] = { [10] = 0xff, [11] = 0xff };

	*out = *a;
	if (a->af != AF_INET6 || memcmp(a->addr, mapped, 12) != 0)
		return 0;
	memset(out, 0, sizeof(*out));
	out->af = AF_INET;
	memcpy(out->addr, a->addr + 12, 4);
	return 1;
}

/* The reason the IPv4 address at p is not public, or NULL. */
static const char *
v4_private(const uint8_t *p, int embed)
{
	size_t	i;
	int	best = -1, bestlen = -1;

	for (i = 0; i < nitems(v4_table); i++)
		if (v4_table[i].len > bestlen &&
		    prefix_eq(p, v4_table[i].net, v4_table[i].len)) {
			best = (int)i;
			bestlen = v4_table[i].len;
		}
	if (best == -1)
		return NULL;
	return v4_reasons[embed][v4_table[best].why];
}

static int
fail(const char **err, const char *why)
{
	if (err != NULL)
		*err = why;
	return -1;
}

/* Locale-free classes: input bytes above 0x7f are never letters here. */
static int
is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static int
is_hex(int c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f');
}

/*
 * Whether a label would read as a number to inet_aton(3) or a WHATWG URL
 * parser: decimal digits, or "0x" and hex digits (lowercase input).
 */
static int
numeric_label(const char *s, size_t n)
{
	size_t	i = 0;

	if (n == 0)
		return 0;
	if (n >= 2 && s[0] == '0' && s[1] == 'x') {
		for (i = 2; i < n; i++)
			if (!is_hex((unsigned char)s[i]))
				return 0;
		return 1;
	}
	for (i = 0; i < n; i++)
		if (!is_digit((unsigned char)s[i]))
			return 0;
	return 1;
}

/*
 * Exactly four decimal parts of 0..255 without leading zeros; anything
 * else a resolver or another proxy might read differently is refused.
 */
static int
dotted_quad(const char *s, struct egd_addr *a)
{
	int	part, digits, v;

	memset(a, 0, sizeof(*a));
	a->af = AF_INET;
	for (part = 0; part < 4; part++) {
		if (part > 0 && *s++ != '.')
			return -1;
		for (v = 0, digits = 0; is_digit((unsigned char)*s); s++) {
			if (digits > 0 && v == 0)
				return -1;	/* leading zero */
			v = v * 10 + (*s - '0');
			if (++digits > 3 || v > 255)
				return -1;
		}
		if (digits == 0)
			return -1;
		a->addr[part] = (uint8_t)v;
	}
	return *s == '\0' ? 0 : -1;
}

/*
 * An IPv4 or IPv6 literal as inet_pton(3) reads it; IPv6 may be in
 * brackets.  No zone ids.  a is written only on success.
 */
int
egd_addr_parse(const char *s, struct egd_addr *a)
{
	char		 buf[INET6_ADDRSTRLEN];
	struct egd_addr	 t;
	size_t		 len;

	if (s == NULL)
		return -1;
	len = strnlen(s, sizeof(buf) + 2);
	if (len >= 2 && s[0] == '[' && s[len - 1] == ']') {
		if (len - 2 >= sizeof(buf))
			return -1;
		memcpy(buf, s + 1, len - 2);
		buf[len - 2] = '\0';
		memset(&t, 0, sizeof(t));
		t.af = AF_INET6;
		if (inet_pton(AF_INET6, buf, t.addr) != 1)
			return -1;
		*a = t;
		return 0;
	}
	if (len >= sizeof(buf))
		return -1;
	memset(&t, 0, sizeof(t));
	t.af = AF_INET;
	if (inet_pton(AF_INET, s, t.addr) != 1) {
		t.af = AF_INET6;
		if (inet_pton(AF_INET6, s, t.addr) != 1)
			return -1;
	}
	*a = t;
	return 0;
}

/*
 * "ADDR" (a host network) or "ADDR/LEN".  LEN is decimal without sign,
 * space or leading zero ("/08" is refused), within the family's bits;
 * the address may have no bits set past the prefix.
 */
int
egd_cidr_parse(const char *s, struct egd_cidr *c)
{
	char		 buf[CIDR_TEXT_LEN + 1];
	struct egd_cidr	 t;
	char		*slash, *p;
	size_t		 len;
	int		 bits, max, v, i;

	if (s == NULL)
		return -1;
	len = strnlen(s, sizeof(buf));
	if (len >= sizeof(buf))
		return -1;
	memcpy(buf, s, len + 1);
	memset(&t, 0, sizeof(t));
	if ((slash = strchr(buf, '/')) != NULL)
		*slash = '\0';
	if (egd_addr_parse(buf, &t.a) == -1)
		return -1;
	bits = addr_len(t.a.af) * 8;
	if (slash == NULL)
		t.prefixlen = (uint8_t)bits;
	else {
		p = slash + 1;
		if (p[0] == '\0' || (p[0] == '0' && p[1] != '\0'))
			return -1;
		for (v = 0; *p != '\0'; p++) {
			if (!is_digit((unsigned char)*p))
				return -1;
			v = v * 10 + (*p - '0');
			if (v > bits)
				return -1;
		}
		t.prefixlen = (uint8_t)v;
	}
	/* No host bits: "10.1.2.3/16" is an operator's mistake. */
	max = bits / 8;
	for (i = t.prefixlen / 8; i < max; i++) {
		uint8_t	keep = 0;

		if (i == t.prefixlen / 8 && t.prefixlen % 8 != 0)
			keep = (uint8_t)(0xff << (8 - t.prefixlen % 8));
		if ((t.a.addr[i] & (uint8_t)~keep) != 0)
			return -1;
	}
	*c = t;
	return 0;
}

/* The canonical text of a, IPv6 without brackets; "?" if it has none. */
const char *
egd_addr_ntop(const struct egd_addr *a, char *buf, size_t len)
{
	if (len == 0)
		return buf;
	if (addr_len(a->af) == 0 ||
	    inet_ntop(a->af, a->addr, buf, (socklen_t)len) == NULL)
		strlcpy(buf, "?", len);
	return buf;
}

/*
 * The address (and port, host order, if port is not NULL) of a socket
 * address.  An IPv4-mapped IPv6 address, as a dual-stack socket reports
 * an IPv4 client, becomes that IPv4 address.  Any other family yields
 * af 0, which matches nothing and is never public.
 */
void
egd_addr_from_sa(const struct sockaddr *sa, struct egd_addr *a,
    uint16_t *port)
{
	struct sockaddr_in	 sin;
	struct sockaddr_in6	 sin6;
	struct egd_addr		 t;

	memset(a, 0, sizeof(*a));
	if (port != NULL)
		*port = 0;
	if (sa == NULL)
		return;
	switch (sa->sa_family) {
	case AF_INET:
		memcpy(&sin, sa, sizeof(sin));
		a->af = AF_INET;
		memcpy(a->addr, &sin.sin_addr, 4);
		if (port != NULL)
			*port = ntohs(sin.sin_port);
		break;
	case AF_INET6:
		memcpy(&sin6, sa, sizeof(sin6));
		t.af = AF_INET6;
		memcpy(t.addr, &sin6.sin6_addr, 16);
		addr_unmap(&t, a);
		if (port != NULL)
			*port = ntohs(sin6.sin6_port);
		break;
	}
}

/* Fills ss for a and port (host order); its length, 0 for no family. */
socklen_t
egd_addr_to_sa(const struct egd_addr *a, uint16_t port,
    struct sockaddr_storage *ss)
{
	struct sockaddr_in	 sin;
	struct sockaddr_in6	 sin6;

	memset(ss, 0, sizeof(*ss));
	switch (a->af) {
	case AF_INET:
		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_port = htons(port);
		memcpy(&sin.sin_addr, a->addr, 4);
		memcpy(ss, &sin, sizeof(sin));
		return sizeof(sin);
	case AF_INET6:
		memset(&sin6, 0, sizeof(sin6));
		sin6.sin6_family = AF_INET6;
		sin6.sin6_port = htons(port);
		memcpy(&sin6.sin6_addr, a->addr, 16);
		memcpy(ss, &sin6, sizeof(sin6));
		return sizeof(sin6);
	}
	return 0;
}

/* Same family and bytes; an address of no family equals nothing. */
int
egd_addr_equal(const struct egd_addr *a, const struct egd_addr *b)
{
	int	n = addr_len(a->af);

	return n != 0 && a->af == b->af && memcmp(a->addr, b->addr, n) == 0;
}

/*
 * Whether a lies in c.  The families must match once a v4-mapped IPv6
 * address is read as its IPv4 address, on either side: a network inside
 * ::ffff:0:0/96 (prefix 96 or longer) is the IPv4 network it maps, so
 * that "::ffff:10.0.0.0/104" still means 10/8 for clients that
 * egd_addr_from_sa() has already unmapped.
 */
int
egd_cidr_match(const struct egd_cidr *c, const struct egd_addr *a)
{
	struct egd_addr	 ua, cn;
	int		 len = c->prefixlen;

	addr_unmap(a, &ua);
	if (addr_unmap(&c->a, &cn)) {
		if (len < 96)
			cn = c->a;	/* wider than the mapped range */
		else
			len -= 96;
	}
	if (addr_len(ua.af) == 0 || ua.af != cn.af ||
	    len > addr_len(cn.af) * 8)
		return 0;
	return prefix_eq(ua.addr, cn.addr, len);
}

/*
 * NULL if a is a public unicast address, else the name of the range it
 * lies in (v4_table, v6_table).  An IPv6 form that embeds an IPv4
 * address is judged by that address, its reason prefixed with the form;
 * for Teredo the client (last 32 bits inverted) is judged first, then
 * the server (bytes 4..7).
 */
const char *
egd_addr_private(const struct egd_addr *a)
{
	uint8_t		 v4[4];
	const char	*why;
	size_t		 i;
	int		 best = -1, bestlen = -1, k;

	if (a->af == AF_INET)
		return v4_private(a->addr, E_NONE);
	if (a->af != AF_INET6)
		return "unspecified";
	for (i = 0; i < nitems(v6_table); i++)
		if (v6_table[i].len > bestlen &&
		    prefix_eq(a->addr, v6_table[i].net, v6_table[i].len)) {
			best = (int)i;
			bestlen = v6_table[i].len;
		}
	if (best == -1)
		return NULL;
	switch (v6_table[best].embed) {
	case E_MAPPED:
	case E_COMPAT:
	case E_NAT64:
		return v4_private(a->addr + 12, v6_table[best].embed);
	case E_6TO4:
		return v4_private(a->addr + 2, E_6TO4);
	case E_TEREDO:
		for (k = 0; k < 4; k++)
			v4[k] = (uint8_t)~a->addr[12 + k];
		if ((why = v4_private(v4, E_TEREDO)) != NULL)
			return why;
		return v4_private(a->addr + 4, E_TEREDO);
	}
	return v6_table[best].why;
}

/* The reason an IPv4 network p/len lies wholly in a range, or NULL. */
static const char *
v4_net_private(const uint8_t *p, int len, int embed)
{
	size_t	i;
	int	best = -1, bestlen = -1;

	for (i = 0; i < nitems(v4_table); i++)
		if (v4_table[i].len <= len && v4_table[i].len > bestlen &&
		    prefix_eq(p, v4_table[i].net, v4_table[i].len)) {
			best = (int)i;
			bestlen = v4_table[i].len;
		}
	if (best == -1)
		return NULL;
	return v4_reasons[embed][v4_table[best].why];
}

/*
 * The name of the range (v4_table, v6_table) that holds all of network
 * c, or NULL when some of c is public: what "allow private { ... }" may
 * name.  A network inside an embedding form is judged by the IPv4
 * network it embeds; Teredo networks, which embed two, are not taken.
 */
const char *
egd_cidr_private(const struct egd_cidr *c)
{
	struct egd_addr	 u;
	size_t		 i;
	int		 best = -1, bestlen = -1, len = c->prefixlen;

	if (addr_unmap(&c->a, &u) && len >= 96)
		return v4_net_private(u.addr, len - 96, E_MAPPED);
	if (c->a.af == AF_INET)
		return len <= 32 ? v4_net_private(c->a.addr, len, E_NONE) :
		    NULL;
	if (c->a.af != AF_INET6 || len > 128)
		return NULL;
	for (i = 0; i < nitems(v6_table); i++)
		if (v6_table[i].len <= len && v6_table[i].len > bestlen &&
		    prefix_eq(c->a.addr, v6_table[i].net, v6_table[i].len)) {
			best = (int)i;
			bestlen = v6_table[i].len;
		}
	if (best == -1)
		return NULL;
	switch (v6_table[best].embed) {
	case E_NONE:
		return v6_table[best].why;
	case E_MAPPED:
	case E_COMPAT:
	case E_NAT64:
		return v4_net_private(c->a.addr + 12, len - 96,
		    v6_table[best].embed);
	case E_6TO4:
		return v4_net_private(c->a.addr + 2, len - 16 > 32 ? 32 :
		    len - 16, E_6TO4);
	}
	return NULL;
}

/*
 * A lowercase DNS name without a trailing dot, as configurations and
 * (lowercased) requests carry it; with allow_wildcard also "*." and a
 * name.  A pattern is at most 253 bytes in all, since it can match no
 * valid name longer than itself.
 */
int
host_valid(const char *h, int allow_wildcard, const char **err)
{
	size_t	 len, label = 0;
	int	 c, prev = '.';

	if (h == NULL || *h == '\0')
		return fail(err, "empty label");
	len = strnlen(h, HOST_NAME_LEN + 1);
	if (len > HOST_NAME_LEN)
		return fail(err, "name too long");
	if (h[0] == '*') {
		if (!allow_wildcard || h[1] != '.' || h[2] == '\0')
			return fail(err, "bad wildcard");
		h += 2;
	}
	for (; *h != '\0'; h++) {
		c = (unsigned char)*h;
		if (c == '.') {
			if (label == 0)
				return fail(err, "empty label");
			if (prev == '-')
				return fail(err, "hyphen at label edge");
			label = 0;
		} else if (c == '-' && label == 0)
			return fail(err, "hyphen at label edge");
		else if (c == '*')
			return fail(err, "bad wildcard");
		else if (!is_digit(c) && !(c >= 'a' && c <= 'z') && c != '-')
			return fail(err, "invalid character");
		else if (++label > HOST_LABEL_LEN)
			return fail(err, "label too long");
		prev = c;
	}
	if (label == 0)
		return fail(err, "empty label");
	if (prev == '-')
		return fail(err, "hyphen at label edge");
	return 0;
}

/*
 * 1 if host is pattern, or pattern is "*.suffix" and host is one or more
 * labels followed by ".suffix"; both lowercase and valid.
 */
int
host_match(const char *pattern, const char *host)
{
	size_t	plen, hlen;

	if (pattern == NULL || host == NULL)
		return 0;
	if (strcmp(pattern, host) == 0)
		return 1;
	if (pattern[0] != '*' || pattern[1] != '.')
		return 0;
	pattern++;			/* ".suffix" */
	plen = strlen(pattern);
	hlen = strlen(host);
	if (plen < 2 || hlen <= plen || host[0] == '.')
		return 0;
	if (host[hlen - plen - 1] == '.')
		return 0;		/* an empty label before the suffix */
	return strcmp(host + hlen - plen, pattern) == 0;
}

/*
 * The authority of a request (Host header, absolute URI, CONNECT target):
 * len bytes at in, not NUL-terminated.  On success host holds the
 * lowercase name without its trailing dot, or the canonical text of an
 * IP literal (then *is_literal is 1 and lit is the address), and *port
 * the port, defport if none is given; defport 0 makes the port
 * mandatory.  Refused: userinfo, percent-encoding, whitespace, control
 * bytes, unbracketed or zoned IPv6, and any numeric host that is not a
 * plain dotted quad ("127.1", "0x7f.0.0.1", "010.0.0.1", "2130706433"),
 * since resolvers and origins read those in different ways.
 */
int
authority_parse(const char *in, size_t len, uint16_t defport, char *host,
    size_t hostlen, uint16_t *port, struct egd_addr *lit, int *is_literal,
    const char **err)
{
	char		 name[HOST_NAME_LEN + 2];	/* and a trailing dot */
	struct egd_addr	 a;
	const char	*h, *p = NULL, *last;
	size_t		 hl, pl = 0, i, colons = 0;
	unsigned int	 v;
	int		 c, literal = 0;

	if (hostlen > 0)
		host[0] = '\0';
	*port = 0;
	*is_literal = 0;
	memset(lit, 0, sizeof(*lit));
	memset(&a, 0, sizeof(a));

	if (len == 0)
		return fail(err, "empty host");
	for (i = 0; i < len; i++) {
		c = (unsigned char)in[i];
		if (c == ' ' || c == '\t')
			return fail(err, "whitespace");
		if (c < 0x20 || c == 0x7f)
			return fail(err, "control character");
		if (c == '@')
			return fail(err, "userinfo");
		if (c == '%')
			return fail(err, "percent-encoding");
		if (c == ':')
			colons++;
		else if (!is_digit(c) && !(c >= 'a' && c <= 'z') &&
		    !(c >= 'A' && c <= 'Z') && c != '.' && c != '-' &&
		    c != '[' && c != ']')
			return fail(err, "invalid character");
	}

	/* Split host and port. */
	h = in;
	if (in[0] == '[') {
		if ((last = memchr(in, ']', len)) == NULL)
			return fail(err, "bad ipv6 literal");
		h = in + 1;
		hl = (size_t)(last - h);
		if (last + 1 < in + len) {
			if (last[1] != ':')
				return fail(err, "bad ipv6 literal");
			p = last + 2;
			pl = len - (size_t)(p - in);
		}
		if (hl == 0)
			return fail(err, "bad ipv6 literal");
		if (p != NULL && memchr(p, ']', pl) != NULL)
			return fail(err, "bad port");
	} else {
		if (memchr(in, '[', len) != NULL ||
		    memchr(in, ']', len) != NULL)
			return fail(err, "invalid character");
		if (colons > 1)
			return fail(err, "unbracketed ipv6");
		if ((last = memchr(in, ':', len)) != NULL) {
			hl = (size_t)(last - in);
			p = last + 1;
			pl = len - hl - 1;
		} else
			hl = len;
	}

	if (p != NULL) {
		if (pl == 0 || pl > 5)
			return fail(err, "bad port");
		for (v = 0, i = 0; i < pl; i++) {
			if (!is_digit((unsigned char)p[i]))
				return fail(err, "bad port");
			v = v * 10 + (unsigned int)(p[i] - '0');
		}
		if (v == 0 || v > 65535)
			return fail(err, "bad port");
	} else if (defport == 0)
		return fail(err, "port required");
	else
		v = defport;

	/* The host, lowercased into a bounded buffer. */
	if (hl == 0)
		return fail(err, "empty host");
	if (hl >= sizeof(name))
		return fail(err, "name too long");
	for (i = 0; i < hl; i++) {
		c = (unsigned char)h[i];
		name[i] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
	}
	name[hl] = '\0';

	if (in[0] == '[') {
		if (egd_addr_parse(name, &a) == -1 || a.af != AF_INET6)
			return fail(err, "bad ipv6 literal");
		literal = 1;
	} else {
		if (name[hl - 1] == '.')
			name[--hl] = '\0';
		if (hl == 0)
			return fail(err, "empty host");
		if (hl > HOST_NAME_LEN)
			return fail(err, "name too long");
		if ((last = strrchr(name, '.')) == NULL)
			last = name;
		else
			last++;
		if (numeric_label(last, hl - (size_t)(last - name))) {
			if (dotted_quad(name, &a) == -1)
				return fail(err, "ambiguous address");
			literal = 1;
		} else if (host_valid(name, 0, err) == -1)
			return -1;
	}

	if (literal)
		egd_addr_ntop(&a, name, sizeof(name));
	if (strlcpy(host, name, hostlen) >= hostlen) {
		if (hostlen > 0)
			host[0] = '\0';
		return fail(err, "name too long");
	}
	*port = (uint16_t)v;
	if (literal) {
		*lit = a;
		*is_literal = 1;
	}
	return 0;
}
