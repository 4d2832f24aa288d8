/* Unit tests of the per-CPU object pool (src/objpool/objpool.h): contract, limits, checking, lifecycle. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <time.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "objpool/objpool.h"

static int count_init(void *obj, void *ctx)
{
	int *n = ctx;
	/* objects arrive zeroed */
	for (size_t i = 0; i < 8; i++)
		if (((unsigned char *)obj)[i])
			return -EIO;
	*(int *)obj = ++*n;
	return 0;
}

static int fail_third(void *obj, void *ctx)
{
	int *n = ctx;
	return ++*n == 3 ? -ENOTSUP : 0;
}

static void test_invalid_params(void **state)
{
	struct cw_objpool *p = (void *)1;

	assert_int_equal(cw_objpool_init(NULL, 4, 8, 0, NULL, NULL, 0), -EINVAL);
	assert_int_equal(cw_objpool_init(&p, 0, 8, 0, NULL, NULL, 0), -EINVAL);
	assert_null(p);
	assert_int_equal(cw_objpool_init(&p, CW_OBJPOOL_MAX_OBJS + 1, 8, 0, NULL, NULL, 0), -EINVAL);
	assert_int_equal(cw_objpool_init(&p, 4, 0, 0, NULL, NULL, 0), -EINVAL);
	assert_int_equal(cw_objpool_init(&p, 4, CW_OBJPOOL_MAX_OBJ_SIZE + 1, 0, NULL, NULL, 0), -EINVAL);
	/* each within its limit, together past the byte limit */
	assert_int_equal(cw_objpool_init(&p, CW_OBJPOOL_MAX_OBJS, 64, 0, NULL, NULL, 0), -EINVAL);
	assert_int_equal(cw_objpool_init(&p, 4, 8, CW_OBJPOOL_MAX_SLOTS + 1, NULL, NULL, 0), -EINVAL);
	assert_int_equal(cw_objpool_init(&p, 4, 8, 0, NULL, NULL, 0x100), -EINVAL);
	assert_null(p);
	assert_int_equal(cw_objpool_init(&p, CW_OBJPOOL_MAX_BYTES / CW_OBJPOOL_MAX_OBJ_SIZE + 1,
					 CW_OBJPOOL_MAX_OBJ_SIZE, 1, NULL, NULL, 0), -EINVAL);
	assert_null(p);
	assert_int_equal(cw_objpool_fini(NULL), 0);
}

/* The largest pool by bytes works to its last object: the entry encoding holds the highest offsets.
 * (Object memory is mapped lazily and never touched here.) */
static void test_largest_pool(void **state)
{
	const uint32_t n = CW_OBJPOOL_MAX_BYTES / CW_OBJPOOL_MAX_OBJ_SIZE;
	struct cw_objpool *p;
	char *prev = NULL, *o = NULL;

	assert_int_equal(cw_objpool_init(&p, n, CW_OBJPOOL_MAX_OBJ_SIZE, 1, NULL, NULL, CW_OBJPOOL_F_CHECK), 0);
	for (uint32_t i = 0; i < n; i++) {
		o = cw_objpool_pop(p);
		assert_ptr_equal(o, cw_objpool_obj(p, i));	/* FIFO from the initial fill */
		if (prev)
			assert_int_equal(o - prev, CW_OBJPOOL_MAX_OBJ_SIZE);
		prev = o;
	}
	assert_null(cw_objpool_pop(p));
	assert_int_equal(cw_objpool_push(p, o), 0);
	assert_ptr_equal(cw_objpool_pop(p), o);
	assert_int_equal(cw_objpool_push(p, o), 0);
	assert_int_equal(cw_objpool_fini(p), (int)n - 1);
	for (uint32_t i = 0; i + 1 < n; i++)
		assert_int_equal(cw_objpool_drop(p, cw_objpool_obj(p, i)), 0);
}

static void test_init_callback(void **state)
{
	struct cw_objpool *p;
	int n = 0;

	assert_int_equal(cw_objpool_init(&p, 10, 12, 3, count_init, &n, 0), 0);
	assert_int_equal(n, 10);
	assert_int_equal(cw_objpool_obj_size(p), 16);
	for (uint32_t i = 0; i < 10; i++)
		assert_int_equal(*(int *)cw_objpool_obj(p, i), (int)i + 1);
	assert_null(cw_objpool_obj(p, 10));
	assert_int_equal(cw_objpool_fini(p), 0);

	n = 0;
	p = (void *)1;
	assert_int_equal(cw_objpool_init(&p, 10, 8, 0, fail_third, &n, 0), -ENOTSUP);
	assert_null(p);
}

