/*
 * egressd: the gateway's shared declarations.  The configuration as the
 * parent parses it, the per-role entry points, and the prototypes of every
 * src/ file, grouped per file.
 */
#ifndef EGRESSD_H
#define EGRESSD_H

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <limits.h>
#include <stdint.h>
#include <stdio.h>

#include "ps.h"
#include "proto.h"

#define EGRESSD_CONF		"/etc/egressd.conf"
#define EGRESSD_USER		"_egressd"
#define EGRESSD_CHROOT		"/var/empty"
#define EGRESSD_RESOLVER	"/etc/resolv.conf"
#define EGRESSD_DRAIN		30	/* seconds to let connections end */
#define EGRESSD_REVOKEGRACE	5	/* seconds a refused tunnel goes on */
#define EGRESSD_MAXCONN		10000	/* client connections per worker */
#define EGRESSD_IDLE		60	/* seconds a client may stay silent */
#define EGRESSD_MAXWORKERS	64
#define EGRESSD_REQTIMEOUT	30	/* seconds for a request head */
#define EGRESSD_CONNTIMEOUT	10	/* seconds for an upstream connect */
#define EGRESSD_MAXHDRSIZE	32768	/* bytes of a request head */
#define EGRESSD_MAXHEADERS	100	/* header lines of a request */
#define EGRESSD_MAXURI		8192	/* bytes of a request-target */
#define EGRESSD_DNSMINTTL	5	/* seconds, clamp of answer TTLs */
#define EGRESSD_DNSMAXTTL	300
#define EGRESSD_DNSNEGTTL	5	/* seconds a failure is cached */
#define EGRESSD_POOLIDLE	128	/* idle upstreams kept per host:port */
#define EGRESSD_POOLTIMEOUT	30	/* seconds an upstream stays idle */
#define EGRESSD_CONTROL		"/run/egressd/egressd.sock"
#define EGRESSD_CONTROLGROUP	"root"
#define EGRESSD_SDID		"audit@32473"	/* the audit records' SD-ID */
#define EGRESSD_AUDITBUF	1048576	/* bytes queued per sink and worker */
#define EGRESSD_AUDITSOCK	"/run/egressd/audit.sock"
#define EGRESSD_JOURNALSOCK	"/run/systemd/journal/socket"

#define EGD_PATH_MAX		1024	/* a path or path prefix in a route */
#define EGD_CIPHERS_MAX		512	/* an OpenSSL cipher list */
#define EGD_IDENT_MAX		256	/* a client identity, with its NUL */
#define EGD_MAX_IDENTS		8	/* "from identity" strings of a block */

enum listen_proto {
	PROTO_HTTP = 0,
	PROTO_HTTPS,
	PROTO_TLS,
};

/*
 * Host names to the records that list them (hostmap.c): exact names,
 * "*.name" patterns and IP literals, each kind in a table of its own.
 */
enum hostmap_kinds {
	HMK_NAME = 0,		/* an exact name, or any verbatim key */
	HMK_PATTERN,		/* "*.suffix" */
	HMK_LITERAL,		/* an IPv4 or IPv6 address's text */
	HMK_NKINDS
};
#define HOSTMAP_NONE		UINT32_MAX
#define HOSTMAP_KEYMAX		1024	/* bytes of a key */
#define HOSTMAP_HOSTMAX		255	/* bytes of a host looked up */
#define HOSTMAP_MAXLISTS	128	/* keys covering one such host */
#define HM_EXACT		0x01	/* find: the host's own key */
#define HM_PATTERNS		0x02	/* find: the patterns covering it */

struct hostmap;
struct hostmap_iter {
	const struct hostmap	*hm;
	int			 n;
	uint32_t		 key[HOSTMAP_MAXLISTS];
	uint32_t		 pos[HOSTMAP_MAXLISTS];
	uint32_t		 owner[HOSTMAP_MAXLISTS];
};

/*
 * The host names of one kind of record (gateways, services): a map for
 * lookups, and each record's names in order, as keys of the map, at
 * keys[hfirst .. hfirst + nhosts) of the record.
 */
struct hostset {
	struct hostmap		*map;
	uint32_t		*keys;
	size_t			 nkeys, maxkeys;
};

/* Records by id (ids are 1, 2, ... in file order): v[id - 1]. */
struct recvec {
	void			**v;
	size_t			 n, max;
};

