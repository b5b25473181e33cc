// sched/worker.cpp: worker threads (Go's M) and the runtime's life cycle.
//
// run() makes the calling thread worker 0 (Go's m0) holding processor 0,
// starts the main goroutine and enters the scheduler loop. Further workers
// are created on demand, each on a pthread with an 8 MiB stack: that stack
// is the worker's system stack (Go's g0), where the scheduler loop, timer
// callbacks and goro::on_system_stack calls run.
//
// Shutdown: when the main goroutine exits, `stopping` is set and every
// sleeping worker is woken; each worker leaves its loop the next time it
// reaches its system stack, and worker 0 stops the monitor, joins the others
// and frees the processors, so run() leaves no thread behind. A worker
// inside goro::blocking is joined too: its call finishes first, then its
// goroutine is abandoned. Goroutines still alive are abandoned (their stacks
// go back to the pool, their function objects are not destroyed), as when a
// Go program's main returns. A goroutine that never yields keeps its worker,
// so run() does not return until it does.
#include "sched/scheduler.hpp"

#include "sched/compactor.hpp"
#include "sched/poller.hpp"
#include "sched/sanitizers.hpp"

#include <goro/goroutine.hpp>
#include <goro/runtime.hpp>

#include <pthread.h>
#include <unistd.h>
#include <algorithm>
#include <cstdlib>
#include <ctime>
#include <functional>
#include <stdexcept>

namespace goro::detail {

namespace {

constexpr std::size_t kSystemStackBytes = 8 << 20;

// Records the thread's own stack for the sanitizers' fiber switches.
void init_thread_context(Worker* w) noexcept {
  set_current_worker(w);
  w->tid = static_cast<int>(gettid());
  w->thread_eh = thread_eh_state();
  install_signal_stack();
  pthread_attr_t attr;
  if (pthread_getattr_np(pthread_self(), &attr) == 0) {
    void* addr = nullptr;
    std::size_t size = 0;
    pthread_attr_getstack(&attr, &addr, &size);
    w->stack_bottom = addr;
    w->stack_size = size;
    pthread_attr_destroy(&attr);
  }
#if GORO_TSAN
  w->tsan_fiber = __tsan_get_current_fiber();
#endif
}

void leave_worker_list(Worker* w) noexcept;

void* worker_main(void* arg) {
  auto* w = static_cast<Worker*>(arg);
  // A new thread inherits its creator's name, and the monitor starts
  // spares: without this a worker would show as goro-sysmon in top -H.
  pthread_setname_np(pthread_self(), "goro-worker");
  init_thread_context(w);
  Processor* p = w->next_p;
  w->next_p = nullptr;
  acquire_p(w, p);
  schedule_loop(w);
  if (w->p != nullptr) release_p(w);
  remove_signal_stack();
  set_current_worker(nullptr);
  if (w->exit_thread) leave_worker_list(w);
  return nullptr;
}

// A thread whose locked goroutine exited ends (lockosthread.cpp): it leaves
// the worker list and detaches itself, unless join_workers already took the
// list, which then joins it.
void leave_worker_list(Worker* w) noexcept {
  lock_guard lk(g_sched.lock);
  auto it = std::find(g_sched.allm.begin(), g_sched.allm.end(), w);
  if (it == g_sched.allm.end()) return;
  g_sched.allm.erase(it);
  pthread_detach(pthread_self());
  lk.unlock();
  delete w;
}

void join_workers(Worker* m0) {
  std::vector<Worker*> workers;
  {
    lock_guard lk(g_sched.lock);
    workers.swap(g_sched.allm);
    g_sched.allm.push_back(m0);
  }
  for (Worker* w : workers) {
    if (w == m0) continue;
    // begin_shutdown woke every worker once; a worker that went to sleep (or
    // into the poller) racing with it is woken again until it has left.
    // Seen in about one of ten runs of a 3,000-connection test under ASan:
    // a worker asleep on its note, idle, after the shutdown's wakeup.
    for (;;) {
      timespec until{};
      clock_gettime(CLOCK_REALTIME, &until);
      until.tv_nsec += 10000000;
      if (until.tv_nsec >= 1000000000) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000;
      }
      if (pthread_timedjoin_np(w->thread, nullptr, &until) == 0) break;
      w->note.wake();
      interrupt_poller();
    }
    delete w;
  }
}

// Gives back the stacks of goroutines that never finished.
void release_abandoned_goroutines() {
  std::vector<StackSpan> spans;
  stack_for_each_live(
      [](const StackSpan& s, void* ctx) { static_cast<std::vector<StackSpan>*>(ctx)->push_back(s); }, &spans);
  for (const StackSpan& span : spans) {
    Goroutine* g = goroutine_of_stack(span);
    if (g->magic != Goroutine::kMagic) continue;
    GStatus st = g->status.load();
    if (st == GStatus::kBlocking || st == GStatus::kRunning) continue;
    // A deferred shrink armed at its last park must not run once the stack
    // is back in the pools, where another goroutine may take it: disarm it
    // as a switch-in would (waiting if the scavenger is inside it now).
    disarm_deferred_shrink(g);
#if GORO_TSAN
    if (g->tsan_fiber != nullptr) __tsan_destroy_fiber(g->tsan_fiber);
#endif
    g->magic = 0;
    release_goroutine_segments(g);
    if (g->compactable) {
      compact_discard(g);
      stack_set_owner(span, nullptr);
    }
    stack_release(nullptr, span);
    if (g->compactable) compact_record_free(g);
  }
}

// Like go(), but flags the goroutine as main before anyone can run it.
template <typename F>
void start_main_goroutine(F&& fn) {
  void* storage = nullptr;
  // Never compacted, whatever goro::set_compact_after says: what a program
  // shares with its goroutines (wait groups, results) usually lives on main's
  // stack.
  spawn_options never_compact;
  never_compact.compact_after = std::chrono::nanoseconds(-1);
  Goroutine* g = new_goroutine(never_compact, &storage, __builtin_return_address(0));
  g->is_main = true;
  static_assert(sizeof(F) <= kInlineClosureBytes);
  ::new (storage) F(std::forward<F>(fn));
  start_goroutine(g, &InlineClosure<F>::ops);
}

}  // namespace

