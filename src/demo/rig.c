/* The demo's rig: an example server and the load generator as child processes, their output lines read
 * through pipes, their counters taken at the start and end of a measured window, and every child stopped
 * on every exit path (own process group, PR_SET_PDEATHSIG, a lifetime bound, SIGTERM then SIGKILL). */
#include "demo/demo.h"
#include "util/util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define LOADGEN_MAX_S 300  /* the load generator's own bound (-d): far beyond any demo run */
#define SERVER_MAX_S 600   /* the server's own bound (-T) */

struct child {
	const char *name;
	pid_t pid;	/* 0 when not running (never started or reaped) */
	int out;	/* read end of the child's stdout+stderr */
	size_t len;
	char buf[4096];
	char last[200]; /* the last line that was not asked for: the reason when the child dies */
};

struct cw_demo_rig {
	struct child server, loadgen;
	volatile int *stop;
	char server_name[32];
	int port;
	unsigned long long cpu0; /* server CPU ticks at the mark */
	unsigned long calls0, ready0;
};

int cw_demo_locate(char *dir, size_t len)
{
	static const char *const progs[] = { "select_server", "epoll_server", "loadgen" };
	char exe[PATH_MAX], path[PATH_MAX + 32];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n < 0)
		return -errno;
	exe[n] = 0;
	char *slash = strrchr(exe, '/');
	if (slash)
		*slash = 0;
	if ((size_t)snprintf(dir, len, "%s/examples", exe) >= len)
		return -ENAMETOOLONG;
	for (size_t i = 0; i < sizeof(progs) / sizeof(progs[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, progs[i]);
		if (access(path, X_OK) < 0)
			return -ENOENT;
	}
	return 0;
}

