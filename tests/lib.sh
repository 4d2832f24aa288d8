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
