/*
 * regress/bench/scale-decide: what scale-run cannot see from outside a
 * running egressd, measured in one process on the same code: the parse
 * (parse.y, as the parent does it), the generation sent over a socketpair
 * as the parent sends it to a worker (conf_wire.c) and rebuilt as a worker
 * rebuilds it, the steps of that rebuild (what one read of the channel
 * costs the worker's event loop: median, 99th percentile, longest; in CPU
 * time of the thread, which a loaded machine disturbs less than the
 * clock), the memory the rebuilt
 * generation holds, the time it takes to free it, and decisions per
 * second (policy.c) for each host given.  Not part of make check; built
 * by `make regress/bench/scale-decide` (scale-run does).
 *
 * Usage: scale-decide [-p PORT] [-t SECONDS] CONF HOST...
 * Each HOST is asked for as "GET /" on gateway 1, port PORT (80), for
 * SECONDS (0.5) of decisions.  Output: lines of "key value".
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <err.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "egressd.h"
#include "audit.h"
#include "policy.h"

static double
now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double
cpu_now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
cmp_double(const void *a, const void *b)
{
	double	x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static size_t
heap_used(void)
{
	struct mallinfo2	mi = mallinfo2();

	return mi.uordblks + mi.hblkhd;
}

/* The parent's side: the generation as a worker gets it, then END. */
static void
send_side(int fd, struct egressd_conf *conf)
{
	struct event_base	*base;
	struct ps_chan		*c;
	uint32_t		 gen = conf->gen;

	if ((base = event_base_new()) == NULL ||
	    (c = ps_chan_new(base, fd, "worker", NULL, 0, NULL, NULL)) ==
	    NULL)
		errx(1, "channel");
	conf_send(c, conf, ROLE_WORKER);
	ps_chan_compose(c, IMSG_CONF_END, 0, -1, &gen, sizeof(gen));
	if (ps_flush_blocking(&c->buf) == -1)
		err(1, "flush");
	_exit(0);
}

/*
 * The worker's side: each read dispatched at once, as its loop does; the
 * CPU time of each such step into steps[], sorted.
 */
static struct egressd_conf *
recv_side(int fd, double *total, double **steps, size_t *nsteps,
    size_t *nmsg)
{
	struct egressd_conf	*conf;
	struct ps_buf		 b;
	struct ps_msg		 m;
	const char		*why;
	double			 t0, t;
	size_t			 max = 0;
	ssize_t			 n;
	int			 done = 0, rv;

	if (ps_buf_init(&b, fd) == -1)
		err(1, "ps_buf_init");
	conf = conf_new();
	*total = 0;
	*steps = NULL;
	*nsteps = *nmsg = 0;
	while (!done) {
		if ((n = ps_read(&b)) == -1)
			err(1, "read");
		if (n == 0)
			errx(1, "channel closed early");
		t0 = cpu_now();
		while (!done && (rv = ps_get(&b, &m)) == 1) {
			(*nmsg)++;
			if (m.hdr.type == IMSG_CONF_END) {
				if (conf_recv_end(conf, &why) == -1)
					errx(1, "end: %s", why);
				done = 1;
			} else if (conf_recv(conf, &m, &why) == -1)
				errx(1, "%s (type %u)", why, m.hdr.type);
			ps_msg_close(&m);
		}
		t = cpu_now() - t0;
		*total += t;
		if (*nsteps == max) {
			max = max ? max * 2 : 1024;
			if ((*steps = reallocarray(*steps, max,
			    sizeof(**steps))) == NULL)
				err(1, NULL);
		}
		(*steps)[(*nsteps)++] = t;
	}
	ps_buf_clear(&b);
	qsort(*steps, *nsteps, sizeof(**steps), cmp_double);
	return conf;
}

static const char *
outcome(const struct policy_dec *d, int rv, char *buf, size_t len)
{
	if (rv == -1)
		snprintf(buf, len, "deny:%s", audit_reason_name(d->reason));
	else
		snprintf(buf, len, "allow:%s", d->svc->name);
	return buf;
}

