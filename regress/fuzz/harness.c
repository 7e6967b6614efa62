/*
 * A worker in a box, for the request-head and response-head fuzz targets:
 * the real client side (src/worker_http.c), relay (src/worker_relay.c),
 * policy, guard and audit code on a libevent loop, with the worker
 * process itself (src/worker.c) and its DNS client replaced by the few
 * functions below.  A client is a socketpair handed to http_accept(); the
 * origins are real TCP listeners on loopback in this process: an HTTP
 * origin that reads requests with a strict llhttp parser and answers
 * them, and a sink for CONNECT tunnels.  The configuration is parsed
 * from text (src/parse.y) with the origins' ports in it.
 *
 * What every run checks, whatever the bytes:
 *  - every request that reaches the HTTP origin is one well-formed
 *    message for a host a service registers, with this gateway's Via and
 *    without hop-by-hop fields: no request smuggled, no byte for a host
 *    that was not allowed;
 *  - each request the origin got was recorded as let out;
 *  - once the client and the origins have closed, the gateway has closed
 *    every connection (none hangs or leaks).
 * The targets add what the client must have received.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <event2/event.h>

#include "worker.h"
#include "harness.h"
#include "fuzz.h"

/* ---- what src/worker.c would provide ---------------------------------- */

struct event_base	*worker_base;
int			 worker_instance;
static int		 nconns;
static uint64_t		 nextid;
static uint32_t		 rnd = 0x2545f491;

static struct wconf	 wc;

void
worker_conn_gone(struct hconn *hc)
{
	gen_conn_gone(hc);
	hc->wc->nconns--;
	if (hc->tunnel_open)
		hc->wc->ntunnels--;
	wconf_unref(hc->wc);
	nconns--;
}

/* One generation, never released: the harness holds it. */
struct wconf *
worker_conf(void)
{
	return &wc;
}

void
wconf_unref(struct wconf *c)
{
	FUZZ_CHECK(--c->refcnt > 0, "the harness's generation stays held");
}

void
worker_gens_publish(void)
{
}

uint32_t
worker_random(void)
{
	rnd ^= rnd << 13;
	rnd ^= rnd >> 17;
	rnd ^= rnd << 5;
	return rnd;
}

uint64_t
worker_next_id(void)
{
	return ++nextid;
}

int
worker_rate_limited(struct hconn *hc)
{
	return 0;
}

int
worker_tunnel_limited(struct hconn *hc)
{
	return 0;
}

/* ---- what src/worker_dns.c would provide: every name is 127.0.0.1 ----- */

struct dnsq {
	wdns_cb		 cb;
	void		*arg;
	uint32_t	 id;
	struct event	*ev;
	struct dnsq	*next;
};
static struct dnsq	*dnsqs;
static uint32_t		 dnsid;

static void
dns_answer(int fd, short ev, void *arg)
{
	struct dnsq	*q = arg, **pp;
	struct egd_addr	 a;

	for (pp = &dnsqs; *pp != NULL; pp = &(*pp)->next)
		if (*pp == q) {
			*pp = q->next;
			break;
		}
	memset(&a, 0, sizeof(a));
	a.af = AF_INET;
	a.addr[0] = 127;
	a.addr[3] = 1;
	event_free(q->ev);
	q->cb(q->arg, DNS_OK, &a, 1, 60, 0);
	free(q);
}

uint32_t
wdns_resolve(const char *name, wdns_cb cb, void *arg)
{
	struct dnsq	*q;
	struct timeval	 tv = { 0, 0 };

	if ((q = calloc(1, sizeof(*q))) == NULL)
		abort();
	q->cb = cb;
	q->arg = arg;
	q->id = ++dnsid;
	if ((q->ev = evtimer_new(worker_base, dns_answer, q)) == NULL)
		abort();
	evtimer_add(q->ev, &tv);
	q->next = dnsqs;
	dnsqs = q;
	return q->id;
}

void
wdns_cancel(uint32_t id)
{
	struct dnsq	**pp, *q;

	for (pp = &dnsqs; *pp != NULL; pp = &(*pp)->next)
		if ((*pp)->id == id) {
			q = *pp;
			*pp = q->next;
			event_free(q->ev);
			free(q);
			return;
		}
}

