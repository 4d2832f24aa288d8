/* The hook path: what runs on every entry and exit of an instrumented function, inside the target.
 *
 * Rules of this file (compiled with -mgeneral-regs-only): no libc call, no allocation, no errno change on the
 * fast path; a per-thread busy flag keeps the agent's own thread and the slow path (thread set-up, which
 * may call instrumented libc functions such as malloc or memset) out of the instrumentation.
 *
 * Return instances: each timed call pushes a frame (real return address, its stack slot, entry TSC, the
 * inclusive time of instrumented children) on a per-thread shadow stack, mmap'd on the thread's first
 * instrumented call. The slot address identifies the frame: on exit the frame whose slot matches is found
 * from the top, and frames above it were abandoned by longjmp/siglongjmp (or an exception) and are dropped;
 * on entry, frames of the same stack whose slot is at or below the new one are abandoned as well, except
 * for a tail call: the slot already returns into the trampoline, and both frames stay (the tail-called
 * function's saved return address is the trampoline, so returning runs the exit hook twice, innermost
 * first). */
#include "agent/agent.h"
#include "agent/layout.h"

#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define CW_STACK_FRAMES 8192
#define CW_UNWIND_LEVELS 16

/* Return instances from a shared pool (objpool or the freelist baseline, chosen at start-up through the
 * counter region's "pool" field): the instance holds what the return needs; the per-thread stack keeps
 * only a pointer to it. With the default per-thread stack the data is in the frame itself. */
#if __has_include("objpool/objpool.h")
#include "objpool/freelist.h"
#include "objpool/objpool.h"
#define CW_HAVE_POOLS 1
static struct cw_objpool *inst_objpool;
static struct cw_freelist *inst_freelist;
#endif
int cw_pool_kind CW_HIDDEN; /* enum cw_agent_pool; read by tramp.S too */

struct cw_inst {
	uint64_t ret;
	uint64_t t0;
};

struct cw_frame {
	uint64_t ret;	 /* the real return address */
	uint64_t *retp;	 /* where it was on the stack */
	uint64_t t0;	 /* entry TSC */
	uint64_t child;	 /* ticks of instrumented callees */
	int32_t slot;
	uint32_t site;	   /* the instrumented function's site: who tail-called, for the per-site counts */
	int32_t caller;	   /* its entry in the slot's callers table, or -1 */
	uint32_t restored; /* 0: armed (returns into the trampoline); else the level of the unwind that put the
			      real return address back */
	uint32_t gen;	   /* the controller session it was opened in (cw_hook_new_session) */
	struct cw_inst *inst; /* pool modes: where ret and t0 live */
};

struct cw_thread {
	int busy;
	uint32_t shard; /* which shard of the counters this thread adds to */
	bool excl;	/* the shard is this thread's alone: plain adds (see ctr_add) */
	volatile uint32_t depth;
	uint32_t unwinds; /* unwinds in progress on this thread: nested when a cleanup on the way of one
			     exception throws and catches another */
	uint64_t unw_exc[CW_UNWIND_LEVELS]; /* the exception object of each level */
	struct cw_thread *next, *prev; /* the registry of threads, for the in-flight reads */
	uint64_t stack_lo, stack_hi; /* the thread's own stack: frames elsewhere (sigaltstack) are never dropped
					on entry */
	struct cw_frame frames[CW_STACK_FRAMES];
};

