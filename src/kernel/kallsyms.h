/* Kernel text symbols from /proc/kallsyms: address -> function, name lookup, close matches for error
 * messages. (A stopgap for the kernel half of src/sym until that is on main; same contract as
 * cw_syms_kernel / cw_syms_kernel_find.) */
#ifndef CW_KALLSYMS_H
#define CW_KALLSYMS_H

#include <stddef.h>
#include <stdint.h>

struct cw_kallsyms;

/* Loads the text symbols (t/T, modules included); NULL with errno on failure (or all addresses zero: EPERM). */
struct cw_kallsyms *cw_kallsyms_load(void);
void cw_kallsyms_free(struct cw_kallsyms *k); /* accepts NULL */
/* Name of the function containing ADDR (NULL if none); *off gets ADDR - start. Owned by K. */
const char *cw_kallsyms_addr(const struct cw_kallsyms *k, uint64_t addr, uint64_t *off);
/* Start address of function NAME, 0 if unknown. */
uint64_t cw_kallsyms_find(const struct cw_kallsyms *k, const char *name);
/* Up to MAX names close to NAME, into OUT (owned by K); returns the count. */
int cw_kallsyms_close(const struct cw_kallsyms *k, const char *name, const char **out, int max);

/* Generic: up to MAX of the N candidate NAMES closest to NAME (substring matches first, then small edit
 * distance), written to OUT; returns the count. */
int cw_close_matches(const char *name, const char *const *names, size_t n, const char **out, int max);

#endif
