# Targets: -p PID of a running process (-d), children forked after start, -a (whole system), and
# Ctrl-C ending early with the report still written; nothing stays attached.
. "$(dirname "$0")/../lib.sh"
need_root
need_facility bpf-perf-event
"$CW_WL/cpu_hot" 60 >/dev/null & pid=$!
"$CW" profile -p $pid -d 1 -f json -o "$TMP/p.json" || fail "profile -p exited $?"
json_check "$TMP/p.json" 'procs["hot_inner"]["samples"] > 50'
json_check "$TMP/p.json" '0.8 <= d["duration_s"] <= 3'
# children: a shell that forks the workload
"$CW" profile -f folded -o "$TMP/f.txt" -- sh -c "$CW_WL/cpu_hot 1 >/dev/null; true" || fail "profile of sh exited $?"
grep -q '^cpu_hot;.*hot_inner ' "$TMP/f.txt" || { head "$TMP/f.txt"; fail "child of the launched shell not profiled"; }
"$CW" profile --no-children -f folded -o "$TMP/f2.txt" -- sh -c "$CW_WL/cpu_hot 1 >/dev/null; true" || fail "--no-children exited $?"
! grep -q 'hot_inner' "$TMP/f2.txt" || fail "--no-children still followed the child"
# system-wide sees the running workload too (and another process's stacks)
"$CW" profile -a -d 1 -f json -o "$TMP/a.json" || fail "profile -a exited $?"
json_check "$TMP/a.json" 'procs["hot_inner"]["samples"] > 50 and d["idle_samples"] >= 0'
# Ctrl-C: ends early, still writes the report, exits 0
"$CW" profile -p $pid -f json -o "$TMP/c.json" 2> "$TMP/c.err" & cw=$!
for i in $(seq 100); do grep -q "profiling pid" "$TMP/c.err" && break; sleep 0.1; done
sleep 1; kill -INT $cw; wait $cw || fail "profile interrupted exited $?"
grep -q "interrupted, writing the report" "$TMP/c.err" || fail "no word of the interruption"
json_check "$TMP/c.json" 'procs["hot_inner"]["samples"] > 20'
kill $pid; wait $pid 2>/dev/null
no_bpf_left
