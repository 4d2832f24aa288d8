/* libFuzzer target for the symbolizer's parsers of untrusted input: ELF images (symbols, .eh_frame, PLT
 * relocations), /proc/PID/maps text and /proc/kallsyms text. The first byte picks the parser. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "sym/sym.h"
#include "sym/sym_int.h"

static void fuzz_elf(const uint8_t *d, size_t n)
{
	struct cw_syms *s = cw_syms_new();
	const struct cw_func *fs, *f;
	size_t nf;
	if (!cw_syms_funcs_mem(s, d, n, "fuzz", &fs, &nf)) {
		uint64_t sum = 0;
		for (size_t i = 0; i < nf; i++) {
			sum += strlen(fs[i].name) + fs[i].start + fs[i].size;
			if (i + 1 < nf && fs[i].start >= fs[i + 1].start)
				abort(); /* the table must be sorted and unique */
		}
		(void)sum;
	}
	(void)f;
	cw_syms_free(s);
}

static void fuzz_maps1(const uint8_t *d, size_t n)
{
	struct cw_proc_maps m;
	if (cw_proc_maps_parse((const char *)d, n, 1, &m))
		return;
	for (size_t i = 0; i < m.n; i++) {
		const struct cw_map *x = cw_proc_maps_find(&m, m.maps[i].start);
		if (!x && m.maps[i].end > m.maps[i].start)
			abort(); /* a non-empty mapping must find its own start */
	}
	cw_proc_maps_free(&m);
}

static void fuzz_kallsyms1(const uint8_t *d, size_t n)
{
	struct cw_ktab k = { 0 };
	if (!cw_ktab_parse(&k, (const char *)d, n)) {
		for (size_t i = 0; i < k.n; i++) {
			uint64_t size;
			const struct cw_ksym *x = cw_ktab_lookup(&k, k.syms[i].addr, &size);
			if (k.syms[i].addr && (!x || x->addr != k.syms[i].addr))
				abort();
			if (!cw_ktab_find(&k, k.syms[i].name, &size))
				abort();
		}
	}
	cw_ktab_release(&k);
}

/* Short text inputs are also parsed cut at every length, each cut in a buffer of exactly that size, so that
 * ASan sees any read past the end of a line that ends without a newline. */
static void each_prefix(const uint8_t *d, size_t n, void (*fn)(const uint8_t *, size_t))
{
	for (size_t cut = n > 256 ? n : 0; cut <= n; cut++) {
		uint8_t *b = malloc(cut ? cut : 1);
		memcpy(b, d, cut);
		fn(b, cut);
		free(b);
	}
}

static void fuzz_maps(const uint8_t *d, size_t n)
{
	each_prefix(d, n, fuzz_maps1);
}

static void fuzz_kallsyms(const uint8_t *d, size_t n)
{
	each_prefix(d, n, fuzz_kallsyms1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	switch (data[0] % 3) {
	case 0: fuzz_elf(data + 1, size - 1); break;
	case 1: fuzz_maps(data + 1, size - 1); break;
	case 2: fuzz_kallsyms(data + 1, size - 1); break;
	}
	return 0;
}
