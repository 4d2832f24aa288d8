/* The profile as JSON for scripts: totals and every procedure (not cut by --min-pct), by samples. */
#include "report/report_int.h"

#include <stdlib.h>
#include <string.h>
#include "util/util.h"

static int proc_cmp(const void *a, const void *b)
{
	const struct cw_proc *x = a, *y = b;
	if (x->samples != y->samples)
		return x->samples < y->samples ? 1 : -1;
	if (x->offcpu_ns != y->offcpu_ns)
		return x->offcpu_ns < y->offcpu_ns ? 1 : -1;
	int c = strcmp(x->name, y->name);
	return c ? c : strcmp(x->obj, y->obj);
}

static double pct(uint64_t part, uint64_t whole)
{
	return whole ? 100.0 * (double)part / (double)whole : 0.0;
}

int cw_report_json(const struct cw_profile *p, const struct cw_report_opts *o, FILE *out)
{
	struct cw_procs ps;
	cw_procs_build(p, &ps);
	if (ps.n > 1)
		qsort(ps.v, ps.n, sizeof(*ps.v), proc_cmp);
	uint64_t nonidle = ps.total - ps.idle;

	fputs("{\"target\":", out);
	cw_json_str(out, p->target);
	fprintf(out, ",\"duration_s\":%.6f,\"freq_hz\":%u,\"period_ns\":%llu,\"ncpus\":%d", p->duration_s, p->freq_hz,
		(unsigned long long)cw_profile_period_ns(p), p->ncpus);
	fprintf(out, ",\"total_samples\":%llu,\"idle_samples\":%llu,\"has_offcpu\":%s,\"offcpu_total_ns\":%llu",
		(unsigned long long)ps.total, (unsigned long long)ps.idle, p->has_offcpu ? "true" : "false",
		(unsigned long long)ps.offcpu_ns);
	fputs(",\"procedures\":[", out);
	for (size_t i = 0; i < ps.n; i++) {
		const struct cw_proc *pr = &ps.v[i];
		fputs(i ? ",\n{\"name\":" : "\n{\"name\":", out);
		cw_json_str(out, pr->name);
		fprintf(out, ",\"space\":\"%s\",\"object\":", pr->kernel ? "kernel" : "user");
		cw_json_str(out, pr->obj);
		fprintf(out, ",\"samples\":%llu,\"pct_all\":%.4f,\"pct_nonidle\":%.4f,\"offcpu_ns\":%llu,\"pct_offcpu\":%.4f",
			(unsigned long long)pr->samples, pct(pr->samples, ps.total), pct(pr->samples, nonidle),
			(unsigned long long)pr->offcpu_ns, pct(pr->offcpu_ns, ps.offcpu_ns));
		fprintf(out, ",\"wait_ns\":%llu}", (unsigned long long)pr->wait_ns);
	}
	fputs("]}\n", out);
	cw_procs_free(&ps);
	return 0;
}
