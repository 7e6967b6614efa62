/*
 * TLS termination on https listeners, in the workers.  One SSL_CTX per
 * listener and generation, built from the certificate chain the parent
 * read; the private key stays in the helper (worker_key.c).  With a
 * "client ca", clients present a certificate that verifies against it
 * (or may, with "client optional"); the verified certificate's names
 * become the connection's identity, which "from identity" rules match
 * (policy.c) and the audit records carry.
 *
 * TLS 1.2 is offered with ECDHE key exchange only: the helper signs but
 * never decrypts (see helper_key.c).
 *
 * The server name a client asks for is read from its ClientHello (each
 * of them: a second one follows a HelloRetryRequest, and must not name
 * another host) and binds the session: the session id context is the
 * listener and the name, so a session is resumed only under the name it
 * was made for, and the SNI/Host check has the name on every connection,
 * resumed or not.
 */
#include "config.h"

#include <sys/types.h>

#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>

#include "worker.h"

#define TERM_CIPHERS	"ECDHE+AESGCM:ECDHE+CHACHA20"

/* What a connection's ClientHellos said, hung on its SSL (ex_data). */
struct term_hello {
	uint32_t		 lid;		/* the listener's id */
	int			 seen;		/* a hello was read */
	int			 changed;	/* a later one named another */
	char			 name[EGD_HOST_MAX];	/* as sent, "": none */
};
static int	term_hello_idx = -1;

static void
term_hello_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx,
    long argl, void *argp)
{
	free(ptr);
}

/*
 * The host_name of a server_name extension, as sent (OpenSSL checks
 * the rest of the extension itself).  0, or -1 when it is malformed or
 * too long.
 */
static int
term_sni(const unsigned char *p, size_t len, char *name, size_t size)
{
	size_t	n;

	if (len < 2 || ((size_t)p[0] << 8 | p[1]) != len - 2)
		return -1;
	for (p += 2, len -= 2; len >= 3; p += 3 + n, len -= 3 + n) {
		n = (size_t)p[1] << 8 | p[2];
		if (n > len - 3)
			return -1;
		if (p[0] != TLSEXT_NAMETYPE_host_name)
			continue;
		if (n == 0 || n >= size || memchr(p + 3, '\0', n) != NULL)
			return -1;
		memcpy(name, p + 3, n);
		name[n] = '\0';
		return 0;
	}
	return len == 0 ? 0 : -1;
}

/*
 * Each ClientHello, before OpenSSL looks for a session to resume: the
 * server name binds the session (its id context is a hash of the
 * listener and the name), and a hello after the first must name the
 * same host.
 */
static int
term_hello_cb(SSL *ssl, int *al, void *arg)
{
	struct term_hello	*th = SSL_get_ex_data(ssl, term_hello_idx);
	const unsigned char	*ext;
	size_t			 len;
	char			 name[EGD_HOST_MAX], ctx[32 + EGD_HOST_MAX];
	unsigned char		 md[EVP_MAX_MD_SIZE];
	unsigned int		 mdlen;
	int			 n;

	name[0] = '\0';
	if (th == NULL) {
		*al = SSL_AD_INTERNAL_ERROR;
		return SSL_CLIENT_HELLO_ERROR;
	}
	if (SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_server_name, &ext,
	    &len) == 1 && term_sni(ext, len, name, sizeof(name)) == -1) {
		*al = SSL_AD_DECODE_ERROR;
		return SSL_CLIENT_HELLO_ERROR;
	}
	if (th->seen && strcmp(th->name, name) != 0) {
		th->changed = 1;
		*al = SSL_AD_ILLEGAL_PARAMETER;
		return SSL_CLIENT_HELLO_ERROR;
	}
	th->seen = 1;
	strlcpy(th->name, name, sizeof(th->name));
	n = snprintf(ctx, sizeof(ctx), "https listener %u sni %s", th->lid,
	    name);
	if (n < 0 || (size_t)n >= sizeof(ctx) ||
	    EVP_Digest(ctx, (size_t)n, md, &mdlen, EVP_sha256(), NULL) != 1 ||
	    mdlen > SSL_MAX_SID_CTX_LENGTH ||
	    SSL_set_session_id_context(ssl, md, mdlen) != 1) {
		*al = SSL_AD_INTERNAL_ERROR;
		return SSL_CLIENT_HELLO_ERROR;
	}
	return SSL_CLIENT_HELLO_SUCCESS;
}

/*
 * The listener's context, or NULL (logged) when it cannot be built: the
 * listener then closes every connection, nothing is served unverified
 * or with another certificate.
 */
