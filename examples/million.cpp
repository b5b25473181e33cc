// examples/million.cpp: a million parked goroutines, and what they cost.
//
// Starts N goroutines (default 1,000,000) that each park on a wait_group,
// measures the process's resident memory and page tables (VmRSS + VmPTE from
// /proc/self/status) before and after, prints the stack statistics, then
// releases them all and waits for them to finish.
//
//   ./build/examples/million [N]
//
// On a kernel without MADV_GUARD_INSTALL every stack guard costs two
// mappings, and vm.max_map_count (65530 by default) caps the count near
// 32,000: the program then reports the error goro raised and the count it
// reached, instead of failing silently.
#include <goro/goro.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <system_error>

namespace {

// Resident set plus page tables, in bytes.
long resident_with_page_tables() {
  std::ifstream status("/proc/self/status");
  std::string key;
  long total = 0;
  while (status >> key) {
    long kb = 0;
    if (key == "VmRSS:" || key == "VmPTE:") {
      status >> kb;
      total += kb * 1024;
    }
    status.ignore(1 << 20, '\n');
  }
  return total;
}

void print_stats(const char* when) {
  goro::stack_stats s = goro::read_stack_stats();
  std::printf(
      "%-10s goroutines=%-8lld stack_inuse=%.1f MiB stack_sys=%.1f MiB reserved=%.1f GiB pooled=%zu\n", when,
      static_cast<long long>(goro::num_goroutine()), s.stack_inuse / 1048576.0, s.stack_sys / 1048576.0,
      s.stack_reserved / 1073741824.0, s.pooled_stacks);
}

}  // namespace

int main(int argc, char** argv) {
  long n = argc > 1 ? std::atol(argv[1]) : 1000000;
  if (n <= 0) {
    std::fprintf(stderr, "usage: %s [goroutines > 0]\n", argv[0]);
    return 2;
  }
  return goro::run([n] {
    goro::wait_group started, gate, finished;
    gate.add(1);
    long before = resident_with_page_tables();
    auto t0 = std::chrono::steady_clock::now();
    long spawned = 0;
    try {
      for (; spawned < n; spawned++) {
        started.add(1);
        finished.add(1);
        goro::go([&] {
          started.done();
          gate.wait();
          finished.done();
        });
      }
    } catch (const std::system_error& e) {
      started.add(-1);
      finished.add(-1);
      std::printf("stopped at %ld goroutines: %s\n", spawned, e.what());
    }
    started.wait();
    auto t1 = std::chrono::steady_clock::now();
    long after = resident_with_page_tables();
    double secs = std::chrono::duration<double>(t1 - t0).count();
    std::printf("started %ld parked goroutines in %.3f s (%.0f ns each) on %d processors\n", spawned, secs,
                secs * 1e9 / static_cast<double>(spawned), goro::maxprocs());
    std::printf("memory per parked goroutine (VmRSS + VmPTE): %.0f bytes\n",
                static_cast<double>(after - before) / static_cast<double>(spawned));
    print_stats("parked:");
    gate.done();
    finished.wait();
    auto t2 = std::chrono::steady_clock::now();
    std::printf("woke and joined them in %.3f s\n", std::chrono::duration<double>(t2 - t1).count());
    print_stats("finished:");
    return 0;
  });
}
