# Symbolizer (src/sym): variants of the symtest workload for the unit tests, and the ELF/maps fuzzer.
#   symtest.nopie     non-PIE build (runtime addresses = ELF vaddrs)
#   symtest.stripped  strip --strip-all: only .dynsym and .eh_frame are left
#   symtest.dl        stripped, with a .gnu_debuglink to symtest.debug (objcopy --only-keep-debug)
SYM_WL := $(B)/workloads/symtest.nopie $(B)/workloads/symtest.stripped $(B)/workloads/symtest.dl

all: $(SYM_WL)

$(B)/workloads/symtest.nopie: tests/workloads/symtest.c
	@mkdir -p $(@D)
	$(CC) -O2 -g -fomit-frame-pointer -no-pie -fno-pie -Wall -o $@ $<

$(B)/workloads/symtest.stripped: $(B)/workloads/symtest
	strip --strip-all -o $@ $<

$(B)/workloads/symtest.debug: $(B)/workloads/symtest
	objcopy --only-keep-debug $< $@

$(B)/workloads/symtest.dl: $(B)/workloads/symtest $(B)/workloads/symtest.debug
	strip --strip-all -o $@.tmp $<
	cd $(@D) && objcopy --add-gnu-debuglink=symtest.debug $(@F).tmp $(@F) && rm -f $(@F).tmp

# The fuzzer: src/sym and src/util rebuilt with clang -fsanitize=fuzzer,address, and a seed corpus made of
# a real stripped ELF, this machine's maps and a slice of its kallsyms, plus tests/fuzz/seeds/ (short inputs
# that end without a newline, where overreads would show).
FUZZ_SYM_SRCS := tests/fuzz/fuzz_sym.c $(wildcard src/sym/*.c) src/util/util.c
.PHONY: fuzz-sym
fuzz-sym: $(B)/fuzz/fuzz_sym $(B)/fuzz/corpus-sym/.done

$(B)/fuzz/fuzz_sym: $(FUZZ_SYM_SRCS) $(wildcard src/sym/*.h)
	@mkdir -p $(@D)
	$(CLANG) -g -O1 -std=gnu11 -D_GNU_SOURCE -Isrc -fsanitize=fuzzer,address -o $@ $(FUZZ_SYM_SRCS) -lbpf -lelf -lz

$(B)/fuzz/corpus-sym/.done: $(B)/workloads/symtest.stripped $(B)/workloads/symtest $(wildcard tests/fuzz/seeds/*)
	@mkdir -p $(@D)
	cp tests/fuzz/seeds/* $(@D)/
	printf '\000' | cat - $(B)/workloads/symtest.stripped > $(@D)/elf-stripped
	printf '\003' | cat - $(B)/workloads/symtest > $(@D)/elf-symtab
	printf '\001' | cat - /proc/self/maps > $(@D)/maps
	(printf '\002'; head -300 /proc/kallsyms; grep -m 50 '\[' /proc/kallsyms || true) > $(@D)/kallsyms
	touch $@
