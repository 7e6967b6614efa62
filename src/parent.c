/*
 * The parent process: the only one with privileges, and it never parses
 * network input.  It reads the configuration, binds the listening
 * sockets, prepares the empty root, forks and re-executes one helper and
 * N workers, hands each its identity, configuration and sockets over its
 * channel, wires each worker to the helper, and then supervises: respawns
 * a child that dies (with backoff when it keeps dying), reloads on SIGHUP,
 * drains and stops on SIGTERM/SIGINT, and tells systemd READY, RELOADING
 * and STOPPING.  Children are executed from the binary the parent was
 * started from (a descriptor opened first thing), and each must be of
 * the parent's build (the first message on its channel): a package
 * upgrade never mixes two builds in one daemon.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <netinet/in.h>

#include <ctype.h>
#include <errno.h>
#include <linux/capability.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "egressd.h"

#define RESPAWN_MAX_MS	30000	/* longest wait before a respawn */
#define RESPAWN_STABLE	10	/* seconds alive that reset the backoff */
#define HELPER_GRACE	5	/* seconds the helper gets to leave */
#define DRAIN_GRACE	2	/* seconds to record what the drain cut */

struct child {
	int			 role;
	int			 instance;
	pid_t			 pid;		/* 0: not running */
	struct ps_chan		*chan;
	struct timespec		 started;
	int			 backoff_ms;
	uint32_t		 gen;		/* generation it reported */
	int			 ready;
	int			 retiring;	/* not respawned */
	int			 refused;	/* of another build */
	struct event		*respawn_ev;
};

static struct {
	struct egressd_opts	*opts;
	struct egressd_conf	*conf;
	struct event_base	*base;
	char			 self[PATH_MAX];	/* children's argv[0] */
	int			 exefd;		/* what children run */
	uid_t			 uid;
	gid_t			 gid;
	struct child		 helper;
	struct child		 workers[EGRESSD_MAXWORKERS];
	int			 nworkers;
	int			 announced;	/* READY=1 sent once */
	int			 reloading;
	int			 stopping;
	struct event		*drain_ev;
	int			 shmfd;		/* limits shared by workers */
} p;

/*
 * What the parent still needs after start-up, nothing more: children are
 * re-executed as root and need the first four to enter their sandbox.
 */
static const int parent_caps[] = {
	CAP_SETUID,		/* children: change to the unprivileged uid */
	CAP_SETGID,		/* children: ... and gid, drop groups */
	CAP_SYS_CHROOT,		/* children: enter the empty root */
	CAP_SETPCAP,		/* children: clear their bounding set */
	CAP_KILL,		/* signal children running as another uid */
	CAP_NET_BIND_SERVICE,	/* bind ports below 1024 on reload */
};

static void	 parent_dispatch_ready(struct ps_chan *, struct ps_msg *);
static void	 parent_dispatch_refused(struct ps_chan *, struct ps_msg *);
static void	 parent_dispatch_log(struct ps_chan *, struct ps_msg *);
static void	 parent_dispatch_audit(struct ps_chan *, struct ps_msg *);
static void	 parent_dispatch_ctl_reload(struct ps_chan *, struct ps_msg *);
static void	 parent_dispatch_ctl_verbose(struct ps_chan *, struct ps_msg *);
static void	 parent_child_closed(struct ps_chan *, const char *);
static void	 parent_spawn(struct child *);
static void	 parent_sigchld(int, short, void *);
static void	 parent_sighup(int, short, void *);
static void	 parent_sigterm(int, short, void *);
static void	 parent_check_ready(void);
static void	 parent_stop_helper(void);

/* What any child may send the parent. */
static const struct ps_handler parent_table[] = {
	{ IMSG_READY, sizeof(uint32_t), sizeof(uint32_t), PS_FD_NONE, 0, 0,
	    parent_dispatch_ready },
	{ IMSG_LOG, sizeof(struct msg_log),
	    sizeof(struct msg_log) + EGD_LOG_MAX, PS_FD_NONE, 0, 0,
	    parent_dispatch_log },
	{ IMSG_AUDIT_REQUEST, sizeof(struct msg_audit_sink),
	    sizeof(struct msg_audit_sink), PS_FD_NONE, 0, 0,
	    parent_dispatch_audit },
	{ IMSG_RELOAD_REQ, 0, 0, PS_FD_NONE, 0, 0,
	    parent_dispatch_ctl_reload },
	{ IMSG_VERBOSE_REQ, sizeof(int32_t), sizeof(int32_t), PS_FD_NONE, 0, 0,
	    parent_dispatch_ctl_verbose },
	{ IMSG_BUILD_REFUSED, sizeof(struct msg_build),
	    sizeof(struct msg_build), PS_FD_NONE, 0, 1,
	    parent_dispatch_refused },
};

