# crosswalk measure --user-backend uprobe: the same exact counts with BPF uprobe+uretprobe, launched and
# attached, and nothing left attached afterwards.
. "$(dirname "$0")/../lib.sh"
need_root
need_facility uprobe
W=$CW_WL/mw_calls.gcc-O2
want=$("$W" 300 8)
got=$("$CW" measure --user-backend uprobe -f outer,inner,rec --json "$TMP/u.json" -o "$TMP/u.txt" -- "$W" 300 8 2>"$TMP/err") ||
	{ cat "$TMP/err"; fail "measure exited $?"; }
[ "$got" = "$want" ] || fail "output changed"
cat "$TMP/u.txt"
python3 - "$TMP/u.json" <<'PY' || fail "wrong counts"
import json, sys
d = json.load(open(sys.argv[1])); assert d["backend"] == "uprobe"
f = {x["function"]: x for x in d["functions"]}
assert f["outer"]["calls"] == 300 and f["inner"]["calls"] == 900 and f["rec"]["calls"] == 81, f
assert f["inner"]["incl_ns"] <= f["outer"]["incl_ns"], f
PY
# attach to a server, then check no uprobe is left on it
S=$CW_WL/mw_server.gcc-O2
"$S" server "$TMP/port" 2 & SP=$!
trap 'kill $SP 2>/dev/null; wait $SP 2>/dev/null; rm -rf "$TMP"' EXIT
for i in $(seq 50); do [ -s "$TMP/port" ] && break; sleep 0.1; done
# the client outlasts the measurement even when loading the BPF side is slow on a busy machine
"$S" client "$(cat "$TMP/port")" 10 2 > "$TMP/client" & CP=$!
sleep 0.3
"$CW" measure --user-backend uprobe -p $SP -d 2 -f handle_request --json "$TMP/a.json" 2>"$TMP/aerr" || { cat "$TMP/aerr"; fail "attach exited $?"; }
wait $CP; grep -q "failed 0" "$TMP/client" || fail "client failures"
python3 -c 'import json,sys; f=json.load(open(sys.argv[1]))["functions"][0]; assert f["calls"] > 10, f' "$TMP/a.json" || fail "no calls counted"
grep -q "uprobe" /sys/kernel/debug/tracing/uprobe_events 2>/dev/null && fail "uprobe events left behind"
exit 0
