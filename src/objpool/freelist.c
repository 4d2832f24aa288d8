/* The refcounted Treiber-stack freelist (the kernel's pre-objpool kretprobe freelist), for comparison. */
#include "objpool/freelist.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/*
 * Why the reference count: a plain Treiber pop reads head->next and then CASes head from that node to
 * next; if meanwhile the node was popped, others popped and pushed, and the node came back on top, the
 * CAS succeeds with a stale next (ABA). Here a pop first takes a reference on the head node (a CAS from
 * a nonzero count), and a node's next is written only while its count is zero, i.e. while no pop can be
 * between reading next and its CAS. A push that finds references outstanding sets ON_LIST and leaves;
 * the pop that drops the last reference sees ON_LIST and does the push for it.
 *
 * Memory ordering: the link (next, then count 1 with release) is read after a successful acquire CAS on
 * the count, so a pop that holds a reference sees the next its pusher wrote. Object contents written
 * before push reach the popper through head: every write of head is a release CAS, the popping CAS an
 * acquire (CASes on head form one release sequence). When a push is completed by the last reference
 * holder, the pusher's release fetch_add on the count is read by that holder's acq_rel decrement, so
 * the chain still holds.
 */

#define ON_LIST   0x80000000u
#define REFS_MASK 0x7fffffffu
#define HDR       16	/* node header before each object, keeps objects 16-byte aligned */

struct node {
	uint32_t refs;
	struct node *next;
};

struct cw_freelist {
	_Alignas(64) struct node *head;
	char pad[64 - sizeof(struct node *)];
	char *mem;
	size_t mem_bytes;
	size_t stride;
	uint32_t nr_objs;
	unsigned flags;
};

static void add_unreferenced(struct cw_freelist *fl, struct node *n)
{
	struct node *head = __atomic_load_n(&fl->head, __ATOMIC_RELAXED);

	for (;;) {
		__atomic_store_n(&n->next, head, __ATOMIC_RELAXED);
		__atomic_store_n(&n->refs, 1, __ATOMIC_RELEASE);
		if (__atomic_compare_exchange_n(&fl->head, &head, n, false, __ATOMIC_RELEASE,
						__ATOMIC_RELAXED))
			return;
		/* Lost the race; meanwhile stale pops may have taken references (the count was 1). Drop ours
		 * with ON_LIST set: if it was the last, try again, else the last holder will. */
		if (__atomic_fetch_add(&n->refs, ON_LIST - 1, __ATOMIC_ACQ_REL) != 1)
			return;
	}
}

static inline struct node *obj_node(void *obj)
{
	return (struct node *)((char *)obj - HDR);
}

void *cw_freelist_pop(struct cw_freelist *fl)
{
	struct node *head = __atomic_load_n(&fl->head, __ATOMIC_ACQUIRE);

	while (head) {
		struct node *prev = head, *next;
		uint32_t refs = __atomic_load_n(&head->refs, __ATOMIC_RELAXED);

		if ((refs & REFS_MASK) == 0 ||
		    !__atomic_compare_exchange_n(&head->refs, &refs, refs + 1, false, __ATOMIC_ACQUIRE,
						 __ATOMIC_RELAXED)) {
			head = __atomic_load_n(&fl->head, __ATOMIC_ACQUIRE);
			continue;
		}
		/* Holding a reference: next cannot change until we drop it. */
		next = __atomic_load_n(&head->next, __ATOMIC_RELAXED);
		if (__atomic_compare_exchange_n(&fl->head, &head, next, false, __ATOMIC_ACQUIRE,
						__ATOMIC_ACQUIRE)) {
			/* Ours; it was on the list, so ON_LIST is clear. Drop our reference and the list's. */
			__atomic_fetch_sub(&head->refs, 2, __ATOMIC_ACQ_REL);
			return (char *)head + HDR;
		}
		/* head moved (and was reloaded by the CAS); release prev, pushing it if it is waiting on us. */
		if (__atomic_fetch_sub(&prev->refs, 1, __ATOMIC_ACQ_REL) == ON_LIST + 1)
			add_unreferenced(fl, prev);
	}
	return NULL;
}

int cw_freelist_push(struct cw_freelist *fl, void *obj)
{
	struct node *n;

	if (fl->flags & CW_FREELIST_F_CHECK) {
		uintptr_t off = (uintptr_t)obj - (uintptr_t)fl->mem;
		if ((uintptr_t)obj < (uintptr_t)fl->mem || off >= fl->mem_bytes || off % fl->stride != HDR)
			return -EINVAL;
	}
	n = obj_node(obj);
	/* ON_LIST is clear (we own the object): a fetch_add sets it; a zero count means nobody is looking. */
	if (__atomic_fetch_add(&n->refs, ON_LIST, __ATOMIC_RELEASE) == 0)
		add_unreferenced(fl, n);
	return 0;
}

int cw_freelist_init(struct cw_freelist **flp, uint32_t nr_objs, uint32_t obj_size,
		     cw_freelist_obj_init_fn *obj_init, void *ctx, unsigned flags)
{
	struct cw_freelist *fl = NULL;
	int err = -EINVAL;

	if (!flp)
		return -EINVAL;
	*flp = NULL;
	if (nr_objs == 0 || nr_objs > CW_FREELIST_MAX_OBJS || obj_size == 0 ||
	    obj_size > CW_FREELIST_MAX_OBJ_SIZE || (flags & ~(unsigned)CW_FREELIST_F_CHECK))
		goto out;
	err = -ENOMEM;
	fl = aligned_alloc(64, sizeof(*fl));
	if (!fl)
		goto out;
	memset(fl, 0, sizeof(*fl));
	fl->nr_objs = nr_objs;
	fl->flags = flags;
	fl->stride = HDR + ((obj_size + 15) & ~15u);
	fl->mem_bytes = fl->stride * nr_objs;
	fl->mem = mmap(NULL, fl->mem_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (fl->mem == MAP_FAILED) {
		fl->mem = NULL;
		goto out;
	}
	/* Pushed in reverse so that the first pop returns object 0. */
	for (uint32_t i = nr_objs; i-- > 0;) {
		void *obj = fl->mem + i * fl->stride + HDR;
		if (obj_init && (err = obj_init(obj, ctx)) != 0) {
			if (err > 0)
				err = -err;
			goto out;
		}
		struct node *n = obj_node(obj);
		n->next = fl->head;
		n->refs = 1;
		fl->head = n;
	}
	*flp = fl;
	fl = NULL;
	err = 0;
out:
	cw_freelist_fini(fl);
	return err;
}

void cw_freelist_fini(struct cw_freelist *fl)
{
	if (!fl)
		return;
	if (fl->mem)
		munmap(fl->mem, fl->mem_bytes);
	free(fl);
}

uint32_t cw_freelist_nr_objs(const struct cw_freelist *fl)
{
	return fl->nr_objs;
}

void *cw_freelist_obj(const struct cw_freelist *fl, uint32_t i)
{
	return i < fl->nr_objs ? fl->mem + (size_t)i * fl->stride + HDR : NULL;
}
