/*
 * Fuzz target: DNS answers, from the wire to the worker.  The real
 * helper code (src/helper_dns.c, its stub resolver src/helper_resolve.c
 * and the answer checks of src/dns_wire.c) and the real worker client
 * (src/worker_dns.c) talk over a socketpair through their handler
 * tables, on one event loop; the helper asks a name server that is a
 * UDP socket of this program on 127.0.0.1, which answers each query with
 * the next piece of the input.  (An answer with TC or over 512 bytes is
 * asked again over TCP, where nothing listens here: that try fails.)
 *
 * The input: three bytes, the configuration's DNS TTL limits (min, max,
 * negative, in seconds), then pieces, each a 16-bit length and that many
 * bytes.  A piece is the header of an answer from its flags on (flags,
 * question, answer, authority and additional counts: the query's id is
 * put in front and the QR bit set, so that it is a response), then the
 * records that follow the question, which is the query's own.  The k-th
 * query gets the k-th piece, then a proper NXDOMAIN (which ends the try
 * at once when the resolver ignored the piece, instead of at its
 * timeout); past the last piece, NXDOMAIN alone.  Retries,
 * reissues and the two families all come out of the same pieces.
 *
 * Properties: the worker's channel never fails (the helper's answer
 * passes the worker's checks); the answer has a status of the list,
 * addresses if and only if DNS_OK, IPv4 before IPv6, each address one
 * that a piece sent for a query of its family carries, and a TTL within
 * the limits (the negative TTL without addresses, or as a cap when one
 * family failed for a reason that may pass); and asked again while
 * it is cached, the name gets the same answer from the cache without a
 * query on the wire.  Should the worker's own deadline end a query
 * first (a loaded machine), the helper must still answer it, late, within
 * the resolver's bounds.  Each run starts with an empty cache and a fresh
 * server (two sockets, in turn, as two generations' servers).
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "egressd.h"
#include "proto.h"
#include "fuzz.h"

#define NAME		"fuzz.example"
#define PIECE_MAX	1400		/* a datagram on loopback */
#define QUERY_MAX	512
#define PIECES_MAX	64
#define T_A		1
#define T_AAAA		28
#define DEADLINE_MS	5000		/* WDNS_DEADLINE */
#define LATE_MS		20000		/* for a late answer */

struct piece {
	const uint8_t	*p;
	size_t		 len;
	int		 qtype;		/* its query's, or 0 */
};

struct result {
	int		 done;
	int		 status;
	struct egd_addr	 addrs[EGD_DNS_MAXADDR];
	int		 naddrs;
	uint32_t	 ttl;
	int		 cached;
	int		 late;		/* the worker gave up */
};

static struct event_base	*base;
static int			 srv[2] = { -1, -1 };
static struct sockaddr_storage	 srvaddr[2];
static struct ps_chan		*hchan, *wchan;
static int			 cur;
static struct piece		 pieces[PIECES_MAX];
static int			 npieces, nqueries;
static uint32_t			 gen;
static int			 helper_answers;

static void	 hdns_side_closed(struct ps_chan *, const char *);
static void	 wdns_side_closed(struct ps_chan *, const char *);
static void	 published(const struct hdns_counters *);

static const struct ps_handler helper_table[] = {
	{ IMSG_DNS_QUERY, sizeof(struct msg_dns_query),
	    sizeof(struct msg_dns_query), PS_FD_NONE, 0, 0,
	    hdns_dispatch_query },
};
static const struct ps_handler worker_table[] = {
	{ IMSG_DNS_ANSWER, sizeof(struct msg_dns_answer),
	    sizeof(struct msg_dns_answer), PS_FD_NONE, 0, 0,
	    wdns_dispatch_answer },
};

static void
quiet(int pri, const char *line)
{
}

static void
hdns_side_closed(struct ps_chan *c, const char *why)
{
	fprintf(stderr, "helper side: %s\n", why);
	FUZZ_CHECK(0, "the worker's channel stays up");
}

static void
wdns_side_closed(struct ps_chan *c, const char *why)
{
	fprintf(stderr, "worker side: %s\n", why);
	FUZZ_CHECK(0, "the helper's answers pass the worker's checks");
}

/* The query's question: its end (offset after QTYPE and QCLASS). */
static size_t
question_end(const uint8_t *q, size_t len, int *qtype)
{
	size_t	j = 12;

	while (j < len && q[j] != 0) {
		if (q[j] > 63)
			return 0;
		j += 1 + q[j];
	}
	if (j + 5 > len)
		return 0;
	*qtype = q[j + 1] << 8 | q[j + 2];
	return j + 5;
}