/* what tramp.S's fast paths assume of these layouts (agent/layout.h) */
#define CW_LAYOUT(type, field, off) _Static_assert(offsetof(type, field) == (off), #type "." #field)
CW_LAYOUT(struct cw_thread, busy, CW_T_BUSY);
CW_LAYOUT(struct cw_thread, shard, CW_T_SHARD);
CW_LAYOUT(struct cw_thread, excl, CW_T_EXCL);
CW_LAYOUT(struct cw_thread, depth, CW_T_DEPTH);
CW_LAYOUT(struct cw_thread, stack_lo, CW_T_STACK_LO);
CW_LAYOUT(struct cw_thread, stack_hi, CW_T_STACK_HI);
CW_LAYOUT(struct cw_thread, frames, CW_T_FRAMES);
_Static_assert(CW_STACK_FRAMES == CW_T_NFRAMES, "CW_T_NFRAMES");
_Static_assert(sizeof(struct cw_frame) == 1u << CW_F_SHIFT, "sizeof(struct cw_frame)");
CW_LAYOUT(struct cw_frame, ret, CW_F_RET);
CW_LAYOUT(struct cw_frame, retp, CW_F_RETP);
CW_LAYOUT(struct cw_frame, t0, CW_F_T0);
CW_LAYOUT(struct cw_frame, child, CW_F_CHILD);
CW_LAYOUT(struct cw_frame, slot, CW_F_SLOT);
CW_LAYOUT(struct cw_frame, site, CW_F_SITE);
CW_LAYOUT(struct cw_frame, caller, CW_F_CALLER);
CW_LAYOUT(struct cw_frame, restored, CW_F_RESTORED);
CW_LAYOUT(struct cw_frame, gen, CW_F_GEN);
CW_LAYOUT(struct cw_frame, inst, CW_F_INST);
_Static_assert(sizeof(struct cw_site) == CW_S_SIZE, "sizeof(struct cw_site)");
CW_LAYOUT(struct cw_site, stub, CW_S_STUB);
CW_LAYOUT(struct cw_site, slot, CW_S_SLOT);
_Static_assert(CW_MAX_SITES == CW_S_MAX && CW_X86_STUB_ORIG_OFF == CW_S_ORIG_OFF, "CW_S_MAX, CW_S_ORIG_OFF");
CW_LAYOUT(struct cw_agent_shm, slots, CW_SHM_SLOTS);
_Static_assert(sizeof(struct cw_agent_slot) == CW_SLOT_SIZE, "sizeof(struct cw_agent_slot)");
_Static_assert(sizeof(struct cw_agent_ctr) == 1u << CW_CTR_SHIFT, "sizeof(struct cw_agent_ctr)");
CW_LAYOUT(struct cw_agent_slot, c, 0);
CW_LAYOUT(struct cw_agent_ctr, calls, CW_CTR_CALLS);
CW_LAYOUT(struct cw_agent_ctr, incl_ticks, CW_CTR_INCL);
CW_LAYOUT(struct cw_agent_ctr, child_ticks, CW_CTR_CHILD);
_Static_assert(sizeof(cw_pool_kind) == 4 && sizeof(cw_count_sites) == 4 && CW_POOL_STACK == 0, "flags tramp.S reads");

/* initial-exec: one %fs-relative load, no __tls_get_addr (which may allocate) on the hook path */
__thread struct cw_thread *cw_tls CW_HIDDEN __attribute__((tls_model("initial-exec"))); /* tramp.S too */
static __thread int cw_tls_state __attribute__((tls_model("initial-exec"))); /* 0 new, 1 ready, 2 dead/busy */

static inline struct cw_inst *inst_pop(void)
{
#ifdef CW_HAVE_POOLS
	if (cw_pool_kind == CW_POOL_OBJPOOL)
		return cw_objpool_pop(inst_objpool);
	if (cw_pool_kind == CW_POOL_FREELIST)
		return cw_freelist_pop(inst_freelist);
#endif
	return NULL;
}

static inline void inst_push(struct cw_inst *i)
{
#ifdef CW_HAVE_POOLS
	if (cw_pool_kind == CW_POOL_OBJPOOL)
		cw_objpool_push(inst_objpool, i);
	else if (cw_pool_kind == CW_POOL_FREELIST)
		cw_freelist_push(inst_freelist, i);
#endif
}

static inline uint64_t frame_ret(const struct cw_frame *f)
{
	return f->inst ? f->inst->ret : f->ret;
}

int cw_hook_pool(void)
{
	return cw_pool_kind;
}

/* Chooses where return instances come from; called once before anything is patched. 0 or -errno. */
int cw_hook_set_pool(int kind, uint32_t nr)
{
	if (kind == CW_POOL_STACK) {
		cw_pool_kind = kind;
		return 0;
	}
#ifdef CW_HAVE_POOLS
	int r = -EINVAL;
	if (kind == CW_POOL_OBJPOOL)
		r = cw_objpool_init(&inst_objpool, nr, sizeof(struct cw_inst), 0, NULL, NULL, 0);
	else if (kind == CW_POOL_FREELIST)
		r = cw_freelist_init(&inst_freelist, nr, sizeof(struct cw_inst), NULL, NULL, 0);
	if (!r)
		cw_pool_kind = kind;
	return r;
#else
	return -ENOTSUP;
#endif
}

