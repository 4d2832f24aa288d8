/* bench/queues: the raw-queue experiment of seed 001, objpool against the freelist baseline, Concurrency
 * Kit (ck_stack, ck_ring), liburcu (lfstack + call_rcu) and a Vyukov bounded MPMC ring. */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <ck_ring.h>
#include <ck_stack.h>
#include <urcu.h>
#include <urcu/lfstack.h>

#include "objpool/freelist.h"
#include "objpool/objpool.h"

/*
 * Each thread loops: pop `bulk` objects (each pop that returns NULL is a miss), push back the ones it
 * got. A "pair" is one successful pop and its push. Threads are pinned one per CPU while there are no
 * more threads than CPUs, and left to the scheduler past that (then preemption in the middle of an
 * operation happens all the time, which is the point of the last columns). Every cell is the median of
 * `runs` runs of `duration` each.
 */

#define MAX_THREADS 64
#define MAX_BULK    64

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* ---- the queues under test: create with nr objects all inside, pop/push object pointers ---- */

struct queue_ops {
	const char *name;
	const char *what;
	void *(*create)(uint32_t nr);
	void (*destroy)(void *q);
	void *(*pop)(void *q);
	void (*push)(void *q, void *obj);
	void (*thread_enter)(void);
	void (*thread_exit)(void);
	void (*quiesce)(void *q);	/* after a run: wait until deferred pushes are done */
};

/* objpool */
static void *op_create(uint32_t nr)
{
	struct cw_objpool *p;
	return cw_objpool_init(&p, nr, 16, 0, NULL, NULL, 0) ? NULL : p;
}
static void op_destroy(void *q) { cw_objpool_fini(q); }
static void *op_pop(void *q) { return cw_objpool_pop(q); }
static void op_push(void *q, void *o) { cw_objpool_push(q, o); }

/* freelist */
static void *fl_create(uint32_t nr)
{
	struct cw_freelist *f;
	return cw_freelist_init(&f, nr, 16, NULL, NULL, 0) ? NULL : f;
}
static void fl_destroy(void *q) { cw_freelist_fini(q); }
static void *fl_pop(void *q) { return cw_freelist_pop(q); }
static void fl_push(void *q, void *o) { cw_freelist_push(q, o); }

/* ck_stack: Treiber stack, MPMC pop with a generation counter and a double-width CAS against ABA. */
struct ckst_obj {
	ck_stack_entry_t entry;
	char payload[16];
};
struct ckst {
	ck_stack_t stack __attribute__((aligned(64)));
	struct ckst_obj *objs;
};
static void *ckst_create(uint32_t nr)
{
	struct ckst *s = aligned_alloc(64, sizeof(*s));
	memset(s, 0, sizeof(*s));
	ck_stack_init(&s->stack);
	s->objs = calloc(nr, sizeof(*s->objs));
	for (uint32_t i = 0; i < nr; i++)
		ck_stack_push_mpmc(&s->stack, &s->objs[i].entry);
	return s;
}
static void ckst_destroy(void *q)
{
	struct ckst *s = q;
	free(s->objs);
	free(s);
}
static void *ckst_pop(void *q) { return ck_stack_pop_mpmc(&((struct ckst *)q)->stack); }
static void ckst_push(void *q, void *o) { ck_stack_push_mpmc(&((struct ckst *)q)->stack, o); }

/* ck_ring: bounded MPMC ring of pointers (holds size - 1). */
struct ckr {
	ck_ring_t ring __attribute__((aligned(64)));
	ck_ring_buffer_t *buf;
	char *objs;
};
static void *ckr_create(uint32_t nr)
{
	struct ckr *r = aligned_alloc(64, sizeof(*r));
	unsigned size = 2;
	while (size < nr + 1)
		size <<= 1;
	memset(r, 0, sizeof(*r));
	ck_ring_init(&r->ring, size);
	r->buf = calloc(size, sizeof(*r->buf));
	r->objs = calloc(nr, 16);
	for (uint32_t i = 0; i < nr; i++)
		ck_ring_enqueue_mpmc(&r->ring, r->buf, r->objs + 16 * i);
	return r;
}
static void ckr_destroy(void *q)
{
	struct ckr *r = q;
	free(r->buf);
	free(r->objs);
	free(r);
}
static void *ckr_pop(void *q)
{
	struct ckr *r = q;
	void *o;
	return ck_ring_dequeue_mpmc(&r->ring, r->buf, &o) ? o : NULL;
}
static void ckr_push(void *q, void *o)
{
	struct ckr *r = q;
	while (!ck_ring_enqueue_mpmc(&r->ring, r->buf, o))
		;	/* cannot be full: it holds every object */
}

