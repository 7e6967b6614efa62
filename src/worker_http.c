/*
 * HTTP on the client side, run in the workers: parsing requests with
 * llhttp (strict), deciding with policy.c, and writing responses.  All
 * three request forms are accepted on an http listener: origin-form with
 * Host, absolute-form (the client uses us as its proxy) and CONNECT.
 *
 * Framing is never passed through: a request or response body is
 * re-framed from what the parser saw (Content-Length kept, chunked
 * re-chunked, trailers dropped), so what reaches the other side is
 * exactly one message per message parsed.  Hop-by-hop headers go, a Via
 * comes.  Requests are handled one at a time per connection (pipelined
 * ones wait, unparsed, in the input buffer).
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "worker.h"

#define HIGH_WATER	(256 * 1024)	/* stop reading the other side */
#define LOW_WATER	(64 * 1024)
#define MAX_SINGLE_IO	(256 * 1024)	/* libevent reads 16 KiB by default */

/* Our own reasons to stop the request parser. */
#define HCB_HEADERS	1
#define HCB_DONE	2

static llhttp_settings_t	 req_settings;
static TAILQ_HEAD(, hconn)	 hconns = TAILQ_HEAD_INITIALIZER(hconns);

static void	 http_read_cb(struct bufferevent *, void *);
static void	 http_write_cb(struct bufferevent *, void *);
static void	 http_event_cb(struct bufferevent *, short, void *);
static void	 http_timer_cb(int, short, void *);
static void	 http_arm_timer(struct hconn *, int);
static void	 http_feed(struct hconn *);
static void	 http_decide(struct hconn *);
static void	 http_deny(struct hconn *, int, int, const char *);
static void	 http_request_end(struct hconn *);
static void	 http_audit(struct hconn *, int, int);
static void	 http_term_event(struct hconn *, short);
static void	 http_paths_free(struct hconn *);
static int	 http_target_transparent(struct hconn *, const char *,
		    size_t, int *, struct egd_addr *);

/* ---- heads ------------------------------------------------------------- */

void
hhead_reset(struct hhead *h)
{
	h->len = 0;
	h->nf = 0;
	h->urloff = h->urllen = 0;
	h->invalue = 0;
	h->over = 0;
}

void
hhead_free(struct hhead *h)
{
	free(h->buf);
	free(h->f);
	memset(h, 0, sizeof(*h));
}

/*
 * A head's arena starts small and doubles up to its limits (maxsize
 * bytes, maxf fields): an idle connection costs little, a large head is
 * still taken whole.  Fields are offsets, so growing moves nothing.
 */
#define HHEAD_FIRST	2048
#define HHEAD_FIRSTF	32

int
hhead_alloc(struct hhead *h, uint32_t maxsize, int maxf)
{
	if (h->buf != NULL)
		return 0;
	h->maxsize = maxsize;
	h->maxfields = maxf;
	h->size = maxsize < HHEAD_FIRST ? maxsize : HHEAD_FIRST;
	h->maxf = maxf < HHEAD_FIRSTF ? maxf : HHEAD_FIRSTF;
	if ((h->buf = malloc(h->size)) == NULL ||
	    (h->f = calloc((size_t)h->maxf, sizeof(*h->f))) == NULL) {
		hhead_free(h);
		return -1;
	}
	hhead_reset(h);
	return 0;
}

static int
hhead_grow(struct hhead *h, size_t need)
{
	size_t	 size = h->size;
	char	*n;

	if (need > h->maxsize)
		return -1;
	while (size < need)
		size *= 2;
	if (size > h->maxsize)
		size = h->maxsize;
	if ((n = realloc(h->buf, size)) == NULL)
		return -1;
	h->buf = n;
	h->size = (uint32_t)size;
	return 0;
}

static int
hhead_growf(struct hhead *h)
{
	struct hfield	*n;
	int		 max = h->maxf * 2;

	if (h->maxf >= h->maxfields)
		return -1;
	if (max > h->maxfields)
		max = h->maxfields;
	if ((n = reallocarray(h->f, (size_t)max, sizeof(*n))) == NULL)
		return -1;
	h->f = n;
	h->maxf = max;
	return 0;
}

/* what: 0 url/status, 1 field name, 2 field value.  -1: over a limit. */
int
hhead_add(struct hhead *h, int what, const char *at, size_t len)
{
	struct hfield	*f;

	if (len > h->size - h->len &&
	    hhead_grow(h, (size_t)h->len + len) == -1) {
		h->over = AR_HEADER_TOO_LARGE;
		return -1;
	}
	if (what == 1 && (h->nf == 0 || h->invalue)) {
		if (h->nf == h->maxf && hhead_growf(h) == -1) {
			h->over = AR_HEADER_TOO_LARGE;
			return -1;
		}
		f = &h->f[h->nf++];
		f->noff = h->len;
		f->nlen = 0;
		f->voff = f->vlen = 0;
		h->invalue = 0;
	}
	memcpy(h->buf + h->len, at, len);
	if (what == 0) {
		if (h->urllen == 0)
			h->urloff = h->len;
		h->urllen += (uint32_t)len;
	} else if (what == 1)
		h->f[h->nf - 1].nlen += (uint32_t)len;
	else {
		f = &h->f[h->nf - 1];
		if (!h->invalue) {
			f->voff = h->len;
			h->invalue = 1;
		}
		f->vlen += (uint32_t)len;
	}
	h->len += (uint32_t)len;
	return 0;
}

/*
 * obs-fold: llhttp (8.x, strict) hands a folded line to on_header_value
 * as more of the value.  A value never follows a line feed otherwise.
 */
int
hhead_folded(const struct hhead *h, const char *at)
{
	char	prev = at > h->bstart ? at[-1] : h->prevlast;

	return prev == '\n';
}

static int
hf_is(const struct hhead *h, const struct hfield *f, const char *name)
{
	size_t	n = strlen(name);

	return f->nlen == n && strncasecmp(h->buf + f->noff, name, n) == 0;
}

/* The value of the first field called name, or NULL. */
const char *
hhead_get(const struct hhead *h, const char *name, size_t *len)
{
	int	i;

	for (i = 0; i < h->nf; i++)
		if (hf_is(h, &h->f[i], name)) {
			*len = h->f[i].vlen;
			return h->buf + h->f[i].voff;
		}
	return NULL;
}

/* The value of the nth (from 0) field called name, or NULL. */
const char *
hhead_nth(const struct hhead *h, const char *name, int n, size_t *len)
{
	int	i;

	for (i = 0; i < h->nf; i++)
		if (hf_is(h, &h->f[i], name) && n-- == 0) {
			*len = h->f[i].vlen;
			return h->buf + h->f[i].voff;
		}
	return NULL;
}

static int
hhead_count(const struct hhead *h, const char *name)
{
	int	i, n = 0;

	for (i = 0; i < h->nf; i++)
		if (hf_is(h, &h->f[i], name))
			n++;
	return n;
}

/* Does a comma-separated field (all of its lines) hold token? */
static int
hhead_has_token(const struct hhead *h, const char *name, const char *token)
{
	const char	*v, *e, *t;
	size_t		 tl = strlen(token), n;
	int		 i;

	for (i = 0; i < h->nf; i++) {
		if (!hf_is(h, &h->f[i], name))
			continue;
		v = h->buf + h->f[i].voff;
		e = v + h->f[i].vlen;
		while (v < e) {
			while (v < e && (*v == ' ' || *v == '\t' || *v == ','))
				v++;
			for (t = v; t < e && *t != ','; t++)
				;
			n = (size_t)(t - v);
			while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
				n--;
			if (n == tl && strncasecmp(v, token, tl) == 0)
				return 1;
			v = t;
		}
	}
	return 0;
}

/*
 * This gateway's name in Via: its host name, as its audit records carry
 * it, or "egressd" when that is not a token.  Every message it forwards
 * or answers gets "Via: 1.1 NAME (egressd)"; a request that already
 * carries NAME has come through it before.
 */
static const char *
via_name(const struct egressd_conf *conf)
{
	const char	*h = conf->hostname;
	size_t		 i;

	for (i = 0; h[i] != '\0'; i++)
		if (!isalnum((unsigned char)h[i]) && h[i] != '-' && h[i] != '.')
			return "egressd";
	return i > 0 ? h : "egressd";
}

