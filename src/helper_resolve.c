/*
 * The helper's stub resolver: questions (a host name and A or AAAA) put
 * to the configured DNS servers, and their answers judged by dns_wire.c.
 * Runs in the helper only.  helper_dns.c asks with hres_ask() and gets
 * exactly one callback per question, always from the event loop, never
 * from within hres_ask().
 *
 * Every try of a question has its own random id, its own random letter
 * case (the 0x20 bits, which the answer must echo), and its own socket:
 *
 *   UDP, the first try at a server: a socket connect(2)ed to the
 *     server, so that the kernel picks a new random source port for it
 *     and drops every datagram that does not come from the server's
 *     address and port (each datagram's source is compared once more).
 *     A datagram that is not the answer to this question (another id,
 *     another question or case, not a response) is ignored and the try
 *     goes on waiting: a forger cannot end a lookup early.  An answer of
 *     more than 512 bytes (egressd offers no EDNS0, so a server must not
 *     send one) or with TC set is not used: the question is asked again
 *     of the same server over TCP, where answers may be 65535 bytes
 *     long and an off-path forger would also have to guess sequence
 *     numbers (RFC 7766);
 *   TCP: one connection per question, closed after the answer;
 *   TLS (a server configured with "tls NAME", RFC 7858): as TCP, on port
 *     853 by default, with the server's certificate verified against the
 *     CA bundle and NAME as for any origin before the question is
 *     written; sessions are resumed.  Such a server is never asked over
 *     UDP or plain TCP.
 *
 * Tries: the first goes to the server that last answered well (the
 * first one configured, to begin with); a server that fails (no answer
 * within HRES_TRY_MS, a refusal, SERVFAIL, a broken answer) hands the
 * next try, and later questions, to the next server.  A question ends
 * after HRES_MAXTRIES tries or HRES_DEADLINE_MS in all, whichever comes
 * first, before the worker's own 5 s deadline: DNS_TIMEOUT if every try
 * timed out, DNS_FAIL otherwise.  At most HRES_MAXACTIVE questions are
 * on the wire at once (a socket each); the rest wait their turn, their
 * deadline running.  New servers (a reload) restart every question in
 * flight on them, with new ids and sockets.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <event2/event.h>

#include "egressd.h"

#define HRES_MAXACTIVE	256	/* questions on the wire, a socket each */
#define HRES_TRY_MS	2000	/* one try */
#define HRES_DEADLINE_MS 4000	/* a question in all */
#define HRES_MAXTRIES	4
#define HRES_MAXREADS	16	/* datagrams read per wake-up */

enum hres_state {
	HQ_WAITING = 0,		/* for a place on the wire */
	HQ_FAILED,		/* a try failed: the timer moves on */
	HQ_UDP,			/* sent, waiting for the answer */
	HQ_CONNECT,		/* TCP connect in progress */
	HQ_HANDSHAKE,		/* TLS handshake */
	HQ_WRITE,		/* writing the question */
	HQ_READ,		/* reading the answer */
};

struct hres_q {
	TAILQ_ENTRY(hres_q)	 entry;		/* waiting or active */
	int			 state;		/* enum hres_state */
	int			 server;	/* of the current try */
	int			 tries;
	int			 tcp;		/* this try is over TCP */
	int			 failed;	/* a try failed, not timed out */
	int			 fd;
	SSL			*ssl;
	struct event		*ev;		/* I/O of the current try */
	struct event		*timer;		/* end of the try */
	uint64_t		 deadline;	/* monotonic ms */
	struct dnsw_question	 dq;
	uint8_t			 out[2 + DNSW_HDRLEN + DNSW_NAMEMAX + 4];
	size_t			 outlen, outoff;
	uint8_t			 lenbuf[2];
	uint8_t			*in;		/* TCP: the answer */
	size_t			 inlen, inoff;
	hres_cb			 cb;
	void			*arg;
	uint16_t		 qtype;
	char			 name[EGD_HOST_MAX];
};
TAILQ_HEAD(hres_qs, hres_q);

