// sync/worker_pool.cpp: goro::worker_pool (see goro/worker_pool.hpp).
//
// N goroutines range over one buffered channel of tasks; a wait_group
// counts them. Invariants:
//   * closed_ flips once (close() may race with itself and with wait()), and
//     only the call that flips it closes the channel.
//   * first_error_ is written once, by the worker that flips failed_, before
//     that worker's running_.done(); wait() reads it after running_.wait(),
//     which orders the two.
#include "sched/scheduler.hpp"

#include <goro/goroutine.hpp>
#include <goro/worker_pool.hpp>

#include <stdexcept>
#include <string>

namespace goro {

worker_pool::worker_pool(std::size_t workers, std::size_t queue_capacity)
    : workers_(workers), tasks_(queue_capacity), uncaught_at_start_(std::uncaught_exceptions()) {
  if (workers == 0) throw std::invalid_argument("goro::worker_pool: zero workers");
  try {
    for (std::size_t i = 0; i < workers; ++i) running_.go([this] { work(); });
  } catch (...) {
    close();
    running_.wait();
    throw;
  }
}

worker_pool::~worker_pool() {
  close();
  running_.wait();
  if (failed_.load(std::memory_order_acquire) && !reported_.load(std::memory_order_acquire) &&
      std::uncaught_exceptions() <= uncaught_at_start_) {
    std::string msg = "goro::worker_pool: task exception never collected by wait()";
    try {
      std::rethrow_exception(first_error_);
    } catch (const std::exception& e) {
      msg += ": ";
      msg += e.what();
    } catch (...) {
    }
    detail::sched_fatal(msg.c_str());
  }
}

void worker_pool::work() noexcept {
  for (detail::Task& task : tasks_) {
    try {
      task();
    } catch (...) {
      record(std::current_exception());
    }
  }
}

void worker_pool::record(std::exception_ptr e) noexcept {
  bool expected = false;
  if (failed_.compare_exchange_strong(expected, true, std::memory_order_acq_rel)) first_error_ = std::move(e);
}

void worker_pool::close() noexcept {
  if (!closed_.exchange(true, std::memory_order_acq_rel)) tasks_.close();
}

void worker_pool::wait() {
  close();
  running_.wait();
  if (failed_.load(std::memory_order_acquire)) {
    reported_.store(true, std::memory_order_release);
    std::rethrow_exception(first_error_);
  }
}

}  // namespace goro
