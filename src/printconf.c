/*
 * Prints a configuration in egressd.conf(5) syntax, normalised: every
 * setting explicit, defaults included, in a fixed order, strings quoted.
 * Run by the parent for egressd -nv.  Parsing the output again and
 * printing it must give the same text (regress/conf.sh checks it), so
 * each block kind has its own function writing what its grammar reads.
 */
#include "config.h"

#include <sys/socket.h>

#include <netinet/in.h>

#include <stdio.h>

#include "egressd.h"

static void	print_string(FILE *, const char *);
static void	print_global(FILE *, const struct egressd_conf *);
static void	print_gateway(FILE *, const struct egressd_conf *,
		    const struct gateway *);

/* A quoted string, escaped as the lexer reads it back. */
static void
print_string(FILE *fp, const char *s)
{
	fputc('"', fp);
	for (; *s != '\0'; s++) {
		switch (*s) {
		case '"':
		case '\\':
			fputc('\\', fp);
			fputc(*s, fp);
			break;
		case '\n':
			fputs("\\n", fp);
			break;
		case '\t':
			fputs("\\t", fp);
			break;
		default:
			fputc(*s, fp);
		}
	}
	fputc('"', fp);
}

static void
print_global(FILE *fp, const struct egressd_conf *conf)
{
	const char	*fac;

	fputs("user ", fp);
	print_string(fp, conf->user);
	fputs("\nchroot ", fp);
	print_string(fp, conf->chroot);
	fputc('\n', fp);
	if (conf->workers == 0)
		fputs("workers auto\n", fp);
	else
		fprintf(fp, "workers %d\n", conf->workers);
	fputs("resolver ", fp);
	print_string(fp, conf->resolver);
	fputc('\n', fp);
	fprintf(fp, "drain timeout %d\n", conf->drain_timeout);
	fprintf(fp, "idle timeout %d\n", conf->idle_timeout);
	fprintf(fp, "max connections %d\n", conf->max_conns);
	if ((fac = facility_name(conf->log_facility)) == NULL)
		fac = "daemon";
	fprintf(fp, "log facility %s\n", fac);
}

/* IPv6 listen addresses are quoted, the form egressd.conf(5) shows. */
static void
print_gateway(FILE *fp, const struct egressd_conf *conf,
    const struct gateway *g)
{
	const struct listener	*l;
	const struct hostname	*h;
	char			 abuf[INET6_ADDRSTRLEN];

	fputs("\ngateway ", fp);
	print_string(fp, g->name);
	fputs(" {\n", fp);
	TAILQ_FOREACH(l, &conf->listeners, entry) {
		if (l->gateway != g->id)
			continue;
		addr_ntop(&l->ss, abuf, sizeof(abuf));
		if (l->ss.ss_family == AF_INET6)
			fprintf(fp, "\tlisten on \"%s\"", abuf);
		else
			fprintf(fp, "\tlisten on %s", abuf);
		fprintf(fp, " port %d %s\n", addr_port(&l->ss),
		    proto_name(l->proto));
	}
	if (!TAILQ_EMPTY(&g->hosts)) {
		fputs("\thosts {\n", fp);
		TAILQ_FOREACH(h, &g->hosts, entry) {
			fputs("\t\t", fp);
			print_string(fp, h->name);
			fputc('\n', fp);
		}
		fputs("\t}\n", fp);
	}
	fputs("}\n", fp);
}

void
print_config(FILE *fp, const struct egressd_conf *conf)
{
	const struct gateway	*g;

	print_global(fp, conf);
	TAILQ_FOREACH(g, &conf->gateways, entry)
		print_gateway(fp, conf, g);
}