struct listener {
	TAILQ_ENTRY(listener)	 entry;
	uint32_t		 id;
	uint32_t		 gateway;	/* id of its gateway */
	struct sockaddr_storage	 ss;
	socklen_t		 sslen;
	int			 proto;		/* enum listen_proto */
	int			 transparent;	/* redirected connections */
	/* https: TLS termination (worker_origin.c); paths for messages */
	char			 cert[EGD_PATH_MAX];	/* leaf, then chain */
	char			 key[EGD_PATH_MAX];	/* to the helper only */
	char			 clientca[EGD_PATH_MAX];	/* "": none */
	int			 cert_id;	/* in conf->cas, -1: none */
	int			 clientca_id;	/* in conf->cas, -1: none */
	int			 client_optional;	/* no cert is fine */
	int			 minver;	/* 12 or 13 */
	char			 ciphers[EGD_CIPHERS_MAX];	/* TLS 1.2 */
	/*
	 * Parent: one socket per worker in an SO_REUSEPORT group, so the
	 * kernel spreads connections evenly; -1 where none (yet).
	 */
	int			 fds[EGRESSD_MAXWORKERS];
	int			 nfds;
};
TAILQ_HEAD(listenerlist, listener);

/* What a gateway does with %2F and %5C in a request's path. */
enum esc_slashes {
	ESLASH_KEEP = 0,	/* left escaped: the default */
	ESLASH_REJECT,		/* the request is refused, 400 */
	ESLASH_DECODE,		/* read as '/' */
};

struct gateway {
	TAILQ_ENTRY(gateway)	 entry;
	uint32_t		 id;
	char			 name[EGD_NAME_MAX];
	uint32_t		 hfirst, nhosts; /* conf->gwhosts; 0: any */
	int			 merge_slashes;	/* "//" is "/" (default) */
	int			 esc_slashes;	/* enum esc_slashes */
	int			 esc_slashes_set; /* parent: said explicitly */
};
TAILQ_HEAD(gatewaylist, gateway);

/*
 * Routes and their parts are fixed-size records so that the parent can
 * send each as one message (src/proto.h); a service's lists are arrays of
 * their exact length, sent after its fixed part (struct msg_service).
 * List entries, host sets and indexes are rebuilt by the receiver.
 */
#define EGD_MAX_PORTS		16	/* ports of a service */
#define EGD_MAX_ENDPOINTS	16	/* static endpoints of a service */
#define EGD_MAX_CIDRS		32	/* "from" networks of a block */
#define EGD_MAX_DESTS		8	/* weighted destinations of a match */
#define EGD_MAX_HDRMATCH	4	/* header conditions of a match */
#define EGD_MAX_ROUTEGW		8	/* gateways a route is bound to */

/* An address family with up to 16 bytes of address: IPv4 or IPv6. */
struct egd_addr {
	uint8_t			 af;		/* AF_INET or AF_INET6 */
	uint8_t			 addr[16];	/* network order */
};

struct egd_cidr {
	struct egd_addr		 a;
	uint8_t			 prefixlen;	/* 0..32 or 0..128 */
};

/* An address and port this daemon listens on: never dialed (guard.c). */
struct egd_sockname {
	struct egd_addr		 a;
	uint16_t		 port;
};

enum svc_proto {
	SPROTO_HTTP = 0,	/* plain HTTP/1.1 */
	SPROTO_HTTPS,		/* HTTP over TLS (origination or CONNECT) */
	SPROTO_TLS,		/* TLS, routed by SNI (passthrough) */
	SPROTO_TCP,		/* opaque bytes (CONNECT only) */
};

enum svc_resolution {
	RES_DNS = 0,		/* the requested name, through the helper */
	RES_STATIC,		/* the listed endpoints only */
};

enum svc_action {
	ACT_ENFORCE = 0,	/* deny what the service does not allow */
	ACT_REPORT,		/* let it pass, record "would deny" */
};

/* What the private-address guard lets a service reach (guard.c). */
enum svc_private {
	PRIV_NONE = 0,		/* public addresses only */
	PRIV_ALL,		/* "allow private": any */
	PRIV_NETS,		/* "allow private { ... }": those networks */
};

struct svc_port {
	uint16_t		 port;
	uint8_t			 proto;		/* enum svc_proto */
	char			 name[EGD_NAME_MAX];	/* optional label */
};

struct svc_endpoint {
	struct egd_addr		 a;
	uint16_t		 port;		/* 0: the requested port */
};

/*
 * A ServiceEntry: what may leave.  Its hosts (names, "*.x", IP literals)
 * are in conf->svchosts; each list is an array of its own length (NULL
 * when empty), so that a registry of many small services stays small.
 */
