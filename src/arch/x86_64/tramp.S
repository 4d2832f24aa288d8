/* The agent's shared trampolines (x86-64 SysV): the common entry that every per-function stub jumps to, and
 * the return trampoline that instrumented functions return into. Built into libcrosswalk-agent.so only.
 *
 * Entry: a stub did `push $site; jmp *cw_x86_entry_common`, so on arrival
 *     0(%rsp) site index   8(%rsp) the function's return address (its "slot")
 * Every general register the C hook may clobber is saved: not only the argument registers (rdi rsi rdx rcx
 * r8 r9, rax = %al vector count of a variadic call, r10 static chain) but r11 too, because with gcc's
 * interprocedural register allocation a caller may keep values in "caller-saved" registers across a call
 * to a function known not to touch them. The hook is compiled with -mgeneral-regs-only and calls nothing
 * on its fast path, so xmm/ymm and x87 registers are never touched there; its slow path (a thread's first
 * call) goes through cw_x86_call_fpsafe, which saves xmm0-15. The stack is realigned to 16 (no reliance on
 * the caller's alignment). Flags are not live at a function entry (the ABI leaves them undefined, DF aside,
 * which nothing here changes); the red zone is empty there (the call instruction itself would have
 * clobbered it).
 *
 * cw_agent_on_entry returns where the function goes on: its stub's relocated first instructions, with bit 0
 * set when the exit is timed (the hook has then saved the real return address and written the return
 * trampoline into the slot). The address replaces the site index on the stack, the registers come back, and
 *   - untimed: `jmp *` to it, the slot untouched;
 *   - timed: `call *` to it from the slot's own position, so the call's pushed return address, which is
 *     cw_x86_ret_tramp (the label right after it), lands in the slot, and the processor's return stack
 *     buffer holds a matching entry: the function's `ret` into the trampoline is predicted, and so is the
 *     trampoline's `ret` to the real caller (the caller's own entry is next in the buffer). Replacing the
 *     address with a store instead (as uftrace and kretprobes do) makes every such return a misprediction.
 * Both read the address 8 or 16 bytes below the stack pointer, which a signal cannot overwrite: the kernel
 * skips the 128-byte red zone when it pushes a signal frame. A signal between the hook and the call sees
 * the slot holding the trampoline already, as the hook left it.
 *
 * Return: the function's `ret` popped the replaced return address, so the slot it came from is -8(%rsp).
 * All general registers are saved again (return value in rax:rdx, and IPA-RA values in the others);
 * cw_agent_on_exit(slot) gives back the real return address, written into that same slot, and we `ret`
 * to it.
 *
 * Fast paths: both trampolines first try the common case in assembly, with only the registers it uses
 * saved (7 on entry, 5 on exit), and fall back to the C hooks above, with nothing changed yet, for
 * anything else: a thread's first call, a busy thread, per-site or per-caller counting (the walk's mode),
 * return instances from a shared pool, a removed site or an unwinder hook, abandoned frames to drop or a
 * tail call on entry, a full shadow stack; on exit a frame that is not the top one, one of an earlier
 * session, a thread on the shared counter shard. What the fast paths do is exactly what
 * cw_agent_on_entry and cw_agent_on_exit do in that case (the frame, the timestamps, the plain adds to
 * the thread's own shard), on the layouts in agent/layout.h, which hook.c checks against the C structures.
 * Saving all nine registers and calling C costs ~14 ns per call more on this project's Xeon VM, about
 * as much as the two rdtsc themselves (docs/parts/instr.md). */
#include "agent/layout.h"
	.text
	.globl cw_x86_entry_common
	.hidden cw_x86_entry_common
	.type cw_x86_entry_common, @function
	.p2align 4
