/*
 * egressd: the gateway's shared declarations.  The configuration as the
 * parent parses it, the per-role entry points, and the prototypes of every
 * src/ file, grouped per file.
 */
#ifndef EGRESSD_H
#define EGRESSD_H

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <limits.h>
#include <stdint.h>
#include <stdio.h>

#include "ps.h"
#include "proto.h"

#define EGRESSD_CONF		"/etc/egressd.conf"
#define EGRESSD_USER		"_egressd"
#define EGRESSD_CHROOT		"/var/empty"
#define EGRESSD_RESOLVER	"/etc/resolv.conf"
#define EGRESSD_DRAIN		30	/* seconds to let connections end */
#define EGRESSD_MAXCONN		10000	/* client connections per worker */
#define EGRESSD_IDLE		60	/* seconds a client may stay silent */
#define EGRESSD_MAXWORKERS	64

enum listen_proto {
	PROTO_HTTP = 0,
	PROTO_HTTPS,
	PROTO_TLS,
};

struct hostname {
	TAILQ_ENTRY(hostname)	 entry;
	char			 name[EGD_HOST_MAX];
};
TAILQ_HEAD(hostlist, hostname);

struct listener {
	TAILQ_ENTRY(listener)	 entry;
	uint32_t		 id;
	uint32_t		 gateway;	/* id of its gateway */
	struct sockaddr_storage	 ss;
	socklen_t		 sslen;
	int			 proto;		/* enum listen_proto */
	int			 fd;		/* bound socket or -1 */
};
TAILQ_HEAD(listenerlist, listener);

struct gateway {
	TAILQ_ENTRY(gateway)	 entry;
	uint32_t		 id;
	char			 name[EGD_NAME_MAX];
	struct hostlist		 hosts;
};
TAILQ_HEAD(gatewaylist, gateway);

struct egressd_conf {
	uint32_t		 gen;
	char			 user[64];
	char			 chroot[PATH_MAX];
	char			 resolver[PATH_MAX];
	int			 workers;	/* 0: one per CPU */
	int			 drain_timeout;
	int			 max_conns;
	int			 idle_timeout;
	int			 log_facility;
	struct gatewaylist	 gateways;
	struct listenerlist	 listeners;
};

struct egressd_opts {
	const char		*conffile;
	int			 debug;		/* -d: foreground, stderr */
	int			 verbose;	/* -v, repeatable */
	int			 noaction;	/* -n: check only */
	int			 role;
	int			 instance;
};

/* config.c */
struct egressd_conf	*conf_new(void);
void			 conf_free(struct egressd_conf *);
struct gateway		*conf_gateway(struct egressd_conf *, const char *);
int			 conf_workers(const struct egressd_conf *);
const char		*proto_name(int);
const char		*addr_ntop(const struct sockaddr_storage *, char *,
			    size_t);
int			 addr_port(const struct sockaddr_storage *);
int			 addr_equal(const struct sockaddr_storage *,
			    const struct sockaddr_storage *);
int			 facility_value(const char *);
const char		*facility_name(int);

/* parse.y */
struct egressd_conf	*parse_config(const char *, int);
int			 cmdline_symset(const char *);

/* printconf.c */
void			 print_config(FILE *, const struct egressd_conf *);

/* parent.c */
__attribute__((noreturn)) void parent_main(struct egressd_opts *);

/* worker.c */
__attribute__((noreturn)) void worker_main(struct egressd_opts *);

/* helper.c */
__attribute__((noreturn)) void helper_main(struct egressd_opts *);

/* child.c: start-up steps shared by the sandboxed roles */
void			 child_log_sink(int, const char *);
void			 child_log_chan(struct ps_chan *);
void			 child_recv_conf(struct ps_buf *, const struct ps_handler *,
			    size_t, const int *);
void			 child_init(struct ps_chan *, const struct msg_init *,
			    struct ps_identity *);
int			 msg_str(const char *, size_t);

#endif /* EGRESSD_H */
