/*
 * Unit tests for DNS, without a DNS server: the helper's cache (time is
 * an argument), its name check and the merge of A and AAAA answers; the
 * helper's query handling against a cache filled by hand (hits,
 * coalescing, invalid names, back-pressure on a worker that does not
 * read); the workers' client against a fake helper on a socketpair
 * (flow control, cancel, deadline, helper restart, protocol
 * violations); resolv_load() on sample files; and the DNS wire format
 * (dns_wire.c): questions with random letter case, and crafted answers
 * judged as the helper judges them (ids, questions, owners, CNAME chains,
 * compression, truncation, malformed records, every prefix of a message
 * and random damage).  The files under test are included, so that their
 * static parts can be reached.  TAP output.
 */
#include "../src/helper_dns.c"
#include "../src/helper_resolve.c"
#include "../src/dns_wire.c"
#include "../src/worker_dns.c"
#include "../src/resolv.c"

#include <sys/stat.h>

#include <arpa/inet.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include "tap.h"

/* ---- the cache ---------------------------------------------------------- */

struct answered {
	void		*owner;
	uint32_t	 id;
	int		 status;
	uint32_t	 ttl;
};
static struct answered	answers[64];
static int		nanswers;

static void
record_answer(void *owner, uint32_t id, const struct hdns_entry *e,
    uint32_t ttl)
{
	if (nanswers < (int)nitems(answers)) {
		answers[nanswers].owner = owner;
		answers[nanswers].id = id;
		answers[nanswers].status = e->status;
		answers[nanswers].ttl = ttl;
	}
	nanswers++;
}

static int
addr_same(const struct egd_addr *a, const struct egd_addr *b)
{
	return a->af == b->af && memcmp(a->addr, b->addr, sizeof(a->addr)) == 0;
}

static struct egd_addr
v4(const char *s)
{
	struct egd_addr	a;

	memset(&a, 0, sizeof(a));
	a.af = AF_INET;
	inet_pton(AF_INET, s, a.addr);
	return a;
}

static struct egd_addr
v6(const char *s)
{
	struct egd_addr	a;

	memset(&a, 0, sizeof(a));
	a.af = AF_INET6;
	inet_pton(AF_INET6, s, a.addr);
	return a;
}

static void
test_cache(void)
{
	static struct hdns_cache	 c;
	struct hdns_entry		*e, *e2;
	struct egd_addr			 a = v4("192.0.2.1");
	int				 owner1, owner2, i;
	char				 name[32];

	hdns_cache_init(&c, 4, 2);
	ok(hdns_cache_find(&c, "a.example", 100) == NULL, "empty cache: miss");
	e = hdns_cache_add(&c, "a.example");
	ok(e != NULL && e->state == HDNS_PENDING, "a lookup starts pending");
	ok(hdns_cache_find(&c, "a.example", 100) == e,
	    "the pending entry is found: queries coalesce");
	hdns_cache_wait(e, &owner1, 11);
	hdns_cache_wait(e, &owner2, 22);
	hdns_cache_wait(e, &owner1, 12);
	nanswers = 0;
	hdns_cache_done(&c, e, DNS_OK, &a, 1, 30, 100, record_answer);
	ok(nanswers == 3, "one lookup answers its three waiters (%d)",
	    nanswers);
	ok(answers[0].owner == &owner1 && answers[0].id == 11 &&
	    answers[1].owner == &owner2 && answers[1].id == 22 &&
	    answers[2].id == 12, "waiters answered in order, ids echoed");
	ok(answers[0].status == DNS_OK && answers[0].ttl == 30,
	    "with the status and the TTL");
	ok((e = hdns_cache_find(&c, "a.example", 129)) != NULL &&
	    e->state == HDNS_DONE && e->naddrs == 1 &&
	    addr_same(&e->addrs[0], &a),
	    "the answer is cached until its TTL runs out");
	ok(hdns_cache_find(&c, "a.example", 130) == NULL && c.nentries == 0,
	    "and expires exactly then (removed: %zu entries)", c.nentries);

	e = hdns_cache_add(&c, "nx.example");
	hdns_cache_done(&c, e, DNS_NXDOMAIN, NULL, 0, 5, 200, record_answer);
	ok((e = hdns_cache_find(&c, "nx.example", 204)) != NULL &&
	    e->status == DNS_NXDOMAIN, "a failure is cached (negative TTL)");
	ok(hdns_cache_find(&c, "nx.example", 205) == NULL,
	    "and expires after the negative TTL");

	nanswers = 0;
	e = hdns_cache_add(&c, "zero.example");
	hdns_cache_wait(e, &owner1, 1);
	hdns_cache_done(&c, e, DNS_FAIL, NULL, 0, 0, 300, record_answer);
	ok(nanswers == 1 && hdns_cache_find(&c, "zero.example", 300) == NULL,
	    "TTL 0: the waiter is answered, nothing is kept");

	e = hdns_cache_add(&c, "p1.example");
	e2 = hdns_cache_add(&c, "p2.example");
	ok(e != NULL && e2 != NULL &&
	    hdns_cache_add(&c, "p3.example") == NULL,
	    "no more than maxpending lookups at once");
	hdns_cache_wait(e, &owner1, 1);
	hdns_cache_wait(e, &owner2, 2);
	hdns_cache_wait(e, &owner1, 3);
	hdns_cache_forget(&c, &owner1);
	nanswers = 0;
	hdns_cache_done(&c, e, DNS_OK, &a, 1, 60, 400, record_answer);
	ok(nanswers == 1 && answers[0].owner == &owner2,
	    "a gone worker's waiters are forgotten, the lookup goes on");
	ok(hdns_cache_find(&c, "p1.example", 400) != NULL,
	    "and its answer is cached for the others");
	hdns_cache_done(&c, e2, DNS_OK, &a, 1, 60, 400, record_answer);

	/* Eviction: 4 entries at most, the oldest answer goes first. */
	hdns_cache_flush(&c);
	ok(c.nentries == 0, "flush drops every answer");
	for (i = 0; i < 6; i++) {
		snprintf(name, sizeof(name), "e%d.example", i);
		e = hdns_cache_add(&c, name);
		hdns_cache_done(&c, e, DNS_OK, &a, 1, 1000, 500 + i,
		    record_answer);
	}
	ok(c.nentries == 4 && c.evictions == 2,
	    "bounded: 6 answers into 4 places, 2 evicted (%zu, %llu)",
	    c.nentries, (unsigned long long)c.evictions);
	ok(hdns_cache_find(&c, "e0.example", 510) == NULL &&
	    hdns_cache_find(&c, "e1.example", 510) == NULL &&
	    hdns_cache_find(&c, "e2.example", 510) != NULL &&
	    hdns_cache_find(&c, "e5.example", 510) != NULL,
	    "the oldest answers were the ones evicted");
	e = hdns_cache_add(&c, "p.example");
	hdns_cache_flush(&c);
	ok(c.nentries == 1 && c.npending == 1 &&
	    hdns_cache_find(&c, "p.example", 600) == e,
	    "flush keeps lookups in progress");
	hdns_cache_done(&c, e, DNS_OK, &a, 1, 0, 600, record_answer);

	hdns_cache_init(&c, 2, 5);
	ok(hdns_cache_add(&c, "x.example") != NULL &&
	    hdns_cache_add(&c, "y.example") != NULL &&
	    hdns_cache_add(&c, "z.example") == NULL,
	    "a cache full of lookups refuses a new one");
}

