/* ELF objects: function tables from .symtab (the object's or a separate debug file's), else .dynsym plus
 * function starts from .eh_frame; PLT stubs named from .rela.plt. Every read of the file is bounds-checked:
 * the input is untrusted (tests/fuzz/fuzz_sym.c). */
#include "sym/sym_int.h"
#include "util/util.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEBUG_ROOT "/usr/lib/debug"

/* ---- string arena ---- */

struct cw_arena_chunk {
	struct cw_arena_chunk *next;
	size_t used, cap;
	char data[];
};

static char *arena_alloc(struct cw_arena *a, size_t n)
{
	struct cw_arena_chunk *c = a->head;
	if (!c || c->cap - c->used < n) {
		size_t cap = n > 16384 ? n : 16384;
		c = cw_malloc(sizeof(*c) + cap);
		c->used = 0;
		c->cap = cap;
		c->next = a->head;
		a->head = c;
	}
	char *p = c->data + c->used;
	c->used += n;
	return p;
}

char *cw_arena_strdup(struct cw_arena *a, const char *s)
{
	size_t n = strlen(s) + 1;
	return memcpy(arena_alloc(a, n), s, n);
}

char *cw_arena_printf(struct cw_arena *a, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return cw_arena_strdup(a, buf);
}

void cw_arena_free(struct cw_arena *a)
{
	while (a->head) {
		struct cw_arena_chunk *c = a->head;
		a->head = c->next;
		free(c);
	}
}

/* ---- candidates: every function start any source knows, merged into the table at the end ---- */

struct cand {
	uint64_t start, size;
	const char *name; /* NULL: unnamed (an .eh_frame start) */
	int bind;	  /* 3 global, 2 weak, 1 local, 0 PLT/unnamed */
	bool midframe;	  /* an FDE whose first row's CFA is not rsp+8 (see struct cw_func) */
};

struct cands {
	struct cand *v;
	size_t n, cap;
};

static struct cand *cand_add(struct cands *c, uint64_t start, uint64_t size, const char *name, int bind)
{
	if (c->n == c->cap) {
		c->cap = c->cap ? 2 * c->cap : 1024;
		c->v = cw_realloc(c->v, c->cap * sizeof(*c->v));
	}
	c->v[c->n] = (struct cand){ start, size, name, bind, false };
	return &c->v[c->n++];
}

static size_t underscores(const char *s)
{
	size_t n = 0;
	while (s[n] == '_')
		n++;
	return n;
}

int cw_sym_name_prefer(const char *a, const char *b)
{
	size_t ua = underscores(a), ub = underscores(b);
	if (ua != ub)
		return ua < ub ? -1 : 1;
	size_t la = strlen(a), lb = strlen(b);
	if (la != lb)
		return la < lb ? -1 : 1;
	return strcmp(a, b);
}

/* Which of two names of one address to show: named over unnamed, global over weak over local, then the
 * name with fewer leading underscores ("read" over "__libc_read"), then the shorter. Negative: A wins. */
static int cand_better(const struct cand *a, const struct cand *b)
{
	if (!a->name != !b->name)
		return a->name ? -1 : 1;
	if (!a->name)
		return 0;
	if (a->bind != b->bind)
		return b->bind - a->bind;
	return cw_sym_name_prefer(a->name, b->name);
}

static int cand_cmp(const void *pa, const void *pb)
{
	const struct cand *a = pa, *b = pb;
	if (a->start != b->start)
		return a->start < b->start ? -1 : 1;
	return cand_better(a, b);
}

/* Unnamed last, then by name, then best first. */
static int cand_name_cmp(const void *pa, const void *pb)
{
	const struct cand *a = pa, *b = pb;
	if (!a->name || !b->name)
		return !a->name - !b->name;
	int d = strcmp(a->name, b->name);
	if (d)
		return d;
	if (a->bind != b->bind)
		return b->bind - a->bind;
	return a->start < b->start ? -1 : a->start > b->start;
}

static int func_name_cmp(const void *pa, const void *pb)
{
	const struct cw_func *a = pa, *b = pb;
	return strcmp(a->name, b->name);
}

/* ---- the ELF image ---- */

