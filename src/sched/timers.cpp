// sched/timers.cpp: the binary heap behind TimerHeap (see timers.hpp).
#include "sched/timers.hpp"

namespace goro::detail {

void TimerHeap::push(Timer* t, Processor* self) {
  heap_.push_back(nullptr);
  place(heap_.size() - 1, t);
  t->owner.store(self, std::memory_order_release);
  sift_up(heap_.size() - 1);
  publish_earliest();
}

bool TimerHeap::remove(Timer* t) noexcept {
  auto i = static_cast<std::size_t>(t->heap_index);
  if (t->heap_index < 0 || i >= heap_.size() || heap_[i] != t) return false;
  Timer* last = heap_.back();
  heap_.pop_back();
  if (i < heap_.size()) {
    place(i, last);
    sift_down(i);
    sift_up(i);
  }
  t->heap_index = -1;
  t->owner.store(nullptr, std::memory_order_release);
  publish_earliest();
  return true;
}

bool TimerHeap::update(Timer* t, std::int64_t when) noexcept {
  auto i = static_cast<std::size_t>(t->heap_index);
  if (t->heap_index < 0 || i >= heap_.size() || heap_[i] != t) return false;
  t->when = when;
  sift_up(i);
  sift_down(static_cast<std::size_t>(t->heap_index));
  publish_earliest();
  return true;
}

Timer* TimerHeap::pop_due(std::int64_t now) noexcept {
  if (heap_.empty() || heap_[0]->when > now) return nullptr;
  Timer* t = heap_[0];
  remove(t);
  return t;
}

void TimerHeap::sift_up(std::size_t i) noexcept {
  Timer* t = heap_[i];
  while (i > 0) {
    std::size_t parent = (i - 1) / 2;
    if (heap_[parent]->when <= t->when) break;
    place(i, heap_[parent]);
    i = parent;
  }
  place(i, t);
}

void TimerHeap::sift_down(std::size_t i) noexcept {
  Timer* t = heap_[i];
  std::size_t n = heap_.size();
  for (;;) {
    std::size_t child = 2 * i + 1;
    if (child >= n) break;
    if (child + 1 < n && heap_[child + 1]->when < heap_[child]->when) child++;
    if (heap_[child]->when >= t->when) break;
    place(i, heap_[child]);
    i = child;
  }
  place(i, t);
}

}  // namespace goro::detail