static void test_pop_push_all(void **state)
{
	enum { N = 100 };
	struct cw_objpool *p;
	void *got[N];
	uint32_t sum = 0;

	assert_int_equal(cw_objpool_init(&p, N, 40, 4, NULL, NULL, CW_OBJPOOL_F_CHECK), 0);
	assert_int_equal(cw_objpool_nr_slots(p), 4);
	/* spread evenly: 25 per ring */
	for (uint32_t s = 0; s < 4; s++)
		assert_int_equal(cw_objpool_slot_count(p, s), 25);
	for (int round = 0; round < 3; round++) {
		char seen[N] = { 0 };
		for (int i = 0; i < N; i++) {
			got[i] = cw_objpool_pop(p);
			assert_non_null(got[i]);
			size_t off = (char *)got[i] - (char *)cw_objpool_obj(p, 0);
			assert_int_equal(off % 48, 0);
			assert_true(off / 48 < N);
			assert_int_equal(seen[off / 48]++, 0);
			assert_int_equal((uintptr_t)got[i] % 16, 0);
			memset(got[i], round + 1, 40);
		}
		assert_null(cw_objpool_pop(p));
		for (int i = 0; i < N; i++)
			assert_int_equal(cw_objpool_push(p, got[i]), 0);
		sum = 0;
		for (uint32_t s = 0; s < 4; s++)
			sum += cw_objpool_slot_count(p, s);
		assert_int_equal(sum, N);
	}
	/* contents survive a round trip */
	void *o = cw_objpool_pop(p);
	assert_int_equal(((unsigned char *)o)[39], 3);
	assert_int_equal(cw_objpool_push(p, o), 0);
	assert_int_equal(cw_objpool_fini(p), 0);
}

/* Many laps around a small ring: positions wrap the mask thousands of times. */
static void test_ring_wraps(void **state)
{
	struct cw_objpool *p;
	void *a, *b, *c;

	assert_int_equal(cw_objpool_init(&p, 3, 8, 1, NULL, NULL, 0), 0);
	for (int i = 0; i < 100000; i++) {
		a = cw_objpool_pop(p);
		b = cw_objpool_pop(p);
		c = cw_objpool_pop(p);
		assert_non_null(a);
		assert_non_null(b);
		assert_non_null(c);
		assert_true(a != b && b != c && a != c);
		assert_null(cw_objpool_pop(p));
		assert_int_equal(cw_objpool_push(p, c), 0);
		assert_int_equal(cw_objpool_push(p, a), 0);
		if (i & 1) {
			assert_int_equal(cw_objpool_push(p, b), 0);
		} else {
			/* FIFO within a ring: c comes back first */
			assert_ptr_equal(cw_objpool_pop(p), c);
			assert_int_equal(cw_objpool_push(p, b), 0);
			assert_int_equal(cw_objpool_push(p, c), 0);
		}
		assert_int_equal(cw_objpool_slot_count(p, 0), 3);
	}
	assert_int_equal(cw_objpool_fini(p), 0);
}

static void test_checking(void **state)
{
	struct cw_objpool *p;
	int local;
	char *o;

	assert_int_equal(cw_objpool_init(&p, 4, 24, 2, NULL, NULL, CW_OBJPOOL_F_CHECK), 0);
	o = cw_objpool_pop(p);
	assert_non_null(o);
	assert_int_equal(cw_objpool_push(p, &local), -EINVAL);
	assert_int_equal(cw_objpool_push(p, o + 8), -EINVAL);		/* inside an object */
	assert_int_equal(cw_objpool_push(p, (char *)cw_objpool_obj(p, 3) + 32), -EINVAL); /* past the end */
	assert_int_equal(cw_objpool_push(p, (char *)cw_objpool_obj(p, 0) - 32), -EINVAL); /* before */
	assert_int_equal(cw_objpool_push(p, NULL), -EINVAL);
	assert_int_equal(cw_objpool_drop(p, &local), -EINVAL);
	/* none of that changed the pool */
	assert_int_equal(cw_objpool_slot_count(p, 0) + cw_objpool_slot_count(p, 1), 3);
	assert_int_equal(cw_objpool_push(p, o), 0);
	assert_int_equal(cw_objpool_slot_count(p, 0) + cw_objpool_slot_count(p, 1), 4);
	assert_int_equal(cw_objpool_fini(p), 0);
}

