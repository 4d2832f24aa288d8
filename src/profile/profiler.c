/* The sampling profiler's user side: loads profile.bpf.c, keeps the BPF unwinder fed with each target
 * process's executable mappings and their unwind tables (loaded on demand, shared across processes per
 * object), and turns the in-kernel aggregates into a symbolized profile. */
#include "profile/profiler.h"
#include "kernel/features.h"
#include "kernel/profile.h"
#include "sym/sym.h"
#include "unwind/unwind.h"
#include "util/util.h"
#include "profile.skel.h"

#include <errno.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <fcntl.h>
#include <gelf.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#define NBUCKETS 1024

struct uw_obj {
	uint64_t dev, ino;
	uint32_t row_off, row_cnt;
	struct uw_obj *next;
};

struct proc {
	pid_t pid;
	uint32_t gen;	     /* of the last mappings pushed to the BPF side (0: none yet) */
	uint64_t pushed_sum; /* their checksum */
	struct cw_proc_maps maps;
	char comm[17];
	struct proc *next;
};

struct cw_profiler {
	struct cw_profiler_opts o;
	struct profile_bpf *skel;
	struct ring_buffer *rb;
	int nevents;
	int *pfds;
	struct bpf_link **plinks;
	struct bpf_link *l_switch, *l_fork, *l_exec;
	uint32_t rows_cap, rows_used;
	struct cw_uw_row *rows_mem;
	size_t rows_len;
	bool rows_full_warned;
	struct uw_obj *objs[NBUCKETS];
	struct proc *procs[NBUCKETS];
	struct uw_obj vdso;
	bool vdso_done;
	struct cw_syms *syms;
	uint64_t t_start, t_stop;
	bool started, stopped;
};

static unsigned hash2(uint64_t a, uint64_t b)
{
	uint64_t h = a * 0x9e3779b97f4a7c15ull ^ b;
	return (unsigned)(h ^ (h >> 32)) % NBUCKETS;
}

/* Append ROWS to the BPF rows array (memory-mapped: no syscall per row); returns the offset or -ENOSPC.
 * The rows are written before the procs entry that points at them is updated (a syscall, so ordered). */
static int64_t rows_append(struct cw_profiler *p, const struct cw_uw_row *rows, uint32_t n)
{
	uint32_t off = p->rows_used;
	if (n > p->rows_cap - p->rows_used) {
		if (!p->rows_full_warned)
			cw_warn("unwind table space (%u rows) is full: some stacks will be truncated", p->rows_cap);
		p->rows_full_warned = true;
		return -ENOSPC;
	}
	memcpy(p->rows_mem + off, rows, (size_t)n * sizeof(*rows));
	p->rows_used += n;
	return off;
}

static void load_table(struct cw_profiler *p, struct uw_obj *o, const char *path, const void *mem, size_t len)
{
	struct cw_uw_table t;
	int err = cw_uw_table_build(path, mem, len, &t);
	if (err) {
		cw_dbg("no unwind table for %s: %s", path, strerror(-err));
		return;
	}
	int64_t off = rows_append(p, t.rows, (uint32_t)t.n);
	if (off >= 0) {
		o->row_off = (uint32_t)off;
		o->row_cnt = (uint32_t)t.n;
	}
	cw_dbg("unwind table for %s: %zu rows", path, t.n);
	cw_uw_table_free(&t);
}

static struct uw_obj *obj_lookup(struct cw_profiler *p, uint64_t dev, uint64_t ino, bool *created)
{
	unsigned h = hash2(dev, ino);
	struct uw_obj *o;
	*created = false;
	for (o = p->objs[h]; o; o = o->next)
		if (o->dev == dev && o->ino == ino)
			return o;
	o = cw_calloc(1, sizeof(*o));
	o->dev = dev;
	o->ino = ino;
	o->next = p->objs[h];
	p->objs[h] = o;
	*created = true;
	return o;
}

static struct uw_obj *get_obj(struct cw_profiler *p, pid_t pid, const struct cw_map *m)
{
	bool created;
	struct uw_obj *o = obj_lookup(p, m->dev, m->ino, &created);
	char path[128];

