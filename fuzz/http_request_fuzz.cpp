// fuzz/http_request_fuzz.cpp: libFuzzer target for goro::http::parser on
// the request side (what a server reads). The checks are in
// fuzz/http_fuzz_check.hpp; run by fuzz/run.sh.
#include "http_fuzz_check.hpp"

#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  http_fuzz::check(goro::http::parser::side::request,
                   std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