static void
test_names(void)
{
	char	long_label[80], long_name[300];
	size_t	i;

	ok(hdns_name_valid("a.example") && hdns_name_valid("localhost") &&
	    hdns_name_valid("xn--bcher-kva.example") &&
	    hdns_name_valid("_a-b.example") && hdns_name_valid("a.b2c"),
	    "host names pass");
	ok(!hdns_name_valid("") && !hdns_name_valid(".a") &&
	    !hdns_name_valid("a..b") && !hdns_name_valid("a.") &&
	    !hdns_name_valid("A.example") && !hdns_name_valid("a b.example") &&
	    !hdns_name_valid("a/b.example") && !hdns_name_valid("a.ex\001"),
	    "empty labels, a trailing dot, uppercase, other bytes fail");
	ok(!hdns_name_valid("192.0.2.1") && !hdns_name_valid("a.123"),
	    "an all-digit last label (an IPv4 literal) fails");
	memset(long_label, 'a', 64);
	long_label[64] = '\0';
	ok(!hdns_name_valid(long_label) && (long_label[63] = '\0',
	    hdns_name_valid(long_label)), "labels: 63 bytes pass, 64 fail");
	for (i = 0; i < 253; i++)
		long_name[i] = (i % 2) ? '.' : 'a';
	long_name[253] = '\0';
	ok(hdns_name_valid(long_name), "a 253-byte name passes");
	long_name[253] = 'a';
	long_name[254] = '\0';
	ok(!hdns_name_valid(long_name), "a 254-byte name fails");
}

static void
half(struct hdns_half *h, int status, uint32_t ttl, int n, int af)
{
	int	i;

	memset(h, 0, sizeof(*h));
	h->done = 1;
	h->status = status;
	h->ttl = ttl;
	h->naddrs = n;
	for (i = 0; i < n; i++) {
		h->addrs[i].af = (uint8_t)af;
		h->addrs[i].addr[0] = (uint8_t)(af == AF_INET ? 10 : 0x20);
		h->addrs[i].addr[15] = (uint8_t)i;
	}
}

static void
test_merge(void)
{
	struct hdns_ttl		t = { 5, 300, 7 };
	struct hdns_half	h4, h6;
	struct egd_addr		out[EGD_DNS_MAXADDR];
	uint32_t		ttl;
	int			n, s;

	half(&h4, DNS_OK, 100, 2, AF_INET);
	half(&h6, DNS_OK, 50, 1, AF_INET6);
	s = hdns_merge(&h4, &h6, &t, out, &n, &ttl);
	ok(s == DNS_OK && n == 3 && out[0].af == AF_INET &&
	    out[1].af == AF_INET && out[2].af == AF_INET6,
	    "both families: IPv4 first, then IPv6");
	ok(ttl == 50, "TTL: the smaller of the two (%u)", ttl);
	half(&h4, DNS_OK, 100000, 1, AF_INET);
	half(&h6, DNS_OK, 100000, 1, AF_INET6);
	hdns_merge(&h4, &h6, &t, out, &n, &ttl);
	ok(ttl == 300, "TTL clamped to the maximum (%u)", ttl);
	half(&h4, DNS_OK, 0, 1, AF_INET);
	hdns_merge(&h4, &h6, &t, out, &n, &ttl);
	ok(ttl == 5, "TTL clamped to the minimum (%u)", ttl);
	half(&h4, DNS_OK, 100, 1, AF_INET);
	half(&h6, DNS_TIMEOUT, 0, 0, AF_INET6);
	s = hdns_merge(&h4, &h6, &t, out, &n, &ttl);
	ok(s == DNS_OK && n == 1 && ttl == 7,
	    "one family timed out: the other's addresses, kept only for the "
	    "negative TTL (%u)", ttl);
	half(&h6, DNS_NXDOMAIN, 0, 0, AF_INET6);
	s = hdns_merge(&h4, &h6, &t, out, &n, &ttl);
	ok(s == DNS_OK && n == 1 && ttl == 100,
	    "addresses win over the other family's NXDOMAIN, full TTL");
	half(&h4, DNS_OK, 100, 0, AF_INET);
	half(&h6, DNS_NODATA, 0, 0, AF_INET6);
	s = hdns_merge(&h4, &h6, &t, out, &n, &ttl);
	ok(s == DNS_NODATA && n == 0 && ttl == 7,
	    "no address of either family: NODATA, negative TTL");
	half(&h4, DNS_NXDOMAIN, 0, 0, AF_INET);
	half(&h6, DNS_TIMEOUT, 0, 0, AF_INET6);
	ok(hdns_merge(&h4, &h6, &t, out, &n, &ttl) == DNS_NXDOMAIN,
	    "NXDOMAIN from either: NXDOMAIN");
	half(&h4, DNS_TIMEOUT, 0, 0, AF_INET);
	half(&h6, DNS_NODATA, 0, 0, AF_INET6);
	ok(hdns_merge(&h4, &h6, &t, out, &n, &ttl) == DNS_TIMEOUT,
	    "a timeout and NODATA: TIMEOUT");
	half(&h4, DNS_FAIL, 0, 0, AF_INET);
	half(&h6, DNS_FAIL, 0, 0, AF_INET6);
	ok(hdns_merge(&h4, &h6, &t, out, &n, &ttl) == DNS_FAIL &&
	    ttl == 7, "server failures: FAIL, negative TTL");
	half(&h4, DNS_OK, 60, 16, AF_INET);
	half(&h6, DNS_OK, 60, 16, AF_INET6);
	hdns_merge(&h4, &h6, &t, out, &n, &ttl);
	ok(n == 16 && out[7].af == AF_INET && out[8].af == AF_INET6,
	    "16 + 16 addresses: 8 of each family");
	half(&h4, DNS_OK, 60, 3, AF_INET);
	hdns_merge(&h4, &h6, &t, out, &n, &ttl);
	ok(n == 16 && out[2].af == AF_INET && out[3].af == AF_INET6,
	    "3 + 16: all 3 IPv4, 13 IPv6");
	half(&h4, DNS_OK, 60, 16, AF_INET);
	half(&h6, DNS_OK, 60, 2, AF_INET6);
	hdns_merge(&h4, &h6, &t, out, &n, &ttl);
	ok(n == 16 && out[13].af == AF_INET && out[14].af == AF_INET6,
	    "16 + 2: 14 IPv4, both IPv6");
}

/* ---- the event loop harness --------------------------------------------- */

static struct event_base	*base;

/* Run the loop until *flag is set or ms have passed. */
static int
spin(const int *flag, int ms)
{
	uint64_t	end = wdns_now() + (uint64_t)ms;

	while ((flag == NULL || !*flag) && wdns_now() < end) {
		struct timeval	tv = { 0, 5000 };

		event_base_loopexit(base, &tv);
		event_base_dispatch(base);
	}
	return flag == NULL || *flag;
}

/* ---- the workers' client against a fake helper ------------------------ */

struct result {
	int		 called;
	int		 status;
	int		 naddrs;
	uint32_t	 ttl;
	int		 cached;
	struct egd_addr	 addrs[EGD_DNS_MAXADDR];
	int		 during;	/* called within wdns_resolve() */
};

static int	in_resolve;

static void
result_cb(void *arg, int status, const struct egd_addr *addrs, int naddrs,
    uint32_t ttl, int cached)
{
	struct result	*r = arg;

	r->called++;
	r->status = status;
	r->naddrs = naddrs;
	r->ttl = ttl;
	r->cached = cached;
	if (naddrs > 0)
		memcpy(r->addrs, addrs, sizeof(addrs[0]) * (size_t)naddrs);
	if (in_resolve)
		r->during = 1;
}

