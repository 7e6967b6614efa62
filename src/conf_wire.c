/*
 * A configuration generation as messages: conf_send() runs in the parent
 * and sends a child what its role needs; conf_recv() runs in the worker
 * and rebuilds a struct egressd_conf from them, and conf_recv_end() checks
 * that it is whole.  Routes, matches and destinations go as the fixed-size
 * structs they are, with every pointer zeroed first (no parent addresses
 * leak to a child); a service as its fixed part and lists of their own
 * length; host names packed, many to a message, in record order.  The
 * receiver checks every string for its NUL, every count against its array
 * and every reference to a parent record before it keeps anything.
 *
 * Sizes are proportional: each record and name is sent once and placed
 * once.  The sizes of the generation come first (struct msg_conf_sizes),
 * so that the worker allocates its arrays and tables once, and each
 * message then costs a bounded amount of work: the worker builds the
 * generation between the events it serves, one read of the channel at a
 * time, and never rebuilds a table in one long step.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>

#include <ifaddrs.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "egressd.h"

/* Limits of a generation a worker accepts: far above any real one. */
#define RX_MAXRECORDS	(1U << 24)
#define RX_MAXNAMES	(1U << 24)
#define RX_MAXTEXT	(1U << 30)

static void	 send_listenaddr(struct ps_chan *,
		    const struct sockaddr_storage *);

/* The receiver's progress through a generation. */
struct conf_rx {
	struct msg_conf_sizes	 sz;
	int			 sized;		/* IMSG_CONF_SIZES seen */
	uint32_t		 due[2];	/* names the records announce */
	uint32_t		 got[2];	/* names received */
	uint32_t		 cur[2];	/* records given all names */
	uint32_t		 left[2];	/* names still due to cur */
};

/* A map's distinct names by kind and their text. */
static void
map_sizes(const struct hostmap *hm, uint32_t *names, uint32_t *bytes)
{
	uint32_t	k, n = hostmap_nkeys(hm);

	for (k = 0; k < n; k++) {
		names[hostmap_keykind(hm, k)]++;
		*bytes += (uint32_t)strlen(hostmap_name(hm, k)) + 1;
	}
}

static void
send_sizes(struct ps_chan *c, const struct egressd_conf *conf)
{
	struct msg_conf_sizes	sz;
	const struct hostmap	*maps[EGD_HM_N];
	int			i;

	memset(&sz, 0, sizeof(sz));
	sz.gateways = (uint32_t)conf->gwv.n;
	sz.services = (uint32_t)conf->svcv.n;
	sz.routes = (uint32_t)conf->routev.n;
	sz.matches = (uint32_t)conf->matchv.n;
	sz.dests = (uint32_t)conf->dstv.n;
	sz.hosts[EGD_HM_GATEWAY] = (uint32_t)conf->gwhosts.nkeys;
	sz.hosts[EGD_HM_SERVICE] = (uint32_t)conf->svchosts.nkeys;
	maps[EGD_HM_GATEWAY] = conf->gwhosts.map;
	maps[EGD_HM_SERVICE] = conf->svchosts.map;
	maps[EGD_HM_AUTH] = conf->authmap;
	maps[EGD_HM_DEST] = conf->dstmap;
	for (i = 0; i < EGD_HM_N; i++)
		map_sizes(maps[i], sz.names[i], &sz.bytes[i]);
	ps_chan_compose(c, IMSG_CONF_SIZES, 0, -1, &sz, sizeof(sz));
}

/* Packs host names into messages as full as they can be. */
struct hostpack {
	struct ps_chan		*c;
	uint8_t			*buf;		/* EGD_HOSTS_BATCH */
	size_t			 len;
	struct msg_hosts	 mh;
};

static void
pack_flush(struct hostpack *hp)
{
	if (hp->mh.count == 0)
		return;
	memcpy(hp->buf, &hp->mh, sizeof(hp->mh));
	ps_chan_compose(hp->c, IMSG_CONF_HOSTS, 0, -1, hp->buf, hp->len);
	hp->mh.count = 0;
	hp->len = sizeof(hp->mh);
}

static void
pack_host(struct hostpack *hp, const char *name)
{
	size_t	len = strlen(name);

	if (len == 0 || len > UINT8_MAX)
		fatalx("%s: host \"%s\" of %zu bytes", __func__, name, len);
	if (hp->len + 1 + len > EGD_HOSTS_BATCH)
		pack_flush(hp);
	hp->buf[hp->len++] = (uint8_t)len;
	memcpy(hp->buf + hp->len, name, len);
	hp->len += len;
	hp->mh.count++;
}

/* The gateways' or the services' hosts, record after record. */
static void
send_hosts(struct ps_chan *c, const struct egressd_conf *conf, int table)
{
	const struct hostset	*hs;
	const struct gateway	*gw;
	const struct service	*s;
	struct hostpack		 hp;
	uint32_t		 i;

	memset(&hp, 0, sizeof(hp));
	hp.c = c;
	hp.buf = ps_xcalloc(1, EGD_HOSTS_BATCH);
	hp.len = sizeof(hp.mh);
	hp.mh.table = (uint32_t)table;
	if (table == EGD_HM_GATEWAY) {
		hs = &conf->gwhosts;
		TAILQ_FOREACH(gw, &conf->gateways, entry)
			for (i = 0; i < gw->nhosts; i++)
				pack_host(&hp, conf_host(hs, gw->hfirst, i));
	} else {
		hs = &conf->svchosts;
		TAILQ_FOREACH(s, &conf->services, entry)
			for (i = 0; i < s->nhosts; i++)
				pack_host(&hp, conf_host(hs, s->hfirst, i));
	}
	pack_flush(&hp);
	free(hp.buf);
}

