/* Unwind tables for the in-kernel (BPF) user-stack unwinder, derived from an object's .eh_frame. */
#ifndef CW_UNWIND_H
#define CW_UNWIND_H

#include <stddef.h>
#include "kernel/profile.h"

struct cw_uw_table {
	struct cw_uw_row *rows; /* sorted by pc; the last row closes the last range (CW_UW_NONE) */
	size_t n;
};

/* Build the unwind table of the ELF file at PATH (or of the in-memory ELF image MEM/LEN when MEM is not
 * NULL, e.g. the vdso). 0 or -errno (-ENOENT: no .eh_frame_hdr). The caller frees t->rows. */
int cw_uw_table_build(const char *path, const void *mem, size_t len, struct cw_uw_table *t);
void cw_uw_table_free(struct cw_uw_table *t);

/* The row covering PC (binary search, as the BPF side does), or NULL. */
const struct cw_uw_row *cw_uw_table_find(const struct cw_uw_table *t, __u32 pc);

#endif
