// goro/error_group.hpp: goroutines working on subtasks of one task, with the
// first error cancelling the rest (Go's golang.org/x/sync/errgroup).
//
//   goro::error_group g(ctx);             // g, ctx := errgroup.WithContext(ctx)
//   for (const std::string& url : urls) {
//     g.go([&g, &url]() -> std::error_code {
//       return fetch(g.ctx(), url);       // stops early once g.ctx() is cancelled
//     });
//   }
//   if (std::error_code err = g.wait()) fail(err);   // the first error
//
// Errors: a task returns std::error_code (Go's error; empty is success) or
// nothing. A task may also throw: the first failure, whether a returned
// error or an exception, is the group's error; wait() rethrows it if it was
// an exception, else returns it. (Goroutines otherwise treat an escaping
// exception as fatal; inside a group it is an ordinary failure, which is
// what a C++ caller of wait() expects.)
//
// Design
//   * A wait_group counts the tasks; the first failure is recorded once,
//     claimed by an atomic exchange, and read by wait() after the
//     wait_group's wait, which orders it after the task's writes.
//   * The optional context is with_cancel(parent): cancelled by the first
//     failure and when wait() returns, as Go's WithContext.
//   * set_limit(n) makes a buffered goro::chan of n tokens (Go uses a
//     channel too): go() sends one, parking while n tasks run; a task gives
//     its token back when it ends.
#pragma once

#include <goro/config.hpp>

#include <goro/chan.hpp>
#include <goro/context.hpp>
#include <goro/goroutine.hpp>
#include <goro/wait_group.hpp>

#include <atomic>
#include <cstdint>
#include <exception>
#include <functional>
#include <stdexcept>
#include <system_error>
#include <type_traits>
#include <utility>
#include <variant>

namespace goro {

// Goroutines working on subtasks of one task (Go's errgroup.Group); see
// above.
class error_group {
 public:
  // A group with no context (Go's zero errgroup.Group).
  error_group() noexcept = default;
  // A group whose ctx() is a child of parent, cancelled by the first failure
  // or when wait() returns (Go's errgroup.WithContext).
  // Thread-safe. Cost: with_cancel's.
  explicit error_group(const context& parent) {
    auto [child, cancel] = with_cancel(parent);
    ctx_ = std::move(child);
    cancel_ = std::move(cancel);
  }
  // Waits for every task (as wait(), ignoring the result): tasks refer to
  // the group, so it must outlive them.
  ~error_group() { wg_.wait(); }
  error_group(const error_group&) = delete;
  error_group& operator=(const error_group&) = delete;

  // The group's context: background() for a group made without one.
  const context& ctx() const noexcept { return ctx_; }

  // Starts f() in a new goroutine (Go's Group.Go). f returns
  // std::error_code or void. With a limit set and reached, parks until a
  // running task ends. Throws what goro::go throws if the goroutine cannot
  // be started (then nothing was started or counted).
  // Thread-safe. Cost: goro::go's, plus a channel send with a limit.
  template <typename F>
  void go(F&& f) {
    if (!tokens_.is_nil()) tokens_.send(std::monostate{});
    start(std::forward<F>(f));
  }

  // Starts f() only if that needs no waiting for the limit (Go's
  // Group.TryGo); returns whether it did.
  // Thread-safe. Cost: go()'s.
  template <typename F>
  bool try_go(F&& f) {
    if (!tokens_.is_nil() && !tokens_.try_send(std::monostate{})) return false;
    start(std::forward<F>(f));
    return true;
  }

  // At most n tasks run at once from now on (Go's Group.SetLimit); a
  // negative n removes the limit; 0 lets none start. Must not be called
  // while tasks run (std::logic_error, as Go panics) or concurrently with
  // go().
  // Cost: a channel allocation.
  void set_limit(int n) {
    if (running_.load(std::memory_order_acquire) != 0) {
      throw std::logic_error("goro::error_group::set_limit: tasks are running");
    }
    tokens_ = n < 0 ? chan<std::monostate>::nil() : chan<std::monostate>(static_cast<std::size_t>(n));
  }

  // Waits until every task started so far has ended, cancels ctx(), and
  // returns the first error (Go's Group.Wait): empty if none failed. If the
  // first failure was an exception, rethrows it instead.
  // May be called more than once and from several goroutines.
  // Thread-safe. Cost: wait_group::wait's.
  std::error_code wait() {
    wg_.wait();
    cancel_();
    if (failed_.load(std::memory_order_acquire)) {
      if (exception_) std::rethrow_exception(exception_);
      return error_;
    }
    return {};
  }

 private:
  template <typename F>
  void start(F&& f) {
    using R = std::invoke_result_t<std::decay_t<F>&>;
    static_assert(std::is_void_v<R> || std::is_convertible_v<R, std::error_code>,
                  "goro::error_group: a task returns std::error_code or void");
    running_.fetch_add(1, std::memory_order_acq_rel);
    try {
      wg_.go([this, fn = std::forward<F>(f)]() mutable {
        try {
          if constexpr (std::is_void_v<R>) {
            fn();
          } else if (std::error_code ec = fn()) {
            fail(ec, nullptr);
          }
        } catch (...) {
          fail({}, std::current_exception());
        }
        finish();
      });
    } catch (...) {
      finish();
      throw;
    }
  }

  void finish() noexcept {
    if (!tokens_.is_nil()) tokens_.try_recv();  // give the token back
    running_.fetch_sub(1, std::memory_order_acq_rel);
  }

  void fail(std::error_code ec, std::exception_ptr e) noexcept {
    if (failed_.exchange(true, std::memory_order_acq_rel)) return;  // not the first
    error_ = ec;
    exception_ = std::move(e);
    cancel_();
  }

  wait_group wg_;
  context ctx_;
  cancel_func cancel_;
  // Tokens of the running tasks when a limit is set; nil without one.
  chan<std::monostate> tokens_ = chan<std::monostate>::nil();
  std::atomic<std::int64_t> running_{0};
  // The first failure: written once by the task that set failed_, read by
  // wait() after wg_.wait().
  std::atomic<bool> failed_{false};
  std::error_code error_;
  std::exception_ptr exception_;
};

}  // namespace goro
