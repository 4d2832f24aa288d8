# walk -p: attach to a running program, find its bottleneck, leave it running unmodified; and the
# honest answers: a program that exits too soon, one that is not busy; bad input.
. "$(dirname "$0")/../lib.sh"
need_root
need_facility bpf-perf-event
"$CW_WL/cpu_hot" 60 > "$TMP/prog.out" & pid=$!
sleep 0.5
sha_before=$(sha256sum < /proc/$pid/exe)
"$CW" walk -p $pid -d 30 --json "$TMP/w.json" > "$TMP/out" || fail "walk -p exited $?"
cat "$TMP/out"
walk_check "$TMP/w.json" cpu-user run_loop compute_step hot_inner
kill -0 $pid 2>/dev/null || fail "the attached program died"
# its code is as it was: no byte of the functions the walk patched differs from the file
python3 - $pid "$CW_WL/cpu_hot" <<'PY' || fail "the attached program's code was left modified"
import sys, subprocess
pid, exe = sys.argv[1], sys.argv[2]
maps = [l.split() for l in open(f"/proc/{pid}/maps")]
text = [m for m in maps if len(m) >= 6 and m[5] == exe and "x" in m[1]]
lo, hi = (int(x, 16) for x in text[0][0].split("-"))
off = int(text[0][2], 16)
mem = open(f"/proc/{pid}/mem", "rb"); mem.seek(lo); live = mem.read(hi - lo)
f = open(exe, "rb"); f.seek(off); disk = f.read(hi - lo)
n = min(len(live), len(disk))
diff = sum(1 for i in range(n) if live[i] != disk[i])
print("differing bytes in the executable's text:", diff); sys.exit(1 if diff else 0)
PY
kill $pid; wait $pid 2>/dev/null
# exits too soon
"$CW" walk -- "$CW_WL/cpu_hot" 0.2 > "$TMP/out" 2>&1 || fail "walk of a short program exited $?"
cat "$TMP/out"
grep -qi "too soon" "$TMP/out" || fail "no honest word about a program that exited too soon"
# not busy: sleeps all the time -> blocked in the kernel sleeping, or no verdict
"$CW" walk -d 10 --json "$TMP/s.json" -- sleep 30 > "$TMP/out" || fail "walk of sleep exited $?"
cat "$TMP/out"
python3 - "$TMP/s.json" <<'PY' || fail "a sleeping program was called busy"
import json, sys
d = json.load(open(sys.argv[1]))
sys.exit(0 if all(v["kind"] == "blocked" for v in d["verdicts"]) else 1)
PY
pkill -x sleep 2>/dev/null
# bad input
"$CW" walk -p 999999 2> "$TMP/err"; [ $? = 2 ] || fail "unknown pid: exit not 2"; cat "$TMP/err"
"$CW" walk --threshold 0 -- true 2> "$TMP/err"; [ $? = 2 ] || fail "bad threshold: exit not 2"
"$CW" walk -- /nonexistent/prog 2> "$TMP/err"; [ $? = 2 ] || fail "missing program: exit not 2"; cat "$TMP/err"
[ "$(wc -l < "$TMP/err")" = 1 ] || fail "more than one line for a missing program"
no_bpf_left
