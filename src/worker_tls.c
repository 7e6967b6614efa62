/*
 * TLS without terminating it, run in the workers: a tls listener reads
 * the client's ClientHello, takes the server name from it and lets the
 * connection through as a tunnel to that name, decided like a CONNECT
 * (Istio's PASSTHROUGH); and a CONNECT tunnel to a tls or https port has
 * its first bytes checked: a ClientHello naming the CONNECT host, so an
 * allowed tunnel cannot front another name.  The hello is only read
 * (bounds-checked cursor), never changed: it goes upstream as it came.
 * No key, no certificate, no new system call: bytes from sockets.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>

#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "worker.h"

#define TLS_REC_HEAD	5
#define TLS_REC_MAX	16384		/* TLSPlaintext.length, RFC 8446 */
#define TLS_HANDSHAKE	22		/* ContentType handshake */
#define TLS_CLIENT_HELLO 1		/* HandshakeType client_hello */
#define TLS_EXT_SNI	0		/* server_name, RFC 6066 */
#define TLS_SNI_HOST	0		/* NameType host_name */

/* A bounds-checked reader over the hello. */
struct tcur {
	const uint8_t	*p;
	size_t		 left;
};

static int
tc_u8(struct tcur *c, unsigned int *v)
{
	if (c->left < 1)
		return -1;
	*v = c->p[0];
	c->p++;
	c->left--;
	return 0;
}

static int
tc_u16(struct tcur *c, unsigned int *v)
{
	if (c->left < 2)
		return -1;
	*v = (unsigned int)c->p[0] << 8 | c->p[1];
	c->p += 2;
	c->left -= 2;
	return 0;
}

static int
tc_u24(struct tcur *c, unsigned int *v)
{
	if (c->left < 3)
		return -1;
	*v = (unsigned int)c->p[0] << 16 | (unsigned int)c->p[1] << 8 |
	    c->p[2];
	c->p += 3;
	c->left -= 3;
	return 0;
}

/* The next n bytes as a cursor of their own. */
static int
tc_sub(struct tcur *c, size_t n, struct tcur *sub)
{
	if (c->left < n)
		return -1;
	sub->p = c->p;
	sub->left = n;
	c->p += n;
	c->left -= n;
	return 0;
}

static int
tc_skip(struct tcur *c, size_t n)
{
	struct tcur	sub;

	return tc_sub(c, n, &sub);
}

/*
 * The server_name extension: a list holding at most one host_name,
 * checked and normalised into host.  Returns 0, or an audit reason.
 */
static int
tls_sni(struct tcur *e, char *host, size_t hostlen)
{
	struct tcur	 list, name;
	struct egd_addr	 lit;
	const char	*err;
	unsigned int	 len, type;
	uint16_t	 port;
	int		 literal, found = 0;

	if (tc_u16(e, &len) == -1 || tc_sub(e, len, &list) == -1 ||
	    e->left != 0 || list.left == 0)
		return AR_BAD_CLIENT_HELLO;
	while (list.left > 0) {
		if (tc_u8(&list, &type) == -1 || tc_u16(&list, &len) == -1 ||
		    tc_sub(&list, len, &name) == -1)
			return AR_BAD_CLIENT_HELLO;
		if (type != TLS_SNI_HOST)
			continue;
		if (found++)
			return AR_BAD_CLIENT_HELLO;
		/* A DNS name, no port, no address literal (RFC 6066 3). */
		if (len == 0 || memchr(name.p, ':', len) != NULL ||
		    memchr(name.p, '[', len) != NULL ||
		    authority_parse((const char *)name.p, len, 443, host,
		    hostlen, &port, &lit, &literal, &err) == -1 || literal) {
			log_debug("server name refused: %s",
			    literal ? "address literal" : "invalid");
			return AR_BAD_CLIENT_HELLO;
		}
	}
	return found ? 0 : AR_NO_SNI;
}

