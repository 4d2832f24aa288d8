/* Unit tests of the x86-64 entry analysis, relocation and stub bytes (expected bytes with their disassembly). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <errno.h>
#include <cmocka.h>

#include "arch/x86_64/x86.h"

static char err[256];

static void expect_bytes(const uint8_t *got, int n, const uint8_t *want, int wn)
{
	assert_int_equal(n, wn);
	assert_memory_equal(got, want, (size_t)wn);
}

static void plan_prologue(void **st)
{
	static const uint8_t f[] = {
		0x55,			/* push %rbp */
		0x48, 0x89, 0xe5,	/* mov %rsp,%rbp */
		0x48, 0x83, 0xec, 0x10, /* sub $0x10,%rsp */
		0xc9,			/* leave */
		0xc3,			/* ret */
	};
	struct cw_x86_patch p;
	assert_int_equal(cw_x86_plan(f, sizeof(f), 0x401000, &p, err, sizeof(err)), 0);
	assert_int_equal(p.site, 0x401000);
	assert_int_equal(p.len, 8);
	assert_int_equal(p.ninsn, 3);
	assert_int_equal(p.insn_off[1], 1);
	assert_int_equal(p.insn_off[2], 4);
	assert_memory_equal(p.orig, f, 8);
}

static void plan_endbr64_kept(void **st)
{
	static const uint8_t f[] = {
		0xf3, 0x0f, 0x1e, 0xfa, /* endbr64 */
		0x41, 0x54,		/* push %r12 */
		0x31, 0xc0,		/* xor %eax,%eax */
		0x55,			/* push %rbp */
		0x5d,			/* pop %rbp */
		0x41, 0x5c,		/* pop %r12 */
		0xc3,			/* ret */
	};
	struct cw_x86_patch p;
	assert_int_equal(cw_x86_plan(f, sizeof(f), 0x1000, &p, err, sizeof(err)), 0);
	assert_int_equal(p.site, 0x1004); /* the jump goes after endbr64, which stays for indirect calls */
	assert_int_equal(p.len, 5);	  /* push %r12 (2) + xor (2) + push %rbp (1) */
	assert_int_equal(p.ninsn, 3);
}

static void plan_too_short(void **st)
{
	static const uint8_t ret[] = { 0xc3 };
	static const uint8_t xor_ret[] = { 0x31, 0xc0, 0xc3, 0xcc, 0xcc, 0xcc }; /* xor %eax,%eax; ret; pad */
	struct cw_x86_patch p;
	assert_int_equal(cw_x86_plan(ret, sizeof(ret), 0x1000, &p, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "too short"));
	/* long enough counting the padding, but its only path ends after 3 bytes */
	assert_int_equal(cw_x86_plan(xor_ret, sizeof(xor_ret), 0x1000, &p, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "too short"));
}