/* A double push overflows a ring whose capacity equals the object count: reported, not absorbed. */
static void test_double_push_overflow(void **state)
{
	struct cw_objpool *p;
	void *seen[4];

	assert_int_equal(cw_objpool_init(&p, 4, 8, 1, NULL, NULL, 0), 0);
	void *o = cw_objpool_pop(p);
	assert_int_equal(cw_objpool_push(p, o), 0);
	assert_int_equal(cw_objpool_push(p, o), -EOVERFLOW);
	/* the ring still holds the four objects, each once */
	for (int i = 0; i < 4; i++) {
		seen[i] = cw_objpool_pop(p);
		assert_non_null(seen[i]);
		for (int j = 0; j < i; j++)
			assert_ptr_not_equal(seen[i], seen[j]);
	}
	assert_null(cw_objpool_pop(p));
	for (int i = 0; i < 4; i++)
		assert_int_equal(cw_objpool_push(p, seen[i]), 0);
	assert_int_equal(cw_objpool_fini(p), 0);
}

static void test_fini_and_drop(void **state)
{
	struct cw_objpool *p;
	void *a, *b, *c;

	assert_int_equal(cw_objpool_init(&p, 5, 8, 2, NULL, NULL, CW_OBJPOOL_F_CHECK), 0);
	a = cw_objpool_pop(p);
	b = cw_objpool_pop(p);
	c = cw_objpool_pop(p);
	assert_int_equal(cw_objpool_drop(p, c), 0);	/* dropped before fini: never comes back */
	assert_int_equal(cw_objpool_drop(NULL, a), -EINVAL);
	assert_int_equal(cw_objpool_drop(p, NULL), -EINVAL);
	assert_int_equal(cw_objpool_fini(p), 2);	/* a and b still out */
	assert_int_equal(cw_objpool_push(p, a), -ESHUTDOWN);	/* checking sees the misuse */
	assert_int_equal(cw_objpool_drop(p, a), 0);
	assert_int_equal(cw_objpool_drop(p, b), 0);	/* the last one frees the pool */
}

/* The miss path: a miss on an empty pool reads the hint words instead of visiting every ring, closes the
 * rings it saw empty (their hint bits cleared, its own ring's too), and a push reopens a closed ring so
 * that the next pop finds the object. 70 rings: three hint words. */
static int pin(int cpu)
{
	cpu_set_t one;

	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	return sched_setaffinity(0, sizeof(one), &one);
}

/* The close policy made exact (objpool.c, "When to close"): idle_miss() is a miss that closes the ring
 * its thread saw empty and unchanged before (threshold 0); with never_close() a miss never closes one. */
static void idle_miss(struct cw_objpool *p)
{
	uint64_t saved = cw_objpool_idle_ticks;
	cw_objpool_idle_ticks = 0;
	assert_null(cw_objpool_pop(p));
	cw_objpool_idle_ticks = saved;
}

static uint64_t never_close(void)
{
	uint64_t saved = cw_objpool_idle_ticks;
	cw_objpool_idle_ticks = UINT64_MAX;
	return saved;
}

static uint32_t nr_hinted(struct cw_objpool *p)
{
	uint32_t n = 0;
	for (uint32_t r = 0; r < cw_objpool_nr_slots(p); r++)
		n += cw_objpool_slot_hinted(p, r) == 1;
	return n;
}

