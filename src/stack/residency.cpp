// stack/residency.cpp: which pages of a stack are resident (mincore),
// giving them back (MADV_DONTNEED), and faulting in fresh slots' top pages
// in batches (MADV_POPULATE_WRITE); see arena.hpp.
//
// Stacks fill from the top down and -fstack-clash-protection probes every
// page of a big frame, so a scan goes from the top down and stops after a
// long enough gap with nothing resident: its cost follows what a stack
// used, not its limit.
//
// Invariant: every page given back is counted (released_pages) from the
// scan made just before the madvise, so pages committed so far = pages
// resident now + pages ever given back (stats.cpp relies on it).
#include "stack/arena.hpp"

#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <iterator>

namespace goro::detail::stack_internal {
namespace {

// mincore vector on the stack: 2 KiB covers 8 MiB per call and keeps the
// shrink path (run on a worker's system stack) well under 4 KiB of locals.
constexpr std::size_t kScanChunkPages = 2048;
constexpr std::size_t kScanGap = 16 * kMiB;

}  // namespace

Residency scan_resident(std::byte* lo, std::byte* hi) noexcept {
  unsigned char vec[kScanChunkPages];
  Residency r{0, hi};
  for (std::byte* cur = hi; cur > lo && static_cast<std::size_t>(r.lowest - cur) < kScanGap;) {
    std::size_t n = std::min(kScanChunkPages, static_cast<std::size_t>(cur - lo) / kPageSize);
    std::byte* from = cur - n * kPageSize;
    if (::mincore(from, n * kPageSize, vec) != 0) break;
    for (std::size_t i = n; i-- > 0;) {
      if (vec[i] & 1) {
        ++r.pages;
        r.lowest = from + i * kPageSize;
      }
    }
    cur = from;
  }
  return r;
}

std::size_t give_back(std::byte* lo, std::byte* hi) noexcept {
  return hi <= lo ? 0 : give_back(scan_resident(lo, hi), hi);
}

std::size_t give_back(const Residency& r, std::byte* hi) noexcept {
  if (r.pages == 0 || hi <= r.lowest) return 0;
  if (::madvise(r.lowest, static_cast<std::size_t>(hi - r.lowest), MADV_DONTNEED) != 0) return 0;
  std::size_t bytes = r.pages * kPageSize;
  Counters& c = counters();
  c.released_pages.fetch_add(r.pages, std::memory_order_relaxed);
  c.shrinks.fetch_add(1, std::memory_order_relaxed);
  c.shrunk_bytes.fetch_add(bytes, std::memory_order_relaxed);
  return bytes;
}

void populate_slot_tops(const Arena& a, std::uint32_t first, std::uint32_t count) noexcept {
  static std::atomic<bool> unsupported{false};
  if (count == 0 || unsupported.load(std::memory_order_relaxed)) return;
  iovec ranges[kCarveBatch];
  count = std::min<std::uint32_t>({count, static_cast<std::uint32_t>(std::size(ranges)), a.slots - first});
  for (std::uint32_t i = 0; i < count; ++i) {
    ranges[i].iov_base = a.base + std::size_t{first + i + 1} * a.slot_size - kPageSize;
    ranges[i].iov_len = kPageSize;
  }
  // Best effort: a page it leaves out faults in at first use, as before.
  if (::syscall(SYS_process_madvise, kPidfdSelfProcess, ranges, std::size_t{count}, MADV_POPULATE_WRITE, 0u) <
          0 &&
      errno != EINTR && errno != EAGAIN && errno != ENOMEM) {
    unsupported.store(true, std::memory_order_relaxed);
  }
}

}  // namespace goro::detail::stack_internal