static struct {
	struct event_base	*base;
	struct hres_server	 servers[HRES_MAXSERVERS];
	int			 nservers;
	int			 cur;		/* the server tried first */
	struct hres_qs		 waiting, active;
	unsigned int		 nactive;
	struct hres_stats	 stats;
	uint8_t			 rbuf[65536];	/* one datagram */
} hr;

static void	hres_try(struct hres_q *);
static void	hres_timer_cb(int, short, void *);
static void	hres_udp_cb(int, short, void *);
static void	hres_stream_cb(int, short, void *);

static uint64_t
hres_now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static const char *
hres_qtype_name(const struct hres_q *q)
{
	return q->qtype == DNSW_TYPE_A ? "A" : "AAAA";
}

static const char *
hres_server_name(int i, char *buf, size_t len)
{
	char	addr[64];

	if (i < 0 || i >= hr.nservers) {
		snprintf(buf, len, "no server");
		return buf;
	}
	addr_ntop(&hr.servers[i].ss, addr, sizeof(addr));
	snprintf(buf, len, "%s port %d%s", addr,
	    addr_port(&hr.servers[i].ss), hr.servers[i].ctx != NULL ?
	    " (TLS)" : "");
	return buf;
}

/*
 * Before the privilege drop: OpenSSL reads its configuration and loads
 * its providers now, while files can still be opened.
 */
void
hres_preinit(void)
{
	SSL_CTX	*ctx;

	if (OPENSSL_init_ssl(OPENSSL_INIT_LOAD_CONFIG |
	    OPENSSL_INIT_LOAD_SSL_STRINGS | OPENSSL_INIT_LOAD_CRYPTO_STRINGS,
	    NULL) != 1)
		fatalx("OPENSSL_init_ssl");
	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL)
		fatalx("SSL_CTX_new");
	SSL_CTX_free(ctx);
}

void
hres_init(struct event_base *base)
{
	hr.base = base;
	TAILQ_INIT(&hr.waiting);
	TAILQ_INIT(&hr.active);
}

/*
 * A context for DNS over TLS servers: TLS 1.2 at least, the peer
 * verified against the certificates of the PEM bundle (the name is set
 * per connection), sessions kept by hand (hres_keep_session()).  NULL
 * with why set when the bundle has no certificate.
 */
SSL_CTX *
hres_tls_ctx(const char *pem, size_t len, const char **why)
{
	SSL_CTX		*ctx;
	X509_STORE	*st;
	X509		*x;
	BIO		*bio;
	int		 n = 0;

	*why = "out of memory";
	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL)
		goto fail;
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1)
		goto fail;
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	st = SSL_CTX_get_cert_store(ctx);
	if ((bio = BIO_new_mem_buf(pem, (int)len)) == NULL)
		goto fail;
	while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		if (X509_STORE_add_cert(st, x) == 1)
			n++;
		X509_free(x);
	}
	BIO_free(bio);
	ERR_clear_error();	/* the end of the bundle reads as an error */
	if (n == 0) {
		*why = "no certificate in the CA bundle";
		goto fail;
	}
	return ctx;
 fail:
	ERR_clear_error();
	SSL_CTX_free(ctx);
	return NULL;
}

const struct hres_stats *
hres_stats(void)
{
	return &hr.stats;
}

/* The socket and I/O state of the current try, gone. */
static void
hres_close(struct hres_q *q)
{
	if (q->ev != NULL) {
		event_free(q->ev);
		q->ev = NULL;
	}
	if (q->ssl != NULL) {
		SSL_free(q->ssl);	/* no close_notify: nothing to lose */
		q->ssl = NULL;
	}
	if (q->fd != -1) {
		close(q->fd);
		q->fd = -1;
	}
	free(q->in);
	q->in = NULL;
	q->inlen = q->inoff = q->outoff = 0;
	evtimer_del(q->timer);
}

