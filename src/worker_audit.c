/*
 * The audit trail's way out of a worker: a bounded queue per sink, and
 * non-blocking writes driven by the event loop, so a slow or absent
 * receiver never holds up a request.  The sockets come from the parent
 * (parent_audit.c): the worker's sandbox can open none.  A datagram sink
 * (unix, udp, journald) gets one record per write; a TCP sink gets each
 * framed as RFC 6587 octet counting.  When a write fails, or a TCP
 * receiver closes, the socket is dropped and the parent asked for a new
 * one, at most once a second per sink, backing off to WA_RETRY_MAX;
 * records wait in the queue meanwhile.  A queue holds at most "buffer"
 * bytes: what does not fit is dropped and counted, and a DROPPED record
 * with the count takes the place of the missing ones as soon as there is
 * room.  stderr (-d, tests) is written at once, as log lines are.
 * Runs in the worker, under its seccomp profile: read, write, close and
 * fcntl on descriptors it was given, nothing more.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/queue.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/util.h>

#include "worker.h"

#define WA_RETRY_MIN	1	/* seconds before asking the parent again */
#define WA_RETRY_MAX	4
#define WA_UDP_QUIET	10	/* seconds without an error: UDP works */

/* A record waiting for its sink; off: bytes of it already sent (TCP). */
struct arec {
	TAILQ_ENTRY(arec)	 entry;
	size_t			 len, off;
	char			 data[];
};

struct wsink {
	struct audit_sink	 conf;
	uint32_t		 index;		/* in the current generation */
	int			 fmt;		/* enum audit_fmt */
	int			 fd;		/* -1: waiting for the parent */
	struct event		*wev;		/* writable again */
	struct event		*rev;		/* TCP: the receiver closed */
	struct event		*retry;		/* ask the parent again */
	int			 retry_s;
	struct timespec		 asked;		/* last request, 0: never */
	TAILQ_HEAD(, arec)	 q;
	size_t			 qbytes;
	uint64_t		 pending;	/* dropped, not yet reported */
	int			 down;		/* a failure was logged */
	struct timespec		 failed;	/* the last failure */
	char			 name[160];	/* for log lines */
};

static struct {
	struct ps_chan		*parent;
	uint32_t		 gen;
	size_t			 limit;		/* bytes a queue may hold */
	struct wsink		*sinks[EGD_AUDIT_MAXSINKS];
	int			 nsinks;
	uint64_t		 dropped;	/* all sinks, since start */
} wa;

static void	 wa_flush(struct wsink *);
static void	 wa_ask(struct wsink *);

static void
wa_write_cb(int fd, short ev, void *arg)
{
	wa_flush(arg);
}

/* Without a socket: ask again.  With one: try writing again. */
static void
wa_retry_cb(int fd, short ev, void *arg)
{
	struct wsink	*s = arg;

	if (s->fd == -1)
		wa_ask(s);
	else
		wa_flush(s);
}

static void
wa_close(struct wsink *s)
{
	struct arec	*r;

	if (s->wev != NULL)
		event_free(s->wev);
	if (s->rev != NULL)
		event_free(s->rev);
	s->wev = s->rev = NULL;
	if (s->fd != -1)
		close(s->fd);
	s->fd = -1;
	/* A frame cut by a failure is sent again whole on the next one. */
	if ((r = TAILQ_FIRST(&s->q)) != NULL)
		r->off = 0;
}

/* A failure: let go of the socket, queue from now on, ask for another. */
static void
wa_down(struct wsink *s, const char *why)
{
	if (!s->down)
		log_warnx("audit sink %s: %s; queueing up to %zu bytes",
		    s->name, why, wa.limit);
	s->down = 1;
	clock_gettime(CLOCK_MONOTONIC, &s->failed);
	wa_close(s);
	wa_ask(s);
}

static double
ts_since(const struct timespec *t)
{
	struct timespec	now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t->tv_sec) +
	    (double)(now.tv_nsec - t->tv_nsec) / 1e9;
}

/*
 * Ask the parent for a socket to sink s, no more than once a second: a
 * request too soon is put off.  Until a socket comes, the timer asks
 * again, each time a little later.
 */
static void
wa_ask(struct wsink *s)
{
	struct msg_audit_sink	 ms;
	struct timeval		 tv;
	double			 since;

	if (s->conf.type == ASINK_STDERR || s->fd != -1 || wa.parent == NULL)
		return;
	if (s->asked.tv_sec != 0 && (since = ts_since(&s->asked)) < 1.0) {
		tv.tv_sec = 0;
		tv.tv_usec = (suseconds_t)((1.0 - since) * 1e6) + 1000;
		evtimer_add(s->retry, &tv);
		return;
	}
	memset(&ms, 0, sizeof(ms));
	ms.gen = wa.gen;
	ms.sink = s->index;
	ps_chan_compose(wa.parent, IMSG_AUDIT_REQUEST, 0, -1, &ms,
	    sizeof(ms));
	clock_gettime(CLOCK_MONOTONIC, &s->asked);
	tv.tv_sec = s->retry_s;
	tv.tv_usec = 0;
	evtimer_add(s->retry, &tv);
	if ((s->retry_s *= 2) > WA_RETRY_MAX)
		s->retry_s = WA_RETRY_MAX;
}

