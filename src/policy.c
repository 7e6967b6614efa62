/*
 * Policy and routing, run in the workers on a configuration generation:
 * which route a request takes and whether a registered service lets its
 * destination out.  Pure functions of the request and the configuration;
 * the caller does resolution, the private-address guard and limits.
 *
 * Order: the gateway's hosts, then the first route (in file order, bound
 * to this gateway) whose match conditions hold, with its source rule;
 * then the service that registers the destination host and port, with
 * its source rule.  Default deny: no service, no way out.  The path is
 * already in normal form (pathnorm.c); header values are read as HTTP
 * defines them (trimmed, every line and list member), see header_holds().
 *
 * Hosts are looked up in the configuration's host maps (hostmap.c), never
 * by walking the registry: the records that list a name covering the
 * host come in file order, so the first that fits decides, as a walk in
 * file order would, in the same time for ten services or a million.
 */
#include "config.h"

#include <sys/types.h>

#include <string.h>

#include "audit.h"
#include "policy.h"

const struct gateway *
policy_gateway(const struct egressd_conf *conf, uint32_t id)
{
	if (id == 0 || id > conf->gwv.n)
		return NULL;
	return conf->gwv.v[id - 1];
}

/* Whether one of the gateway's hosts covers host. */
static int
gateway_has_host(const struct egressd_conf *conf, const struct gateway *gw,
    const char *host)
{
	struct hostmap_iter	it;
	uint32_t		id;

	hostmap_find(conf->gwhosts.map, host, HM_EXACT | HM_PATTERNS, &it);
	while (hostmap_next(&it, &id))
		if (id == gw->id)
			return 1;
	return 0;
}

static int
cidrs_match(const struct egd_cidr *c, int n, const struct egd_addr *a)
{
	int	i;

	for (i = 0; i < n; i++)
		if (egd_cidr_match(&c[i], a))
			return 1;
	return 0;
}

/*
 * A client's verified identities (CN, SAN URIs, SAN DNS names) against
 * "from identity" strings: equal, or a string ending in "*" is a prefix.
 * No identity matches nothing.
 */
static int
idents_match(const char (*rule)[EGD_IDENT_MAX], int n,
    const struct policy_req *q)
{
	const char	*id;
	size_t		 len;
	int		 i, j;

	for (i = 0; i < n; i++) {
		len = strlen(rule[i]);
		for (j = 0; j < q->nids; j++) {
			id = q->ids + (size_t)j * EGD_IDENT_MAX;
			if (len > 0 && rule[i][len - 1] == '*' ?
			    strncmp(id, rule[i], len - 1) == 0 :
			    strcmp(id, rule[i]) == 0)
				return 1;
		}
	}
	return 0;
}

static int
route_on_gateway(const struct route *r, uint32_t gw)
{
	int	i;

	if (r->ngateways == 0)
		return 1;
	for (i = 0; i < r->ngateways; i++)
		if (r->gateways[i] == gw)
			return 1;
	return 0;
}

/*
 * Header fields that HTTP defines as one value (RFC 9110 and the RFCs
 * of Cookie and Origin): a value condition on one of them is not
 * decided when the request repeats it, since origins differ on which
 * line they read.  Any other field may be a list (RFC 9110 5.3: a field
 * sent on several lines is the comma list of their values), so each of
 * its lines, and each member of each line, is a value it has.
 */
static const char *const singleton_fields[] = {
	"access-control-request-method", "authorization", "content-length",
	"content-location", "content-range", "content-type", "cookie",
	"date", "from", "host", "if-modified-since", "if-range",
	"if-unmodified-since", "max-forwards", "origin",
	"proxy-authorization", "range", "referer", "user-agent",
};

static int
singleton(const char *name)
{
	size_t	i;

	for (i = 0; i < sizeof(singleton_fields) /
	    sizeof(singleton_fields[0]); i++)
		if (strcmp(name, singleton_fields[i]) == 0)
			return 1;
	return 0;
}

/* Without the optional whitespace (SP, HTAB) at either end. */
static void
ows_trim(const char **v, size_t *len)
{
	while (*len > 0 && (**v == ' ' || **v == '\t')) {
		(*v)++;
		(*len)--;
	}
	while (*len > 0 && ((*v)[*len - 1] == ' ' || (*v)[*len - 1] == '\t'))
		(*len)--;
}

static int
value_is(const char *v, size_t len, const char *want, size_t wlen)
{
	ows_trim(&v, &len);
	return len == wlen && memcmp(v, want, len) == 0;
}

