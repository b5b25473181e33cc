// sched/procresize.cpp: how many processors are in service (Go's
// procresize and GOMAXPROCS), changed while the runtime runs.
//
// A run starts GOMAXPROCS processors: goro::set_maxprocs, else the
// GORO_MAXPROCS variable, else the CPUs this process may use, lowered to a
// cgroup's CPU limit as Go 1.25 does. set_maxprocs during a run, and the
// monitor adding or removing spares for workers stuck on one goroutine,
// both come here: resize_processors.
//
// Processors are never freed during a run, so lock-free readers of
// all_processors() (thieves, timer scans, goroutine counts) never see a
// dangling one. Growing reuses retired processors before making new ones
// and puts them on the idle list. Shrinking retires idle processors at once
// and asks busy ones to retire (retire_wanted): their holder does it the
// next time it looks for work, since only a holder may touch its
// processor's queue and caches. A retired processor's queue goes to the
// global queue and its timers to a processor in service; until then (or if
// a foreign thread adds a timer to it) thieves and the timed sleeper still
// look at it, so nothing on it is ever stranded.
#include "sched/scheduler.hpp"

#include <goro/runtime.hpp>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>

namespace goro::detail {

namespace {

std::atomic<int> g_maxprocs_setting{0};

int cpu_count() noexcept {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    int n = CPU_COUNT(&set);
    if (n > 0) return n;
  }
  unsigned n = std::thread::hardware_concurrency();
  return n > 0 ? static_cast<int>(n) : 1;
}

// The tightest cgroup v2 CPU limit (cpu.max: "quota period") on the path
// from this process's cgroup to the root, in CPUs; 0 if none.
double cgroup_cpu_limit() {
  std::ifstream self("/proc/self/cgroup");
  std::string line;
  std::string path;
  while (std::getline(self, line)) {
    if (line.rfind("0::", 0) == 0) path.assign(line, 3, std::string::npos);
  }
  if (path.empty()) return 0;
  double limit = 0;
  for (;;) {
    std::string file = "/sys/fs/cgroup";
    file.append(path).append("/cpu.max");
    std::ifstream max(file);
    std::string quota;
    double period = 0;
    if (max >> quota >> period && quota != "max" && period > 0) {
      double cpus = std::strtod(quota.c_str(), nullptr) / period;
      if (cpus > 0 && (limit == 0 || cpus < limit)) limit = cpus;
    }
    if (path == "/" || path.empty()) break;
    path.resize(path.rfind('/'));
    if (path.empty()) path = "/";
  }
  return limit;
}

// Go 1.25's default: the CPU count, lowered to the cgroup limit rounded up
// (but not below 2, so a fractional limit still overlaps a blocked worker).
int default_maxprocs() {
  int cpus = cpu_count();
  double limit = cgroup_cpu_limit();
  if (limit <= 0) return cpus;
  int capped = std::max(2, static_cast<int>(std::ceil(limit)));
  return std::min(cpus, capped);
}

// With g_sched.lock held.
void idle_p_remove(Processor* p) noexcept GORO_REQUIRES(g_sched.lock) {
  Processor** link = &g_sched.idle_p;
  while (*link != nullptr && *link != p) link = &(*link)->idle_link;
  if (*link != p) return;
  *link = p->idle_link;
  p->idle_link = nullptr;
  g_sched.n_idle_p.fetch_sub(1, std::memory_order_release);
}

bool is_idle(Processor* p) noexcept GORO_REQUIRES(g_sched.lock) {
  for (Processor* q = g_sched.idle_p; q != nullptr; q = q->idle_link) {
    if (q == p) return true;
  }
  return false;
}

// With g_sched.lock held: a processor to put in service, retired or new.
Processor* revive_or_make() GORO_REQUIRES(g_sched.lock) {
  for (Processor* p : all_processors(g_sched)) {
    if (p->retired && !p->draining) return p;
  }
  int n = g_sched.allp_len.load(std::memory_order_relaxed);
  if (n >= kMaxProcs + kMaxSpareProcs) return nullptr;
  auto* p = new Processor;
  p->id = n;
  g_sched.allp[n] = p;
  g_sched.allp_len.store(n + 1, std::memory_order_release);
  return p;
}

// With g_sched.lock held: takes processors out of service until `surplus`
// are gone, idle ones first (highest index first), then busy ones by asking
// their holders. Returns the idle ones retired here, to be drained.
int retire_surplus(int surplus, Processor** drained) noexcept GORO_REQUIRES(g_sched.lock) {
  std::span<Processor* const> all = all_processors(g_sched);
  int n = 0;
  for (auto it = all.rbegin(); it != all.rend() && surplus > 0; ++it) {
    Processor* p = *it;
    if (p->retired || !is_idle(p)) continue;
    idle_p_remove(p);
    p->retired = true;
    p->draining = true;
    drained[n++] = p;
    surplus--;
  }
  for (auto it = all.rbegin(); it != all.rend() && surplus > 0; ++it) {
    Processor* p = *it;
    if (p->retired || p->retire_wanted.load(std::memory_order_relaxed)) continue;
    p->retire_wanted.store(true, std::memory_order_relaxed);
    surplus--;
  }
  return n;
}

// A processor in service other than p, for p's timers.
Processor* heir_of(Processor* p) noexcept {
  lock_guard lk(g_sched.lock);
  for (Processor* q : all_processors(g_sched)) {
    if (q != p && !q->retired && !q->retire_wanted.load(std::memory_order_relaxed)) return q;
  }
  return nullptr;
}

// Moves every timer of `from` to `to`, both heaps locked by the caller.
void move_timers_locked(Processor* from, Processor* to) noexcept
    GORO_REQUIRES(from->timers.lock(), to->timers.lock()) {
  while (Timer* t = from->timers.pop_due(INT64_MAX)) to->timers.push(t, to);
}

// Moves every timer of `from` to `to`, both heaps locked (in id order) so
// that a concurrent modify or delete never finds the timer in neither.
void move_timers(Processor* from, Processor* to) noexcept {
  if (from->id < to->id) {
    lock_guard from_lk(from->timers.lock());
    lock_guard to_lk(to->timers.lock());
    move_timers_locked(from, to);
  } else {
    lock_guard to_lk(to->timers.lock());
    lock_guard from_lk(from->timers.lock());
    move_timers_locked(from, to);
  }
}

// Empties a processor just retired, held by nobody: its queue to the
// global queue, its timers to a processor in service, its stack cache to
// the pools.
void drain_retired(Processor* p) noexcept {
  Goroutine* batch[RunQueue::kSize / 2];
  bool moved = false;
  while (std::uint32_t n = p->runq.grab_half(batch, true)) {
    global_runq_put_batch(batch, n);
    moved = true;
  }
  if (!p->timers.empty()) {
    if (Processor* heir = heir_of(p)) move_timers(p, heir);
    wake_timer_sleeper();
  }
  p->stacks.flush();
  {
    lock_guard lk(g_sched.lock);
    p->draining = false;
  }
  if (moved) wake_worker_if_needed();
}

}  // namespace

