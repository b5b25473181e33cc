// sched/spawn_sites.cpp: the per-site stack depth table (see spawn_sites.hpp).
#include "sched/spawn_sites.hpp"

#include "stack/stack.hpp"

#include <algorithm>
#include <atomic>
#include <cstdint>

namespace goro::detail {
namespace {

constexpr std::size_t kSites = 1024;
constexpr std::size_t kProbe = 8;
// A sample is a mincore, which measured 22 us a call (strace -c, bench_park
// 100000) on a shadow-paging VM host; one in 64 made it 0.6 us of each
// fresh goroutine's exit there. A burst of a few hundred spawns still
// yields a sample.
constexpr std::uint32_t kSampleEvery = 256;
// Deeper stacks are not committed ahead: a goroutine that recursed deeply
// once should fault in its pages as it needs them.
constexpr std::size_t kMaxCommit = 64 * 1024;

struct Site {
  std::atomic<const void*> pc{nullptr};
  std::atomic<std::uint32_t> bytes{0};
};
Site g_sites[kSites];

std::size_t slot_of(const void* pc) noexcept {
  auto v = reinterpret_cast<std::uintptr_t>(pc);
  v ^= v >> 17;
  v *= 0x9e3779b97f4a7c15ull;
  return static_cast<std::size_t>(v >> 40) % kSites;
}

// The entry of `pc`, claiming an empty one when `claim`; null if none.
Site* find(const void* pc, bool claim) noexcept {
  for (std::size_t i = 0, at = slot_of(pc); i < kProbe; ++i, at = (at + 1) % kSites) {
    const void* seen = g_sites[at].pc.load(std::memory_order_acquire);
    if (seen == pc) return &g_sites[at];
    if (seen == nullptr) {
      if (!claim) return nullptr;
      if (g_sites[at].pc.compare_exchange_strong(seen, pc, std::memory_order_acq_rel) || seen == pc)
        return &g_sites[at];
    }
  }
  return nullptr;
}

}  // namespace

std::size_t spawn_site_plan(const void* site, std::uint32_t& spawns, bool* measure) noexcept {
  *measure = false;
  if (site == nullptr) return 0;
  Site* s = find(site, false);
  ++spawns;
  if (spawns % kSampleEvery == 0 || s == nullptr || s->bytes.load(std::memory_order_relaxed) == 0) {
    *measure = spawns % kSampleEvery == 0;
    return 0;
  }
  std::size_t bytes = s->bytes.load(std::memory_order_relaxed);
  return bytes > kPageSize ? bytes : 0;
}

void spawn_site_learn(const void* site, const StackSpan& stack) noexcept {
  Site* s = find(site, true);
  if (s == nullptr) return;
  auto seen = static_cast<std::uint32_t>(stack_resident_depth(stack, kMaxCommit));
  std::uint32_t old = s->bytes.load(std::memory_order_relaxed);
  std::uint32_t next = old == 0 || seen >= old ? seen : old - (old - seen) / 4;
  s->bytes.store(std::max<std::uint32_t>(next, 1), std::memory_order_relaxed);
}

}  // namespace goro::detail
