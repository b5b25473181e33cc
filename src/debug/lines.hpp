// debug/lines.hpp: from a code address to its source file and line, read
// from the modules' DWARF line tables with elfutils' libdw.
//
// libdw allocates, opens files and keeps caches, so it may only run where
// malloc and locks are usable. Two ways to ask, for two kinds of caller:
//   * In process (LineSource::kInProcess), for ordinary code such as
//     dump_goroutines and the debug endpoints: one libdw session (a Dwfl)
//     for the whole process, opened at the first question and kept for its
//     life, guarded by a mutex. libdw reads a module's line table at the
//     first address in it and keeps it, so a dump of many goroutines pays
//     for each module once and then a binary search per address. A session
//     learns of modules loaded since (dlopen) when the loader's module
//     count changes.
//   * Through a helper process (LineSource::kHelper), for fatal reports: a
//     fault handler or a terminate handler, where the failing frame may
//     hold the allocator's lock or libdw's own. The reporting thread forks
//     a child with the raw clone system call (no atfork handler runs, no
//     lock of the parent is taken); the child answers one address at a
//     time over a socket, looking it up in process on its copy of memory
//     (with the parent's session if its mutex was free, so already loaded
//     tables cost nothing, else a fresh one). The parent uses only system
//     calls and fixed buffers (async-signal-safe) and waits for each answer
//     with poll against a deadline: if the child does not answer in time
//     (it blocked on a lock that was held when it was copied, or it
//     crashed), the parent kills and reaps it, and the report goes on with
//     "module+offset" locations. A report therefore never hangs for longer
//     than the deadlines and never crashes because of a lookup. Answers are
//     cached by address in the parent for the length of the report (all
//     goroutines of a GORO_TRACEBACK=all report share a few call sites).
#pragma once

#include <cstddef>
#include <cstdint>

namespace goro::detail {

enum class LineSource : std::uint8_t {
  kNone,       // no lookup: "module+offset" only
  kInProcess,  // libdw in this process: allocates, locks a mutex
  kHelper,     // libdw in a forked helper: async-signal-safe, one reporting thread at a time
};

// What the DWARF and symbol tables tell of the instruction at `pc` (for a
// return address, pass the address of the call: pc - 1): its source line,
// the functions inlined there when `inlined_cap` is not 0, and when
// `function_cap` is not 0 the readable (demangled) name of its
// function, which libdw also finds for functions that only a separate
// debug file names (libc's static functions). Texts are NUL-terminated and
// truncated to fit.
struct CodeInfo {
  char* file = nullptr;  // receives the source file's path
  std::size_t file_cap = 0;
  int line = 0;              // set to the line; 0 when none is known
  char* function = nullptr;  // receives the function's name; "" when unknown
  std::size_t function_cap = 0;
  // Receives the functions inlined at pc, innermost first, in Go's
  // layout ("name\n\tfile:line\n" each); "" when none. `file` and `line`
  // then are the call site in the function that holds the code.
  char* inlined = nullptr;
  std::size_t inlined_cap = 0;
};

// Fills `out`; returns false when neither a line nor a name is known: a
// module without DWARF or symbols, code outside any module, or a helper
// that did not answer. Thread-safety: kInProcess from any thread
// (serialized by a mutex); kHelper from the thread printing a fatal report
// only. Cost: kInProcess reads a module's line table at the first address
// in it (milliseconds for a large binary), then O(log lines); kHelper adds
// a fork at the first question of a report and a socket round trip per
// address not cached.
bool describe_code(std::uintptr_t pc, LineSource how, CodeInfo* out) noexcept;

// Ends the helper of kHelper lookups if one is running: closes its socket,
// kills it and reaps it. Async-signal-safe; called at the end of a report.
void end_line_helper() noexcept;

}  // namespace goro::detail
