// stack/arena.cpp: the arenas stacks are carved from, and the registry
// that finds the slot holding an address (see arena.hpp).
//
// A class's first arenas are 64 MiB: as many slots as fit (one for slots
// over 64 MiB). At scale, classes of slots up to 2 MiB get 1 GiB arenas
// aligned to 1 GiB (kBigArenaBytes, arena.hpp), each its own mmap. Arenas
// are aligned to 2 MiB so that a slot never shares a page-table page with
// more neighbours than it must. Arenas of up to 64 MiB are mapped
// (MAP_FIXED) side by side into a 16 GiB PROT_NONE address-space
// reservation, so that no other mapping (a malloc arena, a thread stack, a
// sanitizer's bookkeeping) lands between them: adjacent arenas have
// identical flags and the kernel merges them into one VMA. With
// MADV_GUARD_INSTALL guards, 65,000 default stacks then cost two mappings
// (the arenas and the rest of the reservation). Under an RLIMIT_AS limit, or
// should the reservation fail, arenas are plain mmaps (which the kernel
// still tends to place, and merge, side by side).
//
// Invariants
//   * Arenas are never unmapped and a published descriptor never changes:
//     its fields are written before the release store of the arena count,
//     so signal handlers walk the registry without locks.
//   * g_registry_mu serialises the publication of new arenas only
//     (publish_arena requires it); g_reservation_mu guards the
//     reservation's bounds.
#include "stack/arena.hpp"

#include <goro/lock_guard.hpp>
#include <goro/thread_annotations.hpp>
#include "arch/mutex.hpp"

#include <sys/mman.h>
#include <sys/resource.h>

#include <bit>
#include <cerrno>
#include <new>
#include <system_error>

namespace goro::detail::stack_internal {
namespace {

// ---- registry ---------------------------------------------------------------

// Arena descriptors live in chunks allocated on demand, so the registry costs
// nothing until used and never moves a published descriptor.
constexpr std::uint32_t kChunkArenas = 1024;
constexpr std::uint32_t kMaxChunks = 256;  // 262,144 arenas

// Written only under g_registry_mu, read without it (see the invariants):
// atomics, not GORO_GUARDED_BY.
std::atomic<Arena*> g_chunks[kMaxChunks];
std::atomic<std::uint32_t> g_arena_count{0};
Mutex g_registry_mu;

// ---- mapping ------------------------------------------------------------------

constexpr int kArenaFlags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK;

// Maps `bytes` (a multiple of `align`) aligned to `align`. Tries a plain
// mmap first: the kernel places mappings top-down, so after one aligned
// arena the next one usually lands aligned right below it and merges with
// it.
std::byte* map_aligned(std::size_t bytes, std::size_t slot, std::size_t align = kHugeSpan) {
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, kArenaFlags, -1, 0);
  if (p == MAP_FAILED) throw_map_failure(errno, bytes, slot);
  if (reinterpret_cast<std::uintptr_t>(p) % align == 0) return static_cast<std::byte*>(p);
  ::munmap(p, bytes);
  std::size_t over = bytes + align;
  p = ::mmap(nullptr, over, PROT_READ | PROT_WRITE, kArenaFlags, -1, 0);
  if (p == MAP_FAILED) throw_map_failure(errno, bytes, slot);
  // Keep the highest aligned range, which stays adjacent to the arena
  // mapped above (if any).
  auto* raw = static_cast<std::byte*>(p);
  auto end = reinterpret_cast<std::uintptr_t>(raw + over) & ~(align - 1);
  auto* start = reinterpret_cast<std::byte*>(end) - bytes;
  if (start > raw) ::munmap(raw, static_cast<std::size_t>(start - raw));
  if (start + bytes < raw + over)
    ::munmap(start + bytes, static_cast<std::size_t>(raw + over - (start + bytes)));
  return start;
}

// The address-space reservation small arenas are carved from, bottom up.
constexpr std::size_t kReservationBytes = std::size_t{16} << 30;
Mutex g_reservation_mu;
std::byte* g_reserved_next GORO_GUARDED_BY(g_reservation_mu) = nullptr;
std::byte* g_reserved_end GORO_GUARDED_BY(g_reservation_mu) = nullptr;

// A reservation counts against RLIMIT_AS like any mapping: with an address
// space limit set, 16 GiB reserved ahead would starve the rest of the
// process, so arenas are then mapped one by one.
bool address_space_unlimited() noexcept {
  static const bool unlimited = [] {
    rlimit r{};
    return ::getrlimit(RLIMIT_AS, &r) == 0 && r.rlim_cur == RLIM_INFINITY;
  }();
  return unlimited;
}

// Starts a new reservation, giving back the unused rest of the old one.
bool new_reservation() noexcept GORO_REQUIRES(g_reservation_mu) {
  if (!address_space_unlimited()) return false;
  void* p = ::mmap(nullptr, kReservationBytes + kHugeSpan, PROT_NONE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) return false;
  // Left out of core files: gdb's gcore wrote all 16 GiB of it (a 17 GB
  // core for a test with three goroutines). Arenas mapped over it
  // (MAP_FIXED) are new mappings, dumped as usual.
  ::madvise(p, kReservationBytes + kHugeSpan, MADV_DONTDUMP);
  if (g_reserved_next != nullptr && g_reserved_next < g_reserved_end) {
    ::munmap(g_reserved_next, static_cast<std::size_t>(g_reserved_end - g_reserved_next));
  }
  auto* raw = static_cast<std::byte*>(p);
  g_reserved_next = reinterpret_cast<std::byte*>(round_up(reinterpret_cast<std::uintptr_t>(raw), kHugeSpan));
  g_reserved_end = g_reserved_next + kReservationBytes;
  return true;
}

// Maps `bytes` read-write at the next free address of the reservation, or
// returns null when there is no reservation to carve from.
std::byte* map_reserved(std::size_t bytes, std::size_t slot) {
  lock_guard lock(g_reservation_mu);
  if ((g_reserved_next == nullptr || g_reserved_next + bytes > g_reserved_end) && !new_reservation())
    return nullptr;
  void* p = ::mmap(g_reserved_next, bytes, PROT_READ | PROT_WRITE, kArenaFlags | MAP_FIXED, -1, 0);
  if (p == MAP_FAILED) throw_map_failure(errno, bytes, slot);
  g_reserved_next += bytes;
  return static_cast<std::byte*>(p);
}

std::byte* map_arena(std::size_t bytes, std::size_t slot) {
  if (bytes <= kArenaBytes) {
    if (std::byte* p = map_reserved(bytes, slot)) return p;
  }
  return map_aligned(bytes, slot);
}

}  // namespace

