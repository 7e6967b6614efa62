/*
 * Unit tests for src/pathnorm.c, the request-path normaliser.  Run by
 * make check as one unprivileged process speaking TAP.  The tables are
 * RFC 3986's reference-resolution examples (5.4.1 and 5.4.2) as the
 * merged paths that remove_dot_segments sees, the percent-encoding
 * normalisations of 6.2.2, slashes merged and kept, the three ways with
 * escaped slashes, and the refused forms with their exact reason.  Every
 * accepted result is checked to be its own normal form, and every call to
 * stay within its buffer (which carries no NUL).
 */
#include "config.h"

#include <sys/types.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "egressd.h"
#include "tap.h"

#define M	PN_MERGE_SLASHES
#define REJ	PN_SLASH_REJECT
#define DEC	PN_SLASH_DECODE

struct pcase {
	const char	*in;
	size_t		 inlen;		/* 0: strlen(in) */
	int		 flags;
	int		 err;		/* PN_OK: out is expected */
	const char	*out;
	const char	*why;		/* where the case comes from */
};

/*
 * RFC 3986 5.4, base "http://a/b/c/d;p?q": each reference merged with the
 * base path (5.2.3) gives the path below; the expected result is the
 * RFC's, except where a ".." climbs above the root: the RFC drops it, we
 * refuse the request.
 */
static const struct pcase rfc_cases[] = {
	{ "/b/c/g", 0, M, PN_OK, "/b/c/g", "5.4.1 g" },
	{ "/b/c/./g", 0, M, PN_OK, "/b/c/g", "5.4.1 ./g" },
	{ "/b/c/g/", 0, M, PN_OK, "/b/c/g/", "5.4.1 g/" },
	{ "/g", 0, M, PN_OK, "/g", "5.4.1 /g" },
	{ "/b/c/d;p?y", 0, M, PN_OK, "/b/c/d;p?y", "5.4.1 ?y" },
	{ "/b/c/g?y", 0, M, PN_OK, "/b/c/g?y", "5.4.1 g?y" },
	{ "/b/c/;x", 0, M, PN_OK, "/b/c/;x", "5.4.1 ;x" },
	{ "/b/c/g;x", 0, M, PN_OK, "/b/c/g;x", "5.4.1 g;x" },
	{ "/b/c/g;x?y", 0, M, PN_OK, "/b/c/g;x?y", "5.4.1 g;x?y" },
	{ "/b/c/d;p?q", 0, M, PN_OK, "/b/c/d;p?q", "5.4.1 (empty)" },
	{ "/b/c/.", 0, M, PN_OK, "/b/c/", "5.4.1 ." },
	{ "/b/c/./", 0, M, PN_OK, "/b/c/", "5.4.1 ./" },
	{ "/b/c/..", 0, M, PN_OK, "/b/", "5.4.1 .." },
	{ "/b/c/../", 0, M, PN_OK, "/b/", "5.4.1 ../" },
	{ "/b/c/../g", 0, M, PN_OK, "/b/g", "5.4.1 ../g" },
	{ "/b/c/../..", 0, M, PN_OK, "/", "5.4.1 ../.." },
	{ "/b/c/../../", 0, M, PN_OK, "/", "5.4.1 ../../" },
	{ "/b/c/../../g", 0, M, PN_OK, "/g", "5.4.1 ../../g" },
	{ "/b/c/../../../g", 0, M, PN_ECLIMB, NULL,
	    "5.4.2 ../../../g (RFC: /g)" },
	{ "/b/c/../../../../g", 0, M, PN_ECLIMB, NULL,
	    "5.4.2 ../../../../g (RFC: /g)" },
	{ "/./g", 0, M, PN_OK, "/g", "5.4.2 /./g" },
	{ "/../g", 0, M, PN_ECLIMB, NULL, "5.4.2 /../g (RFC: /g)" },
	{ "/b/c/g.", 0, M, PN_OK, "/b/c/g.", "5.4.2 g." },
	{ "/b/c/.g", 0, M, PN_OK, "/b/c/.g", "5.4.2 .g" },
	{ "/b/c/g..", 0, M, PN_OK, "/b/c/g..", "5.4.2 g.." },
	{ "/b/c/..g", 0, M, PN_OK, "/b/c/..g", "5.4.2 ..g" },
	{ "/b/c/./../g", 0, M, PN_OK, "/b/g", "5.4.2 ./../g" },
	{ "/b/c/./g/.", 0, M, PN_OK, "/b/c/g/", "5.4.2 ./g/." },
	{ "/b/c/g/./h", 0, M, PN_OK, "/b/c/g/h", "5.4.2 g/./h" },
	{ "/b/c/g/../h", 0, M, PN_OK, "/b/c/h", "5.4.2 g/../h" },
	{ "/b/c/g;x=1/./y", 0, M, PN_OK, "/b/c/g;x=1/y", "5.4.2 g;x=1/./y" },
	{ "/b/c/g;x=1/../y", 0, M, PN_OK, "/b/c/y", "5.4.2 g;x=1/../y" },
	{ "/b/c/g?y/./x", 0, M, PN_OK, "/b/c/g?y/./x",
	    "5.4.2 g?y/./x: the query is left alone" },
	{ "/b/c/g?y/../x", 0, M, PN_OK, "/b/c/g?y/../x", "5.4.2 g?y/../x" },
	{ "/b/c/g#s/./x", 0, M, PN_EFRAGMENT, NULL,
	    "5.4.2 g#s/./x: a request-target has no fragment" },
	{ "/a/b/c/./../../g", 0, M, PN_OK, "/a/g", "5.2.4 example 1" },
	{ "/mid/content=5/../6", 0, M, PN_OK, "/mid/6", "5.2.4 example 2" },
};

