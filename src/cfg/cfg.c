/* The static call graph of one x86-64 ELF object: each function decoded by a linear sweep (Zydis) over
 * its extent, on first use; call, tail-call, PLT/GOT import, indirect and syscall sites; the callers index. */
#include "cfg/cfg_int.h"
#include "util/util.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* How far back the syscall-number and switch scans look, in instructions of the same basic block. */
#define SCAN_BACK 12

struct cw_cfg *cw_cfg_new(struct cw_syms *syms)
{
	struct cw_cfg *g = cw_calloc(1, sizeof(*g));
	g->syms = syms ? syms : cw_syms_new();
	g->own_syms = !syms;
	ZydisDecoderInit(&g->dec, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
	elf_version(EV_CURRENT);
	return g;
}

static void obj_free(struct cw_cfg_obj *o)
{
	for (size_t i = 0; o->fs && i < o->nfuncs; i++)
		free(o->fs[i].sites);
	free(o->fs);
	free(o->rel);
	free(o->exports);
	free(o->needed);
	free(o->segs);
	free(o->callers);
	free(o->caller_tgt);
	free(o->imports);
	if (o->elf)
		elf_end(o->elf);
	if (o->fd >= 0)
		close(o->fd);
	free(o->path);
	free(o);
}

void cw_cfg_free(struct cw_cfg *g)
{
	if (!g)
		return;
	for (struct cw_cfg_obj *o = g->objs, *n; o; o = n) {
		n = o->next;
		obj_free(o);
	}
	if (g->own_syms)
		cw_syms_free(g->syms);
	free(g);
}

struct cw_syms *cw_cfg_syms(struct cw_cfg *g)
{
	return g->syms;
}

/* ---- loading: segments, relocations of GOT slots, dynamic section ---- */

static int rel_cmp(const void *a, const void *b)
{
	const struct cfg_rel *x = a, *y = b;
	return x->slot < y->slot ? -1 : x->slot > y->slot;
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* GOT slots that the dynamic linker fills: JUMP_SLOT/GLOB_DAT with their symbol, IRELATIVE with the
 * resolver's address. */
static void load_rels(struct cw_cfg_obj *o)
{
	Elf_Scn *scn = NULL;
	size_t cap = 0;
	GElf_Shdr sh, lsh;
	while ((scn = elf_nextscn(o->elf, scn))) {
		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_RELA)
			continue;
		Elf_Scn *lscn = elf_getscn(o->elf, sh.sh_link);
		Elf_Data *d = elf_getdata(scn, NULL), *ld = lscn ? elf_getdata(lscn, NULL) : NULL;
		if (!d || !lscn || !gelf_getshdr(lscn, &lsh) || lsh.sh_type != SHT_DYNSYM)
			continue;
		size_t esz = gelf_fsize(o->elf, ELF_T_RELA, 1, EV_CURRENT), n = esz ? d->d_size / esz : 0;
		for (size_t i = 0; i < n; i++) {
			GElf_Rela r;
			GElf_Sym sym;
			if (!gelf_getrela(d, i, &r))
				break;
			uint32_t type = GELF_R_TYPE(r.r_info);
			const char *name = NULL;
			if (type == R_X86_64_JUMP_SLOT || type == R_X86_64_GLOB_DAT) {
				if (!ld || !gelf_getsym(ld, GELF_R_SYM(r.r_info), &sym) ||
				    !(name = elf_strptr(o->elf, lsh.sh_link, sym.st_name)) || !*name)
					continue;
			} else if (type != R_X86_64_IRELATIVE) {
				continue;
			}
			if (o->nrel == cap) {
				cap = cap ? 2 * cap : 256;
				o->rel = cw_realloc(o->rel, cap * sizeof(*o->rel));
			}
			o->rel[o->nrel++] = (struct cfg_rel){ r.r_offset, (uint64_t)r.r_addend, name, type };
		}
	}
	qsort(o->rel, o->nrel, sizeof(*o->rel), rel_cmp);
}

/* The PLT sections: a jump into one that is not a stub's GOT jump is lazy binding's jump to .plt[0]. */
static void load_plt(struct cw_cfg_obj *o)
{
	static const char *const names[] = { ".plt", ".plt.sec", ".plt.got" };
	size_t shstrndx;
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;
	if (elf_getshdrstrndx(o->elf, &shstrndx))
		return;
	while ((scn = elf_nextscn(o->elf, scn))) {
		const char *n;
		if (!gelf_getshdr(scn, &sh) || !(n = elf_strptr(o->elf, shstrndx, sh.sh_name)))
			continue;
		for (size_t i = 0; i < 3; i++)
			if (!strcmp(n, names[i])) {
				o->plt[i][0] = sh.sh_addr;
				o->plt[i][1] = sh.sh_addr + sh.sh_size;
			}
	}
}

bool cw_cfg_in_plt(const struct cw_cfg_obj *o, uint64_t v)
{
	for (size_t i = 0; i < 3; i++)
		if (v >= o->plt[i][0] && v < o->plt[i][1])
			return true;
	return false;
}

/* DT_NEEDED, DT_SONAME, DT_RUNPATH/DT_RPATH: for scopes. Exported functions of .dynsym: for resolving. */
static void load_dynamic(struct cw_cfg_obj *o)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;
	while ((scn = elf_nextscn(o->elf, scn))) {
		if (!gelf_getshdr(scn, &sh))
			continue;
		Elf_Data *d = elf_getdata(scn, NULL);
		size_t esz;
		if (!d)
			continue;
		/* the first of each: a crafted file may have several */
		if (sh.sh_type == SHT_DYNAMIC && !o->needed && (esz = gelf_fsize(o->elf, ELF_T_DYN, 1, EV_CURRENT))) {
			size_t n = d->d_size / esz;
			o->needed = cw_calloc(n + 1, sizeof(*o->needed));
			for (size_t i = 0; i < n; i++) {
				GElf_Dyn dyn;
				if (!gelf_getdyn(d, i, &dyn) || dyn.d_tag == DT_NULL)
					break;
				const char *s = elf_strptr(o->elf, sh.sh_link, dyn.d_un.d_val);
				if (!s)
					continue;
				if (dyn.d_tag == DT_NEEDED)
					o->needed[o->nneeded++] = s;
				else if (dyn.d_tag == DT_SONAME)
					o->soname = s;
				else if (dyn.d_tag == DT_RUNPATH)
					o->runpath = s;
				else if (dyn.d_tag == DT_RPATH)
					o->rpath = s;
			}
		} else if (sh.sh_type == SHT_DYNSYM && !o->exports && (esz = gelf_fsize(o->elf, ELF_T_SYM, 1, EV_CURRENT))) {
			size_t n = d->d_size / esz;
			o->exports = cw_calloc(n, sizeof(*o->exports));
			for (size_t i = 1; i < n; i++) {
				GElf_Sym sym;
				if (!gelf_getsym(d, i, &sym))
					break;
				int type = GELF_ST_TYPE(sym.st_info), bind = GELF_ST_BIND(sym.st_info);
				if ((type != STT_FUNC && type != STT_GNU_IFUNC) || sym.st_shndx == SHN_UNDEF ||
				    (bind != STB_GLOBAL && bind != STB_WEAK))
					continue;
				const char *s = elf_strptr(o->elf, sh.sh_link, sym.st_name);
				if (s && *s)
					o->exports[o->nexports++] = s;
			}
			qsort(o->exports, o->nexports, sizeof(*o->exports), str_cmp);
		}
	}
}

