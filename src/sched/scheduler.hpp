// sched/scheduler.hpp: workers, processors and the global scheduler state
// (Go's M, P and sched).
//
// A Worker is an OS thread. To run goroutines it must hold a Processor,
// which owns a local run queue, a timer heap and the per-processor caches
// (stacks, wait records, goroutine ids). There are GOMAXPROCS processors in
// service, plus one spare for each worker stuck on one goroutine
// (sysmon.cpp); workers beyond that exist only while some are inside
// goro::blocking, waiting for a locked goroutine, or idle.
//
// Switching: goroutine to goroutine is direct (one context switch), through
// the worker's scheduler context (g0, on the thread's own stack) only when
// the local queue is empty or every 61st switch, when the global queue and
// timers get their turn. Whatever the previous context asked for (park it,
// requeue it, free its stack) is finished by the context that resumes, once
// the previous one is off its stack: finish_switch().
//
// Idle workers: a worker that finds no work spins briefly stealing from the
// others (at most half of the busy processors' worth of spinners), then
// gives back its processor and sleeps on a futex. One sleeping worker holds
// the earliest timer deadline. ready() starts a spinning worker when a
// processor is idle and none spins (Go's wakep), unless the goroutine
// readied will run next on this worker (direct handoff, switch.cpp); a
// spinner steals a victim's runnext only if the victim has not switched for
// a moment, so a sender and its receiver usually stay together on one
// processor.
#pragma once

#include <goro/lock_guard.hpp>
#include <goro/thread_annotations.hpp>
#include "arch/mutex.hpp"
#include "sched/futex.hpp"
#include "sched/goroutine.hpp"
#include "sched/runqueue.hpp"
#include "sched/sched_stats.hpp"
#include "sched/timers.hpp"
#include "stack/stack.hpp"

#include <pthread.h>
#include <atomic>
#include <cstdint>
#include <ctime>
#include <functional>
#include <mutex>
#include <span>
#include <vector>

