/* `crosswalk demo`: the bundled demo. A select() server with many idle connections (seed 002) is profiled
 * under load and explained; then its epoll twin runs the same load and the two are compared. The
 * experiments themselves (src/demo) return numbers; this file only prints them. */
#include "cli/cli.h"
#include "walk/env_real.h"
#include "walk/walk.h"
#include "cli/target.h"
#include "demo/demo.h"
#include "profile/profiler.h"
#include "report/profile.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *f)
{
	fprintf(f,
		"usage: crosswalk demo [options]\n"
		"  Starts build/examples/select_server under load (many idle connections, a few active ones),\n"
		"  profiles it, says where its time goes, then runs epoll_server under the same load and compares.\n"
		"  -d, --duration SEC     seconds each server is measured (default 4)\n"
		"      --idle N           idle connections (default 1000)\n"
		"      --active N         active connections (default 4)\n"
		"      --size BYTES       response body size (default 4096)\n"
		"  -F, --freq HZ          samples per second per CPU (default 997)\n"
		"      --json FILE        also write the numbers as JSON to FILE\n");
}

/* One server's experiment: load numbers and the profile reduced. */
struct run {
	const char *server, *call; /* "select_server", "select()" */
	const char *const *funcs;
	struct cw_demo_loadstats load;
	struct cw_demo_profile_ctx prof;
	struct cw_demo_analysis an;
	bool done;
};

static volatile int stop_sig;

/* The walk as a demo step: attach to the server the rig started, observe it, run the search. */
struct walk_ctx {
	struct cw_walk_real *w;
	struct cw_walk_result res;
	double max_seconds;
	bool ran;
};

static int walk_prepare(void *ctx, pid_t server, char *err, size_t errlen)
{
	struct walk_ctx *c = ctx;
	return cw_walk_real_open(server, NULL, NULL, &stop_sig, &c->w, err, errlen);
}

static int walk_run(void *ctx, double seconds, volatile int *stop, char *err, size_t errlen)
{
	struct walk_ctx *c = ctx;
	const struct cw_walk_env *env = cw_walk_real_env(c->w);
	struct cw_walk_opts o;
	cw_walk_opts_default(&o);
	o.max_seconds = seconds > 1.5 ? seconds - 1 : 0.5;
	if (env->run(env->ctx, 1.0) != 0) {
		snprintf(err, errlen, "the server stopped while being observed");
		return *stop ? -EINTR : -ESRCH;
	}
	cw_walk_run(env, &o, &c->res);
	c->ran = true;
	return *stop ? -EINTR : 0;
}

static int walk_collect(void *ctx, char *err, size_t errlen)
{
	struct walk_ctx *c = ctx;
	/* the server runs on unmodified after this: every trampoline and BPF program is removed here */
	cw_walk_real_close(c->w);
	c->w = NULL;
	return 0;
}

static const struct cw_demo_step walk_step = { walk_prepare, walk_run, walk_collect };

static int run_one(struct run *r, const struct cw_demo_load *base, double seconds, unsigned freq)
{
	struct cw_demo_load load = *base;
	char err[512] = "";
	int ret;

	load.server = r->server;
	r->prof.offcpu = true;
	r->prof.freq_hz = freq;
	ret = cw_demo_experiment(&load, &cw_demo_profile_step, &r->prof, seconds, &stop_sig, &r->load, err, sizeof(err));
	if (ret < 0) {
		if (ret != -EINTR)
			cw_err("demo: %s: %s", r->server, err);
		return ret;
	}
	if (cw_demo_analyze(&r->prof.prof, r->prof.pid, r->funcs, &r->an) < 0) {
		cw_err("demo: %s: the profile holds no sample of the server (pid %d)", r->server, (int)r->prof.pid);
		return -ENODATA;
	}
	r->done = true;
	return 0;
}

/* A kernel function's name without the compiler's clone suffix (do_pselect.constprop.0 -> do_pselect), for
 * sentences; tables keep the full name. */
static const char *plain(const char *name, char *buf, size_t len)
{
	size_t n = strcspn(name, ".");
	snprintf(buf, len, "%.*s", (int)(n < len ? n : len - 1), name);
	return buf;
}

/* The finding's account of the kernel side: the wait path's own functions below the system call's entry
 * (pselect6 -> core_sys_select -> do_select), then the procedures holding the most self time inside it. */
