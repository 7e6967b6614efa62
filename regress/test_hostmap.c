/*
 * Unit tests for src/hostmap.c, the host lookup of services, gateways,
 * route matches and destinations.  Run by make check as one unprivileged
 * process speaking TAP.  The reference is what the lookups were before
 * the map: a walk over every listed name in file order with host_match()
 * (addr.c), or strcmp() where a caller compares exactly (an IP literal
 * for a service, a destination's first pass), or host_match() on the
 * patterns alone (a destination's second pass).  Fixed cases first
 * (exact names, patterns at several depths, IP literals, names that
 * differ by a trailing label, services that overlap, in file order), then
 * the same comparison on random registries and random hosts, odd ones
 * included, and on a registry of 100,000 names.
 */
#include "config.h"

#include <sys/types.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "egressd.h"
#include "tap.h"

/* The three ways callers look up, and what each replaced. */
enum mode {
	M_COVER,	/* HM_EXACT | HM_PATTERNS: host_match() */
	M_EXACT,	/* HM_EXACT: strcmp() */
	M_PATTERNS,	/* HM_PATTERNS: a pattern and host_match() */
	M_N
};
static const int mode_flags[M_N] = { HM_EXACT | HM_PATTERNS, HM_EXACT,
    HM_PATTERNS };
static const char *const mode_name[M_N] = { "cover", "exact", "patterns" };

/* The reference: every name added, in order, with its owner. */
struct ref {
	char		**names;
	uint32_t	 *owners;
	size_t		  n, max;
};

static void
ref_add(struct ref *r, const char *name, uint32_t owner)
{
	if (r->n == r->max) {
		r->max = r->max ? r->max * 2 : 64;
		r->names = reallocarray(r->names, r->max, sizeof(*r->names));
		r->owners = reallocarray(r->owners, r->max,
		    sizeof(*r->owners));
		if (r->names == NULL || r->owners == NULL)
			abort();
	}
	if ((r->names[r->n] = strdup(name)) == NULL)
		abort();
	r->owners[r->n++] = owner;
}

static void
ref_free(struct ref *r)
{
	size_t	i;

	for (i = 0; i < r->n; i++)
		free(r->names[i]);
	free(r->names);
	free(r->owners);
	memset(r, 0, sizeof(*r));
}

static int
ref_covers(const char *name, const char *host, int mode)
{
	switch (mode) {
	case M_EXACT:
		return strcmp(name, host) == 0;
	case M_PATTERNS:
		return name[0] == '*' && host_match(name, host);
	default:
		return host_match(name, host);
	}
}

/* Owners of the names covering host, each once, in order. */
static size_t
ref_find(const struct ref *r, const char *host, int mode, uint32_t *out,
    size_t max)
{
	size_t	i, n = 0;

	for (i = 0; i < r->n; i++) {
		if (!ref_covers(r->names[i], host, mode))
			continue;
		if (n > 0 && out[n - 1] == r->owners[i])
			continue;
		if (n < max)
			out[n] = r->owners[i];
		n++;
	}
	return n;
}

static size_t
map_find(const struct hostmap *hm, const char *host, int mode,
    uint32_t *out, size_t max)
{
	struct hostmap_iter	it;
	uint32_t		owner;
	size_t			n = 0;

	hostmap_find(hm, host, mode_flags[mode], &it);
	while (hostmap_next(&it, &owner)) {
		if (n < max)
			out[n] = owner;
		n++;
	}
	return n;
}

/* Both have it the same way: map and reference, or both refuse it. */
static int
both_add(struct hostmap *hm, struct ref *r, const char *name, uint32_t owner)
{
	uint32_t	key;
	size_t		i;
	int		rv, dup = 0;

	for (i = r->n; i-- > 0 && r->owners[i] == owner;)
		if (strcmp(r->names[i], name) == 0)
			dup = 1;
	rv = hostmap_add(hm, name, hostmap_kind(name), owner, &key);
	if (rv == 0 && !dup)
		ref_add(r, name, owner);
	if (rv == 0 && strcmp(hostmap_name(hm, key), name) != 0)
		return -2;
	return rv == (dup ? 1 : 0) ? 0 : -1;
}

static const char *
owners_text(const uint32_t *o, size_t n, char *buf, size_t len)
{
	size_t	i;

	buf[0] = '\0';
	for (i = 0; i < n && i < 16; i++) {
		char	one[16];

		snprintf(one, sizeof(one), "%s%u", i ? "," : "", o[i]);
		strlcat(buf, one, len);
	}
	if (n > 16)
		strlcat(buf, ",...", len);
	return buf;
}

