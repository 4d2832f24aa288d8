/* Stress: many more threads than CPUs, plus signal handlers that pop and push on the threads they
 * interrupt, for a fixed time; then conservation: every object in the pool exactly once. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "objpool/freelist.h"
#include "objpool/objpool.h"

/* Each object records who holds it: taking it is a CAS from 0, so a second holder is seen at once. */
struct sobj {
	uint64_t owner;
	uint64_t stamp;
	uint64_t pad[2];
};

#define NTHREADS   16
#define HANDLER_BIT (1ull << 63)

struct impl {
	const char *name;
	void *(*pop)(void *q);
	int (*push)(void *q, void *obj);
	void *q;
	uint32_t nr;
	void *(*obj)(void *q, uint32_t i);
	void (*quiet_check)(void *q);	/* invariants of the idle pool, before the conservation check */
};

static struct impl *cur;	/* the pool under test, read by the signal handler */
static int stop_workers, stop_signals;
static uint64_t errors, ops, handler_ops, handler_runs, misses;
static pthread_t workers[NTHREADS];
static __thread uint64_t my_token;

static void fail_once(const char *what, uint64_t v)
{
	if (__atomic_fetch_add(&errors, 1, __ATOMIC_RELAXED) < 5) {
		/* write(2) is async-signal-safe; the message is for whoever reads the log */
		char buf[96];
		int n = snprintf(buf, sizeof(buf), "stress %s: %s (%#llx)\n", cur->name, what,
				 (unsigned long long)v);
		if (write(2, buf, n) < 0) {
		}
	}
}

