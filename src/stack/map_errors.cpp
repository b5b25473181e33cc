// stack/map_errors.cpp: the errors thrown when stack address space cannot
// be mapped or a slot cannot be guarded (see arena.hpp).
//
// A failed mmap or guard call most often means the process ran out of
// mappings (vm.max_map_count), so the message counts the mappings in use,
// reads the limit and, for guards, the stacks that hold them, and says how
// to raise it.
//
// Invariant: nothing here allocates before std::system_error does. When
// mappings have run out, every allocation that needs a fresh mapping fails
// too (a sanitizer's allocator, or malloc past its heap), so the messages
// are formatted into a fixed buffer.
#include "stack/arena.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <system_error>

namespace goro::detail::stack_internal {
namespace {

// Lines of /proc/self/maps, i.e. mappings in use (error path only).
long count_mappings() noexcept {
  int fd = ::open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  long lines = 0;
  char buf[4096];
  for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) {
    for (ssize_t i = 0; i < n; ++i) lines += buf[i] == '\n';
  }
  ::close(fd);
  return lines;
}

long read_max_map_count() noexcept {
  int fd = ::open("/proc/sys/vm/max_map_count", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  char buf[32] = {};
  ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  return n > 0 ? std::strtol(buf, nullptr, 10) : -1;
}

// Slots that have a guard, i.e. stacks reserved now (live, cached, pooled
// or cold).
std::size_t count_guarded_slots() noexcept {
  std::size_t n = 0;
  for (std::uint32_t i = 0, end = arena_count(); i < end; ++i) {
    const Arena& a = arena_at(i);
    for (std::uint32_t j = 0; j < a.slots; ++j)
      n += word_guard(a.words[j].load(std::memory_order_relaxed)) != 0;
  }
  return n;
}

constexpr std::size_t kMessageMax = 512;

}  // namespace

void throw_map_failure(int err, std::size_t bytes, std::size_t slot) {
  char msg[kMessageMax];
  int n = std::snprintf(
      msg, sizeof msg,
      "goro: cannot reserve %zu bytes of address space for goroutine stacks (%zu slot(s) of %zu bytes)",
      bytes, bytes / slot, slot);
  if (err == ENOMEM && n > 0 && static_cast<std::size_t>(n) < sizeof msg) {
    std::snprintf(msg + n, sizeof msg - static_cast<std::size_t>(n),
                  "; address space or memory exhausted, or the mapping limit reached (%ld mappings in use, "
                  "vm.max_map_count is %ld)",
                  count_mappings(), read_max_map_count());
  }
  throw std::system_error(err, std::generic_category(), msg);
}

void throw_guard_failure(int err, const char* how) {
  char msg[kMessageMax];
  if (err != ENOMEM) {
    std::snprintf(msg, sizeof msg, "goro: cannot guard a goroutine stack with %s", how);
  } else {
    long limit = read_max_map_count();
    std::snprintf(
        msg, sizeof msg,
        "goro: cannot guard a goroutine stack with %s: the process reached vm.max_map_count (%ld "
        "mappings in use, limit %ld; %zu goroutine stacks exist, and without MADV_GUARD_INSTALL "
        "(Linux < 6.13) each costs 2 mappings). Raise the limit, e.g. sysctl -w vm.max_map_count=%ld",
        how, count_mappings(), limit, count_guarded_slots(), limit > 0 ? 4 * limit : 262144L);
  }
  throw std::system_error(err, std::generic_category(), msg);
}

}  // namespace goro::detail::stack_internal
