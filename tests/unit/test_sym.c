/* Unit tests for src/sym: answers checked against nm, readelf-free facts of running processes, the
 * libc6-dbg debug file and /proc/kallsyms. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>
#include "sym/sym.h"
#include "sym/sym_int.h"
#include "util/util.h"

static char wl_dir[4096];

static void wl(char *out, size_t n, const char *name)
{
	snprintf(out, n, "%s/%s", wl_dir, name);
}

/* nm -S --defined-only: the start, size and type of NAME in PATH; false when absent. */
static bool nm_sym(const char *path, const char *name, uint64_t *start, uint64_t *size)
{
	char cmd[4200], line[512];
	snprintf(cmd, sizeof(cmd), "nm -S --defined-only '%s' 2>/dev/null", path);
	FILE *f = popen(cmd, "r");
	bool found = false;
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		unsigned long long a, s = 0;
		char t, nm[400];
		if (sscanf(line, "%llx %llx %c %399s", &a, &s, &t, nm) != 4 &&
		    sscanf(line, "%llx %c %399s", &a, &t, nm) != 3)
			continue;
		if (!found && !strcmp(nm, name)) {
			*start = a;
			*size = s;
			found = true;
		}
	}
	pclose(f);
	return found;
}

/* A running symtest: its pid, and the runtime addresses it printed. */
struct child {
	pid_t pid;
	int in; /* its stdin: closing it lets it exit */
	char names[8][64];
	uint64_t addrs[8];
	int n;
};

static void child_start(struct child *c, const char *path)
{
	int pin[2], pout[2];
	assert_int_equal(pipe(pin), 0);
	assert_int_equal(pipe(pout), 0);
	memset(c, 0, sizeof(*c));
	c->pid = fork();
	assert_true(c->pid >= 0);
	if (!c->pid) {
		dup2(pin[0], 0);
		dup2(pout[1], 1);
		close(pin[1]);
		close(pout[0]);
		execl(path, path, "print", (char *)NULL);
		_exit(127);
	}
	close(pin[0]);
	close(pout[1]);
	c->in = pin[1];
	FILE *f = fdopen(pout[0], "r");
	char line[256];
	while (fgets(line, sizeof(line), f) && strcmp(line, "ready\n")) {
		unsigned long long a;
		if (c->n < 8 && sscanf(line, "%63s %llx", c->names[c->n], &a) == 2)
			c->addrs[c->n++] = a;
	}
	fclose(f);
	assert_true(c->n >= 4);
}

