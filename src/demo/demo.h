/* The bundled demo as a library: run one experiment (an example server from build/examples under the load
 * generator's load, measured by a pluggable step) and reduce a profile of it to the numbers the demo
 * prints. `crosswalk demo` is the first client; the walk can run the same experiment with its own step. */
#ifndef CW_DEMO_H
#define CW_DEMO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "report/profile.h"

/* Where the example programs are: the "examples" folder next to the running binary (build/crosswalk ->
 * build/examples). Fills DIR; -ENOENT when it, or one of the programs, is missing. */
int cw_demo_locate(char *dir, size_t len);

/* The load an experiment puts on a server. Zero fields take the defaults, but for idle (0 is none). */
struct cw_demo_load {
	const char *dir;     /* folder of select_server, epoll_server, loadgen (cw_demo_locate) */
	const char *server;  /* "select_server" or "epoll_server" */
	unsigned idle;	     /* idle connections (crosswalk demo: 1000) */
	unsigned active;     /* active connections, one request in flight each (default 4) */
	unsigned resp_bytes; /* response body (default 4096) */
};

/* What the load generator and the server counted over the measured window. */
struct cw_demo_loadstats {
	unsigned long requests, errors; /* errors: wrong/short responses, dropped connections (cumulative) */
	double seconds, rps;
	double p50_us, p99_us, max_us;
	double server_cpu_s;	     /* server's user+system CPU time over the window (/proc/PID/stat) */
	unsigned long calls;	     /* the server's select()/epoll_wait() calls over the window */
	unsigned long ready;	     /* descriptors those calls returned ready */
	unsigned long connections;   /* the server's open connections at the end of the window */
};

/* A running server with the load generator connected to it. */
struct cw_demo_rig;

/* Start the server on a free loopback port and the load generator against it; returns once every
 * connection is open. Children get their own process group and die with this process (PR_SET_PDEATHSIG),
 * and carry a lifetime bound of their own. *STOP (Ctrl-C) aborts the wait with -EINTR. -errno with a
 * one-line reason in ERR. */
int cw_demo_rig_start(const struct cw_demo_load *load, volatile int *stop, struct cw_demo_rig **out, char *err,
		      size_t errlen);
pid_t cw_demo_rig_server_pid(const struct cw_demo_rig *r);
/* The measured window starts now: counters of the load generator and the server are taken from here. */
int cw_demo_rig_mark(struct cw_demo_rig *r, char *err, size_t errlen);
/* End the load and read the window's numbers; the server stays up (idle) until cw_demo_rig_close. */
int cw_demo_rig_end_load(struct cw_demo_rig *r, struct cw_demo_loadstats *st, char *err, size_t errlen);
/* Stop and reap everything still running (SIGTERM, then SIGKILL after a grace period). Accepts NULL. */
void cw_demo_rig_close(struct cw_demo_rig *r);

/* A measurement taken on the server during the window. prepare (optional) runs before the window (load
 * BPF, read the server's tables); run is the window itself and returns after SECONDS or once *STOP is set;
 * collect (optional) runs after the load has ended, while the server still lives (to symbolize). Each
 * returns 0 or -errno with a reason in ERR. */
struct cw_demo_step {
	int (*prepare)(void *ctx, pid_t server, char *err, size_t errlen);
	int (*run)(void *ctx, double seconds, volatile int *stop, char *err, size_t errlen);
	int (*collect)(void *ctx, char *err, size_t errlen);
};

/* One experiment: start the rig, prepare, mark, run the step for SECONDS, end the load, collect, stop
 * everything (on every path). Fills LOAD. -EINTR when *STOP was set. */
int cw_demo_experiment(const struct cw_demo_load *load, const struct cw_demo_step *step, void *ctx, double seconds,
		       volatile int *stop, struct cw_demo_loadstats *st, char *err, size_t errlen);

/* The step that profiles the server with the sampling profiler (on-CPU, and off-CPU when OFFCPU). The
 * profile stays valid until cw_demo_profile_fini. */
struct cw_profiler;
struct cw_demo_profile_ctx {
	bool offcpu;
	unsigned freq_hz;	     /* 0: 997 */
	pid_t pid;		     /* set by prepare */
	struct cw_profiler *profiler;
	struct cw_profile prof;	     /* filled by collect */
};
extern const struct cw_demo_step cw_demo_profile_step;
void cw_demo_profile_fini(struct cw_demo_profile_ctx *c);

/* The event-wait calls of the two servers: the libc wrapper and the kernel functions under it, any of which
 * in a stack puts the stack in the wait path. NULL-terminated. */
extern const char *const cw_demo_select_funcs[];
extern const char *const cw_demo_epoll_funcs[];

#define CW_DEMO_MAX_PATH 32
#define CW_DEMO_MAX_TOP 8

/* A profile of one process reduced to where its CPU goes relative to its event-wait call. Names point
 * into the profile. */
struct cw_demo_analysis {
	uint64_t samples;	 /* the process's on-CPU samples */
	uint64_t kernel_samples; /* ... of which in the kernel */
	uint64_t wait_samples;	 /* ... whose stack holds a wait-path function */
	double wait_pct;	 /* wait_samples / samples * 100 */
	double kernel_pct;
	uint64_t offcpu_ns, offcpu_wait_ns; /* blocked time, and that inside the wait call */
	/* The hot path through the wait stacks, outermost first (from main when it is there): each next frame
	 * is the callee holding the most of them, while it holds at least half of the wait samples. */
	size_t npath;
	struct cw_demo_node {
		const char *name;
		bool kernel;
		double pct; /* inclusive share of the process's samples */
	} path[CW_DEMO_MAX_PATH];
	/* Procedures with the most self time inside the wait path, by share of the process's samples. */
	size_t ntop;
	struct cw_demo_node top[CW_DEMO_MAX_TOP];
};

/* Reduce the stacks of PID in P (all of them when PID is 0) against WAIT_FUNCS. 0, or -ENODATA when P has
 * no on-CPU sample of PID. */
int cw_demo_analyze(const struct cw_profile *p, pid_t pid, const char *const *wait_funcs, struct cw_demo_analysis *a);
/* True for the syscall entry code every system call passes through (entry_SYSCALL_64, do_syscall_64,
 * x64_sys_call): a printed path may leave it out. */
bool cw_demo_is_entry_glue(const char *name);

#endif
