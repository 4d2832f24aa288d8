/* The symbolizer: a cache of parsed objects (keyed by path + dev + inode), the kernel table, and an
 * address -> result cache so that the frames repeated across a profile's stacks are looked up once. */
#include "sym/sym_int.h"
#include "util/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <unistd.h>

#define KERNEL_GEN UINT64_MAX /* the address cache's key space for kernel addresses */

struct acache_ent {
	uint64_t gen, addr; /* gen 0: empty slot */
	struct cw_sym sym;
	int rc;
};

struct cw_syms {
	struct cw_obj **otab; /* hash of objects, chained through obj->next */
	size_t ocap, on;
	struct cw_obj *mem_objs; /* from cw_syms_funcs_mem */
	struct cw_obj *vdso;
	bool vdso_tried;
	struct cw_ktab ktab;
	struct acache_ent *ac;
	size_t accap, acn;
	char **names; /* interned names of special mappings ("[heap]", "") */
	size_t ncap, nn;
};

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	x ^= x >> 33;
	return x;
}

static uint64_t strhash(const char *s)
{
	uint64_t h = 1469598103934665603ull;
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 1099511628211ull;
	return h;
}

struct cw_syms *cw_syms_new(void)
{
	struct cw_syms *s = cw_calloc(1, sizeof(*s));
	s->ocap = 64;
	s->otab = cw_calloc(s->ocap, sizeof(*s->otab));
	return s;
}

static void obj_free(struct cw_obj *o)
{
	if (!o)
		return;
	cw_obj_release(o);
	free(o);
}

void cw_syms_free(struct cw_syms *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->ocap; i++)
		for (struct cw_obj *o = s->otab[i], *n; o; o = n) {
			n = o->next;
			obj_free(o);
		}
	for (struct cw_obj *o = s->mem_objs, *n; o; o = n) {
		n = o->next;
		obj_free(o);
	}
	obj_free(s->vdso);
	free(s->otab);
	cw_ktab_release(&s->ktab);
	free(s->ac);
	for (size_t i = 0; i < s->ncap; i++)
		free(s->names ? s->names[i] : NULL);
	free(s->names);
	free(s);
}

/* An owned copy of a special mapping's name, so that results outlive the maps snapshot. */
static const char *intern(struct cw_syms *s, const char *name)
{
	if (s->nn * 2 >= s->ncap) {
		size_t ncap = s->ncap ? 2 * s->ncap : 32;
		char **n = cw_calloc(ncap, sizeof(*n));
		for (size_t i = 0; i < s->ncap; i++)
			if (s->names[i]) {
				size_t j = strhash(s->names[i]) & (ncap - 1);
				while (n[j])
					j = (j + 1) & (ncap - 1);
				n[j] = s->names[i];
			}
		free(s->names);
		s->names = n;
		s->ncap = ncap;
	}
	size_t j = strhash(name) & (s->ncap - 1);
	for (; s->names[j]; j = (j + 1) & (s->ncap - 1))
		if (!strcmp(s->names[j], name))
			return s->names[j];
	s->nn++;
	return s->names[j] = cw_strdup(name);
}

static void obj_init(struct cw_obj *o, const char *path)
{
	o->path = cw_strdup(path);
	char base[256];
	const char *sl = strrchr(path, '/');
	snprintf(base, sizeof(base), "%s", sl ? sl + 1 : path);
	char *del = strstr(base, " (deleted)");
	if (del)
		*del = 0;
	o->base = cw_arena_strdup(&o->strings, base);
}

/* Opens the file of an object: by its path when that is still the file that was mapped, else through
 * /proc/PID/map_files (deleted or replaced files of a live process). */
