# --off-cpu: a thread blocked in read() on a pipe is charged to the pipe-read wait path, a sleeping
# thread to nanosleep; blocked time is in the same unit and both show beside on-CPU time.
. "$(dirname "$0")/../lib.sh"
need_root
need_facility bpf-perf-event
"$CW" profile --off-cpu -f json -o "$TMP/p.json" -- "$CW_WL/blocker" 2 || fail "profile exited $?"
# two threads blocked ~2 s each
json_check "$TMP/p.json" '3.0e9 <= d["offcpu_total_ns"] <= 6.0e9'
json_check "$TMP/p.json" 'any("pipe_read" in p["name"] and p["offcpu_ns"] > 0.3 * d["offcpu_total_ns"] for p in d["procedures"])'
json_check "$TMP/p.json" 'any("nanosleep" in p["name"] and p["offcpu_ns"] > 0.3 * d["offcpu_total_ns"] for p in d["procedures"])'
"$CW" profile --off-cpu -f folded -o "$TMP/f.txt" -- "$CW_WL/blocker" 1 || fail "folded exited $?"
grep -Eq 'main;wait_for_input;(__libc_)?read;.*pipe_read_\[k\]' "$TMP/f.txt" || { cat "$TMP/f.txt"; fail "blocked stack not charged to main->wait_for_input->read->pipe_read"; }
"$CW" profile --off-cpu -- "$CW_WL/blocker" 1 > "$TMP/t.txt" || fail "table exited $?"
cat "$TMP/t.txt"
grep -q 'blocked' "$TMP/t.txt" || fail "table has no blocked column"
no_bpf_left
