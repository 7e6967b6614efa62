/*
 * The worker's own declarations: configuration generations, listeners,
 * client connections, upstream connections.  Used by worker.c (process,
 * generations, accept), worker_http.c (clients, requests, responses) and
 * worker_relay.c (upstreams, pool, tunnels).
 */
#ifndef WORKER_H
#define WORKER_H

#include <sys/queue.h>
#include <sys/time.h>

#include <llhttp.h>

#include "egressd.h"
#include "audit.h"
#include "policy.h"

struct event_base;
struct bufferevent;
struct evbuffer;
struct event;

/* A configuration generation as the worker holds it. */
struct wconf {
	TAILQ_ENTRY(wconf)	 entry;		/* live ones, newest first */
	uint32_t		 gen;
	int			 refcnt;	/* connections, +1 if current */
	int			 nconns;	/* client connections held */
	int			 ntunnels;	/* of which tunnels */
	struct egressd_conf	*conf;
	TAILQ_HEAD(, wlistener)	 listeners;
	uint32_t		*rr;		/* round robin, per service id */
	uint32_t		 nrr;
};

struct wlistener {
	TAILQ_ENTRY(wlistener)	 entry;
	struct msg_listener	 m;
	int			 fd;
	struct event		*ev;
	struct wconf		*wc;
	const struct gateway	*gw;
	void			*ctx;		/* https: SSL_CTX, or NULL */
	uint8_t			 tlsid[32];	/* https: its TLS settings */
};

/* One parsed header line, as offsets into its head's arena. */
struct hfield {
	uint32_t		 noff, nlen, voff, vlen;
};

/* A request or response head: the text in an arena, fields indexed. */
struct hhead {
	char			*buf;
	uint32_t		 len, size, maxsize;
	struct hfield		*f;
	int			 nf, maxf, maxfields;
	uint32_t		 urloff, urllen;	/* or status text */
	int			 invalue;	/* last callback was a value */
	int			 over;		/* a limit was hit: which */
	const char		*bstart;	/* the buffer being parsed */
	char			 prevlast;	/* last byte of the one before */
};

enum hstate {
	HS_HEAD = 0,		/* reading a request head */
	HS_DECIDE,		/* resolving, connecting */
	HS_FORWARD,		/* request going up, response coming back */
	HS_TUNNEL,		/* bytes both ways */
	HS_CLOSING,		/* last bytes to the client, then close */
};

struct upstream;
struct xwrite;
struct tls_watch;

/* A client on an https listener: what its handshake said. */
struct hterm {
	int			 done;		/* handshake complete */
	const char		*version;	/* as agreed */
	char			 sni[EGD_HOST_MAX];	/* "": none sent */
	char			*ids;		/* nids * EGD_IDENT_MAX */
	int			 nids;		/* verified identities */
	char			 why[96];	/* a failed handshake */
};