static void child_stop(struct child *c)
{
	int st;
	close(c->in);
	waitpid(c->pid, &st, 0);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static uint64_t child_addr(struct child *c, const char *name)
{
	for (int i = 0; i < c->n; i++)
		if (!strcmp(c->names[i], name))
			return c->addrs[i];
	fail_msg("symtest did not print %s", name);
	return 0;
}

/* ---- maps ---- */

static void maps_parse_text(void **state)
{
	const char *t = "7f0000001000-7f0000003000 r-xp 00002000 fd:01 1234567   /usr/lib/x.so (deleted)\n"
			"00400000-00401000 r--p 00000000 08:02 42 /bin/prog\n"
			"7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0                          [stack]\n"
			"7f0000005000-7f0000006000 rw-p 00000000 00:00 0 \n";
	struct cw_proc_maps m;
	assert_int_equal(cw_proc_maps_parse(t, strlen(t), 77, &m), 0);
	assert_int_equal(m.n, 4);
	assert_int_equal(m.pid, 77);
	assert_true(m.gen != 0);
	assert_int_equal(m.maps[0].start, 0x400000);
	assert_string_equal(m.maps[0].path, "/bin/prog");
	const struct cw_map *x = cw_proc_maps_find(&m, 0x7f0000002fff);
	assert_non_null(x);
	assert_int_equal(x->pgoff, 0x2000);
	assert_int_equal(x->ino, 1234567);
	assert_int_equal(x->dev, makedev(0xfd, 1));
	assert_string_equal(x->perms, "r-xp");
	assert_string_equal(x->path, "/usr/lib/x.so (deleted)");
	assert_null(cw_proc_maps_find(&m, 0x7f0000003000)); /* end is exclusive */
	assert_null(cw_proc_maps_find(&m, 0x3fffff));
	assert_string_equal(cw_proc_maps_find(&m, 0x7f0000005800)->path, "");
	assert_string_equal(cw_proc_maps_find(&m, 0x7ffd00000010)->path, "[stack]");
	cw_proc_maps_free(&m);
	cw_proc_maps_free(&m); /* twice: harmless */

	const char *bad[] = { "zz-10 r-xp 0 0:0 0\n", "1000-2000 r-xp\n", "2000-1000 r-xp 0 00:00 0 x\n",
			      "1000-2000 r-xp 0 00:00 x\n", "10000000000000000-2 r-xp 0 0:0 0\n" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		assert_int_equal(cw_proc_maps_parse(bad[i], strlen(bad[i]), 1, &m), -EINVAL);
		assert_null(m.maps);
	}
}

static void maps_self(void **state)
{
	struct cw_proc_maps m = { 0 };
	char exe[4096];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	assert_true(n > 0);
	exe[n] = 0;
	assert_int_equal(cw_proc_maps_read(getpid(), &m), 0);
	assert_true(m.n > 5);
	for (size_t i = 1; i < m.n; i++)
		assert_true(m.maps[i - 1].start < m.maps[i].start);
	const struct cw_map *x = cw_proc_maps_find(&m, (uint64_t)(uintptr_t)maps_self);
	assert_non_null(x);
	assert_string_equal(x->path, exe);
	assert_int_equal(x->perms[2], 'x');
	struct stat st;
	assert_int_equal(stat(exe, &st), 0);
	assert_int_equal(x->ino, st.st_ino);
	assert_int_equal(x->dev, st.st_dev);
	int local;
	assert_string_equal(cw_proc_maps_find(&m, (uint64_t)(uintptr_t)&local)->path, "[stack]");
	cw_proc_maps_free(&m);
	assert_int_equal(cw_proc_maps_read(999999999, &m), -ENOENT);
}

/* ---- ELF objects ---- */

static const char *wl_funcs[] = { "cw_sym_alpha", "cw_sym_beta", "cw_sym_gamma_local", "main" };

/* Every function the workload knows resolves at its start and in its middle, with the right start. */
static void check_funcs_named(struct cw_syms *s, const char *path, const char *nm_path)
{
	for (size_t i = 0; i < sizeof(wl_funcs) / sizeof(*wl_funcs); i++) {
		uint64_t start, size;
		assert_true(nm_sym(nm_path, wl_funcs[i], &start, &size));
		const struct cw_func *f;
		assert_int_equal(cw_syms_find(s, path, wl_funcs[i], &f), 0);
		assert_int_equal(f->start, start);
		assert_int_equal(f->size, size);
		assert_true(f->named);
	}
	const struct cw_func *fs;
	size_t n;
	assert_int_equal(cw_syms_funcs(s, path, &fs, &n), 0);
	assert_true(n >= 4);
	for (size_t i = 1; i < n; i++)
		assert_true(fs[i - 1].start < fs[i].start);
	/* the alias: the global name wins over the weak one */
	uint64_t a, asz, w, wsz;
	assert_true(nm_sym(nm_path, "cw_sym_alpha", &a, &asz));
	assert_true(nm_sym(nm_path, "cw_sym_alpha_weak", &w, &wsz));
	assert_int_equal(a, w);
	bool seen = false;
	for (size_t i = 0; i < n; i++)
		if (fs[i].start == a) {
			assert_string_equal(fs[i].name, "cw_sym_alpha");
			seen = true;
		}
	assert_true(seen);
	const struct cw_func *f;
	assert_int_equal(cw_syms_find(s, path, "cw_sym_alpha_weak", &f), 0);
	assert_int_equal(f->start, a);
	/* the IFUNC symbol names its resolver's address */
	uint64_t ifn, isz;
	assert_true(nm_sym(nm_path, "cw_sym_delta", &ifn, &isz));
	assert_int_equal(cw_syms_find(s, path, "cw_sym_delta", &f), 0);
	assert_int_equal(f->start, ifn);
	/* a PLT stub, named from .rela.plt */
	assert_int_equal(cw_syms_find(s, path, "printf@plt", &f), 0);
	assert_int_equal(f->size, 16);
	assert_int_equal(cw_syms_find(s, path, "no_such_function", &f), -ENOENT);
}

static void funcs_symtab(void **state)
{
	char p[4200];
	struct cw_syms *s = cw_syms_new();
	struct cw_obj_info in;
	wl(p, sizeof(p), "symtest");
	check_funcs_named(s, p, p);
	assert_int_equal(cw_syms_obj_info(s, p, &in), 0);
	assert_string_equal(in.table, "symtab");
	assert_null(in.debug_file);
	wl(p, sizeof(p), "symtest.nopie");
	check_funcs_named(s, p, p);
	cw_syms_free(s);
}

/* Stripped: the same starts, named "symtest.stripped+0xSTART", from .eh_frame; sizes from the FDEs. */
static void funcs_stripped(void **state)
{
	char p[4200], full[4200], want[128];
	struct cw_syms *s = cw_syms_new();
	wl(p, sizeof(p), "symtest.stripped");
	wl(full, sizeof(full), "symtest");
	const struct cw_func *fs;
	size_t n;
	assert_int_equal(cw_syms_funcs(s, p, &fs, &n), 0);
	for (size_t i = 0; i < sizeof(wl_funcs) / sizeof(*wl_funcs); i++) {
		uint64_t start, size;
		assert_true(nm_sym(full, wl_funcs[i], &start, &size));
		snprintf(want, sizeof(want), "symtest.stripped+0x%llx", (unsigned long long)start);
		const struct cw_func *f;
		assert_int_equal(cw_syms_find(s, p, want, &f), 0);
		assert_int_equal(f->start, start);
		assert_int_equal(f->size, size);
		assert_false(f->named);
		assert_int_equal(cw_syms_find(s, p, wl_funcs[i], &f), -ENOENT);
	}
	struct cw_obj_info in;
	assert_int_equal(cw_syms_obj_info(s, p, &in), 0);
	assert_string_equal(in.table, "eh_frame");
	/* PLT names survive stripping: they come from .rela.plt and .dynsym */
	const struct cw_func *f;
	assert_int_equal(cw_syms_find(s, p, "printf@plt", &f), 0);
	cw_syms_free(s);
}

/* A Debian binary without .symtab (coreutils' ls): every FDE binutils sees is a function start of ours,
 * with the same extent, unless a named symbol (.dynsym, PLT) already covers it. */
static void funcs_debian_binary(void **state)
{
	const char *p = "/usr/bin/ls";
	if (access(p, R_OK)) {
		skip();
		return;
	}
	struct cw_syms *s = cw_syms_new();
	const struct cw_func *fs;
	size_t n, nfde = 0, exact = 0;
	assert_int_equal(cw_syms_funcs(s, p, &fs, &n), 0);
	struct cw_obj_info in;
	assert_int_equal(cw_syms_obj_info(s, p, &in), 0);
	if (strcmp(in.table, "dynsym+eh_frame") && strcmp(in.table, "eh_frame")) {
		cw_syms_free(s);
		skip(); /* this ls has symbols or debug info installed: nothing to compare */
		return;
	}
	FILE *f = popen("readelf --debug-dump=frames /usr/bin/ls 2>/dev/null", "r");
	assert_non_null(f);
	char line[512];
	while (fgets(line, sizeof(line), f)) {
		const char *pc = strstr(line, " FDE ");
		unsigned long long a, b;
		if (!pc || !(pc = strstr(line, "pc=")) || sscanf(pc, "pc=%llx..%llx", &a, &b) != 2)
			continue;
		nfde++;
		/* the function covering the FDE's start begins there, or is a named one around it */
		size_t lo = 0, hi = n;
		while (lo < hi) {
			size_t mid = (lo + hi) / 2;
			if (fs[mid].start <= a)
				lo = mid + 1;
			else
				hi = mid;
		}
		assert_true(lo > 0);
		const struct cw_func *x = &fs[lo - 1];
		if (x->start == a) {
			exact++;
			assert_true(x->size >= b - a);
			if (!x->named) {
				char want[64];
				snprintf(want, sizeof(want), "ls+0x%llx", a);
				assert_string_equal(x->name, want);
			}
		} else {
			assert_true(x->named && x->size && a - x->start < x->size);
		}
	}
	pclose(f);
	print_message("/usr/bin/ls: %zu FDEs, %zu functions (%zu named), %zu FDE starts exact\n", nfde, n,
		      in.nnamed, exact);
	assert_true(nfde > 50);
	assert_true(exact >= nfde - 2);
	cw_syms_free(s);
}

/* midframe: the first row of each FDE's CFA table (readelf -wF) is rsp+8 exactly for the functions not
 * marked; the marked ones (gcc's .cold parts, unnamed here) start inside a frame. Checked on a Debian
 * binary and on libc (whose .cold parts are named in libc6-dbg). */
static void funcs_midframe(void **state)
{
	const char *bins[] = { "/usr/bin/ls", "/lib/x86_64-linux-gnu/libc.so.6" };
	for (size_t bi = 0; bi < 2; bi++) {
		struct cw_syms *s = cw_syms_new();
		const struct cw_func *fs;
		size_t n, checked = 0, mid = 0, cold_named = 0;
		assert_int_equal(cw_syms_funcs(s, bins[bi], &fs, &n), 0);
		char cmd[256], line[512];
		snprintf(cmd, sizeof(cmd), "readelf -wF %s 2>/dev/null", bins[bi]);
		FILE *f = popen(cmd, "r");
		assert_non_null(f);
		unsigned long long a = 0;
		bool want_row = false;
		while (fgets(line, sizeof(line), f)) {
			const char *pc = strstr(line, "pc=");
			unsigned long long b, loc;
			char cfa[64];
			if (strstr(line, " FDE ") && pc && sscanf(pc, "pc=%llx..%llx", &a, &b) == 2) {
				want_row = true;
				continue;
			}
			if (!want_row || sscanf(line, "%llx %63s", &loc, cfa) != 2 || loc != a)
				continue;
			want_row = false;
			for (size_t i = 0; i < n; i++) /* small tables: a linear search is fine */
				if (fs[i].start == a) {
					bool expect = strcmp(cfa, "rsp+8") != 0;
					if (fs[i].midframe != expect)
						fail_msg("%s: %s at 0x%llx: CFA %s, midframe %d", bins[bi], fs[i].name, a, cfa,
							 fs[i].midframe);
					checked++;
					mid += expect;
					cold_named += expect && strstr(fs[i].name, ".cold");
					break;
				}
		}
		pclose(f);
		print_message("%s: %zu FDE starts checked, %zu start inside a frame (%zu named .cold)\n", bins[bi],
			      checked, mid, cold_named);
		assert_true(checked > 200);
		assert_true(mid > 5);
		cw_syms_free(s);
	}
}

/* Stripped, with a .gnu_debuglink to symtest.debug: real names again, through the debug file. */
static void funcs_debuglink(void **state)
{
	char p[4200], full[4200];
	struct cw_syms *s = cw_syms_new();
	wl(p, sizeof(p), "symtest.dl");
	wl(full, sizeof(full), "symtest");
	check_funcs_named(s, p, full);
	struct cw_obj_info in;
	assert_int_equal(cw_syms_obj_info(s, p, &in), 0);
	assert_string_equal(in.table, "debug-symtab");
	assert_non_null(in.debug_file);
	assert_non_null(strstr(in.debug_file, "/symtest.debug"));
	cw_syms_free(s);
}

/* Running processes (PIE, non-PIE, stripped): runtime addresses the program printed resolve to the names
 * and ELF starts nm gives, at the start and in the middle. */
static void user_running(const char *file, bool named)
{
	char p[4200], full[4200], want[128];
	struct cw_syms *s = cw_syms_new();
	struct child c;
	struct cw_proc_maps m;
	wl(p, sizeof(p), file);
	wl(full, sizeof(full), strstr(file, "nopie") ? "symtest.nopie" : "symtest");
	child_start(&c, p);
	assert_int_equal(cw_proc_maps_read(c.pid, &m), 0);
	for (size_t i = 0; i < sizeof(wl_funcs) / sizeof(*wl_funcs); i++) {
		uint64_t start, size, rt = child_addr(&c, wl_funcs[i]), v;
		assert_true(nm_sym(full, wl_funcs[i], &start, &size));
		assert_true(size > 2);
		uint64_t offs[] = { 0, size / 2, size - 1 };
		for (int k = 0; k < 3; k++) {
			struct cw_sym r;
			assert_int_equal(cw_syms_user(s, &m, rt + offs[k], &r), 0);
			if (named) {
				assert_string_equal(r.name, wl_funcs[i]);
			} else {
				snprintf(want, sizeof(want), "%s+0x%llx", file, (unsigned long long)start);
				assert_string_equal(r.name, want);
			}
			assert_int_equal(r.func, start);
			assert_int_equal(r.offset, offs[k]);
			assert_false(r.kernel);
			assert_non_null(strstr(r.obj, file));
			/* the second time from the address cache: the same answer */
			struct cw_sym r2;
			assert_int_equal(cw_syms_user(s, &m, rt + offs[k], &r2), 0);
			assert_memory_equal(&r, &r2, sizeof(r));
		}
		assert_int_equal(cw_syms_to_vaddr(s, cw_proc_maps_find(&m, rt), rt, &v), 0);
		assert_int_equal(v, start);
		if (strstr(file, "nopie"))
			assert_int_equal(rt, start);
	}
	/* the stack is no object; an unmapped address is nowhere */
	struct cw_sym r;
	const struct cw_map *st = NULL;
	for (size_t i = 0; i < m.n; i++)
		if (!strcmp(m.maps[i].path, "[stack]"))
			st = &m.maps[i];
	assert_non_null(st);
	assert_int_equal(cw_syms_user(s, &m, st->start + 8, &r), -ENOENT);
	assert_string_equal(r.obj, "[stack]");
	assert_null(r.name);
	assert_int_equal(cw_syms_user(s, &m, 16, &r), -ENOENT);
	cw_proc_maps_free(&m);
	child_stop(&c);
	/* after the process is gone its snapshot still symbolizes (cached and uncached addresses) */
	cw_syms_free(s);
}

static void user_pie(void **state)
{
	user_running("symtest", true);
}
static void user_nopie(void **state)
{
	user_running("symtest.nopie", true);
}
static void user_stripped(void **state)
{
	user_running("symtest.stripped", false);
}
static void user_debuglink(void **state)
{
	user_running("symtest.dl", true);
}

/* A file deleted while it runs: read through /proc/PID/map_files. */
static void user_deleted(void **state)
{
	char src[4200], tmp[] = "/tmp/cw-symtest-XXXXXX", cmd[8500];
	wl(src, sizeof(src), "symtest");
	int fd = mkstemp(tmp);
	assert_true(fd >= 0);
	close(fd);
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s' && chmod +x '%s'", src, tmp, tmp);
	assert_int_equal(system(cmd), 0);
	struct child c;
	child_start(&c, tmp);
	unlink(tmp);
	struct cw_proc_maps m;
	assert_int_equal(cw_proc_maps_read(c.pid, &m), 0);
	struct cw_syms *s = cw_syms_new();
	struct cw_sym r;
	uint64_t start, size, v, rt = child_addr(&c, "cw_sym_beta");
	assert_true(nm_sym(src, "cw_sym_beta", &start, &size));
	/* without the pid the deleted file cannot be opened; with it (next lookup) it can */
	assert_true(cw_syms_to_vaddr(s, cw_proc_maps_find(&m, rt), rt, &v) < 0);
	assert_int_equal(cw_syms_user(s, &m, rt + 5, &r), 0);
	assert_int_equal(cw_syms_to_vaddr(s, cw_proc_maps_find(&m, rt), rt, &v), 0);
	assert_int_equal(v, start);
	assert_string_equal(r.name, "cw_sym_beta");
	assert_int_equal(r.func, start);
	assert_non_null(strstr(r.obj, "(deleted)"));
	cw_syms_free(s);
	cw_proc_maps_free(&m);
	child_stop(&c);
}

/* ---- libc through libc6-dbg ---- */

static int find_libc(struct dl_phdr_info *info, size_t size, void *data)
{
	if (strstr(info->dlpi_name, "/libc.so.6")) {
		*(struct dl_phdr_info *)data = *info;
		return 1;
	}
	return 0;
}

static void libc_debug(void **state)
{
	struct dl_phdr_info libc = { 0 };
	dl_iterate_phdr(find_libc, &libc);
	assert_non_null(libc.dlpi_name);
	char real[4096];
	assert_non_null(realpath(libc.dlpi_name, real));
	struct cw_syms *s = cw_syms_new();
	struct cw_obj_info in;
	assert_int_equal(cw_syms_obj_info(s, real, &in), 0);
	char dbg[300];
	snprintf(dbg, sizeof(dbg), "/usr/lib/debug/.build-id/%.2s/%s.debug", in.build_id ? in.build_id : "xx",
		 in.build_id ? in.build_id + 2 : "");
	if (access(dbg, R_OK)) {
		cw_syms_free(s);
		skip(); /* libc6-dbg not installed (scripts/deps.sh installs it) */
		return;
	}
	assert_string_equal(in.table, "debug-symtab");
	assert_string_equal(in.debug_file, dbg);
	/* _int_malloc is local to libc: only the debug file names it */
	uint64_t start, size;
	assert_true(nm_sym(dbg, "_int_malloc", &start, &size));
	const struct cw_func *f;
	assert_int_equal(cw_syms_find(s, real, "_int_malloc", &f), 0);
	assert_int_equal(f->start, start);
	struct cw_proc_maps m;
	assert_int_equal(cw_proc_maps_read(getpid(), &m), 0);
	struct cw_sym r;
	assert_int_equal(cw_syms_user(s, &m, libc.dlpi_addr + start + 7, &r), 0);
	assert_string_equal(r.name, "_int_malloc");
	assert_int_equal(r.func, start);
	assert_int_equal(r.offset, 7);
	assert_string_equal(r.obj, real);
	/* a public function with aliases (weak getpid, global __getpid): the global name */
	uint64_t gp, gpsz;
	assert_true(nm_sym(dbg, "getpid", &gp, &gpsz));
	assert_int_equal(cw_syms_user(s, &m, libc.dlpi_addr + gp, &r), 0);
	assert_string_equal(r.name, "__getpid");
	assert_int_equal(r.offset, 0);
	/* a versioned name is found without its version */
	assert_int_equal(cw_syms_find(s, real, "getpid@GLIBC_2.2.5", &f), 0);
	assert_int_equal(f->start, r.func);
	cw_proc_maps_free(&m);
	cw_syms_free(s);
}

/* ---- vdso ---- */

static void vdso(void **state)
{
	uint64_t base = getauxval(AT_SYSINFO_EHDR);
	if (!base) {
		skip();
		return;
	}
	struct cw_syms *s = cw_syms_new();
	const struct cw_func *f;
	assert_int_equal(cw_syms_find(s, "[vdso]", "__vdso_clock_gettime", &f), 0);
	struct cw_proc_maps m;
	assert_int_equal(cw_proc_maps_read(getpid(), &m), 0);
	const struct cw_map *vm = cw_proc_maps_find(&m, base);
	assert_non_null(vm);
	assert_string_equal(vm->path, "[vdso]");
	uint64_t v;
	assert_int_equal(cw_syms_to_vaddr(s, vm, base + f->start, &v), 0);
	struct cw_sym r;
	assert_int_equal(cw_syms_user(s, &m, base + f->start + 3, &r), 0);
	assert_string_equal(r.obj, "[vdso]");
	assert_true(!strcmp(r.name, "__vdso_clock_gettime") || !strcmp(r.name, "clock_gettime"));
	assert_int_equal(r.offset, 3);
	cw_proc_maps_free(&m);
	cw_syms_free(s);
}

/* ---- kernel ---- */

static bool kallsyms_addr(const char *name, uint64_t *addr)
{
	FILE *f = fopen("/proc/kallsyms", "r");
	char line[512];
	bool found = false;
	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		unsigned long long a;
		char t, n[400];
		if (sscanf(line, "%llx %c %399s", &a, &t, n) == 3 && !strcmp(n, name) && a) {
			*addr = a;
			found = true;
		}
	}
	fclose(f);
	return found;
}

