/* FlameGraph folded stacks ("comm;outer;...;leaf COUNT"), as `perf script | stackcollapse-perf.pl --all`
 * would give: root first, kernel frames suffixed _[k], identical lines merged, lines sorted. With off-CPU
 * data the values are microseconds and blocked stacks get a "[off-cpu]" frame right under the comm. */
#include "report/report_int.h"

#include <stdlib.h>
#include <string.h>
#include "util/util.h"

static int key_cmp(const void *a, const void *b, void *map)
{
	return strcmp(cw_keymap_key(map, *(const uint32_t *)a, NULL), cw_keymap_key(map, *(const uint32_t *)b, NULL));
}

/* Builds the line of S (without the value) into B; OFFCPU adds the marker frame. */
static void fold(struct cw_buf *b, const struct cw_pstack *s, bool offcpu)
{
	b->len = 0;
	cw_buf_add_folded(b, s->comm, true);
	if (offcpu)
		cw_buf_add(b, ";[off-cpu]", 10);
	for (uint32_t i = s->nframes; i-- > 0;) {
		const struct cw_pframe *f = &s->frames[i];
		cw_buf_add(b, ";", 1);
		cw_buf_add_folded(b, f->name, false);
		if (f->kernel)
			cw_buf_add(b, "_[k]", 4);
	}
}

static void add(struct cw_keymap *m, uint64_t **vals, size_t *cap, struct cw_buf *b, uint64_t v)
{
	bool added;
	uint32_t i = cw_keymap_intern(m, b->s, b->len, &added);
	if (added) {
		if (i >= *cap) {
			*cap = *cap ? *cap * 2 : 1024;
			*vals = cw_realloc(*vals, *cap * sizeof(**vals));
		}
		(*vals)[i] = 0;
	}
	(*vals)[i] += v;
}

int cw_report_folded(const struct cw_profile *p, const struct cw_report_opts *o, FILE *out)
{
	struct cw_keymap *m = cw_keymap_new(p->nstacks);
	struct cw_buf b = { 0 };
	uint64_t *vals = NULL, period = cw_profile_period_ns(p);
	size_t cap = 0;

	for (size_t i = 0; i < p->nstacks; i++) {
		const struct cw_pstack *s = &p->stacks[i];
		/* rounded to the nearest microsecond so that the sum stays close to the true time */
		uint64_t on = p->has_offcpu ? (s->samples * period + 500) / 1000 : s->samples;
		uint64_t offv = (s->offcpu_ns + 500) / 1000;
		if (on) {
			fold(&b, s, false);
			add(m, &vals, &cap, &b, on);
		}
		if (p->has_offcpu && offv) {
			fold(&b, s, true);
			add(m, &vals, &cap, &b, offv);
		}
	}
	size_t n = cw_keymap_count(m);
	uint32_t *idx = cw_malloc((n + 1) * sizeof(*idx));
	for (size_t i = 0; i < n; i++)
		idx[i] = (uint32_t)i;
	qsort_r(idx, n, sizeof(*idx), key_cmp, m);
	for (size_t i = 0; i < n; i++) {
		size_t len;
		const char *k = cw_keymap_key(m, idx[i], &len);
		fwrite(k, 1, len, out);
		fprintf(out, " %llu\n", (unsigned long long)vals[idx[i]]);
	}
	free(idx);
	free(vals);
	cw_buf_free(&b);
	cw_keymap_free(m);
	return 0;
}
