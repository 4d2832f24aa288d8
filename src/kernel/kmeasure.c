/* Kernel measurement source: loads ksys.bpf.c (tracepoints + sampling) for a target, and one kfunc.bpf.c
 * object per timed kernel function (fentry/fexit or kprobe/kretprobe); reads and symbolizes what they gathered. */
#include "kernel/kmeasure.h"
#include "kernel/features.h"
#include "kernel/kclose.h"
#include "kernel/ksys.h"
#include "kernel/kstatic.h"
#include "kernel/ksyscalls.h"
#include "sym/sym.h"
#include "util/util.h"

#include "ksys.skel.h"
#include "kfunc.skel.h"

#include <dirent.h>
#include <errno.h>
#include <linux/perf_event.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

enum kbackend { KB_TRACEPOINT, KB_SAMPLING, KB_FENTRY, KB_KPROBE, KB__N };
static const char *const kb_names[KB__N] = { "tracepoint", "sampling", "fentry", "kprobe" };

#define SAMPLE_HZ 997

enum kind { P_SYS, P_FAULT, P_KFUNC };

struct cw_mpoint {
	struct cw_mpoint *next;
	char *name;		/* as inserted */
	char *func;		/* kernel function (P_KFUNC) */
	enum kind kind;
	int sys_nr;		/* P_SYS */
	int fault_which;	/* P_FAULT: 0 all, 1 user, 2 kernel */
	enum kbackend method;
	struct kfunc_bpf *kf;	/* fentry/kprobe timer */
	struct bpf_link *links[2];
	struct cw_kresult base; /* subtracted from raw readings (reset) */
};

/* Symbolized kernel stack, cached by stack id (ids are stable: the stack map is never cleared). */
struct kstack {
	int id;
	int n;
	const char **frames; /* root first */
};

struct ksrc {
	struct cw_msource pub;
	enum kbackend backend;
	struct ksys_bpf *skel;
	struct bpf_link **perf_links;
	int nperf;
	uint64_t period_ns;
	struct cw_syms *syms; /* kernel names through the shared symbolizer (kallsyms) */
	struct cw_mpoint *points;
	struct kstack *stacks;
	size_t nstacks, capstacks;
	const char *unknown; /* name for unsymbolized frames */
	bool per_thread;
	bool include_open;
	bool has_fault_tp; /* exceptions:page_fault_user/kernel exist */
};

static struct ksrc *K(struct cw_msource *s)
{
	return (struct ksrc *)s;
}

static void seterr(char *err, size_t len, const char *fmt, ...)
{
	va_list ap;
	if (!err || !len)
		return;
	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
}

/* cpu-clock samples on every CPU, filtered to the target in BPF: started at open for the backends that give
 * callees, on demand (fault time) for the tracepoint backend. */
static int sampling_start(struct ksrc *k, char *err, size_t errlen)
{
	int n = cw_ncpus_possible(), ret = 0;
	if (k->perf_links)
		return 0;
	k->period_ns = 1000000000ull / SAMPLE_HZ;
	k->perf_links = cw_calloc(n, sizeof(*k->perf_links));
	for (int cpu = 0; cpu < n; cpu++) {
		struct perf_event_attr a = {
			.type = PERF_TYPE_SOFTWARE,
			.size = sizeof(a),
			.config = PERF_COUNT_SW_CPU_CLOCK,
			.sample_period = k->period_ns,
		};
		int fd = syscall(__NR_perf_event_open, &a, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC);
		if (fd < 0) {
			if (errno == ENODEV) /* possible but offline CPU */
				continue;
			ret = -errno;
			seterr(err, errlen, "perf_event_open(cpu-clock, cpu %d): %s", cpu, strerror(errno));
			break;
		}
		struct bpf_link *l = bpf_program__attach_perf_event(k->skel->progs.cwk_sample, fd);
		if (!l) {
			ret = -errno;
			close(fd);
			seterr(err, errlen, "prog 'cwk_sample': attach to cpu-clock on cpu %d: %s", cpu, strerror(errno));
			break;
		}
		k->perf_links[k->nperf++] = l;
	}
	return ret;
}

static void sampling_stop(struct ksrc *k)
{
	for (int i = 0; i < k->nperf; i++)
		bpf_link__destroy(k->perf_links[i]);
	free(k->perf_links);
	k->perf_links = NULL;
	k->nperf = 0;
}

static bool prefixed(const char *s, const char *const *pre, size_t n);
#define PREFIXED(s, arr) prefixed(s, arr, sizeof(arr) / sizeof(arr[0]))

static const char *ksym(struct ksrc *k, uint64_t addr)
{
	struct cw_sym sym;
	if (cw_syms_kernel(k->syms, addr, &sym) || !sym.name)
		return NULL;
	return sym.name;
}