	if (!created)
		return o;
	/* map_files reaches the mapped file even when deleted or in another mount namespace */
	snprintf(path, sizeof(path), "/proc/%d/map_files/%llx-%llx", (int)pid, (unsigned long long)m->start,
		 (unsigned long long)m->end);
	if (access(path, R_OK) == 0)
		load_table(p, o, path, NULL, 0);
	else
		load_table(p, o, m->path, NULL, 0);
	return o;
}

static void preload_file(struct cw_profiler *p, const char *path)
{
	struct stat st;
	bool created;
	if (stat(path, &st) < 0)
		return;
	struct uw_obj *o = obj_lookup(p, makedev(major(st.st_dev), minor(st.st_dev)), st.st_ino, &created);
	if (created)
		load_table(p, o, path, NULL, 0);
}

/* The first file named NAME in the directories the dynamic linker searches by default. */
static bool find_lib(const char *name, char *out, size_t len)
{
	static const char *const dirs[] = { "/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/lib",
					    "/usr/lib" };
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(out, len, "%s/%s", dirs[i], name);
		if (access(out, R_OK) == 0)
			return true;
	}
	return false;
}

void cw_profiler_preload_exe(struct cw_profiler *p, const char *exe)
{
	int fd = open(exe, O_RDONLY | O_CLOEXEC);
	Elf *elf;
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;
	char path[4096];

	if (fd < 0)
		return;
	preload_file(p, exe);
	elf_version(EV_CURRENT);
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	while (elf && (scn = elf_nextscn(elf, scn))) {
		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_DYNAMIC)
			continue;
		Elf_Data *d = elf_getdata(scn, NULL);
		for (size_t i = 0; d && i < sh.sh_size / sh.sh_entsize; i++) {
			GElf_Dyn dyn;
			if (!gelf_getdyn(d, (int)i, &dyn) || dyn.d_tag != DT_NEEDED)
				continue;
			const char *name = elf_strptr(elf, sh.sh_link, dyn.d_un.d_val);
			if (name && find_lib(name, path, sizeof(path)))
				preload_file(p, path);
		}
	}
	/* and the dynamic linker itself */
	size_t nph = 0;
	if (elf && elf_getphdrnum(elf, &nph) == 0)
		for (size_t i = 0; i < nph; i++) {
			GElf_Phdr ph;
			if (gelf_getphdr(elf, (int)i, &ph) && ph.p_type == PT_INTERP) {
				Elf_Data *d = elf_getdata_rawchunk(elf, ph.p_offset, ph.p_filesz, ELF_T_BYTE);
				if (d && d->d_buf && ph.p_filesz < sizeof(path)) {
					memcpy(path, d->d_buf, ph.p_filesz);
					path[ph.p_filesz] = 0;
					preload_file(p, path);
				}
			}
		}
	elf_end(elf);
	close(fd);
}

/* The vdso is the same image in every process of this kernel: take ours. */
static struct uw_obj *get_vdso(struct cw_profiler *p)
{
	if (!p->vdso_done) {
		void *img = (void *)getauxval(AT_SYSINFO_EHDR);
		struct cw_proc_maps self = { 0 };
		p->vdso_done = true;
		if (img && cw_proc_maps_read(getpid(), &self) == 0) {
			for (size_t i = 0; i < self.n; i++)
				if (self.maps[i].start == (uint64_t)img)
					load_table(p, &p->vdso, "[vdso]", img, self.maps[i].end - self.maps[i].start);
		}
		cw_proc_maps_free(&self);
	}
	return &p->vdso;
}

static struct proc *find_proc(struct cw_profiler *p, pid_t pid, bool create)
{
	unsigned h = hash2(pid, 0);
	struct proc *pr;
	for (pr = p->procs[h]; pr; pr = pr->next)
		if (pr->pid == pid)
			return pr;
	if (!create)
		return NULL;
	pr = cw_calloc(1, sizeof(*pr));
	pr->pid = pid;
	pr->next = p->procs[h];
	p->procs[h] = pr;
	return pr;
}

