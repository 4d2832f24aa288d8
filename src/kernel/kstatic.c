/* Static callees of a kernel function from its live text in /proc/kcore, decoded with Zydis. */
#include "kernel/kstatic.h"
#include "util/util.h"

#include <Zydis/Zydis.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_FUNC_BYTES (64 * 1024)

/* Reads LEN bytes of kernel memory at ADDR through kcore's PT_LOAD segments. 0 or -errno. */
static int kcore_read(int fd, uint64_t addr, void *buf, size_t len)
{
	Elf64_Ehdr eh;
	if (pread(fd, &eh, sizeof(eh), 0) != sizeof(eh) || memcmp(eh.e_ident, ELFMAG, SELFMAG) ||
	    eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_phentsize != sizeof(Elf64_Phdr))
		return -ENOTSUP;
	for (int i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;
		if (pread(fd, &ph, sizeof(ph), eh.e_phoff + (uint64_t)i * sizeof(ph)) != sizeof(ph))
			return -EIO;
		if (ph.p_type != PT_LOAD || addr < ph.p_vaddr || addr + len > ph.p_vaddr + ph.p_memsz)
			continue;
		ssize_t r = pread(fd, buf, len, ph.p_offset + (addr - ph.p_vaddr));
		return r == (ssize_t)len ? 0 : -EIO;
	}
	return -ERANGE;
}

int cw_kernel_static_callees(struct cw_syms *syms, const char *func, struct cw_kcallsite **out, size_t *n)
{
	uint64_t start, size;
	uint8_t *code = NULL;
	struct cw_kcallsite *v = NULL;
	size_t cnt = 0, cap = 0;
	ZydisDecoder dec;
	int fd = -1, err;

	*out = NULL;
	*n = 0;
	if ((err = cw_syms_kernel_find(syms, func, &start, &size)))
		return err;
	if (!size || size > MAX_FUNC_BYTES)
		size = size ? MAX_FUNC_BYTES : 4096;
	fd = open("/proc/kcore", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -ENOTSUP;
	code = cw_malloc(size);
	if ((err = kcore_read(fd, start, code, size)))
		goto out;
	ZydisDecoderInit(&dec, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
	for (uint64_t off = 0; off < size;) {
		ZydisDecodedInstruction in;
		ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
		if (ZYAN_FAILED(ZydisDecoderDecodeFull(&dec, code + off, size - off, &in, ops))) {
			off++; /* padding or data: resynchronize */
			continue;
		}
		uint64_t pc = start + off;
		off += in.length;
		bool call = in.mnemonic == ZYDIS_MNEMONIC_CALL, jmp = in.mnemonic == ZYDIS_MNEMONIC_JMP;
		if (!call && !jmp)
			continue;
		struct cw_kcallsite s = { .addr = pc, .tail = jmp };
		if (ops[0].type == ZYDIS_OPERAND_TYPE_IMMEDIATE && ops[0].imm.is_relative) {
			ZyanU64 t;
			if (ZYAN_FAILED(ZydisCalcAbsoluteAddress(&in, &ops[0], pc, &t)))
				continue;
			if (jmp && t >= start && t < start + size)
				continue; /* a branch inside the function */
			struct cw_sym sym;
			s.target = t;
			if (!cw_syms_kernel(syms, t, &sym) && sym.name) {
				if (jmp && sym.offset)
					continue; /* into the middle of another function: not a tail call */
				/* return thunks (retbleed/SRSO mitigations) are how the function returns */
				if (!strncmp(sym.name, "__x86_return_thunk", 18) || !strncmp(sym.name, "srso_", 5) ||
				    !strncmp(sym.name, "retbleed_", 9) || !strncmp(sym.name, "zen_untrain_ret", 15))
					continue;
				s.callee = sym.name;
				/* retpolines: an indirect call compiled as a call to a thunk */
				if (!strncmp(sym.name, "__x86_indirect_thunk_", 21) ||
				    !strncmp(sym.name, "__x86_indirect_call_thunk_", 26)) {
					s.indirect = true;
					s.callee = NULL;
					s.target = 0;
				}
				/* the entry's patched fentry site calls the ftrace or BPF trampoline */
				if (pc == start || (pc < start + 16 && (!strncmp(sym.name, "__fentry__", 10) ||
									!strncmp(sym.name, "ftrace_", 7))))
					continue;
			} else if (pc < start + 16) {
				continue; /* a call from the entry into a trampoline outside kallsyms */
			}
		} else {
			if (jmp)
				continue; /* jump tables */
			s.indirect = true;
		}
		if (cnt == cap)
			v = cw_realloc(v, (cap = cap * 2 + 16) * sizeof(*v));
		v[cnt++] = s;
	}
	*out = v;
	*n = cnt;
	v = NULL;
out:
	free(v);
	free(code);
	close(fd);
	return err;
}
