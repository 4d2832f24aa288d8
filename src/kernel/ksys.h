/* Types shared by the kernel-measurement BPF programs (ksys.bpf.c, kfunc.bpf.c) and their loader (kmeasure.c). */
#ifndef CW_KSYS_H
#define CW_KSYS_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define CW_KSYS_NR 512		/* syscall numbers tracked (x86-64 uses < 512) */
#define CW_KSTACK_DEPTH 64	/* kernel frames kept per stack */
#define CW_KNO_STACK (-1)
/* The target set is a bitmap of tgids (bit tgid of word tgid / 64) covering PID_MAX_LIMIT (4M on 64-bit): an
 * array lookup that the verifier inlines, so that the syscalls of every other process cost no hash lookup. */
#define CW_KTARGET_WORDS (4194304 / 64)

/* Per target thread, kept by ksys.bpf.c, read by kfunc.bpf.c (the map is shared). */
struct cw_kthread {
	__u64 sys_start;	/* ktime at sys_enter of the syscall in progress */
	__u64 sys_off0;		/* off_acc at that sys_enter */
	__u64 off_start;	/* ktime when switched out, 0 while on a CPU */
	__u64 off_acc;		/* ns asleep, accumulated over the thread's life: blocked time of any interval is
				 * the difference of two readings, which is how fentry/kprobe timers split it too */
	__u64 rq_acc;		/* ns preempted (runnable, waiting for a CPU), accumulated likewise */
	__u64 sys_rq0;		/* rq_acc at that sys_enter */
	__s32 sys_nr;		/* syscall in progress, -1 none */
	__s32 off_stack;	/* kernel stack id where it went off CPU */
	__s32 off_sys;		/* syscall it was in when it went off CPU */
	__u32 off_preempt;	/* 1: preempted (runnable), 0: went to sleep */
};

/* Per syscall number, exact (raw_syscalls tracepoints). */
struct cw_ksys_stat {
	__u64 entered;		/* calls (counted at entry, as strace does: exit_group never returns) */
	__u64 completed;	/* calls that returned */
	__u64 incl_ns;		/* wall time of completed calls */
	__u64 blocked_ns;	/* asleep part of incl_ns */
	__u64 runq_ns;		/* preempted part of incl_ns (runnable, not on a CPU) */
};

/* Per-thread syscall results (when per-thread is on): key {tid, syscall}; value's entered is unused (0),
 * completed calls only. Only the thread itself writes its entries, so no atomics. */
struct cw_ksys_tkey {
	__u32 tid;
	__s32 sys_nr;
};

/* Off-CPU time by where the thread slept: kernel stack, syscall it was in, preempted or asleep. */
struct cw_koff_key {
	__s32 stack;
	__s32 sys_nr;
	__u32 preempt;
	__u32 pad;
};
struct cw_kacc {
	__u64 ns;
	__u64 count;
};

/* cpu-clock samples of target threads: kernel stack (or CW_KNO_STACK for user mode), syscall in progress. */
struct cw_ksample_key {
	__s32 stack;
	__s32 sys_nr;
	__u32 user;		/* 1: the thread was in user mode */
	__u32 pad;
};

/* Global counters (one array slot). */
struct cw_kglobal {
	__u64 faults_user;
	__u64 faults_kernel;
	__u64 forks;		/* child processes added to the target set */
	__u64 stack_errors;	/* bpf_get_stackid failures (map full, ...) */
};

/* One timed kernel function (kfunc.bpf.c). */
struct cw_kfstat {
	__u64 entered;
	__u64 completed;
	__u64 incl_ns;
	__u64 blocked_ns;
	__u64 runq_ns;
};
struct cw_kfactive {
	__u64 start;
	__u64 off0;
	__u64 rq0;
	__u32 depth;		/* recursion: only the outermost call is timed */
	__u32 pad;
};

#endif
