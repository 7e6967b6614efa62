/*
 * Prints a configuration in egressd.conf(5) syntax, normalised: every
 * setting explicit, defaults included, in a fixed order, strings quoted,
 * addresses and networks in canonical form.  What has no keyword for its
 * default (a limit that is off, a route's timeout, allow private, ...)
 * is printed only when set.  Run by the parent for egressd -nv.  Parsing
 * the output again and printing it must give the same text
 * (regress/conf.sh checks it), so each block kind has its own function
 * writing what its grammar reads.
 */
#include "config.h"

#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdio.h>

#include "egressd.h"

static void	print_addr(FILE *, const struct egd_addr *);
static void	print_hosts(FILE *, const struct hostset *, uint32_t,
		    uint32_t);
static void	print_from(FILE *, const struct egd_cidr *, int);
static void	print_nets(FILE *, const char *, const struct egd_cidr *,
		    int);
static void	print_global(FILE *, const struct egressd_conf *);
static void	print_limits(FILE *, const struct egd_limits *);
static void	print_audit(FILE *, const struct audit_conf *);
static void	print_admin(FILE *, const struct egressd_conf *);
static void	print_gateway(FILE *, const struct egressd_conf *,
		    const struct gateway *);
static void	print_service(FILE *, const struct egressd_conf *,
		    const struct service *);
static void	print_route(FILE *, const struct egressd_conf *,
		    const struct route *);
static void	print_match(FILE *, const struct route_match *);
static void	print_destination(FILE *, const struct destination *);

/* IPv4 bare, IPv6 quoted: the forms egressd.conf(5) shows. */
static void
print_addr(FILE *fp, const struct egd_addr *a)
{
	char	abuf[INET6_ADDRSTRLEN];

	egd_addr_ntop(a, abuf, sizeof(abuf));
	if (a->af == AF_INET6)
		fprintf(fp, "\"%s\"", abuf);
	else
		fputs(abuf, fp);
}

static void
print_hosts(FILE *fp, const struct hostset *hs, uint32_t first, uint32_t n)
{
	uint32_t	i;

	if (n == 0)
		return;
	fputs("\thosts {\n", fp);
	for (i = 0; i < n; i++) {
		fputs("\t\t", fp);
		conf_quote(fp, conf_host(hs, first, i));
		fputc('\n', fp);
	}
	fputs("\t}\n", fp);
}

static void
print_idents(FILE *fp, const char (*idents)[EGD_IDENT_MAX], int n)
{
	int	i;

	for (i = 0; i < n; i++) {
		fputs("\tfrom identity ", fp);
		conf_quote(fp, idents[i]);
		fputc('\n', fp);
	}
}

/* Networks with their prefix length always, host networks too. */
static void
print_from(FILE *fp, const struct egd_cidr *from, int n)
{
	if (n > 0)
		print_nets(fp, "from", from, n);
}

/* "\tWHAT {", a network a line (IPv6 ones quoted), "}". */
static void
print_nets(FILE *fp, const char *what, const struct egd_cidr *from, int n)
{
	char	abuf[INET6_ADDRSTRLEN];
	int	i;

	fprintf(fp, "\t%s {\n", what);
	for (i = 0; i < n; i++) {
		egd_addr_ntop(&from[i].a, abuf, sizeof(abuf));
		if (from[i].a.af == AF_INET6)
			fprintf(fp, "\t\t\"%s/%d\"\n", abuf,
			    from[i].prefixlen);
		else
			fprintf(fp, "\t\t%s/%d\n", abuf, from[i].prefixlen);
	}
	fputs("\t}\n", fp);
}

