/* `crosswalk profile`: a mixed user+kernel sampling profile per procedure, on-CPU and off-CPU. */
#include "cli/cli.h"
#include "cli/target.h"
#include "profile/profiler.h"
#include "report/profile.h"

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
		"usage: crosswalk profile [-a | -p PID[,PID...] | -- CMD [ARGS...]] [options]\n"
		"  -a, --all              profile the whole system (idle included)\n"
		"  -p, --pid PIDS         profile these processes (all threads, and children they fork)\n"
		"  -d, --duration SEC     stop after SEC seconds (default: until the command exits or Ctrl-C)\n"
		"  -F, --freq HZ          samples per second per CPU (default 997)\n"
		"      --off-cpu          also measure blocked time, charged to the stack where threads block\n"
		"  -f, --format FMT       table (default), folded, svg, pprof, json\n"
		"  -o, --output FILE      write the report to FILE (default: standard output)\n"
		"      --min-pct PCT      table: omit procedures below PCT%% (default 1)\n"
		"      --no-children      do not follow children forked after start\n"
		"      --stats            print unwinding statistics on stderr\n");
}

static volatile int stop_sig;

int cmd_profile(int argc, char **argv)
{
	enum { O_OFFCPU = 256, O_MINPCT, O_NOCHILD, O_STATS };
	static const struct option opts[] = {
		{ "all", no_argument, 0, 'a' },		{ "pid", required_argument, 0, 'p' },
		{ "duration", required_argument, 0, 'd' }, { "freq", required_argument, 0, 'F' },
		{ "off-cpu", no_argument, 0, O_OFFCPU }, { "format", required_argument, 0, 'f' },
		{ "output", required_argument, 0, 'o' }, { "min-pct", required_argument, 0, O_MINPCT },
		{ "no-children", no_argument, 0, O_NOCHILD }, { "stats", no_argument, 0, O_STATS },
		{ "help", no_argument, 0, 'h' },	{ 0 },
	};
	struct cw_profiler_opts po = { .freq_hz = 997, .follow_children = true };
	struct cw_report_opts ro = { .min_pct = 1.0 };
	struct cw_profiler *prof = NULL;
	struct cw_profile data = { 0 };
	struct cw_launch launch = { .pid = -1 };
	const char *outpath = NULL, *pidstr = NULL;
	int fmt = CW_FMT_TABLE, c, ret = CW_EXIT_USAGE, stats = 0;
	double duration = 0;
	pid_t *pids = NULL;
	size_t npids = 0;
	FILE *out = stdout;
	char err[256], target[256] = "";
	char *end;

	optind = 1;
	while ((c = getopt_long(argc, argv, "+ap:d:F:f:o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'a': po.system_wide = true; break;
		case 'p': pidstr = optarg; break;
		case 'd':
			duration = strtod(optarg, &end);
			if (*end || duration <= 0) {
				cw_err("invalid duration '%s' (seconds > 0)", optarg);
				return CW_EXIT_USAGE;
			}
			break;
		case 'F': {
			long f = strtol(optarg, &end, 10);
			if (*end || f < 1 || f > 100000) {
				cw_err("invalid frequency '%s' (1..100000 Hz)", optarg);
				return CW_EXIT_USAGE;
			}
			po.freq_hz = (unsigned)f;
			break;
		}
		case 'f':
			fmt = cw_report_format_parse(optarg);
			if (fmt < 0) {
				cw_err("unknown format '%s' (table, folded, svg, pprof, json)", optarg);
				return CW_EXIT_USAGE;
			}
			break;
		case 'o': outpath = optarg; break;
		case O_OFFCPU: po.offcpu = true; break;
		case O_MINPCT:
			ro.min_pct = strtod(optarg, &end);
			if (*end || ro.min_pct < 0 || ro.min_pct > 100) {
				cw_err("invalid --min-pct '%s' (0..100)", optarg);
				return CW_EXIT_USAGE;
			}
			break;
		case O_NOCHILD: po.follow_children = false; break;
		case O_STATS: stats = 1; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return CW_EXIT_USAGE;
		}
	}
	char **cmd = optind < argc ? argv + optind : NULL;
	if (!!po.system_wide + !!pidstr + !!cmd != 1) {
		cw_err("profile: give exactly one target: -a, -p PID, or -- CMD (see 'crosswalk profile --help')");
		return CW_EXIT_USAGE;
	}
	if (pidstr && cw_parse_pids(pidstr, &pids, &npids) < 0)
		return CW_EXIT_USAGE;
	if (geteuid() != 0) {
		cw_err("profile: needs root (BPF and system-wide perf events)");
		goto out;
	}
	/* fail on an unwritable output before profiling anything */
	if (outpath && !(out = fopen(outpath, "w"))) {
		cw_err("cannot write output file '%s': %s", outpath, strerror(errno));
		out = NULL;
		goto out;
	}
	if (!outpath && isatty(1) && (fmt == CW_FMT_PPROF)) {
		cw_err("profile: the pprof format is binary: give -o FILE");
		goto out;
	}
	cw_catch_signals(&stop_sig);
	if (cw_profiler_open(&po, &prof, err, sizeof(err)) < 0) {
		cw_err("%s", err);
		goto out;
	}
	if (cmd) {
		if (cw_launch_prepare(&launch, cmd) < 0) {
			cw_err("cannot start '%s': %s", cmd[0], strerror(errno));
			goto out;
		}
		cw_profiler_add_pid(prof, launch.pid, true);
		char exe[4096];
		if (cw_find_program(cmd[0], exe, sizeof(exe)) == 0)
			cw_profiler_preload_exe(prof, exe);
		size_t len = 0;
		for (char **a = cmd; *a && len < sizeof(target) - 2; a++)
			len += snprintf(target + len, sizeof(target) - len, "%s%s", a == cmd ? "" : " ", *a);
	} else if (pids) {
		size_t len = snprintf(target, sizeof(target), "pid");
		for (size_t i = 0; i < npids; i++) {
			if (cw_profiler_add_pid(prof, pids[i], false) < 0) {
				cw_err("cannot add PID %d: %s", (int)pids[i], strerror(errno));
				goto out;
			}
			if (len < sizeof(target))
				len += snprintf(target + len, sizeof(target) - len, "%s%d", i ? "," : " ", (int)pids[i]);
		}
	} else {
		snprintf(target, sizeof(target), "system");
	}
	if (cw_profiler_start(prof, err, sizeof(err)) < 0) {
		cw_err("%s", err);
		goto out;
	}
	if (cmd && cw_launch_go(&launch, cmd[0]) < 0)
		goto out;
	if (!cmd)
		fprintf(stderr, "crosswalk: profiling %s%s\n", target,
			duration > 0 ? "" : pids ? " until it exits or Ctrl-C" : " until Ctrl-C");

	uint64_t deadline = duration > 0 ? cw_now_ns() + (uint64_t)(duration * 1e9) : 0;
	while (!stop_sig) {
		cw_profiler_poll(prof, 50);
		if (deadline && cw_now_ns() >= deadline)
			break;
		if (cmd && cw_launch_poll(&launch))
			break;
		if (pids) {
			size_t alive = 0;
			for (size_t i = 0; i < npids; i++)
				alive += kill(pids[i], 0) == 0 || errno != ESRCH;
			if (!alive)
				break;
		}
	}
	cw_profiler_stop(prof);
	if (stop_sig)
		fprintf(stderr, "crosswalk: interrupted, writing the report\n");
	if (cw_profiler_collect(prof, &data) < 0) {
		cw_err("collecting the profile failed");
		goto out;
	}
	data.target = target;
	if (stats) {
		unsigned long long n, ok;
		cw_profiler_unwind_stats(prof, &n, &ok);
		fprintf(stderr, "crosswalk: %llu target samples, %llu user stacks unwound to the outermost frame (%.1f%%)\n",
			n, ok, n ? 100.0 * ok / n : 0.0);
	}
	if (cw_report_write(&data, fmt, &ro, out) < 0 || fflush(out) != 0) {
		cw_err("writing the report to '%s' failed: %s", outpath ? outpath : "stdout", strerror(errno));
		goto out;
	}
	ret = 0;
out:
	cw_launch_kill(&launch);
	cw_profile_free(&data);
	cw_profiler_close(prof);
	if (out && out != stdout)
		fclose(out);
	free(pids);
	return ret;
}
