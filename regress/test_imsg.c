/*
 * Unit tests for the privsep framing layer (privsep/imsg.c) and its
 * libevent channel (privsep/chan.c), run by make check as one ordinary
 * unprivileged process that speaks TAP on stdout.  Both ends of every
 * exchange live in this process on an AF_UNIX stream socketpair; hostile
 * peers are played by writing hand-built headers with write(2) and
 * sendmsg(2).  The tests check round trips, descriptor passing and its
 * ownership rules, reassembly of split input, back-pressure, rejection of
 * malformed input, the handler table and the channel's failure path, and
 * that no descriptor leaks over the whole run.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/mman.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <event2/event.h>

#include "ps.h"
#include "tap.h"

#define PUMP_ROUNDS	10000	/* flush, poll, read: one message */
#define LOOP_ROUNDS	200	/* event loop rounds, one channel test */
#define MANY		1000	/* messages in the back-pressure test */
#define MANY_ROUNDS	1000000
#define MANY_FDS	(PS_MAX_FDQ + 6)

/* Message types of the test protocol. */
enum {
	T_HELLO = 1,		/* once, 4 bytes */
	T_DATA,			/* 1..16 bytes */
	T_PASSFD,		/* empty, with a descriptor */
	T_CONFIG		/* start-up phase only */
};
#define PH_START	0x1
#define PH_RUN		0x2

/* Both ends of a socketpair, each with its buffer. */
struct pair {
	int		 sv[2];
	struct ps_buf	 tx;		/* on sv[0] */
	struct ps_buf	 rx;		/* on sv[1] */
};

/* What the channel's callbacks saw. */
struct chan_state {
	int		 handled;
	char		 got[4][17];
	int		 closed;
	const char	*why;
	int		 free_on_close;
};

static uint8_t	 big[PS_MAX_MSG + 16];
static uint8_t	 want[PS_MAX_MSG + 16];
static uint32_t	 rnd_state = 0x2545f491;

__attribute__((noreturn)) static void
die(const char *what)
{
	printf("Bail out! %s: %s\n", what, strerror(errno));
	exit(1);
}

/* Open descriptors, not counting the one that lists them. */
static int
fd_count(void)
{
	DIR		*d;
	struct dirent	*de;
	int		 n = 0;

	if ((d = opendir("/proc/self/fd")) == NULL)
		die("opendir /proc/self/fd");
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1;
}

static int
is_closed(int fd)
{
	return fcntl(fd, F_GETFD) == -1 && errno == EBADF;
}

/* xorshift32: the same "random" sizes on every run. */
static uint32_t
rnd(void)
{
	uint32_t	x = rnd_state;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return rnd_state = x;
}

/* Bytes that differ per message and per offset, without period 256. */
static void
pattern(uint8_t *p, size_t len, uint32_t seed)
{
	size_t	i;

	for (i = 0; i < len; i++)
		p[i] = (uint8_t)(seed * 31 + i + (i >> 8));
}

static int
pattern_ok(const uint8_t *p, size_t len, uint32_t seed)
{
	pattern(want, len, seed);
	return len == 0 || memcmp(p, want, len) == 0;
}

static void
set_nonblock(int fd)
{
	int	fl;

	if ((fl = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1)
		die("fcntl O_NONBLOCK");
}

static void
pair_open(struct pair *p)
{
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p->sv) == -1)
		die("socketpair");
	set_nonblock(p->sv[0]);
	set_nonblock(p->sv[1]);
	if (ps_buf_init(&p->tx, p->sv[0]) == -1 ||
	    ps_buf_init(&p->rx, p->sv[1]) == -1)
		die("ps_buf_init");
}

static void
pair_close(struct pair *p)
{
	ps_buf_clear(&p->tx);
	ps_buf_clear(&p->rx);
	close(p->sv[0]);
	close(p->sv[1]);
}

/*
 * Flush tx and read rx until a message is whole.  Returns what ps_get()
 * returned: 1, or -1 when the bytes broke the protocol; 0 on end of
 * file, a read error or a second of silence.
 */
static int
pump(struct pair *p, struct ps_msg *m)
{
	struct pollfd	pfd;
	ssize_t		n;
	int		i, rv;

	m->fd = -1;
	for (i = 0; i < PUMP_ROUNDS; i++) {
		if ((rv = ps_get(&p->rx, m)) != 0)
			return rv;
		if (ps_flush(&p->tx) == -1)
			return 0;
		pfd.fd = p->rx.fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, 1000) <= 0)
			return 0;
		if ((n = ps_read(&p->rx)) == 0)
			return 0;
		if (n == -1 && errno != EAGAIN)
			return p->rx.err != NULL ? -1 : 0;
	}
	return 0;
}

static void
raw_hdr(struct ps_hdr *h, uint32_t type, uint32_t len, uint32_t flags)
{
	memset(h, 0, sizeof(*h));
	h->type = type;
	h->len = len;
	h->peerid = 0x51;
	h->pid = 4242;
	h->flags = flags;
}

static void
raw_write(int fd, const void *p, size_t len)
{
	if (write(fd, p, len) != (ssize_t)len)
		die("write");
}

/* One sendmsg of len bytes with fd attached as SCM_RIGHTS. */
static void
raw_send_fd(int sock, const void *p, size_t len, int fd)
{
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int))];
	} cmsgbuf;
	struct msghdr	 msg;
	struct iovec	 iov;
	struct cmsghdr	*cm;

	memset(&msg, 0, sizeof(msg));
	memset(&cmsgbuf, 0, sizeof(cmsgbuf));
	iov.iov_base = (void *)(uintptr_t)p;
	iov.iov_len = len;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cmsgbuf.buf;
	msg.msg_controllen = sizeof(cmsgbuf.buf);
	cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	if (sendmsg(sock, &msg, 0) != (ssize_t)len)
		die("sendmsg");
}

static int
memfd_with(const char *s)
{
	int	fd;

	if ((fd = memfd_create("test_imsg", MFD_CLOEXEC)) == -1)
		die("memfd_create");
	raw_write(fd, s, strlen(s));
	return fd;
}

static int
open_null(void)
{
	int	fd;

	if ((fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) == -1)
		die("open /dev/null");
	return fd;
}

static int
same_file(int fd, const struct stat *sb)
{
	struct stat	rsb;

	return fstat(fd, &rsb) == 0 && rsb.st_dev == sb->st_dev &&
	    rsb.st_ino == sb->st_ino;
}

