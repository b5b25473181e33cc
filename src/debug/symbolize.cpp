// debug/symbolize.cpp: see symbolize.hpp.
#include "debug/symbolize.hpp"

#include <goro/lock_guard.hpp>
#include <goro/thread_annotations.hpp>
#include "arch/mutex.hpp"

#include <cxxabi.h>
#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>

namespace goro::detail {
namespace {

// ---- the executable's path -------------------------------------------------

// dladdr names the executable by argv[0], which may be relative or a
// symlink; reports print the real path instead. Written once under
// g_table_mu, read without it once g_exe_path_ready is set.
char g_exe_path[4096];
std::atomic<bool> g_exe_path_ready{false};

// ---- ELF .symtab cache -----------------------------------------------------

// One function symbol, in a table sorted by start address.
struct FunctionEntry {
  std::uintptr_t start;  // file address (st_value)
  std::uintptr_t end;    // start + size (start + 1 for a symbol without size)
  const char* name;      // into the mapped file
};

struct SymbolTable {
  const link_map* module = nullptr;        // cache key
  const FunctionEntry* entries = nullptr;  // nullptr: no usable .symtab
  std::size_t count = 0;
};

// Entries [0, g_table_count) are immutable once published and read without
// a lock; at most one writer at a time (g_table_mu, which publish_symtab
// requires). A process maps few modules, and a module without a symbol
// table costs one entry that says so.
constexpr int kMaxTables = 64;
SymbolTable g_tables[kMaxTables];
std::atomic<int> g_table_count{0};
Mutex g_table_mu;

bool in_file(std::size_t off, std::size_t len, std::size_t file_size) {
  return off <= file_size && len <= file_size - off;
}

struct RawSymtab {
  const ElfW(Sym) * syms = nullptr;
  std::size_t count = 0;
  const char* strings = nullptr;
  std::size_t strings_size = 0;
};

// Finds .symtab in a mapped file image; false if the file is not a 64-bit
// ELF with a well-formed one (a stripped library has none: dladdr covers it).
bool find_symtab(const unsigned char* image, std::size_t size, RawSymtab* out) {
  if (size < sizeof(ElfW(Ehdr)) || std::memcmp(image, ELFMAG, SELFMAG) != 0 || image[EI_CLASS] != ELFCLASS64)
    return false;
  const auto* eh = reinterpret_cast<const ElfW(Ehdr)*>(image);
  if (eh->e_shentsize != sizeof(ElfW(Shdr)) ||
      !in_file(eh->e_shoff, std::size_t{eh->e_shnum} * sizeof(ElfW(Shdr)), size))
    return false;
  const auto* sh = reinterpret_cast<const ElfW(Shdr)*>(image + eh->e_shoff);
  for (unsigned i = 0; i < eh->e_shnum; ++i) {
    if (sh[i].sh_type != SHT_SYMTAB || sh[i].sh_link >= eh->e_shnum) continue;
    const ElfW(Shdr)& str = sh[sh[i].sh_link];
    if (!in_file(sh[i].sh_offset, sh[i].sh_size, size) || !in_file(str.sh_offset, str.sh_size, size))
      return false;
    out->syms = reinterpret_cast<const ElfW(Sym)*>(image + sh[i].sh_offset);
    out->count = sh[i].sh_size / sizeof(ElfW(Sym));
    out->strings = reinterpret_cast<const char*>(image + str.sh_offset);
    out->strings_size = str.sh_size;
    return true;
  }
  return false;
}

bool is_defined_function(const ElfW(Sym) & s, const RawSymtab& raw) {
  unsigned type = ELF64_ST_TYPE(s.st_info);
  return (type == STT_FUNC || type == STT_GNU_IFUNC) && s.st_shndx != SHN_UNDEF && s.st_value != 0 &&
         s.st_name < raw.strings_size;
}

// Builds the sorted function table (in anonymous memory: mmap is a plain
// system call, unlike malloc, and the table lives as long as the process).
void index_functions(const RawSymtab& raw, SymbolTable* t) {
  std::size_t n = 0;
  for (std::size_t i = 0; i < raw.count; ++i) n += is_defined_function(raw.syms[i], raw) ? 1 : 0;
  if (n == 0) return;
  void* mem =
      ::mmap(nullptr, n * sizeof(FunctionEntry), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) return;
  auto* entries = static_cast<FunctionEntry*>(mem);
  std::size_t k = 0;
  for (std::size_t i = 0; i < raw.count; ++i) {
    const ElfW(Sym)& s = raw.syms[i];
    if (!is_defined_function(s, raw)) continue;
    entries[k++] =
        FunctionEntry{s.st_value, s.st_value + (s.st_size != 0 ? s.st_size : 1), raw.strings + s.st_name};
  }
  std::sort(entries, entries + n,
            [](const FunctionEntry& a, const FunctionEntry& b) { return a.start < b.start; });
  t->entries = entries;
  t->count = n;
}

// Maps the module's file and indexes its symbol table. The file mapping is
// kept when the table is usable (names point into it), dropped otherwise.
void load_symtab(const link_map* lm, SymbolTable* t) {
  t->module = lm;
  const char* path = (lm->l_name != nullptr && lm->l_name[0] != '\0') ? lm->l_name : "/proc/self/exe";
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  struct stat st {};
  void* image = MAP_FAILED;
  if (::fstat(fd, &st) == 0 && st.st_size > 0)
    image = ::mmap(nullptr, static_cast<std::size_t>(st.st_size), PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (image == MAP_FAILED) return;
  RawSymtab raw;
  if (find_symtab(static_cast<const unsigned char*>(image), static_cast<std::size_t>(st.st_size), &raw))
    index_functions(raw, t);
  if (t->entries == nullptr) ::munmap(image, static_cast<std::size_t>(st.st_size));
}

const SymbolTable* find_published(const link_map* lm) {
  int n = g_table_count.load(std::memory_order_acquire);
  for (int i = 0; i < n; ++i)
    if (g_tables[i].module == lm) return &g_tables[i];
  return nullptr;
}

// The table of lm, loaded and published if no other writer did it first;
// nullptr when the tables are full.
const SymbolTable* publish_symtab(const link_map* lm) GORO_REQUIRES(g_table_mu) {
  if (const SymbolTable* t = find_published(lm)) return t;
  int n = g_table_count.load(std::memory_order_relaxed);
  if (n == kMaxTables) return nullptr;
  load_symtab(lm, &g_tables[n]);
  g_table_count.store(n + 1, std::memory_order_release);
  return &g_tables[n];
}

const SymbolTable* symtab_of(const link_map* lm, bool in_signal) {
  if (const SymbolTable* t = find_published(lm)) return t;
  if (in_signal) {
    // Never wait in a signal handler: the holder may be this very thread.
    if (!g_table_mu.try_lock()) return nullptr;
  } else {
    g_table_mu.lock();
  }
  const SymbolTable* t = publish_symtab(lm);
  g_table_mu.unlock();
  return t;
}

// The function of `t` containing file address `addr`, or nullptr.
const FunctionEntry* containing_function(const SymbolTable& t, std::uintptr_t addr) {
  const FunctionEntry* end = t.entries + t.count;
  const FunctionEntry* after = std::upper_bound(
      t.entries, end, addr, [](std::uintptr_t a, const FunctionEntry& e) { return a < e.start; });
  if (after == t.entries) return nullptr;
  const FunctionEntry* e = after - 1;
  return addr < e->end ? e : nullptr;
}

// The loaded module containing pc. _dl_find_object (glibc 2.35) is
// lock-free and does not scan symbol tables; dladdr1 does both.
const link_map* module_of(std::uintptr_t pc) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 35))
  dl_find_object found{};
  if (::_dl_find_object(reinterpret_cast<void*>(pc), &found) == 0) return found.dlfo_link_map;
  return nullptr;
#else
  Dl_info info{};
  link_map* lm = nullptr;
  if (::dladdr1(reinterpret_cast<void*>(pc), &info, reinterpret_cast<void**>(&lm), RTLD_DL_LINKMAP) == 0)
    return nullptr;
  return lm;
#endif
}