static void
print_global(FILE *fp, const struct egressd_conf *conf)
{
	struct egd_addr	 a;
	const char	*fac;
	uint16_t	 port;
	int		 i;

	fputs("user ", fp);
	conf_quote(fp, conf->user);
	fputs("\nchroot ", fp);
	conf_quote(fp, conf->chroot);
	fputc('\n', fp);
	if (conf->workers == 0)
		fputs("workers auto\n", fp);
	else
		fprintf(fp, "workers %d\n", conf->workers);
	fputs("resolver ", fp);
	conf_quote(fp, conf->resolver);
	fputc('\n', fp);
	for (i = 0; i < conf->nnameservers; i++) {
		egd_addr_from_sa((const struct sockaddr *)
		    &conf->nameservers[i], &a, &port);
		fputs("nameserver ", fp);
		print_addr(fp, &a);
		fprintf(fp, " port %u", port);
		if (conf->nstls[i].name[0] != '\0') {
			fputs(" tls ", fp);
			conf_quote(fp, conf->nstls[i].name);
			if (conf->nstls[i].ca[0] != '\0') {
				fputs(" ca ", fp);
				conf_quote(fp, conf->nstls[i].ca);
			}
		}
		fputc('\n', fp);
	}
	fprintf(fp, "drain timeout %d\n", conf->drain_timeout);
	fprintf(fp, "revoke grace %d\n", conf->revoke_grace);
	fprintf(fp, "idle timeout %d\n", conf->idle_timeout);
	fprintf(fp, "request timeout %d\n", conf->request_timeout);
	fprintf(fp, "connect timeout %d\n", conf->connect_timeout);
	fprintf(fp, "max connections %d\n", conf->max_conns);
	fprintf(fp, "max header size %d\n", conf->max_header_size);
	fprintf(fp, "max headers %d\n", conf->max_headers);
	fprintf(fp, "max uri length %d\n", conf->max_uri);
	fprintf(fp, "dns min ttl %d\n", conf->dns_min_ttl);
	fprintf(fp, "dns max ttl %d\n", conf->dns_max_ttl);
	fprintf(fp, "dns negative ttl %d\n", conf->dns_neg_ttl);
	fprintf(fp, "pool idle %d\n", conf->pool_idle);
	fprintf(fp, "pool timeout %d\n", conf->pool_timeout);
	print_limits(fp, &conf->limits);
	if ((fac = facility_name(conf->log_facility)) == NULL)
		fac = "daemon";
	fprintf(fp, "log facility %s\n", fac);
	print_admin(fp, conf);
}

/* The control socket always (it has defaults); metrics when set. */
static void
print_admin(FILE *fp, const struct egressd_conf *conf)
{
	char	abuf[INET6_ADDRSTRLEN];

	if (conf->metrics_ss.ss_family != 0) {
		addr_ntop(&conf->metrics_ss, abuf, sizeof(abuf));
		if (conf->metrics_ss.ss_family == AF_INET6)
			fprintf(fp, "metrics listen on \"%s\"", abuf);
		else
			fprintf(fp, "metrics listen on %s", abuf);
		fprintf(fp, " port %d\n", addr_port(&conf->metrics_ss));
	}
	fputs("control socket ", fp);
	conf_quote(fp, conf->control_path);
	fputs(" group ", fp);
	conf_quote(fp, conf->control_group);
	fputc('\n', fp);
}

/* Limits are off unless set (0): there is no keyword for "none". */
static void
print_limits(FILE *fp, const struct egd_limits *l)
{
	if (l->conns != 0)
		fprintf(fp, "limit connections %u\n", l->conns);
	if (l->src_conns != 0)
		fprintf(fp, "limit connections %u per source\n",
		    l->src_conns);
	if (l->tunnels != 0)
		fprintf(fp, "limit tunnels %u\n", l->tunnels);
	if (l->src_tunnels != 0)
		fprintf(fp, "limit tunnels %u per source\n", l->src_tunnels);
	if (l->rate != 0)
		fprintf(fp, "limit rate %u burst %u\n", l->rate, l->burst);
	if (l->src_rate != 0)
		fprintf(fp, "limit rate %u burst %u per source\n",
		    l->src_rate, l->src_burst);
}

/*
 * The audit block, when the file has one: its sinks as given (a default
 * sink is chosen at start, not printed), then every setting.
 */
static void
print_audit(FILE *fp, const struct audit_conf *a)
{
	const struct audit_sink	*s;
	struct egd_addr		 ea;
	uint16_t		 port;
	int			 i;

	if (!a->block)
		return;
	fputs("\naudit {\n", fp);
	for (i = 0; !a->defaulted && i < a->nsinks; i++) {
		s = &a->sinks[i];
		switch (s->type) {
		case ASINK_UNIX:
			fputs("\tsink unix ", fp);
			conf_quote(fp, s->path);
			fputc('\n', fp);
			break;
		case ASINK_UDP:
		case ASINK_TCP:
			egd_addr_from_sa((const struct sockaddr *)&s->ss, &ea,
			    &port);
			fprintf(fp, "\tsink %s ", s->type == ASINK_UDP ?
			    "udp" : "tcp");
			print_addr(fp, &ea);
			fprintf(fp, " port %u\n", port);
			break;
		case ASINK_JOURNALD:
			fputs("\tsink journald\n", fp);
			break;
		case ASINK_STDERR:
			fputs("\tsink stderr\n", fp);
			break;
		}
	}
	fputs("\tsd-id ", fp);
	conf_quote(fp, a->sdid);
	fprintf(fp, "\n\tevents %s\n", a->events == AEVENTS_DENIALS ?
	    "denials" : "all");
	fprintf(fp, "\tbuffer %d\n}\n", a->buffer);
}