/* A service: its fixed part, then each list as long as it is. */
static void
send_service(struct ps_chan *c, const struct service *s)
{
	struct msg_service	ms;
	struct iovec		iov[6];
	int			n = 0;

	memset(&ms, 0, sizeof(ms));
	ms.id = s->id;
	strlcpy(ms.name, s->name, sizeof(ms.name));
	ms.nhosts = s->nhosts;
	ms.resolution = (uint8_t)s->resolution;
	ms.action = (uint8_t)s->action;
	ms.allow_private = (uint8_t)s->allow_private;
	ms.sni_nocheck = (uint8_t)s->sni_nocheck;
	ms.nports = (uint8_t)s->nports;
	ms.nendpoints = (uint8_t)s->nendpoints;
	ms.nfrom = (uint8_t)s->nfrom;
	ms.nprivate = (uint8_t)s->nprivate_nets;
	ms.nidents = (uint8_t)s->nidents;
	iov[n].iov_base = &ms;
	iov[n++].iov_len = sizeof(ms);
	iov[n].iov_base = s->ports;
	iov[n++].iov_len = (size_t)s->nports * sizeof(s->ports[0]);
	iov[n].iov_base = s->endpoints;
	iov[n++].iov_len = (size_t)s->nendpoints * sizeof(s->endpoints[0]);
	iov[n].iov_base = s->from;
	iov[n++].iov_len = (size_t)s->nfrom * sizeof(s->from[0]);
	iov[n].iov_base = s->private_nets;
	iov[n++].iov_len = (size_t)s->nprivate_nets *
	    sizeof(s->private_nets[0]);
	iov[n].iov_base = s->idents;
	iov[n++].iov_len = (size_t)s->nidents * sizeof(s->idents[0]);
	ps_chan_composev(c, IMSG_CONF_SERVICE, 0, -1, iov, n);
}

/* CA bundle i in pieces (IMSG_CONF_CA_CHUNK). */
void
conf_send_ca(struct ps_chan *c, const struct egressd_conf *conf, int i)
{
	struct msg_ca_chunk	*mc;
	size_t			 off = 0, n;

	mc = ps_xcalloc(1, sizeof(*mc));
	do {
		n = conf->cas[i].len - off;
		if (n > EGD_CA_CHUNK)
			n = EGD_CA_CHUNK;
		mc->id = (uint32_t)i;
		mc->total = (uint32_t)conf->cas[i].len;
		mc->off = (uint32_t)off;
		mc->len = (uint32_t)n;
		memcpy(mc->data, conf->cas[i].pem + off, n);
		ps_chan_compose(c, IMSG_CONF_CA_CHUNK, 0, -1, mc,
		    offsetof(struct msg_ca_chunk, data) + n);
		off += n;
	} while (off < conf->cas[i].len);
	free(mc);
}

/* CA bundles in pieces, then the destinations that refer to them. */
static void
send_cas(struct ps_chan *c, const struct egressd_conf *conf)
{
	struct destination		*dc;
	const struct destination	*d;
	int				 i;

	for (i = 0; i < conf->ncas; i++)
		conf_send_ca(c, conf, i);
	dc = ps_xcalloc(1, sizeof(*dc));
	TAILQ_FOREACH(d, &conf->destinations, entry) {
		*dc = *d;
		memset(&dc->entry, 0, sizeof(dc->entry));
		for (i = 0; i < EGD_MAX_DSTPORTS; i++)
			dc->ports[i].ctx = NULL;
		ps_chan_compose(c, IMSG_CONF_DEST, 0, -1, dc, sizeof(*dc));
	}
	free(dc);
}

/*
 * Everything but the listeners, the nameservers and IMSG_CONF_END, which
 * are the caller's: they differ by role.
 */
