// json/utf8.hpp: checking one UTF-8 sequence, shared by the parser (which
// rejects bad input) and the serializer (which replaces it with U+FFFD).
//
// Well-formed UTF-8 is exactly the byte patterns of Unicode's Table 3-7:
//
//   U+0080..U+07FF     C2..DF  80..BF
//   U+0800..U+0FFF     E0      A0..BF  80..BF
//   U+1000..U+CFFF     E1..EC  80..BF  80..BF
//   U+D000..U+D7FF     ED      80..9F  80..BF      (ED A0.. would be a surrogate)
//   U+E000..U+FFFF     EE..EF  80..BF  80..BF
//   U+10000..U+3FFFF   F0      90..BF  80..BF  80..BF
//   U+40000..U+FFFFF   F1..F3  80..BF  80..BF  80..BF
//   U+100000..U+10FFFF F4      80..8F  80..BF  80..BF
//
// so overlong forms (C0, C1, E0 80.., F0 80..), encoded surrogates and code
// points above U+10FFFF all fail on the lead byte or the second byte's range.
#pragma once

#include <cstddef>
#include <cstdint>

namespace goro::json_detail {

// The outcome of checking the sequence that starts at a byte >= 0x80.
struct Utf8Check {
  std::size_t length = 0;         // bytes in the sequence; 0 if it is malformed
  std::size_t bad_at = 0;         // if malformed: offset of the offending byte from the lead
  const char* problem = nullptr;  // if malformed: what is wrong, for an error message
};

// Checks the sequence at p (p < end, *p >= 0x80). Cost: a few compares.
inline Utf8Check check_utf8(const unsigned char* p, const unsigned char* end) noexcept {
  const unsigned char lead = p[0];
  std::size_t length = 0;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (lead < 0xC0) return {0, 0, "unexpected UTF-8 continuation byte"};
  if (lead < 0xC2) return {0, 0, "overlong UTF-8 encoding"};
  if (lead < 0xE0) {
    length = 2;
  } else if (lead < 0xF0) {
    length = 3;
    if (lead == 0xE0) lo = 0xA0;
    if (lead == 0xED) hi = 0x9F;
  } else if (lead < 0xF5) {
    length = 4;
    if (lead == 0xF0) lo = 0x90;
    if (lead == 0xF4) hi = 0x8F;
  } else {
    return {0, 0, "invalid UTF-8 byte (0xF5-0xFF never occur in UTF-8)"};
  }
  if (static_cast<std::size_t>(end - p) < 2) return {0, 1, "UTF-8 sequence cut short by the end of input"};
  if (p[1] < lo || p[1] > hi) {
    if (p[1] < 0x80 || p[1] > 0xBF) return {0, 1, "expected a UTF-8 continuation byte"};
    if (lead == 0xED) return {0, 0, "UTF-8 encoding of a UTF-16 surrogate"};
    if (lead == 0xF4) return {0, 0, "UTF-8 sequence above U+10FFFF"};
    return {0, 0, "overlong UTF-8 encoding"};
  }
  for (std::size_t i = 2; i < length; ++i) {
    if (p + i == end) return {0, i, "UTF-8 sequence cut short by the end of input"};
    if (p[i] < 0x80 || p[i] > 0xBF) return {0, i, "expected a UTF-8 continuation byte"};
  }
  return {length, 0, nullptr};
}

// Appends the UTF-8 encoding of code point cp (<= U+10FFFF, not a surrogate).
template <typename String>
void append_utf8(String& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

}  // namespace goro::json_detail
