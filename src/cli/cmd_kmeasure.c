/* `crosswalk kmeasure`: time syscalls, page faults and kernel functions for a process and its children,
 * through the kernel measurement source (src/kernel/kmeasure.h); a table, call trees, JSON. */
#include "cli/cli.h"
#include "cli/target.h"
#include "kernel/kmeasure.h"
#include "kernel/kstatic.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile int stop_sig;

static void usage(FILE *f)
{
	fprintf(f, "usage: crosswalk kmeasure -f NAME[,NAME...] (-p PID | -- CMD [ARGS...]) [-d SECONDS]\n"
		   "                          [--kernel-backend tracepoint|sampling|fentry|kprobe] [--callees]\n"
		   "                          [--per-thread] [--open] [--static-callees] [--min-pct PCT] [--json FILE]\n"
		   "                          [--check-removed]\n"
		   "       crosswalk kmeasure --list-progs\n"
		   "NAME: sys:SYSCALL (sys:read), k:KERNEL_FUNCTION (k:pipe_read), fault, fault:user, fault:kernel\n");
}

/* PATH lookup done before fork, so that the child makes exactly one execve (counts must match strace's). */
static char *resolve(const char *cmd)
{
	char buf[PATH_MAX];
	return cw_find_program(cmd, buf, sizeof(buf)) == 0 ? cw_strdup(buf) : NULL;
}

/* Waits (up to 2 s) until the launched child sleeps in its read() of the go pipe: its read must have entered
 * the kernel before kernel functions are instrumented (a pipe_read timer would count it otherwise). */
static void wait_blocked_in_read(pid_t child)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/syscall", child);
	for (int i = 0; i < 400; i++) {
		char *s = cw_read_file(path, NULL);
		bool in_read = s && !strncmp(s, "0 ", 2);
		free(s);
		if (in_read)
			return;
		struct timespec ts = { 0, 5 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
}

static void fmt_ns(char *buf, size_t n, double ns)
{
	if (ns < 1e3)
		snprintf(buf, n, "%.0fns", ns);
	else if (ns < 1e6)
		snprintf(buf, n, "%.1fus", ns / 1e3);
	else if (ns < 1e9)
		snprintf(buf, n, "%.2fms", ns / 1e6);
	else
		snprintf(buf, n, "%.3fs", ns / 1e9);
}

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++)
		if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			fprintf(f, "\\u%04x", *s);
		else
			fputc(*s, f);
	fputc('"', f);
}

