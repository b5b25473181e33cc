// json/write.cpp: the serializer. Compact or indented output (Go's Marshal
// and MarshalIndent), no recursion: an explicit stack of (container, next
// index) frames walks the value, so a value of any depth serializes on a
// small stack. Indented output differs only in the whitespace written
// before each element and closing bracket, and after each key's colon.
//
// The output always parses back to an equal value: integers are written
// exactly, other doubles in the shortest form that reads back to the same
// double (std::to_chars), and strings are escaped with invalid UTF-8 bytes
// replaced by U+FFFD (as Go's encoding/json does).
#include "json/utf8.hpp"

#include <goro/json.hpp>

#include <charconv>
#include <cmath>
#include <optional>
#include <vector>

namespace goro::json {

namespace {

// An integral double within int64 range is written as an integer, not in
// to_chars' shortest form (1e+11): it parses back as that integer, so
// serializing twice gives the same text.
void write_number(const value& v, std::string& out) {
  char buf[32];
  std::optional<std::int64_t> i = v.as_int64();
  const double d = v.as_double();
  if (d == 0 && std::signbit(d)) {
    out += "-0";  // keeps the sign: "-0" parses back to -0.0
    return;
  }
  if (!i && d == std::trunc(d) && d >= -9223372036854775808.0 && d < 9223372036854775808.0) {
    i = static_cast<std::int64_t>(d);
  }
  const auto r = i ? std::to_chars(buf, buf + sizeof buf, *i) : std::to_chars(buf, buf + sizeof buf, d);
  out.append(buf, r.ptr);
}

void write_control(unsigned char c, std::string& out) {
  switch (c) {
    case '\b':
      out += "\\b";
      return;
    case '\f':
      out += "\\f";
      return;
    case '\n':
      out += "\\n";
      return;
    case '\r':
      out += "\\r";
      return;
    case '\t':
      out += "\\t";
      return;
    default: {
      constexpr char kHex[] = "0123456789abcdef";
      const char esc[] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 15]};
      out.append(esc, sizeof esc);
    }
  }
}

void write_string(std::string_view s, std::string& out) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* end = p + s.size();
  out.push_back('"');
  while (p != end) {
    const unsigned char* run = p;
    while (p != end && *p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\') ++p;
    out.append(reinterpret_cast<const char*>(run), static_cast<std::size_t>(p - run));
    if (p == end) break;
    if (*p == '"' || *p == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(*p++));
    } else if (*p < 0x20) {
      write_control(*p++, out);
    } else if (const auto check = json_detail::check_utf8(p, end); check.length != 0) {
      out.append(reinterpret_cast<const char*>(p), check.length);
      p += check.length;
    } else {
      out += "\xEF\xBF\xBD";  // U+FFFD for the one bad byte; resynchronize after it
      ++p;
    }
  }
  out.push_back('"');
}

// Writes a scalar or an empty container; returns false for a non-empty
// container, which the caller opens.
bool write_leaf(const value& v, std::string& out) {
  switch (v.type()) {
    case kind::null:
      out += "null";
      return true;
    case kind::boolean:
      out += v.as_bool() ? "true" : "false";
      return true;
    case kind::number:
      write_number(v, out);
      return true;
    case kind::string:
      write_string(v.as_string(), out);
      return true;
    case kind::array:
      if (!v.as_array().empty()) return false;
      out += "[]";
      return true;
    case kind::object:
      if (!v.as_object().empty()) return false;
      out += "{}";
      return true;
  }
  return true;
}

struct Frame {
  const value* container;
  std::size_t next;
};

// Whitespace of indented output; null for compact output.
struct Layout {
  std::string_view prefix;
  std::string_view indent;
};

// A new line at nesting `depth`: prefix, then indent depth times.
void new_line(const Layout* layout, std::size_t depth, std::string& out) {
  if (layout == nullptr) return;
  out.push_back('\n');
  out += layout->prefix;
  for (std::size_t i = 0; i < depth; ++i) out += layout->indent;
}

void write_value(const value& root, std::string& out, const Layout* layout) {
  if (write_leaf(root, out)) return;
  std::vector<Frame> stack;
  stack.push_back({&root, 0});
  out.push_back(root.is_array() ? '[' : '{');
  while (!stack.empty()) {
    Frame& top = stack.back();
    const bool is_array = top.container->is_array();
    const std::size_t size = is_array ? top.container->as_array().size() : top.container->as_object().size();
    if (top.next == size) {
      stack.pop_back();
      new_line(layout, stack.size(), out);
      out.push_back(is_array ? ']' : '}');
      continue;
    }
    if (top.next != 0) out.push_back(',');
    new_line(layout, stack.size(), out);
    const value* child;
    if (is_array) {
      child = &top.container->as_array()[top.next];
    } else {
      const auto& member = top.container->as_object()[top.next];
      write_string(member.first, out);
      out.push_back(':');
      if (layout != nullptr) out.push_back(' ');
      child = &member.second;
    }
    ++top.next;
    if (!write_leaf(*child, out)) {
      out.push_back(child->is_array() ? '[' : '{');
      stack.push_back({child, 0});  // may move `top`; not used after this
    }
  }
}

}  // namespace

void write(const value& v, std::string& out) {
  write_value(v, out, nullptr);
}

void write(const value& v, std::string& out, std::string_view prefix, std::string_view indent) {
  const Layout layout{prefix, indent};
  write_value(v, out, &layout);
}

std::string to_string(const value& v) {
  std::string out;
  write(v, out);
  return out;
}

std::string to_string(const value& v, std::string_view prefix, std::string_view indent) {
  std::string out;
  write(v, out, prefix, indent);
  return out;
}

}  // namespace goro::json
