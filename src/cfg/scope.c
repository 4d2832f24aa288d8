/* Scopes: the objects loaded together (a process's, or an executable's DT_NEEDED closure) in the dynamic
 * linker's lookup order, to resolve imports to their defining library; searches across them. */
#include "cfg/cfg_int.h"
#include "util/util.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct scope_ent {
	struct cw_cfg_obj *o;
	uint64_t bias, lo, hi; /* runtime range of its executable mappings (process scopes) */
};

struct cw_cfg_scope {
	struct scope_ent *v;
	size_t n, cap;
};

static struct scope_ent *scope_has(struct cw_cfg_scope *sc, const struct cw_cfg_obj *o)
{
	for (size_t i = 0; i < sc->n; i++)
		if (sc->v[i].o == o)
			return &sc->v[i];
	return NULL;
}

static struct scope_ent *scope_add(struct cw_cfg_scope *sc, struct cw_cfg_obj *o)
{
	if (sc->n == sc->cap) {
		sc->cap = sc->cap ? 2 * sc->cap : 16;
		sc->v = cw_realloc(sc->v, sc->cap * sizeof(*sc->v));
	}
	struct scope_ent *e = &sc->v[sc->n++];
	*e = (struct scope_ent){ o, 0, 0, 0 };
	return e;
}

void cw_cfg_scope_free(struct cw_cfg_scope *sc)
{
	if (!sc)
		return;
	free(sc->v);
	free(sc);
}

size_t cw_cfg_scope_count(const struct cw_cfg_scope *sc)
{
	return sc->n;
}

struct cw_cfg_obj *cw_cfg_scope_obj(const struct cw_cfg_scope *sc, size_t i, uint64_t *bias)
{
	if (i >= sc->n)
		return NULL;
	if (bias)
		*bias = sc->v[i].bias;
	return sc->v[i].o;
}

static bool names_lib(const struct cw_cfg_obj *o, const char *name)
{
	return (o->soname && !strcmp(o->soname, name)) || !strcmp(o->base, name);
}

/* Reorders SC (exe first) into breadth-first DT_NEEDED order; objects nobody needs keep their order after. */
static void order_needed(struct cw_cfg_scope *sc)
{
	struct scope_ent *v = cw_calloc(sc->n ? sc->n : 1, sizeof(*v));
	bool *used = cw_calloc(sc->n ? sc->n : 1, sizeof(*used));
	size_t k = 0;
	if (sc->n) {
		v[k++] = sc->v[0];
		used[0] = true;
	}
	for (size_t q = 0; q < k; q++)
		for (size_t d = 0; d < v[q].o->nneeded; d++)
			for (size_t i = 0; i < sc->n; i++)
				if (!used[i] && names_lib(sc->v[i].o, v[q].o->needed[d])) {
					used[i] = true;
					v[k++] = sc->v[i];
					break;
				}
	for (size_t i = 0; i < sc->n; i++)
		if (!used[i])
			v[k++] = sc->v[i];
	free(sc->v);
	free(used);
	sc->v = v;
	sc->cap = sc->n;
}

