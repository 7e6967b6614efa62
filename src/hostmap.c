/*
 * Host names to the records that list them, for every process that holds
 * a configuration (the parent while it parses, the workers while they
 * decide): exact names, "*.name" patterns and IP literals, each kind in a
 * hash table of its own over one array of keys, whose text is stored once
 * in one arena.  A key lists its owners (record ids: services, gateways,
 * route matches, destinations) in the order they were added, which is
 * file order; ids only grow as a map is filled.
 *
 * A lookup costs the same whatever the number of keys: the host is hashed
 * from its right end to its left, and at each dot the hash so far is that
 * of the suffix after it, which is looked up in the pattern table (one
 * probe sequence per label); the whole name then goes to the exact table,
 * or to the literal one if it is an address.  The owners of the keys found
 * are merged in id order, each once: the first one is the first record in
 * the file that lists a name covering the host, as host_match() (addr.c)
 * defines covering.
 *
 * Interface (egressd.h): hostmap_new, hostmap_free, hostmap_reserve,
 * hostmap_kind, hostmap_add, hostmap_get, hostmap_name, hostmap_keykind,
 * hostmap_owner, hostmap_nkeys, hostmap_bytes, hostmap_find, hostmap_next.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/mman.h>
#include <sys/random.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "egressd.h"

#define HM_MINSLOTS	16
#define HM_MAXKEYS	(UINT32_MAX / 4)	/* slots stay within 32 bits */

struct hm_key {
	uint32_t	 off;		/* its text in the arena */
	uint32_t	 hash;		/* of its text (a pattern's suffix) */
	uint32_t	 owner;		/* the first owner */
	uint32_t	 more;		/* the last other, or HOSTMAP_NONE */
	uint16_t	 len;		/* bytes of its text */
	uint8_t		 kind;		/* HMK_* */
};

/* A key's other owners: a circle through next, from the last one. */
struct hm_ref {
	uint32_t	 owner;
	uint32_t	 next;
};

/* Open addressing, linear probing, at most half full. */
struct hm_table {
	uint32_t	*slot;		/* key index + 1; 0: empty */
	uint32_t	 mask;		/* slots - 1 */
	uint32_t	 n;		/* keys in it */
};

struct hostmap {
	struct hm_key	*keys;
	uint32_t	 nkeys, maxkeys;
	struct hm_ref	*refs;
	uint32_t	 nrefs, maxrefs;
	char		*text;		/* every key's, NUL-terminated */
	size_t		 ntext, maxtext;
	struct hm_table	 t[HMK_NKINDS];
	uint64_t	 seed;
	uint32_t	 lastowner;
};

/*
 * One random seed per process: a request's host is the caller's choice,
 * the hash function is not.
 */
static uint64_t
hm_seed(void)
{
	static uint64_t	seed;

	if (seed == 0) {
		if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) !=
		    sizeof(seed))
			seed = (uint64_t)(uintptr_t)&seed ^
			    0x9e3779b97f4a7c15ULL;
		seed |= 1;
	}
	return seed;
}

/* FNV-1a steps from the right, and a final mix for the low bits. */
static inline uint64_t
hm_step(uint64_t x, unsigned char c)
{
	return (x ^ c) * 0x100000001b3ULL;
}

static inline uint32_t
hm_final(uint64_t x, size_t len)
{
	x ^= (uint64_t)len;
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return (uint32_t)x;
}

static uint32_t
hm_hash(const struct hostmap *hm, const char *s, size_t len)
{
	uint64_t	x = hm->seed;
	size_t		i;

	for (i = len; i-- > 0;)
		x = hm_step(x, (unsigned char)s[i]);
	return hm_final(x, len);
}

/* Bytes of a key's text that are hashed and compared: a pattern's suffix. */
static inline size_t
hm_skip(int kind)
{
	return kind == HMK_PATTERN ? 2 : 0;
}

static uint32_t
hm_lookup(const struct hostmap *hm, int kind, const char *s, size_t len,
    uint32_t h)
{
	const struct hm_table	*t = &hm->t[kind];
	const struct hm_key	*k;
	size_t			 skip = hm_skip(kind);
	uint32_t		 i, v;

	if (t->n == 0)
		return HOSTMAP_NONE;
	for (i = h & t->mask; (v = t->slot[i]) != 0; i = (i + 1) & t->mask) {
		k = &hm->keys[v - 1];
		if (k->hash == h && k->len == len + skip &&
		    memcmp(hm->text + k->off + skip, s, len) == 0)
			return v - 1;
	}
	return HOSTMAP_NONE;
}

