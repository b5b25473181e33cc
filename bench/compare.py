#!/usr/bin/env python3
"""bench/compare.py: the runner and the report behind bench/compare.

bench/compare installs the packages and builds; this file does the rest:

  run      every whole program for goro and each peer (Go, Boost.Fiber,
           std::thread), RUNS rounds; within a round every program runs once
           per runtime and the runtime that goes first rotates from round to
           round, so slow drifts of a shared machine's load hit all runtimes
           alike. Each run is killed after TIMEOUT seconds. Then micro_bench
           (Google Benchmark, RUNS repetitions) and, unless --no-net, the
           echo/HTTP comparison of bench/net/run.sh.
  report   medians of the runs -> docs/BENCHMARKS.md and the charts in
           docs/img/ (gnuplot, SVG). `report` alone redraws from the saved
           results without running anything.
  net      runs bench/net/run.sh again into the saved results, then reports.

Every program prints `metric=value` lines (bench/bench_util.hpp and the Go
peers' common.go). Times are taken both as wall clock and as process CPU
time (all threads, user + system); the document quotes CPU time, because on
a machine shared with other work the wall clock includes waiting for a CPU.
"""
import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time

RUNTIMES = ["goro", "go", "fiber", "thread"]
NAMES = {"goro": "goro", "go": "Go", "fiber": "Boost.Fiber", "thread": "std::thread"}

# Sizes of each program per runtime. A million OS threads or a million
# Boost.Fiber stacks alive at once do not fit a machine, so those peers run
# smaller and the per-task figures are the ones to compare.
FULL = {
    "park": {"goro": 1000000, "go": 1000000, "fiber": 50000, "thread": 10000},
    "spawn": {"goro": 1000000, "go": 1000000, "fiber": 200000, "thread": 20000},
    "skynet": {"goro": 1000000, "go": 1000000, "fiber": 100000, "thread": 10000},
    "switch": {"goro": 10000000, "go": 10000000, "fiber": 10000000},
    "pingpong": {"goro": 2000000, "go": 2000000, "fiber": 2000000, "thread": 50000},
    "buffered": {"goro": 10000000, "go": 10000000},
    "select": {"goro": 2000000, "go": 2000000},
    "timer": {"goro": 2000000, "go": 2000000},
}
QUICK = {
    "park": {"goro": 10000, "go": 10000, "fiber": 1000, "thread": 500},
    "spawn": {"goro": 10000, "go": 10000, "fiber": 1000, "thread": 500},
    "skynet": {"goro": 10000, "go": 10000, "fiber": 1000, "thread": 1000},
    "switch": {"goro": 100000, "go": 100000, "fiber": 100000},
    "pingpong": {"goro": 20000, "go": 20000, "fiber": 20000, "thread": 2000},
    "buffered": {"goro": 100000, "go": 100000},
    "select": {"goro": 20000, "go": 20000},
    "timer": {"goro": 20000, "go": 20000},
}
DEPTHS_FULL = [1, 4, 16, 64]  # MB of recursion (bench_deep and peers)
DEPTHS_QUICK = [1, 4]
DEEP_MAIN = {True: 4, False: 64}  # the depth quoted in the main table


class Job:
    """One program of one runtime, with its arguments and environment."""

    def __init__(self, key, runtime, argv, env=None):
        self.key, self.runtime, self.argv, self.env = key, runtime, argv, env or {}


def programs(a):
    """Where each runtime's version of each program is (None: no such peer)."""
    b, g = os.path.join(a.build, "bench"), os.path.join(a.build, "compare-go")
    return {
        "park": {"goro": f"{b}/bench_park", "go": f"{g}/park", "fiber": f"{b}/fiber_park", "thread": f"{b}/thread_park"},
        "spawn": {"goro": f"{b}/bench_spawn", "go": f"{g}/spawn", "fiber": f"{b}/fiber_spawn",
                  "thread": f"{b}/thread_spawn"},
        "skynet": {"goro": f"{b}/bench_skynet", "go": f"{g}/skynet", "fiber": f"{b}/fiber_skynet",
                   "thread": f"{b}/thread_skynet"},
        "deep": {"goro": f"{b}/bench_deep", "go": f"{g}/deep", "fiber": f"{b}/fiber_deep", "thread": f"{b}/thread_deep"},
        "switch": {"goro": f"{b}/bench_switch", "go": f"{g}/switch", "fiber": f"{b}/fiber_switch"},
        "pingpong": {"goro": f"{b}/chan/chan_pingpong", "go": f"{g}/pingpong", "fiber": f"{b}/fiber_pingpong",
                     "thread": f"{b}/thread_pingpong"},
        "buffered": {"goro": f"{b}/chan/chan_buffered", "go": f"{g}/buffered"},
        "select": {"goro": f"{b}/chan/chan_select", "go": f"{g}/select"},
        "timer": {"goro": f"{b}/chan/chan_timer", "go": f"{g}/timer"},
    }


def jobs(a):
    """Every measurement of one round, grouped by key: [(key, [Job...])]."""
    sizes = QUICK if a.quick else FULL
    exe = programs(a)
    out = []

    def add(key, prog, size_of, env=None, runtimes=RUNTIMES):
        group = []
        for rt in runtimes:
            path = exe[prog].get(rt)
            size = size_of(rt)
            if path is None or size is None:
                continue
            group.append(Job(key, rt, [path, str(size)], env))
        out.append((key, group))

    for prog in ("park", "spawn", "skynet"):
        add(prog, prog, lambda rt, p=prog: sizes[p].get(rt))
    for mb in (DEPTHS_QUICK if a.quick else DEPTHS_FULL):
        add(f"deep@{mb}", "deep", lambda rt, mb=mb: mb)
    add("switch", "switch", lambda rt: sizes["switch"].get(rt))
    # Channels with 1 and 2 processors (GORO_MAXPROCS / GOMAXPROCS). The
    # fiber peer always runs on one thread, the thread peer on two.
    for procs in (1, 2):
        env = {"GORO_MAXPROCS": str(procs), "GOMAXPROCS": str(procs)}
        peers = ["goro", "go", "fiber" if procs == 1 else "thread"]
        add(f"pingpong@{procs}", "pingpong", lambda rt: sizes["pingpong"].get(rt), env, peers)
        for prog in ("buffered", "select", "timer"):
            add(f"{prog}@{procs}", prog, lambda rt, p=prog: sizes[p].get(rt), env, ["goro", "go"])
    return out


