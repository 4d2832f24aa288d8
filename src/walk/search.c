/* The search itself: timed experiments on batches of hypotheses ("this function holds at least the
 * threshold of the time"), refining the true ones into their children and removing the refuted ones at
 * once, down to the functions whose own time holds the share: the bottlenecks. */
#include "walk/walk.h"
#include "util/util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void cw_walk_opts_default(struct cw_walk_opts *o)
{
	o->threshold = 0.20;
	o->hysteresis = 0.04;
	o->budget = 0.05;
	o->interval = 0.5;
	o->max_seconds = 60;
	o->max_batch = 32;
	o->max_depth = 64;
}

static struct cw_wnode *node_new(struct cw_walk_result *r, struct cw_wnode *parent, const struct cw_wcand *c)
{
	struct cw_wnode *n = cw_calloc(1, sizeof(*n));
	n->name = cw_strdup(c->name);
	n->label = cw_strdup(c->label[0] ? c->label : c->name);
	if (c->kind == CW_WK_USER)
		n->shown = cw_demangle(n->label, true);
	n->kind = c->kind;
	n->absorbs = c->absorbs && parent;
	n->parent = parent;
	n->depth = parent ? parent->depth + 1 : 0;
	n->id = (int)r->nnodes;
	r->nodes = cw_realloc(r->nodes, (r->nnodes + 1) * sizeof(*r->nodes));
	r->nodes[r->nnodes++] = n;
	if (parent) {
		struct cw_wnode **pp = &parent->first_kid;
		while (*pp)
			pp = &(*pp)->next_sib;
		*pp = n;
	}
	return n;
}

/* A child already on the path from the root (recursion) is not tested again: its time is inside the
 * ancestor's. */
static bool on_path(const struct cw_wnode *parent, const char *name)
{
	for (const struct cw_wnode *a = parent; a; a = a->parent)
		if (!strcmp(a->name, name))
			return true;
	return false;
}

static void expand(const struct cw_walk_env *env, const struct cw_walk_opts *o, struct cw_walk_result *r,
		   struct cw_wnode *n)
{
	struct cw_wcand *c = NULL;
	size_t nc = 0;
	n->expanded = true;
	if (n->depth + 1 > o->max_depth)
		return;
	if (env->children(env->ctx, n, &c, &nc) < 0) {
		free(c);
		return;
	}
	for (size_t i = 0; i < nc; i++) {
		bool dup = on_path(n, c[i].name);
		for (struct cw_wnode *k = n->first_kid; k && !dup; k = k->next_sib)
			dup = !strcmp(k->name, c[i].name);
		if (!dup) {
			struct cw_wnode *k = node_new(r, n, &c[i]);
			k->prior = env->prior ? env->prior(env->ctx, k) : -1;
		}
	}
	free(c);
}

/* Batch order: a node the profile saw first (largest estimate first), unknown ones next, those it never saw
 * last; creation order (breadth-first under each parent) among equals. */
static int cmp_prior(const void *a, const void *b)
{
	const struct cw_wnode *x = *(struct cw_wnode *const *)a, *y = *(struct cw_wnode *const *)b;
	double px = x->prior < 0 ? 1e-9 : x->prior, py = y->prior < 0 ? 1e-9 : y->prior;
	if (px != py)
		return px < py ? 1 : -1;
	return x->id - y->id;
}

static void remove_nodes(const struct cw_walk_env *env, struct cw_wnode **v, size_t n)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (v[i]->inserted)
			v[k++] = v[i];
	if (!k)
		return;
	env->remove(env->ctx, v, k);
	for (size_t i = 0; i < k; i++) {
		v[i]->inserted = false;
		v[i]->kept = false;
		v[i]->handle = NULL;
	}
}

static void remove_one(const struct cw_walk_env *env, struct cw_wnode *n)
{
	remove_nodes(env, &n, 1);
}

/* N was refuted after it had been refined: its refined descendants go with it (untested ones are never
 * picked under a refuted parent), and nothing of it stays inserted. */
static void refute_below(const struct cw_walk_env *env, struct cw_wnode *n)
{
	remove_one(env, n);
	n->kept = false;
	for (struct cw_wnode *k = n->first_kid; k; k = k->next_sib) {
		if (k->state == CW_WS_TESTING || k->state == CW_WS_TRUE)
			k->state = CW_WS_FALSE;
		k->verdict = false;
		refute_below(env, k);
	}
}

static bool kid_kept(const struct cw_wnode *n)
{
	for (const struct cw_wnode *k = n->first_kid; k; k = k->next_sib)
		if (k->kept)
			return true;
	return false;
}

static bool kids_decided(const struct cw_wnode *n);

