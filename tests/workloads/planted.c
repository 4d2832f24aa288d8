/* Workload with planted bottlenecks whose path is known exactly, one per mode, for the walk's tests.
 * usage: planted MODE SECONDS
 *   fsync    main -> persist_records -> fsync()            (blocked on I/O)
 *   faults   main -> touch_fresh_pages -> page faults      (kernel CPU through faults)
 *   threads  busy_worker -> crunch_numbers in one thread; three others idle in pthread_cond_wait
 *   recurse  main -> solve -> fib (recursive)              (CPU in user code) */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static volatile unsigned long sink;
static double deadline;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

__attribute__((noinline)) void persist_records(int fd)
{
	char rec[512];
	memset(rec, 'r', sizeof(rec));
	if (write(fd, rec, sizeof(rec)) != sizeof(rec) || fsync(fd) != 0)
		exit(1);
}

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

__attribute__((noinline)) void crunch_numbers(void)
{
	unsigned long x = sink;
	for (int i = 0; i < 2000000; i++)
		x = x * 2862933555777941757ul + 3037000493ul;
	sink = x;
}

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int done;

static void *idle_worker(void *arg)
{
	pthread_mutex_lock(&mu);
	while (!done)
		pthread_cond_wait(&cv, &mu);
	pthread_mutex_unlock(&mu);
	return NULL;
}

static void *busy_worker(void *arg)
{
	while (now() < deadline)
		crunch_numbers();
	return NULL;
}

__attribute__((noinline)) unsigned long fib(int n)
{
	return n < 2 ? (unsigned long)n : fib(n - 1) + fib(n - 2);
}

__attribute__((noinline)) void solve(void)
{
	sink += fib(24);
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: planted fsync|faults|threads|recurse SECONDS\n");
		return 2;
	}
	deadline = now() + atof(argv[2]);
	if (!strcmp(argv[1], "fsync")) {
		char path[] = "./planted-fsync.XXXXXX";
		int fd = mkstemp(path);
		if (fd < 0)
			return 1;
		unlink(path);
		while (now() < deadline)
			persist_records(fd);
	} else if (!strcmp(argv[1], "faults")) {
		while (now() < deadline)
			touch_fresh_pages();
	} else if (!strcmp(argv[1], "threads")) {
		pthread_t t[4];
		for (int i = 0; i < 3; i++)
			pthread_create(&t[i], NULL, idle_worker, NULL);
		pthread_create(&t[3], NULL, busy_worker, NULL);
		pthread_join(t[3], NULL);
		pthread_mutex_lock(&mu);
		done = 1;
		pthread_cond_broadcast(&cv);
		pthread_mutex_unlock(&mu);
		for (int i = 0; i < 3; i++)
			pthread_join(t[i], NULL);
	} else if (!strcmp(argv[1], "recurse")) {
		while (now() < deadline)
			solve();
	} else {
		return 2;
	}
	return 0;
}
