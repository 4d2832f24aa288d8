# Ctrl-C during `crosswalk kmeasure -- CMD`: the report is still printed, the command does not outlive it, and
# no BPF program stays loaded; nor after SIGKILL.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../kmeasure_lib.sh"
need_root
need_facility bpf-tracepoint
"$CW" kmeasure --check-removed -f sys:read,sys:write -- "$CW_WL/pipe_sleep" 200 100 > "$TMP/out.txt" 2> "$TMP/err.txt" & km=$!
sleep 1.5
wl=$(pgrep -P $km pipe_sleep || true)
[ -n "$wl" ] || fail "workload not started"
kill -INT $km
wait $km; rc=$?
cat "$TMP/out.txt" "$TMP/err.txt"
[ $rc = 0 ] || fail "kmeasure exited $rc after SIGINT"
grep -q '(interrupted)' "$TMP/out.txt" || fail "report does not say it was interrupted"
grep -Eq '^sys:read +tracepoint +[0-9]+' "$TMP/out.txt" || fail "no report line for sys:read"
sleep 0.2
kill -0 $wl 2>/dev/null && fail "the measured command outlived kmeasure"
removed_ok "$TMP/err.txt"
# killed outright: the kernel drops every program with the last file descriptor (nothing is pinned)
"$CW" kmeasure --kernel-backend sampling -f sys:read,fault -- "$CW_WL/pipe_sleep" 200 100 > /dev/null 2>&1 & km=$!
sleep 1.5
wl=$(pgrep -P $km pipe_sleep || true)
ids=$(prog_ids $km)
[ -n "$ids" ] || fail "kmeasure holds no BPF programs while measuring"
kill -KILL $km; wait $km 2>/dev/null
[ -n "$wl" ] && kill $wl 2>/dev/null
ids_gone $ids
exit 0
