/* Unit tests for src/report: exact table rows and folded lines on synthetic profiles with known stacks, JSON,
 * SVG and pprof read back by independent parsers (tests/unit/report_check.py: python's json and xml.etree,
 * protoc --decode), error reporting, and the time to write a 100,000-stack profile (logged, not asserted). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "report/profile.h"
#include "util/util.h"

#define U(n, o) { .name = n, .obj = o, .kernel = false }
#define K(n) { .name = n, .obj = "[kernel]", .kernel = true }
#define STACK(c, p, t, idl, n, fr, s, off) \
	{ .comm = c, .pid = p, .tid = t, .idle = idl, .nframes = n, .frames = fr, .samples = s, .offcpu_ns = off }

/* ---- profile A: on-CPU only, with idle ---- */
static struct cw_pframe a_parse[] = { U("parse_request", "server"), U("handle", "server"), U("main", "server") };
static struct cw_pframe a_copy[] = { K("copy_user_enhanced_fast_string"), K("vfs_read"), U("read", "libc.so.6"),
				     U("handle", "server"), U("main", "server") };
static struct cw_pframe a_idle[] = { K("default_idle"), K("do_idle") };
static struct cw_pframe a_tiny[] = { U("tiny_fn", "server"), U("main", "server") };
static struct cw_pframe a_memcpy[] = { U("memcpy", "libc.so.6"), U("main", "server") };
static struct cw_pstack a_stacks[] = {
	STACK("server", 10, 10, false, 3, a_parse, 400, 0),
	STACK("server", 10, 11, false, 5, a_copy, 300, 0),
	STACK("server", 10, 12, false, 3, a_parse, 50, 0), /* same procedure, other thread: merges */
	STACK("swapper/0", 0, 0, true, 2, a_idle, 200, 0),
	STACK("server", 10, 10, false, 2, a_tiny, 6, 0),
	STACK("server", 10, 10, false, 2, a_memcpy, 44, 0),
};
static const struct cw_profile prof_a = {
	.stacks = a_stacks, .nstacks = 6, .period_ns = 1000000, .freq_hz = 1000, .duration_s = 0.5, .ncpus = 2,
	.total_samples = 1000, .idle_samples = 200, .target = "test target",
};

/* ---- profile B: on-CPU and off-CPU ---- */
static struct cw_pframe b_work[] = { U("work", "app"), U("main", "app") };
static struct cw_pframe b_pipe[] = { K("__schedule"), K("schedule"), K("pipe_read"), K("vfs_read"), K("ksys_read"),
				     U("__libc_read", "libc.so.6"), U("main", "app") };
static struct cw_pframe b_poll[] = { K("__schedule"), K("schedule"), K("schedule_hrtimeout_range"), K("do_poll"),
				     U("__poll", "libc.so.6"), U("main", "app") };
static struct cw_pframe b_kworker[] = { K("__schedule"), K("schedule"), K("worker_thread"), K("kthread") };
static struct cw_pstack b_stacks[] = {
	STACK("app", 20, 20, false, 2, b_work, 100, 0),
	STACK("app", 20, 20, false, 7, b_pipe, 0, 300000000),
	STACK("app", 20, 21, false, 6, b_poll, 0, 100000000),
	STACK("kworker/0:1", 7, 7, false, 4, b_kworker, 0, 100000000),
};
static const struct cw_profile prof_b = {
	.stacks = b_stacks, .nstacks = 4, .period_ns = 1000000, .freq_hz = 1000, .duration_s = 1.0, .ncpus = 1,
	.total_samples = 100, .idle_samples = 0, .offcpu_total_ns = 500000000, .has_offcpu = true, .target = "app",
};

/* Runs a writer into memory; returns the malloc'd output. */
static char *render(const struct cw_profile *p, enum cw_report_format f, const struct cw_report_opts *o, size_t *len)
{
	char *buf = NULL;
	size_t n = 0;
	FILE *m = open_memstream(&buf, &n);
	assert_non_null(m);
	assert_int_equal(cw_report_write(p, f, o, m), 0);
	fclose(m);
	if (len)
		*len = n;
	return buf;
}

