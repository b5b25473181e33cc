// bench/reports.cpp: what goroutine reports cost now that they carry source
// lines (src/debug/lines.cpp).
//
//   bench_reports dump [N]     (default 10,000)
//   bench_reports overflow
//   bench_reports baseline
//
// `dump` parks N goroutines in a channel receive, then times
// dump_goroutines() six times and prints, as `metric=value` lines:
//   goroutines            N
//   first_dump_ms         the first dump (it reads the binary's line tables)
//   dump_ms               the fastest of the next five
//   dump_bytes            the dump's size
// `overflow` overflows a 128 KiB goroutine stack in about 130 frames of
// 1 KiB: the process prints the report (its first 50 and last 10 frames,
// with source lines from the helper process) and exits with status 2; time
// the whole process, against `baseline`, which recurses 50 frames and exits
// with status 0 instead.
#include "bench_util.hpp"

#include <goro/goro.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

volatile int bench_reports_limit = 1 << 30;

[[gnu::noinline]] int bench_reports_recurse(int depth) {
  if (depth >= bench_reports_limit) return 0;
  volatile char pad[1000];
  pad[0] = static_cast<char>(depth);
  return bench_reports_recurse(depth + 1) + pad[0];  // not a tail call
}

[[gnu::noinline]] int bench_reports_parked(goro::chan<int>& c) {
  std::optional<int> v = c.recv();
  return v ? *v : 1;
}

namespace {

void time_dumps(long n) {
  goro::run([n] {
    goro::chan<int> c;
    goro::wait_group started;
    started.add(static_cast<int>(n));
    for (long i = 0; i < n; ++i) {
      goro::go([&] {
        started.done();
        bench_reports_parked(c);
      });
    }
    started.wait();
    goro::sleep_for(std::chrono::milliseconds(100));  // all of them parked in recv
    double first = 0, best = 1e300;
    std::size_t bytes = 0;
    for (int i = 0; i < 6; ++i) {
      auto t0 = std::chrono::steady_clock::now();
      std::string d = goro::dump_goroutines();
      double ms = bench::seconds_since(t0) * 1e3;
      bytes = d.size();
      if (i == 0) {
        first = ms;
      } else if (ms < best) {
        best = ms;
      }
    }
    bench::metric("goroutines", n);
    bench::metric("first_dump_ms", first);
    bench::metric("dump_ms", best);
    bench::metric("dump_bytes", static_cast<long>(bytes));
    std::fflush(stdout);
    std::_Exit(0);  // the parked goroutines never return
  });
}

void overflow(bool baseline) {
  if (baseline) bench_reports_limit = 50;
  goro::run([] {
    goro::go(goro::spawn_options{.max_stack = 128 * 1024}, [] {
      bench_reports_recurse(0);
      std::_Exit(0);
    });
    goro::sleep_for(std::chrono::seconds(60));
  });
}

}  // namespace

int main(int argc, char** argv) {
  const char* mode = argc > 1 ? argv[1] : "dump";
  if (std::strcmp(mode, "dump") == 0) {
    time_dumps(argc > 2 ? std::atol(argv[2]) : 10000);
  } else if (std::strcmp(mode, "overflow") == 0 || std::strcmp(mode, "baseline") == 0) {
    overflow(std::strcmp(mode, "baseline") == 0);
  } else {
    std::fprintf(stderr, "usage: bench_reports dump [N] | overflow | baseline\n");
    return 2;
  }
  return 0;
}