/*
 * Parse one ClientHello from buf (len bytes).  Returns 1 and the needed
 * length in *need while more bytes are wanted; 0 with the normalised
 * server name in host; or -1 with an audit reason in *reason.  The hello
 * must fit one record: a hello split across records is refused.
 */
int
tls_client_hello(const uint8_t *buf, size_t len, char *host, size_t hostlen,
    size_t *need, int *reason)
{
	struct tcur	 c, rec, hs, exts, ext;
	unsigned int	 v, major, type, elen, seen_sni = 0;

	host[0] = '\0';
	*reason = AR_BAD_CLIENT_HELLO;
	/* The first bytes already tell TLS from anything else. */
	if (len >= 1 && buf[0] != TLS_HANDSHAKE)
		return -1;
	if (len >= 2 && buf[1] != 3)
		return -1;
	if (len < TLS_REC_HEAD) {
		*need = TLS_REC_HEAD;
		return 1;
	}
	c.p = buf;
	c.left = len;
	(void)tc_u8(&c, &v);
	(void)tc_u16(&c, &v);
	(void)tc_u16(&c, &v);
	if (v == 0 || v > TLS_REC_MAX)
		return -1;
	if (len < TLS_REC_HEAD + (size_t)v) {
		*need = TLS_REC_HEAD + (size_t)v;
		return 1;
	}
	if (tc_sub(&c, v, &rec) == -1)
		return -1;

	if (tc_u8(&rec, &type) == -1 || type != TLS_CLIENT_HELLO ||
	    tc_u24(&rec, &v) == -1 || tc_sub(&rec, v, &hs) == -1)
		return -1;
	/* legacy_version, random, session id, suites, compression */
	if (tc_u8(&hs, &major) == -1 || major != 3 || tc_u8(&hs, &v) == -1 ||
	    tc_skip(&hs, 32) == -1 ||
	    tc_u8(&hs, &v) == -1 || v > 32 || tc_skip(&hs, v) == -1 ||
	    tc_u16(&hs, &v) == -1 || v < 2 || (v & 1) ||
	    tc_skip(&hs, v) == -1 ||
	    tc_u8(&hs, &v) == -1 || v < 1 || tc_skip(&hs, v) == -1)
		return -1;
	if (hs.left == 0) {
		*reason = AR_NO_SNI;	/* no extensions at all */
		return -1;
	}
	if (tc_u16(&hs, &v) == -1 || tc_sub(&hs, v, &exts) == -1 ||
	    hs.left != 0)
		return -1;
	*reason = AR_NO_SNI;
	while (exts.left > 0) {
		if (tc_u16(&exts, &type) == -1 || tc_u16(&exts, &elen) == -1 ||
		    tc_sub(&exts, elen, &ext) == -1) {
			*reason = AR_BAD_CLIENT_HELLO;
			return -1;
		}
		if (type != TLS_EXT_SNI)
			continue;
		if (seen_sni++) {
			*reason = AR_BAD_CLIENT_HELLO;
			return -1;
		}
		if ((*reason = tls_sni(&ext, host, hostlen)) != 0)
			return -1;
	}
	if (!seen_sni)
		return -1;
	/* Every extension read whole: the name stands. */
	*reason = AR_NONE;
	return 0;
}

/*
 * Look at what the client sent so far.  Returns 1 while more is wanted
 * (the caller waits, under the request timeout), 0 with the name, -1
 * with a reason.  Nothing is drained: the hello stays in the input.
 */
static int
tls_peek(struct hconn *hc, char *host, size_t hostlen, int *reason)
{
	struct evbuffer	*in = bufferevent_get_input(hc->bev);
	size_t		 have = evbuffer_get_length(in), need, n;
	const uint8_t	*p;
	int		 r;

	*reason = AR_BAD_CLIENT_HELLO;
	if (have == 0)
		return 1;
	n = have < TLS_REC_HEAD + TLS_REC_MAX ? have :
	    TLS_REC_HEAD + TLS_REC_MAX;
	if ((p = evbuffer_pullup(in, (ev_ssize_t)n)) == NULL)
		return -1;
	r = tls_client_hello(p, n, host, hostlen, &need, reason);
	if (r == 1 && need > n)
		return 1;
	return r == 1 ? -1 : r;
}