static int load_segs(struct cw_cfg_obj *o)
{
	size_t n;
	if (elf_getphdrnum(o->elf, &n))
		return -ENOEXEC;
	o->segs = cw_calloc(n ? n : 1, sizeof(*o->segs));
	for (size_t i = 0; i < n; i++) {
		GElf_Phdr ph;
		if (!gelf_getphdr(o->elf, i, &ph) || ph.p_type != PT_LOAD)
			continue;
		o->segs[o->nsegs++] = (struct cfg_seg){ ph.p_offset, ph.p_filesz, ph.p_vaddr, ph.p_memsz,
							!!(ph.p_flags & PF_X) };
	}
	return 0;
}

/* Code bytes at ELF vaddr V of an executable segment, and how many follow in the file. */
const uint8_t *cw_cfg_code(const struct cw_cfg_obj *o, uint64_t v, size_t *avail)
{
	for (size_t i = 0; i < o->nsegs; i++) {
		const struct cfg_seg *s = &o->segs[i];
		if (!s->exec || v < s->vaddr || v - s->vaddr >= s->filesz)
			continue;
		uint64_t off = s->off + (v - s->vaddr), end = s->off + s->filesz;
		if (end > o->rawlen || off >= end)
			return NULL;
		*avail = end - off;
		return o->raw + off;
	}
	return NULL;
}

