/* x86-64 syscall name <-> number, from the table generated out of <asm/unistd_64.h>. */
#include "kernel/ksyscalls.h"
#include "kernel/kclose.h"

#include <stddef.h>
#include <string.h>

static const struct {
	const char *name;
	int nr;
} table[] = {
#define CW_SYSCALL(n, nr) { #n, nr },
#include "gen/cw_syscalls.h"
#undef CW_SYSCALL
};
#define NTABLE (sizeof(table) / sizeof(table[0]))

int cw_syscall_nr(const char *name)
{
	for (size_t i = 0; i < NTABLE; i++)
		if (!strcmp(table[i].name, name))
			return table[i].nr;
	return -1;
}

const char *cw_syscall_name(int nr)
{
	for (size_t i = 0; i < NTABLE; i++)
		if (table[i].nr == nr)
			return table[i].name;
	return NULL;
}

int cw_syscall_close(const char *name, const char **out, int max)
{
	const char *names[NTABLE];
	for (size_t i = 0; i < NTABLE; i++)
		names[i] = table[i].name;
	return cw_close_matches(name, names, NTABLE, out, max);
}
