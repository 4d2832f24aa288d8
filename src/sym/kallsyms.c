/* Kernel symbols from /proc/kallsyms: text symbols of the kernel and its modules, by address and by name. */
#include "sym/sym_int.h"
#include "util/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Past the last symbol of an object (the kernel or a module) an address still counts as inside it up to
 * this far; kallsyms gives no sizes. */
#define KSYM_TAIL (1u << 20)

/* Same address: global over weak over local, fewer leading underscores, shorter. */
static int ksym_better(const struct cw_ksym *a, const struct cw_ksym *b)
{
	if (a->rank != b->rank)
		return b->rank - a->rank;
	return cw_sym_name_prefer(a->name, b->name);
}

static int ksym_addr_cmp(const void *pa, const void *pb)
{
	const struct cw_ksym *a = pa, *b = pb;
	if (a->addr != b->addr)
		return a->addr < b->addr ? -1 : 1;
	return ksym_better(a, b);
}

static int ksym_name_cmp(const void *pa, const void *pb)
{
	const struct cw_ksym *a = pa, *b = pb;
	int d = strcmp(a->name, b->name);
	if (d)
		return d;
	if (a->rank != b->rank)
		return b->rank - a->rank;
	return a->addr < b->addr ? -1 : a->addr > b->addr;
}

int cw_ktab_parse(struct cw_ktab *k, const char *text, size_t len)
{
	const char *p = text, *end = text + len;
	size_t cap = 0, nonzero = 0;
	const char *lastmod = NULL;
	size_t lastmodlen = 0;
	char name[512];
	int err = 0;
	while (p < end) {
		const char *nl = memchr(p, '\n', end - p), *le = nl ? nl : end, *q = p;
		p = le + 1;
		uint64_t addr = 0;
		int nd = 0;
		for (; q < le && nd < 17; q++, nd++) {
			char c = *q;
			int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
			if (d < 0)
				break;
			addr = addr << 4 | d;
		}
		if (!nd || nd > 16 || le - q < 4 || q[0] != ' ' || q[2] != ' ') {
			err = -EINVAL;
			goto out;
		}
		char type = q[1];
		int rank = type == 'T' ? 3 : type == 'W' ? 2 : (type == 't' || type == 'w') ? 1 : 0;
		if (!rank)
			continue;
		q += 3;
		const char *ne = q;
		while (ne < le && *ne != '\t' && *ne != ' ')
			ne++;
		if (ne == q || (size_t)(ne - q) >= sizeof(name))
			continue;
		memcpy(name, q, ne - q);
		name[ne - q] = 0;
		/* "\t[module]" */
		const char *ms = ne;
		while (ms < le && (*ms == '\t' || *ms == ' '))
			ms++;
		const char *obj = "[kernel]";
		if (ms < le && *ms == '[') {
			size_t ml = le - ms;
			if (!lastmod || ml != lastmodlen || memcmp(lastmod, ms, ml)) {
				char mod[256];
				snprintf(mod, sizeof(mod), "%.*s", (int)(ml < 255 ? ml : 255), ms);
				lastmod = cw_arena_strdup(&k->strings, mod);
				lastmodlen = ml;
			}
			obj = lastmod;
		}
		if (k->n == cap) {
			cap = cap ? 2 * cap : 1024;
			k->syms = cw_realloc(k->syms, cap * sizeof(*k->syms));
		}
		k->syms[k->n++] = (struct cw_ksym){ addr, cw_arena_strdup(&k->strings, name), obj, rank };
		nonzero += addr != 0;
	}
	if (k->n && !nonzero) {
		err = -EPERM; /* kptr_restrict hides the addresses */
		goto out;
	}
	/* the name index keeps every alias; the address table one name per address */
	k->byname = cw_malloc((k->n ? k->n : 1) * sizeof(*k->byname));
	memcpy(k->byname, k->syms, k->n * sizeof(*k->syms));
	k->nbyname = k->n;
	qsort(k->byname, k->nbyname, sizeof(*k->byname), ksym_name_cmp);
	qsort(k->syms, k->n, sizeof(*k->syms), ksym_addr_cmp);
	size_t j = 0;
	for (size_t i = 0; i < k->n; i++)
		if (!j || k->syms[j - 1].addr != k->syms[i].addr)
			k->syms[j++] = k->syms[i];
	k->n = j;
out:
	k->loaded = true;
	k->err = err;
	if (err) {
		free(k->syms);
		k->syms = NULL;
		k->n = 0;
	}
	return err;
}