static void test_miss_empty_pool(void **state)
{
	struct cw_objpool *p;
	cpu_set_t saved;
	void *o[3], *x;
	uint32_t closes = 0;

	assert_int_equal(sched_getaffinity(0, sizeof(saved), &saved), 0);
	assert_int_equal(cw_objpool_init(&p, 3, 16, 70, NULL, NULL, CW_OBJPOOL_F_CHECK), 0);
	if (pin(0)) {
		cw_objpool_fini(p);
		skip();
	}
	for (uint32_t r = 0; r < 70; r++)
		assert_true(cw_objpool_slot_hinted(p, r));	/* all "may be non-empty" at first */
	uint64_t dflt = never_close();
	for (int i = 0; i < 3; i++)
		assert_non_null(o[i] = cw_objpool_pop(p));
	assert_true(o[0] != o[1] && o[1] != o[2] && o[0] != o[2]);
	for (int i = 0; i < 3; i++)
		assert_null(cw_objpool_pop(p));
	assert_int_equal(nr_hinted(p), 70);	/* rings found empty are not closed before they stay so */
	/* with the default threshold, after a 2 ms pause each miss closes exactly one more of the other 69
	 * rings (the one its thread's memo follows), never ring 0, ours */
	cw_objpool_idle_ticks = dflt;
	while (nr_hinted(p) > 1 && closes < 200) {
		struct timespec ms2 = { 0, 2 * 1000 * 1000 };
		uint32_t before = nr_hinted(p);
		nanosleep(&ms2, NULL);
		assert_null(cw_objpool_pop(p));
		assert_int_equal(nr_hinted(p), before - 1);
		closes++;
	}
	assert_int_equal(nr_hinted(p), 1);
	assert_true(cw_objpool_slot_hinted(p, 0));	/* the popper's own ring stays open */
	assert_int_equal(closes, 69);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(cw_objpool_push(p, o[i]), 0);
		assert_non_null(x = cw_objpool_pop(p));
		assert_ptr_equal(x, o[i]);
		assert_null(cw_objpool_pop(p));
		assert_int_equal(cw_objpool_push(p, x), 0);
		assert_non_null(x = cw_objpool_pop(p));	/* the miss did not lose it */
		o[i] = x;
	}
	sched_setaffinity(0, sizeof(saved), &saved);
	for (int i = 0; i < 3; i++)
		assert_int_equal(cw_objpool_push(p, o[i]), 0);
	assert_int_equal(cw_objpool_fini(p), 0);	/* all three back */
}

/* Stealing starts at the thread's guess of the other ring's head (objpool.c, "Stealing without the
 * cursor"). The guesses sit in a 16-entry table indexed by ring and pool id, so pools whose ids differ by
 * 16 share an entry for the same ring: a guess left by another pool must not hide objects. Pool b's ring
 * 1 keeps 2 objects at positions 2 and 3; pool a, 16 pools later, leaves the guess "ring 1 is empty at
 * position 4"; b's pops must still find both (taken at face value, position 4 of b's ring 1 is unfilled:
 * a miss on a pool holding two objects). Runs on CPU 0 only: ring 0 is the own ring, ring 1 another
 * CPU's. */
static void test_steal_guess_other_pool(void **state)
{
	struct cw_objpool *a, *b, *x;
	cpu_set_t saved;
	void *o[9];

	assert_int_equal(sched_getaffinity(0, sizeof(saved), &saved), 0);
	assert_int_equal(cw_objpool_init(&b, 8, 16, 2, NULL, NULL, CW_OBJPOOL_F_CHECK), 0);
	for (int i = 0; i < 15; i++) {	/* pool ids are consecutive: a gets b's id + 16 */
		assert_int_equal(cw_objpool_init(&x, 1, 16, 2, NULL, NULL, 0), 0);
		assert_int_equal(cw_objpool_fini(x), 0);
	}
	assert_int_equal(cw_objpool_init(&a, 8, 16, 2, NULL, NULL, CW_OBJPOOL_F_CHECK), 0);
	if (pin(0)) {
		cw_objpool_fini(a);
		cw_objpool_fini(b);
		skip();
	}
	uint64_t dflt = never_close();
	for (int i = 0; i < 6; i++)	/* b: ring 0's four, then ring 1's positions 0 and 1 */
		assert_non_null(o[i] = cw_objpool_pop(b));
	assert_int_equal(cw_objpool_slot_count(b, 1), 2);
	for (int i = 0; i < 6; i++)
		assert_int_equal(cw_objpool_push(b, o[i]), 0);	/* into ring 0 */
	for (int i = 0; i < 8; i++)	/* a: all of both rings; then ring 1 is empty at position 4 */
		assert_non_null(o[i] = cw_objpool_pop(a));
	assert_null(cw_objpool_pop(a));
	for (int i = 0; i < 8; i++)
		assert_int_equal(cw_objpool_push(a, o[i]), 0);
	for (int i = 0; i < 8; i++) {
		assert_non_null(o[i] = cw_objpool_pop(b));
		for (int j = 0; j < i; j++)
			assert_ptr_not_equal(o[i], o[j]);
	}
	assert_int_equal(cw_objpool_slot_count(b, 1), 0);
	assert_null(cw_objpool_pop(b));
	cw_objpool_idle_ticks = dflt;
	sched_setaffinity(0, sizeof(saved), &saved);
	for (int i = 0; i < 8; i++)
		assert_int_equal(cw_objpool_push(b, o[i]), 0);
	assert_int_equal(cw_objpool_fini(a), 0);
	assert_int_equal(cw_objpool_fini(b), 0);
}