static uint32_t
resolve(const char *name, struct result *r)
{
	uint32_t	id;

	memset(r, 0, sizeof(*r));
	in_resolve = 1;
	id = wdns_resolve(name, result_cb, r);
	in_resolve = 0;
	return id;
}

/* The fake helper: records the queries it gets. */
static struct msg_dns_query	fq[64];
static int			nfq;
static struct ps_chan		*fake, *wchan;
static int			wchan_closed;
static char			wchan_why[64];

static void
fake_query(struct ps_chan *c, struct ps_msg *m)
{
	if (nfq < (int)nitems(fq))
		memcpy(&fq[nfq], m->data, sizeof(fq[0]));
	nfq++;
}

static const struct ps_handler fake_table[] = {
	{ IMSG_DNS_QUERY, sizeof(struct msg_dns_query),
	    sizeof(struct msg_dns_query), PS_FD_NONE, 0, 0, fake_query },
};

static const struct ps_handler worker_table[] = {
	{ IMSG_DNS_ANSWER, sizeof(struct msg_dns_answer),
	    sizeof(struct msg_dns_answer), PS_FD_NONE, 0, 0,
	    wdns_dispatch_answer },
};

static void
wchan_closed_cb(struct ps_chan *c, const char *why)
{
	wchan_closed = 1;
	strlcpy(wchan_why, why, sizeof(wchan_why));
	ps_chan_free(c);
	if (c == wchan) {
		wchan = NULL;
		wdns_set_helper(NULL);
	}
}

static void
fake_closed_cb(struct ps_chan *c, const char *why)
{
	ps_chan_free(c);
	if (c == fake)
		fake = NULL;
}

/* A new worker <-> fake helper channel, wired as worker.c does. */
static void
new_helper(void)
{
	int	sp[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == -1)
		fatal("socketpair");
	if (wchan != NULL)
		ps_chan_free(wchan);
	if (fake != NULL)
		ps_chan_free(fake);
	wchan = ps_chan_new(base, sp[0], "helper", worker_table,
	    nitems(worker_table), wchan_closed_cb, NULL);
	fake = ps_chan_new(base, sp[1], "fake helper", fake_table,
	    nitems(fake_table), fake_closed_cb, NULL);
	if (wchan == NULL || fake == NULL)
		fatal("ps_chan_new");
	wchan_closed = 0;
	nfq = 0;
	wdns_set_helper(wchan);
}

static void
fake_answer(uint32_t id, int status, int naddrs, uint32_t ttl, int cached)
{
	struct msg_dns_answer	a;
	int			i;

	memset(&a, 0, sizeof(a));
	a.id = id;
	a.status = status;
	a.naddrs = (uint32_t)naddrs;
	a.ttl = ttl;
	a.cached = (uint32_t)cached;
	for (i = 0; i < naddrs && i < EGD_DNS_MAXADDR; i++) {
		a.addrs[i].af = i % 2 ? AF_INET6 : AF_INET;
		a.addrs[i].addr[0] = (uint8_t)(i + 1);
	}
	ps_chan_compose(fake, IMSG_DNS_ANSWER, 0, -1, &a, sizeof(a));
}

