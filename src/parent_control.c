/*
 * The parent's part of the admin sockets: it creates the control socket
 * (once, at start-up, while it still has every capability) and binds the
 * metrics listener (at start-up and when a reload moves it), and hands
 * both to the workers with each generation.  It never reads a byte from
 * either: the workers accept and parse; what reaches the parent from
 * them is a typed request (reload, log verbosity) that parent.c checks,
 * and reloads asked that way are allowed once a second at most.
 *
 * The control socket is made 0660, owned by root and the control group,
 * in a directory created 0755 if missing.  Changing its ownership needs
 * CAP_CHOWN, which the parent gives up after start-up: a reload that
 * changes the path or the group is refused for that part (the rest
 * applies), as a change of user or chroot is.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <netinet/in.h>

#include <errno.h>
#include <grp.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "egressd.h"

#define RELOAD_MIN_MS	1000	/* between two reloads asked by egressctl */

static struct {
	int			 ctl_fd;
	char			 ctl_path[108];	/* sun_path */
	char			 ctl_group[64];
	gid_t			 ctl_gid;
	int			 met_fd;
	struct sockaddr_storage	 met_ss;
	socklen_t		 met_sslen;
	struct timespec		 last_reload;
	int			 inited;
} pc = { -1, "", "", 0, -1, { 0 }, 0, { 0, 0 }, 0 };

static int
pctl_bind_metrics(const struct egressd_conf *conf)
{
	char	addr[64];
	int	s, on = 1;

	addr_ntop(&conf->metrics_ss, addr, sizeof(addr));
	if ((s = socket(conf->metrics_ss.ss_family, SOCK_STREAM |
	    SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1 ||
	    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == -1 ||
	    (conf->metrics_ss.ss_family == AF_INET6 && setsockopt(s,
	    IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on)) == -1) ||
	    bind(s, (const struct sockaddr *)&conf->metrics_ss,
	    conf->metrics_sslen) == -1 || listen(s, 64) == -1) {
		log_warn("metrics listen on %s port %d", addr,
		    addr_port(&conf->metrics_ss));
		if (s != -1)
			close(s);
		return -1;
	}
	return s;
}

/*
 * A socket file left by an egressd that died is replaced; one that
 * answers belongs to a running egressd and is not taken from it.
 */
static int
pctl_stale(const char *path, const struct sockaddr_un *sun, char *err,
    size_t errlen)
{
	struct stat	st;
	int		s, rv;

	if (lstat(path, &st) == -1) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "control socket %s: %s", path,
		    strerror(errno));
		return -1;
	}
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "control socket %s: exists and is not "
		    "a socket", path);
		return -1;
	}
	if ((s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		snprintf(err, errlen, "control socket: %s", strerror(errno));
		return -1;
	}
	rv = connect(s, (const struct sockaddr *)sun, sizeof(*sun));
	close(s);
	if (rv == 0) {
		snprintf(err, errlen, "control socket %s: in use by a running "
		    "egressd", path);
		return -1;
	}
	if (unlink(path) == -1) {
		snprintf(err, errlen, "control socket %s: unlink: %s", path,
		    strerror(errno));
		return -1;
	}
	return 0;
}

