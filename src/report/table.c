/* The DCPI-style flat profile: one row per procedure (function + object) with its share of all CPU time and
 * of non-idle CPU time, kernel and user mixed, the idle task first; with --off-cpu also blocked time in ms. */
#include "report/report_int.h"

#include <stdlib.h>
#include <string.h>
#include "util/util.h"

#define IDLE_NAME "[idle] (kernel idle task)"
#define NAME_MAX_W 48

struct row {
	const struct cw_proc *pr;
	uint64_t key; /* sort key: samples, or on-CPU ns + blocked ns */
};

static int row_cmp(const void *a, const void *b)
{
	const struct row *x = a, *y = b;
	if (x->key != y->key)
		return x->key < y->key ? 1 : -1;
	int c = strcmp(x->pr->name, y->pr->name);
	return c ? c : strcmp(x->pr->obj, y->pr->obj);
}

static double pct(uint64_t part, uint64_t whole)
{
	return whole ? 100.0 * (double)part / (double)whole : 0.0;
}

static void header(const struct cw_profile *p, const struct cw_procs *ps, FILE *out)
{
	fprintf(out, "Profile of %s: %.2f s, %u Hz, %d CPU%s, %llu samples", p->target ? p->target : "(unknown)",
		p->duration_s, p->freq_hz, p->ncpus, p->ncpus == 1 ? "" : "s", (unsigned long long)ps->total);
	if (ps->idle)
		fprintf(out, " (%llu idle = %.2f%%)", (unsigned long long)ps->idle, pct(ps->idle, ps->total));
	if (p->has_offcpu)
		fprintf(out, ", %.1f ms blocked", ps->offcpu_ns / 1e6);
	fputc('\n', out);
}

static int name_width(struct row *rows, size_t n, bool idle)
{
	size_t w = idle ? strlen(IDLE_NAME) : strlen("procedure");
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(rows[i].pr->name);
		if (l > w)
			w = l;
	}
	return w > NAME_MAX_W ? NAME_MAX_W : (int)w;
}

/* The user-frame view of blocked time: which code of the program was waiting, whatever the kernel path. */
static void wait_section(const struct cw_procs *ps, const struct cw_report_opts *o, FILE *out)
{
	struct row *rows = cw_malloc((ps->n + 1) * sizeof(*rows));
	size_t n = 0, omitted = 0;
	uint64_t omitted_ns = 0;

	for (size_t i = 0; i < ps->n; i++)
		if (ps->v[i].wait_ns)
			rows[n++] = (struct row){ .pr = &ps->v[i], .key = ps->v[i].wait_ns };
	qsort(rows, n, sizeof(*rows), row_cmp);
	int nw = name_width(rows, n, false);
	fprintf(out, "\nBlocked time by the innermost user frame of the blocked stack (the code that waited):\n\n");
	fprintf(out, "%10s  %9s       %-*s  %s\n", "blocked ms", "% blocked", nw, "procedure", "object");
	for (size_t i = 0, shown = 0; i < n; i++) {
		const struct cw_proc *pr = rows[i].pr;
		double pb = pct(pr->wait_ns, ps->offcpu_ns);
		if (pb < o->min_pct || (o->max_rows > 0 && (int)shown >= o->max_rows)) {
			omitted++;
			omitted_ns += pr->wait_ns;
			continue;
		}
		shown++;
		fprintf(out, "%10.1f  %8.2f%%  [u]  %-*s  %s\n", pr->wait_ns / 1e6, pb, nw, pr->name, pr->obj);
	}
	if (ps->nostack_ns)
		fprintf(out, "%10.1f  %8.2f%%       %-*s\n", ps->nostack_ns / 1e6, pct(ps->nostack_ns, ps->offcpu_ns),
			nw, "(no user frame: kernel threads)");
	if (omitted)
		fprintf(out, "(%zu procedure%s below %.2f%% omitted: %.2f%% of blocked time)\n", omitted,
			omitted == 1 ? "" : "s", o->min_pct, pct(omitted_ns, ps->offcpu_ns));
	free(rows);
}