void
term_ctx_build(struct egressd_conf *conf, struct wlistener *l)
{
	SSL_CTX			*ctx;
	X509_STORE		*st;
	STACK_OF(X509_NAME)	*names;
	X509_OBJECT		*o;
	STACK_OF(X509_OBJECT)	*objs;
	const struct ca_bundle	*cert = &conf->cas[l->m.cert_id];
	char			 what[64];
	int			 i, ok;

	snprintf(what, sizeof(what), "https listener %u", l->m.id);
	l->ctx = NULL;
	if (term_hello_idx < 0 && (term_hello_idx = SSL_get_ex_new_index(0,
	    NULL, NULL, NULL, term_hello_free)) < 0) {
		orig_log_errors(what);
		return;
	}
	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL) {
		orig_log_errors(what);
		return;
	}
	ok = SSL_CTX_set_min_proto_version(ctx, l->m.minver == 13 ?
	    TLS1_3_VERSION : TLS1_2_VERSION) == 1 &&
	    SSL_CTX_set_cipher_list(ctx, l->m.ciphers[0] ? l->m.ciphers :
	    TERM_CIPHERS) == 1 &&
	    wkey_use_chain(ctx, cert->pem, cert->len) == 0 &&
	    SSL_CTX_set_session_id_context(ctx, (const unsigned char *)what,
	    (unsigned int)strlen(what)) == 1;
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_client_hello_cb(ctx, term_hello_cb, NULL);
	if (ok && l->m.clientca_id >= 0) {
		if ((st = orig_store(&conf->cas[l->m.clientca_id])) == NULL) {
			log_warnx("%s: no certificate in client ca", what);
			ok = 0;
		} else {
			SSL_CTX_set_cert_store(ctx, st);
			SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER |
			    (l->m.client_optional ? 0 :
			    SSL_VERIFY_FAIL_IF_NO_PEER_CERT), NULL);
			/* Tell clients which CAs we take. */
			if ((names = sk_X509_NAME_new_null()) == NULL)
				ok = 0;
			objs = X509_STORE_get0_objects(st);
			for (i = 0; ok && i < sk_X509_OBJECT_num(objs); i++) {
				X509_NAME	*n;

				o = sk_X509_OBJECT_value(objs, i);
				if (X509_OBJECT_get_type(o) != X509_LU_X509)
					continue;
				if ((n = X509_NAME_dup(X509_get_subject_name(
				    X509_OBJECT_get0_X509(o)))) == NULL ||
				    sk_X509_NAME_push(names, n) == 0) {
					X509_NAME_free(n);
					ok = 0;
				}
			}
			if (names != NULL)
				SSL_CTX_set_client_CA_list(ctx, names);
		}
	}
	if (!ok) {
		log_warnx("%s: cannot serve TLS: connections are closed",
		    what);
		orig_log_errors(what);
		SSL_CTX_free(ctx);
		return;
	}
	l->ctx = ctx;
}

void
term_ctx_free(struct wlistener *l)
{
	SSL_CTX_free(l->ctx);	/* live connections hold a reference */
	l->ctx = NULL;
}

/* A new client socket wrapped in a TLS server, or NULL. */
struct bufferevent *
term_wrap(struct event_base *base, struct wlistener *l, int fd)
{
	struct bufferevent	*bev;
	struct term_hello	*th;
	SSL			*ssl;

	if (l->ctx == NULL || (ssl = SSL_new(l->ctx)) == NULL)
		return NULL;
	if ((th = calloc(1, sizeof(*th))) == NULL) {
		SSL_free(ssl);
		return NULL;
	}
	th->lid = l->m.id;
	if (SSL_set_ex_data(ssl, term_hello_idx, th) != 1) {
		free(th);
		SSL_free(ssl);
		ERR_clear_error();
		return NULL;
	}
	if ((bev = bufferevent_openssl_socket_new(base, fd, ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE |
	    BEV_OPT_DEFER_CALLBACKS)) == NULL) {
		SSL_free(ssl);
		ERR_clear_error();
		return NULL;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	return bev;
}

/* One name into the identity list: printable ASCII, bounded, no NUL. */
static void
ident_push(struct hterm *t, const unsigned char *s, int len)
{
	char	*d;
	int	 i;

	if (t->nids >= EGD_MAX_IDENTS || len <= 0 || len >= EGD_IDENT_MAX)
		return;
	for (i = 0; i < len; i++)
		if (s[i] <= 0x20 || s[i] >= 0x7f)
			return;
	if (t->ids == NULL)
		t->ids = ps_xcalloc(EGD_MAX_IDENTS, EGD_IDENT_MAX);
	d = t->ids + (size_t)t->nids * EGD_IDENT_MAX;
	memcpy(d, s, (size_t)len);
	d[len] = '\0';
	t->nids++;
}

/* URIs first, then DNS names, then the subject's CN: ids[0] is shown. */
static void
term_identity(struct hterm *hc, X509 *x)
{
	GENERAL_NAMES		*gens;
	const GENERAL_NAME	*g;
	X509_NAME		*subj;
	ASN1_STRING		*cn;
	int			 pass, i, idx;

	gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	for (pass = 0; pass < 2; pass++)
		for (i = 0; i < sk_GENERAL_NAME_num(gens); i++) {
			g = sk_GENERAL_NAME_value(gens, i);
			if (pass == 0 && g->type == GEN_URI)
				ident_push(hc, ASN1_STRING_get0_data(
				    g->d.uniformResourceIdentifier),
				    ASN1_STRING_length(
				    g->d.uniformResourceIdentifier));
			else if (pass == 1 && g->type == GEN_DNS)
				ident_push(hc, ASN1_STRING_get0_data(
				    g->d.dNSName), ASN1_STRING_length(
				    g->d.dNSName));
		}
	GENERAL_NAMES_free(gens);
	subj = X509_get_subject_name(x);
	if ((idx = X509_NAME_get_index_by_NID(subj, NID_commonName, -1)) >=
	    0 && (cn = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subj,
	    idx))) != NULL && ASN1_STRING_type(cn) != V_ASN1_BMPSTRING &&
	    ASN1_STRING_type(cn) != V_ASN1_UNIVERSALSTRING)
		ident_push(hc, ASN1_STRING_get0_data(cn),
		    ASN1_STRING_length(cn));
}

