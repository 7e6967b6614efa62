/*
 * The admin side of a worker: the metrics listener (GET /metrics in the
 * Prometheus text format 0.0.4) and the control socket that egressctl(8)
 * talks to.  Runs in every worker, sandboxed like the rest of it: the
 * parent binds both sockets and hands each worker a duplicate with every
 * generation; whichever worker accepts a client answers it alone, from
 * its own configuration generation and the shared status segment
 * (status.h), which holds the counters of all workers.
 *
 * The control socket speaks the privsep framing (privsep/imsg.c): first
 * IMSG_CTL_HELLO with egressctl's EGD_PROTO_VERSION, then one request,
 * answered with IMSG_CTL_TEXT pieces and one IMSG_CTL_END; then the
 * connection closes.  Who may talk is checked twice: by the socket's
 * mode (0660, root and the control group) and here, by SO_PEERCRED: uid
 * 0, or a primary gid equal to the control group's.  A reload or a
 * change of log verbosity is not done here: it goes to the parent as a
 * typed message with no payload from the client in it, and the parent
 * decides (reloads at most once a second).
 *
 * Both protocols are parsed with fixed bounds: a metrics request head of
 * at most MET_MAXHEAD bytes, control messages of the exact sizes in
 * ctl_table.
 *
 * So that clients who connect and say nothing cannot starve the admin
 * plane: each worker holds at most ADMIN_MAXCONN connections of each
 * kind; a connection whose request is not whole within
 * ADMIN_DEADLINE_MS of its accept is answered so (408, or an error for
 * egressctl) and closed; and a new client that finds every place taken
 * closes the oldest connection still waiting for its request (an idle
 * one) to make room, once that one has had ADMIN_GRACE_MS to send it:
 * until then the worker stops accepting and new clients wait in the
 * kernel's queue (admin_wait()), so that a flood of new connections
 * cannot push out a client before its request is read.  Root always
 * gets a control connection: its connections are never closed to make
 * room for another user's, and it takes the place of another user's
 * connection, idle or not, when it must.  A scrape takes, failing an
 * idle one, the place of the oldest scrape still being answered (a
 * client slow to read).  Only a control client that finds every place
 * busy with requests, none of them another user's it may take, is
 * turned away, with an answer saying so.  Every such closing is counted
 * (egressd_admin_closed_total).
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "worker.h"
#include "status.h"

#define MET_MAXHEAD	4096	/* bytes of a metrics request head */
#define ADMIN_MAXCONN	16	/* of each kind, per worker */
#define ADMIN_ACCEPTS	4	/* per wake-up, well below ADMIN_MAXCONN: a
				   client accepted is read before a flood of
				   new ones can push it out as idle */
#define ADMIN_DEADLINE_MS 2000	/* for the whole request, from the accept */
#define ADMIN_GRACE_MS	250	/* an idle client is safe from eviction */
#define ADMIN_TIMEOUT	10	/* seconds to write a metrics answer */
#define CTL_TIMEOUT	30	/* seconds for the rest of a control exchange */
#define ADMIN_DRAIN	65536	/* bytes read from a client closed unanswered */
#define CTL_CHUNK	16384	/* bytes of text in one IMSG_CTL_TEXT */
#define AGG_NGEN	32	/* generations shown, newest first */

#define LD(x)		atomic_load_explicit(&(x), memory_order_relaxed)

/* An admin socket of a generation. */
struct wadmin {
	TAILQ_ENTRY(wadmin)	 entry;
	struct msg_admin	 m;
	int			 fd;
	struct event		*ev;
	struct event		*resume;	/* accepting paused until */
};
TAILQ_HEAD(wadminlist, wadmin);

/* Phases of a control connection, as ps_handler phase bits. */
#define CP_HELLO	0x1
#define CP_REQUEST	0x2
#define CP_WAIT		0x4	/* for the parent's answer */
#define CP_DONE		0x8	/* answer queued: flush, then close */

struct wctl {
	TAILQ_ENTRY(wctl)	 entry;		/* oldest first */
	uint32_t		 id;
	struct ps_buf		 buf;
	struct event		*rev, *wev, *tev;
	uint32_t		 phase;
	uint64_t		 seen;
	uint32_t		 flags;		/* of the request */
	pid_t			 pid;		/* peer, for the logs */
	uid_t			 uid;
	int			 asked;		/* the request is whole */
	uint64_t		 since;		/* accepted, monotonic ms */
};

struct wmet {
	TAILQ_ENTRY(wmet)	 entry;		/* oldest first */
	struct bufferevent	*bev;
	struct event		*tev;		/* the request's deadline */
	int			 answered;
	uint64_t		 since;		/* accepted, monotonic ms */
};

static struct {
	struct wadminlist	 cur, pending;
	const struct egressd_conf *conf;
	uint32_t		 gen;
	int			 active;	/* loop running, accepting */
	int			 inited;
	struct ps_chan		*parent;
	struct event		*tick;		/* publishes audit drops */
	TAILQ_HEAD(, wctl)	 ctls;
	TAILQ_HEAD(, wmet)	 mets;
	int			 nctl, nmet;
	uint32_t		 nextid;
} adm;

/* The aggregate of every worker's cells, built for one answer. */
struct agg {
	uint64_t	 reqs[ST_NSVCIDX][ST_NDEC][ST_NCLASS];
	uint64_t	 denials[ST_NREASON];
	uint64_t	 hist[ST_NBUCKET];
	uint64_t	 bytes_in, bytes_out, dur_ms, dur_count;
	uint64_t	 audit_dropped, refused, pool_idle, revoked;
	uint64_t	 admin_closed[2][ST_NADMINCLOSE];
	char		 names[ST_NSVC][EGD_NAME_MAX];
	int		 named[ST_NSVC];
	/* Connections by generation, newest first, and beyond those. */
	struct st_gen_count gens[AGG_NGEN];
	int		 ngens;
	uint32_t	 more_conns, more_tunnels;
};
static struct agg	 agg;

static void	 wctl_accept_cb(int, short, void *);
static void	 wadmin_resume_cb(int, short, void *);
static void	 wctl_new(int);
static void	 wctl_free(struct wctl *);
static void	 wctl_read_cb(int, short, void *);
static void	 wctl_write_cb(int, short, void *);
static void	 wctl_timeout_cb(int, short, void *);
static void	 wctl_answer(struct wctl *, int32_t, struct evbuffer *);
static void	 wctl_error(struct wctl *, int32_t, const char *);
static void	 met_new(int);
static void	 met_free(struct wmet *);

/* What a control client may send, and when; anything else ends it. */
static const struct ps_handler ctl_table[] = {
	{ IMSG_CTL_HELLO, sizeof(uint32_t), sizeof(uint32_t), PS_FD_NONE,
	    CP_HELLO, 1, NULL },
	{ IMSG_CTL_SHOW_SUMMARY, sizeof(uint32_t), sizeof(uint32_t),
	    PS_FD_NONE, CP_REQUEST, 0, NULL },
	{ IMSG_CTL_SHOW_SERVICES, sizeof(uint32_t), sizeof(uint32_t),
	    PS_FD_NONE, CP_REQUEST, 0, NULL },
	{ IMSG_CTL_SHOW_ROUTES, sizeof(uint32_t), sizeof(uint32_t),
	    PS_FD_NONE, CP_REQUEST, 0, NULL },
	{ IMSG_CTL_SHOW_WORKERS, sizeof(uint32_t), sizeof(uint32_t),
	    PS_FD_NONE, CP_REQUEST, 0, NULL },
	{ IMSG_CTL_SHOW_DNS, sizeof(uint32_t), sizeof(uint32_t),
	    PS_FD_NONE, CP_REQUEST, 0, NULL },
	{ IMSG_CTL_RELOAD, sizeof(uint32_t), sizeof(uint32_t), PS_FD_NONE,
	    CP_REQUEST, 0, NULL },
	{ IMSG_CTL_LOG_VERBOSE, sizeof(uint32_t), sizeof(uint32_t),
	    PS_FD_NONE, CP_REQUEST, 0, NULL },
	{ IMSG_CTL_LOG_BRIEF, sizeof(uint32_t), sizeof(uint32_t),
	    PS_FD_NONE, CP_REQUEST, 0, NULL },
};

/* ---- generations ------------------------------------------------------- */

static void
wctl_init(void)
{
	if (adm.inited)
		return;
	TAILQ_INIT(&adm.cur);
	TAILQ_INIT(&adm.pending);
	TAILQ_INIT(&adm.ctls);
	TAILQ_INIT(&adm.mets);
	adm.inited = 1;
}

/* IMSG_STATUS: the shared status segment, mapped before the drop. */
void
wctl_dispatch_status(struct ps_chan *c, struct ps_msg *m)
{
	status_recv(m, ROLE_WORKER, worker_instance);
}

/* IMSG_CONF_ADMIN: a socket of the generation being received. */
void
wctl_dispatch_admin(struct ps_chan *c, struct ps_msg *m)
{
	struct wadmin	*a;

	wctl_init();
	a = ps_xcalloc(1, sizeof(*a));
	memcpy(&a->m, m->data, sizeof(a->m));
	if ((a->m.kind != ADMIN_METRICS && a->m.kind != ADMIN_CONTROL) ||
	    a->m.sslen > sizeof(a->m.ss))
		fatalx("parent: bad admin socket");
	a->fd = m->fd;
	m->fd = -1;
	TAILQ_INSERT_TAIL(&adm.pending, a, entry);
}

