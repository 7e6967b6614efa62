/* A few TAP helpers for the C unit tests. */
#ifndef TAP_H
#define TAP_H

#include <stdio.h>
#include <string.h>

static int tap_n, tap_failed;

#define ok(cond, ...) do {						\
	int ok_c_ = (cond) ? 1 : 0;					\
	printf("%sok %d - ", ok_c_ ? "" : "not ", ++tap_n);		\
	printf(__VA_ARGS__);						\
	printf("\n");							\
	if (!ok_c_) {							\
		tap_failed++;						\
		printf("# failed at %s:%d: %s\n", __FILE__, __LINE__,	\
		    #cond);						\
	}								\
	fflush(stdout);							\
} while (0)

/*
 * Printable form of len bytes for a test's name: C escapes for control
 * and non-ASCII bytes, '#' and backslashes.  One static buffer:
 * one call per printf.
 */
static inline const char *
tap_show(const char *s, size_t len)
{
	static char	 buf[1200];
	size_t		 i, o = 0;
	unsigned char	 c;

	for (i = 0; i < len && o + 5 < sizeof(buf); i++) {
		c = (unsigned char)s[i];
		if (c < 0x20 || c >= 0x7f || c == '#' || c == '\\')
			o += (size_t)snprintf(buf + o, sizeof(buf) - o,
			    "\\x%02x", c);
		else
			buf[o++] = (char)c;
	}
	buf[o] = '\0';
	return buf;
}

#define tap_done() (printf("1..%d\n", tap_n), tap_failed ? 1 : 0)

#endif
