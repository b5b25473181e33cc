// json/scanner.hpp: the grammar pieces both parse modes share.
//
// The recursive and the iterative driver differ only in how they remember
// open containers. Everything else (whitespace, literals, numbers, strings,
// the punctuation between elements and members, and every error message) is
// here, and both drivers call these pieces in the same order, so for any
// input they accept the same documents and fail at the same byte with the
// same message.
//
// Invariants: begin_ <= cur_ <= end_; after a piece returns false (or
// Step::error) the failure is recorded and the scanner is not used again.
#pragma once

#include <goro/json.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace goro::json_detail {

// The first failure of a parse, before line and column are worked out.
struct Failure {
  json::errc code = json::errc::unexpected_end;
  std::size_t offset = 0;
  std::string message;
};

// What follows a complete element or member value.
enum class Step { next, close, error };

class Scanner {
 public:
  explicit Scanner(std::string_view text) noexcept
      : begin_(reinterpret_cast<const unsigned char*>(text.data())),
        cur_(begin_),
        end_(begin_ + text.size()) {}

  bool at_end() const noexcept { return cur_ == end_; }
  unsigned char peek() const noexcept { return *cur_; }  // precondition: !at_end()
  void advance() noexcept { ++cur_; }
  std::size_t offset() const noexcept { return static_cast<std::size_t>(cur_ - begin_); }
  const Failure& failure() const noexcept { return failure_; }

  // Skips RFC 8259 whitespace: space, tab, LF, CR.
  void skip_whitespace() noexcept {
    while (cur_ != end_ && is_whitespace(*cur_)) ++cur_;
  }

  // After skipping whitespace: true if a value starts here. Otherwise records
  // "expected a value" and returns false.
  bool value_ahead();
  // At a byte that starts a value and is not '[' or '{': parses a literal,
  // number or string into out, or records what is wrong with it.
  bool scalar(json::value& out);
  // Just after '[' or '{': skips whitespace and consumes `close` if the
  // container is empty.
  bool empty_container(unsigned char close) noexcept;
  // Parses `"key" :` (whitespace allowed around both) into key.
  bool member_key(std::string& key);
  // After an element or member: skips whitespace and consumes ',' (next) or
  // `close` (close); anything else is an error.
  Step after_element(unsigned char close);
  // Records that the container opening at the current byte is nested deeper
  // than `limit`.
  bool fail_depth(std::size_t limit);
  // Records that something other than whitespace follows the document.
  bool fail_trailing();

 private:
  static bool is_whitespace(unsigned char c) noexcept {
    return c == ' ' || c == '\n' || c == '\r' || c == '\t';
  }
  static bool is_digit(unsigned char c) noexcept { return c >= '0' && c <= '9'; }

  bool fail(json::errc code, const unsigned char* at, std::string message);
  bool fail_here(json::errc code, std::string_view expected);
  bool literal(std::string_view word);
  bool number(json::value& out);
  bool number_value(json::value& out, const unsigned char* start, bool negative,
                    const unsigned char* int_begin, const unsigned char* int_end,
                    const unsigned char* frac_begin, const unsigned char* frac_end, std::int64_t exponent);
  bool string(std::string& out);
  bool escape(std::string& out);
  bool unicode_escape(std::string& out, const unsigned char* backslash);
  bool hex4(std::uint32_t& cp);
  bool utf8_sequence(std::string& out);

  const unsigned char* begin_;
  const unsigned char* cur_;
  const unsigned char* end_;
  Failure failure_;
};

// Quotes a byte for an error message: 'x' when printable ASCII, else
// "byte 0xNN".
std::string describe_byte(unsigned char c);

}  // namespace goro::json_detail