namespace goro::detail {

struct Worker;

struct alignas(64) Processor {
  int id = 0;
  Worker* worker = nullptr;  // holder, null when idle
  // Whether some worker holds it (worker != null), and that worker's
  // thread id: what the monitor reads.
  std::atomic<bool> held{false};
  std::atomic<int> holder_tid{0};
  Processor* idle_link = nullptr;
  // Out of service (procresize.cpp). Guarded by g_sched.lock. A retired
  // processor is on no idle list and held by nobody; its queue is drained,
  // though others still look at its queue and timers until it is reused.
  bool retired = false;
  // Retired and still being drained by the worker that retired it, which
  // owns it until then: it cannot be put back in service meanwhile.
  // Guarded by g_sched.lock.
  bool draining = false;
  // Set by resize_processors on a held processor; its holder retires it the
  // next time it looks for work.
  std::atomic<bool> retire_wanted{false};
  RunQueue runq;
  std::atomic<std::uint32_t> schedtick{0};
  // The schedtick of a run the system monitor saw last for at least one of
  // its ticks (sysmon.cpp): while it equals schedtick, the goroutine now
  // running has run long. Written by the monitor, read by the holder.
  std::atomic<std::uint32_t> long_run_tick{UINT32_MAX};
  // Switches in a row that took runnext (Go's inheritTime). Written only by
  // the holder; at kRunnextBudget the head of the ring goes first.
  std::uint32_t runnext_streak = 0;
  TimerHeap timers;
  StackCache stacks;
  // Wait records (Go's sudogcache).
  Waiter* waiter_cache = nullptr;
  int waiter_count = 0;
  // Goroutine ids handed out in batches (Go's goidcache).
  std::uint64_t goid_next = 0;
  std::uint64_t goid_end = 0;
  // Goroutines started on empty stacks, for spawn_site_plan's sampling.
  std::uint32_t empty_stack_spawns = 0;
  // Net goroutines started minus exited on this processor. Written only by
  // the holder (count_goroutines), read by anyone (num_goroutine).
  std::atomic<std::int64_t> goroutines{0};
  // Histograms for goro::metrics (sched_stats.hpp).
  ProcessorStats stats;
};

// What the context that switched away asks its successor to finish.
enum class SwitchAction : std::uint8_t {
  kNone,
  kPark,           // run the park commit, maybe ready again
  kRequeue,        // yield: back of the local queue
  kRequeueGlobal,  // yield as if preempted: back of the global queue
  kExit,           // free the goroutine's stack
  kSystemCall,     // run sys_fn on g0, then resume the goroutine
  kBlockingExit,   // no processor after blocking(): queue it globally
};

struct Worker {
  int id = 0;
  Processor* p = nullptr;
  Processor* next_p = nullptr;  // handed over by start_worker
  // lock_os_thread (lockosthread.cpp): the goroutine locked to this worker;
  // the goroutine handed to it with next_p while it waited for it; whether
  // it waits (guarded by g_sched.lock); whether its locked goroutine exited
  // locked, which ends the thread.
  Goroutine* locked_g = nullptr;
  Goroutine* next_g = nullptr;
  bool locked_waiting = false;
  bool exit_thread = false;
  Goroutine* current = nullptr;
  void* g0_sp = nullptr;
  EhState* thread_eh = nullptr;  // this thread's exception state (thread_eh_state)
  EhState g0_eh;                 // the scheduler context's, while a goroutine runs
  Note note;
  Worker* idle_link = nullptr;
  bool spinning = false;
  // The victim this worker last found in one long run, and that run's
  // schedtick (find_runnable.cpp, victim_stuck). Owned by the worker.
  Processor* stuck_victim = nullptr;
  std::uint32_t stuck_victim_tick = 0;
  bool idle = false;  // on the idle list
  bool is_m0 = false;
  bool in_blocking = false;
  pthread_t thread{};
  int tid = 0;  // the thread's kernel id
  // Direct handoff (switch.cpp). The goroutine the running one last put in
  // runnext with ready(); whether ready() skipped waking an idle worker for
  // it (Go's wakep), a debt the next switch settles; and how many parks in
  // a row switched straight to the goroutine readied just before (capped at
  // kHandoffTrust, negative after a skipped wakeup proved wrong), which is
  // what lets ready() skip the wakeup. Owned by the worker's thread.
  Goroutine* readied = nullptr;
  bool wakep_owed = false;
  std::int16_t handoffs = 0;
  // CLOCK_MONOTONIC_COARSE, refreshed each time the worker passes through
  // its scheduler loop (at least every 61 switches); stamps switch-ins.
  std::int64_t coarse_now = 0;

  // Handed from the switching-away context to finish_switch(); `prev` is
  // meaningful only while `action` is not kNone (it is not cleared).
  Goroutine* prev = nullptr;
  SwitchAction action = SwitchAction::kNone;
  void (*sys_fn)(void*) = nullptr;
  void* sys_arg = nullptr;
  bool (*park_commit)(Goroutine*, void*) = nullptr;  // kPark: park()'s commit
  void* park_arg = nullptr;

  // Sanitizer bookkeeping of the thread's own stack (g0).
  void* tsan_fiber = nullptr;
  void* asan_fake_stack = nullptr;
  const void* stack_bottom = nullptr;
  std::size_t stack_size = 0;
};

// Processors in a run: GOMAXPROCS plus spares for workers stuck on one
// goroutine (sysmon.cpp), at most.
inline constexpr int kMaxProcs = 1024;
inline constexpr int kMaxSpareProcs = 256;

struct Scheduler {
  Mutex lock;  // Go's sched.lock: idle lists, global queue, workers

