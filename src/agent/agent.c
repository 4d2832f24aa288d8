/* libcrosswalk-agent.so: start-up (preloaded or injected), TSC calibration, and the control thread that
 * serves crosswalk's requests (protocol: src/agent/proto.h). */
#include "agent/agent.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

struct cw_agent_shm *cw_shm;
int cw_count_sites;

static int ctl_fd = -1;
static int started; /* launch mode: the constructor waits for "start" */
static pthread_mutex_t start_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t start_cv = PTHREAD_COND_INITIALIZER;
static int running;
static int detached; /* the controller said "detach" (else it died: we clean its directory up) */
static char ctl_dir[256];
static int serving; /* a controller is connected (or connecting) */
static int forked;  /* this process is a fork of one the agent served: it has the parent's patches and
		       counters but no control thread; a controller attaching to it starts clean */

/* In the child of a fork: the control thread was not copied, the control socket is the parent's (closed
 * here, so that the parent's controller sees its own agent go, and nobody else's). The child keeps the
 * patches it was forked with, adding to the parent's counters (a prefork server's workers count), until
 * a controller attaches to the child itself. */
static void after_fork_child(void)
{
	int fd = __atomic_exchange_n(&ctl_fd, -1, __ATOMIC_ACQ_REL);
	if (fd >= 0)
		close(fd);
	cw_patch_after_fork();
	cw_hook_fork_child();
	if (__atomic_load_n(&serving, __ATOMIC_ACQUIRE))
		forked = 1;
	serving = 0;
}

