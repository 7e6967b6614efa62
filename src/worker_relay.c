/*
 * Upstreams, run in the workers: connecting to the addresses a request
 * was allowed to reach (each in turn, with a timeout), the idle pool of
 * keep-alive connections, parsing responses with llhttp (strict), and
 * tunnels (CONNECT, websocket) that move bytes both ways.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "worker.h"

#define HIGH_WATER	(256 * 1024)
#define LOW_WATER	(64 * 1024)
#define MAX_SINGLE_IO	(256 * 1024)	/* libevent reads 16 KiB by default */
#define POOL_BUCKETS	256
#define RESP_HEAD_FIELDS 128

static llhttp_settings_t	 resp_settings;
static TAILQ_HEAD(upq, upstream) pool[POOL_BUCKETS];
static int			 pool_count;

static void	 up_read_cb(struct bufferevent *, void *);
static void	 up_write_cb(struct bufferevent *, void *);
static void	 up_event_cb(struct bufferevent *, short, void *);
static void	 up_free(struct upstream *);
static void	 up_feed(struct upstream *);
static void	 up_connect_failed(struct upstream *, int);
static void	 up_tls_info(struct upstream *, struct hconn *);
static void	 xio_fill_more(struct evbuffer *, int);

/* ---- the response parser ---------------------------------------------- */

static int
resp_on_begin(llhttp_t *p)
{
	struct upstream	*up = p->data;

	hhead_reset(&up->resp);
	return 0;
}

static int
resp_on_status(llhttp_t *p, const char *at, size_t len)
{
	struct upstream	*up = p->data;

	return hhead_add(&up->resp, 0, at, len) == 0 ? 0 : HPE_USER;
}

static int
resp_on_field(llhttp_t *p, const char *at, size_t len)
{
	struct upstream	*up = p->data;

	return hhead_add(&up->resp, 1, at, len) == 0 ? 0 : HPE_USER;
}

static int
resp_on_value(llhttp_t *p, const char *at, size_t len)
{
	struct upstream	*up = p->data;

	return hhead_on_value(&up->resp, p, at, len);
}

static int
resp_on_value_complete(llhttp_t *p)
{
	struct upstream	*up = p->data;

	return hhead_on_value_complete(&up->resp);
}

static int
resp_on_headers(llhttp_t *p)
{
	struct upstream	*up = p->data;
	struct hconn	*hc = up->hc;

	up->status = p->status_code;
	/* RFC 9110 15: three digits, 100 to 599; llhttp takes fewer. */
	if (up->status < 100 || up->status > 599) {
		log_debug("upstream response: status %d", up->status);
		return HPE_USER;
	}
	if (up->status == 101 && !http_switch_valid(hc, &up->resp)) {
		/* Never a tunnel nobody asked for: a bad response. */
		log_debug("upstream response: 101 not asked for");
		return HPE_USER;
	}
	up->nobody = hc->head_method || up->status == 204 ||
	    up->status == 304 || (up->status >= 100 && up->status < 200);
	up->upgrade = up->status == 101 && hc->upgrade;
	up->keepalive = llhttp_should_keep_alive(p);
	http_response_head(hc);
	if (up->upgrade)
		return 2;	/* no body; the rest is the tunnel */
	if (up->nobody)
		return 1;
	/*
	 * A body of known length is moved buffer to buffer by up_feed(),
	 * without the parser and without copying; the parser is made new
	 * for the next response.
	 */
	if ((p->flags & F_CONTENT_LENGTH) && !(p->flags & F_CHUNKED) &&
	    p->content_length > 0) {
		up->body_left = p->content_length;
		return HPE_PAUSED;
	}
	return 0;
}

static int
resp_on_body(llhttp_t *p, const char *at, size_t len)
{
	struct upstream	*up = p->data;

	http_response_body(up->hc, at, len);
	return 0;
}

static int
resp_on_done(llhttp_t *p)
{
	struct upstream	*up = p->data;

	/* An interim answer is followed by the real one. */
	if (up->status >= 100 && up->status < 200 && up->status != 101)
		return 0;
	up->keepalive = up->keepalive && llhttp_should_keep_alive(p);
	up->done = 1;
	return HPE_PAUSED;
}