/* The map and the reference agree on host; says where they do not. */
static int
agree(const struct hostmap *hm, const struct ref *r, const char *host,
    int mode, int verbose)
{
	uint32_t	a[256], b[256];
	size_t		na, nb;
	char		ta[256], tb[256];

	na = map_find(hm, host, mode, a, nitems(a));
	nb = ref_find(r, host, mode, b, nitems(b));
	if (na == nb && memcmp(a, b, (na < 256 ? na : 256) *
	    sizeof(a[0])) == 0)
		return 1;
	if (verbose)
		printf("# %s \"%s\": map [%s], reference [%s]\n",
		    mode_name[mode], tap_show(host, strlen(host)),
		    owners_text(a, na, ta, sizeof(ta)),
		    owners_text(b, nb, tb, sizeof(tb)));
	return 0;
}

/* ---- fixed cases ------------------------------------------------------ */

struct fcase {
	const char	*host;
	int		 mode;
	const char	*want;		/* owners, comma-separated */
	const char	*what;
};

/*
 * Owners are services in file order: 1 lists "api.example.com", 2 the
 * pattern "*.example.com", 3 "*.b.example.com", 4 "*.com", 5 the
 * literals, 6 "api.example.co" and "example.com" (a trailing label less
 * and a label less), 7 "api.example.com" again (overlapping 1 and 2), 8
 * "*.example.com" again.
 */
static const struct {
	const char	*name;
	uint32_t	 owner;
} fixed_names[] = {
	{ "api.example.com", 1 },
	{ "*.example.com", 2 },
	{ "*.b.example.com", 3 },
	{ "*.com", 4 },
	{ "192.0.2.1", 5 },
	{ "2001:db8::1", 5 },
	{ "::ffff:192.0.2.1", 5 },
	{ "api.example.co", 6 },
	{ "example.com", 6 },
	{ "api.example.com", 7 },
	{ "*.example.com", 8 },
};

static const struct fcase fixed_cases[] = {
	{ "api.example.com", M_COVER, "1,2,4,7,8",
	    "exact name, patterns and overlapping services in file order" },
	{ "api.example.com", M_EXACT, "1,7", "exact name alone" },
	{ "api.example.com", M_PATTERNS, "2,4,8", "patterns alone" },
	{ "x.b.example.com", M_COVER, "2,3,4,8", "patterns at three depths" },
	{ "y.x.b.example.com", M_COVER, "2,3,4,8",
	    "a pattern covers more than one label" },
	{ "b.example.com", M_COVER, "2,4,8",
	    "*.b.example.com wants a label before b" },
	{ "example.com", M_COVER, "4,6", "*.example.com does not cover "
	    "example.com" },
	{ "com", M_COVER, "", "*.com does not cover com" },
	{ "api.example.co", M_COVER, "6", "a trailing label less" },
	{ "api.example.com.evil.net", M_COVER, "",
	    "a trailing label more: nothing" },
	{ "api.example.comm", M_COVER, "", "a last label longer: nothing" },
	{ "pi.example.com", M_COVER, "2,4,8", "a first label shorter" },
	{ "aapi.example.com", M_COVER, "2,4,8", "a first label longer" },
	{ "xexample.com", M_COVER, "4", "a suffix that is not after a dot" },
	{ "192.0.2.1", M_EXACT, "5", "an IPv4 literal" },
	{ "192.0.2.10", M_EXACT, "", "another IPv4 literal" },
	{ "192.0.2.1", M_COVER, "5", "a literal is no pattern's" },
	{ "2001:db8::1", M_EXACT, "5", "an IPv6 literal" },
	{ "2001:db8::10", M_EXACT, "", "another IPv6 literal" },
	{ "::ffff:192.0.2.1", M_EXACT, "5", "a mapped IPv4 literal" },
	{ ".example.com", M_COVER, "", "a leading dot: no pattern" },
	{ "a..example.com", M_COVER, "4", "an empty label before the suffix" },
	{ "api.example.com.", M_COVER, "", "a trailing dot is no name" },
	{ "*.example.com", M_COVER, "2,4,8", "a pattern as a host: as "
	    "host_match() has it" },
	{ "", M_COVER, "", "the empty host" },
};

