/*
 * A message channel on libevent, used by every process.  Reads are
 * dispatched through the receiver's handler table (ps_handler): the type,
 * payload size, descriptor and phase are checked before a handler sees a
 * byte.  Any violation, a read error or end of file closes the channel and
 * tells the owner why; the owner decides whether that is fatal.
 */
#include "config.h"

#include <sys/types.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/util.h>

#include "ps.h"

static void	ps_chan_read_cb(int, short, void *);
static void	ps_chan_write_cb(int, short, void *);
static void	ps_chan_dispatch(struct ps_chan *);

struct ps_chan *
ps_chan_new(struct event_base *base, int fd, const char *name,
    const struct ps_handler *table, size_t ntable,
    void (*closed)(struct ps_chan *, const char *), void *arg)
{
	struct ps_chan	*c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	if (ps_buf_init(&c->buf, fd) == -1) {
		free(c);
		return NULL;
	}
	if (evutil_make_socket_nonblocking(fd) == -1) {
		close(fd);	/* as ps_chan_free() does on later failures */
		ps_buf_clear(&c->buf);
		free(c);
		return NULL;
	}
	strlcpy(c->name, name, sizeof(c->name));
	c->table = table;
	c->ntable = ntable;
	c->closed = closed;
	c->arg = arg;
	c->rev = event_new(base, fd, EV_READ | EV_PERSIST, ps_chan_read_cb, c);
	c->wev = event_new(base, fd, EV_WRITE, ps_chan_write_cb, c);
	if (c->rev == NULL || c->wev == NULL || event_add(c->rev, NULL) == -1) {
		ps_chan_free(c);
		return NULL;
	}
	return c;
}

/*
 * Take over a buffer that was used synchronously during start-up, with
 * whatever it has buffered: those messages are dispatched at once.
 */
struct ps_chan *
ps_chan_adopt(struct event_base *base, struct ps_buf *b, const char *name,
    const struct ps_handler *table, size_t ntable,
    void (*closed)(struct ps_chan *, const char *), void *arg)
{
	struct ps_chan	*c;
	struct ps_omsg	*m;

	if ((c = ps_chan_new(base, b->fd, name, table, ntable, closed,
	    arg)) == NULL)
		return NULL;
	free(c->buf.rbuf);
	c->buf = *b;
	TAILQ_INIT(&c->buf.outq);
	while ((m = TAILQ_FIRST(&b->outq)) != NULL) {
		TAILQ_REMOVE(&b->outq, m, entry);
		TAILQ_INSERT_TAIL(&c->buf.outq, m, entry);
	}
	memset(b, 0, sizeof(*b));
	b->fd = -1;
	TAILQ_INIT(&b->outq);
	event_active(c->rev, EV_READ, 0);
	if (c->buf.opending > 0)
		event_add(c->wev, NULL);
	return c;
}

void
ps_chan_free(struct ps_chan *c)
{
	if (c == NULL)
		return;
	if (c->indispatch) {
		/* Freed by the read loop once the handler has returned. */
		c->dead = 1;
		c->freeme = 1;
		return;
	}
	if (c->rev != NULL)
		event_free(c->rev);
	if (c->wev != NULL)
		event_free(c->wev);
	if (c->buf.fd != -1)
		close(c->buf.fd);
	ps_buf_clear(&c->buf);
	free(c);
}

/*
 * Stop using the channel and tell the owner.  The owner may free it in
 * the callback; the read loop does not touch it afterwards.
 */
void
ps_chan_fail(struct ps_chan *c, const char *why)
{
	if (c->dead)
		return;
	c->dead = 1;
	event_del(c->rev);
	event_del(c->wev);
	if (c->closed != NULL)
		c->closed(c, why);
}

/*
 * Find the row for msg and check it.  Returns NULL with *why set when the
 * message breaks the table.  Exposed for the parent's privileged handlers
 * and for the tests.
 */
