// debug/lines.cpp: see lines.hpp.
#include "debug/lines.hpp"

#include "debug/symbolize.hpp"

#include <goro/lock_guard.hpp>
#include <goro/thread_annotations.hpp>
#include "arch/mutex.hpp"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <fcntl.h>
#include <link.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <algorithm>
#include <cerrno>
#include <charconv>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <string_view>
#include <unordered_map>

namespace goro::detail {
namespace {

// ---- in process ------------------------------------------------------------

// The longest texts an answer keeps (longer ones are cut).
constexpr std::size_t kMaxPath = 1024;
constexpr std::size_t kMaxFunction = 1024;
constexpr std::size_t kMaxInlined = 2048;

// One address's answer, kept by an in-process session.
struct Answer {
  bool known = false;
  int line = 0;
  std::string file;
  std::string function;
  std::string inlined;
};

// A libdw session (kept for the life of the process) and what it knows of
// the process's modules.
struct Session {
  Dwfl* dwfl = nullptr;
  int modules = -1;  // loaded modules when they were last reported to dwfl
  // Answers by address: finding a unit's scopes walks its DIE tree, which
  // for a unit that includes large headers takes milliseconds. Emptied
  // when the modules change (an address may then mean other code), and
  // when it reaches kMaxAnswers.
  std::unordered_map<std::uintptr_t, Answer> answers;
};
constexpr std::size_t kMaxAnswers = 1 << 16;

Mutex g_session_mu;
Session g_session GORO_GUARDED_BY(g_session_mu);
bool g_in_helper = false;  // set in the helper process, which has one thread

// Separate debug files are looked for in the usual places
// (/usr/lib/debug), but a lookup must never wait on the network: when
// DEBUGINFOD_URLS is set, libdw's standard search would ask debuginfod, so
// then only the modules' own DWARF is read.
int find_local_debuginfo(Dwfl_Module* mod, void** userdata, const char* modname, Dwarf_Addr base,
                         const char* file_name, const char* debuglink_file, GElf_Word debuglink_crc,
                         char** debuginfo_file_name) {
  const char* urls = std::getenv("DEBUGINFOD_URLS");
  if (urls != nullptr && urls[0] != '\0') return -1;
  return dwfl_standard_find_debuginfo(mod, userdata, modname, base, file_name, debuglink_file, debuglink_crc,
                                      debuginfo_file_name);
}

const Dwfl_Callbacks kCallbacks = {
    &dwfl_linux_proc_find_elf, &find_local_debuginfo,
    nullptr,  // section_address: only for relocatable files
    nullptr,  // debuginfo_path: the default
};

int count_modules() {
  int n = 0;
  dl_iterate_phdr([](dl_phdr_info*, std::size_t, void* count) { return ++*static_cast<int*>(count), 0; }, &n);
  return n;
}

// Opens the session, or re-reports the modules if the loader's list
// changed since: dwfl knows only the modules mapped when it was told.
bool refresh(Session& s) {
  if (s.dwfl == nullptr) {
    s.dwfl = dwfl_begin(&kCallbacks);
    if (s.dwfl == nullptr) return false;
  }
  int modules = count_modules();
  if (modules == s.modules) return true;
  s.answers.clear();
  dwfl_report_begin(s.dwfl);
  int failed = dwfl_linux_proc_report(s.dwfl, static_cast<pid_t>(::getpid()));
  dwfl_report_end(s.dwfl, nullptr, nullptr);
  s.modules = failed == 0 ? modules : -1;
  return failed == 0;
}

void copy_text(char* dst, std::size_t cap, const char* src) {
  std::size_t n = std::strlen(src);
  if (n >= cap) n = cap - 1;
  std::memcpy(dst, src, n);
  dst[n] = '\0';
}

// The readable name of pc's function: the symbol table's (symbolize.hpp),
// else libdw's, which also reads a separate debug file's symbols.
bool function_name(Dwfl_Module* mod, std::uintptr_t pc, char* buf, std::size_t cap) {
  Symbol sym;
  // In the helper, symbolize's cache mutex may have been copied locked.
  const char* raw = symbolize(pc, &sym, g_in_helper) ? sym.name : nullptr;
  if (raw == nullptr) raw = dwfl_module_addrname(mod, pc);
  if (raw == nullptr || cap < 2) return false;
  std::string_view name = readable_name(raw, buf, cap - 1, true);
  buf[name.size()] = '\0';
  return true;
}

// Appends "name\n\tfile:line\n" to the inlined frames' text if it fits
// whole (a frame cut short would break the report's layout).
void append_frame(CodeInfo* out, std::size_t* len, std::string_view name, std::string_view file, int line) {
  char number[16];
  auto end = std::to_chars(number, number + sizeof number, line).ptr;
  std::string_view digits(number, static_cast<std::size_t>(end - number));
  std::size_t need = name.size() + 2 + file.size() + 1 + digits.size() + 1;
  if (*len + need >= out->inlined_cap) return;
  char* at = out->inlined + *len;
  for (std::string_view piece :
       {name, std::string_view("\n\t"), file, std::string_view(":"), digits, std::string_view("\n")}) {
    std::memcpy(at, piece.data(), piece.size());
    at += piece.size();
  }
  *at = '\0';
  *len += need;
}

// The DIE that declares the function an inlined instance expands: through
// DW_AT_abstract_origin, then DW_AT_specification (a member function's
// declaration in its class).
Dwarf_Die declaration_of(Dwarf_Die die) {
  for (int hops = 0; hops < 4; ++hops) {
    Dwarf_Attribute attr;
    Dwarf_Die next;
    Dwarf_Attribute* ref = dwarf_attr(&die, DW_AT_abstract_origin, &attr);
    if (ref == nullptr) ref = dwarf_attr(&die, DW_AT_specification, &attr);
    if (ref == nullptr || dwarf_formref_die(ref, &next) == nullptr) break;
    die = next;
  }
  return die;
}

// A text built in a fixed buffer, cut at its capacity.
struct NameBuffer {
  char* buf;
  std::size_t cap;
  std::size_t len = 0;
  void put(std::string_view text) {
    std::size_t k = std::min(text.size(), cap - len);
    std::memcpy(buf + len, text.data(), k);
    len += k;
  }
};

bool is_naming_scope(int tag) {
  return tag == DW_TAG_namespace || tag == DW_TAG_class_type || tag == DW_TAG_structure_type ||
         tag == DW_TAG_union_type || tag == DW_TAG_subprogram;
}

bool declared_elsewhere(Dwarf_Die* die) {
  Dwarf_Attribute attr;
  return dwarf_attr(die, DW_AT_abstract_origin, &attr) != nullptr ||
         dwarf_attr(die, DW_AT_specification, &attr) != nullptr;
}

void put_name(Dwarf_Die* die, NameBuffer& out) {
  const char* name = dwarf_diename(die);
  int tag = dwarf_tag(die);
  if (name != nullptr) {
    out.put(name);
  } else if (tag == DW_TAG_namespace) {
    out.put("(anonymous namespace)");
  } else if (tag == DW_TAG_class_type || tag == DW_TAG_structure_type) {
    out.put("{lambda}");  // what the compiler leaves unnamed in a function
  } else {
    out.put("??");
  }
}

// Puts the name of `die` qualified by the scopes around its declaration
// ("Server::run::{lambda}::operator()"): the compiler gives a lambda's
// operator() no linkage name, and its class no name at all. One walk of
// the unit finds the scopes; a scope defined apart from its declaration (a
// member function defined outside its class) takes one more, for the
// scopes around that declaration.
void put_qualified(Dwarf_Die die, NameBuffer& out, int depth) {
  constexpr int kMaxDepth = 4;
  Dwarf_Die decl = declaration_of(die);
  Dwarf_Die* scopes = nullptr;
  int n = dwarf_getscopes_die(&decl, &scopes);
  // scopes[0] is decl itself, scopes[n - 1] its compilation unit.
  int outermost = n - 2;
  for (int i = 1; i < n - 1 && depth < kMaxDepth; ++i) {
    if (is_naming_scope(dwarf_tag(&scopes[i])) && declared_elsewhere(&scopes[i])) {
      put_qualified(scopes[i], out, depth + 1);
      out.put("::");
      outermost = i - 1;
      break;
    }
  }
  for (int i = outermost; i >= 1; --i) {
    if (!is_naming_scope(dwarf_tag(&scopes[i]))) continue;
    put_name(&scopes[i], out);
    out.put("::");
  }
  std::free(scopes);
  put_name(&decl, out);
}

std::string_view qualified_name(Dwarf_Die* die, char* buf, std::size_t cap) {
  NameBuffer out{buf, cap};
  put_qualified(*die, out, 0);
  return {buf, out.len};
}

// The readable name of an inlined function's instance.
std::string_view inlined_name(Dwarf_Die* die, char* buf, std::size_t cap) {
  Dwarf_Attribute attr;
  const char* raw = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_linkage_name, &attr));
  if (raw == nullptr) raw = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_MIPS_linkage_name, &attr));
  if (raw != nullptr) return readable_name(raw, buf, cap, true);
  return qualified_name(die, buf, cap);
}

