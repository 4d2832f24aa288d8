# Calls still in progress: attached to a process whose threads are already asleep in read() and
# clock_nanosleep() for longer than the measurement, --open charges the window's time to those calls
# (blocked, and never more than the window); without it only completed calls count, and they have none.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../kmeasure_lib.sh"
need_root
need_facility bpf-tracepoint
"$CW_WL/pipe_sleep" 1 4000 & wl=$!
sleep 0.3
"$CW" kmeasure --check-removed -p $wl -d 1 -f sys:read,sys:clock_nanosleep --json "$TMP/c.json" > "$TMP/out.txt" 2> "$TMP/err.txt" || fail "kmeasure exited $?"
removed_ok "$TMP/err.txt"
"$CW" kmeasure --check-removed --open -p $wl -d 1 -f sys:read,sys:clock_nanosleep --json "$TMP/o.json" >> "$TMP/out.txt" 2> "$TMP/err.txt" || fail "kmeasure --open exited $?"
removed_ok "$TMP/err.txt"
kill $wl; wait $wl 2>/dev/null
cat "$TMP/out.txt"
python3 - "$TMP/c.json" "$TMP/o.json" <<'PY' || fail "open calls not measured right"
import json, sys
c, o = (json.load(open(a)) for a in sys.argv[1:3])
for name in ("sys:read", "sys:clock_nanosleep"):
    fc = {x["function"]: x for x in c["functions"]}[name]
    fo = {x["function"]: x for x in o["functions"]}[name]
    wall = o["seconds"] * 1e9
    print(f"{name}: completed-only total {fc['total_ns']}, with open calls {fo['total_ns']} blocked {fo['blocked_ns']} (wall {wall:.0f})")
    assert fc["total_ns"] == 0 and fc["completed"] == 0, "no call completed in the window"
    assert fo["calls"] == 1, "the call in progress is seen"
    assert 0.8 * wall <= fo["total_ns"] <= wall * 1.01, "open time is not the window"
    assert fo["blocked_ns"] >= 0.95 * fo["total_ns"], "the open call is asleep"
PY
exit 0
