# Call graph part (src/cfg): the syscall number -> name table generated from the kernel headers
# (linux-libc-dev's asm/unistd_64.h), and the cfgtest workload built by gcc and clang at -O0 and -O2 (C and
# C++) into build/workloads/cfg/ for the unit and end-to-end tests.
UNISTD_64 ?= $(firstword $(wildcard /usr/include/x86_64-linux-gnu/asm/unistd_64.h /usr/include/asm/unistd_64.h))

$(B)/gen/cw_syscall_table.h: $(UNISTD_64) mk/cfg.mk
	@mkdir -p $(@D)
	@test -n "$(UNISTD_64)" || { echo "asm/unistd_64.h not found: install linux-libc-dev" >&2; exit 1; }
	sed -n 's/^#define __NR_\([a-z0-9_]*\)[ \t]\+\([0-9]\+\)$$/[\2] = "\1",/p' $< > $@.tmp
	test -s $@.tmp && mv $@.tmp $@

$(B)/obj/src/cfg/syscalls.o: $(B)/gen/cw_syscall_table.h

CFG_WL_DIR := $(B)/workloads/cfg
CFG_WL := $(foreach c,gcc clang,$(foreach o,O0 O2,$(CFG_WL_DIR)/cfgtest-$(c)-$(o) $(CFG_WL_DIR)/cfgvirt-$(c)-$(o)))

all: $(CFG_WL)

$(CFG_WL_DIR)/cfgtest-%: tests/workloads/cfg/cfgtest.c
	@mkdir -p $(@D)
	$(word 1,$(subst -, ,$*)) -$(word 2,$(subst -, ,$*)) -g -Wall -o $@ $<

$(CFG_WL_DIR)/cfgvirt-%: tests/workloads/cfg/cfgvirt.cc
	@mkdir -p $(@D)
	$(if $(filter gcc,$(word 1,$(subst -, ,$*))),g++,clang++) -$(word 2,$(subst -, ,$*)) -g -Wall -o $@ $<

# The fuzzer: src/cfg, src/sym and src/util rebuilt with clang -fsanitize=fuzzer,address; seeds are the
# workloads (with symbols and stripped) and a small stripped Debian binary.
FUZZ_CFG_SRCS := tests/fuzz/fuzz_cfg.c $(wildcard src/cfg/*.c) $(wildcard src/sym/*.c) src/util/util.c
.PHONY: fuzz-cfg
fuzz-cfg: $(B)/fuzz/fuzz_cfg $(B)/fuzz/corpus-cfg/.done

$(B)/fuzz/fuzz_cfg: $(FUZZ_CFG_SRCS) $(wildcard src/cfg/*.h src/sym/*.h) $(B)/gen/cw_syscall_table.h
	@mkdir -p $(@D)
	$(CLANG) -g -O1 -std=gnu11 -D_GNU_SOURCE -Isrc -I$(B) -fsanitize=fuzzer,address -o $@ $(FUZZ_CFG_SRCS) -lZydis -lbpf -lelf -lz

$(B)/fuzz/corpus-cfg/.done: $(CFG_WL_DIR)/cfgtest-gcc-O2 $(CFG_WL_DIR)/cfgtest-clang-O0
	@mkdir -p $(@D)
	strip --strip-all -o $(@D)/cfgtest-stripped $(CFG_WL_DIR)/cfgtest-gcc-O2
	cp $(CFG_WL_DIR)/cfgtest-clang-O0 $(@D)/cfgtest-symtab
	cp /usr/bin/true $(@D)/true
	touch $@

# A library calling its own export through the PLT, and an executable interposing that export.
CFG_WL += $(CFG_WL_DIR)/libcfglib.so $(CFG_WL_DIR)/cfginterpose
all: $(CFG_WL_DIR)/libcfglib.so $(CFG_WL_DIR)/cfginterpose

$(CFG_WL_DIR)/libcfglib.so: tests/workloads/cfg/cfglib.c
	@mkdir -p $(@D)
	$(CC) -O2 -g -fPIC -shared -Wall -o $@ $<

$(CFG_WL_DIR)/cfginterpose: tests/workloads/cfg/cfginterpose.c $(CFG_WL_DIR)/libcfglib.so
	$(CC) -O2 -g -Wall -rdynamic -o $@ $< -L$(CFG_WL_DIR) -lcfglib -Wl,--enable-new-dtags,-rpath,'$$ORIGIN'
