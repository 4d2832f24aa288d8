# Every command has a man page, and every man page renders without groff warnings.
. "$(dirname "$0")/../lib.sh"
command -v groff >/dev/null || skip "groff not installed"
for cmd in $("$CW" --help | awk '/^commands:/{f=1;next} f && !NF {exit} f {print $1}'); do
	[ -f "$CW_ROOT/docs/man/crosswalk-$cmd.1" ] || fail "no man page docs/man/crosswalk-$cmd.1 for command '$cmd'"
done
[ -f "$CW_ROOT/docs/man/crosswalk.1" ] || fail "no docs/man/crosswalk.1"
for m in "$CW_ROOT"/docs/man/*.1; do
	out=$(groff -man -Tutf8 -ww -z "$m" 2>&1) || fail "groff failed on $m"
	[ -z "$out" ] || fail "groff warnings for $m: $out"
done
exit 0
