// goro/chan.hpp: channels (Go's chan T).
//
//   goro::chan<int> results(16);           // buffered: make(chan int, 16)
//   goro::chan<std::monostate> done;       // unbuffered: make(chan struct{})
//
//   goro::go([results] {                   // a handle is copied, the channel shared
//     for (int i = 0; i < 100; ++i) results.send(i * i);
//     results.close();
//   });
//   for (int v : results) use(v);          // ends once closed and drained
//
//   std::optional<int> v = results.recv(); // v, ok := <-results
//
// Design (Go's runtime/chan.go, in spirit)
//   * A chan<T> is a reference-counted handle to one shared channel, as a Go
//     channel value is a pointer: copies refer to the same channel, == compares
//     identity. The default constructor makes an unbuffered channel (the issue's
//     `goro::chan<T> ch;`); chan<T>::nil() is Go's nil channel.
//   * The shared part (detail::ChanCore) is type-erased: one non-template
//     implementation serves every T through a small table of element
//     operations. The ring buffer of a buffered channel is allocated with the
//     channel, once; sending and receiving allocate nothing (a goroutine that
//     has to wait takes a pooled wait record from its processor's cache).
//   * One spin lock per channel guards its buffer and its two wait queues; it
//     is held for a few dozen instructions, never across a context switch, so
//     no operation takes a global lock or makes a system call.
//   * An unbuffered send hands the value directly to a waiting receiver (or a
//     receiver takes it straight from a waiting sender): the value is moved
//     once, from the sender's object into the receiver's std::optional.
//
// Element type: T must be move-constructible without throwing and
// destructible without throwing (std::unique_ptr, std::string,
// std::vector, every scalar...). Moves happen under the channel's lock, where
// an exception could not be handled without losing the value. Wrap other types
// in std::unique_ptr.
//
// Plain threads: every operation also works on a thread that is not a
// goroutine (it sleeps on a futex instead of parking). As with goro::mutex,
// the deadlock detector sees only goroutines.
#pragma once

#include <goro/config.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <new>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>

namespace goro {

// Thrown by a send on a closed channel ("send on closed channel") and by
// closing a closed channel ("close of closed channel"): Go's panics.
class channel_closed : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

// The outcome of a channel operation that may not complete.
enum class chan_status : std::uint8_t {
  ok,           // the value was sent or received
  closed,       // send: the channel is closed; receive: closed and drained
  would_block,  // a non-blocking operation that could not proceed now
};

namespace detail {

// The element operations a type-erased channel needs. `src` is never
// destroyed by to_slot/to_receiver: the caller (a sender's own object, or the
// channel for a buffer slot) owns it.
struct ElemOps {
  std::size_t size;
  std::size_t align;
  // new (slot) T(std::move(*src))
  void (*to_slot)(void* slot, void* src) noexcept;
  // static_cast<std::optional<T>*>(dst)->emplace(std::move(*src))
  void (*to_receiver)(void* dst, void* src) noexcept;
  // static_cast<T*>(p)->~T(); null when T is trivially destructible
  void (*destroy)(void* p) noexcept;
};

template <typename T>
struct ElemOpsFor {
  static void to_slot(void* slot, void* src) noexcept { ::new (slot) T(std::move(*static_cast<T*>(src))); }
  static void to_receiver(void* dst, void* src) noexcept {
    static_cast<std::optional<T>*>(dst)->emplace(std::move(*static_cast<T*>(src)));
  }
  static void destroy(void* p) noexcept { static_cast<T*>(p)->~T(); }
  static constexpr ElemOps ops{sizeof(T), alignof(T), &to_slot, &to_receiver,
                               std::is_trivially_destructible_v<T> ? nullptr : &destroy};
};

// The reference count every channel starts with; the rest of the channel is
// private to src/chan.
struct ChanBase {
  std::atomic<std::uint32_t> refs{1};
};

// Makes a channel of `cap` elements described by `ops`. Throws
// std::length_error if the buffer size overflows, std::bad_alloc.
ChanBase* chan_make(const ElemOps* ops, std::size_t cap);
// Frees a channel whose count reached zero (destroys buffered elements).
void chan_free(ChanBase* c) noexcept;
// c null: a nil channel (blocks forever when `block`, else would_block).
chan_status chan_send(ChanBase* c, void* src, bool block);
chan_status chan_recv(ChanBase* c, void* dst_optional, bool block);
void chan_close(ChanBase* c);
std::size_t chan_len(const ChanBase* c) noexcept;
std::size_t chan_cap(const ChanBase* c) noexcept;

inline void chan_retain(ChanBase* c) noexcept {
  if (c != nullptr) c->refs.fetch_add(1, std::memory_order_relaxed);
}
inline void chan_release(ChanBase* c) noexcept {
  if (c != nullptr && c->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) chan_free(c);
}

// Adopts a channel made elsewhere (timers) into a handle.
struct ChanAccess;

}  // namespace detail

// A channel of T (Go's chan T): a handle to a shared queue; see above.
template <typename T>
class chan {
  static_assert(!std::is_reference_v<T> && !std::is_const_v<T> && !std::is_volatile_v<T>,
                "goro::chan<T>: T must be a plain object type");
  static_assert(std::is_nothrow_move_constructible_v<T> && std::is_nothrow_destructible_v<T>,
                "goro::chan<T>: T must be nothrow move-constructible and nothrow destructible "
                "(wrap it in std::unique_ptr)");