/* Collapses runs of spaces and trims, so rows compare by content; alignment is checked separately. */
static void squeeze(char *s)
{
	char *d = s, *r = s;
	while (*r == ' ')
		r++;
	for (; *r; r++)
		if (*r != ' ' || (r[1] && r[1] != ' '))
			*d++ = *r;
	*d = 0;
}

/* The lines of TEXT, squeezed; returns the count. LINES[i] point into TEXT (modified). */
static int split(char *text, char **lines, int max, int *marker_col)
{
	int n = 0;
	for (char *l = strtok(text, "\n"); l && n < max; l = strtok(NULL, "\n")) {
		if (marker_col && strstr(l, "procedure") && strstr(l, "object"))
			*marker_col = -1; /* a new table starts */
		char *m = strstr(l, "  [u]  ");
		if (!m)
			m = strstr(l, "  [k]  ");
		if (m && marker_col) {
			/* every row's [k]/[u] sits in the same column */
			if (*marker_col < 0)
				*marker_col = (int)(m - l);
			assert_int_equal((int)(m - l), *marker_col);
		}
		squeeze(l);
		lines[n++] = l;
	}
	return n;
}

static void table_dcpi(void **state)
{
	struct cw_report_opts o = { .min_pct = 1.0 };
	char *out = render(&prof_a, CW_FMT_TABLE, &o, NULL), *l[32];
	int col = -1, n = split(out, l, 32, &col);
	assert_int_equal(n, 7);
	assert_string_equal(l[0], "Profile of test target: 0.50 s, 1000 Hz, 2 CPUs, 1000 samples (200 idle = 20.00%)");
	assert_string_equal(l[1], "% all % non-idle samples procedure object");
	assert_string_equal(l[2], "20.00% - 200 [k] [idle] (kernel idle task) [kernel]");
	assert_string_equal(l[3], "45.00% 56.25% 450 [u] parse_request server");
	assert_string_equal(l[4], "30.00% 37.50% 300 [k] copy_user_enhanced_fast_string [kernel]");
	assert_string_equal(l[5], "4.40% 5.50% 44 [u] memcpy libc.so.6");
	assert_string_equal(l[6], "(1 procedure below 1.00% omitted: 0.60% of all CPU)");
	free(out);

	/* no cut: tiny_fn shows, nothing omitted */
	o.min_pct = 0;
	out = render(&prof_a, CW_FMT_TABLE, &o, NULL);
	n = split(out, l, 32, NULL);
	assert_int_equal(n, 7);
	assert_string_equal(l[6], "0.60% 0.75% 6 [u] tiny_fn server");
	free(out);

	/* max_rows: the idle row always shows, then the top one */
	o.max_rows = 1;
	out = render(&prof_a, CW_FMT_TABLE, &o, NULL);
	n = split(out, l, 32, NULL);
	assert_int_equal(n, 5);
	assert_string_equal(l[3], "45.00% 56.25% 450 [u] parse_request server");
	assert_string_equal(l[4], "(3 procedures below 0.00% or past --max-rows omitted: 35.00% of all CPU)");
	free(out);
}

static void table_totals_from_stacks(void **state)
{
	/* a profiler that left the totals 0: they come from the stacks */
	struct cw_profile p = prof_a;
	p.total_samples = p.idle_samples = 0;
	char *out = render(&p, CW_FMT_TABLE, NULL, NULL), *l[32];
	int n = split(out, l, 32, NULL);
	assert_true(n >= 4);
	assert_string_equal(l[2], "20.00% - 200 [k] [idle] (kernel idle task) [kernel]");
	assert_string_equal(l[3], "45.00% 56.25% 450 [u] parse_request server");
	free(out);
}

