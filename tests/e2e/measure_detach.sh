# Detaching while threads sit deep in instrumented frames: the threads later return through the
# trampoline (the agent stays loaded after a detach) and the program completes correctly. Also: the
# agent's own dependencies (libc functions its slow path and control thread use) can be instrumented
# without recursion, and a process that cannot be traced gets a clear error.
. "$(dirname "$0")/../lib.sh"
need_root
W=$CW_WL/mw_hard.gcc-O2
"$W" deep 4 3 > "$TMP/out" & P=$!
trap 'kill $P 2>/dev/null; wait 2>/dev/null; rm -rf "$TMP"' EXIT
sleep 0.3
"$CW" measure -p $P -d 0.6 -f dive --json "$TMP/d.json" -o "$TMP/d.txt" 2>"$TMP/err" || { cat "$TMP/err"; fail "measure exited $?"; }
cat "$TMP/d.txt"
python3 -c 'import json,sys; f=json.load(open(sys.argv[1]))["functions"][0]; assert f["calls"] > 41, f' "$TMP/d.json" || fail "no dives counted"
wait $P; rc=$?
[ $rc = 0 ] || fail "program died after detach (exit $rc)"
grep -q "dives ok 1" "$TMP/out" || fail "wrong results after detach: $(cat "$TMP/out")"

# a thread stopped between two of a function's first instructions (blocked in a system call there): that
# function is refused with the reason, the others are instrumented, the thread later resumes correctly
"$W" parked 3 > "$TMP/pout" & PK=$!
sleep 0.5
"$CW" measure -p $PK -d 0.5 -f parked,work --json "$TMP/p.json" -o /dev/null 2>"$TMP/perr" || { cat "$TMP/perr"; fail "parked: exit $?"; }
grep -q "cannot instrument parked: a thread keeps stopping inside its first instructions" "$TMP/perr" || fail "parked: no refusal: $(cat "$TMP/perr")"
python3 -c 'import json,sys; d={f["function"]:f for f in json.load(open(sys.argv[1]))["functions"]}; assert d["work"]["calls"] > 10, d' "$TMP/p.json" || fail "parked: work not measured"
wait $PK || fail "parked: the program died"
grep -q "parked woke -4" "$TMP/pout" || fail "parked: wrong result $(cat "$TMP/pout")"

# the agent's own dependencies, instrumented while threads start (slow path) and the control thread works
F=work,libc.so.6:mmap,libc.so.6:munmap,libc.so.6:pthread_getattr_np,libc.so.6:pthread_setspecific,libc.so.6:recv,libc.so.6:send,libc.so.6:malloc,libc.so.6:free,libc.so.6:realloc
"$CW" measure -f $F --json "$TMP/dep.json" -o "$TMP/dep.txt" -- "$W" threads 8 5000 > "$TMP/dout" 2>"$TMP/derr" || { cat "$TMP/derr"; fail "deps: exit $?"; }
grep -q "killed by signal" "$TMP/derr" && fail "deps: target crashed"
grep -q "threads 8 calls 40000" "$TMP/dout" || fail "deps: output"
python3 -c 'import json,sys; d={f["function"]:f for f in json.load(open(sys.argv[1]))["functions"]}; assert d["work"]["calls"]==40000, d["work"]; assert len(d) >= 8, list(d)' "$TMP/dep.json" ||
	{ cat "$TMP/dep.txt" "$TMP/derr"; fail "deps: counts"; }

# a process already traced by someone else
command -v gdb >/dev/null || skip "gdb not installed (for the untraceable-process case)"
sleep 30 & S=$!
gdb -q -p $S -batch -ex 'shell sleep 3' >/dev/null 2>&1 & G=$!
sleep 1
"$CW" measure -p $S -f main -d 1 2>"$TMP/terr"; rc=$?
wait $G; kill $S
[ $rc = 2 ] || fail "traced process: exit $rc"
grep -q "cannot trace process $S" "$TMP/terr" || fail "no clear error: $(cat "$TMP/terr")"
exit 0