def parse_metrics(text):
    values = {}
    for line in text.splitlines():
        k, sep, v = line.strip().partition("=")
        if sep:
            try:
                values[k] = float(v)
            except ValueError:
                pass
    return values


def run_one(job, timeout, log):
    env = {k: v for k, v in os.environ.items() if k not in ("GORO_MAXPROCS", "GOMAXPROCS")}
    env.update(job.env)
    t0 = time.time()
    try:
        p = subprocess.run(job.argv, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        log(f"   {job.runtime} {job.key}: killed after {timeout} s")
        return None, f"timeout after {timeout} s"
    dt = time.time() - t0
    if p.returncode != 0:
        tail = " / ".join(p.stderr.strip().splitlines()[-3:])
        log(f"   {job.runtime} {job.key}: status {p.returncode}: {tail}")
        return None, f"status {p.returncode}"
    log(f"   {job.runtime:6} {job.key:12} {dt:6.1f} s")
    return parse_metrics(p.stdout), None


# Before each run of the park programs (a million stacks started at once,
# gigabytes of fresh pages), the same amount of memory is touched and freed
# by bench_fresh_slots, so that every runtime finds the machine's free memory
# in the same state. On a VM that gives idle guest memory back to its host, a
# first touch of memory left idle measured 5 to 13 us per page against 2 us
# for memory freed a moment before (bench_fresh_slots run twice in a row
# after 30 s idle); without the warm-up, whichever program ran first paid
# for the others.
WARM_BEFORE = ("park",)
WARM_SLOTS = {True: 100000, False: 1300000}


def warm_memory(a):
    exe = os.path.join(a.build, "bench", "bench_fresh_slots")
    if os.access(exe, os.X_OK):
        subprocess.run([exe, str(WARM_SLOTS[a.quick])], capture_output=True, timeout=a.timeout)


def run_all(a, log):
    results = {"runs": {}, "failures": {}, "seconds": {}}
    groups = jobs(a)
    for r in range(a.runs):
        log(f"== round {r + 1} of {a.runs}")
        for key, group in groups:
            # Rotate which runtime goes first, round by round.
            order = group[r % len(group):] + group[:r % len(group)] if group else []
            for job in order:
                if not os.access(job.argv[0], os.X_OK):
                    results["failures"].setdefault(f"{job.runtime}.{key}", "not built")
                    continue
                if key in WARM_BEFORE:
                    warm_memory(a)
                t0 = time.time()
                metrics, err = run_one(job, a.timeout, log)
                name = f"{job.runtime}.{key}"
                results["seconds"].setdefault(name, []).append(round(time.time() - t0, 2))
                if metrics is None:
                    results["failures"][name] = err
                else:
                    results["runs"].setdefault(name, []).append(metrics)
    results["micro"] = run_micro(a, log)
    results["net"] = run_net(a, log) if not a.no_net else None
    return results


def run_micro(a, log):
    """micro_bench, one benchmark per process, each killed after TIMEOUT
    seconds: a benchmark that hangs (a scheduler bug, say) costs its own row,
    not the table. Returns Google Benchmark's JSON with every benchmark
    merged, and the names of those that failed."""
    exe = os.path.join(a.build, "bench", "micro_bench")
    if not os.access(exe, os.X_OK):
        return None
    log("== micro_bench")
    # BM_BlockingBusy measures the kernel's scheduling delay on a loaded
    # machine more than goro (PERFORMANCE.md); it is left out here.
    listed = subprocess.run([exe, "--benchmark_list_tests=true", "--benchmark_filter=-BM_BlockingBusy"],
                            capture_output=True, text=True, timeout=60)
    names = [n.strip() for n in listed.stdout.splitlines() if n.strip()]
    merged, failed = None, []
    for name in names:
        argv = [exe, f"--benchmark_min_time={0.01 if a.quick else 0.2}", f"--benchmark_repetitions={a.runs}",
                "--benchmark_report_aggregates_only=true", "--benchmark_format=json",
                f"--benchmark_filter=^{re.escape(name)}$"]
        try:
            p = subprocess.run(argv, capture_output=True, text=True, timeout=a.timeout)
        except subprocess.TimeoutExpired:
            log(f"   {name}: killed after {a.timeout} s")
            failed.append(f"{name} (killed after {a.timeout} s)")
            continue
        if p.returncode != 0:
            log(f"   {name}: status {p.returncode}")
            failed.append(f"{name} (status {p.returncode})")
            continue
        data = json.loads(p.stdout)
        if merged is None:
            merged = data
        else:
            merged["benchmarks"] += data.get("benchmarks", [])
    if merged is not None:
        merged["failed"] = failed
    return merged


def run_net(a, log):
    script = os.path.join(a.root, "bench", "net", "run.sh")
    if not os.access(script, os.X_OK):
        return None
    log("== bench/net/run.sh (echo and HTTP servers, goro and Go)")
    env = dict(os.environ, BUILD_DIR=a.build, GO=a.go)
    argv = [script]
    if a.quick:
        argv.append("--quick")
    else:
        env.update(RUNS="3", SECS="3", IDLE_CONNS="5000")
    try:
        p = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=900)
    except subprocess.TimeoutExpired:
        log("   bench/net/run.sh: timed out")
        return {"error": "timed out", "table": []}
    tail = p.stdout.split("== medians", 1)
    table = [line for line in tail[1].splitlines() if line.startswith("|")] if len(tail) == 2 else []
    if p.returncode != 0 or not table:
        log(f"   bench/net/run.sh: status {p.returncode}: {p.stderr[-300:]}")
    return {"command": " ".join(["bench/net/run.sh"] + argv[1:]),
            "env": "" if a.quick else "RUNS=3 SECS=3 IDLE_CONNS=5000",
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "status": p.returncode, "table": table, "log": p.stdout[-4000:]}


