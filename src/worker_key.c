/*
 * Private keys the worker does not have.  An https listener's server key
 * and a "tls mutual" client key live in the helper (helper_key.c); the
 * worker gives OpenSSL a stand-in key built from the certificate's
 * public key, whose private operations are requests to the helper on
 * the key channel.  The worker waits for each answer (at most
 * EGD_KEYOP_TIMEOUT_MS): one operation per full handshake, a round trip
 * of tens of microseconds for ECDSA, about 0.2 ms for RSA 2048 (the
 * helper's time to sign).
 *
 * The stand-ins use OpenSSL's RSA_METHOD and EC_KEY_METHOD.  They are
 * deprecated in OpenSSL 3 in favour of providers, but they are the
 * small, documented way to route one key's private operations elsewhere:
 * a key with a method of its own is "foreign" to OpenSSL 3 and its
 * operations go through the method, never through the default
 * provider (which would need the private numbers).  Hence the
 * suppression of the deprecation warnings in this file alone.
 */
#define OPENSSL_SUPPRESS_DEPRECATED
#include "config.h"

#include <sys/types.h>

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "worker.h"

static struct {
	int		 fd;		/* key channel, blocking, -1: none */
	uint32_t	 seq;
	RSA_METHOD	*rsa;
	EC_KEY_METHOD	*ec;
	int		 rsa_idx, ec_idx;	/* ex_data: the key id */
} wk = { .fd = -1 };

static void
wkey_free_id(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx,
    long argl, void *argp)
{
	free(ptr);
}

/* Ask the helper; 0 with the answer in res, or -1. */
static int
wkey_ask(const uint8_t *id, uint32_t op, int padding, const uint8_t *in,
    size_t inlen, struct msg_keyres *res)
{
	struct msg_keyop	 q;
	ssize_t			 n;
	int			 tries;

	if (wk.fd == -1 || inlen > sizeof(q.data))
		return -1;
	memset(&q, 0, sizeof(q));
	q.seq = ++wk.seq;
	q.op = op;
	q.padding = padding;
	q.len = (uint32_t)inlen;
	memcpy(q.id, id, sizeof(q.id));
	memcpy(q.data, in, inlen);
	do {
		n = write(wk.fd, &q, sizeof(q));
	} while (n == -1 && errno == EINTR);
	if (n != (ssize_t)sizeof(q)) {
		log_warnx("key channel: %s", n == -1 ? strerror(errno) :
		    "short write");
		return -1;
	}
	/* Answers to requests that timed out before are skipped. */
	for (tries = 0; tries < 64; tries++) {
		do {
			n = read(wk.fd, res, sizeof(*res));
		} while (n == -1 && errno == EINTR);
		if (n == -1 && errno == EAGAIN) {
			log_warnx("key channel: no answer in %d ms",
			    EGD_KEYOP_TIMEOUT_MS);
			break;
		}
		if (n != (ssize_t)sizeof(*res)) {
			log_warnx("key channel: %s", n == -1 ?
			    strerror(errno) : "closed");
			break;
		}
		if (res->seq != q.seq)
			continue;
		if (res->status != KEYST_OK || res->len > sizeof(res->data)) {
			log_warnx("helper refused a key operation (%d)",
			    res->status);
			break;
		}
		return 0;
	}
	return -1;
}

static int
wkey_rsa_priv_enc(int flen, const unsigned char *from, unsigned char *to,
    RSA *rsa, int padding)
{
	struct msg_keyres	 res;
	const uint8_t		*id = RSA_get_ex_data(rsa, wk.rsa_idx);
	int			 size = RSA_size(rsa);

	if (id == NULL || flen < 0 || wkey_ask(id, KEYOP_RSA_PRIV_ENC,
	    padding, from, (size_t)flen, &res) == -1 ||
	    res.len != (uint32_t)size) {
		ERR_raise(ERR_LIB_RSA, ERR_R_INTERNAL_ERROR);
		return -1;
	}
	memcpy(to, res.data, res.len);
	return (int)res.len;
}

/* Decryption is never asked of the helper: see helper_key.c. */
static int
wkey_rsa_priv_dec(int flen, const unsigned char *from, unsigned char *to,
    RSA *rsa, int padding)
{
	ERR_raise(ERR_LIB_RSA, ERR_R_OPERATION_FAIL);
	return -1;
}

static int
wkey_ec_sign(int type, const unsigned char *dgst, int dlen,
    unsigned char *sig, unsigned int *siglen, const BIGNUM *kinv,
    const BIGNUM *r, EC_KEY *ec)
{
	struct msg_keyres	 res;
	const uint8_t		*id = EC_KEY_get_ex_data(ec, wk.ec_idx);

	if (id == NULL || dlen < 0 || kinv != NULL || r != NULL ||
	    wkey_ask(id, KEYOP_ECDSA_SIGN, 0, dgst, (size_t)dlen,
	    &res) == -1 || res.len > (uint32_t)ECDSA_size(ec)) {
		ERR_raise(ERR_LIB_EC, ERR_R_INTERNAL_ERROR);
		return 0;
	}
	memcpy(sig, res.data, res.len);
	*siglen = res.len;
	return 1;
}

