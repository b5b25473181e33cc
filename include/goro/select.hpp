// goro/select.hpp: waiting on several channel operations at once (Go's
// select statement).
//
//   std::size_t chosen = goro::select(
//       goro::on_recv(jobs, [&](std::optional<Job> j) {   // case j, ok := <-jobs:
//         if (!j) { jobs_done = true; return; }
//         run(*j);
//       }),
//       goro::on_send(results, make_result(), [&] { ++sent; }),  // case results <- r:
//       goro::on_recv(goro::after(1s), [&] { timed_out = true; }), // case <-time.After(1s):
//       goro::on_default([&] { idle(); }));                      // default:
//
// select() runs exactly one case: if some are ready it picks one uniformly at
// random; otherwise it runs the default case if there is one, else it blocks
// until a case becomes ready. It returns the argument position of the case
// that ran (0-based, counting the default case), so a `switch` on the result
// or a plain `if` can do what Go does with `break`/`return` in a case.
//
// Rules (Go's): nil channels are never ready; a send case on a closed channel
// that is chosen throws goro::channel_closed; a receive case on a closed
// channel is ready and receives std::nullopt; select() with no cases blocks
// forever (Go's `select {}`).
//
// Cases are meant to be written inside the select() call: on_send(ch, v)
// with an rvalue `v` keeps a reference to it (moved from only if the case is
// chosen, so a move-only value that was not sent is still yours); with an
// lvalue it keeps a copy, as Go evaluates the send expression.
//
// Callbacks: a receive callback takes std::optional<T> (or nothing); a send
// or default callback takes nothing. What they return is ignored; exceptions
// they throw propagate out of select().
//
// Design (Go's runtime/select.go, in spirit)
//   * The cases are collected in a small array on the caller's stack. A
//     random poll order (Fisher-Yates, a per-thread xorshift) makes the
//     choice among ready cases uniform, so no case starves; the channels are
//     locked in address order (each once), so two selects over the same
//     channels never deadlock.
//   * If nothing is ready, one pooled wait record per case is queued on its
//     channel, all sharing one pooled "select state" record; the goroutine
//     parks, and the park commit unlocks the channels. The first channel
//     operation to dequeue one of the records claims the whole select with a
//     compare-and-swap on the state's winner word; the others find the CAS
//     failed and skip their record. Once woken, the selector relocks the
//     channels and unlinks its remaining records.
//   * A single-case select compiles to the plain (or, with a default, the
//     non-blocking) operation, as Go's compiler does.
//
// Cost: no allocation once the processor's wait-record cache is warm; with k
// channels, k spin locks (twice, if it has to wait); no global lock, no
// system call.
//
// A select over a number of cases known only at run time (Go's
// reflect.Select) is select_cases(), at the end of this file:
//
//   std::vector<goro::select_case<Msg>> cases;
//   for (auto& in : inputs) cases.push_back(goro::select_case<Msg>::recv(in));
//   goro::select_result<Msg> r = goro::select_cases(std::span(cases));
//   if (!r.value) inputs_closed(r.index);  // received std::nullopt: closed
#pragma once

#include <goro/config.hpp>

#include <goro/chan.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <stdexcept>
#include <type_traits>
#include <utility>
#include <vector>

namespace goro {

namespace detail {

// One non-default case, type-erased for select_impl.
struct SelectCase {
  ChanBase* c;  // null: nil channel, never ready
  void* elem;   // send: the T to move from; receive: the std::optional<T>
  bool send;
  void* record;  // select_impl's wait record for this case, if it blocks
};

// Runs Go's select over `cases` (n of them; `scratch` holds 2n entries).
// Returns the index of the case that completed, or -1 if none was ready and
// !block. Throws goro::channel_closed when it picks a send on a closed
// channel, std::bad_alloc (nothing done) if wait records cannot be had.
int select_impl(SelectCase* cases, std::uint16_t* scratch, int n, bool block);

struct Noop {
  void operator()() const noexcept {}
};

template <typename F, typename... Args>
void call_case(F& f, Args&&... args) {
  if constexpr (std::is_invocable_v<F&, Args...>) {
    std::invoke(f, std::forward<Args>(args)...);
  } else {
    static_assert(std::is_invocable_v<F&>,
                  "goro::select: a receive callback takes std::optional<T> or nothing");
    std::invoke(f);
  }
}

template <typename T, typename F>
struct RecvCase {
  ChanBase* c;
  F f;
  std::optional<T> value;

