# Per-syscall cost of each kernel backend inside the VM, against the same VM's baseline: one
# "CWBENCH: CONFIG NS_PER_CALL" line per configuration (tests/vm/run.sh bench parses them). The timed kernel
# function is __task_pid_nr_ns, which getppid calls once (the __x64_sys_* wrappers have no BTF in 6.1).
CW=/cw/crosswalk
WL=/cw/wl
N=${CW_BENCH_N:-20000}
ns() { sed -n 's/^ns_per_call //p'; }
$WL/syscall_loop $N 3 > /dev/null # warm-up: TCG translates the code on its first runs
echo "CWBENCH: off $($WL/syscall_loop $N 5 | ns)"
echo "CWBENCH: tracepoint $($CW kmeasure --kernel-backend tracepoint -f sys:getppid -- $WL/syscall_loop $N 5 | ns)"
echo "CWBENCH: sampling $($CW kmeasure --kernel-backend sampling -f sys:getppid -- $WL/syscall_loop $N 5 | ns)"
for b in fentry kprobe; do
	echo "CWBENCH: $b $($CW kmeasure --kernel-backend $b -f sys:getppid,k:__task_pid_nr_ns -- $WL/syscall_loop $N 5 | ns)"
done
echo "CWBENCH: off2 $($WL/syscall_loop $N 5 | ns)"