void
relay_init(void)
{
	int	i;

	for (i = 0; i < POOL_BUCKETS; i++)
		TAILQ_INIT(&pool[i]);
	llhttp_settings_init(&resp_settings);
	resp_settings.on_message_begin = resp_on_begin;
	resp_settings.on_status = resp_on_status;
	resp_settings.on_header_field = resp_on_field;
	resp_settings.on_header_value = resp_on_value;
	resp_settings.on_header_value_complete = resp_on_value_complete;
	resp_settings.on_headers_complete = resp_on_headers;
	resp_settings.on_body = resp_on_body;
	resp_settings.on_message_complete = resp_on_done;
}

/* ---- the pool ---------------------------------------------------------- */

static unsigned int
pool_hash(const struct egd_addr *a, uint16_t port)
{
	unsigned int	h = port;
	int		i, n = a->af == AF_INET ? 4 : 16;

	for (i = 0; i < n; i++)
		h = h * 31 + a->addr[i];
	return h % POOL_BUCKETS;
}

/* The SNI a request's TLS connection sends ("": none). */
static const char *
req_sni(const struct hconn *hc)
{
	return orig_sni(hc->tls, hc->dec.host);
}

/*
 * A pooled connection serves a request of the same kind only: plain for
 * plain; TLS made with the same context, SNI and verified name.
 */
static int
pool_fits(const struct upstream *up, const struct hconn *hc)
{
	if ((up->ssl != NULL) != (hc->tls != NULL))
		return 0;
	if (up->ssl == NULL)
		return 1;
	return orig_same_ctx(up->ssl, hc->tls) &&
	    strcmp(up->sni, req_sni(hc)) == 0 &&
	    strcmp(up->vhost, hc->dec.host) == 0;
}

static struct upstream *
pool_take(const struct egd_addr *a, uint16_t port, const struct hconn *hc)
{
	struct upstream	*up;
	struct upq	*q = &pool[pool_hash(a, port)];

	TAILQ_FOREACH(up, q, entry)
		if (up->port == port && egd_addr_equal(&up->addr, a) &&
		    pool_fits(up, hc)) {
			TAILQ_REMOVE(q, up, entry);
			pool_count--;
			status_pool_idle(pool_count);
			return up;
		}
	return NULL;
}

static int
pool_count_key(const struct egd_addr *a, uint16_t port)
{
	struct upstream	*up;
	int		 n = 0;

	TAILQ_FOREACH(up, &pool[pool_hash(a, port)], entry)
		if (up->port == port && egd_addr_equal(&up->addr, a))
			n++;
	return n;
}

static void
pool_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct upstream	*up = arg;

	TAILQ_REMOVE(&pool[pool_hash(&up->addr, up->port)], up, entry);
	pool_count--;
	status_pool_idle(pool_count);
	up_free(up);
}

/*
 * An idle upstream that speaks unasked is broken: drop it.  A TLS one's
 * callbacks are deferred, and one queued before it came here may find
 * nothing to read: that is no reason.
 */
static void
pool_read_cb(struct bufferevent *bev, void *arg)
{
	if (evbuffer_get_length(bufferevent_get_input(bev)) == 0)
		return;
	pool_event_cb(bev, BEV_EVENT_ERROR, arg);
}

static void
pool_put(struct upstream *up, const struct egressd_conf *conf)
{
	struct timeval	tv = { conf->pool_timeout, 0 };

	if (conf->pool_idle == 0 ||
	    pool_count_key(&up->addr, up->port) >= conf->pool_idle ||
	    evbuffer_get_length(bufferevent_get_input(up->bev)) > 0) {
		up_free(up);
		return;
	}
	up->hc = NULL;
	up->tls = NULL;		/* its generation may go before it does */
	up->reused = 1;
	bufferevent_setcb(up->bev, pool_read_cb, NULL, pool_event_cb, up);
	bufferevent_set_timeouts(up->bev, &tv, NULL);
	bufferevent_enable(up->bev, EV_READ);
	TAILQ_INSERT_HEAD(&pool[pool_hash(&up->addr, up->port)], up, entry);
	pool_count++;
	status_pool_idle(pool_count);
}

void
relay_pool_flush(void)
{
	struct upstream	*up;
	int		 i;

	for (i = 0; i < POOL_BUCKETS; i++)
		while ((up = TAILQ_FIRST(&pool[i])) != NULL) {
			TAILQ_REMOVE(&pool[i], up, entry);
			pool_count--;
			up_free(up);
		}
	status_pool_idle(pool_count);
}

/* ---- connecting -------------------------------------------------------- */

