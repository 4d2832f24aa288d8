/* Internals shared by the files of libcrosswalk-agent.so (never included by the controller). */
#ifndef CW_AGENT_H
#define CW_AGENT_H

#include <stdbool.h>
#include <stdint.h>

#include "agent/proto.h"
#include "arch/x86_64/x86.h"

#define CW_HIDDEN __attribute__((visibility("hidden")))

/* One patched (or once-patched) function entry. Sites are never freed: a stub may still be executed by a
 * thread that was preempted inside it, and a late SIGTRAP must still find where to send its thread. A site
 * removed and inserted again reuses its stub (the walk does this often). */
struct cw_site {
	struct cw_x86_patch patch;
	uint64_t stub;		/* runtime address of the stub */
	volatile int32_t slot;	/* counter slot while inserted, -1 when removed: read by the hook */
	bool patched;
};

#define CW_MAX_SITES CW_AGENT_NSLOTS
/* site slots that are not counters: hooks on the C++/unwinder runtime (see hook.c) */
#define CW_SLOT_UNWIND (-2) /* _Unwind_RaiseException & co: an unwind starts on this thread */
#define CW_SLOT_CATCH (-3)  /* __cxa_begin_catch: the unwind is over, the catching frame runs */
extern struct cw_site cw_sites[CW_MAX_SITES] CW_HIDDEN;
extern volatile uint32_t cw_nsites CW_HIDDEN;
extern struct cw_agent_shm *cw_shm CW_HIDDEN;
extern int cw_count_sites CW_HIDDEN;

/* hook.c */
/* ARG0: the function's first argument (the exception object, for the unwinder hooks). Returns where the
 * function goes on (its stub + CW_X86_STUB_ORIG_OFF), with bit 0 set when its exit is timed: the real
 * return address is then saved and the slot RETP holds cw_x86_ret_tramp (see tramp.S). */
uint64_t cw_agent_on_entry(uint32_t site, uint64_t *retp, uint64_t arg0) CW_HIDDEN;
uint64_t cw_agent_on_exit(uint64_t *retp) CW_HIDDEN;
void cw_hook_init_main(void) CW_HIDDEN;	 /* on the main thread, before any patching */
void cw_hook_thread_busy(void) CW_HIDDEN; /* the calling thread (the agent's own) is never instrumented */
void cw_hook_fork_prepare(void) CW_HIDDEN; /* pthread_atfork: the thread registry is not held across a fork */
void cw_hook_fork_parent(void) CW_HIDDEN;
void cw_hook_fork_child(void) CW_HIDDEN;  /* only the forking thread exists: the registry holds it alone */
void cw_hook_new_session(void) CW_HIDDEN;
void cw_hook_forked_attach(void) CW_HIDDEN; /* a controller of a fork's child's own: shards free again */ /* a controller starts: frames opened before are not counted */
int cw_hook_set_pool(int kind, uint32_t nr) CW_HIDDEN; /* enum cw_agent_pool; before any patching */
int cw_hook_pool(void) CW_HIDDEN; /* the source in use (a later attach cannot change it) */
void cw_hook_inflight(uint64_t now, uint64_t *ns_ticks, uint32_t nslots) CW_HIDDEN;
extern void cw_x86_entry_common(void) CW_HIDDEN;
extern void cw_x86_ret_tramp(void) CW_HIDDEN;

/* patch.c: all return 0 or -errno with a reason in ERR */
int cw_patch_init(char *err, size_t errlen) CW_HIDDEN;
int cw_patch_ensure_trap(char *err, size_t errlen) CW_HIDDEN;
int cw_patch_insert(uint64_t func, uint64_t size, int32_t slot, char *err, size_t errlen) CW_HIDDEN;
int cw_patch_remove_slot(int32_t slot) CW_HIDDEN;
void cw_patch_remove_all(void) CW_HIDDEN;
void cw_patch_after_fork(void) CW_HIDDEN; /* in a fork's child: reopen what names the parent's memory */
/* Hooks the unwinder and the C++ runtime when they are loaded (idempotent; called before each batch). */
void cw_patch_unwind_hooks(void) CW_HIDDEN;
/* batching: between begin and commit, inserts and removals only stage their bytes; commit runs the
 * int3 protocol once for all of them */
void cw_patch_begin(void) CW_HIDDEN;
void cw_patch_commit(void) CW_HIDDEN;
int cw_patch_staged(uint32_t k, uint64_t *site, uint32_t *len, int32_t *slot) CW_HIDDEN;
int cw_patch_unstage(uint64_t site) CW_HIDDEN;

#endif