# ---------------------------------------------------------------------------
# The report.

def medians(results):
    med = {}
    for name, runs in results["runs"].items():
        keys = {k for r in runs for k in r}
        med[name] = {k: statistics.median([r[k] for r in runs if k in r]) for k in keys}
        med[name]["_runs"] = len(runs)
    # Derived: skynet's peak resident set per task.
    for rt in RUNTIMES:
        m = med.get(f"{rt}.skynet")
        if m and m.get("goroutines") and "peak_rss_kb" in m:
            m["rss_bytes_per_task"] = m["peak_rss_kb"] * 1024 / m["goroutines"]
    return med


def fmt(v, unit=""):
    if v is None:
        return "n/a"
    if abs(v) >= 100:
        s = f"{v:,.0f}"
    elif abs(v) >= 10:
        s = f"{v:.1f}"
    elif abs(v) >= 1 or v == 0:
        s = f"{v:.2f}"
    else:
        s = f"{v:.2g}"
    return s + unit


# Main table rows: (label, key, CPU metric, wall metric, unit, why goro is
# behind when it is). Memory rows have no wall metric.
BEHIND_START = ("every never-used stack slot costs a page fault on its top page (4 KiB to clear, plus a share of a "
                "page-table page) and its guard a share of one `process_madvise` per 64 slots; `bench_fresh_slots` "
                "measures those two kernel costs alone, with no runtime around them: 2.2 to 3.0 us per slot "
                "(0.6 to 0.7 us guard, 1.6 to 2.3 us fault) with warm memory on the machine of 2026-12-03 (kernel "
                "6.18.44-fc-v1098), and 12 us (0.9 us guard, 11 us fault) on that of 2026-12-04 (fc-v1252), where "
                "Go's page faults are as slow. Go has no guard pages "
                "(its compiler checks the stack bound in every function prologue) and carves 2 KiB stacks, two per "
                "page, out of heap spans; C++ code has no such check, so goro needs the guard and a page of its own "
                "per stack, and a fresh goroutine cannot cost less than that floor")
BEHIND_EXIT = ("exits make no system call since stacks are returned lazily (PERFORMANCE.md, \"Stack memory after a "
               "burst\"). On the machine of 2026-12-03 (kernel 6.18.44-fc-v1098) this row measured 0.57x Go. On that of "
               "2026-12-04 (fc-v1252), whose hypervisor shadows guest page tables (PVM), waking a parked goroutine "
               "visits its record on its stack's top page, and that visit is cheap only while the hypervisor keeps "
               "a shadow of the page's page tables. The row measured 12.6x Go there until fresh slots' top pages "
               "were faulted in 64 per call beside their guards, 3.96x until arenas past a class's first 8 GiB "
               "became 1 GiB arenas guarded whole when mapped, so that no guard batch rewrites a page directory "
               "under running goroutines, and exits sampled their spawn site's depth less often (a 22-38 us "
               "`mincore` there; ARCHITECTURE.md, \"At scale, arenas are 1 GiB and guarded whole\"). What remains: "
               "a million 224 KiB slots need 111,000 page-table pages, near that hypervisor's default shadow "
               "budget, so many visits still take a hypervisor fault; with `max_stack` at 48 KiB (64 KiB slots) "
               "the row measured 1.1 us before those two changes, Go's 2 KiB stacks need about 1,300 such pages")
BEHIND_PARK = ("a spawning loop yields whenever its processor's run queue fills (ARCHITECTURE.md, \"A spawn that "
               "fills its processor's queue yields the spawner\"), so a few hundred children wait at most, but each "
               "child that cannot reuse a free stack pays for a fresh one: " + BEHIND_START)
