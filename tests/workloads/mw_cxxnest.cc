// C++ exceptions the way servers such as squid use them, through instrumented frames: an exception whose
// cleanup (a destructor on its way) calls functions that throw and catch an exception of their own before
// the first one resumes unwinding (_Unwind_Resume); a catch that rethrows (`throw;`); std::rethrow_exception;
// the same from two threads at once. Prints what it did.
//   mw_cxxnest N
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <stdexcept>
#include <string>
#include <thread>

#ifdef __clang__
#define NOINLINE __attribute__((noinline))
#else
#define NOINLINE __attribute__((noinline, noclone))
#endif

volatile unsigned long sink;

NOINLINE void inner_thrower(int i)
{
	sink += (unsigned long)i;
	throw std::logic_error("inner " + std::to_string(i));
}

// called from a destructor while an outer exception is in flight: its own exception starts and ends
// inside the cleanup
NOINLINE int cleanup_helper(int i)
{
	try {
		inner_thrower(i);
	} catch (const std::logic_error &) {
		return 1;
	}
	return 0;
}

NOINLINE void plain_helper(int i)
{
	sink += (unsigned long)i * 3;
}

struct Guard {
	int i;
	explicit Guard(int x) : i(x) {}
	~Guard()
	{
		plain_helper(i);
		sink += (unsigned long)cleanup_helper(i);
	}
};

NOINLINE void deep_thrower(int i)
{
	sink += (unsigned long)i;
	throw std::runtime_error("outer " + std::to_string(i));
}

NOINLINE int guarded(int i)
{
	Guard g(i); // the cleanup landing pad runs ~Guard, then _Unwind_Resume
	deep_thrower(i);
	return 0;
}

NOINLINE int guarded_caller(int i)
{
	std::string s = "a second cleanup " + std::to_string(i);
	return guarded(i) + (int)s.size();
}

NOINLINE int rethrower(int i)
{
	try {
		return guarded_caller(i);
	} catch (...) {
		sink++;
		throw; // __cxa_rethrow -> _Unwind_Resume_or_Rethrow
	}
}

NOINLINE std::exception_ptr capture(int i)
{
	try {
		deep_thrower(i);
	} catch (...) {
		return std::current_exception();
	}
	return nullptr;
}

NOINLINE void replay(const std::exception_ptr &p)
{
	std::rethrow_exception(p); // _Unwind_RaiseException again, from another frame
}

static int rounds(int n)
{
	int caught = 0;
	for (int i = 0; i < n; i++) {
		try {
			rethrower(i);
		} catch (const std::runtime_error &) {
			caught++;
		}
		try {
			replay(capture(i));
		} catch (const std::runtime_error &) {
			caught++;
		}
	}
	return caught;
}

// live across every exception of its rounds: it must be re-armed after each catch to see its return
NOINLINE int session(int n)
{
	return rounds(n) + (int)(sink & 0);
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 100;
	int a = session(n);
	int b = 0;
	std::thread t([&] { b = session(n); });
	int c = session(n);
	t.join();
	printf("caught %d %d %d\n", a, b, c);
	return 0;
}
