/*
 * Limits shared by all workers: concurrent connections and tunnels, in
 * total and per client address, and request rates (token buckets), kept
 * in one shared memory table that the parent creates and every worker
 * maps before its sandbox.
 *
 * Each worker writes only its own counter cells (conns[i], tunnels[i]),
 * so a worker that dies leaves nothing behind: its respawn, with the same
 * instance number, zeroes its cells before it accepts.  A check reads the
 * sum over all workers; two workers deciding at the same moment may let
 * one more in each, never more.  Rate buckets are one 64-bit word each
 * (milli-tokens, milliseconds) updated with compare-and-swap.
 */
#include "config.h"

#include <sys/types.h>

#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "egressd.h"

#define LIM_SLOTS	8192		/* client addresses tracked */
#define LIM_PROBES	16
#define LIM_REUSE_MS	60000		/* an idle slot may go to another */
#define LIM_MAGIC	0x65676c31	/* "egl1" */

struct lim_src {
	_Atomic uint64_t	 key;		/* hash of the address, 0: free */
	_Atomic uint64_t	 bucket;	/* request rate */
	_Atomic uint64_t	 lastuse;	/* ms */
	_Atomic uint16_t	 conns[EGRESSD_MAXWORKERS];
	_Atomic uint16_t	 tunnels[EGRESSD_MAXWORKERS];
};

struct lim_shm {
	uint32_t		 magic;
	_Atomic uint64_t	 bucket;	/* overall request rate */
	_Atomic uint32_t	 conns[EGRESSD_MAXWORKERS];
	_Atomic uint32_t	 tunnels[EGRESSD_MAXWORKERS];
	struct lim_src		 src[LIM_SLOTS];
};

static struct lim_shm	*lim;
static int		 lim_me;

size_t
limits_shm_size(void)
{
	return sizeof(struct lim_shm);
}

static uint64_t
now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* A worker takes the table and forgets what its predecessor counted. */
void
limits_attach(void *shm, int instance)
{
	int	i;

	lim = shm;
	lim_me = instance;
	if (lim->magic != LIM_MAGIC)
		lim->magic = LIM_MAGIC;
	atomic_store(&lim->conns[lim_me], 0);
	atomic_store(&lim->tunnels[lim_me], 0);
	for (i = 0; i < LIM_SLOTS; i++) {
		atomic_store(&lim->src[i].conns[lim_me], 0);
		atomic_store(&lim->src[i].tunnels[lim_me], 0);
	}
}

static uint64_t
addr_key(const struct egd_addr *a)
{
	uint64_t	h = 1469598103934665603ULL;
	int		i, n = a->af == AF_INET ? 4 : 16;

	h = (h ^ a->af) * 1099511628211ULL;
	for (i = 0; i < n; i++)
		h = (h ^ a->addr[i]) * 1099511628211ULL;
	return h ? h : 1;
}

static uint32_t
sum16(_Atomic uint16_t *c)
{
	uint32_t	n = 0;
	int		i;

	for (i = 0; i < EGRESSD_MAXWORKERS; i++)
		n += atomic_load_explicit(&c[i], memory_order_relaxed);
	return n;
}

static uint32_t
sum32(_Atomic uint32_t *c)
{
	uint32_t	n = 0;
	int		i;

	for (i = 0; i < EGRESSD_MAXWORKERS; i++)
		n += atomic_load_explicit(&c[i], memory_order_relaxed);
	return n;
}

/* The slot of address a, claimed if need be; NULL when all are busy. */
static struct lim_src *
src_slot(const struct egd_addr *a)
{
	struct lim_src	*s;
	uint64_t	 key = addr_key(a), cur, now = now_ms();
	int		 i;

	for (i = 0; i < LIM_PROBES; i++) {
		s = &lim->src[(key + (uint64_t)i) % LIM_SLOTS];
		cur = atomic_load(&s->key);
		if (cur == key)
			goto found;
		/* Free, or idle for long: take it over. */
		if ((cur == 0 || (sum16(s->conns) == 0 &&
		    sum16(s->tunnels) == 0 &&
		    now - atomic_load(&s->lastuse) > LIM_REUSE_MS)) &&
		    atomic_compare_exchange_strong(&s->key, &cur, key)) {
			atomic_store(&s->bucket, 0);
			goto found;
		}
	}
	return NULL;
found:
	atomic_store(&s->lastuse, now);
	return s;
}

