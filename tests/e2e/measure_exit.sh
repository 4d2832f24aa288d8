# Every way a measurement ends leaves the target unmodified: SIGTERM and SIGINT to crosswalk, crosswalk
# killed outright (the agent removes everything when its control socket closes), -d on a launched program
# (which keeps running), and the target dying mid-run (reported, clean exit).
. "$(dirname "$0")/../lib.sh"
need_root
W=$CW_WL/mw_server.gcc-O2
pids=()
trap 'for p in "${pids[@]}"; do kill $p 2>/dev/null; done; wait 2>/dev/null; rm -rf "$TMP"' EXIT
code() { python3 - "$1" "$W" <<'PY'
import subprocess, sys
pid, exe = int(sys.argv[1]), sys.argv[2]
syms = {l.split()[2]: int(l.split()[0], 16) for l in subprocess.check_output(["nm", exe], text=True).splitlines() if len(l.split()) == 3}
base = min(int(l.split("-")[0], 16) for l in open(f"/proc/{pid}/maps") if l.rstrip().endswith(exe.split("/")[-1]))
with open(f"/proc/{pid}/mem", "rb") as m:
    for f in ("handle_request", "compute"):
        m.seek(base + syms[f]); print(f, m.read(32).hex())
PY
}
waitport() { for i in $(seq 50); do [ -s "$1" ] && return 0; sleep 0.1; done; fail "server did not start"; }
restored() { # PID BEFORE: the code must come back (the agent may need a moment after crosswalk died)
	for i in $(seq 20); do [ "$(code $1)" = "$2" ] && return 0; sleep 0.1; done
	fail "$3: code not restored"
}
"$W" server "$TMP/port" 2 & SP=$!; pids+=($SP)
waitport "$TMP/port"; PORT=$(cat "$TMP/port")
before=$(code $SP)
"$W" client "$PORT" 6 2 > "$TMP/client" & CP=$!; pids+=($CP)

for sig in TERM INT; do
	"$CW" measure -p $SP -f handle_request,compute -o "$TMP/t" 2>"$TMP/err" & M=$!
	sleep 1; kill -$sig $M; wait $M; rc=$?
	[ $rc = 0 ] || { cat "$TMP/err"; fail "SIG$sig: crosswalk exited $rc"; }
	grep -q handle_request "$TMP/t" || fail "SIG$sig: no table"
	restored $SP "$before" "SIG$sig"
done
"$CW" measure -p $SP -f handle_request,compute 2>/dev/null & M=$!
sleep 1; kill -KILL $M; wait $M 2>/dev/null
restored $SP "$before" "crosswalk killed"
wait $CP; grep -q "failed 0" "$TMP/client" || fail "client failures: $(cat "$TMP/client")"

# -d on a launched program: crosswalk detaches, the program runs on unmodified
"$CW" measure -d 1 -f handle_request,worker -o "$TMP/l" --json "$TMP/l.json" -- "$W" server "$TMP/port2" 2 2>"$TMP/lerr" || { cat "$TMP/lerr"; fail "launch -d exited $?"; }
# the two workers never return: their time shows as calls still open (about 2 x 1 s)
python3 -c 'import json,sys; d={f["function"]:f for f in json.load(open(sys.argv[1]))["functions"]}; w=d["worker"]; assert w["calls"] == 0 and 1.0e9 <= w["inflight_ns"] <= 8e9, w' "$TMP/l.json" || fail "in-flight time of the workers"
waitport "$TMP/port2"
LP=$(pgrep -f "mw_server.gcc-O2 server $TMP/port2") || fail "launched server gone after -d"
pids+=($LP)
[ "$(code $LP)" = "$(code $SP)" ] || fail "launched server still modified after -d"
"$W" client "$(cat "$TMP/port2")" 0.3 1 | grep -q "failed 0" || fail "launched server not serving after -d"

# Ctrl-C at a terminal: SIGINT to crosswalk and to the launched program alike
"$CW" measure -f work -o "$TMP/c" -- "$CW_WL/mw_hard.gcc-O2" threads 2 100000000 2>"$TMP/cerr" & M=$!
for i in $(seq 50); do T=$(pgrep -P $M) && break; sleep 0.1; done
sleep 0.5; kill -INT $M $T; wait $M; rc=$?
[ $rc = 0 ] || { cat "$TMP/cerr"; fail "Ctrl-C: exit $rc"; }
grep -q "^work" "$TMP/c" || fail "Ctrl-C: no table"
alive() { [ -r /proc/$1/stat ] && ! awk '{exit !($3 == "Z")}' /proc/$1/stat 2>/dev/null; }
for i in $(seq 20); do alive $T || break; sleep 0.1; done
alive $T && { kill -KILL $T; fail "Ctrl-C: the program survived its SIGINT"; }

# the target dies mid-run: reported, tables printed, exit 0
"$CW" measure -f work -o "$TMP/d" -- "$CW_WL/mw_hard.gcc-O2" threads 2 100000000 2>"$TMP/derr" & M=$!
for i in $(seq 50); do T=$(pgrep -P $M) && break; sleep 0.1; done
sleep 0.5; kill -KILL $T; wait $M; rc=$?
[ $rc = 0 ] || { cat "$TMP/derr"; fail "target death: exit $rc"; }
grep -q "killed by signal 9" "$TMP/derr" || fail "target death not reported: $(cat "$TMP/derr")"
grep -q "^work" "$TMP/d" || fail "no table after target death"
exit 0