static int obj_load(struct cw_cfg *g, struct cw_cfg_obj *o)
{
	GElf_Ehdr eh;
	int err;
	o->fd = open(o->path, O_RDONLY | O_CLOEXEC);
	if (o->fd < 0)
		return -errno;
	o->elf = elf_begin(o->fd, ELF_C_READ_MMAP, NULL);
	if (!o->elf || elf_kind(o->elf) != ELF_K_ELF || !gelf_getehdr(o->elf, &eh) ||
	    eh.e_machine != EM_X86_64 || gelf_getclass(o->elf) != ELFCLASS64)
		return -ENOEXEC;
	o->entry = eh.e_entry;
	o->raw = (const uint8_t *)elf_rawfile(o->elf, &o->rawlen);
	if (!o->raw || (err = load_segs(o)))
		return -ENOEXEC;
	err = cw_syms_funcs(g->syms, o->path, &o->funcs, &o->nfuncs);
	if (err)
		return err;
	o->fs = cw_calloc(o->nfuncs ? o->nfuncs : 1, sizeof(*o->fs));
	load_rels(o);
	load_dynamic(o);
	load_plt(o);
	const char *sl = strrchr(o->path, '/');
	o->base = sl ? sl + 1 : o->path;
	return 0;
}

int cw_cfg_open(struct cw_cfg *g, const char *path, struct cw_cfg_obj **out)
{
	char real[4096];
	struct stat st;
	*out = NULL;
	if (!realpath(path, real) || stat(real, &st))
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -ENOEXEC; /* a DT_NEEDED of /dev/zero must not be read */
	for (struct cw_cfg_obj *o = g->objs; o; o = o->next)
		if (o->dev == st.st_dev && o->ino == st.st_ino && !strcmp(o->path, real)) {
			*out = o;
			return o->err;
		}
	struct cw_cfg_obj *o = cw_calloc(1, sizeof(*o));
	o->g = g;
	o->fd = -1;
	o->path = cw_strdup(real);
	o->dev = st.st_dev;
	o->ino = st.st_ino;
	o->err = obj_load(g, o);
	if (o->err)
		cw_dbg("%s: cannot build its call graph: %s", real, strerror(-o->err));
	o->next = g->objs;
	g->objs = o;
	*out = o;
	return o->err;
}

const char *cw_cfg_obj_path(const struct cw_cfg_obj *o)
{
	return o->path;
}

const char *cw_cfg_obj_soname(const struct cw_cfg_obj *o)
{
	return o->soname ? o->soname : o->base;
}

/* ---- function lookup ---- */

/* Index of the last function starting at or before V; -1 when none. */
static ssize_t func_idx_le(const struct cw_cfg_obj *o, uint64_t v)
{
	size_t lo = 0, hi = o->nfuncs;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (o->funcs[mid].start <= v)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (ssize_t)lo - 1;
}

ssize_t cw_cfg_func_idx(const struct cw_cfg_obj *o, uint64_t start)
{
	ssize_t i = func_idx_le(o, start);
	return i >= 0 && o->funcs[i].start == start ? i : -1;
}

static uint64_t exec_end(const struct cw_cfg_obj *o, uint64_t v)
{
	for (size_t i = 0; i < o->nsegs; i++)
		if (o->segs[i].exec && v >= o->segs[i].vaddr && v - o->segs[i].vaddr < o->segs[i].filesz)
			return o->segs[i].vaddr + o->segs[i].filesz;
	return v;
}

/* The extent of function I: its size, else up to the next function, never past its segment. */
static uint64_t func_end(const struct cw_cfg_obj *o, size_t i)
{
	const struct cw_func *f = &o->funcs[i];
	uint64_t lim = exec_end(o, f->start);
	uint64_t end = f->size ? f->start + f->size : i + 1 < o->nfuncs ? o->funcs[i + 1].start : lim;
	return end < lim ? end : lim;
}

int cw_cfg_func(struct cw_cfg_obj *o, const char *name, const struct cw_func **f)
{
	const struct cw_func *x;
	*f = NULL;
	if (o->err)
		return o->err;
	int err = cw_syms_find(o->g->syms, o->path, name, &x);
	if (err)
		return err;
	ssize_t i = cw_cfg_func_idx(o, x->start);
	if (i < 0)
		return -ENOENT;
	*f = &o->funcs[i];
	return 0;
}

