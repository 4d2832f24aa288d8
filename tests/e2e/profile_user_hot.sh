# profile -- CMD on a CPU-bound, no-frame-pointer workload: the hot user procedures are named with
# plausible shares, and at least 95% of its user stacks reach main.
. "$(dirname "$0")/../lib.sh"
need_root
need_facility bpf-perf-event
"$CW" profile -f json -o "$TMP/p.json" -- "$CW_WL/cpu_hot" 2 >/dev/null || fail "profile exited $?"
cat "$TMP/p.json" | head -c 1500; echo
# hot_inner does ~3x the work of warm_inner (see the workload)
json_check "$TMP/p.json" 'procs["hot_inner"]["space"] == "user" and procs["hot_inner"]["object"] == "cpu_hot"'
json_check "$TMP/p.json" 'procs["hot_inner"]["samples"] > 1.5 * procs["warm_inner"]["samples"] > 0'
json_check "$TMP/p.json" 'procs["hot_inner"]["samples"] < 8 * procs["warm_inner"]["samples"]'
json_check "$TMP/p.json" 'max(d["procedures"], key=lambda p: p["samples"])["name"] == "hot_inner"'
# shares: of the workload's own samples hot_inner holds most (the machine may be busy with other work,
# so the share of all CPU is not fixed); a share of all CPU never exceeds the share of non-idle CPU
json_check "$TMP/p.json" 'procs["hot_inner"]["samples"] > 0.5 * sum(p["samples"] for p in d["procedures"])'
json_check "$TMP/p.json" '0 < procs["hot_inner"]["pct_all"] <= procs["hot_inner"]["pct_nonidle"] <= 100'
# the table names them too
"$CW" profile -- "$CW_WL/cpu_hot" 1 > "$TMP/t.txt" || fail "table profile exited $?"
cat "$TMP/t.txt"
grep -Eq '^ *[0-9.]+% +[0-9.]+% +[0-9]+ +\[u\] +hot_inner +cpu_hot' "$TMP/t.txt" || fail "table lacks the hot_inner row"
# unwinding without frame pointers: stacks of the workload reach main
"$CW" profile -f folded -o "$TMP/f.txt" -- "$CW_WL/cpu_hot" 2 >/dev/null || fail "folded profile exited $?"
python3 - "$TMP/f.txt" <<'PY' || fail "fewer than 95% of the workload's user stacks reach main"
import sys
tot = main = 0
for line in open(sys.argv[1]):
    stack, n = line.rsplit(" ", 1)
    frames = stack.split(";")
    if frames[0] != "cpu_hot" or not any(not f.endswith("_[k]") for f in frames[1:]):
        continue
    tot += int(n)
    if "main" in frames:
        main += int(n)
print(f"{main}/{tot} = {100.0*main/max(tot,1):.1f}% of user stacks reach main")
if main < 0.95 * tot:
    print("".join(sorted(open(sys.argv[1]), key=lambda l: -int(l.rsplit(" ", 1)[1]))[:15]))
sys.exit(0 if tot > 500 and main >= 0.95 * tot else 1)
PY
grep -q '^cpu_hot;.*main;run_loop;compute_step;hot_inner ' "$TMP/f.txt" || fail "no full hot_inner stack"
no_bpf_left
