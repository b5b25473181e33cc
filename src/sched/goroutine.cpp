// sched/goroutine.cpp: a goroutine's life (Go's newproc, goexit) and the
// calls a goroutine makes about itself (park, yield, system stack).
//
// Spawn: take a stack from the processor's cache, build the record and the
// function object in its top page, lay out a fresh context below them and
// put the goroutine in runnext, as Go does. Nothing here locks or calls the
// kernel when the cache is warm. A spawn that fills the processor's run
// queue (half of it goes to the global queue) also yields the spawner to
// the back of the global queue, behind those children, where Go's monitor
// would preempt a goroutine that spawns in a loop (goro cannot preempt).
// Without this, children pile up whenever the other processors run them
// slower than they are made, each holding a stack, and fresh stacks cost
// page faults, which slows their runs further (a loop of a million spawns
// measured anywhere from 0.2 to 13 us of CPU per goroutine; with it, a few
// hundred stacks are reused hot). A goroutine that opted into compaction
// (compactor.hpp) gets a pooled heap record instead, named by its slot's
// owner entry, and its function object at the very top of its stack.
//
// Exit: the goroutine destroys its function object, then switches away
// asking its successor to free the stack (it cannot free the stack it runs
// on). A goroutine that ran long enough to have grown its stack deep is
// trimmed before its stack is pooled.
//
// Shrink after a park: a goroutine that ran a long time since it was
// switched in may have faulted in many stack pages (64 MB of recursion takes
// tens of milliseconds of page faults). When a run of it was seen by the
// system monitor at two of its ticks (5 ms apart; sysmon.cpp marks the
// processor's long_run_tick), its next park asks for a shrink: the worker
// that finishes the park queues a request, and the scavenger thread gives
// back what lies well below its stack pointer once it has stayed parked
// kDeferredShrinkNs (20 ms), as Go shrinks stacks at the next garbage
// collection rather than at the park. A goroutine that parks briefly between
// two deep runs keeps its pages. One word per goroutine (shrink_claim: armed
// while parked, disarmed while running, busy while shrunk) settles the
// request against the switch-in, which only reads a flag unless a request is
// outstanding. At exit the shrink is done at once. Every kShrinkCheckParks-th
// park asks as well, for goroutines that grow a little on each of many short
// runs, but at most once per kPeriodicShrinkGapNs: while a request is
// outstanding every switch-in pays a compare-and-swap, and a goroutine that
// parks thousands of times a second (a channel ping-pong) is found running
// when its request comes due, which then drops it.
//
// A park reads no clock: the monitor's mark tells a long run, and the
// worker's cached coarse time (coarse_now, refreshed by every pass through
// its scheduler loop, so at least every 61 switches) stamps when a goroutine
// parked, for dumps and the periodic check. Reading the coarse clock at
// every park cost about 7 ns of a 130 ns channel round trip.
#include "sched/compactor.hpp"
#include "sched/sanitizers.hpp"
#include "sched/scheduler.hpp"
#include "sched/spawn_sites.hpp"

#include <goro/goroutine.hpp>
#include <goro/runtime.hpp>
#include <goro/stack.hpp>

#include <pthread.h>
#include <sched.h>
#include <algorithm>
#include <cstring>
#include <ctime>
#include <new>
#include <stdexcept>
#include <thread>

