/*
 * Fuzz target: the audit record's RFC 5424 value escaper and the
 * renderings for every sink (src/audit.c), on the fields a client or an
 * origin controls.  The input is split at NUL bytes into a record's
 * string fields, each cut to the size the daemon can hand over; the last
 * piece, NULs included, is the request path.  Properties: the record is
 * one line that a strict parser of RFC 5424 STRUCTURED-DATA reads back
 * into exactly the PARAMs written, each value the field with control
 * bytes and non-ASCII as '?', nothing forged, nothing left out; the
 * octet-counted form counts right; the journald form carries the same
 * values, one field each, and MESSAGE is the record from its MSGID on.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <stdio.h>
#include <string.h>
#include <syslog.h>

#include "audit.h"
#include "fuzz.h"

static struct audit_out	 out;
static int		 got;

static void
sink(const struct audit_out *o)
{
	out = *o;
	got++;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	audit_init("gw1", LOG_DAEMON);
	audit_set_sink(sink);
	return 0;
}

/* What the record must hold for a field: controls and non-ASCII as '?'. */
static size_t
clean(const char *in, size_t n, char *buf)
{
	size_t	i;

	for (i = 0; i < n; i++)
		buf[i] = (unsigned char)in[i] < 0x20 ||
		    (unsigned char)in[i] >= 0x7f ? '?' : in[i];
	return n;
}

struct param {
	char	 name[32];
	char	 value[AUDIT_MAX];
	size_t	 len;
};

/*
 * RFC 5424 from the MSGID on: "MSGID [SDID( NAME=\"VALUE\")*]", values
 * with '"', '\' and ']' escaped by '\' and nothing else.  Returns the
 * number of PARAMs, -1 if it does not parse.
 */
static int
sd_parse(const char *s, size_t len, struct param *p, int max)
{
	size_t	i = 0, n;
	int	np = 0;

	while (i < len && s[i] != ' ')
		i++;
	if (i + 2 > len || s[i] != ' ' || s[i + 1] != '[')
		return -1;
	i += 2;
	if (len - i < 11 || memcmp(s + i, EGRESSD_SDID, 11) != 0)
		return -1;
	i += 11;
	for (;;) {
		if (i < len && s[i] == ']')
			return i + 1 == len ? np : -1;
		if (i >= len || s[i] != ' ' || np == max)
			return -1;
		i++;
		for (n = 0; i < len && s[i] != '=' && n < sizeof(p->name) - 1;
		    i++) {
			if (s[i] == ' ' || s[i] == ']' || s[i] == '"')
				return -1;
			p[np].name[n++] = s[i];
		}
		p[np].name[n] = '\0';
		if (n == 0 || i + 1 >= len || s[i] != '=' || s[i + 1] != '"')
			return -1;
		for (i += 2, n = 0; i < len && s[i] != '"'; i++) {
			if ((unsigned char)s[i] < 0x20 ||
			    (unsigned char)s[i] >= 0x7f || s[i] == ']')
				return -1;
			if (s[i] == '\\') {
				if (++i >= len || (s[i] != '"' &&
				    s[i] != '\\' && s[i] != ']'))
					return -1;
			}
			p[np].value[n++] = s[i];
		}
		if (i >= len)
			return -1;
		p[np].len = n;
		i++;
		np++;
	}
}

static const struct param *
find(const struct param *p, int np, const char *name)
{
	int	i;

	for (i = 0; i < np; i++)
		if (strcmp(p[i].name, name) == 0)
			return &p[i];
	return NULL;
}

