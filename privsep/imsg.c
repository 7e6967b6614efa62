/*
 * Message framing over a stream socketpair, with descriptor passing.
 * Used by every process.  A message is a struct ps_hdr and a payload; a
 * descriptor travels as SCM_RIGHTS with the first byte of the message that
 * declares it (PS_F_FD).  The reader never trusts the peer: lengths are
 * checked against the hard maximum before anything is buffered or parsed,
 * and a descriptor that arrives where no message claims it is an error.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ps.h"

#define PS_RBUF_SIZE	(2 * PS_MAX_MSG)
#define PS_IOV_MAX	64
/*
 * Bytes taken by one read.  A channel's read callback dispatches what one
 * read completes, so this bounds the work one event does: a peer sending
 * much at once (the parent, a configuration generation) is served between
 * the receiver's other events, in pieces.
 */
#define PS_READ_CHUNK	16384

int
ps_buf_init(struct ps_buf *b, int fd)
{
	memset(b, 0, sizeof(*b));
	if ((b->rbuf = malloc(PS_RBUF_SIZE)) == NULL)
		return -1;
	b->fd = fd;
	b->pid = (uint32_t)getpid();
	TAILQ_INIT(&b->outq);
	return 0;
}

void
ps_buf_clear(struct ps_buf *b)
{
	struct ps_omsg	*m;
	int		 i;

	while ((m = TAILQ_FIRST(&b->outq)) != NULL) {
		TAILQ_REMOVE(&b->outq, m, entry);
		if (m->fd != -1)
			close(m->fd);
		free(m);
	}
	for (i = 0; i < b->nfdq; i++)
		close(b->fdq[i].fd);
	b->nfdq = 0;
	b->opending = 0;
	free(b->rbuf);
	b->rbuf = NULL;
}

/*
 * Read what is there.  Returns the byte count, 0 on end of file, -1 with
 * errno (EAGAIN included) or with b->err set for a protocol violation.
 */
ssize_t
ps_read(struct ps_buf *b)
{
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int) * 8)];
	} cmsgbuf;
	struct msghdr	 msg;
	struct iovec	 iov;
	struct cmsghdr	*cm;
	ssize_t		 n;
	uint64_t	 start;
	int		*fds, nfds, i;

	/* Compact: keep the unparsed tail at the start of the buffer. */
	if (b->roff > 0) {
		memmove(b->rbuf, b->rbuf + b->roff, b->rlen - b->roff);
		b->rpos += b->roff;
		b->rlen -= b->roff;
		b->roff = 0;
	}
	if (b->rlen == PS_RBUF_SIZE) {
		b->err = "read buffer full";
		errno = EPROTO;
		return -1;
	}

	memset(&msg, 0, sizeof(msg));
	iov.iov_base = b->rbuf + b->rlen;
	iov.iov_len = PS_RBUF_SIZE - b->rlen;
	if (iov.iov_len > PS_READ_CHUNK)
		iov.iov_len = PS_READ_CHUNK;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cmsgbuf.buf;
	msg.msg_controllen = sizeof(cmsgbuf.buf);

	do {
		n = recvmsg(b->fd, &msg, MSG_CMSG_CLOEXEC);
	} while (n == -1 && errno == EINTR);
	if (n <= 0)
		return n;

	start = b->rpos + b->rlen;
	b->rlen += (size_t)n;

	for (cm = CMSG_FIRSTHDR(&msg); cm != NULL;
	    cm = CMSG_NXTHDR(&msg, cm)) {
		if (cm->cmsg_level != SOL_SOCKET ||
		    cm->cmsg_type != SCM_RIGHTS)
			continue;
		fds = (int *)(void *)CMSG_DATA(cm);
		nfds = (int)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		for (i = 0; i < nfds; i++) {
			if (b->nfdq == PS_MAX_FDQ) {
				close(fds[i]);
				b->err = "too many descriptors";
				continue;
			}
			b->fdq[b->nfdq].fd = fds[i];
			b->fdq[b->nfdq].start = start;
			b->fdq[b->nfdq].end = start + (uint64_t)n;
			b->nfdq++;
		}
	}
	if (msg.msg_flags & MSG_CTRUNC)
		b->err = "descriptors truncated";
	if (b->err != NULL) {
		errno = EPROTO;
		return -1;
	}
	return n;
}

