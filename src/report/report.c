/* Report front door (format names, dispatch) and the pieces the writers share: interning map, procedure
 * aggregation, the off-CPU charging rule, string escaping. */
#include "report/report_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "util/util.h"

static const char *const fmt_names[] = {
	[CW_FMT_TABLE] = "table", [CW_FMT_FOLDED] = "folded", [CW_FMT_SVG] = "svg",
	[CW_FMT_PPROF] = "pprof", [CW_FMT_JSON] = "json",
};

int cw_report_format_parse(const char *s)
{
	if (!s)
		return -1;
	for (size_t i = 0; i < sizeof(fmt_names) / sizeof(fmt_names[0]); i++)
		if (!strcmp(s, fmt_names[i]))
			return (int)i;
	return -1;
}

int cw_report_write(const struct cw_profile *p, enum cw_report_format fmt, const struct cw_report_opts *o,
		    FILE *out)
{
	static const struct cw_report_opts defaults = { .min_pct = 1.0 };
	int err;

	if (!p || !out)
		return -EINVAL;
	if (!o)
		o = &defaults;
	switch (fmt) {
	case CW_FMT_TABLE: err = cw_report_table(p, o, out); break;
	case CW_FMT_FOLDED: err = cw_report_folded(p, o, out); break;
	case CW_FMT_SVG: err = cw_report_svg(p, o, out); break;
	case CW_FMT_PPROF: err = cw_report_pprof(p, o, out); break;
	case CW_FMT_JSON: err = cw_report_json(p, o, out); break;
	default: return -EINVAL;
	}
	/* a full disk or a closed pipe shows up here, not in the many fprintf calls */
	if (!err && (fflush(out) || ferror(out)))
		err = errno ? -errno : -EIO;
	return err;
}

/* ---- interning map ---- */

struct kent {
	uint64_t hash;
	const char *key;
	size_t len;
};

struct chunk {
	struct chunk *next;
	size_t used, cap;
	char data[];
};

struct cw_keymap {
	uint64_t *slots; /* high 32 bits of the hash, then entry index + 1 (0 = empty): most probes end here */
	size_t nslots;	 /* power of two */
	struct kent *ents;
	size_t n, cap;
	struct chunk *chunks;
	char *scratch; /* for cw_keymap_intern_frame */
	size_t scratch_cap;
	struct fcache *fcache;
};

/* The symbolizer hands out one string per symbol, so the same frame usually comes with the same pointers: a
 * small direct-mapped cache on the pointers skips strlen, copying and hashing for most frames. A hit needs
 * equal pointers, so a miss costs nothing but the content lookup it would have done anyway. */
#define FCACHE_SIZE 16384
struct fcache {
	const char *name, *obj;
	uint32_t id;
	bool kernel, valid;
};

uint64_t cw_hash_bytes(const void *p, size_t len, uint64_t h)
{
	/* eight bytes a step, multiply-xorshift mixing: symbol names and folded lines are hashed millions of
	 * times for a big profile, so a byte-at-a-time hash shows up in profiles of crosswalk itself */
	const unsigned char *s = p;
	const uint64_t k = 0x9e3779b97f4a7c15ULL;
	uint64_t w;
	h ^= len * k;
	for (; len >= 8; len -= 8, s += 8) {
		memcpy(&w, s, 8);
		h = (h ^ (w * k)) * 0xbf58476d1ce4e5b9ULL;
		h ^= h >> 29;
	}
	w = 0;
	memcpy(&w, s, len);
	h = (h ^ (w * k)) * 0x94d049bb133111ebULL;
	return h ^ (h >> 31);
}

static uint64_t mix(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return h;
}

struct cw_keymap *cw_keymap_new(size_t hint)
{
	struct cw_keymap *m = cw_calloc(1, sizeof(*m));
	m->nslots = 64;
	while (m->nslots < hint * 2)
		m->nslots *= 2;
	m->slots = cw_calloc(m->nslots, sizeof(*m->slots));
	return m;
}

void cw_keymap_free(struct cw_keymap *m)
{
	if (!m)
		return;
	for (struct chunk *c = m->chunks, *next; c; c = next) {
		next = c->next;
		free(c);
	}
	free(m->slots);
	free(m->ents);
	free(m->scratch);
	free(m->fcache);
	free(m);
}

