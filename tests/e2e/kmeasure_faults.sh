# kmeasure on a page-fault-heavy program: every touched fresh page is a counted fault (exceptions
# tracepoints), fault time shows up (cpu-clock samples inside the fault handlers, plus exact blocked time),
# and the call tree under the fault goes through handle_mm_fault.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../kmeasure_lib.sh"
need_root
need_facility bpf-tracepoint
need_facility bpf-perf-event
MB=64 ROUNDS=3
"$CW" kmeasure --check-removed -f fault,fault:user,fault:kernel,sys:munmap --callees --json "$TMP/k.json" -- "$CW_WL/faults" $MB $ROUNDS > "$TMP/out.txt" 2> "$TMP/err.txt"; rc=$?
cat "$TMP/out.txt" "$TMP/err.txt"
[ $rc = 0 ] || fail "kmeasure exited $rc"
python3 - "$TMP/k.json" $MB $ROUNDS <<'PY' || fail "fault counts or time wrong"
import json, sys
d = json.load(open(sys.argv[1]))
pages = int(sys.argv[2]) * 256 * int(sys.argv[3])
wall = d["seconds"] * 1e9
f = {x["function"]: x for x in d["functions"]}
a, u, k = f["fault"], f["fault:user"], f["fault:kernel"]
print(f"faults {a['calls']} (user {u['calls']}, kernel {k['calls']}), pages touched {pages}, fault time {a['total_ns']/1e6:.1f} ms from {a['samples']} samples, wall {wall/1e6:.0f} ms")
assert a["calls"] == u["calls"] + k["calls"]
assert u["calls"] >= pages, "fewer user faults than pages touched"
assert u["calls"] < pages * 1.1, "far more faults than pages touched"
assert a["samples"] >= 5, "no fault time sampled"
assert 0 < a["total_ns"] <= wall, "fault time not in (0, wall]"
assert any(c["name"] == "handle_mm_fault" and c["frac"] > 0.3 for c in a["callees"]), "handle_mm_fault not under fault"
PY
removed_ok "$TMP/err.txt"
exit 0