const char* module_display_name(const link_map* lm) {
  bool is_executable = lm->l_name == nullptr || lm->l_name[0] == '\0';
  if (!is_executable) return lm->l_name;
  return g_exe_path_ready.load(std::memory_order_acquire) ? g_exe_path : "/proc/self/exe";
}

}  // namespace

void remember_executable_path() noexcept {
  if (g_exe_path_ready.load(std::memory_order_acquire)) return;
  lock_guard lock(g_table_mu);
  if (g_exe_path_ready.load(std::memory_order_relaxed)) return;
  ssize_t n = ::readlink("/proc/self/exe", g_exe_path, sizeof g_exe_path - 1);
  if (n <= 0) return;
  g_exe_path[n] = '\0';
  g_exe_path_ready.store(true, std::memory_order_release);
}

void preload_symbol_table(std::uintptr_t pc) noexcept {
  if (const link_map* lm = module_of(pc)) symtab_of(lm, false);
}

bool symbolize(std::uintptr_t pc, Symbol* out, bool in_signal) noexcept {
  *out = Symbol{};
  const link_map* lm = module_of(pc);
  if (lm == nullptr) return false;
  out->module = module_display_name(lm);
  out->bias = lm->l_addr;
  // The module's own table first: it has every function, static ones too,
  // and a binary search beats dladdr's scan of the dynamic symbols.
  if (const SymbolTable* t = symtab_of(lm, in_signal); t != nullptr && t->entries != nullptr) {
    if (const FunctionEntry* e = containing_function(*t, pc - lm->l_addr)) {
      out->name = e->name;
      out->start = e->start + lm->l_addr;
      return true;
    }
  }
  Dl_info info{};
  if (::dladdr(reinterpret_cast<void*>(pc), &info) != 0 && info.dli_sname != nullptr &&
      info.dli_saddr != nullptr) {
    out->name = info.dli_sname;
    out->start = reinterpret_cast<std::uintptr_t>(info.dli_saddr);
  }
  return true;
}

std::string_view readable_name(const char* raw, char* buf, std::size_t cap, bool may_allocate) noexcept {
  // Longer names are machine-generated templates; demangling them needs
  // stack in proportion to their length, and the raw form is just as useful.
  constexpr std::size_t kMaxDemangle = 8192;
  std::size_t raw_len = std::strlen(raw);
  const char* text = raw;
  std::size_t len = raw_len;
  char* demangled = nullptr;
  if (may_allocate && raw[0] == '_' && raw[1] == 'Z' && raw_len <= kMaxDemangle) {
    int status = 0;
    demangled = abi::__cxa_demangle(raw, nullptr, nullptr, &status);
    if (status == 0 && demangled != nullptr) {
      text = demangled;
      len = std::strlen(demangled);
    }
  }
  std::size_t n = len < cap ? len : cap;
  std::memcpy(buf, text, n);
  if (len > cap && cap >= 3) std::memcpy(buf + cap - 3, "...", 3);
  std::free(demangled);
  return {buf, n};
}

}  // namespace goro::detail
