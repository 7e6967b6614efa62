/*
 * Unit tests for src/audit.c, the records and their formats, and for the
 * SD-ID check of src/config.c.  Run by make check as one ordinary process
 * that speaks TAP on stdout and exits non-zero on any failure.  There is
 * no journald on the test machines, so journald's native protocol is
 * checked here: the encoder's two forms (KEY=VALUE, and KEY, a 64-bit
 * little-endian length and the bytes, for a value with a newline) byte
 * for byte, and whole records decoded back by a strict decoder written
 * from the protocol's documentation.  The RFC 5424 text is checked for
 * its header, the configured SD-ID, escaping, the PARAMs left out whole
 * when they do not fit, the octet-counting frame, "events denials" and
 * the DROPPED record.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "egressd.h"
#include "audit.h"
#include "tap.h"

static struct audit_out	last;
static int		nemitted;

static void
capture(const struct audit_out *o)
{
	last = *o;
	nemitted++;
}

/* ---- journald's native protocol, decoded strictly --------------------- */

struct jfield {
	char	key[80];
	char	val[8192];
	size_t	len;
	int	binary;		/* came in the second form */
};

/*
 * Splits a datagram into its fields; -1 if it is not exactly a sequence
 * of well-formed ones.  Keys: uppercase letters, digits, '_', not first.
 */
static int
jdecode(const char *p, size_t n, struct jfield *f, int max)
{
	size_t	i = 0, k, len;
	int	nf = 0, j;

	while (i < n) {
		if (nf == max)
			return -1;
		memset(&f[nf], 0, sizeof(f[nf]));
		for (k = i; k < n && p[k] != '=' && p[k] != '\n'; k++)
			if (!((p[k] >= 'A' && p[k] <= 'Z') || p[k] == '_' ||
			    (p[k] >= '0' && p[k] <= '9')))
				return -1;
		if (k == n || k == i || p[i] == '_' ||
		    k - i >= sizeof(f[nf].key))
			return -1;
		memcpy(f[nf].key, p + i, k - i);
		if (p[k] == '=') {
			for (i = k + 1; i < n && p[i] != '\n'; i++)
				;
			if (i == n)
				return -1;	/* no newline at the end */
			len = i - (k + 1);
			if (len >= sizeof(f[nf].val))
				return -1;
			memcpy(f[nf].val, p + k + 1, len);
			i++;
		} else {
			if (n - (k + 1) < 8)
				return -1;
			len = 0;
			for (j = 7; j >= 0; j--)
				len = (len << 8) | (unsigned char)p[k + 1 + j];
			i = k + 9;
			if (len >= sizeof(f[nf].val) || n - i < len + 1 ||
			    p[i + len] != '\n')
				return -1;
			memcpy(f[nf].val, p + i, len);
			i += len + 1;
			f[nf].binary = 1;
		}
		f[nf].len = len;
		nf++;
	}
	return nf;
}

static const struct jfield *
jget(const struct jfield *f, int n, const char *key)
{
	int	i, found = -1;

	for (i = 0; i < n; i++)
		if (strcmp(f[i].key, key) == 0) {
			if (found != -1)
				return NULL;	/* twice */
			found = i;
		}
	return found == -1 ? NULL : &f[found];
}

static int
jis(const struct jfield *f, int n, const char *key, const char *val)
{
	const struct jfield	*x = jget(f, n, key);

	return x != NULL && x->len == strlen(val) &&
	    memcmp(x->val, val, x->len) == 0;
}

