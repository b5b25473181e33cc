#!/usr/bin/env python3
"""Compiles (and runs) every C++ sample of README.md and docs/*.md.

Every fenced block whose info string starts with `cpp` is a sample, and its
info string says what it is:

  ```cpp               a complete program (it has main): compiled, linked
                       against goro and goro::json, and run (it must exit 0
                       within --timeout seconds)
  ```cpp no-run        a complete program that is compiled and linked but
                       not run (a server that waits for a signal, say)
  ```cpp fragment      statements: compiled as the body of a function
  ```cpp declarations  namespace-scope code (functions, types): compiled as is

Fragments and declarations are compiled inside a wrapper that includes
<goro/goro.hpp>, <goro/json.hpp>, goro::http's headers and the common standard headers and says
`using namespace std::chrono_literals;`, and nothing else: a fragment must
declare what it uses. All fragments of one file go into one translation unit,
each in a namespace of its own. Every sample is compiled with each compiler
given (--cxx, repeatable) under -Wall -Wextra -Wshadow -Wconversion -Werror.

Exit status 0 when every sample compiled and every program ran and exited 0;
1 otherwise, listing each failure with its file and line.
"""
import argparse
import concurrent.futures
import os
import re
import shlex
import subprocess
import sys
import tempfile

KINDS = ("program", "no-run", "fragment", "declarations")

PREAMBLE = """\
#include <goro/goro.hpp>
#include <goro/json.hpp>
#include <goro/http/client.hpp>
#include <goro/http/server.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <variant>
#include <vector>

using namespace std::chrono_literals;
"""

WARNINGS = ["-Wall", "-Wextra", "-Wshadow", "-Wconversion", "-Werror"]


class Sample:
    def __init__(self, path, line, kind, code):
        self.path = path
        self.line = line
        self.kind = kind
        self.code = code

    def where(self):
        return f"{self.path}:{self.line}"


def extract(path, root):
    """The ```cpp blocks of one Markdown file."""
    rel = os.path.relpath(path, root)
    samples, errors = [], []
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    i = 0
    while i < len(lines):
        m = re.match(r"^(\s*)(```+)\s*(c\+\+|cpp|cc|cxx)\b(.*)$", lines[i])
        if not m:
            i += 1
            continue
        indent, fence, lang, rest = m.group(1), m.group(2), m.group(3), m.group(4).strip()
        start = i + 1
        body = []
        i += 1
        while i < len(lines) and not lines[i].strip().startswith(fence):
            body.append(lines[i][len(indent):] if lines[i].startswith(indent) else lines[i])
            i += 1
        i += 1
        code = "\n".join(body) + "\n"
        if lang != "cpp":
            errors.append(f"{rel}:{start}: write the fence as ```cpp (found ```{lang})")
            continue
        has_main = re.search(r"^int main\s*\(", code, re.M) is not None
        kind = rest.split()[0] if rest else ("program" if has_main else "")
        if kind not in KINDS:
            errors.append(f"{rel}:{start}: a cpp block without main must be marked "
                          f"```cpp fragment or ```cpp declarations (info string: '{rest}')")
            continue
        if kind in ("program", "no-run") and not has_main:
            errors.append(f"{rel}:{start}: marked as a program but has no `int main(`")
            continue
        if kind in ("fragment", "declarations") and has_main:
            errors.append(f"{rel}:{start}: has main but is marked {kind}")
            continue
        samples.append(Sample(rel, start, kind, code))
    return samples, errors


def fragment_unit(samples):
    """One translation unit holding every fragment and declaration of a file."""
    out = [PREAMBLE]
    for n, s in enumerate(samples):
        out.append(f"namespace goro_docs_sample_{n} {{")
        out.append(f'#line {s.line} "{s.path}"')
        if s.kind == "fragment":
            out.append(f"[[maybe_unused]] void sample() {{\n{s.code}}}")
        else:
            out.append(s.code)
        out.append(f"}}  // namespace goro_docs_sample_{n}\n")
    return "\n".join(out)