/* The journald rendering, field by field, against the record. */
static void
check_journal(const struct audit_out *o, const char *buf, size_t len)
{
	size_t		 i = 0, klen, vlen;
	const char	*k, *v, *eq, *nl;
	int		 fields = 0, params = 0;
	uint64_t	 l64;

	while (i < len) {
		k = buf + i;
		nl = memchr(k, '\n', len - i);
		FUZZ_CHECK(nl != NULL, "journal: lines end");
		eq = memchr(k, '=', (size_t)(nl - k));
		if (eq != NULL) {
			klen = (size_t)(eq - k);
			v = eq + 1;
			vlen = (size_t)(nl - v);
			i = (size_t)(nl - buf) + 1;
		} else {
			klen = (size_t)(nl - k);
			FUZZ_CHECK((size_t)(nl - buf) + 9 <= len, "binary");
			memcpy(&l64, nl + 1, 8);
			v = nl + 9;
			vlen = (size_t)l64;
			FUZZ_CHECK(vlen <= len && (size_t)(v - buf) + vlen <
			    len && v[vlen] == '\n', "binary length");
			i = (size_t)(v - buf) + vlen + 1;
		}
		fields++;
		if (klen == 7 && memcmp(k, "MESSAGE", 7) == 0)
			FUZZ_CHECK(vlen == o->len - o->msgoff &&
			    memcmp(v, o->line + o->msgoff, vlen) == 0,
			    "journal: MESSAGE");
		if (klen > 8 && memcmp(k, "EGRESSD_", 8) == 0 &&
		    !(klen == 13 && memcmp(k, "EGRESSD_MSGID", 13) == 0) &&
		    !(klen == 13 && memcmp(k, "EGRESSD_SD_ID", 13) == 0)) {
			FUZZ_CHECK(params < o->nparams, "journal: params");
			FUZZ_CHECK(vlen == o->params[params].vlen &&
			    memcmp(v, o->vals + o->params[params].voff,
			    vlen) == 0, "journal: value as written");
			params++;
		}
	}
	FUZZ_CHECK(params == o->nparams && fields == o->nparams + 6,
	    "journal: every field");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t	 maxlen[] = { 255, 95, 127, 23, 255, 127,
				    127, 95 };
	static const char *const names[] = { "identity", "client_tls_error",
				    "gateway", "method", "authority",
				    "service", "route", "tls_verify" };
	char			 f[8][256], want[2048];
	char			 buf[3 * AUDIT_OUT_MAX];
	struct param		 p[AUDIT_MAXPARAMS + 1];
	const struct param	*q;
	struct audit_rec	 r;
	struct egd_addr		 client;
	const char		*s = (const char *)data, *e, *path;
	size_t			 i, left = size, n, pathlen, len;
	int			 np;
	long			 count;
	char			*end;

	if (got == 0 && out.len == 0)
		LLVMFuzzerInitialize(NULL, NULL);
	memset(f, 0, sizeof(f));
	for (i = 0; i < 8; i++) {
		e = memchr(s, '\0', left);
		n = e != NULL ? (size_t)(e - s) : left;
		memcpy(f[i], s, n > maxlen[i] ? maxlen[i] : n);
		if (e == NULL) {
			s += left;
			left = 0;
			break;
		}
		left -= n + 1;
		s = e + 1;
	}
	path = s;
	pathlen = left > 1024 ? 1024 : left;

	memset(&r, 0, sizeof(r));
	memset(&client, 0, sizeof(client));
	client.af = AF_INET;
	client.addr[0] = 10;
	r.event = AEV_REQUEST;
	r.decision = ADEC_ALLOW;
	r.reason = AR_NONE;
	r.id = 1234567890123ULL;
	r.client = &client;
	r.client_port = 4321;
	r.identity = f[0];
	r.client_tls = "TLSv1.3";
	r.client_tls_error = f[1];
	r.gateway = f[2];
	r.method = f[3];
	r.scheme = "http";
	r.authority = f[4];
	r.port = 8080;
	r.path = path;
	r.pathlen = pathlen;
	r.service = f[5];
	r.route = f[6];
	r.status = 200;
	r.dns_ms = r.connect_ms = r.ttfb_ms = -1;
	r.tls = "originated";
	r.tls_version = "TLSv1.3";
	r.tls_verify = f[7];
	r.tls_ms = -1;
	got = 0;
	audit_emit(&r);
	FUZZ_CHECK(got == 1, "one record");
	FUZZ_CHECK(out.len < AUDIT_MAX && strlen(out.line) == out.len &&
	    memchr(out.line, '\n', out.len) == NULL, "one line");
	np = sd_parse(out.line + out.msgoff, out.len - out.msgoff, p,
	    AUDIT_MAXPARAMS + 1);
	FUZZ_CHECK(np == out.nparams, "the line reads back as written");
	for (i = 0; i < (size_t)np; i++)
		FUZZ_CHECK(strcmp(p[i].name, out.params[i].name) == 0 &&
		    p[i].len == out.params[i].vlen && memcmp(p[i].value,
		    out.vals + out.params[i].voff, p[i].len) == 0,
		    "each value unescaped is the value written");
	/* Every field there, whole and clean: nothing forged or lost. */
	for (i = 0; i < 8; i++) {
		n = strlen(f[i]);
		q = find(p, np, names[i]);
		if (n == 0) {
			FUZZ_CHECK(q == NULL, "an empty field is left out");
			continue;
		}
		FUZZ_CHECK(q != NULL, "a field is never left out");
		clean(f[i], n, want);
		FUZZ_CHECK(q->len == n && memcmp(q->value, want, n) == 0,
		    "the field, cleaned");
	}
	q = find(p, np, "path");
	n = pathlen > 512 ? 512 : pathlen;
	FUZZ_CHECK((n == 0) == (q == NULL), "the path");
	if (q != NULL)
		FUZZ_CHECK(q->len == n && memcmp(q->value, want,
		    clean(path, n, want)) == 0, "the path, cut and cleaned");
	FUZZ_CHECK(find(p, np, "worker") != NULL &&
	    find(p, np, "total_ms") != NULL, "the last fields fit");

	len = audit_render(&out, AFMT_LINE, buf, sizeof(buf));
	FUZZ_CHECK(len == out.len + 1 && buf[out.len] == '\n', "a line");
	len = audit_render(&out, AFMT_OCTET, buf, sizeof(buf));
	count = strtol(buf, &end, 10);
	FUZZ_CHECK(len > 0 && *end == ' ' && count > 0 &&
	    (size_t)count == len - (size_t)(end + 1 - buf) &&
	    memcmp(end + 1, out.line, out.len) == 0, "octet counting");
	len = audit_render(&out, AFMT_JOURNAL, buf, sizeof(buf));
	FUZZ_CHECK(len > 0, "journal: fits");
	check_journal(&out, buf, len);
	return 0;
}