static void read_comm(pid_t pid, char comm[17])
{
	char path[64], *s;
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	s = cw_read_file(path, NULL);
	if (s) {
		s[strcspn(s, "\n")] = 0;
		snprintf(comm, 17, "%s", s);
		free(s);
	}
}

/* Push the unwinder's view of PR's executable mappings into the procs map; unless FORCE, not when it is
 * the same as the last one pushed (then the BPF side keeps its cached rows and waits 20 ms before asking
 * again). */
static int push_proc(struct cw_profiler *p, struct proc *pr, bool force)
{
	struct cw_uw_proc *v = cw_calloc(1, sizeof(*v));
	uint32_t tgid = pr->pid;
	int err = 0;

	for (size_t i = 0; i < pr->maps.n && v->nmaps < CW_MAX_MAPS; i++) {
		const struct cw_map *m = &pr->maps.maps[i];
		struct uw_obj *o = NULL;
		uint64_t vaddr;
		if (m->perms[2] != 'x')
			continue;
		if (m->path[0] == '/')
			o = get_obj(p, pr->pid, m);
		else if (!strcmp(m->path, "[vdso]"))
			o = get_vdso(p);
		if (!o)
			continue;
		struct cw_uw_map *um = &v->maps[v->nmaps++];
		um->start = m->start;
		um->end = m->end;
		if (o == &p->vdso)
			um->bias = m->start; /* the vdso image is linked at 0 */
		else if (cw_syms_to_vaddr(p->syms, m, m->start, &vaddr) == 0)
			um->bias = m->start - vaddr;
		else
			um->bias = m->start - m->pgoff;
		um->row_off = o->row_off;
		um->row_cnt = o->row_cnt;
	}
	uint64_t sum = 0xcbf29ce484222325ull;
	const unsigned char *b = (const unsigned char *)v;
	for (size_t i = 0; i < offsetof(struct cw_uw_proc, maps) + v->nmaps * sizeof(v->maps[0]); i++)
		sum = (sum ^ b[i]) * 0x100000001b3ull;
	if (!force && pr->gen && sum == pr->pushed_sum) {
		free(v);
		return 0;
	}
	pr->pushed_sum = sum;
	v->gen = ++pr->gen;
	if (bpf_map_update_elem(bpf_map__fd(p->skel->maps.procs), &tgid, v, BPF_ANY) < 0)
		err = -errno;
	/* after the update: the BPF side's cached rows of older generations are not used again */
	__atomic_fetch_add(&p->skel->bss->uw_gen, 1, __ATOMIC_SEQ_CST);
	free(v);
	return err;
}

/* (Re)read PID's mappings and feed them to the unwinder. A process that is gone keeps its last snapshot
 * (for symbolization). */
static int load_proc(struct cw_profiler *p, pid_t pid, bool force)
{
	struct proc *pr = find_proc(p, pid, true);
	struct cw_proc_maps m = { 0 };
	int err = cw_proc_maps_read(pid, &m);
	if (err)
		return err;
	cw_proc_maps_free(&pr->maps);
	pr->maps = m;
	read_comm(pid, pr->comm);
	return push_proc(p, pr, force);
}

static int on_event(void *ctx, void *data, size_t len)
{
	struct cw_profiler *p = ctx;
	const struct cw_event *e = data;
	if (len < sizeof(*e))
		return 0;
	switch (e->type) {
	case CW_EV_NEED_MAPS:
		load_proc(p, e->tgid, false);
		break;
	case CW_EV_EXEC: /* the BPF side dropped its entry */
		load_proc(p, e->tgid, true);
		break;
	case CW_EV_FORK: {
		/* the child shares its parent's mappings until it execs or maps more */
		struct proc *parent = find_proc(p, e->ppid, false), *child;
		if (load_proc(p, e->tgid, true) != 0 && parent) {
			child = find_proc(p, e->tgid, true);
			cw_proc_maps_free(&child->maps);
			for (size_t i = 0; i < parent->maps.n; i++) {
				if (i == 0) {
					child->maps.maps = cw_calloc(parent->maps.n, sizeof(struct cw_map));
					child->maps.pid = e->tgid;
				}
				child->maps.maps[i] = parent->maps.maps[i];
				child->maps.maps[i].path = cw_strdup(parent->maps.maps[i].path);
				child->maps.n = i + 1;
			}
			memcpy(child->comm, parent->comm, sizeof(child->comm));
		}
		break;
	}
	default:
		break;
	}
	return 0;
}

