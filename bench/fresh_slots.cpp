// bench/fresh_slots.cpp: what the kernel charges for a never-used stack slot.
//
//   bench_fresh_slots [N] [SLOT_KIB]    (default 1,000,000 slots of 224 KiB)
//
// A goroutine started on a slot nobody used before needs two things from
// the kernel, whatever the runtime does in user space: a guard below the
// stack (MADV_GUARD_INSTALL, batched 64 slots per process_madvise as the
// stack layer does) and its top page (a page fault: allocate, clear, map).
// This program does only those two, on the same layout as goro's arenas
// (64 MiB mappings carved into slots, 16 KiB guards), and prints their CPU
// time per slot:
//   guard_cpu_ns_per_slot   the guard's share of the batched calls
//   fault_cpu_ns_per_slot   first touch of the top page (the record, the
//                           function object and the first frames live there)
//   floor_cpu_ns_per_slot   the sum: no runtime that guards its stacks with
//                           pages and gives each goroutine its own top page
//                           can start a goroutine on a fresh slot for less
//   slots
// Compare floor_cpu_ns_per_slot with bench_park's spawn_cpu_ns_per_goroutine
// (and Go's, which has no guard pages: its compiler checks the stack bound
// in every function prologue, and its stacks start at 2 KiB, two per page).
#include "bench_util.hpp"
#include "slot_layout.hpp"

#include <sys/mman.h>
#include <sys/uio.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <initializer_list>
#include <vector>

namespace {

using bench::kArenaBytes;
using bench::kGuardBytes;

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

bool guard_batch(std::vector<iovec>& ranges) {
  if (int err = bench::install_guards(ranges.data(), ranges.size())) {
    std::fprintf(stderr, "bench_fresh_slots: process_madvise(MADV_GUARD_INSTALL): %s (needs Linux 6.13)\n",
                 std::strerror(err));
    return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  const long n = bench::size_arg(argc, argv, 1000000);
  const std::size_t slot = (argc > 2 ? std::strtoul(argv[2], nullptr, 10) * 1024 : bench::kSlotBytes);
  if (n <= 0 || slot < 2 * kGuardBytes || slot > kArenaBytes) {
    std::fprintf(stderr, "usage: bench_fresh_slots [N] [SLOT_KIB, 32..65536]\n");
    return 2;
  }
  const std::size_t per_arena = kArenaBytes / slot;
  double guard_s = 0, fault_s = 0;
  std::vector<iovec> ranges;
  std::byte* arena = nullptr;
  std::size_t used = per_arena;
  for (long done = 0; done < n;) {
    if (used == per_arena) {
      void* p = mmap(nullptr, kArenaBytes, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
      if (p == MAP_FAILED) {
        std::perror("bench_fresh_slots: mmap");
        return 1;
      }
      arena = static_cast<std::byte*>(p);
      used = 0;
    }
    std::size_t batch = std::min({bench::kGuardBatch, per_arena - used, static_cast<std::size_t>(n - done)});
    ranges.clear();
    for (std::size_t i = 0; i < batch; i++) ranges.push_back({arena + (used + i) * slot, kGuardBytes});
    double t0 = thread_cpu_seconds();
    if (!guard_batch(ranges)) return 1;
    double t1 = thread_cpu_seconds();
    for (std::size_t i = 0; i < batch; i++) {
      // The top line of the slot: where a goroutine's record goes.
      auto* top = reinterpret_cast<volatile char*>(arena + (used + i + 1) * slot);
      top[-64] = 1;
    }
    double t2 = thread_cpu_seconds();
    guard_s += t1 - t0;
    fault_s += t2 - t1;
    used += batch;
    done += static_cast<long>(batch);
  }
  const double dn = static_cast<double>(n);
  bench::metric("guard_cpu_ns_per_slot", guard_s * 1e9 / dn);
  bench::metric("fault_cpu_ns_per_slot", fault_s * 1e9 / dn);
  bench::metric("floor_cpu_ns_per_slot", (guard_s + fault_s) * 1e9 / dn);
  bench::metric("slots", n);
  return 0;
}