struct img {
	Elf *elf;
	const uint8_t *raw; /* whole file */
	size_t rawlen;
	GElf_Ehdr eh;
	size_t shstrndx;
	bool has_shstr;
};

static int img_open(struct img *im, int fd, void *buf, size_t len)
{
	memset(im, 0, sizeof(*im));
	im->elf = fd >= 0 ? elf_begin(fd, ELF_C_READ_MMAP, NULL) : elf_memory(buf, len);
	if (!im->elf)
		return -EINVAL;
	if (elf_kind(im->elf) != ELF_K_ELF || !gelf_getehdr(im->elf, &im->eh))
		return -ENOEXEC;
	if (im->eh.e_type != ET_EXEC && im->eh.e_type != ET_DYN)
		return -ENOEXEC;
	im->raw = (const uint8_t *)elf_rawfile(im->elf, &im->rawlen);
	if (!im->raw)
		im->rawlen = 0;
	im->has_shstr = elf_getshdrstrndx(im->elf, &im->shstrndx) == 0;
	return 0;
}

static void img_close(struct img *im)
{
	if (im->elf)
		elf_end(im->elf);
	im->elf = NULL;
}

static Elf_Scn *find_scn(struct img *im, const char *name, GElf_Shdr *sh)
{
	Elf_Scn *scn = NULL;
	if (!im->has_shstr)
		return NULL;
	while ((scn = elf_nextscn(im->elf, scn))) {
		if (!gelf_getshdr(scn, sh))
			continue;
		const char *n = elf_strptr(im->elf, im->shstrndx, sh->sh_name);
		if (n && !strcmp(n, name))
			return scn;
	}
	return NULL;
}

static Elf_Scn *find_scn_type(struct img *im, Elf64_Word type, GElf_Shdr *sh)
{
	Elf_Scn *scn = NULL;
	while ((scn = elf_nextscn(im->elf, scn)))
		if (gelf_getshdr(scn, sh) && sh->sh_type == type)
			return scn;
	return NULL;
}

static void load_segs(struct cw_obj *obj, struct img *im)
{
	size_t n;
	if (elf_getphdrnum(im->elf, &n))
		return;
	obj->segs = cw_calloc(n, sizeof(*obj->segs));
	for (size_t i = 0; i < n; i++) {
		GElf_Phdr ph;
		if (!gelf_getphdr(im->elf, i, &ph) || ph.p_type != PT_LOAD)
			continue;
		obj->segs[obj->nsegs++] = (struct cw_seg){ ph.p_offset, ph.p_filesz, ph.p_vaddr, ph.p_memsz,
							   !!(ph.p_flags & PF_X) };
	}
}

static bool in_exec(const struct cw_obj *obj, uint64_t v)
{
	for (size_t i = 0; i < obj->nsegs; i++)
		if (obj->segs[i].exec && v >= obj->segs[i].vaddr && v - obj->segs[i].vaddr < obj->segs[i].memsz)
			return true;
	return false;
}

/* Raw bytes of the image at ELF vaddr V, as many as the file segment holds after V. */
static const uint8_t *vaddr_bytes(const struct cw_obj *obj, struct img *im, uint64_t v, size_t *len)
{
	for (size_t i = 0; i < obj->nsegs; i++) {
		const struct cw_seg *s = &obj->segs[i];
		if (v < s->vaddr || v - s->vaddr >= s->filesz)
			continue;
		uint64_t off = s->off + (v - s->vaddr);
		uint64_t end = s->off + s->filesz;
		if (off >= im->rawlen || end > im->rawlen || end < off)
			return NULL;
		*len = end - off;
		return im->raw + off;
	}
	return NULL;
}

