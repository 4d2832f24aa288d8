/* Internals of the call graph part shared by its files (objects, per-function state) and its tests. */
#ifndef CW_CFG_INT_H
#define CW_CFG_INT_H

#include "cfg/cfg.h"

#include <Zydis/Zydis.h>
#include <libelf.h>
#include <sys/types.h>

struct cfg_seg {
	uint64_t off, filesz, vaddr, memsz;
	bool exec;
};

/* A GOT slot the dynamic linker fills. */
struct cfg_rel {
	uint64_t slot;	    /* ELF vaddr of the slot */
	uint64_t resolver;  /* IRELATIVE: the IFUNC resolver's vaddr */
	const char *name;   /* JUMP_SLOT / GLOB_DAT: the symbol */
	uint32_t type;
};

struct cfg_fstate {
	struct cw_site *sites;
	size_t n, ninsns;
	uint64_t end;
	bool done, bad;
};

struct cw_cfg_obj {
	struct cw_cfg *g;
	char *path;
	const char *base;
	uint64_t dev, ino, entry;
	int err, fd;
	Elf *elf; /* kept open: names point into its string tables */
	const uint8_t *raw;
	size_t rawlen;
	struct cfg_seg *segs;
	size_t nsegs;
	const struct cw_func *funcs; /* the symbolizer's table, sorted by start */
	size_t nfuncs;
	struct cfg_fstate *fs; /* parallel to funcs */
	struct cfg_rel *rel;   /* sorted by slot */
	size_t nrel;
	const char **exports; /* defined global/weak functions of .dynsym, sorted */
	size_t nexports;
	const char **needed;
	size_t nneeded;
	const char *soname, *runpath, *rpath;
	bool callers_built;
	struct cw_caller *callers; /* sorted by target, parallel to caller_tgt */
	uint64_t *caller_tgt;
	size_t ncallers;
	struct cfg_import *imports; /* every import site, sorted by symbol (built by cw_cfg_scope_callers) */
	size_t nimports;
	bool imports_built;
	struct cw_cfg_obj *next;
};

struct cfg_import {
	const char *name;
	size_t func; /* index in funcs */
	const struct cw_site *site;
};

struct cw_cfg {
	struct cw_syms *syms;
	bool own_syms;
	ZydisDecoder dec;
	struct cw_cfg_obj *objs;
};

const uint8_t *cw_cfg_code(const struct cw_cfg_obj *o, uint64_t v, size_t *avail);
ssize_t cw_cfg_func_idx(const struct cw_cfg_obj *o, uint64_t start); /* exact start, or -1 */
int cw_cfg_decode_idx(struct cw_cfg_obj *o, size_t i);
/* A gcc .cold part ("main.cold", "f.part.0.cold.1"): code of another function, not a function. */
bool cw_cfg_is_cold(const char *name);

#endif
