/*
 * Request paths in normal form, so that a route sees a path as an origin
 * will: run in the workers on every request-target (worker_http.c), and
 * in the parent on the paths a configuration names (parse.y).  One pure
 * function on a byte buffer, pathnorm(), which rewrites the path in place
 * (its result is never longer) and leaves the query alone; no allocation,
 * no global state, any bytes accepted as input.
 *
 * The steps, in order: each %XX escape is checked (two hex digits) and,
 * if it encodes an unreserved character (RFC 3986 2.3), decoded, else
 * kept with uppercase hex (6.2.2.1, 6.2.2.2); %00 is refused; %2F and %5C
 * (an escaped slash or backslash) are kept, refused or decoded to '/' as
 * the flags say.  Then dot segments are removed as RFC 3986 5.2.4 does,
 * dots written as %2E included, except that a ".." with nothing left to
 * remove (a path climbing above the root) is refused instead of dropped;
 * with PN_MERGE_SLASHES, empty segments go as well ("//" is "/").  A '#'
 * (a request-target has no fragment) and a raw backslash (not a URI
 * character, and a separator to some origins) are refused.  Letters keep
 * their case: paths are case-sensitive.  The result is its own normal
 * form: pathnorm() of it changes nothing.
 */
#include "config.h"

#include <sys/types.h>

#include <string.h>

#include "egressd.h"

static const char *const pn_errors[] = {
	"",
	"not an absolute path",
	"an escaped NUL (%00)",
	"the path climbs above the root",
	"a malformed percent-escape",
	"an escaped slash (%2F or %5C)",
	"a fragment ('#')",
	"a backslash",
};

const char *
pathnorm_error(int e)
{
	if (e < 0 || (size_t)e >= sizeof(pn_errors) / sizeof(pn_errors[0]))
		return "?";
	return pn_errors[e];
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* RFC 3986 2.3: ALPHA DIGIT "-" "." "_" "~" */
static int
unreserved(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
	    c == '~';
}

/*
 * The escapes of buf[0..plen), in place: returns the new length, or -1
 * with *err set.  Each step writes at most what it read.
 */
static ssize_t
pn_escapes(char *buf, size_t plen, int flags, int *err)
{
	static const char	 hex[] = "0123456789ABCDEF";
	size_t			 r, w;
	int			 c, hi, lo;

	for (r = w = 0; r < plen;) {
		c = (unsigned char)buf[r];
		if (c == '\0') {
			*err = PN_ENUL;
			return -1;
		}
		if (c == '\\') {
			*err = PN_EBACKSLASH;
			return -1;
		}
		if (c != '%') {
			buf[w++] = buf[r++];
			continue;
		}
		if (plen - r < 3 || (hi = hexval(buf[r + 1])) == -1 ||
		    (lo = hexval(buf[r + 2])) == -1) {
			*err = PN_EESCAPE;
			return -1;
		}
		r += 3;
		c = hi * 16 + lo;
		if (c == 0) {
			*err = PN_ENUL;
			return -1;
		}
		if (unreserved(c))
			buf[w++] = (char)c;
		else if ((c == '/' || c == '\\') &&
		    (flags & (PN_SLASH_REJECT | PN_SLASH_DECODE))) {
			if (flags & PN_SLASH_REJECT) {
				*err = PN_ESLASH;
				return -1;
			}
			buf[w++] = '/';
		} else {
			buf[w++] = '%';
			buf[w++] = hex[hi];
			buf[w++] = hex[lo];
		}
	}
	return (ssize_t)w;
}

/*
 * Dot segments (and, merging, empty ones) out of buf[0..plen), which
 * starts with '/': RFC 3986 5.2.4 with the output written over the input
 * as a list of "/segment" units.  Returns the new length, or -1.
 */
static ssize_t
pn_segments(char *buf, size_t plen, int flags, int *err)
{
	size_t	r, s, e, n, o;
	int	last;

	for (r = o = 0; r < plen; r = e) {
		s = r + 1;
		for (e = s; e < plen && buf[e] != '/'; e++)
			;
		n = e - s;
		last = e == plen;
		if (n == 0 && !last && (flags & PN_MERGE_SLASHES))
			continue;
		if (n == 1 && buf[s] == '.') {
			if (last)
				buf[o++] = '/';
			continue;
		}
		if (n == 2 && buf[s] == '.' && buf[s + 1] == '.') {
			if (o == 0) {
				*err = PN_ECLIMB;
				return -1;
			}
			while (o > 0 && buf[--o] != '/')
				;
			if (last)
				buf[o++] = '/';
			continue;
		}
		memmove(buf + o, buf + r, n + 1);
		o += n + 1;
	}
	return (ssize_t)o;
}

/*
 * Normalise the path of an origin-form request-target in buf (*len
 * bytes, a query after '?' allowed) in place; *len is set to the new
 * length.  Returns 0, or a PN_E* error (buf then holds anything).
 */
int
pathnorm(char *buf, size_t *len, int flags)
{
	size_t	plen;
	ssize_t	n;
	int	err = PN_OK;

	if (*len == 0 || buf[0] != '/')
		return PN_ENOTABS;
	if (memchr(buf, '#', *len) != NULL)
		return PN_EFRAGMENT;
	for (plen = 0; plen < *len && buf[plen] != '?'; plen++)
		;
	if ((n = pn_escapes(buf, plen, flags, &err)) == -1 ||
	    (n = pn_segments(buf, (size_t)n, flags, &err)) == -1)
		return err;
	memmove(buf + n, buf + plen, *len - plen);
	*len = (size_t)n + (*len - plen);
	return PN_OK;
}
