/*
 * The worker process: accepts clients on the listeners the parent passed,
 * and (for now) answers every request with 503 until routing exists.  It
 * runs as the unprivileged user in the empty root with no capabilities and
 * the worker seccomp profile.  Its peers: the parent (configuration,
 * listeners, shutdown) and the helper (DNS, key operations).
 *
 * Configuration generations: every connection holds a reference to the
 * generation it was accepted under and keeps it until it ends, so a reload
 * never changes the rules under a connection in flight.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "egressd.h"

struct wlistener {
	TAILQ_ENTRY(wlistener)	 entry;
	struct msg_listener	 m;
	int			 fd;
	struct event		*ev;
	struct wconf		*conf;
};

struct wconf {
	uint32_t		 gen;
	int			 refcnt;	/* connections, +1 if current */
	struct msg_conf_global	 g;
	TAILQ_HEAD(, wlistener)	 listeners;
};

struct wconn {
	TAILQ_ENTRY(wconn)	 entry;
	struct bufferevent	*bev;
	struct wconf		*conf;
	int			 answered;
};

static struct {
	int			 instance;
	struct event_base	*base;
	struct ps_buf		 startbuf;
	struct ps_chan		*parent;
	struct ps_chan		*helper;
	struct ps_identity	 id;
	int			 have_init;
	int			 started;	/* first generation in force */
	int			 stopping;
	struct wconf		*cur, *pending;
	TAILQ_HEAD(, wconn)	 conns;
	unsigned int		 nconns;
	int			 paused;	/* accept paused: at the limit */
	struct event		*resume_ev;
} w;

static void	 worker_dispatch_init(struct ps_chan *, struct ps_msg *);
static void	 worker_dispatch_conf_begin(struct ps_chan *, struct ps_msg *);
static void	 worker_dispatch_listener(struct ps_chan *, struct ps_msg *);
static void	 worker_dispatch_conf_end(struct ps_chan *, struct ps_msg *);
static void	 worker_dispatch_shutdown(struct ps_chan *, struct ps_msg *);
static void	 worker_dispatch_verbose(struct ps_chan *, struct ps_msg *);
static void	 worker_dispatch_helper_chan(struct ps_chan *, struct ps_msg *);
static void	 worker_dispatch_pong(struct ps_chan *, struct ps_msg *);
static void	 worker_parent_closed(struct ps_chan *, const char *);
static void	 worker_helper_closed(struct ps_chan *, const char *);
static void	 worker_listen(struct wconf *);
static void	 worker_accept_cb(int, short, void *);
static void	 worker_conn_close(struct wconn *);
static void	 wconf_unref(struct wconf *);

/* What the worker accepts from the parent, and when. */
static const struct ps_handler worker_parent_table[] = {
	{ IMSG_INIT, sizeof(struct msg_init), sizeof(struct msg_init),
	    PS_FD_NONE, 0, 1, worker_dispatch_init },
	{ IMSG_CONF_BEGIN, sizeof(struct msg_conf_global),
	    sizeof(struct msg_conf_global), PS_FD_NONE, 0, 0,
	    worker_dispatch_conf_begin },
	{ IMSG_CONF_LISTENER, sizeof(struct msg_listener),
	    sizeof(struct msg_listener), PS_FD_MUST, 0, 0,
	    worker_dispatch_listener },
	{ IMSG_CONF_END, sizeof(uint32_t), sizeof(uint32_t), PS_FD_NONE, 0, 0,
	    worker_dispatch_conf_end },
	{ IMSG_SHUTDOWN, 0, 0, PS_FD_NONE, 0, 0, worker_dispatch_shutdown },
	{ IMSG_VERBOSE, sizeof(int), sizeof(int), PS_FD_NONE, 0, 0,
	    worker_dispatch_verbose },
	{ IMSG_HELPER_CHAN, 0, 0, PS_FD_MUST, 0, 0,
	    worker_dispatch_helper_chan },
};

