/* cfgtest: a program with a known call structure for the call graph tests (tests/unit/test_cfg.c,
 * tests/e2e/callgraph.sh), built by gcc and clang at -O0 and -O2 (mk/cfg.mk): direct calls, a function
 * pointer call, a tail call, a switch, a .cold part, PLT calls to libc wrappers, syscall() and a raw syscall instruction. */
#include <stdio.h>
#include <sys/select.h>
#include <sys/syscall.h>
#include <unistd.h>

/* noipa: gcc must not clone (use_fp.constprop.0) or drop calls, so that the expected names hold */
#ifdef __clang__
#define KEEP __attribute__((noinline))
#else
#define KEEP __attribute__((noipa))
#endif

volatile int sink;

KEEP int leaf(int x)
{
	sink += x;
	return x * 3;
}

KEEP int tail_target(int x)
{
	sink += x;
	return x + 7;
}

/* at -O2 both compilers end this with `jmp tail_target` */
KEEP int tail_caller(int x)
{
	if (x > 100)
		sink++;
	return tail_target(x * 2);
}

/* the syscall instruction itself, with its number in %eax just before */
KEEP long raw_getpid(void)
{
	long r;
	__asm__ volatile("mov $39, %%eax\n\tsyscall" : "=a"(r) : : "rcx", "r11", "memory");
	return r;
}

KEEP long via_syscall(void)
{
	return syscall(SYS_getppid);
}

/* + 1: not a tail call */
KEEP int use_fp(int (*fp)(int), int x)
{
	return fp(x) + 1;
}

/* a jump table, which is not a call */
KEEP int sw(int x)
{
	switch (x) {
	case 0: sink += 3; break;
	case 1: sink *= 5; break;
	case 2: sink -= 7; break;
	case 3: sink ^= 11; break;
	case 4: sink <<= 1; break;
	case 5: sink |= 64; break;
	case 6: sink &= 0xff; break;
	default: sink = 0;
	}
	return sink;
}

/* a cold callee: gcc -O2 moves the unlikely branch into check.cold, whose sites are check's */
KEEP __attribute__((cold)) void rare(int x)
{
	sink = x;
}

KEEP int check(int x)
{
	if (x == 12345) {
		rare(x);
		puts("rare");
	}
	return x + 1;
}

KEEP int io(void)
{
	char buf[8];
	struct timeval tv = { 0, 0 };
	puts("cfgtest");
	select(0, NULL, NULL, NULL, &tv);
	return (int)read(-1, buf, sizeof(buf));
}

int main(int argc, char **argv)
{
	int s = leaf(argc);
	s += use_fp(argc > 5 ? tail_target : leaf, argc);
	s += tail_caller(argc);
	s += (int)raw_getpid();
	s += (int)via_syscall();
	s += sw(argc);
	s += check(argc);
	s += io();
	return s == 12345;
}