int cw_profiler_open(const struct cw_profiler_opts *o, struct cw_profiler **out, char *err, size_t errlen)
{
	struct cw_profiler *p = cw_calloc(1, sizeof(*p));
	int ret;

	p->o = *o;
	if (!p->o.freq_hz)
		p->o.freq_hz = 997;
	*out = NULL;
	cw_libbpf_quiet();
	if (!cw_feature(CW_FEAT_BPF_PERF_EVENT)) {
		snprintf(err, errlen, "BPF on perf events is not available: %s", cw_feature_reason(CW_FEAT_BPF_PERF_EVENT));
		ret = -ENOTSUP;
		goto fail;
	}
	if (!cw_feature(CW_FEAT_BTF)) {
		snprintf(err, errlen, "kernel BTF is not available: %s", cw_feature_reason(CW_FEAT_BTF));
		ret = -ENOTSUP;
		goto fail;
	}
	p->skel = profile_bpf__open();
	if (!p->skel) {
		ret = -errno;
		snprintf(err, errlen, "opening the profiler's BPF object: %s", strerror(errno));
		goto fail;
	}
	p->skel->rodata->filter = !o->system_wide;
	p->skel->rodata->track_children = o->follow_children;
	p->rows_cap = o->max_rows ? o->max_rows : (o->system_wide ? 8u << 20 : 2u << 20);
	bpf_map__set_max_entries(p->skel->maps.rows, p->rows_cap);
	if (o->system_wide)
		bpf_map__set_max_entries(p->skel->maps.procs, 4096);
	else
		bpf_map__set_max_entries(p->skel->maps.procs, 1024);
	if (!o->offcpu)
		bpf_program__set_autoload(p->skel->progs.on_switch, false);
	ret = profile_bpf__load(p->skel);
	if (ret) {
		snprintf(err, errlen, "loading the profiler's BPF programs: %s", strerror(-ret));
		goto fail;
	}
	p->rows_len = (size_t)p->rows_cap * sizeof(struct cw_uw_row);
	p->rows_mem = mmap(NULL, p->rows_len, PROT_READ | PROT_WRITE, MAP_SHARED, bpf_map__fd(p->skel->maps.rows), 0);
	if (p->rows_mem == MAP_FAILED) {
		ret = -errno;
		p->rows_mem = NULL;
		snprintf(err, errlen, "mapping the unwind table array: %s", strerror(errno));
		goto fail;
	}
	p->rb = ring_buffer__new(bpf_map__fd(p->skel->maps.events), on_event, p, NULL);
	if (!p->rb) {
		ret = -errno;
		snprintf(err, errlen, "ring buffer: %s", strerror(errno));
		goto fail;
	}
	p->syms = cw_syms_new();
	*out = p;
	return 0;
fail:
	cw_profiler_close(p);
	return ret;
}

int cw_profiler_add_pid(struct cw_profiler *p, pid_t pid, bool pre_exec)
{
	uint32_t k = pid;
	uint8_t one = 1;
	if (bpf_map_update_elem(bpf_map__fd(p->skel->maps.targets), &k, &one, BPF_ANY) < 0)
		return -errno;
	if (!pre_exec)
		load_proc(p, pid, true);
	return 0;
}

static long perf_open(struct perf_event_attr *a, int cpu)
{
	return syscall(__NR_perf_event_open, a, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC);
}