static void
via_add(const struct hconn *hc, struct evbuffer *out)
{
	evbuffer_add_printf(out, "Via: 1.1 %s (egressd)\r\n",
	    via_name(hc->wc->conf));
}

/*
 * Whether a Via field names this gateway as one that received the
 * request: "[protocol/]version received-by [comment]" in each of its
 * comma-separated elements, every line of it.
 */
static int
via_loop(const struct hconn *hc)
{
	const struct hhead	*h = &hc->req;
	const char		*name = via_name(hc->wc->conf), *v, *e, *t;
	size_t			 nl = strlen(name);
	int			 i;

	for (i = 0; i < h->nf; i++) {
		if (!hf_is(h, &h->f[i], "via"))
			continue;
		v = h->buf + h->f[i].voff;
		e = v + h->f[i].vlen;
		while (v < e) {
			while (v < e && (*v == ' ' || *v == '\t' || *v == ','))
				v++;
			/* The protocol, then whitespace, then received-by. */
			while (v < e && *v != ' ' && *v != '\t' && *v != ',')
				v++;
			while (v < e && (*v == ' ' || *v == '\t'))
				v++;
			for (t = v; t < e && *t != ' ' && *t != '\t' &&
			    *t != ','; t++)
				;
			if ((size_t)(t - v) == nl &&
			    strncasecmp(v, name, nl) == 0)
				return 1;
			/* Past the comment, if any, to the next element. */
			while (t < e && *t != ',')
				t++;
			v = t;
		}
	}
	return 0;
}

/*
 * Hop-by-hop: never forwarded.  Also every field the Connection header
 * names, and the framing fields, which we write ourselves.
 */
static const char *const hop_fields[] = {
	"connection", "keep-alive", "proxy-connection", "te", "trailer",
	"upgrade", "proxy-authorization", "proxy-authenticate",
	"transfer-encoding", "content-length", "host",
};

static int
hf_hop(const struct hhead *h, const struct hfield *f)
{
	size_t	i;
	char	name[64];

	for (i = 0; i < nitems(hop_fields); i++)
		if (hf_is(h, f, hop_fields[i]))
			return 1;
	if (f->nlen >= sizeof(name))
		return 0;
	memcpy(name, h->buf + f->noff, f->nlen);
	name[f->nlen] = '\0';
	return hhead_has_token(h, "connection", name);
}

/* Copy the end-to-end fields of h to out. */
void
hhead_copy_fields(const struct hhead *h, struct evbuffer *out)
{
	const struct hfield	*f;
	int			 i;

	for (i = 0; i < h->nf; i++) {
		f = &h->f[i];
		if (hf_hop(h, f))
			continue;
		evbuffer_add(out, h->buf + f->noff, f->nlen);
		evbuffer_add(out, ": ", 2);
		evbuffer_add(out, h->buf + f->voff, f->vlen);
		evbuffer_add(out, "\r\n", 2);
	}
}

/* ---- the request parser's callbacks ----------------------------------- */

static int
req_on_begin(llhttp_t *p)
{
	struct hconn	*hc = p->data;

	hhead_reset(&hc->req);
	hc->begun = 1;
	/* From its first byte, a head has request timeout to be whole. */
	http_arm_timer(hc, hc->wc->conf->request_timeout);
	return 0;
}

static int
req_on_url(llhttp_t *p, const char *at, size_t len)
{
	struct hconn	*hc = p->data;

	if (hc->req.urllen + len > (size_t)hc->wc->conf->max_uri) {
		hc->req.over = AR_URI_TOO_LONG;
		return HPE_USER;
	}
	return hhead_add(&hc->req, 0, at, len) == 0 ? 0 : HPE_USER;
}

static int
req_on_field(llhttp_t *p, const char *at, size_t len)
{
	struct hconn	*hc = p->data;

	return hhead_add(&hc->req, 1, at, len) == 0 ? 0 : HPE_USER;
}

/*
 * Header values, for requests and responses alike.  A value after its
 * line ended is obs-fold: refused.
 */
int
hhead_on_value(struct hhead *h, llhttp_t *p, const char *at, size_t len)
{
	if (h->invalue == 2 || hhead_folded(h, at)) {
		llhttp_set_error_reason(p, "obs-fold");
		return HPE_USER;
	}
	return hhead_add(h, 2, at, len) == 0 ? 0 : HPE_USER;
}

/* An empty value had no data callback: make its field whole. */
int
hhead_on_value_complete(struct hhead *h)
{
	if (!h->invalue && h->nf > 0)
		h->f[h->nf - 1].voff = h->len;
	h->invalue = 2;
	return 0;
}

static int
req_on_value(llhttp_t *p, const char *at, size_t len)
{
	struct hconn	*hc = p->data;

	return hhead_on_value(&hc->req, p, at, len);
}

static int
req_on_value_complete(llhttp_t *p)
{
	struct hconn	*hc = p->data;

	return hhead_on_value_complete(&hc->req);
}

static int
req_on_headers(llhttp_t *p)
{
	struct hconn	*hc = p->data;

	hc->paused = HCB_HEADERS;
	return HPE_PAUSED;
}

static int
req_on_body(llhttp_t *p, const char *at, size_t len)
{
	struct hconn		*hc = p->data;
	struct evbuffer		*out;
	char			 sz[24];

	if (hc->up == NULL || hc->up->bev == NULL)
		return 0;
	out = bufferevent_get_output(hc->up->bev);
	if (hc->chunked_in) {
		snprintf(sz, sizeof(sz), "%zx\r\n", len);
		evbuffer_add(out, sz, strlen(sz));
		evbuffer_add(out, at, len);
		evbuffer_add(out, "\r\n", 2);
	} else
		evbuffer_add(out, at, len);
	return 0;
}

static int
req_on_done(llhttp_t *p)
{
	struct hconn	*hc = p->data;

	hc->paused = HCB_DONE;
	return HPE_PAUSED;
}

void
http_init(void)
{
	llhttp_settings_init(&req_settings);
	req_settings.on_message_begin = req_on_begin;
	req_settings.on_url = req_on_url;
	req_settings.on_header_field = req_on_field;
	req_settings.on_header_value = req_on_value;
	req_settings.on_header_value_complete = req_on_value_complete;
	req_settings.on_headers_complete = req_on_headers;
	req_settings.on_body = req_on_body;
	req_settings.on_message_complete = req_on_done;
}

/* ---- connections ------------------------------------------------------- */

static void
http_arm_timer(struct hconn *hc, int seconds)
{
	struct timeval	tv = { seconds, 0 };

	evtimer_add(hc->timer, &tv);
}

/*
 * A new client.  Returns -1 when it could not even be taken on (the
 * caller undoes its counts); from then on http_close() ends it.
 */
int
http_accept(struct wlistener *wl, int fd, const struct sockaddr *sa,
    void *lim_conn)
{
	struct hconn	*hc;
	struct timeval	 tv;

	if ((hc = calloc(1, sizeof(*hc))) == NULL) {
		close(fd);
		return -1;
	}
	hc->lim_conn = lim_conn;
	hc->wc = wl->wc;
	hc->wl = wl;
	egd_addr_from_sa(sa, &hc->caddr, &hc->cport);
	if (wl->m.transparent)
		tp_accept(hc, fd);
	if (wl->m.proto == PROTO_HTTPS) {
		hc->term = ps_xcalloc(1, sizeof(*hc->term));
		hc->bev = term_wrap(worker_base, wl, fd);
	} else
		hc->bev = bufferevent_socket_new(worker_base, fd,
		    BEV_OPT_CLOSE_ON_FREE);
	if (hc->bev == NULL ||
	    (hc->timer = evtimer_new(worker_base, http_timer_cb, hc)) ==
	    NULL) {
		if (hc->bev == NULL)
			close(fd);
		http_close(hc, 0);
		return 0;
	}
	llhttp_init(&hc->parser, HTTP_REQUEST, &req_settings);
	hc->parser.data = hc;
	hc->keepalive = 1;
	hc->dns_ms = hc->connect_ms = hc->ttfb_ms = -1;
	if (wl->m.proto == PROTO_TLS)
		hc->scheme = "tls";	/* passthrough: see worker_tls.c */
	gettimeofday(&hc->t_start, NULL);
	TAILQ_INSERT_TAIL(&hconns, hc, entry);
	tv.tv_sec = hc->wc->conf->idle_timeout;
	tv.tv_usec = 0;
	bufferevent_set_timeouts(hc->bev, &tv, &tv);
	bufferevent_setcb(hc->bev, http_read_cb, http_write_cb, http_event_cb,
	    hc);
	bufferevent_setwatermark(hc->bev, EV_WRITE, LOW_WATER, 0);
	bufferevent_set_max_single_read(hc->bev, MAX_SINGLE_IO);
	bufferevent_set_max_single_write(hc->bev, MAX_SINGLE_IO);
	if (hc->term != NULL)
		bufferevent_enable(hc->bev, EV_READ | EV_WRITE);
	else {
		bufferevent_enable(hc->bev, EV_READ);
		if ((hc->xw = xw_new(hc->bev)) == NULL)
			bufferevent_enable(hc->bev, EV_WRITE);
	}
	http_arm_timer(hc, hc->wc->conf->request_timeout);
	return 0;
}

