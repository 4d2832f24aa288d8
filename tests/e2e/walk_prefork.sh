# A prefork server (build/workloads/prefork: the master waits, two forked workers burn CPU in
# worker_loop -> hot_leaf). walk -p MASTER finds the workers (forked before the attach), walks the busiest
# one and names its bottleneck; a launched one says which forked process holds the time instead of a made-up
# verdict. And a worker that inherited a launched program's agent (and its patches) can be attached to and
# measured on its own, its parent's counters unharmed.
. "$(dirname "$0")/../lib.sh"
need_root
need_facility bpf-perf-event
WL=$CW_WL/prefork

"$WL" 40 > "$TMP/pf.out" & master=$!
sleep 0.5
"$CW" walk -p $master -d 20 --json "$TMP/a.json" > "$TMP/a.txt" 2> "$TMP/a.err" || { cat "$TMP/a.err"; fail "walk -p exited $?"; }
cat "$TMP/a.err" "$TMP/a.txt" | grep -v "0.0%      -         0 "
grep -q "walking [0-9]* instead" "$TMP/a.err" || fail "the walk did not move to a busy worker"
worker=$(sed -n 's/.*walking \([0-9]*\) instead/\1/p' "$TMP/a.err")
grep -qx "worker $worker" "$TMP/pf.out" || fail "walked $worker, which is not one of the workers: $(cat "$TMP/pf.out")"
walk_check "$TMP/a.json" cpu-user main worker_loop hot_leaf
kill -0 $master 2>/dev/null && kill -0 $worker 2>/dev/null || fail "the server or its worker died"
kill $master; pkill -P $master 2>/dev/null; wait $master 2>/dev/null

# launched: the workers were forked before any hypothesis was instrumented; the note says where the time is
"$CW" walk -d 6 --json "$TMP/b.json" -- "$WL" 10 > "$TMP/b.txt" 2>&1 || { cat "$TMP/b.txt"; fail "walk -- exited $?"; }
cat "$TMP/b.txt" | grep -E "Bottleneck|Note|verdict"
json_check "$TMP/b.json" "'forked by the program' in d['search']['note'] and 'crosswalk walk -p' in d['search']['note']"
json_check "$TMP/b.json" "not any('hot_leaf' in p['function'] for v in d['verdicts'] for p in v['path'])"

# a worker with the inherited agent: attach to it alone while the launch-mode measurement goes on
"$CW" measure -f hot_leaf -d 8 --json "$TMP/m1.json" -o /dev/null -- "$WL" 8 > "$TMP/m1.out" 2> "$TMP/m1.err" & m1=$!
for _ in $(seq 50); do grep -q "^worker" "$TMP/m1.out" 2>/dev/null && break; sleep 0.1; done
sleep 1
w=$(sed -n 's/^worker //p' "$TMP/m1.out" | head -1)
[ -n "$w" ] || fail "no worker started under measure"
"$CW" measure -p $w -f hot_leaf -d 1 --json "$TMP/m2.json" -o /dev/null 2> "$TMP/m2.err" || { cat "$TMP/m2.err"; fail "measure -p of an agent-inheriting worker exited $?"; }
json_check "$TMP/m2.json" "d['functions'][0]['calls'] > 10"
kill -0 $w 2>/dev/null || fail "the worker died after the second measurement"
wait $m1 || { cat "$TMP/m1.err"; fail "the launch-mode measure exited $?"; }
json_check "$TMP/m1.json" "d['functions'][0]['calls'] > 100"
grep -q "killed by signal" "$TMP/m1.err" && fail "a process died: $(cat "$TMP/m1.err")"
no_bpf_left
exit 0