/* A guess that is right (C >= guess) but far behind, because another thread stole meanwhile: the thief
 * walks over at most a line of consumed positions, then starts again from head, which the other thief
 * moved after itself. 64 objects on two rings, 32 in ring 1. This thread (CPU 0) takes ring 0's 32 and
 * ring 1's positions 0-3; a second thread on CPU 0 takes positions 4-23; this thread's guess (4) is then
 * 20 behind C, and its next pops must take exactly positions 24-31 and then miss. */
struct behind_arg {
	struct cw_objpool *p;
	void *got[20];
	int n;
};

static void *behind_thief(void *argp)
{
	struct behind_arg *arg = argp;

	if (pin(0))
		return NULL;
	while (arg->n < 20 && (arg->got[arg->n] = cw_objpool_pop(arg->p)))
		arg->n++;
	return NULL;
}

static void test_steal_guess_behind(void **state)
{
	struct behind_arg arg = { 0 };
	struct cw_objpool *p;
	cpu_set_t saved;
	pthread_t th;
	void *o[64];
	int n = 0;

	assert_int_equal(sched_getaffinity(0, sizeof(saved), &saved), 0);
	assert_int_equal(cw_objpool_init(&p, 64, 16, 2, NULL, NULL, CW_OBJPOOL_F_CHECK), 0);
	if (pin(0)) {
		cw_objpool_fini(p);
		skip();
	}
	uint64_t dflt = never_close();
	for (; n < 36; n++)
		assert_non_null(o[n] = cw_objpool_pop(p));
	assert_int_equal(cw_objpool_slot_count(p, 1), 28);
	arg.p = p;
	assert_int_equal(pthread_create(&th, NULL, behind_thief, &arg), 0);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(arg.n, 20);
	assert_int_equal(cw_objpool_slot_count(p, 1), 8);
	for (int i = 0; i < 20; i++)
		o[n++] = arg.got[i];
	for (int i = 0; i < 8; i++)
		assert_non_null(o[n++] = cw_objpool_pop(p));
	assert_null(cw_objpool_pop(p));
	assert_int_equal(cw_objpool_slot_count(p, 1), 0);
	for (int i = 0; i < 64; i++)	/* every object exactly once */
		for (int j = 0; j < i; j++)
			assert_ptr_not_equal(o[i], o[j]);
	cw_objpool_idle_ticks = dflt;
	sched_setaffinity(0, sizeof(saved), &saved);
	for (int i = 0; i < 64; i++)
		assert_int_equal(cw_objpool_push(p, o[i]), 0);
	assert_int_equal(cw_objpool_fini(p), 0);
}

/* The one object left in the pool sits in another CPU's ring, which a miss from this CPU had closed: the
 * push there reopens it and the next pop here finds it; then the same the other way round. Needs two
 * CPUs the test may run on. */
