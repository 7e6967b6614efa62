/*
 * The egressd.conf(5) parser, run by the parent only (at start-up, on
 * reload and for -n): its own lexer with a sorted keyword table, macros
 * (name = "value", -D name=value) expanded as $name, nested include files,
 * and a grammar that fills a struct egressd_conf.  Every error is printed
 * as FILE:LINE: message on stderr and parsing goes on to the next line, so
 * one run shows all of them; parse_config() then returns NULL.  Each block
 * kind (gateway, service, route and its match blocks) has its own rules
 * and its own open/close functions below the grammar; what one block says
 * of another (a route's gateways, the services that register a route's
 * destinations) is checked once the whole file is read.  Addresses,
 * networks and host names are judged by addr.c, as the workers judge them.
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
#define MAXNAMESERVERS	8	/* conf->nameservers[] */
#define HDRNAME_MAX	63	/* struct hdr_match */
#define HDRVALUE_MAX	255
#define METHOD_MAX	15	/* struct route_match method[] */

/* The limits above are those of the fixed arrays they fill. */
#define FIELD_SIZE(type, field)	sizeof(((type *)0)->field)
_Static_assert(MAXNAMESERVERS == FIELD_SIZE(struct egressd_conf,
    nameservers) / sizeof(struct sockaddr_storage), "nameservers");
_Static_assert(HDRNAME_MAX + 1 == FIELD_SIZE(struct hdr_match, name),
    "header name");
_Static_assert(HDRVALUE_MAX + 1 == FIELD_SIZE(struct hdr_match, value),
    "header value");
_Static_assert(METHOD_MAX + 1 == FIELD_SIZE(struct route_match, method),
    "method");

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
	int			 keyword;	/* a word of keywords[] */
	YYLTYPE			 loc;
	char			 text[LEX_TEXTMAX];
};

/*
 * A reference from a route to something that may come later in the file,
 * checked when the whole file is read: a gateway by name, or a service
 * that must register a destination or a rewritten authority.
 */
enum ref_kind {
	REF_GATEWAY,		/* r->gateways[idx] is name */
	REF_FORWARD,		/* m->dests[idx] */
	REF_REWRITE,		/* m->rewrite_authority */
	REF_PATH,		/* m has a path condition: for check_paths() */
};

struct ref {
	int			 kind;		/* enum ref_kind */
	YYLTYPE			 loc;
	struct route		*r;
	struct route_match	*m;
	int			 idx;
	const char		*name;		/* in the arena */
};

int		 yylex(void);
void		 yyerror(const char *);

static void	 conf_error(const YYLTYPE *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
static void	 conf_warn(const YYLTYPE *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
static void	 lex_error(const char *, ...)
		    __attribute__((format(printf, 1, 2)));
static char	*pstrdup(const char *);
static void	 arena_free(void);
static void	 printable(char *, size_t, const char *);
static int	 takes_name(int);

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
static void	 set_number(const YYLTYPE *, const char *, int *, long long,
		    long long, long long);
static void	 set_dnsttl(const YYLTYPE *, const char *, int *, long long);
static void	 set_limit(const YYLTYPE *, const char *, uint32_t *,
		    uint32_t *, long long, long long);
static void	 nameserver_add(const YYLTYPE *, const YYLTYPE *,
		    const char *, long long);
static int	 addr_get(const YYLTYPE *, const char *, struct egd_addr *);
static int	 in_block(void);
static void	 block_abandon(void);
static int	 block_name(const YYLTYPE *, const char *, char *, size_t,
		    const char *);
static uint32_t	 block_seen(int, const char *, uint32_t);
static void	 gateway_open(const YYLTYPE *, const YYLTYPE *, const char *);
static void	 gateway_close(void);
static void	 gw_escaped(int);
static void	 listen_add(const YYLTYPE *, const YYLTYPE *, const char *,
		    long long, int);
static int	 host_norm(const YYLTYPE *, const char *, const char *, int,
		    char *, size_t);
static void	 host_add(const YYLTYPE *, const char *);
static void	 cidr_add(const YYLTYPE *, const char *);
static void	 private_all(const YYLTYPE *);
static void	 private_open(const YYLTYPE *);
static void	 private_add(const YYLTYPE *, const char *);
static void	 private_close(const YYLTYPE *);
static void	 service_open(const YYLTYPE *, const YYLTYPE *, const char *);
static void	 dest_open(const YYLTYPE *, const YYLTYPE *, const char *);
static void	 dest_close(void);
static void	 dest_host(const YYLTYPE *, const char *);
static void	 dport_open(const YYLTYPE *, long long, int);
static void	 dport_close(void);
static void	 dport_sni(const YYLTYPE *, const char *);
static void	 dport_ca(const YYLTYPE *, const char *);
static void	 tls_path(const YYLTYPE *, const char *, char *,
		    const char *);
static int	 tls_minver(const YYLTYPE *, const char *);
static void	 tls_ciphers(const YYLTYPE *, const char *, char *);
static void	 listen_close(void);
static void	 ident_add(const YYLTYPE *, const char *);
static void	 dport_san(const YYLTYPE *, const char *);
static void	 check_default_ca(void);
static void	 service_close(void);
static void	 svc_port_add(const YYLTYPE *, long long, int, const char *);
static void	 svc_resolution(const YYLTYPE *, int);
static void	 endpoint_add(const YYLTYPE *, const YYLTYPE *, const char *,
		    long long);
static void	 route_open(const YYLTYPE *, const YYLTYPE *, const char *);
static void	 route_close(void);
static void	 route_gateway(const YYLTYPE *, const char *);
static void	 match_open(void);
static void	 match_close(void);
static void	 cond_authority(const YYLTYPE *, const char *);
static void	 cond_port(const YYLTYPE *, long long);
static void	 cond_path(const YYLTYPE *, int, const char *);
static void	 cond_method(const YYLTYPE *, const char *);
static void	 cond_header(const YYLTYPE *, const char *, const char *);
static void	 dest_add(const YYLTYPE *, const YYLTYPE *, const char *,
		    long long, long long);
static void	 rewrite_authority(const YYLTYPE *, const char *);
static void	 rewrite_prefix(const YYLTYPE *, const char *);
static int	 path_ok(const YYLTYPE *, const char *, const char *);
static void	 ref_add(int, const YYLTYPE *, struct route *,
		    struct route_match *, int, const char *);
static void	 check_refs(void);
static void	 check_paths(void);
static int	 registered(const char *, uint16_t);
static void	 check_global(void);
static void	 metrics_listen(const YYLTYPE *, const YYLTYPE *, const char *,
		    long long);
static void	 control_socket(const YYLTYPE *, const YYLTYPE *, const char *,
		    const char *);
static void	 check_metrics(void);
static void	 audit_open(const YYLTYPE *);
static void	 audit_close(void);
static void	 audit_sink_add(const YYLTYPE *, const YYLTYPE *, int,
		    const char *, long long);
static void	 audit_sdid(const YYLTYPE *, const char *);

/* The parse in progress. */
static struct egressd_conf	*conf;
static int			 errors;
static struct filelist		 files = TAILQ_HEAD_INITIALIZER(files);
static struct file		*file;		/* the one being read */
static YYLTYPE			 eofloc;	/* end of the main file */
static struct symlist		 syms = TAILQ_HEAD_INITIALIZER(syms);

/* Strings of this parse (tokens, file names), freed when it ends. */
static struct strblock		*arena;

/* Checks left for the end of the file. */
static struct ref		*refs;
static size_t			 nrefs, refsz;
static YYLTYPE			 dnsttl_loc;	/* the last dns min/max ttl */
static int			 dnsttl_set;

/*
 * The block being read; all NULL at top level.  A match block is inside
 * a route: m and r are then both set.
 */
static struct gateway		*gw;
static struct service		*svc;
static struct route		*rt;
static struct route_match	*rm;
static struct destination	*cdst;		/* the destination block open */
static struct dst_port		*dp;		/* its port line being read */
static struct listener		*cl;		/* the listen line being read */
static YYLTYPE			 cl_loc;
static YYLTYPE			 dp_loc;
static int			 san_items;	/* verify-san names read */
static int			 ndests;
static YYLTYPE			 blk_loc;	/* the block's first line */
/*
 * The service block open: its lists grow here, and service_close() gives
 * the service arrays of their exact length.
 */
static struct {
	YYLTYPE			 res_loc;	/* the last "resolution" */
	YYLTYPE			 ep_loc;	/* first endpoint */
	YYLTYPE			 wild_loc;	/* first "*." host */
	char			 wild[EGD_HOST_MAX];
	struct svc_port		 ports[EGD_MAX_PORTS];
	int			 nports;
	struct svc_endpoint	 endpoints[EGD_MAX_ENDPOINTS];
	int			 nendpoints;
	struct egd_cidr		 from[EGD_MAX_CIDRS];
	int			 nfrom;
	char			 idents[EGD_MAX_IDENTS][EGD_IDENT_MAX];
	int			 nidents;
	struct egd_cidr		 private_nets[EGD_MAX_CIDRS];
	int			 nprivate_nets;
	int			 privlist;	/* networks in this list */
} svcx;
/* Where "hosts" add names: a record's, by its id. */
static struct hostset		*curhosts;
static uint32_t			*curnhosts;
static uint32_t			 curowner;
static struct egd_cidr		*curfrom;	/* where "from" adds networks */
static int			*curnfrom;
static char			(*curidents)[EGD_IDENT_MAX];	/* from identity */
static int			*curnidents;
static uint32_t			 ngateways, nlisteners, nservices, nroutes;
static uint32_t			 nmatches;
static int			 inaudit;	/* in the audit block */
static struct {				/* nstls, for nameserver_add() */
	const char		*name, *ca;
	YYLTYPE			 nameloc, caloc;
} ns_tls;
/* Block names seen, by kind: each name's owner is its block's id. */
enum { BN_GATEWAY, BN_SERVICE, BN_ROUTE, BN_DEST, BN_NKINDS };
static struct hostmap		*blocknames[BN_NKINDS];
static YYLTYPE			 audit_loc;	/* the first audit block */

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

%token	ACTION ALLOW AUTHORITY AUTO BURST CHROOT CONNECT CONNECTIONS DNS
%token	ALL AUDIT BUFFER DENIALS EVENTS JOURNALD SDID SINK STDERR UDP UNIX
%token	DRAIN ENDPOINT ENFORCE FACILITY FORWARD FROM GATEWAY HEADER HEADERS
%token	HOSTS HTTP HTTPS IDLE INCLUDE LENGTH LIMIT LISTEN LOG MATCH MAX
%token	METHOD MIN NAMESERVER NEGATIVE ON PATH PER POOL PORT PREFIX PRIVATE
%token	RATE REPORT REQUEST RESOLUTION RESOLVER RETRIES REWRITE ROUTE
%token	SERVICE SIZE SOURCE STATIC TCP TIMEOUT TLS TO TTL TUNNELS URI USER
%token	WEBSOCKET WEIGHT WORKERS
%token	CONTROL GROUP METRICS SOCKET
%token	CA CIPHERS DESTINATION DISABLE HOST MUTUAL SIMPLE SNI TLSVERSION
%token	VERIFYSAN
%token	CHECK OFF
%token	CERT CLIENT IDENTITY KEY OPTIONAL
%token	DECODE ESCAPED KEEP MERGE REJECT SLASHES
%token	GRACE REVOKE
%token	TRANSPARENT
%token	ERROR
%token	<string>	STRING
%token	<number>	NUMBER
%type	<number>	port optport proto svcproto optweight optburst persource
%type	<number>	tlsmode
%type	<string>	optlabel optgroup

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
			set_number(&@2, "workers", &conf->workers, $2, 1,
			    EGRESSD_MAXWORKERS);
		}
		| RESOLVER STRING		{
			set_path(&@2, "resolver", conf->resolver,
			    sizeof(conf->resolver), $2);
		}
		| NAMESERVER STRING optport nstls {
			nameserver_add(&@1, &@2, $2, $3);
		}
		| DRAIN TIMEOUT NUMBER		{
			set_number(&@3, "drain timeout", &conf->drain_timeout,
			    $3, 0, 3600);
		}
		| REVOKE GRACE NUMBER		{
			set_number(&@3, "revoke grace", &conf->revoke_grace,
			    $3, 0, 3600);
		}
		| IDLE TIMEOUT NUMBER		{
			set_number(&@3, "idle timeout", &conf->idle_timeout,
			    $3, 1, 86400);
		}
		| REQUEST TIMEOUT NUMBER	{
			set_number(&@3, "request timeout",
			    &conf->request_timeout, $3, 1, 3600);
		}
		| CONNECT TIMEOUT NUMBER	{
			set_number(&@3, "connect timeout",
			    &conf->connect_timeout, $3, 1, 3600);
		}
		| MAX CONNECTIONS NUMBER	{
			set_number(&@3, "max connections", &conf->max_conns,
			    $3, 1, 1000000);
		}
		| MAX HEADER SIZE NUMBER	{
			set_number(&@4, "max header size",
			    &conf->max_header_size, $4, 1024, 1048576);
		}
		| MAX HEADERS NUMBER		{
			set_number(&@3, "max headers", &conf->max_headers,
			    $3, 1, 10000);
		}
		| MAX URI LENGTH NUMBER		{
			set_number(&@4, "max uri length", &conf->max_uri,
			    $4, 64, 1048576);
		}
		| DNS MIN TTL NUMBER		{
			set_dnsttl(&@4, "dns min ttl", &conf->dns_min_ttl, $4);
		}
		| DNS MAX TTL NUMBER		{
			set_dnsttl(&@4, "dns max ttl", &conf->dns_max_ttl, $4);
		}
		| DNS NEGATIVE TTL NUMBER	{
			set_number(&@4, "dns negative ttl",
			    &conf->dns_neg_ttl, $4, 0, 86400);
		}
		| POOL IDLE NUMBER		{
			set_number(&@3, "pool idle", &conf->pool_idle, $3,
			    0, 1024);
		}
		| POOL TIMEOUT NUMBER		{
			set_number(&@3, "pool timeout", &conf->pool_timeout,
			    $3, 1, 3600);
		}
		| LIMIT CONNECTIONS NUMBER persource {
			set_limit(&@3, "limit connections", $4 ?
			    &conf->limits.src_conns : &conf->limits.conns,
			    NULL, $3, 0);
		}
		| LIMIT TUNNELS NUMBER persource {
			set_limit(&@3, "limit tunnels", $4 ?
			    &conf->limits.src_tunnels : &conf->limits.tunnels,
			    NULL, $3, 0);
		}
		| LIMIT RATE NUMBER optburst persource {
			if ($5)
				set_limit(&@3, "limit rate",
				    &conf->limits.src_rate,
				    &conf->limits.src_burst, $3, $4);
			else
				set_limit(&@3, "limit rate",
				    &conf->limits.rate, &conf->limits.burst,
				    $3, $4);
		}
		| LOG FACILITY STRING		{
			set_facility(&@3, $3);
		}
		| LOG FACILITY USER		{
			/* "user" is a keyword, and a facility too. */
			set_facility(&@3, "user");
		}
		| METRICS LISTEN ON STRING port	{
			metrics_listen(&@1, &@4, $4, $5);
		}
		| CONTROL SOCKET STRING optgroup {
			control_socket(&@3, &@4, $3, $4);
		}
		;

/* A nameserver's DNS over TLS: the name its certificate must have. */
nstls		: /* empty */			{
			ns_tls.name = ns_tls.ca = NULL;
		}
		| TLS STRING nsca		{
			ns_tls.name = $2;
			ns_tls.nameloc = @2;
		}
		;

nsca		: /* empty */			{ ns_tls.ca = NULL; }
		| CA STRING			{
			ns_tls.ca = $2;
			ns_tls.caloc = @2;
		}
		;

optgroup	: /* empty */			{ $$ = NULL; }
		| GROUP STRING			{ $$ = $2; }
		;

/* 0: none given; -1: out of range, already reported. */
optburst	: /* empty */			{ $$ = 0; }
		| BURST NUMBER			{
			if (num_range(&@2, "burst", $2, 1, 1000000) == 0)
				$$ = $2;
			else
				$$ = -1;
		}
		;

persource	: /* empty */			{ $$ = 0; }
		| PER SOURCE			{ $$ = 1; }
		;

/* ---- blocks: one rule each, opened and closed by their functions ---- */

block		: gateway
		| service
		| route
		| destination
		| audit
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
 * and recovers there, at the next line.  (Not at a closing brace: the
 * line may hold a whole inner block.)
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
		} lstopts			{
			listen_close();
		}
		| hosts
		| MERGE SLASHES ON		{
			gw->merge_slashes = 1;
		}
		| MERGE SLASHES OFF		{
			gw->merge_slashes = 0;
		}
		| ESCAPED SLASHES KEEP		{
			gw_escaped(ESLASH_KEEP);
		}
		| ESCAPED SLASHES REJECT	{
			gw_escaped(ESLASH_REJECT);
		}
		| ESCAPED SLASHES DECODE	{
			gw_escaped(ESLASH_DECODE);
		}
		;