/* Start waiting questions while there is room on the wire. */
static void
hres_pump(void)
{
	struct hres_q	*q;

	while (hr.nactive < HRES_MAXACTIVE &&
	    (q = TAILQ_FIRST(&hr.waiting)) != NULL) {
		TAILQ_REMOVE(&hr.waiting, q, entry);
		TAILQ_INSERT_TAIL(&hr.active, q, entry);
		hr.nactive++;
		q->server = hr.cur;
		hres_try(q);
	}
}

/* The question ends: one callback, and q is freed. */
static void
hres_finish(struct hres_q *q, int status, const struct dnsw_answer *a)
{
	hres_cb		 cb = q->cb;
	void		*arg = q->arg;

	hres_close(q);
	event_free(q->timer);
	if (q->state == HQ_WAITING)
		TAILQ_REMOVE(&hr.waiting, q, entry);
	else {
		TAILQ_REMOVE(&hr.active, q, entry);
		hr.nactive--;
	}
	if (status != DNS_OK)
		a = NULL;
	log_debug("%s %s: %s", q->name, hres_qtype_name(q),
	    dns_status_name(status));
	free(q);
	hres_pump();
	cb(arg, status, a != NULL ? a->addrs : NULL, a != NULL ?
	    a->naddrs : 0, a != NULL ? a->ttl : 0);
}

/*
 * The current try failed (timedout: no answer in time).  The next one
 * goes to the next server, and so do later questions; after the last
 * try or past the deadline the question ends.  Never called back from
 * within hres_try(): a try that fails at once waits for its timer.
 */
static void
hres_next(struct hres_q *q, int timedout, const char *why)
{
	char	srv[96];

	log_debug("%s %s: %s: %s", q->name, hres_qtype_name(q),
	    hres_server_name(q->server, srv, sizeof(srv)), why);
	hres_close(q);
	if (timedout)
		hr.stats.timeouts++;
	else {
		q->failed = 1;
		hr.stats.failures++;
	}
	if (hr.nservers > 0 && q->server == hr.cur)
		hr.cur = (hr.cur + 1) % hr.nservers;
	q->tries++;
	q->tcp = 0;
	if (hr.nservers == 0 || q->tries >= HRES_MAXTRIES ||
	    hres_now() >= q->deadline) {
		hres_finish(q, q->failed ? DNS_FAIL : DNS_TIMEOUT, NULL);
		return;
	}
	q->server = (q->server + 1) % hr.nservers;
	hres_try(q);
}

/* A try that cannot even start: the timer ends it, from the loop. */
static void
hres_fail_soon(struct hres_q *q, const char *why)
{
	struct timeval	tv = { 0, 0 };

	hres_close(q);
	q->state = HQ_FAILED;
	log_debug("%s %s: %s", q->name, hres_qtype_name(q), why);
	evtimer_add(q->timer, &tv);
}

static void
hres_timer_cb(int fd, short ev, void *arg)
{
	struct hres_q	*q = arg;

	if (q->state != HQ_FAILED)
		hres_next(q, 1, "no answer in time");
	else if (hres_now() >= q->deadline)
		hres_next(q, 1, "no time left");
	else
		hres_next(q, 0, "could not ask");
}

/* Its answer: the outcome of the question, or a failure of the server. */
static void
hres_answer(struct hres_q *q, const struct dnsw_answer *a)
{
	char	srv[96];

	if (a->ignored > 0) {
		hr.stats.records_ignored += (uint64_t)a->ignored;
		log_info("%s %s: %s: %d records owned by other names "
		    "ignored", q->name, hres_qtype_name(q),
		    hres_server_name(q->server, srv, sizeof(srv)),
		    a->ignored);
	}
	switch (a->rcode) {
	case DNSW_RCODE_NOERROR:
		hr.cur = q->server;
		hres_finish(q, a->naddrs > 0 ? DNS_OK : DNS_NODATA, a);
		return;
	case DNSW_RCODE_NXDOMAIN:
		hr.cur = q->server;
		hres_finish(q, DNS_NXDOMAIN, NULL);
		return;
	}
	snprintf(srv, sizeof(srv), "rcode %d", a->rcode);
	hres_next(q, 0, srv);
}

