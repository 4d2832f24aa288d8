/* The profiler's kernel side: cpu-clock samples aggregated per (process, kernel stack, user stack) in the
 * kernel, DCPI style, with user stacks unwound here from .eh_frame-derived tables (no frame pointers
 * needed), and off-CPU time charged to the stacks where threads blocked. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "kernel/profile.h"

char LICENSE[] SEC("license") = "GPL";

const volatile bool filter = true;	/* only processes in `targets` (and their children) */
const volatile bool track_children = true;

/* Bumped (by user space and by this program) at every change of `procs`: cached unwind rows of an older
 * generation are not used. */
__u32 uw_gen;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, __u8);
} targets SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct cw_uw_proc);
} procs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE); /* user space writes the tables straight into it */
	__uint(max_entries, 1); /* sized by user space before load */
	__type(key, __u32);
	__type(value, struct cw_uw_row);
} rows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(max_entries, 32768);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, 127 * sizeof(__u64));
} kstacks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct cw_ustack);
} ustacks SEC(".maps");

/* Samples per key. Preallocated and shared by all CPUs: most samples' keys are seen before, but with PC
 * precision about one in four is new, and allocating a per-CPU element on the fly (BPF_F_NO_PREALLOC) made
 * the counting cost more than the unwinding. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct cw_count_key);
	__type(value, __u64);
} counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 65536);
	__type(key, struct cw_count_key);
	__type(value, __u64);
} offcpu SEC(".maps");

struct offstart {
	__u64 ts;
	struct cw_count_key key;
};
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, struct offstart);
} offstarts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, CW_TOT__N);
	__type(key, __u32);
	__type(value, __u64);
} totals SEC(".maps");

/* The last request for a process's mappings: when, and the generation of its procs entry then. */
struct notif {
	__u64 ts;
	__u32 gen;
	__u32 pad;
};
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct notif);
} notified SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

/* Per-CPU direct-mapped cache (tgid, PC) -> unwind row: a return address seen before costs one lookup
 * instead of the mapping and row binary searches (~16 steps over cold memory). Valid while `gen` is the
 * current uw_gen. */
#define UW_CACHE_N 4096
struct uw_cache_ent {
	__u64 pc;
	__u32 tgid;
	__u32 gen;
	struct cw_uw_row row;
};
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, UW_CACHE_N);
	__type(key, __u32);
	__type(value, struct uw_cache_ent);
} uwcache SEC(".maps");

#define UW_WIN 512

/* Unwinder state; one per program kind per CPU (a sample cannot interrupt sched_switch, which runs with
 * interrupts off, but keep them apart anyway). */
struct uw_state {
	__u64 pc, sp, bp;
	__u64 hash;
	__u32 tgid;
	__u32 gen;
	/* the previous frame's mapping and row: the next frame is most often in the same object, and in
	 * recursion at the same return address; reusing them saves the searches (cold cache lines) */
	__u64 m_start, m_end, m_bias;
	__u32 m_row_off, m_row_cnt;
	__u64 last_lpc;
	struct cw_uw_row last_row;
	/* a window of the user stack read in one go: one bpf_probe_read_user serves the saved registers of
	 * several frames */
	__u64 win_base;
	__u32 win_ok, win_fail;
	__u8 win[UW_WIN];
	struct cw_ustack st;
};
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct uw_state);
} scratch SEC(".maps");

static __always_inline void total_add(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&totals, &idx);
	if (v)
		*v += 1;
}

static __always_inline void emit(__u32 type, __u32 tgid, __u32 ppid)
{
	struct cw_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return;
	e->type = type;
	e->tgid = tgid;
	e->ppid = ppid;
	e->pad = 0;
	bpf_ringbuf_submit(e, 0);
}

/* Ask user space for (new) mappings of TGID: again at once if user space has pushed new mappings since
 * the last request (a process starting up maps libc, then more, within milliseconds), else at most every
 * 20 ms (a PC that no re-read can explain, e.g. JIT code, costs one re-read per 20 ms). */
static __always_inline void need_maps(__u32 tgid)
{
	__u64 now = bpf_ktime_get_ns();
	struct notif *last = bpf_map_lookup_elem(&notified, &tgid), n = { .ts = now };
	struct cw_uw_proc *proc = bpf_map_lookup_elem(&procs, &tgid);

	n.gen = proc ? proc->gen : 0;
	if (last && now - last->ts < 20000000 && last->gen == n.gen)
		return;
	bpf_map_update_elem(&notified, &tgid, &n, BPF_ANY);
	emit(CW_EV_NEED_MAPS, tgid, 0);
}