static const struct ps_handler worker_helper_table[] = {
	{ IMSG_HELPER_PONG, sizeof(uint32_t), sizeof(uint32_t), PS_FD_NONE,
	    0, 0, worker_dispatch_pong },
};

#define NITEMS(a)	(sizeof(a) / sizeof((a)[0]))

#ifdef EGRESSD_REGRESS
/*
 * Test builds only: SIGUSR2 makes the worker open a netlink socket, which
 * its profile forbids by argument.  The test expects a seccomp kill.
 */
static void
worker_regress_forbidden(int sig)
{
	(void)socket(AF_NETLINK, SOCK_RAW, 0);
	_exit(99);	/* reached only if the filter let it through */
}
#endif

__attribute__((noreturn)) void
worker_main(struct egressd_opts *opts)
{
	char	name[32];

	w.instance = opts->instance;
	snprintf(name, sizeof(name), "worker %d", w.instance);
	log_init(opts->debug, LOG_DAEMON);
	log_procinit(name);
	log_setverbose(opts->verbose);
	if (!opts->debug)
		log_set_sink(child_log_sink);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGINT, SIG_IGN);	/* the parent drives shutdown */
	TAILQ_INIT(&w.conns);

	/* 1. Identity and configuration from the parent. */
	if (ps_buf_init(&w.startbuf, PS_PARENT_FD) == -1)
		fatal("ps_buf_init");
	child_recv_conf(&w.startbuf, worker_parent_table,
	    NITEMS(worker_parent_table), &w.started);
	if (!w.have_init)
		fatalx("no identity from the parent");

	/* 2. Empty root, unprivileged user, no capabilities. */
	ps_drop(&w.id);

	/* 3. Event loop and peers. */
	if ((w.base = event_base_new()) == NULL)
		fatalx("event_base_new");
	if ((w.parent = ps_chan_adopt(w.base, &w.startbuf, "parent",
	    worker_parent_table, NITEMS(worker_parent_table),
	    worker_parent_closed, NULL)) == NULL)
		fatal("parent channel");
	child_log_chan(w.parent);
	worker_listen(w.cur);

#ifdef EGRESSD_REGRESS
	signal(SIGUSR2, worker_regress_forbidden);
#endif

	/* 4. The allowlist, last. */
	ps_sandbox(name, PS_SC_BASE | PS_SC_IO | PS_SC_EVENT | PS_SC_IMSG |
	    PS_SC_ACCEPT | PS_SC_TCP);

	ps_chan_compose(w.parent, IMSG_READY, 0, -1, &w.cur->gen,
	    sizeof(w.cur->gen));
	log_debug("generation %u in force", w.cur->gen);
	event_base_dispatch(w.base);
	exit(0);
}

static void
worker_parent_closed(struct ps_chan *c, const char *why)
{
	/* Without the parent there is no supervision: leave at once. */
	exit(0);
}

static void
worker_dispatch_init(struct ps_chan *c, struct ps_msg *m)
{
	struct msg_init	mi;

	memcpy(&mi, m->data, sizeof(mi));
	if (mi.role != ROLE_WORKER || (int)mi.instance != w.instance)
		fatalx("init for another role or instance");
	child_init(c, &mi, &w.id);
	w.have_init = 1;
}

static void
wconf_free(struct wconf *wc)
{
	struct wlistener	*l;

	while ((l = TAILQ_FIRST(&wc->listeners)) != NULL) {
		TAILQ_REMOVE(&wc->listeners, l, entry);
		if (l->ev != NULL)
			event_free(l->ev);
		if (l->fd != -1)
			close(l->fd);
		free(l);
	}
	free(wc);
}

static void
wconf_unref(struct wconf *wc)
{
	if (--wc->refcnt == 0) {
		log_debug("generation %u released", wc->gen);
		wconf_free(wc);
	}
}

static void
worker_dispatch_conf_begin(struct ps_chan *c, struct ps_msg *m)
{
	struct wconf	*wc;

	if (w.pending != NULL)
		fatalx("configuration begun twice");
	wc = ps_xcalloc(1, sizeof(*wc));
	memcpy(&wc->g, m->data, sizeof(wc->g));
	wc->gen = wc->g.gen;
	TAILQ_INIT(&wc->listeners);
	w.pending = wc;
}

