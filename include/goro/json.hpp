// goro/json.hpp: a strict RFC 8259 JSON parser and serializer whose depth
// depends on the input but whose stack use does not crash the program.
//
// JSON taken from the network is the reference's first example of recursion
// whose depth an attacker chooses. goro::json follows its three patterns:
//
//   1. Depth is bounded: options::max_depth (10,000 by default, like Go's
//      encoding/json). A deeper document is a parse error naming the limit
//      (goro::depth_exceeded's message), never a stack overflow. It is
//      returned, not thrown: unwinding 10,000 levels would make a too-deep
//      request about 45 times dearer to reject.
//   2. The recursive-descent mode calls goro::grow_if_needed at each nesting
//      level, so when a program raises max_depth (to ten million, say) the
//      recursion continues on fresh stack segments instead of overflowing a
//      small goroutine stack.
//   3. The iterative mode keeps its nesting on an explicit heap stack and
//      does not recurse at all.
// Both modes accept the same documents and produce the same values and the
// same errors (tests and the fuzzer check that).
//
// Strictness: exactly RFC 8259's grammar. Rejected: leading zeros, '+',
// NaN/Infinity, trailing commas, comments, single quotes, unescaped control
// characters, invalid escapes, lone UTF-16 surrogates in \u escapes, invalid
// UTF-8 (overlong forms, encoded surrogates, code points above U+10FFFF,
// truncated sequences), a byte-order mark, anything after the value other than
// whitespace (space, tab, LF, CR), and numbers whose magnitude overflows a
// double. Duplicate object keys are kept, in document order.
//
// Values (and everything in this header) have no global state: different
// threads or goroutines may parse, copy, compare and serialize different
// values at the same time; one value may be read concurrently but not written
// while read (the rule of the standard containers). Copying, comparing,
// destroying and serializing do not recurse with the depth of the value
// (destroying recurses at most 32 levels), so a value of any depth is safe to
// handle on a small stack.
#pragma once

#include <goro/config.hpp>

#include <cstddef>
#include <cstdint>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace goro::json {

class value;

// The six JSON types. Declared before the array and object aliases: an
// enumerator declared after them would shadow them (-Wshadow in users' builds).
enum class kind : std::uint8_t { null, boolean, number, string, array, object };

// A JSON array: elements in document order.
using array = std::vector<value>;
// A JSON object: members in document order, duplicate keys kept.
using object = std::vector<std::pair<std::string, value>>;

// Integral types but bool: what value's integer constructor takes.
template <typename T>
concept integer = std::is_integral_v<T> && !std::is_same_v<T, bool>;

// A JSON value: null, a boolean, a number, a UTF-8 string, an array or an
// object. A number keeps a double and, when the number is an integer within
// the range of std::int64_t (whatever its spelling: 12, 12.0, 1.2e1), that
// integer exactly, so integers above 2^53 survive a round trip.
//
// Thread-safety: as for the standard containers. Cost: 40 bytes; copying,
// comparing and destroying are linear in the size of the value. Copying and
// comparing use a heap work list instead of recursion; destroying recurses at
// most 32 levels and keeps deeper containers on a heap work list (which, if
// its allocation fails, terminates: a destructor cannot report it).
class value {
 public:
  // null. (The number member is zeroed for null and booleans too: it costs
  // two stores and keeps GCC's -Wmaybe-uninitialized quiet about moves.)
  value() noexcept : number_{0, 0}, kind_(kind::null) {}
  value(std::nullptr_t) noexcept : value() {}
  value(bool b) noexcept : number_{0, 0}, kind_(kind::boolean) { bool_ = b; }
  // A number. Throws std::invalid_argument when `d` is NaN or infinite (JSON
  // has no such numbers). An integral `d` within int64 range also gets its
  // exact integer.
  value(double d);
  // An integer; any integral type but bool. Values above INT64_MAX keep only
  // their (rounded) double.
  template <integer T>
  value(T i) noexcept : kind_(kind::number) {
    number_ = {static_cast<double>(i), static_cast<std::int64_t>(i)};
    has_int_ = true;
    if constexpr (std::is_unsigned_v<T> && sizeof(T) >= sizeof(std::int64_t)) {
      has_int_ = i <= static_cast<T>(INT64_MAX);
      if (!has_int_) number_.i = 0;
    }
  }
  // A string. The text should be UTF-8; to_string() writes invalid bytes as
  // U+FFFD.
  value(std::string s) noexcept : kind_(kind::string) { new (&string_) std::string(std::move(s)); }
  value(std::string_view s) : value(std::string(s)) {}
  value(const char* s) : value(std::string(s)) {}
  value(array a) noexcept : kind_(kind::array) { new (&array_) json::array(std::move(a)); }
  value(object o) noexcept : kind_(kind::object) { new (&object_) json::object(std::move(o)); }