int cw_cfg_func_at(struct cw_cfg_obj *o, uint64_t vaddr, const struct cw_func **f)
{
	*f = NULL;
	if (o->err)
		return o->err;
	ssize_t i = func_idx_le(o, vaddr);
	if (i < 0 || vaddr >= func_end(o, i))
		return -ENOENT;
	*f = &o->funcs[i];
	return 0;
}

/* ---- decoding ---- */

bool cw_cfg_is_part(const struct cw_func *f)
{
	const char *c = strstr(f->name, ".cold");
	return f->midframe || (c && (c[5] == 0 || c[5] == '.'));
}

static const struct cfg_rel *rel_at(const struct cw_cfg_obj *o, uint64_t slot)
{
	size_t lo = 0, hi = o->nrel;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (o->rel[mid].slot < slot)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < o->nrel && o->rel[lo].slot == slot ? &o->rel[lo] : NULL;
}

/* The GOT slot read by a `jmp/call *disp(%rip)`; 0 when the operand is something else. */
static uint64_t rip_slot(const ZydisDecodedInstruction *in, const ZydisDecodedOperand *op, uint64_t addr)
{
	if (op->type != ZYDIS_OPERAND_TYPE_MEMORY || op->mem.base != ZYDIS_REGISTER_RIP ||
	    op->mem.index != ZYDIS_REGISTER_NONE)
		return 0;
	return addr + in->length + op->mem.disp.value;
}

/* A PLT stub (.plt, .plt.sec, .plt.got, or any thunk of that shape) at V: [endbr64;] [bnd] jmp *GOT(%rip)
 * with a relocated slot. */
static const struct cfg_rel *stub_rel(struct cw_cfg_obj *o, uint64_t v)
{
	ZydisDecodedInstruction in;
	ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
	size_t avail;
	for (int k = 0; k < 2; k++) {
		const uint8_t *p = cw_cfg_code(o, v, &avail);
		if (!p || ZYAN_FAILED(ZydisDecoderDecodeFull(&o->g->dec, p, avail, &in, ops)))
			return NULL;
		if (in.mnemonic == ZYDIS_MNEMONIC_ENDBR64) {
			v += in.length;
			continue;
		}
		if (in.meta.category != ZYDIS_CATEGORY_UNCOND_BR)
			return NULL;
		uint64_t slot = rip_slot(&in, &ops[0], v);
		return slot ? rel_at(o, slot) : NULL;
	}
	return NULL;
}

struct sitevec {
	struct cw_site *v;
	size_t n, cap;
};

static struct cw_site *site_add(struct sitevec *sv)
{
	if (sv->n == sv->cap) {
		sv->cap = sv->cap ? 2 * sv->cap : 8;
		sv->v = cw_realloc(sv->v, sv->cap * sizeof(*sv->v));
	}
	struct cw_site *s = &sv->v[sv->n++];
	memset(s, 0, sizeof(*s));
	s->nr = -1;
	return s;
}

/* One decoded range: instruction starts, which of them transfer control, branch targets inside. */
struct sweep {
	uint64_t start, end;
	uint32_t *off;
	uint8_t *ctl;
	size_t n, cap;
	uint64_t *tg;
	size_t ntg, tgcap;
	/* jmp *%reg sites whose switch check waits for the end of the sweep (it needs every block start):
	 * pairs of (site index in the sitevec, instruction index) */
	size_t (*pend)[2];
	size_t npend, pendcap;
};

static int u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static bool is_target(const struct sweep *w, uint64_t v)
{
	return bsearch(&v, w->tg, w->ntg, sizeof(*w->tg), u64_cmp) != NULL;
}

enum { SCAN_UNKNOWN = -1, SCAN_SWITCH = -2 };

/* Scan back from instruction I of W, in its basic block, for the value written to REG (a 64-bit register):
 * `mov $N` or `xor reg,reg`, following register copies (glibc's futex wrappers: mov $202,%r8d ...
 * mov %r8d,%eax); with SWITCH set, instead look for a table load (a memory read with an index
 * register scaled by 4 or 8) that marks an indirect jmp as a switch. */
