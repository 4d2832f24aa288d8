/* Workload: CPU-bound user code with a known hot spot, several calls deep, built without frame pointers.
 * usage: cpu_hot [SECONDS]   hot_inner takes ~75% of the time, warm_inner ~25%. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static volatile unsigned long sink;

__attribute__((noinline)) void hot_inner(unsigned long n)
{
	unsigned long x = sink;
	for (unsigned long i = 0; i < n; i++)
		x = x * 6364136223846793005ul + i;
	sink = x;
}

__attribute__((noinline)) void warm_inner(unsigned long n)
{
	unsigned long x = sink;
	for (unsigned long i = 0; i < n; i++)
		x ^= x >> 7 ^ i;
	sink = x;
}

__attribute__((noinline)) void compute_step(void)
{
	hot_inner(3000000);
	warm_inner(1000000);
	__asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) void run_loop(double seconds)
{
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	do {
		compute_step();
		clock_gettime(CLOCK_MONOTONIC, &b);
	} while ((b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9 < seconds);
	__asm__ volatile("" ::: "memory");
}

int main(int argc, char **argv)
{
	run_loop(argc > 1 ? atof(argv[1]) : 2.0);
	printf("%lu\n", sink & 1);
	return 0;
}