void
conf_send(struct ps_chan *c, const struct egressd_conf *conf, int role)
{
	struct msg_conf_global	 g;
	struct msg_gateway	 mg;
	struct msg_ownaddr	 mo;
	const struct gateway	*gw;
	const struct service	*s;
	const struct route	*r;
	const struct route_match *m;
	const struct listener	*l;
	struct route		*rc;
	struct route_match	*mc;
	int			 i;

	memset(&g, 0, sizeof(g));
	g.gen = conf->gen;
	g.drain_timeout = (uint32_t)conf->drain_timeout;
	g.revoke_grace = (uint32_t)conf->revoke_grace;
	g.max_conns = (uint32_t)conf->max_conns;
	g.idle_timeout = (uint32_t)conf->idle_timeout;
	g.dns_min_ttl = (uint32_t)conf->dns_min_ttl;
	g.dns_max_ttl = (uint32_t)conf->dns_max_ttl;
	g.dns_neg_ttl = (uint32_t)conf->dns_neg_ttl;
	g.request_timeout = (uint32_t)conf->request_timeout;
	g.connect_timeout = (uint32_t)conf->connect_timeout;
	g.max_header_size = (uint32_t)conf->max_header_size;
	g.max_headers = (uint32_t)conf->max_headers;
	g.max_uri = (uint32_t)conf->max_uri;
	g.pool_idle = (uint32_t)conf->pool_idle;
	g.pool_timeout = (uint32_t)conf->pool_timeout;
	g.log_facility = (uint32_t)conf->log_facility;
	g.limits[0] = conf->limits.conns;
	g.limits[1] = conf->limits.src_conns;
	g.limits[2] = conf->limits.tunnels;
	g.limits[3] = conf->limits.src_tunnels;
	g.limits[4] = conf->limits.rate;
	g.limits[5] = conf->limits.burst;
	g.limits[6] = conf->limits.src_rate;
	g.limits[7] = conf->limits.src_burst;
	strlcpy(g.hostname, conf->hostname, sizeof(g.hostname));
	g.default_ca = conf->default_ca;
	ps_chan_compose(c, IMSG_CONF_BEGIN, 0, -1, &g, sizeof(g));
	if (role != ROLE_WORKER)
		return;

	send_sizes(c, conf);
	TAILQ_FOREACH(gw, &conf->gateways, entry) {
		memset(&mg, 0, sizeof(mg));
		mg.id = gw->id;
		strlcpy(mg.name, gw->name, sizeof(mg.name));
		mg.merge_slashes = (uint32_t)gw->merge_slashes;
		mg.esc_slashes = (uint32_t)gw->esc_slashes;
		mg.nhosts = gw->nhosts;
		ps_chan_compose(c, IMSG_CONF_GATEWAY, 0, -1, &mg, sizeof(mg));
	}
	send_hosts(c, conf, EGD_HM_GATEWAY);
	TAILQ_FOREACH(s, &conf->services, entry)
		send_service(c, s);
	send_hosts(c, conf, EGD_HM_SERVICE);
	rc = ps_xcalloc(1, sizeof(*rc));
	mc = ps_xcalloc(1, sizeof(*mc));
	TAILQ_FOREACH(r, &conf->routes, entry) {
		*rc = *r;
		memset(&rc->entry, 0, sizeof(rc->entry));
		memset(&rc->matches, 0, sizeof(rc->matches));
		ps_chan_compose(c, IMSG_CONF_ROUTE, 0, -1, rc, sizeof(*rc));
		TAILQ_FOREACH(m, &r->matches, entry) {
			*mc = *m;
			memset(&mc->entry, 0, sizeof(mc->entry));
			mc->route = r->id;
			ps_chan_compose(c, IMSG_CONF_MATCH, 0, -1, mc,
			    sizeof(*mc));
		}
	}
	free(rc);
	free(mc);
	ps_chan_compose(c, IMSG_CONF_AUDIT, 0, -1, &conf->audit,
	    sizeof(conf->audit));
	send_cas(c, conf);
	for (i = 0; i < conf->nownaddrs; i++) {
		memset(&mo, 0, sizeof(mo));
		mo.af = conf->ownaddrs[i].af;
		memcpy(mo.addr, conf->ownaddrs[i].addr, sizeof(mo.addr));
		ps_chan_compose(c, IMSG_CONF_OWNADDR, 0, -1, &mo, sizeof(mo));
	}
	TAILQ_FOREACH(l, &conf->listeners, entry)
		send_listenaddr(c, &l->ss);
	if (conf->metrics_ss.ss_family != 0)
		send_listenaddr(c, &conf->metrics_ss);
}

/* Where the daemon listens, for the loop guard (guard.c). */
static void
send_listenaddr(struct ps_chan *c, const struct sockaddr_storage *ss)
{
	struct msg_listenaddr	 ml;
	struct egd_addr		 a;
	uint16_t		 port;

	memset(&a, 0, sizeof(a));
	egd_addr_from_sa((const struct sockaddr *)ss, &a, &port);
	if (a.af != AF_INET && a.af != AF_INET6)
		return;
	memset(&ml, 0, sizeof(ml));
	ml.af = a.af;
	memcpy(ml.addr, a.addr, sizeof(ml.addr));
	ml.port = port;
	ps_chan_compose(c, IMSG_CONF_LISTENADDR, 0, -1, &ml, sizeof(ml));
}

void
conf_add_listen(struct egressd_conf *conf, const struct egd_addr *a,
    uint16_t port)
{
	struct egd_sockname	*n;
	int			 max;

	if (conf->nlistens == conf->maxlistens) {
		max = conf->maxlistens ? conf->maxlistens * 2 : 16;
		if ((n = reallocarray(conf->listens, (size_t)max,
		    sizeof(*n))) == NULL)
			fatal("listen addresses");
		conf->listens = n;
		conf->maxlistens = max;
	}
	conf->listens[conf->nlistens].a = *a;
	conf->listens[conf->nlistens++].port = port;
}

/* Every address counts: the list grows as needed, never truncated. */
void
conf_add_ownaddr(struct egressd_conf *conf, const struct egd_addr *a)
{
	struct egd_addr	*n;
	int		 max;

	if (conf->nownaddrs == conf->maxownaddrs) {
		max = conf->maxownaddrs ? conf->maxownaddrs * 2 : 64;
		if ((n = reallocarray(conf->ownaddrs, (size_t)max,
		    sizeof(*n))) == NULL)
			fatal("own addresses");
		conf->ownaddrs = n;
		conf->maxownaddrs = max;
	}
	conf->ownaddrs[conf->nownaddrs++] = *a;
}