static const struct kstack *stack_get(struct ksrc *k, int id)
{
	__u64 ips[CW_KSTACK_DEPTH];
	struct kstack *st;
	size_t lo = 0, hi = k->nstacks;
	while (lo < hi) { /* sorted by id */
		size_t mid = (lo + hi) / 2;
		if (k->stacks[mid].id == id)
			return &k->stacks[mid];
		if (k->stacks[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	memset(ips, 0, sizeof(ips));
	if (id < 0 || bpf_map_lookup_elem(bpf_map__fd(k->skel->maps.kstacks), &id, ips))
		return NULL;
	if (k->nstacks == k->capstacks)
		k->stacks = cw_realloc(k->stacks, (k->capstacks = k->capstacks * 2 + 64) * sizeof(*k->stacks));
	memmove(&k->stacks[lo + 1], &k->stacks[lo], (k->nstacks - lo) * sizeof(*k->stacks));
	k->nstacks++;
	st = &k->stacks[lo];
	st->id = id;
	st->n = 0;
	while (st->n < CW_KSTACK_DEPTH && ips[st->n])
		st->n++;
	/* leaf frames up to the tracing machinery (the tracepoint's BPF call path: bpf_trace_run4, our
	 * program) are ours, not the target's: drop them; then the points where interrupts came back on,
	 * whose samples are their caller's time (sym.h), keeping the outermost frame */
	int skip = 0;
	const char *nm;
	for (int i = 0; i < st->n; i++)
		if ((nm = ksym(k, ips[i])) && cw_ksym_leaf_kind(nm) == CW_KLEAF_TRACING)
			skip = i + 1;
	while (skip < st->n - 1 && (nm = ksym(k, ips[skip])) && cw_ksym_leaf_kind(nm) == CW_KLEAF_IRQ_ON)
		skip++;
	st->n -= skip;
	st->frames = cw_calloc(st->n ? st->n : 1, sizeof(char *));
	for (int i = 0; i < st->n; i++) {
		const char *nm = ksym(k, ips[i + skip]);
		st->frames[st->n - 1 - i] = nm ? nm : k->unknown;
	}
	return st;
}

static bool prefixed(const char *s, const char *const *pre, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strncmp(s, pre[i], strlen(pre[i])))
			return true;
	return false;
}

/* Index (root first) where the subtree of point P starts in stack ST, or -1 when ST is not under P. */
static int stack_anchor(const struct cw_mpoint *p, const struct kstack *st)
{
	/* the C fault handlers, not asm_exc_page_fault: being preempted on the way back to user mode
	 * (irqentry_exit_to_user_mode -> schedule) is not fault handling */
	static const char *const fault_fns[] = { "exc_page_fault", "do_user_addr_fault", "handle_mm_fault" };
	static const char *const sys_fns[] = { "__x64_sys_", "__ia32_sys_", "__do_sys_", "__se_sys_" };
	static const char *const dispatch[] = { "entry_SYSCALL_64", "do_syscall_64", "x64_sys_call" };
	int disp = -1;
	if (!st)
		return -1;
	for (int i = 0; i < st->n; i++) {
		const char *f = st->frames[i];
		switch (p->kind) {
		case P_KFUNC:
			if (!strcmp(f, p->func))
				return i;
			break;
		case P_FAULT:
			for (size_t j = 0; j < sizeof(fault_fns) / sizeof(fault_fns[0]); j++)
				if (!strcmp(f, fault_fns[j]))
					return i;
			break;
		case P_SYS:
			/* the syscall's own entry (__x64_sys_read); else below the dispatcher (it may be inlined) */
			if (PREFIXED(f, sys_fns))
				return i;
			if (PREFIXED(f, dispatch))
				disp = i;
			break;
		}
	}
	if (p->kind == P_SYS)
		return disp >= 0 ? disp : 0;
	return -1;
}

/* Does a sample/sleep taken in syscall SYS_NR belong to point P? */
static bool sys_matches(const struct cw_mpoint *p, int sys_nr)
{
	return p->kind != P_SYS || p->sys_nr == sys_nr;
}

/* Visits the samples and off-CPU records that fall under P: FN(arg, stack, anchor, samples, asleep ns,
 * preempted ns). */
typedef void (*visit_fn)(void *arg, const struct kstack *st, int anchor, uint64_t samples, uint64_t blocked_ns,
			 uint64_t runq_ns);
static void visit(struct ksrc *k, const struct cw_mpoint *p, visit_fn fn, void *arg)
{
	int sfd = bpf_map__fd(k->skel->maps.samples), ofd = bpf_map__fd(k->skel->maps.offcpu);
	struct cw_ksample_key sk, *sprev = NULL;
	struct cw_koff_key ok, *oprev = NULL;
	while (!bpf_map_get_next_key(sfd, sprev, &sk)) {
		__u64 c = 0;
		sprev = &sk;
		if (sk.user || !sys_matches(p, sk.sys_nr) || bpf_map_lookup_elem(sfd, &sk, &c))
			continue;
		const struct kstack *st = stack_get(k, sk.stack);
		int a = stack_anchor(p, st);
		if (a >= 0)
			fn(arg, st, a, c, 0, 0);
	}
	while (!bpf_map_get_next_key(ofd, oprev, &ok)) {
		struct cw_kacc v;
		oprev = &ok;
		if (!sys_matches(p, ok.sys_nr) || bpf_map_lookup_elem(ofd, &ok, &v))
			continue;
		const struct kstack *st = stack_get(k, ok.stack);
		int a = stack_anchor(p, st);
		if (a >= 0)
			fn(arg, st, a, 0, ok.preempt ? 0 : v.ns, ok.preempt ? v.ns : 0);
	}
}

struct sum {
	uint64_t samples, blocked, runq;
};
static void sum_fn(void *arg, const struct kstack *st, int anchor, uint64_t samples, uint64_t blocked,
		   uint64_t runq)
{
	struct sum *s = arg;
	s->samples += samples;
	s->blocked += blocked;
	s->runq += runq;
}

/* Loads and attaches a timer on FUNC; FAULT_WANT >= 0 makes it a page-fault timer on handle_mm_fault (0 all,
 * 1 user, 2 kernel faults). The exit half is attached before the entry half: a call entered before its exit
 * probe existed would leave a start time that no exit ever clears. */
static struct kfunc_bpf *kfunc_load(struct ksrc *k, const char *func, enum kbackend how, int fault_want,
				    struct bpf_link **links, char *err, size_t errlen)
{
	struct kfunc_bpf *kf = kfunc_bpf__open();
	struct bpf_program *entry, *exit_;
	int e;
	if (!kf) {
		seterr(err, errlen, "k:%s: opening the kfunc BPF object: %s", func, strerror(errno));
		return NULL;
	}
	bool fe = how == KB_FENTRY;
	if (fe)
		entry = fault_want >= 0 ? kf->progs.cwk_fentry_pf : kf->progs.cwk_fentry;
	else
		entry = fault_want >= 0 ? kf->progs.cwk_kprobe_pf : kf->progs.cwk_kprobe;
	exit_ = fe ? kf->progs.cwk_fexit : kf->progs.cwk_kretprobe;
	struct bpf_program *all[] = { kf->progs.cwk_fentry, kf->progs.cwk_fentry_pf, kf->progs.cwk_kprobe,
				      kf->progs.cwk_kprobe_pf, kf->progs.cwk_fexit, kf->progs.cwk_kretprobe };
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		bpf_program__set_autoload(all[i], all[i] == entry || all[i] == exit_);
	kf->rodata->fault_want = fault_want > 0 ? fault_want : 0;
	kf->bss->per_thread = k->per_thread;
	if (fe && ((e = bpf_program__set_attach_target(entry, 0, func)) ||
		   (e = bpf_program__set_attach_target(exit_, 0, func)))) {
		seterr(err, errlen, "k:%s: no BTF for this function, fentry cannot attach: %s", func, strerror(-e));
		goto fail;
	}
	if ((e = bpf_map__reuse_fd(kf->maps.targets, bpf_map__fd(k->skel->maps.targets))) ||
	    (e = bpf_map__reuse_fd(kf->maps.threads, bpf_map__fd(k->skel->maps.threads)))) {
		seterr(err, errlen, "k:%s: sharing maps: %s", func, strerror(-e));
		goto fail;
	}
	if ((e = kfunc_bpf__load(kf))) {
		seterr(err, errlen, "k:%s: loading the %s program (not traceable?): %s", func, kb_names[how],
		       strerror(-e));
		goto fail;
	}
	/* links[0] is the entry half, links[1] the exit half */
	if (fe) {
		links[1] = bpf_program__attach(exit_);
		links[0] = links[1] ? bpf_program__attach(entry) : NULL;
	} else {
		links[1] = bpf_program__attach_kprobe(exit_, true, func);
		links[0] = links[1] ? bpf_program__attach_kprobe(entry, false, func) : NULL;
	}
	if (!links[0] || !links[1]) {
		seterr(err, errlen, "k:%s: not traceable with %s: %s (%s)", func, fe ? "fentry/fexit" : "kprobe/kretprobe",
		       strerror(errno),
		       fe ? "notrace/noinstr functions have no ftrace entry to patch"
			  : "functions on the kprobe blacklist (noinstr, entry code) cannot be probed");
		bpf_link__destroy(links[1]);
		links[0] = links[1] = NULL;
		goto fail;
	}
	return kf;
fail:
	kfunc_bpf__destroy(kf);
	return NULL;
}

static void point_free(struct cw_mpoint *p)
{
	if (!p)
		return;
	bpf_link__destroy(p->links[0]); /* entry first: no new start times once exits stop */
	bpf_link__destroy(p->links[1]);
	kfunc_bpf__destroy(p->kf);
	free(p->name);
	free(p->func);
	free(p);
}

/* Unknown kernel function: say so with close matches from kallsyms. */
static void err_unknown_kfunc(struct ksrc *k, const char *func, char *err, size_t errlen)
{
	char *m[5];
	int n = cw_kernel_close(func, m, 5);
	char buf[400] = "";
	for (int i = 0; i < n; i++) {
		snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "%sk:%s", i ? ", " : "", m[i]);
		free(m[i]);
	}
	seterr(err, errlen, "k:%s: no such kernel function%s%s%s", func, n ? " (close: " : "", buf, n ? ")" : "");
}

static struct cw_mpoint *k_insert(struct cw_msource *s, const char *name, char *err, size_t errlen)
{
	struct ksrc *k = K(s);
	struct cw_mpoint *p = cw_calloc(1, sizeof(*p));
	p->name = cw_strdup(name);
	p->method = k->backend;
	if (!strncmp(name, "sys:", 4)) {
		p->kind = P_SYS;
		p->sys_nr = cw_syscall_nr(name + 4);
		if (p->sys_nr < 0 || p->sys_nr >= CW_KSYS_NR) {
			const char *m[5];
			char buf[300] = "";
			int n = cw_syscall_close(name + 4, m, 5);
			for (int i = 0; i < n; i++)
				snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "%ssys:%s", i ? ", " : "", m[i]);
			seterr(err, errlen, "%s: no such system call%s%s%s", name, n ? " (close: " : "", buf, n ? ")" : "");
			goto fail;
		}
		/* syscalls are always timed exactly by the raw_syscalls tracepoints, whatever the backend */
		p->method = KB_TRACEPOINT;
	} else if (!strcmp(name, "fault") || !strcmp(name, "fault:user") || !strcmp(name, "fault:kernel")) {
		p->kind = P_FAULT;
		p->fault_which = !strcmp(name, "fault") ? 0 : !strcmp(name, "fault:user") ? 1 : 2;
		if (!k->has_fault_tp) {
			seterr(err, errlen, "%s: this kernel has no exceptions:page_fault_user/kernel tracepoints", name);
			goto fail;
		}
		if (k->backend == KB_FENTRY || k->backend == KB_KPROBE) {
			/* exact fault time from the generic handler (exc_page_fault itself is noinstr) */
			p->func = cw_strdup("handle_mm_fault");
			p->kf = kfunc_load(k, p->func, k->backend, p->fault_which, p->links, err, errlen);
			if (!p->kf)
				goto fail;
		} else {
			/* counts from the exceptions tracepoints, time from samples and sleep stacks */
			if (sampling_start(k, err, errlen))
				goto fail;
			p->method = KB_SAMPLING;
		}
	} else if (!strncmp(name, "k:", 2) && name[2]) {
		p->kind = P_KFUNC;
		p->func = cw_strdup(name + 2);
		uint64_t addr, size;
		int e = cw_syms_kernel_find(k->syms, p->func, &addr, &size);
		if (e == -ENOENT) {
			err_unknown_kfunc(k, p->func, err, errlen);
			goto fail;
		}
		if (k->backend == KB_TRACEPOINT) {
			seterr(err, errlen, "%s: the tracepoint backend times only syscalls and faults; use "
			       "--kernel-backend sampling%s", name,
			       cw_feature(CW_FEAT_FENTRY) ? " or fentry" : cw_feature(CW_FEAT_KPROBE) ? " or kprobe" : "");
			goto fail;
		}
		if (k->backend == KB_FENTRY || k->backend == KB_KPROBE) {
			p->kf = kfunc_load(k, p->func, k->backend, -1, p->links, err, errlen);
			if (!p->kf)
				goto fail;
		}
	} else {
		seterr(err, errlen, "'%s': kernel names are sys:SYSCALL, k:FUNCTION, fault, fault:user or fault:kernel",
		       name);
		goto fail;
	}
	p->next = k->points;
	k->points = p;
	return p;
fail:
	point_free(p);
	return NULL;
}