static void kernel_kallsyms(void **state)
{
	uint64_t want;
	if (!kallsyms_addr("ksys_read", &want)) {
		skip(); /* no /proc/kallsyms, or addresses hidden (not root) */
		return;
	}
	struct cw_syms *s = cw_syms_new();
	const char *names[] = { "ksys_read", "do_sys_openat2" };
	for (size_t i = 0; i < 2; i++) {
		uint64_t a, size;
		assert_true(kallsyms_addr(names[i], &want));
		assert_int_equal(cw_syms_kernel_find(s, names[i], &a, &size), 0);
		assert_int_equal(a, want);
		assert_true(size > 0 && size < 65536);
		struct cw_sym r;
		for (uint64_t off = 0; off < size; off += size / 3 + 1) {
			assert_int_equal(cw_syms_kernel(s, a + off, &r), 0);
			assert_string_equal(r.name, names[i]);
			assert_string_equal(r.obj, "[kernel]");
			assert_int_equal(r.func, a);
			assert_int_equal(r.offset, off);
			assert_true(r.kernel);
		}
	}
	uint64_t a, size;
	assert_int_equal(cw_syms_kernel_find(s, "no_such_kernel_function_cw", &a, &size), -ENOENT);
	struct cw_sym r;
	assert_int_equal(cw_syms_kernel(s, 0x1000, &r), -ENOENT);
	cw_syms_free(s);
}

