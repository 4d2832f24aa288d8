# kmeasure --per-thread: a two-thread program (the main thread sleeps and writes a pipe N times, the other
# thread reads it): each syscall's time is charged to the thread that made it.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../kmeasure_lib.sh"
need_root
need_facility bpf-tracepoint
N=8
"$CW" kmeasure --check-removed --kernel-backend tracepoint --per-thread -f sys:read,sys:write,sys:clock_nanosleep --json "$TMP/k.json" -- "$CW_WL/pipe_sleep" $N 50 > "$TMP/out.txt" 2> "$TMP/err.txt"; rc=$?
cat "$TMP/out.txt" "$TMP/err.txt"
[ $rc = 0 ] || fail "kmeasure exited $rc"
python3 - "$TMP/k.json" $N <<'PY' || fail "per-thread split wrong"
import json, sys
d = json.load(open(sys.argv[1])); n = int(sys.argv[2]); pid = d["pid"]
f = {x["function"]: x for x in d["functions"]}
w, s, r = f["sys:write"], f["sys:clock_nanosleep"], f["sys:read"]
assert [t["tid"] for t in w["threads"]] == [pid] and w["threads"][0]["calls"] == n, "writes belong to the main thread"
assert [t["tid"] for t in s["threads"]] == [pid] and s["threads"][0]["calls"] == n, "sleeps belong to the main thread"
reader = [t for t in r["threads"] if t["tid"] != pid]
assert len(reader) == 1 and reader[0]["calls"] == n, "the reader thread's N pipe reads"
assert r["threads"][0]["tid"] == reader[0]["tid"], "the reader is the busiest in read()"
assert reader[0]["blocked_ns"] >= 0.9 * reader[0]["total_ns"], "the reader's read time is blocked"
for x in (w, s, r):
    assert sum(t["calls"] for t in x["threads"]) == x["completed"]
    assert sum(t["total_ns"] for t in x["threads"]) == x["total_ns"]
PY
removed_ok "$TMP/err.txt"
exit 0