static uint64_t main_stack_lo, main_stack_hi;
static pid_t main_tid;
static pthread_key_t thread_key;
static int thread_key_ok;

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

/* Counter shards. Shard 0 is shared: threads add to it with locked instructions. Shards 1.. are taken by
 * one thread each (the first threads of the process), which adds with a plain read-modify-write `add`:
 * one instruction, so a signal handler on the same thread that calls instrumented functions cannot split
 * it, and no other thread writes that shard, so nothing is lost; the controller reads each 8-byte counter
 * with one load. A locked add costs ~7 ns on some machines (this Xeon VM), several per call. Across fork
 * the counter region is shared with the parent, whose threads keep their shards: the child's thread moves
 * to shard 0 and the child takes no shard of its own until a controller of its own attaches. */
static uint32_t shard_owner[CW_AGENT_SHARDS];

static inline void ctr_add(const struct cw_thread *t, uint64_t *p, uint64_t v)
{
	if (t->excl)
		__asm__ volatile("addq %1, %0" : "+m"(*p) : "r"(v));
	else
		__atomic_fetch_add(p, v, __ATOMIC_RELAXED);
}

static void shard_take(struct cw_thread *t)
{
	t->shard = 0;
	t->excl = false;
	for (uint32_t k = 1; k < CW_AGENT_SHARDS; k++) {
		uint32_t zero = 0;
		if (__atomic_compare_exchange_n(&shard_owner[k], &zero, 1, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
			t->shard = k;
			t->excl = true;
			return;
		}
	}
}

static void shard_give_back(struct cw_thread *t)
{
	if (t->excl)
		__atomic_store_n(&shard_owner[t->shard], 0, __ATOMIC_RELEASE);
	t->excl = false;
}

/* A controller of the fork's child's own attaches: the region is the child's alone now, and every
 * thread that exists adds to shard 0 (cw_hook_fork_child), so the exclusive shards are free again. */
void cw_hook_forked_attach(void)
{
	for (uint32_t k = 1; k < CW_AGENT_SHARDS; k++)
		__atomic_store_n(&shard_owner[k], 0, __ATOMIC_RELEASE);
}

/* A controller session: frames carry the one they were opened in; those of an earlier session (the parent's
 * controller in a fork's child, or a controller that detached) name slots of a counter region no longer
 * mapped as cw_shm, and are not counted. */
uint32_t cw_session_gen CW_HIDDEN; /* read by tramp.S too */

void cw_hook_new_session(void)
{
	__atomic_fetch_add(&cw_session_gen, 1, __ATOMIC_RELEASE);
}

static void unwound(struct cw_thread *t, uint32_t k)
{
	if (t->frames[k].gen == __atomic_load_n(&cw_session_gen, __ATOMIC_RELAXED))
		ctr_add(t, &cw_shm->slots[t->frames[k].slot].c[t->shard].unwound, 1);
	if (t->frames[k].inst) {
		inst_push(t->frames[k].inst);
		t->frames[k].inst = NULL;
	}
}

/* Every thread's state, so that the control thread can sum the time of calls still open (a main or an
 * event loop that never returns must still show its time). A spin lock, taken only at thread start and
 * exit and by the control thread's reads: never on the hook path. */
static struct cw_thread *threads;
static int threads_lock;

static void reg_lock(void)
{
	while (__atomic_exchange_n(&threads_lock, 1, __ATOMIC_ACQUIRE))
		__builtin_ia32_pause();
}

static void reg_unlock(void)
{
	__atomic_store_n(&threads_lock, 0, __ATOMIC_RELEASE);
}

void cw_hook_fork_prepare(void)
{
	reg_lock();
}

void cw_hook_fork_parent(void)
{
	reg_unlock();
}

void cw_hook_fork_child(void)
{
	/* the other threads do not exist here: their states go (the lock was taken in prepare) */
	struct cw_thread *t = threads, *me = cw_tls;
	while (t) {
		struct cw_thread *next = t->next;
		if (t != me)
			munmap(t, sizeof(*t));
		t = next;
	}
	threads = me;
	if (me) {
		me->next = me->prev = NULL;
		me->shard = 0;
		me->excl = false;
	}
	for (uint32_t k = 1; k < CW_AGENT_SHARDS; k++)
		shard_owner[k] = 1; /* the parent's threads write them */
	reg_unlock();
}

static void thread_gone(void *p)
{
	/* the thread exits: frames still open belong to a stack that is going away */
	struct cw_thread *t = p;
	cw_tls = NULL;
	cw_tls_state = 2;
	if (!t)
		return;
	reg_lock();
	if (t->prev)
		t->prev->next = t->next;
	else
		threads = t->next;
	if (t->next)
		t->next->prev = t->prev;
	reg_unlock();
	for (uint32_t k = 0; k < t->depth; k++)
		unwound(t, k);
	shard_give_back(t);
	munmap(t, sizeof(*t));
}

/* Adds to NS[slot] the time so far of every call of an instrumented function still open on any thread
 * (frames of a thread are read racily: a frame pushed or popped meanwhile is at worst counted or missed
 * once). NOW is the TSC at the read. Called by the control thread. */
void cw_hook_inflight(uint64_t now, uint64_t *ns_ticks, uint32_t nslots)
{
	reg_lock();
	for (struct cw_thread *t = threads; t; t = t->next) {
		uint32_t d = t->depth;
		for (uint32_t k = 0; k < d && k < CW_STACK_FRAMES; k++) {
			const struct cw_frame *f = &t->frames[k];
			int32_t slot = f->slot;
			if (f->gen != cw_session_gen)
				continue;
			struct cw_inst *in = f->inst;
			uint64_t t0 = in ? in->t0 : f->t0;
			if (slot >= 0 && (uint32_t)slot < nslots && t0 && t0 < now)
				ns_ticks[slot] += now - t0;
		}
	}
	reg_unlock();
}

/* Reads the main thread's stack range from /proc/self/maps without malloc (plain syscalls). */
void cw_hook_init_main(void)
{
	char buf[4096], line[512];
	size_t ll = 0;
	ssize_t n;
	int fd = (int)syscall(SYS_open, "/proc/self/maps", 0);

	main_tid = getpid();
	if (pthread_key_create(&thread_key, thread_gone) == 0)
		thread_key_ok = 1;
	if (fd < 0)
		return;
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] != '\n') {
				if (ll < sizeof(line) - 1)
					line[ll++] = buf[i];
				continue;
			}
			line[ll] = 0;
			if (ll > 7 && !__builtin_memcmp(line + ll - 7, "[stack]", 7)) {
				uint64_t lo = 0, hi = 0;
				char *s = line;
				while (*s && *s != '-') {
					lo = lo * 16 + (uint64_t)(*s <= '9' ? *s - '0' : (*s | 32) - 'a' + 10);
					s++;
				}
				for (s++; *s && *s != ' '; s++)
					hi = hi * 16 + (uint64_t)(*s <= '9' ? *s - '0' : (*s | 32) - 'a' + 10);
				/* the stack may still grow down to the rlimit: take 64 MB below as ours */
				main_stack_lo = lo > (64ull << 20) ? lo - (64ull << 20) : 0;
				main_stack_hi = hi;
			}
			ll = 0;
		}
	}
	close(fd);
}