static void
up_free(struct upstream *up)
{
	if (up->ssl != NULL && up->connected)
		orig_done(up->ssl);
	xw_free(up->xw);
	if (up->bev != NULL)
		bufferevent_free(up->bev);
	hhead_free(&up->resp);
	free(up);
}

static void
up_attach(struct hconn *hc, struct upstream *up)
{
	struct timeval	tv;

	hc->up = up;
	up->hc = hc;
	/* A tunnel parses no response: no head arena for it. */
	if (hc->parser.method != HTTP_CONNECT && up->resp.buf == NULL &&
	    hhead_alloc(&up->resp, (uint32_t)hc->wc->conf->max_header_size,
	    RESP_HEAD_FIELDS) == -1)
		fatal("response head");
	up->done = 0;
	up->status = 0;
	up->gotbytes = 0;
	up->body_left = 0;
	llhttp_init(&up->parser, HTTP_RESPONSE, &resp_settings);
	up->parser.data = up;
	hhead_reset(&up->resp);
	bufferevent_setcb(up->bev, up_read_cb, up_write_cb, up_event_cb, up);
	bufferevent_setwatermark(up->bev, EV_WRITE, LOW_WATER, 0);
	bufferevent_set_max_single_read(up->bev, MAX_SINGLE_IO);
	bufferevent_set_max_single_write(up->bev, MAX_SINGLE_IO);
	/* Waiting for the response: the route's timeout, or idle. */
	tv.tv_sec = hc->dec.timeout ? hc->dec.timeout :
	    hc->wc->conf->idle_timeout;
	tv.tv_usec = 0;
	bufferevent_set_timeouts(up->bev, &tv, NULL);
	if (up->ssl != NULL)
		bufferevent_enable(up->bev, EV_READ | EV_WRITE);
	else {
		bufferevent_enable(up->bev, EV_READ);
		if (up->xw == NULL && (up->xw = xw_new(up->bev)) == NULL)
			bufferevent_enable(up->bev, EV_WRITE);
	}
}

static int
method_idempotent(const struct hconn *hc)
{
	static const char *const m[] = { "GET", "HEAD", "OPTIONS", "PUT",
	    "DELETE", "TRACE" };
	size_t	i;

	for (i = 0; i < nitems(m); i++)
		if (strcmp(hc->method, m[i]) == 0)
			return 1;
	return 0;
}

void
relay_connect(struct hconn *hc)
{
	struct sockaddr_storage	 ss;
	struct upstream		*up;
	struct timeval		 tv;
	const struct egd_addr	*a = &hc->addrs[hc->addri % hc->naddrs];
	uint16_t		 port = hc->ports[hc->addri % hc->naddrs];
	socklen_t		 len;
	int			 why;

	gettimeofday(&hc->t_conn, NULL);
	/*
	 * Every dial, retries included, asks the guard (guard.c): never a
	 * listener of ours; private addresses only as the service allows,
	 * or in report mode, where http_guard() kept them on purpose.
	 */
	if ((why = guard_dial(hc->wc->conf, hc->dec.svc, a, port)) !=
	    AR_NONE && (why == AR_LOOP || hc->dec.svc->action != ACT_REPORT)) {
		http_upstream_failed(hc, why == AR_LOOP ? 508 : 403, why);
		return;
	}
	/* A tunnel gets its own connection; requests take a pooled one. */
	if (hc->parser.method != HTTP_CONNECT && !hc->upgrade &&
	    !hc->nopool && (up = pool_take(a, port, hc)) != NULL) {
		up->tls = hc->tls;
		up->tls_ms = -1;
		up_attach(hc, up);
		up_tls_info(up, hc);
		http_upstream_connected(hc);
		return;
	}
	if ((up = calloc(1, sizeof(*up))) == NULL) {
		http_upstream_failed(hc, 503, AR_UPSTREAM_REFUSED);
		return;
	}
	up->addr = *a;
	up->port = port;
	up->tls_ms = -1;
	if ((up->tls = hc->tls) != NULL) {
		strlcpy(up->sni, req_sni(hc), sizeof(up->sni));
		strlcpy(up->vhost, hc->dec.host, sizeof(up->vhost));
	}
	len = egd_addr_to_sa(a, up->port, &ss);
	if ((up->bev = bufferevent_socket_new(worker_base, -1,
	    BEV_OPT_CLOSE_ON_FREE)) == NULL) {
		up_free(up);
		http_upstream_failed(hc, 503, AR_UPSTREAM_REFUSED);
		return;
	}
	hc->up = up;
	up->hc = hc;
	bufferevent_setcb(up->bev, NULL, NULL, up_event_cb, up);
	tv.tv_sec = hc->dec.timeout ? hc->dec.timeout :
	    hc->wc->conf->connect_timeout;
	tv.tv_usec = 0;
	bufferevent_set_timeouts(up->bev, NULL, &tv);
	if (bufferevent_socket_connect(up->bev, (struct sockaddr *)&ss,
	    (int)len) == -1) {
		/* Refused at once (no route, family unsupported...). */
		up_connect_failed(up, AR_UPSTREAM_REFUSED);
		return;
	}
}