static int
content_is(int fd, const char *s)
{
	char	buf[64];
	ssize_t	n;

	n = pread(fd, buf, sizeof(buf), 0);
	return n == (ssize_t)strlen(s) && memcmp(buf, s, (size_t)n) == 0;
}

/* ---- 1. round trips -------------------------------------------------- */

static void
test_roundtrip_sizes(void)
{
	static const size_t	 sizes[] = { 0, 1, 100, PS_MAX_PAYLOAD };
	struct pair		 p;
	struct ps_msg		 m;
	size_t			 i;
	int			 rv;

	pair_open(&p);
	for (i = 0; i < nitems(sizes); i++) {
		pattern(big, sizes[i], (uint32_t)i);
		if (ps_compose(&p.tx, 100 + (uint32_t)i,
		    0xdead0000 + (uint32_t)i, -1, big, sizes[i]) == -1)
			die("ps_compose");
	}
	for (i = 0; i < nitems(sizes); i++) {
		rv = pump(&p, &m);
		ok(rv == 1 && m.hdr.type == 100 + i &&
		    m.hdr.peerid == 0xdead0000 + i &&
		    m.hdr.pid == (uint32_t)getpid() &&
		    m.hdr.len == PS_HDR_SIZE + sizes[i] && m.hdr.flags == 0 &&
		    m.len == sizes[i] && m.fd == -1,
		    "payload of %zu bytes: type, peerid, pid, len preserved",
		    sizes[i]);
		ok(rv == 1 && pattern_ok(m.data, m.len, (uint32_t)i),
		    "payload of %zu bytes: bytes identical", sizes[i]);
	}
	ok(ps_get(&p.rx, &m) == 0 && p.tx.opending == 0 &&
	    TAILQ_EMPTY(&p.tx.outq),
	    "nothing left on either side after four messages");
	pair_close(&p);
}

static void
test_composev_gathers(void)
{
	struct iovec	 iov[3];
	struct pair	 p;
	struct ps_msg	 m;
	int		 rv;

	pair_open(&p);
	iov[0].iov_base = (void *)(uintptr_t)"gath";
	iov[0].iov_len = 4;
	iov[1].iov_base = NULL;
	iov[1].iov_len = 0;
	iov[2].iov_base = (void *)(uintptr_t)"ered";
	iov[2].iov_len = 4;
	if (ps_composev(&p.tx, 7, 8, -1, iov, 3) == -1)
		die("ps_composev");
	rv = pump(&p, &m);
	ok(rv == 1 && m.hdr.type == 7 && m.hdr.peerid == 8 && m.len == 8 &&
	    memcmp(m.data, "gathered", 8) == 0,
	    "ps_composev joins its iovecs, skipping an empty one");
	pair_close(&p);
}

/* ---- 2. oversize ---------------------------------------------------- */

static void
test_oversize_fails_and_closes_fd(void)
{
	struct iovec	 iov[2];
	struct pair	 p;
	int		 fd, rv, err;

	pair_open(&p);
	fd = open_null();
	errno = 0;
	rv = ps_compose(&p.tx, 1, 0, fd, big, PS_MAX_PAYLOAD + 1);
	err = errno;
	ok(rv == -1 && err == EMSGSIZE,
	    "a payload of PS_MAX_PAYLOAD + 1 fails with EMSGSIZE");
	ok(is_closed(fd), "the descriptor passed with it is closed");

	fd = open_null();
	iov[0].iov_base = big;
	iov[0].iov_len = PS_MAX_PAYLOAD / 2 + 1;
	iov[1].iov_base = big;
	iov[1].iov_len = PS_MAX_PAYLOAD / 2 + 1;
	errno = 0;
	rv = ps_composev(&p.tx, 1, 0, fd, iov, 2);
	err = errno;
	ok(rv == -1 && err == EMSGSIZE && is_closed(fd),
	    "iovecs each small enough but too big together: EMSGSIZE, "
	    "descriptor closed");
	ok(p.tx.opending == 0 && TAILQ_EMPTY(&p.tx.outq),
	    "nothing queued by the failed composes");
	pair_close(&p);
}

/* ---- 3. descriptor passing ------------------------------------------ */

static void
test_fd_passing_interleaved(void)
{
	static const char *const word[] = { "alpha", "beta", "gamma" };
	static const struct {
		uint32_t	 type;
		int		 w;	/* in word[]; -1: no descriptor */
	} seq[] = {
		{ 10, -1 }, { 11, 0 }, { 12, -1 }, { 13, 1 }, { 14, 2 },
		{ 15, -1 }
	};
	struct stat	 sb[nitems(word)];
	int		 sent[nitems(word)];
	struct pair	 p;
	struct ps_msg	 m;
	size_t		 i;
	int		 fd, w, rv, frv, nclosed = 0, cloexec;

	pair_open(&p);
	for (i = 0; i < nitems(seq); i++) {
		fd = -1;
		if ((w = seq[i].w) != -1) {
			fd = sent[w] = memfd_with(word[w]);
			if (fstat(fd, &sb[w]) == -1)
				die("fstat");
		}
		if (ps_compose(&p.tx, seq[i].type, (uint32_t)i, fd, "x", 1) ==
		    -1)
			die("ps_compose");
	}
	frv = ps_flush(&p.tx);
	/* Before reading: received descriptors may reuse these numbers. */
	for (i = 0; i < nitems(word); i++)
		nclosed += is_closed(sent[i]);
	ok(frv == 0 && nclosed == (int)nitems(word),
	    "one flush sends all six messages and closes the three "
	    "descriptors sent");

	for (i = 0; i < nitems(seq); i++) {
		w = seq[i].w;
		rv = pump(&p, &m);
		ok(rv == 1 && m.hdr.type == seq[i].type &&
		    m.hdr.peerid == i && (m.fd != -1) == (w != -1),
		    "message %zu arrives in order, %s", i,
		    w != -1 ? "with its descriptor" : "without a descriptor");
		if (w == -1) {
			ps_msg_close(&m);
			continue;
		}
		cloexec = rv == 1 && m.fd != -1 &&
		    (fcntl(m.fd, F_GETFD) & FD_CLOEXEC);
		ok(rv == 1 && m.fd != -1 && same_file(m.fd, &sb[w]) &&
		    content_is(m.fd, word[w]) && cloexec,
		    "descriptor of message %zu is the same file (\"%s\"), "
		    "close-on-exec", i, word[w]);
		ps_msg_close(&m);
	}
	pair_close(&p);
}

