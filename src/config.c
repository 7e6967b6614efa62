/*
 * The configuration as a data structure, for every process that holds one
 * (the parent builds it with parse.y; the children rebuild theirs from the
 * parent's messages): allocation with the defaults, freeing, lookups, and
 * the names and address forms that the parser, printconf.c and the logs
 * share.  Records are indexed as they are added, in the parser and in the
 * receiver alike: by id (struct recvec) and by host (hostmap.c), so that
 * no lookup walks the registry.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "egressd.h"

/* The syslog facilities egressd.conf(5) accepts, in the order it lists. */
static const struct {
	const char	*name;
	int		 value;
} facilities[] = {
	{ "daemon",	LOG_DAEMON },
	{ "user",	LOG_USER },
	{ "auth",	LOG_AUTH },
	{ "authpriv",	LOG_AUTHPRIV },
	{ "local0",	LOG_LOCAL0 },
	{ "local1",	LOG_LOCAL1 },
	{ "local2",	LOG_LOCAL2 },
	{ "local3",	LOG_LOCAL3 },
	{ "local4",	LOG_LOCAL4 },
	{ "local5",	LOG_LOCAL5 },
	{ "local6",	LOG_LOCAL6 },
	{ "local7",	LOG_LOCAL7 },
};

struct egressd_conf *
conf_new(void)
{
	struct egressd_conf	*conf;

	conf = ps_xcalloc(1, sizeof(*conf));
	conf->gen = 0;
	strlcpy(conf->user, EGRESSD_USER, sizeof(conf->user));
	strlcpy(conf->chroot, EGRESSD_CHROOT, sizeof(conf->chroot));
	strlcpy(conf->resolver, EGRESSD_RESOLVER, sizeof(conf->resolver));
	conf->workers = 0;
	conf->nnameservers = 0;
	conf->drain_timeout = EGRESSD_DRAIN;
	conf->revoke_grace = EGRESSD_REVOKEGRACE;
	conf->max_conns = EGRESSD_MAXCONN;
	conf->idle_timeout = EGRESSD_IDLE;
	conf->request_timeout = EGRESSD_REQTIMEOUT;
	conf->connect_timeout = EGRESSD_CONNTIMEOUT;
	conf->max_header_size = EGRESSD_MAXHDRSIZE;
	conf->max_headers = EGRESSD_MAXHEADERS;
	conf->max_uri = EGRESSD_MAXURI;
	conf->dns_min_ttl = EGRESSD_DNSMINTTL;
	conf->dns_max_ttl = EGRESSD_DNSMAXTTL;
	conf->dns_neg_ttl = EGRESSD_DNSNEGTTL;
	conf->pool_idle = EGRESSD_POOLIDLE;
	conf->pool_timeout = EGRESSD_POOLTIMEOUT;
	memset(&conf->limits, 0, sizeof(conf->limits));	/* none */
	conf->log_facility = LOG_DAEMON;
	strlcpy(conf->control_path, EGRESSD_CONTROL,
	    sizeof(conf->control_path));
	strlcpy(conf->control_group, EGRESSD_CONTROLGROUP,
	    sizeof(conf->control_group));
	strlcpy(conf->audit.sdid, EGRESSD_SDID, sizeof(conf->audit.sdid));
	conf->audit.events = AEVENTS_ALL;
	conf->audit.buffer = EGRESSD_AUDITBUF;
	TAILQ_INIT(&conf->gateways);
	TAILQ_INIT(&conf->listeners);
	TAILQ_INIT(&conf->services);
	TAILQ_INIT(&conf->routes);
	TAILQ_INIT(&conf->destinations);
	conf->default_ca = -1;
	conf->gwhosts.map = hostmap_new();
	conf->svchosts.map = hostmap_new();
	conf->authmap = hostmap_new();
	conf->dstmap = hostmap_new();
	return conf;
}

/*
 * Records of a generation that are many and never freed alone (services
 * and their lists) come from its arena: a few large blocks, allocated
 * and freed whole, so that a registry costs no allocation per record and
 * letting go of a generation takes a few calls, not one per record.  A
 * block is above malloc's mmap threshold (128 KiB, fixed in a worker by
 * its mallopt() calls), so that freeing it gives its pages back.
 */