static void write_kernel_side(FILE *f, const struct cw_demo_analysis *a, const char *const *funcs)
{
	char b[128];
	size_t last = 0, k = 0;
	for (size_t i = 0; i < a->npath; i++) /* the innermost path node that is the wait call's own */
		for (const char *const *w = funcs; *w; w++)
			if (!strcmp(plain(a->path[i].name, b, sizeof(b)), *w))
				last = i;
	fprintf(f, "the system call runs");
	for (size_t i = 0; i <= last && i < a->npath; i++) {
		if (!a->path[i].kernel || cw_demo_is_entry_glue(a->path[i].name))
			continue;
		fprintf(f, "%s%s", k++ ? " -> " : " ", plain(a->path[i].name, b, sizeof(b)));
	}
	k = 0;
	for (size_t i = 0; i < a->ntop && k < 5; i++) {
		if (!a->top[i].kernel || a->top[i].pct < 1.0)
			continue;
		fprintf(f, "%s%s %.0f%%", k++ ? ", " : ", where the time goes to ", plain(a->top[i].name, b, sizeof(b)),
			a->top[i].pct);
	}
}
static void print_path(FILE *f, const struct cw_demo_analysis *a)
{
	bool kernel = false;
	fprintf(f, "  hot path:");
	for (size_t i = 0; i < a->npath; i++) {
		if (cw_demo_is_entry_glue(a->path[i].name))
			continue;
		fprintf(f, "%s%s%s", i ? " -> " : " ", a->path[i].kernel && !kernel ? "[kernel] " : "", a->path[i].name);
		kernel = a->path[i].kernel;
	}
	if (a->npath)
		fprintf(f, " (%.0f%%)", a->path[a->npath - 1].pct);
	fprintf(f, "\n  self time inside it:");
	for (size_t i = 0; i < a->ntop && i < 6; i++)
		fprintf(f, "%s %s%s %.1f%%", i ? "," : "", a->top[i].kernel ? "[k] " : "", a->top[i].name, a->top[i].pct);
	fprintf(f, "\n");
}

static double per_s(unsigned long n, const struct cw_demo_loadstats *l)
{
	return l->seconds > 0 ? (double)n / l->seconds : 0;
}

/* The DCPI-style table of the server's procedures, kernel and user together. Its percentages are of the
 * server's own CPU samples: on a shared machine the whole machine's total says more about the neighbours. */
static void print_table(const struct run *r, int max_rows)
{
	struct cw_report_opts ro = { .min_pct = 1.0, .max_rows = max_rows };
	char target[64];
	struct cw_profile p = r->prof.prof;
	snprintf(target, sizeof(target), "%s (pid %d)", r->server, (int)r->prof.pid);
	p.target = target;
	p.total_samples = r->an.samples;
	p.idle_samples = 0;
	printf("Procedures of %s by share of its own CPU time ([k] kernel, [u] user; blocked time beside):\n\n",
	       r->server);
	cw_report_write(&p, CW_FMT_TABLE, &ro, stdout);
}

static double cpu_per_req_us(const struct cw_demo_loadstats *l)
{
	return l->requests ? 1e6 * l->server_cpu_s / (double)l->requests : 0;
}

/* One server's table, numbers and hot path. */
static void print_run(const struct run *r, int max_rows)
{
	print_table(r, max_rows);
	printf("\n%s: %.0f requests/s, %.2f CPUs, %.0f us of server CPU per request, %.0f %s calls/s\n", r->server,
	       r->load.rps, r->load.seconds > 0 ? r->load.server_cpu_s / r->load.seconds : 0.0,
	       cpu_per_req_us(&r->load), per_s(r->load.calls, &r->load), r->call);
	printf("  %.1f%% of its CPU samples are in %s and the kernel code under it\n", r->an.wait_pct, r->call);
	print_path(stdout, &r->an);
}

