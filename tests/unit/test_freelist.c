/* Unit tests of the freelist baseline (src/objpool/freelist.h): contract, limits, LIFO, threads. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "objpool/freelist.h"

static int count_init(void *obj, void *ctx)
{
	*(int *)obj = ++*(int *)ctx;
	return 0;
}

static int fail_init(void *obj, void *ctx)
{
	return -EBADMSG;
}

static void test_invalid_params(void **state)
{
	struct cw_freelist *fl = (void *)1;

	assert_int_equal(cw_freelist_init(NULL, 4, 8, NULL, NULL, 0), -EINVAL);
	assert_int_equal(cw_freelist_init(&fl, 0, 8, NULL, NULL, 0), -EINVAL);
	assert_null(fl);
	assert_int_equal(cw_freelist_init(&fl, CW_FREELIST_MAX_OBJS + 1, 8, NULL, NULL, 0), -EINVAL);
	assert_int_equal(cw_freelist_init(&fl, 4, 0, NULL, NULL, 0), -EINVAL);
	assert_int_equal(cw_freelist_init(&fl, 4, CW_FREELIST_MAX_OBJ_SIZE + 1, NULL, NULL, 0), -EINVAL);
	assert_int_equal(cw_freelist_init(&fl, 4, 8, NULL, NULL, 0x10), -EINVAL);
	assert_int_equal(cw_freelist_init(&fl, 4, 8, fail_init, NULL, 0), -EBADMSG);
	assert_null(fl);
	cw_freelist_fini(NULL);
}

static void test_lifo_and_checking(void **state)
{
	struct cw_freelist *fl;
	int n = 0, local;
	void *a, *b;

	assert_int_equal(cw_freelist_init(&fl, 3, 20, count_init, &n, CW_FREELIST_F_CHECK), 0);
	assert_int_equal(n, 3);
	assert_int_equal(cw_freelist_nr_objs(fl), 3);
	a = cw_freelist_pop(fl);
	assert_ptr_equal(a, cw_freelist_obj(fl, 0));
	assert_int_equal(*(int *)a, 3);	/* initialised in reverse, pushed in reverse */
	assert_int_equal((uintptr_t)a % 16, 0);
	b = cw_freelist_pop(fl);
	assert_ptr_equal(b, cw_freelist_obj(fl, 1));
	assert_non_null(cw_freelist_pop(fl));
	assert_null(cw_freelist_pop(fl));
	assert_int_equal(cw_freelist_push(fl, &local), -EINVAL);
	assert_int_equal(cw_freelist_push(fl, (char *)a + 16), -EINVAL);
	assert_int_equal(cw_freelist_push(fl, a), 0);
	assert_int_equal(cw_freelist_push(fl, b), 0);
	assert_ptr_equal(cw_freelist_pop(fl), b);	/* LIFO */
	assert_ptr_equal(cw_freelist_pop(fl), a);
	assert_null(cw_freelist_pop(fl));
	assert_null(cw_freelist_obj(fl, 3));
	cw_freelist_fini(fl);
}

struct mt {
	struct cw_freelist *fl;
	int iters;
	int errors;
};

static void *mt_worker(void *arg)
{
	struct mt *m = arg;
	uintptr_t me = (uintptr_t)pthread_self();
	uintptr_t *held[3];

	for (int i = 0; i < m->iters; i++) {
		int k = 0;
		for (; k < 1 + i % 3; k++) {
			held[k] = cw_freelist_pop(m->fl);
			if (!held[k])
				break;
			uintptr_t zero = 0;
			if (!__atomic_compare_exchange_n(held[k], &zero, me, 0, __ATOMIC_RELAXED,
							 __ATOMIC_RELAXED))
				__atomic_fetch_add(&m->errors, 1, __ATOMIC_RELAXED);
		}
		while (k-- > 0) {
			__atomic_store_n(held[k], 0, __ATOMIC_RELAXED);
			cw_freelist_push(m->fl, held[k]);
		}
	}
	return NULL;
}

static void test_threads(void **state)
{
	enum { T = 4, N = 5 };
	struct mt m = { .iters = 20000 };
	pthread_t th[T];
	void *got[N];

	assert_int_equal(cw_freelist_init(&m.fl, N, sizeof(uintptr_t), NULL, NULL, 0), 0);
	for (int i = 0; i < T; i++)
		assert_int_equal(pthread_create(&th[i], NULL, mt_worker, &m), 0);
	for (int i = 0; i < T; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(m.errors, 0);
	for (int i = 0; i < N; i++) {
		got[i] = cw_freelist_pop(m.fl);
		assert_non_null(got[i]);
		for (int j = 0; j < i; j++)
			assert_ptr_not_equal(got[i], got[j]);
	}
	assert_null(cw_freelist_pop(m.fl));
	cw_freelist_fini(m.fl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_invalid_params),
		cmocka_unit_test(test_lifo_and_checking),
		cmocka_unit_test(test_threads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