/* RFC 3986 6.2.2: percent-encoding, and dots written as %2E. */
static const struct pcase esc_cases[] = {
	{ "/%7Euser", 0, M, PN_OK, "/~user", "6.2.2.2 %7E is ~" },
	{ "/%7euser", 0, M, PN_OK, "/~user", "lowercase hex too" },
	{ "/%41%5a%61%7A%30%39%2D%2e%5F%7e", 0, M, PN_OK, "/AZaz09-._~",
	    "every kind of unreserved character decoded, case kept" },
	{ "/%61dmin", 0, M, PN_OK, "/admin", "%61 is a" },
	{ "/%c3%a9t%c3%A9", 0, M, PN_OK, "/%C3%A9t%C3%A9",
	    "6.2.2.1 other escapes kept, hex uppercased" },
	{ "/a%3fb%23c%20d", 0, M, PN_OK, "/a%3Fb%23c%20d",
	    "reserved and other characters stay escaped" },
	{ "/%25", 0, M, PN_OK, "/%25", "%25 stays: '%' is not unreserved" },
	{ "/%2561dmin", 0, M, PN_OK, "/%2561dmin", "no double decoding" },
	{ "/a?%7e=%2e%2e/../%zz", 0, M, PN_OK, "/a?%7e=%2e%2e/../%zz",
	    "the query is not touched, even malformed" },
	{ "/x/%2e%2e/admin", 0, M, PN_OK, "/admin", "%2e%2e is .." },
	{ "/x/.%2E/admin", 0, M, PN_OK, "/admin", ".%2E is .." },
	{ "/x/%2E/admin", 0, M, PN_OK, "/x/admin", "%2E is ." },
	{ "/x/%2e%2e", 0, M, PN_OK, "/", "a final %2e%2e" },
	{ "/ADMIN", 0, M, PN_OK, "/ADMIN", "case is kept: paths are case-sensitive" },
	{ "/a;b=1/./c", 0, M, PN_OK, "/a;b=1/c", "parameters are segment bytes" },
	{ "/..%2Fadmin", 0, M, PN_OK, "/..%2Fadmin",
	    "keep: ..%2F is one segment, not a dot segment" },
};

