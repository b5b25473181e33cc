// net/buffer_pool.cpp: the shared pool of 4 KiB read/write buffers (the
// reference's sync.Pool advice: idle connections give their buffer back).
//
// Design
//   * Each worker thread keeps up to kThreadMax free buffers in a
//     thread_local array: borrowing and returning touch no lock and no
//     shared cache line. A buffer borrowed on one thread is often returned
//     on another (the goroutine moved while it held it); that is fine, the
//     caches just rebalance through the shared list.
//   * Overflow goes to a mutex-guarded shared list in batches of kBatch; the
//     shared list keeps at most kSharedMax buffers (4 MiB) and frees the
//     rest, so a burst of connections does not pin memory for ever.
//   * Counters are per thread, written only by their thread (relaxed
//     load+store, no read-modify-write) and summed by
//     read_buffer_pool_stats(); a thread's totals move to the shared record
//     when it exits.
//   * The per-thread cache is reached through a non-inlined accessor and
//     never kept across a park: a goroutine may resume on another thread
//     (DESIGN.md, "Rules").
#include <goro/net.hpp>

#include <goro/lock_guard.hpp>
#include <goro/thread_annotations.hpp>
#include "arch/mutex.hpp"

#include <atomic>
#include <cstdlib>
#include <new>
#include <vector>

namespace goro::net {

namespace {

constexpr int kThreadMax = 32;
constexpr int kBatch = kThreadMax / 2;
constexpr std::size_t kSharedMax = 1024;
constexpr std::align_val_t kAlign{64};

struct ThreadCache;

struct Shared {
  goro::detail::Mutex mu;
  std::vector<std::byte*> free GORO_GUARDED_BY(mu);
  std::vector<ThreadCache*> threads GORO_GUARDED_BY(mu);
  std::int64_t exited_borrowed GORO_GUARDED_BY(mu) = 0;  // net borrows of exited threads
  std::atomic<std::uint64_t> allocated{0};
};

Shared& shared() {
  static Shared* s = new Shared;  // never destroyed: threads may exit after main
  return *s;
}

void bump(std::atomic<std::int64_t>& c, std::int64_t by) noexcept {
  c.store(c.load(std::memory_order_relaxed) + by, std::memory_order_relaxed);
}

struct ThreadCache {
  std::byte* free[kThreadMax];
  std::atomic<int> n{0};                  // atomic only so that stats readers may look
  std::atomic<std::int64_t> borrowed{0};  // borrows minus returns on this thread

  ThreadCache() {
    Shared& s = shared();
    goro::lock_guard lk(s.mu);
    s.threads.push_back(this);
  }

  ~ThreadCache() {
    Shared& s = shared();
    goro::lock_guard lk(s.mu);
    for (int i = 0; i < n.load(std::memory_order_relaxed); i++) give_back_locked(s, free[i]);
    s.exited_borrowed += borrowed.load(std::memory_order_relaxed);
    std::erase(s.threads, this);
  }

  static void give_back_locked(Shared& s, std::byte* p) GORO_REQUIRES(s.mu) {
    if (s.free.size() < kSharedMax) {
      s.free.push_back(p);
    } else {
      ::operator delete(p, kAlign);
    }
  }
};

[[gnu::noinline]] ThreadCache& thread_cache() {
  thread_local ThreadCache cache;
  return cache;
}

std::byte* allocate() {
  shared().allocated.fetch_add(1, std::memory_order_relaxed);
  return static_cast<std::byte*>(::operator new(kPooledBufferSize, kAlign));
}

// Refills an empty thread cache with up to kBatch buffers from the shared
// list; returns one to use, or nullptr if the shared list is empty.
std::byte* refill(ThreadCache& tc) {
  Shared& s = shared();
  goro::lock_guard lk(s.mu);
  if (s.free.empty()) return nullptr;
  std::byte* first = s.free.back();
  s.free.pop_back();
  int n = 0;
  while (n < kBatch && !s.free.empty()) {
    tc.free[n++] = s.free.back();
    s.free.pop_back();
  }
  tc.n.store(n, std::memory_order_relaxed);
  return first;
}

// Moves half of a full thread cache to the shared list.
void spill(ThreadCache& tc) {
  Shared& s = shared();
  goro::lock_guard lk(s.mu);
  int n = tc.n.load(std::memory_order_relaxed);
  while (n > kThreadMax - kBatch) ThreadCache::give_back_locked(s, tc.free[--n]);
  tc.n.store(n, std::memory_order_relaxed);
}

}  // namespace

pooled_buffer borrow_buffer() {
  ThreadCache& tc = thread_cache();
  std::byte* p;
  int n = tc.n.load(std::memory_order_relaxed);
  if (n > 0) {
    p = tc.free[n - 1];
    tc.n.store(n - 1, std::memory_order_relaxed);
  } else {
    p = refill(tc);
    if (p == nullptr) p = allocate();
  }
  bump(tc.borrowed, 1);
  return pooled_buffer(p);
}

void pooled_buffer::reset() noexcept {
  if (data_ == nullptr) return;
  ThreadCache& tc = thread_cache();
  if (tc.n.load(std::memory_order_relaxed) == kThreadMax) spill(tc);
  int n = tc.n.load(std::memory_order_relaxed);
  tc.free[n] = data_;
  tc.n.store(n + 1, std::memory_order_relaxed);
  bump(tc.borrowed, -1);
  data_ = nullptr;
}

buffer_pool_stats read_buffer_pool_stats() {
  Shared& s = shared();
  goro::lock_guard lk(s.mu);
  buffer_pool_stats st;
  st.borrowed = s.exited_borrowed;
  st.free = static_cast<std::int64_t>(s.free.size());
  for (ThreadCache* tc : s.threads) {
    st.borrowed += tc->borrowed.load(std::memory_order_relaxed);
    st.free += tc->n.load(std::memory_order_relaxed);
  }
  st.allocated = s.allocated.load(std::memory_order_relaxed);
  return st;
}

}  // namespace goro::net
