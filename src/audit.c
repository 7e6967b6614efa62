/*
 * The audit trail, written by the workers: one RFC 5424 record per
 * decision, with every field in one STRUCTURED-DATA element whose SD-ID
 * is the configured "sd-id" (audit@32473 unless set).  Values are escaped
 * as RFC 5424 section 6.3.3 requires ('"', '\' and ']' preceded by '\')
 * and control bytes are replaced, so a hostile path or header cannot
 * forge a field or a record.  A record is built once (struct audit_out)
 * and rendered for each sink by audit_render(): as it is for a datagram,
 * with a newline for stderr, octet-counted for TCP (RFC 6587), or as
 * journald's native KEY=VALUE fields.  Sending is worker_audit.c's.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/time.h>

#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"

#define AUDIT_PATHMAX	512	/* bytes of a path kept in a record */

static const char *const audit_reasons[AR_MAX] = {
	[AR_NONE] = "-",
	[AR_NO_SERVICE] = "no_service",
	[AR_SOURCE_DENIED] = "source_denied",
	[AR_GATEWAY_HOST] = "gateway_host",
	[AR_IP_LITERAL] = "ip_literal",
	[AR_PRIVATE_ADDRESS] = "private_address",
	[AR_PROTOCOL] = "protocol_mismatch",
	[AR_BAD_REQUEST] = "bad_request",
	[AR_HOST_MISMATCH] = "host_mismatch",
	[AR_HEADER_TOO_LARGE] = "header_too_large",
	[AR_URI_TOO_LONG] = "uri_too_long",
	[AR_REQUEST_TIMEOUT] = "request_timeout",
	[AR_RATE_LIMITED] = "rate_limited",
	[AR_CONN_LIMIT] = "connection_limit",
	[AR_TUNNEL_LIMIT] = "tunnel_limit",
	[AR_WEBSOCKET_DENIED] = "websocket_denied",
	[AR_DNS_FAILED] = "dns_failed",
	[AR_DNS_TIMEOUT] = "dns_timeout",
	[AR_UPSTREAM_REFUSED] = "upstream_refused",
	[AR_UPSTREAM_RESET] = "upstream_reset",
	[AR_UPSTREAM_TIMEOUT] = "upstream_timeout",
	[AR_UPSTREAM_BAD_RESPONSE] = "upstream_bad_response",
	[AR_CLIENT_CLOSED] = "client_closed",
	[AR_SHUTTING_DOWN] = "shutting_down",
	[AR_REPORT_ONLY] = "report_only",
	[AR_TLS_VERIFY_FAILED] = "tls_verify_failed",
	[AR_TLS_HANDSHAKE] = "tls_handshake_failed",
	[AR_NO_SNI] = "no_sni",
	[AR_BAD_CLIENT_HELLO] = "bad_client_hello",
	[AR_SNI_MISMATCH] = "sni_mismatch",
	[AR_IDENTITY_DENIED] = "identity_denied",
	[AR_CLIENT_TLS_FAILED] = "client_tls_failed",
	[AR_REVOKED] = "revoked",
	[AR_NOT_REDIRECTED] = "not_redirected",
	[AR_LOOP] = "loop",
};

static const char *const audit_events[] = { "REQUEST", "TUNNEL", "DENY" };
static const char *const audit_decisions[] = { "allow", "deny", "report" };

static char	 audit_host[256] = "-";
static char	 audit_pidtext[16] = "-";	/* PROCID: fixed for the process */
static time_t	 ab_sec = -1;		/* the header up to the seconds, */
static int	 ab_pri = -1;		/* as last made */
static char	 ab_head[64];
static size_t	 ab_headlen;
static int	 audit_facility = LOG_DAEMON;
static char	 audit_sdid[EGD_SDID_MAX + 1] = EGRESSD_SDID;
static int	 audit_denials_only;
static void	(*audit_sink)(const struct audit_out *);

const char *
audit_reason_name(int r)
{
	if (r < 0 || r >= AR_MAX || audit_reasons[r] == NULL)
		return "unknown";
	return audit_reasons[r];
}

void
audit_init(const char *hostname, int facility)
{
	if (hostname != NULL && *hostname != '\0')
		strlcpy(audit_host, hostname, sizeof(audit_host));
	audit_facility = facility;
	snprintf(audit_pidtext, sizeof(audit_pidtext), "%d", (int)getpid());
	ab_sec = -1;
}

