/*
 * egressctl import istio: Istio networking resources (Gateway,
 * ServiceEntry, VirtualService, DestinationRule) in, egressd.conf text
 * out.  It runs in egressctl alone, as its caller, and needs no running
 * daemon.  Three stages, one file each, over the model declared here:
 *
 *	istio.c		reads YAML (libyaml) into the ist_* records below,
 *			one per resource, judging each on its own;
 *	istio_map.c	decides across resources (which routes are the
 *			sidecars' hop, which ports originate TLS, which
 *			destinations are registered) and builds the og_*
 *			records, one per egressd.conf block;
 *	istio_emit.c	writes the og_* records as egressd.conf text;
 *
 * and istio_import.c, the command: options, files, messages, output.
 * Every message is tied to a place in the input (FILE:LINE:COL) and,
 * when it concerns a resource, to the part of the resource it is about,
 * so that a part left out (a route for the sidecars only) takes its
 * messages with it.  All memory comes from one arena, freed at the end.
 */
#ifndef EGRESSD_ISTIO_H
#define EGRESSD_ISTIO_H

#include <stddef.h>
#include <stdio.h>

/* ---- places, messages, memory ------------------------------------------ */

struct ist_loc {
	int			 file;		/* index in ctx->files */
	int			 line;		/* from 1; 0: no place */
	int			 col;
};

enum ist_sev {
	IST_WARN = 0,		/* not supported; an error with --strict */
	IST_ERROR,		/* cannot be expressed: nothing is written */
};

struct ist_res;

struct ist_diag {
	struct ist_loc		 loc;
	int			 sev;		/* enum ist_sev */
	const struct ist_res	*res;		/* NULL: about no resource */
	int			 part;		/* 0, or a route's index + 1 */
	size_t			 seq;		/* order of making */
	char			*text;
};

struct ist_ablk;

/* ---- the resources read ------------------------------------------------ */

enum ist_kind {
	IK_GATEWAY = 0,
	IK_SERVICEENTRY,
	IK_VIRTUALSERVICE,
	IK_DESTINATIONRULE,
	IK_NKINDS
};

struct ist_str {
	char			*s;
	struct ist_loc		 loc;
};

struct ist_strs {
	struct ist_str		*v;
	size_t			 n;
	struct ist_loc		 loc;		/* of the list */
};

/* Gateway: one server. */
enum ist_lproto {
	LP_HTTP = 0,
	LP_HTTPS,		/* TLS terminated: cert and key */
	LP_TLS,			/* PASSTHROUGH */
};

struct ist_server {
	struct ist_loc		 loc;
	int			 idx;		/* in spec.servers */
	unsigned int		 port;
	int			 proto;		/* enum ist_lproto */
	char			*bind;		/* canonical literal, or NULL */
	struct ist_strs		 hosts;		/* lowercase, no "ns/" */
	char			*cert, *key, *clientca, *ciphers;
	int			 client_optional;
	int			 minver;	/* 12 or 13 */
};

struct ist_gateway {
	struct ist_server	*servers;
	size_t			 nservers;
};

/* ServiceEntry. */
enum ist_sproto {
	SP_HTTP = 0,
	SP_HTTPS,
	SP_TLS,
	SP_TCP,
};

enum ist_resolution {
	RS_NONE = 0,
	RS_STATIC,
	RS_DNS,
	RS_DNS_ROUND_ROBIN,
	RS_DYNAMIC_DNS,
};

struct ist_seport {
	struct ist_loc		 loc;
	unsigned int		 number;
	int			 proto;		/* enum ist_sproto */
	char			*protocol;	/* as written, upper case */
	char			*name;		/* NULL: none */
	unsigned int		 target;	/* 0: none */
	struct ist_loc		 target_loc;
};

struct ist_epport {
	char			*name;
	unsigned int		 port;
	struct ist_loc		 loc;
};

struct ist_endpoint {
	struct ist_loc		 loc;
	char			*addr;		/* canonical literal */
	int			 v6;
	struct ist_epport	*ports;
	size_t			 nports;
};

struct ist_se {
	struct ist_strs		 hosts;		/* lowercase, canonical */
	struct ist_seport	*ports;
	size_t			 nports;
	int			 internal;	/* location: MESH_INTERNAL */
	struct ist_loc		 location_loc;
	int			 resolution;	/* enum ist_resolution */
	int			 resolution_set;
	struct ist_loc		 resolution_loc;
	struct ist_endpoint	*endpoints;
	size_t			 nendpoints;
	struct ist_loc		 endpoints_loc;
};