static int obj_open(const char *path, uint64_t dev, uint64_t ino, pid_t pid, const struct cw_map *map)
{
	char real[4096], mf[96];
	snprintf(real, sizeof(real), "%s", path);
	size_t l = strlen(real), dl = strlen(" (deleted)");
	bool deleted = l > dl && !strcmp(real + l - dl, " (deleted)");
	if (deleted)
		real[l - dl] = 0;
	int fd = deleted ? -1 : open(real, O_RDONLY | O_CLOEXEC);
	bool stale = false;
	struct stat st;
	if (fd >= 0 && ino)
		stale = fstat(fd, &st) || st.st_ino != ino || st.st_dev != dev;
	if ((fd < 0 || stale) && pid > 0 && map) {
		snprintf(mf, sizeof(mf), "/proc/%d/map_files/%llx-%llx", (int)pid, (unsigned long long)map->start,
			 (unsigned long long)map->end);
		int fd2 = open(mf, O_RDONLY | O_CLOEXEC);
		if (fd2 >= 0) {
			if (fd >= 0)
				close(fd);
			fd = fd2;
		} else if (stale) {
			cw_dbg("%s: may not be the file that was mapped (inode differs)", real);
		}
	}
	return fd >= 0 ? fd : -errno;
}

static struct cw_obj *vdso_obj(struct cw_syms *s)
{
	if (s->vdso_tried)
		return s->vdso;
	s->vdso_tried = true;
	/* every process of this kernel maps the same vdso image: read our own instead of the target's */
	uint64_t base = getauxval(AT_SYSINFO_EHDR);
	struct cw_proc_maps m;
	if (!base || cw_proc_maps_read(getpid(), &m))
		return NULL;
	const struct cw_map *mp = cw_proc_maps_find(&m, base);
	if (mp && !strcmp(mp->path, "[vdso]")) {
		struct cw_obj *o = cw_calloc(1, sizeof(*o));
		obj_init(o, "[vdso]");
		if (cw_obj_load(o, -1, (const void *)(uintptr_t)base, mp->end - base, false))
			cw_dbg("[vdso]: cannot parse its ELF image");
		s->vdso = o;
	}
	cw_proc_maps_free(&m);
	return s->vdso;
}

static uint64_t okey(const char *path, uint64_t dev, uint64_t ino)
{
	return mix(strhash(path) ^ mix(dev * 31 + ino));
}

/* The object for PATH (dev/ino as the mapping gives them, 0 when unknown); parsed on first use. NULL for
 * special mappings with no file. The object may carry an error (obj->err). */
static struct cw_obj *obj_get(struct cw_syms *s, const char *path, uint64_t dev, uint64_t ino, pid_t pid,
			      const struct cw_map *map)
{
	if (!strcmp(path, "[vdso]"))
		return vdso_obj(s);
	if (path[0] != '/')
		return NULL; /* anonymous, [heap], [stack], [vsyscall], memfd names without a path */
	uint64_t h = okey(path, dev, ino);
	for (struct cw_obj *o = s->otab[h & (s->ocap - 1)]; o; o = o->next) {
		if (o->dev != dev || o->ino != ino || strcmp(o->path, path))
			continue;
		/* a file that could not be opened by path (deleted) may open through a live process's map_files */
		if (o->err && o->open_failed && pid > 0 && map && pid != o->retried_pid) {
			o->retried_pid = pid; /* once per process: a gone one would fail on every address */
			int fd = obj_open(path, dev, ino, pid, map);
			if (fd >= 0) {
				o->open_failed = false;
				cw_obj_load(o, fd, NULL, 0, true);
				close(fd);
			}
		}
		return o;
	}
	if (s->on * 2 >= s->ocap) {
		size_t ncap = s->ocap * 2;
		struct cw_obj **nt = cw_calloc(ncap, sizeof(*nt));
		for (size_t i = 0; i < s->ocap; i++)
			for (struct cw_obj *o = s->otab[i], *n; o; o = n) {
				n = o->next;
				size_t j = okey(o->path, o->dev, o->ino) & (ncap - 1);
				o->next = nt[j];
				nt[j] = o;
			}
		free(s->otab);
		s->otab = nt;
		s->ocap = ncap;
	}
	struct cw_obj *o = cw_calloc(1, sizeof(*o));
	obj_init(o, path);
	o->dev = dev;
	o->ino = ino;
	int fd = obj_open(path, dev, ino, pid, map);
	if (fd < 0) {
		o->err = fd;
		o->open_failed = true;
	} else {
		if (cw_obj_load(o, fd, NULL, 0, true))
			cw_dbg("%s: not a usable ELF object (%s)", path, strerror(-o->err));
		close(fd);
	}
	size_t j = h & (s->ocap - 1);
	o->next = s->otab[j];
	s->otab[j] = o;
	s->on++;
	return o;
}