/* A request's own copies of its path: received, rewritten. */
static void
http_paths_free(struct hconn *hc)
{
	free(hc->path_raw);
	free(hc->path_up);
	hc->path_raw = hc->path_up = NULL;
	hc->path_rawlen = hc->path_uplen = 0;
}

/*
 * The end of a client connection.  With how != 0 the request in progress
 * (if any) is recorded as ended that way.
 */
void
http_close(struct hconn *hc, int how)
{
	if (!hc->audited && hc->state != HS_HEAD && hc->state != HS_CLOSING)
		http_audit(hc, how, 0);
	if (hc->dnsid != 0)
		wdns_cancel(hc->dnsid);
	if (hc->up != NULL)
		relay_release(hc, 0);
	if (hc->timer != NULL)
		event_free(hc->timer);
	if (hc->bev != NULL) {
		TAILQ_REMOVE(&hconns, hc, entry);
		xw_free(hc->xw);
		bufferevent_free(hc->bev);
	}
	hhead_free(&hc->req);
	http_paths_free(hc);
	term_free(hc);
	tls_watch_free(hc);
	worker_conn_gone(hc);
	free(hc);
}

/*
 * The request timer: armed at accept and at the first byte of each
 * request.  A head begun and still incomplete gets 408 and a record; a
 * new connection that said nothing is closed.  Idle keep-alive
 * connections end by the read timeout (idle timeout), also here: closed
 * without a word or a record, since nothing was asked (and a stray 408
 * would race the client's next request).  Whether a head has begun is
 * our own flag: llhttp's "finish" state still says "unsafe" after a
 * message whose completion paused it.
 */
static void
http_timer_cb(int fd, short ev, void *arg)
{
	struct hconn	*hc = arg;

	if (hc->sni_pending) {
		/* The tunnel's first bytes did not come whole in time. */
		if (tls_tunnel_check(hc, 1) == 0)
			relay_tunnel(hc);
		return;
	}
	if (hc->state != HS_HEAD)
		return;
	if (hc->term != NULL && !hc->term->done) {
		/* A handshake begun and not finished in time. */
		http_term_event(hc, BEV_EVENT_TIMEOUT);
		return;
	}
	if (hc->wl->m.proto == PROTO_TLS) {
		if (evbuffer_get_length(bufferevent_get_input(hc->bev)) > 0)
			http_drop(hc, AR_REQUEST_TIMEOUT);
		else
			http_close(hc, 0);
		return;
	}
	if (hc->begun)
		http_deny(hc, 408, AR_REQUEST_TIMEOUT, "request timeout");
	else
		http_close(hc, 0);
}

static void
http_read_cb(struct bufferevent *bev, void *arg)
{
	struct hconn	*hc = arg;

	if (hc->term == NULL)	/* a TLS socket is read by the filter */
		xio_fill(bev);
	if (hc->state == HS_TUNNEL) {
		if (hc->sni_pending && tls_tunnel_check(hc, 0) != 0)
			return;
		relay_tunnel(hc);
		return;
	}
	if (hc->wl->m.proto == PROTO_TLS) {
		tls_feed(hc);
		return;
	}
	http_feed(hc);
}

static void
http_write_cb(struct bufferevent *bev, void *arg)
{
	struct hconn	*hc = arg;
	struct evbuffer	*out = bufferevent_get_output(bev);

	xw_idle(hc->xw);
	if (hc->state == HS_CLOSING) {
		if (evbuffer_get_length(out) == 0)
			http_close(hc, 0);
		return;
	}
	if (hc->state == HS_TUNNEL) {
		relay_tunnel(hc);
		return;
	}
	/* The client took our response bytes: read more of it upstream. */
	if (evbuffer_get_length(out) < LOW_WATER)
		relay_resume(hc);
}

static void
http_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct hconn	*hc = arg;

	if (hc->term != NULL && !hc->term->done) {
		http_term_event(hc, what);
		return;
	}
	if (hc->state == HS_TUNNEL && (what & BEV_EVENT_EOF)) {
		if (hc->sni_pending && tls_tunnel_check(hc, 1) != 0)
			return;
		relay_tunnel_eof(hc, 0);
		return;
	}
	if (hc->state == HS_DECIDE || hc->state == HS_FORWARD) {
		/*
		 * A client waiting for its response may stay silent (the
		 * upstream side has its own timeout), and one that
		 * half-closed after a whole request still gets the answer:
		 * its body may still wait, unparsed, in the input (it is
		 * read as the upstream takes it); http_feed() ends the
		 * connection if it stops short.
		 */
		if ((what & BEV_EVENT_TIMEOUT) && (what & BEV_EVENT_READING)) {
			bufferevent_enable(bev, EV_READ);
			return;
		}
		if ((what & BEV_EVENT_EOF) && (hc->req_done ||
		    !hc->has_body || evbuffer_get_length(
		    bufferevent_get_input(bev)) > 0)) {
			hc->keepalive = 0;
			hc->client_eof = 1;
			bufferevent_disable(bev, EV_READ);
			http_feed(hc);
			return;
		}
	}
	if ((what & BEV_EVENT_TIMEOUT) && hc->state == HS_HEAD) {
		http_timer_cb(-1, 0, hc);	/* 408, or idle: close */
		return;
	}
	http_close(hc, AR_CLIENT_CLOSED);
}

/*
 * The TLS handshake of an https client ended, one way or the other.  A
 * failure is a denial on the record (client_tls_failed) unless nothing
 * of a handshake ever came.
 */
static void
http_term_event(struct hconn *hc, short what)
{
	if (what & BEV_EVENT_CONNECTED) {
		if (term_handshake_done(hc) == 0)
			return;		/* requests follow */
	} else if (term_failed(hc, what) == 1) {
		http_close(hc, 0);
		return;
	}
	gettimeofday(&hc->t_start, NULL);
	http_audit(hc, AR_CLIENT_TLS_FAILED, 1);
	http_close(hc, 0);
}

/* ---- reading requests -------------------------------------------------- */

static void
http_parse_error(struct hconn *hc, llhttp_errno_t err)
{
	int	reason = hc->req.over;

	if (reason == AR_HEADER_TOO_LARGE)
		http_deny(hc, 431, reason, "request header too large");
	else if (reason == AR_URI_TOO_LONG)
		http_deny(hc, 414, reason, "request-target too long");
	else {
		char	msg[128];

		snprintf(msg, sizeof(msg), "malformed request: %s",
		    llhttp_get_error_reason(&hc->parser) ?
		    llhttp_get_error_reason(&hc->parser) :
		    llhttp_errno_name(err));
		http_deny(hc, 400, AR_BAD_REQUEST, msg);
	}
}

/*
 * Run the parser over what the client sent, as far as the current state
 * allows: a whole head, or the body while the upstream takes it.
 */