cw_x86_entry_common:
	endbr64
	/* Fast path (see "Fast paths" above): 7 scratch registers, the site index at 56(%rsp), the slot at
	 * 64(%rsp). Anything unusual goes to the C hook with nothing changed. */
	push %rax
	push %rcx
	push %rdx
	push %rsi
	push %rdi
	push %r8
	push %r9
	mov cw_tls@gottpoff(%rip), %rax
	mov %fs:(%rax), %rcx			/* t */
	test %rcx, %rcx
	jz .Lentry_slow				/* the thread's first call: set-up in C */
	cmpl $0, CW_T_BUSY(%rcx)
	jne .Lentry_slow
	mov cw_count_sites(%rip), %eax		/* per-site and per-caller counts: in C */
	or cw_pool_kind(%rip), %eax		/* return instances from a shared pool: in C */
	jnz .Lentry_slow
	mov 56(%rsp), %esi			/* site index */
	cmp $CW_S_MAX, %esi
	jae .Lentry_slow
	imul $CW_S_SIZE, %rsi, %rsi
	lea cw_sites(%rip), %rax
	add %rax, %rsi				/* &cw_sites[site] */
	movslq CW_S_SLOT(%rsi), %rdx		/* slot */
	test %edx, %edx
	js .Lentry_slow				/* removed, or an unwinder hook */
	lea 64(%rsp), %rax			/* a: the return-address slot */
	mov CW_T_DEPTH(%rcx), %r8d		/* depth */
	test %r8d, %r8d
	jz 2f
	mov %r8, %r9
	shl $CW_F_SHIFT, %r9
	mov CW_T_FRAMES - (1 << CW_F_SHIFT) + CW_F_RETP(%rcx, %r9), %r9	/* b: the top frame's slot */
	cmp %rax, %r9
	ja 2f					/* b above a: the caller's frame, nothing abandoned */
	cmp CW_T_STACK_LO(%rcx), %rax		/* a frame on another stack (sigaltstack) abandons nothing */
	jb 2f
	cmp CW_T_STACK_HI(%rcx), %rax
	jae 2f
	cmp CW_T_STACK_LO(%rcx), %r9
	jb 2f
	cmp CW_T_STACK_HI(%rcx), %r9
	jb .Lentry_slow				/* a longjmp'd frame to drop, or a tail call: in C */
2:	cmp $CW_T_NFRAMES, %r8d
	jae .Lentry_slow			/* full: counted as lost in C */
	lea 1(%r8), %edi			/* the new depth */
	shl $CW_F_SHIFT, %r8
	lea CW_T_FRAMES(%rcx, %r8), %r9		/* f = &frames[depth] */
	mov %edi, %r8d				/* r8: the new depth */
	mov 56(%rsp), %edi
	shl $32, %rdi
	or %rdx, %rdi				/* rdi: site << 32 | slot, the frame's slot and site fields */
	mov CW_S_STUB(%rsi), %rsi
	add $CW_S_ORIG_OFF, %rsi		/* where the function goes on */
	/* A signal handler that calls instrumented functions before depth counts this frame fills the same
	 * frames[depth] and gives it back: the slot address is written first and checked after depth is
	 * stored, and the frame written again when the handler's (at a lower address) is found there. */
3:	lea 64(%rsp), %rax
	mov %rax, CW_F_RETP(%r9)		/* first */
	mov 64(%rsp), %rax
	mov %rax, CW_F_RET(%r9)
	movq $0, CW_F_CHILD(%r9)
	mov %rdi, CW_F_SLOT(%r9)		/* and CW_F_SITE */
	movl $-1, CW_F_CALLER(%r9)
	movl $0, CW_F_RESTORED(%r9)
	mov cw_session_gen(%rip), %eax
	mov %eax, CW_F_GEN(%r9)
	movq $0, CW_F_INST(%r9)
	rdtsc
	shl $32, %rdx
	or %rdx, %rax
	mov %rax, CW_F_T0(%r9)			/* the frame is complete before depth counts it */
	mov %r8d, CW_T_DEPTH(%rcx)		/* a store, not an increment: the same on a second pass */
	lea 64(%rsp), %rax
	cmp CW_F_RETP(%r9), %rax
	jne 3b					/* a handler had the frame meanwhile: write it again */
	lea cw_x86_ret_tramp(%rip), %rax
	mov %rax, 64(%rsp)			/* the slot returns into the trampoline */
	mov %rsi, 56(%rsp)			/* over the site index */
	pop %r9
	pop %r8
	pop %rdi
	pop %rsi
	pop %rdx
	pop %rcx
	pop %rax