static int take(struct sobj *o, uint64_t token)
{
	uint64_t zero = 0;
	if (!__atomic_compare_exchange_n(&o->owner, &zero, token, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
		fail_once("object popped while held by another", zero);
		return -1;
	}
	o->stamp = token;	/* plain write: a race here is a bug TSAN would report */
	return 0;
}

static void give(struct sobj *o, uint64_t token)
{
	if (o->stamp != token)
		fail_once("object written by a non-owner", o->stamp);
	uint64_t was = __atomic_exchange_n(&o->owner, 0, __ATOMIC_RELEASE);
	if (was != token)
		fail_once("object owner changed while held", was);
	int rc = cur->push(cur->q, o);
	if (rc)
		fail_once("push failed", (uint64_t)-rc);
}

/* Runs at any point of a worker, including inside pop or push of the same pool. */
static void on_signal(int sig)
{
	int saved = errno;
	uint64_t token = my_token | HANDLER_BIT;
	struct sobj *held[3];
	int k = 0;

	for (; k < 3; k++) {
		held[k] = cur->pop(cur->q);
		if (!held[k])
			break;
		if (take(held[k], token))
			break;
	}
	__atomic_fetch_add(&handler_ops, k, __ATOMIC_RELAXED);
	__atomic_fetch_add(&handler_runs, 1, __ATOMIC_RELAXED);
	while (k-- > 0)
		give(held[k], token);
	errno = saved;
}

static void *worker(void *arg)
{
	uint64_t n = 0, miss = 0, rnd = (uintptr_t)arg * 2654435761u + 1;
	struct sobj *held[4];

	my_token = (uintptr_t)arg + 1;
	while (!__atomic_load_n(&stop_workers, __ATOMIC_RELAXED)) {
		rnd ^= rnd << 13, rnd ^= rnd >> 7, rnd ^= rnd << 17;
		int want = 1 + rnd % 4, k = 0;
		for (; k < want; k++) {
			held[k] = cur->pop(cur->q);
			if (!held[k]) {
				miss++;
				break;
			}
			if (take(held[k], my_token))
				goto out;
		}
		n += k;
		while (k-- > 0)
			give(held[k], my_token);
	}
out:
	__atomic_fetch_add(&ops, n, __ATOMIC_RELAXED);
	__atomic_fetch_add(&misses, miss, __ATOMIC_RELAXED);
	return NULL;
}

static void *signaler(void *arg)
{
	uint64_t rnd = 88172645463325252ull;
	struct timespec ts = { 0, 20000 };

	while (!__atomic_load_n(&stop_signals, __ATOMIC_RELAXED)) {
		rnd ^= rnd << 13, rnd ^= rnd >> 7, rnd ^= rnd << 17;
		pthread_kill(workers[rnd % NTHREADS], SIGUSR1);
		nanosleep(&ts, NULL);
	}
	return NULL;
}

static long stress_ms(void)
{
	const char *s = getenv("CW_STRESS_MS");
	return s && atol(s) > 0 ? atol(s) : 700;
}

static void run_stress(struct impl *im)
{
	pthread_t sig;
	struct sigaction sa = { .sa_handler = on_signal };
	sigset_t block, old;
	long ms = stress_ms();
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };
	char *seen;

	cur = im;
	stop_workers = stop_signals = 0;
	errors = ops = handler_ops = handler_runs = misses = 0;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	assert_int_equal(sigaction(SIGUSR1, &sa, NULL), 0);
	/* only workers take the signal */
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	for (uintptr_t i = 0; i < NTHREADS; i++) {
		sigset_t none;
		sigemptyset(&none);
		pthread_sigmask(SIG_SETMASK, &none, NULL);	/* the new thread inherits an open mask */
		assert_int_equal(pthread_create(&workers[i], NULL, worker, (void *)i), 0);
		pthread_sigmask(SIG_BLOCK, &block, NULL);
	}
	assert_int_equal(pthread_create(&sig, NULL, signaler, NULL), 0);
	/* Busy workers outnumber the CPUs; a real-time signaler gets to send on time (root only; without
	 * it there are fewer signals, still some). */
	struct sched_param sp = { .sched_priority = 1 };
	pthread_setschedparam(sig, SCHED_FIFO, &sp);
	nanosleep(&ts, NULL);
	__atomic_store_n(&stop_signals, 1, __ATOMIC_RELAXED);
	pthread_join(sig, NULL);
	__atomic_store_n(&stop_workers, 1, __ATOMIC_RELAXED);
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(workers[i], NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	signal(SIGUSR1, SIG_DFL);

	printf("stress %s: %lu ms, %d threads, %llu pops, %llu misses, %llu handler runs, %llu pops in "
	       "handlers, %llu errors\n", im->name, ms, NTHREADS, (unsigned long long)ops,
	       (unsigned long long)misses, (unsigned long long)handler_runs,
	       (unsigned long long)handler_ops, (unsigned long long)errors);
	assert_int_equal(errors, 0);
	assert_true(ops > 0);
	assert_true(handler_runs > 0);

	if (im->quiet_check)
		im->quiet_check(im->q);
	/* Conservation: the pool now holds every object exactly once. */
	seen = calloc(im->nr, 1);
	for (uint32_t n = 0; n < im->nr; n++) {
		struct sobj *o = im->pop(im->q);
		assert_non_null(o);
		assert_int_equal(o->owner, 0);
		uint32_t i = 0;
		while (i < im->nr && im->obj(im->q, i) != (void *)o)
			i++;
		assert_true(i < im->nr);
		assert_int_equal(seen[i]++, 0);
	}
	assert_null(im->pop(im->q));
	for (uint32_t i = 0; i < im->nr; i++)
		assert_int_equal(im->push(im->q, im->obj(im->q, i)), 0);
	free(seen);
}

static void *op_pop(void *q) { return cw_objpool_pop(q); }
static int op_push(void *q, void *o) { return cw_objpool_push(q, o); }
static void *op_obj(void *q, uint32_t i) { return cw_objpool_obj(q, i); }
static void *fl_pop(void *q) { return cw_freelist_pop(q); }
static int fl_push(void *q, void *o) { return cw_freelist_push(q, o); }
static void *fl_obj(void *q, uint32_t i) { return cw_freelist_obj(q, i); }

/* The miss path's invariant (objpool.c, "The miss path"): a ring whose hint bit is clear is empty. */
static void op_quiet_check(void *q)
{
	uint32_t held = 0;

	for (uint32_t r = 0; r < cw_objpool_nr_slots(q); r++) {
		uint32_t n = cw_objpool_slot_count(q, r);
		if (n)
			assert_true(cw_objpool_slot_hinted(q, r));
		held += n;
	}
	assert_int_equal(held, cw_objpool_nr_objs(q));
}

static void stress_objpool(const char *name, uint32_t nr, uint32_t slots, unsigned flags)
{
	struct cw_objpool *p;
	assert_int_equal(cw_objpool_init(&p, nr, sizeof(struct sobj), slots, NULL, NULL, flags), 0);
	struct impl im = { name, op_pop, op_push, p, nr, op_obj, op_quiet_check };
	run_stress(&im);
	assert_int_equal(cw_objpool_fini(p), 0);
}

/* One ring per CPU, fewer objects than threads: steals and misses all the time. */
static void test_objpool_percpu_scarce(void **state)
{
	stress_objpool("objpool per-cpu, 8 objects", 8, 0, CW_OBJPOOL_F_CHECK);
}

/* Every operation on a random one of 8 rings: threads collide on rings as if migrating constantly. */
static void test_objpool_scatter(void **state)
{
	stress_objpool("objpool scatter 8 rings, 40 objects", 40, 8, CW_OBJPOOL_F_SCATTER | CW_OBJPOOL_F_CHECK);
}

/* Scattered over 40 rings (two hint words) with fewer objects than threads: rings go empty and get
 * closed and reopened all the time, from every thread and from handlers, racing each other. Closing at
 * the second sight of an unchanged empty ring (objpool.c, "When to close"), not after the default ~30 us,
 * so that closes race pushes as often as possible. */
static void test_objpool_scatter_scarce(void **state)
{
	uint64_t dflt = cw_objpool_idle_ticks;
	cw_objpool_idle_ticks = 0;
	stress_objpool("objpool scatter 40 rings, 6 objects", 6, 40, CW_OBJPOOL_F_SCATTER | CW_OBJPOOL_F_CHECK);
	cw_objpool_idle_ticks = dflt;
}

/* One ring of capacity 4 holding 3 objects, shared by all: the tightest wrap-around. */
static void test_objpool_one_small_ring(void **state)
{
	stress_objpool("objpool 1 ring, 3 objects", 3, 1, 0);
}

/* The empty witness against signal handlers (objpool.c, "The empty witness"): the thread's witness is
 * shared with the handlers that interrupt it. The main thread misses on pool A all the time (so it
 * records and checks A's witness) while a handler, sent at a high rate to this thread only, takes B's one
 * object and misses on B (recording B's witness), and the next handler gives it back. Neither pool is
 * ever touched by anyone else, and a handler leaves A alone, so each pop's answer is known exactly: the
 * main thread's pops on A must find its objects, the handler's first pop on B must find B's. A witness
 * torn between a handler's write and the main thread's read or write (B's entry under A's name, or the
 * reverse) shows up as a wrong miss. */
static struct cw_objpool *wpa, *wpb;
static void *wheld;
static uint64_t wsig, wbad_main, wbad_handler;
static pthread_t wmain;

static void witness_handler(int sig)
{
	int saved = errno;

	if (!wheld) {
		if (!(wheld = cw_objpool_pop(wpb)))
			wbad_handler++;
		else if (cw_objpool_pop(wpb))	/* B is empty now: a miss, records B's witness */
			wbad_handler++;
	} else {
		if (cw_objpool_push(wpb, wheld))
			wbad_handler++;
		wheld = NULL;
	}
	wsig++;
	errno = saved;
}

static void *witness_signaler(void *arg)
{
	struct timespec ts = { 0, 2000 };

	while (!__atomic_load_n(&stop_signals, __ATOMIC_RELAXED)) {
		pthread_kill(wmain, SIGUSR1);
		nanosleep(&ts, NULL);
	}
	return NULL;
}

static void test_objpool_witness_signals(void **state)
{
	struct sigaction sa = { .sa_handler = witness_handler };
	pthread_t sig;
	uint64_t rounds = 0, t_end;
	struct timespec now;
	void *a1, *a2, *x;

	assert_int_equal(cw_objpool_init(&wpa, 2, 16, 1, NULL, NULL, 0), 0);
	assert_int_equal(cw_objpool_init(&wpb, 1, 16, 1, NULL, NULL, 0), 0);
	wheld = NULL;
	wsig = wbad_main = wbad_handler = 0;
	stop_signals = 0;
	wmain = pthread_self();
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	assert_int_equal(sigaction(SIGUSR1, &sa, NULL), 0);
	assert_int_equal(pthread_create(&sig, NULL, witness_signaler, NULL), 0);
	clock_gettime(CLOCK_MONOTONIC, &now);
	t_end = now.tv_sec * 1000000000ull + now.tv_nsec + stress_ms() * 1000000ull;
	do {
		for (int k = 0; k < 1000; k++, rounds++) {
			a1 = cw_objpool_pop(wpa);
			a2 = cw_objpool_pop(wpa);
			if (!a1 || !a2) {
				wbad_main++;
				break;
			}
			if (cw_objpool_pop(wpa))	/* A is empty: a miss, records A's witness */
				wbad_main++;
			cw_objpool_push(wpa, a1);
			if (!(x = cw_objpool_pop(wpa))) {	/* a1 is back: must be found */
				wbad_main++;
				x = a1;
			}
			cw_objpool_push(wpa, x);
			cw_objpool_push(wpa, a2);
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
	} while (now.tv_sec * 1000000000ull + now.tv_nsec < t_end && !wbad_main);
	__atomic_store_n(&stop_signals, 1, __ATOMIC_RELAXED);
	pthread_join(sig, NULL);
	signal(SIGUSR1, SIG_DFL);
	if (wheld)
		assert_int_equal(cw_objpool_push(wpb, wheld), 0);
	printf("witness vs handlers: %llu rounds, %llu handler runs, %llu wrong answers in the thread, %llu in "
	       "handlers\n", (unsigned long long)rounds, (unsigned long long)wsig,
	       (unsigned long long)wbad_main, (unsigned long long)wbad_handler);
	assert_int_equal(wbad_main, 0);
	assert_int_equal(wbad_handler, 0);
	assert_true(wsig > 0);
	assert_int_equal(cw_objpool_fini(wpa), 0);
	assert_int_equal(cw_objpool_fini(wpb), 0);
}

static void test_freelist(void **state)
{
	struct cw_freelist *fl;
	assert_int_equal(cw_freelist_init(&fl, 8, sizeof(struct sobj), NULL, NULL, 0), 0);
	struct impl im = { "freelist, 8 objects", fl_pop, fl_push, fl, 8, fl_obj, NULL };
	run_stress(&im);
	cw_freelist_fini(fl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_objpool_percpu_scarce),
		cmocka_unit_test(test_objpool_scatter),
		cmocka_unit_test(test_objpool_scatter_scarce),
		cmocka_unit_test(test_objpool_one_small_ring),
		cmocka_unit_test(test_objpool_witness_signals),
		cmocka_unit_test(test_freelist),
	};
	setvbuf(stdout, NULL, _IOLBF, 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
