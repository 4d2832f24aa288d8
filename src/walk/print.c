/* What the walk prints: the drill-down tree of every tested node with the verdict paths marked, one
 * sentence per verdict, and the same as JSON. */
#include "walk/walk.h"
#include "report/report_int.h"

#include <string.h>

const char *cw_walk_name(const struct cw_wnode *n)
{
	return n->shown ? n->shown : n->label;
}

static const char *space(const struct cw_wnode *n)
{
	return n->kind == CW_WK_USER ? "user" : "kernel";
}

const char *cw_walk_verdict_kind(const struct cw_wnode *n)
{
	/* a user function measured from the profile knows how much of its time its thread was blocked
	 * (in a system call under it that the experiments could not catch open) */
	if (n->has_split && n->blocked_share > n->oncpu_share)
		return "blocked";
	if (n->kind == CW_WK_USER)
		return "cpu-user";
	return "cpu-kernel";
}

static const struct {
	const char *pat, *cls;
} waits[] = {
	{ "futex", "a lock or futex" },	   { "mutex", "a lock or futex" },
	{ "rwsem", "a lock or futex" },	   { "select", "poll/select" },
	{ "poll", "poll/select" },	   { "nanosleep", "sleep" },
	{ "hrtimer", "sleep" },		   { "pipe_read", "a pipe or socket read" },
	{ "pipe_wait", "a pipe or socket read" }, { "sk_wait", "a pipe or socket read" },
	{ "recvmsg", "a pipe or socket read" }, { "unix_stream_read", "a pipe or socket read" },
	{ "accept", "a pipe or socket read" }, { "io_schedule", "I/O" },
	{ "fsync", "I/O" },		   { "sync_file", "I/O" },
	{ "blk", "I/O" },		   { "folio_wait", "I/O" },
	{ "filemap", "I/O" },		   { "jbd2", "I/O" },
	{ "ext4", "I/O" },		   { "wait_on_page", "I/O" },
	{ "fault", "page faults" },	   { "wait4", "a child process" },
};

const char *cw_walk_wait_class(const struct cw_wnode *n)
{
	/* the innermost kernel frame that names what it waits for decides */
	for (const struct cw_wnode *a = n; a && (a->kind != CW_WK_USER || a == n); a = a->parent)
		for (size_t i = 0; i < sizeof(waits) / sizeof(waits[0]); i++)
			if (strstr(a->name, waits[i].pat))
				return waits[i].cls;
	return NULL;
}

static double own(const struct cw_wnode *n)
{
	return n->first_kid ? n->self_share : n->share;
}

void cw_walk_sentence(const struct cw_wnode *n, char *buf, size_t len)
{
	const struct cw_wnode *path[256];
	int np = 0;
	size_t off;
	for (const struct cw_wnode *a = n; a && np < 256; a = a->parent)
		path[np++] = a;
	off = snprintf(buf, len, "%.0f%% of wall time: ", n->share * 100);
	bool in_kernel = false;
	for (int i = np - 1; i >= 0 && off < len; i--) {
		const struct cw_wnode *a = path[i];
		const char *sep = i == np - 1 ? "" : " \u2192 ";
		if (a->kind != CW_WK_USER && !in_kernel && a->kind != CW_WK_SYSCALL) {
			off += snprintf(buf + off, len - off, "%s[kernel] %s", sep, cw_walk_name(a));
			in_kernel = true;
		} else {
			off += snprintf(buf + off, len - off, "%s%s", sep, cw_walk_name(a));
			if (a->kind == CW_WK_SYSCALL)
				in_kernel = false;
		}
	}
	const char *kind = cw_walk_verdict_kind(n), *w = cw_walk_wait_class(n);
	if (off >= len)
		return;
	if (!strcmp(kind, "cpu-user"))
		off += snprintf(buf + off, len - off, ", CPU in user code");
	else if (!strcmp(kind, "cpu-kernel"))
		off += snprintf(buf + off, len - off, ", CPU in the kernel%s%s", w ? " (" : "", w ? w : "");
	else
		off += snprintf(buf + off, len - off, ", blocked in the kernel%s%s", w ? " waiting on " : "", w ? w : "");
	if (off < len && !strcmp(kind, "cpu-kernel") && w)
		off += snprintf(buf + off, len - off, ")");
	bool kid_true = false;
	for (const struct cw_wnode *k = n->first_kid; k; k = k->next_sib)
		kid_true |= k->state == CW_WS_TRUE;
	if (off < len && n->first_kid && !kid_true && n->kids_share > own(n))
		off += snprintf(buf + off, len - off, "; spread over its callees, none of which holds the threshold alone");
	else if (off < len && n->first_kid && own(n) < n->share * 0.999 && n->kind == CW_WK_FAULT)
		/* a fault's own time is what its handlers' stacks do not cover: the exception's delivery and
		 * return, with interrupts off, where the timer's samples land on the first re-enable (sym.h) */
		off += snprintf(buf + off, len - off,
				"; %.0f%% in the fault's entry and exit outside its handler (exception delivery with "
				"interrupts off; on a virtual machine, the hypervisor's part of each fault)",
				own(n) * 100);
	else if (off < len && n->first_kid && own(n) < n->share * 0.999)
		off += snprintf(buf + off, len - off, "; %.0f%% in %s itself", own(n) * 100, cw_walk_name(n));
	if (off < len && n->absorbed >= 0.005)
		off += snprintf(buf + off, len - off,
				"; %.0f%% of wall time between the C library's call and the system call proper "
				"(kernel entry and exit, waiting for a CPU after it)",
				n->absorbed * 100);
	if (off < len && n->calls && n->mean_ns > 0)
		snprintf(buf + off, len - off, " (%.3g ms per call)", n->mean_ns / 1e6);
}

