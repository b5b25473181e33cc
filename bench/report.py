#!/usr/bin/env python3
"""bench/report.py: turns the results of bench/run-core.sh into a table.

Reads $OUT/<runtime>.<program>.<run> files of `metric=value` lines and
$OUT/micro.json (Google Benchmark), prints a plain-text table, and, when
$WRITE_DOC is 1, replaces the measured section of $DOC (between the
`<!-- measured:begin -->` and `<!-- measured:end -->` markers) with a
Markdown version. Everything else in the document is left alone. Run by
run-core.sh, which exports the environment it needs.
"""
import json
import os
import re
import statistics
import sys

OUT = os.environ["OUT"]
env = os.environ.get
BEGIN, END = "<!-- measured:begin -->", "<!-- measured:end -->"
RUNTIMES = ["goro", "go", "thread", "fiber"]


def load(runtime, program):
    """Median of each metric over the runs, and the number of runs."""
    values = {}
    runs = 0
    for name in sorted(os.listdir(OUT)):
        m = re.fullmatch(rf"{runtime}\.{program}\.(\d+)", name)
        if not m:
            continue
        runs += 1
        with open(os.path.join(OUT, name)) as f:
            for line in f:
                if "=" in line:
                    k, v = line.strip().split("=", 1)
                    try:
                        values.setdefault(k, []).append(float(v))
                    except ValueError:
                        pass
    return {k: statistics.median(v) for k, v in values.items()}, runs


PROGRAMS = ("park", "spawn", "deep", "switch")
results = {(r, p): load(r, p) for r in RUNTIMES for p in PROGRAMS}


def get(runtime, program, metric):
    return results[(runtime, program)][0].get(metric)


def fmt(v, unit=""):
    if v is None:
        return "n/a"
    if abs(v) >= 100:
        s = f"{v:,.0f}"
    elif abs(v) >= 10:
        s = f"{v:.1f}"
    else:
        s = f"{v:.2f}"
    return s + unit


def ratio(a, b):
    if a is None or b is None or b == 0:
        return "n/a"
    return f"{a / b:.2f}"


N = {k: int(env(k, "0")) for k in ("PARK_N", "SPAWN_N", "DEEP_MB", "SWITCH_N", "THREAD_PARK_N",
                                   "THREAD_SPAWN_N", "FIBER_PARK_N", "FIBER_SPAWN_N")}

