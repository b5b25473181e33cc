// json/scanner.cpp: literals, numbers, strings and punctuation (RFC 8259
// sections 2, 3, 6 and 7), with an error message for every way they can be
// malformed.
//
// Numbers: the text is checked against the grammar first
//   -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?
// then converted. A number that is an integer within int64 range (whatever
// its spelling) is computed exactly with integer arithmetic and its double is
// the integer rounded once; any other number goes through std::from_chars,
// which rounds correctly. A magnitude too large for a double is an error
// (Go's encoding/json does the same); one too small becomes a signed zero.
//
// Strings: runs of plain ASCII are appended in one go; escapes, control
// characters and non-ASCII bytes are handled one at a time.
#include "json/scanner.hpp"

#include "json/utf8.hpp"

#include <goro/segment.hpp>

#include <charconv>
#include <cmath>
#include <limits>
#include <optional>
#include <system_error>

namespace goro::json_detail {

namespace {

// Bytes that can be copied straight into a string: printable ASCII but '"'
// and '\\'.
constexpr std::array<bool, 256> make_plain_table() {
  std::array<bool, 256> t{};
  for (int c = 0x20; c < 0x80; ++c) t[c] = c != '"' && c != '\\';
  return t;
}
constexpr std::array<bool, 256> kPlain = make_plain_table();

int hex_value(unsigned char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string hex_byte(unsigned char c) {
  constexpr char kDigits[] = "0123456789ABCDEF";
  return {kDigits[c >> 4], kDigits[c & 15]};
}

std::string hex4_text(std::uint32_t v) {
  return hex_byte(static_cast<unsigned char>(v >> 8)) + hex_byte(static_cast<unsigned char>(v & 0xFF));
}

constexpr std::int64_t kExponentCap = 1'000'000'000;  // beyond any double's range, far from overflow

}  // namespace

std::string describe_byte(unsigned char c) {
  if (c > 0x20 && c < 0x7F) return std::string("'") + static_cast<char>(c) + "'";
  return "byte 0x" + hex_byte(c);
}

bool Scanner::fail(json::errc code, const unsigned char* at, std::string message) {
  failure_.code = code;
  failure_.offset = static_cast<std::size_t>(at - begin_);
  failure_.message = std::move(message);
  return false;
}

// "expected X, found Y" at the current byte, or "unexpected end of input,
// expected X" at the end.
bool Scanner::fail_here(json::errc code, std::string_view expected) {
  if (at_end()) {
    return fail(json::errc::unexpected_end, cur_,
                "unexpected end of input, expected " + std::string(expected));
  }
  return fail(code, cur_, "expected " + std::string(expected) + ", found " + describe_byte(*cur_));
}

bool Scanner::fail_depth(std::size_t limit) {
  return fail(json::errc::depth_exceeded, cur_,
              std::string(goro::depth_exceeded(limit).what()) + " (json::options::max_depth)");
}

bool Scanner::fail_trailing() {
  return fail(json::errc::trailing_characters, cur_,
              "unexpected " + describe_byte(*cur_) + " after the JSON value");
}

bool Scanner::value_ahead() {
  skip_whitespace();
  if (!at_end()) return true;
  return fail_here(json::errc::unexpected_character, "a value");
}

bool Scanner::empty_container(unsigned char close) noexcept {
  skip_whitespace();
  if (cur_ != end_ && *cur_ == close) {
    ++cur_;
    return true;
  }
  return false;
}

bool Scanner::member_key(std::string& key) {
  skip_whitespace();
  if (at_end() || *cur_ != '"') {
    return fail_here(json::errc::unexpected_character, "a string (an object key)");
  }
  if (!string(key)) return false;
  skip_whitespace();
  if (at_end() || *cur_ != ':') return fail_here(json::errc::unexpected_character, "':' after an object key");
  ++cur_;
  return true;
}

Step Scanner::after_element(unsigned char close) {
  skip_whitespace();
  if (cur_ != end_) {
    if (*cur_ == ',') {
      ++cur_;
      return Step::next;
    }
    if (*cur_ == close) {
      ++cur_;
      return Step::close;
    }
  }
  fail_here(json::errc::unexpected_character,
            close == ']' ? "',' or ']' after an array element" : "',' or '}' after an object member");
  return Step::error;
}

bool Scanner::scalar(json::value& out) {
  switch (*cur_) {
    case '"':
      out = json::value(std::string());
      return string(out.as_string());
    case 't':
      out = json::value(true);
      return literal("true");
    case 'f':
      out = json::value(false);
      return literal("false");
    case 'n':
      out = json::value();
      return literal("null");
    case '-':
    case '0':
    case '1':
    case '2':
    case '3':
    case '4':
    case '5':
    case '6':
    case '7':
    case '8':
    case '9':
      return number(out);
    default:
      return fail_here(json::errc::unexpected_character, "a value");
  }
}

bool Scanner::literal(std::string_view word) {
  for (char expected : word) {
    if (at_end()) {
      return fail(json::errc::unexpected_end, cur_,
                  "unexpected end of input in the literal '" + std::string(word) + "'");
    }
    if (*cur_ != static_cast<unsigned char>(expected)) {
      return fail(json::errc::invalid_literal, cur_,
                  "invalid literal: expected '" + std::string(word) + "', found " + describe_byte(*cur_));
    }
    ++cur_;
  }
  return true;
}

// --- numbers ---------------------------------------------------------------

bool Scanner::number(json::value& out) {
  const unsigned char* start = cur_;
  const bool negative = *cur_ == '-';
  if (negative) ++cur_;
  if (at_end() || !is_digit(*cur_)) return fail_here(json::errc::invalid_number, "a digit after '-'");
  const unsigned char* int_begin = cur_;
  if (*cur_ == '0') {
    ++cur_;
    if (!at_end() && is_digit(*cur_)) {
      return fail(json::errc::invalid_number, cur_, "invalid number: leading zeros are not allowed");
    }
  } else {
    while (!at_end() && is_digit(*cur_)) ++cur_;
  }
  const unsigned char* int_end = cur_;
  const unsigned char* frac_begin = cur_;
  const unsigned char* frac_end = cur_;
  if (!at_end() && *cur_ == '.') {
    ++cur_;
    if (at_end() || !is_digit(*cur_)) {
      return fail_here(json::errc::invalid_number, "a digit after '.' in a number");
    }
    frac_begin = cur_;
    while (!at_end() && is_digit(*cur_)) ++cur_;
    frac_end = cur_;
  }
  std::int64_t exponent = 0;
  if (!at_end() && (*cur_ == 'e' || *cur_ == 'E')) {
    ++cur_;
    bool exp_negative = false;
    if (!at_end() && (*cur_ == '+' || *cur_ == '-')) exp_negative = *cur_++ == '-';
    if (at_end() || !is_digit(*cur_)) return fail_here(json::errc::invalid_number, "a digit in the exponent");
    while (!at_end() && is_digit(*cur_)) {
      exponent = std::min(exponent * 10 + (*cur_ - '0'), kExponentCap);
      ++cur_;
    }
    if (exp_negative) exponent = -exponent;
  }
  return number_value(out, start, negative, int_begin, int_end, frac_begin, frac_end, exponent);
}

namespace {

// The digits of a number's integer and fraction parts, read as one sequence.
struct Digits {
  const unsigned char* int_begin;
  std::size_t int_len;
  const unsigned char* frac_begin;
  std::size_t frac_len;

