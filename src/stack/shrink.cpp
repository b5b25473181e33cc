// stack/shrink.cpp: giving back the pages of parked goroutines (Go's
// shrinkstack, done in place), committing pages ahead of use, and measuring
// how deep a stack grew.
//
// Go halves a stack that uses less than a quarter of it, by copying. goro
// cannot move stacks, so it gives back pages instead: everything resident
// below a parked goroutine's saved stack pointer, minus a margin, is dead
// frames. MADV_DONTNEED drops them at once (RSS falls immediately, unlike
// MADV_FREE) and the next touch faults in a zero page, so the goroutine
// notices nothing but the cost of faults if it grows again.
//
// Invariants
//   * Only [base, sp - kShrinkMargin) rounded down to a page is touched, and
//     never the top kKeepTopBytes: the goroutine record lives there.
//   * The goroutine is parked: nothing runs on the stack while its pages are
//     counted and dropped, so the count given to the statistics is exact.
//
// Hysteresis: a goroutine that recurses deeply in a loop would otherwise
// fault the same pages in after every shrink (a fault costs 1-2.5 us a
// page, several times what MADV_DONTNEED took). After a shrink the
// goroutine is left alone for 10 ms, a window doubled for every further
// shrink that comes within a second of the previous one (up to 320 ms).
// And to keep parks cheap, a goroutine is looked at (one mincore) at most
// once per 10 ms.
#include "stack/arena.hpp"

#include <sys/mman.h>

#include <algorithm>

namespace goro::detail {

using namespace stack_internal;

namespace {

constexpr std::size_t kShrinkMargin = 8 * kKiB;
constexpr std::size_t kShrinkThreshold = 16 * kKiB;  // give back only more than this
constexpr std::int64_t kMs = 1'000'000;
constexpr std::int64_t kShrinkWindow = 10 * kMs;
constexpr std::int64_t kCheckInterval = 10 * kMs;
constexpr std::int64_t kBurst = 1000 * kMs;  // shrinks closer than this escalate the window
constexpr std::uint32_t kMaxDoublings = 5;

bool recently(std::int64_t then, std::int64_t now, std::int64_t window) noexcept {
  return then != 0 && now - then < window;
}

bool too_soon(const ShrinkState& st, std::int64_t now) noexcept {
  std::int64_t window = kShrinkWindow << std::min(st.recent_shrinks, kMaxDoublings);
  return recently(st.last_shrink_ns, now, window) || recently(st.last_check_ns, now, kCheckInterval);
}

void note_shrink(ShrinkState& st, std::int64_t now) noexcept {
  st.recent_shrinks = recently(st.last_shrink_ns, now, kBurst) ? st.recent_shrinks + 1 : 0;
  st.last_shrink_ns = now;
}

// The highest address a shrink may give back up to (exclusive), or null if
// sp is not on the stack.
std::byte* shrink_limit(const StackSpan& s, const void* sp) noexcept {
  auto* p = static_cast<const std::byte*>(sp);
  if (p < s.base || p > s.top) return nullptr;
  std::byte* keep = s.top - kKeepTopBytes;
  if (p - s.base <= static_cast<std::ptrdiff_t>(kShrinkMargin)) return nullptr;
  return std::min(page_down(p - kShrinkMargin), keep);
}

}  // namespace

std::size_t stack_shrink_below(const StackSpan& s, const void* sp) noexcept {
  std::byte* hi = shrink_limit(s, sp);
  if (hi == nullptr || hi <= s.base) return 0;
  Residency r = scan_resident(s.base, hi);
  if (r.pages * kPageSize <= kShrinkThreshold) return 0;
  return give_back(r, hi);
}

std::size_t stack_shrink_parked(const StackSpan& s, const void* sp, ShrinkState& st,
                                std::int64_t now_ns) noexcept {
  if (too_soon(st, now_ns)) return 0;
  st.last_check_ns = now_ns;
  std::size_t bytes = stack_shrink_below(s, sp);
  if (bytes != 0) note_shrink(st, now_ns);
  return bytes;
}

std::size_t stack_resident_depth(const StackSpan& s, std::size_t max_bytes) noexcept {
  std::byte* lo = s.limit() > max_bytes ? s.top - round_up(max_bytes, kPageSize) : s.base;
  Residency r = scan_resident(lo, s.top);
  return r.pages == 0 ? 0 : static_cast<std::size_t>(s.top - r.lowest);
}

void stack_commit(const StackSpan& s, std::size_t bytes) noexcept {
  bytes = std::min(round_up(bytes, kPageSize), s.limit());
  if (bytes == 0) return;
  std::byte* lo = s.top - bytes;
  if (::madvise(lo, bytes, MADV_POPULATE_WRITE) == 0) return;
  // Kernels before 5.14: a write fault per page. Write back what is there:
  // the top page may already hold the goroutine record.
  for (std::size_t off = kPageSize; off <= bytes; off += kPageSize) {
    auto* v = reinterpret_cast<volatile unsigned char*>(s.top - off);
    *v = *v;
  }
}

}  // namespace goro::detail
