/*
 * DNS resolution in the helper process, for the workers.  A worker sends
 * IMSG_DNS_QUERY with a host name and an id; the helper answers
 * IMSG_DNS_ANSWER with the same id, a status and up to EGD_DNS_MAXADDR
 * addresses.  Lookups go to the parent-given servers through the stub
 * resolver of helper_resolve.c (A and AAAA in parallel, no search list,
 * no hosts file, no resolv.conf: the helper opens no file).  Answers are
 * cached for their TTL, clamped to the configured range; failures are
 * cached for the negative TTL.  Concurrent queries for one name share
 * one upstream lookup.
 *
 * Bounds, so that no worker can make the helper grow without limit:
 * HDNS_MAXENTRIES names in the cache (the oldest answer is evicted),
 * HDNS_MAXPENDING names being looked up at once, HDNS_CLIENTMAX unanswered
 * queries per worker (beyond either: DNS_BUSY), and a worker whose
 * answers pile up unread (HDNS_HIWAT bytes queued) is not read from until
 * they drain below HDNS_LOWAT.
 *
 * The file has three parts: the cache, which knows nothing of the wire
 * or sockets and takes the time as an argument (regress/test_dns.c tests
 * it directly); the upstream lookups; the workers' side.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <event2/util.h>

#include <openssl/evp.h>

#include "egressd.h"

#define HDNS_MAXENTRIES	10000		/* names cached, answered or not */
#define HDNS_MAXPENDING	1024		/* names being looked up upstream */
#define HDNS_CLIENTMAX	1024		/* unanswered queries of one worker */
#define HDNS_HIWAT	(128 * 1024)	/* answer bytes unread: pause it */
#define HDNS_LOWAT	(32 * 1024)	/* ... and resume below this */
#define HDNS_RESUME_MS	20		/* how often a paused one is checked */
#define HDNS_BUCKETS	16384		/* hash buckets, a power of two */
#define HDNS_MAXNS	8		/* servers in one generation */
#define HDNS_NAMEMAX	253		/* a host name, without the root dot */

/* ---- the cache ---------------------------------------------------------- */

enum hdns_state {
	HDNS_PENDING = 0,	/* being looked up; has waiters */
	HDNS_DONE,		/* answered; valid until expires */
};

struct hdns_waiter {
	TAILQ_ENTRY(hdns_waiter) entry;
	void			*owner;		/* a worker's client */
	uint32_t		 id;		/* its query id, echoed */
};
TAILQ_HEAD(hdns_waiters, hdns_waiter);

struct hdns_entry {
	LIST_ENTRY(hdns_entry)	 hentry;	/* hash bucket */
	TAILQ_ENTRY(hdns_entry)	 lentry;	/* pending, or done by age */
	int			 state;		/* enum hdns_state */
	int			 status;	/* enum dns_status */
	struct egd_addr		 addrs[EGD_DNS_MAXADDR];
	int			 naddrs;
	time_t			 expires;	/* monotonic seconds */
	struct hdns_waiters	 waiters;
	void			*lookup;	/* upstream state, pending */
	uint32_t		 hash;
	char			 name[];
};

struct hdns_cache {
	LIST_HEAD(, hdns_entry)	 buckets[HDNS_BUCKETS];
	TAILQ_HEAD(, hdns_entry) pending;
	TAILQ_HEAD(, hdns_entry) done;		/* oldest answer first */
	size_t			 nentries, npending;
	size_t			 maxentries, maxpending;
	uint64_t		 evictions;
};

/* Called once per waiter when a lookup ends. */
typedef void (*hdns_answer_fn)(void *owner, uint32_t id,
    const struct hdns_entry *, uint32_t ttl);

/* FNV-1a. */
static uint32_t
hdns_hash(const char *name)
{
	uint32_t	h = 2166136261U;

	for (; *name != '\0'; name++) {
		h ^= (uint8_t)*name;
		h *= 16777619U;
	}
	return h;
}

static void
hdns_cache_init(struct hdns_cache *c, size_t maxentries, size_t maxpending)
{
	size_t	i;

	for (i = 0; i < HDNS_BUCKETS; i++)
		LIST_INIT(&c->buckets[i]);
	TAILQ_INIT(&c->pending);
	TAILQ_INIT(&c->done);
	c->nentries = c->npending = 0;
	c->maxentries = maxentries;
	c->maxpending = maxpending < maxentries ? maxpending : maxentries;
	c->evictions = 0;
}

