/*
 * egressctl import istio, first stage: YAML in, one ist_res record per
 * Istio resource out (src/istio.h).  Run by egressctl, as its caller, on
 * files it was given: the input is treated as hostile.  libyaml's loader
 * builds each document; this file walks only the fields Istio defines,
 * never the tree as a whole, so aliases and anchors cost no more than
 * the nodes visited, and that count is bounded per document.  Each
 * resource is judged on its own here: its values are checked and made
 * canonical (hosts lowercased, literals in their canonical text, paths,
 * methods, header names), and every field that egressd does not carry
 * over is reported, a warning where egressd does something close enough
 * and says what, an error where leaving it out would let more through or
 * send a request elsewhere.  Decisions that need several resources are
 * istio_map.c's.  Interface: ist_read() for one file's bytes,
 * ist_kind_name().
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>

#include <ctype.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <yaml.h>

#include "egressd.h"
#include "istio.h"

#define VISITS_MAX	4000000	/* nodes visited in one document */
#define LIST_MAX	4096	/* items of one list, pairs of one map */
#define PATH_LEN	256	/* a field's path, for messages */
#define HDRNAME_MAX	63	/* as egressd.conf(5) takes them */
#define HDRVALUE_MAX	255
#define METHOD_MAX	15
#define URIPATH_MAX	1023

/* What a field of a table is to egressd. */
enum {
	F_USE = 0,	/* read by the code below */
	F_QUIET,	/* nothing to egressd: no word */
	F_WARN,		/* not carried over; why says what egressd does */
	F_ERR,		/* cannot be left out: why says what to do */
};

struct field {
	const char	*key;
	int		 how;
	const char	*why;
};

/* The reader's state for one document. */
struct rd {
	struct ist_ctx	*ctx;
	yaml_document_t	*doc;
	int		 file;
	struct ist_res	*res;		/* the resource being read */
	int		 part;		/* its part: a route's index + 1 */
	size_t		 visits;
	int		 over;		/* VISITS_MAX reached */
	struct ist_loc	 doc_loc;	/* where the document begins */
};

static char		*pathf(char *, size_t, const char *, ...)
			    __attribute__((__format__ (printf, 3, 4)));
static yaml_node_t	*nd(struct rd *, int);
static struct ist_loc	 nloc(const struct rd *, const yaml_node_t *);
static void		 rerr(struct rd *, const yaml_node_t *, const char *,
			    ...) __attribute__((__format__ (printf, 3, 4)));
static void		 rwarn(struct rd *, const yaml_node_t *, const char *,
			    const char *);
static const char	*sval(const yaml_node_t *);
static int		 is_null(const yaml_node_t *);
static int		 is_empty(const yaml_node_t *);
static void		 fields(struct rd *, yaml_node_t *, const char *,
			    const struct field *);
static yaml_node_t	*get(struct rd *, yaml_node_t *, const char *,
			    yaml_node_t **);
static yaml_node_t	*key_of(struct rd *, yaml_node_t *, const char *);
static int		 get_str(struct rd *, yaml_node_t *, const char *,
			    const char *, char **, struct ist_loc *);
static int		 get_num(struct rd *, yaml_node_t *, const char *,
			    const char *, long long, long long, long long *,
			    struct ist_loc *);
static int		 get_bool(struct rd *, yaml_node_t *, const char *,
			    const char *, int *);
static int		 get_strs(struct rd *, yaml_node_t *, const char *,
			    const char *, struct ist_strs *);
static yaml_node_t	*get_map(struct rd *, yaml_node_t *, const char *,
			    const char *);
static yaml_node_t	*get_seq(struct rd *, yaml_node_t *, const char *,
			    const char *);
static size_t		 seq_len(struct rd *, yaml_node_t *, const char *);
static yaml_node_t	*seq_at(struct rd *, yaml_node_t *, size_t);
static char		*upper(struct ist_ctx *, const char *);
static char		*lower(char *);
static int		 norm_host(struct rd *, const struct ist_str *,
			    const char *, int, char **);
static int		 norm_addr(const char *, char *, size_t, int *);
static int		 abs_path(struct rd *, yaml_node_t *, const char *,
			    const char *, char **);
static void		 document(struct rd *, yaml_node_t *, int,
			    const char *);
static void		 resource(struct rd *, yaml_node_t *, const char *,
			    yaml_node_t *);
static void		 read_gateway(struct rd *, yaml_node_t *);
static void		 read_server(struct rd *, yaml_node_t *, const char *,
			    struct ist_server *);
static void		 read_server_tls(struct rd *, yaml_node_t *,
			    const char *, struct ist_server *, const char *,
			    int);
static void		 read_se(struct rd *, yaml_node_t *);
static void		 read_seport(struct rd *, yaml_node_t *, const char *,
			    struct ist_seport *);
static void		 read_endpoint(struct rd *, yaml_node_t *,
			    const char *, struct ist_endpoint *);
static void		 read_vs(struct rd *, yaml_node_t *);
static void		 read_route(struct rd *, yaml_node_t *, const char *,
			    struct ist_route *);
static void		 read_match(struct rd *, yaml_node_t *, const char *,
			    int, struct ist_match *);
static int		 read_strmatch(struct rd *, yaml_node_t *,
			    const char *, struct ist_strmatch *);
static void		 read_dest(struct rd *, yaml_node_t *, const char *,
			    struct ist_dest *);
static int		 duration(const char *, long long *);
static void		 read_dr(struct rd *, yaml_node_t *);
static void		 read_lb(struct rd *, yaml_node_t *, const char *);
static void		 read_ctls(struct rd *, yaml_node_t *, const char *,
			    struct ist_ctls *);
static int		 path_ok(const char *);

static const char *const kind_names[IK_NKINDS] = {
	"Gateway", "ServiceEntry", "VirtualService", "DestinationRule"
};

static const char *const api_versions[] = {
	"networking.istio.io/v1",
	"networking.istio.io/v1beta1",
	"networking.istio.io/v1alpha3",
};

const char *
ist_kind_name(int kind)
{
	return kind >= 0 && kind < IK_NKINDS ? kind_names[kind] : "?";
}

/* ---- nodes and messages ------------------------------------------------ */

/* A field's path for messages; a path too long is cut, no more. */
static char *
pathf(char *buf, size_t len, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
	return buf;
}

/* A node by its index, counted against the document's budget. */
static yaml_node_t *
nd(struct rd *rd, int idx)
{
	if (rd->over)
		return NULL;
	if (++rd->visits > VISITS_MAX) {
		rd->over = 1;
		ist_diag(rd->ctx, IST_ERROR, NULL, 0, &rd->doc_loc,
		    "document too large: more than %d nodes visited, aliases "
		    "included", VISITS_MAX);
		return NULL;
	}
	return yaml_document_get_node(rd->doc, idx);
}

static struct ist_loc
nloc(const struct rd *rd, const yaml_node_t *n)
{
	struct ist_loc	l;

	l.file = rd->file;
	l.line = n != NULL ? (int)n->start_mark.line + 1 : 1;
	l.col = n != NULL ? (int)n->start_mark.column + 1 : 1;
	return l;
}

static void
rerr(struct rd *rd, const yaml_node_t *n, const char *fmt, ...)
{
	struct ist_loc	 l = nloc(rd, n);
	va_list		 ap;
	char		 buf[1024];

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	ist_diag(rd->ctx, IST_ERROR, rd->res, rd->part, &l, "%s", buf);
}

static void
rwarn(struct rd *rd, const yaml_node_t *n, const char *field,
    const char *instead)
{
	struct ist_loc	l = nloc(rd, n);

	ist_unsupported(rd->ctx, rd->res, rd->part, &l, field, instead);
}

/* A scalar's text; NULL for anything else or text with a NUL in it. */
static const char *
sval(const yaml_node_t *n)
{
	if (n == NULL || n->type != YAML_SCALAR_NODE)
		return NULL;
	if (strlen((const char *)n->data.scalar.value) !=
	    n->data.scalar.length)
		return NULL;
	return (const char *)n->data.scalar.value;
}

