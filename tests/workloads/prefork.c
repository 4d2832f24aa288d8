/* A prefork server in miniature: the master forks workers and waits for them; each worker spends its time
 * in worker_loop -> handle_request -> hot_leaf (CPU in user code).
 *   prefork SECONDS [WORKERS]   (2 workers by default); prints "worker PID" for each */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile double sink;

__attribute__((noinline)) static void hot_leaf(void)
{
	for (int i = 0; i < 20000; i++)
		sink += i * 0.5;
}

__attribute__((noinline)) static void handle_request(void)
{
	hot_leaf();
}

__attribute__((noinline, noreturn)) static void worker_loop(int secs)
{
	time_t end = time(NULL) + secs;
	while (time(NULL) < end)
		handle_request();
	exit(0);
}

__attribute__((noinline)) static void supervise(int n)
{
	for (int i = 0; i < n; i++)
		wait(NULL);
}

int main(int argc, char **argv)
{
	int secs = argc > 1 ? atoi(argv[1]) : 10, n = argc > 2 ? atoi(argv[2]) : 2;
	for (int i = 0; i < n; i++) {
		pid_t p = fork();
		if (p == 0)
			worker_loop(secs);
		printf("worker %d\n", (int)p);
		fflush(stdout);
	}
	supervise(n);
	return 0;
}
