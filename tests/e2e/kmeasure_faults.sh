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
R=$(perf_fault_handler_share "$CW_WL/faults" $MB $ROUNDS) || exit 1
python3 - "$TMP/k.json" $MB $ROUNDS "$R" <<'PY' || fail "fault counts or time wrong"
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
# the fault's callees (its own time, the exception's entry and exit, is the rest): the handler is the
# largest of them and holds most of what they hold, and no interrupt re-enable point shows as a callee
# (its samples are the caller's time)
top = sorted((c for c in a["callees"] if c["depth"] == 1), key=lambda c: -c["frac"])
print("callees:", ", ".join("%s %.1f%%" % (c["name"], c["frac"] * 100) for c in top[:4]))
assert top and top[0]["name"] == "handle_mm_fault", "handle_mm_fault not the fault's largest callee"
assert top[0]["frac"] > 0.6 * sum(c["frac"] for c in top), "handle_mm_fault holds less than 60% of the callees' time"
assert not any("irq_enable" in c["name"] or "irqrestore" in c["name"] for c in a["callees"]), "an irq re-enable point in the tree"
assert 1 - sum(c["frac"] for c in top) >= -0.01, "callees hold more than the fault"
r = float(sys.argv[4])
print("perf: %.3f of the fault samples inside the handler, crosswalk: %.3f" % (r, top[0]["frac"]))
assert abs(top[0]["frac"] - r) < 0.2, "crosswalk and perf disagree on the handler's share of the fault"
PY
removed_ok "$TMP/err.txt"
exit 0
