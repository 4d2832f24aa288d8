# Bad input gets one line naming what is wrong and exit 2, with nothing left attached.
. "$(dirname "$0")/../lib.sh"
need_root
check() { # expected-substring command...
	local want=$1; shift
	"$@" > "$TMP/out" 2> "$TMP/err"; rc=$?
	cat "$TMP/err"
	[ $rc = 2 ] || fail "'$*' exited $rc, not 2"
	[ "$(wc -l < "$TMP/err")" = 1 ] || fail "'$*' printed more than one line"
	grep -q "$want" "$TMP/err" || fail "'$*' did not say '$want'"
}
check "no process with PID 999999" "$CW" profile -p 999999 -d 1
check "invalid PID 'abc'" "$CW" profile -p abc
check "command not found" "$CW" profile -- /nonexistent/program
check "cannot write output file '/nonexistent/dir/x'" "$CW" profile -o /nonexistent/dir/x -- true
check "unknown format 'xml'" "$CW" profile -f xml -- true
check "invalid frequency" "$CW" profile -F 0 -- true
check "give exactly one target" "$CW" profile
check "give exactly one target" "$CW" profile -a -p 1
check "unknown command 'bogus'" "$CW" bogus
no_bpf_left