int cw_cfg_scope_proc(struct cw_cfg *g, const struct cw_proc_maps *m, struct cw_cfg_scope **out)
{
	struct cw_cfg_scope *sc = cw_calloc(1, sizeof(*sc));
	char link[64], exe[PATH_MAX];
	snprintf(link, sizeof(link), "/proc/%d/exe", (int)m->pid);
	ssize_t el = m->pid > 0 ? readlink(link, exe, sizeof(exe) - 1) : -1;
	exe[el > 0 ? el : 0] = 0;
	for (size_t i = 0; i < m->n; i++) {
		const struct cw_map *mp = &m->maps[i];
		struct cw_cfg_obj *o;
		struct stat st;
		if (mp->path[0] != '/' || mp->perms[2] != 'x')
			continue;
		/* the file must still be the one that was mapped: the function tables come from the path */
		if (stat(mp->path, &st) || (mp->ino && (st.st_ino != mp->ino || st.st_dev != mp->dev))) {
			cw_dbg("%s: not the file that was mapped (deleted or replaced): no call graph", mp->path);
			continue;
		}
		if (cw_cfg_open(g, mp->path, &o))
			continue;
		/* the ELF vaddr of the mapping's first byte gives the load bias */
		uint64_t v = 0;
		bool found = false;
		for (size_t s = 0; s < o->nsegs && !found; s++)
			if (mp->pgoff >= o->segs[s].off && mp->pgoff - o->segs[s].off < o->segs[s].filesz) {
				v = mp->pgoff - o->segs[s].off + o->segs[s].vaddr;
				found = true;
			}
		if (!found)
			continue;
		struct scope_ent *e = scope_has(sc, o);
		if (!e) {
			e = scope_add(sc, o);
			e->bias = mp->start - v;
			e->lo = mp->start;
		}
		e->hi = mp->end;
		if (*exe && !strcmp(exe, o->path) && e != sc->v) { /* the executable goes first */
			struct scope_ent t = *e;
			memmove(sc->v + 1, sc->v, (size_t)(e - sc->v) * sizeof(*e));
			sc->v[0] = t;
		}
	}
	if (!sc->n) {
		free(sc->v);
		free(sc);
		*out = NULL;
		return -ENOENT;
	}
	order_needed(sc);
	*out = sc;
	return 0;
}

/* Finds library NAME for REQ as ld.so would, without ld.so.cache: RPATH (when there is no RUNPATH),
 * LD_LIBRARY_PATH, RUNPATH, then the default directories; $ORIGIN is REQ's directory. */