static void
http_feed(struct hconn *hc)
{
	struct evbuffer		*in = bufferevent_get_input(hc->bev);
	struct evbuffer_iovec	 v;
	llhttp_errno_t		 err;
	size_t			 used;
	int			 why;

	for (;;) {
		if (hc->paused || hc->state == HS_CLOSING ||
		    hc->state == HS_DECIDE || hc->state == HS_TUNNEL)
			return;
		if (hc->state == HS_FORWARD && (hc->req_done || hc->up == NULL ||
		    hc->up->bev == NULL || !hc->up->connected))
			return;
		if (hc->state == HS_FORWARD && evbuffer_get_length(
		    bufferevent_get_output(hc->up->bev)) > HIGH_WATER) {
			/* Resumed by the upstream's write callback. */
			bufferevent_disable(hc->bev, EV_READ);
			return;
		}
		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1 ||
		    v.iov_len == 0) {
			/* A body-less request completes without bytes. */
			if (hc->state == HS_FORWARD && !hc->has_body)
				v.iov_base = (void *)(uintptr_t)"", v.iov_len = 0;
			else {
				/* The client closed before its body ended. */
				if (hc->client_eof && hc->state == HS_FORWARD &&
				    !hc->req_done)
					http_close(hc, AR_CLIENT_CLOSED);
				return;
			}
		}
		if (hc->state == HS_HEAD && hc->req.buf == NULL &&
		    hhead_alloc(&hc->req, (uint32_t)hc->wc->conf->max_header_size,
		    hc->wc->conf->max_headers) == -1) {
			http_close(hc, 0);
			return;
		}
		hc->req.bstart = v.iov_base;
		err = llhttp_execute(&hc->parser, v.iov_base, v.iov_len);
		if (err == HPE_OK)
			used = v.iov_len;
		else if (err == HPE_PAUSED)
			used = (size_t)(llhttp_get_error_pos(&hc->parser) -
			    (const char *)v.iov_base);
		else {
			http_parse_error(hc, err);
			return;
		}
		if (used > 0) {
			hc->req.prevlast = ((const char *)v.iov_base)[used - 1];
			evbuffer_drain(in, used);
			hc->bytes_in += used;
		}
		why = hc->paused;
		if (why == HCB_HEADERS) {
			hc->paused = 0;
			llhttp_resume(&hc->parser);
			http_decide(hc);
			return;
		}
		if (why == HCB_DONE) {
			hc->paused = 0;
			llhttp_resume(&hc->parser);
			hc->req_done = 1;
			if (hc->chunked_in && hc->up != NULL &&
			    hc->up->bev != NULL)
				evbuffer_add(bufferevent_get_output(
				    hc->up->bev), "0\r\n\r\n", 5);
			if (hc->resp_done)
				http_request_end(hc);
			return;
		}
		if (v.iov_len == 0)
			return;
	}
}

/* Called by the relay when the upstream took the body so far. */
void
http_request_more(struct hconn *hc)
{
	if (hc->state != HS_FORWARD || hc->req_done)
		return;
	bufferevent_enable(hc->bev, EV_READ);
	http_feed(hc);
}

/* ---- deciding ---------------------------------------------------------- */

static const char *
http_header_cb(void *arg, const char *name, int n, size_t *len)
{
	struct hconn	*hc = arg;

	return hhead_nth(&hc->req, name, n, len);
}

/* The gateway's way with paths, as pathnorm() flags. */
static int
http_path_flags(const struct hconn *hc)
{
	const struct gateway	*gw = hc->wl->gw;

	if (gw == NULL)
		return PN_MERGE_SLASHES;
	return (gw->merge_slashes ? PN_MERGE_SLASHES : 0) |
	    (gw->esc_slashes == ESLASH_REJECT ? PN_SLASH_REJECT : 0) |
	    (gw->esc_slashes == ESLASH_DECODE ? PN_SLASH_DECODE : 0);
}

/*
 * The request's path (len bytes at path, in the head's arena) brought to
 * its normal form in place, before any rule sees it; the form received is
 * kept for the record when it differs.  A path that cannot be normalised
 * is refused.  Returns 0, or -1 after answering the client.
 */
static int
http_path(struct hconn *hc, char *path, size_t len)
{
	static char	*raw;		/* one worker, one request at a time */
	static size_t	 rawsize;
	size_t		 nlen = len;
	int		 e;

	if (len > rawsize) {
		free(raw);
		raw = ps_xcalloc(1, len);
		rawsize = len;
	}
	memcpy(raw, path, len);
	hc->path = path;
	if ((e = pathnorm(path, &nlen, http_path_flags(hc))) != PN_OK) {
		memcpy(path, raw, len);		/* the record says what came */
		hc->pathlen = len;
		http_deny(hc, 400, AR_BAD_REQUEST, pathnorm_error(e));
		return -1;
	}
	hc->pathlen = nlen;
	if (nlen != len || memcmp(path, raw, len) != 0) {
		hc->path_raw = ps_xcalloc(1, len);
		memcpy(hc->path_raw, raw, len);
		hc->path_rawlen = len;
	}
	return 0;
}

/*
 * A route's rewrite path prefix: the prefix the request matched is
 * replaced, and the result normalised again, since the junction may make
 * a dot segment ("/old" matching "/old../x").  A result that leaves the
 * rewritten prefix, or cannot be normalised, is refused: a rewrite never
 * sends ".." nor reaches above its prefix.  Returns 0, or -1 after
 * answering the client.
 */
static int
http_rewrite(struct hconn *hc, const struct route_match *m)
{
	char	 pfx[EGD_PATH_MAX];
	size_t	 plen = strlen(m->path), rlen = strlen(m->rewrite_prefix);
	size_t	 n, pn = rlen;
	int	 flags = http_path_flags(hc), e;

	if (plen > hc->pathlen)
		return 0;	/* cannot be: the prefix matched */
	n = rlen + hc->pathlen - plen;
	hc->path_up = ps_xcalloc(1, n);
	memcpy(hc->path_up, m->rewrite_prefix, rlen);
	memcpy(hc->path_up + rlen, hc->path + plen, hc->pathlen - plen);
	memcpy(pfx, m->rewrite_prefix, rlen);
	if ((e = pathnorm(hc->path_up, &n, flags)) != PN_OK ||
	    pathnorm(pfx, &pn, flags) != PN_OK) {
		http_deny(hc, 400, AR_BAD_REQUEST, e != PN_OK ?
		    pathnorm_error(e) : "rewrite path prefix");
		return -1;
	}
	if (n < pn || memcmp(hc->path_up, pfx, pn) != 0) {
		http_deny(hc, 400, AR_BAD_REQUEST,
		    "the rewritten path leaves its prefix");
		return -1;
	}
	hc->path_uplen = n;
	return 0;
}

/*
 * The target of a request on a transparent listener, whose client spoke
 * to its origin: origin-form only, the authority is the Host header,
 * the port the original destination's.  A Host naming another port is
 * refused, as are CONNECT and absolute-form (what a client sends to a
 * proxy it chose: this is no such proxy).
 */
static int
http_target_transparent(struct hconn *hc, const char *host, size_t hlen,
    int *literal, struct egd_addr *lit)
{
	char		*url = hc->req.buf + hc->req.urloff;
	size_t		 ulen = hc->req.urllen;
	const char	*err;

	hc->scheme = "http";
	if (!hc->odst_ok) {
		hc->keepalive = 0;
		http_deny(hc, 421, AR_NOT_REDIRECTED,
		    "this port takes redirected connections only");
		return -1;
	}
	if (hc->parser.method == HTTP_CONNECT) {
		http_deny(hc, 400, AR_BAD_REQUEST,
		    "CONNECT on a transparent listener");
		return -1;
	}
	if (ulen == 0 || url[0] != '/') {
		http_deny(hc, 400, AR_BAD_REQUEST,
		    "request-target must be /path on a transparent listener");
		return -1;
	}
	if (host == NULL) {
		http_deny(hc, 400, AR_BAD_REQUEST, "no Host header");
		return -1;
	}
	if (authority_parse(host, hlen, hc->odport, hc->host,
	    sizeof(hc->host), &hc->port, lit, literal, &err) == -1) {
		http_deny(hc, 400, AR_BAD_REQUEST, err);
		return -1;
	}
	if (hc->port != hc->odport) {
		http_deny(hc, 400, AR_HOST_MISMATCH,
		    "Host names another port than the connection's");
		return -1;
	}
	return http_path(hc, url, ulen);
}

/*
 * The request target, normalised: its authority into hc->host/port and
 * its path.  Returns 0, or -1 after answering the client.
 */
