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
# page faults: where the kernel's share of them ends depends on the machine, so perf tells first (lib.sh)
R=$(perf_fault_handler_share "$CW_WL/planted" faults 2) || exit 1
echo "perf: ${R} of the page-fault samples are inside the fault handler"
"$CW" walk -d 30 --json "$TMP/g.json" -- "$CW_WL/planted" faults 60 > "$TMP/out" || fail "walk exited $?"
cat "$TMP/out"
walk_check "$TMP/g.json" cpu-kernel main touch_fresh_pages "page faults"
if python3 -c "import sys; sys.exit(not float(sys.argv[1]) >= 0.6)" "$R"; then
	walk_check "$TMP/g.json" cpu-kernel main touch_fresh_pages "page faults" handle_mm_fault
elif python3 -c "import sys; sys.exit(not float(sys.argv[1]) <= 0.25)" "$R"; then
	# the handler holds too little to be refined: the verdict is the fault itself, with the reason
	python3 - "$TMP/g.json" <<'PY' || fail "no verdict ending at the page faults with their entry's share"
import json, sys
d = json.load(open(sys.argv[1]))
ok = [v for v in d["verdicts"] if v["kind"] == "cpu-kernel" and v["path"][-1]["function"] == "page faults"
      and "outside its handler" in v["sentence"]]
[print("verdict:", v["sentence"]) for v in ok]
sys.exit(not ok)
PY
fi
"$CW" walk -d 30 --json "$TMP/t.json" -- "$CW_WL/planted" threads 60 > "$TMP/out" || fail "walk exited $?"
cat "$TMP/out"
walk_check "$TMP/t.json" cpu-user busy_worker crunch_numbers
walk_check "$TMP/t.json" blocked idle_worker "futex()"
no_bpf_left
