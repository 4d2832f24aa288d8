/* x86-64 syscall names: close matches (the table itself is src/cfg/syscalls.c). */
#ifndef CW_KSYSCALLS_H
#define CW_KSYSCALLS_H

#include "cfg/cfg.h" /* cw_syscall_nr (negative when unknown), cw_syscall_name, cw_syscall_max */

/* Up to MAX known syscall names close to NAME (prefix/substring/edit distance), into OUT; returns the count. */
int cw_syscall_close(const char *name, const char **out, int max);

#endif
