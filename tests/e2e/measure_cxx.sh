# C++ programs (10 compiler/flag variants): virtual calls measured by their demangled names, and exceptions
# thrown through instrumented frames (caught, with cleanup landing pads on the way): exact counts of
# completed and unwound calls, and the program's output unchanged.
. "$(dirname "$0")/../lib.sh"
n=0
for bin in "$CW_WL"/mw_cxx.*; do
	v=${bin##*.}
	want=$("$bin" 100) || fail "$v: workload failed"
	got=$("$CW" measure -f total_area,Square::area,Circle::area,thrower,middle,catcher --json "$TMP/$v.json" \
		-o "$TMP/$v.txt" -- "$bin" 100 2>"$TMP/$v.err") || { cat "$TMP/$v.err"; fail "$v: measure exited $?"; }
	grep -q "killed by signal" "$TMP/$v.err" && { cat "$TMP/$v.err"; fail "$v: the program died"; }
	[ "$got" = "$want" ] || fail "$v: output changed: '$got' vs '$want'"
	python3 - "$TMP/$v.json" "$v" <<'PY' || { cat "$TMP/$v.txt" "$TMP/$v.err"; fail "$v: wrong counts"; }
import json, sys
d = {f["function"]: f for f in json.load(open(sys.argv[1]))["functions"]}
v = sys.argv[2]
# completed calls, and entries = completed + unwound by an exception
exp = {"total_area": (100, 100), "Square::area": (500, 500), "Circle::area": (500, 500),
       "catcher": (100, 100), "middle": (100, 200), "thrower": (100, 200)}
for name, (calls, entries) in exp.items():
    assert name in d, (v, name, "not instrumented")
    assert d[name]["calls"] == calls, (v, name, d[name]["calls"], calls)
    assert d[name]["entries"] == entries, (v, name, d[name]["entries"], entries)
assert d["Square::area"]["incl_ns"] + d["Circle::area"]["incl_ns"] <= d["total_area"]["incl_ns"], v
PY
	n=$((n + 1))
done
[ $n -ge 10 ] || fail "only $n C++ variants built"
exit 0