/* Slashes: merged by default in the daemon, kept without the flag. */
static const struct pcase slash_cases[] = {
	{ "//admin", 0, M, PN_OK, "/admin", "merge: //admin" },
	{ "/a//b///c", 0, M, PN_OK, "/a/b/c", "merge: runs of slashes" },
	{ "/a//", 0, M, PN_OK, "/a/", "merge: a trailing run is one slash" },
	{ "//", 0, M, PN_OK, "/", "merge: //" },
	{ "/", 0, M, PN_OK, "/", "/" },
	{ "/a//../b", 0, M, PN_OK, "/b", "merge: empty segments go first" },
	{ "/./admin", 0, M, PN_OK, "/admin", "/./admin" },
	{ "/x/../admin", 0, M, PN_OK, "/admin", "/x/../admin" },
	{ "/a/..", 0, M, PN_OK, "/", "back to the root is fine" },
	{ "//admin", 0, 0, PN_OK, "//admin", "keep: //admin" },
	{ "/a//b", 0, 0, PN_OK, "/a//b", "keep: /a//b" },
	{ "/a//../b", 0, 0, PN_OK, "/a/b", "keep: .. removes the empty segment" },
	{ "//..", 0, 0, PN_OK, "/", "keep: //.. is / (5.2.4)" },
	{ "/a/.//b", 0, 0, PN_OK, "/a//b", "keep: /a/.//b" },
};

/* %2F and %5C: keep, reject, decode. */
static const struct pcase eslash_cases[] = {
	{ "/a%2fb%5cc", 0, M, PN_OK, "/a%2Fb%5Cc", "keep: kept, uppercased" },
	{ "/x%2F..%2Fadmin", 0, M, PN_OK, "/x%2F..%2Fadmin",
	    "keep: one segment" },
	{ "/a%2Fb", 0, M | REJ, PN_ESLASH, NULL, "reject: %2F" },
	{ "/a%5cb", 0, M | REJ, PN_ESLASH, NULL, "reject: %5c" },
	{ "/a?%2F", 0, M | REJ, PN_OK, "/a?%2F", "reject: not in the query" },
	{ "/a%2fb%5Cc", 0, M | DEC, PN_OK, "/a/b/c", "decode: both are /" },
	{ "/x%2F..%2Fadmin", 0, M | DEC, PN_OK, "/admin",
	    "decode: then dot segments" },
	{ "/x%5C..%5Cadmin", 0, M | DEC, PN_OK, "/admin",
	    "decode: backslashes alike" },
	{ "/a%2F%2Fb", 0, M | DEC, PN_OK, "/a/b", "decode: then merged" },
	{ "/a%2F%2Fb", 0, DEC, PN_OK, "/a//b", "decode without merging" },
	{ "/%2F..%2F..", 0, M | DEC, PN_ECLIMB, NULL,
	    "decode: a climb made of escapes" },
};