static int spawn(struct child *c, const char *name, char *const argv[], char *err, size_t errlen)
{
	int fds[2];
	pid_t parent = getpid();

	memset(c, 0, sizeof(*c));
	c->name = name;
	c->out = -1;
	if (pipe2(fds, O_CLOEXEC) < 0) {
		snprintf(err, errlen, "pipe for %s: %s", name, strerror(errno));
		return -errno;
	}
	c->pid = fork();
	if (c->pid < 0) {
		int e = errno;
		close(fds[0]);
		close(fds[1]);
		c->pid = 0;
		snprintf(err, errlen, "fork for %s: %s", name, strerror(e));
		return -e;
	}
	if (c->pid == 0) {
		sigset_t none;
		/* its own process group: a terminal's Ctrl-C reaches crosswalk, which stops the children in
		 * order; and it dies with crosswalk even when crosswalk is killed outright */
		setpgid(0, 0);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		dup2(fds[1], 1);
		dup2(fds[1], 2);
		signal(SIGPIPE, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		execv(argv[0], argv);
		dprintf(1, "cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	setpgid(c->pid, c->pid);
	close(fds[1]);
	c->out = fds[0];
	return 0;
}

static void copy_line(char *dst, size_t cap, const char *src, size_t n)
{
	if (n >= cap)
		n = cap - 1;
	memcpy(dst, src, n);
	dst[n] = 0;
}

/* Wait for a line of C starting with PREFIX (other lines are remembered as the last message), up to
 * TIMEOUT_MS. -EPIPE when the child closed its output (exited), -ETIMEDOUT, -EINTR on *STOP. */
static int wait_line(struct child *c, const char *prefix, int timeout_ms, volatile int *stop, char *line,
		     size_t linelen)
{
	uint64_t deadline = cw_now_ns() + (uint64_t)timeout_ms * 1000000;
	size_t plen = strlen(prefix);

	for (;;) {
		char *nl;
		while ((nl = memchr(c->buf, '\n', c->len))) {
			size_t n = (size_t)(nl - c->buf);
			*nl = 0;
			bool match = n >= plen && !strncmp(c->buf, prefix, plen);
			if (match)
				copy_line(line, linelen, c->buf, n);
			else if (n)
				copy_line(c->last, sizeof(c->last), c->buf, n);
			memmove(c->buf, nl + 1, c->len - n - 1);
			c->len -= n + 1;
			if (match)
				return 0;
		}
		if (c->len == sizeof(c->buf) - 1) /* a line too long to be ours: drop it */
			c->len = 0;
		if (stop && *stop)
			return -EINTR;
		uint64_t now = cw_now_ns();
		if (now >= deadline)
			return -ETIMEDOUT;
		struct pollfd pfd = { .fd = c->out, .events = POLLIN };
		uint64_t left_ms = (deadline - now) / 1000000 + 1;
		int r = poll(&pfd, 1, left_ms < 100 ? (int)left_ms : 100);
		if (r < 0 && errno != EINTR)
			return -errno;
		if (r <= 0)
			continue;
		ssize_t got = read(c->out, c->buf + c->len, sizeof(c->buf) - 1 - c->len);
		if (got < 0 && errno != EINTR && errno != EAGAIN)
			return -errno;
		if (got == 0)
			return -EPIPE;
		if (got > 0)
			c->len += (size_t)got;
	}
}

/* A one-line reason for a failed wait_line. */
static void wait_error(struct child *c, int ret, const char *what, char *err, size_t errlen)
{
	if (ret == -EINTR)
		snprintf(err, errlen, "interrupted");
	else if (ret == -EPIPE)
		snprintf(err, errlen, "%s exited while %s%s%s", c->name, what, c->last[0] ? ": " : "", c->last);
	else if (ret == -ETIMEDOUT)
		snprintf(err, errlen, "%s did not answer in time while %s%s%s", c->name, what, c->last[0] ? ": " : "",
			 c->last);
	else
		snprintf(err, errlen, "reading %s's output while %s: %s", c->name, what, strerror(-ret));
}

/* The value of " KEY=" in LINE, or -1. */
static double kv(const char *line, const char *key)
{
	size_t k = strlen(key);
	for (const char *p = line; (p = strstr(p, key)); p += k)
		if ((p == line || p[-1] == ' ') && p[k] == '=')
			return strtod(p + k + 1, NULL);
	return -1;
}

/* utime + stime of PID in clock ticks, or 0. */
static unsigned long long cpu_ticks(pid_t pid)
{
	char path[64], *s, *p;
	unsigned long long ut = 0, st = 0;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (!(s = cw_read_file(path, NULL)))
		return 0;
	p = strrchr(s, ')'); /* the command name may hold spaces and parentheses */
	if (p && sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		ut = st = 0;
	free(s);
	return ut + st;
}

static void child_stop(struct child *c)
{
	if (c->pid > 0) {
		int status;
		kill(-c->pid, SIGTERM);
		for (int i = 0; i < 100; i++) { /* 1 s of grace: the servers print their counters on SIGTERM */
			if (waitpid(c->pid, &status, WNOHANG) != 0)
				goto reaped;
			struct timespec ts = { 0, 10000000 };
			nanosleep(&ts, NULL);
		}
		kill(-c->pid, SIGKILL);
		waitpid(c->pid, &status, 0);
	reaped:
		c->pid = 0;
	}
	if (c->out >= 0)
		close(c->out);
	c->out = -1;
}

void cw_demo_rig_close(struct cw_demo_rig *r)
{
	if (!r)
		return;
	child_stop(&r->loadgen);
	child_stop(&r->server);
	free(r);
}

pid_t cw_demo_rig_server_pid(const struct cw_demo_rig *r)
{
	return r->server.pid;
}

int cw_demo_rig_start(const struct cw_demo_load *load, volatile int *stop, struct cw_demo_rig **out, char *err,
		      size_t errlen)
{
	struct cw_demo_rig *r = cw_calloc(1, sizeof(*r));
	char srv[PATH_MAX + 64], lg[PATH_MAX + 64], line[256], port[16], idle[16], active[16], bytes[16];
	char lifetime[16], dur[16], what[64];
	int ret;

	r->stop = stop;
	r->server.out = r->loadgen.out = -1;
	snprintf(r->server_name, sizeof(r->server_name), "%s", load->server);
	snprintf(srv, sizeof(srv), "%s/%s", load->dir, load->server);
	snprintf(lg, sizeof(lg), "%s/loadgen", load->dir);
	snprintf(lifetime, sizeof(lifetime), "%d", SERVER_MAX_S);
	char *sargv[] = { srv, "-p", "0", "-T", lifetime, NULL };
	if ((ret = spawn(&r->server, r->server_name, sargv, err, errlen)) < 0)
		goto fail;
	snprintf(what, sizeof(what), "%s: listening on 127.0.0.1:", r->server_name);
	if ((ret = wait_line(&r->server, what, 5000, stop, line, sizeof(line))) < 0) {
		wait_error(&r->server, ret, "starting", err, errlen);
		goto fail;
	}
	r->port = atoi(line + strlen(what));

	snprintf(port, sizeof(port), "%d", r->port);
	snprintf(idle, sizeof(idle), "%u", load->idle);
	snprintf(active, sizeof(active), "%u", load->active ? load->active : 4);
	snprintf(bytes, sizeof(bytes), "%u", load->resp_bytes ? load->resp_bytes : 4096);
	snprintf(dur, sizeof(dur), "%d", LOADGEN_MAX_S);
	char *largv[] = { lg, "-p", port, "-i", idle, "-c", active, "-s", bytes, "-d", dur, NULL };
	if ((ret = spawn(&r->loadgen, "loadgen", largv, err, errlen)) < 0)
		goto fail;
	if ((ret = wait_line(&r->loadgen, "loadgen: connected", 30000, stop, line, sizeof(line))) < 0) {
		wait_error(&r->loadgen, ret, "opening its connections", err, errlen);
		goto fail;
	}
	*out = r;
	return 0;
fail:
	cw_demo_rig_close(r);
	*out = NULL;
	return ret;
}

/* Ask the server for its counters (SIGUSR1 -> one "NAME: requests=..." line). */
static int server_counters(struct cw_demo_rig *r, char *line, size_t linelen, char *err, size_t errlen)
{
	char what[64];
	int ret;
	snprintf(what, sizeof(what), "%s: requests=", r->server_name);
	if (kill(r->server.pid, SIGUSR1) < 0) {
		snprintf(err, errlen, "%s: %s", r->server_name, strerror(errno));
		return -errno;
	}
	if ((ret = wait_line(&r->server, what, 5000, r->stop, line, linelen)) < 0)
		wait_error(&r->server, ret, "reporting its counters", err, errlen);
	return ret;
}

int cw_demo_rig_mark(struct cw_demo_rig *r, char *err, size_t errlen)
{
	char line[512];
	int ret;

	r->cpu0 = cpu_ticks(r->server.pid);
	if ((ret = server_counters(r, line, sizeof(line), err, errlen)) < 0)
		return ret;
	r->calls0 = (unsigned long)kv(line, "calls");
	r->ready0 = (unsigned long)kv(line, "ready");
	/* the load generator starts a new interval (its line for the one before is not needed) */
	kill(r->loadgen.pid, SIGUSR1);
	if ((ret = wait_line(&r->loadgen, "loadgen: requests=", 5000, r->stop, line, sizeof(line))) < 0)
		wait_error(&r->loadgen, ret, "starting the measured interval", err, errlen);
	return ret;
}

int cw_demo_rig_end_load(struct cw_demo_rig *r, struct cw_demo_loadstats *st, char *err, size_t errlen)
{
	char line[512];
	int ret;
	long tck = sysconf(_SC_CLK_TCK);

	memset(st, 0, sizeof(*st));
	kill(r->loadgen.pid, SIGTERM);
	st->server_cpu_s = (double)(cpu_ticks(r->server.pid) - r->cpu0) / (double)(tck > 0 ? tck : 100);
	if ((ret = server_counters(r, line, sizeof(line), err, errlen)) < 0)
		return ret;
	st->calls = (unsigned long)kv(line, "calls") - r->calls0;
	st->ready = (unsigned long)kv(line, "ready") - r->ready0;
	st->connections = (unsigned long)kv(line, "connections");
	if ((ret = wait_line(&r->loadgen, "loadgen: requests=", 10000, r->stop, line, sizeof(line))) < 0) {
		wait_error(&r->loadgen, ret, "ending the load", err, errlen);
		return ret;
	}
	st->requests = (unsigned long)kv(line, "requests");
	st->errors = (unsigned long)kv(line, "errors");
	st->seconds = kv(line, "seconds");
	st->rps = kv(line, "rps");
	st->p50_us = kv(line, "p50_us");
	st->p99_us = kv(line, "p99_us");
	st->max_us = kv(line, "max_us");
	child_stop(&r->loadgen); /* reaps it (it is exiting already) */
	return 0;
}

int cw_demo_experiment(const struct cw_demo_load *load, const struct cw_demo_step *step, void *ctx, double seconds,
		       volatile int *stop, struct cw_demo_loadstats *st, char *err, size_t errlen)
{
	struct cw_demo_rig *r = NULL;
	int ret;

	if ((ret = cw_demo_rig_start(load, stop, &r, err, errlen)) < 0)
		goto out;
	if (step->prepare && (ret = step->prepare(ctx, r->server.pid, err, errlen)) < 0)
		goto out;
	if ((ret = cw_demo_rig_mark(r, err, errlen)) < 0)
		goto out;
	if ((ret = step->run(ctx, seconds, stop, err, errlen)) < 0)
		goto out;
	if ((ret = cw_demo_rig_end_load(r, st, err, errlen)) < 0)
		goto out;
	if (step->collect && (ret = step->collect(ctx, err, errlen)) < 0)
		goto out;
out:
	cw_demo_rig_close(r);
	if (stop && *stop && ret >= 0) {
		snprintf(err, errlen, "interrupted");
		ret = -EINTR;
	}
	return ret;
}