static void
test_fd_passing_pipe_write_end(void)
{
	struct pair	 p;
	struct ps_msg	 m;
	char		 c[2];
	ssize_t		 n1, n2;
	int		 pfd[2], rv;

	pair_open(&p);
	if (pipe2(pfd, O_CLOEXEC | O_NONBLOCK) == -1)
		die("pipe2");
	if (ps_compose(&p.tx, T_PASSFD, 0, pfd[1], NULL, 0) == -1)
		die("ps_compose");
	rv = pump(&p, &m);
	ok(rv == 1 && m.fd != -1 && write(m.fd, "Z", 1) == 1,
	    "a pipe's write end arrives and takes a write");
	ps_msg_close(&m);
	n1 = read(pfd[0], c, sizeof(c));
	n2 = read(pfd[0], c + 1, 1);
	ok(n1 == 1 && c[0] == 'Z',
	    "what was written through it comes out of the read end");
	ok(n2 == 0 && m.fd == -1,
	    "end of file once ps_msg_close ran: no other copy of the write "
	    "end is left open");
	close(pfd[0]);
	pair_close(&p);
}

static void
test_fd_passing_more_than_fdq(void)
{
	struct stat	 nsb;
	struct pair	 p;
	struct ps_msg	 m;
	int		 i, fd, good = 0, frv;

	pair_open(&p);
	fd = open_null();
	if (fstat(fd, &nsb) == -1)
		die("fstat");
	close(fd);
	for (i = 0; i < MANY_FDS; i++)
		if (ps_compose(&p.tx, T_PASSFD, (uint32_t)i, open_null(),
		    NULL, 0) == -1)
			die("ps_compose");
	frv = ps_flush(&p.tx);
	for (i = 0; i < MANY_FDS; i++) {
		if (pump(&p, &m) == 1 && m.hdr.peerid == (uint32_t)i &&
		    m.fd != -1 && same_file(m.fd, &nsb))
			good++;
		ps_msg_close(&m);
	}
	ok(frv == 0 && good == MANY_FDS,
	    "%d descriptor messages back to back (more than PS_MAX_FDQ) "
	    "all arrive with theirs: %d", MANY_FDS, good);
	pair_close(&p);
}

static void
test_clear_closes_unsent_fd(void)
{
	struct pair	 p;
	int		 fd, queued;

	pair_open(&p);
	fd = open_null();
	queued = ps_compose(&p.tx, T_PASSFD, 0, fd, NULL, 0) == 0 &&
	    !is_closed(fd);
	ps_buf_clear(&p.tx);
	ok(queued && is_closed(fd),
	    "a queued descriptor is the buffer's: ps_buf_clear closes it "
	    "unsent");
	pair_close(&p);
}

/* ---- 4. one byte at a time ------------------------------------------ */

static void
test_split_one_byte_per_read(void)
{
	static const char	 payload[] = "split message";
	uint8_t			 wire[PS_HDR_SIZE + sizeof(payload)];
	struct ps_hdr		 h;
	struct pair		 p;
	struct ps_msg		 m;
	size_t			 i;
	int			 rv = 0, early = 0, reads = 0;

	pair_open(&p);
	raw_hdr(&h, T_DATA, sizeof(wire), 0);
	memcpy(wire, &h, sizeof(h));
	memcpy(wire + sizeof(h), payload, sizeof(payload));
	for (i = 0; i < sizeof(wire); i++) {
		raw_write(p.sv[0], wire + i, 1);
		reads += ps_read(&p.rx) == 1;
		rv = ps_get(&p.rx, &m);
		if (i + 1 < sizeof(wire) && rv == 0)
			early++;
	}
	ok(reads == (int)sizeof(wire),
	    "%zu reads of one byte each", sizeof(wire));
	ok(early == (int)sizeof(wire) - 1,
	    "ps_get returns 0 for the first %zu bytes", sizeof(wire) - 1);
	ok(rv == 1 && m.hdr.type == T_DATA && m.hdr.peerid == 0x51 &&
	    m.hdr.pid == 4242 && m.len == sizeof(payload) &&
	    memcmp(m.data, payload, sizeof(payload)) == 0,
	    "then 1 on the last byte, with the right content");
	ok(ps_get(&p.rx, &m) == 0, "and nothing more");
	pair_close(&p);
}

static void
test_fd_across_compaction(void)
{
	uint8_t		 wire[2 * PS_HDR_SIZE + 12];
	struct ps_hdr	 h;
	struct stat	 nsb;
	struct pair	 p;
	struct ps_msg	 m;
	size_t		 alen = PS_HDR_SIZE + 4, split = alen + 6;
	int		 fd, ga, gb0, gb;

	/*
	 * A is read alone; B's first bytes come with its descriptor in a
	 * second read; A is parsed; the rest of B comes in a third read,
	 * which first moves the unparsed tail to the front of the buffer.
	 */
	pair_open(&p);
	raw_hdr(&h, T_DATA, (uint32_t)alen, 0);
	memcpy(wire, &h, sizeof(h));
	memcpy(wire + sizeof(h), "AAAA", 4);
	raw_hdr(&h, T_PASSFD, PS_HDR_SIZE + 8, PS_F_FD);
	memcpy(wire + alen, &h, sizeof(h));
	memcpy(wire + alen + sizeof(h), "BBBBBBBB", 8);
	fd = open_null();
	if (fstat(fd, &nsb) == -1)
		die("fstat");
	raw_write(p.sv[0], wire, alen);
	if (ps_read(&p.rx) != (ssize_t)alen)
		die("ps_read");
	raw_send_fd(p.sv[0], wire + alen, split - alen, fd);
	close(fd);
	if (ps_read(&p.rx) != (ssize_t)(split - alen))
		die("ps_read");
	ga = ps_get(&p.rx, &m);
	gb0 = ps_get(&p.rx, &m);
	raw_write(p.sv[0], wire + split, sizeof(wire) - split);
	if (ps_read(&p.rx) != (ssize_t)(sizeof(wire) - split))
		die("ps_read");
	gb = ps_get(&p.rx, &m);
	ok(ga == 1 && gb0 == 0 && gb == 1 && m.hdr.type == T_PASSFD &&
	    m.len == 8 && memcmp(m.data, "BBBBBBBB", 8) == 0 &&
	    m.fd != -1 && same_file(m.fd, &nsb),
	    "a descriptor waiting for the rest of its message survives the "
	    "buffer being compacted (%s)", p.rx.err ? p.rx.err : "no error");
	ps_msg_close(&m);
	pair_close(&p);
}