struct service {
	TAILQ_ENTRY(service)	 entry;
	uint32_t		 id;		/* 1, 2, ... in file order */
	uint32_t		 hfirst, nhosts;	/* conf->svchosts */
	char			 name[EGD_NAME_MAX];
	struct svc_port		*ports;
	int			 nports;
	int			 resolution;	/* enum svc_resolution */
	struct svc_endpoint	*endpoints;
	int			 nendpoints;
	int			 action;	/* enum svc_action */
	int			 allow_private;	/* enum svc_private */
	struct egd_cidr		*private_nets;	/* PRIV_NETS */
	int			 nprivate_nets;
	int			 sni_nocheck;	/* "sni check off" */
	struct egd_cidr		*from;		/* none: any source */
	int			 nfrom;
	char			(*idents)[EGD_IDENT_MAX];
	int			 nidents;	/* none: any client */
};
TAILQ_HEAD(servicelist, service);
/* The longest IMSG_CONF_SERVICE. */
#define EGD_SVCMSG_MAX	(sizeof(struct msg_service) +			\
	EGD_MAX_PORTS * sizeof(struct svc_port) +			\
	EGD_MAX_ENDPOINTS * sizeof(struct svc_endpoint) +		\
	2 * EGD_MAX_CIDRS * sizeof(struct egd_cidr) +			\
	EGD_MAX_IDENTS * EGD_IDENT_MAX)

struct route_dest {
	char			 host[EGD_HOST_MAX];
	uint16_t		 port;		/* 0: the requested port */
	uint32_t		 weight;	/* 1..100 */
};

enum path_match {
	PATH_ANY = 0,
	PATH_EXACT,
	PATH_PREFIX,
};

struct hdr_match {
	char			 name[64];	/* lowercase */
	char			 value[256];	/* exact value */
	int			 has_value;	/* 0: presence only */
};

/* One "match ... { ... }" of a route: conditions, then actions. */
struct route_match {
	TAILQ_ENTRY(route_match) entry;
	uint32_t		 id;
	uint32_t		 route;		/* id of its route */
	char			 authority[EGD_HOST_MAX]; /* "": any; "*.x" */
	uint16_t		 port;		/* 0: any */
	int			 pathtype;	/* enum path_match */
	char			 path[EGD_PATH_MAX];
	char			 method[16];	/* "": any */
	struct hdr_match	 headers[EGD_MAX_HDRMATCH];
	int			 nheaders;
	struct route_dest	 dests[EGD_MAX_DESTS];	/* none: as asked */
	int			 ndests;
	char			 rewrite_authority[EGD_HOST_MAX];
	int			 rewrite_path;	/* replace the matched prefix */
	char			 rewrite_prefix[EGD_PATH_MAX];
	int			 timeout;	/* seconds; 0: connect timeout */
	int			 retries;	/* connect retries, idempotent */
	int			 websocket;	/* Upgrade: websocket allowed */
};
TAILQ_HEAD(matchlist, route_match);

/* A VirtualService: where it goes. */
struct route {
	TAILQ_ENTRY(route)	 entry;
	struct matchlist	 matches;
	uint32_t		 id;
	char			 name[EGD_NAME_MAX];
	uint32_t		 gateways[EGD_MAX_ROUTEGW];	/* ids */
	int			 ngateways;	/* 0: every gateway */
	struct egd_cidr		 from[EGD_MAX_CIDRS];
	int			 nfrom;
	char			 idents[EGD_MAX_IDENTS][EGD_IDENT_MAX];
	int			 nidents;
};
TAILQ_HEAD(routelist, route);

/*
 * A DestinationRule: how to talk to a host's ports once policy let a
 * request through.  Only TLS origination for now.  The parent reads each
 * CA bundle named (or the default one) into conf->cas; a port refers to
 * its bundle by index (ca_id), and the worker builds its SSL_CTX from the
 * bytes (worker_origin.c): workers never open files.
 */
#define EGD_MAX_DSTPORTS	8	/* ports of a destination */
#define EGD_MAX_VERIFYSAN	4	/* names of verify-san */
#define EGD_MAX_CAS		64	/* distinct CA bundles */
#define EGD_CA_MAXSIZE		(4 * 1024 * 1024)	/* bytes of one */
#define EGRESSD_CABUNDLE	"/etc/ssl/certs/ca-certificates.crt"

enum tls_mode {
	TLSM_DISABLE = 0,	/* plain TCP to the port */
	TLSM_SIMPLE,		/* originate TLS, verify the server */
	TLSM_MUTUAL,		/* and a client certificate */
};

/*
 * A private key, read by the parent and sent to the helper alone
 * (helper_key.c).  Everyone else names it by id: the SHA-256 of the
 * SubjectPublicKeyInfo of the certificate it goes with.
 */
