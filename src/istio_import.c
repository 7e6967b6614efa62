/*
 * egressctl import istio: the command.  Run by egressctl, as its caller,
 * with no daemon and no socket: it reads the files named (or standard
 * input for "-"), hands each to the reader (istio.c), the whole to the
 * translation (istio_map.c) and the writer (istio_emit.c), then prints
 * every message sorted by place, and writes the configuration only when
 * there was no error: to standard output, or to -o FILE through a
 * temporary file renamed over it, so that a failed import leaves the
 * old file as it was.  Also here, what the three stages share: the
 * arena all their memory comes from, and the message list.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "egressd.h"
#include "istio.h"

#define INPUT_MAX	(64 * 1024 * 1024)	/* bytes of one file */
#define ABLK_MIN	(64 * 1024)

struct ist_ablk {
	struct ist_ablk	*next;
	size_t		 size, used;
	/* then the memory, aligned as malloc aligns */
	max_align_t	 mem[];
};

static __attribute__((noreturn)) void	 usage(void);
static __attribute__((noreturn)) void	 nomem(void);
static char	*read_input(const char *, size_t *);
static int	 diag_cmp(const void *, const void *);
static int	 print_diags(struct ist_ctx *, int);
static int	 write_out(const char *, const char *, size_t);
static void	 arena_free(struct ist_ctx *);

static __attribute__((noreturn)) void
usage(void)
{
	fprintf(stderr, "usage: egressctl import istio [-o file] "
	    "[-l address] [--strict] file ... | -\n");
	exit(1);
}

static __attribute__((noreturn)) void
nomem(void)
{
	fprintf(stderr, "egressctl: out of memory\n");
	exit(1);
}

/* ---- memory ------------------------------------------------------------ */

void *
ist_alloc(struct ist_ctx *ctx, size_t len)
{
	struct ist_ablk	*b = ctx->arena;
	size_t		 al = sizeof(max_align_t), sz;
	void		*p;

	if (len > SIZE_MAX - al - sizeof(*b))
		nomem();
	len = len == 0 ? al : (len + al - 1) / al * al;
	if (b == NULL || b->size - b->used < len) {
		sz = len > ABLK_MIN ? len : ABLK_MIN;
		if ((b = calloc(1, sizeof(*b) + sz)) == NULL)
			nomem();
		b->size = sz;
		b->next = ctx->arena;
		ctx->arena = b;
	}
	p = (char *)b->mem + b->used;
	b->used += len;
	return p;
}

char *
ist_strdup(struct ist_ctx *ctx, const char *s)
{
	size_t	 len = strlen(s) + 1;
	char	*p = ist_alloc(ctx, len);

	memcpy(p, s, len);
	return p;
}

