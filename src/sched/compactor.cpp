// sched/compactor.cpp: compactable goroutine records, the claim/release
// protocol and the background compactor thread (see compactor.hpp).
//
// The compactor finds compactable goroutines through the stack layer's slot
// owner table and candidate bits (stack_for_each_candidate), without a lock
// and without a list in the records: a goroutine's spawn and exit cost
// nothing here beyond setting and clearing its slot's owner, and its park
// one atomic OR beside the release. An owner read just before its goroutine
// exits names a free (or reused) record; records are type-stable and a free
// one is kOwned, so try_take leaves it alone.
#include "sched/compactor.hpp"

#include <goro/lock_guard.hpp>
#include <goro/thread_annotations.hpp>
#include "arch/cond_var.hpp"
#include "arch/mutex.hpp"
#include "arch/spinlock.hpp"
#include "sched/scheduler.hpp"

#include <goro/compact.hpp>

#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <ctime>
#include <new>
#include <thread>

namespace goro::detail {

namespace {

constexpr std::size_t kBatch = 64;
constexpr std::size_t kRecordChunk = 64;
// A parked stack using more than this is left alone: copying it costs more
// than the page-table share we would save.
constexpr std::size_t kMaxCompactBytes = 16 * 1024;
constexpr std::int64_t kMinPeriodNs = 1000000;
constexpr std::int64_t kMaxPeriodNs = 250000000;
// compact_word: park time in coarse ms << 32 | switch-in count << 2 | state.
constexpr std::uint64_t kStateMask = 3;
constexpr std::uint64_t kCountMask = 0xffffffffu & ~kStateMask;

std::atomic<std::int64_t> g_default_after_ns{0};

// ---- the compact word -------------------------------------------------------

std::atomic_ref<std::uint64_t> word_of(Goroutine* g) noexcept {
  return std::atomic_ref<std::uint64_t>(g->compact_word);
}

std::atomic_ref<std::uint32_t> after_ms_of(Goroutine* g) noexcept {
  return std::atomic_ref<std::uint32_t>(g->compact_after_ms);
}

std::uint64_t with_state(std::uint64_t word, CompactState s) noexcept {
  return (word & ~kStateMask) | static_cast<std::uint64_t>(s);
}

std::uint64_t next_run(std::uint64_t word) noexcept {
  std::uint64_t count = ((word & kCountMask) + (kStateMask + 1)) & kCountMask;
  return (word & ~std::uint64_t{0xffffffffu}) | count | static_cast<std::uint64_t>(CompactState::kOwned);
}

std::uint32_t parked_ms_of(std::uint64_t word) noexcept {
  return static_cast<std::uint32_t>(word >> 32);
}

// The coarse clock in ms, truncated: park times are compared by unsigned
// difference, which is right across the wrap (every 49 days).
std::uint32_t coarse_ms(std::int64_t ns) noexcept {
  return static_cast<std::uint32_t>(static_cast<std::uint64_t>(ns) / 1000000);
}

Tombstone tombstone_of(const Goroutine* g) noexcept {
  return compact_tombstone_of(g);
}

void keep_tombstone(Goroutine* g, const Tombstone& t) noexcept {
  g->saved_stack = t.saved;
  g->saved_bytes = static_cast<std::uint32_t>(t.bytes());
}

void restore_stack(Goroutine* g) noexcept {
  Tombstone t = tombstone_of(g);
  tombstone_restore(&t, true);
  g->saved_stack = nullptr;
}

// Parked for a reason whose wakeup touches nothing on the stack.
bool wait_touches_no_stack(WaitReason r) noexcept {
  switch (r) {
    case WaitReason::kSleep:
    case WaitReason::kMutex:
    case WaitReason::kCond:
    case WaitReason::kWaitGroup:
    case WaitReason::kOnce:
    case WaitReason::kIoWait:
    case WaitReason::kSemaphore:
      return true;
    default:
      return false;  // channels and select write into the waiter's stack
  }
}

void wait_for_compactor(int round) noexcept {
  if (round < 64) {
    cpu_relax();
  } else if (round < 256) {
    sched_yield();
  } else {
    timespec pause{0, 20000};  // let the compactor thread finish its batch
    nanosleep(&pause, nullptr);
  }
}

// ---- heap records -----------------------------------------------------------------

SpinLock g_record_lock;
Goroutine* g_free_records GORO_GUARDED_BY(g_record_lock) = nullptr;  // linked by sched_link

Goroutine* take_free_record() noexcept {
  lock_guard lk(g_record_lock);
  Goroutine* g = g_free_records;
  if (g != nullptr) g_free_records = g->sched_link;
  return g;
}

// Allocates a chunk, keeps one record and frees the rest.
Goroutine* new_record_chunk() {
  auto* chunk = new Goroutine[kRecordChunk];
  for (std::size_t i = 0; i < kRecordChunk; ++i) {
    std::atomic_ref<std::uint64_t>(chunk[i].compact_word).store(0, std::memory_order_relaxed);
    std::atomic_ref<std::uint32_t>(chunk[i].compact_after_ms).store(0, std::memory_order_relaxed);
  }
  lock_guard lk(g_record_lock);
  for (std::size_t i = 1; i < kRecordChunk; ++i) {
    chunk[i].magic = 0;
    chunk[i].sched_link = g_free_records;
    g_free_records = &chunk[i];
  }
  return &chunk[0];
}

// ---- the thread -----------------------------------------------------------------

struct Compactor {
  Mutex mu;
  CondVar wake;  // on mu: stop was set, or the period became shorter
  // Set by compactor_stop until it has joined the thread; start_compactor
  // starts none meanwhile.
  bool stop GORO_GUARDED_BY(mu) = false;
  std::thread thread GORO_GUARDED_BY(mu);
  std::atomic<bool> started{false};
  // The shortest compact_after of the goroutines registered since the
  // start: the scan period follows it.
  std::atomic<std::int64_t> min_after_ns{INT64_MAX};
};
Compactor g_compactor;

std::int64_t period_for(std::int64_t after_ns) noexcept {
  return std::clamp(after_ns / 4, kMinPeriodNs, kMaxPeriodNs);
}

enum class Take { kTaken, kNotYet, kNo };

// Moves g to kCompacting if it may be compacted now; kNotYet if it has not
// been parked long enough (look again), kNo if it is not parked or cannot
// be compacted in this park.
Take try_take(Goroutine* g, std::uint32_t now_ms) noexcept {
  std::uint64_t w = word_of(g).load(std::memory_order_acquire);
  if (compact_state_of(w) != CompactState::kResident) return Take::kNo;
  // Read only after seeing kResident: the park that released it comes after
  // the spawn that wrote compact_after_ms.
  if (static_cast<std::uint32_t>(now_ms - parked_ms_of(w)) < after_ms_of(g).load(std::memory_order_relaxed)) {
    return Take::kNotYet;
  }
  if (!word_of(g).compare_exchange_strong(w, with_state(w, CompactState::kCompacting),
                                          std::memory_order_acquire)) {
    return Take::kNo;
  }
  // Ours now: it cannot run until we move the word on. The park released it
  // after its wait reason and saved context were written.
  if (wait_touches_no_stack(g->wait_reason) && g->segment_depth == 0 && !g->compaction_forbidden) {
    return Take::kTaken;
  }
  word_of(g).store(w, std::memory_order_release);
  return Take::kNo;
}

// Dumps and fatal reports walk the frames of parked goroutines: while one
// runs (g_pins > 0) no batch is sealed, and one begins only once no batch is
// being sealed (g_sealing). Sequentially consistent on both sides: either
// the compactor sees the pin, or the dump sees the batch and waits for it.
std::atomic<int> g_pins{0};
std::atomic<bool> g_sealing{false};

// Gives back goroutines taken for a batch that is not sealed now; they stay
// candidates.
void untake(Goroutine* const* gs, std::size_t n) noexcept {
  for (std::size_t i = 0; i < n; ++i) {
    std::uint64_t w = word_of(gs[i]).load(std::memory_order_relaxed);
    StackSpan s = gs[i]->stack;
    word_of(gs[i]).store(with_state(w, CompactState::kResident), std::memory_order_release);
    stack_mark_candidate(s);
  }
}

void seal_batch(Goroutine* const* gs, std::size_t n) noexcept;

// Saves and seals the stacks of gs[0..n), all kCompacting, unless a dump is
// running.
void compact_batch(Goroutine* const* gs, std::size_t n) noexcept {
  if (n == 0) return;
  g_sealing.store(true, std::memory_order_seq_cst);
  if (g_pins.load(std::memory_order_seq_cst) > 0) {
    untake(gs, n);
  } else {
    seal_batch(gs, n);
  }
  g_sealing.store(false, std::memory_order_release);
}

void seal_batch(Goroutine* const* gs, std::size_t n) noexcept {
  Tombstone tombs[kBatch];
  Tombstone* ts[kBatch] = {};
  Goroutine* saved[kBatch];
  std::size_t m = 0;
  for (std::size_t i = 0; i < n; ++i) {
    Goroutine* g = gs[i];
    std::uint64_t w = word_of(g).load(std::memory_order_relaxed);
    if (tombstone_save(&tombs[m], g->stack, g->saved_sp, kMaxCompactBytes)) {
      ts[m] = &tombs[m];
      saved[m++] = g;
    } else {
      word_of(g).store(with_state(w, CompactState::kResident), std::memory_order_release);
    }
  }
  std::size_t sealed = tombstone_seal(ts, m);
  for (std::size_t i = 0; i < m; ++i) {
    Goroutine* g = saved[i];
    std::uint64_t w = word_of(g).load(std::memory_order_relaxed);
    if (i < sealed) {
      keep_tombstone(g, tombs[i]);
      word_of(g).store(with_state(w, CompactState::kCompacted), std::memory_order_release);
    } else {
      tombstone_restore(&tombs[i], false);
      word_of(g).store(with_state(w, CompactState::kResident), std::memory_order_release);
    }
  }
}

// One walk over the candidates (slots marked at park), compacting in
// batches.
struct Pass {
  std::uint32_t now_ms = 0;
  std::size_t n = 0;
  Goroutine* batch[kBatch];
};

bool visit_candidate(void* owner, void* ctx) {
  auto* pass = static_cast<Pass*>(ctx);
  auto* g = static_cast<Goroutine*>(owner);
  Take t = try_take(g, pass->now_ms);
  if (t != Take::kTaken) return t == Take::kNotYet;
  pass->batch[pass->n++] = g;
  if (pass->n == kBatch) {
    compact_batch(pass->batch, pass->n);
    pass->n = 0;
    pass->now_ms = coarse_ms(coarse_nanotime());
  }
  return false;
}

void compact_pass() {
  Pass pass;
  pass.now_ms = coarse_ms(coarse_nanotime());
  stack_for_each_candidate(&visit_candidate, &pass);
  compact_batch(pass.batch, pass.n);
}

// Sleeps on c.wake until `deadline` or until stop is set; false once it is
// set.
bool sleep_unless_stopped(Compactor& c, std::chrono::steady_clock::time_point deadline) GORO_REQUIRES(c.mu) {
  while (!c.stop && c.wake.wait_until(c.mu, deadline)) {
  }
  return !c.stop;
}

// Sleeps one scan period from now, or until stop is set (false then). A
// goroutine registered meanwhile with a shorter compact_after shortens the
// period (compactor_register notifies): the deadline is recomputed from the
// same start at each wake-up.
bool sleep_one_period(Compactor& c) GORO_REQUIRES(c.mu) {
  const auto start = std::chrono::steady_clock::now();
  for (;;) {
    const std::int64_t period = period_for(c.min_after_ns.load(std::memory_order_relaxed));
    const auto deadline = start + std::chrono::nanoseconds(period);
    if (c.stop) return false;
    if (!c.wake.wait_until(c.mu, deadline)) return !c.stop;
  }
}

void compactor_main() {
  // Normal priority: niced, it falls behind a burst of parks that the
  // workers produce at full speed. The pacing below bounds what it takes.
  ::pthread_setname_np(::pthread_self(), "goro-compactor");
  Compactor& c = g_compactor;
  lock_guard lk(c.mu);
  while (sleep_one_period(c)) {
    lk.unlock();
    auto t0 = std::chrono::steady_clock::now();
    compact_pass();
    auto took = std::chrono::steady_clock::now() - t0;
    lk.lock();
    // Pacing: at most 80% of one CPU, however many goroutines park. It needs
    // that much only while goroutines that opted in are parked faster than
    // it compacts them (a million sleepers spawned in a loop: at half a CPU,
    // or niced, it fell behind and the peak doubled); otherwise it sleeps.
    if (!sleep_unless_stopped(c, std::chrono::steady_clock::now() + took / 4)) return;
  }
}

void start_compactor() {
  Compactor& c = g_compactor;
  lock_guard lk(c.mu);
  if (c.thread.joinable() || c.stop) return;
  c.thread = std::thread(&compactor_main);  // throws std::system_error
  c.started.store(true, std::memory_order_release);
}

}  // namespace

std::uint32_t compact_after_for(const spawn_options& opts) noexcept {
  std::int64_t after = opts.compact_after.count();
  if (after == 0) after = g_default_after_ns.load(std::memory_order_relaxed);
  if (after <= 0 || !stack_can_compact()) return 0;
  std::int64_t ms = std::min<std::int64_t>((after + 999999) / 1000000, UINT32_MAX);
  return static_cast<std::uint32_t>(ms);
}

Goroutine* compact_record_alloc(std::uint32_t compact_after_ms) {
  Goroutine* g = take_free_record();
  if (g == nullptr) g = new_record_chunk();
  // Default-initialization leaves compact_word as it is: the count goes on.
  std::uint64_t w = word_of(g).load(std::memory_order_relaxed);
  ::new (g) Goroutine;
  g->saved_stack = nullptr;
  g->saved_bytes = 0;
  word_of(g).store(next_run(w), std::memory_order_relaxed);
  after_ms_of(g).store(compact_after_ms, std::memory_order_relaxed);
  g->compactable = true;
  return g;
}

void compact_record_free(Goroutine* g) noexcept {
  g->magic = 0;
  lock_guard lk(g_record_lock);
  g->sched_link = g_free_records;
  g_free_records = g;
}

void compactor_register(Goroutine* g) {
  Compactor& c = g_compactor;
  if (!c.started.load(std::memory_order_acquire)) start_compactor();
  std::int64_t after = std::int64_t{after_ms_of(g).load(std::memory_order_relaxed)} * 1000000;
  std::int64_t min = c.min_after_ns.load(std::memory_order_relaxed);
  while (after < min) {
    if (c.min_after_ns.compare_exchange_weak(min, after, std::memory_order_relaxed)) {
      if (period_for(after) < period_for(min)) {
        lock_guard lk(c.mu);
        c.wake.notify_one();  // the next scan comes sooner
      }
      break;
    }
  }
}

void compactor_stop() noexcept {
  Compactor& c = g_compactor;
  std::thread t;
  {
    lock_guard lk(c.mu);
    if (!c.thread.joinable()) return;
    c.stop = true;
    t = std::move(c.thread);
  }
  c.wake.notify_all();
  t.join();
  lock_guard lk(c.mu);
  c.stop = false;
  c.started.store(false, std::memory_order_release);
  c.min_after_ns.store(INT64_MAX, std::memory_order_relaxed);
}

void compact_claim_for_run(Goroutine* g) noexcept {
  std::uint64_t w = word_of(g).load(std::memory_order_acquire);
  for (int round = 0;;) {
    CompactState s = compact_state_of(w);
    if (s == CompactState::kCompacting) {
      wait_for_compactor(round++);
      w = word_of(g).load(std::memory_order_acquire);
      continue;
    }
    if (s == CompactState::kCompacted) {
      // Compacting while the copy comes back: dumps and the fault handler
      // then treat the stack as unreadable (its pages are still guarded),
      // and the compactor, which takes only resident stacks, stays away.
      const std::uint64_t restoring =
          (w & ~std::uint64_t{3}) | static_cast<std::uint64_t>(CompactState::kCompacting);
      if (!word_of(g).compare_exchange_weak(w, restoring, std::memory_order_acq_rel,
                                            std::memory_order_acquire))
        continue;
      restore_stack(g);
      word_of(g).store(next_run(w), std::memory_order_release);
      return;
    }
    if (word_of(g).compare_exchange_weak(w, next_run(w), std::memory_order_acq_rel,
                                         std::memory_order_acquire)) {
      return;
    }
  }
}

void compact_release_parked(Goroutine* g, const ParkSnapshot& snapshot, std::int64_t now_ns) noexcept {
  std::uint64_t w = snapshot.word;
  if (compact_state_of(w) != CompactState::kOwned) return;
  std::uint64_t parked = std::uint64_t{coarse_ms(now_ns)} << 32 | (w & kCountMask) |
                         static_cast<std::uint64_t>(CompactState::kResident);
  if (word_of(g).compare_exchange_strong(w, parked, std::memory_order_release, std::memory_order_relaxed)) {
    stack_mark_candidate(snapshot.stack);
  }
}

Tombstone compact_tombstone_of(const Goroutine* g) noexcept {
  return Tombstone{g->stack.top - g->saved_bytes, g->stack.top, g->saved_stack};
}

ParkSnapshot compact_park_snapshot(Goroutine* g) noexcept {
  return ParkSnapshot{word_of(g).load(std::memory_order_acquire), g->stack};
}

void compact_discard(Goroutine* g) noexcept {
  std::uint64_t w = word_of(g).load(std::memory_order_acquire);
  if (compact_state_of(w) == CompactState::kCompacted) {
    Tombstone t = tombstone_of(g);
    tombstone_discard(&t);
    g->saved_stack = nullptr;
  }
  word_of(g).store(with_state(w, CompactState::kOwned), std::memory_order_release);
}

void compact_pause_begin(bool bounded) noexcept {
  g_pins.fetch_add(1, std::memory_order_seq_cst);
  for (int round = 0; g_sealing.load(std::memory_order_seq_cst); ++round) {
    if (bounded && round > 100000) return;  // a fatal report does not wait forever
    cpu_relax();
  }
}

void compact_pause_end() noexcept {
  g_pins.fetch_sub(1, std::memory_order_release);
}

bool compact_stack_readable(Goroutine* g) noexcept {
  CompactState st = compact_state_of(word_of(g).load(std::memory_order_acquire));
  return st == CompactState::kOwned || st == CompactState::kResident;
}

// Racy by design, as the fault handler reads it: the word decides, and the
// saved range is stable while the word says compacting (sealed) or compacted.
__attribute__((no_sanitize("thread"))) const Goroutine* compacted_goroutine_at(const void* addr) noexcept {
  StackSpan s;
  if (!stack_find_live(addr, &s)) return nullptr;
  auto* g = static_cast<Goroutine*>(stack_owner(s));
  if (g == nullptr || g->magic != Goroutine::kMagic || !g->compactable) return nullptr;
  CompactState st = compact_state_of(word_of(g).load(std::memory_order_acquire));
  if (st != CompactState::kCompacting && st != CompactState::kCompacted) return nullptr;
  return tombstone_of(g).covers(addr) ? g : nullptr;
}

}  // namespace goro::detail

namespace goro {

std::chrono::nanoseconds set_compact_after(std::chrono::nanoseconds d) noexcept {
  return std::chrono::nanoseconds(detail::g_default_after_ns.exchange(std::max<std::int64_t>(0, d.count())));
}

std::chrono::nanoseconds compact_after() noexcept {
  return std::chrono::nanoseconds(detail::g_default_after_ns.load());
}

bool compaction_supported() noexcept {
  return detail::stack_can_compact();
}

namespace this_goroutine {

bool allow_compaction(bool allow) noexcept {
  detail::Goroutine* g = detail::current_goroutine();
  if (g == nullptr || !g->compactable) return false;
  bool was = !g->compaction_forbidden;
  g->compaction_forbidden = !allow;
  return was;
}

}  // namespace this_goroutine

compact_stats read_compact_stats() noexcept {
  detail::TombstoneCounters t = detail::tombstone_counters();
  compact_stats s;
  s.compactions = t.compactions;
  s.restores = t.restores;
  s.compacted = t.compacted;
  s.saved_bytes = t.saved_bytes;
  return s;
}

}  // namespace goro