static void table_offcpu(void **state)
{
	struct cw_report_opts o = { .min_pct = 1.0 };
	char *out = render(&prof_b, CW_FMT_TABLE, &o, NULL), *l[32];
	int col = -1, n = split(out, l, 32, &col);
	assert_int_equal(n, 11);
	assert_string_equal(l[0], "Profile of app: 1.00 s, 1000 Hz, 1 CPU, 100 samples, 500.0 ms blocked");
	assert_string_equal(l[1], "% all % non-idle samples on-CPU ms blocked ms % blocked procedure object");
	/* blocked time is charged past the scheduler frames, to the function that chose to wait */
	assert_string_equal(l[2], "- - - - 300.0 60.00% [k] pipe_read [kernel]");
	assert_string_equal(l[3], "- - - - 100.0 20.00% [k] do_poll [kernel]");
	assert_string_equal(l[4], "100.00% 100.00% 100 100.0 - - [u] work app");
	assert_string_equal(l[5], "- - - - 100.0 20.00% [k] worker_thread [kernel]");
	assert_string_equal(l[6], "Blocked time by the innermost user frame of the blocked stack (the code that waited):");
	assert_string_equal(l[7], "blocked ms % blocked procedure object");
	assert_string_equal(l[8], "300.0 60.00% [u] __libc_read libc.so.6");
	assert_string_equal(l[9], "100.0 20.00% [u] __poll libc.so.6");
	assert_string_equal(l[10], "100.0 20.00% (no user frame: kernel threads)");
	free(out);
}

static void folded_plain(void **state)
{
	char *out = render(&prof_a, CW_FMT_FOLDED, NULL, NULL);
	assert_string_equal(out, "server;main;handle;parse_request 450\n"
				 "server;main;handle;read;vfs_read_[k];copy_user_enhanced_fast_string_[k] 300\n"
				 "server;main;memcpy 44\n"
				 "server;main;tiny_fn 6\n"
				 "swapper/0;do_idle_[k];default_idle_[k] 200\n");
	free(out);
}

static void folded_offcpu(void **state)
{
	char *out = render(&prof_b, CW_FMT_FOLDED, NULL, NULL);
	assert_string_equal(
		out,
		"app;[off-cpu];main;__libc_read;ksys_read_[k];vfs_read_[k];pipe_read_[k];schedule_[k];__schedule_[k] 300000\n"
		"app;[off-cpu];main;__poll;do_poll_[k];schedule_hrtimeout_range_[k];schedule_[k];__schedule_[k] 100000\n"
		"app;main;work 100000\n"
		"kworker/0:1;[off-cpu];kthread_[k];worker_thread_[k];schedule_[k];__schedule_[k] 100000\n");
	free(out);
}

static void folded_sanitized(void **state)
{
	/* ';' would split a frame, a newline a line; spaces in the comm become '_' as stackcollapse-perf does */
	struct cw_pframe fr[] = { U("operator;evil\nname", "x"), U("main", "x") };
	struct cw_pstack st[] = { STACK("my app", 1, 1, false, 2, fr, 3, 0), STACK(NULL, 2, 2, false, 0, NULL, 1, 0) };
	struct cw_profile p = { .stacks = st, .nstacks = 2, .freq_hz = 99, .total_samples = 4 };
	char *out = render(&p, CW_FMT_FOLDED, NULL, NULL);
	assert_string_equal(out, "[unknown] 1\nmy_app;main;operator:evil?name 3\n");
	free(out);
}