static void test_pop_finds_other_ring(void **state)
{
	struct cw_objpool *p;
	cpu_set_t saved;
	int c[2], n = 0;
	void *a, *b, *x;

	assert_int_equal(sched_getaffinity(0, sizeof(saved), &saved), 0);
	assert_int_equal(cw_objpool_init(&p, 2, 8, 0, NULL, NULL, CW_OBJPOOL_F_CHECK), 0);
	for (int i = 0; i < CPU_SETSIZE && i < (int)cw_objpool_nr_slots(p) && n < 2; i++)
		if (CPU_ISSET(i, &saved))
			c[n++] = i;
	if (n < 2 || pin(c[0]) || pin(c[1])) {
		sched_setaffinity(0, sizeof(saved), &saved);
		cw_objpool_fini(p);
		skip();
	}
	uint64_t dflt = never_close();
	assert_int_equal(pin(c[0]), 0);
	assert_non_null(a = cw_objpool_pop(p));
	assert_non_null(b = cw_objpool_pop(p));
	assert_null(cw_objpool_pop(p));
	assert_true(cw_objpool_slot_hinted(p, c[1]));	/* c1's empty ring, seen once: left open */
	assert_true(cw_objpool_slot_hinted(p, c[0]));	/* our own: never closed by us */
	idle_miss(p);
	assert_false(cw_objpool_slot_hinted(p, c[1]));	/* empty and unchanged for a while: closed */
	assert_true(cw_objpool_slot_hinted(p, c[0]));
	assert_null(cw_objpool_pop(p));	/* alone now: through the witness of our ring */

	assert_int_equal(pin(c[1]), 0);
	assert_int_equal(cw_objpool_push(p, b), 0);	/* into ring c1: reopens it */
	assert_true(cw_objpool_slot_hinted(p, c[1]));
	assert_int_equal(cw_objpool_slot_count(p, c[1]), 1);
	assert_int_equal(pin(c[0]), 0);
	assert_non_null(x = cw_objpool_pop(p));	/* own ring empty: found through the hint */
	assert_ptr_equal(x, b);
	assert_null(cw_objpool_pop(p));

	/* A ring that was refilled and emptied between two misses is not idle, however long ago the first
	 * miss saw it empty: the memo compares the entry at head, which a push and a pop move on. */
	assert_int_equal(pin(c[1]), 0);
	assert_int_equal(cw_objpool_push(p, b), 0);
	assert_non_null(x = cw_objpool_pop(p));
	assert_ptr_equal(x, b);
	assert_int_equal(pin(c[0]), 0);
	idle_miss(p);
	assert_true(cw_objpool_slot_hinted(p, c[1]));
	idle_miss(p);					/* unchanged since the last miss: now closed */
	assert_false(cw_objpool_slot_hinted(p, c[1]));

	assert_int_equal(cw_objpool_push(p, a), 0);	/* into ring c0 */
	assert_int_equal(pin(c[1]), 0);
	assert_non_null(x = cw_objpool_pop(p));	/* c1 closed and empty, c0 hinted */
	assert_ptr_equal(x, a);
	assert_null(cw_objpool_pop(p));
	assert_true(cw_objpool_slot_hinted(p, c[0]));	/* seen empty once */
	idle_miss(p);
	assert_false(cw_objpool_slot_hinted(p, c[0]));
	assert_int_equal(pin(c[0]), 0);
	assert_int_equal(cw_objpool_push(p, a), 0);	/* reopens c0 */
	assert_true(cw_objpool_slot_hinted(p, c[0]));
	assert_int_equal(pin(c[1]), 0);
	assert_non_null(x = cw_objpool_pop(p));
	assert_ptr_equal(x, a);

	/* Now c1 is closed and c0 empty but open (its bit set). A miss on c0 finds no other ring hinted
	 * ("alone"): it remembers c0 in the witness (objpool.c, "The empty witness"). A push that reopens c1
	 * must still be found: the witness speaks for c0 only. */
	assert_false(cw_objpool_slot_hinted(p, c[1]));
	assert_int_equal(pin(c[0]), 0);
	assert_null(cw_objpool_pop(p));
	assert_true(cw_objpool_slot_hinted(p, c[0]));
	assert_null(cw_objpool_pop(p));			/* through the witness */
	assert_int_equal(pin(c[1]), 0);
	assert_int_equal(cw_objpool_push(p, a), 0);	/* reopens c1 */
	assert_int_equal(pin(c[0]), 0);
	assert_non_null(x = cw_objpool_pop(p));		/* not hidden by c0's witness */
	assert_ptr_equal(x, a);

	cw_objpool_idle_ticks = dflt;
	sched_setaffinity(0, sizeof(saved), &saved);
	assert_int_equal(cw_objpool_push(p, a), 0);
	assert_int_equal(cw_objpool_push(p, b), 0);
	assert_int_equal(cw_objpool_fini(p), 0);
}

/* The empty witness (objpool.c, "The empty witness"): a pop that finds nothing while no other ring is
 * hinted leaves its ring open (bit set) and remembers its empty head entry; the next misses check that
 * entry. Any fill of the ring must end the witness: a push from this thread, from another thread, from
 * a signal handler. One ring, so the pop is always "alone". */
static struct cw_objpool *sig_pool;
static void *sig_obj;

static void push_in_handler(int sig)
{
	cw_objpool_push(sig_pool, sig_obj);
}

static void *push_other_thread(void *obj)
{
	return (void *)(intptr_t)cw_objpool_push(sig_pool, obj);
}

