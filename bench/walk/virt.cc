// bench/walk workload: the walk's virt test (a hot path through a C++ virtual call), counting iterations.
// usage: walk_virt SECONDS RESULT_FILE; writes "ITERATIONS SECONDS_RUN CPU_SECONDS" at exit (time up or SIGTERM/SIGINT).
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>

static volatile unsigned long sink;
static volatile std::sig_atomic_t stop;

static double now()
{
	timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

struct Shape {
	virtual ~Shape() {}
	virtual unsigned long area(int n) = 0;
};
struct Square : Shape {
	__attribute__((noinline)) unsigned long area(int n) override
	{
		unsigned long x = sink;
		for (int i = 0; i < n; i++)
			x = x * 6364136223846793005ul + i;
		return x;
	}
};
struct Circle : Shape {
	__attribute__((noinline)) unsigned long area(int n) override { return n * 3; }
};

__attribute__((noinline)) void measure_all(Shape **s, int k)
{
	for (int i = 0; i < k; i++)
		sink += s[i]->area(200000);
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		std::fprintf(stderr, "usage: walk_virt SECONDS RESULT_FILE\n");
		return 2;
	}
	std::signal(SIGTERM, [](int) { stop = 1; });
	std::signal(SIGINT, [](int) { stop = 1; });
	double t0 = now(), deadline = t0 + std::atof(argv[1]);
	Shape *s[2] = { new Square, new Circle };
	unsigned long iters = 0;
	while (!stop && now() < deadline) {
		measure_all(s, 2);
		iters++;
	}
	std::FILE *f = std::fopen(argv[2], "w");
	if (!f)
		return 1;
	timespec cpu;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu);
	std::fprintf(f, "%lu %.6f %.6f\n", iters, now() - t0, cpu.tv_sec + cpu.tv_nsec / 1e9);
	std::fclose(f);
	return 0;
}
