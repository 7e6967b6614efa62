/*
 * The workers' side of DNS, run in each worker: wdns_resolve() sends the
 * name to the helper (IMSG_DNS_QUERY) and calls back with its answer
 * (IMSG_DNS_ANSWER), always from the event loop, never from within
 * wdns_resolve().
 *
 * Flow control: at most WDNS_MAXSENT queries are out at the helper;
 * further ones wait in a local queue of WDNS_MAXQUEUE, and beyond that
 * are answered DNS_BUSY at once.  While there is no helper channel (the
 * helper died and the parent is starting a new one) queries wait in the
 * same queue; queries the dead helper had not answered are sent again to
 * the new one, first.  Every query ends within WDNS_DEADLINE ms of its
 * start: DNS_TIMEOUT if nothing else came first.  A query that timed out
 * or was cancelled after it was sent keeps its slot until the helper
 * answers it (or its channel goes), so the count of queries out at the
 * helper stays true.
 *
 * The helper is trusted less than the worker's own code: an answer that
 * does not make sense (too many addresses, an unknown family or status)
 * ends the channel as a protocol violation.  An answer whose id is
 * unknown is a late one (cancelled, timed out) and is dropped.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "egressd.h"

#define WDNS_MAXSENT	256	/* queries out at the helper */
#define WDNS_MAXQUEUE	4096	/* queries waiting to be sent */
#define WDNS_DEADLINE	5000	/* ms a query may take, in all */
#define WDNS_BUCKETS	1024	/* id hash, a power of two */

enum wdns_state {
	WQ_QUEUED = 0,		/* waiting for a slot or a helper */
	WQ_SENT,		/* out at the helper */
	WQ_ABANDONED,		/* out at the helper, nobody waits */
	WQ_DONE,		/* result ready, callback not yet run */
};

struct wdns_query {
	TAILQ_ENTRY(wdns_query)	 qentry;	/* queue, sent or done */
	TAILQ_ENTRY(wdns_query)	 dentry;	/* by deadline */
	LIST_ENTRY(wdns_query)	 hentry;	/* by id */
	uint32_t		 id;
	int			 state;		/* enum wdns_state */
	int			 timed;		/* on the deadline list */
	uint64_t		 deadline;	/* monotonic ms */
	wdns_cb			 cb;
	void			*arg;
	int			 status;	/* WQ_DONE: what to report */
	char			 name[EGD_HOST_MAX];
};
TAILQ_HEAD(wdns_queries, wdns_query);

static struct {
	struct event_base	*base;
	struct ps_chan		*helper;
	struct event		*timer;		/* the first deadline */
	struct event		*defer;		/* runs the done list */
	struct wdns_queries	 queue, sent, done, deadlines;
	LIST_HEAD(, wdns_query)	 ids[WDNS_BUCKETS];
	unsigned int		 nqueued, nsent;
	uint32_t		 lastid;
	/* The bounds, variables so that the tests can make them small. */
	unsigned int		 maxsent, maxqueue;
	uint64_t		 deadline_ms;
} wd;

static void	wdns_timer_cb(int, short, void *);
static void	wdns_defer_cb(int, short, void *);

static uint64_t
wdns_now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void
wdns_init(struct event_base *base)
{
	size_t	i;

	wd.base = base;
	TAILQ_INIT(&wd.queue);
	TAILQ_INIT(&wd.sent);
	TAILQ_INIT(&wd.done);
	TAILQ_INIT(&wd.deadlines);
	for (i = 0; i < WDNS_BUCKETS; i++)
		LIST_INIT(&wd.ids[i]);
	wd.maxsent = WDNS_MAXSENT;
	wd.maxqueue = WDNS_MAXQUEUE;
	wd.deadline_ms = WDNS_DEADLINE;
	if ((wd.timer = evtimer_new(base, wdns_timer_cb, NULL)) == NULL ||
	    (wd.defer = event_new(base, -1, 0, wdns_defer_cb, NULL)) == NULL)
		fatalx("event_new");
}

static struct wdns_query *
wdns_find(uint32_t id)
{
	struct wdns_query	*q;

	LIST_FOREACH(q, &wd.ids[id & (WDNS_BUCKETS - 1)], hentry)
		if (q->id == id)
			return q;
	return NULL;
}

/* Nonzero and not in use: a late answer can never reach a new query. */
static uint32_t
wdns_newid(void)
{
	do {
		if (++wd.lastid == 0)
			wd.lastid = 1;
	} while (wdns_find(wd.lastid) != NULL);
	return wd.lastid;
}

static void
wdns_schedule(void)
{
	struct wdns_query	*q;
	struct timeval		 tv;
	uint64_t		 now, ms;

	if ((q = TAILQ_FIRST(&wd.deadlines)) == NULL) {
		evtimer_del(wd.timer);
		return;
	}
	now = wdns_now();
	ms = q->deadline > now ? q->deadline - now : 0;
	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)((ms % 1000) * 1000);
	evtimer_add(wd.timer, &tv);
}

