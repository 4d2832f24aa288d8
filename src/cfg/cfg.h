/* Static call graph of x86-64 ELF objects, decoded with Zydis: call sites, PLT/GOT imports, tail calls,
 * indirect sites, syscall sites with their numbers.
 *
 * A cw_cfg is a cache of objects (keyed by path + dev + inode). Function boundaries come from the
 * symbolizer (cw_syms_funcs: symtab, or dynsym + eh_frame); each function is decoded on first use, so
 * asking for main's callees in a large binary decodes main only. Addresses are ELF virtual addresses of
 * the object; a scope (the objects of a process, or of an executable and its DT_NEEDED libraries) adds load
 * biases and resolves imported names to the library that defines them, in the dynamic linker's order.
 *
 * Strings and sites returned are owned by the cw_cfg and live until cw_cfg_free(). Not thread-safe.
 * Functions returning int return 0 or a negative errno. */
#ifndef CW_CFG_H
#define CW_CFG_H

#include "sym/sym.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum cw_site_kind {
	CW_SITE_CALL,	  /* to a function of the same object: target is its start, callee its name */
	CW_SITE_IMPORT,	  /* through the PLT or the GOT to an imported symbol: callee is the symbol's name */
	CW_SITE_INDIRECT, /* call *%rax, call *0x10(%rdi), IFUNC slots: the target is known only at run time */
	CW_SITE_SYSCALL,  /* the syscall instruction */
};

struct cw_site {
	uint64_t addr;	     /* ELF vaddr of the instruction */
	uint64_t target;     /* CALL: callee start (or the address jumped to); IMPORT: the stub or GOT slot */
	const char *callee;  /* CALL: function name; IMPORT: symbol; INDIRECT: IFUNC resolver's name or NULL;
				SYSCALL: syscall name or NULL */
	const char *kentry;  /* SYSCALL (or an IMPORT of syscall()): kernel entry, "__x64_sys_read", or NULL */
	int nr;		     /* SYSCALL: number, -1 when not found; IMPORT of syscall(): its first argument */
	uint8_t len;	     /* instruction length */
	uint8_t kind;	     /* enum cw_site_kind */
	bool tail;	     /* a jmp (tail call), not a call */
	bool in_cold;	     /* the site lies in the function's .cold part */
};

struct cw_cfg;
struct cw_cfg_obj;

/* SYMS: the function tables (borrowed; must outlive the cw_cfg); NULL: the cw_cfg makes its own. */
struct cw_cfg *cw_cfg_new(struct cw_syms *syms);
void cw_cfg_free(struct cw_cfg *g); /* accepts NULL */
struct cw_syms *cw_cfg_syms(struct cw_cfg *g);

/* The object at PATH (opened once; -ENOEXEC when it is not an x86-64 ELF object). */
int cw_cfg_open(struct cw_cfg *g, const char *path, struct cw_cfg_obj **out);
const char *cw_cfg_obj_path(const struct cw_cfg_obj *o);
const char *cw_cfg_obj_soname(const struct cw_cfg_obj *o); /* DT_SONAME, else the basename */
/* A function by name (cw_syms_find rules) or the one covering an ELF vaddr; -ENOENT when none. */
int cw_cfg_func(struct cw_cfg_obj *o, const char *name, const struct cw_func **f);
int cw_cfg_func_at(struct cw_cfg_obj *o, uint64_t vaddr, const struct cw_func **f);
/* main: by name, else (stripped executables) the address _start passes to __libc_start_main. */
int cw_cfg_main(struct cw_cfg_obj *o, const struct cw_func **f);

/* The call and syscall sites of function F, in address order (its .cold part last). Decodes F on first use. */
int cw_cfg_callees(struct cw_cfg_obj *o, const struct cw_func *f, const struct cw_site **sites, size_t *n);
/* The address range [start, end) that F's decoding covered (its extent, not its .cold part): what an
 * instrumenter may patch. */
int cw_cfg_func_range(struct cw_cfg_obj *o, const struct cw_func *f, uint64_t *start, uint64_t *end);

/* Callers of F inside the same object (direct calls and tail calls); decodes the whole object on first
 * use. The array lives until cw_cfg_free(). */
struct cw_caller {
	const struct cw_func *func; /* the calling function */
	const struct cw_site *site;
};
int cw_cfg_callers(struct cw_cfg_obj *o, const struct cw_func *f, const struct cw_caller **callers, size_t *n);

/* Decode every function of O (what cw_cfg_callers does first); counts for diagnostics. */
struct cw_cfg_stats {
	size_t funcs, decoded, insns, sites, syscalls, bad; /* bad: functions where decoding stopped early */
};
int cw_cfg_decode_all(struct cw_cfg_obj *o, struct cw_cfg_stats *st);

