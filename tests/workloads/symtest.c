/* Symbolizer test target: functions with known names, an alias, a static function, an IFUNC and a PLT call.
 *   symtest print   prints "NAME ADDRESS" for its functions, then "ready", and waits for stdin to close
 *   symtest spin N  spends about N seconds in cw_sym_beta (a user-code hot spot) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

volatile unsigned long cw_sink;

__attribute__((noinline)) void cw_sym_alpha(void)
{
	for (int i = 0; i < 100; i++)
		cw_sink += i * 3;
}
/* an alias of lower rank (weak) at the same address: the symbolizer must show cw_sym_alpha */
extern void cw_sym_alpha_weak(void) __attribute__((weak, alias("cw_sym_alpha")));

__attribute__((noinline)) unsigned long cw_sym_beta(unsigned long n)
{
	unsigned long x = n;
	for (unsigned long i = 0; i < n; i++)
		x = x * 6364136223846793005ul + 1442695040888963407ul + cw_sink;
	cw_sink = x;
	return x;
}

__attribute__((noinline)) static int cw_sym_gamma_local(int v)
{
	cw_sink += v;
	return (int)cw_sink & 0xff;
}

static int delta_impl(int v)
{
	return v + 1;
}
/* an IFUNC: the symbol's address is its resolver */
static void *cw_sym_delta_resolver(void)
{
	return (void *)delta_impl;
}
int cw_sym_delta(int v) __attribute__((ifunc("cw_sym_delta_resolver")));

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "print";
	if (!strcmp(mode, "spin")) {
		double end = now() + (argc > 2 ? atof(argv[2]) : 1.0);
		while (now() < end)
			cw_sym_beta(1000000);
		return 0;
	}
	cw_sym_alpha();
	cw_sym_gamma_local(cw_sym_delta(1));
	printf("cw_sym_alpha %p\ncw_sym_beta %p\ncw_sym_gamma_local %p\nmain %p\nready\n", (void *)cw_sym_alpha,
	       (void *)cw_sym_beta, (void *)cw_sym_gamma_local, (void *)main);
	fflush(stdout);
	char buf[64];
	while (read(0, buf, sizeof(buf)) > 0)
		;
	return 0;
}
