/*
 * The worker process: accepts clients on the listeners the parent passed
 * and carries their requests out (worker_http.c, worker_relay.c) under
 * the configuration generation they were accepted in.  It runs as the
 * unprivileged user in the empty root with no capabilities and the worker
 * seccomp profile.  Its peers: the parent (configuration, listeners,
 * shutdown) and the helper (DNS, key operations).
 *
 * Configuration generations: every connection holds a reference to the
 * generation its request in flight (or its tunnel) was decided under;
 * a generation is freed when the last of them lets go of it and it is
 * no longer the one in force.  What a reload does to each connection
 * (the next request under the new generation, tunnels decided again and
 * revoked) is worker_gen.c's.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/random.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "worker.h"
#include "status.h"

struct event_base	*worker_base;
int			 worker_instance;

static struct {
	struct ps_buf		 startbuf;
	struct ps_chan		*parent;
	struct ps_chan		*helper;
	struct ps_identity	 id;
	int			 have_init;
	int			 started;	/* first generation in force */
	int			 stopping;
	struct wconf		*cur, *pending;
	TAILQ_HEAD(, wconf)	 gens;		/* live, newest first */
	unsigned int		 nconns;
	int			 paused;	/* accept paused: at the limit */
	struct event		*resume_ev;
	struct event		*drain_ev;	/* the end of the drain */
	uint64_t		 rnd;
	uint64_t		 nextid;
	int			 have_shm;
} w;

static void	 worker_dispatch_init(struct ps_chan *, struct ps_msg *);
static void	 worker_dispatch_conf_begin(struct ps_chan *, struct ps_msg *);
static void	 worker_dispatch_conf(struct ps_chan *, struct ps_msg *);
static void	 worker_dispatch_listener(struct ps_chan *, struct ps_msg *);
static void	 worker_dispatch_conf_end(struct ps_chan *, struct ps_msg *);
static void	 worker_dispatch_shutdown(struct ps_chan *, struct ps_msg *);
static void	 worker_dispatch_verbose(struct ps_chan *, struct ps_msg *);
static void	 worker_dispatch_helper_chan(struct ps_chan *, struct ps_msg *);
static void	 worker_dispatch_key_chan(struct ps_chan *, struct ps_msg *);
static void	 worker_dispatch_shm(struct ps_chan *, struct ps_msg *);
static void	 worker_dispatch_pong(struct ps_chan *, struct ps_msg *);
static void	 worker_parent_closed(struct ps_chan *, const char *);
static void	 worker_helper_closed(struct ps_chan *, const char *);
static void	 worker_listen(struct wconf *);
static void	 worker_accept_cb(int, short, void *);

#define CONF_ROW(t, s)	{ (t), sizeof(s), sizeof(s), PS_FD_NONE, 0, 0, \
			    worker_dispatch_conf }

/* What the worker accepts from the parent, and when. */
static const struct ps_handler worker_parent_table[] = {
	{ IMSG_INIT, sizeof(struct msg_init), sizeof(struct msg_init),
	    PS_FD_NONE, 0, 1, worker_dispatch_init },
	{ IMSG_SHM, sizeof(uint64_t), sizeof(uint64_t), PS_FD_MUST, 0, 1,
	    worker_dispatch_shm },
	{ IMSG_STATUS, sizeof(uint64_t), sizeof(uint64_t), PS_FD_MUST, 0, 1,
	    wctl_dispatch_status },
	{ IMSG_CONF_ADMIN, sizeof(struct msg_admin), sizeof(struct msg_admin),
	    PS_FD_MUST, 0, 0, wctl_dispatch_admin },
	{ IMSG_RELOAD_RESULT, sizeof(struct msg_ctl_result),
	    sizeof(struct msg_ctl_result), PS_FD_NONE, 0, 0,
	    wctl_dispatch_result },
	{ IMSG_CONF_BEGIN, sizeof(struct msg_conf_global),
	    sizeof(struct msg_conf_global), PS_FD_NONE, 0, 0,
	    worker_dispatch_conf_begin },
	CONF_ROW(IMSG_CONF_SIZES, struct msg_conf_sizes),
	CONF_ROW(IMSG_CONF_GATEWAY, struct msg_gateway),
	{ IMSG_CONF_SERVICE, sizeof(struct msg_service), EGD_SVCMSG_MAX,
	    PS_FD_NONE, 0, 0, worker_dispatch_conf },
	{ IMSG_CONF_HOSTS, sizeof(struct msg_hosts) + 2, EGD_HOSTS_BATCH,
	    PS_FD_NONE, 0, 0, worker_dispatch_conf },
	CONF_ROW(IMSG_CONF_ROUTE, struct route),
	CONF_ROW(IMSG_CONF_MATCH, struct route_match),
	CONF_ROW(IMSG_CONF_OWNADDR, struct msg_ownaddr),
	CONF_ROW(IMSG_CONF_LISTENADDR, struct msg_listenaddr),
	CONF_ROW(IMSG_CONF_AUDIT, struct audit_conf),
	{ IMSG_CONF_CA_CHUNK, offsetof(struct msg_ca_chunk, data) + 1,
	    sizeof(struct msg_ca_chunk), PS_FD_NONE, 0, 0,
	    worker_dispatch_conf },
	CONF_ROW(IMSG_CONF_DEST, struct destination),
	{ IMSG_AUDIT_SINK, sizeof(struct msg_audit_sink),
	    sizeof(struct msg_audit_sink), PS_FD_MUST, 0, 0,
	    waudit_dispatch_sink },
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
	{ IMSG_KEY_CHAN, 0, 0, PS_FD_MUST, 0, 0, worker_dispatch_key_chan },
};

