/* The "agent" measurement source: the controller side of libcrosswalk-agent.so (protocol: src/agent/proto.h). */
#include "measure/agent_source.h"
#include "agent/proto.h"
#include "inject/inject.h"
#include "util/util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stddef.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct cw_mpoint {
	int slot;
	char name[512];
	uint64_t addr;
	struct cw_agent_ctr base; /* counters at insert/reset: reads are differences */
	uint64_t base_sites[CW_AGENT_SITES_PER_SLOT];
	uint64_t base_callers[CW_AGENT_CALLERS_PER_SLOT][2]; /* calls, ticks */
};

/* The sum of a slot's shards. */
/* FIELD of a slot's counters, summed over its shards (each 8-byte counter read with one load) */
static uint64_t shard_sum(const struct cw_agent_slot *s, size_t off)
{
	uint64_t v = 0;
	for (int i = 0; i < CW_AGENT_SHARDS; i++)
		v += __atomic_load_n((const uint64_t *)((const char *)&s->c[i] + off), __ATOMIC_RELAXED);
	return v;
}
#define SHARD_SUM(s, field) shard_sum((s), offsetof(struct cw_agent_ctr, field))

static void slot_sum(const struct cw_agent_slot *s, struct cw_agent_ctr *o)
{
	memset(o, 0, sizeof(*o));
	for (int i = 0; i < CW_AGENT_SHARDS; i++) {
		o->calls += __atomic_load_n(&s->c[i].calls, __ATOMIC_RELAXED);
		o->incl_ticks += __atomic_load_n(&s->c[i].incl_ticks, __ATOMIC_RELAXED);
		o->child_ticks += __atomic_load_n(&s->c[i].child_ticks, __ATOMIC_RELAXED);
		o->unwound += __atomic_load_n(&s->c[i].unwound, __ATOMIC_RELAXED);
		o->lost += __atomic_load_n(&s->c[i].lost, __ATOMIC_RELAXED);
	}
}

struct agent_priv {
	char dir[PATH_MAX];
	int lfd, fd;
	struct cw_agent_shm *shm;
	bool launched, went, exited;
	int status;
	int next_slot;
	int *free_slots, nfree;
	char *rbuf;
	size_t rlen, rcap, roff;
};

static struct agent_priv *P(struct cw_msource *s)
{
	return s->priv;
}

static bool target_gone(struct cw_msource *s)
{
	struct agent_priv *p = P(s);
	if (p->exited)
		return true;
	if (p->launched) {
		int st;
		/* only an exit counts: a stale ptrace-stop report of our own stop-and-check is not one */
		if (waitpid(s->pid, &st, WNOHANG) == s->pid && (WIFEXITED(st) || WIFSIGNALED(st))) {
			p->exited = true;
			p->status = st;
		}
	} else if (kill(s->pid, 0) && errno == ESRCH) {
		p->exited = true;
	} else {
		char path[64], *stat;
		snprintf(path, sizeof(path), "/proc/%d/stat", (int)s->pid);
		stat = cw_read_file(path, NULL);
		char *rp = stat ? strrchr(stat, ')') : NULL;
		if (!stat || (rp && (rp[2] == 'Z' || rp[2] == 'X')))
			p->exited = true;
		free(stat);
	}
	return p->exited;
}

