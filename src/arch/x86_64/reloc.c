/* Function-entry analysis and relocation of displaced x86-64 instructions with Zydis 4.
 *
 * The patched layout (see also src/agent/patch.c):
 *
 *   func:  [endbr64]                 kept in place: indirect calls must still land on it (IBT)
 *   site:  e9 <rel32 to stub>        5 bytes over the first whole instructions (len >= 5 displaced bytes)
 *          <rest of displaced bytes> never executed: no branch of the body may target site..site+len-1
 *   site+len: the rest of the function, untouched
 *
 *   stub (within +-2 GB of site, in the agent's code arena):
 *     +0   68 <id32>                 push $id
 *     +5   ff 25 <rel32>             jmp *entry_common(%rip)    saves registers, runs the C hook, drops
 *                                                               the id, comes back to +16 (a call when
 *                                                               the exit is timed, else a jump)
 *     +11  cc cc cc cc cc            never executed
 *     +16  <relocated displaced instructions>                   RIP-relative operands and branches fixed;
 *                                                               a call becomes push <original return
 *                                                               address>; jmp target
 *     +N   e9 <rel32 to site+len>    back to the function
 *          .quad entry_common        (8-aligned)
 */
#include "arch/x86_64/x86.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <Zydis/Zydis.h>

#include <stdarg.h>