static const char *
role_name(int role)
{
	return role == ROLE_HELPER ? "helper" : "worker";
}

static void
child_label(const struct child *c, char *buf, size_t len)
{
	if (c->role == ROLE_HELPER)
		snprintf(buf, len, "helper");
	else
		snprintf(buf, len, "worker %d", c->instance);
}

/* ---- listeners --------------------------------------------------------- */

/* One socket of a listener's SO_REUSEPORT group. */
static int
parent_bind_one(const struct listener *l)
{
	char	addr[64];
	int	s, on = 1;

	addr_ntop(&l->ss, addr, sizeof(addr));
	if ((s = socket(l->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1) {
		log_warn("listen on %s port %d: socket", addr,
		    addr_port(&l->ss));
		return -1;
	}
	if (setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == -1 ||
	    setsockopt(s, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) == -1 ||
	    (l->ss.ss_family == AF_INET6 && setsockopt(s, IPPROTO_IPV6,
	    IPV6_V6ONLY, &on, sizeof(on)) == -1) ||
	    bind(s, (const struct sockaddr *)&l->ss, l->sslen) == -1 ||
	    listen(s, 1024) == -1) {
		log_warn("listen on %s port %d", addr, addr_port(&l->ss));
		close(s);
		return -1;
	}
	return s;
}

/*
 * A listener gets one socket per worker, all bound to its address with
 * SO_REUSEPORT: the kernel spreads new connections evenly over them.  A
 * single shared socket was measured to give one of two busy workers 78 %
 * of keep-alive connections.  A worker that dies leaves its socket open
 * here, so connections queued on it wait for the respawn.
 */
static int
parent_bind(struct listener *l, int n)
{
	for (; l->nfds < n; l->nfds++)
		if (l->fds[l->nfds] == -1 &&
		    (l->fds[l->nfds] = parent_bind_one(l)) == -1)
			return -1;
	return 0;
}

static struct listener *
parent_find_listener(struct egressd_conf *conf, const struct listener *want)
{
	struct listener	*l;

	if (conf == NULL)
		return NULL;
	TAILQ_FOREACH(l, &conf->listeners, entry)
		if (l->nfds > 0 && l->fds[0] != -1 &&
		    l->sslen == want->sslen &&
		    memcmp(&l->ss, &want->ss, l->sslen) == 0)
			return l;
	return NULL;
}

/*
 * Give every listener of conf its sockets: those old already has for the
 * same address (so a reload never refuses a connection), new ones for
 * the rest.  All failures are logged; any failure fails the whole call.
 */
static int
parent_listen(struct egressd_conf *conf, struct egressd_conf *old)
{
	struct listener	*l, *o;
	int		 errors = 0, n = conf_workers(conf), i;

	TAILQ_FOREACH(l, &conf->listeners, entry) {
		if ((o = parent_find_listener(old, l)) != NULL)
			for (i = 0; i < n && i < o->nfds; i++) {
				l->fds[i] = o->fds[i];
				o->fds[i] = -1;
			}
		if (parent_bind(l, n) == -1)
			errors++;
	}
	return errors ? -1 : 0;
}

/* Undo parent_listen() after a failure: old gets its sockets back. */
static void
parent_unlisten(struct egressd_conf *conf, struct egressd_conf *old)
{
	struct listener	*l, *o;
	int		 i;

	TAILQ_FOREACH(l, &conf->listeners, entry) {
		TAILQ_FOREACH(o, &old->listeners, entry)
			if (o->sslen == l->sslen &&
			    memcmp(&o->ss, &l->ss, l->sslen) == 0)
				break;
		if (o == NULL)
			continue;
		for (i = 0; i < l->nfds && i < o->nfds; i++)
			if (o->fds[i] == -1) {
				o->fds[i] = l->fds[i];
				l->fds[i] = -1;
			}
	}
}

/* ---- configuration to children ---------------------------------------- */

static void
parent_send_key(struct ps_chan *c, const struct tls_key *k)
{
	struct msg_key	*mk;

	if (k->len > sizeof(mk->der))
		fatalx("key %s: too large", k->path);
	mk = ps_xcalloc(1, sizeof(*mk));
	memcpy(mk->id, k->id, sizeof(mk->id));
	mk->len = (uint32_t)k->len;
	memcpy(mk->der, k->der, k->len);
	ps_chan_compose(c, IMSG_CONF_KEY, 0, -1, mk, sizeof(*mk));
	explicit_bzero(mk, sizeof(*mk));
	free(mk);
}

static void
parent_send_conf(struct child *c)
{
	struct egressd_conf	*conf = p.conf;
	struct msg_listener	 ml;
	struct msg_nameserver	 mn;
	struct listener		*l;
	int			 fd, i, j;

	conf_send(c->chan, conf, c->role);

	/*
	 * Only the helper talks to DNS servers (resolv_conf() found them),
	 * and it gets the CA bundles of those it speaks TLS to, first.
	 */
	for (i = 0; c->role == ROLE_HELPER && i < conf->ncas; i++) {
		for (j = 0; j < conf->nnameservers; j++)
			if (conf->nstls[j].name[0] != '\0' &&
			    conf->nstls[j].ca_id == i)
				break;
		if (j < conf->nnameservers)
			conf_send_ca(c->chan, conf, i);
	}
	for (i = 0; c->role == ROLE_HELPER && i < conf->nnameservers; i++) {
		memset(&mn, 0, sizeof(mn));
		mn.ca_id = -1;
		if (conf->nstls[i].name[0] != '\0') {
			strlcpy(mn.tlsname, conf->nstls[i].name,
			    sizeof(mn.tlsname));
			mn.ca_id = conf->nstls[i].ca_id;
		}
		mn.ss = conf->nameservers[i];
		if (mn.ss.ss_family == AF_INET6) {
			mn.sslen = sizeof(struct sockaddr_in6);
			if (addr_port(&mn.ss) == 0)
				((struct sockaddr_in6 *)&mn.ss)->sin6_port =
				    htons(53);
		} else {
			mn.sslen = sizeof(struct sockaddr_in);
			if (addr_port(&mn.ss) == 0)
				((struct sockaddr_in *)&mn.ss)->sin_port =
				    htons(53);
		}
		ps_chan_compose(c->chan, IMSG_CONF_NAMESERVER, 0, -1, &mn,
		    sizeof(mn));
	}

	/* Private keys go to the helper and nowhere else. */
	for (i = 0; c->role == ROLE_HELPER && i < conf->nkeys; i++)
		parent_send_key(c->chan, &conf->keys[i]);

	/* The helper accepts nobody: it gets no listener. */
	if (c->role == ROLE_WORKER) {
		TAILQ_FOREACH(l, &conf->listeners, entry) {
			memset(&ml, 0, sizeof(ml));
			ml.id = l->id;
			ml.gateway = l->gateway;
			ml.proto = (uint32_t)l->proto;
			ml.transparent = (uint32_t)l->transparent;
			ml.sslen = l->sslen;
			memcpy(&ml.ss, &l->ss, sizeof(ml.ss));
			ml.cert_id = l->cert_id;
			ml.clientca_id = l->clientca_id;
			ml.client_optional = (uint32_t)l->client_optional;
			ml.minver = (uint32_t)l->minver;
			strlcpy(ml.ciphers, l->ciphers, sizeof(ml.ciphers));
			/* A retiring worker only needs to know the socket. */
			if (l->nfds < 1 || (fd = dup(l->fds[c->instance <
			    l->nfds ? c->instance : 0])) == -1)
				fatal("listener socket for worker %d",
				    c->instance);
			ps_chan_compose(c->chan, IMSG_CONF_LISTENER, 0, fd,
			    &ml, sizeof(ml));
		}
		pctl_send(c->chan);	/* metrics, control socket */
	}
	ps_chan_compose(c->chan, IMSG_CONF_END, 0, -1, &conf->gen,
	    sizeof(conf->gen));
}

/* What the parent adds to a parsed file before children see it. */
static void
parent_conf_prepare(struct egressd_conf *conf)
{
	if (gethostname(conf->hostname, sizeof(conf->hostname)) == -1)
		strlcpy(conf->hostname, "-", sizeof(conf->hostname));
	conf->hostname[sizeof(conf->hostname) - 1] = '\0';
	conf_local_addrs(conf);
	audit_conf_default(conf, p.opts->debug);
}

/*
 * Direct channels between worker w and the helper, when both run: one
 * for DNS and liveness (imsg, both ends in their event loops), one for
 * private-key operations (datagrams; the worker waits for each answer,
 * at most EGD_KEYOP_TIMEOUT_MS, the time-outs set here before the
 * worker's sandbox would forbid setsockopt).
 */
static void
parent_wire(struct child *w)
{
	struct timeval	tv;
	int		sp[2];

	if (w->chan == NULL || p.helper.chan == NULL)
		return;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == -1)
		fatal("socketpair");
	ps_chan_compose(w->chan, IMSG_HELPER_CHAN, 0, sp[0], NULL, 0);
	ps_chan_compose(p.helper.chan, IMSG_WORKER_CHAN,
	    (uint32_t)w->instance, sp[1], NULL, 0);

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) == -1)
		fatal("socketpair");
	tv.tv_sec = EGD_KEYOP_TIMEOUT_MS / 1000;
	tv.tv_usec = (EGD_KEYOP_TIMEOUT_MS % 1000) * 1000;
	if (setsockopt(sp[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) ==
	    -1 || setsockopt(sp[0], SOL_SOCKET, SO_SNDTIMEO, &tv,
	    sizeof(tv)) == -1)
		fatal("key channel time-out");
	ps_chan_compose(w->chan, IMSG_KEY_CHAN, 0, sp[0], NULL, 0);
	ps_chan_compose(p.helper.chan, IMSG_WORKER_KEYCHAN,
	    (uint32_t)w->instance, sp[1], NULL, 0);
}