#define ARENA_BLOCK	(256 * 1024)
struct conf_block {
	struct conf_block	*next;
	size_t			 used, size;
	max_align_t		 data[];
};

/* size bytes, zeroed, aligned as malloc(3) aligns. */
void *
conf_alloc(struct egressd_conf *conf, size_t size)
{
	struct conf_block	*b = conf->arena;
	size_t			 a = sizeof(max_align_t), bsize;
	void			*p;

	size = (size + a - 1) / a * a;
	if (size == 0)
		size = a;
	if (b == NULL || b->size - b->used < size) {
		bsize = size > ARENA_BLOCK / 4 ? size : ARENA_BLOCK;
		b = ps_xcalloc(1, sizeof(*b) + bsize);
		b->size = bsize;
		if (conf->arena != NULL && bsize != ARENA_BLOCK) {
			/* A large one: the current block stays current. */
			b->next = conf->arena->next;
			conf->arena->next = b;
			b->used = bsize;
			return b->data;
		}
		b->next = conf->arena;
		conf->arena = b;
	}
	p = (char *)b->data + b->used;
	b->used += size;
	return p;
}

/* Room for n more records, so that adding them moves nothing. */
void
conf_vec_reserve(struct recvec *v, size_t n)
{
	void	**p;
	size_t	  max;

	if (v->n + n <= v->max)
		return;
	max = v->n + n;
	if ((p = reallocarray(v->v, max, sizeof(*v->v))) == NULL)
		fatal("%s", __func__);
	v->v = p;
	v->max = max;
}

void
conf_vec_add(struct recvec *v, void *rec)
{
	if (v->n == v->max)
		conf_vec_reserve(v, v->max > 0 ? v->max : 16);
	v->v[v->n++] = rec;
}

/*
 * One host of a record (owner: its id, records in file order).  Returns
 * 0 when added, 1 when the record has it already, -1 when the name is
 * not of its kind or the owner is out of order.
 */
int
conf_host_add(struct hostset *hs, const char *name, int kind, uint32_t owner)
{
	uint32_t	*p, key;
	size_t		 max;
	int		 rv;

	if ((rv = hostmap_add(hs->map, name, kind, owner, &key)) != 0)
		return rv;
	if (hs->nkeys == hs->maxkeys) {
		max = hs->maxkeys ? hs->maxkeys * 2 : 64;
		if ((p = reallocarray(hs->keys, max, sizeof(*p))) == NULL)
			fatal("%s", __func__);
		hs->keys = p;
		hs->maxkeys = max;
	}
	hs->keys[hs->nkeys++] = key;
	return 0;
}

/*
 * Room for refs more hosts, of which names[] distinct by kind, with text
 * bytes: adding them then moves nothing.
 */
int
conf_host_reserve(struct hostset *hs, const uint32_t names[HMK_NKINDS],
    size_t text, size_t refs)
{
	uint32_t	*p;
	size_t		 max = hs->nkeys + refs;

	if (hostmap_reserve(hs->map, names, text) == -1)
		return -1;
	if (max > hs->maxkeys) {
		if ((p = reallocarray(hs->keys, max, sizeof(*p))) == NULL)
			fatal("%s", __func__);
		hs->keys = p;
		hs->maxkeys = max;
	}
	return 0;
}

/* The ith host of the record whose hosts start at first. */
const char *
conf_host(const struct hostset *hs, uint32_t first, uint32_t i)
{
	return hostmap_name(hs->map, hs->keys[first + i]);
}

/*
 * A route match, indexed by id and by its authority (or among those
 * without one).  The caller checks that its id is the next one.  Returns
 * -1 for an authority that cannot be a key.
 */
int
conf_match_add(struct egressd_conf *conf, struct route_match *m)
{
	uint32_t	key;

	if (m->authority[0] == '\0')
		conf_vec_add(&conf->anyauth, m);
	else if (hostmap_add(conf->authmap, m->authority,
	    hostmap_kind(m->authority), m->id, &key) != 0)
		return -1;
	conf_vec_add(&conf->matchv, m);
	return 0;
}

