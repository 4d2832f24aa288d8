# ThreadSanitizer build of the objpool/freelist unit and stress tests runs clean: no data race, no
# signal-unsafe call in the handlers that pop and push, and the tests themselves pass.
. "$(dirname "$0")/../lib.sh"
cd "$CW_ROOT" || fail "no CW_ROOT"
echo 'int main(void){return 0;}' > "$TMP/t.c"
cc -fsanitize=thread -o "$TMP/t" "$TMP/t.c" 2>/dev/null || skip "the compiler cannot build with -fsanitize=thread"
# Some kernels map memory where TSAN's shadow layout does not expect it; without ASLR it always fits.
norand=""
"$TMP/t" 2>/dev/null || norand="setarch $(uname -m) -R"
make -s objpool-tsan >"$TMP/make.log" 2>&1 || { cat "$TMP/make.log"; fail "building the TSAN tests"; }
export TSAN_OPTIONS="halt_on_error=1 exitcode=66 report_signal_unsafe=1"
export CW_STRESS_MS=400
for t in test_objpool test_freelist test_objpool_stress; do
	$norand build/tsan/$t >"$TMP/$t.log" 2>&1
	rc=$?
	cat "$TMP/$t.log"
	grep -q 'ThreadSanitizer' "$TMP/$t.log" && fail "$t: ThreadSanitizer report (exit $rc)"
	[ $rc = 0 ] || fail "$t exited $rc"
	grep -q '^\[  PASSED  \]' "$TMP/$t.log" || fail "$t: no PASSED line"
done
exit 0