/* The thread's off-CPU segment in progress at NOW, split asleep / runnable. */
static void cur_off(const struct cw_kthread *t, uint64_t now, uint64_t *asleep, uint64_t *runq)
{
	uint64_t d = t->off_start && now > t->off_start ? now - t->off_start : 0;
	*asleep = t->off_preempt ? 0 : d;
	*runq = t->off_preempt ? d : 0;
}

/* Adds the part of P's time in calls still open at this moment (include_open): the cumulative value stays
 * monotonic, since a call's open part becomes, the instant it returns, the same completed time. */
static void add_open(struct ksrc *k, struct cw_mpoint *p, struct cw_kresult *o)
{
	int tfd = bpf_map__fd(k->skel->maps.threads);
	uint64_t now = cw_now_ns(); /* CLOCK_MONOTONIC, as bpf_ktime_get_ns */
	__u32 key, next, *prev = NULL;
	if (p->kf) {
		int afd = bpf_map__fd(p->kf->maps.active);
		while (!bpf_map_get_next_key(afd, prev, &next)) {
			struct cw_kfactive a;
			struct cw_kthread t = {};
			uint64_t as, rq;
			key = next;
			prev = &key;
			if (bpf_map_lookup_elem(afd, &key, &a) || now < a.start)
				continue;
			bpf_map_lookup_elem(tfd, &key, &t);
			cur_off(&t, now, &as, &rq);
			o->r.incl_ns += now - a.start;
			if (t.off_acc >= a.off0)
				o->r.blocked_ns += t.off_acc - a.off0 + as;
			if (t.rq_acc >= a.rq0)
				o->runq_ns += t.rq_acc - a.rq0 + rq;
		}
		return;
	}
	while (!bpf_map_get_next_key(tfd, prev, &next)) {
		struct cw_kthread t;
		uint64_t as, rq;
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(tfd, &key, &t))
			continue;
		cur_off(&t, now, &as, &rq);
		if (p->kind == P_SYS) {
			if (t.sys_nr != p->sys_nr || !t.sys_start || now < t.sys_start)
				continue;
			o->r.incl_ns += now - t.sys_start;
			o->r.blocked_ns += t.off_acc - t.sys_off0 + as;
			o->runq_ns += t.rq_acc - t.sys_rq0 + rq;
		} else if (t.off_start && (as || rq)) {
			/* stack-derived points: a thread off CPU right now under P */
			if (stack_anchor(p, stack_get(k, t.off_stack)) < 0)
				continue;
			o->r.incl_ns += as + rq;
			o->r.blocked_ns += as;
			o->runq_ns += rq;
		}
	}
}

