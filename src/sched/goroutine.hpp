// sched/goroutine.hpp: the goroutine record (Go's g).
//
// The record is placed at the very top of the goroutine's own stack slot,
// followed (downwards) by the goroutine's function object and then its first
// frame. An idle goroutine therefore costs one resident stack page for
// record, closure and frames together, plus its share of the page table.
// A goroutine that opted into compaction (sched/compactor.hpp) has its
// record on the heap instead, named by its slot's owner entry
// (stack_owner), so that its stack page can be given back while it parks;
// its function object stays at the top of its stack.
//
// Invariants
//   * `status` changes only under the protocol in scheduler.cpp: a goroutine
//     is kRunnable in exactly one run queue, kRunning on exactly one worker,
//     kParked in no queue (some wait list or timer owns the right to ready
//     it), kBlocking while in goro::blocking on a thread without processor.
//   * `saved_sp` is meaningful only while the goroutine is not running.
#pragma once

#include "arch/context.hpp"
#include "sched/park.hpp"
#include "sched/timers.hpp"
#include "stack/stack.hpp"
#include "stack/tombstone.hpp"

#include <goro/goroutine.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace goro::detail {

enum class GStatus : std::uint8_t {
  kIdle,      // record constructed, not started
  kRunnable,  // in a run queue
  kRunning,   // on a worker
  kParked,    // waiting for ready()
  kBlocking,  // inside goro::blocking
  kDead,      // exited; stack about to be released
};

struct Processor;
struct Worker;

// The C++ runtime's per-thread exception state (libstdc++'s and libc++'s
// __cxa_eh_globals on x86-64: the stack of caught exceptions, and the count
// std::uncaught_exceptions() reports). Goroutines migrate between threads,
// so every switch stores the outgoing context's copy and loads the incoming
// one's; a goroutine parked in a catch block or a destructor during
// unwinding then resumes with its own state on whichever worker runs it.
struct EhState {
  void* caught_exceptions = nullptr;
  unsigned int uncaught_exceptions = 0;
};

// The calling thread's exception state, inside the C++ runtime.
EhState* thread_eh_state() noexcept;

struct alignas(64) Goroutine {
  static constexpr std::uint32_t kMagic = 0x676f726fu;  // "goro"

  // Hot: touched by every switch.
  void* saved_sp = nullptr;
  EhState eh;
  StackSpan stack;
  std::atomic<GStatus> status{GStatus::kIdle};
  WaitReason wait_reason = WaitReason::kNone;
  bool is_main = false;
  bool compactable = false;  // opted into compaction; its record is on the heap
  std::uint32_t magic = kMagic;
  std::uint64_t id = 0;
  Goroutine* sched_link = nullptr;  // list of goroutines the netpoller made ready

  // The function object (in the same slot, just below the record).
  void* closure = nullptr;
  const ClosureOps* closure_ops = nullptr;

  // Shrink heuristics (goroutine.cpp): coarse time it was last switched
  // in (while parked: when it parked, for dumps; while runnable with
  // latency_pending: when it became runnable, precise), parks so far (only its value modulo 1024 is used, so
  // 16 bits wrap harmlessly), and the stack layer's hysteresis state.
  std::int64_t run_start_coarse_ns = 0;
  std::uint16_t park_count = 0;
  // Set by park() when the goroutine may have grown: the worker that
  // finishes the park asks for a deferred shrink (shrink_claim), or arms
  // the one still outstanding. Beside run_start_coarse_ns, in the cache line
  // every switch-in writes, since mark_running reads shrink_outstanding.
  bool shrink_wanted = false;
  bool shrink_outstanding = false;
  // Stack segments (goro::grow_if_needed): while the goroutine runs on a
  // segment, `stack` describes the segment and `segment_depth` > 0. One
  // segment is kept after use (on the heap, as it is rare), so a recursion
  // that oscillates around a segment boundary does not take and return a
  // segment on every call.
  std::uint16_t segment_depth = 0;
  bool own_waiter_busy = false;  // own_waiter is handed out
  // Set by the goroutine itself (this_goroutine::allow_compaction(false)):
  // the compactor leaves it alone while it is set.
  bool compaction_forbidden = false;
  ShrinkState shrink;

  // The timer goro::sleep_for parks on (Go's g.timer).
  Timer sleep_timer;

  StackSpan* cached_segment = nullptr;

  // Sanitizer fiber handle (null in plain builds): TSan's fiber, or ASan's
  // fake stack. The two sanitizers never run together.
  union {
    void* tsan_fiber = nullptr;
    void* asan_fake_stack;
  };

  // For reports: who created it and where (also its spawn site,
  // spawn_sites.hpp; measure_depth: learn the site's depth at exit).
  void* creator_pc = nullptr;
  bool measure_depth = false;
  // Scheduling latency sampling (sched_stats.hpp): runnable transitions so
  // far, modulo 256, and whether the last one was sampled (its time is in
  // run_start_coarse_ns until the switch-in). In the record's one hole.
  std::uint8_t sched_seq = 0;
  bool latency_pending = false;
  // goro::lock_os_thread nesting, and the worker it is locked to (null when
  // not locked). Written only by the goroutine itself; read by workers that
  // find it in a run queue (lockosthread.cpp).
  std::uint32_t os_thread_locks = 0;
  std::uint64_t parent_id = 0;
  Worker* locked_to = nullptr;
  char name[40] = {};

  // The wait record acquire_waiter hands out first (in the record, which
  // is resident anyway).
  Waiter own_waiter;

  // Compaction (sched/compactor.cpp), used only when `compactable`. The
  // record is then on the heap and must stay small: a compacted goroutine
  // costs this record, its saved bytes and its page-table share. Whoever
  // moves compact_word to kCompacting (the compactor) or claims it for
  // running owns saved_stack and saved_bytes (the heap copy of
  // [top - saved_bytes, top)).
  std::byte* saved_stack = nullptr;
  std::uint32_t saved_bytes = 0;
  // The last two fields have no initializer on purpose, and come last so
  // that no constructor's zeroing reaches them: a heap record is reused
  // (placement new) while the compactor may still look at it through a
  // stale slot owner, or the worker that parked its previous goroutine may
  // still try its release. Both are accessed only through std::atomic_ref.
  // compact_after_ms is set at spawn; compact_word packs the coarse park
  // time in ms (high 32 bits), a switch-in count (30 bits, which carries on
  // across reuse) and a CompactState (low 2 bits).
  std::uint32_t compact_after_ms;
  std::uint64_t compact_word;
  // The deferred shrink's claim word (stack/stack.hpp, DeferredShrink).
  // Last, without initializer and through std::atomic_ref for the same
  // reason as compact_word: a stale request may look at a reused record.
  std::uint64_t shrink_claim;

  std::byte* lowest_usable() const noexcept { return stack.base; }
};

// Where the record of a goroutine whose stack is `s` lives: its slot's owner
// entry for a compactable goroutine, else the top of the stack. Async-signal-
// safe.
inline Goroutine* goroutine_of_stack(const StackSpan& s) noexcept {
  if (void* owner = stack_owner(s)) return static_cast<Goroutine*>(owner);
  return reinterpret_cast<Goroutine*>(s.top - sizeof(Goroutine));
}

}  // namespace goro::detail
