#!/bin/bash
# Runs every test: cmocka unit tests (build/tests/test_*) and end-to-end tests (tests/e2e/*.sh, run against
# the built binary). An e2e script exits 0 for pass, 77 for skip (after printing "SKIP: reason"), anything
# else for fail. Ends with one summary line and a non-zero exit on any failure.
#   tests/run.sh [PATTERN]   runs only the tests whose name contains PATTERN
set -u
cd "$(dirname "$0")/.."
export CW_ROOT=$PWD CW=$PWD/build/crosswalk CW_WL=$PWD/build/workloads
pat=${1:-}
pass=0 fail=0 skip=0 failed=()
logdir=build/test-logs; mkdir -p $logdir

for t in build/tests/test_*; do
	[ -x "$t" ] || continue
	name=$(basename "$t")
	[[ -n "$pat" && "$name" != *"$pat"* ]] && continue
	timeout 300 "$t" > $logdir/$name.log 2>&1; rc=$?
	p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' $logdir/$name.log | tail -1)
	f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' $logdir/$name.log | tail -1)
	s=$(grep -c '^\[  SKIPPED \]' $logdir/$name.log)
	p=${p:-0}; f=${f:-0}
	if [ $rc -ne 0 ] && [ "$f" = 0 ]; then f=1; fi
	pass=$((pass + p)); fail=$((fail + f)); skip=$((skip + s))
	if [ "$f" != 0 ]; then
		failed+=("$name"); echo "FAIL unit/$name"; sed 's/^/    /' $logdir/$name.log | tail -30
	else
		echo "ok   unit/$name ($p passed${s:+, $s skipped})"
	fi
done

for t in tests/e2e/*.sh; do
	[ -f "$t" ] || continue
	name=$(basename "$t" .sh)
	[[ -n "$pat" && "$name" != *"$pat"* ]] && continue
	start=${EPOCHREALTIME/./}
	timeout 600 bash "$t" > $logdir/e2e-$name.log 2>&1; rc=$?
	us=$(( ${EPOCHREALTIME/./} - start )); secs=$((us / 1000000)).$(( (us / 100000) % 10 ))
	case $rc in
	0) pass=$((pass + 1)); echo "ok   e2e/$name (${secs}s)" ;;
	77) skip=$((skip + 1)); echo "skip e2e/$name: $(grep -m1 '^SKIP' $logdir/e2e-$name.log | sed 's/^SKIP:* *//')" ;;
	*) fail=$((fail + 1)); failed+=("e2e/$name"); echo "FAIL e2e/$name (exit $rc)"; sed 's/^/    /' $logdir/e2e-$name.log | tail -40 ;;
	esac
done

echo
[ ${#failed[@]} -gt 0 ] && echo "failed: ${failed[*]}"
echo "$pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