void cw_hook_thread_busy(void)
{
	cw_tls_state = 2;
}

extern uint64_t cw_x86_call_fpsafe(uint64_t (*fn)(void)) CW_HIDDEN;

static __attribute__((noinline, used)) struct cw_thread *thread_init(void)
{
	int saved = errno;
	struct cw_thread *t;

	cw_tls_state = 2; /* busy while setting up: libc calls below may be instrumented */
	t = mmap(NULL, sizeof(*t), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (t == MAP_FAILED) {
		errno = saved;
		return NULL; /* stays busy: this thread is not timed */
	}
	if (gettid() == main_tid) {
		t->stack_lo = main_stack_lo;
		t->stack_hi = main_stack_hi;
	} else {
		pthread_attr_t a;
		void *addr;
		size_t sz;
		if (pthread_getattr_np(pthread_self(), &a) == 0) {
			if (pthread_attr_getstack(&a, &addr, &sz) == 0) {
				t->stack_lo = (uint64_t)addr;
				t->stack_hi = (uint64_t)addr + sz;
			}
			pthread_attr_destroy(&a);
		}
	}
	if (thread_key_ok)
		pthread_setspecific(thread_key, t);
	shard_take(t);
	reg_lock();
	t->next = threads;
	if (threads)
		threads->prev = t;
	threads = t;
	reg_unlock();
	cw_tls = t;
	cw_tls_state = 1;
	errno = saved;
	return t;
}

static uint64_t thread_init_u64(void)
{
	return (uint64_t)thread_init();
}

/* The return address a call is counted under. A function that an instrumented function tail-called finds
 * the return trampoline in its slot; it is counted under the tail-caller instead, as its entry + 1 (a
 * "return address" inside the tail-caller), so that the controller can tell calls made through the
 * tail-caller (squid's AsyncCall::make jumping to a callback) from calls made by the tail-caller's own
 * caller. */
static inline uint64_t site_ret(const struct cw_thread *t, const uint64_t *retp)
{
	uint64_t ret = *retp;
	if (ret != (uint64_t)cw_x86_ret_tramp)
		return ret;
	for (uint32_t k = t->depth; k > 0; k--)
		if (t->frames[k - 1].retp == retp) {
			uint32_t site = t->frames[k - 1].site;
			return site < cw_nsites ? cw_sites[site].patch.func + 1 : ret;
		}
	return ret;
}

/* The index of KEY in a small table of N entries STRIDE bytes apart whose first field is a key (0: free),
 * claimed when new; -1 when the table is full. Threads race to claim: a lost race rereads the winner's key. */
static inline int32_t table_entry(void *table, size_t stride, int n, uint64_t key)
{
	for (int i = 0; i < n; i++) {
		uint64_t *k = (uint64_t *)((char *)table + (size_t)i * stride);
		uint64_t cur = __atomic_load_n(k, __ATOMIC_RELAXED);
		if (cur == 0) {
			uint64_t zero = 0;
			if (__atomic_compare_exchange_n(k, &zero, key, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
				return i;
			cur = zero;
		}
		if (cur == key)
			return i;
	}
	return -1;
}

/* The entry of S's callers table for KEY, or -1 when the table is full. */
static inline int32_t caller_entry(struct cw_agent_slot *s, uint64_t key)
{
	return table_entry(s->caller_key, sizeof(s->caller_key[0]), CW_AGENT_CALLERS_PER_SLOT, key);
}

static inline void count_site(const struct cw_thread *t, struct cw_agent_slot *s, uint64_t ret)
{
	int32_t i = table_entry(s->site_ret, sizeof(s->site_ret[0]), CW_AGENT_SITES_PER_SLOT, ret);
	if (i >= 0)
		ctr_add(t, &s->c[t->shard].site_calls[i], 1);
}

/* Unwinding and the shadow stack.
 *
 * The unwinder finds each caller through the return address in its callee's frame, and the trampoline has
 * no unwind info: so when an unwind starts (_Unwind_RaiseException, _Unwind_Resume_or_Rethrow,
 * _Unwind_ForcedUnwind) every replaced return address of the thread is put back, and when it ends
 * (__cxa_begin_catch in the catching frame) the frames below the catch are dropped as unwound and the others
 * are armed again.
 *
 * Unwinds nest. An exception's second phase runs each frame's cleanup (destructors) and resumes with
 * _Unwind_Resume; a cleanup may call functions that throw and catch an exception of their own (squid's
 * destructors do). The inner catch must not re-arm the frames the outer unwind is still to walk, or
 * _Unwind_Resume meets the trampoline and aborts. So each unwind gets a level (1 for the outermost), a frame
 * records the level that restored it, and a catch ends the innermost unwind only: it re-arms the frames of
 * that level (and of any deeper level whose end was never seen). The innermost is the one that ends: an
 * exception that escapes a cleanup during unwinding calls std::terminate, so an inner exception is always
 * caught below the cleanup's frame, before the outer unwind resumes. */
static void unwind_begins(struct cw_thread *t, uint64_t exc)
{
	/* the same exception again is the same unwind: __cxa_rethrow's _Unwind_Resume_or_Rethrow calls
	 * _Unwind_RaiseException, and both are hooked */
	if (!t->unwinds || t->unw_exc[t->unwinds - 1] != exc) {
		if (t->unwinds < CW_UNWIND_LEVELS)
			t->unwinds++;
		t->unw_exc[t->unwinds - 1] = exc;
	}
	uint32_t level = t->unwinds;
	/* innermost first, so that of two tail-call frames sharing a slot the outer one's real address wins */
	for (uint32_t k = t->depth; k > 0; k--) {
		struct cw_frame *f = &t->frames[k - 1];
		if (!f->restored && *f->retp == (uint64_t)cw_x86_ret_tramp) {
			*f->retp = frame_ret(f);
			f->restored = level;
		}
	}
}

static inline bool own_stack(const struct cw_thread *t, uint64_t a)
{
	return a >= t->stack_lo && a < t->stack_hi;
}

/* __cxa_begin_catch(EXC), called from the catching frame whose return slot is above CATCH_RETP: frames at or
 * below it on the same stack were unwound; those the ending unwind restored are re-armed. The ending unwind
 * is EXC's level (levels above it were left by a longjmp out of a cleanup: they end too), or the innermost
 * for an exception whose start was not seen. */
static void unwind_caught(struct cw_thread *t, uint64_t *catch_retp, uint64_t exc)
{
	uint64_t c = (uint64_t)catch_retp;
	uint32_t level = t->unwinds ? t->unwinds : 1;
	for (uint32_t l = t->unwinds; l > 0; l--)
		if (t->unw_exc[l - 1] == exc) {
			level = l;
			break;
		}
	while (t->depth) {
		struct cw_frame *f = &t->frames[t->depth - 1];
		uint64_t b = (uint64_t)f->retp;
		/* a callee that the catching frame called from the same stack pointer used the very slot that
		 * __cxa_begin_catch's call uses now: it was unwound too; unless an instrumented function
		 * tail-called __cxa_begin_catch, whose frame that is */
		if (b > c || own_stack(t, b) != own_stack(t, c) || (b == c && *catch_retp == (uint64_t)cw_x86_ret_tramp))
			break;
		unwound(t, t->depth - 1);
		t->depth--;
	}
	for (uint32_t k = 0; k < t->depth; k++) {
		struct cw_frame *f = &t->frames[k];
		uint64_t b = (uint64_t)f->retp;
		if (own_stack(t, b) == own_stack(t, c) && b < c)
			continue; /* below the catch on its stack: dead, never written to again */
		if (f->restored >= level && *f->retp == frame_ret(f)) {
			*f->retp = (uint64_t)cw_x86_ret_tramp;
			f->restored = 0;
		}
	}
	t->unwinds = level - 1;
}

/* a broken invariant on the hook's path, where nothing can be unwound: say what, and stop */
#define agent_die(msg)                                                                                       \
	do {                                                                                                 \
		static const char m_[] = "crosswalk agent: " msg "; aborting\n";                             \
		(void)!write(2, m_, sizeof(m_) - 1);                                                         \
		abort();                                                                                     \
	} while (0)

static __attribute__((noreturn, noinline, cold)) void bad_site(void)
{
	agent_die("entry through an unknown stub");
}

uint64_t cw_agent_on_entry(uint32_t site, uint64_t *retp, uint64_t arg0)
{
	struct cw_thread *t = cw_tls;
	int32_t slot;

	if (__builtin_expect(site >= CW_MAX_SITES, 0))
		bad_site();
	/* where the function goes on, whatever happens here: its relocated first instructions */
	uint64_t cont = cw_sites[site].stub + CW_X86_STUB_ORIG_OFF;
	if (__builtin_expect(!t, 0)) {
		if (cw_tls_state != 0)
			return cont;
		t = (struct cw_thread *)cw_x86_call_fpsafe(thread_init_u64);
		if (!t)
			return cont;
	}
	if (t->busy)
		return cont;
	slot = cw_sites[site].slot;
	if (slot < 0) {
		if (slot == CW_SLOT_UNWIND)
			unwind_begins(t, arg0);
		else if (slot == CW_SLOT_CATCH)
			unwind_caught(t, retp, arg0);
		return cont; /* or removed while this thread was in the stub */
	}
	struct cw_agent_slot *s = &cw_shm->slots[slot];
	if (cw_count_sites)
		count_site(t, s, site_ret(t, retp));
	struct cw_agent_ctr *c = &s->c[t->shard];
	uint64_t a = (uint64_t)retp;
	int32_t caller = -1;
	if (a >= t->stack_lo && a < t->stack_hi)
		while (t->depth) {
			uint64_t b = (uint64_t)t->frames[t->depth - 1].retp;
			if (b > a || b < t->stack_lo || b >= t->stack_hi)
				break;
			/* same slot, already pointing at the trampoline: an instrumented function tail-called
			 * this one (jmp, not call); its frame is alive and is finished when we return into
			 * the trampoline a second time */
			if (b == a && *retp == (uint64_t)cw_x86_ret_tramp)
				break;
			unwound(t, t->depth - 1); /* abandoned by a longjmp out of it */
			t->depth--;
		}
	if (t->depth >= CW_STACK_FRAMES) {
		ctr_add(t, &c->lost, 1);
		return cont;
	}
	if (cw_count_sites)
		caller = caller_entry(s, t->depth && t->frames[t->depth - 1].slot >= 0
						 ? CW_AGENT_CALLER_KEY(t->frames[t->depth - 1].slot)
						 : CW_AGENT_CALLER_NONE);
	struct cw_frame *f = &t->frames[t->depth];
	struct cw_inst *in = NULL;
	if (cw_pool_kind != CW_POOL_STACK) {
		in = inst_pop();
		if (!in) {
			ctr_add(t, &c->lost, 1);
			return cont;
		}
		in->ret = *retp;
	}
	/* A signal handler on this thread that calls instrumented functions before depth counts this frame
	 * fills the same frames[depth] and gives it back: the slot address goes in first and is checked once
	 * depth is stored, and the frame is written again when the handler's (at another address) is there.
	 * The frame is published before the return address points at the trampoline: a handler that
	 * longjmps or returns through instrumented frames sees a consistent stack. */
	uint32_t d = t->depth;
	do {
		f->retp = retp;
		__atomic_signal_fence(__ATOMIC_SEQ_CST);
		f->inst = in;
		f->t0 = 0; /* until the timestamp below: an in-flight read skips it */
		f->ret = *retp;
		f->slot = slot;
		f->site = site;
		f->caller = caller;
		f->gen = __atomic_load_n(&cw_session_gen, __ATOMIC_RELAXED);
		f->child = 0;
		f->restored = 0;
		__atomic_signal_fence(__ATOMIC_SEQ_CST);
		t->depth = d + 1;
		__atomic_signal_fence(__ATOMIC_SEQ_CST);
	} while (f->retp != retp);
	if (in)
		in->t0 = rdtsc();
	else
		f->t0 = rdtsc();
	*retp = (uint64_t)cw_x86_ret_tramp;
	return cont | 1; /* timed: the trampoline continues with a call (tramp.S) */
}

static __attribute__((noreturn, noinline)) void lost_frame(uint64_t *retp)
{
	agent_die("return through an unknown frame");
}

uint64_t cw_agent_on_exit(uint64_t *retp)
{
	uint64_t now = rdtsc();
	struct cw_thread *t = cw_tls;
	uint32_t i;

	if (!t)
		lost_frame(retp);
	for (i = t->depth; i > 0; i--)
		if (t->frames[i - 1].retp == retp)
			break;
	if (!i)
		lost_frame(retp);
	for (uint32_t k = i; k < t->depth; k++)
		unwound(t, k);
	struct cw_frame *f = &t->frames[i - 1];
	uint64_t dur, ret;
	if (f->inst) {
		dur = now - f->inst->t0;
		ret = f->inst->ret;
		inst_push(f->inst);
		f->inst = NULL;
	} else {
		dur = now - f->t0;
		ret = f->ret;
	}
	if (i > 1)
		t->frames[i - 2].child += dur;
	if (__builtin_expect(f->gen != __atomic_load_n(&cw_session_gen, __ATOMIC_RELAXED), 0))
		goto done; /* opened under an earlier controller: its slot is not this one's */
	struct cw_agent_ctr *c = &cw_shm->slots[f->slot].c[t->shard];
	ctr_add(t, &c->calls, 1);
	ctr_add(t, &c->incl_ticks, dur);
	if (f->child)
		ctr_add(t, &c->child_ticks, f->child < dur ? f->child : dur);
	if (f->caller >= 0) {
		ctr_add(t, &c->caller_calls[f->caller], 1);
		ctr_add(t, &c->caller_ticks[f->caller], dur);
	}
done:
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	t->depth = i - 1;
	return ret;
}
