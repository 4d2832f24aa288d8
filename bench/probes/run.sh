#!/bin/bash
# bench/probes: the cost of one instrumented call (entry + exit) of a small function, in one run on one
# workload, for crosswalk's agent, `uftrace record -P`, BPF uprobe+uretprobe (crosswalk --user-backend
# uprobe), next to two rdtsc; plus the time to instrument 1000 functions of a running process and to
# attach-and-instrument. Median of RUNS runs each. Prints a table, writes bench/results/probes.json.
set -eu
cd "$(dirname "$0")/../.."
CW=build/crosswalk T=build/bench/probe_target MF=build/bench/many_funcs
RUNS=${RUNS:-3} N=${N:-5000000} NU=${NU:-1000000} NB=${NB:-50000}
out=bench/results/probes.json
mkdir -p bench/results
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
nsit() { sed -n 's/^ns_per_iter \([0-9.]*\).*/\1/p'; }
med() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
run() { # NAME CMD...: median ns per iteration over RUNS runs
	local name=$1; shift
	for i in $(seq "$RUNS"); do "$@" 2>/dev/null | nsit; done | med > "$tmp/$name"
}
run base "$T" call "$N"
run rdtsc "$T" rdtsc "$N"
run crosswalk "$CW" measure -f probed -o /dev/null -- "$T" call "$N"
uft=na; uft_bytes=0
if command -v uftrace >/dev/null; then
	run uftrace_full uftrace record -P probed -d "$tmp/uft.data" "$T" call "$NU"
	uft=$(cat "$tmp/uftrace_full"); uft_bytes=$(du -sb "$tmp/uft.data" | cut -f1)
fi
run uprobe "$CW" measure --user-backend uprobe -f probed -o /dev/null -- "$T" call "$NB"
# instrumenting 1000 functions of a running process, and attach + instrument
"$MF" 30 & mp=$!
sleep 0.3
F=$(seq -s, -f 'f%.0f' 0 999)
for i in $(seq "$RUNS"); do
	"$CW" measure -p $mp -d 0.2 -f "$F" -o /dev/null --json "$tmp/mf$i.json" 2>/dev/null
	"$CW" measure -p $mp -d 0.2 -f f1 -o /dev/null --json "$tmp/one$i.json" 2>/dev/null
done
kill $mp; wait $mp 2>/dev/null || true
python3 - "$tmp" "$RUNS" "$uft" "$uft_bytes" "$NU" "$out" <<'PY'
import json, os, statistics, sys, platform
tmp, runs, uft, uft_bytes, nu, out = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
v = lambda n: float(open(os.path.join(tmp, n)).read())
base = v("base")
res = {"rdtsc_pair": v("rdtsc") - base, "crosswalk": v("crosswalk") - base, "uprobe": v("uprobe") - base}
if uft != "na":
    res["uftrace"] = float(uft) - base
mf = [json.load(open(os.path.join(tmp, "mf%d.json" % i)))["setup"] for i in range(1, runs + 1)]
one = [json.load(open(os.path.join(tmp, "one%d.json" % i)))["setup"] for i in range(1, runs + 1)]
setup = {"instrument_1000_ms": statistics.median(m["instrument_ms"] for m in mf),
         "functions_instrumented": mf[0]["functions"],
         "attach_and_instrument_ms": statistics.median(o["attach_ms"] + o["instrument_ms"] for o in one)}
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
doc = {"machine": {"cpu": cpu, "cores": os.cpu_count(), "kernel": platform.release()},
       "baseline_ns_per_iter": base, "cost_ns_per_call": res, "setup": setup,
       "ratios": {"crosswalk_vs_rdtsc_pair": res["crosswalk"] / res["rdtsc_pair"],
                  "uprobe_vs_crosswalk": res["uprobe"] / res["crosswalk"],
                  **({"uftrace_vs_crosswalk": res["uftrace"] / res["crosswalk"],
                      "uftrace_trace_bytes_per_call": uft_bytes / nu} if "uftrace" in res else {})}}
json.dump(doc, open(out, "w"), indent=1)
print("cost of one instrumented call (entry+exit), ns, median of %d runs; loop baseline %.1f ns/iter" % (runs, base))
print("%-28s %10s %12s" % ("method", "ns/call", "x crosswalk"))
for k in ("rdtsc_pair", "crosswalk", "uftrace", "uprobe"):
    if k in res:
        print("%-28s %10.1f %12.2f" % ({"rdtsc_pair": "two rdtsc", "crosswalk": "crosswalk agent",
              "uftrace": "uftrace record -P", "uprobe": "BPF uprobe+uretprobe"}[k], res[k], res[k] / res["crosswalk"]))
print("instrument %d functions of a running process: %.1f ms" % (setup["functions_instrumented"], setup["instrument_1000_ms"]))
print("attach + instrument one function: %.1f ms" % setup["attach_and_instrument_ms"])
if "uftrace" in res:
    print("uftrace trace: %.1f bytes per call" % (uft_bytes / nu))
print("->", out)
PY
