# A workload whose time is in the kernel through system calls: kernel procedures dominate, and its
# stacks cross from the user caller into the kernel (pump_pipe -> write/read -> pipe code).
. "$(dirname "$0")/../lib.sh"
need_root
need_facility bpf-perf-event
"$CW" profile -f json -o "$TMP/p.json" -- "$CW_WL/sys_hot" 2 || fail "profile exited $?"
json_check "$TMP/p.json" 'sum(p["samples"] for p in d["procedures"] if p["space"] == "kernel") > 0.6 * sum(p["samples"] for p in d["procedures"])'
json_check "$TMP/p.json" 'max(d["procedures"], key=lambda p: p["samples"])["space"] == "kernel"'
json_check "$TMP/p.json" 'any("copy" in n for n in procs)'
"$CW" profile -f folded -o "$TMP/f.txt" -- "$CW_WL/sys_hot" 1 || fail "folded profile exited $?"
grep -Eq '^sys_hot;.*main;pump_pipe;(__libc_)?(write|read);.*_\[k\];.*pipe_(read|write)_\[k\]' "$TMP/f.txt" \
	|| { head -20 "$TMP/f.txt"; fail "no user->kernel stack through the pipe syscalls"; }
no_bpf_left