/* liburcu lfstack: __cds_lfs_pop must run in an RCU read-side section, and a popped node may be pushed
 * back only after a grace period (else ABA): the push goes through call_rcu. */
struct urcu_obj {
	struct cds_lfs_node node;
	struct rcu_head rh;
	struct cds_lfs_stack *stack;
};
struct urcu_q {
	struct cds_lfs_stack stack __attribute__((aligned(64)));
	struct urcu_obj *objs;
};
static void *urcu_create(uint32_t nr)
{
	struct urcu_q *u = aligned_alloc(64, sizeof(*u));
	memset(u, 0, sizeof(*u));
	cds_lfs_init(&u->stack);
	u->objs = calloc(nr, sizeof(*u->objs));
	for (uint32_t i = 0; i < nr; i++) {
		cds_lfs_node_init(&u->objs[i].node);
		u->objs[i].stack = &u->stack;
		cds_lfs_push(&u->stack, &u->objs[i].node);
	}
	return u;
}
static void urcu_destroy(void *q)
{
	struct urcu_q *u = q;
	cds_lfs_destroy(&u->stack);
	free(u->objs);
	free(u);
}
static void *urcu_pop(void *q)
{
	struct cds_lfs_node *n;
	rcu_read_lock();
	n = __cds_lfs_pop(&((struct urcu_q *)q)->stack);
	rcu_read_unlock();
	return n;
}
static void urcu_reclaimed(struct rcu_head *rh)
{
	struct urcu_obj *o = caa_container_of(rh, struct urcu_obj, rh);
	cds_lfs_push(o->stack, &o->node);
}
static void urcu_push(void *q, void *o) { call_rcu(&((struct urcu_obj *)o)->rh, urcu_reclaimed); }
static void urcu_enter(void) { rcu_register_thread(); }
static void urcu_exit(void) { rcu_unregister_thread(); }
static void urcu_quiesce(void *q) { rcu_barrier(); }

/* Vyukov's bounded MPMC queue: a sequence number per cell; enqueue/dequeue claim a position with a CAS
 * on their cursor, then fill/empty the cell and publish it by its sequence. A thread stopped between
 * the two steps blocks that cell: the weakness the objpool ring avoids. */
struct vcell {
	uint64_t seq;
	void *data;
};
struct vyukov {
	uint64_t enq __attribute__((aligned(64)));
	uint64_t deq __attribute__((aligned(64)));
	struct vcell *cells __attribute__((aligned(64)));
	uint64_t mask;
	char *objs;
};
static bool vy_enqueue(struct vyukov *v, void *o)
{
	uint64_t pos = __atomic_load_n(&v->enq, __ATOMIC_RELAXED);
	for (;;) {
		struct vcell *c = &v->cells[pos & v->mask];
		uint64_t seq = __atomic_load_n(&c->seq, __ATOMIC_ACQUIRE);
		int64_t dif = (int64_t)(seq - pos);
		if (dif == 0) {
			if (__atomic_compare_exchange_n(&v->enq, &pos, pos + 1, true, __ATOMIC_RELAXED,
							__ATOMIC_RELAXED)) {
				c->data = o;
				__atomic_store_n(&c->seq, pos + 1, __ATOMIC_RELEASE);
				return true;
			}
		} else if (dif < 0) {
			return false;
		} else {
			pos = __atomic_load_n(&v->enq, __ATOMIC_RELAXED);
		}
	}
}
static void *vy_pop(void *q)
{
	struct vyukov *v = q;
	uint64_t pos = __atomic_load_n(&v->deq, __ATOMIC_RELAXED);
	for (;;) {
		struct vcell *c = &v->cells[pos & v->mask];
		uint64_t seq = __atomic_load_n(&c->seq, __ATOMIC_ACQUIRE);
		int64_t dif = (int64_t)(seq - (pos + 1));
		if (dif == 0) {
			if (__atomic_compare_exchange_n(&v->deq, &pos, pos + 1, true, __ATOMIC_RELAXED,
							__ATOMIC_RELAXED)) {
				void *o = c->data;
				__atomic_store_n(&c->seq, pos + v->mask + 1, __ATOMIC_RELEASE);
				return o;
			}
		} else if (dif < 0) {
			return NULL;	/* empty, or the next cell's producer has not published yet */
		} else {
			pos = __atomic_load_n(&v->deq, __ATOMIC_RELAXED);
		}
	}
}
static void vy_push(void *q, void *o)
{
	while (!vy_enqueue(q, o))
		sched_yield();	/* only while a stalled dequeuer still holds the cell of this lap */
}
static void *vy_create(uint32_t nr)
{
	struct vyukov *v = aligned_alloc(64, sizeof(*v));
	uint64_t size = 2;
	while (size < nr)
		size <<= 1;
	memset(v, 0, sizeof(*v));
	v->mask = size - 1;
	v->cells = calloc(size, sizeof(*v->cells));
	for (uint64_t i = 0; i < size; i++)
		v->cells[i].seq = i;
	v->objs = calloc(nr, 16);
	for (uint32_t i = 0; i < nr; i++)
		vy_enqueue(v, v->objs + 16 * i);
	return v;
}
static void vy_destroy(void *q)
{
	struct vyukov *v = q;
	free(v->cells);
	free(v->objs);
	free(v);
}

