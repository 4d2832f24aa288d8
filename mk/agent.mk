# libcrosswalk-agent.so (the in-process runtime, src/agent + the x86-64 code it patches with) and the build
# variants of the instrumentation test workloads.

# the return-instance pools (src/objpool, once on main) are compiled into the agent too
AGENT_POOL_SRCS := $(wildcard src/objpool/objpool.c src/objpool/freelist.c)
AGENT_SRCS := $(wildcard src/agent/*.c) src/arch/x86_64/reloc.c src/arch/x86_64/writer.c $(AGENT_POOL_SRCS)
AGENT_OBJS := $(patsubst %.c, $(B)/agent-obj/%.o, $(AGENT_SRCS)) $(B)/agent-obj/src/arch/x86_64/tramp.o
# the agent runs inside the target: PIC, hidden by default, no stack protector or frame tricks on the hook
AGENT_CFLAGS := -O2 -g -std=gnu11 -Wall -Wextra -Wno-unused-parameter -D_GNU_SOURCE -Isrc -fPIC \
	-fvisibility=hidden -ftls-model=initial-exec -fno-stack-protector -fcf-protection=none -MMD -MP

all: $(B)/libcrosswalk-agent.so

# code on the hook path must not touch vector registers (tramp.S does not save them)
$(B)/agent-obj/src/agent/hook.o $(patsubst %.c, $(B)/agent-obj/%.o, $(AGENT_POOL_SRCS)): AGENT_EXTRA := -mgeneral-regs-only
$(B)/agent-obj/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(AGENT_CFLAGS) $(AGENT_EXTRA) -c $< -o $@

$(B)/agent-obj/%.o: %.S
	@mkdir -p $(@D)
	$(CC) -c -fPIC -Isrc -MMD -MP $< -o $@

$(B)/libcrosswalk-agent.so: $(AGENT_OBJS)
	$(CC) -shared -Wl,-z,now -Wl,-z,noexecstack -o $@ $(AGENT_OBJS) -lZydis -lpthread

-include $(wildcard $(B)/agent-obj/src/*/*.d $(B)/agent-obj/src/arch/*/*.d)

# Workload variants: every tests/workloads/mw_*.c and mw_*.cc target (instrumentation tests) is built by gcc
# and clang, at -O0/-O2/-O3, with and without -fcf-protection, PIE and non-PIE.
MW_C   := $(wildcard tests/workloads/mw_*.c)
MW_CXX := $(wildcard tests/workloads/mw_*.cc)
MW_VARIANTS := gcc-O0 gcc-O2 gcc-O3 clang-O0 clang-O2 clang-O3 gcc-O2-cet clang-O2-cet gcc-O2-nopie clang-O2-nopie
MW_BINS := $(foreach v, $(MW_VARIANTS), $(patsubst tests/workloads/%.c, $(B)/workloads/%.$(v), $(MW_C)) \
	$(patsubst tests/workloads/%.cc, $(B)/workloads/%.$(v), $(MW_CXX)))
all: $(MW_BINS)

mw_cc    = $(if $(findstring clang,$(1)),clang,gcc)
mw_cxx   = $(if $(findstring clang,$(1)),clang++,g++)
mw_flags = -g -Wall -pthread -$(word 2,$(subst -, ,$(1))) \
	$(if $(findstring -cet,$(1)),-fcf-protection=full,-fcf-protection=none) \
	$(if $(findstring -nopie,$(1)),-fno-pie -no-pie,-fpie -pie)

define mw_rule
$(B)/workloads/%.$(1): tests/workloads/%.c
	@mkdir -p $$(@D)
	$$(call mw_cc,$(1)) $$(call mw_flags,$(1)) -o $$@ $$< -lm
$(B)/workloads/%.$(1): tests/workloads/%.cc
	@mkdir -p $$(@D)
	$$(call mw_cxx,$(1)) $$(call mw_flags,$(1)) -o $$@ $$<
endef
$(foreach v, $(MW_VARIANTS), $(eval $(call mw_rule,$(v))))

# bench/probes: cost per instrumented call, crosswalk vs uftrace -P vs BPF uprobes vs two rdtsc
$(B)/bench/probe_target: bench/probes/probe_target.c
	@mkdir -p $(@D)
	$(CC) -O2 -g -o $@ $<
$(B)/bench/many_funcs: bench/probes/many_funcs.c
	@mkdir -p $(@D)
	$(CC) -O2 -g -o $@ $<
.PHONY: bench-probes
bench-probes: $(B)/crosswalk $(B)/libcrosswalk-agent.so $(B)/bench/probe_target $(B)/bench/many_funcs
	bench/probes/run.sh
bench: bench-probes
.PHONY: bench-kret
bench-kret: $(B)/crosswalk $(B)/libcrosswalk-agent.so $(B)/bench/probe_target
	bench/probes/kret.sh
bench: bench-kret

# the pools are picked up by __has_include: rebuild what tests for them when they appear
$(B)/agent-obj/src/agent/hook.o: $(wildcard src/objpool/objpool.h src/objpool/freelist.h)
$(B)/obj/src/cli/cmd_measure.o: $(wildcard src/objpool/objpool.h)