static uint64_t
admin_now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Accepting again on a listener paused by admin_wait(). */
static void
wadmin_resume_cb(int fd, short ev, void *arg)
{
	struct wadmin	*a = arg;

	if (adm.active)
		event_add(a->ev, NULL);
}

static void
wadmin_listen(struct wadminlist *l)
{
	struct wadmin	*a;

	TAILQ_FOREACH(a, l, entry) {
		if (a->ev != NULL || a->fd == -1)
			continue;
		if ((a->ev = event_new(worker_base, a->fd, EV_READ |
		    EV_PERSIST, wctl_accept_cb, a)) == NULL ||
		    (a->resume = evtimer_new(worker_base, wadmin_resume_cb,
		    a)) == NULL)
			fatalx("event_new");
		event_add(a->ev, NULL);
	}
}

static void
wadmin_close(struct wadminlist *l)
{
	struct wadmin	*a;

	while ((a = TAILQ_FIRST(l)) != NULL) {
		TAILQ_REMOVE(l, a, entry);
		if (a->ev != NULL)
			event_free(a->ev);
		if (a->resume != NULL)
			event_free(a->resume);
		if (a->fd != -1)
			close(a->fd);
		free(a);
	}
}

/*
 * A generation is in force: its sockets replace the last one's, which
 * the parent still holds for the others.  active: the loop runs and the
 * worker is not stopping.
 */
void
wctl_conf_end(const struct egressd_conf *conf, uint32_t gen, int active)
{
	struct wadmin	*a;

	wctl_init();
	wadmin_close(&adm.cur);
	while ((a = TAILQ_FIRST(&adm.pending)) != NULL) {
		TAILQ_REMOVE(&adm.pending, a, entry);
		TAILQ_INSERT_TAIL(&adm.cur, a, entry);
	}
	adm.conf = conf;
	adm.gen = gen;
	status_worker_gen(gen);
	if (active && adm.active)
		wadmin_listen(&adm.cur);
}

/* Audit records dropped (worker_audit.c) into the shared status. */
static void
wctl_tick_cb(int fd, short ev, void *arg)
{
	status_audit_dropped(waudit_dropped());
}

/* The loop exists: start accepting. */
void
wctl_start(struct ps_chan *parent)
{
	struct timeval	tv = { 1, 0 };

	wctl_init();
	adm.parent = parent;
	adm.active = 1;
	wadmin_listen(&adm.cur);
	if ((adm.tick = event_new(worker_base, -1, EV_PERSIST, wctl_tick_cb,
	    NULL)) == NULL)
		fatalx("event_new");
	evtimer_add(adm.tick, &tv);
}

/* Stopping: no new admin clients; those connected are answered. */
void
wctl_shutdown(void)
{
	wctl_init();
	adm.active = 0;
	wadmin_close(&adm.cur);
}

/*
 * Every place of a's kind taken, and the oldest client still waiting
 * for its request (not root's, on the control socket) is younger than
 * ADMIN_GRACE_MS: no one may be closed for a new client yet.  Accepting
 * pauses until it may; meanwhile new clients wait in the kernel's queue,
 * their requests in their sockets, ready to be read at once.  Returns
 * 1 when paused.
 */
static int
admin_wait(struct wadmin *a)
{
	struct timeval	 tv;
	const struct wmet *m;
	const struct wctl *c;
	uint64_t	 since = 0, now;

	if (a->m.kind == ADMIN_METRICS) {
		if (adm.nmet < ADMIN_MAXCONN)
			return 0;
		TAILQ_FOREACH(m, &adm.mets, entry)
			if (!m->answered)
				break;
		if (m == NULL)
			return 0;	/* none idle: a slow reader goes */
		since = m->since;
	} else {
		if (adm.nctl < ADMIN_MAXCONN)
			return 0;
		TAILQ_FOREACH(c, &adm.ctls, entry)
			if ((c->phase & (CP_HELLO | CP_REQUEST)) &&
			    c->uid != 0)
				break;
		if (c == NULL)
			return 0;	/* root may still take a place */
		since = c->since;
	}
	now = admin_now();
	if (now >= since + ADMIN_GRACE_MS)
		return 0;
	tv.tv_sec = 0;
	tv.tv_usec = (suseconds_t)((since + ADMIN_GRACE_MS - now) * 1000);
	event_del(a->ev);
	evtimer_add(a->resume, &tv);
	return 1;
}

static void
wctl_accept_cb(int fd, short ev, void *arg)
{
	struct wadmin	*a = arg;
	int		 s, i;

	for (i = 0; i < ADMIN_ACCEPTS; i++) {
		if (admin_wait(a))
			return;
		if ((s = accept4(fd, NULL, NULL, SOCK_NONBLOCK |
		    SOCK_CLOEXEC)) == -1) {
			if (errno != EAGAIN && errno != EINTR &&
			    errno != ECONNABORTED)
				log_warn("%s: accept", a->m.kind ==
				    ADMIN_METRICS ? "metrics" : "control");
			return;
		}
		if (a->m.kind == ADMIN_METRICS)
			met_new(s);
		else
			wctl_new(s);
	}
}

/*
 * The last word (msg, len bytes) to a client about to be closed
 * unanswered, written without waiting.  What it sent is read first (up
 * to ADMIN_DRAIN bytes), so that closing does not reset the connection
 * and throw the last word away before the client reads it.
 */
static void
admin_last_word(int s, const void *msg, size_t len)
{
	char	buf[4096];
	size_t	n = 0;
	ssize_t	r;

	while (n < ADMIN_DRAIN && (r = read(s, buf, sizeof(buf))) > 0)
		n += (size_t)r;
	if (len > 0 && write(s, msg, len) == -1)
		log_debug("admin client: %s", strerror(errno));
}

/* ---- text: escaping and numbers ---------------------------------------- */

/*
 * The length of the UTF-8 sequence at s (n bytes there), 0 if it is not
 * valid or is a control character (C0, DEL, C1).
 */
static size_t
utf8_seq(const unsigned char *s, size_t n)
{
	uint32_t	cp;
	size_t		len, i;

	if (s[0] < 0x80)
		return s[0] >= 0x20 && s[0] != 0x7f ? 1 : 0;
	if ((s[0] & 0xe0) == 0xc0) {
		len = 2;
		cp = s[0] & 0x1f;
	} else if ((s[0] & 0xf0) == 0xe0) {
		len = 3;
		cp = s[0] & 0x0f;
	} else if ((s[0] & 0xf8) == 0xf0) {
		len = 4;
		cp = s[0] & 0x07;
	} else
		return 0;
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || (cp >= 0x80 && cp <= 0x9f))
		return 0;
	return len;
}

enum esc {
	ESC_TEXT,	/* for a terminal: \" \\, anything else odd as '?' */
	ESC_PROM,	/* a Prometheus label value */
	ESC_JSON,	/* a JSON string */
};

/* s, quoted and escaped for where it goes; at most max bytes of it. */
static void
put_str(struct evbuffer *b, const char *s, size_t max, int how)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 n = strnlen(s, max), k;

	evbuffer_add(b, "\"", 1);
	while (n > 0) {
		if (*p == '"' || *p == '\\') {
			evbuffer_add(b, "\\", 1);
			evbuffer_add(b, p, 1);
			k = 1;
		} else if (*p == '\n' && how != ESC_TEXT) {
			evbuffer_add(b, "\\n", 2);
			k = 1;
		} else if ((k = utf8_seq(p, n)) > 0)
			evbuffer_add(b, p, k);
		else {
			if (how == ESC_JSON && *p < 0x80)
				evbuffer_add_printf(b, "\\u%04x", *p);
			else if (how == ESC_JSON)
				evbuffer_add(b, "\\ufffd", 6);
			else
				evbuffer_add(b, "?", 1);
			k = 1;
		}
		p += k;
		n -= k;
	}
	evbuffer_add(b, "\"", 1);
}

/* A duration in ms as seconds, shortest form: 5 -> 0.005, 2500 -> 2.5. */
static void
put_secs(struct evbuffer *b, uint64_t ms)
{
	char	frac[8];
	int	n;

	if (ms % 1000 == 0) {
		evbuffer_add_printf(b, "%llu", (unsigned long long)(ms / 1000));
		return;
	}
	snprintf(frac, sizeof(frac), "%03u", (unsigned)(ms % 1000));
	for (n = 3; n > 0 && frac[n - 1] == '0'; n--)
		frac[n - 1] = '\0';
	evbuffer_add_printf(b, "%llu.%s", (unsigned long long)(ms / 1000),
	    frac);
}

/* A time(3) value as UTC text; no time zone files in the empty root. */
static void
put_time(struct evbuffer *b, int64_t t)
{
	struct tm	tm;
	time_t		tt = (time_t)t;
	char		buf[32];

	if (t <= 0 || gmtime_r(&tt, &tm) == NULL) {
		evbuffer_add(b, "-", 1);
		return;
	}
	strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S UTC", &tm);
	evbuffer_add(b, buf, strlen(buf));
}

static void
put_uptime(struct evbuffer *b, int64_t secs)
{
	if (secs < 0)
		secs = 0;
	if (secs >= 86400)
		evbuffer_add_printf(b, "%lldd ", (long long)(secs / 86400));
	evbuffer_add_printf(b, "%02lld:%02lld:%02lld",
	    (long long)(secs % 86400 / 3600), (long long)(secs % 3600 / 60),
	    (long long)(secs % 60));
}

/* ---- the status, summed ------------------------------------------------ */

static const char *const dec_names[ST_NDEC] = { "allow", "deny", "report" };
static const char *const ac_names[ST_NADMINCLOSE] = ST_AC_NAMES;
static const char *const class_names[ST_NCLASS] = {
	"none", "1xx", "2xx", "3xx", "4xx", "5xx"
};