static int
ps_fdq_pop(struct ps_buf *b)
{
	int	fd = b->fdq[0].fd;

	b->nfdq--;
	memmove(&b->fdq[0], &b->fdq[1], sizeof(b->fdq[0]) * (size_t)b->nfdq);
	return fd;
}

/*
 * Take the next whole message.  Returns 1 with *m filled, 0 when more
 * bytes are needed, -1 with b->err set when the peer broke the protocol.
 */
int
ps_get(struct ps_buf *b, struct ps_msg *m)
{
	struct ps_hdr	 hdr;
	size_t		 avail = b->rlen - b->roff;
	uint64_t	 at = b->rpos + b->roff;

	m->fd = -1;
	/* A descriptor whose recv we have parsed past belongs to nobody. */
	if (b->nfdq > 0 && b->fdq[0].end <= at) {
		b->err = "unexpected descriptor";
		return -1;
	}
	if (avail < PS_HDR_SIZE)
		return 0;
	memcpy(&hdr, b->rbuf + b->roff, sizeof(hdr));
	if (hdr.len < PS_HDR_SIZE || hdr.len > PS_MAX_MSG) {
		b->err = "bad message length";
		return -1;
	}
	if (hdr.flags & ~(uint32_t)PS_F_FD) {
		b->err = "unknown message flags";
		return -1;
	}
	if (avail < hdr.len)
		return 0;

	if (hdr.flags & PS_F_FD) {
		if (b->nfdq == 0 || b->fdq[0].start > at ||
		    b->fdq[0].end <= at) {
			b->err = "descriptor missing";
			return -1;
		}
		m->fd = ps_fdq_pop(b);
	} else if (b->nfdq > 0 && b->fdq[0].start == at &&
	    b->fdq[0].end == at + hdr.len) {
		/* It came alone with this message, which declares none. */
		b->err = "unexpected descriptor";
		return -1;
	}

	m->hdr = hdr;
	m->data = b->rbuf + b->roff + PS_HDR_SIZE;
	m->len = hdr.len - PS_HDR_SIZE;
	b->roff += hdr.len;
	return 1;
}

void
ps_msg_close(struct ps_msg *m)
{
	if (m->fd != -1) {
		close(m->fd);
		m->fd = -1;
	}
}

/*
 * Queue a message.  The buffer owns fd from here on, also on failure, and
 * closes it once sent.
 */
int
ps_composev(struct ps_buf *b, uint32_t type, uint32_t peerid, int fd,
    const struct iovec *iov, int iovcnt)
{
	struct ps_omsg	*m;
	struct ps_hdr	 hdr;
	size_t		 len = PS_HDR_SIZE, off;
	int		 i;

	for (i = 0; i < iovcnt; i++) {
		if (iov[i].iov_len > PS_MAX_PAYLOAD ||
		    len + iov[i].iov_len > PS_MAX_MSG) {
			if (fd != -1)
				close(fd);
			errno = EMSGSIZE;
			return -1;
		}
		len += iov[i].iov_len;
	}
	if ((m = malloc(sizeof(*m) + len)) == NULL) {
		if (fd != -1)
			close(fd);
		return -1;
	}
	memset(&hdr, 0, sizeof(hdr));
	hdr.type = type;
	hdr.len = (uint32_t)len;
	hdr.peerid = peerid;
	hdr.pid = b->pid;
	hdr.flags = fd != -1 ? PS_F_FD : 0;
	memcpy(m->data, &hdr, sizeof(hdr));
	for (i = 0, off = PS_HDR_SIZE; i < iovcnt; i++) {
		if (iov[i].iov_len == 0)
			continue;
		memcpy(m->data + off, iov[i].iov_base, iov[i].iov_len);
		off += iov[i].iov_len;
	}
	m->len = len;
	m->off = 0;
	m->fd = fd;
	TAILQ_INSERT_TAIL(&b->outq, m, entry);
	b->opending += len;
	return 0;
}

