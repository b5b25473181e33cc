// sync/cond.cpp: goro::cond, Go's sync.Cond on a notify list.
//
// Invariants
//   * Tickets are handed out by wait_ticket_ (wrapping uint32 arithmetic);
//     tickets t with t < notify_ticket_ are notified. notify_ticket_ only
//     grows, under the queue's lock.
//   * A waiter holding ticket t either finds t notified when it takes the
//     queue's lock (and returns without sleeping), or queues itself with t
//     in Waiter::ticket under that lock; a notifier that notifies t while
//     holding the lock therefore either finds t's waiter queued and wakes
//     it, or the waiter will see the notification. No wakeup is lost.
//   * The queue is installed before a ticket is taken, so a notifier that
//     sees a ticket finds the queue.
//   * entering_ counts waiters that may still touch the cond: from before
//     they take a ticket until they are queued (while holding the lock, after
//     which only a notifier can touch them) or have found their ticket
//     notified and released the lock. The destructor waits for it to drain,
//     which allows destroying the cond once every waiter has been notified.
#include <goro/cond.hpp>

#include "sync/wait_queue.hpp"

#include <system_error>

namespace goro {

namespace {

// a before b, modulo 2^32 (Go's notifyList less()).
bool ticket_before(std::uint32_t a, std::uint32_t b) noexcept {
  return static_cast<std::int32_t>(a - b) < 0;
}

// Unlinks the waiter holding `ticket`, if it is queued yet. With q.lock held.
detail::Waiter* unlink_ticket(detail::WaitQueue& q, std::uint32_t ticket) noexcept GORO_REQUIRES(q.lock) {
  for (detail::Waiter* w = q.waiters.front(); w != nullptr; w = w->next) {
    if (w->ticket == ticket) {
      q.waiters.remove(w);
      return w;
    }
  }
  return nullptr;
}

// std::condition_variable's rule: a wait that cannot relock cannot return.
void relock(std::unique_lock<mutex>& lock) noexcept {
  lock.lock();
}

}  // namespace

cond::~cond() {
  detail::wait_until_clear(entering_, ~std::uint32_t{0});
  detail::destroy_wait_queue(queue_.load(std::memory_order_acquire));
}

void cond::wait(std::unique_lock<mutex>& lock) {
  if (!lock.owns_lock()) {
    throw std::system_error(std::make_error_code(std::errc::operation_not_permitted),
                            "goro::cond::wait: the lock is not held");
  }
  // Everything that can fail comes before the ticket.
  detail::WaitQueue& q = detail::wait_queue_of(queue_);
  detail::Waiter* w = detail::acquire_wait_record();
  entering_.fetch_add(1, std::memory_order_relaxed);
  // The ticket is counted before the mutex is released: a notifier that
  // ran after our unlock sees it.
  const std::uint32_t ticket = wait_ticket_.fetch_add(1, std::memory_order_seq_cst);
  lock.unlock();

  q.lock.lock();
  if (ticket_before(ticket, notify_ticket_.load(std::memory_order_relaxed))) {
    q.lock.unlock();
    entering_.fetch_sub(1, std::memory_order_release);
  } else {
    w->ticket = ticket;
    q.waiters.push_back(w);
    // Done with the cond: only a notifier touches us now, and it can only
    // come after block() released the lock.
    entering_.fetch_sub(1, std::memory_order_release);
    detail::block(w, q.lock, detail::WaitReason::kCond);
  }
  detail::release_wait_record(w);
  relock(lock);
}

void cond::signal() noexcept {
  // Fast path: no ticket since the last notification. A waiter whose ticket
  // we do not see began waiting after us.
  if (wait_ticket_.load(std::memory_order_seq_cst) == notify_ticket_.load(std::memory_order_relaxed)) return;
  detail::WaitQueue& q = detail::installed_wait_queue(queue_);
  q.lock.lock();
  const std::uint32_t ticket = notify_ticket_.load(std::memory_order_relaxed);
  if (ticket == wait_ticket_.load(std::memory_order_acquire)) {
    q.lock.unlock();
    return;
  }
  notify_ticket_.store(ticket + 1, std::memory_order_relaxed);
  // Not queued yet: its holder will see the notification under the lock.
  detail::Waiter* w = unlink_ticket(q, ticket);
  q.lock.unlock();
  if (w != nullptr) detail::wake(w);
}

void cond::broadcast() noexcept {
  if (wait_ticket_.load(std::memory_order_seq_cst) == notify_ticket_.load(std::memory_order_relaxed)) return;
  detail::WaitQueue& q = detail::installed_wait_queue(queue_);
  q.lock.lock();
  const std::uint32_t end = wait_ticket_.load(std::memory_order_acquire);
  if (end == notify_ticket_.load(std::memory_order_relaxed)) {
    q.lock.unlock();
    return;
  }
  notify_ticket_.store(end, std::memory_order_relaxed);
  // Everything queued holds a ticket before `end` (see the invariants).
  detail::Waiter* list = q.waiters.take_all();
  q.lock.unlock();
  detail::wake_all(list);
}

}  // namespace goro