static void read_raw(struct ksrc *k, struct cw_mpoint *p, struct cw_kresult *o)
{
	memset(o, 0, sizeof(*o));
	o->method = kb_names[p->method];
	o->calls_exact = o->time_exact = true;
	o->r.has_split = true;
	if (p->kind == P_SYS) {
		struct cw_ksys_stat st = {};
		__u32 key = p->sys_nr;
		bpf_map_lookup_elem(bpf_map__fd(k->skel->maps.sysstats), &key, &st);
		o->r.calls = st.entered;
		o->completed = st.completed;
		o->r.incl_ns = st.incl_ns;
		o->r.blocked_ns = st.blocked_ns;
		o->runq_ns = st.runq_ns;
	} else if (p->kf) {
		struct cw_kfstat st = {};
		__u32 key = 0;
		bpf_map_lookup_elem(bpf_map__fd(p->kf->maps.fstat), &key, &st);
		o->r.calls = st.entered;
		o->completed = st.completed;
		o->r.incl_ns = st.incl_ns;
		o->r.blocked_ns = st.blocked_ns;
		o->runq_ns = st.runq_ns;
	} else {
		struct sum sm = {};
		visit(k, p, sum_fn, &sm);
		o->samples = sm.samples;
		o->r.blocked_ns = sm.blocked;
		o->runq_ns = sm.runq;
		o->r.incl_ns = sm.samples * k->period_ns + sm.blocked + sm.runq;
		o->ci95_ns = (uint64_t)(1.96 * sqrt((double)sm.samples) * k->period_ns);
		o->time_exact = false;
		o->calls_exact = false;
	}
	if (p->kind == P_FAULT) {
		/* fault counts are exact from the tracepoints whatever times them */
		struct cw_kglobal g = {};
		__u32 key = 0;
		bpf_map_lookup_elem(bpf_map__fd(k->skel->maps.global), &key, &g);
		uint64_t n = p->fault_which == 1 ? g.faults_user : p->fault_which == 2 ? g.faults_kernel
										    : g.faults_user + g.faults_kernel;
		o->r.calls = n;
		o->calls_exact = true;
		if (!p->kf)
			o->completed = n;
		/* handle_mm_fault also runs for get_user_pages (no fault): fine, it is fault-handling work */
	}
	if (k->include_open)
		add_open(k, p, o);
	uint64_t off = o->r.blocked_ns + o->runq_ns;
	o->r.oncpu_ns = o->r.incl_ns > off ? o->r.incl_ns - off : 0;
}

