/* Workload: time spent in the kernel through system calls: writes of 64 KiB to /dev/null would be too
 * cheap, so it copies through a pipe it both writes and reads (pipe_write/pipe_read copy data). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static char buf[65536];

__attribute__((noinline)) void pump_pipe(int rfd, int wfd)
{
	for (int i = 0; i < 16; i++) {
		if (write(wfd, buf, sizeof(buf)) != sizeof(buf))
			exit(1);
		size_t got = 0;
		while (got < sizeof(buf)) {
			ssize_t n = read(rfd, buf, sizeof(buf) - got);
			if (n <= 0)
				exit(1);
			got += n;
		}
	}
}

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? atof(argv[1]) : 2.0;
	int p[2];
	struct timespec a, b;
	if (pipe(p) < 0)
		return 1;
	memset(buf, 'x', sizeof(buf));
	clock_gettime(CLOCK_MONOTONIC, &a);
	do {
		pump_pipe(p[0], p[1]);
		clock_gettime(CLOCK_MONOTONIC, &b);
	} while ((b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9 < seconds);
	return 0;
}