#define EGD_MAX_KEYS		32
#define EGD_KEY_MAXDER		8192	/* bytes of a key in DER */
#define EGD_KEYID_LEN		32
#define EGD_KEYOP_TIMEOUT_MS	2000	/* a worker waits for the helper */
struct tls_key {
	char			 path[EGD_PATH_MAX];
	uint8_t			 id[EGD_KEYID_LEN];
	uint8_t			*der;		/* parent: the key; else NULL */
	size_t			 len;
};

struct dst_port {
	uint16_t		 port;
	uint8_t			 mode;		/* enum tls_mode */
	uint8_t			 minver;	/* 12 or 13: TLS 1.2, 1.3 */
	uint32_t		 ca_id;		/* index in conf->cas */
	char			 sni[EGD_HOST_MAX];	/* "": the host */
	char			 ca[EGD_PATH_MAX];	/* "": the default */
	char			 ciphers[EGD_CIPHERS_MAX]; /* "": default */
	char			 san[EGD_MAX_VERIFYSAN][EGD_HOST_MAX];
	int			 nsan;		/* 0: verify the host */
	char			 cert[EGD_PATH_MAX];	/* mutual: client cert */
	char			 key[EGD_PATH_MAX];	/* mutual: to the helper */
	int32_t			 cert_id;	/* in conf->cas, -1: none */
	void			*ctx;		/* worker: SSL_CTX */
};

struct destination {
	TAILQ_ENTRY(destination) entry;
	uint32_t		 id;
	char			 name[EGD_NAME_MAX];
	char			 host[EGD_HOST_MAX];	/* a name or "*.x" */
	struct dst_port		 ports[EGD_MAX_DSTPORTS];
	int			 nports;
};
TAILQ_HEAD(destlist, destination);

/* A CA bundle's PEM text, as the parent read it. */
struct ca_bundle {
	char			 path[EGD_PATH_MAX];
	char			*pem;
	size_t			 len;
	size_t			 got;		/* worker: bytes received */
};

/* Limits; 0 means none.  Rates are requests per second. */
struct egd_limits {
	uint32_t		 conns;		/* concurrent, all workers */
	uint32_t		 src_conns;	/* concurrent, per client address */
	uint32_t		 tunnels;
	uint32_t		 src_tunnels;
	uint32_t		 rate, burst;
	uint32_t		 src_rate, src_burst;
};

/*
 * Where the audit trail goes: the sinks of an "audit" block, or the one
 * audit_conf_default() chose when it names none.  The parent opens the
 * sockets; a worker only writes to them (worker_audit.c).
 */
enum audit_sink_type {
	ASINK_UNIX = 0,		/* RFC 5424, a datagram each, to a path */
	ASINK_UDP,		/* RFC 5424, a datagram each */
	ASINK_TCP,		/* RFC 5424, RFC 6587 octet counting */
	ASINK_JOURNALD,		/* journald's native protocol */
	ASINK_STDERR,		/* RFC 5424 lines on the worker's stderr */
};

enum audit_events {
	AEVENTS_ALL = 0,
	AEVENTS_DENIALS,	/* DENY records only */
};

#define EGD_AUDIT_MAXSINKS	8
#define EGD_SDID_MAX		32	/* RFC 5424: an SD-NAME's length */
#define EGD_AUDITBUF_MIN	4096
#define EGD_AUDITBUF_MAX	67108864

struct audit_sink {
	int			 type;		/* enum audit_sink_type */
	char			 path[sizeof(((struct sockaddr_un *)0)->
				    sun_path)];	/* unix, journald */
	struct sockaddr_storage	 ss;		/* udp, tcp */
	socklen_t		 sslen;
};

struct audit_conf {
	int			 block;		/* an audit block was read */
	int			 defaulted;	/* sinks chosen at start */
	struct audit_sink	 sinks[EGD_AUDIT_MAXSINKS];
	int			 nsinks;
	char			 sdid[EGD_SDID_MAX + 1];
	int			 events;	/* enum audit_events */
	int			 buffer;	/* bytes, per sink and worker */
};

