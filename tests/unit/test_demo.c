/* Unit tests for src/demo's analysis: the event-wait share, the hot path through the wait stacks (from main,
 * majority rule), the self-time list, off-CPU time and pid filtering, on synthetic profiles with known
 * stacks; and the kernel-function name matching (clone suffixes, no prefix matches). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <string.h>
#include "demo/demo.h"

#define U(n) { .name = n, .obj = "select_server", .kernel = false }
#define L(n) { .name = n, .obj = "libc.so.6", .kernel = false }
#define K(n) { .name = n, .obj = "[kernel]", .kernel = true }
#define STACK(p, n, fr, s, off) { .comm = "srv", .pid = p, .tid = p, .nframes = n, .frames = fr, .samples = s, .offcpu_ns = off }

/* leaf first, as the profiler stores them */
static struct cw_pframe s_sock[] = { K("sock_poll"), K("do_select"), K("core_sys_select"), K("do_pselect.constprop.0"),
				     K("__x64_sys_pselect6"), K("do_syscall_64"), K("entry_SYSCALL_64_after_hwframe"),
				     L("__select"), U("poll_clients"), U("serve_forever"), U("main"),
				     L("__libc_start_call_main") };
static struct cw_pframe s_tcp[] = { K("tcp_poll"), K("sock_poll"), K("do_select"), K("core_sys_select"),
				    K("do_pselect.constprop.0"), K("__x64_sys_pselect6"), K("do_syscall_64"),
				    K("entry_SYSCALL_64_after_hwframe"), L("__select"), U("poll_clients"),
				    U("serve_forever"), U("main"), L("__libc_start_call_main") };
/* a wait stack whose user part did not unwind: still in the wait path (kernel frames), not on the path */
static struct cw_pframe s_broken[] = { K("fdget"), K("do_select"), K("core_sys_select"), L("libc.so.6+0x1234") };
static struct cw_pframe s_parse[] = { U("parse_request"), U("handle_request"), U("serve_forever"), U("main"),
				      L("__libc_start_call_main") };
static struct cw_pframe s_write[] = { K("tcp_sendmsg"), K("sock_write_iter"), L("__write"), U("send_response"),
				      U("handle_request"), U("serve_forever"), U("main"), L("__libc_start_call_main") };
static struct cw_pframe s_block[] = { K("__schedule"), K("schedule"), K("poll_schedule_timeout.constprop.0"),
				      K("do_select"), K("core_sys_select"), L("__select"), U("poll_clients"),
				      U("serve_forever"), U("main") };
/* another process, and a process named like the wait call's prefix */
static struct cw_pframe s_other[] = { K("do_select"), L("__select"), U("main") };
static struct cw_pframe s_prefix[] = { U("select_server_helper"), U("selector"), U("main") };

static struct cw_pstack stacks[] = {
	STACK(100, 12, s_sock, 300, 0),
	STACK(100, 13, s_tcp, 200, 0),
	STACK(100, 4, s_broken, 100, 0),
	STACK(100, 5, s_parse, 150, 0),
	STACK(100, 8, s_write, 250, 0),
	STACK(100, 9, s_block, 0, 7000000),
	STACK(200, 3, s_other, 999, 5),
	STACK(100, 3, s_prefix, 0, 0),
};
static const struct cw_profile prof = { .stacks = stacks, .nstacks = 8, .period_ns = 1000000, .freq_hz = 1000 };

static void test_shares(void **state)
{
	struct cw_demo_analysis a;
	assert_int_equal(cw_demo_analyze(&prof, 100, cw_demo_select_funcs, &a), 0);
	assert_int_equal(a.samples, 1000);
	assert_int_equal(a.wait_samples, 600);
	assert_int_equal(a.kernel_samples, 850);
	assert_true(a.wait_pct > 59.99 && a.wait_pct < 60.01);
	assert_true(a.kernel_pct > 84.99 && a.kernel_pct < 85.01);
	assert_int_equal(a.offcpu_ns, 7000000);
	assert_int_equal(a.offcpu_wait_ns, 7000000);
}

static void test_path(void **state)
{
	static const char *const want[] = { "main", "serve_forever", "poll_clients", "__select",
					    "entry_SYSCALL_64_after_hwframe", "do_syscall_64", "__x64_sys_pselect6",
					    "do_pselect.constprop.0", "core_sys_select", "do_select", "sock_poll" };
	struct cw_demo_analysis a;
	assert_int_equal(cw_demo_analyze(&prof, 100, cw_demo_select_funcs, &a), 0);
	/* 500 of the 600 wait samples unwound to main; sock_poll holds all 500 (300 self + 200 under it), and
	 * tcp_poll's 200 are less than half the wait samples: the path stops at sock_poll */
	assert_int_equal(a.npath, sizeof(want) / sizeof(want[0]));
	for (size_t i = 0; i < a.npath; i++)
		assert_string_equal(a.path[i].name, want[i]);
	assert_false(a.path[3].kernel);
	assert_true(a.path[4].kernel);
	assert_true(a.path[0].pct > 49.99 && a.path[0].pct < 50.01);
	assert_true(cw_demo_is_entry_glue("do_syscall_64"));
	assert_true(cw_demo_is_entry_glue("entry_SYSCALL_64_after_hwframe"));
	assert_false(cw_demo_is_entry_glue("do_select"));
}

static void test_top(void **state)
{
	struct cw_demo_analysis a;
	assert_int_equal(cw_demo_analyze(&prof, 100, cw_demo_select_funcs, &a), 0);
	assert_int_equal(a.ntop, 3); /* sock_poll 300, tcp_poll 200, fdget 100: self time in wait stacks only */
	assert_string_equal(a.top[0].name, "sock_poll");
	assert_string_equal(a.top[1].name, "tcp_poll");
	assert_string_equal(a.top[2].name, "fdget");
	assert_true(a.top[0].kernel);
	assert_true(a.top[0].pct > 29.99 && a.top[0].pct < 30.01);
}

static void test_other_wait_call(void **state)
{
	struct cw_demo_analysis a;
	/* nothing of the select path counts for epoll */
	assert_int_equal(cw_demo_analyze(&prof, 100, cw_demo_epoll_funcs, &a), 0);
	assert_int_equal(a.wait_samples, 0);
	assert_int_equal(a.npath, 0);
	assert_int_equal(a.ntop, 0);
	/* every pid: the other process's stack joins */
	assert_int_equal(cw_demo_analyze(&prof, 0, cw_demo_select_funcs, &a), 0);
	assert_int_equal(a.samples, 1999);
	assert_int_equal(a.wait_samples, 1599);
	assert_int_equal(cw_demo_analyze(&prof, 300, cw_demo_select_funcs, &a), -ENODATA);
}

static void test_empty(void **state)
{
	struct cw_profile empty = { 0 };
	struct cw_demo_analysis a;
	assert_int_equal(cw_demo_analyze(&empty, 100, cw_demo_select_funcs, &a), -ENODATA);
	assert_int_equal(a.npath, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shares),	cmocka_unit_test(test_path),  cmocka_unit_test(test_top),
		cmocka_unit_test(test_other_wait_call), cmocka_unit_test(test_empty),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
