/*
 * The audit trail's fixed vocabulary and record, used by the workers.
 * Every decision a worker takes ends in exactly one record: REQUEST for
 * an HTTP request that was let out, TUNNEL for a CONNECT or passthrough
 * tunnel when it ends, DENY for anything refused.  Reasons are a closed
 * list; egressd.conf(5) documents them.
 */
#ifndef AUDIT_H
#define AUDIT_H

#include <stdint.h>
#include <sys/time.h>

#include "egressd.h"

enum audit_event {
	AEV_REQUEST = 0,
	AEV_TUNNEL,
	AEV_DENY,
};

enum audit_decision {
	ADEC_ALLOW = 0,
	ADEC_DENY,
	ADEC_REPORT,		/* allowed by a report-only service */
};

/* Keep in step with audit_reasons[] in audit.c and egressd.conf(5). */
enum audit_reason {
	AR_NONE = 0,		/* allowed, nothing to say */
	AR_NO_SERVICE,		/* no service registers host and port */
	AR_SOURCE_DENIED,	/* client not in a "from" list */
	AR_GATEWAY_HOST,	/* host not among the gateway's hosts */
	AR_IP_LITERAL,		/* address literal no service lists */
	AR_PRIVATE_ADDRESS,	/* resolved to a private address */
	AR_PROTOCOL,		/* the service port's protocol does not fit */
	AR_BAD_REQUEST,		/* malformed request */
	AR_HOST_MISMATCH,	/* Host header disagrees with the target */
	AR_HEADER_TOO_LARGE,	/* header bytes or count over the limit */
	AR_URI_TOO_LONG,
	AR_REQUEST_TIMEOUT,	/* request head not received in time */
	AR_RATE_LIMITED,
	AR_CONN_LIMIT,
	AR_TUNNEL_LIMIT,
	AR_WEBSOCKET_DENIED,	/* Upgrade without a route allowing it */
	AR_DNS_FAILED,		/* NXDOMAIN, no data, server failure */
	AR_DNS_TIMEOUT,
	AR_UPSTREAM_REFUSED,	/* connect refused or unreachable */
	AR_UPSTREAM_RESET,	/* reset or closed before a response */
	AR_UPSTREAM_TIMEOUT,	/* connect or response timed out */
	AR_UPSTREAM_BAD_RESPONSE,
	AR_CLIENT_CLOSED,	/* the client left before the end */
	AR_SHUTTING_DOWN,
	AR_REPORT_ONLY,		/* with ADEC_REPORT: enforce would deny */
	AR_TLS_VERIFY_FAILED,	/* originated TLS: the server not verified */
	AR_TLS_HANDSHAKE,	/* originated TLS: the handshake failed */
	AR_NO_SNI,		/* a ClientHello without a server name */
	AR_BAD_CLIENT_HELLO,	/* not TLS, malformed, or a bad name */
	AR_SNI_MISMATCH,	/* a tunnel's hello names another host */
	AR_IDENTITY_DENIED,	/* client identity not in "from identity" */
	AR_CLIENT_TLS_FAILED,	/* https listener: the handshake failed */
	AR_REVOKED,		/* a tunnel a later generation refused */
	AR_NOT_REDIRECTED,	/* transparent listener, direct connection */
	AR_LOOP,		/* to ourselves: a listener, or our Via */
	AR_MAX
};

struct audit_rec {
	int			 event;		/* enum audit_event */
	int			 decision;	/* enum audit_decision */
	int			 reason;	/* enum audit_reason */
	int			 would;		/* with ADEC_REPORT: the reason */
	uint64_t		 id;		/* request id */
	int			 worker;
	const struct egd_addr	*client;
	uint16_t		 client_port;
	const char		*identity;	/* verified client identity */
	const char		*client_tls;	/* https listener: version */
	const char		*client_tls_error;	/* its failure */
	const char		*gateway;
	const char		*method;
	const char		*scheme;	/* http, https, connect */
	const char		*authority;	/* host as asked, normalised */
	uint16_t		 port;
	/* transparent listeners: where the client's connection went */
	const struct egd_addr	*original_dst;
	uint16_t		 original_dst_port;
	const char		*original_dst_resolved;	/* "yes", "no" */
	const char		*path;		/* normalised */
	size_t			 pathlen;
	const char		*path_raw;	/* as received, if it differs */
	size_t			 path_rawlen;
	const char		*service;
	const char		*route;
	const struct egd_addr	*upstream;
	uint16_t		 upstream_port;
	int			 status;	/* HTTP status sent, 0: none */
	uint64_t		 bytes_in;	/* from the client */
	uint64_t		 bytes_out;	/* to the client */
	int			 dns_ms, connect_ms, ttfb_ms, total_ms;
	int			 dns_cached;
	const char		*tls;		/* "originated", or NULL */
	const char		*tls_version;
	const char		*tls_verify;	/* "ok" or the error */
	int			 tls_resumed;
	int			 tls_ms;	/* -1: none */
	uint32_t		 generation;	/* revoked: the one refusing */
	const char		*revoked_by;	/* revoked: its reason */
};

#define AUDIT_MAX	4096	/* bytes of one RFC 5424 record */
#define AUDIT_MAXPARAMS	48	/* PARAMs of a record */
#define AUDIT_OUT_MAX	12288	/* bytes of a record in any format */

/*
 * A record once built, handed to the sink: the RFC 5424 text and, for
 * the formats that need them, its PARAMs one by one with their values as
 * written but not escaped.
 */
struct audit_param {
	const char		*name;
	size_t			 voff, vlen;	/* in vals */
};

struct audit_out {
	int			 pri;		/* facility | severity */
	const char		*msgid;
	char			 line[AUDIT_MAX];	/* RFC 5424 */
	size_t			 len;
	size_t			 msgoff;	/* where MSGID starts in line */
	int			 full;		/* a PARAM did not fit */
	struct audit_param	 params[AUDIT_MAXPARAMS];
	int			 nparams;
	char			 vals[AUDIT_MAX];
	size_t			 vlen;
};

/* How a sink wants a record (audit_render()). */
enum audit_fmt {
	AFMT_SYSLOG = 0,	/* the RFC 5424 text: one datagram */
	AFMT_LINE,		/* the same and a newline: stderr */
	AFMT_OCTET,		/* RFC 6587 octet counting: "LEN SP TEXT" */
	AFMT_JOURNAL,		/* journald's native protocol: one datagram */
};

const char	*audit_reason_name(int);
void		 audit_init(const char *, int);
void		 audit_config(const char *, int);
void		 audit_emit(const struct audit_rec *);
void		 audit_dropped(struct audit_out *, uint64_t, int);
void		 audit_set_sink(void (*)(const struct audit_out *));
size_t		 audit_render(const struct audit_out *, int, char *, size_t);
size_t		 audit_journal_field(char *, size_t, const char *,
		    const char *, size_t);

#endif /* AUDIT_H */