static void
parse_owners(const char *s, uint32_t *o, size_t *n)
{
	char	*end;

	*n = 0;
	while (*s != '\0') {
		o[(*n)++] = (uint32_t)strtoul(s, &end, 10);
		s = *end == ',' ? end + 1 : end;
	}
}

static void
test_fixed(void)
{
	struct hostmap	*hm = hostmap_new();
	struct ref	 r;
	uint32_t	 want[16], got[16], key;
	size_t		 i, nw, ng;
	char		 tg[128];
	int		 bad = 0;

	memset(&r, 0, sizeof(r));
	for (i = 0; i < nitems(fixed_names); i++)
		if (both_add(hm, &r, fixed_names[i].name,
		    fixed_names[i].owner) != 0)
			bad++;
	ok(bad == 0, "fixed registry added");
	for (i = 0; i < nitems(fixed_cases); i++) {
		parse_owners(fixed_cases[i].want, want, &nw);
		ng = map_find(hm, fixed_cases[i].host, fixed_cases[i].mode,
		    got, nitems(got));
		ok(ng == nw && memcmp(got, want, nw * sizeof(got[0])) == 0 &&
		    agree(hm, &r, fixed_cases[i].host, fixed_cases[i].mode, 1),
		    "%s \"%s\": [%s] (%s)", mode_name[fixed_cases[i].mode],
		    fixed_cases[i].host, owners_text(got, ng, tg, sizeof(tg)),
		    fixed_cases[i].what);
	}

	/* Kinds, keys and their owners. */
	ok(hostmap_kind("*.example.com") == HMK_PATTERN &&
	    hostmap_kind("192.0.2.1") == HMK_LITERAL &&
	    hostmap_kind("2001:db8::1") == HMK_LITERAL &&
	    hostmap_kind("1.2.3") == HMK_NAME &&
	    hostmap_kind("example.com") == HMK_NAME,
	    "kinds: pattern, literals, names");
	key = hostmap_get(hm, "*.example.com", HMK_PATTERN);
	ok(key != HOSTMAP_NONE && hostmap_owner(hm, key) == 2 &&
	    strcmp(hostmap_name(hm, key), "*.example.com") == 0 &&
	    hostmap_keykind(hm, key) == HMK_PATTERN,
	    "a pattern's key: first owner 2, text as added");
	ok(hostmap_get(hm, "example.com", HMK_PATTERN) == HOSTMAP_NONE &&
	    hostmap_get(hm, "*.example.com", HMK_NAME) == HOSTMAP_NONE,
	    "a key is found in its own kind only");
	ok(hostmap_nkeys(hm) == 9, "9 distinct keys for 11 names (got %u)",
	    hostmap_nkeys(hm));

	/* What hostmap_add refuses. */
	ok(hostmap_add(hm, "api.example.com", HMK_NAME, 8, &key) == 0 &&
	    hostmap_add(hm, "api.example.com", HMK_NAME, 8, &key) == 1,
	    "the same name twice for one owner: 1");
	ok(hostmap_add(hm, "late.example.com", HMK_NAME, 7, &key) == -1,
	    "an owner below the last one: refused");
	ok(hostmap_add(hm, "*.", HMK_PATTERN, 9, &key) == -1 &&
	    hostmap_add(hm, "x.example", HMK_PATTERN, 9, &key) == -1 &&
	    hostmap_add(hm, "", HMK_NAME, 9, &key) == -1,
	    "an empty pattern, a pattern without \"*.\", an empty name: "
	    "refused");
	ok(hostmap_add(hm, "x", HMK_NAME, HOSTMAP_NONE, &key) == -1,
	    "owner HOSTMAP_NONE refused");
	hostmap_free(hm);
	ref_free(&r);
}