static const struct ps_handler worker_helper_table[] = {
	{ IMSG_HELPER_PONG, sizeof(uint32_t), sizeof(uint32_t), PS_FD_NONE,
	    0, 0, worker_dispatch_pong },
	{ IMSG_DNS_ANSWER, sizeof(struct msg_dns_answer),
	    sizeof(struct msg_dns_answer), PS_FD_NONE, 0, 0,
	    wdns_dispatch_answer },
};

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

	worker_instance = opts->instance;
	snprintf(name, sizeof(name), "worker %d", worker_instance);
	log_init(opts->debug, LOG_DAEMON);
	log_procinit(name);
	log_setverbose(opts->verbose);
	if (!opts->debug)
		log_set_sink(child_log_sink);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGINT, SIG_IGN);	/* the parent drives shutdown */
	/*
	 * Buffers are written as soon as they fill (xw_new()), so a 64 KiB
	 * read chain is often freed at once: without a margin, glibc gives
	 * the top of the heap back and takes it again with a brk() for
	 * every message.  Keep up to 8 MiB.
	 */
	(void)mallopt(M_TRIM_THRESHOLD, 8 * 1024 * 1024);
	(void)mallopt(M_TOP_PAD, 1024 * 1024);
	if (getrandom(&w.rnd, sizeof(w.rnd), 0) != sizeof(w.rnd))
		fatal("getrandom");
	w.rnd |= 1;
	w.nextid = ((uint64_t)(worker_instance + 1) << 48) |
	    (w.rnd & 0xffffff000000ULL);

	/* OpenSSL reads its configuration and providers here, not later. */
	orig_init();
	wkey_init();

	TAILQ_INIT(&w.gens);

	/* 1. The parent's build (must be ours), identity, configuration. */
	if (ps_buf_init(&w.startbuf, PS_PARENT_FD) == -1)
		fatal("ps_buf_init");
	child_hello(&w.startbuf);
	child_recv_conf(&w.startbuf, worker_parent_table,
	    nitems(worker_parent_table), &w.started);
	if (!w.have_init || !w.have_shm)
		fatalx("no identity or shared table from the parent");

	/* 2. Empty root, unprivileged user, no capabilities. */
	ps_drop(&w.id);

	/* 3. Event loop and peers. */
	if ((worker_base = event_base_new()) == NULL)
		fatalx("event_base_new");
	http_init();
	relay_init();
	wdns_init(worker_base);
	audit_init(w.cur->conf->hostname, w.cur->conf->log_facility);
	audit_set_sink(waudit_sink);
	if ((w.parent = ps_chan_adopt(worker_base, &w.startbuf, "parent",
	    worker_parent_table, nitems(worker_parent_table),
	    worker_parent_closed, NULL)) == NULL)
		fatal("parent channel");
	child_log_chan(w.parent);
	waudit_conf(w.parent, w.cur->conf);
	worker_listen(w.cur);
	wctl_start(w.parent);

#ifdef EGRESSD_REGRESS
	signal(SIGUSR2, worker_regress_forbidden);
