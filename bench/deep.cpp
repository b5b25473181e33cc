// bench/deep.cpp: one goroutine recursing deep, growing its stack in place.
//
//   bench_deep [MB]    (default 64)
//
// In one goroutine whose ceiling is MB + 16 MiB:
//   first_ms_per_mb         recursion MB deep and back, first time: every page
//                           is a first touch (page fault)
//   second_ms_per_mb        the same again in the same goroutine, right away:
//                           the pages are still resident, nothing faults
//   after_park_ms_per_mb    the same after the goroutine has parked for 1 ms
//                           (too briefly to be shrunk: the runtime gives back
//                           the pages far below a parked goroutine's stack
//                           pointer once it has stayed parked 20 ms)
//   growth_ns_per_page      (first - second) / pages: what growing costs per
//                           4 KiB page, the recursion itself subtracted
//   first_cpu_ms_per_mb, second_cpu_ms_per_mb, growth_cpu_ns_per_page
//                           the same in process CPU time
//   resident_before_kb, resident_peak_kb, resident_after_park_kb
//                           stack_inuse (read_stack_stats: every live stack)
//                           at the start, at the deepest point, and after the park
//   resident_after_long_park_kb
//                           the same after the goroutine then parked for 100 ms
//                           (the shrink)
//   stack_shrinks           shrinks counted by read_stack_stats meanwhile
//   after_shrink_ms_per_mb, after_shrink_cpu_ms_per_mb
//                           the recursion once more, after that shrink: the
//                           stack regrows (Go's deep.go times the same after
//                           garbage collections shrank its stack). A run too
//                           short for the monitor to mark it long is not
//                           shrunk (resident_after_long_park_kb says which)
//   own_resident_before_kb, own_resident_peak_kb, own_resident_after_park_kb
//                           the same for this goroutine's stack alone, counted
//                           with mincore by the program itself (a cross-check
//                           that does not depend on the runtime's accounting)
// In a second goroutine, page growth without any recursion around it:
//   first_touch_ns_per_page     alloca of the whole range, touched a page at a
//                               time from the top: one page fault each
//   first_touch_cpu_ns_per_page the same in process CPU time
//   resident_touch_ns_per_page  the same touches again (resident)
#include "bench_util.hpp"
#include "recursion.hpp"

#include <goro/goro.hpp>

#include <alloca.h>
#include <sys/mman.h>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <vector>

// Declared weak as well: while goro::read_stack_stats is not yet part of the
// library, this program still builds and prints the mincore figures only.
namespace goro {
[[gnu::weak]] stack_stats read_stack_stats();
}  // namespace goro

namespace {

using bench::kMiB;
using bench::kPage;

bool have_stack_stats() {
  return &goro::read_stack_stats != nullptr;
}

goro::stack_stats stack_stats_now() {
  return have_stack_stats() ? goro::read_stack_stats() : goro::stack_stats{};
}

// Resident bytes of the calling goroutine's stack, from its ceiling up to
// `top` (an address at or above the goroutine's first frame), by mincore.
std::size_t own_resident(const char* top) {
  auto sp = reinterpret_cast<std::uintptr_t>(__builtin_frame_address(0));
  std::uintptr_t low = (sp - goro::stack_remaining()) & ~(kPage - 1);
  std::uintptr_t high = (reinterpret_cast<std::uintptr_t>(top) + kPage - 1) & ~(kPage - 1);
  std::vector<unsigned char> vec((high - low) / kPage);
  // If the stack is the last one of its mapping, nothing lies above its top:
  // step down a page at a time until the range is all mapped.
  while (mincore(reinterpret_cast<void*>(low), high - low, vec.data()) != 0) {
    if (high - low <= kPage) return 0;
    high -= kPage;
  }
  vec.resize((high - low) / kPage);
  std::size_t pages = 0;
  for (unsigned char v : vec) pages += v & 1;
  return pages * kPage;
}

struct Probe {
  bool take = false;
  const char* top = nullptr;
  goro::stack_stats at_peak;
  std::size_t own_at_peak = 0;
};

// At the deepest point of a recursion: the residency there, when asked.
void take_peak(void* arg) {
  auto* probe = static_cast<Probe*>(arg);
  if (!probe->take) return;
  probe->at_peak = stack_stats_now();
  probe->own_at_peak = own_resident(probe->top);
}

bench::Timing timed_recursion(std::size_t bytes, Probe* probe) {
  return bench::timed_recursion(bytes, take_peak, probe);
}

// Grows the stack by `bytes` at once and writes one byte per page, top down.
[[gnu::noinline]] void touch_pages(std::size_t bytes, double* first_ns, double* first_cpu_ns,
                                   double* again_ns) {
  const std::size_t pages = bytes / kPage;
  // The clock starts before the alloca: built with -fstack-clash-protection
  // (goro::goro exports it) the alloca itself probes every page.
  auto t0 = std::chrono::steady_clock::now();
  double c0 = bench::cpu_seconds();
  auto* low = static_cast<volatile char*>(alloca(bytes));
  for (std::size_t i = 1; i <= pages; i++) low[bytes - i * kPage] = 1;
  *first_ns = bench::seconds_since(t0) * 1e9 / static_cast<double>(pages);
  *first_cpu_ns = (bench::cpu_seconds() - c0) * 1e9 / static_cast<double>(pages);
  t0 = std::chrono::steady_clock::now();
  for (std::size_t i = 1; i <= pages; i++) low[bytes - i * kPage] = 2;
  *again_ns = bench::seconds_since(t0) * 1e9 / static_cast<double>(pages);
}

}  // namespace