int cw_ksource_read(struct cw_msource *s, struct cw_mpoint *p, struct cw_kresult *o)
{
	struct ksrc *k = K(s);
	if (!s || !p)
		return -EINVAL;
	read_raw(k, p, o);
#define SUB(f) o->f = o->f > p->base.f ? o->f - p->base.f : 0
	SUB(r.calls);
	SUB(r.incl_ns);
	SUB(r.oncpu_ns);
	SUB(r.blocked_ns);
	SUB(runq_ns);
	SUB(completed);
	SUB(samples);
#undef SUB
	if (!o->time_exact)
		o->ci95_ns = (uint64_t)(1.96 * sqrt((double)o->samples) * k->period_ns);
	return 0;
}

static int k_read(struct cw_msource *s, struct cw_mpoint *p, struct cw_mresult *out)
{
	struct cw_kresult r;
	int e = cw_ksource_read(s, p, &r);
	if (!e)
		*out = r.r;
	return e;
}

/* Deletes the per-thread entries of P (racing increments of a running thread may be lost: fine for a reset). */
static void threads_clear(struct ksrc *k, struct cw_mpoint *p)
{
	if (p->kind == P_SYS) {
		int fd = bpf_map__fd(k->skel->maps.tsysstats);
		struct cw_ksys_tkey key, next, *prev = NULL;
		while (!bpf_map_get_next_key(fd, prev, &next)) {
			key = next;
			prev = &key;
			if (key.sys_nr == p->sys_nr)
				bpf_map_delete_elem(fd, &key);
		}
	} else if (p->kf) {
		int fd = bpf_map__fd(p->kf->maps.tstats);
		__u32 key;
		while (!bpf_map_get_next_key(fd, NULL, &key))
			bpf_map_delete_elem(fd, &key);
	}
}

static int k_reset(struct cw_msource *s, struct cw_mpoint *p)
{
	if (!s || !p)
		return -EINVAL;
	read_raw(K(s), p, &p->base);
	threads_clear(K(s), p);
	return 0;
}

int cw_ksource_include_open(struct cw_msource *s, bool on)
{
	struct ksrc *k = K(s);
	if (k->include_open == on)
		return 0;
	k->include_open = on;
	/* the baselines change meaning with it */
	for (struct cw_mpoint *p = k->points; p; p = p->next)
		read_raw(k, p, &p->base);
	return 0;
}

int cw_ksource_clear_stacks(struct cw_msource *s)
{
	struct ksrc *k = K(s);
	int fds[2] = { bpf_map__fd(k->skel->maps.samples), bpf_map__fd(k->skel->maps.offcpu) };
	char key[sizeof(struct cw_ksample_key) > sizeof(struct cw_koff_key) ? sizeof(struct cw_ksample_key)
									     : sizeof(struct cw_koff_key)];
	for (int i = 0; i < 2; i++)
		while (!bpf_map_get_next_key(fds[i], NULL, key))
			if (bpf_map_delete_elem(fds[i], key))
				return -errno;
	/* the stack-derived parts of every point start from zero again */
	for (struct cw_mpoint *p = k->points; p; p = p->next)
		if (p->kind != P_SYS && !p->kf) {
			uint64_t calls = p->base.r.calls, completed = p->base.completed;
			memset(&p->base, 0, sizeof(p->base));
			p->base.r.calls = calls; /* fault counts are exact counters: keep their baseline */
			p->base.completed = completed;
		}
	return 0;
}

int cw_ksource_set_per_thread(struct cw_msource *s, bool on)
{
	struct ksrc *k = K(s);
	k->per_thread = on;
	k->skel->bss->per_thread = on;
	for (struct cw_mpoint *p = k->points; p; p = p->next)
		if (p->kf)
			p->kf->bss->per_thread = on;
	return 0;
}

static int by_incl(const void *a, const void *b)
{
	const struct cw_kthread_result *x = a, *y = b;
	return x->incl_ns < y->incl_ns ? 1 : x->incl_ns > y->incl_ns ? -1 : x->tid - y->tid;
}