struct egressd_conf {
	uint32_t		 gen;
	char			 user[64];
	char			 chroot[PATH_MAX];
	char			 resolver[PATH_MAX];
	struct sockaddr_storage	 nameservers[8];	/* override resolver */
	int			 nnameservers;
	struct nameserver_tls {	/* DNS over TLS, by nameserver */
		char		 name[EGD_HOST_MAX];	/* "": plain DNS */
		char		 ca[EGD_PATH_MAX];	/* "": the system's */
		int		 ca_id;			/* conf->cas */
	}			 nstls[8];
	int			 workers;	/* 0: one per CPU */
	int			 drain_timeout;
	int			 revoke_grace;	/* seconds, refused tunnels */
	int			 max_conns;	/* per worker */
	int			 idle_timeout;	/* client and tunnel silence */
	int			 request_timeout; /* a whole request head: 408 */
	int			 connect_timeout; /* upstream connect: 504 */
	int			 max_header_size; /* bytes of a head: 431 */
	int			 max_headers;	/* header lines: 431 */
	int			 max_uri;	/* request-target bytes: 414 */
	int			 dns_min_ttl, dns_max_ttl, dns_neg_ttl;
	int			 pool_idle;	/* idle upstreams kept per host */
	int			 pool_timeout;	/* seconds one stays idle */
	struct egd_limits	 limits;
	int			 log_facility;
	char			 hostname[256];	/* parent: for audit records */
	struct sockaddr_storage	 metrics_ss;	/* family 0: no metrics */
	socklen_t		 metrics_sslen;
	char			 control_path[sizeof(((struct sockaddr_un *)0)->
				    sun_path)];
	char			 control_group[64];
	struct audit_conf	 audit;
	struct egd_addr		*ownaddrs;	/* this host's addresses */
	int			 nownaddrs, maxownaddrs;
	struct egd_sockname	*listens;	/* worker: ours */
	int			 nlistens, maxlistens;
	struct gatewaylist	 gateways;
	struct listenerlist	 listeners;
	struct servicelist	 services;
	struct routelist	 routes;
	struct destlist		 destinations;
	/* Indexes, built as records are added (config.c): lookups by host. */
	struct recvec		 gwv, svcv, routev, matchv, dstv; /* by id */
	struct hostset		 gwhosts;	/* gateways' hosts */
	struct hostset		 svchosts;	/* services' hosts */
	struct hostmap		*authmap;	/* matches by authority */
	struct recvec		 anyauth;	/* matches without one */
	struct hostmap		*dstmap;	/* destinations by host */
	struct conf_rx		*rx;	/* receiver: a generation coming in */
	struct conf_block	*arena;	/* services and their lists */
	struct ca_bundle	 cas[EGD_MAX_CAS];
	int			 ncas;
	int			 default_ca;	/* for https ports; -1: none */
	struct dst_port		*default_port;	/* worker: for https ports */
	struct tls_key		 keys[EGD_MAX_KEYS];	/* parent only */
	int			 nkeys;
};

struct egressd_opts {
	const char		*conffile;
	int			 debug;		/* -d: foreground, stderr */
	int			 verbose;	/* -v, repeatable */
	int			 noaction;	/* -n: check only */
	int			 role;
	int			 instance;
};

/* config.c */
struct egressd_conf	*conf_new(void);
void			 conf_free(struct egressd_conf *);
void			*conf_alloc(struct egressd_conf *, size_t);
void			 conf_vec_add(struct recvec *, void *);
void			 conf_vec_reserve(struct recvec *, size_t);
int			 conf_host_add(struct hostset *, const char *, int,
			    uint32_t);
int			 conf_host_reserve(struct hostset *,
			    const uint32_t[HMK_NKINDS], size_t, size_t);
const char		*conf_host(const struct hostset *, uint32_t, uint32_t);
int			 conf_match_add(struct egressd_conf *,
			    struct route_match *);
int			 conf_dest_add(struct egressd_conf *,
			    struct destination *, const struct destination **);
struct gateway		*conf_gateway_id(struct egressd_conf *, uint32_t);
int			 conf_ca_add(struct egressd_conf *, const char *,
			    const char **);
int			 conf_key_add(struct egressd_conf *, const char *, int,
			    const char **);
int			 conf_keyid(const char *, size_t, uint8_t *);
struct x509_st;
int			 conf_keyid_x509(struct x509_st *, uint8_t *);
const char		*tls_mode_name(int);
int			 conf_workers(const struct egressd_conf *);
const char		*proto_name(int);
const char		*svc_proto_name(int);
const char		*resolution_name(int);
const char		*action_name(int);
const char		*addr_ntop(const struct sockaddr_storage *, char *,
			    size_t);
int			 addr_port(const struct sockaddr_storage *);
int			 addr_equal(const struct sockaddr_storage *,
			    const struct sockaddr_storage *);
int			 facility_value(const char *);
const char		*facility_name(int);
int			 audit_sdid_valid(const char *, const char **);
int			 audit_sink_equal(const struct audit_sink *,
			    const struct audit_sink *);