/* Modules and aliases, on a made-up kallsyms. */
/* Leaf frames of a kernel sample: ours (tracing), interrupt re-enable points (charged to the caller), code. */
static void kernel_leaf_kind(void **state)
{
	static const struct {
		const char *name;
		enum cw_kleaf kind;
	} cases[] = {
		{ "bpf_prog_3f2a_on_sample", CW_KLEAF_TRACING },
		{ "bpf_trace_run4", CW_KLEAF_TRACING },
		{ "__traceiter_sys_enter", CW_KLEAF_TRACING },
		{ "pvm_irq_enable", CW_KLEAF_IRQ_ON },
		{ "__raw_callee_save_pvm_irq_enable", CW_KLEAF_IRQ_ON },
		{ "xen_irq_enable_direct", CW_KLEAF_IRQ_ON },
		{ "_raw_spin_unlock_irqrestore", CW_KLEAF_IRQ_ON },
		{ "_raw_spin_unlock_irq", CW_KLEAF_IRQ_ON },
		/* disabling interrupts, or a plain unlock, is where time is really spent or nothing at all */
		{ "pvm_irq_disable", CW_KLEAF_CODE },
		{ "__raw_callee_save_pvm_save_fl", CW_KLEAF_CODE },
		{ "_raw_spin_unlock", CW_KLEAF_CODE },
		{ "_raw_spin_unlock_irqrestore.cold", CW_KLEAF_CODE },
		{ "handle_mm_fault", CW_KLEAF_CODE },
		{ "irq_enable", CW_KLEAF_CODE }, /* the irq chip's, not the CPU's */
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (cw_ksym_leaf_kind(cases[i].name) != cases[i].kind)
			fail_msg("%s: kind %d, want %d", cases[i].name, cw_ksym_leaf_kind(cases[i].name),
				 cases[i].kind);
	}
}

