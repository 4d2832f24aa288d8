/* Unwind tables from .eh_frame: turn an object's call frame information into the flat rows the BPF
 * unwinder evaluates (CFA = rsp/rbp + offset, where the caller's rbp is saved), as the OpenTelemetry eBPF
 * profiler does. libdw evaluates the CFI; .eh_frame_hdr gives the FDE starts in sorted order. */
#include "unwind/unwind.h"
#include "util/util.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DW_REG_RBP 6
#define DW_REG_RSP 7
#define DW_REG_RA 16

struct builder {
	struct cw_uw_row *rows;
	size_t n, cap;
};

static void push(struct builder *b, const struct cw_uw_row *r)
{
	if (b->n) {
		struct cw_uw_row *last = &b->rows[b->n - 1];
		if (last->pc == r->pc) { /* a later rule for the same pc wins */
			*last = *r;
			goto merge;
		}
		if (last->cfa == r->cfa && last->rbp == r->rbp && last->cfa_off == r->cfa_off &&
		    last->rbp_off == r->rbp_off)
			return; /* same rule continues */
	}
	if (b->n == b->cap)
		b->rows = cw_realloc(b->rows, (b->cap = b->cap ? b->cap * 2 : 1024) * sizeof(*r));
	b->rows[b->n++] = *r;
	return;
merge:
	/* after overwriting, the previous row may now equal this one */
	if (b->n >= 2) {
		struct cw_uw_row *p = &b->rows[b->n - 2], *l = &b->rows[b->n - 1];
		if (p->cfa == l->cfa && p->rbp == l->rbp && p->cfa_off == l->cfa_off && p->rbp_off == l->rbp_off)
			b->n--;
	}
}