static void
hm_slot_put(struct hm_table *t, uint32_t h, uint32_t key)
{
	uint32_t	i;

	for (i = h & t->mask; t->slot[i] != 0; i = (i + 1) & t->mask)
		;
	t->slot[i] = key + 1;
}

/*
 * Have the kernel back [p, p + len) with pages now, in one call: a table
 * filled at random places would otherwise fault its pages in one by one,
 * nearly all of them with its first few hundred keys, which is one long
 * step of a worker's loop where faults are dear (a virtual machine).  A
 * hint: a kernel without MADV_POPULATE_WRITE (5.14) faults as before.
 */
static void
hm_populate(void *p, size_t len)
{
#ifdef MADV_POPULATE_WRITE
	uintptr_t	a = (uintptr_t)p, b = a + len, pg;
	long		psz = sysconf(_SC_PAGESIZE);

	if (psz <= 0)
		return;
	pg = (uintptr_t)psz;
	a = (a + pg - 1) & ~(pg - 1);
	b &= ~(pg - 1);
	if (b > a)
		(void)madvise((void *)a, b - a, MADV_POPULATE_WRITE);
#else
	(void)p;
	(void)len;
#endif
}

/* Room for want keys of a kind, at most half full. */
static int
hm_table_grow(struct hostmap *hm, int kind, size_t want)
{
	struct hm_table	*t = &hm->t[kind];
	uint32_t	*old = t->slot, i;
	size_t		 n = t->slot == NULL ? 0 : (size_t)t->mask + 1, size;

	if (want > HM_MAXKEYS)
		return -1;
	if (want * 2 <= n)
		return 0;
	for (size = HM_MINSLOTS; size < want * 2; size *= 2)
		;
	t->slot = ps_xcalloc(size, sizeof(*t->slot));
	t->mask = (uint32_t)size - 1;
	hm_populate(t->slot, size * sizeof(*t->slot));
	if (old != NULL) {
		for (i = 0; i < hm->nkeys; i++)
			if (hm->keys[i].kind == kind)
				hm_slot_put(t, hm->keys[i].hash, i);
		free(old);
	}
	return 0;
}

static void *
hm_grow(void *p, size_t *max, size_t want, size_t size)
{
	size_t	n = *max;

	if (want <= n)
		return p;
	if (n == 0)
		n = 16;
	while (n < want)
		n *= 2;
	if ((p = reallocarray(p, n, size)) == NULL)
		fatal("hostmap");
	*max = n;
	return p;
}

static int
hm_room(struct hostmap *hm, size_t keys, size_t text, size_t refs)
{
	size_t	max;

	if (hm->nkeys + keys > HM_MAXKEYS || hm->nrefs + refs > HM_MAXKEYS ||
	    hm->ntext + text > UINT32_MAX)
		return -1;
	max = hm->maxkeys;
	hm->keys = hm_grow(hm->keys, &max, hm->nkeys + keys,
	    sizeof(*hm->keys));
	hm->maxkeys = (uint32_t)max;
	max = hm->maxrefs;
	hm->refs = hm_grow(hm->refs, &max, hm->nrefs + refs,
	    sizeof(*hm->refs));
	hm->maxrefs = (uint32_t)max;
	hm->text = hm_grow(hm->text, &hm->maxtext, hm->ntext + text, 1);
	return 0;
}

struct hostmap *
hostmap_new(void)
{
	struct hostmap	*hm;

	hm = ps_xcalloc(1, sizeof(*hm));
	hm->seed = hm_seed();
	return hm;
}

void
hostmap_free(struct hostmap *hm)
{
	int	i;

	if (hm == NULL)
		return;
	for (i = 0; i < HMK_NKINDS; i++)
		free(hm->t[i].slot);
	free(hm->keys);
	free(hm->refs);
	free(hm->text);
	free(hm);
}

/*
 * Room for names more keys of each kind and text more bytes (NULs
 * included), so that adding them never rebuilds a table: a worker fills
 * a map between events, and a rebuild would be one long step.
 */
