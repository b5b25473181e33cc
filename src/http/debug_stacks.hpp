// http/debug_stacks.hpp: goroutines grouped by identical stacks, with their
// frames resolved to function names, shared by the grouped dump and the
// goroutine profile of goro/http/debug.hpp.
//
// Goroutines of a server mostly wait at a few call sites (thousands of
// connections parked in the same read), so the records are grouped by
// their frame addresses first and each distinct address is resolved once.
#pragma once

#include "debug/records.hpp"

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace goro::http::debug_detail {

struct stack_group {
  std::vector<detail::Frame> frames;  // innermost first; empty if unknown
  bool frames_known = false;
  std::uint64_t elided = 0;   // frames not kept, between the head and the tail
  std::size_t elided_at = 0;  // index in frames where they were
  std::uint64_t count = 0;    // goroutines with this stack
};

// A resolved frame address (see detail::symbol_pc).
struct resolved_frame {
  std::string function;              // demangled name, or "??"
  std::string system_name;           // the raw symbol name, or "??"
  std::string module;                // object file path, or ""
  std::uintptr_t offset = 0;         // from the function's start
  std::uintptr_t module_offset = 0;  // from the module's load bias
  std::string file;                  // source file from DWARF, or "" when unknown
  int line = 0;                      // its line; 0 when unknown
};

// Every live goroutine grouped by stack (a parked goroutine's stack without
// the runtime's context-switch frames at its top, which differ with how it
// was switched out, so that goroutines waiting at one place group together), the largest groups first (ties
// in order of the first goroutine of each, by id). Cost: see goroutine_records.
std::vector<stack_group> group_goroutine_stacks();

// Resolves each distinct symbol_pc of `groups`, once each. Runs on the
// worker's system stack when called from a goroutine (demangling long
// names takes stack).
std::map<std::uintptr_t, resolved_frame> resolve_frames(const std::vector<stack_group>& groups);

}  // namespace goro::http::debug_detail