static uint64_t rdtsc(void)
{
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* TSC ticks per ns against CLOCK_MONOTONIC over ~10 ms: enough for 1e-5 with a ~30 ns clock read. */
static double calibrate(void)
{
	uint64_t n0 = mono_ns(), t0 = rdtsc(), n1, t1;
	struct timespec d = { 0, 10 * 1000 * 1000 };
	nanosleep(&d, NULL);
	n1 = mono_ns();
	t1 = rdtsc();
	return t1 > t0 ? (double)(n1 - n0) / (double)(t1 - t0) : 1.0;
}

static int has_constant_tsc(void)
{
	char buf[8192];
	int fd = open("/proc/cpuinfo", O_RDONLY | O_CLOEXEC), found = 0;
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	if (n > 0) {
		buf[n] = 0;
		found = strstr(buf, " constant_tsc") != NULL;
	}
	close(fd);
	return found;
}

static void send_str(const char *s)
{
	size_t n = strlen(s);
	while (n) {
		ssize_t w = send(ctl_fd, s, n, MSG_NOSIGNAL);
		if (w <= 0) {
			if (w < 0 && errno == EINTR)
				continue;
			return;
		}
		s += w;
		n -= (size_t)w;
	}
}

static void reply(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void reply(const char *fmt, ...)
{
	char b[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(b, sizeof(b), fmt, ap);
	va_end(ap);
	send_str(b);
}

static void release_start(void)
{
	pthread_mutex_lock(&start_mu);
	started = 1;
	pthread_cond_broadcast(&start_cv);
	pthread_mutex_unlock(&start_mu);
}

static void handle(char *line)
{
	char *save = NULL, *cmd = strtok_r(line, " \t", &save), *tok;
	char err[200];

	if (!cmd)
		return;
	int prepare = !strcmp(cmd, "prepare");
	if (!strcmp(cmd, "commit")) {
		/* commit [SITE...]: the sites listed are left out (a stopped thread is inside them) */
		while ((tok = strtok_r(NULL, " \t", &save)))
			cw_patch_unstage(strtoull(tok, NULL, 0));
		cw_patch_commit();
	} else if (!strcmp(cmd, "insert") || prepare) {
		cw_patch_begin();
		cw_patch_unwind_hooks();
		while ((tok = strtok_r(NULL, " \t", &save))) {
			char *a = strtok_r(NULL, " \t", &save), *z = strtok_r(NULL, " \t", &save);
			long id = strtol(tok, NULL, 10);
			if (!a || !z) {
				reply("err %ld missing address or size\n", id);
				break;
			}
			err[0] = 0;
			int r = cw_patch_insert(strtoull(a, NULL, 0), strtoull(z, NULL, 0), (int32_t)id, err,
						sizeof(err));
			if (r)
				reply("err %ld %s\n", id, err[0] ? err : strerror(-r));
			else
				reply("ok %ld\n", id);
		}
		if (prepare) {
			uint64_t site;
			uint32_t len;
			int32_t slot;
			for (uint32_t k = 0; cw_patch_staged(k, &site, &len, &slot); k++)
				reply("range %d 0x%lx %u\n", slot, site, len);
		} else {
			cw_patch_commit();
		}
	} else if (!strcmp(cmd, "remove")) {
		cw_patch_begin();
		while ((tok = strtok_r(NULL, " \t", &save))) {
			long id = strtol(tok, NULL, 10);
			if (cw_patch_remove_slot((int32_t)id))
				reply("err %ld not instrumented\n", id);
			else
				reply("ok %ld\n", id);
		}
		cw_patch_commit();
	} else if (!strcmp(cmd, "start")) {
		/* answer first: once released, the program may run to its exit before we could */
		send_str("done\n");
		release_start();
		return;
	} else if (!strcmp(cmd, "sites")) {
		tok = strtok_r(NULL, " \t", &save);
		cw_count_sites = tok && atoi(tok);
	} else if (!strcmp(cmd, "inflight")) {
		/* the time so far of calls still open, per slot, in ticks (with the TSC of the read) */
		static uint64_t acc[CW_AGENT_NSLOTS];
		uint64_t now = rdtsc();
		memset(acc, 0, sizeof(acc));
		cw_hook_inflight(now, acc, CW_AGENT_NSLOTS);
		for (uint32_t i = 0; i < CW_AGENT_NSLOTS; i++)
			if (acc[i])
				reply("open %u %lu\n", i, acc[i]);
	} else if (!strcmp(cmd, "detach")) {
		cw_patch_remove_all();
		detached = 1;
		running = 0;
	} else {
		reply("err 0 unknown request '%s'\n", cmd);
	}
	send_str("done\n");
}

static void *control_main(void *arg)
{
	char *buf = NULL;
	size_t cap = 0, len = 0;

	cw_hook_thread_busy();
	cw_shm->ctl_tid = (uint64_t)gettid();
	running = 1;
	while (running) {
		if (cap - len < 4096) {
			cap = cap ? cap * 2 : 65536;
			char *nb = realloc(buf, cap);
			if (!nb)
				break;
			buf = nb;
		}
		ssize_t n = recv(ctl_fd, buf + len, cap - len - 1, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break; /* the controller is gone: never leave the target modified */
		len += (size_t)n;
		char *nl;
		while (running && (nl = memchr(buf, '\n', len))) {
			*nl = 0;
			handle(buf);
			size_t used = (size_t)(nl + 1 - buf);
			memmove(buf, nl + 1, len - used);
			len -= used;
		}
	}
	cw_patch_remove_all();
	release_start();
	if (!detached && ctl_dir[0]) {
		/* crosswalk died without detaching: nobody else will remove its control directory */
		char p[300];
		snprintf(p, sizeof(p), "%s/counters", ctl_dir);
		unlink(p);
		snprintf(p, sizeof(p), "%s/ctl", ctl_dir);
		unlink(p);
		rmdir(ctl_dir);
	}
	/* -1 before the close: a fork in between must not close a descriptor the program reused */
	close(__atomic_exchange_n(&ctl_fd, -1, __ATOMIC_ACQ_REL));
	free(buf);
	__atomic_store_n(&serving, 0, __ATOMIC_RELEASE);
	return NULL;
}

/* Connects to crosswalk's control directory DIR and starts serving it. WAIT: block (up to 10 s) until
 * crosswalk says "start" (launch mode: the functions are instrumented before main runs). Returns 0 or -errno.
 * Exported: crosswalk calls it in an attached process through ptrace. */
__attribute__((visibility("default"))) int cw_agent_start(const char *dir, int wait)
{
	static int inited;
	char path[256], err[200];
	struct sockaddr_un sa;
	pthread_t th;
	pthread_attr_t at;
	sigset_t all, old;
	int fd, r;

	/* a second attach after a detach: the library is already loaded (dlopen does not run constructors
	 * twice), the sites and their stubs are kept and reused; only one controller at a time */
	if (__atomic_exchange_n(&serving, 1, __ATOMIC_ACQ_REL))
		return -EBUSY;
	detached = 0;
	snprintf(ctl_dir, sizeof(ctl_dir), "%s", dir);
	snprintf(path, sizeof(path), "%s/counters", dir);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		serving = 0;
		return -errno;
	}
	/* the previous controller's region stays mapped: a thread may still be finishing a call into it */
	cw_shm = mmap(NULL, CW_AGENT_SHM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (cw_shm == MAP_FAILED || cw_shm->magic != CW_AGENT_MAGIC || cw_shm->nslots != CW_AGENT_NSLOTS) {
		serving = 0;
		return -EPROTO;
	}
	if (forked) {
		/* the patches inherited from the parent count into the parent's controller's slots: they go
		 * before this controller's slots mean anything (our trap handler first: the program may have
		 * reset SIGTRAP since, and the removal writes int3 first) */
		if (!cw_patch_ensure_trap(err, sizeof(err)))
			cw_patch_remove_all();
		cw_hook_forked_attach();
		forked = 0;
	}
	/* frames opened under an earlier controller (a fork's parent's, or before a detach) hold its slot
	 * numbers: they are no longer counted */
	cw_hook_new_session();
	if (!inited) {
		pthread_atfork(cw_hook_fork_prepare, cw_hook_fork_parent, after_fork_child);
		/* return instances: the controller asked for a source in the region (0: per-thread stack) */
		if (cw_shm->pool != CW_POOL_STACK && (r = cw_hook_set_pool((int)cw_shm->pool, 1u << 16))) {
			serving = 0;
			return r;
		}
		cw_hook_init_main();
		if ((r = cw_patch_init(err, sizeof(err)))) {
			serving = 0;
			return r;
		}
		inited = 1;
	} else if ((r = cw_patch_ensure_trap(err, sizeof(err)))) {
		serving = 0;
		return r;
	}
	cw_shm->constant_tsc = (uint32_t)has_constant_tsc();
	cw_shm->ns_per_tick = calibrate();
	cw_shm->agent_pid = (uint64_t)getpid();
	cw_shm->pool = (uint32_t)cw_hook_pool();

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/ctl", dir);
	ctl_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (ctl_fd < 0 || connect(ctl_fd, (struct sockaddr *)&sa, sizeof(sa))) {
		r = -errno;
		if (ctl_fd >= 0)
			close(ctl_fd);
		ctl_fd = -1;
		serving = 0;
		return r;
	}
	/* the control thread takes no signal meant for the program */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_attr_init(&at);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	r = pthread_create(&th, &at, control_main, NULL);
	pthread_attr_destroy(&at);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r) {
		close(ctl_fd);
		ctl_fd = -1;
		serving = 0;
		return -r;
	}
	if (wait) {
		struct timespec dl;
		clock_gettime(CLOCK_REALTIME, &dl);
		dl.tv_sec += 10;
		pthread_mutex_lock(&start_mu);
		while (!started)
			if (pthread_cond_timedwait(&start_cv, &start_mu, &dl) == ETIMEDOUT)
				break;
		pthread_mutex_unlock(&start_mu);
	}
	return 0;
}

__attribute__((constructor)) static void agent_preloaded(void)
{
	const char *dir = getenv("CW_AGENT_DIR"), *pid = getenv("CW_AGENT_PID");
	int saved = errno;
	/* only the launched process itself: its children that exec inherit the environment and stay inert */
	if (dir && pid && atol(pid) == (long)getpid()) {
		char d[256];
		snprintf(d, sizeof(d), "%s", dir);
		/* an exec of this very process keeps its pid: the new image must not start again */
		unsetenv("CW_AGENT_DIR");
		unsetenv("CW_AGENT_PID");
		int r = cw_agent_start(d, 1);
		if (r)
			fprintf(stderr, "crosswalk agent: cannot start in %s: %s\n", dir, strerror(-r));
	}
	errno = saved;
}
