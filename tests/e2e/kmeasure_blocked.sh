# kmeasure attached with -p to a thread sleeping in read() on a pipe: the read time is nearly all blocked, and
# the blocked time is charged to the pipe-read wait path (a stack through pipe_read / anon_pipe_read).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../kmeasure_lib.sh"
need_root
need_facility bpf-tracepoint
"$CW_WL/pipe_sleep" 25 100 & wl=$!
sleep 0.3
"$CW" kmeasure --check-removed -p $wl -d 1.5 --callees -f sys:read,sys:write --json "$TMP/k.json" > "$TMP/out.txt" 2> "$TMP/err.txt"; rc=$?
cat "$TMP/out.txt" "$TMP/err.txt"
kill $wl 2>/dev/null; wait $wl 2>/dev/null
[ $rc = 0 ] || fail "kmeasure exited $rc"
python3 - "$TMP/k.json" <<'PY' || fail "blocked time not charged to the pipe-read wait"
import json, sys
d = json.load(open(sys.argv[1]))
wall = d["seconds"] * 1e9
f = {x["function"]: x for x in d["functions"]}
r, w = f["sys:read"], f["sys:write"]
print(f"wall {wall/1e6:.0f} ms, read calls {r['calls']} total {r['total_ns']/1e6:.0f} ms blocked {r['blocked_ns']/1e6:.0f} ms")
assert r["calls"] >= 10, "too few reads counted"
assert w["calls"] >= 10, "too few writes counted"
assert r["total_ns"] <= wall, "read time exceeds wall time"
assert r["blocked_ns"] >= 0.6 * wall, "blocked time in read is not most of the wall time"
assert r["blocked_ns"] >= 0.9 * r["total_ns"], "read time is not mostly blocked"
pipe = [c for c in r["callees"] if c["name"].endswith("pipe_read")]
assert pipe, "no pipe_read frame under sys:read"
assert pipe[0]["blocked_ns"] >= 0.9 * r["blocked_ns"], "pipe_read does not hold the blocked time"
assert any(c["name"] in ("schedule", "__schedule") and c["depth"] > pipe[0]["depth"] for c in r["callees"]), \
    "no schedule below pipe_read"
PY
grep -q 'pipe_read' "$TMP/out.txt" || fail "the table's call tree does not show pipe_read"
removed_ok "$TMP/err.txt"
exit 0