static long scan_back(struct cw_cfg_obj *o, const struct sweep *w, size_t i, ZydisRegister reg, bool sw)
{
	ZydisDecodedInstruction in;
	ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
	for (size_t k = 0; k < SCAN_BACK && i > 0; k++) {
		if (is_target(w, w->start + w->off[i]))
			break; /* I starts a block: what came before may not have run */
		i--;
		if (w->ctl[i])
			break;
		uint64_t a = w->start + w->off[i];
		size_t avail;
		const uint8_t *p = cw_cfg_code(o, a, &avail);
		if (!p || ZYAN_FAILED(ZydisDecoderDecodeFull(&o->g->dec, p, avail, &in, ops)))
			break;
		for (size_t j = 0; j < in.operand_count; j++) {
			const ZydisDecodedOperand *op = &ops[j];
			if (sw) {
				/* movslq (%rdx,%rax,4),%rax (gcc/clang -O2); lea 0(,%rax,4),%rdx then
				 * mov (%rdx,%rax,1),%eax (gcc -O0) */
				if (op->type == ZYDIS_OPERAND_TYPE_MEMORY && op->mem.index != ZYDIS_REGISTER_NONE &&
				    (in.mnemonic != ZYDIS_MNEMONIC_LEA || op->mem.scale >= 4))
					return SCAN_SWITCH;
				continue;
			}
			if (op->type != ZYDIS_OPERAND_TYPE_REGISTER || !(op->actions & ZYDIS_OPERAND_ACTION_MASK_WRITE) ||
			    ZydisRegisterGetLargestEnclosing(ZYDIS_MACHINE_MODE_LONG_64, op->reg.value) != reg)
				continue;
			/* only whole 32/64-bit writes define the value (mov $5,%al keeps the upper bits) */
			if (ZydisRegisterGetWidth(ZYDIS_MACHINE_MODE_LONG_64, op->reg.value) < 32)
				return SCAN_UNKNOWN;
			if (j == 0 && in.mnemonic == ZYDIS_MNEMONIC_MOV && ops[1].type == ZYDIS_OPERAND_TYPE_IMMEDIATE)
				return (long)ops[1].imm.value.u;
			if (j == 0 && in.mnemonic == ZYDIS_MNEMONIC_XOR && ops[1].type == ZYDIS_OPERAND_TYPE_REGISTER &&
			    ops[1].reg.value == op->reg.value)
				return 0;
			if (j == 0 && in.mnemonic == ZYDIS_MNEMONIC_MOV && ops[1].type == ZYDIS_OPERAND_TYPE_REGISTER &&
			    ZydisRegisterGetWidth(ZYDIS_MACHINE_MODE_LONG_64, ops[1].reg.value) >= 32) {
				reg = ZydisRegisterGetLargestEnclosing(ZYDIS_MACHINE_MODE_LONG_64, ops[1].reg.value);
				goto next; /* a copy: the value is the source's */
			}
			return SCAN_UNKNOWN;
		}
	next:;
	}
	return SCAN_UNKNOWN;
}

/* What a call or jump to the relative target T is. Fills S (kind, target, callee) and returns true when it
 * is a site; false when it is a branch inside the function or into a .cold part (then *COLD is its index). */
static bool classify_direct(struct cw_cfg_obj *o, const struct sweep *w, uint64_t t, bool call, struct cw_site *s,
			    ssize_t *cold)
{
	if (!call && t >= w->start && t < w->end)
		return false;
	const struct cfg_rel *r = stub_rel(o, t);
	if (r) {
		s->target = t;
		if (r->type == R_X86_64_IRELATIVE) {
			const struct cw_func *rf;
			s->kind = CW_SITE_INDIRECT;
			s->callee = cw_cfg_func_at(o, r->resolver, &rf) ? NULL : rf->name;
		} else {
			s->kind = CW_SITE_IMPORT;
			s->callee = r->name;
		}
		return true;
	}
	if (!call && cw_cfg_in_plt(o, t))
		return false; /* a lazy PLT stub's jump to .plt[0] (the resolver), not a call */
	ssize_t i = func_idx_le(o, t);
	if (i >= 0 && !call && cw_cfg_is_part(&o->funcs[i])) {
		*cold = i;
		return false;
	}
	if (!call && (i < 0 || o->funcs[i].start != t))
		return false; /* a jump into another function's body: shared code, not a call */
	s->kind = CW_SITE_CALL;
	s->target = t;
	s->callee = i >= 0 ? o->funcs[i].name : NULL;
	return true;
}

/* An indirect call or jmp: through a relocated GOT slot it is an import; a jmp through a table is a
 * switch (no site); anything else is an indirect site. */
