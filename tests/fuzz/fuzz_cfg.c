/* libFuzzer target for the call graph's reading of untrusted ELF objects: segments, GOT relocations, the
 * dynamic section, and the decoding of every function the symbolizer finds (callees, callers, main through
 * _start, syscall reachability). The input is written to a file because objects are opened by path. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cfg/cfg.h"
#include "cfg/cfg_int.h"

static char path[64];

static void cleanup(void)
{
	unlink(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	if (!path[0]) {
		snprintf(path, sizeof(path), "/dev/shm/cw-fuzz-cfg.%d", (int)getpid());
		atexit(cleanup);
	}
	FILE *f = fopen(path, "wb");
	if (!f)
		abort();
	fwrite(d, 1, n, f);
	fclose(f);
	struct cw_cfg *g = cw_cfg_new(NULL);
	struct cw_cfg_obj *o;
	if (!cw_cfg_open(g, path, &o)) {
		struct cw_cfg_stats st;
		const struct cw_func *fn;
		cw_cfg_decode_all(o, &st);
		for (size_t i = 0; i < o->nfuncs && i < 64; i++) {
			const struct cw_site *s;
			const struct cw_caller *c;
			size_t ns, nc;
			struct cw_cfg_reach r;
			if (cw_cfg_callees(o, &o->funcs[i], &s, &ns) || cw_cfg_callers(o, &o->funcs[i], &c, &nc))
				abort(); /* every function of the table can be asked about */
			for (size_t k = 0; k < ns; k++)
				if (s[k].kind > CW_SITE_SYSCALL || (s[k].callee && !strlen(s[k].callee) && s[k].kind == CW_SITE_IMPORT))
					abort();
			cw_cfg_reaches_syscall(o, NULL, &o->funcs[i], 3, &r);
		}
		cw_cfg_main(o, &fn);
	}
	cw_cfg_free(g);
	return 0;
}
