#!/usr/bin/env python3
"""bench/ab.py: two builds of goro side by side, for "no regression" checks.

    bench/ab.py OLD_BUILD NEW_BUILD [--runs N]

OLD_BUILD and NEW_BUILD are Release build directories of two goro commits
(for example one made from a `git worktree` of the older commit), each with
GORO_BUILD_BENCH=ON. The script runs the hot-path programs of both builds
alternately, N rounds (default 5; the build that goes first alternates), and
prints for each figure the median CPU time of each build and new / old.
CPU time, not wall time: the machines are shared. Figures:

  spawn+join one at a time     bench_spawn             spawn_join_one_cpu_ns
  switch (yield), 1 processor  bench_switch            switch_cpu_ns
  wait_group ping-pong         bench_switch            pingpong_cpu_ns
  channel ping-pong, 1 and 2   chan_pingpong           pingpong_rt_cpu_ns
  stack growth per page        bench_deep 64           growth_cpu_ns_per_page
"""
import argparse
import os
import statistics
import subprocess
import sys

PROGRAMS = [
    # (label, program, args, env, metric)
    ("spawn+join one at a time", "bench/bench_spawn", ["200000"], {}, "spawn_join_one_cpu_ns"),
    ("switch, 1 processor", "bench/bench_switch", ["5000000"], {}, "switch_cpu_ns"),
    ("wait_group ping-pong, 1 processor", "bench/bench_switch", ["5000000"], {}, "pingpong_cpu_ns"),
    ("channel ping-pong, 1 processor", "bench/chan/chan_pingpong", [], {"GORO_MAXPROCS": "1"},
     "pingpong_rt_cpu_ns"),
    ("channel ping-pong, 2 processors", "bench/chan/chan_pingpong", [], {"GORO_MAXPROCS": "2"},
     "pingpong_rt_cpu_ns"),
    ("stack growth per 4 KiB page", "bench/bench_deep", ["64"], {}, "growth_cpu_ns_per_page"),
]


def run(build, program, args, env):
    e = dict(os.environ)
    e.update(env)
    out = subprocess.run([os.path.join(build, program)] + args, env=e, capture_output=True, text=True,
                         timeout=300, check=True).stdout
    metrics = {}
    for line in out.splitlines():
        key, _, value = line.partition("=")
        try:
            metrics[key] = float(value)
        except ValueError:
            pass
    return metrics


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("old")
    ap.add_argument("new")
    ap.add_argument("--runs", type=int, default=5)
    a = ap.parse_args()
    seen = {}  # (label, build) -> values
    for r in range(a.runs):
        order = [a.old, a.new] if r % 2 == 0 else [a.new, a.old]
        cache = {}
        for label, program, args, env, metric in PROGRAMS:
            for build in order:
                key = (build, program, tuple(args), tuple(sorted(env.items())))
                if key not in cache:
                    cache[key] = run(build, program, args, env)
                seen.setdefault((label, build), []).append(cache[key].get(metric))
        print(f"round {r + 1}/{a.runs} done", file=sys.stderr)
    print(f"| figure (CPU time, median of {a.runs}) | old | new | new / old |")
    print("|---|--:|--:|--:|")
    for label, *_ in PROGRAMS:
        old = statistics.median(v for v in seen[(label, a.old)] if v is not None)
        new = statistics.median(v for v in seen[(label, a.new)] if v is not None)
        print(f"| {label} | {old:,.1f} ns | {new:,.1f} ns | {new / old:.3f} |")


if __name__ == "__main__":
    main()
