/*
 * Fuzz target: the channel framing (privsep/imsg.c) and its dispatch
 * through a handler table (privsep/chan.c), as a hostile peer on the
 * other end of a socketpair would drive them.  The input is a series of
 * chunks, each one control byte, a 16-bit length and that many bytes:
 * raw bytes written as they are, or a message composed by ps_compose()
 * from them (control bit 0x04), with a descriptor riding along (0x01),
 * or the end of the stream (0x02).  The receiver is a real ps_chan on an
 * event loop with a table that has every kind of row: fixed and ranged
 * sizes, a descriptor required, a phase, once only.  Properties: a
 * handler sees only messages its row allows (type, size, descriptor,
 * phase, once), checked again here independently of ps_check(); after a
 * violation no handler runs again and the owner is told once; and no
 * descriptor is leaked, whatever arrived.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "ps.h"
#include "fuzz.h"

enum {
	T_FIXED = 1,	/* exactly 4 bytes */
	T_RANGE,	/* 0..64 bytes */
	T_FD,		/* empty, with a descriptor */
	T_ONCE,		/* 8 bytes, once */
	T_START,	/* 0..16 bytes, start phase only */
	T_GO,		/* empty, start phase, once: to the run phase */
	T_RUN,		/* 4 bytes, run phase only */
	T_BIG,		/* up to the largest payload */
};
#define PH_START	0x1
#define PH_RUN		0x2

static void	 handle(struct ps_chan *, struct ps_msg *);

static const struct ps_handler table[] = {
	{ T_FIXED, 4, 4, PS_FD_NONE, 0, 0, handle },
	{ T_RANGE, 0, 64, PS_FD_NONE, 0, 0, handle },
	{ T_FD, 0, 0, PS_FD_MUST, 0, 0, handle },
	{ T_ONCE, 8, 8, PS_FD_NONE, 0, 1, handle },
	{ T_START, 0, 16, PS_FD_NONE, PH_START, 0, handle },
	{ T_GO, 0, 0, PS_FD_NONE, PH_START, 1, handle },
	{ T_RUN, 4, 4, PS_FD_NONE, PH_RUN, 0, handle },
	{ T_BIG, 0, PS_MAX_PAYLOAD, PS_FD_NONE, 0, 0, handle },
};

static struct event_base	*base;
static int			 lowfd;		/* lowest free descriptor */
static int			 closed, once_seen, after_close;
static uint32_t			 phase;

static void
quiet(int pri, const char *line)
{
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	log_init(0, LOG_DAEMON);
	log_set_sink(quiet);
	if ((base = event_base_new()) == NULL)
		abort();
	lowfd = dup(0);
	close(lowfd);
	return 0;
}

static void
handle(struct ps_chan *c, struct ps_msg *m)
{
	FUZZ_CHECK(!closed, "no handler after the channel failed");
	switch (m->hdr.type) {
	case T_FIXED:
	case T_RUN:
		FUZZ_CHECK(m->len == 4 && m->fd == -1, "4 bytes, no fd");
		FUZZ_CHECK(m->hdr.type != T_RUN || phase == PH_RUN, "phase");
		break;
	case T_RANGE:
		FUZZ_CHECK(m->len <= 64 && m->fd == -1, "0..64 bytes");
		break;
	case T_FD:
		FUZZ_CHECK(m->len == 0 && m->fd != -1 &&
		    fcntl(m->fd, F_GETFD) != -1, "a live descriptor");
		break;
	case T_ONCE:
		FUZZ_CHECK(m->len == 8 && !once_seen++, "once");
		break;
	case T_START:
		FUZZ_CHECK(m->len <= 16 && phase == PH_START, "start only");
		break;
	case T_GO:
		FUZZ_CHECK(phase == PH_START, "once, at the start");
		phase = c->phase = PH_RUN;
		break;
	case T_BIG:
		FUZZ_CHECK(m->len <= PS_MAX_PAYLOAD, "within a message");
		break;
	default:
		FUZZ_CHECK(0, "a type of the table");
	}
	/* The payload is readable to its end. */
	if (m->len > 0)
		FUZZ_CHECK(m->data[0] == m->data[0] &&
		    m->data[m->len - 1] == m->data[m->len - 1], "readable");
}

static void
chan_closed(struct ps_chan *c, const char *why)
{
	FUZZ_CHECK(why != NULL, "a reason");
	if (closed)
		after_close = 1;
	closed = 1;
}

/* Write what the socket takes; the receiver reads in between. */
static void
send_raw(int fd, const uint8_t *p, size_t len, int withfd)
{
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int))];
	} cm;
	struct msghdr	 msg;
	struct iovec	 iov;
	struct cmsghdr	*c;
	int		 nfd = -1;
	ssize_t		 n;

	memset(&msg, 0, sizeof(msg));
	iov.iov_base = (void *)(uintptr_t)p;
	iov.iov_len = len;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	if (withfd && len > 0 && (nfd = open("/dev/null", O_RDONLY)) != -1) {
		memset(&cm, 0, sizeof(cm));
		msg.msg_control = cm.buf;
		msg.msg_controllen = sizeof(cm.buf);
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_len = CMSG_LEN(sizeof(int));
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		memcpy(CMSG_DATA(c), &nfd, sizeof(int));
	}
	n = sendmsg(fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (nfd != -1)
		close(nfd);
	(void)n;	/* a full socket drops the rest, as a peer may */
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ps_chan	*c;
	struct ps_buf	 tx;
	size_t		 off = 0, len;
	uint8_t		 ctl;
	uint32_t	 type;
	int		 sv[2], fd, i;

	if (base == NULL)
		LLVMFuzzerInitialize(NULL, NULL);
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1)
		abort();
	closed = once_seen = after_close = 0;
	phase = PH_START;
	if ((c = ps_chan_new(base, sv[1], "fuzz", table,
	    sizeof(table) / sizeof(table[0]), chan_closed, NULL)) == NULL)
		abort();
	c->phase = PH_START;
	if (ps_buf_init(&tx, sv[0]) == -1)
		abort();
	while (off + 3 <= size && !closed) {
		ctl = data[off];
		len = (size_t)data[off + 1] << 8 | data[off + 2];
		off += 3;
		if (len > size - off)
			len = size - off;
		if (ctl & 0x02) {
			shutdown(sv[0], SHUT_WR);
		} else if ((ctl & 0x04) && len >= 1) {
			/* A well-framed message: type from the first byte. */
			type = data[off] % 10;
			fd = (ctl & 0x01) ? open("/dev/null", O_RDONLY) : -1;
			if (ps_compose(&tx, type, 0, fd, data + off + 1,
			    len - 1) == 0)
				(void)ps_flush(&tx);
		} else
			send_raw(sv[0], data + off, len, ctl & 0x01);
		off += len;
		for (i = 0; i < 4; i++)
			event_base_loop(base, EVLOOP_NONBLOCK);
		if (ctl & 0x02)
			break;
	}
	close(sv[0]);
	tx.fd = -1;
	ps_buf_clear(&tx);
	for (i = 0; i < 64 && !closed; i++)
		event_base_loop(base, EVLOOP_NONBLOCK);
	FUZZ_CHECK(closed, "the end of the stream closes the channel");
	FUZZ_CHECK(!after_close, "the owner is told once");
	ps_chan_free(c);
	fd = dup(0);
	FUZZ_CHECK(fd == lowfd, "no descriptor leaked");
	close(fd);
	return 0;
}
