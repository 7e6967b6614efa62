/*
 * Every message that crosses a process boundary, in one enum, grouped by
 * direction.  Each line says sender -> receiver and the payload.  Bump
 * EGD_PROTO_VERSION on any change to a type or a payload layout.
 * Payloads are the fixed-size structs below; strings in them are fixed
 * arrays that the receiver checks for a terminating NUL before use.
 */
#ifndef PROTO_H
#define PROTO_H

#include <sys/socket.h>
#include <stdint.h>

#define EGD_PROTO_VERSION	11

enum egd_imsg {
	IMSG_NONE = 0,

	/* parent -> any child */
	IMSG_INIT,		/* struct msg_init: identity, flags; once */
	IMSG_CONF_BEGIN,	/* struct msg_conf_global: a new generation */
	IMSG_CONF_GATEWAY,	/* struct msg_gateway */
	IMSG_CONF_LISTENER,	/* struct msg_listener + listening socket */
	IMSG_CONF_END,		/* uint32_t generation: apply it */
	IMSG_SHUTDOWN,		/* none: stop accepting, drain, exit */
	IMSG_VERBOSE,		/* int: log verbosity */
	IMSG_STATUS,		/* uint64_t size + the status segment; once */

	/* parent -> worker */
	IMSG_HELPER_CHAN,	/* none + socket to the helper */
	IMSG_KEY_CHAN,		/* none + SOCK_SEQPACKET to the helper: keys */
	IMSG_SHM,		/* uint64_t size + the shared limits table */
	IMSG_CONF_SIZES,	/* struct msg_conf_sizes: after BEGIN, once */
	IMSG_CONF_SERVICE,	/* struct msg_service + its lists */
	IMSG_CONF_HOSTS,	/* struct msg_hosts + host names */
	IMSG_CONF_ROUTE,	/* struct route, lists zeroed */
	IMSG_CONF_MATCH,	/* struct route_match, list entry zeroed */
	IMSG_CONF_OWNADDR,	/* struct msg_ownaddr: an address of this host */
	IMSG_CONF_AUDIT,	/* struct audit_conf: audit settings, sinks */
	IMSG_CONF_CA_CHUNK,	/* struct msg_ca_chunk: part of a CA bundle;
				   to the helper too: DNS over TLS servers' */
	IMSG_CONF_DEST,		/* struct destination, entry and pointers zeroed */
	IMSG_AUDIT_SINK,	/* struct msg_audit_sink + a connected socket */
	IMSG_CONF_ADMIN,	/* struct msg_admin + metrics/control socket */
	IMSG_RELOAD_RESULT,	/* struct msg_ctl_result, peerid as asked */
	IMSG_CONF_LISTENADDR,	/* struct msg_listenaddr: we listen there */

	/* parent -> helper */
	IMSG_WORKER_CHAN,	/* none + socket to worker peerid */
	IMSG_CONF_NAMESERVER,	/* struct msg_nameserver: a DNS server, after
				   the CA bundles it is verified with */
	IMSG_CONF_KEY,		/* struct msg_key: a private key, DER */
	IMSG_WORKER_KEYCHAN,	/* none + the helper's end of IMSG_KEY_CHAN */

	/* any child -> parent */
	IMSG_READY,		/* uint32_t generation now in force */
	IMSG_LOG,		/* struct msg_log + text: a log line */

	/* worker -> parent */
	IMSG_AUDIT_REQUEST,	/* struct msg_audit_sink: a new socket to it */
	IMSG_RELOAD_REQ,	/* none, peerid a control client: reload */
	IMSG_VERBOSE_REQ,	/* int32_t: 0 brief, 1 verbose; peerid too */

	/* worker <-> helper */
	IMSG_HELPER_PING,	/* uint32_t: worker -> helper, liveness */
	IMSG_HELPER_PONG,	/* uint32_t: helper -> worker, the same */
	IMSG_DNS_QUERY,		/* struct msg_dns_query: worker -> helper */
	IMSG_DNS_ANSWER,	/* struct msg_dns_answer: helper -> worker */

