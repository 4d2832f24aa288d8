/* Unit tests for the walk's search against a simulated program: known trees of functions with known
 * self times, so each verdict path is known exactly. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "walk/walk.h"

struct fn {
	const char *name;
	enum cw_wkind kind;
	double self;	    /* share of wall time in the function itself */
	double blocked;	    /* part of self that is blocked (kernel) */
	double rate;	    /* calls per second */
	const char *kids[8];
	bool untestable;
	double fade_at; /* from this time on, self is 0 (the load moved away); 0: never */
	bool absorbs;	/* a system call its parent (a C library wrapper) makes itself */
};

struct sim {
	const struct fn *fns;
	size_t n;
	const char *roots[4];
	double t;
	double exit_at; /* 0: never */
	int inserted;	/* currently inserted */
	int max_inserted;
	double ins_t[64];
	bool ins[64];
	int runs;	     /* experiments run so far */
	int first_run[64];   /* 1 + the experiment in which a function was first inserted */
	bool with_prior;     /* offer the profile's estimate (its true share) to the search */
};

static const struct fn *find(struct sim *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->fns[i].name, name))
			return &s->fns[i];
	return NULL;
}

static double incl(struct sim *s, const struct fn *f, double *blocked)
{
	double v = f->fade_at && s->t >= f->fade_at ? 0 : f->self;
	*blocked += f->blocked;
	for (int i = 0; i < 8 && f->kids[i]; i++)
		v += incl(s, find(s, f->kids[i]), blocked);
	return v;
}

static int sim_roots(void *ctx, struct cw_wcand **out, size_t *n)
{
	struct sim *s = ctx;
	*n = 0;
	*out = calloc(4, sizeof(**out));
	for (int i = 0; i < 4 && s->roots[i]; i++) {
		snprintf((*out)[i].name, sizeof((*out)[i].name), "%s", s->roots[i]);
		(*out)[i].kind = CW_WK_USER;
		(*n)++;
	}
	return 0;
}

static int sim_children(void *ctx, const struct cw_wnode *node, struct cw_wcand **out, size_t *n)
{
	struct sim *s = ctx;
	const struct fn *f = find(s, node->name);
	*n = 0;
	*out = calloc(8, sizeof(**out));
	for (int i = 0; f && i < 8 && f->kids[i]; i++) {
		const struct fn *k = find(s, f->kids[i]);
		snprintf((*out)[i].name, sizeof((*out)[i].name), "%s", k->name);
		(*out)[i].kind = k->kind;
		(*out)[i].absorbs = k->absorbs;
		(*n)++;
	}
	return 0;
}

static int sim_insert(void *ctx, struct cw_wnode **nodes, size_t n)
{
	struct sim *s = ctx;
	for (size_t i = 0; i < n; i++) {
		const struct fn *f = find(s, nodes[i]->name);
		if (!f || f->untestable) {
			nodes[i]->state = CW_WS_UNTESTABLE;
			snprintf(nodes[i]->why, sizeof(nodes[i]->why), "too short to patch");
			continue;
		}
		int idx = (int)(f - s->fns);
		assert_false(s->ins[idx]); /* never inserted twice */
		s->ins[idx] = true;
		s->ins_t[idx] = s->t;
		if (!s->first_run[idx])
			s->first_run[idx] = s->runs + 1;
		s->inserted++;
		if (s->inserted > s->max_inserted)
			s->max_inserted = s->inserted;
	}
	return 0;
}

static void sim_remove(void *ctx, struct cw_wnode **nodes, size_t n)
{
	struct sim *s = ctx;
	for (size_t i = 0; i < n; i++) {
		int idx = (int)(find(s, nodes[i]->name) - s->fns);
		assert_true(s->ins[idx]);
		s->ins[idx] = false;
		s->inserted--;
	}
}

