/* crosswalk measure: time chosen user functions of a program (launched or attached) with the in-process
 * agent, and print calls, inclusive and self time per function. */
#include "cli/cli.h"
#include "cli/target.h"
#include "agent/proto.h"
#include "measure/agent_source.h"
#include "measure/uprobe_source.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#if __has_include("objpool/objpool.h")
#define POOLS "stack, objpool, freelist"
#else
#define POOLS "stack"
#endif

static volatile int stop_sig;

static void usage(FILE *f)
{
	fprintf(f, "usage: crosswalk measure -f NAME[,NAME...] (-p PID | -- CMD [ARGS...]) [-d SECONDS]\n"
		   "                         [--json FILE] [-o FILE] [--sites] [--user-backend agent|uprobe]\n"
		   "                         [--pool stack|objpool|freelist]\n"
		   "  NAME: symbol, OBJECT:symbol (a library), or OBJECT+0xOFFSET (an unnamed function)\n");
}

static void fmt_ns(char *b, size_t n, double ns)
{
	if (ns < 1e3)
		snprintf(b, n, "%.0f ns", ns);
	else if (ns < 1e6)
		snprintf(b, n, "%.2f us", ns / 1e3);
	else if (ns < 1e9)
		snprintf(b, n, "%.2f ms", ns / 1e6);
	else
		snprintf(b, n, "%.3f s", ns / 1e9);
}

struct row {
	const char *name;
	struct cw_mresult r;
	struct cw_agent_extra x;
	uint64_t inflight_ns; /* calls still open at the end */
	int nsites;
	uint64_t site_ret[CW_AGENT_SITES_PER_SLOT], site_calls[CW_AGENT_SITES_PER_SLOT];
};

static int by_incl(const void *a, const void *b)
{
	const struct row *x = a, *y = b;
	return x->r.incl_ns < y->r.incl_ns ? 1 : x->r.incl_ns > y->r.incl_ns ? -1 : strcmp(x->name, y->name);
}

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			fprintf(f, "\\u%04x", *s);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