static bool classify_indirect(struct cw_cfg_obj *o, const struct sweep *w, size_t idx,
			      const ZydisDecodedInstruction *in, const ZydisDecodedOperand *op, uint64_t a, bool call,
			      struct cw_site *s)
{
	uint64_t slot = rip_slot(in, op, a);
	const struct cfg_rel *r = slot ? rel_at(o, slot) : NULL;
	if (r && r->type != R_X86_64_IRELATIVE) {
		s->kind = CW_SITE_IMPORT;
		s->target = slot;
		s->callee = r->name;
		return true;
	}
	if (!call) {
		if (in->attributes & ZYDIS_ATTRIB_HAS_NOTRACK)
			return false; /* gcc -fcf-protection marks jump-table jumps notrack */
		if (op->type == ZYDIS_OPERAND_TYPE_MEMORY && op->mem.index != ZYDIS_REGISTER_NONE)
			return false;
		/* jmp *%reg: a switch when a table load precedes it in its block, checked by the sweep once
		 * every block start is known (a forward branch into the block is met only later) */
	}
	s->kind = CW_SITE_INDIRECT;
	s->target = slot;
	if (r) {
		const struct cw_func *rf;
		s->callee = cw_cfg_func_at(o, r->resolver, &rf) ? NULL : rf->name;
	}
	return true;
}

/* Linear sweep of [W->start, W->end): sites into SV. Returns false when an instruction did not decode. */
static bool sweep(struct cw_cfg_obj *o, struct sweep *w, struct sitevec *sv, bool in_cold, ssize_t *colds,
		  size_t *ncold, size_t maxcold, size_t *ninsns)
{
	size_t avail, first = sv->n;
	const uint8_t *p = cw_cfg_code(o, w->start, &avail);
	bool ok = true;
	if (!p)
		return false;
	uint64_t len = w->end - w->start < avail ? w->end - w->start : avail;
	ZydisDecoderContext ctx;
	ZydisDecodedInstruction in;
	ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
	w->n = w->ntg = 0;
	for (uint64_t off = 0; off < len;) {
		if (ZYAN_FAILED(ZydisDecoderDecodeInstruction(&o->g->dec, &ctx, p + off, len - off, &in))) {
			ok = false;
			break;
		}
		if (w->n == w->cap) {
			w->cap = w->cap ? 2 * w->cap : 256;
			w->off = cw_realloc(w->off, w->cap * sizeof(*w->off));
			w->ctl = cw_realloc(w->ctl, w->cap);
		}
		size_t idx = w->n++;
		w->off[idx] = (uint32_t)off;
		w->ctl[idx] = 0;
		uint64_t a = w->start + off;
		off += in.length;
		ZydisInstructionCategory cat = in.meta.category;
		/* a conditional jump to another function's start is a (conditional) tail call, as clang emits */
		bool call = cat == ZYDIS_CATEGORY_CALL, jmp = cat == ZYDIS_CATEGORY_UNCOND_BR,
		     cond = cat == ZYDIS_CATEGORY_COND_BR;
		if (in.mnemonic == ZYDIS_MNEMONIC_SYSCALL) {
			struct cw_site *s = site_add(sv);
			s->kind = CW_SITE_SYSCALL;
			s->addr = a;
			s->len = in.length;
			s->in_cold = in_cold;
			s->target = idx; /* the instruction index until the scan below */
			continue;
		}
		if (cat == ZYDIS_CATEGORY_RET || cat == ZYDIS_CATEGORY_SYSTEM || in.mnemonic == ZYDIS_MNEMONIC_UD2 ||
		    in.mnemonic == ZYDIS_MNEMONIC_HLT)
			w->ctl[idx] = 1;
		if (!call && !jmp && !cond)
			continue;
		w->ctl[idx] = 1;
		struct cw_site tmp = { .addr = a, .len = in.length, .tail = !call, .in_cold = in_cold, .nr = -1 };
		bool site, reg_jmp = false;
		ssize_t cold = -1;
		/* not ZYDIS_ATTRIB_IS_RELATIVE: that is also set for jmp *GOT(%rip), a memory operand */
		if (in.raw.imm[0].is_relative) {
			uint64_t t = a + in.length + (uint64_t)in.raw.imm[0].value.s;
			if (!call && t >= w->start && t < w->end) {
				if (w->ntg == w->tgcap) {
					w->tgcap = w->tgcap ? 2 * w->tgcap : 64;
					w->tg = cw_realloc(w->tg, w->tgcap * sizeof(*w->tg));
				}
				w->tg[w->ntg++] = t;
				continue;
			}
			site = classify_direct(o, w, t, call, &tmp, &cold);
		} else {
			if (ZYAN_FAILED(ZydisDecoderDecodeOperands(&o->g->dec, &ctx, &in, ops, in.operand_count_visible)))
				continue;
			site = classify_indirect(o, w, idx, &in, &ops[0], a, call, &tmp);
			reg_jmp = !call && ops[0].type == ZYDIS_OPERAND_TYPE_REGISTER;
		}
		if (site) {
			*site_add(sv) = tmp;
			if (tmp.kind == CW_SITE_INDIRECT && reg_jmp) {
				if (w->npend == w->pendcap) {
					w->pendcap = w->pendcap ? 2 * w->pendcap : 16;
					w->pend = cw_realloc(w->pend, w->pendcap * sizeof(*w->pend));
				}
				w->pend[w->npend][0] = sv->n - 1;
				w->pend[w->npend++][1] = idx;
			}
		} else if (cold >= 0 && *ncold < maxcold) {
			bool seen = false;
			for (size_t k = 0; k < *ncold; k++)
				seen |= colds[k] == cold;
			if (!seen)
				colds[(*ncold)++] = cold;
		}
	}
	*ninsns += w->n;
	qsort(w->tg, w->ntg, sizeof(*w->tg), u64_cmp);
	/* jmp *%reg after a table load in its block is a switch, not a site (last first: indices stay valid) */
	for (size_t k = w->npend; k > 0; k--) {
		size_t si = w->pend[k - 1][0];
		if (scan_back(o, w, w->pend[k - 1][1], ZYDIS_REGISTER_NONE, true) != SCAN_SWITCH)
			continue;
		memmove(&sv->v[si], &sv->v[si + 1], (sv->n - si - 1) * sizeof(*sv->v));
		sv->n--;
	}
	w->npend = 0;
	/* now that every block start is known: syscall numbers, and syscall()'s first argument */
	for (size_t k = first; k < sv->n; k++) {
		struct cw_site *s = &sv->v[k];
		if (s->kind == CW_SITE_SYSCALL) {
			size_t idx = (size_t)s->target;
			s->target = 0;
			long nr = scan_back(o, w, idx, ZYDIS_REGISTER_RAX, false);
			s->nr = nr >= 0 && nr <= 0xffff ? (int)nr : -1;
			s->callee = cw_syscall_name(s->nr);
			s->kentry = cw_syscall_kentry(s->nr);
		} else if (s->kind == CW_SITE_IMPORT && !strcmp(s->callee, "syscall")) {
			size_t lo = 0, hi = w->n;
			while (lo < hi) { /* the instruction index of the call */
				size_t mid = (lo + hi) / 2;
				if (w->start + w->off[mid] < s->addr)
					lo = mid + 1;
				else
					hi = mid;
			}
			long nr = lo < w->n ? scan_back(o, w, lo, ZYDIS_REGISTER_RDI, false) : SCAN_UNKNOWN;
			s->nr = nr >= 0 && nr <= 0xffff ? (int)nr : -1;
			s->kentry = cw_syscall_kentry(s->nr);
		}
	}
	return ok;
}

