/*
 * The configuration as a data structure, for every process that holds one
 * (the parent builds it with parse.y; the children rebuild theirs from the
 * parent's messages): allocation with the defaults, freeing, lookups, and
 * the names and address forms that the parser, printconf.c and the logs
 * share.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>

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
	TAILQ_INIT(&conf->gateways);
	TAILQ_INIT(&conf->listeners);
	TAILQ_INIT(&conf->services);
	TAILQ_INIT(&conf->routes);
	return conf;
}

static void
hostlist_free(struct hostlist *hosts)
{
	struct hostname	*h;

	while ((h = TAILQ_FIRST(hosts)) != NULL) {
		TAILQ_REMOVE(hosts, h, entry);
		free(h);
	}
}

/* Frees conf and closes the sockets its listeners still hold. */
void
conf_free(struct egressd_conf *conf)
{
	struct gateway		*g;
	struct listener		*l;
	struct service		*s;
	struct route		*r;
	struct route_match	*m;

	if (conf == NULL)
		return;
	while ((l = TAILQ_FIRST(&conf->listeners)) != NULL) {
		TAILQ_REMOVE(&conf->listeners, l, entry);
		if (l->fd != -1)
			close(l->fd);
		free(l);
	}
	while ((g = TAILQ_FIRST(&conf->gateways)) != NULL) {
		TAILQ_REMOVE(&conf->gateways, g, entry);
		hostlist_free(&g->hosts);
		free(g);
	}
	while ((s = TAILQ_FIRST(&conf->services)) != NULL) {
		TAILQ_REMOVE(&conf->services, s, entry);
		hostlist_free(&s->hosts);
		free(s);
	}
	while ((r = TAILQ_FIRST(&conf->routes)) != NULL) {
		TAILQ_REMOVE(&conf->routes, r, entry);
		while ((m = TAILQ_FIRST(&r->matches)) != NULL) {
			TAILQ_REMOVE(&r->matches, m, entry);
			free(m);
		}
		free(r);
	}
	free(conf->ownaddrs);
	free(conf);
}

struct gateway *
conf_gateway(struct egressd_conf *conf, const char *name)
{
	struct gateway	*g;

	TAILQ_FOREACH(g, &conf->gateways, entry)
		if (strcmp(g->name, name) == 0)
			return g;
	return NULL;
}

struct gateway *
conf_gateway_id(struct egressd_conf *conf, uint32_t id)
{
	struct gateway	*g;

	TAILQ_FOREACH(g, &conf->gateways, entry)
		if (g->id == id)
			return g;
	return NULL;
}

struct service *
conf_service(struct egressd_conf *conf, const char *name)
{
	struct service	*s;

	TAILQ_FOREACH(s, &conf->services, entry)
		if (strcmp(s->name, name) == 0)
			return s;
	return NULL;
}

struct route *
conf_route(struct egressd_conf *conf, const char *name)
{
	struct route	*r;

	TAILQ_FOREACH(r, &conf->routes, entry)
		if (strcmp(r->name, name) == 0)
			return r;
	return NULL;
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

	for (i = 0; i < sizeof(facilities) / sizeof(facilities[0]); i++)
		if (strcmp(facilities[i].name, name) == 0)
			return facilities[i].value;
	return -1;
}

/* The name of a syslog facility egressd accepts, or NULL. */
const char *
facility_name(int value)
{
	size_t	i;

	for (i = 0; i < sizeof(facilities) / sizeof(facilities[0]); i++)
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
