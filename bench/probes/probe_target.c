/* The probe benchmark's workload: a loop calling one small function; prints the loop's ns per iteration
 * (measured inside, so start-up and instrumentation set-up are excluded).
 *   probe_target call N     N calls of probed()
 *   probe_target rdtsc N    N iterations of the same loop with two rdtsc around the call (the floor an
 *                           entry+exit timestamp pair costs)
 *   probe_target threads T N   T threads each make N calls of probed_mt(); prints the calls per second
 *                           of all together (the seed's kretprobe experiment, in user space) */
#include <pthread.h>
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

/* The same for `threads`, with a sink per thread: one shared variable is a line that every thread writes
 * on every call, so the uninstrumented loop itself stopped scaling (622 -> 423 M calls/s at 2 threads on
 * the AMD VM of 2026-12-07) and hid how the return instances scale. probed keeps the global sink: its
 * single-thread cost is bench-probes' reference. */
static __thread volatile uint64_t sink_mt;

__attribute__((noinline)) uint64_t probed_mt(uint64_t x)
{
	sink_mt += x;
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

static long per_thread;

static void *thread_main(void *arg)
{
	uint64_t acc = 0;
	for (long i = 0; i < per_thread; i++)
		acc += probed_mt((uint64_t)i);
	return (void *)(uintptr_t)acc;
}

int main(int argc, char **argv)
{
	if (argc > 3 && !strcmp(argv[1], "threads")) {
		int t = atoi(argv[2]);
		pthread_t th[256];
		per_thread = atol(argv[3]);
		if (t < 1 || t > 256)
			return 2;
		double t0 = now();
		for (int i = 0; i < t; i++)
			pthread_create(&th[i], NULL, thread_main, NULL);
		for (int i = 0; i < t; i++)
			pthread_join(th[i], NULL);
		double t1 = now();
		printf("calls_per_sec %.0f threads %d\n", (double)t * (double)per_thread / ((t1 - t0) / 1e9), t);
		return 0;
	}
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