/* Symbols of one symbol table section (.symtab or .dynsym). Returns how many functions it had. */
static size_t add_syms(struct cands *c, struct cw_obj *obj, struct img *im, Elf_Scn *scn, GElf_Shdr *sh)
{
	Elf_Data *d = elf_getdata(scn, NULL);
	size_t esz = gelf_fsize(im->elf, ELF_T_SYM, 1, EV_CURRENT);
	size_t nfunc = 0;
	if (!d || !esz || !d->d_buf)
		return 0;
	size_t n = d->d_size / esz;
	for (size_t i = 1; i < n; i++) {
		GElf_Sym sym;
		if (!gelf_getsym(d, i, &sym))
			break;
		int type = GELF_ST_TYPE(sym.st_info), bind = GELF_ST_BIND(sym.st_info);
		if ((type != STT_FUNC && type != STT_GNU_IFUNC) || sym.st_shndx == SHN_UNDEF || !sym.st_value)
			continue;
		const char *name = elf_strptr(im->elf, sh->sh_link, sym.st_name);
		if (!name || !*name)
			continue;
		/* "memcpy@@GLIBC_2.14": the version is not part of the name callers look for */
		const char *at = strchr(name, '@');
		char *nm;
		if (at) {
			if (at == name)
				continue;
			nm = arena_alloc(&obj->strings, at - name + 1);
			memcpy(nm, name, at - name);
			nm[at - name] = 0;
		} else {
			nm = cw_arena_strdup(&obj->strings, name);
		}
		cand_add(c, sym.st_value, sym.st_size, nm, bind == STB_GLOBAL ? 3 : bind == STB_WEAK ? 2 : 1);
		nfunc++;
	}
	return nfunc;
}

/* PLT stubs: the I-th R_X86_64_JUMP_SLOT of .rela.plt goes with the I-th 16-byte stub of .plt.sec (IBT
 * layout), else with stub I+1 of .plt (stub 0 is the resolver trampoline). */
static void add_plt(struct cands *c, struct cw_obj *obj, struct img *im)
{
	GElf_Shdr rsh, psh, dsh;
	Elf_Scn *rscn = find_scn(im, ".rela.plt", &rsh);
	uint64_t first;
	if (im->eh.e_machine != EM_X86_64 || !rscn || rsh.sh_type != SHT_RELA)
		return;
	Elf_Scn *pscn = find_scn(im, ".plt.sec", &psh);
	if (pscn)
		first = 0;
	else if ((pscn = find_scn(im, ".plt", &psh)))
		first = 1;
	else
		return;
	Elf_Scn *dscn = elf_getscn(im->elf, rsh.sh_link);
	Elf_Data *rd = elf_getdata(rscn, NULL), *dd = dscn ? elf_getdata(dscn, NULL) : NULL;
	if (!rd || !dd || !gelf_getshdr(dscn, &dsh))
		return;
	size_t esz = gelf_fsize(im->elf, ELF_T_RELA, 1, EV_CURRENT);
	size_t n = esz ? rd->d_size / esz : 0;
	for (size_t i = 0; i < n; i++) {
		GElf_Rela r;
		GElf_Sym sym;
		if (!gelf_getrela(rd, i, &r))
			break;
		if (GELF_R_TYPE(r.r_info) != R_X86_64_JUMP_SLOT)
			continue;
		uint64_t off = (first + i) * 16;
		if (off + 16 > psh.sh_size)
			break;
		if (!gelf_getsym(dd, GELF_R_SYM(r.r_info), &sym))
			continue;
		const char *name = elf_strptr(im->elf, dsh.sh_link, sym.st_name);
		if (!name || !*name)
			continue;
		cand_add(c, psh.sh_addr + off, 16, cw_arena_printf(&obj->strings, "%s@plt", name), 0);
	}
}

/* ---- .eh_frame ---- */

struct rdr {
	const uint8_t *p, *end;
	uint64_t vaddr; /* of p */
	bool ok;
};

static void rd_skip(struct rdr *r, size_t n)
{
	if (!r->ok || (size_t)(r->end - r->p) < n) {
		r->ok = false;
		return;
	}
	r->p += n;
	r->vaddr += n;
}

static uint64_t rd_uint(struct rdr *r, size_t n)
{
	uint64_t v = 0;
	if (!r->ok || (size_t)(r->end - r->p) < n) {
		r->ok = false;
		return 0;
	}
	for (size_t i = 0; i < n; i++)
		v |= (uint64_t)r->p[i] << (8 * i); /* x86-64: little-endian */
	rd_skip(r, n);
	return v;
}