/* VirtualService: routes and their matches. */
enum ist_smtype {
	SM_NONE = 0,
	SM_EXACT,
	SM_PREFIX,
	SM_PRESENT,		/* headers: {} */
};

struct ist_strmatch {
	int			 type;		/* enum ist_smtype */
	char			*v;
	struct ist_loc		 loc;
};

struct ist_hdrmatch {
	char			*name;		/* lowercase */
	struct ist_strmatch	 m;
};

struct ist_match {
	struct ist_loc		 loc;
	int			 idx;		/* in the route's match list */
	struct ist_strmatch	 uri, method, authority;
	struct ist_hdrmatch	*hdrs;
	size_t			 nhdrs;
	unsigned int		 port;
	struct ist_strs		 gateways;
	struct ist_strs		 sni;		/* tls routes */
};

struct ist_dest {
	struct ist_loc		 loc;
	char			*host;		/* lowercase */
	struct ist_loc		 host_loc;
	unsigned int		 port;		/* 0: none */
	long long		 weight;	/* -1: none */
};

enum ist_rkind {
	RK_HTTP = 0,
	RK_TLS,
	RK_TCP,
};

struct ist_route {
	struct ist_loc		 loc;
	int			 kind;		/* enum ist_rkind */
	int			 idx;		/* in spec.http, .tls or .tcp */
	int			 drop;		/* left out: its messages too */
	char			*name;
	struct ist_match	*m;
	size_t			 nm;
	struct ist_dest		*d;
	size_t			 nd;
	char			*rw_uri;
	struct ist_loc		 rw_uri_loc;
	char			*rw_auth;
	struct ist_loc		 rw_auth_loc;
	int			 timeout;	/* seconds; -1: none */
	struct ist_loc		 timeout_loc;
	int			 retries;	/* -1: none */
};

struct ist_vs {
	struct ist_strs		 hosts;		/* lowercase; "*" kept */
	struct ist_strs		 gateways;
	struct ist_route	*r;
	size_t			 nr;
};

/* DestinationRule. */
enum ist_tlsmode {
	TM_DISABLE = 0,
	TM_SIMPLE,
	TM_MUTUAL,
	TM_ISTIO_MUTUAL,
};

struct ist_ctls {
	int			 set;		/* the tls field is there */
	struct ist_loc		 loc;
	int			 mode;		/* enum ist_tlsmode */
	char			*cert, *key, *ca, *sni;
	struct ist_strs		 sans;
};

struct ist_portpol {
	struct ist_loc		 loc;
	unsigned int		 port;
	struct ist_ctls		 tls;
};

struct ist_dr {
	char			*host;		/* lowercase */
	struct ist_loc		 host_loc;
	struct ist_ctls		 tls;		/* trafficPolicy.tls */
	struct ist_portpol	*pl;		/* portLevelSettings */
	size_t			 npl;
};

struct ist_res {
	int			 kind;		/* enum ist_kind */
	char			*name;
	char			*ns;		/* "" when not given */
	char			*label;		/* "Kind/name", for messages */
	struct ist_loc		 loc;		/* where the resource begins */
	int			 drop;		/* left out, messages and all */
	struct ist_strs		 exportto;
	union {
		struct ist_gateway	 gw;
		struct ist_se		 se;
		struct ist_vs		 vs;
		struct ist_dr		 dr;
	} u;
};

/* ---- the blocks written ------------------------------------------------ */

struct og_note {
	char			*text;
	int			 whole;		/* never wrapped */
};

struct og_notes {
	struct og_note		*v;
	size_t			 n;
};

struct og_listener {
	const struct ist_server	*srv;		/* the first */
	char			*servers;	/* "spec.servers[0], ..." */
	const struct ist_res	*res;
	const char		*addr;		/* text; IPv6 without brackets */
	int			 v6;
	unsigned int		 port;
	int			 proto;		/* enum ist_lproto */
	char			*cert, *key, *clientca, *ciphers;
	int			 client_optional;
	int			 minver;
	struct ist_strs		 hosts;		/* merged, sorted; "*": any */
	int			 any;
};

