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
#include <new>
#include <string_view>

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

  // The record is laid out by who touches it. Constructing it (at every
  // spawn) writes only the first three cache lines; a goroutine that
  // neither sleeps, nor is named, nor parks on its own wait record never
  // touches the rest. On a machine with
  // several processors a spawned goroutine usually runs, and exits, on
  // another core than the one that spawned it, so every line a spawn and
  // an exit write crosses between caches.

  // Line 0: every switch.
  void* saved_sp = nullptr;
  EhState eh;
  StackSpan stack;
  std::atomic<GStatus> status{GStatus::kIdle};
  WaitReason wait_reason = WaitReason::kNone;
  bool is_main = false;
  bool compactable = false;  // opted into compaction; its record is on the heap
  std::uint32_t magic = kMagic;

  // Line 1: running, parking, readying.
  std::uint64_t id = 0;
  Goroutine* sched_link = nullptr;  // list of goroutines the netpoller made ready
  // The function object (in the same slot, just below the record).
  void* closure = nullptr;
  const ClosureOps* closure_ops = nullptr;
  // The worker's cached coarse time when it was last switched in (while
  // parked: when it parked, for dumps; while runnable with latency_pending:
  // when it became runnable, precise). Written by every switch-in.
  std::int64_t run_start_coarse_ns = 0;
  // goro::lock_os_thread: the worker it is locked to (null when not
  // locked), and the nesting count. Written only by the goroutine itself;
  // read by workers that find it in a run queue (lockosthread.cpp).
  Worker* locked_to = nullptr;
  // Parks so far (only its value modulo 1024 is used, so 16 bits wrap
  // harmlessly).
  std::uint16_t park_count = 0;
  // Stack segments (goro::grow_if_needed): while the goroutine runs on a
  // segment, `stack` describes the segment and `segment_depth` > 0. One
  // segment is kept after use (cached_segment, on the heap, as it is rare),
  // so a recursion that oscillates around a segment boundary does not take
  // and return a segment on every call.
  std::uint16_t segment_depth = 0;
  // Set by park() when the goroutine may have grown: the worker that
  // finishes the park asks for a deferred shrink (shrink_claim), or arms
  // the one still outstanding. Set by goroutine_main at exit when its last
  // run was long, for release_dead_goroutine's shrink. In the line every
  // switch-in writes, since mark_running reads shrink_outstanding.
  bool shrink_wanted = false;
  bool shrink_outstanding = false;
  bool own_waiter_busy = false;  // own_waiter is handed out
  // Set by the goroutine itself (this_goroutine::allow_compaction(false)):
  // the compactor leaves it alone while it is set.
  bool compaction_forbidden = false;
  bool measure_depth = false;      // learn the spawn site's depth at exit
  bool sleep_timer_ready = false;  // sleep_timer constructed for this goroutine
  bool named = false;              // name holds a name (else name[0] is 0)
  // Scheduling latency sampling (sched_stats.hpp): runnable transitions so
  // far, modulo 256, and whether the last one was sampled (its time is in
  // run_start_coarse_ns until the switch-in).
  std::uint8_t sched_seq = 0;
  std::uint16_t os_thread_locks = 0;
  bool latency_pending = false;

  // Line 2: written at spawn and exit.
  // For reports: who created it and where (also its spawn site,
  // spawn_sites.hpp).
  void* creator_pc = nullptr;
  std::uint64_t parent_id = 0;
  StackSpan* cached_segment = nullptr;
  // Sanitizer fiber handle (null in plain builds): TSan's fiber, or ASan's
  // fake stack. The two sanitizers never run together.
  union {
    void* tsan_fiber = nullptr;
    void* asan_fake_stack;
  };
  ShrinkState shrink;
  // The deferred shrink's claim word (stack/stack.hpp, DeferredShrink). No
  // initializer, and accessed only through std::atomic_ref: a stale request
  // may look at a reused record while it is constructed.
  std::uint64_t shrink_claim;

  // Cold lines: raw storage, so that constructing the record does not
  // write them; each part is valid only as its flag in line 1 says.
  // The timer goro::sleep_for parks on (Go's g.timer): built at the
  // goroutine's first sleep (sleep_timer_ready).
  alignas(Timer) unsigned char sleep_timer_bytes[sizeof(Timer)];
  // The name given at spawn (named), NUL-terminated.
  char name[40];

  // The wait record acquire_wait_record hands out first (in the record, which
  // is resident anyway): built whenever it is handed out (own_waiter_busy).
  alignas(Waiter) unsigned char own_waiter_bytes[sizeof(Waiter)];

  // Compaction (sched/compactor.cpp), used only when `compactable`. The
  // record is then on the heap and must stay small: a compacted goroutine
  // costs this record, its saved bytes and its page-table share. Whoever
  // moves compact_word to kCompacting (the compactor) or claims it for
  // running owns saved_stack and saved_bytes (the heap copy of
  // [top - saved_bytes, top)).
  // Without initializers, so that constructing a record on a stack does not
  // write this line: compact_record_alloc sets them for heap records.
  std::byte* saved_stack;
  std::uint32_t saved_bytes;
  // The last two fields have no initializer on purpose: a heap record is
  // reused (placement new) while the compactor may still look at it
  // through a stale slot owner, or the worker that parked its previous
  // goroutine may still try its release. Both are accessed only through
  // std::atomic_ref. compact_after_ms is set at spawn; compact_word packs
  // the coarse park time in ms (high 32 bits), a switch-in count (30 bits,
  // which carries on across reuse) and a CompactState (low 2 bits).
  std::uint32_t compact_after_ms;
  std::uint64_t compact_word;

  std::byte* lowest_usable() const noexcept { return stack.base; }
  Timer* sleep_timer() noexcept { return std::launder(reinterpret_cast<Timer*>(sleep_timer_bytes)); }
  std::string_view name_view() const noexcept { return named ? std::string_view(name) : std::string_view(); }
};

static_assert(offsetof(Goroutine, id) == 64 && offsetof(Goroutine, creator_pc) == 128 &&
                  offsetof(Goroutine, sleep_timer_bytes) == 192,
              "the record's lines are laid out by who touches them");

// Where the record of a goroutine whose stack is `s` lives: its slot's owner
// entry for a compactable goroutine, else the top of the stack. Async-signal-
// safe.
inline Goroutine* goroutine_of_stack(const StackSpan& s) noexcept {
  if (void* owner = stack_owner(s)) return static_cast<Goroutine*>(owner);
  return reinterpret_cast<Goroutine*>(s.top - sizeof(Goroutine));
}

}  // namespace goro::detail
