/* Function names to runtime addresses in a target process: a small libelf reader of .symtab/.dynsym over
 * the objects of /proc/PID/maps. (To be replaced by src/sym when it lands; the interface stays.) */
#include "inject/inject.h"
#include "agent/unsafe.h"
#include "arch/x86_64/x86.h"
#include "util/util.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <elfutils/libdw.h>
#include <gelf.h>
#include <libelf.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct mapping {
	uint64_t start, end, off;
	char path[PATH_MAX];
};

static int read_maps(pid_t pid, struct mapping **out, size_t *n)
{
	char p[64], line[PATH_MAX + 128];
	FILE *f;
	size_t cap = 0;
	snprintf(p, sizeof(p), "/proc/%d/maps", (int)pid);
	if (!(f = fopen(p, "re")))
		return -errno;
	*out = NULL;
	*n = 0;
	while (fgets(line, sizeof(line), f)) {
		struct mapping m;
		char perms[8];
		int pos = 0;
		if (sscanf(line, "%lx-%lx %7s %lx %*s %*s %n", &m.start, &m.end, perms, &m.off, &pos) < 4 || !pos)
			continue;
		char *path = line + pos;
		path[strcspn(path, "\n")] = 0;
		if (path[0] != '/')
			continue;
		snprintf(m.path, sizeof(m.path), "%s", path);
		if (*n == cap) {
			cap = cap ? cap * 2 : 64;
			*out = cw_realloc(*out, cap * sizeof(**out));
		}
		(*out)[(*n)++] = m;
	}
	fclose(f);
	return 0;
}

struct fsym {
	const char *name;
	uint64_t value, size;
	int ifunc;
	const char *plain; /* demangled, parameters cut (C++), or NULL */
};

/* Each object is read once per crosswalk run (the walk resolves thousands of names): its ELF handle, its
 * CFI, and its function symbols. */
/* One FDE's code range and the relative branches in it, decoded once per object however many functions
 * near it are resolved (1000 small neighbors instrumented at once would otherwise decode each other's code
 * ~100 times over). */
struct fde_br {
	uint64_t start, end;
	uint64_t *br; /* pairs (branch address, target); NULL when none or not decoded (too big, not mapped) */
	size_t nbr;
	bool gap;     /* no FDE covers start (end = start + 1): padding, looked up once */
};

struct obj {
	char *path;
	int fd;
	Elf *e;
	Dwarf_CFI *cfi;
	struct fsym *syms;
	size_t n;
	char **plain; /* per symbol: the demangled C++ name without its parameters, or NULL */
	struct fde_br *fdes; /* sorted by start, disjoint */
	size_t nfdes, capfdes;
};

/* C++ names: NAME also matches a mangled symbol whose demangled name, parameters cut, is NAME
 * ("total_area", "Square::area"). The demangler is libstdc++'s, loaded only when a mangled name is met. */
static char *demangle_plain(const char *sym)
{
	return cw_demangle(sym, true);
}
static struct obj objcache[64];
static size_t nobj;