static char *store(struct cw_keymap *m, const void *key, size_t len)
{
	struct chunk *c = m->chunks;
	if (!c || c->cap - c->used < len + 1) {
		size_t cap = len + 1 > 65536 ? len + 1 : 65536;
		c = cw_malloc(sizeof(*c) + cap);
		c->used = 0;
		c->cap = cap;
		/* keep the partly used chunk first only if the new one is an oversized one-off */
		if (m->chunks && cap > 65536) {
			c->next = m->chunks->next;
			m->chunks->next = c;
		} else {
			c->next = m->chunks;
			m->chunks = c;
		}
	}
	char *d = c->data + c->used;
	memcpy(d, key, len);
	d[len] = 0;
	c->used += len + 1;
	return d;
}

static void grow(struct cw_keymap *m)
{
	size_t ns = m->nslots * 2;
	uint64_t *slots = cw_calloc(ns, sizeof(*slots));
	for (size_t i = 0; i < m->n; i++) {
		uint64_t h = m->ents[i].hash;
		size_t j = mix(h) & (ns - 1);
		while (slots[j])
			j = (j + 1) & (ns - 1);
		slots[j] = (h >> 32) << 32 | ((uint64_t)i + 1);
	}
	free(m->slots);
	m->slots = slots;
	m->nslots = ns;
}

static uint32_t intern_hashed(struct cw_keymap *m, const void *key, size_t len, uint64_t h, bool *added)
{
	size_t j = mix(h) & (m->nslots - 1);
	uint64_t tag = (h >> 32) << 32;
	for (uint64_t s; (s = m->slots[j]); j = (j + 1) & (m->nslots - 1)) {
		if ((s & ~0xffffffffULL) != tag)
			continue;
		uint32_t i = (uint32_t)s - 1;
		struct kent *e = &m->ents[i];
		if (e->hash == h && e->len == len && !memcmp(e->key, key, len)) {
			if (added)
				*added = false;
			return i;
		}
	}
	if (m->n == m->cap) {
		m->cap = m->cap ? m->cap * 2 : 64;
		m->ents = cw_realloc(m->ents, m->cap * sizeof(*m->ents));
	}
	struct kent *e = &m->ents[m->n];
	e->hash = h;
	e->len = len;
	e->key = store(m, key, len);
	m->slots[j] = tag | ((uint64_t)m->n + 1);
	uint32_t idx = (uint32_t)m->n++;
	if (m->n * 2 > m->nslots) /* load factor at most 1/2 */
		grow(m);
	if (added)
		*added = true;
	return idx;
}

uint32_t cw_keymap_intern(struct cw_keymap *m, const void *key, size_t len, bool *added)
{
	return intern_hashed(m, key, len, cw_hash_bytes(key, len, 0), added);
}

uint32_t cw_keymap_intern_frame(struct cw_keymap *m, const struct cw_pframe *f, bool *added)
{
	if (!m->fcache)
		m->fcache = cw_calloc(FCACHE_SIZE, sizeof(*m->fcache));
	uint64_t ph = mix(((uintptr_t)f->name * 0x9e3779b97f4a7c15ULL) ^ (uintptr_t)f->obj ^ f->kernel);
	struct fcache *c = &m->fcache[ph & (FCACHE_SIZE - 1)];
	if (c->valid && c->name == f->name && c->obj == f->obj && c->kernel == f->kernel) {
		if (added)
			*added = false;
		return c->id;
	}
	const char *name = f->name ? f->name : "[unknown]", *obj = f->obj ? f->obj : "";
	size_t ln = strlen(name), lo = strlen(obj), len = ln + lo + 3;
	if (len > m->scratch_cap) {
		m->scratch_cap = len * 2;
		m->scratch = cw_realloc(m->scratch, m->scratch_cap);
	}
	char *k = m->scratch;
	memcpy(k, name, ln + 1);
	memcpy(k + ln + 1, obj, lo + 1);
	k[len - 1] = f->kernel ? 'k' : 'u';
	uint32_t id = cw_keymap_intern(m, k, len, added);
	*c = (struct fcache){ .name = f->name, .obj = f->obj, .id = id, .kernel = f->kernel, .valid = true };
	return id;
}

const char *cw_keymap_key(const struct cw_keymap *m, uint32_t idx, size_t *len)
{
	if (len)
		*len = m->ents[idx].len;
	return m->ents[idx].key;
}

size_t cw_keymap_count(const struct cw_keymap *m)
{
	return m->n;
}

void cw_u64map_init(struct cw_u64map *m, size_t hint)
{
	m->nslots = 64;
	while (m->nslots < hint * 2)
		m->nslots *= 2;
	m->keys = cw_malloc(m->nslots * sizeof(*m->keys));
	m->vals = cw_calloc(m->nslots, sizeof(*m->vals));
	m->n = 0;
}