  // Every processor of the run, in service or retired. Entries below
  // allp_len are written once (under lock, before allp_len is published)
  // and stay valid until the run ends: readers need no lock.
  Processor* allp[kMaxProcs + kMaxSpareProcs] = {};
  std::atomic<int> allp_len{0};
  std::atomic<int> nprocs{0};                // processors in service, spares included
  int gomaxprocs GORO_GUARDED_BY(lock) = 0;  // the setting, spares excluded
  int spare_procs GORO_GUARDED_BY(lock) = 0;
  Processor* idle_p GORO_GUARDED_BY(lock) = nullptr;
  std::atomic<int> n_idle_p{0};

  std::vector<Worker*> allm GORO_GUARDED_BY(lock);
  Worker* idle_m GORO_GUARDED_BY(lock) = nullptr;
  int n_idle_m GORO_GUARDED_BY(lock) = 0;
  int n_locked_waiting GORO_GUARDED_BY(lock) = 0;  // workers waiting for their locked goroutine
  std::atomic<int> n_spinning{0};
  int n_blocking GORO_GUARDED_BY(lock) = 0;  // workers inside blocking() without a processor

  // Global run queue (Go's sched.runq), FIFO; runq_size is read without
  // the lock as a hint.
  GlobalRunQueue runq GORO_GUARDED_BY(lock);
  std::atomic<int> runq_size{0};

  // The one worker sleeping with a deadline, and that deadline.
  Worker* timed_sleeper GORO_GUARDED_BY(lock) = nullptr;
  std::atomic<std::int64_t> sleep_deadline{INT64_MAX};

  std::atomic<bool> running{false};
  std::atomic<bool> stopping{false};
  std::atomic<std::uint64_t> goid_gen{0};
  std::atomic<std::int64_t> foreign_goroutines{0};
  // Things outside the scheduler that will ready a goroutine (netpoll
  // registrations, foreign threads): while > 0 there is no deadlock.
  std::atomic<std::int64_t> external_waiters{0};
  int exit_code = 0;
};

Scheduler& sched() noexcept;

// Every processor of the run, retired ones included. Lock-free.
inline std::span<Processor* const> all_processors(const Scheduler& s) noexcept {
  return {s.allp, static_cast<std::size_t>(s.allp_len.load(std::memory_order_acquire))};
}

// ---------------------------------------------------------------------------
// Shared by the files of sched/ only (scheduler.cpp lists them).

struct Poller;
extern Scheduler g_sched;  // what sched() returns
// Every kFairnessTick-th switch goes through the scheduler loop, which then
// looks at the global queue and the poller first.
inline constexpr std::uint32_t kFairnessTick = 61;
extern std::atomic<const Poller*> g_poller;
extern std::atomic<bool> g_poll_blocked;  // a worker waits inside poll()
extern std::atomic<std::int64_t> g_last_poll_ns;
std::int64_t nanotime() noexcept;
// With g_sched.lock held.
void global_put_locked(Goroutine* g) noexcept GORO_REQUIRES(g_sched.lock);
// Takes one goroutine from the global queue and moves a fair share of the
// rest to p's local queue (at most max, 0 meaning no limit).
Goroutine* global_get(Processor* p, int max) noexcept;
// Earliest `when` of every processor's timers, 0 if none.
std::int64_t earliest_timer() noexcept;
// Runs p's timers due at `now`; their callbacks ready goroutines onto the
// caller's processor.
void run_timers(Processor* p, std::int64_t now) noexcept;
// Nudges a sleeping worker to re-read the earliest timer (Go's wakeNetPoller).
void wake_timer_sleeper() noexcept;
void execute(Worker* w, Goroutine* g, bool count_tick) noexcept;
// Makes a list of goroutines (linked through sched_link) runnable: on p's
// queue if p is not null, else globally; wakes workers for them (all but
// one if `takes_one`: the caller runs that one itself).
void inject_list(Goroutine* list, Processor* p, bool takes_one) noexcept;
// A spinning worker that found work stops spinning (and may start another).
void reset_spinning(Worker* w) noexcept;

}  // namespace goro::detail

