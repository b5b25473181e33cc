// tests/http_cases.hpp: the conformance table of malformed and edge-case
// HTTP/1.1 messages shared by the parser test (expected parse_errc) and
// the server test (expected status, each over a real connection).
//
// Every case runs under kCaseLimits, which the server tests configure too.
#pragma once

#include <goro/http/parser.hpp>

#include <string>
#include <vector>

namespace http_cases {

using goro::http::parse_errc;

inline goro::http::parser_limits case_limits() {
  goro::http::parser_limits l;
  l.max_start_line = 1024;
  l.max_header_bytes = 2048;
  l.max_fields = 20;
  l.max_chunk_line = 4096;  // the server's fixed limit
  l.max_body = 4096;
  return l;
}

struct request_case {
  const char* name;
  std::string input;
  parse_errc error;  // parse_errc{} if the request is valid
  std::string body;  // the decoded body of a valid request
};

inline std::string rep(char c, std::size_t n) {
  return std::string(n, c);
}

inline std::vector<request_case> request_cases() {
  const parse_errc ok{};
  return {
      // Valid requests and the robustness rules.
      {"simple GET", "GET / HTTP/1.1\r\nHost: a\r\n\r\n", ok, ""},
      {"HTTP/1.0 without Host", "GET / HTTP/1.0\r\n\r\n", ok, ""},
      {"leading empty lines skipped", "\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", ok, ""},
      {"OWS around value", "GET / HTTP/1.1\r\nHost: a\r\nX: \t v \t\r\n\r\n", ok, ""},
      {"empty field value", "GET / HTTP/1.1\r\nHost: a\r\nX:\r\n\r\n", ok, ""},
      {"obs-text in value", "GET / HTTP/1.1\r\nHost: a\r\nX: caf\xc3\xa9\r\n\r\n", ok, ""},
      {"Content-Length body", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello", ok, "hello"},
      {"repeated equal Content-Length",
       "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc", ok, "abc"},
      {"Content-Length list of equal values", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 3\r\n\r\nabc",
       ok, "abc"},
      {"chunked body",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n", ok,
       "abcde"},
      {"chunked, upper-case hex and extensions",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\nA;x=1;y=\"q\\\"s\" ; "
       "z\r\n0123456789\r\n0\r\n\r\n",
       ok, "0123456789"},
      {"chunked with trailers",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\nT: v\r\n\r\n", ok,
       "x"},
      {"asterisk-form for OPTIONS", "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", ok, ""},
      {"absolute-form", "GET http://a/x HTTP/1.1\r\nHost: a\r\n\r\n", ok, ""},
      {"authority-form for CONNECT", "CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\n", ok, ""},
      {"HTTP/1.2 treated as 1.1", "GET / HTTP/1.2\r\nHost: a\r\n\r\n", ok, ""},
      {"IPv6 Host with port", "GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n", ok, ""},
      {"empty Host", "GET / HTTP/1.1\r\nHost:\r\n\r\n", ok, ""},

      // Request line.
      {"no spaces", "garbage\r\n\r\n", parse_errc::bad_request_line, ""},
      {"two parts", "GET /\r\nHost: a\r\n\r\n", parse_errc::bad_request_line, ""},
      {"double space", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", parse_errc::bad_target, ""},
      {"space in target", "GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", parse_errc::bad_target, ""},
      {"method with a slash", "GE/T / HTTP/1.1\r\nHost: a\r\n\r\n", parse_errc::bad_method, ""},
      {"empty method", " / HTTP/1.1\r\nHost: a\r\n\r\n", parse_errc::bad_method, ""},
      {"lower-case version", "GET / http/1.1\r\nHost: a\r\n\r\n", parse_errc::bad_version, ""},
      {"version without minor", "GET / HTTP/1\r\nHost: a\r\n\r\n", parse_errc::bad_version, ""},
      {"HTTP/2.0", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", parse_errc::unsupported_version, ""},
      {"HTTP/0.9", "GET / HTTP/0.9\r\nHost: a\r\n\r\n", parse_errc::unsupported_version, ""},
      {"control byte in target", "GET /\x01 HTTP/1.1\r\nHost: a\r\n\r\n", parse_errc::bad_target, ""},
      {"non-ASCII target", "GET /\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n", parse_errc::bad_target, ""},
      {"fragment in target", "GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n", parse_errc::bad_target, ""},
      {"relative target", "GET a/b HTTP/1.1\r\nHost: a\r\n\r\n", parse_errc::bad_target, ""},
      {"asterisk for GET", "GET * HTTP/1.1\r\nHost: a\r\n\r\n", parse_errc::bad_target, ""},
      {"CONNECT with a path", "CONNECT /x HTTP/1.1\r\nHost: a\r\n\r\n", parse_errc::bad_target, ""},
      {"request line too long", "GET /" + rep('a', 1100) + " HTTP/1.1\r\nHost: a\r\n\r\n",
       parse_errc::uri_too_long, ""},
      {"too many leading empty lines", "\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\n\r\n",
       parse_errc::bad_request_line, ""},

      // Line endings.
      {"bare LF ends the request line", "GET / HTTP/1.1\nHost: a\r\n\r\n", parse_errc::bare_lf, ""},
      {"bare LF ends a field line", "GET / HTTP/1.1\r\nHost: a\n\r\n", parse_errc::bare_lf, ""},
      {"bare LF ends the head", "GET / HTTP/1.1\r\nHost: a\r\n\n", parse_errc::bare_lf, ""},
      {"bare CR in a field value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n", parse_errc::bare_cr, ""},
      {"bare CR in the request line", "GET /\r HTTP/1.1\r\nHost: a\r\n\r\n", parse_errc::bare_cr, ""},

      // Field lines.
      {"obs-fold", "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n", parse_errc::obs_fold, ""},
      {"obs-fold with a tab", "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n\tb\r\n\r\n", parse_errc::obs_fold, ""},
      {"whitespace before the first field", "GET / HTTP/1.1\r\n Host: a\r\n\r\n", parse_errc::obs_fold, ""},
      {"space before colon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n", parse_errc::space_before_colon, ""},
      {"tab before colon", "GET / HTTP/1.1\r\nHost\t: a\r\n\r\n", parse_errc::space_before_colon, ""},
      {"no colon", "GET / HTTP/1.1\r\nHost a\r\n\r\n", parse_errc::missing_colon, ""},
      {"empty field name", "GET / HTTP/1.1\r\nHost: a\r\n: v\r\n\r\n", parse_errc::bad_field_name, ""},
      {"space inside a name", "GET / HTTP/1.1\r\nHo st: a\r\n\r\n", parse_errc::bad_field_name, ""},
      {"non-token name", "GET / HTTP/1.1\r\nHost: a\r\nX(y): v\r\n\r\n", parse_errc::bad_field_name, ""},
      {"NUL in a value", std::string("GET / HTTP/1.1\r\nHost: a\r\nX: a") + '\0' + "b\r\n\r\n",
       parse_errc::bad_field_value, ""},
      {"control byte in a value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\x01z\r\n\r\n",
       parse_errc::bad_field_value, ""},
      {"DEL in a value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\x7fz\r\n\r\n", parse_errc::bad_field_value, ""},
      {"header section too large",
       "GET / HTTP/1.1\r\nHost: a\r\nX: " + rep('v', 1500) + "\r\nY: " + rep('v', 1500) + "\r\n\r\n",
       parse_errc::header_too_large, ""},
      {"one overlong field line", "GET / HTTP/1.1\r\nHost: a\r\nX: " + rep('v', 3000) + "\r\n\r\n",
       parse_errc::header_too_large, ""},
      {"too many fields",
       [] {
         std::string s = "GET / HTTP/1.1\r\nHost: a\r\n";
         for (int i = 0; i < 25; i++) s += "X" + std::to_string(i) + ": v\r\n";
         return s + "\r\n";
       }(),
       parse_errc::too_many_fields, ""},

      // Host.
      {"HTTP/1.1 without Host", "GET / HTTP/1.1\r\n\r\n", parse_errc::missing_host, ""},
      {"two Host fields", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", parse_errc::duplicate_host, ""},
      {"two Host fields in HTTP/1.0", "GET / HTTP/1.0\r\nHost: a\r\nHost: a\r\n\r\n",
       parse_errc::duplicate_host, ""},
      {"Host with a path", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", parse_errc::bad_host, ""},
      {"Host with a space", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", parse_errc::bad_host, ""},
      {"Host with a bad port", "GET / HTTP/1.1\r\nHost: a:8x\r\n\r\n", parse_errc::bad_host, ""},
      {"Host with userinfo", "GET / HTTP/1.1\r\nHost: u@a\r\n\r\n", parse_errc::bad_host, ""},
      {"unclosed IPv6 Host", "GET / HTTP/1.1\r\nHost: [::1\r\n\r\n", parse_errc::bad_host, ""},

      // Framing: request smuggling attempts.
      {"Content-Length and Transfer-Encoding",
       "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
       parse_errc::transfer_encoding_and_length, ""},
      {"Transfer-Encoding and Content-Length",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
       parse_errc::transfer_encoding_and_length, ""},
      {"differing Content-Length fields",
       "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc",
       parse_errc::conflicting_content_length, ""},
      {"differing Content-Length list", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 4\r\n\r\nabcd",
       parse_errc::conflicting_content_length, ""},
      {"negative Content-Length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n",
       parse_errc::bad_content_length, ""},
      {"signed Content-Length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +3\r\n\r\nabc",
       parse_errc::bad_content_length, ""},
      {"hex Content-Length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x3\r\n\r\nabc",
       parse_errc::bad_content_length, ""},
      {"empty Content-Length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n",
       parse_errc::bad_content_length, ""},
      {"overflowing Content-Length",
       "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n",
       parse_errc::bad_content_length, ""},
      {"Content-Length over the body limit", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5000\r\n\r\n",
       parse_errc::body_too_large, ""},
      {"Transfer-Encoding gzip", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n",
       parse_errc::unsupported_transfer_coding, ""},
      {"gzip then chunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
       parse_errc::unsupported_transfer_coding, ""},
      {"chunked then identity", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n",
       parse_errc::chunked_not_last, ""},
      {"chunked twice",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
       parse_errc::chunked_not_last, ""},
      {"Transfer-Encoding in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
       parse_errc::transfer_encoding_http10, ""},
      {"empty Transfer-Encoding", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n\r\n",
       parse_errc::unsupported_transfer_coding, ""},

      // Chunked bodies.
      {"chunk size not hex", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
       parse_errc::bad_chunk_size, ""},
      {"chunk size with 0x",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0x3\r\nabc\r\n0\r\n\r\n",
       parse_errc::bad_chunk_size, ""},
      {"negative chunk size",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n-3\r\nabc\r\n0\r\n\r\n",
       parse_errc::bad_chunk_size, ""},
      {"empty chunk size", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n\r\n",
       parse_errc::bad_chunk_size, ""},
      {"chunk size of 17 digits",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n00000000000000001\r\nx\r\n0\r\n\r\n",
       parse_errc::bad_chunk_size, ""},
      {"chunk size with trailing space",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3 \r\nabc\r\n0\r\n\r\n",
       parse_errc::bad_chunk_extension, ""},
      {"chunk larger than the body limit",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nffffffff\r\n",
       parse_errc::body_too_large, ""},
      {"chunks adding up past the body limit",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n800\r\n" + rep('x', 2048) +
           "\r\n800\r\n" + rep('x', 2048) + "\r\n1\r\nx\r\n0\r\n\r\n",
       parse_errc::body_too_large, ""},
      {"chunk data longer than its size",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcXY\r\n",
       parse_errc::bad_chunk_terminator, ""},
      {"chunk data followed by LF only",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\n0\r\n\r\n",
       parse_errc::bad_chunk_terminator, ""},
      {"chunk-size line with bare LF",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\nabc\r\n0\r\n\r\n",
       parse_errc::bare_lf, ""},
      {"chunk extension without a name",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3;\r\nabc\r\n0\r\n\r\n",
       parse_errc::bad_chunk_extension, ""},
      {"chunk extension with a bad value",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3;a=\r\nabc\r\n0\r\n\r\n",
       parse_errc::bad_chunk_extension, ""},
      {"unterminated quoted extension",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3;a=\"x\r\nabc\r\n0\r\n\r\n",
       parse_errc::bad_chunk_extension, ""},
      {"overlong chunk-size line",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3;a=" + rep('b', 5000) +
           "\r\nabc\r\n0\r\n\r\n",
       parse_errc::chunk_line_too_long, ""},
      {"trailer with obs-fold",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nT: a\r\n b\r\n\r\n",
       parse_errc::obs_fold, ""},
      {"trailer without a colon",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nT\r\n\r\n",
       parse_errc::missing_colon, ""},
  };
}

struct response_case {
  const char* name;
  std::string request_method;
  std::string input;
  bool eof_after;    // the input is followed by the end of the connection
  parse_errc error;  // parse_errc{} if valid
  int status;        // of a valid response
  std::string body;
};

inline std::vector<response_case> response_cases() {
  const parse_errc ok{};
  return {
      {"Content-Length", "GET", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi", false, ok, 200, "hi"},
      {"no reason phrase", "GET", "HTTP/1.1 204 \r\n\r\n", false, ok, 204, ""},
      {"no space after the code", "GET", "HTTP/1.1 204\r\n\r\n", false, ok, 204, ""},
      {"chunked", "GET", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n", false,
       ok, 200, "hi"},
      {"until close", "GET", "HTTP/1.1 200 OK\r\n\r\nall of it", true, ok, 200, "all of it"},
      {"HEAD ignores Content-Length", "HEAD", "HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n", false, ok, 200,
       ""},
      {"304 has no body", "GET", "HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n", false, ok, 304,
       ""},
      {"1xx has no body", "GET", "HTTP/1.1 100 Continue\r\n\r\n", false, ok, 100, ""},
      {"gzip only: until close", "GET", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nzz", true, ok, 200,
       "zz"},
      {"HTTP/1.0", "GET", "HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nx", false, ok, 200, "x"},
      {"bad version", "GET", "HTTP/1 200 OK\r\n\r\n", false, parse_errc::bad_status_line, 0, ""},
      {"HTTP/2 status line", "GET", "HTTP/2.0 200 OK\r\n\r\n", false, parse_errc::unsupported_version, 0, ""},
      {"two-digit status", "GET", "HTTP/1.1 20 OK\r\n\r\n", false, parse_errc::bad_status_line, 0, ""},
      {"status 600", "GET", "HTTP/1.1 600 X\r\n\r\n", false, parse_errc::bad_status_line, 0, ""},
      {"status with letters", "GET", "HTTP/1.1 2x0 OK\r\n\r\n", false, parse_errc::bad_status_line, 0, ""},
      {"control byte in reason", "GET", "HTTP/1.1 200 O\x01K\r\n\r\n", false, parse_errc::bad_status_line, 0,
       ""},
      {"empty line before status", "GET", "\r\nHTTP/1.1 200 OK\r\n\r\n", false, parse_errc::bad_status_line,
       0, ""},
      {"CL and TE", "GET",
       "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", false,
       parse_errc::transfer_encoding_and_length, 0, ""},
      {"conflicting lengths", "GET", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxx",
       false, parse_errc::conflicting_content_length, 0, ""},
      {"obs-fold", "GET", "HTTP/1.1 200 OK\r\nX: a\r\n b\r\nContent-Length: 0\r\n\r\n", false,
       parse_errc::obs_fold, 0, ""},
      {"bad chunk size", "GET", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nq\r\n", false,
       parse_errc::bad_chunk_size, 0, ""},
      {"body cut short", "GET", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", true,
       parse_errc::unexpected_eof, 0, ""},
      {"chunked cut short", "GET", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", true,
       parse_errc::unexpected_eof, 0, ""},
      {"head cut short", "GET", "HTTP/1.1 200 OK\r\nContent-Le", true, parse_errc::unexpected_eof, 0, ""},
  };
}

}  // namespace http_cases