/* A name of 127 one-letter labels (253 bytes), patterns at every depth. */
static void
test_depth(void)
{
	struct hostmap	*hm = hostmap_new();
	char		 host[256], pat[260], big[300];
	uint32_t	 got[256], key;
	size_t		 i, n, len;
	int		 bad = 0;

	for (i = 0, len = 0; i < 127; i++) {
		host[len++] = (char)('a' + i % 26);
		host[len++] = '.';
	}
	host[--len] = '\0';
	ok(len == 253, "a name of 253 bytes, 127 labels");
	/* "*." and each suffix after a dot: 126 patterns, owners 1..126. */
	for (i = 0, n = 0; i < len; i++)
		if (host[i] == '.') {
			snprintf(pat, sizeof(pat), "*.%s", host + i + 1);
			if (hostmap_add(hm, pat, HMK_PATTERN, (uint32_t)++n,
			    &key) != 0)
				bad++;
		}
	if (hostmap_add(hm, host, HMK_NAME, (uint32_t)++n, &key) != 0)
		bad++;
	ok(bad == 0 && n == 127, "126 patterns and the name added");
	n = map_find(hm, host, M_COVER, got, nitems(got));
	for (i = 0; i < n; i++)
		if (got[i] != i + 1)
			bad++;
	ok(n == 127 && bad == 0, "all 127 found, in order (%zu)", n);
	snprintf(big, sizeof(big), "z%s", host);
	n = map_find(hm, big, M_COVER, got, nitems(got));
	ok(n == 126 && got[0] == 1 && got[125] == 126,
	    "a first label longer: the 126 patterns, not the name (%zu)", n);
	snprintf(big, sizeof(big), ".%s", host);
	ok(map_find(hm, big, M_COVER, got, nitems(got)) == 0,
	    "a leading dot: nothing");
	snprintf(big, sizeof(big), "zz.%s", host);
	ok(strlen(big) == 256 && map_find(hm, big, M_COVER, got,
	    nitems(got)) == 0, "a host over %d bytes: nothing, though "
	    "patterns end it", HOSTMAP_HOSTMAX);
	hostmap_free(hm);
}

/* ---- random registries ------------------------------------------------ */

static uint64_t	rng = 0x2545f4914f6cdd1dULL;

static uint32_t
rnd(uint32_t n)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return (uint32_t)(((rng * 0x2545f4914f6cdd1dULL) >> 32) % n);
}

/* Few labels, so that names overlap, share suffixes and collide. */
static const char *const labels[] = {
	"a", "b", "c", "ab", "ba", "x-y", "com", "net", "0", "1", "api",
	"www", "example",
};
static const char *const literals[] = {
	"10.0.0.1", "10.0.0.2", "192.0.2.1", "::1", "2001:db8::1",
	"2001:db8::2", "::ffff:10.0.0.1",
};

static void
rnd_name(char *buf, size_t len)
{
	size_t	 i, depth = 1 + rnd(5);

	buf[0] = '\0';
	for (i = 0; i < depth; i++) {
		if (i > 0)
			strlcat(buf, ".", len);
		strlcat(buf, labels[rnd(nitems(labels))], len);
	}
}

/* What a registry holds: names, patterns, literals. */
static void
rnd_entry(char *buf, size_t len)
{
	char	tmp[200];

	switch (rnd(10)) {
	case 0:
		strlcpy(buf, literals[rnd(nitems(literals))], len);
		break;
	case 1: case 2: case 3:
		rnd_name(tmp, sizeof(tmp));
		snprintf(buf, len, "*.%s", tmp);
		break;
	default:
		rnd_name(buf, len);
	}
}

/* What a request may carry, and odder things. */
static void
rnd_host(char *buf, size_t len)
{
	char	tmp[200];

	switch (rnd(16)) {
	case 0:
		strlcpy(buf, literals[rnd(nitems(literals))], len);
		break;
	case 1:
		rnd_name(tmp, sizeof(tmp));
		snprintf(buf, len, ".%s", tmp);
		break;
	case 2:
		rnd_name(tmp, sizeof(tmp));
		snprintf(buf, len, "%s.", tmp);
		break;
	case 3:
		rnd_name(tmp, sizeof(tmp));
		snprintf(buf, len, "a..%s", tmp);
		break;
	case 4:
		rnd_entry(buf, len);
		break;
	case 5:
		rnd_name(tmp, sizeof(tmp));
		snprintf(buf, len, "%s%s", labels[rnd(nitems(labels))], tmp);
		break;
	default:
		rnd_name(buf, len);
	}
}

