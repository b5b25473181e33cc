// stack/scavenge.cpp: giving free stack memory back to the kernel in the
// background (Go's background scavenger, bgscavenge).
//
// Exited goroutines' stacks go back to the pools untouched, so that neither
// spawn nor exit makes a system call. What the pools hold beyond the
// retained target (set_stack_retain_target, GORO_STACK_RETAIN; 64 MiB by
// default) is given back by one background thread, least recently pooled
// stacks first, at a bounded pace: each step trims a batch of up to
// kScavengeBatch stacks and is followed by a sleep that keeps the thread at
// about 1% of the machine's CPU time, as Go paces its scavenger. The thread
// is started by the first burst that passes the target and sleeps on a
// condition variable otherwise: an idle program gets no wakeups from it.
// free_os_memory() does the same work at once, on the caller's thread.
// Once a run of steps has brought the pools down, the page tables of 2 MiB
// regions left wholly cold go too (cold_regions.cpp).
//
// The same thread does the deferred shrinks of parked goroutines
// (stack_shrink_later): a FIFO of requests, each due kDeferredShrinkNs after
// its park, done only if the thread can claim the goroutine's word first.
//
// A batch is sorted by address and handled in runs of neighbouring slots:
// one mincore per run learns what is resident, and every resulting range
// goes into one process_madvise(MADV_DONTNEED) call. Every madvise that
// frees pages interrupts each CPU running this process to flush its TLB, so
// one call per batch, not per stack, is what keeps a million freed stacks
// from costing a million interrupts (kernels without process_madvise for
// MADV_DONTNEED get one madvise per range). A range may span guards:
// MADV_GUARD_INSTALL markers and PROT_NONE guards both survive
// MADV_DONTNEED.
//
// Invariants
//   * The scavenger only ever touches stacks it took out of a pool's
//     resident ring (trim_oldest_pooled), so no goroutine runs on them.
//   * g_busy is true from the moment a pool asks for the scavenger until
//     the thread has brought the pools under the target and looked again,
//     so a burst of exits wakes it once.
//   * A fork never happens in the middle of a step (g_step_mu, held across
//     each step, is taken by the pthread_atfork prepare handler), so a child
//     never inherits a pool lock held by a thread that does not exist there.
#include "stack/scavenge.hpp"

#include <goro/lock_guard.hpp>
#include <goro/thread_annotations.hpp>
#include "arch/cond_var.hpp"
#include "arch/mutex.hpp"
#include "arch/spinlock.hpp"

#include <goro/stack.hpp>

#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <mutex>
#include <thread>