/* Writes P as FMT into a temp file and runs report_check.py MODE on it; returns its stdout. */
static char *check(const struct cw_profile *p, enum cw_report_format fmt, const char *mode)
{
	char path[] = "/tmp/cw-report-XXXXXX", cmd[1024], *buf = NULL;
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	FILE *f = fdopen(fd, "w");
	assert_int_equal(cw_report_write(p, fmt, NULL, f), 0);
	fclose(f);
	const char *root = getenv("CW_ROOT") ? getenv("CW_ROOT") : ".";
	snprintf(cmd, sizeof(cmd), "python3 %s/tests/unit/report_check.py %s %s %s/src/report/profile.proto", root,
		 mode, path, root);
	FILE *pp = popen(cmd, "r");
	assert_non_null(pp);
	size_t cap = 0, len = 0;
	char chunk[4096];
	for (size_t n; (n = fread(chunk, 1, sizeof(chunk), pp)) > 0; len += n) {
		buf = realloc(buf, (cap = len + n + 1));
		memcpy(buf + len, chunk, n);
	}
	if (!buf)
		buf = calloc(1, 1);
	buf[len] = 0;
	int rc = pclose(pp);
	if (rc != 0)
		print_error("report_check.py %s failed (status %d) on %s; output:\n%s\n", mode, rc, path, buf);
	else
		unlink(path);
	assert_int_equal(rc, 0);
	return buf;
}

static bool have_python(void)
{
	return system("python3 -c 'import json, xml.etree.ElementTree' >/dev/null 2>&1") == 0;
}

static void json_roundtrip(void **state)
{
	if (!have_python())
		skip();
	char *out = check(&prof_a, CW_FMT_JSON, "json");
	assert_non_null(strstr(out, "target=\"test target\"\n"));
	assert_non_null(strstr(out, "\nfreq_hz=1000\nncpus=2\ntotal_samples=1000\nidle_samples=200\noffcpu_total_ns=0\n"
				    "nprocs=4\n"));
	/* all procedures, tiny_fn too, by samples; idle is in idle_samples, not a procedure */
	assert_non_null(strstr(out, "nprocs=4\n"
				    "proc\t\"parse_request\"\tuser\t\"server\"\t450\t45.00\t56.25\t0\n"
				    "proc\t\"copy_user_enhanced_fast_string\"\tkernel\t\"[kernel]\"\t300\t30.00\t37.50\t0\n"
				    "proc\t\"memcpy\"\tuser\t\"libc.so.6\"\t44\t4.40\t5.50\t0\n"
				    "proc\t\"tiny_fn\"\tuser\t\"server\"\t6\t0.60\t0.75\t0\n"));
	free(out);

	out = check(&prof_b, CW_FMT_JSON, "json");
	assert_non_null(strstr(out, "offcpu_total_ns=500000000\n"));
	assert_non_null(strstr(out, "proc\t\"pipe_read\"\tkernel\t\"[kernel]\"\t0\t0.00\t0.00\t300000000\n"));
	free(out);
}

static void json_escaping(void **state)
{
	if (!have_python())
		skip();
	/* quotes, backslashes, control characters, valid UTF-8 and an invalid byte */
	struct cw_pframe fr[] = { U("we\"ird\\name\x01\t\n\x7f", "l\xc3\xa9on \"o\""), U("bad\xff", "x") };
	struct cw_pstack st[] = { STACK("c", 1, 1, false, 2, fr, 5, 0) };
	struct cw_profile p = { .stacks = st, .nstacks = 1, .freq_hz = 99, .total_samples = 5,
				.target = "\"quoted\" \\ target\x1f" };
	char *out = check(&p, CW_FMT_JSON, "json");
	assert_non_null(strstr(out, "target=\"\\\"quoted\\\" \\\\ target\\u001f\"\n"));
	assert_non_null(strstr(out, "proc\t\"we\\\"ird\\\\name\\u0001\\t\\n\\u007f\"\tuser\t\"l\\u00e9on \\\"o\\\"\"\t5\t"));
	free(out);
	p.stacks[0].frames = &fr[1];
	out = check(&p, CW_FMT_JSON, "json");
	assert_non_null(strstr(out, "proc\t\"bad\\ufffd\"\t"));
	free(out);
}

