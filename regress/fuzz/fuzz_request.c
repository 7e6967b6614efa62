/*
 * Fuzz target: the request-head path of the workers, from the client's
 * bytes to the origin's (regress/fuzz/harness.c runs the real code).
 * The first byte's low bit makes the client half-close after sending;
 * the rest is what it sends, any number of requests.  Beyond what every
 * harness run checks (well-formed requests upstream, for registered
 * hosts only, each recorded; no connection left behind), the client must
 * get well-formed responses, each carrying the gateway's Via, when its
 * requests can be told apart without knowing which were HEAD.
 */
#include "config.h"

#include <sys/types.h>

#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct harness_run	 r;

	if (size < 1 || size > 65536)
		return 0;
	memset(&r, 0, sizeof(r));
	r.mode = HARNESS_REQUEST;
	r.halfclose = data[0] & 1;
	r.client = data + 1;
	r.clientlen = size - 1;
	harness_run(&r);
	if (memmem(data, size, "HEAD", 4) == NULL)
		harness_check_client(&r, 0, 0,
		    memmem(data, size, "/ws/", 4) != NULL);
	free(r.got);
	return 0;
}
