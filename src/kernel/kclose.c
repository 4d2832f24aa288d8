/* Close-match suggestions for unknown names (kernel functions from /proc/kallsyms, syscalls). */
#include "kernel/kclose.h"
#include "util/util.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Levenshtein distance, giving up (returning CAP + 1) once it exceeds CAP. */
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

static bool seen(const char **out, int cnt, const char *s)
{
	for (int j = 0; j < cnt; j++)
		if (!strcmp(out[j], s))
			return true;
	return false;
}

int cw_close_matches(const char *name, const char *const *names, size_t n, const char **out, int max)
{
	int cnt = 0, cap = strlen(name) / 3 + 1;
	for (int d = 1; d <= cap && cnt < max; d++)
		for (size_t i = 0; i < n && cnt < max; i++)
			if (edit_distance(name, names[i], d) == d && !seen(out, cnt, names[i]))
				out[cnt++] = names[i];
	for (size_t len = strlen(name) + 1; len < strlen(name) + 24 && cnt < max; len++)
		for (size_t i = 0; i < n && cnt < max; i++)
			if (strlen(names[i]) == len && strstr(names[i], name) && !seen(out, cnt, names[i]))
				out[cnt++] = names[i];
	return cnt;
}

int cw_kernel_close(const char *name, char **out, int max)
{
	char *text = cw_read_file("/proc/kallsyms", NULL), *save = NULL;
	const char **names = NULL, *m[16];
	size_t n = 0, cap = 0;
	int cnt;
	if (!text)
		return 0;
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *t = strchr(line, ' ');
		if (!t || (t[1] != 't' && t[1] != 'T') || t[2] != ' ')
			continue;
		char *nm = t + 3, *e = nm + strcspn(nm, " \t");
		*e = 0;
		if (n == cap)
			names = cw_realloc(names, (cap = cap * 2 + 65536) * sizeof(*names));
		names[n++] = nm;
	}
	cnt = cw_close_matches(name, names, n, m, max < 16 ? max : 16);
	for (int i = 0; i < cnt; i++)
		out[i] = cw_strdup(m[i]);
	free(names);
	free(text);
	return cnt;
}
