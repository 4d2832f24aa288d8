# `crosswalk probe` prints one line per facility, yes/no with a reason, and valid JSON.
. "$(dirname "$0")/../lib.sh"
need_root
out=$("$CW" probe) || fail "probe exited $?"
echo "$out"
for f in perf-cpu-clock bpf-tracepoint bpf-raw-tp bpf-perf-event bpf-stackmap bpf-ringbuf uprobe fentry kprobe kallsyms kcore btf ptrace; do
	echo "$out" | grep -Eq "^$f +(yes|no) +.+" || fail "no line for $f"
done
# facts that must hold on any kernel: the answer for kallsyms agrees with the file itself
if [ -r /proc/kallsyms ] && awk 'NR<50 && $1 !~ /^0+$/ {f=1} END {exit !f}' /proc/kallsyms; then
	echo "$out" | grep -Eq '^kallsyms +yes' || fail "kallsyms has addresses but probe says no"
fi
[ -e /proc/kcore ] || echo "$out" | grep -Eq '^kcore +no' || fail "no /proc/kcore but probe says yes"
"$CW" probe --json | python3 -c 'import json,sys; d=json.load(sys.stdin); assert len(d)==13, d' || fail "bad JSON"
"$CW" probe --bogus 2>/dev/null; [ $? = 2 ] || fail "bad option should exit 2"
exit 0
