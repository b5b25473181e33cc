// http/debug_pprof.cpp: the goroutine profile in pprof's format (Go's
// /debug/pprof/goroutine): a profile.proto message, gzip-compressed.
//
// The message is written by hand with a small protobuf writer (varints and
// length-delimited fields; packed repeated integers), fields numbered as in
// pprof's profile.proto:
//   Profile: 1 sample_type, 2 sample, 3 mapping, 4 location, 5 function,
//            6 string_table, 9 time_nanos, 11 period_type, 12 period
//   ValueType: 1 type, 2 unit (string table indexes)
//   Sample: 1 location_id (packed, leaf first), 2 value (packed)
//   Mapping: 1 id, 2 memory_start, 3 memory_limit, 4 file_offset,
//            5 filename, 6 build_id, 7 has_functions
//   Location: 1 id, 2 mapping_id, 3 address, 4 line
//   Line: 1 function_id
//   Function: 1 id, 2 name, 3 system_name, 4 filename
// Invariants: string 0 is ""; ids start at 1 (0 means "none"); a location
// is the address of the call (symbol_pc), one per distinct address, with
// one line naming its function; one function per distinct raw symbol name
// and module. Mappings are the executable segments of every loaded module
// (dl_iterate_phdr), the main executable's first, as pprof expects.
#include "http/debug_gzip.hpp"
#include "http/debug_stacks.hpp"

#include <goro/http/debug.hpp>

#include <elf.h>
#include <link.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <map>
#include <span>
#include <unordered_map>

namespace goro::http::debug {

namespace {

class proto_writer {
 public:
  void varint(std::uint64_t v) {
    while (v >= 0x80) {
      out_.push_back(static_cast<char>((v & 0x7f) | 0x80));
      v >>= 7;
    }
    out_.push_back(static_cast<char>(v));
  }
  // An integer field; zero (the default) is left out.
  void uint_field(int field, std::uint64_t v) {
    if (v == 0) return;
    tag(field, 0);
    varint(v);
  }
  void bool_field(int field, bool v) { uint_field(field, v ? 1 : 0); }
  void bytes_field(int field, std::string_view bytes) {
    tag(field, 2);
    varint(bytes.size());
    out_.append(bytes);
  }
  void message_field(int field, const proto_writer& m) { bytes_field(field, m.out_); }
  void packed_field(int field, std::span<const std::uint64_t> values) {
    proto_writer body;
    for (std::uint64_t v : values) body.varint(v);
    bytes_field(field, body.out_);
  }
  const std::string& bytes() const { return out_; }

 private:
  void tag(int field, int wire_type) {
    varint(static_cast<std::uint64_t>(field) << 3 | static_cast<std::uint64_t>(wire_type));
  }
  std::string out_;
};

// The string table: each distinct string once, "" at index 0.
class string_table {
 public:
  string_table() { index(""); }
  std::uint64_t index(const std::string& s) {
    auto [it, fresh] = ids_.try_emplace(s, strings_.size());
    if (fresh) strings_.push_back(s);
    return it->second;
  }
  void write(proto_writer& p) const {
    for (const std::string& s : strings_) p.bytes_field(6, s);
  }

 private:
  std::unordered_map<std::string, std::uint64_t> ids_;
  std::vector<std::string> strings_;
};

struct mapping {
  std::uintptr_t start = 0;
  std::uintptr_t limit = 0;
  std::uint64_t file_offset = 0;
  std::string file;
  std::string build_id;  // hex
};

std::string executable_path() {
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
}

// The GNU build id of a loaded module, from its PT_NOTE segments, as hex.
std::string build_id_of(const dl_phdr_info* info) {
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_NOTE) continue;
    const auto* p = reinterpret_cast<const unsigned char*>(info->dlpi_addr + ph.p_vaddr);
    const unsigned char* end = p + ph.p_memsz;
    while (p + sizeof(ElfW(Nhdr)) <= end) {
      ElfW(Nhdr) note;
      std::memcpy(&note, p, sizeof note);
      const unsigned char* name = p + sizeof note;
      const unsigned char* desc = name + ((note.n_namesz + 3) & ~3u);
      const unsigned char* next = desc + ((note.n_descsz + 3) & ~3u);
      if (next > end) break;
      if (note.n_type == NT_GNU_BUILD_ID && note.n_namesz == 4 && std::memcmp(name, "GNU", 4) == 0) {
        static constexpr char kHex[] = "0123456789abcdef";
        std::string hex;
        for (std::uint32_t k = 0; k < note.n_descsz; ++k) {
          hex.push_back(kHex[desc[k] >> 4]);
          hex.push_back(kHex[desc[k] & 15]);
        }
        return hex;
      }
      p = next;
    }
  }
  return {};
}