__attribute__((format(printf, 3, 4))) static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static void decoder_init(ZydisDecoder *d)
{
	ZydisDecoderInit(d, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
}

static int is_rip_relative(const ZydisDecodedInstruction *in)
{
	return (in->attributes & ZYDIS_ATTRIB_HAS_MODRM) && in->raw.modrm.mod == 0 && in->raw.modrm.rm == 5 &&
	       in->raw.disp.size == 32;
}

static int is_rel_branch(const ZydisDecodedInstruction *in)
{
	return (in->attributes & ZYDIS_ATTRIB_IS_RELATIVE) && in->raw.imm[0].is_relative;
}

/* Ends the flow: the bytes after it in the patch need not be part of this function. */
static int is_flow_end(const ZydisDecodedInstruction *in)
{
	switch (in->mnemonic) {
	case ZYDIS_MNEMONIC_RET:
	case ZYDIS_MNEMONIC_JMP:
	case ZYDIS_MNEMONIC_UD2:
	case ZYDIS_MNEMONIC_INT3:
	case ZYDIS_MNEMONIC_HLT:
		return 1;
	default:
		return 0;
	}
}

int cw_x86_plan(const uint8_t *code, size_t size, uint64_t func, struct cw_x86_patch *p, char *err,
		size_t errlen)
{
	ZydisDecoder d;
	ZydisDecodedInstruction in;
	unsigned skip = 0, off;

	decoder_init(&d);
	memset(p, 0, sizeof(*p));
	p->func = func;
	if (size >= 4 && ZYAN_SUCCESS(ZydisDecoderDecodeInstruction(&d, NULL, code, size, &in)) &&
	    in.mnemonic == ZYDIS_MNEMONIC_ENDBR64)
		skip = 4;
	p->site = func + skip;
	if (size < skip + CW_X86_JMP_LEN) {
		set_err(err, errlen, "function too short: %u bytes, the jump needs %u", (unsigned)size,
			skip + CW_X86_JMP_LEN);
		return -EINVAL;
	}
	/* whole instructions covering the 5 bytes of the jump */
	for (off = skip; off < skip + CW_X86_JMP_LEN;) {
		if (!ZYAN_SUCCESS(ZydisDecoderDecodeInstruction(&d, NULL, code + off, size - off, &in))) {
			set_err(err, errlen, "undecodable instruction at +0x%x", off);
			return -EINVAL;
		}
		if (p->ninsn >= CW_X86_MAX_INSNS)
			return -EINVAL;
		p->insn_off[p->ninsn++] = (uint8_t)(off - skip);
		if (in.mnemonic == ZYDIS_MNEMONIC_LOOP || in.mnemonic == ZYDIS_MNEMONIC_LOOPE ||
		    in.mnemonic == ZYDIS_MNEMONIC_LOOPNE || in.mnemonic == ZYDIS_MNEMONIC_JRCXZ ||
		    in.mnemonic == ZYDIS_MNEMONIC_JECXZ) {
			set_err(err, errlen, "loop/jrcxz at +0x%x in the patched bytes", off);
			return -EINVAL;
		}
		off += in.length;
		if (is_flow_end(&in) && off < skip + CW_X86_JMP_LEN) {
			set_err(err, errlen, "function too short: its first path ends at +0x%x, the jump needs %u bytes",
				off, skip + CW_X86_JMP_LEN);
			return -EINVAL;
		}
	}
	p->len = off - skip;
	memcpy(p->orig, code + skip, p->len);

	/* the whole body: decodable, and no relative branch into the patched bytes */
	for (off = 0; off < size;) {
		if (!ZYAN_SUCCESS(ZydisDecoderDecodeInstruction(&d, NULL, code + off, size - off, &in))) {
			set_err(err, errlen, "undecodable instruction at +0x%x", off);
			return -EINVAL;
		}
		if (is_rel_branch(&in)) {
			uint64_t target = func + off + in.length + (uint64_t)in.raw.imm[0].value.s;
			/* a call to the entry is a call (recursion); a jump there (a loop the compiler made of a
			 * tail call) would run the entry instrumentation without a call */
			int is_call = in.mnemonic == ZYDIS_MNEMONIC_CALL;
			if (is_call ? (target > p->site && target < p->site + p->len)
				    : (target >= func && target < p->site + p->len)) {
				set_err(err, errlen, "branch at +0x%x targets patched byte +0x%x", off,
					(unsigned)(target - func));
				return -EINVAL;
			}
		}
		off += in.length;
	}
	return 0;
}

size_t cw_x86_rel_branches(const uint8_t *code, size_t n, uint64_t addr, uint64_t *pairs, size_t cap)
{
	ZydisDecoder d;
	ZydisDecodedInstruction in;
	size_t nb = 0;
	decoder_init(&d);
	for (size_t off = 0; off < n;) {
		if (!ZYAN_SUCCESS(ZydisDecoderDecodeInstruction(&d, NULL, code + off, n - off, &in))) {
			off++; /* resynchronize: this is a heuristic scan of neighbors, not a proof */
			continue;
		}
		if (is_rel_branch(&in)) {
			if (nb < cap) {
				pairs[2 * nb] = addr + off;
				pairs[2 * nb + 1] = addr + off + in.length + (uint64_t)in.raw.imm[0].value.s;
			}
			nb++;
		}
		off += in.length;
	}
	return nb;
}

int cw_x86_relocate(const uint8_t *src, size_t n, uint64_t src_addr, uint8_t *out, size_t cap,
		    uint64_t out_addr, char *err, size_t errlen)
{
	ZydisDecoder d;
	ZydisDecodedInstruction in;
	struct cw_x86w w;
	size_t off;

	decoder_init(&d);
	cw_x86w_init(&w, out, cap, out_addr);
	for (off = 0; off < n; off += in.length) {
		uint64_t pc = src_addr + off;
		if (!ZYAN_SUCCESS(ZydisDecoderDecodeInstruction(&d, NULL, src + off, n - off, &in))) {
			set_err(err, errlen, "undecodable instruction at +0x%x", (unsigned)off);
			return -EINVAL;
		}
		uint64_t next = pc + in.length;
		if (is_rel_branch(&in)) {
			uint64_t target = next + (uint64_t)in.raw.imm[0].value.s;
			switch (in.mnemonic) {
			case ZYDIS_MNEMONIC_JMP:
				cw_x86w_jmp(&w, target);
				break;
			case ZYDIS_MNEMONIC_CALL:
				if (off + in.length == n) {
					/* the last displaced instruction: push the ORIGINAL return address and jump,
					 * so the callee returns into the function itself, where the unwinder finds
					 * its FDE and the call site's exception landing pad */
					cw_x86w_lea_rsp(&w, -8);
					uint8_t lo[] = { 0xc7, 0x04, 0x24 }, hi[] = { 0xc7, 0x44, 0x24, 0x04 };
					uint32_t l32 = (uint32_t)next, h32 = (uint32_t)(next >> 32);
					cw_x86w_bytes(&w, lo, 3);
					cw_x86w_bytes(&w, &l32, 4);
					cw_x86w_bytes(&w, hi, 4);
					cw_x86w_bytes(&w, &h32, 4);
					cw_x86w_jmp(&w, target);
				} else {
					/* the callee returns into the stub, which goes on with the next instruction */
					cw_x86w_call(&w, target);
				}
				break;
			case ZYDIS_MNEMONIC_JO: case ZYDIS_MNEMONIC_JNO: case ZYDIS_MNEMONIC_JB:
			case ZYDIS_MNEMONIC_JNB: case ZYDIS_MNEMONIC_JZ: case ZYDIS_MNEMONIC_JNZ:
			case ZYDIS_MNEMONIC_JBE: case ZYDIS_MNEMONIC_JNBE: case ZYDIS_MNEMONIC_JS:
			case ZYDIS_MNEMONIC_JNS: case ZYDIS_MNEMONIC_JP: case ZYDIS_MNEMONIC_JNP:
			case ZYDIS_MNEMONIC_JL: case ZYDIS_MNEMONIC_JNL: case ZYDIS_MNEMONIC_JLE:
			case ZYDIS_MNEMONIC_JNLE:
				/* the condition is the low nibble of 7x (rel8) or 0f 8x (rel32) */
				cw_x86w_jcc(&w, in.opcode & 0xf, target);
				break;
			default:
				set_err(err, errlen, "relative instruction at +0x%x cannot be relocated (opcode 0x%x)",
					(unsigned)off, in.opcode);
				return -EINVAL;
			}
		} else if (is_rip_relative(&in)) {
			uint8_t buf[ZYDIS_MAX_INSTRUCTION_LENGTH];
			uint64_t target = next + (uint64_t)in.raw.disp.value;
			int64_t disp = (int64_t)(target - (cw_x86w_pc(&w) + in.length));
			if (disp < INT32_MIN || disp > INT32_MAX) {
				set_err(err, errlen, "RIP-relative operand at +0x%x out of reach of the stub",
					(unsigned)off);
				return -ERANGE;
			}
			int32_t d32 = (int32_t)disp;
			memcpy(buf, src + off, in.length);
			memcpy(buf + in.raw.disp.offset, &d32, 4);
			cw_x86w_bytes(&w, buf, in.length);
		} else {
			cw_x86w_bytes(&w, src + off, in.length);
		}
		if (w.err == -ERANGE) {
			set_err(err, errlen, "branch at +0x%x out of reach of the stub", (unsigned)off);
			return -ERANGE;
		}
	}
	if (w.err) {
		set_err(err, errlen, "relocated code does not fit in %u bytes", (unsigned)cap);
		return w.err;
	}
	return (int)w.len;
}

int cw_x86_stub_build(const struct cw_x86_patch *p, uint32_t id, uint64_t entry, uint8_t *out, size_t cap,
		      uint64_t out_addr, char *err, size_t errlen)
{
	struct cw_x86w w;
	uint64_t slot;
	int r;

	if (id > INT32_MAX)
		return -EINVAL; /* push imm32 sign-extends */
	/* where the .quad goes: after the code, 8-aligned; computed first so the call can reference it */
	uint8_t reloc[64];
	r = cw_x86_relocate(p->orig, p->len, p->site, reloc, sizeof(reloc), out_addr + CW_X86_STUB_ORIG_OFF, err,
			    errlen);
	if (r < 0)
		return r;
	slot = (out_addr + CW_X86_STUB_ORIG_OFF + (uint64_t)r + CW_X86_JMP_LEN + 7) & ~7ull;

	cw_x86w_init(&w, out, cap, out_addr);
	cw_x86w_push_imm32(&w, id);
	cw_x86w_jmp_rip_ind(&w, slot);
	for (int i = 0; i < 5; i++)
		cw_x86w_bytes(&w, (const uint8_t[]){ CW_X86_INT3 }, 1);
	_Static_assert(CW_X86_STUB_ORIG_OFF == 16, "push imm32 (5) + jmp *rel32(%rip) (6) + 5 bytes of int3");
	cw_x86w_bytes(&w, reloc, (size_t)r);
	cw_x86w_jmp(&w, p->site + p->len);
	cw_x86w_align(&w, 8, CW_X86_INT3);
	cw_x86w_bytes(&w, &entry, 8);
	if (w.err) {
		set_err(err, errlen, "stub: %s", w.err == -ERANGE ? "jump back out of reach" : "too long");
		return w.err;
	}
	return (int)w.len;
}

int cw_x86_site_jump(uint64_t site, uint64_t stub, uint8_t out[CW_X86_JMP_LEN])
{
	struct cw_x86w w;
	cw_x86w_init(&w, out, CW_X86_JMP_LEN, site);
	cw_x86w_jmp(&w, stub);
	return w.err;
}
