/* The "uprobe" measurement source: the user side of src/kernel/uprobe_time.bpf.c. */
#include "measure/uprobe_source.h"
#include "inject/inject.h"
#include "kernel/features.h"
#include "util/util.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

#include "uprobe_time.skel.h"

#define UPT_SLOTS 4096

struct cw_mpoint {
	uint32_t slot;
	char name[512];
	struct bpf_link *entry, *exit;
	uint64_t base_calls, base_ns;
};

struct upriv {
	struct uprobe_time_bpf *skel;
	bool launched, exited, held;
	int status;
	uint32_t next_slot;
};

static struct upriv *U(struct cw_msource *s)
{
	return s->priv;
}

static int stat_of(struct cw_msource *s, uint32_t slot, uint64_t *calls, uint64_t *ns)
{
	struct { uint64_t calls, ns; } v;
	int r = bpf_map_lookup_elem(bpf_map__fd(U(s)->skel->maps.stats), &slot, &v);
	if (r)
		return -errno;
	*calls = v.calls;
	*ns = v.ns;
	return 0;
}

static struct cw_mpoint *up_insert(struct cw_msource *s, const char *func, char *err, size_t errlen)
{
	struct upriv *u = U(s);
	struct cw_resolved res;
	LIBBPF_OPTS(bpf_uprobe_opts, o);
	if (cw_inject_resolve(s->pid, func, &res, err, errlen))
		return NULL;
	if (u->next_slot >= UPT_SLOTS) {
		snprintf(err, errlen, "too many uprobes");
		return NULL;
	}
	struct cw_mpoint *p = cw_calloc(1, sizeof(*p));
	p->slot = u->next_slot++;
	snprintf(p->name, sizeof(p->name), "%s", res.name);
	o.bpf_cookie = p->slot;
	o.retprobe = false;
	p->entry = bpf_program__attach_uprobe_opts(u->skel->progs.upt_entry, s->pid, res.path, res.file_off, &o);
	o.retprobe = true;
	p->exit = p->entry ? bpf_program__attach_uprobe_opts(u->skel->progs.upt_exit, s->pid, res.path,
							     res.file_off, &o)
			   : NULL;
	if (!p->entry || !p->exit) {
		snprintf(err, errlen, "uprobe on %s (%s+0x%lx): %s", func, res.path, res.file_off, strerror(errno));
		bpf_link__destroy(p->entry);
		bpf_link__destroy(p->exit);
		free(p);
		return NULL;
	}
	stat_of(s, p->slot, &p->base_calls, &p->base_ns);
	return p;
}

static int up_read(struct cw_msource *s, struct cw_mpoint *p, struct cw_mresult *out)
{
	uint64_t c = 0, ns = 0;
	int r = stat_of(s, p->slot, &c, &ns);
	memset(out, 0, sizeof(*out));
	if (r)
		return r;
	out->calls = c - p->base_calls;
	out->incl_ns = ns - p->base_ns;
	return 0;
}

static int up_reset(struct cw_msource *s, struct cw_mpoint *p)
{
	return stat_of(s, p->slot, &p->base_calls, &p->base_ns);
}

static int up_remove(struct cw_msource *s, struct cw_mpoint *p)
{
	bpf_link__destroy(p->entry);
	bpf_link__destroy(p->exit);
	free(p);
	return 0;
}

static void up_close(struct cw_msource *s)
{
	if (!s)
		return;
	struct upriv *u = U(s);
	/* the links are owned by the points; destroying the skeleton detaches whatever is left */
	uprobe_time_bpf__destroy(u->skel);
	if (u->launched && u->held && !u->exited) {
		kill(s->pid, SIGKILL);
		waitpid(s->pid, NULL, 0);
	}
	free(u);
	free(s);
}

const struct cw_msource_ops cw_uprobe_ops = {
	.name = "uprobe",
	.space = CW_SPACE_USER,
	.insert = up_insert,
	.read = up_read,
	.reset = up_reset,
	.remove = up_remove,
	.close = up_close,
};

const char *cw_uprobe_point_name(const struct cw_mpoint *p)
{
	return p->name;
}

static struct cw_msource *up_new(pid_t pid, char *err, size_t errlen)
{
	struct cw_msource *s = cw_calloc(1, sizeof(*s));
	struct upriv *u = cw_calloc(1, sizeof(*u));
	s->ops = &cw_uprobe_ops;
	s->priv = u;
	s->pid = pid;
	cw_libbpf_quiet();
	if (!cw_feature(CW_FEAT_UPROBE)) {
		snprintf(err, errlen, "BPF uprobes not available: %s", cw_feature_reason(CW_FEAT_UPROBE));
		goto fail;
	}
	u->skel = uprobe_time_bpf__open();
	if (!u->skel) {
		snprintf(err, errlen, "uprobe_time: open: %s", strerror(errno));
		goto fail;
	}
	u->skel->rodata->tgid = (uint32_t)pid;
	if (uprobe_time_bpf__load(u->skel)) {
		snprintf(err, errlen, "uprobe_time: load: %s", strerror(errno));
		goto fail;
	}
	return s;
fail:
	up_close(s);
	return NULL;
}

struct cw_msource *cw_uprobe_source_attach(pid_t pid, char *err, size_t errlen)
{
	if (kill(pid, 0) && errno == ESRCH) {
		snprintf(err, errlen, "no process %d", (int)pid);
		return NULL;
	}
	return up_new(pid, err, errlen);
}

struct cw_msource *cw_uprobe_source_launch(char *const argv[], char *err, size_t errlen)
{
	int st;
	pid_t c = fork();
	if (c < 0) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		return NULL;
	}
	if (c == 0) {
		/* stop at the exec: the image is mapped, nothing of it has run yet */
		ptrace(PTRACE_TRACEME, 0, 0, 0);
		execvp(argv[0], argv);
		_exit(127);
	}
	if (waitpid(c, &st, 0) != c || !WIFSTOPPED(st)) {
		snprintf(err, errlen, "cannot run '%s'", argv[0]);
		waitpid(c, NULL, WNOHANG);
		return NULL;
	}
	struct cw_msource *s = up_new(c, err, errlen);
	if (!s) {
		kill(c, SIGKILL);
		ptrace(PTRACE_DETACH, c, 0, 0);
		waitpid(c, NULL, 0);
		return NULL;
	}
	U(s)->launched = true;
	U(s)->held = true;
	return s;
}

int cw_uprobe_source_go(struct cw_msource *s)
{
	U(s)->held = false;
	return ptrace(PTRACE_DETACH, s->pid, 0, 0) ? -errno : 0;
}

int cw_uprobe_source_poll(struct cw_msource *s, int *status)
{
	struct upriv *u = U(s);
	if (!u->exited) {
		if (u->launched) {
			if (waitpid(s->pid, &u->status, WNOHANG) == s->pid)
				u->exited = true;
		} else if (kill(s->pid, 0) && errno == ESRCH) {
			u->exited = true;
		}
	}
	if (status)
		*status = u->status;
	return u->exited;
}