	/*
	 * The handshake that opens every child's channel.  Numbered apart
	 * and never renumbered, struct msg_build never changed: a child of
	 * another build must still read it to know that it is one.
	 */
	IMSG_BUILD = 900,	/* struct msg_build: parent -> child, first */
	IMSG_BUILD_REFUSED,	/* struct msg_build, the child's own: child ->
				   parent, another build, which exits */

	/*
	 * egressctl <-> worker, on the control socket.  Numbered apart and
	 * never renumbered, so that any egressctl's HELLO is understood
	 * and refused with a clear answer when its version differs.
	 * Requests carry uint32_t flags (CTL_F_*).
	 */
	IMSG_CTL_HELLO = 1000,	/* uint32_t EGD_PROTO_VERSION: first, once */
	IMSG_CTL_TEXT,		/* text, no NUL: worker -> egressctl, a piece */
	IMSG_CTL_END,		/* int32_t enum ctl_status: answer complete */
	IMSG_CTL_SHOW_SUMMARY,	/* uint32_t flags: egressctl -> worker */
	IMSG_CTL_SHOW_SERVICES,	/* uint32_t flags */
	IMSG_CTL_SHOW_ROUTES,	/* uint32_t flags */
	IMSG_CTL_SHOW_WORKERS,	/* uint32_t flags */
	IMSG_CTL_SHOW_DNS,	/* uint32_t flags */
	IMSG_CTL_RELOAD,	/* uint32_t flags: answered after the parent */
	IMSG_CTL_LOG_VERBOSE,	/* uint32_t flags */
	IMSG_CTL_LOG_BRIEF,	/* uint32_t flags */

	IMSG_MAX
};

#define EGD_NAME_MAX	128	/* block names */
#define EGD_HOST_MAX	256	/* a host name or pattern, with its NUL */

enum egd_role {
	ROLE_PARENT = 0,
	ROLE_WORKER,
	ROLE_HELPER,
};

/*
 * A build identity: "egressd VERSION build-id HEX" (the linker's GNU
 * build-id of the binary), NUL-terminated, the rest zeroed.  Two builds
 * of different code never have the same one.
 */
#define EGD_BUILD_MAX	128
struct msg_build {
	char		 id[EGD_BUILD_MAX];
};

struct msg_init {
	uint32_t	 role;
	uint32_t	 instance;
	uint32_t	 uid;
	uint32_t	 gid;
	char		 chroot[4096];
	int32_t		 verbose;
};

struct msg_conf_global {
	uint32_t	 gen;
	uint32_t	 drain_timeout;	/* seconds */
	uint32_t	 max_conns;	/* per worker */
	uint32_t	 idle_timeout;	/* seconds */
	uint32_t	 dns_min_ttl;	/* seconds */
	uint32_t	 dns_max_ttl;
	uint32_t	 dns_neg_ttl;
	uint32_t	 request_timeout;
	uint32_t	 connect_timeout;
	uint32_t	 max_header_size;
	uint32_t	 max_headers;
	uint32_t	 max_uri;
	uint32_t	 pool_idle;
	uint32_t	 pool_timeout;
	uint32_t	 log_facility;
	uint32_t	 limits[8];	/* struct egd_limits, in order */
	char		 hostname[256];	/* for audit records */
	int32_t		 default_ca;	/* CA bundle of https ports, -1: none */
	uint32_t	 revoke_grace;	/* seconds */
};

/*
 * A CA bundle's PEM text in pieces: bundle id (0, 1, ... in order), its
 * total size, this piece's offset (in order, no gaps) and length; the
 * message is the header and len bytes.
 */
#define EGD_CA_CHUNK	32768
struct msg_ca_chunk {
	uint32_t	 id;
	uint32_t	 total;		/* bytes of the bundle, at most 4 MiB */
	uint32_t	 off;
	uint32_t	 len;		/* bytes of data[] that follow */
	char		 data[EGD_CA_CHUNK];
};

