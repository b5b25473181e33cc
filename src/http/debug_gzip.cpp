// http/debug_gzip.cpp: see debug_gzip.hpp.
#include "http/debug_gzip.hpp"

#include <algorithm>
#include <array>
#include <cstdint>

namespace goro::http::debug_detail {

namespace {

// CRC-32 as gzip uses it (ISO 3309, reflected polynomial 0xedb88320).
constexpr std::array<std::uint32_t, 256> make_crc_table() {
  std::array<std::uint32_t, 256> t{};
  for (std::uint32_t n = 0; n < 256; ++n) {
    std::uint32_t c = n;
    for (int k = 0; k < 8; ++k) c = (c & 1) != 0 ? 0xedb88320u ^ (c >> 1) : c >> 1;
    t[n] = c;
  }
  return t;
}

constexpr std::array<std::uint32_t, 256> kCrcTable = make_crc_table();

std::uint32_t crc32(std::string_view data) {
  std::uint32_t c = 0xffffffffu;
  for (char ch : data) c = kCrcTable[(c ^ static_cast<unsigned char>(ch)) & 0xff] ^ (c >> 8);
  return c ^ 0xffffffffu;
}

void put_le(std::string& out, std::uint32_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

}  // namespace

std::string gzip_stored(std::string_view data) {
  constexpr std::size_t kMaxBlock = 65535;  // a stored block's LEN is 16 bits
  std::string out;
  out.reserve(data.size() + 18 + 5 * (data.size() / kMaxBlock + 1));
  // ID1 ID2, CM = deflate, no flags, no mtime, no extra flags, OS unknown.
  out.append("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff", 10);
  std::size_t at = 0;
  do {
    std::size_t len = std::min(kMaxBlock, data.size() - at);
    bool last = at + len == data.size();
    out.push_back(last ? '\x01' : '\x00');  // BFINAL, BTYPE 00 (stored), aligned
    put_le(out, static_cast<std::uint32_t>(len), 2);
    put_le(out, static_cast<std::uint32_t>(~len & 0xffff), 2);
    out.append(data.substr(at, len));
    at += len;
  } while (at < data.size());
  put_le(out, crc32(data), 4);
  put_le(out, static_cast<std::uint32_t>(data.size() & 0xffffffffu), 4);  // ISIZE: size mod 2^32
  return out;
}

}  // namespace goro::http::debug_detail