/* A ServiceEntry. */
service		: SERVICE STRING		{
			service_open(&@1, &@2, $2);
		} optnl '{' optnl svcbody	{
			service_close();
		}
		;

svcbody		: svcopts '}'
		| svcopts svcopt '}'
		;

svcopts		: /* empty */
		| svcopts svcopt nl
		| svcopts error nl		{
			yyerrok;
		}
		;

svcopt		: hosts
		| port svcproto optlabel	{
			svc_port_add(&@1, $1, (int)$2, $3);
		}
		| RESOLUTION DNS		{
			svc_resolution(&@1, RES_DNS);
		}
		| RESOLUTION STATIC		{
			svc_resolution(&@1, RES_STATIC);
		}
		| ENDPOINT STRING optport	{
			endpoint_add(&@1, &@2, $2, $3);
		}
		| ACTION ENFORCE		{
			svc->action = ACT_ENFORCE;
		}
		| ACTION REPORT			{
			svc->action = ACT_REPORT;
		}
		| ALLOW PRIVATE			{
			private_all(&@1);
		}
		| ALLOW PRIVATE '{'		{
			private_open(&@1);
		} optnl privitems '}'		{
			private_close(&@1);
		}
		| SNI CHECK ON			{
			svc->sni_nocheck = 0;
		}
		| SNI CHECK OFF			{
			svc->sni_nocheck = 1;
		}
		| from
		;

/* A DestinationRule: how to reach a host's ports (TLS origination). */
destination	: DESTINATION STRING		{
			dest_open(&@1, &@2, $2);
		} optnl '{' optnl dstbody	{
			dest_close();
		}
		;

dstbody		: dstopts '}'
		| dstopts dstopt '}'
		;

dstopts		: /* empty */
		| dstopts dstopt nl
		| dstopts error nl		{
			dp = NULL;
			yyerrok;
		}
		;

dstopt		: HOST STRING			{
			dest_host(&@2, $2);
		}
		| port TLS tlsmode		{
			dport_open(&@1, $1, (int)$3);
		} tlsopts			{
			dport_close();
		}
		;

/* TLS termination on an https listener. */
lstopts		: /* empty */
		| lstopts lstopt
		;

lstopt		: CERT STRING			{
			tls_path(&@2, "cert", cl != NULL ? cl->cert : NULL,
			    $2);
		}
		| TRANSPARENT			{
			if (cl != NULL) {
				if (cl->transparent)
					conf_error(&@1, "transparent given "
					    "twice");
				cl->transparent = 1;
			}
		}
		| KEY STRING			{
			tls_path(&@2, "key", cl != NULL ? cl->key : NULL,
			    $2);
		}
		| CLIENT CA STRING		{
			tls_path(&@3, "client ca", cl != NULL ?
			    cl->clientca : NULL, $3);
		}
		| CLIENT OPTIONAL		{
			if (cl != NULL)
				cl->client_optional = 1;
		}
		| MIN TLSVERSION STRING		{
			int v = tls_minver(&@3, $3);

			if (v != 0 && cl != NULL)
				cl->minver = v;
		}
		| CIPHERS STRING		{
			tls_ciphers(&@2, $2, cl != NULL ? cl->ciphers : NULL);
		}
		;

tlsmode		: SIMPLE			{ $$ = TLSM_SIMPLE; }
		| DISABLE			{ $$ = TLSM_DISABLE; }
		| MUTUAL			{ $$ = TLSM_MUTUAL; }
		;

tlsopts		: /* empty */
		| tlsopts tlsopt
		;

tlsopt		: SNI STRING			{
			dport_sni(&@2, $2);
		}
		| CA STRING			{
			dport_ca(&@2, $2);
		}
		| MIN TLSVERSION STRING		{
			int v = tls_minver(&@3, $3);

			if (v != 0 && dp != NULL)
				dp->minver = (uint8_t)v;
		}
		| CIPHERS STRING		{
			tls_ciphers(&@2, $2, dp != NULL ? dp->ciphers : NULL);
		}
		| VERIFYSAN '{' optnl			{
			san_items = 0;
		} sanitems '}'				{
			if (san_items == 0)
				conf_error(&@1, "verify-san: an empty list");
		}
		| CERT STRING			{
			tls_path(&@2, "cert", dp != NULL ? dp->cert : NULL,
			    $2);
		}
		| KEY STRING			{
			tls_path(&@2, "key", dp != NULL ? dp->key : NULL,
			    $2);
		}
		;

sanitems	: /* empty */
		| sanitems STRING hostsep	{
			dport_san(&@2, $2);
		}
		;

/* Where the audit trail goes, and what it holds. */
audit		: AUDIT				{
			audit_open(&@1);
		} optnl '{' optnl auditbody	{
			audit_close();
		}
		;

auditbody	: auditopts '}'
		| auditopts auditopt '}'
		;

auditopts	: /* empty */
		| auditopts auditopt nl
		| auditopts error nl		{
			yyerrok;
		}
		;