/*
 * A running worker's connections by generation into agg.gens, kept in
 * order, newest first; what does not fit is summed with the rest.
 */
static void
agg_gens(const struct st_worker *w)
{
	struct st_gen_count	 c;
	int			 i, j;

	agg.more_conns += LD(w->gen_more_conns);
	agg.more_tunnels += LD(w->gen_more_tunnels);
	for (i = 0; i < ST_NGEN; i++) {
		c.gen = LD(w->gens[i].gen);
		c.conns = LD(w->gens[i].conns);
		c.tunnels = LD(w->gens[i].tunnels);
		if (c.gen == 0)
			continue;
		for (j = 0; j < agg.ngens && agg.gens[j].gen > c.gen; j++)
			;
		if (j < agg.ngens && agg.gens[j].gen == c.gen) {
			agg.gens[j].conns += c.conns;
			agg.gens[j].tunnels += c.tunnels;
			continue;
		}
		if (j == AGG_NGEN) {
			agg.more_conns += c.conns;
			agg.more_tunnels += c.tunnels;
			continue;
		}
		if (agg.ngens == AGG_NGEN) {
			agg.more_conns += agg.gens[AGG_NGEN - 1].conns;
			agg.more_tunnels += agg.gens[AGG_NGEN - 1].tunnels;
			agg.ngens--;
		}
		memmove(&agg.gens[j + 1], &agg.gens[j],
		    (size_t)(agg.ngens - j) * sizeof(agg.gens[0]));
		agg.gens[j] = c;
		agg.ngens++;
	}
}

static void
agg_collect(void)
{
	const struct status_shm	*s = status_shm;
	const struct st_worker	*w;
	int			 i, j, k, d, c, other = -1;

	wctl_tick_cb(-1, 0, NULL);
	memset(&agg, 0, sizeof(agg));
	if (s == NULL)
		return;
	for (i = 0; i < ST_NSVC; i++) {
		if (LD(s->svc[i].key) == 0 || !LD(s->svc[i].ready))
			continue;
		/* Another worker may have written anything: bounded. */
		memcpy(agg.names[i], s->svc[i].name, EGD_NAME_MAX);
		agg.names[i][EGD_NAME_MAX - 1] = '\0';
		agg.named[i] = 1;
		if (other == -1 && strcmp(agg.names[i], "other") == 0)
			other = i;
	}
	for (k = 0; k < EGRESSD_MAXWORKERS; k++) {
		w = &s->workers[k];
		for (i = 0; i < ST_NSVCIDX; i++)
			for (d = 0; d < ST_NDEC; d++)
				for (c = 0; c < ST_NCLASS; c++)
					agg.reqs[i][d][c] +=
					    LD(w->reqs[i][d][c]);
		for (j = 0; j < ST_NREASON; j++)
			agg.denials[j] += LD(w->denials[j]);
		for (j = 0; j < ST_NBUCKET; j++)
			agg.hist[j] += LD(w->hist[j]);
		agg.bytes_in += LD(w->bytes_in);
		agg.bytes_out += LD(w->bytes_out);
		agg.dur_ms += LD(w->dur_ms);
		agg.dur_count += LD(w->dur_count);
		agg.audit_dropped += LD(w->audit_dropped);
		agg.refused += LD(w->admin_refused);
		for (j = 0; j < ST_NADMINCLOSE; j++) {
			agg.admin_closed[0][j] += LD(w->admin_closed[0][j]);
			agg.admin_closed[1][j] += LD(w->admin_closed[1][j]);
		}
		agg.pool_idle += LD(w->pool_idle);
		agg.revoked += LD(w->revoked);
		if (LD(s->parent.workers[k].pid) > 0)
			agg_gens(w);
	}
	/*
	 * Names beyond the table count as "other", and so does a slot
	 * whose writer died before its name was whole; a service really
	 * called "other" shares its series with them.
	 */
	for (i = 0; i < ST_NSVC; i++) {
		if (agg.named[i] && i != other)
			continue;
		for (d = 0; d < ST_NDEC; d++)
			for (c = 0; c < ST_NCLASS; c++) {
				agg.reqs[ST_OTHER][d][c] += agg.reqs[i][d][c];
				agg.reqs[i][d][c] = 0;
			}
	}
}

/* Requests counted for a service name, by decision. */
static void
agg_service(const char *name, uint64_t out[ST_NDEC])
{
	int	i, d, c;

	memset(out, 0, sizeof(uint64_t) * ST_NDEC);
	if ((i = status_svc_find(name)) == -1)
		return;
	if (strcmp(name, "other") == 0)
		i = ST_OTHER;
	for (d = 0; d < ST_NDEC; d++)
		for (c = 0; c < ST_NCLASS; c++)
			out[d] += agg.reqs[i][d][c];
}

static void
agg_decisions(uint64_t out[ST_NDEC])
{
	int	i, d, c;

	memset(out, 0, sizeof(uint64_t) * ST_NDEC);
	for (i = 0; i < ST_NSVCIDX; i++)
		for (d = 0; d < ST_NDEC; d++)
			for (c = 0; c < ST_NCLASS; c++)
				out[d] += agg.reqs[i][d][c];
}

static uint64_t
worker_requests(int k)
{
	const struct st_worker	*w = &status_shm->workers[k];
	uint64_t		 n = 0;
	int			 i, d, c;

	for (i = 0; i < ST_NSVCIDX; i++)
		for (d = 0; d < ST_NDEC; d++)
			for (c = 0; c < ST_NCLASS; c++)
				n += LD(w->reqs[i][d][c]);
	return n;
}

static uint32_t
restarts_total(void)
{
	uint32_t	n = 0;
	int		i;

	for (i = 0; i < EGRESSD_MAXWORKERS; i++)
		n += LD(status_shm->parent.workers[i].restarts);
	return n;
}

/* ---- GET /metrics ------------------------------------------------------ */

static void
met_head(struct evbuffer *b, const char *name, const char *type,
    const char *help)
{
	evbuffer_add_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help,
	    name, type);
}

static void
met_one(struct evbuffer *b, const char *name, const char *type,
    const char *help, unsigned long long v)
{
	met_head(b, name, type, help);
	evbuffer_add_printf(b, "%s %llu\n", name, v);
}

