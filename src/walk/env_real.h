/* The walk's env over the real target: agent (user), kernel source, static call graph, background profile. */
#ifndef CW_WALK_ENV_REAL_H
#define CW_WALK_ENV_REAL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include "walk/walk.h"

struct cw_walk_real;

/* Launch ARGV (when not NULL) or attach to PID, with the agent, the kernel source (KBACKEND, NULL = the
 * best this kernel allows) and a background profile. STOP: set by a signal handler to end the run. */
int cw_walk_real_open(pid_t pid, char *const argv[], const char *kbackend, volatile int *stop,
		      struct cw_walk_real **out, char *err, size_t errlen);
const struct cw_walk_env *cw_walk_real_env(struct cw_walk_real *w);
pid_t cw_walk_real_pid(const struct cw_walk_real *w);
const char *cw_walk_real_backend(const struct cw_walk_real *w);
bool cw_walk_real_exited(const struct cw_walk_real *w, int *status);
/* From the background profile (which follows the target's children): the busiest process other than the
 * walked one, with its CPU use and the walked process's, in CPUs (1.0 = one CPU busy). 1 when there is one,
 * 0 when the walked process is alone. */
int cw_walk_real_busiest_other(struct cw_walk_real *w, pid_t *other, double *other_cpu, double *own_cpu);
/* Removes every instrumentation and BPF program; an attached target keeps running unmodified. */
void cw_walk_real_close(struct cw_walk_real *w);

#endif
