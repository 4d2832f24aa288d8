# Return instances from the objpool and the freelist (--pool): the same exact counts as the per-thread
# stack in the cases that stress them (threads, longjmp, exceptions).
. "$(dirname "$0")/../lib.sh"
W=$CW_WL/mw_hard.gcc-O2
"$CW" measure --pool objpool -f work -o /dev/null -- "$W" threads 1 10 >/dev/null 2>"$TMP/e" ||
	skip "this build has no objpool: $(cat "$TMP/e")"
calls() { python3 -c 'import json,sys; d={f["function"]:f for f in json.load(open(sys.argv[1]))["functions"]}; print(d[sys.argv[2]][sys.argv[3]])' "$@"; }
for p in objpool freelist; do
	"$CW" measure --pool $p -f work --json "$TMP/t.json" -o /dev/null -- "$W" threads 8 20000 >/dev/null 2>&1 || fail "$p: threads"
	[ "$(calls "$TMP/t.json" work calls)" = 160000 ] || fail "$p: threads count $(calls "$TMP/t.json" work calls)"
	"$CW" measure --pool $p -f jumper,after --json "$TMP/l.json" -o /dev/null -- "$W" longjmp 200 >/dev/null 2>&1 || fail "$p: longjmp"
	[ "$(calls "$TMP/l.json" after calls)" = 400 ] && [ "$(calls "$TMP/l.json" jumper entries)" = 200 ] || fail "$p: longjmp counts"
	"$CW" measure --pool $p -f middle,catcher --json "$TMP/x.json" -o /dev/null -- "$CW_WL/mw_cxx.gcc-O2" 100 >/dev/null 2>&1 || fail "$p: exceptions"
	[ "$(calls "$TMP/x.json" middle calls)" = 100 ] && [ "$(calls "$TMP/x.json" middle entries)" = 200 ] || fail "$p: exception counts"
done
exit 0