struct hconn {
	TAILQ_ENTRY(hconn)	 entry;
	uint64_t		 id;		/* of the current request */
	struct wconf		*wc;
	struct wlistener	*wl;
	struct bufferevent	*bev;
	struct egd_addr		 caddr;
	uint16_t		 cport;
	int			 state;
	llhttp_t		 parser;
	struct hhead		 req;
	int			 paused;	/* parser stopped by us */
	int			 begun;		/* a request head has begun */
	int			 client_eof;	/* the client shut its side */
	int			 upgrade;	/* CONNECT or Upgrade */
	int			 keepalive;	/* client allows another */
	int			 minor;		/* client's HTTP/1.x */
	int			 head_method;	/* HEAD: no response body */
	int			 chunked_in;	/* request body chunked */
	int			 has_body;
	int			 req_done;	/* request fully read */
	int			 resp_done;
	int			 resp_started;	/* head sent to the client */
	int			 resp_chunked;	/* we chunk towards the client */
	int			 resp_close;	/* close after this response */
	int			 expect;	/* Expect: 100-continue */
	struct event		*timer;		/* request head timeout */
	struct policy_dec	 dec;
	char			 host[EGD_HOST_MAX];	/* as asked */
	uint16_t		 port;
	char			 method[24];
	const char		*scheme;
	const char		*path;		/* into req.buf, normalised */
	size_t			 pathlen;
	char			*path_raw;	/* as received, if it differs */
	size_t			 path_rawlen;
	char			*path_up;	/* rewritten for upstream, or NULL */
	size_t			 path_uplen;
	struct egd_addr		 addrs[EGD_DNS_MAXADDR];
	uint16_t		 ports[EGD_DNS_MAXADDR];	/* to dial, each */
	int			 naddrs, addri, tries;
	uint32_t		 dnsid;
	int			 dns_cached;
	int			 report;	/* would-deny reason, allowed */
	struct upstream		*up;
	struct timeval		 t_start, t_dns, t_conn, t_first;
	int			 dns_ms, connect_ms, ttfb_ms;
	uint64_t		 bytes_in, bytes_out;
	int			 status;
	void			*lim_conn;	/* limits.c slots */
	void			*lim_tunnel;
	int			 tunnel_counted;
	int			 audited;	/* record written */
	int			 nopool;	/* a fresh upstream only */
	int			 tunnel_eof[2];	/* client, upstream closed */
	struct timeval		 t_active;	/* tunnel's last bytes */
	struct dst_port		*tls;		/* originate TLS: its settings */
	const char		*tls_version;	/* as the handshake agreed */
	int			 tls_resumed;
	int			 tls_ms;	/* -1: no handshake for it */
	char			 tls_verify[96];	/* "ok" or the error */
	int			 sni_pending;	/* hello not yet checked */
	struct tls_watch	*tw;		/* later hellos being read */
	struct hterm		*term;		/* https listener, or NULL */
	struct xwrite		*xw;		/* plain: written first */
	/* worker_gen.c: generations and revocation */
	int			 tunnel_open;	/* counted as a tunnel */
	uint32_t		 checked;	/* last generation to decide */
	uint32_t		 revoked;	/* generation refusing it, 0 */
	const char		*revoked_by;	/* and its reason */
	struct timeval		 revoke_at;	/* closed then */
	struct event		*revoke_ev;
	/* worker_transparent.c: a redirected connection */
	int			 odst_ok;	/* odst read, and not ours */
	struct egd_addr		 odst;		/* where the client went */
	uint16_t		 odport;
	int			 odst_match;	/* enum tp_match */
};

/* Was the original destination among the addresses resolved? */
enum tp_match {
	TP_MATCH_UNKNOWN = 0,	/* not resolved (yet), or not transparent */
	TP_MATCH_YES,
	TP_MATCH_NO,
};

struct upstream {
	TAILQ_ENTRY(upstream)	 entry;		/* in the pool when idle */
	struct bufferevent	*bev;
	struct hconn		*hc;		/* NULL when idle */
	struct egd_addr		 addr;
	uint16_t		 port;
	llhttp_t		 parser;
	struct hhead		 resp;
	int			 connected;
	int			 reused;
	int			 chunked;	/* response body chunked */
	int			 nobody;
	int			 upgrade;	/* 101 */
	int			 keepalive;
	int			 status;
	int			 done;		/* response complete */
	uint64_t		 body_left;	/* of a Content-Length body */
	int			 gotbytes;	/* any response byte yet */
	/* TLS origination: the pool gives it only to the same settings. */
	void			*ssl;		/* SSL, owned by bev; or NULL */
	struct dst_port		*tls;		/* its settings, while attached */
	char			 sni[EGD_HOST_MAX];
	char			 vhost[EGD_HOST_MAX];	/* name verified */
	int			 handshaking;
	int			 tls_ms;	/* handshake, -1: reused */
	struct timeval		 t_tls;
	struct xwrite		*xw;		/* plain: written first */
};

/* worker.c */
extern struct event_base	*worker_base;
extern int			 worker_instance;
struct wconf	*worker_conf(void);
void		 wconf_unref(struct wconf *);
void		 worker_gens_publish(void);
void		 worker_conn_gone(struct hconn *);
uint32_t	 worker_random(void);
uint64_t	 worker_next_id(void);
int		 worker_rate_limited(struct hconn *);
int		 worker_tunnel_limited(struct hconn *);

/* worker_transparent.c */
void		 tp_accept(struct hconn *, int);
void		 tp_resolved(struct hconn *);

/* worker_http.c */
void		 http_init(void);
int		 http_accept(struct wlistener *, int, const struct sockaddr *,
		    void *);
void		 http_shutdown(void);
void		 http_cut(int);
void		 http_upstream_connected(struct hconn *);
void		 http_upstream_failed(struct hconn *, int, int);
void		 http_upstream_refused(struct hconn *, int, int, const char *);
void		 http_response_head(struct hconn *);
void		 http_response_body(struct hconn *, const char *, size_t);
void		 http_response_done(struct hconn *);
void		 http_request_more(struct hconn *);
void		 http_close(struct hconn *, int);
void		 http_dns_cb(void *, int, const struct egd_addr *, int,
		    uint32_t, int);
