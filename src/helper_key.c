/*
 * Private keys, in the helper: the only process besides the parent that
 * holds one.  The parent sends each key of a generation (IMSG_CONF_KEY);
 * workers ask for operations with them on their key channels, one
 * datagram per request and per answer, naming the key by id (the
 * SHA-256 of its certificate's SubjectPublicKeyInfo).  The helper
 * answers only for keys of the configuration in force, and only the two
 * operations a TLS handshake needs from a signing key:
 *
 *   KEYOP_RSA_PRIV_ENC  RSA private operation with PKCS#1 type 1 padding
 *                       (TLS 1.2 signatures) or none (PSS, padded by the
 *                       worker's OpenSSL), input as long as the modulus
 *                       when unpadded;
 *   KEYOP_ECDSA_SIGN    ECDSA over a digest of 20 to 64 bytes.
 *
 * No decryption: TLS 1.2 RSA key exchange is not offered by https
 * listeners (worker_origin.c), so the helper is no decryption oracle.
 * A worker can still have anything signed with the keys; that is what
 * serving TLS with them means, and why a key is named in the
 * configuration, not by the worker.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <event2/event.h>
#include <event2/util.h>

#include "egressd.h"

struct hkey {
	uint8_t		 id[EGD_KEYID_LEN];
	EVP_PKEY	*pk;
};

/*
 * The keys of the generation before stay usable for a few seconds after a
 * new one: a worker may still accept on the old generation's listeners
 * until its own copy of the new generation is complete.
 */
#define HKEY_GRACE	10	/* seconds */

static struct {
	struct event_base	*base;
	struct hkey		 keys[EGD_MAX_KEYS], pending[EGD_MAX_KEYS];
	struct hkey		 old[EGD_MAX_KEYS];
	int			 nkeys, npending, nold;
	struct event		*grace;
	struct event		*ev[EGRESSD_MAXWORKERS];
	uint64_t		 ops, refused;
} hk;

static void	hkey_read_cb(int, short, void *);

static void
hkey_close(uint32_t n)
{
	if (hk.ev[n] == NULL)
		return;
	close(event_get_fd(hk.ev[n]));
	event_free(hk.ev[n]);
	hk.ev[n] = NULL;
}

static void
hkey_table_free(struct hkey *t, int *n)
{
	int	i;

	for (i = 0; i < *n; i++)
		EVP_PKEY_free(t[i].pk);
	memset(t, 0, sizeof(*t) * EGD_MAX_KEYS);
	*n = 0;
}

static void
hkey_grace_cb(int fd, short ev, void *arg)
{
	hkey_table_free(hk.old, &hk.nold);
}

void
hkey_start(struct event_base *base)
{
	hk.base = base;
	if ((hk.grace = evtimer_new(base, hkey_grace_cb, NULL)) == NULL)
		fatalx("evtimer_new");
}

void
hkey_conf_begin(void)
{
	hkey_table_free(hk.pending, &hk.npending);
}

void
hkey_conf_key(const struct msg_key *mk)
{
	const unsigned char	*p = mk->der;
	struct hkey		*k;
	EVP_PKEY		*pk;

	if (mk->len == 0 || mk->len > sizeof(mk->der))
		fatalx("parent: key of %u bytes", mk->len);
	if (hk.npending >= EGD_MAX_KEYS)
		fatalx("parent: too many keys");
	if ((pk = d2i_AutoPrivateKey(NULL, &p, (long)mk->len)) == NULL)
		fatalx("parent: a key that does not parse");
	k = &hk.pending[hk.npending++];
	memcpy(k->id, mk->id, sizeof(k->id));
	k->pk = pk;
}

/* The new generation's keys replace the old ones, all at once. */
void
hkey_conf_end(void)
{
	struct timeval	tv = { HKEY_GRACE, 0 };

	hkey_table_free(hk.old, &hk.nold);
	memcpy(hk.old, hk.keys, sizeof(hk.old));
	hk.nold = hk.nkeys;
	memcpy(hk.keys, hk.pending, sizeof(hk.keys));
	hk.nkeys = hk.npending;
	hk.npending = 0;
	memset(hk.pending, 0, sizeof(hk.pending));
	if (hk.grace != NULL && hk.nold > 0)
		evtimer_add(hk.grace, &tv);
}

