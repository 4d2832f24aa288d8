/* Instrumentation workload with a known call sequence: main calls outer() N times, outer calls inner()
 * 3 times; fib(R) and rec(10 R) recursion; a variadic function with double arguments (%al and xmm registers must
 * survive the entry hook); prints a checksum that must not change under instrumentation.
 * usage: mw_calls [N] [R] */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#ifdef __clang__
#define NOINLINE __attribute__((noinline))
#else
#define NOINLINE __attribute__((noinline, noclone))
#endif

volatile unsigned long sink;

NOINLINE unsigned long inner(unsigned long x)
{
	for (int i = 0; i < 50; i++)
		x = x * 6364136223846793005ul + 1442695040888963407ul;
	sink += x;
	return x;
}

NOINLINE unsigned long outer(unsigned long x)
{
	unsigned long a = inner(x);
	unsigned long b = inner(a ^ 1);
	return inner(b ^ 2) + a;
}

NOINLINE unsigned long fib(unsigned n)
{
	return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

/* linear recursion the compilers cannot turn into a loop (a volatile store after the call): N+1 calls */
NOINLINE unsigned long rec(unsigned n)
{
	if (!n)
		return 0;
	unsigned long r = rec(n - 1);
	sink += r;
	return r + n;
}

NOINLINE double vsum(int n, ...)
{
	va_list ap;
	double s = 0;
	va_start(ap, n);
	for (int i = 0; i < n; i++)
		s += va_arg(ap, double);
	va_end(ap);
	return s;
}

NOINLINE double fargs(double a, double b, double c, double d, double e, double f, double g, double h)
{
	return a + 2 * b + 3 * c + 4 * d + 5 * e + 6 * f + 7 * g + 8 * h;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 1000, r = argc > 2 ? atoi(argv[2]) : 15;
	unsigned long acc = 0;
	for (int i = 0; i < n; i++)
		acc += outer((unsigned long)i);
	acc += fib((unsigned)r);
	acc += rec((unsigned)r * 10);
	double v = vsum(4, 1.5, 2.25, 3.125, 4.0625);
	double w = fargs(1, 2, 3, 4, 5, 6, 7, 8);
	printf("checksum %lu vsum %.4f fargs %.1f\n", acc, v, w);
	return 0;
}