ROWS = [
    ("bytes per parked task (VmRSS + VmPTE delta / N)", "park", "bytes_per_goroutine", None, " B",
     "a goroutine keeps one resident 4 KiB page plus the page-table share of its 224 KiB slot; Go's "
     "stacks start at 2 KiB, which page-granular stacks that never move cannot match"),
    ("skynet peak resident set per task (VmHWM / all tasks of the tree)", "skynet", "rss_bytes_per_task", None,
     " B", "each live goroutine holds at least one resident 4 KiB stack page, Go's a 2 KiB stack (not every "
     "task of the tree is alive at the peak, so this figure also depends on how many are)"),
    ("start a parked task (spawn until all N are parked)", "park", "spawn_cpu_ns_per_goroutine",
     "spawn_ns_per_goroutine", " ns", BEHIND_START),
    ("wake and join a parked task", "park", "wake_join_cpu_ns_per_goroutine", "wake_join_ns_per_goroutine", " ns",
     BEHIND_EXIT),
    ("spawn+join, one at a time", "spawn", "spawn_join_one_cpu_ns", "spawn_join_one_ns", " ns", None),
    ("spawn+join, batches of 64, per task", "spawn", "spawn_join_batch_cpu_ns", "spawn_join_batch_ns", " ns", None),
    ("spawn+join, all N at once, per task", "spawn", "spawn_join_all_cpu_ns", "spawn_join_all_ns", " ns", BEHIND_PARK),
    ("skynet, per task (spawn, send on an unbuffered channel, exit)", "skynet", "cpu_ns_per_goroutine",
     "ns_per_goroutine", " ns", "a million goroutines started and exited in bulk pay the costs of the park "
     "rows: " + BEHIND_PARK),
    ("switch: two tasks yielding to each other, 1 processor", "switch", "switch_cpu_ns", "switch_ns", " ns", None),
    ("ping-pong round trip over wait_groups, 1 processor (fiber: condition variable)", "switch", "pingpong_cpu_ns",
     "pingpong_ns", " ns", None),
    ("ping-pong round trip over two mutexes, 1 processor", "switch", "mutex_pingpong_cpu_ns",
     "mutex_pingpong_ns", " ns", None),
    ("unbuffered channel ping-pong round trip, 1 processor (fiber: one thread)", "pingpong@1", "pingpong_rt_cpu_ns",
     "pingpong_rt_ns", " ns", "both switch straight to the partner; what is left is the channel path "
     "itself: a spin lock per operation, a pooled wait record, the run queue's atomics (ARCHITECTURE.md, "
     "known gaps)"),
    ("unbuffered channel ping-pong round trip, 2 processors (thread: two threads)", "pingpong@2",
     "pingpong_rt_cpu_ns", "pingpong_rt_ns", " ns", "the pair stays on one processor and wakes no idle "
     "worker once its handoffs are direct (ARCHITECTURE.md, direct handoff)"),
    ("recursion {deep} MB deep, first run (stack grows), per MB", "deep@{deep}", "first_cpu_ms_per_mb",
     "first_ms_per_mb", " ms", None),
    ("same task, second run (pages already there), per MB", "deep@{deep}", "second_cpu_ms_per_mb",
     "second_ms_per_mb", " ms", None),
    ("growth per 4 KiB page: (first - second) / pages", "deep@{deep}", "growth_cpu_ns_per_page",
     "growth_ns_per_page", " ns", None),
    ("same goroutine after it parked once, per MB (wall)", "deep@{deep}", "after_park_ms_per_mb",
     "after_park_ms_per_mb", " ms", "a goroutine parked only briefly keeps its pages (the shrink waits "
     "until it has stayed parked 20 ms), so this row is the resident run again; if it is behind, "
     "the shrink came early (ARCHITECTURE.md, \"Shrink\")"),
    ("same goroutine after its stack was shrunk (it regrows), per MB", "deep@{deep}",
     "after_shrink_cpu_ms_per_mb", "after_shrink_ms_per_mb", " ms", "goro faults the given-back pages in "
     "again, one at a time; Go copies the stack at each doubling, from the size its collections shrank it "
     "to"),
]


def row_values(med, key, metric):
    return {rt: med.get(f"{rt}.{key}", {}).get(metric) for rt in RUNTIMES}


def ratio(a, b):
    return None if a is None or not b else a / b


def sizes_text(a, med):
    sizes = QUICK if a.quick else FULL
    lines = []
    for prog, label in (("park", "park N"), ("spawn", "spawn N"), ("skynet", "skynet leaves"),
                        ("switch", "switch yields per task (ping-pong: a tenth as many round trips)"),
                        ("pingpong", "channel ping-pong round trips")):
        per = ", ".join(f"{NAMES[rt]} {n:,}" for rt, n in sizes[prog].items())
        lines.append(f"- {label}: {per}")
    depths = DEPTHS_QUICK if a.quick else DEPTHS_FULL
    lines.append(f"- recursion depths: {', '.join(str(d) for d in depths)} MB, ~1 KiB frames "
                 "(bench/recursion.hpp, the same frames for goro, Boost.Fiber and std::thread)")
    return "\n".join(lines)


def main_table(a, med, metric_index):
    deep = DEEP_MAIN[a.quick]
    out = ["| figure | goro | Go | goro / Go | Boost.Fiber | std::thread |", "|---|--:|--:|--:|--:|--:|"]
    for label, key, cpu_m, wall_m, unit, _ in ROWS:
        metric = (cpu_m, wall_m)[metric_index] if wall_m else cpu_m
        key, label = key.format(deep=deep), label.format(deep=deep)
        v = row_values(med, key, metric)
        r = ratio(v["goro"], v["go"])
        out.append(f"| {label} | {fmt(v['goro'], unit)} | {fmt(v['go'], unit)} | "
                   f"{'n/a' if r is None else f'{r:.2f}'} | {fmt(v['fiber'], unit)} | {fmt(v['thread'], unit)} |")
    return "\n".join(out)


def behind_list(a, med):
    """Every main-table figure where goro costs more than a peer, by how much."""
    deep = DEEP_MAIN[a.quick]
    items = []
    for label, key, cpu_m, _, unit, why in ROWS:
        key, label = key.format(deep=deep), label.format(deep=deep)
        v = row_values(med, key, cpu_m)
        g = v["goro"]
        if g is None:
            continue
        worse = [(rt, v[rt]) for rt in ("go", "fiber", "thread") if v[rt] and g > 1.05 * v[rt]]
        if not worse:
            continue
        parts = ", ".join(f"{g / x:.2f}x {NAMES[rt]} ({fmt(g, unit)} against {fmt(x, unit)})" for rt, x in worse)
        text = f"- **{label}**: {parts}."
        text += f" Why: {why}." if why else " Why: not investigated yet."
        items.append(text)
    return "\n".join(items) if items else "- nowhere in this run."