static void
hdns_cache_remove(struct hdns_cache *c, struct hdns_entry *e)
{
	struct hdns_waiter	*w;

	LIST_REMOVE(e, hentry);
	if (e->state == HDNS_PENDING) {
		TAILQ_REMOVE(&c->pending, e, lentry);
		c->npending--;
	} else
		TAILQ_REMOVE(&c->done, e, lentry);
	while ((w = TAILQ_FIRST(&e->waiters)) != NULL) {
		TAILQ_REMOVE(&e->waiters, w, entry);
		free(w);
	}
	c->nentries--;
	free(e);
}

/*
 * The entry for name: an answer still valid at now, or a lookup in
 * progress.  An expired answer is dropped on the way.
 */
static struct hdns_entry *
hdns_cache_find(struct hdns_cache *c, const char *name, time_t now)
{
	struct hdns_entry	*e;
	uint32_t		 h = hdns_hash(name);

	LIST_FOREACH(e, &c->buckets[h & (HDNS_BUCKETS - 1)], hentry) {
		if (e->hash != h || strcmp(e->name, name) != 0)
			continue;
		if (e->state == HDNS_DONE && e->expires <= now) {
			hdns_cache_remove(c, e);
			return NULL;
		}
		return e;
	}
	return NULL;
}

/*
 * A new pending entry for name, which must not be in the cache.  Makes
 * room by evicting the oldest answers.  NULL when too many lookups are
 * in progress already.
 */
static struct hdns_entry *
hdns_cache_add(struct hdns_cache *c, const char *name)
{
	struct hdns_entry	*e, *old;
	size_t			 len = strlen(name);

	if (c->npending >= c->maxpending)
		return NULL;
	while (c->nentries >= c->maxentries) {
		if ((old = TAILQ_FIRST(&c->done)) == NULL)
			return NULL;
		hdns_cache_remove(c, old);
		c->evictions++;
	}
	e = ps_xcalloc(1, sizeof(*e) + len + 1);
	memcpy(e->name, name, len + 1);
	e->hash = hdns_hash(name);
	e->state = HDNS_PENDING;
	TAILQ_INIT(&e->waiters);
	LIST_INSERT_HEAD(&c->buckets[e->hash & (HDNS_BUCKETS - 1)], e,
	    hentry);
	TAILQ_INSERT_TAIL(&c->pending, e, lentry);
	c->nentries++;
	c->npending++;
	return e;
}

static void
hdns_cache_wait(struct hdns_entry *e, void *owner, uint32_t id)
{
	struct hdns_waiter	*w;

	w = ps_xcalloc(1, sizeof(*w));
	w->owner = owner;
	w->id = id;
	TAILQ_INSERT_TAIL(&e->waiters, w, entry);
}

/*
 * A lookup ended: keep the result for ttl seconds (not at all for 0)
 * and answer every waiter, in the order they came.
 */
static void
hdns_cache_done(struct hdns_cache *c, struct hdns_entry *e, int status,
    const struct egd_addr *addrs, int naddrs, uint32_t ttl, time_t now,
    hdns_answer_fn answer)
{
	struct hdns_waiter	*w;

	TAILQ_REMOVE(&c->pending, e, lentry);
	c->npending--;
	e->state = HDNS_DONE;
	e->lookup = NULL;
	e->status = status;
	if (naddrs > EGD_DNS_MAXADDR)
		naddrs = EGD_DNS_MAXADDR;
	e->naddrs = naddrs;
	if (naddrs > 0)
		memcpy(e->addrs, addrs, sizeof(addrs[0]) * (size_t)naddrs);
	e->expires = now + (time_t)ttl;
	TAILQ_INSERT_TAIL(&c->done, e, lentry);
	while ((w = TAILQ_FIRST(&e->waiters)) != NULL) {
		TAILQ_REMOVE(&e->waiters, w, entry);
		answer(w->owner, w->id, e, ttl);
		free(w);
	}
	if (ttl == 0)
		hdns_cache_remove(c, e);
}