bool big_arenas_allowed() noexcept {
  return address_space_unlimited() && !new_arenas_use_mprotect();
}

// ---- registry -----------------------------------------------------------------

std::uint32_t arena_count() noexcept {
  return g_arena_count.load(std::memory_order_acquire);
}

const Arena& arena_at(std::uint32_t index) noexcept {
  return g_chunks[index / kChunkArenas].load(std::memory_order_acquire)[index % kChunkArenas];
}

namespace {

// Appends `desc` to the registry: its fields are written before the count
// that publishes it. The registry's index of it, or UINT32_MAX when the
// registry is full or out of memory.
std::uint32_t publish_arena(const Arena& desc) noexcept GORO_REQUIRES(g_registry_mu) {
  const std::uint32_t index = g_arena_count.load(std::memory_order_relaxed);
  if (index / kChunkArenas >= kMaxChunks) return UINT32_MAX;
  Arena* chunk = g_chunks[index / kChunkArenas].load(std::memory_order_relaxed);
  if (chunk == nullptr) {
    chunk = new (std::nothrow) Arena[kChunkArenas];
    if (chunk == nullptr) return UINT32_MAX;
    g_chunks[index / kChunkArenas].store(chunk, std::memory_order_release);
  }
  Arena& a = chunk[index % kChunkArenas];
  a.base = desc.base;
  a.bytes = desc.bytes;
  a.slot_size = desc.slot_size;
  a.slots = desc.slots;
  a.size_class = desc.size_class;
  a.slot_shift = desc.slot_shift;
  a.mprotect_guards = desc.mprotect_guards;
  a.words = desc.words;
  g_arena_count.store(index + 1, std::memory_order_release);
  return index;
}

}  // namespace

std::uint32_t new_arena(std::uint32_t cls, bool big) {
  const std::size_t slot = slot_size_of_class(cls);
  const std::size_t slots = arena_slots(slot, big);
  const std::size_t bytes = slots * slot;
  // Mapped to a 2 MiB multiple so the next arena starts 2 MiB aligned and
  // adjacent arenas merge into one mapping; the tail is never touched.
  const std::size_t mapped = big ? kBigArenaBytes : round_up(bytes, kHugeSpan);
  Arena desc;
  desc.mprotect_guards = new_arenas_use_mprotect();
  desc.base = big ? map_aligned(mapped, slot, kBigArenaBytes) : map_arena(mapped, slot);
  // Transparent huge pages would commit 2 MiB at a stack's first touch.
  ::madvise(desc.base, mapped, MADV_NOHUGEPAGE);
  desc.bytes = bytes;
  desc.slot_size = slot;
  desc.slots = static_cast<std::uint32_t>(slots);
  desc.size_class = cls;
  desc.slot_shift = std::has_single_bit(slot) ? static_cast<std::uint8_t>(std::countr_zero(slot)) : 0;
  desc.words = new (std::nothrow) std::atomic<std::uint32_t>[slots]();
  std::uint32_t index = UINT32_MAX;
  if (desc.words != nullptr) {
    lock_guard lock(g_registry_mu);
    index = publish_arena(desc);
  }
  if (index == UINT32_MAX) {
    ::munmap(desc.base, mapped);
    delete[] desc.words;
    throw std::system_error(ENOMEM, std::generic_category(),
                            "goro: cannot register another goroutine stack arena");
  }
  return index;
}

bool slot_at(const void* addr, SlotAt* out) noexcept {
  auto* p = static_cast<const std::byte*>(addr);
  for (std::uint32_t i = 0, n = arena_count(); i < n; ++i) {
    const Arena& a = arena_at(i);
    if (p < a.base || p >= a.base + a.bytes) continue;
    auto slot = static_cast<std::uint32_t>(a.slot_of(static_cast<std::size_t>(p - a.base)));
    *out = SlotAt{i, slot, a.words[slot].load(std::memory_order_acquire)};
    return true;
  }
  return false;
}

StackSpan slot_span(std::uint32_t index, std::uint32_t slot, std::uint32_t word) noexcept {
  const Arena& a = arena_at(index);
  StackSpan s;
  std::byte* lo = a.base + std::size_t{slot} * a.slot_size;
  s.guard = word_guard(word);
  s.base = lo + s.guard;
  s.top = lo + a.slot_size;
  s.size_class = a.size_class;
  s.arena = index;
  return s;
}

std::atomic<std::uint32_t>& slot_word_of(const StackSpan& s) noexcept {
  const Arena& a = arena_at(s.arena);
  return a.words[a.slot_of(static_cast<std::size_t>(s.top - a.base) - 1)];
}

}  // namespace goro::detail::stack_internal