static void
wdns_untime(struct wdns_query *q)
{
	int	first = TAILQ_FIRST(&wd.deadlines) == q;

	if (!q->timed)
		return;
	TAILQ_REMOVE(&wd.deadlines, q, dentry);
	q->timed = 0;
	if (first)
		wdns_schedule();
}

/* Take q out of everything and free it. */
static void
wdns_free(struct wdns_query *q)
{
	wdns_untime(q);
	LIST_REMOVE(q, hentry);
	switch (q->state) {
	case WQ_QUEUED:
		TAILQ_REMOVE(&wd.queue, q, qentry);
		wd.nqueued--;
		break;
	case WQ_SENT:
	case WQ_ABANDONED:
		TAILQ_REMOVE(&wd.sent, q, qentry);
		wd.nsent--;
		break;
	case WQ_DONE:
		TAILQ_REMOVE(&wd.done, q, qentry);
		break;
	}
	free(q);
}

/* Send what waits, as far as the helper's slots go. */
static void
wdns_pump(void)
{
	struct wdns_query	*q;
	struct msg_dns_query	 m;

	while (wd.helper != NULL && wd.nsent < wd.maxsent &&
	    (q = TAILQ_FIRST(&wd.queue)) != NULL) {
		memset(&m, 0, sizeof(m));
		m.id = q->id;
		strlcpy(m.name, q->name, sizeof(m.name));
		if (ps_chan_compose(wd.helper, IMSG_DNS_QUERY, 0, -1, &m,
		    sizeof(m)) == -1)
			return;		/* dead: its closing brings a new one */
		TAILQ_REMOVE(&wd.queue, q, qentry);
		wd.nqueued--;
		q->state = WQ_SENT;
		TAILQ_INSERT_TAIL(&wd.sent, q, qentry);
		wd.nsent++;
	}
}

/* q ends with status, reported from the loop (never from the caller). */
static void
wdns_defer(struct wdns_query *q, int status)
{
	q->state = WQ_DONE;
	q->status = status;
	TAILQ_INSERT_TAIL(&wd.done, q, qentry);
	event_active(wd.defer, EV_TIMEOUT, 0);
}

static void
wdns_defer_cb(int fd, short ev, void *arg)
{
	struct wdns_query	*q;
	wdns_cb			 cb;
	void			*cbarg;
	int			 status;

	while ((q = TAILQ_FIRST(&wd.done)) != NULL) {
		cb = q->cb;
		cbarg = q->arg;
		status = q->status;
		wdns_free(q);
		cb(cbarg, status, NULL, 0, 0, 0);
	}
}

/*
 * Resolve name (a host name; case and one trailing dot do not matter).
 * Returns the query's id for wdns_cancel(); cb runs exactly once unless
 * cancelled, always later, from the event loop.
 */
uint32_t
wdns_resolve(const char *name, wdns_cb cb, void *arg)
{
	struct wdns_query	*q, *t;
	size_t			 i, len;

	q = ps_xcalloc(1, sizeof(*q));
	q->id = wdns_newid();
	q->cb = cb;
	q->arg = arg;
	LIST_INSERT_HEAD(&wd.ids[q->id & (WDNS_BUCKETS - 1)], q, hentry);

	len = strnlen(name, sizeof(q->name));
	if (len > 0 && len < sizeof(q->name) && name[len - 1] == '.')
		len--;
	if (len == 0 || len >= sizeof(q->name)) {
		wdns_defer(q, DNS_FAIL);
		return q->id;
	}
	for (i = 0; i < len; i++)
		q->name[i] = (char)tolower((unsigned char)name[i]);
	q->name[len] = '\0';

	if (wd.nqueued >= wd.maxqueue) {
		log_debug("%s: %u queries waiting already", q->name,
		    wd.nqueued);
		wdns_defer(q, DNS_BUSY);
		return q->id;
	}
	q->state = WQ_QUEUED;
	TAILQ_INSERT_TAIL(&wd.queue, q, qentry);
	wd.nqueued++;

	/* Deadlines are nearly always in start order: look from the end. */
	q->deadline = wdns_now() + wd.deadline_ms;
	TAILQ_FOREACH_REVERSE(t, &wd.deadlines, wdns_queries, dentry)
		if (t->deadline <= q->deadline)
			break;
	if (t == NULL)
		TAILQ_INSERT_HEAD(&wd.deadlines, q, dentry);
	else
		TAILQ_INSERT_AFTER(&wd.deadlines, t, q, dentry);
	q->timed = 1;
	if (TAILQ_FIRST(&wd.deadlines) == q)
		wdns_schedule();

	wdns_pump();
	return q->id;
}

