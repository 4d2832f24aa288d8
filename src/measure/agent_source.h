/* The "agent" measurement source: user functions timed by libcrosswalk-agent.so inside the target, launched
 * with it preloaded or attached to by ptrace injection. Implements struct cw_msource_ops (measure.h), plus
 * what the walk needs beyond it: batches, self time and per-call-site counts.
 *
 * Ownership: the source owns its points; close() removes all instrumentation, detaches, deletes the control
 * directory and frees everything, on every path (also when the target died). */
#ifndef CW_AGENT_SOURCE_H
#define CW_AGENT_SOURCE_H

#include "measure/measure.h"

struct cw_agent_opts {
	const char *agent_path; /* NULL: cw_inject_agent_path() */
	bool count_sites;	/* count calls per call site (return address) for every point */
	int pool;		/* return instances: enum cw_agent_pool (0: per-thread stack) */
};

/* Launch ARGV with the agent; the program waits in the agent's constructor until cw_agent_source_go(). */
struct cw_msource *cw_agent_source_launch(char *const argv[], const struct cw_agent_opts *o, char *err,
					  size_t errlen);
/* Attach to a running process PID. */
struct cw_msource *cw_agent_source_attach(pid_t pid, const struct cw_agent_opts *o, char *err, size_t errlen);
/* Launch mode: let the program run (after the first inserts). 0 or -errno. */
int cw_agent_source_go(struct cw_msource *s);

/* Instrument N functions in one patching round (one int3 protocol for all). POINTS[i] is NULL where
 * function i could not be instrumented, with its reason in ERRS[i] (ERRLEN bytes each). Returns how many
 * were instrumented, or -errno when the agent cannot be reached. */
int cw_agent_source_insert_many(struct cw_msource *s, const char *const *funcs, size_t n,
				struct cw_mpoint **points, char (*errs)[256]);
/* Remove N points in one round; they are freed. */
int cw_agent_source_remove_many(struct cw_msource *s, struct cw_mpoint **points, size_t n);

/* Beyond cw_mresult: self time (inclusive minus instrumented callees) and calls not timed. */
struct cw_agent_extra {
	uint64_t self_ns;
	uint64_t entries; /* calls + unwound + lost (calls still open are not counted) */
	uint64_t unwound; /* entered but left by longjmp, an exception or thread exit, seen so far */
	uint64_t lost;	  /* entered but not timed (shadow stack full) */
};
int cw_agent_source_read_extra(struct cw_msource *s, struct cw_mpoint *p, struct cw_agent_extra *out);
/* The time so far (ns) of the calls of each of N points still open now, on every thread: what incl_ns of
 * read() does not hold yet (an event loop that never returns). NS[i] = 0 for a NULL point. 0 or -errno. */
int cw_agent_source_inflight(struct cw_msource *s, struct cw_mpoint **points, size_t n, uint64_t *ns);
/* Call sites seen (count_sites): up to MAX pairs of the call's return address and its count. Returns how
 * many. */
int cw_agent_source_sites(struct cw_msource *s, struct cw_mpoint *p, uint64_t *ret, uint64_t *calls, int max);
/* The counter slot of a point (the key its callees' caller counts use: CW_AGENT_CALLER_KEY(slot)). */
int cw_agent_source_slot(const struct cw_mpoint *p);
/* Calls and inclusive ns of P since its insert by nearest instrumented caller (keys as in proto.h), with
 * call sites counted; up to MAX entries. */
int cw_agent_source_callers(struct cw_msource *s, struct cw_mpoint *p, uint64_t *key, uint64_t *calls,
			    uint64_t *incl_ns, int max);
/* The display name of a point (NAME, or OBJ:NAME outside the executable). */
const char *cw_agent_point_name(const struct cw_mpoint *p);

/* Whether the agent found a constant-rate TSC (its times are wall time only then). */
bool cw_agent_source_tsc_constant(struct cw_msource *s);
/* Target state: 0 running, 1 exited (status in *status, as from waitpid for a launched child, else 0). */
int cw_agent_source_poll(struct cw_msource *s, int *status);
/* Launch mode: wait for the program to exit on its own after close() left it running. */

extern const struct cw_msource_ops cw_agent_ops;

#endif
