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
 * to it. */
	.text
	.globl cw_x86_entry_common
	.hidden cw_x86_entry_common
	.type cw_x86_entry_common, @function
	.p2align 4
cw_x86_entry_common:
	endbr64
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
	jc 1f
	lea 8(%rsp), %rsp	/* untimed: at the slot, as the function was entered */
	jmp *-8(%rsp)
1:	lea 16(%rsp), %rsp	/* timed: just above the slot, so the call's push fills it */
	call *-16(%rsp)
	.globl cw_x86_ret_tramp
	.hidden cw_x86_ret_tramp
cw_x86_ret_tramp:
	sub $8, %rsp		/* back over the slot the function returned through */
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
