/* Request handling shared by select_server and epoll_server: read, parse, build, write; kept out of line
 * (noinline, noclone) so that each step is a function of its own that a profile or the walk can name. */
#include "request.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define STEP __attribute__((noinline, noclone))

static char pattern[REQ_MAX_BODY + 26];

const char *body_pattern(void)
{
	if (!pattern[0])
		for (size_t i = 0; i < sizeof(pattern); i++)
			pattern[i] = (char)('a' + i % 26);
	return pattern;
}

/* Strict: "GET /item/<digits> <digits>", nothing else, numbers in range. */
STEP int parse_request(const char *line, size_t len, struct request *req)
{
	static const char prefix[] = "GET /item/";
	size_t i = sizeof(prefix) - 1;
	unsigned long long id = 0, n = 0;

	if (len < i || memcmp(line, prefix, i))
		return -1;
	if (i >= len || line[i] < '0' || line[i] > '9')
		return -1;
	for (; i < len && line[i] >= '0' && line[i] <= '9'; i++)
		if ((id = id * 10 + (unsigned)(line[i] - '0')) > 0xffffffffULL)
			return -1;
	if (i >= len || line[i++] != ' ' || i >= len)
		return -1;
	for (; i < len && line[i] >= '0' && line[i] <= '9'; i++)
		if ((n = n * 10 + (unsigned)(line[i] - '0')) > REQ_MAX_BODY)
			return -1;
	if (i != len || n == 0 || line[len - 1] < '0' || line[len - 1] > '9')
		return -1;
	req->id = (unsigned long)id;
	req->len = (size_t)n;
	return 0;
}

STEP size_t build_response(const struct request *req, char *out)
{
	const char *p = body_pattern();
	size_t off = 0;
	char num[24];
	int k = 0;
	size_t n = req->len;

	memcpy(out, "OK ", 3);
	off = 3;
	do
		num[k++] = (char)('0' + n % 10);
	while ((n /= 10));
	while (k)
		out[off++] = num[--k];
	out[off++] = '\n';
	memcpy(out + off, p + req->id % 26, req->len);
	return off + req->len;
}

/* Write as much pending output as the socket takes. */
STEP static enum conn_status send_response(struct conn *c)
{
	while (c->outoff < c->outlen) {
		ssize_t w = write(c->fd, c->out + c->outoff, c->outlen - c->outoff);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return CONN_WANT_WRITE;
		if (w <= 0)
			return CONN_CLOSE;
		c->outoff += (size_t)w;
	}
	c->outoff = c->outlen = 0;
	return c->closing ? CONN_CLOSE : CONN_OK;
}

static enum conn_status reject(struct conn *c)
{
	size_t n = sizeof(REQ_ERR_RESPONSE) - 1;
	memcpy(c->out, REQ_ERR_RESPONSE, n);
	c->outlen = n;
	c->outoff = 0;
	c->closing = true;
	c->inlen = 0;
	return send_response(c);
}

/* Answer every complete line in the input buffer, stopping when the socket cannot take more output. */
static enum conn_status answer_lines(struct conn *c)
{
	if (!c->out && !(c->out = malloc(REQ_MAX_RESPONSE)))
		return CONN_CLOSE;
	while (c->inlen) {
		char *nl = memchr(c->in, '\n', c->inlen);
		struct request req;
		enum conn_status st;

		if (!nl)
			return c->inlen >= REQ_MAX_LINE ? reject(c) : CONN_OK;
		size_t len = (size_t)(nl - c->in);
		if (len >= REQ_MAX_LINE || parse_request(c->in, len, &req) < 0)
			return reject(c);
		c->outlen = build_response(&req, c->out);
		c->outoff = 0;
		c->served++;
		c->inlen -= len + 1;
		memmove(c->in, nl + 1, c->inlen);
		if ((st = send_response(c)) != CONN_OK)
			return st;
	}
	return CONN_OK;
}

STEP enum conn_status handle_request(struct conn *c)
{
	if (c->outlen) /* still writing an earlier response: read more only when it is out */
		return CONN_WANT_WRITE;
	ssize_t n = read(c->fd, c->in + c->inlen, sizeof(c->in) - c->inlen);
	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? CONN_OK : CONN_CLOSE;
	if (n == 0)
		return CONN_CLOSE;
	c->inlen += (size_t)n;
	return answer_lines(c);
}

STEP enum conn_status flush_output(struct conn *c)
{
	enum conn_status st = send_response(c);
	return st == CONN_OK ? answer_lines(c) : st;
}

long raise_nofile_limit(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return 1024;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	return rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > 1048576 ? 1048576 : (long)rl.rlim_cur;
}
