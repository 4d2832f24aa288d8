/* Patching function entries in the running process: the code arena for stubs, the int3 protocol for
 * writing code that other threads may be executing, and the SIGTRAP handler that goes with it.
 *
 *   before                         during (int3 protocol)              after
 *   func:  [endbr64]               func:  [endbr64]                    func:  [endbr64]
 *   site:  55        push %rbp     site:  cc  <orig bytes 1..4>   (1)  site:  e9 <rel32> ---> stub (arena,
 *          48 89 e5  mov %rsp,%rbp        cc  <rel32 of the jump> (2)         <stale bytes>     +-2 GB)
 *          48 83 ec  sub ...              e9  <rel32 of the jump> (3)  site+len: rest of the function
 *
 *   stub:  push $site; jmp *entry_common(%rip); int3 x5; <displaced insns, relocated>;
 *          jmp site+len; .quad entry_common                    (layout: src/arch/x86_64/reloc.c)
 *
 * Why this is safe while other threads run the function (the same protocol as the kernel's text_poke_bp):
 * (1) the first byte becomes int3, then every core is serialized (membarrier SYNC_CORE) so none still holds
 * the old first instruction half-fetched; (2) bytes 1..4 change while any thread reaching the site traps;
 * serialize; (3) the first byte becomes the jump's opcode; serialize. Removal runs the same steps back to
 * the original bytes. A thread that traps is sent by the SIGTRAP handler to the stub's relocated copy of the
 * original instructions (stub+16), which is a correct execution of the function (just not timed) whatever
 * the phase; since stubs are never freed and sites never forgotten, a handler that runs late still finds
 * them. All writes go through /proc/self/mem, so no code page is ever made writable (no W^X window).
 *
 * What the int3 protocol alone does not cover: a thread that is not running but stopped between two
 * displaced instructions (preempted, or blocked in a system call there) would resume in the middle of the
 * new jump. So crosswalk, like Dyninst, stops every other thread with ptrace while a batch is committed
 * ("prepare" builds the stubs and lists the ranges, "commit" writes the jumps): a thread found inside a
 * range makes it retry a little later, and a site that stays busy is left out with the reason
 * (src/measure/agent_source.c, commit_stopped). Removal needs no such care: after the jump, the bytes it
 * covers are never executed, and threads inside a stub finish there. */
#include "agent/agent.h"
#include "agent/unsafe.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <elf.h>
#include <errno.h>
#include <link.h>
#include <fcntl.h>
#include <linux/membarrier.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

struct cw_site cw_sites[CW_MAX_SITES];
volatile uint32_t cw_nsites;

static int mem_fd = -1;
static int sync_core_ok;
static struct sigaction old_trap;

#define SLOT_BYTES 128
#define ARENA_BYTES (256u << 10)
#define MAX_ARENAS 256

struct arena {
	uint64_t base;
	uint32_t used;
};
static struct arena arenas[MAX_ARENAS];
static int narenas;

static void sync_cores(void)
{
	/* every thread of the process runs a core-serializing instruction before it returns to user space */
	if (sync_core_ok && syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE, 0, 0) == 0)
		return;
	/* fallback: an mprotect that changes a page's protection makes the kernel shoot down TLBs with IPIs on
	 * every CPU running this mm; the interrupt return serializes them */
	static char *page;
	if (!page)
		page = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (page != MAP_FAILED) {
		mprotect(page, 4096, PROT_READ | PROT_WRITE);
		mprotect(page, 4096, PROT_READ);
	}
}

static int code_write(uint64_t addr, const void *b, size_t n)
{
	ssize_t w = pwrite(mem_fd, b, n, (off_t)addr);
	return w == (ssize_t)n ? 0 : (w < 0 ? -errno : -EIO);
}

static int site_of(uint64_t pc)
{
	uint32_t n = __atomic_load_n(&cw_nsites, __ATOMIC_ACQUIRE);
	for (uint32_t i = 0; i < n; i++)
		if (cw_sites[i].patch.site == pc)
			return (int)i;
	return -1;
}