static void
test_journal_field(void)
{
	static const char bin[] = "KEY\n\x03\0\0\0\0\0\0\0a\nb\n";
	char		 buf[2048], big[600];
	struct jfield	 f[2];
	size_t		 n;

	n = audit_journal_field(buf, sizeof(buf), "FOO", "BAR", 3);
	ok(n == 8 && memcmp(buf, "FOO=BAR\n", 8) == 0,
	    "journal field: KEY=VALUE and a newline");
	n = audit_journal_field(buf, sizeof(buf), "EMPTY", "", 0);
	ok(n == 7 && memcmp(buf, "EMPTY=\n", 7) == 0,
	    "journal field: an empty value");
	n = audit_journal_field(buf, sizeof(buf), "KEY", "a\nb", 3);
	ok(n == sizeof(bin) - 1 && memcmp(buf, bin, n) == 0,
	    "journal field: a value with a newline: KEY, newline, 64-bit "
	    "little-endian length, value, newline");
	/* A length over 255 shows the byte order: 300 = 0x012c. */
	memset(big, 'x', sizeof(big));
	big[10] = '\n';
	n = audit_journal_field(buf, sizeof(buf), "B", big, 300);
	ok(n == 1 + 1 + 8 + 300 + 1 && buf[1] == '\n' &&
	    (unsigned char)buf[2] == 0x2c && (unsigned char)buf[3] == 0x01 &&
	    buf[4] == 0 && buf[9] == 0 && buf[10] == 'x' && buf[20] == '\n' &&
	    buf[n - 1] == '\n', "journal field: the length is little-endian");
	ok(jdecode(buf, n, f, 2) == 1 && f[0].binary && f[0].len == 300 &&
	    memcmp(f[0].val, big, 300) == 0,
	    "journal field: decodes back to the same 300 bytes");
	n = audit_journal_field(buf, sizeof(buf), "NUL", "a\0b", 3);
	ok(n == 8 && memcmp(buf, "NUL=a\0b\n", 8) == 0,
	    "journal field: a NUL without a newline keeps the first form");
	ok(audit_journal_field(buf, 7, "FOO", "BAR", 3) == 0 &&
	    audit_journal_field(buf, 8, "FOO", "BAR", 3) == 8,
	    "journal field: 0 when it does not fit, exactly");
	ok(audit_journal_field(buf, 15, "KEY", "a\nb", 3) == 0 &&
	    audit_journal_field(buf, 16, "KEY", "a\nb", 3) == 16,
	    "journal field, second form: 0 when it does not fit, exactly");
}

/* ---- records ----------------------------------------------------------- */

static void
rec_init(struct audit_rec *r, struct egd_addr *client)
{
	memset(r, 0, sizeof(*r));
	egd_addr_parse("192.0.2.7", client);
	r->event = AEV_DENY;
	r->decision = ADEC_DENY;
	r->reason = AR_NO_SERVICE;
	r->id = 42;
	r->worker = 3;
	r->client = client;
	r->client_port = 40000;
	r->gateway = "gw";
	r->method = "GET";
	r->scheme = "http";
	r->authority = "evil.example";
	r->port = 80;
	r->status = 403;
	r->dns_ms = r->connect_ms = r->ttfb_ms = -1;
}

/* The line from MSGID on, checked against the header's format first. */
static const char *
after_header(const struct audit_out *o, int pri)
{
	char	want[64];
	int	n, fields = 0;
	size_t	i;

	n = snprintf(want, sizeof(want), "<%d>1 ", pri);
	if (strncmp(o->line, want, (size_t)n) != 0)
		return NULL;
	for (i = (size_t)n; i < o->len && fields < 4; i++)
		if (o->line[i] == ' ')
			fields++;
	return i == o->msgoff ? o->line + o->msgoff : NULL;
}

