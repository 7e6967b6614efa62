/*
 * Configuration generations on live client connections, run in the
 * workers.  A request is decided by the generation in force when its
 * head has been read; a request in flight at a reload finishes under the
 * generation that decided it.  So a keep-alive connection moves to the
 * new generation at the reload if it is between requests, else once its
 * request is answered (gen_rebind), and its next request sees the new
 * gateway hosts, routes, limits, destinations and audit settings.  A
 * connection whose listener the new generation no longer has (or has
 * with other TLS settings) is closed instead: at once if it is between
 * requests, after its answer if one is in flight; a request whose head
 * was begun is answered 503 (shutting_down) once whole.
 *
 * Tunnels (CONNECT, TLS passthrough, websocket) are decided again at
 * every reload, and when one opens after the generation that let it
 * through was replaced: one the generation in force still allows goes
 * on untouched, under the generation it was opened with; one it refuses
 * is revoked, closed after that generation's "revoke grace" seconds (a
 * later reload may shorten the wait, or allow it again), and its one
 * audit record is a DENY with reason "revoked", the refusing generation
 * and the reason it gave (revoked_by).
 *
 * Interface: gen_listener_id() and gen_reload() for worker.c at each
 * generation, gen_rebind() for worker_http.c between requests,
 * gen_tunnel_open() for worker_relay.c, gen_conn_gone() for worker.c
 * when a connection ends.  Calls policy.c, worker_origin.c (TLS settings)
 * and worker_http.c (the connections, the close).
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>

#include <string.h>

#include <openssl/evp.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "worker.h"

#define REASON(r)	audit_reason_name(r)

/*
 * What a connection depends on in its listener beyond the address: the
 * protocol and, on https listeners, the TLS settings of the handshake it
 * made (certificate, client CAs, their contents, versions, ciphers).
 * Hashed while the bundles' text is still there (before
 * orig_conf_build()); plain listeners keep all zeros.
 */
