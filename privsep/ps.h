/*
 * The privilege-separation layer: message framing with descriptor passing
 * over socketpairs, a libevent channel with a strict dispatch table, child
 * spawning by fork and re-exec, privilege drop, seccomp profiles by purpose,
 * logging, and the sd_notify protocol.  It knows nothing of HTTP or of the
 * gateway; src/ builds the roles on top of it.
 */
#ifndef PS_H
#define PS_H

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/uio.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <syslog.h>

struct event_base;
struct event;

/* ---- framing (imsg.c) ---------------------------------------------- */

/*
 * Every message is a fixed header, then len - PS_HDR_SIZE payload bytes.
 * All fields are in host order: both ends are the same binary on the same
 * host.  The header's layout never changes: the first message a child
 * reads is how it learns whether its parent is of the same build, and a
 * child of another build must still be able to read that much.
 */
struct ps_hdr {
	uint32_t	 type;
	uint32_t	 len;		/* header + payload */
	uint32_t	 peerid;	/* sender's subject (conn id, instance) */
	uint32_t	 pid;		/* sender's pid */
	uint32_t	 flags;
};
/* The number of elements of an array; the one definition in the tree. */
#ifndef nitems
#define nitems(a)	(sizeof(a) / sizeof((a)[0]))
#endif

#define PS_HDR_SIZE	sizeof(struct ps_hdr)
#define PS_MAX_MSG	(64 * 1024)	/* header + payload, hard limit */
#define PS_MAX_PAYLOAD	(PS_MAX_MSG - PS_HDR_SIZE)
#define PS_F_FD		0x1		/* a descriptor rides with this one */
#define PS_MAX_FDQ	64		/* descriptors received, not yet claimed */

struct ps_msg {
	struct ps_hdr	 hdr;
	const uint8_t	*data;		/* valid until the next ps_get() */
	size_t		 len;		/* payload length */
	int		 fd;		/* -1 unless PS_F_FD; the taker owns it */
};

struct ps_omsg {
	TAILQ_ENTRY(ps_omsg) entry;
	int		 fd;		/* sent with the first byte, then closed */
	size_t		 len, off;
	uint8_t		 data[];
};

struct ps_rfd {
	int		 fd;
	uint64_t	 start, end;	/* stream range of the recv it came in */
};

struct ps_buf {
	int		 fd;
	uint8_t		*rbuf;		/* 2 * PS_MAX_MSG */
	size_t		 roff, rlen;	/* unparsed bytes: rbuf[roff..rlen) */
	uint64_t	 rpos;		/* stream offset of rbuf[0] */
	struct ps_rfd	 fdq[PS_MAX_FDQ];
	int		 nfdq;
	TAILQ_HEAD(, ps_omsg) outq;
	size_t		 opending;	/* bytes queued, not yet written */
	uint32_t	 pid;
	const char	*err;		/* why ps_get() or ps_read() failed */
};

int	 ps_buf_init(struct ps_buf *, int);
void	 ps_buf_clear(struct ps_buf *);
ssize_t	 ps_read(struct ps_buf *);
int	 ps_get(struct ps_buf *, struct ps_msg *);
int	 ps_compose(struct ps_buf *, uint32_t, uint32_t, int, const void *,
	    size_t);
int	 ps_composev(struct ps_buf *, uint32_t, uint32_t, int,
	    const struct iovec *, int);
int	 ps_flush(struct ps_buf *);
int	 ps_flush_blocking(struct ps_buf *);
void	 ps_msg_close(struct ps_msg *);

/* ---- channels on libevent (chan.c) ----------------------------------- */

struct ps_chan;

#define PS_FD_NONE	0
#define PS_FD_MUST	1

/*
 * One row per message type a receiver accepts from one peer.  A message of
 * any other type, of a size outside [min, max], with a descriptor where
 * none is expected (or none where one is), in a phase not listed, or a
 * second time where "once" is set, ends the channel.
 */
struct ps_handler {
	uint32_t	 type;
	size_t		 min, max;
	int		 fd;
	uint32_t	 phases;	/* bit mask; 0: any phase */
	int		 once;
	void		(*cb)(struct ps_chan *, struct ps_msg *);
};

struct ps_chan {
	struct ps_buf		 buf;
	struct event		*rev, *wev;
	char			 name[32];
	const struct ps_handler	*table;
	size_t			 ntable;
	uint32_t		 phase;
	uint64_t		 seen;	/* "once" rows already used */
	void			(*closed)(struct ps_chan *, const char *);
	void			*arg;
	int			 dead;
	int			 indispatch;
	int			 freeme;
};

struct ps_chan	*ps_chan_new(struct event_base *, int, const char *,
		    const struct ps_handler *, size_t,
		    void (*)(struct ps_chan *, const char *), void *);