def ahead_list(a, med):
    deep = DEEP_MAIN[a.quick]
    items = []
    for label, key, cpu_m, _, unit, _ in ROWS:
        key, label = key.format(deep=deep), label.format(deep=deep)
        v = row_values(med, key, cpu_m)
        r = ratio(v["goro"], v["go"])
        if r is not None and r < 0.95:
            items.append(f"{label} ({r:.2f}x Go)")
    return "; ".join(items) if items else "none"


def channel_table(med):
    out = ["| benchmark | procs | goro CPU | Go CPU | goro / Go CPU | goro wall | Go wall | goro / Go wall |",
           "|---|--:|--:|--:|--:|--:|--:|--:|"]
    for prog in ("pingpong", "buffered", "select", "timer"):
        for procs in (1, 2):
            g, o = med.get(f"goro.{prog}@{procs}", {}), med.get(f"go.{prog}@{procs}", {})
            for k in sorted(g):
                if not k.endswith("_cpu_ns"):
                    continue
                w = k[:-len("_cpu_ns")] + "_ns"
                rc, rw = ratio(g.get(k), o.get(k)), ratio(g.get(w), o.get(w))
                out.append(f"| {k[:-len('_cpu_ns')]} | {procs} | {fmt(g.get(k), ' ns')} | {fmt(o.get(k), ' ns')} | "
                           f"{'n/a' if rc is None else f'{rc:.2f}'} | {fmt(g.get(w), ' ns')} | {fmt(o.get(w), ' ns')} | "
                           f"{'n/a' if rw is None else f'{rw:.2f}'} |")
    return "\n".join(out)


def channel_behind(med):
    """Channel, select and timer figures where goro costs more CPU than Go."""
    items = []
    for prog in ("pingpong", "buffered", "select", "timer"):
        for procs in (1, 2):
            g, o = med.get(f"goro.{prog}@{procs}", {}), med.get(f"go.{prog}@{procs}", {})
            for k in sorted(g):
                r = ratio(g.get(k), o.get(k)) if k.endswith("_cpu_ns") else None
                if r is not None and r > 1.05:
                    items.append(f"`{k[:-len('_cpu_ns')]}` with {procs} processor{'s' if procs > 1 else ''} "
                                 f"{r:.2f}x ({fmt(g[k], ' ns')} against {fmt(o[k], ' ns')})")
    return "; ".join(items) if items else "none"


def net_behind(table):
    """Rows of bench/net/run.sh's table where goro is behind Go by more than 5%:
    fewer requests per second, or more latency or CPU per request."""
    items = []
    for line in table[2:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) != 6 or cells[2] == "total_kb":
            continue
        try:
            r = float(cells[5])
        except ValueError:
            continue
        higher_is_better = cells[2] == "rps"
        if (higher_is_better and r < 0.95) or (not higher_is_better and r > 1.05):
            items.append(f"{cells[0]} with {cells[1]} connections, {cells[2]} {r:.2f}x")
    return "; ".join(items) if items else "none"


def deep_table(a, med):
    depths = DEPTHS_QUICK if a.quick else DEPTHS_FULL
    head = "| depth | " + " | ".join(f"{NAMES[rt]} first | {NAMES[rt]} second" for rt in RUNTIMES) + " |"
    out = [head, "|--:|" + "--:|" * (2 * len(RUNTIMES))]
    for mb in depths:
        cells = []
        for rt in RUNTIMES:
            m = med.get(f"{rt}.deep@{mb}", {})
            f, s = m.get("first_cpu_ms_per_mb"), m.get("second_cpu_ms_per_mb")
            cells += [fmt(None if f is None else f * mb, " ms"), fmt(None if s is None else s * mb, " ms")]
        out.append(f"| {mb} MB | " + " | ".join(cells) + " |")
    return "\n".join(out)


def micro_failed(micro):
    """A paragraph on microbenchmarks that did not finish, or nothing."""
    failed = (micro or {}).get("failed") or []
    if not failed:
        return ""
    return ("**Microbenchmarks that did not finish** (each runs in its own process, killed after the "
            f"timeout; a hang here is a bug to find): {', '.join(f'`{n}`' for n in failed)}.\n\n")


def micro_table(micro):
    if not micro:
        return "micro_bench did not run (is libbenchmark-dev installed?)."
    scale = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}
    out = ["| benchmark | ns / iteration (wall) | ns / op (wall) | ns / op (CPU, 1 processor) |", "|---|--:|--:|--:|"]
    for b in micro.get("benchmarks", []):
        if b.get("run_type") == "aggregate" and b.get("aggregate_name") != "median":
            continue
        name = b["name"].replace("_median", "").replace("/real_time", "")
        unit = scale[b.get("time_unit", "ns")]
        per_iter = b["real_time"] * unit
        per_op = b.get("per_op")
        ops = per_iter / (per_op * 1e9) if per_op else 1.0
        single = ("/mp:" not in name or "/mp:1" in name) and "Blocking" not in name
        cpu = b["cpu_time"] * unit / ops if single else None
        out.append(f"| `{name}` | {per_iter:,.1f} | {fmt(per_iter / ops)} | {fmt(cpu)} |")
    for name in micro.get("failed", []):
        out.append(f"| `{name}` | failed | | |")
    return "\n".join(out)


# ---------------------------------------------------------------------------
# Charts (gnuplot, SVG).

GNUPLOT_HEAD = """set terminal svg size 860,{h} dynamic enhanced font "sans,12" background rgb "white"
set output "{out}"
set datafile missing "NaN"
set border 3
set xtics nomirror
set ytics nomirror
set grid ytics lc rgb "#dddddd"
set key top left
"""


