// stack/tombstone.hpp: compact parked stacks (the stack layer's half of
// goro's opt-in compaction; the policy is sched/compactor.cpp).
//
// Design ("tombstone", see ../shared/notes/compact-stacks.md)
//   * A parked stack's used bytes, [saved sp, top), are copied to
//     a right-sized heap block, and its pages are dropped and replaced by
//     guard markers (MADV_GUARD_INSTALL zaps populated pages and installs
//     the markers in one call). The slot stays reserved, so every address in
//     it stays valid, and any access to the dropped pages faults: a load or
//     store with SIGSEGV at a known address, a system call with EFAULT.
//     Nothing ever reads zeros where the stack's data was.
//   * Sealing is batched: two process_madvise calls (on the calling
//     process) for up to 64 stacks, MADV_DONTNEED then MADV_GUARD_INSTALL,
//     because each call that drops pages costs a TLB shootdown while other
//     threads of the process run, and only MADV_DONTNEED batches it.
//   * Restoring removes the markers (MADV_GUARD_REMOVE), copies the bytes
//     back (the pages fault in fresh) and frees the block.
//   * Only slots guarded with markers can be compacted: with mprotect guards
//     (kernels before 6.13) stack_can_compact() is false and nothing here is
//     used.
//
// Invariants
//   * The caller owns the stack exclusively from tombstone_save to
//     tombstone_seal and from the start of tombstone_restore to its end:
//     nothing runs on it and nothing else touches it. The stack layer does
//     not know who that owner is (sched/ decides).
//   * A sealed tombstone's pages hold guard markers and nothing else until
//     tombstone_restore or tombstone_discard.
//
// Also here: the owner side table. A slot may name an owner record kept off
// the stack (sched/ puts the records of compactable goroutines on the heap);
// reports and dumps find records through it. Reading it is
// async-signal-safe.
//
// This layer includes nothing from sched/ or above.
#pragma once

#include "stack/stack.hpp"

#include <cstddef>
#include <cstdint>

namespace goro::detail {

// Bytes below the saved stack pointer that belong to the parked context:
// none. A parked context is suspended inside a call to goro_switch_context,
// which pushes its registers and saves the stack pointer last; the x86-64
// red zone is only ever used by leaf functions, never across a call.
inline constexpr std::size_t kRedZoneBytes = 0;

// A stack's saved top while it is compacted.
struct Tombstone {
  std::byte* lo = nullptr;     // lowest saved byte
  std::byte* top = nullptr;    // the stack's top (one past the highest saved byte)
  std::byte* saved = nullptr;  // heap copy of [lo, top); nullptr when not compacted

  std::size_t bytes() const noexcept { return static_cast<std::size_t>(top - lo); }
  // The pages that are dropped and guarded.
  std::byte* page_lo() const noexcept;
  bool covers(const void* p) const noexcept {
    auto* b = static_cast<const std::byte*>(p);
    return saved != nullptr && b >= page_lo() && b < top;
  }
};

// True when compacted stacks can be guarded (MADV_GUARD_INSTALL guards and
// process_madvise). Probed once; cheap afterwards.
bool stack_can_compact() noexcept;

// Copies [sp - kRedZoneBytes, top of s) to a new heap block and fills *t.
// False (and *t untouched) if the block cannot be allocated or the used part
// is larger than max_bytes. Cost: a malloc and a copy of the used bytes.
bool tombstone_save(Tombstone* t, const StackSpan& s, const void* sp, std::size_t max_bytes) noexcept;

// Drops and guards the pages of ts[0..n) with two process_madvise calls
// per 64 stacks (one TLB shootdown). Returns how many, from the front, are sealed; the caller restores
// the others (tombstone_restore), whose pages may or may not have been
// dropped. Cost: about 1-3 us a stack (a TLB shootdown per batch).
std::size_t tombstone_seal(Tombstone* const* ts, std::size_t n) noexcept;

// Removes the guards, copies the saved bytes back and frees the block.
// `sealed` is false when undoing a failed seal (not counted as a restore).
// Cost: a madvise, a page fault per page, the copy.
void tombstone_restore(Tombstone* t, bool sealed) noexcept;

// Removes the guards of a sealed tombstone and frees the block without
// copying (the stack is being released). Cost: a madvise.
void tombstone_discard(Tombstone* t) noexcept;

// Compaction counters, process-wide.
struct TombstoneCounters {
  std::uint64_t compactions = 0;  // stacks sealed
  std::uint64_t restores = 0;     // stacks restored
  std::uint64_t saved_bytes = 0;  // bytes in heap blocks now (sum of bytes())
  std::uint64_t compacted = 0;    // stacks sealed now
};
TombstoneCounters tombstone_counters() noexcept;

// The owner record of the live slot of `s`, or nullptr if none was set.
// Async-signal-safe.
void* stack_owner(const StackSpan& s) noexcept;
// Sets (or clears, with nullptr) the owner record of `s`'s slot. Only the
// slot's owner calls it, while the slot is live. Throws std::bad_alloc if the
// arena's side table cannot be allocated (once per arena).
void stack_set_owner(const StackSpan& s, void* owner);

// Marks the slot of `s` as holding a compaction candidate (one bit per
// slot, next to the owner table; nothing if the slot's arena has no owner
// table). Thread-safe. Cost: one atomic OR.
void stack_mark_candidate(const StackSpan& s) noexcept;

// Takes every candidate mark and calls fn(owner, ctx) for each marked slot
// that still has an owner; a slot is marked again if fn returns true (look
// again later). Arenas without owners are skipped at once and each 64 slots
// cost one load, so a pass costs what the candidates cost. Lock-free:
// marks and owners set meanwhile may or may not be seen, and an owner seen
// may have been cleared since (owner records must be type-stable).
void stack_for_each_candidate(bool (*fn)(void* owner, void* ctx), void* ctx);

// If `addr` lies in the usable range of a live slot, stores its span in *out
// and returns true. Async-signal-safe.
bool stack_find_live(const void* addr, StackSpan* out) noexcept;

}  // namespace goro::detail