/*
 * One try: new id, new letter case, new socket.  Over UDP first; over
 * TCP after TC or an answer too long for UDP; always over TLS for a
 * server that has it.
 */
static void
hres_try(struct hres_q *q)
{
	const struct hres_server	*s;
	struct timeval			 tv;
	uint8_t				 rnd[32];
	uint64_t			 now = hres_now(), ms;
	int				 n, stream, type;

	if (hr.nservers == 0) {
		hres_fail_soon(q, "no nameserver");
		return;
	}
	if (now >= q->deadline) {
		hres_fail_soon(q, "deadline passed while waiting");
		q->tries = HRES_MAXTRIES;
		return;
	}
	s = &hr.servers[q->server];
	stream = q->tcp || s->ctx != NULL;
	arc4random_buf(rnd, sizeof(rnd));
	if (dnsw_question(&q->dq, q->name, q->qtype,
	    (uint16_t)arc4random_uniform(65536), rnd, sizeof(rnd)) == -1 ||
	    (n = dnsw_query(&q->dq, q->out + 2, sizeof(q->out) - 2)) == -1) {
		hres_fail_soon(q, "name too long");
		q->tries = HRES_MAXTRIES;
		return;
	}
	q->out[0] = (uint8_t)(n >> 8);
	q->out[1] = (uint8_t)n;
	q->outlen = (size_t)n + 2;
	q->outoff = 0;

	type = (stream ? SOCK_STREAM : SOCK_DGRAM) | SOCK_NONBLOCK |
	    SOCK_CLOEXEC;
	if ((q->fd = socket(s->ss.ss_family, type, 0)) == -1) {
		hres_fail_soon(q, strerror(errno));
		return;
	}
	if (connect(q->fd, (const struct sockaddr *)&s->ss, s->sslen) == -1 &&
	    !(stream && errno == EINPROGRESS)) {
		hres_fail_soon(q, strerror(errno));
		return;
	}
	if (!stream) {
		/* The prefix is for TCP only. */
		if (sendto(q->fd, q->out + 2, (size_t)n, 0, NULL, 0) != n) {
			hres_fail_soon(q, "send failed");
			return;
		}
		q->state = HQ_UDP;
		hr.stats.udp++;
		q->ev = event_new(hr.base, q->fd, EV_READ | EV_PERSIST,
		    hres_udp_cb, q);
	} else {
		q->state = HQ_CONNECT;
		if (s->ctx != NULL)
			hr.stats.tls++;
		else
			hr.stats.tcp++;
		q->ev = event_new(hr.base, q->fd, EV_WRITE, hres_stream_cb,
		    q);
	}
	if (q->ev == NULL || event_add(q->ev, NULL) == -1) {
		hres_fail_soon(q, "event_new");
		return;
	}
	ms = q->deadline - now < HRES_TRY_MS ? q->deadline - now :
	    HRES_TRY_MS;
	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)(ms % 1000 * 1000);
	evtimer_add(q->timer, &tv);
}

/* Ask the same server again over TCP: TC, or too long for UDP. */
static void
hres_tcp(struct hres_q *q, const char *why)
{
	char	srv[96];

	log_debug("%s %s: %s: %s, asking again over TCP", q->name,
	    hres_qtype_name(q), hres_server_name(q->server, srv,
	    sizeof(srv)), why);
	hres_close(q);
	q->tcp = 1;
	hres_try(q);
}

