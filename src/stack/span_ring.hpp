// stack/span_ring.hpp: the ring of free stacks a class pool keeps resident
// (see pool.hpp). Nothing outside src/stack includes this.
//
// The ring is LIFO at its newest end (reuse: the hottest stack first) and
// FIFO at its oldest (the scavenger takes the least recently pooled). It is
// an array, not a list threaded through the stacks: walking a list would
// take a TLB miss per stack.
//
// Invariants
//   * Capacity is a power of two (mask_ + 1) and only reserve() changes it,
//     so pushing never allocates: the pool reserves room for every slot it
//     ever carved before carving them.
//   * Not synchronised: its pool's lock guards it.
#pragma once

#include "stack/stack.hpp"

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>

namespace goro::detail::stack_internal {

// A ring of free stacks: push and pop at the newest end, pop at the oldest.
// Each entry remembers when it was pooled, so the scavenger can leave stacks
// alone that a burst still in progress is about to reuse. Capacity is a
// power of two, grown only by reserve().
class SpanRing {
 public:
  SpanRing() = default;
  SpanRing(const SpanRing&) = delete;
  SpanRing& operator=(const SpanRing&) = delete;

  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  // The i-th stack from the newest end.
  const StackSpan& from_newest(std::size_t i) const noexcept { return at_newest(i).span; }
  void push_newest(const StackSpan& s, std::int64_t now) noexcept {
    buf_[(head_ + size_) & mask_] = Entry{s, now};
    ++size_;
  }
  // The oldest stack if it was pooled before `before`.
  bool pop_oldest(std::int64_t before, StackSpan* out) noexcept {
    if (size_ == 0 || buf_[head_].since >= before) return false;
    *out = buf_[head_].span;
    head_ = (head_ + 1) & mask_;
    --size_;
    return true;
  }
  // Removes the i-th from the newest end; the newest takes its place.
  StackSpan take_from_newest(std::size_t i) noexcept {
    Entry& at = at_newest(i);
    StackSpan s = at.span;
    at = at_newest(0);
    --size_;
    return s;
  }
  // Makes room for n stacks in all. Throws std::bad_alloc.
  void reserve(std::size_t n) {
    if (n <= mask_ + 1 && buf_ != nullptr) return;
    std::size_t cap = std::bit_ceil(std::max<std::size_t>(n, 64));
    // Raw storage, not value-initialized: a million slots' worth would
    // otherwise be written (and made resident) up front, 40 bytes a slot.
    std::unique_ptr<Entry[], RawDelete> fresh(static_cast<Entry*>(::operator new(cap * sizeof(Entry))));
    for (std::size_t i = 0; i < size_; ++i) fresh[i] = buf_[(head_ + i) & mask_];
    buf_ = std::move(fresh);
    head_ = 0;
    mask_ = cap - 1;
  }

 private:
  struct Entry {
    StackSpan span;
    std::int64_t since = 0;  // coarse monotonic ns when pooled
  };
  Entry& at_newest(std::size_t i) const noexcept { return buf_[(head_ + size_ - 1 - i) & mask_]; }

  struct RawDelete {
    void operator()(Entry* p) const noexcept { ::operator delete(p); }
  };
  std::unique_ptr<Entry[], RawDelete> buf_;
  std::size_t mask_ = 0;
  std::size_t head_ = 0;  // the oldest
  std::size_t size_ = 0;
};

}  // namespace goro::detail::stack_internal