int cw_report_table(const struct cw_profile *p, const struct cw_report_opts *o, FILE *out)
{
	struct cw_procs ps;
	uint64_t period = cw_profile_period_ns(p);
	bool off = p->has_offcpu;

	cw_procs_build(p, &ps);
	uint64_t nonidle = ps.total - ps.idle;
	struct row *rows = cw_malloc((ps.n + 1) * sizeof(*rows));
	for (size_t i = 0; i < ps.n; i++)
		rows[i] = (struct row){ .pr = &ps.v[i],
					.key = off ? ps.v[i].samples * period + ps.v[i].offcpu_ns : ps.v[i].samples };
	qsort(rows, ps.n, sizeof(*rows), row_cmp);

	header(p, &ps, out);
	fputc('\n', out);
	int nw = name_width(rows, ps.n, ps.idle > 0);
	int sw = 7;
	for (uint64_t t = ps.total; t >= 10000000; t /= 10)
		sw++;
	fprintf(out, "%7s  %10s  %*s", "% all", "% non-idle", sw, "samples");
	if (off)
		fprintf(out, "  %10s  %10s  %9s", "on-CPU ms", "blocked ms", "% blocked");
	fprintf(out, "       %-*s  %s\n", nw, "procedure", "object");

	if (ps.idle) {
		fprintf(out, "%6.2f%%  %10s  %*llu", pct(ps.idle, ps.total), "-", sw, (unsigned long long)ps.idle);
		if (off)
			fprintf(out, "  %10.1f  %10s  %9s", ps.idle * period / 1e6, "-", "-");
		fprintf(out, "  [k]  %-*s  %s\n", nw, IDLE_NAME, "[kernel]");
	}

	size_t shown = 0, omitted = 0;
	uint64_t om_samples = 0, om_off = 0;
	for (size_t i = 0; i < ps.n; i++) {
		const struct cw_proc *pr = rows[i].pr;
		if (!pr->samples && !pr->offcpu_ns) /* only a user frame that waited: in the second section */
			continue;
		double pa = pct(pr->samples, ps.total), pb = pct(pr->offcpu_ns, ps.offcpu_ns);
		bool keep = pa >= o->min_pct || (off && pb >= o->min_pct);
		if (!keep || (o->max_rows > 0 && (int)shown >= o->max_rows)) {
			omitted++;
			om_samples += pr->samples;
			om_off += pr->offcpu_ns;
			continue;
		}
		shown++;
		if (pr->samples)
			fprintf(out, "%6.2f%%  %9.2f%%  %*llu", pa, pct(pr->samples, nonidle), sw,
				(unsigned long long)pr->samples);
		else
			fprintf(out, "%7s  %10s  %*s", "-", "-", sw, "-");
		if (off) {
			if (pr->samples)
				fprintf(out, "  %10.1f", pr->samples * period / 1e6);
			else
				fprintf(out, "  %10s", "-");
			if (pr->offcpu_ns)
				fprintf(out, "  %10.1f  %8.2f%%", pr->offcpu_ns / 1e6, pb);
			else
				fprintf(out, "  %10s  %9s", "-", "-");
		}
		fprintf(out, "  %s  %-*s  %s\n", pr->kernel ? "[k]" : "[u]", nw, pr->name, pr->obj);
	}
	if (omitted) {
		fprintf(out, "(%zu procedure%s below %.2f%%%s omitted: %.2f%% of all CPU", omitted,
			omitted == 1 ? "" : "s", o->min_pct, o->max_rows > 0 ? " or past --max-rows" : "",
			pct(om_samples, ps.total));
		if (off)
			fprintf(out, ", %.2f%% of blocked time", pct(om_off, ps.offcpu_ns));
		fprintf(out, ")\n");
	}
	if (off && ps.offcpu_ns)
		wait_section(&ps, o, out);

	free(rows);
	cw_procs_free(&ps);
	return 0;
}