#define MAX_COLD 4

int cw_cfg_decode_idx(struct cw_cfg_obj *o, size_t i)
{
	struct cfg_fstate *fs = &o->fs[i];
	if (fs->done)
		return 0;
	struct sweep w = { 0 };
	struct sitevec sv = { 0 };
	ssize_t colds[MAX_COLD];
	size_t ncold = 0, ninsns = 0;
	w.start = o->funcs[i].start;
	w.end = func_end(o, i);
	fs->end = w.end;
	bool ok = sweep(o, &w, &sv, false, colds, &ncold, MAX_COLD, &ninsns);
	/* the .cold parts gcc splits off are this function's code: their sites are its sites */
	for (size_t k = 0; k < ncold; k++) {
		size_t dummy = ncold;
		w.start = o->funcs[colds[k]].start;
		w.end = func_end(o, colds[k]);
		ok &= sweep(o, &w, &sv, true, colds, &dummy, ncold, &ninsns);
	}
	free(w.off);
	free(w.ctl);
	free(w.tg);
	free(w.pend);
	fs->sites = sv.v;
	fs->n = sv.n;
	fs->ninsns = ninsns;
	fs->bad = !ok;
	fs->done = true;
	if (!ok)
		cw_dbg("%s: %s: decoding stopped at an undecodable instruction", o->base, o->funcs[i].name);
	return 0;
}

