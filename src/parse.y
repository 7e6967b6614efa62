/*
 * The egressd.conf(5) parser, run by the parent only (at start-up, on
 * reload and for -n): its own lexer with a sorted keyword table, macros
 * (name = "value", -D name=value) expanded as $name, nested include files,
 * and a grammar that fills a struct egressd_conf.  Every error is printed
 * as FILE:LINE: message on stderr and parsing goes on to the next line, so
 * one run shows all of them; parse_config() then returns NULL.  Each block
 * kind (gateway now; service, route and destination next) has its own
 * rules and its own open/close functions below the grammar.
 */

%{
#include "config.h"

#include <sys/stat.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "egressd.h"

/* Where a token or a rule starts: the file's name as opened, the line. */
typedef struct yyltype {
	const char	*file;
	int		 line;
} YYLTYPE;
#define YYLTYPE_IS_DECLARED	1
#define YYLLOC_DEFAULT(cur, rhs, n) do {				\
	if (n)								\
		(cur) = YYRHSLOC(rhs, 1);				\
	else								\
		(cur) = YYRHSLOC(rhs, 0);				\
} while (0)

#define LEX_MAXTOKEN	8192	/* longest word or quoted string */
#define LEX_PUSHBACK	8192	/* characters put back, macro text included */
#define LEX_MAXDEPTH	16	/* macros expanding to macros */
#define LEX_TEXTMAX	48	/* a token as quoted in an error message */
#define MAXINCLUDE	16	/* files open at once, the main one included */
#define HOSTNAME_MAX	253	/* longest DNS name, without the root dot */
#define LABEL_MAX	63

struct file {
	TAILQ_ENTRY(file)	 entry;
	FILE			*stream;
	const char		*name;		/* as opened; in the arena */
	int			 lineno;
	int			 lastc;		/* last character read */
};
TAILQ_HEAD(filelist, file);

struct sym {
	TAILQ_ENTRY(sym)	 entry;
	int			 persist;	/* -D: the file cannot reset */
	char			*name;
	char			*value;
};
TAILQ_HEAD(symlist, sym);

/* What yyerror() needs to know of a token to say what went wrong. */
struct lextok {
	int			 tok;
	int			 stmtstart;	/* first token of a statement */
	int			 wordlike;	/* a bare word, keyword-like */
	YYLTYPE			 loc;
	char			 text[LEX_TEXTMAX];
};

int		 yylex(void);
void		 yyerror(const char *);

static void	 conf_error(const YYLTYPE *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
static void	 lex_error(const char *, ...)
		    __attribute__((format(printf, 1, 2)));
static char	*pstrdup(const char *);
static void	 arena_free(void);
static void	 printable(char *, size_t, const char *);

static struct file *pushfile(const char *, const YYLTYPE *);
static void	 popfile(void);
static int	 lgetc(int);
static void	 lungetc(int);
static int	 lex_token(void);
static int	 lex_word(int);
static int	 lex_quoted(int);
static int	 lex_expand(int);
static int	 kw_cmp(const void *, const void *);
static int	 isword(int);

static int	 symset(const char *, const char *, int);
static const char *symget(const char *);
static void	 symclear(int);
static int	 macro_name_ok(const char *);

static void	 include_file(const YYLTYPE *, const char *);
static void	 macro_define(const YYLTYPE *, const char *, const char *);
static int	 num_range(const YYLTYPE *, const char *, long long,
		    long long, long long);
static void	 set_string(const YYLTYPE *, const char *, char *, size_t,
		    const char *);
static void	 set_path(const YYLTYPE *, const char *, char *, size_t,
		    const char *);
static void	 set_facility(const YYLTYPE *, const char *);
static void	 block_abandon(void);
static int	 block_name(const YYLTYPE *, const char *, char *, size_t,
		    const char *);
static void	 gateway_open(const YYLTYPE *, const YYLTYPE *, const char *);
static void	 gateway_close(void);
static void	 listen_add(const YYLTYPE *, const YYLTYPE *, const char *,
		    long long, int);
static int	 host_check(const YYLTYPE *, char *);
static void	 host_add(const YYLTYPE *, const char *);

/* The parse in progress. */
static struct egressd_conf	*conf;
static int			 errors;
static struct filelist		 files = TAILQ_HEAD_INITIALIZER(files);
static struct file		*file;		/* the one being read */
static YYLTYPE			 eofloc;	/* end of the main file */
static struct symlist		 syms = TAILQ_HEAD_INITIALIZER(syms);

/* Strings of this parse (tokens, file names), freed when it ends. */
static char			**arena;
static size_t			 narena, arenasz;

/* The block being read; NULL at top level. */
static struct gateway		*gw;
static YYLTYPE			 gw_loc;
static struct hostlist		*curhosts;	/* where "hosts" add names */
static uint32_t			 ngateways, nlisteners;

static struct {
	unsigned char		 pushback[LEX_PUSHBACK];
	unsigned char		 pbdepth[LEX_PUSHBACK];	/* macro depth */
	size_t			 npushback;
	int			 depth;		/* that of the last character */
	int			 prev;		/* the token returned before */
	int			 errtok;	/* the lexer reported it */
	char			 buf[LEX_MAXTOKEN + 1];
	struct lextok		 cur, last;
} lex;
%}

