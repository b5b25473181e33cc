// goro/compact.hpp: opt-in compact parked stacks.
//
// A goroutine that opted in (spawn_options::compact_after, or the process
// default set here) and has stayed parked longer than that has the used part
// of its stack copied to a right-sized heap block, and its stack page given
// back to the kernel. Its address range stays reserved and is guarded while
// compacted: a stray load or store into it is a fatal error that names the
// compacted goroutine, the goroutine (or thread) that touched it and the
// address; a system call given such an address fails with EFAULT. The stack
// is copied back when the goroutine is next switched in, on whichever worker
// runs it, before it runs.
//
// Contract for a goroutine that opts in: while it is parked, nothing else
// points into its stack (no other goroutine or thread reads or writes its
// locals). goro's own records (the goroutine record, wait records, timers,
// poll descriptors) are off its stack. A goroutine parked on a channel
// operation or a select is never compacted, because the channel writes the
// value straight into the receiver's stack.
//
// Compaction needs MADV_GUARD_INSTALL (Linux >= 6.13) and process_madvise
// on the calling process without a pidfd (PIDFD_SELF, Linux >= 6.15); on
// older kernels (and when GORO_FORCE_MPROTECT_GUARD=1) it is disabled and the
// option is ignored: compaction_supported() says which. The work runs on one
// background thread (goro-compactor), in batches, never on a worker's hot
// path, and takes at most 80% of one CPU (only while goroutines that opted
// in park faster than it compacts them); a goroutine that did not opt in
// pays nothing for it.
#pragma once

#include <goro/config.hpp>

#include <chrono>
#include <cstdint>

namespace goro {

// Sets the process-wide default for goroutines started afterwards without a
// spawn_options::compact_after of their own (not the main goroutine, which
// is never compacted); zero (the initial value) or negative means never.
// Returns the previous default. Thread-safe; cost: an atomic store.
std::chrono::nanoseconds set_compact_after(std::chrono::nanoseconds d) noexcept;
// The process-wide default. Thread-safe.
std::chrono::nanoseconds compact_after() noexcept;

// Whether this kernel lets goro compact stacks (see the file comment).
bool compaction_supported() noexcept;

// Process-wide compaction figures. Thread-safe; racy snapshot.
struct compact_stats {
  std::uint64_t compactions = 0;  // stacks compacted since the start
  std::uint64_t restores = 0;     // compacted stacks copied back
  std::uint64_t compacted = 0;    // stacks compacted now
  std::uint64_t saved_bytes = 0;  // bytes of heap holding those stacks' used parts
};
// Reads the figures above. Thread-safe; a racy snapshot.
compact_stats read_compact_stats() noexcept;

namespace this_goroutine {
// Allows (true) or forbids (false) compacting the calling goroutine's stack
// from now on, and returns the previous setting (allowed at spawn). For a
// goroutine that opted in but lends pointers into its stack during parts of
// its life (a server connection running handler code, say): forbid it
// there, allow it around the waits where nothing points in (the wait for
// the next request). Returns false and does nothing in a goroutine that did
// not opt in, or outside goroutines. Thread-safe (it concerns the caller
// only). Cost: a load and a store.
bool allow_compaction(bool allow) noexcept;
}  // namespace this_goroutine

}  // namespace goro