static void
test_record(void)
{
	static const char path[] = "/a\"b\\c]d\n\x01\xc3\xa9";
	struct audit_rec	 r;
	struct egd_addr		 client;
	char			 buf[AUDIT_OUT_MAX], want[1024], *big;
	const char		*msg;
	size_t			 n;

	audit_init("gw1.example", LOG_LOCAL3);
	audit_config("egress@32473", 0);
	audit_set_sink(capture);
	rec_init(&r, &client);
	r.path = path;
	r.pathlen = sizeof(path) - 1;
	nemitted = 0;
	audit_emit(&r);
	ok(nemitted == 1, "a record is emitted");
	msg = after_header(&last, LOG_LOCAL3 | LOG_NOTICE);
	ok(msg != NULL, "header: PRI local3.notice (157), version 1, "
	    "timestamp, host, app, procid");
	ok(strstr(last.line, "Z gw1.example egressd ") != NULL,
	    "header: UTC timestamp, the host name, egressd");
	snprintf(want, sizeof(want), "DENY [egress@32473 id=\"42\" "
	    "decision=\"deny\" reason=\"no_service\" client=\"192.0.2.7\" "
	    "client_port=\"40000\" gateway=\"gw\" method=\"GET\" "
	    "scheme=\"http\" authority=\"evil.example\" port=\"80\" "
	    "path=\"/a\\\"b\\\\c\\]d????\" status=\"403\" bytes_in=\"0\" "
	    "bytes_out=\"0\" total_ms=\"0\" worker=\"3\"]");
	ok(msg != NULL && strcmp(msg, want) == 0, "MSGID and the SD-ELEMENT "
	    "with the configured SD-ID, '\"' '\\' ']' escaped, control and "
	    "non-ASCII bytes as '?'");
	if (msg != NULL && strcmp(msg, want) != 0)
		printf("# got  %s\n# want %s\n", msg, want);
	ok(last.len == strlen(last.line) && last.nparams == 16,
	    "16 PARAMs, indexed");

	n = audit_render(&last, AFMT_SYSLOG, buf, sizeof(buf));
	ok(n == last.len && memcmp(buf, last.line, n) == 0,
	    "syslog datagram: the record as it is, no newline");
	n = audit_render(&last, AFMT_LINE, buf, sizeof(buf));
	ok(n == last.len + 1 && buf[n - 1] == '\n',
	    "stderr: the record and a newline");
	n = audit_render(&last, AFMT_OCTET, buf, sizeof(buf));
	snprintf(want, sizeof(want), "%zu ", last.len);
	ok(n == strlen(want) + last.len &&
	    strncmp(buf, want, strlen(want)) == 0 &&
	    memcmp(buf + strlen(want), last.line, last.len) == 0,
	    "TCP: RFC 6587 octet counting, \"LEN SP RECORD\"");
	ok(audit_render(&last, AFMT_OCTET, buf, last.len) == 0,
	    "a frame that does not fit is not cut: 0");

	/* A PARAM too large for 4096 bytes is left out, the rest kept. */
	big = malloc(5000);
	memset(big, 'g', 4999);
	big[4999] = '\0';
	r.gateway = big;
	audit_emit(&r);
	ok(strstr(last.line, "gateway=") == NULL &&
	    strstr(last.line, " method=\"GET\"") != NULL &&
	    last.line[last.len - 1] == ']' && last.len < AUDIT_MAX,
	    "a PARAM that does not fit is left out whole, the record ends "
	    "with ']'");
	free(big);
	r.gateway = "gw";

	/* The path is kept to its first 512 bytes. */
	big = malloc(2000);
	memset(big, 'p', 2000);
	r.path = big;
	r.pathlen = 2000;
	audit_emit(&r);
	memset(want, 'p', 512);
	want[512] = '\0';
	ok(strstr(last.line, want) != NULL && strstr(last.line,
	    "ppppp\" status=") != NULL && last.params[10].vlen == 512,
	    "a path is cut at 512 bytes");
	free(big);
}