/* A query from the helper: answer it with the next piece, or NXDOMAIN. */
static void
server_cb(int fd, short ev, void *arg)
{
	static const uint8_t	 nx[10] = { 0x81, 0x83, 0, 1 };
	uint8_t			 q[QUERY_MAX];
	uint8_t			 a[12 + QUERY_MAX + PIECE_MAX];
	struct sockaddr_storage	 from;
	socklen_t		 fromlen = sizeof(from);
	const uint8_t		*p;
	size_t			 qend, plen, len;
	ssize_t			 n;
	int			 qtype = 0;

	while ((n = recvfrom(fd, q, sizeof(q), 0, (struct sockaddr *)&from,
	    &fromlen)) >= 0) {
		if ((qend = question_end(q, (size_t)n, &qtype)) == 0)
			continue;
		if (nqueries < npieces) {
			pieces[nqueries].qtype = qtype;
			p = pieces[nqueries].p;
			plen = pieces[nqueries].len;
		} else {
			p = nx;
			plen = sizeof(nx);
		}
		nqueries++;
		/* id, then the piece's header (padded), question, records */
		memcpy(a, q, 2);
		memset(a + 2, 0, 10);
		memcpy(a + 2, p, plen < 10 ? plen : 10);
		a[2] |= 0x80;
		memcpy(a + 12, q + 12, qend - 12);
		len = qend;
		if (plen > 10) {
			memcpy(a + len, p + 10, plen - 10);
			len += plen - 10;
		}
		(void)sendto(fd, a, len, 0, (struct sockaddr *)&from,
		    fromlen);
		/*
		 * Then NXDOMAIN, proper: should the resolver have ignored
		 * the piece (it answers nothing), the try ends now rather
		 * than at its timeout; else it is a stray datagram.
		 */
		if (p != nx) {
			memcpy(a + 2, nx, sizeof(nx));
			(void)sendto(fd, a, qend, 0, (struct sockaddr *)&from,
			    fromlen);
		}
		fromlen = sizeof(from);
	}
	FUZZ_CHECK(errno == EAGAIN || errno == EWOULDBLOCK, "recvfrom");
}

static void
server_open(int i)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)&srvaddr[i];
	socklen_t		 len = sizeof(*sin);
	struct event		*ev;

	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((srv[i] = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0)) == -1 ||
	    bind(srv[i], (struct sockaddr *)sin, len) == -1 ||
	    getsockname(srv[i], (struct sockaddr *)sin, &len) == -1 ||
	    (ev = event_new(base, srv[i], EV_READ | EV_PERSIST, server_cb,
	    NULL)) == NULL || event_add(ev, NULL) == -1) {
		perror("fuzz_dns: a name server on 127.0.0.1");
		abort();
	}
}

/* A generation with server i and these TTL limits: the cache is empty. */
static void
configure(int i, uint32_t min, uint32_t max, uint32_t neg)
{
	struct msg_conf_global	g;
	struct msg_nameserver	ns;

	memset(&g, 0, sizeof(g));
	g.gen = ++gen;
	g.dns_min_ttl = min;
	g.dns_max_ttl = max;
	g.dns_neg_ttl = neg;
	memset(&ns, 0, sizeof(ns));
	ns.ss = srvaddr[i];
	ns.sslen = sizeof(struct sockaddr_in);
	hdns_conf_begin(&g);
	hdns_conf_nameserver(&ns);
	hdns_conf_end();
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	int	sp[2];

	log_init(getenv("FUZZ_VERBOSE") != NULL, LOG_DAEMON);
	if (getenv("FUZZ_VERBOSE") == NULL)
		log_set_sink(quiet);
	else
		log_setverbose(2);
	if ((base = event_base_new()) == NULL)
		abort();
	server_open(0);
	server_open(1);
	hdns_init();
	hdns_set_publish(published);
	configure(0, 1, 3600, 1);
	hdns_start(base);
	wdns_init(base);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == -1)
		abort();
	if ((hchan = ps_chan_new(base, sp[0], "worker 0", helper_table, 1,
	    hdns_side_closed, NULL)) == NULL ||
	    (wchan = ps_chan_new(base, sp[1], "helper", worker_table, 1,
	    wdns_side_closed, NULL)) == NULL)
		abort();
	hdns_client_new(hchan);
	wdns_set_helper(wchan);
	return 0;
}

static void
answered(void *arg, int status, const struct egd_addr *addrs, int naddrs,
    uint32_t ttl, int cached)
{
	struct result	*r = arg;

	FUZZ_CHECK(!r->done, "one answer per query");
	FUZZ_CHECK(naddrs >= 0 && naddrs <= EGD_DNS_MAXADDR, "a count");
	r->done = 1;
	r->status = status;
	r->naddrs = naddrs;
	if (naddrs > 0)
		memcpy(r->addrs, addrs, sizeof(addrs[0]) * (size_t)naddrs);
	r->ttl = ttl;
	r->cached = cached;
}

/* The helper sent an answer (its counters are published with each). */
static void
published(const struct hdns_counters *n)
{
	helper_answers++;
}