/* IPv6 listen addresses are quoted, the form egressd.conf(5) shows. */
static void
print_gateway(FILE *fp, const struct egressd_conf *conf,
    const struct gateway *g)
{
	const struct listener	*l;
	char			 abuf[INET6_ADDRSTRLEN];

	fputs("\ngateway ", fp);
	conf_quote(fp, g->name);
	fputs(" {\n", fp);
	TAILQ_FOREACH(l, &conf->listeners, entry) {
		if (l->gateway != g->id)
			continue;
		addr_ntop(&l->ss, abuf, sizeof(abuf));
		if (l->ss.ss_family == AF_INET6)
			fprintf(fp, "\tlisten on \"%s\"", abuf);
		else
			fprintf(fp, "\tlisten on %s", abuf);
		fprintf(fp, " port %d %s", addr_port(&l->ss),
		    proto_name(l->proto));
		if (l->transparent)
			fputs(" transparent", fp);
		if (l->proto == PROTO_HTTPS) {
			fputs(" cert ", fp);
			conf_quote(fp, l->cert);
			fputs(" key ", fp);
			conf_quote(fp, l->key);
			if (l->clientca[0]) {
				fputs(" client ca ", fp);
				conf_quote(fp, l->clientca);
			}
			if (l->client_optional)
				fputs(" client optional", fp);
			fprintf(fp, " min version %s",
			    l->minver == 13 ? "1.3" : "1.2");
			if (l->ciphers[0]) {
				fputs(" ciphers ", fp);
				conf_quote(fp, l->ciphers);
			}
		}
		fputc('\n', fp);
	}
	print_hosts(fp, &conf->gwhosts, g->hfirst, g->nhosts);
	fprintf(fp, "\tmerge slashes %s\n", g->merge_slashes ? "on" : "off");
	fprintf(fp, "\tescaped slashes %s\n",
	    g->esc_slashes == ESLASH_REJECT ? "reject" :
	    g->esc_slashes == ESLASH_DECODE ? "decode" : "keep");
	fputs("}\n", fp);
}

static void
print_service(FILE *fp, const struct egressd_conf *conf,
    const struct service *s)
{
	const struct svc_port		*p;
	const struct svc_endpoint	*e;
	int				 i;

	fputs("\nservice ", fp);
	conf_quote(fp, s->name);
	fputs(" {\n", fp);
	print_hosts(fp, &conf->svchosts, s->hfirst, s->nhosts);
	for (i = 0; i < s->nports; i++) {
		p = &s->ports[i];
		fprintf(fp, "\tport %u %s", p->port, svc_proto_name(p->proto));
		if (p->name[0] != '\0') {
			fputc(' ', fp);
			conf_quote(fp, p->name);
		}
		fputc('\n', fp);
	}
	fprintf(fp, "\tresolution %s\n", resolution_name(s->resolution));
	for (i = 0; i < s->nendpoints; i++) {
		e = &s->endpoints[i];
		fputs("\tendpoint ", fp);
		print_addr(fp, &e->a);
		if (e->port != 0)
			fprintf(fp, " port %u", e->port);
		fputc('\n', fp);
	}
	fprintf(fp, "\taction %s\n", action_name(s->action));
	if (s->allow_private == PRIV_ALL)
		fputs("\tallow private\n", fp);
	else if (s->allow_private == PRIV_NETS)
		print_nets(fp, "allow private", s->private_nets,
		    s->nprivate_nets);
	if (s->sni_nocheck)
		fputs("\tsni check off\n", fp);
	print_from(fp, s->from, s->nfrom);
	print_idents(fp, s->idents, s->nidents);
	fputs("}\n", fp);
}