#endif

	/* 4. The allowlist, last. */
	ps_sandbox(name, PS_SC_BASE | PS_SC_IO | PS_SC_EVENT | PS_SC_IMSG |
	    PS_SC_ACCEPT | PS_SC_TCP);

	ps_chan_compose(w.parent, IMSG_READY, 0, -1, &w.cur->gen,
	    sizeof(w.cur->gen));
	log_debug("generation %u in force", w.cur->gen);
	event_base_dispatch(worker_base);
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
	if (mi.role != ROLE_WORKER || (int)mi.instance != worker_instance)
		fatalx("init for another role or instance");
	child_init(c, &mi, &w.id);
	w.have_init = 1;
}

/* The limits table shared with the other workers, mapped before the drop. */
static void
worker_dispatch_shm(struct ps_chan *c, struct ps_msg *m)
{
	uint64_t	 size;
	void		*p;

	memcpy(&size, m->data, sizeof(size));
	if (size != limits_shm_size())
		fatalx("shared table of %llu bytes, want %zu",
		    (unsigned long long)size, limits_shm_size());
	if ((p = ps_shm_map(m->fd, limits_shm_size())) == NULL)
		fatal("shared table");
	m->fd = -1;
	limits_attach(p, worker_instance);
	w.have_shm = 1;
}

/* xorshift64*: weights and round robin need speed, not secrecy. */
uint32_t
worker_random(void)
{
	w.rnd ^= w.rnd >> 12;
	w.rnd ^= w.rnd << 25;
	w.rnd ^= w.rnd >> 27;
	return (uint32_t)((w.rnd * 0x2545F4914F6CDD1DULL) >> 32);
}

uint64_t
worker_next_id(void)
{
	return ++w.nextid;
}

/* ---- generations ------------------------------------------------------- */

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
		term_ctx_free(l);
		free(l);
	}
	orig_conf_free(wc->conf);
	conf_free(wc->conf);
	free(wc->rr);
	free(wc);
}

void
wconf_unref(struct wconf *wc)
{
	if (--wc->refcnt == 0) {
		log_debug("generation %u released", wc->gen);
		TAILQ_REMOVE(&w.gens, wc, entry);
		wconf_free(wc);
		worker_gens_publish();
	}
}

/* The generation in force: new requests are decided by it. */
struct wconf *
worker_conf(void)
{
	return w.cur;
}

/* Connections and tunnels by generation, into the status segment. */
void
worker_gens_publish(void)
{
	struct st_gen_count	 g[ST_NGEN];
	struct wconf		*wc;
	uint32_t		 mc = 0, mt = 0;
	int			 n = 0;

	TAILQ_FOREACH(wc, &w.gens, entry) {
		if (n < ST_NGEN) {
			g[n].gen = wc->gen;
			g[n].conns = (uint32_t)wc->nconns;
			g[n].tunnels = (uint32_t)wc->ntunnels;
			n++;
		} else {
			mc += (uint32_t)wc->nconns;
			mt += (uint32_t)wc->ntunnels;
		}
	}
	status_gens(g, n, mc, mt);
}

static void
worker_dispatch_conf_begin(struct ps_chan *c, struct ps_msg *m)
{
	struct wconf	*wc;
	const char	*why;

	if (w.pending != NULL)
		fatalx("configuration begun twice");
	wc = ps_xcalloc(1, sizeof(*wc));
	if ((wc->conf = conf_new()) == NULL)
		fatal("conf_new");
	TAILQ_INIT(&wc->listeners);
	if (conf_recv(wc->conf, m, &why) == -1)
		fatalx("parent: %s", why);
	wc->gen = wc->conf->gen;
	w.pending = wc;
}

static void
worker_dispatch_conf(struct ps_chan *c, struct ps_msg *m)
{
	const char	*why;

	if (w.pending == NULL)
		fatalx("configuration record outside a generation");
	if (conf_recv(w.pending->conf, m, &why) == -1)
		fatalx("parent: %s (type %u)", why, m->hdr.type);
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
	if (l->m.transparent > 1 || (l->m.transparent &&
	    l->m.proto == PROTO_HTTPS))
		fatalx("bad transparent listener");
	if (l->m.ciphers[sizeof(l->m.ciphers) - 1] != '\0' ||
	    (l->m.proto == PROTO_HTTPS && (l->m.cert_id < 0 ||
	    l->m.cert_id >= w.pending->conf->ncas || l->m.clientca_id >=
	    w.pending->conf->ncas)))
		fatalx("bad listener TLS settings");
	l->fd = m->fd;
	m->fd = -1;
	l->wc = w.pending;
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
		if ((l->ev = event_new(worker_base, l->fd,
		    EV_READ | EV_PERSIST, worker_accept_cb, l)) == NULL)
			fatalx("event_new");
		if (!w.paused)
			event_add(l->ev, NULL);
	}
}

