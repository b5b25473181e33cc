// sched/compactor.hpp: compacting the stacks of goroutines parked long
// (the policy half of goro/compact.hpp; the mechanics are stack/tombstone).
//
// Design
//   * Only goroutines that opted in are compactable. Their records live on
//     the heap (a type-stable pool: a record is never returned to malloc, so
//     a stale pointer to it reads a record, as with in-stack records), their
//     wait records and sleep timer are in the record, and the netpoller's
//     descriptors are pooled, so waking one touches nothing on its stack.
//   * A compactable goroutine is named by its stack slot's owner entry
//     (stack layer), and its park marks the slot a candidate. A background
//     thread (started on the first compactable spawn) takes the candidates
//     every quarter of the shortest compact_after seen (at least every
//     millisecond, at most every 250 ms, and never more than 80% of the
//     time)
//     and compacts, in batches of 64 with one TLB shootdown each, those
//     parked longer than their compact_after (kept in whole milliseconds,
//     rounded up); younger ones stay candidates. Nothing is done on a
//     worker's park path beyond a compare-and-swap and an atomic OR, and
//     only for compactable goroutines.
//   * compact_word = coarse park time in ms << 32 | switch-in count << 2 |
//     CompactState. States:
//       kOwned       running, runnable, or parked but not yet released by
//                    the worker that parked it: not compactable.
//       kResident    parked and released: the compactor may take it.
//       kCompacting  the compactor owns the stack (copying, sealing), or
//                    the worker switching it in is restoring it.
//       kCompacted   sealed; the next switch-in restores it.
//     Whoever switches a compactable goroutine in claims it first
//     (compact_claim_for_run): it waits out kCompacting, moves the word to
//     (count + 1, kOwned), or, if it was kCompacted, to kCompacting while it
//     restores the stack on its own worker and to (count + 1, kOwned) after,
//     before the switch: a dump never reads a stack still being restored. The worker that parked it releases
//     it (kOwned to kResident) after the park commit, with a compare-and-swap
//     on the count it read before the commit: if the goroutine was readied
//     and switched in meanwhile, the count differs and the release fails.
//     So the compactor never takes a goroutine that is running or about to.
//   * A goroutine parked in a channel operation or a select is skipped: the
//     peer writes the value straight into its stack.
//
// Invariants
//   * A compacted goroutine is never switched to: compact_claim_for_run runs
//     before every switch to a compactable goroutine (mark_running).
//   * saved_stack != nullptr exactly while the stack is sealed; only the
//     owner of the word's state touches saved_stack and saved_bytes.
#pragma once

#include "sched/goroutine.hpp"

#include <cstdint>

namespace goro::detail {

enum class CompactState : std::uint8_t {
  kOwned = 0,
  kResident = 1,
  kCompacting = 2,
  kCompacted = 3,
};

inline CompactState compact_state_of(std::uint64_t word) noexcept {
  return static_cast<CompactState>(word & 3);
}

// The compaction delay for a goroutine spawned with `opts`, in whole
// milliseconds rounded up (0: not compactable, also when the kernel cannot
// compact).
std::uint32_t compact_after_for(const spawn_options& opts) noexcept;

// A heap record for a compactable goroutine (constructed, word kOwned,
// compact_after_ms set), and its return. Cost: a spin lock; a 64-record
// chunk allocation now and then.
Goroutine* compact_record_alloc(std::uint32_t compact_after_ms);
void compact_record_free(Goroutine* g) noexcept;

// Tells the compactor about a new compactable goroutine: starts the compactor thread if needed (throws
// std::system_error if it cannot), shortens its scan period if needed.
// Cost: an atomic load, a mutex only when the period shrinks.
void compactor_register(Goroutine* g);

// Before every switch to a compactable goroutine, on the worker that will
// run it: see the file comment. Cost: one compare-and-swap, plus the restore
// (a madvise, a page fault, a copy; 3-4 us) if it was compacted.
void compact_claim_for_run(Goroutine* g) noexcept;

// What the worker that parked g reads before the park commit (after it, g
// may run, exit and its record be reused).
struct ParkSnapshot {
  std::uint64_t word = 0;
  StackSpan stack;
};
ParkSnapshot compact_park_snapshot(Goroutine* g) noexcept;

// The worker that parked g, after the commit: marks g compactable from
// `now_ns` on, and its slot a candidate, unless g was switched in meanwhile.
// g may have exited by then (records are type-stable; the switch-in count
// in the snapshot makes the release fail).
void compact_release_parked(Goroutine* g, const ParkSnapshot& snapshot, std::int64_t now_ns) noexcept;

// A stack being given back while its goroutine is compacted (the runtime is
// ending): removes the guards and frees the saved copy.
void compact_discard(Goroutine* g) noexcept;

// Stops the compactor thread (run's end); restarted by the next register.
void compactor_stop() noexcept;

// The saved range of a compacted goroutine (saved is null if none).
Tombstone compact_tombstone_of(const Goroutine* g) noexcept;

// Brackets code that walks the frames of parked goroutines (dumps, fatal
// reports): no stack is sealed in between, and compact_pause_begin returns
// once a batch being sealed is done (after about 100,000 spins at most when
// `bounded`, for a fatal report). Stacks already compacted stay compacted:
// check compact_stack_readable. Thread-safe; nests. Cost: two atomics.
void compact_pause_begin(bool bounded = false) noexcept;
void compact_pause_end() noexcept;

// Whether g's stack holds its frames now (not compacted or being
// compacted). Racy: for dumps, which print a compacted goroutine without
// frames.
bool compact_stack_readable(Goroutine* g) noexcept;

// The compactable goroutine whose compacted stack contains `addr`, or
// nullptr. Async-signal-safe (for the fault handler).
const Goroutine* compacted_goroutine_at(const void* addr) noexcept;

}  // namespace goro::detail