static void
hres_udp_cb(int fd, short ev, void *arg)
{
	struct hres_q		*q = arg;
	struct sockaddr_storage	 from;
	struct dnsw_answer	 a;
	socklen_t		 fromlen;
	ssize_t			 n;
	int			 i;

	for (i = 0; i < HRES_MAXREADS; i++) {
		fromlen = sizeof(from);
		memset(&from, 0, sizeof(from));
		n = recvfrom(fd, hr.rbuf, sizeof(hr.rbuf), 0,
		    (struct sockaddr *)&from, &fromlen);
		if (n == -1) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			/* ECONNREFUSED: ICMP port unreachable */
			hres_next(q, 0, strerror(errno));
			return;
		}
		if (!addr_equal(&from, &hr.servers[q->server].ss)) {
			hr.stats.ignored++;
			log_debug("%s %s: a datagram from elsewhere ignored",
			    q->name, hres_qtype_name(q));
			continue;
		}
		switch (dnsw_parse(hr.rbuf, (size_t)n, &q->dq, &a)) {
		case DNSW_IGNORE:
			hr.stats.ignored++;
			log_debug("%s %s: an answer ignored: %s", q->name,
			    hres_qtype_name(q), a.why);
			continue;
		case DNSW_TRUNCATED:
			hr.stats.truncated++;
			hres_tcp(q, "truncated (TC)");
			return;
		case DNSW_BROKEN:
			hres_next(q, 0, a.why);
			return;
		}
		if (n > DNSW_UDPMAX) {
			hr.stats.truncated++;
			hres_tcp(q, "an answer longer than 512 bytes over "
			    "UDP, not used");
			return;
		}
		hres_answer(q, &a);
		return;
	}
}

/* ---- TCP and TLS -------------------------------------------------------- */

/* What the stream wants next: EV_READ or EV_WRITE, for the I/O event. */
static int
hres_wait(struct hres_q *q, short what)
{
	event_free(q->ev);
	if ((q->ev = event_new(hr.base, q->fd, what, hres_stream_cb, q)) ==
	    NULL || event_add(q->ev, NULL) == -1)
		return -1;
	return 0;
}

/*
 * A TLS call's outcome: 1 done, 0 wait (the event is set), -1 failed
 * (why set).
 */
static int
hres_ssl_result(struct hres_q *q, int rv, const char **why)
{
	static char	 buf[256];
	const char	*r;
	long		 vr;

	if (rv > 0)
		return 1;
	switch (SSL_get_error(q->ssl, rv)) {
	case SSL_ERROR_WANT_READ:
		return hres_wait(q, EV_READ) == 0 ? 0 : -1;
	case SSL_ERROR_WANT_WRITE:
		return hres_wait(q, EV_WRITE) == 0 ? 0 : -1;
	case SSL_ERROR_ZERO_RETURN:
		*why = "closed by the server";
		return -1;
	}
	if ((vr = SSL_get_verify_result(q->ssl)) != X509_V_OK) {
		snprintf(buf, sizeof(buf), "certificate not verified: %s",
		    X509_verify_cert_error_string(vr));
		hr.stats.tls_unverified++;
	} else if ((r = ERR_reason_error_string(ERR_peek_last_error())) !=
	    NULL)
		snprintf(buf, sizeof(buf), "TLS: %s", r);
	else
		snprintf(buf, sizeof(buf), "TLS: %s", errno != 0 ?
		    strerror(errno) : "connection closed");
	ERR_clear_error();
	*why = buf;
	return -1;
}

/* Read up to len bytes into p: > 0 read, 0 wait (event set), -1 failed. */
static ssize_t
hres_read(struct hres_q *q, uint8_t *p, size_t len, const char **why)
{
	ssize_t	n;
	int	rv;

	if (q->ssl != NULL) {
		ERR_clear_error();
		if ((rv = SSL_read(q->ssl, p, (int)len)) > 0)
			return rv;
		return hres_ssl_result(q, rv, why);
	}
	if ((n = read(q->fd, p, len)) > 0)
		return n;
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return hres_wait(q, EV_READ) == 0 ? 0 : -1;
	*why = n == 0 ? "closed by the server" : strerror(errno);
	return -1;
}