static int sim_read(void *ctx, struct cw_wnode *node, struct cw_wmeas *m)
{
	struct sim *s = ctx;
	const struct fn *f = find(s, node->name);
	int idx = (int)(f - s->fns);
	double el = s->t - s->ins_t[idx], blocked = 0, share;
	assert_true(s->ins[idx]);
	share = incl(s, f, &blocked);
	memset(m, 0, sizeof(*m));
	m->incl_ns = (uint64_t)(share * el * 1e9);
	m->calls = (uint64_t)(f->rate * el);
	if (f->kind != CW_WK_USER) {
		m->has_split = true;
		m->blocked_ns = (uint64_t)(blocked * el * 1e9);
		m->oncpu_ns = m->incl_ns - m->blocked_ns;
	}
	return 0;
}

static int sim_run(void *ctx, double sec)
{
	struct sim *s = ctx;
	if (s->exit_at && s->t + sec >= s->exit_at) {
		s->t = s->exit_at;
		return 1;
	}
	s->t += sec;
	s->runs++;
	return 0;
}

static double sim_now(void *ctx)
{
	return ((struct sim *)ctx)->t;
}

static double sim_cost(void *ctx, enum cw_wkind k)
{
	return k == CW_WK_USER ? 30 : 500;
}

/* what a profile would have seen: the function's true share */
static double sim_prior(void *ctx, const struct cw_wnode *node)
{
	struct sim *s = ctx;
	double blocked = 0;
	const struct fn *f = find(s, node->name);
	return f ? incl(s, f, &blocked) : -1;
}

static struct cw_walk_env env_for(struct sim *s)
{
	struct cw_walk_env e = { s, sim_roots, sim_children, sim_insert, sim_remove, sim_read, sim_run, sim_now, sim_cost,
				 s->with_prior ? sim_prior : NULL };
	return e;
}

/* the labels of a verdict's path, root first, joined with ">" */
static void path_of(const struct cw_wnode *v, char *buf, size_t len)
{
	const struct cw_wnode *p[64];
	int n = 0;
	buf[0] = 0;
	for (; v; v = v->parent)
		p[n++] = v;
	for (int i = n - 1; i >= 0; i--)
		snprintf(buf + strlen(buf), len - strlen(buf), "%s%s", p[i]->name, i ? ">" : "");
}

/* The search over S with its default options, or with at most MAX_BATCH nodes an experiment (0: default). */
static void run_sim_batch(struct sim *s, int max_batch, struct cw_walk_result *r)
{
	struct cw_walk_env e = env_for(s);
	struct cw_walk_opts o;
	cw_walk_opts_default(&o);
	if (max_batch)
		o.max_batch = max_batch;
	assert_int_equal(cw_walk_run(&e, &o, r), 0);
	assert_int_equal(s->inserted, 0); /* everything removed */
}

static void run_sim(struct sim *s, struct cw_walk_result *r)
{
	run_sim_batch(s, 0, r);
}

/* R has one verdict, and its path (labels joined with ">") is WANT */
static void assert_one_verdict(const struct cw_walk_result *r, const char *want)
{
	char p[256];
	assert_int_equal(r->nverdicts, 1);
	path_of(r->verdicts[0], p, sizeof(p));
	assert_string_equal(p, want);
}

static void deep_cpu_user(void **st)
{
	static const struct fn fns[] = {
		{ "main", CW_WK_USER, 0.02, 0, 0, { "init", "run" } },
		{ "init", CW_WK_USER, 0.01, 0, 0, { 0 } },
		{ "run", CW_WK_USER, 0.02, 0, 10, { "step", "log" } },
		{ "log", CW_WK_USER, 0.05, 0, 1000, { 0 } },
		{ "step", CW_WK_USER, 0.05, 0, 1000, { "parse", "crunch" } },
		{ "parse", CW_WK_USER, 0.10, 0, 1000, { 0 } },
		{ "crunch", CW_WK_USER, 0.75, 0, 1000, { 0 } },
	};
	struct sim s = { fns, sizeof(fns) / sizeof(fns[0]), { "main" } };
	struct cw_walk_result r;
	run_sim(&s, &r);
	assert_one_verdict(&r, "main>run>step>crunch");
	assert_string_equal(cw_walk_verdict_kind(r.verdicts[0]), "cpu-user");
	assert_true(r.verdicts[0]->share > 0.74 && r.verdicts[0]->share < 0.76);
	/* refuted nodes were tested and lost their instrumentation */
	for (size_t i = 0; i < r.nnodes; i++)
		if (!strcmp(r.nodes[i]->name, "log") || !strcmp(r.nodes[i]->name, "parse"))
			assert_int_equal(r.nodes[i]->state, CW_WS_FALSE);
	cw_walk_result_free(&r);
}