/* The object a caller names by path (cw_syms_funcs and friends). */
static int obj_by_path(struct cw_syms *s, const char *path, struct cw_obj **out)
{
	struct stat st;
	if (!strcmp(path, "[vdso]")) {
		*out = vdso_obj(s);
		return *out ? (*out)->err : -ENOENT;
	}
	/* the canonical path, as the kernel names mappings, so that both ways reach one object */
	char real[4096];
	if (!realpath(path, real) || stat(real, &st))
		return -errno;
	*out = obj_get(s, real, st.st_dev, st.st_ino, 0, NULL);
	if (!*out)
		return -ENOENT;
	return (*out)->err;
}

/* ---- address cache ---- */

static struct acache_ent *ac_slot(struct cw_syms *s, uint64_t gen, uint64_t addr)
{
	size_t mask = s->accap - 1, j = mix(addr ^ gen * 0x9e3779b97f4a7c15ull) & mask;
	while (s->ac[j].gen && (s->ac[j].gen != gen || s->ac[j].addr != addr))
		j = (j + 1) & mask;
	return &s->ac[j];
}

static const struct acache_ent *ac_get(struct cw_syms *s, uint64_t gen, uint64_t addr)
{
	if (!s->accap)
		return NULL;
	struct acache_ent *e = ac_slot(s, gen, addr);
	return e->gen ? e : NULL;
}

static void ac_put(struct cw_syms *s, uint64_t gen, uint64_t addr, const struct cw_sym *sym, int rc)
{
	if ((s->acn + 1) * 2 > s->accap) {
		struct acache_ent *old = s->ac;
		size_t ocap = s->accap;
		s->accap = ocap ? 2 * ocap : 4096;
		s->ac = cw_calloc(s->accap, sizeof(*s->ac));
		for (size_t i = 0; i < ocap; i++)
			if (old[i].gen)
				*ac_slot(s, old[i].gen, old[i].addr) = old[i];
		free(old);
	}
	struct acache_ent *e = ac_slot(s, gen, addr);
	if (!e->gen)
		s->acn++;
	*e = (struct acache_ent){ gen, addr, *sym, rc };
}

/* ---- lookups ---- */

static int user_lookup(struct cw_syms *s, const struct cw_proc_maps *m, uint64_t addr, struct cw_sym *out)
{
	const struct cw_map *map = cw_proc_maps_find(m, addr);
	if (!map)
		return -ENOENT;
	struct cw_obj *o = obj_get(s, map->path, map->dev, map->ino, m->pid, map);
	if (!o) {
		out->obj = intern(s, map->path);
		return -ENOENT;
	}
	out->obj = o->path;
	uint64_t v;
	const struct cw_func *f;
	if (o->err || cw_obj_to_vaddr(o, addr - map->start + map->pgoff, &v) || !(f = cw_obj_lookup(o, v)))
		return -ENOENT;
	out->name = f->name;
	out->func = f->start;
	out->offset = v - f->start;
	return 0;
}

int cw_syms_user(struct cw_syms *s, const struct cw_proc_maps *m, uint64_t addr, struct cw_sym *out)
{
	const struct acache_ent *e = m->gen ? ac_get(s, m->gen, addr) : NULL;
	if (e) {
		*out = e->sym;
		return e->rc;
	}
	memset(out, 0, sizeof(*out));
	int rc = user_lookup(s, m, addr, out);
	if (m->gen)
		ac_put(s, m->gen, addr, out, rc);
	return rc;
}

