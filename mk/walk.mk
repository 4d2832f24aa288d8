# The walk's C++ test workload (a hot path through a virtual call), no frame pointers like the others.
all: $(B)/workloads/walk/virt
$(B)/workloads/walk/virt: tests/workloads/walk/virt.cc
	@mkdir -p $(@D)
	g++ -O2 -g -fomit-frame-pointer -Wall -o $@ $<