static void kernel_parse_text(void **state)
{
	const char *t = "ffffffff81000000 T _stext\n"
			"ffffffff81000100 t local_fn\n"
			"ffffffff81000100 T __global_fn\n"
			"ffffffff81000100 T global_fn\n"
			"ffffffff81000200 D some_data\n"
			"ffffffff81000300 T last_fn\n"
			"ffffffffc0001000 t mod_fn\t[ext4]\n"
			"ffffffffc0001040 T mod_fn2\t[ext4]\n"
			"ffffffffc0002000 t other\t[xfs]\n";
	struct cw_ktab k = { 0 };
	assert_int_equal(cw_ktab_parse(&k, t, strlen(t)), 0);
	uint64_t size;
	const struct cw_ksym *x = cw_ktab_lookup(&k, 0xffffffff81000150, &size);
	assert_non_null(x);
	assert_string_equal(x->name, "global_fn");
	assert_int_equal(size, 0x200);
	assert_string_equal(cw_ktab_lookup(&k, 0xffffffffc0001010, NULL)->name, "mod_fn");
	assert_string_equal(cw_ktab_lookup(&k, 0xffffffffc0001010, NULL)->obj, "[ext4]");
	assert_string_equal(cw_ktab_lookup(&k, 0xffffffffc0002010, NULL)->obj, "[xfs]");
	assert_string_equal(cw_ktab_lookup(&k, 0xffffffff81000310, NULL)->name, "last_fn");
	assert_null(cw_ktab_lookup(&k, 0xfffffffff0000000, NULL)); /* far past the last symbol */
	x = cw_ktab_find(&k, "local_fn", &size);
	assert_non_null(x);
	assert_int_equal(x->addr, 0xffffffff81000100);
	assert_null(cw_ktab_find(&k, "some_data", &size)); /* data is not text */
	x = cw_ktab_find(&k, "mod_fn", &size);
	assert_int_equal(size, 0x40);
	cw_ktab_release(&k);
	const char *hidden = "0000000000000000 T _stext\n0000000000000000 T foo\n";
	assert_int_equal(cw_ktab_parse(&k, hidden, strlen(hidden)), -EPERM);
	cw_ktab_release(&k);
	assert_int_equal(cw_ktab_parse(&k, "garbage\n", 8), -EINVAL);
	cw_ktab_release(&k);
}