/*
 * A connect failed: the next address, then (idempotent methods only)
 * the list again for the route's retries; then the client gets 502/504.
 */
static void
up_connect_failed(struct upstream *up, int how)
{
	struct hconn	*hc = up->hc;

	hc->up = NULL;
	up_free(up);
	if (++hc->tries < hc->naddrs * (1 + (method_idempotent(hc) ||
	    hc->parser.method == HTTP_CONNECT ? hc->dec.retries : 0))) {
		hc->addri++;
		relay_connect(hc);
		return;
	}
	http_upstream_failed(hc, how == AR_UPSTREAM_TIMEOUT ? 504 : 502, how);
}

static int
ms_since(const struct timeval *t)
{
	struct timeval	now, d;

	gettimeofday(&now, NULL);
	timersub(&now, t, &d);
	return (int)(d.tv_sec * 1000 + d.tv_usec / 1000);
}

/* The TLS connection's facts, for the request's audit record. */
static void
up_tls_info(struct upstream *up, struct hconn *hc)
{
	if (up->ssl == NULL)
		return;
	orig_info(up->ssl, &hc->tls_version, &hc->tls_resumed);
	hc->tls_ms = up->tls_ms;
	strlcpy(hc->tls_verify, "ok", sizeof(hc->tls_verify));
}

/* TCP is up: originate TLS over it; the handshake ends in up_connected. */
static void
up_tls_start(struct upstream *up)
{
	struct bufferevent	*bev, *under = up->bev;
	struct timeval		 tv;
	struct hconn		*hc = up->hc;

	bufferevent_set_timeouts(up->bev, NULL, NULL);
	if ((bev = orig_wrap(worker_base, up)) == NULL) {
		hc->up = NULL;
		up_free(up);
		http_upstream_refused(hc, 502, AR_TLS_HANDSHAKE,
		    "cannot start TLS");
		return;
	}
	up->bev = bev;
	up->handshaking = 1;
	gettimeofday(&up->t_tls, NULL);
	bufferevent_setcb(bev, NULL, NULL, up_event_cb, up);
	tv.tv_sec = hc->dec.timeout ? hc->dec.timeout :
	    hc->wc->conf->connect_timeout;
	tv.tv_usec = 0;
	bufferevent_set_timeouts(bev, &tv, &tv);
	bufferevent_enable(bev, EV_READ);	/* for the timeout */
	/*
	 * A filter starts its handshake from the socket's callbacks, and a
	 * connected socket with nothing to send calls none: kick it.
	 */
	bufferevent_trigger(under, EV_WRITE, BEV_TRIG_IGNORE_WATERMARKS |
	    BEV_TRIG_DEFER_CALLBACKS);
}

/*
 * The handshake failed: a verification failure is told as such, with
 * OpenSSL's reason; no request byte was sent.  Not retried elsewhere:
 * another address of the same name would show the same certificate.
 */
static void
up_tls_failed(struct upstream *up, short what)
{
	struct hconn	*hc = up->hc;
	char		 err[96];
	int		 verify;

	if (what & BEV_EVENT_TIMEOUT) {
		up_connect_failed(up, AR_UPSTREAM_TIMEOUT);
		return;
	}
	/* Else OpenSSL's error, if it kept one. */
	if (!(verify = orig_verify_error(up->ssl, err, sizeof(err))) &&
	    orig_verified(up->ssl, up->bev, err, sizeof(err)) == 0)
		strlcpy(err, "handshake failed", sizeof(err));
	strlcpy(hc->tls_verify, verify ? err : "handshake failed",
	    sizeof(hc->tls_verify));
	hc->tls_ms = ms_since(&up->t_tls);
	hc->up = NULL;
	up_free(up);
	http_upstream_refused(hc, 502, verify ? AR_TLS_VERIFY_FAILED :
	    AR_TLS_HANDSHAKE, err);
}