static void
metrics_render(struct evbuffer *b)
{
	static const int		 bounds[ST_NBUCKET] = ST_BUCKETS_MS;
	const struct status_shm		*s = status_shm;
	uint64_t			 cum;
	uint32_t			 conns, tunnels;
	int				 i, d, c;

	agg_collect();
	limits_totals(&conns, &tunnels);

	met_head(b, "egressd_requests_total", "counter", "Requests, tunnels "
	    "and refusals (one per audit record), by service, decision and "
	    "status class.");
	for (i = 0; i < ST_NSVCIDX; i++)
		for (d = 0; d < ST_NDEC; d++)
			for (c = 0; c < ST_NCLASS; c++) {
				if (agg.reqs[i][d][c] == 0)
					continue;
				evbuffer_add_printf(b,
				    "egressd_requests_total{service=");
				put_str(b, i < ST_NSVC ? agg.names[i] : i ==
				    ST_OTHER ? "other" : "", EGD_NAME_MAX,
				    ESC_PROM);
				evbuffer_add_printf(b, ",decision=\"%s\","
				    "code_class=\"%s\"} %llu\n", dec_names[d],
				    class_names[c],
				    (unsigned long long)agg.reqs[i][d][c]);
			}

	met_head(b, "egressd_denials_total", "counter",
	    "Denials, by reason (the audit trail's vocabulary).");
	for (i = 1; i < AR_MAX; i++)
		if (i != AR_REPORT_ONLY)
			evbuffer_add_printf(b, "egressd_denials_total{reason="
			    "\"%s\"} %llu\n", audit_reason_name(i),
			    (unsigned long long)agg.denials[i]);

	met_one(b, "egressd_connections_active", "gauge",
	    "Client connections open, all workers.", conns);
	met_one(b, "egressd_tunnels_active", "gauge",
	    "Tunnels open (CONNECT, websocket), all workers.", tunnels);
	met_head(b, "egressd_generation_connections", "gauge",
	    "Client connections by the configuration generation their "
	    "request or tunnel was decided under.");
	for (i = 0; i < agg.ngens; i++)
		evbuffer_add_printf(b, "egressd_generation_connections{"
		    "generation=\"%u\"} %u\n", agg.gens[i].gen,
		    agg.gens[i].conns);
	if (agg.more_conns > 0)
		evbuffer_add_printf(b, "egressd_generation_connections{"
		    "generation=\"older\"} %u\n", agg.more_conns);
	met_head(b, "egressd_generation_tunnels", "gauge",
	    "Tunnels (CONNECT, passthrough, websocket) by the generation "
	    "they were opened under.");
	for (i = 0; i < agg.ngens; i++)
		evbuffer_add_printf(b, "egressd_generation_tunnels{"
		    "generation=\"%u\"} %u\n", agg.gens[i].gen,
		    agg.gens[i].tunnels);
	if (agg.more_tunnels > 0)
		evbuffer_add_printf(b, "egressd_generation_tunnels{"
		    "generation=\"older\"} %u\n", agg.more_tunnels);
	met_one(b, "egressd_revocations_total", "counter",
	    "Tunnels a reload refused and closed (audit reason revoked).",
	    agg.revoked);
	met_head(b, "egressd_bytes_total", "counter",
	    "Bytes from clients (in) and to clients (out).");
	evbuffer_add_printf(b, "egressd_bytes_total{direction=\"in\"} %llu\n"
	    "egressd_bytes_total{direction=\"out\"} %llu\n",
	    (unsigned long long)agg.bytes_in,
	    (unsigned long long)agg.bytes_out);

	met_head(b, "egressd_request_duration_seconds", "histogram",
	    "Time from a request's start to its audit record.");
	for (i = 0, cum = 0; i < ST_NBUCKET; i++) {
		cum += agg.hist[i];
		evbuffer_add_printf(b,
		    "egressd_request_duration_seconds_bucket{le=\"");
		if (i == ST_NBUCKET - 1)
			evbuffer_add_printf(b, "+Inf");
		else
			put_secs(b, (uint64_t)bounds[i]);
		evbuffer_add_printf(b, "\"} %llu\n", (unsigned long long)cum);
	}
	evbuffer_add_printf(b, "egressd_request_duration_seconds_sum ");
	put_secs(b, agg.dur_ms);
	evbuffer_add_printf(b, "\negressd_request_duration_seconds_count "
	    "%llu\n", (unsigned long long)agg.dur_count);

	met_one(b, "egressd_upstream_pool_idle", "gauge",
	    "Idle keep-alive upstream connections, all workers.",
	    agg.pool_idle);
	met_one(b, "egressd_dns_queries_total", "counter",
	    "DNS questions the helper was asked.", LD(s->helper.queries));
	met_one(b, "egressd_dns_cache_hits_total", "counter",
	    "DNS questions answered from the helper's cache.",
	    LD(s->helper.hits));
	met_one(b, "egressd_dns_cache_misses_total", "counter",
	    "DNS lookups the helper sent to a server.",
	    LD(s->helper.misses));
	met_one(b, "egressd_dns_failures_total", "counter",
	    "DNS answers that were not an address.",
	    LD(s->helper.failures));
	met_one(b, "egressd_dns_cache_entries", "gauge",
	    "Names in the helper's cache.", LD(s->helper.entries));
	met_head(b, "egressd_dns_tries_total", "counter",
	    "DNS questions sent to a server, by transport.");
	evbuffer_add_printf(b, "egressd_dns_tries_total{transport=\"udp\"} "
	    "%llu\negressd_dns_tries_total{transport=\"tcp\"} %llu\n"
	    "egressd_dns_tries_total{transport=\"tls\"} %llu\n",
	    (unsigned long long)LD(s->helper.tries[0]),
	    (unsigned long long)LD(s->helper.tries[1]),
	    (unsigned long long)LD(s->helper.tries[2]));
	met_one(b, "egressd_dns_answers_ignored_total", "counter",
	    "DNS datagrams that answered no question asked (another id, "
	    "question or letter case).", LD(s->helper.ignored));
	met_one(b, "egressd_dns_records_ignored_total", "counter",
	    "DNS records ignored: owned by neither the name asked nor its "
	    "CNAME chain.", LD(s->helper.records_ignored));
	met_one(b, "egressd_key_operations_total", "counter",
	    "Private-key operations the helper was asked for.",
	    LD(s->helper.key_ops));
	met_one(b, "egressd_key_operations_refused_total", "counter",
	    "Private-key operations the helper refused or failed.",
	    LD(s->helper.key_refused));
	met_one(b, "egressd_audit_dropped_total", "counter",
	    "Audit records an audit sink could not take.",
	    agg.audit_dropped);
	met_one(b, "egressd_control_refused_total", "counter",
	    "Control socket clients turned away (SO_PEERCRED).",
	    agg.refused);
	met_head(b, "egressd_admin_closed_total", "counter",
	    "Admin clients closed before they were done: no request in time "
	    "(deadline), closed to make room while idle or while being "
	    "answered, or turned away (busy).");
	for (i = 0; i < 2; i++)
		for (d = 0; d < ST_NADMINCLOSE; d++)
			evbuffer_add_printf(b, "egressd_admin_closed_total{"
			    "socket=\"%s\",reason=\"%s\"} %llu\n", i == 0 ?
			    "metrics" : "control", ac_names[d],
			    (unsigned long long)agg.admin_closed[i][d]);
	met_one(b, "egressd_worker_restarts_total", "counter",
	    "Workers that died and were started again.", restarts_total());
	met_one(b, "egressd_helper_restarts_total", "counter",
	    "Times the helper died and was started again.",
	    LD(s->parent.helper.restarts));
	met_one(b, "egressd_workers", "gauge", "Workers configured.",
	    LD(s->parent.nworkers));
	met_one(b, "egressd_config_generation", "gauge",
	    "Configuration generation loaded by the parent.",
	    LD(s->parent.gen));
	met_one(b, "egressd_config_last_reload_success", "gauge",
	    "1 if the last reload (or the start) loaded the file.",
	    LD(s->parent.reload_ok));
	met_one(b, "egressd_config_last_reload_timestamp_seconds", "gauge",
	    "When the last reload (or the start) was tried.",
	    (unsigned long long)LD(s->parent.reload_time));
	met_one(b, "egressd_start_time_seconds", "gauge",
	    "When the parent started.",
	    (unsigned long long)LD(s->parent.started));
}

static void
met_free(struct wmet *m)
{
	TAILQ_REMOVE(&adm.mets, m, entry);
	if (m->tev != NULL)
		event_free(m->tev);
	bufferevent_free(m->bev);
	free(m);
	adm.nmet--;
}

/* A short text answer, as the last word to a metrics client on s. */
static void
met_last_word(int s, int status, const char *reason, const char *text)
{
	char	buf[512];
	int	n;

	n = snprintf(buf, sizeof(buf), "HTTP/1.1 %d %s\r\nContent-Type: "
	    "text/plain\r\nContent-Length: %zu\r\nConnection: close\r\n"
	    "\r\n%s\n", status, reason, strlen(text) + 1, text);
	admin_last_word(s, buf, n > 0 && (size_t)n < sizeof(buf) ?
	    (size_t)n : 0);
}

static void
met_event_cb(struct bufferevent *bev, short what, void *arg)
{
	met_free(arg);
}

static void
met_write_cb(struct bufferevent *bev, void *arg)
{
	struct wmet	*m = arg;

	if (m->answered &&
	    evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		met_free(m);
}

static void
met_answer(struct wmet *m, int status, const char *text,
    struct evbuffer *body, int head)
{
	struct evbuffer	*out = bufferevent_get_output(m->bev);
	size_t		 len;

	len = body != NULL ? evbuffer_get_length(body) : strlen(text) + 1;
	evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n"
	    "Content-Length: %zu\r\nConnection: close\r\n\r\n", status, text,
	    body != NULL ? "text/plain; version=0.0.4; charset=utf-8" :
	    "text/plain", len);
	if (!head && body != NULL)
		evbuffer_add_buffer(out, body);
	else if (!head)
		evbuffer_add_printf(out, "%s\n", text);
	m->answered = 1;
	evtimer_del(m->tev);
	bufferevent_disable(m->bev, EV_READ);
}

/* The request line: METHOD SP TARGET SP HTTP/1.x, nothing else. */
static void
met_request(struct wmet *m, const char *line, size_t len)
{
	struct evbuffer	*body;
	const char	*sp1, *sp2, *path;
	size_t		 mlen, plen, vlen, i;
	int		 head;

	if ((sp1 = memchr(line, ' ', len)) == NULL ||
	    (sp2 = memchr(sp1 + 1, ' ', len - (size_t)(sp1 + 1 - line))) ==
	    NULL) {
		met_answer(m, 400, "Bad Request", NULL, 0);
		return;
	}
	mlen = (size_t)(sp1 - line);
	path = sp1 + 1;
	plen = (size_t)(sp2 - path);
	vlen = len - (size_t)(sp2 + 1 - line);
	for (i = 0; i < mlen; i++)
		if (line[i] < 'A' || line[i] > 'Z')
			break;
	if (mlen == 0 || i != mlen || plen == 0 || path[0] != '/' ||
	    vlen != 8 || (memcmp(sp2 + 1, "HTTP/1.0", 8) != 0 &&
	    memcmp(sp2 + 1, "HTTP/1.1", 8) != 0)) {
		met_answer(m, 400, "Bad Request", NULL, 0);
		return;
	}
	/* The path, without a query string. */
	for (i = 0; i < plen && path[i] != '?'; i++)
		;
	if (i != 8 || memcmp(path, "/metrics", 8) != 0) {
		met_answer(m, 404, "Not Found", NULL, 0);
		return;
	}
	head = mlen == 4 && memcmp(line, "HEAD", 4) == 0;
	if (!head && (mlen != 3 || memcmp(line, "GET", 3) != 0)) {
		met_answer(m, 405, "Method Not Allowed", NULL, 0);
		return;
	}
	if ((body = evbuffer_new()) == NULL) {
		met_answer(m, 500, "Internal Server Error", NULL, 0);
		return;
	}
	metrics_render(body);
	met_answer(m, 200, "OK", body, head);
	evbuffer_free(body);
}

/* No whole request within the deadline: 408, and the place is free. */
static void
met_deadline_cb(int fd, short ev, void *arg)
{
	struct wmet	*m = arg;

	if (m->answered)
		return;
	status_admin_closed(0, ST_AC_DEADLINE);
	log_debug("metrics: no request within %d ms, closed",
	    ADMIN_DEADLINE_MS);
	met_last_word(bufferevent_getfd(m->bev), 408, "Request Timeout",
	    "no request within 2 seconds");
	met_free(m);
}

