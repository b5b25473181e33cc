// http/debug_stacks.cpp: see debug_stacks.hpp.
#include "http/debug_stacks.hpp"

#include "debug/lines.hpp"
#include "debug/symbolize.hpp"

#include <goro/stack.hpp>

#include <algorithm>
#include <string_view>
#include <tuple>

namespace goro::http::debug_detail {

namespace {

// What makes two goroutines' stacks the same (Go's grouping ignores
// goroutine state too).
using stack_key = std::tuple<bool, std::vector<std::uintptr_t>, std::uint64_t, std::size_t>;

stack_key key_of(const detail::GoroutineRecord& r) {
  std::vector<std::uintptr_t> pcs;
  pcs.reserve(r.frames.size());
  for (const detail::Frame& f : r.frames) pcs.push_back(f.pc);
  return {r.frames_known, std::move(pcs), r.elided, r.elided_at};
}

// Whether pc is in one of the runtime's context-switch functions
// (goro::detail::switch_*), which a parked goroutine's stack starts with:
// which ones depends on how it was switched out (straight to the next
// goroutine or through the scheduler), not on where it waits.
bool is_switch_frame(std::uintptr_t pc) {
  static constexpr std::string_view kDetail = "_ZN4goro6detail";
  detail::Symbol s;
  if (!detail::symbolize(pc, &s, false) || s.name == nullptr) return false;
  std::string_view name = s.name;
  if (!name.starts_with(kDetail)) return false;
  name.remove_prefix(kDetail.size());
  while (!name.empty() && name.front() >= '0' && name.front() <= '9') name.remove_prefix(1);  // its length
  return name.starts_with("switch_");
}

// Drops the context-switch frames from the top of r's stack (see
// is_switch_frame), with a per-call cache: most goroutines share them.
void drop_switch_frames(detail::GoroutineRecord& r, std::map<std::uintptr_t, bool>& cache) {
  std::size_t n = 0;
  while (n < r.frames.size() && n < r.elided_at) {
    std::uintptr_t pc = detail::symbol_pc(r.frames[n]);
    auto [it, fresh] = cache.try_emplace(pc, false);
    if (fresh) it->second = is_switch_frame(pc);
    if (!it->second) break;
    ++n;
  }
  r.frames.erase(r.frames.begin(), r.frames.begin() + static_cast<std::ptrdiff_t>(n));
  r.elided_at -= n;
}

resolved_frame resolve_one(std::uintptr_t pc) {
  resolved_frame out;
  detail::Symbol s;
  bool found = detail::symbolize(pc, &s, false);
  if (found && s.module != nullptr) {
    out.module = s.module;
    out.module_offset = pc - s.bias;
  }
  if (found && s.name != nullptr) {
    char buf[2048];
    out.function = detail::readable_name(s.name, buf, sizeof buf, true);
    out.system_name = s.name;
    out.offset = pc - s.start;
  } else {
    out.function = out.system_name = "??";
  }
  char file[1024];
  detail::CodeInfo info{file, sizeof file};
  if (found && detail::describe_code(pc, detail::LineSource::kInProcess, &info) && info.line > 0) {
    out.file = file;
    out.line = info.line;
  }
  return out;
}

}  // namespace

std::vector<stack_group> group_goroutine_stacks() {
  std::vector<detail::GoroutineRecord> records = detail::goroutine_records();
  std::map<stack_key, std::size_t> index;  // key -> position in groups
  std::vector<stack_group> groups;
  std::map<std::uintptr_t, bool> switch_frames;
  for (detail::GoroutineRecord& r : records) {
    drop_switch_frames(r, switch_frames);
    auto [it, fresh] = index.try_emplace(key_of(r), groups.size());
    if (fresh) {
      stack_group g;
      g.frames = std::move(r.frames);
      g.frames_known = r.frames_known;
      g.elided = r.elided;
      g.elided_at = r.elided_at;
      groups.push_back(std::move(g));
    }
    ++groups[it->second].count;
  }
  std::stable_sort(groups.begin(), groups.end(),
                   [](const stack_group& a, const stack_group& b) { return a.count > b.count; });
  return groups;
}

std::map<std::uintptr_t, resolved_frame> resolve_frames(const std::vector<stack_group>& groups) {
  std::map<std::uintptr_t, resolved_frame> out;
  goro::on_system_stack([&] {
    detail::remember_executable_path();
    for (const stack_group& g : groups) {
      for (const detail::Frame& f : g.frames) {
        std::uintptr_t pc = detail::symbol_pc(f);
        if (!out.contains(pc)) out.emplace(pc, resolve_one(pc));
      }
    }
  });
  return out;
}

}  // namespace goro::http::debug_detail