const char		*audit_sink_name(const struct audit_sink *, char *,
			    size_t);
void			 audit_conf_default(struct egressd_conf *, int);

/* addr.c: addresses, authorities, networks and host patterns */
int			 egd_addr_parse(const char *, struct egd_addr *);
int			 egd_cidr_parse(const char *, struct egd_cidr *);
const char		*egd_addr_ntop(const struct egd_addr *, char *, size_t);
void			 egd_addr_from_sa(const struct sockaddr *,
			    struct egd_addr *, uint16_t *);
socklen_t		 egd_addr_to_sa(const struct egd_addr *, uint16_t,
			    struct sockaddr_storage *);
int			 egd_addr_equal(const struct egd_addr *,
			    const struct egd_addr *);
int			 egd_cidr_match(const struct egd_cidr *,
			    const struct egd_addr *);
const char		*egd_addr_private(const struct egd_addr *);
const char		*egd_cidr_private(const struct egd_cidr *);
int			 host_valid(const char *, int, const char **);
int			 host_match(const char *, const char *);
int			 authority_parse(const char *, size_t, uint16_t,
			    char *, size_t, uint16_t *, struct egd_addr *,
			    int *, const char **);

/* hostmap.c: host names to the records that list them */
struct hostmap		*hostmap_new(void);
void			 hostmap_free(struct hostmap *);
int			 hostmap_reserve(struct hostmap *,
			    const uint32_t[HMK_NKINDS], size_t);
int			 hostmap_kind(const char *);
int			 hostmap_add(struct hostmap *, const char *, int,
			    uint32_t, uint32_t *);
uint32_t		 hostmap_get(const struct hostmap *, const char *, int);
const char		*hostmap_name(const struct hostmap *, uint32_t);
int			 hostmap_keykind(const struct hostmap *, uint32_t);
uint32_t		 hostmap_owner(const struct hostmap *, uint32_t);
uint32_t		 hostmap_nkeys(const struct hostmap *);
size_t			 hostmap_bytes(const struct hostmap *);
void			 hostmap_find(const struct hostmap *, const char *, int,
			    struct hostmap_iter *);
int			 hostmap_next(struct hostmap_iter *, uint32_t *);

/* pathnorm.c: request paths in normal form */
#define PN_MERGE_SLASHES	0x01	/* "//" is "/" */
#define PN_SLASH_REJECT		0x02	/* %2F, %5C: refused */
#define PN_SLASH_DECODE		0x04	/* %2F, %5C: a slash */
enum pn_error {
	PN_OK = 0,
	PN_ENOTABS,		/* not starting with '/' */
	PN_ENUL,		/* %00 */
	PN_ECLIMB,		/* ".." above the root */
	PN_EESCAPE,		/* '%' without two hex digits */
	PN_ESLASH,		/* %2F or %5C, PN_SLASH_REJECT */
	PN_EFRAGMENT,		/* '#' */
	PN_EBACKSLASH,		/* a raw '\\' */
};
int			 pathnorm(char *, size_t *, int);
const char		*pathnorm_error(int);

/* guard.c: what a worker may dial */
int			 guard_dial(const struct egressd_conf *,
			    const struct service *, const struct egd_addr *,
			    uint16_t);

/* conf_wire.c: a configuration generation as messages */
void			 conf_send(struct ps_chan *, const struct egressd_conf *,
			    int);
void			 conf_send_ca(struct ps_chan *,
			    const struct egressd_conf *, int);
int			 conf_recv(struct egressd_conf *, struct ps_msg *,
			    const char **);
int			 conf_recv_end(struct egressd_conf *, const char **);
void			 conf_local_addrs(struct egressd_conf *);
void			 conf_add_ownaddr(struct egressd_conf *,
			    const struct egd_addr *);
void			 conf_add_listen(struct egressd_conf *,
			    const struct egd_addr *, uint16_t);

/* limits.c: connection, tunnel and rate limits shared by the workers */
size_t			 limits_shm_size(void);
void			 limits_attach(void *, int);
int			 limits_conn_open(const struct egd_limits *,
			    const struct egd_addr *, void **);
void			 limits_conn_close(void *);
int			 limits_tunnel_open(const struct egd_limits *,
			    const struct egd_addr *, void **);
void			 limits_tunnel_close(void *);
int			 limits_rate(const struct egd_limits *,
			    const struct egd_addr *);
void			 limits_totals(uint32_t *, uint32_t *);
void			 limits_worker(int, uint32_t *, uint32_t *);

