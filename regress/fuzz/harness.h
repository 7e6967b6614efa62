/*
 * The worker in a box of regress/fuzz/harness.c: what a run is given and
 * what it saw, for fuzz_request.c and fuzz_response.c.
 */
#ifndef HARNESS_H
#define HARNESS_H

#include <stddef.h>
#include <stdint.h>

enum harness_mode {
	HARNESS_REQUEST = 0,	/* the origin answers 200 to everything */
	HARNESS_RESPONSE,	/* it answers the first request with answer */
};

struct oconn;

struct harness_run {
	int		 mode;
	const uint8_t	*client;	/* what the client sends */
	size_t		 clientlen;
	int		 halfclose;	/* then shuts its side */
	const uint8_t	*answer;	/* HARNESS_RESPONSE */
	size_t		 answerlen;
	size_t		 split;		/* two writes, split here */
	int		 origin_close;	/* then it shuts its side */

	uint8_t		*got;		/* the client received */
	size_t		 gotlen, gotsize;
	int		 origin_reqs;	/* the HTTP origin read */
	int		 records, requests, tunnels;
	struct oconn	*pending;	/* internal */
};

void	harness_init(void);
void	harness_run(struct harness_run *);
int	harness_check_client(const struct harness_run *, int, int, int);

#endif /* HARNESS_H */