static void
test_client(void)
{
	struct result	 r[8];
	uint32_t	 id[8];
	int		 i, got;

	new_helper();
	id[0] = resolve("Host.Example.", &r[0]);
	ok(id[0] != 0 && r[0].called == 0, "wdns_resolve: an id, no call yet");
	spin(&nfq, 1000);
	ok(nfq == 1 && fq[0].id == id[0] &&
	    strcmp(fq[0].name, "host.example") == 0,
	    "the helper gets the name lowercased, without the dot (%s)",
	    nfq ? fq[0].name : "-");
	fake_answer(id[0] + 1000, DNS_OK, 1, 30, 0);
	fake_answer(id[0], DNS_OK, 2, 30, 1);
	spin(&r[0].called, 1000);
	ok(r[0].called == 1 && r[0].status == DNS_OK && r[0].naddrs == 2 &&
	    r[0].ttl == 30 && r[0].cached == 1 &&
	    r[0].addrs[0].af == AF_INET && r[0].addrs[1].af == AF_INET6 &&
	    r[0].addrs[1].addr[0] == 2,
	    "the answer reaches the callback, addresses and all");
	ok(!wchan_closed, "an answer with an unknown id is ignored");

	id[1] = resolve("a.example", &r[1]);
	spin(NULL, 50);
	wdns_cancel(id[1]);
	ok(wd.nsent == 1, "cancelled after sending: keeps its slot");
	fake_answer(id[1], DNS_OK, 1, 30, 0);
	spin(NULL, 100);
	ok(r[1].called == 0 && wd.nsent == 0,
	    "cancelled: no callback; the late answer frees the slot");

	/* Invalid names end at once, but from the loop. */
	id[2] = resolve("", &r[2]);
	ok(id[2] != 0 && r[2].called == 0, "an empty name: no call yet");
	spin(&r[2].called, 1000);
	ok(r[2].called == 1 && r[2].status == DNS_FAIL && !r[2].during,
	    "then DNS_FAIL from the loop");
	id[3] = resolve("x.example", &r[3]);
	wdns_cancel(id[3]);	/* queued or sent: never called */
	{
		char	big[400];

		memset(big, 'a', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		id[4] = resolve(big, &r[4]);
		wdns_cancel(id[4]);
		resolve(big, &r[4]);
	}
	spin(&r[4].called, 1000);
	ok(r[4].status == DNS_FAIL && r[3].called == 0,
	    "a too long name: DNS_FAIL; a cancelled query: nothing");
	spin(NULL, 50);
	nfq = 0;

	/* Flow control: 2 out at the helper, 3 waiting, then BUSY. */
	wd.maxsent = 2;
	wd.maxqueue = 3;
	while (wd.nsent > 0) {	/* answer x.example, sent before cancel */
		struct wdns_query	*q = TAILQ_FIRST(&wd.sent);

		fake_answer(q->id, DNS_NXDOMAIN, 0, 5, 0);
		spin(NULL, 20);
	}
	nfq = 0;
	for (i = 0; i < 6; i++) {
		char	name[32];

		snprintf(name, sizeof(name), "n%d.example", i);
		id[i] = resolve(name, &r[i]);
	}
	spin(&r[5].called, 1000);
	spin(NULL, 50);
	ok(nfq == 2 && wd.nsent == 2 && wd.nqueued == 3,
	    "at most 2 sent, 3 waiting (%d sent, %u waiting)", nfq,
	    wd.nqueued);
	ok(r[5].called == 1 && r[5].status == DNS_BUSY && !r[5].during,
	    "the sixth: DNS_BUSY, from the loop");
	fake_answer(fq[0].id, DNS_OK, 1, 10, 0);
	spin(NULL, 100);
	ok(r[0].called == 1 && nfq == 3 && strcmp(fq[2].name,
	    "n2.example") == 0, "an answer lets the next one go, in order");

	/* The helper dies: what it had is sent again to the next one. */
	ps_chan_fail(fake, "test: helper died");
	spin(&wchan_closed, 1000);
	ok(wchan_closed && wd.helper == NULL && wd.nsent == 0 &&
	    wd.nqueued == 4,
	    "helper gone: its 2 queries wait again, with the other 2");
	for (i = 0; i < 5; i++)
		r[i].called = 0;
	new_helper();
	spin(NULL, 100);
	ok(nfq == 2 && strcmp(fq[0].name, "n1.example") == 0 &&
	    strcmp(fq[1].name, "n2.example") == 0,
	    "a new helper gets them first, in order (%s, %s)",
	    nfq > 0 ? fq[0].name : "-", nfq > 1 ? fq[1].name : "-");
	for (got = 0; got < 4 && nfq > got; got++) {
		fake_answer(fq[got].id, DNS_OK, 1, 10, 0);
		spin(NULL, 50);
	}
	ok(got == 4 && r[1].called == 1 && r[2].called == 1 &&
	    r[3].called == 1 && r[4].called == 1 && r[0].called == 0,
	    "and all four are answered once (%d)", got);

	/* The deadline. */
	wd.maxsent = WDNS_MAXSENT;
	wd.maxqueue = WDNS_MAXQUEUE;
	wd.deadline_ms = 200;
	nfq = 0;
	id[0] = resolve("slow.example", &r[0]);
	spin(&r[0].called, 2000);
	ok(r[0].called == 1 && r[0].status == DNS_TIMEOUT,
	    "no answer within the deadline: DNS_TIMEOUT");
	fake_answer(id[0], DNS_OK, 1, 10, 0);
	spin(NULL, 100);
	ok(r[0].called == 1 && wd.nsent == 0,
	    "the late answer is dropped and frees the slot");
	wdns_set_helper(NULL);
	ps_chan_free(wchan);
	wchan = NULL;
	id[1] = resolve("nohelper.example", &r[1]);
	spin(&r[1].called, 2000);
	ok(r[1].status == DNS_TIMEOUT,
	    "without a helper a query waits, then times out");
	wd.deadline_ms = WDNS_DEADLINE;

	/* Protocol violations end the channel. */
	new_helper();
	id[0] = resolve("v.example", &r[0]);
	spin(&nfq, 1000);
	fake_answer(id[0], DNS_OK, EGD_DNS_MAXADDR + 1, 10, 0);
	spin(&wchan_closed, 1000);
	ok(wchan_closed && strcmp(wchan_why, "bad DNS answer") == 0 &&
	    r[0].called == 0, "more than EGD_DNS_MAXADDR addresses: "
	    "channel failed (%s)", wchan_why);
	ok(wd.nqueued == 1, "and the query waits for the next helper");
	new_helper();
	spin(&nfq, 1000);
	{
		struct msg_dns_answer	a;

		memset(&a, 0, sizeof(a));
		a.id = fq[0].id;
		a.status = DNS_OK;
		a.naddrs = 1;
		a.addrs[0].af = 99;
		ps_chan_compose(fake, IMSG_DNS_ANSWER, 0, -1, &a, sizeof(a));
	}
	spin(&wchan_closed, 1000);
	ok(wchan_closed && r[0].called == 0,
	    "an address of an unknown family: channel failed");
	new_helper();
	spin(&nfq, 1000);
	fake_answer(fq[0].id, DNS_OK, 0, 10, 0);
	spin(&wchan_closed, 1000);
	ok(wchan_closed, "DNS_OK without addresses: channel failed");
	new_helper();
	spin(&nfq, 1000);
	fake_answer(fq[0].id, 77, 0, 10, 0);
	spin(&wchan_closed, 1000);
	ok(wchan_closed, "an unknown status: channel failed");
	new_helper();
	spin(&nfq, 1000);
	fake_answer(fq[0].id, DNS_NXDOMAIN, 0, 5, 0);
	spin(&r[0].called, 1000);
	ok(r[0].called == 1 && r[0].status == DNS_NXDOMAIN && !wchan_closed,
	    "the fifth helper answers it");
	wdns_set_helper(NULL);
	ps_chan_free(wchan);
	ps_chan_free(fake);
	wchan = fake = NULL;
}

/* ---- the helper's query handling, the client on the other end -------- */

static struct ps_chan	*hchan;

static void
hchan_closed_cb(struct ps_chan *c, const char *why)
{
	hdns_client_gone(c);
	ps_chan_free(c);
	if (c == hchan)
		hchan = NULL;
}

static const struct ps_handler helper_table[] = {
	{ IMSG_DNS_QUERY, sizeof(struct msg_dns_query),
	    sizeof(struct msg_dns_query), PS_FD_NONE, 0, 0,
	    hdns_dispatch_query },
};

/* Counts answers on a worker channel that only counts. */
static int	counted;

static void
count_answer(struct ps_chan *c, struct ps_msg *m)
{
	counted++;
}

static const struct ps_handler count_table[] = {
	{ IMSG_DNS_ANSWER, sizeof(struct msg_dns_answer),
	    sizeof(struct msg_dns_answer), PS_FD_NONE, 0, 0, count_answer },
};

static void
test_helper(void)
{
	struct result		 r[4];
	struct hdns_entry	*e;
	struct egd_addr		 a[2];
	struct msg_dns_query	 q;
	time_t			 now = hdns_now();
	int			 sp[2], i, want;
	struct ps_chan		*cw;

	/* The helper's state, by hand: no evdns, no configuration. */
	hdns_init();
	hd.base = base;
	hd.resume_ev = evtimer_new(base, hdns_resume_cb, NULL);
	hd.ttl.min = 5;
	hd.ttl.max = 300;
	hd.ttl.neg = 5;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == -1)
		fatal("socketpair");
	hchan = ps_chan_new(base, sp[1], "worker 0", helper_table,
	    nitems(helper_table), hchan_closed_cb, NULL);
	hdns_client_new(hchan);
	wchan = ps_chan_new(base, sp[0], "helper", worker_table,
	    nitems(worker_table), wchan_closed_cb, NULL);
	wdns_set_helper(wchan);

	a[0] = v4("192.0.2.7");
	a[1] = v6("2001:db8::7");
	e = hdns_cache_add(&hd.cache, "cached.example");
	hdns_cache_done(&hd.cache, e, DNS_OK, a, 2, 100, now, NULL);
	resolve("cached.example", &r[0]);
	spin(&r[0].called, 1000);
	ok(r[0].status == DNS_OK && r[0].cached == 1 && r[0].naddrs == 2 &&
	    addr_same(&r[0].addrs[1], &a[1]) && r[0].ttl <= 100 &&
	    r[0].ttl >= 99, "a cache hit: cached = 1, the TTL left (%u)",
	    r[0].ttl);
	ok(hd.stats.hits == 1, "counted as a hit");

	resolve("Bad..Name", &r[1]);
	spin(&r[1].called, 1000);
	ok(r[1].status == DNS_FAIL && hd.stats.invalid == 1,
	    "an invalid name: DNS_FAIL from the helper");

	/* Coalescing: a lookup in progress (no evdns: a stand-in). */
	e = hdns_cache_add(&hd.cache, "slow.example");
	e->lookup = &i;
	resolve("slow.example", &r[2]);
	resolve("SLOW.example", &r[3]);
	spin(NULL, 100);
	ok(hd.stats.coalesced == 2 && hd.stats.misses == 0 &&
	    r[2].called == 0, "two queries join the lookup in progress");
	hdns_cache_done(&hd.cache, e, DNS_OK, a, 1, 60, hdns_now(),
	    hdns_answer_waiter);
	spin(&r[3].called, 1000);
	ok(r[2].called == 1 && r[3].called == 1 && r[2].cached == 0 &&
	    r[3].status == DNS_OK && r[3].ttl == 60,
	    "both answered by the one lookup, not from the cache");

	/* Done with this client: the helper sees its channel close. */
	wdns_set_helper(NULL);
	ps_chan_free(wchan);
	wchan = NULL;
	spin(NULL, 50);
	ok(hchan == NULL && TAILQ_EMPTY(&hd.clients),
	    "a closed worker channel: its client is gone");

	/* First a query with an unterminated name. */
	memset(&q, 'a', sizeof(q));
	q.id = 4242;

	/* Back-pressure: a worker that does not read its answers. */
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == -1)
		fatal("socketpair");
	hchan = ps_chan_new(base, sp[1], "worker 1", helper_table,
	    nitems(helper_table), hchan_closed_cb, NULL);
	hdns_client_new(hchan);
	cw = ps_chan_new(base, sp[0], "lazy worker", count_table,
	    nitems(count_table), NULL, NULL);
	ps_chan_pause(cw, 1);
	ps_chan_compose(cw, IMSG_DNS_QUERY, 0, -1, &q, sizeof(q));
	want = 1;
	memset(&q, 0, sizeof(q));
	strlcpy(q.name, "cached.example", sizeof(q.name));
	for (i = 0; i < 3000; i++) {
		q.id = (uint32_t)i + 1;
		ps_chan_compose(cw, IMSG_DNS_QUERY, 0, -1, &q, sizeof(q));
		want++;
	}
	spin(NULL, 500);
	ok(((struct hdns_client *)hchan->arg)->paused == 1 &&
	    hd.stats.pauses >= 1,
	    "answers pile up past the high water mark: the helper stops "
	    "reading that worker (%zu bytes queued, paused %d, %llu pauses)",
	    ps_chan_pending(hchan), ((struct hdns_client *)hchan->arg)->paused,
	    (unsigned long long)hd.stats.pauses);
	ok(hd.stats.queries < 4 + (uint64_t)want,
	    "so not every query has been read yet (%llu of %d)",
	    (unsigned long long)hd.stats.queries - 4, want);
	ps_chan_pause(cw, 0);
	for (i = 0; i < 100 && counted < want; i++)
		spin(NULL, 20);
	ok(counted == want, "the worker reads: every query is answered "
	    "(%d of %d)", counted, want);
	ok(((struct hdns_client *)hchan->arg)->paused == 0,
	    "and the helper reads that worker again");
	ok(hd.stats.invalid == 2, "the unterminated name was refused");
	hdns_client_gone(hchan);
	ps_chan_free(hchan);
	ps_chan_free(cw);
	hchan = NULL;
}

