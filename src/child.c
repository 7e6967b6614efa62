/*
 * Start-up shared by the sandboxed roles (worker and helper), run in the
 * child before and during its privilege drop: the build handshake,
 * reading the identity and the configuration from the parent
 * synchronously, the log sink to the parent, and checks on strings that
 * arrive in fixed-size message fields.
 */
#include "config.h"

#include <sys/types.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
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
 * Read from the parent, blocking, until one whole message is buffered.
 * A closed channel means the parent is gone: leave quietly.
 */
static void
child_read(struct ps_buf *b)
{
	ssize_t	r;

	while ((r = ps_read(b)) == -1) {
		if (errno != EINTR && errno != EAGAIN)
			fatalx("parent channel: %s",
			    b->err ? b->err : strerror(errno));
	}
	if (r == 0)
		exit(0);
}

/*
 * The first message on the channel, before any other is read: the
 * parent's build identity, which must be this binary's.  Every later
 * message is a raw structure whose layout only the same build knows.
 * The parent executes children from the file it was itself started
 * from, so a mismatch means that file was changed in place under it.  A
 * child of another build tells the parent which build it is
 * (IMSG_BUILD_REFUSED), waits a bounded time for the parent to close
 * the channel, so that the parent has read and logged it first, and
 * exits with EGD_EXIT_BUILD, having done nothing else.
 */
void
child_hello(struct ps_buf *b)
{
	struct msg_build	 mine, theirs;
	struct ps_msg		 m;
	struct pollfd		 pfd;
	char			 scratch[4096];
	time_t			 end;
	ssize_t			 r;
	int			 rv;

	memset(&mine, 0, sizeof(mine));
	strlcpy(mine.id, egd_build(), sizeof(mine.id));
	while ((rv = ps_get(b, &m)) == 0)
		child_read(b);
	if (rv == -1)
		fatalx("parent channel: %s", b->err);
	if (m.hdr.type != IMSG_BUILD || m.len != sizeof(theirs) ||
	    m.fd != -1) {
		ps_msg_close(&m);
		fatalx("parent channel: the first message (type %u) is not "
		    "the parent's build identity", m.hdr.type);
	}
	memcpy(&theirs, m.data, sizeof(theirs));
	if (msg_str(theirs.id, sizeof(theirs.id)) == 0 &&
	    strcmp(theirs.id, mine.id) == 0)
		return;

	if (msg_str(theirs.id, sizeof(theirs.id)) == -1)
		theirs.id[sizeof(theirs.id) - 1] = '\0';
	log_warnx("refusing to run: I am %s, my parent is %s", mine.id,
	    theirs.id);
	if (ps_compose(b, IMSG_BUILD_REFUSED, 0, -1, &mine,
	    sizeof(mine)) == 0)
		(void)ps_flush_blocking(b);
	/* Whatever else the parent sent is read and thrown away unread. */
	end = time(NULL) + EGD_BUILD_WAIT;
	pfd.fd = b->fd;
	pfd.events = POLLIN;
	while (time(NULL) < end) {
		if (poll(&pfd, 1, 1000) < 1)
			continue;
		if ((r = read(b->fd, scratch, sizeof(scratch))) == 0 ||
		    (r == -1 && errno != EINTR && errno != EAGAIN))
			break;
	}
	exit(EGD_EXIT_BUILD);
}

/*
 * Read messages from the parent, blocking, until *done is set by the
 * IMSG_CONF_END handler; the same table serves later in the event loop.
 * What child_hello() read beyond the first message is dispatched first.
 */
void
child_recv_conf(struct ps_buf *b, const struct ps_handler *table, size_t n,
    const int *done)
{
	const struct ps_handler	*h;
	struct ps_msg		 m;
	const char		*why;
	uint64_t		 seen = 0;
	int			 rv;

	child_logbuf = b;
	while (!*done) {
		while (!*done && (rv = ps_get(b, &m)) == 1) {
			if ((h = ps_check(table, n, 0, &seen, &m, &why)) ==
			    NULL)
				fatalx("parent channel: %s (type %u)", why,
				    m.hdr.type);
			h->cb(NULL, &m);
			ps_msg_close(&m);
		}
		if (*done)
			break;
		if (rv == -1)
			fatalx("parent channel: %s", b->err);
		child_read(b);
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
