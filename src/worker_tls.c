/*
 * TLS without terminating it, run in the workers: a tls listener reads
 * the client's ClientHello, takes the server name from it and lets the
 * connection through as a tunnel to that name, decided like a CONNECT
 * (Istio's PASSTHROUGH); and a CONNECT tunnel to a tls or https port has
 * its first bytes checked: a ClientHello naming the CONNECT host, so an
 * allowed tunnel cannot front another name.  Both then go on being read
 * until the server's ServerHello (tls_watch()): a second ClientHello,
 * after a HelloRetryRequest, must name the same host.  The hellos are
 * only read (bounds-checked cursor), never changed: they go upstream as
 * they came.  No key, no certificate, no new system call: bytes from
 * sockets.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>

#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "worker.h"

#define TLS_REC_HEAD	5
#define TLS_REC_MAX	16384		/* TLSPlaintext.length, RFC 8446 */
#define TLS_REC_CMAX	(TLS_REC_MAX + 2048)	/* TLSCiphertext, RFC 5246 */
#define TLS_CCS		20		/* ContentType change_cipher_spec */
#define TLS_ALERT	21		/* ContentType alert */
#define TLS_HANDSHAKE	22		/* ContentType handshake */
#define TLS_APPDATA	23		/* ContentType application_data */
#define TLS_CLIENT_HELLO 1		/* HandshakeType client_hello */
#define TLS_SERVER_HELLO 2		/* HandshakeType server_hello */
#define TLS_SH_HEAD	(4 + 2 + 32)	/* header, legacy_version, random */
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
 * must fill one record: a hello split across records, or one with
 * anything after it in its record, is refused.
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

	/* The hello alone in its record: nothing hides behind it. */
	if (tc_u8(&rec, &type) == -1 || type != TLS_CLIENT_HELLO ||
	    tc_u24(&rec, &v) == -1 || tc_sub(&rec, v, &hs) == -1 ||
	    rec.left != 0)
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
	int				 r, reason, literal = 0;

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
	if (hc->wl->m.transparent) {
		if (!hc->odst_ok) {
			http_drop(hc, AR_NOT_REDIRECTED);
			return;
		}
		hc->port = hc->odport;	/* the port the client dialed */
		/*
		 * No server name: only a service that registers the
		 * original destination's address literal lets it out.
		 */
		if (r == -1 && reason == AR_NO_SNI) {
			egd_addr_ntop(&hc->odst, hc->host, sizeof(hc->host));
			literal = 1;
			r = 0;
		}
	}
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
	q.literal = literal;
	q.method = "CONNECT";
	if (policy_decide(conf, &q, &hc->dec, worker_random()) == -1) {
		/* An unregistered literal: it was a hello without a name. */
		http_drop(hc, literal && (hc->dec.reason == AR_IP_LITERAL ||
		    hc->dec.reason == AR_NO_SERVICE) ? AR_NO_SNI :
		    hc->dec.reason);
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

/*
 * The rest of a checked tunnel's handshake, on a tls listener and in a
 * CONNECT tunnel with the SNI check.  The first ClientHello decided
 * before a byte went up; but after a HelloRetryRequest (TLS 1.3) the
 * client sends another, which the server takes as the one that counts,
 * and a client that wants past the check would name another host there
 * (or send it at once behind the first).  So until the server's
 * ServerHello proper has gone by, every client record is read: a
 * handshake record must be one whole ClientHello naming the tunnel's
 * host, and waits until it is whole; other records (change_cipher_spec,
 * alerts, early data) pass, framed as the server frames them; bytes
 * that are no TLS record end the reading, since a TLS server ends the
 * connection there.  The server's records are read as they pass, for its
 * first handshake messages only.  Past its ServerHello the server takes
 * no ClientHello in clear (TLS 1.3 encrypts from there on, TLS 1.2 wants
 * the key exchange), and the tunnel is read no more.  A renegotiation
 * (TLS 1.2, encrypted) cannot be seen: that is the server's business.
 */
struct tls_watch {
	size_t		 cpass;		/* client: bytes of a record to pass */
	uint8_t		 shdr[TLS_REC_HEAD];	/* server: a record's header */
	size_t		 nshdr;
	int		 stype;		/* its content type */
	size_t		 sleft;		/* its bytes not read yet */
	uint8_t		 sh[TLS_SH_HEAD];	/* a handshake message begun */
	size_t		 nsh;
	size_t		 sskip;		/* the rest of a retry request */
	int		 hellos;	/* ClientHellos read */
	int		 retries;	/* HelloRetryRequests seen */
};

/* ServerHello.random of a HelloRetryRequest (RFC 8446, 4.1.3). */
static const uint8_t tls_hrr_random[32] = {
	0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11,
	0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
	0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e,
	0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
};

/* A whole client record, read into one piece (the worker is one thread). */
static uint8_t	tls_rec[TLS_REC_HEAD + TLS_REC_MAX];

void
tls_watch_start(struct hconn *hc)
{
	if (hc->tw == NULL)
		hc->tw = ps_xcalloc(1, sizeof(*hc->tw));
}

void
tls_watch_free(struct hconn *hc)
{
	free(hc->tw);
	hc->tw = NULL;
}

/*
 * A hello that may not go: refused (the connection is closed, -1), or
 * in report mode said so and let through with all that follows.
 */
static ssize_t
tls_watch_refuse(struct hconn *hc, int reason, size_t all)
{
	log_debug("tunnel to %s: a later ClientHello refused (%d hellos, "
	    "%d retry requests)", hc->host, hc->tw->hellos, hc->tw->retries);
	tls_watch_free(hc);
	if (hc->dec.svc != NULL && hc->dec.svc->action == ACT_REPORT) {
		if (hc->report == AR_NONE)
			hc->report = reason;
		return (ssize_t)all;
	}
	http_drop(hc, reason);
	return -1;
}

/*
 * The server name every hello of the connection must carry: its host,
 * or none for a transparent connection let out without one (its host
 * is then the original destination's literal, which no hello names).
 */
static const char *
tls_watch_name(const struct hconn *hc)
{
	struct egd_addr	a;

	if (hc->wl->m.transparent && egd_addr_parse(hc->host, &a) == 0)
		return "";
	return hc->host;
}

/* The client's side: how many bytes at the front of in may go. */
static ssize_t
tls_watch_client(struct hconn *hc, struct evbuffer *in)
{
	struct tls_watch	*tw = hc->tw;
	struct evbuffer_ptr	 pos;
	char			 name[EGD_HOST_MAX];
	const char		*want = tls_watch_name(hc);
	size_t			 have = evbuffer_get_length(in), ok = 0, m;
	size_t			 rlen, need;
	int			 reason;

	for (;;) {
		if (tw->cpass > 0) {
			m = tw->cpass < have - ok ? tw->cpass : have - ok;
			tw->cpass -= m;
			ok += m;
			if (tw->cpass > 0)
				break;
			continue;
		}
		if (have - ok < TLS_REC_HEAD ||
		    evbuffer_ptr_set(in, &pos, ok, EVBUFFER_PTR_SET) == -1 ||
		    evbuffer_copyout_from(in, &pos, tls_rec, TLS_REC_HEAD) !=
		    TLS_REC_HEAD)
			break;
		rlen = (size_t)tls_rec[3] << 8 | tls_rec[4];
		/*
		 * A record no TLS server takes (RFC 8446, 5.1 and 5.2): the
		 * server ends the connection there, and reads no hello
		 * after it; nor is there one to protect if it is no TLS
		 * server at all.  The reading ends.
		 */
		if (tls_rec[1] != 3 || rlen > TLS_REC_CMAX) {
			log_debug("tunnel to %s: no more TLS records from the "
			    "client", hc->host);
			tls_watch_free(hc);
			return (ssize_t)have;
		}
		/* Other records go by whole, read as the server reads them. */
		if (tls_rec[0] != TLS_HANDSHAKE) {
			tw->cpass = TLS_REC_HEAD + rlen;
			continue;
		}
		if (rlen == 0 || rlen > TLS_REC_MAX)
			return tls_watch_refuse(hc, AR_BAD_CLIENT_HELLO, have);
		if (have - ok < TLS_REC_HEAD + rlen)
			break;		/* held until whole */
		if (evbuffer_copyout_from(in, &pos, tls_rec, TLS_REC_HEAD +
		    rlen) != (ev_ssize_t)(TLS_REC_HEAD + rlen))
			return tls_watch_refuse(hc, AR_BAD_CLIENT_HELLO, have);
		if (tls_client_hello(tls_rec, TLS_REC_HEAD + rlen, name,
		    sizeof(name), &need, &reason) != 0 &&
		    (reason != AR_NO_SNI || *want != '\0'))
			return tls_watch_refuse(hc, reason == AR_NONE ?
			    AR_BAD_CLIENT_HELLO : reason, have);
		if (strcmp(name, want) != 0) {
			log_debug("tunnel to %s: a ClientHello for %s",
			    hc->host, name);
			return tls_watch_refuse(hc, AR_SNI_MISMATCH, have);
		}
		tw->hellos++;
		ok += TLS_REC_HEAD + rlen;
	}
	return (ssize_t)ok;
}

/*
 * Handshake bytes from the server.  Returns 1 once its ServerHello
 * proper (or anything but a retry request) began: no more to read.
 */
static int
tls_watch_handshake(struct tls_watch *tw, const uint8_t *p, size_t n)
{
	size_t	m, len;

	while (n > 0) {
		if (tw->sskip > 0) {
			m = tw->sskip < n ? tw->sskip : n;
			tw->sskip -= m;
			p += m;
			n -= m;
			continue;
		}
		m = TLS_SH_HEAD - tw->nsh < n ? TLS_SH_HEAD - tw->nsh : n;
		memcpy(tw->sh + tw->nsh, p, m);
		tw->nsh += m;
		p += m;
		n -= m;
		if (tw->nsh < TLS_SH_HEAD)
			return 0;
		tw->nsh = 0;
		len = (size_t)tw->sh[1] << 16 | (size_t)tw->sh[2] << 8 |
		    tw->sh[3];
		if (tw->sh[0] != TLS_SERVER_HELLO || len < TLS_SH_HEAD - 4 ||
		    memcmp(tw->sh + 6, tls_hrr_random, sizeof(tls_hrr_random))
		    != 0)
			return 1;
		tw->retries++;
		tw->sskip = len - (TLS_SH_HEAD - 4);
	}
	return 0;
}

/* Server bytes, as they pass.  Returns 1 when the watch is over. */
static int
tls_watch_server(struct tls_watch *tw, const uint8_t *p, size_t n)
{
	size_t	m;

	while (n > 0) {
		if (tw->sleft == 0) {
			m = TLS_REC_HEAD - tw->nshdr < n ?
			    TLS_REC_HEAD - tw->nshdr : n;
			memcpy(tw->shdr + tw->nshdr, p, m);
			tw->nshdr += m;
			p += m;
			n -= m;
			if (tw->nshdr < TLS_REC_HEAD)
				return 0;
			tw->nshdr = 0;
			tw->stype = tw->shdr[0];
			tw->sleft = (size_t)tw->shdr[3] << 8 | tw->shdr[4];
			/* Application data, or no TLS: past any hello. */
			if (tw->stype != TLS_HANDSHAKE &&
			    tw->stype != TLS_CCS && tw->stype != TLS_ALERT)
				return 1;
			continue;
		}
		m = tw->sleft < n ? tw->sleft : n;
		if (tw->stype == TLS_HANDSHAKE &&
		    tls_watch_handshake(tw, p, m) == 1)
			return 1;
		tw->sleft -= m;
		p += m;
		n -= m;
	}
	return 0;
}

/*
 * Bytes about to move in a tunnel, from the client (side 0) or the
 * server (1), at the front of in: how many may go now, all of them once
 * the watch is over; or -1 when the connection was closed.  Called just
 * before they move: what it lets go is taken as gone.
 */
ssize_t
tls_watch(struct hconn *hc, int side, struct evbuffer *in)
{
	struct evbuffer_ptr	 pos;
	struct evbuffer_iovec	 v;
	size_t			 n = evbuffer_get_length(in), off = 0, m;

	if (hc->tw == NULL)
		return (ssize_t)n;
	if (side == 0)
		return tls_watch_client(hc, in);
	if (evbuffer_ptr_set(in, &pos, 0, EVBUFFER_PTR_SET) == -1)
		return (ssize_t)n;
	while (off < n && evbuffer_peek(in, (ev_ssize_t)(n - off), &pos, &v,
	    1) >= 1) {
		m = v.iov_len < n - off ? v.iov_len : n - off;
		if (m == 0)
			break;
		if (tls_watch_server(hc->tw, v.iov_base, m) == 1) {
			tls_watch_free(hc);
			break;
		}
		off += m;
		if (evbuffer_ptr_set(in, &pos, m, EVBUFFER_PTR_ADD) == -1)
			break;
	}
	return (ssize_t)n;
}
