#!/usr/bin/env python3
"""bench/profile_tables.py: helpers of bench/profile-core.sh.

  profile_tables.py syscalls BIG SMALL N_BIG N_SMALL
      strace -c outputs of a run with N_BIG and one with N_SMALL operations:
      prints the system calls made per operation (>= 0.01), or `-`.
  profile_tables.py callgrind BIG SMALL OPS
      callgrind_annotate outputs of two runs whose operation counts differ
      by OPS: prints Markdown rows of self instructions per operation.
"""
import re
import sys


def strace_calls(path):
    out = {}
    for line in open(path):
        f = line.split()
        if len(f) >= 5 and re.fullmatch(r"[0-9.]+", f[0]) and f[-1] != "total":
            out[f[-1]] = int(f[3])
    return out


def syscalls(big_path, small_path, n_big, n_small):
    big, small = strace_calls(big_path), strace_calls(small_path)
    n = int(n_big) - int(n_small)
    res = []
    for name in sorted(big, key=lambda k: -(big[k] - small.get(k, 0))):
        r = (big[name] - small.get(name, 0)) / n
        if r >= 0.01:
            res.append(f"{name} {r:.2f}")
    print(", ".join(res) if res else "-")


def short(what):
    name = what.split(" [")[0]
    name = re.sub(r"^\?\?\?:", "", name)
    name = re.sub(r"^\S+\.(c|cc|cpp|h|hpp|S):", "", name)
    name = re.sub(r"'\d+$", "", name)  # callgrind's recursion suffix
    name = name.replace("(anonymous namespace)", "{anon}")
    out, depth = [], 0
    for ch in name:  # template arguments and parameter lists shortened
        if ch in "<(":
            if depth == 0:
                out.append("<>" if ch == "<" else "()")
            depth += 1
        elif ch in ">)":
            depth = max(0, depth - 1)
        elif depth == 0:
            out.append(ch)
    return "".join(out)


def callgrind_costs(path):
    costs, total = {}, 0
    for line in open(path):
        m = re.match(r"\s*([0-9,]+) \(\s*[0-9.]+%\)\s+(.*)", line)
        if not m:
            continue
        ir, what = int(m.group(1).replace(",", "")), m.group(2)
        if "PROGRAM TOTALS" in what:
            total = ir
        else:
            k = short(what)
            costs[k] = costs.get(k, 0) + ir
    return costs, total


def callgrind(big_path, small_path, ops):
    big, tb = callgrind_costs(big_path)
    small, ts = callgrind_costs(small_path)
    ops = int(ops)
    diff = {k: big[k] - small.get(k, 0) for k in big}
    total = tb - ts
    for name, ir in sorted(diff.items(), key=lambda kv: -kv[1])[:12]:
        print(f"| `{name}` | {ir / ops:.1f} | {100.0 * ir / total:.1f}% |")
    print(f"| total | {total / ops:.0f} | 100% |")


if __name__ == "__main__":
    {"syscalls": syscalls, "callgrind": callgrind}[sys.argv[1]](*sys.argv[2:])
