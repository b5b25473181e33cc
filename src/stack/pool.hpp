// stack/pool.hpp: the global pool of free stacks, one per size class (Go's
// stackpool), shared by the files that hand stacks out (alloc.cpp), cache
// them per processor (cache.cpp) and trim them (trim.cpp). Nothing outside
// src/stack includes this.
//
// Where a free stack lives
//   1. A processor's StackCache: bins keyed by exact limit (a slot's guard
//      fits one limit; changing it is a syscall). No lock, no syscall.
//   2. The global pool of its size class, "resident": stacks that keep
//      whatever pages their last goroutine touched, in a ring that is LIFO
//      at one end (reuse) and FIFO at the other (the scavenger). One spin
//      lock per class.
//   3. The same pool, "cold": every page given back, only the address range
//      and the guard kept. Cold slots are reused before new ones are carved,
//      so address space is recycled; they cost no memory beyond page tables.
//   4. Never carved: the rest of the class's current arena (its own lock,
//      ClassPool::carve_mu, since carving makes system calls).
//
// Invariants
//   * A stack is in exactly one place: live (its goroutine), one cache bin,
//     the resident ring or the cold list of its class pool, or a batch the
//     scavenger is trimming. Its slot word says which (kLive, kCached,
//     kPooled, kCold; a batch being trimmed is still kPooled; a cold stack
//     in a cache bin keeps kCold, and a fresh one kUncarved, so that
//     stack_acquire can tell the caller it is empty).
//   * Every stack in a cache or in the resident ring is guarded for its
//     current limit; cold slots may have a guard for another limit (or none
//     if installing it failed), fixed up by fit_guard when taken.
//   * The ring's and cold's capacities are >= the slots ever carved for the
//     class, so neither reallocates while taking stacks back (noexcept
//     paths): they grow when an arena is added.
//   * Pools are never destroyed: stacks may be released by thread_local
//     destructors after static ones ran.
#pragma once

#include "stack/arena.hpp"
#include "stack/span_ring.hpp"

#include <goro/lock_guard.hpp>
#include <goro/thread_annotations.hpp>
#include "arch/mutex.hpp"
#include "arch/spinlock.hpp"

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <vector>

namespace goro::detail::stack_internal {

struct ClassPool {
  explicit ClassPool(std::uint32_t c) : cls(c), slot(slot_size_of_class(c)) {}
  // Short holds and no system call: the free lists.
  SpinLock mu;
  const std::uint32_t cls;
  const std::size_t slot;
  SpanRing resident GORO_GUARDED_BY(mu);
  std::vector<StackSpan> cold GORO_GUARDED_BY(mu);      // nothing resident
  std::size_t carved_capacity GORO_GUARDED_BY(mu) = 0;  // slots in all arenas of this class
  // Carving makes system calls: a guard call and a populate call per 64
  // slots, an mmap per arena, and the guards of a whole 1 GiB arena (about
  // 1.3 ms for 4,681 default slots, once per arena). So it has a lock of
  // its own, a blocking one, taken before `mu` when both are held: a
  // processor refilling or spilling its cache never waits for a carve.
  Mutex carve_mu;
  // The carving state: the arena being carved, its next slot, and the end
  // of the slots below it already guarded for guarded_limit.
  std::uint32_t arena GORO_GUARDED_BY(carve_mu) = UINT32_MAX;
  std::uint32_t next_slot GORO_GUARDED_BY(carve_mu) = 0;
  std::uint32_t guarded_end GORO_GUARDED_BY(carve_mu) = 0;
  // The end of the slots whose top pages were faulted in ahead of use
  // (populate_slot_tops), and how many arenas the class has.
  std::uint32_t populated_end GORO_GUARDED_BY(carve_mu) = 0;
  std::uint32_t arenas GORO_GUARDED_BY(carve_mu) = 0;
  std::size_t guarded_limit GORO_GUARDED_BY(carve_mu) = 0;
};

// Stacks in all resident rings; read without locks by the scavenger.
extern std::atomic<std::size_t> g_pooled_resident;

// The pool of class `cls` if it exists yet. Takes a lock only for classes
// of slots over 120 MiB.
ClassPool* find_pool(std::uint32_t cls) noexcept;
// The pool of class `cls`, made on first use. Throws std::bad_alloc.
ClassPool& pool_for(std::uint32_t cls);

// Calls fn(pool, ctx) for every pool that exists.
void for_each_pool(void (*fn)(ClassPool&, void*), void* ctx);
template <typename F>
void for_each_pool(F&& f) {
  for_each_pool([](ClassPool& p, void* ctx) { (*static_cast<std::remove_reference_t<F>*>(ctx))(p); }, &f);
}

// Moves up to n free stacks of exactly `limit` to out[]: resident ones
// first (*resident says how many), then cold ones. No syscall.
int take_matching(ClassPool& p, std::size_t limit, StackSpan* out, int n, int* resident) noexcept;

// Takes back n stacks of pool p, untrimmed, and wakes the scavenger if the
// pools now hold more than the retained target. No syscall (unless the
// scavenger must be woken from its sleep: one futex wake per burst).
void pool_put(ClassPool& p, const StackSpan* spans, std::size_t n) noexcept;

// A stack straight from the pool (no cache, or a cache miss the pool could
// not refill), its guard fitted to `limit`. Throws std::system_error when
// no slot can be mapped or guarded.
StackSpan acquire_from_pool(ClassPool& p, std::size_t limit);

}  // namespace goro::detail::stack_internal
