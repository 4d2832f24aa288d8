/* Reduce a profile of one server to its event-wait share, the hot path through the wait call and the
 * procedures that hold its time: the numbers behind the demo's finding (pure: no I/O, unit-tested). */
#include "demo/demo.h"
#include "util/util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

const char *const cw_demo_select_funcs[] = {
	"select", "__select", "__GI___select", "___select",
	"__x64_sys_select", "__ia32_sys_select", "__do_sys_select", "__se_sys_select", "kern_select",
	"__x64_sys_pselect6", "__do_sys_pselect6", "__se_sys_pselect6", "do_pselect", /* glibc's select() */
	"core_sys_select", "do_select", NULL,
};
const char *const cw_demo_epoll_funcs[] = {
	"epoll_wait", "__epoll_wait", "__GI_epoll_wait", "epoll_pwait", "__GI_epoll_pwait",
	"__x64_sys_epoll_wait", "__x64_sys_epoll_pwait", "__do_sys_epoll_wait", "__se_sys_epoll_wait",
	"do_epoll_wait", "do_epoll_pwait", "ep_poll", NULL,
};

/* "do_select" matches "do_select" and the compiler's clones "do_select.isra.0", "do_select.constprop.0" */
static bool name_is(const char *name, const char *want)
{
	size_t n = strlen(want);
	return !strncmp(name, want, n) && (name[n] == 0 || name[n] == '.');
}

static bool in_list(const char *name, const char *const *list)
{
	for (; *list; list++)
		if (name_is(name, *list))
			return true;
	return false;
}

static bool in_wait_path(const struct cw_pstack *s, const char *const *funcs)
{
	for (uint32_t i = 0; i < s->nframes; i++)
		if (s->frames[i].name && in_list(s->frames[i].name, funcs))
			return true;
	return false;
}

static bool same_frame(const struct cw_pframe *a, const struct cw_pframe *b)
{
	return a->kernel == b->kernel && a->name && b->name && !strcmp(a->name, b->name);
}

struct tally {
	const struct cw_pframe *f;
	uint64_t n;
};

/* Count N under frame F in T (linear: the wait path has few distinct frames at any one depth). */
static void tally_add(struct tally **t, size_t *len, size_t *cap, const struct cw_pframe *f, uint64_t n)
{
	for (size_t i = 0; i < *len; i++)
		if (same_frame((*t)[i].f, f)) {
			(*t)[i].n += n;
			return;
		}
	if (*len == *cap) {
		*cap = *cap ? *cap * 2 : 32;
		*t = cw_realloc(*t, *cap * sizeof(**t));
	}
	(*t)[(*len)++] = (struct tally){ f, n };
}

static const struct tally *tally_max(const struct tally *t, size_t len)
{
	const struct tally *best = NULL;
	for (size_t i = 0; i < len; i++)
		if (!best || t[i].n > best->n)
			best = &t[i];
	return best;
}

bool cw_demo_is_entry_glue(const char *name)
{
	static const char *const glue[] = { "entry_SYSCALL_64", "entry_SYSCALL_64_after_hwframe", "do_syscall_64",
					    "x64_sys_call", "syscall_enter_from_user_mode", NULL };
	return name && in_list(name, glue);
}

int cw_demo_analyze(const struct cw_profile *p, pid_t pid, const char *const *wait_funcs, struct cw_demo_analysis *a)
{
	bool *wait = cw_calloc(p->nstacks ? p->nstacks : 1, sizeof(bool));
	bool *on_path = cw_calloc(p->nstacks ? p->nstacks : 1, sizeof(bool));
	struct tally *t = NULL;
	size_t tlen = 0, tcap = 0;
	int ret = 0;

	memset(a, 0, sizeof(*a));
	for (size_t i = 0; i < p->nstacks; i++) {
		const struct cw_pstack *s = &p->stacks[i];
		if (s->idle || (pid && s->pid != (uint32_t)pid))
			continue;
		wait[i] = in_wait_path(s, wait_funcs);
		a->samples += s->samples;
		a->offcpu_ns += s->offcpu_ns;
		if (s->samples && s->nframes && s->frames[0].kernel)
			a->kernel_samples += s->samples;
		if (wait[i]) {
			a->wait_samples += s->samples;
			a->offcpu_wait_ns += s->offcpu_ns;
		}
	}
	if (!a->samples) {
		ret = -ENODATA;
		goto out;
	}
	a->wait_pct = 100.0 * (double)a->wait_samples / (double)a->samples;
	a->kernel_pct = 100.0 * (double)a->kernel_samples / (double)a->samples;

	/* self time inside the wait path, by procedure */
	for (size_t i = 0; i < p->nstacks; i++)
		if (wait[i] && p->stacks[i].samples && p->stacks[i].nframes)
			tally_add(&t, &tlen, &tcap, &p->stacks[i].frames[0], p->stacks[i].samples);
	while (a->ntop < CW_DEMO_MAX_TOP && tlen) {
		struct tally *m = (struct tally *)tally_max(t, tlen);
		a->top[a->ntop++] = (struct cw_demo_node){ m->f->name, m->f->kernel,
							   100.0 * (double)m->n / (double)a->samples };
		*m = t[--tlen];
	}

	/* the hot path, from the outermost frame inward, through the wait stacks */
	for (size_t i = 0; i < p->nstacks; i++)
		on_path[i] = wait[i] && p->stacks[i].samples;
	for (uint32_t depth = 0; a->wait_samples && a->npath < CW_DEMO_MAX_PATH; depth++) {
		tlen = 0;
		for (size_t i = 0; i < p->nstacks; i++) {
			const struct cw_pstack *s = &p->stacks[i];
			if (on_path[i] && s->nframes > depth)
				tally_add(&t, &tlen, &tcap, &s->frames[s->nframes - 1 - depth], s->samples);
		}
		const struct tally *m = tally_max(t, tlen);
		if (!m || 2 * m->n < a->wait_samples)
			break;
		const struct cw_pframe *f = m->f;
		a->path[a->npath++] = (struct cw_demo_node){ f->name, f->kernel, 100.0 * (double)m->n / (double)a->samples };
		for (size_t i = 0; i < p->nstacks; i++) {
			const struct cw_pstack *s = &p->stacks[i];
			if (on_path[i] && !(s->nframes > depth && same_frame(&s->frames[s->nframes - 1 - depth], f)))
				on_path[i] = false;
		}
	}
	/* start at main when it is on the path: what is above it is the C runtime's start-up */
	for (size_t i = 0; i < a->npath; i++)
		if (!a->path[i].kernel && a->path[i].name && !strcmp(a->path[i].name, "main")) {
			memmove(a->path, a->path + i, (a->npath - i) * sizeof(a->path[0]));
			a->npath -= i;
			break;
		}
out:
	free(t);
	free(wait);
	free(on_path);
	return ret;
}