static void
up_connected(struct upstream *up)
{
	struct hconn	*hc = up->hc;
	char		 err[96];
	int		 on = 1;

	if (up->tls != NULL && up->ssl == NULL) {
		(void)setsockopt(bufferevent_getfd(up->bev), IPPROTO_TCP,
		    TCP_NODELAY, &on, sizeof(on));
		up_tls_start(up);
		return;
	}
	if (up->handshaking) {
		up->handshaking = 0;
		up->tls_ms = ms_since(&up->t_tls);
		if (orig_verified(up->ssl, up->bev, err, sizeof(err)) == -1) {
			strlcpy(hc->tls_verify, err, sizeof(hc->tls_verify));
			hc->up = NULL;
			up_free(up);
			http_upstream_refused(hc, 502, AR_TLS_VERIFY_FAILED,
			    err);
			return;
		}
		orig_keep_session(up);
	} else
		(void)setsockopt(bufferevent_getfd(up->bev), IPPROTO_TCP,
		    TCP_NODELAY, &on, sizeof(on));
	up->connected = 1;
	up_attach(hc, up);
	up_tls_info(up, hc);
	http_upstream_connected(hc);
}

/* ---- a request's upstream --------------------------------------------- */

/*
 * A pooled connection the origin closed just as we reused it: a request
 * without a body can go again on a fresh one.
 */
static int
up_retry_stale(struct upstream *up)
{
	struct hconn	*hc = up->hc;

	if (!up->reused || up->gotbytes || hc->has_body || hc->upgrade ||
	    hc->resp_started)
		return 0;
	hc->up = NULL;
	up_free(up);
	hc->nopool = 1;
	hc->state = HS_DECIDE;
	relay_connect(hc);
	return 1;
}

static void
up_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct upstream	*up = arg;
	struct hconn	*hc = up->hc;

	if (!up->connected) {
		if (what & BEV_EVENT_CONNECTED) {
			up_connected(up);
			return;
		}
		if (up->handshaking) {
			up_tls_failed(up, what);
			return;
		}
		up_connect_failed(up, (what & BEV_EVENT_TIMEOUT) ?
		    AR_UPSTREAM_TIMEOUT : AR_UPSTREAM_REFUSED);
		return;
	}
	if (hc->state == HS_TUNNEL) {
		if (what & BEV_EVENT_EOF)
			relay_tunnel_eof(hc, 1);
		else
			relay_tunnel_timeout(hc, 1, what);
		return;
	}
	if ((what & BEV_EVENT_EOF) && !up->done &&
	    llhttp_message_needs_eof(&up->parser) && up->status != 0) {
		/* The body ran to the close. */
		if (llhttp_finish(&up->parser) == HPE_OK || up->done) {
			up->keepalive = 0;
			http_response_done(hc);
			return;
		}
	}
	if (up_retry_stale(up))
		return;
	/*
	 * A TLS 1.3 server refuses our client certificate after its side
	 * of the handshake: an alert before any response byte is a failed
	 * handshake, told with OpenSSL's reason.
	 */
	if (up->ssl != NULL && !up->gotbytes && (what & BEV_EVENT_ERROR) &&
	    orig_alert(bev, hc->tls_verify, sizeof(hc->tls_verify)) == 0) {
		http_upstream_refused(hc, 502, AR_TLS_HANDSHAKE,
		    hc->tls_verify);
		return;
	}
	if (what & BEV_EVENT_TIMEOUT)
		http_upstream_failed(hc, 504, AR_UPSTREAM_TIMEOUT);
	else
		http_upstream_failed(hc, 502, up->gotbytes ?
		    AR_UPSTREAM_BAD_RESPONSE : AR_UPSTREAM_RESET);
}