int add_module_mappings(dl_phdr_info* info, std::size_t, void* ctx) {
  auto* out = static_cast<std::vector<mapping>*>(ctx);
  // The main executable comes first, with an empty name.
  std::string file = info->dlpi_name != nullptr && info->dlpi_name[0] != '\0' ? info->dlpi_name
                     : out->empty()                                           ? executable_path()
                                                                              : std::string();
  if (file.empty()) return 0;
  std::string build_id = build_id_of(info);
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_LOAD || (ph.p_flags & PF_X) == 0) continue;
    mapping m;
    m.start = info->dlpi_addr + ph.p_vaddr;
    m.limit = m.start + ph.p_memsz;
    m.file_offset = ph.p_offset;
    m.file = file;
    m.build_id = build_id;
    out->push_back(std::move(m));
  }
  return 0;
}

std::vector<mapping> executable_mappings() {
  std::vector<mapping> out;
  dl_iterate_phdr(&add_module_mappings, &out);
  return out;
}

// Builds the Profile message of `groups`.
class profile_builder {
 public:
  explicit profile_builder(const std::vector<debug_detail::stack_group>& groups)
      : groups_(groups), frames_(debug_detail::resolve_frames(groups)), mappings_(executable_mappings()) {}

  std::string build() {
    proto_writer p;
    proto_writer type;
    type.uint_field(1, strings_.index("goroutine"));
    type.uint_field(2, strings_.index("count"));
    p.message_field(1, type);  // sample_type
    for (const debug_detail::stack_group& g : groups_) p.message_field(2, sample_of(g));
    for (std::size_t i = 0; i < mappings_.size(); ++i) p.message_field(3, mapping_message(i));
    for (const proto_writer& l : locations_) p.message_field(4, l);
    for (const proto_writer& f : functions_) p.message_field(5, f);
    auto now = std::chrono::system_clock::now().time_since_epoch();
    std::uint64_t time_nanos =
        static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(now).count());
    p.uint_field(9, time_nanos);
    p.message_field(11, type);  // period_type
    p.uint_field(12, 1);        // period
    strings_.write(p);          // last: every other field has interned its strings
    return p.bytes();
  }

 private:
  proto_writer sample_of(const debug_detail::stack_group& g) {
    std::vector<std::uint64_t> ids;
    ids.reserve(g.frames.size());
    for (const detail::Frame& f : g.frames) ids.push_back(location_id(detail::symbol_pc(f)));
    proto_writer s;
    if (!ids.empty()) s.packed_field(1, ids);
    const std::uint64_t value[] = {g.count};
    s.packed_field(2, value);
    return s;
  }

  std::uint64_t location_id(std::uintptr_t pc) {
    auto [it, fresh] = location_ids_.try_emplace(pc, locations_.size() + 1);
    if (!fresh) return it->second;
    const debug_detail::resolved_frame& r = frames_.at(pc);
    proto_writer line;
    line.uint_field(1, function_id(r));
    if (r.line > 0) line.uint_field(2, static_cast<std::uint64_t>(r.line));
    proto_writer l;
    l.uint_field(1, it->second);
    l.uint_field(2, mapping_id(pc));
    l.uint_field(3, pc);
    l.message_field(4, line);
    locations_.push_back(std::move(l));
    return it->second;
  }

  std::uint64_t function_id(const debug_detail::resolved_frame& r) {
    auto [it, fresh] = function_ids_.try_emplace(r.system_name + '\0' + r.module, functions_.size() + 1);
    if (!fresh) return it->second;
    proto_writer f;
    f.uint_field(1, it->second);
    f.uint_field(2, strings_.index(r.function));
    f.uint_field(3, strings_.index(r.system_name));
    f.uint_field(4, strings_.index(r.file.empty() ? r.module : r.file));
    functions_.push_back(std::move(f));
    return it->second;
  }

  std::uint64_t mapping_id(std::uintptr_t pc) const {
    for (std::size_t i = 0; i < mappings_.size(); ++i) {
      if (pc >= mappings_[i].start && pc < mappings_[i].limit) return i + 1;
    }
    return 0;
  }

  proto_writer mapping_message(std::size_t i) {
    const mapping& m = mappings_[i];
    proto_writer w;
    w.uint_field(1, i + 1);
    w.uint_field(2, m.start);
    w.uint_field(3, m.limit);
    w.uint_field(4, m.file_offset);
    w.uint_field(5, strings_.index(m.file));
    w.uint_field(6, strings_.index(m.build_id));
    w.bool_field(7, true);  // has_functions: pprof need not symbolize
    return w;
  }

  const std::vector<debug_detail::stack_group>& groups_;
  std::map<std::uintptr_t, debug_detail::resolved_frame> frames_;
  std::vector<mapping> mappings_;
  string_table strings_;
  std::map<std::uintptr_t, std::uint64_t> location_ids_;
  std::vector<proto_writer> locations_;
  std::unordered_map<std::string, std::uint64_t> function_ids_;
  std::vector<proto_writer> functions_;
};

}  // namespace

std::string goroutine_profile() {
  std::vector<debug_detail::stack_group> groups = debug_detail::group_goroutine_stacks();
  return debug_detail::gzip_stored(profile_builder(groups).build());
}

}  // namespace goro::http::debug