void cw_ktab_release(struct cw_ktab *k)
{
	free(k->syms);
	free(k->byname);
	cw_arena_free(&k->strings);
	memset(k, 0, sizeof(*k));
}

static size_t ktab_index(const struct cw_ktab *k, uint64_t addr)
{
	size_t lo = 0, hi = k->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (k->syms[mid].addr <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo; /* 1 + index of the last symbol at or below ADDR; 0: none */
}

/* Distance from symbol I to the next one of the same object; 0 when it is the last of its object. */
static uint64_t ksize(const struct cw_ktab *k, size_t i)
{
	if (i + 1 < k->n && k->syms[i + 1].obj == k->syms[i].obj)
		return k->syms[i + 1].addr - k->syms[i].addr;
	return 0;
}

const struct cw_ksym *cw_ktab_lookup(const struct cw_ktab *k, uint64_t addr, uint64_t *size)
{
	size_t i = ktab_index(k, addr);
	if (!i || !k->syms[i - 1].addr)
		return NULL;
	uint64_t sz = ksize(k, i - 1);
	if (!sz && addr - k->syms[i - 1].addr >= KSYM_TAIL)
		return NULL;
	if (size)
		*size = sz;
	return &k->syms[i - 1];
}

const struct cw_ksym *cw_ktab_find(struct cw_ktab *k, const char *name, uint64_t *size)
{
	size_t lo = 0, hi = k->nbyname;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (strcmp(k->byname[mid].name, name) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == k->nbyname || strcmp(k->byname[lo].name, name))
		return NULL;
	const struct cw_ksym *s = &k->byname[lo];
	size_t i = ktab_index(k, s->addr);
	if (size)
		*size = i ? ksize(k, i - 1) : 0;
	return s;
}

enum cw_kleaf cw_ksym_leaf_kind(const char *name)
{
	static const char *const tracing[] = { "bpf_trace_run",	   "__bpf_trace_",     "__traceiter_",
					       "bpf_prog_",	   "perf_trace_",      "__bpf_prog_enter",
					       "__bpf_prog_exit" };
	/* exact names: the paravirt enables (PVM, Xen, the native op when not patched inline) and the lock
	 * releases that end an interrupts-off section */
	static const char *const irq_on[] = { "pvm_irq_enable",
					      "xen_irq_enable",
					      "xen_irq_enable_direct",
					      "xen_restore_fl",
					      "xen_restore_fl_direct",
					      "native_irq_enable",
					      "pv_native_irq_enable",
					      "arch_local_irq_enable",
					      "arch_local_irq_restore",
					      "_raw_spin_unlock_irq",
					      "_raw_spin_unlock_irqrestore",
					      "_raw_read_unlock_irq",
					      "_raw_read_unlock_irqrestore",
					      "_raw_write_unlock_irq",
					      "_raw_write_unlock_irqrestore" };
	static const char callee_save[] = "__raw_callee_save_"; /* the paravirt register-saving thunk */

	for (size_t i = 0; i < sizeof(tracing) / sizeof(tracing[0]); i++)
		if (!strncmp(name, tracing[i], strlen(tracing[i])))
			return CW_KLEAF_TRACING;
	if (!strncmp(name, callee_save, sizeof(callee_save) - 1))
		name += sizeof(callee_save) - 1;
	for (size_t i = 0; i < sizeof(irq_on) / sizeof(irq_on[0]); i++)
		if (!strcmp(name, irq_on[i]))
			return CW_KLEAF_IRQ_ON;
	return CW_KLEAF_CODE;
}