/*
 * Is want the whole of a line's value, or one of its comma-separated
 * members?  A comma inside a quoted string separates nothing.
 */
static int
line_has(const char *v, size_t len, const char *want, int list)
{
	size_t	wlen = strlen(want), i, start;
	int	quoted = 0;

	if (value_is(v, len, want, wlen))
		return 1;
	if (!list)
		return 0;
	for (i = start = 0;; i++) {
		if (i == len || (v[i] == ',' && !quoted)) {
			if (value_is(v + start, i - start, want, wlen))
				return 1;
			if (i == len)
				break;
			start = i + 1;
		} else if (v[i] == '"')
			quoted = !quoted;
		else if (v[i] == '\\' && quoted && i + 1 < len)
			i++;
	}
	return 0;
}

/*
 * One header condition: 1 holds, 0 does not, -1 cannot be decided (a
 * value asked of a singleton field the request repeats).
 */
static int
header_holds(const struct hdr_match *h, const struct policy_req *q)
{
	const char	*v;
	size_t		 vlen;
	int		 i, list = !singleton(h->name), found = 0;

	if (q->header == NULL)
		return 0;
	for (i = 0; (v = q->header(q->harg, h->name, i, &vlen)) != NULL; i++) {
		if (!h->has_value)
			return 1;
		if (!list && i > 0)
			return -1;
		if (line_has(v, vlen, h->value, list))
			found = 1;
	}
	return found;
}

/* 1: the match block holds; 0: it does not; -1: the request is refused. */
static int
match_holds(const struct route_match *m, const struct policy_req *q)
{
	size_t		 plen;
	int		 i, r;

	if (m->authority[0] != '\0' && !host_match(m->authority, q->host))
		return 0;
	if (m->port != 0 && m->port != q->port)
		return 0;
	if (m->method[0] != '\0' && strcmp(m->method, q->method) != 0)
		return 0;
	if (m->pathtype != PATH_ANY) {
		if (q->connect)
			return 0;
		/* The path (normalised) without its query. */
		for (plen = 0; plen < q->pathlen && q->path[plen] != '?';
		    plen++)
			;
		if (m->pathtype == PATH_EXACT && (strlen(m->path) != plen ||
		    memcmp(m->path, q->path, plen) != 0))
			return 0;
		if (m->pathtype == PATH_PREFIX && (strlen(m->path) > plen ||
		    memcmp(m->path, q->path, strlen(m->path)) != 0))
			return 0;
	}
	for (i = 0; i < m->nheaders; i++)
		if ((r = header_holds(&m->headers[i], q)) != 1)
			return r;
	return 1;
}

/* A weighted pick; rnd is any 32-bit random number. */
static const struct route_dest *
pick_dest(const struct route_match *m, uint32_t rnd)
{
	uint32_t	total = 0, at;
	int		i;

	for (i = 0; i < m->ndests; i++)
		total += m->dests[i].weight;
	if (total == 0)
		return &m->dests[0];
	at = rnd % total;
	for (i = 0; i < m->ndests; i++) {
		if (at < m->dests[i].weight)
			return &m->dests[i];
		at -= m->dests[i].weight;
	}
	return &m->dests[m->ndests - 1];
}

/*
 * The service that lets host:port out, or NULL.  A plain HTTP request
 * needs a port of protocol http or https (https: TLS is originated); a
 * tunnel may go to a port of any protocol.  *hostonly tells whether some
 * service knows the host but not on that port.
 */
const struct service *
policy_service(const struct egressd_conf *conf, const char *host,
    uint16_t port, int literal, int tunnel, const struct svc_port **sp,
    int *hostonly)
{
	const struct service	*s;
	struct hostmap_iter	 it;
	uint32_t		 id;
	int			 i;

	/* A literal is its own name: no pattern covers an address. */
	*hostonly = 0;
	hostmap_find(conf->svchosts.map, host, literal ? HM_EXACT :
	    HM_EXACT | HM_PATTERNS, &it);
	while (hostmap_next(&it, &id)) {
		s = conf->svcv.v[id - 1];
		for (i = 0; i < s->nports; i++) {
			if (s->ports[i].port != port)
				continue;
			if (!tunnel && s->ports[i].proto != SPROTO_HTTP &&
			    s->ports[i].proto != SPROTO_HTTPS)
				continue;
			*sp = &s->ports[i];
			return s;
		}
		*hostonly = 1;
	}
	return NULL;
}