static uint64_t rd_uleb(struct rdr *r)
{
	uint64_t v = 0;
	for (unsigned shift = 0; r->ok; shift += 7) {
		uint8_t b = (uint8_t)rd_uint(r, 1);
		if (shift < 64)
			v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			break;
	}
	return v;
}

static int64_t rd_sleb(struct rdr *r)
{
	uint64_t v = 0;
	unsigned shift = 0;
	uint8_t b = 0;
	do {
		b = (uint8_t)rd_uint(r, 1);
		if (shift < 64)
			v |= (uint64_t)(b & 0x7f) << shift;
		shift += 7;
	} while (r->ok && (b & 0x80));
	if (shift < 64 && (b & 0x40))
		v |= ~0ull << shift;
	return (int64_t)v;
}

/* A DW_EH_PE-encoded value; APPLY: add the pc-relative base (only for addresses, not lengths). */
static uint64_t rd_enc(struct rdr *r, uint8_t enc, bool apply, bool is64)
{
	uint64_t base = r->vaddr, v;
	switch (enc & 0x0f) {
	case 0x00: v = rd_uint(r, is64 ? 8 : 4); break;
	case 0x01: v = rd_uleb(r); break;
	case 0x02: v = rd_uint(r, 2); break;
	case 0x03: v = rd_uint(r, 4); break;
	case 0x04: v = rd_uint(r, 8); break;
	case 0x09: v = (uint64_t)rd_sleb(r); break;
	case 0x0a: v = (uint64_t)(int64_t)(int16_t)rd_uint(r, 2); break;
	case 0x0b: v = (uint64_t)(int64_t)(int32_t)rd_uint(r, 4); break;
	case 0x0c: v = rd_uint(r, 8); break;
	default: r->ok = false; return 0;
	}
	if (!apply)
		return v;
	switch (enc & 0x70) {
	case 0x00: break;
	case 0x10: v += base; break;
	default: r->ok = false; /* textrel/datarel/funcrel do not occur in FDE addresses of x86-64 code */
	}
	if (enc & 0x80) /* indirect: not a code address */
		r->ok = false;
	return v;
}

/* What an FDE needs from its CIE: the pointer encoding, whether FDEs carry augmentation data, the data
 * alignment factor, and the initial instructions. */
struct cie {
	size_t off;
	uint8_t enc; /* 0xff: unusable */
	bool z;
	int64_t daf;
	struct rdr ins; /* the initial instructions (ok false: none usable) */
};

/* The CIE at R (positioned after its id); CIE->enc is 0xff when unusable. */
static void cie_parse(struct rdr r, bool is64, struct cie *cie)
{
	uint8_t version = (uint8_t)rd_uint(&r, 1), enc = 0; /* default: absptr */
	const char *aug = (const char *)r.p;
	size_t alen = strnlen(aug, r.end - r.p);
	cie->enc = 0xff;
	cie->z = false;
	cie->ins.ok = false;
	if (!r.ok || alen == (size_t)(r.end - r.p))
		return;
	rd_skip(&r, alen + 1);
	if (aug[0] != 'z') {
		if (alen == 0)
			cie->enc = 0; /* "eh" and other old augmentations: cannot find the encoding */
		return;
	}
	cie->z = true;
	rd_uleb(&r); /* code alignment */
	cie->daf = rd_sleb(&r);
	if (version == 1)
		rd_uint(&r, 1);
	else
		rd_uleb(&r); /* return address register */
	uint64_t dlen = rd_uleb(&r);
	struct rdr after = r; /* the initial instructions follow the augmentation data */
	rd_skip(&after, dlen);
	if (after.ok)
		cie->ins = after;
	for (size_t i = 1; i < alen && r.ok; i++) {
		switch (aug[i]) {
		case 'R': enc = (uint8_t)rd_uint(&r, 1); break;
		case 'L': rd_uint(&r, 1); break;
		case 'P': {
			uint8_t penc = (uint8_t)rd_uint(&r, 1);
			rd_enc(&r, penc & 0x0f, false, is64);
			break;
		}
		case 'S': case 'B': case 'G': break;
		default: cie->enc = r.ok ? enc : 0xff; return; /* unknown: R, if any, came before */
		}
	}
	cie->enc = r.ok ? enc : 0xff;
}