def bar_chart(svg, data, title, ylabel, categories, series, log=False):
    """Clustered bars: one cluster per category, one bar per runtime."""
    with open(data, "w") as f:
        f.write("# category " + " ".join(NAMES[rt].replace(" ", "_") for rt in series) + "\n")
        for cat, vals in categories:
            f.write(f'"{cat}" ' + " ".join("NaN" if vals.get(rt) is None else f"{vals[rt]:.6g}" for rt in series) + "\n")
    colors = {"goro": "#1f77b4", "go": "#2ca02c", "fiber": "#ff7f0e", "thread": "#d62728"}
    plots = ", ".join(f'"{data}" using {i + 2}:xtic(1) title "{NAMES[rt]}" lc rgb "{colors[rt]}"'
                      for i, rt in enumerate(series))
    script = GNUPLOT_HEAD.format(h=500, out=svg) + f"""set title "{title}"
set ylabel "{ylabel}"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set yrange [{'1' if log else '0'}:*]
{'set logscale y' if log else ''}
set xrange [-0.6:{len(categories) - 0.4}]
set xtics rotate by 20 right
set lmargin 16
set key outside top center horizontal
plot {plots}
"""
    return script


def growth_chart(svg, data, depths, med):
    with open(data, "w") as f:
        f.write("# mb " + " ".join(f"{rt}_first {rt}_second" for rt in RUNTIMES) + "\n")
        for mb in depths:
            cells = []
            for rt in RUNTIMES:
                m = med.get(f"{rt}.deep@{mb}", {})
                for k in ("first_cpu_ms_per_mb", "second_cpu_ms_per_mb"):
                    cells.append("NaN" if m.get(k) is None else f"{m[k] * mb:.6g}")
            f.write(f"{mb} " + " ".join(cells) + "\n")
    colors = {"goro": "#1f77b4", "go": "#2ca02c", "fiber": "#ff7f0e", "thread": "#d62728"}
    plots = []
    for i, rt in enumerate(RUNTIMES):
        what = "grows" if rt in ("goro", "go") else "fresh pages"
        plots.append(f'"{data}" using 1:{2 + 2 * i} with linespoints lw 2 pt 7 lc rgb "{colors[rt]}" '
                     f'title "{NAMES[rt]}, first run ({what})"')
    plots.append(f'"{data}" using 1:3 with linespoints lw 1 dt 2 pt 6 lc rgb "{colors["goro"]}" '
                 'title "goro, second run (pages kept)"')
    plots.append(f'"{data}" using 1:5 with linespoints lw 1 dt 2 pt 6 lc rgb "{colors["go"]}" '
                 'title "Go, second run"')
    return GNUPLOT_HEAD.format(h=460, out=svg).replace("svg size 860", "svg size 1000") + f"""set title "Recursion D MB deep in one task: CPU time of the run (log-log)"
set xlabel "depth D (MB of stack)"
set ylabel "CPU time, ms"
set logscale xy
set xrange [{depths[0] * 0.8}:{depths[-1] * 1.25}]
set key outside right top vertical
set xtics ({", ".join(f'"{d}" {d}' for d in depths)})
plot {", ".join(plots)}
"""


def draw_charts(a, med, img_dir, work):
    """Writes the SVGs; returns their names (relative to docs/), or []."""
    gnuplot = shutil.which("gnuplot")
    if not gnuplot:
        return []
    os.makedirs(img_dir, exist_ok=True)
    os.makedirs(work, exist_ok=True)
    charts = []

    def paths(name):
        return os.path.join(img_dir, name + ".svg"), os.path.join(work, name + ".dat")

    def emit(name, script):
        svg = os.path.join(img_dir, name)
        gp = os.path.join(work, name + ".gp")
        with open(gp, "w") as f:
            f.write(script)
        p = subprocess.run([gnuplot, gp], capture_output=True, text=True)
        if p.returncode == 0 and os.path.exists(svg):
            # Absolute paths of the build machine do not belong in the document.
            with open(svg) as f:
                text = f.read()
            with open(svg, "w") as f:
                f.write(text.replace(work + "/", ""))
            charts.append(name)
        else:
            print(f"compare: gnuplot failed for {name}: {p.stderr[-400:]}", file=sys.stderr)

    bytes_cats = [("parked task", row_values(med, "park", "bytes_per_goroutine")),
                  ("skynet, peak per task", row_values(med, "skynet", "rss_bytes_per_task"))]
    emit("bytes_per_task.svg", bar_chart(*paths("bytes_per_task"),
                                         "Memory per task: VmRSS + VmPTE per parked task, peak RSS per skynet task",
                                         "bytes per task", bytes_cats, RUNTIMES))
    time_cats = [("spawn+join, one at a time", row_values(med, "spawn", "spawn_join_one_cpu_ns")),
                 ("spawn+join, all N at once", row_values(med, "spawn", "spawn_join_all_cpu_ns")),
                 ("start a parked task", row_values(med, "park", "spawn_cpu_ns_per_goroutine")),
                 ("skynet per task", row_values(med, "skynet", "cpu_ns_per_goroutine")),
                 ("channel ping-pong, 1 proc", row_values(med, "pingpong@1", "pingpong_rt_cpu_ns")),
                 ("channel ping-pong, 2 procs", row_values(med, "pingpong@2", "pingpong_rt_cpu_ns")),
                 ("yield (switch), 1 proc", row_values(med, "switch", "switch_cpu_ns"))]
    emit("spawn_pingpong.svg", bar_chart(*paths("spawn_pingpong"),
                                         "Spawn and ping-pong: CPU time per operation (log scale; lower is better)",
                                         "ns of CPU time", time_cats, RUNTIMES, log=True))
    emit("growth.svg", growth_chart(*paths("growth"), DEPTHS_QUICK if a.quick else DEPTHS_FULL, med))
    return charts


