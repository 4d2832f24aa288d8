/* The one interface that times functions, user or kernel: what `crosswalk measure` and the walk use.
 * A source is a backend attached to one target (a process, its threads, and children forked after it was
 * attached); a point is one instrumented function. Backends: the in-process agent and BPF uprobes for user
 * code (src/agent, src/inject), tracepoints, sampling, fentry/fexit and kprobes for kernel code (src/kernel).
 * Keep it small and the same for both sides (DESIGN.md: Dyninst + Kerninst as one API). */
#ifndef CW_MEASURE_H
#define CW_MEASURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum cw_space { CW_SPACE_USER, CW_SPACE_KERNEL };

struct cw_mresult {
	uint64_t calls;
	uint64_t incl_ns;    /* inclusive wall time, summed over completed calls */
	uint64_t oncpu_ns;   /* part of incl_ns spent on a CPU (has_split) */
	uint64_t blocked_ns; /* part of incl_ns spent blocked (has_split) */
	bool has_split;
};

struct cw_msource;
struct cw_mpoint;

struct cw_msource_ops {
	const char *name; /* "agent", "uprobe", "tracepoint", "sampling", "fentry", "kprobe" */
	enum cw_space space;
	/* Instrument FUNC (a name the backend understands); NULL with a one-line reason in ERR on failure. */
	struct cw_mpoint *(*insert)(struct cw_msource *s, const char *func, char *err, size_t errlen);
	/* Counters accumulated since insert (or the last reset). 0 or -errno. */
	int (*read)(struct cw_msource *s, struct cw_mpoint *p, struct cw_mresult *out);
	int (*reset)(struct cw_msource *s, struct cw_mpoint *p);
	/* Remove the instrumentation now; P is freed. */
	int (*remove)(struct cw_msource *s, struct cw_mpoint *p);
	/* Remove everything still inserted, detach, free S. Must be safe on every exit path. */
	void (*close)(struct cw_msource *s);
};

struct cw_msource {
	const struct cw_msource_ops *ops;
	pid_t pid;
	void *priv;
};

#endif