/*
 * One token from a bucket of rate per second that holds burst.  The word
 * is (milli-tokens << 32 | ms), 0 for a bucket never used (full).
 */
static int
bucket_take(_Atomic uint64_t *b, uint32_t rate, uint32_t burst)
{
	uint64_t	old, new, tokens, full;
	uint32_t	now = (uint32_t)now_ms(), last;

	if (burst == 0)
		burst = rate;
	if (burst > 4000000)
		burst = 4000000;
	full = (uint64_t)burst * 1000;
	old = atomic_load(b);
	do {
		if (old == 0)
			tokens = full;
		else {
			last = (uint32_t)old;
			tokens = (old >> 32) + (uint64_t)(uint32_t)(now - last) *
			    rate;
			if (tokens > full)
				tokens = full;
		}
		if (tokens < 1000)
			return 0;
		new = ((tokens - 1000) << 32) | now;
		if (new == 0)
			new = 1;
	} while (!atomic_compare_exchange_weak(b, &old, new));
	return 1;
}

/*
 * A new client connection from a: counted, or refused with a reason.
 * *slot is what limits_conn_close() needs.
 */
int
limits_conn_open(const struct egd_limits *l, const struct egd_addr *a,
    void **slot)
{
	struct lim_src	*s = NULL;

	*slot = NULL;
	if (lim == NULL)
		return 0;
	if (l->conns && sum32(lim->conns) >= l->conns)
		return -1;
	if (l->src_conns) {
		if ((s = src_slot(a)) == NULL ||
		    sum16(s->conns) >= l->src_conns)
			return -1;
		atomic_fetch_add(&s->conns[lim_me], 1);
	}
	atomic_fetch_add(&lim->conns[lim_me], 1);
	*slot = s;
	return 0;
}

void
limits_conn_close(void *slot)
{
	struct lim_src	*s = slot;

	if (lim == NULL)
		return;
	atomic_fetch_sub(&lim->conns[lim_me], 1);
	if (s != NULL)
		atomic_fetch_sub(&s->conns[lim_me], 1);
}

int
limits_tunnel_open(const struct egd_limits *l, const struct egd_addr *a,
    void **slot)
{
	struct lim_src	*s = NULL;

	*slot = NULL;
	if (lim == NULL)
		return 0;
	if (l->tunnels && sum32(lim->tunnels) >= l->tunnels)
		return -1;
	if (l->src_tunnels) {
		if ((s = src_slot(a)) == NULL ||
		    sum16(s->tunnels) >= l->src_tunnels)
			return -1;
		atomic_fetch_add(&s->tunnels[lim_me], 1);
	}
	atomic_fetch_add(&lim->tunnels[lim_me], 1);
	*slot = s;
	return 0;
}

void
limits_tunnel_close(void *slot)
{
	struct lim_src	*s = slot;

	if (lim == NULL)
		return;
	atomic_fetch_sub(&lim->tunnels[lim_me], 1);
	if (s != NULL)
		atomic_fetch_sub(&s->tunnels[lim_me], 1);
}

/* May a request from a go now?  0 yes, -1 over a rate. */
int
limits_rate(const struct egd_limits *l, const struct egd_addr *a)
{
	struct lim_src	*s;

	if (lim == NULL)
		return 0;
	if (l->rate && !bucket_take(&lim->bucket, l->rate, l->burst))
		return -1;
	if (l->src_rate && ((s = src_slot(a)) == NULL ||
	    !bucket_take(&s->bucket, l->src_rate, l->src_burst)))
		return -1;
	return 0;
}

/* Totals for the metrics and egressctl. */
void
limits_totals(uint32_t *conns, uint32_t *tunnels)
{
	*conns = lim ? sum32(lim->conns) : 0;
	*tunnels = lim ? sum32(lim->tunnels) : 0;
}

/* One worker's own counts, for egressctl show workers. */
void
limits_worker(int i, uint32_t *conns, uint32_t *tunnels)
{
	if (lim == NULL || i < 0 || i >= EGRESSD_MAXWORKERS) {
		*conns = *tunnels = 0;
		return;
	}
	*conns = atomic_load_explicit(&lim->conns[i], memory_order_relaxed);
	*tunnels = atomic_load_explicit(&lim->tunnels[i],
	    memory_order_relaxed);
}