static void
test_random(int rounds, int names, int queries)
{
	struct hostmap	*hm;
	struct ref	 r;
	char		 buf[256];
	uint32_t	 owner, counts[HMK_NKINDS];
	int		 round, i, mode, bad = 0, badadd = 0, shown = 0;
	long		 compared = 0;

	for (round = 0; round < rounds; round++) {
		hm = hostmap_new();
		memset(&r, 0, sizeof(r));
		if (round % 2 == 1) {
			/* Reserved first, as a worker does. */
			for (i = 0; i < HMK_NKINDS; i++)
				counts[i] = (uint32_t)names;
			if (hostmap_reserve(hm, counts, (size_t)names * 40) ==
			    -1)
				badadd++;
		}
		for (i = 0, owner = 1; i < names; i++) {
			owner += rnd(3) == 0;
			rnd_entry(buf, sizeof(buf));
			if (both_add(hm, &r, buf, owner) != 0)
				badadd++;
		}
		for (i = 0; i < queries; i++) {
			rnd_host(buf, sizeof(buf));
			for (mode = 0; mode < M_N; mode++, compared++)
				if (!agree(hm, &r, buf, mode, shown < 10)) {
					bad++;
					shown++;
				}
		}
		hostmap_free(hm);
		ref_free(&r);
	}
	ok(badadd == 0, "random registries: %d rounds of %d names added as "
	    "the reference has them", rounds, names);
	ok(bad == 0, "random registries: %ld lookups agree with the walk "
	    "(%d differ)", compared, bad);
}

/*
 * 100,000 names in 10,000 owners and 1,000 patterns: each name finds its
 * owner first, and a sample agrees with the walk in every mode.
 */
static void
test_large(void)
{
	struct hostmap	*hm = hostmap_new();
	struct ref	 r;
	char		 buf[128];
	uint32_t	 got[8], key;
	int		 i, bad = 0, badadd = 0, mode;

	memset(&r, 0, sizeof(r));
	for (i = 0; i < 100000; i++) {
		snprintf(buf, sizeof(buf), "h%d-%d.svc%d.example.com", i % 10,
		    i / 10, i / 10);
		if (both_add(hm, &r, buf, (uint32_t)(i / 10 + 1)) != 0)
			badadd++;
	}
	for (i = 0; i < 1000; i++) {
		snprintf(buf, sizeof(buf), "*.w%d.wild.example.org", i);
		if (both_add(hm, &r, buf, (uint32_t)(10001 + i / 10)) != 0)
			badadd++;
	}
	ok(badadd == 0 && hostmap_nkeys(hm) == 101000,
	    "101,000 names added");
	for (i = 0; i < 100000; i++) {
		snprintf(buf, sizeof(buf), "h%d-%d.svc%d.example.com", i % 10,
		    i / 10, i / 10);
		if (map_find(hm, buf, M_COVER, got, nitems(got)) != 1 ||
		    got[0] != (uint32_t)(i / 10 + 1))
			bad++;
	}
	ok(bad == 0, "each of 100,000 names finds its owner alone");
	bad = 0;
	for (i = 0; i < 1000; i++) {
		snprintf(buf, sizeof(buf), "x.y.w%d.wild.example.org", i);
		if (map_find(hm, buf, M_COVER, got, nitems(got)) != 1 ||
		    got[0] != (uint32_t)(10001 + i / 10))
			bad++;
	}
	ok(bad == 0, "each of 1,000 patterns covers a host two labels down");
	bad = 0;
	for (i = 0; i < 200; i++) {
		snprintf(buf, sizeof(buf), rnd(2) ? "h%u-%u.svc%u.example.com" :
		    "q.w%u.wild.example.org", rnd(10), rnd(10000), rnd(10000));
		for (mode = 0; mode < M_N; mode++)
			if (!agree(hm, &r, buf, mode, 1))
				bad++;
	}
	ok(bad == 0, "a sample of the large registry agrees with the walk");
	ok(hostmap_get(hm, "h9-9999.svc9999.example.com", HMK_NAME) !=
	    HOSTMAP_NONE && map_find(hm, "h9-9999.svc9999.example.co",
	    M_COVER, got, nitems(got)) == 0, "the last name, and it less a "
	    "letter of its last label");
	key = hostmap_get(hm, "*.w999.wild.example.org", HMK_PATTERN);
	ok(key != HOSTMAP_NONE && hostmap_owner(hm, key) == 10100,
	    "the last pattern's owner");
	printf("# 101,000 names: %zu bytes in the map, %.1f per name\n",
	    hostmap_bytes(hm), (double)hostmap_bytes(hm) / 101000);
	hostmap_free(hm);
	ref_free(&r);
}

int
main(int argc, char *argv[])
{
	if (argc > 1)
		rng = strtoull(argv[1], NULL, 0) | 1;
	printf("# random seed %#llx\n", (unsigned long long)rng);
	test_fixed();
	test_depth();
	test_random(40, 400, 1000);
	test_random(4, 3000, 2000);
	test_large();
	return tap_done();
}