/* ---- resolv_load --------------------------------------------------------- */

static char	tmpdir[] = "/tmp/test_dns.XXXXXX";

static const char *
file(const char *name, const char *text)
{
	static char	path[256];
	FILE		*fp;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	if ((fp = fopen(path, "w")) == NULL)
		fatal("%s", path);
	fputs(text, fp);
	fclose(fp);
	return path;
}

static void
test_resolv(void)
{
	struct sockaddr_storage	 ss[4];
	struct egressd_conf	 conf;
	struct sockaddr_in	*sin = (struct sockaddr_in *)&ss[0];
	struct sockaddr_in6	*sin6;
	char			 err[256], addr[64];
	const char		*p;
	int			 n;

	if (mkdtemp(tmpdir) == NULL)
		fatal("mkdtemp");

	p = file("v4", "nameserver 192.0.2.1\n");
	n = resolv_load(p, ss, 4, err, sizeof(err));
	ok(n == 1 && ss[0].ss_family == AF_INET &&
	    ntohs(sin->sin_port) == 53 &&
	    strcmp(addr_ntop(&ss[0], addr, sizeof(addr)), "192.0.2.1") == 0,
	    "IPv4: 192.0.2.1 port 53");

	p = file("mixed",
	    "# a comment\n"
	    "; another\n"
	    "search example.org\n"
	    "nameserver 2001:db8::53\n"
	    "nameserver\t192.0.2.2   # trailing comment\n"
	    "  nameserver 192.0.2.99\n"
	    "nameserver not-an-address\n"
	    "nameservers 192.0.2.98\n"
	    "options ndots:2 timeout:1\n"
	    "nameserver fe80::1%lo\n");
	n = resolv_load(p, ss, 4, err, sizeof(err));
	sin6 = (struct sockaddr_in6 *)&ss[0];
	ok(n == 3, "comments, other keywords, bad addresses and indented "
	    "lines are ignored (%d)", n);
	ok(ss[0].ss_family == AF_INET6 && ntohs(sin6->sin6_port) == 53 &&
	    strcmp(addr_ntop(&ss[0], addr, sizeof(addr)), "2001:db8::53") ==
	    0, "IPv6: 2001:db8::53 port 53");
	ok(ss[1].ss_family == AF_INET &&
	    strcmp(addr_ntop(&ss[1], addr, sizeof(addr)), "192.0.2.2") == 0,
	    "a tab and a trailing comment");
	sin6 = (struct sockaddr_in6 *)&ss[2];
	ok(ss[2].ss_family == AF_INET6 &&
	    sin6->sin6_scope_id == if_nametoindex("lo"),
	    "a link-local server with its scope (%u)", sin6->sin6_scope_id);

	p = file("many", "nameserver 192.0.2.1\nnameserver 192.0.2.2\n"
	    "nameserver 192.0.2.3\nnameserver 192.0.2.4\n");
	ok(resolv_load(p, ss, 2, err, sizeof(err)) == 2,
	    "no more than max servers");

	p = file("none", "# nothing\nsearch example.org\n");
	err[0] = '\0';
	ok(resolv_load(p, ss, 4, err, sizeof(err)) == -1 &&
	    strstr(err, "no nameserver") != NULL,
	    "no nameserver line: an error (%s)", err);
	p = file("empty", "");
	ok(resolv_load(p, ss, 4, err, sizeof(err)) == -1,
	    "an empty file: an error");

	snprintf(addr, sizeof(addr), "%s/missing", tmpdir);
	err[0] = '\0';
	ok(resolv_load(addr, ss, 4, err, sizeof(err)) == -1 &&
	    strstr(err, "No such file") != NULL,
	    "a missing file: an error (%s)", err);
	err[0] = '\0';
	ok(resolv_load(tmpdir, ss, 4, err, sizeof(err)) == -1 &&
	    err[0] != '\0', "a directory: an error (%s)", err);
	p = file("secret", "nameserver 192.0.2.1\n");
	chmod(p, 0);
	if (geteuid() == 0)
		printf("ok %d # skip root reads a mode 000 file\n", ++tap_n);
	else
		ok(resolv_load(p, ss, 4, err, sizeof(err)) == -1 &&
		    strstr(err, "Permission denied") != NULL,
		    "an unreadable file: an error (%s)", err);

	memset(&conf, 0, sizeof(conf));
	strlcpy(conf.resolver, file("conf", "nameserver 192.0.2.5\n"),
	    sizeof(conf.resolver));
	ok(resolv_conf(&conf, err, sizeof(err)) == 0 &&
	    conf.nnameservers == 1 && conf.nameservers[0].ss_family ==
	    AF_INET, "resolv_conf: the resolver file fills the servers");
	memset(&conf, 0, sizeof(conf));
	snprintf(conf.resolver, sizeof(conf.resolver), "%s/missing", tmpdir);
	conf.nnameservers = 1;
	conf.nameservers[0].ss_family = AF_INET6;
	ok(resolv_conf(&conf, err, sizeof(err)) == 0 &&
	    conf.nnameservers == 1 && conf.nameservers[0].ss_family ==
	    AF_INET6, "servers in the configuration: the file is not read");
	memset(&conf, 0, sizeof(conf));
	strlcpy(conf.resolver, file("none2", "search x\n"),
	    sizeof(conf.resolver));
	ok(resolv_conf(&conf, err, sizeof(err)) == -1,
	    "resolv_conf: no server at all is an error");

	for (n = 0; n < 20; n++) {
		static const char *names[] = { "v4", "mixed", "many", "none",
		    "empty", "secret", "conf", "none2" };

		if (n < (int)nitems(names)) {
			snprintf(addr, sizeof(addr), "%s/%s", tmpdir,
			    names[n]);
			unlink(addr);
		}
	}
	rmdir(tmpdir);
}

