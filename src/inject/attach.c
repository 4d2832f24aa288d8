/* Attaching to a running process: stop all its threads with ptrace, make one of them call
 * dlopen(agent) and cw_agent_start(dir, 0) as if it had called them itself, restore its registers exactly,
 * and let every thread go.
 *
 * A remote call: the chosen thread's registers are saved; its stack pointer moves 4 KB below the current
 * one (past the red zone), the strings go there, the return address pushed is 0 so that the function's
 * return faults with SIGSEGV at address 0, which ptrace reports to us instead of the process. orig_rax = -1
 * keeps the kernel from restarting a system call the thread was stopped in; restoring the saved registers
 * afterwards (with their orig_rax) lets the interrupted call restart as it would have. */
#include "inject/inject.h"
#include "util/util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_TIDS 4096

struct tracee {
	pid_t tids[MAX_TIDS];
	int n;
	int pending_sig; /* a signal for the process that arrived during our calls: delivered at detach */
};

static int seized(const struct tracee *t, pid_t tid)
{
	for (int i = 0; i < t->n; i++)
		if (t->tids[i] == tid)
			return 1;
	return 0;
}

/* Seize and stop every thread, re-reading the task list until it holds no thread we have not stopped
 * (threads may be created while we work). */
static int stop_all_but(pid_t pid, struct tracee *t, pid_t skip, char *err, size_t errlen);

static int stop_all(pid_t pid, struct tracee *t, char *err, size_t errlen)
{
	return stop_all_but(pid, t, 0, err, errlen);
}

static int stop_all_but(pid_t pid, struct tracee *t, pid_t skip, char *err, size_t errlen)
{
	char p[64];
	int added;
	snprintf(p, sizeof(p), "/proc/%d/task", (int)pid);
	do {
		DIR *d = opendir(p);
		struct dirent *de;
		added = 0;
		if (!d) {
			snprintf(err, errlen, "process %d: %s", (int)pid, strerror(errno));
			return -ESRCH;
		}
		while ((de = readdir(d))) {
			pid_t tid = atoi(de->d_name);
			if (tid <= 0 || tid == skip || seized(t, tid) || t->n == MAX_TIDS)
				continue;
			if (ptrace(PTRACE_SEIZE, tid, 0, 0)) {
				if (errno == ESRCH)
					continue; /* exited meanwhile */
				int e = errno;
				closedir(d);
				snprintf(err, errlen, "cannot trace process %d (thread %d): %s%s", (int)pid, (int)tid,
					 strerror(e),
					 e == EPERM ? " (check /proc/sys/kernel/yama/ptrace_scope, or run as root)" : "");
				return -e;
			}
			t->tids[t->n++] = tid;
			added = 1;
			if (ptrace(PTRACE_INTERRUPT, tid, 0, 0) == 0) {
				int st;
				while (waitpid(tid, &st, __WALL) < 0 && errno == EINTR)
					;
				/* a real signal stop: remember it, it is re-delivered at detach */
				if (WIFSTOPPED(st) && (st >> 16) != PTRACE_EVENT_STOP && WSTOPSIG(st) != SIGTRAP)
					t->pending_sig = WSTOPSIG(st);
			}
		}
		closedir(d);
	} while (added);
	return 0;
}

static void detach_all(struct tracee *t, pid_t main_tid)
{
	for (int i = 0; i < t->n; i++)
		ptrace(PTRACE_DETACH, t->tids[i], 0, t->tids[i] == main_tid ? t->pending_sig : 0);
}

/* Runtime address of the dynamic symbol NAME of the object mapped from a file whose basename starts with
 * PREFIX in PID (NULL PREFIX: the file PATH). */
