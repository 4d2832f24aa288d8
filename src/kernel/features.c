/* Kernel facility probes: try each facility for real, cache the answer and the reason for the run. */
#include "kernel/features.h"
#include "util/util.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

struct probe_result {
	int state; /* 0 unknown, 1 yes, -1 no */
	char reason[160];
};
static struct probe_result results[CW_FEAT__COUNT];

static const struct {
	const char *name, *desc;
} names[CW_FEAT__COUNT] = {
	[CW_FEAT_PERF_CPU_CLOCK] = { "perf-cpu-clock", "perf cpu-clock sampling" },
	[CW_FEAT_BPF_TRACEPOINT] = { "bpf-tracepoint", "BPF on tracepoints" },
	[CW_FEAT_BPF_RAW_TP] = { "bpf-raw-tp", "BPF on raw tracepoints" },
	[CW_FEAT_BPF_PERF_EVENT] = { "bpf-perf-event", "BPF on perf events" },
	[CW_FEAT_BPF_STACKMAP] = { "bpf-stackmap", "BPF stack maps" },
	[CW_FEAT_BPF_RINGBUF] = { "bpf-ringbuf", "BPF ring buffers" },
	[CW_FEAT_UPROBE] = { "uprobe", "uprobes (BPF)" },
	[CW_FEAT_FENTRY] = { "fentry", "fentry/fexit (BPF trampolines)" },
	[CW_FEAT_KPROBE] = { "kprobe", "kprobes" },
	[CW_FEAT_KALLSYMS] = { "kallsyms", "/proc/kallsyms" },
	[CW_FEAT_KCORE] = { "kcore", "/proc/kcore" },
	[CW_FEAT_BTF] = { "btf", "kernel BTF" },
	[CW_FEAT_PTRACE] = { "ptrace", "ptrace" },
};

static int libbpf_print_fn(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (!cw_verbose || level == LIBBPF_DEBUG)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

void cw_libbpf_quiet(void)
{
	libbpf_set_print(libbpf_print_fn);
}

static int say(struct probe_result *r, int ok, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->reason, sizeof(r->reason), fmt, ap);
	va_end(ap);
	r->state = ok ? 1 : -1;
	return ok;
}

static long perf_open(struct perf_event_attr *a, pid_t pid, int cpu)
{
	return syscall(__NR_perf_event_open, a, pid, cpu, -1, PERF_FLAG_FD_CLOEXEC);
}

static int open_cpu_clock(void)
{
	struct perf_event_attr a = {
		.type = PERF_TYPE_SOFTWARE,
		.size = sizeof(a),
		.config = PERF_COUNT_SW_CPU_CLOCK,
		.sample_freq = 99,
		.freq = 1,
	};
	return (int)perf_open(&a, -1, 0);
}

/* r0 = 0; exit */
static const struct bpf_insn ret0[] = {
	{ .code = 0xb7, .dst_reg = 0, .imm = 0 }, /* BPF_ALU64 | BPF_MOV | BPF_K */
	{ .code = 0x95 },			  /* BPF_JMP | BPF_EXIT */
};

static int load_prog(enum bpf_prog_type type, struct bpf_prog_load_opts *opts)
{
	return bpf_prog_load(type, NULL, "GPL", ret0, 2, opts);
}

int cw_tracefs_ensure(void)
{
	if (access("/sys/kernel/tracing/events", F_OK) == 0)
		return 0;
	/* Not mounted (common in VMs and containers): mount it as perf would need it. */
	if (mount("nodev", "/sys/kernel/tracing", "tracefs", 0, NULL) < 0)
		return -errno;
	return 0;
}

int cw_tracepoint_id(const char *cat, const char *ev)
{
	static const char *roots[] = { "/sys/kernel/tracing/events", "/sys/kernel/debug/tracing/events" };
	char path[256];
	cw_tracefs_ensure();
	for (size_t i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/%s/%s/id", roots[i], cat, ev);
		char *s = cw_read_file(path, NULL);
		if (s) {
			int id = atoi(s);
			free(s);
			return id;
		}
	}
	return -1;
}

