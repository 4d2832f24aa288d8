/* A proxy-like event loop on select() (seed 002): one process, every connection in one descriptor set,
 * the whole set handed to the kernel and scanned again on each iteration, however few are active.
 *
 *   main -> serve_forever -> poll_clients -> select()
 *                         -> accept_clients -> accept4()
 *                         -> handle_request -> read(), parse_request, build_response, send_response -> write()
 *
 * FD_SETSIZE: glibc's fd_set holds 1024 descriptors, and the FD_SET macros check that bound. The kernel
 * does not: select(nfds, ...) reads nfds bits from whatever memory it is given. So the sets here are bitmaps
 * of unsigned long words sized to the open-file limit (raised to its hard limit), set and tested with our own
 * macros; the server takes as many connections as that limit allows (tests/e2e/examples_servers.sh runs it
 * past 1024). That is why no call here uses FD_SET/FD_ISSET.
 *
 * usage: select_server [-p PORT] [-T SECONDS]
 *   -p PORT     listen on 127.0.0.1:PORT (default 0: any free port); the port is printed on stdout:
 *               "select_server: listening on 127.0.0.1:PORT"
 *   -T SECONDS  exit after SECONDS (a safety bound for scripts; default: run until SIGINT/SIGTERM)
 * SIGUSR1 prints a line of counters on stdout, as the exit does:
 *   "select_server: requests=R calls=C ready=N connections=K accepted=A" (calls: select() calls; ready:
 *   descriptors they returned ready, in all)  */
#include "request.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

#define STEP __attribute__((noinline, noclone))
/* the kernel's layout of a descriptor set: unsigned longs, bit fd % 64 of word fd / 64 (glibc's fd_mask is
 * a signed long, where setting bit 63 by shifting is undefined) */
typedef unsigned long fdbits;
#define BITS (8 * (int)sizeof(fdbits))
#define SET_BIT(set, fd) ((set)[(fd) / BITS] |= 1UL << ((fd) % BITS))
#define CLR_BIT(set, fd) ((set)[(fd) / BITS] &= ~(1UL << ((fd) % BITS)))
#define HAS_BIT(set, fd) (((set)[(fd) / BITS] >> ((fd) % BITS)) & 1)

struct ready {
	int fd;
	bool readable, writable;
};

struct server {
	int lfd;
	int maxfd;		   /* highest descriptor in either master set */
	long capacity;		   /* descriptors the sets and conns[] cover */
	size_t words;		   /* fdbits words per set */
	fdbits *rmaster, *wmaster; /* what we wait for */
	fdbits *rset, *wset;	   /* select()'s in/out copies */
	struct conn **conns;	   /* by descriptor */
	struct ready *ready;
	unsigned long accepted, requests, selects, ready_total;
};

static volatile sig_atomic_t stopping, report;
static void on_stop(int sig) { stopping = sig; }
static void on_report(int sig) { (void)sig; report = 1; }

