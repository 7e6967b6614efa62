/*
 * DNS messages on the wire (RFC 1035): a question made, and an answer
 * judged against the question it claims to answer.  No process state,
 * no I/O and no allocation: pure functions on byte buffers, so that the
 * helper's stub resolver (helper_resolve.c, the only caller in the
 * daemon), the unit tests and a fuzz target call the very same code.
 *
 * What dnsw_parse() accepts, and why:
 *   - a response (QR set, opcode QUERY) with the question's id and
 *     exactly one question, equal to the one asked byte for byte: name
 *     in the letter case it was sent with (the 0x20 bits), type, class
 *     IN.  Anything else is not an answer to this question at all and
 *     is ignored, so that a forged datagram cannot even end a lookup;
 *   - TC set: not used, whatever it holds (the caller asks again over
 *     TCP);
 *   - of the answer section, only the CNAME chain that starts at the
 *     question's name (at most DNSW_MAXCHAIN links, each owned by the
 *     previous target) and the records of the asked type owned by the
 *     chain's last name.  A record owned by any other name is counted
 *     and ignored: it is not an address of the name asked, whatever the
 *     server says;
 *   - every record of the answer section must parse (names with
 *     compression pointers that point backwards only, data within the
 *     message, A of 4 bytes, AAAA of 16, a CNAME's data one name and
 *     nothing else), or the whole answer is broken; authority and
 *     additional sections are not used and not read.
 * Owner names compare without regard to ASCII letter case (RFC 4343);
 * the question does not, since the case is what was randomised.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <string.h>

#include "egressd.h"

#define DNSW_F_QR	0x8000
#define DNSW_F_OPCODE	0x7800
#define DNSW_F_TC	0x0200
#define DNSW_F_RD	0x0100
#define DNSW_F_RCODE	0x000f

#define DNSW_MAXHOPS	64	/* compression pointers in one name */

static uint16_t
get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t
get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

static void
put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/*
 * The question for name (a host name as hdns_name_valid() lets it
 * through: lowercase labels, no trailing dot) in wire form, each letter
 * made uppercase where the next bit of rnd is set (bits are used from
 * the first byte's lowest bit on; fewer bits than letters leave the
 * rest lowercase).  -1 if name does not fit a DNS name.
 */
int
dnsw_question(struct dnsw_question *q, const char *name, uint16_t qtype,
    uint16_t id, const uint8_t *rnd, size_t rndlen)
{
	const char	*p, *dot;
	size_t		 off = 0, len, i, bit = 0;
	int		 c;

	memset(q, 0, sizeof(*q));
	q->id = id;
	q->qtype = qtype;
	for (p = name; *p != '\0'; p = *dot == '.' ? dot + 1 : dot) {
		if ((dot = strchr(p, '.')) == NULL)
			dot = p + strlen(p);
		len = (size_t)(dot - p);
		if (len == 0 || len > 63 || off + 1 + len + 1 >
		    sizeof(q->name))
			return -1;
		q->name[off++] = (uint8_t)len;
		for (i = 0; i < len; i++) {
			c = (unsigned char)p[i];
			if (c >= 'a' && c <= 'z') {
				if (bit / 8 < rndlen &&
				    (rnd[bit / 8] >> (bit % 8)) & 1)
					c -= 'a' - 'A';
				bit++;
			}
			q->name[off++] = (uint8_t)c;
		}
		if (*dot == '\0')
			break;
	}
	if (off == 0)
		return -1;
	q->name[off++] = 0;
	q->namelen = off;
	return 0;
}

/*
 * The query message for q: recursion desired, one question, no EDNS0.
 * Returns its length, or -1 if buf is too small.
 */
int
dnsw_query(const struct dnsw_question *q, uint8_t *buf, size_t len)
{
	size_t	need = DNSW_HDRLEN + q->namelen + 4;

	if (len < need || q->namelen == 0)
		return -1;
	memset(buf, 0, DNSW_HDRLEN);
	put16(buf, q->id);
	put16(buf + 2, DNSW_F_RD);
	put16(buf + 4, 1);		/* QDCOUNT */
	memcpy(buf + DNSW_HDRLEN, q->name, q->namelen);
	put16(buf + DNSW_HDRLEN + q->namelen, q->qtype);
	put16(buf + DNSW_HDRLEN + q->namelen + 2, DNSW_CLASS_IN);
	return (int)need;
}

