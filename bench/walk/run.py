#!/usr/bin/env python3
"""bench/walk: for each planted case, seconds to the walk's verdict (and whether it is the right one), and
the target's slowdown while walked, next to the slowdown of tracing every function with uftrace.

The bench workloads (bench/walk/workload.c, virt.cc) are the test workloads' planted patterns, same
function names and work, that count iterations and write "ITERATIONS SECONDS_RUN" at exit (also on the
SIGTERM with which the walk stops a program it launched). Slowdown = throughput alone / throughput under
the tool (iterations per second of the target's own run), median over interleaved rounds.
Prints a table and writes bench/results/walk.json. stdlib only."""
import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# name, workload binary (key), argv before SECONDS, expected verdict kind, expected path (substrings, in order)
CASES = [
    ("cpu_hot", "wl", ["cpu_hot"], "cpu-user", ["main", "run_loop", "compute_step", "hot_inner"]),
    ("blocker", "wl", ["blocker"], "blocked", ["main", "wait_for_input", "read()", "pipe_read"]),
    ("recurse", "wl", ["recurse"], "cpu-user", ["main", "solve", "fib"]),
    # where a page fault's kernel time ends depends on the machine: in handle_mm_fault on bare metal and
    # KVM, in the fault's own entry on a paravirtualized guest (tests/e2e/walk_kernel.sh asks perf which)
    ("faults", "wl", ["faults"], "cpu-kernel", ["main", "touch_fresh_pages", "page faults"]),
    ("virt", "virt", [], "cpu-user", ["main", "measure_all", "Square"]),
]


def path_matches(verdict, kind, want):
    """as tests/lib.sh walk_check: the kind matches and the path holds each name, in order"""
    i = 0
    for p in verdict["path"]:
        if i < len(want) and want[i] in p["function"]:
            i += 1
    return verdict["kind"] == kind and i == len(want)


def read_result(path):
    with open(path) as f:
        n, secs, cpu = f.read().split()
    return int(n), float(secs), float(cpu)


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def summary(xs):
    return {"median": med(xs), "all": xs}


def run_alone(argv, tmp):
    res = os.path.join(tmp, "alone.res")
    subprocess.run(argv + [res], check=True, stdout=subprocess.DEVNULL)
    return read_result(res)


def run_uftrace(argv, tmp, kernel=False):
    res = os.path.join(tmp, "uft.res")
    data = os.path.join(tmp, "uftrace.data")
    shutil.rmtree(data, ignore_errors=True)
    cmd = ["uftrace", "record", "-P", ".", "-d", data] + (["-k"] if kernel else []) + argv + [res]
    p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if p.returncode != 0 or not os.path.exists(res):
        raise RuntimeError(f"uftrace exited {p.returncode}: {p.stderr.strip()[-300:]}")
    size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(data) for f in fs)
    shutil.rmtree(data, ignore_errors=True)
    return read_result(res) + (size,)


def run_walk(cw, argv, tmp, max_s, warmup):
    res = os.path.join(tmp, "walk.res")
    js = os.path.join(tmp, "walk.json")
    for f in (res, js):
        if os.path.exists(f):
            os.unlink(f)
    cmd = [cw, "walk", "-d", str(max_s), "--warmup", str(warmup), "--json", js, "--"] + argv + [res]
    t0 = time.monotonic()
    first = None
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for line in p.stdout:
        if first is None and line.startswith("Bottleneck 1:"):
            first = time.monotonic() - t0
    err = p.stderr.read()
    # wait4: the walk's CPU time, with its reaped child (the target) in it; the target's own is subtracted
    _, status, ru = os.wait4(p.pid, 0)
    rc = p.returncode = os.waitstatus_to_exitcode(status)
    wall = time.monotonic() - t0
    if rc != 0:
        raise RuntimeError(f"crosswalk walk exited {rc}: {err.strip()[-300:]}")
    with open(js) as f:
        d = json.load(f)
    n, secs, cpu = read_result(res) if os.path.exists(res) else (None, None, None)
    walker_cpu = ru.ru_utime + ru.ru_stime - (cpu or 0)
    return d, first, wall, n, secs, cpu, walker_cpu


