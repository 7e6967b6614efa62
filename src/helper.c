/*
 * The helper process: one per daemon, the only place that will talk to
 * DNS servers and hold private keys.  Workers reach it over direct
 * channels that the parent creates and hands to both ends.  It runs as
 * the unprivileged user in the empty root with no capabilities and the
 * helper seccomp profile (no listening; UDP, TCP and TLS clients for DNS
 * only).  DNS itself is in helper_dns.c and helper_resolve.c.
 */
#include "config.h"

#include <sys/types.h>

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "egressd.h"

static struct {
	struct event_base	*base;
	struct ps_buf		 startbuf;
	struct ps_chan		*parent;
	struct ps_chan		*workers[EGRESSD_MAXWORKERS];
	struct ps_identity	 id;
	int			 have_init;
	int			 started;
	uint32_t		 gen, pending;
	int			 inconf;
} h;

static void	helper_dispatch_init(struct ps_chan *, struct ps_msg *);
static void	helper_dispatch_conf_begin(struct ps_chan *, struct ps_msg *);
static void	helper_dispatch_ca_chunk(struct ps_chan *, struct ps_msg *);
static void	helper_dispatch_nameserver(struct ps_chan *, struct ps_msg *);
static void	helper_dispatch_conf_end(struct ps_chan *, struct ps_msg *);
static void	helper_dispatch_shutdown(struct ps_chan *, struct ps_msg *);
static void	helper_dispatch_verbose(struct ps_chan *, struct ps_msg *);
static void	helper_dispatch_worker_chan(struct ps_chan *, struct ps_msg *);
static void	helper_dispatch_key(struct ps_chan *, struct ps_msg *);
static void	helper_dispatch_keychan(struct ps_chan *, struct ps_msg *);
static void	helper_dispatch_ping(struct ps_chan *, struct ps_msg *);
static void	helper_parent_closed(struct ps_chan *, const char *);
static void	helper_worker_closed(struct ps_chan *, const char *);

static const struct ps_handler helper_parent_table[] = {
	{ IMSG_INIT, sizeof(struct msg_init), sizeof(struct msg_init),
	    PS_FD_NONE, 0, 1, helper_dispatch_init },
	{ IMSG_CONF_BEGIN, sizeof(struct msg_conf_global),
	    sizeof(struct msg_conf_global), PS_FD_NONE, 0, 0,
	    helper_dispatch_conf_begin },
	{ IMSG_CONF_CA_CHUNK, offsetof(struct msg_ca_chunk, data) + 1,
	    sizeof(struct msg_ca_chunk), PS_FD_NONE, 0, 0,
	    helper_dispatch_ca_chunk },
	{ IMSG_CONF_NAMESERVER, sizeof(struct msg_nameserver),
	    sizeof(struct msg_nameserver), PS_FD_NONE, 0, 0,
	    helper_dispatch_nameserver },
	{ IMSG_CONF_END, sizeof(uint32_t), sizeof(uint32_t), PS_FD_NONE, 0, 0,
	    helper_dispatch_conf_end },
	{ IMSG_SHUTDOWN, 0, 0, PS_FD_NONE, 0, 0, helper_dispatch_shutdown },
	{ IMSG_VERBOSE, sizeof(int), sizeof(int), PS_FD_NONE, 0, 0,
	    helper_dispatch_verbose },
	{ IMSG_WORKER_CHAN, 0, 0, PS_FD_MUST, 0, 0,
	    helper_dispatch_worker_chan },
	{ IMSG_CONF_KEY, sizeof(struct msg_key), sizeof(struct msg_key),
	    PS_FD_NONE, 0, 0, helper_dispatch_key },
	{ IMSG_WORKER_KEYCHAN, 0, 0, PS_FD_MUST, 0, 0,
	    helper_dispatch_keychan },
	{ IMSG_STATUS, sizeof(uint64_t), sizeof(uint64_t), PS_FD_MUST, 0, 1,
	    status_dispatch_helper },
};

static const struct ps_handler helper_worker_table[] = {
	{ IMSG_HELPER_PING, sizeof(uint32_t), sizeof(uint32_t), PS_FD_NONE,
	    0, 0, helper_dispatch_ping },
	{ IMSG_DNS_QUERY, sizeof(struct msg_dns_query),
	    sizeof(struct msg_dns_query), PS_FD_NONE, 0, 0,
	    hdns_dispatch_query },
};

__attribute__((noreturn)) void
helper_main(struct egressd_opts *opts)
{
	log_init(opts->debug, LOG_DAEMON);
	log_procinit("helper");
	log_setverbose(opts->verbose);
	if (!opts->debug)
		log_set_sink(child_log_sink);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	hdns_init();
	hres_preinit();	/* OpenSSL's files, for DNS over TLS */
	hdns_set_publish(status_dns);

	/* 1. The parent's build (must be ours), identity, configuration. */
	if (ps_buf_init(&h.startbuf, PS_PARENT_FD) == -1)
		fatal("ps_buf_init");
	child_hello(&h.startbuf);
	child_recv_conf(&h.startbuf, helper_parent_table,
	    nitems(helper_parent_table), &h.started);
	if (!h.have_init)
		fatalx("no identity from the parent");

	/* 2. Empty root, unprivileged user, no capabilities. */
	ps_drop(&h.id);

	/* 3. Event loop and peers. */
	if ((h.base = event_base_new()) == NULL)
		fatalx("event_base_new");
	if ((h.parent = ps_chan_adopt(h.base, &h.startbuf, "parent",
	    helper_parent_table, nitems(helper_parent_table),
	    helper_parent_closed, NULL)) == NULL)
		fatal("parent channel");
	child_log_chan(h.parent);
	hdns_start(h.base);	/* the resolver, its servers */
	hkey_start(h.base);

	/* 4. The allowlist, last. */
	ps_sandbox("helper", PS_SC_BASE | PS_SC_IO | PS_SC_EVENT |
	    PS_SC_IMSG | PS_SC_DNS);

	ps_chan_compose(h.parent, IMSG_READY, 0, -1, &h.gen, sizeof(h.gen));
	event_base_dispatch(h.base);
	exit(0);
}