/* ---- 5. back-pressure ----------------------------------------------- */

static int
many_msg_ok(const struct ps_msg *m, int i, size_t size)
{
	return m->hdr.type == (uint32_t)i &&
	    m->hdr.peerid == ((uint32_t)i ^ 0x5a5a) &&
	    m->hdr.pid == (uint32_t)getpid() && m->hdr.flags == 0 &&
	    m->hdr.len == PS_HDR_SIZE + size && m->len == size &&
	    m->fd == -1 && pattern_ok(m->data, m->len, (uint32_t)i);
}

static void
test_many_messages_nonblocking(void)
{
	static size_t	 size[MANY];
	struct pair	 p;
	struct ps_msg	 m;
	size_t		 total = 0;
	ssize_t		 n;
	int		 i, rounds, got = 0, bad = 0, full = 0, broken = 0;
	int		 frv = 1, rv;

	pair_open(&p);
	for (i = 0; i < MANY; i++) {
		if (i == 0 || i == 1)
			size[i] = i == 0 ? 0 : PS_MAX_PAYLOAD;
		else if ((rnd() & 3) == 0)
			size[i] = rnd() % (PS_MAX_PAYLOAD + 1);
		else
			size[i] = rnd() % 512;
		pattern(big, size[i], (uint32_t)i);
		if (ps_compose(&p.tx, (uint32_t)i, (uint32_t)i ^ 0x5a5a, -1,
		    big, size[i]) == -1)
			die("ps_compose");
		total += PS_HDR_SIZE + size[i];
	}
	ok(p.tx.opending == total, "%d messages of random sizes queued, "
	    "%zu bytes", MANY, total);

	for (rounds = 0; rounds < MANY_ROUNDS && got < MANY && !broken;
	    rounds++) {
		if (frv != 0 && (frv = ps_flush(&p.tx)) == 1)
			full++;
		if ((n = ps_read(&p.rx)) == 0 ||
		    (n == -1 && errno != EAGAIN))
			broken = 1;
		while ((rv = ps_get(&p.rx, &m)) == 1) {
			if (got >= MANY || !many_msg_ok(&m, got, size[got]))
				bad++;
			ps_msg_close(&m);
			got++;
		}
		if (rv == -1 || frv == -1)
			broken = 1;
	}
	ok(got == MANY && !broken, "all %d arrive (%d) in %d rounds of "
	    "flush and read", MANY, got, rounds);
	ok(bad == 0, "intact and in order (%d bad)", bad);
	ok(full > 0, "ps_flush returned 1 on a full socket (%d times)",
	    full);
	ok(p.tx.opending == 0 && TAILQ_EMPTY(&p.tx.outq),
	    "the send queue is empty afterwards");
	ok(ps_get(&p.rx, &m) == 0 && ps_read(&p.rx) == -1 && errno == EAGAIN,
	    "no stray bytes follow");
	pair_close(&p);
}

/* ---- 6. rejected input ---------------------------------------------- */

/* Hand raw bytes to a fresh reader and report what ps_get() made of it. */
static int
get_raw(const void *bytes, size_t len, const char **err)
{
	struct pair	 p;
	struct ps_msg	 m;
	int		 rv;

	pair_open(&p);
	raw_write(p.sv[0], bytes, len);
	rv = pump(&p, &m);
	ps_msg_close(&m);
	*err = p.rx.err;
	pair_close(&p);
	return rv;
}

static void
test_reject_len_below_header(void)
{
	struct ps_hdr	 h;
	const char	*err;
	int		 rv;

	raw_hdr(&h, T_DATA, PS_HDR_SIZE - 1, 0);
	rv = get_raw(&h, sizeof(h), &err);
	ok(rv == -1 && err != NULL && strcmp(err, "bad message length") == 0,
	    "len PS_HDR_SIZE - 1: rejected (%s)", err ? err : "no error");
	raw_hdr(&h, T_DATA, 0, 0);
	rv = get_raw(&h, sizeof(h), &err);
	ok(rv == -1 && err != NULL && strcmp(err, "bad message length") == 0,
	    "len 0: rejected");
}

static void
test_reject_len_above_max(void)
{
	struct ps_hdr	 h;
	const char	*err;
	int		 rv;

	/* Only the header is sent: the length is judged before the body. */
	raw_hdr(&h, T_DATA, PS_MAX_MSG + 1, 0);
	rv = get_raw(&h, sizeof(h), &err);
	ok(rv == -1 && err != NULL && strcmp(err, "bad message length") == 0,
	    "len PS_MAX_MSG + 1: rejected from the header alone (%s)",
	    err ? err : "no error");
	raw_hdr(&h, T_DATA, UINT32_MAX, 0);
	rv = get_raw(&h, sizeof(h), &err);
	ok(rv == -1 && err != NULL && strcmp(err, "bad message length") == 0,
	    "len UINT32_MAX: rejected");
}

static void
test_reject_unknown_flags(void)
{
	struct ps_hdr	 h;
	const char	*err;
	int		 rv;

	raw_hdr(&h, T_DATA, PS_HDR_SIZE, 0x2);
	rv = get_raw(&h, sizeof(h), &err);
	ok(rv == -1 && err != NULL &&
	    strcmp(err, "unknown message flags") == 0,
	    "flags 0x2: rejected (%s)", err ? err : "no error");
	raw_hdr(&h, T_DATA, PS_HDR_SIZE, 0x80000000 | PS_F_FD);
	rv = get_raw(&h, sizeof(h), &err);
	ok(rv == -1 && err != NULL &&
	    strcmp(err, "unknown message flags") == 0,
	    "PS_F_FD with a high bit: rejected");
}

static void
test_truncated_header_then_eof(void)
{
	struct ps_hdr	 h;
	struct pair	 p;
	struct ps_msg	 m;
	ssize_t		 n1, n2;
	int		 g1, g2;

	pair_open(&p);
	raw_hdr(&h, T_DATA, PS_HDR_SIZE, 0);
	raw_write(p.sv[0], &h, 7);
	if (shutdown(p.sv[0], SHUT_WR) == -1)
		die("shutdown");
	n1 = ps_read(&p.rx);
	g1 = ps_get(&p.rx, &m);
	n2 = ps_read(&p.rx);
	g2 = ps_get(&p.rx, &m);
	ok(n1 == 7 && g1 == 0, "7 bytes of a header: ps_get wants more");
	ok(n2 == 0 && g2 == 0 && p.rx.err == NULL,
	    "then end of file: ps_read 0, ps_get still 0, no message");
	pair_close(&p);
}