/* ---- the audit records ------------------------------------------------ */

static struct harness_run	*cur;

static void
audit_sink(const struct audit_out *o)
{
	const char	*m = o->msgid;

	FUZZ_CHECK(o->len > 0 && !o->full, "a whole record");
	if (cur == NULL)
		return;
	cur->records++;
	if (strcmp(m, "REQUEST") == 0)
		cur->requests++;
	else if (strcmp(m, "TUNNEL") == 0)
		cur->tunnels++;
	else
		FUZZ_CHECK(strcmp(m, "DENY") == 0, "a known MSGID");
}

/* ---- the origins ------------------------------------------------------ */

struct oconn {
	int			 fd;
	struct event		*ev;
	llhttp_t		 p;
	int			 raw;		/* after a 101 */
	int			 tunnel;	/* the CONNECT sink */
	int			 nreq;		/* requests on it */
	char			 field[64];
	size_t			 fieldlen;
	int			 via_ours;
	int			 host_ok, host_seen;
	int			 upgrade;	/* asked for websocket */
	struct oconn		*next;
};

static llhttp_settings_t	 oset;
static struct oconn		*oconns;
static int			 olisten[2] = { -1, -1 };
static struct event		*olev[2];
static uint16_t			 oport[2];
static struct wlistener		 wl;

static int
o_begin(llhttp_t *p)
{
	struct oconn	*o = p->data;

	o->via_ours = o->host_seen = o->host_ok = o->upgrade = 0;
	o->fieldlen = 0;
	return 0;
}

static int
o_field(llhttp_t *p, const char *at, size_t len)
{
	struct oconn	*o = p->data;

	if (o->fieldlen + len < sizeof(o->field)) {
		memcpy(o->field + o->fieldlen, at, len);
		o->fieldlen += len;
	} else
		o->fieldlen = sizeof(o->field);
	return 0;
}

static int
o_name_is(const struct oconn *o, const char *name)
{
	return o->fieldlen == strlen(name) &&
	    strncasecmp(o->field, name, o->fieldlen) == 0;
}

/* Is the host of a Host value one a service registers? */
static int
host_allowed(const char *at, size_t len)
{
	static const char *const ok[] = { "web.test", "dyn.test", "127.0.0.1" };
	const char	*colon = memchr(at, ':', len);
	size_t		 n = colon != NULL ? (size_t)(colon - at) : len;
	size_t		 i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (n == strlen(ok[i]) && memcmp(at, ok[i], n) == 0)
			return 1;
	return n > 10 && memcmp(at + n - 10, ".wild.test", 10) == 0;
}

static int
o_value(llhttp_t *p, const char *at, size_t len)
{
	struct oconn	*o = p->data;

	/* Hop-by-hop fields never leave the gateway. */
	FUZZ_CHECK(!o_name_is(o, "keep-alive") &&
	    !o_name_is(o, "proxy-connection") && !o_name_is(o, "te") &&
	    !o_name_is(o, "trailer") && !o_name_is(o, "proxy-authorization"),
	    "no hop-by-hop field upstream");
	if (o_name_is(o, "host")) {
		FUZZ_CHECK(!o->host_seen++, "one Host");
		o->host_ok = host_allowed(at, len);
	}
	if (o_name_is(o, "via") && len >= 9 &&
	    memcmp(at + len - 9, "(egressd)", 9) == 0)
		o->via_ours = 1;
	if (o_name_is(o, "upgrade") && len == 9 &&
	    strncasecmp(at, "websocket", 9) == 0)
		o->upgrade = 1;
	o->fieldlen = 0;
	return 0;
}

static int
o_headers(llhttp_t *p)
{
	struct oconn	*o = p->data;

	FUZZ_CHECK(o->host_seen && o->host_ok,
	    "only hosts a service registers reach the origin");
	FUZZ_CHECK(o->via_ours, "with the gateway's Via");
	return 0;
}