/* ---- bad input ---- */

static void bad_input(void **state)
{
	struct cw_syms *s = cw_syms_new();
	const struct cw_func *fs;
	size_t n;
	assert_int_equal(cw_syms_funcs(s, "/nonexistent/cw-sym", &fs, &n), -ENOENT);
	assert_int_equal(cw_syms_funcs(s, "/etc/hostname", &fs, &n), -ENOEXEC);
	/* every truncation of a real ELF: an error or a (partial) table, never a crash */
	char p[4200];
	wl(p, sizeof(p), "symtest.stripped");
	size_t len;
	char *img = cw_read_file(p, &len);
	assert_non_null(img);
	int ok = 0;
	for (size_t cut = 0; cut < len; cut += cut < 128 ? 1 : 97)
		ok += cw_syms_funcs_mem(s, img, cut, "cut", &fs, &n) == 0;
	assert_int_equal(cw_syms_funcs_mem(s, img, len, "whole", &fs, &n), 0);
	assert_true(n > 5);
	/* flipped bytes in the .eh_frame area */
	for (size_t i = 0x2000; i < len && i < 0x2200; i++) {
		char c = img[i];
		img[i] ^= 0x5a;
		cw_syms_funcs_mem(s, img, len, "flip", &fs, &n);
		img[i] = c;
	}
	free(img);
	assert_true(cw_syms_funcs_mem(s, "\177ELF", 4, "tiny", &fs, &n) < 0);
	/* a mapping of a file that is gone */
	const char *t = "555500000000-555500001000 r-xp 00000000 08:01 99 /nonexistent/prog\n";
	struct cw_proc_maps m;
	assert_int_equal(cw_proc_maps_parse(t, strlen(t), 1, &m), 0);
	struct cw_sym r;
	assert_int_equal(cw_syms_user(s, &m, 0x555500000010, &r), -ENOENT);
	assert_string_equal(r.obj, "/nonexistent/prog");
	uint64_t v;
	assert_true(cw_syms_to_vaddr(s, &m.maps[0], 0x555500000010, &v) < 0);
	cw_proc_maps_free(&m);
	cw_syms_free(s);
	cw_syms_free(NULL);
}