auditopt	: SINK UNIX STRING		{
			audit_sink_add(&@1, &@3, ASINK_UNIX, $3, -1);
		}
		| SINK UDP STRING port		{
			audit_sink_add(&@1, &@3, ASINK_UDP, $3, $4);
		}
		| SINK TCP STRING port		{
			audit_sink_add(&@1, &@3, ASINK_TCP, $3, $4);
		}
		| SINK JOURNALD			{
			audit_sink_add(&@1, &@2, ASINK_JOURNALD, NULL, -1);
		}
		| SINK STDERR			{
			audit_sink_add(&@1, &@2, ASINK_STDERR, NULL, -1);
		}
		| SDID STRING			{
			audit_sdid(&@2, $2);
		}
		| EVENTS ALL			{
			conf->audit.events = AEVENTS_ALL;
		}
		| EVENTS DENIALS		{
			conf->audit.events = AEVENTS_DENIALS;
		}
		| BUFFER NUMBER			{
			set_number(&@2, "buffer", &conf->audit.buffer, $2,
			    EGD_AUDITBUF_MIN, EGD_AUDITBUF_MAX);
		}
		;

svcproto	: HTTP				{ $$ = SPROTO_HTTP; }
		| HTTPS				{ $$ = SPROTO_HTTPS; }
		| TLS				{ $$ = SPROTO_TLS; }
		| TCP				{ $$ = SPROTO_TCP; }
		;

optlabel	: /* empty */			{ $$ = NULL; }
		| STRING			{ $$ = $1; }
		;

/* A VirtualService: options, then match blocks, tried in order. */
route		: ROUTE STRING			{
			route_open(&@1, &@2, $2);
		} optnl '{' optnl rtbody	{
			route_close();
		}
		;

rtbody		: rtopts '}'
		| rtopts rtopt '}'
		;

rtopts		: /* empty */
		| rtopts rtopt nl
		| rtopts error nl		{
			/* A match block the error was in is over. */
			rm = NULL;
			yyerrok;
		}
		;

rtopt		: GATEWAY STRING		{
			route_gateway(&@2, $2);
		}
		| from
		| match
		;

/*
 * match CONDITIONS { ACTIONS }.  An error among the conditions skips to
 * the opening brace, so the block's actions are still read as such.
 */
match		: MATCH matchopen matchconds optnl '{' optnl matchbody {
			match_close();
		}
		| MATCH matchopen matchconds error '{' {
			yyerrok;
		} optnl matchbody		{
			match_close();
		}
		;

matchopen	: /* empty */			{
			match_open();
		}
		;

matchconds	: /* empty */
		| matchconds matchcond
		;

matchcond	: AUTHORITY STRING		{
			cond_authority(&@2, $2);
		}
		| port				{
			cond_port(&@1, $1);
		}
		| PATH STRING			{
			cond_path(&@2, PATH_EXACT, $2);
		}
		| PATH PREFIX STRING		{
			cond_path(&@3, PATH_PREFIX, $3);
		}
		| METHOD STRING			{
			cond_method(&@2, $2);
		}
		| HEADER STRING			{
			cond_header(&@2, $2, NULL);
		}
		| HEADER STRING STRING		{
			cond_header(&@2, $2, $3);
		}
		| HEADER STRING NUMBER		{
			char	num[32];

			snprintf(num, sizeof(num), "%lld", $3);
			cond_header(&@2, $2, num);
		}
		;

matchbody	: matchopts '}'
		| matchopts matchopt '}'
		;

matchopts	: /* empty */
		| matchopts matchopt nl
		| matchopts error nl		{
			yyerrok;
		}
		;

matchopt	: FORWARD TO STRING optport optweight {
			dest_add(&@1, &@3, $3, $4, $5);
		}
		| REWRITE AUTHORITY STRING	{
			rewrite_authority(&@3, $3);
		}
		| REWRITE PATH PREFIX STRING	{
			rewrite_prefix(&@4, $4);
		}
		| TIMEOUT NUMBER		{
			set_number(&@2, "timeout", &rm->timeout, $2, 1, 3600);
		}
		| RETRIES NUMBER		{
			set_number(&@2, "retries", &rm->retries, $2, 0, 5);
		}
		| WEBSOCKET			{
			rm->websocket = 1;
		}
		;

/* -1: none given; 0: out of range, already reported. */
optweight	: /* empty */			{ $$ = -1; }
		| WEIGHT NUMBER			{
			if (num_range(&@2, "weight", $2, 1, 100) == 0)
				$$ = $2;
			else
				$$ = 0;
		}
		;

/* ---- pieces shared by blocks ---- */

/* 0: out of range, already reported. */
port		: PORT NUMBER			{
			if (num_range(&@2, "port", $2, 1, 65535) == 0)
				$$ = $2;
			else
				$$ = 0;
		}
		;

/* -1: none given. */
optport		: /* empty */			{ $$ = -1; }
		| port				{ $$ = $1; }
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

/* The networks of "allow private { ... }", separated as hosts are. */
privitems	: /* empty */
		| privitems STRING hostsep	{
			private_add(&@2, $2);
		}
		| privitems error nl		{
			yyerrok;
		}
		;

/* Networks go to curfrom, set by the enclosing block, as hosts do. */
from		: FROM IDENTITY STRING		{
			ident_add(&@3, $3);
		}
		| FROM '{' optnl fromitems '}'
		| FROM '{' optnl fromitems error '}'	{
			yyerrok;
		}
		;

fromitems	: /* empty */
		| fromitems STRING hostsep	{
			cidr_add(&@2, $2);
		}
		| fromitems error nl		{
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

/* A warning: the file is accepted, but says something to look at. */
static void
conf_warn(const YYLTYPE *loc, const char *fmt, ...)
{
	va_list	ap;

	fprintf(stderr, "%s:%d: warning: ", loc->file, loc->line);
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
	else if (lex.last.wordlike && lex.last.stmtstart && !in_block() &&
	    lex.cur.tok != '=')
		conf_error(&lex.last.loc, "unknown keyword: %s",
		    lex.last.text);
	else if (lex.cur.tok == 0)
		conf_error(&lex.cur.loc, "syntax error at end of file");
	else if (lex.cur.tok == '\n')
		conf_error(&lex.cur.loc, "syntax error at end of line");
	else if (lex.last.tok == '}')
		conf_error(&lex.cur.loc, "syntax error at \"%s\" (one option a "
		    "line)", lex.cur.text);
	else if (lex.cur.keyword && takes_name(lex.last.tok))
		conf_error(&lex.cur.loc, "syntax error at \"%s\" (a keyword: "
		    "quote it to use it as a name)", lex.cur.text);
	else
		conf_error(&lex.cur.loc, "syntax error at \"%s\"",
		    lex.cur.text);
}

/* Whether the token tok is followed by a name or another string. */
static int
takes_name(int tok)
{
	switch (tok) {
	case GATEWAY:
	case SERVICE:
	case ROUTE:
	case USER:
	case CHROOT:
	case RESOLVER:
	case INCLUDE:
	case AUTHORITY:
	case TO:
	case METHOD:
	case HEADER:
	case UNIX:
	case SDID:
	case SOCKET:
	case GROUP:
	case '=':
		return 1;
	}
	return 0;
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

#define STRBLOCK	65536
struct strblock {
	struct strblock	*next;
	size_t		 used, size;
	char		 data[];
};

static char *
pstrdup(const char *s)
{
	struct strblock	*b = arena;
	size_t		 len = strlen(s) + 1, size;
	char		*p;

	if (b == NULL || b->size - b->used < len) {
		/* Tokens are in blocks: no allocation per word of the file. */
		size = len > STRBLOCK ? len : STRBLOCK;
		b = ps_xcalloc(1, sizeof(*b) + size);
		b->size = size;
		b->next = arena;
		arena = b;
	}
	p = b->data + b->used;
	memcpy(p, s, len);
	b->used += len;
	return p;
}

static void
arena_free(void)
{
	struct strblock	*b;

	while ((b = arena) != NULL) {
		arena = b->next;
		free(b);
	}
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
	/* Sorted: looked up with bsearch(3).  egressd.conf(5) has each. */
	{ "action",		ACTION },
	{ "all",		ALL },
	{ "allow",		ALLOW },
	{ "audit",		AUDIT },
	{ "authority",		AUTHORITY },
	{ "auto",		AUTO },
	{ "buffer",		BUFFER },
	{ "burst",		BURST },
	{ "ca",			CA },
	{ "cert",		CERT },
	{ "check",		CHECK },
	{ "chroot",		CHROOT },
	{ "ciphers",		CIPHERS },
	{ "client",		CLIENT },
	{ "connect",		CONNECT },
	{ "connections",	CONNECTIONS },
	{ "control",		CONTROL },
	{ "decode",		DECODE },
	{ "denials",		DENIALS },
	{ "destination",	DESTINATION },
	{ "disable",		DISABLE },
	{ "dns",		DNS },
	{ "drain",		DRAIN },
	{ "endpoint",		ENDPOINT },
	{ "enforce",		ENFORCE },
	{ "escaped",		ESCAPED },
	{ "events",		EVENTS },
	{ "facility",		FACILITY },
	{ "forward",		FORWARD },
	{ "from",		FROM },
	{ "gateway",		GATEWAY },
	{ "grace",		GRACE },
	{ "group",		GROUP },
	{ "header",		HEADER },
	{ "headers",		HEADERS },
	{ "host",		HOST },
	{ "hosts",		HOSTS },
	{ "http",		HTTP },
	{ "https",		HTTPS },
	{ "identity",		IDENTITY },
	{ "idle",		IDLE },
	{ "include",		INCLUDE },
	{ "journald",		JOURNALD },
	{ "keep",		KEEP },
	{ "key",		KEY },
	{ "length",		LENGTH },
	{ "limit",		LIMIT },
	{ "listen",		LISTEN },
	{ "log",		LOG },
	{ "match",		MATCH },
	{ "max",		MAX },
	{ "merge",		MERGE },
	{ "method",		METHOD },
	{ "metrics",		METRICS },
	{ "min",		MIN },
	{ "mutual",		MUTUAL },
	{ "nameserver",		NAMESERVER },
	{ "negative",		NEGATIVE },
	{ "off",		OFF },
	{ "on",			ON },
	{ "optional",		OPTIONAL },
	{ "path",		PATH },
	{ "per",		PER },
	{ "pool",		POOL },
	{ "port",		PORT },
	{ "prefix",		PREFIX },
	{ "private",		PRIVATE },
	{ "rate",		RATE },
	{ "reject",		REJECT },
	{ "report",		REPORT },
	{ "request",		REQUEST },
	{ "resolution",		RESOLUTION },
	{ "resolver",		RESOLVER },
	{ "retries",		RETRIES },
	{ "revoke",		REVOKE },
	{ "rewrite",		REWRITE },
	{ "route",		ROUTE },
	{ "sd-id",		SDID },
	{ "service",		SERVICE },
	{ "simple",		SIMPLE },
	{ "sink",		SINK },
	{ "size",		SIZE },
	{ "slashes",		SLASHES },
	{ "sni",		SNI },
	{ "socket",		SOCKET },
	{ "source",		SOURCE },
	{ "static",		STATIC },
	{ "stderr",		STDERR },
	{ "tcp",		TCP },
	{ "timeout",		TIMEOUT },
	{ "tls",		TLS },
	{ "to",			TO },
	{ "transparent",	TRANSPARENT },
	{ "ttl",		TTL },
	{ "tunnels",		TUNNELS },
	{ "udp",		UDP },
	{ "unix",		UNIX },
	{ "uri",		URI },
	{ "user",		USER },
	{ "verify-san",		VERIFYSAN },
	{ "version",		TLSVERSION },
	{ "websocket",		WEBSOCKET },
	{ "weight",		WEIGHT },
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
	    sizeof(keywords[0]), sizeof(keywords[0]), kw_cmp)) != NULL) {
		lex.cur.keyword = 1;
		return kw->token;
	}

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