# (label, program, metric, unit). "CPU" rows are process CPU time (all
# threads): on a shared machine wall time includes waiting for a CPU.
ROWS = [
    ("bytes per parked goroutine (VmRSS+VmPTE)", "park", "bytes_per_goroutine", " B"),
    ("start a parked goroutine (spawn until all parked), wall", "park", "spawn_ns_per_goroutine", " ns"),
    ("start a parked goroutine, CPU", "park", "spawn_cpu_ns_per_goroutine", " ns"),
    ("wake and join a parked goroutine, wall", "park", "wake_join_ns_per_goroutine", " ns"),
    ("wake and join a parked goroutine, CPU", "park", "wake_join_cpu_ns_per_goroutine", " ns"),
    ("spawn+join one at a time, wall", "spawn", "spawn_join_one_ns", " ns"),
    ("spawn+join one at a time, CPU", "spawn", "spawn_join_one_cpu_ns", " ns"),
    ("spawn+join in batches of 64, per goroutine, wall", "spawn", "spawn_join_batch_ns", " ns"),
    ("spawn+join in batches of 64, per goroutine, CPU", "spawn", "spawn_join_batch_cpu_ns", " ns"),
    ("spawn+join all at once, per goroutine, wall", "spawn", "spawn_join_all_ns", " ns"),
    ("spawn+join all at once, per goroutine, CPU", "spawn", "spawn_join_all_cpu_ns", " ns"),
    ("switch between two goroutines (yield / Gosched), maxprocs 1, wall", "switch", "switch_ns", " ns"),
    ("switch between two goroutines, maxprocs 1, CPU", "switch", "switch_cpu_ns", " ns"),
    ("wait_group ping-pong round trip, maxprocs 1, wall", "switch", "pingpong_ns", " ns"),
    ("wait_group ping-pong round trip, maxprocs 1, CPU", "switch", "pingpong_cpu_ns", " ns"),
    (f"recursion {N['DEEP_MB']} MB deep, first run, per MB, wall", "deep", "first_ms_per_mb", " ms"),
    ("recursion, first run, per MB, CPU", "deep", "first_cpu_ms_per_mb", " ms"),
    ("same goroutine, second run, per MB, wall", "deep", "second_ms_per_mb", " ms"),
    ("same goroutine, second run, per MB, CPU", "deep", "second_cpu_ms_per_mb", " ms"),
    ("same goroutine after it parked once, per MB, wall", "deep", "after_park_ms_per_mb", " ms"),
    ("same goroutine after its stack was shrunk (regrows), per MB, CPU", "deep", "after_shrink_cpu_ms_per_mb",
     " ms"),
    ("growth per 4 KiB page ((first - second) / pages), wall", "deep", "growth_ns_per_page", " ns"),
    ("growth per 4 KiB page, CPU", "deep", "growth_cpu_ns_per_page", " ns"),
    ("first touch of a stack page, no recursion (alloca), wall", "deep", "first_touch_ns_per_page", " ns"),
    ("first touch of a stack page, no recursion (alloca), CPU", "deep", "first_touch_cpu_ns_per_page", " ns"),
    ("resident stacks before the recursion (stack_inuse; Go: StackInuse)", "deep", "resident_before_kb", " KiB"),
    ("resident stacks at the deepest point", "deep", "resident_peak_kb", " KiB"),
    ("resident stacks after it parked", "deep", "resident_after_park_kb", " KiB"),
    ("its own stack, resident before (mincore)", "deep", "own_resident_before_kb", " KiB"),
    ("its own stack, resident at the deepest point (mincore)", "deep", "own_resident_peak_kb", " KiB"),
    ("its own stack, resident after it parked (mincore)", "deep", "own_resident_after_park_kb", " KiB"),
]


def runs_note():
    parts = []
    for r in RUNTIMES:
        for p in PROGRAMS:
            n = results[(r, p)][1]
            if n:
                parts.append(f"{r} {p}: {n}")
    return ", ".join(parts)


def micro_rows():
    path = os.path.join(OUT, "micro.json")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        data = json.load(f)
    scale = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}
    rows = []
    for b in data.get("benchmarks", []):
        if b.get("run_type") == "aggregate" and b.get("aggregate_name") != "median":
            continue
        name = b["name"]
        for suffix in ("_median", "/real_time"):
            name = name.replace(suffix, "")
        unit = scale[b.get("time_unit", "ns")]
        per_iter = b["real_time"] * unit
        per_op = b.get("per_op")
        ops = per_iter / (per_op * 1e9) if per_op else 1.0
        # CPU time is the benchmark thread's: meaningful only with one
        # processor, where every goroutine runs on that thread.
        # blocking() moves work to another thread: excluded too.
        single = ("/mp:" not in name or "/mp:1" in name) and "Blocking" not in name
        cpu = b["cpu_time"] * unit / ops if single else None
        rows.append((name, per_iter, per_iter / ops, cpu))
    return rows


def text_table():
    lines = []
    head = f"{'metric':72} {'goro':>12} {'Go':>12} {'goro/Go':>8} {'thread':>12} {'fiber':>12}"
    lines.append(head)
    lines.append("-" * len(head))
    for label, prog, metric, unit in ROWS:
        g, o = get("goro", prog, metric), get("go", prog, metric)
        lines.append(f"{label[:72]:72} {fmt(g, unit):>12} {fmt(o, unit):>12} {ratio(g, o):>8} "
                     f"{fmt(get('thread', prog, metric), unit):>12} {fmt(get('fiber', prog, metric), unit):>12}")
    lines.append("")
    lines.append(f"{'microbenchmark (goro, median)':48} {'ns/iteration':>14} {'ns/op':>10} {'CPU ns/op':>10}")
    for name, it, op, cpu in micro_rows():
        lines.append(f"{name:48} {it:14.1f} {fmt(op):>10} {fmt(cpu):>10}")
    return "\n".join(lines)