/* liburcu's other documented way to synchronize __cds_lfs_pop: mutual exclusion (its internal mutex). */
static void *urcu_lock_pop(void *q) { return cds_lfs_pop_blocking(&((struct urcu_q *)q)->stack); }
static void urcu_lock_push(void *q, void *o) { cds_lfs_push(&((struct urcu_q *)q)->stack, o); }

/* freelist first: it is the base of every ratio. */
static const struct queue_ops impls[] = {
	{ .name = "freelist", .what = "refcounted Treiber freelist (kernel kretprobe before 6.7)",
	  .create = fl_create, .destroy = fl_destroy, .pop = fl_pop, .push = fl_push },
	{ .name = "objpool", .what = "crosswalk per-CPU rings (src/objpool)",
	  .create = op_create, .destroy = op_destroy, .pop = op_pop, .push = op_push },
	{ .name = "ck_stack", .what = "Concurrency Kit ck_stack mpmc (CAS2 + generation)",
	  .create = ckst_create, .destroy = ckst_destroy, .pop = ckst_pop, .push = ckst_push },
	{ .name = "ck_ring", .what = "Concurrency Kit ck_ring mpmc",
	  .create = ckr_create, .destroy = ckr_destroy, .pop = ckr_pop, .push = ckr_push },
	{ .name = "urcu_rcu", .what = "liburcu lfstack, pop in an RCU read-side section, push back by call_rcu",
	  .create = urcu_create, .destroy = urcu_destroy, .pop = urcu_pop, .push = urcu_push,
	  .thread_enter = urcu_enter, .thread_exit = urcu_exit, .quiesce = urcu_quiesce },
	{ .name = "urcu_lock", .what = "liburcu lfstack, pop under its mutex (cds_lfs_pop_blocking)",
	  .create = urcu_create, .destroy = urcu_destroy, .pop = urcu_lock_pop, .push = urcu_lock_push },
	{ .name = "vyukov", .what = "Vyukov bounded MPMC ring",
	  .create = vy_create, .destroy = vy_destroy, .pop = vy_pop, .push = vy_push },
};
#define NR_IMPLS (int)(sizeof(impls) / sizeof(impls[0]))

/* ---- the three cases of the seed ---- */

struct bcase {
	const char *name;
	const char *what;
	int bulk;
	int objs_per_thread_x4;	/* objects = max(min_objs, threads * bulk * this / 4) */
	int min_objs;
};
static const struct bcase cases[] = {
	{ "nonblocking", "bulk 1, objects = 4 x threads", 1, 16, 16 },
	{ "bulk8", "bulk 8, objects = 4 x threads x bulk", 8, 16, 16 },
	{ "bulk16", "bulk 16, objects = 4 x threads x bulk", 16, 16, 16 },
	{ "misses", "bulk 16, objects = threads x bulk / 4 (huge misses)", 16, 1, 4 },
};
#define NR_CASES (int)(sizeof(cases) / sizeof(cases[0]))

static uint32_t case_objs(const struct bcase *c, int threads)
{
	uint32_t n = (uint32_t)threads * c->bulk * c->objs_per_thread_x4 / 4;
	return n < (uint32_t)c->min_objs ? (uint32_t)c->min_objs : n;
}

/* ---- one run ---- */

struct worker {
	pthread_t th;
	const struct queue_ops *ops;
	void *q;
	int bulk;
	int cpu;	/* -1: not pinned */
	uint64_t hits, misses, cpu_ns, end_ns;
} __attribute__((aligned(128)));