/* ---- the wire format ----------------------------------------------------- */

/* A DNS message built by hand, for the parser. */
struct mb {
	uint8_t	 b[70000];
	size_t	 n;
};

static void
mb_put(struct mb *m, const void *p, size_t n)
{
	memcpy(m->b + m->n, p, n);
	m->n += n;
}

static void
mb_16(struct mb *m, uint16_t v)
{
	uint8_t	b[2] = { (uint8_t)(v >> 8), (uint8_t)v };

	mb_put(m, b, 2);
}

static void
mb_32(struct mb *m, uint32_t v)
{
	mb_16(m, (uint16_t)(v >> 16));
	mb_16(m, (uint16_t)v);
}

/* A name in wire form, uncompressed; NULL: a pointer to the question. */
static void
mb_name(struct mb *m, const char *name)
{
	const char	*p = name, *dot;
	size_t		 len;

	if (name == NULL) {
		mb_16(m, 0xc00c);
		return;
	}
	while (*p != '\0') {
		if ((dot = strchr(p, '.')) == NULL)
			dot = p + strlen(p);
		len = (size_t)(dot - p);
		m->b[m->n++] = (uint8_t)len;
		mb_put(m, p, len);
		p = *dot == '.' ? dot + 1 : dot;
	}
	m->b[m->n++] = 0;
}

/* The header and the question of an answer to q: QR, RD, RA, rcode. */
static void
mb_answer(struct mb *m, const struct dnsw_question *q, uint16_t flags)
{
	m->n = 0;
	mb_16(m, q->id);
	mb_16(m, (uint16_t)(0x8180 | flags));
	mb_16(m, 1);
	mb_16(m, 0);
	mb_16(m, 0);
	mb_16(m, 0);
	mb_put(m, q->name, q->namelen);
	mb_16(m, q->qtype);
	mb_16(m, DNSW_CLASS_IN);
}

static void
mb_ancount(struct mb *m, uint16_t n)
{
	m->b[6] = (uint8_t)(n >> 8);
	m->b[7] = (uint8_t)n;
}

static void
mb_rr(struct mb *m, const char *owner, uint16_t type, uint32_t ttl,
    const void *rdata, size_t rdlen)
{
	mb_name(m, owner);
	mb_16(m, type);
	mb_16(m, DNSW_CLASS_IN);
	mb_32(m, ttl);
	mb_16(m, (uint16_t)rdlen);
	mb_put(m, rdata, rdlen);
}

static void
mb_a(struct mb *m, const char *owner, const char *ip, uint32_t ttl)
{
	uint8_t	a[4];

	inet_pton(AF_INET, ip, a);
	mb_rr(m, owner, DNSW_TYPE_A, ttl, a, 4);
}

static void
mb_cname(struct mb *m, const char *owner, const char *target, uint32_t ttl)
{
	struct mb	t;

	t.n = 0;
	mb_name(&t, target);
	mb_rr(m, owner, DNSW_TYPE_CNAME, ttl, t.b, t.n);
}

static int
parse(const struct mb *m, const struct dnsw_question *q, struct dnsw_answer *a)
{
	return dnsw_parse(m->b, m->n, q, a);
}

static int
has_v4(const struct dnsw_answer *a, int i, const char *ip)
{
	struct egd_addr	want = v4(ip);

	return i < a->naddrs && addr_same(&a->addrs[i], &want);
}

static void
test_wire_question(void)
{
	struct dnsw_question	 q;
	uint8_t			 ones[32], zeros[32], one = 0x01, buf[512];
	char			 name[260];
	int			 n, i;

	memset(ones, 0xff, sizeof(ones));
	memset(zeros, 0, sizeof(zeros));
	ok(dnsw_question(&q, "a-1.example", DNSW_TYPE_A, 7, ones,
	    sizeof(ones)) == 0 && q.namelen == 13 &&
	    memcmp(q.name, "\003A-1\007EXAMPLE\000", 13) == 0,
	    "question: wire form, every letter upper with every bit set");
	ok(dnsw_question(&q, "a-1.example", DNSW_TYPE_A, 7, zeros,
	    sizeof(zeros)) == 0 &&
	    memcmp(q.name, "\003a-1\007example\000", 13) == 0,
	    "and lower with none");
	ok(dnsw_question(&q, "ab.cd", DNSW_TYPE_A, 7, &one, 1) == 0 &&
	    memcmp(q.name, "\002Ab\002cd\000", 7) == 0,
	    "one bit per letter, from the first byte's lowest bit");
	ok(dnsw_question(&q, "a..b", DNSW_TYPE_A, 1, NULL, 0) == -1 &&
	    dnsw_question(&q, "", DNSW_TYPE_A, 1, NULL, 0) == -1,
	    "an empty label, an empty name: refused");
	memset(name, 'a', 64);
	name[64] = '\0';
	ok(dnsw_question(&q, name, DNSW_TYPE_A, 1, NULL, 0) == -1 &&
	    (name[63] = '\0', dnsw_question(&q, name, DNSW_TYPE_A, 1, NULL,
	    0) == 0), "a 64-byte label is refused, 63 bytes pass");
	for (i = 0; i < 253; i++)
		name[i] = (i % 2) ? '.' : 'a';
	name[253] = '\0';
	ok(dnsw_question(&q, name, DNSW_TYPE_A, 1, NULL, 0) == 0 &&
	    q.namelen == 255, "a 253-byte name: 255 bytes on the wire");

	dnsw_question(&q, "a.example", DNSW_TYPE_AAAA, 0xbeef, zeros, 4);
	n = dnsw_query(&q, buf, sizeof(buf));
	ok(n == 12 + 11 + 4 && buf[0] == 0xbe && buf[1] == 0xef &&
	    buf[2] == 0x01 && buf[3] == 0x00 && buf[4] == 0 && buf[5] == 1 &&
	    buf[6] == 0 && buf[7] == 0 && buf[10] == 0 && buf[11] == 0 &&
	    buf[n - 3] == 28 && buf[n - 1] == 1,
	    "query: id, RD only, one question, no other record (no EDNS0)");
	ok(dnsw_query(&q, buf, 20) == -1, "query: a short buffer is refused");
}

