/*
 * egressctl import istio, last stage: the og_* blocks (src/istio.h) as
 * egressd.conf(5) text.  Run by egressctl, as its caller.  The text is
 * deterministic: the same blocks give the same bytes.  Each block is
 * preceded by comments naming the resource it comes from (kind,
 * namespace/name, file:line) and anything said about it; parts left out
 * are comments only.  Names, hosts and paths are quoted as the lexer of
 * src/parse.y reads them back; values were checked by the stages
 * before.  Interface: ist_emit().
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "egressd.h"
#include "istio.h"

static void	 comment(FILE *, const char *, const char *);
static void	 comments(FILE *, const struct og_notes *, const char *);
static void	 hosts(FILE *, const struct ist_strs *);
static void	 emit_gateway(FILE *, const struct og_gateway *);
static void	 emit_service(FILE *, const struct og_service *);
static void	 emit_route(FILE *, const struct ist_ctx *,
		    const struct og_route *);
static void	 emit_match(FILE *, const struct og_match *);
static void	 emit_dest(FILE *, const struct og_dest *);

static const char *const lproto[] = { "http", "https", "tls" };
static const char *const sproto[] = { "http", "https", "tls", "tcp" };

/*
 * A comment, wrapped at blanks to stay within 72 columns (a tab counted
 * as 8); continuation lines are indented.  A word longer than a line
 * stays whole.
 */
static void
comment(FILE *fp, const char *indent, const char *text)
{
	const char	*p = text, *brk, *q;
	size_t		 width = 72 - (indent[0] != '\0' ? 8 : 0), room;
	int		 first = 1;

	while (*p != '\0') {
		room = width - (first ? 2 : 4);
		brk = NULL;
		for (q = p; *q != '\0' && (size_t)(q - p) <= room; q++)
			if (*q == ' ')
				brk = q;
		if (*q == '\0' && (size_t)(q - p) <= room)
			brk = q;
		else if (brk == NULL)
			for (brk = q; *brk != '\0' && *brk != ' '; brk++)
				;
		fprintf(fp, "%s#%s%.*s\n", indent, first ? " " : "   ",
		    (int)(brk - p), p);
		p = *brk == ' ' ? brk + 1 : brk;
		first = 0;
	}
}

static void
comments(FILE *fp, const struct og_notes *ns, const char *indent)
{
	size_t	i;

	for (i = 0; i < ns->n; i++)
		if (ns->v[i].whole)
			fprintf(fp, "%s# %s\n", indent, ns->v[i].text);
		else
			comment(fp, indent, ns->v[i].text);
}

static void
hosts(FILE *fp, const struct ist_strs *h)
{
	size_t	i;

	if (h->n == 0)
		return;
	if (h->n == 1) {
		fputs("\thosts { ", fp);
		conf_quote(fp, h->v[0].s);
		fputs(" }\n", fp);
		return;
	}
	fputs("\thosts {\n", fp);
	for (i = 0; i < h->n; i++) {
		fputs("\t\t", fp);
		conf_quote(fp, h->v[i].s);
		fputc('\n', fp);
	}
	fputs("\t}\n", fp);
}

static void
emit_gateway(FILE *fp, const struct og_gateway *g)
{
	const struct og_listener	*l;
	size_t				 i;

	fputc('\n', fp);
	comments(fp, &g->notes, "");
	fputs("gateway ", fp);
	conf_quote(fp, g->name);
	fputs(" {\n", fp);
	for (i = 0; i < g->nl; i++) {
		l = g->l[i];
		fprintf(fp, "\t# %s\n", l->servers);
		if (l->v6)
			fprintf(fp, "\tlisten on \"%s\"", l->addr);
		else
			fprintf(fp, "\tlisten on %s", l->addr);
		fprintf(fp, " port %u %s", l->port, lproto[l->proto]);
		if (l->proto == LP_HTTPS) {
			fputs(" cert ", fp);
			conf_quote(fp, l->cert);
			fputs(" key ", fp);
			conf_quote(fp, l->key);
			if (l->clientca != NULL) {
				fputs(" client ca ", fp);
				conf_quote(fp, l->clientca);
			}
			if (l->client_optional)
				fputs(" client optional", fp);
			if (l->minver == 13)
				fputs(" min version 1.3", fp);
			if (l->ciphers != NULL) {
				fputs(" ciphers ", fp);
				conf_quote(fp, l->ciphers);
			}
		}
		fputc('\n', fp);
	}
	/*
	 * Said outright, so that egressd -n has no warning to give: this
	 * is what Istio's gateways do (pathWithEscapedSlashes defaults to
	 * KEEP_UNCHANGED), and the operator may choose better.
	 */
	fputs("\t# as Istio: %2F and %5C reach the origin as sent\n"
	    "\tescaped slashes keep\n", fp);
	hosts(fp, &g->hosts);
	fputs("}\n", fp);
}

static void
emit_service(FILE *fp, const struct og_service *s)
{
	const struct og_sport	*p;
	const struct og_endpoint *e;
	size_t			 i;

	fputc('\n', fp);
	comments(fp, &s->notes, "");
	fputs("service ", fp);
	conf_quote(fp, s->name);
	fputs(" {\n", fp);
	hosts(fp, &s->hosts);
	for (i = 0; i < s->nports; i++) {
		p = &s->ports[i];
		if (p->note != NULL)
			comment(fp, "\t", p->note);
		fprintf(fp, "\tport %u %s", p->port, sproto[p->proto]);
		if (p->label != NULL) {
			fputc(' ', fp);
			conf_quote(fp, p->label);
		}
		fputc('\n', fp);
	}
	fprintf(fp, "\tresolution %s\n", s->is_static ? "static" : "dns");
	for (i = 0; i < s->neps; i++) {
		e = &s->eps[i];
		if (e->v6)
			fprintf(fp, "\tendpoint \"%s\"", e->addr);
		else
			fprintf(fp, "\tendpoint %s", e->addr);
		if (e->port != 0)
			fprintf(fp, " port %u", e->port);
		fputc('\n', fp);
	}
	if (s->allow_private)
		fputs("\tallow private\n", fp);
	fputs("}\n", fp);
}