char *
ist_printf(struct ist_ctx *ctx, const char *fmt, ...)
{
	va_list	 ap;
	char	*p;
	int	 n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		nomem();
	p = ist_alloc(ctx, (size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return p;
}

/*
 * A list's room doubled: the old items copied into new memory (the old
 * stays in the arena until the end).
 */
void *
ist_grow(struct ist_ctx *ctx, void *old, size_t *cap, size_t elsize)
{
	size_t	 ncap = *cap == 0 ? 16 : *cap * 2;
	void	*p;

	if (ncap > SIZE_MAX / elsize)
		nomem();
	p = ist_alloc(ctx, ncap * elsize);
	if (*cap > 0)
		memcpy(p, old, *cap * elsize);
	*cap = ncap;
	return p;
}

static void
arena_free(struct ist_ctx *ctx)
{
	struct ist_ablk	*b, *next;

	for (b = ctx->arena; b != NULL; b = next) {
		next = b->next;
		free(b);
	}
	ctx->arena = NULL;
}

/* ---- messages ---------------------------------------------------------- */

void
ist_diag(struct ist_ctx *ctx, int sev, const struct ist_res *res, int part,
    const struct ist_loc *loc, const char *fmt, ...)
{
	struct ist_diag	*d;
	va_list		 ap;
	char		 buf[2048];

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (ctx->ndiags == ctx->maxdiags)
		ctx->diags = ist_grow(ctx, ctx->diags, &ctx->maxdiags,
		    sizeof(*ctx->diags));
	d = &ctx->diags[ctx->ndiags];
	memset(d, 0, sizeof(*d));
	if (loc != NULL)
		d->loc = *loc;
	else
		d->loc.file = -1;
	d->sev = sev;
	d->res = res;
	d->part = part;
	d->seq = ctx->ndiags++;
	d->text = res != NULL ? ist_printf(ctx, "%s: %s", res->label, buf) :
	    ist_strdup(ctx, buf);
}

/* "FIELD: not supported (WHAT EGRESSD DOES INSTEAD)": a warning. */
void
ist_unsupported(struct ist_ctx *ctx, const struct ist_res *res, int part,
    const struct ist_loc *loc, const char *field, const char *instead)
{
	ist_diag(ctx, IST_WARN, res, part, loc, "%s: not supported (%s)",
	    field, instead);
}

/* Messages without a place first, then by file, line, column, making. */
static int
diag_cmp(const void *a, const void *b)
{
	const struct ist_diag	*x = a, *y = b;

	if (x->loc.file != y->loc.file)
		return x->loc.file < y->loc.file ? -1 : 1;
	if (x->loc.line != y->loc.line)
		return x->loc.line < y->loc.line ? -1 : 1;
	if (x->loc.col != y->loc.col)
		return x->loc.col < y->loc.col ? -1 : 1;
	if (x->seq != y->seq)
		return x->seq < y->seq ? -1 : 1;
	return 0;
}

/*
 * Every message that still stands (those of parts left out fall with
 * them), one a line; the number of errors, warnings counted as errors
 * with --strict.
 */
static int
print_diags(struct ist_ctx *ctx, int strict)
{
	struct ist_diag	*d;
	size_t		 i;
	int		 errors = 0;

	if (ctx->ndiags > 0)
		qsort(ctx->diags, ctx->ndiags, sizeof(*ctx->diags), diag_cmp);
	for (i = 0; i < ctx->ndiags; i++) {
		d = &ctx->diags[i];
		if (d->res != NULL && (d->res->drop || (d->part > 0 &&
		    d->res->kind == IK_VIRTUALSERVICE &&
		    (size_t)d->part <= d->res->u.vs.nr &&
		    d->res->u.vs.r[d->part - 1].drop)))
			continue;
		if (d->sev == IST_ERROR || strict)
			errors++;
		if (d->loc.file < 0)
			fprintf(stderr, "egressctl: %s\n", d->text);
		else
			fprintf(stderr, "%s:%d:%d: %s\n",
			    ctx->files[d->loc.file], d->loc.line, d->loc.col,
			    d->text);
	}
	return errors;
}

/* ---- input and output -------------------------------------------------- */

/* A whole file, or standard input for "-", at most INPUT_MAX bytes. */
static char *
read_input(const char *name, size_t *lenp)
{
	struct stat	 st;
	char		*buf = NULL, *p;
	size_t		 len = 0, cap = 0;
	ssize_t		 n;
	int		 fd;

	if (strcmp(name, "-") == 0)
		fd = STDIN_FILENO;
	else if ((fd = open(name, O_RDONLY | O_CLOEXEC)) == -1) {
		fprintf(stderr, "egressctl: %s: %s\n", name, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) == -1 || S_ISDIR(st.st_mode)) {
		fprintf(stderr, "egressctl: %s: %s\n", name,
		    S_ISDIR(st.st_mode) ? "a directory" : strerror(errno));
		goto fail;
	}
	for (;;) {
		if (len == cap) {
			if (cap >= INPUT_MAX) {
				fprintf(stderr, "egressctl: %s: larger than "
				    "%d bytes\n", name, INPUT_MAX);
				goto fail;
			}
			cap = cap == 0 ? 65536 : cap * 2;
			if ((p = realloc(buf, cap + 1)) == NULL)
				nomem();
			buf = p;
		}
		if ((n = read(fd, buf + len, cap - len)) == -1) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "egressctl: %s: %s\n", name,
			    strerror(errno));
			goto fail;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (fd != STDIN_FILENO)
		close(fd);
	if (buf == NULL && (buf = malloc(1)) == NULL)
		nomem();
	buf[len] = '\0';
	*lenp = len;
	return buf;
 fail:
	if (fd != STDIN_FILENO)
		close(fd);
	free(buf);
	return NULL;
}

/*
 * The text into FILE: a temporary file beside it, written whole and
 * synced, then renamed over it.
 */
static int
write_out(const char *file, const char *text, size_t len)
{
	char	 tmp[PATH_MAX], dir[PATH_MAX];
	size_t	 off = 0;
	ssize_t	 n;
	int	 fd;

	if (strlcpy(dir, file, sizeof(dir)) >= sizeof(dir) ||
	    snprintf(tmp, sizeof(tmp), "%s/.egressctl.XXXXXX",
	    dirname(dir)) >= (int)sizeof(tmp)) {
		fprintf(stderr, "egressctl: %s: name too long\n", file);
		return -1;
	}
	if ((fd = mkstemp(tmp)) == -1) {
		fprintf(stderr, "egressctl: %s: %s\n", tmp, strerror(errno));
		return -1;
	}
	if (fchmod(fd, 0644) == -1)
		goto fail;
	while (off < len) {
		if ((n = write(fd, text + off, len - off)) == -1) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		off += (size_t)n;
	}
	if (fsync(fd) == -1 || close(fd) == -1) {
		fd = -1;
		goto fail;
	}
	if (rename(tmp, file) == -1) {
		fprintf(stderr, "egressctl: %s: %s\n", file, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
 fail:
	fprintf(stderr, "egressctl: %s: %s\n", tmp, strerror(errno));
	if (fd != -1)
		close(fd);
	unlink(tmp);
	return -1;
}

/* ---- the command ------------------------------------------------------- */

/*
 * argv[0] is "istio", the word that chose this command; options and
 * files follow, options anywhere.
 */
int
istio_import(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "strict",	no_argument,		NULL,	'S' },
		{ "help",	no_argument,		NULL,	'h' },
		{ NULL,		0,			NULL,	0 }
	};
	struct ist_ctx	 ctx;
	struct egd_addr	 a;
	const char	*outfile = NULL, *listen = "127.0.0.1";
	char		 lit[64], *buf, *text = NULL;
	size_t		 len, tlen = 0;
	FILE		*fp;
	int		 ch, i, strict = 0, nstdin = 0, errors, rv = 1;

	optind = 0;	/* glibc: start over, the first word included */
	while ((ch = getopt_long(argc, argv, "hl:o:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'l':
			listen = optarg;
			break;
		case 'o':
			outfile = optarg;
			break;
		case 'S':
			strict = 1;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc == 0)
		usage();

	memset(&ctx, 0, sizeof(ctx));
	if (strcmp(listen, "*") == 0)
		ctx.listen = "*";
	else if (egd_addr_parse(listen, &a) == 0) {
		egd_addr_ntop(&a, lit, sizeof(lit));
		ctx.listen = ist_strdup(&ctx, lit);
		ctx.listen_v6 = a.af == AF_INET6;
	} else {
		fprintf(stderr, "egressctl: -l %s: an IPv4 or IPv6 address, "
		    "or *\n", listen);
		return 1;
	}

	ctx.files = ist_alloc(&ctx, (size_t)argc * sizeof(*ctx.files));
	ctx.nfiles = argc;
	for (i = 0; i < argc; i++) {
		if (strcmp(argv[i], "-") == 0 && nstdin++ > 0) {
			fprintf(stderr, "egressctl: standard input named "
			    "twice\n");
			goto done;
		}
		ctx.files[i] = strcmp(argv[i], "-") == 0 ? "<stdin>" :
		    argv[i];
	}
	for (i = 0; i < argc; i++) {
		if ((buf = read_input(argv[i], &len)) == NULL)
			goto done;
		ist_read(&ctx, i, buf, len);
		free(buf);
	}

	ist_map(&ctx);
	errors = print_diags(&ctx, strict);
	if (errors > 0) {
		fprintf(stderr, "egressctl: %d error%s, nothing written\n",
		    errors, errors == 1 ? "" : "s");
		goto done;
	}
	if ((fp = open_memstream(&text, &tlen)) == NULL)
		nomem();
	ist_emit(&ctx, fp);
	if (fclose(fp) != 0)
		nomem();

	if (outfile != NULL)
		rv = write_out(outfile, text, tlen) == 0 ? 0 : 1;
	else if (fwrite(text, 1, tlen, stdout) != tlen ||
	    fflush(stdout) != 0) {
		fprintf(stderr, "egressctl: standard output: %s\n",
		    strerror(errno));
		rv = 1;
	} else
		rv = 0;
 done:
	free(text);
	arena_free(&ctx);
	return rv;
}
