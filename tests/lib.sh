# Shared helpers for end-to-end tests (sourced). Each test runs the real build/crosswalk.
set -u
fail() { echo "FAIL: $*"; exit 1; }
skip() { echo "SKIP: $*"; exit 77; }
need_root() { [ "$(id -u)" = 0 ] || skip "needs root (BPF, perf events)"; }
# need_facility NAME: skip unless `crosswalk probe` says yes for NAME
need_facility() {
	"$CW" probe 2>/dev/null | grep -E "^$1 +yes" >/dev/null || skip "kernel facility '$1' not available here: $("$CW" probe 2>/dev/null | grep -E "^$1 " | sed 's/  */ /g')"
}
TMP=$(mktemp -d /tmp/cw-e2e.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
# no_bpf_left: fail if a BPF program of crosswalk's is still loaded after every crosswalk process has
# exited (programs die with the process that holds them, so one left means a leak: a pinned program or a
# link kept alive). Other crosswalk processes running at the same time (a developer's) are waited for.
no_bpf_left() {
	local left i
	for i in $(seq 100); do pgrep -x crosswalk >/dev/null || break; sleep 0.1; done
	pgrep -x crosswalk >/dev/null && { echo "note: another crosswalk is running; leak check skipped"; return 0; }
	left=$(bpftool prog show 2>/dev/null | grep -E "name (on_sample|on_switch|on_fork|on_exec|cwk_[a-z_]*)\b" || true)
	[ -z "$left" ] || fail "BPF programs left loaded after crosswalk exited: $left"
}
# json_get FILE PYEXPR: evaluate a python expression over the parsed JSON document `d`
json_check() {
	python3 - "$1" "$2" <<'PY' || fail "JSON check failed: $2"
import json, sys
d = json.load(open(sys.argv[1]))
procs = {p["name"]: p for p in d.get("procedures", [])}
try:
    ok = eval(sys.argv[2])
except Exception as e:
    print("exception:", repr(e)); ok = False
if not ok:
    print("check failed:", sys.argv[2]); print(json.dumps(d)[:3000]); sys.exit(1)
PY
}
