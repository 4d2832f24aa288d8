/* bench/walk workload: the planted patterns of the walk's tests (same function names, same work per
 * iteration), counting iterations, so that a tool's slowdown of the target can be measured as lost work.
 * usage: walk_wl cpu_hot|blocker|recurse|faults SECONDS RESULT_FILE
 * At exit (the time is up, or SIGTERM/SIGINT from the tool that launched it) it writes
 * "ITERATIONS SECONDS_RUN CPU_SECONDS" to RESULT_FILE (CPU time of the whole process). */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static volatile unsigned long sink;
static volatile sig_atomic_t stop;
static unsigned long iters;
static double deadline;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/* cpu_hot: main -> run_loop -> compute_step -> hot_inner (~75%) / warm_inner */
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

__attribute__((noinline)) void run_loop(void)
{
	while (!stop && now() < deadline) {
		compute_step();
		iters++;
	}
	__asm__ volatile("" ::: "memory");
}

/* blocker: main -> wait_for_input -> read() on a pipe fed every 20 ms */
static int fds[2];
static volatile int done;

static void *feeder(void *arg)
{
	struct timespec ts = { 0, 20000000 };
	(void)arg;
	while (!done) {
		nanosleep(&ts, NULL);
		if (write(fds[1], "x", 1) != 1)
			break;
	}
	return NULL;
}

__attribute__((noinline)) int wait_for_input(void)
{
	char c;
	return read(fds[0], &c, 1) == 1;
}

__attribute__((noinline)) void little_work(void)
{
	for (int i = 0; i < 20000; i++)
		sink += i * 7;
}

/* faults: main -> touch_fresh_pages -> page faults */
__attribute__((noinline)) void touch_fresh_pages(void)
{
	size_t len = 8 << 20;
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		exit(1);
	for (size_t i = 0; i < len; i += 4096)
		p[i] = 1;
	munmap(p, len);
}

/* recurse: main -> solve -> fib (recursive) */
__attribute__((noinline)) unsigned long fib(int n)
{
	return n < 2 ? (unsigned long)n : fib(n - 1) + fib(n - 2);
}

__attribute__((noinline)) void solve(void)
{
	sink += fib(24);
}

/* Set-up and the result are kept out of main so that main's callees are those of the test workloads
 * (the walk instruments every callee of main; these libc calls would only add refuted hypotheses). */
static double t0;

__attribute__((noinline)) static void bench_start(double seconds)
{
	struct sigaction sa;
	/* no SA_RESTART: a signal must also end the blocker's read() */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	t0 = now();
	deadline = t0 + seconds;
}

__attribute__((noinline)) static int bench_end(const char *path)
{
	struct timespec cpu;
	FILE *f = fopen(path, "w");
	if (!f) {
		fprintf(stderr, "walk_wl: cannot write %s: %s\n", path, strerror(errno));
		return 1;
	}
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu);
	fprintf(f, "%lu %.6f %.6f\n", iters, now() - t0, cpu.tv_sec + cpu.tv_nsec / 1e9);
	fclose(f);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: walk_wl cpu_hot|blocker|recurse|faults SECONDS RESULT_FILE\n");
		return 2;
	}
	bench_start(atof(argv[2]));
	if (!strcmp(argv[1], "cpu_hot")) {
		run_loop();
	} else if (!strcmp(argv[1], "blocker")) {
		pthread_t t;
		if (pipe(fds) < 0 || pthread_create(&t, NULL, feeder, NULL))
			return 1;
		while (!stop && now() < deadline && wait_for_input()) {
			little_work();
			iters++;
		}
		done = 1;
		pthread_join(t, NULL);
	} else if (!strcmp(argv[1], "faults")) {
		while (!stop && now() < deadline) {
			touch_fresh_pages();
			iters++;
		}
	} else if (!strcmp(argv[1], "recurse")) {
		while (!stop && now() < deadline) {
			solve();
			iters++;
		}
	} else {
		fprintf(stderr, "walk_wl: unknown case %s\n", argv[1]);
		return 2;
	}
	return bench_end(argv[3]);
}