/*
 * A destination's host into the index (its id is in conf->dstv already).
 * Returns 0, or 1 with *dup the destination that has the same host, or -1
 * for a host that cannot be a key.
 */
int
conf_dest_add(struct egressd_conf *conf, struct destination *d,
    const struct destination **dup)
{
	uint32_t	key, first;
	int		rv;

	*dup = NULL;
	if ((rv = hostmap_add(conf->dstmap, d->host, hostmap_kind(d->host),
	    d->id, &key)) != 0)
		return rv;
	if ((first = hostmap_owner(conf->dstmap, key)) != d->id) {
		if (first - 1 < conf->dstv.n)
			*dup = conf->dstv.v[first - 1];
		return 1;
	}
	return 0;
}

static void
hostset_free(struct hostset *hs)
{
	hostmap_free(hs->map);
	free(hs->keys);
}

/* Frees conf and closes the sockets its listeners still hold. */
void
conf_free(struct egressd_conf *conf)
{
	struct conf_block	*b;
	struct gateway		*g;
	struct listener		*l;
	struct route		*r;
	struct route_match	*m;
	struct destination	*d;
	int			 i;

	if (conf == NULL)
		return;
	while ((l = TAILQ_FIRST(&conf->listeners)) != NULL) {
		TAILQ_REMOVE(&conf->listeners, l, entry);
		for (i = 0; i < l->nfds; i++)
			if (l->fds[i] != -1)
				close(l->fds[i]);
		free(l);
	}
	while ((g = TAILQ_FIRST(&conf->gateways)) != NULL) {
		TAILQ_REMOVE(&conf->gateways, g, entry);
		free(g);
	}
	while ((r = TAILQ_FIRST(&conf->routes)) != NULL) {
		TAILQ_REMOVE(&conf->routes, r, entry);
		while ((m = TAILQ_FIRST(&r->matches)) != NULL) {
			TAILQ_REMOVE(&r->matches, m, entry);
			free(m);
		}
		free(r);
	}
	while ((d = TAILQ_FIRST(&conf->destinations)) != NULL) {
		TAILQ_REMOVE(&conf->destinations, d, entry);
		free(d);
	}
	for (i = 0; i < conf->ncas; i++)
		free(conf->cas[i].pem);
	for (i = 0; i < conf->nkeys; i++)
		if (conf->keys[i].der != NULL) {
			explicit_bzero(conf->keys[i].der, conf->keys[i].len);
			free(conf->keys[i].der);
		}
	free(conf->ownaddrs);
	hostset_free(&conf->gwhosts);
	hostset_free(&conf->svchosts);
	hostmap_free(conf->authmap);
	hostmap_free(conf->dstmap);
	free(conf->gwv.v);
	free(conf->svcv.v);
	free(conf->routev.v);
	free(conf->matchv.v);
	free(conf->anyauth.v);
	free(conf->dstv.v);
	free(conf->rx);
	while ((b = conf->arena) != NULL) {
		conf->arena = b->next;
		free(b);
	}
	free(conf->listens);
	free(conf);
}

struct gateway *
conf_gateway_id(struct egressd_conf *conf, uint32_t id)
{
	if (id == 0 || id > conf->gwv.n)
		return NULL;
	return conf->gwv.v[id - 1];
}

const char *
tls_mode_name(int m)
{
	switch (m) {
	case TLSM_DISABLE: return "disable";
	case TLSM_SIMPLE: return "simple";
	case TLSM_MUTUAL: return "mutual";
	default: return "?";
	}
}

/* The number of workers to run: "auto" (0) is one per online CPU. */
int
conf_workers(const struct egressd_conf *conf)
{
	long	n = conf->workers;

	if (n == 0)
		n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 1)
		n = 1;
	if (n > EGRESSD_MAXWORKERS)
		n = EGRESSD_MAXWORKERS;
	return (int)n;
}