static struct obj *obj_get(const char *path)
{
	for (size_t i = 0; i < nobj; i++)
		if (!strcmp(objcache[i].path, path))
			return objcache[i].e ? &objcache[i] : NULL;
	struct obj *o = nobj < sizeof(objcache) / sizeof(objcache[0]) ? &objcache[nobj++] : NULL;
	if (!o) /* full: recycle the oldest non-executable slot would be nicer; the first will do */
		o = &objcache[0];
	memset(o, 0, sizeof(*o));
	o->path = cw_strdup(path);
	o->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (o->fd < 0)
		return NULL;
	elf_version(EV_CURRENT);
	o->e = elf_begin(o->fd, ELF_C_READ_MMAP, NULL);
	if (!o->e || elf_kind(o->e) != ELF_K_ELF) {
		if (o->e)
			elf_end(o->e);
		o->e = NULL;
		return NULL;
	}
	o->cfi = dwarf_getcfi_elf(o->e);
	/* .gnu.version: a dynamic symbol whose version is hidden (memcpy@GLIBC_2.2.5 next to the default
	 * memcpy@@GLIBC_2.14) is not what the name means today */
	Elf_Data *versym = NULL;
	Elf_Scn *scn = NULL;
	size_t cap = 0;
	while ((scn = elf_nextscn(o->e, scn))) {
		GElf_Shdr sh;
		if (gelf_getshdr(scn, &sh) && sh.sh_type == SHT_GNU_versym)
			versym = elf_getdata(scn, NULL);
	}
	scn = NULL;
	while ((scn = elf_nextscn(o->e, scn))) {
		GElf_Shdr sh;
		if (!gelf_getshdr(scn, &sh) || (sh.sh_type != SHT_SYMTAB && sh.sh_type != SHT_DYNSYM))
			continue;
		Elf_Data *d = elf_getdata(scn, NULL);
		Elf_Data *vs = sh.sh_type == SHT_DYNSYM ? versym : NULL;
		size_t cnt = sh.sh_entsize ? sh.sh_size / sh.sh_entsize : 0;
		for (size_t i = 0; d && i < cnt; i++) {
			GElf_Sym sy;
			GElf_Versym ver;
			if (!gelf_getsym(d, (int)i, &sy) || sy.st_shndx == SHN_UNDEF || !sy.st_value)
				continue;
			if (vs && gelf_getversym(vs, (int)i, &ver) && (ver & 0x8000))
				continue;
			int t = GELF_ST_TYPE(sy.st_info);
			if (t != STT_FUNC && t != STT_GNU_IFUNC)
				continue;
			const char *nm = elf_strptr(o->e, sh.sh_link, sy.st_name);
			if (!nm || !*nm)
				continue;
			if (o->n == cap) {
				cap = cap ? cap * 2 : 1024;
				o->syms = cw_realloc(o->syms, cap * sizeof(*o->syms));
			}
			o->syms[o->n++] = (struct fsym){ nm, sy.st_value, sy.st_size, t == STT_GNU_IFUNC,
							 demangle_plain(nm) };
		}
	}
	return o;
}

/* Calls FN for each defined function symbol of the ELF file PATH; stops when FN returns non-zero. */
static int for_each_func(const char *path, int (*fn)(const struct fsym *, void *), void *ctx, Elf **keep)
{
	struct obj *o = obj_get(path);
	if (!o)
		return -ENOENT;
	for (size_t i = 0; i < o->n; i++)
		if (fn(&o->syms[i], ctx))
			return 1;
	return 0;
}

/* ELF virtual address -> file offset through the PT_LOAD headers */
static int vaddr_to_off(const char *path, uint64_t vaddr, uint64_t *off)
{
	struct obj *o = obj_get(path);
	size_t n;
	if (!o || elf_getphdrnum(o->e, &n))
		return -ENOENT;
	for (size_t i = 0; i < n; i++) {
		GElf_Phdr ph;
		if (gelf_getphdr(o->e, (int)i, &ph) && ph.p_type == PT_LOAD && vaddr >= ph.p_vaddr &&
		    vaddr < ph.p_vaddr + ph.p_filesz) {
			*off = vaddr - ph.p_vaddr + ph.p_offset;
			return 0;
		}
	}
	return -ENOENT;
}

static int runtime_addr(const struct mapping *m, size_t n, const char *path, uint64_t vaddr, uint64_t *addr)
{
	uint64_t off = 0;
	int r = vaddr_to_off(path, vaddr, &off);
	if (r)
		return r;
	for (size_t i = 0; i < n; i++)
		if (!strcmp(m[i].path, path) && off >= m[i].off && off < m[i].off + (m[i].end - m[i].start)) {
			*addr = m[i].start + off - m[i].off;
			return 0;
		}
	return -ENOENT;
}

struct find_ctx {
	const char *name;
	struct fsym found;
	int have;
};

