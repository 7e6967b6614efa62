/*
 * The shared status segment (layout and trust rules in status.h): the
 * parent creates it before any child exists and records generations,
 * reloads and its children; the helper publishes its DNS counters; each
 * worker counts what its audit records say (one call per record, from
 * http_audit() and worker_refuse()).  Runs in all three roles; each
 * writes only its own section.  worker_control.c reads it to answer
 * GET /metrics and egressctl.
 */
#include "config.h"

#include <sys/types.h>

#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"
#include "status.h"

_Static_assert(AR_MAX <= ST_NREASON, "ST_NREASON too small for AR_MAX");
_Static_assert(ADEC_REPORT < ST_NDEC, "ST_NDEC too small");

#define RELAXED		memory_order_relaxed
#define ADD(x, n)	atomic_fetch_add_explicit(&(x), (n), RELAXED)
#define SET(x, v)	atomic_store_explicit(&(x), (v), RELAXED)

const struct status_shm	*status_shm;
static struct status_shm *st;
static int		 st_fd = -1;	/* parent: the memfd, for children */
static int		 st_me = -1;	/* worker: its instance */
static uint64_t		 st_dnsbase[9];	/* earlier helpers' counts */
static uint64_t		 st_keybase[2];
static uint64_t		 st_dropbase;	/* worker: its predecessors' drops */

size_t
status_shm_size(void)
{
	return sizeof(struct status_shm);
}

/* ---- parent ------------------------------------------------------------ */

/* Before any child exists: the segment, zeroed by the kernel. */
void
status_create(void)
{
	void	*p;
	int	 fd;

	if ((fd = ps_shm_create("egressd-status", status_shm_size())) == -1 ||
	    (st_fd = dup(fd)) == -1 ||
	    (p = ps_shm_map(fd, status_shm_size())) == NULL)
		fatal("shared status");
	st = p;
	status_shm = p;
	st->magic = ST_MAGIC;
	SET(st->parent.pid, (int32_t)getpid());
	SET(st->parent.started, (int64_t)time(NULL));
}

/* A child's copy of the segment, sent before its configuration. */
void
status_send(struct ps_chan *c)
{
	uint64_t	size = status_shm_size();
	int		fd;

	if (st_fd == -1)
		return;
	if ((fd = dup(st_fd)) == -1)
		fatal("dup");
	ps_chan_compose(c, IMSG_STATUS, 0, fd, &size, sizeof(size));
}

/* A generation was loaded (ok), or a reload failed (!ok). */
void
status_parent_reload(int ok, uint32_t gen, int nworkers, int first)
{
	if (st == NULL)
		return;
	SET(st->parent.gen, gen);
	SET(st->parent.reload_ok, ok ? 1 : 0);
	SET(st->parent.reload_time, (int64_t)time(NULL));
	SET(st->parent.nworkers, (uint32_t)nworkers);
	if (!first) {
		ADD(st->parent.reloads, 1);
		if (!ok)
			ADD(st->parent.reload_failures, 1);
	}
}

static struct st_child *
status_child(int role, int instance)
{
	if (st == NULL)
		return NULL;
	if (role == ROLE_HELPER)
		return &st->parent.helper;
	if (instance < 0 || instance >= EGRESSD_MAXWORKERS)
		return NULL;
	return &st->parent.workers[instance];
}

/* Spawned with pid, or gone (0); unexpected: it will be restarted. */
void
status_parent_child(int role, int instance, pid_t pid, int unexpected)
{
	struct st_child	*c;

	if ((c = status_child(role, instance)) == NULL)
		return;
	SET(c->pid, (int32_t)pid);
	if (pid != 0)
		SET(c->started, (int64_t)time(NULL));
	if (unexpected)
		ADD(c->restarts, 1);
}

void
status_parent_verbose(int v)
{
	if (st != NULL)
		SET(st->parent.verbose, v);
}

/* ---- children ---------------------------------------------------------- */

/*
 * IMSG_STATUS in a worker or the helper, before the drop.  A worker's
 * gauges belonged to its predecessor's connections: they start at 0.
 * The helper goes on from its predecessor's counters.
 */