static int go, stop;

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	void *held[MAX_BULK];
	uint64_t hits = 0, misses = 0;

	if (w->cpu >= 0) {
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(w->cpu, &set);
		pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	}
	if (w->ops->thread_enter)
		w->ops->thread_enter();
	while (!__atomic_load_n(&go, __ATOMIC_ACQUIRE))
		sched_yield();
	uint64_t c0 = thread_cpu_ns();
	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		int n = 0;
		for (int i = 0; i < w->bulk; i++) {
			void *o = w->ops->pop(w->q);
			if (o)
				held[n++] = o;
			else
				misses++;
		}
		hits += n;
		while (n > 0)
			w->ops->push(w->q, held[--n]);
	}
	/* An implementation that blocks (a ring waiting for a stalled peer) can overrun the stop time:
	 * the run ends when the last thread is out of its loop. */
	w->end_ns = now_ns();
	w->cpu_ns = thread_cpu_ns() - c0;
	w->hits = hits;
	w->misses = misses;
	if (w->ops->thread_exit)
		w->ops->thread_exit();
	return NULL;
}

struct result {
	double pairs_per_s;
	double misses_per_s;
	double cpu_share;	/* CPU time the threads got / (wall time x the CPUs they could use) */
};

static int ncpus;

static int run_once(const struct queue_ops *ops, const struct bcase *c, int threads, int ms,
		    struct result *r)
{
	static struct worker w[MAX_THREADS];
	uint32_t nr = case_objs(c, threads);
	void *q = ops->create(nr);
	uint64_t t0, t1, hits = 0, misses = 0, cpu_ns = 0;