/*
 * The name at *off of msg, uncompressed into out (wire form, at most
 * DNSW_NAMEMAX bytes with the root label), its length in *outlen; *off
 * moves past the name where it starts (past the first pointer if there
 * is one).  A pointer must point before the label that holds it, so
 * that no chain of pointers can loop; a label type other than a length
 * or a pointer (the 0x40 and 0x80 bits: EDNS0's extended labels) is an
 * error.  Returns 0, or -1 for a malformed name.
 */
int
dnsw_name(const uint8_t *msg, size_t len, size_t *off, uint8_t *out,
    size_t *outlen)
{
	size_t	 p = *off, n = 0, limit = p, end = 0;
	int	 hops = 0, jumped = 0;
	uint8_t	 l;

	for (;;) {
		if (p >= len)
			return -1;
		l = msg[p];
		if ((l & 0xc0) == 0xc0) {
			if (p + 1 >= len || ++hops > DNSW_MAXHOPS)
				return -1;
			if (!jumped)
				end = p + 2;
			jumped = 1;
			p = (size_t)(l & 0x3f) << 8 | msg[p + 1];
			/* backwards only, to before this name's labels */
			if (p >= limit)
				return -1;
			limit = p;
			continue;
		}
		if (l & 0xc0)
			return -1;
		if (p + 1 + l > len || n + 1 + l > DNSW_NAMEMAX)
			return -1;
		memcpy(out + n, msg + p, (size_t)l + 1);
		n += (size_t)l + 1;
		p += (size_t)l + 1;
		if (l == 0)
			break;
	}
	*off = jumped ? end : p;
	*outlen = n;
	return 0;
}

/* Two names in wire form, equal but for ASCII letter case. */
int
dnsw_name_eq(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	size_t	i;
	uint8_t	x, y;

	if (alen != blen)
		return 0;
	/* Length bytes are at most 63, below 'A': folding leaves them. */
	for (i = 0; i < alen; i++) {
		x = a[i] >= 'A' && a[i] <= 'Z' ? a[i] + ('a' - 'A') : a[i];
		y = b[i] >= 'A' && b[i] <= 'Z' ? b[i] + ('a' - 'A') : b[i];
		if (x != y)
			return 0;
	}
	return 1;
}

/* One resource record of the answer section, as dnsw_rr() read it. */
struct dnsw_rr {
	uint8_t		 owner[DNSW_NAMEMAX];
	size_t		 ownerlen;
	uint16_t	 type, class;
	uint32_t	 ttl;
	size_t		 rdoff, rdlen;	/* its data, within the message */
};

/* The record at *off; *off moves past it.  -1 if malformed. */
static int
dnsw_rr(const uint8_t *msg, size_t len, size_t *off, struct dnsw_rr *rr)
{
	if (dnsw_name(msg, len, off, rr->owner, &rr->ownerlen) == -1 ||
	    len - *off < 10)
		return -1;
	rr->type = get16(msg + *off);
	rr->class = get16(msg + *off + 2);
	rr->ttl = get32(msg + *off + 4);
	/* RFC 2181 8: a TTL with the top bit set means 0 */
	if (rr->ttl > 0x7fffffffU)
		rr->ttl = 0;
	rr->rdlen = get16(msg + *off + 8);
	rr->rdoff = *off + 10;
	if (rr->rdlen > len - rr->rdoff)
		return -1;
	*off = rr->rdoff + rr->rdlen;
	return 0;
}

static int
dnsw_verdict(struct dnsw_answer *a, int verdict, const char *why)
{
	a->why = why;
	return verdict;
}

/*
 * Judge msg (len bytes, as received: a datagram, or a TCP message
 * without its length prefix) as the answer to q.  Returns DNSW_IGNORE,
 * DNSW_TRUNCATED, DNSW_BROKEN (with a->why) or DNSW_ANSWER (with
 * a->rcode and, for NOERROR, the addresses of the asked type owned by
 * the end of the name's CNAME chain, the smallest TTL of the chain and
 * of those addresses, and a->ignored the records of the answer section
 * owned by no name of the chain).
 */
int
dnsw_parse(const uint8_t *msg, size_t len, const struct dnsw_question *q,
    struct dnsw_answer *a)
{
	struct dnsw_rr	 rr;
	uint8_t		 name[DNSW_NAMEMAX], chain[DNSW_MAXCHAIN + 1][
			    DNSW_NAMEMAX];
	size_t		 chainlen[DNSW_MAXCHAIN + 1];
	size_t		 off, qlen, anoff, tlen, i, alen;
	uint16_t	 flags, ancount;
	uint32_t	 ttl = UINT32_MAX;
	int		 nchain, found, onchain, j;