static void on_trap(int sig, siginfo_t *si, void *ucv)
{
	ucontext_t *uc = ucv;
	uint64_t pc = (uint64_t)uc->uc_mcontext.gregs[REG_RIP] - 1;
	int i = site_of(pc);
	if (i >= 0) {
		uc->uc_mcontext.gregs[REG_RIP] = (greg_t)(cw_sites[i].stub + CW_X86_STUB_ORIG_OFF);
		return;
	}
	/* not ours: behave as if we were not here */
	if (old_trap.sa_flags & SA_SIGINFO) {
		if (old_trap.sa_sigaction)
			old_trap.sa_sigaction(sig, si, ucv);
		return;
	}
	if (old_trap.sa_handler == SIG_IGN)
		return;
	if (old_trap.sa_handler != SIG_DFL) {
		old_trap.sa_handler(sig);
		return;
	}
	signal(SIGTRAP, SIG_DFL);
	raise(SIGTRAP);
}

/* Our SIGTRAP handler, (re)installed before each patching session: the program may have replaced it since
 * the last one. It stays installed after a detach (a thread that trapped on a site just before its bytes
 * were restored may still be on its way to the handler); for any other trap it behaves as the program's
 * own disposition. */
int cw_patch_ensure_trap(char *err, size_t errlen)
{
	struct sigaction sa, cur;
	if (sigaction(SIGTRAP, NULL, &cur) == 0 && (cur.sa_flags & SA_SIGINFO) && cur.sa_sigaction == on_trap)
		return 0;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_trap;
	sa.sa_flags = SA_SIGINFO | SA_RESTART | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGTRAP, &sa, &old_trap)) {
		snprintf(err, errlen, "sigaction(SIGTRAP): %s", strerror(errno));
		return -errno;
	}
	return 0;
}

int cw_patch_init(char *err, size_t errlen)
{
	struct sigaction sa;
	mem_fd = open("/proc/self/mem", O_RDWR | O_CLOEXEC);
	if (mem_fd < 0) {
		snprintf(err, errlen, "/proc/self/mem: %s", strerror(errno));
		return -errno;
	}
	if (syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE, 0, 0) == 0)
		sync_core_ok = 1;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_trap;
	sa.sa_flags = SA_SIGINFO | SA_RESTART | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGTRAP, &sa, &old_trap)) {
		snprintf(err, errlen, "sigaction(SIGTRAP): %s", strerror(errno));
		return -errno;
	}
	return 0;
}

/* A stub slot within +-2 GB of SITE (minus margins), from an arena near it or a new one. */
static uint64_t arena_alloc(uint64_t site)
{
	const int64_t reach = (1ll << 31) - (16ll << 20);
	for (int i = 0; i < narenas; i++) {
		int64_t d = (int64_t)(arenas[i].base - site);
		if (d > -reach && d < reach && arenas[i].used + SLOT_BYTES <= ARENA_BYTES) {
			uint64_t a = arenas[i].base + arenas[i].used;
			arenas[i].used += SLOT_BYTES;
			return a;
		}
	}
	if (narenas == MAX_ARENAS)
		return 0;
	/* look for a hole, nearest first, alternating below and above the site */
	uint64_t base = site & ~(uint64_t)(ARENA_BYTES - 1);
	for (uint64_t step = ARENA_BYTES; step < (uint64_t)reach; step += step < (64u << 20) ? ARENA_BYTES : (16u << 20)) {
		for (int dir = 0; dir < 2; dir++) {
			uint64_t a = dir ? base + step : base - step;
			if (a < (1u << 20) || a > 0x7fffffffffffull - ARENA_BYTES)
				continue;
			void *p = mmap((void *)a, ARENA_BYTES, PROT_READ | PROT_EXEC,
				       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
			if (p == MAP_FAILED)
				continue;
			if ((uint64_t)p != a) { /* old kernels ignore the flag and treat it as a hint */
				munmap(p, ARENA_BYTES);
				continue;
			}
			arenas[narenas].base = a;
			arenas[narenas].used = SLOT_BYTES;
			narenas++;
			return a;
		}
	}
	return 0;
}

/* batch state */
static int batching;
static uint32_t pend[CW_MAX_SITES];
static uint8_t pend_bytes[CW_MAX_SITES][CW_X86_JMP_LEN];
static uint32_t npend;

static void stage(uint32_t i, const uint8_t bytes[CW_X86_JMP_LEN])
{
	pend[npend] = i;
	memcpy(pend_bytes[npend], bytes, CW_X86_JMP_LEN);
	npend++;
}

/* In the child of a fork: /proc/self/mem opened before the fork still names the parent's memory (a
 * patch written through it would land in the parent), and the membarrier registration is the parent
 * process's: both are made again for the child. Called from the atfork child handler (one thread). */
void cw_patch_after_fork(void)
{
	/* a fork between a prepare and its commit: the child's batch belongs to nobody */
	batching = 0;
	npend = 0;
	if (mem_fd < 0)
		return;
	close(mem_fd);
	mem_fd = open("/proc/self/mem", O_RDWR | O_CLOEXEC);
	sync_core_ok = syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE, 0, 0) == 0;
}

