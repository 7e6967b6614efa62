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

#define tap_done() (printf("1..%d\n", tap_n), tap_failed ? 1 : 0)

#endif