static void
met_read_cb(struct bufferevent *bev, void *arg)
{
	struct wmet	*m = arg;
	struct evbuffer	*in = bufferevent_get_input(bev);
	const char	*p, *eol;
	size_t		 len = evbuffer_get_length(in), n;

	if (m->answered)
		return;
	if (len > MET_MAXHEAD)
		len = MET_MAXHEAD;
	if ((p = (const char *)evbuffer_pullup(in, (ssize_t)len)) == NULL) {
		met_free(m);
		return;
	}
	/* The head is whole at an empty line. */
	if (memmem(p, len, "\r\n\r\n", 4) == NULL &&
	    memmem(p, len, "\n\n", 2) == NULL) {
		if (len >= MET_MAXHEAD)
			met_answer(m, 431, "Request Header Fields Too Large",
			    NULL, 0);
		return;
	}
	eol = memchr(p, '\n', len);
	n = (size_t)(eol - p);
	if (n > 0 && p[n - 1] == '\r')
		n--;
	met_request(m, p, n);
}

/*
 * Every place taken: the oldest client still waiting for its request
 * goes (408), or, when every one is being answered, the oldest of them
 * (a client slow to read its answer: it had its turn).  A scrape is
 * never turned away.  (admin_wait() made sure that an idle one closed
 * here had ADMIN_GRACE_MS to send its request.)
 */
static void
met_make_room(void)
{
	struct wmet	*m;

	TAILQ_FOREACH(m, &adm.mets, entry)
		if (!m->answered)
			break;
	if (m == NULL) {
		m = TAILQ_FIRST(&adm.mets);
		status_admin_closed(0, ST_AC_ANSWERING);
		log_debug("metrics: the oldest client, slow to read its "
		    "answer, closed to make room");
		met_free(m);
		return;
	}
	status_admin_closed(0, ST_AC_IDLE);
	log_debug("metrics: the oldest idle client closed to make room");
	met_last_word(bufferevent_getfd(m->bev), 408, "Request Timeout",
	    "closed to make room for another client");
	met_free(m);
}

static void
met_new(int s)
{
	struct wmet	*m;
	struct timeval	 tv = { ADMIN_TIMEOUT, 0 };
	struct timeval	 dl = { ADMIN_DEADLINE_MS / 1000,
			    ADMIN_DEADLINE_MS % 1000 * 1000 };

	if (adm.nmet >= ADMIN_MAXCONN)
		met_make_room();
	if ((m = calloc(1, sizeof(*m))) == NULL ||
	    (m->bev = bufferevent_socket_new(worker_base, s,
	    BEV_OPT_CLOSE_ON_FREE)) == NULL) {
		free(m);
		close(s);
		return;
	}
	TAILQ_INSERT_TAIL(&adm.mets, m, entry);
	adm.nmet++;
	m->since = admin_now();
	if ((m->tev = evtimer_new(worker_base, met_deadline_cb, m)) == NULL) {
		met_free(m);
		return;
	}
	evtimer_add(m->tev, &dl);
	/* Reading is bounded by the deadline; writing the answer by tv. */
	bufferevent_set_timeouts(m->bev, NULL, &tv);
	bufferevent_setwatermark(m->bev, EV_READ, 0, MET_MAXHEAD);
	bufferevent_setcb(m->bev, met_read_cb, met_write_cb, met_event_cb, m);
	bufferevent_enable(m->bev, EV_READ | EV_WRITE);
}

/* ---- egressctl: the answers -------------------------------------------- */

/*
 * Connections and tunnels by the generation they are decided under
 * (agg_collect() first): as a JSON array, or a line each.
 */
static void
show_gens(struct evbuffer *b, int json)
{
	int	i;

	if (json) {
		evbuffer_add(b, "[", 1);
		for (i = 0; i < agg.ngens; i++)
			evbuffer_add_printf(b, "%s{\"generation\":%u,"
			    "\"connections\":%u,\"tunnels\":%u}", i ? "," : "",
			    agg.gens[i].gen, agg.gens[i].conns,
			    agg.gens[i].tunnels);
		evbuffer_add_printf(b, "],\"older_generations\":{"
		    "\"connections\":%u,\"tunnels\":%u}", agg.more_conns,
		    agg.more_tunnels);
		return;
	}
	for (i = 0; i < agg.ngens; i++)
		evbuffer_add_printf(b, "generation %u: %u connections, %u "
		    "tunnels\n", agg.gens[i].gen, agg.gens[i].conns,
		    agg.gens[i].tunnels);
	if (agg.more_conns > 0)
		evbuffer_add_printf(b, "older generations: %u connections, "
		    "%u tunnels\n", agg.more_conns, agg.more_tunnels);
}

static void
show_summary(struct evbuffer *b, int json)
{
	const struct status_shm	*s = status_shm;
	uint64_t		 dec[ST_NDEC], total;
	uint32_t		 conns, tunnels, running = 0, n, i;
	int64_t			 now = (int64_t)time(NULL);

	agg_collect();
	agg_decisions(dec);
	total = dec[0] + dec[1] + dec[2];
	limits_totals(&conns, &tunnels);
	n = LD(s->parent.nworkers);
	for (i = 0; i < EGRESSD_MAXWORKERS && i < n; i++)
		if (LD(s->parent.workers[i].pid) > 0)
			running++;
	if (json) {
		evbuffer_add_printf(b, "{\"pid\":%d,\"started\":%lld,"
		    "\"uptime\":%lld,\"generation\":%u,\"last_reload\":{"
		    "\"success\":%s,\"time\":%lld},\"reloads\":%u,"
		    "\"reload_failures\":%u,\"verbose\":%d,\"workers\":{"
		    "\"configured\":%u,\"running\":%u,\"restarts\":%u},"
		    "\"helper\":{\"pid\":%d,\"restarts\":%u},"
		    "\"connections\":%u,\"tunnels\":%u,\"upstream_idle\":%llu,"
		    "\"requests\":{\"total\":%llu,\"allow\":%llu,\"deny\":%llu,"
		    "\"report\":%llu},\"bytes\":{\"in\":%llu,\"out\":%llu},"
		    "\"dns\":{\"queries\":%llu,\"hits\":%llu,\"misses\":%llu,"
		    "\"failures\":%llu,\"entries\":%llu},"
		    "\"audit_dropped\":%llu,\"revocations\":%llu,"
		    "\"generations\":",
		    LD(s->parent.pid), (long long)LD(s->parent.started),
		    (long long)(now - LD(s->parent.started)), LD(s->parent.gen),
		    LD(s->parent.reload_ok) ? "true" : "false",
		    (long long)LD(s->parent.reload_time), LD(s->parent.reloads),
		    LD(s->parent.reload_failures), LD(s->parent.verbose), n,
		    running, restarts_total(), LD(s->parent.helper.pid),
		    LD(s->parent.helper.restarts), conns, tunnels,
		    (unsigned long long)agg.pool_idle,
		    (unsigned long long)total, (unsigned long long)dec[0],
		    (unsigned long long)dec[1], (unsigned long long)dec[2],
		    (unsigned long long)agg.bytes_in,
		    (unsigned long long)agg.bytes_out,
		    (unsigned long long)LD(s->helper.queries),
		    (unsigned long long)LD(s->helper.hits),
		    (unsigned long long)LD(s->helper.misses),
		    (unsigned long long)LD(s->helper.failures),
		    (unsigned long long)LD(s->helper.entries),
		    (unsigned long long)agg.audit_dropped,
		    (unsigned long long)agg.revoked);
		show_gens(b, 1);
		evbuffer_add_printf(b, ",\"answered_by\":%d}\n",
		    worker_instance);
		return;
	}
	evbuffer_add_printf(b, "egressd pid %d, up ", LD(s->parent.pid));
	put_uptime(b, now - LD(s->parent.started));
	evbuffer_add_printf(b, " (since ");
	put_time(b, LD(s->parent.started));
	evbuffer_add_printf(b, ")\ngeneration %u, last reload %s at ",
	    LD(s->parent.gen), LD(s->parent.reload_ok) ? "ok" : "FAILED");
	put_time(b, LD(s->parent.reload_time));
	evbuffer_add_printf(b, " (%u reloads, %u failed)\n"
	    "workers %u of %u running, %u restarts; helper pid %d, %u "
	    "restarts\nlogging %s\n"
	    "connections %u, tunnels %u, idle upstream connections %llu\n"
	    "requests %llu: %llu allowed, %llu denied, %llu report-only\n"
	    "bytes %llu in, %llu out\n"
	    "dns %llu queries, %llu cache hits, %llu misses, %llu failures, "
	    "%llu names cached\n"
	    "audit records dropped %llu\ntunnels revoked %llu\n",
	    LD(s->parent.reloads),
	    LD(s->parent.reload_failures), running, n, restarts_total(),
	    LD(s->parent.helper.pid), LD(s->parent.helper.restarts),
	    LD(s->parent.verbose) ? "verbose" : "brief", conns, tunnels,
	    (unsigned long long)agg.pool_idle, (unsigned long long)total,
	    (unsigned long long)dec[0], (unsigned long long)dec[1],
	    (unsigned long long)dec[2], (unsigned long long)agg.bytes_in,
	    (unsigned long long)agg.bytes_out,
	    (unsigned long long)LD(s->helper.queries),
	    (unsigned long long)LD(s->helper.hits),
	    (unsigned long long)LD(s->helper.misses),
	    (unsigned long long)LD(s->helper.failures),
	    (unsigned long long)LD(s->helper.entries),
	    (unsigned long long)agg.audit_dropped,
	    (unsigned long long)agg.revoked);
	show_gens(b, 0);
}