/* ---- speed: 100,000 distinct stacks of 20 frames, user and kernel ---- */

static void bench_profile(void **state)
{
	struct cw_syms *probe = cw_syms_new();
	struct cw_proc_maps m;
	assert_int_equal(cw_proc_maps_read(getpid(), &m), 0);
	/* a pool of addresses inside real functions of the executable, libc and the kernel */
	size_t cap = 6000, np = 0;
	uint64_t *pool = cw_malloc(cap * sizeof(*pool));
	bool *kern = cw_malloc(cap * sizeof(*kern));
	for (size_t i = 0; i < m.n && np < cap; i++) {
		const struct cw_map *x = &m.maps[i];
		const struct cw_func *fs;
		size_t n;
		if (x->perms[2] != 'x' || x->path[0] != '/' || cw_syms_funcs(probe, x->path, &fs, &n))
			continue;
		for (size_t j = 0; j < n && np < cap / 2; j += 1) {
			uint64_t a = fs[j].start + fs[j].size / 2;
			/* runtime = mapping start + (vaddr - pgoff-matching segment): take it by trying */
			for (uint64_t rt = x->start; rt < x->end; rt += 0x1000) {
				uint64_t v;
				if (!cw_syms_to_vaddr(probe, x, rt, &v) && a >= v && a - v < 0x1000) {
					pool[np] = rt + (a - v);
					kern[np++] = false;
					break;
				}
			}
		}
	}
	size_t nuser = np;
	FILE *f = fopen("/proc/kallsyms", "r");
	char line[512];
	while (f && np < cap && fgets(line, sizeof(line), f)) {
		unsigned long long a;
		char t, n[400];
		if (sscanf(line, "%llx %c %399s", &a, &t, n) == 3 && a && (t == 't' || t == 'T') && rand() % 20 == 0) {
			pool[np] = a + 4;
			kern[np++] = true;
		}
	}
	if (f)
		fclose(f);
	cw_syms_free(probe);
	assert_true(nuser > 100);

	enum { NSTACKS = 100000, DEPTH = 20 };
	uint32_t *stacks = cw_malloc(sizeof(uint32_t) * NSTACKS * DEPTH);
	srand(1);
	for (size_t i = 0; i < (size_t)NSTACKS * DEPTH; i++)
		stacks[i] = rand() % np;
	uint64_t t0 = cw_now_ns();
	struct cw_syms *s = cw_syms_new(); /* cold: objects, debug info and kallsyms parsed inside the timing */
	size_t resolved = 0;
	for (size_t i = 0; i < (size_t)NSTACKS * DEPTH; i++) {
		struct cw_sym r;
		uint32_t k = stacks[i];
		int rc = kern[k] ? cw_syms_kernel(s, pool[k], &r) : cw_syms_user(s, &m, pool[k], &r);
		resolved += rc == 0 && r.name;
	}
	uint64_t t1 = cw_now_ns();
	size_t again = 0;
	for (size_t i = 0; i < (size_t)NSTACKS * DEPTH; i++) {
		struct cw_sym r;
		uint32_t k = stacks[i];
		again += (kern[k] ? cw_syms_kernel(s, pool[k], &r) : cw_syms_user(s, &m, pool[k], &r)) == 0;
	}
	uint64_t t2 = cw_now_ns();
	print_message("symbolized %d stacks x %d frames (%zu distinct addresses: %zu user, %zu kernel): "
		      "%.1f ms cold (incl. parsing objects and kallsyms), %.1f ms warm; %zu resolved\n",
		      NSTACKS, DEPTH, np, nuser, np - nuser, (t1 - t0) / 1e6, (t2 - t1) / 1e6, resolved);
	/* every address of the pool lies inside a function: all must resolve */
	assert_int_equal(resolved, (size_t)NSTACKS * DEPTH);
	assert_int_equal(again, resolved);
	cw_syms_free(s);
	free(stacks);
	free(pool);
	free(kern);
	cw_proc_maps_free(&m);
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
		cmocka_unit_test(maps_parse_text), cmocka_unit_test(maps_self),	    cmocka_unit_test(funcs_symtab),
		cmocka_unit_test(funcs_stripped),  cmocka_unit_test(funcs_debuglink), cmocka_unit_test(funcs_debian_binary), cmocka_unit_test(funcs_midframe), cmocka_unit_test(user_pie),
		cmocka_unit_test(user_nopie),	   cmocka_unit_test(user_stripped),   cmocka_unit_test(user_debuglink),
		cmocka_unit_test(user_deleted),	   cmocka_unit_test(libc_debug),      cmocka_unit_test(vdso),
		cmocka_unit_test(kernel_kallsyms), cmocka_unit_test(kernel_parse_text), cmocka_unit_test(kernel_leaf_kind), cmocka_unit_test(bad_input),
		cmocka_unit_test(bench_profile),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