def run(cmd, timeout, cwd=None):
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout,
                           cwd=cwd, text=True, errors="replace")
        return p.returncode, p.stdout
    except subprocess.TimeoutExpired as e:
        out = e.stdout if isinstance(e.stdout, str) else (e.stdout or b"").decode(errors="replace")
        return None, out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", required=True, help="the goro source tree")
    ap.add_argument("--cxx", action="append", required=True, help="a C++ compiler (repeatable)")
    ap.add_argument("--cxxflags", default="", help="extra compile flags (sanitizers)")
    ap.add_argument("--libs", required=True, help="the libraries and link flags")
    ap.add_argument("--work", required=True, help="a scratch directory")
    ap.add_argument("--timeout", type=float, default=60, help="seconds a program may run")
    ap.add_argument("--no-run", action="store_true", help="compile and link only")
    ap.add_argument("-j", "--jobs", type=int, default=2)
    ap.add_argument("--list", action="store_true", help="list the samples and exit")
    args = ap.parse_args()

    root = os.path.abspath(args.root)
    docs = [os.path.join(root, "README.md")]
    docs += sorted(os.path.join(root, "docs", f) for f in os.listdir(os.path.join(root, "docs"))
                   if f.endswith(".md"))
    samples, errors = [], []
    for d in docs:
        s, e = extract(d, root)
        samples += s
        errors += e
    if args.list:
        for s in samples:
            print(f"{s.where()}: {s.kind}")
        return 0
    if not samples:
        errors.append("no ```cpp sample found")

    os.makedirs(args.work, exist_ok=True)
    base = ["-std=c++20", "-O1", "-g0", f"-I{os.path.join(root, 'include')}",
            "-fstack-clash-protection", "-fno-omit-frame-pointer"] + WARNINGS + shlex.split(args.cxxflags)
    libs = shlex.split(args.libs)

    jobs = []  # (description, command, then-run executable or None)
    by_file = {}
    for s in samples:
        if s.kind in ("fragment", "declarations"):
            by_file.setdefault(s.path, []).append(s)
    for ci, cxx in enumerate(args.cxx):
        tag = f"{ci}-{os.path.basename(cxx)}"
        for n, s in enumerate(samples):
            if s.kind not in ("program", "no-run"):
                continue
            stem = re.sub(r"[^A-Za-z0-9]+", "_", f"{s.path}_{s.line}")
            src = os.path.join(args.work, f"{stem}.cpp")
            with open(src, "w", encoding="utf-8") as f:
                f.write(f'#line 1 "{s.path}, sample at line {s.line}"\n' + s.code)
            exe = os.path.join(args.work, f"{stem}.{tag}")
            runs = s.kind == "program" and not args.no_run
            jobs.append((f"{s.where()} ({s.kind}, {cxx})", [cxx] + base + [src, "-o", exe] + libs,
                         exe if runs else None))
        for path, group in by_file.items():
            stem = re.sub(r"[^A-Za-z0-9]+", "_", path) + "_fragments"
            src = os.path.join(args.work, f"{stem}.cpp")
            with open(src, "w", encoding="utf-8") as f:
                f.write(fragment_unit(group))
            obj = os.path.join(args.work, f"{stem}.{tag}.o")
            lines = ", ".join(str(s.line) for s in group)
            jobs.append((f"{path} fragments at lines {lines} ({cxx})", [cxx] + base + ["-c", src, "-o", obj],
                         None))

    def do(job):
        what, cmd, exe = job
        rc, out = run(cmd, 600)
        if rc != 0:
            return what, False, "compile failed:\n" + " ".join(shlex.quote(c) for c in cmd) + "\n" + out
        if exe is None:
            return what, True, "compiled"
        rc, out = run([exe], args.timeout, cwd=args.work)
        if rc is None:
            return what, False, f"did not finish within {args.timeout:.0f} s:\n{out}"
        if rc != 0:
            return what, False, f"exited with status {rc}:\n{out}"
        return what, True, "compiled and ran"

    failures = list(errors)
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        for what, ok, detail in pool.map(do, jobs):
            print(f"{'ok  ' if ok else 'FAIL'} {what}: {detail if not ok else detail}", flush=True)
            if not ok:
                failures.append(f"{what}: {detail}")
    counts = {k: sum(1 for s in samples if s.kind == k) for k in KINDS}
    print(f"check_samples: {len(samples)} samples ({', '.join(f'{v} {k}' for k, v in counts.items())}), "
          f"{len(args.cxx)} compiler(s), {len(jobs)} builds")
    if failures:
        print(f"check_samples: {len(failures)} failure(s):")
        for f in failures:
            print("  " + f.split("\n")[0])
        return 1
    print("check_samples: all samples compiled" + ("" if args.no_run else " and ran"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