static int
http_target(struct hconn *hc, int *literal, struct egd_addr *lit)
{
	char		*url = hc->req.buf + hc->req.urloff, *slash;
	const char	*host, *err, *auth;
	size_t		 ulen = hc->req.urllen, hlen, alen;
	char		 h2[EGD_HOST_MAX];
	uint16_t	 p2;
	struct egd_addr	 l2;
	int		 lit2;

	if (hhead_count(&hc->req, "host") > 1) {
		http_deny(hc, 400, AR_BAD_REQUEST, "more than one Host");
		return -1;
	}
	host = hhead_get(&hc->req, "host", &hlen);

	if (hc->wl->m.transparent)
		return http_target_transparent(hc, host, hlen, literal, lit);
	if (hc->parser.method == HTTP_CONNECT) {
		hc->scheme = "connect";
		if (authority_parse(url, ulen, 0, hc->host, sizeof(hc->host),
		    &hc->port, lit, literal, &err) == -1) {
			http_deny(hc, 400, AR_BAD_REQUEST, err);
			return -1;
		}
		hc->path = NULL;
		hc->pathlen = 0;
		return 0;
	}
	if (ulen > 0 && url[0] == '/') {
		/* origin-form: the authority is the Host header. */
		hc->scheme = hc->term != NULL ? "https" : "http";
		if (host == NULL) {
			http_deny(hc, 400, AR_BAD_REQUEST, "no Host header");
			return -1;
		}
		if (authority_parse(host, hlen, hc->term != NULL ? 443 : 80,
		    hc->host,
		    sizeof(hc->host), &hc->port, lit, literal, &err) == -1) {
			http_deny(hc, 400, AR_BAD_REQUEST, err);
			return -1;
		}
		return http_path(hc, url, ulen);
	}
	/* absolute-form: http://authority/path */
	if (ulen < 7 || strncasecmp(url, "http://", 7) != 0) {
		http_deny(hc, 400, AR_BAD_REQUEST,
		    "request-target must be /path, http://host/path or, "
		    "for CONNECT, host:port");
		return -1;
	}
	hc->scheme = "http";
	auth = url + 7;
	for (slash = url + 7; slash < url + ulen && *slash != '/' &&
	    *slash != '?'; slash++)
		;
	alen = (size_t)(slash - auth);
	if (authority_parse(auth, alen, 80, hc->host, sizeof(hc->host),
	    &hc->port, lit, literal, &err) == -1) {
		http_deny(hc, 400, AR_BAD_REQUEST, err);
		return -1;
	}
	if (slash == url + ulen) {
		hc->path = "/";
		hc->pathlen = 1;
	} else {
		hc->path = slash;
		hc->pathlen = ulen - (size_t)(slash - url);
		if (*slash == '?') {
			http_deny(hc, 400, AR_BAD_REQUEST, "no path");
			return -1;
		}
		if (http_path(hc, slash, hc->pathlen) == -1)
			return -1;
	}
	/* The Host header, if any, must name the same authority. */
	if (host != NULL) {
		if (authority_parse(host, hlen, 80, h2, sizeof(h2), &p2, &l2,
		    &lit2, &err) == -1 || strcmp(h2, hc->host) != 0 ||
		    p2 != hc->port) {
			http_deny(hc, 400, AR_HOST_MISMATCH,
			    "Host header does not match the request-target");
			return -1;
		}
	}
	return 0;
}

static void
http_decide(struct hconn *hc)
{
	struct egressd_conf	*conf = hc->wc->conf;
	struct policy_req	 q;
	struct egd_addr		 lit;
	const char		*te;
	size_t			 len;
	int			 literal = 0;

	evtimer_del(hc->timer);
	hc->state = HS_DECIDE;
	hc->id = worker_next_id();
	gettimeofday(&hc->t_start, NULL);
	hc->dns_ms = hc->connect_ms = hc->ttfb_ms = -1;
	hc->minor = hc->parser.http_minor;
	hc->keepalive = llhttp_should_keep_alive(&hc->parser);
	hc->head_method = hc->parser.method == HTTP_HEAD;
	hc->chunked_in = (hc->parser.flags & F_CHUNKED) != 0;
	hc->has_body = hc->chunked_in || ((hc->parser.flags &
	    F_CONTENT_LENGTH) && hc->parser.content_length > 0);
	hc->upgrade = hc->parser.upgrade;
	hc->expect = hhead_has_token(&hc->req, "expect", "100-continue");
	strlcpy(hc->method, llhttp_method_name(hc->parser.method),
	    sizeof(hc->method));
	hc->report = AR_NONE;
	hc->odst_match = TP_MATCH_UNKNOWN;

	if (hc->parser.http_major != 1) {
		http_deny(hc, 505, AR_BAD_REQUEST, "HTTP/1.x only");
		return;
	}
	/* Only "chunked" as a transfer coding of a request. */
	if ((te = hhead_get(&hc->req, "transfer-encoding", &len)) != NULL &&
	    (len != 7 || strncasecmp(te, "chunked", 7) != 0 ||
	    hhead_count(&hc->req, "transfer-encoding") > 1)) {
		http_deny(hc, 400, AR_BAD_REQUEST,
		    "unsupported Transfer-Encoding");
		return;
	}
	if (http_target(hc, &literal, &lit) == -1)
		return;
	if (via_loop(hc)) {
		http_deny(hc, 508, AR_LOOP, "the request came through this "
		    "gateway before");
		return;
	}
	if (hc->upgrade && hc->parser.method != HTTP_CONNECT &&
	    !hhead_has_token(&hc->req, "upgrade", "websocket")) {
		http_deny(hc, 400, AR_BAD_REQUEST, "only websocket upgrades");
		return;
	}
	/* Decided by the generation in force (worker_gen.c). */
	if (gen_rebind(hc) == -1) {
		hc->keepalive = 0;
		http_deny(hc, 503, AR_SHUTTING_DOWN, "listener removed");
		return;
	}
	conf = hc->wc->conf;
	if (worker_rate_limited(hc)) {
		http_deny(hc, 429, AR_RATE_LIMITED, "rate limit");
		return;
	}

	memset(&q, 0, sizeof(q));
	q.gateway = hc->wl->m.gateway;
	q.src = &hc->caddr;
	q.connect = hc->parser.method == HTTP_CONNECT;
	q.host = hc->host;
	q.port = hc->port;
	q.literal = literal;
	q.method = hc->method;
	q.path = hc->path;
	q.pathlen = hc->pathlen;
	q.header = http_header_cb;
	q.harg = hc;
	if (hc->term != NULL) {
		q.ids = hc->term->ids;
		q.nids = hc->term->nids;
	}
	if (policy_decide(conf, &q, &hc->dec, worker_random()) == -1) {
		http_deny(hc, hc->dec.reason == AR_BAD_REQUEST ? 400 : 403,
		    hc->dec.reason, hc->dec.text);
		return;
	}
	/*
	 * On a terminating listener the request names the server the
	 * client's TLS asked for, unless the service relaxes the check.
	 */
	if (hc->term != NULL && hc->term->sni[0] != '\0' &&
	    strcmp(hc->term->sni, hc->host) != 0 &&
	    !hc->dec.svc->sni_nocheck) {
		http_deny(hc, 421, AR_SNI_MISMATCH,
		    "the request names another host than the TLS server name");
		return;
	}
	hc->report = hc->dec.report;
	/*
	 * TLS originated where the destination's rule says so, or the
	 * service port is https (policy_service() refused tls and tcp).
	 */
	hc->tls = NULL;
	hc->tls_version = NULL;
	hc->tls_ms = -1;
	hc->tls_verify[0] = '\0';
	if (!q.connect && orig_select(conf, hc->dec.host, hc->dec.port,
	    hc->dec.sport->proto, &hc->tls, &te) == -1) {
		http_deny(hc, 502, AR_TLS_HANDSHAKE, te);
		return;
	}
	if (hc->upgrade && !q.connect && !hc->dec.websocket) {
		http_deny(hc, 403, AR_WEBSOCKET_DENIED,
		    "no route allows websocket here");
		return;
	}
	if (q.connect && worker_tunnel_limited(hc)) {
		http_deny(hc, 503, AR_TUNNEL_LIMIT, "too many tunnels");
		return;
	}
	if (!q.connect && hc->dec.match != NULL &&
	    hc->dec.match->rewrite_path &&
	    hc->dec.match->pathtype == PATH_PREFIX &&
	    http_rewrite(hc, hc->dec.match) == -1)
		return;
	http_route(hc);
}