  SelectCase erase() noexcept { return {c, &value, false, nullptr}; }
  void run() { call_case(f, std::move(value)); }
  // Single-case forms.
  void run_blocking() {
    chan_recv(c, &value, true);
    run();
  }
  bool run_nonblocking() {
    if (chan_recv(c, &value, false) == chan_status::would_block) return false;
    run();
    return true;
  }
};

// Sends from an object it does not own (an rvalue argument of on_send),
// which lives until the end of the select() expression.
template <typename T, typename F>
struct SendRefCase {
  ChanBase* c;
  F f;
  T* src;

  T* source() noexcept { return src; }
  SelectCase erase() noexcept { return {c, source(), true, nullptr}; }
  void run() { call_case(f); }
  void run_blocking() {
    if (chan_send(c, source(), true) != chan_status::ok) throw channel_closed("send on closed channel");
    run();
  }
  bool run_nonblocking() {
    chan_status s = chan_send(c, source(), false);
    if (s == chan_status::closed) throw channel_closed("send on closed channel");
    if (s == chan_status::would_block) return false;
    run();
    return true;
  }
};

// Sends a copy it owns (an lvalue argument of on_send).
template <typename T, typename F>
struct SendCopyCase {
  ChanBase* c;
  F f;
  T copy;

  T* source() noexcept { return std::addressof(copy); }
  SelectCase erase() noexcept { return {c, source(), true, nullptr}; }
  void run() { call_case(f); }
  void run_blocking() { SendRefCase<T, F&>{c, f, source()}.run_blocking(); }
  bool run_nonblocking() { return SendRefCase<T, F&>{c, f, source()}.run_nonblocking(); }
};

template <typename F>
struct DefaultCase {
  F f;
  void run() { std::invoke(f); }
};

template <typename C>
inline constexpr bool is_default_case = false;
template <typename F>
inline constexpr bool is_default_case<DefaultCase<F>> = true;

template <typename C>
void fill_case(C& c, SelectCase* out, int& next) {
  if constexpr (!is_default_case<C>) out[next++] = c.erase();
}

// Runs the callback of argument `chosen`.
template <typename... Cs, std::size_t... I>
void run_chosen(std::size_t chosen, std::index_sequence<I...>, Cs&... cs) {
  ((I == chosen ? (cs.run(), 0) : 0), ...);
}

// The argument position of the k-th non-default case.
template <typename... Cs>
constexpr std::size_t arg_of_case(int k) {
  constexpr bool is_def[] = {is_default_case<Cs>..., false};
  for (std::size_t i = 0; i < sizeof...(Cs); ++i) {
    if (!is_def[i] && k-- == 0) return i;
  }
  return sizeof...(Cs);
}

template <typename... Cs>
constexpr std::size_t default_position() {
  constexpr bool is_def[] = {is_default_case<Cs>..., false};
  for (std::size_t i = 0; i < sizeof...(Cs); ++i) {
    if (is_def[i]) return i;
  }
  return sizeof...(Cs);
}

}  // namespace detail

// A receive case: case v, ok := <-ch. f takes std::optional<T> (empty when the
// channel is closed and drained) or nothing.
template <typename T, typename F>
detail::RecvCase<T, std::decay_t<F>> on_recv(const chan<T>& ch, F&& f) {
  return {detail::ChanAccess::core(ch), std::forward<F>(f), std::nullopt};
}
template <typename T>
detail::RecvCase<T, detail::Noop> on_recv(const chan<T>& ch) {
  return {detail::ChanAccess::core(ch), {}, std::nullopt};
}

// A send case: case ch <- v. An rvalue v is referenced (moved from only if
// chosen); an lvalue v is copied now.
template <typename T, typename F>
detail::SendRefCase<T, std::decay_t<F>> on_send(const chan<T>& ch, std::type_identity_t<T>&& v, F&& f) {
  return {detail::ChanAccess::core(ch), std::forward<F>(f), std::addressof(v)};
}
template <typename T>
detail::SendRefCase<T, detail::Noop> on_send(const chan<T>& ch, std::type_identity_t<T>&& v) {
  return {detail::ChanAccess::core(ch), {}, std::addressof(v)};
}
template <typename T, typename F>
detail::SendCopyCase<T, std::decay_t<F>> on_send(const chan<T>& ch, const std::type_identity_t<T>& v, F&& f) {
  return {detail::ChanAccess::core(ch), std::forward<F>(f), v};
}
template <typename T>
detail::SendCopyCase<T, detail::Noop> on_send(const chan<T>& ch, const std::type_identity_t<T>& v) {
  return {detail::ChanAccess::core(ch), {}, v};
}

// The default case: runs when no other case is ready.
template <typename F>
detail::DefaultCase<std::decay_t<F>> on_default(F&& f) {
  return {std::forward<F>(f)};
}
inline detail::DefaultCase<detail::Noop> on_default() {
  return {};
}

// Runs one ready case (see the top of this file). Returns the argument
// position of the case that ran.
// Thread-safe. Cost: see the top of this file.
template <typename... Cases>
std::size_t select(Cases&&... cases) {
  constexpr int kDefaults = (0 + ... + (detail::is_default_case<std::decay_t<Cases>> ? 1 : 0));
  static_assert(kDefaults <= 1, "goro::select: at most one on_default case");
  constexpr int kChans = static_cast<int>(sizeof...(Cases)) - kDefaults;
  constexpr std::size_t kDefaultPos = detail::default_position<std::decay_t<Cases>...>();
  constexpr auto kSeq = std::index_sequence_for<Cases...>{};

  if constexpr (kChans == 0 && kDefaults == 1) {
    detail::run_chosen(kDefaultPos, kSeq, cases...);
    return kDefaultPos;
  } else if constexpr (kChans == 1 && kDefaults == 0) {
    (cases.run_blocking(), ...);
    return 0;
  } else if constexpr (kChans == 1 && kDefaults == 1) {
    constexpr std::size_t kCasePos = detail::arg_of_case<std::decay_t<Cases>...>(0);
    bool ran = false;
    auto try_one = [&ran](auto& c) {
      if constexpr (!detail::is_default_case<std::decay_t<decltype(c)>>) ran = c.run_nonblocking();
    };
    (try_one(cases), ...);
    if (ran) return kCasePos;
    detail::run_chosen(kDefaultPos, kSeq, cases...);
    return kDefaultPos;
  } else {
    std::array<detail::SelectCase, kChans == 0 ? 1 : kChans> erased{};
    std::array<std::uint16_t, 2 * (kChans == 0 ? 1 : kChans)> scratch{};
    int next = 0;
    (detail::fill_case(cases, erased.data(), next), ...);
    int k = detail::select_impl(erased.data(), scratch.data(), kChans, kDefaults == 0);
    std::size_t chosen = k < 0 ? kDefaultPos : detail::arg_of_case<std::decay_t<Cases>...>(k);
    detail::run_chosen(chosen, kSeq, cases...);
    return chosen;
  }
}

// ---------------------------------------------------------------------------
// Runtime-sized select (Go's reflect.Select)

// One case of select_cases(): a receive from, or a send to, a chan<T>, or
// the default case (Go's reflect.SelectCase). A value type; a send case owns
// the value it sends.
template <typename T>
class select_case {
 public:
  // What a case does: receive, send, or the default case.
  enum class kind : std::uint8_t { recv, send, default_case };

