// fuzz/http_fuzz_check.hpp: the checks the two HTTP fuzzers
// (http_request_fuzz, http_response_fuzz) run on every input with
// goro::http::parser, for one side each:
//   - the outcome (state, error code and place, every head field, the
//     decoded body, the trailers) is the same whether the input arrives at
//     once or split into pieces of a size taken from the input, so the
//     incremental paths (lines split across calls) are fuzzed against the
//     in-place ones;
//   - an error points inside the bytes consumed, and has a message;
//   - nothing is consumed past the message: pipelined messages that follow
//     are parsed in turn after reset(), up to 8 per input;
//   - the parser's own buffer never holds more than its limits allow.
// Small limits (from the first input byte) exercise the limit paths. Any
// disagreement aborts, which libFuzzer reports as a crash with the input.
#pragma once

#include <goro/http/parser.hpp>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace http_fuzz {

namespace http = goro::http;

[[noreturn]] inline void fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "http_fuzz: %s\n%s\n", what, detail.c_str());
  std::abort();
}

// Everything observable about the parse of one input, as text.
inline std::string run(http::parser::side side, const http::parser_limits& limits, std::string_view input,
                       std::size_t step) {
  using st = http::parser::state;
  http::parser p(side, limits);
  std::string out;
  std::size_t fed = 0;
  std::string pending;
  for (int message = 0; message < 8; message++) {
    p.reset(message % 2 == 0 ? "GET" : "HEAD");
    std::string body;
    for (;;) {
      while (!pending.empty()) {
        std::size_t used = 0;
        if (p.current_state() == st::head) {
          used = p.parse_head(pending);
        } else if (p.current_state() == st::body) {
          auto piece = p.parse_body(pending);
          if (piece.data.size() > piece.consumed) fail("body piece larger than the bytes consumed", "");
          body.append(piece.data);
          used = piece.consumed;
        }
        if (used > pending.size()) fail("consumed more than given", "");
        pending.erase(0, used);
        if (used == 0 || p.current_state() == st::complete || p.failed()) break;
      }
      if (p.current_state() == st::complete || p.failed()) break;
      if (fed == input.size()) {
        p.finish();
        break;
      }
      std::size_t n = std::min(step, input.size() - fed);
      pending.append(input.substr(fed, n));
      fed += n;
    }
    out += "state " + std::to_string(static_cast<int>(p.current_state()));
    if (p.failed()) {
      if (p.error_offset() > p.consumed()) fail("error offset past the consumed bytes", p.error_message());
      if (p.error_message().empty()) fail("empty error message", "");
      out += " error " + p.error_message();
      break;
    }
    if (p.current_state() != st::complete) break;  // a clean end of input
    out += " " + std::string(p.method()) + " " + std::string(p.target()) + " " + std::to_string(p.status()) +
           " " + std::string(p.reason()) + " 1." + std::to_string(p.version_minor()) + " keep " +
           std::to_string(p.keep_alive()) + " framing " + std::to_string(static_cast<int>(p.body_framing()));
    for (const auto& f : p.headers().fields()) out += "\n" + f.name + ": " + f.value;
    for (const auto& f : p.trailers().fields()) out += "\nT " + f.name + ": " + f.value;
    out += "\nbody " + std::to_string(body.size()) + " " + body + "\n";
    if (p.headers().size() > limits.max_fields) fail("more fields than max_fields", out);
    if (limits.max_body != 0 && body.size() > limits.max_body) fail("body over max_body", out);
  }
  return out;
}

inline void check(http::parser::side side, std::string_view data) {
  if (data.empty()) return;
  unsigned char knobs = static_cast<unsigned char>(data[0]);
  data.remove_prefix(1);
  http::parser_limits limits;
  if (knobs & 1) {  // small limits
    limits.max_start_line = 64;
    limits.max_header_bytes = 256;
    limits.max_fields = 4;
    limits.max_chunk_line = 16;
    limits.max_body = 128;
    limits.max_leading_empty_lines = 2;
  }
  std::size_t step = (knobs >> 1) % 13 + 1;
  std::string whole = run(side, limits, data, data.size() + 1);
  std::string split = run(side, limits, data, step);
  if (whole != split) {
    fail("whole and split input disagree",
         "whole:\n" + whole + "\nsplit (" + std::to_string(step) + "):\n" + split);
  }
}

}  // namespace http_fuzz