static struct cw_cfg_obj *find_lib(struct cw_cfg *g, const struct cw_cfg_obj *req, const char *name)
{
	struct cw_cfg_obj *o;
	if (strchr(name, '/'))
		return cw_cfg_open(g, name, &o) ? NULL : o;
	char origin[PATH_MAX];
	snprintf(origin, sizeof(origin), "%s", req->path);
	char *sl = strrchr(origin, '/');
	if (sl)
		*sl = 0;
	const char *env = getenv("LD_LIBRARY_PATH");
	const char *lists[] = { req->runpath ? NULL : req->rpath, env, req->runpath,
				"/lib/x86_64-linux-gnu:/usr/lib/x86_64-linux-gnu:/lib64:/usr/lib64:/lib:/usr/lib" };
	for (size_t l = 0; l < sizeof(lists) / sizeof(lists[0]); l++) {
		if (!lists[l])
			continue;
		char *dup = cw_strdup(lists[l]), *save = NULL;
		for (char *dir = strtok_r(dup, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
			char path[PATH_MAX];
			bool orig = !strncmp(dir, "$ORIGIN", 7);
			int len = snprintf(path, sizeof(path), "%s%s/%s", orig ? origin : "", orig ? dir + 7 : dir, name);
			if (len < (int)sizeof(path) && !access(path, R_OK) && !cw_cfg_open(g, path, &o)) {
				free(dup);
				return o;
			}
		}
		free(dup);
	}
	return NULL;
}

int cw_cfg_scope_exe(struct cw_cfg *g, const char *path, struct cw_cfg_scope **out)
{
	struct cw_cfg_obj *o;
	*out = NULL;
	int err = cw_cfg_open(g, path, &o);
	if (err)
		return err;
	struct cw_cfg_scope *sc = cw_calloc(1, sizeof(*sc));
	scope_add(sc, o);
	for (size_t q = 0; q < sc->n; q++)
		for (size_t d = 0; d < sc->v[q].o->nneeded; d++) {
			const char *name = sc->v[q].o->needed[d];
			bool have = false;
			for (size_t i = 0; i < sc->n && !have; i++)
				have = names_lib(sc->v[i].o, name);
			if (have)
				continue;
			struct cw_cfg_obj *lib = find_lib(g, sc->v[q].o, name);
			if (!lib)
				cw_dbg("%s: needed library %s not found", sc->v[q].o->path, name);
			else if (!scope_has(sc, lib))
				scope_add(sc, lib);
		}
	*out = sc;
	return 0;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static bool exports(const struct cw_cfg_obj *o, const char *name)
{
	return bsearch(&name, o->exports, o->nexports, sizeof(*o->exports), name_cmp) != NULL;
}

int cw_cfg_scope_resolve(const struct cw_cfg_scope *sc, const char *name, struct cw_cfg_obj **obj,
			 const struct cw_func **f)
{
	for (size_t i = 0; i < sc->n; i++) {
		struct cw_cfg_obj *o = sc->v[i].o;
		if (!exports(o, name) || cw_cfg_func(o, name, f))
			continue;
		*obj = o;
		return 0;
	}
	return -ENOENT;
}

int cw_cfg_scope_func_at(const struct cw_cfg_scope *sc, uint64_t addr, struct cw_cfg_obj **obj,
			 const struct cw_func **f)
{
	for (size_t i = 0; i < sc->n; i++)
		if (addr >= sc->v[i].lo && addr < sc->v[i].hi) {
			*obj = sc->v[i].o;
			return cw_cfg_func_at(sc->v[i].o, addr - sc->v[i].bias, f);
		}
	return -ENOENT;
}

static const char *base_of(const char *p)
{
	const char *s = strrchr(p, '/');
	return s ? s + 1 : p;
}

/* Does the first L bytes of SPEC name O: its basename, soname, or a path to the same file (objects are
 * kept under their canonical path: /lib/x86_64-linux-gnu/libc.so.6 is /usr/lib/x86_64-linux-gnu/...)? */
static bool names_obj(const struct cw_cfg_obj *o, const char *spec, size_t l)
{
	const char *b = base_of(o->path), *so = cw_cfg_obj_soname(o);
	char path[PATH_MAX], real[PATH_MAX];
	if ((strlen(b) == l && !strncmp(b, spec, l)) || (strlen(so) == l && !strncmp(so, spec, l)))
		return true;
	if (l >= sizeof(path) || !memchr(spec, '/', l))
		return false;
	memcpy(path, spec, l);
	path[l] = 0;
	return realpath(path, real) && !strcmp(real, o->path);
}

int cw_cfg_scope_find(const struct cw_cfg_scope *sc, const char *spec, struct cw_cfg_obj **obj,
		      const struct cw_func **f)
{
	if (!sc->n)
		return -ENOENT;
	if (!strncmp(spec, "0x", 2)) {
		char *end;
		errno = 0;
		uint64_t a = strtoull(spec, &end, 16);
		if (*end || errno || end == spec + 2)
			return -EINVAL;
		if (sc->v[0].hi) /* a process scope: runtime addresses */
			return cw_cfg_scope_func_at(sc, a, obj, f);
		*obj = sc->v[0].o;
		return cw_cfg_func_at(*obj, a, f);
	}
	const char *colon = strrchr(spec, ':');
	for (size_t i = 0; i < sc->n; i++) {
		struct cw_cfg_obj *o = sc->v[i].o;
		const char *name = spec;
		if (colon) {
			if (!names_obj(o, spec, colon - spec))
				continue;
			name = colon + 1;
		}
		/* main through _start only for the executable: a library's entry point is no _start */
		if ((i == 0 && !strcmp(name, "main") && !cw_cfg_main(o, f)) || !cw_cfg_func(o, name, f)) {
			*obj = o;
			return 0;
		}
	}
	return -ENOENT;
}

void cw_cfg_scope_spec(const struct cw_cfg_scope *sc, const struct cw_cfg_obj *o, const struct cw_func *f,
		       char *buf, size_t len)
{
	if (sc->n && sc->v[0].o == o)
		snprintf(buf, len, "%s", f->name);
	else
		snprintf(buf, len, "%s:%s", cw_cfg_obj_soname(o), f->name);
}

/* ---- callers across objects ---- */

static int import_cmp(const void *a, const void *b)
{
	const struct cfg_import *x = a, *y = b;
	int d = strcmp(x->name, y->name);
	return d ? d : (x->site->addr > y->site->addr) - (x->site->addr < y->site->addr);
}

static void build_imports(struct cw_cfg_obj *o)
{
	size_t cap = 0;
	cw_cfg_decode_all(o, NULL);
	for (size_t i = 0; i < o->nfuncs; i++) {
		if (cw_cfg_is_cold(o->funcs[i].name))
			continue; /* listed with the function they belong to */
		for (size_t k = 0; k < o->fs[i].n; k++) {
			const struct cw_site *s = &o->fs[i].sites[k];
			if (s->kind != CW_SITE_IMPORT)
				continue;
			if (o->nimports == cap) {
				cap = cap ? 2 * cap : 64;
				o->imports = cw_realloc(o->imports, cap * sizeof(*o->imports));
			}
			o->imports[o->nimports++] = (struct cfg_import){ s->callee, i, s };
		}
	}
	qsort(o->imports, o->nimports, sizeof(*o->imports), import_cmp);
	o->imports_built = true;
}

static void xadd(struct cw_cfg_xcaller **v, size_t *n, size_t *cap, struct cw_cfg_xcaller x)
{
	if (*n == *cap) {
		*cap = *cap ? 2 * *cap : 16;
		*v = cw_realloc(*v, *cap * sizeof(**v));
	}
	(*v)[(*n)++] = x;
}

int cw_cfg_scope_callers(const struct cw_cfg_scope *sc, struct cw_cfg_obj *o, const struct cw_func *f,
			 struct cw_cfg_xcaller **out, size_t *n)
{
	const struct cw_caller *loc;
	size_t nloc, cap = 0;
	*out = NULL;
	*n = 0;
	int err = cw_cfg_callers(o, f, &loc, &nloc);
	if (err)
		return err;
	for (size_t i = 0; i < nloc; i++)
		xadd(out, n, &cap, (struct cw_cfg_xcaller){ o, loc[i].func, loc[i].site });
	/* the exported names of F: an importer may use any alias */
	for (size_t e = 0; e < o->nexports; e++) {
		const struct cw_func *ef;
		const char *name = o->exports[e];
		if (cw_cfg_func(o, name, &ef) || ef->start != f->start)
			continue;
		for (size_t i = 0; i < sc->n; i++) {
			struct cw_cfg_obj *x = sc->v[i].o, *def;
			const struct cw_func *df;
			if (!x->imports_built)
				build_imports(x);
			/* interposition: the name must resolve to O for this importer */
			if (cw_cfg_scope_resolve(sc, name, &def, &df) || def != o)
				continue;
			struct cfg_import key = { name, 0, NULL };
			size_t lo = 0, hi = x->nimports;
			while (lo < hi) {
				size_t mid = lo + (hi - lo) / 2;
				if (strcmp(x->imports[mid].name, key.name) < 0)
					lo = mid + 1;
				else
					hi = mid;
			}
			for (; lo < x->nimports && !strcmp(x->imports[lo].name, name); lo++)
				xadd(out, n, &cap,
				     (struct cw_cfg_xcaller){ x, &x->funcs[x->imports[lo].func], x->imports[lo].site });
		}
	}
	return 0;
}

/* ---- main ---- */

int cw_cfg_main(struct cw_cfg_obj *o, const struct cw_func **f)
{
	if (o->err)
		return o->err;
	if (!cw_cfg_func(o, "main", f))
		return 0;
	/* stripped: _start passes main to __libc_start_main in %rdi (lea main(%rip) or mov $main) */
	ZydisDecodedInstruction in;
	ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
	uint64_t a = o->entry, rdi = 0;
	for (int k = 0; k < 32; k++) {
		size_t avail;
		const uint8_t *p = cw_cfg_code(o, a, &avail);
		if (!p || ZYAN_FAILED(ZydisDecoderDecodeFull(&o->g->dec, p, avail, &in, ops)))
			break;
		if (in.meta.category == ZYDIS_CATEGORY_CALL)
			return rdi ? cw_cfg_func_at(o, rdi, f) : -ENOENT;
		if (in.operand_count_visible >= 2 && ops[0].type == ZYDIS_OPERAND_TYPE_REGISTER &&
		    ops[0].reg.value == ZYDIS_REGISTER_RDI) {
			if (in.mnemonic == ZYDIS_MNEMONIC_LEA && ops[1].mem.base == ZYDIS_REGISTER_RIP)
				rdi = a + in.length + ops[1].mem.disp.value;
			else if (in.mnemonic == ZYDIS_MNEMONIC_MOV && ops[1].type == ZYDIS_OPERAND_TYPE_IMMEDIATE)
				rdi = ops[1].imm.value.u;
			else
				rdi = 0;
		}
		a += in.length;
	}
	return -ENOENT;
}

/* ---- reachability of syscalls ---- */

struct qent {
	struct cw_cfg_obj *o;
	size_t idx;
	int depth;
};

int cw_cfg_reaches_syscall(struct cw_cfg_obj *o, const struct cw_cfg_scope *sc, const struct cw_func *f,
			   int max_depth, struct cw_cfg_reach *out)
{
	if (o->err)
		return o->err;
	ssize_t fi = f ? cw_cfg_func_idx(o, f->start) : -1;
	if (fi < 0)
		return -ENOENT;
	/* breadth-first; the queue doubles as the visited set (small: a few thousand at depth 4 in libc) */
	struct qent *q = cw_malloc(64 * sizeof(*q));
	size_t n = 0, cap = 64, head = 0;
	size_t hcap = 1024, hn = 0;
	uint64_t *seen = cw_calloc(hcap, sizeof(*seen)); /* hash of (object, function index) + 1 */
	int rc = 0;
	q[n++] = (struct qent){ o, (size_t)fi, 0 };
	while (head < n) {
		struct qent e = q[head++];
		cw_cfg_decode_idx(e.o, e.idx);
		const struct cfg_fstate *fs = &e.o->fs[e.idx];
		for (size_t k = 0; k < fs->n; k++)
			if (fs->sites[k].kind == CW_SITE_SYSCALL) {
				*out = (struct cw_cfg_reach){ e.depth, e.o, &e.o->funcs[e.idx], &fs->sites[k] };
				rc = 1;
				goto out;
			}
		if (e.depth >= max_depth)
			continue;
		for (size_t k = 0; k < fs->n; k++) {
			const struct cw_site *s = &fs->sites[k];
			struct cw_cfg_obj *to = e.o;
			const struct cw_func *tf = NULL;
			ssize_t ti = -1;
			if (s->kind == CW_SITE_CALL)
				ti = cw_cfg_func_idx(e.o, s->target);
			else if (s->kind == CW_SITE_IMPORT && sc && !cw_cfg_scope_resolve(sc, s->callee, &to, &tf))
				ti = cw_cfg_func_idx(to, tf->start);
			if (ti < 0)
				continue;
			uint64_t key = ((uint64_t)(uintptr_t)to * 0x9e3779b97f4a7c15ull) ^ (uint64_t)ti * 0xff51afd7ed558ccdull;
			key = key ? key : 1;
			if (2 * (hn + 1) > hcap) {
				uint64_t *old = seen;
				size_t ocap = hcap;
				hcap *= 2;
				seen = cw_calloc(hcap, sizeof(*seen));
				for (size_t j = 0; j < ocap; j++)
					if (old[j]) {
						size_t h = old[j] & (hcap - 1);
						while (seen[h])
							h = (h + 1) & (hcap - 1);
						seen[h] = old[j];
					}
				free(old);
			}
			size_t h = key & (hcap - 1);
			while (seen[h] && seen[h] != key)
				h = (h + 1) & (hcap - 1);
			if (seen[h])
				continue;
			seen[h] = key;
			hn++;
			if (n == cap) {
				cap *= 2;
				q = cw_realloc(q, cap * sizeof(*q));
			}
			q[n++] = (struct qent){ to, (size_t)ti, e.depth + 1 };
		}
	}
out:
	free(q);
	free(seen);
	return rc;
}
