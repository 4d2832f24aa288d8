# Attach to a running multithreaded server under load, measure, detach: no failed request, calls counted,
# every patched byte restored, the server keeps serving; a second attach works; bad targets get clear errors.
. "$(dirname "$0")/../lib.sh"
need_root
W=$CW_WL/mw_server.gcc-O2
[ -x "$W" ] || fail "workload not built"
"$W" server "$TMP/port" 4 & SP=$!
trap 'kill $SP 2>/dev/null; wait $SP 2>/dev/null; rm -rf "$TMP"' EXIT
for i in $(seq 50); do [ -s "$TMP/port" ] && break; sleep 0.1; done
PORT=$(cat "$TMP/port")
# the bytes of the two functions, as mapped, before anything happens
code() { python3 - "$SP" "$W" <<'PY'
import subprocess, sys
pid, exe = int(sys.argv[1]), sys.argv[2]
syms = {l.split()[2]: int(l.split()[0], 16) for l in subprocess.check_output(["nm", exe], text=True).splitlines() if len(l.split()) == 3}
base = min(int(l.split("-")[0], 16) for l in open(f"/proc/{pid}/maps") if l.rstrip().endswith(exe.split("/")[-1]))
with open(f"/proc/{pid}/mem", "rb") as m:
    for f in ("handle_request", "compute"):
        m.seek(base + syms[f]); print(f, m.read(32).hex())
PY
}
before=$(code) || fail "cannot read the server's code"
"$W" client "$PORT" 5 4 > "$TMP/client" & CP=$!
sleep 1
start=$(date +%s%N)
"$CW" measure -p $SP -d 1 -f handle_request,compute --json "$TMP/a.json" -o "$TMP/a.txt" 2>"$TMP/a.err" || { cat "$TMP/a.err"; fail "measure exited $?"; }
cat "$TMP/a.txt"
during=$(code)
[ "$during" = "$before" ] || fail "code not restored after detach: $during vs $before"
# a second attach to the same process (the agent is already loaded)
"$CW" measure -p $SP -d 0.5 -f compute --json "$TMP/b.json" -o "$TMP/b.txt" 2>"$TMP/b.err" || { cat "$TMP/b.err"; fail "second attach exited $?"; }
wait $CP || { cat "$TMP/client"; fail "client saw failures"; }
cat "$TMP/client"
grep -q "failed 0" "$TMP/client" || fail "failed requests: $(cat "$TMP/client")"
after=$(code)
[ "$after" = "$before" ] || fail "code not restored after the second detach"
kill -0 $SP || fail "server died"
python3 - "$TMP/a.json" "$TMP/b.json" <<'PY' || fail "bad counts"
import json, sys
a = {f["function"]: f for f in json.load(open(sys.argv[1]))["functions"]}
b = {f["function"]: f for f in json.load(open(sys.argv[2]))["functions"]}
assert a["handle_request"]["calls"] > 100, a
# handle_request calls compute once: equal counts up to the calls in flight at insert/removal
assert abs(a["handle_request"]["calls"] - a["compute"]["calls"]) <= 8, a
assert a["compute"]["incl_ns"] <= a["handle_request"]["incl_ns"], a
assert b["compute"]["calls"] > 50, b
PY
# the server still answers after everything
"$W" client "$PORT" 0.3 2 | grep -q "failed 0" || fail "server not answering after detach"
# bad targets
"$CW" measure -p 999999 -f main -d 1 2>"$TMP/e1"; [ $? = 2 ] && grep -q "no process 999999" "$TMP/e1" || fail "nonexistent pid: $(cat "$TMP/e1")"
"$CW" measure -p $SP -f no_such_function -d 1 2>"$TMP/e2"; [ $? = 2 ] && grep -q "unknown function" "$TMP/e2" || fail "unknown function: $(cat "$TMP/e2")"
kill -0 $SP || fail "server died after a failed measure"
exit 0