const struct ps_handler *
ps_check(const struct ps_handler *table, size_t n, uint32_t phase,
    uint64_t *seen, const struct ps_msg *m, const char **why)
{
	const struct ps_handler	*h;
	size_t			 i;

	for (i = 0; i < n; i++)
		if (table[i].type == m->hdr.type)
			break;
	if (i == n) {
		*why = "unknown message type";
		return NULL;
	}
	h = &table[i];
	if (m->len < h->min || m->len > h->max) {
		*why = "wrong message size";
		return NULL;
	}
	if ((h->fd == PS_FD_MUST) != (m->fd != -1)) {
		*why = h->fd == PS_FD_MUST ? "descriptor missing" :
		    "unexpected descriptor";
		return NULL;
	}
	if (h->phases != 0 && (h->phases & phase) == 0) {
		*why = "message not allowed in this phase";
		return NULL;
	}
	if (h->once) {
		if (i < 64 && (*seen & (1ULL << i))) {
			*why = "message repeated";
			return NULL;
		}
		if (i < 64)
			*seen |= 1ULL << i;
	}
	return h;
}

static void
ps_chan_read_cb(int fd, short ev, void *arg)
{
	struct ps_chan		*c = arg;

	c->indispatch = 1;
	ps_chan_dispatch(c);
	c->indispatch = 0;
	if (c->freeme)
		ps_chan_free(c);
}

static void
ps_chan_dispatch(struct ps_chan *c)
{
	const struct ps_handler	*h;
	struct ps_msg		 m;
	const char		*why = NULL;
	ssize_t			 n;
	int			 rv = 0;

	/* Parse what is buffered even when the read says EAGAIN or EOF. */
	if ((n = ps_read(&c->buf)) == -1 && errno != EAGAIN) {
		ps_chan_fail(c, c->buf.err ? c->buf.err : strerror(errno));
		return;
	}
	while (!c->dead && (rv = ps_get(&c->buf, &m)) == 1) {
		if ((h = ps_check(c->table, c->ntable, c->phase, &c->seen,
		    &m, &why)) == NULL) {
			ps_msg_close(&m);
			log_warnx("%s: %s (type %u, %zu bytes)", c->name, why,
			    m.hdr.type, m.len);
			ps_chan_fail(c, why);
			return;
		}
		h->cb(c, &m);
		ps_msg_close(&m);
	}
	if (c->dead)
		return;
	if (rv == -1) {
		log_warnx("%s: %s", c->name, c->buf.err);
		ps_chan_fail(c, c->buf.err);
	} else if (n == 0)
		ps_chan_fail(c, "channel closed");
}

static void
ps_chan_write_cb(int fd, short ev, void *arg)
{
	struct ps_chan	*c = arg;
	int		 rv;

	if (c->dead)
		return;
	if ((rv = ps_flush(&c->buf)) == -1) {
		ps_chan_fail(c, strerror(errno));
		return;
	}
	if (rv == 1)
		event_add(c->wev, NULL);
}

int
ps_chan_composev(struct ps_chan *c, uint32_t type, uint32_t peerid, int fd,
    const struct iovec *iov, int iovcnt)
{
	if (c->dead) {
		if (fd != -1)
			close(fd);
		errno = EPIPE;
		return -1;
	}
	if (ps_composev(&c->buf, type, peerid, fd, iov, iovcnt) == -1)
		return -1;
	event_add(c->wev, NULL);
	return 0;
}

int
ps_chan_compose(struct ps_chan *c, uint32_t type, uint32_t peerid, int fd,
    const void *data, size_t len)
{
	struct iovec	iov;

	iov.iov_base = (void *)(uintptr_t)data;
	iov.iov_len = len;
	return ps_chan_composev(c, type, peerid, fd, &iov, len > 0 ? 1 : 0);
}

size_t
ps_chan_pending(struct ps_chan *c)
{
	return c->buf.opending;
}

/*
 * Stop (on) or start again (!on) reading from the peer, for back-pressure:
 * its messages wait in the socket buffer and then in the peer's own queue.
 * Messages already read are still dispatched (at most one read buffer);
 * writing goes on.  A dead channel stays stopped.
 */
void
ps_chan_pause(struct ps_chan *c, int on)
{
	if (c->dead)
		return;
	if (on)
		event_del(c->rev);
	else
		event_add(c->rev, NULL);
}
