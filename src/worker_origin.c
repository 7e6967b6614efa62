/*
 * TLS origination, run in the workers: a plain HTTP request whose
 * destination has "tls simple" on its port (or whose service port is
 * https) goes to the origin over TLS that the worker starts and
 * verifies.  One SSL_CTX per destination port, built when a generation
 * arrives from the CA bundle bytes the parent read (the worker opens no
 * file); one cached session per port for resumption.  OpenSSL is
 * initialised, its configuration and providers loaded, before the
 * worker enters its empty root (orig_init()).
 */
#include "config.h"

#include <sys/types.h>

#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>

#include "worker.h"

/* Before the chroot: everything OpenSSL would read from disk. */
void
orig_init(void)
{
	SSL_CTX	*ctx;

	if (OPENSSL_init_ssl(OPENSSL_INIT_LOAD_CONFIG |
	    OPENSSL_INIT_LOAD_SSL_STRINGS | OPENSSL_INIT_LOAD_CRYPTO_STRINGS,
	    NULL) != 1)
		fatalx("OPENSSL_init_ssl");
	/* Fetch the client method's algorithms now: providers load here. */
	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL)
		fatalx("SSL_CTX_new");
	SSL_CTX_free(ctx);
}

void
orig_log_errors(const char *what)
{
	unsigned long	e;
	char		buf[256];

	while ((e = ERR_get_error()) != 0) {
		ERR_error_string_n(e, buf, sizeof(buf));
		log_warnx("%s: %s", what, buf);
	}
}

/* A trust store of every certificate in a PEM bundle. */
X509_STORE *
orig_store(const struct ca_bundle *ca)
{
	X509_STORE	*st;
	X509		*x;
	BIO		*bio;
	int		 n = 0;

	if ((st = X509_STORE_new()) == NULL)
		return NULL;
	if ((bio = BIO_new_mem_buf(ca->pem, (int)ca->len)) == NULL) {
		X509_STORE_free(st);
		return NULL;
	}
	while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		if (X509_STORE_add_cert(st, x) == 1)
			n++;
		X509_free(x);
	}
	ERR_clear_error();	/* the end of the bundle reads as an error */
	BIO_free(bio);
	if (n == 0) {
		X509_STORE_free(st);
		return NULL;
	}
	return st;
}

