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
# no_bpf_left: fail if a BPF program of crosswalk's (named on_* and cwk_*) is still loaded, held by no
# process, by this checkout's crosswalk or by a workload. One that the crosswalk binary of another checkout
# holds open (its tests running beside these on a shared machine) is not ours; one whose holder just
# exited is gone a moment later, hence the second look.
bpf_prog_holder() {
	grep -lsE "^prog_id:[[:space:]]+$1\$" /proc/[0-9]*/fdinfo/* 2>/dev/null | head -1 | cut -d/ -f3
}
no_bpf_left() {
	local left="" id holder try exe
	for id in $(bpftool prog show 2>/dev/null | sed -nE 's/^([0-9]+): .* name (on_sample|on_switch|on_fork|on_exec|cwk_[a-z_0-9]*) .*/\1/p'); do
		for try in 1 2 3; do
			bpftool prog show id "$id" >/dev/null 2>&1 || continue 2
			holder=$(bpf_prog_holder "$id")
			exe=$(readlink "/proc/$holder/exe" 2>/dev/null)
			# held by another checkout's crosswalk (or its kernel-source unit test): not ours
			case "${exe##*/}" in crosswalk|test_kmeasure)
				[ -n "$holder" ] && [ "${exe%/build/*}" != "$CW_ROOT" ] && continue 2 ;;
			esac
			sleep 0.2
		done
		left="$left $(bpftool prog show id "$id" 2>/dev/null | head -1)${holder:+ (held by pid $holder)};"
	done
	[ -z "$left" ] || fail "BPF programs left attached after crosswalk exited:$left"
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
# walk_check FILE KIND FUNC... : some verdict of the walk's JSON has kind KIND and its path contains each
# FUNC (a substring of a path element), in that order
walk_check() {
	python3 - "$@" <<'PY' || fail "no verdict of kind $2 through ${*:3}"
import json, sys
d = json.load(open(sys.argv[1])); kind = sys.argv[2]; want = sys.argv[3:]
for v in d["verdicts"]:
    names = [p["function"] for p in v["path"]]
    i = 0
    for n in names:
        if i < len(want) and want[i] in n:
            i += 1
    if v["kind"] == kind and i == len(want):
        print("verdict:", v["sentence"]); sys.exit(0)
print("verdicts:"); [print(" ", v["kind"], v["sentence"]) for v in d["verdicts"]]; print(d["search"]); sys.exit(1)
PY
}
