/* /proc/kallsyms reader: sorted text symbols for kernel stack symbolization and name checks. */
#include "kernel/kallsyms.h"
#include "util/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ksym {
	uint64_t addr;
	char *name;
};

struct cw_kallsyms {
	struct ksym *v;
	size_t n;
	char **byname; /* sorted names, for lookups */
};

static int by_addr(const void *a, const void *b)
{
	const struct ksym *x = a, *y = b;
	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

struct cw_kallsyms *cw_kallsyms_load(void)
{
	FILE *f = fopen("/proc/kallsyms", "re");
	struct cw_kallsyms *k;
	char line[512];
	size_t cap = 1 << 17;
	bool nonzero = false;

	if (!f)
		return NULL;
	k = cw_calloc(1, sizeof(*k));
	k->v = cw_malloc(cap * sizeof(*k->v));
	while (fgets(line, sizeof(line), f)) {
		unsigned long long a;
		char type, name[256];
		if (sscanf(line, "%llx %c %255s", &a, &type, name) != 3)
			continue;
		if (type != 't' && type != 'T')
			continue;
		if (a)
			nonzero = true;
		if (k->n == cap)
			k->v = cw_realloc(k->v, (cap *= 2) * sizeof(*k->v));
		k->v[k->n].addr = a;
		k->v[k->n].name = cw_strdup(name);
		k->n++;
	}
	fclose(f);
	if (!nonzero) {
		cw_kallsyms_free(k);
		errno = EPERM;
		return NULL;
	}
	qsort(k->v, k->n, sizeof(*k->v), by_addr);
	k->byname = cw_malloc(k->n * sizeof(char *));
	for (size_t i = 0; i < k->n; i++)
		k->byname[i] = k->v[i].name;
	qsort(k->byname, k->n, sizeof(char *), by_name);
	return k;
}

void cw_kallsyms_free(struct cw_kallsyms *k)
{
	if (!k)
		return;
	for (size_t i = 0; i < k->n; i++)
		free(k->v[i].name);
	free(k->v);
	free(k->byname);
	free(k);
}

const char *cw_kallsyms_addr(const struct cw_kallsyms *k, uint64_t addr, uint64_t *off)
{
	size_t lo = 0, hi = k->n;
	if (!k->n || addr < k->v[0].addr)
		return NULL;
	while (hi - lo > 1) {
		size_t mid = (lo + hi) / 2;
		if (k->v[mid].addr <= addr)
			lo = mid;
		else
			hi = mid;
	}
	if (off)
		*off = addr - k->v[lo].addr;
	return k->v[lo].name;
}

uint64_t cw_kallsyms_find(const struct cw_kallsyms *k, const char *name)
{
	char **p = bsearch(&name, k->byname, k->n, sizeof(char *), by_name);
	if (!p)
		return 0;
	for (size_t i = 0; i < k->n; i++)
		if (k->v[i].name == *p)
			return k->v[i].addr;
	return 0;
}

int cw_kallsyms_close(const struct cw_kallsyms *k, const char *name, const char **out, int max)
{
	return cw_close_matches(name, (const char *const *)k->byname, k->n, out, max);
}

/* Levenshtein distance, giving up (returning CAP) once it exceeds CAP. */
static int edit_distance(const char *a, const char *b, int cap)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la > 64 || lb > 64 || (la > lb ? la - lb : lb - la) > (size_t)cap)
		return cap + 1;
	int prev[65], cur[65];
	for (size_t j = 0; j <= lb; j++)
		prev[j] = j;
	for (size_t i = 1; i <= la; i++) {
		int best = cur[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			int d = prev[j - 1] + (a[i - 1] != b[j - 1]);
			if (prev[j] + 1 < d)
				d = prev[j] + 1;
			if (cur[j - 1] + 1 < d)
				d = cur[j - 1] + 1;
			cur[j] = d;
			if (d < best)
				best = d;
		}
		if (best > cap)
			return cap + 1;
		memcpy(prev, cur, sizeof(int) * (lb + 1));
	}
	return prev[lb];
}

int cw_close_matches(const char *name, const char *const *names, size_t n, const char **out, int max)
{
	int cnt = 0, cap = strlen(name) / 3 + 1;
	/* best first: edit distance 1.., then names containing NAME (shortest first, as most specific) */
	for (int d = 1; d <= cap && cnt < max; d++)
		for (size_t i = 0; i < n && cnt < max; i++)
			if ((!i || strcmp(names[i], names[i - 1])) && edit_distance(name, names[i], d) == d)
				out[cnt++] = names[i];
	for (size_t len = strlen(name) + 1; len < strlen(name) + 24 && cnt < max; len++)
		for (size_t i = 0; i < n && cnt < max; i++)
			if (strlen(names[i]) == len && strstr(names[i], name)) {
				bool dup = false;
				for (int j = 0; j < cnt; j++)
					dup |= !strcmp(out[j], names[i]);
				if (!dup)
					out[cnt++] = names[i];
			}
	return cnt;
}
