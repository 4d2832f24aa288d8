#!/bin/bash
# The seed's kretprobe experiment in user space: calls per second of one instrumented routine
# (probe_target's probed_mt) at 1, 2, 4, 8 and 16 threads, with return instances from the per-thread stack,
# the objpool and the freelist (the last two when this build has them). Median of RUNS runs. Prints a
# table, writes bench/results/kret.json.
set -eu
cd "$(dirname "$0")/../.."
CW=build/crosswalk T=build/bench/probe_target
RUNS=${RUNS:-3} N=${N:-2000000}
out=bench/results/kret.json
mkdir -p bench/results
pools="stack"
"$CW" measure --pool objpool -f probed -o /dev/null -- "$T" call 10 >/dev/null 2>&1 && pools="stack objpool freelist"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
for p in $pools; do
	for t in 1 2 4 8 16; do
		for i in $(seq "$RUNS"); do
			"$CW" measure --pool $p -f probed_mt -o /dev/null -- "$T" threads $t $((N / t)) 2>/dev/null |
				sed -n 's/^calls_per_sec \([0-9]*\).*/\1/p'
		done | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}' > "$tmp/$p.$t"
	done
done
for t in 1 2 4 8 16; do
	for i in $(seq "$RUNS"); do "$T" threads $t $((N / t)) | sed -n 's/^calls_per_sec \([0-9]*\).*/\1/p'; done |
		sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}' > "$tmp/none.$t"
done
python3 - "$tmp" "$pools" "$out" <<'PY'
import json, os, sys
tmp, pools, out = sys.argv[1], sys.argv[2].split() , sys.argv[3]
threads = [1, 2, 4, 8, 16]
v = lambda p, t: float(open(os.path.join(tmp, "%s.%d" % (p, t))).read() or 0)
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
doc = {"machine": {"cpu": cpu, "cores": os.cpu_count()}, "threads": threads,
       "calls_per_sec": {p: [v(p, t) for t in threads] for p in ["none"] + pools}}
json.dump(doc, open(out, "w"), indent=1)
print("calls/s of one instrumented routine (millions), %d cores" % os.cpu_count())
print("%-22s" % "return instances" + "".join("%10s" % ("%d thr" % t) for t in threads))
for p in ["none"] + pools:
    print("%-22s" % ({"none": "(not instrumented)"}.get(p, p)) + "".join("%10.2f" % (v(p, t) / 1e6) for t in threads))
print("->", out)
PY