/*
 * Where an allowed request or tunnel may go: static endpoints, a
 * literal, or DNS; then the guard and the relay (http_resolved).
 */
void
http_route(struct hconn *hc)
{
	const struct svc_endpoint	*ep;
	int				 i;

	hc->naddrs = 0;
	if (hc->dec.svc->resolution == RES_STATIC) {
		/* Each endpoint on its own port, or the destination's. */
		for (i = 0; i < hc->dec.svc->nendpoints &&
		    i < EGD_DNS_MAXADDR; i++) {
			ep = &hc->dec.svc->endpoints[i];
			hc->addrs[hc->naddrs] = ep->a;
			hc->ports[hc->naddrs++] = ep->port != 0 ? ep->port :
			    hc->dec.port;
		}
		http_resolved(hc);
	} else if (hc->dec.literal) {
		if (egd_addr_parse(hc->dec.host, &hc->addrs[0]) == 0) {
			hc->ports[0] = hc->dec.port;
			hc->naddrs = 1;
		}
		http_resolved(hc);
	} else {
		gettimeofday(&hc->t_dns, NULL);
		hc->dnsid = wdns_resolve(hc->dec.host, http_dns_cb, hc);
	}
}

static int
ms_since(const struct timeval *t)
{
	struct timeval	now, d;

	gettimeofday(&now, NULL);
	timersub(&now, t, &d);
	return (int)(d.tv_sec * 1000 + d.tv_usec / 1000);
}

void
http_dns_cb(void *arg, int status, const struct egd_addr *addrs, int n,
    uint32_t ttl, int cached)
{
	struct hconn	*hc = arg;
	int		 i;

	hc->dnsid = 0;
	hc->dns_ms = ms_since(&hc->t_dns);
	hc->dns_cached = cached;
	if (status == DNS_TIMEOUT) {
		http_deny(hc, 504, AR_DNS_TIMEOUT, NULL);
		return;
	}
	if (status != DNS_OK || n == 0) {
		http_deny(hc, 503, AR_DNS_FAILED, NULL);
		return;
	}
	for (i = 0; i < n && i < EGD_DNS_MAXADDR; i++) {
		hc->addrs[i] = addrs[i];
		hc->ports[i] = hc->dec.port;
	}
	hc->naddrs = i;
	http_resolved(hc);
}

/*
 * The dial guard (guard.c) over the destination's addresses: what is
 * left here is exactly what the relay dials, so an answer that changes
 * later cannot reach the inside.  A loop is refused in report mode too.
 * Returns AR_NONE, or why no address is left.
 */
static int
http_guard(struct hconn *hc)
{
	const struct egressd_conf	*conf = hc->wc->conf;
	int				 why[EGD_DNS_MAXADDR];
	int				 i, k = 0, loop = 0, dial_private;

	for (i = 0; i < hc->naddrs && i < EGD_DNS_MAXADDR; i++) {
		why[i] = guard_dial(conf, hc->dec.svc, &hc->addrs[i],
		    hc->ports[i]);
		if (why[i] == AR_NONE)
			k++;
		else if (why[i] == AR_LOOP)
			loop = 1;
	}
	/*
	 * Report mode: when no address is allowed, the private ones are
	 * dialed anyway, and the record says what enforcing would do.
	 */
	dial_private = k == 0 && hc->dec.svc->action == ACT_REPORT;
	for (i = 0, k = 0; i < hc->naddrs && i < EGD_DNS_MAXADDR; i++)
		if (why[i] == AR_NONE || (dial_private && why[i] != AR_LOOP)) {
			hc->ports[k] = hc->ports[i];
			hc->addrs[k++] = hc->addrs[i];
		}
	if (k == 0)
		return loop ? AR_LOOP : AR_PRIVATE_ADDRESS;
	if (dial_private && hc->report == AR_NONE)
		hc->report = AR_PRIVATE_ADDRESS;
	hc->naddrs = k;
	return AR_NONE;
}

/*
 * An IPv4-mapped IPv6 address is that IPv4 address (the kernel connects
 * to it as such): judge and dial it in that form.
 */
static void
addr_unmap(struct egd_addr *a)
{
	static const uint8_t	 mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	    0xff, 0xff };

	if (a->af == AF_INET6 && memcmp(a->addr, mapped, 12) == 0) {
		memmove(a->addr, a->addr + 12, 4);
		memset(a->addr + 4, 0, 12);
		a->af = AF_INET;
	}
}

void
http_resolved(struct hconn *hc)
{
	uint32_t	*rr;
	int		 i, why;

	for (i = 0; i < hc->naddrs; i++)
		addr_unmap(&hc->addrs[i]);
	tp_resolved(hc);	/* recorded; the dial stays on hc->addrs */
	if (hc->naddrs == 0) {
		http_deny(hc, 503, AR_DNS_FAILED, "no address");
		return;
	}
	if ((why = http_guard(hc)) != AR_NONE) {
		if (why == AR_LOOP)
			http_deny(hc, 508, AR_LOOP, "the destination is this "
			    "gateway");
		else
			http_deny(hc, 403, why, NULL);
		return;
	}
	/* Round robin over the service's addresses. */
	hc->addri = 0;
	if (hc->dec.svc->id < hc->wc->nrr) {
		rr = &hc->wc->rr[hc->dec.svc->id];
		hc->addri = (int)(*rr % (uint32_t)hc->naddrs);
		(*rr)++;
	}
	hc->tries = 0;
	relay_connect(hc);
}

/* ---- answering --------------------------------------------------------- */

static const char *
status_text(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 408: return "Request Timeout";
	case 414: return "URI Too Long";
	case 421: return "Misdirected Request";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	case 508: return "Loop Detected";
	default: return "Error";
	}
}

/*
 * Refuse the request in progress with status and a one-line reason; the
 * same reason goes to the audit record.  A request whose body we did not
 * read ends the connection.
 */
static void
http_deny(struct hconn *hc, int status, int reason, const char *text)
{
	struct evbuffer	*out = bufferevent_get_output(hc->bev);
	char		 body[256];
	size_t		 before;
	int		 blen, close_after, minor;

	if (hc->wl->m.proto == PROTO_TLS) {
		/* Not ours to answer: the client speaks TLS to the origin. */
		http_drop(hc, reason);
		return;
	}
	if (hc->resp_started) {
		/* Too late for a status: the client sees the cut. */
		http_audit(hc, reason, 0);
		http_close(hc, 0);
		return;
	}
	if (hc->dnsid != 0) {
		wdns_cancel(hc->dnsid);
		hc->dnsid = 0;
	}
	if (hc->up != NULL)
		relay_release(hc, 0);
	blen = snprintf(body, sizeof(body), "egressd: %s%s%s\n",
	    audit_reason_name(reason), text ? ": " : "", text ? text : "");
	if (blen < 0 || (size_t)blen >= sizeof(body))
		blen = (int)sizeof(body) - 1;
	/*
	 * A request without a body is whole with its head: the parser
	 * ends it here, and the connection may carry the next one.
	 */
	if (hc->state == HS_DECIDE && !hc->req_done && !hc->has_body &&
	    !hc->upgrade && !hc->paused && llhttp_execute(&hc->parser, "",
	    0) == HPE_PAUSED && hc->paused == HCB_DONE) {
		hc->paused = 0;
		llhttp_resume(&hc->parser);
		hc->req_done = 1;
	}
	close_after = hc->state == HS_HEAD || !hc->req_done ||
	    !hc->keepalive || hc->upgrade;
	/* In the client's HTTP/1.x, once its request line told it. */
	minor = hc->state != HS_HEAD ? hc->minor :
	    hc->parser.http_major == 1 ? hc->parser.http_minor : 1;
	before = evbuffer_get_length(out);
	evbuffer_add_printf(out, "HTTP/1.%d %d %s\r\n"
	    "Content-Type: text/plain\r\nContent-Length: %d\r\n%s",
	    minor == 0 ? 0 : 1, status, status_text(status), blen,
	    close_after ? "Connection: close\r\n" : minor == 0 ?
	    "Connection: keep-alive\r\n" : "");
	via_add(hc, out);
	evbuffer_add(out, "\r\n", 2);
	if (!hc->head_method)
		evbuffer_add(out, body, (size_t)blen);
	hc->status = status;
	hc->bytes_out += evbuffer_get_length(out) - before;
	if (hc->state != HS_HEAD || reason == AR_BAD_REQUEST ||
	    reason == AR_HEADER_TOO_LARGE || reason == AR_URI_TOO_LONG ||
	    reason == AR_REQUEST_TIMEOUT)
		http_audit(hc, reason, 1);
	if (close_after) {
		hc->state = HS_CLOSING;
		bufferevent_disable(hc->bev, EV_READ);
		return;
	}
	http_request_end(hc);
}

