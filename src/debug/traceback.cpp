// debug/traceback.cpp: see traceback.hpp.
#include "debug/traceback.hpp"

#include "debug/symbolize.hpp"

#include <link.h>
#include <unwind.h>
#include <algorithm>
#include <atomic>
#include <charconv>
#include <cstring>

// Frame walks read other frames' saved registers: slots a sanitizer may see
// as another thread's stack or as outside any object. The walks validate
// every address themselves.
#define GORO_NO_SANITIZE __attribute__((no_sanitize("address", "thread", "undefined")))

namespace goro::detail {
namespace {

// Without bounds the DWARF unwinder stops here: enough for any real
// traceback printed as head and tail, while a corrupt stack cannot keep it
// going for long.
constexpr int kMaxUnboundedFrames = 4096;

GORO_NO_SANITIZE std::uintptr_t load_word(std::uintptr_t addr) noexcept {
  return *reinterpret_cast<const volatile std::uintptr_t*>(addr);
}

bool starts_with_endbr64(const unsigned char* code) noexcept {
  return code[0] == 0xf3 && code[1] == 0x0f && code[2] == 0x1e && code[3] == 0xfa;
}

// If pc is where the function starting at `start` has not yet set up its
// frame pointer, the address of the slot holding its return address (fp
// still is the caller's, so the chain would skip the caller); else 0. This
// is the usual shape of a fault on a call into an exhausted stack: the first
// push of the callee hits the guard.
GORO_NO_SANITIZE std::uintptr_t return_slot_in_prologue(std::uintptr_t pc, std::uintptr_t start,
                                                        std::uintptr_t sp) noexcept {
  if (pc < start || pc - start > 8) return 0;
  const auto* code = reinterpret_cast<const unsigned char*>(start);
  std::uintptr_t off = pc - start;
  if (starts_with_endbr64(code)) {
    if (off < 4) return 0;
    code += 4;
    off -= 4;
  }
  if (off == 0) return sp;                         // before `push %rbp`
  if (off == 1 && code[0] == 0x55) return sp + 8;  // after it, before `mov %rsp, %rbp`
  return 0;
}

// Whether ra is a return address: inside a loaded module, right after a
// call instruction (direct `e8 rel32`, or an indirect `ff /2` in its 2, 3,
// 6 or 7-byte forms). When `target` is not 0, a direct call must go there.
GORO_NO_SANITIZE bool is_return_address(std::uintptr_t ra, std::uintptr_t target, bool in_signal) noexcept {
  if (ra < 4096) return false;
  Symbol s;
  if (!symbolize(ra - 1, &s, in_signal) || s.start == 0 || ra - 7 < s.start - 64) return false;
  const auto* code = reinterpret_cast<const unsigned char*>(ra);
  if (code[-5] == 0xe8) {
    std::int32_t rel = 0;
    std::memcpy(&rel, code - 4, sizeof rel);
    return target == 0 || ra + static_cast<std::uintptr_t>(static_cast<std::intptr_t>(rel)) == target;
  }
  if (target != 0) return false;
  for (int len : {2, 3, 6, 7}) {
    if (code[-len] == 0xff && ((code[-len + 1] >> 3) & 7) == 2) return true;
  }
  return false;
}

// A frame record at fp: [fp] = a higher frame pointer (or 0 at a
// goroutine's base), [fp + 8] a return address.
GORO_NO_SANITIZE bool is_frame_record(std::uintptr_t fp, std::uintptr_t lo, std::uintptr_t hi,
                                      bool in_signal) noexcept {
  if (fp < lo || hi < 16 || fp > hi - 16 || fp % 8 != 0) return false;
  std::uintptr_t next = load_word(fp);
  return (next == 0 || (next > fp && next < hi)) && is_return_address(load_word(fp + 8), 0, in_signal);
}

// A frame record that the next few records above it confirm (or that ends
// the chain at a goroutine's base): a stray pair of words that looks like
// one rarely has a second and third.
GORO_NO_SANITIZE bool is_frame_chain(std::uintptr_t fp, std::uintptr_t lo, std::uintptr_t hi,
                                     bool in_signal) noexcept {
  constexpr int kConfirm = 3;
  for (int i = 0; i < kConfirm; ++i) {
    if (!is_frame_record(fp, lo, hi, in_signal)) return false;
    std::uintptr_t next = load_word(fp);
    if (next == 0) return true;
    lo = fp + 16;
    fp = next;
  }
  return true;
}

// The address range of the module goro itself is linked into, which is
// built, like the code using goro, with frame pointers; found once.
struct ModuleRange {
  std::uintptr_t start = 0;
  std::uintptr_t end = 0;
};

ModuleRange own_module_range() noexcept {
  static std::atomic<std::uintptr_t> start{0};
  static std::atomic<std::uintptr_t> end{0};
  if (std::uintptr_t e = end.load(std::memory_order_acquire); e != 0)
    return ModuleRange{start.load(std::memory_order_relaxed), e};
  ModuleRange r;
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 35))
  dl_find_object found{};
  if (::_dl_find_object(reinterpret_cast<void*>(&load_word), &found) == 0) {
    r.start = reinterpret_cast<std::uintptr_t>(found.dlfo_map_start);
    r.end = reinterpret_cast<std::uintptr_t>(found.dlfo_map_end);
  }
#else
  Symbol mine;
  if (symbolize(reinterpret_cast<std::uintptr_t>(&load_word), &mine, true)) {
    // Without the loader's bounds: the module's text from its bias on.
    r.start = mine.bias;
    r.end = reinterpret_cast<std::uintptr_t>(&load_word) + (std::uintptr_t{256} << 20);
  }
#endif
  if (r.end != 0) {
    start.store(r.start, std::memory_order_relaxed);
    end.store(r.end, std::memory_order_release);
  }
  return r;
}

