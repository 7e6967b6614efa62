/*
 * Fuzz target: the ClientHello reader of tls listeners and checked
 * tunnels (tls_client_hello() in src/worker_tls.c), on the first bytes a
 * client sends.  Properties: it asks for more only up to one whole
 * record, and then for more than it was given; a server name it returns
 * is a valid lowercase host name; a refusal gives one of its two
 * reasons; and reading the same bytes as they trickle in never gives
 * another answer than reading them whole: a prefix asks for more, or
 * gets the whole's answer.
 */
#include "config.h"

#include <sys/types.h>

#include <string.h>

#include "worker.h"
#include "fuzz.h"

#define REC_MAX	(5 + 16384)

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char		 host[EGD_HOST_MAX], h2[EGD_HOST_MAX];
	const char	*err;
	size_t		 need = 0, need2, k;
	int		 reason, reason2, r, r2;

	r = tls_client_hello(data, size, host, sizeof(host), &need, &reason);
	switch (r) {
	case 1:
		FUZZ_CHECK(need > size && need <= REC_MAX, "asks for more");
		break;
	case 0:
		FUZZ_CHECK(reason == AR_NONE, "no reason when accepted");
		FUZZ_CHECK(host_valid(host, 0, &err) == 0, "a valid name");
		break;
	case -1:
		FUZZ_CHECK(reason == AR_BAD_CLIENT_HELLO || reason == AR_NO_SNI,
		    "one of its reasons");
		break;
	default:
		FUZZ_CHECK(0, "returns 1, 0 or -1");
	}
	if (r == 1 || size > REC_MAX)
		return 0;
	/* Prefixes: a few of them, spread over the input. */
	for (k = 0; k < size; k += 1 + size / 16) {
		r2 = tls_client_hello(data, k, h2, sizeof(h2), &need2,
		    &reason2);
		if (r2 == 1)
			FUZZ_CHECK(need2 > k && need2 <= REC_MAX,
			    "a prefix asks for more");
		else if (r2 == 0)
			FUZZ_CHECK(r == 0 && strcmp(h2, host) == 0,
			    "a prefix taken is the whole taken");
		else
			FUZZ_CHECK(r == -1 && reason2 == reason,
			    "a prefix refused is the whole refused, as such");
	}
	return 0;
}
