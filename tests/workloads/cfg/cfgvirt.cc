// cfgvirt: a C++ virtual call for the call graph tests: total() calls area() through the vtable.
#ifdef __clang__
#define KEEP __attribute__((noinline))
#else
#define KEEP __attribute__((noipa))
#endif

struct Shape {
	virtual int area() const = 0;
	virtual ~Shape() {}
};

struct Square : Shape {
	int s;
	explicit Square(int s) : s(s) {}
	int area() const override { return s * s; }
};

struct Rect : Shape {
	int w, h;
	Rect(int w, int h) : w(w), h(h) {}
	int area() const override { return w * h; }
};

KEEP int total(const Shape *const *v, int n)
{
	int t = 0;
	for (int i = 0; i < n; i++)
		t += v[i]->area();
	return t;
}

int main(int argc, char **)
{
	Square a(argc);
	Rect b(argc, 2);
	const Shape *v[2] = { &a, &b };
	return total(v, 2) == 42;
}