// Whether pc is in the module goro itself is linked into. A range check:
// cheap enough for every frame of a walk.
bool in_own_module(std::uintptr_t pc) noexcept {
  ModuleRange r = own_module_range();
  return pc >= r.start && pc < r.end;
}

// How far above a frame without a frame record (libc's, or another
// library's built without frame pointers) the next frame of the module
// built with them is looked for: more than any libc function's frames.
constexpr std::uintptr_t kResumeScanBytes = std::uintptr_t{256} << 10;

// Finds where the frame-pointer walk resumes above frames of code built
// without frame pointers, which use rbp for data and leave no frame
// records: the first word in [from, hi) that is a return address into the
// module built with frame pointers (the call out of it into that code),
// with a confirmed frame record above it (the calling function's). Adds
// that return address to t and returns the record, or 0 if there is none.
// Reads only words inside [from, hi).
GORO_NO_SANITIZE std::uintptr_t resume_above_foreign(Trace* t, std::uintptr_t from, std::uintptr_t hi,
                                                     bool in_signal) noexcept {
  from = (from + 7) & ~std::uintptr_t{7};
  if (hi < 16 || from > hi - 16) return 0;
  std::uintptr_t end = hi - from > kResumeScanBytes ? from + kResumeScanBytes : hi - 8;
  for (std::uintptr_t at = from; at < end; at += 8) {
    std::uintptr_t ra = load_word(at);
    if (!in_own_module(ra - 1) || !is_return_address(ra, 0, in_signal)) continue;
    for (std::uintptr_t rec = at + 8; rec < end; rec += 8) {
      if (is_frame_chain(rec, at + 8, hi, in_signal)) {
        t->add(ra, false);
        return rec;
      }
    }
    return 0;
  }
  return 0;
}

// Adds the return address into the function owning the frame record at
// `record`, called through code without frame records that kept rbp: the
// highest such address in [from, record) (lower slots may hold stale ones
// of calls made earlier). Returns whether there was one.
GORO_NO_SANITIZE bool add_caller_of_foreign(Trace* t, std::uintptr_t from, std::uintptr_t record,
                                            bool in_signal) noexcept {
  for (std::uintptr_t at = record - 8; at >= from && at < record; at -= 8) {
    std::uintptr_t ra = load_word(at);
    if (in_own_module(ra - 1) && is_return_address(ra, 0, in_signal)) {
      t->add(ra, false);
      return true;
    }
  }
  return false;
}