void
gen_listener_id(const struct egressd_conf *conf, struct wlistener *l)
{
	const struct ca_bundle	*b;
	EVP_MD_CTX		*md;
	uint32_t		 v[4];
	unsigned int		 len = sizeof(l->tlsid);

	memset(l->tlsid, 0, sizeof(l->tlsid));
	if (l->m.proto != PROTO_HTTPS)
		return;
	if ((md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)
		fatalx("listener settings: no SHA-256");
	v[0] = l->m.proto;
	v[1] = l->m.client_optional;
	v[2] = l->m.minver;
	v[3] = l->m.clientca_id >= 0;
	EVP_DigestUpdate(md, v, sizeof(v));
	EVP_DigestUpdate(md, l->m.ciphers, strnlen(l->m.ciphers,
	    sizeof(l->m.ciphers)));
	b = &conf->cas[l->m.cert_id];
	v[0] = (uint32_t)b->len;
	EVP_DigestUpdate(md, v, sizeof(v[0]));
	if (b->pem != NULL)
		EVP_DigestUpdate(md, b->pem, b->len);
	if (l->m.clientca_id >= 0) {
		b = &conf->cas[l->m.clientca_id];
		v[0] = (uint32_t)b->len;
		EVP_DigestUpdate(md, v, sizeof(v[0]));
		if (b->pem != NULL)
			EVP_DigestUpdate(md, b->pem, b->len);
	}
	if (EVP_DigestFinal_ex(md, l->tlsid, &len) != 1)
		fatalx("listener settings: SHA-256");
	EVP_MD_CTX_free(md);
}

/* Where a connection of listener l belongs in generation wc, or NULL. */
static struct wlistener *
gen_listener(const struct wlistener *l, struct wconf *wc)
{
	struct wlistener	*n;

	TAILQ_FOREACH(n, &wc->listeners, entry)
		if (n->m.sslen == l->m.sslen && n->m.proto == l->m.proto &&
		    n->m.transparent == l->m.transparent &&
		    memcmp(&n->m.ss, &l->m.ss, l->m.sslen) == 0 &&
		    memcmp(n->tlsid, l->tlsid, sizeof(n->tlsid)) == 0)
			return n;
	return NULL;
}

/*
 * A connection between requests goes over to the generation in force:
 * its next request is decided there.  Returns -1 when that generation
 * has no place for it (its listener went or changed): the caller closes
 * it.  Nothing of the old generation stays referenced from hc.
 */
int
gen_rebind(struct hconn *hc)
{
	struct wconf		*cur = worker_conf(), *old = hc->wc;
	struct wlistener	*l;
	struct timeval		 tv;

	if (old == cur)
		return 0;
	if (hc->tunnel_open || (l = gen_listener(hc->wl, cur)) == NULL)
		return -1;
	cur->refcnt++;
	cur->nconns++;
	old->nconns--;
	hc->wc = cur;
	hc->wl = l;
	hc->tls = NULL;		/* set again by the next decision */
	memset(&hc->dec, 0, sizeof(hc->dec));
	/* The next head gets an arena within the new limits. */
	if (hc->state != HS_HEAD || hc->req.len == 0)
		hhead_free(&hc->req);
	if (cur->conf->idle_timeout != old->conf->idle_timeout) {
		tv.tv_sec = cur->conf->idle_timeout;
		tv.tv_usec = 0;
		bufferevent_set_timeouts(hc->bev, &tv, &tv);
	}
	wconf_unref(old);
	worker_gens_publish();
	return 0;
}

/* As policy.c asks: the nth value of a field (struct policy_req). */
static const char *
gen_header(void *arg, const char *name, int n, size_t *len)
{
	struct hconn	*hc = arg;

	return hhead_nth(&hc->req, name, n, len);
}

/* Is the destination of d the one the tunnel went to? */
static int
gen_same_dest(const struct policy_dec *d, const struct hconn *hc)
{
	return d->port == hc->dec.port && strcmp(d->host, hc->dec.host) == 0;
}

/*
 * Would generation wc let the tunnel of hc through, as it was asked for
 * and to where it went?  NULL if so, else the reason it gives: one of
 * the audit trail's reasons, "listener_changed" or "route_changed" (the
 * route now sends the request elsewhere).  The limits are not counted
 * again: a tunnel already holds its place.
 */
static const char *
gen_allows(struct hconn *hc, struct wconf *wc)
{
	const struct egressd_conf	*conf = wc->conf;
	const struct route_match	*m;
	struct wlistener		*l;
	struct policy_req		 q;
	struct policy_dec		 d;
	struct dst_port			*tls;
	struct egd_addr			 a;
	const char			*err;
	uint32_t			 rnd;
	int				 pass, i, found, why;

	if ((l = gen_listener(hc->wl, wc)) == NULL)
		return "listener_changed";
	pass = l->m.proto == PROTO_TLS;
	memset(&q, 0, sizeof(q));
	q.gateway = l->m.gateway;
	q.src = &hc->caddr;
	q.connect = pass || hc->parser.method == HTTP_CONNECT;
	q.host = hc->host;
	q.port = hc->port;
	/* A tls listener's host is a literal only for a nameless hello. */
	q.literal = egd_addr_parse(hc->host, &a) == 0;
	q.method = pass ? "CONNECT" : hc->method;
	q.path = hc->path;
	q.pathlen = hc->pathlen;
	if (!pass) {
		q.header = gen_header;
		q.harg = hc;
	}
	if (hc->term != NULL) {
		q.ids = hc->term->ids;
		q.nids = hc->term->nids;
	}
	if (policy_decide(conf, &q, &d, 0) == -1)
		return REASON(d.reason);
	if (!gen_same_dest(&d, hc)) {
		/* Weighted destinations: any of them will do. */
		found = 0;
		m = d.match;
		for (i = 0, rnd = 0; m != NULL && i < m->ndests && !found;
		    rnd += m->dests[i].weight, i++)
			found = policy_decide(conf, &q, &d, rnd) == 0 &&
			    gen_same_dest(&d, hc);
		if (!found)
			return "route_changed";
	}
	if (pass && d.sport->proto != SPROTO_TLS &&
	    d.sport->proto != SPROTO_HTTPS)
		return REASON(AR_PROTOCOL);
	if (hc->term != NULL && hc->term->sni[0] != '\0' &&
	    strcmp(hc->term->sni, hc->host) != 0 && !d.svc->sni_nocheck)
		return REASON(AR_SNI_MISMATCH);
	if (!q.connect) {
		/* A websocket: a route must still allow it, TLS still work. */
		if (!d.websocket)
			return REASON(AR_WEBSOCKET_DENIED);
		if (orig_select(conf, d.host, d.port, d.sport->proto, &tls,
		    &err) == -1)
			return REASON(AR_TLS_HANDSHAKE);
	}
	/*
	 * Where it went, as the dial guard of the new generation sees it
	 * (guard.c): a listener of ours now, or a private address the
	 * service no longer allows, in whole or in its listed networks.
	 * Report mode keeps private addresses, as when dialing.
	 */
	if (hc->up != NULL && hc->up->connected &&
	    (why = guard_dial(conf, d.svc, &hc->up->addr, hc->up->port)) !=
	    AR_NONE && (why == AR_LOOP || d.svc->action != ACT_REPORT))
		return REASON(why);
	return NULL;
}

/*
 * A connection between requests whose listener a reload took: a request
 * begun is refused once whole (503, shutting_down, in http_decide());
 * else it ends now.  Run from the event loop after the reload, so that
 * what the client sent before it has been read.
 */
static void
gen_listener_gone(struct hconn *hc)
{
	if (hc->state != HS_HEAD || gen_rebind(hc) == 0)
		return;		/* being answered, or back in place */
	if (hc->req.buf != NULL ||
	    evbuffer_get_length(bufferevent_get_input(hc->bev)) > 0)
		hc->keepalive = 0;
	else
		http_close(hc, 0);
}

static void
gen_revoke_cb(int fd, short ev, void *arg)
{
	struct hconn	*hc = arg;
	char		 addr[64];

	if (hc->state != HS_TUNNEL) {
		gen_listener_gone(hc);
		return;
	}
	if (hc->revoked == 0)
		return;		/* allowed again meanwhile */
	log_info("tunnel %llu from %s to %s port %u: closed, revoked by "
	    "generation %u (%s)", (unsigned long long)hc->id,
	    egd_addr_ntop(&hc->caddr, addr, sizeof(addr)), hc->host,
	    hc->port, hc->revoked, hc->revoked_by);
	http_drop(hc, AR_REVOKED);	/* the record says revoked */
}

/* The connection's timer: a revocation's grace, or gen_listener_gone(). */
static void
gen_timer(struct hconn *hc, const struct timeval *tv)
{
	if (hc->revoke_ev == NULL &&
	    (hc->revoke_ev = evtimer_new(worker_base, gen_revoke_cb, hc)) ==
	    NULL)
		fatalx("evtimer_new");
	evtimer_add(hc->revoke_ev, tv);
}

/*
 * Decide a tunnel again under the generation in force.  Refused: closed
 * after the grace (not later than an earlier refusal said); allowed
 * again: the earlier refusal is withdrawn.  Never closes at once: the
 * close comes from the event loop, so callers keep hc.
 */
static void
gen_recheck(struct hconn *hc, struct wconf *cur)
{
	struct timeval	 now, tv, at;
	const char	*why;
	char		 addr[64];

	hc->checked = cur->gen;
	egd_addr_ntop(&hc->caddr, addr, sizeof(addr));
	if ((why = gen_allows(hc, cur)) == NULL) {
		if (hc->revoked != 0) {
			log_info("tunnel %llu from %s to %s port %u: allowed "
			    "again by generation %u, not closed",
			    (unsigned long long)hc->id, addr, hc->host,
			    hc->port, cur->gen);
			hc->revoked = 0;
			hc->revoked_by = NULL;
			evtimer_del(hc->revoke_ev);
		}
		return;
	}
	gettimeofday(&now, NULL);
	tv.tv_sec = cur->conf->revoke_grace;
	tv.tv_usec = 0;
	timeradd(&now, &tv, &at);
	if (hc->revoked != 0) {
		if (!timercmp(&at, &hc->revoke_at, <))
			return;		/* the earlier deadline stands */
	} else {
		hc->revoked = cur->gen;
		hc->revoked_by = why;
	}
	hc->revoke_at = at;
	gen_timer(hc, &tv);
	log_info("tunnel %llu from %s to %s port %u: refused by generation "
	    "%u (%s), closing in %d s", (unsigned long long)hc->id, addr,
	    hc->host, hc->port, cur->gen, why, cur->conf->revoke_grace);
}

/* What a reload means for one connection. */
static void
gen_reload_conn(struct hconn *hc, void *arg)
{
	static const struct timeval	 now = { 0, 0 };
	struct wconf			*cur = arg;

	switch (hc->state) {
	case HS_HEAD:
		/* Nothing decided yet: the next request is the new one's. */
		if (gen_rebind(hc) == 0)
			break;
		/*
		 * Its listener went.  Nothing can be answered on a tls
		 * listener or in a TLS handshake: closed.  Else see what
		 * the client sent first.
		 */
		if (hc->wl->m.proto == PROTO_TLS ||
		    (hc->term != NULL && !hc->term->done))
			http_close(hc, 0);
		else
			gen_timer(hc, &now);
		break;
	case HS_DECIDE:
	case HS_FORWARD:
		/* In flight: it ends as it started; then rebound, or closed. */
		if (hc->wc != cur && gen_listener(hc->wl, cur) == NULL)
			hc->keepalive = 0;
		break;
	case HS_TUNNEL:
		gen_recheck(hc, cur);
		break;
	default:
		break;
	}
}

/* A generation came into force: every open connection learns of it. */
void
gen_reload(struct wconf *cur)
{
	http_foreach(gen_reload_conn, cur);
	worker_gens_publish();
}

/*
 * A connection starts moving bytes as a tunnel: counted as one, and
 * decided again if a generation newer than its own came meanwhile (a
 * CONNECT or an upgrade in flight at a reload).
 */
void
gen_tunnel_open(struct hconn *hc)
{
	struct wconf	*cur = worker_conf();

	hc->tunnel_open = 1;
	hc->wc->ntunnels++;
	worker_gens_publish();
	if (hc->wc != cur && hc->checked != cur->gen)
		gen_recheck(hc, cur);
}

void
gen_conn_gone(struct hconn *hc)
{
	if (hc->revoke_ev != NULL) {
		event_free(hc->revoke_ev);
		hc->revoke_ev = NULL;
	}
}