static void
wa_enqueue(struct wsink *s, const char *data, size_t len)
{
	struct arec	*r;

	r = ps_xcalloc(1, sizeof(*r) + len);
	r->len = len;
	memcpy(r->data, data, len);
	TAILQ_INSERT_TAIL(&s->q, r, entry);
	s->qbytes += sizeof(*r) + len;
}

static void
wa_dequeue(struct wsink *s, struct arec *r)
{
	TAILQ_REMOVE(&s->q, r, entry);
	s->qbytes -= sizeof(*r) + r->len;
	free(r);
}

/*
 * After drops, the DROPPED record goes where the missing records would
 * have been, once it fits; until then nothing else is queued, so no
 * record ever follows a gap that is not reported before it.
 */
static void
wa_report_drops(struct wsink *s)
{
	struct audit_out	 o;
	char			 buf[1024];
	size_t			 n;

	if (s->pending == 0)
		return;
	audit_dropped(&o, s->pending, worker_instance);
	if ((n = audit_render(&o, s->fmt, buf, sizeof(buf))) == 0 ||
	    s->qbytes + sizeof(struct arec) + n > wa.limit)
		return;
	wa_enqueue(s, buf, n);
	log_warnx("audit sink %s: %llu records dropped", s->name,
	    (unsigned long long)s->pending);
	s->pending = 0;
}

static void
wa_push(struct wsink *s, const char *data, size_t len)
{
	wa_report_drops(s);
	if (s->pending > 0 || s->qbytes + sizeof(struct arec) + len >
	    wa.limit) {
		if (s->pending++ == 0)
			log_warnx("audit sink %s: queue full (%zu bytes), "
			    "dropping records", s->name, wa.limit);
		wa.dropped++;
		return;
	}
	wa_enqueue(s, data, len);
	if (s->fd != -1 && !event_pending(s->wev, EV_WRITE, NULL))
		wa_flush(s);
}

/* Whether a TCP receiver has closed: EOF or an error on a read. */
static int
wa_tcp_closed(struct wsink *s, const char **why)
{
	char	buf[256];
	ssize_t	n;
	int	i = 0;

	/* A receiver has nothing to say: what it says is ignored. */
	while ((n = read(s->fd, buf, sizeof(buf))) > 0)
		if (++i == 16)
			return 0;
	if (n == 0) {
		*why = "closed by the receiver";
		return 1;
	}
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return 0;
	*why = strerror(errno);
	return 1;
}

static void
wa_read_cb(int fd, short ev, void *arg)
{
	struct wsink	*s = arg;
	const char	*why;

	if (wa_tcp_closed(s, &why))
		wa_down(s, why);
}

/* Write what the socket takes, without blocking. */
static void
wa_flush(struct wsink *s)
{
	static const struct timeval nobufs = { 0, 10000 };
	struct arec	*r;
	const char	*why;
	ssize_t		 n;

	for (;;) {
		if (TAILQ_EMPTY(&s->q))
			wa_report_drops(s);
		if (s->fd == -1 || (r = TAILQ_FIRST(&s->q)) == NULL)
			return;
		if (s->conf.type == ASINK_TCP && r->off == 0 &&
		    wa_tcp_closed(s, &why)) {
			wa_down(s, why);
			return;
		}
		if ((n = write(s->fd, r->data + r->off, r->len - r->off)) ==
		    -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				event_add(s->wev, NULL);
				return;
			}
			if (errno == ENOBUFS) {
				/* No memory below the socket: a moment. */
				evtimer_add(s->retry, &nobufs);
				return;
			}
			if (errno == EMSGSIZE) {
				/* Never deliverable here: counted, dropped. */
				log_warnx("audit sink %s: record of %zu bytes "
				    "too large, dropped", s->name, r->len);
				wa_dequeue(s, r);
				s->pending++;
				wa.dropped++;
				continue;
			}
			wa_down(s, strerror(errno));
			return;
		}
		if ((r->off += (size_t)n) < r->len) {
			event_add(s->wev, NULL);
			return;
		}
		wa_dequeue(s, r);
		/*
		 * A write to UDP succeeds with no receiver: a UDP sink is
		 * back only once it has not failed for a while.
		 */
		if (s->down && (s->conf.type != ASINK_UDP ||
		    ts_since(&s->failed) > WA_UDP_QUIET)) {
			log_info("audit sink %s: delivering again", s->name);
			s->down = 0;
		}
	}
}

static struct wsink *
wa_new(const struct audit_sink *conf)
{
	struct wsink	*s;

	s = ps_xcalloc(1, sizeof(*s));
	s->conf = *conf;
	s->fd = -1;
	s->retry_s = WA_RETRY_MIN;
	TAILQ_INIT(&s->q);
	audit_sink_name(conf, s->name, sizeof(s->name));
	switch (conf->type) {
	case ASINK_TCP:
		s->fmt = AFMT_OCTET;
		break;
	case ASINK_JOURNALD:
		s->fmt = AFMT_JOURNAL;
		break;
	case ASINK_STDERR:
		s->fmt = AFMT_LINE;
		break;
	default:
		s->fmt = AFMT_SYSLOG;
	}
	if ((s->retry = evtimer_new(worker_base, wa_retry_cb, s)) == NULL)
		fatalx("evtimer_new");
	return s;
}