static int find_cb(const struct fsym *f, void *p)
{
	struct find_ctx *c = p;
	/* a clone (.cold, .part.N, .isra.N) is never what a plain C++ name means */
	if (strcmp(f->name, c->name) && (!f->plain || strchr(f->name, '.') || strcmp(f->plain, c->name)))
		return 0;
	/* prefer a symbol with a size (.symtab often has both a sized and an alias entry) */
	if (!c->have || (!c->found.size && f->size)) {
		c->found = *f;
		c->found.name = c->name;
		c->have = 1;
	}
	return f->size ? 1 : 0;
}

/* closest names, for "unknown function" messages */
struct near_ctx {
	const char *name;
	char best[3][128];
	int dist[3];
};

static int edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la > 120 || lb > 120)
		return 1000;
	int d[121];
	for (size_t j = 0; j <= lb; j++)
		d[j] = (int)j;
	for (size_t i = 1; i <= la; i++) {
		int prev = d[0];
		d[0] = (int)i;
		for (size_t j = 1; j <= lb; j++) {
			int cur = d[j];
			int v = prev + (a[i - 1] != b[j - 1]);
			if (d[j] + 1 < v)
				v = d[j] + 1;
			if (d[j - 1] + 1 < v)
				v = d[j - 1] + 1;
			d[j] = v;
			prev = cur;
		}
	}
	return d[lb];
}

static int near_cb(const struct fsym *f, void *p)
{
	struct near_ctx *c = p;
	const char *nm = f->plain ? f->plain : f->name;
	if (strstr(nm, ".cold") || strstr(nm, ".part."))
		return 0;
	int dist = strstr(nm, c->name) ? 1 : edit_distance(c->name, nm);
	f = &(struct fsym){ .name = nm };
	for (int k = 0; k < 3; k++) {
		if (!strcmp(c->best[k], f->name))
			return 0;
		if (dist < c->dist[k]) {
			for (int j = 2; j > k; j--) {
				c->dist[j] = c->dist[j - 1];
				memcpy(c->best[j], c->best[j - 1], sizeof(c->best[j]));
			}
			c->dist[k] = dist;
			snprintf(c->best[k], sizeof(c->best[k]), "%s", f->name);
			break;
		}
	}
	return 0;
}

static const char *base_name(const char *p)
{
	const char *s = strrchr(p, '/');
	return s ? s + 1 : p;
}

/* The extent of the function at VADDR from its .eh_frame FDE (libc's assembly routines have no sized
 * symbol outside the debug file, but all have CFI); 0 when no FDE starts there. */
static uint64_t fde_size(const char *path, uint64_t vaddr)
{
	struct obj *o = obj_get(path);
	Dwarf_Frame *fr = NULL;
	uint64_t size = 0;
	if (o && o->cfi && dwarf_cfi_addrframe(o->cfi, vaddr, &fr) == 0) {
		Dwarf_Addr start, end;
		if (dwarf_frame_info(fr, &start, &end, NULL) >= 0 && start == vaddr)
			size = end - start;
		free(fr);
	}
	return size;
}

/* Refuses (-EINVAL, reason in ERR) a function that its neighbors (the functions before and after it, by
 * their FDEs) branch into, past its first byte and within the bytes a patch may displace. */
/* The FDE that covers VADDR in object O, with its branches, from the memo or else from the CFI (then decoded
 * and kept); NULL where no FDE covers VADDR (padding between functions). */