/* The channel to worker n, or NULL: for answers that come later. */
struct ps_chan *
parent_worker_chan(int n)
{
	if (n < 0 || n >= EGRESSD_MAXWORKERS)
		return NULL;
	return p.workers[n].chan;
}

/* ---- children ---------------------------------------------------------- */

static void
parent_spawn(struct child *c)
{
	struct msg_build mb;
	struct msg_init	 mi;
	char		 inst[16], label[32];
	char		*argv[12];
	int		 sp[2], argc = 0, i;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == -1)
		fatal("socketpair");
	snprintf(inst, sizeof(inst), "%d", c->instance);
	argv[argc++] = p.self;
	argv[argc++] = (char *)(uintptr_t)"-P";
	argv[argc++] = (char *)(uintptr_t)role_name(c->role);
	argv[argc++] = (char *)(uintptr_t)"-I";
	argv[argc++] = inst;
	if (p.opts->debug)
		argv[argc++] = (char *)(uintptr_t)"-d";
	for (i = 0; i < p.opts->verbose && i < 3; i++)
		argv[argc++] = (char *)(uintptr_t)"-v";
	argv[argc] = NULL;

	if ((c->pid = ps_spawn(p.exefd, argv, sp[1])) == -1)
		fatal("fork");
	close(sp[1]);
	clock_gettime(CLOCK_MONOTONIC, &c->started);
	c->ready = 0;
	c->gen = 0;
	c->refused = 0;
	child_label(c, label, sizeof(label));
	if ((c->chan = ps_chan_new(p.base, sp[0], label, parent_table,
	    nitems(parent_table), parent_child_closed, c)) == NULL)
		fatal("channel to %s", label);
	log_debug("%s started, pid %d", label, (int)c->pid);

	/* First, before anything the child could misread: our build. */
	memset(&mb, 0, sizeof(mb));
	strlcpy(mb.id, egd_build(), sizeof(mb.id));
	ps_chan_compose(c->chan, IMSG_BUILD, 0, -1, &mb, sizeof(mb));
	memset(&mi, 0, sizeof(mi));
	mi.role = (uint32_t)c->role;
	mi.instance = (uint32_t)c->instance;
	mi.uid = (uint32_t)p.uid;
	mi.gid = (uint32_t)p.gid;
	strlcpy(mi.chroot, p.conf->chroot, sizeof(mi.chroot));
	mi.verbose = log_getverbose();
	ps_chan_compose(c->chan, IMSG_INIT, 0, -1, &mi, sizeof(mi));
	status_send(c->chan);
	status_parent_child(c->role, c->instance, c->pid, 0);
	if (c->role == ROLE_WORKER) {
		uint64_t	size = limits_shm_size();
		int		fd;

		if ((fd = dup(p.shmfd)) == -1)
			fatal("dup");
		ps_chan_compose(c->chan, IMSG_SHM, 0, fd, &size, sizeof(size));
	}
	parent_send_conf(c);

	if (c->role == ROLE_WORKER)
		parent_wire(c);
	else
		for (i = 0; i < p.nworkers; i++)
			parent_wire(&p.workers[i]);
}

