# kmeasure (tracepoint backend): the syscall counts of a program making known numbers of syscalls, its forked
# child included, match `strace -c -f` exactly, syscall by syscall; times are consistent (each <= wall time,
# on-CPU + blocked + runq = total); an unrelated busy process's syscalls are not counted.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../kmeasure_lib.sh"
need_root
need_facility bpf-tracepoint
command -v strace >/dev/null || skip "strace not installed"
WL="$CW_WL/ksys_counts"
N=300
strace -f -c -o "$TMP/strace.txt" "$WL" $N "$TMP/f1" || fail "workload failed under strace"
cat "$TMP/strace.txt"
# syscall -> calls, from strace's table
awk '$NF != "total" && $NF != "syscall" && $1 ~ /^[0-9.]+$/ { print $NF, ($5 ~ /^[0-9]+$/ ? $4 : $4) }' \
	"$TMP/strace.txt" > "$TMP/expect"
funcs=$(awk '{ printf "%ssys:%s", (NR > 1 ? "," : ""), $1 }' "$TMP/expect")
[ -n "$funcs" ] || fail "could not parse strace output"
# an unrelated process making getppid calls all along: none of them may be counted
"$CW_WL/getppid_spin" 4 & spin=$!
"$CW" kmeasure --check-removed --kernel-backend tracepoint -f "$funcs" --json "$TMP/k.json" -- "$WL" $N "$TMP/f2" > "$TMP/out.txt" 2> "$TMP/err.txt"
rc=$?
kill $spin 2>/dev/null; wait $spin 2>/dev/null
cat "$TMP/out.txt" "$TMP/err.txt"
[ $rc = 0 ] || fail "kmeasure exited $rc"
python3 - "$TMP/expect" "$TMP/k.json" <<'PY' || fail "counts or times differ"
import json, sys
expect = {l.split()[0]: int(l.split()[1]) for l in open(sys.argv[1])}
d = json.load(open(sys.argv[2]))
wall = d["seconds"] * 1e9
got = {f["function"][4:]: f for f in d["functions"]}
bad = 0
for name, n in expect.items():
    f = got[name]
    ok = f["calls"] == n and f["calls_exact"]
    print(f"{name:12} strace {n:6} crosswalk {f['calls']:6} {'ok' if ok else 'MISMATCH'}")
    bad += not ok
    if f["backend"] != "tracepoint": print("  backend", f["backend"]); bad += 1
    if f["total_ns"] > wall: print(f"  {name}: total {f['total_ns']} ns > wall {wall} ns"); bad += 1
    if f["oncpu_ns"] + f["blocked_ns"] + f["runq_ns"] != f["total_ns"]: print(f"  {name}: on-CPU + blocked + runq != total"); bad += 1
    if f["completed"] > f["calls"]: print(f"  {name}: completed > calls"); bad += 1
# the counts the workload itself fixes (not only agreement with strace)
N = 300
for name, n in (("getpid", N), ("getppid", N), ("fsync", N // 10)):
    if got[name]["calls"] != n: print(f"{name}: {got[name]['calls']} != {n}"); bad += 1
sys.exit(1 if bad else 0)
PY
removed_ok "$TMP/err.txt"
exit 0