static void
helper_parent_closed(struct ps_chan *c, const char *why)
{
	exit(0);
}

static void
helper_dispatch_init(struct ps_chan *c, struct ps_msg *m)
{
	struct msg_init	mi;

	memcpy(&mi, m->data, sizeof(mi));
	if (mi.role != ROLE_HELPER)
		fatalx("init for another role");
	child_init(c, &mi, &h.id);
	h.have_init = 1;
}

static void
helper_dispatch_conf_begin(struct ps_chan *c, struct ps_msg *m)
{
	struct msg_conf_global	g;

	if (h.inconf)
		fatalx("configuration begun twice");
	memcpy(&g, m->data, sizeof(g));
	h.pending = g.gen;
	h.inconf = 1;
	hdns_conf_begin(&g);
	hkey_conf_begin();
}

static void
helper_dispatch_ca_chunk(struct ps_chan *c, struct ps_msg *m)
{
	if (!h.inconf)
		fatalx("CA bundle outside a configuration");
	hdns_conf_ca_chunk(m);
}

static void
helper_dispatch_nameserver(struct ps_chan *c, struct ps_msg *m)
{
	struct msg_nameserver	ns;

	if (!h.inconf)
		fatalx("nameserver outside a configuration");
	memcpy(&ns, m->data, sizeof(ns));
	hdns_conf_nameserver(&ns);
}

static void
helper_dispatch_conf_end(struct ps_chan *c, struct ps_msg *m)
{
	uint32_t	gen;

	memcpy(&gen, m->data, sizeof(gen));
	if (!h.inconf || gen != h.pending)
		fatalx("configuration end for generation %u out of order",
		    gen);
	h.inconf = 0;
	h.gen = gen;
	hdns_conf_end();
	hkey_conf_end();
	if (!h.started) {
		h.started = 1;
		return;
	}
	ps_chan_compose(h.parent, IMSG_READY, 0, -1, &gen, sizeof(gen));
}

static void
helper_dispatch_key(struct ps_chan *c, struct ps_msg *m)
{
	if (!h.inconf)
		fatalx("key outside a configuration");
	hkey_conf_key((const struct msg_key *)m->data);
	explicit_bzero((void *)(uintptr_t)m->data, m->len);	/* the key */
}

static void
helper_dispatch_keychan(struct ps_chan *c, struct ps_msg *m)
{
	if (h.base == NULL)
		fatalx("key channel before the event loop");
	hkey_worker_chan(m->hdr.peerid, m->fd);
	m->fd = -1;
}

static void
helper_dispatch_shutdown(struct ps_chan *c, struct ps_msg *m)
{
	hdns_log_stats();
	ps_flush_blocking(&h.parent->buf);
	exit(0);
}

static void
helper_dispatch_verbose(struct ps_chan *c, struct ps_msg *m)
{
	int	v;

	memcpy(&v, m->data, sizeof(v));
	log_setverbose(v);
}

static void
helper_dispatch_worker_chan(struct ps_chan *c, struct ps_msg *m)
{
	uint32_t	 i = m->hdr.peerid;
	char		 name[32];

	if (i >= EGRESSD_MAXWORKERS)
		fatalx("worker channel for instance %u", i);
	if (h.workers[i] != NULL) {
		hdns_client_gone(h.workers[i]);
		ps_chan_free(h.workers[i]);
	}
	snprintf(name, sizeof(name), "worker %u", i);
	if ((h.workers[i] = ps_chan_new(h.base, m->fd, name,
	    helper_worker_table, nitems(helper_worker_table),
	    helper_worker_closed, NULL)) == NULL)
		fatal("worker channel");
	m->fd = -1;
	hdns_client_new(h.workers[i]);
}

/*
 * A worker's channel broke (it died, or it sent something malformed and
 * is treated as compromised): forget it; the parent wires a new one.
 */
static void
helper_worker_closed(struct ps_chan *c, const char *why)
{
	int	i;

	for (i = 0; i < EGRESSD_MAXWORKERS; i++)
		if (h.workers[i] == c)
			h.workers[i] = NULL;
	log_debug("%s: %s", c->name, why);
	hdns_client_gone(c);
	ps_chan_free(c);
}

static void
helper_dispatch_ping(struct ps_chan *c, struct ps_msg *m)
{
	ps_chan_compose(c, IMSG_HELPER_PONG, 0, -1, m->data, sizeof(uint32_t));
}
