// debug/dump.cpp: goroutine dumps (Go's runtime.Stack(buf, true)), the
// same walk returned as records (records.hpp), and the record reading that
// fatal reports share with them.
//
// A dump is taken in three steps so that no lock is held while it formats:
//   1. the caller's own frames, on its own stack (trace_here);
//   2. the set of live goroutines (ids and record addresses) from the stack
//      layer's registry of live stacks;
//   3. formatting, on the worker's system stack when called from a goroutine:
//      demangling a long name needs more stack than a small goroutine has.
#include "debug/debug.hpp"
#include "debug/goroutines.hpp"
#include "debug/records.hpp"
#include "debug/sample.hpp"
#include "debug/symbolize.hpp"
#include "debug/traceback_level.hpp"

#include <goro/lock_guard.hpp>
#include <goro/thread_annotations.hpp>
#include "arch/mutex.hpp"
#include "sched/compactor.hpp"
#include "sched/scheduler.hpp"

#include <goro/debug.hpp>
#include <goro/runtime.hpp>
#include <goro/stack.hpp>

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <ostream>
#include <utility>
#include <vector>

namespace goro::detail {
namespace {

const char* state_of(const GoroutineView& v) {
  switch (v.status) {
    case GStatus::kRunning:
      return "running";
    case GStatus::kRunnable:
      return "runnable";
    case GStatus::kBlocking:
      return "syscall";  // Go's name for a goroutine in a blocking call
    case GStatus::kParked: {
      const char* why = wait_reason_string(v.wait_reason);
      return why != nullptr && why[0] != '\0' ? why : "waiting";
    }
    default:
      return "unknown";
  }
}

// Appends `text` to buf (NUL-terminated, of capacity cap) at *len.
void append(char* buf, std::size_t cap, std::size_t* len, const char* text) noexcept {
  while (*text != '\0' && *len + 1 < cap) buf[(*len)++] = *text++;
  buf[*len] = '\0';
}

// The bracketed state of Go's goroutine header: the state, then how long a
// parked goroutine has waited if a minute or more ("3 minutes"; Go writes
// "1 minutes" too), then "locked to thread". Async-signal-safe.
void describe_state(const GoroutineView& v, char* buf, std::size_t cap) noexcept {
  std::size_t len = 0;
  buf[0] = '\0';
  append(buf, cap, &len, state_of(v));
  if (v.status == GStatus::kParked && v.parked_at > 0) {
    std::int64_t minutes = (coarse_nanotime() - v.parked_at) / 60000000000;
    if (minutes >= 1) {
      char digits[24];
      int n = 0;
      for (std::int64_t m = minutes; m > 0 && n < 20; m /= 10) digits[n++] = static_cast<char>('0' + m % 10);
      char number[24];
      for (int i = 0; i < n; i++) number[i] = digits[n - 1 - i];
      number[n] = '\0';
      append(buf, cap, &len, ", ");
      append(buf, cap, &len, number);
      append(buf, cap, &len, " minutes");
    }
  }
  if (v.locked) append(buf, cap, &len, ", locked to thread");
}

struct UnsortedPrint {
  Writer* w;
  const Goroutine* skip;
  PrintPolicy policy;
};

void print_slot(const StackSpan& s, void* ctx) {
  auto* up = static_cast<UnsortedPrint*>(ctx);
  GoroutineView v;
  const Goroutine* g = goroutine_of_stack(s);
  if (g == up->skip || !read_goroutine(g, &v)) return;
  up->w->put('\n');
  print_other_goroutine(*up->w, v, up->policy);
}

using IdAndRecord = std::pair<std::uint64_t, const Goroutine*>;

void collect_live(const StackSpan& s, void* ctx) {
  GoroutineView v;
  const Goroutine* g = goroutine_of_stack(s);
  if (read_goroutine(g, &v)) static_cast<std::vector<IdAndRecord>*>(ctx)->emplace_back(v.id, g);
}

// The dump as dump_goroutines documents it; `caller_ra` is the return
// address into the public function's caller, where the caller's trace
// starts.
// No stack is compacted while a dump walks frames (compactor.hpp).
struct CompactionPause {
  CompactionPause() noexcept { compact_pause_begin(); }
  ~CompactionPause() { compact_pause_end(); }
  CompactionPause(const CompactionPause&) = delete;
  CompactionPause& operator=(const CompactionPause&) = delete;
};

// One dump samples at a time (fatal reports, which also sample, exit): the
// sampler keeps one round of samples (sample.cpp), which a dump reads until
// it has printed them.
Mutex g_sampling_mu;

// Outside a signal handler a dump samples only the threads that hold a
// processor, and so may be running a goroutine: an idle worker asleep in
// the kernel may answer late (under TSan, not until it wakes).
void sample_goroutines_on_processors() GORO_REQUIRES(g_sampling_mu) {
  std::vector<int> tids;
  const int self = static_cast<int>(gettid());
  for (Processor* p : all_processors(sched())) {
    int tid = p->holder_tid.load(std::memory_order_relaxed);
    if (p->held.load(std::memory_order_relaxed) && tid != 0 && tid != self) tids.push_back(tid);
  }
  if (!tids.empty()) sample_running_goroutines(tids.data(), static_cast<int>(tids.size()));
}

std::string dump_from(std::uintptr_t caller_ra) {
  CompactionPause pause;
  lock_guard sampling(g_sampling_mu);
  sample_goroutines_on_processors();
  const Goroutine* self = current_goroutine_checked();
  GoroutineView self_view;
  Trace self_trace;
  bool have_self = self != nullptr && read_goroutine(self, &self_view);
  if (have_self) {
    trace_here(&self_trace, reinterpret_cast<std::uintptr_t>(self_view.stack.base),
               reinterpret_cast<std::uintptr_t>(self_view.stack.top));
    self_trace.start_at_callee_of(caller_ra);
  }

  std::vector<IdAndRecord> others;
  stack_for_each_live(&collect_live, &others);
  std::sort(others.begin(), others.end());

  remember_executable_path();
  std::string out;
  auto format = [&] {
    Writer w(&out);
    SymbolCache cache;
    const PrintPolicy policy{false, true, &cache};
    bool first = true;
    if (have_self) {
      print_goroutine(w, self_view, "running", &self_trace, policy);
      first = false;
    }
    for (const auto& [id, g] : others) {
      GoroutineView v;
      if (g == self || !read_goroutine(g, &v)) continue;  // exited meanwhile
      if (!first) w.put('\n');
      first = false;
      print_other_goroutine(w, v, policy);
    }
    w.flush();
  };
  goro::on_system_stack(format);
  return out;
}

// The frames of a goroutine other than the caller, as print_other_goroutine
// finds them; false when they cannot be read.
bool trace_other(const GoroutineView& v, Trace* t) {
  bool suspended = v.status == GStatus::kParked || v.status == GStatus::kRunnable;
  if (!suspended) {
    const Trace* sampled = sampled_trace(v.g);
    if (sampled == nullptr) return false;
    *t = *sampled;
    return true;
  }
  if (v.compacted) return false;
  trace_from_saved_context(t, v.saved_sp, reinterpret_cast<std::uintptr_t>(v.stack.base),
                           reinterpret_cast<std::uintptr_t>(v.stack.top));
  if (t->total() == 0 && v.entry_pc != 0) t->add(v.entry_pc, true);  // not started: what it will run
  return true;
}

GoroutineRecord record_of(const GoroutineView& v, const char* state, const Trace* t) {
  GoroutineRecord r;
  r.id = v.id;
  r.name = v.name;
  r.state = state;
  r.creator_pc = v.is_main ? 0 : v.creator_pc;
  r.parent_id = v.parent_id;
  if (t != nullptr) {
    r.frames_known = true;
    PrintPolicy p;
    p.waiting = v.status == GStatus::kParked;
    r.frames = printed_frames(*t, p, &r.elided_at);
    r.elided = t->elided();
  }
  return r;
}

std::vector<GoroutineRecord> records_from(std::uintptr_t caller_ra) {
  CompactionPause pause;
  lock_guard sampling(g_sampling_mu);
  sample_goroutines_on_processors();
  std::vector<GoroutineRecord> out;
  const Goroutine* self = current_goroutine_checked();
  GoroutineView self_view;
  if (self != nullptr && read_goroutine(self, &self_view)) {
    Trace t;
    trace_here(&t, reinterpret_cast<std::uintptr_t>(self_view.stack.base),
               reinterpret_cast<std::uintptr_t>(self_view.stack.top));
    t.start_at_callee_of(caller_ra);
    out.push_back(record_of(self_view, "running", &t));
  }
  std::vector<IdAndRecord> others;
  stack_for_each_live(&collect_live, &others);
  std::sort(others.begin(), others.end());
  out.reserve(out.size() + others.size());
  for (const auto& [id, g] : others) {
    GoroutineView v;
    if (g == self || !read_goroutine(g, &v)) continue;  // exited meanwhile
    char state[128];
    describe_state(v, state, sizeof state);
    Trace t;
    bool known = trace_other(v, &t);
    out.push_back(record_of(v, state, known ? &t : nullptr));
  }
  return out;
}

}  // namespace

[[gnu::noinline]] std::vector<GoroutineRecord> goroutine_records() {
  return records_from(reinterpret_cast<std::uintptr_t>(__builtin_return_address(0)));
}

// Not instrumented for TSan: a dump reads records of goroutines that other
// threads may be retiring at this moment (see read_goroutine).
__attribute__((no_sanitize("thread"))) bool is_goroutine_record(const Goroutine* g) noexcept {
  return g != nullptr && g->magic == Goroutine::kMagic;
}

const Goroutine* current_goroutine_checked() noexcept {
  const Goroutine* g = current_goroutine();
  return is_goroutine_record(g) ? g : nullptr;
}

// Racy by design (see goroutines.hpp): the record may change under us while
// its goroutine runs; every field is validated before use.
__attribute__((no_sanitize("thread"))) bool read_goroutine(const Goroutine* g, GoroutineView* v) noexcept {
  if (!is_goroutine_record(g)) return false;
  v->g = g;
  v->status = g->status.load(std::memory_order_acquire);
  if (v->status == GStatus::kIdle || v->status == GStatus::kDead) return false;
  v->id = g->id;
  v->parent_id = g->parent_id;
  v->creator_pc = reinterpret_cast<std::uintptr_t>(g->creator_pc);
  v->saved_sp = reinterpret_cast<std::uintptr_t>(g->saved_sp);
  v->entry_pc = g->closure_ops != nullptr ? reinterpret_cast<std::uintptr_t>(g->closure_ops->invoke) : 0;
  v->stack = g->stack;
  v->wait_reason = g->wait_reason;
  v->is_main = g->is_main;
  v->compacted = g->compactable && !compact_stack_readable(const_cast<Goroutine*>(g));
  v->locked = g->locked_to != nullptr;
  v->parked_at = g->run_start_coarse_ns;
  v->name[0] = '\0';
  if (g->named) {
    for (std::size_t i = 0; i + 1 < sizeof v->name; ++i) v->name[i] = g->name[i];
    v->name[sizeof v->name - 1] = '\0';
  }
  return true;
}

namespace {

// Go's header, with the stack's figures after the state when they are
// asked for (dump_stack_figures): one mincore for a default stack.
// Async-signal-safe.
void print_header(Writer& w, const GoroutineView& v, const char* state) {
  if (!dump_stack_figures()) {
    print_goroutine_header(w, v.id, v.name, state);
    return;
  }
  char figures[96];
  format_stack_figures(stack_figures(v.stack), figures, sizeof figures);
  print_goroutine_header(w, v.id, v.name, state, figures);
}

}  // namespace

void print_goroutine(Writer& w, const GoroutineView& v, const char* state, const Trace* frames,
                     PrintPolicy p) {
  print_header(w, v, state);
  if (frames == nullptr) {
    w.put("\tgoroutine running on other thread; stack unavailable\n");
  } else if (frames->total() > 0) {
    print_frames(w, *frames, p);
  } else if (v.entry_pc != 0) {
    print_frame(w, Frame{v.entry_pc, true}, p);  // not started: show what it will run
  }
  print_created_by(w, v.creator_pc, v.parent_id, v.is_main, p);
}

void print_other_goroutine(Writer& w, const GoroutineView& v, PrintPolicy p) {
  char state[128];
  describe_state(v, state, sizeof state);
  // Its stack changes under us while it runs; only a suspended context has
  // frames we can follow, or a sample taken by a signal on its thread.
  bool suspended = v.status == GStatus::kParked || v.status == GStatus::kRunnable;
  if (!suspended) {
    print_goroutine(w, v, state, sampled_trace(v.g), p);
    return;
  }
  if (v.compacted) {
    // Its frames are in a heap copy, and its stack pages are guarded.
    print_header(w, v, state);
    w.put("\tstack compacted; frames unavailable\n");
    print_created_by(w, v.creator_pc, v.parent_id, v.is_main, p);
    return;
  }
  Trace t;
  trace_from_saved_context(&t, v.saved_sp, reinterpret_cast<std::uintptr_t>(v.stack.base),
                           reinterpret_cast<std::uintptr_t>(v.stack.top));
  p.waiting = v.status == GStatus::kParked;
  print_goroutine(w, v, state, &t, p);
}

void print_all_goroutines_unsorted(Writer& w, const Goroutine* skip, PrintPolicy p) {
  compact_pause_begin(true);  // never ended: the process exits after the report
  UnsortedPrint up{&w, skip, p};
  stack_for_each_live(&print_slot, &up);
}

[[gnu::noinline]] std::string dump_goroutines() {
  return dump_from(reinterpret_cast<std::uintptr_t>(__builtin_return_address(0)));
}

}  // namespace goro::detail

namespace goro {

[[gnu::noinline]] std::string dump_goroutines() {
  return detail::dump_from(reinterpret_cast<std::uintptr_t>(__builtin_return_address(0)));
}

[[gnu::noinline]] void print_goroutines(std::FILE* out) {
  std::string text = detail::dump_from(reinterpret_cast<std::uintptr_t>(__builtin_return_address(0)));
  std::fwrite(text.data(), 1, text.size(), out);
  std::fflush(out);
}

[[gnu::noinline]] void print_goroutines(std::ostream& out) {
  std::string text = detail::dump_from(reinterpret_cast<std::uintptr_t>(__builtin_return_address(0)));
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  out.flush();
}

}  // namespace goro
