/* Small shared helpers: error reporting, allocation, time, file reading. */
#include "util/util.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/libbpf.h>

int cw_verbose;

static void vmsg(const char *kind, const char *fmt, va_list ap)
{
	char buf[1024];
	vsnprintf(buf, sizeof(buf), fmt, ap);
	fprintf(stderr, "crosswalk: %s%s\n", kind, buf);
}

void cw_err(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vmsg("", fmt, ap);
	va_end(ap);
}

void cw_warn(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vmsg("warning: ", fmt, ap);
	va_end(ap);
}

void cw_dbg(const char *fmt, ...)
{
	va_list ap;
	if (!cw_verbose)
		return;
	va_start(ap, fmt);
	vmsg("debug: ", fmt, ap);
	va_end(ap);
}

static void oom(size_t n)
{
	fprintf(stderr, "crosswalk: out of memory allocating %zu bytes\n", n);
	abort();
}

void *cw_malloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		oom(n);
	return p;
}

void *cw_calloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p)
		oom(n * size);
	return p;
}

void *cw_realloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		oom(n);
	return p;
}

char *cw_strdup(const char *s)
{
	char *p = strdup(s ? s : "");
	if (!p)
		oom(strlen(s));
	return p;
}

uint64_t cw_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

char *cw_read_file(const char *path, size_t *lenp)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t cap = 4096, len = 0;
	char *buf;

	if (fd < 0)
		return NULL;
	buf = cw_malloc(cap);
	for (;;) {
		ssize_t n;
		if (len + 1 >= cap)
			buf = cw_realloc(buf, cap *= 2);
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			int e = errno;
			free(buf);
			close(fd);
			errno = e;
			return NULL;
		}
		if (n == 0)
			break;
		len += n;
	}
	close(fd);
	buf[len] = 0;
	if (lenp)
		*lenp = len;
	return buf;
}

int cw_ncpus_possible(void)
{
	int n = libbpf_num_possible_cpus();
	return n > 0 ? n : 1;
}

int cw_ncpus_online(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (int)n : 1;
}

/* libstdc++'s demangler, loaded the first time a mangled name is met (crosswalk itself is C). */
char *cw_demangle(const char *sym, bool cut_params)
{
	static char *(*dem)(const char *, char *, size_t *, int *);
	static int tried;
	if (!sym || strncmp(sym, "_Z", 2))
		return NULL;
	if (!tried) {
		void *h = dlopen("libstdc++.so.6", RTLD_NOW | RTLD_LOCAL);
		tried = 1;
		if (h)
			*(void **)&dem = dlsym(h, "__cxa_demangle");
	}
	if (!dem)
		return NULL;
	int st = 0;
	char *d = dem(sym, NULL, NULL, &st);
	if (!d || st) {
		free(d);
		return NULL;
	}
	if (!cut_params)
		return d;
	/* the parameter list: the first '(' at template depth 0, skipping "operator()" */
	int depth = 0;
	for (char *c = d; *c; c++) {
		if (*c == '<')
			depth++;
		else if (*c == '>')
			depth--;
		else if (*c == '(' && depth == 0 && !(c - d >= 8 && !strncmp(c - 8, "operator", 8))) {
			*c = 0;
			break;
		}
	}
	return d;
}