/* The finding in plain language, computed from both runs (the epoll part only when it ran). */
static void write_finding(FILE *f, const struct run *s, const struct run *e, unsigned idle)
{
	double calls = per_s(s->load.calls, &s->load);
	double ready = s->load.calls ? (double)s->load.ready / (double)s->load.calls : 0;
	double blocked_s = (double)s->an.offcpu_ns / 1e9;

	fprintf(f, "%s%.0f%% of %s's CPU time is in select() and the kernel code it runs: ",
		s->an.wait_pct < 20 ? "Only " : "", s->an.wait_pct, s->server);
	write_kernel_side(f, &s->an, s->funcs);
	fprintf(f, ". It called select() %.0f times a second, and on every call the kernel polled each of its %lu "
		   "connections (%u of them idle) to find %.1f ready on average, so the cost follows the number of open "
		   "connections, not the work done.",
		calls, s->load.connections, idle, ready);
	if (blocked_s < 0.5 * s->load.seconds)
		fprintf(f, " This is CPU time, not waiting: %.0f%% of the server's samples are kernel code and it was "
			   "blocked for only %.1f s of %.1f s.", s->an.kernel_pct, blocked_s, s->load.seconds);
	else
		fprintf(f, " It was also blocked in select() for %.1f s of %.1f s, waiting for events.",
			(double)s->an.offcpu_wait_ns / 1e9, s->load.seconds);
	if (e && e->done) {
		double ratio = s->load.rps > 0 ? e->load.rps / s->load.rps : 0;
		fprintf(f, " Under the same load %s, whose kernel keeps the interest list and hands back only the ready "
			   "descriptors, spent %.0f%% of its CPU in epoll_wait() and served %.0f requests/s against %.0f "
			   "(%.1fx).",
			e->server, e->an.wait_pct, e->load.rps, s->load.rps, ratio);
	}
	fprintf(f, "\n");
}

static void json_run(FILE *f, const struct run *r)
{
	const struct cw_demo_loadstats *l = &r->load;
	const struct cw_demo_analysis *a = &r->an;
	fprintf(f, "\"%s\": {\"rps\": %.1f, \"requests\": %lu, \"errors\": %lu, \"seconds\": %.3f, "
		   "\"p50_us\": %.0f, \"p99_us\": %.0f, \"server_cpu_s\": %.3f, \"calls\": %lu, \"ready\": %lu, "
		   "\"connections\": %lu, \"samples\": %llu, \"wait_samples\": %llu, \"wait_pct\": %.2f, "
		   "\"kernel_pct\": %.2f, \"offcpu_ns\": %llu, \"offcpu_wait_ns\": %llu, \"path\": [",
		r->server, l->rps, l->requests, l->errors, l->seconds, l->p50_us, l->p99_us, l->server_cpu_s, l->calls,
		l->ready, l->connections, (unsigned long long)a->samples, (unsigned long long)a->wait_samples, a->wait_pct,
		a->kernel_pct, (unsigned long long)a->offcpu_ns, (unsigned long long)a->offcpu_wait_ns);
	/* names are symbols (no quotes or backslashes in practice); escape the two anyway */
	for (size_t i = 0; i < a->npath + a->ntop; i++) {
		const struct cw_demo_node *nd = i < a->npath ? &a->path[i] : &a->top[i - a->npath];
		if (i == a->npath)
			fprintf(f, "], \"top\": [");
		fprintf(f, "%s{\"function\": \"", i && i != a->npath ? ", " : "");
		for (const char *c = nd->name; *c; c++)
			fprintf(f, *c == '"' || *c == '\\' ? "\\%c" : (unsigned char)*c < 0x20 ? "?" : "%c", *c);
		fprintf(f, "\", \"space\": \"%s\", \"pct\": %.2f}", nd->kernel ? "kernel" : "user", nd->pct);
	}
	if (!a->ntop)
		fprintf(f, "], \"top\": [");
	fprintf(f, "]}");
}