static void
up_feed(struct upstream *up)
{
	struct hconn		*hc = up->hc;
	struct evbuffer		*in = bufferevent_get_input(up->bev);
	struct evbuffer_iovec	 v;
	llhttp_errno_t		 err;
	size_t			 used;

	while (!up->done && evbuffer_get_length(in) > 0) {
		if (evbuffer_get_length(bufferevent_get_output(hc->bev)) >
		    HIGH_WATER) {
			bufferevent_disable(up->bev, EV_READ);
			return;
		}
		if (up->body_left > 0) {
			used = evbuffer_get_length(in);
			if (used > up->body_left)
				used = (size_t)up->body_left;
			evbuffer_remove_buffer(in,
			    bufferevent_get_output(hc->bev), used);
			hc->bytes_out += used;
			if ((up->body_left -= used) == 0) {
				up->keepalive = up->keepalive &&
				    llhttp_should_keep_alive(&up->parser);
				up->done = 1;
			}
			continue;
		}
		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1 || v.iov_len == 0)
			break;
		up->gotbytes = 1;
		up->resp.bstart = v.iov_base;
		err = llhttp_execute(&up->parser, v.iov_base, v.iov_len);
		if (err == HPE_OK)
			used = v.iov_len;
		else if (err == HPE_PAUSED || err == HPE_PAUSED_UPGRADE)
			used = (size_t)(llhttp_get_error_pos(&up->parser) -
			    (const char *)v.iov_base);
		else {
			log_debug("upstream response: %s",
			    llhttp_get_error_reason(&up->parser));
			up->keepalive = 0;
			http_upstream_failed(hc, 502,
			    AR_UPSTREAM_BAD_RESPONSE);
			return;
		}
		if (used > 0)
			up->resp.prevlast = ((const char *)v.iov_base)[used - 1];
		evbuffer_drain(in, used);
		if (err == HPE_PAUSED_UPGRADE)
			up->done = 1;
	}
	if (up->done) {
		/* Bytes after a response nobody asked for: not reusable. */
		if (!up->upgrade && evbuffer_get_length(in) > 0)
			up->keepalive = 0;
		http_response_done(hc);
	}
}

/*
 * libevent 2.1 reads at most 4 KiB per readiness (EVBUFFER_MAX_READ),
 * with an ioctl(FIONREAD) before each read.  Take what the socket holds
 * in large reads instead, up to the input high water mark; an end of
 * file or an error is left for libevent's next read to report.  Called
 * from read callbacks only: with less than 4 KiB in the input, libevent
 * read all the socket held (FIONREAD said so), and another read would
 * only say EAGAIN.
 */
#define XIO_LIBEVENT_READ	4096

void
xio_fill(struct bufferevent *bev)
{
	struct evbuffer		*in = bufferevent_get_input(bev);
	int			 fd = bufferevent_getfd(bev);

	if (evbuffer_get_length(in) < XIO_LIBEVENT_READ)
		return;

	/* A bufferevent keeps its input's end frozen between its reads. */
	evbuffer_unfreeze(in, 0);
	xio_fill_more(in, fd);
	evbuffer_freeze(in, 0);
}

/*
 * Writing first.  A plain socket's output is written by the worker as
 * soon as the callback that filled it returns (the flush event is made
 * active: no system call), with libevent's write event enabled only
 * while the kernel takes no more.  libevent would add its write event
 * for every response and delete it once written: two epoll_ctl a
 * message, each way.  The owner's write callback is called after a
 * direct write as libevent would call it (all written is below the low
 * water mark), and its event callback on an error.
 */
struct xwrite {
	struct bufferevent	*bev;
	struct event		*ev;
};

static void
xw_out_cb(struct evbuffer *buf, const struct evbuffer_cb_info *info,
    void *arg)
{
	struct xwrite	*x = arg;

	if (info->n_added > 0 &&
	    !(bufferevent_get_enabled(x->bev) & EV_WRITE))
		event_active(x->ev, EV_WRITE, 1);
}

static void
xw_flush_cb(int unused, short what, void *arg)
{
	struct xwrite		*x = arg;
	struct bufferevent	*bev = x->bev;
	struct evbuffer		*out = bufferevent_get_output(bev);
	bufferevent_data_cb	 wcb;
	bufferevent_event_cb	 ecb;
	void			*cbarg;
	int			 n;

	if (evbuffer_get_length(out) == 0 ||
	    (bufferevent_get_enabled(bev) & EV_WRITE))
		return;
	/* A bufferevent keeps its output's start frozen between writes. */
	evbuffer_unfreeze(out, 1);
	do {
		n = evbuffer_write(out, bufferevent_getfd(bev));
	} while (n == -1 && errno == EINTR);
	evbuffer_freeze(out, 1);
	bufferevent_getcb(bev, NULL, &wcb, &ecb, &cbarg);
	if (n == -1 && errno != EAGAIN) {
		if (ecb != NULL)
			ecb(bev, BEV_EVENT_WRITING | BEV_EVENT_ERROR, cbarg);
		return;
	}
	if (evbuffer_get_length(out) > 0) {
		bufferevent_enable(bev, EV_WRITE);	/* libevent waits */
		return;
	}
	if (wcb != NULL)
		wcb(bev, cbarg);
}

