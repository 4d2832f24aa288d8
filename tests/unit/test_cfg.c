/* Unit tests for src/cfg: exact callee sets and kinds of the cfgtest/cfgvirt workloads (gcc and clang, -O0
 * and -O2), PLT resolution in exe and process scopes, libc's syscall wrappers, callers, reachability, the
 * syscall table against /proc/kallsyms, and every call/syscall instruction objdump sees in a Debian binary. */
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
#include "cfg/cfg.h"
#include "cfg/cfg_int.h"
#include "util/util.h"

static char wl_dir[4096];

static void wl(char *out, size_t n, const char *name)
{
	snprintf(out, n, "%s/cfg/%s", wl_dir, name);
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The sites of F as a sorted, comma-separated list of "KIND NAME" ("call leaf", "tail tail_target",
 * "import puts", "tail-import syscall 110", "indirect", "syscall 39"), with " (cold)" for .cold parts. */
static char *sites_str(struct cw_cfg_obj *o, const struct cw_func *f)
{
	const struct cw_site *s;
	size_t n;
	assert_int_equal(cw_cfg_callees(o, f, &s, &n), 0);
	char **v = calloc(n + 1, sizeof(*v));
	for (size_t i = 0; i < n; i++) {
		char buf[256], nr[16] = "";
		const char *t = s[i].tail ? "tail" : "", *dash = s[i].tail && s[i].kind != CW_SITE_CALL ? "-" : "";
		if (s[i].nr >= 0)
			snprintf(nr, sizeof(nr), " %d", s[i].nr);
		switch (s[i].kind) {
		case CW_SITE_CALL: snprintf(buf, sizeof(buf), "%s %s", s[i].tail ? "tail" : "call", s[i].callee); break;
		case CW_SITE_IMPORT: snprintf(buf, sizeof(buf), "%s%simport %s%s", t, dash, s[i].callee, nr); break;
		case CW_SITE_INDIRECT: snprintf(buf, sizeof(buf), "%s%sindirect", t, dash); break;
		case CW_SITE_SYSCALL: snprintf(buf, sizeof(buf), "syscall%s", nr); break;
		}
		if (s[i].in_cold)
			strcat(buf, " (cold)");
		v[i] = strdup(buf);
	}
	qsort(v, n, sizeof(*v), str_cmp);
	char *out = calloc(1, 4096);
	for (size_t i = 0; i < n; i++) {
		if (i)
			strcat(out, ", ");
		strncat(out, v[i], 4000 - strlen(out));
		free(v[i]);
	}
	free(v);
	return out;
}

static void expect(struct cw_cfg_obj *o, const char *func, const char *want)
{
	const struct cw_func *f;
	if (cw_cfg_func(o, func, &f))
		fail_msg("%s: no function %s", cw_cfg_obj_path(o), func);
	char *got = sites_str(o, f);
	if (strcmp(got, want))
		fail_msg("%s: %s: got [%s], want [%s]", cw_cfg_obj_path(o), func, got, want);
	free(got);
}

/* The instruction bytes at a site: a tail call is a jmp (e9/eb rel, ff /4), a call e8 or ff /2, a syscall
 * 0f 05: what objdump would show, checked without it. */
static void check_bytes(struct cw_cfg_obj *o, const char *func)
{
	const struct cw_func *f;
	const struct cw_site *s;
	size_t n, avail;
	assert_int_equal(cw_cfg_func(o, func, &f), 0);
	assert_int_equal(cw_cfg_callees(o, f, &s, &n), 0);
	for (size_t i = 0; i < n; i++) {
		const uint8_t *p = cw_cfg_code(o, s[i].addr, &avail);
		assert_non_null(p);
		assert_true(avail >= s[i].len);
		size_t k = p[0] == 0xf2 || p[0] == 0x3e ? 1 : 0; /* bnd / notrack prefixes */
		uint8_t reg = (p[k + 1] >> 3) & 7;
		if (s[i].kind == CW_SITE_SYSCALL)
			assert_true(p[0] == 0x0f && p[1] == 0x05);
		else if (s[i].tail)
			assert_true(p[k] == 0xe9 || p[k] == 0xeb || (p[k] >= 0x70 && p[k] <= 0x7f) || p[k] == 0x0f ||
				    (p[k] == 0xff && reg == 4));
		else
			assert_true(p[k] == 0xe8 || (p[k] == 0xff && reg == 2) || (p[k] == 0x41 && p[k + 1] == 0xff));
	}
}

static void workload_c(void **state)
{
	static const char *const variants[] = { "gcc-O0", "gcc-O2", "clang-O0", "clang-O2", "noplt" };
	for (size_t v = 0; v < 5; v++) {
		char path[4200];
		/* noplt: gcc -O2 -fno-plt, the same graph through GOT loads instead of PLT stubs */
		bool o2 = strstr(variants[v], "O0") == NULL, clang = strstr(variants[v], "clang") != NULL;
		snprintf(path, sizeof(path), "%s/cfg/cfgtest-%s", wl_dir, variants[v]);
		struct cw_cfg *g = cw_cfg_new(NULL);
		struct cw_cfg_obj *o;
		assert_int_equal(cw_cfg_open(g, path, &o), 0);
		expect(o, "main",
		       "call check, call io, call leaf, call raw_getpid, call sw, call tail_caller, call use_fp, "
		       "call via_syscall");
		expect(o, "leaf", "");
		expect(o, "tail_target", "");
		expect(o, "tail_caller", o2 ? "tail tail_target" : "call tail_target");
		expect(o, "raw_getpid", "syscall 39");
		expect(o, "via_syscall", o2 ? "tail-import syscall 110" : "import syscall 110");
		expect(o, "use_fp", "indirect");
		expect(o, "sw", ""); /* its jump table is not a call */
		expect(o, "check", o2 && !clang ? "call rare (cold), import puts (cold)" : "call rare, import puts");
		expect(o, "io", clang && !o2 ? "import memset, import puts, import read, import select"
					      : "import puts, import read, import select");
		const char *fns[] = { "main", "tail_caller", "raw_getpid", "via_syscall", "use_fp", "io", "check" };
		for (size_t i = 0; i < sizeof(fns) / sizeof(fns[0]); i++)
			check_bytes(o, fns[i]);
		/* the syscall site's kernel entry */
		const struct cw_func *f;
		const struct cw_site *s;
		size_t n;
		assert_int_equal(cw_cfg_func(o, "raw_getpid", &f), 0);
		assert_int_equal(cw_cfg_callees(o, f, &s, &n), 0);
		assert_string_equal(s[0].callee, "getpid");
		assert_string_equal(s[0].kentry, "__x64_sys_getpid");
		/* the range covers the function as nm sizes it */
		uint64_t a, b;
		assert_int_equal(cw_cfg_func_range(o, f, &a, &b), 0);
		assert_int_equal(a, f->start);
		assert_true(b > a && (!f->size || b == a + f->size));
		if (!clang && o2) { /* check.cold: code of check, no entry of its own */
			assert_int_equal(cw_cfg_func(o, "check.cold", &f), 0);
			assert_true(f->midframe);
			assert_int_equal(cw_cfg_func_range(o, f, &a, &b), -EINVAL);
		}
		cw_cfg_free(g);
	}
}

static void workload_cxx(void **state)
{
	static const char *const variants[] = { "gcc-O0", "gcc-O2", "clang-O0", "clang-O2" };
	for (size_t v = 0; v < 4; v++) {
		char path[4200];
		snprintf(path, sizeof(path), "%s/cfg/cfgvirt-%s", wl_dir, variants[v]);
		struct cw_cfg *g = cw_cfg_new(NULL);
		struct cw_cfg_obj *o;
		assert_int_equal(cw_cfg_open(g, path, &o), 0);
		/* v[i]->area(): one call through the vtable */
		expect(o, "_Z5totalPKPK5Shapei", "indirect");
		check_bytes(o, "_Z5totalPKPK5Shapei");
		/* a pointer-to-member call, last: a tail call at -O2 even though a branch joins just before
		 * the jmp (the block start was unknown when the jmp was met in the sweep) */
		expect(o, "_Z4dialPK6Dialer", strstr(variants[v], "O2") ? "call _Z8complaini, call _Z8complaini, tail-indirect"
									 : "call _Z8complaini, call _Z8complaini, indirect");
		const struct cw_func *f;
		const struct cw_site *s;
		size_t n;
		bool found = false;
		assert_int_equal(cw_cfg_main(o, &f), 0);
		assert_int_equal(cw_cfg_callees(o, f, &s, &n), 0);
		for (size_t i = 0; i < n; i++)
			found |= s[i].kind == CW_SITE_CALL && !strcmp(s[i].callee, "_Z5totalPKPK5Shapei");
		assert_true(found);
		cw_cfg_free(g);
	}
}

static void callers(void **state)
{
	char path[4200];
	wl(path, sizeof(path), "cfgtest-gcc-O2");
	struct cw_cfg *g = cw_cfg_new(NULL);
	struct cw_cfg_obj *o;
	const struct cw_func *f;
	const struct cw_caller *c;
	size_t n;
	assert_int_equal(cw_cfg_open(g, path, &o), 0);
	assert_int_equal(cw_cfg_func(o, "tail_target", &f), 0);
	assert_int_equal(cw_cfg_callers(o, f, &c, &n), 0);
	assert_int_equal(n, 1); /* the function pointer in main is not a call */
	assert_string_equal(c[0].func->name, "tail_caller");
	assert_true(c[0].site->tail);
	assert_int_equal(cw_cfg_func(o, "rare", &f), 0);
	assert_int_equal(cw_cfg_callers(o, f, &c, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(c[0].func->name, "check"); /* through check.cold */
	assert_true(c[0].site->in_cold);
	assert_int_equal(cw_cfg_func(o, "main", &f), 0);
	assert_int_equal(cw_cfg_callers(o, f, &c, &n), 0);
	assert_int_equal(n, 0);
	cw_cfg_free(g);
}

/* libc's wrappers enter the kernel with their numbers; select is pselect6 since glibc 2.33's wrapper. */
static void libc_wrappers(void **state)
{
	struct cw_cfg *g = cw_cfg_new(NULL);
	struct cw_cfg_obj *o;
	const struct cw_func *f;
	const struct cw_site *s;
	size_t n;
	assert_int_equal(cw_cfg_open(g, "/lib/x86_64-linux-gnu/libc.so.6", &o), 0);
	static const struct {
		const char *fn;
		int nr, alt;
	} w[] = { { "read", 0, 0 },	       { "write", 1, 1 },	  { "__libc_read", 0, 0 }, { "fsync", 74, 74 },
		  { "select", 270, 23 }, { "getpid", 39, 39 }, { "epoll_wait", 232, 281 } };
	for (size_t i = 0; i < sizeof(w) / sizeof(w[0]); i++) {
		assert_int_equal(cw_cfg_func(o, w[i].fn, &f), 0);
		assert_int_equal(cw_cfg_callees(o, f, &s, &n), 0);
		size_t nsys = 0;
		for (size_t k = 0; k < n; k++) {
			if (s[k].kind != CW_SITE_SYSCALL)
				continue;
			nsys++;
			if (s[k].nr != w[i].nr && s[k].nr != w[i].alt)
				fail_msg("%s: syscall site 0x%llx has nr %d, want %d", w[i].fn, (unsigned long long)s[k].addr,
					 s[k].nr, w[i].nr);
			assert_string_equal(s[k].callee, cw_syscall_name(s[k].nr));
		}
		if (!nsys)
			fail_msg("%s: no syscall site", w[i].fn);
	}
	/* syscall(): the number comes in %rdi, so its site's number is unknown */
	assert_int_equal(cw_cfg_func(o, "syscall", &f), 0);
	assert_int_equal(cw_cfg_callees(o, f, &s, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(s[0].kind, CW_SITE_SYSCALL);
	assert_int_equal(s[0].nr, -1);
	cw_cfg_free(g);
}

static void scopes(void **state)
{
	char path[4200];
	wl(path, sizeof(path), "cfgtest-gcc-O2");
	struct cw_cfg *g = cw_cfg_new(NULL);
	struct cw_cfg_scope *sc;
	struct cw_cfg_obj *o, *lib;
	const struct cw_func *f, *io, *lf;
	struct cw_cfg_reach r;
	assert_int_equal(cw_cfg_scope_exe(g, path, &sc), 0);
	assert_true(cw_cfg_scope_count(sc) >= 2); /* the exe, libc, ld.so */
	o = cw_cfg_scope_obj(sc, 0, NULL);
	assert_string_equal(cw_cfg_obj_soname(cw_cfg_scope_obj(sc, 1, NULL)), "libc.so.6");
	assert_int_equal(cw_cfg_scope_resolve(sc, "puts", &lib, &f), 0);
	assert_string_equal(cw_cfg_obj_soname(lib), "libc.so.6");
	assert_int_equal(cw_cfg_scope_resolve(sc, "no_such_function_here", &lib, &f), -ENOENT);
	/* io -> read@plt -> libc read, which has the syscall: depth 1; not without the scope */
	assert_int_equal(cw_cfg_func(o, "io", &io), 0);
	assert_int_equal(cw_cfg_reaches_syscall(o, sc, io, 3, &r), 1);
	assert_int_equal(r.depth, 1);
	assert_ptr_equal(r.obj, lib);
	assert_int_equal(r.site->kind, CW_SITE_SYSCALL);
	/* the path: io, then (first in io's site order that reaches one at depth 1) select's wrapper */
	assert_ptr_equal(r.path[0].func, io);
	assert_ptr_equal(r.path[0].obj, o);
	assert_int_equal(r.path[0].site->kind, CW_SITE_IMPORT);
	assert_string_equal(r.path[0].site->callee, "select");
	assert_ptr_equal(r.path[1].func, r.func);
	assert_ptr_equal(r.path[1].site, r.site);
	assert_true(r.site->nr == 270 || r.site->nr == 23); /* pselect6 since glibc 2.33 */
	assert_int_equal(cw_cfg_reaches_syscall(o, NULL, io, 3, &r), 0);
	assert_int_equal(cw_cfg_reaches_syscall(o, sc, io, 0, &r), 0);
	/* main reaches raw_getpid's syscall in its own object, one level down */
	assert_int_equal(cw_cfg_main(o, &f), 0);
	assert_int_equal(cw_cfg_reaches_syscall(o, NULL, f, 2, &r), 1);
	assert_int_equal(r.depth, 1);
	assert_string_equal(r.func->name, "raw_getpid");
	assert_int_equal(r.site->nr, 39);
	assert_ptr_equal(r.path[0].func, f);
	assert_int_equal(r.path[0].site->kind, CW_SITE_CALL);
	assert_string_equal(r.path[0].site->callee, "raw_getpid");
	assert_int_equal(cw_cfg_func(o, "leaf", &lf), 0);
	assert_int_equal(cw_cfg_reaches_syscall(o, sc, lf, 5, &r), 0);
	/* names as the commands write them, and back */
	char spec[256];
	assert_int_equal(cw_cfg_scope_find(sc, "leaf", &lib, &f), 0);
	assert_ptr_equal(f, lf);
	cw_cfg_scope_spec(sc, lib, f, spec, sizeof(spec));
	assert_string_equal(spec, "leaf");
	assert_int_equal(cw_cfg_scope_find(sc, "libc.so.6:fsync", &lib, &f), 0);
	cw_cfg_scope_spec(sc, lib, f, spec, sizeof(spec));
	assert_string_equal(spec, "libc.so.6:fsync");
	assert_int_equal(cw_cfg_scope_find(sc, "/lib/x86_64-linux-gnu/libc.so.6:fsync", &lib, &f), 0);
	assert_int_equal(cw_cfg_scope_find(sc, "fsync", &lib, &f), 0); /* not in the exe: libc's */
	assert_string_equal(cw_cfg_obj_soname(lib), "libc.so.6");
	char addr[32];
	snprintf(addr, sizeof(addr), "0x%llx", (unsigned long long)lf->start + 1);
	assert_int_equal(cw_cfg_scope_find(sc, addr, &lib, &f), 0);
	assert_ptr_equal(f, lf);
	assert_int_equal(cw_cfg_scope_find(sc, "0xzz", &lib, &f), -EINVAL);
	assert_int_equal(cw_cfg_scope_find(sc, "nolib.so:leaf", &lib, &f), -ENOENT);
	/* who calls libc's puts: the workload's io and check (its .cold part at gcc -O2), through the PLT */
	struct cw_cfg_xcaller *xc;
	size_t nx;
	assert_int_equal(cw_cfg_scope_find(sc, "libc.so.6:puts", &lib, &f), 0);
	assert_int_equal(cw_cfg_scope_callers(sc, lib, f, &xc, &nx), 0);
	size_t from_exe = 0;
	bool io_seen = false, check_seen = false;
	for (size_t i = 0; i < nx; i++) {
		if (xc[i].obj != o)
			continue;
		from_exe++;
		io_seen |= !strcmp(xc[i].func->name, "io");
		check_seen |= !strcmp(xc[i].func->name, "check");
		assert_int_equal(xc[i].site->kind, CW_SITE_IMPORT);
	}
	assert_int_equal(from_exe, 2);
	assert_true(io_seen && check_seen);
	free(xc);
	cw_cfg_scope_free(sc);

	/* this process: the executable first, libc resolving read, biases that give runtime addresses */
	struct cw_proc_maps m;
	assert_int_equal(cw_proc_maps_read(getpid(), &m), 0);
	assert_int_equal(cw_cfg_scope_proc(g, &m, &sc), 0);
	char exe[4096];
	ssize_t l = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	assert_true(l > 0);
	exe[l] = 0;
	assert_string_equal(cw_cfg_obj_path(cw_cfg_scope_obj(sc, 0, NULL)), exe);
	assert_int_equal(cw_cfg_scope_resolve(sc, "read", &lib, &f), 0);
	assert_string_equal(cw_cfg_obj_soname(lib), "libc.so.6");
	uint64_t bias = 1;
	for (size_t i = 0; i < cw_cfg_scope_count(sc); i++)
		if (cw_cfg_scope_obj(sc, i, &bias) == lib)
			break;
	ssize_t (*rd)(int, void *, size_t) = read;
	assert_int_equal(f->start + bias, (uint64_t)(uintptr_t)rd);
	assert_int_equal(cw_cfg_scope_func_at(sc, (uint64_t)(uintptr_t)rd + 3, &o, &f), 0);
	assert_ptr_equal(o, lib);
	assert_int_equal(f->start + bias, (uint64_t)(uintptr_t)rd);
	cw_cfg_scope_free(sc);
	cw_proc_maps_free(&m);
	cw_cfg_free(g);
}

/* ld.so's binding: a library's PLT call to its own export binds to itself, unless the executable (exported
 * with -rdynamic) interposes; the library is found through RUNPATH $ORIGIN. */
static void interposition(void **state)
{
	char path[4200];
	struct cw_cfg *g = cw_cfg_new(NULL);
	struct cw_cfg_scope *sc;
	struct cw_cfg_obj *o, *lib, *def;
	const struct cw_func *f;
	struct cw_cfg_xcaller *xc;
	size_t nx;
	wl(path, sizeof(path), "libcfglib.so");
	assert_int_equal(cw_cfg_scope_exe(g, path, &sc), 0);
	lib = cw_cfg_scope_obj(sc, 0, NULL);
	expect(lib, "api_a", "import api_b");
	assert_int_equal(cw_cfg_scope_resolve(sc, "api_b", &def, &f), 0);
	assert_ptr_equal(def, lib);
	cw_cfg_scope_free(sc);

	wl(path, sizeof(path), "cfginterpose");
	assert_int_equal(cw_cfg_scope_exe(g, path, &sc), 0);
	o = cw_cfg_scope_obj(sc, 0, NULL);
	assert_ptr_equal(cw_cfg_scope_obj(sc, 1, NULL), lib); /* DT_NEEDED order: libcfglib.so, then libc */
	assert_string_equal(cw_cfg_obj_soname(cw_cfg_scope_obj(sc, 2, NULL)), "libc.so.6");
	assert_int_equal(cw_cfg_scope_resolve(sc, "api_b", &def, &f), 0);
	assert_ptr_equal(def, o);
	assert_int_equal(cw_cfg_scope_resolve(sc, "api_a", &def, &f), 0);
	assert_ptr_equal(def, lib);
	/* the exe's api_b is called from the library; the library's api_b from nobody in this scope */
	assert_int_equal(cw_cfg_func(o, "api_b", &f), 0);
	assert_int_equal(cw_cfg_scope_callers(sc, o, f, &xc, &nx), 0);
	assert_int_equal(nx, 1);
	assert_ptr_equal(xc[0].obj, lib);
	assert_string_equal(xc[0].func->name, "api_a");
	free(xc);
	assert_int_equal(cw_cfg_func(lib, "api_b", &f), 0);
	assert_int_equal(cw_cfg_scope_callers(sc, lib, f, &xc, &nx), 0);
	assert_int_equal(nx, 0);
	free(xc);
	cw_cfg_scope_free(sc);
	cw_cfg_free(g);
}

/* Every x86-64 syscall number has a name, and its kernel entry is a function of this kernel. */
static void syscall_table(void **state)
{
	assert_int_equal(cw_syscall_nr("read"), 0);
	assert_int_equal(cw_syscall_nr("getpid"), 39);
	assert_int_equal(cw_syscall_nr("pselect6"), 270);
	assert_int_equal(cw_syscall_nr("no_such_syscall"), -ENOENT);
	assert_null(cw_syscall_name(-1));
	assert_null(cw_syscall_name(100000));
	assert_string_equal(cw_syscall_kentry(63), "__x64_sys_newuname");
	assert_true(cw_syscall_max() >= 334); /* rseq */
	struct cw_syms *sy = cw_syms_new();
	uint64_t a, sz;
	if (cw_syms_kernel_find(sy, "__x64_sys_read", &a, &sz)) {
		cw_syms_free(sy);
		skip(); /* kallsyms hidden */
	}
	for (int nr = 0; nr <= cw_syscall_max(); nr++) {
		const char *e = cw_syscall_kentry(nr);
		if (!cw_syscall_name(nr) || !e)
			continue;
		if (cw_syms_kernel_find(sy, e, &a, &sz))
			fail_msg("syscall %d (%s): kernel entry %s not in /proc/kallsyms", nr, cw_syscall_name(nr), e);
	}
	cw_syms_free(sy);
}

/* A stripped Debian executable: main found through _start, its PLT calls named. */
static void stripped_main(void **state)
{
	struct cw_cfg *g = cw_cfg_new(NULL);
	struct cw_cfg_obj *o;
	const struct cw_func *f;
	assert_int_equal(cw_cfg_open(g, "/usr/bin/ls", &o), 0);
	assert_int_equal(cw_cfg_func(o, "main", &f), -ENOENT); /* no symtab */
	assert_int_equal(cw_cfg_main(o, &f), 0);
	char *got = sites_str(o, f);
	assert_non_null(strstr(got, "import setlocale"));
	assert_non_null(strstr(got, "import getopt_long"));
	free(got);
	assert_int_equal(cw_cfg_open(g, "/etc/passwd", &o), -ENOEXEC);
	assert_int_equal(cw_cfg_open(g, "/no/such/file", &o), -ENOENT);
	cw_cfg_free(g);
}

/* Every call and syscall instruction objdump finds in /usr/bin/ls is a site, and every site is one. */
static void objdump_agrees(void **state)
{
	const char *bin = "/usr/bin/ls";
	struct cw_cfg *g = cw_cfg_new(NULL);
	struct cw_cfg_obj *o;
	struct cw_cfg_stats st;
	assert_int_equal(cw_cfg_open(g, bin, &o), 0);
	assert_int_equal(cw_cfg_decode_all(o, &st), 0);
	assert_int_equal(st.bad, 0);
	/* every site of kind call (not tail) keyed by address; the sites of the code in .cold parts (here
	 * unnamed, found by their unwind info) count with the functions they belong to, once */
	size_t cap = 4096, n = 0, parts = 0, stubs = 0;
	uint64_t *mine = malloc(cap * sizeof(*mine));
	for (size_t i = 0; i < o->nfuncs; i++) {
		/* a lazy PLT stub is one import (its jmp to .plt[0] is no site, not a jump into a part) */
		const char *at = strstr(o->funcs[i].name, "@plt");
		if (at && !at[4]) {
			cw_cfg_decode_idx(o, i);
			assert_int_equal(o->fs[i].n, 1);
			assert_int_equal(o->fs[i].sites[0].kind, CW_SITE_IMPORT);
			assert_true(o->fs[i].sites[0].tail);
			assert_int_equal(strncmp(o->fs[i].sites[0].callee, o->funcs[i].name, at - o->funcs[i].name), 0);
			stubs++;
		}
		if (cw_cfg_is_part(&o->funcs[i])) {
			parts++;
			continue;
		}
		for (size_t k = 0; k < o->fs[i].n; k++) {
			const struct cw_site *s = &o->fs[i].sites[k];
			if (s->tail)
				continue;
			if (n == cap)
				mine = realloc(mine, (cap *= 2) * sizeof(*mine));
			mine[n++] = s->addr;
		}
	}
	FILE *p = popen("objdump -d --no-show-raw-insn /usr/bin/ls 2>/dev/null", "r");
	char line[512];
	size_t theirs = 0, missing = 0;
	assert_non_null(p);
	while (fgets(line, sizeof(line), p)) {
		unsigned long long a;
		char mn[32];
		if (sscanf(line, " %llx: %31s", &a, mn) != 2 || (strcmp(mn, "call") && strcmp(mn, "syscall")))
			continue;
		/* only code inside the function table's extents (objdump also walks .init/.plt) */
		const struct cw_func *f;
		if (cw_cfg_func_at(o, a, &f))
			continue;
		theirs++;
		bool found = false;
		for (size_t i = 0; i < n && !found; i++)
			found = mine[i] == a;
		if (!found && missing++ < 5)
			print_message("objdump call/syscall at 0x%llx is not a site\n", a);
	}
	pclose(p);
	assert_true(theirs > 100);
	assert_true(parts > 5);
	assert_true(stubs > 50);
	assert_int_equal(missing, 0);
	assert_int_equal(theirs, n);
	free(mine);
	cw_cfg_free(g);
}

/* Speeds, printed (tests check correctness, not timings): main's callees in a large binary from a cold
 * cache, and decoding all of libc. */
static void speed(void **state)
{
	const char *big = access("/usr/sbin/squid", R_OK) ? "/usr/bin/python3.11" : "/usr/sbin/squid";
	if (access(big, R_OK))
		skip();
	uint64_t t0 = cw_now_ns();
	struct cw_cfg *g = cw_cfg_new(NULL);
	struct cw_cfg_obj *o;
	const struct cw_func *f;
	const struct cw_site *s;
	size_t n;
	assert_int_equal(cw_cfg_open(g, big, &o), 0);
	uint64_t t1 = cw_now_ns();
	assert_int_equal(cw_cfg_main(o, &f), 0);
	assert_int_equal(cw_cfg_callees(o, f, &s, &n), 0);
	uint64_t t2 = cw_now_ns();
	print_message("%s: open (function table) %.1f ms, main's %zu callees %.3f ms\n", big, (t1 - t0) / 1e6, n,
		      (t2 - t1) / 1e6);
	struct cw_cfg_stats st;
	assert_int_equal(cw_cfg_open(g, "/lib/x86_64-linux-gnu/libc.so.6", &o), 0);
	uint64_t t3 = cw_now_ns();
	assert_int_equal(cw_cfg_decode_all(o, &st), 0);
	uint64_t t4 = cw_now_ns();
	print_message("libc: %zu functions, %zu instructions, %zu sites, %zu syscall sites decoded in %.1f ms "
		      "(%.1f M instructions/s)\n",
		      st.funcs, st.insns, st.sites, st.syscalls, (t4 - t3) / 1e6, st.insns / ((t4 - t3) / 1e3));
	assert_true(st.syscalls > 100);
	cw_cfg_free(g);
}

int main(void)
{
	const char *d = getenv("CW_WL");
	snprintf(wl_dir, sizeof(wl_dir), "%s", d ? d : "build/workloads");
	if (wl_dir[0] != '/') {
		char cwd[2048];
		if (getcwd(cwd, sizeof(cwd)))
			snprintf(wl_dir, sizeof(wl_dir), "%s/%s", cwd, d ? d : "build/workloads");
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(workload_c),	 cmocka_unit_test(workload_cxx),   cmocka_unit_test(callers),
		cmocka_unit_test(libc_wrappers), cmocka_unit_test(scopes),	   cmocka_unit_test(interposition),	   cmocka_unit_test(syscall_table),
		cmocka_unit_test(stripped_main), cmocka_unit_test(objdump_agrees), cmocka_unit_test(speed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