static int func_index(struct cw_cfg_obj *o, const struct cw_func *f, size_t *i)
{
	if (o->err)
		return o->err;
	ssize_t k = f ? cw_cfg_func_idx(o, f->start) : -1;
	if (k < 0)
		return -ENOENT;
	*i = k;
	return 0;
}

int cw_cfg_callees(struct cw_cfg_obj *o, const struct cw_func *f, const struct cw_site **sites, size_t *n)
{
	size_t i;
	int err = func_index(o, f, &i);
	if (err)
		return err;
	cw_cfg_decode_idx(o, i);
	*sites = o->fs[i].sites;
	*n = o->fs[i].n;
	return 0;
}

int cw_cfg_func_range(struct cw_cfg_obj *o, const struct cw_func *f, uint64_t *start, uint64_t *end)
{
	size_t i;
	int err = func_index(o, f, &i);
	if (err)
		return err;
	*start = o->funcs[i].start;
	*end = func_end(o, i);
	return cw_cfg_is_part(&o->funcs[i]) ? -EINVAL : 0;
}

int cw_cfg_decode_all(struct cw_cfg_obj *o, struct cw_cfg_stats *st)
{
	if (o->err)
		return o->err;
	struct cw_cfg_stats s = { .funcs = o->nfuncs };
	for (size_t i = 0; i < o->nfuncs; i++) {
		cw_cfg_decode_idx(o, i);
		if (cw_cfg_is_part(&o->funcs[i]))
			continue; /* its sites are counted with the function it belongs to */
		s.decoded++;
		s.insns += o->fs[i].ninsns;
		s.sites += o->fs[i].n;
		s.bad += o->fs[i].bad;
		for (size_t k = 0; k < o->fs[i].n; k++)
			s.syscalls += o->fs[i].sites[k].kind == CW_SITE_SYSCALL;
	}
	if (st)
		*st = s;
	return 0;
}

/* ---- callers ---- */

struct cref {
	uint64_t target;
	struct cw_caller c;
};

static int cref_cmp(const void *a, const void *b)
{
	const struct cref *x = a, *y = b;
	if (x->target != y->target)
		return x->target < y->target ? -1 : 1;
	return x->c.site->addr < y->c.site->addr ? -1 : x->c.site->addr > y->c.site->addr;
}

int cw_cfg_callers(struct cw_cfg_obj *o, const struct cw_func *f, const struct cw_caller **callers, size_t *n)
{
	size_t fi;
	int err = func_index(o, f, &fi);
	if (err)
		return err;
	if (!o->callers_built) {
		cw_cfg_decode_all(o, NULL);
		size_t cnt = 0, k = 0;
		/* a .cold part's sites are listed again with the function it belongs to, which is the caller */
		for (size_t i = 0; i < o->nfuncs; i++)
			for (size_t j = 0; j < o->fs[i].n && !cw_cfg_is_part(&o->funcs[i]); j++)
				cnt += o->fs[i].sites[j].kind == CW_SITE_CALL;
		struct cref *v = cw_calloc(cnt ? cnt : 1, sizeof(*v));
		for (size_t i = 0; i < o->nfuncs; i++)
			for (size_t j = 0; j < o->fs[i].n && !cw_cfg_is_part(&o->funcs[i]); j++)
				if (o->fs[i].sites[j].kind == CW_SITE_CALL)
					v[k++] = (struct cref){ o->fs[i].sites[j].target,
								{ &o->funcs[i], &o->fs[i].sites[j] } };
		qsort(v, cnt, sizeof(*v), cref_cmp);
		o->callers = cw_calloc(cnt ? cnt : 1, sizeof(*o->callers));
		o->caller_tgt = cw_calloc(cnt ? cnt : 1, sizeof(*o->caller_tgt));
		for (size_t j = 0; j < cnt; j++) {
			o->callers[j] = v[j].c;
			o->caller_tgt[j] = v[j].target;
		}
		o->ncallers = cnt;
		o->callers_built = true;
		free(v);
	}
	uint64_t t = o->funcs[fi].start;
	size_t lo = 0, hi = o->ncallers;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (o->caller_tgt[mid] < t)
			lo = mid + 1;
		else
			hi = mid;
	}
	size_t e = lo;
	while (e < o->ncallers && o->caller_tgt[e] == t)
		e++;
	*callers = o->callers + lo;
	*n = e - lo;
	return 0;
}