/* A true node whose children are all decided: its own time is what they do not hold; it is a bottleneck
 * when no child holds the threshold or its own time does. Children first: a node is created after its
 * parent, so a parent sees its children finished in the same pass. A node waits while a refined child is
 * still measured (a child is read in its context only while its parent is instrumented, and may yet be
 * refuted on a re-read), unless the search is over (FINAL). */
static void finalize(const struct cw_walk_env *env, const struct cw_walk_opts *o, struct cw_walk_result *r,
		     bool final)
{
	for (size_t i = r->nnodes; i > 0; i--) {
		struct cw_wnode *n = r->nodes[i - 1];
		if (n->state != CW_WS_TRUE || !n->expanded || !n->kept || !kids_decided(n) || n->lows ||
		    (!final && kid_kept(n)))
			continue;
		bool any_true = false;
		n->kids_share = 0;
		for (struct cw_wnode *k = n->first_kid; k; k = k->next_sib) {
			if (k->state == CW_WS_TRUE || k->state == CW_WS_FALSE)
				n->kids_share += k->share;
			any_true |= k->state == CW_WS_TRUE;
		}
		n->self_share = n->share > n->kids_share ? n->share - n->kids_share : 0;
		if (!any_true || n->self_share >= o->threshold)
			n->verdict = true;
		n->kept = false;
		remove_one(env, n);
	}
}

static bool kids_decided(const struct cw_wnode *n)
{
	for (const struct cw_wnode *k = n->first_kid; k; k = k->next_sib)
		if (k->state == CW_WS_UNTESTED || k->state == CW_WS_TESTING)
			return false;
	return true;
}

static void apply_delta(struct cw_wnode *n, const struct cw_wmeas *m1, double dt)
{
	const struct cw_wmeas *m0 = &n->m0;
	uint64_t dcalls = m1->calls >= m0->calls ? m1->calls - m0->calls : 0;
	uint64_t dincl = m1->incl_ns >= m0->incl_ns ? m1->incl_ns - m0->incl_ns : 0;
	n->share = dincl / 1e9 / dt;
	n->calls = dcalls;
	n->mean_ns = dcalls ? (double)dincl / dcalls : 0;
	n->has_split = m1->has_split;
	n->estimated = m1->estimated;
	/* counters are per function, not per calling context: time a function spends under other callers
	 * (or, for a syscall, in other threads) cannot belong to this node beyond its parent's share */
	if (n->parent && n->parent->share > 0 && n->share > n->parent->share) {
		double k = n->parent->share / n->share;
		n->share = n->parent->share;
		n->mean_ns *= k;
		n->clamped = k;
	} else {
		n->clamped = 1;
	}
	if (m1->has_split) {
		/* estimated splits may move back a little between reads: never below zero */
		n->oncpu_share = (m1->oncpu_ns > m0->oncpu_ns ? m1->oncpu_ns - m0->oncpu_ns : 0) / 1e9 / dt;
		n->blocked_share = (m1->blocked_ns > m0->blocked_ns ? m1->blocked_ns - m0->blocked_ns : 0) / 1e9 / dt;
		n->oncpu_share *= n->clamped;
		n->blocked_share *= n->clamped;
	}
}

static int cmp_verdict(const void *a, const void *b)
{
	const struct cw_wnode *x = *(struct cw_wnode *const *)a, *y = *(struct cw_wnode *const *)b;
	double sx = x->first_kid ? x->self_share : x->share, sy = y->first_kid ? y->self_share : y->share;
	int rx = (int)(sx * 100 + 0.5), ry = (int)(sy * 100 + 0.5);
	/* equal shares (threads that each hold 100% of their time): CPU before waiting */
	bool bx = x->kind != CW_WK_USER && x->has_split && x->blocked_share > x->oncpu_share;
	bool by = y->kind != CW_WK_USER && y->has_split && y->blocked_share > y->oncpu_share;
	if (rx != ry)
		return rx < ry ? 1 : -1;
	if (bx != by)
		return bx ? 1 : -1;
	return x->id - y->id;
}