/*
 * A client of a tls listener sent bytes: once the hello is whole,
 * decide on its server name at the listener's port, as for a CONNECT.
 */
void
tls_feed(struct hconn *hc)
{
	const struct egressd_conf	*conf = hc->wc->conf;
	struct policy_req		 q;
	struct egd_addr			 la;
	int				 r, reason;

	if (hc->state != HS_HEAD)
		return;
	if ((r = tls_peek(hc, hc->host, sizeof(hc->host), &reason)) == 1)
		return;
	evtimer_del(hc->timer);
	hc->state = HS_DECIDE;
	hc->id = worker_next_id();
	egd_addr_from_sa((const struct sockaddr *)&hc->wl->m.ss, &la,
	    &hc->port);
	hc->report = AR_NONE;
	hc->nopool = 1;		/* a connection of its own */
	if (r == -1) {
		http_drop(hc, reason);
		return;
	}
	if (worker_rate_limited(hc)) {
		http_drop(hc, AR_RATE_LIMITED);
		return;
	}
	memset(&q, 0, sizeof(q));
	q.gateway = hc->wl->m.gateway;
	q.src = &hc->caddr;
	q.connect = 1;
	q.host = hc->host;
	q.port = hc->port;
	q.method = "CONNECT";
	if (policy_decide(conf, &q, &hc->dec, worker_random()) == -1) {
		http_drop(hc, hc->dec.reason);
		return;
	}
	hc->report = hc->dec.report;
	/* TLS goes to ports that say they carry it: tcp is CONNECT only. */
	if (hc->dec.sport->proto != SPROTO_TLS &&
	    hc->dec.sport->proto != SPROTO_HTTPS) {
		http_drop(hc, AR_PROTOCOL);
		return;
	}
	if (worker_tunnel_limited(hc)) {
		http_drop(hc, AR_TUNNEL_LIMIT);
		return;
	}
	http_route(hc);
}

/*
 * Should this CONNECT tunnel have its first bytes checked?  Ports that
 * carry TLS, unless their service said "sni check off".
 */
int
tls_tunnel_wants_check(const struct hconn *hc)
{
	if (hc->dec.svc == NULL || hc->dec.sport == NULL ||
	    hc->dec.svc->sni_nocheck)
		return 0;
	return hc->dec.sport->proto == SPROTO_TLS ||
	    hc->dec.sport->proto == SPROTO_HTTPS;
}

/*
 * The first bytes of a checked tunnel.  Returns 1 while more is wanted,
 * 0 when the tunnel may carry them, -1 after closing the connection.
 * At eof, a hello still incomplete is refused.
 */
int
tls_tunnel_check(struct hconn *hc, int eof)
{
	char	 sni[EGD_HOST_MAX];
	int	 r, reason;

	if ((r = tls_peek(hc, sni, sizeof(sni), &reason)) == 1) {
		if (!eof)
			return 1;
		reason = AR_BAD_CLIENT_HELLO;
		r = -1;
	}
	if (r == 0 && strcmp(sni, hc->host) != 0) {
		log_debug("tunnel to %s carries a hello for %s", hc->host, sni);
		reason = AR_SNI_MISMATCH;
		r = -1;
	}
	hc->sni_pending = 0;
	evtimer_del(hc->timer);
	if (r == -1) {
		/* Report-only services let it through and say so. */
		if (hc->dec.svc->action == ACT_REPORT) {
			if (hc->report == AR_NONE)
				hc->report = reason;
			return 0;
		}
		http_drop(hc, reason);
		return -1;
	}
	return 0;
}