static void
test_wire_answers(void)
{
	static struct mb	 m;
	struct dnsw_question	 q, q6;
	struct dnsw_answer	 a;
	uint8_t			 rnd[32], a6[16];
	char			 name[64];
	int			 i;

	memset(rnd, 0x5a, sizeof(rnd));
	dnsw_question(&q, "owner.test", DNSW_TYPE_A, 0x1234, rnd,
	    sizeof(rnd));
	dnsw_question(&q6, "owner.test", DNSW_TYPE_AAAA, 0x4321, rnd,
	    sizeof(rnd));

	mb_answer(&m, &q, 0);
	mb_a(&m, NULL, "192.0.2.1", 60);
	mb_ancount(&m, 1);
	ok(parse(&m, &q, &a) == DNSW_ANSWER && a.rcode == 0 &&
	    a.naddrs == 1 && has_v4(&a, 0, "192.0.2.1") && a.ttl == 60 &&
	    a.ignored == 0, "the answer: its address, its TTL");

	/* Not an answer to this question: ignored. */
	m.b[1] ^= 1;
	ok(parse(&m, &q, &a) == DNSW_IGNORE, "another id: ignored (%s)",
	    a.why);
	m.b[1] ^= 1;
	m.b[2] &= 0x7f;
	ok(parse(&m, &q, &a) == DNSW_IGNORE, "QR clear: ignored (%s)",
	    a.why);
	m.b[2] |= 0x80 | 0x08;
	ok(parse(&m, &q, &a) == DNSW_IGNORE, "another opcode: ignored");
	m.b[2] &= (uint8_t)~0x08;
	m.b[5] = 0;
	ok(parse(&m, &q, &a) == DNSW_IGNORE, "no question: ignored");
	m.b[5] = 2;
	ok(parse(&m, &q, &a) == DNSW_IGNORE, "two questions: ignored");
	m.b[5] = 1;
	m.b[13] ^= 0x20;
	ok(parse(&m, &q, &a) == DNSW_IGNORE,
	    "the question in another letter case (0x20): ignored (%s)",
	    a.why);
	m.b[13] ^= 0x20;
	m.b[12 + q.namelen + 1] = DNSW_TYPE_AAAA;
	ok(parse(&m, &q, &a) == DNSW_IGNORE, "another type: ignored");
	m.b[12 + q.namelen + 1] = DNSW_TYPE_A;
	m.b[12 + q.namelen + 3] = 3;
	ok(parse(&m, &q, &a) == DNSW_IGNORE, "another class: ignored");
	m.b[12 + q.namelen + 3] = 1;
	ok(dnsw_parse(m.b, 11, &q, &a) == DNSW_IGNORE &&
	    dnsw_parse(m.b, 12 + q.namelen, &q, &a) == DNSW_IGNORE,
	    "shorter than a header, or than the question: ignored");
	ok(parse(&m, &q, &a) == DNSW_ANSWER, "(and whole again, it passes)");

	/* TC, rcodes. */
	mb_answer(&m, &q, 0x0200);
	mb_a(&m, NULL, "192.0.2.66", 60);
	mb_ancount(&m, 1);
	ok(parse(&m, &q, &a) == DNSW_TRUNCATED,
	    "TC: truncated, whatever it holds");
	m.b[0] ^= 1;
	ok(parse(&m, &q, &a) == DNSW_IGNORE,
	    "TC with another id: ignored, not truncated");
	mb_answer(&m, &q, DNSW_RCODE_NXDOMAIN);
	ok(parse(&m, &q, &a) == DNSW_ANSWER && a.rcode == 3 && a.naddrs == 0,
	    "NXDOMAIN: an answer, rcode 3");
	mb_answer(&m, &q, 2);
	ok(parse(&m, &q, &a) == DNSW_ANSWER && a.rcode == 2,
	    "SERVFAIL: an answer, rcode 2 (the caller tries elsewhere)");

	/* Owners. */
	mb_answer(&m, &q, 0);
	mb_a(&m, "zzz.example", "198.51.100.7", 60);
	mb_ancount(&m, 1);
	ok(parse(&m, &q, &a) == DNSW_ANSWER && a.naddrs == 0 &&
	    a.ignored == 1, "only a record of another name: no address, "
	    "1 ignored");
	mb_answer(&m, &q, 0);
	mb_a(&m, "zzz.example", "198.51.100.7", 60);
	mb_a(&m, "owner.test", "192.0.2.1", 60);
	mb_a(&m, "owner.test.evil", "198.51.100.8", 60);
	mb_a(&m, "x.owner.test", "198.51.100.9", 60);
	mb_ancount(&m, 4);
	ok(parse(&m, &q, &a) == DNSW_ANSWER && a.naddrs == 1 &&
	    has_v4(&a, 0, "192.0.2.1") && a.ignored == 3,
	    "its own record used; other names, a longer one and a "
	    "subdomain, ignored (%d)", a.ignored);
	mb_answer(&m, &q, 0);
	mb_a(&m, "OWNER.Test", "192.0.2.1", 60);
	mb_ancount(&m, 1);
	ok(parse(&m, &q, &a) == DNSW_ANSWER && a.naddrs == 1,
	    "owner names compare without regard to letter case");

	/* CNAME chains. */
	mb_answer(&m, &q, 0);
	mb_a(&m, "c2.example", "192.0.2.2", 300);
	mb_a(&m, "c9.example", "198.51.100.7", 300);
	mb_a(&m, NULL, "198.51.100.8", 300);
	mb_cname(&m, "c1.example", "c2.example", 30);
	mb_cname(&m, NULL, "c1.example", 200);
	mb_ancount(&m, 5);
	ok(parse(&m, &q, &a) == DNSW_ANSWER && a.naddrs == 1 &&
	    has_v4(&a, 0, "192.0.2.2") && a.chain == 2 && a.ttl == 30,
	    "a chain of two, out of order: the last name's address, the "
	    "smallest TTL of the chain (%d links, ttl %u)", a.chain, a.ttl);
	ok(a.ignored == 1, "a decoy of another name ignored; an address "
	    "beside the name's own CNAME not used");
	for (i = 8; i <= 9; i++) {
		int	j;

		mb_answer(&m, &q, 0);
		mb_cname(&m, NULL, "l1.example", 60);
		for (j = 1; j < i; j++) {
			char	from[32], to[32];

			snprintf(from, sizeof(from), "l%d.example", j);
			snprintf(to, sizeof(to), "l%d.example", j + 1);
			mb_cname(&m, from, to, 60);
		}
		snprintf(name, sizeof(name), "l%d.example", i);
		mb_a(&m, name, "192.0.2.3", 60);
		mb_ancount(&m, (uint16_t)(i + 1));
		if (i == 8)
			ok(parse(&m, &q, &a) == DNSW_ANSWER && a.naddrs == 1 &&
			    a.chain == 8, "a chain of 8 is followed");
		else
			ok(parse(&m, &q, &a) == DNSW_BROKEN,
			    "a chain of 9 is broken (%s)", a.why);
	}
	mb_answer(&m, &q, 0);
	mb_cname(&m, NULL, "loop.example", 60);
	mb_cname(&m, "loop.example", "owner.test", 60);
	mb_ancount(&m, 2);
	ok(parse(&m, &q, &a) == DNSW_BROKEN, "a CNAME loop is broken (%s)",
	    a.why);
	mb_answer(&m, &q, 0);
	mb_cname(&m, NULL, "one.example", 60);
	mb_cname(&m, NULL, "two.example", 60);
	mb_ancount(&m, 2);
	ok(parse(&m, &q, &a) == DNSW_BROKEN, "two CNAMEs for one name: "
	    "broken (%s)", a.why);
	mb_answer(&m, &q, 0);
	mb_rr(&m, NULL, DNSW_TYPE_CNAME, 60, "\002c1\007example\000xx", 14);
	mb_ancount(&m, 1);
	ok(parse(&m, &q, &a) == DNSW_BROKEN, "a CNAME with bytes after its "
	    "name: broken");

	/* Names: compression and label types. */
	mb_answer(&m, &q, 0);
	mb_16(&m, 0xc000 | (uint16_t)(m.n + 2));	/* forward */
	mb_16(&m, DNSW_TYPE_A);
	mb_16(&m, 1);
	mb_32(&m, 60);
	mb_16(&m, 4);
	mb_32(&m, 0xc0000201);
	mb_ancount(&m, 1);
	ok(parse(&m, &q, &a) == DNSW_BROKEN, "a pointer forward: broken");
	mb_answer(&m, &q, 0);
	mb_16(&m, 0xc000 | (uint16_t)m.n);		/* itself */
	mb_ancount(&m, 1);
	ok(parse(&m, &q, &a) == DNSW_BROKEN, "a pointer to itself: broken");
	mb_answer(&m, &q, 0);
	m.b[m.n++] = 1;
	m.b[m.n++] = 'x';
	mb_16(&m, 0xc000 | (uint16_t)(m.n - 2));	/* to its own label */
	mb_ancount(&m, 1);
	ok(parse(&m, &q, &a) == DNSW_BROKEN, "a pointer back into its own "
	    "name (a loop): broken");
	mb_answer(&m, &q, 0);
	mb_16(&m, 0xc000 | 0x3fff);
	mb_ancount(&m, 1);
	ok(parse(&m, &q, &a) == DNSW_BROKEN, "a pointer past the end: "
	    "broken");
	mb_answer(&m, &q, 0);
	m.b[m.n++] = 0x41;
	m.b[m.n++] = 0;
	mb_ancount(&m, 1);
	ok(parse(&m, &q, &a) == DNSW_BROKEN, "an extended label type: "
	    "broken");

	/* Records. */
	mb_answer(&m, &q, 0);
	mb_rr(&m, NULL, DNSW_TYPE_A, 60, "\300\000\002\001\001", 5);
	mb_ancount(&m, 1);
	ok(parse(&m, &q, &a) == DNSW_BROKEN, "an A record of 5 bytes: broken");
	mb_answer(&m, &q, 0);
	mb_a(&m, NULL, "192.0.2.1", 60);
	m.n -= 2;
	mb_ancount(&m, 1);
	ok(parse(&m, &q, &a) == DNSW_BROKEN, "data past the end: broken");
	mb_answer(&m, &q, 0);
	mb_a(&m, NULL, "192.0.2.1", 60);
	mb_ancount(&m, 2);
	ok(parse(&m, &q, &a) == DNSW_BROKEN, "fewer records than counted: "
	    "broken");
	mb_answer(&m, &q, 0);
	mb_a(&m, NULL, "192.0.2.1", 0x80000000U);
	mb_ancount(&m, 1);
	mb_put(&m, "\377\377junk", 6);		/* "authority": not read */
	ok(parse(&m, &q, &a) == DNSW_ANSWER && a.ttl == 0,
	    "a TTL with the top bit set is 0; bytes after the answer section "
	    "are not read");
	mb_answer(&m, &q, 0);
	for (i = 0; i < 20; i++) {
		snprintf(name, sizeof(name), "192.0.2.%d", i + 1);
		mb_a(&m, NULL, name, 60);
	}
	mb_ancount(&m, 20);
	ok(parse(&m, &q, &a) == DNSW_ANSWER && a.naddrs == EGD_DNS_MAXADDR &&
	    a.dropped == 4 && has_v4(&a, 15, "192.0.2.16"),
	    "20 addresses: the first 16 kept, 4 dropped");
	mb_answer(&m, &q, 0);
	for (i = 0; i < 40; i++) {
		snprintf(name, sizeof(name), "192.0.2.%d", i + 1);
		mb_a(&m, "owner.test", name, 60);
	}
	mb_ancount(&m, 40);
	ok(m.n > DNSW_UDPMAX && parse(&m, &q, &a) == DNSW_ANSWER,
	    "40 A records, %zu bytes: well-formed (over UDP the resolver "
	    "does not use it: DNSW_UDPMAX)", m.n);

	/* AAAA. */
	memset(a6, 0, sizeof(a6));
	a6[0] = 0x20;
	a6[1] = 0x01;
	a6[15] = 1;
	mb_answer(&m, &q6, 0);
	mb_a(&m, NULL, "192.0.2.1", 60);
	mb_rr(&m, NULL, DNSW_TYPE_AAAA, 60, a6, 16);
	mb_ancount(&m, 2);
	ok(parse(&m, &q6, &a) == DNSW_ANSWER && a.naddrs == 1 &&
	    a.addrs[0].af == AF_INET6 && a.addrs[0].addr[15] == 1 &&
	    a.ignored == 0, "AAAA: its records only, not the A beside them");
	ok(parse(&m, &q, &a) == DNSW_IGNORE, "an AAAA answer to an A "
	    "question: ignored");
}