int cw_profiler_start(struct cw_profiler *p, char *err, size_t errlen)
{
	int ncpus = cw_ncpus_possible();
	struct perf_event_attr a = {
		.type = PERF_TYPE_SOFTWARE,
		.size = sizeof(a),
		.config = PERF_COUNT_SW_CPU_CLOCK,
		.sample_period = 1000000000ull / p->o.freq_hz, /* cpu-clock counts nanoseconds */
	};

	p->pfds = cw_calloc(ncpus, sizeof(int));
	p->plinks = cw_calloc(ncpus, sizeof(*p->plinks));
	for (int cpu = 0; cpu < ncpus; cpu++) {
		int fd = (int)perf_open(&a, cpu);
		if (fd < 0) {
			if (errno == ENODEV) /* offline CPU */
				continue;
			snprintf(err, errlen, "perf_event_open(cpu-clock, cpu %d): %s", cpu, strerror(errno));
			return -errno;
		}
		p->pfds[p->nevents] = fd;
		p->plinks[p->nevents] = bpf_program__attach_perf_event(p->skel->progs.on_sample, fd);
		if (!p->plinks[p->nevents]) {
			int e = errno;
			close(fd);
			snprintf(err, errlen, "prog 'on_sample': failed to attach to cpu %d: %s", cpu, strerror(e));
			return -e;
		}
		p->nevents++;
	}
	if (!p->o.system_wide) {
		p->l_fork = bpf_program__attach(p->skel->progs.on_fork);
		p->l_exec = bpf_program__attach(p->skel->progs.on_exec);
		if (!p->l_fork || !p->l_exec) {
			snprintf(err, errlen, "attaching to sched_process_fork/exec: %s", strerror(errno));
			return -errno;
		}
	}
	if (p->o.offcpu) {
		p->l_switch = bpf_program__attach(p->skel->progs.on_switch);
		if (!p->l_switch) {
			snprintf(err, errlen, "prog 'on_switch': failed to attach to sched_switch: %s", strerror(errno));
			return -errno;
		}
	}
	p->t_start = cw_now_ns();
	p->started = true;
	return 0;
}

int cw_profiler_poll(struct cw_profiler *p, int timeout_ms)
{
	int n = ring_buffer__poll(p->rb, timeout_ms);
	return n < 0 && n != -EINTR ? n : 0;
}

void cw_profiler_stop(struct cw_profiler *p)
{
	if (!p || p->stopped)
		return;
	p->stopped = true;
	for (int i = 0; i < p->nevents; i++) {
		bpf_link__destroy(p->plinks[i]);
		close(p->pfds[i]);
	}
	p->nevents = 0;
	bpf_link__destroy(p->l_switch);
	bpf_link__destroy(p->l_fork);
	bpf_link__destroy(p->l_exec);
	p->l_switch = p->l_fork = p->l_exec = NULL;
	if (p->started)
		p->t_stop = cw_now_ns();
	/* requests that came in before the stop still matter for symbolization */
	if (p->rb)
		ring_buffer__consume(p->rb);
}

static void totals(struct cw_profiler *p, uint64_t out[CW_TOT__N])
{
	int ncpus = cw_ncpus_possible();
	uint64_t *v = cw_calloc(ncpus, sizeof(uint64_t));
	for (uint32_t k = 0; k < CW_TOT__N; k++) {
		out[k] = 0;
		if (bpf_map_lookup_elem(bpf_map__fd(p->skel->maps.totals), &k, v) == 0)
			for (int c = 0; c < ncpus; c++)
				out[k] += v[c];
	}
	free(v);
}

void cw_profiler_unwind_stats(struct cw_profiler *p, unsigned long long *samples, unsigned long long *complete)
{
	uint64_t t[CW_TOT__N];
	totals(p, t);
	*samples = t[CW_TOT_TARGET];
	*complete = t[CW_TOT_UNWIND_OK];
	cw_dbg("unwinding: %llu no mapping, %llu no unwind info, %llu read failures",
	       (unsigned long long)t[CW_TOT_NOMAP], (unsigned long long)t[CW_TOT_NOINFO],
	       (unsigned long long)t[CW_TOT_READFAIL]);
}

/* Symbolized frames of one aggregate key. */
struct framebuf {
	struct cw_pframe *f;
	uint32_t n, cap;
};