int main(int argc, char** argv) {
  const long mb = bench::size_arg(argc, argv, 64);
  const std::size_t bytes = static_cast<std::size_t>(mb) * kMiB;
  return goro::run([&] {
    goro::wait_group wg;
    goro::spawn_options opts;
    opts.max_stack = bytes + 16 * kMiB;
    opts.name = "deep";

    wg.add(1);
    goro::go(opts, [&] {
      Probe probe;
      // The goroutine's record and first frames sit in its top pages; count
      // two pages above this frame as well (above the top lies the next
      // slot's guard, which is never resident).
      probe.top = static_cast<const char*>(__builtin_frame_address(0)) + 2 * kPage;
      goro::stack_stats before = stack_stats_now();
      std::size_t own_before = own_resident(probe.top);
      bench::Timing first = timed_recursion(bytes, &probe);
      bench::Timing second = timed_recursion(bytes, &probe);
      probe.take = true;
      timed_recursion(bytes, &probe);  // untimed: reads the peak residency
      probe.take = false;
      goro::sleep_for(std::chrono::milliseconds(1));  // parks, too briefly to be shrunk
      goro::stack_stats parked = stack_stats_now();
      std::size_t own_parked = own_resident(probe.top);
      bench::Timing after_park = timed_recursion(bytes, &probe);
      goro::sleep_for(std::chrono::milliseconds(100));  // parks long enough to be shrunk
      goro::stack_stats long_parked = stack_stats_now();
      bench::Timing after_shrink = timed_recursion(bytes, &probe);
      bench::print_first_second(mb, first, second);
      bench::metric("after_park_ms_per_mb", after_park.ms / static_cast<double>(mb));
      bench::metric("after_shrink_ms_per_mb", after_shrink.ms / static_cast<double>(mb));
      bench::metric("after_shrink_cpu_ms_per_mb", after_shrink.cpu_ms / static_cast<double>(mb));
      if (have_stack_stats()) {
        bench::metric("resident_before_kb", static_cast<double>(before.stack_inuse) / 1024);
        bench::metric("resident_peak_kb", static_cast<double>(probe.at_peak.stack_inuse) / 1024);
        bench::metric("resident_after_park_kb", static_cast<double>(parked.stack_inuse) / 1024);
        bench::metric("resident_after_long_park_kb", static_cast<double>(long_parked.stack_inuse) / 1024);
        bench::metric("stack_shrinks", static_cast<long>(parked.shrinks - before.shrinks));
      }
      bench::metric("own_resident_before_kb", static_cast<double>(own_before) / 1024);
      bench::metric("own_resident_peak_kb", static_cast<double>(probe.own_at_peak) / 1024);
      bench::metric("own_resident_after_park_kb", static_cast<double>(own_parked) / 1024);
      wg.done();
    });
    wg.wait();

    wg.add(1);
    goro::go(opts, [&] {
      double first = 0, first_cpu = 0, again = 0;
      touch_pages(bytes, &first, &first_cpu, &again);
      bench::metric("first_touch_ns_per_page", first);
      bench::metric("first_touch_cpu_ns_per_page", first_cpu);
      bench::metric("resident_touch_ns_per_page", again);
      wg.done();
    });
    wg.wait();
    return 0;
  });
}