 public:
  // The element type.
  using value_type = T;

  // Makes an unbuffered channel (Go's make(chan T)): a send completes only
  // when a receiver takes the value.
  // Throws std::bad_alloc. Cost: one allocation.
  chan() : core_(detail::chan_make(&detail::ElemOpsFor<T>::ops, 0)) {}

  // Makes a channel with a buffer of `capacity` elements (Go's make(chan T,
  // n)); 0 makes an unbuffered one. The buffer is allocated here, once.
  // Throws std::length_error if capacity * sizeof(T) overflows, std::bad_alloc.
  explicit chan(std::size_t capacity) : core_(detail::chan_make(&detail::ElemOpsFor<T>::ops, capacity)) {}

  // Go's nil channel: send and recv block forever, close throws, and in a
  // select its cases are never ready. Cost: none.
  static chan nil() noexcept { return chan(nullptr); }

  // Operations are const: a handle is a reference, and using the channel
  // does not change which channel it refers to (so a lambda's by-copy
  // capture works).
  //
  // Copies share the channel (Go's reference semantics). Thread-safe like
  // std::shared_ptr: distinct handles may be used concurrently; one handle
  // must not be assigned while another thread uses it.
  // Cost: one atomic increment / decrement.
  chan(const chan& o) noexcept : core_(o.core_) { detail::chan_retain(core_); }
  chan(chan&& o) noexcept : core_(std::exchange(o.core_, nullptr)) {}
  chan& operator=(const chan& o) noexcept {
    if (this != &o) {
      detail::chan_retain(o.core_);
      detail::chan_release(std::exchange(core_, o.core_));
    }
    return *this;
  }
  chan& operator=(chan&& o) noexcept {
    if (this != &o) detail::chan_release(std::exchange(core_, std::exchange(o.core_, nullptr)));
    return *this;
  }
  ~chan() { detail::chan_release(core_); }

  // Sends v (Go's ch <- v). Blocks (parks the goroutine) until a receiver
  // takes it or, if buffered, until there is room. Blocks forever on a nil
  // channel.
  // Throws goro::channel_closed if the channel is or becomes closed; then v
  // was not consumed (the rvalue overload leaves it unmoved).
  // Thread-safe. Cost: a spin lock and a move; a park if it has to wait.
  void send(const T& v) const requires std::is_copy_constructible_v<T> {
    T copy(v);
    send(std::move(copy));
  }
  void send(T&& v) const {
    if (detail::chan_send(core_, std::addressof(v), true) != chan_status::ok) throw_send_closed();
  }

  // Receives a value (Go's v, ok := <-ch): blocks until a value is there,
  // and returns std::nullopt once the channel is closed and drained. Blocks
  // forever on a nil channel.
  // Thread-safe. Cost: a spin lock and a move; a park if it has to wait.
  std::optional<T> recv() const {
    std::optional<T> out;
    detail::chan_recv(core_, &out, true);
    return out;
  }

