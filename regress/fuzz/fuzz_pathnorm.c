/*
 * Fuzz target: request paths in normal form (pathnorm() in
 * src/pathnorm.c), on request-targets a client sends.  The first byte
 * picks the flags; the rest is the path, a query allowed.  Properties:
 * an accepted path starts with '/', is never longer, keeps its query
 * byte for byte, holds no dot segment, no escape of an unreserved
 * character and no lowercase escape, nothing the steps refuse, and is
 * its own normal form: normalising it again changes nothing.
 */
#include "config.h"

#include <sys/types.h>

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "egressd.h"
#include "fuzz.h"

static int
unreserved(int c)
{
	return isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char		*buf, *again;
	const char	*q, *qin;
	size_t		 len, len2, plen, i, seg;
	int		 flags, err;

	if (size < 1 || size > 8192)
		return 0;
	flags = data[0] & (PN_MERGE_SLASHES | PN_SLASH_REJECT |
	    PN_SLASH_DECODE);
	len = size - 1;
	if ((buf = malloc(len + 1)) == NULL || (again = malloc(len + 1)) ==
	    NULL)
		abort();
	memcpy(buf, data + 1, len);
	err = pathnorm(buf, &len, flags);
	FUZZ_CHECK(pathnorm_error(err) != NULL, "a message for each error");
	if (err != PN_OK)
		goto out;
	FUZZ_CHECK(len >= 1 && len <= size - 1 && buf[0] == '/',
	    "an absolute path, never longer");
	qin = memchr(data + 1, '?', size - 1);
	q = memchr(buf, '?', len);
	FUZZ_CHECK((qin == NULL) == (q == NULL), "the query stays");
	if (q != NULL)
		FUZZ_CHECK((size_t)(buf + len - q) == (size_t)(
		    (const char *)data + size - qin) && memcmp(q, qin,
		    (size_t)(buf + len - q)) == 0, "the query, byte for byte");
	plen = q != NULL ? (size_t)(q - buf) : len;
	for (i = 0, seg = 0; i <= plen; i++) {
		if (i == plen || buf[i] == '/') {
			/* The segment buf[seg + 1 .. i). */
			if (i > seg + 1)
				FUZZ_CHECK(!(i - seg - 1 == 1 &&
				    buf[seg + 1] == '.') && !(i - seg - 1 == 2 &&
				    buf[seg + 1] == '.' && buf[seg + 2] == '.'),
				    "no dot segment");
			seg = i;
			continue;
		}
		FUZZ_CHECK(buf[i] != '\\' && buf[i] != '#' && buf[i] != '\0',
		    "nothing refused");
		if (buf[i] == '%') {
			FUZZ_CHECK(i + 2 < plen + 1 && isxdigit((unsigned char)
			    buf[i + 1]) && isxdigit((unsigned char)buf[i + 2]),
			    "a whole escape");
			FUZZ_CHECK(!islower((unsigned char)buf[i + 1]) &&
			    !islower((unsigned char)buf[i + 2]),
			    "escapes in uppercase");
			FUZZ_CHECK(!unreserved((int)strtol((char[]){ buf[i + 1],
			    buf[i + 2], 0 }, NULL, 16)),
			    "no escape of an unreserved character");
		}
	}
	if (flags & PN_MERGE_SLASHES)
		FUZZ_CHECK(memmem(buf, plen, "//", 2) == NULL,
		    "no empty segment when merged");
	memcpy(again, buf, len);
	len2 = len;
	FUZZ_CHECK(pathnorm(again, &len2, flags) == PN_OK && len2 == len &&
	    memcmp(again, buf, len) == 0, "its own normal form");
out:
	free(buf);
	free(again);
	return 0;
}