namespace goro::detail {

namespace {

constexpr std::uint64_t kGoidBatch = 16;
constexpr std::uint32_t kShrinkCheckParks = 1024;
constexpr std::int64_t kPeriodicShrinkGapNs = 1'000'000'000;

std::atomic<std::size_t> g_max_stack{kDefaultStackLimit};

// Constructing the record writes its hot lines only (goroutine.hpp).
Goroutine* place_record(const StackSpan& span) noexcept {
  Goroutine* g = goroutine_of_stack(span);
  ::new (g) Goroutine;
  std::atomic_ref<std::uint64_t>(g->shrink_claim).store(0, std::memory_order_relaxed);
  g->stack = span;
  return g;
}

void name_goroutine(Goroutine* g, std::string_view name) noexcept {
  std::size_t n = std::min(name.size(), sizeof g->name - 1);
  std::memcpy(g->name, name.data(), n);
  g->name[n] = '\0';
  g->named = true;
}

void* closure_storage(Goroutine* g) noexcept {
  auto* top = reinterpret_cast<std::byte*>(g);
  return top - kInlineClosureBytes;
}

// A compactable goroutine's record goes to the heap, so that nothing that
// wakes it touches its stack; its function object stays at the stack's top,
// taking only its own size (rounded to 16 bytes), because a compacted stack
// keeps everything from there down to its stack pointer.
Goroutine* place_record_on_heap(const StackSpan& span, std::uint32_t compact_after_ms) {
  Goroutine* g = compact_record_alloc(compact_after_ms);
  g->stack = span;
  try {
    compactor_register(g);
    stack_set_owner(span, g);
  } catch (...) {
    stack_set_owner(span, nullptr);
    compact_record_free(g);
    throw;
  }
  return g;
}

void* closure_storage_on_stack(const StackSpan& span, std::size_t closure_bytes) noexcept {
  std::size_t bytes = std::max<std::size_t>(16, (closure_bytes + 15) & ~std::size_t{15});
  return span.top - bytes;
}

// Gives back the heap record of a compactable goroutine whose stack is
// about to be released.
void retire_heap_record(Goroutine* g) noexcept {
  stack_set_owner(g->stack, nullptr);
}

// Whether the goroutine running on w's processor ran long (see the file
// comment). A goroutine without a processor (in goro::blocking) is not
// looked at.
bool ran_long(const Worker* w) noexcept {
  const Processor* p = w->p;
  return p != nullptr &&
         p->long_run_tick.load(std::memory_order_relaxed) == p->schedtick.load(std::memory_order_relaxed);
}

[[noreturn]] void goroutine_main(void*) {
#if GORO_ASAN
  __sanitizer_finish_switch_fiber(nullptr, nullptr, nullptr);
#endif
  Worker* w = current_worker();
  Goroutine* self = w->current;
  finish_switch(w);
  self->closure_ops->invoke(self->closure);
  self->closure_ops->destroy(self->closure);
  // Judged now: once switched away, schedtick belongs to the next run.
  w = current_worker();
  self->shrink_wanted = ran_long(w);
  switch_away(w, self, SwitchAction::kExit);
  __builtin_unreachable();
}

// Every kShrinkCheckParks-th park, unless the goroutine was looked at (or
// asked for a look) less than kPeriodicShrinkGapNs ago. The coarse and the
// fine clock share an epoch, so last_check_ns compares with either.
bool periodic_shrink_due(Goroutine* g, std::int64_t now) noexcept {
  return ++g->park_count % kShrinkCheckParks == 0 && now - g->shrink.last_check_ns >= kPeriodicShrinkGapNs;
}

// Whether a goroutine may have grown since it was last looked at (see the
// file comment): its run was long, or the periodic look is due.
bool shrink_due(Goroutine* g, std::int64_t now, bool long_run) noexcept {
  return long_run || periodic_shrink_due(g, now);
}

// Gives back stack pages far below `sp`. At a park the shrink is only asked
// for (shrink_wanted): request_deferred_shrink queues it once the goroutine
// is off its stack. A goroutine that opted into compaction is shrunk at once
// instead: the compactor owns its parked stack. Out of line, so that the
// common park and exit, which skip it, save no registers for it.
[[gnu::noinline]] void shrink_grown(Goroutine* g, const void* sp, bool at_park, std::int64_t now) noexcept {
  if (at_park && !g->compactable) {
    g->shrink_wanted = true;
    g->shrink.last_check_ns = now;
    return;
  }
  stack_shrink_parked(g->stack, sp, g->shrink, nanotime());
}

}  // namespace

std::uint64_t next_goid(Processor* p) noexcept {
  if (p == nullptr) return g_sched.goid_gen.fetch_add(1) + 1;
  if (p->goid_next == p->goid_end) {
    p->goid_next = g_sched.goid_gen.fetch_add(kGoidBatch) + 1;
    p->goid_end = p->goid_next + kGoidBatch;
  }
  return p->goid_next++;
}

Goroutine* new_goroutine(const spawn_options& opts, void** storage, void* creator_pc,
                         std::size_t closure_bytes) {
  if (!g_sched.running.load(std::memory_order_acquire)) {
    throw std::logic_error("goro::go: no runtime is running (call it inside goro::run)");
  }
  std::size_t limit = normalize_stack_limit(opts.max_stack != 0 ? opts.max_stack : g_max_stack.load());
  Worker* w = current_worker();
  Processor* p = w != nullptr ? w->p : nullptr;
  bool empty = false;
  StackSpan span = stack_acquire(p != nullptr ? &p->stacks : nullptr, limit, &empty);
  std::size_t commit = opts.initial_commit;
  bool measure = false;
  if (commit == 0 && empty && p != nullptr)
    commit = spawn_site_plan(creator_pc, p->empty_stack_spawns, &measure);
  // Before the record is written: one call commits the pages, no fault.
  if (commit != 0) stack_commit(span, commit);
  Goroutine* g = nullptr;
  if (std::uint32_t after = compact_after_for(opts); after != 0) [[unlikely]] {
    try {
      g = place_record_on_heap(span, after);
      std::atomic_ref<std::uint64_t>(g->shrink_claim).store(0, std::memory_order_relaxed);
    } catch (...) {
      stack_release(p != nullptr ? &p->stacks : nullptr, span);
      throw;
    }
    g->closure = closure_storage_on_stack(span, closure_bytes);
  } else {
    g = place_record(span);
    g->closure = closure_storage(g);
  }
  g->measure_depth = measure;
  Goroutine* parent = w != nullptr ? w->current : nullptr;
  g->creator_pc = creator_pc;
  g->parent_id = parent != nullptr ? parent->id : 0;
  if (!opts.name.empty()) name_goroutine(g, opts.name);
  *storage = g->closure;
  return g;
}

namespace {

// The spawner whose spawn filled its processor's queue goes to the global
// queue's back, so that its children queued so far run before it makes
// more (at the back of its own queue it would wait for only half of them,
// and the global queue would grow by the other half at each turn). Only a
// goroutine running on its own stack yields: go() from a function on the
// system stack carries on.
void yield_crowding_spawner(Worker* w) noexcept {
  Goroutine* self = w->current;
  if (self == nullptr || !self->stack.contains(__builtin_frame_address(0))) return;
  switch_away(w, self, SwitchAction::kRequeueGlobal);
}

}  // namespace

std::uint64_t start_goroutine(Goroutine* g, const ClosureOps* ops) noexcept {
  g->closure_ops = ops;
  g->saved_sp = goro_make_context(g->closure, &goroutine_main);
#if GORO_TSAN
  g->tsan_fiber = __tsan_create_fiber(0);
#endif
  Worker* w = current_worker();
  Processor* p = w != nullptr ? w->p : nullptr;
  g->id = next_goid(p);
  note_spawned(g);
  g->status.store(GStatus::kRunnable, std::memory_order_relaxed);
  std::uint64_t id = g->id;
  bool crowded = false;
  if (p != nullptr) {
    count_goroutines(p, 1);
    crowded = runq_put(p, g, true);
  } else {
    g_sched.foreign_goroutines.fetch_add(1, std::memory_order_relaxed);
    Goroutine* one[1] = {g};
    global_runq_put_batch(one, 1);
  }
  wake_worker_if_needed();
  if (crowded) yield_crowding_spawner(w);
  return id;
}

void abandon_goroutine(Goroutine* g) noexcept {
  Worker* w = current_worker();
  Processor* p = w != nullptr ? w->p : nullptr;
  g->magic = 0;
  if (g->compactable) retire_heap_record(g);
  stack_release(p != nullptr ? &p->stacks : nullptr, g->stack);
  if (g->compactable) compact_record_free(g);
}

void release_dead_goroutine(Processor* p, Goroutine* g) noexcept {
  g->status.store(GStatus::kDead, std::memory_order_relaxed);
  g->magic = 0;
#if GORO_TSAN
  __tsan_destroy_fiber(g->tsan_fiber);
  g->tsan_fiber = nullptr;
#endif
  count_goroutines(p, -1);
  bool is_main = g->is_main;
  g->shrink = ShrinkState{};  // a dead stack needs no hysteresis
  // A request still queued for it is dropped when it comes due.
  std::atomic_ref<std::uint64_t>(g->shrink_claim).store(0, std::memory_order_relaxed);
  if (g->measure_depth && g->segment_depth == 0) spawn_site_learn(g->creator_pc, g->stack);
  note_exit(p->stats, g);
  if (std::int64_t now = current_worker()->coarse_now; shrink_due(g, now, g->shrink_wanted)) [[unlikely]]
    shrink_grown(g, g->stack.top - kKeepTopBytes, false, now);
  g->shrink_wanted = false;
  release_goroutine_segments(g);
  if (g->compactable) [[unlikely]] {
    retire_heap_record(g);
    stack_release(&p->stacks, g->stack);
    compact_record_free(g);
  } else {
    stack_release(&p->stacks, g->stack);
  }
  if (is_main) begin_shutdown();
}

// ---------------------------------------------------------------------------
// Deferred shrinks (Go shrinks at the next garbage collection, not at the
// park, so a goroutine that parks briefly between deep runs keeps its pages).

void arm_deferred_shrink(Goroutine* g) noexcept {
  static std::atomic<std::uint64_t> ids{0};
  std::atomic_ref<std::uint64_t> claim(g->shrink_claim);
  // While g is not armed, only g's own contexts and the scavenger's drop of
  // a request found running (outstanding to 0) write the word.
  if (std::uint64_t outstanding = claim.load(std::memory_order_relaxed); outstanding != 0) {
    if (claim.compare_exchange_strong(outstanding, outstanding | kShrinkArmed, std::memory_order_release,
                                      std::memory_order_relaxed)) {
      g->shrink_wanted = false;
      return;
    }
    // Dropped meanwhile: outstanding is 0 now, so a new request is made if wanted.
  }
  g->shrink_outstanding = false;
  if (!g->shrink_wanted) return;
  g->shrink_wanted = false;
  const std::uint64_t id = ids.fetch_add(1, std::memory_order_relaxed) + 1;
  claim.store(id << 2 | kShrinkArmed, std::memory_order_release);
  if (stack_shrink_later(DeferredShrink{&g->stack, &g->saved_sp, &g->shrink_claim, id})) {
    g->shrink_outstanding = true;
    return;
  }
  // Queue full: shrink now, while g is off its stack and not yet released.
  claim.store(0, std::memory_order_relaxed);
  stack_shrink_parked(g->stack, g->saved_sp, g->shrink, nanotime());
}

void disarm_deferred_shrink(Goroutine* g) noexcept {
  std::atomic_ref<std::uint64_t> claim(g->shrink_claim);
  for (int spins = 0;; ++spins) {
    std::uint64_t v = claim.load(std::memory_order_acquire);
    if ((v & kShrinkArmed) == 0) return;  // none, or disarmed already
    // Armed: disarm it (the request stays queued for the next park).
    // Busy: the scavenger is shrinking it (a mincore and a madvise): wait.
    if ((v & kShrinkBusy) == 0 &&
        claim.compare_exchange_weak(v, v & ~kShrinkArmed, std::memory_order_acq_rel)) {
      return;
    }
    if (spins < 64) {
      cpu_relax();
    } else {
      sched_yield();
    }
  }
}

// ---------------------------------------------------------------------------
// Parking.

namespace {

// A park that asks for a shrink, out of line: the common park then keeps
// nothing live across a call and saves no registers.
[[gnu::noinline]] void park_asking_shrink(Worker* w, Goroutine* self, const void* sp) noexcept {
  shrink_grown(self, sp, true, w->coarse_now);
  switch_away(w, self, SwitchAction::kPark);
}

}  // namespace

void park(bool (*commit)(Goroutine*, void*), void* arg, WaitReason why) noexcept {
  Worker* w = current_worker();
  Goroutine* self = w->current;
  w->park_commit = commit;
  w->park_arg = arg;
  self->wait_reason = why;
  // While parked the field holds when it parked (dumps show long waits);
  // the next switch-in sets it again.
  std::int64_t now = w->coarse_now;
  self->run_start_coarse_ns = now;
  // Both calls last, so that they compile to tail calls: a parked
  // goroutine's stack then holds no frame of park() (and none of a noexcept
  // caller that tail-calls park), which keeps compacted stacks small. The
  // goroutine's next switch-in clears wait_reason (mark_running).
  if (shrink_due(self, now, ran_long(w))) [[unlikely]] {
    park_asking_shrink(w, self, __builtin_frame_address(0));
    return;
  }
  switch_away(w, self, SwitchAction::kPark);
}

const char* wait_reason_string(WaitReason r) noexcept {
  switch (r) {
    case WaitReason::kNone:
      return "runnable";
    case WaitReason::kSleep:
      return "sleep";
    case WaitReason::kMutex:
      return "sync.Mutex.Lock";
    case WaitReason::kCond:
      return "sync.Cond.Wait";
    case WaitReason::kWaitGroup:
      return "sync.WaitGroup.Wait";
    case WaitReason::kOnce:
      return "sync.Once.Do";
    case WaitReason::kChanSend:
      return "chan send";
    case WaitReason::kChanRecv:
      return "chan receive";
    case WaitReason::kSelect:
      return "select";
    case WaitReason::kSelectNoCases:
      return "select (no cases)";
    case WaitReason::kIoWait:
      return "IO wait";
    case WaitReason::kBlocking:
      return "syscall";
    case WaitReason::kSemaphore:
      return "semacquire";
  }
  return "unknown";
}

// ---------------------------------------------------------------------------
// The system stack.

void call_on_system_stack(void (*fn)(void*), void* arg) {
  Worker* w = current_worker();
  Goroutine* self = w != nullptr ? w->current : nullptr;
  if (self == nullptr) {
    fn(arg);
    return;
  }
  w->sys_fn = fn;
  w->sys_arg = arg;
  switch_away(self, SwitchAction::kSystemCall);
}

}  // namespace goro::detail

