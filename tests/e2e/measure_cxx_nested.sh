# C++ exceptions as servers use them (squid aborted under the walk on these), through instrumented frames, in
# 10 compiler/flag variants and two threads at once: a cleanup that throws and catches an exception of its
# own before the outer one resumes (_Unwind_Resume), a rethrow from catch(...), std::rethrow_exception; the
# frames that stay live across them (session) still complete every call.
# Exact completed and unwound counts, the program's output unchanged, and the unwinder's own entry points
# refused (by name and by address) with the reason instead of being patched.
. "$(dirname "$0")/../lib.sh"
fns=session,guarded,guarded_caller,rethrower,cleanup_helper,inner_thrower,plain_helper,deep_thrower,capture,replay
n=0
for bin in "$CW_WL"/mw_cxxnest.*; do
	v=${bin##*.}
	want=$("$bin" 100) || fail "$v: workload failed"
	got=$("$CW" measure -f $fns --json "$TMP/$v.json" -o "$TMP/$v.txt" -- "$bin" 100 2>"$TMP/$v.err") ||
		{ cat "$TMP/$v.err"; fail "$v: measure exited $?"; }
	grep -q "killed by signal" "$TMP/$v.err" && { cat "$TMP/$v.err"; fail "$v: the program died"; }
	[ "$got" = "$want" ] || fail "$v: output changed: '$got' vs '$want'"
	python3 - "$TMP/$v.json" "$v" <<'PY' || { cat "$TMP/$v.txt" "$TMP/$v.err"; fail "$v: wrong counts"; }
import json, sys
d = {f["function"]: f for f in json.load(open(sys.argv[1]))["functions"]}
v = sys.argv[2]
r = 300  # 100 rounds on the main thread, 100 on a second thread, 100 more on the main thread
# (completed calls, entries = completed + unwound by an exception)
exp = {"rethrower": (0, r), "guarded_caller": (0, r), "guarded": (0, r), "deep_thrower": (0, 2 * r),
       "plain_helper": (r, r), "cleanup_helper": (r, r), "inner_thrower": (0, r), "capture": (r, r),
       "replay": (0, r),
       # live across every rethrow and caught exception: re-armed each time, so every call completes
       "session": (3, 3)}
for name, (calls, entries) in exp.items():
    assert name in d, (v, name, "not instrumented")
    assert d[name]["calls"] == calls, (v, name, "calls", d[name]["calls"], calls)
    assert d[name]["entries"] == entries, (v, name, "entries", d[name]["entries"], entries)
PY
	n=$((n + 1))
done
[ $n -ge 10 ] || fail "only $n variants built"

# the unwinder's entry points and setjmp are refused, the rest measured, the program unharmed
bin=$CW_WL/mw_cxxnest.gcc-O2
want=$("$bin" 20)
got=$("$CW" measure -f guarded,_Unwind_Resume,setjmp -- "$bin" 20 2>"$TMP/refuse.err") || fail "measure exited $?"
[ "$got" = "$want" ] || fail "output changed with refusals: '$got'"
grep -q "cannot instrument _Unwind_Resume: the unwinder" "$TMP/refuse.err" || { cat "$TMP/refuse.err"; fail "_Unwind_Resume not refused by name"; }
grep -q "cannot instrument setjmp: it returns twice" "$TMP/refuse.err" || { cat "$TMP/refuse.err"; fail "setjmp not refused"; }
gcc_s=$(ldd "$bin" | awk '/libgcc_s/ {print $3}')
off=$(nm -D "$gcc_s" | awk '$3 ~ /^_Unwind_Resume@@/ {print $1}' | sed 's/^0*//')
[ -n "$off" ] || fail "no _Unwind_Resume in $gcc_s"
got=$("$CW" measure -f guarded,libgcc_s.so.1+0x$off -- "$bin" 20 2>"$TMP/off.err") || fail "measure exited $?"
[ "$got" = "$want" ] || fail "output changed with an address refusal: '$got'"
grep -q "cannot instrument libgcc_s.so.1+0x$off: the unwinder" "$TMP/off.err" || { cat "$TMP/off.err"; fail "_Unwind_Resume not refused by address"; }
exit 0