static void
test_truncated_payload_then_eof(void)
{
	struct ps_hdr	 h;
	struct pair	 p;
	struct ps_msg	 m;
	ssize_t		 n1, n2;
	int		 g1, g2;

	pair_open(&p);
	raw_hdr(&h, T_DATA, PS_HDR_SIZE + 10, 0);
	memcpy(big, &h, sizeof(h));
	memcpy(big + sizeof(h), "nine byte", 9);
	raw_write(p.sv[0], big, sizeof(h) + 9);
	if (shutdown(p.sv[0], SHUT_WR) == -1)
		die("shutdown");
	n1 = ps_read(&p.rx);
	g1 = ps_get(&p.rx, &m);
	n2 = ps_read(&p.rx);
	g2 = ps_get(&p.rx, &m);
	ok(n1 == (ssize_t)sizeof(h) + 9 && g1 == 0 && n2 == 0 && g2 == 0,
	    "a payload one byte short, then end of file: never a message");
	pair_close(&p);
}

/* ---- 7. descriptors out of place ------------------------------------ */

static void
test_unexpected_descriptor(void)
{
	struct ps_hdr	 h;
	struct pair	 p;
	struct ps_msg	 m;
	int		 base, held, rv, fd;

	pair_open(&p);
	base = fd_count();
	raw_hdr(&h, T_DATA, PS_HDR_SIZE, 0);
	fd = open_null();
	raw_send_fd(p.sv[0], &h, sizeof(h), fd);
	close(fd);
	rv = pump(&p, &m);
	held = fd_count();
	ok(rv == -1 && p.rx.err != NULL &&
	    strcmp(p.rx.err, "unexpected descriptor") == 0 && m.fd == -1,
	    "a descriptor with a message that declares none: rejected (%s)",
	    p.rx.err ? p.rx.err : "no error");
	ok(held == base + 1,
	    "the stray descriptor is held by the buffer (%d open, %d before)",
	    held, base);
	ps_msg_close(&m);
	ps_buf_clear(&p.rx);
	ok(fd_count() == base, "ps_buf_clear closes it");
	pair_close(&p);
}

static void
test_stray_descriptor_over_two_messages(void)
{
	struct ps_hdr	 h[2];
	struct pair	 p;
	struct ps_msg	 m;
	int		 i, fd, rv = 0, handed = 0, accepted = 0;

	/* The descriptor spans two messages, so it fits neither exactly. */
	pair_open(&p);
	raw_hdr(&h[0], T_DATA, PS_HDR_SIZE, 0);
	raw_hdr(&h[1], T_DATA, PS_HDR_SIZE, 0);
	fd = open_null();
	raw_send_fd(p.sv[0], h, sizeof(h), fd);
	close(fd);
	for (i = 0; i < 4 && (rv = pump(&p, &m)) == 1; i++) {
		accepted++;
		handed += m.fd != -1;
		ps_msg_close(&m);
	}
	ok(rv == -1 && p.rx.err != NULL &&
	    strcmp(p.rx.err, "unexpected descriptor") == 0 && handed == 0,
	    "a descriptor claimed by no message is reported once parsed "
	    "past (after %d messages), never handed out", accepted);
	pair_close(&p);
}

static void
test_descriptor_missing(void)
{
	struct ps_hdr	 h;
	const char	*err;
	int		 rv;

	raw_hdr(&h, T_PASSFD, PS_HDR_SIZE, PS_F_FD);
	rv = get_raw(&h, sizeof(h), &err);
	ok(rv == -1 && err != NULL && strcmp(err, "descriptor missing") == 0,
	    "PS_F_FD without a descriptor: rejected (%s)",
	    err ? err : "no error");
}

/* Queue a header that declares a descriptor, then one sent with one. */
static void
declared_then_sent(struct pair *p, int read_between)
{
	struct ps_hdr	 h;
	int		 fd;

	raw_hdr(&h, T_PASSFD, PS_HDR_SIZE, PS_F_FD);
	raw_write(p->sv[0], &h, sizeof(h));
	if (read_between && ps_read(&p->rx) != (ssize_t)sizeof(h))
		die("ps_read");
	fd = open_null();
	raw_send_fd(p->sv[0], &h, sizeof(h), fd);
	close(fd);
	if (ps_read(&p->rx) <= 0)
		die("ps_read");
}

static void
test_descriptor_from_later_read(void)
{
	struct pair	 p;
	struct ps_msg	 m;
	int		 rv;

	pair_open(&p);
	declared_then_sent(&p, 1);
	rv = ps_get(&p.rx, &m);
	ok(rv == -1 && p.rx.err != NULL &&
	    strcmp(p.rx.err, "descriptor missing") == 0 && m.fd == -1,
	    "a descriptor from a later read is not claimed by an earlier "
	    "message (%s)", p.rx.err ? p.rx.err : "no error");
	ps_msg_close(&m);
	pair_close(&p);
}

static void
test_descriptor_from_later_message_same_read(void)
{
	struct pair	 p;
	struct ps_msg	 m;
	int		 i, rv = 0, handed = 0;

	/*
	 * One read holds both messages and the second one's descriptor;
	 * where its bytes began is not visible, so the first may take it,
	 * but the second then has none and the stream is refused.
	 */
	pair_open(&p);
	declared_then_sent(&p, 0);
	for (i = 0; i < 3 && (rv = ps_get(&p.rx, &m)) == 1; i++) {
		handed += m.fd != -1;
		ps_msg_close(&m);
	}
	ok(rv == -1 && i < 2 && handed <= 1 && p.rx.err != NULL &&
	    strcmp(p.rx.err, "descriptor missing") == 0,
	    "two messages declaring descriptors with one sent in the same "
	    "read: refused within two messages (%s)",
	    p.rx.err ? p.rx.err : "no error");
	pair_close(&p);
}

/* ---- 8. the handler table ------------------------------------------- */

static void
nop_cb(struct ps_chan *c, struct ps_msg *m)
{
}

