/* Target selection shared by the commands that watch a program: pid lists, launching, signals. */
#include "cli/target.h"
#include "util/util.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int cw_parse_pids(const char *s, pid_t **pids, size_t *n)
{
	char *copy = cw_strdup(s), *save = NULL, *tok;
	*pids = NULL;
	*n = 0;
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *end;
		long v = strtol(tok, &end, 10);
		if (*end || v <= 0 || v > 0x3fffffff) {
			cw_err("invalid PID '%s'", tok);
			goto bad;
		}
		if (kill((pid_t)v, 0) < 0 && errno == ESRCH) {
			cw_err("no process with PID %ld", v);
			goto bad;
		}
		*pids = cw_realloc(*pids, (*n + 1) * sizeof(pid_t));
		(*pids)[(*n)++] = (pid_t)v;
	}
	free(copy);
	if (!*n) {
		cw_err("empty PID list");
		return -EINVAL;
	}
	return 0;
bad:
	free(copy);
	free(*pids);
	*pids = NULL;
	*n = 0;
	return -EINVAL;
}

int cw_launch_prepare(struct cw_launch *l, char **argv)
{
	int go[2], er[2];
	memset(l, 0, sizeof(*l));
	if (pipe2(go, O_CLOEXEC) < 0)
		return -errno;
	if (pipe2(er, O_CLOEXEC) < 0) {
		close(go[0]);
		close(go[1]);
		return -errno;
	}
	l->pid = fork();
	if (l->pid < 0) {
		int e = errno;
		close(go[0]); close(go[1]); close(er[0]); close(er[1]);
		return -e;
	}
	if (l->pid == 0) {
		char c;
		close(go[1]);
		close(er[0]);
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		if (read(go[0], &c, 1) != 1)
			_exit(127);
		execvp(argv[0], argv);
		int e = errno;
		if (write(er[1], &e, sizeof(e)) < 0)
			_exit(127);
		_exit(127);
	}
	close(go[0]);
	close(er[1]);
	l->go_fd = go[1];
	l->err_fd = er[0];
	return 0;
}

int cw_launch_go(struct cw_launch *l, const char *cmd)
{
	int e = 0;
	ssize_t n;
	if (write(l->go_fd, "g", 1) != 1)
		return -errno;
	close(l->go_fd);
	l->go_fd = -1;
	n = read(l->err_fd, &e, sizeof(e));
	close(l->err_fd);
	l->err_fd = -1;
	if (n == sizeof(e)) {
		waitpid(l->pid, &l->status, 0);
		l->exited = true;
		cw_err("cannot run '%s': %s", cmd, e == ENOENT ? "command not found" : strerror(e));
		return -e;
	}
	return 0;
}

bool cw_launch_poll(struct cw_launch *l)
{
	if (l->exited || l->pid <= 0)
		return true;
	if (waitpid(l->pid, &l->status, WNOHANG) == l->pid)
		l->exited = true;
	return l->exited;
}

void cw_launch_kill(struct cw_launch *l)
{
	if (l->pid <= 0 || cw_launch_poll(l))
		return;
	if (l->go_fd > 0) { /* never released: it is still waiting before exec */
		close(l->go_fd);
		l->go_fd = -1;
	}
	kill(l->pid, SIGTERM);
	for (int i = 0; i < 50 && !cw_launch_poll(l); i++) {
		struct timespec ts = { 0, 20000000 };
		nanosleep(&ts, NULL);
	}
	if (!cw_launch_poll(l)) {
		kill(l->pid, SIGKILL);
		waitpid(l->pid, &l->status, 0);
		l->exited = true;
	}
}

static volatile int *sig_flag;
static void on_signal(int sig)
{
	if (sig_flag)
		*sig_flag = sig;
}

void cw_catch_signals(volatile int *flag)
{
	struct sigaction sa = { 0 };
	sig_flag = flag;
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

int cw_find_program(const char *name, char *out, size_t len)
{
	const char *path = getenv("PATH");
	if (strchr(name, '/')) {
		snprintf(out, len, "%s", name);
		return access(out, X_OK) == 0 ? 0 : -ENOENT;
	}
	if (!path)
		path = "/usr/local/bin:/usr/bin:/bin";
	while (*path) {
		size_t n = strcspn(path, ":");
		struct stat st;
		snprintf(out, len, "%.*s/%s", (int)n, path, name);
		if (n && access(out, X_OK) == 0 && stat(out, &st) == 0 && S_ISREG(st.st_mode))
			return 0;
		path += n + (path[n] == ':');
	}
	return -ENOENT;
}
