/* Load for the example servers, on loopback only: N idle connections that never send, K active ones that
 * send a request, check every byte of the response, and send the next, for D seconds. Prints
 * "loadgen: connected idle=N active=K" once every connection is open (so a caller knows when the load
 * starts), and at the end one line:
 *   loadgen: requests=R errors=E seconds=S rps=X p50_us=.. p90_us=.. p99_us=.. p999_us=.. max_us=.. idle=N active=K
 * SIGUSR1 prints that line for the interval so far and starts a new one (requests, rate and latencies count
 * from there; errors stay cumulative); SIGINT/SIGTERM end the run early, printing the last interval. At the
 * end every idle connection must still be open (one the server dropped is an error). Exit 0 when there were
 * no errors, 1 otherwise, 2 for bad usage.
 *
 * usage: loadgen -p PORT [-i IDLE] [-c ACTIVE] [-d SECONDS] [-s BYTES] [-r RATE] [-n MAXREQ]
 *   -i IDLE     idle connections (default 1000, at most 60000)
 *   -c ACTIVE   active connections, one request in flight each (default 4, at most 1000)
 *   -d SECONDS  how long to drive requests (default 5, at most 600)
 *   -s BYTES    response body size (default 4096, 1..65536)
 *   -r RATE     requests per second over all active connections (default 0: as fast as they answer)
 *   -n MAXREQ   send at most MAXREQ requests (default: no limit) */
#include "request.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define RESERVOIR (1u << 20) /* latency samples kept per interval (a uniform reservoir beyond that) */

struct client {
	int fd;
	bool in_flight;
	unsigned long id;
	uint64_t sent_ns;
	size_t got, hdr, want; /* bytes received, header length (0 until its '\n'), total expected */
	char *buf;
};

static struct {
	int port;
	unsigned idle, active;
	double seconds;
	size_t size;
	double rate;
	unsigned long maxreq;
} opt = { 0, 1000, 4, 5.0, 4096, 0, 0 };

static unsigned long requests, errors, sent, nlat;
static uint64_t *lat, lat_max;
static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static volatile sig_atomic_t stopping, new_interval;

