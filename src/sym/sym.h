/* Symbolization of user and kernel addresses, and function tables of ELF objects, through elfutils.
 *
 * One cw_syms is a cache: each ELF object (keyed by path + dev + inode) is opened once; its function table
 * comes from .symtab, else .dynsym plus function starts from .eh_frame (unnamed ones are called
 * "OBJ+0xOFFSET", OBJ the file's basename, OFFSET the function's start as an ELF virtual address), and from
 * separate debug info found by build-id or .gnu_debuglink when installed (e.g. libc6-dbg). The kernel's
 * symbols come from /proc/kallsyms (modules named "[module]").
 *
 * Results of cw_syms_user (keyed by the maps snapshot's gen) and cw_syms_kernel are cached by address, so
 * repeated frames cost one hash probe. A cw_syms is not thread-safe: use one per thread.
 *
 * Strings returned (names, object paths) are owned by the cw_syms and live until cw_syms_free().
 * Functions returning int return 0 or a negative errno. */
#ifndef CW_SYM_H
#define CW_SYM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct cw_syms;

/* A snapshot of one process's memory mappings (/proc/PID/maps), kept so that addresses can be symbolized
 * after the process has exited. */
struct cw_map {
	uint64_t start, end, pgoff;
	uint64_t dev, ino;
	char perms[5];
	char *path; /* owned; "" for anonymous, "[vdso]" etc. for special mappings */
};
struct cw_proc_maps {
	pid_t pid;
	struct cw_map *maps; /* sorted by start */
	size_t n;
	uint64_t gen; /* unique per snapshot (set by read/parse; 0 in a hand-built one): keys the address cache */
};
int cw_proc_maps_read(pid_t pid, struct cw_proc_maps *out);
/* Parse the text of a maps file (LEN bytes, need not be NUL-terminated); -EINVAL on a malformed line. */
int cw_proc_maps_parse(const char *text, size_t len, pid_t pid, struct cw_proc_maps *out);
void cw_proc_maps_free(struct cw_proc_maps *m); /* accepts a zeroed struct */
const struct cw_map *cw_proc_maps_find(const struct cw_proc_maps *m, uint64_t addr);

/* One function of an object. */
struct cw_func {
	uint64_t start; /* ELF virtual address */
	uint64_t size;	/* 0 when unknown (then it ends at the next function) */
	const char *name;
	bool named;	/* false: the name is the synthesized "OBJ+0xOFFSET" */
	bool midframe;	/* its .eh_frame FDE starts with a CFA other than rsp+8: code entered by a jump from
			   inside another function's frame (gcc's .cold parts, named or not), never called;
			   set in the function table (cw_syms_funcs), not in cw_syms_find's alias entries */
};

/* The result of a lookup. */
struct cw_sym {
	const char *name;   /* function name, or "OBJ+0xOFFSET" for an unnamed function; NULL if no function */
	const char *obj;    /* object path, "[kernel]", or "[module]" */
	uint64_t func;	    /* function start: ELF vaddr for user code, kernel address for kernel code */
	uint64_t offset;    /* address - function start */
	bool kernel;
};

struct cw_syms *cw_syms_new(void);
void cw_syms_free(struct cw_syms *s); /* accepts NULL */

/* Symbolize a runtime address of the process whose mappings are M. Returns -ENOENT when the address is in
 * no file mapping or no function covers it (out->obj is still set where the mapping is known). */
int cw_syms_user(struct cw_syms *s, const struct cw_proc_maps *m, uint64_t addr, struct cw_sym *out);
/* Symbolize a kernel address. */
int cw_syms_kernel(struct cw_syms *s, uint64_t addr, struct cw_sym *out);

/* Convert a runtime address inside mapping MAP to the ELF virtual address of the object (through its
 * PT_LOAD headers); -ENOENT when no segment covers it. */
int cw_syms_to_vaddr(struct cw_syms *s, const struct cw_map *map, uint64_t addr, uint64_t *vaddr);

/* The sorted function table of an ELF object (for instrumentation and the call graph). */
int cw_syms_funcs(struct cw_syms *s, const char *path, const struct cw_func **funcs, size_t *n);
/* Find a function by name in an object (exact match on the symbol name, versions like "@GLIBC_2.2.5" ignored). */
int cw_syms_find(struct cw_syms *s, const char *path, const char *name, const struct cw_func **out);
/* The function table of an ELF image in memory (e.g. the vdso, or a fuzzer's input); NAME names it in
 * "NAME+0xOFFSET". Each call parses BUF again (BUF is not kept); the table lives until cw_syms_free(). No
 * separate debug info is looked for. -EINVAL when BUF is not a usable ELF image. */
int cw_syms_funcs_mem(struct cw_syms *s, const void *buf, size_t len, const char *name,
		      const struct cw_func **funcs, size_t *n);

/* Where an object's function table came from, for diagnostics and tests. */
struct cw_obj_info {
	const char *table;	/* "symtab", "debug-symtab" (separate debug file), "dynsym+eh_frame", "eh_frame" */
	const char *debug_file; /* the separate debug file used, or NULL */
	const char *build_id;	/* hex, or NULL */
	size_t nfuncs, nnamed;
};
int cw_syms_obj_info(struct cw_syms *s, const char *path, struct cw_obj_info *info);

/* Find a kernel function by name: its address and size (from kallsyms: size = distance to the next symbol). */
int cw_syms_kernel_find(struct cw_syms *s, const char *name, uint64_t *addr, uint64_t *size);

/* What a kernel function found at the leaf end of a sampled stack stands for:
 * CW_KLEAF_TRACING  our own tracing path (a BPF program and the tracepoint or perf code that ran it), not
 *                   the target's: dropped.
 * CW_KLEAF_IRQ_ON   a point where interrupts come back on (a paravirt irq_enable such as pvm_irq_enable or
 *                   xen_irq_enable, spin_unlock_irq/irqrestore). A cpu-clock sample is an hrtimer interrupt,
 *                   so one that lands there is time that passed while interrupts were off in the caller
 *                   (on a paravirtualized guest, the hypervisor's work for a page fault too); the function
 *                   itself takes nanoseconds. Such frames are dropped and the sample charged to the caller.
 * CW_KLEAF_CODE     anything else. */
enum cw_kleaf { CW_KLEAF_CODE, CW_KLEAF_TRACING, CW_KLEAF_IRQ_ON };
enum cw_kleaf cw_ksym_leaf_kind(const char *name);

#endif
