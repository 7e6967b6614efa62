/*
 * Policy and routing decisions (policy.c), used by the workers.
 */
#ifndef POLICY_H
#define POLICY_H

#include "egressd.h"

struct policy_req {
	uint32_t		 gateway;	/* id */
	const struct egd_addr	*src;		/* the client */
	int			 connect;	/* a tunnel, not a request */
	const char		*host;		/* normalised authority */
	uint16_t		 port;
	int			 literal;	/* host is an address */
	const char		*method;
	const char		*path;		/* origin-form, with query */
	size_t			 pathlen;
	const char		*ids;		/* verified identities, each */
	int			 nids;		/* EGD_IDENT_MAX bytes */
	/* The nth line's value of a header by lowercase name, or NULL. */
	const char		*(*header)(void *, const char *, int, size_t *);
	void			*harg;
};

struct policy_dec {
	int			 reason;	/* enum audit_reason on deny */
	const char		*text;		/* for the client, or NULL */
	int			 report;	/* would-deny reason, allowed */
	const struct route	*route;
	const struct route_match *match;
	const struct service	*svc;
	const struct svc_port	*sport;
	char			 host[EGD_HOST_MAX];	/* destination */
	uint16_t		 port;
	int			 literal;
	const char		*authority;	/* Host to send upstream */
	int			 websocket;
	int			 timeout;	/* seconds, 0: default */
	int			 retries;
};

const struct gateway	*policy_gateway(const struct egressd_conf *, uint32_t);
const struct service	*policy_service(const struct egressd_conf *,
			    const char *, uint16_t, int, int,
			    const struct svc_port **, int *);
int			 policy_decide(const struct egressd_conf *,
			    const struct policy_req *, struct policy_dec *,
			    uint32_t);

#endif /* POLICY_H */