/* The SD-ID (checked by the parser and conf_recv()), and "events". */
void
audit_config(const char *sdid, int denials_only)
{
	if (sdid != NULL && *sdid != '\0')
		strlcpy(audit_sdid, sdid, sizeof(audit_sdid));
	audit_denials_only = denials_only;
}

void
audit_set_sink(void (*sink)(const struct audit_out *))
{
	audit_sink = sink;
}

/* ---- building a record ------------------------------------------------ */

static void
ab_raw(struct audit_out *o, const char *s, size_t n)
{
	if (o->len + n >= sizeof(o->line)) {
		o->full = 1;
		n = sizeof(o->line) - o->len - 1;
	}
	memcpy(o->line + o->len, s, n);
	o->len += n;
	o->line[o->len] = '\0';
}

/*
 * A PARAM-VALUE: escaped into the line, control bytes and non-ASCII as
 * '?'; the same value unescaped into vals.
 */
static void
ab_value(struct audit_out *o, const char *s, size_t n)
{
	size_t	i, run;
	char	c;

	for (i = 0; i < n && !o->full; ) {
		/* A run of bytes that need nothing, copied at once. */
		for (run = 0; i + run < n; run++) {
			c = s[i + run];
			if ((unsigned char)c < 0x20 || (unsigned char)c >= 0x7f ||
			    c == '"' || c == '\\' || c == ']')
				break;
		}
		if (run > 0) {
			ab_raw(o, s + i, run);
			if (o->vlen + run > sizeof(o->vals))
				run = sizeof(o->vals) - o->vlen;
			memcpy(o->vals + o->vlen, s + i, run);
			o->vlen += run;
			i += run;
			continue;
		}
		c = s[i++];
		if (c == '"' || c == '\\' || c == ']')
			ab_raw(o, "\\", 1);
		if ((unsigned char)c < 0x20 || (unsigned char)c >= 0x7f)
			c = '?';
		ab_raw(o, &c, 1);
		if (o->vlen < sizeof(o->vals))
			o->vals[o->vlen++] = c;
	}
}

/* One PARAM; one that does not fit whole is left out, never cut. */
static void
ab_param(struct audit_out *o, const char *name, const char *v, size_t n)
{
	size_t	mark = o->len, vmark = o->vlen;

	if (o->nparams == AUDIT_MAXPARAMS)
		return;
	ab_raw(o, " ", 1);
	ab_raw(o, name, strlen(name));
	ab_raw(o, "=\"", 2);
	ab_value(o, v, n);
	ab_raw(o, "\"", 1);
	if (o->full || o->len + 2 >= sizeof(o->line)) {
		o->len = mark;
		o->line[mark] = '\0';
		o->vlen = vmark;
		o->full = 0;
		return;
	}
	o->params[o->nparams].name = name;
	o->params[o->nparams].voff = vmark;
	o->params[o->nparams].vlen = o->vlen - vmark;
	o->nparams++;
}

static void
ab_str(struct audit_out *o, const char *name, const char *v)
{
	if (v != NULL && *v != '\0')
		ab_param(o, name, v, strlen(v));
}

/* Decimal digits of v at the end of buf[32]; returns where they start. */
static char *
ab_itoa(char *buf, long long v)
{
	char			*p = buf + 32;
	unsigned long long	 u = v < 0 ? 0ULL - (unsigned long long)v :
				    (unsigned long long)v;

	do {
		*--p = (char)('0' + u % 10);
		u /= 10;
	} while (u != 0);
	if (v < 0)
		*--p = '-';
	return p;
}

static void
ab_num(struct audit_out *o, const char *name, long long v)
{
	char	 num[32], *p;

	p = ab_itoa(num, v);
	ab_param(o, name, p, (size_t)(num + sizeof(num) - p));
}

/* HEADER and the start of the SD-ELEMENT. */
static void
ab_begin(struct audit_out *o, int sev, const char *msgid)
{
	struct timeval	 tv;
	struct tm	 tm;
	char		 ts[40], frac[6];
	long		 usec;
	int		 n;

	memset(o, 0, offsetof(struct audit_out, line));
	o->line[0] = '\0';
	o->len = o->vlen = 0;
	o->full = 0;
	o->nparams = 0;
	o->pri = audit_facility | sev;
	o->msgid = msgid;
	gettimeofday(&tv, NULL);
	/* The text up to the seconds changes once a second: kept. */
	if (tv.tv_sec != ab_sec || o->pri != ab_pri) {
		gmtime_r(&tv.tv_sec, &tm);
		strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
		n = snprintf(ab_head, sizeof(ab_head), "<%d>1 %s.", o->pri, ts);
		ab_headlen = n > 0 && (size_t)n < sizeof(ab_head) ?
		    (size_t)n : 0;
		ab_sec = tv.tv_sec;
		ab_pri = o->pri;
	}
	ab_raw(o, ab_head, ab_headlen);
	for (n = 5, usec = (long)tv.tv_usec; n >= 0; n--, usec /= 10)
		frac[n] = (char)('0' + usec % 10);
	ab_raw(o, frac, sizeof(frac));
	ab_raw(o, "Z ", 2);
	ab_raw(o, audit_host, strlen(audit_host));
	ab_raw(o, " egressd ", 9);
	ab_raw(o, audit_pidtext, strlen(audit_pidtext));
	ab_raw(o, " ", 1);
	o->msgoff = o->len;
	ab_raw(o, msgid, strlen(msgid));
	ab_raw(o, " [", 2);
	ab_raw(o, audit_sdid, strlen(audit_sdid));
}