/* The sites staged in the current batch: what a thread must not be in the middle of when they change. */
int cw_patch_staged(uint32_t k, uint64_t *site, uint32_t *len, int32_t *slot)
{
	if (k >= npend)
		return 0;
	*site = cw_sites[pend[k]].patch.site;
	*len = cw_sites[pend[k]].patch.len;
	*slot = cw_sites[pend[k]].slot;
	return 1;
}

/* Takes the staged patch of SITE out of the batch (a stopped thread sits inside its bytes). */
int cw_patch_unstage(uint64_t site)
{
	for (uint32_t k = 0; k < npend; k++)
		if (cw_sites[pend[k]].patch.site == site) {
			cw_sites[pend[k]].patched = false;
			cw_sites[pend[k]].slot = -1;
			npend--;
			pend[k] = pend[npend];
			memcpy(pend_bytes[k], pend_bytes[npend], CW_X86_JMP_LEN);
			return 0;
		}
	return -ENOENT;
}

void cw_patch_begin(void)
{
	batching = 1;
	npend = 0;
}

void cw_patch_commit(void)
{
	uint8_t int3 = CW_X86_INT3;
	batching = 0;
	if (!npend)
		return;
	sync_cores(); /* new stubs visible to every core before any jump to them exists */
	for (uint32_t k = 0; k < npend; k++)
		code_write(cw_sites[pend[k]].patch.site, &int3, 1);
	sync_cores();
	for (uint32_t k = 0; k < npend; k++)
		code_write(cw_sites[pend[k]].patch.site + 1, pend_bytes[k] + 1, CW_X86_JMP_LEN - 1);
	sync_cores();
	for (uint32_t k = 0; k < npend; k++)
		code_write(cw_sites[pend[k]].patch.site, pend_bytes[k], 1);
	sync_cores();
	npend = 0;
}

static int find_func(uint64_t func)
{
	for (uint32_t i = 0; i < cw_nsites; i++)
		if (cw_sites[i].patch.func == func)
			return (int)i;
	return -1;
}

int cw_patch_insert(uint64_t func, uint64_t size, int32_t slot, char *err, size_t errlen)
{
	int i = find_func(func), r;
	uint8_t jmp[CW_X86_JMP_LEN];

	if ((slot < 0 && slot != CW_SLOT_UNWIND && slot != CW_SLOT_CATCH) || slot >= CW_AGENT_NSLOTS) {
		snprintf(err, errlen, "slot %d out of range", slot);
		return -EINVAL;
	}
	if (slot >= 0) {
		/* whatever the client asked: the by-name list holds for an address too (object+0xOFFSET) */
		Dl_info di;
		const ElfW(Sym) *sym = NULL;
		const char *why = NULL;
		if (dladdr1((void *)func, &di, (void **)&sym, RTLD_DL_SYMENT) && sym && di.dli_sname &&
		    (uint64_t)di.dli_saddr == func)
			why = cw_unsafe_to_instrument(di.dli_sname);
		if (why) {
			snprintf(err, errlen, "%s", why);
			return -EPERM;
		}
	}
	if (i >= 0 && cw_sites[i].patched) {
		snprintf(err, errlen, "already instrumented (slot %d)", cw_sites[i].slot);
		return -EEXIST;
	}
	if (i < 0) {
		struct cw_site *s;
		uint8_t stub[CW_X86_STUB_MAX];
		if (cw_nsites >= CW_MAX_SITES) {
			snprintf(err, errlen, "too many instrumented functions");
			return -ENOSPC;
		}
		if (!size || size > (1u << 24)) {
			snprintf(err, errlen, "function size unknown: cannot check branches into the patch");
			return -EINVAL;
		}
		s = &cw_sites[cw_nsites];
		/* the body is read where it runs: what we decode is what we patch */
		r = cw_x86_plan((const uint8_t *)func, size, func, &s->patch, err, errlen);
		if (r)
			return r;
		uint64_t a = arena_alloc(s->patch.site);
		if (!a) {
			snprintf(err, errlen, "no free memory within +-2 GB for the stub");
			return -ENOMEM;
		}
		r = cw_x86_stub_build(&s->patch, cw_nsites, (uint64_t)cw_x86_entry_common, stub, sizeof(stub), a,
				      err, errlen);
		if (r < 0)
			return r;
		if ((r = code_write(a, stub, (size_t)r))) {
			snprintf(err, errlen, "writing the stub: %s", strerror(-r));
			return r;
		}
		s->stub = a;
		s->slot = -1;
		i = (int)cw_nsites;
		/* published before any int3 can point a thread at it */
		__atomic_store_n(&cw_nsites, cw_nsites + 1, __ATOMIC_RELEASE);
	}
	struct cw_site *s = &cw_sites[i];
	if ((r = cw_x86_site_jump(s->patch.site, s->stub, jmp)))
		return r;
	s->slot = slot;
	s->patched = true;
	stage((uint32_t)i, jmp);
	if (!batching) {
		cw_patch_begin();
		stage((uint32_t)i, jmp);
		cw_patch_commit();
	}
	return 0;
}

