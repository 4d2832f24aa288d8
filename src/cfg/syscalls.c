/* x86-64 syscall numbers, names and kernel entry functions; the table is generated from the kernel
 * headers at build time (mk/cfg.mk). */
#include "cfg/cfg.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const char *const names[] = {
#include "gen/cw_syscall_table.h"
};

#define NNAMES ((int)(sizeof(names) / sizeof(names[0])))

/* Where the kernel's entry is not sys_NAME (arch/x86/entry/syscalls/syscall_64.tbl); the numbers that map
 * to sys_ni_syscall have no entry. Checked against /proc/kallsyms by tests/unit/test_cfg.c. */
static const struct {
	const char *name, *entry;
} renamed[] = {
	{ "stat", "newstat" },	 { "fstat", "newfstat" }, { "lstat", "newlstat" },
	{ "uname", "newuname" }, { "umount2", "umount" }, { "sendfile", "sendfile64" },
};
static const char *const unimplemented[] = {
	"_sysctl",  "create_module", "get_kernel_syms", "query_module", "nfsservctl",	  "getpmsg",
	"putpmsg",  "afs_syscall",   "tuxcall",		"security",	"epoll_ctl_old", "epoll_wait_old",
	"vserver",  "lookup_dcookie", /* removed in Linux 6.10 */
};

static char entries[NNAMES][48];

const char *cw_syscall_name(int nr)
{
	return nr >= 0 && nr < NNAMES ? names[nr] : NULL;
}

int cw_syscall_max(void)
{
	return NNAMES - 1;
}

int cw_syscall_nr(const char *name)
{
	for (int i = 0; i < NNAMES; i++)
		if (names[i] && !strcmp(names[i], name))
			return i;
	return -ENOENT;
}

const char *cw_syscall_kentry(int nr)
{
	const char *n = cw_syscall_name(nr);
	if (!n)
		return NULL;
	for (size_t i = 0; i < sizeof(unimplemented) / sizeof(unimplemented[0]); i++)
		if (!strcmp(n, unimplemented[i]))
			return NULL;
	if (!entries[nr][0]) {
		const char *e = n;
		for (size_t i = 0; i < sizeof(renamed) / sizeof(renamed[0]); i++)
			if (!strcmp(n, renamed[i].name))
				e = renamed[i].entry;
		snprintf(entries[nr], sizeof(entries[nr]), "__x64_sys_%s", e);
	}
	return entries[nr];
}