int resolve_maxprocs() noexcept {
  int n = g_maxprocs_setting.load();
  if (n > 0) return n;
  if (const char* env = std::getenv("GORO_MAXPROCS")) {
    char* end = nullptr;
    long v = std::strtol(env, &end, 10);
    if (end != env && *end == '\0' && v > 0 && v <= kMaxProcs) return static_cast<int>(v);
  }
  static const int fallback = default_maxprocs();
  return fallback;
}

void start_processors(int n) {
  lock_guard lk(g_sched.lock);
  for (int i = 0; i < n; i++) {
    auto* p = new Processor;
    p->id = i;
    g_sched.allp[i] = p;
  }
  g_sched.allp_len.store(n, std::memory_order_release);
  g_sched.nprocs.store(n, std::memory_order_relaxed);
  g_sched.gomaxprocs = n;
  g_sched.spare_procs = 0;
  for (int i = n - 1; i >= 1; i--) idle_p_put(g_sched.allp[i]);
}

namespace {

// Timers still armed when the runtime ends (an after() channel kept past
// run(), a context deadline) must not point into freed processors: they are
// marked as no longer in any heap, which their owners read as "fired".
void detach_timers(Processor* p) noexcept {
  lock_guard lk(p->timers.lock());
  while (p->timers.size() > 0) {
    Timer* t = p->timers.pop_due(INT64_MAX);
    if (t == nullptr) break;
  }
}

}  // namespace