static void
o_write(struct oconn *o, const void *data, size_t len)
{
	const uint8_t	*p = data;
	ssize_t		 n;

	while (len > 0) {
		n = write(o->fd, p, len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return;		/* the gateway went away: fine */
		p += n;
		len -= (size_t)n;
	}
}

static int
o_done(llhttp_t *p)
{
	static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
	    "\r\nok";
	struct oconn	*o = p->data;

	o->nreq++;
	cur->origin_reqs++;
	if (o->upgrade && cur->mode == HARNESS_REQUEST &&
	    p->method == HTTP_GET) {
		static const char sw[] = "HTTP/1.1 101 Switching Protocols\r\n"
		    "Upgrade: websocket\r\nConnection: Upgrade\r\n\r\n";

		o_write(o, sw, sizeof(sw) - 1);
		o->raw = 1;
		return HPE_PAUSED;
	}
	if (cur->mode == HARNESS_RESPONSE && cur->origin_reqs == 1) {
		/* The answer under test, maybe in two writes. */
		o_write(o, cur->answer, cur->split);
		cur->pending = o;
	} else
		o_write(o, ok, p->method == HTTP_HEAD ? sizeof(ok) - 3 :
		    sizeof(ok) - 1);
	return HPE_PAUSED;
}

static void
o_free(struct oconn *o)
{
	struct oconn	**pp;

	for (pp = &oconns; *pp != NULL; pp = &(*pp)->next)
		if (*pp == o) {
			*pp = o->next;
			break;
		}
	if (cur != NULL && cur->pending == o)
		cur->pending = NULL;
	event_free(o->ev);
	close(o->fd);
	free(o);
}

static void
o_read(int fd, short ev, void *arg)
{
	struct oconn	*o = arg;
	char		 buf[16384];
	const char	*p;
	llhttp_errno_t	 err;
	ssize_t		 n;
	size_t		 left, used;

	if ((n = read(fd, buf, sizeof(buf))) <= 0) {
		if (n == -1 && errno == EAGAIN)
			return;
		o_free(o);
		return;
	}
	p = buf;
	left = (size_t)n;
	while (left > 0 && !o->tunnel && !o->raw) {
		err = llhttp_execute(&o->p, p, left);
		if (err == HPE_OK)
			break;
		FUZZ_CHECK(err == HPE_PAUSED,
		    "what reaches the origin is well-formed HTTP/1.1");
		/* Paused after a request: parse on from there. */
		used = (size_t)(llhttp_get_error_pos(&o->p) - p);
		p += used;
		left -= used;
		llhttp_resume(&o->p);
	}
	/* A tunnel's bytes, or those after a 101: anything goes. */
}

static void
o_accept(int fd, short ev, void *arg)
{
	struct oconn	*o;
	int		 s;

	if ((s = accept4(fd, NULL, NULL, SOCK_NONBLOCK)) == -1)
		return;
	if ((o = calloc(1, sizeof(*o))) == NULL)
		abort();
	o->fd = s;
	o->tunnel = arg != NULL;
	llhttp_init(&o->p, HTTP_REQUEST, &oset);
	o->p.data = o;
	if ((o->ev = event_new(worker_base, s, EV_READ | EV_PERSIST, o_read,
	    o)) == NULL)
		abort();
	event_add(o->ev, NULL);
	o->next = oconns;
	oconns = o;
}

static void
o_listen(int i)
{
	struct sockaddr_in	 sin;
	socklen_t		 len = sizeof(sin);

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((olisten[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK,
	    0)) == -1 ||
	    bind(olisten[i], (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(olisten[i], 64) == -1 || getsockname(olisten[i],
	    (struct sockaddr *)&sin, &len) == -1)
		abort();
	oport[i] = ntohs(sin.sin_port);
	if ((olev[i] = event_new(worker_base, olisten[i], EV_READ | EV_PERSIST,
	    o_accept, i == 1 ? (void *)1 : NULL)) == NULL)
		abort();
	event_add(olev[i], NULL);
}

/* ---- set-up ----------------------------------------------------------- */

static void
quiet(int pri, const char *line)
{
}

void
harness_init(void)
{
	char			 dir[64], path[96];
	const char		*tmp = getenv("TMPDIR");
	struct egressd_conf	*conf;
	FILE			*f, *saved = stderr;
	struct egd_addr		 a;
	struct sockaddr_in	*sin;

	if (worker_base != NULL)
		return;
	signal(SIGPIPE, SIG_IGN);	/* as the worker does */
	log_init(0, LOG_DAEMON);
	log_set_sink(quiet);
	if ((worker_base = event_base_new()) == NULL)
		abort();
	llhttp_settings_init(&oset);
	oset.on_message_begin = o_begin;
	oset.on_header_field = o_field;
	oset.on_header_value = o_value;
	oset.on_headers_complete = o_headers;
	oset.on_message_complete = o_done;
	o_listen(0);
	o_listen(1);

	snprintf(dir, sizeof(dir), "%s/egressd-fuzz.XXXXXX",
	    tmp != NULL && strlen(tmp) < 32 ? tmp : "/tmp");
	if (mkdtemp(dir) == NULL)
		abort();
	snprintf(path, sizeof(path), "%s/harness.conf", dir);
	if ((f = fopen(path, "w")) == NULL)
		abort();
	fprintf(f,
	    "request timeout 30\nidle timeout 30\nmax uri length 1024\n"
	    "max header size 4096\nmax headers 40\n"
	    "gateway \"gw\" {\n\tlisten on 127.0.0.1 port 1 http\n}\n"
	    "service \"web\" {\n\thosts { \"web.test\" }\n"
	    "\tport 80 http\n\tresolution static\n"
	    "\tendpoint 127.0.0.1 port %u\n\tallow private\n}\n"
	    "service \"dyn\" {\n"
	    "\thosts { \"dyn.test\", \"127.0.0.1\", \"*.wild.test\" }\n"
	    "\tport 80 http\n\tport %u http\n"
	    "\tallow private { 127.0.0.0/8 }\n}\n"
	    "service \"tun\" {\n\thosts { \"tun.test\" }\n\tport 443 tcp\n"
	    "\tresolution static\n\tendpoint 127.0.0.1 port %u\n"
	    "\tallow private\n}\n"
	    "service \"loop\" {\n\thosts { \"loop.test\" }\n\tport 1 http\n"
	    "\tallow private\n}\n"
	    "route \"r\" {\n"
	    "\tmatch authority \"web.test\" path prefix \"/ws/\" {\n"
	    "\t\twebsocket\n\t}\n"
	    "\tmatch authority \"web.test\" path prefix \"/old/\" {\n"
	    "\t\trewrite path prefix \"/new/\"\n\t}\n"
	    "\tmatch authority \"dyn.test\" port 80 {\n"
	    "\t\tforward to \"dyn.test\" port %u\n\t}\n"
	    "\tmatch authority \"alias.test\" {\n"
	    "\t\tforward to \"web.test\" port 80\n"
	    "\t\trewrite authority \"web.test\"\n\t}\n}\n",
	    oport[0], oport[0], oport[1], oport[0]);
	fclose(f);
	/* FUZZ_VERBOSE=1: the parser's and the workers' messages. */
	if (getenv("FUZZ_VERBOSE") == NULL)
		stderr = fopen("/dev/null", "w");
	else
		log_init(1, LOG_DAEMON);
	conf = parse_config(path, 0);
	if (stderr != saved)
		fclose(stderr);
	stderr = saved;
	unlink(path);
	rmdir(dir);
	if (conf == NULL)
		abort();
	strlcpy(conf->hostname, "fuzz", sizeof(conf->hostname));
	/* The gateway listens on 127.0.0.1 port 1: never dialed. */
	memset(&a, 0, sizeof(a));
	a.af = AF_INET;
	a.addr[0] = 127;
	a.addr[3] = 1;
	conf_add_ownaddr(conf, &a);
	conf_add_listen(conf, &a, 1);
	http_init();
	relay_init();
	orig_init();
	orig_conf_build(conf);
	audit_init("fuzz", LOG_DAEMON);
	audit_set_sink(audit_sink);

	wc.gen = 1;
	wc.refcnt = 1;
	wc.conf = conf;
	TAILQ_INIT(&wc.listeners);
	wc.nrr = 16;
	if ((wc.rr = calloc(wc.nrr, sizeof(*wc.rr))) == NULL)
		abort();
	wl.wc = &wc;
	wl.fd = -1;
	wl.m.gateway = 1;
	wl.m.proto = PROTO_HTTP;
	sin = (struct sockaddr_in *)&wl.m.ss;
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin->sin_port = htons(1);
	wl.m.sslen = sizeof(*sin);
	wl.gw = policy_gateway(conf, 1);
	TAILQ_INSERT_TAIL(&wc.listeners, &wl, entry);
}

/* ---- one run ---------------------------------------------------------- */

/* Read what the gateway sent the client so far. */
static int
client_read(int fd, struct harness_run *r)
{
	ssize_t	n;
	int	got = 0;

	for (;;) {
		if (r->gotlen == r->gotsize) {
			r->gotsize = r->gotsize ? r->gotsize * 2 : 65536;
			if ((r->got = realloc(r->got, r->gotsize)) == NULL)
				abort();
		}
		n = read(fd, r->got + r->gotlen, r->gotsize - r->gotlen);
		if (n <= 0)
			return got;
		r->gotlen += (size_t)n;
		got = 1;
	}
}

/* Run the loop until nothing moves for a few rounds. */
static void
settle(int fd, struct harness_run *r)
{
	int	idle = 0, rounds = 0;

	while (idle < 3 && rounds++ < 400) {
		event_base_loop(worker_base, EVLOOP_NONBLOCK);
		if ((fd != -1 && client_read(fd, r)) ||
		    event_base_get_num_events(worker_base,
		    EVENT_BASE_COUNT_ACTIVE) > 0)
			idle = 0;
		else
			idle++;
	}
}

static void
client_write(int fd, const uint8_t *p, size_t len, struct harness_run *r)
{
	ssize_t	n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n == -1 && errno == EAGAIN) {
			settle(fd, r);	/* the gateway reads on */
			continue;
		}
		if (n <= 0)
			return;
		p += n;
		len -= (size_t)n;
	}
}

void
harness_run(struct harness_run *r)
{
	struct sockaddr_in	 sin;
	struct oconn		*o;
	int			 sv[2], i;

	harness_init();
	cur = r;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == -1)
		abort();
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(0x0a000001);
	sin.sin_port = htons(40000);
	nconns++;
	wc.refcnt++;
	wc.nconns++;
	if (http_accept(&wl, sv[0], (struct sockaddr *)&sin, NULL) == -1) {
		nconns--;
		wc.refcnt--;
		wc.nconns--;
	}
	client_write(sv[1], r->client, r->clientlen, r);
	if (r->halfclose)
		shutdown(sv[1], SHUT_WR);
	settle(sv[1], r);
	if (r->pending != NULL && r->split < r->answerlen) {
		o_write(r->pending, r->answer + r->split,
		    r->answerlen - r->split);
		settle(sv[1], r);
	}
	if (r->pending != NULL && r->origin_close)
		shutdown(r->pending->fd, SHUT_WR);
	settle(sv[1], r);
	/* Everyone leaves: the gateway must let go of everything. */
	close(sv[1]);
	while ((o = oconns) != NULL)
		o_free(o);
	for (i = 0; i < 20 && nconns > 0; i++)
		settle(-1, r);
	FUZZ_CHECK(nconns == 0,
	    "every client connection ends once its peers have gone");
	relay_pool_flush();
	settle(-1, r);
	FUZZ_CHECK(wc.refcnt == 1 && wc.nconns == 0 && wc.ntunnels == 0,
	    "no connection holds the generation");
	FUZZ_CHECK(dnsqs == NULL, "no lookup left behind");
	FUZZ_CHECK(r->origin_reqs <= r->records,
	    "each request the origin got was recorded");
	if (getenv("FUZZ_VERBOSE") != NULL) {
		fprintf(stderr, "origin read %d requests; %d records "
		    "(%d REQUEST, %d TUNNEL); the client got:\n",
		    r->origin_reqs, r->records, r->requests, r->tunnels);
		fwrite(r->got, 1, r->gotlen, stderr);
		fputc('\n', stderr);
	}
	cur = NULL;
}