static void
parent_respawn_cb(int fd, short ev, void *arg)
{
	struct child	*c = arg;

	if (!p.stopping && c->pid == 0 && !c->retiring)
		parent_spawn(c);
}

static void
parent_child_closed(struct ps_chan *ch, const char *why)
{
	struct child	*c = ch->arg;

	/*
	 * Anything but a plain close means the child broke the protocol:
	 * it is treated as compromised and killed.  A child of another
	 * build leaves by itself once its channel is closed.
	 */
	if (strcmp(why, "channel closed") != 0 && !c->refused && c->pid > 0) {
		log_warnx("%s: %s: killing pid %d", ch->name, why,
		    (int)c->pid);
		kill(c->pid, SIGKILL);
	}
	ps_chan_free(ch);
	c->chan = NULL;
}

static struct child *
parent_find_child(pid_t pid)
{
	int	i;

	if (p.helper.pid == pid)
		return &p.helper;
	for (i = 0; i < EGRESSD_MAXWORKERS; i++)
		if (p.workers[i].pid == pid)
			return &p.workers[i];
	return NULL;
}

static int
parent_workers_alive(void)
{
	int	i, n = 0;

	for (i = 0; i < EGRESSD_MAXWORKERS; i++)
		if (p.workers[i].pid > 0)
			n++;
	return n;
}

