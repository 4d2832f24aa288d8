# The bench/walk driver itself works (so that it cannot rot): --quick (cpu_hot, one round, short runs),
# and the JSON it writes has every field, the walk's verdict is the planted one, and each run did work.
# Checks no timings.
. "$(dirname "$0")/../lib.sh"
need_root
need_facility bpf-perf-event
WL=$CW_ROOT/build/bench/walk_wl
[ -x "$WL" ] && [ -x "$CW_ROOT/build/bench/walk_virt" ] || fail "bench/walk workloads not built (make all builds them)"
python3 "$CW_ROOT/bench/walk/run.py" --quick -o "$TMP/w.json" --crosswalk "$CW" \
	> "$TMP/out.txt" 2> "$TMP/err.txt" || { cat "$TMP/err.txt"; fail "bench driver exited $?"; }
cat "$TMP/out.txt"
grep -q "^cpu_hot " "$TMP/out.txt" || fail "no cpu_hot row in the printed table"
python3 - "$TMP/w.json" <<'PY' || fail "bench JSON incomplete"
import json, shutil, sys
d = json.load(open(sys.argv[1]))
def need(obj, *keys):
    for k in keys:
        assert k in obj, f"missing {k!r} in {sorted(obj)}"
need(d, "machine", "config", "uftrace", "cases", "elapsed_s")
assert d["config"]["quick"] and d["config"]["rounds"] == 1 and d["config"]["cases"] == ["cpu_hot"]
assert list(d["cases"]) == ["cpu_hot"]
c = d["cases"]["cpu_hot"]
need(c, "expected", "throughput_per_s", "target_cpu_share", "slowdown", "walk")
modes = ["alone", "walk"] + (["uftrace"] if shutil.which("uftrace") else [])
assert d["uftrace"]["installed"] == ("uftrace" in modes)
for m in modes:
    t = c["throughput_per_s"][m]
    assert len(t["all"]) == 1 and t["median"] and t["median"] > 0, f"{m}: no work done: {t}"
for m in modes[1:]:
    assert c["slowdown"][m]["median"] > 0, m
w = c["walk"]
need(w, "seconds_to_verdict", "search_seconds", "first_verdict_wall_s", "command_wall_s", "walker_cpu_s",
     "experiments", "overhead_pct_estimated", "verdict_ok", "first_verdict_ok", "target_exited", "first_verdict")
assert w["verdict_ok"] == [True], f"wrong verdict: {w['first_verdict']}"
assert w["target_exited"] == [False], "the target exited during the walk"
assert w["seconds_to_verdict"]["median"] > 0 and w["first_verdict_wall_s"]["median"] > 0
assert w["experiments"]["median"] >= 1
if "uftrace" in modes:
    need(d["uftrace"], "kernel"); need(d["uftrace"]["kernel"], "allowed", "reason")
    assert c["uftrace_bytes"]["median"] > 0
print("bench JSON complete")
PY
pgrep -f "$WL cpu_hot" && fail "a bench workload was left running"
no_bpf_left