// The current worker, per thread. initial-exec: the library is position
// independent, and the default model for that would make every access a
// call to __tls_get_addr. C linkage, so that current_worker() can name it
// in assembly.
extern "C" {
extern thread_local goro::detail::Worker* goro_tls_worker __attribute__((tls_model("initial-exec")));
}

namespace goro::detail {

// The worker running this thread, or nullptr. Read through the thread
// pointer at every call: a goroutine may resume on another thread after any
// switch (DESIGN.md, "Rules"), and a compiler keeps a thread_local's address
// in a register across calls, which would then name the old thread's
// variable. The assembly is not cached, and its memory clobber keeps it
// after any call that may have switched. Inlined: it is on every park and
// ready.
inline Worker* current_worker() noexcept {
#if defined(__x86_64__)
  Worker* w;
  asm volatile("movq goro_tls_worker@gottpoff(%%rip), %0\n\tmovq %%fs:(%0), %0" : "=r"(w) : : "memory");
  return w;
#else
#error "current_worker: only x86-64 is supported"
#endif
}

// Internal entry points shared by the files of sched/.
void set_current_worker(Worker* w) noexcept;
void acquire_p(Worker* w, Processor* p) noexcept;
void release_p(Worker* w) noexcept;
// With g_sched.lock held.
void idle_p_put(Processor* p) noexcept GORO_REQUIRES(g_sched.lock);
Processor* idle_p_get() noexcept GORO_REQUIRES(g_sched.lock);
void idle_m_remove(Worker* w) noexcept GORO_REQUIRES(g_sched.lock);
Worker* idle_m_get() noexcept GORO_REQUIRES(g_sched.lock);
// Hands p (or an idle processor when null) to an idle or new worker.
void start_worker(Processor* p, bool spinning) noexcept;
// Creates a worker thread that starts holding p (worker.cpp).
void spawn_worker_thread(Processor* p, bool spinning) noexcept;
Goroutine* find_runnable(Worker* w) noexcept;
void schedule_loop(Worker* w) noexcept;
void begin_shutdown() noexcept;
// Stack segments (segment.cpp).
const std::byte* thread_segment_base() noexcept;
void release_goroutine_segments(Goroutine* g) noexcept;
// The body of goro::run (worker.cpp).
int run_scheduler(std::function<int()> main_fn);
void finish_switch(Worker* w) noexcept;
void switch_away(Goroutine* self, SwitchAction action) noexcept;
// The same, for a caller that has the current worker at hand.
void switch_away(Worker* w, Goroutine* self, SwitchAction action) noexcept;
// Queues g on p (owner only; Go's runqput): as runnext when `next`, else
// at the ring's tail. A full ring sends half of itself, and g, to the
// global queue; returns whether it did.
bool runq_put(Processor* p, Goroutine* g, bool next) noexcept;
// Takes the goroutine p runs next (owner only; Go's runqget): runnext
// first, unless it has won kRunnextBudget switches in a row, then the
// ring's head, so a pair of goroutines handing a processor back and forth
// cannot starve the rest of its queue. Go gives runnext the rest of the
// current time slice (inheritTime) and lets sysmon's preemption end a slice
// that never ends; goro cannot preempt, so it counts. Inline: on every
// switch.
inline constexpr std::uint32_t kRunnextBudget = 64;
inline Goroutine* runq_get(Processor* p) noexcept {
  if (p->runnext_streak < kRunnextBudget) {
    if (Goroutine* g = p->runq.pop_next()) {
      p->runnext_streak++;
      return g;
    }
  }
  p->runnext_streak = 0;
  if (Goroutine* g = p->runq.pop_ring()) return g;
  return p->runq.pop_next();
}
void global_runq_put_batch(Goroutine** gs, std::uint32_t n) noexcept;
void wake_worker_if_needed() noexcept;
void add_timer(Timer* t) noexcept;
bool del_timer(Timer* t) noexcept;
// Moves a pending timer to `when` where it is; false (and nothing done) if
// it is in no heap, e.g. already popped to fire.
bool modify_timer(Timer* t, std::int64_t when) noexcept;
std::uint64_t next_goid(Processor* p) noexcept;
void release_dead_goroutine(Processor* p, Goroutine* g) noexcept;

// Adds `delta` to p's goroutine count; by p's holder only. A plain load and
// store, as the run queue's owner side is: one worker holds p at a time,
// and a handover orders one holder's writes before the next one's. A
// locked add would wait on every spawn for the store buffer to drain, that
// is for the new goroutine's record lines, which usually sit in another
// core's cache (its stack was last used there).
inline void count_goroutines(Processor* p, std::int64_t delta) noexcept {
  p->goroutines.store(p->goroutines.load(std::memory_order_relaxed) + delta, std::memory_order_relaxed);
}
// Deferred shrinks (goroutine.cpp, DeferredShrink in stack/stack.hpp): the
// worker that finishes a park queues one the goroutine asked for
// (shrink_wanted) or arms the one outstanding, before the commit; before a
// goroutine whose word is armed is switched in, it is disarmed, or waited
// for while the scavenger shrinks it.
void arm_deferred_shrink(Goroutine* g) noexcept;
void disarm_deferred_shrink(Goroutine* g) noexcept;
[[noreturn]] void sched_fatal(const char* msg) noexcept;

// Processors (procresize.cpp, Go's procresize). Sets the processors in
// service to `gomaxprocs` + `spares` (either one negative: unchanged): new
// or retired ones are put on the idle list, surplus ones retired at once if
// idle, else by their holders.
void resize_processors(int gomaxprocs, int spares) noexcept;
// The holder of p, which resize_processors asked to retire: retires it.
// Returns with w holding no processor.
void retire_held_processor(Worker* w) noexcept;
// Makes the first `n` processors of a new run (worker.cpp).
void start_processors(int n);
// Frees them all at the end of a run.
void free_processors();
int resolve_maxprocs() noexcept;

// lock_os_thread (lockosthread.cpp). A worker whose goroutine is locked to
// it gives its processor away and sleeps until that goroutine is runnable
// again (Go's stoplockedm); returns the goroutine, with a processor held, or
// null when the runtime stops.
Goroutine* wait_for_locked_goroutine(Worker* w) noexcept;
// A worker that found g, locked to another worker, hands it its processor
// and g (Go's startlockedm). Returns with w holding no processor.
void hand_to_locked_worker(Worker* w, Goroutine* g) noexcept;
// The worker's locked goroutine exited locked: the thread ends (m0, which
// must return from run(), sleeps until the runtime stops instead).
void end_locked_thread(Worker* w) noexcept;
// With g_sched.lock held: fatal if every worker sleeps and nothing can
// ever wake one.
void check_deadlock_locked() noexcept GORO_REQUIRES(g_sched.lock);

// The system monitor (sysmon.cpp, Go's sysmon).
void sysmon_start() noexcept;
void sysmon_stop() noexcept;
// A worker took a processor: a monitor asleep because all were idle wakes.
void sysmon_notice_busy() noexcept;

// CLOCK_MONOTONIC_COARSE in nanoseconds (one clock tick, 4 ms, of
// resolution). Inlined: every park reads it. Cost: a vDSO call, no syscall.
inline std::int64_t coarse_nanotime() noexcept {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

// Fatal reporting is owned by debug/; it registers a richer reporter here.
using FatalReporter = void (*)(const char* msg);
void set_fatal_reporter(FatalReporter r) noexcept;

// Sanitizer-aware low-level switches.
void switch_g_to_g(Worker* w, Goroutine* from, Goroutine* to, bool dying) noexcept;
void switch_g_to_g0(Goroutine* from, Worker* w, bool dying) noexcept;
void switch_g0_to_g(Worker* w, Goroutine* to) noexcept;

}  // namespace goro::detail
