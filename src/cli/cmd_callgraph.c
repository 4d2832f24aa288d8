/* `crosswalk callgraph`: print the static callees tree of a function (default main) of a binary or of a
 * running process, with the kind of each site; an inspection tool for the call graph the walk uses. */
#include "cfg/cfg.h"
#include "cli/cli.h"
#include "report/report_int.h" /* cw_json_str */

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
	fprintf(f, "usage: crosswalk callgraph [-p PID | BINARY] [-f FUNCTION] [--depth N] [--json]\n"
		   "  -p, --pid PID        the running process PID (its executable and loaded libraries)\n"
		   "  -f, --function NAME  the root: NAME, OBJECT:NAME (libc.so.6:read) or an address 0x...\n"
		   "                       (default main; found through _start when the binary is stripped)\n"
		   "  -d, --depth N        levels of callees to expand (default 1)\n"
		   "      --json           JSON instead of the indented tree\n"
		   "      --stats          decode every function of the root's object and print counts and time\n");
}

struct cg {
	struct cw_cfg *g;
	struct cw_cfg_scope *sc;
	FILE *out;
	bool json;
	int max_depth;
	/* functions already expanded (so that a shared callee is printed once), and the current path */
	struct done {
		const struct cw_cfg_obj *o;
		uint64_t start;
	} *done, *path;
	size_t ndone, capdone, npath;
};

static uint64_t bias_of(const struct cg *c, const struct cw_cfg_obj *o)
{
	for (size_t i = 0; i < cw_cfg_scope_count(c->sc); i++) {
		uint64_t b;
		if (cw_cfg_scope_obj(c->sc, i, &b) == o)
			return b;
	}
	return 0;
}

static const char *basename_of(const char *p)
{
	const char *s = strrchr(p, '/');
	return s ? s + 1 : p;
}

static bool in_list(const struct done *v, size_t n, const struct cw_cfg_obj *o, uint64_t start)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].o == o && v[i].start == start)
			return true;
	return false;
}

static const char *kind_name(const struct cw_site *s)
{
	static const char *const k[] = { "call", "import", "indirect", "syscall" };
	return s->kind < 4 ? k[s->kind] : "?";
}

/* The function a site leads to (same object, or resolved through the scope), or NULL. */
static const struct cw_func *site_callee(struct cg *c, struct cw_cfg_obj *o, const struct cw_site *s,
					 struct cw_cfg_obj **to)
{
	const struct cw_func *f = NULL;
	*to = o;
	if (s->kind == CW_SITE_CALL && !cw_cfg_func_at(o, s->target, &f) && f->start == s->target)
		return f;
	if (s->kind == CW_SITE_IMPORT && !cw_cfg_scope_resolve(c->sc, s->callee, to, &f))
		return f;
	return NULL;
}

static void print_func(struct cg *c, struct cw_cfg_obj *o, const struct cw_func *f, int depth);