def markdown():
    md = []
    md.append(f"Measured {env('DATE')} with `{env('COMMAND')}` (medians of {env('RUNS')} runs, "
              "runtimes alternating).\n")
    md.append(f"Machine: {env('MACHINE_NPROC')} vCPU ({env('MACHINE_CPU')}), {env('MACHINE_MEM')} RAM, "
              f"Linux {env('MACHINE_KERNEL')} (guards: {env('GUARD_KIND')}); {env('CXX_VERSION')}, "
              f"{env('GO_VERSION')}; load average before/after: {env('LOAD_BEFORE')} / {env('LOAD_AFTER')}.\n")
    md.append(f"Sizes: park and spawn N = {N['PARK_N']:,} / {N['SPAWN_N']:,} for goro and Go, "
              f"{N['THREAD_PARK_N']:,} / {N['THREAD_SPAWN_N']:,} for std::thread, "
              f"{N['FIBER_PARK_N']:,} / {N['FIBER_SPAWN_N']:,} for Boost.Fiber (one thread, default "
              f"fixedsize_stack); recursion {N['DEEP_MB']} MB with ~1 KiB frames; "
              f"{N['SWITCH_N']:,} yields per goroutine and {N['SWITCH_N'] // 10:,} ping-pong round trips. "
              "goro and Go use their defaults: all CPUs as processors, default stack limits.\n")
    md.append("| metric | goro | Go | goro / Go | std::thread | Boost.Fiber |")
    md.append("|---|--:|--:|--:|--:|--:|")
    for label, prog, metric, unit in ROWS:
        g, o = get("goro", prog, metric), get("go", prog, metric)
        md.append(f"| {label} | {fmt(g, unit)} | {fmt(o, unit)} | {ratio(g, o)} | "
                  f"{fmt(get('thread', prog, metric), unit)} | {fmt(get('fiber', prog, metric), unit)} |")
    md.append("")
    md.append(f"Runs that produced figures: {runs_note()}. goro / Go below 1 means goro is cheaper.\n")
    micro = micro_rows()
    if micro:
        md.append("Microbenchmarks (`micro_bench`, goro only, median of the repetitions; `mp:N` is the "
                  "processor count; ns/op divides an iteration by its operations: 2 switches per "
                  "ping-pong yield, 64 goroutines per batch; CPU is the benchmark thread's CPU time, "
                  "shown for one processor only, where all goroutines run on that thread):\n")
        md.append("| benchmark | ns / iteration (wall) | ns / op (wall) | ns / op (CPU) |")
        md.append("|---|--:|--:|--:|")
        for name, it, op, cpu in micro:
            md.append(f"| `{name}` | {it:.1f} | {fmt(op)} | {fmt(cpu)} |")
        md.append("")
    return "\n".join(md)


print(text_table())

if env("WRITE_DOC") == "1":
    doc = env("DOC")
    section = f"{BEGIN}\n{markdown()}\n{END}"
    if os.path.exists(doc):
        with open(doc) as f:
            text = f.read()
        if BEGIN in text and END in text:
            text = text[:text.index(BEGIN)] + section + text[text.index(END) + len(END):]
        else:
            text = text.rstrip("\n") + "\n\n## Measured figures\n\n" + section + "\n"
    else:
        text = "# goro performance\n\n## Measured figures\n\n" + section + "\n"
    with open(doc, "w") as f:
        f.write(text)
    print(f"wrote {doc}", file=sys.stderr)