struct ps_chan	*ps_chan_adopt(struct event_base *, struct ps_buf *,
		    const char *, const struct ps_handler *, size_t,
		    void (*)(struct ps_chan *, const char *), void *);
void		 ps_chan_free(struct ps_chan *);
int		 ps_chan_compose(struct ps_chan *, uint32_t, uint32_t, int,
		    const void *, size_t);
int		 ps_chan_composev(struct ps_chan *, uint32_t, uint32_t, int,
		    const struct iovec *, int);
size_t		 ps_chan_pending(struct ps_chan *);
void		 ps_chan_pause(struct ps_chan *, int);
void		 ps_chan_fail(struct ps_chan *, const char *);
const struct ps_handler *ps_check(const struct ps_handler *, size_t,
		    uint32_t, uint64_t *, const struct ps_msg *,
		    const char **);

/* ---- processes (proc.c) ---------------------------------------------- */

#define PS_PARENT_FD	3	/* a child's channel to its parent */

pid_t	 ps_spawn(int, char *const [], int);
int	 ps_self_path(char *, size_t);
int	 ps_self_open(const char *);
int	 ps_build_id(char *, size_t);
void	 ps_describe_status(int, char *, size_t);

/* ---- privilege drop (drop.c) ----------------------------------------- */

struct ps_identity {
	uid_t		 uid;
	gid_t		 gid;
	char		 chroot[4096];
};

int	 ps_lookup_user(const char *, uid_t *, gid_t *, char *, size_t);
int	 ps_prepare_chroot(const char *, char *, size_t);
void	 ps_drop(const struct ps_identity *);
void	 ps_limits(unsigned long);
void	 ps_keep_caps(const int *, size_t);

/* ---- seccomp (sandbox.c) --------------------------------------------- */

/* Syscall groups a role's profile is made of. */
#define PS_SC_BASE	0x0001	/* memory, time, exit, signals */
#define PS_SC_IO	0x0002	/* read/write on descriptors it holds */
#define PS_SC_EVENT	0x0004	/* epoll loop */
#define PS_SC_IMSG	0x0008	/* sendmsg/recvmsg with SCM_RIGHTS */
#define PS_SC_ACCEPT	0x0010	/* accept on passed listeners */
#define PS_SC_TCP	0x0020	/* outgoing TCP, IPv4 and IPv6 */
#define PS_SC_DNS	0x0040	/* a DNS client: UDP, TCP, TLS */

void	 ps_sandbox(const char *, uint32_t);

/* ---- logging (log.c) ------------------------------------------------- */

/*
 * One API for every process.  The calling function's name is prefixed
 * automatically; a child's lines carry its role and instance.  With -d
 * everything goes to stderr; otherwise the parent writes to syslog and
 * children hand their lines to it over their channel.
 */
void	 log_init(int, int);
void	 log_procinit(const char *);
void	 log_setverbose(int);
int	 log_getverbose(void);
void	 log_set_sink(void (*)(int, const char *));
void	 ps_log(int, const char *, int, const char *, ...)
	    __attribute__((format(printf, 4, 5)));
void	 ps_vlog(int, const char *, int, const char *, va_list)
	    __attribute__((format(printf, 4, 0)));
__attribute__((noreturn)) void ps_fatal(const char *, int, const char *, ...)
	    __attribute__((format(printf, 3, 4)));

#define log_warn(...)	ps_log(LOG_WARNING, __func__, 1, __VA_ARGS__)
#define log_warnx(...)	ps_log(LOG_WARNING, __func__, 0, __VA_ARGS__)
#define log_info(...)	ps_log(LOG_INFO, __func__, 0, __VA_ARGS__)
#define log_debug(...)	ps_log(LOG_DEBUG, __func__, 0, __VA_ARGS__)
#define fatal(...)	ps_fatal(__func__, 1, __VA_ARGS__)
#define fatalx(...)	ps_fatal(__func__, 0, __VA_ARGS__)

/* ---- shared memory (shm.c) ------------------------------------------- */

int	 ps_shm_create(const char *, size_t);
void	*ps_shm_map(int, size_t);

/* ---- systemd readiness (notify.c) ------------------------------------ */

int	 ps_notify(const char *);

/* ---- small utilities (util.c) ---------------------------------------- */

#ifndef HAVE_STRLCPY
size_t	 strlcpy(char *, const char *, size_t);
#endif
#ifndef HAVE_STRLCAT
size_t	 strlcat(char *, const char *, size_t);
#endif
long long strtonum(const char *, long long, long long, const char **);
void	*ps_xcalloc(size_t, size_t);
char	*ps_xstrdup(const char *);

#endif /* PS_H */