/*
 * The addresses of this host, for the guard against dialing ourselves;
 * read at start and on every reload (SIGHUP).
 */
void
conf_local_addrs(struct egressd_conf *conf)
{
	struct ifaddrs	*ifa, *i;

	conf->nownaddrs = 0;
	if (getifaddrs(&ifa) == -1) {
		log_warn("getifaddrs");
		return;
	}
	for (i = ifa; i != NULL; i = i->ifa_next) {
		struct egd_addr	a;

		if (i->ifa_addr == NULL || (i->ifa_addr->sa_family != AF_INET &&
		    i->ifa_addr->sa_family != AF_INET6))
			continue;
		egd_addr_from_sa(i->ifa_addr, &a, NULL);
		conf_add_ownaddr(conf, &a);
	}
	freeifaddrs(ifa);
}

/* ---- receiving (worker) ----------------------------------------------- */

static int
cidrs_ok(const struct egd_cidr *c, int n)
{
	int	i;

	if (n < 0 || n > EGD_MAX_CIDRS)
		return 0;
	for (i = 0; i < n; i++)
		if (!((c[i].a.af == AF_INET && c[i].prefixlen <= 32) ||
		    (c[i].a.af == AF_INET6 && c[i].prefixlen <= 128)))
			return 0;
	return 1;
}

#define STR_OK(f)	(msg_str((f), sizeof(f)) == 0)

/*
 * The kind of a host name as configurations hold them (a name, "*.name",
 * an address), or -1 for anything else.
 */
static int
host_kind(const char *h)
{
	const char	*why;
	int		 kind;

	if ((kind = hostmap_kind(h)) == HMK_LITERAL ||
	    host_valid(h, 1, &why) == 0)
		return kind;
	return -1;
}

/*
 * The sizes of what follows: every array and table gets its room now, so
 * that no record or name moves or rebuilds one later.
 */
static int
recv_sizes(struct egressd_conf *conf, const struct ps_msg *m)
{
	struct conf_rx		*rx = conf->rx;
	struct msg_conf_sizes	*sz = &rx->sz;
	struct hostmap		*maps[EGD_HM_N];
	uint64_t		 n;
	int			 i, k;

	if (rx->sized)
		return -1;
	memcpy(sz, m->data, sizeof(*sz));
	if (sz->gateways > RX_MAXRECORDS || sz->services > RX_MAXRECORDS ||
	    sz->routes > RX_MAXRECORDS || sz->matches > RX_MAXRECORDS ||
	    sz->dests > RX_MAXRECORDS || sz->hosts[0] > RX_MAXNAMES ||
	    sz->hosts[1] > RX_MAXNAMES)
		return -1;
	for (i = 0; i < EGD_HM_N; i++) {
		for (n = 0, k = 0; k < HMK_NKINDS; k++)
			n += sz->names[i][k];
		if (n > RX_MAXNAMES || sz->bytes[i] > RX_MAXTEXT)
			return -1;
	}
	conf_vec_reserve(&conf->gwv, sz->gateways);
	conf_vec_reserve(&conf->svcv, sz->services);
	conf_vec_reserve(&conf->routev, sz->routes);
	conf_vec_reserve(&conf->matchv, sz->matches);
	conf_vec_reserve(&conf->anyauth, sz->matches);
	conf_vec_reserve(&conf->dstv, sz->dests);
	maps[EGD_HM_AUTH] = conf->authmap;
	maps[EGD_HM_DEST] = conf->dstmap;
	if (conf_host_reserve(&conf->gwhosts, sz->names[EGD_HM_GATEWAY],
	    sz->bytes[EGD_HM_GATEWAY], sz->hosts[EGD_HM_GATEWAY]) == -1 ||
	    conf_host_reserve(&conf->svchosts, sz->names[EGD_HM_SERVICE],
	    sz->bytes[EGD_HM_SERVICE], sz->hosts[EGD_HM_SERVICE]) == -1 ||
	    hostmap_reserve(maps[EGD_HM_AUTH], sz->names[EGD_HM_AUTH],
	    sz->bytes[EGD_HM_AUTH]) == -1 ||
	    hostmap_reserve(maps[EGD_HM_DEST], sz->names[EGD_HM_DEST],
	    sz->bytes[EGD_HM_DEST]) == -1)
		return -1;
	rx->sized = 1;
	return 0;
}

static int
recv_gateway(struct egressd_conf *conf, const struct ps_msg *m)
{
	struct conf_rx		*rx = conf->rx;
	struct msg_gateway	 mg;
	struct gateway		*gw;

	memcpy(&mg, m->data, sizeof(mg));
	if (!STR_OK(mg.name) || mg.merge_slashes > 1 ||
	    mg.esc_slashes > ESLASH_DECODE || mg.id != conf->gwv.n + 1 ||
	    conf->gwv.n >= rx->sz.gateways ||
	    mg.nhosts > rx->sz.hosts[EGD_HM_GATEWAY] -
	    rx->due[EGD_HM_GATEWAY])
		return -1;
	gw = ps_xcalloc(1, sizeof(*gw));
	gw->id = mg.id;
	strlcpy(gw->name, mg.name, sizeof(gw->name));
	gw->merge_slashes = (int)mg.merge_slashes;
	gw->esc_slashes = (int)mg.esc_slashes;
	gw->hfirst = rx->due[EGD_HM_GATEWAY];
	gw->nhosts = mg.nhosts;
	rx->due[EGD_HM_GATEWAY] += mg.nhosts;
	TAILQ_INSERT_TAIL(&conf->gateways, gw, entry);
	conf_vec_add(&conf->gwv, gw);
	return 0;
}

