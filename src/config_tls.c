/*
 * Certificates and private keys as the parent reads them at load time
 * (so that egressd -n checks them too).
 *
 * What a worker may see is filtered here: a PEM file given as a CA
 * bundle or a certificate chain is reduced to its certificates, so a
 * file that also holds a private key (a combined PEM) never sends the
 * key to a worker.  Keys go into conf->keys, which only the helper is
 * sent (parent.c); the parent wipes its copies when the generation ends.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "egressd.h"

/*
 * A regular file of 1 byte to max, read whole, and its mode; NULL with
 * *why set.
 */
static char *
read_small_file(const char *path, size_t max, size_t *lenp, mode_t *modep,
    const char **why)
{
	struct stat	 st;
	char		*buf;
	size_t		 len = 0;
	ssize_t		 n;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)) == -1) {
		*why = strerror(errno);
		return NULL;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_size <= 0 || (size_t)st.st_size > max) {
		*why = max == EGD_CA_MAXSIZE ?
		    "not a regular file of 1 byte to 4 MiB" :
		    "not a regular file of 1 byte to 64 KiB";
		close(fd);
		return NULL;
	}
	buf = ps_xcalloc(1, (size_t)st.st_size + 1);
	while (len < (size_t)st.st_size) {
		n = read(fd, buf + len, (size_t)st.st_size - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (len != (size_t)st.st_size) {
		explicit_bzero(buf, len);
		free(buf);
		*why = "short read";
		return NULL;
	}
	*lenp = len;
	*modep = st.st_mode;
	return buf;
}

/*
 * The certificates of a PEM text, written out again as PEM: anything
 * else in the file (a private key, parameters, comments) is left
 * behind.  Returns the new text or NULL when there is no certificate.
 */
static char *
pem_certs_only(const char *pem, size_t len, size_t *outlen)
{
	BIO	*in, *out;
	X509	*x;
	BUF_MEM	*bm;
	char	*res = NULL;
	int	 n = 0;

	if ((in = BIO_new_mem_buf(pem, (int)len)) == NULL)
		return NULL;
	if ((out = BIO_new(BIO_s_mem())) == NULL) {
		BIO_free(in);
		return NULL;
	}
	while ((x = PEM_read_bio_X509(in, NULL, NULL, NULL)) != NULL) {
		if (PEM_write_bio_X509(out, x) == 1)
			n++;
		X509_free(x);
	}
	ERR_clear_error();	/* the end of the text reads as an error */
	BIO_get_mem_ptr(out, &bm);
	if (n > 0 && bm != NULL && bm->length > 0) {
		res = ps_xcalloc(1, bm->length + 1);
		memcpy(res, bm->data, bm->length);
		*outlen = bm->length;
	}
	BIO_free(in);
	BIO_free(out);
	return res;
}

/*
 * Read a CA bundle or a certificate chain once per path.  Returns its
 * index in conf->cas, or -1 with *why set.
 */
int
conf_ca_add(struct egressd_conf *conf, const char *path, const char **why)
{
	struct ca_bundle	*ca;
	char			*raw, *pem;
	size_t			 rawlen, len;
	mode_t			 mode;
	int			 i;

	for (i = 0; i < conf->ncas; i++)
		if (strcmp(conf->cas[i].path, path) == 0)
			return i;
	if (conf->ncas >= EGD_MAX_CAS) {
		*why = "too many certificate files";
		return -1;
	}
	if ((raw = read_small_file(path, EGD_CA_MAXSIZE, &rawlen, &mode,
	    why)) == NULL)
		return -1;
	pem = pem_certs_only(raw, rawlen, &len);
	explicit_bzero(raw, rawlen);	/* it may have held a key */
	free(raw);
	if (pem == NULL) {
		*why = "no PEM certificate in it";
		return -1;
	}
	if (len > EGD_CA_MAXSIZE) {
		free(pem);
		*why = "over 4 MiB of certificates";
		return -1;
	}
	ca = &conf->cas[conf->ncas];
	memset(ca, 0, sizeof(*ca));
	strlcpy(ca->path, path, sizeof(ca->path));
	ca->pem = pem;
	ca->len = len;
	return conf->ncas++;
}

/*
 * A key's id: the SHA-256 of the SubjectPublicKeyInfo of the first
 * certificate of a PEM text.  The parent and the workers compute it
 * from the same certificate bytes, so they agree on it.
 */
int
conf_keyid_x509(X509 *x, uint8_t *id)
{
	unsigned char	*der = NULL;
	unsigned int	 dlen;
	int		 n, ok;

	ok = (n = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &der)) > 0 &&
	    EVP_Digest(der, (size_t)n, id, &dlen, EVP_sha256(), NULL) == 1 &&
	    dlen == EGD_KEYID_LEN;
	OPENSSL_free(der);
	return ok ? 0 : -1;
}