static void test_miss_witness(void **state)
{
	struct cw_objpool *p;
	struct sigaction sa = { .sa_handler = push_in_handler }, old;
	pthread_t th;
	void *a, *b, *x, *rc;

	assert_int_equal(cw_objpool_init(&p, 2, 16, 1, NULL, NULL, CW_OBJPOOL_F_CHECK), 0);
	assert_non_null(a = cw_objpool_pop(p));
	assert_non_null(b = cw_objpool_pop(p));
	assert_null(cw_objpool_pop(p));
	assert_true(cw_objpool_slot_hinted(p, 0));	/* alone: not closed, remembered */
	assert_null(cw_objpool_pop(p));			/* the witness holds */
	assert_int_equal(cw_objpool_push(p, a), 0);	/* fills the remembered entry */
	assert_non_null(x = cw_objpool_pop(p));
	assert_ptr_equal(x, a);
	assert_null(cw_objpool_pop(p));

	sig_pool = p;	/* another thread pushes into the remembered ring */
	assert_int_equal(pthread_create(&th, NULL, push_other_thread, a), 0);
	assert_int_equal(pthread_join(th, &rc), 0);
	assert_int_equal((intptr_t)rc, 0);
	assert_non_null(x = cw_objpool_pop(p));
	assert_ptr_equal(x, a);
	assert_null(cw_objpool_pop(p));

	sig_obj = a;	/* a signal handler on this thread pushes */
	sigemptyset(&sa.sa_mask);
	assert_int_equal(sigaction(SIGUSR2, &sa, &old), 0);
	assert_int_equal(raise(SIGUSR2), 0);
	sigaction(SIGUSR2, &old, NULL);
	assert_non_null(x = cw_objpool_pop(p));
	assert_ptr_equal(x, a);

	/* The witness names its pool: this thread's witness of p (entry 0 unfilled in lap 1) must not
	 * answer for a new pool, likely at the same addresses, whose entry 0 shows the same value while
	 * its entry 1 still holds an object. */
	assert_null(cw_objpool_pop(p));
	assert_int_equal(cw_objpool_fini(p), 2);
	assert_int_equal(cw_objpool_drop(p, a), 0);
	assert_int_equal(cw_objpool_drop(p, b), 0);
	assert_int_equal(cw_objpool_init(&p, 2, 16, 1, NULL, NULL, 0), 0);
	assert_non_null(a = cw_objpool_pop(p));
	assert_non_null(b = cw_objpool_pop(p));
	assert_int_equal(cw_objpool_push(p, a), 0);
	assert_int_equal(cw_objpool_push(p, b), 0);
	assert_int_equal(cw_objpool_fini(p), 0);
}

/* More than 32 rings (two hint words): a pop visits its own ring before any hint word, so a miss closes
 * its own ring only when it saw some other ring hinted, in any word; alone, it leaves it open (no
 * witness needed). Pinned to CPU 0: ring 0 is ours; each of the 40 rings starts with one object. */
static void test_miss_policy_two_words(void **state)
{
	struct cw_objpool *p;
	cpu_set_t saved;
	void *o[40], *x;
	int closes = 0;

	assert_int_equal(sched_getaffinity(0, sizeof(saved), &saved), 0);
	assert_int_equal(cw_objpool_init(&p, 40, 16, 40, NULL, NULL, CW_OBJPOOL_F_CHECK), 0);
	if (pin(0)) {
		cw_objpool_fini(p);
		skip();
	}
	uint64_t dflt = never_close();
	for (int i = 0; i < 40; i++)
		assert_non_null(o[i] = cw_objpool_pop(p));
	assert_null(cw_objpool_pop(p));
	assert_int_equal(nr_hinted(p), 40);		/* found empty: none closed */
	while (nr_hinted(p) > 1 && closes < 100) {	/* rings 1..39, both hint words, one per pause */
		idle_miss(p);
		closes++;
	}
	assert_int_equal(closes, 39);
	assert_true(cw_objpool_slot_hinted(p, 0));	/* ours: open (two words: no witness either) */
	assert_int_equal(cw_objpool_push(p, o[0]), 0);	/* ring 0, open: no reopen needed */
	assert_non_null(x = cw_objpool_pop(p));
	assert_ptr_equal(x, o[0]);
	assert_null(cw_objpool_pop(p));
	assert_true(cw_objpool_slot_hinted(p, 0));
	for (uint32_t r = 1; r < 40; r++)
		assert_false(cw_objpool_slot_hinted(p, r));
	assert_int_equal(cw_objpool_push(p, x), 0);
	assert_non_null(x = cw_objpool_pop(p));		/* found in the open ring */
	assert_ptr_equal(x, o[0]);
	cw_objpool_idle_ticks = dflt;
	sched_setaffinity(0, sizeof(saved), &saved);
	for (int i = 0; i < 40; i++)
		assert_int_equal(cw_objpool_push(p, o[i]), 0);
	assert_int_equal(cw_objpool_fini(p), 0);
}

