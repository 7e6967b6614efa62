/*
 * A configuration generation as messages: conf_send() runs in the parent
 * and sends a child what its role needs; conf_recv() runs in the worker
 * and rebuilds a struct egressd_conf from them.  Records are sent as the
 * fixed-size structs they are, with every pointer zeroed first (no
 * parent addresses leak to a child); the receiver checks every string for
 * its NUL, every count against its array and every reference to a parent
 * record before it keeps anything.
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

static void
send_host(struct ps_chan *c, uint32_t type, uint32_t owner, const char *h)
{
	struct msg_gwhost	mh;

	memset(&mh, 0, sizeof(mh));
	mh.gateway = owner;
	strlcpy(mh.host, h, sizeof(mh.host));
	ps_chan_compose(c, type, 0, -1, &mh, sizeof(mh));
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
	const struct hostname	*h;
	const struct service	*s;
	const struct route	*r;
	const struct route_match *m;
	struct service		*sc;
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

	TAILQ_FOREACH(gw, &conf->gateways, entry) {
		memset(&mg, 0, sizeof(mg));
		mg.id = gw->id;
		strlcpy(mg.name, gw->name, sizeof(mg.name));
		mg.merge_slashes = (uint32_t)gw->merge_slashes;
		mg.esc_slashes = (uint32_t)gw->esc_slashes;
		ps_chan_compose(c, IMSG_CONF_GATEWAY, 0, -1, &mg, sizeof(mg));
		TAILQ_FOREACH(h, &gw->hosts, entry)
			send_host(c, IMSG_CONF_GWHOST, gw->id, h->name);
	}
	sc = ps_xcalloc(1, sizeof(*sc));
	TAILQ_FOREACH(s, &conf->services, entry) {
		*sc = *s;
		memset(&sc->entry, 0, sizeof(sc->entry));
		memset(&sc->hosts, 0, sizeof(sc->hosts));
		ps_chan_compose(c, IMSG_CONF_SERVICE, 0, -1, sc, sizeof(*sc));
		TAILQ_FOREACH(h, &s->hosts, entry)
			send_host(c, IMSG_CONF_SVCHOST, s->id, h->name);
	}
	free(sc);
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

static struct hostname *
host_new(const char *name)
{
	struct hostname	*h;

	h = ps_xcalloc(1, sizeof(*h));
	strlcpy(h->name, name, sizeof(h->name));
	return h;
}

#define STR_OK(f)	(msg_str((f), sizeof(f)) == 0)

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

static int
recv_service(struct egressd_conf *conf, const struct ps_msg *m)
{
	struct service	*s;
	int		 i;

	s = ps_xcalloc(1, sizeof(*s));
	memcpy(s, m->data, sizeof(*s));
	TAILQ_INIT(&s->hosts);
	if (!STR_OK(s->name) || s->nports < 0 || s->nports > EGD_MAX_PORTS ||
	    s->nendpoints < 0 || s->nendpoints > EGD_MAX_ENDPOINTS ||
	    !cidrs_ok(s->from, s->nfrom) ||
	    !idents_ok(s->idents, s->nidents) ||
	    (s->resolution != RES_DNS && s->resolution != RES_STATIC) ||
	    (s->action != ACT_ENFORCE && s->action != ACT_REPORT)) {
		free(s);
		return -1;
	}
	for (i = 0; i < s->nports; i++)
		if (!STR_OK(s->ports[i].name) || s->ports[i].proto > SPROTO_TCP) {
			free(s);
			return -1;
		}
	for (i = 0; i < s->nendpoints; i++)
		if (s->endpoints[i].a.af != AF_INET &&
		    s->endpoints[i].a.af != AF_INET6) {
			free(s);
			return -1;
		}
	TAILQ_INSERT_TAIL(&conf->services, s, entry);
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
	    !idents_ok(r->idents, r->nidents)) {
		free(r);
		return -1;
	}
	TAILQ_INSERT_TAIL(&conf->routes, r, entry);
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
	TAILQ_FOREACH(r, &conf->routes, entry)
		if (r->id == mt->route)
			break;
	if (bad || r == NULL) {
		free(mt);
		return -1;
	}
	TAILQ_INSERT_TAIL(&r->matches, mt, entry);
	return 0;
}

static int
recv_host(struct egressd_conf *conf, const struct ps_msg *m)
{
	struct msg_gwhost	 mh;
	struct gateway		*gw;
	struct service		*s;
	struct hostname		*h;

	memcpy(&mh, m->data, sizeof(mh));
	if (!STR_OK(mh.host))
		return -1;
	h = host_new(mh.host);	/* TAILQ_INSERT_TAIL evaluates it twice */
	if (m->hdr.type == IMSG_CONF_GWHOST) {
		TAILQ_FOREACH(gw, &conf->gateways, entry)
			if (gw->id == mh.gateway) {
				TAILQ_INSERT_TAIL(&gw->hosts, h, entry);
				return 0;
			}
	} else {
		TAILQ_FOREACH(s, &conf->services, entry)
			if (s->id == mh.gateway) {
				TAILQ_INSERT_TAIL(&s->hosts, h, entry);
				return 0;
			}
	}
	free(h);
	return -1;
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
	if (bad) {
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
	struct msg_gateway	 mg;
	struct msg_ownaddr	 mo;
	struct gateway		*gw;
	int			 rv = 0;

	*why = "malformed configuration record";
	switch (m->hdr.type) {
	case IMSG_CONF_BEGIN:
		memcpy(&g, m->data, sizeof(g));
		if (!STR_OK(g.hostname))
			return -1;
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
	case IMSG_CONF_GATEWAY:
		memcpy(&mg, m->data, sizeof(mg));
		if (!STR_OK(mg.name) || mg.merge_slashes > 1 ||
		    mg.esc_slashes > ESLASH_DECODE)
			return -1;
		gw = ps_xcalloc(1, sizeof(*gw));
		gw->id = mg.id;
		strlcpy(gw->name, mg.name, sizeof(gw->name));
		gw->merge_slashes = (int)mg.merge_slashes;
		gw->esc_slashes = (int)mg.esc_slashes;
		TAILQ_INIT(&gw->hosts);
		TAILQ_INSERT_TAIL(&conf->gateways, gw, entry);
		break;
	case IMSG_CONF_GWHOST:
	case IMSG_CONF_SVCHOST:
		rv = recv_host(conf, m);
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

/* Every record goes as one message. */
_Static_assert(sizeof(struct destination) <= PS_MAX_PAYLOAD,
    "struct destination does not fit a message");
_Static_assert(sizeof(struct service) <= PS_MAX_PAYLOAD,
    "struct service does not fit a message");
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
