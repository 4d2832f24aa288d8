/* `crosswalk probe`: try each kernel facility for real and say yes/no with the reason. */
#include "cli/cli.h"
#include "kernel/features.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

int cmd_probe(int argc, char **argv)
{
	int json = 0, c;
	static const struct option opts[] = { { "json", no_argument, 0, 'j' }, { "help", no_argument, 0, 'h' }, { 0 } };
	while ((c = getopt_long(argc, argv, "jh", opts, NULL)) != -1) {
		switch (c) {
		case 'j': json = 1; break;
		case 'h': printf("usage: crosswalk probe [--json]\n"); return 0;
		default: return CW_EXIT_USAGE;
		}
	}
	if (optind < argc) {
		cw_err("probe: unexpected argument '%s'", argv[optind]);
		return CW_EXIT_USAGE;
	}
	if (json)
		printf("{\n");
	for (int f = 0; f < CW_FEAT__COUNT; f++) {
		bool ok = cw_feature(f);
		const char *why = cw_feature_reason(f);
		if (json) {
			printf("  \"%s\": {\"available\": %s, \"reason\": \"", cw_feature_name(f), ok ? "true" : "false");
			for (const char *p = why; *p; p++)
				if (*p == '"' || *p == '\\')
					printf("\\%c", *p);
				else
					putchar(*p);
			printf("\"}%s\n", f + 1 < CW_FEAT__COUNT ? "," : "");
		} else {
			printf("%-16s %-4s %-32s %s\n", cw_feature_name(f), ok ? "yes" : "no", cw_feature_desc(f), why);
		}
	}
	if (json)
		printf("}\n");
	return 0;
}