def machine():
    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_kb = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    return {"cpu": cpu, "cores": os.cpu_count(), "kernel": platform.release(),
            "mem": f"{mem_kb / 1048576:.1f} GiB", "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}


def cmd_version(argv):
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        return (p.stdout or p.stderr).strip().splitlines()[0]
    except (OSError, subprocess.SubprocessError, IndexError):
        return "unknown"


def versions(a):
    cxx = "c++"
    cache = os.path.join(a.build, "CMakeCache.txt")
    if os.path.exists(cache):
        for line in open(cache):
            if line.startswith("CMAKE_CXX_COMPILER:"):
                cxx = line.split("=", 1)[1].strip()
    boost = "not found"
    if os.path.exists("/usr/include/boost/version.hpp"):
        m = re.search(r'BOOST_LIB_VERSION "([^"]+)"', open("/usr/include/boost/version.hpp").read())
        boost = m.group(1).replace("_", ".") if m else boost
    gbench = cmd_version(["dpkg-query", "-W", "-f=${Version}", "libbenchmark-dev"])
    # The goro that was measured: the commit, and whether the library's
    # sources differed from it (a shared checkout may hold others' edits).
    commit = cmd_version(["git", "-C", a.root, "rev-parse", "--short", "HEAD"])
    try:
        dirty = subprocess.run(["git", "-C", a.root, "status", "--porcelain", "--", "src", "include"],
                               capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        dirty = ""
    goro = f"goro {commit}" + (" with uncommitted changes to src/ or include/" if dirty else "")
    return {"goro": goro, "cxx": cmd_version([cxx, "--version"]), "go": cmd_version([a.go, "version"]) if a.go else "not found",
            "boost": boost, "benchmark": gbench, "gnuplot": cmd_version(["gnuplot", "--version"]),
            "kernel_guard": "MADV_GUARD_INSTALL" if tuple(int(x) for x in re.findall(r"\d+", platform.release())[:2]) >= (6, 13)
            else "mprotect"}


def write_doc(a, results, charts):
    med = medians(results)
    m, v = results["machine"], results["versions"]
    deep = DEEP_MAIN[a.quick]
    counts = {n["_runs"] for n in med.values()}
    if len(counts) == 1:
        runs_note = f"{counts.pop()} for each of the {len(med)} program and runtime pairs"
    else:
        runs_note = ", ".join(f"{name}: {n['_runs']}" for name, n in sorted(med.items()))
    secs = results.get("seconds", {})
    longest = max(((max(v), k) for k, v in secs.items() if v), default=(0, "none"))
    failures = results.get("failures", {})
    fail_text = ("; ".join(f"{k}: {e}" for k, e in sorted(failures.items()))) if failures else "none"
    chart_md = "\n\n".join(f"![{c[:-4].replace('_', ' ')}](img/{c})" for c in charts) or \
        "(gnuplot was not installed: no charts)"
    net = results.get("net")
    if net and net.get("table"):
        net_md = (f"From `{(net['env'] + ' ') if net['env'] else ''}{net['command']}` (owned by the networking "
                  f"work; its guide is [NET.md](NET.md)), run by bench/compare on {net.get('date', m['date'])}. "
                  "rps is requests (or echo round trips) per second, higher is better; latencies and "
                  "CPU per request, lower is better. Loopback only.\n\n" + "\n".join(net["table"]))
    elif a.no_net:
        net_md = "Not run this time (`--no-net`); see [NET.md](NET.md)."
    elif net:
        net_md = (f"bench/net/run.sh exited with status {net.get('status')} and printed no table this time "
                  "(`bench/compare --net-only` runs it again); see [NET.md](NET.md).")
    else:
        net_md = "bench/net/run.sh was not found; see [NET.md](NET.md)."
    quick_note = ("\n> **Quick mode**: small sizes and one run each, to try the script; these figures are "
                  "not the reference ones.\n") if a.quick else ""
    doc = f"""# goro benchmarks: goro, Go, Boost.Fiber and std::thread side by side

<!-- Generated by bench/compare; edit bench/compare.py, not this file. -->
{quick_note}
Every figure below was measured by one run of

```sh
{results['command']}
```

on {m['date']}; the run took {results['elapsed_s'] / 60:.1f} minutes. The script installs what is missing
(Go from bookworm-backports, Boost.Fiber, Google Benchmark, gnuplot), builds goro and the C++ peers with
`-DCMAKE_BUILD_TYPE=Release` (g++ `-O3`; the Go peers with `go build`), runs every program for every
runtime, and rewrites this page and its charts. The programs are in `bench/` (goro), `bench/peers/`
(Go, Boost.Fiber, std::thread) and `bench/chan/` (channels; Go peers in `bench/chan/go/`); each takes a
size argument and prints `metric=value` lines.

**Method.** {a.runs} round{'s' if a.runs != 1 else ''}; in each round every program runs once for each runtime, and the runtime that
goes first rotates from round to round. Each figure is the **median** of the rounds. Each run is killed
after {a.timeout} s. Before each park run, `bench_fresh_slots` touches and frees as much memory as the
largest park run needs, so that every runtime starts from the same state of the VM's free memory (a
first touch of guest memory left idle measured 5 to 13 us per page here, against 2 us for memory
freed a moment before). Times are **process CPU time** (user + system, all threads) divided by the
operations, because this machine is shared with other work and the wall clock includes waiting for a
CPU; the same figures in wall-clock time are in the second table. goro and Go use their defaults: every
CPU a processor (GOMAXPROCS), default stack limits; Boost.Fiber runs on one thread with its default
scheduler; std::thread uses glibc's default 8 MiB stacks. Ratios are goro / Go: below 1 goro is cheaper.

**Machine.** {m['cores']} x {m['cpu']}, {m['mem']} RAM, Linux {m['kernel']} (goro's stack guards:
{v['kernel_guard']}). Load average (1, 5, 15 min) before: {results['load_before']}; after:
{results['load_after']}.

**Versions.** {v.get('goro', 'goro (commit not recorded)')}; {v['cxx']}; {v['go']}; Boost {v['boost']}; Google Benchmark {v['benchmark']}; {v['gnuplot']}.

## The figures (CPU time)

{main_table(a, med, 0)}

Sizes (N per runtime; a million OS threads or a million Boost.Fiber stacks do not fit a machine, so those
peers run smaller, and the per-task figures are the ones to compare):

{sizes_text(a, med)}

Boost.Fiber's skynet launches children with `launch::dispatch` and takes stacks from
`pooled_fixedsize_stack` (with one mapping per stack, the default allocator stops near 65,000 fibers at
the default vm.max_map_count); its FIFO scheduler keeps nearly the whole tree alive at once (the skynet
peak-RSS row). The std::thread skynet joins its children instead of receiving from a channel.
A thread or a fiber cannot grow its stack: its size is fixed when it starts. Their "recursion" rows
measure what is comparable, the first touch of lazily committed stack pages (a stack of D + 16 MiB
mapped for the purpose); only goro and Go grow a small stack on demand. "After it parked" exists only for
goro and Go, the two runtimes that shrink stacks.

<details><summary>The same figures in wall-clock time</summary>

{main_table(a, med, 1)}

</details>

## Where goro is behind

Every figure of the table above where goro costs more than a peer (by more than 5%), by how much, and
why:

{behind_list(a, med)}

{micro_failed(results.get('micro'))}In the channel, select and timer table below, goro costs more CPU than Go in: {channel_behind(med)}.

In the networking table below (bench/net), goro is behind Go in: {net_behind(net['table']) if net and net.get('table') else 'not measured'}
(rps below 1 is fewer requests per second; latency and CPU above 1 are more per request). These runs
are short (3 s each) and share the 2 vCPUs with the load client, so their spread is wide; the causes
are not investigated here ([NET.md](NET.md) is the networking guide).

Where goro is cheaper than Go: {ahead_list(a, med)}.

## Charts

{chart_md}

## Stack growth against depth

CPU time of a recursion D MB deep (~1 KiB frames) in one task: the first run grows the stack (goro and
Go) or touches fresh pages (Boost.Fiber, std::thread); the second run, right after in the same task,
finds the pages in place (goro, fiber, thread) or the stack already grown (Go).

{deep_table(a, med)}

## Channels, select and timers (goro and Go)

Per operation, medians; `procs` is GORO_MAXPROCS / GOMAXPROCS. `pingpong_rt` is an unbuffered round trip;
`buffered_PxC` one element through a 128-slot channel with P producers and C consumers;
`selectK_ready` a select over K ready channels, `selectK_prodcons` one consumer selecting over K
producers; `timer_*` create+stop, reset, and fire (100 goroutines waiting 20 us timers).

{channel_table(med)}

## Networking: echo and HTTP servers (goro and Go)

{net_md}

## Microbenchmarks (goro only)

`micro_bench` (Google Benchmark), median of {a.runs} repetitions; `mp:N` is the processor count; ns/op
divides an iteration by its operations (2 switches per yield round trip, 64 goroutines per batch); CPU is
the benchmark thread's CPU time, shown for one processor only, where all goroutines run on that thread.

{micro_table(results.get('micro'))}

## Bookkeeping

Runs that produced figures: {runs_note}. Failed or missing: {fail_text}. The longest single run
took {longest[0]:.0f} s (`{longest[1]}`).

Reproduce: `bench/compare` (about 15-20 minutes on 2 vCPUs); `bench/compare --quick` tries everything
at small sizes in about two minutes and writes `build-compare/BENCHMARKS.quick.md` instead of this page.
CI does not run the comparison; it runs every benchmark program once at a tiny size (`ctest -L bench`).
"""
    os.makedirs(os.path.dirname(a.doc), exist_ok=True)
    with open(a.doc, "w") as f:
        f.write(doc)
    return med


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("mode", choices=["run", "report", "net"])
    p.add_argument("--root", required=True)
    p.add_argument("--build", required=True)
    p.add_argument("--go", default="")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--no-net", action="store_true")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--timeout", type=int, default=60)
    p.add_argument("--doc", required=True)
    p.add_argument("--img", required=True)
    p.add_argument("--command", default="bench/compare")
    p.add_argument("--started", type=float, default=time.time())
    a = p.parse_args()
    saved = os.path.join(a.build, "compare-results.quick.json" if a.quick else "compare-results.json")

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    if a.mode == "run":
        load_before = open("/proc/loadavg").read().split()[:3]
        results = run_all(a, log)
        results["load_before"] = " ".join(load_before)
        results["load_after"] = " ".join(open("/proc/loadavg").read().split()[:3])
        results["machine"] = machine()
        results["versions"] = versions(a)
        results["command"] = a.command
        results["elapsed_s"] = time.time() - a.started
        with open(saved, "w") as f:
            json.dump(results, f)
    else:
        with open(saved) as f:
            results = json.load(f)
        if a.mode == "net":
            results["net"] = run_net(a, log)
            with open(saved, "w") as f:
                json.dump(results, f)
    charts = draw_charts(a, medians(results), a.img, os.path.join(a.build, "charts"))
    write_doc(a, results, charts)
    log(f"compare: wrote {a.doc} and {len(charts)} charts in {a.img}")
    print(main_table(a, medians(results), 0))


if __name__ == "__main__":
    main()