/* Write from q->out: 1 all written, 0 wait (event set), -1 failed. */
static int
hres_write(struct hres_q *q, const char **why)
{
	ssize_t	n;
	int	rv;

	while (q->outoff < q->outlen) {
		if (q->ssl != NULL) {
			ERR_clear_error();
			rv = SSL_write(q->ssl, q->out + q->outoff,
			    (int)(q->outlen - q->outoff));
			if (rv <= 0)
				return hres_ssl_result(q, rv, why);
			q->outoff += (size_t)rv;
			continue;
		}
		n = write(q->fd, q->out + q->outoff, q->outlen - q->outoff);
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			return hres_wait(q, EV_WRITE) == 0 ? 0 : -1;
		if (n <= 0) {
			*why = n == 0 ? "write failed" : strerror(errno);
			return -1;
		}
		q->outoff += (size_t)n;
	}
	return 1;
}

/* A TLS server's session, kept to resume the next connection with. */
static void
hres_keep_session(struct hres_q *q)
{
	struct hres_server	*s = &hr.servers[q->server];
	SSL_SESSION		*sess;

	if (q->ssl == NULL)
		return;
	/*
	 * The exchange is over: freed without this, the connection would
	 * make its session (shared with s->session) unresumable.
	 */
	SSL_set_shutdown(q->ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
	if ((sess = SSL_get1_session(q->ssl)) == NULL)
		return;
	if (!SSL_SESSION_is_resumable(sess) || sess == s->session) {
		SSL_SESSION_free(sess);
		return;
	}
	if (s->session != NULL)
		SSL_SESSION_free(s->session);
	s->session = sess;
}

/* The TLS connection of a try, set up to verify the server as NAME. */
static int
hres_tls_new(struct hres_q *q)
{
	const struct hres_server	*s = &hr.servers[q->server];

	if ((q->ssl = SSL_new(s->ctx)) == NULL ||
	    SSL_set_fd(q->ssl, q->fd) != 1 ||
	    SSL_set_tlsext_host_name(q->ssl, s->tlsname) != 1 ||
	    SSL_set1_host(q->ssl, s->tlsname) != 1 ||
	    (s->session != NULL && SSL_set_session(q->ssl, s->session) != 1)) {
		ERR_clear_error();
		return -1;
	}
	/* As an origin is verified (worker_origin.c). */
	SSL_set_hostflags(q->ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	SSL_set_verify(q->ssl, SSL_VERIFY_PEER, NULL);
	return 0;
}

/*
 * A try over TCP or TLS, one state after the other: connected, the
 * handshake, the question written with its length, the length of the
 * answer read, then the answer.
 */
static void
hres_stream_cb(int fd, short ev, void *arg)
{
	struct hres_q		*q = arg;
	struct dnsw_answer	 a;
	const char		*why = "?";
	socklen_t		 len;
	ssize_t			 n;
	int			 err = 0, rv;

	for (;;) {
		switch (q->state) {
		case HQ_CONNECT:
			len = sizeof(err);
			if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) ==
			    -1)
				err = errno;
			if (err != 0) {
				hres_next(q, 0, strerror(err));
				return;
			}
			if (hr.servers[q->server].ctx == NULL) {
				q->state = HQ_WRITE;
				continue;
			}
			if (hres_tls_new(q) == -1) {
				hres_next(q, 0, "cannot set up TLS");
				return;
			}
			q->state = HQ_HANDSHAKE;
			continue;
		case HQ_HANDSHAKE:
			ERR_clear_error();
			if ((rv = SSL_connect(q->ssl)) <= 0 &&
			    (rv = hres_ssl_result(q, rv, &why)) <= 0) {
				if (rv == -1)
					hres_next(q, 0, why);
				return;
			}
			if (SSL_session_reused(q->ssl))
				hr.stats.tls_resumed++;
			q->state = HQ_WRITE;
			continue;
		case HQ_WRITE:
			if ((rv = hres_write(q, &why)) <= 0) {
				if (rv == -1)
					hres_next(q, 0, why);
				return;
			}
			q->state = HQ_READ;
			q->inoff = q->inlen = 0;
			continue;
		case HQ_READ:
			break;
		default:
			return;
		}
		break;
	}

	/* The length, then the message. */
	for (;;) {
		if (q->in == NULL)
			n = hres_read(q, q->lenbuf + q->inoff,
			    sizeof(q->lenbuf) - q->inoff, &why);
		else
			n = hres_read(q, q->in + q->inoff, q->inlen - q->inoff,
			    &why);
		if (n <= 0) {
			if (n == -1)
				hres_next(q, 0, why);
			return;
		}
		q->inoff += (size_t)n;
		if (q->in == NULL) {
			if (q->inoff < sizeof(q->lenbuf))
				continue;
			q->inlen = (size_t)q->lenbuf[0] << 8 | q->lenbuf[1];
			if (q->inlen < DNSW_HDRLEN) {
				hres_next(q, 0, "an answer shorter than a "
				    "header");
				return;
			}
			q->in = ps_xcalloc(1, q->inlen);
			q->inoff = 0;
		} else if (q->inoff == q->inlen)
			break;
	}
	switch (dnsw_parse(q->in, q->inlen, &q->dq, &a)) {
	case DNSW_ANSWER:
		hres_keep_session(q);
		hres_answer(q, &a);
		return;
	case DNSW_TRUNCATED:
		hres_next(q, 0, "truncated over TCP");
		return;
	default:
		/* Over a connection only the server speaks: it is broken. */
		hres_next(q, 0, a.why);
		return;
	}
}