int
conf_keyid(const char *pem, size_t len, uint8_t *id)
{
	BIO	*bio;
	X509	*x;
	int	 rv = -1;

	if ((bio = BIO_new_mem_buf(pem, (int)len)) == NULL)
		return -1;
	if ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL)
		rv = conf_keyid_x509(x, id);
	X509_free(x);
	BIO_free(bio);
	ERR_clear_error();
	return rv;
}

/* No passphrase prompts: an encrypted key is refused. */
static int
no_passphrase(char *buf, int size, int rwflag, void *u)
{
	return -1;
}

/*
 * Read the private key at path for the certificate conf->cas[cert_id]:
 * an unencrypted PEM RSA or EC key that belongs to that certificate.
 * Returns its index in conf->keys, or -1 with *why set.
 */
int
conf_key_add(struct egressd_conf *conf, const char *path, int cert_id,
    const char **why)
{
	struct tls_key	*k;
	EVP_PKEY	*pk = NULL;
	BIO		*bio = NULL;
	X509		*x = NULL;
	unsigned char	*der = NULL;
	char		*raw;
	size_t		 rawlen;
	mode_t		 mode;
	int		 i, n = 0, ret = -1;
	uint8_t		 id[EGD_KEYID_LEN];

	if (cert_id < 0 || cert_id >= conf->ncas) {
		*why = "no certificate for it";
		return -1;
	}
	if (conf_keyid(conf->cas[cert_id].pem, conf->cas[cert_id].len,
	    id) == -1) {
		*why = "its certificate has no usable public key";
		return -1;
	}
	for (i = 0; i < conf->nkeys; i++)
		if (strcmp(conf->keys[i].path, path) == 0) {
			if (memcmp(conf->keys[i].id, id, sizeof(id)) != 0) {
				*why = "it does not belong to the certificate";
				return -1;
			}
			return i;
		}
	if (conf->nkeys >= EGD_MAX_KEYS) {
		*why = "too many keys";
		return -1;
	}
	if ((raw = read_small_file(path, 65536, &rawlen, &mode, why)) == NULL)
		return -1;
	if (mode & S_IROTH)
		log_warnx("%s: the key is readable by everyone", path);
	if ((bio = BIO_new_mem_buf(raw, (int)rawlen)) == NULL)
		goto done;
	if ((pk = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase,
	    NULL)) == NULL) {
		*why = "not an unencrypted PEM private key";
		goto done;
	}
	if (EVP_PKEY_get_base_id(pk) != EVP_PKEY_RSA &&
	    EVP_PKEY_get_base_id(pk) != EVP_PKEY_EC) {
		*why = "not an RSA or EC key";
		goto done;
	}
	BIO_free(bio);
	if ((bio = BIO_new_mem_buf(conf->cas[cert_id].pem,
	    (int)conf->cas[cert_id].len)) == NULL ||
	    (x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) == NULL) {
		*why = "its certificate cannot be read";
		goto done;
	}
	if (X509_check_private_key(x, pk) != 1) {
		*why = "it does not belong to the certificate";
		goto done;
	}
	if ((n = i2d_PrivateKey(pk, &der)) <= 0 || n > EGD_KEY_MAXDER) {
		*why = "too large (at most 8 KiB in DER)";
		goto done;
	}
	k = &conf->keys[conf->nkeys];
	memset(k, 0, sizeof(*k));
	strlcpy(k->path, path, sizeof(k->path));
	memcpy(k->id, id, sizeof(id));
	k->der = ps_xcalloc(1, (size_t)n);
	memcpy(k->der, der, (size_t)n);
	k->len = (size_t)n;
	ret = conf->nkeys++;
 done:
	if (der != NULL)
		OPENSSL_clear_free(der, (size_t)n);
	EVP_PKEY_free(pk);
	X509_free(x);
	BIO_free(bio);
	explicit_bzero(raw, rawlen);
	free(raw);
	ERR_clear_error();
	return ret;
}