/*
 * Refuse with no answer but the close: a tls listener's client, or a
 * tunnel already established.  The record says why.
 */
void
http_drop(struct hconn *hc, int reason)
{
	if (hc->dnsid != 0) {
		wdns_cancel(hc->dnsid);
		hc->dnsid = 0;
	}
	if (!hc->audited)
		http_audit(hc, reason, 1);
	http_close(hc, 0);
}

/* The record of the request in progress. */
static void
http_audit(struct hconn *hc, int reason, int denied)
{
	struct audit_rec	 r;

	if (hc->revoked != 0) {		/* a reload refused the tunnel */
		denied = 1;
		reason = AR_REVOKED;
	}
	memset(&r, 0, sizeof(r));
	if (hc->id == 0)
		hc->id = worker_next_id();
	r.event = denied ? AEV_DENY : hc->scheme != NULL &&
	    (strcmp(hc->scheme, "connect") == 0 ||
	    strcmp(hc->scheme, "tls") == 0) ? AEV_TUNNEL : AEV_REQUEST;
	r.decision = denied ? ADEC_DENY :
	    hc->report != AR_NONE ? ADEC_REPORT : ADEC_ALLOW;
	r.reason = denied ? reason : (reason != AR_NONE ? reason :
	    hc->report != AR_NONE ? AR_REPORT_ONLY : AR_NONE);
	r.would = hc->report;
	r.id = hc->id;
	r.worker = worker_instance;
	r.client = &hc->caddr;
	r.client_port = hc->cport;
	if (hc->term != NULL) {
		if (hc->term->nids > 0)
			r.identity = hc->term->ids;
		r.client_tls = hc->term->done ? hc->term->version : NULL;
		r.client_tls_error = hc->term->why[0] ? hc->term->why : NULL;
	}
	r.gateway = hc->wl->gw != NULL ? hc->wl->gw->name : NULL;
	r.method = hc->method[0] ? hc->method : NULL;
	r.scheme = hc->scheme;
	r.authority = hc->host[0] ? hc->host : NULL;
	r.port = hc->port;
	if (hc->odst_ok) {
		r.original_dst = &hc->odst;
		r.original_dst_port = hc->odport;
		r.original_dst_resolved = hc->odst_match == TP_MATCH_YES ?
		    "yes" : hc->odst_match == TP_MATCH_NO ? "no" : NULL;
	}
	r.path = hc->path;
	r.pathlen = hc->pathlen;
	r.path_raw = hc->path_raw;
	r.path_rawlen = hc->path_rawlen;
	r.service = hc->dec.svc != NULL ? hc->dec.svc->name : NULL;
	r.route = hc->dec.route != NULL ? hc->dec.route->name : NULL;
	if (hc->up != NULL && hc->up->connected) {
		r.upstream = &hc->up->addr;
		r.upstream_port = hc->up->port;
	}
	r.status = hc->status;
	r.bytes_in = hc->bytes_in;
	r.bytes_out = hc->bytes_out;
	r.dns_ms = hc->dns_ms;
	r.dns_cached = hc->dns_cached;
	r.connect_ms = hc->connect_ms;
	r.ttfb_ms = hc->ttfb_ms;
	if (hc->tls != NULL) {
		r.tls = "originated";
		r.tls_version = hc->tls_version;
		r.tls_verify = hc->tls_verify;
		r.tls_resumed = hc->tls_resumed;
		r.tls_ms = hc->tls_ms;
	}
	r.total_ms = ms_since(&hc->t_start);
	r.generation = hc->revoked;
	r.revoked_by = hc->revoked_by;
	audit_emit(&r);
	status_count(&r);
	hc->audited = 1;
}

/*
 * The request and its response are both done: record it, keep the
 * upstream for another request if it may be, and read the next request.
 */
static void
http_request_end(struct hconn *hc)
{
	if (!hc->audited)
		http_audit(hc, AR_NONE, 0);
	if (hc->up != NULL)
		relay_release(hc, hc->up->keepalive && hc->req_done);
	if (!hc->keepalive || hc->resp_close) {
		hc->state = HS_CLOSING;
		bufferevent_disable(hc->bev, EV_READ);
		if (evbuffer_get_length(bufferevent_get_output(hc->bev)) == 0)
			http_close(hc, 0);
		return;
	}
	if (gen_rebind(hc) == -1) {	/* a reload took its listener */
		http_close(hc, 0);
		return;
	}
	/* Ready for the next one, which may already be buffered. */
	hc->state = HS_HEAD;
	hc->begun = 0;
	hc->id = 0;
	hc->audited = 0;
	hc->req_done = hc->resp_done = hc->resp_started = 0;
	hc->resp_chunked = hc->resp_close = 0;
	hc->status = 0;
	hc->bytes_in = hc->bytes_out = 0;
	hc->dns_ms = hc->connect_ms = hc->ttfb_ms = -1;
	hc->port = 0;
	hc->host[0] = '\0';
	hc->method[0] = '\0';
	hc->scheme = NULL;
	hc->report = AR_NONE;
	hc->tls = NULL;		/* a malformed next one has none */
	hc->tls_version = NULL;
	hc->tls_ms = -1;
	hc->tls_verify[0] = '\0';
	hc->path = NULL;
	hc->pathlen = 0;
	http_paths_free(hc);
	memset(&hc->dec, 0, sizeof(hc->dec));
	/* Nothing more waiting: an idle connection keeps no arena. */
	if (evbuffer_get_length(bufferevent_get_input(hc->bev)) == 0)
		hhead_free(&hc->req);
	else
		hhead_reset(&hc->req);
	bufferevent_enable(hc->bev, EV_READ);
	http_feed(hc);
}

/* ---- upstream events, from the relay ---------------------------------- */

/* Connected: send the request head; the body follows as it is parsed. */
void
http_upstream_connected(struct hconn *hc)
{
	struct evbuffer		*out;

	hc->connect_ms = ms_since(&hc->t_conn);
	if (hc->wl->m.proto == PROTO_TLS) {
		/* The hello waits in the input: the tunnel sends it first. */
		hc->state = HS_TUNNEL;
		tls_watch_start(hc);	/* and reads any later one */
		relay_tunnel(hc);
		return;
	}
	if (hc->parser.method == HTTP_CONNECT) {
		out = bufferevent_get_output(hc->bev);
		evbuffer_add(out, "HTTP/1.1 200 Connection established\r\n",
		    37);
		via_add(hc, out);
		evbuffer_add(out, "\r\n", 2);
		hc->status = 200;
		hc->state = HS_TUNNEL;
		if (tls_tunnel_wants_check(hc)) {
			/* Nothing goes up before the hello is checked. */
			hc->sni_pending = 1;
			tls_watch_start(hc);
			http_arm_timer(hc, hc->wc->conf->request_timeout);
			if (tls_tunnel_check(hc, 0) != 0)
				return;
		}
		relay_tunnel(hc);
		return;
	}
	/*
	 * The head is made whole first and handed over at once: a TLS
	 * bufferevent would send each piece added to it as a record.
	 */
	if ((out = evbuffer_new()) == NULL) {
		http_upstream_failed(hc, 502, AR_UPSTREAM_RESET);
		return;
	}
	evbuffer_add_printf(out, "%s ", hc->method);
	if (hc->path_up != NULL)
		evbuffer_add(out, hc->path_up, hc->path_uplen);
	else
		evbuffer_add(out, hc->path, hc->pathlen);
	evbuffer_add(out, " HTTP/1.1\r\nHost: ", 17);
	evbuffer_add(out, hc->dec.authority, strlen(hc->dec.authority));
	if (hc->dec.port != (hc->tls != NULL ? 443 : 80))
		evbuffer_add_printf(out, ":%u", hc->dec.port);
	evbuffer_add(out, "\r\n", 2);
	hhead_copy_fields(&hc->req, out);
	if (hc->chunked_in)
		evbuffer_add(out, "Transfer-Encoding: chunked\r\n", 28);
	else if (hc->parser.flags & F_CONTENT_LENGTH)
		evbuffer_add_printf(out, "Content-Length: %llu\r\n",
		    (unsigned long long)hc->parser.content_length);
	if (hc->upgrade)
		evbuffer_add(out, "Connection: Upgrade\r\nUpgrade: websocket\r\n",
		    41);
	via_add(hc, out);
	evbuffer_add(out, "\r\n", 2);
	evbuffer_add_buffer(bufferevent_get_output(hc->up->bev), out);
	evbuffer_free(out);
	hc->state = HS_FORWARD;
	gettimeofday(&hc->t_first, NULL);
	/* The request head is whole; the rest of it is the body. */
	if (hc->upgrade) {
		hc->req_done = 1;
		return;
	}
	http_feed(hc);
}

