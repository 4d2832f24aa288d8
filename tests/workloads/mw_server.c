/* A multithreaded TCP server and its load client, to attach to under load.
 *   mw_server server PORTFILE THREADS    serve on a loopback port (written to PORTFILE) with THREADS workers;
 *                                        each request (8 bytes) gets handle_request() of it back
 *   mw_server client PORT SECONDS CONNS  CONNS connections sending requests for SECONDS; checks every reply;
 *                                        prints "requests N failed M" */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifdef __clang__
#define NOINLINE __attribute__((noinline))
#else
#define NOINLINE __attribute__((noinline, noclone))
#endif

static int lfd;

NOINLINE uint64_t compute(uint64_t x)
{
	for (int i = 0; i < 200; i++)
		x = x * 6364136223846793005ull + 1442695040888963407ull;
	return x;
}

NOINLINE uint64_t handle_request(uint64_t x)
{
	return compute(x) ^ 0x5a5a;
}

static int full_io(int fd, void *b, size_t n, int wr)
{
	char *p = b;
	while (n) {
		ssize_t r = wr ? send(fd, p, n, MSG_NOSIGNAL) : recv(fd, p, n, 0);
		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

static void *worker(void *arg)
{
	for (;;) {
		int c = accept(lfd, NULL, NULL);
		if (c < 0)
			continue;
		uint64_t x;
		while (!full_io(c, &x, 8, 0)) {
			x = handle_request(x);
			if (full_io(c, &x, 8, 1))
				break;
		}
		close(c);
	}
	return NULL;
}

static int port;
static double secs;
static long total, failed;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void *client(void *arg)
{
	long n = 0, bad = 0;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	if (connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		bad = 1;
	} else {
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		double end = now() + secs;
		for (uint64_t i = (uint64_t)(uintptr_t)arg << 32; now() < end; i++) {
			uint64_t x = i;
			if (full_io(fd, &x, 8, 1) || full_io(fd, &x, 8, 0) || x != (compute(i) ^ 0x5a5a)) {
				bad++;
				break;
			}
			n++;
		}
	}
	close(fd);
	pthread_mutex_lock(&mu);
	total += n;
	failed += bad;
	pthread_mutex_unlock(&mu);
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc >= 4 && !strcmp(argv[1], "server")) {
		int nt = atoi(argv[3]), one = 1;
		struct sockaddr_in a = { .sin_family = AF_INET };
		socklen_t l = sizeof(a);
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		lfd = socket(AF_INET, SOCK_STREAM, 0);
		setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(lfd, (struct sockaddr *)&a, sizeof(a)) || listen(lfd, 128) ||
		    getsockname(lfd, (struct sockaddr *)&a, &l))
			return perror("bind"), 1;
		pthread_t t[64];
		for (int i = 0; i < nt && i < 64; i++)
			pthread_create(&t[i], NULL, worker, NULL);
		FILE *f = fopen(argv[2], "w");
		fprintf(f, "%d\n", ntohs(a.sin_port));
		fclose(f);
		pthread_join(t[0], NULL);
		return 0;
	}
	if (argc >= 5 && !strcmp(argv[1], "client")) {
		port = atoi(argv[2]);
		secs = atof(argv[3]);
		int nc = atoi(argv[4]);
		pthread_t t[64];
		for (long i = 0; i < nc && i < 64; i++)
			pthread_create(&t[i], NULL, client, (void *)i);
		for (int i = 0; i < nc && i < 64; i++)
			pthread_join(t[i], NULL);
		printf("requests %ld failed %ld\n", total, failed);
		return failed != 0;
	}
	fprintf(stderr, "usage: mw_server server PORTFILE THREADS | client PORT SECONDS CONNS\n");
	return 2;
}
