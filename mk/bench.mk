# Benchmarks against the peers (bench/): each prints a table and writes bench/results/NAME.json.
#   make bench-profile   crosswalk profile vs perf record -g / --call-graph dwarf (bench/profile/)
.PHONY: bench-profile
bench: bench-profile

# The workload is built like the test workloads: optimized, no frame pointers, with symbols.
$(B)/bench/profile_wl: bench/profile/workload.c
	@mkdir -p $(@D)
	$(CC) -O2 -g -fomit-frame-pointer -Wall -o $@ $<

all: $(B)/bench/profile_wl

bench-profile: $(B)/crosswalk $(B)/bench/profile_wl
	@scripts/deps.sh
	python3 bench/profile/run.py $(BENCH_PROFILE_ARGS)
