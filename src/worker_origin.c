/*
 * TLS origination, run in the workers: a plain HTTP request whose
 * destination has "tls simple" on its port (or whose service port is
 * https) goes to the origin over TLS that the worker starts and
 * verifies.  One SSL_CTX per destination port, built when a generation
 * arrives from the CA bundle bytes the parent read (the worker opens no
 * file).  The server's name is checked by our own verify callback, so
 * that a verify-san list means any one of its names, patterns or
 * addresses.
 * Sessions are kept for resumption in a small cache keyed by everything
 * a session was verified under (orig_sess_*()): a session is offered only
 * to a connection that would have verified the same way.  OpenSSL is
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

/*
 * The names a connection's server must prove, any one of them: the
 * port's verify-san list, or else the host the request goes to.  Hung
 * on the SSL (ex_data) for the verify callback during the handshake.
 */
struct orig_name {
	int			 ip;		/* an address literal: a */
	int			 pattern;	/* "*.suffix": see below */
	struct egd_addr		 a;
	char			 name[EGD_HOST_MAX];
};
struct orig_names {
	struct orig_name	 n[EGD_MAX_VERIFYSAN];
	int			 count;
	int			 dns;		/* a DNS name among them */
};

/*
 * A kept session and its key: the destination port's settings of this
 * generation (the CA bundle, the client certificate, the minimum
 * version, the ciphers, the verify-san names all belong to it), the
 * address and port dialed, the server name sent and the name verified.
 * Most recently kept first; at most ORIG_SESS_MAX.
 */
#define ORIG_SESS_MAX	256
struct orig_sess {
	TAILQ_ENTRY(orig_sess)	 entry;
	const struct dst_port	*p;
	struct egd_addr		 addr;
	uint16_t		 port;
	char			 sni[EGD_HOST_MAX];
	char			 vhost[EGD_HOST_MAX];
	SSL_SESSION		*sess;
};
static TAILQ_HEAD(orig_sesses, orig_sess) orig_sessions =
    TAILQ_HEAD_INITIALIZER(orig_sessions);
static int			orig_nsess;
static int			orig_names_idx = -1;

static void
orig_names_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx,
    long argl, void *argp)
{
	free(ptr);
}

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
	if ((orig_names_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL,
	    orig_names_free)) < 0)
		fatalx("ex_data index");
}

/*
 * Is a certificate's DNS name (len bytes at s) below the pattern's
 * suffix?  A name such as api.example.com, or the certificate's own
 * wildcard (*.example.com, *.api.example.com): every name it stands for
 * then matches "*.example.com".  Names that are no valid host name, or
 * with a wildcard anywhere but as the whole first label, are not.
 */
static int
orig_pattern_name(const char *pattern, const unsigned char *s, int len)
{
	char		 name[EGD_HOST_MAX];
	const char	*h = name, *why;
	int		 i;

	if (len <= 0 || (size_t)len >= sizeof(name))
		return 0;
	for (i = 0; i < len; i++) {
		if (s[i] == '\0' || s[i] >= 0x80)
			return 0;
		name[i] = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] - 'A' + 'a' :
		    s[i]);
	}
	name[len] = '\0';
	if (name[0] == '*' && name[1] == '.') {
		h = name + 2;
		if (strcmp(h, pattern + 2) == 0)
			return 1;
	}
	return host_valid(h, 0, &why) == 0 && host_match(pattern, h);
}

/*
 * A pattern: one of the certificate's DNS names (subjectAltName; the
 * last common name when it has none, as OpenSSL's own check does) is
 * below its suffix.
 */
static int
orig_pattern_match(const char *pattern, X509 *x)
{
	GENERAL_NAMES		*gens;
	const GENERAL_NAME	*g;
	X509_NAME		*subj;
	ASN1_STRING		*cn;
	int			 i, idx, dns = 0, ok = 0;

	gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	for (i = 0; !ok && i < sk_GENERAL_NAME_num(gens); i++) {
		g = sk_GENERAL_NAME_value(gens, i);
		if (g->type != GEN_DNS)
			continue;
		dns = 1;
		ok = orig_pattern_name(pattern, ASN1_STRING_get0_data(
		    g->d.dNSName), ASN1_STRING_length(g->d.dNSName));
	}
	GENERAL_NAMES_free(gens);
	if (ok || dns)
		return ok;
	subj = X509_get_subject_name(x);
	for (i = -1, idx = -1; (i = X509_NAME_get_index_by_NID(subj,
	    NID_commonName, i)) >= 0; )
		idx = i;
	if (idx >= 0 && (cn = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(
	    subj, idx))) != NULL && ASN1_STRING_type(cn) != V_ASN1_BMPSTRING &&
	    ASN1_STRING_type(cn) != V_ASN1_UNIVERSALSTRING)
		ok = orig_pattern_name(pattern, ASN1_STRING_get0_data(cn),
		    ASN1_STRING_length(cn));
	return ok;
}