/* The helper's end of worker n's key channel. */
void
hkey_worker_chan(uint32_t n, int fd)
{
	if (n >= EGRESSD_MAXWORKERS)
		fatalx("key channel for instance %u", n);
	hkey_close(n);
	if (evutil_make_socket_nonblocking(fd) == -1)
		fatal("key channel");
	if ((hk.ev[n] = event_new(hk.base, fd, EV_READ | EV_PERSIST,
	    hkey_read_cb, (void *)(uintptr_t)n)) == NULL ||
	    event_add(hk.ev[n], NULL) == -1)
		fatalx("key channel event");
}

static const struct hkey *
hkey_find(const uint8_t *id)
{
	int	i;

	for (i = 0; i < hk.nkeys; i++)
		if (memcmp(hk.keys[i].id, id, EGD_KEYID_LEN) == 0)
			return &hk.keys[i];
	for (i = 0; i < hk.nold; i++)
		if (memcmp(hk.old[i].id, id, EGD_KEYID_LEN) == 0)
			return &hk.old[i];
	return NULL;
}

static int
hkey_sign(EVP_PKEY *pk, int padding, const uint8_t *in, size_t inlen,
    uint8_t *out, size_t *outlen)
{
	EVP_PKEY_CTX	*ctx;
	int		 ok;

	if ((ctx = EVP_PKEY_CTX_new(pk, NULL)) == NULL)
		return -1;
	ok = EVP_PKEY_sign_init(ctx) == 1 &&
	    (padding == 0 || EVP_PKEY_CTX_set_rsa_padding(ctx, padding) == 1) &&
	    EVP_PKEY_sign(ctx, out, outlen, in, inlen) == 1;
	EVP_PKEY_CTX_free(ctx);
	return ok ? 0 : -1;
}

/* One request, checked against the key it names; the answer in res. */
static void
hkey_do(const struct msg_keyop *q, struct msg_keyres *res)
{
	const struct hkey	*k;
	size_t			 outlen = sizeof(res->data);
	int			 type;

	res->seq = q->seq;
	res->status = KEYST_BADREQ;
	if (q->len > sizeof(q->data))
		return;
	if ((k = hkey_find(q->id)) == NULL) {
		res->status = KEYST_NOKEY;
		return;
	}
	type = EVP_PKEY_get_base_id(k->pk);
	switch (q->op) {
	case KEYOP_RSA_PRIV_ENC:
		if (type != EVP_PKEY_RSA)
			return;
		if (q->padding == RSA_NO_PADDING) {
			if (q->len != (uint32_t)EVP_PKEY_get_size(k->pk))
				return;
		} else if (q->padding != RSA_PKCS1_PADDING ||
		    q->len + 11 > (uint32_t)EVP_PKEY_get_size(k->pk))
			return;
		break;
	case KEYOP_ECDSA_SIGN:
		if (type != EVP_PKEY_EC || q->padding != 0 || q->len < 20 ||
		    q->len > 64)
			return;
		break;
	default:
		return;
	}
	if (hkey_sign(k->pk, q->op == KEYOP_RSA_PRIV_ENC ? q->padding : 0,
	    q->data, q->len, res->data, &outlen) == -1) {
		ERR_clear_error();
		res->status = KEYST_FAILED;
		return;
	}
	res->len = (uint32_t)outlen;
	res->status = KEYST_OK;
}

static void
hkey_read_cb(int fd, short ev, void *arg)
{
	struct msg_keyop	 q;
	struct msg_keyres	 res;
	ssize_t			 n;
	int			 i;

	for (i = 0; i < 16; i++) {
		n = read(fd, &q, sizeof(q));
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0 || (size_t)n != sizeof(q)) {
			/* The worker is gone, or talks nonsense: hang up. */
			if (n != 0)
				log_warnx("key channel of worker %u: a "
				    "malformed request", (uint32_t)(uintptr_t)
				    arg);
			hkey_close((uint32_t)(uintptr_t)arg);
			return;
		}
		memset(&res, 0, sizeof(res));
		hkey_do(&q, &res);
		hk.ops++;
		if (res.status != KEYST_OK) {
			hk.refused++;
			log_debug("key operation %u refused: %d", q.op,
			    res.status);
		}
		status_keys(hk.ops, hk.refused);
		if (write(fd, &res, sizeof(res)) == -1)
			log_debug("key channel: write: %s", strerror(errno));
		explicit_bzero(&q, sizeof(q));
	}
}