void		 http_resolved(struct hconn *);
void		 http_route(struct hconn *);
void		 http_drop(struct hconn *, int);
void		 http_foreach(void (*)(struct hconn *, void *), void *);
int		 http_switch_valid(const struct hconn *, const struct hhead *);
int		 hhead_alloc(struct hhead *, uint32_t, int);
int		 hhead_add(struct hhead *, int, const char *, size_t);
int		 hhead_folded(const struct hhead *, const char *);
int		 hhead_on_value(struct hhead *, llhttp_t *, const char *, size_t);
int		 hhead_on_value_complete(struct hhead *);
void		 hhead_copy_fields(const struct hhead *, struct evbuffer *);
void		 hhead_reset(struct hhead *);
void		 hhead_free(struct hhead *);
const char	*hhead_get(const struct hhead *, const char *, size_t *);
const char	*hhead_nth(const struct hhead *, const char *, int, size_t *);

/* worker_relay.c */
void		 relay_init(void);
void		 relay_connect(struct hconn *);
void		 relay_release(struct hconn *, int);
void		 relay_tunnel(struct hconn *);
void		 relay_tunnel_eof(struct hconn *, int);
void		 relay_tunnel_timeout(struct hconn *, int, short);
void		 relay_resume(struct hconn *);
void		 relay_pool_flush(void);
void		 xio_fill(struct bufferevent *);
struct xwrite	*xw_new(struct bufferevent *);
void		 xw_free(struct xwrite *);
void		 xw_idle(struct xwrite *);

/* worker_gen.c: generations on live connections, revocation */
void		 gen_listener_id(const struct egressd_conf *,
		    struct wlistener *);
int		 gen_rebind(struct hconn *);
void		 gen_reload(struct wconf *);
void		 gen_tunnel_open(struct hconn *);
void		 gen_conn_gone(struct hconn *);

/* worker_tls.c */
int		 tls_client_hello(const uint8_t *, size_t, char *, size_t,
		    size_t *, int *);
void		 tls_feed(struct hconn *);
int		 tls_tunnel_wants_check(const struct hconn *);
int		 tls_tunnel_check(struct hconn *, int);
void		 tls_watch_start(struct hconn *);
void		 tls_watch_free(struct hconn *);
ssize_t		 tls_watch(struct hconn *, int, struct evbuffer *);

/* worker_origin.c: TLS origination */
void		 orig_init(void);
void		 orig_log_errors(const char *);
struct x509_store_st *orig_store(const struct ca_bundle *);
void		 orig_conf_build(struct egressd_conf *);
void		 orig_conf_free(struct egressd_conf *);
int		 orig_select(const struct egressd_conf *, const char *,
		    uint16_t, int, struct dst_port **, const char **);
const char	*orig_sni(const struct dst_port *, const char *);
struct bufferevent *orig_wrap(struct event_base *, struct upstream *);
int		 orig_verified(void *, struct bufferevent *, char *, size_t);
int		 orig_verify_error(void *, char *, size_t);
int		 orig_alert(struct bufferevent *, char *, size_t);
unsigned long	 orig_bev_error(struct bufferevent *);
void		 orig_keep_session(struct upstream *);
void		 orig_info(void *, const char **, int *);
void		 orig_done(void *);
int		 orig_same_ctx(void *, const struct dst_port *);

/* worker_term.c: TLS termination on https listeners */
void		 term_ctx_build(struct egressd_conf *, struct wlistener *);
void		 term_ctx_free(struct wlistener *);
struct bufferevent *term_wrap(struct event_base *, struct wlistener *, int);
int		 term_handshake_done(struct hconn *);
int		 term_failed(struct hconn *, short);
void		 term_free(struct hconn *);

/* worker_key.c: private keys held by the helper */
struct x509_st;
struct evp_pkey_st;
struct ssl_ctx_st;
void		 wkey_init(void);
void		 wkey_set_fd(int);
struct evp_pkey_st *wkey_remote(struct x509_st *, const uint8_t *);
int		 wkey_use_chain(struct ssl_ctx_st *, const char *, size_t);

/* worker_control.c: the metrics listener and the control socket */
void		 wctl_dispatch_status(struct ps_chan *, struct ps_msg *);
void		 wctl_dispatch_admin(struct ps_chan *, struct ps_msg *);
void		 wctl_dispatch_result(struct ps_chan *, struct ps_msg *);
void		 wctl_conf_end(const struct egressd_conf *, uint32_t, int);
void		 wctl_start(struct ps_chan *);
void		 wctl_shutdown(void);

#endif /* WORKER_H */