// Where an inlined instance was called from: its DW_AT_call_file and
// DW_AT_call_line, in the function around it.
bool call_site(Dwarf_Die* cu, Dwarf_Die* inlined, const char** file, int* line) {
  Dwarf_Attribute attr;
  Dwarf_Word index = 0;
  Dwarf_Word call_line = 0;
  if (dwarf_formudata(dwarf_attr(inlined, DW_AT_call_file, &attr), &index) != 0 ||
      dwarf_formudata(dwarf_attr(inlined, DW_AT_call_line, &attr), &call_line) != 0 || call_line == 0)
    return false;
  Dwarf_Files* files = nullptr;
  std::size_t count = 0;
  if (dwarf_getsrcfiles(cu, &files, &count) != 0 || index >= count) return false;
  const char* name = dwarf_filesrc(files, index, nullptr, nullptr);
  if (name == nullptr) return false;
  *file = name;
  *line = static_cast<int>(call_line);
  return true;
}

// Walks the scopes at pc from the innermost out: each inlined instance is
// a frame at the current location, and moves the location to its call
// site. Leaves in (*file, *line) the location in the real function.
void expand_inlined(Dwarf_Die* cu, Dwarf_Addr addr, const char** file, int* line, CodeInfo* out) {
  Dwarf_Die* scopes = nullptr;
  int n = dwarf_getscopes(cu, addr, &scopes);
  std::size_t len = 0;
  char name[1024];
  for (int i = 0; i < n; ++i) {
    int tag = dwarf_tag(&scopes[i]);
    if (tag == DW_TAG_subprogram) break;
    if (tag != DW_TAG_inlined_subroutine) continue;
    const char* caller_file = nullptr;
    int caller_line = 0;
    if (!call_site(cu, &scopes[i], &caller_file, &caller_line)) break;
    append_frame(out, &len, inlined_name(&scopes[i], name, sizeof name), *file, *line);
    *file = caller_file;
    *line = caller_line;
  }
  std::free(scopes);
}

