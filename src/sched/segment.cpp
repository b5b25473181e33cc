// sched/segment.cpp: running a call on a fresh stack segment
// (goro::grow_if_needed).
//
// The call switches to a context laid out at the top of a segment, runs
// there, and switches back; nothing is copied and the caller's frames stay
// where they are. While a goroutine runs on a segment its record's `stack`
// describes the segment, so stack_remaining(), the overflow report, the
// sanitizer annotations and shrinking all see the stack really in use. On a
// plain thread the same is kept in a thread-local.
//
// Invariants: a segment's top holds a zeroed record-sized area (so goroutine
// dumps, which look for a record at the top of every live stack, skip it);
// `segment_depth` counts the segments a goroutine is nested in; at most one
// free segment is cached per goroutine or thread.
#include "sched/sanitizers.hpp"
#include "sched/scheduler.hpp"

#include <goro/segment.hpp>

#include <cstring>

namespace goro::detail {

namespace {

struct SegmentCall {
  void (*fn)(void*);
  void* arg;
  void* caller_sp;
  void* segment_sp;
  const void* caller_bottom;
  std::size_t caller_size;
};

// Outside goroutines: the segment in use and the one kept for reuse.
thread_local StackSpan tls_segment;
thread_local StackSpan tls_cached_segment;

[[noreturn]] void segment_entry(void* transfer) {
  auto* call = static_cast<SegmentCall*>(transfer);
#if GORO_ASAN
  __sanitizer_finish_switch_fiber(nullptr, &call->caller_bottom, &call->caller_size);
#endif
  call->fn(call->arg);
#if GORO_ASAN
  __sanitizer_start_switch_fiber(nullptr, call->caller_bottom, call->caller_size);
#endif
  goro_switch_context(&call->segment_sp, call->caller_sp, nullptr);
  __builtin_unreachable();
}

StackCache* local_stack_cache() noexcept {
  Worker* w = current_worker();
  return w != nullptr && w->p != nullptr ? &w->p->stacks : nullptr;
}

StackSpan take_segment(StackSpan& cached, std::size_t limit) {
  if (cached && cached.limit() >= limit) {
    StackSpan s = cached;
    cached = StackSpan{};
    return s;
  }
  return stack_acquire(local_stack_cache(), limit);
}

void keep_or_release(StackSpan& cached, const StackSpan& seg) noexcept {
  if (!cached) {
    cached = seg;
    return;
  }
  stack_release(local_stack_cache(), seg);
}

// The goroutine record keeps its cached segment on the heap (8 bytes in the
// record instead of a whole span: most goroutines never use segments),
// allocated at its first segment and freed with the goroutine. Throws
// std::bad_alloc.
StackSpan& cached_segment_of(Goroutine* g) {
  if (g->cached_segment == nullptr) g->cached_segment = new StackSpan;
  return *g->cached_segment;
}

void run_on(const StackSpan& seg, SegmentCall& call) noexcept {
  std::byte* record = seg.top - sizeof(Goroutine);
  std::memset(record, 0, sizeof(Goroutine));
  void* sp = goro_make_context(record, &segment_entry);
#if GORO_ASAN
  void* fake = nullptr;
  __sanitizer_start_switch_fiber(&fake, seg.base, seg.limit());
#endif
  goro_switch_context(&call.caller_sp, sp, &call);
#if GORO_ASAN
  __sanitizer_finish_switch_fiber(fake, nullptr, nullptr);
#endif
}

}  // namespace

const std::byte* thread_segment_base() noexcept {
  return tls_segment.base;
}

void release_goroutine_segments(Goroutine* g) noexcept {
  if (g->cached_segment != nullptr) {
    if (*g->cached_segment) stack_release(local_stack_cache(), *g->cached_segment);
    delete g->cached_segment;
    g->cached_segment = nullptr;
  }
}

void call_on_segment(std::size_t segment_size, void (*fn)(void*), void* arg) {
  std::size_t limit = normalize_stack_limit(segment_size);
  SegmentCall call{fn, arg, nullptr, nullptr, nullptr, 0};
  if (Goroutine* g = current_goroutine()) {
    StackSpan& cached = cached_segment_of(g);
    StackSpan seg = take_segment(cached, limit);
    StackSpan saved = g->stack;
    g->stack = seg;
    g->segment_depth++;
    run_on(seg, call);
    // f may have parked and moved this goroutine to another thread; g is
    // still this goroutine.
    g->segment_depth--;
    g->stack = saved;
    keep_or_release(*g->cached_segment, seg);
    return;
  }
  StackSpan seg = take_segment(tls_cached_segment, limit);
  StackSpan saved = tls_segment;
  tls_segment = seg;
  run_on(seg, call);
  tls_segment = saved;
  keep_or_release(tls_cached_segment, seg);
}

}  // namespace goro::detail
