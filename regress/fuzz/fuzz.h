/*
 * What the fuzz targets of regress/fuzz/ share: the libFuzzer entry
 * points (regress/fuzz/replay.c calls them too, for make check), and the
 * check that ends a run with a report when a property does not hold.
 * A failed check aborts: libFuzzer keeps the input, the replay fails.
 */
#ifndef FUZZ_H
#define FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);
int	LLVMFuzzerInitialize(int *, char ***);

#define FUZZ_CHECK(cond, what) do {					\
	if (!(cond)) {							\
		fprintf(stderr, "%s:%d: check failed: %s (%s)\n",	\
		    __FILE__, __LINE__, (what), #cond);			\
		abort();						\
	}								\
} while (0)

#endif /* FUZZ_H */
