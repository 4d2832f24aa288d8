/* Internals shared by the report writers: a byte-string interning map, the per-procedure aggregation that
 * table and json share, the rule that says where off-CPU time is charged, and JSON/XML string escaping. */
#ifndef CW_REPORT_INT_H
#define CW_REPORT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "report/profile.h"

/* Maps byte strings to dense indexes 0..n-1 in insertion order (open addressing; keys are copied). */
struct cw_keymap;
struct cw_keymap *cw_keymap_new(size_t hint);
void cw_keymap_free(struct cw_keymap *m);
/* Index of KEY, inserting it if absent (then *added, if given, is set true). */
uint32_t cw_keymap_intern(struct cw_keymap *m, const void *key, size_t len, bool *added);
/* The stored copy of key IDX (NUL-terminated after LEN bytes). */
const char *cw_keymap_key(const struct cw_keymap *m, uint32_t idx, size_t *len);
size_t cw_keymap_count(const struct cw_keymap *m);

/* Maps 64-bit keys to 32-bit values (open addressing, keys inline): for keys that are already numbers. */
struct cw_u64map {
	uint64_t *keys;
	uint32_t *vals; /* value + 1; 0 = empty slot */
	size_t nslots, n;
};
void cw_u64map_init(struct cw_u64map *m, size_t hint);
void cw_u64map_fini(struct cw_u64map *m);
/* Pointer to the value of KEY, or NULL. */
uint32_t *cw_u64map_get(struct cw_u64map *m, uint64_t key);
void cw_u64map_put(struct cw_u64map *m, uint64_t key, uint32_t val);

/* Index of procedure (name, obj, kernel) in M, hashing the three without building a key buffer first. */
uint32_t cw_keymap_intern_frame(struct cw_keymap *m, const struct cw_pframe *f, bool *added);

/* One procedure (function + object + space) with everything charged to it. */
struct cw_proc {
	const char *name, *obj;
	bool kernel;
	uint64_t samples;   /* on-CPU samples where it was the leaf (self time), idle stacks excluded */
	uint64_t offcpu_ns; /* blocked time charged to it by cw_blocked_frame() */
	uint64_t wait_ns;   /* blocked time where it was the innermost user frame */
};

struct cw_procs {
	struct cw_proc *v;
	size_t n;
	uint64_t total;	     /* all on-CPU samples incl. idle (the profile's totals, or the stacks' sums) */
	uint64_t idle;	     /* samples of the idle task */
	uint64_t offcpu_ns;  /* all blocked time */
	uint64_t nostack_ns; /* blocked time of stacks without any user frame (kernel threads) */
};

/* Aggregates P by procedure. The caller frees with cw_procs_free(). */
void cw_procs_build(const struct cw_profile *p, struct cw_procs *out);
void cw_procs_free(struct cw_procs *ps);

/* The frame a stack's samples are charged to: the leaf, or a "[unknown]" frame for an empty stack. */
const struct cw_pframe *cw_leaf_frame(const struct cw_pstack *s);
/* The frame a stack's off-CPU time is charged to: the innermost frame that is not scheduler machinery
 * (__schedule, schedule*, tracepoint glue), i.e. the function that chose to wait: pipe_read, do_poll,
 * futex_wait_queue, do_nanosleep. */
const struct cw_pframe *cw_blocked_frame(const struct cw_pstack *s);
/* The innermost user frame of S, or NULL. */
const struct cw_pframe *cw_user_frame(const struct cw_pstack *s);

/* Writes S as a JSON string literal (with quotes); invalid UTF-8 becomes U+FFFD. NULL writes null. */
void cw_json_str(FILE *out, const char *s);
/* Writes S escaped for XML text or attribute values; control characters and invalid UTF-8 become '?'. */
void cw_xml_str(FILE *out, const char *s, size_t maxlen);

/* A growing byte buffer for building lines. */
struct cw_buf {
	char *s;
	size_t len, cap;
};
void cw_buf_add(struct cw_buf *b, const char *s, size_t n);
void cw_buf_free(struct cw_buf *b);
/* Appends frame/comm name S for folded stacks: ';' (the separator) becomes ':', control characters '?',
 * and with SPACES_TOO spaces become '_' (stackcollapse-perf.pl does that to process names). */
void cw_buf_add_folded(struct cw_buf *b, const char *s, bool spaces_too);

/* Length of the valid UTF-8 sequence at S (1..4), or 0 if S does not start one. */
size_t cw_utf8_len(const unsigned char *s);

/* CPU time one sample stands for: p->period_ns, else 1e9 / freq_hz, else 0. */
uint64_t cw_profile_period_ns(const struct cw_profile *p);

uint64_t cw_hash_bytes(const void *p, size_t len, uint64_t h);

int cw_report_table(const struct cw_profile *p, const struct cw_report_opts *o, FILE *out);
int cw_report_folded(const struct cw_profile *p, const struct cw_report_opts *o, FILE *out);
int cw_report_svg(const struct cw_profile *p, const struct cw_report_opts *o, FILE *out);
int cw_report_pprof(const struct cw_profile *p, const struct cw_report_opts *o, FILE *out);
int cw_report_json(const struct cw_profile *p, const struct cw_report_opts *o, FILE *out);

#endif