static void svg_wellformed(void **state)
{
	if (!have_python())
		skip();
	char *out = check(&prof_a, CW_FMT_SVG, "svg");
	/* all, 2 comms, server: main, handle, parse_request, read, vfs_read, copy_*, tiny_fn, memcpy;
	 * swapper/0: do_idle, default_idle */
	assert_non_null(strstr(out, "frames=13\n"));
	assert_non_null(strstr(out, "title\t\"all (1000 samples, 100.00%)\"\t"));
	assert_non_null(strstr(out, "title\t\"parse_request (450 samples, 45.00%)\"\trgb("));
	assert_non_null(strstr(out, "title\t\"copy_user_enhanced_fast_string [k] (300 samples, 30.00%)\"\trgb("));
	assert_non_null(strstr(out, "title\t\"main (800 samples, 80.00%)\""));
	/* wide enough for its whole name */
	assert_non_null(strstr(out, "(450 samples, 45.00%)\"\trgb(2"));
	assert_non_null(strstr(out, "\"parse_request\"\n"));
	free(out);

	out = check(&prof_b, CW_FMT_SVG, "svg");
	/* off-CPU frames drawn blue: rgb(r,g,b) with b >= 190 */
	char *t = strstr(out, "title\t\"pipe_read [k] (300.000 ms, 50.00%)\"\trgb(");
	assert_non_null(t);
	int r, g, b;
	assert_int_equal(sscanf(strstr(t, "\trgb(") + 5, "%d,%d,%d", &r, &g, &b), 3);
	assert_true(b >= 190 && r < 150);
	assert_non_null(strstr(out, "title\t\"[off-cpu] (400.000 ms, 66.67%)\""));
	free(out);

	/* hostile names stay well-formed XML */
	struct cw_pframe fr[] = { U("a<b>&c\"d'e\x01\xff" "f", "x"), U("main", "x") };
	struct cw_pstack st[] = { STACK("<&>", 1, 1, false, 2, fr, 5, 0) };
	struct cw_profile p = { .stacks = st, .nstacks = 1, .freq_hz = 99, .total_samples = 5, .target = "<t&>" };
	out = check(&p, CW_FMT_SVG, "svg");
	assert_non_null(strstr(out, "title\t\"a<b>&c\\\"d'e??f (5 samples, 100.00%)\""));
	free(out);
}

/* The embedded script, run by node against a stand-in DOM (tests/unit/report_svg_js.js): click-to-zoom
 * widens the clicked frame and its ancestors to the full width and hides what is not above or below it;
 * search colors matches and reports their share; reset restores. */
static void svg_script(void **state)
{
	if (system("node --version >/dev/null 2>&1") != 0) {
		print_message("SKIP: node not installed (only this check of the SVG's script needs it)\n");
		skip();
	}
	char path[] = "/tmp/cw-report-XXXXXX", cmd[1024], line[512];
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	FILE *f = fdopen(fd, "w");
	assert_int_equal(cw_report_write(&prof_b, CW_FMT_SVG, NULL, f), 0);
	fclose(f);
	const char *root = getenv("CW_ROOT") ? getenv("CW_ROOT") : ".";
	snprintf(cmd, sizeof(cmd), "node %s/tests/unit/report_svg_js.js %s pipe_read 'schedule$'", root, path);
	FILE *pp = popen(cmd, "r");
	assert_non_null(pp);
	int shown = 0, hidden = 0, ok_zoomed = 0, ok_ancestor = 0, ok_matched = 0, ok_reset = 0;
	while (fgets(line, sizeof(line), pp)) {
		if (!strncmp(line, "frame\t", 6)) {
			if (strstr(line, "\tshown\t"))
				shown++;
			else
				hidden++;
			/* the clicked frame: full width (10 .. 1190), label without the [k] marker */
			if (!strcmp(line, "frame\tpipe_read [k] (300.000 ms, 50.00%)\tshown\t10.0\t1180.0\tpipe_read\n"))
				ok_zoomed = 1;
			/* an ancestor: full width too */
			if (!strcmp(line, "frame\tapp (500.000 ms, 83.33%)\tshown\t10.0\t1180.0\tapp\n"))
				ok_ancestor = 1;
		} else if (!strcmp(line, "matched\tMatched: 83.34%\n") || !strcmp(line, "matched\tMatched: 83.33%\n")) {
			/* 'schedule$' matches schedule and __schedule in all three towers: 500 of 600 ms (widths are
			 * rounded to 0.1 px in the SVG, hence either last digit) */
			ok_matched = 1;
		} else if (!strcmp(line, "unzoomed\t10.0\t590.0\n")) {
			ok_reset = 1;
		}
	}
	assert_int_equal(pclose(pp), 0);
	unlink(path);
	/* shown: all, app, [off-cpu], main, __libc_read, ksys_read, vfs_read, pipe_read, schedule, __schedule */
	assert_int_equal(shown, 10);
	assert_int_equal(hidden, 13);
	assert_true(ok_zoomed);
	assert_true(ok_ancestor);
	assert_true(ok_matched);
	assert_true(ok_reset);
}

