/* Functions that no entry/exit instrumentation may touch, and why: shared by the controller (which refuses
 * them by name before asking) and the agent (which refuses them by address, whatever the client asked). */
#ifndef CW_AGENT_UNSAFE_H
#define CW_AGENT_UNSAFE_H

#include <string.h>

/* The reason NAME (a symbol, without version) must not be instrumented, or NULL when it may be. Timing a
 * call replaces its return address with the return trampoline's, and these functions either read their own
 * return address (the unwinder steps from its own frame to its caller through it: an instrumented
 * _Unwind_Resume aborts the program at the first exception), return twice (a saved context would resume in
 * the trampoline after the frame is gone), or are no ordinary function (the lazy-binding resolver, the signal
 * return trampoline). */
static inline const char *cw_unsafe_to_instrument(const char *name)
{
	static const char twice[] = "it returns twice (the saved context would return into a frame already gone)";
	static const char vfork_why[] = "it returns twice on one stack (the child would return through the parent's frame)";
	static const struct {
		const char *name;
		int prefix;
		const char *why;
	} list[] = {
		{ "_Unwind_", 1, "the unwinder finds its caller through its own return address (an exception would abort)" },
		{ "__cxa_begin_catch", 0, "the agent hooks it to know when an exception is caught" },
		{ "setjmp", 0, twice },
		{ "_setjmp", 0, twice },
		{ "__setjmp", 0, twice },
		{ "sigsetjmp", 0, twice },
		{ "__sigsetjmp", 0, twice },
		{ "getcontext", 0, twice },
		{ "swapcontext", 0, twice },
		{ "vfork", 0, vfork_why },
		{ "__vfork", 0, vfork_why },
		{ "_dl_runtime_", 1, "the lazy-binding resolver is entered with no return address on top of the stack" },
		{ "__restore_rt", 0, "the signal return trampoline is not called, it is returned into" },
	};
	if (!name)
		return NULL;
	for (size_t i = 0; i < sizeof(list) / sizeof(list[0]); i++) {
		size_t n = strlen(list[i].name);
		if (list[i].prefix ? !strncmp(name, list[i].name, n) : !strcmp(name, list[i].name))
			return list[i].why;
	}
	return NULL;
}

#endif