  // case <-ch. A nil channel is never ready.
  static select_case recv(const chan<T>& ch) { return select_case(kind::recv, ch, std::nullopt); }
  // case ch <- v. v is moved from if and only if this case is chosen.
  static select_case send(const chan<T>& ch, T v) { return select_case(kind::send, ch, std::move(v)); }
  // default: chosen when no other case is ready. At most one per select.
  static select_case default_case() { return select_case(kind::default_case, chan<T>::nil(), std::nullopt); }

  // What the case does, and the channel it works on.
  kind what() const noexcept { return kind_; }
  const chan<T>& channel() const noexcept { return ch_; }
  // The value a send case sends (after it was chosen: moved from).
  T* send_value() noexcept { return value_ ? std::addressof(*value_) : nullptr; }

 private:
  select_case(kind k, chan<T> ch, std::optional<T> v) : kind_(k), ch_(std::move(ch)), value_(std::move(v)) {}
  kind kind_;
  chan<T> ch_;
  std::optional<T> value_;
};

// What select_cases() did: the index of the case that ran, and for a
// receive case the value received, std::nullopt if the channel was closed
// (Go's recvOK false). Empty for a send or default case.
template <typename T>
struct select_result {
  // Which case ran (its position among the cases), and the value it received
  // (empty for send and default cases, and for a receive from a closed
  // channel).
  std::size_t index;
  std::optional<T> value;
};

// Runs one ready case of `cases`, as select() does (Go's reflect.Select):
// if several are ready it picks one uniformly at random; if none is, it
// runs the default case if there is one, else blocks until one is ready.
// With no cases it blocks forever, as Go's. The vector may be built anew
// or reused for every call.
// Throws std::invalid_argument for two default cases, std::length_error for
// more than 65,535 cases, goro::channel_closed when a send case on a closed
// channel is chosen, std::bad_alloc (nothing done).
// Thread-safe. Cost: select()'s, plus for more than 16 cases an allocation
// of 10 bytes a case and a sort of the channels by address; 1,000 cases
// that are not ready take 1,000 wait records while parked.
template <typename T>
select_result<T> select_cases(std::span<select_case<T>> cases) {
  constexpr std::size_t kInline = 16;
  if (cases.size() > 65535) throw std::length_error("goro::select_cases: more than 65535 cases");
  std::array<detail::SelectCase, kInline> inline_erased{};
  std::array<std::uint16_t, 2 * kInline> inline_scratch{};
  std::vector<detail::SelectCase> heap_erased;
  std::vector<std::uint16_t> heap_scratch;
  detail::SelectCase* erased = inline_erased.data();
  std::uint16_t* scratch = inline_scratch.data();
  if (cases.size() > kInline) {
    heap_erased.resize(cases.size());
    heap_scratch.resize(2 * cases.size());
    erased = heap_erased.data();
    scratch = heap_scratch.data();
  }
  // Every receive case shares one slot: only the chosen case writes it.
  std::optional<T> received;
  std::size_t default_index = cases.size();
  int n = 0;
  for (std::size_t i = 0; i < cases.size(); ++i) {
    select_case<T>& c = cases[i];
    if (c.what() == select_case<T>::kind::default_case) {
      if (default_index != cases.size())
        throw std::invalid_argument("goro::select_cases: multiple default cases");
      default_index = i;
      continue;
    }
    bool send = c.what() == select_case<T>::kind::send;
    void* elem = send ? static_cast<void*>(c.send_value()) : static_cast<void*>(&received);
    erased[n++] = {detail::ChanAccess::core(c.channel()), elem, send, nullptr};
  }
  bool has_default = default_index != cases.size();
  int k = detail::select_impl(erased, scratch, n, !has_default);
  if (k < 0) return {default_index, std::nullopt};
  // Erased cases skip the default: shift back past it.
  std::size_t chosen = static_cast<std::size_t>(k);
  if (has_default && chosen >= default_index) ++chosen;
  if (cases[chosen].what() == select_case<T>::kind::send) return {chosen, std::nullopt};
  return {chosen, std::move(received)};
}

// select_cases over a std::vector.
template <typename T>
select_result<T> select_cases(std::vector<select_case<T>>& cases) {
  return select_cases(std::span<select_case<T>>(cases));
}

}  // namespace goro