static void
ab_end(struct audit_out *o)
{
	ab_raw(o, "]", 1);	/* room kept by ab_param() */
}

void
audit_emit(const struct audit_rec *r)
{
	struct audit_out	 o;
	char			 addr[64];

	if (audit_denials_only && r->event != AEV_DENY)
		return;
	ab_begin(&o, r->decision == ADEC_DENY ? LOG_NOTICE : LOG_INFO,
	    audit_events[r->event]);
	ab_num(&o, "id", (long long)r->id);
	ab_str(&o, "decision", audit_decisions[r->decision]);
	ab_str(&o, "reason", audit_reason_name(r->reason));
	if (r->decision == ADEC_REPORT)
		ab_str(&o, "would", audit_reason_name(r->would));
	if (r->generation != 0) {
		ab_num(&o, "generation", r->generation);
		ab_str(&o, "revoked_by", r->revoked_by);
	}
	if (r->client != NULL) {
		ab_str(&o, "client", egd_addr_ntop(r->client, addr,
		    sizeof(addr)));
		ab_num(&o, "client_port", r->client_port);
	}
	ab_str(&o, "identity", r->identity);
	ab_str(&o, "client_tls", r->client_tls);
	ab_str(&o, "client_tls_error", r->client_tls_error);
	ab_str(&o, "gateway", r->gateway);
	ab_str(&o, "method", r->method);
	ab_str(&o, "scheme", r->scheme);
	ab_str(&o, "authority", r->authority);
	if (r->port != 0)
		ab_num(&o, "port", r->port);
	if (r->original_dst != NULL) {
		ab_str(&o, "original_dst", egd_addr_ntop(r->original_dst,
		    addr, sizeof(addr)));
		ab_num(&o, "original_dst_port", r->original_dst_port);
		ab_str(&o, "original_dst_resolved", r->original_dst_resolved);
	}
	if (r->path != NULL && r->pathlen > 0)
		ab_param(&o, "path", r->path, r->pathlen > AUDIT_PATHMAX ?
		    AUDIT_PATHMAX : r->pathlen);
	if (r->path_raw != NULL && r->path_rawlen > 0)
		ab_param(&o, "path_raw", r->path_raw,
		    r->path_rawlen > AUDIT_PATHMAX ? AUDIT_PATHMAX :
		    r->path_rawlen);
	ab_str(&o, "service", r->service);
	ab_str(&o, "route", r->route);
	if (r->upstream != NULL) {
		ab_str(&o, "upstream", egd_addr_ntop(r->upstream, addr,
		    sizeof(addr)));
		ab_num(&o, "upstream_port", r->upstream_port);
	}
	if (r->status != 0)
		ab_num(&o, "status", r->status);
	ab_num(&o, "bytes_in", (long long)r->bytes_in);
	ab_num(&o, "bytes_out", (long long)r->bytes_out);
	if (r->dns_ms >= 0) {
		ab_num(&o, "dns_ms", r->dns_ms);
		ab_num(&o, "dns_cached", r->dns_cached);
	}
	if (r->connect_ms >= 0)
		ab_num(&o, "connect_ms", r->connect_ms);
	if (r->ttfb_ms >= 0)
		ab_num(&o, "ttfb_ms", r->ttfb_ms);
	if (r->tls != NULL) {
		ab_str(&o, "tls", r->tls);
		ab_str(&o, "tls_version", r->tls_version);
		ab_str(&o, "tls_verify", r->tls_verify);
		if (r->tls_version != NULL)
			ab_num(&o, "tls_resumed", r->tls_resumed);
		if (r->tls_ms >= 0)
			ab_num(&o, "tls_ms", r->tls_ms);
	}
	ab_num(&o, "total_ms", r->total_ms);
	ab_num(&o, "worker", r->worker);
	ab_end(&o);

	if (audit_sink != NULL)
		audit_sink(&o);
}