static void plan_branch_into_patch(void **st)
{
	static const uint8_t f[] = {
		0x31, 0xc0,	  /* +0 xor %eax,%eax */
		0xff, 0xc0,	  /* +2 inc %eax        <- loop head inside the 5 patched bytes */
		0x83, 0xf8, 0x0a, /* +4 cmp $0xa,%eax */
		0x75, 0xf9,	  /* +7 jne +2 */
		0xc3,		  /* +9 ret */
	};
	struct cw_x86_patch p;
	assert_int_equal(cw_x86_plan(f, sizeof(f), 0x1000, &p, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "branch at +0x7 targets patched byte +0x2");
}

static void plan_recursion_vs_loop(void **st)
{
	static const uint8_t rec[] = {
		0x55,			      /* +0 push %rbp */
		0x48, 0x89, 0xe5,	      /* +1 mov %rsp,%rbp */
		0x85, 0xff,		      /* +4 test %edi,%edi */
		0x74, 0x07,		      /* +6 je +0xf */
		0xff, 0xcf,		      /* +8 dec %edi */
		0xe8, 0xf1, 0xff, 0xff, 0xff, /* +a call +0 (recursion: fine) */
		0x5d,			      /* +f pop %rbp */
		0xc3,			      /* +10 ret */
	};
	static const uint8_t loop[] = {
		0x85, 0xff,		/* +0 test %edi,%edi */
		0x74, 0x06,		/* +2 je +0xa */
		0xff, 0xcf,		/* +4 dec %edi */
		0x90, 0x90,		/* +6 nop; nop */
		0xeb, 0xf6,		/* +8 jmp +0 (a tail call made a loop: refused) */
		0xc3,			/* +a ret */
	};
	struct cw_x86_patch p;
	assert_int_equal(cw_x86_plan(rec, sizeof(rec), 0x1000, &p, err, sizeof(err)), 0);
	assert_int_equal(cw_x86_plan(loop, sizeof(loop), 0x1000, &p, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "branch at +0x8 targets patched byte +0x0");
}

static void plan_undecodable(void **st)
{
	static const uint8_t f[] = { 0x06, 0x90, 0x90, 0x90, 0x90, 0xc3 }; /* push %es: invalid in 64-bit mode */
	static const uint8_t g[] = { 0x55, 0x48, 0x89, 0xe5, 0x90, 0x90, 0x0f }; /* a lone 0f: cut-off opcode */
	struct cw_x86_patch p;
	assert_int_equal(cw_x86_plan(f, sizeof(f), 0x1000, &p, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "undecodable instruction at +0x0");
	assert_int_equal(cw_x86_plan(g, sizeof(g), 0x1000, &p, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "undecodable instruction at +0x"));
}

static void reloc_rip_relative(void **st)
{
	static const uint8_t in[] = { 0x48, 0x8b, 0x05, 0x00, 0x01, 0x00, 0x00 }; /* mov 0x100(%rip),%rax */
	/* at 0x401000 the operand is 0x400107 - (0x401000 + 7) = -0xf00: mov -0xf00(%rip),%rax */
	static const uint8_t want[] = { 0x48, 0x8b, 0x05, 0x00, 0xf1, 0xff, 0xff };
	uint8_t out[32];
	int n = cw_x86_relocate(in, sizeof(in), 0x400000, out, sizeof(out), 0x401000, err, sizeof(err));
	expect_bytes(out, n, want, sizeof(want));

	/* RIP-relative with an immediate after the displacement: cmpl $0x5,0x10(%rip) */
	static const uint8_t in2[] = { 0x83, 0x3d, 0x10, 0x00, 0x00, 0x00, 0x05 };
	/* target 0x1017; at 0x2000: 0x1017 - 0x2007 = -0xff0 */
	static const uint8_t want2[] = { 0x83, 0x3d, 0x10, 0xf0, 0xff, 0xff, 0x05 };
	n = cw_x86_relocate(in2, sizeof(in2), 0x1000, out, sizeof(out), 0x2000, err, sizeof(err));
	expect_bytes(out, n, want2, sizeof(want2));
}

static void reloc_branches(void **st)
{
	uint8_t out[32];
	int n;
	/* jmp 0x1012 (eb 10) at 0x1000 -> jmp 0x1012 (e9 rel32) at 0x2000: 0x1012 - 0x2005 = -0xff3 */
	static const uint8_t jmp8[] = { 0xeb, 0x10 }, want_jmp[] = { 0xe9, 0x0d, 0xf0, 0xff, 0xff };
	n = cw_x86_relocate(jmp8, 2, 0x1000, out, sizeof(out), 0x2000, err, sizeof(err));
	expect_bytes(out, n, want_jmp, sizeof(want_jmp));
	/* je 0x1007 (74 05) -> je 0x1007 (0f 84 rel32) at 0x2000: 0x1007 - 0x2006 = -0xfff */
	static const uint8_t je8[] = { 0x74, 0x05 }, want_je[] = { 0x0f, 0x84, 0x01, 0xf0, 0xff, 0xff };
	n = cw_x86_relocate(je8, 2, 0x1000, out, sizeof(out), 0x2000, err, sizeof(err));
	expect_bytes(out, n, want_je, sizeof(want_je));
	/* jg rel32 (0f 8f) keeps its condition: jg 0x1106 -> 0x1106 - 0x2006 = -0xf00 */
	static const uint8_t jg32[] = { 0x0f, 0x8f, 0x00, 0x01, 0x00, 0x00 },
			     want_jg[] = { 0x0f, 0x8f, 0x00, 0xf1, 0xff, 0xff };
	n = cw_x86_relocate(jg32, 6, 0x1000, out, sizeof(out), 0x2000, err, sizeof(err));
	expect_bytes(out, n, want_jg, sizeof(want_jg));
	/* call 0x1005 as the last displaced instruction: the original return address is pushed, so the
	 * callee returns into the function (unwinding and landing pads see the real call site) */
	static const uint8_t call[] = { 0xe8, 0, 0, 0, 0 };
	static const uint8_t want_call[] = {
		0x48, 0x8d, 0x64, 0x24, 0xf8,			/* lea -0x8(%rsp),%rsp */
		0xc7, 0x04, 0x24, 0x05, 0x10, 0x00, 0x00,	/* movl $0x1005,(%rsp) */
		0xc7, 0x44, 0x24, 0x04, 0x00, 0x00, 0x00, 0x00, /* movl $0x0,0x4(%rsp) */
		0xe9, 0xec, 0xef, 0xff, 0xff,			/* jmp 0x1005 (at 0x2014: 0x1005 - 0x2019) */
	};
	n = cw_x86_relocate(call, 5, 0x1000, out, sizeof(out), 0x2000, err, sizeof(err));
	expect_bytes(out, n, want_call, sizeof(want_call));
	/* a call followed by another displaced instruction returns into the stub: call 0x1005 at 0x2000 */
	static const uint8_t call_nop[] = { 0xe8, 0, 0, 0, 0, 0x90 }, want_cn[] = { 0xe8, 0x00, 0xf0, 0xff, 0xff, 0x90 };
	n = cw_x86_relocate(call_nop, 6, 0x1000, out, sizeof(out), 0x2000, err, sizeof(err));
	expect_bytes(out, n, want_cn, sizeof(want_cn));
	/* jrcxz cannot be widened */
	static const uint8_t jrcxz[] = { 0xe3, 0x02 };
	assert_int_equal(cw_x86_relocate(jrcxz, 2, 0x1000, out, sizeof(out), 0x2000, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "cannot be relocated"));
}

static void reloc_out_of_range(void **st)
{
	static const uint8_t in[] = { 0x48, 0x8d, 0x05, 0x00, 0x00, 0x00, 0x00 }; /* lea 0(%rip),%rax */
	uint8_t out[32];
	assert_int_equal(cw_x86_relocate(in, sizeof(in), 0x1000, out, sizeof(out), 0x7f0000000000ull, err,
					 sizeof(err)),
			 -ERANGE);
	assert_non_null(strstr(err, "out of reach"));
	static const uint8_t jmp8[] = { 0xeb, 0x10 };
	assert_int_equal(cw_x86_relocate(jmp8, 2, 0x1000, out, sizeof(out), 0x7f0000000000ull, err, sizeof(err)),
			 -ERANGE);
}

static void stub_bytes(void **st)
{
	static const uint8_t f[] = { 0x55, 0x48, 0x89, 0xe5, 0x48, 0x83, 0xec, 0x10, 0xc9, 0xc3 };
	static const uint8_t want[] = {
		0x68, 0x07, 0x00, 0x00, 0x00,		/* +0  push $0x7 */
		0xff, 0x25, 0x15, 0x00, 0x00, 0x00,	/* +5  jmp *0x402020(%rip) */
		0xcc, 0xcc, 0xcc, 0xcc, 0xcc,		/* +11 int3 x5: never executed */
		0x55,					/* +16 push %rbp */
		0x48, 0x89, 0xe5,			/* +17 mov %rsp,%rbp */
		0x48, 0x83, 0xec, 0x10,			/* +20 sub $0x10,%rsp */
		0xe9, 0xeb, 0xef, 0xff, 0xff,		/* +24 jmp 0x401008 */
		0xcc, 0xcc, 0xcc,			/* +29 int3 padding */
		0x78, 0x56, 0x34, 0x12, 0xff, 0x7f, 0x00, 0x00, /* +32 .quad 0x7fff12345678 */
	};
	struct cw_x86_patch p;
	uint8_t out[CW_X86_STUB_MAX];
	assert_int_equal(cw_x86_plan(f, sizeof(f), 0x401000, &p, err, sizeof(err)), 0);
	int n = cw_x86_stub_build(&p, 7, 0x7fff12345678ull, out, sizeof(out), 0x402000, err, sizeof(err));
	expect_bytes(out, n, want, sizeof(want));

	uint8_t j[5];
	static const uint8_t want_j[] = { 0xe9, 0xfb, 0x0f, 0x00, 0x00 }; /* jmp 0x402000 at 0x401000 */
	assert_int_equal(cw_x86_site_jump(0x401000, 0x402000, j), 0);
	assert_memory_equal(j, want_j, 5);
	assert_int_equal(cw_x86_site_jump(0x401000, 0x7f0000000000ull, j), -ERANGE);
}

static void stub_with_rip_operand(void **st)
{
	/* endbr64; mov 0x2f00(%rip),%eax at 0x401004 (target 0x403f0a); test %eax,%eax; ret */
	static const uint8_t f[] = { 0xf3, 0x0f, 0x1e, 0xfa, 0x8b, 0x05, 0x00, 0x2f, 0x00, 0x00, 0x85, 0xc0, 0xc3 };
	struct cw_x86_patch p;
	uint8_t out[CW_X86_STUB_MAX];
	assert_int_equal(cw_x86_plan(f, sizeof(f), 0x401000, &p, err, sizeof(err)), 0);
	assert_int_equal(p.site, 0x401004);
	assert_int_equal(p.len, 6);
	int n = cw_x86_stub_build(&p, 1, 0x1122334455667788ull, out, sizeof(out), 0x500000, err, sizeof(err));
	assert_true(n > 0);
	/* +16: mov disp32(%rip),%eax with disp = 0x403f0a - (0x500010 + 6) = -0xfc10c */
	static const uint8_t want_mov[] = { 0x8b, 0x05, 0xf4, 0x3e, 0xf0, 0xff };
	assert_memory_equal(out + 16, want_mov, 6);
	/* +22: jmp 0x40100a: 0x40100a - 0x50001b = -0xff011 */
	static const uint8_t want_jmp[] = { 0xe9, 0xef, 0x0f, 0xf0, 0xff };
	assert_memory_equal(out + 22, want_jmp, 5);
}

/* Neighbor code jumping into a function's first bytes (glibc: mempcpy's "jmp memmove+3"). */
static void neighbors_branch_in(void **st)
{
	static const uint8_t nb[] = {
		0x48, 0x89, 0xf8, /* 0x7c0 mov %rdi,%rax */
		0x48, 0x01, 0xd0, /* 0x7c3 add %rdx,%rax */
		0xeb, 0x3b,	  /* 0x7c6 jmp 0x803 */
	};
	uint64_t br[4] = { 0 };
	/* one branch, from 0x7c6 into bytes 0x801..0x813 of the function at 0x800, which a patch displaces */
	assert_int_equal(cw_x86_rel_branches(nb, sizeof(nb), 0x7c0, br, 2), 1);
	assert_int_equal(br[0], 0x7c6);
	assert_int_equal(br[1], 0x803);
	/* counted past the room given, as snprintf does */
	assert_int_equal(cw_x86_rel_branches(nb, sizeof(nb), 0x7c0, br, 0), 1);
	/* straight-line code has none */
	assert_int_equal(cw_x86_rel_branches(nb, 6, 0x7c0, br, 2), 0);
}

/* The analysis on real compiled code: this very file's functions are at least decodable. */
static void plan_real_code(void **st)
{
	struct cw_x86_patch p;
	int r = cw_x86_plan((const uint8_t *)(uintptr_t)cw_x86_relocate, 64, (uint64_t)(uintptr_t)cw_x86_relocate,
			    &p, err, sizeof(err));
	/* 64 bytes may cut an instruction at the end; only the entry matters here */
	if (r)
		assert_non_null(strstr(err, "undecodable instruction at +0x"));
	else
		assert_true(p.len >= 5 && p.len <= CW_X86_MAX_DISPLACED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(plan_prologue),	 cmocka_unit_test(plan_endbr64_kept),
		cmocka_unit_test(plan_too_short),	 cmocka_unit_test(plan_branch_into_patch),
		cmocka_unit_test(plan_undecodable),	 cmocka_unit_test(reloc_rip_relative),
		cmocka_unit_test(reloc_branches),	 cmocka_unit_test(reloc_out_of_range),
		cmocka_unit_test(stub_bytes),		 cmocka_unit_test(stub_with_rip_operand),
		cmocka_unit_test(plan_real_code),	 cmocka_unit_test(plan_recursion_vs_loop),
		cmocka_unit_test(neighbors_branch_in),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