static void die(const char *what)
{
	fprintf(stderr, "select_server: %s: %s\n", what, strerror(errno));
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

static void watch(struct server *s, int fd, bool rd, bool wr)
{
	if (rd) SET_BIT(s->rmaster, fd); else CLR_BIT(s->rmaster, fd);
	if (wr) SET_BIT(s->wmaster, fd); else CLR_BIT(s->wmaster, fd);
	if ((rd || wr) && fd > s->maxfd)
		s->maxfd = fd;
}

static void close_client(struct server *s, struct conn *c)
{
	int fd = c->fd;
	watch(s, fd, false, false);
	s->requests += c->served;
	s->conns[fd] = NULL;
	close(fd);
	free(c->out);
	free(c);
	while (s->maxfd >= 0 && !HAS_BIT(s->rmaster, s->maxfd) && !HAS_BIT(s->wmaster, s->maxfd))
		s->maxfd--;
}

STEP static void accept_clients(struct server *s)
{
	for (;;) {
		int one = 1, fd = accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			static bool warned; /* once: the listener stays readable, this would repeat every call */
			if ((errno == EMFILE || errno == ENFILE) && !warned) {
				warned = true;
				fprintf(stderr, "select_server: accept: %s (open-file limit %ld)\n", strerror(errno),
					s->capacity);
			}
			return;
		}
		if (fd >= s->capacity) { /* cannot happen below the limit; be safe */
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
		watch(s, fd, true, false);
	}
}

/* Hand every descriptor to select(), then scan the whole result for the few that are ready (the scan is
 * commSelect's: linear in the highest descriptor, not in the number of events). */
STEP static int poll_clients(struct server *s)
{
	size_t bytes = s->words * sizeof(fdbits);
	int n, k = 0;
	bool any_write = false;

	memcpy(s->rset, s->rmaster, bytes);
	memcpy(s->wset, s->wmaster, bytes);
	for (size_t w = 0; w < s->words && !any_write; w++)
		any_write = s->wmaster[w] != 0;
	s->selects++;
	n = select(s->maxfd + 1, (fd_set *)s->rset, any_write ? (fd_set *)s->wset : NULL, NULL, NULL);
	if (n < 0) {
		if (errno == EINTR)
			return 0;
		die("select");
	}
	for (int fd = 0; fd <= s->maxfd && k < n; fd++) {
		bool r = HAS_BIT(s->rset, fd), w = any_write && HAS_BIT(s->wset, fd);
		if (r || w)
			s->ready[k++] = (struct ready){ fd, r, w };
	}
	return k;
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
	printf("select_server: requests=%lu calls=%lu ready=%lu connections=%lu accepted=%lu\n", req, s->selects,
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

			if (r->fd == s->lfd) {
				accept_clients(s);
				continue;
			}
			if (!c)
				continue;
			if (r->writable)
				st = flush_output(c);
			if (st == CONN_OK && r->readable)
				st = handle_request(c);
			if (st == CONN_CLOSE)
				close_client(s, c);
			else /* a full socket: wait until it can take the rest, read nothing meanwhile */
				watch(s, c->fd, st == CONN_OK, st == CONN_WANT_WRITE);
		}
	}
}

int main(int argc, char **argv)
{
	struct server s = { .maxfd = -1 };
	struct sockaddr_in a;
	socklen_t alen = sizeof(a);
	int port = 0, opt;
	unsigned lifetime = 0;

	while ((opt = getopt(argc, argv, "p:T:h")) != -1) {
		switch (opt) {
		case 'p': port = atoi(optarg); break;
		case 'T': lifetime = (unsigned)atoi(optarg); break;
		default:
			fprintf(stderr, "usage: select_server [-p PORT] [-T SECONDS]\n");
			return opt == 'h' ? 0 : 2;
		}
	}
	if (port < 0 || port > 65535) {
		fprintf(stderr, "select_server: invalid port %d\n", port);
		return 2;
	}
	struct sigaction sa = { .sa_handler = on_stop }; /* no SA_RESTART: select() returns EINTR */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = on_report;
	sigaction(SIGUSR1, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (lifetime)
		alarm(lifetime);

	s.capacity = raise_nofile_limit();
	s.words = (size_t)(s.capacity + BITS - 1) / BITS;
	s.rmaster = calloc(s.words, sizeof(fdbits));
	s.wmaster = calloc(s.words, sizeof(fdbits));
	s.rset = calloc(s.words, sizeof(fdbits));
	s.wset = calloc(s.words, sizeof(fdbits));
	s.conns = calloc((size_t)s.capacity, sizeof(*s.conns));
	s.ready = calloc((size_t)s.capacity, sizeof(*s.ready));
	if (!s.rmaster || !s.wmaster || !s.rset || !s.wset || !s.conns || !s.ready)
		die("calloc");
	body_pattern();

	s.lfd = open_listener(port);
	watch(&s, s.lfd, true, false);
	if (getsockname(s.lfd, (struct sockaddr *)&a, &alen) < 0)
		die("getsockname");
	printf("select_server: listening on 127.0.0.1:%d\n", ntohs(a.sin_port));
	fflush(stdout);

	serve_forever(&s);

	print_stats(&s);
	return 0;
}
