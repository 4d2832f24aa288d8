/* The walk's world: the real target, measured with the agent (user functions, src/measure/agent_source.h),
 * the kernel source (syscalls, kernel functions, faults: src/kernel/kmeasure.h), the static call graph
 * (src/cfg), and a background sampling profile (src/profile) that names the roots (main, thread start
 * routines) and the callees actually observed (indirect calls, C++ virtual calls, the syscalls made). */
#include "walk/env_real.h"
#include "cfg/cfg.h"
#include "kernel/kmeasure.h"
#include "measure/agent_source.h"
#include "agent/proto.h"
#include "profile/profiler.h"
#include "sym/sym.h"
#include "util/util.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* A user function already running when it is instrumented (main, an event loop) never enters its
 * trampoline: its activations began before the patch. Such a "resident" function is measured from the
 * background profile instead (the time its frames are on the thread's stacks, on-CPU and blocked). */
struct resident {
	uint64_t magic;
	double t_ins; /* the run clock (cw_walk_real.run_s) when it was "inserted": measured from then */
	uint64_t base_ns;
};
#define RESIDENT_MAGIC 0x7265736964656e74ull
static struct resident *resident_of(void *h)
{
	struct resident *r = h;
	return r && r->magic == RESIDENT_MAGIC ? r : NULL;
}

struct cw_walk_real {
	struct cw_walk_env env;
	struct cw_msource *user, *kern;
	struct cw_profiler *prof;
	struct cw_profile last;
	uint64_t last_ns;
	struct cw_syms *syms;
	struct cw_cfg *cfg;
	struct cw_cfg_scope *scope;
	struct cw_proc_maps maps;
	pid_t pid;
	bool launched, exited;
	int status;
	/* Seconds spent inside experiment intervals (real_run): the clock a resident function's time runs
	 * on. Its time is its share of the wall time, so it must not grow while the walk reads the other
	 * nodes between intervals (a profile refresh of a large C++ program takes a good fraction of a
	 * second), or a resident main read before and after an interval shows more than 100%. */
	double run_s;
	char exe[256]; /* the executable's basename, as the profile names its object */
	volatile int *stop;
	char err[256];
	struct point *points;
};

static double real_now(void *ctx)
{
	return cw_now_ns() / 1e9;
}

static double real_cost(void *ctx, enum cw_wkind k)
{
	switch (k) {
	case CW_WK_USER: return 40;	 /* the agent's entry+exit trampolines */
	case CW_WK_SYSCALL: return 400;	 /* raw_syscalls enter/exit programs */
	case CW_WK_FAULT: return 400;
	default: return 0;		 /* sampled: no per-call cost */
	}
}

static void refresh_profile(struct cw_walk_real *w, bool force)
{
	if (!force && w->last_ns && cw_now_ns() - w->last_ns < 1000000000ull)
		return;
	cw_profile_free(&w->last);
	cw_profiler_collect(w->prof, &w->last);
	w->last_ns = cw_now_ns();
}

static bool is_exe(struct cw_walk_real *w, const char *obj)
{
	return obj && !strcmp(obj, w->exe);
}

/* The agent's spec for a user frame of the profile: NAME in the executable, OBJ:NAME elsewhere;
 * unnamed functions are already "OBJ+0xOFF". */
static void user_spec(struct cw_walk_real *w, const struct cw_pframe *f, struct cw_wcand *c)
{
	c->kind = CW_WK_USER;
	snprintf(c->label, sizeof(c->label), "%s", f->name);
	if (is_exe(w, f->obj) || strstr(f->name, "+0x"))
		snprintf(c->name, sizeof(c->name), "%s", f->name);
	else
		snprintf(c->name, sizeof(c->name), "%s:%s", f->obj, f->name);
}

static void add_cand(struct cw_wcand **v, size_t *n, size_t *cap, const struct cw_wcand *c)
{
	for (size_t i = 0; i < *n; i++)
		if (!strcmp((*v)[i].name, c->name))
			return;
	if (*n == *cap)
		*v = cw_realloc(*v, (*cap = *cap ? *cap * 2 : 16) * sizeof(**v));
	(*v)[(*n)++] = *c;
}

static bool skip_root_frame(const char *name)
{
	static const char *const glue[] = { "_start", "__libc_start_main", "__libc_start_call_main", "clone3",
					    "clone", "start_thread", "__clone", "__clone3", "[unknown]" };
	for (size_t i = 0; i < sizeof(glue) / sizeof(glue[0]); i++)
		if (!strcmp(name, glue[i]))
			return true;
	return false;
}

/* The background profile follows the target's children (forked workers), but the agent instruments the
 * walked process only: roots, observed callees and resident shares come from that process's stacks. */
static bool ours(const struct cw_walk_real *w, const struct cw_pstack *st)
{
	return st->pid == (uint32_t)w->pid;
}

/* Where a user stack leaves the C library's start-up: the index of its innermost __libc_start_call_main or
 * start_thread frame (__libc_start_main before glibc 2.34 called main itself), or -1 when it has none (a
 * stack that did not unwind to the start). */
static int start_frame(const struct cw_pstack *st)
{
	for (int i = 0; i < (int)st->nframes; i++)
		if (!st->frames[i].kernel && (!strcmp(st->frames[i].name, "__libc_start_call_main") ||
					      !strcmp(st->frames[i].name, "start_thread") ||
					      !strcmp(st->frames[i].name, "__libc_start_main")))
			return i;
	return -1;
}

/* The agent's own control thread. */
static bool agent_stack(const struct cw_pstack *st)
{
	for (uint32_t i = 0; i < st->nframes; i++)
		if (st->frames[i].obj && strstr(st->frames[i].obj, "libcrosswalk-agent"))
			return true;
	return false;
}

/* Roots: the outermost user frame of each thread's stacks past the C library's glue: main, and thread
 * start routines. main first; then the others by weight. */
static int real_roots(void *ctx, struct cw_wcand **out, size_t *n)
{
	struct cw_walk_real *w = ctx;
	size_t cap = 0;
	*out = NULL;
	*n = 0;
	refresh_profile(w, true);
	struct cw_wcand main_c = { .kind = CW_WK_USER };
	bool have_main = false;
	/* A stack the unwinder could not take to the C library's start-up (hand-written assembly without CFI,
	 * a frame the profile caught mid-prologue) ends at some arbitrary function: it is no root, and taken as
	 * one it would "hold" 100% of its own stacks (squid's nettle_md5_compress did). So where complete
	 * stacks exist, only they name roots. */
	bool any_complete = false;
	for (size_t s = 0; s < w->last.nstacks && !any_complete; s++)
		any_complete = ours(w, &w->last.stacks[s]) && !agent_stack(&w->last.stacks[s]) &&
			       start_frame(&w->last.stacks[s]) >= 0;
	for (size_t s = 0; s < w->last.nstacks; s++) {
		const struct cw_pstack *st = &w->last.stacks[s];
		if (!ours(w, st))
			continue;
		if (agent_stack(st))
			continue;
		/* past the C library's start-up: the frame after __libc_start_call_main (main, named or not) or
		 * after start_thread (a thread's start routine) */
		int from = start_frame(st);
		if (from < 0 && any_complete)
			continue;
		from = from < 0 ? (int)st->nframes - 1 : from - 1;
		for (int i = from; i >= 0; i--) {
			const struct cw_pframe *f = &st->frames[i];
			if (f->kernel)
				break;
			if (skip_root_frame(f->name))
				continue;
			struct cw_wcand c;
			user_spec(w, f, &c);
			if (!strcmp(f->name, "main") || (i + 1 < (int)st->nframes &&
							  !strcmp(st->frames[i + 1].name, "__libc_start_call_main"))) {
				main_c = c;
				have_main = true;
			} else {
				add_cand(out, n, &cap, &c);
			}
			break;
		}
	}
	if (have_main) {
		add_cand(out, n, &cap, &main_c);
	} else if (!*n) { /* not seen at all: main still is where a program starts */
		snprintf(main_c.name, sizeof(main_c.name), "main");
		snprintf(main_c.label, sizeof(main_c.label), "main");
		add_cand(out, n, &cap, &main_c);
	}
	/* main first */
	if (have_main && *n > 1) {
		struct cw_wcand t = (*out)[*n - 1];
		memmove(&(*out)[1], &(*out)[0], (*n - 1) * sizeof(**out));
		(*out)[0] = t;
	}
	return 0;
}

/* The syscall a kernel stack entered by: the frame named __x64_sys_NAME (or __do_sys_NAME). */
static const char *syscall_of(const struct cw_pstack *st, int from)
{
	for (int i = from; i >= 0; i--) {
		const char *nm = st->frames[i].name;
		if (!strncmp(nm, "__x64_sys_", 10))
			return nm + 10;
		if (!strncmp(nm, "__do_sys_", 9))
			return nm + 9;
	}
	return NULL;
}

static bool fault_entry(const struct cw_pstack *st, int from)
{
	for (int i = from; i >= 0 && i > from - 3; i--)
		if (strstr(st->frames[i].name, "exc_page_fault"))
			return true;
	return false;
}

/* The static call sites of the user function NAME (its object in *OBJP when asked), or false. */
static bool node_sites(struct cw_walk_real *w, const char *name, struct cw_cfg_obj **objp, const struct cw_site **sites,
		       size_t *ns)
{
	struct cw_cfg_obj *obj = NULL;
	const struct cw_func *f = NULL;
	if (!w->scope || cw_cfg_scope_find(w->scope, name, &obj, &f) < 0 || !obj || cw_cfg_callees(obj, f, sites, ns) < 0)
		return false;
	if (objp)
		*objp = obj;
	return true;
}

/* Does the user function of NODE end in an indirect tail call (jmp *%rax: a virtual call or a function
 * pointer called last, as squid's AsyncCall::make calls fire())? */
static bool indirect_tail(struct cw_walk_real *w, const struct cw_wnode *node)
{
	const struct cw_site *sites;
	size_t ns;
	if (!node_sites(w, node->name, NULL, &sites, &ns))
		return false;
	for (size_t i = 0; i < ns; i++)
		if (sites[i].kind == CW_SITE_INDIRECT && sites[i].tail)
			return true;
	return false;
}

/* Callees observed under NODE in the profile's stacks (on-CPU and blocked). */
static void observed(struct cw_walk_real *w, const struct cw_wnode *node, struct cw_wcand **v, size_t *n,
		     size_t *cap)
{
	const char *kname = node->kind == CW_WK_KERNEL ? node->name + 2 : NULL;
	const char *sname = node->kind == CW_WK_SYSCALL ? node->name + 4 : NULL;
	/* a function that a node tail-calls through a pointer replaced the node's frame: the profile shows it
	 * right under the node's parent. Those are candidates too; measured, their calls through the node are
	 * told from the parent's own by their nearest instrumented caller (context_read). */
	const char *tail_parent = node->kind == CW_WK_USER && node->parent && node->parent->kind == CW_WK_USER &&
					  indirect_tail(w, node)
				  ? node->parent->label
				  : NULL;
	for (size_t s = 0; s < w->last.nstacks; s++) {
		const struct cw_pstack *st = &w->last.stacks[s];
		if (!ours(w, st))
			continue;
		for (int i = (int)st->nframes - 1; i >= 1; i--) {
			const struct cw_pframe *f = &st->frames[i], *g = &st->frames[i - 1];
			struct cw_wcand c = { 0 };
			if (tail_parent && !f->kernel && !g->kernel && !strcmp(f->name, tail_parent) &&
			    strcmp(g->name, node->label) && strcmp(g->name, "[unknown]")) {
				user_spec(w, g, &c);
			} else if (node->kind == CW_WK_USER && !f->kernel && !strcmp(f->name, node->label)) {
				if (!g->kernel) {
					user_spec(w, g, &c);
				} else if (fault_entry(st, i - 1)) {
					snprintf(c.name, sizeof(c.name), "fault");
					snprintf(c.label, sizeof(c.label), "page faults");
					c.kind = CW_WK_FAULT;
				} else {
					const char *sc = syscall_of(st, i - 1);
					if (!sc)
						continue;
					snprintf(c.name, sizeof(c.name), "sys:%s", sc);
					snprintf(c.label, sizeof(c.label), "%s()", sc);
					c.kind = CW_WK_SYSCALL;
				}
			} else if (f->kernel && g->kernel &&
				   ((kname && !strcmp(f->name, kname)) ||
				    (sname && (!strncmp(f->name, "__x64_sys_", 10) && !strcmp(f->name + 10, sname))))) {
				if (!strcmp(g->name, "[unknown]"))
					continue;
				snprintf(c.name, sizeof(c.name), "k:%s", g->name);
				snprintf(c.label, sizeof(c.label), "%s", g->name);
				c.kind = CW_WK_KERNEL;
			} else if (node->kind == CW_WK_FAULT && f->kernel && g->kernel && strstr(f->name, "exc_page_fault") &&
				   !strstr(g->name, "exc_page_fault")) {
				snprintf(c.name, sizeof(c.name), "k:%s", g->name);
				snprintf(c.label, sizeof(c.label), "%s", g->name);
				c.kind = CW_WK_KERNEL;
			} else {
				continue;
			}
			add_cand(v, n, cap, &c);
		}
	}
}

/* Does NODE's own code (not a callee's) hold a syscall instruction for system call NAME? */
static bool makes_syscall(struct cw_walk_real *w, const struct cw_wnode *node, const char *name)
{
	const struct cw_site *sites;
	size_t ns;
	if (!node_sites(w, node->name, NULL, &sites, &ns))
		return false;
	for (size_t i = 0; i < ns; i++)
		if (sites[i].kind == CW_SITE_SYSCALL && sites[i].callee && !strcmp(sites[i].callee, name))
			return true;
	return false;
}

/* Callees from the static call graph of a user function. */
static void static_callees(struct cw_walk_real *w, const struct cw_wnode *node, struct cw_wcand **v, size_t *n,
			   size_t *cap)
{
	struct cw_cfg_obj *obj = NULL;
	const struct cw_site *sites;
	size_t ns;

	if (!node_sites(w, node->name, &obj, &sites, &ns))
		return;
	for (size_t i = 0; i < ns; i++) {
		const struct cw_site *s = &sites[i];
		struct cw_wcand c = { .kind = CW_WK_USER };
		struct cw_cfg_obj *dobj = obj;
		const struct cw_func *df = NULL;
		if (s->kind == CW_SITE_SYSCALL) {
			if (!s->callee)
				continue;
			snprintf(c.name, sizeof(c.name), "sys:%s", s->callee);
			snprintf(c.label, sizeof(c.label), "%s()", s->callee);
			c.kind = CW_WK_SYSCALL;
		} else if (s->kind == CW_SITE_CALL && s->callee) {
			if (cw_cfg_func(obj, s->callee, &df) < 0)
				continue;
		} else if (s->kind == CW_SITE_IMPORT && s->callee) {
			if (cw_cfg_scope_resolve(w->scope, s->callee, &dobj, &df) < 0)
				continue;
		} else {
			continue; /* indirect sites: resolved from what the profile observed */
		}
		if (c.kind == CW_WK_USER) {
			cw_cfg_scope_spec(w->scope, dobj, df, c.name, sizeof(c.name));
			snprintf(c.label, sizeof(c.label), "%s", df->name);
		}
		add_cand(v, n, cap, &c);
	}
}

static const struct cw_wnode *root_of(const struct cw_wnode *n)
{
	while (n->parent)
		n = n->parent;
	return n;
}

static bool stack_has(const struct cw_pstack *st, const char *label)
{
	for (uint32_t i = 0; i < st->nframes; i++)
		if (!st->frames[i].kernel && st->frames[i].name && !strcmp(st->frames[i].name, label))
			return true;
	return false;
}

/* Of the time the thread(s) of ROOT spent (on-CPU and blocked, from the profile), the fraction with LABEL
 * on the stack: a resident function's share of its thread's wall time. */
static double root_frac2(struct cw_walk_real *w, const char *root, const char *label, double *off_frac)
{
	uint64_t in = 0, all = 0, off = 0;
	for (size_t s = 0; s < w->last.nstacks; s++) {
		const struct cw_pstack *st = &w->last.stacks[s];
		if (!ours(w, st) || !stack_has(st, root))
			continue;
		uint64_t t = st->samples * w->last.period_ns + st->offcpu_ns;
		all += t;
		if (stack_has(st, label)) {
			in += t;
			off += st->offcpu_ns;
		}
	}
	if (off_frac)
		*off_frac = in ? (double)off / in : 0;
	return all ? (double)in / all : 0;
}

static double root_frac(struct cw_walk_real *w, const char *root, const char *label)
{
	return root_frac2(w, root, label, NULL);
}

/* The walk's prior for a new node: a user function's share of its root thread's time in the background
 * profile (0 when no stack of that thread had it); kernel nodes come from their syscall's kernel call
 * tree already, and are left unknown. */
static double real_prior(void *ctx, const struct cw_wnode *node)
{
	struct cw_walk_real *w = ctx;
	if (node->kind != CW_WK_USER || !node->parent || !w->last.nstacks)
		return -1;
	return root_frac(w, root_of(node)->label, node->label);
}

static struct resident *make_resident(const struct cw_walk_real *w)
{
	struct resident *r = cw_calloc(1, sizeof(*r));
	r->magic = RESIDENT_MAGIC;
	r->t_ins = w->run_s;
	return r;
}

/* Instrumentation is shared: two nodes naming the same function (one called from two places, a syscall
 * made by two wrappers) read one point. The counters are per function, not per calling context. */
struct point {
	char name[192];
	bool kernel;
	struct cw_mpoint *pt;
	int refs;
	struct point *next;
};

/* A kernel function under a syscall or the fault handler: measured as its share of that point's kernel
 * call tree (context: that syscall only), times the point's exact time. NAME is "k:ROOT>F1>F2...". */
#define KPATH_MAX 48
struct kpath {
	uint64_t magic;
	struct point *root;
	int depth;
	char names[KPATH_MAX][96];
};
#define KPATH_MAGIC 0x6b70617468ull

static struct kpath *kpath_of(void *h)
{
	struct kpath *k = h;
	return k && k->magic == KPATH_MAGIC ? k : NULL;
}

static struct point *point_find(struct cw_walk_real *w, const char *name)
{
	for (struct point *p = w->points; p; p = p->next)
		if (!strcmp(p->name, name))
			return p;
	return NULL;
}

static struct point *point_add(struct cw_walk_real *w, const char *name, bool kernel, struct cw_mpoint *pt)
{
	struct point *p = cw_calloc(1, sizeof(*p));
	snprintf(p->name, sizeof(p->name), "%s", name);
	p->kernel = kernel;
	p->pt = pt;
	p->refs = 1;
	p->next = w->points;
	w->points = p;
	return p;
}

/* A kernel point (sys:NAME, fault), shared by every node that names it. User points are inserted in
 * batches by real_insert. */
static struct point *kpoint_get(struct cw_walk_real *w, const char *name, char *err, size_t errlen)
{
	struct point *p = point_find(w, name);
	if (p) {
		p->refs++;
		return p;
	}
	struct cw_mpoint *pt = w->kern->ops->insert(w->kern, name, err, errlen);
	return pt ? point_add(w, name, true, pt) : NULL;
}

static void point_put(struct cw_walk_real *w, struct point *p)
{
	if (!p || --p->refs > 0)
		return;
	for (struct point **pp = &w->points; *pp; pp = &(*pp)->next)
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	if (p->kernel)
		w->kern->ops->remove(w->kern, p->pt);
	else
		cw_agent_source_remove_many(w->user, &p->pt, 1);
	free(p);
}

/* The kernel tree of ROOT's point; finds the entry at PATH (depth d = path length) and, with KIDS, the
 * entries right below it. */
static const struct cw_kcallee *tree_find(const struct cw_kcallee *t, size_t n, const struct kpath *k, size_t *at)
{
	int matched = 0; /* path components matched so far along the current preorder branch */
	for (size_t i = 0; i < n; i++) {
		if (t[i].depth == 0)
			continue;
		if (t[i].depth > matched + 1 || !t[i].name)
			continue;
		matched = t[i].depth - 1;
		if (matched < k->depth && !strcmp(t[i].name, k->names[matched])) {
			matched++;
			if (matched == k->depth) {
				*at = i;
				return &t[i];
			}
		}
	}
	return NULL;
}

/* The scheduler is where every wait ends: the function that called it is the answer ("anon_pipe_read
 * blocked"), so the walk does not descend into it. */
static bool scheduler_fn(const char *name)
{
	static const char *const s[] = { "schedule", "__schedule", "schedule_timeout", "schedule_hrtimeout_range",
					 "schedule_hrtimeout_range_clock", "io_schedule", "io_schedule_timeout",
					 "preempt_schedule", "preempt_schedule_common", "__cond_resched",
					 "finish_task_switch", "finish_task_switch.isra.0", "schedule_preempt_disabled" };
	for (size_t i = 0; i < sizeof(s) / sizeof(s[0]); i++)
		if (!strcmp(name, s[i]))
			return true;
	return false;
}

static void kernel_children(struct cw_walk_real *w, const struct cw_wnode *node, struct cw_wcand **out, size_t *n,
			    size_t *cap)
{
	struct point *root;
	struct kpath here = { .depth = 0 };
	struct kpath *k = kpath_of(node->handle);
	struct cw_kcallee *t = NULL;
	size_t nt = 0, at = 0;
	int want;

	if (k) {
		root = k->root;
		here = *k;
	} else {
		root = node->handle;
	}
	if (!root || cw_ksource_callees(w->kern, root->pt, 0.01, &t, &nt) < 0)
		return;
	if (here.depth == 0) {
		at = 0;
		want = 1;
	} else {
		if (!tree_find(t, nt, &here, &at)) {
			free(t);
			return;
		}
		want = t[at].depth + 1;
		at++;
	}
	for (size_t i = at; i < nt; i++) {
		if (here.depth && t[i].depth < want)
			break;
		if (t[i].depth != want || here.depth + 1 >= KPATH_MAX || !t[i].name || scheduler_fn(t[i].name))
			continue;
		struct cw_wcand c = { .kind = CW_WK_KERNEL };
		size_t off = snprintf(c.name, sizeof(c.name), "k:%s", root->name);
		for (int d = 0; d < here.depth && off < sizeof(c.name); d++)
			off += snprintf(c.name + off, sizeof(c.name) - off, ">%s", here.names[d]);
		if (off < sizeof(c.name))
			snprintf(c.name + off, sizeof(c.name) - off, ">%s", t[i].name);
		snprintf(c.label, sizeof(c.label), "%s", t[i].name);
		add_cand(out, n, cap, &c);
	}
	free(t);
}

static int real_children(void *ctx, const struct cw_wnode *node, struct cw_wcand **out, size_t *n)
{
	struct cw_walk_real *w = ctx;
	size_t cap = 0;
	*out = NULL;
	*n = 0;
	refresh_profile(w, false);
	if (node->kind == CW_WK_USER) {
		observed(w, node, out, n, &cap);
		static_callees(w, node, out, n, &cap);
		for (size_t i = 0; i < *n; i++)
			if ((*out)[i].kind == CW_WK_SYSCALL)
				(*out)[i].absorbs = makes_syscall(w, node, (*out)[i].name + 4);
	} else if (node->handle) {
		kernel_children(w, node, out, n, &cap);
	}
	return 0;
}

/* "k:ROOT>F1>F2" -> root point name ROOT ("sys:read", "fault") and the path. */
static int parse_kpath(const char *name, char *root, size_t rootlen, struct kpath *k)
{
	const char *p = name + 2, *gt = strchr(p, '>');
	if (!gt)
		return -EINVAL;
	snprintf(root, rootlen, "%.*s", (int)(gt - p), p);
	k->depth = 0;
	for (p = gt + 1; *p && k->depth < KPATH_MAX;) {
		size_t len = strcspn(p, ">");
		snprintf(k->names[k->depth++], sizeof(k->names[0]), "%.*s", (int)len, p);
		p += len + (p[len] == '>');
	}
	return k->depth ? 0 : -EINVAL;
}

static int real_insert(void *ctx, struct cw_wnode **nodes, size_t n)
{
	struct cw_walk_real *w = ctx;
	struct cw_wnode **batch = cw_calloc(n, sizeof(*batch));
	const char **funcs = cw_calloc(n, sizeof(*funcs));
	size_t nb = 0;
	int ok = 0;
	bool refreshed = false;

	for (size_t i = 0; i < n; i++) {
		struct cw_wnode *nd = nodes[i];
		char err[256] = "";
		if (nd->kind == CW_WK_USER) {
			/* a root spans its thread's life; a function that has been on (nearly) every stack of its
			 * root's thread since is running now and will not enter its trampoline */
			if (!nd->parent) {
				nd->handle = make_resident(w);
				ok++;
				continue;
			}
			if (!refreshed) { /* once per round: a collect symbolizes every stack */
				refresh_profile(w, true);
				refreshed = true;
			}
			if (resident_of(nd->parent->handle) && root_frac(w, root_of(nd)->label, nd->label) >= 0.9) {
				nd->handle = make_resident(w);
				ok++;
				continue;
			}
			struct point *p = point_find(w, nd->name);
			if (p) {
				p->refs++;
				nd->handle = p;
				ok++;
				continue;
			}
			/* new user functions are patched together: one stop of the target for the batch */
			bool dup = false;
			for (size_t k = 0; k < nb && !dup; k++)
				dup = funcs[k] && !strcmp(funcs[k], nd->name);
			if (!dup)
				funcs[nb] = nd->name;
			batch[nb++] = nd;
			if (dup) /* the same function twice in one batch: the later node shares the point */
				funcs[nb - 1] = NULL;
			continue;
		}
		if (nd->kind == CW_WK_KERNEL && !strncmp(nd->name, "k:", 2) && strchr(nd->name, '>')) {
			struct kpath *k = cw_calloc(1, sizeof(*k));
			char root[192];
			k->magic = KPATH_MAGIC;
			if (parse_kpath(nd->name, root, sizeof(root), k) == 0)
				k->root = kpoint_get(w, root, err, sizeof(err));
			if (!k->root) {
				free(k);
				nd->state = CW_WS_UNTESTABLE;
				snprintf(nd->why, sizeof(nd->why), "%s", err[0] ? err : "malformed kernel path");
				continue;
			}
			nd->handle = k;
			ok++;
			continue;
		}
		struct point *p = kpoint_get(w, nd->name, err, sizeof(err));
		if (!p) {
			nd->state = CW_WS_UNTESTABLE;
			snprintf(nd->why, sizeof(nd->why), "%s", err);
			continue;
		}
		nd->handle = p;
		ok++;
	}
	if (nb) {
		const char **names = cw_calloc(nb, sizeof(*names));
		struct cw_wnode **owners = cw_calloc(nb, sizeof(*owners));
		struct cw_mpoint **pts = cw_calloc(nb, sizeof(*pts));
		char (*errs)[256] = cw_calloc(nb, sizeof(*errs));
		size_t nn = 0;
		for (size_t i = 0; i < nb; i++)
			if (funcs[i]) {
				owners[nn] = batch[i];
				names[nn++] = funcs[i];
			}
		int r = cw_agent_source_insert_many(w->user, names, nn, pts, errs);
		for (size_t i = 0; i < nn; i++) {
			if (r >= 0 && pts[i]) {
				owners[i]->handle = point_add(w, names[i], false, pts[i]);
				ok++;
			} else {
				owners[i]->state = CW_WS_UNTESTABLE;
				snprintf(owners[i]->why, sizeof(owners[i]->why), "%s",
					 r < 0 ? "the agent cannot be reached" : errs[i]);
			}
		}
		for (size_t i = 0; i < nb; i++) /* the duplicates share their twin's point */
			if (!funcs[i]) {
				struct point *p = point_find(w, batch[i]->name);
				if (p) {
					p->refs++;
					batch[i]->handle = p;
					ok++;
				} else {
					batch[i]->state = CW_WS_UNTESTABLE;
					snprintf(batch[i]->why, sizeof(batch[i]->why), "could not be instrumented");
				}
			}
		free(names);
		free(owners);
		free(pts);
		free(errs);
	}
	free(batch);
	free(funcs);
	return ok;
}

static void real_remove(void *ctx, struct cw_wnode **nodes, size_t n)
{
	struct cw_walk_real *w = ctx;
	for (size_t i = 0; i < n; i++) {
		void *h = nodes[i]->handle;
		struct kpath *k = kpath_of(h);
		if (!h)
			continue;
		if (resident_of(h)) {
			free(h);
		} else if (k) {
			point_put(w, k->root);
			free(k);
		} else {
			point_put(w, h);
		}
		nodes[i]->handle = NULL;
	}
}

static int read_point(struct cw_walk_real *w, struct point *p, struct cw_wmeas *m)
{
	if (!p->kernel) {
		struct cw_mresult r;
		uint64_t open_ns = 0;
		int e = w->user->ops->read(w->user, p->pt, &r);
		if (e < 0)
			return e;
		/* calls still running count up to now (a loop entered after the patch that has not returned) */
		cw_agent_source_inflight(w->user, &p->pt, 1, &open_ns);
		m->calls = r.calls;
		m->incl_ns = r.incl_ns + open_ns;
		return 0;
	}
	struct cw_kresult k;
	int e = cw_ksource_read(w->kern, p->pt, &k);
	if (e < 0)
		return e;
	m->calls = k.r.calls;
	m->incl_ns = k.r.incl_ns;
	m->oncpu_ns = k.r.oncpu_ns;
	m->blocked_ns = k.r.blocked_ns;
	m->has_split = k.r.has_split;
	m->estimated = !k.time_exact;
	return 0;
}

/* The part of a function's calls made from its parent node's function, from the agent's per-call-site
 * counts (return address -> calling function): the node's time is that share of the function's (calls
 * from different callers are taken to cost alike). A function called from one place keeps all of it. */
static void context_share(struct cw_walk_real *w, const struct cw_wnode *node, struct cw_wmeas *m)
{
	uint64_t rets[CW_AGENT_SITES_PER_SLOT], calls[CW_AGENT_SITES_PER_SLOT], mine = 0, all = 0;
	struct point *p = node->handle;
	int n;

	if (!w->scope || !p || p->kernel)
		return;
	/* a function the parent tail-calls returns to the grandparent: its calls show the grandparent's
	 * return addresses */
	const char *via = NULL;
	struct cw_cfg_obj *pobj;
	const struct cw_func *pf;
	const struct cw_site *sites;
	size_t nsites;
	if (node->parent->parent && cw_cfg_scope_find(w->scope, node->parent->name, &pobj, &pf) == 0 &&
	    cw_cfg_callees(pobj, pf, &sites, &nsites) == 0)
		for (size_t i = 0; i < nsites; i++)
			if (sites[i].tail && sites[i].callee && !strcmp(sites[i].callee, node->label))
				via = node->parent->parent->label;
	n = cw_agent_source_sites(w->user, p->pt, rets, calls, CW_AGENT_SITES_PER_SLOT);
	for (int i = 0; i < n; i++) {
		struct cw_cfg_obj *obj, *obj2;
		const struct cw_func *f, *f2;
		all += calls[i];
		bool found = cw_cfg_scope_func_at(w->scope, rets[i] - 1, &obj, &f) == 0 && f->name;
		/* an instrumented function T tail-called this one: the agent counts it as T's entry + 1 (no
		 * real return address is one byte past a function's start). T called from the parent: the
		 * parent's, unless T is a refined node under the parent, which holds those calls (one only
		 * being tested may not: its share decides that) */
		if (found && (cw_cfg_scope_func_at(w->scope, rets[i] - 2, &obj2, &f2) < 0 || f2 != f)) {
			bool sibling = false;
			for (const struct cw_wnode *k = node->parent->first_kid; k && !sibling; k = k->next_sib)
				sibling = k != node && k->kind == CW_WK_USER && k->state == CW_WS_TRUE &&
					  !strcmp(k->label, f->name);
			if (!strcmp(f->name, node->parent->label) || !sibling)
				mine += calls[i];
			continue;
		}
		/* a return address in no function of the program is the agent's return trampoline: an
		 * instrumented caller (the parent, being measured too) tail-called this function */
		if (!found || strstr(cw_cfg_obj_path(obj), "libcrosswalk-agent") || !strcmp(f->name, node->parent->label) ||
		    (via && !strcmp(f->name, via)))
			mine += calls[i];
	}
	if (!all || mine == all)
		return;
	double k = (double)mine / all;
	m->incl_ns = (uint64_t)(m->incl_ns * k);
	m->calls = (uint64_t)(m->calls * k);
}

/* A node's time in its calling context, exactly: the agent counts each function's calls and time by its
 * nearest instrumented caller, and the parent is instrumented while the node is tested, so the entry keyed
 * by the parent's slot is the node's (tail calls and uninstrumented functions in between included; calls
 * through another instrumented function in between belong to that function's node). Calls still open
 * are shared out in proportion. False when the parent has no counters of its own (a resident function,
 * measured from the profile) or its key did not fit in the table: context_share decides then. */
static bool context_read(struct cw_walk_real *w, const struct cw_wnode *node, struct cw_wmeas *m)
{
	struct point *p = node->handle, *pp = node->parent->handle;
	uint64_t key[CW_AGENT_CALLERS_PER_SLOT], calls[CW_AGENT_CALLERS_PER_SLOT], ns[CW_AGENT_CALLERS_PER_SLOT];
	uint64_t all_calls = 0, all_ns = 0, want;
	int n, at = -1;

	if (!p || p->kernel || !pp || resident_of(pp) || kpath_of(pp) || pp->kernel || !pp->pt)
		return false;
	want = CW_AGENT_CALLER_KEY(cw_agent_source_slot(pp->pt));
	n = cw_agent_source_callers(w->user, p->pt, key, calls, ns, CW_AGENT_CALLERS_PER_SLOT);
	for (int i = 0; i < n; i++) {
		all_calls += calls[i];
		all_ns += ns[i];
		if (key[i] == want)
			at = i;
	}
	if (at < 0 && n == CW_AGENT_CALLERS_PER_SLOT)
		return false;
	uint64_t open_ns = m->incl_ns > all_ns ? m->incl_ns - all_ns : 0;
	uint64_t c = at >= 0 ? calls[at] : 0, t = at >= 0 ? ns[at] : 0;
	m->calls = c;
	m->incl_ns = t + (all_calls ? (uint64_t)((double)open_ns * c / all_calls) : (at >= 0 ? open_ns : 0));
	return true;
}

static int real_read(void *ctx, struct cw_wnode *node, struct cw_wmeas *m)
{
	struct cw_walk_real *w = ctx;
	struct resident *res = resident_of(node->handle);
	struct kpath *k = kpath_of(node->handle);

	memset(m, 0, sizeof(*m));
	if (!node->handle)
		return -ENOENT;
	if (res) {
		double frac = 1.0, off = 0;
		refresh_profile(w, false);
		if (node->parent)
			frac = root_frac2(w, root_of(node)->label, node->label, &off);
		else if (!root_frac2(w, node->label, node->label, &off))
			off = 1; /* not one sample and no switch since the profile began: blocked since before it
				    (an attached master asleep in wait or accept), not on a CPU */
		m->incl_ns = (uint64_t)((w->run_s - res->t_ins) * frac * 1e9);
		m->estimated = node->parent != NULL;
		/* how much of it the profile saw blocked (in a system call made under it) */
		m->has_split = true;
		m->blocked_ns = (uint64_t)(m->incl_ns * off);
		m->oncpu_ns = m->incl_ns - m->blocked_ns;
		return 0;
	}
	if (k) {
		struct cw_wmeas rm;
		struct cw_kcallee *t = NULL;
		size_t nt = 0, at;
		int e = read_point(w, k->root, &rm);
		if (e < 0)
			return e;
		if ((e = cw_ksource_callees(w->kern, k->root->pt, 0.0, &t, &nt)) < 0)
			return e;
		const struct cw_kcallee *c = tree_find(t, nt, k, &at);
		if (c) {
			double tot = (double)c->oncpu_ns + c->blocked_ns + c->runq_ns;
			m->incl_ns = (uint64_t)(rm.incl_ns * c->frac);
			m->has_split = tot > 0;
			if (tot > 0) {
				m->oncpu_ns = (uint64_t)(m->incl_ns * (c->oncpu_ns / tot));
				m->blocked_ns = (uint64_t)(m->incl_ns * (c->blocked_ns / tot));
			}
		}
		m->calls = 0;
		m->estimated = true;
		free(t);
		return 0;
	}
	int e = read_point(w, node->handle, m);
	if (e == 0 && node->kind == CW_WK_USER && node->parent && node->parent->kind == CW_WK_USER &&
	    !context_read(w, node, m))
		context_share(w, node, m);
	return e;
}

static int real_run(void *ctx, double seconds)
{
	struct cw_walk_real *w = ctx;
	uint64_t start = cw_now_ns(), end = start + (uint64_t)(seconds * 1e9);
	int r = 0;
	while (cw_now_ns() < end) {
		if (w->stop && *w->stop) {
			r = -EINTR;
			break;
		}
		cw_profiler_poll(w->prof, 20);
		if (cw_agent_source_poll(w->user, &w->status) == 1) {
			w->exited = true;
			r = 1;
			break;
		}
	}
	w->run_s += (cw_now_ns() - start) / 1e9;
	return r;
}

const struct cw_walk_env *cw_walk_real_env(struct cw_walk_real *w)
{
	return &w->env;
}

pid_t cw_walk_real_pid(const struct cw_walk_real *w)
{
	return w->pid;
}

int cw_walk_real_busiest_other(struct cw_walk_real *w, pid_t *other, double *other_cpu, double *own_cpu)
{
	struct { uint32_t pid; uint64_t samples; } v[64];
	size_t nv = 0;
	uint64_t own = 0;
	refresh_profile(w, true);
	for (size_t s = 0; s < w->last.nstacks; s++) {
		const struct cw_pstack *st = &w->last.stacks[s];
		if (st->idle || agent_stack(st))
			continue;
		if (ours(w, st)) {
			own += st->samples;
			continue;
		}
		size_t k = 0;
		while (k < nv && v[k].pid != st->pid)
			k++;
		if (k == nv) {
			if (nv == sizeof(v) / sizeof(v[0]))
				continue;
			v[nv++] = (typeof(v[0])){ st->pid, 0 };
		}
		v[k].samples += st->samples;
	}
	size_t best = nv;
	for (size_t k = 0; k < nv; k++)
		if (best == nv || v[k].samples > v[best].samples)
			best = k;
	double per_cpu = w->last.duration_s > 0 ? w->last.period_ns / 1e9 / w->last.duration_s : 0;
	*own_cpu = own * per_cpu;
	if (best == nv) {
		*other = 0;
		*other_cpu = 0;
		return 0;
	}
	*other = (pid_t)v[best].pid;
	*other_cpu = v[best].samples * per_cpu;
	return 1;
}

const char *cw_walk_real_backend(const struct cw_walk_real *w)
{
	return w->kern ? w->kern->ops->name : "none";
}

bool cw_walk_real_exited(const struct cw_walk_real *w, int *status)
{
	if (status)
		*status = w->status;
	return w->exited;
}

/* The processes whose parent is PID, and theirs (/proc/N/stat's fourth field), into the profile. */
static void add_descendants(struct cw_walk_real *w, pid_t pid, int depth)
{
	DIR *d = depth < 4 ? opendir("/proc") : NULL;
	struct dirent *e;
	if (!d)
		return;
	while ((e = readdir(d))) {
		char path[64], buf[512];
		long child = strtol(e->d_name, NULL, 10), ppid = 0;
		if (child <= 0 || child == pid)
			continue;
		snprintf(path, sizeof(path), "/proc/%ld/stat", child);
		FILE *f = fopen(path, "r");
		if (!f)
			continue;
		size_t n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		buf[n] = 0;
		const char *rp = strrchr(buf, ')'); /* comm may hold spaces and parentheses */
		if (!rp || sscanf(rp + 1, " %*c %ld", &ppid) != 1 || ppid != pid)
			continue;
		cw_profiler_add_pid(w->prof, (pid_t)child, false);
		add_descendants(w, (pid_t)child, depth + 1);
	}
	closedir(d);
}

int cw_walk_real_open(pid_t pid, char *const argv[], const char *kbackend, volatile int *stop, struct cw_walk_real **out,
		      char *err, size_t errlen)
{
	struct cw_walk_real *w = cw_calloc(1, sizeof(*w));
	struct cw_agent_opts ao = { .count_sites = true }; /* calls per call site: the calling context */
	struct cw_profiler_opts po = { .freq_hz = 997, .offcpu = true, .follow_children = true };
	int e;

	*out = NULL;
	w->stop = stop;
	if (argv)
		w->user = cw_agent_source_launch(argv, &ao, err, errlen);
	else
		w->user = cw_agent_source_attach(pid, &ao, err, errlen);
	if (!w->user) {
		e = -EINVAL;
		goto fail;
	}
	w->pid = w->user->pid;
	w->launched = argv != NULL;
	e = cw_profiler_open(&po, &w->prof, err, errlen);
	if (e < 0)
		goto fail;
	cw_profiler_add_pid(w->prof, w->pid, false);
	/* an attached server's workers forked before now are profiled too (later forks are followed) */
	if (!argv)
		add_descendants(w, w->pid, 0);
	e = cw_profiler_start(w->prof, err, errlen);
	if (e < 0)
		goto fail;
	if (w->launched && (e = cw_agent_source_go(w->user)) < 0) {
		snprintf(err, errlen, "could not start the program: %s", strerror(-e));
		goto fail;
	}
	/* the kernel source opens on the running program: a launched one has left the agent's start-up
	 * wait by now, so seeding counts only real calls already in progress (an attached server asleep in
	 * epoll_wait, a thread in a long read) from now on */
	w->kern = cw_ksource_open(w->pid, kbackend, err, errlen);
	if (!w->kern) {
		e = -EINVAL;
		goto fail;
	}
	cw_ksource_include_open(w->kern, true);
	cw_ksource_seed_running(w->kern);
	/* the executable, for names and the static call graph */
	w->syms = cw_syms_new();
	w->cfg = cw_cfg_new(w->syms);
	if (cw_proc_maps_read(w->pid, &w->maps) == 0) {
		cw_cfg_scope_proc(w->cfg, &w->maps, &w->scope);
		if (w->maps.n) {
			char path[64], exe[4096];
			snprintf(path, sizeof(path), "/proc/%d/exe", (int)w->pid);
			ssize_t len = readlink(path, exe, sizeof(exe) - 1);
			if (len > 0) {
				exe[len] = 0;
				char *b = strrchr(exe, '/');
				snprintf(w->exe, sizeof(w->exe), "%.255s", b ? b + 1 : exe);
			}
		}
	}
	w->env = (struct cw_walk_env){ w, real_roots, real_children, real_insert, real_remove, real_read, real_run,
				       real_now, real_cost, real_prior };
	*out = w;
	return 0;
fail:
	cw_walk_real_close(w);
	return e;
}

void cw_walk_real_close(struct cw_walk_real *w)
{
	if (!w)
		return;
	/* a program the walk launched is stopped with it; an attached one runs on */
	if (w->user && w->launched && !w->exited && cw_agent_source_poll(w->user, &w->status) == 0) {
		kill(w->pid, SIGTERM);
		for (int i = 0; i < 100 && cw_agent_source_poll(w->user, &w->status) == 0; i++)
			usleep(20000);
		if (cw_agent_source_poll(w->user, &w->status) == 0) {
			kill(w->pid, SIGKILL);
			for (int i = 0; i < 100 && cw_agent_source_poll(w->user, &w->status) == 0; i++)
				usleep(20000);
		}
	}
	if (w->user)
		w->user->ops->close(w->user); /* removes every trampoline; an attached target runs on */
	if (w->kern)
		w->kern->ops->close(w->kern);
	cw_profile_free(&w->last);
	cw_profiler_close(w->prof);
	cw_cfg_scope_free(w->scope);
	cw_cfg_free(w->cfg);
	cw_syms_free(w->syms);
	cw_proc_maps_free(&w->maps);
	free(w);
}
