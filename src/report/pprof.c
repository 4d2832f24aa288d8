/* pprof output: the profile as a gzipped perftools.profiles.Profile (protobuf-c + zlib), loadable by `pprof`
 * and Pyroscope. Frames are already symbolized, so a location is a function (address 0) in its object's
 * mapping; values are [samples/count, cpu/nanoseconds] plus off_cpu/nanoseconds with --off-cpu. */
#include "report/report_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>
#include "gen/profile.pb-c.h"
#include "util/util.h"

typedef Perftools__Profiles__Profile PbProfile;
typedef Perftools__Profiles__Sample PbSample;
typedef Perftools__Profiles__Label PbLabel;
typedef Perftools__Profiles__Location PbLocation;
typedef Perftools__Profiles__Line PbLine;
typedef Perftools__Profiles__Function PbFunction;
typedef Perftools__Profiles__Mapping PbMapping;
typedef Perftools__Profiles__ValueType PbValueType;

struct strtab {
	struct cw_keymap *m;
	char **v;
	size_t n, cap;
};

static int64_t str_id(struct strtab *t, const char *s)
{
	bool added;
	uint32_t i = cw_keymap_intern(t->m, s, strlen(s), &added);
	if (added) {
		if (t->n == t->cap) {
			t->cap = t->cap ? t->cap * 2 : 256;
			t->v = cw_realloc(t->v, t->cap * sizeof(*t->v));
		}
		/* the map's copy lives as long as the map, which outlives packing */
		t->v[t->n++] = (char *)cw_keymap_key(t->m, i, NULL);
	}
	return i;
}

/* Functions, locations (one per function) and mappings (one per object), grown as frames are met. */
struct tables {
	struct cw_keymap *fm, *mm;
	PbFunction *fn;
	PbLocation *loc;
	PbLine *line;
	PbLine **linep;
	size_t nf, capf;
	PbMapping *map;
	size_t nm, capm;
};

static uint64_t mapping_id(struct tables *t, struct strtab *st, const char *obj)
{
	bool added;
	uint32_t i = cw_keymap_intern(t->mm, obj, strlen(obj), &added);
	if (added) {
		if (t->nm == t->capm) {
			t->capm = t->capm ? t->capm * 2 : 64;
			t->map = cw_realloc(t->map, t->capm * sizeof(*t->map));
		}
		PbMapping *m = &t->map[t->nm++];
		perftools__profiles__mapping__init(m);
		m->id = i + 1;
		m->filename = str_id(st, obj);
		/* already symbolized: tells pprof not to look for the binaries */
		m->has_functions = true;
	}
	return i + 1;
}

static uint64_t location_id(struct tables *t, struct strtab *st, const struct cw_pframe *f)
{
	bool added;
	uint32_t i = cw_keymap_intern_frame(t->fm, f, &added);
	if (added) {
		if (t->nf == t->capf) {
			t->capf = t->capf ? t->capf * 2 : 1024;
			t->fn = cw_realloc(t->fn, t->capf * sizeof(*t->fn));
			t->loc = cw_realloc(t->loc, t->capf * sizeof(*t->loc));
			t->line = cw_realloc(t->line, t->capf * sizeof(*t->line));
		}
		size_t k = t->nf++;
		const char *name = f->name ? f->name : "[unknown]";
		const char *obj = f->obj && *f->obj ? f->obj : (f->kernel ? "[kernel]" : "[unknown]");
		perftools__profiles__function__init(&t->fn[k]);
		t->fn[k].id = k + 1;
		t->fn[k].name = t->fn[k].system_name = str_id(st, name);
		perftools__profiles__line__init(&t->line[k]);
		t->line[k].function_id = k + 1;
		perftools__profiles__location__init(&t->loc[k]);
		t->loc[k].id = k + 1;
		t->loc[k].mapping_id = mapping_id(t, st, obj);
	}
	return i + 1;
}