/* Does the certificate hold one of the names? */
static int
orig_names_match(const struct orig_names *nm, X509 *x)
{
	const struct orig_name	*n;
	int			 i;

	for (i = 0; i < nm->count; i++) {
		n = &nm->n[i];
		if (n->ip ? X509_check_ip(x, n->a.addr, n->a.af == AF_INET ?
		    4 : 16, 0) == 1 : n->pattern ?
		    orig_pattern_match(n->name, x) : X509_check_host(x,
		    n->name, 0, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS,
		    NULL) == 1)
			return 1;
	}
	return 0;
}

/*
 * OpenSSL's verification, with the name check ours: once the chain of
 * the server's certificate verified, its leaf must hold one of the
 * names.  Without names (none hung on the SSL) nothing verifies.
 */
static int
orig_verify_cb(int ok, X509_STORE_CTX *xs)
{
	const struct orig_names	*nm = NULL;
	SSL			*ssl;
	X509			*x;

	if (!ok || X509_STORE_CTX_get_error_depth(xs) != 0)
		return ok;
	if ((ssl = X509_STORE_CTX_get_ex_data(xs,
	    SSL_get_ex_data_X509_STORE_CTX_idx())) != NULL)
		nm = SSL_get_ex_data(ssl, orig_names_idx);
	if (nm == NULL) {
		X509_STORE_CTX_set_error(xs,
		    X509_V_ERR_APPLICATION_VERIFICATION);
		return 0;
	}
	if ((x = X509_STORE_CTX_get_current_cert(xs)) != NULL &&
	    orig_names_match(nm, x))
		return 1;
	X509_STORE_CTX_set_error(xs, nm->dns ? X509_V_ERR_HOSTNAME_MISMATCH :
	    X509_V_ERR_IP_ADDRESS_MISMATCH);
	return 0;
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
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, orig_verify_cb);
	/*
	 * Sessions are kept by hand (orig_keep_session()).  OpenSSL's
	 * client cache would add nothing, and in 3.0 it removes the
	 * session it shares at the end of each TLS 1.3 handshake, making
	 * it unresumable for the connections that open meanwhile.
	 */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	/* A server's renegotiation could show another certificate. */
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
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
orig_sess_drop(struct orig_sess *os)
{
	TAILQ_REMOVE(&orig_sessions, os, entry);
	orig_nsess--;
	SSL_SESSION_free(os->sess);
	free(os);
}