static int remote_sym(pid_t pid, const char *prefix, const char *path, const char *name, uint64_t *addr)
{
	char mp[64], line[PATH_MAX + 128], file[PATH_MAX] = "";
	uint64_t base = 0;
	FILE *f;
	snprintf(mp, sizeof(mp), "/proc/%d/maps", (int)pid);
	if (!(f = fopen(mp, "re")))
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		uint64_t s, e, off;
		int pos = 0;
		if (sscanf(line, "%lx-%lx %*s %lx %*s %*s %n", &s, &e, &off, &pos) < 3 || !pos)
			continue;
		char *pp = line + pos;
		pp[strcspn(pp, "\n")] = 0;
		const char *bn = strrchr(pp, '/');
		bn = bn ? bn + 1 : pp;
		if (off != 0 || pp[0] != '/')
			continue;
		if ((prefix && !strncmp(bn, prefix, strlen(prefix)) &&
		     (bn[strlen(prefix)] == '.' || bn[strlen(prefix)] == '-')) ||
		    (path && !strcmp(pp, path))) {
			base = s;
			snprintf(file, sizeof(file), "%s", pp);
			break;
		}
	}
	fclose(f);
	if (!file[0])
		return -ENOENT;

	int fd = open(file, O_RDONLY | O_CLOEXEC), r = -ENOENT;
	if (fd < 0)
		return -errno;
	elf_version(EV_CURRENT);
	Elf *e = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	Elf_Scn *scn = NULL;
	uint64_t first_load = 0;
	size_t np;
	if (e && !elf_getphdrnum(e, &np))
		for (size_t i = 0; i < np; i++) {
			GElf_Phdr ph;
			if (gelf_getphdr(e, (int)i, &ph) && ph.p_type == PT_LOAD) {
				first_load = ph.p_vaddr & ~0xfffull;
				break;
			}
		}
	while (e && r && (scn = elf_nextscn(e, scn))) {
		GElf_Shdr sh;
		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_DYNSYM)
			continue;
		Elf_Data *d = elf_getdata(scn, NULL);
		for (size_t i = 0; d && sh.sh_entsize && i < sh.sh_size / sh.sh_entsize; i++) {
			GElf_Sym s;
			if (!gelf_getsym(d, (int)i, &s) || s.st_shndx == SHN_UNDEF)
				continue;
			const char *nm = elf_strptr(e, sh.sh_link, s.st_name);
			if (nm && !strcmp(nm, name)) {
				*addr = base + s.st_value - first_load;
				r = 0;
				break;
			}
		}
	}
	elf_end(e);
	close(fd);
	return r;
}

static int wait_stop(pid_t tid, struct tracee *t, int *st, int timeout_ms)
{
	for (int waited = 0;; waited++) {
		pid_t w = waitpid(tid, st, __WALL | WNOHANG);
		if (w == tid)
			return 0;
		if (w < 0)
			return -errno;
		if (waited * 2 >= timeout_ms)
			return -ETIMEDOUT;
		struct timespec d = { 0, 2 * 1000 * 1000 };
		nanosleep(&d, NULL);
	}
}

/* Calls FN(A1, A2) in thread TID (stopped) with string S copied to its stack and passed as A1 when A1 is 0. */
static int remote_call(pid_t tid, struct tracee *t, const struct user_regs_struct *saved, uint64_t fn,
		       const char *s, uint64_t a2, uint64_t *ret, char *err, size_t errlen)
{
	struct user_regs_struct r = *saved;
	uint64_t sp = (saved->rsp - 4096) & ~15ull, str;
	size_t len = strlen(s) + 1;
	int st, e;

	str = (sp - len) & ~15ull;
	sp = str - 16; /* 16-aligned; after "pushing" the return address it is 8 mod 16, as after a call */
	uint64_t zero = 0;
	struct iovec l[2] = { { (void *)s, len }, { &zero, 8 } }, rm[2] = { { (void *)str, len }, { (void *)(sp - 8), 8 } };
	if (process_vm_writev(tid, l, 2, rm, 2, 0) != (ssize_t)(len + 8)) {
		/* process_vm_writev needs the pages writable; the stack is */
		snprintf(err, errlen, "writing to thread %d's stack: %s", (int)tid, strerror(errno));
		return -errno;
	}
	r.rsp = sp - 8;
	r.rip = fn;
	r.rdi = str;
	r.rsi = a2;
	r.rax = 0;
	r.orig_rax = (uint64_t)-1;
	if (ptrace(PTRACE_SETREGS, tid, 0, &r) || ptrace(PTRACE_CONT, tid, 0, 0)) {
		e = errno;
		snprintf(err, errlen, "ptrace on thread %d: %s", (int)tid, strerror(e));
		return -e;
	}
	for (;;) {
		if ((e = wait_stop(tid, t, &st, 10000))) {
			snprintf(err, errlen, "thread %d did not return from the injected call (%s)", (int)tid,
				 e == -ETIMEDOUT ? "a lock held where it was stopped?" : strerror(-e));
			return e;
		}
		if (WIFEXITED(st) || WIFSIGNALED(st)) {
			snprintf(err, errlen, "process died during injection");
			return -ESRCH;
		}
		if (WSTOPSIG(st) == SIGSEGV) {
			struct user_regs_struct o;
			ptrace(PTRACE_GETREGS, tid, 0, &o);
			if (o.rip == 0) {
				*ret = o.rax;
				return 0;
			}
			snprintf(err, errlen, "injected call crashed at 0x%llx", o.rip);
			return -EFAULT;
		}
		/* another signal for the process: keep it for detach, run on */
		if ((st >> 16) == 0 && WSTOPSIG(st) != SIGTRAP && WSTOPSIG(st) != SIGSTOP)
			t->pending_sig = WSTOPSIG(st);
		ptrace(PTRACE_CONT, tid, 0, 0);
	}
}