static void print_site(struct cg *c, struct cw_cfg_obj *o, const struct cw_site *s, int depth)
{
	struct cw_cfg_obj *to;
	const struct cw_func *cf = site_callee(c, o, s, &to);
	uint64_t addr = s->addr + bias_of(c, o);
	if (c->json) {
		fprintf(c->out, "{\"kind\":\"%s\",\"tail\":%s,\"addr\":\"0x%llx\",\"callee\":", kind_name(s),
			s->tail ? "true" : "false", (unsigned long long)addr);
		cw_json_str(c->out, s->kind == CW_SITE_CALL && cf ? cf->name : s->callee);
		if (s->kind == CW_SITE_IMPORT) {
			fputs(",\"object\":", c->out);
			cw_json_str(c->out, cf ? cw_cfg_obj_path(to) : NULL);
		}
		if (s->kind == CW_SITE_SYSCALL || s->nr >= 0) {
			fprintf(c->out, ",\"nr\":%d,\"syscall\":", s->nr);
			cw_json_str(c->out, cw_syscall_name(s->nr));
			fputs(",\"kentry\":", c->out);
			cw_json_str(c->out, s->kentry);
		}
	} else {
		fprintf(c->out, "%*s%s", 2 * depth + 2, "", s->tail ? "tail " : "");
		switch (s->kind) {
		case CW_SITE_CALL:
			if (cf)
				fprintf(c->out, "%s%s", s->tail ? "" : "call ", cf->name);
			else if (s->callee) {
				const struct cw_func *in;
				uint64_t off = cw_cfg_func_at(o, s->target, &in) ? 0 : s->target - in->start;
				fprintf(c->out, "%s%s+0x%llx", s->tail ? "" : "call ", s->callee, (unsigned long long)off);
			} else
				fprintf(c->out, "%s0x%llx", s->tail ? "" : "call ", (unsigned long long)s->target);
			break;
		case CW_SITE_IMPORT:
			fprintf(c->out, "plt->%s:%s", cf ? cw_cfg_obj_soname(to) : "?", s->callee);
			if (s->nr >= 0)
				fprintf(c->out, " %s(%d)", cw_syscall_name(s->nr) ? cw_syscall_name(s->nr) : "?", s->nr);
			break;
		case CW_SITE_INDIRECT:
			fprintf(c->out, "indirect@0x%llx", (unsigned long long)addr);
			if (s->callee)
				fprintf(c->out, " (ifunc %s)", s->callee);
			break;
		case CW_SITE_SYSCALL:
			if (s->nr >= 0)
				fprintf(c->out, "syscall %s(%d)", s->callee ? s->callee : "?", s->nr);
			else
				fputs("syscall ?", c->out);
			if (s->kentry)
				fprintf(c->out, " -> %s", s->kentry);
			break;
		}
		if (s->kind != CW_SITE_INDIRECT)
			fprintf(c->out, "  @0x%llx", (unsigned long long)addr);
		if (s->in_cold)
			fputs(" (cold)", c->out);
	}
	if (cf && depth + 1 < c->max_depth) {
		if (in_list(c->path, c->npath, to, cf->start)) {
			fputs(c->json ? ",\"recursive\":true" : "  (recursive)\n", c->out);
		} else if (in_list(c->done, c->ndone, to, cf->start)) {
			fputs(c->json ? ",\"shown_above\":true" : "  (see above)\n", c->out);
		} else {
			if (c->json)
				fputs(",\"function\":", c->out);
			else
				fputc('\n', c->out);
			print_func(c, to, cf, depth + 1);
		}
	} else if (!c->json) {
		fputc('\n', c->out);
	}
	if (c->json)
		fputc('}', c->out);
}

static void print_func(struct cg *c, struct cw_cfg_obj *o, const struct cw_func *f, int depth)
{
	const struct cw_site *sites;
	size_t n;
	uint64_t start, end, b = bias_of(c, o);
	if (cw_cfg_callees(o, f, &sites, &n) || cw_cfg_func_range(o, f, &start, &end)) {
		n = 0;
		start = end = f->start;
	}
	if (c->ndone == c->capdone) {
		c->capdone = c->capdone ? 2 * c->capdone : 64;
		c->done = cw_realloc(c->done, c->capdone * sizeof(*c->done));
	}
	c->done[c->ndone++] = (struct done){ o, f->start };
	c->path = cw_realloc(c->path, (c->npath + 1) * sizeof(*c->path));
	c->path[c->npath++] = (struct done){ o, f->start };
	if (c->json) {
		fputs("{\"function\":", c->out);
		cw_json_str(c->out, f->name);
		fputs(",\"object\":", c->out);
		cw_json_str(c->out, cw_cfg_obj_path(o));
		fprintf(c->out, ",\"start\":\"0x%llx\",\"end\":\"0x%llx\",\"callees\":[", (unsigned long long)(start + b),
			(unsigned long long)(end + b));
	} else if (depth == 0) {
		fprintf(c->out, "%s  (%s 0x%llx-0x%llx)\n", f->name, basename_of(cw_cfg_obj_path(o)),
			(unsigned long long)(start + b), (unsigned long long)(end + b));
	}
	for (size_t i = 0; i < n; i++) {
		if (c->json && i)
			fputc(',', c->out);
		print_site(c, o, &sites[i], depth);
	}
	if (c->json)
		fputs("]}", c->out);
	c->npath--;
}

