// C++ instrumentation workload: virtual calls, templates, and exceptions thrown through instrumented
// frames (thrower -> middle -> catcher, caught in catcher and in main). Prints what it did.
//   mw_cxx N
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

#ifdef __clang__
#define NOINLINE __attribute__((noinline))
#else
#define NOINLINE __attribute__((noinline, noclone))
#endif

volatile unsigned long sink;

struct Shape {
	virtual ~Shape() {}
	virtual double area() const = 0;
};
struct Square : Shape {
	double s;
	explicit Square(double x) : s(x) {}
	NOINLINE double area() const override { return s * s; }
};
struct Circle : Shape {
	double r;
	explicit Circle(double x) : r(x) {}
	NOINLINE double area() const override { return 3.14159 * r * r; }
};

NOINLINE double total_area(const std::vector<Shape *> &v)
{
	double t = 0;
	for (auto *s : v)
		t += s->area();
	return t;
}

NOINLINE void thrower(int i)
{
	sink += (unsigned long)i;
	if (i % 2 == 0)
		throw std::runtime_error("even " + std::to_string(i));
}

NOINLINE int middle(int i)
{
	std::string guard = "frame with a destructor " + std::to_string(i); // a cleanup landing pad
	thrower(i);
	return (int)guard.size();
}

NOINLINE int catcher(int i)
{
	try {
		return middle(i);
	} catch (const std::runtime_error &e) {
		return -1;
	}
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 100;
	std::vector<Shape *> v;
	for (int i = 0; i < 10; i++)
		v.push_back(i % 2 ? (Shape *)new Square(i) : (Shape *)new Circle(i));
	double a = 0;
	for (int i = 0; i < n; i++)
		a += total_area(v);
	int caught = 0, ok = 0;
	for (int i = 0; i < n; i++)
		(catcher(i) < 0 ? caught : ok)++;
	int outer = 0;
	for (int i = 0; i < n; i++) {
		try {
			middle(i);
		} catch (const std::exception &) {
			outer++;
		}
	}
	for (auto *s : v)
		delete s;
	printf("area %.2f caught %d ok %d outer %d\n", a, caught, ok, outer);
	return 0;
}