/* Runs call frame instructions up to the first row boundary (an advance): the CFA rule in force at the
 * FDE's first address, tracked as register + offset; an expression makes it unknown (reg -1). */
static void cfa_run(struct rdr r, int64_t daf, int *reg, int64_t *off)
{
	while (r.ok && r.p < r.end) {
		uint8_t op = (uint8_t)rd_uint(&r, 1);
		switch (op >> 6) {
		case 1: return;			 /* advance_loc */
		case 2: rd_uleb(&r); continue;	 /* offset */
		case 3: continue;		 /* restore */
		}
		switch (op) {
		case 0x00: case 0x0a: case 0x0b: break; /* nop, remember/restore_state */
		case 0x01: case 0x02: case 0x03: case 0x04: return; /* set_loc, advance_loc1/2/4 */
		case 0x05: case 0x09: case 0x14: case 0x2f: rd_uleb(&r); rd_uleb(&r); break;
		case 0x06: case 0x07: case 0x08: case 0x2e: rd_uleb(&r); break;
		case 0x0c: *reg = (int)rd_uleb(&r); *off = (int64_t)rd_uleb(&r); break;
		case 0x0d: *reg = (int)rd_uleb(&r); break;
		case 0x0e: *off = (int64_t)rd_uleb(&r); break;
		case 0x0f: *reg = -1; rd_skip(&r, rd_uleb(&r)); break;
		case 0x10: case 0x16: rd_uleb(&r); rd_skip(&r, rd_uleb(&r)); break;
		case 0x11: case 0x15: rd_uleb(&r); rd_sleb(&r); break;
		case 0x12: *reg = (int)rd_uleb(&r); *off = rd_sleb(&r) * daf; break;
		case 0x13: *off = rd_sleb(&r) * daf; break;
		default: return; /* unknown: stop where the rule is still known */
		}
	}
}

/* Every FDE of an .eh_frame image (BUF/LEN at ELF vaddr VADDR): a function start and its length. */
static void add_eh_frame(struct cands *c, const struct cw_obj *obj, const uint8_t *buf, size_t len,
			 uint64_t vaddr, bool is64)
{
	struct cie cie_cache[8];
	memset(cie_cache, 0xff, sizeof(cie_cache));
	size_t off = 0;
	while (len - off >= 4) {
		struct rdr r = { buf + off, buf + len, vaddr + off, true };
		uint64_t elen = rd_uint(&r, 4);
		if (elen == 0)
			break; /* terminator */
		if (elen == 0xffffffff)
			elen = rd_uint(&r, 8);
		if (!r.ok || elen > (size_t)(r.end - r.p) || elen < 4)
			break;
		size_t id_off = r.p - buf, next = id_off + elen;
		r.end = r.p + elen;
		uint64_t id = rd_uint(&r, 4);
		if (id != 0 && id <= id_off) { /* an FDE; a CIE has id 0 */
			size_t cie_off = id_off - id;
			size_t slot = (cie_off / 4) % 8;
			struct cie *cie = &cie_cache[slot];
			if (cie->off != cie_off) {
				struct rdr cr = { buf + cie_off, buf + len, vaddr + cie_off, true };
				uint64_t clen = rd_uint(&cr, 4);
				cie->off = cie_off;
				cie->enc = 0xff;
				if (clen != 0xffffffff && clen >= 4 && clen <= (size_t)(cr.end - cr.p)) {
					cr.end = cr.p + clen;
					if (rd_uint(&cr, 4) == 0 && cr.ok)
						cie_parse(cr, is64, cie);
				}
			}
			if (cie->enc != 0xff) {
				uint64_t start = rd_enc(&r, cie->enc, true, is64);
				uint64_t range = rd_enc(&r, cie->enc & 0x0f, false, is64);
				if (r.ok && start && range && in_exec(obj, start)) {
					struct cand *x = cand_add(c, start, range, NULL, 0);
					/* a call leaves the CFA at rsp+8 (DWARF reg 7): any other rule at the
					 * first address means the code is entered from inside a frame */
					int reg = 7;
					int64_t off = 8;
					if (cie->ins.ok && cie->z) {
						cfa_run(cie->ins, cie->daf, &reg, &off);
						rd_skip(&r, rd_uleb(&r)); /* the FDE's augmentation data */
						cfa_run(r, cie->daf, &reg, &off);
						x->midframe = r.ok && (reg != 7 || off != 8);
					}
				}
			}
		}
		off = next;
	}
}

