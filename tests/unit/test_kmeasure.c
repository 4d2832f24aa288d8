/* Library-level tests of the kernel measurement source on this machine's kernel (tracepoint and sampling
 * backends): insert/read/reset/remove/close through struct cw_msource_ops, clear_stacks, per-thread reads,
 * and that close releases every program it loaded (checked by id). Skipped without root or BPF on perf events. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "kernel/features.h"
#include "kernel/kmeasure.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static pid_t child;

static void msleep(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

/* a child reading /dev/zero in a loop: kernel CPU time in sys:read under vfs_read */
static int setup(void **state)
{
	if (geteuid() != 0 || !cw_feature(CW_FEAT_BPF_PERF_EVENT) || !cw_feature(CW_FEAT_KALLSYMS))
		return 0;
	child = fork();
	if (child == 0) {
		static char buf[1 << 16];
		int fd = open("/dev/zero", O_RDONLY);
		for (;;)
			if (read(fd, buf, sizeof(buf)) <= 0)
				_exit(1);
	}
	return 0;
}

static int teardown(void **state)
{
	if (child > 0) {
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
	}
	return 0;
}

static void sampling_source(void **state)
{
	char err[256];
	struct cw_kresult r, v;
	if (child <= 0)
		skip();
	struct cw_msource *s = cw_ksource_open(child, "sampling", err, sizeof(err));
	assert_non_null(s);
	assert_string_equal(s->ops->name, "sampling");
	cw_ksource_set_per_thread(s, true);
	struct cw_mpoint *rd = s->ops->insert(s, "sys:read", err, sizeof(err));
	struct cw_mpoint *vr = s->ops->insert(s, "k:vfs_read", err, sizeof(err));
	assert_non_null(rd);
	assert_non_null(vr);
	assert_null(s->ops->insert(s, "k:no_such_function_xyz", err, sizeof(err)));
	assert_non_null(strstr(err, "no such kernel function"));
	msleep(400);

	assert_int_equal(cw_ksource_read(s, rd, &r), 0);
	assert_true(r.r.calls > 10 && r.calls_exact && r.time_exact);
	assert_string_equal(r.method, "tracepoint");
	assert_int_equal(cw_ksource_read(s, vr, &v), 0);
	assert_false(v.calls_exact);
	assert_false(v.time_exact);
	assert_true(v.samples > 5);
	assert_true(v.r.incl_ns <= r.r.incl_ns + v.ci95_ns + r.r.incl_ns / 10);

	/* per-thread: the child's one thread holds all of read's completed calls */
	struct cw_kthread_result *tv;
	size_t tn;
	assert_int_equal(cw_ksource_read_threads(s, rd, &tv, &tn), 0);
	assert_int_equal(tn, 1);
	assert_int_equal(tv[0].tid, child);
	free(tv);
	assert_int_equal(cw_ksource_read_threads(s, vr, &tv, &tn), -ENOTSUP);

	/* call tree: vfs_read is the point itself, with callees below it */
	struct cw_kcallee *cv;
	size_t cn;
	assert_int_equal(cw_ksource_callees(s, vr, 0.0, &cv, &cn), 0);
	assert_true(cn >= 2);
	assert_int_equal(cv[0].depth, 0);
	assert_true(cv[1].depth == 1 && cv[1].frac > 0 && cv[1].frac <= 1.0);
	free(cv);

	/* clear_stacks: trees and stack-derived results start over; exact counters do not */
	/* (the child keeps running while we read back: "zero" is a few ms of samples against 400) */
	uint64_t samples_before = v.samples;
	assert_int_equal(cw_ksource_clear_stacks(s), 0);
	assert_int_equal(cw_ksource_read(s, vr, &v), 0);
	assert_true(v.samples * 4 < samples_before);
	assert_int_equal(cw_ksource_read(s, rd, &r), 0);
	assert_true(r.r.calls > 10);

	/* reset: counted again from zero */
	uint64_t calls_before = r.r.calls;
	assert_int_equal(s->ops->reset(s, rd), 0);
	assert_int_equal(cw_ksource_read(s, rd, &r), 0);
	assert_true(r.r.calls * 4 < calls_before);
	assert_int_equal(cw_ksource_read_threads(s, rd, &tv, &tn), 0);
	assert_true(tn <= 1);
	free(tv);

	assert_int_equal(s->ops->remove(s, vr), 0);
	int loaded = 0;
	assert_int_equal(cw_ksource_close_checked(s, &loaded), 0);
	assert_true(loaded > 0);
}

static void tracepoint_refuses_kfunc(void **state)
{
	char err[256];
	if (child <= 0)
		skip();
	struct cw_msource *s = cw_ksource_open(child, "tracepoint", err, sizeof(err));
	assert_non_null(s);
	assert_null(s->ops->insert(s, "k:vfs_read", err, sizeof(err)));
	assert_non_null(strstr(err, "tracepoint backend"));
	assert_null(s->ops->insert(s, "sys:no_such_syscall", err, sizeof(err)));
	assert_non_null(s->ops->insert(s, "fault", err, sizeof(err)));
	assert_int_equal(cw_ksource_close_checked(s, NULL), 0);
	assert_null(cw_ksource_open(child, "nonsense", err, sizeof(err)));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sampling_source),
		cmocka_unit_test(tracepoint_refuses_kfunc),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