.Ltimed:
	lea 16(%rsp), %rsp	/* timed: just above the slot, so the call's push fills it */
	call *-16(%rsp)
	.globl cw_x86_ret_tramp
	.hidden cw_x86_ret_tramp
cw_x86_ret_tramp:
	sub $8, %rsp		/* back over the slot the function returned through */
	/* Fast path: the slot at 40(%rsp); the top frame is this call's, stack-mode, of this session, on a
	 * thread with a shard of its own and no caller counts. Anything else goes to the C hook. */
	push %rax
	push %rcx
	push %rdx
	push %rsi
	push %rdi
	mov cw_tls@gottpoff(%rip), %rax
	mov %fs:(%rax), %rcx			/* t */
	test %rcx, %rcx
	jz .Lexit_slow
	mov CW_T_DEPTH(%rcx), %esi
	test %esi, %esi
	jz .Lexit_slow
	shl $CW_F_SHIFT, %rsi
	lea CW_T_FRAMES - (1 << CW_F_SHIFT)(%rcx, %rsi), %rsi	/* f: the top frame */
	lea 40(%rsp), %rax
	cmp CW_F_RETP(%rsi), %rax
	jne .Lexit_slow				/* frames above it were abandoned: in C */
	cmpq $0, CW_F_INST(%rsi)
	jne .Lexit_slow
	cmpl $0, CW_F_CALLER(%rsi)
	jns .Lexit_slow
	mov cw_session_gen(%rip), %eax
	cmp CW_F_GEN(%rsi), %eax
	jne .Lexit_slow
	cmpb $0, CW_T_EXCL(%rcx)
	je .Lexit_slow				/* a shared shard: locked adds, in C */
	rdtsc
	shl $32, %rdx
	or %rdx, %rax
	sub CW_F_T0(%rsi), %rax			/* dur */
	cmpl $1, CW_T_DEPTH(%rcx)
	jbe 1f
	add %rax, CW_F_CHILD - (1 << CW_F_SHIFT)(%rsi)	/* the caller's frame: time in instrumented callees */
1:	movslq CW_F_SLOT(%rsi), %rdx
	imul $CW_SLOT_SIZE, %rdx, %rdx
	add cw_shm(%rip), %rdx
	mov CW_T_SHARD(%rcx), %edi
	shl $CW_CTR_SHIFT, %rdi
	add %rdi, %rdx				/* this thread's shard of the slot's counters, - CW_SHM_SLOTS */
	addq $1, CW_SHM_SLOTS + CW_CTR_CALLS(%rdx)	/* one instruction each: a signal cannot split it */
	add %rax, CW_SHM_SLOTS + CW_CTR_INCL(%rdx)
	mov CW_F_CHILD(%rsi), %rdi
	test %rdi, %rdi
	jz 2f
	cmp %rax, %rdi
	cmova %rax, %rdi			/* callees' time, at most the call's */
	add %rdi, CW_SHM_SLOTS + CW_CTR_CHILD(%rdx)
2:	mov CW_F_RET(%rsi), %rax
	mov %rax, 40(%rsp)			/* the real return address, read before the frame is let go */
	decl CW_T_DEPTH(%rcx)
	pop %rdi
	pop %rsi
	pop %rdx
	pop %rcx
	pop %rax
	ret
