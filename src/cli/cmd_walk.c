/* `crosswalk walk`: the automated search from main down the call graph, across system calls and page
 * faults into the kernel, to the functions that hold the time. */
#include "cli/cli.h"
#include "cli/target.h"
#include "walk/env_real.h"
#include "walk/walk.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *f)
{
	fprintf(f,
		"usage: crosswalk walk (-p PID | -- CMD [ARGS...]) [options]\n"
		"  -p, --pid PID          attach to a running process (it keeps running, unmodified, afterwards)\n"
		"      --threshold PCT    refine functions holding at least PCT%% of the time (default 20)\n"
		"      --budget PCT       keep the target's slowdown under PCT%% (default 5)\n"
		"  -d, --duration SEC     give the search at most SEC seconds (default 60)\n"
		"      --interval SEC     length of one experiment (default 0.5)\n"
		"      --warmup SEC       observe the program this long before the first experiment (default 1)\n"
		"      --kernel-backend B tracepoint, sampling, fentry or kprobe (default: the best available)\n"
		"      --json FILE        also write the result as JSON\n");
}

static volatile int stop_sig;

static int parse_pct(const char *s, const char *what, double *out)
{
	char *end;
	double v = strtod(s, &end);
	if (*end || v <= 0 || v >= 100) {
		cw_err("invalid %s '%s' (a percentage between 0 and 100)", what, s);
		return -1;
	}
	*out = v / 100;
	return 0;
}

static int parse_secs(const char *s, const char *what, double *out)
{
	char *end;
	double v = strtod(s, &end);
	if (*end || v <= 0) {
		cw_err("invalid %s '%s' (seconds > 0)", what, s);
		return -1;
	}
	*out = v;
	return 0;
}