/* Sets *dst to n if n is in range; the last setting counts. */
static void
set_number(const YYLTYPE *loc, const char *what, int *dst, long long n,
    long long min, long long max)
{
	if (num_range(loc, what, n, min, max) == 0)
		*dst = (int)n;
}

/* min <= max is checked once both are known, at the end of the file. */
static void
set_dnsttl(const YYLTYPE *loc, const char *what, int *dst, long long n)
{
	set_number(loc, what, dst, n, 0, 86400);
	dnsttl_loc = *loc;
	dnsttl_set = 1;
}

/*
 * A limit on connections or tunnels (burst NULL), or a rate with its
 * burst b: 0 if none was given (the rate itself), -1 if already reported
 * out of range.
 */
static void
set_limit(const YYLTYPE *loc, const char *what, uint32_t *val,
    uint32_t *burst, long long n, long long b)
{
	if (num_range(loc, what, n, 1, burst != NULL ? 1000000 : 10000000)
	    == -1 || b == -1)
		return;
	*val = (uint32_t)n;
	if (burst != NULL)
		*burst = (uint32_t)(b != 0 ? b : n);
}

/* An IPv4 or IPv6 literal, as addr.c reads it. */
static int
addr_get(const YYLTYPE *loc, const char *s, struct egd_addr *a)
{
	char	pname[LEX_TEXTMAX];

	if (egd_addr_parse(s, a) == 0)
		return 0;
	printable(pname, sizeof(pname), s);
	conf_error(loc, "invalid address \"%s\"", pname);
	return -1;
}

/*
 * port: -1 none given (53, or 853 for DNS over TLS), 0 out of range,
 * already reported.  ns_tls: "tls NAME [ca FILE]", if given.
 */
static void
nameserver_add(const YYLTYPE *loc, const YYLTYPE *addrloc, const char *addr,
    long long port)
{
	struct sockaddr_storage	 ss;
	struct nameserver_tls	 t;
	struct egd_addr		 a;
	char			 abuf[INET6_ADDRSTRLEN];
	const char		*why, *path;
	int			 i;

	memset(&t, 0, sizeof(t));
	t.ca_id = -1;
	if (ns_tls.name != NULL) {
		if (host_valid(ns_tls.name, 0, &why) == -1) {
			conf_error(&ns_tls.nameloc, "nameserver tls: %s", why);
			return;
		}
		strlcpy(t.name, ns_tls.name, sizeof(t.name));
		if (ns_tls.ca != NULL && (ns_tls.ca[0] != '/' ||
		    strlen(ns_tls.ca) >= sizeof(t.ca))) {
			conf_error(&ns_tls.caloc, "nameserver ca: an absolute "
			    "path of at most %zu bytes", sizeof(t.ca) - 1);
			return;
		}
		if (ns_tls.ca != NULL)
			strlcpy(t.ca, ns_tls.ca, sizeof(t.ca));
		path = t.ca[0] != '\0' ? t.ca : EGRESSD_CABUNDLE;
		if ((t.ca_id = conf_ca_add(conf, path, &why)) == -1) {
			conf_error(ns_tls.ca != NULL ? &ns_tls.caloc :
			    &ns_tls.nameloc, "nameserver ca \"%s\": %s", path,
			    why);
			return;
		}
	}
	if (addr_get(addrloc, addr, &a) == -1 || port == 0)
		return;
	if (port == -1)
		port = t.name[0] != '\0' ? 853 : 53;
	egd_addr_to_sa(&a, (uint16_t)port, &ss);
	for (i = 0; i < conf->nnameservers; i++)
		if (addr_equal(&conf->nameservers[i], &ss)) {
			conf_error(loc, "duplicate nameserver %s port %lld",
			    egd_addr_ntop(&a, abuf, sizeof(abuf)), port);
			return;
		}
	if (conf->nnameservers >= MAXNAMESERVERS) {
		conf_error(loc, "too many nameservers (at most %d)",
		    MAXNAMESERVERS);
		return;
	}
	conf->nstls[conf->nnameservers] = t;
	conf->nameservers[conf->nnameservers++] = ss;
}

/* ---- blocks ---------------------------------------------------------- */

static int
in_block(void)
{
	return gw != NULL || svc != NULL || rt != NULL || inaudit;
}

/* After a syntax error at top level: whatever block it was in is over. */
static void
block_abandon(void)
{
	gw = NULL;
	svc = NULL;
	rt = NULL;
	rm = NULL;
	cdst = NULL;
	dp = NULL;
	inaudit = 0;
	curhosts = NULL;
	curnhosts = NULL;
	curfrom = NULL;
	curidents = NULL;
	curnidents = NULL;
	curnfrom = NULL;
}

/*
 * Records a block's name, of a kind, for the block of that id: the id of
 * the block that had it first (id itself for a new name), 0 on failure.
 */