static void fb_push(struct framebuf *b, const char *name, const char *obj, bool kernel)
{
	if (b->n == b->cap)
		b->f = cw_realloc(b->f, (b->cap = b->cap ? b->cap * 2 : 64) * sizeof(*b->f));
	b->f[b->n++] = (struct cw_pframe){ .name = name, .obj = obj, .kernel = kernel };
}

static const char *base(const char *path)
{
	const char *s = path ? strrchr(path, '/') : NULL;
	return s ? s + 1 : path;
}

static void key_frames(struct cw_profiler *p, const struct cw_count_key *k, struct framebuf *b)
{
	uint64_t kpcs[127];
	struct cw_ustack us;
	struct cw_sym sym;

	b->n = 0;
	if (k->kstack >= 0 && bpf_map_lookup_elem(bpf_map__fd(p->skel->maps.kstacks), &k->kstack, kpcs) == 0) {
		bool top = true;
		for (int i = 0; i < 127 && kpcs[i]; i++) {
			if (cw_syms_kernel(p->syms, kpcs[i], &sym) == 0 && sym.name) {
				/* a stack taken at sched_switch starts inside our own BPF program, and a sample that
				 * landed where interrupts came back on belongs to the caller (sym.h): drop those
				 * leaf frames, keeping the outermost */
				if (top && kpcs[i + 1] && cw_ksym_leaf_kind(sym.name) != CW_KLEAF_CODE)
					continue;
				top = false;
				fb_push(b, sym.name, sym.obj ? sym.obj : "[kernel]", true);
			} else {
				top = false;
				fb_push(b, "[unknown]", "[kernel]", true);
			}
		}
	}
	if (k->ustack && bpf_map_lookup_elem(bpf_map__fd(p->skel->maps.ustacks), &k->ustack, &us) == 0) {
		struct proc *pr = find_proc(p, k->tgid, false);
		if (!pr) {
			load_proc(p, k->tgid, false);
			pr = find_proc(p, k->tgid, false);
		}
		for (uint32_t i = 0; i < us.n && i < CW_MAX_UFRAMES; i++) {
			/* a return address points after the call: look up the call itself */
			uint64_t pc = i ? us.pcs[i] - 1 : us.pcs[i];
			int r = pr ? cw_syms_user(p->syms, &pr->maps, pc, &sym) : -ENOENT;
			if (r == 0 && sym.name)
				fb_push(b, sym.name, base(sym.obj), false);
			else
				fb_push(b, "[unknown]", pr && sym.obj && r != 0 ? base(sym.obj) : "[unknown]", false);
		}
	}
}

static const char *proc_comm(struct cw_profiler *p, uint32_t tgid)
{
	struct proc *pr = find_proc(p, tgid, false);
	if (tgid == 0)
		return "swapper";
	if (!pr) {
		pr = find_proc(p, tgid, true);
		read_comm(tgid, pr->comm);
	}
	if (!pr->comm[0])
		snprintf(pr->comm, sizeof(pr->comm), "pid-%u", tgid);
	return pr->comm;
}

static void add_stack(struct cw_profile *prof, size_t *cap, struct cw_profiler *p, const struct cw_count_key *k,
		      struct framebuf *fb, uint64_t samples, uint64_t off_ns)
{
	if (prof->nstacks == *cap)
		prof->stacks = cw_realloc(prof->stacks, (*cap = *cap ? *cap * 2 : 1024) * sizeof(*prof->stacks));
	struct cw_pstack *s = &prof->stacks[prof->nstacks++];
	memset(s, 0, sizeof(*s));
	s->pid = s->tid = k->tgid;
	s->idle = k->tgid == 0;
	s->comm = proc_comm(p, k->tgid);
	s->nframes = fb->n;
	s->frames = cw_malloc((fb->n ? fb->n : 1) * sizeof(*s->frames));
	memcpy(s->frames, fb->f, fb->n * sizeof(*s->frames));
	s->samples = samples;
	s->offcpu_ns = off_ns;
}