/* ---- what the client received ----------------------------------------- */

struct cstate {
	int		 head;		/* the requests were HEAD */
	int		 http10;	/* from an HTTP/1.0 client */
	int		 may_switch;	/* a websocket was asked for */
	int		 finals;	/* final responses */
	int		 switched;
	int		 via, upgrade;
	char		 field[32];
	size_t		 fieldlen;
};

static int
c_begin(llhttp_t *p)
{
	struct cstate	*c = p->data;

	c->via = c->upgrade = 0;
	c->fieldlen = 0;
	return 0;
}

static int
c_field(llhttp_t *p, const char *at, size_t len)
{
	struct cstate	*c = p->data;

	if (c->fieldlen + len < sizeof(c->field)) {
		memcpy(c->field + c->fieldlen, at, len);
		c->fieldlen += len;
	} else
		c->fieldlen = sizeof(c->field);
	return 0;
}

static int
c_value(llhttp_t *p, const char *at, size_t len)
{
	struct cstate	*c = p->data;

	if (c->fieldlen == 3 && strncasecmp(c->field, "via", 3) == 0 &&
	    len >= 9 && memcmp(at + len - 9, "(egressd)", 9) == 0)
		c->via = 1;
	if (c->fieldlen == 7 && strncasecmp(c->field, "upgrade", 7) == 0 &&
	    len == 9 && strncasecmp(at, "websocket", 9) == 0)
		c->upgrade = 1;
	c->fieldlen = 0;
	return 0;
}