static int
policy_fail(struct policy_dec *d, const struct service *s, int reason)
{
	/* A report-only service lets it pass and says what would happen. */
	if (s != NULL && s->action == ACT_REPORT && d->report == AR_NONE) {
		d->report = reason;
		return 0;
	}
	d->reason = reason;
	return -1;
}

/*
 * The first match block, in file order, of a route bound to the gateway,
 * that holds; NULL if none.  The candidates are those without an
 * authority and those whose authority covers the host, merged in order.
 * *held is -1 when the first one to decide refuses the request.
 */
static const struct route_match *
route_match_find(const struct egressd_conf *conf, const struct policy_req *q,
    const struct route **rp, int *held)
{
	const struct route_match *m, *const *any;
	const struct route	*r;
	struct hostmap_iter	 it;
	size_t			 nany;
	uint32_t		 id;
	int			 more;

	*held = 0;
	any = (const struct route_match *const *)conf->anyauth.v;
	nany = conf->anyauth.n;
	hostmap_find(conf->authmap, q->host, HM_EXACT | HM_PATTERNS, &it);
	more = hostmap_next(&it, &id);
	while (more || nany > 0) {
		if (nany > 0 && (!more || (*any)->id < id)) {
			m = *any++;
			nany--;
		} else {
			m = conf->matchv.v[id - 1];
			more = hostmap_next(&it, &id);
		}
		r = conf->routev.v[m->route - 1];
		if (!route_on_gateway(r, q->gateway))
			continue;
		if ((*held = match_holds(m, q)) != 0) {
			*rp = r;
			return m;
		}
	}
	return NULL;
}

int
policy_decide(const struct egressd_conf *conf, const struct policy_req *q,
    struct policy_dec *d, uint32_t rnd)
{
	const struct gateway	*gw;
	const struct route	*r = NULL;
	const struct route_match *m;
	const struct route_dest	*dest;
	int			 hostonly, literal = q->literal;
	int			 held;

	memset(d, 0, sizeof(d[0]));
	strlcpy(d->host, q->host, sizeof(d->host));
	d->port = q->port;
	d->authority = q->host;

	if ((gw = policy_gateway(conf, q->gateway)) != NULL &&
	    gw->nhosts > 0 && !gateway_has_host(conf, gw, q->host))
		return policy_fail(d, NULL, AR_GATEWAY_HOST);

	m = route_match_find(conf, q, &r, &held);
	if (held == -1) {
		d->text = "a header that has one value is repeated";
		return policy_fail(d, NULL, AR_BAD_REQUEST);
	}
	if (m != NULL) {
		d->route = r;
		d->match = m;
		if (r->nfrom > 0 && !cidrs_match(r->from, r->nfrom, q->src))
			return policy_fail(d, NULL, AR_SOURCE_DENIED);
		if (r->nidents > 0 && !idents_match(r->idents, r->nidents, q))
			return policy_fail(d, NULL, AR_IDENTITY_DENIED);
		if (m->rewrite_authority[0] != '\0') {
			d->authority = m->rewrite_authority;
			strlcpy(d->host, m->rewrite_authority, sizeof(d->host));
			literal = 0;
		}
		if (m->ndests > 0) {
			dest = pick_dest(m, rnd);
			strlcpy(d->host, dest->host, sizeof(d->host));
			if (dest->port != 0)
				d->port = dest->port;
			literal = 0;
		}
		d->websocket = m->websocket;
		d->timeout = m->timeout;
		d->retries = m->retries;
	}
	/* A route may name a literal; the service decides as for a name. */
	if (!literal) {
		struct egd_addr	a;

		literal = egd_addr_parse(d->host, &a) == 0;
	}
	d->literal = literal;

	if ((d->svc = policy_service(conf, d->host, d->port, literal,
	    q->connect, &d->sport, &hostonly)) == NULL)
		return policy_fail(d, NULL, literal && !hostonly ?
		    AR_IP_LITERAL : AR_NO_SERVICE);
	if (d->svc->nfrom > 0 &&
	    !cidrs_match(d->svc->from, d->svc->nfrom, q->src))
		return policy_fail(d, d->svc, AR_SOURCE_DENIED);
	if (d->svc->nidents > 0 &&
	    !idents_match(d->svc->idents, d->svc->nidents, q))
		return policy_fail(d, d->svc, AR_IDENTITY_DENIED);
	return 0;
}
