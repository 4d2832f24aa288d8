/* The select_server's twin on epoll: the same request handling (request.c), but the kernel keeps the
 * interest list and returns only the ready descriptors, so idle connections cost nothing per iteration.
 *
 *   main -> serve_forever -> poll_clients -> epoll_wait()
 *                         -> accept_clients -> accept4()
 *                         -> handle_request -> read(), parse_request, build_response, send_response -> write()
 *
 * usage: epoll_server [-p PORT] [-T SECONDS]   (as select_server; prints "epoll_server: listening on ...",
 * and its counters at SIGUSR1 and exit, calls being epoll_wait() calls) */
#include "request.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define STEP __attribute__((noinline, noclone))
#define MAX_EVENTS 256

struct ready {
	int fd;
	bool readable, writable;
};

struct server {
	int lfd, epfd;
	long capacity;
	struct conn **conns; /* by descriptor */
	struct epoll_event events[MAX_EVENTS];
	struct ready ready[MAX_EVENTS];
	unsigned long accepted, requests, waits, ready_total;
};

static volatile sig_atomic_t stopping, report;
static void on_stop(int sig) { stopping = sig; }
static void on_report(int sig) { (void)sig; report = 1; }

static void die(const char *what)
{
	fprintf(stderr, "epoll_server: %s: %s\n", what, strerror(errno));
	exit(1);
}

static int open_listener(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((unsigned short)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		die("bind 127.0.0.1");
	if (listen(fd, SOMAXCONN) < 0)
		die("listen");
	return fd;
}

static void watch(struct server *s, int fd, int op, bool rd, bool wr)
{
	struct epoll_event ev = { .events = (rd ? EPOLLIN : 0) | (wr ? EPOLLOUT : 0), .data.fd = fd };
	if (epoll_ctl(s->epfd, op, fd, &ev) < 0)
		die("epoll_ctl");
}

static void close_client(struct server *s, struct conn *c)
{
	s->requests += c->served;
	s->conns[c->fd] = NULL;
	close(c->fd); /* also drops it from the interest list */
	free(c->out);
	free(c);
}

STEP static void accept_clients(struct server *s)
{
	for (;;) {
		int one = 1, fd = accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			static bool warned; /* once: the listener stays readable, this would repeat every call */
			if ((errno == EMFILE || errno == ENFILE) && !warned) {
				warned = true;
				fprintf(stderr, "epoll_server: accept: %s (open-file limit %ld)\n", strerror(errno),
					s->capacity);
			}
			return;
		}
		if (fd >= s->capacity) {
			close(fd);
			continue;
		}
		struct conn *c = calloc(1, sizeof(*c));
		if (!c)
			die("calloc");
		c->fd = fd;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		s->conns[fd] = c;
		s->accepted++;
		watch(s, fd, EPOLL_CTL_ADD, true, false);
	}
}

STEP static int poll_clients(struct server *s)
{
	int n;
	s->waits++;
	n = epoll_wait(s->epfd, s->events, MAX_EVENTS, -1);
	if (n < 0) {
		if (errno == EINTR)
			return 0;
		die("epoll_wait");
	}
	for (int i = 0; i < n; i++) {
		uint32_t e = s->events[i].events;
		/* errors and hang-ups are seen by the read or write that follows */
		s->ready[i] = (struct ready){ s->events[i].data.fd, e & (EPOLLIN | EPOLLERR | EPOLLHUP),
					      e & (EPOLLOUT | EPOLLERR) };
	}
	return n;
}

/* One line of counters on stdout (at SIGUSR1 and at exit), for scripts that measure an interval. */
static void print_stats(struct server *s)
{
	unsigned long req = s->requests, conns = 0;
	for (long fd = 0; fd < s->capacity; fd++)
		if (s->conns[fd]) {
			req += s->conns[fd]->served;
			conns++;
		}
	printf("epoll_server: requests=%lu calls=%lu ready=%lu connections=%lu accepted=%lu\n", req, s->waits,
	       s->ready_total, conns, s->accepted);
	fflush(stdout);
}

STEP static void serve_forever(struct server *s)
{
	while (!stopping) {
		int n = poll_clients(s);
		s->ready_total += (unsigned long)n;
		if (report) {
			report = 0;
			print_stats(s);
		}
		for (int i = 0; i < n; i++) {
			struct ready *r = &s->ready[i];
			struct conn *c = s->conns[r->fd];
			enum conn_status st = CONN_OK;
			bool was_writing;

			if (r->fd == s->lfd) {
				accept_clients(s);
				continue;
			}
			if (!c)
				continue;
			was_writing = c->outlen != 0;
			if (r->writable)
				st = flush_output(c);
			if (st == CONN_OK && r->readable)
				st = handle_request(c);
			if (st == CONN_CLOSE)
				close_client(s, c);
			else if (was_writing != (st == CONN_WANT_WRITE))
				watch(s, c->fd, EPOLL_CTL_MOD, st == CONN_OK, st == CONN_WANT_WRITE);
		}
	}
}

int main(int argc, char **argv)
{
	struct server *s = calloc(1, sizeof(*s));
	struct sockaddr_in a;
	socklen_t alen = sizeof(a);
	int port = 0, opt;
	unsigned lifetime = 0;

	if (!s)
		die("calloc");
	while ((opt = getopt(argc, argv, "p:T:h")) != -1) {
		switch (opt) {
		case 'p': port = atoi(optarg); break;
		case 'T': lifetime = (unsigned)atoi(optarg); break;
		default:
			fprintf(stderr, "usage: epoll_server [-p PORT] [-T SECONDS]\n");
			return opt == 'h' ? 0 : 2;
		}
	}
	if (port < 0 || port > 65535) {
		fprintf(stderr, "epoll_server: invalid port %d\n", port);
		return 2;
	}
	struct sigaction sa = { .sa_handler = on_stop }; /* no SA_RESTART: epoll_wait() returns EINTR */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = on_report;
	sigaction(SIGUSR1, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (lifetime)
		alarm(lifetime);

	s->capacity = raise_nofile_limit();
	s->conns = calloc((size_t)s->capacity, sizeof(*s->conns));
	if (!s->conns)
		die("calloc");
	if ((s->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0)
		die("epoll_create1");
	body_pattern();

	s->lfd = open_listener(port);
	watch(s, s->lfd, EPOLL_CTL_ADD, true, false);
	if (getsockname(s->lfd, (struct sockaddr *)&a, &alen) < 0)
		die("getsockname");
	printf("epoll_server: listening on 127.0.0.1:%d\n", ntohs(a.sin_port));
	fflush(stdout);

	serve_forever(s);

	print_stats(s);
	return 0;
}
