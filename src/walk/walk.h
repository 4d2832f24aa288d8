/* The automated search (CrossWalk, after Paradyn's Performance Consultant): from main down the program's
 * call graph, across system calls into the kernel's call graph, to the functions that hold the time.
 *
 * The search talks to the world only through struct cw_walk_env (instrument a set of functions, let the
 * target run, read cumulative counters, propose children), so it runs the same against the real user and
 * kernel measurement sources (src/walk/env_real.c) and against a simulated program in the unit tests. */
#ifndef CW_WALK_H
#define CW_WALK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum cw_wkind {
	CW_WK_USER,    /* a user function */
	CW_WK_SYSCALL, /* a system call, measured exactly at the boundary ("sys:NAME") */
	CW_WK_KERNEL,  /* a kernel function ("k:NAME") */
	CW_WK_FAULT,   /* page-fault handling ("fault") */
};

enum cw_wstate {
	CW_WS_UNTESTED,
	CW_WS_TESTING,
	CW_WS_TRUE,	  /* holds at least the threshold: refined */
	CW_WS_FALSE,	  /* refuted: its instrumentation was removed at once */
	CW_WS_UNTESTABLE, /* could not be instrumented (why says so) */
};

/* Cumulative counters of one instrumented node, as the env reads them. incl_ns includes the time of calls
 * still open at the read (so main and event loops that never return are measured). */
struct cw_wmeas {
	uint64_t calls;
	uint64_t incl_ns;
	uint64_t oncpu_ns, blocked_ns; /* valid when has_split */
	bool has_split;
	bool estimated; /* from samples, not exact instrumentation */
};

struct cw_wnode {
	char *name;  /* what the env instruments: "parse_request", "libc.so.6:select", "sys:select", "k:do_select" */
	char *label; /* what the env matches: "parse_request", "select()", "do_select", "_ZN9AsyncCall4makeEv" */
	char *shown; /* what a person reads when it differs from label (C++ demangled: "AsyncCall::make"), or NULL */
	enum cw_wkind kind;
	enum cw_wstate state;
	struct cw_wnode *parent, *first_kid, *next_sib;
	int id, depth, tests;
	int lows; /* consecutive re-reads of a refined node clearly under the line */
	double share;	   /* inclusive time over wall time, one thread's worth = 1.0 */
	double self_share; /* share minus the shares of its tested children */
	double kids_share;
	double oncpu_share, blocked_share;
	bool has_split, estimated;
	uint64_t calls;
	double mean_ns;
	double cost_share; /* the instrumentation's own cost over wall time while it was in */
	double clamped;	   /* 1, or the factor the share was cut to so as not to exceed its parent's */
	double prior;	   /* the env's estimate before any experiment (see cw_walk_env.prior), < 0 unknown */
	bool absorbs;	   /* see cw_wcand */
	double absorbed;   /* share taken over from the parent (a wrapper's entry and exit), 0 if none */
	double absorb_k;   /* the parent's share over its own when both were last read together, or 0 */
	bool expanded, verdict, inserted, kept;
	char why[200];
	void *handle; /* the env's, while inserted */
	struct cw_wmeas m0;
};

/* A child the env proposes. */
struct cw_wcand {
	char name[192];
	char label[128];
	enum cw_wkind kind;
	/* a system call its parent makes itself (a C library wrapper: write -> write()): the parent's time
	 * outside the call is the call's entry and exit in the kernel and the wait for a CPU after it, not
	 * user code, so the call is charged with all of its parent's time in that context */
	bool absorbs;
};

struct cw_walk_env {
	void *ctx;
	/* The search's roots: main, and the start routines of threads that do not run main. */
	int (*roots)(void *ctx, struct cw_wcand **out, size_t *n);
	/* Children of a node that holds time: its callees (static call graph, indirect sites resolved from
	 * what was observed), the system call a wrapper makes, a kernel function's callees. *OUT malloc'd. */
	int (*children)(void *ctx, const struct cw_wnode *node, struct cw_wcand **out, size_t *n);
	/* Instrument NODES; one that cannot be gets state CW_WS_UNTESTABLE and a reason in why. */
	int (*insert)(void *ctx, struct cw_wnode **nodes, size_t n);
	/* Remove their instrumentation now. */
	void (*remove)(void *ctx, struct cw_wnode **nodes, size_t n);
	/* Cumulative counters of an inserted node. */
	int (*read)(void *ctx, struct cw_wnode *node, struct cw_wmeas *out);
	/* Let the target run for SECONDS: 1 when it has exited, 0 when still running, <0 on error. */
	int (*run)(void *ctx, double seconds);
	double (*now)(void *ctx);
	/* What one instrumented call of this kind costs the target, in ns (for the perturbation budget). */
	double (*cost_ns)(void *ctx, enum cw_wkind kind);
	/* Optional: what a sampling profile already suggests of a new node's share (0 when it never appeared,
	 * < 0 when unknown). It orders the experiments, never decides them: when more hypotheses wait than
	 * one batch takes, the likeliest are tested first (an event loop's start-up callees, never seen
	 * running, wait for the callbacks that are). */
	double (*prior)(void *ctx, const struct cw_wnode *node);
};

struct cw_walk_opts {
	double threshold;  /* a node holding at least this share is refined (default 0.20) */
	double hysteresis; /* within threshold +- hysteresis/2 a node is tested again (default 0.04) */
	double budget;	   /* perturbation allowed, as a slowdown (default 0.05) */
	double interval;   /* seconds per experiment (default 0.5) */
	double max_seconds; /* the whole search (default 60) */
	int max_batch;	   /* nodes tested at once (default 32) */
	int max_depth;	   /* (default 64) */
};
void cw_walk_opts_default(struct cw_walk_opts *o);

struct cw_walk_result {
	struct cw_wnode **nodes; /* every node created, in creation order; nodes[i]->id == i */
	size_t nnodes;
	struct cw_wnode **roots;
	size_t nroots;
	struct cw_wnode **verdicts; /* the bottlenecks, largest share first */
	size_t nverdicts;
	double seconds;	      /* the search's duration */
	double overhead_pct;  /* the largest perturbation of one experiment, % of the target's time */
	int experiments;
	bool target_exited;
	double threshold;
	char note[512]; /* an honest word where there is no verdict, or about the search */
};

/* Run the search. 0, or -errno when the env failed in a way that ended it (res still holds what was
 * found). Every node the search inserted is removed before it returns. */
int cw_walk_run(const struct cw_walk_env *env, const struct cw_walk_opts *o, struct cw_walk_result *res);
void cw_walk_result_free(struct cw_walk_result *res);

/* Output: the drill-down tree with the verdict paths marked, one sentence per verdict. */
void cw_walk_print(const struct cw_walk_result *r, FILE *out);
int cw_walk_json(const struct cw_walk_result *r, FILE *out);
/* The name a person reads: shown, else label. */
const char *cw_walk_name(const struct cw_wnode *n);
/* "cpu-user", "cpu-kernel" or "blocked". */
const char *cw_walk_verdict_kind(const struct cw_wnode *n);
/* Where a blocked verdict waits: "I/O", "a lock or futex", "poll/select", "sleep", "a pipe or socket
 * read", "page faults", or NULL. */
const char *cw_walk_wait_class(const struct cw_wnode *n);
/* The sentence for a verdict ("64% of wall time: main -> ... -> tcp_poll, CPU in the kernel ..."). */
void cw_walk_sentence(const struct cw_wnode *n, char *buf, size_t len);

#endif
