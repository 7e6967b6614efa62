/*
 * The DNS servers the helper asks, worked out by the parent: the
 * "nameserver" addresses of the configuration when there are any,
 * otherwise the "nameserver" lines of the resolver file (resolv.conf).
 * Only the parent runs this; the helper never opens a file and gets the
 * addresses as IMSG_CONF_NAMESERVER messages within each generation.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "egressd.h"

#define RESOLV_PORT	53

/*
 * One address as resolv.conf writes it: dotted IPv4, or IPv6 with an
 * optional %scope (an interface name or number) for link-local servers.
 */
static int
resolv_addr(const char *s, struct sockaddr_storage *ss)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)ss;
	char			 buf[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
	char			*scope;
	const char		*errstr;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, s, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(RESOLV_PORT);
		return 0;
	}
	if (strlcpy(buf, s, sizeof(buf)) >= sizeof(buf))
		return -1;
	if ((scope = strchr(buf, '%')) != NULL)
		*scope++ = '\0';
	if (inet_pton(AF_INET6, buf, &sin6->sin6_addr) != 1)
		return -1;
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons(RESOLV_PORT);
	if (scope != NULL) {
		if ((sin6->sin6_scope_id = if_nametoindex(scope)) == 0) {
			sin6->sin6_scope_id = (uint32_t)strtonum(scope, 1,
			    UINT32_MAX, &errstr);
			if (errstr != NULL)
				return -1;
		}
	}
	return 0;
}

/*
 * Read up to max "nameserver ADDR" lines of a resolv.conf into out, port
 * 53.  Other lines and comments (# or ;) are ignored, as the C library
 * does; an address that does not parse is skipped with a warning.
 * Returns the number read, or -1 with err set when the file cannot be
 * read or names no server.
 */
int
resolv_load(const char *path, struct sockaddr_storage *out, int max,
    char *err, size_t errlen)
{
	FILE		*fp;
	char		*line = NULL, *p, *kw, *addr;
	size_t		 size = 0;
	ssize_t		 len;
	int		 n = 0, lineno = 0, skipped = 0;

	if ((fp = fopen(path, "re")) == NULL) {
		snprintf(err, errlen, "resolver %s: %s", path,
		    strerror(errno));
		return -1;
	}
	while ((len = getline(&line, &size, fp)) != -1) {
		lineno++;
		if ((p = strpbrk(line, "#;\r\n")) != NULL)
			*p = '\0';
		p = line;
		if ((kw = strsep(&p, " \t")) == NULL ||
		    strcmp(kw, "nameserver") != 0)
			continue;
		while (p != NULL && (*p == ' ' || *p == '\t'))
			p++;
		if (p == NULL || (addr = strsep(&p, " \t")) == NULL ||
		    *addr == '\0')
			continue;
		if (n == max) {
			skipped++;
			continue;
		}
		if (resolv_addr(addr, &out[n]) == -1) {
			log_warnx("%s:%d: nameserver %s is not an IP "
			    "address; ignored", path, lineno, addr);
			continue;
		}
		n++;
	}
	if (ferror(fp)) {
		snprintf(err, errlen, "resolver %s: %s", path,
		    strerror(errno));
		free(line);
		fclose(fp);
		return -1;
	}
	free(line);
	fclose(fp);
	if (skipped)
		log_warnx("%s: only the first %d nameservers are used", path,
		    max);
	if (n == 0) {
		snprintf(err, errlen, "resolver %s: no nameserver line",
		    path);
		return -1;
	}
	return n;
}

/*
 * The servers of a new configuration.  Without "nameserver" addresses in
 * egressd.conf, conf->nameservers is filled from the resolver file, so
 * that a generation always carries the servers it was loaded with (a
 * respawned helper gets the same ones; SIGHUP reads the file again).
 */
int
resolv_conf(struct egressd_conf *conf, char *err, size_t errlen)
{
	char	addr[INET6_ADDRSTRLEN];
	int	i, n;

	if (conf->nnameservers == 0) {
		if ((n = resolv_load(conf->resolver, conf->nameservers,
		    (int)(sizeof(conf->nameservers) /
		    sizeof(conf->nameservers[0])), err, errlen)) == -1)
			return -1;
		conf->nnameservers = n;
	}
	for (i = 0; i < conf->nnameservers; i++)
		log_debug("nameserver %s port %d",
		    addr_ntop(&conf->nameservers[i], addr, sizeof(addr)),
		    addr_port(&conf->nameservers[i]));
	return 0;
}