static bool on_verdict_path(const struct cw_walk_result *r, const struct cw_wnode *n)
{
	for (size_t i = 0; i < r->nverdicts; i++)
		for (const struct cw_wnode *a = r->verdicts[i]; a; a = a->parent)
			if (a == n)
				return true;
	return false;
}

static const char *state_word(const struct cw_wnode *n)
{
	switch (n->state) {
	case CW_WS_TRUE: return n->verdict ? "BOTTLENECK" : "refined";
	case CW_WS_FALSE: return "refuted";
	case CW_WS_UNTESTABLE: return "untestable";
	case CW_WS_TESTING: return "testing";
	default: return "untested";
	}
}

static void print_node(const struct cw_walk_result *r, const struct cw_wnode *n, FILE *out)
{
	char pct[16], self[16], calls[24], mean[24], split[32];
	bool mark = on_verdict_path(r, n);
	if (n->state == CW_WS_UNTESTED)
		return;
	if (n->state == CW_WS_UNTESTABLE) {
		fprintf(out, "  %*s%s  (%s)\n", 2 * n->depth + 46, "", cw_walk_name(n), n->why);
		return;
	}
	snprintf(pct, sizeof(pct), "%5.1f%%", n->share * 100);
	if (n->first_kid && n->state == CW_WS_TRUE)
		snprintf(self, sizeof(self), "%5.1f%%", n->self_share * 100);
	else
		snprintf(self, sizeof(self), "%6s", "-");
	if (n->estimated)
		snprintf(calls, sizeof(calls), "%9s", "~");
	else
		snprintf(calls, sizeof(calls), "%9llu", (unsigned long long)n->calls);
	if (n->calls && n->mean_ns > 0)
		snprintf(mean, sizeof(mean), "%9.3gus", n->mean_ns / 1e3);
	else
		snprintf(mean, sizeof(mean), "%11s", "-");
	if (n->has_split)
		snprintf(split, sizeof(split), "%5.1f%% %5.1f%%", n->oncpu_share * 100, n->blocked_share * 100);
	else
		snprintf(split, sizeof(split), "%13s", "");
	fprintf(out, "%s %s %s %s %s %s  %*s%s %s%s%s\n", mark ? "*" : " ", pct, self, calls, mean, split,
		2 * n->depth, "", n->kind == CW_WK_USER ? "[u]" : "[k]", cw_walk_name(n),
		n->state == CW_WS_TRUE && n->verdict ? "   <== " : n->state == CW_WS_FALSE ? "   (" : "",
		n->state == CW_WS_TRUE && n->verdict ? "bottleneck" : n->state == CW_WS_FALSE ? "refuted)" : "");
	for (const struct cw_wnode *k = n->first_kid; k; k = k->next_sib)
		print_node(r, k, out);
}