static void
emit_match(FILE *fp, const struct og_match *m)
{
	size_t	i;

	fprintf(fp, "\t# %s\n", m->comment);
	fputs("\tmatch ", fp);
	if (m->authority != NULL) {
		fputs("authority ", fp);
		conf_quote(fp, m->authority);
		fputc(' ', fp);
	}
	if (m->port != 0)
		fprintf(fp, "port %u ", m->port);
	if (m->pathtype != OP_ANY) {
		fputs(m->pathtype == OP_PREFIX ? "path prefix " : "path ", fp);
		conf_quote(fp, m->path);
		fputc(' ', fp);
	}
	if (m->method != NULL)
		fprintf(fp, "method %s ", m->method);
	for (i = 0; i < m->nhdrs; i++) {
		fputs("header ", fp);
		conf_quote(fp, m->hdrs[i].name);
		if (m->hdrs[i].value != NULL) {
			fputc(' ', fp);
			conf_quote(fp, m->hdrs[i].value);
		}
		fputc(' ', fp);
	}
	fputs("{\n", fp);
	for (i = 0; i < m->nfwd; i++) {
		fputs("\t\tforward to ", fp);
		conf_quote(fp, m->fwd[i].host);
		if (m->fwd[i].port != 0)
			fprintf(fp, " port %u", m->fwd[i].port);
		fprintf(fp, " weight %u\n", m->fwd[i].weight);
	}
	if (m->rw_auth != NULL) {
		fputs("\t\trewrite authority ", fp);
		conf_quote(fp, m->rw_auth);
		fputc('\n', fp);
	}
	if (m->rw_prefix != NULL) {
		fputs("\t\trewrite path prefix ", fp);
		conf_quote(fp, m->rw_prefix);
		fputc('\n', fp);
	}
	if (m->timeout != 0)
		fprintf(fp, "\t\ttimeout %d\n", m->timeout);
	fprintf(fp, "\t\tretries %d\n", m->retries);
	fputs("\t}\n", fp);
}

static void
emit_route(FILE *fp, const struct ist_ctx *ctx, const struct og_route *r)
{
	size_t	i;

	fputc('\n', fp);
	comments(fp, &r->notes, "");
	if (r->left_out)
		return;
	fputs("route ", fp);
	conf_quote(fp, r->name);
	fputs(" {\n", fp);
	for (i = 0; i < r->ngw; i++) {
		fputs("\tgateway ", fp);
		conf_quote(fp, ctx->gw[r->gw[i]]->name);
		fputc('\n', fp);
	}
	for (i = 0; i < r->nm; i++)
		emit_match(fp, r->m[i]);
	fputs("}\n", fp);
}

static void
emit_dest(FILE *fp, const struct og_dest *d)
{
	const struct og_dport	*p;
	size_t			 i, j;

	fputc('\n', fp);
	comments(fp, &d->notes, "");
	if (d->left_out)
		return;
	fputs("destination ", fp);
	conf_quote(fp, d->name);
	fputs(" {\n\thost ", fp);
	conf_quote(fp, d->host);
	fputc('\n', fp);
	for (i = 0; i < d->nports; i++) {
		p = &d->ports[i];
		fprintf(fp, "\tport %u tls ", p->port);
		if (p->mode == TM_DISABLE) {
			fputs("disable\n", fp);
			continue;
		}
		fputs(p->mode == TM_MUTUAL ? "mutual" : "simple", fp);
		if (p->mode == TM_MUTUAL) {
			fputs(" cert ", fp);
			conf_quote(fp, p->cert);
			fputs(" key ", fp);
			conf_quote(fp, p->key);
		}
		if (p->sni != NULL) {
			fputs(" sni ", fp);
			conf_quote(fp, p->sni);
		}
		if (p->ca != NULL) {
			fputs(" ca ", fp);
			conf_quote(fp, p->ca);
		}
		if (p->sans.n > 0) {
			fputs(" verify-san {", fp);
			for (j = 0; j < p->sans.n; j++) {
				fputs(j > 0 ? ", " : " ", fp);
				conf_quote(fp, p->sans.v[j].s);
			}
			fputs(" }", fp);
		}
		fputc('\n', fp);
	}
	fputs("}\n", fp);
}

void
ist_emit(struct ist_ctx *ctx, FILE *fp)
{
	size_t	i;

	fputs("# egressd.conf from Istio resources, written by \"egressctl "
	    "import istio\"\n# from:", fp);
	for (i = 0; i < (size_t)ctx->nfiles; i++)
		fprintf(fp, " %s", ctx->files[i]);
	fputs("\n# Each block names the resource it comes from.  Check the "
	    "file with\n# egressd -n -f FILE before loading it.\n", fp);
	for (i = 0; i < ctx->ngw; i++)
		emit_gateway(fp, ctx->gw[i]);
	for (i = 0; i < ctx->nsvc; i++)
		emit_service(fp, ctx->svc[i]);
	for (i = 0; i < ctx->nrt; i++)
		emit_route(fp, ctx, ctx->rt[i]);
	for (i = 0; i < ctx->ndst; i++)
		emit_dest(fp, ctx->dst[i]);
}
