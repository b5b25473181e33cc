// debug/records.hpp: every live goroutine as data rather than text, for the
// views that layers above the runtime build from it (goro::http's grouped
// dump and goroutine profile).
//
// The records are taken the way dump_goroutines() takes its text (same
// sampling of running goroutines, same validation of each record, no
// stop-the-world), and keep the frames that dump would print: the runtime's
// entry frames are left out, and stacks deeper than Trace::kHead +
// Trace::kTail frames keep their first and last frames only (`elided`
// counts the rest). Frame addresses are raw: a return address for every
// frame except an exact one (the interrupted instruction of a sampled
// goroutine); look a function up at symbol_pc().
#pragma once

#include "debug/traceback.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace goro::detail {

struct GoroutineRecord {
  std::uint64_t id = 0;
  std::string name;   // goro::set_goroutine_name's, or empty
  std::string state;  // the dump header's bracket: "chan receive, 3 minutes", "running"
  // False when its frames could not be read: running on a thread that did
  // not answer the sampling signal, or its stack is compacted.
  bool frames_known = false;
  std::vector<Frame> frames;      // innermost first
  std::uint64_t elided = 0;       // frames not kept, between the head and the tail
  std::size_t elided_at = 0;      // where they were: frames[elided_at] is the first tail frame
  std::uintptr_t creator_pc = 0;  // return address into the function that started it; 0 if none
  std::uint64_t parent_id = 0;    // the goroutine that started it; 0 if none
};

// Every live goroutine: the caller's own first (state "running", frames
// from its caller) when it is a goroutine, then the others in id order.
// Callable from a goroutine or any thread; allocates (throws
// std::bad_alloc). Cost: as dump_goroutines() without the symbol lookups:
// a signal to every thread holding a processor, then O(goroutines x
// frames).
std::vector<GoroutineRecord> goroutine_records();

// The address to look the function of `f` up by: a return address may lie
// just past the end of its function, so one byte before it.
inline std::uintptr_t symbol_pc(Frame f) noexcept {
  return f.exact ? f.pc : f.pc - 1;
}

}  // namespace goro::detail
