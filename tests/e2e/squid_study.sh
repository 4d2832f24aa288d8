# The Squid case study (examples/squid/run.sh --quick) on Debian's squid (scripts/deps.d/squid.txt): it finishes,
# squid survives the walk (it throws C++ exceptions through instrumented frames), the walk searches below
# the event loop from main and its verdicts lead from main, throughput is measured for the ufs store and the
# changed one, and nothing it started (squid and its helpers, nginx, wrk) is left running.
. "$(dirname "$0")/../lib.sh"
command -v squid >/dev/null || [ -x /usr/sbin/squid ] || skip "squid not installed: scripts/deps.sh installs it"
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || skip "nginx not installed: scripts/deps.sh installs it"
command -v wrk >/dev/null || skip "wrk not installed: scripts/deps.sh installs it"
need_root
need_facility bpf-perf-event
RUN=$CW_ROOT/examples/squid/run.sh
[ -x "$RUN" ] || fail "$RUN missing"

# processes of a study run: their command lines name its temp dir (/tmp/cw-squid.*)
study_procs() {
	local p
	for p in /proc/[0-9]*; do
		tr '\0' ' ' < "$p/cmdline" 2>/dev/null | grep -q "/tmp/cw-squid\." && echo "${p#/proc/} $(tr '\0' ' ' < "$p/cmdline")"
	done
}
[ -z "$(study_procs)" ] || skip "another squid study is running: $(study_procs | head -2 | tr '\n' ' ')"

rc=0; CW=$CW timeout 300 "$RUN" --quick --out "$TMP/out" > "$TMP/o" 2>&1 || rc=$?
[ $rc = 0 ] || { tail -20 "$TMP/o"; fail "run.sh --quick exited $rc"; }
sleep 0.5
[ -z "$(study_procs)" ] || fail "left running: $(study_procs | tr '\n' ' ')"

grep -Eq "^ufs: mean [0-9]+ req/s over 1 runs" "$TMP/out/summary.txt" || { cat "$TMP/out/summary.txt"; fail "no ufs throughput"; }
grep -Eq "^rock: mean [0-9]+ req/s over 1 runs" "$TMP/out/summary.txt" || { cat "$TMP/out/summary.txt"; fail "no rock throughput"; }
# every throughput run was served: a dead origin would answer errors fast and look like a speed-up
! grep -q "Non-2xx\|Socket errors" "$TMP"/out/wrk-ufs-1.txt "$TMP"/out/wrk-rock-1.txt || fail "load runs got errors: $(grep -h "Non-2xx\|Socket errors" "$TMP"/out/wrk-*-1.txt)"
# squid survived the walk, which searched below its event loop; every verdict leads from main
if grep -q "died before it was stopped" "$TMP/out/summary.txt"; then
	# what it said, and where it was, for whoever reads the CI log
	tail -15 "$TMP"/out/cache-walk.log 2>/dev/null
	core=$(ls "$TMP"/out/core-walk 2>/dev/null)
	[ -n "$core" ] && command -v gdb >/dev/null && gdb -batch -ex "thread apply all bt 25" "$(command -v squid || echo /usr/sbin/squid)" "$core" 2>/dev/null | grep -E "^#|^Thread" | head -60
	fail "squid died: $(grep died "$TMP/out/summary.txt")"
fi
[ -s "$TMP/out/walk.json" ] || fail "no walk JSON: $(cat "$TMP/out/walk.txt" "$TMP/out/walk.err" 2>/dev/null | tail -5)"
json_check "$TMP/out/walk.json" "not d['search']['target_exited'] and d['search']['experiments'] >= 3"
json_check "$TMP/out/walk.json" "any(n['function'] == 'EventLoop::runOnce' and n['state'] in ('refined', 'BOTTLENECK') for n in d['nodes'])"
# the callbacks under the loop were tested (their times measured, not guessed)
json_check "$TMP/out/walk.json" "len([n for n in d['nodes'] if n['parent'] in [m['id'] for m in d['nodes'] if m['function'] == 'EventLoop::runOnce'] and n['state'] != 'untestable' and n['calls'] > 0]) >= 1"
json_check "$TMP/out/walk.json" "all(v['path'][0]['function'] == 'main' and v['path'][1]['function'] == 'SquidMain' for v in d['verdicts'])"
# squid is one thread: main holds at most all of its wall time (the walk's profile refresh between
# intervals once counted into the resident main's time: 134% on 2026-12-07)
json_check "$TMP/out/walk.json" "all(n['share_pct'] <= 100.5 for n in d['nodes'] if n['parent'] == -1)"
# the profile (taken of a fresh squid if the walk killed it) saw squid's own code
grep -q "Profile of pid" "$TMP/out/profile.txt" || fail "no profile: $(cat "$TMP/out/profile.err")"
grep -q "SquidMain" "$TMP/out/profile.folded" || fail "the folded profile has no squid stack"
echo PASS