int cw_profiler_collect(struct cw_profiler *p, struct cw_profile *prof)
{
	uint64_t t[CW_TOT__N];
	struct cw_count_key k, next, *prev = NULL;
	struct framebuf fb = { 0 };
	size_t cap = 0;
	int fd;

	memset(prof, 0, sizeof(*prof));
	totals(p, t);
	prof->freq_hz = p->o.freq_hz;
	prof->period_ns = 1000000000ull / p->o.freq_hz;
	prof->ncpus = cw_ncpus_online();
	prof->total_samples = t[CW_TOT_ALL];
	prof->idle_samples = t[CW_TOT_IDLE];
	prof->has_offcpu = p->o.offcpu;
	prof->duration_s = ((p->t_stop ? p->t_stop : cw_now_ns()) - p->t_start) / 1e9;
	/* Some kernels (this VM's among them) take no cpu-clock samples on an idle CPU: the idle task's share
	 * is then the samples that did not happen. Where idle is sampled the deficit is ~0. */
	uint64_t expected = (uint64_t)(prof->duration_s * prof->ncpus * p->o.freq_hz);
	if (expected > prof->total_samples) {
		prof->idle_samples += expected - prof->total_samples;
		prof->total_samples = expected;
	}

	fd = bpf_map__fd(p->skel->maps.counts);
	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		k = next;
		prev = &k;
		uint64_t sum = 0;
		if (bpf_map_lookup_elem(fd, &k, &sum) < 0)
			continue;
		if (!sum)
			continue;
		key_frames(p, &k, &fb);
		add_stack(prof, &cap, p, &k, &fb, sum, 0);
	}
	if (p->o.offcpu) {
		uint64_t ns;
		fd = bpf_map__fd(p->skel->maps.offcpu);
		prev = NULL;
		while (bpf_map_get_next_key(fd, prev, &next) == 0) {
			k = next;
			prev = &k;
			if (bpf_map_lookup_elem(fd, &k, &ns) < 0 || !ns)
				continue;
			key_frames(p, &k, &fb);
			add_stack(prof, &cap, p, &k, &fb, 0, ns);
			prof->offcpu_total_ns += ns;
		}
		/* threads blocked right now: their interval so far counts too (a thread asleep for the whole
		 * run would otherwise not show at all) */
		struct offstart { uint64_t ts; struct cw_count_key key; } os;
		uint32_t tid, *ptid = NULL, ntid;
		uint64_t now = cw_now_ns();
		fd = bpf_map__fd(p->skel->maps.offstarts);
		while (bpf_map_get_next_key(fd, ptid, &ntid) == 0) {
			tid = ntid;
			ptid = &tid;
			if (bpf_map_lookup_elem(fd, &tid, &os) < 0 || os.ts >= now)
				continue;
			ns = now - os.ts;
			key_frames(p, &os.key, &fb);
			add_stack(prof, &cap, p, &os.key, &fb, 0, ns);
			prof->offcpu_total_ns += ns;
		}
	}
	free(fb.f);
	return 0;
}

void cw_profile_free(struct cw_profile *prof)
{
	if (!prof)
		return;
	for (size_t i = 0; i < prof->nstacks; i++)
		free(prof->stacks[i].frames);
	free(prof->stacks);
	memset(prof, 0, sizeof(*prof));
}

void cw_profiler_close(struct cw_profiler *p)
{
	if (!p)
		return;
	cw_profiler_stop(p);
	ring_buffer__free(p->rb);
	if (p->rows_mem)
		munmap(p->rows_mem, p->rows_len);
	profile_bpf__destroy(p->skel);
	for (int i = 0; i < NBUCKETS; i++) {
		for (struct uw_obj *o = p->objs[i], *n; o; o = n) {
			n = o->next;
			free(o);
		}
		for (struct proc *pr = p->procs[i], *n; pr; pr = n) {
			n = pr->next;
			cw_proc_maps_free(&pr->maps);
			free(pr);
		}
	}
	cw_syms_free(p->syms);
	free(p->pfds);
	free(p->plinks);
	free(p);
}
