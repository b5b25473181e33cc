// fuzz/http_response_fuzz.cpp: libFuzzer target for goro::http::parser on
// the response side (what a client reads), alternating the request method
// between GET and HEAD. The checks are in fuzz/http_fuzz_check.hpp; run by
// fuzz/run.sh.
#include "http_fuzz_check.hpp"

#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  http_fuzz::check(goro::http::parser::side::response,
                   std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