static const struct ps_handler check_table[] = {
	/* type, min, max, descriptor, phases, once, handler */
	{ T_HELLO, 4, 4, PS_FD_NONE, 0, 1, nop_cb },
	{ T_DATA, 1, 16, PS_FD_NONE, 0, 0, nop_cb },
	{ T_PASSFD, 0, 0, PS_FD_MUST, 0, 0, nop_cb },
	{ T_CONFIG, 0, 8, PS_FD_NONE, PH_START, 0, nop_cb },
};

/*
 * Run ps_check on a made-up message.  Returns the reason it gave, or
 * NULL when it accepted; *row is the row it returned.  The descriptor is
 * only looked at, never used.
 */
static const char *
check(uint32_t type, size_t len, int fd, uint32_t phase, uint64_t *seen,
    const struct ps_handler **row)
{
	struct ps_msg	 m;
	const char	*why = NULL;

	memset(&m, 0, sizeof(m));
	m.hdr.type = type;
	m.hdr.len = (uint32_t)(PS_HDR_SIZE + len);
	m.data = big;
	m.len = len;
	m.fd = fd;
	*row = ps_check(check_table, nitems(check_table), phase, seen, &m,
	    &why);
	if (*row == NULL && why == NULL)
		return "(rejected without a reason)";
	return *row == NULL ? why : NULL;
}

static int
rejected(const char *why, const char *want_why,
    const struct ps_handler *row)
{
	return row == NULL && why != NULL && strcmp(why, want_why) == 0;
}

static void
test_check_valid(void)
{
	const struct ps_handler	*row;
	const char		*why;
	uint64_t		 seen = 0;

	why = check(T_DATA, 5, -1, PH_RUN, &seen, &row);
	ok(why == NULL && row == &check_table[1],
	    "a valid message is accepted, with its row");
	why = check(T_DATA, 16, -1, PH_RUN, &seen, &row);
	ok(why == NULL && row == &check_table[1], "size at max accepted");
	why = check(T_PASSFD, 0, STDERR_FILENO, PH_RUN, &seen, &row);
	ok(why == NULL && row == &check_table[2],
	    "a descriptor where one must come: accepted");
	ok(seen == 0, "rows without once leave seen alone");
}

static void
test_check_rejects(void)
{
	const struct ps_handler	*row;
	const char		*why;
	uint64_t		 seen = 0;

	why = check(99, 0, -1, PH_RUN, &seen, &row);
	ok(rejected(why, "unknown message type", row),
	    "unknown type: %s", why ? why : "accepted");
	why = check(T_HELLO, 3, -1, PH_RUN, &seen, &row);
	ok(rejected(why, "wrong message size", row),
	    "size below min: %s", why ? why : "accepted");
	why = check(T_DATA, 0, -1, PH_RUN, &seen, &row);
	ok(rejected(why, "wrong message size", row),
	    "empty where min is 1: %s", why ? why : "accepted");
	why = check(T_DATA, 17, -1, PH_RUN, &seen, &row);
	ok(rejected(why, "wrong message size", row),
	    "size above max: %s", why ? why : "accepted");
	why = check(T_DATA, 5, STDERR_FILENO, PH_RUN, &seen, &row);
	ok(rejected(why, "unexpected descriptor", row),
	    "descriptor where PS_FD_NONE: %s", why ? why : "accepted");
	why = check(T_PASSFD, 0, -1, PH_RUN, &seen, &row);
	ok(rejected(why, "descriptor missing", row),
	    "no descriptor where PS_FD_MUST: %s", why ? why : "accepted");
}

static void
test_check_phase(void)
{
	const struct ps_handler	*row;
	const char		*why;
	uint64_t		 seen = 0;

	why = check(T_CONFIG, 4, -1, PH_RUN, &seen, &row);
	ok(rejected(why, "message not allowed in this phase", row),
	    "start-up message while running: %s", why ? why : "accepted");
	why = check(T_CONFIG, 4, -1, PH_START, &seen, &row);
	ok(why == NULL && row == &check_table[3],
	    "the same message in its phase: accepted");
}

static void
test_check_once(void)
{
	const struct ps_handler	*row;
	const char		*why;
	uint64_t		 seen = 0;

	why = check(T_HELLO, 3, -1, PH_START, &seen, &row);
	ok(why != NULL && seen == 0,
	    "a rejected once-only message does not use up its row");
	why = check(T_HELLO, 4, -1, PH_START, &seen, &row);
	ok(why == NULL && row == &check_table[0] && seen == 1,
	    "a once-only message: accepted the first time");
	why = check(T_HELLO, 4, -1, PH_START, &seen, &row);
	ok(rejected(why, "message repeated", row),
	    "and rejected the second time: %s", why ? why : "accepted");
}

/* ---- 9. channels on libevent ---------------------------------------- */

static void
chan_on_data(struct ps_chan *c, struct ps_msg *m)
{
	struct chan_state	*st = c->arg;
	size_t			 len = m->len;

	if (st->handled < (int)nitems(st->got)) {
		if (len > sizeof(st->got[0]) - 1)
			len = sizeof(st->got[0]) - 1;
		memcpy(st->got[st->handled], m->data, len);
		st->got[st->handled][len] = '\0';
	}
	st->handled++;
	/* The owner may end the channel from inside a handler. */
	if (m->len == 4 && memcmp(m->data, "fail", 4) == 0)
		ps_chan_fail(c, "handler refused");
	else if (m->len == 4 && memcmp(m->data, "free", 4) == 0)
		ps_chan_free(c);
}

static void
chan_on_closed(struct ps_chan *c, const char *why)
{
	struct chan_state	*st = c->arg;

	st->closed++;
	st->why = why;
	if (st->free_on_close)
		ps_chan_free(c);
}

static const struct ps_handler chan_table[] = {
	{ T_DATA, 1, 16, PS_FD_NONE, 0, 0, chan_on_data },
};

/* A channel on sv[0], and a plain non-blocking buffer as its peer. */
static struct ps_chan *
chan_open(struct event_base *base, struct ps_buf *peer,
    struct chan_state *st)
{
	struct ps_chan	*c;
	int		 sv[2];

	memset(st, 0, sizeof(*st));
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1)
		die("socketpair");
	set_nonblock(sv[1]);
	if (ps_buf_init(peer, sv[1]) == -1)
		die("ps_buf_init");
	if ((c = ps_chan_new(base, sv[0], "test", chan_table,
	    nitems(chan_table), chan_on_closed, st)) == NULL)
		die("ps_chan_new");
	return c;
}