static int gzip_write(const uint8_t *buf, size_t len, FILE *out)
{
	z_stream zs = { 0 };
	unsigned char chunk[1 << 16];
	int err = 0, zr;

	/* windowBits 15 + 16: a gzip wrapper, which pprof expects. Level 1, as Go's runtime/pprof writes its
	 * profiles: on a 100,000-stack profile it takes 2/3 of level 6's time for an 8% larger file. */
	if (deflateInit2(&zs, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return -ENOMEM;
	zs.next_in = (Bytef *)buf;
	zs.avail_in = len;
	do {
		zs.next_out = chunk;
		zs.avail_out = sizeof(chunk);
		zr = deflate(&zs, Z_FINISH);
		if (zr == Z_STREAM_ERROR) {
			err = -EIO;
			goto out;
		}
		size_t n = sizeof(chunk) - zs.avail_out;
		if (n && fwrite(chunk, 1, n, out) != n) {
			err = errno ? -errno : -EIO;
			goto out;
		}
	} while (zr != Z_STREAM_END);
out:
	deflateEnd(&zs);
	return err;
}

int cw_report_pprof(const struct cw_profile *p, const struct cw_report_opts *o, FILE *out)
{
	struct strtab st = { .m = cw_keymap_new(1024) };
	struct tables t = { .fm = cw_keymap_new(p->nstacks), .mm = cw_keymap_new(64) };
	PbProfile prof = PERFTOOLS__PROFILES__PROFILE__INIT;
	PbValueType vt[3], period_type;
	PbValueType *vtp[3];
	uint64_t period = cw_profile_period_ns(p);
	size_t nvals = p->has_offcpu ? 3 : 2, nlocs = 0, ns = 0;
	uint8_t *packed = NULL;
	int err;

	str_id(&st, ""); /* string_table[0] must be "" */
	static const char *const vnames[3][2] = { { "samples", "count" }, { "cpu", "nanoseconds" },
						  { "off_cpu", "nanoseconds" } };
	for (size_t i = 0; i < nvals; i++) {
		perftools__profiles__value_type__init(&vt[i]);
		vt[i].type = str_id(&st, vnames[i][0]);
		vt[i].unit = str_id(&st, vnames[i][1]);
		vtp[i] = &vt[i];
	}
	perftools__profiles__value_type__init(&period_type);
	period_type.type = str_id(&st, "cpu");
	period_type.unit = str_id(&st, "nanoseconds");
	int64_t k_comm = str_id(&st, "comm"), k_pid = str_id(&st, "pid"), k_tid = str_id(&st, "tid");

	for (size_t i = 0; i < p->nstacks; i++)
		nlocs += p->stacks[i].nframes ? p->stacks[i].nframes : 1;
	/* everything a sample points to comes from a few pools, not one malloc per field */
	PbSample *smp = cw_malloc((p->nstacks + 1) * sizeof(*smp));
	PbSample **smpp = cw_malloc((p->nstacks + 1) * sizeof(*smpp));
	uint64_t *locids = cw_malloc((nlocs + 1) * sizeof(*locids));
	int64_t *vals = cw_malloc((p->nstacks * nvals + 1) * sizeof(*vals));
	PbLabel *lab = cw_malloc((p->nstacks * 3 + 1) * sizeof(*lab));
	PbLabel **labp = cw_malloc((p->nstacks * 3 + 1) * sizeof(*labp));
	uint64_t *lp = locids;

	for (size_t i = 0; i < p->nstacks; i++) {
		const struct cw_pstack *s = &p->stacks[i];
		if (!s->samples && !(p->has_offcpu && s->offcpu_ns))
			continue;
		PbSample *x = &smp[ns];
		perftools__profiles__sample__init(x);
		x->location_id = lp;
		if (s->nframes) {
			for (uint32_t f = 0; f < s->nframes; f++)
				*lp++ = location_id(&t, &st, &s->frames[f]);
		} else {
			*lp++ = location_id(&t, &st, cw_leaf_frame(s));
		}
		x->n_location_id = lp - x->location_id;
		x->value = &vals[ns * nvals];
		x->n_value = nvals;
		x->value[0] = s->samples;
		x->value[1] = s->samples * period;
		if (nvals > 2)
			x->value[2] = s->offcpu_ns;
		PbLabel *l = &lab[ns * 3];
		for (int j = 0; j < 3; j++) {
			perftools__profiles__label__init(&l[j]);
			labp[ns * 3 + j] = &l[j];
		}
		l[0].key = k_comm;
		l[0].str = str_id(&st, s->comm && *s->comm ? s->comm : "[unknown]");
		l[1].key = k_pid;
		l[1].num = s->pid;
		l[2].key = k_tid;
		l[2].num = s->tid;
		x->label = &labp[ns * 3];
		x->n_label = 3;
		smpp[ns] = x;
		ns++;
	}

	t.linep = cw_malloc((t.nf + 1) * sizeof(*t.linep));
	PbFunction **fnp = cw_malloc((t.nf + 1) * sizeof(*fnp));
	PbLocation **locp = cw_malloc((t.nf + 1) * sizeof(*locp));
	PbMapping **mapp = cw_malloc((t.nm + 1) * sizeof(*mapp));
	for (size_t i = 0; i < t.nf; i++) {
		t.linep[i] = &t.line[i];
		t.loc[i].line = &t.linep[i];
		t.loc[i].n_line = 1;
		fnp[i] = &t.fn[i];
		locp[i] = &t.loc[i];
	}
	for (size_t i = 0; i < t.nm; i++)
		mapp[i] = &t.map[i];

	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	int64_t dur = (int64_t)(p->duration_s * 1e9);
	int64_t comment = 0;
	if (p->target) {
		char c[512];
		snprintf(c, sizeof(c), "crosswalk profile: %s", p->target);
		comment = str_id(&st, c);
	}

	prof.n_sample_type = nvals;
	prof.sample_type = vtp;
	prof.n_sample = ns;
	prof.sample = smpp;
	prof.n_mapping = t.nm;
	prof.mapping = mapp;
	prof.n_location = t.nf;
	prof.location = locp;
	prof.n_function = t.nf;
	prof.function = fnp;
	prof.n_string_table = st.n;
	prof.string_table = st.v;
	prof.time_nanos = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec - dur;
	prof.duration_nanos = dur;
	prof.period_type = &period_type;
	prof.period = period;
	if (comment) {
		prof.n_comment = 1;
		prof.comment = &comment;
	}
	prof.default_sample_type = vt[1].type; /* "cpu" */

	size_t len = perftools__profiles__profile__get_packed_size(&prof);
	packed = cw_malloc(len + 1);
	perftools__profiles__profile__pack(&prof, packed);
	err = gzip_write(packed, len, out);

	free(packed);
	free(fnp);
	free(locp);
	free(mapp);
	free(t.linep);
	free(smp);
	free(smpp);
	free(locids);
	free(vals);
	free(lab);
	free(labp);
	free(t.fn);
	free(t.loc);
	free(t.line);
	free(t.map);
	free(st.v);
	cw_keymap_free(t.fm);
	cw_keymap_free(t.mm);
	cw_keymap_free(st.m);
	return err;
}