/* No upstream could be reached: how says why, status what to answer. */
void
http_upstream_failed(struct hconn *hc, int status, int how)
{
	http_deny(hc, status, how, NULL);
}

/* The same, with the reason's details for the client (TLS errors). */
void
http_upstream_refused(struct hconn *hc, int status, int how,
    const char *text)
{
	http_deny(hc, status, how, text);
}

static void	 http_response_head_write(struct hconn *, struct upstream *,
		    struct evbuffer *, struct hhead *, int);

/*
 * Whether an origin's 101 may turn the client connection into a tunnel to
 * it: only as the answer to an HTTP/1.1 GET that asked for websocket on a
 * route that allows it, naming websocket and nothing else.  Any other 101
 * would hand this origin, unchecked, whatever the client sends next.
 */
int
http_switch_valid(const struct hconn *hc, const struct hhead *resp)
{
	const char	*v;
	size_t		 len;

	if (!hc->upgrade || hc->parser.method != HTTP_GET || hc->minor < 1 ||
	    !hc->dec.websocket)
		return 0;
	if (hhead_count(resp, "upgrade") != 1 ||
	    (v = hhead_get(resp, "upgrade", &len)) == NULL)
		return 0;
	while (len > 0 && (v[len - 1] == ' ' || v[len - 1] == '\t'))
		len--;
	while (len > 0 && (*v == ' ' || *v == '\t')) {
		v++;
		len--;
	}
	return len == 9 && strncasecmp(v, "websocket", 9) == 0;
}

/* The response head is parsed: write ours to the client. */
void
http_response_head(struct hconn *hc)
{
	struct upstream	*up = hc->up;
	struct evbuffer	*out = bufferevent_get_output(hc->bev);
	struct hhead	*h = &up->resp;
	int		 cl = (up->parser.flags & F_CONTENT_LENGTH) != 0;
	size_t		 before = evbuffer_get_length(out);

	http_response_head_write(hc, up, out, h, cl);
	hc->bytes_out += evbuffer_get_length(out) - before;
}

static void
http_response_head_write(struct hconn *hc, struct upstream *up,
    struct evbuffer *out, struct hhead *h, int cl)
{
	if (hc->ttfb_ms < 0)
		hc->ttfb_ms = ms_since(&hc->t_first);
	if (up->status >= 100 && up->status < 200 && up->status != 101) {
		/*
		 * Interim: 100 Continue and 103 Early Hints (with its
		 * fields) go to HTTP/1.1 clients; other 1xx codes mean
		 * nothing to a client of ours, and an HTTP/1.0 client gets
		 * none at all (RFC 9110 15.2).
		 */
		if ((up->status != 100 && up->status != 103) || hc->minor < 1)
			return;
		evbuffer_add_printf(out, "HTTP/1.1 %d %.*s\r\n",
		    up->status, (int)h->urllen, h->buf + h->urloff);
		if (up->status == 103)
			hhead_copy_fields(h, out);
		evbuffer_add(out, "\r\n", 2);
		return;
	}
	hc->status = up->status;
	hc->resp_started = 1;
	evbuffer_add_printf(out, "HTTP/1.%d %d ", hc->minor == 0 ? 0 : 1,
	    up->status);
	evbuffer_add(out, h->buf + h->urloff, h->urllen);
	evbuffer_add(out, "\r\n", 2);
	hhead_copy_fields(h, out);
	if (up->status == 101) {
		evbuffer_add(out,
		    "Connection: Upgrade\r\nUpgrade: websocket\r\n", 41);
		via_add(hc, out);
		evbuffer_add(out, "\r\n", 2);
		return;
	}
	if (up->nobody) {
		if (cl)
			evbuffer_add_printf(out, "Content-Length: %llu\r\n",
			    (unsigned long long)up->parser.content_length);
	} else if (cl)
		evbuffer_add_printf(out, "Content-Length: %llu\r\n",
		    (unsigned long long)up->parser.content_length);
	else if (hc->minor >= 1) {
		hc->resp_chunked = 1;
		evbuffer_add(out, "Transfer-Encoding: chunked\r\n", 28);
	} else
		hc->resp_close = 1;	/* HTTP/1.0: the end is the close */
	if (hc->minor == 0 && hc->keepalive && !hc->resp_close)
		evbuffer_add(out, "Connection: keep-alive\r\n", 24);
	else if (!hc->keepalive || hc->resp_close)
		evbuffer_add(out, "Connection: close\r\n", 19);
	via_add(hc, out);
	evbuffer_add(out, "\r\n", 2);
}

void
http_response_body(struct hconn *hc, const char *at, size_t len)
{
	struct evbuffer	*out = bufferevent_get_output(hc->bev);
	char		 sz[24];

	if (hc->resp_chunked) {
		snprintf(sz, sizeof(sz), "%zx\r\n", len);
		evbuffer_add(out, sz, strlen(sz));
		evbuffer_add(out, at, len);
		evbuffer_add(out, "\r\n", 2);
		hc->bytes_out += strlen(sz) + 2;
	} else
		evbuffer_add(out, at, len);
	hc->bytes_out += len;
	/* Back-pressure: the client's write callback reads on. */
	if (evbuffer_get_length(out) > HIGH_WATER && hc->up != NULL)
		bufferevent_disable(hc->up->bev, EV_READ);
}

void
http_response_done(struct hconn *hc)
{
	struct evbuffer	*out = bufferevent_get_output(hc->bev);

	if (hc->resp_chunked) {
		evbuffer_add(out, "0\r\n\r\n", 5);
		hc->bytes_out += 5;
	}
	hc->resp_done = 1;
	if (hc->up != NULL && hc->up->status == 101) {
		hc->state = HS_TUNNEL;
		relay_tunnel(hc);
		return;
	}
	if (!hc->req_done) {
		/* The origin answered before the body ended: stop there. */
		hc->keepalive = 0;
		if (hc->up != NULL)
			hc->up->keepalive = 0;
	}
	if (hc->req_done || !hc->keepalive)
		http_request_end(hc);
}

/* f on every client connection; f may close the one it is given. */
void
http_foreach(void (*f)(struct hconn *, void *), void *arg)
{
	struct hconn	*hc, *next;

	for (hc = TAILQ_FIRST(&hconns); hc != NULL; hc = next) {
		next = TAILQ_NEXT(hc, entry);
		f(hc, arg);
	}
}

/*
 * The drain time is over: every connection still open is cut, the
 * request or tunnel in flight recorded as ended that way.
 */
void
http_cut(int reason)
{
	struct hconn	*hc, *next;

	for (hc = TAILQ_FIRST(&hconns); hc != NULL; hc = next) {
		next = TAILQ_NEXT(hc, entry);
		http_close(hc, reason);
	}
}

/* Stop accepting requests on every connection: shutting down. */
void
http_shutdown(void)
{
	struct hconn	*hc, *next;

	for (hc = TAILQ_FIRST(&hconns); hc != NULL; hc = next) {
		next = TAILQ_NEXT(hc, entry);
		hc->keepalive = 0;
		if (hc->state == HS_HEAD && hc->req.len == 0 &&
		    evbuffer_get_length(bufferevent_get_input(hc->bev)) == 0)
			http_close(hc, 0);
	}
}
