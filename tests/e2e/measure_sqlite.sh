# A real Debian program: the sqlite3 shell through Debian's libsqlite3 (no .symtab; .dynsym only). Two
# scripts that differ only in how many rows one SELECT returns (10 vs 100): sqlite3_step and
# sqlite3_column_text must be called exactly 90 times more, the query results must be unchanged.
. "$(dirname "$0")/../lib.sh"
command -v sqlite3 >/dev/null || skip "sqlite3 not installed"
script() {
	printf 'create table t(x);\n'
	printf 'with recursive c(i) as (select 1 union all select i+1 from c where i<1000) insert into t select i from c;\n'
	printf 'select x from t where x %% %d = 0;\nselect count(*), sum(x) from t;\n' "$1"
}
F=libsqlite3.so.0:sqlite3_step,libsqlite3.so.0:sqlite3_prepare_v2,libsqlite3.so.0:sqlite3_column_text
for m in 100 10; do
	script $m > "$TMP/q$m.sql"
	want=$(sqlite3 :memory: < "$TMP/q$m.sql")
	got=$("$CW" measure -f $F --json "$TMP/r$m.json" -o "$TMP/t$m" -- sqlite3 :memory: < "$TMP/q$m.sql" 2>"$TMP/e$m") ||
		{ cat "$TMP/e$m"; fail "measure exited $?"; }
	[ "$got" = "$want" ] || fail "sqlite3 output changed"
	cat "$TMP/t$m"
done
python3 - "$TMP/r100.json" "$TMP/r10.json" <<'PY' || fail "wrong counts"
import json, sys
a, b = ({f["function"].split(":")[1]: f["calls"] for f in json.load(open(p))["functions"]} for p in sys.argv[1:])
assert b["sqlite3_step"] - a["sqlite3_step"] == 90, (a, b)
assert b["sqlite3_column_text"] - a["sqlite3_column_text"] == 90, (a, b)
assert a["sqlite3_prepare_v2"] == b["sqlite3_prepare_v2"] > 0, (a, b)
PY
exit 0