struct msg_ownaddr {
	uint8_t		 af;
	uint8_t		 addr[16];
};

/* An address and port the daemon listens on: never to be dialed. */
struct msg_listenaddr {
	uint8_t		 af;
	uint8_t		 addr[16];
	uint16_t	 port;
};

struct msg_nameserver {
	uint32_t	 sslen;
	struct sockaddr_storage ss;
	/* DNS over TLS: the name verified, "" for none; its CA bundle */
	char		 tlsname[EGD_HOST_MAX];
	int32_t		 ca_id;		/* IMSG_CONF_CA_CHUNK id, -1: none */
};

#define EGD_DNS_MAXADDR	16	/* addresses in one answer */

enum dns_status {
	DNS_OK = 0,
	DNS_NXDOMAIN,		/* the name does not exist */
	DNS_NODATA,		/* exists, no A or AAAA */
	DNS_FAIL,		/* servers failed or refused */
	DNS_TIMEOUT,		/* no answer in time */
	DNS_BUSY,		/* helper unreachable or overloaded */
};

struct msg_dns_query {
	uint32_t	 id;		/* the worker's, echoed back */
	char		 name[EGD_HOST_MAX];	/* lowercase, no trailing dot */
};

struct msg_dns_addr {
	uint8_t		 af;		/* AF_INET or AF_INET6 */
	uint8_t		 addr[16];
};

struct msg_dns_answer {
	uint32_t	 id;
	int32_t		 status;	/* enum dns_status */
	uint32_t	 ttl;		/* seconds left, clamped */
	uint32_t	 naddrs;
	uint32_t	 cached;	/* 1: from the helper's cache */
	struct msg_dns_addr addrs[EGD_DNS_MAXADDR];
};

struct msg_gateway {
	uint32_t	 id;		/* 1, 2, ... in file order */
	char		 name[EGD_NAME_MAX];
	uint32_t	 merge_slashes;	/* 0 or 1 */
	uint32_t	 esc_slashes;	/* enum esc_slashes */
	uint32_t	 nhosts;	/* names in IMSG_CONF_HOSTS */
};

/*
 * What a generation holds, sent to a worker after IMSG_CONF_BEGIN: its
 * records and host names, so that the worker sizes its tables once, and
 * checks at IMSG_CONF_END that it got every one.  names[] and bytes[]
 * count distinct names (by kind: exact, pattern, literal) and their text
 * with NULs, per host map: gateways' hosts, services' hosts, match
 * authorities, destination hosts.
 */
#define EGD_HM_GATEWAY	0
#define EGD_HM_SERVICE	1
#define EGD_HM_AUTH	2
#define EGD_HM_DEST	3
#define EGD_HM_N	4
struct msg_conf_sizes {
	uint32_t	 gateways, services, routes, matches, dests;
	uint32_t	 hosts[2];	/* IMSG_CONF_HOSTS names, per table */
	uint32_t	 names[EGD_HM_N][3];
	uint32_t	 bytes[EGD_HM_N];
};

/*
 * Host names of the gateways (table EGD_HM_GATEWAY) or the services
 * (EGD_HM_SERVICE), in record order, each record's nhosts names in turn:
 * the header, then count names, each a length byte (1 to 255) and that
 * many bytes, no NUL.
 */
struct msg_hosts {
	uint32_t	 table;
	uint32_t	 count;
};
/* Bytes of one, at most: a worker takes its names in one step. */
#define EGD_HOSTS_BATCH	8192

/*
 * A service's fixed part, followed by its lists: nports struct svc_port,
 * nendpoints struct svc_endpoint, nfrom struct egd_cidr, nprivate struct
 * egd_cidr (allow private's networks), then nidents identities of
 * EGD_IDENT_MAX bytes each (egressd.h).
 */
