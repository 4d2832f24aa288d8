// Workload: the hot path goes through a C++ virtual call (resolved by the walk from what it observes).
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <memory>

static volatile unsigned long sink;

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
	double secs = argc > 1 ? atof(argv[1]) : 2;
	Shape *s[2] = { new Square, new Circle };
	timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	do {
		measure_all(s, 2);
		clock_gettime(CLOCK_MONOTONIC, &b);
	} while ((b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9 < secs);
	std::printf("%lu\n", sink & 1);
	return 0;
}