  // Copies are deep; a moved-from value is null.
  value(const value& other);
  value(value&& other) noexcept { take(std::move(other)); }
  value& operator=(const value& other);
  value& operator=(value&& other) noexcept {
    if (this == &other) return *this;
    if (kind_ == kind::array || kind_ == kind::object) {
      assign_from_inside(std::move(other));  // `other` may be a part of *this
    } else {
      destroy();
      take(std::move(other));
    }
    return *this;
  }
  ~value() { destroy(); }

  // What the value holds.
  kind type() const noexcept { return kind_; }
  bool is_null() const noexcept { return kind_ == kind::null; }
  bool is_bool() const noexcept { return kind_ == kind::boolean; }
  bool is_number() const noexcept { return kind_ == kind::number; }
  bool is_string() const noexcept { return kind_ == kind::string; }
  bool is_array() const noexcept { return kind_ == kind::array; }
  bool is_object() const noexcept { return kind_ == kind::object; }

  // Accessors. Each throws std::logic_error when the value is of another
  // kind. Cost: a call and a compare.
  bool as_bool() const;
  double as_double() const;
  // The exact integer, if the number is an integer within int64 range.
  std::optional<std::int64_t> as_int64() const;
  const std::string& as_string() const;
  std::string& as_string();
  const json::array& as_array() const;
  json::array& as_array();
  const json::object& as_object() const;
  json::object& as_object();

  // The last member named `key` (Go's encoding/json also keeps the last
  // duplicate), or nullptr if there is none or this is not an object.
  // Cost: linear in the number of members.
  const value* find(std::string_view key) const noexcept;
  value* find(std::string_view key) noexcept;

  // Deep equality. Numbers compare by their integers when both have one,
  // else by their doubles; members compare in order. Cost: linear, no
  // recursion.
  friend bool operator==(const value& a, const value& b);

  // Builds a number from parts the parser already validated: `d` finite and
  // `i` the exact integer if there is one. Used by the parser.
  static value number_from_parts(double d, std::optional<std::int64_t> i) noexcept {
    value v;
    v.kind_ = kind::number;
    v.number_ = {d, i.value_or(0)};
    v.has_int_ = i.has_value();
    return v;
  }

 private:
  struct number_parts {
    double d;
    std::int64_t i;
  };

  // Levels of recursion destroy() allows itself before it switches to a
  // heap work list (a few KiB of stack at most).
  static constexpr int kRecursionBudget = 32;

  // Moves other's content in; *this holds nothing (no live member) on entry.
  void take(value&& other) noexcept {
    kind_ = other.kind_;
    has_int_ = other.has_int_;
    switch (kind_) {
      case kind::null:
        break;
      case kind::boolean:
        bool_ = other.bool_;
        break;
      case kind::number:
        number_ = other.number_;
        break;
      case kind::string:
        new (&string_) std::string(std::move(other.string_));
        break;
      case kind::array:
        new (&array_) json::array(std::move(other.array_));
        break;
      case kind::object:
        new (&object_) json::object(std::move(other.object_));
        break;
    }
  }
  // Frees the content and leaves *this null.
  void destroy() noexcept {
    if (kind_ == kind::string) {
      string_.~basic_string();
      kind_ = kind::null;
    } else if (kind_ == kind::array || kind_ == kind::object) {
      destroy_container(kRecursionBudget, nullptr);
    }
  }
  void assign_from_inside(value&& other) noexcept;
  void destroy_container(int budget, std::vector<value>* pending) noexcept;
  bool is_nonempty_container() const noexcept {
    return (kind_ == kind::array && !array_.empty()) || (kind_ == kind::object && !object_.empty());
  }
  void copy_tree(const value& other);
  void expect(kind k) const;

  union {
    bool bool_;
    number_parts number_;
    std::string string_;
    json::array array_;
    json::object object_;
  };
  kind kind_;
  bool has_int_ = false;
};

// How parse() walks nesting.
enum class parse_mode : std::uint8_t {
  // Recursive descent; each nesting level goes through goro::grow_if_needed
  // (64 KiB red zone, 1 MiB segments).
  recursive,
  // An explicit heap stack; no recursion at all.
  iterative,
};

// How parse() works (see parse_mode and the limits below).
struct options {
  // Containers nested deeper than this are an error (errc::depth_exceeded).
  // 0 admits only scalar documents.
  std::size_t max_depth = 10'000;
  // The parser: recursive (the default) or iterative.
  parse_mode mode = parse_mode::recursive;
};

