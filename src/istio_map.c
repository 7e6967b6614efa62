/*
 * egressctl import istio, second stage: from the resources read
 * (istio.c) to the blocks of egressd.conf (og_* records, src/istio.h),
 * deciding what needs several resources at once.  Run by egressctl, as
 * its caller.
 *
 * - Gateways: servers on the same address and port merge; a port used
 *   by two Gateways is an error (egressd listens on it once); servers
 *   with different hosts become gateways of their own, since hosts are
 *   per gateway in egressd.
 * - ServiceEntries: an HTTP port that a DestinationRule sets to TLS is
 *   https (the TLS origination idiom); MESH_INTERNAL allows private
 *   addresses.
 * - VirtualServices: a route, or match, bound to the "mesh" gateway only
 *   is the sidecars' hop to the gateway: left out, with its messages,
 *   and the hosts it sends to remembered; every other match becomes one
 *   match block per authority it can hold (the VirtualService's hosts,
 *   narrowed by an authority condition), bound to the egressd gateways
 *   of its Gateways; consecutive blocks with the same gateways make one
 *   route.  Every destination must be registered by a ServiceEntry, as
 *   egressd -n will check.
 * - DestinationRules for hosts no ServiceEntry registers are the mesh's
 *   own (the sidecars' hop among them): left out, with their messages.
 *
 * Resources are taken sorted by kind, namespace and name, so the output
 * does not depend on the order of the files.  Interface: ist_map().
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "egressd.h"
#include "istio.h"

#define MATCH_MAX	65536	/* match blocks in all */

/* The egressd gateways an Istio Gateway became. */
struct gwref {
	const struct ist_res	*res;
	size_t			*gi;
	size_t			 ngi;
};

struct names {
	char			**v;
	size_t			 n, max;
};

struct mapper {
	struct ist_ctx		*ctx;
	struct ist_res		**byk[IK_NKINDS];
	size_t			 nbyk[IK_NKINDS];
	struct gwref		*gwr;
	size_t			 ngwr;
	struct names		 names[IK_NKINDS];
	struct names		 meshhop;	/* hosts the sidecars' hop goes to */
	struct og_listener	**all;		/* every listener so far */
	size_t			 nall, maxall;
	size_t			 maxgw, maxrt;	/* room in ctx->gw, ctx->rt */
	size_t			 nmatch;
};

static const char *const sections[] = { "http", "tls", "tcp" };

static int		 res_cmp(const void *, const void *);
static int		 str_cmp(const void *, const void *);
static int		 uint_cmp(const void *, const void *);
static int		 same(const char *, const char *);
static int		 covers(const char *, const char *);
static int		 is_pattern(const char *);
static void		 note(struct mapper *, struct og_notes *, const char *,
			    ...) __attribute__((__format__ (printf, 3, 4)));
static void		 names_add(struct mapper *, struct names *,
			    const char *);
static int		 names_has(const struct names *, const char *);
static char		*base_name(struct mapper *, const struct ist_res *);
static char		*take_name(struct mapper *, int, const char *,
			    const struct ist_res *);
static void		 add_index(struct mapper *, size_t **, size_t *,
			    size_t);
static const char	*where(struct mapper *, const struct ist_loc *);
static void		 provenance(struct mapper *, struct og_notes *,
			    const struct ist_res *);
static void		 exportto(struct mapper *, struct og_notes *,
			    const struct ist_res *);
static int		 same_listener(const struct og_listener *,
			    const struct og_listener *);
static void		 hosts_merge(struct mapper *, struct og_listener *,
			    const struct ist_strs *);
static int		 same_hosts(const struct og_listener *,
			    const struct og_listener *);
static void		 map_gateway(struct mapper *, const struct ist_res *);
static const struct ist_ctls *dr_tls(struct mapper *, const char *,
			    unsigned int, const struct ist_res **);
static const struct ist_res *registered(struct mapper *, const char *,
			    unsigned int);
static void		 map_service(struct mapper *, const struct ist_res *);
static int		 resolve_gateways(struct mapper *,
			    const struct ist_res *, int,
			    const struct ist_strs *, const char *, size_t **,
			    size_t *, int *);
static int		 forwards(struct mapper *, struct ist_res *,
			    struct ist_route *, const char *,
			    struct og_fwd **, size_t *, const char **,
			    struct og_notes *);
static int		 authorities(struct mapper *, const struct ist_res *,
			    const struct ist_route *, const struct ist_match *,
			    const char *, char ***, size_t *, unsigned int *);
static struct og_match	*new_match(struct mapper *, const struct ist_res *,
			    const char *, const struct ist_loc *, size_t *,
			    size_t);
static void		 match_blocks(struct mapper *, struct ist_res *,
			    struct ist_route *, struct ist_match *,
			    const char *, const char *, size_t *, size_t,
			    struct og_fwd *, size_t, const char *,
			    struct og_notes *, struct og_match ***, size_t *,
			    size_t *);
static void		 push_route(struct mapper *, struct og_route *);
static void		 map_vs(struct mapper *, struct ist_res *);
static void		 map_dr(struct mapper *, struct ist_res *);

/* ---- small things ------------------------------------------------------ */

static int
res_cmp(const void *a, const void *b)
{
	const struct ist_res	*x = *(struct ist_res *const *)a;
	const struct ist_res	*y = *(struct ist_res *const *)b;
	int			 c;

	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	if ((c = strcmp(x->ns, y->ns)) != 0)
		return c;
	if ((c = strcmp(x->name, y->name)) != 0)
		return c;
	if (x->loc.file != y->loc.file)
		return x->loc.file < y->loc.file ? -1 : 1;
	return x->loc.line < y->loc.line ? -1 : x->loc.line > y->loc.line;
}

static int
str_cmp(const void *a, const void *b)
{
	return strcmp(((const struct ist_str *)a)->s,
	    ((const struct ist_str *)b)->s);
}

static int
uint_cmp(const void *a, const void *b)
{
	unsigned int	x = *(const unsigned int *)a, y = *(const unsigned int *)b;

	return x < y ? -1 : x > y;
}

