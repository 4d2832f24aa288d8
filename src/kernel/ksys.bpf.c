// SPDX-License-Identifier: GPL-2.0
/* Kernel-side measurement on tracepoints every kernel has: exact syscall counts and times per target thread
 * (raw_syscalls), their on-CPU / asleep / runnable-waiting split and where the thread slept (sched_switch,
 * sched_wakeup), page-fault counts
 * (exceptions), the target set following forks (sched_process_fork), and cpu-clock samples of the target's
 * kernel stacks (perf_event) for the sampling backend. Everything is aggregated here; nothing streams out. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "kernel/ksys.h"

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, CW_KTARGET_WORDS);
	__type(key, __u32);
	__type(value, __u64);
} targets SEC(".maps"); /* bitmap of target tgids, see ksys.h */

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 32768);
	__type(key, __u32); /* tid */
	__type(value, struct cw_kthread);
} threads SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, CW_KSYS_NR);
	__type(key, __u32);
	__type(value, struct cw_ksys_stat);
} sysstats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(max_entries, 16384);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, CW_KSTACK_DEPTH * sizeof(__u64));
} kstacks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct cw_koff_key);
	__type(value, struct cw_kacc);
} offcpu SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct cw_ksample_key);
	__type(value, __u64);
} samples SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct cw_kglobal);
} global SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct cw_ksys_tkey);
	__type(value, struct cw_ksys_stat);
} tsysstats SEC(".maps");

/* Set from user space (mmapped .bss): keep per-thread syscall results too. */
bool per_thread = false;

static __always_inline bool is_target(__u32 tgid)
{
	__u32 w = tgid / 64;
	__u64 *bits = bpf_map_lookup_elem(&targets, &w);
	return bits && (*bits >> (tgid % 64)) & 1;
}

static __always_inline struct cw_kthread *thread_get(__u32 tid)
{
	struct cw_kthread *t = bpf_map_lookup_elem(&threads, &tid);
	if (t)
		return t;
	struct cw_kthread z = { .sys_nr = -1, .off_stack = CW_KNO_STACK, .off_sys = -1 };
	bpf_map_update_elem(&threads, &tid, &z, BPF_NOEXIST);
	return bpf_map_lookup_elem(&threads, &tid);
}

static __always_inline struct cw_kglobal *glob(void)
{
	__u32 k = 0;
	return bpf_map_lookup_elem(&global, &k);
}

