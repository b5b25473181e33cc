// chan/select.cpp: Go's select over type-erased cases (select.go, in
// spirit; the public rules are in goro/select.hpp).
//
// Protocol
//   1. Poll order: a uniformly random permutation of the non-nil cases.
//      Lock order: the same cases sorted by channel address. Both live in
//      the caller's scratch array (no allocation).
//   2. Lock every channel in lock order, each once. Walk the poll order and
//      take the first case that can complete now; unlock and finish it.
//   3. Nothing ready: without a default, take one pooled wait record per
//      case plus one for the shared state (winner word = kNoWinner), queue
//      them, chained through wait_link in lock order, and park. The commit
//      unlocks the channels once the goroutine is off its stack.
//   4. A channel operation that dequeues one of our records CASes the
//      winner word to that case's index (dequeue() in chan_core.hpp); losers skip
//      their record. The winner completes the operation as for a plain
//      waiter and readies us.
//   5. Woken: relock everything, unlink the records that were not chosen
//      (some may have been dropped by a losing dequeue already), unlock, and
//      report the winner.
//
// Invariants
//   * Between steps 2 and 3 every involved channel stays locked, so no case
//     can become ready unseen before our records are queued.
//   * The commit must not touch the goroutine's stack (it may be running
//     again on another worker as soon as one channel is unlocked), so it
//     walks the heap records. A record's channel is unlocked only after its
//     last record in lock order has been passed: once a channel is unlocked,
//     records queued on it may change hands.
//   * Which channels are locked depends on the cases, so clang's
//     thread-safety analysis cannot follow it: the functions that lock,
//     unlock or touch the queues of the cases' channels are marked
//     GORO_NO_THREAD_SAFETY_ANALYSIS, and the protocol above is their proof.
#include "chan/chan_core.hpp"

#include "sched/scheduler.hpp"

#include <goro/select.hpp>

#include <algorithm>
#include <functional>

namespace goro::detail {

namespace {

constexpr int kInsertionSortMax = 16;

ChanCore* chan_at(const SelectCase* cases, std::uint16_t i) noexcept {
  return core_of(cases[i].c);
}

// Fills `poll` with a random permutation of the non-nil cases ("inside-out"
// Fisher-Yates) and returns how many there are.
int make_poll_order(const SelectCase* cases, int n, std::uint16_t* poll) noexcept {
  int k = 0;
  for (int i = 0; i < n; ++i) {
    if (cases[i].c == nullptr) continue;
    std::uint32_t j = cheap_rand_n(static_cast<std::uint32_t>(k + 1));
    poll[k] = poll[j];
    poll[j] = static_cast<std::uint16_t>(i);
    ++k;
  }
  return k;
}

// Sorts the polled cases by channel address (insertion sort for the usual
// few cases, std::sort for the many of select_cases). Cases on the same
// channel end up adjacent, so it is locked once.
void make_lock_order(const SelectCase* cases, const std::uint16_t* poll, int k,
                     std::uint16_t* order) noexcept {
  if (k > kInsertionSortMax) {
    std::copy(poll, poll + k, order);
    std::sort(order, order + k, [cases](std::uint16_t a, std::uint16_t b) {
      return std::less<ChanCore*>()(chan_at(cases, a), chan_at(cases, b));
    });
    return;
  }
  for (int i = 0; i < k; ++i) {
    std::uint16_t v = poll[i];
    int j = i;
    for (; j > 0 && chan_at(cases, order[j - 1]) > chan_at(cases, v); --j) order[j] = order[j - 1];
    order[j] = v;
  }
}

void lock_all(const SelectCase* cases, const std::uint16_t* order,
              int k) noexcept GORO_NO_THREAD_SAFETY_ANALYSIS {
  ChanCore* prev = nullptr;
  for (int i = 0; i < k; ++i) {
    ChanCore* c = chan_at(cases, order[i]);
    if (c != prev) c->lock.lock();
    prev = c;
  }
}

void unlock_all(const SelectCase* cases, const std::uint16_t* order,
                int k) noexcept GORO_NO_THREAD_SAFETY_ANALYSIS {
  for (int i = k - 1; i >= 0; --i) {
    ChanCore* c = chan_at(cases, order[i]);
    if (i == 0 || chan_at(cases, order[i - 1]) != c) c->lock.unlock();
  }
}

// Step 2: the first ready case in poll order, or -1. On success every lock
// is released and the partner (if any) has been finished.
int poll_ready(SelectCase* cases, const std::uint16_t* poll, const std::uint16_t* order,
               int k) GORO_NO_THREAD_SAFETY_ANALYSIS {
  for (int i = 0; i < k; ++i) {
    std::uint16_t idx = poll[i];
    SelectCase& sc = cases[idx];
    ChanCore* c = core_of(sc.c);
    Handoff h;
    Step step = sc.send ? try_send_locked(c, sc.elem, h) : try_recv_locked(c, sc.elem, h);
    if (step == Step::kNotReady) continue;
    const ElemOps* ops = c->ops;  // the channel may be gone once unlocked (chan.cpp, end_step)
    unlock_all(cases, order, k);
    h.finish(ops);
    if (sc.send && step == Step::kClosed) throw channel_closed("send on closed channel");
    return idx;
  }
  return -1;
}

// The park commit: unlock each channel after its last record (see the top).
bool unlock_select(Goroutine*, void* first) GORO_NO_THREAD_SAFETY_ANALYSIS {
  for (auto* w = static_cast<Waiter*>(first); w != nullptr;) {
    Waiter* next = w->wait_link;
    auto* c = static_cast<ChanCore*>(w->channel);
    w = next;
    if (next == nullptr || next->channel != c) c->lock.unlock();
  }
  return true;
}

// The records of one blocked select. The per-case record pointers live in
// the cases themselves (SelectCase::record, on the selector's stack; only
// the selector touches them).
class SelectRecords {
 public:
  SelectRecords(SelectCase* cases, const std::uint16_t* order, int k) : cases_(cases), order_(order), k_(k) {}
  SelectRecords(const SelectRecords&) = delete;
  SelectRecords& operator=(const SelectRecords&) = delete;
  ~SelectRecords() {
    for (int i = 0; i < k_; ++i) {
      if (Waiter* w = at(order_[i])) release_wait_record(w);
    }
    if (state_ != nullptr) release_wait_record(state_);
  }