static void on_stop(int sig) { stopping = sig; }
static void on_interval(int sig) { (void)sig; new_interval = 1; }

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void record_latency(uint64_t ns)
{
	if (ns > lat_max)
		lat_max = ns;
	if (nlat < RESERVOIR) {
		lat[nlat++] = ns;
		return;
	}
	rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
	uint64_t j = rng % requests;
	if (j < RESERVOIR)
		lat[j] = ns;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static double pct_us(double p)
{
	if (!nlat)
		return 0;
	size_t i = (size_t)(p / 100.0 * (double)(nlat - 1) + 0.5);
	return (double)lat[i] / 1000.0;
}

static void print_interval(uint64_t from, uint64_t to)
{
	double secs = (double)(to - from) / 1e9;
	qsort(lat, nlat, sizeof(*lat), cmp_u64);
	printf("loadgen: requests=%lu errors=%lu seconds=%.2f rps=%.0f p50_us=%.0f p90_us=%.0f p99_us=%.0f "
	       "p999_us=%.0f max_us=%.0f idle=%u active=%u\n",
	       requests, errors, secs, secs > 0 ? (double)requests / secs : 0.0, pct_us(50), pct_us(90), pct_us(99),
	       pct_us(99.9), (double)lat_max / 1000.0, opt.idle, opt.active);
	fflush(stdout);
}

static int connect_loopback(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((unsigned short)opt.port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

static int send_request(struct client *c)
{
	char line[64];
	int n;
	c->id = sent++ & 0xffffffffUL;
	n = snprintf(line, sizeof(line), "GET /item/%lu %zu\n", c->id, opt.size);
	c->got = c->hdr = c->want = 0;
	c->sent_ns = now_ns();
	if (write(c->fd, line, (size_t)n) != n)
		return -1;
	c->in_flight = true;
	return 0;
}

/* Read what arrived: 1 when the response is complete and every byte right, 0 when more is to come,
 * -1 on a wrong, short or extra byte or a closed connection. */
static int receive_response(struct client *c)
{
	ssize_t n = read(c->fd, c->buf + c->got, REQ_MAX_RESPONSE - c->got);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -1;
	if (n == 0)
		return -1;
	c->got += (size_t)n;
	if (!c->hdr) {
		char *nl = memchr(c->buf, '\n', c->got);
		char expect[32];
		if (!nl)
			return c->got < 32 ? 0 : -1;
		c->hdr = (size_t)(nl - c->buf) + 1;
		int k = snprintf(expect, sizeof(expect), "OK %zu\n", opt.size);
		if (c->hdr != (size_t)k || memcmp(c->buf, expect, (size_t)k))
			return -1;
		c->want = c->hdr + opt.size;
	}
	if (c->got > c->want)
		return -1;
	if (c->got < c->want)
		return 0;
	if (memcmp(c->buf + c->hdr, body_pattern() + c->id % 26, opt.size))
		return -1;
	c->in_flight = false;
	return 1;
}

static bool any_in_flight(const struct client *cl)
{
	for (unsigned i = 0; i < opt.active; i++)
		if (cl[i].fd >= 0 && cl[i].in_flight)
			return true;
	return false;
}

/* After an error: a fresh connection, so that one bad response does not end the load. */
static int reconnect(struct client *c, int ep)
{
	close(c->fd);
	c->in_flight = false;
	if ((c->fd = connect_loopback()) < 0)
		return -1;
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
	return epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
}

static int parse_num(const char *s, double lo, double hi, double *v)
{
	char *end;
	*v = strtod(s, &end);
	return *end || *s == 0 || *v < lo || *v > hi ? -1 : 0;
}

int main(int argc, char **argv)
{
	int o, ep;
	double v;
	int *idle;
	struct client *cl;

	while ((o = getopt(argc, argv, "p:i:c:d:s:r:n:h")) != -1) {
		const char *bad = NULL;
		switch (o) {
		case 'p': if (parse_num(optarg, 1, 65535, &v)) bad = "port"; else opt.port = (int)v; break;
		case 'i': if (parse_num(optarg, 0, 60000, &v)) bad = "idle count"; else opt.idle = (unsigned)v; break;
		case 'c': if (parse_num(optarg, 1, 1000, &v)) bad = "active count"; else opt.active = (unsigned)v; break;
		case 'd': if (parse_num(optarg, 0.1, 600, &v)) bad = "duration"; else opt.seconds = v; break;
		case 's': if (parse_num(optarg, 1, REQ_MAX_BODY, &v)) bad = "size"; else opt.size = (size_t)v; break;
		case 'r': if (parse_num(optarg, 0, 1e7, &v)) bad = "rate"; else opt.rate = v; break;
		case 'n': if (parse_num(optarg, 0, 1e12, &v)) bad = "request count"; else opt.maxreq = (unsigned long)v; break;
		default:
			fprintf(stderr, "usage: loadgen -p PORT [-i IDLE] [-c ACTIVE] [-d SECONDS] [-s BYTES] [-r RATE] [-n MAXREQ]\n");
			return o == 'h' ? 0 : 2;
		}
		if (bad) {
			fprintf(stderr, "loadgen: invalid %s '%s'\n", bad, optarg);
			return 2;
		}
	}
	if (!opt.port) {
		fprintf(stderr, "loadgen: give the server's port with -p PORT\n");
		return 2;
	}
	long limit = raise_nofile_limit();
	if ((long)opt.idle + opt.active + 16 > limit) {
		fprintf(stderr, "loadgen: %u connections need more than the open-file limit %ld\n",
			opt.idle + opt.active, limit);
		return 2;
	}
	struct sigaction sa = { .sa_handler = on_stop }; /* no SA_RESTART: epoll_wait() returns EINTR */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = on_interval;
	sigaction(SIGUSR1, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	lat = malloc(RESERVOIR * sizeof(*lat));
	idle = calloc(opt.idle + 1, sizeof(*idle));
	cl = calloc(opt.active, sizeof(*cl));
	if (!lat || !idle || !cl || (ep = epoll_create1(EPOLL_CLOEXEC)) < 0) {
		perror("loadgen");
		return 1;
	}
	body_pattern();

	for (unsigned i = 0; i < opt.idle; i++)
		if ((idle[i] = connect_loopback()) < 0) {
			fprintf(stderr, "loadgen: idle connection %u to 127.0.0.1:%d: %s\n", i, opt.port, strerror(errno));
			return 1;
		}
	for (unsigned i = 0; i < opt.active; i++) {
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &cl[i] };
		if ((cl[i].fd = connect_loopback()) < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, cl[i].fd, &ev) < 0) {
			fprintf(stderr, "loadgen: connection to 127.0.0.1:%d: %s\n", opt.port, strerror(errno));
			return 1;
		}
		if (!(cl[i].buf = malloc(REQ_MAX_RESPONSE))) {
			perror("loadgen");
			return 1;
		}
	}
	printf("loadgen: connected idle=%u active=%u\n", opt.idle, opt.active);
	fflush(stdout);

	uint64_t start = now_ns(), end = start + (uint64_t)(opt.seconds * 1e9), t = start;
	uint64_t interval_ns = opt.rate > 0 ? (uint64_t)(1e9 / opt.rate) : 0, next_send = start;
	unsigned live = opt.active;
	struct epoll_event evs[64];

	while (t < end && live && !stopping && !(opt.maxreq && sent >= opt.maxreq && !any_in_flight(cl))) {
		if (new_interval) {
			new_interval = 0;
			print_interval(start, t);
			start = t;
			requests = nlat = 0;
			lat_max = 0;
		}
		/* start requests on connections with none in flight, at the pace -r asks for */
		for (unsigned i = 0; i < opt.active; i++) {
			struct client *c = &cl[i];
			if (c->fd < 0 || c->in_flight)
				continue;
			if ((interval_ns && t < next_send) || (opt.maxreq && sent >= opt.maxreq))
				break;
			if (send_request(c) < 0) {
				errors++;
				if (reconnect(c, ep) < 0)
					c->fd = -1, live--;
				continue;
			}
			next_send += interval_ns;
		}
		int timeout = 100;
		if (interval_ns && next_send > t && (next_send - t) / 1000000 < 100)
			timeout = (int)((next_send - t + 999999) / 1000000);
		int n = epoll_wait(ep, evs, 64, timeout);
		t = now_ns();
		for (int i = 0; i < n; i++) {
			struct client *c = evs[i].data.ptr;
			int r = c->in_flight ? receive_response(c) : -1; /* bytes nobody asked for are an error too */
			if (r == 1) {
				requests++;
				record_latency(t - c->sent_ns);
			} else if (r < 0) {
				errors++;
				if (reconnect(c, ep) < 0)
					c->fd = -1, live--;
			}
		}
	}

	/* idle connections must still be open: a server that dropped them did not serve the load asked for */
	for (unsigned i = 0; i < opt.idle; i++) {
		char b;
		ssize_t r = recv(idle[i], &b, 1, MSG_DONTWAIT | MSG_PEEK);
		if (!(r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)))
			errors++;
	}
	if (!live)
		fprintf(stderr, "loadgen: every active connection failed\n");
	print_interval(start, t);
	return errors ? 1 : 0;
}