int cmd_walk(int argc, char **argv)
{
	enum { O_THR = 256, O_BUDGET, O_INTERVAL, O_WARMUP, O_KB, O_JSON };
	static const struct option opts[] = {
		{ "pid", required_argument, 0, 'p' },	     { "threshold", required_argument, 0, O_THR },
		{ "budget", required_argument, 0, O_BUDGET }, { "duration", required_argument, 0, 'd' },
		{ "interval", required_argument, 0, O_INTERVAL }, { "warmup", required_argument, 0, O_WARMUP },
		{ "kernel-backend", required_argument, 0, O_KB }, { "json", required_argument, 0, O_JSON },
		{ "help", no_argument, 0, 'h' },	     { 0 },
	};
	struct cw_walk_opts o;
	struct cw_walk_result res = { 0 };
	struct cw_walk_real *w = NULL;
	const char *kb = NULL, *json = NULL;
	double warmup = 1.0;
	pid_t pid = 0;
	FILE *jf = NULL;
	char err[512];
	int c, ret = CW_EXIT_USAGE;

	cw_walk_opts_default(&o);
	optind = 1;
	while ((c = getopt_long(argc, argv, "+p:d:h", opts, NULL)) != -1) {
		switch (c) {
		case 'p': {
			pid_t *pids;
			size_t n;
			if (cw_parse_pids(optarg, &pids, &n) < 0)
				return CW_EXIT_USAGE;
			if (n != 1) {
				cw_err("walk: give one PID");
				free(pids);
				return CW_EXIT_USAGE;
			}
			pid = pids[0];
			free(pids);
			break;
		}
		case O_THR: if (parse_pct(optarg, "threshold", &o.threshold)) return CW_EXIT_USAGE; break;
		case O_BUDGET: if (parse_pct(optarg, "budget", &o.budget)) return CW_EXIT_USAGE; break;
		case 'd': if (parse_secs(optarg, "duration", &o.max_seconds)) return CW_EXIT_USAGE; break;
		case O_INTERVAL: if (parse_secs(optarg, "interval", &o.interval)) return CW_EXIT_USAGE; break;
		case O_WARMUP: if (parse_secs(optarg, "warmup", &warmup)) return CW_EXIT_USAGE; break;
		case O_KB:
			if (strcmp(optarg, "tracepoint") && strcmp(optarg, "sampling") && strcmp(optarg, "fentry") &&
			    strcmp(optarg, "kprobe")) {
				cw_err("unknown kernel backend '%s' (tracepoint, sampling, fentry, kprobe)", optarg);
				return CW_EXIT_USAGE;
			}
			kb = optarg;
			break;
		case O_JSON: json = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return CW_EXIT_USAGE;
		}
	}
	char **cmd = optind < argc ? argv + optind : NULL;
	if (!!pid + !!cmd != 1) {
		cw_err("walk: give exactly one target: -p PID or -- CMD (see 'crosswalk walk --help')");
		return CW_EXIT_USAGE;
	}
	if (geteuid() != 0) {
		cw_err("walk: needs root (BPF, ptrace)");
		return CW_EXIT_USAGE;
	}
	if (json && !(jf = fopen(json, "w"))) {
		cw_err("cannot write output file '%s': %s", json, strerror(errno));
		return CW_EXIT_USAGE;
	}
	cw_catch_signals(&stop_sig);
	if (cw_walk_real_open(pid, cmd, kb, &stop_sig, &w, err, sizeof(err)) < 0) {
		cw_err("%s", err);
		goto out;
	}
	fprintf(stderr, "crosswalk: walking pid %d (kernel backend: %s); observing it for %.1f s first\n",
		(int)cw_walk_real_pid(w), cw_walk_real_backend(w), warmup);
	const struct cw_walk_env *env = cw_walk_real_env(w);
	int rr = env->run(env->ctx, warmup);
	if (rr == 1) {
		printf("The program exited during the first %.1f s, too soon to search: give it more work or a longer run.\n",
		       warmup);
		ret = 0;
		goto out;
	}
	if (rr < 0 && stop_sig)
		goto interrupted;
	/* a server whose forked workers do the work (a prefork server's master sits in wait or accept): walk
	 * the busiest worker instead, when attaching; a launched program's workers were forked before any
	 * hypothesis was instrumented, so there it is said instead */
	pid_t other = 0;
	double other_cpu = 0, own_cpu = 0;
	bool busy_other = cw_walk_real_busiest_other(w, &other, &other_cpu, &own_cpu) == 1 && other_cpu >= 0.05 &&
			  other_cpu > 2 * own_cpu;
	if (busy_other && pid) {
		fprintf(stderr, "crosswalk: pid %d used %.0f%% of a CPU, its process %d %.0f%%: walking %d instead\n",
			(int)pid, own_cpu * 100, (int)other, other_cpu * 100, (int)other);
		cw_walk_real_close(w);
		w = NULL;
		if (cw_walk_real_open(other, NULL, kb, &stop_sig, &w, err, sizeof(err)) < 0) {
			cw_err("%s", err);
			goto out;
		}
		env = cw_walk_real_env(w);
		rr = env->run(env->ctx, warmup);
		if (rr == 1) {
			printf("Process %d exited during the first %.1f s: nothing to search.\n", (int)other, warmup);
			ret = 0;
			goto out;
		}
		if (rr < 0 && stop_sig)
			goto interrupted;
		busy_other = false;
	}
	cw_walk_run(env, &o, &res);
	size_t nl = strlen(res.note);
	if (busy_other)
		snprintf(res.note + nl, sizeof(res.note) - nl,
			 "%sprocess %d (forked by the program) used %.0f%% of a CPU against %.0f%% for the walked one, "
			 "and only the walked one is searched: walk it with 'crosswalk walk -p %d'",
			 nl ? "; " : "", (int)other, other_cpu * 100, own_cpu * 100, (int)other);
	if (stop_sig) {
interrupted:
		fprintf(stderr, "crosswalk: interrupted; instrumentation removed\n");
	}
	printf("crosswalk walk of pid %d\n", (int)cw_walk_real_pid(w));
	cw_walk_print(&res, stdout);
	if (jf && cw_walk_json(&res, jf) < 0) {
		cw_err("writing '%s' failed", json);
		goto out;
	}
	ret = 0;
out:
	cw_walk_real_close(w);
	cw_walk_result_free(&res);
	if (jf)
		fclose(jf);
	return ret;
}
