// http/debug_gzip.hpp: a gzip member (RFC 1952) made of stored, that is
// uncompressed, deflate blocks (RFC 1951 section 3.2.4).
//
// pprof reads profiles gzip-compressed. Profiles of goroutines are small
// (their stacks are grouped), so the debug endpoints wrap them without
// compressing, and goro::http needs no compression library: any gzip reader
// accepts stored blocks. The output is the input plus 18 bytes of gzip
// framing and 5 bytes per 65535-byte block.
#pragma once

#include <string>
#include <string_view>

namespace goro::http::debug_detail {

// `data` as a gzip member. Throws std::bad_alloc. Cost: O(data), one CRC-32.
std::string gzip_stored(std::string_view data);

}  // namespace goro::http::debug_detail