static void
peer_close(struct ps_buf *peer)
{
	ps_buf_clear(peer);
	close(peer->fd);
	peer->fd = -1;
}

/* Run the loop without blocking until *count reaches goal, or give up. */
static void
spin_until(struct event_base *base, const int *count, int goal)
{
	int	i;

	for (i = 0; i < LOOP_ROUNDS && *count < goal; i++) {
		if (event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK) == -1)
			break;
		if (*count < goal)
			usleep(1000);
	}
}

static void
test_chan_good_then_oversize(void)
{
	struct event_base	*base;
	struct ps_chan		*c;
	struct ps_buf		 peer;
	struct chan_state	 st;

	if ((base = event_base_new()) == NULL)
		die("event_base_new");
	c = chan_open(base, &peer, &st);
	if (ps_compose(&peer, T_DATA, 0, -1, "hello", 5) == -1 ||
	    ps_compose(&peer, T_DATA, 0, -1, big, 17) == -1 ||
	    ps_compose(&peer, T_DATA, 0, -1, "after", 5) == -1 ||
	    ps_flush(&peer) != 0)
		die("peer");
	spin_until(base, &st.closed, 1);
	ok(st.handled == 1 && strcmp(st.got[0], "hello") == 0,
	    "channel: the handler ran for the good message only (%d runs)",
	    st.handled);
	ok(st.closed == 1 && st.why != NULL &&
	    strcmp(st.why, "wrong message size") == 0,
	    "channel: closed callback once, with the reason (%s)",
	    st.why ? st.why : "none");
	ok(c->dead && !event_pending(c->rev, EV_READ, NULL),
	    "channel: marked dead and no longer reading");
	ps_chan_free(c);
	peer_close(&peer);
	event_base_free(base);
}

static void
test_chan_good_then_bad_framing(void)
{
	struct event_base	*base;
	struct ps_chan		*c;
	struct ps_buf		 peer;
	struct chan_state	 st;
	struct ps_hdr		 h;

	if ((base = event_base_new()) == NULL)
		die("event_base_new");
	c = chan_open(base, &peer, &st);
	if (ps_compose(&peer, T_DATA, 0, -1, "hello", 5) == -1 ||
	    ps_flush(&peer) != 0)
		die("peer");
	raw_hdr(&h, T_DATA, PS_HDR_SIZE + 1, 0x4);
	raw_write(peer.fd, &h, sizeof(h));
	raw_write(peer.fd, "x", 1);
	spin_until(base, &st.closed, 1);
	ok(st.handled == 1 && strcmp(st.got[0], "hello") == 0 &&
	    st.closed == 1 && st.why != NULL &&
	    strcmp(st.why, "unknown message flags") == 0 && c->dead,
	    "channel: good message handled, then a bad header closes it (%s)",
	    st.why ? st.why : "none");
	ps_chan_free(c);
	peer_close(&peer);
	event_base_free(base);
}

static void
test_chan_eof(void)
{
	struct event_base	*base;
	struct ps_chan		*c;
	struct ps_buf		 peer;
	struct chan_state	 st;

	if ((base = event_base_new()) == NULL)
		die("event_base_new");
	c = chan_open(base, &peer, &st);
	if (ps_compose(&peer, T_DATA, 0, -1, "bye", 3) == -1 ||
	    ps_flush(&peer) != 0)
		die("peer");
	peer_close(&peer);
	spin_until(base, &st.closed, 1);
	ok(st.handled == 1 && strcmp(st.got[0], "bye") == 0 &&
	    st.closed == 1 && st.why != NULL &&
	    strcmp(st.why, "channel closed") == 0 && c->dead,
	    "channel: the last message is handled, then end of file "
	    "closes it (%s)", st.why ? st.why : "none");
	ps_chan_free(c);
	event_base_free(base);
}

static void
test_chan_free_in_closed_callback(void)
{
	struct event_base	*base;
	struct ps_buf		 peer;
	struct chan_state	 st;
	int			 before;

	if ((base = event_base_new()) == NULL)
		die("event_base_new");
	before = fd_count();
	(void)chan_open(base, &peer, &st);
	st.free_on_close = 1;
	if (ps_compose(&peer, 99, 0, -1, NULL, 0) == -1 ||
	    ps_flush(&peer) != 0)
		die("peer");
	spin_until(base, &st.closed, 1);
	/* The channel is gone; only the peer's end is still open. */
	ok(st.closed == 1 && st.why != NULL &&
	    strcmp(st.why, "unknown message type") == 0 &&
	    fd_count() == before + 1,
	    "channel: freed from its closed callback, descriptor closed");
	peer_close(&peer);
	event_base_free(base);
}

static void
test_chan_handler_fail_stops_dispatch(void)
{
	struct event_base	*base;
	struct ps_chan		*c;
	struct ps_buf		 peer;
	struct chan_state	 st;

	if ((base = event_base_new()) == NULL)
		die("event_base_new");
	c = chan_open(base, &peer, &st);
	if (ps_compose(&peer, T_DATA, 0, -1, "one", 3) == -1 ||
	    ps_compose(&peer, T_DATA, 0, -1, "fail", 4) == -1 ||
	    ps_compose(&peer, T_DATA, 0, -1, "two", 3) == -1 ||
	    ps_flush(&peer) != 0)
		die("peer");
	spin_until(base, &st.closed, 1);
	ok(st.handled == 2 && strcmp(st.got[1], "fail") == 0 &&
	    st.closed == 1 && st.why != NULL &&
	    strcmp(st.why, "handler refused") == 0 && c->dead,
	    "channel: failed by a handler, the rest of the read is not "
	    "dispatched (%d runs)", st.handled);
	ps_chan_free(c);
	peer_close(&peer);
	event_base_free(base);
}

static void
test_chan_handler_free_is_deferred(void)
{
	struct event_base	*base;
	struct ps_buf		 peer;
	struct chan_state	 st;
	int			 before;

	if ((base = event_base_new()) == NULL)
		die("event_base_new");
	before = fd_count();
	(void)chan_open(base, &peer, &st);
	if (ps_compose(&peer, T_DATA, 0, -1, "one", 3) == -1 ||
	    ps_compose(&peer, T_DATA, 0, -1, "free", 4) == -1 ||
	    ps_compose(&peer, T_DATA, 0, -1, "two", 3) == -1 ||
	    ps_flush(&peer) != 0)
		die("peer");
	spin_until(base, &st.handled, 2);
	ok(st.handled == 2 && st.closed == 0 && fd_count() == before + 1,
	    "channel: freed by a handler, it stops dispatching and is "
	    "released once the handler returns (%d runs)", st.handled);
	peer_close(&peer);
	event_base_free(base);
}

