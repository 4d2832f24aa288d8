// cfgvirt: C++ indirect calls for the call graph tests: total() calls area() through the vtable; dial() ends
// in a call through a pointer to member (virtual or not: a branch joins right before its jmp *%rax at -O2,
// the shape of squid's CommCbMemFunT::doDial).
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

typedef int (Shape::*Method)() const;
struct Dialer {
	const Shape *obj;
	Method m;
};

volatile int complaints;

KEEP void complain(int why)
{
	complaints = complaints + why;
}

KEEP int dial(const Dialer *d)
{
	if (!d->obj)
		complain(1); /* forward branches to code after the jmp: block starts met only later */
	if (!d->m)
		complain(2);
	return (d->obj->*d->m)();
}

int main(int argc, char **)
{
	Square a(argc);
	Rect b(argc, 2);
	const Shape *v[2] = { &a, &b };
	Dialer d = { &a, &Shape::area };
	return total(v, 2) == 42 || dial(&d) == 7;
}
