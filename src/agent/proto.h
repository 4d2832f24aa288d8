/* What crosswalk (the controller) and libcrosswalk-agent.so (inside the target) share: the control-directory
 * layout, the text protocol on the control socket, and the counter region both map.
 *
 * The controller creates a 0700 directory DIR holding
 *   DIR/ctl       a unix stream socket the controller listens on; the agent connects (one connection)
 *   DIR/counters  the counter region (struct cw_agent_shm), created and sized by the controller, mapped
 *                 MAP_SHARED by both: counters are read without stopping or asking the target, and stay
 *                 readable after it died. Children forked by the target keep adding to the same counters.
 * Launch: the agent is preloaded and finds DIR in $CW_AGENT_DIR (only in the process whose pid is
 * $CW_AGENT_PID: children that exec stay inert). Attach: crosswalk makes the target call
 * cw_agent_start(DIR) after dlopen.
 *
 * Requests, one line each (numbers in decimal, addresses in hex with 0x):
 *   insert ID ADDR SIZE [ID ADDR SIZE ...]   patch functions; slot ID of the region counts them
 *   prepare ID ADDR SIZE [...]               like insert, but only build the stubs; the reply adds
 *                                            "range ID SITE LEN" for every site about to be patched
 *   commit [SITE ...]                        patch what prepare built, but the SITEs listed: crosswalk
 *                                            stopped the other threads and found one inside those ranges
 *   remove ID [ID ...]                       restore their bytes exactly
 *   start                                    launch mode: let the target run (it waits in the constructor)
 *   inflight                                 "open SLOT TICKS" for every slot with calls still open: the
 *                                            time so far of those calls (a main that never returns)
 *   sites 0|1                                count calls per call site (return address) or not
 *   detach                                   remove everything; the agent goes idle until a next attach
 * Each reply is one line per item, "ok ID" or "err ID reason", then "done". End of file on the socket (the
 * controller died) means detach. */
#ifndef CW_AGENT_PROTO_H
#define CW_AGENT_PROTO_H

#include <stdint.h>

#define CW_AGENT_MAGIC 0x6b6c617773737263ull /* "crsswalk" */
#define CW_AGENT_VERSION 4
#define CW_AGENT_NSLOTS 16384
#define CW_AGENT_SITES_PER_SLOT 8 /* call sites counted per function (for indirect calls) */

/* Calls and inclusive time of a function by its nearest instrumented caller: the slot of the innermost
 * frame below it on the thread's shadow stack, whatever ran in between (tail calls, uninstrumented
 * functions). The walk keeps a node's parent instrumented while the node is tested, so the entry keyed by
 * the parent's slot is the node's time in its calling context. Counted with the call sites ("sites 1"). */
#define CW_AGENT_CALLERS_PER_SLOT 8
#define CW_AGENT_CALLER_NONE 1 /* key: no instrumented frame below (0 is an empty entry) */
#define CW_AGENT_CALLER_KEY(slot) ((uint64_t)(slot) + 2)

/* One shard of a function's counters: a thread always adds to the same shard (the first threads have one
 * each and add with plain one-instruction adds, the others share shard 0 with atomic adds), so threads
 * calling the same function do not all fight for one cache line and most adds are not locked. The per-site
 * and per-caller counts are sharded too, indexed like the slot's keys (site_ret, caller_key). */
#define CW_AGENT_SHARDS 8
struct cw_agent_ctr {
	uint64_t calls;	      /* completed calls */
	uint64_t incl_ticks;  /* inclusive TSC ticks */
	uint64_t child_ticks; /* of which in instrumented callees: self = incl - child (added only when
				 non-zero, so a leaf costs two adds per call) */
	uint64_t unwound;     /* calls entered that never returned: longjmp, exceptions, pthread_exit */
	uint64_t lost;	      /* entries not timed: shadow stack full, or no return instance */
	uint64_t pad[3];
	uint64_t site_calls[CW_AGENT_SITES_PER_SLOT];	   /* calls from site_ret[i] */
	uint64_t caller_calls[CW_AGENT_CALLERS_PER_SLOT]; /* calls under caller_key[i] */
	uint64_t caller_ticks[CW_AGENT_CALLERS_PER_SLOT]; /* their inclusive ticks */
};

struct cw_agent_slot {
	struct cw_agent_ctr c[CW_AGENT_SHARDS]; /* a reader sums the shards */
	/* keys, claimed once by compare-and-swap, 0 while free: the return address of a call site (the call is
	 * the instruction before it), and CW_AGENT_CALLER_KEY(caller's slot) or CW_AGENT_CALLER_NONE */
	uint64_t site_ret[CW_AGENT_SITES_PER_SLOT];
	uint64_t caller_key[CW_AGENT_CALLERS_PER_SLOT];
};

struct cw_agent_shm {
	uint64_t magic;
	uint32_t version, nslots;
	uint64_t agent_pid;
	double ns_per_tick; /* TSC calibration against CLOCK_MONOTONIC, set by the agent */
	uint32_t constant_tsc;
	uint32_t pool;	    /* return-instance source in use (enum cw_agent_pool) */
	uint64_t ctl_tid;   /* the agent's control thread (left running when crosswalk stops the others) */
	uint64_t pad[10];
	struct cw_agent_slot slots[]; /* nslots */
};

#define CW_AGENT_SHM_SIZE (sizeof(struct cw_agent_shm) + CW_AGENT_NSLOTS * sizeof(struct cw_agent_slot))

enum cw_agent_pool { CW_POOL_STACK = 0, CW_POOL_OBJPOOL = 1, CW_POOL_FREELIST = 2 };

#endif
