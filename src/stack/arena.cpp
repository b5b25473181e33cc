// stack/arena.cpp: arenas, slot guards and residency (see arena.hpp).
//
// Arenas
//   Small classes (slots up to 2 MiB) share 64 MiB arenas; a slot class up
//   to 64 MiB gets as many slots as fit in 64 MiB; bigger slots get an arena
//   each. Arenas are aligned to 2 MiB so that a slot never shares a
//   page-table page with more neighbours than it must. Arenas of up to
//   64 MiB are mapped (MAP_FIXED) side by side into a 16 GiB PROT_NONE
//   address-space reservation, so that no other mapping (a malloc arena, a
//   thread stack, a sanitizer's bookkeeping) lands between them: adjacent
//   arenas have identical flags and the kernel merges them into one VMA.
//   With MADV_GUARD_INSTALL guards, 65,000 default stacks then cost two
//   mappings (the arenas and the rest of the reservation). Under an
//   RLIMIT_AS limit, or should the reservation fail, arenas are plain mmaps
//   (which the kernel still tends to place, and merge, side by side).
//
// Guards
//   A guard is the whole of a slot below its usable range. It is made with
//   MADV_GUARD_INSTALL (Linux >= 6.13: page-table markers, no VMA split,
//   kept by MADV_DONTNEED) when a one-time probe shows the kernel has it,
//   else with mprotect(PROT_NONE), which splits the arena into 2 VMAs per
//   slot. The mode is fixed per arena at its creation, so forcing mprotect
//   (for tests) never confuses slots already guarded the other way. Guard
//   sizes change only when a slot is reused for a different limit of the
//   same class; pages becoming guard are given back (and counted) first.
//   The slot word is updated only after the kernel call succeeded: a slot
//   is never handed out without its guard.
#include "stack/arena.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <system_error>

#if defined(GORO_SANITIZER)
#if defined(__SANITIZE_ADDRESS__)
#define GORO_STACK_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define GORO_STACK_ASAN 1
#endif
#endif
#endif
#if defined(GORO_STACK_ASAN)
#include <sanitizer/asan_interface.h>
#endif

