// debug/goroutines.hpp: reading goroutine records for reports and dumps.
//
// Dumps run while other goroutines keep running (there is no stop-the-world
// in goro), so a record is read into a GoroutineView first and every field
// is validated there: the record's magic, a status that belongs to a live
// goroutine, a NUL-terminated name. A goroutine that parks, wakes or exits
// while it is being dumped may show a stale state or a partial stack, never
// a crash: frames are only ever read inside the goroutine's own stack slot,
// which stays mapped for the life of the process.
#pragma once

#include "debug/traceback.hpp"
#include "debug/writer.hpp"
#include "sched/goroutine.hpp"

#include <cstdint>

namespace goro::detail {

struct GoroutineView {
  const Goroutine* g = nullptr;
  std::uint64_t id = 0;
  std::uint64_t parent_id = 0;
  std::uintptr_t creator_pc = 0;
  std::uintptr_t saved_sp = 0;
  std::uintptr_t entry_pc = 0;  // the function object's invoke, for a goroutine not started yet
  StackSpan stack;
  GStatus status = GStatus::kIdle;
  WaitReason wait_reason = WaitReason::kNone;
  bool is_main = false;
  bool compacted = false;      // its stack is compacted (or being compacted): no frames
  bool locked = false;         // locked to its thread (goro::lock_os_thread)
  std::int64_t parked_at = 0;  // coarse monotonic ns when it parked (if parked)
  char name[sizeof(Goroutine::name)] = {};
};

// True if `g` points at a goroutine record (checks its magic).
bool is_goroutine_record(const Goroutine* g) noexcept;

// The goroutine running on this thread if its record is intact, else
// nullptr. Async-signal-safe.
const Goroutine* current_goroutine_checked() noexcept;

// Copies the record of a live goroutine (not idle, not dead). Returns false
// for anything else.
bool read_goroutine(const Goroutine* g, GoroutineView* v) noexcept;

// A goroutine with its header, frames and creator. `frames` null prints
// Go's "goroutine running on other thread; stack unavailable".
void print_goroutine(Writer& w, const GoroutineView& v, const char* state, const Trace* frames,
                     PrintPolicy p);

// A goroutine other than the caller: parked and runnable ones with the
// frames of their saved context, running ones with the frames sampled by
// sample_running_goroutines() if any (else without frames). The header
// shows how long a goroutine has waited once it is a minute or more, and
// whether it is locked to its thread, in Go's words:
//   goroutine 7 [chan receive, 3 minutes, locked to thread]:
void print_other_goroutine(Writer& w, const GoroutineView& v, PrintPolicy p);

// Every live goroutine except `skip`, in stack-slot order, each preceded by
// a blank line. For fatal reports: it formats inside stack_for_each_live's
// callback and allocates nothing.
void print_all_goroutines_unsorted(Writer& w, const Goroutine* skip, PrintPolicy p);

}  // namespace goro::detail
