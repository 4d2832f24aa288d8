# The sampling backend on a program whose kernel time is CPU in one syscall (reading /dev/zero): the call tree
# under sys:read, from sampled kernel stacks, puts nearly all of it in vfs_read -> read_zero-ish code, with
# sample counts and 95% intervals that contain the estimate; k:vfs_read's sampled time is consistent with
# sys:read's exact time and says its call count is unknown.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../kmeasure_lib.sh"
need_root
need_facility bpf-perf-event
need_facility kallsyms
"$CW" kmeasure --check-removed --kernel-backend sampling -f sys:read,k:vfs_read --callees --json "$TMP/k.json" -- "$CW_WL/zero_read" 1 > "$TMP/out.txt" 2> "$TMP/err.txt"; rc=$?
cat "$TMP/out.txt" "$TMP/err.txt"
[ $rc = 0 ] || fail "kmeasure exited $rc"
python3 - "$TMP/k.json" <<'PY' || fail "sampled call tree or estimates wrong"
import json, sys
d = json.load(open(sys.argv[1]))
f = {x["function"]: x for x in d["functions"]}
r, v = f["sys:read"], f["k:vfs_read"]
assert d["backend"] == "sampling"
assert r["calls_exact"] and r["calls"] > 100, "sys:read calls"
assert not v["calls_exact"] and v["backend"] == "sampling", "k:vfs_read must say its calls are unknown"
assert v["samples"] >= 50, f"too few samples ({v['samples']})"
# the sampled estimate of a callee of read is within its CI of at most read's exact time, and most of it
lo, hi = v["total_ns"] - v["ci95_ns"], v["total_ns"] + v["ci95_ns"]
print(f"sys:read {r['total_ns']/1e6:.1f} ms exact; k:vfs_read {v['total_ns']/1e6:.1f} ms +- {v['ci95_ns']/1e6:.1f}")
assert lo <= r["total_ns"] * 1.02, "k:vfs_read estimate above sys:read's exact time"
assert hi >= 0.5 * r["total_ns"], "k:vfs_read estimate far below sys:read"
tree = r["callees"]
assert tree[0]["depth"] == 0 and abs(tree[0]["frac"] - 1) < 1e-6
vr = [c for c in tree if c["name"] == "vfs_read"]
assert vr and vr[0]["frac"] > 0.8, "vfs_read does not hold sys:read's time"
z = [c for c in tree if "zero" in c["name"] and c["depth"] > vr[0]["depth"]]
assert z and z[0]["frac"] > 0.7, "no /dev/zero read path under vfs_read"
for c in tree:
    assert c["frac_lo"] <= c["frac"] + 1e-9 and c["frac"] <= c["frac_hi"] + 1e-9, c
PY
removed_ok "$TMP/err.txt"
exit 0
