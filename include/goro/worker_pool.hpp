// goro/worker_pool.hpp: a fixed set of worker goroutines fed by a channel
// (the reference's bounded-concurrency pattern: "avoid spawning goroutines
// you don't need to spawn").
//
//   goro::worker_pool pool(8);                 // 8 workers, room for 8 queued tasks
//   for (auto& item : items) {
//     pool.submit([&item] { process(item); });  // blocks while the queue is full
//   }
//   pool.wait();                                // close, drain, join; rethrows
//
// Go's version is a buffered channel, a WaitGroup and N goroutines ranging
// over the channel; this is exactly that, plus what Go leaves to the caller:
// the first exception a task throws is kept and rethrown by wait(), so it is
// not lost (later ones are dropped; every submitted task still runs).
//
// Why a pool rather than a goroutine per item: a goroutine costs a stack
// (a page or more resident) for as long as it lives, and a burst of ten
// million items would create ten million of them before the first finishes;
// a pool keeps N stacks and a queue of small task objects
// (examples/pool_vs_spawn.cpp measures both).
//
// Design
//   * Tasks are type-erased into a move-only detail::Task with 48 bytes of
//     inline storage (larger callables, or ones whose move may throw, go on
//     the heap), and travel through a goro::chan<Task> whose buffer is
//     allocated once: a small task allocates nothing on submit.
//   * Backpressure is the channel's: submit() parks while the buffer is
//     full and every worker is busy.
#pragma once

#include <goro/config.hpp>

#include <goro/chan.hpp>
#include <goro/wait_group.hpp>

#include <atomic>
#include <cstddef>
#include <exception>
#include <new>
#include <type_traits>
#include <utility>

namespace goro {

namespace detail {

// A move-only, nothrow-movable `void()` callable.
class Task {
 public:
  static constexpr std::size_t kInlineBytes = 48;

  Task() noexcept = default;
  template <typename F, typename D = std::decay_t<F>,
            typename = std::enable_if_t<!std::is_same_v<D, Task> && std::is_invocable_v<D&>>>
  explicit Task(F&& f) {
    if constexpr (fits_inline<D>()) {
      ::new (static_cast<void*>(buf_)) D(std::forward<F>(f));
      ops_ = &InlineOps<D>::ops;
    } else {
      D* p = new D(std::forward<F>(f));
      ::new (static_cast<void*>(buf_)) D*(p);
      ops_ = &HeapOps<D>::ops;
    }
  }
  Task(Task&& o) noexcept : ops_(o.ops_) {
    if (ops_ != nullptr) ops_->relocate(buf_, o.buf_);
    o.ops_ = nullptr;
  }
  Task& operator=(Task&& o) noexcept {
    if (this != &o) {
      reset();
      ops_ = o.ops_;
      if (ops_ != nullptr) ops_->relocate(buf_, o.buf_);
      o.ops_ = nullptr;
    }
    return *this;
  }
  ~Task() { reset(); }

  explicit operator bool() const noexcept { return ops_ != nullptr; }
  void operator()() { ops_->call(buf_); }

 private:
  struct Ops {
    void (*call)(void* self);
    void (*relocate)(void* dst, void* src) noexcept;  // move-construct dst, destroy src
    void (*destroy)(void* self) noexcept;
  };
  template <typename D>
  static constexpr bool fits_inline() {
    return sizeof(D) <= kInlineBytes && alignof(D) <= alignof(std::max_align_t) &&
           std::is_nothrow_move_constructible_v<D>;
  }
  template <typename D>
  struct InlineOps {
    static void call(void* p) { (*static_cast<D*>(p))(); }
    static void relocate(void* dst, void* src) noexcept {
      ::new (dst) D(std::move(*static_cast<D*>(src)));
      static_cast<D*>(src)->~D();
    }
    static void destroy(void* p) noexcept { static_cast<D*>(p)->~D(); }
    static constexpr Ops ops{&call, &relocate, &destroy};
  };
  template <typename D>
  struct HeapOps {
    static void call(void* p) { (**static_cast<D**>(p))(); }
    static void relocate(void* dst, void* src) noexcept { ::new (dst) D*(*static_cast<D**>(src)); }
    static void destroy(void* p) noexcept { delete *static_cast<D**>(p); }
    static constexpr Ops ops{&call, &relocate, &destroy};
  };
  void reset() noexcept {
    if (ops_ != nullptr) ops_->destroy(buf_);
    ops_ = nullptr;
  }