void spawn_worker_thread(Processor* p, bool spinning) noexcept {
  auto* w = new Worker;
  {
    lock_guard lk(g_sched.lock);
    if (g_sched.stopping.load()) {
      idle_p_put(p);
      if (spinning) g_sched.n_spinning.fetch_sub(1);
      delete w;
      return;
    }
    w->id = static_cast<int>(g_sched.allm.size());
    g_sched.allm.push_back(w);
  }
  w->next_p = p;
  w->spinning = spinning;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, kSystemStackBytes);
  int err = pthread_create(&w->thread, &attr, worker_main, w);
  pthread_attr_destroy(&attr);
  if (err != 0) sched_fatal("runtime: failed to create new OS thread (pthread_create failed)");
}

void begin_shutdown() noexcept {
  g_sched.stopping.store(true, std::memory_order_release);
  interrupt_poller();
  lock_guard lk(g_sched.lock);
  // Idle workers, and those waiting for a locked goroutine (a wakeup of a
  // worker that is neither is harmless: it clears its note before sleeping).
  for (Worker* w : g_sched.allm) w->note.wake();
}

int run_scheduler(std::function<int()> main_fn) {
  bool expected = false;
  if (!g_sched.running.compare_exchange_strong(expected, true)) {
    throw std::logic_error("goro::run: a runtime is already running in this process");
  }
  g_sched.stopping.store(false);
  g_sched.exit_code = 0;
  g_sched.goid_gen.store(0);  // ids start at 1 (main) in every run
  g_sched.foreign_goroutines.store(0);
  asymmetric_fence_init();  // before any worker takes runnext (runqueue.hpp)
  start_processors(resolve_maxprocs());
  auto* m0 = new Worker;
  m0->is_m0 = true;
  {
    lock_guard lk(g_sched.lock);  // no other worker yet: uncontended
    g_sched.allm.push_back(m0);
  }
  init_thread_context(m0);
  acquire_p(m0, g_sched.allp[0]);

  start_main_goroutine([fn = std::move(main_fn)]() mutable { g_sched.exit_code = fn(); });
  sysmon_start();
  schedule_loop(m0);

  sysmon_stop();
  join_workers(m0);
  compactor_stop();
  release_abandoned_goroutines();
  release_p(m0);
  free_processors();
  remove_signal_stack();
  set_current_worker(nullptr);
  delete m0;
  int code = g_sched.exit_code;
  g_sched.running.store(false);
  return code;
}

}  // namespace goro::detail
