/* A thread sleeping in read() on a pipe: pipe_sleep ROUNDS MS: the reader thread blocks in read(); the main
 * thread writes one byte every MS milliseconds, ROUNDS times. Nearly all the reader's time is blocked in
 * pipe_read's wait. */
#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static int fds[2], rounds;

static void *reader(void *arg)
{
	char c;
	for (int i = 0; i < rounds; i++)
		if (read(fds[0], &c, 1) != 1)
			exit(1);
	return NULL;
}

int main(int argc, char **argv)
{
	rounds = argc > 1 ? atoi(argv[1]) : 10;
	int ms = argc > 2 ? atoi(argv[2]) : 100;
	pthread_t t;
	if (pipe(fds) || pthread_create(&t, NULL, reader, NULL))
		return 1;
	for (int i = 0; i < rounds; i++) {
		struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
		nanosleep(&ts, NULL);
		if (write(fds[1], "x", 1) != 1)
			return 1;
	}
	pthread_join(t, NULL);
	return 0;
}