static void into_kernel_blocked(void **st)
{
	static const struct fn fns[] = {
		{ "main", CW_WK_USER, 0.0, 0, 0, { "serve" } },
		{ "serve", CW_WK_USER, 0.05, 0, 0, { "wait_input", "handle" } },
		{ "handle", CW_WK_USER, 0.05, 0, 100, { 0 } },
		{ "wait_input", CW_WK_USER, 0.0, 0, 100, { "read" } },
		{ "read", CW_WK_USER, 0.0, 0, 100, { "sys:read" } },
		{ "sys:read", CW_WK_SYSCALL, 0.02, 0, 100, { "k:ksys_read" } },
		{ "k:ksys_read", CW_WK_KERNEL, 0.0, 0, 100, { "k:vfs_read" } },
		{ "k:vfs_read", CW_WK_KERNEL, 0.0, 0, 100, { "k:pipe_read" } },
		{ "k:pipe_read", CW_WK_KERNEL, 0.03, 0, 100, { "k:schedule" } },
		{ "k:schedule", CW_WK_KERNEL, 0.85, 0.85, 100, { 0 } },
	};
	struct sim s = { fns, sizeof(fns) / sizeof(fns[0]), { "main" } };
	struct cw_walk_result r;
	char sent[512];
	run_sim(&s, &r);
	assert_one_verdict(&r, "main>serve>wait_input>read>sys:read>k:ksys_read>k:vfs_read>k:pipe_read>k:schedule");
	assert_string_equal(cw_walk_verdict_kind(r.verdicts[0]), "blocked");
	assert_string_equal(cw_walk_wait_class(r.verdicts[0]), "a pipe or socket read");
	cw_walk_sentence(r.verdicts[0], sent, sizeof(sent));
	assert_non_null(strstr(sent, "blocked in the kernel waiting on a pipe or socket read"));
	assert_non_null(strstr(sent, "[kernel] k:ksys_read"));
	cw_walk_result_free(&r);
}

static void two_bottlenecks_and_self_time(void **st)
{
	static const struct fn fns[] = {
		{ "main", CW_WK_USER, 0.0, 0, 0, { "a", "b" } },
		{ "a", CW_WK_USER, 0.40, 0, 10, { "a1", "a2" } }, /* a holds time itself and has a hot child */
		{ "a1", CW_WK_USER, 0.25, 0, 10, { 0 } },
		{ "a2", CW_WK_USER, 0.01, 0, 10, { 0 } },
		{ "b", CW_WK_USER, 0.34, 0, 10, { 0 } },
	};
	struct sim s = { fns, sizeof(fns) / sizeof(fns[0]), { "main" } };
	struct cw_walk_result r;
	char p[3][64];
	run_sim(&s, &r);
	assert_int_equal(r.nverdicts, 3);
	for (int i = 0; i < 3; i++)
		path_of(r.verdicts[i], p[i], sizeof(p[i]));
	/* ordered by their own share: a itself 40%, b 34%, a1 25% */
	assert_string_equal(p[0], "main>a");
	assert_string_equal(p[1], "main>b");
	assert_string_equal(p[2], "main>a>a1");
	assert_true(r.verdicts[0]->self_share > 0.39 && r.verdicts[0]->self_share < 0.41);
	cw_walk_result_free(&r);
}