/* A worker went away: nobody answers its waiters; lookups go on. */
static void
hdns_cache_forget(struct hdns_cache *c, void *owner)
{
	struct hdns_entry	*e;
	struct hdns_waiter	*w, *next;

	TAILQ_FOREACH(e, &c->pending, lentry)
		for (w = TAILQ_FIRST(&e->waiters); w != NULL; w = next) {
			next = TAILQ_NEXT(w, entry);
			if (w->owner == owner) {
				TAILQ_REMOVE(&e->waiters, w, entry);
				free(w);
			}
		}
}

/* Drop every answer; lookups in progress stay. */
static void
hdns_cache_flush(struct hdns_cache *c)
{
	struct hdns_entry	*e;

	while ((e = TAILQ_FIRST(&c->done)) != NULL)
		hdns_cache_remove(c, e);
}

/*
 * A name as the workers must send it: lowercase letters, digits, '-'
 * and '_' in dot-separated labels of 1 to 63 bytes, 253 bytes at most,
 * no trailing dot, and a last label that is not all digits (an IPv4
 * literal is never looked up).
 */
static int
hdns_name_valid(const char *name)
{
	const char	*p;
	size_t		 label = 0;
	int		 alpha = 0;

	if (*name == '\0' || strlen(name) > HDNS_NAMEMAX)
		return 0;
	for (p = name; *p != '\0'; p++) {
		if (*p == '.') {
			if (label == 0)
				return 0;
			label = 0;
			alpha = 0;
			continue;
		}
		if (++label > 63)
			return 0;
		if ((*p >= 'a' && *p <= 'z') || *p == '-' || *p == '_')
			alpha = 1;
		else if (*p < '0' || *p > '9')
			return 0;
	}
	return label > 0 && alpha;
}

/* ---- answers from upstream --------------------------------------------- */

struct hdns_ttl {
	uint32_t	 min, max, neg;
};

/* One family's outcome, as the stub resolver reported it. */
struct hdns_half {
	int		 status;	/* enum dns_status */
	uint32_t	 ttl;
	struct egd_addr	 addrs[EGD_DNS_MAXADDR];
	int		 naddrs;
	int		 done;
};

struct hdns_lookup {
	struct hdns_entry	*e;
	struct hdns_half	 v4, v6;
};

static int
hdns_half_status(const struct hdns_half *h)
{
	if (h->status == DNS_OK && h->naddrs == 0)
		return DNS_NODATA;
	return h->status;
}

/*
 * One answer from the two lookups.  Addresses: IPv4 first, then IPv6,
 * each in the server's order; when both families have more than fits,
 * each keeps at least half the slots.  TTL: the smaller of the answers'
 * TTLs, clamped to [min, max], and no more than the negative TTL when
 * one family failed for a reason that may pass (timeout, server
 * failure), so that it is asked again soon.  Without addresses: NXDOMAIN
 * if either says so, NODATA if both say so, else TIMEOUT if either timed
 * out, else FAIL; cached for the negative TTL.
 */
static int
hdns_merge(const struct hdns_half *v4, const struct hdns_half *v6,
    const struct hdns_ttl *t, struct egd_addr *out, int *nout,
    uint32_t *ttl)
{
	int		 s4 = hdns_half_status(v4), s6 = hdns_half_status(v6);
	int		 n4 = s4 == DNS_OK ? v4->naddrs : 0;
	int		 n6 = s6 == DNS_OK ? v6->naddrs : 0;
	int		 k4, k6, lim, half = EGD_DNS_MAXADDR / 2;
	uint32_t	 tt = UINT32_MAX;

	*nout = 0;
	if (n4 + n6 == 0) {
		*ttl = t->neg;
		if (s4 == DNS_NXDOMAIN || s6 == DNS_NXDOMAIN)
			return DNS_NXDOMAIN;
		if (s4 == DNS_NODATA && s6 == DNS_NODATA)
			return DNS_NODATA;
		if (s4 == DNS_TIMEOUT || s6 == DNS_TIMEOUT)
			return DNS_TIMEOUT;
		return DNS_FAIL;
	}
	lim = EGD_DNS_MAXADDR - n6 > half ? EGD_DNS_MAXADDR - n6 : half;
	k4 = n4 < lim ? n4 : lim;
	k6 = n6 < EGD_DNS_MAXADDR - k4 ? n6 : EGD_DNS_MAXADDR - k4;
	memcpy(out, v4->addrs, sizeof(out[0]) * (size_t)k4);
	memcpy(out + k4, v6->addrs, sizeof(out[0]) * (size_t)k6);
	*nout = k4 + k6;
	if (n4 > 0)
		tt = v4->ttl;
	if (n6 > 0 && v6->ttl < tt)
		tt = v6->ttl;
	if (tt < t->min)
		tt = t->min;
	if (tt > t->max)
		tt = t->max;
	if ((s4 == DNS_TIMEOUT || s4 == DNS_FAIL ||
	    s6 == DNS_TIMEOUT || s6 == DNS_FAIL) && tt > t->neg)
		tt = t->neg;
	*ttl = tt;
	return DNS_OK;
}