void cw_u64map_fini(struct cw_u64map *m)
{
	if (!m)
		return;
	free(m->keys);
	free(m->vals);
	memset(m, 0, sizeof(*m));
}

uint32_t *cw_u64map_get(struct cw_u64map *m, uint64_t key)
{
	for (size_t j = mix(key * 0x9e3779b97f4a7c15ULL) & (m->nslots - 1); m->vals[j]; j = (j + 1) & (m->nslots - 1))
		if (m->keys[j] == key)
			return &m->vals[j];
	return NULL;
}

static void u64map_insert(uint64_t *keys, uint32_t *vals, size_t nslots, uint64_t key, uint32_t v1)
{
	size_t j = mix(key * 0x9e3779b97f4a7c15ULL) & (nslots - 1);
	while (vals[j] && keys[j] != key)
		j = (j + 1) & (nslots - 1);
	keys[j] = key;
	vals[j] = v1;
}

void cw_u64map_put(struct cw_u64map *m, uint64_t key, uint32_t val)
{
	uint32_t *v = cw_u64map_get(m, key);
	if (v) {
		*v = val + 1;
		return;
	}
	if ((m->n + 1) * 2 > m->nslots) {
		size_t ns = m->nslots * 2;
		uint64_t *keys = cw_malloc(ns * sizeof(*keys));
		uint32_t *vals = cw_calloc(ns, sizeof(*vals));
		for (size_t i = 0; i < m->nslots; i++)
			if (m->vals[i])
				u64map_insert(keys, vals, ns, m->keys[i], m->vals[i]);
		free(m->keys);
		free(m->vals);
		m->keys = keys;
		m->vals = vals;
		m->nslots = ns;
	}
	u64map_insert(m->keys, m->vals, m->nslots, key, val + 1);
	m->n++;
}

/* ---- frames and charging rules ---- */

static const struct cw_pframe unknown_frame = { .name = "[unknown]", .obj = "[unknown]", .kernel = false };

const struct cw_pframe *cw_leaf_frame(const struct cw_pstack *s)
{
	return s->nframes ? &s->frames[0] : &unknown_frame;
}

/* Kernel functions that every blocked stack passes through on its way off the CPU; charging to them would
 * put all blocked time in one row that says nothing about why the thread waited. */
static bool is_sched_frame(const struct cw_pframe *f)
{
	static const char *const prefixes[] = {
		"__schedule", "schedule", "io_schedule", "preempt_schedule", "_cond_resched", "__cond_resched",
		"__traceiter_", "__bpf_trace_", "bpf_trace_run", "perf_trace_sched", "trace_sched_",
		"__perf_event_task_sched", "__switch_to", "finish_task_switch", "context_switch",
	};
	if (!f->kernel || !f->name)
		return false;
	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
		if (!strncmp(f->name, prefixes[i], strlen(prefixes[i])))
			return true;
	return false;
}

const struct cw_pframe *cw_blocked_frame(const struct cw_pstack *s)
{
	for (uint32_t i = 0; i < s->nframes; i++)
		if (!is_sched_frame(&s->frames[i]))
			return &s->frames[i];
	return cw_leaf_frame(s);
}

const struct cw_pframe *cw_user_frame(const struct cw_pstack *s)
{
	for (uint32_t i = 0; i < s->nframes; i++)
		if (!s->frames[i].kernel)
			return &s->frames[i];
	return NULL;
}

/* ---- per-procedure aggregation ---- */

static struct cw_proc *proc_of(struct cw_keymap *m, struct cw_procs *ps, size_t *cap, const struct cw_pframe *f)
{
	bool added;
	uint32_t i = cw_keymap_intern_frame(m, f, &added);
	if (added) {
		if (ps->n == *cap) {
			*cap = *cap ? *cap * 2 : 256;
			ps->v = cw_realloc(ps->v, *cap * sizeof(*ps->v));
		}
		ps->v[i] = (struct cw_proc){ .name = f->name ? f->name : "[unknown]", .obj = f->obj ? f->obj : "",
					     .kernel = f->kernel };
		ps->n++;
	}
	return &ps->v[i];
}

