/* Kernel-side measurement source: times syscalls ("sys:NAME"), page faults ("fault", "fault:user",
 * "fault:kernel") and kernel functions ("k:NAME") for one target process, its threads, and the processes it
 * forks after the source is opened. Backends (struct cw_msource_ops of src/measure/measure.h):
 *   tracepoint  exact syscall counts and times with their on-CPU/blocked split, fault counts; no k:NAME
 *   sampling    the above plus cpu-clock samples of kernel stacks: k:NAME time estimated from samples (on-CPU)
 *               and exact blocked time from where threads slept; call counts of k:NAME unknown
 *   fentry      the above plus exact k:NAME calls and times by BPF trampolines (fentry/fexit)
 *   kprobe      the same through kprobe/kretprobe
 * Callees ("which callees take the time") always come from sampled and sleep-time kernel stacks.
 * Strings returned are owned by the source; results are valid until the next call on the same point. */
#ifndef CW_KMEASURE_H
#define CW_KMEASURE_H

#include "measure/measure.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Opens a source on PID (and its future children) with BACKEND ("tracepoint", "sampling", "fentry",
 * "kprobe", or NULL for the best this kernel allows: fentry, else kprobe, else sampling, else tracepoint).
 * A thread id stands for its whole process (s->pid is then the process id). NULL with a one-line reason in ERR
 * on failure. Close with s->ops->close(s). */
struct cw_msource *cw_ksource_open(pid_t pid, const char *backend, char *err, size_t errlen);

/* Adds another process to the target set. 0 or -errno. */
int cw_ksource_add_pid(struct cw_msource *s, pid_t pid);

/* A result with what the kernel backends know beyond struct cw_mresult. */
struct cw_kresult {
	struct cw_mresult r;	/* calls = calls entered; incl/on-CPU/blocked over completed calls; blocked is
				 * time asleep; incl = on-CPU + blocked + runq_ns */
	uint64_t runq_ns;	/* time preempted: runnable but waiting for a CPU (neither on-CPU nor blocked) */
	uint64_t completed;	/* calls that returned (incl_ns covers these) */
	bool calls_exact;	/* false: the backend cannot count calls (sampling of k:NAME): calls = 0 */
	bool time_exact;	/* false: on-CPU time is estimated from samples */
	uint64_t samples;	/* on-CPU samples behind an estimate */
	uint64_t ci95_ns;	/* half-width of the 95% confidence interval of incl_ns (0 when exact) */
	const char *method;	/* backend that produced it: "tracepoint", "sampling", "fentry", "kprobe" */
};
int cw_ksource_read(struct cw_msource *s, struct cw_mpoint *p, struct cw_kresult *out);

/* The name the point was inserted with ("sys:read"). */
const char *cw_kpoint_name(const struct cw_mpoint *p);

/* One node of the kernel call tree below a point, in preorder (depth 0 = the point's own function, whose
 * children are its callees). Inclusive time = oncpu_ns (samples x period, estimated) + blocked_ns + runq_ns
 * (exact, from where threads slept or were preempted);
 * frac is that over the point's tree total, with a 95% interval from the sample count. */
struct cw_kcallee {
	const char *name;
	int depth;
	uint64_t samples;
	uint64_t oncpu_ns;
	uint64_t blocked_ns;
	uint64_t runq_ns;
	double frac, frac_lo, frac_hi;
};
/* Call tree under P from the stacks gathered since the source was opened, nodes below MIN_FRAC dropped.
 * *OUT is malloc'd (free() it); names are owned by the source. 0 or -errno (-ENOTSUP: no stacks here). */
int cw_ksource_callees(struct cw_msource *s, struct cw_mpoint *p, double min_frac, struct cw_kcallee **out,
		       size_t *n);

/* With ON, results also count the time of calls still in progress at the read (a thread blocked in one long
 * read(), an event loop in epoll_wait): incl/on-CPU/blocked/runq become cumulative time in the function up to
 * now, which never decreases (what the walk's experiments need). Off (default): completed calls only, as
 * struct cw_mresult documents. Calls count entries either way. Baselines are re-taken. 0 or -errno. */
int cw_ksource_include_open(struct cw_msource *s, bool on);

/* When attaching to a process that was already running (not one launched for the measurement): treats its
 * threads that are inside a syscall right now (asleep in epoll_wait, read...) as having entered it now, so
 * that the window's time in those calls is counted (they would be invisible until they return). Call once,
 * right after open. Not for a launched child: it would count the child's wait-to-start call. 0 or -errno. */
int cw_ksource_seed_running(struct cw_msource *s);

/* Per-thread results: from this call on, syscalls and the functions timed by fentry/kprobe (faults included)
 * are also kept per thread (completed calls only; sampling estimates have no per-thread split). 0 or -errno. */
int cw_ksource_set_per_thread(struct cw_msource *s, bool on);
struct cw_kthread_result {
	pid_t tid;
	uint64_t calls; /* completed */
	uint64_t incl_ns, oncpu_ns, blocked_ns, runq_ns;
};
/* Per-thread results of P, busiest (incl_ns) first; *OUT is malloc'd (free() it). -ENOTSUP for points measured
 * by sampling. Reset of P clears them too. */
int cw_ksource_read_threads(struct cw_msource *s, struct cw_mpoint *p, struct cw_kthread_result **out, size_t *n);

/* Forgets the sampled and sleep stacks gathered so far (call trees start over), and with them the baselines of
 * every point measured from stacks (sampling k:NAME, sampled fault time): one call at the start of an
 * experiment interval. Exact counters are untouched (use reset). 0 or -errno. */
int cw_ksource_clear_stacks(struct cw_msource *s);

/* The sampling period in ns (0 when sampling is off). */
uint64_t cw_ksource_sample_period(const struct cw_msource *s);

/* Closes S like s->ops->close, then waits (up to 3 s) until the kernel has released every BPF program S had
 * loaded; returns how many are still present (0: all gone) and their total in *LOADED. Unlike counting by
 * name, it cannot be fooled by other crosswalk runs on the same machine. */
int cw_ksource_close_checked(struct cw_msource *s, int *loaded);

/* Number of BPF programs loaded in the system whose names start with "cwk_" (this part's), or -errno: the check that
 * nothing is left attached after close. */
int cw_kprogs_loaded(void);

#endif