int cw_walk_run(const struct cw_walk_env *env, const struct cw_walk_opts *oin, struct cw_walk_result *r)
{
	struct cw_walk_opts o;
	struct cw_wcand *rc = NULL;
	size_t nrc = 0, cap;
	int err = 0;
	double t_start;
	struct cw_wnode **batch = NULL, **set = NULL;

	cw_walk_opts_default(&o);
	if (oin) {
		if (oin->threshold > 0) o.threshold = oin->threshold;
		if (oin->hysteresis >= 0) o.hysteresis = oin->hysteresis;
		if (oin->budget > 0) o.budget = oin->budget;
		if (oin->interval > 0) o.interval = oin->interval;
		if (oin->max_seconds > 0) o.max_seconds = oin->max_seconds;
		if (oin->max_batch > 0) o.max_batch = oin->max_batch;
		if (oin->max_depth > 0) o.max_depth = oin->max_depth;
	}
	memset(r, 0, sizeof(*r));
	r->threshold = o.threshold;
	cap = (size_t)o.max_batch;
	t_start = env->now(env->ctx);

	if (env->roots(env->ctx, &rc, &nrc) < 0 || !nrc) {
		snprintf(r->note, sizeof(r->note), "no place to start: neither main nor a thread start routine was found");
		free(rc);
		return 0;
	}
	for (size_t i = 0; i < nrc; i++) {
		struct cw_wnode *n = node_new(r, NULL, &rc[i]);
		n->prior = -1;
		r->roots = cw_realloc(r->roots, (r->nroots + 1) * sizeof(*r->roots));
		r->roots[r->nroots++] = n;
	}
	free(rc);

	for (;;) {
		size_t nb = 0, ns = 0;
		double t0, t1, dt, overhead = 0;
		int rr;

		if (env->now(env->ctx) - t_start >= o.max_seconds) {
			snprintf(r->note, sizeof(r->note), "the search stopped at its time limit (%.0f s) with hypotheses untested",
				 o.max_seconds);
			break;
		}
		/* the next batch: the untested children of true nodes, likeliest first (cmp_prior) */
		free(batch);
		batch = cw_calloc(r->nnodes + 1, sizeof(*batch));
		for (size_t i = 0; i < r->nnodes; i++) {
			struct cw_wnode *n = r->nodes[i];
			if (n->state == CW_WS_UNTESTED && (!n->parent || n->parent->state == CW_WS_TRUE))
				batch[nb++] = n;
		}
		/* nothing left to test, but a refined node measured low once is measured once more */
		bool recheck = false;
		for (size_t i = 0; i < r->nnodes && !recheck; i++)
			recheck = r->nodes[i]->state == CW_WS_TRUE && r->nodes[i]->kept && r->nodes[i]->lows;
		if (!nb && !recheck)
			break;
		qsort(batch, nb, sizeof(*batch), cmp_prior);
		if (nb > cap)
			nb = cap;
		if (nb)
			env->insert(env->ctx, batch, nb);
		free(set);
		set = cw_calloc(r->nnodes + 1, sizeof(*set));
		for (size_t i = 0; i < nb; i++) {
			struct cw_wnode *n = batch[i];
			if (n->state == CW_WS_UNTESTABLE)
				continue;
			n->state = CW_WS_TESTING;
			n->inserted = true;
			set[ns++] = n;
		}
		/* parents still instrumented are read in the same interval: their self time follows */
		for (size_t i = 0; i < r->nnodes; i++)
			if (r->nodes[i]->kept && r->nodes[i]->inserted)
				set[ns++] = r->nodes[i];
		if (!ns)
			continue; /* everything in the batch was untestable */
		for (size_t i = 0; i < ns; i++)
			if (env->read(env->ctx, set[i], &set[i]->m0) < 0)
				memset(&set[i]->m0, 0, sizeof(set[i]->m0));
		t0 = env->now(env->ctx);
		rr = env->run(env->ctx, o.interval);
		t1 = env->now(env->ctx);
		dt = t1 - t0;
		r->experiments++;
		if (rr < 0) {
			err = rr;
			snprintf(r->note, sizeof(r->note), "the target could not be measured any more: %s", strerror(-rr));
			break;
		}
		if (dt <= 0)
			dt = 1e-9;
		for (size_t i = 0; i < ns; i++) {
			struct cw_wmeas m1;
			if (env->read(env->ctx, set[i], &m1) < 0)
				m1 = set[i]->m0;
			uint64_t dcalls = m1.calls >= set[i]->m0.calls ? m1.calls - set[i]->m0.calls : 0;
			set[i]->cost_share = dcalls * env->cost_ns(env->ctx, set[i]->kind) / 1e9 / dt;
			overhead += set[i]->cost_share;
			apply_delta(set[i], &m1, dt);
		}
		/* a system call made by its parent's own code (a wrapper) is charged with the parent's time in
		 * the same interval: the rest is the kernel's entry and exit and the wait for a CPU after it */
		for (size_t i = 0; i < ns; i++) {
			/* the inserted nodes are exactly the ones read in this interval */
			struct cw_wnode *n = set[i], *pa = n->parent;
			bool pa_read = pa && pa->inserted;
			n->absorbed = 0;
			if (!n->absorbs || n->share <= 0)
				continue;
			/* once the parent is no longer measured (decided), the ratio last seen holds */
			if (pa_read)
				n->absorb_k = pa->share > n->share ? pa->share / n->share : 1;
			double k = n->absorb_k;
			if (k <= 1)
				continue;
			n->absorbed = n->share * (k - 1);
			n->share *= k;
			n->mean_ns *= k;
			if (n->has_split) {
				/* what the tracepoints did not see was on a CPU or waiting for one: on-CPU */
				n->oncpu_share += n->absorbed;
			}
		}
		if (overhead * 100 > r->overhead_pct)
			r->overhead_pct = overhead * 100;
		/* keep the perturbation under the budget: smaller batches when over it */
		if (overhead > o.budget && cap > 1)
			cap /= 2;
		else if (overhead < o.budget / 4 && cap < (size_t)o.max_batch)
			cap *= 2;
		if (rr == 1 && t1 - t_start < o.interval * 1.5 && r->experiments == 1) {
			r->target_exited = true;
			snprintf(r->note, sizeof(r->note),
				 "the program exited %.2f s into the first experiment, too soon to search: run it longer "
				 "(or give it more work)", dt);
			for (size_t i = 0; i < nb; i++)
				if (batch[i]->state == CW_WS_TESTING)
					batch[i]->state = CW_WS_UNTESTED;
			break;
		}
		/* decide the hypotheses of this batch */
		double hi = o.threshold + o.hysteresis / 2, lo = o.threshold - o.hysteresis / 2;
		for (size_t i = 0; i < nb; i++) {
			struct cw_wnode *n = batch[i];
			if (n->state != CW_WS_TESTING)
				continue;
			n->tests++;
			if (n->share >= hi || (n->share >= o.threshold && n->tests >= 2)) {
				n->state = CW_WS_TRUE;
				n->kept = true;
				expand(env, &o, r, n);
			} else if (n->share < lo || n->tests >= 2) {
				n->state = CW_WS_FALSE;
				remove_one(env, n);
			} else {
				n->state = CW_WS_UNTESTED; /* near the line: test once more rather than flap */
				remove_one(env, n);
			}
		}
		/* kept nodes are measured again in each interval: one that has since fallen clearly under the
		 * line in two intervals running (the load moved, or its time was another context's) is refuted
		 * on the new evidence, with what is under it; once is not enough (one interval of a busy
		 * server, or calls counted to a sibling being tested beside it) */
		for (size_t i = 0; i < r->nnodes; i++) {
			struct cw_wnode *n = r->nodes[i];
			if (n->state != CW_WS_TRUE || !n->kept || !n->parent)
				continue;
			n->lows = n->share < lo ? n->lows + 1 : 0;
			if (n->lows >= 2) {
				n->state = CW_WS_FALSE;
				refute_below(env, n);
			}
		}
		finalize(env, &o, r, false);
		if (rr == 1) {
			r->target_exited = true;
			snprintf(r->note, sizeof(r->note), "the program exited during the search; what was found until then is shown");
			break;
		}
	}
	/* the search ended (time limit, exit): true nodes whose children are all decided are judged now, even
	 * with refined children still measured */
	finalize(env, &o, r, true);
	/* nothing stays inserted */
	for (size_t i = 0; i < r->nnodes; i++)
		if (r->nodes[i]->inserted)
			remove_one(env, r->nodes[i]);
	free(batch);
	free(set);

	for (size_t i = 0; i < r->nnodes; i++)
		if (r->nodes[i]->verdict) {
			r->verdicts = cw_realloc(r->verdicts, (r->nverdicts + 1) * sizeof(*r->verdicts));
			r->verdicts[r->nverdicts++] = r->nodes[i];
		}
	if (r->nverdicts)
		qsort(r->verdicts, r->nverdicts, sizeof(*r->verdicts), cmp_verdict);
	if (!r->nverdicts && !r->note[0]) {
		bool any_true = false;
		for (size_t i = 0; i < r->nroots; i++)
			any_true |= r->roots[i]->state == CW_WS_TRUE;
		if (!any_true)
			snprintf(r->note, sizeof(r->note),
				 "no function holds %.0f%% of the time: the program is not busy in any one place over the threshold",
				 o.threshold * 100);
		else
			snprintf(r->note, sizeof(r->note), "no bottleneck over the threshold was confirmed");
	}
	r->seconds = env->now(env->ctx) - t_start;
	return err;
}

void cw_walk_result_free(struct cw_walk_result *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->nnodes; i++) {
		free(r->nodes[i]->name);
		free(r->nodes[i]->label);
		free(r->nodes[i]->shown);
		free(r->nodes[i]);
	}
	free(r->nodes);
	free(r->roots);
	free(r->verdicts);
	memset(r, 0, sizeof(*r));
}
