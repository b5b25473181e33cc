// bench/slot_layout.hpp: goro's stack-slot layout and its batched guard
// install, for the benchmarks that measure what the kernel charges for them
// without the runtime (fresh_slots.cpp, guard_revisit.cpp,
// directory_flood.cpp). They mirror src/stack (arena.hpp, guard.cpp):
// 64 MiB arenas, 224 KiB slots by default, 16 KiB guards installed 64
// ranges per process_madvise.
#pragma once

#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif

namespace bench {

inline constexpr std::size_t kArenaBytes = std::size_t{64} << 20;
inline constexpr std::size_t kSlotBytes = 224 * 1024;
inline constexpr std::size_t kGuardBytes = 16 * 1024;
inline constexpr std::size_t kGuardBatch = 64;
// The calling process for process_madvise, as the stack layer names it.
inline constexpr int kPidfdSelfProcess = -10001;

// Installs guard markers on `n` ranges with one process_madvise; 0, or the
// errno of the failure (Linux before 6.13 has no MADV_GUARD_INSTALL).
inline int install_guards(const iovec* ranges, std::size_t n) {
  long r = ::syscall(SYS_process_madvise, kPidfdSelfProcess, ranges, n, MADV_GUARD_INSTALL, 0u);
  return r < 0 ? errno : 0;
}

}  // namespace bench