/* parse.y */
struct egressd_conf	*parse_config(const char *, int);
int			 cmdline_symset(const char *);

/* quote.c */
void			 conf_quote(FILE *, const char *);

/* printconf.c */
void			 print_config(FILE *, const struct egressd_conf *);

/* parent.c */
__attribute__((noreturn)) void parent_main(struct egressd_opts *);
struct ps_chan		*parent_worker_chan(int);

/* parent_audit.c: the audit sinks' sockets, opened for the workers */
int			 paudit_request(int, const struct egressd_conf *,
			    const struct ps_msg *, const char **);

/* worker.c */
__attribute__((noreturn)) void worker_main(struct egressd_opts *);

/* worker_audit.c: the audit trail's queues and sinks, in a worker */
struct audit_out;
void			 waudit_conf(struct ps_chan *,
			    const struct egressd_conf *);
void			 waudit_sink(const struct audit_out *);
void			 waudit_dispatch_sink(struct ps_chan *,
			    struct ps_msg *);
void			 waudit_flush(void);
uint64_t		 waudit_dropped(void);

/* helper.c */
__attribute__((noreturn)) void helper_main(struct egressd_opts *);

/* helper_key.c: private-key operations, in the helper */
struct msg_key;
void			 hkey_start(struct event_base *);
void			 hkey_conf_begin(void);
void			 hkey_conf_key(const struct msg_key *);
void			 hkey_conf_end(void);
void			 hkey_worker_chan(uint32_t, int);

/* helper_dns.c: DNS lookups and their cache, in the helper */
void			 hdns_init(void);
void			 hdns_start(struct event_base *);
void			 hdns_conf_begin(const struct msg_conf_global *);
void			 hdns_conf_nameserver(const struct msg_nameserver *);
void			 hdns_conf_ca_chunk(const struct ps_msg *);
void			 hdns_conf_end(void);
void			 hdns_client_new(struct ps_chan *);
void			 hdns_client_gone(struct ps_chan *);
void			 hdns_dispatch_query(struct ps_chan *, struct ps_msg *);
void			 hdns_log_stats(void);
struct hdns_counters {
	uint64_t		 queries, hits, misses, failures;
	uint64_t		 entries;	/* names cached now */
	uint64_t		 udp, tcp, tls;	/* questions sent */
	uint64_t		 ignored;	/* datagrams answering nothing */
	uint64_t		 records_ignored; /* owned by other names */
};
void			 hdns_set_publish(void (*)(const struct hdns_counters *));

/* worker_dns.c: the workers' DNS client (answers come from the helper) */
typedef void (*wdns_cb)(void *arg, int status, const struct egd_addr *addrs,
    int naddrs, uint32_t ttl, int cached);
void			 wdns_init(struct event_base *);
void			 wdns_set_helper(struct ps_chan *);
void			 wdns_dispatch_answer(struct ps_chan *, struct ps_msg *);
uint32_t		 wdns_resolve(const char *, wdns_cb, void *);
void			 wdns_cancel(uint32_t);
const char		*dns_status_name(int);

/* dns_wire.c: DNS questions made and answers judged, on byte buffers */
#define DNSW_HDRLEN	12
#define DNSW_UDPMAX	512	/* an answer over UDP: egressd offers no EDNS0 */
#define DNSW_MSGMAX	65535	/* over TCP, after the length prefix */
#define DNSW_NAMEMAX	255	/* a name in wire form, root label included */
#define DNSW_MAXCHAIN	8	/* CNAMEs followed from the name asked */
#define DNSW_TYPE_A	1
#define DNSW_TYPE_CNAME	5
#define DNSW_TYPE_AAAA	28
#define DNSW_CLASS_IN	1
#define DNSW_RCODE_NOERROR	0
#define DNSW_RCODE_NXDOMAIN	3
struct dnsw_question {
	uint16_t	 id;
	uint16_t	 qtype;		/* DNSW_TYPE_A or DNSW_TYPE_AAAA */
	size_t		 namelen;	/* of name[], root label included */
	uint8_t		 name[DNSW_NAMEMAX];	/* as sent, 0x20 bits and all */
};
enum dnsw_verdict {
	DNSW_IGNORE = 0,	/* not an answer to this question */
	DNSW_TRUNCATED,		/* TC set: ask again over TCP */
	DNSW_BROKEN,		/* its answer, malformed: the server failed */
	DNSW_ANSWER,		/* its answer: rcode, addresses */
};
struct dnsw_answer {
	int		 rcode;
	int		 naddrs;
	struct egd_addr	 addrs[EGD_DNS_MAXADDR];
	uint32_t	 ttl;		/* smallest of chain and addresses */
	int		 chain;		/* CNAMEs followed */
	int		 ignored;	/* records of names off the chain */
	int		 dropped;	/* addresses beyond EGD_DNS_MAXADDR */
	const char	*why;		/* DNSW_IGNORE, DNSW_BROKEN: why */
};
int			 dnsw_question(struct dnsw_question *, const char *,
			    uint16_t, uint16_t, const uint8_t *, size_t);