int cw_inject_attach(pid_t pid, const char *agent, const char *dir, char *err, size_t errlen)
{
	struct tracee *t = cw_calloc(1, sizeof(*t));
	struct user_regs_struct saved;
	uint64_t dlopen_addr = 0, start_addr = 0, ret = 0;
	char rpath[PATH_MAX];
	int r;

	if (!realpath(agent, rpath)) {
		snprintf(err, errlen, "agent %s: %s", agent, strerror(errno));
		free(t);
		return -ENOENT;
	}
	if ((r = stop_all(pid, t, err, errlen)))
		goto out;
	/* glibc >= 2.34 exports dlopen from libc itself; older ones have __libc_dlopen_mode */
	if (remote_sym(pid, "libc", NULL, "dlopen", &dlopen_addr) &&
	    remote_sym(pid, "libc", NULL, "__libc_dlopen_mode", &dlopen_addr)) {
		snprintf(err, errlen, "process %d: no dlopen in its libc (statically linked?)", (int)pid);
		r = -ENOENT;
		goto out;
	}
	if (ptrace(PTRACE_GETREGS, pid, 0, &saved)) {
		r = -errno;
		snprintf(err, errlen, "process %d: cannot read registers: %s", (int)pid, strerror(errno));
		goto out;
	}
	r = remote_call(pid, t, &saved, dlopen_addr, rpath, 2 /* RTLD_NOW */, &ret, err, errlen);
	if (!r && !ret) {
		snprintf(err, errlen, "dlopen(%s) failed in process %d", rpath, (int)pid);
		r = -ENOENT;
	}
	if (!r && remote_sym(pid, NULL, rpath, "cw_agent_start", &start_addr)) {
		snprintf(err, errlen, "agent loaded but cw_agent_start not found in process %d", (int)pid);
		r = -ENOENT;
	}
	if (!r) {
		r = remote_call(pid, t, &saved, start_addr, dir, 0, &ret, err, errlen);
		if (!r && (int)ret) {
			r = (int)ret;
			snprintf(err, errlen, "agent did not start in process %d: %s", (int)pid, strerror(-r));
		}
	}
	if (ptrace(PTRACE_SETREGS, pid, 0, &saved) && !r) {
		r = -errno;
		snprintf(err, errlen, "process %d: cannot restore registers: %s", (int)pid, strerror(errno));
	}
out:
	detach_all(t, pid);
	free(t);
	return r;
}

/* Stop-the-world for patching: every thread of PID but SKIP (the agent's own control thread, which does
 * the patching) is stopped with ptrace, transparently (system calls restart), and its PC read. */
struct cw_stopped {
	struct tracee t;
	pid_t pid;
	uint64_t pcs[MAX_TIDS];
};

struct cw_stopped *cw_inject_stop(pid_t pid, pid_t skip, char *err, size_t errlen)
{
	struct cw_stopped *s = cw_calloc(1, sizeof(*s));
	s->pid = pid;
	if (stop_all_but(pid, &s->t, skip, err, errlen)) {
		detach_all(&s->t, pid);
		free(s);
		return NULL;
	}
	for (int i = 0; i < s->t.n; i++) {
		struct user_regs_struct r;
		s->pcs[i] = ptrace(PTRACE_GETREGS, s->t.tids[i], 0, &r) ? 0 : r.rip;
	}
	return s;
}

int cw_inject_stopped_pcs(const struct cw_stopped *s, const uint64_t **pcs)
{
	*pcs = s->pcs;
	return s->t.n;
}

void cw_inject_resume(struct cw_stopped *s)
{
	if (!s)
		return;
	detach_all(&s->t, s->pid);
	free(s);
}