static __always_inline bool is_target(__u32 tgid)
{
	if (!filter)
		return tgid != 0;
	return bpf_map_lookup_elem(&targets, &tgid) != NULL;
}

static __always_inline __u64 mix(__u64 h, __u64 v)
{
	h ^= v;
	h *= 0x100000001b3ull;
	h ^= h >> 29;
	return h;
}

static __always_inline bool push_pc(struct uw_state *s, __u64 pc)
{
	__u32 n = s->st.n;
	if (n >= CW_MAX_UFRAMES) {
		s->st.flags |= CW_US_TRUNC_DEPTH;
		return false;
	}
	if (n < CW_MAX_UFRAMES)
		s->st.pcs[n] = pc;
	s->st.n = n + 1;
	s->hash = mix(s->hash, pc);
	return true;
}

/* Binary searches run as bpf_loop callbacks: the verifier checks a callback once instead of walking
 * every unrolled iteration with every register state, which made loading take seconds. */
struct map_search {
	__u32 lo, hi;
	__u64 pc;
	__u32 tgid;
};

static long map_search_step(__u32 i, void *ctx)
{
	struct map_search *q = ctx;
	struct cw_uw_proc *proc;
	__u32 mid;
	if (q->lo >= q->hi)
		return 1;
	proc = bpf_map_lookup_elem(&procs, &q->tgid);
	if (!proc)
		return 1;
	mid = (q->lo + q->hi) / 2;
	if (mid >= CW_MAX_MAPS)
		return 1;
	if (proc->maps[mid].start <= q->pc)
		q->lo = mid + 1;
	else
		q->hi = mid;
	return 0;
}

struct row_search {
	__u32 lo, hi;
	__u64 rel;
};

static long row_search_step(__u32 i, void *ctx)
{
	struct row_search *q = ctx;
	struct cw_uw_row *r;
	__u32 mid;
	if (q->hi - q->lo <= 1)
		return 1;
	mid = q->lo + (q->hi - q->lo) / 2;
	r = bpf_map_lookup_elem(&rows, &mid);
	if (!r)
		return 1;
	if (r->pc <= q->rel)
		q->lo = mid;
	else
		q->hi = mid;
	return 0;
}

/* 8 bytes of the user stack at ADDR, through the window (refilled from ADDR up when ADDR is outside it;
 * where a whole window cannot be read, near the top of the stack, one read of 8 bytes). */
static __always_inline long stack_read(struct uw_state *s, __u64 addr, __u64 *out)
{
	__u64 off = addr - s->win_base;

	if (!s->win_ok || addr < s->win_base || off > UW_WIN - 8) {
		if (s->win_fail || bpf_probe_read_user(s->win, UW_WIN, (void *)addr)) {
			s->win_ok = 0;
			s->win_fail = 1;
			return bpf_probe_read_user(out, sizeof(*out), (void *)addr);
		}
		s->win_base = addr;
		s->win_ok = 1;
		off = 0;
	}
	if (off > UW_WIN - 8)
		return -1;
	*out = *(__u64 *)(s->win + off);
	return 0;
}

struct uw_ctx {
	__u32 slot;
};