struct og_gateway {
	char			*name;
	const struct ist_res	*res;
	struct og_notes		 notes;
	struct og_listener	**l;
	size_t			 nl;
	struct ist_strs		 hosts;		/* empty with any */
	int			 any;
};

struct og_sport {
	unsigned int		 port;
	int			 proto;		/* enum ist_sproto */
	char			*label;
	char			*note;		/* a comment line, or NULL */
};

struct og_endpoint {
	char			*addr;
	int			 v6;
	unsigned int		 port;		/* 0: the destination's */
};

struct og_service {
	char			*name;
	const struct ist_res	*res;
	struct og_notes		 notes;
	struct ist_strs		 hosts;
	struct og_sport		*ports;
	size_t			 nports;
	int			 is_static;
	struct og_endpoint	*eps;
	size_t			 neps;
	int			 allow_private;
};

struct og_hdr {
	char			*name;
	char			*value;		/* NULL: present */
};

struct og_fwd {
	char			*host;
	unsigned int		 port;		/* 0: the request's */
	unsigned int		 weight;
};

enum og_pathtype {
	OP_ANY = 0,
	OP_EXACT,
	OP_PREFIX,
};

struct og_match {
	char			*comment;
	char			*authority;	/* NULL: any */
	unsigned int		 port;
	int			 pathtype;	/* enum og_pathtype */
	char			*path;
	char			*method;
	struct og_hdr		*hdrs;
	size_t			 nhdrs;
	struct og_fwd		*fwd;
	size_t			 nfwd;
	char			*rw_auth;
	char			*rw_prefix;
	int			 timeout;	/* 0: none */
	int			 retries;
	/* the gateways it is bound to: indices in conf->gateways */
	size_t			*gw;
	size_t			 ngw;
};

struct og_route {
	char			*name;
	const struct ist_res	*res;
	struct og_notes		 notes;
	int			 left_out;	/* only the notes are written */
	size_t			*gw;
	size_t			 ngw;
	struct og_match		**m;
	size_t			 nm;
};

struct og_dport {
	unsigned int		 port;
	int			 mode;		/* enum ist_tlsmode, no ISTIO */
	char			*sni, *ca, *cert, *key;
	struct ist_strs		 sans;
};

struct og_dest {
	char			*name;
	const struct ist_res	*res;
	struct og_notes		 notes;
	int			 left_out;
	char			*host;
	struct og_dport		*ports;
	size_t			 nports;
};

/* ---- the whole import -------------------------------------------------- */

struct ist_ctx {
	/* the input */
	const char		**files;	/* names for messages */
	int			 nfiles;
	struct ist_res		**res;
	size_t			 nres, maxres;
	/* what was said */
	struct ist_diag		*diags;
	size_t			 ndiags, maxdiags;
	/* options */
	const char		*listen;	/* -l, canonical */
	int			 listen_v6;
	/* the output */
	struct og_gateway	**gw;
	size_t			 ngw;
	struct og_service	**svc;
	size_t			 nsvc;
	struct og_route		**rt;
	size_t			 nrt;
	struct og_dest		**dst;
	size_t			 ndst;
	/* memory */
	struct ist_ablk		*arena;
};

/* istio_import.c: the command, and what the stages share. */
int		 istio_import(int, char *[]);
void		*ist_alloc(struct ist_ctx *, size_t);
char		*ist_strdup(struct ist_ctx *, const char *);
char		*ist_printf(struct ist_ctx *, const char *, ...)
		    __attribute__((__format__ (printf, 2, 3)));
void		*ist_grow(struct ist_ctx *, void *, size_t *, size_t);
void		 ist_diag(struct ist_ctx *, int, const struct ist_res *, int,
		    const struct ist_loc *, const char *, ...)
		    __attribute__((__format__ (printf, 6, 7)));
void		 ist_unsupported(struct ist_ctx *, const struct ist_res *,
		    int, const struct ist_loc *, const char *, const char *);

/* istio.c */
void		 ist_read(struct ist_ctx *, int, const char *, size_t);
const char	*ist_kind_name(int);

/* istio_map.c */
void		 ist_map(struct ist_ctx *);

/* istio_emit.c */
void		 ist_emit(struct ist_ctx *, FILE *);

#endif /* EGRESSD_ISTIO_H */
