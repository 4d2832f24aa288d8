/* The profile data model shared by `crosswalk profile` (which fills it from BPF maps and the symbolizer) and
 * the report writers (table, folded, svg, pprof, json). Everything is symbolized before a writer sees it. */
#ifndef CW_PROFILE_H
#define CW_PROFILE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct cw_pframe {
	const char *name; /* function; "OBJ+0xOFF" when unnamed; "[unknown]" when unresolved */
	const char *obj;  /* object basename or path; "[kernel]" or "[module]" for kernel code */
	bool kernel;
};

/* One distinct (process, thread, user+kernel stack) with its on-CPU samples and its off-CPU time. */
struct cw_pstack {
	uint32_t pid, tid;
	const char *comm;
	bool idle;		  /* the kernel idle task (pid 0): counts in "all" but not in "non-idle" */
	uint32_t nframes;
	struct cw_pframe *frames; /* frames[0] is the leaf (where the CPU was), the last is the outermost */
	uint64_t samples;	  /* on-CPU samples */
	uint64_t offcpu_ns;	  /* time blocked (sched_switch out to back in) with this stack */
};

struct cw_profile {
	struct cw_pstack *stacks;
	size_t nstacks;
	uint64_t period_ns;	/* CPU time one sample stands for (1e9 / frequency) */
	uint32_t freq_hz;
	double duration_s;	/* wall time profiled */
	int ncpus;
	uint64_t total_samples; /* all on-CPU samples incl. idle */
	uint64_t idle_samples;
	uint64_t offcpu_total_ns;
	bool has_offcpu;	/* --off-cpu was on */
	const char *target;	/* what was profiled, e.g. "pid 1234" or "./server --port 8080" or "system" */
};

enum cw_report_format { CW_FMT_TABLE, CW_FMT_FOLDED, CW_FMT_SVG, CW_FMT_PPROF, CW_FMT_JSON };

struct cw_report_opts {
	double min_pct;	 /* table: procedures below this % (of all CPU and of off-CPU) are omitted; default 1 */
	int max_rows;	 /* table: 0 = no limit */
	const char *title; /* svg */
};

/* Parse "table"|"folded"|"svg"|"pprof"|"json"; -1 if unknown. */
int cw_report_format_parse(const char *s);
/* Write the profile in FORMAT to OUT. 0 or -errno. */
int cw_report_write(const struct cw_profile *p, enum cw_report_format fmt, const struct cw_report_opts *o, FILE *out);

#endif
