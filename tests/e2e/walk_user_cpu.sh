# walk: CPU deep in user code, a recursive function, and a hot path through a C++ virtual call.
. "$(dirname "$0")/../lib.sh"
need_root
need_facility bpf-perf-event
"$CW" walk -d 30 --json "$TMP/w.json" -- "$CW_WL/cpu_hot" 60 > "$TMP/out" || fail "walk exited $?"
cat "$TMP/out"
walk_check "$TMP/w.json" cpu-user main run_loop compute_step hot_inner
grep -q "^Bottleneck 1: .*hot_inner, CPU in user code" "$TMP/out" || fail "first verdict is not hot_inner"
pgrep -f "$CW_WL/cpu_hot 60" && fail "the launched program was left running"
"$CW" walk -d 30 --json "$TMP/r.json" -- "$CW_WL/planted" recurse 60 > "$TMP/out" || fail "walk exited $?"
walk_check "$TMP/r.json" cpu-user main solve fib
"$CW" walk -d 30 --json "$TMP/v.json" -- "$CW_WL/walk/virt" 60 > "$TMP/out" || fail "walk exited $?"
cat "$TMP/out"
walk_check "$TMP/v.json" cpu-user main measure_all Square
no_bpf_left
