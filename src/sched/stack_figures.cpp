// sched/stack_figures.cpp: goro::read_goroutine_stack, the per-goroutine
// stack figures of the stack layer (stack_figures) looked up by goroutine.
//
// A goroutine is found by walking the live stack slots and reading the
// record each one holds, as dumps do: racily, since the goroutine may be
// starting or exiting meanwhile; the record's magic and status are checked
// before its id is trusted, and a goroutine exiting during the walk may or
// may not be found. Its span is copied out of the record before the
// mincore, so a stack released meanwhile is only measured, never touched.
#include "sched/goroutine.hpp"
#include "sched/park.hpp"

#include <goro/stack.hpp>

namespace goro {

namespace {

goroutine_stack_figures to_public(const detail::StackFigures& f) {
  return goroutine_stack_figures{f.resident, f.peak, f.ceiling};
}

struct Lookup {
  std::uint64_t id = 0;
  detail::StackSpan found;
};

// Not instrumented for TSan: the record may belong to a goroutine another
// thread is starting or retiring right now (see the comment above).
__attribute__((no_sanitize("thread"))) void match(const detail::StackSpan& s, void* ctx) {
  auto* l = static_cast<Lookup*>(ctx);
  if (l->found) return;
  const detail::Goroutine* g = detail::goroutine_of_stack(s);
  if (g->magic != detail::Goroutine::kMagic) return;
  detail::GStatus st = g->status.load(std::memory_order_acquire);
  if (st == detail::GStatus::kIdle || st == detail::GStatus::kDead || g->id != l->id) return;
  l->found = g->stack;
}

}  // namespace

std::optional<goroutine_stack_figures> read_goroutine_stack() {
  const detail::Goroutine* g = detail::current_goroutine();
  if (g == nullptr) return std::nullopt;
  return to_public(detail::stack_figures(g->stack));
}

std::optional<goroutine_stack_figures> read_goroutine_stack(std::uint64_t id) {
  if (id == 0) return std::nullopt;
  Lookup l{id, {}};
  detail::stack_for_each_live(&match, &l);
  if (!l.found) return std::nullopt;
  return to_public(detail::stack_figures(l.found));
}

}  // namespace goro
