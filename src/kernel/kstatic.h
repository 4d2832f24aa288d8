/* Static callees of a kernel function, by decoding its live text from /proc/kcore (where the kernel allows
 * reading it): the candidates the walk instruments next with fentry/kprobe, indirect sites included. */
#ifndef CW_KSTATIC_H
#define CW_KSTATIC_H

#include "sym/sym.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cw_kcallsite {
	uint64_t addr;	    /* the call instruction */
	uint64_t target;    /* 0 for an indirect call */
	const char *callee; /* function name (owned by SYMS), NULL when indirect or unknown */
	bool indirect;	    /* call through a register or memory, or a retpoline thunk */
	bool tail;	    /* a jmp to another function's start */
};

/* The call sites of kernel function FUNC in address order; *OUT malloc'd. -ENOENT: no such function;
 * -ENOTSUP: /proc/kcore cannot be read (then only sampled stacks tell callees); other -errno. The call into the
 * ftrace/fentry trampoline at the function's entry is not a callee and is left out. */
int cw_kernel_static_callees(struct cw_syms *syms, const char *func, struct cw_kcallsite **out, size_t *n);

#endif
