/* Close matches among x86-64 syscall names, for errors that name an unknown syscall. */
#include "kernel/ksyscalls.h"
#include "kernel/kclose.h"

#include "cfg/cfg.h"
#include "util/util.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* The name <-> number table itself is the call graph's (src/cfg/syscalls.c, generated from the kernel
 * headers); this adds the close-match suggestions for error messages. */
int cw_syscall_close(const char *name, const char **out, int max)
{
	int n = cw_syscall_max() + 1, k = 0;
	const char **names = cw_calloc(n, sizeof(*names));
	for (int i = 0; i < n; i++)
		if (cw_syscall_name(i))
			names[k++] = cw_syscall_name(i);
	int r = cw_close_matches(name, names, (size_t)k, out, max);
	free(names);
	return r;
}