int			 dnsw_query(const struct dnsw_question *, uint8_t *,
			    size_t);
int			 dnsw_name(const uint8_t *, size_t, size_t *, uint8_t *,
			    size_t *);
int			 dnsw_name_eq(const uint8_t *, size_t, const uint8_t *,
			    size_t);
int			 dnsw_parse(const uint8_t *, size_t,
			    const struct dnsw_question *, struct dnsw_answer *);

/* helper_resolve.c: the stub resolver's questions on the wire, in the helper */
#define HRES_MAXSERVERS	8
struct ssl_ctx_st;
struct ssl_session_st;
struct hres_server {
	struct sockaddr_storage	 ss;
	socklen_t		 sslen;
	struct ssl_ctx_st	*ctx;		/* DNS over TLS, or NULL */
	struct ssl_session_st	*session;	/* to resume */
	char			 tlsname[EGD_HOST_MAX];	/* verified name */
};
struct hres_stats {
	uint64_t		 udp, tcp, tls;	/* tries by transport */
	uint64_t		 ignored;	/* datagrams not answering */
	uint64_t		 truncated;	/* TC or too long: TCP next */
	uint64_t		 records_ignored; /* owned by other names */
	uint64_t		 timeouts, failures;	/* tries that did */
	uint64_t		 tls_resumed, tls_unverified;
};
typedef void (*hres_cb)(void *arg, int status, const struct egd_addr *addrs,
    int naddrs, uint32_t ttl);
void			 hres_preinit(void);
void			 hres_init(struct event_base *);
struct ssl_ctx_st	*hres_tls_ctx(const char *, size_t, const char **);
void			 hres_ask(const char *, uint16_t, hres_cb, void *);
void			 hres_set_servers(const struct hres_server *, int);
const struct hres_stats	*hres_stats(void);

/* resolv.c: the DNS servers, worked out in the parent */
int			 resolv_load(const char *, struct sockaddr_storage *, int,
			    char *, size_t);
int			 resolv_conf(struct egressd_conf *, char *, size_t);

/* status.c: the shared status segment (status.h), all roles */
struct audit_rec;
size_t			 status_shm_size(void);
void			 status_create(void);
void			 status_send(struct ps_chan *);
void			 status_parent_reload(int, uint32_t, int, int);
void			 status_parent_child(int, int, pid_t, int);
void			 status_parent_verbose(int);
void			 status_recv(struct ps_msg *, int, int);
void			 status_dispatch_helper(struct ps_chan *, struct ps_msg *);
void			 status_dns(const struct hdns_counters *);
void			 status_keys(uint64_t, uint64_t);
void			 status_count(const struct audit_rec *);
void			 status_pool_idle(int);
void			 status_audit_dropped(uint64_t);
void			 status_admin_refused(void);
void			 status_admin_closed(int, int);
void			 status_worker_gen(uint32_t);
struct st_gen_count;
void			 status_gens(const struct st_gen_count *, int,
			    uint32_t, uint32_t);
int			 status_svc_find(const char *);

/* parent_control.c: the metrics listener and the control socket */
int			 pctl_init(const struct egressd_conf *, char *, size_t);
int			 pctl_reload(struct egressd_conf *);
void			 pctl_send(struct ps_chan *);
int			 pctl_reload_allowed(void);
void			 pctl_close(void);

/* build.c: the build identity of this binary, all roles */
const char		*egd_build(void);
int			 egd_build_known(void);

/*
 * child.c: start-up steps shared by the sandboxed roles.  A child whose
 * parent is of another build exits with EGD_EXIT_BUILD.
 */
#define EGD_EXIT_BUILD	3
#define EGD_BUILD_WAIT	10	/* seconds a refusing child waits for EOF */
void			 child_hello(struct ps_buf *);
void			 child_log_sink(int, const char *);
void			 child_log_chan(struct ps_chan *);
void			 child_recv_conf(struct ps_buf *, const struct ps_handler *,
			    size_t, const int *);
void			 child_init(struct ps_chan *, const struct msg_init *,
			    struct ps_identity *);
int			 msg_str(const char *, size_t);

#endif /* EGRESSD_H */