static int pmu_type(const char *pmu)
{
	char path[128];
	snprintf(path, sizeof(path), "/sys/bus/event_source/devices/%s/type", pmu);
	char *s = cw_read_file(path, NULL);
	if (!s)
		return -1;
	int t = atoi(s);
	free(s);
	return t;
}

static int probe_perf(struct probe_result *r)
{
	int fd = open_cpu_clock();
	if (fd < 0)
		return say(r, 0, "perf_event_open(cpu-clock, all tasks, cpu 0): %s", strerror(errno));
	close(fd);
	return say(r, 1, "cpu-clock software event opens system-wide");
}

static int probe_bpf_tp(struct probe_result *r)
{
	int id = cw_tracepoint_id("sched", "sched_switch"), pfd, efd, ok;
	if (id < 0)
		return say(r, 0, "no tracefs id for sched:sched_switch");
	pfd = load_prog(BPF_PROG_TYPE_TRACEPOINT, NULL);
	if (pfd < 0)
		return say(r, 0, "loading a tracepoint program: %s", strerror(errno));
	struct perf_event_attr a = { .type = PERF_TYPE_TRACEPOINT, .size = sizeof(a), .config = id,
				     .sample_period = 1, .wakeup_events = 1 };
	efd = (int)perf_open(&a, -1, 0);
	if (efd < 0) {
		ok = say(r, 0, "perf_event_open(sched:sched_switch): %s", strerror(errno));
	} else if (ioctl(efd, PERF_EVENT_IOC_SET_BPF, pfd) < 0) {
		ok = say(r, 0, "attaching to sched:sched_switch: %s", strerror(errno));
	} else {
		ok = say(r, 1, "program attached to sched:sched_switch");
	}
	if (efd >= 0)
		close(efd);
	close(pfd);
	return ok;
}

static int probe_raw_tp(struct probe_result *r)
{
	int pfd = load_prog(BPF_PROG_TYPE_RAW_TRACEPOINT, NULL), lfd;
	if (pfd < 0)
		return say(r, 0, "loading a raw tracepoint program: %s", strerror(errno));
	lfd = bpf_raw_tracepoint_open("sched_switch", pfd);
	int ok = lfd >= 0 ? say(r, 1, "program attached to raw tracepoint sched_switch")
			  : say(r, 0, "raw tracepoint sched_switch: %s", strerror(errno));
	if (lfd >= 0)
		close(lfd);
	close(pfd);
	return ok;
}

static int probe_bpf_perf(struct probe_result *r)
{
	int pfd = load_prog(BPF_PROG_TYPE_PERF_EVENT, NULL), efd, ok;
	if (pfd < 0)
		return say(r, 0, "loading a perf-event program: %s", strerror(errno));
	efd = open_cpu_clock();
	if (efd < 0)
		ok = say(r, 0, "perf_event_open(cpu-clock): %s", strerror(errno));
	else if (ioctl(efd, PERF_EVENT_IOC_SET_BPF, pfd) < 0)
		ok = say(r, 0, "attaching to a cpu-clock event: %s", strerror(errno));
	else
		ok = say(r, 1, "program attached to a cpu-clock event");
	if (efd >= 0)
		close(efd);
	close(pfd);
	return ok;
}

static int probe_map(struct probe_result *r, enum bpf_map_type t, __u32 ks, __u32 vs, __u32 n, const char *what)
{
	int fd = bpf_map_create(t, NULL, ks, vs, n, NULL);
	if (fd < 0)
		return say(r, 0, "creating a %s map: %s", what, strerror(errno));
	close(fd);
	return say(r, 1, "%s map created", what);
}

/* A function of ours to put a uprobe on; noinline so it has an address of its own. */
__attribute__((noinline)) int cw_uprobe_target(int x)
{
	__asm__ volatile("" ::: "memory");
	return x + 1;
}