static int stats(struct cg *c, struct cw_cfg_obj *o)
{
	struct cw_cfg_stats st;
	uint64_t t0 = cw_now_ns();
	int err = cw_cfg_decode_all(o, &st);
	if (err)
		return err;
	fprintf(stderr, "%s: %zu functions, %zu instructions, %zu sites (%zu syscall), %zu stopped early, decoded in %.1f ms\n",
		cw_cfg_obj_path(o), st.funcs, st.insns, st.sites, st.syscalls, st.bad, (cw_now_ns() - t0) / 1e6);
	return 0;
}

int cmd_callgraph(int argc, char **argv)
{
	enum { O_JSON = 256, O_STATS };
	static const struct option opts[] = {
		{ "pid", required_argument, 0, 'p' }, { "function", required_argument, 0, 'f' },
		{ "depth", required_argument, 0, 'd' }, { "json", no_argument, 0, O_JSON },
		{ "stats", no_argument, 0, O_STATS },	{ "help", no_argument, 0, 'h' },
		{ 0 },
	};
	struct cg c = { .out = stdout, .max_depth = 1 };
	struct cw_proc_maps maps = { 0 };
	const char *func = NULL, *bin = NULL;
	long pid = 0;
	int opt, err, ret = CW_EXIT_USAGE, do_stats = 0;
	char *end;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "p:f:d:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'p':
			pid = strtol(optarg, &end, 10);
			if (*end || pid <= 0) {
				cw_err("invalid pid '%s'", optarg);
				return CW_EXIT_USAGE;
			}
			break;
		case 'f': func = optarg; break;
		case 'd':
			c.max_depth = (int)strtol(optarg, &end, 10);
			if (*end || c.max_depth < 1 || c.max_depth > 64) {
				cw_err("invalid depth '%s' (1..64)", optarg);
				return CW_EXIT_USAGE;
			}
			break;
		case O_JSON: c.json = true; break;
		case O_STATS: do_stats = 1; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return CW_EXIT_USAGE;
		}
	}
	if (optind < argc)
		bin = argv[optind++];
	if (optind < argc || !pid == !bin) {
		cw_err("give exactly one target: a BINARY or -p PID (see 'crosswalk callgraph --help')");
		return CW_EXIT_USAGE;
	}
	c.g = cw_cfg_new(NULL);
	if (pid) {
		err = cw_proc_maps_read((pid_t)pid, &maps);
		if (err) {
			cw_err("process %ld: cannot read its maps: %s", pid, strerror(-err));
			goto out;
		}
		err = cw_cfg_scope_proc(c.g, &maps, &c.sc);
		if (err) {
			cw_err("process %ld: no executable ELF mappings", pid);
			goto out;
		}
	} else {
		err = cw_cfg_scope_exe(c.g, bin, &c.sc);
		if (err) {
			cw_err("%s: %s", bin, err == -ENOEXEC ? "not an x86-64 ELF object" : strerror(-err));
			goto out;
		}
	}
	struct cw_cfg_obj *o;
	const struct cw_func *f;
	err = func ? cw_cfg_scope_find(c.sc, func, &o, &f) : cw_cfg_main(o = cw_cfg_scope_obj(c.sc, 0, NULL), &f);
	if (err) {
		cw_err("function '%s' not found in %s%s", func ? func : "main",
		       cw_cfg_obj_path(cw_cfg_scope_obj(c.sc, 0, NULL)),
		       func ? "" : " (no main symbol and no __libc_start_main call at the entry point)");
		goto out;
	}
	if (do_stats && stats(&c, o))
		goto out;
	print_func(&c, o, f, 0);
	if (c.json)
		fputc('\n', c.out);
	ret = 0;
out:
	free(c.done);
	free(c.path);
	cw_cfg_scope_free(c.sc);
	cw_cfg_free(c.g);
	cw_proc_maps_free(&maps);
	return ret;
}