int cmd_measure(int argc, char **argv)
{
	/* kernel names (k:NAME, sys:NAME, fault) go to the kernel source, which says which backend it used */
	{
		int kern = 0, user = 0;
		for (int a = 1; a < argc; a++) {
			const char *list = NULL;
			if (!strcmp(argv[a], "--"))
				break;
			if ((!strcmp(argv[a], "-f") || !strcmp(argv[a], "--function")) && a + 1 < argc)
				list = argv[++a];
			else if (!strncmp(argv[a], "--function=", 11))
				list = argv[a] + 11;
			else if (!strncmp(argv[a], "-f", 2) && argv[a][2])
				list = argv[a] + 2;
			for (const char *q = list; q && *q;) {
				size_t len = strcspn(q, ",");
				if (!strncmp(q, "k:", 2) || !strncmp(q, "sys:", 4) || !strncmp(q, "fault", 5))
					kern++;
				else if (len)
					user++;
				q += len + (q[len] == ',');
			}
		}
		if (kern && user) {
			cw_err("measure: give user functions and kernel names (k:, sys:, fault) in separate runs");
			return CW_EXIT_USAGE;
		}
		if (kern)
			return cmd_kmeasure(argc, argv);
	}

	static const struct option opts[] = {
		{ "function", required_argument, NULL, 'f' }, { "pid", required_argument, NULL, 'p' },
		{ "duration", required_argument, NULL, 'd' }, { "json", required_argument, NULL, 'J' },
		{ "output", required_argument, NULL, 'o' },   { "sites", no_argument, NULL, 'S' },
		{ "user-backend", required_argument, NULL, 'B' }, { "help", no_argument, NULL, 'h' },
		{ "pool", required_argument, NULL, 'P' },
		{ NULL, 0, NULL, 0 },
	};
	char **funcs = NULL, *json = NULL, *outpath = NULL, err[512];
	size_t nf = 0;
	pid_t pid = 0;
	double dur = 0;
	struct cw_agent_opts ao = { 0 };
	int c, rc = 1, uprobe = 0;
	struct cw_msource *s = NULL;
	struct cw_mpoint **pts = NULL;
	char (*errs)[256] = NULL;
	struct row *rows = NULL;

	optind = 1;
	while ((c = getopt_long(argc, argv, "+f:p:d:o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'f': {
			char *list = cw_strdup(optarg), *save = NULL;
			for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
				funcs = cw_realloc(funcs, (nf + 1) * sizeof(*funcs));
				funcs[nf++] = cw_strdup(t);
			}
			free(list);
			break;
		}
		case 'p':
			pid = atoi(optarg);
			if (pid <= 0) {
				cw_err("bad pid '%s'", optarg);
				rc = CW_EXIT_USAGE;
				goto out;
			}
			break;
		case 'd':
			dur = atof(optarg);
			if (dur <= 0) {
				cw_err("bad duration '%s'", optarg);
				rc = CW_EXIT_USAGE;
				goto out;
			}
			break;
		case 'J':
			json = optarg;
			break;
		case 'o':
			outpath = optarg;
			break;
		case 'S':
			ao.count_sites = true;
			break;
		case 'B':
			if (!strcmp(optarg, "uprobe")) {
				uprobe = 1;
			} else if (strcmp(optarg, "agent")) {
				cw_err("unknown user backend '%s' (agent, uprobe)", optarg);
				rc = CW_EXIT_USAGE;
				goto out;
			}
			break;
		case 'P':
			if (!strcmp(optarg, "stack"))
				ao.pool = CW_POOL_STACK;
#if __has_include("objpool/objpool.h")
			else if (!strcmp(optarg, "objpool"))
				ao.pool = CW_POOL_OBJPOOL;
			else if (!strcmp(optarg, "freelist"))
				ao.pool = CW_POOL_FREELIST;
#endif
			else {
				cw_err("unknown return-instance pool '%s' (this build has: %s)", optarg, POOLS);
				rc = CW_EXIT_USAGE;
				goto out;
			}
			break;
		case 'h':
			usage(stdout);
			rc = 0;
			goto out;
		default:
			usage(stderr);
			rc = CW_EXIT_USAGE;
			goto out;
		}
	}
	if (!nf || (!pid && optind >= argc) || (pid && optind < argc)) {
		cw_err(!nf ? "no function to measure (-f)" : "give either -p PID or -- CMD");
		usage(stderr);
		rc = CW_EXIT_USAGE;
		goto out;
	}

	cw_catch_signals(&stop_sig);

	uint64_t ta = cw_now_ns();
	if (uprobe)
		s = pid ? cw_uprobe_source_attach(pid, err, sizeof(err))
			: cw_uprobe_source_launch(argv + optind, err, sizeof(err));
	else
		s = pid ? cw_agent_source_attach(pid, &ao, err, sizeof(err))
			: cw_agent_source_launch(argv + optind, &ao, err, sizeof(err));
	if (!s) { /* no such process or program, or not permitted: bad input, like every command */
		cw_err("%s", err);
		rc = CW_EXIT_USAGE;
		goto out;
	}
	uint64_t tb = cw_now_ns();
	if (!uprobe && !cw_agent_source_tsc_constant(s))
		cw_warn("this CPU has no constant_tsc: times may be off when its frequency changes");
	pts = cw_calloc(nf, sizeof(*pts));
	errs = cw_calloc(nf, sizeof(*errs));
	uint64_t t0 = cw_now_ns();
	int ok = 0;
	if (uprobe) {
		for (size_t i = 0; i < nf; i++) {
			pts[i] = s->ops->insert(s, funcs[i], errs[i], sizeof(errs[i]));
			ok += pts[i] != NULL;
		}
	} else {
		ok = cw_agent_source_insert_many(s, (const char *const *)funcs, nf, pts, errs);
	}
	uint64_t t1 = cw_now_ns();
	if (ok < 0) {
		cw_err("process %d: %s", (int)s->pid, errs[0]);
		goto close;
	}
	cw_dbg("instrumented %d function(s) in %.2f ms", ok, (double)(t1 - t0) / 1e6);
	int unknown = 0;
	for (size_t i = 0; i < nf; i++)
		if (!pts[i]) {
			cw_err("%s", errs[i]);
			unknown += !strncmp(errs[i], "unknown function", 16);
		}
	if (unknown || !ok) {
		rc = unknown ? CW_EXIT_USAGE : 1;
		goto close;
	}
	if (!pid && (uprobe ? cw_uprobe_source_go(s) : cw_agent_source_go(s))) {
		cw_err("process %d: the agent stopped answering", (int)s->pid);
		goto close;
	}

	uint64_t deadline = dur > 0 ? cw_now_ns() + (uint64_t)(dur * 1e9) : 0;
	int status = 0, exited = 0;
	while (!stop_sig && !(exited = uprobe ? cw_uprobe_source_poll(s, &status) : cw_agent_source_poll(s, &status))) {
		if (deadline && cw_now_ns() >= deadline)
			break;
		struct timespec d = { 0, 20 * 1000 * 1000 };
		nanosleep(&d, NULL);
	}
	if (exited && !pid) {
		if (WIFSIGNALED(status))
			cw_warn("process %d was killed by signal %d", (int)s->pid, WTERMSIG(status));
		else if (WIFEXITED(status) && WEXITSTATUS(status))
			cw_warn("process %d exited with status %d", (int)s->pid, WEXITSTATUS(status));
	} else if (exited) {
		cw_warn("process %d exited during the measurement", (int)s->pid);
	}

	/* the final counters, then every byte restored (close) */
	rows = cw_calloc(nf, sizeof(*rows));
	size_t nr = 0;
	for (size_t i = 0; i < nf; i++) {
		if (!pts[i])
			continue;
		struct row *r = &rows[nr++];
		r->name = uprobe ? cw_uprobe_point_name(pts[i]) : cw_agent_point_name(pts[i]);
		s->ops->read(s, pts[i], &r->r);
		if (!uprobe)
			cw_agent_source_read_extra(s, pts[i], &r->x);
		if (ao.count_sites && !uprobe)
			r->nsites = cw_agent_source_sites(s, pts[i], r->site_ret, r->site_calls,
							  CW_AGENT_SITES_PER_SLOT);
	}
	if (!uprobe && !exited) {
		uint64_t *ifl = cw_calloc(nf, sizeof(*ifl));
		if (cw_agent_source_inflight(s, pts, nf, ifl) == 0)
			for (size_t i = 0, k = 0; i < nf; i++)
				if (pts[i])
					rows[k++].inflight_ns = ifl[i];
		free(ifl);
	}
	char (*names)[512] = cw_calloc(nr ? nr : 1, sizeof(*names));
	for (size_t i = 0; i < nr; i++) {
		snprintf(names[i], sizeof(names[i]), "%s", rows[i].name);
		rows[i].name = names[i];
	}
	s->ops->close(s);
	s = NULL;
	qsort(rows, nr, sizeof(*rows), by_incl);

	FILE *out = outpath ? fopen(outpath, "w") : stderr;
	if (!out) {
		cw_err("%s: %s", outpath, strerror(errno));
		out = stderr;
	}
	int w = 24;
	for (size_t i = 0; i < nr; i++)
		if ((int)strlen(rows[i].name) > w)
			w = (int)strlen(rows[i].name);
	fprintf(out, "%-*s %12s %12s %12s %12s\n", w, "function", "calls", "total", "mean", "self");
	for (size_t i = 0; i < nr; i++) {
		char t[32], m[32], sf[32];
		struct row *r = &rows[i];
		fmt_ns(t, sizeof(t), (double)r->r.incl_ns);
		fmt_ns(m, sizeof(m), r->r.calls ? (double)r->r.incl_ns / (double)r->r.calls : 0);
		if (uprobe)
			snprintf(sf, sizeof(sf), "-");
		else
			fmt_ns(sf, sizeof(sf), (double)r->x.self_ns);
		fprintf(out, "%-*s %12lu %12s %12s %12s\n", w, r->name, r->r.calls, t, m, sf);
		for (int k = 0; k < r->nsites; k++)
			fprintf(out, "    from return address 0x%lx: %lu calls\n", r->site_ret[k], r->site_calls[k]);
		if (r->x.lost)
			fprintf(out, "    (%lu calls not timed: shadow stack full)\n", r->x.lost);
		if (r->inflight_ns) {
			fmt_ns(t, sizeof(t), (double)r->inflight_ns);
			fprintf(out, "    (and %s in calls still running at the end)\n", t);
		}
	}
	if (out != stderr)
		fclose(out);
	if (json) {
		FILE *jf = fopen(json, "w");
		if (!jf) {
			cw_err("%s: %s", json, strerror(errno));
			goto out;
		}
		fprintf(jf, "{\"backend\": \"%s\", \"functions\": [", uprobe ? "uprobe" : "agent");
		for (size_t i = 0; i < nr; i++) {
			struct row *r = &rows[i];
			fprintf(jf, "%s\n  {\"function\": ", i ? "," : "");
			json_str(jf, r->name);
			fprintf(jf, ", \"calls\": %lu, \"incl_ns\": %lu, \"mean_ns\": %.1f, \"self_ns\": %lu, \"entries\": %lu",
				r->r.calls, r->r.incl_ns, r->r.calls ? (double)r->r.incl_ns / (double)r->r.calls : 0.0,
				r->x.self_ns, r->x.entries);
			fprintf(jf, ", \"inflight_ns\": %lu", r->inflight_ns);
			if (ao.count_sites) {
				fprintf(jf, ", \"sites\": [");
				for (int k = 0; k < r->nsites; k++)
					fprintf(jf, "%s{\"return_address\": %lu, \"calls\": %lu}", k ? ", " : "",
						r->site_ret[k], r->site_calls[k]);
				fprintf(jf, "]");
			}
			fprintf(jf, "}");
		}
		fprintf(jf, "\n], \"setup\": {\"attach_ms\": %.3f, \"instrument_ms\": %.3f, \"functions\": %d}}\n",
			(double)(tb - ta) / 1e6, (double)(t1 - t0) / 1e6, ok);
		fclose(jf);
	}
	free(names);
	rc = 0;
	goto out;
close:
	if (s)
		s->ops->close(s);
	s = NULL;
out:
	if (s)
		s->ops->close(s);
	for (size_t i = 0; i < nf; i++)
		free(funcs[i]);
	free(funcs);
	free(pts);
	free(errs);
	free(rows);
	return rc;
}