static void unpatch(uint32_t i)
{
	struct cw_site *s = &cw_sites[i];
	if (!s->patched)
		return;
	s->patched = false;
	s->slot = -1; /* threads still in the stub stop timing */
	stage(i, s->patch.orig);
}

int cw_patch_remove_slot(int32_t slot)
{
	int found = 0, was = batching;
	if (!was)
		cw_patch_begin();
	for (uint32_t i = 0; i < cw_nsites; i++)
		if (cw_sites[i].patched && cw_sites[i].slot == slot) {
			unpatch(i);
			found = 1;
		}
	if (!was)
		cw_patch_commit();
	return found ? 0 : -ENOENT;
}

void cw_patch_remove_all(void)
{
	int was = batching;
	if (!was)
		cw_patch_begin();
	for (uint32_t i = 0; i < cw_nsites; i++)
		unpatch(i);
	if (!was)
		cw_patch_commit();
}

/* Exceptions and forced unwinding (pthread_exit, cancellation) walk the stack through return addresses,
 * and a return address replaced by the trampoline has no unwind info: the unwinder would give up
 * (std::terminate). So, as uftrace does, the start of an unwind puts the real return addresses back, and
 * __cxa_begin_catch (the unwind is over) drops the frames that were unwound and re-arms the survivors.
 * These functions are found by dlsym in the process itself; their sizes come from their symbols. */
void cw_patch_unwind_hooks(void)
{
	static const struct {
		const char *name;
		int32_t slot;
	} hooks[] = {
		{ "_Unwind_RaiseException", CW_SLOT_UNWIND },
		{ "_Unwind_Resume_or_Rethrow", CW_SLOT_UNWIND },
		{ "_Unwind_ForcedUnwind", CW_SLOT_UNWIND },
		{ "__cxa_begin_catch", CW_SLOT_CATCH },
	};
	char err[200];
	for (size_t k = 0; k < sizeof(hooks) / sizeof(hooks[0]); k++) {
		void *a = dlsym(RTLD_DEFAULT, hooks[k].name);
		Dl_info di;
		const ElfW(Sym) *sym = NULL;
		if (!a || !dladdr1(a, &di, (void **)&sym, RTLD_DL_SYMENT) || !sym || !sym->st_size) {
			if (getenv("CW_AGENT_DEBUG"))
				fprintf(stderr, "crosswalk agent: %s not found (%p)\n", hooks[k].name, a);
			continue;
		}
		int i = find_func((uint64_t)a);
		if (i >= 0 && cw_sites[i].patched)
			continue;
		/* a refusal leaves that path as it was: exceptions through instrumented frames then terminate,
		 * which the table's "unwound" column would not hide */
		if (cw_patch_insert((uint64_t)a, sym->st_size, hooks[k].slot, err, sizeof(err)) && getenv("CW_AGENT_DEBUG"))
			fprintf(stderr, "crosswalk agent: cannot hook %s: %s\n", hooks[k].name, err);
	}
}