/* Reads an encoded pointer of .eh_frame_hdr; only the encodings compilers emit there are accepted. */
static int read_enc(const unsigned char **p, const unsigned char *end, unsigned enc, uint64_t here,
		    uint64_t datarel, int64_t *out)
{
	int64_t v;
	if (enc == 0xff)
		return -EINVAL;
	switch (enc & 0x0f) {
	case 0x03: if (*p + 4 > end) return -EINVAL; { uint32_t x; memcpy(&x, *p, 4); v = x; } *p += 4; break;
	case 0x0b: if (*p + 4 > end) return -EINVAL; { int32_t x; memcpy(&x, *p, 4); v = x; } *p += 4; break;
	case 0x04: case 0x0c: if (*p + 8 > end) return -EINVAL; memcpy(&v, *p, 8); *p += 8; break;
	default: return -ENOTSUP;
	}
	switch (enc & 0x70) {
	case 0x00: break;
	case 0x10: v += (int64_t)here; break;
	case 0x30: v += (int64_t)datarel; break;
	default: return -ENOTSUP;
	}
	*out = v;
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* FDE start addresses from .eh_frame_hdr's binary search table. */
static int fde_starts(Elf *elf, uint64_t **out, size_t *nout)
{
	size_t shstrndx;
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;
	Elf_Data *d = NULL;
	uint64_t hdr_addr = 0;

	if (elf_getshdrstrndx(elf, &shstrndx) < 0)
		return -EINVAL;
	while ((scn = elf_nextscn(elf, scn))) {
		if (!gelf_getshdr(scn, &sh))
			continue;
		const char *name = elf_strptr(elf, shstrndx, sh.sh_name);
		if (name && !strcmp(name, ".eh_frame_hdr") && sh.sh_type != SHT_NOBITS) {
			d = elf_getdata(scn, NULL);
			hdr_addr = sh.sh_addr;
			break;
		}
	}
	if (!d || !d->d_buf || d->d_size < 4)
		return -ENOENT;
	const unsigned char *base = d->d_buf, *p = base + 4, *end = base + d->d_size;
	if (base[0] != 1)
		return -ENOTSUP;
	int64_t ehptr, count;
	if (read_enc(&p, end, base[1], hdr_addr + 4, hdr_addr, &ehptr) < 0 ||
	    read_enc(&p, end, base[2], hdr_addr + (p - base), hdr_addr, &count) < 0)
		return -EINVAL;
	if (count < 0 || (size_t)count > d->d_size / 8)
		return -EINVAL;
	uint64_t *v = cw_malloc((count + 1) * sizeof(*v));
	size_t n = 0;
	for (int64_t i = 0; i < count; i++) {
		int64_t loc, fde;
		if (read_enc(&p, end, base[3], hdr_addr + (p - base), hdr_addr, &loc) < 0 ||
		    read_enc(&p, end, base[3], hdr_addr + (p - base), hdr_addr, &fde) < 0) {
			free(v);
			return -EINVAL;
		}
		v[n++] = (uint64_t)loc;
	}
	qsort(v, n, sizeof(*v), cmp_u64);
	*out = v;
	*nout = n;
	return 0;
}

/* Is VADDR inside a PLT section (whose CFI is the psABI's expression)? */
static bool in_plt(Elf *elf, uint64_t vaddr)
{
	size_t shstrndx;
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;
	if (elf_getshdrstrndx(elf, &shstrndx) < 0)
		return false;
	while ((scn = elf_nextscn(elf, scn))) {
		if (!gelf_getshdr(scn, &sh) || vaddr < sh.sh_addr || vaddr >= sh.sh_addr + sh.sh_size)
			continue;
		const char *name = elf_strptr(elf, shstrndx, sh.sh_name);
		return name && !strncmp(name, ".plt", 4);
	}
	return false;
}

/* Offset N of a rule "saved at CFA+N": libdw gives DW_OP_call_frame_cfa [DW_OP_consts N DW_OP_plus |
 * DW_OP_plus_uconst N]. Returns false for anything else (val_offset, expressions). */
static bool cfa_relative(const Dwarf_Op *ops, size_t n, int32_t *off)
{
	if (n < 1 || ops[0].atom != DW_OP_call_frame_cfa)
		return false;
	if (n == 1) {
		*off = 0;
		return true;
	}
	if (n == 2 && ops[1].atom == DW_OP_plus_uconst) {
		*off = (int32_t)ops[1].number;
		return true;
	}
	if (n == 3 && (ops[1].atom == DW_OP_consts || ops[1].atom == DW_OP_constu) && ops[2].atom == DW_OP_plus) {
		*off = (int32_t)(int64_t)ops[1].number;
		return true;
	}
	return false;
}

static void frame_row(Elf *elf, Dwarf_Frame *fr, uint64_t pc, struct cw_uw_row *r)
{
	Dwarf_Op *ops, mem[3];
	size_t n;
	int32_t off;

	memset(r, 0, sizeof(*r));
	r->pc = (uint32_t)pc;
	/* return address: undefined marks the outermost frame */
	if (dwarf_frame_register(fr, DW_REG_RA, mem, &ops, &n) == 0 && n == 0 && ops == mem) {
		r->cfa = CW_UW_OUTERMOST;
		return;
	}
	if (dwarf_frame_cfa(fr, &ops, &n) != 0) {
		r->cfa = CW_UW_NONE;
		return;
	}
	/* libdw hands def_cfa(reg, off) over as DW_OP_bregx reg off (or DW_OP_bregN off) */
	if (n == 1 && ops[0].atom == DW_OP_bregx && (ops[0].number == DW_REG_RSP || ops[0].number == DW_REG_RBP)) {
		r->cfa = ops[0].number == DW_REG_RSP ? CW_UW_RSP : CW_UW_RBP;
		r->cfa_off = (int32_t)(int64_t)ops[0].number2;
	} else if (n == 1 && (ops[0].atom == DW_OP_breg7 || ops[0].atom == DW_OP_breg6)) {
		r->cfa = ops[0].atom == DW_OP_breg7 ? CW_UW_RSP : CW_UW_RBP;
		r->cfa_off = (int32_t)(int64_t)ops[0].number;
	} else if (in_plt(elf, pc)) {
		r->cfa = CW_UW_PLT;
	} else {
		r->cfa = CW_UW_NONE;
		return;
	}
	if (dwarf_frame_register(fr, DW_REG_RBP, mem, &ops, &n) == 0 && n > 0 &&
	    ops[n - 1].atom != DW_OP_stack_value && cfa_relative(ops, n, &off)) {
		r->rbp = CW_UW_RBP_AT;
		r->rbp_off = off;
	}
}

static int build_elf(Elf *elf, struct cw_uw_table *t)
{
	Dwarf_CFI *cfi = dwarf_getcfi_elf(elf);
	uint64_t *starts = NULL;
	size_t nstarts = 0;
	struct builder b = { 0 };
	int err;

	if (!cfi)
		return -ENOENT;
	err = fde_starts(elf, &starts, &nstarts);
	if (err)
		goto out;
	for (size_t i = 0; i < nstarts; i++) {
		uint64_t addr = starts[i], limit = i + 1 < nstarts ? starts[i + 1] : UINT64_MAX;
		if (i && starts[i] == starts[i - 1])
			continue;
		if (addr > UINT32_MAX)
			break;
		while (addr < limit) {
			Dwarf_Frame *fr = NULL;
			Dwarf_Addr s, e;
			bool sig;
			struct cw_uw_row r;
			if (dwarf_cfi_addrframe(cfi, addr, &fr) != 0)
				break;
			if (dwarf_frame_info(fr, &s, &e, &sig) < 0 || e <= addr) {
				free(fr);
				break;
			}
			frame_row(elf, fr, addr, &r);
			free(fr);
			push(&b, &r);
			addr = e;
		}
		/* the gap up to the next FDE (or the end) has no unwind info */
		if (addr <= UINT32_MAX && (i + 1 == nstarts || addr < limit)) {
			struct cw_uw_row r = { .pc = (uint32_t)addr, .cfa = CW_UW_NONE };
			push(&b, &r);
		}
	}
	t->rows = b.rows;
	t->n = b.n;
	b.rows = NULL;
	err = t->n ? 0 : -ENOENT;
out:
	free(b.rows);
	free(starts);
	dwarf_cfi_end(cfi);
	return err;
}

int cw_uw_table_build(const char *path, const void *mem, size_t len, struct cw_uw_table *t)
{
	int fd = -1, err;
	Elf *elf;

	memset(t, 0, sizeof(*t));
	elf_version(EV_CURRENT);
	if (mem) {
		elf = elf_memory((char *)mem, len);
	} else {
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return -errno;
		elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	}
	if (!elf || elf_kind(elf) != ELF_K_ELF) {
		err = -ENOEXEC;
		goto out;
	}
	err = build_elf(elf, t);
out:
	elf_end(elf);
	if (fd >= 0)
		close(fd);
	return err;
}

void cw_uw_table_free(struct cw_uw_table *t)
{
	if (!t)
		return;
	free(t->rows);
	t->rows = NULL;
	t->n = 0;
}

const struct cw_uw_row *cw_uw_table_find(const struct cw_uw_table *t, __u32 pc)
{
	size_t lo = 0, hi = t->n;
	if (!t->n || pc < t->rows[0].pc)
		return NULL;
	while (hi - lo > 1) {
		size_t mid = (lo + hi) / 2;
		if (t->rows[mid].pc <= pc)
			lo = mid;
		else
			hi = mid;
	}
	return &t->rows[lo];
}