static void
worker_dispatch_conf_end(struct ps_chan *c, struct ps_msg *m)
{
	struct wconf		*old = w.cur, *wc = w.pending;
	struct wlistener	*l;
	struct service		*s;
	const char		*why;
	uint32_t		 gen;

	memcpy(&gen, m->data, sizeof(gen));
	if (wc == NULL || wc->gen != gen)
		fatalx("configuration end for generation %u out of order",
		    gen);
	if (conf_recv_end(wc->conf, &why) == -1)
		fatalx("parent: %s", why);
	TAILQ_FOREACH(l, &wc->listeners, entry) {
		l->gw = policy_gateway(wc->conf, l->m.gateway);
		gen_listener_id(wc->conf, l);
		if (l->m.proto == PROTO_HTTPS)
			term_ctx_build(wc->conf, l);
	}
	orig_conf_build(wc->conf);	/* and the certificates' text goes */
	TAILQ_FOREACH(s, &wc->conf->services, entry)
		if (s->id >= wc->nrr)
			wc->nrr = s->id + 1;
	wc->rr = ps_xcalloc(wc->nrr + 1, sizeof(*wc->rr));
	w.cur = wc;
	w.pending = NULL;
	w.cur->refcnt = 1;	/* held as the current generation */
	TAILQ_INSERT_HEAD(&w.gens, wc, entry);
	wctl_conf_end(wc->conf, gen, w.started && !w.stopping);
	if (old != NULL) {
		worker_unlisten(old);
		wconf_unref(old);
	}
	worker_gens_publish();
	if (!w.started) {
		w.started = 1;	/* the start-up path goes on from here */
		return;
	}
	audit_init(wc->conf->hostname, wc->conf->log_facility);
	waudit_conf(w.parent, wc->conf);
	if (!w.stopping)
		worker_listen(w.cur);
	else
		worker_unlisten(w.cur);
	gen_reload(w.cur);	/* what it means for open connections */
	ps_chan_compose(w.parent, IMSG_READY, 0, -1, &gen, sizeof(gen));
	log_debug("generation %u in force", gen);
}

static void
worker_maybe_exit(void)
{
	if (w.stopping && w.nconns == 0) {
		log_debug("drained, exiting");
		relay_pool_flush();
		waudit_flush();
		status_gens(NULL, 0, 0, 0);
		ps_flush_blocking(&w.parent->buf);
		exit(0);
	}
}

/* Drain timeout: what is still open is cut, and recorded as such. */
static void
worker_drain_cb(int fd, short ev, void *arg)
{
	log_info("drain timeout: cutting %u connections", w.nconns);
	http_cut(AR_SHUTTING_DOWN);
	worker_maybe_exit();
}

static void
worker_dispatch_shutdown(struct ps_chan *c, struct ps_msg *m)
{
	struct timeval	tv = { w.cur->conf->drain_timeout, 0 };

	w.stopping = 1;
	worker_unlisten(w.cur);
	wctl_shutdown();
	log_debug("stopping, %u connections to drain", w.nconns);
	if (w.drain_ev == NULL && (w.drain_ev = evtimer_new(worker_base,
	    worker_drain_cb, NULL)) != NULL)
		evtimer_add(w.drain_ev, &tv);
	http_shutdown();
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
	uint32_t	 n = (uint32_t)worker_instance;

	if (w.helper != NULL) {
		wdns_set_helper(NULL);
		ps_chan_free(w.helper);
	}
	if ((w.helper = ps_chan_new(worker_base, m->fd, "helper",
	    worker_helper_table, nitems(worker_helper_table),
	    worker_helper_closed, NULL)) == NULL)
		fatal("helper channel");
	m->fd = -1;
	ps_chan_compose(w.helper, IMSG_HELPER_PING, 0, -1, &n, sizeof(n));
	wdns_set_helper(w.helper);
}

static void
worker_dispatch_key_chan(struct ps_chan *c, struct ps_msg *m)
{
	wkey_set_fd(m->fd);
	m->fd = -1;
}

