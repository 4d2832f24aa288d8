/* Workload: a thread that blocks most of the time. The main thread waits in read() on a pipe that a
 * second thread feeds every 20 ms; a little CPU work between reads. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static int fds[2];
static volatile int done;
static volatile unsigned long sink;

static void *feeder(void *arg)
{
	struct timespec ts = { 0, 20000000 };
	while (!done) {
		nanosleep(&ts, NULL);
		if (write(fds[1], "x", 1) != 1)
			break;
	}
	return NULL;
}

__attribute__((noinline)) void wait_for_input(void)
{
	char c;
	if (read(fds[0], &c, 1) != 1)
		exit(1);
}

__attribute__((noinline)) void little_work(void)
{
	for (int i = 0; i < 20000; i++)
		sink += i * 7;
}

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? atof(argv[1]) : 2.0;
	pthread_t t;
	struct timespec a, b;
	if (pipe(fds) < 0 || pthread_create(&t, NULL, feeder, NULL))
		return 1;
	clock_gettime(CLOCK_MONOTONIC, &a);
	do {
		wait_for_input();
		little_work();
		clock_gettime(CLOCK_MONOTONIC, &b);
	} while ((b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9 < seconds);
	done = 1;
	pthread_join(t, NULL);
	return 0;
}
