/*
 * The shared status segment: the layout that status.c writes and that
 * worker_control.c reads to answer GET /metrics and egressctl.  One
 * sealed memfd, created by the parent, mapped by the parent, the helper
 * and every worker before their sandbox.  Each section has one writer:
 *
 *	parent	  st_parent: generation, reloads, children's pids, restarts
 *	helper	  st_helper: DNS counters
 *	worker i  workers[i]: its request counters and gauges
 *	workers	  svc[]: service names, claimed by compare-and-swap
 *
 * Every process that maps it can write all of it (a mapping cannot be
 * writable in parts), so a reader treats every value as a claim: numbers
 * are only printed, a name is copied with a bound and escaped, nothing
 * read here ever indexes an array or decides anything.  The parent never
 * reads it at all.
 */
#ifndef STATUS_H
#define STATUS_H

#include <stdatomic.h>
#include <stdint.h>

#include "egressd.h"

#define ST_MAGIC	0x65677331	/* "egs1" */
#define ST_NSVC		256		/* service names kept by name */
#define ST_OTHER	ST_NSVC		/* index: names beyond those */
#define ST_NOSVC	(ST_NSVC + 1)	/* index: no service decided */
#define ST_NSVCIDX	(ST_NSVC + 2)
#define ST_NDEC		3		/* enum audit_decision */
#define ST_NCLASS	6		/* no status, 1xx .. 5xx */
#define ST_NREASON	48		/* >= AR_MAX, checked in status.c */
#define ST_NBUCKET	14		/* latency buckets, +Inf last */
#define ST_NGEN		8		/* generations a worker shows */

/* Upper bounds of the latency buckets, in ms; the last is +Inf. */
#define ST_BUCKETS_MS	{ 5, 10, 25, 50, 100, 250, 500, 1000, 2500, \
			  5000, 10000, 30000, 60000, 0 }

struct st_child {
	_Atomic int32_t		 pid;		/* 0: not running */
	_Atomic int64_t		 started;	/* time(3) of the last spawn */
	_Atomic uint32_t	 restarts;	/* unexpected deaths */
};

/* Written by the parent only. */
struct st_parent {
	_Atomic int32_t		 pid;
	_Atomic int64_t		 started;	/* time(3) */
	_Atomic uint32_t	 gen;		/* configuration generation */
	_Atomic uint32_t	 reload_ok;	/* last reload: 1 success */
	_Atomic int64_t		 reload_time;	/* time(3) of the last */
	_Atomic uint32_t	 reloads;	/* attempts */
	_Atomic uint32_t	 reload_failures;
	_Atomic uint32_t	 nworkers;	/* configured, running or not */
	_Atomic int32_t		 verbose;
	struct st_child		 helper;
	struct st_child		 workers[EGRESSD_MAXWORKERS];
};

/* Written by the helper only: helper_dns.c's counters. */
struct st_helper {
	_Atomic uint64_t	 queries;
	_Atomic uint64_t	 hits;
	_Atomic uint64_t	 misses;
	_Atomic uint64_t	 failures;
	_Atomic uint64_t	 entries;	/* names cached now (gauge) */
	_Atomic uint64_t	 tries[3];	/* sent over UDP, TCP, TLS */
	_Atomic uint64_t	 ignored;	/* answers to no question */
	_Atomic uint64_t	 records_ignored; /* owned by other names */
	_Atomic uint64_t	 key_ops;	/* private-key operations done */
	_Atomic uint64_t	 key_refused;	/* and refused or failed */
};

/*
 * A service name: key is a hash of it (0: free), claimed with
 * compare-and-swap, then the name is written and ready set.  Names are
 * never given back, so a counter index means the same name for as long
 * as the daemon runs, across reloads.
 */
struct st_svc {
	_Atomic uint64_t	 key;
	_Atomic uint32_t	 ready;
	char			 name[EGD_NAME_MAX];
};

/* Why an admin connection was closed before it was done. */
#define ST_AC_DEADLINE	0	/* no request within ADMIN_DEADLINE_MS */
#define ST_AC_IDLE	1	/* no request yet, closed to make room */
#define ST_AC_ANSWERING	2	/* being answered, closed to make room */
#define ST_AC_BUSY	3	/* a new one turned away: every place busy */
#define ST_NADMINCLOSE	4
#define ST_AC_NAMES	{ "deadline", "idle", "answering", "busy" }

/*
 * The client connections a worker holds under one configuration
 * generation (gen 0: a free cell), and how many of them are tunnels.
 */
struct st_gen {
	_Atomic uint32_t	 gen;
	_Atomic uint32_t	 conns;
	_Atomic uint32_t	 tunnels;
};

/* The same, as a worker hands it to status_gens(). */
struct st_gen_count {
	uint32_t		 gen, conns, tunnels;
};

/*
 * Written by worker i only.  Counters live as long as the daemon (a
 * respawned worker adds to its predecessor's, so that sums never go
 * down); gauges are zeroed by the respawn, as limits.c does.
 */
struct st_worker {
	_Atomic uint64_t	 reqs[ST_NSVCIDX][ST_NDEC][ST_NCLASS];
	_Atomic uint64_t	 denials[ST_NREASON];
	_Atomic uint64_t	 bytes_in;	/* from clients */
	_Atomic uint64_t	 bytes_out;	/* to clients */
	_Atomic uint64_t	 hist[ST_NBUCKET];	/* not cumulative */
	_Atomic uint64_t	 dur_ms;	/* sum of total_ms */
	_Atomic uint64_t	 dur_count;
	_Atomic uint64_t	 audit_dropped;
	_Atomic uint64_t	 admin_refused;	/* control peers turned away */
	_Atomic uint64_t	 revoked;	/* tunnels a reload closed */
	/* admin clients closed: [ADMIN_METRICS, ADMIN_CONTROL][ST_AC_*] */
	_Atomic uint64_t	 admin_closed[2][ST_NADMINCLOSE];
	/* gauges */
	_Atomic uint32_t	 pool_idle;
	_Atomic uint32_t	 gen;		/* generation in force */
	struct st_gen		 gens[ST_NGEN];	/* newest first */
	_Atomic uint32_t	 gen_more_conns;	/* of generations */
	_Atomic uint32_t	 gen_more_tunnels;	/* beyond gens[] */
};

struct status_shm {
	uint32_t		 magic;
	struct st_parent	 parent;
	struct st_helper	 helper;
	struct st_svc		 svc[ST_NSVC];
	struct st_worker	 workers[EGRESSD_MAXWORKERS];
};

/* The segment as mapped, for readers; NULL before it is. */
extern const struct status_shm	*status_shm;

#endif /* STATUS_H */
