// goro/context.hpp: cancellation, deadlines and request-scoped values across
// goroutines (Go's context package).
//
//   void handle(goro::context parent, Request r) {
//     auto [ctx, cancel] = goro::with_timeout(parent, 100ms);  // context.WithTimeout(parent, ...)
//     goro::chan<Reply> reply(1);
//     goro::go([reply, r, ctx = ctx] { reply.send(backend(ctx, r)); });
//     goro::select(
//         goro::on_recv(reply, [&](std::optional<Reply> rep) { send(*rep); }),
//         goro::on_recv(ctx.done(), [ctx = ctx] { fail(ctx.err()); }));  // context.DeadlineExceeded
//     cancel();                                                          // defer cancel()
//   }
//
// Lambdas capture `ctx = ctx`, a copy: clang before 16 rejects capturing a
// structured binding by name ([=] or [&] using ctx, [ctx]), which g++
// accepts; see context_and_cancel.
//
// Contexts form a tree. Cancelling one (its cancel_func, or its deadline
// passing) closes its done() channel, sets err(), and cancels every context
// derived from it; a context derived from an already-cancelled one starts
// cancelled. err() is a std::error_code of goro::context_category():
// compare it with goro::context_errc::canceled or ::deadline_exceeded (Go's
// context.Canceled and context.DeadlineExceeded); it is empty until then.
//
// As in Go, call the cancel_func when the work is done (it releases the
// context's timer and its link in the parent); unlike Go, a context that is
// simply dropped (every copy and its cancel_func destroyed) also unlinks
// itself, so forgetting cancel leaks nothing.
//
// Design
//   * A context is a shared_ptr to an immutable-shape node; background() is
//     the null node (copies cost nothing, done() is a nil channel, err() is
//     always empty), as Go's Background is an empty struct.
//   * A cancelable node owns its done channel (made eagerly: a closed
//     channel is the broadcast) and a set of cancelable children, guarded by
//     a small spin lock. Value nodes delegate done/err to their nearest
//     cancelable ancestor.
//   * Deadlines are after_func timers holding a weak reference to the node,
//     so a pending deadline never keeps a dropped context alive.
//   * Lock order: a parent before its child is never needed; cancel copies
//     the children out under the lock and cancels them after releasing it.
#pragma once

#include <goro/config.hpp>

#include <goro/chan.hpp>
#include <goro/time.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <system_error>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>

namespace goro {

// Why a context is done: its error (Go's context.Canceled and
// context.DeadlineExceeded), in the error category below.
enum class context_errc {
  canceled = 1,           // Go's context.Canceled: "context canceled"
  deadline_exceeded = 2,  // Go's context.DeadlineExceeded: "context deadline exceeded"
};

// The category of context errors (name "goro.context"). deadline_exceeded
// compares equal to std::errc::timed_out, as Go's DeadlineExceeded reports
// Timeout() == true.
const std::error_category& context_category() noexcept;

// The std::error_code of a context_errc (found by argument-dependent lookup).
inline std::error_code make_error_code(context_errc e) noexcept {
  return {static_cast<int>(e), context_category()};
}

}  // namespace goro

template <>
struct std::is_error_code_enum<goro::context_errc> : std::true_type {};

namespace goro {

class context;
class cancel_func;
struct context_and_cancel;

context_and_cancel with_cancel(const context& parent);
context_and_cancel with_deadline(const context& parent, clock::time_point d);

namespace detail {
struct ContextNode;
context with_value_erased(const context& parent, const void* key, std::shared_ptr<const void> value);
}  // namespace detail

// A key for with_value / context::value (Go uses an unexported key type for
// the same reason): the key's address identifies it and T types the value.
//
//   inline const goro::context_key<std::string> request_id;
template <typename T>
class context_key {
 public:
  constexpr context_key() noexcept = default;
  context_key(const context_key&) = delete;
  context_key& operator=(const context_key&) = delete;

 private:
  char unique_ = 0;  // keeps distinct keys at distinct addresses
};

// A context (Go's context.Context): cancellation, a deadline and values for
// a tree of work; see above.
class context {
 public:
  // Background: never cancelled, no deadline, no values (Go's
  // context.Background()).
  context() noexcept = default;
  static context background() noexcept { return {}; }
  // Go's context.TODO(): the same as background, for code not yet plumbed.
  static context todo() noexcept { return {}; }

  // Closed when this context is cancelled (Go's ctx.Done()); a nil channel
  // for contexts that can never be cancelled, so a select case on it is
  // never ready. Thread-safe. Cost: a walk up value nodes, an atomic increment.
  chan<std::monostate> done() const;