// Follows the saved-rbp chain from fp. Each frame holds [fp] = the caller's
// fp and [fp + 8] = the return address into the caller. A return address
// into code built without frame pointers (a callback called by libc's
// qsort, say) may be followed by a broken link: the walk then resumes at
// the next frame of the module built with frame pointers.
GORO_NO_SANITIZE void walk_frame_pointers(Trace* t, std::uintptr_t fp, std::uintptr_t lo, std::uintptr_t hi,
                                          bool in_signal) noexcept {
  while (fp >= lo && hi >= 16 && fp <= hi - 16 && fp % 8 == 0) {
    std::uintptr_t next = load_word(fp);
    std::uintptr_t ra = load_word(fp + 8);
    if (ra < 4096) return;  // no code there: the chain is not a chain
    t->add(ra, false);
    if (next == 0) return;  // a goroutine's base (goro_make_context)
    if (!in_own_module(ra - 1)) {
      if (is_frame_chain(next, fp + 16, hi, in_signal)) {
        // The foreign code kept rbp: next is the record of the function
        // that called it, whose own frame is only the return address into
        // it, below next.
        add_caller_of_foreign(t, fp + 16, next, in_signal);
      } else {
        next = resume_above_foreign(t, fp + 16, hi, in_signal);
        if (next == 0) return;
      }
    }
    if (next <= fp) return;
    fp = next;
  }
}

// The frame at pc has no frame record of its own (a leaf, or libc and other
// code built without frame pointers) if fp is not a frame record: then the
// walk resumes at the nearest caller built with frame pointers. Returns the
// frame pointer to walk from (0: none).
GORO_NO_SANITIZE std::uintptr_t skip_frameless(Trace* t, std::uintptr_t pc, std::uintptr_t start,
                                               std::uintptr_t sp, std::uintptr_t fp, std::uintptr_t hi,
                                               bool in_signal) noexcept {
  if (sp >= hi || sp % 8 != 0) return fp;
  // A leaf that pushed nothing: its return address is at sp, fp is the
  // caller's frame.
  if (start != 0 && is_return_address(load_word(sp), start, in_signal)) {
    t->add(load_word(sp), false);
    return fp;
  }
  if (in_own_module(pc))
    return is_frame_record(fp, sp, hi, in_signal) ? fp : resume_above_foreign(t, sp, hi, in_signal);
  if (is_frame_chain(fp, sp, hi, in_signal)) {
    // pc is in code that kept rbp intact (libc, built without frame
    // pointers, called from the function owning fp's record).
    if (add_caller_of_foreign(t, sp, fp, in_signal)) return fp;
  }
  // rbp holds the foreign code's data: scan the stack for the caller.
  return resume_above_foreign(t, sp, hi, in_signal);
}

struct UnwindWalk {
  Trace* trace;
  int limit;
  int frames = 0;
  std::uintptr_t fp = 0;  // frame pointer of the last frame taken
};

_Unwind_Reason_Code take_unwound_frame(_Unwind_Context* ctx, void* arg) {
  auto* walk = static_cast<UnwindWalk*>(arg);
  int before_insn = 0;
  std::uintptr_t ip = _Unwind_GetIPInfo(ctx, &before_insn);
  if (ip == 0) return _URC_END_OF_STACK;
  walk->trace->add(ip, before_insn != 0);
  if (++walk->frames < walk->limit) return _URC_NO_REASON;
  walk->fp = _Unwind_GetGR(ctx, 6);  // DWARF register 6 is rbp
  return _URC_END_OF_STACK;
}

// The address to look a frame's function up by: a return address may point
// past the end of a function that ends in a call, so look at pc - 1.
std::uintptr_t lookup_pc(Frame f) {
  return f.exact ? f.pc : f.pc - 1;
}

// Frames of goro's own goroutine entry, which every goroutine's stack ends
// with and Go hides too (runtime.goexit): the trampoline
// (switch_x86_64_sysv.S), the scheduler's entry function, and the invoke of
// a function object that the runtime itself made (a lambda inside a
// goro::detail function). The invoke of a user's function object stays: the
// user's lambda is usually inlined into it.
bool is_entry_frame(Frame f, PrintPolicy p) {
  static constexpr std::string_view kRuntime = "_ZN4goro6detail";
  static constexpr std::string_view kInvoke = "_ZN4goro6detail13InlineClosureI";
  static constexpr std::string_view kRuntimeInvoke = "_ZN4goro6detail13InlineClosureIZNS0_";
  Symbol s;
  if (!symbolize(lookup_pc(f), &s, p.in_signal) || s.name == nullptr) return false;
  std::string_view name = s.name;
  if (name == "goro_context_trampoline") return true;
  if (name.substr(0, kRuntimeInvoke.size()) == kRuntimeInvoke) return true;
  return name.substr(0, kRuntime.size()) == kRuntime && name.substr(0, kInvoke.size()) != kInvoke;
}