  // Sends v if that can be done without blocking (a receiver waits or the
  // buffer has room): Go's select with a default case. Returns false, with v
  // untouched, if it would block (always, on a nil channel).
  // Throws goro::channel_closed on a closed channel, v untouched.
  // Thread-safe. Cost: two atomic loads when it would block; else as send.
  bool try_send(const T& v) const requires std::is_copy_constructible_v<T> {
    T copy(v);
    return try_send(std::move(copy));
  }
  bool try_send(T&& v) const {
    chan_status r = detail::chan_send(core_, std::addressof(v), false);
    if (r == chan_status::closed) throw_send_closed();
    return r == chan_status::ok;
  }

  // Receives a value if one is available without blocking. Returns
  // std::nullopt if none is (or the channel is closed and drained; check
  // closed-ness with a blocking recv() or a select if it matters).
  // Thread-safe. Cost: two atomic loads when empty; else as recv.
  std::optional<T> try_recv() const {
    std::optional<T> out;
    detail::chan_recv(core_, &out, false);
    return out;
  }

  // As try_recv, telling the three outcomes apart: ok (`out` now holds the
  // value), closed (closed and drained) and would_block.
  chan_status try_recv(std::optional<T>& out) const {
    out.reset();
    return detail::chan_recv(core_, &out, false);
  }

  // Closes the channel (Go's close(ch)): no more sends; every blocked
  // receiver wakes with std::nullopt once the buffer is drained, and every
  // blocked sender wakes with goro::channel_closed. Values already buffered
  // are still received.
  // Throws goro::channel_closed if already closed, std::logic_error on a nil
  // channel. Thread-safe. Cost: a spin lock and a ready() per waiter.
  void close() const { detail::chan_close(core_); }

  // Number of buffered values (Go's len(ch)); 0 for unbuffered and nil
  // channels. A snapshot: it may change at once. Thread-safe, one atomic load.
  std::size_t len() const noexcept { return detail::chan_len(core_); }
  // Buffer capacity (Go's cap(ch)). Thread-safe.
  std::size_t cap() const noexcept { return detail::chan_cap(core_); }

  // Whether this is a nil channel (Go's ch == nil).
  bool is_nil() const noexcept { return core_ == nullptr; }
  friend bool operator==(const chan& a, const chan& b) noexcept { return a.core_ == b.core_; }

  // Range-for (Go's for v := range ch): receives until the channel is closed
  // and drained. The element is the iterator's own, so `for (auto& v : ch)`
  // may move from it.
  class iterator {
   public:
    // A single-pass input iterator over what the channel receives.
    using iterator_category = std::input_iterator_tag;
    using value_type = T;
    using difference_type = std::ptrdiff_t;
    using pointer = T*;
    using reference = T&;

    // Dereferencing gives the last value received; ++ receives the next (it
    // blocks); it equals the sentinel once the channel is closed and drained.
    iterator() = default;
    T& operator*() const { return *cur_; }
    T* operator->() const { return std::addressof(*cur_); }
    iterator& operator++() {
      cur_.reset();
      cur_ = ch_->recv();
      return *this;
    }
    void operator++(int) { ++*this; }
    friend bool operator==(const iterator& it, std::default_sentinel_t) noexcept {
      return !it.cur_.has_value();
    }

   private:
    friend class chan;
    explicit iterator(const chan* ch) : ch_(ch), cur_(ch->recv()) {}
    const chan* ch_ = nullptr;
    mutable std::optional<T> cur_;
  };
  // begin() receives the first value (it blocks); end() is the sentinel.
  iterator begin() const { return iterator(this); }
  std::default_sentinel_t end() const noexcept { return {}; }

 private:
  friend struct detail::ChanAccess;
  explicit chan(detail::ChanBase* adopt) noexcept : core_(adopt) {}
  [[noreturn]] static void throw_send_closed() { throw channel_closed("send on closed channel"); }

  detail::ChanBase* core_;
};

namespace detail {
// Runtime-internal access to a handle's channel (select, timers).
struct ChanAccess {
  template <typename T>
  static ChanBase* core(const chan<T>& ch) noexcept {
    return ch.core_;
  }
  template <typename T>
  static chan<T> adopt(ChanBase* c) noexcept {
    return chan<T>(c);
  }
};
}  // namespace detail

}  // namespace goro