static void
test_journal_record(void)
{
	static const char path[] = "/a\"b\\c]d\nx";
	struct audit_rec	 r;
	struct egd_addr		 client;
	struct jfield		*f;
	char			 buf[AUDIT_OUT_MAX];
	size_t			 n;
	int			 nf;

	f = calloc(64, sizeof(*f));
	audit_init("gw1.example", LOG_LOCAL3);
	audit_config("egress@32473", 0);
	audit_set_sink(capture);
	rec_init(&r, &client);
	r.path = path;
	r.pathlen = sizeof(path) - 1;
	audit_emit(&r);
	n = audit_render(&last, AFMT_JOURNAL, buf, sizeof(buf));
	nf = jdecode(buf, n, f, 64);
	ok(n > 0 && nf == 6 + 16, "journald: one datagram of 22 well-formed "
	    "fields (%d)", nf);
	ok(jis(f, nf, "MESSAGE", last.line + last.msgoff),
	    "journald: MESSAGE is the record from its MSGID on");
	ok(jis(f, nf, "PRIORITY", "5") && jis(f, nf, "SYSLOG_FACILITY", "19"),
	    "journald: PRIORITY 5 (notice), SYSLOG_FACILITY 19 (local3)");
	ok(jis(f, nf, "SYSLOG_IDENTIFIER", "egressd") &&
	    jis(f, nf, "EGRESSD_MSGID", "DENY") &&
	    jis(f, nf, "EGRESSD_SD_ID", "egress@32473"),
	    "journald: SYSLOG_IDENTIFIER, EGRESSD_MSGID, EGRESSD_SD_ID");
	ok(jis(f, nf, "EGRESSD_ID", "42") &&
	    jis(f, nf, "EGRESSD_CLIENT", "192.0.2.7") &&
	    jis(f, nf, "EGRESSD_CLIENT_PORT", "40000") &&
	    jis(f, nf, "EGRESSD_REASON", "no_service") &&
	    jis(f, nf, "EGRESSD_BYTES_OUT", "0") &&
	    jis(f, nf, "EGRESSD_WORKER", "3"),
	    "journald: each PARAM as EGRESSD_NAME, upper-cased");
	ok(jis(f, nf, "EGRESSD_PATH", "/a\"b\\c]d?x"),
	    "journald: values unescaped, a control byte as '?' as in the "
	    "record");
	ok(jget(f, nf, "EGRESSD_UPSTREAM") == NULL,
	    "journald: a PARAM absent from the record is absent here");
	ok(audit_render(&last, AFMT_JOURNAL, buf, n - 1) == 0 &&
	    audit_render(&last, AFMT_JOURNAL, buf, n) == n,
	    "journald: 0 when the datagram does not fit, exactly");
	free(f);
}

static void
test_events_dropped(void)
{
	struct audit_rec	 r;
	struct audit_out	 o;
	struct egd_addr		 client;
	struct jfield		 f[16];
	char			 buf[2048];
	const char		*msg;
	size_t			 n;
	int			 nf;

	audit_init("gw1.example", LOG_DAEMON);
	audit_config("audit@32473", 1);
	audit_set_sink(capture);
	rec_init(&r, &client);
	nemitted = 0;
	r.event = AEV_REQUEST;
	r.decision = ADEC_ALLOW;
	r.reason = AR_NONE;
	audit_emit(&r);
	r.event = AEV_TUNNEL;
	audit_emit(&r);
	ok(nemitted == 0, "events denials: no REQUEST, no TUNNEL record");
	rec_init(&r, &client);
	audit_emit(&r);
	ok(nemitted == 1 && strncmp(last.line + last.msgoff,
	    "DENY [audit@32473 ", 18) == 0, "events denials: DENY records");
	audit_config("audit@32473", 0);
	r.event = AEV_REQUEST;
	r.decision = ADEC_ALLOW;
	audit_emit(&r);
	ok(nemitted == 2 && after_header(&last, LOG_DAEMON | LOG_INFO) !=
	    NULL, "events all: REQUEST again, PRI daemon.info (30)");

	audit_dropped(&o, 7, 2);
	msg = after_header(&o, LOG_DAEMON | LOG_WARNING);
	ok(msg != NULL && strcmp(msg, "DROPPED [audit@32473 dropped=\"7\" "
	    "worker=\"2\"]") == 0, "DROPPED: the count, the worker, "
	    "severity warning");
	n = audit_render(&o, AFMT_JOURNAL, buf, sizeof(buf));
	nf = jdecode(buf, n, f, 16);
	ok(nf == 8 && jis(f, nf, "EGRESSD_MSGID", "DROPPED") &&
	    jis(f, nf, "EGRESSD_DROPPED", "7") && jis(f, nf, "PRIORITY", "4"),
	    "DROPPED for journald");
}