static void
wa_free(struct wsink *s)
{
	struct arec	*r;
	size_t		 n = 0;

	while ((r = TAILQ_FIRST(&s->q)) != NULL) {
		wa_dequeue(s, r);
		n++;
	}
	if (n > 0)
		log_warnx("audit sink %s: no longer configured, %zu queued "
		    "records discarded", s->name, n);
	wa_close(s);
	event_free(s->retry);
	free(s);
}

/*
 * A generation's audit settings, at start and on reload.  A sink that
 * stays keeps its socket and its queue; a new one asks the parent for a
 * socket; one that is gone is closed.
 */
void
waudit_conf(struct ps_chan *parent, const struct egressd_conf *conf)
{
	struct wsink	*old[EGD_AUDIT_MAXSINKS], *s;
	int		 nold, i, j;

	wa.parent = parent;
	wa.gen = conf->gen;
	wa.limit = (size_t)conf->audit.buffer;
	audit_config(conf->audit.sdid, conf->audit.events == AEVENTS_DENIALS);

	nold = wa.nsinks;
	memcpy(old, wa.sinks, sizeof(old));
	wa.nsinks = 0;
	for (i = 0; i < conf->audit.nsinks; i++) {
		s = NULL;
		for (j = 0; j < nold; j++)
			if (old[j] != NULL && audit_sink_equal(&old[j]->conf,
			    &conf->audit.sinks[i])) {
				s = old[j];
				old[j] = NULL;
				break;
			}
		if (s == NULL)
			s = wa_new(&conf->audit.sinks[i]);
		s->index = (uint32_t)i;
		wa.sinks[wa.nsinks++] = s;
	}
	for (j = 0; j < nold; j++)
		if (old[j] != NULL)
			wa_free(old[j]);
	/* A request still unanswered was for the old generation. */
	for (i = 0; i < wa.nsinks; i++)
		if (wa.sinks[i]->fd == -1)
			wa_ask(wa.sinks[i]);
}

/* A socket from the parent, for a sink of the generation it names. */
void
waudit_dispatch_sink(struct ps_chan *c, struct ps_msg *m)
{
	struct msg_audit_sink	 ms;
	struct wsink		*s;
	int			 fd = m->fd;

	m->fd = -1;
	memcpy(&ms, m->data, sizeof(ms));
	if (ms.gen != wa.gen || ms.sink >= (uint32_t)wa.nsinks ||
	    (s = wa.sinks[ms.sink])->conf.type == ASINK_STDERR ||
	    s->fd != -1) {
		close(fd);	/* late: a reload, or an answer already taken */
		return;
	}
	if (evutil_make_socket_nonblocking(fd) == -1) {
		log_warn("audit sink %s", s->name);
		close(fd);
		return;
	}
	s->fd = fd;
	if ((s->wev = event_new(worker_base, fd, EV_WRITE, wa_write_cb,
	    s)) == NULL)
		fatalx("event_new");
	if (s->conf.type == ASINK_TCP) {
		if ((s->rev = event_new(worker_base, fd, EV_READ | EV_PERSIST,
		    wa_read_cb, s)) == NULL)
			fatalx("event_new");
		event_add(s->rev, NULL);
	}
	evtimer_del(s->retry);
	s->retry_s = WA_RETRY_MIN;
	log_debug("audit sink %s: new socket, %zu bytes queued", s->name,
	    s->qbytes);
	wa_flush(s);
}

/* The sink of audit.c: every record to every sink. */
void
waudit_sink(const struct audit_out *o)
{
	char		 buf[AUDIT_OUT_MAX];
	struct wsink	*s;
	size_t		 n;
	int		 i;

	for (i = 0; i < wa.nsinks; i++) {
		s = wa.sinks[i];
		if ((n = audit_render(o, s->fmt, buf, sizeof(buf))) == 0)
			continue;
		if (s->conf.type == ASINK_STDERR)
			(void)write(STDERR_FILENO, buf, n);
		else
			wa_push(s, buf, n);
	}
}

/* Leaving: whatever the sockets take now; the rest is lost, and said. */
void
waudit_flush(void)
{
	struct wsink	*s;
	struct arec	*r;
	size_t		 n;
	int		 i;

	for (i = 0; i < wa.nsinks; i++) {
		s = wa.sinks[i];
		wa_flush(s);
		n = 0;
		TAILQ_FOREACH(r, &s->q, entry)
			n++;
		if (n > 0 || s->pending > 0)
			log_warnx("audit sink %s: leaving with %zu records "
			    "undelivered, %llu dropped", s->name, n,
			    (unsigned long long)s->pending);
	}
}

/* Records this worker dropped, all sinks, since it started. */
uint64_t
waudit_dropped(void)
{
	return wa.dropped;
}