static void
test_chan_compose_to_peer(void)
{
	struct event_base	*base;
	struct ps_chan		*c;
	struct ps_buf		 peer;
	struct chan_state	 st;
	struct ps_msg		 m;
	struct stat		 nsb;
	size_t			 queued;
	int			 i, fd, rv = 0;

	if ((base = event_base_new()) == NULL)
		die("event_base_new");
	c = chan_open(base, &peer, &st);
	fd = open_null();
	if (fstat(fd, &nsb) == -1)
		die("fstat");
	if (ps_chan_compose(c, T_PASSFD, 77, fd, "ping", 4) == -1)
		die("ps_chan_compose");
	queued = ps_chan_pending(c);
	m.fd = -1;
	for (i = 0; i < LOOP_ROUNDS && rv == 0; i++) {
		event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		(void)ps_read(&peer);
		if ((rv = ps_get(&peer, &m)) == 0)
			usleep(1000);
	}
	ok(queued == PS_HDR_SIZE + 4 && ps_chan_pending(c) == 0,
	    "channel: the queued message is written by the loop");
	ok(rv == 1 && m.hdr.type == T_PASSFD && m.hdr.peerid == 77 &&
	    m.len == 4 && memcmp(m.data, "ping", 4) == 0 && m.fd != -1 &&
	    same_file(m.fd, &nsb),
	    "channel: the peer gets it with its descriptor");
	ps_msg_close(&m);
	ok(st.closed == 0 && !c->dead, "channel: still open");
	ps_chan_free(c);
	peer_close(&peer);
	event_base_free(base);
}

static void
test_chan_compose_after_dead(void)
{
	struct event_base	*base;
	struct ps_chan		*c;
	struct ps_buf		 peer;
	struct chan_state	 st;
	int			 fd, rv, err;

	if ((base = event_base_new()) == NULL)
		die("event_base_new");
	c = chan_open(base, &peer, &st);
	ps_chan_fail(c, "test says so");
	fd = open_null();
	errno = 0;
	rv = ps_chan_compose(c, T_DATA, 0, fd, "x", 1);
	err = errno;
	ok(st.closed == 1 && strcmp(st.why, "test says so") == 0 &&
	    rv == -1 && err == EPIPE && is_closed(fd),
	    "channel: composing on a dead channel fails with EPIPE and "
	    "closes the descriptor");
	ps_chan_free(c);
	peer_close(&peer);
	event_base_free(base);
}

static void
test_chan_adopt_keeps_buffered(void)
{
	struct event_base	*base;
	struct ps_chan		*c;
	struct chan_state	 st;
	struct pair		 p;
	struct ps_msg		 m;
	int			 i, rv = 0;

	/* Start-up: rx has read two messages and queued one, unparsed. */
	memset(&st, 0, sizeof(st));
	if ((base = event_base_new()) == NULL)
		die("event_base_new");
	pair_open(&p);
	if (ps_compose(&p.tx, T_DATA, 0, -1, "first", 5) == -1 ||
	    ps_compose(&p.tx, T_DATA, 0, -1, "second", 6) == -1 ||
	    ps_flush(&p.tx) != 0 || ps_read(&p.rx) <= 0 ||
	    ps_compose(&p.rx, T_DATA, 5, -1, "queued", 6) == -1)
		die("start-up");
	if ((c = ps_chan_adopt(base, &p.rx, "adopted", chan_table,
	    nitems(chan_table), chan_on_closed, &st)) == NULL)
		die("ps_chan_adopt");
	m.fd = -1;
	for (i = 0; i < LOOP_ROUNDS && (st.handled < 2 || rv == 0); i++) {
		event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		(void)ps_read(&p.tx);
		if (rv == 0)
			rv = ps_get(&p.tx, &m);
		usleep(1000);
	}
	ok(p.rx.fd == -1 && p.rx.rbuf == NULL && TAILQ_EMPTY(&p.rx.outq),
	    "adopt: the old buffer is emptied");
	ok(st.handled == 2 && strcmp(st.got[0], "first") == 0 &&
	    strcmp(st.got[1], "second") == 0,
	    "adopt: messages already buffered are dispatched in order");
	ok(rv == 1 && m.hdr.peerid == 5 && m.len == 6 &&
	    memcmp(m.data, "queued", 6) == 0,
	    "adopt: the message queued before is sent");
	ok(st.closed == 0, "adopt: the channel stays open");
	ps_chan_free(c);
	ps_buf_clear(&p.tx);
	close(p.sv[0]);
	event_base_free(base);
}

int
main(void)
{
	int	start;

	log_init(1, LOG_DAEMON);
	start = fd_count();

	test_roundtrip_sizes();
	test_composev_gathers();
	test_oversize_fails_and_closes_fd();
	test_fd_passing_interleaved();
	test_fd_passing_pipe_write_end();
	test_fd_passing_more_than_fdq();
	test_clear_closes_unsent_fd();
	test_split_one_byte_per_read();
	test_fd_across_compaction();
	test_many_messages_nonblocking();
	test_reject_len_below_header();
	test_reject_len_above_max();
	test_reject_unknown_flags();
	test_truncated_header_then_eof();
	test_truncated_payload_then_eof();
	test_unexpected_descriptor();
	test_stray_descriptor_over_two_messages();
	test_descriptor_missing();
	test_descriptor_from_later_read();
	test_descriptor_from_later_message_same_read();
	test_check_valid();
	test_check_rejects();
	test_check_phase();
	test_check_once();
	test_chan_good_then_oversize();
	test_chan_good_then_bad_framing();
	test_chan_eof();
	test_chan_free_in_closed_callback();
	test_chan_handler_fail_stops_dispatch();
	test_chan_handler_free_is_deferred();
	test_chan_compose_to_peer();
	test_chan_compose_after_dead();
	test_chan_adopt_keeps_buffered();

	libevent_global_shutdown();
	ok(fd_count() == start,
	    "no descriptor leaked over the whole run (%d open)", start);
	return tap_done();
}