static int
pctl_control(const struct egressd_conf *conf, char *err, size_t errlen)
{
	struct sockaddr_un	 sun;
	struct group		*gr;
	char			 dir[sizeof(sun.sun_path)];
	mode_t			 old;
	int			 s, rv;

	if ((gr = getgrnam(conf->control_group)) == NULL) {
		snprintf(err, errlen, "control socket group \"%s\" does not "
		    "exist", conf->control_group);
		return -1;
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlcpy(sun.sun_path, conf->control_path, sizeof(sun.sun_path)) >=
	    sizeof(sun.sun_path) || strlcpy(dir, conf->control_path,
	    sizeof(dir)) >= sizeof(dir)) {
		snprintf(err, errlen, "control socket %s: path too long",
		    conf->control_path);
		return -1;
	}
	/* Made here: 0755 whatever the umask (systemd's is 0077). */
	if ((rv = mkdir(dirname(dir), 0755)) == 0)
		rv = chmod(dir, 0755);
	else if (errno == EEXIST)
		rv = 0;
	if (rv == -1) {
		snprintf(err, errlen, "control socket directory %s: %s", dir,
		    strerror(errno));
		return -1;
	}
	if (pctl_stale(conf->control_path, &sun, err, errlen) == -1)
		return -1;
	if ((s = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1) {
		snprintf(err, errlen, "control socket: %s", strerror(errno));
		return -1;
	}
	/* Never, not even for a moment, more open than 0660 root:root. */
	old = umask(0117);
	if (bind(s, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		umask(old);
		snprintf(err, errlen, "control socket %s: bind: %s",
		    conf->control_path, strerror(errno));
		close(s);
		return -1;
	}
	umask(old);
	if (chmod(conf->control_path, 0660) == -1 ||
	    chown(conf->control_path, 0, gr->gr_gid) == -1 ||
	    listen(s, 64) == -1) {
		snprintf(err, errlen, "control socket %s: %s",
		    conf->control_path, strerror(errno));
		close(s);
		unlink(conf->control_path);
		return -1;
	}
	pc.ctl_fd = s;
	pc.ctl_gid = gr->gr_gid;
	strlcpy(pc.ctl_path, conf->control_path, sizeof(pc.ctl_path));
	strlcpy(pc.ctl_group, conf->control_group, sizeof(pc.ctl_group));
	return 0;
}

/* At start-up, with every capability still there. */
int
pctl_init(const struct egressd_conf *conf, char *err, size_t errlen)
{
	pc.inited = 1;
	if (pctl_control(conf, err, errlen) == -1)
		return -1;
	if (conf->metrics_ss.ss_family != 0) {
		if ((pc.met_fd = pctl_bind_metrics(conf)) == -1) {
			snprintf(err, errlen, "cannot listen for metrics");
			return -1;
		}
		pc.met_ss = conf->metrics_ss;
		pc.met_sslen = conf->metrics_sslen;
	}
	return 0;
}

/*
 * A reload: the metrics listener moves if its address changed (-1 if
 * the new one cannot be bound: the reload fails, nothing changed); the
 * control socket stays where it is.
 */
int
pctl_reload(struct egressd_conf *conf)
{
	int	fd = -1;

	if (!pc.inited)
		return 0;
	if (strcmp(conf->control_path, pc.ctl_path) != 0 ||
	    strcmp(conf->control_group, pc.ctl_group) != 0) {
		log_warnx("reload: control socket changes take a restart; "
		    "keeping %s, group %s", pc.ctl_path, pc.ctl_group);
		strlcpy(conf->control_path, pc.ctl_path,
		    sizeof(conf->control_path));
		strlcpy(conf->control_group, pc.ctl_group,
		    sizeof(conf->control_group));
	}
	if (conf->metrics_ss.ss_family != 0 && (pc.met_fd == -1 ||
	    !addr_equal(&conf->metrics_ss, &pc.met_ss)) &&
	    (fd = pctl_bind_metrics(conf)) == -1)
		return -1;
	if (conf->metrics_ss.ss_family == 0 || fd != -1) {
		if (pc.met_fd != -1)
			close(pc.met_fd);
		pc.met_fd = fd;
		pc.met_ss = conf->metrics_ss;
		pc.met_sslen = conf->metrics_sslen;
	}
	return 0;
}

/* To a worker, inside a generation: a duplicate of each admin socket. */
void
pctl_send(struct ps_chan *c)
{
	struct msg_admin	ma;
	int			fd;

	if (pc.met_fd != -1) {
		memset(&ma, 0, sizeof(ma));
		ma.kind = ADMIN_METRICS;
		ma.sslen = pc.met_sslen;
		memcpy(&ma.ss, &pc.met_ss, sizeof(ma.ss));
		if ((fd = dup(pc.met_fd)) == -1)
			fatal("dup");
		ps_chan_compose(c, IMSG_CONF_ADMIN, 0, fd, &ma, sizeof(ma));
	}
	if (pc.ctl_fd != -1) {
		memset(&ma, 0, sizeof(ma));
		ma.kind = ADMIN_CONTROL;
		ma.gid = (uint32_t)pc.ctl_gid;
		if ((fd = dup(pc.ctl_fd)) == -1)
			fatal("dup");
		ps_chan_compose(c, IMSG_CONF_ADMIN, 0, fd, &ma, sizeof(ma));
	}
}

/* Is a reload asked through egressctl allowed now?  One a second. */
int
pctl_reload_allowed(void)
{
	struct timespec	now;
	long long	ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (long long)(now.tv_sec - pc.last_reload.tv_sec) * 1000 +
	    (now.tv_nsec - pc.last_reload.tv_nsec) / 1000000;
	if ((pc.last_reload.tv_sec != 0 || pc.last_reload.tv_nsec != 0) &&
	    ms < RELOAD_MIN_MS)
		return 0;
	pc.last_reload = now;
	return 1;
}

/* Stopping: no new admin clients; the socket file goes. */
void
pctl_close(void)
{
	if (pc.met_fd != -1) {
		close(pc.met_fd);
		pc.met_fd = -1;
	}
	if (pc.ctl_fd != -1) {
		close(pc.ctl_fd);
		pc.ctl_fd = -1;
		(void)unlink(pc.ctl_path);
	}
}
