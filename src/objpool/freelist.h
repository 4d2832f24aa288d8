/* The baseline: the lock-free freelist the kernel used for kretprobe instances before objpool. */
#ifndef CW_FREELIST_H
#define CW_FREELIST_H

#include <stdint.h>

/*
 * A Treiber stack of preallocated objects whose nodes carry a reference count and an on-freelist flag
 * (Linux include/linux/freelist.h, v5.11-v6.6, after moodycamel's lock-free freelist): a pop holds a
 * reference on the head node while it reads head->next, and a push that finds references outstanding
 * leaves the node to the last of them, so ABA is impossible without a double-width CAS or tags. Every
 * pop and push goes through the one head pointer: this is what collapses under parallelism, and the
 * reason crosswalk uses objpool.h. Kept for comparison (bench/queues) and as a reference.
 *
 * Same shape as cw_objpool: lock-free, no allocation on pop/push, async-signal-safe. Limits as
 * CW_OBJPOOL_MAX_OBJS / CW_OBJPOOL_MAX_OBJ_SIZE; objects are 16-byte aligned.
 */
#define CW_FREELIST_MAX_OBJS     (1u << 24)
#define CW_FREELIST_MAX_OBJ_SIZE (1u << 16)

enum {
	/* Validate pointers given to push: -EINVAL for one that is not an object of this list. */
	CW_FREELIST_F_CHECK = 1u << 0,
};

struct cw_freelist;

typedef int cw_freelist_obj_init_fn(void *obj, void *ctx);

/* Creates a list of nr_objs objects of obj_size bytes (zeroed, then obj_init'ed), all on the list.
 * Returns 0 and *flp, or -EINVAL / -ENOMEM / obj_init's error with *flp NULL. */
int cw_freelist_init(struct cw_freelist **flp, uint32_t nr_objs, uint32_t obj_size,
		     cw_freelist_obj_init_fn *obj_init, void *ctx, unsigned flags);
/* Takes an object; NULL when the list was seen empty. */
void *cw_freelist_pop(struct cw_freelist *fl);
/* Gives back an object taken by pop: 0, or -EINVAL for a foreign pointer with checking on. */
int cw_freelist_push(struct cw_freelist *fl, void *obj);
/* Frees the list and all objects (they must all be back, or never be used again). Accepts NULL. */
void cw_freelist_fini(struct cw_freelist *fl);
uint32_t cw_freelist_nr_objs(const struct cw_freelist *fl);
/* The i-th object; NULL past the end. */
void *cw_freelist_obj(const struct cw_freelist *fl, uint32_t i);

#endif