/* ---- the helper's DNS service ------------------------------------------ */

struct hdns_client {
	TAILQ_ENTRY(hdns_client) entry;
	struct ps_chan		*chan;
	unsigned int		 outstanding;	/* waiting on a lookup */
	int			 paused;	/* not read: answers pile up */
};

struct hdns_stats {
	uint64_t	 queries;	/* received */
	uint64_t	 hits;		/* answered from the cache */
	uint64_t	 misses;	/* started an upstream lookup */
	uint64_t	 coalesced;	/* joined a lookup in progress */
	uint64_t	 failures;	/* answered, but not DNS_OK */
	uint64_t	 invalid;	/* malformed names */
	uint64_t	 busy;		/* refused for a bound */
	uint64_t	 pauses;	/* a worker not read for a while */
};

/* A CA bundle of the generation being received, for DNS over TLS. */
struct hdns_ca {
	char		*pem;
	size_t		 len, total;
};

static struct {
	struct event_base	*base;
	struct hdns_cache	 cache;
	struct hdns_ttl		 ttl, newttl;
	struct msg_nameserver	 ns[HDNS_MAXNS], newns[HDNS_MAXNS];
	int			 nns, nnewns;
	/* DNS over TLS: the SHA-256 of each server's CA bundle */
	uint8_t			 cadigest[HDNS_MAXNS][32];
	struct hdns_ca		 cas[EGD_MAX_CAS];
	int			 inconf;
	int			 have_conf;	/* a generation arrived */
	int			 applied;	/* servers given to hres */
	struct event		*resume_ev;
	TAILQ_HEAD(, hdns_client) clients;
	struct hdns_stats	 stats;
} hd;

static void	(*hdns_publish_cb)(const struct hdns_counters *);
static void	hdns_publish(void);

static void	hdns_reply(struct hdns_client *, uint32_t, int,
		    const struct egd_addr *, int, uint32_t, int);

static time_t
hdns_now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/*
 * Before the privilege drop.  Query ids and letter case come from the C
 * library's arc4random, which asks getrandom(2) and needs no file.
 */
void
hdns_init(void)
{
	hdns_cache_init(&hd.cache, HDNS_MAXENTRIES, HDNS_MAXPENDING);
	TAILQ_INIT(&hd.clients);
}

static void
hdns_cas_free(void)
{
	int	i;

	for (i = 0; i < EGD_MAX_CAS; i++) {
		free(hd.cas[i].pem);
		memset(&hd.cas[i], 0, sizeof(hd.cas[i]));
	}
}

void
hdns_conf_begin(const struct msg_conf_global *g)
{
	hd.inconf = 1;
	hd.nnewns = 0;
	hdns_cas_free();
	/* conf_new() has the defaults; 0 means "do not keep". */
	hd.newttl.min = g->dns_min_ttl;
	hd.newttl.max = g->dns_max_ttl;
	hd.newttl.neg = g->dns_neg_ttl;
	if (hd.newttl.min > hd.newttl.max)
		hd.newttl.min = hd.newttl.max;
}

/*
 * A piece of a CA bundle that a DNS-over-TLS server of the generation
 * is verified with (the size was checked by the handler table).  The
 * parent is trusted, but pieces out of order are a bug worth stopping
 * for.
 */