/* .eh_frame from its section, or (no section headers) through PT_GNU_EH_FRAME's eh_frame_ptr. */
static void load_eh_frame(struct cands *c, struct cw_obj *obj, struct img *im)
{
	bool is64 = gelf_getclass(im->elf) == ELFCLASS64;
	GElf_Shdr sh;
	Elf_Scn *scn = find_scn(im, ".eh_frame", &sh);
	if (scn && sh.sh_type != SHT_NOBITS) {
		Elf_Data *d = elf_rawdata(scn, NULL);
		if (d && d->d_buf)
			add_eh_frame(c, obj, d->d_buf, d->d_size, sh.sh_addr, is64);
		return;
	}
	size_t n;
	if (elf_getphdrnum(im->elf, &n))
		return;
	for (size_t i = 0; i < n; i++) {
		GElf_Phdr ph;
		size_t len;
		if (!gelf_getphdr(im->elf, i, &ph) || ph.p_type != PT_GNU_EH_FRAME)
			continue;
		const uint8_t *hdr = vaddr_bytes(obj, im, ph.p_vaddr, &len);
		if (!hdr || len < 4 || hdr[0] != 1)
			return;
		struct rdr r = { hdr + 4, hdr + len, ph.p_vaddr + 4, true };
		uint64_t eh = rd_enc(&r, hdr[1], true, is64);
		const uint8_t *ehp = r.ok ? vaddr_bytes(obj, im, eh, &len) : NULL;
		if (ehp)
			add_eh_frame(c, obj, ehp, len, eh, is64);
		return;
	}
}

/* ---- separate debug info ---- */

static char *build_id_hex(struct img *im)
{
	GElf_Shdr sh;
	Elf_Scn *scn = NULL;
	while ((scn = elf_nextscn(im->elf, scn))) {
		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_NOTE)
			continue;
		Elf_Data *d = elf_getdata(scn, NULL);
		GElf_Nhdr nh;
		size_t off = 0, noff, doff;
		while (d && off < d->d_size && (off = gelf_getnote(d, off, &nh, &noff, &doff)) > 0) {
			if (nh.n_type != NT_GNU_BUILD_ID || nh.n_namesz != 4 || nh.n_descsz == 0 ||
			    nh.n_descsz > 64 || memcmp((char *)d->d_buf + noff, "GNU", 4))
				continue;
			char *hex = cw_malloc(2 * nh.n_descsz + 1);
			for (size_t i = 0; i < nh.n_descsz; i++)
				sprintf(hex + 2 * i, "%02x", ((uint8_t *)d->d_buf)[doff + i]);
			return hex;
		}
	}
	return NULL;
}

/* Opens a debug file candidate: it must be ELF, have a .symtab, and carry the same build-id when both do. */
static int try_debug(const char *path, const char *want_id, struct img *dbg, int *fdp)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	GElf_Shdr sh;
	if (fd < 0)
		return -errno;
	if (img_open(dbg, fd, NULL, 0) || !find_scn_type(dbg, SHT_SYMTAB, &sh))
		goto bad;
	if (want_id) {
		char *id = build_id_hex(dbg);
		bool same = !id || !strcmp(id, want_id);
		free(id);
		if (!same)
			goto bad;
	}
	*fdp = fd;
	return 0;
bad:
	img_close(dbg);
	close(fd);
	return -ENOENT;
}

/* Looks for separate debug info of OBJ: by build-id, then by .gnu_debuglink next to the (real) file, in
 * its .debug/ directory, and under /usr/lib/debug. */