static void
parent_child_died(struct child *c, int status)
{
	struct timespec	 now;
	struct timeval	 tv;
	char		 label[32], how[128];
	long		 alive;

	child_label(c, label, sizeof(label));
	ps_describe_status(status, how, sizeof(how));
	c->pid = 0;
	c->ready = 0;
	if (c->chan != NULL) {
		ps_chan_free(c->chan);
		c->chan = NULL;
	}
	status_parent_child(c->role, c->instance, 0,
	    !p.stopping && !c->retiring);
	if (p.stopping || c->retiring) {
		log_debug("%s %s", label, how);
		if (c->retiring && c->role == ROLE_WORKER)
			c->retiring = 0;
		if (p.stopping && parent_workers_alive() == 0)
			parent_stop_helper();
		return;
	}
	log_warnx("%s %s", label, how);

	/* Respawn at once, later each time it dies young, up to a limit. */
	clock_gettime(CLOCK_MONOTONIC, &now);
	alive = (long)(now.tv_sec - c->started.tv_sec);
	if (alive >= RESPAWN_STABLE)
		c->backoff_ms = 0;
	else if (c->backoff_ms == 0)
		c->backoff_ms = 1;
	else if ((c->backoff_ms *= 4) > RESPAWN_MAX_MS)
		c->backoff_ms = RESPAWN_MAX_MS;
	if (c->backoff_ms > 1)
		log_warnx("%s: respawning in %d ms", label, c->backoff_ms);
	tv.tv_sec = c->backoff_ms / 1000;
	tv.tv_usec = (c->backoff_ms % 1000) * 1000;
	if (c->respawn_ev == NULL &&
	    (c->respawn_ev = evtimer_new(p.base, parent_respawn_cb, c)) == NULL)
		fatalx("evtimer_new");
	evtimer_add(c->respawn_ev, &tv);
}

static void
parent_sigchld(int sig, short ev, void *arg)
{
	struct child	*c;
	pid_t		 pid;
	int		 status;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if ((c = parent_find_child(pid)) != NULL)
			parent_child_died(c, status);
	}
	if (p.stopping && p.helper.pid == 0 && parent_workers_alive() == 0) {
		log_info("stopped");
		exit(0);
	}
}

/* ---- messages from children ------------------------------------------- */

static void
parent_dispatch_ready(struct ps_chan *ch, struct ps_msg *m)
{
	struct child	*c = ch->arg;
	uint32_t	 gen;

	memcpy(&gen, m->data, sizeof(gen));
	if (gen > p.conf->gen) {
		ps_chan_fail(ch, "ready for a generation never sent");
		return;
	}
	c->gen = gen;
	c->ready = 1;
	parent_check_ready();
}

/*
 * A child refuses to run under this parent: it is of another build.  The
 * parent executes children from the very file it was started from, so
 * that file was changed in place since (a package upgrade renames a new
 * file over it instead).  Closing the channel lets the child exit; it is
 * respawned as any dead child is, and refuses again until a restart.
 */
static void
parent_dispatch_refused(struct ps_chan *ch, struct ps_msg *m)
{
	struct child	*c = ch->arg;
	struct msg_build mb;

	memcpy(&mb, m->data, sizeof(mb));
	if (msg_str(mb.id, sizeof(mb.id)) == -1)
		mb.id[sizeof(mb.id) - 1] = '\0';
	log_warnx("%s (pid %d) refused to run: it is %s, this parent is %s; "
	    "the binary egressd was started from has changed, restart "
	    "egressd", ch->name, (int)c->pid, mb.id, egd_build());
	c->refused = 1;
	ps_chan_fail(ch, "child of another build");
}

/* A child's log line: printable characters only, then syslog. */
static void
parent_dispatch_log(struct ps_chan *ch, struct ps_msg *m)
{
	struct msg_log	 ml;
	char		 line[EGD_LOG_MAX + 1];
	size_t		 i, n;

	memcpy(&ml, m->data, sizeof(ml));
	n = m->len - sizeof(ml);
	for (i = 0; i < n; i++) {
		unsigned char	ch2 = m->data[sizeof(ml) + i];

		line[i] = (isprint(ch2) || ch2 == '\t') ? (char)ch2 : '?';
	}
	line[n] = '\0';
	if (ml.pri < LOG_EMERG || ml.pri > LOG_DEBUG)
		ml.pri = LOG_WARNING;
	syslog(ml.pri, "%s", line);
}