static void
worker_dispatch_listener(struct ps_chan *c, struct ps_msg *m)
{
	struct wlistener	*l;

	if (w.pending == NULL)
		fatalx("listener outside a configuration");
	l = ps_xcalloc(1, sizeof(*l));
	memcpy(&l->m, m->data, sizeof(l->m));
	if (l->m.sslen > sizeof(l->m.ss))
		fatalx("bad listener address length");
	l->fd = m->fd;
	m->fd = -1;
	l->conf = w.pending;
	TAILQ_INSERT_TAIL(&w.pending->listeners, l, entry);
}

/* Stop accepting on a generation's listeners and let go of them. */
static void
worker_unlisten(struct wconf *wc)
{
	struct wlistener	*l;

	TAILQ_FOREACH(l, &wc->listeners, entry) {
		if (l->ev != NULL) {
			event_free(l->ev);
			l->ev = NULL;
		}
		if (l->fd != -1) {
			close(l->fd);
			l->fd = -1;
		}
	}
}

static void
worker_listen(struct wconf *wc)
{
	struct wlistener	*l;

	TAILQ_FOREACH(l, &wc->listeners, entry) {
		if ((l->ev = event_new(w.base, l->fd, EV_READ | EV_PERSIST,
		    worker_accept_cb, l)) == NULL)
			fatalx("event_new");
		if (!w.paused)
			event_add(l->ev, NULL);
	}
}

static void
worker_dispatch_conf_end(struct ps_chan *c, struct ps_msg *m)
{
	struct wconf	*old = w.cur;
	uint32_t	 gen;

	memcpy(&gen, m->data, sizeof(gen));
	if (w.pending == NULL || w.pending->gen != gen)
		fatalx("configuration end for generation %u out of order",
		    gen);
	w.cur = w.pending;
	w.pending = NULL;
	w.cur->refcnt = 1;	/* held as the current generation */
	if (old != NULL) {
		worker_unlisten(old);
		wconf_unref(old);
	}
	if (!w.started) {
		w.started = 1;	/* the start-up path goes on from here */
		return;
	}
	if (!w.stopping)
		worker_listen(w.cur);
	else
		worker_unlisten(w.cur);
	ps_chan_compose(w.parent, IMSG_READY, 0, -1, &gen, sizeof(gen));
	log_debug("generation %u in force", gen);
}

static void
worker_maybe_exit(void)
{
	if (w.stopping && w.nconns == 0) {
		log_debug("drained, exiting");
		ps_flush_blocking(&w.parent->buf);
		exit(0);
	}
}

static void
worker_dispatch_shutdown(struct ps_chan *c, struct ps_msg *m)
{
	w.stopping = 1;
	worker_unlisten(w.cur);
	log_debug("stopping, %u connections to drain", w.nconns);
	worker_maybe_exit();
}

static void
worker_dispatch_verbose(struct ps_chan *c, struct ps_msg *m)
{
	int	v;

	memcpy(&v, m->data, sizeof(v));
	log_setverbose(v);
}

static void
worker_dispatch_helper_chan(struct ps_chan *c, struct ps_msg *m)
{
	uint32_t	 n = (uint32_t)w.instance;

	if (w.helper != NULL)
		ps_chan_free(w.helper);
	if ((w.helper = ps_chan_new(w.base, m->fd, "helper",
	    worker_helper_table, NITEMS(worker_helper_table),
	    worker_helper_closed, NULL)) == NULL)
		fatal("helper channel");
	m->fd = -1;
	ps_chan_compose(w.helper, IMSG_HELPER_PING, 0, -1, &n, sizeof(n));
}

static void
worker_helper_closed(struct ps_chan *c, const char *why)
{
	/* The parent restarts the helper and sends a new channel. */
	log_debug("helper channel: %s", why);
	ps_chan_free(c);
	if (w.helper == c)
		w.helper = NULL;
}

