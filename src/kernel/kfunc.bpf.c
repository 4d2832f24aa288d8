// SPDX-License-Identifier: GPL-2.0
/* Timing of one kernel function by fentry/fexit (BPF trampolines) or kprobe/kretprobe, for target threads
 * only: calls, inclusive wall time, and its off-CPU part (from the off_acc counter that ksys.bpf.c keeps per
 * thread: the targets and threads maps are those of the ksys object, shared by fd). One object per function. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "kernel/ksys.h"

char LICENSE[] SEC("license") = "GPL";

/* For the page-fault timers on handle_mm_fault: 0 all faults, 1 only user-mode faults, 2 only kernel-mode. */
const volatile int fault_want = 0;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, CW_KTARGET_WORDS);
	__type(key, __u32);
	__type(value, __u64);
} targets SEC(".maps"); /* bitmap of target tgids, see ksys.h */

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 32768);
	__type(key, __u32);
	__type(value, struct cw_kthread);
} threads SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct cw_kfactive);
} active SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct cw_kfstat);
} fstat SEC(".maps");

/* Per-thread results (when per_thread is set from user space): tid -> stat, completed calls only. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct cw_kfstat);
} tstats SEC(".maps");

bool per_thread = false;

static __always_inline __u64 off_acc(__u32 tid)
{
	struct cw_kthread *t = bpf_map_lookup_elem(&threads, &tid);
	return t ? t->off_acc : 0;
}

static __always_inline __u64 rq_acc(__u32 tid)
{
	struct cw_kthread *t = bpf_map_lookup_elem(&threads, &tid);
	return t ? t->rq_acc : 0;
}

static __always_inline int enter(void)
{
	__u64 pt = bpf_get_current_pid_tgid();
	__u32 tgid = pt >> 32, tid = (__u32)pt, k = 0, w = tgid / 64;
	__u64 *bits = bpf_map_lookup_elem(&targets, &w);
	if (!bits || !((*bits >> (tgid % 64)) & 1))
		return 0;
	struct cw_kfstat *s = bpf_map_lookup_elem(&fstat, &k);
	if (s)
		__sync_fetch_and_add(&s->entered, 1);
	struct cw_kfactive *a = bpf_map_lookup_elem(&active, &tid);
	if (a) {
		a->depth++;
		return 0;
	}
	struct cw_kfactive n = { .start = bpf_ktime_get_ns(), .off0 = off_acc(tid), .rq0 = rq_acc(tid) };
	bpf_map_update_elem(&active, &tid, &n, BPF_ANY);
	return 0;
}

static __always_inline int leave(void)
{
	__u64 pt = bpf_get_current_pid_tgid(), now = bpf_ktime_get_ns();
	__u32 tid = (__u32)pt, k = 0;
	struct cw_kfactive *a = bpf_map_lookup_elem(&active, &tid);
	if (!a)
		return 0;
	if (a->depth) {
		a->depth--;
		return 0;
	}
	__u64 d = now - a->start, b = off_acc(tid) - a->off0, q = rq_acc(tid) - a->rq0;
	struct cw_kfstat *s = bpf_map_lookup_elem(&fstat, &k);
	if (s) {
		__sync_fetch_and_add(&s->completed, 1);
		__sync_fetch_and_add(&s->incl_ns, d);
		__sync_fetch_and_add(&s->blocked_ns, b);
		__sync_fetch_and_add(&s->runq_ns, q);
	}
	if (per_thread) {
		struct cw_kfstat *ts = bpf_map_lookup_elem(&tstats, &tid);
		if (!ts) {
			struct cw_kfstat z = {};
			bpf_map_update_elem(&tstats, &tid, &z, BPF_NOEXIST);
			ts = bpf_map_lookup_elem(&tstats, &tid);
		}
		if (ts) {
			ts->completed++;
			ts->incl_ns += d;
			ts->blocked_ns += b;
			ts->runq_ns += q;
		}
	}
	bpf_map_delete_elem(&active, &tid);
	return 0;
}

SEC("fentry")
int BPF_PROG(cwk_fentry)
{
	return enter();
}

/* handle_mm_fault(vma, address, flags, regs): FAULT_FLAG_USER tells who faulted */
static __always_inline int enter_fault(unsigned int flags)
{
	bool user = flags & bpf_core_enum_value(enum fault_flag, FAULT_FLAG_USER);
	if ((fault_want == 1 && !user) || (fault_want == 2 && user))
		return 0;
	return enter();
}

SEC("fentry")
int BPF_PROG(cwk_fentry_pf, struct vm_area_struct *vma, unsigned long address, unsigned int flags)
{
	return enter_fault(flags);
}

SEC("kprobe")
int BPF_KPROBE(cwk_kprobe_pf, struct vm_area_struct *vma, unsigned long address, unsigned int flags)
{
	return enter_fault(flags);
}

SEC("fexit")
int BPF_PROG(cwk_fexit)
{
	return leave();
}

SEC("kprobe")
int BPF_KPROBE(cwk_kprobe)
{
	return enter();
}

SEC("kretprobe")
int BPF_KRETPROBE(cwk_kretprobe)
{
	return leave();
}