// The compilation unit whose code holds pc; *bias receives the module's
// load bias (the unit's addresses are pc - bias). libdw finds it through
// .debug_aranges, which clang does not fill for every unit: then the
// units are searched one by one by their address ranges.
Dwarf_Die* unit_of(Dwfl_Module* mod, std::uintptr_t pc, Dwarf_Addr* bias) {
  if (Dwarf_Die* cu = dwfl_module_addrdie(mod, pc, bias)) return cu;
  for (Dwarf_Die* cu = dwfl_module_nextcu(mod, nullptr, bias); cu != nullptr;
       cu = dwfl_module_nextcu(mod, cu, bias)) {
    if (dwarf_haspc(cu, pc - *bias) > 0) return cu;
  }
  return nullptr;
}

bool look_up(Session& s, std::uintptr_t pc, CodeInfo* out) {
  out->line = 0;
  if (out->function_cap > 0) out->function[0] = '\0';
  if (out->inlined_cap > 0) out->inlined[0] = '\0';
  if (!refresh(s)) return false;
  Dwfl_Module* mod = dwfl_addrmodule(s.dwfl, pc);
  if (mod == nullptr) return false;
  bool known = false;
  Dwarf_Addr bias = 0;
  Dwarf_Die* cu = out->file_cap > 0 ? unit_of(mod, pc, &bias) : nullptr;
  if (Dwarf_Line* l = cu != nullptr ? dwarf_getsrc_die(cu, pc - bias) : nullptr) {
    int n = 0;
    const char* path = dwarf_linesrc(l, nullptr, nullptr);
    // Line 0 marks code the compiler made up: no source line to show.
    if (path != nullptr && dwarf_lineno(l, &n) == 0 && n > 0) {
      if (out->inlined_cap > 0) expand_inlined(cu, pc - bias, &path, &n, out);
      copy_text(out->file, out->file_cap, path);
      out->line = n;
      known = true;
    }
  }
  if (out->function_cap > 0 && function_name(mod, pc, out->function, out->function_cap)) known = true;
  return known;
}