/* Refused whatever the flags. */
static const struct pcase bad_cases[] = {
	{ "/%00", 0, M, PN_ENUL, NULL, "%00" },
	{ "/a%00b", 0, M, PN_ENUL, NULL, "%00 inside" },
	{ "/a\0b", 4, M, PN_ENUL, NULL, "a raw NUL" },
	{ "/..", 0, M, PN_ECLIMB, NULL, "/.." },
	{ "/../admin", 0, M, PN_ECLIMB, NULL, "/../admin" },
	{ "/a/../../admin", 0, M, PN_ECLIMB, NULL, "/a/../../admin" },
	{ "/%2e%2e/admin", 0, M, PN_ECLIMB, NULL, "/%2e%2e/admin" },
	{ "/a/./../..", 0, 0, PN_ECLIMB, NULL, "/a/./../.. (keep)" },
	{ "/%", 0, M, PN_EESCAPE, NULL, "a lone %" },
	{ "/%4", 0, M, PN_EESCAPE, NULL, "%4 at the end" },
	{ "/%4?x", 0, M, PN_EESCAPE, NULL, "%4 before the query" },
	{ "/%zz", 0, M, PN_EESCAPE, NULL, "%zz" },
	{ "/%4g", 0, M, PN_EESCAPE, NULL, "%4g" },
	{ "/a#b", 0, M, PN_EFRAGMENT, NULL, "a fragment" },
	{ "/a?b#c", 0, M, PN_EFRAGMENT, NULL, "a fragment after the query" },
	{ "/x\\..\\admin", 0, M, PN_EBACKSLASH, NULL, "a raw backslash" },
	{ "/x\\..\\admin", 0, M | DEC, PN_EBACKSLASH, NULL,
	    "a raw backslash, decoding" },
	{ "", 0, M, PN_ENOTABS, NULL, "empty" },
	{ "a/b", 0, M, PN_ENOTABS, NULL, "relative" },
	{ "*", 0, M, PN_ENOTABS, NULL, "*" },
	{ "?a", 0, M, PN_ENOTABS, NULL, "a query alone" },
};

/*
 * One case: the input in a heap buffer of exactly its length (no NUL,
 * so ASan sees a read past it), canaries after it in a second copy.
 */
static void
run(const struct pcase *c)
{
	size_t	 len = c->inlen ? c->inlen : strlen(c->in), n, n2;
	char	*b, *big;
	int	 e, e2;

	if ((b = malloc(len + 1)) == NULL || (big = malloc(len + 16)) == NULL)
		abort();
	/* Nothing written past the input, accepted or refused. */
	memcpy(big, c->in, len);
	memset(big + len, 0x5a, 16);
	n2 = len;
	(void)pathnorm(big, &n2, c->flags);
	for (n2 = 0; n2 < 16 && big[len + n2] == 0x5a; n2++)
		;
	ok(n2 == 16, "%s: nothing written past the input", c->why);
	memcpy(b, c->in, len);
	n = len;
	e = pathnorm(b, &n, c->flags);
	if (c->err != PN_OK) {
		ok(e == c->err, "%s: \"%s\" refused: %s (got: %s)", c->why,
		    tap_show(c->in, len), pathnorm_error(c->err),
		    pathnorm_error(e));
		free(b);
		free(big);
		return;
	}
	ok(e == PN_OK && n == strlen(c->out) && memcmp(b, c->out, n) == 0,
	    "%s: \"%s\" -> \"%s\"%s%s", c->why, tap_show(c->in, len), c->out,
	    e ? ": refused, " : "", e ? pathnorm_error(e) : "");
	if (e == PN_OK && (n != strlen(c->out) || memcmp(b, c->out, n) != 0))
		printf("# got \"%s\"\n", tap_show(b, n));
	/* Its own normal form. */
	n2 = n;
	e2 = pathnorm(b, &n2, c->flags);
	ok(e2 == PN_OK && n2 == n && memcmp(b, c->out, n) == 0,
	    "%s: normal form is stable", c->why);
	free(b);
	free(big);
}

static void
table(const struct pcase *c, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		run(&c[i]);
}

int
main(void)
{
	table(rfc_cases, nitems(rfc_cases));
	table(esc_cases, nitems(esc_cases));
	table(slash_cases, nitems(slash_cases));
	table(eslash_cases, nitems(eslash_cases));
	table(bad_cases, nitems(bad_cases));
	ok(strcmp(pathnorm_error(PN_ECLIMB),
	    "the path climbs above the root") == 0 &&
	    strcmp(pathnorm_error(99), "?") == 0 &&
	    strcmp(pathnorm_error(-1), "?") == 0, "error strings");
	return tap_done();
}