int
hostmap_reserve(struct hostmap *hm, const uint32_t names[HMK_NKINDS],
    size_t text)
{
	size_t	total = 0;
	int	i;

	for (i = 0; i < HMK_NKINDS; i++) {
		if (hm_table_grow(hm, i, (size_t)hm->t[i].n + names[i]) == -1)
			return -1;
		total += names[i];
	}
	return hm_room(hm, total, text, 0);
}

/*
 * HMK_PATTERN for "*.x", HMK_LITERAL for an address, else HMK_NAME.  Only
 * hex digits, dots, colons and brackets can make an address: a name with
 * any other character is not given to the address parser.
 */
int
hostmap_kind(const char *name)
{
	struct egd_addr	 a;
	const char	*p;

	if (name[0] == '*' && name[1] == '.')
		return HMK_PATTERN;
	for (p = name; *p != '\0'; p++)
		if (strchr("0123456789abcdefABCDEF.:[]", *p) == NULL)
			return HMK_NAME;
	if (egd_addr_parse(name, &a) == 0)
		return HMK_LITERAL;
	return HMK_NAME;
}

/*
 * Adds name, of the given kind (hostmap_kind(), or HMK_NAME for a name
 * taken verbatim), for owner; *key is its key.  Returns 0 when added, 1
 * when owner has it already, -1 for a name that is empty, too long or
 * not of its kind, or an owner below the last one added.
 */
int
hostmap_add(struct hostmap *hm, const char *name, int kind, uint32_t owner,
    uint32_t *key)
{
	struct hm_key	*k;
	struct hm_ref	*r;
	size_t		 len, skip;
	uint32_t	 h, i, last;

	if (kind < 0 || kind >= HMK_NKINDS || owner < hm->lastowner ||
	    owner == HOSTMAP_NONE)
		return -1;
	len = strnlen(name, HOSTMAP_KEYMAX + 1);
	skip = hm_skip(kind);
	if (len <= skip || len > HOSTMAP_KEYMAX ||
	    (kind == HMK_PATTERN && (name[0] != '*' || name[1] != '.')))
		return -1;
	h = hm_hash(hm, name + skip, len - skip);
	if ((i = hm_lookup(hm, kind, name + skip, len - skip, h)) !=
	    HOSTMAP_NONE) {
		k = &hm->keys[i];
		last = k->more == HOSTMAP_NONE ? k->owner :
		    hm->refs[k->more].owner;
		*key = i;
		if (last == owner)
			return 1;
		if (hm_room(hm, 0, 0, 1) == -1)
			return -1;
		r = &hm->refs[hm->nrefs];
		r->owner = owner;
		if (k->more == HOSTMAP_NONE)
			r->next = hm->nrefs;
		else {
			r->next = hm->refs[k->more].next;
			hm->refs[k->more].next = hm->nrefs;
		}
		k->more = hm->nrefs++;
		hm->lastowner = owner;
		return 0;
	}
	if (hm_room(hm, 1, len + 1, 0) == -1 ||
	    hm_table_grow(hm, kind, (size_t)hm->t[kind].n + 1) == -1)
		return -1;
	i = hm->nkeys++;
	k = &hm->keys[i];
	k->off = (uint32_t)hm->ntext;
	k->hash = h;
	k->owner = owner;
	k->more = HOSTMAP_NONE;
	k->len = (uint16_t)len;
	k->kind = (uint8_t)kind;
	memcpy(hm->text + hm->ntext, name, len + 1);
	hm->ntext += len + 1;
	hm_slot_put(&hm->t[kind], h, i);
	hm->t[kind].n++;
	hm->lastowner = owner;
	*key = i;
	return 0;
}

/* The key whose text is name, of that kind, or HOSTMAP_NONE. */
uint32_t
hostmap_get(const struct hostmap *hm, const char *name, int kind)
{
	size_t	len, skip;

	if (kind < 0 || kind >= HMK_NKINDS)
		return HOSTMAP_NONE;
	len = strnlen(name, HOSTMAP_KEYMAX + 1);
	skip = hm_skip(kind);
	if (len <= skip || len > HOSTMAP_KEYMAX)
		return HOSTMAP_NONE;
	return hm_lookup(hm, kind, name + skip, len - skip,
	    hm_hash(hm, name + skip, len - skip));
}

/* A key's text, as added: valid until the next hostmap_add(). */
const char *
hostmap_name(const struct hostmap *hm, uint32_t key)
{
	return key < hm->nkeys ? hm->text + hm->keys[key].off : NULL;
}