static void
worker_helper_closed(struct ps_chan *c, const char *why)
{
	/* The parent restarts the helper and sends a new channel. */
	log_debug("helper channel: %s", why);
	if (w.helper == c) {
		w.helper = NULL;
		wdns_set_helper(NULL);
	}
	ps_chan_free(c);
}

static void
worker_dispatch_pong(struct ps_chan *c, struct ps_msg *m)
{
	log_debug("helper answers");
}

/* ---- limits ------------------------------------------------------------ */

int
worker_rate_limited(struct hconn *hc)
{
	return limits_rate(&hc->wc->conf->limits, &hc->caddr) == -1;
}

int
worker_tunnel_limited(struct hconn *hc)
{
	if (limits_tunnel_open(&hc->wc->conf->limits, &hc->caddr,
	    &hc->lim_tunnel) == -1)
		return 1;
	hc->tunnel_counted = 1;
	return 0;
}

/* ---- clients ----------------------------------------------------------- */

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

/* A client connection ended (http_close). */
void
worker_conn_gone(struct hconn *hc)
{
	if (hc->tunnel_counted)
		limits_tunnel_close(hc->lim_tunnel);
	limits_conn_close(hc->lim_conn);
	gen_conn_gone(hc);
	hc->wc->nconns--;
	if (hc->tunnel_open)
		hc->wc->ntunnels--;
	wconf_unref(hc->wc);
	worker_gens_publish();
	w.nconns--;
	if (w.paused && w.nconns < (unsigned)w.cur->conf->max_conns)
		worker_pause(0);
	worker_maybe_exit();
}

/* Refuse a connection over a limit with a one-line answer. */
static void
worker_refuse(int s, struct wlistener *l, const struct sockaddr *sa,
    int reason)
{
	static const char msg[] = "HTTP/1.1 503 Service Unavailable\r\n"
	    "Content-Type: text/plain\r\nContent-Length: 34\r\n"
	    "Connection: close\r\n\r\negressd: connection_limit: too many\n";
	struct audit_rec	r;
	struct egd_addr		a;

	(void)write(s, msg, sizeof(msg) - 1);
	close(s);
	memset(&r, 0, sizeof(r));
	egd_addr_from_sa(sa, &a, &r.client_port);
	r.event = AEV_DENY;
	r.decision = ADEC_DENY;
	r.reason = reason;
	r.id = worker_next_id();
	r.worker = worker_instance;
	r.client = &a;
	r.gateway = l->gw != NULL ? l->gw->name : NULL;
	r.status = 503;
	r.dns_ms = r.connect_ms = r.ttfb_ms = -1;
	audit_emit(&r);
	status_count(&r);
}

static void
worker_accept_cb(int fd, short ev, void *arg)
{
	struct wlistener	*l = arg;
	struct sockaddr_storage	 ss;
	struct timeval		 tv;
	struct egd_addr		 a;
	void			*slot;
	socklen_t		 len;
	int			 one = 1;
	int			 s, i;

	for (i = 0; i < 64; i++) {
		if (w.nconns >= (unsigned)l->wc->conf->max_conns) {
			worker_pause(1);
			return;
		}
		len = sizeof(ss);
		if ((s = accept4(fd, (struct sockaddr *)&ss, &len,
		    SOCK_NONBLOCK | SOCK_CLOEXEC)) == -1) {
			if (errno == EMFILE || errno == ENFILE) {
				/* Out of descriptors: pause a second. */
				log_warn("accept");
				worker_pause(1);
				tv.tv_sec = 1;
				tv.tv_usec = 0;
				if (w.resume_ev == NULL)
					w.resume_ev = evtimer_new(worker_base,
					    worker_resume_cb, NULL);
				evtimer_add(w.resume_ev, &tv);
			}
			return;
		}
		/* Small answers go at once, not after a delayed ACK. */
		(void)setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		egd_addr_from_sa((struct sockaddr *)&ss, &a, NULL);
		if (limits_conn_open(&l->wc->conf->limits, &a, &slot) == -1) {
			worker_refuse(s, l, (struct sockaddr *)&ss,
			    AR_CONN_LIMIT);
			continue;
		}
		/* Counted first: http_close() undoes it all. */
		w.nconns++;
		l->wc->refcnt++;
		l->wc->nconns++;
		if (http_accept(l, s, (struct sockaddr *)&ss, slot) == -1) {
			w.nconns--;
			l->wc->refcnt--;
			l->wc->nconns--;
			limits_conn_close(slot);
		}
		worker_gens_publish();
	}
}