static int send_all(int fd, const char *b, size_t n)
{
	while (n) {
		ssize_t w = send(fd, b, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -EPIPE;
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Next reply line (without '\n') into LINE; waits up to 10 s. */
static int recv_line(struct agent_priv *p, char *line, size_t cap)
{
	for (int waited = 0;;) {
		/* unread bytes are rbuf[roff, rlen): lines are consumed without moving the rest each time */
		char *nl = p->rlen > p->roff ? memchr(p->rbuf + p->roff, '\n', p->rlen - p->roff) : NULL;
		if (nl) {
			size_t l = (size_t)(nl - (p->rbuf + p->roff));
			snprintf(line, cap, "%.*s", (int)l, p->rbuf + p->roff);
			p->roff += l + 1;
			if (p->roff == p->rlen)
				p->roff = p->rlen = 0;
			return 0;
		}
		if (p->roff) {
			memmove(p->rbuf, p->rbuf + p->roff, p->rlen - p->roff);
			p->rlen -= p->roff;
			p->roff = 0;
		}
		if (p->rcap - p->rlen < 1024) {
			p->rcap = p->rcap ? p->rcap * 2 : 8192;
			p->rbuf = cw_realloc(p->rbuf, p->rcap);
		}
		struct pollfd pf = { p->fd, POLLIN, 0 };
		int r = poll(&pf, 1, 100);
		if (r < 0 && errno == EINTR)
			continue;
		if (r == 0) {
			if (++waited > 100)
				return -ETIMEDOUT;
			continue;
		}
		ssize_t n = recv(p->fd, p->rbuf + p->rlen, p->rcap - p->rlen, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -EPIPE;
		p->rlen += (size_t)n;
	}
}

static int alloc_slot(struct agent_priv *p)
{
	if (p->next_slot < CW_AGENT_NSLOTS)
		return p->next_slot++;
	if (p->nfree)
		return p->free_slots[--p->nfree];
	return -1;
}

static void free_slot(struct agent_priv *p, int slot)
{
	if (!p->free_slots)
		p->free_slots = cw_calloc(CW_AGENT_NSLOTS, sizeof(int));
	p->free_slots[p->nfree++] = slot;
}

static void snapshot(struct agent_priv *p, struct cw_mpoint *pt)
{
	struct cw_agent_slot *s = &p->shm->slots[pt->slot];
	slot_sum(s, &pt->base);
	for (int i = 0; i < CW_AGENT_SITES_PER_SLOT; i++)
		pt->base_sites[i] = SHARD_SUM(s, site_calls[i]);
	for (int i = 0; i < CW_AGENT_CALLERS_PER_SLOT; i++) {
		pt->base_callers[i][0] = SHARD_SUM(s, caller_calls[i]);
		pt->base_callers[i][1] = SHARD_SUM(s, caller_ticks[i]);
	}
}

/* The patches prepared by the agent are written while every other thread of the target is stopped and
 * none of them is between two instructions that the jump will cover (a thread preempted there would
 * resume in the middle of the jump): stop, read the PCs, and if one is inside a range, let everything
 * run a moment and try again. The agent's int3 protocol covers threads that are running; this covers the
 * ones that are not. Without ptrace rights the commit goes ahead with the int3 protocol alone. */
static int commit_stopped(struct cw_msource *s, void *rv, size_t nr)
{
	struct { uint64_t site; unsigned len; int slot; int busy; } *ranges = rv;
	struct agent_priv *p = P(s);
	char err[256], line[64];
	struct cw_stopped *st = NULL;
	int inside = 0;
	for (int attempt = 0; attempt < 20; attempt++) {
		st = cw_inject_stop(s->pid, (pid_t)p->shm->ctl_tid, err, sizeof(err));
		if (!st) {
			cw_dbg("patching without stopping the threads: %s", err);
			break;
		}
		const uint64_t *pcs;
		int n = cw_inject_stopped_pcs(st, &pcs);
		inside = 0;
		for (size_t k = 0; k < nr; k++) {
			ranges[k].busy = 0;
			for (int i = 0; i < n; i++)
				if (pcs[i] > ranges[k].site && pcs[i] < ranges[k].site + ranges[k].len)
					ranges[k].busy = inside = 1;
		}
		if (!inside)
			break;
		cw_dbg("a thread is inside a function's first instructions: retrying");
		if (attempt == 19)
			break; /* leave those out, patch the rest with the threads stopped */
		cw_inject_resume(st);
		st = NULL;
		struct timespec d = { 0, 2 * 1000 * 1000 };
		nanosleep(&d, NULL);
	}
	size_t cap = 32 + nr * 24, len = (size_t)snprintf(NULL, 0, "commit");
	char *req = cw_malloc(cap);
	len = (size_t)snprintf(req, cap, "commit");
	for (size_t k = 0; inside && k < nr; k++)
		if (ranges[k].busy)
			len += (size_t)snprintf(req + len, cap - len, " 0x%lx", ranges[k].site);
	req[len++] = '\n';
	int r = send_all(p->fd, req, len);
	free(req);
	while (!r && !(r = recv_line(p, line, sizeof(line))) && strcmp(line, "done"))
		;
	cw_inject_resume(st);
	if (!inside)
		for (size_t k = 0; k < nr; k++)
			ranges[k].busy = 0;
	return r;
}

int cw_agent_source_insert_many(struct cw_msource *s, const char *const *funcs, size_t n,
				struct cw_mpoint **points, char (*errs)[256])
{
	struct agent_priv *p = P(s);
	size_t cap = 64 + n * 64, len, sent = 0;
	char *req = cw_malloc(cap), line[512];
	int ok = 0, r = 0;

	len = (size_t)snprintf(req, cap, "prepare");
	cw_inject_resolve_pin(s->pid);
	for (size_t i = 0; i < n; i++) {
		struct cw_resolved res;
		points[i] = NULL;
		errs[i][0] = 0;
		r = cw_inject_resolve(s->pid, funcs[i], &res, errs[i], sizeof(errs[i]));
		if (r)
			continue;
		int slot = alloc_slot(p);
		if (slot < 0) {
			snprintf(errs[i], sizeof(errs[i]), "too many instrumented functions");
			continue;
		}
		struct cw_mpoint *pt = cw_calloc(1, sizeof(*pt));
		pt->slot = slot;
		pt->addr = res.addr;
		snprintf(pt->name, sizeof(pt->name), "%s", res.name);
		snapshot(p, pt);
		points[i] = pt;
		len += (size_t)snprintf(req + len, cap - len, " %d 0x%lx %lu", slot, res.addr, res.size);
		sent++;
	}
	cw_inject_resolve_unpin();
	r = 0;
	struct range { uint64_t site; unsigned len; int slot; int busy; } *ranges = NULL;
	size_t nranges = 0;
	if (sent) {
		req[len++] = '\n';
		r = send_all(p->fd, req, len);
		while (!r) {
			if ((r = recv_line(p, line, sizeof(line))))
				break;
			if (!strcmp(line, "done"))
				break;
			unsigned long rs;
			unsigned rl;
			int rid;
			if (sscanf(line, "range %d %lx %u", &rid, &rs, &rl) == 3) {
				ranges = cw_realloc(ranges, (nranges + 1) * sizeof(*ranges));
				ranges[nranges] = (struct range){ rs, rl, rid, 0 };
				nranges++;
				continue;
			}
			int slot = -1, pos = 0;
			bool good = !strncmp(line, "ok ", 3);
			sscanf(line + 3, "%d %n", &slot, &pos);
			for (size_t i = 0; i < n; i++)
				if (points[i] && points[i]->slot == slot) {
					if (good) {
						ok++;
					} else {
						snprintf(errs[i], sizeof(errs[i]), "cannot instrument %.200s: %s",
							 points[i]->name, line + 3 + pos);
						free_slot(p, slot);
						free(points[i]);
						points[i] = NULL;
					}
				}
		}
	}
	if (!r && nranges) {
		r = commit_stopped(s, ranges, nranges);
		/* a function a stopped thread sat inside of was left alone: say so */
		for (size_t k = 0; !r && k < nranges; k++)
			for (size_t i = 0; ranges[k].busy && i < n; i++)
				if (points[i] && points[i]->slot == ranges[k].slot) {
					snprintf(errs[i], sizeof(errs[i]),
						 "cannot instrument %.150s: a thread keeps stopping inside its first instructions",
						 points[i]->name);
					free_slot(p, ranges[k].slot);
					free(points[i]);
					points[i] = NULL;
					ok--;
				}
	}
	free(ranges);
	free(req);
	if (r) {
		for (size_t i = 0; i < n; i++) {
			free(points[i]);
			points[i] = NULL;
			if (!errs[i][0])
				snprintf(errs[i], sizeof(errs[i]), "the agent in process %d is gone", (int)s->pid);
		}
		return r;
	}
	return ok;
}

int cw_agent_source_remove_many(struct cw_msource *s, struct cw_mpoint **points, size_t n)
{
	struct agent_priv *p = P(s);
	size_t cap = 32 + n * 12, len;
	char *req = cw_malloc(cap), line[512];
	int r = 0;

	len = (size_t)snprintf(req, cap, "remove");
	for (size_t i = 0; i < n; i++)
		if (points[i])
			len += (size_t)snprintf(req + len, cap - len, " %d", points[i]->slot);
	req[len++] = '\n';
	if (p->fd >= 0 && !p->exited) {
		r = send_all(p->fd, req, len);
		while (!r && !(r = recv_line(p, line, sizeof(line))) && strcmp(line, "done"))
			;
	}
	for (size_t i = 0; i < n; i++)
		if (points[i]) {
			free_slot(p, points[i]->slot);
			free(points[i]);
		}
	free(req);
	return r;
}

static struct cw_mpoint *agent_insert(struct cw_msource *s, const char *func, char *err, size_t errlen)
{
	struct cw_mpoint *pt = NULL;
	char e[1][256];
	cw_agent_source_insert_many(s, &func, 1, &pt, e);
	if (!pt)
		snprintf(err, errlen, "%s", e[0]);
	return pt;
}

static int agent_read(struct cw_msource *s, struct cw_mpoint *pt, struct cw_mresult *out)
{
	struct agent_priv *p = P(s);
	struct cw_agent_slot *sl = &p->shm->slots[pt->slot];
	double k = p->shm->ns_per_tick > 0 ? p->shm->ns_per_tick : 1.0;
	memset(out, 0, sizeof(*out));
	struct cw_agent_ctr c;
	slot_sum(sl, &c);
	out->calls = c.calls - pt->base.calls;
	out->incl_ns = (uint64_t)((double)(c.incl_ticks - pt->base.incl_ticks) * k);
	return 0;
}

int cw_agent_source_read_extra(struct cw_msource *s, struct cw_mpoint *pt, struct cw_agent_extra *out)
{
	struct agent_priv *p = P(s);
	struct cw_agent_slot *sl = &p->shm->slots[pt->slot];
	double k = p->shm->ns_per_tick > 0 ? p->shm->ns_per_tick : 1.0;
	struct cw_agent_ctr c;
	slot_sum(sl, &c);
	uint64_t incl = c.incl_ticks - pt->base.incl_ticks;
	uint64_t child = c.child_ticks - pt->base.child_ticks;
	out->self_ns = (uint64_t)((double)(incl > child ? incl - child : 0) * k);
	out->lost = c.lost - pt->base.lost;
	out->unwound = c.unwound - pt->base.unwound;
	out->entries = c.calls - pt->base.calls + out->unwound + out->lost;
	return 0;
}

int cw_agent_source_sites(struct cw_msource *s, struct cw_mpoint *pt, uint64_t *ret, uint64_t *calls, int max)
{
	struct cw_agent_slot *sl = &P(s)->shm->slots[pt->slot];
	int n = 0;
	for (int i = 0; i < CW_AGENT_SITES_PER_SLOT && n < max; i++) {
		uint64_t r = __atomic_load_n(&sl->site_ret[i], __ATOMIC_RELAXED);
		uint64_t c = SHARD_SUM(sl, site_calls[i]) - pt->base_sites[i];
		if (r && c) {
			ret[n] = r;
			calls[n++] = c;
		}
	}
	return n;
}

int cw_agent_source_slot(const struct cw_mpoint *pt)
{
	return pt->slot;
}

int cw_agent_source_callers(struct cw_msource *s, struct cw_mpoint *pt, uint64_t *key, uint64_t *calls,
			    uint64_t *incl_ns, int max)
{
	struct cw_agent_slot *sl = &P(s)->shm->slots[pt->slot];
	double k = P(s)->shm->ns_per_tick > 0 ? P(s)->shm->ns_per_tick : 1.0;
	int n = 0;
	for (int i = 0; i < CW_AGENT_CALLERS_PER_SLOT && n < max; i++) {
		uint64_t kk = __atomic_load_n(&sl->caller_key[i], __ATOMIC_RELAXED);
		uint64_t c = SHARD_SUM(sl, caller_calls[i]) - pt->base_callers[i][0];
		uint64_t t = SHARD_SUM(sl, caller_ticks[i]) - pt->base_callers[i][1];
		if (kk) {
			key[n] = kk;
			calls[n] = c;
			incl_ns[n++] = (uint64_t)(t * k);
		}
	}
	return n;
}

int cw_agent_source_inflight(struct cw_msource *s, struct cw_mpoint **pts, size_t n, uint64_t *ns)
{
	struct agent_priv *p = P(s);
	double k = p->shm->ns_per_tick > 0 ? p->shm->ns_per_tick : 1.0;
	char line[128];
	int r;
	for (size_t i = 0; i < n; i++)
		ns[i] = 0;
	if (p->fd < 0 || (r = send_all(p->fd, "inflight\n", 9)))
		return -EPIPE;
	while (!(r = recv_line(p, line, sizeof(line))) && strcmp(line, "done")) {
		unsigned slot;
		unsigned long ticks;
		if (sscanf(line, "open %u %lu", &slot, &ticks) != 2)
			continue;
		for (size_t i = 0; i < n; i++)
			if (pts[i] && pts[i]->slot == (int)slot)
				ns[i] = (uint64_t)((double)ticks * k);
	}
	return r;
}

const char *cw_agent_point_name(const struct cw_mpoint *p)
{
	return p->name;
}

static int agent_reset(struct cw_msource *s, struct cw_mpoint *pt)
{
	snapshot(P(s), pt);
	return 0;
}

static int agent_remove(struct cw_msource *s, struct cw_mpoint *pt)
{
	return cw_agent_source_remove_many(s, &pt, 1);
}

static void agent_close(struct cw_msource *s)
{
	struct agent_priv *p;
	char line[256], path[PATH_MAX + 16];
	if (!s)
		return;
	p = P(s);
	if (p->fd >= 0) {
		/* detach: the agent restores every patched byte before it answers */
		if (!target_gone(s) && !send_all(p->fd, "detach\n", 7))
			while (!recv_line(p, line, sizeof(line)) && strcmp(line, "done"))
				;
		close(p->fd);
	}
	if (p->launched && !p->went && !target_gone(s)) {
		/* crosswalk failed before the program was let go: it never ran user code, do not leave it */
		kill(s->pid, SIGKILL);
		waitpid(s->pid, NULL, 0);
	}
	if (p->lfd >= 0)
		close(p->lfd);
	if (p->shm && p->shm != MAP_FAILED)
		munmap(p->shm, CW_AGENT_SHM_SIZE);
	if (p->dir[0]) {
		snprintf(path, sizeof(path), "%s/ctl", p->dir);
		unlink(path);
		snprintf(path, sizeof(path), "%s/counters", p->dir);
		unlink(path);
		rmdir(p->dir);
	}
	free(p->free_slots);
	free(p->rbuf);
	free(p);
	free(s);
}

const struct cw_msource_ops cw_agent_ops = {
	.name = "agent",
	.space = CW_SPACE_USER,
	.insert = agent_insert,
	.read = agent_read,
	.reset = agent_reset,
	.remove = agent_remove,
	.close = agent_close,
};

/* The 0700 control directory, the counter region and the listening socket; owned by UID when we are root
 * and the target is not (so that the agent, running as the target, can use them). */
static int setup(struct agent_priv *p, uid_t uid, gid_t gid, char *err, size_t errlen)
{
	char path[PATH_MAX + 16];
	struct sockaddr_un sa;
	int fd;

	snprintf(p->dir, sizeof(p->dir), "/tmp/crosswalk-XXXXXX");
	if (!mkdtemp(p->dir)) {
		snprintf(err, errlen, "mkdtemp %s: %s", p->dir, strerror(errno));
		p->dir[0] = 0;
		return -errno;
	}
	snprintf(path, sizeof(path), "%s/counters", p->dir);
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || ftruncate(fd, (off_t)CW_AGENT_SHM_SIZE)) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -errno;
	}
	p->shm = mmap(NULL, CW_AGENT_SHM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (geteuid() == 0 && uid != 0)
		(void)!fchown(fd, uid, gid);
	close(fd);
	if (p->shm == MAP_FAILED) {
		snprintf(err, errlen, "mmap %s: %s", path, strerror(errno));
		return -errno;
	}
	p->shm->magic = CW_AGENT_MAGIC;
	p->shm->version = CW_AGENT_VERSION;
	p->shm->nslots = CW_AGENT_NSLOTS;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%.100s/ctl", p->dir);
	p->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (p->lfd < 0 || bind(p->lfd, (struct sockaddr *)&sa, sizeof(sa)) || listen(p->lfd, 1)) {
		snprintf(err, errlen, "control socket %s: %s", sa.sun_path, strerror(errno));
		return -errno;
	}
	if (geteuid() == 0 && uid != 0) {
		(void)!chown(sa.sun_path, uid, gid);
		(void)!chown(p->dir, uid, gid);
	}
	return 0;
}

static int wait_agent(struct cw_msource *s, int timeout_ms, char *err, size_t errlen)
{
	struct agent_priv *p = P(s);
	for (int waited = 0; waited < timeout_ms; waited += 50) {
		struct pollfd pf = { p->lfd, POLLIN, 0 };
		if (poll(&pf, 1, 50) > 0) {
			p->fd = accept4(p->lfd, NULL, NULL, SOCK_CLOEXEC);
			if (p->fd >= 0) {
				/* one agent per measurement: nobody else may connect (an exec'd image would) */
				char path[PATH_MAX + 16];
				snprintf(path, sizeof(path), "%s/ctl", p->dir);
				unlink(path);
				close(p->lfd);
				p->lfd = -1;
				return 0;
			}
		}
		if (target_gone(s)) {
			snprintf(err, errlen, "process %d exited before the agent started", (int)s->pid);
			return -ESRCH;
		}
	}
	snprintf(err, errlen, "the agent did not start in process %d (statically linked, or setuid?)", (int)s->pid);
	return -ETIMEDOUT;
}

static struct cw_msource *source_new(void)
{
	struct cw_msource *s = cw_calloc(1, sizeof(*s));
	struct agent_priv *p = cw_calloc(1, sizeof(*p));
	p->lfd = p->fd = -1;
	s->ops = &cw_agent_ops;
	s->priv = p;
	return s;
}

struct cw_msource *cw_agent_source_launch(char *const argv[], const struct cw_agent_opts *o, char *err,
					  size_t errlen)
{
	struct cw_msource *s = source_new();
	struct agent_priv *p = P(s);
	const char *agent = o && o->agent_path ? o->agent_path : cw_inject_agent_path();

	if (!agent) {
		snprintf(err, errlen, "libcrosswalk-agent.so not found (set CW_AGENT_PATH)");
		goto fail;
	}
	if (setup(p, getuid(), getgid(), err, errlen))
		goto fail;
	p->shm->pool = o ? (uint32_t)o->pool : 0;
	if (cw_inject_launch(argv, agent, p->dir, &s->pid, err, errlen))
		goto fail;
	p->launched = true;
	if (wait_agent(s, 10000, err, errlen))
		goto fail;
	if (o && o->count_sites && send_all(p->fd, "sites 1\n", 8) == 0) {
		char line[64];
		recv_line(p, line, sizeof(line));
	}
	return s;
fail:
	agent_close(s);
	return NULL;
}

int cw_agent_source_go(struct cw_msource *s)
{
	struct agent_priv *p = P(s);
	char line[64];
	int r;
	p->went = true;
	if ((r = send_all(p->fd, "start\n", 6)))
		return r;
	return recv_line(p, line, sizeof(line));
}

struct cw_msource *cw_agent_source_attach(pid_t pid, const struct cw_agent_opts *o, char *err, size_t errlen)
{
	struct cw_msource *s = source_new();
	struct agent_priv *p = P(s);
	const char *agent = o && o->agent_path ? o->agent_path : cw_inject_agent_path();
	struct stat st;
	char proc[64];

	s->pid = pid;
	p->went = true;
	snprintf(proc, sizeof(proc), "/proc/%d", (int)pid);
	if (stat(proc, &st)) {
		snprintf(err, errlen, "no process %d", (int)pid);
		goto fail;
	}
	if (!agent) {
		snprintf(err, errlen, "libcrosswalk-agent.so not found (set CW_AGENT_PATH)");
		goto fail;
	}
	if (setup(p, st.st_uid, st.st_gid, err, errlen))
		goto fail;
	p->shm->pool = o ? (uint32_t)o->pool : 0;
	if (cw_inject_attach(pid, agent, p->dir, err, errlen))
		goto fail;
	if (wait_agent(s, 5000, err, errlen))
		goto fail;
	if (o && o->count_sites && send_all(p->fd, "sites 1\n", 8) == 0) {
		char line[64];
		recv_line(p, line, sizeof(line));
	}
	return s;
fail:
	agent_close(s);
	return NULL;
}

bool cw_agent_source_tsc_constant(struct cw_msource *s)
{
	return P(s)->shm->constant_tsc != 0;
}

int cw_agent_source_poll(struct cw_msource *s, int *status)
{
	bool gone = target_gone(s);
	if (status)
		*status = P(s)->status;
	return gone ? 1 : 0;
}