// look_up with every text asked for, through the session's answers.
bool look_up_in_process(std::uintptr_t pc, CodeInfo* out) {
  lock_guard lock(g_session_mu);
  Session& s = g_session;
  auto found = s.answers.find(pc);
  if (found == s.answers.end() || s.modules != count_modules()) {
    static char file[kMaxPath];
    static char function[kMaxFunction];
    static char inlined[kMaxInlined];
    CodeInfo all{file, sizeof file, 0, function, sizeof function, inlined, sizeof inlined};
    Answer a;
    a.known = look_up(s, pc, &all);  // may empty the answers: modules changed
    a.line = all.line;
    if (a.line > 0) a.file = file;
    a.function = function;
    a.inlined = inlined;
    if (s.answers.size() >= kMaxAnswers) s.answers.clear();
    found = s.answers.insert_or_assign(pc, std::move(a)).first;
  }
  const Answer& a = found->second;
  out->line = a.line;
  if (a.line > 0 && out->file_cap > 0) copy_text(out->file, out->file_cap, a.file.c_str());
  if (out->function_cap > 0) copy_text(out->function, out->function_cap, a.function.c_str());
  if (out->inlined_cap > 0) copy_text(out->inlined, out->inlined_cap, a.inlined.c_str());
  return a.known;
}

// ---- the helper process --------------------------------------------------------

// An answer on the wire: the line (0: unknown), the lengths of the path,
// of the function's name and of the inlined frames' text, then the texts.
struct AnswerHead {
  std::int32_t line;
  std::uint32_t file_length;
  std::uint32_t function_length;
  std::uint32_t inlined_length;
};

// The first answer reads the executable's DWARF (a second or more for a
// large binary on a loaded machine, under a sanitizer); later ones are a
// table lookup. Past these the helper is deemed stuck.
constexpr std::int64_t kFirstAnswerMs = 10'000;
constexpr std::int64_t kNextAnswerMs = 2'000;

bool write_all(int fd, const void* data, std::size_t n) {
  const auto* p = static_cast<const char*>(data);
  while (n > 0) {
    ssize_t k = ::send(fd, p, n, MSG_NOSIGNAL);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) return false;
    p += k;
    n -= static_cast<std::size_t>(k);
  }
  return true;
}

// Reads exactly n bytes; without a deadline (deadline_ms < 0) it blocks.
bool read_all(int fd, void* data, std::size_t n, std::int64_t deadline_ms);

std::int64_t now_ms() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1'000'000;
}

bool read_all(int fd, void* data, std::size_t n, std::int64_t deadline_ms) {
  auto* p = static_cast<char*>(data);
  while (n > 0) {
    if (deadline_ms >= 0) {
      std::int64_t left = deadline_ms - now_ms();
      if (left <= 0) return false;
      pollfd pfd{fd, POLLIN, 0};
      int ready = ::poll(&pfd, 1, static_cast<int>(left));
      if (ready < 0 && errno == EINTR) continue;
      if (ready <= 0) return false;
    }
    ssize_t k = ::recv(fd, p, n, 0);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) return false;
    p += k;
    n -= static_cast<std::size_t>(k);
  }
  return true;
}

void reset_to_default(int sig) {
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  ::sigaction(sig, &dfl, nullptr);
}

// The session the helper process answers from: the parent's, unless a
// thread of the parent held it (mid-update) when the memory was copied,
// then `fresh`. The helper has one thread and keeps the lock until it
// exits, which the analysis cannot follow: a lock taken for good.
Session* adopt_session(Session* fresh) GORO_NO_THREAD_SAFETY_ANALYSIS {
  return g_session_mu.try_lock() ? &g_session : fresh;
}

// The helper's life: answer addresses until the parent closes the socket.
[[noreturn]] void serve_lines(int fd) {
  // Gone with the reporting process, and a crash here ends only the helper.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  for (int sig : {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT}) reset_to_default(sig);
  // Nothing it might print (a sanitizer's warning) may land in the report.
  int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null >= 0) {
    ::dup2(null, STDOUT_FILENO);
    ::dup2(null, STDERR_FILENO);
    ::close(null);
  }
  // A single thread now: the parent's session is usable unless another
  // thread was inside it when the memory was copied.
  g_in_helper = true;
  Session fresh;
  Session* s = adopt_session(&fresh);
  for (;;) {
    std::uintptr_t pc = 0;
    if (!read_all(fd, &pc, sizeof pc, -1)) ::_exit(0);
    static char path[kMaxPath];
    static char function[kMaxFunction];
    static char inlined[kMaxInlined];
    CodeInfo info{path, sizeof path, 0, function, sizeof function, inlined, sizeof inlined};
    AnswerHead head{0, 0, 0, 0};
    if (look_up(*s, pc, &info)) {
      head.line = info.line;
      head.file_length = info.line > 0 ? static_cast<std::uint32_t>(std::strlen(path)) : 0;
      head.function_length = static_cast<std::uint32_t>(std::strlen(function));
      head.inlined_length = static_cast<std::uint32_t>(std::strlen(inlined));
    }
    if (!write_all(fd, &head, sizeof head) || !write_all(fd, path, head.file_length) ||
        !write_all(fd, function, head.function_length) || !write_all(fd, inlined, head.inlined_length))
      ::_exit(0);
  }
}

