/* Benchmark workload for bench/profile: a fixed amount of CPU-bound work, built without frame pointers,
 * spread over user procedures several calls deep and over libc (qsort calling back into us, memcpy,
 * strlen), so that a profiler must unwind through libc without frame pointers to reach main.
 *
 * usage: profile_wl [ROUNDS]   (default 60; one round is ~10 ms of CPU on this project's VMs)
 * Prints one line: "profile_wl: rounds=N wall_s=W cpu_s=C check=X", where W and C are the wall-clock and
 * process CPU time (CLOCK_PROCESS_CPUTIME_ID) of the work itself, from main's start to its end: the CPU
 * time includes what the kernel spends in sampling interrupts taken while the workload runs (this kernel
 * has no IRQ time accounting), which is exactly a sampling profiler's cost to the profiled program.
 *
 * Shares of the CPU time (perf and crosswalk agree to within a point; they drift a little with the CPU):
 *   mix_block        ~25%  main > run > do_round > phase_hash > mix_block
 *   qsort            ~21%  main > run > do_round > phase_sort > qsort_r (libc) > msort_with_tmp x ~13
 *                          (~13%) > cmp_rec (~8%, a callback from libc into us)
 *   leaf_poly        ~16%  main > run > do_round > phase_deep > descend x 25 > leaf_poly
 *   strlen           ~15%  main > run > do_round > phase_strings > strlen (libc, __strlen_evex here)
 *   crc_step         ~10%  main > run > phase_crc > crc_step (do_round tail-calls phase_crc)
 *   memcpy           ~10%  main > run > do_round > phase_copy > copy_chunks > memcpy (libc)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NOINL __attribute__((noinline, noclone))

static volatile uint64_t sink;

struct rec {
	uint32_t key;
	uint32_t val;
};

static uint64_t *hbuf;	  /* phase_hash input */
static struct rec *recs;  /* phase_sort array */
static struct rec *recs0; /* its unsorted original */
static char *cbuf_a, *cbuf_b;
static char *strs;	  /* phase_strings: NSTR strings of STRLEN bytes each */

#define HN 4096
#define NREC 6000
#define CBUF (256 * 1024)
#define NSTR 16
#define STRLEN (16 * 1024)

NOINL uint64_t mix_block(const uint64_t *a, size_t n, uint64_t h)
{
	for (size_t i = 0; i < n; i++) {
		h ^= a[i];
		h *= 0x9e3779b97f4a7c15ull;
		h ^= h >> 31;
	}
	return h;
}

NOINL void phase_hash(int reps)
{
	uint64_t h = sink;
	for (int r = 0; r < reps; r++)
		h = mix_block(hbuf, HN, h);
	sink = h;
}

NOINL int cmp_rec(const void *a, const void *b)
{
	const struct rec *x = a, *y = b;
	return (x->key > y->key) - (x->key < y->key);
}

NOINL void phase_sort(int reps)
{
	for (int r = 0; r < reps; r++) {
		memcpy(recs, recs0, NREC * sizeof(*recs));
		qsort(recs, NREC, sizeof(*recs), cmp_rec);
		sink += recs[r % NREC].val;
	}
}

NOINL void copy_chunks(char *dst, const char *src, size_t len, size_t chunk)
{
	for (size_t off = 0; off + chunk <= len; off += chunk)
		memcpy(dst + off, src + off, chunk);
}

NOINL void phase_copy(int reps)
{
	for (int r = 0; r < reps; r++) {
		copy_chunks(cbuf_b, cbuf_a, CBUF, 4096);
		copy_chunks(cbuf_a, cbuf_b, CBUF, 4096);
	}
	sink += (unsigned char)cbuf_a[sink % CBUF];
}

NOINL void phase_strings(int reps)
{
	size_t t = 0;
	for (int r = 0; r < reps; r++)
		for (int i = 0; i < NSTR; i++)
			t += strlen(strs + (size_t)i * (STRLEN + 1));
	sink += t;
}

NOINL uint64_t leaf_poly(uint64_t x, int n)
{
	double acc = (double)(x & 1023);
	for (int i = 0; i < n; i++)
		acc = acc * 0.999999 + (double)i * 1e-9;
	return x + (uint64_t)acc;
}

/* A chain of real frames (the addition after the call keeps it from becoming a tail call). */
NOINL uint64_t descend(int depth, uint64_t x, int n)
{
	if (depth == 0)
		return leaf_poly(x, n);
	uint64_t r = descend(depth - 1, x * 3 + 1, n);
	__asm__ volatile("" ::: "memory");
	return r + (uint64_t)depth;
}

NOINL void phase_deep(int reps)
{
	for (int r = 0; r < reps; r++)
		sink += descend(24, sink, 4000);
}

NOINL uint32_t crc_step(uint32_t crc, const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		crc ^= p[i];
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0xedb88320u & -(crc & 1));
	}
	return crc;
}

NOINL void phase_crc(int reps)
{
	uint32_t c = (uint32_t)sink;
	for (int r = 0; r < reps; r++)
		c = crc_step(c, (const unsigned char *)cbuf_a, 16384);
	sink += c;
}

NOINL void do_round(void)
{
	phase_hash(375);
	phase_sort(5);
	phase_copy(80);
	phase_strings(600);
	phase_deep(250);
	phase_crc(7);
}

NOINL void run(int rounds)
{
	for (int i = 0; i < rounds; i++)
		do_round();
}

static void setup(void)
{
	uint64_t x = 88172645463325252ull;
	hbuf = malloc(HN * sizeof(*hbuf));
	recs = malloc(NREC * sizeof(*recs));
	recs0 = malloc(NREC * sizeof(*recs0));
	cbuf_a = malloc(CBUF);
	cbuf_b = malloc(CBUF);
	strs = malloc((size_t)NSTR * (STRLEN + 1));
	if (!hbuf || !recs || !recs0 || !cbuf_a || !cbuf_b || !strs) {
		fprintf(stderr, "profile_wl: out of memory\n");
		exit(1);
	}
	for (size_t i = 0; i < HN; i++)
		hbuf[i] = x = x * 6364136223846793005ull + 1442695040888963407ull;
	for (size_t i = 0; i < NREC; i++) {
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		recs0[i] = (struct rec){ .key = (uint32_t)(x >> 33), .val = (uint32_t)i };
	}
	for (size_t i = 0; i < CBUF; i++)
		cbuf_a[i] = (char)(i * 131 + 7);
	for (size_t i = 0; i < NSTR; i++) {
		memset(strs + i * (STRLEN + 1), 'a' + (int)i, STRLEN);
		strs[i * (STRLEN + 1) + STRLEN] = 0;
	}
}

static double ts(clockid_t c)
{
	struct timespec t;
	clock_gettime(c, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 60;
	if (rounds < 1) {
		fprintf(stderr, "usage: profile_wl [ROUNDS]\n");
		return 2;
	}
	double w0 = ts(CLOCK_MONOTONIC), c0 = ts(CLOCK_PROCESS_CPUTIME_ID);
	setup();
	run(rounds);
	double w1 = ts(CLOCK_MONOTONIC), c1 = ts(CLOCK_PROCESS_CPUTIME_ID);
	printf("profile_wl: rounds=%d wall_s=%.6f cpu_s=%.6f check=%llu\n", rounds, w1 - w0, c1 - c0,
	       (unsigned long long)(sink & 0xffff));
	return 0;
}