const char *
proto_name(int proto)
{
	switch (proto) {
	case PROTO_HTTP:
		return "http";
	case PROTO_HTTPS:
		return "https";
	case PROTO_TLS:
		return "tls";
	}
	return "unknown";
}

/* Names of a service's enums, as egressd.conf(5) spells them. */
const char *
svc_proto_name(int proto)
{
	switch (proto) {
	case SPROTO_HTTP:
		return "http";
	case SPROTO_HTTPS:
		return "https";
	case SPROTO_TLS:
		return "tls";
	case SPROTO_TCP:
		return "tcp";
	}
	return "unknown";
}

const char *
resolution_name(int res)
{
	switch (res) {
	case RES_DNS:
		return "dns";
	case RES_STATIC:
		return "static";
	}
	return "unknown";
}

const char *
action_name(int action)
{
	switch (action) {
	case ACT_ENFORCE:
		return "enforce";
	case ACT_REPORT:
		return "report";
	}
	return "unknown";
}

/* The syslog facility called name, or -1. */
int
facility_value(const char *name)
{
	size_t	i;

	for (i = 0; i < nitems(facilities); i++)
		if (strcmp(facilities[i].name, name) == 0)
			return facilities[i].value;
	return -1;
}

/* The name of a syslog facility egressd accepts, or NULL. */
const char *
facility_name(int value)
{
	size_t	i;

	for (i = 0; i < nitems(facilities); i++)
		if (facilities[i].value == value)
			return facilities[i].name;
	return NULL;
}

/* The address alone, without the port: "192.0.2.1", "2001:db8::1". */
const char *
addr_ntop(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	const void	*a;

	switch (ss->ss_family) {
	case AF_INET:
		a = &((const struct sockaddr_in *)ss)->sin_addr;
		break;
	case AF_INET6:
		a = &((const struct sockaddr_in6 *)ss)->sin6_addr;
		break;
	default:
		snprintf(buf, len, "unknown");
		return buf;
	}
	if (inet_ntop(ss->ss_family, a, buf, (socklen_t)len) == NULL)
		snprintf(buf, len, "unknown");
	return buf;
}

/* The port in host order, or -1 for a family without one. */
int
addr_port(const struct sockaddr_storage *ss)
{
	switch (ss->ss_family) {
	case AF_INET:
		return ntohs(((const struct sockaddr_in *)ss)->sin_port);
	case AF_INET6:
		return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
	}
	return -1;
}

/* Same family, address and port (and IPv6 scope). */
int
addr_equal(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	const struct sockaddr_in	*a4, *b4;
	const struct sockaddr_in6	*a6, *b6;

	if (a->ss_family != b->ss_family)
		return 0;
	switch (a->ss_family) {
	case AF_INET:
		a4 = (const struct sockaddr_in *)a;
		b4 = (const struct sockaddr_in *)b;
		return a4->sin_port == b4->sin_port &&
		    a4->sin_addr.s_addr == b4->sin_addr.s_addr;
	case AF_INET6:
		a6 = (const struct sockaddr_in6 *)a;
		b6 = (const struct sockaddr_in6 *)b;
		return a6->sin6_port == b6->sin6_port &&
		    a6->sin6_scope_id == b6->sin6_scope_id &&
		    memcmp(&a6->sin6_addr, &b6->sin6_addr,
		    sizeof(a6->sin6_addr)) == 0;
	}
	return 0;
}

/* ---- the audit trail's settings ------------------------------------- */

/*
 * An SD-ID of RFC 5424 (6.3.2, 7.2.2): 1 to 32 printable US-ASCII
 * characters but '=', ' ', ']' and '"', in the form NAME@PEN; names
 * without '@' are IANA's.  Returns -1 with *why set if it is not one.
 */