void
hdns_conf_ca_chunk(const struct ps_msg *m)
{
	struct msg_ca_chunk	 mc;
	struct hdns_ca		*ca;
	size_t			 hl = offsetof(struct msg_ca_chunk, data);

	if (!hd.inconf)
		fatalx("CA bundle outside a configuration");
	memcpy(&mc, m->data, hl);
	if (mc.id >= EGD_MAX_CAS || mc.len > EGD_CA_CHUNK ||
	    m->len != hl + mc.len || mc.total == 0 ||
	    mc.total > EGD_CA_MAXSIZE)
		fatalx("bad CA bundle piece");
	ca = &hd.cas[mc.id];
	if (ca->pem == NULL) {
		if (mc.off != 0)
			fatalx("CA bundle %u: piece out of order", mc.id);
		ca->pem = ps_xcalloc(1, mc.total + 1);
		ca->total = mc.total;
	}
	if (mc.total != ca->total || mc.off != ca->len ||
	    mc.len > ca->total - ca->len)
		fatalx("CA bundle %u: piece out of order", mc.id);
	memcpy(ca->pem + ca->len, m->data + hl, mc.len);
	ca->len += mc.len;
}

/* A server of the generation being received.  The parent is trusted,
 * but a message that makes no sense is a bug worth stopping for. */
void
hdns_conf_nameserver(const struct msg_nameserver *m)
{
	const struct sockaddr_storage	*ss = &m->ss;

	if (!hd.inconf)
		fatalx("nameserver outside a configuration");
	if (hd.nnewns == HDNS_MAXNS)
		fatalx("more than %d nameservers", HDNS_MAXNS);
	if (!(ss->ss_family == AF_INET &&
	    m->sslen == sizeof(struct sockaddr_in)) &&
	    !(ss->ss_family == AF_INET6 &&
	    m->sslen == sizeof(struct sockaddr_in6)))
		fatalx("bad nameserver address");
	if (addr_port(ss) <= 0)
		fatalx("nameserver without a port");
	if (memchr(m->tlsname, '\0', sizeof(m->tlsname)) == NULL ||
	    (m->tlsname[0] != '\0' && (m->ca_id < 0 ||
	    m->ca_id >= EGD_MAX_CAS)))
		fatalx("bad nameserver TLS name or CA bundle");
	hd.newns[hd.nnewns++] = *m;
}

/* The digest of server i's CA bundle in the generation received. */
static void
hdns_ca_digest(int i, uint8_t *out)
{
	const struct hdns_ca	*ca;

	memset(out, 0, 32);
	if (hd.newns[i].tlsname[0] == '\0')
		return;
	ca = &hd.cas[hd.newns[i].ca_id];
	if (ca->pem != NULL && EVP_Digest(ca->pem, ca->len, out, NULL,
	    EVP_sha256(), NULL) != 1)
		fatalx("EVP_Digest");
}

/* Other servers, or a DNS over TLS server verified with other CAs. */
static int
hdns_servers_changed(void)
{
	uint8_t	d[32];
	int	i;

	if (!hd.applied || hd.nns != hd.nnewns)
		return 1;
	for (i = 0; i < hd.nns; i++) {
		if (!addr_equal(&hd.ns[i].ss, &hd.newns[i].ss) ||
		    strcmp(hd.ns[i].tlsname, hd.newns[i].tlsname) != 0)
			return 1;
		hdns_ca_digest(i, d);
		if (memcmp(d, hd.cadigest[i], sizeof(d)) != 0)
			return 1;
	}
	return 0;
}

/*
 * Give the resolver the servers of the generation received.  A DNS over
 * TLS server gets a context verifying its certificate against its CA
 * bundle, built from the bytes the parent sent (the helper opens no
 * file); one that cannot be built leaves the server out, loudly.
 */
