// debug/traceback.hpp: collecting and printing goroutine tracebacks.
//
// A traceback keeps the first kHead and the last kTail frames of a stack and
// counts the rest: a goroutine that overflowed a 64 MiB stack has about a
// million frames, and walking them all takes milliseconds but printing them
// would bury the report (Go elides the middle the same way).
//
// Three ways to collect frames:
//   * trace_from_registers: from a signal context (pc, sp, fp): a
//     frame-pointer walk bounded by the goroutine's stack. Code built
//     without frame pointers (libc, most libraries) does not end it: a
//     frameless leaf's return address is at sp; below code that kept rbp
//     the walk takes the return address into its caller; where such code
//     used rbp for data, the walk scans upward from sp for the first
//     return address into the module built with frame pointers whose
//     frame record above is confirmed by the next ones, and resumes there.
//     The same resumption applies when the chain reaches such code higher
//     up (a callback called by qsort). Safe in a signal handler: it reads
//     only inside [lo, hi) and never allocates.
//   * trace_from_saved_context: a parked goroutine, from the frame that
//     goro_switch_context left (switch_x86_64_sysv.S: saved rbp at
//     saved_sp + 40, return address at saved_sp + 48).
//   * trace_here: the calling code, through the DWARF unwinder for the first
//     frames (exact through libstdc++, which has no frame pointers), then by
//     frame pointers. Not for signal handlers.
//
// Frame-pointer walks require each frame pointer to lie in [lo, hi), be
// 8-aligned and strictly increase, so a corrupt chain ends the walk instead
// of faulting. Printing adds source lines and inlined frames (lines.hpp).
#pragma once

#include "debug/lines.hpp"
#include "debug/symbolize.hpp"
#include "debug/writer.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace goro::detail {

struct Goroutine;

struct Frame {
  std::uintptr_t pc = 0;
  bool exact = false;  // pc of a faulting instruction, not a return address
};

class Trace {
 public:
  static constexpr int kHead = 50;
  static constexpr int kTail = 10;

  void add(std::uintptr_t pc, bool exact) noexcept;
  std::uint64_t total() const noexcept { return total_; }

  // Frames to print: head frames [first, head_count), then elided() frames
  // not kept, then tail_count() frames.
  int first() const noexcept { return first_; }
  int head_count() const noexcept { return total_ < kHead ? static_cast<int>(total_) : kHead; }
  const Frame& head(int i) const noexcept { return head_[i]; }
  int tail_count() const noexcept;
  const Frame& tail(int i) const noexcept;  // i-th oldest kept tail frame
  std::uint64_t elided() const noexcept {
    return total_ - static_cast<std::uint64_t>(head_count() + tail_count());
  }

  // Hides the first n head frames (the reporting machinery itself).
  void drop_front(int n) noexcept;
  // Hides the frames above the function whose caller's return address is
  // `ra`, so the trace starts with that function. No effect if not found.
  void start_at_callee_of(std::uintptr_t ra) noexcept;

 private:
  Frame head_[kHead];
  Frame tail_[kTail];  // ring of the latest frames past the head
  std::uint64_t total_ = 0;
  int first_ = 0;
};

// Signal context: the frame at pc (exact), then the frame-pointer chain from
// fp, bounded by [lo, hi). Handles a fault on a function's first
// instructions, where fp still is the caller's.
void trace_from_registers(Trace* t, std::uintptr_t pc, std::uintptr_t sp, std::uintptr_t fp,
                          std::uintptr_t lo, std::uintptr_t hi, bool in_signal) noexcept;

// A suspended context whose stack pointer is saved_sp, in stack [lo, hi).
void trace_from_saved_context(Trace* t, std::uintptr_t saved_sp, std::uintptr_t lo,
                              std::uintptr_t hi) noexcept;

// The calling code. When [lo, hi) (the goroutine's stack) contains the
// caller's frame, frames past the head come from a bounded frame-pointer
// walk; otherwise (lo == hi, or on the system stack) the DWARF unwinder runs
// for at most a few thousand frames.
[[gnu::noinline]] void trace_here(Trace* t, std::uintptr_t lo, std::uintptr_t hi) noexcept;

// Remembers resolved frames by address for the length of one dump, where
// thousands of goroutines parked at the same call sites share their frames
// (a symbol lookup and a demangling each). Allocates: not for signal
// handlers.
class SymbolCache {
 public:
  struct Entry {
    std::uintptr_t lookup_pc = 0;  // 0: empty
    bool found = false;
    Symbol symbol;
    std::string name;     // readable name, or "??"
    std::string file;     // source file, when line > 0
    int line = 0;         // 0: no source line known
    std::string inlined;  // the functions inlined there, printed before it (lines.hpp)
  };
  Entry& slot(std::uintptr_t lookup_pc) noexcept;

 private:
  static constexpr std::size_t kSlots = 4096;
  std::vector<Entry> slots_ = std::vector<Entry>(kSlots);
};

// How to print: whether we are in a signal handler (symbol lookups never
// wait), whether names may be demangled (which allocates), an optional
// cache (which allocates), and how source lines are looked up (lines.hpp:
// in process for dumps, through the helper process for fatal reports).
struct PrintPolicy {
  bool in_signal = false;
  bool demangle = true;
  SymbolCache* cache = nullptr;
  // Show the runtime's entry frames too (GORO_TRACEBACK=system or crash).
  bool runtime_frames = false;
  LineSource lines = LineSource::kInProcess;
  // The trace is a waiting goroutine's: the runtime's frames at its top
  // (park, the channel's wait queue) are left out too, as Go's traceback
  // of a waiting goroutine starts at the user's frame, not at chanrecv.
  bool waiting = false;
};

// Prints the frames of `t` (two lines each, Go's layout: the function, then
// "\t/path/file.cpp:123 +0x1c", or "\t<module>+0x<offset> +0x1c" where no
// source line is known), eliding the
// middle of deep stacks. Like Go, which hides runtime.goexit, it leaves out
// the runtime frames every goroutine starts with (goro's entry function and
// the trampoline below it), and the context-switch frames a parked
// goroutine's stack begins with (Go's traceback starts at gopark), unless
// p.runtime_frames.
void print_frames(Writer& w, const Trace& t, PrintPolicy p);

// The frames print_frames prints, in its order (head frames, then the
// tail, without the frames it leaves out). If head_printed is not null, it
// receives how many of them come from the head, i.e. where the elision
// mark goes.
std::vector<Frame> printed_frames(const Trace& t, PrintPolicy p, std::size_t* head_printed = nullptr);

// "goroutine 7 "name" [state]:\n"; `name` may be empty. A non-null
// `after_state` goes between the bracket and the colon, after a space
// ("goroutine 7 [sleep] stack 12 KiB/208 KiB, peak 64 KiB:").
void print_goroutine_header(Writer& w, std::uint64_t id, const char* name, const char* state,
                            const char* after_state = nullptr);

// "created by <function> in goroutine <parent>" and its location; without
// "in goroutine" when it was started outside any goroutine (parent 0), and
// nothing for the main goroutine or an unknown creator.
void print_created_by(Writer& w, std::uintptr_t creator_pc, std::uint64_t parent_id, bool is_main,
                      PrintPolicy p);

// One frame; used for a goroutine that has not started yet (its entry
// function).
void print_frame(Writer& w, Frame f, PrintPolicy p);

}  // namespace goro::detail