namespace goro::detail::stack_internal {
namespace {

constexpr std::size_t kDefaultRetain = 64 * kMiB;
// Stacks pooled more recently than this are left alone: a burst of
// goroutines still going on is about to reuse them, and trimming them would
// only make it pay page faults.
constexpr std::int64_t kMinAgeNs = 100'000'000;
// The scavenger's share of the machine: 1% of the CPU time of all CPUs.
constexpr double kCpuShare = 0.01;
constexpr std::size_t kRunScanPages = 4096;  // one mincore covers at most 16 MiB

// ---- the target ----------------------------------------------------------------

// Parses "123", "64MiB", "1GiB", "512KiB", "2TiB" or "100B" (GOMEMLIMIT's
// syntax). Returns false on anything else.
bool parse_bytes(const char* s, std::size_t* out) noexcept {
  char* end = nullptr;
  errno = 0;
  unsigned long long v = std::strtoull(s, &end, 10);
  if (end == s || errno != 0) return false;
  static constexpr struct {
    const char* suffix;
    unsigned shift;
  } kUnits[] = {{"", 0}, {"B", 0}, {"KiB", 10}, {"MiB", 20}, {"GiB", 30}, {"TiB", 40}};
  for (const auto& u : kUnits) {
    if (std::strcmp(end, u.suffix) != 0) continue;
    if (u.shift != 0 && v > (~0ull >> u.shift)) return false;
    *out = static_cast<std::size_t>(v << u.shift);
    return true;
  }
  return false;
}

std::size_t initial_retain() noexcept {
  const char* env = std::getenv("GORO_STACK_RETAIN");
  std::size_t v = kDefaultRetain;
  if (env != nullptr && *env != '\0' && !parse_bytes(env, &v)) {
    std::fprintf(stderr, "goro: ignoring malformed GORO_STACK_RETAIN=%s (want e.g. 64MiB); using 64MiB\n",
                 env);
    v = kDefaultRetain;
  }
  return v;
}

std::atomic<std::size_t>& retain_target() noexcept {
  static std::atomic<std::size_t> target{initial_retain()};
  return target;
}

// ---- the thread ------------------------------------------------------------------

std::atomic<bool> g_busy{false};
std::atomic<std::uint64_t> g_cpu_ns{0};
// Held across each step (see the fork invariant); it guards no field: the
// pools have locks of their own.
Mutex g_step_mu;

// How the thread is woken. Never destroyed: the thread may still wait on the
// condition variable when the process exits, and destroying a condition
// variable that has a waiter blocks.
struct WakeState {
  Mutex mu;
  CondVar cv;  // on mu: wake was set
  bool wake GORO_GUARDED_BY(mu) = false;
  bool started GORO_GUARDED_BY(mu) = false;
};
WakeState& wake_state() noexcept {
  static auto* w = new WakeState;
  return *w;
}

// ---- deferred shrinks ------------------------------------------------------------

// A FIFO of fixed size: requests come only from goroutines that ran long
// (8 ms) before parking, and a full queue makes its caller shrink at once.
struct ShrinkQueue {
  static constexpr std::size_t kSize = 1024;
  SpinLock lock;
  struct Entry {
    DeferredShrink d;
    std::int64_t due = 0;
  };
  Entry ring[kSize] GORO_GUARDED_BY(lock);
  std::size_t head GORO_GUARDED_BY(lock) = 0;
  std::size_t n GORO_GUARDED_BY(lock) = 0;
};
ShrinkQueue& shrink_queue() noexcept {
  static auto* q = new ShrinkQueue;
  return *q;
}

// When the oldest queued shrink is due (INT64_MAX if none).
std::int64_t next_shrink_due() noexcept {
  ShrinkQueue& q = shrink_queue();
  lock_guard lock(q.lock);
  return q.n == 0 ? INT64_MAX : q.ring[q.head].due;
}

// Appends a request due at `due`; false if the queue is full.
bool push_shrink(const DeferredShrink& d, std::int64_t due) noexcept {
  ShrinkQueue& q = shrink_queue();
  lock_guard lock(q.lock);
  if (q.n == ShrinkQueue::kSize) return false;
  q.ring[(q.head + q.n) % ShrinkQueue::kSize] = ShrinkQueue::Entry{d, due};
  ++q.n;
  return true;
}

// Does every queued shrink that is due.
void run_due_shrinks() noexcept {
  ShrinkQueue& q = shrink_queue();
  for (;;) {
    DeferredShrink d;
    const std::int64_t now = coarse_now_ns();
    {
      lock_guard lock(q.lock);
      if (q.n == 0 || q.ring[q.head].due > now) return;
      d = q.ring[q.head].d;
      q.head = (q.head + 1) % ShrinkQueue::kSize;
      --q.n;
    }
    std::atomic_ref<std::uint64_t> claim(*d.claim);
    const std::uint64_t armed = d.id << 2 | kShrinkArmed;
    std::uint64_t seen = claim.load(std::memory_order_acquire);
    // Running now: drop the request, or every switch-in of a goroutine
    // that parks often would keep paying for it. A failed drop means the
    // goroutine has just parked and armed it.
    if (seen == (d.id << 2) && claim.compare_exchange_strong(seen, 0, std::memory_order_relaxed)) continue;
    // Anything but armed: done or dropped (the goroutine exited, and its
    // record may be another goroutine's now: ids are never repeated).
    if (seen != armed ||
        !claim.compare_exchange_strong(seen, armed | kShrinkBusy, std::memory_order_acq_rel)) {
      continue;
    }
    stack_shrink_below(*d.span, *d.sp);
    claim.store(0, std::memory_order_release);
  }
}

std::uint64_t thread_cpu_ns() noexcept {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<std::uint64_t>(ts.tv_nsec);
}

bool over_target() noexcept {
  return pooled_resident_bytes() > retain_target().load(std::memory_order_relaxed);
}

// Trims up to a batch of the oldest pooled stacks, counting the CPU time it
// took; returns how many stacks it trimmed and that time.
std::size_t scavenge_step(std::size_t max_stacks, std::int64_t pooled_before,
                          std::uint64_t* cpu_ns) noexcept {
  lock_guard lock(g_step_mu);
  std::uint64_t t0 = thread_cpu_ns();
  std::size_t n = trim_oldest_pooled(max_stacks, pooled_before);
  *cpu_ns = thread_cpu_ns() - t0;
  g_cpu_ns.fetch_add(*cpu_ns, std::memory_order_relaxed);
  return n;
}

// Stacks to trim to get back under the target, at most a batch.
std::size_t excess_stacks() noexcept {
  std::size_t have = pooled_resident_bytes(), want = retain_target().load(std::memory_order_relaxed);
  if (have <= want) return 0;
  return std::min(kScavengeBatch, (have - want + kPooledStackBytes - 1) / kPooledStackBytes);
}

// Gives back the page tables of fully cold regions, counting the time as
// the scavenger's.
void release_regions_step() noexcept {
  lock_guard lock(g_step_mu);
  std::uint64_t t0 = thread_cpu_ns();
  release_cold_regions();
  g_cpu_ns.fetch_add(thread_cpu_ns() - t0, std::memory_order_relaxed);
}

// Trims down to the target at the paced rate; returns how many stacks it
// trimmed.
std::size_t scavenge_paced() noexcept {
  const double cpus = std::max(1u, std::thread::hardware_concurrency());
  const double sleep_per_work = 1.0 / (kCpuShare * cpus) - 1.0;
  std::size_t trimmed = 0;
  for (std::size_t want; (want = excess_stacks()) != 0;) {
    run_due_shrinks();
    std::uint64_t spent = 0;
    std::size_t n = scavenge_step(want, coarse_now_ns() - kMinAgeNs, &spent);
    if (n == 0) {
      // Over the target, but with stacks too young to trim: look again
      // when the oldest may have aged.
      std::this_thread::sleep_for(std::chrono::nanoseconds(kMinAgeNs / 2));
      continue;
    }
    trimmed += n;
    std::this_thread::sleep_for(
        std::chrono::nanoseconds(static_cast<std::int64_t>(static_cast<double>(spent) * sleep_per_work)));
  }
  return trimmed;
}

// Sleeps until woken or until the next deferred shrink is due.
void wait_for_work() noexcept {
  WakeState& ws = wake_state();
  lock_guard lock(ws.mu);
  const std::int64_t due = next_shrink_due();
  if (due == INT64_MAX) {
    while (!ws.wake) ws.cv.wait(ws.mu);
  } else {
    // CLOCK_MONOTONIC_COARSE and steady_clock share their epoch on Linux.
    const auto at = std::chrono::steady_clock::time_point(std::chrono::nanoseconds(due));
    while (!ws.wake && ws.cv.wait_until(ws.mu, at)) {
    }
  }
  ws.wake = false;
}

void* scavenger_main(void*) {
  for (;;) {
    wait_for_work();
    run_due_shrinks();
    do {
      // A burst's stacks are cold now: their regions' page tables can go.
      if (scavenge_paced() != 0) release_regions_step();
      g_busy.store(false, std::memory_order_seq_cst);
      // A pool that passed the target after the last look but before
      // g_busy fell saw g_busy set and did not wake us: look once more.
    } while (over_target() && !g_busy.exchange(true));
  }
  return nullptr;
}

// Starts the thread with every signal blocked, so that process-directed
// signals go to the program's own threads. Called with wake_state().mu held.
bool start_thread() noexcept {
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pthread_t t;
  int err = pthread_create(&t, nullptr, &scavenger_main, nullptr);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (err != 0) return false;
  pthread_setname_np(t, "goro-scavenge");
  pthread_detach(t);
  return true;
}

void fork_prepare() noexcept GORO_ACQUIRE(g_step_mu) {
  g_step_mu.lock();
}
void fork_parent() noexcept GORO_RELEASE(g_step_mu) {
  g_step_mu.unlock();
}
void fork_child() noexcept GORO_RELEASE(g_step_mu) {
  g_step_mu.unlock();
  // The thread did not come along; the next burst starts a new one.
  ::new (&wake_state()) WakeState;
  g_busy.store(false, std::memory_order_relaxed);
}

void wake_scavenger() noexcept {
  static const bool registered = pthread_atfork(&fork_prepare, &fork_parent, &fork_child) == 0;
  (void)registered;
  WakeState& ws = wake_state();
  lock_guard lock(ws.mu);
  if (!ws.started && !(ws.started = start_thread())) {
    // No thread (resource exhaustion): memory goes back at the next
    // free_os_memory() or the next burst that finds a thread can start.
    g_busy.store(false, std::memory_order_relaxed);
    return;
  }
  ws.wake = true;
  ws.cv.notify_one();
}

// ---- releasing a batch -------------------------------------------------------------

// Ranges of one batch, given back with one process_madvise.
struct ReleaseBatch {
  iovec ranges[kScavengeBatch];
  std::size_t count = 0;
  std::size_t pages = 0;