static bool have_protoc(void)
{
	return have_python() && system("protoc --version >/dev/null 2>&1") == 0;
}

static void pprof_decode(void **state)
{
	if (!have_protoc()) {
		print_message("SKIP: protoc (Debian protobuf-compiler) not installed\n");
		skip();
	}
	char *out = check(&prof_a, CW_FMT_PPROF, "pprof");
	assert_non_null(strstr(out, "sample_types=samples/count,cpu/nanoseconds\nperiod=1000000\nnsamples=6\n"
				    "sums=1000,1000000000\n"));
	assert_non_null(strstr(out, "functions=copy_user_enhanced_fast_string,default_idle,do_idle,handle,main,memcpy,"
				    "parse_request,read,tiny_fn,vfs_read\n"));
	assert_non_null(strstr(out, "top=parse_request@server comm=server frames=3\n"));
	free(out);

	out = check(&prof_b, CW_FMT_PPROF, "pprof");
	assert_non_null(strstr(out, "sample_types=samples/count,cpu/nanoseconds,off_cpu/nanoseconds\n"));
	assert_non_null(strstr(out, "nsamples=4\nsums=100,100000000,500000000\n"));
	assert_non_null(strstr(out, "top=work@app comm=app frames=2\n"));
	free(out);
}

static void empty_profile(void **state)
{
	/* nothing sampled: every writer still writes something valid */
	struct cw_profile p = { .freq_hz = 997, .target = "idle" };
	char *out = render(&p, CW_FMT_TABLE, NULL, NULL);
	assert_non_null(strstr(out, "0 samples"));
	free(out);
	out = render(&p, CW_FMT_FOLDED, NULL, NULL);
	assert_string_equal(out, "");
	free(out);
	if (!have_python())
		return;
	free(check(&p, CW_FMT_JSON, "json"));
	free(check(&p, CW_FMT_SVG, "svg"));
	if (have_protoc())
		free(check(&p, CW_FMT_PPROF, "pprof"));
}

static void format_names_and_errors(void **state)
{
	assert_int_equal(cw_report_format_parse("table"), CW_FMT_TABLE);
	assert_int_equal(cw_report_format_parse("folded"), CW_FMT_FOLDED);
	assert_int_equal(cw_report_format_parse("svg"), CW_FMT_SVG);
	assert_int_equal(cw_report_format_parse("pprof"), CW_FMT_PPROF);
	assert_int_equal(cw_report_format_parse("json"), CW_FMT_JSON);
	assert_int_equal(cw_report_format_parse("html"), -1);
	assert_int_equal(cw_report_format_parse(NULL), -1);
	assert_int_equal(cw_report_write(&prof_a, (enum cw_report_format)42, NULL, stdout), -EINVAL);
	/* a full disk is reported, not lost */
	FILE *f = fopen("/dev/full", "w");
	if (!f)
		skip();
	for (int fmt = CW_FMT_TABLE; fmt <= CW_FMT_JSON; fmt++) {
		int err = cw_report_write(&prof_a, fmt, NULL, f);
		assert_int_equal(err, -ENOSPC);
		clearerr(f);
	}
	fclose(f);
}