/* A worker asks for a new socket to an audit sink (parent_audit.c). */
static void
parent_dispatch_audit(struct ps_chan *ch, struct ps_msg *m)
{
	struct child	*c = ch->arg;
	const char	*why;

	if (c->role != ROLE_WORKER)
		ps_chan_fail(ch, "audit request from the helper");
	else if (paudit_request(c->instance, p.conf, m, &why) == -1)
		ps_chan_fail(ch, why);
}

static int
parent_all_at(uint32_t gen)
{
	int	i;

	if (p.helper.pid == 0 || !p.helper.ready || p.helper.gen != gen)
		return 0;
	for (i = 0; i < p.nworkers; i++)
		if (p.workers[i].pid == 0 || !p.workers[i].ready ||
		    p.workers[i].gen != gen)
			return 0;
	return 1;
}

static void
parent_check_ready(void)
{
	if (p.stopping || !parent_all_at(p.conf->gen))
		return;
	if (!p.announced) {
		p.announced = 1;
		ps_notify("READY=1\nSTATUS=serving");
		log_info("ready: %d workers and the helper, generation %u",
		    p.nworkers, p.conf->gen);
	} else if (p.reloading) {
		p.reloading = 0;
		ps_notify("READY=1\nSTATUS=serving");
		log_info("reload: generation %u in force", p.conf->gen);
	}
}

/* ---- reload and stop --------------------------------------------------- */

static void
parent_reload(void)
{
	struct egressd_conf	*conf, *old = p.conf;
	struct timespec		 ts;
	char			 msg[128], err[512];
	int			 i, n;

	if (p.stopping)
		return;
	if (p.reloading)
		log_warnx("reload: generation %u not yet in force everywhere; "
		    "reloading again", old->gen);
	log_info("reload: reading %s", p.opts->conffile);
	if ((conf = parse_config(p.opts->conffile, 0)) == NULL) {
		log_warnx("reload: %s has errors; keeping generation %u",
		    p.opts->conffile, old->gen);
		return;
	}
	parent_conf_prepare(conf);
	if (resolv_conf(conf, err, sizeof(err)) == -1) {
		log_warnx("reload: %s; keeping generation %u", err, old->gen);
		conf_free(conf);
		return;
	}
	if (strcmp(conf->user, old->user) != 0 ||
	    strcmp(conf->chroot, old->chroot) != 0) {
		log_warnx("reload: user and chroot changes take a restart; "
		    "keeping %s and %s", old->user, old->chroot);
		strlcpy(conf->user, old->user, sizeof(conf->user));
		strlcpy(conf->chroot, old->chroot, sizeof(conf->chroot));
	}
	if (parent_listen(conf, old) == -1 || pctl_reload(conf) == -1) {
		parent_unlisten(conf, old);
		conf_free(conf);
		log_warnx("reload: cannot listen; keeping generation %u",
		    old->gen);
		return;
	}

	clock_gettime(CLOCK_MONOTONIC, &ts);
	snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu",
	    (unsigned long long)ts.tv_sec * 1000000ULL +
	    (unsigned long long)ts.tv_nsec / 1000);
	ps_notify(msg);
	p.reloading = 1;
	conf->gen = old->gen + 1;
	p.conf = conf;
	conf_free(old);		/* closes the sockets not carried over */

	/*
	 * Workers: more are started, surplus ones drain and leave.  Those
	 * draining get the new generation too, after the shutdown (so they
	 * accept nothing with it): their tunnels are decided again.
	 */
	n = conf_workers(conf);
	for (i = n; i < p.nworkers; i++) {
		p.workers[i].retiring = 1;
		if (p.workers[i].chan != NULL)
			ps_chan_compose(p.workers[i].chan, IMSG_SHUTDOWN, 0,
			    -1, NULL, 0);
	}
	for (i = n; i < EGRESSD_MAXWORKERS; i++)
		if (p.workers[i].retiring && p.workers[i].chan != NULL)
			parent_send_conf(&p.workers[i]);
	for (i = 0; i < n && i < p.nworkers; i++)
		if (p.workers[i].chan != NULL)
			parent_send_conf(&p.workers[i]);
	for (i = p.nworkers; i < n; i++) {
		p.workers[i].retiring = 0;
		if (p.workers[i].pid == 0)
			parent_spawn(&p.workers[i]);
	}
	p.nworkers = n;
	if (p.helper.chan != NULL)
		parent_send_conf(&p.helper);
	parent_check_ready();
}

static void
parent_sighup(int sig, short ev, void *arg)
{
	uint32_t	gen = p.conf->gen;

	if (p.stopping)
		return;
	parent_reload();
	status_parent_reload(p.conf->gen != gen, p.conf->gen, p.nworkers, 0);
}

