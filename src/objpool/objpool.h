/* A lock-free pool of preallocated fixed-size objects with one ring per CPU (after Linux lib/objpool.c). */
#ifndef CW_OBJPOOL_H
#define CW_OBJPOOL_H

#include <stdint.h>

/*
 * What it is for: return instances of the instrumentation runtime. Threads of the target take one on
 * function entry and give it back on exit, at a rate where a single shared list (see freelist.h) becomes
 * the bottleneck. Each CPU has its own ring that can hold every object, so a push never fails and the
 * common case touches only the current CPU's cache lines.
 *
 * Properties the users rely on:
 *  - pop and push are lock-free, never allocate, never block, never make a system call (the current CPU
 *    is read from glibc's rseq area, falling back to the vDSO getcpu), and are async-signal-safe: a
 *    signal handler may pop and push on a thread that it interrupted in the middle of a pop or push.
 *  - the current CPU is only a hint: correctness does not depend on it (threads migrate mid-operation).
 *  - objects are fixed in memory from cw_objpool_init until the pool is freed; every object is 8-byte
 *    aligned (16 when the size is 16 or more) and its size is rounded up to that alignment.
 *
 * Limits: 1 <= nr_objs <= CW_OBJPOOL_MAX_OBJS, 1 <= obj_size <= CW_OBJPOOL_MAX_OBJ_SIZE, and the rounded
 * object size times nr_objs at most CW_OBJPOOL_MAX_BYTES; init returns -EINVAL past them.
 */
#define CW_OBJPOOL_MAX_OBJS     (1u << 24)
#define CW_OBJPOOL_MAX_OBJ_SIZE (1u << 16)
#define CW_OBJPOOL_MAX_BYTES    (1ull << 29)
#define CW_OBJPOOL_MAX_SLOTS    4096

/* Flags for cw_objpool_init. */
enum {
	/* Validate pointers given to push/drop (belongs to this pool, is an object's start): -EINVAL if
	 * not. Costs a division per push. Without it a foreign pointer is undefined behaviour. */
	CW_OBJPOOL_F_CHECK = 1u << 0,
	/* Testing: ignore the current CPU and use a pseudo-random slot for every operation, as if the thread
	 * migrated between any two operations; makes several threads share slots even on few CPUs. */
	CW_OBJPOOL_F_SCATTER = 1u << 1,
};

struct cw_objpool;

/* Called once per object at init, on zeroed memory; nonzero (a negative errno) aborts init with it. */
typedef int cw_objpool_obj_init_fn(void *obj, void *ctx);

/*
 * Creates a pool of nr_objs objects of obj_size bytes, all in the pool. nr_slots is the number of rings
 * (0: one per possible CPU). obj_init may be NULL. On success stores the pool in *poolp and returns 0;
 * else returns -EINVAL (parameters, see the limits), -ENOMEM, or obj_init's error, and *poolp is NULL.
 * Not signal-safe (allocates). Hand the pool to other threads the usual way (before creating them, or
 * through a release store): its setup is plain memory.
 */
int cw_objpool_init(struct cw_objpool **poolp, uint32_t nr_objs, uint32_t obj_size, uint32_t nr_slots,
		    cw_objpool_obj_init_fn *obj_init, void *ctx, unsigned flags);

/* Takes an object out of the pool: the current CPU's ring first, then the other rings that may hold
 * objects. NULL when every ring was seen empty at some moment during the call (a miss; objects may be in
 * flight between threads, or pushed to a ring after it was looked at). A miss costs about one load per
 * 32 rings beyond the own ring's, not a visit to every ring. The object's content is whatever its
 * last user left there. */
void *cw_objpool_pop(struct cw_objpool *pool);

/* Gives an object taken by pop back (to the current CPU's ring). Returns 0; with CW_OBJPOOL_F_CHECK
 * -EINVAL for a pointer that is not one of this pool's objects. Pushing an object that is already in the
 * pool (a double push) is a caller bug that checking cannot see cheaply; it may return -EOVERFLOW. */
int cw_objpool_push(struct cw_objpool *pool, void *obj);

/* Declares that an object taken by pop will never come back (its thread died, or the pool is being torn
 * down). When the pool was already finished (cw_objpool_fini) and this was the last object out, frees
 * the pool. Returns 0, or -EINVAL for NULL arguments (and, with checking, a foreign pointer). */
int cw_objpool_drop(struct cw_objpool *pool, void *obj);

/* Tears the pool down: takes every object still in it; if none is out any more, frees the pool now and
 * returns 0; else returns the number of objects still out, and the cw_objpool_drop of the last of them
 * frees it. Call it once no thread is inside pop or push any more; after fini, objects must come back
 * through drop, never push. Accepts NULL. Not signal-safe. */
int cw_objpool_fini(struct cw_objpool *pool);

/* Introspection for tests and benchmarks. */
uint32_t cw_objpool_nr_objs(const struct cw_objpool *pool);
uint32_t cw_objpool_nr_slots(const struct cw_objpool *pool);
uint32_t cw_objpool_obj_size(const struct cw_objpool *pool);
/* The i-th object (0 <= i < nr_objs), wherever it is; NULL past the end. */
void *cw_objpool_obj(const struct cw_objpool *pool, uint32_t i);
/* Objects currently in ring `slot`, counted from its entries (a racy snapshot; exact when the pool is
 * quiescent). */
uint32_t cw_objpool_slot_count(const struct cw_objpool *pool, uint32_t slot);
/* Whether ring `slot`'s hint bit is set ("may be non-empty"; a clear bit means the ring is empty and pops
 * elsewhere skip it). For tests of the miss path. */
int cw_objpool_slot_hinted(const struct cw_objpool *pool, uint32_t slot);
/* How long a ring must stay empty and unchanged before a miss closes it (objpool.c, "When to close"), in
 * TSC ticks on x86-64 (default 2^16), in misses elsewhere (default 256). Process-wide; the default suits
 * every pool, tests set 0 (close at the second sight) or UINT64_MAX (never) to make the policy exact. */
extern uint64_t cw_objpool_idle_ticks;

#endif