/* The CPU hint works (rseq, or sched_getcpu() when run with rseq disabled, see tests/e2e/objpool_norseq):
 * pinned to CPU c, a push lands in ring c and a pop takes from ring c first. */
static void test_push_to_current_cpu(void **state)
{
	struct cw_objpool *p;
	cpu_set_t saved, one;
	int tried = 0;

	assert_int_equal(sched_getaffinity(0, sizeof(saved), &saved), 0);
	assert_int_equal(cw_objpool_init(&p, 64, 8, 0, NULL, NULL, CW_OBJPOOL_F_CHECK), 0);
	for (uint32_t c = 0; c < cw_objpool_nr_slots(p) && c < CPU_SETSIZE; c++) {
		if (!CPU_ISSET(c, &saved))
			continue;
		CPU_ZERO(&one);
		CPU_SET(c, &one);
		if (sched_setaffinity(0, sizeof(one), &one))
			continue;
		tried++;
		uint32_t before = cw_objpool_slot_count(p, c);
		void *o = cw_objpool_pop(p);
		assert_non_null(o);
		assert_int_equal(cw_objpool_slot_count(p, c), before - 1);	/* from ring c */
		assert_int_equal(cw_objpool_push(p, o), 0);
		assert_int_equal(cw_objpool_slot_count(p, c), before);	/* back to ring c */
	}
	sched_setaffinity(0, sizeof(saved), &saved);
	assert_int_equal(cw_objpool_fini(p), 0);
	if (!tried)
		skip();
}

struct mt {
	struct cw_objpool *pool;
	int iters;
	int errors;
};

static void *mt_worker(void *arg)
{
	struct mt *m = arg;
	uintptr_t me = (uintptr_t)pthread_self();

	for (int i = 0; i < m->iters; i++) {
		uintptr_t *o = cw_objpool_pop(m->pool);
		if (!o)
			continue;
		uintptr_t zero = 0;
		if (!__atomic_compare_exchange_n(o, &zero, me, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
			__atomic_fetch_add(&m->errors, 1, __ATOMIC_RELAXED);	/* someone else holds it */
		__atomic_store_n(o, 0, __ATOMIC_RELAXED);
		if (cw_objpool_push(m->pool, o))
			__atomic_fetch_add(&m->errors, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

/* Threads share a few objects through rings they pick at random: no object is ever held twice, and all
 * come back. (The long version with signal handlers is test_objpool_stress.) */
static void test_threads_scatter(void **state)
{
	enum { T = 4, N = 6 };
	struct mt m = { .iters = 20000 };
	pthread_t th[T];
	void *got[N];

	assert_int_equal(cw_objpool_init(&m.pool, N, sizeof(uintptr_t), 3, NULL, NULL,
					 CW_OBJPOOL_F_SCATTER | CW_OBJPOOL_F_CHECK), 0);
	for (int i = 0; i < T; i++)
		assert_int_equal(pthread_create(&th[i], NULL, mt_worker, &m), 0);
	for (int i = 0; i < T; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(m.errors, 0);
	for (int i = 0; i < N; i++) {
		got[i] = cw_objpool_pop(m.pool);
		assert_non_null(got[i]);
		for (int j = 0; j < i; j++)
			assert_ptr_not_equal(got[i], got[j]);
	}
	assert_null(cw_objpool_pop(m.pool));
	for (int i = 0; i < N; i++)
		assert_int_equal(cw_objpool_push(m.pool, got[i]), 0);
	assert_int_equal(cw_objpool_fini(m.pool), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_invalid_params),
		cmocka_unit_test(test_largest_pool),
		cmocka_unit_test(test_init_callback),
		cmocka_unit_test(test_pop_push_all),
		cmocka_unit_test(test_ring_wraps),
		cmocka_unit_test(test_checking),
		cmocka_unit_test(test_double_push_overflow),
		cmocka_unit_test(test_fini_and_drop),
		cmocka_unit_test(test_push_to_current_cpu),
		cmocka_unit_test(test_miss_empty_pool),
		cmocka_unit_test(test_pop_finds_other_ring),
		cmocka_unit_test(test_steal_guess_other_pool),
		cmocka_unit_test(test_steal_guess_behind),
		cmocka_unit_test(test_miss_witness),
		cmocka_unit_test(test_miss_policy_two_words),
		cmocka_unit_test(test_threads_scatter),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
