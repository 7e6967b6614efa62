/*
 * The audit sinks' sockets, opened by the parent for the workers, whose
 * sandbox cannot open any: a unix datagram socket connected to a path
 * (or to journald's), a connected UDP socket, or a TCP connection.  Each
 * worker gets a socket of its own for each sink, so that no two workers
 * interleave bytes on one TCP stream and one worker's reconnection
 * disturbs no other.  Sockets are opened only when a worker asks
 * (IMSG_AUDIT_REQUEST): at its start, after a reload that added a sink,
 * and when a sink failed.  A request is honoured at most about once a
 * second per worker and sink (the worker waits a second between two);
 * one that comes sooner, or while a connection for the same is still
 * being made, is ignored, and the worker asks again later.
 * Nothing here blocks: a TCP connection is made non-blocking, with
 * PA_CONNECT_TIMEOUT to succeed.  The parent never reads from these
 * sockets and never sees a record.  A failure to open a sink is logged
 * once, when it starts, and its end once.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "egressd.h"

#define PA_CONNECT_TIMEOUT	3	/* seconds for a TCP sink to accept */

/* One worker's socket to one sink, while it is being made. */
struct pa_conn {
	int			 fd;		/* TCP connecting, else -1 */
	struct event		*ev;
	int			 instance;
	uint32_t		 gen, sink;
	struct audit_sink	 conf;
	struct timespec		 last;		/* the last attempt */
	int			 tried;
};

static struct pa_conn	pa[EGRESSD_MAXWORKERS][EGD_AUDIT_MAXSINKS];
static int		pa_init;

/* The last outcome per sink, so that each change is logged once. */
static struct {
	uint32_t		 gen;
	int			 err;		/* 0: working */
} pa_state[EGD_AUDIT_MAXSINKS];

static void
pa_outcome(struct pa_conn *c, int err)
{
	char	name[160];

	if (pa_state[c->sink].gen != c->gen) {
		pa_state[c->sink].gen = c->gen;
		pa_state[c->sink].err = 0;
	}
	if (pa_state[c->sink].err == err)
		return;
	audit_sink_name(&c->conf, name, sizeof(name));
	if (err != 0)
		log_warnx("audit sink %s: %s; the workers queue records "
		    "until it works", name, strerror(err));
	else
		log_info("audit sink %s: connected", name);
	pa_state[c->sink].err = err;
}

/* The socket to its worker, which owns it from now on. */
static void
pa_send(struct pa_conn *c, int fd)
{
	struct msg_audit_sink	 ms;
	struct ps_chan		*ch;

	if ((ch = parent_worker_chan(c->instance)) == NULL) {
		close(fd);
		return;
	}
	memset(&ms, 0, sizeof(ms));
	ms.gen = c->gen;
	ms.sink = c->sink;
	ps_chan_compose(ch, IMSG_AUDIT_SINK, 0, fd, &ms, sizeof(ms));
	pa_outcome(c, 0);
}

static void
pa_cancel(struct pa_conn *c)
{
	if (c->ev != NULL) {
		event_free(c->ev);
		c->ev = NULL;
	}
	if (c->fd != -1) {
		close(c->fd);
		c->fd = -1;
	}
}

static void
pa_connected(int fd, short what, void *arg)
{
	struct pa_conn	*c = arg;
	socklen_t	 len;
	int		 err = 0;

	len = sizeof(err);
	if (what & EV_TIMEOUT)
		err = ETIMEDOUT;
	else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		err = errno;
	event_free(c->ev);
	c->ev = NULL;
	c->fd = -1;
	if (err != 0) {
		close(fd);
		pa_outcome(c, err);
		return;
	}
	pa_send(c, fd);
}

static void
pa_open(struct pa_conn *c, struct event_base *base)
{
	struct sockaddr_un	 sun;
	struct timeval		 tv = { PA_CONNECT_TIMEOUT, 0 };
	int			 fd, on = 1;

	switch (c->conf.type) {
	case ASINK_UNIX:
	case ASINK_JOURNALD:
		memset(&sun, 0, sizeof(sun));
		sun.sun_family = AF_UNIX;
		strlcpy(sun.sun_path, c->conf.path, sizeof(sun.sun_path));
		if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, 0)) == -1)
			break;
		if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1)
			break;
		pa_send(c, fd);
		return;
	case ASINK_UDP:
		if ((fd = socket(c->conf.ss.ss_family, SOCK_DGRAM |
		    SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1)
			break;
		if (connect(fd, (struct sockaddr *)&c->conf.ss,
		    c->conf.sslen) == -1)
			break;
		pa_send(c, fd);
		return;
	case ASINK_TCP:
		if ((fd = socket(c->conf.ss.ss_family, SOCK_STREAM |
		    SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1)
			break;
		(void)setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on,
		    sizeof(on));
		if (connect(fd, (struct sockaddr *)&c->conf.ss,
		    c->conf.sslen) == 0) {
			pa_send(c, fd);
			return;
		}
		if (errno != EINPROGRESS)
			break;
		if ((c->ev = event_new(base, fd, EV_WRITE, pa_connected,
		    c)) == NULL || event_add(c->ev, &tv) == -1)
			fatalx("audit sink: event_new");
		c->fd = fd;
		return;
	default:
		return;
	}
	pa_outcome(c, errno);
	if (fd != -1)
		close(fd);
}

/*
 * A worker's IMSG_AUDIT_REQUEST, checked against the configuration in
 * force: -1 with *why set for one that breaks the protocol (the caller
 * ends the channel), 0 otherwise, acted on or not.
 */
int
paudit_request(int instance, const struct egressd_conf *conf,
    const struct ps_msg *m, const char **why)
{
	struct msg_audit_sink	 ms;
	struct pa_conn		*c;
	struct ps_chan		*ch;
	struct timespec		 now;
	int			 i, j;

	if (!pa_init) {
		for (i = 0; i < EGRESSD_MAXWORKERS; i++)
			for (j = 0; j < EGD_AUDIT_MAXSINKS; j++)
				pa[i][j].fd = -1;
		pa_init = 1;
	}
	memcpy(&ms, m->data, sizeof(ms));
	if (instance < 0 || instance >= EGRESSD_MAXWORKERS) {
		*why = "audit request from an unknown worker";
		return -1;
	}
	if (ms.gen > conf->gen) {
		*why = "audit request for a generation never sent";
		return -1;
	}
	if (ms.gen < conf->gen)
		return 0;	/* before a reload: it asks again after */
	if (ms.sink >= (uint32_t)conf->audit.nsinks ||
	    conf->audit.sinks[ms.sink].type == ASINK_STDERR) {
		*why = "audit request for a sink that is not there";
		return -1;
	}
	c = &pa[instance][ms.sink];
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (c->fd != -1) {
		if (c->gen == ms.gen)
			return 0;	/* being connected */
		pa_cancel(c);		/* for an older generation */
	}
	/* The worker waits a second; 0.9 s here absorbs queueing delays. */
	if (c->tried && (now.tv_sec - c->last.tv_sec) * 1000000000LL +
	    (now.tv_nsec - c->last.tv_nsec) < 900000000LL) {
		log_debug("worker %d: audit sink %u asked again too soon",
		    instance, ms.sink);
		return 0;
	}
	if ((ch = parent_worker_chan(instance)) == NULL)
		return 0;
	c->last = now;
	c->tried = 1;
	c->instance = instance;
	c->gen = ms.gen;
	c->sink = ms.sink;
	c->conf = conf->audit.sinks[ms.sink];
	pa_open(c, event_get_base(ch->rev));
	return 0;
}
