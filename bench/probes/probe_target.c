/* The probe benchmark's workload: a loop calling one small function; prints the loop's ns per iteration
 * (measured inside, so start-up and instrumentation set-up are excluded).
 *   probe_target call N     N calls of probed()
 *   probe_target rdtsc N    N iterations of the same loop with two rdtsc around the call (the floor an
 *                           entry+exit timestamp pair costs) */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

volatile uint64_t sink;

__attribute__((noinline)) uint64_t probed(uint64_t x)
{
	sink += x;
	return x + 1;
}

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "call";
	long n = argc > 2 ? atol(argv[2]) : 10000000;
	uint64_t acc = 0;
	double t0 = now();
	if (!strcmp(mode, "rdtsc")) {
		for (long i = 0; i < n; i++) {
			uint64_t a = rdtsc();
			acc += probed((uint64_t)i);
			acc += rdtsc() - a;
		}
	} else {
		for (long i = 0; i < n; i++)
			acc += probed((uint64_t)i);
	}
	double t1 = now();
	printf("ns_per_iter %.3f acc %lu\n", (t1 - t0) / (double)n, (unsigned long)acc);
	return 0;
}