  std::size_t size() const noexcept { return int_len + frac_len; }
  unsigned at(std::size_t k) const noexcept {
    return static_cast<unsigned>((k < int_len ? int_begin[k] : frac_begin[k - int_len]) - '0');
  }
};

// The number's exact value as an int64, if it is an integer in range.
std::optional<std::int64_t> exact_integer(const Digits& d, std::int64_t exponent, bool negative) noexcept {
  std::size_t first = 0, last = d.size();  // significant digits are [first, last)
  while (first < last && d.at(first) == 0) ++first;
  if (first == last) return 0;
  while (d.at(last - 1) == 0) --last;
  // value = digits[first, last) * 10^scale
  const std::int64_t scale =
      exponent - static_cast<std::int64_t>(d.frac_len) + static_cast<std::int64_t>(d.size() - last);
  const std::int64_t count = static_cast<std::int64_t>(last - first);
  if (scale < 0 || count + scale > 19) return std::nullopt;  // a fraction, or >= 10^19
  std::uint64_t u = 0;
  for (std::size_t k = first; k < last; ++k) u = u * 10 + d.at(k);
  for (std::int64_t k = 0; k < scale; ++k) u *= 10;  // stays below 10^19 < 2^64
  constexpr std::uint64_t kMax = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  if (u > kMax + (negative ? 1 : 0)) return std::nullopt;
  if (negative) return static_cast<std::int64_t>(0 - u);  // wraps to INT64_MIN for 2^63
  return static_cast<std::int64_t>(u);
}

// True if a number whose conversion left the double range is huge (not
// tiny): its leading significant digit stands at or above the units.
bool is_overflow(const Digits& d, std::int64_t exponent) noexcept {
  std::size_t first = 0;
  while (first < d.size() && d.at(first) == 0) ++first;
  // The leading digit's power of ten is (int_len - 1 - first) + exponent.
  return static_cast<std::int64_t>(d.int_len) - 1 - static_cast<std::int64_t>(first) + exponent >= 0;
}

}  // namespace

bool Scanner::number_value(json::value& out, const unsigned char* start, bool negative,
                           const unsigned char* int_begin, const unsigned char* int_end,
                           const unsigned char* frac_begin, const unsigned char* frac_end,
                           std::int64_t exponent) {
  const Digits digits{int_begin, static_cast<std::size_t>(int_end - int_begin), frac_begin,
                      static_cast<std::size_t>(frac_end - frac_begin)};
  // Fast path: a plain integer of at most 18 digits.
  if (digits.frac_len == 0 && exponent == 0 && digits.int_len <= 18) {
    std::int64_t i = 0;
    for (const unsigned char* p = int_begin; p != int_end; ++p) i = i * 10 + (*p - '0');
    if (negative) i = -i;
    out = json::value::number_from_parts(i == 0 && negative ? -0.0 : static_cast<double>(i), i);
    return true;
  }
  if (auto i = exact_integer(digits, exponent, negative)) {
    out = json::value::number_from_parts(*i == 0 && negative ? -0.0 : static_cast<double>(*i), *i);
    return true;
  }
  double d = 0;
  const auto [end, ec] =
      std::from_chars(reinterpret_cast<const char*>(start), reinterpret_cast<const char*>(cur_), d);
  if (ec == std::errc::result_out_of_range) {
    if (is_overflow(digits, exponent)) {
      return fail(json::errc::number_out_of_range, start,
                  "number out of range: its magnitude exceeds a double's");
    }
    d = negative ? -0.0 : 0.0;  // underflow: rounds to zero
  } else if (ec != std::errc() || end != reinterpret_cast<const char*>(cur_) || !std::isfinite(d)) {
    return fail(json::errc::number_out_of_range, start,
                "number out of range: its magnitude exceeds a double's");
  }
  out = json::value::number_from_parts(d, std::nullopt);
  return true;
}

// --- strings ---------------------------------------------------------------

bool Scanner::string(std::string& out) {
  const std::size_t open = offset();
  ++cur_;  // the opening quote
  for (;;) {
    const unsigned char* run = cur_;
    while (cur_ != end_ && kPlain[*cur_]) ++cur_;
    out.append(reinterpret_cast<const char*>(run), static_cast<std::size_t>(cur_ - run));
    if (cur_ == end_) {
      return fail(json::errc::unexpected_end, cur_,
                  "unexpected end of input in a string (opened at byte " + std::to_string(open) + ")");
    }
    const unsigned char c = *cur_;
    if (c == '"') {
      ++cur_;
      return true;
    }
    if (c == '\\') {
      if (!escape(out)) return false;
    } else if (c < 0x20) {
      return fail(json::errc::control_character, cur_,
                  "unescaped control character U+00" + hex_byte(c) + " in a string (write it as an escape)");
    } else if (!utf8_sequence(out)) {
      return false;
    }
  }
}

bool Scanner::utf8_sequence(std::string& out) {
  const Utf8Check check = check_utf8(cur_, end_);
  if (check.length == 0) {
    const unsigned char* at = cur_ + check.bad_at;
    const std::string found = at == end_ ? std::string() : " (" + describe_byte(*at) + ")";
    return fail(json::errc::invalid_utf8, at,
                std::string("invalid UTF-8 in a string: ") + check.problem + found);
  }
  out.append(reinterpret_cast<const char*>(cur_), check.length);
  cur_ += check.length;
  return true;
}

bool Scanner::escape(std::string& out) {
  const unsigned char* backslash = cur_;
  ++cur_;
  if (at_end()) {
    return fail(json::errc::unexpected_end, cur_, "unexpected end of input in an escape sequence");
  }
  char decoded;
  switch (*cur_) {
    case '"':
      decoded = '"';
      break;
    case '\\':
      decoded = '\\';
      break;
    case '/':
      decoded = '/';
      break;
    case 'b':
      decoded = '\b';
      break;
    case 'f':
      decoded = '\f';
      break;
    case 'n':
      decoded = '\n';
      break;
    case 'r':
      decoded = '\r';
      break;
    case 't':
      decoded = '\t';
      break;
    case 'u':
      return unicode_escape(out, backslash);
    default:
      return fail(json::errc::invalid_escape, backslash,
                  "invalid escape '\\" +
                      (*cur_ > 0x20 && *cur_ < 0x7F ? std::string(1, static_cast<char>(*cur_))
                                                    : describe_byte(*cur_)) +
                      "' in a string");
  }
  out.push_back(decoded);
  ++cur_;
  return true;
}

// Reads the 4 hex digits after "\u".
bool Scanner::hex4(std::uint32_t& cp) {
  cp = 0;
  for (int i = 0; i < 4; ++i) {
    if (at_end()) return fail(json::errc::unexpected_end, cur_, "unexpected end of input in a \\u escape");
    const int v = hex_value(*cur_);
    if (v < 0) {
      return fail(json::errc::invalid_escape, cur_,
                  "invalid \\u escape: expected 4 hex digits, found " + describe_byte(*cur_));
    }
    cp = cp * 16 + static_cast<std::uint32_t>(v);
    ++cur_;
  }
  return true;
}

// At the 'u' of "\uXXXX". A high surrogate must be followed by "\u" and a low
// surrogate; the pair encodes one code point above U+FFFF.
bool Scanner::unicode_escape(std::string& out, const unsigned char* backslash) {
  ++cur_;
  std::uint32_t cp = 0;
  if (!hex4(cp)) return false;
  if (cp >= 0xDC00 && cp <= 0xDFFF) {
    return fail(
        json::errc::invalid_surrogate, backslash,
        "lone low surrogate \\u" + hex4_text(cp) + " (not preceded by a high surrogate \\uD800-\\uDBFF)");
  }
  if (cp >= 0xD800 && cp <= 0xDBFF) {
    const std::string lone =
        "lone high surrogate \\u" + hex4_text(cp) + " (must be followed by a low surrogate \\uDC00-\\uDFFF)";
    if (end_ - cur_ < 2) {
      if (at_end() || *cur_ == '\\') {
        return fail(json::errc::unexpected_end, end_, "unexpected end of input in a string");
      }
      return fail(json::errc::invalid_surrogate, backslash, lone);
    }
    if (cur_[0] != '\\' || cur_[1] != 'u') return fail(json::errc::invalid_surrogate, backslash, lone);
    cur_ += 2;
    std::uint32_t low = 0;
    if (!hex4(low)) return false;
    if (low < 0xDC00 || low > 0xDFFF) return fail(json::errc::invalid_surrogate, backslash, lone);
    cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
  }
  append_utf8(out, cp);
  return true;
}

}  // namespace goro::json_detail
