/* Unit tests for src/util. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "util/util.h"

static void read_file_whole(void **state)
{
	char path[] = "/tmp/cw-util-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	/* larger than the initial buffer, to exercise growth */
	char big[10000];
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = 'a' + i % 26;
	assert_int_equal(write(fd, big, sizeof(big)), sizeof(big));
	close(fd);
	size_t len = 0;
	char *s = cw_read_file(path, &len);
	assert_non_null(s);
	assert_int_equal(len, sizeof(big));
	assert_memory_equal(s, big, sizeof(big));
	assert_int_equal(s[len], 0);
	free(s);
	unlink(path);
}

static void read_file_missing(void **state)
{
	errno = 0;
	assert_null(cw_read_file("/nonexistent/cw", NULL));
	assert_int_equal(errno, ENOENT);
}

static void clock_monotonic(void **state)
{
	uint64_t a = cw_now_ns(), b = cw_now_ns();
	assert_true(b >= a);
	assert_true(cw_ncpus_possible() >= cw_ncpus_online());
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(read_file_whole),
		cmocka_unit_test(read_file_missing),
		cmocka_unit_test(clock_monotonic),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