static void
show_services(struct evbuffer *b, int json)
{
	const struct service	*sv;
	const struct hostset	*hs = &adm.conf->svchosts;
	uint64_t		 dec[ST_NDEC];
	uint32_t		 h;
	int			 i, first = 1;

	agg_collect();
	if (json)
		evbuffer_add_printf(b, "{\"services\":[");
	TAILQ_FOREACH(sv, &adm.conf->services, entry) {
		agg_service(sv->name, dec);
		if (!json) {
			evbuffer_add_printf(b, "service ");
			put_str(b, sv->name, sizeof(sv->name), ESC_TEXT);
			evbuffer_add_printf(b, ": action %s, resolution %s%s\n"
			    "\thosts", action_name(sv->action),
			    resolution_name(sv->resolution),
			    sv->allow_private == PRIV_ALL ? ", private allowed" :
			    sv->allow_private == PRIV_NETS ?
			    ", private allowed in listed networks" : "");
			for (h = 0; h < sv->nhosts; h++) {
				evbuffer_add(b, " ", 1);
				put_str(b, conf_host(hs, sv->hfirst, h),
				    EGD_HOST_MAX, ESC_TEXT);
			}
			evbuffer_add_printf(b, "\n\tports");
			for (i = 0; i < sv->nports; i++)
				evbuffer_add_printf(b, " %u/%s",
				    sv->ports[i].port,
				    svc_proto_name(sv->ports[i].proto));
			evbuffer_add_printf(b, "\n\trequests %llu allowed, "
			    "%llu denied, %llu report-only\n",
			    (unsigned long long)dec[0],
			    (unsigned long long)dec[1],
			    (unsigned long long)dec[2]);
			continue;
		}
		evbuffer_add_printf(b, "%s{\"name\":", first ? "" : ",");
		first = 0;
		put_str(b, sv->name, sizeof(sv->name), ESC_JSON);
		evbuffer_add_printf(b, ",\"action\":\"%s\",\"resolution\":"
		    "\"%s\",\"allow_private\":%s,\"hosts\":[",
		    action_name(sv->action), resolution_name(sv->resolution),
		    sv->allow_private ? "true" : "false");
		for (h = 0; h < sv->nhosts; h++) {
			if (h > 0)
				evbuffer_add(b, ",", 1);
			put_str(b, conf_host(hs, sv->hfirst, h), EGD_HOST_MAX,
			    ESC_JSON);
		}
		evbuffer_add_printf(b, "],\"ports\":[");
		for (i = 0; i < sv->nports; i++) {
			evbuffer_add_printf(b, "%s{\"port\":%u,\"proto\":"
			    "\"%s\",\"name\":", i ? "," : "",
			    sv->ports[i].port,
			    svc_proto_name(sv->ports[i].proto));
			put_str(b, sv->ports[i].name,
			    sizeof(sv->ports[i].name), ESC_JSON);
			evbuffer_add(b, "}", 1);
		}
		evbuffer_add_printf(b, "],\"requests\":{\"allow\":%llu,"
		    "\"deny\":%llu,\"report\":%llu}}",
		    (unsigned long long)dec[0], (unsigned long long)dec[1],
		    (unsigned long long)dec[2]);
	}
	if (json)
		evbuffer_add_printf(b, "],\"generation\":%u}\n", adm.gen);
	else if (TAILQ_EMPTY(&adm.conf->services))
		evbuffer_add_printf(b, "no services: everything is denied\n");
}

static const char *
gateway_name(uint32_t id)
{
	const struct gateway	*g;

	TAILQ_FOREACH(g, &adm.conf->gateways, entry)
		if (g->id == id)
			return g->name;
	return "?";
}

static void
show_match(struct evbuffer *b, const struct route_match *m, int json)
{
	static const char *const ptypes[] = { "any", "exact", "prefix" };
	int			 i;

	if (json) {
		evbuffer_add_printf(b, "{\"authority\":");
		put_str(b, m->authority, sizeof(m->authority), ESC_JSON);
		evbuffer_add_printf(b, ",\"port\":%u,\"path_match\":\"%s\","
		    "\"path\":", m->port, ptypes[m->pathtype]);
		put_str(b, m->path, sizeof(m->path), ESC_JSON);
		evbuffer_add_printf(b, ",\"method\":");
		put_str(b, m->method, sizeof(m->method), ESC_JSON);
		evbuffer_add_printf(b, ",\"destinations\":[");
		for (i = 0; i < m->ndests; i++) {
			evbuffer_add_printf(b, "%s{\"host\":", i ? "," : "");
			put_str(b, m->dests[i].host, sizeof(m->dests[i].host),
			    ESC_JSON);
			evbuffer_add_printf(b, ",\"port\":%u,\"weight\":%u}",
			    m->dests[i].port, m->dests[i].weight);
		}
		evbuffer_add_printf(b, "],\"rewrite_authority\":");
		put_str(b, m->rewrite_authority, sizeof(m->rewrite_authority),
		    ESC_JSON);
		evbuffer_add_printf(b, ",\"timeout\":%d,\"retries\":%d,"
		    "\"websocket\":%s}", m->timeout, m->retries,
		    m->websocket ? "true" : "false");
		return;
	}
	evbuffer_add_printf(b, "\tmatch");
	if (m->authority[0] != '\0') {
		evbuffer_add_printf(b, " authority ");
		put_str(b, m->authority, sizeof(m->authority), ESC_TEXT);
	}
	if (m->port != 0)
		evbuffer_add_printf(b, " port %u", m->port);
	if (m->pathtype != PATH_ANY) {
		evbuffer_add_printf(b, " path %s", m->pathtype == PATH_PREFIX ?
		    "prefix " : "");
		put_str(b, m->path, sizeof(m->path), ESC_TEXT);
	}
	if (m->method[0] != '\0') {
		evbuffer_add_printf(b, " method ");
		put_str(b, m->method, sizeof(m->method), ESC_TEXT);
	}
	if (m->nheaders > 0)
		evbuffer_add_printf(b, " (%d header conditions)",
		    m->nheaders);
	evbuffer_add_printf(b, "\n");
	for (i = 0; i < m->ndests; i++) {
		evbuffer_add_printf(b, "\t\t-> ");
		put_str(b, m->dests[i].host, sizeof(m->dests[i].host),
		    ESC_TEXT);
		if (m->dests[i].port != 0)
			evbuffer_add_printf(b, " port %u", m->dests[i].port);
		evbuffer_add_printf(b, " weight %u\n", m->dests[i].weight);
	}
	if (m->ndests == 0)
		evbuffer_add_printf(b, "\t\t-> as asked\n");
	if (m->rewrite_authority[0] != '\0') {
		evbuffer_add_printf(b, "\t\trewrite authority ");
		put_str(b, m->rewrite_authority, sizeof(m->rewrite_authority),
		    ESC_TEXT);
		evbuffer_add_printf(b, "\n");
	}
	if (m->rewrite_path) {
		evbuffer_add_printf(b, "\t\trewrite path prefix ");
		put_str(b, m->rewrite_prefix, sizeof(m->rewrite_prefix),
		    ESC_TEXT);
		evbuffer_add_printf(b, "\n");
	}
	if (m->websocket)
		evbuffer_add_printf(b, "\t\twebsocket\n");
}

static void
show_routes(struct evbuffer *b, int json)
{
	const struct route		*r;
	const struct route_match	*m;
	int				 i, first = 1;

	if (json)
		evbuffer_add_printf(b, "{\"routes\":[");
	TAILQ_FOREACH(r, &adm.conf->routes, entry) {
		if (json) {
			evbuffer_add_printf(b, "%s{\"name\":", first ? "" :
			    ",");
			first = 0;
			put_str(b, r->name, sizeof(r->name), ESC_JSON);
			evbuffer_add_printf(b, ",\"gateways\":[");
			for (i = 0; i < r->ngateways; i++) {
				if (i)
					evbuffer_add(b, ",", 1);
				put_str(b, gateway_name(r->gateways[i]),
				    EGD_NAME_MAX, ESC_JSON);
			}
			evbuffer_add_printf(b, "],\"matches\":[");
			TAILQ_FOREACH(m, &r->matches, entry) {
				if (m != TAILQ_FIRST(&r->matches))
					evbuffer_add(b, ",", 1);
				show_match(b, m, 1);
			}
			evbuffer_add_printf(b, "]}");
			continue;
		}
		evbuffer_add_printf(b, "route ");
		put_str(b, r->name, sizeof(r->name), ESC_TEXT);
		evbuffer_add_printf(b, ": gateways");
		if (r->ngateways == 0)
			evbuffer_add_printf(b, " all");
		for (i = 0; i < r->ngateways; i++) {
			evbuffer_add(b, " ", 1);
			put_str(b, gateway_name(r->gateways[i]), EGD_NAME_MAX,
			    ESC_TEXT);
		}
		evbuffer_add_printf(b, "\n");
		TAILQ_FOREACH(m, &r->matches, entry)
			show_match(b, m, 0);
	}
	if (json)
		evbuffer_add_printf(b, "],\"generation\":%u}\n", adm.gen);
	else if (TAILQ_EMPTY(&adm.conf->routes))
		evbuffer_add_printf(b, "no routes: requests go where they "
		    "ask\n");
}