int cmd_demo(int argc, char **argv)
{
	enum { O_IDLE = 256, O_ACTIVE, O_SIZE, O_JSON };
	static const struct option opts[] = {
		{ "duration", required_argument, 0, 'd' }, { "idle", required_argument, 0, O_IDLE },
		{ "active", required_argument, 0, O_ACTIVE }, { "size", required_argument, 0, O_SIZE },
		{ "freq", required_argument, 0, 'F' },	   { "json", required_argument, 0, O_JSON },
		{ "help", no_argument, 0, 'h' },	   { 0 },
	};
	struct run sel = { .server = "select_server", .call = "select()", .funcs = cw_demo_select_funcs };
	struct run epo = { .server = "epoll_server", .call = "epoll_wait()", .funcs = cw_demo_epoll_funcs };
	struct cw_demo_load load = { .idle = 1000, .active = 4, .resp_bytes = 4096 };
	char dir[PATH_MAX] = "build/examples", *finding = NULL;
	size_t flen = 0;
	const char *jsonpath = NULL;
	double seconds = 4;
	unsigned freq = 997;
	FILE *json = NULL;
	int c, ret = CW_EXIT_USAGE;

	optind = 1;
	while ((c = getopt_long(argc, argv, "+d:F:h", opts, NULL)) != -1) {
		char *end;
		double v = optarg ? strtod(optarg, &end) : 0;
		bool bad = optarg && (*end || !*optarg);
		const char *what = c == 'd' ? "--duration (0.5..60 s)" : c == O_IDLE ? "--idle (0..15000)"
				 : c == O_ACTIVE ? "--active (1..64)" : c == O_SIZE ? "--size (1..65536)"
				 : "--freq (1..10000 Hz)";
		switch (c) {
		case 'd':
			if (bad || v < 0.5 || v > 60)
				goto badarg;
			seconds = v;
			break;
		case O_IDLE:
			if (bad || v < 0 || v > 15000 || v != (unsigned)v)
				goto badarg;
			load.idle = (unsigned)v;
			break;
		case O_ACTIVE:
			if (bad || v < 1 || v > 64 || v != (unsigned)v)
				goto badarg;
			load.active = (unsigned)v;
			break;
		case O_SIZE:
			if (bad || v < 1 || v > 65536 || v != (unsigned)v)
				goto badarg;
			load.resp_bytes = (unsigned)v;
			break;
		case 'F':
			if (bad || v < 1 || v > 10000 || v != (unsigned)v)
				goto badarg;
			freq = (unsigned)v;
			break;
		case O_JSON: jsonpath = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return CW_EXIT_USAGE;
		}
		continue;
	badarg:
		cw_err("demo: invalid value '%s' for %s", optarg, what);
		return CW_EXIT_USAGE;
	}
	if (optind < argc) {
		cw_err("demo: unexpected argument '%s'", argv[optind]);
		return CW_EXIT_USAGE;
	}
	if (cw_demo_locate(dir, sizeof(dir)) < 0) {
		cw_err("demo: the example programs are missing from %s (run 'make' in the source tree first)", dir);
		return CW_EXIT_USAGE;
	}
	if (geteuid() != 0) {
		cw_err("demo: needs root (the profiler uses BPF and perf events)");
		return CW_EXIT_USAGE;
	}
	if (jsonpath && !(json = fopen(jsonpath, "w"))) {
		cw_err("cannot write output file '%s': %s", jsonpath, strerror(errno));
		return CW_EXIT_USAGE;
	}
	load.dir = dir;
	cw_catch_signals(&stop_sig);
	setvbuf(stdout, NULL, _IOLBF, 0);

	uint64_t t0 = cw_now_ns();
	printf("crosswalk demo: a select() event loop with %u idle and %u active connections, like the proxy whose\n"
	       "DCPI profile showed select() dominating (Banga & Mogul, USENIX 1998), then the same server built on\n"
	       "epoll under the same load. Each is measured for %.1f s.\n\n",
	       load.idle, load.active, seconds);
	printf("[1/3] %s under load: profiling it (on-CPU and off-CPU) ...\n\n", sel.server);
	if ((ret = run_one(&sel, &load, seconds, freq)) < 0)
		goto out;
	print_run(&sel, 14);

	printf("\n[2/3] the walk: %s again under the same load, searched from main down the call graph and\n"
	       "      into the kernel with instrumentation inserted and removed as it goes ...\n\n", sel.server);
	{
		struct walk_ctx wc = { 0 };
		struct cw_demo_loadstats wst;
		struct cw_demo_load wl = load;
		char err[512] = "";
		wl.server = sel.server;
		ret = cw_demo_experiment(&wl, &walk_step, &wc, seconds * 3 > 20 ? seconds * 3 : 20, &stop_sig, &wst, err, sizeof(err));
		cw_walk_real_close(wc.w);
		if (ret == -EINTR) {
			cw_walk_result_free(&wc.res);
			goto out;
		}
		if (ret < 0 || !wc.ran) {
			cw_warn("demo: the walk did not run: %s", err[0] ? err : strerror(-ret));
		} else {
			for (size_t i = 0; i < wc.res.nverdicts; i++) {
				char sentence[1024];
				cw_walk_sentence(wc.res.verdicts[i], sentence, sizeof(sentence));
				printf("  Bottleneck %zu: %s\n", i + 1, sentence);
			}
			if (!wc.res.nverdicts)
				printf("  No verdict: %s\n", wc.res.note);
			printf("  (%d experiments in %.1f s, largest perturbation of the server %.2f%%; it served %.0f requests/s "
			       "meanwhile; 'crosswalk walk -p PID' prints the whole tree)\n",
			       wc.res.experiments, wc.res.seconds, wc.res.overhead_pct, wst.rps);
		}
		cw_walk_result_free(&wc.res);
		ret = 0;
	}

	printf("\n[3/3] %s under the same load ...\n\n", epo.server);
	if ((ret = run_one(&epo, &load, seconds, freq)) < 0)
		goto out;
	print_run(&epo, 8);

	printf("\n%-34s %15s %15s\n", "", sel.server, epo.server);
	printf("%-34s %15.0f %15.0f\n", "requests/s", sel.load.rps, epo.load.rps);
	printf("%-34s %14.1f%% %14.1f%%\n", "event-wait path share of CPU", sel.an.wait_pct, epo.an.wait_pct);
	printf("%-34s %15.0f %15.0f\n", "server CPU per request (us)", cpu_per_req_us(&sel.load),
	       cpu_per_req_us(&epo.load));
	printf("%-34s %15.0f %15.0f\n", "wait calls per second", per_s(sel.load.calls, &sel.load),
	       per_s(epo.load.calls, &epo.load));
	printf("%-34s %15.1f %15.1f\n", "ready descriptors per call",
	       sel.load.calls ? (double)sel.load.ready / (double)sel.load.calls : 0.0,
	       epo.load.calls ? (double)epo.load.ready / (double)epo.load.calls : 0.0);
	printf("%-34s %15.0f %15.0f\n", "latency p50 (us)", sel.load.p50_us, epo.load.p50_us);
	printf("%-34s %15.0f %15.0f\n", "latency p99 (us)", sel.load.p99_us, epo.load.p99_us);
	printf("%-34s %15lu %15lu\n", "response errors", sel.load.errors, epo.load.errors);
	printf("(event-wait path: %s / %s, the libc call and the kernel functions under it)\n\n", sel.call, epo.call);
	FILE *m = open_memstream(&finding, &flen);
	if (!m) {
		cw_err("demo: %s", strerror(errno));
		ret = -errno;
		goto out;
	}
	write_finding(m, &sel, &epo, load.idle);
	fclose(m);
	printf("Finding: %s", finding);
	printf("\n(demo took %.1f s; all it started is stopped)\n", (double)(cw_now_ns() - t0) / 1e9);
	if (sel.load.errors || epo.load.errors)
		cw_warn("demo: the load generator saw %lu wrong or failed responses", sel.load.errors + epo.load.errors);

	if (json) {
		fprintf(json, "{\"idle\": %u, \"active\": %u, \"resp_bytes\": %u, \"seconds\": %.1f, ", load.idle,
			load.active, load.resp_bytes, seconds);
		json_run(json, &sel);
		fprintf(json, ", ");
		json_run(json, &epo);
		fprintf(json, ", \"finding\": \"");
		for (const char *p = finding; *p; p++)
			if (*p == '"' || *p == '\\')
				fprintf(json, "\\%c", *p);
			else if ((unsigned char)*p >= 0x20)
				fputc(*p, json);
		fprintf(json, "\"}\n");
		if (fflush(json) != 0) {
			cw_err("writing '%s' failed: %s", jsonpath, strerror(errno));
			ret = 1;
			goto out;
		}
	}
	ret = 0;
out:
	if (ret == -EINTR || stop_sig) {
		cw_err("demo: interrupted; everything it started is stopped");
		ret = 130;
	} else if (ret == -ENOTSUP || ret == -EPERM || ret == -EACCES) {
		ret = CW_EXIT_USAGE; /* the kernel lacks what profiling needs */
	} else if (ret < 0) {
		ret = 1;
	}
	cw_demo_profile_fini(&sel.prof);
	cw_demo_profile_fini(&epo.prof);
	if (json)
		fclose(json);
	free(finding);
	return ret;
}