static int
idents_ok(const char (*idents)[EGD_IDENT_MAX], int n)
{
	int	i;

	if (n < 0 || n > EGD_MAX_IDENTS)
		return 0;
	for (i = 0; i < n; i++)
		if (!STR_OK(idents[i]) || idents[i][0] == '\0')
			return 0;
	return 1;
}

/*
 * A list of n elements of size bytes from the message at *off, or NULL,
 * in the generation's arena.
 */
static void *
recv_array(struct egressd_conf *conf, const struct ps_msg *m, size_t *off,
    int n, size_t size)
{
	void	*a;

	if (n == 0)
		return NULL;
	a = conf_alloc(conf, (size_t)n * size);
	memcpy(a, m->data + *off, (size_t)n * size);
	*off += (size_t)n * size;
	return a;
}

static int
recv_service(struct egressd_conf *conf, const struct ps_msg *m)
{
	struct conf_rx		*rx = conf->rx;
	struct msg_service	 ms;
	struct service		*s;
	size_t			 off = sizeof(ms);
	int			 i;

	memcpy(&ms, m->data, sizeof(ms));
	if (!STR_OK(ms.name) || ms.nports > EGD_MAX_PORTS ||
	    ms.nendpoints > EGD_MAX_ENDPOINTS || ms.nfrom > EGD_MAX_CIDRS ||
	    ms.nprivate > EGD_MAX_CIDRS ||
	    ms.nidents > EGD_MAX_IDENTS || m->len != sizeof(ms) +
	    ms.nports * sizeof(struct svc_port) +
	    ms.nendpoints * sizeof(struct svc_endpoint) +
	    (ms.nfrom + ms.nprivate) * sizeof(struct egd_cidr) +
	    (size_t)ms.nidents * EGD_IDENT_MAX ||
	    ms.id != conf->svcv.n + 1 || conf->svcv.n >= rx->sz.services ||
	    ms.nhosts > rx->sz.hosts[EGD_HM_SERVICE] -
	    rx->due[EGD_HM_SERVICE] ||
	    (ms.resolution != RES_DNS && ms.resolution != RES_STATIC) ||
	    (ms.action != ACT_ENFORCE && ms.action != ACT_REPORT) ||
	    (ms.allow_private != PRIV_NONE && ms.allow_private != PRIV_ALL &&
	    ms.allow_private != PRIV_NETS) ||
	    (ms.allow_private == PRIV_NETS) != (ms.nprivate > 0) ||
	    ms.sni_nocheck > 1)
		return -1;
	/* From the arena: a refused one is freed with the generation. */
	s = conf_alloc(conf, sizeof(*s));
	s->id = ms.id;
	memcpy(s->name, ms.name, sizeof(s->name));
	s->resolution = ms.resolution;
	s->action = ms.action;
	s->allow_private = ms.allow_private;
	s->sni_nocheck = ms.sni_nocheck;
	s->nports = ms.nports;
	s->ports = recv_array(conf, m, &off, s->nports, sizeof(s->ports[0]));
	s->nendpoints = ms.nendpoints;
	s->endpoints = recv_array(conf, m, &off, s->nendpoints,
	    sizeof(s->endpoints[0]));
	s->nfrom = ms.nfrom;
	s->from = recv_array(conf, m, &off, s->nfrom, sizeof(s->from[0]));
	s->nprivate_nets = ms.nprivate;
	s->private_nets = recv_array(conf, m, &off, s->nprivate_nets,
	    sizeof(s->private_nets[0]));
	s->nidents = ms.nidents;
	s->idents = recv_array(conf, m, &off, s->nidents, sizeof(s->idents[0]));
	if (!cidrs_ok(s->from, s->nfrom) ||
	    !cidrs_ok(s->private_nets, s->nprivate_nets) ||
	    !idents_ok((const char (*)[EGD_IDENT_MAX])s->idents,
	    s->nidents))
		return -1;
	for (i = 0; i < s->nports; i++)
		if (!STR_OK(s->ports[i].name) || s->ports[i].proto > SPROTO_TCP)
			return -1;
	for (i = 0; i < s->nendpoints; i++)
		if (s->endpoints[i].a.af != AF_INET &&
		    s->endpoints[i].a.af != AF_INET6)
			return -1;
	s->hfirst = rx->due[EGD_HM_SERVICE];
	s->nhosts = ms.nhosts;
	rx->due[EGD_HM_SERVICE] += ms.nhosts;
	TAILQ_INSERT_TAIL(&conf->services, s, entry);
	conf_vec_add(&conf->svcv, s);
	return 0;
}