void
status_recv(struct ps_msg *m, int role, int instance)
{
	uint64_t	 size;
	void		*p;

	memcpy(&size, m->data, sizeof(size));
	if (size != status_shm_size())
		fatalx("status segment of %llu bytes, want %zu",
		    (unsigned long long)size, status_shm_size());
	if ((p = ps_shm_map(m->fd, status_shm_size())) == NULL)
		fatal("status segment");
	m->fd = -1;
	st = p;
	status_shm = p;
	if (role == ROLE_WORKER && instance >= 0 &&
	    instance < EGRESSD_MAXWORKERS) {
		st_me = instance;
		st_dropbase = atomic_load(&st->workers[st_me].audit_dropped);
		SET(st->workers[st_me].pool_idle, 0);
		SET(st->workers[st_me].gen, 0);
		status_gens(NULL, 0, 0, 0);
	} else if (role == ROLE_HELPER) {
		st_dnsbase[0] = atomic_load(&st->helper.queries);
		st_dnsbase[1] = atomic_load(&st->helper.hits);
		st_dnsbase[2] = atomic_load(&st->helper.misses);
		st_dnsbase[3] = atomic_load(&st->helper.failures);
		st_dnsbase[4] = atomic_load(&st->helper.tries[0]);
		st_dnsbase[5] = atomic_load(&st->helper.tries[1]);
		st_dnsbase[6] = atomic_load(&st->helper.tries[2]);
		st_dnsbase[7] = atomic_load(&st->helper.ignored);
		st_dnsbase[8] = atomic_load(&st->helper.records_ignored);
		SET(st->helper.entries, 0);
		st_keybase[0] = atomic_load(&st->helper.key_ops);
		st_keybase[1] = atomic_load(&st->helper.key_refused);
	}
}

/* The helper's row for IMSG_STATUS. */
void
status_dispatch_helper(struct ps_chan *c, struct ps_msg *m)
{
	status_recv(m, ROLE_HELPER, 0);
}

/* ---- helper ------------------------------------------------------------ */

void
status_dns(const struct hdns_counters *n)
{
	if (st == NULL)
		return;
	SET(st->helper.queries, st_dnsbase[0] + n->queries);
	SET(st->helper.hits, st_dnsbase[1] + n->hits);
	SET(st->helper.misses, st_dnsbase[2] + n->misses);
	SET(st->helper.failures, st_dnsbase[3] + n->failures);
	SET(st->helper.entries, n->entries);
	SET(st->helper.tries[0], st_dnsbase[4] + n->udp);
	SET(st->helper.tries[1], st_dnsbase[5] + n->tcp);
	SET(st->helper.tries[2], st_dnsbase[6] + n->tls);
	SET(st->helper.ignored, st_dnsbase[7] + n->ignored);
	SET(st->helper.records_ignored, st_dnsbase[8] + n->records_ignored);
}

void
status_keys(uint64_t ops, uint64_t refused)
{
	if (st == NULL)
		return;
	SET(st->helper.key_ops, st_keybase[0] + ops);
	SET(st->helper.key_refused, st_keybase[1] + refused);
}

/* ---- workers ----------------------------------------------------------- */

static uint64_t
name_key(const char *s)
{
	uint64_t	h = 1469598103934665603ULL;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h ? h : 1;
}

/*
 * The index of a service name, claimed if claim is set and it has none;
 * with !claim, -1 for a name never counted.  ST_OTHER once the table is
 * full.  A slot being written by another worker is waited for a little;
 * one whose writer died half-way matches by its hash alone.
 */
static int
status_svc(const char *name, int claim)
{
	struct st_svc	*s;
	uint64_t	 key = name_key(name), cur;
	int		 i, spin;

	if (strlen(name) >= EGD_NAME_MAX)
		return claim ? ST_OTHER : -1;
	for (i = 0; i < ST_NSVC; i++) {
		s = &st->svc[(key + (uint64_t)i) % ST_NSVC];
		cur = atomic_load(&s->key);
		if (cur == 0) {
			if (!claim)
				return -1;
			if (atomic_compare_exchange_strong(&s->key, &cur,
			    key)) {
				memcpy(s->name, name, strlen(name) + 1);
				atomic_store_explicit(&s->ready, 1,
				    memory_order_release);
				return (int)(s - st->svc);
			}
		}
		if (cur != key)
			continue;
		for (spin = 0; spin < 10000 && !atomic_load_explicit(
		    &s->ready, memory_order_acquire); spin++)
			;
		if (!atomic_load(&s->ready) ||
		    strncmp(s->name, name, EGD_NAME_MAX) == 0)
			return (int)(s - st->svc);
	}
	return claim ? ST_OTHER : -1;
}

