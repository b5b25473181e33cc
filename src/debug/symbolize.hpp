// debug/symbolize.hpp: from a code address to "function, module, offset".
//
// dladdr knows only exported symbols (binaries link with -rdynamic for
// that) and scans them linearly, so static functions, anonymous-namespace
// functions and lambdas would print as "??", and a dump of many goroutines
// would be slow. So each module's own ELF symbol table (.symtab) is read
// once: the file is mapped read-only and its functions indexed by address
// in a sorted table (both kept for the life of the process), one cache
// entry per module, published with release stores so signal handlers read
// it without a lock. dladdr remains the fallback for stripped modules
// (libc's exported functions).
//
// Signal safety: _dl_find_object is lock-free, dladdr takes the loader's
// recursive lock only, open/mmap are plain system calls, and the cache is
// filled under a mutex that signal-mode callers only try (when it is busy
// they do without .symtab). Demangling allocates, so callers say whether
// that is allowed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace goro::detail {

struct Symbol {
  const char* module = nullptr;  // path of the object file; nullptr if unknown
  std::uintptr_t bias = 0;       // load bias: pc - bias is the address addr2line wants
  const char* name = nullptr;    // raw (usually mangled) name; nullptr if unknown
  std::uintptr_t start = 0;      // run-time address of that symbol
};

// Describes the function containing `pc`. `in_signal`: called from a signal
// handler (never blocks on the cache mutex). Returns false if no module
// contains pc.
bool symbolize(std::uintptr_t pc, Symbol* out, bool in_signal) noexcept;

// The readable form of a raw symbol name: demangled into buf when the name
// is mangled and `may_allocate` (abi::__cxa_demangle uses malloc), else the
// raw name. Never fails; truncates long names with "...".
std::string_view readable_name(const char* raw, char* buf, std::size_t cap, bool may_allocate) noexcept;

// Loads the .symtab of the module containing `pc` now, so that a later
// report from a signal handler finds it without opening files.
void preload_symbol_table(std::uintptr_t pc) noexcept;

// Caches the executable's absolute path (readlink of /proc/self/exe) so
// reports can name it; called at install time, outside signal handlers.
void remember_executable_path() noexcept;

}  // namespace goro::detail
