# bench/walk: seconds to the walk's verdict and the target's slowdown while walked, next to uftrace.
#   make bench-walk   (bench/walk/run.py; prints a table, writes bench/results/walk.json)
.PHONY: bench-walk
bench: bench-walk

# Built like the test workloads: optimized, no frame pointers, with symbols.
$(B)/bench/walk_wl: bench/walk/workload.c
	@mkdir -p $(@D)
	$(CC) -O2 -g -fomit-frame-pointer -Wall -pthread -o $@ $<

$(B)/bench/walk_virt: bench/walk/virt.cc
	@mkdir -p $(@D)
	g++ -O2 -g -fomit-frame-pointer -Wall -o $@ $<

all: $(B)/bench/walk_wl $(B)/bench/walk_virt

bench-walk: $(B)/crosswalk $(B)/bench/walk_wl $(B)/bench/walk_virt
	@scripts/deps.sh
	python3 bench/walk/run.py $(BENCH_WALK_ARGS)