def probe_uftrace_kernel(wl, tmp):
    """uftrace -k needs the kernel's function_graph tracer; it warns and traces user code only without it"""
    data = os.path.join(tmp, "probe.data")
    p = subprocess.run(["uftrace", "record", "-k", "-P", ".", "-d", data, wl, "cpu_hot", "0.01",
                        os.path.join(tmp, "probe.res")], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                       text=True)
    shutil.rmtree(data, ignore_errors=True)
    msg = p.stderr.strip()
    if p.returncode != 0 or "kernel tracing disabled" in msg:
        return {"allowed": False, "reason": " ".join(msg.split()) or f"uftrace exited {p.returncode}"}
    return {"allowed": True, "reason": ""}


def machine():
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            model = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), "")
    except OSError:
        pass
    return {"kernel": platform.release(), "cpus": os.cpu_count(), "cpu_model": model,
            "load_avg_at_start": list(os.getloadavg())}


def fmt(x, spec):
    return "-" if x is None else format(x, spec)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="one case (cpu_hot), one round, short runs")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=3.0, help="length of the alone and uftrace runs")
    ap.add_argument("--walk-max", type=float, default=20.0, help="crosswalk walk -d")
    ap.add_argument("--warmup", type=float, default=1.0, help="crosswalk walk --warmup")
    ap.add_argument("--cases", default=",".join(c[0] for c in CASES))
    ap.add_argument("--crosswalk", default=os.path.join(ROOT, "build/crosswalk"))
    ap.add_argument("--workload", default=os.path.join(ROOT, "build/bench/walk_wl"))
    ap.add_argument("--virt", default=os.path.join(ROOT, "build/bench/walk_virt"))
    ap.add_argument("-o", "--output", default=os.path.join(ROOT, "bench/results/walk.json"))
    a = ap.parse_args()
    if a.quick:
        a.rounds, a.seconds, a.walk_max, a.cases = 1, 1.0, 10.0, "cpu_hot"
    bins = {"wl": a.workload, "virt": a.virt}
    for b in [a.crosswalk] + list(bins.values()):
        if not os.access(b, os.X_OK):
            sys.exit(f"bench-walk: {b} not built (make all builds it)")
    have_uftrace = shutil.which("uftrace") is not None
    cases = [c for c in CASES if c[0] in a.cases.split(",")]
    if not cases:
        sys.exit(f"bench-walk: no known case in {a.cases}")
    t_start = time.monotonic()
    tmp = tempfile.mkdtemp(prefix="bench-walk.")
    out = {"machine": machine(), "config": {"quick": a.quick, "rounds": a.rounds, "seconds": a.seconds,
                                            "walk_max_s": a.walk_max, "warmup_s": a.warmup,
                                            "cases": [c[0] for c in cases]},
           "uftrace": {"installed": have_uftrace}, "cases": {}}
    modes = ["alone", "walk"]
    if have_uftrace:
        out["uftrace"]["kernel"] = probe_uftrace_kernel(a.workload, tmp)
        modes.append("uftrace")
        if out["uftrace"]["kernel"]["allowed"]:
            modes.append("uftrace_k")
    raw = {c[0]: {"thr": {m: [] for m in modes}, "cpu_share": {m: [] for m in modes}, "walk": [], "uft_bytes": []} for c in cases}
    try:
        for r in range(a.rounds):
            for ci, (name, b, pre, kind, want) in enumerate(cases):
                argv = [bins[b]] + pre
                # rotate the order of the modes each round so that drifting load hits each alike
                order = modes[(r + ci) % len(modes):] + modes[:(r + ci) % len(modes)]
                for m in order:
                    if m == "alone":
                        n, s, cpu = run_alone(argv + [str(a.seconds)], tmp)
                    elif m == "walk":
                        # the target is given far more time than the search; the walk stops it at the end
                        d, first, wall, n, s, cpu, wcpu = run_walk(a.crosswalk, argv + [str(a.walk_max * 3)], tmp,
                                                        a.walk_max, a.warmup)
                        vs = d.get("verdicts", [])
                        raw[name]["walk"].append({
                            "search_s": d["search"]["seconds"],
                            "to_verdict_s": d["search"]["seconds"] + a.warmup if vs else None,
                            "first_verdict_wall_s": first, "command_wall_s": wall, "walker_cpu_s": wcpu,
                            "experiments": d["search"]["experiments"],
                            "target_exited": d["search"].get("target_exited"),
                            "overhead_pct_estimated": d["search"]["overhead_pct"],
                            "verdict_ok": any(path_matches(v, kind, want) for v in vs),
                            "first_verdict_ok": bool(vs) and path_matches(vs[0], kind, want),
                            "first_verdict": vs[0]["sentence"] if vs else None})
                    else:
                        n, s, cpu, size = run_uftrace(argv + [str(a.seconds)], tmp, kernel=(m == "uftrace_k"))
                        if m == "uftrace":
                            raw[name]["uft_bytes"].append(size)
                    raw[name]["thr"][m].append(n / s if n is not None and s else None)
                    raw[name]["cpu_share"][m].append(cpu / s if cpu is not None and s else None)
                    print(f"  round {r + 1} {name:8s} {m:9s} {fmt(n, 'd') if n is not None else '-'} "
                          f"iterations in {fmt(s, '.2f')} s", file=sys.stderr)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    for name, b, pre, kind, want in cases:
        rw = raw[name]
        alone = rw["thr"]["alone"]
        c = {"expected": {"kind": kind, "path": want},
             "throughput_per_s": {m: summary(v) for m, v in rw["thr"].items()},
             # CPU seconds the target got per second of its run: below 1 for a CPU-bound case means it
             # waited for a CPU (the machine's other work, or the tool's own)
             "target_cpu_share": {m: summary(v) for m, v in rw["cpu_share"].items()},
             "slowdown": {}}
        for m in modes[1:]:
            ratios = [x / y if x and y else None for x, y in zip(alone, rw["thr"][m])]
            c["slowdown"][m] = summary(ratios)
        w = rw["walk"]
        c["walk"] = {
            "seconds_to_verdict": summary([x["to_verdict_s"] for x in w]),
            "search_seconds": summary([x["search_s"] for x in w]),
            "first_verdict_wall_s": summary([x["first_verdict_wall_s"] for x in w]),
            "command_wall_s": summary([x["command_wall_s"] for x in w]),
            "walker_cpu_s": summary([x["walker_cpu_s"] for x in w]),
            "experiments": summary([x["experiments"] for x in w]),
            "overhead_pct_estimated": summary([x["overhead_pct_estimated"] for x in w]),
            "verdict_ok": [x["verdict_ok"] for x in w],
            "target_exited": [x["target_exited"] for x in w],
            "first_verdict_ok": [x["first_verdict_ok"] for x in w],
            "first_verdict": w[0]["first_verdict"] if w else None}
        if rw["uft_bytes"]:
            c["uftrace_bytes"] = summary(rw["uft_bytes"])
        out["cases"][name] = c
    out["elapsed_s"] = round(time.monotonic() - t_start, 1)

    os.makedirs(os.path.dirname(os.path.abspath(a.output)), exist_ok=True)
    with open(a.output, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")

    m = out["machine"]
    print(f"bench-walk: kernel {m['kernel']}, {m['cpus']} CPUs, {a.rounds} round(s), "
          f"alone/uftrace runs {a.seconds:g} s, walk --warmup {a.warmup:g} -d {a.walk_max:g}; medians")
    hdr = (f"{'case':8s} {'verdict':>7s} {'to verdict s':>12s} {'1st verdict wall s':>18s} {'exps':>4s} "
           f"{'walker cpu s':>12s} {'walk slowdown':>13s} {'uftrace slowdown':>16s} {'uftrace MB':>10s}")
    print(hdr)
    for name, c in out["cases"].items():
        w = c["walk"]
        ok = f"{sum(w['verdict_ok'])}/{len(w['verdict_ok'])}"
        us = c["slowdown"].get("uftrace", {}).get("median")
        ub = c.get("uftrace_bytes", {}).get("median")
        print(f"{name:8s} {ok:>7s} {fmt(w['seconds_to_verdict']['median'], '.2f'):>12s} "
              f"{fmt(w['first_verdict_wall_s']['median'], '.2f'):>18s} {fmt(w['experiments']['median'], '.0f'):>4s} "
              f"{fmt(w['walker_cpu_s']['median'], '.2f'):>12s} {fmt(c['slowdown']['walk']['median'], '.2f') + 'x':>13s} "
              f"{(fmt(us, '.2f') + 'x') if us else '-':>16s} {fmt(ub / 1e6 if ub else None, '.1f'):>10s}")
    k = out["uftrace"].get("kernel")
    if k is not None:
        print("uftrace -k:", "traced" if k["allowed"] else f"not allowed by this kernel ({k['reason']})")
    print(f"wrote {a.output} in {out['elapsed_s']} s")


if __name__ == "__main__":
    main()
