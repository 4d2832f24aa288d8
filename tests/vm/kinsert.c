/* VM test of insertion and removal at run time through the library (src/kernel/kmeasure.h): on a live process
 * reading a pipe in a loop, for each dynamic backend: insert k:FUNC, see calls counted, remove it and see its
 * programs gone while the source stays, insert again, close and see nothing of ours loaded.
 * usage: kinsert FUNC (pipe_read or anon_pipe_read). Exit 0 when all hold. */
#include "kernel/features.h"
#include "kernel/kmeasure.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void msleep(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

/* the count of our programs, once deferred freeing has settled on WANT (or after 5 s) */
static int progs_settle(int want)
{
	int n = -1;
	for (int i = 0; i < 50 && (n = cw_kprogs_loaded()) != want; i++)
		msleep(100);
	return n;
}

static int check(const char *backend, pid_t child, const char *func)
{
	char err[256], name[128];
	int bad = 0, base, n;
	struct cw_kresult r;
	struct cw_msource *s = cw_ksource_open(child, backend, err, sizeof(err));
	if (!s) {
		printf("%s: open: %s\n", backend, err);
		return 1;
	}
	base = cw_kprogs_loaded();
	snprintf(name, sizeof(name), "k:%s", func);
	for (int round = 0; round < 2; round++) {
		struct cw_mpoint *p = s->ops->insert(s, name, err, sizeof(err));
		if (!p) {
			printf("%s: insert %s: %s\n", backend, name, err);
			bad = 1;
			break;
		}
		n = cw_kprogs_loaded();
		msleep(300);
		cw_ksource_read(s, p, &r);
		printf("%s round %d: programs %d -> %d, %s calls %llu (%llu completed) in 0.3 s, %llu ns\n", backend,
		       round, base, n, name, (unsigned long long)r.r.calls, (unsigned long long)r.completed,
		       (unsigned long long)r.r.incl_ns);
		if (n != base + 2 || r.r.calls == 0 || r.completed == 0 || r.r.incl_ns == 0 ||
		    r.completed > r.r.calls || strcmp(r.method, backend)) {
			printf("%s: FAILED: expected 2 more programs, calls > 0 timed by %s\n", backend, backend);
			bad = 1;
		}
		uint64_t before = r.r.calls;
		s->ops->reset(s, p);
		cw_ksource_read(s, p, &r);
		/* the child keeps reading while we read back: "right after" is a few ms against 300 */
		if (r.r.calls * 4 > before) {
			printf("%s: FAILED: %llu calls right after reset (%llu in 0.3 s before)\n", backend,
			       (unsigned long long)r.r.calls, (unsigned long long)before);
			bad = 1;
		}
		s->ops->remove(s, p);
		if ((n = progs_settle(base)) != base) {
			printf("%s: FAILED: %d programs after remove, expected %d\n", backend, n, base);
			bad = 1;
		}
	}
	s->ops->close(s);
	if ((n = progs_settle(0)) != 0) {
		printf("%s: FAILED: %d programs after close\n", backend, n);
		bad = 1;
	}
	return bad;
}

int main(int argc, char **argv)
{
	const char *func = argc > 1 ? argv[1] : "pipe_read";
	int fds[2], bad = 0, tried = 0;
	if (pipe(fds))
		return 2;
	pid_t child = fork();
	if (child == 0) {
		char c;
		for (;;)
			if (write(fds[1], "x", 1) != 1 || read(fds[0], &c, 1) != 1)
				_exit(1);
	}
	if (cw_feature(CW_FEAT_FENTRY)) {
		bad |= check("fentry", child, func);
		tried++;
	}
	if (cw_feature(CW_FEAT_KPROBE)) {
		bad |= check("kprobe", child, func);
		tried++;
	}
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	if (!tried) {
		printf("neither fentry nor kprobe available\n");
		return 77;
	}
	return bad;
}