/* The port's generation ends: its sessions go (its pointer may return). */
static void
orig_port_free(struct dst_port *p)
{
	struct orig_sess	*os, *next;

	for (os = TAILQ_FIRST(&orig_sessions); os != NULL; os = next) {
		next = TAILQ_NEXT(os, entry);
		if (os->p == p)
			orig_sess_drop(os);
	}
	SSL_CTX_free(p->ctx);	/* live connections hold their own reference */
	p->ctx = NULL;
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
	struct hostmap_iter	 it;
	uint32_t		 id;
	int			 i, pass;

	*found = 0;
	for (pass = 0; pass < 2; pass++) {
		hostmap_find(conf->dstmap, host, pass == 0 ? HM_EXACT :
		    HM_PATTERNS, &it);
		while (hostmap_next(&it, &id)) {
			d = conf->dstv.v[id - 1];
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
 * The server name a request's TLS connection sends: the rule's sni, else
 * the host, but none for an address literal (RFC 6066, section 3: SNI
 * carries DNS names only).  "" for none.
 */
const char *
orig_sni(const struct dst_port *p, const char *host)
{
	struct egd_addr	a;

	if (p->sni[0] != '\0')
		return p->sni;
	if (egd_addr_parse(host, &a) == 0)
		return "";
	return host;
}

/* The names to verify, for the SSL to carry; -1 if one is unusable. */
static int
orig_names_set(SSL *ssl, const struct dst_port *p, const char *vhost)
{
	struct orig_names	*nm;
	struct orig_name	*n;
	const char		*name;
	int			 i, count = p->nsan > 0 ? p->nsan : 1;

	if ((nm = calloc(1, sizeof(*nm))) == NULL)
		return -1;
	for (i = 0; i < count; i++) {
		name = p->nsan > 0 ? p->san[i] : vhost;
		n = &nm->n[nm->count++];
		if (egd_addr_parse(name, &n->a) == 0)
			n->ip = 1;
		else if (strlcpy(n->name, name, sizeof(n->name)) >=
		    sizeof(n->name) || n->name[0] == '\0') {
			free(nm);
			return -1;
		} else {
			nm->dns = 1;
			n->pattern = name[0] == '*' && name[1] == '.';
		}
	}
	if (SSL_set_ex_data(ssl, orig_names_idx, nm) != 1) {
		free(nm);
		return -1;
	}
	return 0;
}

/* The session kept under up's key, or NULL. */
static struct orig_sess *
orig_sess_find(const struct upstream *up)
{
	struct orig_sess	*os;

	TAILQ_FOREACH(os, &orig_sessions, entry)
		if (os->p == up->tls && os->port == up->port &&
		    egd_addr_equal(&os->addr, &up->addr) &&
		    strcmp(os->sni, up->sni) == 0 &&
		    strcmp(os->vhost, up->vhost) == 0)
			return os;
	return NULL;
}

/*
 * Wrap up's connected socket bufferevent in a TLS client: SNI, the names
 * to verify, a session kept under the same key.  Returns the filter
 * (which owns the socket bufferevent and the SSL from then on, up->ssl)
 * or NULL.
 */
struct bufferevent *
orig_wrap(struct event_base *base, struct upstream *up)
{
	struct bufferevent	*bev;
	struct orig_sess	*os;
	SSL			*ssl;

	if ((ssl = SSL_new(up->tls->ctx)) == NULL)
		return NULL;
	if ((up->sni[0] != '\0' && SSL_set_tlsext_host_name(ssl,
	    up->sni) != 1) || orig_names_set(ssl, up->tls, up->vhost) == -1 ||
	    (bev = bufferevent_openssl_filter_new(base, up->bev, ssl,
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
	if ((os = orig_sess_find(up)) != NULL)
		(void)SSL_set_session(ssl, os->sess);
	/*
	 * Deferred callbacks: libevent 2.1 reports a close read together
	 * with the last data before it has stored that data; deferred, the
	 * read callback runs first.  Origins often close without
	 * close_notify; lengths are checked.
	 */
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	up->ssl = ssl;
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
	struct orig_names	*nm = NULL;
	SSL			*ssl = sslp;
	X509			*x;
	long			 v;
	unsigned long		 e;

	v = SSL_get_verify_result(ssl);
	x = SSL_get0_peer_certificate(ssl);
	/*
	 * The names again, on the certificate of a resumed session too:
	 * its key says it was verified for them, this makes sure.
	 */
	if (v == X509_V_OK && x != NULL &&
	    (nm = SSL_get_ex_data(ssl, orig_names_idx)) != NULL &&
	    !orig_names_match(nm, x))
		v = nm->dns ? X509_V_ERR_HOSTNAME_MISMATCH :
		    X509_V_ERR_IP_ADDRESS_MISMATCH;
	if (v == X509_V_OK && x != NULL && nm != NULL) {
		/* Renegotiation is off: the names are needed no more. */
		SSL_set_ex_data(ssl, orig_names_idx, NULL);
		free(nm);
		return 0;
	}
	e = orig_bev_error(bev);
	if (v != X509_V_OK)
		strlcpy(buf, X509_verify_cert_error_string(v), size);
	else if (nm == NULL && x != NULL)
		strlcpy(buf, "no names to verify", size);
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

/*
 * After a handshake or an exchange: keep the session to resume, under
 * the connection's key (see struct orig_sess).  Only verified
 * connections come here.
 */
void
orig_keep_session(struct upstream *up)
{
	struct orig_sess	*os;
	SSL_SESSION		*s;

	if ((s = SSL_get1_session(up->ssl)) == NULL)
		return;
	if (!SSL_SESSION_is_resumable(s)) {
		SSL_SESSION_free(s);
		return;
	}
	if ((os = orig_sess_find(up)) != NULL) {
		if (os->sess == s) {
			SSL_SESSION_free(s);
			return;
		}
		TAILQ_REMOVE(&orig_sessions, os, entry);
		SSL_SESSION_free(os->sess);
	} else {
		if (orig_nsess >= ORIG_SESS_MAX)
			orig_sess_drop(TAILQ_LAST(&orig_sessions, orig_sesses));
		if ((os = calloc(1, sizeof(*os))) == NULL) {
			SSL_SESSION_free(s);
			return;
		}
		os->p = up->tls;
		os->addr = up->addr;
		os->port = up->port;
		strlcpy(os->sni, up->sni, sizeof(os->sni));
		strlcpy(os->vhost, up->vhost, sizeof(os->vhost));
		orig_nsess++;
	}
	os->sess = s;
	TAILQ_INSERT_HEAD(&orig_sessions, os, entry);
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
