/* Target selection shared by the commands that watch a program: parse "-p PID[,PID...]", launch
 * "-- CMD ARGS..." held before exec until the tool is ready, wait for it. */
#ifndef CW_TARGET_H
#define CW_TARGET_H

#include <stdbool.h>
#include <sys/types.h>

struct cw_launch {
	pid_t pid;
	int go_fd;  /* write end: one byte lets the child exec */
	int err_fd; /* read end: errno of a failed exec, or EOF on success */
	bool exited;
	int status;
};

/* Parse a comma-separated PID list; each must name a live process. -errno with a message printed. */
int cw_parse_pids(const char *s, pid_t **pids, size_t *n);
/* Fork a child that waits before exec'ing ARGV. */
int cw_launch_prepare(struct cw_launch *l, char **argv);
/* Let it exec; returns 0, or -errno when exec failed (message printed naming the command). */
int cw_launch_go(struct cw_launch *l, const char *cmd);
/* Non-blocking check; true once the child has exited (status in l->status). */
bool cw_launch_poll(struct cw_launch *l);
/* Kill (SIGTERM, then SIGKILL after a grace period) and reap a launched child still running. */
void cw_launch_kill(struct cw_launch *l);

/* The file execvp would run for NAME (PATH searched when NAME has no slash). 0 or -ENOENT. */
int cw_find_program(const char *name, char *out, size_t len);

/* SIGINT/SIGTERM/SIGHUP set *flag instead of killing the tool, so every exit path cleans up. */
void cw_catch_signals(volatile int *flag);

#endif