SEC("tp_btf/sys_enter")
int BPF_PROG(cwk_sys_enter, struct pt_regs *regs, long id)
{
	__u64 pt = bpf_get_current_pid_tgid();
	if (!is_target(pt >> 32))
		return 0;
	struct cw_kthread *t = thread_get((__u32)pt);
	if (!t)
		return 0;
	t->sys_nr = id;
	t->sys_off0 = t->off_acc;
	t->sys_rq0 = t->rq_acc;
	t->sys_start = bpf_ktime_get_ns();
	if (id >= 0 && id < CW_KSYS_NR) {
		__u32 k = id;
		struct cw_ksys_stat *s = bpf_map_lookup_elem(&sysstats, &k);
		if (s)
			__sync_fetch_and_add(&s->entered, 1);
	}
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(cwk_sys_exit, struct pt_regs *regs, long ret)
{
	__u64 pt = bpf_get_current_pid_tgid(), now = bpf_ktime_get_ns();
	if (!is_target(pt >> 32))
		return 0;
	__u32 tid = (__u32)pt;
	struct cw_kthread *t = bpf_map_lookup_elem(&threads, &tid);
	/* An exit without our entry (attached mid-call) is not counted. */
	if (!t || t->sys_nr < 0 || !t->sys_start)
		return 0;
	__u32 k = t->sys_nr;
	if (k < CW_KSYS_NR) {
		struct cw_ksys_stat *s = bpf_map_lookup_elem(&sysstats, &k);
		if (s) {
			__sync_fetch_and_add(&s->completed, 1);
			__sync_fetch_and_add(&s->incl_ns, now - t->sys_start);
			__sync_fetch_and_add(&s->blocked_ns, t->off_acc - t->sys_off0);
			__sync_fetch_and_add(&s->runq_ns, t->rq_acc - t->sys_rq0);
		}
		if (per_thread) {
			struct cw_ksys_tkey tk = { .tid = tid, .sys_nr = k };
			struct cw_ksys_stat *ts = bpf_map_lookup_elem(&tsysstats, &tk);
			if (!ts) {
				struct cw_ksys_stat z = {};
				bpf_map_update_elem(&tsysstats, &tk, &z, BPF_NOEXIST);
				ts = bpf_map_lookup_elem(&tsysstats, &tk);
			}
			if (ts) {
				ts->completed++;
				ts->incl_ns += now - t->sys_start;
				ts->blocked_ns += t->off_acc - t->sys_off0;
				ts->runq_ns += t->rq_acc - t->sys_rq0;
			}
		}
	}
	t->sys_nr = -1;
	t->sys_start = 0;
	return 0;
}

/* Closes the thread's current off-CPU segment at NOW: asleep or runnable-waiting time, summed per stack. */
static __always_inline void off_end(struct cw_kthread *t, __u64 now)
{
	__u64 d = now - t->off_start;
	if (t->off_preempt)
		t->rq_acc += d;
	else
		t->off_acc += d;
	struct cw_koff_key k = { .stack = t->off_stack, .sys_nr = t->off_sys, .preempt = t->off_preempt };
	struct cw_kacc *a = bpf_map_lookup_elem(&offcpu, &k);
	if (!a) {
		struct cw_kacc z = {};
		bpf_map_update_elem(&offcpu, &k, &z, BPF_NOEXIST);
		a = bpf_map_lookup_elem(&offcpu, &k);
	}
	if (a) {
		__sync_fetch_and_add(&a->ns, d);
		__sync_fetch_and_add(&a->count, 1);
	}
}

SEC("tp_btf/sched_switch")
int BPF_PROG(cwk_sched_switch, bool preempt, struct task_struct *prev, struct task_struct *next,
	     unsigned int prev_state)
{
	__u64 now = bpf_ktime_get_ns();
	__u32 ptgid = prev->tgid, ntgid = next->tgid;

	if (ptgid && is_target(ptgid)) {
		struct cw_kthread *t = thread_get(prev->pid);
		if (t) {
			t->off_start = now;
			/* preempted while runnable vs. gone to sleep (prev_state alone is not enough: a task
			 * preempted between set_current_state() and schedule() has a sleeping state) */
			t->off_preempt = preempt || prev_state == 0;
			/* the current stack is prev's: where it went to sleep (pipe_read, do_select...) */
			t->off_stack = bpf_get_stackid(ctx, &kstacks, 0);
			t->off_sys = t->sys_nr;
			if (t->off_stack < 0) {
				struct cw_kglobal *g = glob();
				if (g)
					__sync_fetch_and_add(&g->stack_errors, 1);
			}
		}
	}
	if (ntgid && is_target(ntgid)) {
		__u32 tid = next->pid;
		struct cw_kthread *t = bpf_map_lookup_elem(&threads, &tid);
		if (t && t->off_start) {
			off_end(t, now);
			t->off_start = 0;
		}
	}
	return 0;
}

/* A sleeping target thread is woken: its sleep ends here; until it is switched in it is runnable, waiting
 * for a CPU (runq time, charged to the same stack with preempt=1). Wakeup precedes switch-in causally, so
 * the two handlers never race on one thread. */
SEC("tp_btf/sched_wakeup")
int BPF_PROG(cwk_wakeup, struct task_struct *p)
{
	__u32 tgid = p->tgid, tid = p->pid;
	if (!tgid || !is_target(tgid))
		return 0;
	struct cw_kthread *t = bpf_map_lookup_elem(&threads, &tid);
	if (!t || !t->off_start || t->off_preempt)
		return 0;
	__u64 now = bpf_ktime_get_ns();
	off_end(t, now);
	t->off_start = now;
	t->off_preempt = 1;
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(cwk_fork, struct task_struct *parent, struct task_struct *child)
{
	__u32 ptgid = parent->tgid, ctgid = child->tgid;
	__u32 w = ctgid / 64;
	if (ctgid == ptgid || !is_target(ptgid))
		return 0;
	__u64 *bits = bpf_map_lookup_elem(&targets, &w);
	if (bits)
		__sync_fetch_and_or(bits, 1ull << (ctgid % 64));
	struct cw_kglobal *g = glob();
	if (g)
		__sync_fetch_and_add(&g->forks, 1);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(cwk_exit, struct task_struct *p)
{
	__u32 tid = p->pid;
	if (is_target(p->tgid))
		bpf_map_delete_elem(&threads, &tid);
	return 0;
}

static __always_inline int fault(int user)
{
	__u64 pt = bpf_get_current_pid_tgid();
	if (!is_target(pt >> 32))
		return 0;
	struct cw_kglobal *g = glob();
	if (g) {
		if (user)
			__sync_fetch_and_add(&g->faults_user, 1);
		else
			__sync_fetch_and_add(&g->faults_kernel, 1);
	}
	return 0;
}

SEC("tp_btf/page_fault_user")
int BPF_PROG(cwk_pf_user)
{
	return fault(1);
}

SEC("tp_btf/page_fault_kernel")
int BPF_PROG(cwk_pf_kernel)
{
	return fault(0);
}

SEC("perf_event")
int cwk_sample(struct bpf_perf_event_data *ctx)
{
	__u64 pt = bpf_get_current_pid_tgid();
	if (!is_target(pt >> 32))
		return 0;
	__u32 tid = (__u32)pt;
	struct cw_kthread *t = bpf_map_lookup_elem(&threads, &tid);
	struct cw_ksample_key k = { .stack = CW_KNO_STACK, .sys_nr = t ? t->sys_nr : -1 };
	/* user mode: the interrupted IP is below the kernel half (ctx allows only 8-byte reads of regs) */
	if (ctx->regs.ip < 0xffff800000000000ull) {
		k.user = 1;
	} else {
		k.stack = bpf_get_stackid(ctx, &kstacks, 0);
		if (k.stack < 0) {
			struct cw_kglobal *g = glob();
			if (g)
				__sync_fetch_and_add(&g->stack_errors, 1);
		}
	}
	__u64 *c = bpf_map_lookup_elem(&samples, &k);
	if (!c) {
		__u64 z = 0;
		bpf_map_update_elem(&samples, &k, &z, BPF_NOEXIST);
		c = bpf_map_lookup_elem(&samples, &k);
	}
	if (c)
		__sync_fetch_and_add(c, 1);
	return 0;
}
