/* Getting libcrosswalk-agent.so into a target: launching a program with it preloaded, or attaching to a
 * running process with ptrace and making it dlopen the agent; and resolving function names to runtime
 * addresses in the target (a minimal libelf lookup, until src/sym is on main).
 * int functions return 0 or a negative errno, with a one-line reason in ERR. */
#ifndef CW_INJECT_H
#define CW_INJECT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The agent library crosswalk uses: $CW_AGENT_PATH, else libcrosswalk-agent.so next to the crosswalk binary,
 * else the installed one. Returns a static string, or NULL. */
const char *cw_inject_agent_path(void);

/* Run ARGV (PATH searched) with the agent preloaded, told to serve control directory DIR. The agent holds
 * the program in its constructor until told "start". */
int cw_inject_launch(char *const argv[], const char *agent, const char *dir, pid_t *pid, char *err,
		     size_t errlen);

/* Stop every thread of PID with ptrace, make one call dlopen(AGENT) and cw_agent_start(DIR, 0), restore its
 * registers exactly and let every thread go. The process runs on with the agent loaded. */
int cw_inject_attach(pid_t pid, const char *agent, const char *dir, char *err, size_t errlen);

/* Stop every thread of PID except SKIP with ptrace (transparently: interrupted system calls restart),
 * to read their PCs while the agent patches; NULL with ERR when they cannot be traced. */
struct cw_stopped;
struct cw_stopped *cw_inject_stop(pid_t pid, pid_t skip, char *err, size_t errlen);
/* The stopped threads' PCs: returns how many. */
int cw_inject_stopped_pcs(const struct cw_stopped *s, const uint64_t **pcs);
/* Let them all run again. Accepts NULL. */
void cw_inject_resume(struct cw_stopped *s);

/* Resolve SPEC ("name", "object:name", or "object+0xOFFSET") in process PID: its runtime address and size,
 * and a display name (NAME, or OBJ:NAME outside the executable). -ENOENT with close matches in ERR when the
 * name is unknown. */
struct cw_resolved {
	uint64_t addr, size;
	char name[512];
	char path[4096];   /* the object's file */
	uint64_t file_off; /* the function's offset in it (what a uprobe is attached by) */
};
int cw_inject_resolve(pid_t pid, const char *spec, struct cw_resolved *out, char *err, size_t errlen);
/* Between pin and unpin, resolutions in PID use one snapshot of its mappings (a batch of names). */
void cw_inject_resolve_pin(pid_t pid);
void cw_inject_resolve_unpin(void);

#endif