  // Adds [lo, hi) holding `pages` resident pages, merged with the previous
  // range when they touch or when only the guard of `lo`'s stack lies between.
  void add(std::byte* lo, std::byte* hi, std::size_t resident, std::byte* slot_lo) noexcept {
    if (resident == 0) return;
    pages += resident;
    if (count != 0) {
      iovec& last = ranges[count - 1];
      auto* last_hi = static_cast<std::byte*>(last.iov_base) + last.iov_len;
      if (last_hi == slot_lo) {
        last.iov_len = static_cast<std::size_t>(hi - static_cast<std::byte*>(last.iov_base));
        return;
      }
    }
    ranges[count++] = iovec{lo, static_cast<std::size_t>(hi - lo)};
  }

  std::size_t flush() noexcept {
    if (count == 0) return 0;
    static std::atomic<bool> vector_unsupported{false};
    bool done = false;
    if (!vector_unsupported.load(std::memory_order_relaxed)) {
      long r = ::syscall(SYS_process_madvise, kPidfdSelfProcess, ranges, count, MADV_DONTNEED, 0u);
      if (r >= 0) {
        done = true;
      } else if (errno == EINVAL || errno == ENOSYS || errno == EPERM || errno == EBADF) {
        vector_unsupported.store(true, std::memory_order_relaxed);
      }
    }
    if (!done) {
      for (std::size_t i = 0; i < count; ++i) ::madvise(ranges[i].iov_base, ranges[i].iov_len, MADV_DONTNEED);
    }
    std::size_t bytes = pages * kPageSize;
    Counters& c = counters();
    c.released_pages.fetch_add(pages, std::memory_order_relaxed);
    c.scavenged_bytes.fetch_add(bytes, std::memory_order_relaxed);
    count = pages = 0;
    return bytes;
  }
};

bool neighbours(const StackSpan& below, const StackSpan& s) noexcept {
  return s.arena == below.arena && s.base - s.guard == below.top;
}

// Resident pages of [s.base, s.top) from a run's mincore vector, which
// starts at run_lo; *lowest is the deepest one.
std::size_t resident_in(const unsigned char* vec, std::byte* run_lo, const StackSpan& s,
                        std::byte** lowest) noexcept {
  std::size_t pages = 0;
  *lowest = s.top;
  for (std::byte* page = s.top - kPageSize; page >= s.base; page -= kPageSize) {
    if (vec[static_cast<std::size_t>(page - run_lo) / kPageSize] & 1) {
      ++pages;
      *lowest = page;
    }
  }
  return pages;
}

// Adds the resident parts of spans[0, n) (sorted, small slots, neighbours
// throughout) to the batch.
void add_run(const StackSpan* spans, std::size_t n, ReleaseBatch& batch) noexcept {
  unsigned char vec[kRunScanPages];
  std::byte* run_lo = spans[0].base;
  std::byte* run_hi = spans[n - 1].top;
  bool scanned = ::mincore(run_lo, static_cast<std::size_t>(run_hi - run_lo), vec) == 0;
  for (std::size_t i = 0; i < n; ++i) {
    const StackSpan& s = spans[i];
    if (scanned) {
      std::byte* lowest;
      std::size_t pages = resident_in(vec, run_lo, s, &lowest);
      batch.add(lowest, s.top, pages, s.base - s.guard);
    } else {
      Residency r = scan_resident(s.base, s.top);
      batch.add(r.lowest, s.top, r.pages, s.base - s.guard);
    }
  }
}

}  // namespace

std::size_t release_stacks(const StackSpan* spans, std::size_t n) noexcept {
  StackSpan sorted[kScavengeBatch];
  ReleaseBatch batch;
  std::size_t bytes = 0;
  for (std::size_t at = 0; at < n; at += kScavengeBatch) {
    const std::size_t m = std::min(n - at, kScavengeBatch);
    std::copy(spans + at, spans + at + m, sorted);
    std::sort(sorted, sorted + m, [](const StackSpan& a, const StackSpan& b) { return a.base < b.base; });
    for (std::size_t i = 0; i < m;) {
      const StackSpan& first = sorted[i];
      if (is_big_slot(first.limit() + first.guard)) {
        Residency r = scan_resident(first.base, first.top);
        batch.add(r.lowest, first.top, r.pages, first.base - first.guard);
        ++i;
        continue;
      }
      std::size_t j = i + 1;
      while (j < m && neighbours(sorted[j - 1], sorted[j]) &&
             static_cast<std::size_t>(sorted[j].top - first.base) / kPageSize <= kRunScanPages) {
        ++j;
      }
      add_run(sorted + i, j - i, batch);
      i = j;
    }
    bytes += batch.flush();
  }
  return bytes;
}

bool stack_shrink_later_impl(const DeferredShrink& d) noexcept {
  if (!push_shrink(d, coarse_now_ns() + kDeferredShrinkNs)) return false;
  wake_scavenger();
  return true;
}

void scavenger_note_pooled(std::size_t pooled_bytes) noexcept {
  if (pooled_bytes <= retain_target().load(std::memory_order_relaxed)) return;
  if (g_busy.load(std::memory_order_relaxed) || g_busy.exchange(true)) return;
  wake_scavenger();
}

std::uint64_t scavenger_cpu_ns() noexcept {
  return g_cpu_ns.load(std::memory_order_relaxed);
}

void scavenge_all() noexcept {
  std::uint64_t spent;
  while (scavenge_step(kScavengeBatch, INT64_MAX, &spent) != 0) {
  }
  release_regions_step();
}

}  // namespace goro::detail::stack_internal

namespace goro::detail {

void stack_trim_pools() noexcept {
  stack_internal::scavenge_all();
}

bool stack_shrink_later(const DeferredShrink& d) noexcept {
  return stack_internal::stack_shrink_later_impl(d);
}

}  // namespace goro::detail

namespace goro {

std::size_t set_stack_retain_target(std::size_t bytes) {
  std::size_t old = detail::stack_internal::retain_target().exchange(bytes);
  if (bytes < old)
    detail::stack_internal::scavenger_note_pooled(detail::stack_internal::pooled_resident_bytes());
  return old;
}

std::size_t stack_retain_target() {
  return detail::stack_internal::retain_target().load();
}

}  // namespace goro