void free_processors() {
  std::span<Processor* const> all = all_processors(g_sched);
  for (Processor* p : all) detach_timers(p);
  for (Processor* p : all) {
    p->stacks.flush();
    while (Waiter* w = p->waiter_cache) {
      p->waiter_cache = w->next;
      delete w;
    }
    delete p;
  }
  // Every worker has exited: the lock is free, and taken only so that the
  // fields it guards are written the way the analysis checks.
  lock_guard lk(g_sched.lock);
  std::fill(std::begin(g_sched.allp), std::end(g_sched.allp), nullptr);
  g_sched.allp_len.store(0);
  g_sched.nprocs.store(0);
  g_sched.idle_p = nullptr;
  g_sched.n_idle_p.store(0);
  g_sched.idle_m = nullptr;
  g_sched.n_idle_m = 0;
  g_sched.n_spinning.store(0);
  g_sched.n_blocking = 0;
  g_sched.runq.clear();
  g_sched.runq_size.store(0);
  g_sched.timed_sleeper = nullptr;
  g_sched.sleep_deadline.store(INT64_MAX);
  g_sched.allm.clear();
}

void resize_processors(int gomaxprocs, int spares) noexcept {
  Processor* drained[kMaxProcs + kMaxSpareProcs];
  int n_drained = 0;
  bool grew = false;
  {
    lock_guard lk(g_sched.lock);
    if (g_sched.stopping.load(std::memory_order_acquire)) return;
    if (gomaxprocs <= 0) gomaxprocs = g_sched.gomaxprocs;
    if (spares < 0) spares = g_sched.spare_procs;
    spares = std::min(spares, kMaxSpareProcs);
    gomaxprocs = std::min(gomaxprocs, kMaxProcs);
    g_sched.gomaxprocs = gomaxprocs;
    g_sched.spare_procs = spares;
    int want = gomaxprocs + spares;
    int have = g_sched.nprocs.load(std::memory_order_relaxed);
    // Processors asked to retire but not yet retired come back first.
    for (Processor* p : all_processors(g_sched)) {
      if (have >= want) break;
      if (p->retire_wanted.exchange(false, std::memory_order_relaxed)) have++;
    }
    for (; have < want; have++) {
      Processor* p = revive_or_make();
      if (p == nullptr) break;
      p->retired = false;
      idle_p_put(p);
      grew = true;
    }
    if (have > want) n_drained = retire_surplus(have - want, drained);
    g_sched.nprocs.store(std::min(have, want), std::memory_order_relaxed);
  }
  for (int i = 0; i < n_drained; i++) drain_retired(drained[i]);
  if (grew) wake_worker_if_needed();
}

void retire_held_processor(Worker* w) noexcept {
  Processor* p = w->p;
  {
    lock_guard lk(g_sched.lock);
    // resize_processors may have taken the request back meanwhile.
    if (!p->retire_wanted.exchange(false, std::memory_order_relaxed)) return;
    p->retired = true;
    p->draining = true;
    release_p(w);
  }
  if (w->spinning) {
    w->spinning = false;
    g_sched.n_spinning.fetch_sub(1, std::memory_order_acq_rel);
  }
  drain_retired(p);
}

}  // namespace goro::detail

namespace goro {

int set_maxprocs(int n) {
  int shown = maxprocs();
  if (n <= 0) return shown;
  detail::g_maxprocs_setting.store(std::min(n, detail::kMaxProcs));
  if (detail::g_sched.running.load(std::memory_order_acquire)) detail::resize_processors(n, -1);
  return shown;
}

int maxprocs() {
  if (detail::g_sched.running.load(std::memory_order_acquire)) {
    goro::lock_guard lk(detail::g_sched.lock);
    if (detail::g_sched.gomaxprocs > 0) return detail::g_sched.gomaxprocs;
  }
  return detail::resolve_maxprocs();
}

}  // namespace goro