int
ps_compose(struct ps_buf *b, uint32_t type, uint32_t peerid, int fd,
    const void *data, size_t len)
{
	struct iovec	iov;

	iov.iov_base = (void *)(uintptr_t)data;
	iov.iov_len = len;
	return ps_composev(b, type, peerid, fd, &iov, len > 0 ? 1 : 0);
}

/*
 * Write what the socket takes.  A descriptor goes with the first byte of
 * its message, and a sendmsg never carries bytes of a later message that
 * has a descriptor of its own.  Returns 0 when the queue is empty, 1 when
 * bytes remain (EAGAIN), -1 on error.
 */
int
ps_flush(struct ps_buf *b)
{
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int))];
	} cmsgbuf;
	struct iovec	 iov[PS_IOV_MAX];
	struct msghdr	 msg;
	struct cmsghdr	*cm;
	struct ps_omsg	*m, *next;
	ssize_t		 n;
	size_t		 left;
	int		 cnt, fd;

	while ((m = TAILQ_FIRST(&b->outq)) != NULL) {
		memset(&msg, 0, sizeof(msg));
		fd = (m->off == 0) ? m->fd : -1;
		cnt = 0;
		TAILQ_FOREACH(next, &b->outq, entry) {
			if (cnt == PS_IOV_MAX ||
			    (next != m && next->fd != -1))
				break;
			iov[cnt].iov_base = next->data + next->off;
			iov[cnt].iov_len = next->len - next->off;
			cnt++;
		}
		msg.msg_iov = iov;
		msg.msg_iovlen = (size_t)cnt;
		if (fd != -1) {
			/* No stack garbage in the padding after the fd. */
			memset(&cmsgbuf, 0, sizeof(cmsgbuf));
			msg.msg_control = cmsgbuf.buf;
			msg.msg_controllen = sizeof(cmsgbuf.buf);
			cm = CMSG_FIRSTHDR(&msg);
			cm->cmsg_len = CMSG_LEN(sizeof(int));
			cm->cmsg_level = SOL_SOCKET;
			cm->cmsg_type = SCM_RIGHTS;
			memcpy(CMSG_DATA(cm), &fd, sizeof(int));
		}
		do {
			n = sendmsg(b->fd, &msg, MSG_NOSIGNAL);
		} while (n == -1 && errno == EINTR);
		if (n == -1) {
			if (errno == EAGAIN || errno == ENOBUFS)
				return 1;
			return -1;
		}
		if (fd != -1) {
			close(m->fd);
			m->fd = -1;
		}
		left = (size_t)n;
		b->opending -= left;
		while (left > 0 && (m = TAILQ_FIRST(&b->outq)) != NULL) {
			size_t	take = m->len - m->off;

			if (take > left)
				take = left;
			m->off += take;
			left -= take;
			if (m->off == m->len) {
				TAILQ_REMOVE(&b->outq, m, entry);
				free(m);
			}
		}
	}
	return 0;
}

/* For the few places with no event loop yet (start-up, fatal exit). */
int
ps_flush_blocking(struct ps_buf *b)
{
	struct pollfd	pfd;
	int		rv;

	while ((rv = ps_flush(b)) == 1) {
		pfd.fd = b->fd;
		pfd.events = POLLOUT;
		if (poll(&pfd, 1, 1000) == -1 && errno != EINTR)
			return -1;
	}
	return rv;
}