static int
c_headers(llhttp_t *p)
{
	struct cstate	*c = p->data;
	int		 st = p->status_code;

	if (st == 101) {
		FUZZ_CHECK(c->may_switch && c->upgrade && c->via,
		    "a 101 only where websocket was asked for, as asked");
		c->switched = 1;
		return HPE_PAUSED;	/* the rest is the tunnel's */
	}
	if (st < 200) {
		FUZZ_CHECK(st == 100 || st == 103,
		    "no interim answer but 100 and 103");
		FUZZ_CHECK(!c->http10, "no interim answer to HTTP/1.0");
		return 0;
	}
	FUZZ_CHECK(c->via, "a final response carries the gateway's Via");
	FUZZ_CHECK(!c->http10 || p->http_minor == 0,
	    "an HTTP/1.0 client is answered in HTTP/1.0");
	c->finals++;
	/* No body to HEAD, and none with 204 or 304 (llhttp leaves it). */
	return c->head || st == 204 || st == 304 ? 1 : 0;
}

/*
 * The client's bytes must be well-formed responses: returns how many
 * final ones.  head: every request was HEAD; http10: every request was
 * HTTP/1.0; may_switch: a websocket was asked for and allowed.
 */
int
harness_check_client(const struct harness_run *r, int head, int http10,
    int may_switch)
{
	llhttp_settings_t	 set;
	llhttp_t		 p;
	struct cstate		 c;
	llhttp_errno_t		 err;

	memset(&c, 0, sizeof(c));
	c.head = head;
	c.http10 = http10;
	c.may_switch = may_switch;
	llhttp_settings_init(&set);
	set.on_message_begin = c_begin;
	set.on_header_field = c_field;
	set.on_header_value = c_value;
	set.on_headers_complete = c_headers;
	llhttp_init(&p, HTTP_RESPONSE, &set);
	p.data = &c;
	if (r->gotlen == 0)
		return 0;
	err = llhttp_execute(&p, (const char *)r->got, r->gotlen);
	if (err != HPE_OK && !(err == HPE_PAUSED && c.switched) &&
	    err != HPE_PAUSED_UPGRADE) {
		fprintf(stderr, "client got (%s at %zu):\n",
		    llhttp_get_error_reason(&p), (size_t)(llhttp_get_error_pos(
		    &p) - (const char *)r->got));
		fwrite(r->got, 1, r->gotlen, stderr);
		fputc('\n', stderr);
	}
	FUZZ_CHECK(err == HPE_OK || (err == HPE_PAUSED && c.switched) ||
	    err == HPE_PAUSED_UPGRADE,
	    "the client gets well-formed responses");
	return c.finals;
}
