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
# a root (main, a thread's start routine) spans its thread's life: never more than all of the wall time
over = [n for n in d["nodes"] if n["parent"] == -1 and n["share_pct"] > 100.5]
if over:
    print("roots above 100% of wall time:", [(n["function"], n["share_pct"]) for n in over]); sys.exit(1)
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
# perf_fault_handler_share CMD...: an oracle independent of crosswalk. Records CMD with perf's cpu-clock
# sampler and prints the share of its page-fault samples (stacks through exc_page_fault) that are inside
# the fault's handler (handle_mm_fault or lock_vma_under_rcu, which it runs first). On a bare or
# KVM-style machine most are; on a paravirtualized guest (PVM, Xen PV) most land where interrupts come
# back on after the exception's delivery, the hypervisor's part of the fault.
perf_fault_handler_share() {
	command -v perf >/dev/null || fail "perf is not installed (scripts/deps.sh installs linux-perf)"
	perf record -q -e cpu-clock -g -o "$TMP/oracle.data" -- "$@" >/dev/null 2>&1 || fail "perf record $* failed"
	perf script -i "$TMP/oracle.data" -F ip,sym 2>/dev/null | python3 -c '
import sys
faults = handler = 0
for st in sys.stdin.read().split("\n\n"):
    names = [l.split()[-1] for l in st.strip().splitlines() if l.strip()]
    if any(n.startswith("exc_page_fault") for n in names):
        faults += 1
        handler += any(n in ("handle_mm_fault", "lock_vma_under_rcu") for n in names)
if faults < 50:
    sys.exit("perf saw only %d page-fault samples" % faults)
print("%.3f" % (handler / faults))
' || fail "perf saw too few page faults in $*"
}
