// bench/directory_flood.cpp: what the size of the fresh-slot batch does to
// later visits of stack pages, on hosts that shadow the guest's page tables.
//
//   bench_directory_flood [N]    (default 200,000 slots of 224 KiB)
//
// Lays out N slots as goro's arenas do and prepares them as the stack pool
// carves them: per batch of B slots, one process_madvise installs their
// guards and one populates their top pages, then each top page is written
// once (the spawn writing the goroutine record). Then it reads every top
// page once, in address order, timing each read (what waking N parked
// goroutines pays for their pages). Runs B = 64 (the pool's batch),
// B = 9 (the slots one 2 MiB page-table page reaches), and B = 64 with each
// arena's guards installed first in one call ("arena_guard_batch64": 32
// page-directory entries in a row instead of 7). Prints, per run:
//   batch<B>_prepare_ns_per_slot   guard, populate and first write, per slot
//   batch<B>_revisit_ns_per_page   the timed pass, per page
//   batch<B>_slow_pages_pct        pages whose read took over 2 us
//
// Why it matters: a batch of 64 slots spans seven 2 MiB regions, so its
// guard call writes about seven page-directory entries in a row. KVM's
// shadow MMU (which PVM hosts use) treats three writes to a shadowed
// page-directory page with no fault through it in between as "write
// flooding" and drops that shadow, unlinking every 2 MiB region under the
// same 1 GiB: the first later access to each region then takes a 5-7 us
// hypervisor fault. Measured on the machine of 2026-12-04 (2 vCPUs, host
// kernel 6.18.44-fc-v1252), `bench_directory_flood 400000`: B = 64 left
// 11.4% of pages slow, the lowest top page of each 2 MiB region (revisit
// 942 ns a page); B = 9 left 0.01% (109 ns); a later run the same day,
// 11.7%, 0.015%, and 10.7% with each arena's guards first: 32 entries in a
// row flood as 7 do. A host without shadow paging shows no difference.
// The pool keeps B = 64: docs/ARCHITECTURE.md ("Fresh slots are guarded 64
// at a time") says why.
#include "bench_util.hpp"
#include "slot_layout.hpp"

#include <sys/mman.h>
#include <sys/uio.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <string>
#include <vector>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

namespace {

constexpr std::size_t kSlot = bench::kSlotBytes;
constexpr std::size_t kGuard = bench::kGuardBytes;
constexpr std::size_t kArena = bench::kArenaBytes;
constexpr std::size_t kSlotsPerArena = kArena / kSlot;
constexpr std::size_t kPage = 4096;
constexpr double kSlowNs = 2000;

std::byte* top_page(std::byte* arena, std::size_t j) {
  return arena + (j + 1) * kSlot - kPage;
}

// Guards slots [j0, j1) of `arena` in one call; false if the kernel refused.
bool guard_slots(std::byte* arena, std::size_t j0, std::size_t j1) {
  std::vector<iovec> guards;
  guards.reserve(j1 - j0);
  for (std::size_t j = j0; j < j1; j++) guards.push_back(iovec{arena + j * kSlot, kGuard});
  return bench::install_guards(guards.data(), guards.size()) == 0;
}

// Populates the top pages of slots [j0, j1) (one call), then writes each
// once; false if the kernel refused.
bool populate_tops(std::byte* arena, std::size_t j0, std::size_t j1) {
  std::vector<iovec> tops;
  tops.reserve(j1 - j0);
  for (std::size_t j = j0; j < j1; j++) tops.push_back(iovec{top_page(arena, j), kPage});
  if (::syscall(SYS_process_madvise, bench::kPidfdSelfProcess, tops.data(), tops.size(), MADV_POPULATE_WRITE,
                0u) < 0)
    return false;
  for (const iovec& t : tops) *static_cast<volatile std::byte*>(t.iov_base) = std::byte{1};
  return true;
}

// One layout of n slots prepared `batch` at a time (guards too, unless
// `guard_arena`: then one call guards each arena's slots first); false if
// it failed.
bool measure(long n, std::size_t batch, bool guard_arena) {
  const std::size_t arenas = (static_cast<std::size_t>(n) + kSlotsPerArena - 1) / kSlotsPerArena;
  const std::size_t reserved = (arenas + 1) * kArena;
  void* r = ::mmap(nullptr, reserved, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (r == MAP_FAILED) return false;
  // 2 MiB aligned, as goro's arenas are.
  auto* base = reinterpret_cast<std::byte*>((reinterpret_cast<std::uintptr_t>(r) + (2 << 20) - 1) &
                                            ~std::uintptr_t{(2 << 20) - 1});
  std::vector<volatile std::byte*> tops;
  tops.reserve(static_cast<std::size_t>(n));
  bool ok = true;
  auto t0 = std::chrono::steady_clock::now();
  for (std::size_t a = 0; a < arenas && ok; a++) {
    std::byte* arena = base + a * kArena;
    ok = ::mmap(arena, kArena, PROT_READ | PROT_WRITE,
                MAP_PRIVATE | MAP_FIXED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0) != MAP_FAILED;
    ok = ok && ::madvise(arena, kArena, MADV_NOHUGEPAGE) == 0;
    if (guard_arena) ok = ok && guard_slots(arena, 0, std::min<std::size_t>(kSlotsPerArena, n - tops.size()));
    for (std::size_t j0 = 0; ok && j0 < kSlotsPerArena && tops.size() < static_cast<std::size_t>(n);
         j0 += batch) {
      const std::size_t j1 = std::min({kSlotsPerArena, j0 + batch, j0 + (n - tops.size())});
      ok = (guard_arena || guard_slots(arena, j0, j1)) && populate_tops(arena, j0, j1);
      for (std::size_t j = j0; j < j1; j++) tops.push_back(top_page(arena, j));
    }
  }
  const double prepare_ns = bench::seconds_since(t0) * 1e9 / static_cast<double>(tops.size());
  if (ok) {
    long slow = 0;
    unsigned sum = 0;
    auto pass = std::chrono::steady_clock::now();
    for (volatile std::byte* p : tops) {
      auto s = std::chrono::steady_clock::now();
      sum += static_cast<unsigned>(*p);
      if (std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - s).count() > kSlowNs)
        slow++;
    }
    asm volatile("" : : "r"(sum));
    const double revisit_ns = bench::seconds_since(pass) * 1e9 / static_cast<double>(tops.size());
    const std::string name = (guard_arena ? "arena_guard_batch" : "batch") + std::to_string(batch);
    bench::metric((name + "_prepare_ns_per_slot").c_str(), prepare_ns);
    bench::metric((name + "_revisit_ns_per_page").c_str(), revisit_ns);
    bench::metric((name + "_slow_pages_pct").c_str(),
                  100.0 * static_cast<double>(slow) / static_cast<double>(tops.size()));
  } else {
    std::fprintf(stderr,
                 "bench_directory_flood: the kernel refused (process_madvise with "
                 "MADV_GUARD_INSTALL on the calling process needs Linux 6.15)\n");
  }
  ::munmap(r, reserved);
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  const long n = bench::size_arg(argc, argv, 200000);
  measure(n, bench::kGuardBatch, false);
  measure(n, (2 << 20) / kSlot, false);
  measure(n, bench::kGuardBatch, true);
  bench::metric("slots", n);
  return 0;
}