static ECDSA_SIG *
wkey_ec_sign_sig(const unsigned char *dgst, int dlen, const BIGNUM *kinv,
    const BIGNUM *r, EC_KEY *ec)
{
	struct msg_keyres	 res;
	const unsigned char	*p;
	const uint8_t		*id = EC_KEY_get_ex_data(ec, wk.ec_idx);

	if (id == NULL || dlen < 0 || kinv != NULL || r != NULL ||
	    wkey_ask(id, KEYOP_ECDSA_SIGN, 0, dgst, (size_t)dlen,
	    &res) == -1) {
		ERR_raise(ERR_LIB_EC, ERR_R_INTERNAL_ERROR);
		return NULL;
	}
	p = res.data;
	return d2i_ECDSA_SIG(NULL, &p, (long)res.len);
}

/* Before the sandbox: the methods and their ex_data slots. */
void
wkey_init(void)
{
	if ((wk.rsa = RSA_meth_dup(RSA_PKCS1_OpenSSL())) == NULL ||
	    RSA_meth_set1_name(wk.rsa, "egressd helper key") != 1 ||
	    RSA_meth_set_priv_enc(wk.rsa, wkey_rsa_priv_enc) != 1 ||
	    RSA_meth_set_priv_dec(wk.rsa, wkey_rsa_priv_dec) != 1)
		fatalx("RSA_METHOD");
	if ((wk.ec = EC_KEY_METHOD_new(EC_KEY_OpenSSL())) == NULL)
		fatalx("EC_KEY_METHOD");
	EC_KEY_METHOD_set_sign(wk.ec, wkey_ec_sign, NULL, wkey_ec_sign_sig);
	if ((wk.rsa_idx = RSA_get_ex_new_index(0, NULL, NULL, NULL,
	    wkey_free_id)) < 0 || (wk.ec_idx = EC_KEY_get_ex_new_index(0,
	    NULL, NULL, NULL, wkey_free_id)) < 0)
		fatalx("ex_data index");
}

/* The key channel, from the parent; a new one replaces the old. */
void
wkey_set_fd(int fd)
{
	if (wk.fd != -1)
		close(wk.fd);
	wk.fd = fd;
}

/*
 * A stand-in for the private key of the certificate at the head of a
 * PEM text: its public key, with private operations done by the helper
 * under the key id.  NULL when the certificate's key is neither RSA nor
 * EC.
 */
EVP_PKEY *
wkey_remote(X509 *x, const uint8_t *id)
{
	EVP_PKEY	*pub, *pk = NULL;
	RSA		*rsa = NULL;
	EC_KEY		*ec = NULL;
	uint8_t		*idc;

	if ((pub = X509_get0_pubkey(x)) == NULL)
		return NULL;
	idc = ps_xcalloc(1, EGD_KEYID_LEN);
	memcpy(idc, id, EGD_KEYID_LEN);
	switch (EVP_PKEY_get_base_id(pub)) {
	case EVP_PKEY_RSA:
		if ((rsa = RSAPublicKey_dup(EVP_PKEY_get0_RSA(pub))) == NULL ||
		    RSA_set_method(rsa, wk.rsa) != 1 ||
		    RSA_set_ex_data(rsa, wk.rsa_idx, idc) != 1)
			break;
		idc = NULL;
		if ((pk = EVP_PKEY_new()) == NULL ||
		    EVP_PKEY_assign_RSA(pk, rsa) != 1)
			break;
		return pk;
	case EVP_PKEY_EC:
		if ((ec = EC_KEY_dup(EVP_PKEY_get0_EC_KEY(pub))) == NULL ||
		    EC_KEY_set_method(ec, wk.ec) != 1 ||
		    EC_KEY_set_ex_data(ec, wk.ec_idx, idc) != 1)
			break;
		idc = NULL;
		if ((pk = EVP_PKEY_new()) == NULL ||
		    EVP_PKEY_assign_EC_KEY(pk, ec) != 1)
			break;
		return pk;
	}
	free(idc);
	EVP_PKEY_free(pk);
	RSA_free(rsa);
	EC_KEY_free(ec);
	ERR_clear_error();
	return NULL;
}


/*
 * Give ctx the certificate chain of a PEM text (leaf first) and the
 * stand-in for the leaf's key.  0, or -1 with OpenSSL's errors queued.
 */
int
wkey_use_chain(SSL_CTX *ctx, const char *pem, size_t len)
{
	BIO		*bio;
	X509		*x;
	EVP_PKEY	*pk = NULL;
	uint8_t		 id[EGD_KEYID_LEN];
	int		 n = 0, ok = 1;

	if ((bio = BIO_new_mem_buf(pem, (int)len)) == NULL)
		return -1;
	while (ok && (x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		if (n++ == 0) {
			ok = conf_keyid_x509(x, id) == 0 &&
			    SSL_CTX_use_certificate(ctx, x) == 1 &&
			    (pk = wkey_remote(x, id)) != NULL &&
			    SSL_CTX_use_PrivateKey(ctx, pk) == 1;
			EVP_PKEY_free(pk);
		} else
			ok = SSL_CTX_add1_chain_cert(ctx, x) == 1;
		X509_free(x);
	}
	BIO_free(bio);
	if (!ok || n == 0)
		return -1;
	ERR_clear_error();	/* the end of the text reads as an error */
	return 0;
}