// ---------------------------------------------------------------------------
// Public API.

namespace goro {

std::size_t set_max_stack(std::size_t bytes) {
  return detail::g_max_stack.exchange(detail::normalize_stack_limit(bytes));
}

std::size_t max_stack() {
  return detail::g_max_stack.load();
}

void free_os_memory() {
  detail::Worker* w = detail::current_worker();
  if (w != nullptr && w->p != nullptr) w->p->stacks.flush();
  on_system_stack([] { detail::stack_trim_pools(); });
}

std::int64_t num_goroutine() {
  std::int64_t n = detail::g_sched.foreign_goroutines.load(std::memory_order_relaxed);
  if (!detail::g_sched.running.load(std::memory_order_acquire)) return 0;
  for (detail::Processor* p : detail::all_processors(detail::g_sched))
    n += p->goroutines.load(std::memory_order_relaxed);
  return n;
}

bool in_goroutine() noexcept {
  return detail::current_goroutine() != nullptr;
}

void yield() {
  detail::Goroutine* self = detail::current_goroutine();
  if (self == nullptr) {
    std::this_thread::yield();
    return;
  }
  detail::switch_away(self, detail::SwitchAction::kRequeue);
}

std::size_t stack_remaining() noexcept {
  auto* sp = static_cast<std::byte*>(__builtin_frame_address(0));
  if (detail::Goroutine* g = detail::current_goroutine()) {
    return sp > g->stack.base ? static_cast<std::size_t>(sp - g->stack.base) : 0;
  }
  if (const std::byte* seg = detail::thread_segment_base()) {
    return sp > seg ? static_cast<std::size_t>(sp - seg) : 0;
  }
  static thread_local std::byte* thread_stack_low = nullptr;
  if (thread_stack_low == nullptr) {
    pthread_attr_t attr;
    if (pthread_getattr_np(pthread_self(), &attr) != 0) return 0;
    void* addr = nullptr;
    std::size_t size = 0;
    pthread_attr_getstack(&attr, &addr, &size);
    pthread_attr_destroy(&attr);
    // Leave the guard page out of what is left.
    thread_stack_low = static_cast<std::byte*>(addr) + detail::kPageSize;
  }
  return sp > thread_stack_low ? static_cast<std::size_t>(sp - thread_stack_low) : 0;
}

namespace this_goroutine {

std::uint64_t id() noexcept {
  detail::Goroutine* g = detail::current_goroutine();
  return g != nullptr ? g->id : 0;
}

std::string_view name() noexcept {
  detail::Goroutine* g = detail::current_goroutine();
  return g != nullptr ? g->name_view() : std::string_view();
}

}  // namespace this_goroutine

}  // namespace goro