namespace goro::detail::stack_internal {
namespace {

// ---- size classes ---------------------------------------------------------

// Small classes step by 32 KiB from 64 KiB to 2 MiB: page-table cost is
// 4 KiB per 2 MiB of slots, so a slot a little smaller than a power of two
// (224 KiB for the default limit) keeps an idle goroutine under 4.5 KiB.
constexpr std::size_t kSlotStep = 32 * kKiB;
constexpr std::uint32_t kSmallClasses = (kHugeSpan - kMinSlot) / kSlotStep + 1;  // 64 KiB .. 2 MiB

// ---- registry ---------------------------------------------------------------

// Arena descriptors live in chunks allocated on demand, so the registry costs
// nothing until used and never moves a published descriptor.
constexpr std::uint32_t kChunkArenas = 1024;
constexpr std::uint32_t kMaxChunks = 256;  // 262,144 arenas

std::atomic<Arena*> g_chunks[kMaxChunks];
std::atomic<std::uint32_t> g_arena_count{0};
std::mutex g_registry_mu;  // serialises new arenas only

// ---- guard mode -------------------------------------------------------------

std::atomic<bool> g_force_mprotect{false};

bool env_forces_mprotect() noexcept {
  static const bool forced = [] {
    const char* v = std::getenv("GORO_FORCE_MPROTECT_GUARD");
    return v != nullptr && v[0] == '1';
  }();
  return forced;
}

// Whether this kernel has MADV_GUARD_INSTALL, probed once on a scratch page
// (EINVAL on kernels before 6.13).
bool kernel_has_guard_install() noexcept {
  static const bool has = [] {
    void* p = ::mmap(nullptr, 2 * kPageSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return false;
    bool ok = ::madvise(p, kPageSize, MADV_GUARD_INSTALL) == 0;
    ::munmap(p, 2 * kPageSize);
    return ok;
  }();
  return has;
}

bool new_arenas_use_mprotect() noexcept {
  return g_force_mprotect.load(std::memory_order_relaxed) || env_forces_mprotect() ||
         !kernel_has_guard_install();
}

// ---- error reports ------------------------------------------------------------

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

// The messages are formatted into a fixed buffer: when mappings have run
// out, every allocation that needs a fresh mapping fails too (a
// sanitizer's allocator, or malloc past its heap), so the only ones left
// are those std::system_error itself makes.
constexpr std::size_t kMessageMax = 512;

[[noreturn]] void throw_map_failure(int err, std::size_t bytes, std::size_t slot) {
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

[[noreturn]] void throw_guard_failure(int err, const char* how) {
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

// ---- mapping and guarding ---------------------------------------------------------

constexpr int kArenaFlags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK;

bool huge_aligned(const void* p) noexcept {
  return reinterpret_cast<std::uintptr_t>(p) % kHugeSpan == 0;
}

// Maps `bytes` (a multiple of 2 MiB) aligned to 2 MiB. Tries a plain mmap
// first: the kernel places mappings top-down, so after one aligned arena
// the next one usually lands aligned right below it and merges with it.
std::byte* map_aligned(std::size_t bytes, std::size_t slot) {
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, kArenaFlags, -1, 0);
  if (p == MAP_FAILED) throw_map_failure(errno, bytes, slot);
  if (huge_aligned(p)) return static_cast<std::byte*>(p);
  ::munmap(p, bytes);
  std::size_t over = bytes + kHugeSpan;
  p = ::mmap(nullptr, over, PROT_READ | PROT_WRITE, kArenaFlags, -1, 0);
  if (p == MAP_FAILED) throw_map_failure(errno, bytes, slot);
  // Keep the highest aligned range, which stays adjacent to the arena
  // mapped above (if any).
  auto* raw = static_cast<std::byte*>(p);
  auto end = reinterpret_cast<std::uintptr_t>(raw + over) & ~(kHugeSpan - 1);
  auto* start = reinterpret_cast<std::byte*>(end) - bytes;
  if (start > raw) ::munmap(raw, static_cast<std::size_t>(start - raw));
  if (start + bytes < raw + over)
    ::munmap(start + bytes, static_cast<std::size_t>(raw + over - (start + bytes)));
  return start;
}

// The address-space reservation small arenas are carved from, bottom up.
constexpr std::size_t kReservationBytes = std::size_t{16} << 30;
std::mutex g_reservation_mu;
std::byte* g_reserved_next = nullptr;
std::byte* g_reserved_end = nullptr;

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
bool new_reservation() noexcept {
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
  std::lock_guard lock(g_reservation_mu);
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

// madvise for guard markers; interrupted calls are retried (the kernel may
// give up early when it races with a fault).
int guard_madvise(std::byte* lo, std::byte* hi, int advice) noexcept {
  for (int tries = 0; tries < 8; ++tries) {
    if (::madvise(lo, static_cast<std::size_t>(hi - lo), advice) == 0) return 0;
    if (errno != EINTR && errno != EAGAIN) return errno;
  }
  return errno;
}

void protect(const Arena& a, std::byte* lo, std::byte* hi) {
  if (!a.mprotect_guards) {
    if (int err = guard_madvise(lo, hi, MADV_GUARD_INSTALL)) throw_guard_failure(err, "MADV_GUARD_INSTALL");
  } else if (::mprotect(lo, static_cast<std::size_t>(hi - lo), PROT_NONE) != 0) {
    throw_guard_failure(errno, "mprotect(PROT_NONE)");
  }
}

void unprotect(const Arena& a, std::byte* lo, std::byte* hi) {
  if (!a.mprotect_guards) {
    if (int err = guard_madvise(lo, hi, MADV_GUARD_REMOVE)) throw_guard_failure(err, "MADV_GUARD_REMOVE");
  } else if (::mprotect(lo, static_cast<std::size_t>(hi - lo), PROT_READ | PROT_WRITE) != 0) {
    throw_guard_failure(errno, "mprotect(PROT_READ|PROT_WRITE)");
  }
}

// ---- residency --------------------------------------------------------------

// mincore vector on the stack: 2 KiB covers 8 MiB per call and keeps the
// shrink path (run on a worker's system stack) well under 4 KiB of locals.
constexpr std::size_t kScanChunkPages = 2048;
constexpr std::size_t kScanGap = 16 * kMiB;

}  // namespace

// ---- size classes -------------------------------------------------------------

std::size_t slot_size_for_limit(std::size_t limit) noexcept {
  std::size_t need = limit + kMinGuard;
  if (need <= kHugeSpan) return std::max(kMinSlot, round_up(need, kSlotStep));
  return round_up(need, kHugeSpan);
}

std::uint32_t class_of_slot(std::size_t slot) noexcept {
  if (slot <= kHugeSpan) return static_cast<std::uint32_t>((slot - kMinSlot) / kSlotStep);
  return static_cast<std::uint32_t>(slot / kHugeSpan + (kSmallClasses - 2));
}

std::size_t slot_size_of_class(std::uint32_t cls) noexcept {
  if (cls < kSmallClasses) return kMinSlot + cls * kSlotStep;
  return (cls - (kSmallClasses - 2)) * kHugeSpan;
}

// ---- registry -----------------------------------------------------------------

std::uint32_t arena_count() noexcept {
  return g_arena_count.load(std::memory_order_acquire);
}

const Arena& arena_at(std::uint32_t index) noexcept {
  return g_chunks[index / kChunkArenas].load(std::memory_order_acquire)[index % kChunkArenas];
}

std::uint32_t new_arena(std::uint32_t cls) {
  const std::size_t slot = slot_size_of_class(cls);
  const std::size_t slots = slot <= kArenaBytes ? kArenaBytes / slot : 1;
  const std::size_t bytes = slots * slot;
  // Mapped to a 2 MiB multiple so the next arena starts 2 MiB aligned and
  // adjacent arenas merge into one mapping; the tail is never touched.
  const std::size_t mapped = round_up(bytes, kHugeSpan);
  const bool use_mprotect = new_arenas_use_mprotect();
  std::byte* base = map_arena(mapped, slot);
  // Transparent huge pages would commit 2 MiB at a stack's first touch.
  ::madvise(base, mapped, MADV_NOHUGEPAGE);
  auto* words = new (std::nothrow) std::atomic<std::uint32_t>[slots]();
  std::lock_guard lock(g_registry_mu);
  std::uint32_t index = g_arena_count.load(std::memory_order_relaxed);
  Arena* chunk = index / kChunkArenas < kMaxChunks
                     ? g_chunks[index / kChunkArenas].load(std::memory_order_relaxed)
                     : nullptr;
  if (chunk == nullptr && index / kChunkArenas < kMaxChunks) {
    chunk = new (std::nothrow) Arena[kChunkArenas];
    if (chunk != nullptr) g_chunks[index / kChunkArenas].store(chunk, std::memory_order_release);
  }
  if (words == nullptr || chunk == nullptr) {
    ::munmap(base, mapped);
    delete[] words;
    throw std::system_error(ENOMEM, std::generic_category(),
                            "goro: cannot register another goroutine stack arena");
  }
  Arena& a = chunk[index % kChunkArenas];
  a.base = base;
  a.bytes = bytes;
  a.slot_size = slot;
  a.slots = static_cast<std::uint32_t>(slots);
  a.size_class = cls;
  a.slot_shift = std::has_single_bit(slot) ? static_cast<std::uint8_t>(std::countr_zero(slot)) : 0;
  a.mprotect_guards = use_mprotect;
  a.words = words;
  g_arena_count.store(index + 1, std::memory_order_release);
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

void fit_guard(StackSpan& s, std::size_t limit) {
  std::byte* new_base = s.top - limit;
  if (new_base == s.base && s.guard != 0) return;
  const Arena& a = arena_at(s.arena);
  if (new_base > s.base) {
    if (s.guard != 0) give_back(s.base, new_base);  // a slot never guarded was never touched
    protect(a, s.base, new_base);
  } else {
    unprotect(a, new_base, s.base);
  }
  SlotState st = word_state(slot_word_of(s).load(std::memory_order_relaxed));
  s.guard += static_cast<std::size_t>(new_base - s.base);
  s.base = new_base;
  set_slot_state(s, st);
}

std::uint32_t pre_guard_slots(std::uint32_t index, std::uint32_t first, std::uint32_t count,
                              std::size_t limit) noexcept {
  // The calling process, named without a pidfd (Linux 6.15's
  // PIDFD_SELF_THREAD_GROUP): nothing to reopen after a fork.
  constexpr int kPidfdSelfProcess = -10001;
  static std::atomic<bool> unsupported{false};
  const Arena& a = arena_at(index);
  if (a.mprotect_guards || unsupported.load(std::memory_order_relaxed) || a.slot_size <= limit) return 0;
  const std::size_t guard = a.slot_size - limit;
  iovec ranges[64];
  count = std::min<std::uint32_t>({count, static_cast<std::uint32_t>(std::size(ranges)), a.slots - first});
  for (std::uint32_t i = 0; i < count; ++i) {
    ranges[i].iov_base = a.base + std::size_t{first + i} * a.slot_size;
    ranges[i].iov_len = guard;
  }
  long done =
      ::syscall(SYS_process_madvise, kPidfdSelfProcess, ranges, std::size_t{count}, MADV_GUARD_INSTALL, 0u);
  if (done < 0) {
    if (errno != EINTR && errno != EAGAIN) unsupported.store(true, std::memory_order_relaxed);
    return 0;
  }
  // Ranges are advised in order; a short count covers whole slots first.
  return static_cast<std::uint32_t>(static_cast<std::size_t>(done) / guard);
}

// ---- residency ----------------------------------------------------------------

Residency scan_resident(std::byte* lo, std::byte* hi) noexcept {
  unsigned char vec[kScanChunkPages];
  Residency r{0, hi};
  for (std::byte* cur = hi; cur > lo && static_cast<std::size_t>(r.lowest - cur) < kScanGap;) {
    std::size_t n = std::min(kScanChunkPages, static_cast<std::size_t>(cur - lo) / kPageSize);
    std::byte* from = cur - n * kPageSize;
    if (::mincore(from, n * kPageSize, vec) != 0) break;
    for (std::size_t i = n; i-- > 0;) {
      if (vec[i] & 1) {
        ++r.pages;
        r.lowest = from + i * kPageSize;
      }
    }
    cur = from;
  }
  return r;
}

std::size_t give_back(std::byte* lo, std::byte* hi) noexcept {
  return hi <= lo ? 0 : give_back(scan_resident(lo, hi), hi);
}

std::size_t give_back(const Residency& r, std::byte* hi) noexcept {
  if (r.pages == 0 || hi <= r.lowest) return 0;
  if (::madvise(r.lowest, static_cast<std::size_t>(hi - r.lowest), MADV_DONTNEED) != 0) return 0;
  std::size_t bytes = r.pages * kPageSize;
  Counters& c = counters();
  c.released_pages.fetch_add(r.pages, std::memory_order_relaxed);
  c.shrinks.fetch_add(1, std::memory_order_relaxed);
  c.shrunk_bytes.fetch_add(bytes, std::memory_order_relaxed);
  return bytes;
}

Counters& counters() noexcept {
  static Counters c;
  return c;
}

void unpoison_stack([[maybe_unused]] const StackSpan& s) noexcept {
#if defined(GORO_STACK_ASAN)
  // ASan clears big shadow ranges by remapping them, small ones by memset,
  // which would commit the shadow of every pooled stack: for small stacks
  // look first (reading untouched shadow commits nothing) and clear only
  // from the lowest poisoned byte up.
  if (s.limit() > kMiB) {
    __asan_unpoison_memory_region(s.base, s.limit());
  } else if (void* p = __asan_region_is_poisoned(s.base, s.limit())) {
    __asan_unpoison_memory_region(p, static_cast<std::size_t>(s.top - static_cast<std::byte*>(p)));
  }
#endif
}

}  // namespace goro::detail::stack_internal

namespace goro::detail {

void stack_force_mprotect_guards(bool on) noexcept {
  stack_internal::g_force_mprotect.store(on, std::memory_order_relaxed);
}

bool stack_guards_use_madvise() noexcept {
  return !stack_internal::new_arenas_use_mprotect();
}

}  // namespace goro::detail