%locations

%union {
	long long	 number;
	char		*string;
}

%token	AUTO CHROOT CONNECTIONS DRAIN FACILITY GATEWAY HOSTS HTTP HTTPS
%token	IDLE INCLUDE LISTEN LOG MAX ON PORT RESOLVER TIMEOUT TLS USER
%token	WORKERS
%token	ERROR
%token	<string>	STRING
%token	<number>	NUMBER
%type	<number>	port proto

%%

grammar		: /* empty */
		| grammar '\n'
		| grammar INCLUDE STRING '\n'	{
			/*
			 * Reduced as soon as the newline is shifted, before
			 * any lookahead: the next token comes from the file.
			 */
			include_file(&@3, $3);
		}
		| grammar varset '\n'
		| grammar global '\n'
		| grammar block '\n'
		| grammar error '\n'		{
			block_abandon();
			yyerrok;
		}
		;

varset		: STRING '=' STRING		{
			macro_define(&@1, $1, $3);
		}
		| STRING '=' NUMBER		{
			char	num[32];

			snprintf(num, sizeof(num), "%lld", $3);
			macro_define(&@1, $1, num);
		}
		;

/* ---- top-level settings ---- */

global		: USER STRING			{
			set_string(&@2, "user name", conf->user,
			    sizeof(conf->user), $2);
		}
		| CHROOT STRING			{
			set_path(&@2, "chroot", conf->chroot,
			    sizeof(conf->chroot), $2);
		}
		| WORKERS AUTO			{
			conf->workers = 0;
		}
		| WORKERS NUMBER		{
			if (num_range(&@2, "workers", $2, 1,
			    EGRESSD_MAXWORKERS) == 0)
				conf->workers = (int)$2;
		}
		| RESOLVER STRING		{
			set_path(&@2, "resolver", conf->resolver,
			    sizeof(conf->resolver), $2);
		}
		| DRAIN TIMEOUT NUMBER		{
			if (num_range(&@3, "drain timeout", $3, 0, 3600) == 0)
				conf->drain_timeout = (int)$3;
		}
		| IDLE TIMEOUT NUMBER		{
			if (num_range(&@3, "idle timeout", $3, 1, 86400) == 0)
				conf->idle_timeout = (int)$3;
		}
		| MAX CONNECTIONS NUMBER	{
			if (num_range(&@3, "max connections", $3, 1,
			    1000000) == 0)
				conf->max_conns = (int)$3;
		}
		| LOG FACILITY STRING		{
			set_facility(&@3, $3);
		}
		| LOG FACILITY USER		{
			/* "user" is a keyword, and a facility too. */
			set_facility(&@3, "user");
		}
		;

/* ---- blocks: one rule each, opened and closed by their functions ---- */

block		: gateway
		;

gateway		: GATEWAY STRING		{
			gateway_open(&@1, &@2, $2);
		} optnl '{' optnl gwbody	{
			gateway_close();
		}
		;

/*
 * One option a line; the last one may share its line with the closing
 * brace.  No rule ends after an option without a newline or a brace
 * following it, so the parser finds an error while still in the block,
 * and recovers there, at the next line.
 */
gwbody		: gwopts '}'
		| gwopts gwopt '}'
		;

gwopts		: /* empty */
		| gwopts gwopt nl
		| gwopts error nl		{
			yyerrok;
		}
		;

gwopt		: LISTEN ON STRING port proto	{
			listen_add(&@1, &@3, $3, $4, (int)$5);
		}
		| hosts
		;

/* ---- pieces shared by blocks ---- */

port		: PORT NUMBER			{
			if (num_range(&@2, "port", $2, 1, 65535) == 0)
				$$ = $2;
			else
				$$ = 0;
		}
		;

proto		: /* empty */			{ $$ = PROTO_HTTP; }
		| HTTP				{ $$ = PROTO_HTTP; }
		| HTTPS				{ $$ = PROTO_HTTPS; }
		| TLS				{ $$ = PROTO_TLS; }
		;