// What went wrong.
enum class errc : std::uint8_t {
  unexpected_end,        // the input ended inside a value
  unexpected_character,  // a byte that the grammar does not allow here
  invalid_literal,       // not exactly true, false or null
  invalid_number,        // a number that breaks the grammar
  number_out_of_range,   // magnitude too large for a double
  control_character,     // an unescaped byte below 0x20 in a string
  invalid_escape,        // a backslash escape that is not one of RFC 8259's
  invalid_surrogate,     // a \u escape that leaves a lone UTF-16 surrogate
  invalid_utf8,          // raw bytes that are not well-formed UTF-8
  trailing_characters,   // something other than whitespace after the value
  depth_exceeded,        // nesting deeper than options::max_depth
};

// A parse failure: what and where. `offset` is the byte offset of the
// offending byte (the end of the input when it ended too soon); `line` and
// `column` are 1-based, lines end at '\n', columns count bytes.
struct parse_error {
  // What went wrong, and where: the byte offset into the input, and the line
  // and column there (both from 1).
  errc code = errc::unexpected_end;
  std::size_t offset = 0;
  std::size_t line = 1;
  std::size_t column = 1;
  std::string message;  // what, without where

  // "json: line 3, column 7 (byte 42): <message>".
  std::string what() const;
  // Whether both report the same error at the same place.
  friend bool operator==(const parse_error&, const parse_error&) = default;
};

// Thrown by result::value() when the result holds an error.
class parse_exception : public std::runtime_error {
 public:
  // Carries a parse_error, which error() returns; what() is its message.
  explicit parse_exception(parse_error e) : std::runtime_error(e.what()), error_(std::move(e)) {}
  const parse_error& error() const noexcept { return error_; }

 private:
  parse_error error_;
};

// A value or a parse_error (C++23's std::expected, in small).
template <typename T>
class result {
 public:
  // A result holding a value, or holding the error.
  result(T v) : v_(std::in_place_index<0>, std::move(v)) {}
  result(parse_error e) : v_(std::in_place_index<1>, std::move(e)) {}

  // Whether it holds a value (not an error).
  bool has_value() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return has_value(); }

  // The value; throws parse_exception when this holds an error.
  T& value() & { return check(), std::get<0>(v_); }
  const T& value() const& { return check(), std::get<0>(v_); }
  T&& value() && { return check(), std::get<0>(std::move(v_)); }
  // Unchecked access. Precondition: has_value().
  T& operator*() & noexcept { return *std::get_if<0>(&v_); }
  const T& operator*() const& noexcept { return *std::get_if<0>(&v_); }
  T* operator->() noexcept { return std::get_if<0>(&v_); }
  const T* operator->() const noexcept { return std::get_if<0>(&v_); }
  // The error. Precondition: !has_value().
  const parse_error& error() const noexcept { return *std::get_if<1>(&v_); }

 private:
  void check() const {
    if (!has_value()) throw parse_exception(error());
  }
  std::variant<T, parse_error> v_;
};

// Parses one JSON document (RFC 8259; see the top of this file for exactly
// what is rejected). Never crashes on any input: malformed input, and input
// nested deeper than opts.max_depth, return an error saying what and where.
// Safe to call on a goroutine with the default stack ceiling (max_stack(),
// 208 KiB unless changed) at any
// max_depth: the recursive mode continues on stack segments, the iterative
// mode does not recurse.
// Throws only std::bad_alloc, or std::system_error when no stack segment can
// be reserved. Thread-safe (no shared state). Cost: linear in the input;
// allocates the value's strings and containers.
result<value> parse(std::string_view text, const options& opts = {});

// Serializes `v` as compact JSON (no whitespace). Integers are written
// exactly, other numbers in the shortest form that reads back to the same
// double; strings escape '"', '\\' and control characters, keep other UTF-8
// as is and write invalid UTF-8 bytes as U+FFFD, so the output always
// parses. Does not recurse. Thread-safe. Cost: linear in the output.
std::string to_string(const value& v);
// As to_string(v), appending to `out`.
void write(const value& v, std::string& out);

// Serializes `v` as indented JSON (Go's MarshalIndent): each array element
// and object member starts a new line that begins with `prefix` followed by
// one copy of `indent` per level of nesting; a key's colon is followed by a
// space; empty arrays and objects stay "[]" and "{}". As in Go, the first
// line has no prefix and there is no final newline, so the text can be
// embedded in other indented output. Scalars and escaping as to_string(v);
// with a whitespace prefix and indent the output parses back to an equal
// value. Does not recurse.
// Thread-safe. Cost: linear in the output, which grows with nesting depth
// times the indent's length.
//
//   to_string(parse(R"({"a":[1,2]})").value(), "", "  ")  ==  "{\n  \"a\": [\n    1,\n    2\n  ]\n}"
std::string to_string(const value& v, std::string_view prefix, std::string_view indent);
// As to_string(v, prefix, indent), appending to `out`.
void write(const value& v, std::string& out, std::string_view prefix, std::string_view indent);

}  // namespace goro::json