static int
recv_route(struct egressd_conf *conf, const struct ps_msg *m)
{
	struct route	*r;

	r = ps_xcalloc(1, sizeof(*r));
	memcpy(r, m->data, sizeof(*r));
	TAILQ_INIT(&r->matches);
	if (!STR_OK(r->name) || r->ngateways < 0 ||
	    r->ngateways > EGD_MAX_ROUTEGW || !cidrs_ok(r->from, r->nfrom) ||
	    !idents_ok(r->idents, r->nidents) ||
	    r->id != conf->routev.n + 1 ||
	    conf->routev.n >= conf->rx->sz.routes) {
		free(r);
		return -1;
	}
	TAILQ_INSERT_TAIL(&conf->routes, r, entry);
	conf_vec_add(&conf->routev, r);
	return 0;
}

static int
recv_match(struct egressd_conf *conf, const struct ps_msg *m)
{
	struct route_match	*mt;
	struct route		*r;
	int			 i, bad;

	mt = ps_xcalloc(1, sizeof(*mt));
	memcpy(mt, m->data, sizeof(*mt));
	bad = !STR_OK(mt->authority) || !STR_OK(mt->path) ||
	    !STR_OK(mt->method) || !STR_OK(mt->rewrite_authority) ||
	    !STR_OK(mt->rewrite_prefix) || mt->pathtype < PATH_ANY ||
	    mt->pathtype > PATH_PREFIX || mt->nheaders < 0 ||
	    mt->nheaders > EGD_MAX_HDRMATCH || mt->ndests < 0 ||
	    mt->ndests > EGD_MAX_DESTS;
	for (i = 0; !bad && i < mt->nheaders; i++)
		bad = !STR_OK(mt->headers[i].name) ||
		    !STR_OK(mt->headers[i].value);
	for (i = 0; !bad && i < mt->ndests; i++)
		bad = !STR_OK(mt->dests[i].host);
	/* Its route is the last one; matches come in file order. */
	r = TAILQ_LAST(&conf->routes, routelist);
	if (bad || r == NULL || mt->route != r->id ||
	    mt->id != conf->matchv.n + 1 ||
	    conf->matchv.n >= conf->rx->sz.matches ||
	    (mt->authority[0] != '\0' && host_kind(mt->authority) == -1) ||
	    conf_match_add(conf, mt) == -1) {
		free(mt);
		return -1;
	}
	TAILQ_INSERT_TAIL(&r->matches, mt, entry);
	return 0;
}

/* The id of the record the next name of a table belongs to, or 0. */
static uint32_t
host_owner(struct egressd_conf *conf, int t)
{
	struct conf_rx	*rx = conf->rx;
	struct recvec	*v = t == EGD_HM_GATEWAY ? &conf->gwv : &conf->svcv;

	while (rx->left[t] == 0) {
		if (rx->cur[t] >= v->n)
			return 0;
		rx->left[t] = t == EGD_HM_GATEWAY ?
		    ((struct gateway *)v->v[rx->cur[t]])->nhosts :
		    ((struct service *)v->v[rx->cur[t]])->nhosts;
		rx->cur[t]++;
	}
	rx->left[t]--;
	return rx->cur[t];
}

/*
 * Host names of gateways or services, each to the record the counts say:
 * every name checked as the parser would have it, and each record's in
 * the order sent (a record never lists a name twice).
 */
static int
recv_hosts(struct egressd_conf *conf, const struct ps_msg *m)
{
	struct conf_rx		*rx = conf->rx;
	struct msg_hosts	 mh;
	struct hostset		*hs;
	char			 name[EGD_HOST_MAX];
	size_t			 off = sizeof(mh), len;
	uint32_t		 i, owner;
	int			 t, kind;

	memcpy(&mh, m->data, sizeof(mh));
	if (mh.table != EGD_HM_GATEWAY && mh.table != EGD_HM_SERVICE)
		return -1;
	t = (int)mh.table;
	hs = t == EGD_HM_GATEWAY ? &conf->gwhosts : &conf->svchosts;
	if (mh.count == 0 || mh.count > rx->due[t] - rx->got[t])
		return -1;
	for (i = 0; i < mh.count; i++) {
		if (off >= m->len || (len = m->data[off]) == 0 ||
		    len > m->len - off - 1)
			return -1;
		memcpy(name, m->data + off + 1, len);
		name[len] = '\0';
		off += 1 + len;
		if (strlen(name) != len || (kind = host_kind(name)) == -1 ||
		    (owner = host_owner(conf, t)) == 0 ||
		    conf_host_add(hs, name, kind, owner) != 0)
			return -1;
		rx->got[t]++;
	}
	return off == m->len ? 0 : -1;
}

/*
 * The audit settings, the sinks as the parent resolved them: at least
 * one, each of a known type; the worker never reads the addresses but
 * to compare sinks across generations.
 */
static int
recv_audit(struct egressd_conf *conf, const struct ps_msg *m)
{
	struct audit_conf	 a;
	const char		*why;
	int			 i;

	memcpy(&a, m->data, sizeof(a));
	if (!STR_OK(a.sdid) || audit_sdid_valid(a.sdid, &why) == -1 ||
	    a.nsinks < 1 || a.nsinks > EGD_AUDIT_MAXSINKS ||
	    (a.events != AEVENTS_ALL && a.events != AEVENTS_DENIALS) ||
	    a.buffer < EGD_AUDITBUF_MIN || a.buffer > EGD_AUDITBUF_MAX)
		return -1;
	for (i = 0; i < a.nsinks; i++)
		if (!STR_OK(a.sinks[i].path) || a.sinks[i].type < ASINK_UNIX ||
		    a.sinks[i].type > ASINK_STDERR ||
		    a.sinks[i].sslen > sizeof(a.sinks[i].ss))
			return -1;
	conf->audit = a;
	return 0;
}