struct msg_service {
	uint32_t	 id;		/* 1, 2, ... in file order */
	char		 name[EGD_NAME_MAX];
	uint32_t	 nhosts;	/* names in IMSG_CONF_HOSTS */
	uint8_t		 resolution, action, allow_private, sni_nocheck;
	uint8_t		 nports, nendpoints, nfrom, nidents;
	uint8_t		 nprivate, pad[3];
};

struct msg_listener {
	uint32_t	 id;
	uint32_t	 gateway;
	uint32_t	 proto;
	uint32_t	 transparent;	/* 1: SO_ORIGINAL_DST is the target */
	uint32_t	 sslen;
	struct sockaddr_storage ss;
	/* https: bundles by index (IMSG_CONF_CA_CHUNK), -1: none */
	int32_t		 cert_id;
	int32_t		 clientca_id;
	uint32_t	 client_optional;
	uint32_t	 minver;	/* 12 or 13 */
	char		 ciphers[512];
};

/*
 * A private key for the helper: its id (SHA-256 of the certificate's
 * SubjectPublicKeyInfo) and its DER.  Only the helper is sent these.
 */
struct msg_key {
	uint8_t		 id[32];
	uint32_t	 len;
	uint8_t		 der[8192];
};

/*
 * Private-key operations, worker -> helper on the key channel (one
 * SOCK_SEQPACKET datagram each way).  The worker waits for the answer
 * (worker_key.c); seq pairs them so that a late answer is recognised.
 */
enum key_op {
	KEYOP_RSA_PRIV_ENC = 1,	/* raw RSA private operation, padding given */
	KEYOP_ECDSA_SIGN,	/* ECDSA over a digest: DER signature */
};

enum key_status {
	KEYST_OK = 0,
	KEYST_NOKEY,		/* no key of this id in the configuration */
	KEYST_BADREQ,		/* wrong op, padding or length for the key */
	KEYST_FAILED,		/* the operation failed */
};

#define EGD_KEYOP_MAX	1024	/* bytes: RSA up to 8192 bits */

struct msg_keyop {
	uint32_t	 seq;
	uint32_t	 op;		/* enum key_op */
	int32_t		 padding;	/* RSA: RSA_PKCS1_PADDING, RSA_NO_PADDING */
	uint32_t	 len;
	uint8_t		 id[32];
	uint8_t		 data[EGD_KEYOP_MAX];
};

struct msg_keyres {
	uint32_t	 seq;
	int32_t		 status;	/* enum key_status */
	uint32_t	 len;
	uint8_t		 data[EGD_KEYOP_MAX];
};

/* An audit sink: its index in the sinks of generation gen. */
struct msg_audit_sink {
	uint32_t	 gen;
	uint32_t	 sink;
};

enum admin_kind {
	ADMIN_METRICS = 1,	/* metrics listen on: HTTP, GET /metrics */
	ADMIN_CONTROL,		/* control socket: egressctl */
};

struct msg_admin {
	uint32_t	 kind;		/* enum admin_kind */
	uint32_t	 gid;		/* control: the group allowed */
	uint32_t	 sslen;		/* metrics: the address */
	struct sockaddr_storage ss;
};

enum ctl_reload {
	CTL_RELOAD_OK = 0,	/* a new generation was loaded */
	CTL_RELOAD_FAILED,	/* the file has errors: generation kept */
	CTL_RELOAD_BUSY,	/* less than a second after the last one */
	CTL_RELOAD_STOPPING,
};

struct msg_ctl_result {
	int32_t		 status;	/* enum ctl_reload */
	uint32_t	 gen;		/* the generation loaded after it */
};

#define CTL_F_JSON	0x1	/* request flag: answer in JSON */

enum ctl_status {
	CTL_OK = 0,
	CTL_ERROR,		/* the text says why */
	CTL_VERSION,		/* protocol version mismatch */
	CTL_DENIED,		/* neither root nor the control group */
};

struct msg_log {
	int32_t		 pri;
	/* followed by the text, without a NUL */
};

#define EGD_LOG_MAX	1024

#endif /* PROTO_H */