/* Write bev's output first from now on; NULL if it cannot. */
struct xwrite *
xw_new(struct bufferevent *bev)
{
	struct xwrite	*x;

	if ((x = calloc(1, sizeof(*x))) == NULL)
		return NULL;
	x->bev = bev;
	if ((x->ev = event_new(worker_base, -1, 0, xw_flush_cb, x)) == NULL ||
	    evbuffer_add_cb(bufferevent_get_output(bev), xw_out_cb, x) ==
	    NULL) {
		if (x->ev != NULL)
			event_free(x->ev);
		free(x);
		return NULL;
	}
	bufferevent_disable(bev, EV_WRITE);
	if (evbuffer_get_length(bufferevent_get_output(bev)) > 0)
		event_active(x->ev, EV_WRITE, 1);
	return x;
}

/* Before the bufferevent is freed. */
void
xw_free(struct xwrite *x)
{
	if (x == NULL)
		return;
	event_free(x->ev);
	evbuffer_remove_cb(bufferevent_get_output(x->bev), xw_out_cb, x);
	free(x);
}

/*
 * From the owner's write callback: once libevent wrote all there was,
 * the next bytes are written first again.
 */
void
xw_idle(struct xwrite *x)
{
	if (x != NULL &&
	    evbuffer_get_length(bufferevent_get_output(x->bev)) == 0)
		bufferevent_disable(x->bev, EV_WRITE);
}

static void
xio_fill_more(struct evbuffer *in, int fd)
{
	struct evbuffer_iovec	 v[2];
	ssize_t			 n;
	size_t			 want;
	int			 nv, i;

	for (i = 0; i < 8 && evbuffer_get_length(in) < HIGH_WATER; i++) {
		want = HIGH_WATER - evbuffer_get_length(in);
		if (want > 65536)
			want = 65536;
		if ((nv = evbuffer_reserve_space(in, (ev_ssize_t)want, v,
		    2)) < 1)
			return;
		if (nv == 2 && v[0].iov_len >= want)
			nv = 1;
		do {
			n = readv(fd, (struct iovec *)v, nv);
		} while (n == -1 && errno == EINTR);
		if (n <= 0) {
			evbuffer_commit_space(in, v, 0);
			return;
		}
		if ((size_t)n <= v[0].iov_len) {
			v[0].iov_len = (size_t)n;
			nv = 1;
		} else
			v[1].iov_len = (size_t)n - v[0].iov_len;
		evbuffer_commit_space(in, v, nv);
		if ((size_t)n < want)
			return;		/* drained */
	}
}

static void
up_read_cb(struct bufferevent *bev, void *arg)
{
	struct upstream	*up = arg;

	/* The socket holds TLS records: only the filter may read it. */
	if (up->ssl == NULL)
		xio_fill(bev);
	if (up->hc->state == HS_TUNNEL) {
		relay_tunnel(up->hc);
		return;
	}
	up_feed(up);
}

static void
up_write_cb(struct bufferevent *bev, void *arg)
{
	struct upstream	*up = arg;

	xw_idle(up->xw);
	if (up->hc->state == HS_TUNNEL) {
		relay_tunnel(up->hc);
		return;
	}
	http_request_more(up->hc);
}

/*
 * Detach the upstream from its request: back to the pool when the
 * exchange ended cleanly and both sides keep the connection, else close.
 */
void
relay_release(struct hconn *hc, int reuse)
{
	struct upstream	*up = hc->up;

	hc->up = NULL;
	if (up == NULL)
		return;
	if (up->ssl != NULL && up->tls != NULL && up->connected)
		orig_keep_session(up);	/* tickets came since */
	if (reuse && up->connected && up->done && up->keepalive &&
	    !up->upgrade && evbuffer_get_length(bufferevent_get_output(
	    up->bev)) == 0)
		pool_put(up, hc->wc->conf);
	else
		up_free(up);
}

