/* Internals of the symbolizer shared by its files: loaded objects, the kernel table, string arenas. */
#ifndef CW_SYM_INT_H
#define CW_SYM_INT_H

#include "sym/sym.h"

/* Strings that live as long as their owner, allocated in chunks so that thousands of names cost a few
 * mallocs. */
struct cw_arena {
	struct cw_arena_chunk *head;
};
char *cw_arena_strdup(struct cw_arena *a, const char *s);
char *cw_arena_printf(struct cw_arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void cw_arena_free(struct cw_arena *a);

struct cw_seg {
	uint64_t off, filesz, vaddr, memsz;
	bool exec;
};

/* One ELF object, parsed once. err != 0 marks an object that could not be used (a negative cache entry). */
struct cw_obj {
	char *path;	/* as the mapping names it */
	const char *base;
	uint64_t dev, ino;
	int err;
	bool open_failed; /* err is from opening the file: a later lookup with a live pid may retry */
	pid_t retried_pid;
	struct cw_seg *segs;
	size_t nsegs;
	struct cw_func *funcs; /* one per start, sorted by start */
	size_t nfuncs, nnamed;
	struct cw_func *byname; /* every name (aliases too), sorted by name */
	size_t nbyname;
	const char *table, *debug_file, *build_id;
	struct cw_arena strings;
	struct cw_obj *next; /* hash chain / list */
};

/* Parse the ELF image at FD (or, when fd < 0, in BUF/LEN) into OBJ (whose path/base are set). DEBUG: look
 * for separate debug info. Returns 0 or -errno (also stored in obj->err). */
int cw_obj_load(struct cw_obj *obj, int fd, const void *buf, size_t len, bool debug);
void cw_obj_release(struct cw_obj *obj); /* frees the contents, not OBJ */
/* Function covering ELF vaddr V, or NULL. */
const struct cw_func *cw_obj_lookup(const struct cw_obj *obj, uint64_t v);
const struct cw_func *cw_obj_find(const struct cw_obj *obj, const char *name);
int cw_obj_to_vaddr(const struct cw_obj *obj, uint64_t off, uint64_t *vaddr);

struct cw_ksym {
	uint64_t addr;
	const char *name;
	const char *obj; /* "[kernel]" or "[module]" */
	int rank;
};
struct cw_ktab {
	int err; /* 0 when loaded */
	bool loaded;
	struct cw_ksym *syms; /* sorted by address, one per address */
	size_t n;
	struct cw_ksym *byname; /* every symbol, sorted by name (built on first cw_syms_kernel_find) */
	size_t nbyname;
	struct cw_arena strings;
};
/* Parse kallsyms text; -EPERM when every address reads 0 (kptr_restrict). */
int cw_ktab_parse(struct cw_ktab *k, const char *text, size_t len);
void cw_ktab_release(struct cw_ktab *k);
const struct cw_ksym *cw_ktab_lookup(const struct cw_ktab *k, uint64_t addr, uint64_t *size);
const struct cw_ksym *cw_ktab_find(struct cw_ktab *k, const char *name, uint64_t *size);

/* Of two names for one address (same binding rank), the one to show: fewer leading underscores ("read"
 * over "__libc_read"), then the shorter, then alphabetical. Negative: A wins. Used for ELF and kernel symbols. */
int cw_sym_name_prefer(const char *a, const char *b);

#endif