/* A piece of CA bundle: bundles in order, pieces in order, no gaps. */
static int
recv_ca_chunk(struct egressd_conf *conf, const struct ps_msg *m)
{
	struct msg_ca_chunk	 mc;
	struct ca_bundle	*ca;
	size_t			 hl = offsetof(struct msg_ca_chunk, data);

	memcpy(&mc, m->data, hl);
	if (mc.len > EGD_CA_CHUNK || m->len != hl + mc.len ||
	    mc.total == 0 || mc.total > EGD_CA_MAXSIZE)
		return -1;
	if (mc.off == 0) {
		/* A new bundle: the next id, the last one complete. */
		if (mc.id != (uint32_t)conf->ncas ||
		    conf->ncas >= EGD_MAX_CAS || (conf->ncas > 0 &&
		    conf->cas[conf->ncas - 1].got !=
		    conf->cas[conf->ncas - 1].len))
			return -1;
		ca = &conf->cas[conf->ncas++];
		memset(ca, 0, sizeof(*ca));
		ca->len = mc.total;
		ca->pem = ps_xcalloc(1, mc.total + 1);
	} else {
		if (conf->ncas == 0 || mc.id != (uint32_t)conf->ncas - 1)
			return -1;
		ca = &conf->cas[conf->ncas - 1];
	}
	if (mc.total != ca->len || mc.off != ca->got ||
	    mc.len > ca->len - ca->got)
		return -1;
	memcpy(ca->pem + ca->got, m->data + hl, mc.len);
	ca->got += mc.len;
	return 0;
}

static int
recv_dest(struct egressd_conf *conf, const struct ps_msg *m)
{
	const struct destination *dup;
	struct destination	*d;
	struct dst_port		*p;
	const char		*why;
	int			 i, j, bad;

	d = ps_xcalloc(1, sizeof(*d));
	memcpy(d, m->data, sizeof(*d));
	bad = !STR_OK(d->name) || !STR_OK(d->host) ||
	    host_valid(d->host, 1, &why) == -1 || d->nports < 1 ||
	    d->nports > EGD_MAX_DSTPORTS;
	for (i = 0; !bad && i < EGD_MAX_DSTPORTS; i++) {
		p = &d->ports[i];
		p->ctx = NULL;
		if (i >= d->nports)
			continue;
		bad = !STR_OK(p->sni) || !STR_OK(p->ca) ||
		    !STR_OK(p->ciphers) || p->nsan < 0 ||
		    !STR_OK(p->cert) || !STR_OK(p->key) ||
		    p->nsan > EGD_MAX_VERIFYSAN ||
		    (p->mode != TLSM_DISABLE && p->mode != TLSM_SIMPLE &&
		    p->mode != TLSM_MUTUAL) ||
		    (p->mode == TLSM_MUTUAL && (p->cert_id < 0 ||
		    p->cert_id >= conf->ncas || conf->cas[p->cert_id].got !=
		    conf->cas[p->cert_id].len)) ||
		    (p->minver != 12 && p->minver != 13) ||
		    (p->mode != TLSM_DISABLE && (p->ca_id >=
		    (uint32_t)conf->ncas || conf->cas[p->ca_id].got !=
		    conf->cas[p->ca_id].len));
		for (j = 0; !bad && j < p->nsan; j++)
			bad = !STR_OK(p->san[j]);
	}
	if (bad || d->id != conf->dstv.n + 1 ||
	    conf->dstv.n >= conf->rx->sz.dests) {
		free(d);
		return -1;
	}
	conf_vec_add(&conf->dstv, d);
	if (conf_dest_add(conf, d, &dup) != 0) {
		conf->dstv.n--;
		free(d);
		return -1;
	}
	TAILQ_INSERT_TAIL(&conf->destinations, d, entry);
	return 0;
}

/*
 * One record of a generation into conf.  Returns -1 with *why set for a
 * malformed one; the caller treats the parent channel as broken.
 */
