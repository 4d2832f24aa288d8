# The bench/profile driver itself works (so that it cannot rot): one round of a tiny workload in --quick
# mode, and the JSON it writes has every field, with sane values. Checks no timings.
. "$(dirname "$0")/../lib.sh"
need_root
need_facility bpf-perf-event
command -v perf >/dev/null || skip "perf not installed (Debian package linux-perf)"
perf record -q -F 99 -o "$TMP/probe.data" -- true >/dev/null 2>&1 || skip "perf record cannot sample here"
WL=$CW_ROOT/build/bench/profile_wl
[ -x "$WL" ] || fail "$WL not built (make all builds it)"
python3 "$CW_ROOT/bench/profile/run.py" --quick -o "$TMP/p.json" --crosswalk "$CW" --workload "$WL" \
	> "$TMP/out.txt" 2> "$TMP/err.txt" || { cat "$TMP/err.txt"; fail "bench driver exited $?"; }
cat "$TMP/out.txt"
grep -q "^goals:" "$TMP/out.txt" || fail "no goals line in the printed table"
python3 - "$TMP/p.json" <<'PY' || fail "bench JSON incomplete"
import json, sys
d = json.load(open(sys.argv[1]))
def need(obj, *keys):
    for k in keys:
        assert k in obj, f"missing {k!r} in {sorted(obj)}"
need(d, "machine", "config", "modes", "bpf_cost", "amplified", "agreement", "goals", "elapsed_s")
assert d["config"]["quick"] and d["config"]["rounds"] == 1 and d["config"]["freq_hz"] == 997
need(d["modes"], "baseline", "crosswalk", "perf_fp", "perf_dwarf")
for m, v in d["modes"].items():
    need(v, "workload_cpu_s", "workload_wall_s", "profiler_cpu_s")
    assert v["workload_cpu_s"]["median"] > 0 and len(v["workload_cpu_s"]["all"]) == 1
    if m == "baseline":
        continue
    need(v, "overhead_cpu_pct", "overhead_cpu_pct_of_min", "overhead_wall_pct", "output_bytes", "samples",
         "pct_stacks_reach_main", "top10")
    assert v["samples"] > 5, f"{m}: only {v['samples']} samples"
    assert v["output_bytes"]["median"] > 0
    assert 0 <= v["pct_stacks_reach_main"] <= 100
    assert v["top10"] and all(0 < p["pct"] <= 100 for p in v["top10"])
assert d["modes"]["crosswalk"]["pprof_bytes"] > 0
# the workload's hot user procedures are found by all three profilers
for m in ("crosswalk", "perf_fp", "perf_dwarf"):
    names = {p["name"] for p in d["modes"][m]["top10"]}
    assert {"mix_block", "leaf_poly"} & names, f"{m}: top 10 {names}"
for m in ("vs_perf_fp", "vs_perf_dwarf"):
    need(d["agreement"][m], "max_abs_diff_pp", "procedures")
    assert d["agreement"][m]["procedures"]
for m in ("crosswalk", "perf_fp", "perf_dwarf"):
    a = d["amplified"][m]
    need(a, "overhead_cpu_pct", "us_per_sample", "projected_overhead_pct_at_freq")
    assert a["samples_per_run"] > 0 and a["us_per_sample"] is not None
b = d["bpf_cost"]
assert "ns_per_workload_sample" in b or "error" in b, b
need(d["goals"], "crosswalk_overhead_le_2pct", "crosswalk_overhead_below_perf_fp",
     "crosswalk_overhead_below_perf_dwarf", "top10_within_2pp_of_perf_dwarf", "crosswalk_stacks_reach_main_ge_95pct",
     "projected_crosswalk_overhead_le_2pct", "projected_crosswalk_overhead_below_perf_fp")
print("bench JSON complete")
PY
no_bpf_left