/* Plain "", "~" and "null": YAML's null, as Kubernetes reads it. */
static int
is_null(const yaml_node_t *n)
{
	const char	*s;

	if (n == NULL)
		return 1;
	if (n->type != YAML_SCALAR_NODE ||
	    n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return 0;
	s = (const char *)n->data.scalar.value;
	return s[0] == '\0' || strcmp(s, "~") == 0 ||
	    strcmp(s, "null") == 0 || strcmp(s, "Null") == 0 ||
	    strcmp(s, "NULL") == 0;
}

/* Null, [] or {}: a field that says nothing. */
static int
is_empty(const yaml_node_t *n)
{
	if (is_null(n))
		return 1;
	if (n->type == YAML_SEQUENCE_NODE)
		return n->data.sequence.items.top ==
		    n->data.sequence.items.start;
	if (n->type == YAML_MAPPING_NODE)
		return n->data.mapping.pairs.top == n->data.mapping.pairs.start;
	return 0;
}

/*
 * Every key of a mapping against a table: keys that are not strings,
 * merge keys and keys given twice are errors; fields egressd does not
 * carry over are reported unless empty; unknown ones are warned about.
 */
static void
fields(struct rd *rd, yaml_node_t *map, const char *path,
    const struct field *tab)
{
	yaml_node_pair_t	*p, *q;
	yaml_node_t		*k, *v, *k2;
	const struct field	*f;
	const char		*key, *key2;
	char			 fpath[PATH_LEN];
	size_t			 n;

	if (map == NULL || map->type != YAML_MAPPING_NODE)
		return;
	n = (size_t)(map->data.mapping.pairs.top -
	    map->data.mapping.pairs.start);
	if (n > LIST_MAX) {
		rerr(rd, map, "%s: more than %d fields", path, LIST_MAX);
		return;
	}
	for (p = map->data.mapping.pairs.start;
	    p < map->data.mapping.pairs.top; p++) {
		if ((k = nd(rd, p->key)) == NULL ||
		    (v = nd(rd, p->value)) == NULL)
			return;
		if ((key = sval(k)) == NULL) {
			rerr(rd, k, "%s: a key that is not a string", path);
			continue;
		}
		pathf(fpath, sizeof(fpath), "%s%s%s", path,
		    path[0] != '\0' ? "." : "", key);
		if (strcmp(key, "<<") == 0) {
			rerr(rd, k, "%s: YAML merge keys are not supported",
			    fpath);
			continue;
		}
		for (q = map->data.mapping.pairs.start; q < p; q++)
			if ((k2 = nd(rd, q->key)) != NULL &&
			    (key2 = sval(k2)) != NULL &&
			    strcmp(key, key2) == 0)
				break;
		if (q < p) {
			rerr(rd, k, "%s: given twice", fpath);
			continue;
		}
		for (f = tab; f->key != NULL; f++)
			if (strcmp(f->key, key) == 0)
				break;
		if (f->key == NULL) {
			if (!is_empty(v))
				rwarn(rd, k, fpath, "unknown field, ignored");
			continue;
		}
		if (is_empty(v))
			continue;
		if (f->how == F_WARN)
			rwarn(rd, k, fpath, f->why);
		else if (f->how == F_ERR)
			rerr(rd, k, "%s: not supported: %s", fpath, f->why);
	}
}

/* The value of key in map, NULL when absent or null; *kp the key. */
static yaml_node_t *
get(struct rd *rd, yaml_node_t *map, const char *key, yaml_node_t **kp)
{
	yaml_node_pair_t	*p;
	yaml_node_t		*k, *v;
	const char		*s;

	if (kp != NULL)
		*kp = NULL;
	if (map == NULL || map->type != YAML_MAPPING_NODE)
		return NULL;
	for (p = map->data.mapping.pairs.start;
	    p < map->data.mapping.pairs.top; p++) {
		if ((k = nd(rd, p->key)) == NULL)
			return NULL;
		if ((s = sval(k)) == NULL || strcmp(s, key) != 0)
			continue;
		if (kp != NULL)
			*kp = k;
		if ((v = nd(rd, p->value)) == NULL || is_null(v))
			return NULL;
		return v;
	}
	return NULL;
}

/* The key node of key in map, for messages about the field. */
static yaml_node_t *
key_of(struct rd *rd, yaml_node_t *map, const char *key)
{
	yaml_node_t	*k;

	(void)get(rd, map, key, &k);
	return k != NULL ? k : map;
}

/* 1 with *out set, 0 when absent, -1 after an error. */
static int
get_str(struct rd *rd, yaml_node_t *map, const char *key, const char *path,
    char **out, struct ist_loc *loc)
{
	yaml_node_t	*v;
	const char	*s, *p;

	*out = NULL;
	if ((v = get(rd, map, key, NULL)) == NULL)
		return 0;
	if ((s = sval(v)) == NULL) {
		rerr(rd, v, "%s.%s: expected a string", path, key);
		return -1;
	}
	for (p = s; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f) {
			rerr(rd, v, "%s.%s: a control character in the string",
			    path, key);
			return -1;
		}
	*out = ist_strdup(rd->ctx, s);
	if (loc != NULL)
		*loc = nloc(rd, v);
	return 1;
}

static int
get_num(struct rd *rd, yaml_node_t *map, const char *key, const char *path,
    long long min, long long max, long long *out, struct ist_loc *loc)
{
	yaml_node_t	*v;
	const char	*s, *errstr = NULL;
	long long	 n = 0;

	if ((v = get(rd, map, key, NULL)) == NULL)
		return 0;
	s = sval(v);
	if (s != NULL && v->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
	    s[0] != '\0' && strspn(s, "0123456789") == strlen(s))
		n = strtonum(s, min, max, &errstr);
	else
		errstr = "not a number";
	if (errstr != NULL) {
		rerr(rd, v, "%s.%s: expected a number from %lld to %lld", path,
		    key, min, max);
		return -1;
	}
	*out = n;
	if (loc != NULL)
		*loc = nloc(rd, v);
	return 1;
}

static int
get_bool(struct rd *rd, yaml_node_t *map, const char *key, const char *path,
    int *out)
{
	yaml_node_t	*v;
	const char	*s;

	*out = 0;
	if ((v = get(rd, map, key, NULL)) == NULL)
		return 0;
	s = sval(v);
	if (s != NULL && v->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
		if (strcmp(s, "true") == 0 || strcmp(s, "True") == 0 ||
		    strcmp(s, "TRUE") == 0) {
			*out = 1;
			return 1;
		}
		if (strcmp(s, "false") == 0 || strcmp(s, "False") == 0 ||
		    strcmp(s, "FALSE") == 0)
			return 1;
	}
	rerr(rd, v, "%s.%s: expected true or false", path, key);
	return -1;
}

static size_t
seq_len(struct rd *rd, yaml_node_t *seq, const char *path)
{
	size_t	n;

	if (seq == NULL || seq->type != YAML_SEQUENCE_NODE)
		return 0;
	n = (size_t)(seq->data.sequence.items.top -
	    seq->data.sequence.items.start);
	if (n > LIST_MAX) {
		rerr(rd, seq, "%s: more than %d items", path, LIST_MAX);
		return 0;
	}
	return n;
}

static yaml_node_t *
seq_at(struct rd *rd, yaml_node_t *seq, size_t i)
{
	return nd(rd, seq->data.sequence.items.start[i]);
}

/* A list of strings; nulls in it are errors. */
static int
get_strs(struct rd *rd, yaml_node_t *map, const char *key, const char *path,
    struct ist_strs *out)
{
	yaml_node_t	*v, *it;
	const char	*s, *p;
	char		 ipath[PATH_LEN];
	size_t		 i, n;

	memset(out, 0, sizeof(*out));
	if ((v = get_seq(rd, map, key, path)) == NULL)
		return 0;
	out->loc = nloc(rd, v);
	pathf(ipath, sizeof(ipath), "%s.%s", path, key);
	n = seq_len(rd, v, ipath);
	out->v = ist_alloc(rd->ctx, (n + 1) * sizeof(*out->v));
	for (i = 0; i < n; i++) {
		if ((it = seq_at(rd, v, i)) == NULL)
			return -1;
		if ((s = sval(it)) == NULL || is_null(it)) {
			rerr(rd, it, "%s[%zu]: expected a string", ipath, i);
			return -1;
		}
		for (p = s; *p != '\0'; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f) {
				rerr(rd, it, "%s[%zu]: a control character in "
				    "the string", ipath, i);
				return -1;
			}
		out->v[out->n].s = ist_strdup(rd->ctx, s);
		out->v[out->n].loc = nloc(rd, it);
		out->n++;
	}
	return 1;
}

static yaml_node_t *
get_map(struct rd *rd, yaml_node_t *map, const char *key, const char *path)
{
	yaml_node_t	*v;

	if ((v = get(rd, map, key, NULL)) == NULL)
		return NULL;
	if (v->type != YAML_MAPPING_NODE) {
		rerr(rd, v, "%s%s%s: expected a mapping", path,
		    path[0] != '\0' ? "." : "", key);
		return NULL;
	}
	return v;
}

static yaml_node_t *
get_seq(struct rd *rd, yaml_node_t *map, const char *key, const char *path)
{
	yaml_node_t	*v;

	if ((v = get(rd, map, key, NULL)) == NULL)
		return NULL;
	if (v->type != YAML_SEQUENCE_NODE) {
		rerr(rd, v, "%s%s%s: expected a list", path,
		    path[0] != '\0' ? "." : "", key);
		return NULL;
	}
	return v;
}

static char *
upper(struct ist_ctx *ctx, const char *s)
{
	char	*u = ist_strdup(ctx, s), *p;

	for (p = u; *p != '\0'; p++)
		*p = (char)toupper((unsigned char)*p);
	return u;
}

static char *
lower(char *s)
{
	char	*p;

	for (p = s; *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
	return s;
}

/* ---- values ------------------------------------------------------------ */

/* An IPv4 or IPv6 literal into its canonical text. */
static int
norm_addr(const char *s, char *out, size_t len, int *v6)
{
	struct egd_addr	a;

	if (egd_addr_parse(s, &a) == -1)
		return -1;
	egd_addr_ntop(&a, out, len);
	*v6 = a.af == AF_INET6;
	return 0;
}

/*
 * A host as egressd.conf(5) takes it: a DNS name lowercased, with
 * wildcard a "*.name" pattern too, or an IPv4 or IPv6 literal in its
 * canonical text.
 */
static int
norm_host(struct rd *rd, const struct ist_str *in, const char *what,
    int wildcard, char **out)
{
	struct egd_addr	 a;
	char		 buf[EGD_HOST_MAX], tmp[EGD_HOST_MAX], lit[64];
	const char	*why = NULL, *p;
	size_t		 i, len = strlen(in->s);
	uint16_t	 port;
	int		 v6, literal;

	/* out may be &in->s: it is set only at the end. */
	if (len >= sizeof(buf))
		why = "name too long";
	else {
		for (i = 0; i <= len; i++)
			buf[i] = (char)tolower((unsigned char)in->s[i]);
		if (norm_addr(buf, lit, sizeof(lit), &v6) == 0) {
			*out = ist_strdup(rd->ctx, lit);
			return 0;
		}
		/*
		 * As src/parse.y judges a host: a name whose last label is
		 * numeric ("1.2.3") is refused, since resolvers and origins
		 * read those in different ways.
		 */
		if (host_valid(buf, wildcard, &why) == 0) {
			p = strncmp(buf, "*.", 2) == 0 ? buf + 2 : buf;
			if (authority_parse(p, strlen(p), 80, tmp, sizeof(tmp),
			    &port, &a, &literal, &why) == 0 && literal)
				why = "a numeric name that is not an address";
			else if (why == NULL) {
				*out = ist_strdup(rd->ctx, buf);
				return 0;
			}
		}
	}
	ist_diag(rd->ctx, IST_ERROR, rd->res, rd->part, &in->loc,
	    "%s: invalid host \"%s\": %s", what, in->s, why);
	*out = NULL;
	return -1;
}

/* An absolute path of a certificate, key or CA bundle. */
static int
abs_path(struct rd *rd, yaml_node_t *map, const char *key, const char *path,
    char **out)
{
	struct ist_loc	l;
	int		r;

	if ((r = get_str(rd, map, key, path, out, &l)) != 1)
		return r;
	if ((*out)[0] != '/' || strlen(*out) >= EGD_PATH_MAX) {
		ist_diag(rd->ctx, IST_ERROR, rd->res, rd->part, &l,
		    "%s.%s: \"%s\": egressd takes an absolute path of at most "
		    "%d bytes", path, key, *out, EGD_PATH_MAX - 1);
		*out = NULL;
		return -1;
	}
	return 1;
}

/* A request path as egressd.conf(5) takes it. */
static int
path_ok(const char *p)
{
	const unsigned char	*u;

	if (p[0] != '/' || strlen(p) > URIPATH_MAX)
		return 0;
	for (u = (const unsigned char *)p; *u != '\0'; u++)
		if (*u <= 0x20 || *u >= 0x7f)
			return 0;
	return 1;
}

/*
 * A duration as Kubernetes writes them ("10s", "1.5s", "1m30s",
 * "500ms"), into nanoseconds; at most a day.
 */
static int
duration(const char *s, long long *ns)
{
	static const struct {
		const char	*unit;
		long long	 mul;
	} units[] = {
		{ "ns", 1LL }, { "us", 1000LL }, { "ms", 1000000LL },
		{ "s", 1000000000LL }, { "m", 60000000000LL },
		{ "h", 3600000000000LL },
	};
	long long	 total = 0, ip, fp, fdiv, mul, frac;
	size_t		 i, ulen;

	if (*s == '\0')
		return -1;
	while (*s != '\0') {
		if (!isdigit((unsigned char)*s) && *s != '.')
			return -1;
		for (ip = 0; isdigit((unsigned char)*s); s++) {
			if (ip > 100000000LL)
				return -1;
			ip = ip * 10 + (*s - '0');
		}
		fp = 0;
		fdiv = 1;
		if (*s == '.') {
			for (s++; isdigit((unsigned char)*s); s++)
				if (fdiv < 1000000000LL) {
					fp = fp * 10 + (*s - '0');
					fdiv *= 10;
				} else if (*s != '0')
					return -1;	/* below a ns */
		}
		mul = 0;
		ulen = 0;
		for (i = 0; i < nitems(units); i++) {
			ulen = strlen(units[i].unit);
			if (strncmp(s, units[i].unit, ulen) == 0 &&
			    (s[ulen] == '\0' || isdigit((unsigned char)s[ulen]) ||
			    s[ulen] == '.')) {
				mul = units[i].mul;
				break;
			}
		}
		if (mul == 0)
			return -1;
		s += ulen;
		if (ip > 86400LL * 1000000000LL / mul)
			return -1;
		if (mul % fdiv == 0)
			frac = fp * (mul / fdiv);
		else if ((fp * mul) % fdiv != 0)
			return -1;	/* below a ns */
		else
			frac = fp * mul / fdiv;
		total += ip * mul + frac;
		if (total > 86400LL * 1000000000LL)
			return -1;
	}
	*ns = total;
	return 0;
}

/* ---- documents --------------------------------------------------------- */

static const struct field list_fields[] = {
	{ "apiVersion",		F_USE,		NULL },
	{ "items",		F_USE,		NULL },
	{ "kind",		F_USE,		NULL },
	{ "metadata",		F_QUIET,	NULL },
	{ NULL,			0,		NULL }
};

/* What Kubernetes keeps of an object: nothing to egressd but its name. */
static const struct field meta_fields[] = {
	{ "annotations",		F_QUIET,	NULL },
	{ "creationTimestamp",		F_QUIET,	NULL },
	{ "deletionGracePeriodSeconds",	F_QUIET,	NULL },
	{ "deletionTimestamp",		F_QUIET,	NULL },
	{ "finalizers",			F_QUIET,	NULL },
	{ "generateName",		F_QUIET,	NULL },
	{ "generation",			F_QUIET,	NULL },
	{ "labels",			F_QUIET,	NULL },
	{ "managedFields",		F_QUIET,	NULL },
	{ "name",			F_USE,		NULL },
	{ "namespace",			F_USE,		NULL },
	{ "ownerReferences",		F_QUIET,	NULL },
	{ "resourceVersion",		F_QUIET,	NULL },
	{ "selfLink",			F_QUIET,	NULL },
	{ "uid",			F_QUIET,	NULL },
	{ NULL,				0,		NULL }
};

static const struct field top_fields[] = {
	{ "apiVersion",		F_USE,		NULL },
	{ "kind",		F_USE,		NULL },
	{ "metadata",		F_USE,		NULL },
	{ "spec",		F_USE,		NULL },
	{ "status",		F_QUIET,	NULL },
	{ NULL,			0,		NULL }
};

/*
 * One document, or one item of a List: a kubectl "kind: List" (items
 * carry their own kind) or an API list such as GatewayList (items may
 * not: deflt is the kind they are of).
 */
static void
document(struct rd *rd, yaml_node_t *root, int depth, const char *deflt)
{
	yaml_node_t	*kn, *vn, *items, *it;
	const char	*kind, *api;
	size_t		 i, n, klen;
	int		 k;

	if (root == NULL || is_null(root))
		return;
	rd->res = NULL;
	rd->part = 0;
	if (root->type != YAML_MAPPING_NODE) {
		rerr(rd, root, "a document must be a mapping: a Kubernetes "
		    "resource or a List of them");
		return;
	}
	vn = get(rd, root, "kind", &kn);
	if (vn == NULL && deflt != NULL)
		kind = deflt;
	else if ((kind = sval(vn)) == NULL) {
		rerr(rd, vn != NULL ? vn : root, "kind: %s", vn == NULL ?
		    "missing" : "expected a string");
		return;
	}
	vn = get(rd, root, "apiVersion", NULL);
	api = vn != NULL ? sval(vn) : NULL;
	if (vn != NULL && api == NULL) {
		rerr(rd, vn, "apiVersion: expected a string");
		return;
	}

	/* "List", or "GatewayList" and the like. */
	klen = strlen(kind);
	k = -1;
	if (klen > 4 && strcmp(kind + klen - 4, "List") == 0)
		for (k = 0; k < IK_NKINDS; k++)
			if (strlen(kind_names[k]) == klen - 4 &&
			    strncmp(kind, kind_names[k], klen - 4) == 0)
				break;
	if (strcmp(kind, "List") != 0 && (k == -1 || k == IK_NKINDS)) {
		resource(rd, root, kind, vn);
		return;
	}
	if (depth > 0) {
		rerr(rd, root, "a %s inside a List", kind);
		return;
	}
	if (api != NULL && k == -1 && strcmp(api, "v1") != 0) {
		rerr(rd, vn, "apiVersion %s: a List is v1", api);
		return;
	}
	if (api != NULL && k != -1) {
		for (i = 0; i < nitems(api_versions); i++)
			if (strcmp(api, api_versions[i]) == 0)
				break;
		if (i == nitems(api_versions)) {
			rerr(rd, vn, "apiVersion %s: not an Istio networking "
			    "version (networking.istio.io/v1, v1beta1 or "
			    "v1alpha3)", api);
			return;
		}
	}
	fields(rd, root, "", list_fields);
	if ((items = get_seq(rd, root, "items", "")) == NULL)
		return;
	n = seq_len(rd, items, "items");
	for (i = 0; i < n && !rd->over; i++)
		if ((it = seq_at(rd, items, i)) != NULL)
			document(rd, it, depth + 1, k != -1 ? kind_names[k] :
			    NULL);
}

static void
resource(struct rd *rd, yaml_node_t *root, const char *kind,
    yaml_node_t *apin)
{
	struct ist_ctx	*ctx = rd->ctx;
	struct ist_res	*res;
	yaml_node_t	*meta, *spec, *kn;
	const char	*api = apin != NULL ? sval(apin) : NULL;
	char		*name = NULL, *ns = NULL;
	size_t		 i;
	int		 k;

	for (k = 0; k < IK_NKINDS; k++)
		if (strcmp(kind, kind_names[k]) == 0)
			break;
	if (k == IK_NKINDS) {
		get(rd, root, "kind", &kn);
		rerr(rd, kn != NULL ? kn : root, "kind %s: not an Istio egress "
		    "resource (Gateway, ServiceEntry, VirtualService or "
		    "DestinationRule)", kind);
		return;
	}
	if (api != NULL) {
		for (i = 0; i < nitems(api_versions); i++)
			if (strcmp(api, api_versions[i]) == 0)
				break;
		if (i == nitems(api_versions)) {
			rerr(rd, apin, "apiVersion %s: not an Istio networking "
			    "version (networking.istio.io/v1, v1beta1 or "
			    "v1alpha3)", api);
			return;
		}
	}

	res = ist_alloc(ctx, sizeof(*res));
	res->kind = k;
	res->loc = nloc(rd, root);
	res->label = ist_strdup(ctx, kind);
	rd->res = res;
	rd->part = 0;

	fields(rd, root, "", top_fields);
	meta = get_map(rd, root, "metadata", "");
	fields(rd, meta, "metadata", meta_fields);
	if (get_str(rd, meta, "name", "metadata", &name, NULL) == 0)
		rerr(rd, meta != NULL ? meta : root, "metadata.name: missing");
	if (name == NULL)
		return;
	if (get_str(rd, meta, "namespace", "metadata", &ns, NULL) == -1)
		return;
	res->name = name;
	res->ns = ns != NULL ? ns : ist_strdup(ctx, "");
	res->label = ist_printf(ctx, "%s/%s", kind, name);
	if ((spec = get_map(rd, root, "spec", "")) == NULL) {
		rerr(rd, root, "spec: missing");
		return;
	}

	switch (k) {
	case IK_GATEWAY:
		read_gateway(rd, spec);
		break;
	case IK_SERVICEENTRY:
		read_se(rd, spec);
		break;
	case IK_VIRTUALSERVICE:
		read_vs(rd, spec);
		break;
	case IK_DESTINATIONRULE:
		read_dr(rd, spec);
		break;
	}
	rd->part = 0;
	if (rd->over)
		return;		/* said: half a resource is none */
	if (ctx->nres == ctx->maxres)
		ctx->res = ist_grow(ctx, ctx->res, &ctx->maxres,
		    sizeof(*ctx->res));
	ctx->res[ctx->nres++] = res;
}

/*
 * One file's bytes: every document of the stream.  A YAML error ends the
 * file (libyaml cannot go on after one); the documents before it count.
 */
void
ist_read(struct ist_ctx *ctx, int file, const char *buf, size_t len)
{
	yaml_parser_t	 parser;
	yaml_document_t	 doc;
	yaml_node_t	*root;
	struct rd	 rd;
	struct ist_loc	 l;

	if (!yaml_parser_initialize(&parser)) {
		ist_diag(ctx, IST_ERROR, NULL, 0, NULL, "out of memory");
		return;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf,
	    len);
	for (;;) {
		if (!yaml_parser_load(&parser, &doc)) {
			l.file = file;
			l.line = (int)parser.problem_mark.line + 1;
			l.col = (int)parser.problem_mark.column + 1;
			if (parser.context != NULL)
				ist_diag(ctx, IST_ERROR, NULL, 0, &l, "YAML: "
				    "%s %s", parser.problem != NULL ?
				    parser.problem : "error", parser.context);
			else
				ist_diag(ctx, IST_ERROR, NULL, 0, &l, "YAML: "
				    "%s", parser.problem != NULL ?
				    parser.problem : "error");
			break;
		}
		if ((root = yaml_document_get_root_node(&doc)) == NULL) {
			yaml_document_delete(&doc);
			break;
		}
		memset(&rd, 0, sizeof(rd));
		rd.ctx = ctx;
		rd.doc = &doc;
		rd.file = file;
		rd.doc_loc = nloc(&rd, root);
		document(&rd, root, 0, NULL);
		yaml_document_delete(&doc);
	}
	yaml_parser_delete(&parser);
}

/* ---- Gateway ----------------------------------------------------------- */

static const struct field gw_fields[] = {
	/* The pods the gateway runs in: here, this host. */
	{ "selector",		F_QUIET,	NULL },
	{ "servers",		F_USE,		NULL },
	{ NULL,			0,		NULL }
};

static const struct field server_fields[] = {
	{ "bind",		F_USE,		NULL },
	{ "defaultEndpoint",	F_WARN,		"egressd relays to the "
	    "destination a route or the request names" },
	{ "hosts",		F_USE,		NULL },
	{ "name",		F_QUIET,	NULL },
	{ "port",		F_USE,		NULL },
	{ "tls",		F_USE,		NULL },
	{ NULL,			0,		NULL }
};

static const struct field port_fields[] = {
	{ "name",		F_QUIET,	NULL },
	{ "number",		F_USE,		NULL },
	{ "protocol",		F_USE,		NULL },
	{ "targetPort",		F_WARN,		"egressd listens on number" },
	{ NULL,			0,		NULL }
};

static const struct field stls_fields[] = {
	{ "caCertCredentialName", F_ERR,	"a Kubernetes secret egressd "
	    "cannot read; give the file in caCertificates instead" },
	{ "caCertificates",	F_USE,		NULL },
	{ "caCrl",		F_WARN,		"client certificates are not "
	    "checked against a revocation list" },
	{ "cipherSuites",	F_USE,		NULL },
	{ "credentialName",	F_ERR,		"a Kubernetes secret egressd "
	    "cannot read; give serverCertificate and privateKey files "
	    "(and caCertificates for MUTUAL) instead" },
	{ "credentialNames",	F_ERR,		"Kubernetes secrets egressd "
	    "cannot read; give serverCertificate and privateKey files "
	    "instead" },
	{ "httpsRedirect",	F_USE,		NULL },
	{ "insecureSkipVerify",	F_USE,		NULL },
	{ "maxProtocolVersion",	F_USE,		NULL },
	{ "minProtocolVersion",	F_USE,		NULL },
	{ "mode",		F_USE,		NULL },
	{ "privateKey",		F_USE,		NULL },
	{ "serverCertificate",	F_USE,		NULL },
	{ "subjectAltNames",	F_WARN,		"clients are not checked by "
	    "name here; use from identity in services and routes" },
	{ "tlsCertificates",	F_ERR,		"egressd presents one "
	    "certificate per listener; give serverCertificate and "
	    "privateKey" },
	{ "verifyCertificateHash", F_WARN,	"client certificates are "
	    "checked against caCertificates only" },
	{ "verifyCertificateSpki", F_WARN,	"client certificates are "
	    "checked against caCertificates only" },
	{ NULL,			0,		NULL }
};

static void
read_gateway(struct rd *rd, yaml_node_t *spec)
{
	struct ist_gateway	*gw = &rd->res->u.gw;
	yaml_node_t		*servers, *s;
	char			 path[PATH_LEN];
	size_t			 i, n;

	fields(rd, spec, "spec", gw_fields);
	servers = get_seq(rd, spec, "servers", "spec");
	n = seq_len(rd, servers, "spec.servers");
	if (n == 0) {
		rerr(rd, servers != NULL ? servers : spec, "spec.servers: none: "
		    "egressd needs a port to listen on");
		return;
	}
	gw->servers = ist_alloc(rd->ctx, n * sizeof(*gw->servers));
	for (i = 0; i < n; i++) {
		if ((s = seq_at(rd, servers, i)) == NULL)
			return;
		pathf(path, sizeof(path), "spec.servers[%zu]", i);
		if (s->type != YAML_MAPPING_NODE) {
			rerr(rd, s, "%s: expected a mapping", path);
			continue;
		}
		gw->servers[gw->nservers].idx = (int)i;
		read_server(rd, s, path, &gw->servers[gw->nservers]);
		gw->nservers++;
	}
}

static void
read_server(struct rd *rd, yaml_node_t *s, const char *path,
    struct ist_server *srv)
{
	yaml_node_t	*port, *tls;
	struct ist_loc	 ploc;
	char		 ppath[PATH_LEN], lit[64], *proto = NULL, *bind;
	const char	*slash;
	long long	 num;
	size_t		 i;
	int		 v6;

	srv->loc = nloc(rd, s);
	srv->minver = 12;
	fields(rd, s, path, server_fields);

	pathf(ppath, sizeof(ppath), "%s.port", path);
	if ((port = get_map(rd, s, "port", path)) == NULL) {
		rerr(rd, s, "%s: missing", ppath);
		return;
	}
	fields(rd, port, ppath, port_fields);
	if (get_num(rd, port, "number", ppath, 1, 65535, &num, NULL) == 0)
		rerr(rd, port, "%s.number: missing", ppath);
	srv->port = (unsigned int)num;
	if (get_str(rd, port, "protocol", ppath, &proto, &ploc) == 0)
		rerr(rd, port, "%s.protocol: missing", ppath);
	if (proto == NULL)
		return;
	proto = upper(rd->ctx, proto);

	if (get_str(rd, s, "bind", path, &bind, &ploc) == 1) {
		if (norm_addr(bind, lit, sizeof(lit), &v6) == -1)
			ist_diag(rd->ctx, IST_ERROR, rd->res, rd->part, &ploc,
			    "%s.bind: \"%s\": egressd listens on an IPv4 or "
			    "IPv6 address", path, bind);
		else
			srv->bind = ist_strdup(rd->ctx, lit);
	}

	if (get_strs(rd, s, "hosts", path, &srv->hosts) == 0)
		rerr(rd, s, "%s.hosts: missing", path);
	for (i = 0; i < srv->hosts.n; i++) {
		/* "namespace/host": the namespaces are Istio's, not ours. */
		if ((slash = strchr(srv->hosts.v[i].s, '/')) != NULL)
			srv->hosts.v[i].s = ist_strdup(rd->ctx, slash + 1);
		if (strcmp(srv->hosts.v[i].s, "*") == 0)
			continue;
		pathf(ppath, sizeof(ppath), "%s.hosts[%zu]", path, i);
		norm_host(rd, &srv->hosts.v[i], ppath, 1,
		    &srv->hosts.v[i].s);
	}

	tls = get_map(rd, s, "tls", path);
	if (strcmp(proto, "HTTP") == 0 || strcmp(proto, "HTTP2") == 0 ||
	    strcmp(proto, "GRPC") == 0 || strcmp(proto, "GRPC-WEB") == 0) {
		srv->proto = LP_HTTP;
		if (strcmp(proto, "HTTP") != 0) {
			pathf(ppath, sizeof(ppath), "%s.port.protocol %s",
			    path, proto);
			rwarn(rd, port, ppath, "the listener speaks HTTP/1.1");
		}
		read_server_tls(rd, tls, path, srv, proto, 1);
	} else if (strcmp(proto, "HTTPS") == 0 || strcmp(proto, "TLS") == 0) {
		if (tls == NULL) {
			rerr(rd, s, "%s.tls: missing: a %s server needs a TLS "
			    "mode (PASSTHROUGH, SIMPLE or MUTUAL)", path, proto);
			return;
		}
		read_server_tls(rd, tls, path, srv, proto, 0);
	} else
		ist_diag(rd->ctx, IST_ERROR, rd->res, rd->part, &ploc,
		    "%s.port.protocol %s: egressd listens for HTTP, HTTPS "
		    "and TLS only", path, proto);
}

static void
read_server_tls(struct rd *rd, yaml_node_t *tls, const char *path,
    struct ist_server *srv, const char *proto, int http)
{
	struct ist_strs	 ciphers;
	struct ist_loc	 mloc;
	char		 tpath[PATH_LEN], fpath[PATH_LEN], *mode = NULL,
			*v = NULL, *cert, *key, *ca;
	size_t		 i, len;
	int		 b;

	if (tls == NULL)
		return;
	pathf(tpath, sizeof(tpath), "%s.tls", path);
	fields(rd, tls, tpath, stls_fields);
	pathf(fpath, sizeof(fpath), "%s.httpsRedirect", tpath);
	if (get_bool(rd, tls, "httpsRedirect", tpath, &b) == 1 && b)
		rwarn(rd, key_of(rd, tls, "httpsRedirect"), fpath, "egressd "
		    "answers the request; it does not redirect it to https");
	pathf(fpath, sizeof(fpath), "%s.insecureSkipVerify", tpath);
	if (get_bool(rd, tls, "insecureSkipVerify", tpath, &b) == 1 && b)
		rwarn(rd, key_of(rd, tls, "insecureSkipVerify"), fpath,
		    "client certificates are verified against caCertificates");
	if (get_str(rd, tls, "mode", tpath, &mode, &mloc) == -1)
		return;
	if (http) {
		pathf(fpath, sizeof(fpath), "%s.mode", tpath);
		if (mode != NULL)
			rwarn(rd, key_of(rd, tls, "mode"), fpath, "ignored on "
			    "an HTTP server, as Istio does");
		return;
	}
	mode = mode != NULL ? upper(rd->ctx, mode) : "PASSTHROUGH";
	abs_path(rd, tls, "serverCertificate", tpath, &cert);
	abs_path(rd, tls, "privateKey", tpath, &key);
	abs_path(rd, tls, "caCertificates", tpath, &ca);

	if (strcmp(mode, "PASSTHROUGH") == 0) {
		srv->proto = LP_TLS;
		if (cert != NULL || key != NULL || ca != NULL)
			rwarn(rd, key_of(rd, tls, cert != NULL ?
			    "serverCertificate" : key != NULL ? "privateKey" :
			    "caCertificates"), tpath, "certificates are ignored "
			    "with PASSTHROUGH: the client's TLS goes through");
		return;
	}
	if (strcmp(mode, "ISTIO_MUTUAL") == 0) {
		ist_diag(rd->ctx, IST_ERROR, rd->res, rd->part, &mloc,
		    "%s.mode ISTIO_MUTUAL: not supported: the mesh's workload "
		    "certificates are not files egressd can read; use mode "
		    "MUTUAL with serverCertificate, privateKey and "
		    "caCertificates files, or protocol HTTP without tls",
		    tpath);
		return;
	}
	if (strcmp(mode, "AUTO_PASSTHROUGH") == 0) {
		ist_diag(rd->ctx, IST_ERROR, rd->res, rd->part, &mloc,
		    "%s.mode AUTO_PASSTHROUGH: not supported: it routes by the "
		    "mesh's own server names; use PASSTHROUGH, which egressd "
		    "routes by the destination's name", tpath);
		return;
	}
	if (strcmp(mode, "SIMPLE") != 0 && strcmp(mode, "MUTUAL") != 0 &&
	    strcmp(mode, "OPTIONAL_MUTUAL") != 0) {
		ist_diag(rd->ctx, IST_ERROR, rd->res, rd->part, &mloc,
		    "%s.mode %s: not a TLS mode of a %s server (PASSTHROUGH, "
		    "SIMPLE, MUTUAL or OPTIONAL_MUTUAL)", tpath, mode, proto);
		return;
	}
	srv->proto = LP_HTTPS;
	if (get(rd, tls, "credentialName", NULL) != NULL ||
	    get(rd, tls, "credentialNames", NULL) != NULL)
		return;		/* said by fields() */
	if (cert == NULL || key == NULL)
		ist_diag(rd->ctx, IST_ERROR, rd->res, rd->part, &mloc,
		    "%s.mode %s: needs serverCertificate and privateKey files",
		    tpath, mode);
	srv->cert = cert;
	srv->key = key;
	if (strcmp(mode, "SIMPLE") != 0) {
		if (ca == NULL)
			ist_diag(rd->ctx, IST_ERROR, rd->res, rd->part, &mloc,
			    "%s.mode %s: needs a caCertificates file", tpath,
			    mode);
		srv->clientca = ca;
		srv->client_optional = strcmp(mode, "OPTIONAL_MUTUAL") == 0;
	} else if (ca != NULL) {
		pathf(fpath, sizeof(fpath), "%s.caCertificates", tpath);
		rwarn(rd, key_of(rd, tls, "caCertificates"), fpath, "with "
		    "SIMPLE, clients present no certificate");
	}

	if (get_str(rd, tls, "minProtocolVersion", tpath, &v, &mloc) == 1) {
		v = upper(rd->ctx, v);
		if (strcmp(v, "TLSV1_3") == 0)
			srv->minver = 13;
		else if (strcmp(v, "TLSV1_0") == 0 ||
		    strcmp(v, "TLSV1_1") == 0)
			rwarn(rd, key_of(rd, tls, "minProtocolVersion"),
			    ist_printf(rd->ctx, "%s.minProtocolVersion %s",
			    tpath, v),
			    "egressd accepts TLS 1.2 at least");
		else if (strcmp(v, "TLSV1_2") != 0 &&
		    strcmp(v, "TLS_AUTO") != 0)
			ist_diag(rd->ctx, IST_ERROR, rd->res, rd->part, &mloc,
			    "%s.minProtocolVersion %s: not a TLS version",
			    tpath, v);
	}
	if (get_str(rd, tls, "maxProtocolVersion", tpath, &v, &mloc) == 1) {
		v = upper(rd->ctx, v);
		if (strcmp(v, "TLSV1_3") != 0 && strcmp(v, "TLS_AUTO") != 0)
			rwarn(rd, key_of(rd, tls, "maxProtocolVersion"),
			    ist_printf(rd->ctx, "%s.maxProtocolVersion %s",
			    tpath, v),
			    "egressd accepts up to TLS 1.3");
	}
	if (get_strs(rd, tls, "cipherSuites", tpath, &ciphers) == 1 &&
	    ciphers.n > 0) {
		for (i = 0, len = 0; i < ciphers.n; i++) {
			if (ciphers.v[i].s[0] == '\0' ||
			    strpbrk(ciphers.v[i].s, " :") != NULL) {
				ist_diag(rd->ctx, IST_ERROR, rd->res, rd->part,
				    &ciphers.v[i].loc, "%s.cipherSuites[%zu]: "
				    "\"%s\": not a cipher name", tpath, i,
				    ciphers.v[i].s);
				return;
			}
			len += strlen(ciphers.v[i].s) + 1;
		}
		if (len >= EGD_CIPHERS_MAX) {
			ist_diag(rd->ctx, IST_ERROR, rd->res, rd->part,
			    &ciphers.loc, "%s.cipherSuites: longer than %d "
			    "bytes", tpath, EGD_CIPHERS_MAX - 1);
			return;
		}
		srv->ciphers = ist_alloc(rd->ctx, len);
		for (i = 0; i < ciphers.n; i++) {
			if (i > 0)
				strlcat(srv->ciphers, ":", len);
			strlcat(srv->ciphers, ciphers.v[i].s, len);
		}
	}
}

/* ---- ServiceEntry ------------------------------------------------------ */

static const struct field se_fields[] = {
	{ "addresses",		F_WARN,		"egressd decides by host name; "
	    "put IP literals under hosts" },
	{ "endpoints",		F_USE,		NULL },
	{ "exportTo",		F_USE,		NULL },
	{ "hosts",		F_USE,		NULL },
	{ "location",		F_USE,		NULL },
	{ "ports",		F_USE,		NULL },
	{ "resolution",		F_USE,		NULL },
	{ "subjectAltNames",	F_WARN,		"give the names in the "
	    "DestinationRule's tls.subjectAltNames" },
	{ "workloadSelector",	F_ERR,		"egressd cannot select "
	    "workloads; list their addresses as endpoints" },
	{ NULL,			0,		NULL }
};

static const struct field seport_fields[] = {
	{ "name",		F_USE,		NULL },
	{ "number",		F_USE,		NULL },
	{ "protocol",		F_USE,		NULL },
	{ "targetPort",		F_USE,		NULL },
	{ NULL,			0,		NULL }
};

static const struct field ep_fields[] = {
	{ "address",		F_USE,		NULL },
	{ "labels",		F_WARN,		"no subsets: every endpoint "
	    "serves every request" },
	{ "locality",		F_WARN,		"the endpoints are dialed in "
	    "turn, wherever they are" },
	{ "network",		F_WARN,		"the endpoints are dialed "
	    "directly" },
	{ "ports",		F_USE,		NULL },
	{ "serviceAccount",	F_WARN,		"the endpoint's identity is "
	    "not checked" },
	{ "weight",		F_WARN,		"the endpoints are dialed in "
	    "turn, without weights" },
	{ NULL,			0,		NULL }
};

/* Istio's protocols, and what egressd registers for each. */
static const struct {
	const char	*name;
	int		 proto;
	const char	*warn;		/* not carried over: why */
} se_protocols[] = {
	{ "HTTP",	SP_HTTP,	NULL },
	{ "HTTPS",	SP_HTTPS,	NULL },
	{ "TLS",	SP_TLS,		NULL },
	{ "TCP",	SP_TCP,		NULL },
	{ "MONGO",	SP_TCP,		NULL },
	{ "MYSQL",	SP_TCP,		NULL },
	{ "REDIS",	SP_TCP,		NULL },
	{ "HTTP2",	SP_TCP,		"registered as tcp: CONNECT tunnels "
	    "only, egressd speaks HTTP/1.1" },
	{ "GRPC",	SP_TCP,		"registered as tcp: CONNECT tunnels "
	    "only, egressd speaks HTTP/1.1" },
	{ "GRPC-WEB",	SP_TCP,		"registered as tcp: CONNECT tunnels "
	    "only, egressd speaks HTTP/1.1" },
};

static void
read_se(struct rd *rd, yaml_node_t *spec)
{
	struct ist_se	*se = &rd->res->u.se;
	yaml_node_t	*ports, *eps, *it;
	struct ist_loc	 l;
	char		 path[PATH_LEN], *s;
	size_t		 i, n;

	fields(rd, spec, "spec", se_fields);
	get_strs(rd, spec, "exportTo", "spec", &rd->res->exportto);

	if (get_strs(rd, spec, "hosts", "spec", &se->hosts) == 0 ||
	    se->hosts.n == 0)
		rerr(rd, spec, "spec.hosts: missing");
	for (i = 0; i < se->hosts.n; i++) {
		pathf(path, sizeof(path), "spec.hosts[%zu]", i);
		if (strcmp(se->hosts.v[i].s, "*") == 0) {
			ist_diag(rd->ctx, IST_ERROR, rd->res, 0,
			    &se->hosts.v[i].loc, "%s: \"*\": egressd registers "
			    "names, *.name patterns and addresses, not every "
			    "host", path);
			continue;
		}
		norm_host(rd, &se->hosts.v[i], path, 1, &se->hosts.v[i].s);
	}

	ports = get_seq(rd, spec, "ports", "spec");
	n = seq_len(rd, ports, "spec.ports");
	if (n == 0)
		rerr(rd, ports != NULL ? ports : spec, "spec.ports: none: "
		    "egressd registers a host on the ports listed");
	se->ports = ist_alloc(rd->ctx, (n + 1) * sizeof(*se->ports));
	for (i = 0; i < n; i++) {
		if ((it = seq_at(rd, ports, i)) == NULL)
			return;
		pathf(path, sizeof(path), "spec.ports[%zu]", i);
		if (it->type != YAML_MAPPING_NODE) {
			rerr(rd, it, "%s: expected a mapping", path);
			continue;
		}
		read_seport(rd, it, path, &se->ports[se->nports++]);
	}

	if (get_str(rd, spec, "location", "spec", &s, &l) == 1) {
		se->location_loc = l;
		if (strcmp(s, "MESH_INTERNAL") == 0)
			se->internal = 1;
		else if (strcmp(s, "MESH_EXTERNAL") != 0)
			ist_diag(rd->ctx, IST_ERROR, rd->res, 0, &l,
			    "spec.location %s: MESH_EXTERNAL or MESH_INTERNAL",
			    s);
	}
	se->resolution = RS_NONE;
	if (get_str(rd, spec, "resolution", "spec", &s, &l) == 1) {
		se->resolution_loc = l;
		se->resolution_set = 1;
		if (strcmp(s, "NONE") == 0)
			se->resolution = RS_NONE;
		else if (strcmp(s, "STATIC") == 0)
			se->resolution = RS_STATIC;
		else if (strcmp(s, "DNS") == 0)
			se->resolution = RS_DNS;
		else if (strcmp(s, "DNS_ROUND_ROBIN") == 0)
			se->resolution = RS_DNS_ROUND_ROBIN;
		else if (strcmp(s, "DYNAMIC_DNS") == 0)
			se->resolution = RS_DYNAMIC_DNS;
		else
			ist_diag(rd->ctx, IST_ERROR, rd->res, 0, &l,
			    "spec.resolution %s: NONE, STATIC, DNS, "
			    "DNS_ROUND_ROBIN or DYNAMIC_DNS", s);
	}

	eps = get_seq(rd, spec, "endpoints", "spec");
	n = seq_len(rd, eps, "spec.endpoints");
	if (eps != NULL)
		se->endpoints_loc = nloc(rd, eps);
	se->endpoints = ist_alloc(rd->ctx, (n + 1) * sizeof(*se->endpoints));
	for (i = 0; i < n; i++) {
		if ((it = seq_at(rd, eps, i)) == NULL)
			return;
		pathf(path, sizeof(path), "spec.endpoints[%zu]", i);
		if (it->type != YAML_MAPPING_NODE) {
			rerr(rd, it, "%s: expected a mapping", path);
			continue;
		}
		read_endpoint(rd, it, path, &se->endpoints[se->nendpoints++]);
	}
}

static void
read_seport(struct rd *rd, yaml_node_t *it, const char *path,
    struct ist_seport *p)
{
	struct ist_loc	 l;
	char		*proto = NULL, fpath[PATH_LEN];
	const char	*dash;
	long long	 num;
	size_t		 i, len;

	p->loc = nloc(rd, it);
	fields(rd, it, path, seport_fields);
	if (get_num(rd, it, "number", path, 1, 65535, &num, NULL) == 0)
		rerr(rd, it, "%s.number: missing", path);
	p->number = (unsigned int)num;
	if (get_num(rd, it, "targetPort", path, 1, 65535, &num,
	    &p->target_loc) == 1)
		p->target = (unsigned int)num;
	get_str(rd, it, "name", path, &p->name, NULL);
	if (p->name != NULL && strlen(p->name) >= EGD_NAME_MAX) {
		rerr(rd, it, "%s.name: longer than %d bytes", path,
		    EGD_NAME_MAX - 1);
		p->name = NULL;
	}

	l = p->loc;
	if (get_str(rd, it, "protocol", path, &proto, &l) == -1)
		return;
	if (proto == NULL && p->name != NULL) {
		/* Istio's convention: the protocol begins the name. */
		dash = strchr(p->name, '-');
		len = dash != NULL ? (size_t)(dash - p->name) :
		    strlen(p->name);
		proto = ist_strdup(rd->ctx, p->name);
		proto[len] = '\0';
		if (strcmp(upper(rd->ctx, proto), "GRPC") == 0 &&
		    strncmp(p->name + len, "-web", 4) == 0)
			proto = "grpc-web";
	}
	if (proto == NULL) {
		rerr(rd, it, "%s.protocol: missing, and the name says none",
		    path);
		return;
	}
	p->protocol = upper(rd->ctx, proto);
	for (i = 0; i < nitems(se_protocols); i++)
		if (strcmp(p->protocol, se_protocols[i].name) == 0)
			break;
	if (i == nitems(se_protocols)) {
		ist_diag(rd->ctx, IST_ERROR, rd->res, 0, &l, "%s.protocol %s: "
		    "egressd lets out HTTP, HTTPS, TLS and TCP", path,
		    p->protocol);
		return;
	}
	p->proto = se_protocols[i].proto;
	if (se_protocols[i].warn != NULL) {
		pathf(fpath, sizeof(fpath), "%s.protocol %s", path,
		    p->protocol);
		ist_unsupported(rd->ctx, rd->res, 0, &l, fpath,
		    se_protocols[i].warn);
	}
}

static void
read_endpoint(struct rd *rd, yaml_node_t *it, const char *path,
    struct ist_endpoint *e)
{
	yaml_node_pair_t	*p;
	yaml_node_t		*ports, *k, *v;
	struct ist_loc		 l;
	char			*addr, lit[64], ppath[PATH_LEN];
	const char		*name, *s, *errstr;
	long long		 num;
	size_t			 n;

	e->loc = nloc(rd, it);
	fields(rd, it, path, ep_fields);
	if (get_str(rd, it, "address", path, &addr, &l) == 0)
		rerr(rd, it, "%s.address: missing", path);
	if (addr == NULL)
		return;
	if (norm_addr(addr, lit, sizeof(lit), &e->v6) == -1) {
		ist_diag(rd->ctx, IST_ERROR, rd->res, 0, &l, "%s.address "
		    "\"%s\": egressd takes IPv4 and IPv6 addresses as "
		    "endpoints; for a name, use resolution DNS and the name "
		    "as a host", path, addr);
		return;
	}
	e->addr = ist_strdup(rd->ctx, lit);

	pathf(ppath, sizeof(ppath), "%s.ports", path);
	if ((ports = get_map(rd, it, "ports", path)) == NULL)
		return;
	n = (size_t)(ports->data.mapping.pairs.top -
	    ports->data.mapping.pairs.start);
	if (n > LIST_MAX) {
		rerr(rd, ports, "%s: more than %d ports", ppath, LIST_MAX);
		return;
	}
	e->ports = ist_alloc(rd->ctx, (n + 1) * sizeof(*e->ports));
	for (p = ports->data.mapping.pairs.start;
	    p < ports->data.mapping.pairs.top; p++) {
		if ((k = nd(rd, p->key)) == NULL ||
		    (v = nd(rd, p->value)) == NULL)
			return;
		if ((name = sval(k)) == NULL) {
			rerr(rd, k, "%s: a key that is not a string", ppath);
			return;
		}
		s = sval(v);
		errstr = "not a number";
		if (s != NULL && v->data.scalar.style ==
		    YAML_PLAIN_SCALAR_STYLE && s[0] != '\0' &&
		    strspn(s, "0123456789") == strlen(s))
			num = strtonum(s, 1, 65535, &errstr);
		if (errstr != NULL) {
			rerr(rd, v, "%s.%s: expected a number from 1 to 65535",
			    ppath, name);
			return;
		}
		e->ports[e->nports].name = ist_strdup(rd->ctx, name);
		e->ports[e->nports].port = (unsigned int)num;
		e->ports[e->nports].loc = nloc(rd, v);
		e->nports++;
	}
}

/* ---- VirtualService ---------------------------------------------------- */

static const struct field vs_fields[] = {
	{ "exportTo",		F_USE,		NULL },
	{ "gateways",		F_USE,		NULL },
	{ "hosts",		F_USE,		NULL },
	{ "http",		F_USE,		NULL },
	{ "tcp",		F_USE,		NULL },
	{ "tls",		F_USE,		NULL },
	{ NULL,			0,		NULL }
};

#define NOFAULT	"egressd injects no faults"
#define NOMIRROR "egressd mirrors no requests"

static const struct field http_fields[] = {
	{ "corsPolicy",		F_WARN,		"egressd answers no CORS "
	    "preflight and adds no CORS headers" },
	{ "delegate",		F_ERR,		"egressd has no delegated "
	    "routes; write the delegate's routes into this one" },
	{ "directResponse",	F_ERR,		"egressd does not answer for "
	    "the origin; the request would leave instead" },
	{ "fault",		F_WARN,		NOFAULT },
	{ "headers",		F_WARN,		"egressd does not set, add or "
	    "remove headers" },
	{ "match",		F_USE,		NULL },
	{ "mirror",		F_WARN,		NOMIRROR },
	{ "mirrorPercent",	F_WARN,		NOMIRROR },
	{ "mirrorPercentage",	F_WARN,		NOMIRROR },
	{ "mirrors",		F_WARN,		NOMIRROR },
	{ "name",		F_USE,		NULL },
	{ "redirect",		F_ERR,		"egressd does not answer with "
	    "redirects; the request would leave instead" },
	{ "retries",		F_USE,		NULL },
	{ "rewrite",		F_USE,		NULL },
	{ "route",		F_USE,		NULL },
	{ "timeout",		F_USE,		NULL },
	{ NULL,			0,		NULL }
};

#define WIDER	"egressd cannot match on it, and leaving it out would " \
	    "widen the match"

static const struct field match_fields[] = {
	{ "authority",		F_USE,		NULL },
	{ "gateways",		F_USE,		NULL },
	{ "headers",		F_USE,		NULL },
	{ "ignoreUriCase",	F_USE,		NULL },
	{ "method",		F_USE,		NULL },
	{ "name",		F_QUIET,	NULL },
	{ "port",		F_USE,		NULL },
	{ "queryParams",	F_ERR,		WIDER },
	{ "scheme",		F_ERR,		WIDER },
	{ "sourceLabels",	F_ERR,		WIDER " (from networks in the "
	    "route match clients by address)" },
	{ "sourceNamespace",	F_ERR,		WIDER },
	{ "statPrefix",		F_WARN,		"no statistics per match" },
	{ "uri",		F_USE,		NULL },
	{ "withoutHeaders",	F_ERR,		WIDER },
	{ NULL,			0,		NULL }
};

static const struct field tlsmatch_fields[] = {
	{ "destinationSubnets",	F_ERR,		WIDER },
	{ "gateways",		F_USE,		NULL },
	{ "port",		F_USE,		NULL },
	{ "sniHosts",		F_USE,		NULL },
	{ "sourceLabels",	F_ERR,		WIDER },
	{ "sourceNamespace",	F_ERR,		WIDER },
	{ NULL,			0,		NULL }
};

static const struct field strmatch_fields[] = {
	{ "exact",		F_USE,		NULL },
	{ "prefix",		F_USE,		NULL },
	{ "regex",		F_ERR,		"egressd matches exactly or by "
	    "prefix" },
	{ NULL,			0,		NULL }
};

static const struct field rdest_fields[] = {
	{ "destination",	F_USE,		NULL },
	{ "headers",		F_WARN,		"egressd does not set, add or "
	    "remove headers" },
	{ "weight",		F_USE,		NULL },
	{ NULL,			0,		NULL }
};

static const struct field dest_fields[] = {
	{ "host",		F_USE,		NULL },
	{ "port",		F_USE,		NULL },
	{ "subset",		F_ERR,		"egressd has no subsets: every "
	    "address of the host would serve" },
	{ NULL,			0,		NULL }
};

static const struct field portsel_fields[] = {
	{ "number",		F_USE,		NULL },
	{ NULL,			0,		NULL }
};

static const struct field rewrite_fields[] = {
	{ "authority",		F_USE,		NULL },
	{ "uri",		F_USE,		NULL },
	{ "uriRegexRewrite",	F_ERR,		"egressd rewrites a matched "
	    "path prefix only" },
	{ NULL,			0,		NULL }
};

static const struct field retries_fields[] = {
	{ "attempts",		F_USE,		NULL },
	{ "backoff",		F_WARN,		"egressd retries at once" },
	{ "perTryTimeout",	F_WARN,		"the route's timeout covers "
	    "each attempt to connect" },
	{ "retryIgnorePreviousHosts", F_WARN,	"each retry tries every "
	    "address again" },
	{ "retryOn",		F_WARN,		"egressd retries when "
	    "connecting fails, for idempotent methods" },
	{ "retryRemoteLocalities", F_WARN,	"each retry tries every "
	    "address again" },
	{ NULL,			0,		NULL }
};

static void
read_vs(struct rd *rd, yaml_node_t *spec)
{
	static const char *const sections[] = { "http", "tls", "tcp" };
	struct ist_vs	*vs = &rd->res->u.vs;
	yaml_node_t	*seq[3], *it;
	char		 path[PATH_LEN];
	size_t		 i, n[3], total;
	int		 k;

	fields(rd, spec, "spec", vs_fields);
	get_strs(rd, spec, "exportTo", "spec", &rd->res->exportto);
	get_strs(rd, spec, "hosts", "spec", &vs->hosts);
	for (i = 0; i < vs->hosts.n; i++) {
		if (strcmp(vs->hosts.v[i].s, "*") == 0)
			continue;
		pathf(path, sizeof(path), "spec.hosts[%zu]", i);
		norm_host(rd, &vs->hosts.v[i], path, 1, &vs->hosts.v[i].s);
	}
	get_strs(rd, spec, "gateways", "spec", &vs->gateways);

	for (k = 0, total = 0; k < 3; k++) {
		pathf(path, sizeof(path), "spec.%s", sections[k]);
		seq[k] = get_seq(rd, spec, sections[k], "spec");
		n[k] = seq_len(rd, seq[k], path);
		total += n[k];
	}
	vs->r = ist_alloc(rd->ctx, (total + 1) * sizeof(*vs->r));
	for (k = 0; k < 3; k++)
		for (i = 0; i < n[k]; i++) {
			if ((it = seq_at(rd, seq[k], i)) == NULL)
				return;
			vs->r[vs->nr].kind = k;
			vs->r[vs->nr].idx = (int)i;
			rd->part = (int)vs->nr + 1;
			pathf(path, sizeof(path), "spec.%s[%zu]",
			    sections[k], i);
			if (it->type != YAML_MAPPING_NODE)
				rerr(rd, it, "%s: expected a mapping", path);
			else
				read_route(rd, it, path, &vs->r[vs->nr]);
			vs->nr++;
		}
	rd->part = 0;
}

static void
read_route(struct rd *rd, yaml_node_t *it, const char *path,
    struct ist_route *r)
{
	yaml_node_t	*seq, *m, *rw, *rt;
	struct ist_loc	 l;
	char		 mpath[PATH_LEN], *s;
	long long	 ns, num;
	size_t		 i, n;

	r->loc = nloc(rd, it);
	r->timeout = -1;
	r->retries = -1;
	if (r->kind == RK_TCP) {
		/* Not carried over: only which gateways it is for. */
		seq = get_seq(rd, it, "match", path);
		n = seq_len(rd, seq, path);
		r->m = ist_alloc(rd->ctx, (n + 1) * sizeof(*r->m));
		for (i = 0; i < n; i++) {
			if ((m = seq_at(rd, seq, i)) == NULL)
				return;
			pathf(mpath, sizeof(mpath), "%s.match[%zu]", path,
			    i);
			r->m[r->nm].loc = nloc(rd, m);
			r->m[r->nm].idx = (int)i;
			get_strs(rd, m, "gateways", mpath,
			    &r->m[r->nm].gateways);
			r->nm++;
		}
		return;
	}
	fields(rd, it, path, r->kind == RK_HTTP ? http_fields :
	    (const struct field[]){ { "match", F_USE, NULL },
	    { "route", F_USE, NULL }, { NULL, 0, NULL } });
	get_str(rd, it, "name", path, &r->name, NULL);

	seq = get_seq(rd, it, "match", path);
	pathf(mpath, sizeof(mpath), "%s.match", path);
	n = seq_len(rd, seq, mpath);
	if (n == 0 && r->kind == RK_TLS)
		rerr(rd, it, "%s.match: missing: a tls route matches sniHosts",
		    path);
	r->m = ist_alloc(rd->ctx, (n + 1) * sizeof(*r->m));
	for (i = 0; i < n; i++) {
		if ((m = seq_at(rd, seq, i)) == NULL)
			return;
		pathf(mpath, sizeof(mpath), "%s.match[%zu]", path, i);
		if (m->type != YAML_MAPPING_NODE) {
			rerr(rd, m, "%s: expected a mapping", mpath);
			continue;
		}
		read_match(rd, m, mpath, r->kind, &r->m[r->nm]);
		r->m[r->nm].idx = (int)i;
		r->nm++;
	}

	seq = get_seq(rd, it, "route", path);
	pathf(mpath, sizeof(mpath), "%s.route", path);
	n = seq_len(rd, seq, mpath);
	r->d = ist_alloc(rd->ctx, (n + 1) * sizeof(*r->d));
	for (i = 0; i < n; i++) {
		if ((rt = seq_at(rd, seq, i)) == NULL)
			return;
		pathf(mpath, sizeof(mpath), "%s.route[%zu]", path, i);
		if (rt->type != YAML_MAPPING_NODE) {
			rerr(rd, rt, "%s: expected a mapping", mpath);
			continue;
		}
		read_dest(rd, rt, mpath, &r->d[r->nd++]);
	}
	if (r->kind != RK_HTTP)
		return;

	pathf(mpath, sizeof(mpath), "%s.rewrite", path);
	if ((rw = get_map(rd, it, "rewrite", path)) != NULL) {
		fields(rd, rw, mpath, rewrite_fields);
		if (get_str(rd, rw, "uri", mpath, &s, &l) == 1) {
			if (!path_ok(s))
				ist_diag(rd->ctx, IST_ERROR, rd->res, rd->part,
				    &l, "%s.uri \"%s\": egressd takes a path "
				    "that begins with / and holds printable "
				    "ASCII, no blank", mpath, s);
			else {
				r->rw_uri = s;
				r->rw_uri_loc = l;
			}
		}
		if (get_str(rd, rw, "authority", mpath, &s, &l) == 1) {
			struct ist_str	in = { s, l };

			pathf(mpath, sizeof(mpath), "%s.rewrite.authority",
			    path);
			if (norm_host(rd, &in, mpath, 0, &r->rw_auth) == 0)
				r->rw_auth_loc = l;
		}
	}

	if (get_str(rd, it, "timeout", path, &s, &l) == 1) {
		r->timeout_loc = l;
		if (duration(s, &ns) == -1)
			ist_diag(rd->ctx, IST_ERROR, rd->res, rd->part, &l,
			    "%s.timeout \"%s\": not a duration", path, s);
		else if (ns == 0) {
			pathf(mpath, sizeof(mpath), "%s.timeout %s", path,
			    s);
			ist_unsupported(rd->ctx, rd->res, rd->part, &l, mpath,
			    "connect timeout and idle timeout apply");
		} else if (ns % 1000000000LL != 0 ||
		    ns > 3600LL * 1000000000LL)
			ist_diag(rd->ctx, IST_ERROR, rd->res, rd->part, &l,
			    "%s.timeout %s: egressd takes whole seconds, 1 to "
			    "3600", path, s);
		else
			r->timeout = (int)(ns / 1000000000LL);
	}

	pathf(mpath, sizeof(mpath), "%s.retries", path);
	if ((rt = get_map(rd, it, "retries", path)) != NULL) {
		fields(rd, rt, mpath, retries_fields);
		if (get_num(rd, rt, "attempts", mpath, 0, INT_MAX, &num,
		    &l) == 1) {
			if (num > 5)
				ist_diag(rd->ctx, IST_ERROR, rd->res, rd->part,
				    &l, "%s.attempts %lld: egressd retries at "
				    "most 5 times", mpath, num);
			r->retries = (int)num;
		}
		else if (get(rd, rt, "attempts", NULL) == NULL)
			r->retries = 0;	/* Istio: no attempts, no retries */
	}
}

static int
read_strmatch(struct rd *rd, yaml_node_t *n, const char *path,
    struct ist_strmatch *sm)
{
	struct ist_loc	l;
	char		*s;

	memset(sm, 0, sizeof(*sm));
	sm->loc = nloc(rd, n);
	if (n->type != YAML_MAPPING_NODE) {
		rerr(rd, n, "%s: expected a mapping", path);
		return -1;
	}
	fields(rd, n, path, strmatch_fields);
	if (get(rd, n, "regex", NULL) != NULL)
		return -1;	/* said by fields() */
	if (get_str(rd, n, "exact", path, &s, &l) == 1) {
		sm->type = SM_EXACT;
		sm->v = s;
		sm->loc = l;
	}
	if (get_str(rd, n, "prefix", path, &s, &l) == 1) {
		if (sm->type != SM_NONE) {
			rerr(rd, n, "%s: exact and prefix both", path);
			return -1;
		}
		sm->type = SM_PREFIX;
		sm->v = s;
		sm->loc = l;
	}
	if (sm->type == SM_NONE)
		sm->type = SM_PRESENT;
	return 0;
}

static void
read_match(struct rd *rd, yaml_node_t *m, const char *path, int kind,
    struct ist_match *mt)
{
	yaml_node_pair_t	*p;
	yaml_node_t		*n, *k, *v;
	char			 fpath[PATH_LEN];
	const char		*name, *c;
	long long		 num;
	size_t			 i, cnt;
	int			 b;

	mt->loc = nloc(rd, m);
	get_strs(rd, m, "gateways", path, &mt->gateways);
	if (get_num(rd, m, "port", path, 1, 65535, &num, NULL) == 1)
		mt->port = (unsigned int)num;

	if (kind == RK_TLS) {
		fields(rd, m, path, tlsmatch_fields);
		if (get_strs(rd, m, "sniHosts", path, &mt->sni) == 0 ||
		    mt->sni.n == 0)
			rerr(rd, m, "%s.sniHosts: missing", path);
		for (i = 0; i < mt->sni.n; i++) {
			pathf(fpath, sizeof(fpath), "%s.sniHosts[%zu]",
			    path, i);
			if (strcmp(mt->sni.v[i].s, "*") == 0)
				continue;
			norm_host(rd, &mt->sni.v[i], fpath, 1,
			    &mt->sni.v[i].s);
		}
		return;
	}

	fields(rd, m, path, match_fields);
	if (get_bool(rd, m, "ignoreUriCase", path, &b) == 1 && b)
		rerr(rd, m, "%s.ignoreUriCase: not supported: %s", path,
		    "egressd compares paths byte for byte, and leaving it out "
		    "would narrow the match");

	pathf(fpath, sizeof(fpath), "%s.uri", path);
	if ((n = get(rd, m, "uri", NULL)) != NULL &&
	    read_strmatch(rd, n, fpath, &mt->uri) == 0) {
		if (mt->uri.type == SM_PRESENT)
			mt->uri.type = SM_NONE;
		else if (!path_ok(mt->uri.v))
			ist_diag(rd->ctx, IST_ERROR, rd->res, rd->part,
			    &mt->uri.loc, "%s \"%s\": egressd matches a path "
			    "that begins with / and holds printable ASCII, no "
			    "blank", fpath, mt->uri.v);
	}

	pathf(fpath, sizeof(fpath), "%s.method", path);
	if ((n = get(rd, m, "method", NULL)) != NULL &&
	    read_strmatch(rd, n, fpath, &mt->method) == 0) {
		if (mt->method.type == SM_PRESENT)
			mt->method.type = SM_NONE;
		else if (mt->method.type == SM_PREFIX)
			ist_diag(rd->ctx, IST_ERROR, rd->res, rd->part,
			    &mt->method.loc, "%s.prefix: not supported: "
			    "egressd matches a method exactly", fpath);
		else if (strlen(mt->method.v) == 0 ||
		    strlen(mt->method.v) > METHOD_MAX ||
		    strspn(mt->method.v, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") !=
		    strlen(mt->method.v))
			ist_diag(rd->ctx, IST_ERROR, rd->res, rd->part,
			    &mt->method.loc, "%s \"%s\": egressd matches 1 to "
			    "%d uppercase letters", fpath, mt->method.v,
			    METHOD_MAX);
	}

	pathf(fpath, sizeof(fpath), "%s.authority", path);
	if ((n = get(rd, m, "authority", NULL)) != NULL &&
	    read_strmatch(rd, n, fpath, &mt->authority) == 0) {
		if (mt->authority.type == SM_PRESENT)
			mt->authority.type = SM_NONE;
		else
			lower(mt->authority.v);
	}

	pathf(fpath, sizeof(fpath), "%s.headers", path);
	if ((n = get_map(rd, m, "headers", path)) == NULL)
		return;
	cnt = (size_t)(n->data.mapping.pairs.top -
	    n->data.mapping.pairs.start);
	if (cnt > EGD_MAX_HDRMATCH) {
		rerr(rd, n, "%s: %zu conditions: egressd takes at most %d",
		    fpath, cnt, EGD_MAX_HDRMATCH);
		return;
	}
	mt->hdrs = ist_alloc(rd->ctx, (cnt + 1) * sizeof(*mt->hdrs));
	for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top;
	    p++) {
		if ((k = nd(rd, p->key)) == NULL ||
		    (v = nd(rd, p->value)) == NULL)
			return;
		if ((name = sval(k)) == NULL) {
			rerr(rd, k, "%s: a key that is not a string", fpath);
			return;
		}
		pathf(fpath, sizeof(fpath), "%s.headers.%s", path, name);
		if (name[0] == '\0' || strlen(name) > HDRNAME_MAX ||
		    strspn(name, "abcdefghijklmnopqrstuvwxyz"
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-.^_`|~") !=
		    strlen(name)) {
			rerr(rd, k, "%s: egressd matches header names of 1 to "
			    "%d token characters", fpath, HDRNAME_MAX);
			continue;
		}
		for (i = 0; i < mt->nhdrs; i++)
			if (strcasecmp(mt->hdrs[i].name, name) == 0)
				break;
		if (i < mt->nhdrs) {
			rerr(rd, k, "%s: given twice", fpath);
			continue;
		}
		if (is_null(v)) {
			mt->hdrs[mt->nhdrs].m.type = SM_PRESENT;
			mt->hdrs[mt->nhdrs].m.loc = nloc(rd, v);
		} else if (read_strmatch(rd, v, fpath,
		    &mt->hdrs[mt->nhdrs].m) == -1)
			continue;
		if (mt->hdrs[mt->nhdrs].m.type == SM_PREFIX) {
			rerr(rd, v, "%s.prefix: not supported: egressd matches "
			    "a header's value exactly", fpath);
			continue;
		}
		if (mt->hdrs[mt->nhdrs].m.type == SM_EXACT) {
			c = mt->hdrs[mt->nhdrs].m.v;
			if (strlen(c) > HDRVALUE_MAX || c[0] == ' ' ||
			    c[0] == '\t' || (c[0] != '\0' &&
			    (c[strlen(c) - 1] == ' ' ||
			    c[strlen(c) - 1] == '\t'))) {
				rerr(rd, v, "%s.exact: egressd matches values "
				    "of at most %d bytes, without blanks at "
				    "either end", fpath, HDRVALUE_MAX);
				continue;
			}
		}
		mt->hdrs[mt->nhdrs].name = lower(ist_strdup(rd->ctx, name));
		mt->nhdrs++;
	}
}

static void
read_dest(struct rd *rd, yaml_node_t *rt, const char *path,
    struct ist_dest *d)
{
	yaml_node_t	*dn, *pn;
	struct ist_str	 host;
	char		 dpath[PATH_LEN], ppath[PATH_LEN];
	long long	 num;

	d->loc = nloc(rd, rt);
	d->weight = -1;
	fields(rd, rt, path, rdest_fields);
	if (get_num(rd, rt, "weight", path, 0, INT_MAX, &num, NULL) == 1)
		d->weight = num;
	pathf(dpath, sizeof(dpath), "%s.destination", path);
	if ((dn = get_map(rd, rt, "destination", path)) == NULL) {
		rerr(rd, rt, "%s: missing", dpath);
		return;
	}
	fields(rd, dn, dpath, dest_fields);
	if (get_str(rd, dn, "host", dpath, &host.s, &host.loc) != 1) {
		if (host.s == NULL)
			rerr(rd, dn, "%s.host: missing", dpath);
		return;
	}
	d->host_loc = host.loc;
	pathf(ppath, sizeof(ppath), "%s.host", dpath);
	norm_host(rd, &host, ppath, 1, &d->host);
	pathf(ppath, sizeof(ppath), "%s.port", dpath);
	if ((pn = get_map(rd, dn, "port", dpath)) != NULL) {
		fields(rd, pn, ppath, portsel_fields);
		if (get_num(rd, pn, "number", ppath, 1, 65535, &num,
		    NULL) == 1)
			d->port = (unsigned int)num;
	}
}

/* ---- DestinationRule --------------------------------------------------- */

static const struct field dr_fields[] = {
	{ "exportTo",		F_USE,		NULL },
	{ "host",		F_USE,		NULL },
	{ "subsets",		F_WARN,		"no subsets: every address of "
	    "the host serves every request" },
	{ "trafficPolicy",	F_USE,		NULL },
	{ "workloadSelector",	F_WARN,		"the rule applies to every "
	    "client of the gateway" },
	{ NULL,			0,		NULL }
};

#define POOL	"the global pool idle, pool timeout and connect timeout apply"
#define OUTLIER	"no outlier detection: each address is tried in turn"

static const struct field tp_fields[] = {
	{ "connectionPool",	F_WARN,		POOL },
	{ "loadBalancer",	F_USE,		NULL },
	{ "outlierDetection",	F_WARN,		OUTLIER },
	{ "portLevelSettings",	F_USE,		NULL },
	{ "proxyProtocol",	F_WARN,		"egressd sends no PROXY "
	    "protocol header" },
	{ "retryBudget",	F_WARN,		"the routes' retries apply" },
	{ "tls",		F_USE,		NULL },
	{ "tunnel",		F_WARN,		"egressd connects to the "
	    "destination itself" },
	{ NULL,			0,		NULL }
};

static const struct field pl_fields[] = {
	{ "connectionPool",	F_WARN,		POOL },
	{ "loadBalancer",	F_USE,		NULL },
	{ "outlierDetection",	F_WARN,		OUTLIER },
	{ "port",		F_USE,		NULL },
	{ "tls",		F_USE,		NULL },
	{ NULL,			0,		NULL }
};

#define INTURN	"egressd dials the destination's addresses in turn"

static const struct field lb_fields[] = {
	{ "consistentHash",	F_WARN,		INTURN },
	{ "localityLbSetting",	F_WARN,		INTURN },
	{ "simple",		F_USE,		NULL },
	{ "warmup",		F_WARN,		INTURN },
	{ "warmupDurationSecs",	F_WARN,		INTURN },
	{ "zoneAwareLbSetting",	F_WARN,		INTURN },
	{ NULL,			0,		NULL }
};

static const struct field ctls_fields[] = {
	{ "caCertificates",	F_USE,		NULL },
	{ "caCrl",		F_WARN,		"the server's certificate is "
	    "not checked against a revocation list" },
	{ "clientCertificate",	F_USE,		NULL },
	{ "credentialName",	F_ERR,		"a Kubernetes secret egressd "
	    "cannot read; give clientCertificate, privateKey and "
	    "caCertificates files instead" },
	{ "insecureSkipVerify",	F_USE,		NULL },
	{ "mode",		F_USE,		NULL },
	{ "privateKey",		F_USE,		NULL },
	{ "sni",		F_USE,		NULL },
	{ "subjectAltNames",	F_USE,		NULL },
	{ NULL,			0,		NULL }
};

static void
read_dr(struct rd *rd, yaml_node_t *spec)
{
	struct ist_dr	*dr = &rd->res->u.dr;
	yaml_node_t	*tp, *pls, *it, *pn;
	struct ist_str	 host;
	char		 path[PATH_LEN], ppath[PATH_LEN];
	long long	 num;
	size_t		 i, j, n;

	fields(rd, spec, "spec", dr_fields);
	get_strs(rd, spec, "exportTo", "spec", &rd->res->exportto);
	if (get_str(rd, spec, "host", "spec", &host.s, &host.loc) == 0)
		rerr(rd, spec, "spec.host: missing");
	if (host.s != NULL) {
		dr->host_loc = host.loc;
		norm_host(rd, &host, "spec.host", 1, &dr->host);
	}
	if ((tp = get_map(rd, spec, "trafficPolicy", "spec")) == NULL)
		return;
	fields(rd, tp, "spec.trafficPolicy", tp_fields);
	read_lb(rd, get_map(rd, tp, "loadBalancer", "spec.trafficPolicy"),
	    "spec.trafficPolicy.loadBalancer");
	read_ctls(rd, get_map(rd, tp, "tls", "spec.trafficPolicy"),
	    "spec.trafficPolicy.tls", &dr->tls);

	pls = get_seq(rd, tp, "portLevelSettings", "spec.trafficPolicy");
	n = seq_len(rd, pls, "spec.trafficPolicy.portLevelSettings");
	dr->pl = ist_alloc(rd->ctx, (n + 1) * sizeof(*dr->pl));
	for (i = 0; i < n; i++) {
		if ((it = seq_at(rd, pls, i)) == NULL)
			return;
		pathf(path, sizeof(path),
		    "spec.trafficPolicy.portLevelSettings[%zu]", i);
		if (it->type != YAML_MAPPING_NODE) {
			rerr(rd, it, "%s: expected a mapping", path);
			continue;
		}
		fields(rd, it, path, pl_fields);
		dr->pl[dr->npl].loc = nloc(rd, it);
		pathf(ppath, sizeof(ppath), "%s.port", path);
		if ((pn = get_map(rd, it, "port", path)) == NULL) {
			rerr(rd, it, "%s: missing", ppath);
			continue;
		}
		fields(rd, pn, ppath, portsel_fields);
		if (get_num(rd, pn, "number", ppath, 1, 65535, &num,
		    NULL) != 1) {
			rerr(rd, pn, "%s.number: missing", ppath);
			continue;
		}
		for (j = 0; j < dr->npl; j++)
			if (dr->pl[j].port == (unsigned int)num)
				break;
		if (j < dr->npl) {
			rerr(rd, pn, "%s.number %lld: given twice", ppath, num);
			continue;
		}
		dr->pl[dr->npl].port = (unsigned int)num;
		pathf(ppath, sizeof(ppath), "%s.loadBalancer", path);
		read_lb(rd, get_map(rd, it, "loadBalancer", path), ppath);
		pathf(ppath, sizeof(ppath), "%s.tls", path);
		read_ctls(rd, get_map(rd, it, "tls", path), ppath,
		    &dr->pl[dr->npl].tls);
		dr->npl++;
	}
}

/* Round robin is what egressd does; anything else is not. */
static void
read_lb(struct rd *rd, yaml_node_t *lb, const char *path)
{
	struct ist_loc	 l;
	char		*s, fpath[PATH_LEN];

	if (lb == NULL)
		return;
	fields(rd, lb, path, lb_fields);
	if (get_str(rd, lb, "simple", path, &s, &l) == 1 &&
	    strcmp(s, "ROUND_ROBIN") != 0 && strcmp(s, "UNSPECIFIED") != 0) {
		pathf(fpath, sizeof(fpath), "%s.simple %s", path, s);
		ist_unsupported(rd->ctx, rd->res, rd->part, &l, fpath, INTURN);
	}
}

static void
read_ctls(struct rd *rd, yaml_node_t *tls, const char *path,
    struct ist_ctls *t)
{
	struct ist_loc	 l;
	struct ist_str	 in;
	char		*s, fpath[PATH_LEN], lit[64];
	size_t		 i;
	int		 b, v6;

	if (tls == NULL)
		return;
	t->set = 1;
	t->loc = nloc(rd, tls);
	fields(rd, tls, path, ctls_fields);
	if (get_bool(rd, tls, "insecureSkipVerify", path, &b) == 1 && b) {
		pathf(fpath, sizeof(fpath), "%s.insecureSkipVerify", path);
		rwarn(rd, key_of(rd, tls, "insecureSkipVerify"), fpath,
		    "egressd always verifies the server");
	}
	t->mode = TM_DISABLE;
	l = t->loc;
	if (get_str(rd, tls, "mode", path, &s, &l) == 1) {
		s = upper(rd->ctx, s);
		if (strcmp(s, "SIMPLE") == 0)
			t->mode = TM_SIMPLE;
		else if (strcmp(s, "MUTUAL") == 0)
			t->mode = TM_MUTUAL;
		else if (strcmp(s, "ISTIO_MUTUAL") == 0) {
			t->mode = TM_ISTIO_MUTUAL;
			ist_diag(rd->ctx, IST_ERROR, rd->res, rd->part, &l,
			    "%s.mode ISTIO_MUTUAL: not supported: the mesh's "
			    "workload certificates are not files egressd can "
			    "read; use mode MUTUAL with clientCertificate, "
			    "privateKey and caCertificates files", path);
			return;
		} else if (strcmp(s, "DISABLE") != 0) {
			ist_diag(rd->ctx, IST_ERROR, rd->res, rd->part, &l,
			    "%s.mode %s: DISABLE, SIMPLE or MUTUAL", path, s);
			return;
		}
	}
	if (get(rd, tls, "credentialName", NULL) != NULL)
		return;		/* said by fields() */
	if (t->mode == TM_DISABLE)
		return;
	abs_path(rd, tls, "caCertificates", path, &t->ca);
	abs_path(rd, tls, "clientCertificate", path, &t->cert);
	abs_path(rd, tls, "privateKey", path, &t->key);
	if (t->mode == TM_MUTUAL && (t->cert == NULL || t->key == NULL))
		ist_diag(rd->ctx, IST_ERROR, rd->res, rd->part, &l,
		    "%s.mode MUTUAL: needs clientCertificate and privateKey "
		    "files", path);
	if (t->mode == TM_SIMPLE && (t->cert != NULL || t->key != NULL)) {
		pathf(fpath, sizeof(fpath), "%s.clientCertificate", path);
		rwarn(rd, key_of(rd, tls, t->cert != NULL ?
		    "clientCertificate" : "privateKey"), fpath, "with SIMPLE, "
		    "egressd presents no client certificate");
		t->cert = t->key = NULL;
	}
	if (get_str(rd, tls, "sni", path, &in.s, &in.loc) == 1) {
		pathf(fpath, sizeof(fpath), "%s.sni", path);
		if (norm_addr(in.s, lit, sizeof(lit), &v6) == 0)
			ist_diag(rd->ctx, IST_ERROR, rd->res, rd->part, &in.loc,
			    "%s \"%s\": an address; SNI carries DNS names only",
			    fpath, in.s);
		else
			norm_host(rd, &in, fpath, 0, &t->sni);
	}
	get_strs(rd, tls, "subjectAltNames", path, &t->sans);
	if (t->sans.n > EGD_MAX_VERIFYSAN) {
		ist_diag(rd->ctx, IST_ERROR, rd->res, rd->part, &t->sans.loc,
		    "%s.subjectAltNames: %zu names: egressd takes at most %d",
		    path, t->sans.n, EGD_MAX_VERIFYSAN);
		t->sans.n = 0;
	}
	for (i = 0; i < t->sans.n; i++) {
		pathf(fpath, sizeof(fpath), "%s.subjectAltNames[%zu]", path,
		    i);
		if (strchr(t->sans.v[i].s, ':') != NULL) {
			ist_diag(rd->ctx, IST_ERROR, rd->res, rd->part,
			    &t->sans.v[i].loc, "%s \"%s\": egressd verifies "
			    "DNS names only", fpath, t->sans.v[i].s);
			continue;
		}
		norm_host(rd, &t->sans.v[i], fpath, 1, &t->sans.v[i].s);
	}
}