/*
 * Names go to curhosts, set by the enclosing block.  After an error the
 * parser skips to whichever comes first, the end of the line (the list
 * goes on) or a closing brace (it ends).
 */
hosts		: HOSTS '{' optnl hostitems '}'
		| HOSTS '{' optnl hostitems error '}'	{
			yyerrok;
		}
		;

/* Commas are optional; a newline separates as well as a comma. */
hostitems	: /* empty */
		| hostitems STRING hostsep	{
			host_add(&@2, $2);
		}
		| hostitems error nl		{
			yyerrok;
		}
		;

hostsep		: /* empty */
		| ',' optnl
		| nl
		;

nl		: '\n' optnl
		;

optnl		: /* empty */
		| optnl '\n'
		;

%%

/* ---- errors ---------------------------------------------------------- */

static void
conf_error(const YYLTYPE *loc, const char *fmt, ...)
{
	va_list	ap;

	errors++;
	fprintf(stderr, "%s:%d: ", loc->file, loc->line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* An error in the token being read: the lexer then returns ERROR. */
static void
lex_error(const char *fmt, ...)
{
	va_list	ap;

	errors++;
	fprintf(stderr, "%s:%d: ", lex.cur.loc.file, lex.cur.loc.line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/*
 * Called by the parser with "syntax error" (or "memory exhausted").  The
 * lexer has already said what was wrong with an ERROR token; otherwise
 * name the token, or call a bare word where a statement starts an unknown
 * keyword.  At top level a word may start a macro definition, so the
 * parser only fails on the token after it.
 */
void
yyerror(const char *msg)
{
	if (lex.errtok) {
		lex.errtok = 0;
		return;
	}
	if (strcmp(msg, "syntax error") != 0)
		conf_error(&yylloc, "%s", msg);
	else if (lex.cur.wordlike && lex.cur.stmtstart)
		conf_error(&lex.cur.loc, "unknown keyword: %s", lex.cur.text);
	else if (lex.last.wordlike && lex.last.stmtstart && gw == NULL &&
	    lex.cur.tok != '=')
		conf_error(&lex.last.loc, "unknown keyword: %s",
		    lex.last.text);
	else if (lex.cur.tok == 0)
		conf_error(&lex.cur.loc, "syntax error at end of file");
	else if (lex.cur.tok == '\n')
		conf_error(&lex.cur.loc, "syntax error at end of line");
	else
		conf_error(&lex.cur.loc, "syntax error at \"%s\"",
		    lex.cur.text);
}

/* Copies a user's string for a message: control bytes as '?', cut. */
static void
printable(char *dst, size_t size, const char *src)
{
	size_t	i;

	for (i = 0; i + 1 < size && src[i] != '\0'; i++) {
		unsigned char	c = (unsigned char)src[i];

		dst[i] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	dst[i] = '\0';
	if (src[i] != '\0' && size > 4)
		memcpy(dst + size - 4, "...", 4);
}

/* ---- the arena: strings that live as long as the parse ------------- */

static char *
pstrdup(const char *s)
{
	char	**p;
	size_t	  n;

	if (narena == arenasz) {
		n = arenasz ? arenasz * 2 : 64;
		if ((p = reallocarray(arena, n, sizeof(*arena))) == NULL)
			fatal("reallocarray");
		arena = p;
		arenasz = n;
	}
	return arena[narena++] = ps_xstrdup(s);
}

static void
arena_free(void)
{
	while (narena > 0)
		free(arena[--narena]);
	free(arena);
	arena = NULL;
	arenasz = 0;
}

/* ---- files ----------------------------------------------------------- */

/*
 * Opens name and makes it the file being read.  loc is the include
 * statement, or NULL for the main file, whose errors go to stderr plainly.
 */
static struct file *
pushfile(const char *name, const YYLTYPE *loc)
{
	struct file	*nf;
	struct stat	 st;
	FILE		*fp;
	char		 pname[256];

	printable(pname, sizeof(pname), name);
	if ((fp = fopen(name, "r")) == NULL) {
		if (loc != NULL)
			conf_error(loc, "cannot open include file %s: %s",
			    pname, strerror(errno));
		else
			fprintf(stderr, "%s: %s\n", pname, strerror(errno));
		return NULL;
	}
	if (fstat(fileno(fp), &st) == -1 || !S_ISREG(st.st_mode)) {
		if (loc != NULL)
			conf_error(loc, "include file %s: not a regular file",
			    pname);
		else
			fprintf(stderr, "%s: not a regular file\n", pname);
		fclose(fp);
		return NULL;
	}
	nf = ps_xcalloc(1, sizeof(*nf));
	nf->stream = fp;
	nf->name = pstrdup(name);
	nf->lineno = 1;
	nf->lastc = EOF;
	TAILQ_INSERT_TAIL(&files, nf, entry);
	return file = nf;
}

static void
popfile(void)
{
	TAILQ_REMOVE(&files, file, entry);
	fclose(file->stream);
	free(file);
	file = TAILQ_LAST(&files, filelist);
}

/*
 * Relative include paths are taken from the including file's directory,
 * so a configuration can be checked from anywhere.
 */
static void
include_file(const YYLTYPE *loc, const char *path)
{
	struct file	*f;
	const char	*slash;
	char		 name[PATH_MAX], pname[128];
	int		 depth = 0, n;

	printable(pname, sizeof(pname), path);
	if (*path == '\0') {
		conf_error(loc, "empty include file name");
		return;
	}
	if (*path != '/' && (slash = strrchr(file->name, '/')) != NULL) {
		n = snprintf(name, sizeof(name), "%.*s/%s",
		    (int)(slash - file->name), file->name, path);
		if (n < 0 || (size_t)n >= sizeof(name)) {
			conf_error(loc, "include file name too long: %s",
			    pname);
			return;
		}
	} else if (strlcpy(name, path, sizeof(name)) >= sizeof(name)) {
		conf_error(loc, "include file name too long: %s", pname);
		return;
	}
	TAILQ_FOREACH(f, &files, entry)
		depth++;
	if (depth >= MAXINCLUDE) {
		conf_error(loc, "include nested too deeply: %s", pname);
		return;
	}
	pushfile(name, loc);
}

/* ---- the lexer ------------------------------------------------------- */

static const struct keyword {
	const char	*name;
	int		 token;
} keywords[] = {
	/* Sorted: looked up with bsearch(3). */
	{ "auto",		AUTO },
	{ "chroot",		CHROOT },
	{ "connections",	CONNECTIONS },
	{ "drain",		DRAIN },
	{ "facility",		FACILITY },
	{ "gateway",		GATEWAY },
	{ "hosts",		HOSTS },
	{ "http",		HTTP },
	{ "https",		HTTPS },
	{ "idle",		IDLE },
	{ "include",		INCLUDE },
	{ "listen",		LISTEN },
	{ "log",		LOG },
	{ "max",		MAX },
	{ "on",			ON },
	{ "port",		PORT },
	{ "resolver",		RESOLVER },
	{ "timeout",		TIMEOUT },
	{ "tls",		TLS },
	{ "user",		USER },
	{ "workers",		WORKERS },
};

static int
kw_cmp(const void *k, const void *e)
{
	return strcmp(k, ((const struct keyword *)e)->name);
}

/* Characters of a bare word: names, numbers, addresses, paths, "*". */
static int
isword(int c)
{
	return c != EOF && c != '\0' &&
	    (isalnum(c) || strchr("-_.:*/", c) != NULL);
}

/*
 * The next character: put-back ones first, then the file's.  Unless raw,
 * a backslash before a newline joins the lines, reading as one blank.
 * lex.depth says how many macro expansions deep the character came from.
 */
static int
lgetc(int raw)
{
	int	c, next;

	if (lex.npushback > 0) {
		lex.npushback--;
		lex.depth = lex.pbdepth[lex.npushback];
		return lex.pushback[lex.npushback];
	}
	lex.depth = 0;
	if ((c = getc(file->stream)) == EOF)
		return EOF;
	file->lastc = c;
	if (raw || c != '\\')
		return c;
	if ((next = getc(file->stream)) == '\n') {
		file->lineno++;
		file->lastc = next;
		return ' ';
	}
	if (next != EOF)
		ungetc(next, file->stream);
	return c;
}

/* Puts back the character lgetc() returned last. */
static void
lungetc(int c)
{
	if (c == EOF)
		return;
	if (lex.npushback >= sizeof(lex.pushback))
		fatalx("pushback buffer full");
	lex.pbdepth[lex.npushback] = (unsigned char)lex.depth;
	lex.pushback[lex.npushback++] = (unsigned char)c;
}

int
yylex(void)
{
	int	tok;

	lex.errtok = 0;
	lex.last = lex.cur;
	memset(&lex.cur, 0, sizeof(lex.cur));
	lex.cur.stmtstart = lex.prev == '\n' || lex.prev == '{';
	tok = lex_token();
	if (tok == ERROR)
		lex.errtok = 1;
	lex.cur.tok = tok;
	lex.prev = tok;
	yylloc = lex.cur.loc;
	return tok;
}

static int
lex_token(void)
{
	int	c;

 again:
	do {
		c = lgetc(0);
	} while (c == ' ' || c == '\t' || c == '\r');
	lex.cur.loc.file = file->name;
	lex.cur.loc.line = file->lineno;

	if (c == '#') {
		/* Raw: a comment ending in a backslash does not go on. */
		while ((c = lgetc(1)) != EOF && c != '\n')
			;
	}
	if (c == '$') {
		if (lex_expand(lex.depth + 1) == -1)
			return ERROR;
		goto again;
	}

	switch (c) {
	case EOF:
		lex.cur.loc.line = file->lineno - (file->lastc == '\n');
		if (lex.cur.loc.line < 1)
			lex.cur.loc.line = 1;
		/* Every file's last statement ends, newline or not. */
		if (lex.prev != '\n')
			return '\n';
		if (TAILQ_PREV(file, filelist, entry) != NULL) {
			popfile();
			goto again;
		}
		eofloc = lex.cur.loc;
		return 0;
	case '\n':
		file->lineno++;
		return '\n';
	case '{':
	case '}':
	case ',':
	case '=':
		lex.cur.text[0] = (char)c;
		return c;
	case '"':
	case '\'':
		return lex_quoted(c);
	}
	if (isword(c))
		return lex_word(c);
	if (c >= 0x21 && c < 0x7f)
		lex_error("unexpected character '%c'", c);
	else
		lex_error("unexpected character 0x%02x", (unsigned int)c);
	return ERROR;
}

static int
lex_word(int c)
{
	const struct keyword	*kw;
	const char		*errstr, *p;
	long long		 n;
	size_t			 len = 0;

	do {
		if (len >= LEX_MAXTOKEN) {
			lex_error("word too long");
			return ERROR;
		}
		lex.buf[len++] = (char)c;
	} while (isword(c = lgetc(0)));
	lungetc(c);
	lex.buf[len] = '\0';
	printable(lex.cur.text, sizeof(lex.cur.text), lex.buf);

	if ((kw = bsearch(lex.buf, keywords, sizeof(keywords) /
	    sizeof(keywords[0]), sizeof(keywords[0]), kw_cmp)) != NULL)
		return kw->token;

	p = lex.buf + (lex.buf[0] == '-');
	if (*p != '\0' && strspn(p, "0123456789") == strlen(p)) {
		n = strtonum(lex.buf, LLONG_MIN, LLONG_MAX, &errstr);
		if (errstr != NULL) {
			/* Beyond long long: no setting takes it anyway. */
			lex_error("number out of range: %s", lex.cur.text);
			return ERROR;
		}
		yylval.number = n;
		return NUMBER;
	}

	lex.cur.wordlike = strspn(lex.buf,
	    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_-") == len;
	yylval.string = pstrdup(lex.buf);
	return STRING;
}

/*
 * A string in double or single quotes, never expanded.  Escapes: \" \'
 * \\ \n \t, and a backslash before a newline joins the lines.
 */
static int
lex_quoted(int quote)
{
	size_t	len = 0;
	int	c, bad = 0;

	for (;;) {
		c = lgetc(1);
		if (c == EOF || c == '\n') {
			lex_error("unterminated quoted string");
			lungetc(c);
			return ERROR;
		}
		if (c == quote)
			break;
		if (c == '\\') {
			switch (c = lgetc(1)) {
			case '\n':
				file->lineno++;
				continue;
			case '\\':
			case '"':
			case '\'':
				break;
			case 'n':
				c = '\n';
				break;
			case 't':
				c = '\t';
				break;
			case EOF:
				lex_error("unterminated quoted string");
				return ERROR;
			default:
				if (!bad && c >= 0x21 && c < 0x7f)
					lex_error("invalid escape \\%c in "
					    "quoted string", c);
				else if (!bad)
					lex_error("invalid escape in quoted "
					    "string");
				bad = 1;
				continue;
			}
		} else if ((c < 0x20 && c != '\t') || c == 0x7f) {
			if (!bad)
				lex_error("invalid character 0x%02x in quoted "
				    "string", (unsigned int)c);
			bad = 1;
			continue;
		}
		if (len >= LEX_MAXTOKEN) {
			if (!bad)
				lex_error("quoted string too long");
			bad = 1;
			continue;
		}
		lex.buf[len++] = (char)c;
	}
	lex.buf[len] = '\0';
	if (bad)
		return ERROR;
	printable(lex.cur.text, sizeof(lex.cur.text), lex.buf);
	yylval.string = pstrdup(lex.buf);
	return STRING;
}

/*
 * $name: its value is put back to be read as configuration text, each
 * character marked with depth, the expansion's nesting.  A macro that
 * refers to itself, directly or not, runs into LEX_MAXDEPTH.
 */
static int
lex_expand(int depth)
{
	const char	*val;
	char		 name[LEX_TEXTMAX];
	size_t		 len = 0;
	int		 c;

	while ((c = lgetc(0)) != EOF && (isalnum(c) || c == '_')) {
		if (len >= sizeof(name) - 1) {
			lex_error("macro name too long");
			return -1;
		}
		name[len++] = (char)c;
	}
	lungetc(c);
	name[len] = '\0';
	if (len == 0) {
		lex_error("missing macro name after '$'");
		return -1;
	}
	if ((val = symget(name)) == NULL) {
		lex_error("undefined macro: %s", name);
		return -1;
	}
	if (depth > LEX_MAXDEPTH) {
		lex_error("macro expansion nested too deeply: %s", name);
		/* Drop the rest of the runaway expansion. */
		while (lex.npushback > 0 &&
		    lex.pbdepth[lex.npushback - 1] > 0)
			lex.npushback--;
		return -1;
	}
	len = strlen(val);
	/* Keep a few bytes for lungetc(). */
	if (len > sizeof(lex.pushback) - 16 - lex.npushback) {
		lex_error("macro expansion too long: %s", name);
		return -1;
	}
	while (len > 0) {
		lex.pbdepth[lex.npushback] = (unsigned char)depth;
		lex.pushback[lex.npushback++] = (unsigned char)val[--len];
	}
	return 0;
}

/* ---- macros ---------------------------------------------------------- */

static int
macro_name_ok(const char *name)
{
	const char	*p;

	if (*name == '\0')
		return 0;
	for (p = name; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) && *p != '_')
			return 0;
	return 1;
}

/* -1 on a bad name or value.  A -D definition wins over the file's. */
static int
symset(const char *name, const char *value, int persist)
{
	struct sym	*s;

	if (!macro_name_ok(name) || strchr(value, '\n') != NULL)
		return -1;
	TAILQ_FOREACH(s, &syms, entry)
		if (strcmp(s->name, name) == 0)
			break;
	if (s != NULL) {
		if (s->persist && !persist)
			return 0;
		free(s->value);
		s->value = ps_xstrdup(value);
		s->persist = persist;
		return 0;
	}
	s = ps_xcalloc(1, sizeof(*s));
	s->name = ps_xstrdup(name);
	s->value = ps_xstrdup(value);
	s->persist = persist;
	TAILQ_INSERT_TAIL(&syms, s, entry);
	return 0;
}

static const char *
symget(const char *name)
{
	struct sym	*s;

	TAILQ_FOREACH(s, &syms, entry)
		if (strcmp(s->name, name) == 0)
			return s->value;
	return NULL;
}

/* Forgets the file's macros; with all, the command line's too. */
static void
symclear(int all)
{
	struct sym	*s, *next;

	for (s = TAILQ_FIRST(&syms); s != NULL; s = next) {
		next = TAILQ_NEXT(s, entry);
		if (s->persist && !all)
			continue;
		TAILQ_REMOVE(&syms, s, entry);
		free(s->name);
		free(s->value);
		free(s);
	}
}

int
cmdline_symset(const char *s)
{
	const char	*eq;
	char		*name;
	int		 rv;

	if ((eq = strchr(s, '=')) == NULL || eq == s)
		return -1;
	if ((name = strndup(s, (size_t)(eq - s))) == NULL)
		fatal("strndup");
	rv = symset(name, eq + 1, 1);
	free(name);
	return rv;
}

static void
macro_define(const YYLTYPE *loc, const char *name, const char *value)
{
	char	pname[LEX_TEXTMAX];

	printable(pname, sizeof(pname), name);
	if (!macro_name_ok(name))
		conf_error(loc, "invalid macro name: %s", pname);
	else if (strchr(value, '\n') != NULL)
		conf_error(loc, "macro %s: value holds a newline", pname);
	else
		symset(name, value, 0);
}

/* ---- settings -------------------------------------------------------- */

static int
num_range(const YYLTYPE *loc, const char *what, long long n, long long min,
    long long max)
{
	if (n >= min && n <= max)
		return 0;
	conf_error(loc, "%s: number out of range: %lld (%lld..%lld)", what,
	    n, min, max);
	return -1;
}

/* Never truncated: a name that does not fit is an error. */
static void
set_string(const YYLTYPE *loc, const char *what, char *dst, size_t size,
    const char *src)
{
	size_t	len = strlen(src);

	if (len == 0)
		conf_error(loc, "%s is empty", what);
	else if (len >= size)
		conf_error(loc, "%s too long (%zu bytes, at most %zu)", what,
		    len, size - 1);
	else
		strlcpy(dst, src, size);
}

static void
set_path(const YYLTYPE *loc, const char *what, char *dst, size_t size,
    const char *src)
{
	char	pname[128];

	printable(pname, sizeof(pname), src);
	if (*src != '/')
		conf_error(loc, "%s must be an absolute path: %s", what,
		    pname);
	else
		set_string(loc, what, dst, size, src);
}

static void
set_facility(const YYLTYPE *loc, const char *name)
{
	char	pname[LEX_TEXTMAX];
	int	fac;

	printable(pname, sizeof(pname), name);
	if ((fac = facility_value(name)) == -1)
		conf_error(loc, "unknown log facility: %s", pname);
	else
		conf->log_facility = fac;
}

/* ---- blocks ---------------------------------------------------------- */

/* After a syntax error at top level: whatever block it was in is over. */
static void
block_abandon(void)
{
	gw = NULL;
	curhosts = NULL;
}

/* A block's name: not empty, no control bytes, fits its array. */
static int
block_name(const YYLTYPE *loc, const char *what, char *dst, size_t size,
    const char *name)
{
	const char	*p;
	size_t		 len = strlen(name);

	if (len == 0) {
		conf_error(loc, "%s name is empty", what);
		return -1;
	}
	if (len >= size) {
		conf_error(loc, "%s name too long (%zu bytes, at most %zu)",
		    what, len, size - 1);
		return -1;
	}
	for (p = name; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f) {
			conf_error(loc, "%s name holds a control character",
			    what);
			return -1;
		}
	strlcpy(dst, name, size);
	return 0;
}

/*
 * The gateway goes in the configuration even when its name is wrong, so
 * that its block is checked too; the errors make the parse fail anyway.
 */
static void
gateway_open(const YYLTYPE *loc, const YYLTYPE *nameloc, const char *name)
{
	struct gateway	*g;

	g = ps_xcalloc(1, sizeof(*g));
	TAILQ_INIT(&g->hosts);
	g->id = ++ngateways;
	if (block_name(nameloc, "gateway", g->name, sizeof(g->name),
	    name) == 0 && conf_gateway(conf, name) != NULL)
		conf_error(nameloc, "duplicate gateway \"%s\"", g->name);
	TAILQ_INSERT_TAIL(&conf->gateways, g, entry);
	gw = g;
	gw_loc = *loc;
	curhosts = &g->hosts;
}

static void
gateway_close(void)
{
	struct listener	*l;

	TAILQ_FOREACH(l, &conf->listeners, entry)
		if (l->gateway == gw->id)
			break;
	if (l == NULL)
		conf_error(&gw_loc, "gateway \"%s\" has no listen on",
		    gw->name);
	block_abandon();
}

/* ADDRESS is an IPv4 or IPv6 literal, or * for 0.0.0.0. */
static void
listen_add(const YYLTYPE *loc, const YYLTYPE *addrloc, const char *addr,
    long long port, int proto)
{
	struct sockaddr_storage	 ss;
	struct sockaddr_in	*sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&ss;
	struct listener		*l;
	struct gateway		*g;
	socklen_t		 sslen;
	char			 paddr[LEX_TEXTMAX], abuf[INET6_ADDRSTRLEN];

	memset(&ss, 0, sizeof(ss));
	if (strcmp(addr, "*") == 0) {
		sin->sin_family = AF_INET;
		sin->sin_addr.s_addr = htonl(INADDR_ANY);
		sslen = sizeof(*sin);
	} else if (inet_pton(AF_INET, addr, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sslen = sizeof(*sin);
	} else if (inet_pton(AF_INET6, addr, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sslen = sizeof(*sin6);
	} else {
		printable(paddr, sizeof(paddr), addr);
		conf_error(addrloc, "invalid address \"%s\"", paddr);
		return;
	}
	if (port == 0)
		return;		/* already reported */
	if (ss.ss_family == AF_INET)
		sin->sin_port = htons((uint16_t)port);
	else
		sin6->sin6_port = htons((uint16_t)port);

	TAILQ_FOREACH(l, &conf->listeners, entry) {
		if (!addr_equal(&l->ss, &ss))
			continue;
		TAILQ_FOREACH(g, &conf->gateways, entry)
			if (g->id == l->gateway)
				break;
		conf_error(loc, "duplicate listen on %s port %lld (gateway "
		    "\"%s\")", addr_ntop(&ss, abuf, sizeof(abuf)), port,
		    g != NULL ? g->name : "");
		return;
	}

	if (gw == NULL)
		return;
	l = ps_xcalloc(1, sizeof(*l));
	l->id = ++nlisteners;
	l->gateway = gw->id;
	l->ss = ss;
	l->sslen = sslen;
	l->proto = proto;
	l->fd = -1;
	TAILQ_INSERT_TAIL(&conf->listeners, l, entry);
}

/*
 * Lowercases name in place and checks it: DNS labels of [a-z0-9-], 1 to
 * 63 bytes each, at most 253 bytes in all, "*." allowed in front.
 */
static int
host_check(const YYLTYPE *loc, char *name)
{
	char		 pname[LEX_TEXTMAX];
	const char	*why = NULL, *p;
	size_t		 len = strlen(name), label = 0;
	char		*q;

	for (q = name; *q != '\0'; q++)
		*q = (char)tolower((unsigned char)*q);
	printable(pname, sizeof(pname), name);
	if (len > HOSTNAME_MAX) {
		conf_error(loc, "host name too long (%zu bytes, at most %d): "
		    "%s", len, HOSTNAME_MAX, pname);
		return -1;
	}
	p = name;
	if (strncmp(p, "*.", 2) == 0)
		p += 2;
	if (*p == '\0')
		why = "empty label";
	for (; why == NULL; p++) {
		if (*p == '.' || *p == '\0') {
			if (label == 0)
				why = "empty label";
			else if (label > LABEL_MAX)
				why = "label longer than 63 bytes";
			label = 0;
			if (*p == '\0')
				break;
		} else if ((*p >= 'a' && *p <= 'z') ||
		    (*p >= '0' && *p <= '9') || *p == '-')
			label++;
		else
			why = "invalid character";
	}
	if (why != NULL) {
		conf_error(loc, "invalid host name \"%s\": %s", pname, why);
		return -1;
	}
	return 0;
}

static void
host_add(const YYLTYPE *loc, const char *name)
{
	struct hostname	*h;
	char		 buf[EGD_HOST_MAX];

	if (curhosts == NULL)
		return;
	if (strlen(name) >= sizeof(buf)) {
		conf_error(loc, "host name too long (%zu bytes, at most %d)",
		    strlen(name), HOSTNAME_MAX);
		return;
	}
	strlcpy(buf, name, sizeof(buf));
	if (host_check(loc, buf) == -1)
		return;
	TAILQ_FOREACH(h, curhosts, entry)
		if (strcmp(h->name, buf) == 0) {
			conf_error(loc, "duplicate host \"%s\"", buf);
			return;
		}
	h = ps_xcalloc(1, sizeof(*h));
	strlcpy(h->name, buf, sizeof(h->name));
	TAILQ_INSERT_TAIL(curhosts, h, entry);
}

/* ---- entry point ----------------------------------------------------- */

/*
 * Parses file (and what it includes) into a new configuration.  Returns
 * NULL after printing every error.  flags is reserved and must be 0.
 */
struct egressd_conf *
parse_config(const char *filename, int flags)
{
	struct egressd_conf	*c;
	size_t			 i;

	(void)flags;
	for (i = 1; i < sizeof(keywords) / sizeof(keywords[0]); i++)
		if (strcmp(keywords[i - 1].name, keywords[i].name) >= 0)
			fatalx("keyword table not sorted at %s",
			    keywords[i].name);

	conf = conf_new();
	errors = 0;
	gw = NULL;
	curhosts = NULL;
	ngateways = nlisteners = 0;
	memset(&lex, 0, sizeof(lex));
	lex.prev = '\n';
	symclear(0);

	if (pushfile(filename, NULL) == NULL) {
		conf_free(conf);
		conf = NULL;
		arena_free();
		return NULL;
	}
	eofloc.file = file->name;
	eofloc.line = 1;

	if (yyparse() != 0 && errors == 0)
		errors++;
	if (TAILQ_EMPTY(&conf->gateways))
		conf_error(&eofloc, "no gateway defined");

	while (!TAILQ_EMPTY(&files)) {
		file = TAILQ_LAST(&files, filelist);
		popfile();
	}
	symclear(0);
	arena_free();
	block_abandon();

	c = conf;
	conf = NULL;
	if (errors > 0) {
		conf_free(c);
		return NULL;
	}
	return c;
}
