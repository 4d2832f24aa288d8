#!/bin/bash
# bench/kernel: what each kernel backend costs per syscall, as the ratio of a getppid loop's time per call with
# the backend measuring it to the time without (best of several repetitions). Tracepoint and sampling on this
# machine; fentry and kprobe (which this kernel forbids) inside the Debian-kernel VM of tests/vm, against that
# VM's own baseline. Prints a table and writes bench/results/kernel.json.
#   CW_BENCH_N  calls per repetition on the host (default 200000)
set -u
cd "$(dirname "$0")/../.."
CW=build/crosswalk
LOOP=build/workloads/syscall_loop
N=${CW_BENCH_N:-200000}
[ -x $CW ] && [ -x $LOOP ] || { echo "run make first" >&2; exit 2; }
ns() { sed -n 's/^ns_per_call //p'; }
declare -A host vm
$LOOP $N 3 > /dev/null
host[off]=$($LOOP $N 7 | ns)
host[tracepoint]=$($CW kmeasure --kernel-backend tracepoint -f sys:getppid -- $LOOP $N 7 | ns)
host[sampling]=$($CW kmeasure --kernel-backend sampling -f sys:getppid -- $LOOP $N 7 | ns)
host[off2]=$($LOOP $N 7 | ns)

vmout=$(tests/vm/run.sh bench 2>&1)
vmrc=$?
while read -r _ cfg v; do vm[$cfg]=$v; done < <(echo "$vmout" | grep '^CWBENCH: ')
[ $vmrc = 0 ] || echo "VM part did not run: $(echo "$vmout" | tail -1)" >&2

python3 - "$N" "$(declare -p host)" "$(declare -p vm)" <<'PY'
import json, re, sys, platform
def parse(decl):
    return {k: float(v) for k, v in re.findall(r'\[(\w+)\]="([0-9.]+)"', decl)}
n, host, vm = int(sys.argv[1]), parse(sys.argv[2]), parse(sys.argv[3])
rows = []
def add(where, base, d, cfg, what):
    if cfg in d and base in d and d[base] > 0:
        rows.append({"where": where, "backend": cfg, "what": what, "ns_per_call": d[cfg],
                     "baseline_ns_per_call": d[base], "ratio": round(d[cfg] / d[base], 3),
                     "added_ns_per_call": round(d[cfg] - d[base], 1)})
add("host", "off", host, "tracepoint", "sys:getppid (raw_syscalls + sched tracepoints)")
add("host", "off", host, "sampling", "sys:getppid + cpu-clock kernel stacks at 997 Hz")
add("vm", "off", vm, "tracepoint", "sys:getppid")
add("vm", "off", vm, "sampling", "sys:getppid + sampling")
add("vm", "off", vm, "fentry", "sys:getppid + k:__task_pid_nr_ns by fentry/fexit")
add("vm", "off", vm, "kprobe", "sys:getppid + k:__task_pid_nr_ns by kprobe/kretprobe")
print(f"{'where':5} {'backend':11} {'ns/call':>9} {'baseline':>9} {'added':>8} {'ratio':>6}  what")
for r in rows:
    print(f"{r['where']:5} {r['backend']:11} {r['ns_per_call']:9.1f} {r['baseline_ns_per_call']:9.1f} {r['added_ns_per_call']:8.1f} {r['ratio']:6.2f}  {r['what']}")
drift = {k: d.get("off2", 0) / d["off"] for k, d in (("host", host), ("vm", vm)) if d.get("off")}
print("baseline drift (second baseline / first):", ", ".join(f"{k} {v:.2f}" for k, v in drift.items()))
json.dump({"bench": "kernel", "workload": "getppid loop, best of repetitions", "host_calls_per_rep": n,
           "host_kernel": platform.release(), "vm_kernel": "Debian linux-image-6.1.0-*-amd64 under QEMU TCG",
           "results": rows, "baseline_drift": drift}, open("bench/results/kernel.json", "w"), indent=1)
print("wrote bench/results/kernel.json")
PY