static int ktab_ensure(struct cw_syms *s)
{
	if (s->ktab.loaded)
		return s->ktab.err;
	size_t len;
	char *text = cw_read_file("/proc/kallsyms", &len);
	if (!text) {
		s->ktab.loaded = true;
		s->ktab.err = -errno;
		cw_err("/proc/kallsyms: %s", strerror(errno));
		return s->ktab.err;
	}
	int err = cw_ktab_parse(&s->ktab, text, len);
	free(text);
	if (err == -EPERM)
		cw_err("/proc/kallsyms: addresses hidden (kernel.kptr_restrict; needs root)");
	else if (err)
		cw_err("/proc/kallsyms: unexpected format");
	return err;
}

int cw_syms_kernel(struct cw_syms *s, uint64_t addr, struct cw_sym *out)
{
	const struct acache_ent *e = ac_get(s, KERNEL_GEN, addr);
	if (e) {
		*out = e->sym;
		return e->rc;
	}
	memset(out, 0, sizeof(*out));
	out->kernel = true;
	int rc = ktab_ensure(s);
	if (rc)
		return rc; /* not cached: nothing can be found anyway */
	const struct cw_ksym *k = cw_ktab_lookup(&s->ktab, addr, NULL);
	if (k) {
		out->name = k->name;
		out->obj = k->obj;
		out->func = k->addr;
		out->offset = addr - k->addr;
	} else {
		out->obj = "[kernel]";
		rc = -ENOENT;
	}
	ac_put(s, KERNEL_GEN, addr, out, rc);
	return rc;
}

int cw_syms_kernel_find(struct cw_syms *s, const char *name, uint64_t *addr, uint64_t *size)
{
	int err = ktab_ensure(s);
	if (err)
		return err;
	const struct cw_ksym *k = cw_ktab_find(&s->ktab, name, size);
	if (!k)
		return -ENOENT;
	*addr = k->addr;
	return 0;
}

int cw_syms_to_vaddr(struct cw_syms *s, const struct cw_map *map, uint64_t addr, uint64_t *vaddr)
{
	struct cw_obj *o = obj_get(s, map->path, map->dev, map->ino, 0, map);
	if (!o)
		return -ENOENT;
	if (o->err)
		return o->err;
	if (addr < map->start || addr >= map->end)
		return -ENOENT;
	return cw_obj_to_vaddr(o, addr - map->start + map->pgoff, vaddr);
}

int cw_syms_funcs(struct cw_syms *s, const char *path, const struct cw_func **funcs, size_t *n)
{
	struct cw_obj *o;
	int err = obj_by_path(s, path, &o);
	if (err)
		return err;
	*funcs = o->funcs;
	*n = o->nfuncs;
	return 0;
}

int cw_syms_funcs_mem(struct cw_syms *s, const void *buf, size_t len, const char *name,
		      const struct cw_func **funcs, size_t *n)
{
	struct cw_obj *o = cw_calloc(1, sizeof(*o));
	obj_init(o, name);
	o->next = s->mem_objs;
	s->mem_objs = o;
	int err = cw_obj_load(o, -1, buf, len, false);
	if (err)
		return err;
	*funcs = o->funcs;
	*n = o->nfuncs;
	return 0;
}

int cw_syms_find(struct cw_syms *s, const char *path, const char *name, const struct cw_func **out)
{
	struct cw_obj *o;
	int err = obj_by_path(s, path, &o);
	if (err)
		return err;
	/* "memcpy@GLIBC_2.14" -> "memcpy"; "puts@plt" names the PLT stub and stays */
	char buf[512];
	const char *at = strchr(name, '@');
	if (at && strcmp(at, "@plt") && (size_t)(at - name) < sizeof(buf)) {
		memcpy(buf, name, at - name);
		buf[at - name] = 0;
		name = buf;
	}
	*out = cw_obj_find(o, name);
	return *out ? 0 : -ENOENT;
}

int cw_syms_obj_info(struct cw_syms *s, const char *path, struct cw_obj_info *info)
{
	struct cw_obj *o;
	int err = obj_by_path(s, path, &o);
	if (err)
		return err;
	*info = (struct cw_obj_info){ o->table, o->debug_file, o->build_id, o->nfuncs, o->nnamed };
	return 0;
}
