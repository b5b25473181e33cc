// sched/sysmon.cpp: the system monitor (Go's sysmon), one thread that keeps
// a program moving when a worker is stuck on one goroutine.
//
// A worker is stuck when the processor it holds has not switched goroutines
// (its schedtick has not moved) for kStuckNs: its goroutine is in a CPU loop
// that never yields, in a blocking call not wrapped in goro::blocking, or in
// a long call on the system stack. goro cannot preempt it as Go does (C++
// code may hold a thread's lock or be inside malloc at any instruction), so
// it does what Go does for a goroutine in a system call instead: the stuck
// goroutine keeps its thread, and a spare processor is put in service
// (resize_processors), whose worker steals the stuck processor's queue and
// runs its due timers. Stuck goroutines therefore do not count against
// GOMAXPROCS, as goroutines in system calls do not in Go. A worker asleep
// in the kernel gets its spare at once: the spare uses a CPU the sleeper
// leaves free. One stuck in a CPU loop gets a spare only when no other
// processor is free to steal its queue: a spare would otherwise only add a
// thread competing for the same CPUs. Spares are retired once the count
// wanted has stayed lower for kSpareLingerNs, so a processor that switches
// again gives its spare back within two ticks:
// until then more processors than GOMAXPROCS run goroutines, which a
// program that asked for one CPU would see as a second one in use.
//
// It also marks a run it saw at two of its ticks as long (long_run_tick), so
// that a park need not read the clock to tell. And it polls the network when
// every worker is busy and nobody polled for 10 ms, and prints Go's
// schedtrace lines (and a line for each stuck processor) when GORO_DEBUG
// contains schedtrace=<ms>.
//
// Cost: while any processor is held the monitor wakes every kTickNs; when
// every processor is idle it sleeps on a futex until a worker takes one
// (sysmon_notice_busy), so an idle program sees no wakeups at all.
#include "sched/scheduler.hpp"

#include "sched/poller.hpp"

#include <pthread.h>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace goro::detail {