// A frame of the runtime (goro::detail).
bool is_runtime_frame(Frame f, PrintPolicy p) {
  static constexpr std::string_view kRuntime = "_ZN4goro6detail";
  Symbol s;
  return symbolize(lookup_pc(f), &s, p.in_signal) && s.name != nullptr &&
         std::string_view(s.name).starts_with(kRuntime);
}

// A runtime frame that switches contexts (goro::detail::switch_*): the top
// of every parked goroutine's stack, below its park. Hidden unless runtime
// frames are asked for, as Go's traceback of a parked goroutine starts at
// gopark, not at the switch to g0 under it.
bool is_switch_frame(Frame f, PrintPolicy p) {
  static constexpr std::string_view kRuntime = "_ZN4goro6detail";
  Symbol s;
  if (!symbolize(lookup_pc(f), &s, p.in_signal) || s.name == nullptr) return false;
  std::string_view name = s.name;
  if (name.substr(0, kRuntime.size()) != kRuntime) return false;
  name.remove_prefix(kRuntime.size());
  std::size_t digits = 0;
  while (digits < name.size() && name[digits] >= '0' && name[digits] <= '9') ++digits;
  if (digits == 0) return false;
  return name.substr(digits).starts_with("switch_");
}

struct Resolved {
  bool found = false;
  Symbol symbol;
  std::string_view name;
  std::string_view file;  // when line > 0
  int line = 0;
  std::string_view inlined;  // frames inlined at the address, printed before it
};

// Buffers for a resolved frame without a cache.
struct ResolveBuffers {
  char name[2048];
  char file[1024];
  char function[1024];
  char inlined[2048];
};

// Symbol, readable name and source line of the frame at lookup pc `pc`.
// libdw names the function when the symbol tables do not (libc's static
// functions, from its separate debug file), and the helper of a fatal
// report demangles when this process may not allocate. The texts live in
// `b`.
Resolved resolve_uncached(std::uintptr_t pc, PrintPolicy p, ResolveBuffers& b) {
  Resolved r;
  r.found = symbolize(pc, &r.symbol, p.in_signal);
  r.name = r.symbol.name != nullptr ? readable_name(r.symbol.name, b.name, sizeof b.name, p.demangle) : "??";
  if (!r.found) return r;
  bool want_function = r.symbol.name == nullptr || (!p.demangle && p.lines == LineSource::kHelper);
  CodeInfo info{b.file,    sizeof b.file,   0, b.function, want_function ? sizeof b.function : 0,
                b.inlined, sizeof b.inlined};
  if (!describe_code(pc, p.lines, &info)) return r;
  if (info.line > 0) {
    r.file = b.file;
    r.line = info.line;
    r.inlined = b.inlined;
  }
  if (want_function && b.function[0] != '\0') r.name = b.function;
  return r;
}

// The frame's resolution from the cache when there is one.
Resolved resolve(Frame f, PrintPolicy p, ResolveBuffers& b) {
  std::uintptr_t pc = lookup_pc(f);
  if (p.cache == nullptr) return resolve_uncached(pc, p, b);
  SymbolCache::Entry& e = p.cache->slot(pc);
  if (e.lookup_pc != pc) {
    Resolved r = resolve_uncached(pc, p, b);
    e.lookup_pc = pc;
    e.found = r.found;
    e.symbol = r.symbol;
    e.name = r.name;
    e.file = r.file;
    e.line = r.line;
    e.inlined = r.inlined;
  }
  return Resolved{e.found, e.symbol, e.name, e.file, e.line, e.inlined};
}