static uint32_t
block_seen(int kind, const char *name, uint32_t id)
{
	uint32_t	key;

	if (hostmap_add(blocknames[kind], name, HMK_NAME, id, &key) == -1)
		return 0;
	return hostmap_owner(blocknames[kind], key);
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
 * Services and routes do the same.
 */
static void
gateway_open(const YYLTYPE *loc, const YYLTYPE *nameloc, const char *name)
{
	struct gateway	*g;

	g = ps_xcalloc(1, sizeof(*g));
	g->id = ++ngateways;
	if (block_name(nameloc, "gateway", g->name, sizeof(g->name),
	    name) == 0 && block_seen(BN_GATEWAY, name, g->id) != g->id)
		conf_error(nameloc, "duplicate gateway \"%s\"", g->name);
	g->merge_slashes = 1;
	g->esc_slashes = ESLASH_KEEP;
	TAILQ_INSERT_TAIL(&conf->gateways, g, entry);
	conf_vec_add(&conf->gwv, g);
	gw = g;
	blk_loc = *loc;
	curhosts = &conf->gwhosts;
	g->hfirst = (uint32_t)conf->gwhosts.nkeys;
	curnhosts = &g->nhosts;
	curowner = g->id;
}

static void
gateway_close(void)
{
	struct listener	*l;

	TAILQ_FOREACH(l, &conf->listeners, entry)
		if (l->gateway == gw->id)
			break;
	if (l == NULL)
		conf_error(&blk_loc, "gateway \"%s\" has no listen on",
		    gw->name);
	block_abandon();
}

/*
 * What the gateway does with %2F and %5C in a path.  Said explicitly, even
 * as the default keep, it silences the warning about path conditions.
 */
static void
gw_escaped(int how)
{
	gw->esc_slashes = how;
	gw->esc_slashes_set = 1;
}

/* ADDRESS is an IPv4 or IPv6 literal, or * for 0.0.0.0. */
static void
listen_add(const YYLTYPE *loc, const YYLTYPE *addrloc, const char *addr,
    long long port, int proto)
{
	struct sockaddr_storage	 ss;
	struct egd_addr		 a;
	struct listener		*l;
	struct gateway		*g;
	socklen_t		 sslen;
	char			 abuf[INET6_ADDRSTRLEN];
	int			 i;

	cl = NULL;
	if (strcmp(addr, "*") == 0)
		egd_addr_parse("0.0.0.0", &a);
	else if (addr_get(addrloc, addr, &a) == -1)
		return;
	if (port == 0)
		return;		/* already reported */
	sslen = egd_addr_to_sa(&a, (uint16_t)port, &ss);

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
	l->cert_id = l->clientca_id = -1;
	l->minver = 12;
	for (i = 0; i < EGRESSD_MAXWORKERS; i++)
		l->fds[i] = -1;
	TAILQ_INSERT_TAIL(&conf->listeners, l, entry);
	cl = l;
	cl_loc = *loc;
}

/*
 * The end of a listen line: an https listener has a certificate and its
 * key, read now (egressd -n checks them); other kinds take no TLS
 * options.
 */
static void
listen_close(void)
{
	const char	*why;
	int		 id;

	if (cl == NULL)
		return;
	/*
	 * A transparent listener takes connections nftables redirected:
	 * the client speaks to its origin, in HTTP or in TLS we do not
	 * terminate.  An https listener would have to show a certificate
	 * for any name, which we do not have.
	 */
	if (cl->transparent && cl->proto == PROTO_HTTPS) {
		conf_error(&cl_loc, "only http and tls listeners can be "
		    "transparent");
		cl = NULL;
		return;
	}
	if (cl->proto != PROTO_HTTPS) {
		if (cl->cert[0] || cl->key[0] || cl->clientca[0] ||
		    cl->client_optional || cl->minver != 12 || cl->ciphers[0])
			conf_error(&cl_loc, "only https listeners take cert, "
			    "key, client, min version and ciphers");
		cl = NULL;
		return;
	}
	if (!cl->cert[0] || !cl->key[0]) {
		conf_error(&cl_loc, "an https listener needs cert and key");
		cl = NULL;
		return;
	}
	if (cl->client_optional && !cl->clientca[0])
		conf_error(&cl_loc, "client optional without client ca");
	if ((id = conf_ca_add(conf, cl->cert, &why)) == -1)
		conf_error(&cl_loc, "cert \"%s\": %s", cl->cert, why);
	else if (conf_key_add(conf, cl->key, id, &why) == -1)
		conf_error(&cl_loc, "key \"%s\": %s", cl->key, why);
	else
		cl->cert_id = id;
	if (cl->clientca[0]) {
		if ((id = conf_ca_add(conf, cl->clientca, &why)) == -1)
			conf_error(&cl_loc, "client ca \"%s\": %s",
			    cl->clientca, why);
		else
			cl->clientca_id = id;
	}
	cl = NULL;
}

/*
 * A client identity a service or route admits: printable, no blanks, at
 * most EGD_IDENT_MAX - 1 bytes; a last "*" matches any rest.
 */
static void
ident_add(const YYLTYPE *loc, const char *s)
{
	const char	*p;
	int		 i;

	if (curidents == NULL)
		return;
	for (p = s; *p != '\0'; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f ||
		    (*p == '*' && p[1] != '\0'))
			break;
	if (*s == '\0' || *p != '\0' || strlen(s) >= EGD_IDENT_MAX) {
		conf_error(loc, "identity: printable, no blanks, \"*\" only "
		    "last, at most %d bytes", EGD_IDENT_MAX - 1);
		return;
	}
	for (i = 0; i < *curnidents; i++)
		if (strcmp(curidents[i], s) == 0) {
			conf_error(loc, "duplicate identity \"%s\"", s);
			return;
		}
	if (*curnidents >= EGD_MAX_IDENTS) {
		conf_error(loc, "too many identities (at most %d)",
		    EGD_MAX_IDENTS);
		return;
	}
	strlcpy(curidents[(*curnidents)++], s, EGD_IDENT_MAX);
}

/*
 * A host as a block names it (what says where, for the messages), into
 * out: an IPv4 or IPv6 literal in its canonical text, or a DNS name
 * lowercased, "*.name" too if wildcard.  addr.c judges it the way the
 * workers judge a request's authority, so that a name that no request can
 * carry ("1.2.3", which a request would not be let through with) is
 * refused here already.
 */
static int
host_norm(const YYLTYPE *loc, const char *what, const char *in,
    int wildcard, char *out, size_t outsz)
{
	struct egd_addr	 a;
	const char	*err = NULL, *p;
	char		 buf[EGD_HOST_MAX], tmp[EGD_HOST_MAX];
	char		 pname[LEX_TEXTMAX];
	size_t		 len = strlen(in), i;
	uint16_t	 port;
	int		 literal;

	if (len > HOSTNAME_MAX) {
		for (i = 0; i < len && i < sizeof(tmp) - 1; i++)
			tmp[i] = (char)tolower((unsigned char)in[i]);
		tmp[i] = '\0';
		printable(pname, sizeof(pname), tmp);
		conf_error(loc, "%s too long (%zu bytes, at most %d): %s",
		    what, len, HOSTNAME_MAX, pname);
		return -1;
	}
	for (i = 0; i <= len; i++)
		buf[i] = (char)tolower((unsigned char)in[i]);
	printable(pname, sizeof(pname), buf);

	if (egd_addr_parse(buf, &a) == 0) {
		egd_addr_ntop(&a, buf, sizeof(buf));
		if (strlcpy(out, buf, outsz) >= outsz)
			fatalx("%s: buffer too small", __func__);
		return 0;
	}
	if (host_valid(buf, wildcard, &err) == 0) {
		p = strncmp(buf, "*.", 2) == 0 ? buf + 2 : buf;
		if (authority_parse(p, strlen(p), 80, tmp, sizeof(tmp), &port,
		    &a, &literal, &err) == 0 && literal)
			err = "bad wildcard";	/* "*.192.0.2.1" */
		else if (err == NULL) {
			if (strlcpy(out, buf, outsz) >= outsz)
				fatalx("%s: buffer too small", __func__);
			return 0;
		}
	}
	conf_error(loc, "invalid %s \"%s\": %s", what, pname,
	    err != NULL ? err : "invalid");
	return -1;
}

static void
host_add(const YYLTYPE *loc, const char *name)
{
	char	buf[EGD_HOST_MAX];
	int	rv;

	if (curhosts == NULL)
		return;
	if (host_norm(loc, "host name", name, 1, buf, sizeof(buf)) == -1)
		return;
	if ((rv = conf_host_add(curhosts, buf, hostmap_kind(buf),
	    curowner)) == 1) {
		conf_error(loc, "duplicate host \"%s\"", buf);
		return;
	}
	if (rv == -1)
		fatalx("%s: cannot index \"%s\"", __func__, buf);
	(*curnhosts)++;
	if (svc != NULL && buf[0] == '*' && svcx.wild[0] == '\0') {
		svcx.wild_loc = *loc;
		strlcpy(svcx.wild, buf, sizeof(svcx.wild));
	}
}

/* A network of a "from" list: ADDRESS or ADDRESS/PREFIXLEN. */
static void
cidr_add(const YYLTYPE *loc, const char *s)
{
	struct egd_cidr	 c;
	char		 pname[LEX_TEXTMAX], abuf[INET6_ADDRSTRLEN];
	int		 i;

	if (curfrom == NULL)
		return;
	printable(pname, sizeof(pname), s);
	if (egd_cidr_parse(s, &c) == -1) {
		conf_error(loc, "invalid network \"%s\"", pname);
		return;
	}
	for (i = 0; i < *curnfrom; i++)
		if (curfrom[i].prefixlen == c.prefixlen &&
		    egd_addr_equal(&curfrom[i].a, &c.a)) {
			conf_error(loc, "duplicate network %s/%d",
			    egd_addr_ntop(&c.a, abuf, sizeof(abuf)),
			    c.prefixlen);
			return;
		}
	if (*curnfrom >= EGD_MAX_CIDRS) {
		conf_error(loc, "too many networks in from (at most %d)",
		    EGD_MAX_CIDRS);
		return;
	}
	curfrom[(*curnfrom)++] = c;
}

/*
 * "allow private": every private range; "allow private { network ... }":
 * those networks only, each wholly within a private range (a public
 * address needs no allowance, and a network wider than its range would
 * lose to it: guard.c).  A service says one or the other.
 */
static void
private_all(const YYLTYPE *loc)
{
	if (svc->allow_private == PRIV_NETS) {
		conf_error(loc, "allow private: service \"%s\" lists networks "
		    "already; the bare form allows every private range",
		    svc->name);
		return;
	}
	svc->allow_private = PRIV_ALL;
}

static void
private_open(const YYLTYPE *loc)
{
	if (svc->allow_private == PRIV_ALL)
		conf_error(loc, "allow private: service \"%s\" allows every "
		    "private range already", svc->name);
	svcx.privlist = 0;
}

static void
private_add(const YYLTYPE *loc, const char *s)
{
	struct egd_cidr	 c;
	char		 pname[LEX_TEXTMAX], abuf[INET6_ADDRSTRLEN];
	int		 i;

	svcx.privlist++;
	printable(pname, sizeof(pname), s);
	if (egd_cidr_parse(s, &c) == -1) {
		conf_error(loc, "invalid network \"%s\"", pname);
		return;
	}
	egd_addr_ntop(&c.a, abuf, sizeof(abuf));
	if (egd_cidr_private(&c) == NULL) {
		conf_error(loc, "allow private: %s/%d is not within one "
		    "private range", abuf, c.prefixlen);
		return;
	}
	for (i = 0; i < svcx.nprivate_nets; i++)
		if (svcx.private_nets[i].prefixlen == c.prefixlen &&
		    egd_addr_equal(&svcx.private_nets[i].a, &c.a)) {
			conf_error(loc, "duplicate network %s/%d", abuf,
			    c.prefixlen);
			return;
		}
	if (svcx.nprivate_nets >= EGD_MAX_CIDRS) {
		conf_error(loc, "too many networks in allow private (at most "
		    "%d)", EGD_MAX_CIDRS);
		return;
	}
	if (svc->allow_private == PRIV_ALL)
		return;		/* reported by private_open() */
	svcx.private_nets[svcx.nprivate_nets++] = c;
	svc->allow_private = PRIV_NETS;
}

static void
private_close(const YYLTYPE *loc)
{
	if (svcx.privlist == 0)
		conf_error(loc, "allow private: an empty list allows nothing "
		    "(the bare form allows every private range)");
}

/* ---- destinations ------------------------------------------------------ */

static void
dest_open(const YYLTYPE *loc, const YYLTYPE *nameloc, const char *name)
{
	struct destination	*d;

	d = ps_xcalloc(1, sizeof(*d));
	d->id = ++ndests;
	if (block_name(nameloc, "destination", d->name, sizeof(d->name),
	    name) == 0 && block_seen(BN_DEST, name, d->id) != d->id)
		conf_error(nameloc, "duplicate destination \"%s\"", d->name);
	TAILQ_INSERT_TAIL(&conf->destinations, d, entry);
	conf_vec_add(&conf->dstv, d);
	cdst = d;
	dp = NULL;
	blk_loc = *loc;
}

static void
dest_close(void)
{
	const struct destination	*d;

	if (cdst->host[0] == '\0')
		conf_error(&blk_loc, "destination \"%s\" has no host",
		    cdst->name);
	else if (cdst->nports == 0)
		conf_error(&blk_loc, "destination \"%s\" has no port",
		    cdst->name);
	else if (conf_dest_add(conf, cdst, &d) == 1 && d != NULL)
		conf_error(&blk_loc, "destination \"%s\": host \"%s\" has a "
		    "destination already (\"%s\")", cdst->name, cdst->host,
		    d->name);
	block_abandon();
}

static void
dest_host(const YYLTYPE *loc, const char *name)
{
	const char	*why;

	if (cdst->host[0] != '\0') {
		conf_error(loc, "destination \"%s\": host given twice",
		    cdst->name);
		return;
	}
	if (host_valid(name, 1, &why) == -1) {
		conf_error(loc, "destination \"%s\": host: %s", cdst->name,
		    why);
		return;
	}
	strlcpy(cdst->host, name, sizeof(cdst->host));
}

/* port 0: out of range, already reported; dp stays NULL then. */
static void
dport_open(const YYLTYPE *loc, long long port, int mode)
{
	int	i;

	dp = NULL;
	if (port == 0)
		return;
	for (i = 0; i < cdst->nports; i++)
		if (cdst->ports[i].port == port) {
			conf_error(loc, "duplicate port %lld", port);
			return;
		}
	if (cdst->nports >= EGD_MAX_DSTPORTS) {
		conf_error(loc, "too many ports (at most %d)",
		    EGD_MAX_DSTPORTS);
		return;
	}
	dp = &cdst->ports[cdst->nports++];
	memset(dp, 0, sizeof(*dp));
	dp->port = (uint16_t)port;
	dp->mode = (uint8_t)mode;
	dp->minver = 12;
	dp->cert_id = -1;
	dp_loc = *loc;
}

/* The CA bundle is read here, at parse time: -n checks it too. */
static void
dport_close(void)
{
	const char	*why, *path;
	int		 id;

	if (dp == NULL)
		return;
	if (dp->mode != TLSM_MUTUAL && (dp->cert[0] || dp->key[0])) {
		conf_error(&dp_loc, "port %u: cert and key are for tls mutual",
		    dp->port);
		dp = NULL;
		return;
	}
	if (dp->mode == TLSM_MUTUAL && (!dp->cert[0] || !dp->key[0])) {
		conf_error(&dp_loc, "port %u: tls mutual needs cert and key",
		    dp->port);
		dp = NULL;
		return;
	}
	if (dp->mode == TLSM_MUTUAL) {
		if ((id = conf_ca_add(conf, dp->cert, &why)) == -1)
			conf_error(&dp_loc, "port %u: cert \"%s\": %s",
			    dp->port, dp->cert, why);
		else if (conf_key_add(conf, dp->key, id, &why) == -1)
			conf_error(&dp_loc, "port %u: key \"%s\": %s",
			    dp->port, dp->key, why);
		else
			dp->cert_id = id;
	}
	if (dp->mode == TLSM_DISABLE) {
		if (dp->sni[0] || dp->ca[0] || dp->ciphers[0] || dp->nsan ||
		    dp->minver != 12)
			conf_error(&dp_loc, "port %u: tls disable takes no "
			    "options", dp->port);
		dp = NULL;
		return;
	}
	path = dp->ca[0] ? dp->ca : EGRESSD_CABUNDLE;
	if ((id = conf_ca_add(conf, path, &why)) == -1)
		conf_error(&dp_loc, "port %u: ca \"%s\": %s", dp->port, path,
		    why);
	else
		dp->ca_id = (uint32_t)id;
	dp = NULL;
}

/*
 * A DNS name a certificate can be checked for and a ClientHello can
 * carry: a host name as in hosts, no pattern, and nothing a resolver
 * would read as a number ("127.1", "1.2.3.04").  0, or -1 with *why.
 */
static int
tls_dnsname(const char *name, const char **why)
{
	struct egd_addr	 lit;
	char		 host[EGD_HOST_MAX];
	uint16_t	 port;
	int		 literal;

	if (strchr(name, '*') != NULL) {
		*why = "a pattern; name the host itself";
		return -1;
	}
	if (host_valid(name, 0, why) == -1 ||
	    authority_parse(name, strlen(name), 443, host, sizeof(host),
	    &port, &lit, &literal, why) == -1)
		return -1;
	if (literal) {
		*why = "an address literal";
		return -1;
	}
	return 0;
}

/* SNI carries DNS names only (RFC 6066, section 3). */
static void
dport_sni(const YYLTYPE *loc, const char *name)
{
	struct egd_addr	 a;
	const char	*why;

	if (dp == NULL)
		return;
	if (egd_addr_parse(name, &a) == 0)
		conf_error(loc, "sni: \"%s\": an address literal (SNI "
		    "carries DNS names only)", name);
	else if (tls_dnsname(name, &why) == -1)
		conf_error(loc, "sni: \"%s\": %s", name, why);
	else
		strlcpy(dp->sni, name, sizeof(dp->sni));
}

static void
dport_ca(const YYLTYPE *loc, const char *path)
{
	if (dp == NULL)
		return;
	if (path[0] != '/' || strlen(path) >= sizeof(dp->ca))
		conf_error(loc, "ca: an absolute path of at most %zu bytes",
		    sizeof(dp->ca) - 1);
	else
		strlcpy(dp->ca, path, sizeof(dp->ca));
}

/* 12 or 13 for TLS 1.2 or 1.3; 0 after an error. */
static int
tls_minver(const YYLTYPE *loc, const char *v)
{
	if (strcmp(v, "1.2") == 0)
		return 12;
	if (strcmp(v, "1.3") == 0)
		return 13;
	conf_error(loc, "min version: 1.2 or 1.3");
	return 0;
}

static void
tls_ciphers(const YYLTYPE *loc, const char *list, char *where)
{
	const char	*p;

	for (p = list; *p != '\0'; p++)
		if ((unsigned char)*p <= 0x20 || *p == 0x7f)
			break;
	if (*list == '\0' || *p != '\0' || strlen(list) >= EGD_CIPHERS_MAX)
		conf_error(loc, "ciphers: a list without spaces, at most %d "
		    "bytes", EGD_CIPHERS_MAX - 1);
	else if (where != NULL)
		strlcpy(where, list, EGD_CIPHERS_MAX);
}

static void
tls_path(const YYLTYPE *loc, const char *what, char *where,
    const char *path)
{
	if (where == NULL)
		return;
	if (path[0] != '/' || strlen(path) >= EGD_PATH_MAX) {
		conf_error(loc, "%s: an absolute path of at most %d bytes",
		    what, EGD_PATH_MAX - 1);
		return;
	}
	if (where[0] != '\0') {
		conf_error(loc, "%s given twice", what);
		return;
	}
	strlcpy(where, path, EGD_PATH_MAX);
}

/*
 * One name of a verify-san list: a DNS name the certificate must hold
 * (its own wildcards count); a pattern "*.suffix", which any DNS name of
 * the certificate below suffix satisfies (its own wildcards included);
 * or an IP address literal it must hold as an address, kept in
 * canonical form.  Any one of them will do (worker_origin.c).
 */
static void
dport_san(const YYLTYPE *loc, const char *name)
{
	struct egd_addr	 a;
	char		 canon[EGD_HOST_MAX];
	const char	*why, *rest;
	int		 i;

	san_items++;
	if (dp == NULL)
		return;
	rest = name[0] == '*' && name[1] == '.' ? name + 2 : name;
	if (egd_addr_parse(name, &a) == 0)
		egd_addr_ntop(&a, canon, sizeof(canon));
	else if (strchr(rest, '*') != NULL) {
		conf_error(loc, "verify-san: \"%s\": a pattern is \"*.\" "
		    "before a name", name);
		return;
	} else if (tls_dnsname(rest, &why) == -1) {
		conf_error(loc, "verify-san: \"%s\": %s", name, why);
		return;
	} else
		strlcpy(canon, name, sizeof(canon));
	for (i = 0; i < dp->nsan; i++)
		if (strcmp(dp->san[i], canon) == 0) {
			conf_error(loc, "verify-san: \"%s\" given twice", name);
			return;
		}
	if (dp->nsan >= EGD_MAX_VERIFYSAN)
		conf_error(loc, "verify-san: too many names (at most %d)",
		    EGD_MAX_VERIFYSAN);
	else
		strlcpy(dp->san[dp->nsan++], canon, sizeof(dp->san[0]));
}

/*
 * An https service port without a destination rule originates TLS with
 * the defaults: the system bundle is read if any service has one.  A
 * missing bundle is not an error here; such requests are refused.
 */
static void
check_default_ca(void)
{
	const struct service	*s;
	const char		*why;
	int			 i;

	TAILQ_FOREACH(s, &conf->services, entry)
		for (i = 0; i < s->nports; i++)
			if (s->ports[i].proto == SPROTO_HTTPS) {
				conf->default_ca = conf_ca_add(conf,
				    EGRESSD_CABUNDLE, &why);
				if (conf->default_ca == -1)
					log_warnx("%s: %s: https ports "
					    "without a destination cannot "
					    "originate TLS", EGRESSD_CABUNDLE,
					    why);
				return;
			}
}

static void
service_open(const YYLTYPE *loc, const YYLTYPE *nameloc, const char *name)
{
	struct service	*s;

	s = conf_alloc(conf, sizeof(*s));
	s->id = ++nservices;
	s->resolution = RES_DNS;
	s->action = ACT_ENFORCE;
	if (block_name(nameloc, "service", s->name, sizeof(s->name),
	    name) == 0 && block_seen(BN_SERVICE, name, s->id) != s->id)
		conf_error(nameloc, "duplicate service \"%s\"", s->name);
	TAILQ_INSERT_TAIL(&conf->services, s, entry);
	conf_vec_add(&conf->svcv, s);
	svc = s;
	blk_loc = *loc;
	memset(&svcx, 0, sizeof(svcx));
	curhosts = &conf->svchosts;
	s->hfirst = (uint32_t)conf->svchosts.nkeys;
	curnhosts = &s->nhosts;
	curowner = s->id;
	curfrom = svcx.from;
	curidents = svcx.idents;
	curnidents = &svcx.nidents;
	curnfrom = &svcx.nfrom;
}

/* A copy of n elements of size bytes at p, or NULL for none. */
static void *
svc_array(const void *p, int n, size_t size)
{
	void	*a;

	if (n == 0)
		return NULL;
	a = conf_alloc(conf, (size_t)n * size);
	memcpy(a, p, (size_t)n * size);
	return a;
}

/* What the block as a whole must say, at the lines that said it. */
static void
service_close(void)
{
	if (svc->nhosts == 0)
		conf_error(&blk_loc, "service \"%s\" has no hosts", svc->name);
	if (svcx.nports == 0)
		conf_error(&blk_loc, "service \"%s\" has no port", svc->name);
	if (svc->resolution == RES_STATIC) {
		if (svcx.wild[0] != '\0')
			conf_error(&svcx.wild_loc, "service \"%s\": wildcard "
			    "host \"%s\" with resolution static: a wildcard "
			    "service resolves by dns", svc->name, svcx.wild);
		if (svcx.nendpoints == 0)
			conf_error(&svcx.res_loc, "service \"%s\": resolution "
			    "static needs an endpoint", svc->name);
	} else if (svcx.nendpoints > 0)
		conf_error(&svcx.ep_loc, "service \"%s\": endpoint needs "
		    "resolution static", svc->name);
	svc->ports = svc_array(svcx.ports, svcx.nports, sizeof(svcx.ports[0]));
	svc->nports = svcx.nports;
	svc->endpoints = svc_array(svcx.endpoints, svcx.nendpoints,
	    sizeof(svcx.endpoints[0]));
	svc->nendpoints = svcx.nendpoints;
	svc->from = svc_array(svcx.from, svcx.nfrom, sizeof(svcx.from[0]));
	svc->nfrom = svcx.nfrom;
	svc->private_nets = svc_array(svcx.private_nets, svcx.nprivate_nets,
	    sizeof(svcx.private_nets[0]));
	svc->nprivate_nets = svcx.nprivate_nets;
	svc->idents = svc_array(svcx.idents, svcx.nidents,
	    sizeof(svcx.idents[0]));
	svc->nidents = svcx.nidents;
	block_abandon();
}

/* port 0: out of range, already reported. */
static void
svc_port_add(const YYLTYPE *loc, long long port, int proto,
    const char *label)
{
	struct svc_port	 p;
	int		 i;

	if (port == 0)
		return;
	memset(&p, 0, sizeof(p));
	p.port = (uint16_t)port;
	p.proto = (uint8_t)proto;
	if (label != NULL && block_name(loc, "port", p.name, sizeof(p.name),
	    label) == -1)
		return;
	for (i = 0; i < svcx.nports; i++)
		if (svcx.ports[i].port == p.port) {
			conf_error(loc, "duplicate port %lld", port);
			return;
		}
	if (svcx.nports >= EGD_MAX_PORTS) {
		conf_error(loc, "too many ports (at most %d)", EGD_MAX_PORTS);
		return;
	}
	svcx.ports[svcx.nports++] = p;
}

static void
svc_resolution(const YYLTYPE *loc, int res)
{
	svc->resolution = res;
	svcx.res_loc = *loc;
}

/* port: -1 none given (the requested port), 0 already reported. */
static void
endpoint_add(const YYLTYPE *loc, const YYLTYPE *addrloc, const char *addr,
    long long port)
{
	struct svc_endpoint	 e;
	char			 abuf[INET6_ADDRSTRLEN];
	int			 i;

	memset(&e, 0, sizeof(e));
	if (addr_get(addrloc, addr, &e.a) == -1 || port == 0)
		return;
	e.port = port == -1 ? 0 : (uint16_t)port;
	for (i = 0; i < svcx.nendpoints; i++)
		if (egd_addr_equal(&svcx.endpoints[i].a, &e.a) &&
		    svcx.endpoints[i].port == e.port) {
			egd_addr_ntop(&e.a, abuf, sizeof(abuf));
			if (e.port != 0)
				conf_error(loc, "duplicate endpoint %s port "
				    "%d", abuf, e.port);
			else
				conf_error(loc, "duplicate endpoint %s",
				    abuf);
			return;
		}
	if (svcx.nendpoints >= EGD_MAX_ENDPOINTS) {
		conf_error(loc, "too many endpoints (at most %d)",
		    EGD_MAX_ENDPOINTS);
		return;
	}
	if (svcx.nendpoints == 0)
		svcx.ep_loc = *loc;
	svcx.endpoints[svcx.nendpoints++] = e;
}

static void
route_open(const YYLTYPE *loc, const YYLTYPE *nameloc, const char *name)
{
	struct route	*r;

	r = ps_xcalloc(1, sizeof(*r));
	TAILQ_INIT(&r->matches);
	r->id = ++nroutes;
	if (block_name(nameloc, "route", r->name, sizeof(r->name),
	    name) == 0 && block_seen(BN_ROUTE, name, r->id) != r->id)
		conf_error(nameloc, "duplicate route \"%s\"", r->name);
	TAILQ_INSERT_TAIL(&conf->routes, r, entry);
	conf_vec_add(&conf->routev, r);
	rt = r;
	blk_loc = *loc;
	curhosts = NULL;
	curfrom = r->from;
	curidents = r->idents;
	curnidents = &r->nidents;
	curnfrom = &r->nfrom;
}

static void
route_close(void)
{
	if (TAILQ_EMPTY(&rt->matches))
		conf_error(&blk_loc, "route \"%s\" has no match", rt->name);
	block_abandon();
}

/* The gateway may come later in the file: its id is set by check_refs(). */
static void
route_gateway(const YYLTYPE *loc, const char *name)
{
	char	pname[LEX_TEXTMAX];
	size_t	i;

	printable(pname, sizeof(pname), name);
	/* This route's references are the last ones. */
	for (i = nrefs; i-- > 0 && refs[i].r == rt;)
		if (refs[i].kind == REF_GATEWAY &&
		    strcmp(refs[i].name, name) == 0) {
			conf_error(loc, "route \"%s\": gateway \"%s\" given "
			    "twice", rt->name, pname);
			return;
		}
	if (rt->ngateways >= EGD_MAX_ROUTEGW) {
		conf_error(loc, "route \"%s\": too many gateways (at most %d)",
		    rt->name, EGD_MAX_ROUTEGW);
		return;
	}
	ref_add(REF_GATEWAY, loc, rt, NULL, rt->ngateways++, name);
}

static void
match_open(void)
{
	struct route_match	*m;

	m = ps_xcalloc(1, sizeof(*m));
	m->id = ++nmatches;
	m->route = rt->id;
	m->pathtype = PATH_ANY;
	TAILQ_INSERT_TAIL(&rt->matches, m, entry);
	rm = m;
}

static void
match_close(void)
{
	if (conf_match_add(conf, rm) == -1)
		fatalx("%s: cannot index \"%s\"", __func__, rm->authority);
	rm = NULL;
}

static void
cond_authority(const YYLTYPE *loc, const char *s)
{
	if (rm->authority[0] != '\0')
		conf_error(loc, "authority given twice in match");
	else
		host_norm(loc, "authority", s, 1, rm->authority,
		    sizeof(rm->authority));
}

/* port 0: out of range, already reported. */
static void
cond_port(const YYLTYPE *loc, long long port)
{
	if (port == 0)
		return;
	if (rm->port != 0)
		conf_error(loc, "port given twice in match");
	else
		rm->port = (uint16_t)port;
}

/*
 * A path, path prefix or rewritten prefix: an absolute path of visible
 * characters without a query or fragment, in the normal form a request's
 * path is brought to before it is compared (pathnorm.c; slashes are not
 * merged here, as a gateway may keep them).
 */
static int
path_ok(const YYLTYPE *loc, const char *what, const char *s)
{
	char		 pname[LEX_TEXTMAX], pnorm[LEX_TEXTMAX];
	char		 norm[EGD_PATH_MAX];
	const char	*p;
	size_t		 len = strlen(s), n;
	int		 e;

	printable(pname, sizeof(pname), s);
	if (*s != '/') {
		conf_error(loc, "invalid %s \"%s\": must start with '/'", what,
		    pname);
		return -1;
	}
	if (len >= EGD_PATH_MAX) {
		conf_error(loc, "%s too long (%zu bytes, at most %d)", what,
		    len, EGD_PATH_MAX - 1);
		return -1;
	}
	for (p = s; *p != '\0'; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f) {
			conf_error(loc, "invalid %s \"%s\": a blank or a "
			    "character that is not ASCII", what, pname);
			return -1;
		}
	if (strpbrk(s, "?#") != NULL) {
		conf_error(loc, "invalid %s \"%s\": a path has no '?' or '#'",
		    what, pname);
		return -1;
	}
	memcpy(norm, s, len);
	n = len;
	if ((e = pathnorm(norm, &n, 0)) != PN_OK) {
		conf_error(loc, "invalid %s \"%s\": %s", what, pname,
		    pathnorm_error(e));
		return -1;
	}
	if (n != len || memcmp(norm, s, len) != 0) {
		norm[n] = '\0';
		printable(pnorm, sizeof(pnorm), norm);
		conf_error(loc, "%s \"%s\" is not in normal form: write "
		    "\"%s\"", what, pname, pnorm);
		return -1;
	}
	return 0;
}

static void
cond_path(const YYLTYPE *loc, int type, const char *s)
{
	if (rm->pathtype != PATH_ANY)
		conf_error(loc, "path given twice in match");
	else if (path_ok(loc, type == PATH_PREFIX ? "path prefix" : "path",
	    s) == 0) {
		rm->pathtype = type;
		strlcpy(rm->path, s, sizeof(rm->path));
		ref_add(REF_PATH, loc, rt, rm, 0, NULL);
	}
}

/* A method is an uppercase token, as requests spell the standard ones. */
static void
cond_method(const YYLTYPE *loc, const char *s)
{
	char		 pname[LEX_TEXTMAX];
	size_t		 len = strlen(s);

	printable(pname, sizeof(pname), s);
	if (rm->method[0] != '\0')
		conf_error(loc, "method given twice in match");
	else if (len == 0 || len > METHOD_MAX ||
	    strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != len)
		conf_error(loc, "invalid method \"%s\": 1 to %d uppercase "
		    "letters", pname, METHOD_MAX);
	else
		strlcpy(rm->method, s, sizeof(rm->method));
}

/*
 * A header name is an RFC 7230 token, kept lowercase; a value, if any,
 * is compared exactly, so it can hold no control character and no blank
 * at either end (a request's field value never has one).
 */
static void
cond_header(const YYLTYPE *loc, const char *name, const char *value)
{
	struct hdr_match	 h;
	char			 pname[LEX_TEXTMAX];
	const unsigned char	*p;
	size_t			 len = strlen(name), vlen, i;
	int			 n;

	memset(&h, 0, sizeof(h));
	printable(pname, sizeof(pname), name);
	if (len == 0 || strspn(name, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-.^_`|~") != len) {
		conf_error(loc, "invalid header name \"%s\"", pname);
		return;
	}
	if (len > HDRNAME_MAX) {
		conf_error(loc, "header name too long (%zu bytes, at most %d)",
		    len, HDRNAME_MAX);
		return;
	}
	for (i = 0; i <= len; i++)
		h.name[i] = (char)tolower((unsigned char)name[i]);
	if (value != NULL) {
		vlen = strlen(value);
		if (vlen > HDRVALUE_MAX) {
			conf_error(loc, "header value too long (%zu bytes, at "
			    "most %d)", vlen, HDRVALUE_MAX);
			return;
		}
		for (p = (const unsigned char *)value; *p != '\0'; p++)
			if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
				break;
		if (*p != '\0' || (vlen > 0 && (value[0] == ' ' ||
		    value[0] == '\t' || value[vlen - 1] == ' ' ||
		    value[vlen - 1] == '\t'))) {
			printable(pname, sizeof(pname), value);
			conf_error(loc, "invalid header value \"%s\"", pname);
			return;
		}
		strlcpy(h.value, value, sizeof(h.value));
		h.has_value = 1;
	}
	for (n = 0; n < rm->nheaders; n++)
		if (strcmp(rm->headers[n].name, h.name) == 0) {
			conf_error(loc, "header \"%s\" given twice in match",
			    h.name);
			return;
		}
	if (rm->nheaders >= EGD_MAX_HDRMATCH) {
		conf_error(loc, "too many header conditions in match (at most "
		    "%d)", EGD_MAX_HDRMATCH);
		return;
	}
	rm->headers[rm->nheaders++] = h;
}

/*
 * forward to HOST [port N] [weight W].  port: -1 none given (the
 * requested one), weight: -1 none given (1); 0 for either: already
 * reported.  Which service registers it is checked at the end.
 */
static void
dest_add(const YYLTYPE *loc, const YYLTYPE *hostloc, const char *host,
    long long port, long long weight)
{
	struct route_dest	 d;
	int			 i;

	memset(&d, 0, sizeof(d));
	if (host_norm(hostloc, "destination", host, 0, d.host,
	    sizeof(d.host)) == -1 || port == 0 || weight == 0)
		return;
	d.port = port == -1 ? 0 : (uint16_t)port;
	d.weight = weight == -1 ? 1 : (uint32_t)weight;
	for (i = 0; i < rm->ndests; i++)
		if (strcmp(rm->dests[i].host, d.host) == 0 &&
		    rm->dests[i].port == d.port) {
			if (d.port != 0)
				conf_error(loc, "duplicate destination %s "
				    "port %d", d.host, d.port);
			else
				conf_error(loc, "duplicate destination %s",
				    d.host);
			return;
		}
	if (rm->ndests >= EGD_MAX_DESTS) {
		conf_error(loc, "too many destinations in match (at most %d)",
		    EGD_MAX_DESTS);
		return;
	}
	rm->dests[rm->ndests] = d;
	ref_add(REF_FORWARD, loc, rt, rm, rm->ndests++, NULL);
}

/* The last rewrite authority of a match counts, and is checked. */
static void
rewrite_authority(const YYLTYPE *loc, const char *host)
{
	size_t	i;

	if (host_norm(loc, "authority", host, 0, rm->rewrite_authority,
	    sizeof(rm->rewrite_authority)) == -1)
		return;
	for (i = 0; i < nrefs; i++)
		if (refs[i].kind == REF_REWRITE && refs[i].m == rm) {
			refs[i].loc = *loc;
			return;
		}
	ref_add(REF_REWRITE, loc, rt, rm, 0, NULL);
}

static void
rewrite_prefix(const YYLTYPE *loc, const char *s)
{
	if (rm->pathtype != PATH_PREFIX)
		conf_error(loc, "rewrite path prefix needs a path prefix "
		    "condition");
	else if (path_ok(loc, "rewrite path prefix", s) == 0) {
		rm->rewrite_path = 1;
		strlcpy(rm->rewrite_prefix, s, sizeof(rm->rewrite_prefix));
	}
}

/* ---- the audit block --------------------------------------------------- */

/* One audit block a file; its settings apply to every worker. */
static void
audit_open(const YYLTYPE *loc)
{
	if (conf->audit.block)
		conf_error(loc, "audit block given twice (first at %s:%d)",
		    audit_loc.file, audit_loc.line);
	else
		audit_loc = *loc;
	conf->audit.block = 1;
	inaudit = 1;
}

static void
audit_close(void)
{
	block_abandon();
}

/*
 * sink unix PATH, sink udp|tcp ADDRESS port N, sink journald, sink
 * stderr.  port 0: out of range, already reported.
 */
static void
audit_sink_add(const YYLTYPE *loc, const YYLTYPE *argloc, int type,
    const char *arg, long long port)
{
	struct audit_sink	 s;
	struct egd_addr		 a;
	char			 pname[LEX_TEXTMAX], name[160];
	int			 i;

	memset(&s, 0, sizeof(s));
	s.type = type;
	switch (type) {
	case ASINK_UNIX:
		printable(pname, sizeof(pname), arg);
		if (*arg == '\0') {
			conf_error(argloc, "sink unix: empty path");
			return;
		}
		if (*arg != '/') {
			conf_error(argloc, "sink unix: not an absolute path: "
			    "%s", pname);
			return;
		}
		if (strlen(arg) >= sizeof(s.path)) {
			conf_error(argloc, "sink unix: path too long (%zu "
			    "bytes, at most %zu)", strlen(arg),
			    sizeof(s.path) - 1);
			return;
		}
		strlcpy(s.path, arg, sizeof(s.path));
		break;
	case ASINK_JOURNALD:
		strlcpy(s.path, EGRESSD_JOURNALSOCK, sizeof(s.path));
		break;
	case ASINK_UDP:
	case ASINK_TCP:
		if (addr_get(argloc, arg, &a) == -1 || port == 0)
			return;
		s.sslen = egd_addr_to_sa(&a, (uint16_t)port, &s.ss);
		break;
	}
	for (i = 0; i < conf->audit.nsinks; i++)
		if (audit_sink_equal(&conf->audit.sinks[i], &s)) {
			conf_error(loc, "duplicate sink %s",
			    audit_sink_name(&s, name, sizeof(name)));
			return;
		}
	if (conf->audit.nsinks >= EGD_AUDIT_MAXSINKS) {
		conf_error(loc, "too many sinks (at most %d)",
		    EGD_AUDIT_MAXSINKS);
		return;
	}
	conf->audit.sinks[conf->audit.nsinks++] = s;
}

static void
audit_sdid(const YYLTYPE *loc, const char *s)
{
	const char	*why;
	char		 pname[LEX_TEXTMAX];

	printable(pname, sizeof(pname), s);
	if (audit_sdid_valid(s, &why) == -1)
		conf_error(loc, "invalid sd-id \"%s\": %s", pname, why);
	else
		strlcpy(conf->audit.sdid, s, sizeof(conf->audit.sdid));
}

/* ---- checks of the whole file ---------------------------------------- */

static void
ref_add(int kind, const YYLTYPE *loc, struct route *r, struct route_match *m,
    int idx, const char *name)
{
	struct ref	*p;
	size_t		 n;

	if (nrefs == refsz) {
		n = refsz ? refsz * 2 : 32;
		if ((p = reallocarray(refs, n, sizeof(*refs))) == NULL)
			fatal("reallocarray");
		refs = p;
		refsz = n;
	}
	p = &refs[nrefs++];
	memset(p, 0, sizeof(*p));
	p->kind = kind;
	p->loc = *loc;
	p->r = r;
	p->m = m;
	p->idx = idx;
	p->name = name != NULL ? pstrdup(name) : NULL;
}

/*
 * Whether some service registers host (a name or a literal's canonical
 * text) and, unless port is 0, that port for it.
 */
static int
registered(const char *host, uint16_t port)
{
	const struct service	*s;
	struct hostmap_iter	 it;
	uint32_t		 id;
	int			 i;

	hostmap_find(conf->svchosts.map, host, HM_EXACT | HM_PATTERNS, &it);
	while (hostmap_next(&it, &id)) {
		s = conf->svcv.v[id - 1];
		if (port == 0)
			return 1;
		for (i = 0; i < s->nports; i++)
			if (s->ports[i].port == port)
				return 1;
	}
	return 0;
}

/*
 * A route's gateways, and the services its destinations need: the
 * forward's port, else the match's port condition, is the port a
 * destination is reached on.  A rewritten authority with no forward is
 * where the request goes; with forwards, only its host is checked.
 */
static void
check_refs(void)
{
	struct gateway		*g;
	struct route_dest	*d;
	struct ref		*f;
	char			 pname[LEX_TEXTMAX];
	size_t			 i;
	uint32_t		 key;
	uint16_t		 port;

	for (i = 0; i < nrefs; i++) {
		f = &refs[i];
		switch (f->kind) {
		case REF_GATEWAY:
			if ((key = hostmap_get(blocknames[BN_GATEWAY],
			    f->name, HMK_NAME)) != HOSTMAP_NONE &&
			    (g = conf_gateway_id(conf,
			    hostmap_owner(blocknames[BN_GATEWAY], key))) !=
			    NULL) {
				f->r->gateways[f->idx] = g->id;
				break;
			}
			printable(pname, sizeof(pname), f->name);
			conf_error(&f->loc, "route \"%s\": unknown gateway "
			    "\"%s\"", f->r->name, pname);
			break;
		case REF_FORWARD:
			d = &f->m->dests[f->idx];
			port = d->port != 0 ? d->port : f->m->port;
			if (registered(d->host, port))
				break;
			if (port != 0)
				conf_error(&f->loc, "route \"%s\" forwards to "
				    "%s port %u, which no service registers",
				    f->r->name, d->host, port);
			else
				conf_error(&f->loc, "route \"%s\" forwards to "
				    "%s, which no service registers",
				    f->r->name, d->host);
			break;
		case REF_REWRITE:
			port = f->m->ndests == 0 ? f->m->port : 0;
			if (registered(f->m->rewrite_authority, port))
				break;
			if (port != 0)
				conf_error(&f->loc, "route \"%s\" rewrites the "
				    "authority to %s port %u, which no service "
				    "registers", f->r->name,
				    f->m->rewrite_authority, port);
			else
				conf_error(&f->loc, "route \"%s\" rewrites the "
				    "authority to %s, which no service "
				    "registers", f->r->name,
				    f->m->rewrite_authority);
			break;
		case REF_PATH:
			break;
		}
	}
}

static int
route_on(const struct route *r, uint32_t gid)
{
	int	i;

	if (r->ngateways == 0)
		return 1;
	for (i = 0; i < r->ngateways; i++)
		if (r->gateways[i] == gid)
			return 1;
	return 0;
}

/*
 * A route that matches paths on a gateway that keeps escaped slashes by
 * default: an origin that decodes %2F or %5C may see a path the route
 * did not.  Said once per route and gateway, at its first path condition;
 * a gateway that says "escaped slashes keep" has chosen it.
 */
static void
check_paths(void)
{
	const struct gateway	*g;
	const struct route	*r, *said;
	const struct ref	*f;
	size_t			 i;

	/* A route's references are together, routes in file order. */
	TAILQ_FOREACH(g, &conf->gateways, entry) {
		if (g->esc_slashes != ESLASH_KEEP || g->esc_slashes_set)
			continue;
		for (said = NULL, i = 0; i < nrefs; i++) {
			f = &refs[i];
			r = f->r;
			if (f->kind != REF_PATH || r == said || !route_on(r,
			    g->id))
				continue;
			conf_warn(&f->loc, "route \"%s\" matches paths on "
			    "gateway \"%s\", which keeps escaped slashes "
			    "(%%2F, %%5C): an origin that decodes them sees "
			    "paths the route did not; choose with escaped "
			    "slashes keep, reject or decode", r->name,
			    g->name);
			said = r;
		}
	}
}

static void
check_global(void)
{
	if (TAILQ_EMPTY(&conf->gateways))
		conf_error(&eofloc, "no gateway defined");
	if (dnsttl_set && conf->dns_min_ttl > conf->dns_max_ttl)
		conf_error(&dnsttl_loc, "dns min ttl %d is greater than dns "
		    "max ttl %d", conf->dns_min_ttl, conf->dns_max_ttl);
	check_metrics();
}

/* ---- metrics and control ----------------------------------------------- */

static YYLTYPE	metrics_loc;	/* the last "metrics listen on" */

/* ADDRESS is an IPv4 or IPv6 literal, or * for 0.0.0.0; the last wins. */
static void
metrics_listen(const YYLTYPE *loc, const YYLTYPE *addrloc, const char *addr,
    long long port)
{
	struct egd_addr	a;

	if (strcmp(addr, "*") == 0)
		egd_addr_parse("0.0.0.0", &a);
	else if (addr_get(addrloc, addr, &a) == -1)
		return;
	if (port == 0)
		return;		/* already reported */
	conf->metrics_sslen = egd_addr_to_sa(&a, (uint16_t)port,
	    &conf->metrics_ss);
	metrics_loc = *loc;
}

/* Checked at the end: gateways may come later in the file. */
static void
check_metrics(void)
{
	const struct listener	*l;
	const struct gateway	*g;
	char			 abuf[INET6_ADDRSTRLEN];

	if (conf->metrics_ss.ss_family == 0)
		return;
	TAILQ_FOREACH(l, &conf->listeners, entry) {
		if (!addr_equal(&l->ss, &conf->metrics_ss))
			continue;
		TAILQ_FOREACH(g, &conf->gateways, entry)
			if (g->id == l->gateway)
				break;
		conf_error(&metrics_loc, "metrics listen on %s port %d: "
		    "gateway \"%s\" listens there", addr_ntop(&l->ss, abuf,
		    sizeof(abuf)), addr_port(&l->ss), g != NULL ? g->name : "");
		return;
	}
}

/* The group is looked up when egressd starts, as the user is. */
static void
control_socket(const YYLTYPE *loc, const YYLTYPE *grouploc, const char *path,
    const char *group)
{
	set_path(loc, "control socket", conf->control_path,
	    sizeof(conf->control_path), path);
	if (group == NULL)
		strlcpy(conf->control_group, EGRESSD_CONTROLGROUP,
		    sizeof(conf->control_group));
	else
		set_string(grouploc, "control socket group",
		    conf->control_group, sizeof(conf->control_group), group);
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
	for (i = 1; i < nitems(keywords); i++)
		if (strcmp(keywords[i - 1].name, keywords[i].name) >= 0)
			fatalx("keyword table not sorted at %s",
			    keywords[i].name);

	conf = conf_new();
	errors = 0;
	block_abandon();
	ngateways = nlisteners = nservices = nroutes = nmatches = 0;
	ndests = 0;
	memset(&audit_loc, 0, sizeof(audit_loc));
	nrefs = 0;
	dnsttl_set = 0;
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
	for (i = 0; i < BN_NKINDS; i++)
		blocknames[i] = hostmap_new();

	if (yyparse() != 0 && errors == 0)
		errors++;
	check_global();
	check_refs();
	if (errors == 0)
		check_paths();
	check_default_ca();

	while (!TAILQ_EMPTY(&files)) {
		file = TAILQ_LAST(&files, filelist);
		popfile();
	}
	symclear(0);
	free(refs);
	refs = NULL;
	nrefs = refsz = 0;
	arena_free();
	block_abandon();
	for (i = 0; i < BN_NKINDS; i++) {
		hostmap_free(blocknames[i]);
		blocknames[i] = NULL;
	}

	c = conf;
	conf = NULL;
	if (errors > 0) {
		conf_free(c);
		return NULL;
	}
	return c;
}
