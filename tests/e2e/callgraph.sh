# crosswalk callgraph on the cfgtest workloads (gcc/clang, -O0/-O2), on a stripped Debian binary, on libc's
# syscall wrappers, and on a running process; tail calls cross-checked with objdump.
. "$(dirname "$0")/../lib.sh"
W=$CW_WL/cfg
[ -x "$W/cfgtest-gcc-O2" ] || fail "workloads not built: $W"
has() { grep -qF -- "$2" "$1" || { cat "$1"; fail "$3: no line with '$2'"; }; }

for v in gcc-O0 gcc-O2 clang-O0 clang-O2; do
	out=$TMP/$v.txt
	"$CW" callgraph "$W/cfgtest-$v" --depth 2 > "$out" 2> "$TMP/err" || { cat "$TMP/err"; fail "$v: exit $?"; }
	has "$out" "main  (cfgtest-$v" $v
	has "$out" "syscall getpid(39) -> __x64_sys_getpid" $v
	has "$out" "plt->libc.so.6:puts" $v
	has "$out" "plt->libc.so.6:select" $v
	has "$out" "plt->libc.so.6:read" $v
	has "$out" "indirect@0x" $v
	case $v in
	*O2)
		has "$out" "tail tail_target" $v
		has "$out" "tail plt->libc.so.6:syscall getppid(110)" $v
		# objdump agrees that tail_caller ends in a jmp to tail_target, at the address crosswalk gives
		jaddr=$(objdump -d --no-show-raw-insn --disassemble=tail_caller "$W/cfgtest-$v" |
			sed -n 's/^ *\([0-9a-f]*\):[[:space:]]*jmp *[0-9a-f]* <tail_target>.*/\1/p')
		[ -n "$jaddr" ] || fail "$v: objdump shows no jmp to tail_target in tail_caller"
		has "$out" "tail tail_target  @0x$jaddr" "$v (objdump's jmp)"
		;;
	*)
		has "$out" "call tail_target" $v
		has "$out" "plt->libc.so.6:syscall getppid(110)" $v
		objdump -d --no-show-raw-insn --disassemble=tail_caller "$W/cfgtest-$v" | grep -q 'call.*<tail_target>' ||
			fail "$v: objdump shows no call to tail_target"
		;;
	esac
	# the switch in sw is not a call: sw has no callees
	"$CW" callgraph "$W/cfgtest-$v" -f sw > "$TMP/sw.txt" || fail "$v: -f sw"
	[ "$(wc -l < "$TMP/sw.txt")" = 1 ] || { cat "$TMP/sw.txt"; fail "$v: sw's jump table reported as a call"; }
	# C++: total() calls area() through the vtable
	"$CW" callgraph "$W/cfgvirt-$v" --depth 2 > "$TMP/virt.txt" || fail "$v: cfgvirt"
	has "$TMP/virt.txt" "call _Z5totalPKPK5Shapei" "$v cfgvirt"
	grep -A1 'call _Z5totalPKPK5Shapei' "$TMP/virt.txt" | grep -q 'indirect@0x' ||
		{ cat "$TMP/virt.txt"; fail "$v: the virtual call in total() is not an indirect site"; }
done

# JSON: the same tree, parseable
"$CW" callgraph "$W/cfgtest-gcc-O2" --depth 2 --json > "$TMP/cg.json" || fail "--json"
python3 - "$TMP/cg.json" <<'PY' || fail "JSON check"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["function"] == "main", d["function"]
by = {c["callee"]: c for c in d["callees"] if c["kind"] == "call"}
tc = by["tail_caller"]["function"]["callees"]
assert [(c["kind"], c["tail"], c["callee"]) for c in tc] == [("call", True, "tail_target")], tc
sc = by["raw_getpid"]["function"]["callees"][0]
assert (sc["kind"], sc["nr"], sc["syscall"], sc["kentry"]) == ("syscall", 39, "getpid", "__x64_sys_getpid"), sc
io = by["io"]["function"]["callees"]
assert sorted(c["callee"] for c in io) == ["puts", "read", "select"], io
assert all(c["kind"] == "import" and c["object"].endswith("libc.so.6") for c in io), io
PY

# a stripped Debian binary: main found through _start, PLT calls into libc
"$CW" callgraph /usr/bin/ls > "$TMP/ls.txt" || fail "ls"
has "$TMP/ls.txt" "plt->libc.so.6:setlocale" "ls main"
# libc's wrappers: read is syscall 0; select is pselect6 (270) since glibc 2.33, select (23) before
"$CW" callgraph /usr/bin/ls -f libc.so.6:read > "$TMP/read.txt" || fail "libc read"
has "$TMP/read.txt" "syscall read(0) -> __x64_sys_read" "libc read"
"$CW" callgraph /usr/bin/ls -f select > "$TMP/select.txt" || fail "libc select"
grep -qE 'syscall (pselect6\(270\) -> __x64_sys_pselect6|select\(23\) -> __x64_sys_select)' "$TMP/select.txt" ||
	{ cat "$TMP/select.txt"; fail "select: no pselect6/select syscall"; }
# depth 2 from the workload reaches libc's read wrapper through the PLT
"$CW" callgraph "$W/cfgtest-gcc-O2" -f io --depth 2 > "$TMP/io.txt" || fail "io depth 2"
grep -A3 'plt->libc.so.6:read' "$TMP/io.txt" | grep -q 'syscall read(0)' || { cat "$TMP/io.txt"; fail "io -> read -> syscall"; }

# a running process: the same tree as the file's, at runtime addresses inside the executable's mapping
"$CW_WL/blocker" > /dev/null 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; rm -rf "$TMP"' EXIT
sleep 0.3
"$CW" callgraph -p $pid -f wait_for_input --json > "$TMP/p.json" || fail "-p"
"$CW" callgraph "$CW_WL/blocker" -f wait_for_input --json > "$TMP/f.json" || fail "file"
python3 - "$TMP/p.json" "$TMP/f.json" /proc/$pid/maps "$(readlink /proc/$pid/exe)" <<'PY' || fail "-p check"
import json, sys
p, f = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
strip = lambda d: [(c["kind"], c["tail"], c["callee"]) for c in d["callees"]]
assert strip(p) == strip(f), (strip(p), strip(f))
assert ("import", False, "read") in strip(p), strip(p)
start = int(p["start"], 16)
ok = False
for line in open(sys.argv[3]):
    a, b = (int(x, 16) for x in line.split()[0].split("-"))
    if a <= start < b and line.split()[1][2] == "x" and line.split()[-1] == sys.argv[4]:
        ok = True
assert ok, "start %x not in the executable's code mapping" % start
PY
kill $pid; wait $pid 2>/dev/null

# errors: one line, exit 2
check() { # expected-substring command...
	local want=$1; shift
	"$@" > "$TMP/out" 2> "$TMP/err"; rc=$?
	[ $rc = 2 ] || { cat "$TMP/err"; fail "'$*' exited $rc, not 2"; }
	[ "$(wc -l < "$TMP/err")" = 1 ] || { cat "$TMP/err"; fail "'$*' printed more than one line"; }
	grep -q "$want" "$TMP/err" || { cat "$TMP/err"; fail "'$*' did not say '$want'"; }
}
check "function 'no_such_fn' not found" "$CW" callgraph "$W/cfgtest-gcc-O2" -f no_such_fn
check "not an x86-64 ELF object" "$CW" callgraph /etc/passwd
check "give exactly one target" "$CW" callgraph
check "invalid depth" "$CW" callgraph /usr/bin/ls --depth 0
check "process 999999" "$CW" callgraph -p 999999
exit 0
