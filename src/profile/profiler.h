/* The sampling profiler as a library: cpu-clock samples aggregated in BPF per (process, kernel stack,
 * user stack), user stacks unwound in BPF from .eh_frame tables, optional off-CPU time; turned into a
 * symbolized struct cw_profile. Used by `crosswalk profile` and (for hypotheses and kernel call trees) by
 * the walk. */
#ifndef CW_PROFILER_H
#define CW_PROFILER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include "report/profile.h"

struct cw_profiler_opts {
	unsigned freq_hz;      /* per CPU; default 997 */
	bool system_wide;      /* every process (and the idle task's stacks) */
	bool offcpu;	       /* also charge blocked time to the stacks where threads blocked */
	bool follow_children;  /* targets' children forked after start are targets too (default on) */
	size_t max_rows;       /* unwind rows capacity; 0 = default */
};

struct cw_profiler;

/* Load and verify the BPF side; nothing is attached yet. On failure returns -errno with a one-line reason
 * in ERR. */
int cw_profiler_open(const struct cw_profiler_opts *o, struct cw_profiler **out, char *err, size_t errlen);
/* Make PID a target (before or after start). Its mappings and unwind tables are loaded now, unless
 * PRE_EXEC says it is a launched child still waiting to exec (its exec event loads them then). */
int cw_profiler_add_pid(struct cw_profiler *p, pid_t pid, bool pre_exec);
/* Build the unwind tables of executable EXE, its DT_NEEDED libraries and its dynamic linker now, so that a
 * launched program's first samples unwind fully (its mappings then only need to be read). */
void cw_profiler_preload_exe(struct cw_profiler *p, const char *exe);
/* Attach the sampling (one cpu-clock event per CPU) and tracepoint programs. */
int cw_profiler_start(struct cw_profiler *p, char *err, size_t errlen);
/* Serve the BPF side's requests (new processes, new mappings) for up to TIMEOUT_MS. */
int cw_profiler_poll(struct cw_profiler *p, int timeout_ms);
/* Detach every program and perf event (idempotent); the collected data stays readable. */
void cw_profiler_stop(struct cw_profiler *p);
/* Symbolize what was collected into PROF (strings owned by P: free PROF with cw_profile_free before
 * closing P). */
int cw_profiler_collect(struct cw_profiler *p, struct cw_profile *prof);
void cw_profile_free(struct cw_profile *prof);
/* Unwinding statistics: target samples, and those whose user stack reached the outermost frame. */
void cw_profiler_unwind_stats(struct cw_profiler *p, unsigned long long *samples, unsigned long long *complete);
void cw_profiler_close(struct cw_profiler *p); /* accepts NULL; detaches everything */

#endif