	if (!q) {
		fprintf(stderr, "queues: %s: creating a queue of %u objects failed\n", ops->name, nr);
		return -1;
	}
	go = stop = 0;
	for (int i = 0; i < threads; i++) {
		w[i] = (struct worker){ .ops = ops, .q = q, .bulk = c->bulk,
					.cpu = threads <= ncpus ? i : -1 };
		if (pthread_create(&w[i].th, NULL, worker_main, &w[i])) {
			fprintf(stderr, "queues: pthread_create failed\n");
			exit(1);
		}
	}
	usleep(1000);	/* let the threads reach the start line (and their CPUs) */
	t0 = now_ns();
	__atomic_store_n(&go, 1, __ATOMIC_RELEASE);
	usleep(ms * 1000);
	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	t1 = now_ns();
	for (int i = 0; i < threads; i++) {
		pthread_join(w[i].th, NULL);
		if (w[i].end_ns > t1)
			t1 = w[i].end_ns;
		hits += w[i].hits;
		misses += w[i].misses;
		cpu_ns += w[i].cpu_ns;
	}
	if (ops->quiesce)
		ops->quiesce(q);
	ops->destroy(q);
	r->pairs_per_s = hits * 1e9 / (t1 - t0);
	r->misses_per_s = misses * 1e9 / (t1 - t0);
	r->cpu_share = (double)cpu_ns / ((t1 - t0) * (double)(threads < ncpus ? threads : ncpus));
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* ns of thread CPU time per uncontended compare-and-swap (seq_cst, succeeding): time taken by other
 * processes does not count, as for the single-thread pair figures it is compared with. */
static double bare_cas_ns(void)
{
	static uint64_t word __attribute__((aligned(64)));
	const int iters = 20000000;
	double v[5];

	for (int r = 0; r < 5; r++) {
		uint64_t t0 = thread_cpu_ns();
		for (int i = 0; i < iters; i++) {
			uint64_t exp = (uint64_t)i;
			__atomic_compare_exchange_n(&word, &exp, (uint64_t)i + 1, false, __ATOMIC_SEQ_CST,
						    __ATOMIC_SEQ_CST);
		}
		v[r] = (double)(thread_cpu_ns() - t0) / iters;
	}
	if (word != (uint64_t)iters)
		fprintf(stderr, "queues: bare CAS loop miscounted\n");
	return median(v, 5);
}

static bool in_list(const char *list, const char *name);

/* Single-thread cost of a pop+push pair, measured like the bare CAS: a tight loop on the main thread
 * pinned to CPU 0, thread CPU time, median of 5 runs with the implementations interleaved. Not for
 * implementations that defer their push (urcu_rcu): a pair there waits for a grace period. */
static void pair_costs(double *ns, const char *ilist)
{
	const int iters = 2000000;
	static double v[NR_IMPLS][5];
	void *q[NR_IMPLS] = { 0 };
	cpu_set_t all, one;

	sched_getaffinity(0, sizeof(all), &all);
	CPU_ZERO(&one);
	CPU_SET(0, &one);
	sched_setaffinity(0, sizeof(one), &one);
	for (int i = 0; i < NR_IMPLS; i++)
		if (!impls[i].quiesce && (!ilist || in_list(ilist, impls[i].name)))
			q[i] = impls[i].create(16);
	for (int r = 0; r < 5; r++) {
		for (int i = 0; i < NR_IMPLS; i++) {
			if (!q[i])
				continue;
			uint64_t t0 = thread_cpu_ns();
			for (int k = 0; k < iters; k++) {
				void *o = impls[i].pop(q[i]);
				impls[i].push(q[i], o);
			}
			v[i][r] = (double)(thread_cpu_ns() - t0) / iters;
		}
	}
	for (int i = 0; i < NR_IMPLS; i++) {
		ns[i] = q[i] ? median(v[i], 5) : 0;
		if (q[i])
			impls[i].destroy(q[i]);
	}
	sched_setaffinity(0, sizeof(all), &all);	/* unpinned workers inherit this */
}

/* -m: the huge-misses case at one thread taken apart, as the docs measure it: the main thread pinned to
 * CPU 0, thread CPU time, minimum over 40 runs (implementations interleaved) of 10^5 rounds of "pop
 * `bulk` objects, push back the ones got" on a queue of 4 objects (the case's 1 x 16 / 4), for bulk 4
 * (no miss), 5 (one miss per round) and 16 (the case: 4 hits, 12 misses); and one miss on an empty
 * queue (10^6 pops). */
static void round_costs(const char *ilist)
{
	static const int bulks[] = { 4, 5, 16 };
	static double best[NR_IMPLS][4];
	void *q[NR_IMPLS] = { 0 }, *held[MAX_BULK];
	cpu_set_t one;

	CPU_ZERO(&one);
	CPU_SET(0, &one);
	sched_setaffinity(0, sizeof(one), &one);
	for (int i = 0; i < NR_IMPLS; i++)
		if (!impls[i].quiesce && (!ilist || in_list(ilist, impls[i].name))) {
			q[i] = impls[i].create(4);
			for (int b = 0; b < 4; b++)
				best[i][b] = 1e9;
		}
	for (int r = 0; r < 40; r++) {
		for (int i = 0; i < NR_IMPLS; i++) {
			if (!q[i])
				continue;
			for (int b = 0; b < 3; b++) {
				uint64_t t0 = thread_cpu_ns();
				for (int k = 0; k < 100000; k++) {
					int n = 0;
					for (int j = 0; j < bulks[b]; j++)
						if ((held[n] = impls[i].pop(q[i])))
							n++;
					while (n > 0)
						impls[i].push(q[i], held[--n]);
				}
				double ns = (double)(thread_cpu_ns() - t0) / 100000;
				if (ns < best[i][b])
					best[i][b] = ns;
			}
			int n = 0;
			while ((held[n] = impls[i].pop(q[i])))
				n++;
			uint64_t t0 = thread_cpu_ns();
			for (int k = 0; k < 1000000; k++) {
				void *o = impls[i].pop(q[i]);
				__asm__ volatile("" : : "r"(o));
			}
			double ns = (double)(thread_cpu_ns() - t0) / 1000000;
			if (ns < best[i][3])
				best[i][3] = ns;
			while (n > 0)
				impls[i].push(q[i], held[--n]);
		}
	}
	printf("one thread pinned, ns of CPU time, minimum of 40 runs; 4 objects; a round is \"pop bulk, push "
	       "back the hits\"\n");
	printf("%-10s %12s %12s %12s %12s\n", "", "round of 4", "round of 5", "round of 16", "empty miss");
	for (int i = 0; i < NR_IMPLS; i++)
		if (q[i]) {
			printf("%-10s %12.2f %12.2f %12.2f %12.2f\n", impls[i].name, best[i][0], best[i][1],
			       best[i][2], best[i][3]);
			impls[i].destroy(q[i]);
		}
}

/* ---- main ---- */

static void usage(void)
{
	fprintf(stderr,
		"usage: queues [-d MS] [-r RUNS] [-t 1,2,4,...] [-i impl,...] [-c case,...] [-o FILE.json] [-m]\n"
		"  -d  duration of one run in ms (default 80)\n"
		"  -r  runs per cell; the median is reported (default 5)\n"
		"  -t  thread counts (default 1,2,4,8,16)\n"
		"  -i  implementations (default all: freelist,objpool,ck_stack,ck_ring,urcu_rcu,urcu_lock,vyukov)\n"
		"  -c  cases (default all: nonblocking,bulk8,bulk16,misses)\n"
		"  -m  only the huge-misses round at one thread taken apart (pinned, CPU time, min of 40)\n");
	exit(2);
}

static bool in_list(const char *list, const char *name)
{
	size_t n = strlen(name);
	for (const char *p = list; p && *p;) {
		const char *e = strchr(p, ',');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		if (len == n && !strncmp(p, name, n))
			return true;
		p = e ? e + 1 : NULL;
	}
	return false;
}

static void machine_name(char *buf, size_t len)
{
	char model[128] = "unknown CPU", line[256];
	FILE *f = fopen("/proc/cpuinfo", "r");
	struct utsname u;

	while (f && fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "model name", 10)) {
			char *p = strchr(line, ':');
			if (p) {
				snprintf(model, sizeof(model), "%s", p + 2);
				model[strcspn(model, "\n")] = 0;
			}
			break;
		}
	}
	if (f)
		fclose(f);
	uname(&u);
	snprintf(buf, len, "%d vCPU VM, %s, Linux %s", ncpus, model, u.release);
}

