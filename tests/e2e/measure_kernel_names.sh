# crosswalk measure accepts kernel names (sys:NAME, k:NAME) and says which backend measured each; a mix of
# user and kernel names in one run is refused with one line.
. "$(dirname "$0")/../lib.sh"
need_root
need_facility bpf-tracepoint
"$CW" measure -f sys:read,k:anon_pipe_read -- "$CW_WL/blocker" 1 > "$TMP/out" 2>&1 || { cat "$TMP/out"; fail "measure of kernel names exited $?"; }
cat "$TMP/out"
grep -Eq '^sys:read +tracepoint +[0-9]+ ' "$TMP/out" || fail "no exact sys:read row"
grep -Eq '^k:anon_pipe_read +(sampling|fentry|kprobe) ' "$TMP/out" || fail "no k:anon_pipe_read row with its backend"
"$CW" measure -f sys:read,main -- true 2> "$TMP/err"; rc=$?
[ $rc = 2 ] && [ "$(wc -l < "$TMP/err")" = 1 ] || fail "a user+kernel mix did not get one line and exit 2"
no_bpf_left