	memset(a, 0, sizeof(*a));
	if (len < DNSW_HDRLEN)
		return dnsw_verdict(a, DNSW_IGNORE, "shorter than a header");
	if (get16(msg) != q->id)
		return dnsw_verdict(a, DNSW_IGNORE, "another id");
	flags = get16(msg + 2);
	if (!(flags & DNSW_F_QR) || (flags & DNSW_F_OPCODE) != 0)
		return dnsw_verdict(a, DNSW_IGNORE, "not a response to a "
		    "query");
	if (get16(msg + 4) != 1)
		return dnsw_verdict(a, DNSW_IGNORE, "not one question");
	/* The question, byte for byte: no compression, the same case. */
	qlen = q->namelen;
	if (len - DNSW_HDRLEN < qlen + 4 ||
	    memcmp(msg + DNSW_HDRLEN, q->name, qlen) != 0 ||
	    get16(msg + DNSW_HDRLEN + qlen) != q->qtype ||
	    get16(msg + DNSW_HDRLEN + qlen + 2) != DNSW_CLASS_IN)
		return dnsw_verdict(a, DNSW_IGNORE, "another question");
	if (flags & DNSW_F_TC)
		return dnsw_verdict(a, DNSW_TRUNCATED, "truncated");
	a->rcode = flags & DNSW_F_RCODE;
	ancount = get16(msg + 6);
	anoff = DNSW_HDRLEN + qlen + 4;

	/* Every record of the answer section parses, or none is used. */
	off = anoff;
	for (i = 0; i < ancount; i++)
		if (dnsw_rr(msg, len, &off, &rr) == -1)
			return dnsw_verdict(a, DNSW_BROKEN, "a malformed "
			    "record");

	/* The CNAME chain from the question's name. */
	memcpy(chain[0], q->name, qlen);
	chainlen[0] = qlen;
	for (nchain = 1; ; nchain++) {
		found = 0;
		off = anoff;
		for (i = 0; i < ancount; i++) {
			(void)dnsw_rr(msg, len, &off, &rr);
			if (rr.type != DNSW_TYPE_CNAME ||
			    rr.class != DNSW_CLASS_IN ||
			    !dnsw_name_eq(rr.owner, rr.ownerlen,
			    chain[nchain - 1], chainlen[nchain - 1]))
				continue;
			if (found++)
				return dnsw_verdict(a, DNSW_BROKEN, "two "
				    "CNAMEs for one name");
			if (nchain > DNSW_MAXCHAIN)
				return dnsw_verdict(a, DNSW_BROKEN, "a CNAME "
				    "chain too long");
			tlen = rr.rdoff;
			if (dnsw_name(msg, len, &tlen, name, &alen) == -1 ||
			    tlen != rr.rdoff + rr.rdlen)
				return dnsw_verdict(a, DNSW_BROKEN, "a "
				    "malformed CNAME");
			memcpy(chain[nchain], name, alen);
			chainlen[nchain] = alen;
			if (rr.ttl < ttl)
				ttl = rr.ttl;
		}
		if (!found)
			break;
	}
	a->chain = nchain - 1;

	/* Addresses of the last name; everything else owned elsewhere. */
	alen = q->qtype == DNSW_TYPE_A ? 4 : 16;
	off = anoff;
	for (i = 0; i < ancount; i++) {
		(void)dnsw_rr(msg, len, &off, &rr);
		onchain = 0;
		for (j = 0; j < nchain && !onchain; j++)
			onchain = dnsw_name_eq(rr.owner, rr.ownerlen,
			    chain[j], chainlen[j]);
		if (!onchain) {
			a->ignored++;
			continue;
		}
		if (rr.class != DNSW_CLASS_IN || rr.type != q->qtype ||
		    !dnsw_name_eq(rr.owner, rr.ownerlen, chain[nchain - 1],
		    chainlen[nchain - 1]))
			continue;
		if (rr.rdlen != alen)
			return dnsw_verdict(a, DNSW_BROKEN, "an address of "
			    "the wrong length");
		if (a->naddrs == EGD_DNS_MAXADDR) {
			a->dropped++;
			continue;
		}
		a->addrs[a->naddrs].af = alen == 4 ? AF_INET : AF_INET6;
		memset(a->addrs[a->naddrs].addr, 0,
		    sizeof(a->addrs[0].addr));
		memcpy(a->addrs[a->naddrs].addr, msg + rr.rdoff, alen);
		a->naddrs++;
		if (rr.ttl < ttl)
			ttl = rr.ttl;
	}
	a->ttl = ttl == UINT32_MAX ? 0 : ttl;
	return dnsw_verdict(a, DNSW_ANSWER, NULL);
}
