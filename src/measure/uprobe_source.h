/* The "uprobe" user measurement source: BPF uprobe+uretprobe pairs (src/kernel/uprobe_time.bpf.c), for
 * when the agent cannot be injected. Implements struct cw_msource_ops; same life cycle as the agent source:
 * launch (the program is held before its first instruction until go) or attach. No call-site counts, no
 * self time, and a recursive function's inclusive time counts only the innermost calls. */
#ifndef CW_UPROBE_SOURCE_H
#define CW_UPROBE_SOURCE_H

#include "measure/measure.h"

struct cw_msource *cw_uprobe_source_launch(char *const argv[], char *err, size_t errlen);
struct cw_msource *cw_uprobe_source_attach(pid_t pid, char *err, size_t errlen);
int cw_uprobe_source_go(struct cw_msource *s);
/* 0 running, 1 exited (launch: waitpid status in *status) */
int cw_uprobe_source_poll(struct cw_msource *s, int *status);
const char *cw_uprobe_point_name(const struct cw_mpoint *p);

extern const struct cw_msource_ops cw_uprobe_ops;

#endif
