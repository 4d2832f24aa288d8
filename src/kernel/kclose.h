/* "Did you mean": close matches for an unknown kernel function or syscall name, for one-line error messages. */
#ifndef CW_KCLOSE_H
#define CW_KCLOSE_H

#include <stddef.h>

/* Up to MAX of the N candidate NAMES closest to NAME (small edit distance first, then names containing NAME,
 * shortest first), written to OUT (pointers into NAMES); returns the count. */
int cw_close_matches(const char *name, const char *const *names, size_t n, const char **out, int max);

/* Kernel text symbols (/proc/kallsyms) close to NAME, written to OUT as malloc'd strings (free each);
 * returns the count (0 when kallsyms cannot be read). Only for error paths: it reads the whole file. */
int cw_kernel_close(const char *name, char **out, int max);

#endif