static void
test_sdid(void)
{
	static const struct {
		const char	*s;
		int		 ok;
	} t[] = {
		{ "audit@32473", 1 },
		{ "a@1", 1 },
		{ "egressd-test.x_y@4711", 1 },
		{ "abcdefghijklmnopqrstuvwxyz@12345", 1 },	/* 32 */
		{ "abcdefghijklmnopqrstuvwxyz@123456", 0 },	/* 33 */
		{ "", 0 },
		{ "audit", 0 },		/* IANA's names have no '@' */
		{ "timeQuality", 0 },
		{ "@32473", 0 },
		{ "audit@", 0 },
		{ "audit@0", 0 },
		{ "audit@0123", 0 },
		{ "audit@32473x", 0 },
		{ "audit@1@2", 0 },
		{ "a b@1", 0 },
		{ "a=b@1", 0 },
		{ "a]b@1", 0 },
		{ "a\"b@1", 0 },
		{ "a\tb@1", 0 },
		{ "a\x7f@1", 0 },
		{ "\xc3\xa9@1", 0 },
	};
	const char	*why;
	size_t		 i;
	int		 rv;

	for (i = 0; i < nitems(t); i++) {
		why = NULL;
		rv = audit_sdid_valid(t[i].s, &why);
		ok((rv == 0) == t[i].ok && (rv == 0 || why != NULL),
		    "sd-id #%zu %s", i, t[i].ok ? "accepted" : "refused");
	}
}

/* Originated TLS: the fields when set, and only those set. */
static void
test_tls_fields(void)
{
	struct audit_rec	 r;
	struct egd_addr		 client;

	audit_init("gw1.example", LOG_LOCAL3);
	audit_config("audit@32473", 0);
	audit_set_sink(capture);
	rec_init(&r, &client);
	r.event = AEV_REQUEST;
	r.decision = ADEC_ALLOW;
	r.reason = AR_NONE;
	r.status = 200;
	r.tls = "originated";
	r.tls_version = "TLSv1.3";
	r.tls_verify = "ok";
	r.tls_resumed = 1;
	r.tls_ms = 7;
	audit_emit(&r);
	ok(strstr(last.line, " tls=\"originated\" tls_version=\"TLSv1.3\" "
	    "tls_verify=\"ok\" tls_resumed=\"1\" tls_ms=\"7\" ") != NULL,
	    "tls, tls_version, tls_verify, tls_resumed, tls_ms");
	r.tls_version = NULL;
	r.tls_verify = "certificate has expired";
	r.tls_ms = -1;
	r.reason = AR_TLS_VERIFY_FAILED;
	r.event = AEV_DENY;
	r.decision = ADEC_DENY;
	audit_emit(&r);
	ok(strstr(last.line, " reason=\"tls_verify_failed\" ") != NULL &&
	    strstr(last.line, " tls=\"originated\" tls_verify=\"certificate "
	    "has expired\" total_ms=") != NULL,
	    "a verification failure: its reason, no version, no tls_ms");
	r.tls = NULL;
	audit_emit(&r);
	ok(strstr(last.line, " tls=") == NULL &&
	    strstr(last.line, " tls_verify=") == NULL,
	    "no tls fields without originated TLS");
}

int
main(void)
{
	test_journal_field();
	test_record();
	test_journal_record();
	test_events_dropped();
	test_sdid();
	test_tls_fields();
	return tap_done();
}
