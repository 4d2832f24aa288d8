/* The "uprobe" user backend: a BPF uprobe at a function's entry takes a timestamp, a uretprobe at its
 * return adds the call's duration to the function's counters. One pair per function, told apart by the
 * attach cookie (the counter slot). Calls are counted at entry (so calls still running are included); a
 * recursive call overwrites its caller's entry time, so only the innermost call of a recursion is timed:
 * the agent backend has no such limit. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#define UPT_SLOTS 4096

struct upt_stat {
	__u64 calls;
	__u64 ns;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, UPT_SLOTS);
	__type(key, __u32);
	__type(value, struct upt_stat);
} stats SEC(".maps");

/* (slot << 32 | tid) -> entry time */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, __u64);
} starts SEC(".maps");

const volatile __u32 tgid = 0; /* 0: any process (the probe itself is already limited to one pid) */

SEC("uprobe")
int upt_entry(struct pt_regs *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	if (tgid && (id >> 32) != tgid)
		return 0;
	__u32 slot = (__u32)bpf_get_attach_cookie(ctx);
	__u64 key = ((__u64)slot << 32) | (__u32)id, ts;
	struct upt_stat *s = bpf_map_lookup_elem(&stats, &slot);
	/* counted at entry: exact even for recursion, whose inner returns find no entry time */
	if (s)
		__sync_fetch_and_add(&s->calls, 1);
	ts = bpf_ktime_get_ns();
	bpf_map_update_elem(&starts, &key, &ts, BPF_ANY);
	return 0;
}

SEC("uretprobe")
int upt_exit(struct pt_regs *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 slot = (__u32)bpf_get_attach_cookie(ctx);
	__u64 key = ((__u64)slot << 32) | (__u32)id, *ts = bpf_map_lookup_elem(&starts, &key);
	struct upt_stat *s = bpf_map_lookup_elem(&stats, &slot);
	if (!ts || !s)
		return 0;
	__sync_fetch_and_add(&s->ns, bpf_ktime_get_ns() - *ts);
	bpf_map_delete_elem(&starts, &key);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