static void
hdns_set_servers(void)
{
	struct hres_server	 s[HDNS_MAXNS];
	const struct hdns_ca	*ca;
	char			 addr[64];
	const char		*why;
	int			 i, n = 0;

	memset(s, 0, sizeof(s));
	for (i = 0; i < hd.nnewns; i++) {
		hdns_ca_digest(i, hd.cadigest[i]);
		addr_ntop(&hd.newns[i].ss, addr, sizeof(addr));
		s[n].ss = hd.newns[i].ss;
		s[n].sslen = hd.newns[i].sslen;
		if (hd.newns[i].tlsname[0] != '\0') {
			ca = &hd.cas[hd.newns[i].ca_id];
			if (ca->pem == NULL || ca->len != ca->total ||
			    (s[n].ctx = hres_tls_ctx(ca->pem, ca->len,
			    &why)) == NULL) {
				log_warnx("nameserver %s port %d tls \"%s\": "
				    "%s; not used", addr,
				    addr_port(&hd.newns[i].ss),
				    hd.newns[i].tlsname, ca->pem == NULL ?
				    "no CA bundle" : why);
				continue;
			}
			strlcpy(s[n].tlsname, hd.newns[i].tlsname,
			    sizeof(s[n].tlsname));
		}
		log_debug("nameserver %s port %d%s%s", addr,
		    addr_port(&hd.newns[i].ss), s[n].ctx != NULL ?
		    " tls " : "", s[n].tlsname);
		n++;
	}
	hres_set_servers(s, n);
	if (n == 0)
		log_warnx("no usable nameserver: every lookup fails");
	memcpy(hd.ns, hd.newns, sizeof(hd.ns));
	hd.nns = hd.nnewns;
	hd.applied = 1;
	hdns_cas_free();
}

/*
 * The generation is complete.  New servers or new TTL limits flush the
 * cache: its answers came from the old servers or were kept under the
 * old limits.  Before the loop exists this is only remembered.
 */
void
hdns_conf_end(void)
{
	int	servers, ttls;

	if (!hd.inconf)
		fatalx("configuration end without a beginning");
	hd.inconf = 0;
	hd.have_conf = 1;
	if (hd.base == NULL)
		return;
	servers = hdns_servers_changed();
	ttls = memcmp(&hd.ttl, &hd.newttl, sizeof(hd.ttl)) != 0;
	hd.ttl = hd.newttl;
	if (servers)
		hdns_set_servers();
	else
		hdns_cas_free();
	if (servers || ttls) {
		log_debug("%s changed: cache flushed (%zu answers)",
		    servers ? "nameservers" : "TTL limits",
		    hd.cache.nentries - hd.cache.npending);
		hdns_cache_flush(&hd.cache);
		hdns_publish();
	}
}

static void	hdns_resume_cb(int, short, void *);

/* The loop exists (after the drop, before the sandbox). */
void
hdns_start(struct event_base *base)
{
	hd.base = base;
	if ((hd.resume_ev = evtimer_new(base, hdns_resume_cb, NULL)) == NULL)
		fatalx("evtimer_new");
	if (!hd.have_conf)
		fatalx("no configuration before the loop");
	hd.ttl = hd.newttl;
	hres_init(base);
	hdns_set_servers();
}

/* ---- lookups ------------------------------------------------------------ */

static void
hdns_answer_waiter(void *owner, uint32_t id, const struct hdns_entry *e,
    uint32_t ttl)
{
	struct hdns_client	*cl = owner;

	cl->outstanding--;
	hdns_reply(cl, id, e->status, e->addrs, e->naddrs, ttl, 0);
}

static void
hdns_lookup_step(struct hdns_lookup *l)
{
	struct egd_addr	 addrs[EGD_DNS_MAXADDR];
	uint32_t	 ttl;
	int		 status, n;

	if (!l->v4.done || !l->v6.done)
		return;
	status = hdns_merge(&l->v4, &l->v6, &hd.ttl, addrs, &n, &ttl);
	log_debug("%s: %s, %d addresses, ttl %u (A: %s, AAAA: %s)",
	    l->e->name, dns_status_name(status), n, ttl,
	    dns_status_name(hdns_half_status(&l->v4)),
	    dns_status_name(hdns_half_status(&l->v6)));
	hdns_cache_done(&hd.cache, l->e, status, addrs, n, ttl, hdns_now(),
	    hdns_answer_waiter);
	free(l);
}

static void
hdns_half_set(struct hdns_half *h, int status, const struct egd_addr *addrs,
    int count, uint32_t ttl)
{
	h->done = 1;
	h->status = status;
	h->ttl = ttl;
	if (status != DNS_OK || addrs == NULL || count <= 0)
		return;
	if (count > EGD_DNS_MAXADDR)
		count = EGD_DNS_MAXADDR;
	memcpy(h->addrs, addrs, sizeof(addrs[0]) * (size_t)count);
	h->naddrs = count;
}