/* Called with the client's response bytes drained: read the origin on. */
void
relay_resume(struct hconn *hc)
{
	if (hc->up != NULL && hc->up->bev != NULL && !hc->up->done) {
		bufferevent_enable(hc->up->bev, EV_READ);
		up_feed(hc->up);
	}
}

/* ---- tunnels ----------------------------------------------------------- */

/*
 * Move side's bytes (0: the client's, 1: the upstream's) on; a tunnel
 * whose handshake is still read moves only what its reader lets go
 * (worker_tls.c).  Returns the count, or -1 when hc was closed.
 */
static ssize_t
tunnel_move(struct hconn *hc, int side, struct bufferevent *from,
    struct bufferevent *to)
{
	struct evbuffer	*in = bufferevent_get_input(from);
	struct evbuffer	*out = bufferevent_get_output(to);
	size_t		 len = evbuffer_get_length(in);
	ssize_t		 n = (ssize_t)len;

	if (evbuffer_get_length(out) > HIGH_WATER) {
		bufferevent_disable(from, EV_READ);
		return 0;
	}
	if (hc->tw != NULL && len > 0 && (n = tls_watch(hc, side, in)) == -1)
		return -1;
	if ((size_t)n == len && n > 0)
		evbuffer_add_buffer(out, in);
	else if (n > 0)
		evbuffer_remove_buffer(in, out, (size_t)n);
	bufferevent_enable(from, EV_READ);
	return n;
}

static void
tunnel_end(struct hconn *hc)
{
	http_close(hc, AR_NONE);
}

/* Move what there is, both ways; end once a closed side is flushed. */
void
relay_tunnel(struct hconn *hc)
{
	struct upstream	*up = hc->up;
	ssize_t		 n;

	if (up == NULL || up->bev == NULL) {
		http_close(hc, AR_UPSTREAM_RESET);
		return;
	}
	if (!hc->tunnel_open)
		gen_tunnel_open(hc);	/* counted; decided again if late */
	/* Client bytes wait while their ClientHello is checked. */
	if (!hc->tunnel_eof[1] && !hc->sni_pending) {
		if ((n = tunnel_move(hc, 0, hc->bev, up->bev)) == -1)
			return;
		hc->bytes_in += (uint64_t)n;
	}
	if (!hc->tunnel_eof[0]) {
		if ((n = tunnel_move(hc, 1, up->bev, hc->bev)) == -1)
			return;
		hc->bytes_out += (uint64_t)n;
	}
	gettimeofday(&hc->t_active, NULL);
	if ((hc->tunnel_eof[0] && evbuffer_get_length(
	    bufferevent_get_output(up->bev)) == 0) ||
	    (hc->tunnel_eof[1] && evbuffer_get_length(
	    bufferevent_get_output(hc->bev)) == 0))
		tunnel_end(hc);
}

/* side 0: the client closed; 1: the upstream did. */
void
relay_tunnel_eof(struct hconn *hc, int side)
{
	struct evbuffer	*in = bufferevent_get_input(hc->bev);
	ssize_t		 n;

	if (side == 0 && hc->up != NULL && hc->up->bev != NULL) {
		/* What a hello reader holds back goes nowhere. */
		if ((n = tls_watch(hc, 0, in)) == -1)
			return;
		evbuffer_remove_buffer(in, bufferevent_get_output(
		    hc->up->bev), (size_t)n);
		evbuffer_drain(in, evbuffer_get_length(in));
	} else if (side == 1 && hc->up != NULL)
		evbuffer_add_buffer(bufferevent_get_output(hc->bev),
		    bufferevent_get_input(hc->up->bev));
	hc->tunnel_eof[side] = 1;
	relay_tunnel(hc);
}

/*
 * A read timeout on one side of a tunnel: the tunnel is idle only if the
 * other side was silent for as long.
 */
void
relay_tunnel_timeout(struct hconn *hc, int side, short what)
{
	struct timeval	now, d;

	if (!(what & BEV_EVENT_TIMEOUT)) {
		http_close(hc, side ? AR_UPSTREAM_RESET : AR_CLIENT_CLOSED);
		return;
	}
	gettimeofday(&now, NULL);
	timersub(&now, &hc->t_active, &d);
	if (d.tv_sec < hc->wc->conf->idle_timeout) {
		bufferevent_enable(side ? hc->up->bev : hc->bev, EV_READ);
		return;
	}
	http_close(hc, AR_NONE);
}