static const struct fde_br *fde_at(struct obj *o, const char *path, uint64_t vaddr)
{
	size_t lo = 0, hi = o->nfdes;
	while (lo < hi) { /* the first FDE starting after vaddr */
		size_t mid = (lo + hi) / 2;
		if (o->fdes[mid].start <= vaddr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo > 0 && vaddr < o->fdes[lo - 1].end)
		return o->fdes[lo - 1].gap ? NULL : &o->fdes[lo - 1];
	Dwarf_Frame *fr = NULL;
	Dwarf_Addr start, end;
	uint64_t off;
	struct fde_br f = { .start = vaddr, .end = vaddr + 1, .gap = true };
	if (!dwarf_cfi_addrframe(o->cfi, vaddr, &fr) && fr && dwarf_frame_info(fr, &start, &end, NULL) >= 0 &&
	    start < end && start <= vaddr && vaddr < end && (lo == 0 || start >= o->fdes[lo - 1].end) &&
	    (lo == o->nfdes || end <= o->fdes[lo].start))
		f = (struct fde_br){ .start = start, .end = end };
	free(fr);
	size_t n = (size_t)(f.end - f.start), fsize = 0;
	const uint8_t *img = (const uint8_t *)elf_rawfile(o->e, &fsize);
	if (!f.gap && n < (1u << 20) && img && !vaddr_to_off(path, f.start, &off) && off + n <= fsize) {
		uint64_t one[2 * 16];
		f.nbr = cw_x86_rel_branches(img + off, n, f.start, one, 16);
		if (f.nbr) {
			f.br = cw_malloc(f.nbr * 2 * sizeof(*f.br));
			if (f.nbr <= 16)
				memcpy(f.br, one, f.nbr * 2 * sizeof(*f.br));
			else
				cw_x86_rel_branches(img + off, n, f.start, f.br, f.nbr);
		}
	}
	if (o->nfdes == o->capfdes)
		o->fdes = cw_realloc(o->fdes, (o->capfdes = o->capfdes ? 2 * o->capfdes : 64) * sizeof(*o->fdes));
	memmove(&o->fdes[lo + 1], &o->fdes[lo], (o->nfdes - lo) * sizeof(*o->fdes));
	o->fdes[lo] = f;
	o->nfdes++;
	return f.gap ? NULL : &o->fdes[lo];
}

static int check_neighbors(const char *path, uint64_t vaddr, uint64_t size, char *err, size_t errlen)
{
	struct obj *o = obj_get(path);
	uint64_t last_start = 0, end_self = vaddr + (size ? size : 1);
	uint64_t hi = vaddr + 4 + CW_X86_MAX_DISPLACED < end_self ? vaddr + 4 + CW_X86_MAX_DISPLACED : end_self;
	if (!o || !o->cfi)
		return 0;
	/* every FDE within 1 KB before the function and after it (glibc's entry points of one routine sit
	 * side by side, each with its own small FDE): walk outwards FDE by FDE, in 8-byte steps over gaps */
	for (int dir = -1; dir <= 1; dir += 2) {
		uint64_t probe = dir < 0 ? vaddr - 1 : end_self;
		while (dir < 0 ? probe + 1024 > vaddr : probe < end_self + 1024) {
			const struct fde_br *f = fde_at(o, path, probe);
			if (!f || f->start == last_start) {
				probe += dir < 0 ? (uint64_t)-8 : 8;
				continue;
			}
			probe = dir < 0 ? f->start - 1 : f->end;
			last_start = f->start;
			if (f->start <= vaddr && vaddr < f->end)
				continue;
			for (size_t i = 0; i < f->nbr; i++)
				if (f->br[2 * i + 1] >= vaddr + 1 && f->br[2 * i + 1] < hi) {
					snprintf(err, errlen, "code outside it (at 0x%lx) branches into its first bytes",
						 f->br[2 * i]);
					return -EINVAL;
				}
		}
	}
	return 0;
}

/* the size of the (non-IFUNC) function symbol at W->value */
static int size_cb(const struct fsym *f, void *p)
{
	struct fsym *w = p;
	if (!f->ifunc && f->value == w->value && f->size) {
		w->size = f->size;
		return 1;
	}
	return 0;
}

/* For an IFUNC (memcpy, strlen...): the implementation the resolver picks is the one our own copy of the
 * same library picked, since it runs on the same CPU; take its offset in our mapping. */
static int ifunc_impl(const char *path, const char *name, uint64_t *vaddr, uint64_t *size)
{
	struct stat st_t, st_m;
	Dl_info di;
	void *sym;
	if (stat(path, &st_t))
		return -ENOENT;
	void *h = dlopen(path, RTLD_NOW | RTLD_NOLOAD);
	if (!h)
		return -ENOENT;
	sym = dlsym(h, name);
	dlclose(h);
	if (!sym || !dladdr(sym, &di) || !di.dli_fname || stat(di.dli_fname, &st_m) || st_m.st_ino != st_t.st_ino ||
	    st_m.st_dev != st_t.st_dev)
		return -ENOENT;
	/* our load bias: the address minus the ELF vaddr of our mapping's base */
	uint64_t v = (uint64_t)sym - (uint64_t)di.dli_fbase;
	/* find the implementation's own symbol for its size */
	struct fsym b = { .value = v };
	for_each_func(path, size_cb, &b, NULL);
	if (!b.size) {
		/* libc's implementations are local symbols that only the debug file has: look there */
		char dbg[PATH_MAX];
		snprintf(dbg, sizeof(dbg), "/usr/lib/debug/%s", path);
		for_each_func(dbg, size_cb, &b, NULL);
	}
	if (!b.size)
		b.size = fde_size(path, v);
	*vaddr = v;
	*size = b.size;
	return 0;
}

/* A batch of names resolves against one snapshot of the mappings. */
static struct {
	pid_t pid;
	struct mapping *m;
	size_t n;
	char exe[PATH_MAX];
} pinned;

void cw_inject_resolve_pin(pid_t pid)
{
	cw_inject_resolve_unpin();
	char p[64];
	snprintf(p, sizeof(p), "/proc/%d/exe", (int)pid);
	ssize_t l = readlink(p, pinned.exe, sizeof(pinned.exe) - 1);
	pinned.exe[l > 0 ? l : 0] = 0;
	if (read_maps(pid, &pinned.m, &pinned.n) == 0)
		pinned.pid = pid;
}

void cw_inject_resolve_unpin(void)
{
	free(pinned.m);
	memset(&pinned, 0, sizeof(pinned));
}

int cw_inject_resolve(pid_t pid, const char *spec, struct cw_resolved *out, char *err, size_t errlen)
{
	struct mapping *m = NULL;
	size_t n = 0;
	char obj[256] = "", name[256], exe[PATH_MAX];
	uint64_t off = 0;
	int r, by_off = 0;
	/* OBJECT:name, but not the "::" of a C++ qualified name */
	const char *colon = NULL, *plus = strstr(spec, "+0x");
	for (const char *c = spec; *c; c++)
		if (*c == ':') {
			if (c[1] == ':') {
				c++;
				continue;
			}
			colon = c;
			break;
		}

	memset(out, 0, sizeof(*out));
	if (colon) {
		snprintf(obj, sizeof(obj), "%.*s", (int)(colon - spec), spec);
		snprintf(name, sizeof(name), "%s", colon + 1);
	} else if (plus) {
		snprintf(obj, sizeof(obj), "%.*s", (int)(plus - spec), spec);
		off = strtoull(plus + 1, NULL, 16);
		by_off = 1;
	} else {
		snprintf(name, sizeof(name), "%s", spec);
	}
	if (pinned.pid == pid && pinned.pid) {
		n = pinned.n;
		m = cw_malloc((n ? n : 1) * sizeof(*m));
		memcpy(m, pinned.m, n * sizeof(*m));
	} else if ((r = read_maps(pid, &m, &n))) {
		snprintf(err, errlen, "process %d: cannot read its mappings: %s", (int)pid, strerror(-r));
		return r;
	}
	if (pinned.pid == pid && pinned.pid) {
		snprintf(exe, sizeof(exe), "%s", pinned.exe);
	} else {
		char p[64];
		snprintf(p, sizeof(p), "/proc/%d/exe", (int)pid);
		ssize_t l = readlink(p, exe, sizeof(exe) - 1);
		exe[l > 0 ? l : 0] = 0;
	}

	/* candidate objects: the executable first, then the others in address order, each once */
	const char **objs = cw_calloc(n + 1, sizeof(*objs));
	size_t no = 0;
	if (exe[0] && !obj[0])
		objs[no++] = exe;
	for (size_t i = 0; i < n; i++) {
		int dup = 0;
		for (size_t j = 0; j < no; j++)
			dup |= !strcmp(objs[j], m[i].path);
		if (dup)
			continue;
		if (obj[0] && strncmp(base_name(m[i].path), obj, strlen(obj)))
			continue;
		objs[no++] = m[i].path;
	}
	r = -ENOENT;
	if (obj[0] && !no) {
		snprintf(err, errlen, "no object '%s' mapped in process %d", obj, (int)pid);
		goto out;
	}
	if (by_off) {
		r = runtime_addr(m, n, objs[0], off, &out->addr);
		if (r) {
			snprintf(err, errlen, "%s: offset 0x%lx is not in a mapped segment", objs[0], off);
			goto out;
		}
		/* the size: a symbol starting there, else unknown (the agent refuses then) */
		struct fsym want = { .value = off };
		for_each_func(objs[0], size_cb, &want, NULL);
		out->size = want.size ? want.size : fde_size(objs[0], off);
		snprintf(out->path, sizeof(out->path), "%s", objs[0]);
		vaddr_to_off(objs[0], off, &out->file_off);
		snprintf(out->name, sizeof(out->name), "%s", spec);
		goto out;
	}
	for (size_t k = 0; k < no; k++) {
		struct find_ctx c = { .name = name };
		for_each_func(objs[k], find_cb, &c, NULL);
		if (!c.have)
			continue;
		uint64_t v = c.found.value, sz = c.found.size;
		if (c.found.ifunc && ifunc_impl(objs[k], name, &v, &sz)) {
			snprintf(err, errlen, "%s in %s is an IFUNC whose implementation cannot be found", name,
				 base_name(objs[k]));
			r = -ENOENT;
			goto out;
		}
		r = runtime_addr(m, n, objs[k], v, &out->addr);
		if (r)
			continue;
		const char *unsafe = cw_unsafe_to_instrument(c.found.name);
		if (unsafe) {
			snprintf(err, errlen, "cannot instrument %s: %s", name, unsafe);
			r = -EPERM;
			goto out;
		}
		if ((r = check_neighbors(objs[k], v, sz, err, errlen))) {
			char why[400];
			snprintf(why, sizeof(why), "%s", err);
			snprintf(err, errlen, "cannot instrument %s: %s", name, why);
			goto out;
		}
		out->size = sz;
		snprintf(out->path, sizeof(out->path), "%s", objs[k]);
		vaddr_to_off(objs[k], v, &out->file_off);
		if (!strcmp(objs[k], exe))
			snprintf(out->name, sizeof(out->name), "%s", name);
		else
			snprintf(out->name, sizeof(out->name), "%s:%s", base_name(objs[k]), name);
		goto out;
	}
	/* unknown: suggest the closest names of the executable (or of the named object) */
	struct near_ctx nc = { .name = name, .dist = { 1000, 1000, 1000 } };
	for_each_func(objs[0] ? objs[0] : exe, near_cb, &nc, NULL);
	int len = snprintf(err, errlen, "unknown function '%s'", spec);
	for (int k = 0; k < 3 && len > 0 && (size_t)len < errlen; k++)
		if (nc.dist[k] <= (int)strlen(name) / 2 + 1)
			len += snprintf(err + len, errlen - (size_t)len, "%s'%s'", k ? ", " : " (did you mean ",
					nc.best[k]);
	if (nc.dist[0] <= (int)strlen(name) / 2 + 1 && len > 0 && (size_t)len < errlen)
		snprintf(err + len, errlen - (size_t)len, "?)");
out:
	free(objs);
	free(m);
	return r;
}
