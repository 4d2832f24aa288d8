# `crosswalk demo`: the finding names select() and its kernel code (do_select / core_sys_select) with a
# share of the select server's CPU larger than the epoll server's share for epoll_wait(); nothing it
# started outlives it, whether it ends normally, by Ctrl-C (SIGINT) or by SIGKILL; a build without the
# examples gets a one-line error saying to run make.
. "$(dirname "$0")/../lib.sh"
EX=$(dirname "$(readlink -f "$CW")")/examples

# a copy of the binary with no examples next to it
mkdir -p "$TMP/bin" && cp "$CW" "$TMP/bin/crosswalk"
rc=0; "$TMP/bin/crosswalk" demo > "$TMP/o" 2> "$TMP/e" || rc=$?
[ $rc = 2 ] || fail "demo without build/examples exited $rc (want 2)"
[ "$(wc -l < "$TMP/e")" = 1 ] && grep -q "run 'make'" "$TMP/e" || { cat "$TMP/e"; fail "no one-line error saying to run make"; }

need_root
need_facility bpf-perf-event
for p in select_server epoll_server loadgen; do
	[ -x "$EX/$p" ] || fail "$EX/$p is not built (make)"
done
[ "$(ulimit -Hn)" -ge 1100 ] || skip "hard open-file limit $(ulimit -Hn) is below the 1100 the demo needs"

# processes running one of this build's example programs
leftovers() {
	local p e
	for p in /proc/[0-9]*; do
		e=$(readlink "$p/exe" 2>/dev/null) || continue
		case "$e" in "$EX"/*) echo "${p#/proc/} $e" ;; esac
	done
}
[ -z "$(leftovers)" ] || skip "example programs of this build are already running: $(leftovers | tr '\n' ' ')"
no_leftovers() {
	local left
	for _ in $(seq 20); do # SIGKILL'd children are reaped by init, not at once
		left=$(leftovers)
		[ -z "$left" ] && return 0
		sleep 0.1
	done
	fail "$1: still running: $left"
}

# BPF programs of the profiler (on_*) that appeared since BEFORE and are still loaded. The machine may be
# shared with other crosswalk runs, whose programs cannot be told from ours: then the check says so and is
# not made (lib.sh's no_bpf_left would blame us for them).
bpf_ids() { bpftool prog show 2>/dev/null | sed -n 's/^\([0-9]*\): .* name \(on_sample\|on_switch\|on_fork\|on_exec\) .*/\1/p' | sort; }
no_new_bpf_left() {
	local new
	new=$(comm -13 <(echo "$BEFORE") <(bpf_ids) | tr '\n' ' ')
	[ -z "${new// /}" ] && return 0
	if pgrep -x crosswalk > /dev/null; then
		echo "note: BPF programs $new are loaded, but other crosswalk processes run: not checked ($1)"
		return 0
	fi
	fail "$1: BPF programs left loaded: $new"
}
BEFORE=$(bpf_ids)

start=$SECONDS
"$CW" demo -d 2 --json "$TMP/d.json" > "$TMP/out" 2> "$TMP/err" || { cat "$TMP/out" "$TMP/err"; fail "demo exited $?"; }
cat "$TMP/out" "$TMP/err"
echo "(took $((SECONDS - start)) s)"
no_leftovers "after the demo"
no_new_bpf_left "after the demo"
# the walk found its way from main into select()'s kernel code
grep -Eq "^  Bottleneck [0-9]+: .*main → serve_forever → poll_clients → .*select.* → \[kernel\] .*(do_select|core_sys_select)" "$TMP/out" \
	|| fail "no verdict of the walk leads from main through poll_clients into select()'s kernel code"
grep -q "^Finding: " "$TMP/out" || fail "no finding"
finding=$(grep "^Finding: " "$TMP/out")
echo "$finding" | grep -q "select()" || fail "the finding does not name select()"
echo "$finding" | grep -Eq "do_select|core_sys_select" || fail "the finding names neither do_select nor core_sys_select"
json_check "$TMP/d.json" 'd["select_server"]["wait_pct"] > d["epoll_server"]["wait_pct"]'
json_check "$TMP/d.json" 'd["select_server"]["wait_pct"] >= 20'
json_check "$TMP/d.json" 'd["select_server"]["errors"] == 0 and d["epoll_server"]["errors"] == 0'
json_check "$TMP/d.json" 'd["select_server"]["rps"] > 0 and d["epoll_server"]["rps"] > 0'
json_check "$TMP/d.json" 'd["select_server"]["connections"] >= 1004 and d["epoll_server"]["connections"] >= 1004'
json_check "$TMP/d.json" '[n["function"] for n in d["select_server"]["path"][:3]] == ["main", "serve_forever", "poll_clients"]'
json_check "$TMP/d.json" 'any(n["function"].split(".")[0] in ("do_select", "core_sys_select") and n["space"] == "kernel" for n in d["select_server"]["path"])'
# epoll_server's path crosses into the kernel under epoll_wait() and goes on to do_epoll_wait, unless it
# had to stop before: the path only descends into a child holding half of the wait samples, so where it
# stops short, what the last node's children hold together (its share less its self time) is below half.
# (On the PVM guest of 2026-12-07, in one run of five, do_syscall_64's own time, the system call's entry
# and exit, held 29% of the wait path: its children together held 48%, no child half.)
json_check "$TMP/d.json" 'any(n["space"] == "kernel" for n in d["epoll_server"]["path"])'
json_check "$TMP/d.json" 'any(n["function"].split(".")[0] in ("do_epoll_wait", "ep_poll") for n in d["epoll_server"]["path"]) or (lambda e, last: last["space"] == "kernel" and 2 * (last["pct"] - sum(t["pct"] for t in e["top"] if t["function"] == last["function"] and t["space"] == "kernel")) < e["wait_pct"])(d["epoll_server"], d["epoll_server"]["path"][-1])'
# the finding's share is the JSON's
pct=$(python3 -c 'import json,sys; print("%.0f" % json.load(open(sys.argv[1]))["select_server"]["wait_pct"])' "$TMP/d.json")
echo "$finding" | grep -q "^Finding: $pct% of select_server's CPU time is in select()" || fail "the finding's share is not the measured $pct%"

# Ctrl-C in the middle: exit 130, everything stopped
"$CW" demo -d 5 > "$TMP/out2" 2> "$TMP/err2" &
pid=$!
sleep 3
kill -INT $pid
rc=0; wait $pid || rc=$?
cat "$TMP/err2"
[ $rc = 130 ] || fail "demo interrupted by SIGINT exited $rc (want 130)"
grep -q "interrupted" "$TMP/err2" || fail "no 'interrupted' message"
no_leftovers "after SIGINT"
no_new_bpf_left "after SIGINT"

# SIGKILL: the children die with it (PR_SET_PDEATHSIG)
"$CW" demo -d 5 > /dev/null 2>&1 &
pid=$!
sleep 3
kill -KILL $pid
wait $pid 2>/dev/null
no_leftovers "after SIGKILL"
exit 0
