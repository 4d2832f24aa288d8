/* Instrumentation workload for the hard cases; each mode prints what it did so counts can be checked.
 *   threads T N   T threads each call work() N times
 *   signal N      leaf() N times; every 10th call raises SIGUSR1 inside an instrumented frame, whose
 *                 handler calls in_handler(); plus a profiling timer whose handler calls in_handler()
 *   sigstorm N    work() N times under a 20 us timer whose handler calls in_handler(): signals land
 *                 everywhere in the instrumented entry and exit paths, as the handler's own calls fill
 *                 and give back the same shadow-stack frames (exact counts, no crash)
 *   longjmp N     jumper() -> deep() -> longjmp out, N times; then after() N times; and siglongjmp
 *                 out of a signal handler through instrumented frames
 *   fork N        work() N times before fork, N in the child, N in the parent
 *   texit T       T threads call pthread_exit() from inside instrumented frames; then work() 10 times
 *   malloc N      malloc/memcpy/free N times (instrument libc's own functions)
 *   exec N        work() N times, then exec itself as "threads 1 N" (another N calls in the new image)
 *   parked SECS   a thread blocks in pause() between two of parked()'s first instructions while main calls
 *                 work() for SECS; then the thread is woken: a patch over parked() then would crash it
 *   deep T SECS   T threads dive() 40 deep and sleep 50 ms at the bottom, again and again for SECS: a
 *                 detach finds threads deep in instrumented frames; prints the number of completed dives
 *   server SECS   (see mw_server.c) */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#ifdef __clang__
#define NOINLINE __attribute__((noinline))
#else
#define NOINLINE __attribute__((noinline, noclone))
#endif

volatile unsigned long sink;
static volatile sig_atomic_t handled;

NOINLINE unsigned long work(unsigned long x)
{
	for (int i = 0; i < 20; i++)
		x = x * 2862933555777941757ul + 3037000493ul;
	sink += x;
	return x;
}

static void *thread_main(void *arg)
{
	long n = (long)arg;
	for (long i = 0; i < n; i++)
		work((unsigned long)i);
	return NULL;
}

NOINLINE void in_handler(void)
{
	handled++;
	sink += (unsigned long)handled;
}

static void on_sig(int sig)
{
	in_handler();
}

NOINLINE unsigned long leaf(unsigned long i)
{
	if (i % 10 == 0)
		raise(SIGUSR1); /* delivered here, inside the instrumented frame */
	return work(i);
}

static jmp_buf jb;
static sigjmp_buf sjb;

NOINLINE void deep(int i)
{
	sink += (unsigned long)i;
	longjmp(jb, 1);
}

NOINLINE void jumper(int i)
{
	deep(i);
	sink++; /* not reached */
}

NOINLINE unsigned long after(unsigned long x)
{
	return work(x) + 1;
}

static void on_sig_jump(int sig)
{
	in_handler();
	siglongjmp(sjb, 1);
}

NOINLINE void sig_deep(void)
{
	raise(SIGUSR2);
	sink++; /* not reached */
}

NOINLINE void exiter(int i)
{
	work((unsigned long)i);
	pthread_exit(NULL);
}

static void *texit_main(void *arg)
{
	exiter((int)(long)arg);
	return NULL;
}

/* parked: "syscall" is its first instruction, so a thread blocked in it has its PC at parked+2, inside the
 * 5 bytes a patch would overwrite. The caller puts the system call number in %eax. */
__asm__(".text\n"
	".globl parked\n"
	".type parked, @function\n"
	"parked:\n"
	"	syscall\n"
	"	nop\n"
	"	nop\n"
	"	nop\n"
	"	nop\n"
	"	ret\n"
	".size parked, . - parked\n");

static void *parked_main(void *arg)
{
	long r;
	/* pause() (34): returns -EINTR when the thread's signal arrives */
	__asm__ volatile("call parked" : "=a"(r) : "a"(34L) : "rcx", "r11", "memory");
	return (void *)r;
}

static void on_wake(int sig)
{
}

static double deep_secs;
static volatile int deep_bad;

NOINLINE unsigned long dive(int d)
{
	if (d == 0) {
		struct timespec ts = { 0, 50 * 1000 * 1000 };
		nanosleep(&ts, NULL);
		return 1;
	}
	unsigned long r = dive(d - 1);
	sink += r;
	return r + 1;
}