int main(int argc, char **argv)
{
	int ms = 80, runs = 5, nthr = 0, thr[16];
	const char *tlist = "1,2,4,8,16", *ilist = NULL, *clist = NULL, *out = NULL;
	static double res[NR_CASES][NR_IMPLS][16], miss[NR_CASES][NR_IMPLS][16], share[NR_CASES][NR_IMPLS][16];
	char machine[256];
	int opt;

	bool micro = false;

	while ((opt = getopt(argc, argv, "d:r:t:i:c:o:mh")) != -1) {
		switch (opt) {
		case 'd': ms = atoi(optarg); break;
		case 'r': runs = atoi(optarg); break;
		case 't': tlist = optarg; break;
		case 'i': ilist = optarg; break;
		case 'c': clist = optarg; break;
		case 'o': out = optarg; break;
		case 'm': micro = true; break;
		default: usage();
		}
	}
	if (ms <= 0 || runs <= 0 || runs > 99)
		usage();
	for (const char *p = tlist; p && *p && nthr < 16;) {
		thr[nthr] = atoi(p);
		if (thr[nthr] < 1 || thr[nthr] > MAX_THREADS)
			usage();
		nthr++;
		p = strchr(p, ',');
		p = p ? p + 1 : NULL;
	}
	ncpus = (int)sysconf(_SC_NPROCESSORS_ONLN);
	machine_name(machine, sizeof(machine));
	rcu_register_thread();	/* rcu_barrier() is called from here */
	if (micro) {
		printf("machine: %s\n", machine);
		round_costs(ilist);
		return 0;
	}

	double cas = bare_cas_ns(), pair_ns[NR_IMPLS];
	pair_costs(pair_ns, ilist);
	printf("machine: %s\n", machine);
	printf("each cell: median of %d runs of %d ms; threads pinned one per CPU while threads <= %d\n",
	       runs, ms, ncpus);
	printf("bare uncontended CAS: %.2f ns (two: %.2f ns)\n\n", cas, 2 * cas);

	for (int c = 0; c < NR_CASES; c++) {
		if (clist && !in_list(clist, cases[c].name))
			continue;
		printf("case %s: %s\n", cases[c].name, cases[c].what);
		printf("%-10s", "M pairs/s");
		for (int t = 0; t < nthr; t++)
			printf(" %20dT", thr[t]);
		printf("\n");
		/* Measure first, print after: the runs of all implementations for one thread count are
		 * interleaved (run r of each, then run r + 1), so that a burst of load from other processes
		 * hits them alike instead of ruining one implementation's cell. */
		for (int t = 0; t < nthr; t++) {
			static double v[NR_IMPLS][99], m[NR_IMPLS][99], u[NR_IMPLS][99];
			for (int r = 0; r < runs; r++) {
				for (int i = 0; i < NR_IMPLS; i++) {
					struct result rr;
					if (ilist && !in_list(ilist, impls[i].name))
						continue;
					if (run_once(&impls[i], &cases[c], thr[t], ms, &rr))
						return 1;
					v[i][r] = rr.pairs_per_s;
					m[i][r] = rr.misses_per_s;
					u[i][r] = rr.cpu_share;
				}
			}
			for (int i = 0; i < NR_IMPLS; i++) {
				if (ilist && !in_list(ilist, impls[i].name))
					continue;
				res[c][i][t] = median(v[i], runs);
				miss[c][i][t] = median(m[i], runs);
				share[c][i][t] = median(u[i], runs);
			}
		}
		for (int i = 0; i < NR_IMPLS; i++) {
			if (ilist && !in_list(ilist, impls[i].name))
				continue;
			printf("%-10s", impls[i].name);
			for (int t = 0; t < nthr; t++) {
				double fl = res[c][0][t];
				if (i > 0 && fl > 0 && (!ilist || in_list(ilist, "freelist")))
					printf(res[c][i][t] < 1e6 ? " %7.4f (%5.2fx) %3.0f%%" : " %7.2f (%5.2fx) %3.0f%%",
					       res[c][i][t] / 1e6, res[c][i][t] / fl, 100 * share[c][i][t]);
				else
					printf(" %16.2f %3.0f%%", res[c][i][t] / 1e6, 100 * share[c][i][t]);
			}
			printf("\n");
		}
		printf("\n");
		fflush(stdout);
	}
	/* freelist is impls[0] (the ratios' base), objpool impls[1]. */
	bool have_fl = !ilist || in_list(ilist, "freelist"), have_op = !ilist || in_list(ilist, "objpool");
	if (have_fl && have_op) {
		printf("objpool / freelist (in brackets: per CPU-second the threads got, which discounts time\n"
		       "taken by other processes on this machine):\n");
		for (int c = 0; c < NR_CASES; c++) {
			if (clist && !in_list(clist, cases[c].name))
				continue;
			printf("%-12s", cases[c].name);
			for (int t = 0; t < nthr; t++)
				printf(" %3dT %5.2fx (%5.2fx)", thr[t], res[c][1][t] / res[c][0][t],
				       (res[c][1][t] / share[c][1][t]) / (res[c][0][t] / share[c][0][t]));
			printf("\n");
		}
		printf("\n");
	}
	printf("single thread, ns of CPU time per pop+push pair (tight loop, median of 5) vs two bare CAS "
	       "(%.2f ns):\n", 2 * cas);
	for (int i = 0; i < NR_IMPLS; i++)
		if (pair_ns[i] > 0)
			printf("  %-10s %7.2f ns  = %5.2f x two CAS\n", impls[i].name, pair_ns[i],
			       pair_ns[i] / (2 * cas));
	printf("\n");

	/* The goals, evaluated on this run. */
	char goals[2048] = "";
	if (have_fl && have_op) {
		int below = 0, below_cpu = 0, cells = 0, g = 0;
		double min_ratio = 1e9, min2 = 1e9, worst_keep = 1e9, worst_keep_cpu = 1e9, worst_full = 1e9;
		for (int c = 0; c < NR_CASES; c++) {
			if (clist && !in_list(clist, cases[c].name))
				continue;
			/* collapse: objpool past the CPUs against its throughput with one thread on every CPU
			 * (the goal: adding threads past the cores must not make it fall), and against its best
			 * with at most one thread per CPU, wall-clock and per CPU-second (the threads' CPU share
			 * varies from run to run here). The two differ where one thread alone shares nothing that
			 * two threads must share: with huge misses, 1 thread keeps its 4 objects to itself, 2
			 * threads pass 8 objects between two CPUs every round (the freelist drops alike). */
			double best = 0, best_cpu = 0, full = 0;
			for (int t = 0; t < nthr; t++) {
				double r = res[c][1][t] / res[c][0][t];
				cells++;
				below += r < 1.0;
				below_cpu += (res[c][1][t] / share[c][1][t]) < (res[c][0][t] / share[c][0][t]);
				if (r < min_ratio)
					min_ratio = r;
				if (thr[t] == 2 && r < min2)
					min2 = r;
				if (thr[t] <= ncpus && res[c][1][t] > best)
					best = res[c][1][t];
				if (thr[t] == ncpus)
					full = res[c][1][t];
				if (thr[t] <= ncpus && share[c][1][t] > 0 && res[c][1][t] / share[c][1][t] > best_cpu)
					best_cpu = res[c][1][t] / share[c][1][t];
			}
			for (int t = 0; t < nthr; t++) {
				if (thr[t] <= ncpus)
					continue;
				if (best > 0 && res[c][1][t] / best < worst_keep)
					worst_keep = res[c][1][t] / best;
				if (full > 0 && res[c][1][t] / full < worst_full)
					worst_full = res[c][1][t] / full;
				if (best_cpu > 0 && share[c][1][t] > 0 &&
				    res[c][1][t] / share[c][1][t] / best_cpu < worst_keep_cpu)
					worst_keep_cpu = res[c][1][t] / share[c][1][t] / best_cpu;
			}
		}
		g += snprintf(goals + g, sizeof(goals) - g,
			      "  objpool >= freelist at every thread count: %s (%d of %d cells below, %d per "
			      "CPU-second; lowest ratio %.2fx)\n", below ? "NOT MET" : "met", below, cells, below_cpu,
			      min_ratio);
		if (min2 < 1e9)
			g += snprintf(goals + g, sizeof(goals) - g,
				      "  objpool >= 2x freelist at 2 threads: %s (lowest ratio at 2T %.2fx)\n",
				      min2 >= 2 ? "met" : "NOT MET", min2);
		if (worst_full < 1e9)
			g += snprintf(goals + g, sizeof(goals) - g,
				      "  no collapse past %d CPUs: objpool keeps >= %.0f%% of its throughput with %d "
				      "threads pinned (%s; collapse = below 50%%)\n", ncpus, 100 * worst_full, ncpus,
				      worst_full >= 0.5 ? "met" : "NOT MET");
		if (worst_keep < 1e9)
			g += snprintf(goals + g, sizeof(goals) - g,
				      "    of its best pinned throughput (1 thread alone included): >= %.0f%%, %.0f%% per "
				      "CPU-second\n", 100 * worst_keep, 100 * worst_keep_cpu);
	}
	if (have_op && pair_ns[1] > 0) {
		size_t g = strlen(goals);
		snprintf(goals + g, sizeof(goals) - g,
			 "  single-thread pair within 3x of two bare CAS: %s (%.2f ns = %.2fx of %.2f ns)\n",
			 pair_ns[1] <= 6 * cas ? "met" : "NOT MET", pair_ns[1], pair_ns[1] / (2 * cas), 2 * cas);
	}
	if (goals[0])
		printf("goals:\n%s\n", goals);

	if (out) {
		FILE *f = fopen(out, "w");
		if (!f) {
			fprintf(stderr, "queues: cannot write '%s': %s\n", out, strerror(errno));
			return 1;
		}
		fprintf(f, "{\n  \"machine\": \"%s\",\n  \"cpus\": %d,\n  \"duration_ms\": %d,\n  \"runs\": %d,\n"
			   "  \"statistic\": \"median\",\n  \"bare_cas_ns\": %.3f,\n  \"single_thread_pair_ns\": {",
			machine, ncpus, ms, runs, cas);
		bool firstp = true;
		for (int i = 0; i < NR_IMPLS; i++) {
			if (pair_ns[i] <= 0)
				continue;
			fprintf(f, "%s\n    \"%s\": %.3f", firstp ? "" : ",", impls[i].name, pair_ns[i]);
			firstp = false;
		}
		fprintf(f, "\n  },\n  \"implementations\": {");
		bool first = true;
		for (int i = 0; i < NR_IMPLS; i++) {
			if (ilist && !in_list(ilist, impls[i].name))
				continue;
			fprintf(f, "%s\n    \"%s\": \"%s\"", first ? "" : ",", impls[i].name, impls[i].what);
			first = false;
		}
		fprintf(f, "\n  },\n  \"results\": [");
		first = true;
		for (int c = 0; c < NR_CASES; c++) {
			if (clist && !in_list(clist, cases[c].name))
				continue;
			for (int i = 0; i < NR_IMPLS; i++) {
				if (ilist && !in_list(ilist, impls[i].name))
					continue;
				for (int t = 0; t < nthr; t++) {
					fprintf(f, "%s\n    {\"case\": \"%s\", \"bulk\": %d, \"objects\": %u, "
						   "\"impl\": \"%s\", \"threads\": %d, \"pinned\": %s, "
						   "\"pairs_per_s\": %.0f, \"misses_per_s\": %.0f, \"cpu_share\": %.2f",
						first ? "" : ",", cases[c].name, cases[c].bulk,
						case_objs(&cases[c], thr[t]), impls[i].name, thr[t],
						thr[t] <= ncpus ? "true" : "false", res[c][i][t], miss[c][i][t],
						share[c][i][t]);
					if (have_fl && res[c][0][t] > 0)
						fprintf(f, ", \"ratio_to_freelist\": %.3f", res[c][i][t] / res[c][0][t]);
					if (thr[t] == 1 && res[c][i][t] > 0)
						fprintf(f, ", \"cpu_ns_per_pair\": %.2f",
							1e9 * share[c][i][t] / res[c][i][t]);
					fprintf(f, "}");
					first = false;
				}
			}
		}
		fprintf(f, "\n  ],\n  \"goals\": [");
		first = true;
		for (char *l = goals; *l;) {
			char *e = strchr(l, '\n');
			fprintf(f, "%s\n    \"%.*s\"", first ? "" : ",", (int)(e - l - 2), l + 2);
			first = false;
			l = e + 1;
		}
		fprintf(f, "\n  ]\n}\n");
		fclose(f);
		printf("wrote %s\n", out);
	}
	rcu_unregister_thread();
	return 0;
}
