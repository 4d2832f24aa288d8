# walk across the boundary: a blocking pipe read, fsync, page faults, and one busy thread among idle ones.
. "$(dirname "$0")/../lib.sh"
need_root
need_facility bpf-perf-event
"$CW" walk -d 30 --json "$TMP/p.json" -- "$CW_WL/blocker" 60 > "$TMP/out" || fail "walk exited $?"
cat "$TMP/out"
walk_check "$TMP/p.json" blocked main wait_for_input "read()" pipe_read
# fsync on a disk file system (a tmpfs fsync does not wait)
cd "$CW_ROOT/build"
"$CW" walk -d 30 --json "$TMP/f.json" -- "$CW_WL/planted" fsync 60 > "$TMP/out" || fail "walk exited $?"
cat "$TMP/out"
if [ "$(stat -f -c %T .)" != tmpfs ]; then
	walk_check "$TMP/f.json" blocked main persist_records "fsync()"
fi
"$CW" walk -d 30 --json "$TMP/g.json" -- "$CW_WL/planted" faults 60 > "$TMP/out" || fail "walk exited $?"
cat "$TMP/out"
walk_check "$TMP/g.json" cpu-kernel main touch_fresh_pages "page faults" handle_mm_fault
"$CW" walk -d 30 --json "$TMP/t.json" -- "$CW_WL/planted" threads 60 > "$TMP/out" || fail "walk exited $?"
cat "$TMP/out"
walk_check "$TMP/t.json" cpu-user busy_worker crunch_numbers
walk_check "$TMP/t.json" blocked idle_worker "futex()"
no_bpf_left