/*
 * The handshake is done: note the server name asked for and the verified
 * client's identity.  Returns 0, or -1 (buf says why) when the client
 * certificate did not verify.
 */
int
term_handshake_done(struct hconn *hc)
{
	struct hterm		*t = hc->term;
	SSL			*ssl = bufferevent_openssl_get_ssl(hc->bev);
	const struct term_hello	*th;
	X509			*x;
	struct egd_addr		 lit;
	const char		*sni, *err;
	uint16_t		 port;
	long			 v;
	int			 literal;

	t->done = 1;
	t->version = SSL_get_version(ssl);
	/*
	 * The name of this connection's own ClientHello: a resumed
	 * session's is the same (term_hello_cb()), and OpenSSL would give
	 * none for a resumed TLS 1.2 one.  Normalised as a Host is, to
	 * compare with it; a name that is no host (a port in it) is kept
	 * as sent and matches no request.
	 */
	if ((th = SSL_get_ex_data(ssl, term_hello_idx)) == NULL ||
	    !th->seen) {
		strlcpy(t->why, "no ClientHello read", sizeof(t->why));
		return -1;
	}
	sni = th->name;
	if (sni[0] != '\0' && (strchr(sni, ':') != NULL ||
	    authority_parse(sni, strlen(sni), 443, t->sni, sizeof(t->sni),
	    &port, &lit, &literal, &err) == -1))
		strlcpy(t->sni, sni, sizeof(t->sni));
	if ((x = SSL_get0_peer_certificate(ssl)) == NULL)
		return 0;
	if ((v = SSL_get_verify_result(ssl)) != X509_V_OK) {
		strlcpy(t->why, X509_verify_cert_error_string(v),
		    sizeof(t->why));
		return -1;
	}
	term_identity(t, x);
	return 0;
}

/*
 * A handshake that did not finish.  Returns 1 when nothing of it ever
 * came (a port probe, a health check: closed without a record, as on
 * plain listeners), else 0 with the reason in hc->term->why.
 */
int
term_failed(struct hconn *hc, short what)
{
	SSL			*ssl = bufferevent_openssl_get_ssl(hc->bev);
	const struct term_hello	*th;
	char			*buf = hc->term->why;
	size_t			 size = sizeof(hc->term->why);
	unsigned long		 first = orig_bev_error(hc->bev);
	long			 v;

	ERR_clear_error();
	if (ssl == NULL || SSL_get_state(ssl) == TLS_ST_BEFORE) {
		/* OpenSSL 3 tells an end of file as an error. */
		if ((what & (BEV_EVENT_EOF | BEV_EVENT_TIMEOUT)) ||
		    (first != 0 && ERR_GET_REASON(first) ==
		    SSL_R_UNEXPECTED_EOF_WHILE_READING))
			return 1;
	}
	if (what & BEV_EVENT_TIMEOUT)
		strlcpy(buf, "handshake not finished in time", size);
	else if (ssl != NULL && (th = SSL_get_ex_data(ssl,
	    term_hello_idx)) != NULL && th->changed)
		strlcpy(buf, "server name changed after HelloRetryRequest",
		    size);
	else if (ssl != NULL && (v = SSL_get_verify_result(ssl)) != X509_V_OK)
		strlcpy(buf, X509_verify_cert_error_string(v), size);
	else if (first != 0)
		strlcpy(buf, ERR_reason_error_string(first), size);
	else
		strlcpy(buf, "handshake failed", size);
	return 0;
}

void
term_free(struct hconn *hc)
{
	if (hc->term == NULL)
		return;
	free(hc->term->ids);
	free(hc->term);
	hc->term = NULL;
}
