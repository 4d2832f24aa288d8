/* Types shared by the profiler's BPF side (profile.bpf.c) and its user side (src/profile/). */
#ifndef CW_KERNEL_PROFILE_H
#define CW_KERNEL_PROFILE_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define CW_MAX_UFRAMES 96	/* user frames kept per stack */
#define CW_MAX_MAPS 256		/* executable mappings per process the unwinder knows */

/* One row of an unwind table: from PC (an ELF virtual address of the object) until the next row, the
 * caller's frame is found by this rule. Derived from .eh_frame (src/unwind/ehframe.c). The return address
 * is at CFA-8 on x86-64, always. */
enum cw_uw_cfa {
	CW_UW_NONE = 0,	     /* no unwind info here: stop, the stack is truncated */
	CW_UW_RSP = 1,	     /* CFA = rsp + cfa_off */
	CW_UW_RBP = 2,	     /* CFA = rbp + cfa_off */
	CW_UW_PLT = 3,	     /* PLT stub: CFA = rsp + 8 + ((rip & 15) >= 11 ? 8 : 0) (the psABI's PLT CFI) */
	CW_UW_OUTERMOST = 4, /* return address undefined: the outermost frame (_start, clone3) */
};
enum cw_uw_rbp {
	CW_UW_RBP_SAME = 0, /* rbp unchanged in the caller */
	CW_UW_RBP_AT = 1,   /* caller's rbp saved at CFA + rbp_off */
};
struct cw_uw_row {
	__u32 pc;
	__u8 cfa;
	__u8 rbp;
	__u16 pad;
	__s32 cfa_off;
	__s32 rbp_off;
};

/* One executable file mapping of a process: runtime PC - bias = ELF vaddr, whose rows are
 * rows[row_off .. row_off + row_cnt). */
struct cw_uw_map {
	__u64 start, end;
	__u64 bias;
	__u32 row_off, row_cnt;
};
struct cw_uw_proc {
	__u32 nmaps;
	__u32 gen;
	struct cw_uw_map maps[CW_MAX_MAPS];
};

struct cw_ustack {
	__u32 n;
	__u32 flags; /* CW_US_* */
	__u64 pcs[CW_MAX_UFRAMES];
};
#define CW_US_COMPLETE 1  /* reached the outermost frame */
#define CW_US_TRUNC_NOMAP 2 /* stopped at a PC in no known mapping */
#define CW_US_TRUNC_NOINFO 4 /* stopped where no unwind info covers the PC */
#define CW_US_TRUNC_READ 8 /* a stack read failed */
#define CW_US_TRUNC_DEPTH 16 /* more than CW_MAX_UFRAMES frames */

struct cw_count_key {
	__u32 tgid;
	__s32 kstack; /* kernel stack id, or -1 */
	__u64 ustack; /* hash of the user stack in the ustacks map, or 0 for none */
};

enum cw_event_type { CW_EV_NEED_MAPS = 1, CW_EV_EXEC = 2, CW_EV_FORK = 3, CW_EV_EXIT = 4 };
struct cw_event {
	__u32 type;
	__u32 tgid;
	__u32 ppid;
	__u32 pad;
};

/* totals (per-CPU array) indexes */
enum { CW_TOT_ALL = 0, CW_TOT_IDLE = 1, CW_TOT_TARGET = 2, CW_TOT_UNWIND_OK = 3, CW_TOT_NOMAP = 4, CW_TOT_NOINFO = 5,
       CW_TOT_READFAIL = 6, CW_TOT__N = 8 };

#endif
