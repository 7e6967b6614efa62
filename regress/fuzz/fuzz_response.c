/*
 * Fuzz target: the response-head path of the workers, from the origin's
 * bytes to the client's (regress/fuzz/harness.c runs the real code).
 * The first byte picks the request the client sends (GET, HEAD, a
 * websocket upgrade on a route that allows it, a POST with Expect:
 * 100-continue, an HTTP/1.0 GET, two pipelined GETs, a GET on the
 * websocket route without Upgrade, a websocket upgrade as a POST); the
 * second where the origin's answer is split in two writes, and whether
 * the origin closes after it; the rest is the origin's answer to the
 * first request.  The client must get well-formed responses, in its own
 * HTTP version, each with the gateway's Via; interim answers only 100
 * and 103 and none to HTTP/1.0; a 101 only where a websocket was asked
 * for and allowed, naming websocket; and one record at least per
 * request, at most one each.
 */
#include "config.h"

#include <sys/types.h>

#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "fuzz.h"

#define H	"Host: web.test\r\n"
#define UP	"Connection: Upgrade\r\nUpgrade: websocket\r\n"

static const struct {
	const char	*req;
	int		 nreq, head, http10, may_switch;
} reqs[] = {
	{ "GET /r HTTP/1.1\r\n" H "\r\n", 1, 0, 0, 0 },
	{ "HEAD /r HTTP/1.1\r\n" H "\r\n", 1, 1, 0, 0 },
	{ "GET /ws/x HTTP/1.1\r\n" H UP "\r\n", 1, 0, 0, 1 },
	{ "POST /r HTTP/1.1\r\n" H "Expect: 100-continue\r\n"
	    "Content-Length: 5\r\n\r\nhello", 1, 0, 0, 0 },
	{ "GET /r HTTP/1.0\r\n" H "\r\n", 1, 0, 1, 0 },
	{ "GET /r HTTP/1.1\r\n" H "\r\nGET /r2 HTTP/1.1\r\n" H "\r\n",
	    2, 0, 0, 0 },
	{ "GET /ws/x HTTP/1.1\r\n" H "\r\n", 1, 0, 0, 0 },
	{ "POST /ws/x HTTP/1.1\r\n" H UP "Content-Length: 0\r\n\r\n",
	    1, 0, 0, 0 },
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct harness_run	 r;
	int			 sel, finals;

	if (size < 2 || size > 65536)
		return 0;
	sel = data[0] % (int)(sizeof(reqs) / sizeof(reqs[0]));
	memset(&r, 0, sizeof(r));
	r.mode = HARNESS_RESPONSE;
	r.client = (const uint8_t *)reqs[sel].req;
	r.clientlen = strlen(reqs[sel].req);
	r.answer = data + 2;
	r.answerlen = size - 2;
	r.split = r.answerlen * (data[1] & 0x7f) / 127;
	r.origin_close = (data[1] & 0x80) != 0;
	harness_run(&r);
	finals = harness_check_client(&r, reqs[sel].head, reqs[sel].http10,
	    reqs[sel].may_switch);
	FUZZ_CHECK(finals <= reqs[sel].nreq, "no response nobody asked for");
	FUZZ_CHECK(r.records >= 1 && r.records <= reqs[sel].nreq,
	    "one record per request taken, at least one");
	free(r.got);
	return 0;
}
