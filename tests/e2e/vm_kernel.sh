# The dynamic kernel backends (fentry/fexit, kprobe/kretprobe) on a real Debian kernel booted under QEMU:
# exact call counts, times consistent with the callers, run-time insert/remove, nothing left loaded
# (tests/vm/run.sh does the work and skips, with the reason, only where qemu cannot run).
. "$(dirname "$0")/../lib.sh"
"$CW_ROOT/tests/vm/run.sh"