int
audit_sdid_valid(const char *s, const char **why)
{
	const char	*at, *p;
	size_t		 len = strlen(s);

	if (len == 0) {
		*why = "empty";
		return -1;
	}
	if (len > EGD_SDID_MAX) {
		*why = "longer than 32 characters";
		return -1;
	}
	for (p = s; *p != '\0'; p++)
		if (*p <= ' ' || *p >= 0x7f || *p == '=' || *p == ']' ||
		    *p == '"') {
			*why = "a character that is not printable ASCII, or "
			    "one of = ] \"";
			return -1;
		}
	if ((at = strchr(s, '@')) == NULL) {
		*why = "not NAME@PEN (names without @ are reserved to IANA)";
		return -1;
	}
	if (at == s || strchr(at + 1, '@') != NULL) {
		*why = "not NAME@PEN";
		return -1;
	}
	if (at[1] == '\0' || at[1] == '0' ||
	    strspn(at + 1, "0123456789") != strlen(at + 1)) {
		*why = "not NAME@PEN (PEN: a private enterprise number)";
		return -1;
	}
	return 0;
}

int
audit_sink_equal(const struct audit_sink *a, const struct audit_sink *b)
{
	if (a->type != b->type)
		return 0;
	switch (a->type) {
	case ASINK_UNIX:
	case ASINK_JOURNALD:
		return strcmp(a->path, b->path) == 0;
	case ASINK_UDP:
	case ASINK_TCP:
		return addr_equal(&a->ss, &b->ss);
	}
	return 1;
}

/* A sink as log lines name it: "tcp 192.0.2.1 port 514". */
const char *
audit_sink_name(const struct audit_sink *s, char *buf, size_t len)
{
	char	abuf[64];

	switch (s->type) {
	case ASINK_UNIX:
		snprintf(buf, len, "unix %s", s->path);
		break;
	case ASINK_UDP:
	case ASINK_TCP:
		snprintf(buf, len, "%s %s port %d", s->type == ASINK_UDP ?
		    "udp" : "tcp", addr_ntop(&s->ss, abuf, sizeof(abuf)),
		    addr_port(&s->ss));
		break;
	case ASINK_JOURNALD:
		snprintf(buf, len, "journald");
		break;
	case ASINK_STDERR:
		snprintf(buf, len, "stderr");
		break;
	default:
		snprintf(buf, len, "unknown");
	}
	return buf;
}

/* Whether stderr is journald's stream ($JOURNAL_STREAM is "dev:ino"). */
static int
stderr_is_journal(void)
{
	struct stat	 st;
	const char	*js;
	char		 want[64];

	if ((js = getenv("JOURNAL_STREAM")) == NULL ||
	    fstat(STDERR_FILENO, &st) == -1)
		return 0;
	snprintf(want, sizeof(want), "%llu:%llu",
	    (unsigned long long)st.st_dev, (unsigned long long)st.st_ino);
	return strcmp(js, want) == 0;
}

/*
 * The parent's choice when the file names no sink, at start and on
 * reload: whatever keeps the records' structure.  With -d on a terminal
 * or a file: stderr, one line each, as the tests and a person at a
 * terminal want them.  Under systemd (-d with stderr going to the
 * journal), or without -d where journald runs: journald's native
 * protocol, with every field its own.  Otherwise the socket a syslog
 * daemon is meant to receive them on (etc/rsyslog-egressd.conf).
 */
void
audit_conf_default(struct egressd_conf *conf, int debug)
{
	struct audit_sink	*s;
	struct stat		 st;
	char			 name[160];

	if (conf->audit.nsinks > 0)
		return;
	s = &conf->audit.sinks[0];
	memset(s, 0, sizeof(*s));
	if (debug && !stderr_is_journal())
		s->type = ASINK_STDERR;
	else if (stat(EGRESSD_JOURNALSOCK, &st) == 0 && S_ISSOCK(st.st_mode)) {
		s->type = ASINK_JOURNALD;
		strlcpy(s->path, EGRESSD_JOURNALSOCK, sizeof(s->path));
	} else if (debug)
		s->type = ASINK_STDERR;
	else {
		s->type = ASINK_UNIX;
		strlcpy(s->path, EGRESSD_AUDITSOCK, sizeof(s->path));
	}
	conf->audit.nsinks = 1;
	conf->audit.defaulted = 1;
	log_info("audit trail: no sink configured, writing to %s",
	    audit_sink_name(s, name, sizeof(name)));
}
