/* Unit tests of the syscall table and close-match suggestions used by kmeasure's error messages. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "kernel/kclose.h"
#include "kernel/ksyscalls.h"

static void syscall_table(void **state)
{
	assert_int_equal(cw_syscall_nr("read"), 0);
	assert_int_equal(cw_syscall_nr("write"), 1);
	assert_int_equal(cw_syscall_nr("fsync"), 74);
	assert_int_equal(cw_syscall_nr("exit_group"), 231);
	assert_true(cw_syscall_nr("no_such_call") < 0);
	assert_string_equal(cw_syscall_name(0), "read");
	assert_string_equal(cw_syscall_name(74), "fsync");
	assert_null(cw_syscall_name(100000));
}

static void close_syscalls(void **state)
{
	const char *m[5];
	int n = cw_syscall_close("reed", m, 5);
	assert_true(n >= 1);
	assert_string_equal(m[0], "read");
	n = cw_syscall_close("fsyn", m, 5);
	assert_true(n >= 1);
	assert_string_equal(m[0], "fsync");
}

static void close_generic(void **state)
{
	static const char *const names[] = { "pipe_read", "pipe_write", "anon_pipe_read", "vfs_read", "do_sys_open",
					     "pipe_read" };
	const char *m[5];
	/* edit distance first, no duplicates, then containing names */
	int n = cw_close_matches("pipe_reed", names, 6, m, 5);
	assert_true(n >= 2);
	assert_string_equal(m[0], "pipe_read");
	assert_string_not_equal(m[1], "pipe_read");
	n = cw_close_matches("pipe_read", names + 2, 1, m, 5);
	assert_int_equal(n, 1);
	assert_string_equal(m[0], "anon_pipe_read");
	assert_int_equal(cw_close_matches("zzzzzzzzzz", names, 6, m, 5), 0);
	assert_int_equal(cw_close_matches("pipe_reed", names, 6, m, 1), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(syscall_table),
		cmocka_unit_test(close_syscalls),
		cmocka_unit_test(close_generic),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