  alignas(std::max_align_t) unsigned char buf_[kInlineBytes];
  const Ops* ops_ = nullptr;
};

}  // namespace detail

// A fixed set of worker goroutines fed by a channel; see above.
class worker_pool {
 public:
  // Starts `workers` worker goroutines and a queue of `queue_capacity`
  // pending tasks (0: a submit waits until a worker takes the task).
  // Throws std::invalid_argument if workers == 0, std::logic_error outside a
  // runtime, std::system_error if a goroutine cannot be started (the
  // workers already started are stopped before it propagates).
  // Cost: `workers` goroutine spawns and one channel allocation.
  worker_pool(std::size_t workers, std::size_t queue_capacity);
  // A queue as long as the number of workers.
  explicit worker_pool(std::size_t workers) : worker_pool(workers, workers) {}

  // Closes the pool and waits for every task. A task exception that no
  // wait() ever rethrew is a fatal error ("fatal error: goro::worker_pool:
  // task exception never collected by wait(): <what>", exit status 2), as an
  // exception escaping a goroutine is; except while unwinding from another
  // exception, when it is dropped.
  ~worker_pool();

  worker_pool(const worker_pool&) = delete;
  worker_pool& operator=(const worker_pool&) = delete;

  // Queues f (a callable taking no arguments) for a worker. Parks while the
  // queue is full (backpressure). Throws goro::channel_closed after close()
  // or wait(), with f not run; std::bad_alloc for a large f.
  // Thread-safe (callable from goroutines and plain threads). Do not call it
  // from a task of the same pool when the queue may be full: every worker
  // could end up waiting for itself.
  // Cost: a channel send of a 64-byte task; no allocation for small f.
  template <typename F>
  void submit(F&& f) {
    detail::Task t(std::forward<F>(f));
    try {
      tasks_.send(std::move(t));
    } catch (const channel_closed&) {
      throw channel_closed("goro::worker_pool: submit after close");
    }
  }

  // Queues f if there is room now; returns false (f not queued) otherwise.
  // Throws goro::channel_closed after close().
  template <typename F>
  bool try_submit(F&& f) {
    detail::Task t(std::forward<F>(f));
    try {
      return tasks_.try_send(std::move(t));
    } catch (const channel_closed&) {
      throw channel_closed("goro::worker_pool: submit after close");
    }
  }

  // No more tasks: the workers finish the queued ones and exit. Idempotent.
  // Thread-safe.
  void close() noexcept;

  // close(), then parks until every task has run and every worker exited.
  // Then, if any task threw, rethrows the first such exception (on every
  // call). Thread-safe.
  void wait();

  // The number of worker goroutines. Thread-safe.
  std::size_t workers() const noexcept { return workers_; }
  // Tasks queued and not yet taken by a worker (a snapshot).
  std::size_t pending() const noexcept { return tasks_.len(); }

 private:
  void work() noexcept;
  void record(std::exception_ptr e) noexcept;

  std::size_t workers_;
  chan<detail::Task> tasks_;
  wait_group running_;
  std::atomic<bool> closed_{false};
  std::atomic<bool> failed_{false};
  std::exception_ptr first_error_;  // written once, by whoever set failed_
  std::atomic<bool> reported_{false};
  int uncaught_at_start_ = 0;
};

}  // namespace goro