  // Takes every record up front, so nothing is queued if one is missing.
  void acquire() {
    state_ = acquire_wait_record();
    select_winner(state_).store(kNoWinner, std::memory_order_relaxed);
    for (int i = 0; i < k_; ++i) cases_[order_[i]].record = acquire_wait_record();
  }

  // Queues the records in lock order, chained through wait_link.
  Waiter* enqueue() noexcept GORO_NO_THREAD_SAFETY_ANALYSIS {
    Waiter* first = nullptr;
    Waiter** link = &first;
    for (int i = 0; i < k_; ++i) {
      std::uint16_t idx = order_[i];
      Waiter* w = at(idx);
      ChanCore* c = chan_at(cases_, idx);
      w->elem = cases_[idx].elem;
      w->channel = c;
      w->ticket = idx;
      w->is_select = true;
      w->select = state_;
      *link = w;
      link = &w->wait_link;
      (cases_[idx].send ? c->sendq : c->recvq).push_back(w);
    }
    *link = nullptr;
    return first;
  }

  // With every lock held: unlinks the records that did not win.
  void dequeue_losers(int winner) noexcept GORO_NO_THREAD_SAFETY_ANALYSIS {
    for (int i = 0; i < k_; ++i) {
      std::uint16_t idx = order_[i];
      if (idx == winner) continue;
      ChanCore* c = chan_at(cases_, idx);
      (cases_[idx].send ? c->sendq : c->recvq).remove(at(idx));
    }
  }

  Waiter* state() const noexcept { return state_; }
  Waiter* at(int i) const noexcept { return static_cast<Waiter*>(cases_[i].record); }

 private:
  SelectCase* cases_;
  const std::uint16_t* order_;
  int k_;
  Waiter* state_ = nullptr;
};

// Steps 3 to 5, entered with every lock held.
int block_select(SelectCase* cases, const std::uint16_t* order, int k) {
  Goroutine* g = current_goroutine();
  SelectRecords rec(cases, order, k);
  try {
    rec.acquire();
  } catch (...) {
    unlock_all(cases, order, k);
    throw;
  }
  Note* note = g == nullptr ? this_thread_note() : nullptr;
  rec.state()->elem = note;
  Waiter* first = rec.enqueue();
  if (g != nullptr) {
    park(&unlock_select, first, WaitReason::kSelect);
  } else {
    note->clear();  // before unlocking: no channel can have claimed us yet
    unlock_all(cases, order, k);
    note->sleep(0);
  }
  auto winner = static_cast<int>(select_winner(rec.state()).load(std::memory_order_acquire));
  lock_all(cases, order, k);
  rec.dequeue_losers(winner);
  unlock_all(cases, order, k);
  if (cases[winner].send && !rec.at(winner)->success) throw channel_closed("send on closed channel");
  return winner;
}

}  // namespace

int select_impl(SelectCase* cases, std::uint16_t* scratch, int n, bool block) {
  std::uint16_t* poll = scratch;
  std::uint16_t* order = scratch + n;
  int k = make_poll_order(cases, n, poll);
  if (k == 0) {
    if (!block) return -1;
    block_forever(n == 0 ? WaitReason::kSelectNoCases : WaitReason::kSelect);
  }
  make_lock_order(cases, poll, k, order);
  lock_all(cases, order, k);
  int ready = poll_ready(cases, poll, order, k);
  if (ready >= 0) return ready;
  if (!block) {
    unlock_all(cases, order, k);
    return -1;
  }
  return block_select(cases, order, k);
}

}  // namespace goro::detail
