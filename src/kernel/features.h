/* Kernel facility probes: each facility is tried for real once per run, and the result (with the reason)
 * is cached; every command asks here before choosing a mechanism (libbpf features.c style). */
#ifndef CW_FEATURES_H
#define CW_FEATURES_H

#include <stdbool.h>

enum cw_feature {
	CW_FEAT_PERF_CPU_CLOCK,	/* perf_event_open cpu-clock sampling, system-wide */
	CW_FEAT_BPF_TRACEPOINT,	/* BPF program attached to a tracepoint */
	CW_FEAT_BPF_RAW_TP,	/* raw tracepoint attach */
	CW_FEAT_BPF_PERF_EVENT,	/* BPF program attached to a cpu-clock perf event */
	CW_FEAT_BPF_STACKMAP,	/* BPF_MAP_TYPE_STACK_TRACE */
	CW_FEAT_BPF_RINGBUF,	/* BPF_MAP_TYPE_RINGBUF */
	CW_FEAT_UPROBE,		/* BPF uprobe through the uprobe PMU */
	CW_FEAT_FENTRY,		/* BPF trampolines (fentry/fexit) on kernel functions */
	CW_FEAT_KPROBE,		/* kprobes through the kprobe PMU */
	CW_FEAT_KALLSYMS,	/* /proc/kallsyms with real addresses */
	CW_FEAT_KCORE,		/* /proc/kcore readable (kernel text disassembly) */
	CW_FEAT_BTF,		/* vmlinux BTF (CO-RE) */
	CW_FEAT_PTRACE,		/* ptrace attach to a process of ours */
	CW_FEAT__COUNT
};

/* True when the facility works; the first call runs the probe, later calls use the cached result. */
bool cw_feature(enum cw_feature f);
/* The reason for the last result ("ok" or why not); owned by the cache, valid for the run. */
const char *cw_feature_reason(enum cw_feature f);
/* Stable short name used by `crosswalk probe` and tests (e.g. "fentry"). */
const char *cw_feature_name(enum cw_feature f);
const char *cw_feature_desc(enum cw_feature f);

/* Mounts tracefs at /sys/kernel/tracing when it is not mounted; 0 or -errno. */
int cw_tracefs_ensure(void);
/* The tracefs id of tracepoint CAT:EV, or -1. */
int cw_tracepoint_id(const char *cat, const char *ev);

/* Silences libbpf's own stderr chatter unless -v (libbpf prints on every failed probe otherwise). */
void cw_libbpf_quiet(void);

#endif