static uint64_t
now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/*
 * The worker's own deadline (5 s) ends every query.  Should it be the
 * one to end it (a loaded machine), the helper must still answer, late,
 * within what the resolver allows a lookup (four tries or four seconds,
 * helper_resolve.c; LATE_MS leaves room for a loaded machine): a
 * lookup that never ended would hold the name's cache entry, and every
 * later query for it, for good.
 */
static void
ask(struct result *r)
{
	struct timeval	tick = { 0, 100000 };
	uint64_t	start, end;
	int		answers = helper_answers;

	memset(r, 0, sizeof(*r));
	start = now_ms();
	FUZZ_CHECK(wdns_resolve(NAME, answered, r) != 0, "a query id");
	while (!r->done)
		event_base_loop(base, EVLOOP_ONCE);
	if (r->status != DNS_TIMEOUT || helper_answers > answers)
		return;
	FUZZ_CHECK(now_ms() - start >= DEADLINE_MS,
	    "the worker gives up only at its deadline");
	end = now_ms() + LATE_MS;
	while (helper_answers == answers && now_ms() < end) {
		event_base_loopexit(base, &tick);
		event_base_loop(base, EVLOOP_ONCE);
	}
	FUZZ_CHECK(helper_answers > answers, "the helper answers, if late");
	fprintf(stderr, "fuzz_dns: the worker gave up first; the helper "
	    "answered after %llu ms\n", (unsigned long long)(now_ms() - start));
	r->late = 1;
}

/* Does a piece sent for a query of this type carry these bytes? */
static int
carried(int qtype, const uint8_t *addr, size_t len)
{
	int	i;
	size_t	j;

	for (i = 0; i < npieces && i < nqueries; i++) {
		if (pieces[i].qtype != qtype || pieces[i].len < 10 + len)
			continue;
		for (j = 10; j + len <= pieces[i].len; j++)
			if (memcmp(pieces[i].p + j, addr, len) == 0)
				return 1;
	}
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct result	 r, again;
	uint32_t	 min, max, neg;
	size_t		 off, len;
	int		 i, v6 = 0, asked;

	if (size < 3)
		return 0;
	min = data[0];
	max = data[1];
	neg = data[2];
	npieces = nqueries = 0;
	for (off = 3; off + 2 <= size && npieces < PIECES_MAX; off += len) {
		len = (size_t)data[off] << 8 | data[off + 1];
		off += 2;
		if (len > size - off)
			len = size - off;
		if (len > PIECE_MAX)
			len = PIECE_MAX;
		pieces[npieces].p = data + off;
		pieces[npieces].len = len;
		pieces[npieces].qtype = 0;
		npieces++;
	}
	cur ^= 1;
	configure(cur, min, max, neg);
	if (min > max)
		min = max;

	ask(&r);
	FUZZ_CHECK(r.status >= DNS_OK && r.status <= DNS_BUSY,
	    "a status of the list");
	if (r.late) {
		FUZZ_CHECK(r.naddrs == 0, "no addresses when given up");
		return 0;
	}
	FUZZ_CHECK((r.status == DNS_OK) == (r.naddrs > 0),
	    "addresses if and only if DNS_OK");
	FUZZ_CHECK(!r.cached, "asked first: not from the cache");
	for (i = 0; i < r.naddrs; i++) {
		if (r.addrs[i].af == AF_INET) {
			FUZZ_CHECK(!v6, "IPv4 before IPv6");
			FUZZ_CHECK(carried(T_A, r.addrs[i].addr, 4),
			    "an IPv4 address an answer to A carried");
		} else {
			FUZZ_CHECK(r.addrs[i].af == AF_INET6, "a family");
			v6 = 1;
			FUZZ_CHECK(carried(T_AAAA, r.addrs[i].addr, 16),
			    "an IPv6 address an answer to AAAA carried");
		}
	}
	/* One family failing for a passing reason caps it at neg. */
	if (r.status == DNS_OK)
		FUZZ_CHECK(r.ttl <= max && (r.ttl >= min || r.ttl == neg),
		    "a TTL within the limits");
	else
		FUZZ_CHECK(r.ttl == neg, "the negative TTL");

	/* Cached for a while: the same answer again, nothing on the wire. */
	if (r.ttl >= 2) {
		asked = nqueries;
		ask(&again);
		if (again.late)
			return 0;
		FUZZ_CHECK(again.cached && nqueries == asked,
		    "from the cache");
		FUZZ_CHECK(again.status == r.status &&
		    again.naddrs == r.naddrs &&
		    memcmp(again.addrs, r.addrs,
		    sizeof(r.addrs[0]) * (size_t)r.naddrs) == 0,
		    "the cache gives the same answer");
		FUZZ_CHECK(again.ttl <= r.ttl, "a TTL that does not grow");
	}
	return 0;
}
