// bench/hotpaths.cpp: one hot path run a fixed number of times, for profilers
// and syscall counters (Google Benchmark picks its own iteration counts,
// which makes per-operation counts awkward).
//
//   hotpaths <path> [N] [maxprocs]     (N default 1,000,000; maxprocs default 1)
//
// paths:
//   switch       two goroutines yielding to each other: 2N switches
//   yield        one goroutine yielding alone: N yields
//   spawn        spawn one goroutine and wait for it (wait_group): N times
//   spawn64      spawn 64 goroutines, wait for all: N/64 batches
//   burst        spawn N goroutines that park on a gate, open it, join them
//                (bench_park's pattern): N goroutines
//   pingpong     wait_group ping-pong between two goroutines: N round trips
//   mutex        mutex held across a yield by two goroutines: N handoffs
//   syscall      on_system_stack round trip: N times
//   blocking     blocking() round trip with nothing else runnable: N times
//
// Prints `ops=` and `ns_per_op=`. Typical uses:
//   strace -f -c bench/hotpaths spawn 100000      # syscalls per operation
//   perf record -g bench/hotpaths switch 10000000
//   valgrind --tool=callgrind bench/hotpaths spawn 100000
#include "bench_util.hpp"

#include <goro/goro.hpp>

#include <atomic>
#include <chrono>
#include <cstring>
#include <string>

namespace {

void run_path(const std::string& path, long n) {
  // Everything a partner goroutine touches lives until the final done.wait().
  std::atomic<bool> stop{false};
  goro::wait_group done, ping, pong;
  goro::mutex mu;
  if (path == "switch") {
    done.add(1);
    goro::go([&] {
      while (!stop.load(std::memory_order_relaxed)) goro::yield();
      done.done();
    });
    for (long i = 0; i < n; i++) goro::yield();
  } else if (path == "yield") {
    for (long i = 0; i < n; i++) goro::yield();
  } else if (path == "spawn") {
    goro::wait_group wg;
    for (long i = 0; i < n; i++) {
      wg.add(1);
      goro::go([&wg] { wg.done(); });
      wg.wait();
    }
  } else if (path == "spawn64") {
    goro::wait_group wg;
    for (long b = 0; b < n / 64; b++) {
      wg.add(64);
      for (int i = 0; i < 64; i++) goro::go([&wg] { wg.done(); });
      wg.wait();
    }
  } else if (path == "burst") {
    goro::wait_group gate, all;
    gate.add(1);
    all.add(n);
    for (long i = 0; i < n; i++) {
      goro::go([&] {
        gate.wait();
        all.done();
      });
    }
    goro::yield();
    gate.done();
    all.wait();
  } else if (path == "pingpong") {
    ping.add(1);
    done.add(1);
    goro::go([&] {
      for (;;) {
        ping.wait();
        if (stop.load(std::memory_order_relaxed)) break;
        ping.add(1);
        pong.done();
      }
      done.done();
    });
    for (long i = 0; i < n; i++) {
      pong.add(1);
      ping.done();
      pong.wait();
    }
    stop.store(true, std::memory_order_relaxed);
    ping.done();
  } else if (path == "mutex") {
    done.add(1);
    goro::go([&] {
      while (!stop.load(std::memory_order_relaxed)) {
        mu.lock();
        goro::yield();
        mu.unlock();
      }
      done.done();
    });
    for (long i = 0; i < n; i++) {
      mu.lock();
      goro::yield();
      mu.unlock();
    }
  } else if (path == "syscall") {
    long x = 0;
    for (long i = 0; i < n; i++) x = goro::on_system_stack([&] { return x + 1; });
  } else if (path == "blocking") {
    long x = 0;
    for (long i = 0; i < n; i++) x = goro::blocking([&] { return x + 1; });
  } else {
    std::fprintf(stderr, "hotpaths: unknown path %s\n", path.c_str());
    std::exit(2);
  }
  stop.store(true, std::memory_order_relaxed);
  done.wait();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(
        stderr, "usage: %s switch|yield|spawn|spawn64|burst|pingpong|mutex|syscall|blocking [N] [maxprocs]\n",
        argv[0]);
    return 2;
  }
  std::string path = argv[1];
  long n = bench::size_arg(argc - 1, argv + 1, 1000000);
  goro::set_maxprocs(argc > 3 ? std::atoi(argv[3]) : 1);
  return goro::run([&] {
    auto t0 = std::chrono::steady_clock::now();
    run_path(path, n);
    double s = bench::seconds_since(t0);
    bench::metric("ops", n);
    bench::metric("ns_per_op", s * 1e9 / static_cast<double>(n));
    return 0;
  });
}