  // Empty until cancelled; then context_errc::canceled or
  // ::deadline_exceeded (Go's ctx.Err()). Once done() is closed, err() is
  // set. Thread-safe. Cost: a spin lock.
  std::error_code err() const;

  // The time at which this context is cancelled by a deadline, if any (Go's
  // ctx.Deadline()). Thread-safe.
  std::optional<clock::time_point> deadline() const;

  // The value stored under `key` by with_value on this context or an
  // ancestor (Go's ctx.Value(key)), or nullptr. The pointer stays valid as
  // long as a context holding it exists.
  // Thread-safe. Cost: a walk up the ancestors.
  template <typename T>
  const T* value(const context_key<T>& key) const noexcept {
    return static_cast<const T*>(find_value(&key));
  }

  // Whether both handles refer to the same context.
  friend bool operator==(const context& a, const context& b) noexcept { return a.node_ == b.node_; }

 private:
  friend struct detail::ContextNode;
  friend class cancel_func;
  friend context detail::with_value_erased(const context&, const void*, std::shared_ptr<const void>);
  friend context_and_cancel with_cancel(const context&);
  friend context_and_cancel with_deadline(const context&, clock::time_point);
  explicit context(std::shared_ptr<detail::ContextNode> n) noexcept : node_(std::move(n)) {}
  const void* find_value(const void* key) const noexcept;

  std::shared_ptr<detail::ContextNode> node_;
};

// Cancels its context (Go's context.CancelFunc): closes done(), sets err()
// to canceled unless it was already cancelled, cancels the descendants, and
// releases the context's timer and parent link. Idempotent; copyable.
class cancel_func {
 public:
  cancel_func() noexcept = default;
  // Cancels the context (Go's CancelFunc). Idempotent. Thread-safe.
  void operator()() const noexcept;

 private:
  friend struct detail::ContextNode;
  friend context_and_cancel with_cancel(const context&);
  friend context_and_cancel with_deadline(const context&, clock::time_point);
  explicit cancel_func(std::shared_ptr<detail::ContextNode> n) noexcept : node_(std::move(n)) {}
  std::shared_ptr<detail::ContextNode> node_;
};

// What with_cancel, with_deadline and with_timeout return: the new context
// and the function that cancels it (Go's ctx, cancel pair). Use it whole,
// by member or through a structured binding or std::tie:
//
//   auto [ctx, cancel] = goro::with_timeout(parent, 100ms);
//   auto op = goro::with_timeout(parent, 100ms);    // op.ctx, op.cancel()
//   std::tie(ctx, cancel) = goro::with_cancel(parent);
//
// Clang before 16 does not let a lambda capture a structured binding
// ([=] or [ctx] naming `ctx` from `auto [ctx, cancel]`); capture a copy
// instead ([ctx = ctx]) or use the named members ([ctx = op.ctx]).
struct context_and_cancel {
  // The derived context and the function that cancels it.
  context ctx;
  cancel_func cancel;

  // For std::tie(ctx, cancel) = ...: views of the two members.
  operator std::tuple<context&, cancel_func&>() noexcept { return {ctx, cancel}; }
};

// A child of `parent` cancelled by the returned function or when the parent
// is (Go's context.WithCancel).
// Thread-safe. Cost: two allocations (node, done channel) and a spin lock.
context_and_cancel with_cancel(const context& parent);

// As with_cancel, also cancelled with deadline_exceeded at `d` (Go's
// context.WithDeadline). If the parent's deadline is earlier, this is
// with_cancel. A deadline in the past cancels at once. Needs a running
// runtime (std::logic_error otherwise), for the timer.
context_and_cancel with_deadline(const context& parent, clock::time_point d);

// with_deadline(parent, now + d) (Go's context.WithTimeout): a zero or
// negative d cancels at once; a d too long to represent (hours::max())
// saturates to clock::time_point::max() instead of overflowing.
template <typename Rep, typename Period>
context_and_cancel with_timeout(const context& parent, const std::chrono::duration<Rep, Period>& d) {
  return with_deadline(parent, detail::time_after(d));
}

// A child of `parent` carrying `value` under `key` (Go's context.WithValue).
// Meant for request-scoped data, as in Go.
// Thread-safe. Cost: one allocation.
template <typename T, typename U>
context with_value(const context& parent, const context_key<T>& key, U&& value) {
  return detail::with_value_erased(parent, &key, std::make_shared<const T>(std::forward<U>(value)));
}

}  // namespace goro
