/*
 * Start-up shared by the sandboxed roles (worker and helper), run in the
 * child before and during its privilege drop: reading the identity and the
 * configuration from the parent synchronously, the log sink to the parent,
 * and checks on strings that arrive in fixed-size message fields.
 */
#include "config.h"

#include <sys/types.h>

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "egressd.h"

static struct ps_buf	*child_logbuf;	/* during start-up */
static struct ps_chan	*child_logchan;	/* once the loop runs */

/* A fixed-size string field must hold a NUL. */
int
msg_str(const char *s, size_t size)
{
	return memchr(s, '\0', size) != NULL ? 0 : -1;
}

/* Log lines of a child without -d go to the parent, which owns syslog. */
void
child_log_sink(int pri, const char *line)
{
	struct msg_log	 ml;
	struct iovec	 iov[2];
	size_t		 len = strlen(line);

	if (len > EGD_LOG_MAX)
		len = EGD_LOG_MAX;
	ml.pri = pri;
	iov[0].iov_base = &ml;
	iov[0].iov_len = sizeof(ml);
	iov[1].iov_base = (void *)(uintptr_t)line;
	iov[1].iov_len = len;
	if (child_logchan != NULL)
		ps_chan_composev(child_logchan, IMSG_LOG, 0, -1, iov, 2);
	else if (child_logbuf != NULL &&
	    ps_composev(child_logbuf, IMSG_LOG, 0, -1, iov, 2) == 0)
		ps_flush_blocking(child_logbuf);
	if (pri <= LOG_CRIT && child_logchan != NULL)
		ps_flush_blocking(&child_logchan->buf);	/* about to exit */
}

void
child_log_chan(struct ps_chan *c)
{
	child_logchan = c;
	child_logbuf = NULL;
}

/*
 * Read messages from the parent, blocking, until *done is set by the
 * IMSG_CONF_END handler; the same table serves later in the event loop.
 * A closed channel means the parent is gone: leave quietly.
 */
void
child_recv_conf(struct ps_buf *b, const struct ps_handler *table, size_t n,
    const int *done)
{
	const struct ps_handler	*h;
	struct ps_msg		 m;
	const char		*why;
	uint64_t		 seen = 0;
	ssize_t			 r;
	int			 rv = 0;

	child_logbuf = b;
	while (!*done) {
		if ((r = ps_read(b)) == -1) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			fatalx("parent channel: %s",
			    b->err ? b->err : strerror(errno));
		}
		if (r == 0)
			exit(0);
		while (!*done && (rv = ps_get(b, &m)) == 1) {
			if ((h = ps_check(table, n, 0, &seen, &m, &why)) ==
			    NULL)
				fatalx("parent channel: %s (type %u)", why,
				    m.hdr.type);
			h->cb(NULL, &m);
			ps_msg_close(&m);
		}
		if (!*done && rv == -1)
			fatalx("parent channel: %s", b->err);
	}
}

/* The identity to drop to, from IMSG_INIT, checked. */
void
child_init(struct ps_chan *c, const struct msg_init *mi,
    struct ps_identity *id)
{
	if (msg_str(mi->chroot, sizeof(mi->chroot)) == -1 ||
	    mi->chroot[0] != '/')
		fatalx("bad chroot in init message");
	if (mi->uid == 0 || mi->gid == 0)
		fatalx("refusing to run as root");
	id->uid = mi->uid;
	id->gid = mi->gid;
	strlcpy(id->chroot, mi->chroot, sizeof(id->chroot));
	log_setverbose(mi->verbose);
}