int cmd_kmeasure(int argc, char **argv)
{
	const char *funcs = NULL, *backend = NULL, *json = NULL;
	double dur = 0, min_pct = 1.0;
	pid_t pid = 0, child = 0;
	int callees = 0, list = 0, per_thread = 0, check = 0, open_calls = 0, static_callees = 0, c, ret = CW_EXIT_USAGE, go[2] = { -1, -1 }, ef[2] = { -1, -1 };
	struct cw_msource *src = NULL;
	struct cw_mpoint **pts = NULL;
	char **names = NULL, *path = NULL, err[512] = "";
	size_t npts = 0;
	FILE *jf = NULL;
	static const struct option opts[] = {
		{ "functions", required_argument, 0, 'f' }, { "pid", required_argument, 0, 'p' },
		{ "duration", required_argument, 0, 'd' }, { "kernel-backend", required_argument, 0, 'b' },
		{ "json", required_argument, 0, 'j' },	   { "callees", no_argument, 0, 'c' },
		{ "min-pct", required_argument, 0, 'm' }, { "list-progs", no_argument, 0, 'l' },
		{ "per-thread", no_argument, 0, 't' }, { "check-removed", no_argument, 0, 'r' },
		{ "open", no_argument, 0, 'o' }, { "static-callees", no_argument, 0, 's' },
		{ "help", no_argument, 0, 'h' },	   { 0 } };

	while ((c = getopt_long(argc, argv, "+f:p:d:b:j:chm:", opts, NULL)) != -1) {
		switch (c) {
		case 'f': funcs = optarg; break;
		case 'p': pid = atoi(optarg); if (pid <= 0) { cw_err("kmeasure: bad pid '%s'", optarg); return ret; } break;
		case 'd': dur = atof(optarg); if (dur <= 0) { cw_err("kmeasure: bad duration '%s'", optarg); return ret; } break;
		case 'b': backend = optarg; break;
		case 'j': json = optarg; break;
		case 'c': callees = 1; break;
		case 'm': min_pct = atof(optarg); break;
		case 'l': list = 1; break;
		case 't': per_thread = 1; break;
		case 'r': check = 1; break;
		case 'o': open_calls = 1; break;
		case 's': static_callees = 1; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return ret;
		}
	}
	if (list) {
		int n = cw_kprogs_loaded();
		if (n < 0) {
			cw_err("kmeasure: listing BPF programs: %s", strerror(-n));
			return ret;
		}
		printf("%d crosswalk BPF programs loaded\n", n);
		return 0;
	}
	if (!funcs) {
		cw_err("kmeasure: no functions given (-f sys:read,k:pipe_read,...)");
		usage(stderr);
		return ret;
	}
	if (!pid == !(optind < argc)) {
		cw_err("kmeasure: give either -p PID or -- CMD ARGS");
		return ret;
	}
	if (pid && kill(pid, 0) < 0 && errno == ESRCH) {
		cw_err("kmeasure: no process %d", pid);
		return ret;
	}
	if (json && !(jf = fopen(json, "we"))) {
		cw_err("kmeasure: cannot write %s: %s", json, strerror(errno));
		return ret;
	}

	if (!pid) {
		if (!(path = resolve(argv[optind]))) {
			cw_err("kmeasure: command not found: %s", argv[optind]);
			goto out;
		}
		if (pipe2(go, O_CLOEXEC) || pipe2(ef, O_CLOEXEC)) {
			cw_err("kmeasure: pipe: %s", strerror(errno));
			goto out;
		}
		child = fork();
		if (child < 0) {
			cw_err("kmeasure: fork: %s", strerror(errno));
			goto out;
		}
		if (child == 0) {
			/* wait until the kernel side watches us, then exec: between the two, no other syscall */
			char b;
			if (read(go[0], &b, 1) != 1)
				_exit(127);
			execv(path, argv + optind);
			int e = errno;
			if (write(ef[1], &e, sizeof(e)) < 0)
				_exit(127);
			_exit(127);
		}
		close(go[0]);
		close(ef[1]);
		go[0] = ef[1] = -1;
		pid = child;
		wait_blocked_in_read(child);
	}

	src = cw_ksource_open(pid, backend, err, sizeof(err));
	if (!src) {
		cw_err("kmeasure: %s", err);
		goto out;
	}
	if (per_thread)
		cw_ksource_set_per_thread(src, true);
	if (open_calls)
		cw_ksource_include_open(src, true);
	if (!child)
		cw_ksource_seed_running(src); /* attached: calls already in progress count from now */
	/* from here every exit path goes through close(): signals only set a flag */
	cw_catch_signals(&stop_sig);

	char *flist = cw_strdup(funcs), *save = NULL;
	for (char *tok = strtok_r(flist, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		struct cw_mpoint *p = src->ops->insert(src, tok, err, sizeof(err));
		if (!p) {
			cw_err("kmeasure: %s", err);
			free(flist);
			goto out;
		}
		pts = cw_realloc(pts, (npts + 1) * sizeof(*pts));
		names = cw_realloc(names, (npts + 1) * sizeof(*names));
		pts[npts] = p;
		names[npts++] = cw_strdup(tok);
	}
	free(flist);

	uint64_t t0 = cw_now_ns();
	if (child) {
		int e = 0;
		if (write(go[1], "g", 1) != 1) {
			cw_err("kmeasure: starting %s: %s", path, strerror(errno));
			goto out;
		}
		close(go[1]);
		go[1] = -1;
		if (read(ef[0], &e, sizeof(e)) == sizeof(e)) {
			cw_err("kmeasure: cannot run %s: %s", path, strerror(e));
			waitpid(child, NULL, 0);
			child = 0;
			goto out;
		}
	}
	while (!stop_sig) {
		if (dur > 0 && cw_now_ns() - t0 >= (uint64_t)(dur * 1e9))
			break;
		if (child) {
			int st;
			if (waitpid(child, &st, WNOHANG) == child) {
				child = 0;
				break;
			}
		} else if (kill(pid, 0) < 0 && errno == ESRCH) {
			break;
		}
		struct timespec ts = { 0, 10 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	double wall = (cw_now_ns() - t0) / 1e9;

	printf("crosswalk kmeasure: pid %d, %.3f s, kernel backend %s%s\n", src->pid, wall, src->ops->name,
	       stop_sig ? " (interrupted)" : "");
	printf("%-24s %-10s %10s %10s %10s %10s %10s %10s\n", "function", "backend", "calls", "total", "mean",
	       "on-CPU", "blocked", "runq");
	if (jf)
		fprintf(jf, "{\"pid\": %d, \"seconds\": %.6f, \"backend\": \"%s\", \"functions\": [", src->pid, wall,
			src->ops->name);
	for (size_t i = 0; i < npts; i++) {
		struct cw_kresult r;
		char tot[32], mean[32], on[32], bl[32], rq[32], calls[32];
		cw_ksource_read(src, pts[i], &r);
		fmt_ns(tot, sizeof(tot), r.r.incl_ns);
		if (r.calls_exact) {
			snprintf(calls, sizeof(calls), "%llu", (unsigned long long)r.r.calls);
			fmt_ns(mean, sizeof(mean), r.completed ? (double)r.r.incl_ns / r.completed : 0);
		} else {
			snprintf(calls, sizeof(calls), "?");
			snprintf(mean, sizeof(mean), "?");
		}
		fmt_ns(on, sizeof(on), r.r.oncpu_ns);
		fmt_ns(bl, sizeof(bl), r.r.blocked_ns);
		fmt_ns(rq, sizeof(rq), r.runq_ns);
		if (!r.time_exact) {
			snprintf(tot + strlen(tot), sizeof(tot) - strlen(tot), "~");
			snprintf(on + strlen(on), sizeof(on) - strlen(on), "~");
		}
		printf("%-24s %-10s %10s %10s %10s %10s %10s %10s\n", names[i], r.method, calls, tot, mean, on, bl, rq);
		if (jf) {
			fprintf(jf, "%s\n  {\"function\": ", i ? "," : "");
			json_str(jf, names[i]);
			fprintf(jf,
				", \"backend\": \"%s\", \"calls\": %llu, \"calls_exact\": %s, \"completed\": %llu, "
				"\"total_ns\": %llu, \"mean_ns\": %.1f, \"oncpu_ns\": %llu, \"blocked_ns\": %llu, "
				"\"runq_ns\": %llu, \"time_exact\": %s, \"samples\": %llu, \"ci95_ns\": %llu",
				r.method, (unsigned long long)r.r.calls, r.calls_exact ? "true" : "false",
				(unsigned long long)r.completed, (unsigned long long)r.r.incl_ns,
				r.completed ? (double)r.r.incl_ns / r.completed : 0.0, (unsigned long long)r.r.oncpu_ns,
				(unsigned long long)r.r.blocked_ns, (unsigned long long)r.runq_ns,
				r.time_exact ? "true" : "false",
				(unsigned long long)r.samples, (unsigned long long)r.ci95_ns);
		}
		if (static_callees && !strncmp(names[i], "k:", 2)) {
			struct cw_kcallsite *sv = NULL;
			size_t sn = 0, nind = 0;
			int e = cw_ksource_static_callees(src, pts[i], &sv, &sn);
			if (e == -ENOTSUP)
				printf("    static callees: unknown (/proc/kcore cannot be read here; --callees shows sampled ones)\n");
			else if (e)
				printf("    static callees: %s\n", strerror(-e));
			else {
				printf("    static callees:");
				for (size_t j = 0; j < sn; j++) {
					if (sv[j].indirect) {
						nind++;
						continue;
					}
					bool dup = false;
					for (size_t q = 0; q < j; q++)
						dup |= sv[q].callee && sv[j].callee && !strcmp(sv[q].callee, sv[j].callee);
					if (!dup)
						printf(" %s%s", sv[j].callee ? sv[j].callee : "?", sv[j].tail ? "(tail)" : "");
				}
				printf("%s%zu indirect call sites\n", sn ? "; " : " ", nind);
			}
			if (jf) {
				fprintf(jf, ", \"static_callees\": [");
				for (size_t j = 0; j < sn; j++) {
					fprintf(jf, "%s{\"addr\": %llu, \"callee\": ", j ? ", " : "",
						(unsigned long long)sv[j].addr);
					if (sv[j].callee)
						json_str(jf, sv[j].callee);
					else
						fprintf(jf, "null");
					fprintf(jf, ", \"indirect\": %s, \"tail\": %s}", sv[j].indirect ? "true" : "false",
						sv[j].tail ? "true" : "false");
				}
				fprintf(jf, "]");
			}
			free(sv);
		}
		if (per_thread) {
			struct cw_kthread_result *tv = NULL;
			size_t tn = 0;
			int e = cw_ksource_read_threads(src, pts[i], &tv, &tn);
			if (e == -ENOTSUP)
				printf("    (no per-thread split for %s with the %s backend)\n", names[i], r.method);
			if (jf)
				fprintf(jf, ", \"threads\": [");
			for (size_t j = 0; j < tn; j++) {
				char t1[32], t2[32], t3[32], t4[32], t5[32], tid[32];
				fmt_ns(t1, sizeof(t1), tv[j].incl_ns);
				fmt_ns(t2, sizeof(t2), tv[j].calls ? (double)tv[j].incl_ns / tv[j].calls : 0);
				fmt_ns(t3, sizeof(t3), tv[j].oncpu_ns);
				fmt_ns(t4, sizeof(t4), tv[j].blocked_ns);
				fmt_ns(t5, sizeof(t5), tv[j].runq_ns);
				snprintf(tid, sizeof(tid), "tid %d", tv[j].tid);
				printf("    %-20s %-10s %10llu %10s %10s %10s %10s %10s\n", tid, "", (unsigned long long)tv[j].calls,
				       t1, t2, t3, t4, t5);
				if (jf)
					fprintf(jf,
						"%s{\"tid\": %d, \"calls\": %llu, \"total_ns\": %llu, \"oncpu_ns\": %llu, "
						"\"blocked_ns\": %llu, \"runq_ns\": %llu}",
						j ? ", " : "", tv[j].tid, (unsigned long long)tv[j].calls,
						(unsigned long long)tv[j].incl_ns, (unsigned long long)tv[j].oncpu_ns,
						(unsigned long long)tv[j].blocked_ns, (unsigned long long)tv[j].runq_ns);
			}
			if (jf)
				fprintf(jf, "]");
			free(tv);
		}
		if (callees || jf) {
			struct cw_kcallee *cv = NULL;
			size_t n = 0;
			int e = cw_ksource_callees(src, pts[i], min_pct / 100.0, &cv, &n);
			if (jf) {
				fprintf(jf, ", \"callees\": [");
				for (size_t j = 0; j < n; j++) {
					fprintf(jf, "%s{\"name\": ", j ? ", " : "");
					json_str(jf, cv[j].name);
					fprintf(jf,
						", \"depth\": %d, \"frac\": %.5f, \"frac_lo\": %.5f, \"frac_hi\": %.5f, "
						"\"samples\": %llu, \"oncpu_ns\": %llu, \"blocked_ns\": %llu, "
						"\"runq_ns\": %llu}",
						cv[j].depth, cv[j].frac, cv[j].frac_lo, cv[j].frac_hi,
						(unsigned long long)cv[j].samples, (unsigned long long)cv[j].oncpu_ns,
						(unsigned long long)cv[j].blocked_ns,
						(unsigned long long)cv[j].runq_ns);
				}
				fprintf(jf, "]}");
			}
			if (callees && e == -ENOTSUP)
				printf("    (no kernel stacks: the tracepoint backend does not sample; use "
				       "--kernel-backend sampling)\n");
			else if (callees && n <= 1)
				printf("    (no kernel stacks gathered under %s)\n", names[i]);
			for (size_t j = 1; callees && j < n; j++) {
				char o[32], b[32], q[32];
				fmt_ns(o, sizeof(o), cv[j].oncpu_ns);
				fmt_ns(b, sizeof(b), cv[j].blocked_ns);
				fmt_ns(q, sizeof(q), cv[j].runq_ns);
				printf("    %*s%-*s %5.1f%% [%4.1f-%5.1f%%] %6llu samples ~%s on-CPU, %s blocked, %s runq\n",
				       2 * (cv[j].depth - 1), "", 40 - 2 * (cv[j].depth - 1 > 15 ? 15 : cv[j].depth - 1),
				       cv[j].name, 100 * cv[j].frac, 100 * cv[j].frac_lo, 100 * cv[j].frac_hi,
				       (unsigned long long)cv[j].samples, o, b, q);
			}
			free(cv);
		}
	}
	if (jf)
		fprintf(jf, "\n]}\n");
	uint64_t lost = cw_ksource_stack_errors(src);
	if (lost)
		cw_warn("kmeasure: %llu kernel stacks could not be recorded (stack map full): call trees miss their time",
			(unsigned long long)lost);
	ret = 0;
out:
	if (src && check) {
		int loaded = 0, left = cw_ksource_close_checked(src, &loaded);
		if (left) {
			cw_err("kmeasure: %d of %d BPF programs still loaded after removal", left, loaded);
			ret = CW_EXIT_USAGE;
		} else {
			fprintf(stderr, "crosswalk: kmeasure: all %d BPF programs removed\n", loaded);
		}
	} else if (src) {
		src->ops->close(src);
	}
	if (child > 0) {
		/* interrupted or failed before the command ended: it must not outlive us unwatched */
		kill(child, SIGTERM);
		waitpid(child, NULL, 0);
	}
	if (go[0] >= 0)
		close(go[0]);
	if (go[1] >= 0)
		close(go[1]);
	if (ef[0] >= 0)
		close(ef[0]);
	if (ef[1] >= 0)
		close(ef[1]);
	if (jf && fclose(jf) && !ret) {
		cw_err("kmeasure: writing %s: %s", json, strerror(errno));
		ret = CW_EXIT_USAGE;
	}
	for (size_t i = 0; i < npts; i++)
		free(names[i]);
	free(names);
	free(pts);
	free(path);
	return ret;
}