static void
show_workers(struct evbuffer *b, int json)
{
	const struct st_parent	*p = &status_shm->parent;
	uint32_t		 n = LD(p->nworkers), i, conns, tunnels;

	if (n > EGRESSD_MAXWORKERS)
		n = EGRESSD_MAXWORKERS;
	if (json)
		evbuffer_add_printf(b, "{\"workers\":[");
	else
		evbuffer_add_printf(b, "%-7s %-8s %-5s %-8s %-6s %-7s %-5s "
		    "%-10s %s\n", "WORKER", "PID", "GEN", "RESTARTS", "CONNS",
		    "TUNNELS", "IDLE", "REQUESTS", "STARTED");
	for (i = 0; i < n; i++) {
		limits_worker((int)i, &conns, &tunnels);
		if (json) {
			evbuffer_add_printf(b, "%s{\"instance\":%u,\"pid\":%d,"
			    "\"generation\":%u,\"restarts\":%u,\"started\":"
			    "%lld,\"connections\":%u,\"tunnels\":%u,"
			    "\"upstream_idle\":%u,\"requests\":%llu}",
			    i ? "," : "", i, LD(p->workers[i].pid),
			    LD(status_shm->workers[i].gen),
			    LD(p->workers[i].restarts),
			    (long long)LD(p->workers[i].started), conns,
			    tunnels, LD(status_shm->workers[i].pool_idle),
			    (unsigned long long)worker_requests((int)i));
			continue;
		}
		evbuffer_add_printf(b, "%-7u %-8d %-5u %-8u %-6u %-7u %-5u "
		    "%-10llu ", i, LD(p->workers[i].pid),
		    LD(status_shm->workers[i].gen), LD(p->workers[i].restarts),
		    conns, tunnels, LD(status_shm->workers[i].pool_idle),
		    (unsigned long long)worker_requests((int)i));
		put_time(b, LD(p->workers[i].started));
		evbuffer_add_printf(b, "\n");
	}
	if (json) {
		evbuffer_add_printf(b, "],\"helper\":{\"pid\":%d,\"restarts\":"
		    "%u,\"started\":%lld},\"answered_by\":%d}\n",
		    LD(p->helper.pid), LD(p->helper.restarts),
		    (long long)LD(p->helper.started), worker_instance);
		return;
	}
	evbuffer_add_printf(b, "%-7s %-8d %-5s %-8u %-6s %-7s %-5s %-10s ",
	    "helper", LD(p->helper.pid), "-", LD(p->helper.restarts), "-",
	    "-", "-", "-");
	put_time(b, LD(p->helper.started));
	evbuffer_add_printf(b, "\n(answered by worker %d)\n", worker_instance);
}

static void
show_dns(struct evbuffer *b, int json)
{
	const struct st_helper	*h = &status_shm->helper;
	const struct egressd_conf *c = adm.conf;

	if (json) {
		evbuffer_add_printf(b, "{\"queries\":%llu,\"hits\":%llu,"
		    "\"misses\":%llu,\"failures\":%llu,\"entries\":%llu,"
		    "\"tries\":{\"udp\":%llu,\"tcp\":%llu,\"tls\":%llu},"
		    "\"answers_ignored\":%llu,\"records_ignored\":%llu,"
		    "\"min_ttl\":%d,\"max_ttl\":%d,\"negative_ttl\":%d}\n",
		    (unsigned long long)LD(h->queries),
		    (unsigned long long)LD(h->hits),
		    (unsigned long long)LD(h->misses),
		    (unsigned long long)LD(h->failures),
		    (unsigned long long)LD(h->entries),
		    (unsigned long long)LD(h->tries[0]),
		    (unsigned long long)LD(h->tries[1]),
		    (unsigned long long)LD(h->tries[2]),
		    (unsigned long long)LD(h->ignored),
		    (unsigned long long)LD(h->records_ignored), c->dns_min_ttl,
		    c->dns_max_ttl, c->dns_neg_ttl);
		return;
	}
	evbuffer_add_printf(b, "queries %llu, cache hits %llu, misses %llu, "
	    "failures %llu\nnames cached %llu\n", (unsigned long long)LD(
	    h->queries), (unsigned long long)LD(h->hits),
	    (unsigned long long)LD(h->misses),
	    (unsigned long long)LD(h->failures),
	    (unsigned long long)LD(h->entries));
	evbuffer_add_printf(b, "sent over udp %llu, tcp %llu, tls %llu\n"
	    "ignored: answers %llu, records of other names %llu\n",
	    (unsigned long long)LD(h->tries[0]),
	    (unsigned long long)LD(h->tries[1]),
	    (unsigned long long)LD(h->tries[2]),
	    (unsigned long long)LD(h->ignored),
	    (unsigned long long)LD(h->records_ignored));
	evbuffer_add_printf(b, "ttl min %d s, max %d s, negative %d s\n",
	    c->dns_min_ttl, c->dns_max_ttl, c->dns_neg_ttl);
}

/* ---- egressctl: the connection ----------------------------------------- */

static struct wctl *
wctl_find(uint32_t id)
{
	struct wctl	*c;

	TAILQ_FOREACH(c, &adm.ctls, entry)
		if (c->id == id)
			return c;
	return NULL;
}

/* Still waiting for its request: it may be closed to make room. */
static int
wctl_idle(const struct wctl *c)
{
	return (c->phase & (CP_HELLO | CP_REQUEST)) != 0;
}

/*
 * The last word to a control client about to be closed unanswered: text
 * and an IMSG_CTL_END with status, written without waiting, after what
 * was already queued for it.
 */
static void
wctl_last_word(int s, struct ps_buf *b, int32_t status, const char *text)
{
	struct ps_buf	 tmp;

	if (b == NULL) {
		if (ps_buf_init(&tmp, s) == -1)
			return;
		b = &tmp;
	}
	if (ps_compose(b, IMSG_CTL_TEXT, 0, -1, text, strlen(text)) == 0 &&
	    ps_compose(b, IMSG_CTL_END, 0, -1, &status, sizeof(status)) == 0)
		(void)ps_flush(b);
	admin_last_word(s, NULL, 0);
	if (b == &tmp)
		ps_buf_clear(&tmp);
}

/*
 * Every place taken by a new client (root: whether it is root's).  The
 * oldest connection still waiting for its request that is not root's
 * goes; for root, failing that, the oldest that is not root's, answered
 * or not, then root's own oldest idle one.  -1: nobody can go.
 */
static int
wctl_make_room(int root)
{
	struct wctl	*c;

	TAILQ_FOREACH(c, &adm.ctls, entry)
		if (wctl_idle(c) && c->uid != 0)
			break;
	if (c == NULL && root) {
		TAILQ_FOREACH(c, &adm.ctls, entry)
			if (c->uid != 0)
				break;
		if (c == NULL)
			TAILQ_FOREACH(c, &adm.ctls, entry)
				if (wctl_idle(c))
					break;
	}
	if (c == NULL)
		return -1;
	status_admin_closed(1, wctl_idle(c) ? ST_AC_IDLE : ST_AC_ANSWERING);
	log_info("control: pid %d uid %u closed to make room for %s client",
	    (int)c->pid, (unsigned)c->uid, root ? "a root" : "another");
	wctl_last_word(c->buf.fd, &c->buf, CTL_ERROR, "connection closed to "
	    "make room for another client\n");
	wctl_free(c);
	return 0;
}

/*
 * A control client: who it is first (SO_PEERCRED), then a place.  A
 * peer that is neither root nor of the control group is answered and
 * closed at once, without taking a place.
 */
static void
wctl_new(int s)
{
	struct wctl	*c;
	struct ucred	 uc;
	struct timeval	 dl = { ADMIN_DEADLINE_MS / 1000,
			    ADMIN_DEADLINE_MS % 1000 * 1000 };
	socklen_t	 len = sizeof(uc);
	const struct wadmin *a = TAILQ_FIRST(&adm.cur);
	char		 msg[128];
	uint32_t	 gid = 0;
	int		 allowed;

	while (a != NULL && a->m.kind != ADMIN_CONTROL)
		a = TAILQ_NEXT(a, entry);
	if (a != NULL)
		gid = a->m.gid;
	memset(&uc, 0, sizeof(uc));
	allowed = getsockopt(s, SOL_SOCKET, SO_PEERCRED, &uc, &len) == 0 &&
	    len == sizeof(uc) && (uc.uid == 0 || uc.gid == gid);
	if (!allowed) {
		log_warnx("control: pid %d uid %u gid %u: permission denied",
		    (int)uc.pid, (unsigned)uc.uid, (unsigned)uc.gid);
		status_admin_refused();
		wctl_last_word(s, NULL, CTL_DENIED, "permission denied\n");
		close(s);
		return;
	}
	if (adm.nctl >= ADMIN_MAXCONN && wctl_make_room(uc.uid == 0) == -1) {
		status_admin_closed(1, ST_AC_BUSY);
		log_info("control: pid %d uid %u turned away: %d connections "
		    "being answered", (int)uc.pid, (unsigned)uc.uid,
		    adm.nctl);
		snprintf(msg, sizeof(msg), "egressd is busy: %d control "
		    "connections being answered; try again\n", adm.nctl);
		wctl_last_word(s, NULL, CTL_ERROR, msg);
		close(s);
		return;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		close(s);
		return;
	}
	if (ps_buf_init(&c->buf, s) == -1) {
		free(c);
		close(s);
		return;
	}
	c->id = ++adm.nextid;
	c->phase = CP_HELLO;
	c->pid = uc.pid;
	c->uid = uc.uid;
	c->since = admin_now();
	c->rev = event_new(worker_base, s, EV_READ | EV_PERSIST, wctl_read_cb,
	    c);
	c->wev = event_new(worker_base, s, EV_WRITE, wctl_write_cb, c);
	c->tev = evtimer_new(worker_base, wctl_timeout_cb, c);
	TAILQ_INSERT_TAIL(&adm.ctls, c, entry);
	adm.nctl++;
	if (c->rev == NULL || c->wev == NULL || c->tev == NULL) {
		wctl_free(c);
		return;
	}
	evtimer_add(c->tev, &dl);
	event_add(c->rev, NULL);
}