/* ---- questions and servers ---------------------------------------------- */

/*
 * Ask for name's records of qtype (DNSW_TYPE_A or DNSW_TYPE_AAAA).  cb
 * runs exactly once, later, from the loop.
 */
void
hres_ask(const char *name, uint16_t qtype, hres_cb cb, void *arg)
{
	struct hres_q	*q;

	q = ps_xcalloc(1, sizeof(*q));
	q->fd = -1;
	q->qtype = qtype;
	q->cb = cb;
	q->arg = arg;
	q->deadline = hres_now() + HRES_DEADLINE_MS;
	strlcpy(q->name, name, sizeof(q->name));
	if ((q->timer = evtimer_new(hr.base, hres_timer_cb, q)) == NULL)
		fatalx("evtimer_new");
	q->state = HQ_WAITING;
	TAILQ_INSERT_TAIL(&hr.waiting, q, entry);
	hres_pump();
}

/*
 * The servers of a new generation.  A TLS server's context (ctx) now
 * belongs to this file, which frees it with the generation.  Questions
 * in flight start again on the new servers, with their tries counted
 * from zero and their deadlines kept.
 */
void
hres_set_servers(const struct hres_server *s, int n)
{
	struct hres_q	*q;
	int		 i;

	if (n > HRES_MAXSERVERS)
		n = HRES_MAXSERVERS;
	TAILQ_FOREACH(q, &hr.active, entry)
		hres_close(q);
	for (i = 0; i < hr.nservers; i++) {
		if (hr.servers[i].session != NULL)
			SSL_SESSION_free(hr.servers[i].session);
		SSL_CTX_free(hr.servers[i].ctx);
	}
	memset(hr.servers, 0, sizeof(hr.servers));
	for (i = 0; i < n; i++) {
		hr.servers[i] = s[i];
		hr.servers[i].session = NULL;
	}
	hr.nservers = n;
	hr.cur = 0;
	TAILQ_FOREACH(q, &hr.active, entry) {
		q->tries = 0;
		q->tcp = 0;
		q->failed = 0;
		q->server = 0;
		hres_try(q);
	}
}