/* Conditions on the match line, in the order egressd.conf(5) lists. */
static void
print_match(FILE *fp, const struct route_match *m)
{
	const struct route_dest	*d;
	int			 i;

	fputs("\tmatch ", fp);
	if (m->authority[0] != '\0') {
		fputs("authority ", fp);
		conf_quote(fp, m->authority);
		fputc(' ', fp);
	}
	if (m->port != 0)
		fprintf(fp, "port %u ", m->port);
	if (m->pathtype != PATH_ANY) {
		fputs(m->pathtype == PATH_PREFIX ? "path prefix " : "path ",
		    fp);
		conf_quote(fp, m->path);
		fputc(' ', fp);
	}
	if (m->method[0] != '\0')
		fprintf(fp, "method %s ", m->method);
	for (i = 0; i < m->nheaders; i++) {
		fputs("header ", fp);
		conf_quote(fp, m->headers[i].name);
		if (m->headers[i].has_value) {
			fputc(' ', fp);
			conf_quote(fp, m->headers[i].value);
		}
		fputc(' ', fp);
	}
	fputs("{\n", fp);
	for (i = 0; i < m->ndests; i++) {
		d = &m->dests[i];
		fputs("\t\tforward to ", fp);
		conf_quote(fp, d->host);
		if (d->port != 0)
			fprintf(fp, " port %u", d->port);
		fprintf(fp, " weight %u\n", d->weight);
	}
	if (m->rewrite_authority[0] != '\0') {
		fputs("\t\trewrite authority ", fp);
		conf_quote(fp, m->rewrite_authority);
		fputc('\n', fp);
	}
	if (m->rewrite_path) {
		fputs("\t\trewrite path prefix ", fp);
		conf_quote(fp, m->rewrite_prefix);
		fputc('\n', fp);
	}
	if (m->timeout != 0)
		fprintf(fp, "\t\ttimeout %d\n", m->timeout);
	fprintf(fp, "\t\tretries %d\n", m->retries);
	if (m->websocket)
		fputs("\t\twebsocket\n", fp);
	fputs("\t}\n", fp);
}

static void
print_route(FILE *fp, const struct egressd_conf *conf, const struct route *r)
{
	const struct gateway		*g;
	const struct route_match	*m;
	int				 i;

	fputs("\nroute ", fp);
	conf_quote(fp, r->name);
	fputs(" {\n", fp);
	for (i = 0; i < r->ngateways; i++)
		TAILQ_FOREACH(g, &conf->gateways, entry)
			if (g->id == r->gateways[i]) {
				fputs("\tgateway ", fp);
				conf_quote(fp, g->name);
				fputc('\n', fp);
			}
	print_from(fp, r->from, r->nfrom);
	print_idents(fp, r->idents, r->nidents);
	TAILQ_FOREACH(m, &r->matches, entry)
		print_match(fp, m);
	fputs("}\n", fp);
}

void
print_config(FILE *fp, const struct egressd_conf *conf)
{
	const struct gateway	*g;
	const struct service	*s;
	const struct route	*r;
	const struct destination *d;

	print_global(fp, conf);
	print_audit(fp, &conf->audit);
	TAILQ_FOREACH(g, &conf->gateways, entry)
		print_gateway(fp, conf, g);
	TAILQ_FOREACH(s, &conf->services, entry)
		print_service(fp, conf, s);
	TAILQ_FOREACH(r, &conf->routes, entry)
		print_route(fp, conf, r);
	TAILQ_FOREACH(d, &conf->destinations, entry)
		print_destination(fp, d);
}

/* Every TLS setting explicit: the defaults are what they resolve to. */
static void
print_destination(FILE *fp, const struct destination *d)
{
	const struct dst_port	*p;
	struct egd_addr		 a;
	int			 i, j, literal;

	literal = egd_addr_parse(d->host, &a) == 0;
	fputs("\ndestination ", fp);
	conf_quote(fp, d->name);
	fputs(" {\n\thost ", fp);
	conf_quote(fp, d->host);
	fputc('\n', fp);
	for (i = 0; i < d->nports; i++) {
		p = &d->ports[i];
		fprintf(fp, "\tport %u tls %s", p->port,
		    tls_mode_name(p->mode));
		if (p->mode == TLSM_DISABLE) {
			fputc('\n', fp);
			continue;
		}
		/*
		 * A pattern's default SNI is the name asked: not printable;
		 * an address literal's is none at all.
		 */
		if (p->sni[0] != '\0' || (d->host[0] != '*' && !literal)) {
			fputs(" sni ", fp);
			conf_quote(fp, p->sni[0] ? p->sni : d->host);
		}
		fputs(" ca ", fp);
		conf_quote(fp, p->ca[0] ? p->ca : EGRESSD_CABUNDLE);
		fprintf(fp, " min version %s", p->minver == 13 ? "1.3" : "1.2");
		if (p->ciphers[0]) {
			fputs(" ciphers ", fp);
			conf_quote(fp, p->ciphers);
		}
		if (p->nsan > 0) {
			fputs(" verify-san {", fp);
			for (j = 0; j < p->nsan; j++) {
				fputs(j ? ", " : " ", fp);
				conf_quote(fp, p->san[j]);
			}
			fputs(" }", fp);
		}
		if (p->mode == TLSM_MUTUAL) {
			fputs(" cert ", fp);
			conf_quote(fp, p->cert);
			fputs(" key ", fp);
			conf_quote(fp, p->key);
		}
		fputc('\n', fp);
	}
	fputs("}\n", fp);
}