static void thread_add(struct cw_kthread_result **v, size_t *n, size_t *cap, pid_t tid, uint64_t calls,
		       uint64_t incl, uint64_t blocked, uint64_t runq)
{
	if (*n == *cap)
		*v = cw_realloc(*v, (*cap = *cap * 2 + 16) * sizeof(**v));
	uint64_t off = blocked + runq;
	(*v)[(*n)++] = (struct cw_kthread_result){ .tid = tid, .calls = calls, .incl_ns = incl,
						   .oncpu_ns = incl > off ? incl - off : 0, .blocked_ns = blocked,
						   .runq_ns = runq };
}

int cw_ksource_read_threads(struct cw_msource *s, struct cw_mpoint *p, struct cw_kthread_result **out, size_t *n)
{
	struct ksrc *k = K(s);
	struct cw_kthread_result *v = NULL;
	size_t cnt = 0, cap = 0;
	*out = NULL;
	*n = 0;
	if (p->kind == P_SYS) {
		int fd = bpf_map__fd(k->skel->maps.tsysstats);
		struct cw_ksys_tkey key, next, *prev = NULL;
		while (!bpf_map_get_next_key(fd, prev, &next)) {
			struct cw_ksys_stat st;
			key = next;
			prev = &key;
			if (key.sys_nr == p->sys_nr && !bpf_map_lookup_elem(fd, &key, &st))
				thread_add(&v, &cnt, &cap, key.tid, st.completed, st.incl_ns, st.blocked_ns, st.runq_ns);
		}
	} else if (p->kf) {
		int fd = bpf_map__fd(p->kf->maps.tstats);
		__u32 key, next, *prev = NULL;
		while (!bpf_map_get_next_key(fd, prev, &next)) {
			struct cw_kfstat st;
			key = next;
			prev = &key;
			if (!bpf_map_lookup_elem(fd, &key, &st))
				thread_add(&v, &cnt, &cap, key, st.completed, st.incl_ns, st.blocked_ns, st.runq_ns);
		}
	} else {
		return -ENOTSUP;
	}
	if (cnt)
		qsort(v, cnt, sizeof(*v), by_incl);
	*out = v;
	*n = cnt;
	return 0;
}

static int k_remove(struct cw_msource *s, struct cw_mpoint *p)
{
	struct ksrc *k = K(s);
	for (struct cw_mpoint **pp = &k->points; *pp; pp = &(*pp)->next)
		if (*pp == p) {
			*pp = p->next;
			point_free(p);
			return 0;
		}
	return -ENOENT;
}

static void k_close(struct cw_msource *s)
{
	struct ksrc *k = K(s);
	if (!s)
		return;
	while (k->points) {
		struct cw_mpoint *p = k->points;
		k->points = p->next;
		point_free(p);
	}
	sampling_stop(k);
	ksys_bpf__destroy(k->skel);
	for (size_t i = 0; i < k->nstacks; i++)
		free(k->stacks[i].frames);
	free(k->stacks);
	cw_syms_free(k->syms);
	free(k);
}

static void obj_prog_ids(struct bpf_object *obj, __u32 **ids, int *n)
{
	struct bpf_program *prog;
	bpf_object__for_each_program(prog, obj) {
		struct bpf_prog_info info = {};
		__u32 len = sizeof(info);
		int fd = bpf_program__fd(prog);
		if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &len))
			continue;
		*ids = cw_realloc(*ids, (*n + 1) * sizeof(**ids));
		(*ids)[(*n)++] = info.id;
	}
}

int cw_ksource_close_checked(struct cw_msource *s, int *loaded)
{
	struct ksrc *k = K(s);
	__u32 *ids = NULL;
	int n = 0, left = 0;
	if (k->skel)
		obj_prog_ids(k->skel->obj, &ids, &n);
	for (struct cw_mpoint *p = k->points; p; p = p->next)
		if (p->kf)
			obj_prog_ids(p->kf->obj, &ids, &n);
	k_close(s);
	for (int tries = 0; tries < 30; tries++) {
		left = 0;
		for (int i = 0; i < n; i++) {
			int fd = bpf_prog_get_fd_by_id(ids[i]);
			if (fd >= 0) {
				left++;
				close(fd);
			}
		}
		if (!left)
			break;
		usleep(100 * 1000);
	}
	free(ids);
	if (loaded)
		*loaded = n;
	return left;
}

#define OPS(b) { .name = #b, .space = CW_SPACE_KERNEL, .insert = k_insert, .read = k_read, .reset = k_reset, \
		 .remove = k_remove, .close = k_close }
static const struct cw_msource_ops kops[KB__N] = { OPS(tracepoint), OPS(sampling), OPS(fentry), OPS(kprobe) };

int cw_ksource_add_pid(struct cw_msource *s, pid_t pid)
{
	int fd = bpf_map__fd(K(s)->skel->maps.targets);
	__u32 w = (__u32)pid / 64;
	__u64 bits = 0;
	if (pid <= 0 || w >= CW_KTARGET_WORDS)
		return -EINVAL;
	/* read-modify-write: only racy against a fork of a target into the same word at this very moment */
	if (bpf_map_lookup_elem(fd, &w, &bits))
		return -errno;
	bits |= 1ull << (pid % 64);
	if (bpf_map_update_elem(fd, &w, &bits, BPF_ANY))
		return -errno;
	return 0;
}

const char *cw_kpoint_name(const struct cw_mpoint *p)
{
	return p ? p->name : NULL;
}