/* ---- scopes: objects loaded together ---- */

struct cw_cfg_scope;
/* The file-backed executable mappings of a process, the executable first, then its libraries in the
 * dynamic linker's search order (DT_NEEDED breadth-first), then the rest (dlopen'ed) by address. */
int cw_cfg_scope_proc(struct cw_cfg *g, const struct cw_proc_maps *m, struct cw_cfg_scope **out);
/* An executable and its DT_NEEDED closure found as ld.so would (RPATH/RUNPATH with $ORIGIN, the default
 * directories; no ld.so.cache), all with bias 0. Libraries that cannot be found are skipped (cw_dbg). */
int cw_cfg_scope_exe(struct cw_cfg *g, const char *path, struct cw_cfg_scope **out);
void cw_cfg_scope_free(struct cw_cfg_scope *sc); /* accepts NULL */
size_t cw_cfg_scope_count(const struct cw_cfg_scope *sc);
/* The I-th object and its load bias (runtime address = ELF vaddr + bias; 0 for cw_cfg_scope_exe). */
struct cw_cfg_obj *cw_cfg_scope_obj(const struct cw_cfg_scope *sc, size_t i, uint64_t *bias);
/* The object defining NAME as ld.so binds an import of it: the first in scope order that exports a function
 * of that name, the importing object included in its place (a library calling its own exported function
 * through its PLT gets its own unless the executable or an earlier library interposes); -ENOENT when none. */
int cw_cfg_scope_resolve(const struct cw_cfg_scope *sc, const char *name, struct cw_cfg_obj **obj,
			 const struct cw_func **f);
/* The function covering a runtime address. */
int cw_cfg_scope_func_at(const struct cw_cfg_scope *sc, uint64_t addr, struct cw_cfg_obj **obj,
			 const struct cw_func **f);

/* Callers of F (of object O) across the scope: those inside O (cw_cfg_callers) and the import sites of
 * every object (O's own PLT calls included) that bind to F under any of its exported names (read, __read).
 * Decodes every object of the scope on first use. *OUT is malloc'd (the caller frees it). */
struct cw_cfg_xcaller {
	struct cw_cfg_obj *obj;
	const struct cw_func *func;
	const struct cw_site *site;
};
int cw_cfg_scope_callers(const struct cw_cfg_scope *sc, struct cw_cfg_obj *o, const struct cw_func *f,
			 struct cw_cfg_xcaller **out, size_t *n);

/* A function named the way crosswalk's commands name them: NAME (searched in scope order, the executable
 * first; "main" also finds a stripped executable's main), OBJECT:NAME (OBJECT a path, basename or soname:
 * "libc.so.6:read"), or 0xADDR (a runtime address in a process scope, else an ELF vaddr of the first
 * object). -ENOENT when none, -EINVAL for a malformed address. */
int cw_cfg_scope_find(const struct cw_cfg_scope *sc, const char *spec, struct cw_cfg_obj **obj,
		      const struct cw_func **f);
/* The inverse: "NAME" for a function of the scope's first object (the executable), else "SONAME:NAME";
 * truncated to LEN. */
void cw_cfg_scope_spec(const struct cw_cfg_scope *sc, const struct cw_cfg_obj *o, const struct cw_func *f,
		       char *buf, size_t len);

/* May F reach a syscall instruction, itself or through callees (direct, tail, and with a scope, imports)
 * within MAX_DEPTH call levels (0: F only)? Breadth-first, so the result is a shallowest one. Returns 1 and
 * fills OUT when it does, 0 when it does not (indirect sites are not followed), or a negative errno. */
struct cw_cfg_reach {
	int depth;		       /* call levels from F to the function with the syscall */
	struct cw_cfg_obj *obj;	       /* that function's object */
	const struct cw_func *func;    /* that function */
	const struct cw_site *site;    /* its syscall site */
};
int cw_cfg_reaches_syscall(struct cw_cfg_obj *o, const struct cw_cfg_scope *sc, const struct cw_func *f,
			   int max_depth, struct cw_cfg_reach *out);

/* ---- syscalls ---- */

/* The name of syscall NR ("read"), NULL when unknown (x86-64 numbering, from the kernel headers). */
const char *cw_syscall_name(int nr);
/* Its kernel entry function ("__x64_sys_read"; "__x64_sys_newuname" for uname), NULL for unknown or
 * unimplemented ones (sys_ni_syscall). */
const char *cw_syscall_kentry(int nr);
int cw_syscall_nr(const char *name); /* -ENOENT when unknown */
int cw_syscall_max(void);	      /* highest known number */

#endif