// Go's "\t/path/file.cpp:123 +0x<off in function>", or where no source
// line is known "\t<module>+0x<off> +0x<off in function>": the module
// offset is what `addr2line -e <module>` takes.
void print_location(Writer& w, std::uintptr_t pc, const Resolved& r) {
  w.put('\t');
  if (!r.found || r.symbol.module == nullptr) {
    w.hex(pc).put('\n');
    return;
  }
  if (r.line > 0) {
    w.put(r.file).put(':').dec(static_cast<std::uint64_t>(r.line));
  } else {
    w.put(r.symbol.module).put('+').hex(pc - r.symbol.bias);
  }
  if (r.symbol.name != nullptr) w.put(" +").hex(pc - r.symbol.start);
  w.put('\n');
}

void print_resolved(Writer& w, Frame f, const Resolved& r) {
  w.put(r.inlined);
  w.put(r.name).put('\n');
  print_location(w, f.pc, r);
}

}  // namespace

void Trace::add(std::uintptr_t pc, bool exact) noexcept {
  Frame f{pc, exact};
  if (total_ < kHead) {
    head_[total_] = f;
  } else {
    tail_[(total_ - kHead) % kTail] = f;
  }
  ++total_;
}

int Trace::tail_count() const noexcept {
  if (total_ <= kHead) return 0;
  return static_cast<int>(std::min<std::uint64_t>(total_ - kHead, kTail));
}

const Frame& Trace::tail(int i) const noexcept {
  std::uint64_t oldest = total_ - static_cast<std::uint64_t>(tail_count());
  return tail_[(oldest + static_cast<std::uint64_t>(i) - kHead) % kTail];
}

void Trace::drop_front(int n) noexcept {
  first_ = std::clamp(first_ + n, 0, head_count());
}

void Trace::start_at_callee_of(std::uintptr_t ra) noexcept {
  for (int i = 1; i < head_count(); ++i) {
    if (head_[i].pc == ra) {
      first_ = i - 1;
      return;
    }
  }
}

void trace_from_registers(Trace* t, std::uintptr_t pc, std::uintptr_t sp, std::uintptr_t fp,
                          std::uintptr_t lo, std::uintptr_t hi, bool in_signal) noexcept {
  t->add(pc, true);
  Symbol s;
  std::uintptr_t start = 0;
  if (symbolize(pc, &s, in_signal) && s.name != nullptr) {
    std::uintptr_t slot = return_slot_in_prologue(pc, s.start, sp);
    if (slot >= lo && hi >= 8 && slot <= hi - 8) {
      t->add(load_word(slot), false);
      walk_frame_pointers(t, fp, std::max(lo, sp), hi, in_signal);
      return;
    }
    start = s.start;
  }
  if (sp < lo) {
    // The stack pointer left the stack (a frame jumped the guard): only the
    // frame records inside it can be followed.
    walk_frame_pointers(t, fp, lo, hi, in_signal);
    return;
  }
  fp = skip_frameless(t, pc, start, sp, fp, hi, in_signal);
  walk_frame_pointers(t, fp, sp, hi, in_signal);
}

void trace_from_saved_context(Trace* t, std::uintptr_t saved_sp, std::uintptr_t lo,
                              std::uintptr_t hi) noexcept {
  // goro_switch_context pushed rbp then the callee-saved registers below the
  // return address: saved_sp + 40 is rbp, saved_sp + 48 the return address.
  if (saved_sp < lo || hi < 56 || saved_sp > hi - 56 || saved_sp % 8 != 0) return;
  std::uintptr_t fp = load_word(saved_sp + 40);
  std::uintptr_t ra = load_word(saved_sp + 48);
  // A zero rbp is goro_make_context's fresh context: nothing has run on it,
  // and its "return address" is the trampoline's entry, not a call site.
  if (fp == 0 || ra < 4096) return;
  t->add(ra, false);
  walk_frame_pointers(t, fp, saved_sp + 56, hi, false);
}

void trace_here(Trace* t, std::uintptr_t lo, std::uintptr_t hi) noexcept {
  auto here = reinterpret_cast<std::uintptr_t>(__builtin_frame_address(0));
  bool bounded = lo < hi && here >= lo && here < hi;
  UnwindWalk walk{t, bounded ? Trace::kHead : kMaxUnboundedFrames};
  _Unwind_Backtrace(&take_unwound_frame, &walk);
  if (bounded && walk.frames == walk.limit) walk_frame_pointers(t, walk.fp, here, hi, false);
}

