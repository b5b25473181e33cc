// arch/asymmetric_fence.hpp: a memory fence split between a frequent side
// that pays nothing and a rare side that pays for both (Linux membarrier).
//
// Dekker's pattern (each side stores its flag, then loads the other's)
// needs a full fence on both sides, and on x86-64 a full fence or a locked
// instruction costs as much as the compare-and-swap it would replace. When
// one side runs millions of times a second and the other almost never, the
// frequent side may use light_fence(), a compiler barrier, if the rare side
// calls heavy_fence(): membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) runs a
// full fence on every CPU that runs a thread of this process, and a thread
// that is not running has passed one in its last context switch. Each
// thread's instruction stream is thereby cut at one point: what came before
// it is visible to the heavy side once heavy_fence() returns, and what comes
// after it sees everything the heavy side wrote before calling it.
//
// heavy_fence() costs a system call and an interrupt on every other CPU the
// process runs on (microseconds); only paths already that slow may call it.
// Without membarrier (kernels before 4.14, a seccomp filter that denies it)
// asymmetric_fence_available() is false and callers must keep both sides
// on locked instructions.
#pragma once

#include <atomic>

namespace goro::detail {

// Registers this process for expedited membarrier, once; later calls only
// report the result. Thread-safe. Call before any thread relies on
// asymmetric_fence_available().
bool asymmetric_fence_init() noexcept;

// The frequent side's half: stops the compiler from moving memory accesses
// across it, and nothing else.
inline void light_fence() noexcept {
  std::atomic_signal_fence(std::memory_order_seq_cst);
}

// The rare side's half. Requires asymmetric_fence_available(). False if
// the kernel could not run it (out of memory for its CPU mask): then no
// fence happened and the caller must not act as if one had.
[[nodiscard]] bool heavy_fence() noexcept;

namespace arch_internal {
extern std::atomic<bool> g_asymmetric_fence;
}

// Whether membarrier is registered, so heavy_fence() may be called.
// Thread-safe; one relaxed load of a word written only by
// asymmetric_fence_init().
inline bool asymmetric_fence_available() noexcept {
  return arch_internal::g_asymmetric_fence.load(std::memory_order_relaxed);
}

}  // namespace goro::detail