/* 100,000 distinct stacks of 12-28 frames over 5,000 functions: every format, timed. */
static void big_profile_speed(void **state)
{
	enum { NS = 100000, NF = 5000 };
	static char names[NF][24];
	struct cw_pframe *pool = calloc(NF, sizeof(*pool));
	struct cw_pstack *st = calloc(NS, sizeof(*st));
	uint64_t total = 0, seed = 12345;
	for (int i = 0; i < NF; i++) {
		snprintf(names[i], sizeof(names[i]), "func_%d", i);
		pool[i] = (struct cw_pframe){ .name = names[i], .obj = i < 1000 ? "[kernel]" : (i % 2 ? "libc.so.6" : "app"),
					      .kernel = i < 1000 };
	}
	for (int i = 0; i < NS; i++) {
		seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
		int n = 12 + (seed >> 33) % 17;
		st[i].frames = calloc(n, sizeof(struct cw_pframe));
		st[i].nframes = n;
		for (int j = 0; j < n; j++) {
			seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
			/* the same outer frames for all, so the prefix tree is a tree and not a fan */
			int k = j >= n - 3 ? 1000 + (n - j) : (int)((seed >> 33) % NF);
			st[i].frames[j] = pool[k];
		}
		st[i].comm = i % 3 ? "app" : "worker";
		st[i].pid = st[i].tid = 100 + i % 7;
		st[i].samples = 1 + (seed >> 40) % 50;
		st[i].offcpu_ns = i % 5 ? 0 : 1000 * ((seed >> 20) % 100000);
		total += st[i].samples;
	}
	struct cw_profile p = { .stacks = st, .nstacks = NS, .period_ns = 1003009, .freq_hz = 997, .duration_s = 10,
				.ncpus = 2, .total_samples = total, .has_offcpu = true, .target = "synthetic" };
	static const char *const fn[] = { "table", "folded", "svg", "pprof", "json" };
	FILE *null = fopen("/dev/null", "w");
	assert_non_null(null);
	for (int fmt = CW_FMT_TABLE; fmt <= CW_FMT_JSON; fmt++) {
		for (int off = 0; off < 2; off++) {
			p.has_offcpu = off;
			char *buf = NULL;
			size_t len = 0;
			FILE *m = open_memstream(&buf, &len);
			uint64_t t0 = cw_now_ns();
			assert_int_equal(cw_report_write(&p, fmt, NULL, m), 0);
			uint64_t t1 = cw_now_ns();
			fclose(m);
			print_message("report %-6s %s 100000 stacks: %7.1f ms, %8zu bytes\n", fn[fmt],
				      off ? "with off-CPU" : "on-CPU only", (t1 - t0) / 1e6, len);
			assert_true(len > 0);
			free(buf);
		}
	}
	fclose(null);
	for (int i = 0; i < NS; i++)
		free(st[i].frames);
	free(st);
	free(pool);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(table_dcpi),
		cmocka_unit_test(table_totals_from_stacks),
		cmocka_unit_test(table_offcpu),
		cmocka_unit_test(folded_plain),
		cmocka_unit_test(folded_offcpu),
		cmocka_unit_test(folded_sanitized),
		cmocka_unit_test(json_roundtrip),
		cmocka_unit_test(json_escaping),
		cmocka_unit_test(svg_wellformed),
		cmocka_unit_test(svg_script),
		cmocka_unit_test(pprof_decode),
		cmocka_unit_test(empty_profile),
		cmocka_unit_test(format_names_and_errors),
		cmocka_unit_test(big_profile_speed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