SymbolCache::Entry& SymbolCache::slot(std::uintptr_t lookup_pc) noexcept {
  std::uint64_t h = static_cast<std::uint64_t>(lookup_pc) * 0x9e3779b97f4a7c15ull;  // Fibonacci hashing
  return slots_[(h >> 40) % kSlots];
}

void print_frame(Writer& w, Frame f, PrintPolicy p) {
  ResolveBuffers b;
  print_resolved(w, f, resolve(f, p, b));
}

namespace {

// Print order: head frames [first, head_count), then the tail.
struct PrintOrder {
  const Trace& t;
  int from_head = t.head_count() - t.first();
  int n = from_head + t.tail_count();
  const Frame& at(int i) const { return i < from_head ? t.head(t.first() + i) : t.tail(i - from_head); }
  // Where printing stops: before the entry frames, at most a few at the
  // very end.
  int end(PrintPolicy p) const {
    constexpr int kEntryDepth = 3;
    int e = n;
    while (!p.runtime_frames && e > 1 && e > n - kEntryDepth && is_entry_frame(at(e - 1), p)) --e;
    return e;
  }
  // Where printing starts: after the switch frames at the very top, and
  // for a waiting goroutine after every runtime frame there.
  int begin(PrintPolicy p, int e) const {
    int b = 0;
    while (!p.runtime_frames && b + 1 < e && b < from_head &&
           (is_switch_frame(at(b), p) || (p.waiting && is_runtime_frame(at(b), p))))
      ++b;
    return b;
  }
};

}  // namespace

void print_frames(Writer& w, const Trace& t, PrintPolicy p) {
  PrintOrder order{t};
  const int end = order.end(p);
  ResolveBuffers b;
  for (int i = order.begin(p, end); i < end; ++i) {
    if (i == order.from_head && t.elided() > 0)
      w.put("...").dec(t.elided()).put(" additional frames elided...\n");
    print_resolved(w, order.at(i), resolve(order.at(i), p, b));
  }
}

std::vector<Frame> printed_frames(const Trace& t, PrintPolicy p, std::size_t* head_printed) {
  PrintOrder order{t};
  const int end = order.end(p);
  const int begin = order.begin(p, end);
  std::vector<Frame> frames;
  frames.reserve(static_cast<std::size_t>(end - begin));
  for (int i = begin; i < end; ++i) frames.push_back(order.at(i));
  if (head_printed != nullptr)
    *head_printed = static_cast<std::size_t>(std::min(order.from_head, end) - begin);
  return frames;
}

void print_goroutine_header(Writer& w, std::uint64_t id, const char* name, const char* state,
                            const char* after_state) {
  w.put("goroutine ").dec(id).put(' ');
  if (name != nullptr && name[0] != '\0') w.put('"').put(name).put("\" ");
  w.put('[').put(state).put(']');
  if (after_state != nullptr) w.put(' ').put(after_state);
  w.put(":\n");
}

void print_created_by(Writer& w, std::uintptr_t creator_pc, std::uint64_t parent_id, bool is_main,
                      PrintPolicy p) {
  if (creator_pc == 0 || is_main) return;
  ResolveBuffers b;
  Frame f{creator_pc, false};
  Resolved r = resolve(f, p, b);
  // Like Go, the function that holds the go statement: the innermost one
  // inlined at the call, if any ("name\n\tfile:line\n" first in r.inlined).
  std::string_view name = r.name;
  if (std::size_t end = r.inlined.find('\n'); end != std::string_view::npos && end + 2 < r.inlined.size()) {
    std::size_t at = end + 2;
    std::size_t eol = r.inlined.find('\n', at);
    std::string_view where = r.inlined.substr(at, eol - at);
    std::size_t sep = where.rfind(':');
    int line = 0;
    if (sep != std::string_view::npos)
      std::from_chars(where.data() + sep + 1, where.data() + where.size(), line);
    if (line > 0) {
      name = r.inlined.substr(0, end);
      r.file = where.substr(0, sep);
      r.line = line;
    }
  }
  w.put("created by ").put(name);
  if (parent_id != 0) w.put(" in goroutine ").dec(parent_id);
  w.put('\n');
  print_location(w, f.pc, r);
}

}  // namespace goro::detail
