/*
 * The audit trail, written by the workers: one RFC 5424 record per
 * decision, with every field in one STRUCTURED-DATA element
 * (audit@32473).  Values are escaped as RFC 5424 section 6.3.3 requires
 * ('"', '\' and ']' preceded by '\') and control bytes are replaced, so a
 * hostile path or header cannot forge a field or a record.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/time.h>

#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"

#define AUDIT_MAX	4096	/* bytes of one record */
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
};

static const char *const audit_events[] = { "REQUEST", "TUNNEL", "DENY" };
static const char *const audit_decisions[] = { "allow", "deny", "report" };

static char	 audit_host[256] = "-";
static int	 audit_facility = LOG_DAEMON;
static void	(*audit_sink)(const char *, size_t);

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
}

void
audit_set_sink(void (*sink)(const char *, size_t))
{
	audit_sink = sink;
}

struct abuf {
	char	*p;
	size_t	 len, size;
	int	 full;
};

static void
ab_raw(struct abuf *b, const char *s, size_t n)
{
	if (b->len + n >= b->size) {
		b->full = 1;
		n = b->size - b->len - 1;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

/* A PARAM-VALUE: escaped, control bytes and non-ASCII as '?'. */
static void
ab_value(struct abuf *b, const char *s, size_t n)
{
	size_t	i;
	char	c;

	for (i = 0; i < n && !b->full; i++) {
		c = s[i];
		if (c == '"' || c == '\\' || c == ']')
			ab_raw(b, "\\", 1);
		if ((unsigned char)c < 0x20 || (unsigned char)c >= 0x7f)
			c = '?';
		ab_raw(b, &c, 1);
	}
}

/* One PARAM; one that does not fit whole is left out, never cut. */
static void
ab_param(struct abuf *b, const char *name, const char *v, size_t n)
{
	size_t	mark = b->len;

	ab_raw(b, " ", 1);
	ab_raw(b, name, strlen(name));
	ab_raw(b, "=\"", 2);
	ab_value(b, v, n);
	ab_raw(b, "\"", 1);
	if (b->full || b->len + 2 >= b->size) {
		b->len = mark;
		b->p[mark] = '\0';
		b->full = 0;
	}
}

static void
ab_str(struct abuf *b, const char *name, const char *v)
{
	if (v != NULL && *v != '\0')
		ab_param(b, name, v, strlen(v));
}

static void
ab_num(struct abuf *b, const char *name, long long v)
{
	char	num[32];

	snprintf(num, sizeof(num), "%lld", v);
	ab_param(b, name, num, strlen(num));
}

void
audit_emit(const struct audit_rec *r)
{
	char		 line[AUDIT_MAX], ts[40], addr[64];
	struct abuf	 b = { line, 0, sizeof(line), 0 };
	struct timeval	 tv;
	struct tm	 tm;
	int		 sev;

	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	sev = r->decision == ADEC_DENY ? LOG_NOTICE : LOG_INFO;
	snprintf(line, sizeof(line), "<%d>1 %s.%06ldZ %s egressd %d %s "
	    "[audit@32473", audit_facility + sev, ts, (long)tv.tv_usec,
	    audit_host, (int)getpid(), audit_events[r->event]);
	b.len = strlen(line);

	ab_num(&b, "id", (long long)r->id);
	ab_str(&b, "decision", audit_decisions[r->decision]);
	ab_str(&b, "reason", audit_reason_name(r->reason));
	if (r->decision == ADEC_REPORT)
		ab_str(&b, "would", audit_reason_name(r->would));
	if (r->client != NULL) {
		ab_str(&b, "client", egd_addr_ntop(r->client, addr,
		    sizeof(addr)));
		ab_num(&b, "client_port", r->client_port);
	}
	ab_str(&b, "identity", r->identity);
	ab_str(&b, "gateway", r->gateway);
	ab_str(&b, "method", r->method);
	ab_str(&b, "scheme", r->scheme);
	ab_str(&b, "authority", r->authority);
	if (r->port != 0)
		ab_num(&b, "port", r->port);
	if (r->path != NULL && r->pathlen > 0)
		ab_param(&b, "path", r->path, r->pathlen > AUDIT_PATHMAX ?
		    AUDIT_PATHMAX : r->pathlen);
	ab_str(&b, "service", r->service);
	ab_str(&b, "route", r->route);
	if (r->upstream != NULL) {
		ab_str(&b, "upstream", egd_addr_ntop(r->upstream, addr,
		    sizeof(addr)));
		ab_num(&b, "upstream_port", r->upstream_port);
	}
	if (r->status != 0)
		ab_num(&b, "status", r->status);
	ab_num(&b, "bytes_in", (long long)r->bytes_in);
	ab_num(&b, "bytes_out", (long long)r->bytes_out);
	if (r->dns_ms >= 0) {
		ab_num(&b, "dns_ms", r->dns_ms);
		ab_num(&b, "dns_cached", r->dns_cached);
	}
	if (r->connect_ms >= 0)
		ab_num(&b, "connect_ms", r->connect_ms);
	if (r->ttfb_ms >= 0)
		ab_num(&b, "ttfb_ms", r->ttfb_ms);
	ab_num(&b, "total_ms", r->total_ms);
	ab_num(&b, "worker", r->worker);
	ab_raw(&b, "]", 1);	/* room kept by ab_param() */

	if (audit_sink != NULL)
		audit_sink(line, b.len);
}