static void
worker_dispatch_pong(struct ps_chan *c, struct ps_msg *m)
{
	log_debug("helper answers");
}

/* ---- clients ----------------------------------------------------------- */

static const char worker_503[] =
    "HTTP/1.1 503 Service Unavailable\r\n"
    "Content-Type: text/plain\r\n"
    "Content-Length: 15\r\n"
    "Connection: close\r\n"
    "\r\n"
    "not yet routed\n";

static void
worker_pause(int on)
{
	struct wlistener	*l;

	if (w.paused == on)
		return;
	w.paused = on;
	if (w.stopping)
		return;
	TAILQ_FOREACH(l, &w.cur->listeners, entry)
		if (l->ev != NULL) {
			if (on)
				event_del(l->ev);
			else
				event_add(l->ev, NULL);
		}
}

static void
worker_resume_cb(int fd, short ev, void *arg)
{
	worker_pause(0);
}

static void
worker_conn_close(struct wconn *cn)
{
	TAILQ_REMOVE(&w.conns, cn, entry);
	bufferevent_free(cn->bev);
	wconf_unref(cn->conf);
	free(cn);
	w.nconns--;
	if (w.paused && w.nconns < w.cur->g.max_conns)
		worker_pause(0);
	worker_maybe_exit();
}

static void
worker_conn_read(struct bufferevent *bev, void *arg)
{
	struct wconn		*cn = arg;
	struct evbuffer		*in = bufferevent_get_input(bev);
	struct evbuffer_ptr	 p;

	if (cn->answered) {
		evbuffer_drain(in, evbuffer_get_length(in));
		return;
	}
	p = evbuffer_search(in, "\r\n\r\n", 4, NULL);
	if (p.pos == -1 && evbuffer_get_length(in) < 16384)
		return;
	cn->answered = 1;
	evbuffer_drain(in, evbuffer_get_length(in));
	bufferevent_write(bev, worker_503, sizeof(worker_503) - 1);
}

static void
worker_conn_write(struct bufferevent *bev, void *arg)
{
	struct wconn	*cn = arg;

	if (cn->answered)
		worker_conn_close(cn);
}

static void
worker_conn_event(struct bufferevent *bev, short what, void *arg)
{
	worker_conn_close(arg);
}

static void
worker_accept_cb(int fd, short ev, void *arg)
{
	struct wlistener	*l = arg;
	struct wconn		*cn;
	struct timeval		 tv;
	int			 s, i;

	for (i = 0; i < 64; i++) {
		if (w.nconns >= l->conf->g.max_conns) {
			worker_pause(1);
			return;
		}
		if ((s = accept4(fd, NULL, NULL,
		    SOCK_NONBLOCK | SOCK_CLOEXEC)) == -1) {
			if (errno == EMFILE || errno == ENFILE) {
				/* Out of descriptors: pause a second. */
				log_warn("accept");
				worker_pause(1);
				tv.tv_sec = 1;
				tv.tv_usec = 0;
				if (w.resume_ev == NULL)
					w.resume_ev = evtimer_new(w.base,
					    worker_resume_cb, NULL);
				evtimer_add(w.resume_ev, &tv);
			}
			return;
		}
		cn = ps_xcalloc(1, sizeof(*cn));
		if ((cn->bev = bufferevent_socket_new(w.base, s,
		    BEV_OPT_CLOSE_ON_FREE)) == NULL) {
			close(s);
			free(cn);
			return;
		}
		cn->conf = l->conf;
		cn->conf->refcnt++;
		TAILQ_INSERT_TAIL(&w.conns, cn, entry);
		w.nconns++;
		tv.tv_sec = l->conf->g.idle_timeout;
		tv.tv_usec = 0;
		bufferevent_set_timeouts(cn->bev, &tv, &tv);
		bufferevent_setcb(cn->bev, worker_conn_read, worker_conn_write,
		    worker_conn_event, cn);
		bufferevent_enable(cn->bev, EV_READ | EV_WRITE);
	}
}