/*
 * The record a sink writes where it had to drop n records (its queue was
 * full): MSGID DROPPED, severity warning, never filtered by "events".
 */
void
audit_dropped(struct audit_out *o, uint64_t n, int worker)
{
	ab_begin(o, LOG_WARNING, "DROPPED");
	ab_num(o, "dropped", (long long)n);
	ab_num(o, "worker", worker);
	ab_end(o);
}

/* ---- rendering for a sink --------------------------------------------- */

/*
 * One field of journald's native protocol into buf: KEY=VALUE and a
 * newline, or, for a value holding a newline, KEY, a newline, the value's
 * length as a 64-bit little-endian number, the value and a newline.
 * Returns the bytes written, 0 if they do not fit.
 */
size_t
audit_journal_field(char *buf, size_t size, const char *key, const char *v,
    size_t n)
{
	size_t		 klen = strlen(key), i;
	uint64_t	 len = n;

	if (memchr(v, '\n', n) == NULL) {
		if (klen + 1 + n + 1 > size)
			return 0;
		memcpy(buf, key, klen);
		buf[klen] = '=';
		memcpy(buf + klen + 1, v, n);
		buf[klen + 1 + n] = '\n';
		return klen + 1 + n + 1;
	}
	if (klen + 1 + 8 + n + 1 > size)
		return 0;
	memcpy(buf, key, klen);
	buf[klen] = '\n';
	for (i = 0; i < 8; i++)
		buf[klen + 1 + i] = (char)((len >> (8 * i)) & 0xff);
	memcpy(buf + klen + 9, v, n);
	buf[klen + 9 + n] = '\n';
	return klen + 9 + n + 1;
}

/*
 * The record for journald: MESSAGE is the record from its MSGID on (the
 * header's fields are journald's own), PRIORITY and SYSLOG_FACILITY
 * from PRI, and each PARAM as EGRESSD_NAME, the name upper-cased.
 */
static size_t
render_journal(const struct audit_out *o, char *buf, size_t size)
{
	char		 key[64], num[16];
	size_t		 off = 0, n, i;
	const char	*p;
	int		 j;

#define FIELD(k, v, l) do {						\
	if ((n = audit_journal_field(buf + off, size - off, (k), (v),	\
	    (l))) == 0)							\
		return 0;						\
	off += n;							\
} while (0)
	FIELD("MESSAGE", o->line + o->msgoff, o->len - o->msgoff);
	snprintf(num, sizeof(num), "%d", LOG_PRI(o->pri));
	FIELD("PRIORITY", num, strlen(num));
	snprintf(num, sizeof(num), "%d", LOG_FAC(o->pri));
	FIELD("SYSLOG_FACILITY", num, strlen(num));
	FIELD("SYSLOG_IDENTIFIER", "egressd", 7);
	FIELD("EGRESSD_MSGID", o->msgid, strlen(o->msgid));
	FIELD("EGRESSD_SD_ID", audit_sdid, strlen(audit_sdid));
	for (j = 0; j < o->nparams; j++) {
		memcpy(key, "EGRESSD_", 8);
		for (i = 8, p = o->params[j].name; *p != '\0' &&
		    i < sizeof(key) - 1; p++, i++)
			key[i] = isalnum((unsigned char)*p) ?
			    (char)toupper((unsigned char)*p) : '_';
		key[i] = '\0';
		FIELD(key, o->vals + o->params[j].voff, o->params[j].vlen);
	}
#undef FIELD
	return off;
}

/* The record as a sink of format fmt writes it; 0 if it does not fit. */
size_t
audit_render(const struct audit_out *o, int fmt, char *buf, size_t size)
{
	int	n;

	switch (fmt) {
	case AFMT_SYSLOG:
	case AFMT_LINE:
		if (o->len + 1 > size)
			return 0;
		memcpy(buf, o->line, o->len);
		if (fmt == AFMT_SYSLOG)
			return o->len;
		buf[o->len] = '\n';
		return o->len + 1;
	case AFMT_OCTET:
		n = snprintf(buf, size, "%zu ", o->len);
		if (n < 0 || (size_t)n + o->len > size)
			return 0;
		memcpy(buf + n, o->line, o->len);
		return (size_t)n + o->len;
	case AFMT_JOURNAL:
		return render_journal(o, buf, size);
	}
	return 0;
}
