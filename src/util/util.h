/* Small shared helpers: error reporting, allocation that cannot fail silently, time. */
#ifndef CW_UTIL_H
#define CW_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

/* Exit status for bad input / unusable environment (documented in the man pages). */
#define CW_EXIT_USAGE 2

/* One-line messages on stderr, prefixed "crosswalk: ". */
void cw_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void cw_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Verbose diagnostics, printed only when cw_verbose is set (-v). */
extern int cw_verbose;
void cw_dbg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Allocation that aborts with a message on out-of-memory: the tool, never the target, uses these. */
void *cw_malloc(size_t n);
void *cw_calloc(size_t n, size_t size);
void *cw_realloc(void *p, size_t n);
char *cw_strdup(const char *s);

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t cw_now_ns(void);

/* Reads a whole (small, e.g. /proc or /sys) file into a NUL-terminated malloc'd buffer; NULL + errno. */
char *cw_read_file(const char *path, size_t *len);

/* Number of possible CPUs (as BPF per-CPU maps count them). */
int cw_ncpus_possible(void);
int cw_ncpus_online(void);

/* A C++ symbol demangled ("Square::area(double)", or "Square::area" with CUT_PARAMS), malloc'd; NULL when SYM
 * is not mangled or the demangler is missing. */
char *cw_demangle(const char *sym, bool cut_params);

#endif