/*
 * egressctl reload, forwarded by the worker that took the request: the
 * same reload as SIGHUP, one a second at most, answered to that worker
 * with the generation loaded.  Only workers serve the control socket.
 */
static void
parent_dispatch_ctl_reload(struct ps_chan *ch, struct ps_msg *m)
{
	struct child		*c = ch->arg;
	struct msg_ctl_result	 r;
	uint32_t		 gen = p.conf->gen;

	if (c->role != ROLE_WORKER) {
		ps_chan_fail(ch, "reload request from the helper");
		return;
	}
	memset(&r, 0, sizeof(r));
	if (p.stopping)
		r.status = CTL_RELOAD_STOPPING;
	else if (!pctl_reload_allowed()) {
		log_warnx("reload asked by egressctl (worker %d): refused, "
		    "less than a second after the last one", c->instance);
		r.status = CTL_RELOAD_BUSY;
	} else {
		log_info("reload asked by egressctl (worker %d)",
		    c->instance);
		parent_sighup(SIGHUP, 0, NULL);
		r.status = p.conf->gen != gen ? CTL_RELOAD_OK :
		    CTL_RELOAD_FAILED;
	}
	r.gen = p.conf->gen;
	ps_chan_compose(ch, IMSG_RELOAD_RESULT, m->hdr.peerid, -1, &r,
	    sizeof(r));
}

/* egressctl log verbose|brief: the parent's level, then every child's. */
static void
parent_dispatch_ctl_verbose(struct ps_chan *ch, struct ps_msg *m)
{
	struct child	*c = ch->arg;
	int32_t		 v;
	int		 i, level;

	memcpy(&v, m->data, sizeof(v));
	if (c->role != ROLE_WORKER || (v != 0 && v != 1)) {
		ps_chan_fail(ch, "bad log verbosity request");
		return;
	}
	level = v;
	log_info("log %s, asked by egressctl (worker %d)",
	    level ? "verbose" : "brief", c->instance);
	log_setverbose(level);
	status_parent_verbose(level);
	if (p.helper.chan != NULL)
		ps_chan_compose(p.helper.chan, IMSG_VERBOSE, 0, -1, &level,
		    sizeof(level));
	for (i = 0; i < EGRESSD_MAXWORKERS; i++)
		if (p.workers[i].chan != NULL)
			ps_chan_compose(p.workers[i].chan, IMSG_VERBOSE, 0,
			    -1, &level, sizeof(level));
}

static void
parent_stop_helper(void)
{
	struct timeval	tv = { HELPER_GRACE, 0 };

	if (p.helper.pid == 0)
		return;
	if (p.helper.chan != NULL)
		ps_chan_compose(p.helper.chan, IMSG_SHUTDOWN, 0, -1, NULL, 0);
	evtimer_del(p.drain_ev);
	evtimer_add(p.drain_ev, &tv);
}

/* Drain time is over: whoever is left is stopped by force. */
static void
parent_drain_cb(int fd, short ev, void *arg)
{
	int	i;

	for (i = 0; i < EGRESSD_MAXWORKERS; i++)
		if (p.workers[i].pid > 0) {
			log_warnx("worker %d: drain timeout, killing", i);
			kill(p.workers[i].pid, SIGKILL);
		}
	if (parent_workers_alive() == 0 && p.helper.pid > 0)
		kill(p.helper.pid, SIGKILL);
}

static void
parent_sigterm(int sig, short ev, void *arg)
{
	struct listener	*l;
	struct timeval	 tv;
	int		 i;

	if (p.stopping)
		return;
	p.stopping = 1;
	ps_notify("STOPPING=1");
	log_info("stopping on signal %d: draining for up to %d s", sig,
	    p.conf->drain_timeout);

	/* New connections are refused from now on. */
	TAILQ_FOREACH(l, &p.conf->listeners, entry)
		for (i = 0; i < l->nfds; i++)
			if (l->fds[i] != -1) {
				close(l->fds[i]);
				l->fds[i] = -1;
			}
	pctl_close();
	for (i = 0; i < EGRESSD_MAXWORKERS; i++)
		if (p.workers[i].chan != NULL)
			ps_chan_compose(p.workers[i].chan, IMSG_SHUTDOWN, 0,
			    -1, NULL, 0);
	/* Workers cut and record what is left themselves, then this. */
	tv.tv_sec = p.conf->drain_timeout + DRAIN_GRACE;
	tv.tv_usec = 0;
	evtimer_add(p.drain_ev, &tv);
	if (parent_workers_alive() == 0)
		parent_stop_helper();
	parent_sigchld(SIGCHLD, 0, NULL);
}

/* ---- main -------------------------------------------------------------- */

