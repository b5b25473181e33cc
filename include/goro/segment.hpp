// goro/segment.hpp: recursion deeper than a stack (stack segments on
// demand) and explicit depth bounds.
//
// grow_if_needed(red_zone, segment_size, f) runs f on a fresh stack segment
// when fewer than red_zone bytes of the current stack remain, so a recursive
// function that calls it at each level recurses as deep as memory allows
// (the idea of Rust's `stacker`). Segments come from the same guarded, lazily
// committed, pooled stack memory as goroutine stacks; overflowing one is
// reported like any goroutine stack overflow. Each goroutine (and each
// thread outside goroutines) keeps one segment after use, so recursion that
// oscillates around a segment boundary does not allocate on every call (the
// "hot split" that made Go drop segmented stacks).
//
// depth_guard is the reference's first pattern for untrusted input: count
// nesting and fail with a clean error instead of recursing without bound.
#pragma once

#include <goro/config.hpp>

#include <cstddef>
#include <exception>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

#include <goro/stack.hpp>

namespace goro {

namespace detail {
// Runs fn(arg) on a stack segment of at least `segment_size` usable bytes.
// fn must not throw. Throws std::system_error if no segment can be reserved.
void call_on_segment(std::size_t segment_size, void (*fn)(void*), void* arg);
}  // namespace detail

// Calls f() directly when at least `red_zone` bytes of stack remain below
// the caller, else on a new stack segment of `segment_size` bytes (rounded
// up to a page; at least 16 KiB), and returns its result. Exceptions from f
// propagate to the caller. Works in goroutines and on plain threads. f may
// park (a goroutine on a segment can block, move threads and resume there).
// Thread-safe. Cost: fast path a few loads and a compare; slow path two
// context switches plus, when the cached segment is in use, a stack from the
// pool. Throws std::system_error when no segment can be reserved.
template <typename F>
decltype(auto) grow_if_needed(std::size_t red_zone, std::size_t segment_size, F&& f) {
  if (stack_remaining() >= red_zone) return std::forward<F>(f)();
  detail::CapturedCall<F> call{&f};
  detail::call_on_segment(segment_size, &detail::CapturedCall<F>::run, &call);
  return call.finish();
}

// Thrown by depth_guard when nesting passes its limit.
class depth_exceeded : public std::runtime_error {
 public:
  // Reports that a recursion went past `limit` levels; limit() gives it.
  explicit depth_exceeded(std::size_t limit)
      : std::runtime_error("goro: nesting depth exceeds the limit of " + std::to_string(limit)),
        limit_(limit) {}
  std::size_t limit() const noexcept { return limit_; }

 private:
  std::size_t limit_;
};

// RAII nesting counter: construction increments `depth` and throws
// depth_exceeded (leaving `depth` unchanged) if it would pass `limit`;
// destruction decrements it. Not thread-safe: one counter per parse.
// Cost: an increment and a compare.
class depth_guard {
 public:
  // Counts one level of recursion in `depth` for the guard's lifetime. Throws
  // depth_exceeded when it would pass `limit`.
  depth_guard(std::size_t& depth, std::size_t limit) : depth_(depth) {
    if (depth_ >= limit) throw depth_exceeded(limit);
    ++depth_;
  }
  ~depth_guard() { --depth_; }
  depth_guard(const depth_guard&) = delete;
  depth_guard& operator=(const depth_guard&) = delete;

 private:
  std::size_t& depth_;
};

}  // namespace goro
