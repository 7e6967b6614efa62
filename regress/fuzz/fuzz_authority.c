/*
 * Fuzz target: authorities, addresses, networks and host names
 * (src/addr.c), as Host headers, request-targets, CONNECT targets,
 * server names and configuration files give them.  The first byte picks
 * the default port (none, 80, 443); the rest is the text.  Properties:
 * an accepted authority comes out normalised (a valid lowercase name or
 * the canonical text of the address it parsed), with a port, and reading
 * its own output again gives the same host and port; an address or a
 * network that parses prints as text that parses to the same; a network
 * holds its own address; host patterns match what they should.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <stdio.h>
#include <string.h>

#include "egressd.h"
#include "fuzz.h"

static void
check_authority(const char *in, size_t len, uint16_t defport)
{
	struct egd_addr	 lit, lit2;
	char		 host[EGD_HOST_MAX], host2[EGD_HOST_MAX];
	char		 again[300];
	const char	*err = NULL;
	uint16_t	 port, port2;
	int		 literal, literal2, n;
	size_t		 i;

	if (authority_parse(in, len, defport, host, sizeof(host), &port,
	    &lit, &literal, &err) == -1) {
		FUZZ_CHECK(err != NULL, "a refusal says why");
		return;
	}
	FUZZ_CHECK(host[0] != '\0' && port != 0, "host and port");
	FUZZ_CHECK(defport != 0 || memchr(in, ':', len) != NULL,
	    "no port without a default");
	if (literal) {
		FUZZ_CHECK(egd_addr_parse(host, &lit2) == 0 &&
		    egd_addr_equal(&lit, &lit2), "a literal is canonical");
		n = snprintf(again, sizeof(again), lit.af == AF_INET6 ?
		    "[%s]:%u" : "%s:%u", host, port);
	} else {
		FUZZ_CHECK(host_valid(host, 0, &err) == 0, "a valid name");
		for (i = 0; host[i] != '\0'; i++)
			FUZZ_CHECK(host[i] < 'A' || host[i] > 'Z', "lowercase");
		n = snprintf(again, sizeof(again), "%s:%u", host, port);
	}
	FUZZ_CHECK(n > 0 && (size_t)n < sizeof(again), "fits");
	FUZZ_CHECK(authority_parse(again, (size_t)n, 0, host2, sizeof(host2),
	    &port2, &lit2, &literal2, &err) == 0, "the output parses again");
	FUZZ_CHECK(strcmp(host, host2) == 0 && port == port2 &&
	    literal == literal2, "and means the same");
}

static void
check_addr(const char *s)
{
	struct egd_addr	 a, b;
	struct egd_cidr	 c, d;
	char		 text[INET6_ADDRSTRLEN + 8];

	if (egd_addr_parse(s, &a) == 0) {
		FUZZ_CHECK(egd_addr_ntop(&a, text, sizeof(text)) != NULL,
		    "prints");
		FUZZ_CHECK(egd_addr_parse(text, &b) == 0 &&
		    egd_addr_equal(&a, &b), "address round trip");
		(void)egd_addr_private(&a);
	}
	if (egd_cidr_parse(s, &c) == 0) {
		FUZZ_CHECK(egd_cidr_match(&c, &c.a), "a network holds itself");
		egd_addr_ntop(&c.a, text, sizeof(text));
		snprintf(text + strlen(text), sizeof(text) - strlen(text),
		    "/%u", c.prefixlen);
		FUZZ_CHECK(egd_cidr_parse(text, &d) == 0 &&
		    d.prefixlen == c.prefixlen && egd_addr_equal(&c.a, &d.a),
		    "network round trip");
		if (egd_cidr_private(&c) != NULL)
			FUZZ_CHECK(egd_addr_private(&c.a) != NULL,
			    "a private network's address is private");
	}
}

static void
check_host(const char *s)
{
	const char	*err, *dot;

	if (host_valid(s, 1, &err) == -1)
		return;
	if (s[0] == '*') {
		/* "*.x" matches "a.x", never "x" itself. */
		char	name[EGD_HOST_MAX + 2];

		FUZZ_CHECK(!host_match(s, s + 2), "not the apex");
		if (strlen(s) + 1 < sizeof(name)) {
			name[0] = 'a';
			memcpy(name + 1, s + 1, strlen(s));
			if (host_valid(name, 0, &err) == 0)
				FUZZ_CHECK(host_match(s, name),
				    "a label in front");
		}
	} else {
		FUZZ_CHECK(host_match(s, s), "a name matches itself");
		if ((dot = strchr(s, '.')) != NULL && dot[1] != '\0' &&
		    strlen(dot) < EGD_HOST_MAX) {
			char	pat[EGD_HOST_MAX + 2];

			pat[0] = '*';
			memcpy(pat + 1, dot, strlen(dot) + 1);
			if (host_valid(pat, 1, &err) == 0)
				FUZZ_CHECK(host_match(pat, s),
				    "its parent's wildcard");
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint16_t	 ports[] = { 0, 80, 443 };
	char			 s[1100];

	if (size < 1 || size > 1024)
		return 0;
	check_authority((const char *)data + 1, size - 1, ports[data[0] % 3]);
	memcpy(s, data + 1, size - 1);
	s[size - 1] = '\0';
	check_addr(s);
	check_host(s);
	return 0;
}