static void
wctl_free(struct wctl *c)
{
	TAILQ_REMOVE(&adm.ctls, c, entry);
	adm.nctl--;
	if (c->rev != NULL)
		event_free(c->rev);
	if (c->wev != NULL)
		event_free(c->wev);
	if (c->tev != NULL)
		event_free(c->tev);
	close(c->buf.fd);
	ps_buf_clear(&c->buf);
	free(c);
}

/*
 * The request's deadline, or the exchange's: a client still waiting to
 * send its request is told why it is closed; any other is just closed.
 */
static void
wctl_timeout_cb(int fd, short ev, void *arg)
{
	struct wctl	*c = arg;

	if (wctl_idle(c)) {
		status_admin_closed(1, ST_AC_DEADLINE);
		log_debug("control: pid %d uid %u: no request within %d ms",
		    (int)c->pid, (unsigned)c->uid, ADMIN_DEADLINE_MS);
		wctl_last_word(c->buf.fd, &c->buf, CTL_ERROR, "no request "
		    "within 2 seconds: connection closed\n");
	}
	wctl_free(c);
}

static void
wctl_write_cb(int fd, short ev, void *arg)
{
	struct wctl	*c = arg;
	int		 rv;

	if ((rv = ps_flush(&c->buf)) == -1 ||
	    (rv == 0 && c->phase == CP_DONE)) {
		wctl_free(c);
		return;
	}
	if (rv == 1)
		event_add(c->wev, NULL);
}

/*
 * The request is whole: from now on the exchange has CTL_TIMEOUT (a
 * reload takes its time), no longer the request's deadline.
 */
static void
wctl_asked(struct wctl *c)
{
	struct timeval	tv = { CTL_TIMEOUT, 0 };

	if (c->asked)
		return;
	c->asked = 1;
	evtimer_add(c->tev, &tv);
}

/* Queue text (the whole of b) and the end with status; then close. */
static void
wctl_answer(struct wctl *c, int32_t status, struct evbuffer *b)
{
	char	chunk[CTL_CHUNK];
	int	n;

	while (b != NULL && (n = evbuffer_remove(b, chunk, sizeof(chunk))) >
	    0)
		if (ps_compose(&c->buf, IMSG_CTL_TEXT, 0, -1, chunk,
		    (size_t)n) == -1)
			break;
	ps_compose(&c->buf, IMSG_CTL_END, 0, -1, &status, sizeof(status));
	c->phase = CP_DONE;
	wctl_asked(c);
	event_del(c->rev);
	event_add(c->wev, NULL);
}

static void
wctl_error(struct wctl *c, int32_t status, const char *text)
{
	struct evbuffer	*b;

	if ((b = evbuffer_new()) != NULL)
		evbuffer_add_printf(b, "%s\n", text);
	wctl_answer(c, status, b);
	if (b != NULL)
		evbuffer_free(b);
}

static void
wctl_request(struct wctl *c, const struct ps_msg *m)
{
	struct evbuffer	*b;
	uint32_t	 flags;
	int32_t		 v;
	int		 json;

	memcpy(&flags, m->data, sizeof(flags));
	if (flags & ~(uint32_t)CTL_F_JSON) {
		wctl_error(c, CTL_ERROR, "unknown request flags");
		return;
	}
	c->flags = flags;
	json = (flags & CTL_F_JSON) != 0;
	if (status_shm == NULL || adm.conf == NULL) {
		wctl_error(c, CTL_ERROR, "no status yet");
		return;
	}
	switch (m->hdr.type) {
	case IMSG_CTL_RELOAD:
		if (adm.parent == NULL || ps_chan_compose(adm.parent,
		    IMSG_RELOAD_REQ, c->id, -1, NULL, 0) == -1) {
			wctl_error(c, CTL_ERROR, "cannot reach the parent");
			return;
		}
		log_info("control: reload asked by pid %d uid %u",
		    (int)c->pid, (unsigned)c->uid);
		c->phase = CP_WAIT;
		wctl_asked(c);
		event_del(c->rev);
		return;
	case IMSG_CTL_LOG_VERBOSE:
	case IMSG_CTL_LOG_BRIEF:
		v = m->hdr.type == IMSG_CTL_LOG_VERBOSE;
		if (adm.parent == NULL || ps_chan_compose(adm.parent,
		    IMSG_VERBOSE_REQ, c->id, -1, &v, sizeof(v)) == -1) {
			wctl_error(c, CTL_ERROR, "cannot reach the parent");
			return;
		}
		log_info("control: log %s asked by pid %d uid %u",
		    v ? "verbose" : "brief", (int)c->pid, (unsigned)c->uid);
		if ((b = evbuffer_new()) == NULL) {
			wctl_error(c, CTL_ERROR, "out of memory");
			return;
		}
		if (json)
			evbuffer_add_printf(b, "{\"log\":\"%s\"}\n",
			    v ? "verbose" : "brief");
		else
			evbuffer_add_printf(b, "logging %s\n",
			    v ? "verbose" : "brief");
		wctl_answer(c, CTL_OK, b);
		evbuffer_free(b);
		return;
	}
	if ((b = evbuffer_new()) == NULL) {
		wctl_error(c, CTL_ERROR, "out of memory");
		return;
	}
	switch (m->hdr.type) {
	case IMSG_CTL_SHOW_SUMMARY:
		show_summary(b, json);
		break;
	case IMSG_CTL_SHOW_SERVICES:
		show_services(b, json);
		break;
	case IMSG_CTL_SHOW_ROUTES:
		show_routes(b, json);
		break;
	case IMSG_CTL_SHOW_WORKERS:
		show_workers(b, json);
		break;
	case IMSG_CTL_SHOW_DNS:
		show_dns(b, json);
		break;
	}
	wctl_answer(c, CTL_OK, b);
	evbuffer_free(b);
}

/*
 * The first message must be a HELLO with our protocol version; one of
 * another size is from another version too.  Then one request.
 */
static void
wctl_read_cb(int fd, short ev, void *arg)
{
	struct wctl	*c = arg;
	struct ps_msg	 m;
	const char	*why;
	char		 msg[128];
	uint32_t	 version;
	ssize_t		 n;
	int		 rv;

	if ((n = ps_read(&c->buf)) == -1 && errno == EAGAIN)
		return;
	if (n == -1 || n == 0) {
		wctl_free(c);
		return;
	}
	while (c->phase & (CP_HELLO | CP_REQUEST)) {
		if ((rv = ps_get(&c->buf, &m)) == 0)
			return;
		if (rv == -1) {
			wctl_error(c, CTL_ERROR, c->buf.err);
			return;
		}
		if (c->phase == CP_HELLO && m.hdr.type == IMSG_CTL_HELLO &&
		    m.fd == -1 && m.len >= sizeof(version)) {
			memcpy(&version, m.data, sizeof(version));
			if (version != EGD_PROTO_VERSION ||
			    m.len != sizeof(version)) {
				snprintf(msg, sizeof(msg), "protocol version "
				    "mismatch: egressd speaks %u, egressctl "
				    "%u", EGD_PROTO_VERSION, version);
				wctl_error(c, CTL_VERSION, msg);
				return;
			}
		}
		if (ps_check(ctl_table, nitems(ctl_table), c->phase, &c->seen,
		    &m, &why) == NULL) {
			snprintf(msg, sizeof(msg), "%s (type %u)", why,
			    m.hdr.type);
			ps_msg_close(&m);
			wctl_error(c, CTL_ERROR, msg);
			return;
		}
		if (m.hdr.type == IMSG_CTL_HELLO)
			c->phase = CP_REQUEST;
		else
			wctl_request(c, &m);
	}
}

/* IMSG_RELOAD_RESULT from the parent: the answer to a reload request. */
void
wctl_dispatch_result(struct ps_chan *pc, struct ps_msg *m)
{
	struct msg_ctl_result	 r;
	struct evbuffer		*b;
	struct wctl		*c;
	const char		*what;
	int			 json;

	memcpy(&r, m->data, sizeof(r));
	if ((c = wctl_find(m->hdr.peerid)) == NULL || c->phase != CP_WAIT)
		return;		/* gone, or timed out */
	json = (c->flags & CTL_F_JSON) != 0;
	switch (r.status) {
	case CTL_RELOAD_OK:
		what = "ok";
		break;
	case CTL_RELOAD_FAILED:
		what = "failed";
		break;
	case CTL_RELOAD_BUSY:
		what = "refused";
		break;
	default:
		what = "stopping";
		break;
	}
	if ((b = evbuffer_new()) == NULL) {
		wctl_error(c, CTL_ERROR, "out of memory");
		return;
	}
	if (json)
		evbuffer_add_printf(b, "{\"reload\":\"%s\",\"generation\":"
		    "%u}\n", what, r.gen);
	else if (r.status == CTL_RELOAD_OK)
		evbuffer_add_printf(b, "reload: generation %u loaded\n", r.gen);
	else if (r.status == CTL_RELOAD_FAILED)
		evbuffer_add_printf(b, "reload failed: the configuration has "
		    "errors (see the log); generation %u kept\n", r.gen);
	else if (r.status == CTL_RELOAD_BUSY)
		evbuffer_add_printf(b, "reload refused: one a second at "
		    "most; generation %u kept\n", r.gen);
	else
		evbuffer_add_printf(b, "reload refused: egressd is "
		    "stopping\n");
	wctl_answer(c, r.status == CTL_RELOAD_OK ? CTL_OK : CTL_ERROR, b);
	evbuffer_free(b);
}
