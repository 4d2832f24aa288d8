/* /proc/PID/maps snapshots: parsing, and finding the mapping of an address. */
#include "sym/sym.h"
#include "util/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>

static uint64_t maps_gen;

static char *dupn(const char *p, size_t n)
{
	char *s = cw_malloc(n + 1);
	memcpy(s, p, n);
	s[n] = 0;
	return s;
}

/* Parses a hex number at *p (at most 16 digits), advancing *p; false when there is none. */
static bool hex(const char **p, const char *end, uint64_t *v)
{
	const char *q = *p;
	uint64_t x = 0;
	int nd = 0;
	for (; q < end; q++, nd++) {
		int d;
		if (*q >= '0' && *q <= '9')
			d = *q - '0';
		else if (*q >= 'a' && *q <= 'f')
			d = *q - 'a' + 10;
		else if (*q >= 'A' && *q <= 'F')
			d = *q - 'A' + 10;
		else
			break;
		if (nd == 16)
			return false;
		x = x << 4 | d;
	}
	if (!nd)
		return false;
	*p = q;
	*v = x;
	return true;
}

static bool lit(const char **p, const char *end, char c)
{
	if (*p >= end || **p != c)
		return false;
	(*p)++;
	return true;
}

static void spaces(const char **p, const char *end)
{
	while (*p < end && **p == ' ')
		(*p)++;
}

/* One line: "start-end perms pgoff major:minor inode   path" (path optional). */
static int parse_line(const char *p, const char *end, struct cw_map *m)
{
	uint64_t major, minor;
	memset(m, 0, sizeof(*m));
	if (!hex(&p, end, &m->start) || !lit(&p, end, '-') || !hex(&p, end, &m->end) || !lit(&p, end, ' '))
		return -EINVAL;
	if (end - p < 5 || p[4] != ' ')
		return -EINVAL;
	memcpy(m->perms, p, 4);
	p += 5;
	if (!hex(&p, end, &m->pgoff) || !lit(&p, end, ' ') || !hex(&p, end, &major) || !lit(&p, end, ':') ||
	    !hex(&p, end, &minor) || !lit(&p, end, ' '))
		return -EINVAL;
	/* the inode is decimal */
	uint64_t ino = 0;
	int nd = 0;
	for (; p < end && *p >= '0' && *p <= '9'; p++, nd++) {
		if (nd == 20)
			return -EINVAL;
		ino = ino * 10 + (*p - '0');
	}
	if (!nd || m->end < m->start || major > 0xfffff || minor > 0xfffff)
		return -EINVAL;
	m->ino = ino;
	m->dev = makedev(major, minor);
	spaces(&p, end);
	m->path = dupn(p, end - p);
	return 0;
}

static int cmp_map(const void *a, const void *b)
{
	const struct cw_map *x = a, *y = b;
	return x->start < y->start ? -1 : x->start > y->start;
}

int cw_proc_maps_parse(const char *text, size_t len, pid_t pid, struct cw_proc_maps *out)
{
	const char *p = text, *end = text + len;
	size_t cap = 0;
	int err = 0;
	memset(out, 0, sizeof(*out));
	out->pid = pid;
	while (p < end) {
		const char *nl = memchr(p, '\n', end - p);
		const char *le = nl ? nl : end;
		if (le > p) {
			if (out->n == cap) {
				cap = cap ? 2 * cap : 64;
				out->maps = cw_realloc(out->maps, cap * sizeof(*out->maps));
			}
			err = parse_line(p, le, &out->maps[out->n]);
			if (err)
				goto out;
			out->n++;
		}
		p = le + 1;
	}
	qsort(out->maps, out->n, sizeof(*out->maps), cmp_map);
	out->gen = __atomic_add_fetch(&maps_gen, 1, __ATOMIC_RELAXED);
out:
	if (err)
		cw_proc_maps_free(out);
	return err;
}

int cw_proc_maps_read(pid_t pid, struct cw_proc_maps *out)
{
	char path[64];
	size_t len;
	int err;
	memset(out, 0, sizeof(*out));
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	char *text = cw_read_file(path, &len);
	if (!text) {
		err = -errno;
		goto out;
	}
	err = cw_proc_maps_parse(text, len, pid, out);
	if (err)
		cw_err("%s: unexpected format", path);
out:
	free(text);
	return err;
}

void cw_proc_maps_free(struct cw_proc_maps *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n; i++)
		free(m->maps[i].path);
	free(m->maps);
	m->maps = NULL;
	m->n = 0;
}

const struct cw_map *cw_proc_maps_find(const struct cw_proc_maps *m, uint64_t addr)
{
	size_t lo = 0, hi = m->n;
	/* last mapping with start <= addr */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (m->maps[mid].start <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo || addr >= m->maps[lo - 1].end)
		return NULL;
	return &m->maps[lo - 1];
}