/*
 * The file children are executed from: the one this process was started
 * from, open before anything else happens.  Test builds take another
 * from EGRESSD_REGRESS_CHILD_EXE, to prove that a child of another build
 * refuses to run.
 */
static int
parent_open_self(void)
{
	const char	*path = NULL;

#ifdef EGRESSD_REGRESS
	if ((path = getenv("EGRESSD_REGRESS_CHILD_EXE")) != NULL &&
	    *path == '\0')
		path = NULL;
#endif
	return ps_self_open(path);
}

static void
parent_check(struct egressd_opts *opts)
{
	struct egressd_conf	*conf;

	if ((conf = parse_config(opts->conffile, 0)) == NULL)
		exit(1);
	if (opts->verbose)
		print_config(stdout, conf);
	printf("configuration OK\n");
	conf_free(conf);
	exit(0);
}

__attribute__((noreturn)) void
parent_main(struct egressd_opts *opts)
{
	struct event	*ev_hup, *ev_term, *ev_int, *ev_chld;
	char		 err[512];
	int		 i;

	p.opts = opts;
	log_init(1, LOG_DAEMON);	/* stderr until the config is read */
	log_setverbose(opts->verbose);
	if (opts->noaction)
		parent_check(opts);

	if (geteuid() != 0)
		fatalx("must be started as root");
	if (ps_self_path(p.self, sizeof(p.self)) == -1)
		fatal("cannot find my own binary");
	if ((p.exefd = parent_open_self()) == -1)
		fatal("cannot open my own binary");
	if ((p.conf = parse_config(opts->conffile, 0)) == NULL)
		fatalx("%s has errors", opts->conffile);
	parent_conf_prepare(p.conf);
	log_init(opts->debug, p.conf->log_facility);
	p.conf->gen = 1;
	if (resolv_conf(p.conf, err, sizeof(err)) == -1)
		fatalx("%s: no DNS server to ask, cannot start (add a "
		    "nameserver line there or name servers in %s)", err,
		    opts->conffile);

	if (ps_lookup_user(p.conf->user, &p.uid, &p.gid, err,
	    sizeof(err)) == -1)
		fatalx("%s", err);
	if (ps_prepare_chroot(p.conf->chroot, err, sizeof(err)) == -1)
		fatalx("%s", err);
	ps_limits(0);
	if ((p.shmfd = ps_shm_create("egressd-limits", limits_shm_size())) ==
	    -1)
		fatal("shared memory");
	status_create();
	if (parent_listen(p.conf, NULL) == -1)
		fatalx("cannot listen on every address; exiting");
	/* Owning the control socket takes CAP_CHOWN: before the drop. */
	if (pctl_init(p.conf, err, sizeof(err)) == -1)
		fatalx("%s", err);

	if ((p.base = event_base_new()) == NULL)
		fatalx("event_base_new");
	signal(SIGPIPE, SIG_IGN);
	ev_hup = evsignal_new(p.base, SIGHUP, parent_sighup, NULL);
	ev_term = evsignal_new(p.base, SIGTERM, parent_sigterm, NULL);
	ev_int = evsignal_new(p.base, SIGINT, parent_sigterm, NULL);
	ev_chld = evsignal_new(p.base, SIGCHLD, parent_sigchld, NULL);
	p.drain_ev = evtimer_new(p.base, parent_drain_cb, NULL);
	if (ev_hup == NULL || ev_term == NULL || ev_int == NULL ||
	    ev_chld == NULL || p.drain_ev == NULL ||
	    evsignal_add(ev_hup, NULL) == -1 ||
	    evsignal_add(ev_term, NULL) == -1 ||
	    evsignal_add(ev_int, NULL) == -1 ||
	    evsignal_add(ev_chld, NULL) == -1)
		fatalx("signal events");

	ps_keep_caps(parent_caps, nitems(parent_caps));

	p.helper.role = ROLE_HELPER;
	p.nworkers = conf_workers(p.conf);
	status_parent_reload(1, p.conf->gen, p.nworkers, 1);
	status_parent_verbose(log_getverbose());
	for (i = 0; i < EGRESSD_MAXWORKERS; i++) {
		p.workers[i].role = ROLE_WORKER;
		p.workers[i].instance = i;
	}
	parent_spawn(&p.helper);
	for (i = 0; i < p.nworkers; i++)
		parent_spawn(&p.workers[i]);
	log_info("%s: starting %d workers and the helper (pid %d)",
	    egd_build(), p.nworkers, (int)getpid());
	if (!egd_build_known())
		log_warnx("this binary has no build-id (linked with "
		    "--build-id=none?): children of another build of the "
		    "same version cannot be told apart");

	event_base_dispatch(p.base);
	fatalx("event loop ended");
}