// Only the thread printing a fatal report uses these (lines.hpp).
struct Helper {
  long pid = 0;  // 0: not started
  int fd = -1;
  bool failed = false;    // could not start, or stopped answering: no more questions
  bool answered = false;  // has answered at least once (its tables are loaded)
};
Helper g_helper;

// fork() runs atfork handlers and takes the allocator's locks; the raw
// system call copies the process as it is.
long raw_fork() {
  return ::syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
}

bool start_helper() {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) return false;
  long pid = raw_fork();
  if (pid == 0) {
    ::close(fds[0]);
    serve_lines(fds[1]);
  }
  ::close(fds[1]);
  if (pid < 0) {
    ::close(fds[0]);
    return false;
  }
  g_helper.pid = pid;
  g_helper.fd = fds[0];
  return true;
}

// An answer of the helper, kept for the length of the report.
struct CachedAnswer {
  std::uintptr_t pc;  // 0: empty
  std::int32_t line;  // 0: no line known
  char file[256];
  char function[512];  // "": unknown
  char inlined[2048];  // "": none
};

bool ask_helper(std::uintptr_t pc, CachedAnswer* a) {
  if (g_helper.failed) return false;
  if (g_helper.pid == 0 && !start_helper()) {
    g_helper.failed = true;
    return false;
  }
  std::int64_t deadline = now_ms() + (g_helper.answered ? kNextAnswerMs : kFirstAnswerMs);
  AnswerHead head{};
  char path[kMaxPath];
  char function[kMaxFunction];
  char inlined[kMaxInlined];
  if (!write_all(g_helper.fd, &pc, sizeof pc) || !read_all(g_helper.fd, &head, sizeof head, deadline) ||
      head.file_length >= sizeof path || head.function_length >= sizeof function ||
      head.inlined_length >= sizeof inlined || !read_all(g_helper.fd, path, head.file_length, deadline) ||
      !read_all(g_helper.fd, function, head.function_length, deadline) ||
      !read_all(g_helper.fd, inlined, head.inlined_length, deadline)) {
    end_line_helper();
    g_helper.failed = true;
    return false;
  }
  g_helper.answered = true;
  path[head.file_length] = '\0';
  function[head.function_length] = '\0';
  inlined[head.inlined_length] = '\0';
  a->pc = pc;
  a->line = head.line > 0 ? head.line : 0;
  copy_text(a->file, sizeof a->file, path);
  copy_text(a->function, sizeof a->function, function);
  copy_text(a->inlined, sizeof a->inlined, inlined);
  return true;
}

// Answers of this report by address, direct-mapped (a collision asks
// again). The reporting thread's only.
constexpr std::size_t kCachedAnswers = 256;
CachedAnswer g_answers[kCachedAnswers];

bool ask_helper_cached(std::uintptr_t pc, CodeInfo* out) {
  CachedAnswer& a = g_answers[(pc * 0x9e3779b97f4a7c15ull >> 40) % kCachedAnswers];
  if (a.pc != pc && !ask_helper(pc, &a)) return false;
  out->line = a.line;
  if (a.line > 0 && out->file_cap > 0) copy_text(out->file, out->file_cap, a.file);
  if (out->function_cap > 0) copy_text(out->function, out->function_cap, a.function);
  if (out->inlined_cap > 0) copy_text(out->inlined, out->inlined_cap, a.inlined);
  return a.line > 0 || a.function[0] != '\0';
}

}  // namespace

bool describe_code(std::uintptr_t pc, LineSource how, CodeInfo* out) noexcept {
  out->line = 0;
  if (out->function_cap > 0) out->function[0] = '\0';
  if (out->inlined_cap > 0) out->inlined[0] = '\0';
  switch (how) {
    case LineSource::kNone:
      return false;
    case LineSource::kInProcess:
      try {
        return look_up_in_process(pc, out);
      } catch (...) {  // std::system_error from the mutex, std::bad_alloc from libdw's C++ callers
        return false;
      }
    case LineSource::kHelper:
      return ask_helper_cached(pc, out);
  }
  return false;
}

void end_line_helper() noexcept {
  if (g_helper.pid == 0) return;
  ::close(g_helper.fd);
  ::kill(static_cast<pid_t>(g_helper.pid), SIGKILL);
  while (::waitpid(static_cast<pid_t>(g_helper.pid), nullptr, 0) < 0 && errno == EINTR) {
  }
  g_helper.pid = 0;
  g_helper.fd = -1;
}

}  // namespace goro::detail