/* The resolver without a server: a failure, reported from the loop. */
static int	hres_called, hres_during, hres_status;
static int	hres_in_ask;

static void
hres_result(void *arg, int status, const struct egd_addr *addrs, int n,
    uint32_t ttl)
{
	hres_called++;
	hres_status = status;
	if (hres_in_ask)
		hres_during = 1;
}

static void
test_resolver(void)
{
	hres_init(base);
	hres_set_servers(NULL, 0);
	hres_in_ask = 1;
	hres_ask("a.example", DNSW_TYPE_A, hres_result, NULL);
	hres_in_ask = 0;
	ok(hres_called == 0, "resolver: no callback from within hres_ask()");
	spin(&hres_called, 1000);
	ok(hres_called == 1 && !hres_during && hres_status == DNS_FAIL,
	    "without a server: DNS_FAIL, once, from the loop (%d, %s)",
	    hres_called, dns_status_name(hres_status));
}

/*
 * Every prefix of a good answer, and random damage to it: never an
 * answer with more addresses than fit, never a read out of bounds
 * (the sanitizer build runs this too).
 */
static void
test_wire_damage(void)
{
	static struct mb	 m, d;
	struct dnsw_question	 q;
	struct dnsw_answer	 a;
	size_t			 n;
	int			 i, v, bad = 0, nans = 0, prefix = 0;

	dnsw_question(&q, "chain.test", DNSW_TYPE_A, 99, NULL, 0);
	mb_answer(&m, &q, 0);
	mb_cname(&m, NULL, "c1.example", 60);
	mb_a(&m, "c1.example", "192.0.2.1", 60);
	mb_a(&m, NULL, "198.51.100.1", 60);
	mb_ancount(&m, 3);
	for (n = 0; n < m.n; n++)
		if (dnsw_parse(m.b, n, &q, &a) == DNSW_ANSWER)
			prefix++;
	ok(prefix == 0, "no prefix of an answer is an answer (%d were)",
	    prefix);
	srandom(18);
	for (i = 0; i < 20000; i++) {
		d = m;
		d.b[(size_t)random() % m.n] = (uint8_t)random();
		if (i % 3 == 0)
			d.b[(size_t)random() % m.n] = (uint8_t)random();
		v = dnsw_parse(d.b, d.n, &q, &a);
		if (v < DNSW_IGNORE || v > DNSW_ANSWER || a.naddrs < 0 ||
		    a.naddrs > EGD_DNS_MAXADDR)
			bad++;
		if (v == DNSW_ANSWER)
			nans++;
	}
	ok(bad == 0, "20000 damaged answers: every verdict well-formed "
	    "(%d answers among them)", nans);
}

int
main(void)
{
	log_init(1, LOG_DAEMON);
	log_setverbose(getenv("TEST_VERBOSE") != NULL);
	signal(SIGPIPE, SIG_IGN);
	if ((base = event_base_new()) == NULL)
		fatalx("event_base_new");
	wdns_init(base);

	test_cache();
	test_names();
	test_merge();
	test_client();
	test_helper();
	test_resolv();
	test_wire_question();
	test_wire_answers();
	test_wire_damage();
	test_resolver();
	return tap_done();
}