void cw_procs_build(const struct cw_profile *p, struct cw_procs *out)
{
	struct cw_keymap *m = cw_keymap_new(p->nstacks / 4);
	size_t cap = 0;
	uint64_t total = 0, idle = 0, off = 0;

	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < p->nstacks; i++) {
		const struct cw_pstack *s = &p->stacks[i];
		total += s->samples;
		off += s->offcpu_ns;
		if (s->idle) {
			idle += s->samples;
			continue;
		}
		if (s->samples)
			proc_of(m, out, &cap, cw_leaf_frame(s))->samples += s->samples;
		if (s->offcpu_ns) {
			proc_of(m, out, &cap, cw_blocked_frame(s))->offcpu_ns += s->offcpu_ns;
			const struct cw_pframe *u = cw_user_frame(s);
			if (u)
				proc_of(m, out, &cap, u)->wait_ns += s->offcpu_ns;
			else
				out->nostack_ns += s->offcpu_ns;
		}
	}
	/* The profiler's totals win: it also counts samples whose stack was lost. Stacks' sums stand in when
	 * the totals were left 0 (or are smaller than what the stacks hold, which would make > 100%). */
	out->total = p->total_samples >= total ? p->total_samples : total;
	out->idle = p->idle_samples > idle ? p->idle_samples : idle;
	if (out->idle > out->total)
		out->idle = out->total;
	out->offcpu_ns = p->offcpu_total_ns >= off ? p->offcpu_total_ns : off;
	cw_keymap_free(m);
}

void cw_procs_free(struct cw_procs *ps)
{
	if (!ps)
		return;
	free(ps->v);
	ps->v = NULL;
	ps->n = 0;
}

uint64_t cw_profile_period_ns(const struct cw_profile *p)
{
	if (p->period_ns)
		return p->period_ns;
	return p->freq_hz ? 1000000000ULL / p->freq_hz : 0;
}

void cw_buf_add(struct cw_buf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		b->s = cw_realloc(b->s, b->cap);
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = 0;
}

void cw_buf_free(struct cw_buf *b)
{
	if (!b)
		return;
	free(b->s);
	memset(b, 0, sizeof(*b));
}

void cw_buf_add_folded(struct cw_buf *b, const char *s, bool spaces_too)
{
	size_t start = b->len;
	if (!s || !*s)
		s = "[unknown]";
	cw_buf_add(b, s, strlen(s));
	for (char *c = b->s + start; *c; c++) {
		if (*c == ';')
			*c = ':';
		else if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = '?';
		else if (spaces_too && *c == ' ')
			*c = '_';
	}
}

/* ---- escaping ---- */

size_t cw_utf8_len(const unsigned char *s)
{
	unsigned c = s[0];
	size_t n;
	uint32_t cp;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4, cp = c & 0x07;
	else
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	/* overlong forms, surrogates and beyond U+10FFFF are not valid UTF-8 */
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

void cw_json_str(FILE *out, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	if (!s) {
		fputs("null", out);
		return;
	}
	putc('"', out);
	while (*s) {
		unsigned c = *s;
		if (c == '"' || c == '\\') {
			putc('\\', out);
			putc(c, out);
			s++;
		} else if (c < 0x20) {
			switch (c) {
			case '\n': fputs("\\n", out); break;
			case '\t': fputs("\\t", out); break;
			case '\r': fputs("\\r", out); break;
			case '\b': fputs("\\b", out); break;
			case '\f': fputs("\\f", out); break;
			default: fprintf(out, "\\u%04x", c);
			}
			s++;
		} else if (c < 0x80) {
			putc(c, out);
			s++;
		} else {
			size_t n = cw_utf8_len(s);
			if (n) {
				fwrite(s, 1, n, out);
				s += n;
			} else {
				fputs("\\ufffd", out);
				s++;
			}
		}
	}
	putc('"', out);
}

void cw_xml_str(FILE *out, const char *str, size_t maxlen)
{
	const unsigned char *s = (const unsigned char *)str;
	if (!s)
		return;
	for (size_t i = 0; i < maxlen && *s; i++) {
		unsigned c = *s;
		size_t n = 1;
		switch (c) {
		case '&': fputs("&amp;", out); break;
		case '<': fputs("&lt;", out); break;
		case '>': fputs("&gt;", out); break;
		case '"': fputs("&quot;", out); break;
		case '\'': fputs("&apos;", out); break;
		default:
			if (c < 0x20 || c == 0x7f) {
				putc('?', out);
			} else if (c < 0x80) {
				putc(c, out);
			} else if ((n = cw_utf8_len(s))) {
				fwrite(s, 1, n, out);
			} else {
				putc('?', out);
				n = 1;
			}
		}
		s += n;
	}
}
