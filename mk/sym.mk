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