static int self_file_offset(void *addr, char *path, size_t pathsz, unsigned long *off)
{
	FILE *f = fopen("/proc/self/maps", "re");
	char line[512];
	int found = 0;
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		unsigned long s, e, pgoff;
		char perms[8], file[400] = "";
		if (sscanf(line, "%lx-%lx %7s %lx %*s %*s %399s", &s, &e, perms, &pgoff, file) < 4)
			continue;
		if ((unsigned long)addr >= s && (unsigned long)addr < e && file[0] == '/') {
			snprintf(path, pathsz, "%s", file);
			*off = (unsigned long)addr - s + pgoff;
			found = 1;
			break;
		}
	}
	fclose(f);
	return found ? 0 : -1;
}

static int probe_uprobe(struct probe_result *r)
{
	int type = pmu_type("uprobe"), pfd, efd, ok;
	char path[400];
	unsigned long off;
	if (type < 0)
		return say(r, 0, "no uprobe PMU in /sys/bus/event_source/devices");
	if (self_file_offset((void *)cw_uprobe_target, path, sizeof(path), &off) < 0)
		return say(r, 0, "cannot find our own text in /proc/self/maps");
	pfd = load_prog(BPF_PROG_TYPE_KPROBE, NULL);
	if (pfd < 0)
		return say(r, 0, "loading a uprobe program: %s", strerror(errno));
	struct perf_event_attr a = { .type = type, .size = sizeof(a), .config1 = (unsigned long)path,
				     .config2 = off, .sample_period = 1 };
	efd = (int)perf_open(&a, 0, -1);
	if (efd < 0)
		ok = say(r, 0, "perf_event_open(uprobe %s+0x%lx): %s", path, off, strerror(errno));
	else if (ioctl(efd, PERF_EVENT_IOC_SET_BPF, pfd) < 0)
		ok = say(r, 0, "attaching to a uprobe: %s", strerror(errno));
	else
		ok = say(r, 1, "program attached to a uprobe on our own text");
	if (efd >= 0)
		close(efd);
	close(pfd);
	return ok;
}

static int probe_fentry(struct probe_result *r)
{
	struct btf *btf = btf__load_vmlinux_btf();
	const char *fn = "do_nanosleep";
	int id, pfd, lfd, ok;
	if (!btf)
		return say(r, 0, "no vmlinux BTF, which fentry needs");
	id = btf__find_by_name_kind(btf, fn, BTF_KIND_FUNC);
	btf__free(btf);
	if (id <= 0)
		return say(r, 0, "no BTF for %s", fn);
	LIBBPF_OPTS(bpf_prog_load_opts, o, .expected_attach_type = BPF_TRACE_FENTRY, .attach_btf_id = id);
	pfd = load_prog(BPF_PROG_TYPE_TRACING, &o);
	if (pfd < 0)
		return say(r, 0, "loading an fentry program for %s: %s", fn, strerror(errno));
	lfd = bpf_raw_tracepoint_open(NULL, pfd);
	ok = lfd >= 0 ? say(r, 1, "fentry program attached to %s", fn)
		      : say(r, 0, "attaching fentry to %s: %s", fn, strerror(errno));
	if (lfd >= 0)
		close(lfd);
	close(pfd);
	return ok;
}

static int probe_kprobe(struct probe_result *r)
{
	int type = pmu_type("kprobe"), efd;
	if (type < 0)
		return say(r, 0, "no kprobe PMU (kernel built without CONFIG_KPROBES?)");
	const char *fn = "do_nanosleep";
	struct perf_event_attr a = { .type = type, .size = sizeof(a), .config1 = (unsigned long)fn,
				     .sample_period = 1 };
	efd = (int)perf_open(&a, -1, 0);
	if (efd < 0)
		return say(r, 0, "perf_event_open(kprobe %s): %s", fn, strerror(errno));
	close(efd);
	return say(r, 1, "kprobe on %s opened", fn);
}

static int probe_kallsyms(struct probe_result *r)
{
	FILE *f = fopen("/proc/kallsyms", "re");
	char line[256];
	unsigned long addr = 0;
	int n = 0;
	if (!f)
		return say(r, 0, "open /proc/kallsyms: %s", strerror(errno));
	while (n < 1000 && fgets(line, sizeof(line), f)) {
		n++;
		if (sscanf(line, "%lx", &addr) == 1 && addr)
			break;
	}
	fclose(f);
	if (!addr)
		return say(r, 0, "/proc/kallsyms shows zero addresses (kptr_restrict)");
	return say(r, 1, "addresses visible");
}