static int
same(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

/* Host or pattern a takes in host or pattern b. */
static int
covers(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return 0;
	return strcmp(a, b) == 0 || host_match(a, b);
}

static int
is_pattern(const char *h)
{
	return h != NULL && h[0] == '*';
}

static void
note(struct mapper *m, struct og_notes *ns, const char *fmt, ...)
{
	va_list	 ap;
	char	 buf[1024];
	size_t	 cap = ns->n;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	/* ist_grow doubles from the count: keep the count a power of 2. */
	if (ns->n == 0 || (ns->n & (ns->n - 1)) == 0)
		ns->v = ist_grow(m->ctx, ns->v, &cap, sizeof(*ns->v));
	ns->v[ns->n++].text = ist_strdup(m->ctx, buf);
}

static void
names_add(struct mapper *m, struct names *s, const char *name)
{
	if (s->n == s->max)
		s->v = ist_grow(m->ctx, s->v, &s->max, sizeof(*s->v));
	s->v[s->n++] = ist_strdup(m->ctx, name);
}

static int
names_has(const struct names *s, const char *name)
{
	size_t	i;

	for (i = 0; i < s->n; i++)
		if (strcmp(s->v[i], name) == 0)
			return 1;
	return 0;
}

/* The name, or "namespace/name" when another namespace has it too. */
static char *
base_name(struct mapper *m, const struct ist_res *r)
{
	size_t	i;

	for (i = 0; i < m->nbyk[r->kind]; i++)
		if (m->byk[r->kind][i] != r &&
		    strcmp(m->byk[r->kind][i]->name, r->name) == 0 &&
		    r->ns[0] != '\0')
			return ist_printf(m->ctx, "%s/%s", r->ns, r->name);
	return r->name;
}

/* A block name not taken yet: base, else base-2, base-3... */
static char *
take_name(struct mapper *m, int kind, const char *base,
    const struct ist_res *r)
{
	char	*name = ist_strdup(m->ctx, base);
	int	 i;

	for (i = 2; names_has(&m->names[kind], name); i++)
		name = ist_printf(m->ctx, "%s-%d", base, i);
	if (strlen(name) >= EGD_NAME_MAX)
		ist_diag(m->ctx, IST_ERROR, r, 0, &r->loc, "metadata.name: "
		    "\"%s\" is longer than the %d bytes of an egressd name",
		    name, EGD_NAME_MAX - 1);
	names_add(m, &m->names[kind], name);
	return name;
}

/* Into a sorted set of indices. */
static void
add_index(struct mapper *m, size_t **v, size_t *n, size_t x)
{
	size_t	*nv, i, j;

	for (i = 0; i < *n; i++)
		if ((*v)[i] == x)
			return;
		else if ((*v)[i] > x)
			break;
	nv = ist_alloc(m->ctx, (*n + 1) * sizeof(*nv));
	for (j = 0; j < i; j++)
		nv[j] = (*v)[j];
	nv[i] = x;
	for (j = i; j < *n; j++)
		nv[j + 1] = (*v)[j];
	*v = nv;
	(*n)++;
}

static const char *
where(struct mapper *m, const struct ist_loc *l)
{
	if (l->file < 0 || l->line == 0)
		return "";
	return ist_printf(m->ctx, "%s:%d", m->ctx->files[l->file], l->line);
}

/*
 * The first comment of a block, on one line for grep: the resource it
 * comes from.
 */
static void
provenance(struct mapper *m, struct og_notes *ns, const struct ist_res *r)
{
	if (r->ns[0] != '\0')
		note(m, ns, "%s %s/%s, %s", ist_kind_name(r->kind), r->ns,
		    r->name, where(m, &r->loc));
	else
		note(m, ns, "%s %s, %s", ist_kind_name(r->kind), r->name,
		    where(m, &r->loc));
	ns->v[ns->n - 1].whole = 1;
}

static void
exportto(struct mapper *m, struct og_notes *ns, const struct ist_res *r)
{
	if (r->exportto.n > 0)
		note(m, ns, "exportTo: ignored: egressd has no namespaces; "
		    "every client of the gateway may use it");
}

/* ---- gateways ---------------------------------------------------------- */

static int
same_listener(const struct og_listener *a, const struct og_listener *b)
{
	return a->proto == b->proto && same(a->cert, b->cert) &&
	    same(a->key, b->key) && same(a->clientca, b->clientca) &&
	    a->client_optional == b->client_optional &&
	    a->minver == b->minver && same(a->ciphers, b->ciphers);
}

/* A server's hosts into a listener's: sorted, each once; "*" is any. */
static void
hosts_merge(struct mapper *m, struct og_listener *l, const struct ist_strs *h)
{
	struct ist_str	*v;
	size_t		 i, j;

	v = ist_alloc(m->ctx, (l->hosts.n + h->n + 1) * sizeof(*v));
	if (l->hosts.n > 0)
		memcpy(v, l->hosts.v, l->hosts.n * sizeof(*v));
	for (i = 0; i < h->n; i++) {
		if (h->v[i].s == NULL)
			continue;	/* invalid, said */
		if (strcmp(h->v[i].s, "*") == 0) {
			l->any = 1;
			continue;
		}
		for (j = 0; j < l->hosts.n; j++)
			if (strcmp(v[j].s, h->v[i].s) == 0)
				break;
		if (j == l->hosts.n)
			v[l->hosts.n++] = h->v[i];
	}
	if (l->hosts.n > 0)
		qsort(v, l->hosts.n, sizeof(*v), str_cmp);
	l->hosts.v = v;
}

static int
same_hosts(const struct og_listener *a, const struct og_listener *b)
{
	size_t	i;

	if (a->any || b->any)
		return a->any == b->any;
	if (a->hosts.n != b->hosts.n)
		return 0;
	for (i = 0; i < a->hosts.n; i++)
		if (strcmp(a->hosts.v[i].s, b->hosts.v[i].s) != 0)
			return 0;
	return 1;
}

static void
map_gateway(struct mapper *m, const struct ist_res *r)
{
	struct ist_ctx		*ctx = m->ctx;
	const struct ist_gateway *gw = &r->u.gw;
	const struct ist_server	*s;
	struct og_listener	**ls, *l, *o;
	struct og_gateway	*g;
	struct gwref		*ref;
	size_t			 i, j, k, nls = 0, first;

	ref = &m->gwr[m->ngwr++];
	ref->res = r;
	ls = ist_alloc(ctx, (gw->nservers + 1) * sizeof(*ls));
	for (i = 0; i < gw->nservers; i++) {
		s = &gw->servers[i];
		if (s->port == 0)
			continue;	/* said */
		l = ist_alloc(ctx, sizeof(*l));
		l->srv = s;
		l->servers = ist_printf(ctx, "spec.servers[%d]", s->idx);
		l->res = r;
		l->addr = s->bind != NULL ? s->bind : ctx->listen;
		l->v6 = s->bind != NULL ? strchr(s->bind, ':') != NULL :
		    ctx->listen_v6;
		l->port = s->port;
		l->proto = s->proto;
		l->cert = s->cert;
		l->key = s->key;
		l->clientca = s->clientca;
		l->client_optional = s->client_optional;
		l->minver = s->minver;
		l->ciphers = s->ciphers;
		for (j = 0; j < nls; j++)
			if (ls[j]->port == l->port &&
			    strcmp(ls[j]->addr, l->addr) == 0)
				break;
		if (j < nls) {
			if (!same_listener(ls[j], l))
				ist_diag(ctx, IST_ERROR, r, 0, &s->loc,
				    "spec.servers[%d]: port %u is also "
				    "servers[%d], with another protocol or "
				    "TLS setting: egressd listens on an address "
				    "and port once, with one setting", s->idx,
				    s->port, ls[j]->srv->idx);
			else {
				hosts_merge(m, ls[j], &s->hosts);
				ls[j]->servers = ist_printf(ctx, "%s, "
				    "spec.servers[%d]", ls[j]->servers, s->idx);
			}
			continue;
		}
		for (k = 0; k < m->nall; k++) {
			o = m->all[k];
			if (o->port == l->port && strcmp(o->addr, l->addr) == 0)
				break;
		}
		if (k < m->nall) {
			ist_diag(ctx, IST_ERROR, r, 0, &s->loc,
			    "spec.servers[%d]: %s port %u is also a server of "
			    "%s (%s): egressd listens on an address and port "
			    "once; put the servers in one Gateway, or bind "
			    "them to other addresses", s->idx, l->addr,
			    l->port, o->res->label, where(m, &o->srv->loc));
			continue;
		}
		hosts_merge(m, l, &s->hosts);
		ls[nls++] = l;
		if (m->nall == m->maxall)
			m->all = ist_grow(ctx, m->all, &m->maxall,
			    sizeof(*m->all));
		m->all[m->nall++] = l;
	}

	/* One egressd gateway per set of hosts, in the servers' order. */
	first = ctx->ngw;
	for (i = 0; i < nls; i++) {
		l = ls[i];
		if (l->any)
			l->hosts.n = 0;
		for (j = first; j < ctx->ngw; j++)
			if (same_hosts(ctx->gw[j]->l[0], l))
				break;
		if (j < ctx->ngw) {
			g = ctx->gw[j];
			g->l[g->nl++] = l;
			continue;
		}
		g = ist_alloc(ctx, sizeof(*g));
		g->res = r;
		provenance(m, &g->notes, r);
		if (ctx->ngw != first)
			note(m, &g->notes, "servers whose hosts are not those "
			    "of gateway %s: a gateway of their own",
			    ctx->gw[first]->name);
		g->l = ist_alloc(ctx, (nls + 1) * sizeof(*g->l));
		g->l[g->nl++] = l;
		g->hosts = l->hosts;
		g->any = l->any;
		g->name = take_name(m, IK_GATEWAY, ctx->ngw == first ?
		    base_name(m, r) : ist_printf(m->ctx, "%s-%u",
		    base_name(m, r), l->port), r);
		if (ctx->ngw == m->maxgw)
			ctx->gw = ist_grow(ctx, ctx->gw, &m->maxgw,
			    sizeof(*ctx->gw));
		ctx->gw[ctx->ngw++] = g;
		add_index(m, &ref->gi, &ref->ngi, ctx->ngw - 1);
	}
}

/* ---- services ---------------------------------------------------------- */

/*
 * The TLS settings a DestinationRule gives host's port: its
 * portLevelSettings for the port, else its trafficPolicy.tls; NULL for
 * none.  The first rule whose host takes in host decides.
 */
static const struct ist_ctls *
dr_tls(struct mapper *m, const char *host, unsigned int port,
    const struct ist_res **drp)
{
	const struct ist_res	*r;
	const struct ist_dr	*dr;
	size_t			 i, j;

	for (i = 0; i < m->nbyk[IK_DESTINATIONRULE]; i++) {
		r = m->byk[IK_DESTINATIONRULE][i];
		dr = &r->u.dr;
		if (!covers(dr->host, host))
			continue;
		*drp = r;
		for (j = 0; j < dr->npl; j++)
			if (dr->pl[j].port == port && dr->pl[j].tls.set)
				return &dr->pl[j].tls;
		return dr->tls.set ? &dr->tls : NULL;
	}
	return NULL;
}

/* The first ServiceEntry registering host on port (any port for 0). */
static const struct ist_res *
registered(struct mapper *m, const char *host, unsigned int port)
{
	const struct ist_res	*r;
	const struct ist_se	*se;
	size_t			 i, j, k;

	for (i = 0; i < m->nbyk[IK_SERVICEENTRY]; i++) {
		r = m->byk[IK_SERVICEENTRY][i];
		se = &r->u.se;
		for (j = 0; j < se->hosts.n; j++)
			if (se->hosts.v[j].s != NULL &&
			    host_match(se->hosts.v[j].s, host))
				break;
		if (j == se->hosts.n)
			continue;
		if (port == 0)
			return r;
		for (k = 0; k < se->nports; k++)
			if (se->ports[k].number == port)
				return r;
	}
	return NULL;
}

static void
map_service(struct mapper *m, const struct ist_res *r)
{
	struct ist_ctx		*ctx = m->ctx;
	const struct ist_se	*se = &r->u.se;
	const struct ist_seport	*p;
	const struct ist_endpoint *e;
	const struct ist_ctls	*t;
	const struct ist_res	*dr = NULL, *tlsdr = NULL;
	struct og_service	*s;
	struct og_sport		*sp;
	size_t			 i, j, on;
	unsigned int		 epport;

	s = ist_alloc(ctx, sizeof(*s));
	s->res = r;
	s->name = take_name(m, IK_SERVICEENTRY, base_name(m, r), r);
	provenance(m, &s->notes, r);
	exportto(m, &s->notes, r);
	ctx->svc[ctx->nsvc++] = s;

	s->hosts.v = ist_alloc(ctx, (se->hosts.n + 1) * sizeof(*s->hosts.v));
	for (i = 0; i < se->hosts.n; i++) {
		if (se->hosts.v[i].s == NULL || strcmp(se->hosts.v[i].s,
		    "*") == 0)
			continue;
		for (j = 0; j < s->hosts.n; j++)
			if (strcmp(s->hosts.v[j].s, se->hosts.v[i].s) == 0)
				break;
		if (j < s->hosts.n) {
			ist_diag(ctx, IST_ERROR, r, 0, &se->hosts.v[i].loc,
			    "spec.hosts[%zu]: \"%s\" given twice", i,
			    se->hosts.v[i].s);
			continue;
		}
		s->hosts.v[s->hosts.n++] = se->hosts.v[i];
	}

	if (se->nports > EGD_MAX_PORTS)
		ist_diag(ctx, IST_ERROR, r, 0, &se->ports[EGD_MAX_PORTS].loc,
		    "spec.ports: %zu ports: egressd takes at most %d",
		    se->nports, EGD_MAX_PORTS);
	s->ports = ist_alloc(ctx, (se->nports + 1) * sizeof(*s->ports));
	for (i = 0; i < se->nports && i < EGD_MAX_PORTS; i++) {
		p = &se->ports[i];
		if (p->number == 0 || p->protocol == NULL)
			continue;	/* said */
		for (j = 0; j < s->nports; j++)
			if (s->ports[j].port == p->number)
				break;
		if (j < s->nports) {
			ist_diag(ctx, IST_ERROR, r, 0, &p->loc, "spec.ports[%zu]:"
			    " port %u given twice", i, p->number);
			continue;
		}
		sp = &s->ports[s->nports++];
		sp->port = p->number;
		sp->proto = p->proto;
		sp->label = p->name;
		if (p->proto == SP_TCP && strcmp(p->protocol, "TCP") != 0)
			sp->note = ist_printf(ctx, "port %u: protocol %s: "
			    "opaque bytes to egressd", p->number, p->protocol);
		if (p->proto != SP_HTTP)
			continue;
		/* HTTP that a DestinationRule sends over TLS: https. */
		for (j = 0, on = 0; j < s->hosts.n; j++) {
			t = dr_tls(m, s->hosts.v[j].s, p->number, &dr);
			if (t != NULL && (t->mode == TM_SIMPLE ||
			    t->mode == TM_MUTUAL)) {
				on++;
				tlsdr = dr;
			}
		}
		if (on == 0)
			continue;
		if (on < s->hosts.n) {
			ist_diag(ctx, IST_ERROR, r, 0, &p->loc,
			    "spec.ports[%zu]: %s sets TLS on port %u for some "
			    "of the hosts only: egressd takes one protocol "
			    "per port of a service; split the ServiceEntry",
			    i, tlsdr->label, p->number);
			continue;
		}
		sp->proto = SP_HTTPS;
		sp->note = ist_printf(ctx, "port %u: HTTP, to which %s "
		    "originates TLS: https", p->number, tlsdr->label);
	}

	switch (se->resolution) {
	case RS_STATIC:
		s->is_static = 1;
		if (se->nendpoints == 0)
			ist_diag(ctx, IST_ERROR, r, 0, &se->resolution_loc,
			    "spec.resolution STATIC: no endpoints");
		for (i = 0; i < s->hosts.n; i++)
			if (is_pattern(s->hosts.v[i].s))
				ist_diag(ctx, IST_ERROR, r, 0,
				    &s->hosts.v[i].loc, "spec.hosts[%zu]: "
				    "\"%s\" with resolution STATIC: egressd "
				    "resolves a wildcard service by DNS", i,
				    s->hosts.v[i].s);
		break;
	case RS_NONE:
		note(m, &s->notes, "resolution %s: egressd resolves the names "
		    "itself (resolution dns)", se->resolution_set ? "NONE" :
		    "unset (NONE)");
		/* FALLTHROUGH */
	default:
		if (se->nendpoints > 0)
			ist_diag(ctx, IST_ERROR, r, 0, &se->endpoints_loc,
			    "spec.endpoints: not supported without resolution "
			    "STATIC: egressd resolves the hosts' names, it "
			    "would dial other addresses");
		break;
	}

	if (se->nendpoints > EGD_MAX_ENDPOINTS)
		ist_diag(ctx, IST_ERROR, r, 0, &se->endpoints_loc,
		    "spec.endpoints: %zu endpoints: egressd takes at most %d",
		    se->nendpoints, EGD_MAX_ENDPOINTS);
	s->eps = ist_alloc(ctx, (se->nendpoints + 1) * sizeof(*s->eps));
	for (i = 0; i < se->nendpoints && s->is_static; i++) {
		e = &se->endpoints[i];
		if (e->addr == NULL)
			continue;
		/*
		 * egressd gives an endpoint one port for every service port:
		 * the endpoint's own, else targetPort, else the port asked.
		 */
		epport = 0;
		for (j = 0; j < se->nports; j++) {
			unsigned int	pp = se->ports[j].target;
			size_t		k;

			for (k = 0; k < e->nports; k++)
				if (se->ports[j].name != NULL && strcmp(
				    e->ports[k].name, se->ports[j].name) == 0)
					pp = e->ports[k].port;
			if (pp == 0 || pp == se->ports[j].number)
				continue;
			if (se->nports > 1) {
				ist_diag(ctx, IST_ERROR, r, 0, &e->loc,
				    "spec.endpoints[%zu]: port %u goes to %u: "
				    "egressd gives an endpoint one port for "
				    "all the service's ports, and the service "
				    "has %zu", i, se->ports[j].number, pp,
				    se->nports);
				break;
			}
			epport = pp;
		}
		s->eps[s->neps].addr = e->addr;
		s->eps[s->neps].v6 = e->v6;
		s->eps[s->neps].port = epport;
		s->neps++;
	}
	for (i = 0; i < se->nports; i++)
		if (se->ports[i].target != 0 &&
		    se->ports[i].target != se->ports[i].number &&
		    se->resolution != RS_STATIC)
			ist_diag(ctx, IST_ERROR, r, 0, &se->ports[i].target_loc,
			    "spec.ports[%zu].targetPort %u: not supported with "
			    "resolution DNS: egressd connects to the port "
			    "asked; route port %u to port %u with a "
			    "VirtualService instead", i, se->ports[i].target,
			    se->ports[i].number, se->ports[i].target);

	if (se->internal) {
		s->allow_private = 1;
		note(m, &s->notes, "location MESH_INTERNAL: inside the "
		    "network: allow private addresses");
	}
}

/* ---- routes ------------------------------------------------------------ */

/*
 * The egressd gateways a list of Istio gateway names stands for, into a
 * sorted set; *mesh set if "mesh" is among them.
 */
static int
resolve_gateways(struct mapper *m, const struct ist_res *r, int part,
    const struct ist_strs *names, const char *path, size_t **set,
    size_t *n, int *mesh)
{
	const char	*ns, *name, *slash;
	char		*tmp;
	size_t		 i, j, k;
	int		 rv = 0;

	for (i = 0; i < names->n; i++) {
		name = names->v[i].s;
		if (strcmp(name, "mesh") == 0) {
			*mesh = 1;
			continue;
		}
		ns = r->ns;
		if ((slash = strchr(name, '/')) != NULL) {
			tmp = ist_strdup(m->ctx, name);
			tmp[slash - name] = '\0';
			ns = strcmp(tmp, ".") == 0 ? r->ns : tmp;
			name = slash + 1;
		}
		for (j = 0; j < m->ngwr; j++)
			if (strcmp(m->gwr[j].res->ns, ns) == 0 &&
			    strcmp(m->gwr[j].res->name, name) == 0)
				break;
		if (j == m->ngwr) {
			ist_diag(m->ctx, IST_ERROR, r, part, &names->v[i].loc,
			    "%s[%zu]: no Gateway \"%s\"%s%s in the input", path,
			    i, name, ns[0] != '\0' ? " in namespace " : "", ns);
			rv = -1;
			continue;
		}
		for (k = 0; k < m->gwr[j].ngi; k++)
			add_index(m, set, n, m->gwr[j].gi[k]);
	}
	if (*n > EGD_MAX_ROUTEGW) {
		ist_diag(m->ctx, IST_ERROR, r, part, &names->loc, "%s: %zu "
		    "egressd gateways: a route takes at most %d", path, *n,
		    EGD_MAX_ROUTEGW);
		rv = -1;
	}
	return rv;
}

/*
 * A route's weighted destinations.  One destination takes all, whatever
 * its weight; several keep theirs (0 or none: no traffic, left out),
 * reduced by their common divisor when one is over egressd's 100.  A
 * single destination that is a pattern is the host asked: *own set, no
 * forward.  The port, when not given, is that of the ServiceEntry
 * registering the host if it has just one, as Istio takes it.
 */
static int
forwards(struct mapper *m, struct ist_res *r, struct ist_route *rt,
    const char *path, struct og_fwd **out, size_t *n, const char **own,
    struct og_notes *notes)
{
	const struct ist_res	*se;
	struct og_fwd		*f;
	struct ist_dest		*d;
	long long		 a, b, g = 0, t;
	size_t			 i;
	int			 part = (int)(rt - r->u.vs.r) + 1, over = 0;

	*n = 0;
	*own = NULL;
	f = ist_alloc(m->ctx, (rt->nd + 1) * sizeof(*f));
	*out = f;
	if (rt->nd == 1 && is_pattern(rt->d[0].host)) {
		*own = rt->d[0].host;
		return 0;
	}
	for (i = 0; i < rt->nd; i++) {
		d = &rt->d[i];
		if (d->host == NULL)
			return -1;	/* said */
		if (is_pattern(d->host)) {
			ist_diag(m->ctx, IST_ERROR, r, part, &d->host_loc,
			    "%s.route[%zu].destination.host \"%s\": a pattern "
			    "among several destinations: egressd forwards to "
			    "names", path, i, d->host);
			return -1;
		}
		if (rt->nd > 1 && d->weight <= 0) {
			note(m, notes, "%s.route[%zu]: weight 0: no traffic, "
			    "left out", path, i);
			continue;
		}
		f[*n].host = d->host;
		f[*n].port = d->port;
		f[*n].weight = rt->nd == 1 ? 100 : (unsigned int)(d->weight >
		    100 ? 101 : d->weight);
		if (d->weight > 100)
			over = 1;
		if (f[*n].port == 0 && (se = registered(m, d->host, 0)) !=
		    NULL && se->u.se.nports == 1)
			f[*n].port = se->u.se.ports[0].number;
		(*n)++;
	}
	if (rt->nd > 0 && *n == 0) {
		ist_diag(m->ctx, IST_ERROR, r, part, &rt->loc, "%s.route: no "
		    "destination has a weight above 0", path);
		return -1;
	}
	if (over) {
		for (i = 0; i < rt->nd; i++) {
			if (rt->d[i].weight <= 0)
				continue;
			for (a = rt->d[i].weight, b = g; b != 0; b = t) {
				t = a % b;
				a = b;
			}
			g = a;
		}
		for (i = 0, *n = 0; i < rt->nd; i++) {
			if (rt->d[i].weight <= 0)
				continue;
			if (rt->d[i].weight / g > 100) {
				ist_diag(m->ctx, IST_ERROR, r, part,
				    &rt->d[i].loc, "%s.route[%zu].weight %lld: "
				    "egressd takes weights of 1 to 100, and "
				    "these have no common divisor that brings "
				    "them there", path, i, rt->d[i].weight);
				return -1;
			}
			f[(*n)++].weight = (unsigned int)(rt->d[i].weight / g);
		}
	}
	if (*n > EGD_MAX_DESTS) {
		ist_diag(m->ctx, IST_ERROR, r, part, &rt->loc, "%s.route: %zu "
		    "destinations: egressd takes at most %d", path, *n,
		    EGD_MAX_DESTS);
		return -1;
	}
	return 0;
}

/*
 * The authorities a match can hold: the VirtualService's hosts, or a
 * TLS match's sniHosts, narrowed by an authority condition.  NULL in the
 * list is any authority.  0 with none: the match can never hold.
 */
static int
authorities(struct mapper *m, const struct ist_res *r,
    const struct ist_route *rt, const struct ist_match *mt, const char *path,
    char ***outp, size_t *np, unsigned int *portp)
{
	const struct ist_vs	*vs = &r->u.vs;
	const struct ist_strs	*hosts = rt->kind == RK_TLS ? &mt->sni :
				    &vs->hosts;
	struct egd_addr		 lit;
	char			**out, host[EGD_HOST_MAX];
	const char		*why, *p;
	char			*h;
	size_t			 i, plen;
	uint16_t		 port;
	int			 part = (int)(rt - vs->r) + 1, any = 0, isl;

	*np = 0;
	out = ist_alloc(m->ctx, (hosts->n + 2) * sizeof(*out));
	*outp = out;
	for (i = 0; i < hosts->n; i++)
		if (hosts->v[i].s != NULL && strcmp(hosts->v[i].s, "*") == 0)
			any = 1;
	if (hosts->n == 0 && rt->kind == RK_TLS)
		return -1;	/* said */
	if (hosts->n == 0) {
		ist_diag(m->ctx, IST_ERROR, r, part, &r->loc, "spec.hosts: "
		    "missing: a VirtualService bound to a gateway names the "
		    "hosts it routes");
		return -1;
	}

	switch (mt->authority.type) {
	case SM_NONE:
		if (any) {
			out[(*np)++] = NULL;
			return 0;
		}
		for (i = 0; i < hosts->n; i++)
			if (hosts->v[i].s != NULL)
				out[(*np)++] = hosts->v[i].s;
		return 0;
	case SM_EXACT:
		p = mt->authority.v;
		if (authority_parse(p, strlen(p), 0, host, sizeof(host), &port,
		    &lit, &isl, &why) == -1) {
			if (authority_parse(p, strlen(p), 1, host,
			    sizeof(host), &port, &lit, &isl, &why) == -1) {
				ist_diag(m->ctx, IST_ERROR, r, part,
				    &mt->authority.loc, "%s.authority.exact "
				    "\"%s\": %s", path, p, why);
				return -1;
			}
			port = 0;
		}
		for (i = 0; i < hosts->n && !any; i++)
			if (covers(hosts->v[i].s, host))
				break;
		if (!any && i == hosts->n)
			return 0;
		if (port != 0) {
			if (*portp != 0 && *portp != port)
				return 0;
			*portp = port;
		}
		out[(*np)++] = ist_strdup(m->ctx, host);
		return 0;
	case SM_PREFIX:
		p = mt->authority.v;
		plen = strlen(p);
		for (i = 0; i < hosts->n && !any; i++) {
			if ((h = hosts->v[i].s) == NULL)
				continue;
			if (plen == 0 || (!is_pattern(h) &&
			    strncmp(h, p, plen) == 0))
				out[(*np)++] = h;
			else if (is_pattern(h) || (strncmp(p, h,
			    strlen(h)) == 0 && p[strlen(h)] == ':'))
				break;
		}
		if (any || i < hosts->n) {
			ist_diag(m->ctx, IST_ERROR, r, part,
			    &mt->authority.loc, "%s.authority.prefix \"%s\": "
			    "not supported with host \"%s\": egressd matches "
			    "whole names and *.name patterns", path, p,
			    any ? "*" : hosts->v[i].s);
			return -1;
		}
		return 0;
	}
	return -1;
}

/* One match block in the making, with the gateways it is bound to. */
static struct og_match *
new_match(struct mapper *m, const struct ist_res *r, const char *path,
    const struct ist_loc *loc, size_t *gw, size_t ngw)
{
	struct og_match	*om;

	om = ist_alloc(m->ctx, sizeof(*om));
	om->comment = ist_printf(m->ctx, "%s, %s", path, where(m, loc));
	om->gw = gw;
	om->ngw = ngw;
	if (++m->nmatch == MATCH_MAX)
		ist_diag(m->ctx, IST_ERROR, r, 0, &r->loc, "more than %d match "
		    "blocks in all", MATCH_MAX);
	return om;
}

static void
push_route(struct mapper *m, struct og_route *o)
{
	if (m->ctx->nrt == m->maxrt)
		m->ctx->rt = ist_grow(m->ctx, m->ctx->rt, &m->maxrt,
		    sizeof(*m->ctx->rt));
	m->ctx->rt[m->ctx->nrt++] = o;
}

/*
 * The match blocks of one match of a route: one per authority it can
 * hold, with the route's actions; what egressd -n would refuse is said
 * here, at the place in the YAML.
 */
static void
match_blocks(struct mapper *m, struct ist_res *r, struct ist_route *rt,
    struct ist_match *mt, const char *path, const char *mpath,
    size_t *gw, size_t ngw, struct og_fwd *fwd, size_t nfwd,
    const char *own, struct og_notes *notes, struct og_match ***blocks,
    size_t *nblocks, size_t *maxblocks)
{
	struct ist_ctx	*ctx = m->ctx;
	struct og_match	*om;
	char		**auth;
	size_t		 a, k, nauth;
	unsigned int	 port, fport;
	int		 part = (int)(rt - r->u.vs.r) + 1, reported = 0;

	port = mt->port;
	if (authorities(m, r, rt, mt, mpath, &auth, &nauth, &port) == -1)
		return;
	if (nauth == 0) {
		note(m, notes, "%s: can never hold: its authority is not among "
		    "the hosts, left out", mpath);
		return;
	}
	if (rt->rw_uri != NULL && mt->uri.type != SM_PREFIX) {
		ist_diag(ctx, IST_ERROR, r, part, &rt->rw_uri_loc,
		    "%s.rewrite.uri: not supported with %s: egressd rewrites "
		    "the prefix a uri.prefix condition matched, and this match "
		    "has none", path, mpath);
		return;
	}
	for (a = 0; a < nauth; a++) {
		om = new_match(m, r, mpath, &mt->loc, gw, ngw);
		om->authority = auth[a];
		om->port = port;
		if (mt->uri.type == SM_EXACT || mt->uri.type == SM_PREFIX) {
			om->pathtype = mt->uri.type == SM_EXACT ? OP_EXACT :
			    OP_PREFIX;
			om->path = mt->uri.v;
		}
		if (mt->method.type == SM_EXACT)
			om->method = mt->method.v;
		om->hdrs = ist_alloc(ctx, (mt->nhdrs + 1) * sizeof(*om->hdrs));
		for (k = 0; k < mt->nhdrs; k++) {
			om->hdrs[k].name = mt->hdrs[k].name;
			om->hdrs[k].value = mt->hdrs[k].m.type == SM_EXACT ?
			    mt->hdrs[k].m.v : NULL;
		}
		om->nhdrs = mt->nhdrs;
		om->fwd = fwd;
		om->nfwd = nfwd;
		om->rw_auth = rt->rw_auth;
		om->rw_prefix = rt->rw_uri;
		om->timeout = rt->timeout > 0 ? rt->timeout : 0;
		/* Istio retries HTTP twice unless told, TLS never. */
		om->retries = rt->kind == RK_TLS ? 0 : rt->retries >= 0 ?
		    rt->retries : 2;

		if (own != NULL && (om->authority == NULL ||
		    !covers(own, om->authority) || (rt->d[0].port != 0 &&
		    rt->d[0].port != port))) {
			if (!reported++)
				ist_diag(ctx, IST_ERROR, r, part,
				    &rt->d[0].host_loc, "%s.route[0]."
				    "destination.host \"%s\": a pattern: "
				    "egressd sends the request to the name "
				    "asked, and %s does not keep it within "
				    "%s%s", path, own, mpath, own,
				    rt->d[0].port ? " on that port" : "");
			continue;
		}
		for (k = 0; k < nfwd && !reported; k++) {
			fport = fwd[k].port ? fwd[k].port : port;
			if (registered(m, fwd[k].host, fport))
				continue;
			reported++;
			ist_diag(ctx, IST_ERROR, r, part, &rt->d[k].host_loc,
			    "%s.route[%zu]: %s%s%.0u: no ServiceEntry "
			    "registers it, and egressd lets out registered "
			    "hosts only", path, k, fwd[k].host, fport ?
			    " port " : "", fport);
		}
		fport = nfwd == 0 ? port : 0;
		if (om->rw_auth != NULL && !reported &&
		    !registered(m, om->rw_auth, fport)) {
			reported++;
			ist_diag(ctx, IST_ERROR, r, part, &rt->rw_auth_loc,
			    "%s.rewrite.authority %s%s%.0u: no ServiceEntry "
			    "registers it, and egressd lets out registered "
			    "hosts only", path, om->rw_auth, fport ?
			    " port " : "", fport);
		}
		if (*nblocks == *maxblocks)
			*blocks = ist_grow(ctx, *blocks, maxblocks,
			    sizeof(**blocks));
		(*blocks)[(*nblocks)++] = om;
	}
}

static void
map_vs(struct mapper *m, struct ist_res *r)
{
	struct ist_ctx		*ctx = m->ctx;
	struct ist_vs		*vs = &r->u.vs;
	struct ist_route	*rt;
	struct ist_match	*mt, implicit;
	struct og_route		*o = NULL, *head;
	struct og_match		**blocks = NULL, *om;
	struct og_notes		 notes;
	struct og_fwd		*fwd = NULL;
	struct names		 meshpaths;
	const char		*own = NULL, *sec;
	char			 path[128], mpath[160], gpath[192];
	size_t			 nblocks = 0, maxblocks = 0, i, j, k, n,
				 nfwd = 0, *vsgw = NULL, nvsgw = 0, *gw, ngw,
				 egress, nbase;
	int			 part, vsmesh = 0, vsbad, mesh, fwd_done,
				 fwd_bad, meshsaid = 0;

	memset(&notes, 0, sizeof(notes));
	provenance(m, &notes, r);
	exportto(m, &notes, r);
	nbase = notes.n;
	vsbad = resolve_gateways(m, r, 0, &vs->gateways, "spec.gateways",
	    &vsgw, &nvsgw, &vsmesh) == -1;

	for (i = 0; i < vs->nr; i++) {
		rt = &vs->r[i];
		part = (int)i + 1;
		sec = sections[rt->kind];
		snprintf(path, sizeof(path), "spec.%s[%d]", sec, rt->idx);
		memset(&implicit, 0, sizeof(implicit));
		implicit.loc = rt->loc;
		memset(&meshpaths, 0, sizeof(meshpaths));
		fwd_done = fwd_bad = 0;
		egress = 0;
		for (j = 0; j < (rt->nm > 0 ? rt->nm : 1); j++) {
			mt = rt->nm > 0 ? &rt->m[j] : &implicit;
			if (rt->nm > 0)
				snprintf(mpath, sizeof(mpath), "%s.match[%d]",
				    path, mt->idx);
			else
				snprintf(mpath, sizeof(mpath), "%s", path);
			gw = NULL;
			ngw = 0;
			mesh = 0;
			if (mt->gateways.n > 0) {
				snprintf(gpath, sizeof(gpath), "%s.gateways",
				    mpath);
				if (resolve_gateways(m, r, part, &mt->gateways,
				    gpath, &gw, &ngw, &mesh) == -1) {
					egress++;	/* keeps the error */
					continue;
				}
			} else if (vs->gateways.n > 0) {
				if (vsbad) {
					egress++;
					continue;
				}
				gw = vsgw;
				ngw = nvsgw;
				/* Said once: its "mesh" is the sidecars'. */
				if (vsmesh && ngw > 0 && !meshsaid++)
					note(m, &notes, "spec.gateways: mesh "
					    "as well: the sidecars' side of the "
					    "routes, left out");
			}
			if (ngw == 0) {
				/* The sidecars' hop: remember where it goes. */
				for (k = 0; k < rt->nd; k++)
					if (rt->d[k].host != NULL &&
					    !names_has(&m->meshhop,
					    rt->d[k].host))
						names_add(m, &m->meshhop,
						    rt->d[k].host);
				names_add(m, &meshpaths, mpath);
				continue;
			}
			egress++;
			if (rt->kind == RK_TCP) {
				ist_unsupported(ctx, r, part, &rt->loc, path,
				    "egressd listens for HTTP, HTTPS and TLS; "
				    "TCP leaves through CONNECT tunnels to tcp "
				    "ports of services");
				note(m, &notes, "%s: left out: not supported",
				    path);
				break;
			}
			if (!fwd_done) {
				fwd_done = 1;
				fwd_bad = forwards(m, r, rt, path, &fwd, &nfwd,
				    &own, &notes) == -1;
			}
			if (!fwd_bad)
				match_blocks(m, r, rt, mt, path, mpath, gw,
				    ngw, fwd, nfwd, own, &notes, &blocks,
				    &nblocks, &maxblocks);
		}
		if (egress == 0) {
			rt->drop = 1;
			note(m, &notes, "%s: for the mesh gateway only: the "
			    "sidecars' hop to the gateway, left out", path);
		} else
			for (k = 0; k < meshpaths.n; k++)
				note(m, &notes, "%s: for the mesh gateway "
				    "only: the sidecars' hop to the gateway, "
				    "left out", meshpaths.v[k]);
	}

	/* Consecutive blocks with the same gateways: one route. */
	head = NULL;
	for (i = 0; i < nblocks; i++) {
		om = blocks[i];
		if (o == NULL || o->ngw != om->ngw || (om->ngw > 0 &&
		    memcmp(o->gw, om->gw, om->ngw * sizeof(*om->gw)) != 0)) {
			o = ist_alloc(ctx, sizeof(*o));
			o->res = r;
			o->name = take_name(m, IK_VIRTUALSERVICE,
			    base_name(m, r), r);
			o->gw = om->gw;
			o->ngw = om->ngw;
			o->m = ist_alloc(ctx, (nblocks - i + 1) *
			    sizeof(*o->m));
			if (head == NULL) {
				head = o;
				o->notes = notes;
			} else {
				provenance(m, &o->notes, r);
				note(m, &o->notes, "continues route %s, for "
				    "other gateways", head->name);
			}
			push_route(m, o);
		}
		o->m[o->nm++] = om;
	}
	if (head != NULL)
		return;

	/* Nothing left: only the comments are written. */
	o = ist_alloc(ctx, sizeof(*o));
	o->res = r;
	o->left_out = 1;
	o->notes = notes;
	for (i = 0, n = 0; i < vs->nr; i++)
		n += vs->r[i].drop;
	if (n == vs->nr) {
		r->drop = 1;
		o->notes.n = nbase;	/* one word for the whole */
		note(m, &o->notes, "left out: for the mesh gateway only, the "
		    "sidecars' routes to the gateway");
	} else
		note(m, &o->notes, "left out: no route egressd can take");
	push_route(m, o);
}

/* ---- destinations ------------------------------------------------------ */

static void
map_dr(struct mapper *m, struct ist_res *r)
{
	struct ist_ctx		*ctx = m->ctx;
	const struct ist_dr	*dr = &r->u.dr;
	const struct ist_res	*se;
	const struct ist_ctls	*t;
	struct og_dest		*o;
	struct og_dport		*dp;
	unsigned int		*ports;
	size_t			 i, j, k, np = 0, maxp = 0;

	o = ist_alloc(ctx, sizeof(*o));
	o->res = r;
	provenance(m, &o->notes, r);
	ctx->dst[ctx->ndst++] = o;

	/* Egress: some ServiceEntry registers a host the rule is for. */
	for (i = 0, se = NULL; dr->host != NULL &&
	    i < m->nbyk[IK_SERVICEENTRY] && se == NULL; i++)
		for (j = 0; j < m->byk[IK_SERVICEENTRY][i]->u.se.hosts.n; j++)
			if (covers(dr->host, m->byk[IK_SERVICEENTRY][i]->
			    u.se.hosts.v[j].s) || covers(m->byk[
			    IK_SERVICEENTRY][i]->u.se.hosts.v[j].s, dr->host)) {
				se = m->byk[IK_SERVICEENTRY][i];
				break;
			}
	if (se == NULL) {
		r->drop = 1;
		o->left_out = 1;
		if (dr->host != NULL && names_has(&m->meshhop, dr->host))
			note(m, &o->notes, "left out: %s is the sidecars' hop "
			    "to the gateway (where routes for the mesh gateway "
			    "only go)", dr->host);
		else
			note(m, &o->notes, "left out: no ServiceEntry registers "
			    "%s: a destination inside the mesh, not egress",
			    dr->host != NULL ? dr->host : "its host");
		return;
	}
	for (i = 0; i < ctx->ndst - 1; i++)
		if (!ctx->dst[i]->left_out && ctx->dst[i]->host != NULL &&
		    strcmp(ctx->dst[i]->host, dr->host) == 0) {
			ist_diag(ctx, IST_ERROR, r, 0, &dr->host_loc, "spec.host "
			    "%s: %s (%s) is for it too: egressd takes one "
			    "destination per host", dr->host,
			    ctx->dst[i]->res->label, where(m,
			    &ctx->dst[i]->res->loc));
			return;
		}
	o->name = take_name(m, IK_DESTINATIONRULE, base_name(m, r), r);
	o->host = dr->host;
	exportto(m, &o->notes, r);

	/* The ports: those set on their own, then the services' others. */
	ports = NULL;
	for (i = 0; i < dr->npl; i++)
		if (dr->pl[i].tls.set) {
			if (np == maxp)
				ports = ist_grow(ctx, ports, &maxp,
				    sizeof(*ports));
			ports[np++] = dr->pl[i].port;
		}
	if (dr->tls.set)
		for (i = 0; i < m->nbyk[IK_SERVICEENTRY]; i++) {
			const struct ist_se *s =
			    &m->byk[IK_SERVICEENTRY][i]->u.se;

			for (j = 0; j < s->hosts.n; j++)
				if (covers(dr->host, s->hosts.v[j].s) ||
				    covers(s->hosts.v[j].s, dr->host))
					break;
			if (j == s->hosts.n)
				continue;
			for (j = 0; j < s->nports; j++) {
				for (k = 0; k < np; k++)
					if (ports[k] == s->ports[j].number)
						break;
				if (k < np || s->ports[j].number == 0)
					continue;
				if (np == maxp)
					ports = ist_grow(ctx, ports, &maxp,
					    sizeof(*ports));
				ports[np++] = s->ports[j].number;
			}
		}
	if (np == 0) {
		o->left_out = 1;
		note(m, &o->notes, "left out: no TLS settings, nothing for "
		    "egressd to do");
		return;
	}
	qsort(ports, np, sizeof(*ports), uint_cmp);
	if (np > EGD_MAX_DSTPORTS) {
		ist_diag(ctx, IST_ERROR, r, 0, &r->loc, "%zu ports with TLS "
		    "settings: egressd takes at most %d per destination", np,
		    EGD_MAX_DSTPORTS);
		return;
	}
	o->ports = ist_alloc(ctx, np * sizeof(*o->ports));
	for (i = 0; i < np; i++) {
		t = NULL;
		for (j = 0; j < dr->npl; j++)
			if (dr->pl[j].port == ports[i] && dr->pl[j].tls.set)
				t = &dr->pl[j].tls;
		if (t == NULL)
			t = &dr->tls;
		if (t->mode == TM_ISTIO_MUTUAL)
			continue;	/* said */
		dp = &o->ports[o->nports++];
		dp->port = ports[i];
		dp->mode = t->mode;
		dp->sni = t->sni;
		dp->ca = t->ca;
		dp->cert = t->cert;
		dp->key = t->key;
		dp->sans = t->sans;
	}
}

/* ---- the whole --------------------------------------------------------- */

void
ist_map(struct ist_ctx *ctx)
{
	struct mapper	 m;
	struct ist_res	*r, *p;
	size_t		 i, n[IK_NKINDS];
	int		 k;

	memset(&m, 0, sizeof(m));
	m.ctx = ctx;

	/* Sorted; the records of broken resources stay out. */
	if (ctx->nres > 0)
		qsort(ctx->res, ctx->nres, sizeof(*ctx->res), res_cmp);
	memset(n, 0, sizeof(n));
	for (i = 0; i < ctx->nres; i++)
		n[ctx->res[i]->kind]++;
	for (k = 0; k < IK_NKINDS; k++)
		m.byk[k] = ist_alloc(ctx, (n[k] + 1) * sizeof(*m.byk[k]));
	for (i = 0, p = NULL; i < ctx->nres; p = r, i++) {
		r = ctx->res[i];
		if (p != NULL && p->kind == r->kind &&
		    strcmp(p->ns, r->ns) == 0 && strcmp(p->name, r->name) == 0) {
			ist_diag(ctx, IST_ERROR, r, 0, &r->loc, "defined twice "
			    "(first at %s)", where(&m, &p->loc));
			continue;
		}
		m.byk[r->kind][m.nbyk[r->kind]++] = r;
	}

	m.gwr = ist_alloc(ctx, (m.nbyk[IK_GATEWAY] + 1) * sizeof(*m.gwr));
	for (i = 0; i < m.nbyk[IK_GATEWAY]; i++)
		map_gateway(&m, m.byk[IK_GATEWAY][i]);
	if (m.nbyk[IK_GATEWAY] == 0)
		ist_diag(ctx, IST_ERROR, NULL, 0, NULL, "no Gateway in the "
		    "input: egressd needs one to listen on");

	ctx->svc = ist_alloc(ctx, (m.nbyk[IK_SERVICEENTRY] + 1) *
	    sizeof(*ctx->svc));
	for (i = 0; i < m.nbyk[IK_SERVICEENTRY]; i++)
		map_service(&m, m.byk[IK_SERVICEENTRY][i]);

	for (i = 0; i < m.nbyk[IK_VIRTUALSERVICE]; i++)
		map_vs(&m, m.byk[IK_VIRTUALSERVICE][i]);

	ctx->dst = ist_alloc(ctx, (m.nbyk[IK_DESTINATIONRULE] + 1) *
	    sizeof(*ctx->dst));
	for (i = 0; i < m.nbyk[IK_DESTINATIONRULE]; i++)
		map_dr(&m, m.byk[IK_DESTINATIONRULE][i]);
}