/* One frame: find the row for s->pc, compute the caller's pc/sp/bp. Returns 1 to stop. */
static long uw_step(__u32 i, void *ctx)
{
	struct uw_ctx *c = ctx;
	struct uw_state *s = bpf_map_lookup_elem(&scratch, &c->slot);
	if (!s)
		return 1;
	__u64 pc = s->pc, lpc = i == 0 ? pc : pc - 1, cfa, ra, bp;
	__u32 idx, h;
	struct cw_uw_row *row = NULL;
	struct uw_cache_ent *ce;

	if (i > 0 && lpc == s->last_lpc) { /* recursion: the same return address again */
		row = &s->last_row;
		goto have_row;
	}
	h = (__u32)(lpc ^ (lpc >> 11) ^ ((__u64)s->tgid * 0x9e3779b1u)) & (UW_CACHE_N - 1);
	ce = bpf_map_lookup_elem(&uwcache, &h);
	if (ce && ce->pc == lpc && ce->tgid == s->tgid && ce->gen == s->gen) {
		row = &ce->row;
		goto have_row;
	}
	if (lpc < s->m_start || lpc >= s->m_end) {
		struct cw_uw_proc *proc = bpf_map_lookup_elem(&procs, &s->tgid);
		struct cw_uw_map *m;
		if (!proc) {
			s->st.flags |= CW_US_TRUNC_NOMAP;
			return 1;
		}
		/* the mapping: last with start <= lpc */
		struct map_search ms = { .lo = 0, .hi = proc->nmaps, .pc = lpc, .tgid = s->tgid };
		if (ms.hi > CW_MAX_MAPS)
			ms.hi = CW_MAX_MAPS;
		bpf_loop(10, map_search_step, &ms, 0);
		if (ms.lo == 0 || ms.lo > CW_MAX_MAPS) {
			s->st.flags |= CW_US_TRUNC_NOMAP;
			return 1;
		}
		m = &proc->maps[(ms.lo - 1) & (CW_MAX_MAPS - 1)];
		if (lpc >= m->end) {
			s->st.flags |= CW_US_TRUNC_NOMAP;
			return 1;
		}
		s->m_start = m->start;
		s->m_end = m->end;
		s->m_bias = m->bias;
		s->m_row_off = m->row_off;
		s->m_row_cnt = m->row_cnt;
	}
	if (!s->m_row_cnt) {
		s->st.flags |= CW_US_TRUNC_NOINFO;
		return 1;
	}
	{
		/* the row: last with row.pc <= rel */
		struct row_search rs = { .lo = s->m_row_off, .hi = s->m_row_off + s->m_row_cnt, .rel = lpc - s->m_bias };
		bpf_loop(32, row_search_step, &rs, 0);
		idx = rs.lo;
	}
	row = bpf_map_lookup_elem(&rows, &idx);
	if (!row || row->pc > lpc - s->m_bias) {
		s->st.flags |= CW_US_TRUNC_NOINFO;
		return 1;
	}
	if (ce) {
		ce->pc = lpc;
		ce->tgid = s->tgid;
		ce->gen = s->gen;
		ce->row = *row;
	}
have_row:
	if (row != &s->last_row) {
		s->last_lpc = lpc;
		s->last_row = *row;
	}
	switch (row->cfa) {
	case CW_UW_RSP: cfa = s->sp + (__s64)row->cfa_off; break;
	case CW_UW_RBP: cfa = s->bp + (__s64)row->cfa_off; break;
	case CW_UW_PLT: cfa = s->sp + 8 + ((pc & 15) >= 11 ? 8 : 0); break;
	case CW_UW_OUTERMOST: s->st.flags |= CW_US_COMPLETE; return 1;
	default: s->st.flags |= CW_US_TRUNC_NOINFO; return 1;
	}
	bp = s->bp;
	if (row->rbp == CW_UW_RBP_AT && stack_read(s, cfa + (__s64)row->rbp_off, &bp)) {
		s->st.flags |= CW_US_TRUNC_READ;
		return 1;
	}
	if (stack_read(s, cfa - 8, &ra)) {
		s->st.flags |= CW_US_TRUNC_READ;
		return 1;
	}
	if (ra == 0) { /* some thread entry points end the chain with a zero return address */
		s->st.flags |= CW_US_COMPLETE;
		return 1;
	}
	s->pc = ra;
	s->sp = cfa;
	s->bp = bp;
	return push_pc(s, ra) ? 0 : 1;
}

/* Unwind the current task's user stack into scratch slot SLOT; returns its hash (0: no user stack). */
static __always_inline __u64 unwind_user(__u32 slot, __u32 tgid)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct uw_state *s = bpf_map_lookup_elem(&scratch, &slot);
	struct pt_regs *regs;

	if (!s || !task->mm)
		return 0;
	regs = (struct pt_regs *)bpf_task_pt_regs(task);
	if (!regs)
		return 0;
	s->pc = regs->ip;
	s->sp = regs->sp;
	s->bp = regs->bp;
	s->tgid = tgid;
	s->gen = uw_gen;
	s->hash = 0xcbf29ce484222325ull;
	s->st.n = 0;
	s->st.flags = 0;
	s->m_start = s->m_end = 0;
	s->win_ok = s->win_fail = 0;
	s->last_lpc = 0;
	if (!s->pc)
		return 0;
	push_pc(s, s->pc);
	struct uw_ctx c = { .slot = slot };
	bpf_loop(CW_MAX_UFRAMES, uw_step, &c, 0);
	/* a PC in no known mapping: the process mapped code since its mappings were read (the libraries
	 * ld.so maps after exec, dlopen) */
	if (s->st.flags & CW_US_TRUNC_NOMAP)
		need_maps(tgid);
	if (!s->hash)
		s->hash = 1;
	bpf_map_update_elem(&ustacks, &s->hash, &s->st, BPF_NOEXIST);
	if (slot == 0) { /* statistics of the sampled stacks */
		if (s->st.flags & CW_US_COMPLETE)
			total_add(CW_TOT_UNWIND_OK);
		if (s->st.flags & CW_US_TRUNC_NOMAP)
			total_add(CW_TOT_NOMAP);
		if (s->st.flags & CW_US_TRUNC_NOINFO)
			total_add(CW_TOT_NOINFO);
		if (s->st.flags & CW_US_TRUNC_READ)
			total_add(CW_TOT_READFAIL);
	}
	return s->hash;
}