/* For readers: the index counting name, or -1. */
int
status_svc_find(const char *name)
{
	return st == NULL ? -1 : status_svc(name, 0);
}

static int
code_class(int status)
{
	if (status < 100 || status > 599)
		return 0;
	return status / 100;
}

/* One audit record: what it says, counted. */
void
status_count(const struct audit_rec *r)
{
	static const int	 bounds[ST_NBUCKET] = ST_BUCKETS_MS;
	struct st_worker	*w;
	int			 svc, dec, b, ms;

	if (st == NULL || st_me == -1)
		return;
	w = &st->workers[st_me];
	svc = r->service != NULL && r->service[0] != '\0' ?
	    status_svc(r->service, 1) : ST_NOSVC;
	dec = r->decision >= 0 && r->decision < ST_NDEC ? r->decision : 1;
	ADD(w->reqs[svc][dec][code_class(r->status)], 1);
	if (r->decision == ADEC_DENY && r->reason >= 0 &&
	    r->reason < ST_NREASON)
		ADD(w->denials[r->reason], 1);
	if (r->decision == ADEC_DENY && r->reason == AR_REVOKED)
		ADD(w->revoked, 1);
	ADD(w->bytes_in, r->bytes_in);
	ADD(w->bytes_out, r->bytes_out);
	ms = r->total_ms > 0 ? r->total_ms : 0;
	for (b = 0; b < ST_NBUCKET - 1 && ms > bounds[b]; b++)
		;
	ADD(w->hist[b], 1);
	ADD(w->dur_ms, (uint64_t)ms);
	ADD(w->dur_count, 1);
}

void
status_pool_idle(int n)
{
	if (st != NULL && st_me != -1)
		SET(st->workers[st_me].pool_idle, n > 0 ? (uint32_t)n : 0);
}

/*
 * Audit records the sinks could not take: waudit_dropped(), this
 * process's count, on top of what the worker's predecessors dropped.
 */
void
status_audit_dropped(uint64_t n)
{
	if (st != NULL && st_me != -1)
		SET(st->workers[st_me].audit_dropped, st_dropbase + n);
}

void
status_admin_refused(void)
{
	if (st != NULL && st_me != -1)
		ADD(st->workers[st_me].admin_refused, 1);
}

/* An admin client closed before its answer: kind 0 metrics, 1 control. */
void
status_admin_closed(int kind, int why)
{
	if (st != NULL && st_me != -1 && kind >= 0 && kind < 2 && why >= 0 &&
	    why < ST_NADMINCLOSE)
		ADD(st->workers[st_me].admin_closed[kind][why], 1);
}

void
status_worker_gen(uint32_t gen)
{
	if (st != NULL && st_me != -1)
		SET(st->workers[st_me].gen, gen);
}

/*
 * The worker's connections by generation: n cells (newest first, at
 * most ST_NGEN; the rest are cleared) and the sums of the generations
 * beyond them.
 */
void
status_gens(const struct st_gen_count *g, int n, uint32_t more_conns,
    uint32_t more_tunnels)
{
	struct st_worker	*w;
	int			 i;

	if (st == NULL || st_me == -1)
		return;
	w = &st->workers[st_me];
	for (i = 0; i < ST_NGEN; i++) {
		SET(w->gens[i].gen, i < n ? g[i].gen : 0);
		SET(w->gens[i].conns, i < n ? g[i].conns : 0);
		SET(w->gens[i].tunnels, i < n ? g[i].tunnels : 0);
	}
	SET(w->gen_more_conns, more_conns);
	SET(w->gen_more_tunnels, more_tunnels);
}