namespace {

constexpr std::int64_t kTickNs = 5000000;    // 5 ms
constexpr std::int64_t kStuckNs = 10000000;  // Go's forcePreemptNS
constexpr std::int64_t kSpareLingerNs = kTickNs;
constexpr std::int64_t kForcedPollNs = 10000000;

struct Monitor {
  Note note;
  std::atomic<bool> asleep{false};  // sleeping until a processor is held
  std::atomic<bool> stop{false};
  pthread_t thread{};
  bool started = false;  // owned by the thread calling run()
};
Monitor g_monitor;

// What the monitor last saw of one processor. Private to the monitor.
struct Watch {
  std::uint32_t tick = 0;
  std::int64_t since = 0;   // when tick last moved (0: not watched)
  int tid = 0;              // holder's thread then
  std::int64_t cpu_ns = 0;  // and its CPU time
  bool confirmed = false;   // found stuck; counted until tick moves
  bool in_kernel = false;   // confirmed asleep in the kernel, not in a CPU loop
};

// CPU time of another thread of this process (the clock id glibc's
// pthread_getcpuclockid makes from a thread id); -1 if it is gone.
std::int64_t thread_cpu_ns(int tid) noexcept {
  const auto clock = static_cast<clockid_t>((~static_cast<unsigned>(tid) << 3) | 6);
  timespec ts{};
  if (clock_gettime(clock, &ts) != 0) return -1;
  return static_cast<std::int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

// Whether the thread is runnable (state R in /proc): a runnable thread
// that got little CPU was only waiting for one.
bool thread_runnable(int tid) noexcept {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/self/task/%d/stat", tid);
  FILE* f = std::fopen(path, "re");
  if (f == nullptr) return false;
  char buf[512];
  std::size_t n = std::fread(buf, 1, sizeof buf - 1, f);
  std::fclose(f);
  buf[n] = '\0';
  const char* end_of_name = std::strrchr(buf, ')');  // the name may hold spaces
  return end_of_name != nullptr && end_of_name[1] == ' ' && end_of_name[2] == 'R';
}

// A processor that has not switched for kStuckNs is stuck if its thread
// ran (a CPU loop) or sleeps in the kernel (a blocking call). A thread the
// kernel merely did not run (the machine is oversubscribed) is not: a spare
// would only add another thread competing for the same CPUs.
enum class Stuck : std::uint8_t { kNo, kRunning, kInKernel };

Stuck how_stuck(const Watch& w, std::int64_t now) noexcept {
  std::int64_t cpu = thread_cpu_ns(w.tid);
  if (cpu < 0) return Stuck::kNo;
  if (cpu - w.cpu_ns >= (now - w.since) / 2) return Stuck::kRunning;
  return thread_runnable(w.tid) ? Stuck::kNo : Stuck::kInKernel;
}

std::int64_t schedtrace_interval_ns() noexcept {
  const char* debug = std::getenv("GORO_DEBUG");
  if (debug == nullptr) return 0;
  const char* at = std::strstr(debug, "schedtrace=");
  if (at == nullptr) return 0;
  long ms = std::strtol(at + std::strlen("schedtrace="), nullptr, 10);
  return ms > 0 ? ms * 1000000 : 0;
}

bool any_processor_held() noexcept {
  for (Processor* p : all_processors(g_sched)) {
    if (p->held.load(std::memory_order_seq_cst)) return true;
  }
  return false;
}

// Sleeps until a worker takes a processor (or until `deadline`, 0: none).
// The flag is published before the last look, and acquire_p publishes
// `held` before it reads the flag, so one of the two always sees the other.
void sleep_while_idle(std::int64_t deadline) noexcept {
  g_monitor.note.clear();
  g_monitor.asleep.store(true, std::memory_order_seq_cst);
  if (!any_processor_held() && !g_monitor.stop.load(std::memory_order_acquire)) {
    g_monitor.note.sleep(deadline);
  }
  g_monitor.asleep.store(false, std::memory_order_relaxed);
}

void report_stuck(const Processor* p, std::int64_t ran_ns) noexcept {
  std::fprintf(stderr,
               "goro: processor %d has run one goroutine for %lld ms without a switch (a loop that never "
               "yields, or a blocking call outside goro::blocking); other processors serve its queue\n",
               p->id, static_cast<long long>(ran_ns / 1000000));
}

// The held processors that have not switched for kStuckNs.
struct StuckCount {
  int running = 0;    // in a CPU loop (or a long call on the system stack)
  int in_kernel = 0;  // in a blocking call not wrapped in goro::blocking
};

StuckCount count_stuck(std::vector<Watch>& watch, std::int64_t now, bool report) noexcept {
  StuckCount stuck;
  for (Processor* p : all_processors(g_sched)) {
    Watch& w = watch[static_cast<std::size_t>(p->id)];
    std::uint32_t tick = p->schedtick.load(std::memory_order_relaxed);
    int tid = p->holder_tid.load(std::memory_order_relaxed);
    if (!p->held.load(std::memory_order_relaxed) || tick != w.tick || tid != w.tid || w.since == 0) {
      w = Watch{tick, now, tid, tid != 0 ? thread_cpu_ns(tid) : 0, false};
      continue;
    }
    // Seen running at two ticks: long enough that its stack may have
    // grown, which its next park checks (goroutine.cpp, shrink after a park).
    p->long_run_tick.store(tick, std::memory_order_relaxed);
    if (now - w.since < kStuckNs) continue;
    if (!w.confirmed) {
      Stuck how = how_stuck(w, now);
      if (how == Stuck::kNo) {
        w = Watch{tick, now, tid, thread_cpu_ns(tid), false};
        continue;
      }
      if (report) report_stuck(p, now - w.since);
      w.confirmed = true;
      w.in_kernel = how == Stuck::kInKernel;
    }
    (w.in_kernel ? stuck.in_kernel : stuck.running)++;
  }
  return stuck;
}

// How many spares the stuck processors need. Processors in service, less
// the stuck ones and the spares already lent, are free to steal.
int spares_wanted(StuckCount stuck, int spares) noexcept {
  int free = g_sched.nprocs.load(std::memory_order_relaxed) - stuck.running - stuck.in_kernel - spares;
  return stuck.in_kernel + (free > 0 ? 0 : stuck.running);
}

// A processor that has not switched since the monitor's last tick while
// goroutines wait in its queue: if a worker is idle, start one to steal
// them. ready() skips that wakeup when it expects the goroutine that
// readied them to park at once and hand its processor over (switch.cpp);
// this bounds the wait when that goroutine keeps running instead.
void wake_for_waiting_work(const std::vector<Watch>& watch, std::int64_t now) noexcept {
  for (Processor* p : all_processors(g_sched)) {
    const Watch& w = watch[static_cast<std::size_t>(p->id)];
    if (w.since == 0 || now - w.since < kTickNs || !p->held.load(std::memory_order_relaxed)) continue;
    if (p->schedtick.load(std::memory_order_relaxed) != w.tick || p->runq.empty()) continue;
    wake_worker_if_needed();
    return;
  }
}

// Spares are added at once, removed only after the count wanted has been
// lower for kSpareLingerNs.
void adjust_spares(int wanted, std::int64_t now, int& spares, std::int64_t& lower_since) noexcept {
  int want = std::min(wanted, kMaxSpareProcs);
  if (want > spares) {
    resize_processors(-1, want);
    spares = want;
    lower_since = 0;
  } else if (want < spares) {
    if (lower_since == 0) {
      lower_since = now;
    } else if (now - lower_since >= kSpareLingerNs) {
      resize_processors(-1, want);
      spares = want;
      lower_since = 0;
    }
  } else {
    lower_since = 0;
  }
}

// Go's sysmon netpoll: when nobody polled for 10 ms (every worker busy),
// the monitor does, and queues what became ready globally.
void poll_network(std::int64_t now) noexcept {
  const Poller* poller = g_poller.load(std::memory_order_acquire);
  if (poller == nullptr || !poller->has_waiters() || g_poll_blocked.load(std::memory_order_acquire)) return;
  if (now - g_last_poll_ns.load(std::memory_order_relaxed) < kForcedPollNs) return;
  g_last_poll_ns.store(now, std::memory_order_relaxed);
  if (Goroutine* list = poller->poll(0)) inject_list(list, nullptr, false);
}

// Go's schedtrace line.
void print_schedtrace(std::int64_t since_start) noexcept {
  char queues[2048];
  std::size_t used = 0;
  int gomaxprocs = 0;
  int spares = 0;
  int threads = 0;
  int idle_threads = 0;
  int global = 0;
  {
    lock_guard lk(g_sched.lock);
    gomaxprocs = g_sched.gomaxprocs;
    spares = g_sched.spare_procs;
    threads = static_cast<int>(g_sched.allm.size());
    idle_threads = g_sched.n_idle_m;
    global = g_sched.runq_size.load(std::memory_order_relaxed);
    for (Processor* p : all_processors(g_sched)) {
      if (p->retired || used + 16 >= sizeof queues) continue;
      std::uint32_t n = p->runq.size_without_next() + (p->runq.peek_next() != nullptr ? 1 : 0);
      used += static_cast<std::size_t>(
          std::snprintf(queues + used, sizeof queues - used, "%s%u", used ? " " : "", n));
    }
  }
  queues[used] = '\0';
  std::fprintf(stderr,
               "SCHED %lldms: gomaxprocs=%d spareprocs=%d idleprocs=%d threads=%d spinningthreads=%d "
               "idlethreads=%d runqueue=%d [%s]\n",
               static_cast<long long>(since_start / 1000000), gomaxprocs, spares,
               g_sched.n_idle_p.load(std::memory_order_relaxed), threads,
               g_sched.n_spinning.load(std::memory_order_relaxed), idle_threads, global, queues);
}

void* monitor_main(void*) {
  pthread_setname_np(pthread_self(), "goro-sysmon");
  std::vector<Watch> watch(kMaxProcs + kMaxSpareProcs);
  const std::int64_t trace_every = schedtrace_interval_ns();
  const std::int64_t start = nanotime();
  std::int64_t next_trace = trace_every > 0 ? start + trace_every : 0;
  int spares = 0;
  std::int64_t lower_since = 0;
  while (!g_monitor.stop.load(std::memory_order_acquire)) {
    std::int64_t now = nanotime();
    if (next_trace != 0 && now >= next_trace) {
      print_schedtrace(now - start);
      next_trace = now + trace_every;
    }
    if (!any_processor_held() && spares == 0) {
      sleep_while_idle(next_trace);
      continue;
    }
    StuckCount stuck = count_stuck(watch, now, trace_every > 0);
    adjust_spares(spares_wanted(stuck, spares), now, spares, lower_since);
    wake_for_waiting_work(watch, now);
    poll_network(now);
    g_monitor.note.clear();
    if (!g_monitor.stop.load(std::memory_order_acquire)) g_monitor.note.sleep(now + kTickNs);
  }
  return nullptr;
}

}  // namespace

void sysmon_start() noexcept {
  g_monitor.stop.store(false, std::memory_order_relaxed);
  g_monitor.asleep.store(false, std::memory_order_relaxed);
  // Without a monitor the program still runs, only without spares: a
  // failure to create the thread is not fatal.
  g_monitor.started = pthread_create(&g_monitor.thread, nullptr, monitor_main, nullptr) == 0;
}

void sysmon_stop() noexcept {
  if (!g_monitor.started) return;
  g_monitor.stop.store(true, std::memory_order_release);
  g_monitor.note.wake();
  pthread_join(g_monitor.thread, nullptr);
  g_monitor.started = false;
}

void sysmon_notice_busy() noexcept {
  if (g_monitor.asleep.load(std::memory_order_seq_cst) && g_monitor.asleep.exchange(false)) {
    g_monitor.note.wake();
  }
}

}  // namespace goro::detail
