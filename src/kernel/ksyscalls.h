/* x86-64 syscall names and numbers (generated from <asm/unistd_64.h> at build time). */
#ifndef CW_KSYSCALLS_H
#define CW_KSYSCALLS_H

/* The number of syscall NAME ("read"), or -1. */
int cw_syscall_nr(const char *name);
/* The name of syscall NR, or NULL. */
const char *cw_syscall_name(int nr);
/* Up to MAX known syscall names close to NAME (prefix/substring/edit distance), into OUT; returns the count. */
int cw_syscall_close(const char *name, const char **out, int max);

#endif