static int find_debug(struct cw_obj *obj, struct img *im, struct img *dbg, int *fdp)
{
	char path[PATH_MAX + 64];
	const char *id = obj->build_id;
	if (id && strlen(id) > 2) {
		snprintf(path, sizeof(path), DEBUG_ROOT "/.build-id/%.2s/%s.debug", id, id + 2);
		if (!try_debug(path, id, dbg, fdp)) {
			obj->debug_file = cw_arena_strdup(&obj->strings, path);
			return 0;
		}
	}
	GElf_Shdr sh;
	Elf_Scn *scn = find_scn(im, ".gnu_debuglink", &sh);
	Elf_Data *d = scn ? elf_getdata(scn, NULL) : NULL;
	if (!d || !d->d_buf || !d->d_size)
		return -ENOENT;
	char link[256];
	size_t ln = strnlen(d->d_buf, d->d_size);
	if (ln == 0 || ln >= sizeof(link) || ln == d->d_size)
		return -ENOENT;
	memcpy(link, d->d_buf, ln + 1);
	if (strchr(link, '/'))
		return -ENOENT;
	/* the directory of the real file: " (deleted)" removed, symlinks (/lib -> usr/lib) resolved */
	char dir[PATH_MAX], real[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s", obj->path);
	char *del = strstr(dir, " (deleted)");
	if (del)
		*del = 0;
	char *slash = strrchr(dir, '/');
	if (!slash)
		return -ENOENT;
	*slash = 0;
	if (realpath(*dir ? dir : "/", real))
		snprintf(dir, sizeof(dir), "%s", real);
	const char *fmts[] = { "%s/%s", "%s/.debug/%s", DEBUG_ROOT "%s/%s" };
	for (size_t i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), fmts[i], dir, link);
		struct stat a, b;
		/* the object itself may carry the debuglink's name */
		if (i == 0 && !stat(path, &a) && obj->ino && a.st_ino == obj->ino && !stat(obj->path, &b) &&
		    a.st_dev == b.st_dev)
			continue;
		if (!try_debug(path, id, dbg, fdp)) {
			obj->debug_file = cw_arena_strdup(&obj->strings, path);
			return 0;
		}
	}
	return -ENOENT;
}

/* ---- loading ---- */

static void build_tables(struct cw_obj *obj, struct cands *c, bool unnamed_starts)
{
	qsort(c->v, c->n, sizeof(*c->v), cand_cmp);
	obj->funcs = cw_calloc(c->n, sizeof(*obj->funcs));
	size_t nf = 0, nn = 0;
	for (size_t i = 0; i < c->n; i++) {
		const struct cand *x = &c->v[i];
		if (x->name)
			nn++;
		if (nf && obj->funcs[nf - 1].start == x->start) {
			/* an alias, or the FDE of a named function: only the extent and the FDE's entry rule
			 * can add to what we have */
			if (x->size > obj->funcs[nf - 1].size)
				obj->funcs[nf - 1].size = x->size;
			obj->funcs[nf - 1].midframe |= x->midframe;
			continue;
		}
		if (!x->name) {
			const struct cw_func *p = nf ? &obj->funcs[nf - 1] : NULL;
			if (!unnamed_starts || (p && p->size && x->start - p->start < p->size))
				continue;
		}
		obj->funcs[nf++] = (struct cw_func){ x->start, x->size, x->name, x->name != NULL, x->midframe };
	}
	obj->nfuncs = nf;
	for (size_t i = 0; i < nf; i++) {
		struct cw_func *f = &obj->funcs[i];
		if (!f->named)
			f->name = cw_arena_printf(&obj->strings, "%s+0x%llx", obj->base, (unsigned long long)f->start);
		else
			obj->nnamed++;
	}
	/* every name, aliases included, for cw_syms_find: equal names best first */
	qsort(c->v, c->n, sizeof(*c->v), cand_name_cmp);
	obj->byname = cw_calloc(nn + nf - obj->nnamed, sizeof(*obj->byname));
	for (size_t i = 0; i < c->n; i++)
		if (c->v[i].name)
			obj->byname[obj->nbyname++] = (struct cw_func){ c->v[i].start, c->v[i].size, c->v[i].name,
									true, false };
	size_t nb = obj->nbyname;
	for (size_t i = 0; i < nf; i++)
		if (!obj->funcs[i].named)
			obj->byname[obj->nbyname++] = obj->funcs[i];
	if (nb == obj->nbyname)
		return;
	/* the synthesized names are unique: sort them apart and merge, keeping equal real names in order */
	qsort(obj->byname + nb, obj->nbyname - nb, sizeof(*obj->byname), func_name_cmp);
	struct cw_func *m = cw_calloc(obj->nbyname, sizeof(*m));
	size_t i = 0, j = nb, k = 0;
	while (i < nb || j < obj->nbyname)
		m[k++] = j == obj->nbyname || (i < nb && func_name_cmp(&obj->byname[i], &obj->byname[j]) <= 0)
				 ? obj->byname[i++]
				 : obj->byname[j++];
	free(obj->byname);
	obj->byname = m;
}