static void
hdns_cb_a(void *arg, int status, const struct egd_addr *addrs, int count,
    uint32_t ttl)
{
	struct hdns_lookup	*l = arg;

	hdns_half_set(&l->v4, status, addrs, count, ttl);
	hdns_lookup_step(l);
}

static void
hdns_cb_aaaa(void *arg, int status, const struct egd_addr *addrs, int count,
    uint32_t ttl)
{
	struct hdns_lookup	*l = arg;

	hdns_half_set(&l->v6, status, addrs, count, ttl);
	hdns_lookup_step(l);
}

/*
 * Ask upstream for both families.  The resolver calls back from the
 * loop, never from within hres_ask().
 */
static void
hdns_lookup_start(struct hdns_entry *e)
{
	struct hdns_lookup	*l;

	l = ps_xcalloc(1, sizeof(*l));
	l->e = e;
	e->lookup = l;
	hd.stats.misses++;
	hres_ask(e->name, DNSW_TYPE_A, hdns_cb_a, l);
	hres_ask(e->name, DNSW_TYPE_AAAA, hdns_cb_aaaa, l);
}

/* ---- workers ------------------------------------------------------------ */

void
hdns_client_new(struct ps_chan *c)
{
	struct hdns_client	*cl;

	cl = ps_xcalloc(1, sizeof(*cl));
	cl->chan = c;
	c->arg = cl;
	TAILQ_INSERT_TAIL(&hd.clients, cl, entry);
}

/* Its channel is about to be freed: forget its queries. */
void
hdns_client_gone(struct ps_chan *c)
{
	struct hdns_client	*cl = c->arg;

	if (cl == NULL)
		return;
	hdns_cache_forget(&hd.cache, cl);
	TAILQ_REMOVE(&hd.clients, cl, entry);
	c->arg = NULL;
	free(cl);
}

/*
 * Back-pressure: a worker that does not read its answers is not read
 * from either, until what is queued for it has mostly drained.
 */
static void
hdns_resume_cb(int fd, short ev, void *arg)
{
	struct hdns_client	*cl;
	struct timeval		 tv = { 0, HDNS_RESUME_MS * 1000 };
	int			 still = 0;

	TAILQ_FOREACH(cl, &hd.clients, entry) {
		if (!cl->paused)
			continue;
		if (ps_chan_pending(cl->chan) < HDNS_LOWAT) {
			cl->paused = 0;
			ps_chan_pause(cl->chan, 0);
			log_debug("%s: answers drained, reading again",
			    cl->chan->name);
		} else
			still = 1;
	}
	if (still)
		evtimer_add(hd.resume_ev, &tv);
}

static void
hdns_reply(struct hdns_client *cl, uint32_t id, int status,
    const struct egd_addr *addrs, int naddrs, uint32_t ttl, int cached)
{
	struct msg_dns_answer	 a;
	struct timeval		 tv = { 0, HDNS_RESUME_MS * 1000 };
	int			 i;

	memset(&a, 0, sizeof(a));
	a.id = id;
	a.status = status;
	a.ttl = ttl;
	a.cached = cached ? 1 : 0;
	for (i = 0; i < naddrs && i < EGD_DNS_MAXADDR; i++) {
		a.addrs[i].af = addrs[i].af;
		memcpy(a.addrs[i].addr, addrs[i].addr, sizeof(a.addrs[i].addr));
	}
	a.naddrs = (uint32_t)i;
	if (status != DNS_OK)
		hd.stats.failures++;
	hdns_publish();
	if (ps_chan_compose(cl->chan, IMSG_DNS_ANSWER, 0, -1, &a,
	    sizeof(a)) == -1)
		return;
	if (!cl->paused && ps_chan_pending(cl->chan) > HDNS_HIWAT) {
		cl->paused = 1;
		hd.stats.pauses++;
		ps_chan_pause(cl->chan, 1);
		log_debug("%s: %zu bytes of answers unread, not reading it",
		    cl->chan->name, ps_chan_pending(cl->chan));
		if (!evtimer_pending(hd.resume_ev, NULL))
			evtimer_add(hd.resume_ev, &tv);
	}
}