SEC("perf_event")
int on_sample(struct bpf_perf_event_data *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32;
	struct cw_count_key key = {};
	__u64 one = 1, *v;

	total_add(CW_TOT_ALL);
	if (tgid == 0) {
		total_add(CW_TOT_IDLE);
		if (filter)
			return 0;
	} else if (!is_target(tgid)) {
		return 0;
	}
	total_add(CW_TOT_TARGET);
	key.tgid = tgid;
	key.kstack = bpf_get_stackid(ctx, &kstacks, 0);
	key.ustack = tgid ? unwind_user(0, tgid) : 0;
	v = bpf_map_lookup_elem(&counts, &key);
	if (v)
		__sync_fetch_and_add(v, 1);
	else if (bpf_map_update_elem(&counts, &key, &one, BPF_NOEXIST) == -17 /* EEXIST: another CPU won */) {
		v = bpf_map_lookup_elem(&counts, &key);
		if (v)
			__sync_fetch_and_add(v, 1);
	}
	return 0;
}

#define TASK_RUNNING_STATE 0

SEC("tp_btf/sched_switch")
int BPF_PROG(on_switch, bool preempt, struct task_struct *prev, struct task_struct *next, unsigned int prev_state)
{
	__u64 now = bpf_ktime_get_ns();
	__u32 ptgid = prev->tgid, ptid = prev->pid, ntid = next->pid;
	struct offstart *os;

	/* a thread that blocks (not one that is preempted) starts an off-CPU interval */
	if (ptid && !preempt && prev_state != TASK_RUNNING_STATE && is_target(ptgid)) {
		struct offstart st = { .ts = now };
		st.key.tgid = ptgid;
		st.key.kstack = bpf_get_stackid(ctx, &kstacks, 0);
		st.key.ustack = unwind_user(1, ptgid);
		bpf_map_update_elem(&offstarts, &ptid, &st, BPF_ANY);
	}
	os = bpf_map_lookup_elem(&offstarts, &ntid);
	if (os) {
		__u64 d = now - os->ts, *v = bpf_map_lookup_elem(&offcpu, &os->key);
		if (v)
			__sync_fetch_and_add(v, d);
		else
			bpf_map_update_elem(&offcpu, &os->key, &d, BPF_NOEXIST);
		bpf_map_delete_elem(&offstarts, &ntid);
	}
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(on_fork, struct task_struct *parent, struct task_struct *child)
{
	__u32 ptgid = parent->tgid, ctgid = child->tgid;
	__u8 one = 1;
	struct cw_uw_proc *p;

	if (ptgid == ctgid || !filter || !track_children || !bpf_map_lookup_elem(&targets, &ptgid))
		return 0;
	bpf_map_update_elem(&targets, &ctgid, &one, BPF_ANY);
	/* the child starts with its parent's mappings */
	p = bpf_map_lookup_elem(&procs, &ptgid);
	if (p)
		bpf_map_update_elem(&procs, &ctgid, p, BPF_ANY);
	__sync_fetch_and_add(&uw_gen, 1); /* its tgid may have been another process's */
	emit(CW_EV_FORK, ctgid, ptgid);
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(on_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	__u32 tgid = p->tgid;
	if (!is_target(tgid))
		return 0;
	bpf_map_delete_elem(&procs, &tgid);
	__sync_fetch_and_add(&uw_gen, 1); /* its cached rows are the old image's */
	emit(CW_EV_EXEC, tgid, 0);
	return 0;
}