static void spread_and_untestable(void **st)
{
	static const struct fn fns[] = {
		{ "main", CW_WK_USER, 0.0, 0, 0, { "work" } },
		{ "work", CW_WK_USER, 0.0, 0, 1, { "f1", "f2", "f3", "f4", "f5", "tiny" } },
		{ "f1", CW_WK_USER, 0.18, 0, 1, { 0 } },
		{ "f2", CW_WK_USER, 0.18, 0, 1, { 0 } },
		{ "f3", CW_WK_USER, 0.18, 0, 1, { 0 } },
		{ "f4", CW_WK_USER, 0.18, 0, 1, { 0 } },
		{ "f5", CW_WK_USER, 0.18, 0, 1, { 0 } },
		{ "tiny", CW_WK_USER, 0.10, 0, 1, { 0 }, true },
	};
	struct sim s = { fns, sizeof(fns) / sizeof(fns[0]), { "main" } };
	struct cw_walk_result r;
	run_sim(&s, &r);
	/* no callee holds 20%: the verdict is work, whose time is spread */
	assert_one_verdict(&r, "main>work");
	for (size_t i = 0; i < r.nnodes; i++)
		if (!strcmp(r.nodes[i]->name, "tiny")) {
			assert_int_equal(r.nodes[i]->state, CW_WS_UNTESTABLE);
			assert_string_equal(r.nodes[i]->why, "too short to patch");
		}
	cw_walk_result_free(&r);
}

/* An event loop's start-up callees (never seen running) come before its hot callback in the call graph's
 * order; with small batches, the profile's estimate puts the callback in the first batch. */
static void prior_orders_batches(void **st)
{
	static const struct fn fns[] = {
		{ "main", CW_WK_USER, 0.0, 0, 0, { "init1", "init2", "init3", "init4", "init5", "init6", "loop" } },
		{ "init1", CW_WK_USER, 0.0, 0, 0, { 0 } },
		{ "init2", CW_WK_USER, 0.0, 0, 0, { 0 } },
		{ "init3", CW_WK_USER, 0.0, 0, 0, { 0 } },
		{ "init4", CW_WK_USER, 0.0, 0, 0, { 0 } },
		{ "init5", CW_WK_USER, 0.0, 0, 0, { 0 } },
		{ "init6", CW_WK_USER, 0.0, 0, 0, { 0 } },
		{ "loop", CW_WK_USER, 0.1, 0, 10, { "callback" } },
		{ "callback", CW_WK_USER, 0.9, 0, 1000, { 0 } },
	};
	for (int with = 0; with < 2; with++) {
		struct sim s = { fns, sizeof(fns) / sizeof(fns[0]), { "main" }, .with_prior = with };
		struct cw_walk_result r;
		run_sim_batch(&s, 2, &r);
		assert_one_verdict(&r, "main>loop>callback");
		int loop = 7, callback = 8;
		if (with) {
			assert_int_equal(s.first_run[loop], 2); /* right after main's own experiment */
			assert_int_equal(s.first_run[callback], 3);
		} else {
			assert_true(s.first_run[loop] > 3); /* behind the six start-up callees */
		}
		cw_walk_result_free(&r);
	}
}

/* A refined node that later measures clearly under the line is refuted on the new evidence: it is no
 * verdict of 0% (it once was), and its parent is judged without it. */
static void refuted_when_it_fades(void **st)
{
	static const struct fn fns[] = {
		{ "main", CW_WK_USER, 0.0, 0, 0, { "a", "b" } },
		{ "a", CW_WK_USER, 0.50, 0, 10, { "a1" }, false, 1.2 },
		{ "a1", CW_WK_USER, 0.05, 0, 10, { 0 } },
		{ "b", CW_WK_USER, 0.40, 0, 10, { 0 } },
	};
	struct sim s = { fns, sizeof(fns) / sizeof(fns[0]), { "main" } };
	struct cw_walk_result r;
	run_sim(&s, &r);
	assert_one_verdict(&r, "main>b");
	for (size_t i = 0; i < r.nnodes; i++)
		if (!strcmp(r.nodes[i]->name, "a"))
			assert_int_equal(r.nodes[i]->state, CW_WS_FALSE);
	cw_walk_result_free(&r);
}

/* A wrapper's time outside the system call it makes (kernel entry and exit, the wait for a CPU after it)
 * is the call's: the verdict is the system call, in the kernel, not "CPU in user code" in the wrapper. */