/* IMSG_DNS_QUERY, exactly sizeof(struct msg_dns_query) (handler table). */
void
hdns_dispatch_query(struct ps_chan *c, struct ps_msg *m)
{
	struct hdns_client	*cl = c->arg;
	struct msg_dns_query	 q;
	struct hdns_entry	*e;
	time_t			 now;

	memcpy(&q, m->data, sizeof(q));
	hd.stats.queries++;
	if (memchr(q.name, '\0', sizeof(q.name)) == NULL ||
	    !hdns_name_valid(q.name)) {
		hd.stats.invalid++;
		log_debug("%s: query %u: invalid name", c->name, q.id);
		hdns_reply(cl, q.id, DNS_FAIL, NULL, 0, 0, 0);
		return;
	}
	now = hdns_now();
	if ((e = hdns_cache_find(&hd.cache, q.name, now)) != NULL &&
	    e->state == HDNS_DONE) {
		hd.stats.hits++;
		log_debug("%s: %s: cached, %lld s left", c->name, q.name,
		    (long long)(e->expires - now));
		hdns_reply(cl, q.id, e->status, e->addrs, e->naddrs,
		    (uint32_t)(e->expires - now), 1);
		return;
	}
	if (cl->outstanding >= HDNS_CLIENTMAX ||
	    (e == NULL && (e = hdns_cache_add(&hd.cache, q.name)) == NULL)) {
		hd.stats.busy++;
		log_debug("%s: %s: busy", c->name, q.name);
		hdns_reply(cl, q.id, DNS_BUSY, NULL, 0, 0, 0);
		return;
	}
	hdns_cache_wait(e, cl, q.id);
	cl->outstanding++;
	if (e->lookup == NULL) {
		log_debug("%s: %s: looking it up", c->name, q.name);
		hdns_lookup_start(e);
	} else
		hd.stats.coalesced++;
}

/*
 * Where the counters go (the shared status, for metrics and egressctl),
 * and when: with each answer, so that a client that has its response
 * finds its question counted.
 */
void
hdns_set_publish(void (*cb)(const struct hdns_counters *))
{
	hdns_publish_cb = cb;
}

static void
hdns_publish(void)
{
	const struct hres_stats	*r = hres_stats();
	struct hdns_counters	 n;

	if (hdns_publish_cb == NULL)
		return;
	n.queries = hd.stats.queries;
	n.hits = hd.stats.hits;
	n.misses = hd.stats.misses;
	n.failures = hd.stats.failures;
	n.entries = hd.cache.nentries - hd.cache.npending;
	n.udp = r->udp;
	n.tcp = r->tcp;
	n.tls = r->tls;
	n.ignored = r->ignored;
	n.records_ignored = r->records_ignored;
	hdns_publish_cb(&n);
}

void
hdns_log_stats(void)
{
	const struct hres_stats	*r = hres_stats();

	log_debug("queries %llu, cache hits %llu, misses %llu, coalesced "
	    "%llu, failures %llu, invalid %llu, busy %llu, pauses %llu, "
	    "evictions %llu, cached %zu",
	    (unsigned long long)hd.stats.queries,
	    (unsigned long long)hd.stats.hits,
	    (unsigned long long)hd.stats.misses,
	    (unsigned long long)hd.stats.coalesced,
	    (unsigned long long)hd.stats.failures,
	    (unsigned long long)hd.stats.invalid,
	    (unsigned long long)hd.stats.busy,
	    (unsigned long long)hd.stats.pauses,
	    (unsigned long long)hd.cache.evictions, hd.cache.nentries);
	log_debug("tries: udp %llu, tcp %llu, tls %llu (resumed %llu, "
	    "unverified %llu); timeouts %llu, failures %llu; datagrams "
	    "ignored %llu, truncated %llu, records of other names ignored "
	    "%llu",
	    (unsigned long long)r->udp, (unsigned long long)r->tcp,
	    (unsigned long long)r->tls, (unsigned long long)r->tls_resumed,
	    (unsigned long long)r->tls_unverified,
	    (unsigned long long)r->timeouts, (unsigned long long)r->failures,
	    (unsigned long long)r->ignored, (unsigned long long)r->truncated,
	    (unsigned long long)r->records_ignored);
}
