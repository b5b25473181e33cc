// bench/guard_revisit.cpp: what a later visit to a resident stack page costs,
// by the kind of guard its neighbours carry.
//
//   bench_guard_revisit [N]    (default 20,000 slots of 224 KiB)
//
// Lays out N slots as goro's arenas do (64 MiB mappings carved into 224 KiB
// slots over a PROT_NONE reservation), guards each slot's lowest 16 KiB,
// and touches each slot's top page once (a page fault: the goroutine record
// and first frames live there). Then it reads one byte of every top page,
// twice, timing each pass: the first pass is what waking N parked
// goroutines pays for the pages alone (wait_group::done() walks records on
// those pages), the second what it pays once they were visited. Guards:
//   none       no guard (the baseline)
//   mprotect   PROT_NONE: two mappings per slot, so vm.max_map_count
//              (65,530 by default) caps this at about 32,000 slots
//   marker     MADV_GUARD_INSTALL, batched 64 ranges per process_madvise,
//              as goro's stack layer does (Linux 6.13+)
// Prints <guard>_first_ns_per_page and <guard>_again_ns_per_page (wall
// time; the loop is one thread's reads, nothing else runs).
//
// Measured on the machine of 2026-12-04 (2 vCPUs, host kernel
// 6.18.44-fc-v1252), 20,000 slots: marker 4.4-6.1 us a page on the first pass
// and 50-60 ns on the second; none and mprotect 50-60 ns, then 20 ns. That
// first-pass cost was the 4-5 us per goroutine of bench_park's wake_join
// there, until the stack layer faulted fresh slots' top pages in beside
// their guards, in one batch (populate_slot_tops in src/stack).
#include "bench_util.hpp"
#include "slot_layout.hpp"

#include <sys/mman.h>
#include <sys/uio.h>

#include <chrono>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace {

constexpr std::size_t kSlot = bench::kSlotBytes;
constexpr std::size_t kGuard = bench::kGuardBytes;
constexpr std::size_t kArena = bench::kArenaBytes;
constexpr std::size_t kSlotsPerArena = kArena / kSlot;

enum class Guard { kNone, kMprotect, kMarker };

// Guards the slots of one arena; false if the kernel refused.
bool guard_arena(std::byte* arena, Guard g) {
  if (g == Guard::kMprotect) {
    for (std::size_t j = 0; j < kSlotsPerArena; j++) {
      if (::mprotect(arena + j * kSlot, kGuard, PROT_NONE) != 0) return false;
    }
    return true;
  }
  if (g != Guard::kMarker) return true;
  iovec batch[bench::kGuardBatch];
  std::size_t k = 0;
  for (std::size_t j = 0; j < kSlotsPerArena; j++) {
    batch[k++] = iovec{arena + j * kSlot, kGuard};
    if (k == bench::kGuardBatch || j + 1 == kSlotsPerArena) {
      if (bench::install_guards(batch, k) != 0) return false;
      k = 0;
    }
  }
  return true;
}

// Reads one byte of each page; ns per page.
double visit(const std::vector<volatile std::byte*>& tops) {
  auto t0 = std::chrono::steady_clock::now();
  unsigned sum = 0;
  for (volatile std::byte* p : tops) sum += static_cast<unsigned>(*p);
  asm volatile("" : : "r"(sum));
  return bench::seconds_since(t0) * 1e9 / static_cast<double>(tops.size());
}

// One layout of n slots with guard g; false if it could not be made.
bool measure(long n, Guard g, const char* name) {
  const std::size_t arenas = (static_cast<std::size_t>(n) + kSlotsPerArena - 1) / kSlotsPerArena;
  const std::size_t reserved = (arenas + 1) * kArena;
  void* r = ::mmap(nullptr, reserved, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (r == MAP_FAILED) return false;
  auto* base = static_cast<std::byte*>(r);
  std::vector<volatile std::byte*> tops;
  tops.reserve(static_cast<std::size_t>(n));
  bool ok = true;
  for (std::size_t a = 0; a < arenas && ok; a++) {
    std::byte* arena = base + a * kArena;
    ok = ::mmap(arena, kArena, PROT_READ | PROT_WRITE,
                MAP_PRIVATE | MAP_FIXED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0) != MAP_FAILED;
    ok = ok && ::madvise(arena, kArena, MADV_NOHUGEPAGE) == 0 && guard_arena(arena, g);
    for (std::size_t j = 0; ok && j < kSlotsPerArena && tops.size() < static_cast<std::size_t>(n); j++) {
      volatile std::byte* top = arena + (j + 1) * kSlot - 4096;
      *top = std::byte{1};  // the page fault
      tops.push_back(top);
    }
  }
  if (ok) {
    bench::metric((std::string(name) + "_first_ns_per_page").c_str(), visit(tops));
    bench::metric((std::string(name) + "_again_ns_per_page").c_str(), visit(tops));
  } else {
    std::fprintf(stderr, "bench_guard_revisit: %s guards: the kernel refused (%s)\n", name,
                 g == Guard::kMprotect
                     ? "vm.max_map_count?"
                     : "process_madvise(MADV_GUARD_INSTALL) on the calling process needs Linux 6.15");
  }
  ::munmap(base, reserved);
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  const long n = bench::size_arg(argc, argv, 20000);
  measure(n, Guard::kNone, "none");
  measure(n, Guard::kMprotect, "mprotect");
  measure(n, Guard::kMarker, "marker");
  bench::metric("slots", n);
  return 0;
}