static void wrapper_charged_to_its_syscall(void **st)
{
	static const struct fn fns[] = {
		{ "main", CW_WK_USER, 0.0, 0, 0, { "send_all" } },
		{ "send_all", CW_WK_USER, 0.05, 0, 100, { "write" } },
		{ "write", CW_WK_USER, 0.25, 0, 1000, { "sys:write" } },
		{ "sys:write", CW_WK_SYSCALL, 0.20, 0, 1000, { 0 }, false, 0, true },
	};
	struct sim s = { fns, sizeof(fns) / sizeof(fns[0]), { "main" } };
	struct cw_walk_result r;
	run_sim(&s, &r);
	assert_one_verdict(&r, "main>send_all>write>sys:write");
	assert_string_equal(cw_walk_verdict_kind(r.verdicts[0]), "cpu-kernel");
	assert_true(r.verdicts[0]->share > 0.44 && r.verdicts[0]->share < 0.46);
	assert_true(r.verdicts[0]->absorbed > 0.24 && r.verdicts[0]->absorbed < 0.26);
	cw_walk_result_free(&r);
}

static void hysteresis_retests(void **st)
{
	static const struct fn fns[] = {
		{ "main", CW_WK_USER, 0.6, 0, 0, { "near" } },
		{ "near", CW_WK_USER, 0.205, 0, 1, { 0 } },
	};
	struct sim s = { fns, sizeof(fns) / sizeof(fns[0]), { "main" } };
	struct cw_walk_result r;
	run_sim(&s, &r);
	for (size_t i = 0; i < r.nnodes; i++)
		if (!strcmp(r.nodes[i]->name, "near")) {
			assert_int_equal(r.nodes[i]->tests, 2);
			assert_int_equal(r.nodes[i]->state, CW_WS_TRUE);
		}
	cw_walk_result_free(&r);
}

static void exits_too_soon(void **st)
{
	static const struct fn fns[] = { { "main", CW_WK_USER, 1.0, 0, 0, { 0 } } };
	struct sim s = { fns, 1, { "main" }, .exit_at = 0.1 };
	struct cw_walk_result r;
	run_sim(&s, &r);
	assert_int_equal(r.nverdicts, 0);
	assert_true(r.target_exited);
	assert_non_null(strstr(r.note, "too soon"));
	cw_walk_result_free(&r);
}

static void not_busy(void **st)
{
	static const struct fn fns[] = { { "main", CW_WK_USER, 0.05, 0, 0, { 0 } } };
	struct sim s = { fns, 1, { "main" } };
	struct cw_walk_result r;
	run_sim(&s, &r);
	assert_int_equal(r.nverdicts, 0);
	assert_non_null(strstr(r.note, "not busy"));
	cw_walk_result_free(&r);
}

static void json_shape(void **st)
{
	static const struct fn fns[] = {
		{ "main", CW_WK_USER, 0.1, 0, 0, { "x\"y" } },
		{ "x\"y", CW_WK_USER, 0.9, 0, 5, { 0 } },
	};
	struct sim s = { fns, 2, { "main" } };
	struct cw_walk_result r;
	char *buf = NULL;
	size_t len = 0;
	run_sim(&s, &r);
	FILE *f = open_memstream(&buf, &len);
	assert_int_equal(cw_walk_json(&r, f), 0);
	fclose(f);
	assert_non_null(strstr(buf, "\"verdicts\": [\n  {\"kind\": \"cpu-user\", \"share_pct\": 90.00"));
	assert_non_null(strstr(buf, "{\"function\": \"x\\\"y\", \"space\": \"user\", \"share_pct\": 90.00}"));
	assert_non_null(strstr(buf, "\"search\": {"));
	free(buf);
	cw_walk_result_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(deep_cpu_user),	 cmocka_unit_test(into_kernel_blocked),
		cmocka_unit_test(two_bottlenecks_and_self_time), cmocka_unit_test(spread_and_untestable),
		cmocka_unit_test(hysteresis_retests), cmocka_unit_test(refuted_when_it_fades),
		cmocka_unit_test(wrapper_charged_to_its_syscall),
		cmocka_unit_test(prior_orders_batches),	 cmocka_unit_test(exits_too_soon),
		cmocka_unit_test(not_busy),		 cmocka_unit_test(json_shape),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
