/* Launching a program with the agent preloaded. */
#include "inject/inject.h"
#include "util/util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

const char *cw_inject_agent_path(void)
{
	static char path[PATH_MAX + 64];
	const char *env = getenv("CW_AGENT_PATH");
	char exe[PATH_MAX];
	ssize_t n;

	if (env && *env)
		return access(env, R_OK) ? NULL : env;
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = 0;
		char *s = strrchr(exe, '/');
		if (s) {
			*s = 0;
			snprintf(path, sizeof(path), "%s/libcrosswalk-agent.so", exe);
			if (!access(path, R_OK))
				return path;
			snprintf(path, sizeof(path), "%s/../lib/crosswalk/libcrosswalk-agent.so", exe);
			if (!access(path, R_OK))
				return path;
		}
	}
	return NULL;
}

int cw_inject_launch(char *const argv[], const char *agent, const char *dir, pid_t *pid, char *err,
		     size_t errlen)
{
	int p[2], e = 0;
	pid_t c;

	if (pipe2(p, O_CLOEXEC))
		return -errno;
	c = fork();
	if (c < 0) {
		e = errno;
		close(p[0]);
		close(p[1]);
		snprintf(err, errlen, "fork: %s", strerror(e));
		return -e;
	}
	if (c == 0) {
		char pre[PATH_MAX * 2], me[32];
		const char *old = getenv("LD_PRELOAD");
		snprintf(pre, sizeof(pre), "%s%s%s", agent, old && *old ? ":" : "", old ? old : "");
		snprintf(me, sizeof(me), "%d", (int)getpid());
		setenv("LD_PRELOAD", pre, 1);
		setenv("CW_AGENT_DIR", dir, 1);
		setenv("CW_AGENT_PID", me, 1);
		execvp(argv[0], argv);
		e = errno;
		(void)!write(p[1], &e, sizeof(e));
		_exit(127);
	}
	close(p[1]);
	if (read(p[0], &e, sizeof(e)) == sizeof(e)) {
		close(p[0]);
		waitpid(c, NULL, 0);
		snprintf(err, errlen, "cannot run '%s': %s", argv[0], strerror(e));
		return -e;
	}
	close(p[0]);
	*pid = c;
	return 0;
}
