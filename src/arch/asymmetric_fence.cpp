// arch/asymmetric_fence.cpp: membarrier registration and the heavy fence
// (asymmetric_fence.hpp says what they are for).
#include "arch/asymmetric_fence.hpp"

#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace goro::detail {

namespace arch_internal {
std::atomic<bool> g_asymmetric_fence{false};
}

namespace {

long membarrier(int cmd) noexcept {
  return syscall(SYS_membarrier, cmd, 0U, 0);
}

bool register_membarrier() noexcept {
  long supported = membarrier(MEMBARRIER_CMD_QUERY);
  if (supported < 0 || (supported & MEMBARRIER_CMD_PRIVATE_EXPEDITED) == 0) return false;
  return membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) == 0;
}

}  // namespace

bool asymmetric_fence_init() noexcept {
  static const bool ok = [] {
    bool registered = register_membarrier();
    arch_internal::g_asymmetric_fence.store(registered, std::memory_order_release);
    return registered;
  }();
  return ok;
}

bool heavy_fence() noexcept {
  return membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) == 0;
}

}  // namespace goro::detail
