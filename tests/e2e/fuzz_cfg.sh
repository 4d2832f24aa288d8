#!/bin/bash
# A short, bounded run of the call graph fuzzer (ELF objects decoded function by function): no crash, leak
# or sanitizer report on a seed corpus of real binaries plus 20000 mutations. Longer runs: make fuzz-cfg,
# then build/fuzz/fuzz_cfg -max_total_time=600 -max_len=40000 build/fuzz/corpus-cfg
. "$(dirname "$0")/../lib.sh"
command -v clang >/dev/null || skip "clang not installed (needed for -fsanitize=fuzzer)"
make -s -C "$CW_ROOT" fuzz-cfg > "$TMP/build.log" 2>&1 || {
	grep -q 'fuzzer' "$TMP/build.log" && grep -qi 'cannot find\|not found' "$TMP/build.log" &&
		skip "clang's libFuzzer runtime is missing"
	cat "$TMP/build.log"; fail "make fuzz-cfg failed"
}
mkdir -p "$TMP/corpus"
cp "$CW_ROOT"/build/fuzz/corpus-cfg/* "$TMP/corpus/"
"$CW_ROOT/build/fuzz/fuzz_cfg" -runs=20000 -max_len=40000 -seed=1 -artifact_prefix="$CW_ROOT/build/fuzz/" "$TMP/corpus" > "$TMP/fuzz.log" 2>&1 ||
	{ tail -40 "$TMP/fuzz.log"; fail "fuzzer found a crash (see above)"; }
grep -q 'Done 20000 runs' "$TMP/fuzz.log" || { tail -20 "$TMP/fuzz.log"; fail "fuzzer did not complete its runs"; }

echo "fuzz_cfg: $(grep -m1 'Done' "$TMP/fuzz.log")"
