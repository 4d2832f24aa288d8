# kmeasure's bad input: unknown syscalls and kernel functions get one line with close matches and exit 2, a
# backend that cannot time kernel functions says so, unavailable backends say why; what was loaded before
# the error is removed (a "still loaded" line would be a second error line).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../kmeasure_lib.sh"
need_root
need_facility bpf-tracepoint
expect2() { # expect2 PATTERN ARGS...: exit 2 with one stderr line matching PATTERN
	pat=$1; shift
	"$CW" kmeasure --check-removed "$@" > "$TMP/o" 2> "$TMP/all"; rc=$?
	cat "$TMP/all"
	# the confirmation that whatever was loaded before the error is gone again is not part of the error
	grep -v '^crosswalk: kmeasure: all [0-9]* BPF programs removed$' "$TMP/all" > "$TMP/e"
	[ $rc = 2 ] || fail "'$*' exited $rc, not 2"
	[ "$(wc -l < "$TMP/e")" = 1 ] || fail "'$*': not one line of error"
	grep -Eq "$pat" "$TMP/e" || fail "'$*': message does not match '$pat'"
}
kfn=$(awk '$3 ~ /^(pipe_read|anon_pipe_read)$/ {print $3; exit}' /proc/kallsyms)
[ -n "$kfn" ] || kfn=vfs_read
typo=$(echo "$kfn" | sed 's/read$/reed/')
expect2 "k:$typo: no such kernel function .*close: .*k:$kfn" --kernel-backend sampling -f "k:$typo" -- /bin/true
expect2 "sys:reed: no such system call .*sys:read" -f sys:reed -- /bin/true
expect2 "tracepoint backend times only syscalls" --kernel-backend tracepoint -f k:vfs_read -- /bin/true
expect2 "unknown kernel backend 'bogus'" --kernel-backend bogus -f sys:read -- /bin/true
expect2 "kernel names are sys:" -f read -- /bin/true
expect2 "command not found: /nonexistent/cmd" -f sys:read -- /nonexistent/cmd
expect2 "no process" -f sys:read -p 999999999
if ! "$CW" probe | grep -Eq '^fentry +yes'; then
	expect2 "kernel backend fentry unavailable: " --kernel-backend fentry -f k:vfs_read -- /bin/true
fi
if ! "$CW" probe | grep -Eq '^kprobe +yes'; then
	expect2 "kernel backend kprobe unavailable: " --kernel-backend kprobe -f k:vfs_read -- /bin/true
fi
exit 0
