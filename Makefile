# crosswalk: one `make` builds build/crosswalk (self-contained: BPF objects are embedded as skeletons).
#
# Conventions (so that parts can be added without editing this file):
#   src/<part>/*.c          -> libcrosswalk.a (everything but src/cli and src/agent)
#   src/cli/*.c             -> build/crosswalk, linked with libcrosswalk.a
#   src/kernel/NAME.bpf.c   -> build/skel/NAME.skel.h (bpftool gen skeleton), CO-RE via build/vmlinux.h
#   tests/unit/test_*.c     -> build/tests/test_* (cmocka), run by tests/run.sh
#   tests/workloads/*.c     -> build/workloads/* (no frame pointers, with symbols)
#   mk/*.mk                 -> included: extra targets of a part (agent .so, benchmarks, ...)
#   scripts/deps.d/*.txt    -> Debian packages that scripts/deps.sh installs

CC      ?= gcc
CLANG   ?= clang
BPFTOOL ?= bpftool
B       := build

CFLAGS  ?= -O2 -g
CFLAGS  += -std=gnu11 -Wall -Wextra -Wno-unused-parameter -D_GNU_SOURCE -Isrc -I$(B) -I$(B)/skel -MMD -MP
LDLIBS  += -lbpf -ldw -lelf -lz -lprotobuf-c -lZydis -lpthread -lm

ARCH_BPF := x86
BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH_BPF) -I$(B) -Isrc -Wall -Wno-unused-function

CORE_SRCS := $(filter-out %.bpf.c, $(wildcard src/*/*.c src/arch/*/*.c))
CORE_SRCS := $(filter-out src/cli/% src/agent/%, $(CORE_SRCS))
CLI_SRCS  := $(wildcard src/cli/*.c)
BPF_SRCS  := $(wildcard src/kernel/*.bpf.c)
SKELS     := $(patsubst src/kernel/%.bpf.c, $(B)/skel/%.skel.h, $(BPF_SRCS))
CORE_OBJS := $(patsubst %.c, $(B)/obj/%.o, $(CORE_SRCS))
CLI_OBJS  := $(patsubst %.c, $(B)/obj/%.o, $(CLI_SRCS))
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c, $(B)/tests/%, $(UNIT_SRCS))
WL_SRCS   := $(wildcard tests/workloads/*.c)
WL_BINS   := $(patsubst tests/workloads/%.c, $(B)/workloads/%, $(WL_SRCS))

.PHONY: all test check clean deps bench
all: $(B)/crosswalk $(WL_BINS)

deps:
	@scripts/deps.sh

$(B)/vmlinux.h:
	@mkdir -p $(@D)
	$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $@.tmp && mv $@.tmp $@

$(B)/bpf/%.bpf.o: src/kernel/%.bpf.c $(B)/vmlinux.h $(wildcard src/kernel/*.h)
	@mkdir -p $(@D)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(B)/skel/%.skel.h: $(B)/bpf/%.bpf.o
	@mkdir -p $(@D)
	$(BPFTOOL) gen skeleton $< name $(subst -,_,$*)_bpf > $@.tmp && mv $@.tmp $@

$(B)/obj/%.o: %.c | $(SKELS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c $< -o $@

$(B)/libcrosswalk.a: $(CORE_OBJS)
	@mkdir -p $(@D)
	rm -f $@; ar rcs $@ $^

$(B)/crosswalk: $(CLI_OBJS) $(B)/libcrosswalk.a
	$(CC) $(CFLAGS) -o $@ $(CLI_OBJS) $(B)/libcrosswalk.a $(LDLIBS)

$(B)/tests/%: tests/unit/%.c $(B)/libcrosswalk.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Wno-missing-field-initializers -Itests -o $@ $< $(B)/libcrosswalk.a $(LDLIBS) -lcmocka

$(B)/workloads/%: tests/workloads/%.c
	@mkdir -p $(@D)
	$(CC) -O2 -g -fomit-frame-pointer -Wall -o $@ $< -lpthread -lm

-include $(wildcard mk/*.mk)

test: all $(UNIT_BINS)
	@tests/run.sh

check: test

clean:
	rm -rf $(B)

-include $(wildcard $(B)/obj/src/*/*.d $(B)/obj/src/arch/*/*.d)