int
main(int argc, char *argv[])
{
	struct egressd_conf	*pconf, *wconf;
	struct policy_req	 q;
	struct policy_dec	 d;
	struct egd_addr		 src, lit;
	double			 t0, t, secs = 0.5, build, *steps;
	size_t			 before, nmsg, hosts, nsteps;
	char			 buf[300];
	const char		*errstr;
	long			 n;
	pid_t			 pid;
	int			 sp[2], ch, i, rv = 0, status;
	uint16_t		 port = 80;

	while ((ch = getopt(argc, argv, "p:t:")) != -1) {
		switch (ch) {
		case 'p':
			port = (uint16_t)strtonum(optarg, 1, 65535, &errstr);
			if (errstr != NULL)
				errx(1, "port %s: %s", optarg, errstr);
			break;
		case 't':
			secs = strtod(optarg, NULL);
			if (secs <= 0 || secs > 60)
				errx(1, "seconds: 0 to 60");
			break;
		default:
			goto usage;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		goto usage;
	log_init(1, LOG_DAEMON);

	t0 = now();
	if ((pconf = parse_config(argv[0], 0)) == NULL)
		errx(1, "%s: errors", argv[0]);
	printf("parse_s %.3f\n", now() - t0);
	audit_conf_default(pconf, 1);	/* as the parent does */
	hosts = pconf->svchosts.nkeys;
	printf("services %zu\nservice_hosts %zu\n", pconf->svcv.n, hosts);

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sp) == -1)
		err(1, "socketpair");
	if ((pid = fork()) == -1)
		err(1, "fork");
	if (pid == 0) {
		close(sp[1]);
		send_side(sp[0], pconf);
	}
	close(sp[0]);
	before = heap_used();
	t0 = now();
	wconf = recv_side(sp[1], &build, &steps, &nsteps, &nmsg);
	t = now() - t0;
	if (waitpid(pid, &status, 0) == -1 || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0)
		errx(1, "sender failed");
	printf("messages %zu\nreceive_s %.3f\nbuild_cpu_s %.3f\nsteps %zu\n"
	    "step_p50_ms %.2f\nstep_p99_ms %.2f\nstep_max_ms %.2f\n", nmsg, t,
	    build, nsteps, steps[nsteps / 2] * 1000,
	    steps[nsteps * 99 / 100] * 1000, steps[nsteps - 1] * 1000);
	free(steps);
	printf("worker_bytes %zu\nbytes_per_host %.0f\n", heap_used() - before,
	    hosts ? (double)(heap_used() - before) / (double)hosts : 0.0);

	egd_addr_parse("127.0.0.1", &src);
	for (i = 1; i < argc; i++) {
		memset(&q, 0, sizeof(q));
		q.gateway = 1;
		q.src = &src;
		q.host = argv[i];
		q.port = port;
		q.literal = egd_addr_parse(argv[i], &lit) == 0;
		q.method = "GET";
		q.path = "/";
		q.pathlen = 1;
		rv = policy_decide(wconf, &q, &d, 0);
		t0 = now();
		n = 0;
		do {
			int	j;

			for (j = 0; j < 1000; j++)
				(void)policy_decide(wconf, &q, &d, (uint32_t)j);
			n += 1000;
		} while ((t = now() - t0) < secs);
		printf("decide %s %.0f %s\n", argv[i], (double)n / t,
		    outcome(&d, rv, buf, sizeof(buf)));
	}

	t0 = cpu_now();
	conf_free(wconf);
	printf("free_cpu_ms %.2f\n", (cpu_now() - t0) * 1000);
	conf_free(pconf);
	return 0;

usage:
	fprintf(stderr, "usage: scale-decide [-p port] [-t seconds] conf "
	    "host ...\n");
	return 2;
}