int
conf_recv(struct egressd_conf *conf, struct ps_msg *m, const char **why)
{
	struct msg_conf_global	 g;
	struct msg_ownaddr	 mo;
	struct msg_listenaddr	 ml;
	int			 rv = 0;

	*why = "malformed configuration record";
	if (m->hdr.type != IMSG_CONF_BEGIN && m->hdr.type != IMSG_CONF_SIZES &&
	    (conf->rx == NULL || !conf->rx->sized)) {
		*why = "configuration record before the sizes";
		return -1;
	}
	switch (m->hdr.type) {
	case IMSG_CONF_BEGIN:
		memcpy(&g, m->data, sizeof(g));
		if (!STR_OK(g.hostname) || conf->rx != NULL)
			return -1;
		conf->rx = ps_xcalloc(1, sizeof(*conf->rx));
		conf->gen = g.gen;
		conf->drain_timeout = (int)g.drain_timeout;
		if (g.revoke_grace > 3600)
			return -1;
		conf->revoke_grace = (int)g.revoke_grace;
		conf->max_conns = (int)g.max_conns;
		conf->idle_timeout = (int)g.idle_timeout;
		conf->dns_min_ttl = (int)g.dns_min_ttl;
		conf->dns_max_ttl = (int)g.dns_max_ttl;
		conf->dns_neg_ttl = (int)g.dns_neg_ttl;
		conf->request_timeout = (int)g.request_timeout;
		conf->connect_timeout = (int)g.connect_timeout;
		conf->max_header_size = (int)g.max_header_size;
		conf->max_headers = (int)g.max_headers;
		conf->max_uri = (int)g.max_uri;
		conf->pool_idle = (int)g.pool_idle;
		conf->pool_timeout = (int)g.pool_timeout;
		conf->log_facility = (int)g.log_facility;
		conf->limits.conns = g.limits[0];
		conf->limits.src_conns = g.limits[1];
		conf->limits.tunnels = g.limits[2];
		conf->limits.src_tunnels = g.limits[3];
		conf->limits.rate = g.limits[4];
		conf->limits.burst = g.limits[5];
		conf->limits.src_rate = g.limits[6];
		conf->limits.src_burst = g.limits[7];
		strlcpy(conf->hostname, g.hostname, sizeof(conf->hostname));
		if (g.default_ca < -1 || g.default_ca >= EGD_MAX_CAS)
			return -1;
		conf->default_ca = g.default_ca;
		break;
	case IMSG_CONF_SIZES:
		if (conf->rx == NULL)
			return -1;
		rv = recv_sizes(conf, m);
		break;
	case IMSG_CONF_GATEWAY:
		rv = recv_gateway(conf, m);
		break;
	case IMSG_CONF_HOSTS:
		rv = recv_hosts(conf, m);
		break;
	case IMSG_CONF_SERVICE:
		rv = recv_service(conf, m);
		break;
	case IMSG_CONF_ROUTE:
		rv = recv_route(conf, m);
		break;
	case IMSG_CONF_MATCH:
		rv = recv_match(conf, m);
		break;
	case IMSG_CONF_AUDIT:
		rv = recv_audit(conf, m);
		break;
	case IMSG_CONF_CA_CHUNK:
		rv = recv_ca_chunk(conf, m);
		break;
	case IMSG_CONF_DEST:
		rv = recv_dest(conf, m);
		break;
	case IMSG_CONF_LISTENADDR:
		memcpy(&ml, m->data, sizeof(ml));
		if ((ml.af != AF_INET && ml.af != AF_INET6) || ml.port == 0)
			return -1;
		{
			struct egd_addr	a;

			memset(&a, 0, sizeof(a));
			a.af = ml.af;
			memcpy(a.addr, ml.addr, sizeof(a.addr));
			conf_add_listen(conf, &a, ml.port);
		}
		break;
	case IMSG_CONF_OWNADDR:
		memcpy(&mo, m->data, sizeof(mo));
		if (mo.af != AF_INET && mo.af != AF_INET6)
			return -1;
		{
			struct egd_addr	a;

			a.af = mo.af;
			memcpy(a.addr, mo.addr, sizeof(a.addr));
			conf_add_ownaddr(conf, &a);
		}
		break;
	default:
		*why = "unexpected configuration record";
		return -1;
	}
	return rv;
}

/*
 * The generation is whole: every record and name announced arrived.
 * Returns -1 with *why set otherwise; the caller treats the parent
 * channel as broken.
 */
int
conf_recv_end(struct egressd_conf *conf, const char **why)
{
	struct conf_rx	*rx = conf->rx;

	*why = "incomplete configuration";
	if (rx == NULL || !rx->sized || conf->gwv.n != rx->sz.gateways ||
	    conf->svcv.n != rx->sz.services ||
	    conf->routev.n != rx->sz.routes ||
	    conf->matchv.n != rx->sz.matches ||
	    conf->dstv.n != rx->sz.dests ||
	    rx->due[0] != rx->sz.hosts[0] || rx->got[0] != rx->due[0] ||
	    rx->due[1] != rx->sz.hosts[1] || rx->got[1] != rx->due[1])
		return -1;
	free(conf->rx);
	conf->rx = NULL;
	return 0;
}

/* Every record goes as one message. */
_Static_assert(sizeof(struct destination) <= PS_MAX_PAYLOAD,
    "struct destination does not fit a message");
_Static_assert(EGD_SVCMSG_MAX <= PS_MAX_PAYLOAD,
    "a service does not fit a message");
_Static_assert(sizeof(struct route) <= PS_MAX_PAYLOAD,
    "struct route does not fit a message");
_Static_assert(sizeof(struct msg_key) <= PS_MAX_PAYLOAD,
    "struct msg_key does not fit a message");
/* proto.h spells these sizes out; they are the configuration's. */
_Static_assert(sizeof(((struct msg_key *)0)->der) == EGD_KEY_MAXDER &&
    sizeof(((struct msg_key *)0)->id) == EGD_KEYID_LEN &&
    sizeof(((struct msg_keyop *)0)->id) == EGD_KEYID_LEN &&
    sizeof(((struct msg_listener *)0)->ciphers) == EGD_CIPHERS_MAX,
    "proto.h and egressd.h disagree on a size");