static SSL_CTX *
orig_ctx(const struct egressd_conf *conf, const struct dst_port *p,
    const char *name)
{
	const struct ca_bundle	*ca = &conf->cas[p->ca_id];
	SSL_CTX		*ctx;
	X509_STORE	*st;

	if ((st = orig_store(ca)) == NULL) {
		log_warnx("%s: no certificate in CA bundle %s", name,
		    ca->path);
		return NULL;
	}
	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL) {
		X509_STORE_free(st);
		orig_log_errors(name);
		return NULL;
	}
	SSL_CTX_set_cert_store(ctx, st);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	/*
	 * Sessions are kept by hand, one per destination port
	 * (orig_keep_session()).  OpenSSL's client cache would add
	 * nothing, and in 3.0 it removes the session it shares at the end
	 * of each TLS 1.3 handshake, making it unresumable for the
	 * connections that open meanwhile.
	 */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	if (SSL_CTX_set_min_proto_version(ctx, p->minver == 13 ?
	    TLS1_3_VERSION : TLS1_2_VERSION) != 1 ||
	    (p->ciphers[0] != '\0' &&
	    SSL_CTX_set_cipher_list(ctx, p->ciphers) != 1)) {
		orig_log_errors(name);
		SSL_CTX_free(ctx);
		return NULL;
	}
	/* tls mutual: our certificate; its key stays in the helper. */
	if (p->mode == TLSM_MUTUAL && (p->cert_id < 0 || p->cert_id >=
	    conf->ncas || wkey_use_chain(ctx, conf->cas[p->cert_id].pem,
	    conf->cas[p->cert_id].len) == -1)) {
		log_warnx("%s: client certificate unusable", name);
		orig_log_errors(name);
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

/*
 * Contexts for a new generation.  One that cannot be built (a bundle
 * without certificates, a cipher list OpenSSL refuses) is logged and
 * left NULL: its requests are refused, nothing goes out unverified.
 */
void
orig_conf_build(struct egressd_conf *conf)
{
	struct destination	*d;
	struct dst_port		*p;
	int			 i;

	TAILQ_FOREACH(d, &conf->destinations, entry)
		for (i = 0; i < d->nports; i++) {
			p = &d->ports[i];
			if (p->mode == TLSM_SIMPLE || p->mode == TLSM_MUTUAL)
				p->ctx = orig_ctx(conf, p, d->name);
		}
	if (conf->default_ca >= 0) {
		if (conf->default_ca >= conf->ncas || conf->cas[conf->
		    default_ca].got != conf->cas[conf->default_ca].len)
			fatalx("parent: bad default CA bundle");
		p = ps_xcalloc(1, sizeof(*p));
		p->mode = TLSM_SIMPLE;
		p->minver = 12;
		p->ca_id = (uint32_t)conf->default_ca;
		p->ctx = orig_ctx(conf, p, "https");
		conf->default_port = p;
	}
	/* The stores hold the certificates now: the text is not needed. */
	for (i = 0; i < conf->ncas; i++) {
		free(conf->cas[i].pem);
		conf->cas[i].pem = NULL;
	}
}

static void
orig_port_free(struct dst_port *p)
{
	SSL_CTX_free(p->ctx);	/* live connections hold their own reference */
	SSL_SESSION_free(p->sess);
	p->ctx = p->sess = NULL;
}

void
orig_conf_free(struct egressd_conf *conf)
{
	struct destination	*d;
	int			 i;

	TAILQ_FOREACH(d, &conf->destinations, entry)
		for (i = 0; i < d->nports; i++)
			orig_port_free(&d->ports[i]);
	if (conf->default_port != NULL) {
		orig_port_free(conf->default_port);
		free(conf->default_port);
		conf->default_port = NULL;
	}
}

/*
 * The rule for host:port: exact names first, then patterns, each in
 * file order.  Returns the port's settings, or NULL with *found 0 when
 * no rule covers it.
 */
static struct dst_port *
orig_rule(const struct egressd_conf *conf, const char *host, uint16_t port,
    int *found)
{
	struct destination	*d;
	int			 i, pass;

	*found = 0;
	for (pass = 0; pass < 2; pass++) {
		TAILQ_FOREACH(d, &conf->destinations, entry) {
			if (pass == 0 ? strcmp(d->host, host) != 0 :
			    d->host[0] != '*' || !host_match(d->host, host))
				continue;
			for (i = 0; i < d->nports; i++)
				if (d->ports[i].port == port) {
					*found = 1;
					return &d->ports[i];
				}
		}
	}
	return NULL;
}

/*
 * How a request goes to its destination (after routing): the port's TLS
 * settings, or NULL for plain HTTP.  Returns -1 when TLS is wanted but
 * cannot be had (*why set).
 */
int
orig_select(const struct egressd_conf *conf, const char *host, uint16_t port,
    int sproto, struct dst_port **tls, const char **why)
{
	struct dst_port	*p;
	int		 found;

	*tls = NULL;
	p = orig_rule(conf, host, port, &found);
	if (found && p->mode == TLSM_DISABLE)
		return 0;
	if (!found && sproto != SPROTO_HTTPS)
		return 0;
	if (!found && (p = conf->default_port) == NULL) {
		*why = "no CA bundle for this https port";
		return -1;
	}
	if (p->ctx == NULL) {
		*why = "no usable TLS settings for this port";
		return -1;
	}
	*tls = p;
	return 0;
}

/*
 * Wrap a connected socket bufferevent in a TLS client: SNI, the names
 * to verify, the cached session.  Returns the filter (which owns the
 * socket bufferevent and the SSL from then on) or NULL.
 */
struct bufferevent *
orig_wrap(struct event_base *base, struct bufferevent *under,
    struct dst_port *p, const char *sni, const char *vhost, void **sslp)
{
	struct bufferevent	*bev;
	SSL			*ssl;
	int			 i, ok;

	if ((ssl = SSL_new(p->ctx)) == NULL)
		return NULL;
	ok = SSL_set_tlsext_host_name(ssl, sni) == 1;
	if (p->nsan == 0)
		ok = ok && SSL_set1_host(ssl, vhost) == 1;
	for (i = 0; ok && i < p->nsan; i++)
		ok = (i == 0 ? SSL_set1_host(ssl, p->san[i]) :
		    SSL_add1_host(ssl, p->san[i])) == 1;
	SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	if (!ok || (bev = bufferevent_openssl_filter_new(base, under, ssl,
	    BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE |
	    BEV_OPT_DEFER_CALLBACKS)) == NULL) {
		SSL_free(ssl);
		ERR_clear_error();
		return NULL;
	}
	/*
	 * After the filter is made: libevent clears the SSL as it starts
	 * one, and the handshake waits for the caller's kick.
	 */
	if (p->sess != NULL)
		(void)SSL_set_session(ssl, p->sess);
	/*
	 * Deferred callbacks: libevent 2.1 reports a close read together
	 * with the last data before it has stored that data; deferred, the
	 * read callback runs first.  Origins often close without
	 * close_notify; lengths are checked.
	 */
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	*sslp = ssl;
	return bev;
}

/*
 * The OpenSSL error a TLS bufferevent kept, its queue emptied: the first
 * one OpenSSL has a reason for (libevent queues its SSL_get_error()
 * code among them, which has none), or 0.
 */
unsigned long
orig_bev_error(struct bufferevent *bev)
{
	unsigned long	e, first = 0;

	while ((e = bufferevent_get_openssl_error(bev)) != 0)
		if (first == 0 && ERR_reason_error_string(e) != NULL)
			first = e;
	return first;
}

/*
 * The handshake ended: 0 when the server was verified, else -1 with the
 * OpenSSL verify error (or the handshake error) in buf.
 */
int
orig_verified(void *sslp, struct bufferevent *bev, char *buf, size_t size)
{
	SSL		*ssl = sslp;
	X509		*x;
	long		 v;
	unsigned long	 e;

	v = SSL_get_verify_result(ssl);
	x = SSL_get0_peer_certificate(ssl);
	if (v == X509_V_OK && x != NULL)
		return 0;
	e = orig_bev_error(bev);
	if (v != X509_V_OK)
		strlcpy(buf, X509_verify_cert_error_string(v), size);
	else if (e != 0)
		ERR_error_string_n(e, buf, size);
	else
		strlcpy(buf, "no server certificate", size);
	return -1;
}

/* A handshake error: was it the verification that failed? */
int
orig_verify_error(void *sslp, char *buf, size_t size)
{
	long	v = SSL_get_verify_result(sslp);

	if (v == X509_V_OK)
		return 0;
	strlcpy(buf, X509_verify_cert_error_string(v), size);
	return 1;
}

/*
 * An OpenSSL error kept by a TLS connection that failed: its reason in
 * buf and 0, or -1 when it kept none of libssl's (a plain reset).
 */
int
orig_alert(struct bufferevent *bev, char *buf, size_t size)
{
	unsigned long	e = orig_bev_error(bev);

	if (e == 0 || ERR_GET_LIB(e) != ERR_LIB_SSL)
		return -1;
	strlcpy(buf, ERR_reason_error_string(e), size);
	return 0;
}

/* After a handshake or an exchange: keep the session to resume. */
void
orig_keep_session(struct dst_port *p, void *sslp)
{
	SSL_SESSION	*s;

	if ((s = SSL_get1_session(sslp)) == NULL)
		return;
	if (!SSL_SESSION_is_resumable(s) || s == p->sess) {
		SSL_SESSION_free(s);
		return;
	}
	SSL_SESSION_free(p->sess);
	p->sess = s;
}

void
orig_info(void *sslp, const char **version, int *resumed)
{
	*version = SSL_get_version(sslp);
	*resumed = SSL_session_reused(sslp);
}

/*
 * A connection that did its work is let go without close_notify (its
 * socket is simply closed): say it was shut down, or OpenSSL marks the
 * session it shares with the cache as not resumable.
 */
void
orig_done(void *sslp)
{
	SSL_set_shutdown(sslp, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
}

int
orig_same_ctx(void *sslp, const struct dst_port *p)
{
	return SSL_get_SSL_CTX(sslp) == p->ctx;
}