static void *deep_main(void *arg)
{
	struct timespec t0, t;
	long n = 0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		if (dive(40) != 41)
			deep_bad = 1;
		n++;
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while ((double)(t.tv_sec - t0.tv_sec) + (double)(t.tv_nsec - t0.tv_nsec) / 1e9 < deep_secs);
	return (void *)n;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "threads";
	long a = argc > 2 ? atol(argv[2]) : 4, b = argc > 3 ? atol(argv[3]) : 1000;

	if (!strcmp(mode, "threads")) {
		pthread_t t[64];
		if (a > 64)
			a = 64;
		for (long i = 0; i < a; i++)
			pthread_create(&t[i], NULL, thread_main, (void *)b);
		for (long i = 0; i < a; i++)
			pthread_join(t[i], NULL);
		printf("threads %ld calls %ld\n", a, a * b);
	} else if (!strcmp(mode, "signal")) {
		signal(SIGUSR1, on_sig);
		signal(SIGPROF, on_sig);
		struct itimerval it = { { 0, 1000 }, { 0, 1000 } };
		setitimer(ITIMER_PROF, &it, NULL);
		for (long i = 0; i < a; i++)
			leaf((unsigned long)i);
		struct itimerval off = { { 0, 0 }, { 0, 0 } };
		setitimer(ITIMER_PROF, &off, NULL);
		printf("leaf %ld handled %d\n", a, (int)handled);
	} else if (!strcmp(mode, "sigstorm")) {
		struct sigaction sa = { .sa_handler = on_sig, .sa_flags = SA_RESTART };
		struct sigevent ev = { .sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGALRM };
		struct itimerspec its = { { 0, 20000 }, { 0, 20000 } }, off = { { 0, 0 }, { 0, 0 } };
		timer_t tm;
		sigaction(SIGALRM, &sa, NULL);
		work(0); /* the thread's first instrumented call sets up its state, untimed for a handler meanwhile */
		if (timer_create(CLOCK_MONOTONIC, &ev, &tm) || timer_settime(tm, 0, &its, NULL)) {
			perror("timer");
			return 1;
		}
		for (long i = 1; i < a; i++)
			work((unsigned long)i);
		timer_settime(tm, 0, &off, NULL);
		timer_delete(tm);
		printf("work %ld handled %d\n", a, (int)handled);
	} else if (!strcmp(mode, "longjmp")) {
		for (long i = 0; i < a; i++)
			if (!setjmp(jb))
				jumper((int)i);
		for (long i = 0; i < a; i++)
			after((unsigned long)i);
		signal(SIGUSR2, on_sig_jump);
		for (long i = 0; i < a; i++)
			if (!sigsetjmp(sjb, 1))
				sig_deep();
		for (long i = 0; i < a; i++)
			after((unsigned long)i);
		printf("jumps %ld after %ld handled %d\n", a, 2 * a, (int)handled);
	} else if (!strcmp(mode, "fork")) {
		for (long i = 0; i < a; i++)
			work((unsigned long)i);
		fflush(stdout);
		pid_t c = fork();
		for (long i = 0; i < a; i++)
			work((unsigned long)i);
		if (c == 0) {
			printf("child done\n");
			fflush(stdout);
			_exit(0);
		}
		int st;
		waitpid(c, &st, 0);
		printf("parent done, child status %d, calls %ld\n", st, 3 * a);
	} else if (!strcmp(mode, "texit")) {
		pthread_t t[64];
		if (a > 64)
			a = 64;
		for (long i = 0; i < a; i++)
			pthread_create(&t[i], NULL, texit_main, (void *)i);
		for (long i = 0; i < a; i++)
			pthread_join(t[i], NULL);
		for (int i = 0; i < 10; i++)
			work((unsigned long)i);
		printf("exited %ld\n", a);
	} else if (!strcmp(mode, "parked")) {
		pthread_t th;
		struct timespec t0, t;
		signal(SIGUSR1, on_wake);
		pthread_create(&th, NULL, parked_main, NULL);
		clock_gettime(CLOCK_MONOTONIC, &t0);
		do {
			work(1);
			struct timespec d = { 0, 1000000 };
			nanosleep(&d, NULL);
			clock_gettime(CLOCK_MONOTONIC, &t);
		} while ((double)(t.tv_sec - t0.tv_sec) + (double)(t.tv_nsec - t0.tv_nsec) / 1e9 < (double)a);
		pthread_kill(th, SIGUSR1);
		void *r;
		pthread_join(th, &r);
		printf("parked woke %ld\n", (long)r);
	} else if (!strcmp(mode, "deep")) {
		pthread_t t[64];
		if (a > 64)
			a = 64;
		deep_secs = (double)b;
		for (long i = 0; i < a; i++)
			pthread_create(&t[i], NULL, deep_main, NULL);
		long total = 0;
		for (long i = 0; i < a; i++) {
			void *r;
			pthread_join(t[i], &r);
			total += (long)r;
		}
		printf("dives ok %d\n", total > 0 && deep_bad == 0);
	} else if (!strcmp(mode, "exec")) {
		for (long i = 0; i < a; i++)
			work((unsigned long)i);
		printf("before exec %ld\n", a);
		fflush(stdout);
		char n[32];
		snprintf(n, sizeof(n), "%ld", a);
		execl("/proc/self/exe", argv[0], "threads", "1", n, (char *)NULL);
		perror("exec");
		return 1;
	} else if (!strcmp(mode, "malloc")) {
		char src[256];
		/* through a pointer: a real call to the implementation the IFUNC picked, never inlined */
		void *(*volatile mcp)(void *, const void *, size_t) = memcpy;
		memset(src, 7, sizeof(src));
		for (long i = 0; i < a; i++) {
			char *p = malloc(256 + (size_t)(i % 200));
			mcp(p, src, 64 + (size_t)(i % 192));
			sink += (unsigned long)p[10];
			free(p);
		}
		printf("malloc %ld sum %lu\n", a, sink);
	} else {
		fprintf(stderr, "unknown mode %s\n", mode);
		return 2;
	}
	return 0;
}