/* The callback of id will not run.  Unknown or finished ids are fine. */
void
wdns_cancel(uint32_t id)
{
	struct wdns_query	*q;

	if (id == 0 || (q = wdns_find(id)) == NULL)
		return;
	switch (q->state) {
	case WQ_SENT:
		/* Keeps its slot until the helper answers. */
		q->state = WQ_ABANDONED;
		q->cb = NULL;
		wdns_untime(q);
		break;
	case WQ_ABANDONED:
		break;
	default:
		wdns_free(q);
		break;
	}
}

static void
wdns_timer_cb(int fd, short ev, void *arg)
{
	struct wdns_query	*q;
	wdns_cb			 cb;
	void			*cbarg;
	uint64_t		 now = wdns_now();

	while ((q = TAILQ_FIRST(&wd.deadlines)) != NULL &&
	    q->deadline <= now) {
		cb = q->cb;
		cbarg = q->arg;
		log_debug("%s: no answer in %llu ms", q->name,
		    (unsigned long long)wd.deadline_ms);
		if (q->state == WQ_SENT) {
			q->state = WQ_ABANDONED;
			q->cb = NULL;
			TAILQ_REMOVE(&wd.deadlines, q, dentry);
			q->timed = 0;
		} else
			wdns_free(q);
		cb(cbarg, DNS_TIMEOUT, NULL, 0, 0, 0);
	}
	wdns_schedule();
}

/*
 * The helper channel changed: c is a new one, or NULL while there is
 * none.  Every call means the previous channel is gone (it may even have
 * been freed and its memory reused for c): what was out at it is queued
 * again, ahead of the rest, and what nobody waits for any more is
 * dropped.
 */
void
wdns_set_helper(struct ps_chan *c)
{
	struct wdns_query	*q;
	unsigned int		 again = 0;

	while ((q = TAILQ_LAST(&wd.sent, wdns_queries)) != NULL) {
		if (q->state == WQ_ABANDONED) {
			wdns_free(q);
			continue;
		}
		TAILQ_REMOVE(&wd.sent, q, qentry);
		wd.nsent--;
		q->state = WQ_QUEUED;
		TAILQ_INSERT_HEAD(&wd.queue, q, qentry);
		wd.nqueued++;
		again++;
	}
	wd.helper = c;
	if (again > 0 || c == NULL)
		log_debug("helper channel %s: %u queries to send again, "
		    "%u waiting", c != NULL ? "new" : "gone", again,
		    wd.nqueued);
	wdns_pump();
}

/* IMSG_DNS_ANSWER, exactly sizeof(struct msg_dns_answer) (handler table). */
void
wdns_dispatch_answer(struct ps_chan *c, struct ps_msg *m)
{
	struct msg_dns_answer	 a;
	struct egd_addr		 addrs[EGD_DNS_MAXADDR];
	struct wdns_query	*q;
	wdns_cb			 cb;
	void			*cbarg;
	uint32_t		 i;

	if (c != wd.helper)
		return;
	memcpy(&a, m->data, sizeof(a));
	if (a.status < DNS_OK || a.status > DNS_BUSY ||
	    a.naddrs > EGD_DNS_MAXADDR || a.cached > 1 ||
	    (a.status == DNS_OK) != (a.naddrs > 0)) {
		log_warnx("%s: DNS answer %u: status %d with %u addresses",
		    c->name, a.id, a.status, a.naddrs);
		ps_chan_fail(c, "bad DNS answer");
		return;
	}
	for (i = 0; i < a.naddrs; i++) {
		if (a.addrs[i].af != AF_INET && a.addrs[i].af != AF_INET6) {
			log_warnx("%s: DNS answer %u: address family %u",
			    c->name, a.id, a.addrs[i].af);
			ps_chan_fail(c, "bad DNS answer");
			return;
		}
		addrs[i].af = a.addrs[i].af;
		memcpy(addrs[i].addr, a.addrs[i].addr, sizeof(addrs[i].addr));
	}
	if ((q = wdns_find(a.id)) == NULL ||
	    (q->state != WQ_SENT && q->state != WQ_ABANDONED)) {
		log_debug("%s: DNS answer %u: no such query", c->name, a.id);
		return;
	}
	cb = q->cb;
	cbarg = q->arg;
	wdns_free(q);
	wdns_pump();
	if (cb != NULL)
		cb(cbarg, a.status, addrs, (int)a.naddrs, a.ttl, (int)a.cached);
}

/* A status for logs and the audit trail. */
const char *
dns_status_name(int status)
{
	switch (status) {
	case DNS_OK:
		return "ok";
	case DNS_NXDOMAIN:
		return "nxdomain";
	case DNS_NODATA:
		return "nodata";
	case DNS_FAIL:
		return "fail";
	case DNS_TIMEOUT:
		return "timeout";
	case DNS_BUSY:
		return "busy";
	}
	return "unknown";
}
