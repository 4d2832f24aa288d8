# The Squid case study (examples/squid/run.sh --quick) on Debian's squid: it finishes, measures throughput for
# the ufs store and the changed one, the walk's JSON has a verdict or says why it has none, and nothing it
# started (squid and its helpers, nginx, wrk) is left running. Runs only where squid is installed already:
# the study installs it itself, which a test must not do.
. "$(dirname "$0")/../lib.sh"
command -v squid >/dev/null || [ -x /usr/sbin/squid ] || skip "squid not installed: examples/squid/run.sh installs it"
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || skip "nginx not installed: examples/squid/run.sh installs it"
command -v wrk >/dev/null || skip "wrk not installed: examples/squid/run.sh installs it"
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
# the walk has a verdict or says why not: in its JSON's note or, when it ended before searching (squid died
# in its first second: docs/squid.md), in the line run.sh records; never killed by a signal itself
if [ -s "$TMP/out/walk.json" ]; then
	json_check "$TMP/out/walk.json" "d['search']['seconds'] > 0 and (len(d['verdicts']) > 0 or len(d['search'].get('note', '')) > 0)"
else
	grep -Eq "^walk wrote no JSON \(exit [0-9]\): .{10,}" "$TMP/out/summary.txt" ||
		fail "no walk JSON and no reason: $(cat "$TMP/out/walk.txt" "$TMP/out/walk.err" | tail -5)"
fi
# the profile (taken of a fresh squid if the walk killed it) saw squid's own code
grep -q "Profile of pid" "$TMP/out/profile.txt" || fail "no profile: $(cat "$TMP/out/profile.err")"
grep -q "SquidMain" "$TMP/out/profile.folded" || fail "the folded profile has no squid stack"
echo PASS