void cw_walk_print(const struct cw_walk_result *r, FILE *out)
{
	char s[1024];
	fprintf(out, "%d experiments in %.1f s; threshold %.0f%%; largest perturbation of the target %.2f%%\n\n",
		r->experiments, r->seconds, r->threshold * 100, r->overhead_pct);
	fprintf(out, "   share   self     calls   mean/call on-CPU blocked  function\n");
	for (size_t i = 0; i < r->nroots; i++)
		print_node(r, r->roots[i], out);
	fprintf(out, "\n");
	if (!r->nverdicts)
		fprintf(out, "No verdict: %s\n", r->note);
	for (size_t i = 0; i < r->nverdicts; i++) {
		cw_walk_sentence(r->verdicts[i], s, sizeof(s));
		fprintf(out, "Bottleneck %zu: %s\n", i + 1, s);
	}
	if (r->nverdicts && r->note[0])
		fprintf(out, "Note: %s\n", r->note);
}

int cw_walk_json(const struct cw_walk_result *r, FILE *out)
{
	char s[1024];
	fprintf(out, "{\"verdicts\": [");
	for (size_t i = 0; i < r->nverdicts; i++) {
		const struct cw_wnode *v = r->verdicts[i], *path[256];
		int np = 0;
		const char *w = cw_walk_wait_class(v);
		for (const struct cw_wnode *a = v; a && np < 256; a = a->parent)
			path[np++] = a;
		cw_walk_sentence(v, s, sizeof(s));
		fprintf(out, "%s\n  {\"kind\": \"%s\", \"share_pct\": %.2f, \"self_pct\": %.2f, \"waits_on\": ", i ? "," : "",
			cw_walk_verdict_kind(v), v->share * 100, own(v) * 100);
		if (w)
			cw_json_str(out, w);
		else
			fprintf(out, "null");
		fprintf(out, ", \"sentence\": ");
		cw_json_str(out, s);
		fprintf(out, ", \"path\": [");
		for (int k = np - 1; k >= 0; k--) {
			fprintf(out, "%s{\"function\": ", k == np - 1 ? "" : ", ");
			cw_json_str(out, cw_walk_name(path[k]));
			fprintf(out, ", \"space\": \"%s\", \"share_pct\": %.2f}", space(path[k]), path[k]->share * 100);
		}
		fprintf(out, "]}");
	}
	fprintf(out, "],\n \"nodes\": [");
	bool first = true;
	for (size_t i = 0; i < r->nnodes; i++) {
		const struct cw_wnode *n = r->nodes[i];
		if (n->state == CW_WS_UNTESTED)
			continue;
		fprintf(out, "%s\n  {\"id\": %d, \"parent\": %d, \"function\": ", first ? "" : ",", n->id,
			n->parent ? n->parent->id : -1);
		first = false;
		cw_json_str(out, cw_walk_name(n));
		fprintf(out, ", \"instrumented\": ");
		cw_json_str(out, n->name);
		fprintf(out, ", \"space\": \"%s\", \"state\": \"%s\", \"share_pct\": %.2f, \"self_pct\": %.2f, "
			     "\"calls\": %llu, \"mean_ns\": %.0f, \"estimated\": %s",
			space(n), state_word(n), n->share * 100, own(n) * 100, (unsigned long long)n->calls, n->mean_ns,
			n->estimated ? "true" : "false");
		if (n->has_split)
			fprintf(out, ", \"oncpu_pct\": %.2f, \"blocked_pct\": %.2f", n->oncpu_share * 100,
				n->blocked_share * 100);
		if (n->absorbed > 0)
			fprintf(out, ", \"entry_exit_pct\": %.2f", n->absorbed * 100);
		if (n->state == CW_WS_UNTESTABLE) {
			fprintf(out, ", \"why\": ");
			cw_json_str(out, n->why);
		}
		fprintf(out, "}");
	}
	fprintf(out, "],\n \"search\": {\"seconds\": %.3f, \"overhead_pct\": %.3f, \"experiments\": %d, "
		     "\"threshold_pct\": %.1f, \"target_exited\": %s, \"note\": ",
		r->seconds, r->overhead_pct, r->experiments, r->threshold * 100, r->target_exited ? "true" : "false");
	cw_json_str(out, r->note);
	fprintf(out, "}}\n");
	return ferror(out) ? -1 : 0;
}
