// tests/http_parser_test.cpp: goro::http::parser against the conformance
// table (tests/http_cases.hpp) and the properties an incremental parser
// must have: the same outcome however the input is split, heads that stop
// exactly at their end (pipelining), reuse after reset(), and errors that
// say what and where.
#include <goro/http/parser.hpp>

#include "http_cases.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace http = goro::http;
using http::parse_errc;

namespace {

struct outcome {
  http::parser::state state;
  std::error_code error;
  std::string body;
  std::size_t leftover = 0;  // bytes after the message, not consumed
};

// Feeds `input` in pieces of `step` bytes (0: all at once), as a connection
// would, then the end of input if `eof`.
outcome run(http::parser& p, std::string_view input, std::size_t step, bool eof) {
  outcome o;
  std::string pending;
  std::size_t fed = 0;
  using st = http::parser::state;
  while (true) {
    std::size_t n = step == 0 ? input.size() - fed : std::min(step, input.size() - fed);
    pending.append(input.substr(fed, n));
    fed += n;
    while (!pending.empty()) {
      std::size_t used = 0;
      if (p.current_state() == st::head) {
        used = p.parse_head(pending);
      } else if (p.current_state() == st::body) {
        auto piece = p.parse_body(pending);
        o.body.append(piece.data);
        used = piece.consumed;
      }
      pending.erase(0, used);
      if (used == 0 || p.current_state() == st::complete || p.failed()) break;
    }
    if (p.current_state() == st::complete || p.failed() || fed == input.size()) break;
  }
  if (eof && !p.failed() && p.current_state() != st::complete) p.finish();
  o.state = p.current_state();
  o.error = p.error();
  o.leftover = pending.size() + (input.size() - fed);
  return o;
}

void expect_case(http::parser::side side, std::string_view method, std::string_view input, bool eof,
                 parse_errc want, const std::string& body, const char* name) {
  for (std::size_t step : {std::size_t{0}, std::size_t{1}, std::size_t{7}, input.size() / 2 + 1}) {
    http::parser p(side, http_cases::case_limits());
    p.reset(method);
    outcome o = run(p, input, step, eof);
    SCOPED_TRACE(std::string(name) + " (pieces of " + std::to_string(step) + ")");
    if (want == parse_errc{}) {
      EXPECT_EQ(o.state, http::parser::state::complete) << p.error_message();
      EXPECT_FALSE(o.error) << p.error_message();
      EXPECT_EQ(o.body, body);
    } else {
      EXPECT_EQ(o.state, http::parser::state::failed);
      EXPECT_EQ(o.error, http::make_error_code(want)) << "got: " << p.error_message();
      EXPECT_LE(p.error_offset(), input.size());
      EXPECT_NE(p.error_message().find(" at byte "), std::string::npos);
    }
  }
}

TEST(HttpParser, ConformanceTableHasEnoughCases) {
  EXPECT_GE(http_cases::request_cases().size() + http_cases::response_cases().size(), 60u);
}

TEST(HttpParser, RequestConformanceTable) {
  for (const auto& c : http_cases::request_cases()) {
    expect_case(http::parser::side::request, {}, c.input, false, c.error, c.body, c.name);
  }
}

TEST(HttpParser, ResponseConformanceTable) {
  for (const auto& c : http_cases::response_cases()) {
    expect_case(http::parser::side::response, c.request_method, c.input, c.eof_after, c.error, c.body,
                c.name);
    if (c.error == parse_errc{}) {
      http::parser p(http::parser::side::response, http_cases::case_limits());
      p.reset(c.request_method);
      run(p, c.input, 0, c.eof_after);
      EXPECT_EQ(p.status(), c.status) << c.name;
    }
  }
}

TEST(HttpParser, StatusForEachError) {
  EXPECT_EQ(http::status_for(parse_errc::bad_request_line), 400);
  EXPECT_EQ(http::status_for(parse_errc::uri_too_long), 414);
  EXPECT_EQ(http::status_for(parse_errc::header_too_large), 431);
  EXPECT_EQ(http::status_for(parse_errc::too_many_fields), 431);
  EXPECT_EQ(http::status_for(parse_errc::body_too_large), 413);
  EXPECT_EQ(http::status_for(parse_errc::unsupported_transfer_coding), 501);
  EXPECT_EQ(http::status_for(parse_errc::unsupported_version), 505);
  EXPECT_EQ(http::status_for(std::make_error_code(std::errc::io_error)), 400);
  EXPECT_EQ(http::reason_phrase(431), "Request Header Fields Too Large");
}

TEST(HttpParser, HeadStopsAtItsEndSoPipelinedRequestsStayWithTheCaller) {
  std::string two =
      "GET /a HTTP/1.1\r\nHost: x\r\n\r\nPOST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi";
  http::parser p(http::parser::side::request);
  std::size_t used = p.parse_head(two);
  EXPECT_EQ(p.current_state(), http::parser::state::complete);
  EXPECT_EQ(p.target(), "/a");
  EXPECT_EQ(two.substr(used, 4), "POST");
  p.reset();
  std::string_view rest = std::string_view(two).substr(used);
  used = p.parse_head(rest);
  EXPECT_EQ(p.current_state(), http::parser::state::body);
  EXPECT_EQ(p.method(), "POST");
  EXPECT_EQ(p.content_length(), 2u);
  auto piece = p.parse_body(rest.substr(used));
  EXPECT_EQ(piece.data, "hi");
  EXPECT_EQ(p.current_state(), http::parser::state::complete);
}

TEST(HttpParser, KeepAliveRulesOfHttp10And11) {
  auto keep = [](std::string_view req) {
    http::parser p(http::parser::side::request);
    p.parse_head(req);
    EXPECT_EQ(p.current_state(), http::parser::state::complete) << p.error_message();
    return p.keep_alive();
  };
  EXPECT_TRUE(keep("GET / HTTP/1.1\r\nHost: a\r\n\r\n"));
  EXPECT_FALSE(keep("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"));
  EXPECT_FALSE(keep("GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, CLOSE\r\n\r\n"));
  EXPECT_FALSE(keep("GET / HTTP/1.0\r\n\r\n"));
  EXPECT_TRUE(keep("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"));
  http::parser r(http::parser::side::response);
  r.parse_head("HTTP/1.1 200 OK\r\n\r\n");
  EXPECT_EQ(r.body_framing(), http::parser::framing::until_close);
  EXPECT_FALSE(r.keep_alive());
}

TEST(HttpParser, ExpectContinueOnlyForHttp11) {
  http::parser p(http::parser::side::request);
  p.parse_head("PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\n");
  EXPECT_TRUE(p.expect_continue());
  p.reset();
  p.parse_head("PUT / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n");
  EXPECT_FALSE(p.expect_continue());
}

TEST(HttpParser, TrailersAndHeadersAreKept) {
  http::parser p(http::parser::side::request);
  std::string in =
      "POST /x?q=1 HTTP/1.1\r\nHost: a\r\nX-A:  one \r\nx-a: two\r\nTransfer-Encoding: chunked\r\n\r\n"
      "1\r\nz\r\n0\r\nDigest: abc\r\n\r\n";
  outcome o = run(p, in, 3, false);
  ASSERT_EQ(o.state, http::parser::state::complete) << p.error_message();
  EXPECT_EQ(p.headers().get("x-a"), "one");
  EXPECT_EQ(p.headers().count("X-A"), 2u);
  EXPECT_EQ(p.trailers().get("digest"), "abc");
  EXPECT_EQ(p.target(), "/x?q=1");
  EXPECT_EQ(o.body, "z");
}

TEST(HttpParser, ErrorSaysWhereTheBadLineIs) {
  http::parser p(http::parser::side::request);
  std::string in = "GET / HTTP/1.1\r\nHost: a\r\nBad Name: v\r\n\r\n";
  p.parse_head(in);
  ASSERT_TRUE(p.failed());
  EXPECT_EQ(p.error_offset(), in.find("Bad Name"));
  EXPECT_EQ(p.error_message(), "invalid field name at byte 25 (line 3)");
}

TEST(HttpParser, ResetAfterFailureParsesTheNextMessage) {
  http::parser p(http::parser::side::request);
  p.parse_head("GET / HTTP/1.1\r\nHost: a b\r\n\r\n");
  ASSERT_TRUE(p.failed());
  EXPECT_EQ(p.parse_head("more"), 0u);  // a failed parser consumes nothing
  p.reset();
  p.parse_head("GET /ok HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_EQ(p.current_state(), http::parser::state::complete);
  EXPECT_EQ(p.target(), "/ok");
}

TEST(HttpParser, CleanCloseBetweenMessagesIsNotAnError) {
  http::parser p(http::parser::side::request);
  EXPECT_FALSE(p.finish());
  EXPECT_FALSE(p.failed());
  p.parse_head("GET");
  EXPECT_FALSE(p.finish());
  EXPECT_EQ(p.error(), http::make_error_code(parse_errc::unexpected_eof));
}

}  // namespace