.Lexit_slow:
	pop %rdi
	pop %rsi
	pop %rdx
	pop %rcx
	pop %rax
	push %rax
	push %rdi
	push %rsi
	push %rdx
	push %rcx
	push %r8
	push %r9
	push %r10
	push %r11
	push %rbp
	mov %rsp, %rbp
	and $-16, %rsp
	lea 80(%rbp), %rdi	/* the slot */
	call cw_agent_on_exit
	mov %rax, 80(%rbp)	/* the real return address */
	mov %rbp, %rsp
	pop %rbp
	pop %r11
	pop %r10
	pop %r9
	pop %r8
	pop %rcx
	pop %rdx
	pop %rsi
	pop %rdi
	pop %rax
	ret			/* predicted: the caller's entry is on top of the return stack buffer */
	/* the entry's slow path, out of the fast path's way */
.Lentry_slow:
	pop %r9
	pop %r8
	pop %rdi
	pop %rsi
	pop %rdx
	pop %rcx
	pop %rax
	push %rbp
	mov %rsp, %rbp
	push %rax
	push %rdi
	push %rsi
	push %rdx
	push %rcx
	push %r8
	push %r9
	push %r10
	push %r11
	and $-16, %rsp
	mov %rdi, %rdx		/* the function's first argument */
	mov 8(%rbp), %edi	/* site index */
	lea 16(%rbp), %rsi	/* the function's return-address slot */
	call cw_agent_on_entry
	btr $0, %rax		/* CF: the exit is timed */
	mov %rax, 8(%rbp)	/* where to go on, over the site index */
	lea -72(%rbp), %rsp	/* lea and pop leave the flags alone */
	pop %r11
	pop %r10
	pop %r9
	pop %r8
	pop %rcx
	pop %rdx
	pop %rsi
	pop %rdi
	pop %rax
	pop %rbp
	jc .Ltimed		/* the one call whose return address is cw_x86_ret_tramp */
	lea 8(%rsp), %rsp	/* untimed: at the slot, as the function was entered */
	jmp *-8(%rsp)
	.size cw_x86_entry_common, . - cw_x86_entry_common

	/* uint64_t cw_x86_call_fpsafe(uint64_t (*fn)(void)): FN() with xmm0-15 preserved around it */
	.globl cw_x86_call_fpsafe
	.hidden cw_x86_call_fpsafe
	.type cw_x86_call_fpsafe, @function
	.p2align 4
cw_x86_call_fpsafe:
	push %rbp
	mov %rsp, %rbp
	and $-16, %rsp
	sub $256, %rsp
	movups %xmm0, 0(%rsp)
	movups %xmm1, 16(%rsp)
	movups %xmm2, 32(%rsp)
	movups %xmm3, 48(%rsp)
	movups %xmm4, 64(%rsp)
	movups %xmm5, 80(%rsp)
	movups %xmm6, 96(%rsp)
	movups %xmm7, 112(%rsp)
	movups %xmm8, 128(%rsp)
	movups %xmm9, 144(%rsp)
	movups %xmm10, 160(%rsp)
	movups %xmm11, 176(%rsp)
	movups %xmm12, 192(%rsp)
	movups %xmm13, 208(%rsp)
	movups %xmm14, 224(%rsp)
	movups %xmm15, 240(%rsp)
	call *%rdi
	movups 0(%rsp), %xmm0
	movups 16(%rsp), %xmm1
	movups 32(%rsp), %xmm2
	movups 48(%rsp), %xmm3
	movups 64(%rsp), %xmm4
	movups 80(%rsp), %xmm5
	movups 96(%rsp), %xmm6
	movups 112(%rsp), %xmm7
	movups 128(%rsp), %xmm8
	movups 144(%rsp), %xmm9
	movups 160(%rsp), %xmm10
	movups 176(%rsp), %xmm11
	movups 192(%rsp), %xmm12
	movups 208(%rsp), %xmm13
	movups 224(%rsp), %xmm14
	movups 240(%rsp), %xmm15
	mov %rbp, %rsp
	pop %rbp
	ret
	.size cw_x86_call_fpsafe, . - cw_x86_call_fpsafe

	.section .note.GNU-stack, "", @progbits
