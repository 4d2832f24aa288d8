/* crosswalk: find where a program's time goes across the user-kernel boundary. Subcommand dispatch. */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

#ifndef CW_VERSION
#define CW_VERSION "0.1"
#endif

static const struct {
	const char *name;
	int (*fn)(int, char **);
	const char *help;
} cmds[] = {
	{ "walk", cmd_walk, "search from main down the call graph, into the kernel, to the bottleneck" },
	{ "profile", cmd_profile, "mixed user+kernel sampling profile, on-CPU and off-CPU (DCPI style)" },
	{ "demo", cmd_demo, "the bundled demo: a select() server with idle connections, explained, then epoll" },
	{ "callgraph", cmd_callgraph, "static callees tree of a function: calls, PLT imports, tail calls, syscalls" },
	{ "probe", cmd_probe, "try each kernel facility and say what works here" },
	{ "measure", cmd_measure, "time chosen functions of a program: calls, inclusive and self time" },
	{ "kmeasure", cmd_kmeasure, "time syscalls, page faults and kernel functions of a process" },
};

static void usage(FILE *f)
{
	fprintf(f, "usage: crosswalk [-v] COMMAND [ARGS]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(f, "  %-10s %s\n", cmds[i].name, cmds[i].help);
	fprintf(f, "\n'crosswalk COMMAND --help' and 'man crosswalk-COMMAND' say more.\n");
}

int main(int argc, char **argv)
{
	int i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "-v") || !strcmp(argv[i], "--verbose"))
			cw_verbose++;
		else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(argv[i], "--version")) {
			printf("crosswalk %s\n", CW_VERSION);
			return 0;
		} else {
			cw_err("unknown option '%s'", argv[i]);
			usage(stderr);
			return CW_EXIT_USAGE;
		}
	}
	if (i >= argc) {
		usage(stderr);
		return CW_EXIT_USAGE;
	}
	for (size_t c = 0; c < sizeof(cmds) / sizeof(cmds[0]); c++)
		if (!strcmp(argv[i], cmds[c].name))
			return cmds[c].fn(argc - i, argv + i);
	cw_err("unknown command '%s' (try 'crosswalk --help')", argv[i]);
	return CW_EXIT_USAGE;
}