int cw_ksource_static_callees(struct cw_msource *s, struct cw_mpoint *p, struct cw_kcallsite **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	if (p->kind != P_KFUNC)
		return -EINVAL;
	return cw_kernel_static_callees(K(s)->syms, p->func, out, n);
}

uint64_t cw_ksource_stack_errors(const struct cw_msource *s)
{
	const struct ksrc *k = (const struct ksrc *)s;
	struct cw_kglobal g = {};
	__u32 key = 0;
	bpf_map_lookup_elem(bpf_map__fd(k->skel->maps.global), &key, &g);
	return g.stack_errors;
}

uint64_t cw_ksource_sample_period(const struct cw_msource *s)
{
	return ((const struct ksrc *)s)->perf_links ? ((const struct ksrc *)s)->period_ns : 0;
}

/* Attaching to a running process (cw_ksource_seed_running): its threads already inside a syscall (a server asleep in epoll_wait, a
 * reader in read()) would be invisible until that call returns. Seed them as if the call had been entered
 * now, asleep since now, so that the window's time in it is counted (with include_open, while it lasts; at
 * its return otherwise). Done after attaching and only for threads with no state yet (BPF_NOEXIST): a thread
 * that made any event since has exact state of its own. */
static void seed_threads(struct ksrc *k, pid_t pid)
{
	char path[96];
	struct dirent *de;
	DIR *d;
	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	if (!(d = opendir(path)))
		return;
	while ((de = readdir(d))) {
		int tid = atoi(de->d_name), nr;
		char *sc, *st, *p;
		char state = 0;
		if (tid <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%d/syscall", pid, tid);
		sc = cw_read_file(path, NULL);
		snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", pid, tid);
		st = cw_read_file(path, NULL);
		if (st && (p = strrchr(st, ')')) && p[1] == ' ')
			state = p[2];
		if (sc && sscanf(sc, "%d", &nr) == 1 && nr >= 0 && nr < CW_KSYS_NR) {
			uint64_t now = cw_now_ns();
			bool off = state == 'S' || state == 'D' || state == 'I';
			struct cw_kthread t = { .sys_nr = nr, .sys_start = now, .off_start = off ? now : 0,
						.off_stack = CW_KNO_STACK, .off_sys = nr };
			__u32 key = tid, knr = nr;
			if (!bpf_map_update_elem(bpf_map__fd(k->skel->maps.threads), &key, &t, BPF_NOEXIST)) {
				struct cw_ksys_stat ss;
				int fd = bpf_map__fd(k->skel->maps.sysstats);
				/* entered is an atomic counter in BPF; this add may race one entry: off by one */
				if (!bpf_map_lookup_elem(fd, &knr, &ss)) {
					ss.entered++;
					bpf_map_update_elem(fd, &knr, &ss, BPF_ANY);
				}
			}
		}
		free(sc);
		free(st);
	}
	closedir(d);
}

int cw_ksource_seed_running(struct cw_msource *s)
{
	seed_threads(K(s), s->pid);
	return 0;
}

static pid_t tgid_of(pid_t pid)
{
	char path[64], *st, *t;
	pid_t tgid = pid;
	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	if ((st = cw_read_file(path, NULL))) {
		if ((t = strstr(st, "\nTgid:")))
			tgid = atoi(t + 6);
		free(st);
	}
	return tgid > 0 ? tgid : pid;
}

struct cw_msource *cw_ksource_open(pid_t pid, const char *backend, char *err, size_t errlen)
{
	struct ksrc *k;
	int b = -1, e;

	if (backend) {
		for (int i = 0; i < KB__N; i++)
			if (!strcmp(backend, kb_names[i]))
				b = i;
		if (b < 0) {
			seterr(err, errlen, "unknown kernel backend '%s' (tracepoint, sampling, fentry, kprobe)", backend);
			return NULL;
		}
	} else {
		b = cw_feature(CW_FEAT_FENTRY)	       ? KB_FENTRY
		    : cw_feature(CW_FEAT_KPROBE)       ? KB_KPROBE
		    : cw_feature(CW_FEAT_BPF_PERF_EVENT) ? KB_SAMPLING
							 : KB_TRACEPOINT;
	}
	if (b == KB_FENTRY && !cw_feature(CW_FEAT_FENTRY)) {
		seterr(err, errlen, "kernel backend fentry unavailable: %s", cw_feature_reason(CW_FEAT_FENTRY));
		return NULL;
	}
	if (b == KB_KPROBE && !cw_feature(CW_FEAT_KPROBE)) {
		seterr(err, errlen, "kernel backend kprobe unavailable: %s", cw_feature_reason(CW_FEAT_KPROBE));
		return NULL;
	}
	cw_libbpf_quiet();
	cw_tracefs_ensure();
	k = cw_calloc(1, sizeof(*k));
	k->pub.ops = &kops[b];
	k->pub.pid = pid;
	k->pub.priv = k;
	k->backend = b;
	k->unknown = "[unknown]";
	k->syms = cw_syms_new(); /* kallsyms unreadable is survivable: frames show as [unknown] */
	if (kill(pid, 0) < 0 && errno == ESRCH) {
		seterr(err, errlen, "no process %d", pid);
		goto fail;
	}
	k->skel = ksys_bpf__open();
	if (!k->skel) {
		seterr(err, errlen, "opening the kernel-measurement BPF programs: %s", strerror(errno));
		goto fail;
	}
	/* the page-fault tracepoints are x86's and optional: without them, only fault points are refused */
	k->has_fault_tp = cw_tracepoint_id("exceptions", "page_fault_user") >= 0 &&
			  cw_tracepoint_id("exceptions", "page_fault_kernel") >= 0;
	bpf_program__set_autoload(k->skel->progs.cwk_pf_user, k->has_fault_tp);
	bpf_program__set_autoload(k->skel->progs.cwk_pf_kernel, k->has_fault_tp);
	if ((e = ksys_bpf__load(k->skel))) {
		seterr(err, errlen, "loading the kernel-measurement BPF programs: %s", strerror(-e));
		goto fail;
	}
	/* events are filtered by tgid: a thread id given for a process means its whole process */
	pid = tgid_of(pid);
	k->pub.pid = pid;
	if ((e = cw_ksource_add_pid(&k->pub, pid))) {
		seterr(err, errlen, "adding pid %d to the target set: %s", pid, strerror(-e));
		goto fail;
	}
	if ((e = ksys_bpf__attach(k->skel))) {
		seterr(err, errlen, "attaching to tracepoints (raw_syscalls, sched, exceptions): %s", strerror(-e));
		goto fail;
	}
	if (b != KB_TRACEPOINT && sampling_start(k, err, errlen))
		goto fail;
	return &k->pub;
fail:
	k_close(&k->pub);
	return NULL;
}

/* ---- call tree ---- */

struct tnode {
	const char *name;
	uint64_t samples, blocked, runq;
	struct tnode *child, *sib;
};

static struct tnode *tchild(struct tnode *t, const char *name)
{
	for (struct tnode *c = t->child; c; c = c->sib)
		if (c->name == name || !strcmp(c->name, name))
			return c;
	struct tnode *c = cw_calloc(1, sizeof(*c));
	c->name = name;
	c->sib = t->child;
	t->child = c;
	return c;
}

static void tree_fn(void *arg, const struct kstack *st, int anchor, uint64_t samples, uint64_t blocked,
		    uint64_t runq)
{
	struct tnode *t = arg;
	t->samples += samples;
	t->blocked += blocked;
	t->runq += runq;
	for (int i = anchor + 1; i < st->n; i++) {
		/* recursion: a frame equal to the anchor function restarts nothing, it is just a deeper node */
		t = tchild(t, st->frames[i]);
		t->samples += samples;
		t->blocked += blocked;
		t->runq += runq;
	}
}

struct flat {
	struct cw_kcallee *v;
	size_t n, cap;
	double total, period, min;
};

#define TIME(t, f) ((t)->samples * (f)->period + (t)->blocked + (t)->runq)

static void tflatten(struct flat *f, struct tnode *t, int depth)
{
	double est = TIME(t, f);
	double frac = f->total > 0 ? est / f->total : 0;
	if (depth && frac < f->min)
		return;
	if (f->n == f->cap)
		f->v = cw_realloc(f->v, (f->cap = f->cap * 2 + 32) * sizeof(*f->v));
	struct cw_kcallee *c = &f->v[f->n++];
	double half = f->total > 0 ? 1.96 * sqrt((double)t->samples) * f->period / f->total : 0;
	*c = (struct cw_kcallee){ .name = t->name, .depth = depth, .samples = t->samples,
				  .oncpu_ns = (uint64_t)(t->samples * f->period), .blocked_ns = t->blocked,
				  .runq_ns = t->runq,
				  .frac = frac, .frac_lo = frac - half < 0 ? 0 : frac - half,
				  .frac_hi = frac + half > 1 ? 1 : frac + half };
	/* children by decreasing time */
	size_t nc = 0;
	for (struct tnode *x = t->child; x; x = x->sib)
		nc++;
	struct tnode **kids = cw_calloc(nc ? nc : 1, sizeof(*kids));
	nc = 0;
	for (struct tnode *x = t->child; x; x = x->sib)
		kids[nc++] = x;
	for (size_t i = 0; i < nc; i++)
		for (size_t j = i + 1; j < nc; j++)
			if (TIME(kids[j], f) > TIME(kids[i], f)) {
				struct tnode *tmp = kids[i];
				kids[i] = kids[j];
				kids[j] = tmp;
			}
	for (size_t i = 0; i < nc; i++)
		tflatten(f, kids[i], depth + 1);
	free(kids);
}

static void tfree(struct tnode *t)
{
	while (t) {
		struct tnode *s = t->sib;
		tfree(t->child);
		free(t);
		t = s;
	}
}

int cw_ksource_callees(struct cw_msource *s, struct cw_mpoint *p, double min_frac, struct cw_kcallee **out,
		       size_t *n)
{
	struct ksrc *k = K(s);
	struct tnode *root;
	struct flat f = { .min = min_frac };
	*out = NULL;
	*n = 0;
	if (!k->perf_links && p->kind != P_SYS)
		return -ENOTSUP;
	root = cw_calloc(1, sizeof(*root));
	root->name = p->kind == P_KFUNC ? p->func : p->name;
	visit(k, p, tree_fn, root);
	f.period = (double)k->period_ns;
	f.total = TIME(root, &f);
	tflatten(&f, root, 0);
	tfree(root);
	*out = f.v;
	*n = f.n;
	return 0;
}

int cw_kprogs_loaded(void)
{
	__u32 id = 0;
	int n = 0;
	while (!bpf_prog_get_next_id(id, &id)) {
		int fd = bpf_prog_get_fd_by_id(id);
		struct bpf_prog_info info = {};
		__u32 len = sizeof(info);
		if (fd < 0)
			continue;
		if (!bpf_obj_get_info_by_fd(fd, &info, &len) && !strncmp(info.name, "cwk_", 4))
			n++;
		close(fd);
	}
	if (errno != ENOENT)
		return -errno;
	return n;
}