int cw_obj_load(struct cw_obj *obj, int fd, const void *buf, size_t len, bool debug)
{
	static bool inited;
	struct img im = { 0 }, dbg = { 0 };
	struct cands c = { 0 };
	void *copy = NULL;
	int dbg_fd = -1, err;
	GElf_Shdr sh;
	if (!inited) {
		elf_version(EV_CURRENT);
		inited = true;
	}
	if (fd < 0) {
		/* libelf may convert a memory image in place; the vdso is read-only */
		copy = cw_malloc(len);
		memcpy(copy, buf, len);
	}
	err = img_open(&im, fd, copy, len);
	if (err)
		goto out;
	load_segs(obj, &im);
	char *id = build_id_hex(&im);
	if (id) {
		obj->build_id = cw_arena_strdup(&obj->strings, id);
		free(id);
	}
	Elf_Scn *scn = find_scn_type(&im, SHT_SYMTAB, &sh);
	size_t nsym = 0;
	if (scn) {
		nsym = add_syms(&c, obj, &im, scn, &sh);
		obj->table = "symtab";
	}
	if (!nsym && debug && !find_debug(obj, &im, &dbg, &dbg_fd)) {
		scn = find_scn_type(&dbg, SHT_SYMTAB, &sh);
		nsym = scn ? add_syms(&c, obj, &dbg, scn, &sh) : 0;
		obj->table = "debug-symtab";
	}
	bool unnamed = !nsym;
	if (!nsym) {
		scn = find_scn_type(&im, SHT_DYNSYM, &sh);
		nsym = scn ? add_syms(&c, obj, &im, scn, &sh) : 0;
		obj->table = nsym ? "dynsym+eh_frame" : "eh_frame";
	}
	add_plt(&c, obj, &im);
	load_eh_frame(&c, obj, &im);
	build_tables(obj, &c, unnamed);
out:
	free(c.v);
	img_close(&dbg);
	if (dbg_fd >= 0)
		close(dbg_fd);
	img_close(&im);
	free(copy);
	obj->err = err;
	return err;
}

void cw_obj_release(struct cw_obj *obj)
{
	free(obj->path);
	free(obj->segs);
	free(obj->funcs);
	free(obj->byname);
	cw_arena_free(&obj->strings);
}

const struct cw_func *cw_obj_lookup(const struct cw_obj *obj, uint64_t v)
{
	size_t lo = 0, hi = obj->nfuncs;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (obj->funcs[mid].start <= v)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo)
		return NULL;
	const struct cw_func *f = &obj->funcs[lo - 1];
	if (f->size && v - f->start >= f->size)
		return NULL;
	/* unknown size: up to the next function, but not past the executable segment */
	if (!f->size && obj->nsegs && !in_exec(obj, v))
		return NULL;
	return f;
}

const struct cw_func *cw_obj_find(const struct cw_obj *obj, const char *name)
{
	size_t lo = 0, hi = obj->nbyname;
	/* first entry with name >= NAME: the best-ranked of equal names */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (strcmp(obj->byname[mid].name, name) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < obj->nbyname && !strcmp(obj->byname[lo].name, name))
		return &obj->byname[lo];
	return NULL;
}

int cw_obj_to_vaddr(const struct cw_obj *obj, uint64_t off, uint64_t *vaddr)
{
	for (size_t i = 0; i < obj->nsegs; i++) {
		const struct cw_seg *s = &obj->segs[i];
		if (off >= s->off && off - s->off < s->filesz) {
			*vaddr = off - s->off + s->vaddr;
			return 0;
		}
	}
	return -ENOENT;
}