static int probe_kcore(struct probe_result *r)
{
	unsigned char hdr[4];
	int fd = open("/proc/kcore", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return say(r, 0, "open /proc/kcore: %s", strerror(errno));
	ssize_t n = read(fd, hdr, 4);
	close(fd);
	if (n != 4 || memcmp(hdr, "\177ELF", 4))
		return say(r, 0, "/proc/kcore is not readable as ELF");
	return say(r, 1, "readable ELF core of kernel memory");
}

static int probe_btf(struct probe_result *r)
{
	struct btf *btf = btf__load_vmlinux_btf();
	if (!btf)
		return say(r, 0, "no vmlinux BTF: %s", strerror(errno));
	int n = (int)btf__type_cnt(btf);
	btf__free(btf);
	return say(r, 1, "vmlinux BTF with %d types", n);
}

static int probe_ptrace(struct probe_result *r)
{
	pid_t child = fork();
	int st, ok;
	if (child < 0)
		return say(r, 0, "fork: %s", strerror(errno));
	if (child == 0) {
		pause();
		_exit(0);
	}
	if (ptrace(PTRACE_SEIZE, child, 0, 0) < 0) {
		ok = say(r, 0, "PTRACE_SEIZE of a child: %s", strerror(errno));
	} else if (ptrace(PTRACE_INTERRUPT, child, 0, 0) < 0 || waitpid(child, &st, __WALL) < 0) {
		ok = say(r, 0, "PTRACE_INTERRUPT: %s", strerror(errno));
	} else {
		ok = say(r, 1, "seized and stopped a child");
	}
	kill(child, SIGKILL);
	waitpid(child, &st, __WALL);
	return ok;
}

bool cw_feature(enum cw_feature f)
{
	struct probe_result *r;
	if ((unsigned)f >= CW_FEAT__COUNT)
		return false;
	r = &results[f];
	if (r->state)
		return r->state > 0;
	cw_libbpf_quiet();
	switch (f) {
	case CW_FEAT_PERF_CPU_CLOCK: probe_perf(r); break;
	case CW_FEAT_BPF_TRACEPOINT: probe_bpf_tp(r); break;
	case CW_FEAT_BPF_RAW_TP: probe_raw_tp(r); break;
	case CW_FEAT_BPF_PERF_EVENT: probe_bpf_perf(r); break;
	case CW_FEAT_BPF_STACKMAP: probe_map(r, BPF_MAP_TYPE_STACK_TRACE, 4, 8 * 127, 16, "stack-trace"); break;
	case CW_FEAT_BPF_RINGBUF: probe_map(r, BPF_MAP_TYPE_RINGBUF, 0, 0, 4096 * 4, "ring-buffer"); break;
	case CW_FEAT_UPROBE: probe_uprobe(r); break;
	case CW_FEAT_FENTRY: probe_fentry(r); break;
	case CW_FEAT_KPROBE: probe_kprobe(r); break;
	case CW_FEAT_KALLSYMS: probe_kallsyms(r); break;
	case CW_FEAT_KCORE: probe_kcore(r); break;
	case CW_FEAT_BTF: probe_btf(r); break;
	case CW_FEAT_PTRACE: probe_ptrace(r); break;
	default: break;
	}
	return r->state > 0;
}

const char *cw_feature_reason(enum cw_feature f)
{
	if ((unsigned)f >= CW_FEAT__COUNT)
		return "unknown facility";
	cw_feature(f);
	return results[f].reason;
}

const char *cw_feature_name(enum cw_feature f)
{
	return (unsigned)f < CW_FEAT__COUNT ? names[f].name : "?";
}

const char *cw_feature_desc(enum cw_feature f)
{
	return (unsigned)f < CW_FEAT__COUNT ? names[f].desc : "?";
}