int
hostmap_keykind(const struct hostmap *hm, uint32_t key)
{
	return key < hm->nkeys ? hm->keys[key].kind : -1;
}

/* A key's first owner, or HOSTMAP_NONE. */
uint32_t
hostmap_owner(const struct hostmap *hm, uint32_t key)
{
	return key < hm->nkeys ? hm->keys[key].owner : HOSTMAP_NONE;
}

uint32_t
hostmap_nkeys(const struct hostmap *hm)
{
	return hm->nkeys;
}

/* Bytes the map holds, for the benchmarks and the logs. */
size_t
hostmap_bytes(const struct hostmap *hm)
{
	size_t	n;
	int	i;

	n = sizeof(*hm) + (size_t)hm->maxkeys * sizeof(*hm->keys) +
	    (size_t)hm->maxrefs * sizeof(*hm->refs) + hm->maxtext;
	for (i = 0; i < HMK_NKINDS; i++)
		if (hm->t[i].slot != NULL)
			n += ((size_t)hm->t[i].mask + 1) * sizeof(uint32_t);
	return n;
}

static void
hm_iter_push(struct hostmap_iter *it, uint32_t key)
{
	if (key == HOSTMAP_NONE || it->n >= HOSTMAP_MAXLISTS)
		return;
	it->key[it->n] = key;
	it->pos[it->n] = HOSTMAP_NONE;
	it->owner[it->n] = it->hm->keys[key].owner;
	it->n++;
}

/*
 * Starts it on the owners of the keys that cover host: with HM_EXACT the
 * key whose text is host (in the table of host's kind), with HM_PATTERNS
 * every "*.suffix" whose suffix follows a dot of host that has a label
 * before it.  hostmap_next() then gives each owner once, lowest first.
 */
void
hostmap_find(const struct hostmap *hm, const char *host, int flags,
    struct hostmap_iter *it)
{
	uint64_t	x;
	size_t		len, i;
	int		kind;

	it->hm = hm;
	it->n = 0;
	if (hm == NULL || hm->nkeys == 0)
		return;
	len = strnlen(host, HOSTMAP_HOSTMAX + 1);
	if (len == 0 || len > HOSTMAP_HOSTMAX)
		return;
	x = hm->seed;
	for (i = len; i-- > 0;) {
		/* The suffix host + i + 1, after a dot with a label before. */
		if (host[i] == '.' && (flags & HM_PATTERNS) &&
		    hm->t[HMK_PATTERN].n > 0 && i > 0 && i + 1 < len &&
		    host[i - 1] != '.' && host[0] != '.')
			hm_iter_push(it, hm_lookup(hm, HMK_PATTERN,
			    host + i + 1, len - i - 1,
			    hm_final(x, len - i - 1)));
		x = hm_step(x, (unsigned char)host[i]);
	}
	if (!(flags & HM_EXACT))
		return;
	if ((kind = hostmap_kind(host)) == HMK_PATTERN)
		hm_iter_push(it, hm_lookup(hm, kind, host + 2, len - 2,
		    hm_hash(hm, host + 2, len - 2)));
	else
		hm_iter_push(it, hm_lookup(hm, kind, host, len,
		    hm_final(x, len)));
}

/* The next owner, lowest first, each once; 0 when there are no more. */
int
hostmap_next(struct hostmap_iter *it, uint32_t *owner)
{
	const struct hm_key	*k;
	uint32_t		 min = HOSTMAP_NONE;
	int			 i;

	if (it->n == 0)
		return 0;
	for (i = 0; i < it->n; i++)
		if (it->owner[i] < min)
			min = it->owner[i];
	for (i = 0; i < it->n; i++) {
		if (it->owner[i] != min)
			continue;
		k = &it->hm->keys[it->key[i]];
		if (it->pos[i] == HOSTMAP_NONE && k->more != HOSTMAP_NONE)
			it->pos[i] = it->hm->refs[k->more].next;
		else if (it->pos[i] != HOSTMAP_NONE && it->pos[i] != k->more)
			it->pos[i] = it->hm->refs[it->pos[i]].next;
		else {
			/* This list is done: the last one takes its place. */
			it->n--;
			it->key[i] = it->key[it->n];
			it->pos[i] = it->pos[it->n];
			it->owner[i] = it->owner[it->n];
			i--;
			continue;
		}
		it->owner[i] = it->hm->refs[it->pos[i]].owner;
	}
	*owner = min;
	return 1;
}
