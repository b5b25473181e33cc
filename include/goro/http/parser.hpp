// goro/http/parser.hpp: an incremental HTTP/1.1 message parser for both
// sides of a connection (requests on a server, responses on a client),
// strict per RFC 9112 and RFC 9110.
//
//   http::parser p(http::parser::side::request);
//   while (p.state() == http::parser::state::head) {
//     std::size_t used = p.parse_head(bytes);     // any split of the input
//     bytes.remove_prefix(used);                  // (fetch more when empty)
//   }
//   if (p.failed()) reply(http::status_for(p.error()));
//   while (p.state() == http::parser::state::body) {
//     auto piece = p.parse_body(bytes);           // piece.data: decoded body
//     bytes.remove_prefix(piece.consumed);
//   }
//
// Design
//   * Push parser: the caller hands over whatever bytes it has; the parser
//     consumes what it can and keeps the unfinished line of a head (never
//     more than the limits allow) in a string of its own, so input may be
//     split anywhere. Complete lines are parsed in place without a copy.
//     parse_head stops right after the head, so pipelined bytes that follow
//     stay with the caller; parse_body returns views into the caller's bytes.
//   * Strict: a message is rejected, with an error saying what and where,
//     for every construct RFC 9112 says a recipient MUST reject or MAY
//     reject for safety: a bare CR or LF as a line end, obs-fold, whitespace
//     before a field's colon or before the first field, invalid token or
//     field-value characters, Transfer-Encoding with Content-Length,
//     Transfer-Encoding in HTTP/1.0, chunked not last, differing
//     Content-Length values, a missing, repeated or malformed Host in a
//     request, bad chunk sizes, extensions and terminators. It follows the
//     robustness rule of section 2.2 and skips empty lines before a request
//     line. Every error maps to the status a server answers with
//     (status_for), so a server and its tests agree on it.
//   * Limits bound every buffer: the start line, the header section (its
//     bytes and its number of fields), each chunk-size line, the trailers
//     (counted with the header section) and, if set, the body.
//
// Thread-safety: none; one parser per connection direction.
#pragma once

#include <goro/http/header.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>

namespace goro::http {

// Parse errors (category "goro.http"). status_for() gives the response
// status a server sends for each.
enum class parse_errc : int {
  bad_request_line = 1,          // not "method SP target SP version"            400
  bad_method,                    // method is not a token                         400
  bad_target,                    // control, space or non-ASCII byte in target;
                                 // a form the method does not allow              400
  bad_version,                   // not "HTTP/" DIGIT "." DIGIT                   400
  unsupported_version,           // HTTP/2 or later over HTTP/1 framing, HTTP/0   505
  bad_status_line,               // response: not "HTTP/1.x DDD [reason]"         (client)
  uri_too_long,                  // request line longer than max_start_line       414
  header_too_large,              // header section over max_header_bytes          431
  too_many_fields,               // more than max_fields fields                   431
  bare_cr,                       // CR not followed by LF                         400
  bare_lf,                       // LF without CR                                 400
  obs_fold,                      // a field line starting with SP or HTAB         400
  bad_field_name,                // empty or not a token                          400
  space_before_colon,            // "Name : value"                                400
  missing_colon,                 // a field line without ':'                      400
  bad_field_value,               // NUL or another control byte in a value        400
  missing_host,                  // HTTP/1.1 request without Host                 400
  duplicate_host,                // more than one Host field                      400
  bad_host,                      // Host is not uri-host [":" port]               400
  bad_content_length,            // not 1*DIGIT, or too large for 64 bits         400
  conflicting_content_length,    // several differing values                      400
  transfer_encoding_and_length,  // both framings at once (smuggling)           400
  transfer_encoding_http10,      // Transfer-Encoding in an HTTP/1.0 message      400
  unsupported_transfer_coding,   // a coding other than chunked                  501
  chunked_not_last,              // chunked applied twice or not last             400
  bad_chunk_size,                // not 1*HEXDIG, or more than 16 digits          400
  bad_chunk_extension,           // malformed chunk-ext                           400
  chunk_line_too_long,           // chunk-size line over max_chunk_line           400
  bad_chunk_terminator,          // chunk data not followed by CRLF               400
  body_too_large,                // body over max_body                            413
  unexpected_eof,                // input ended inside a message                  400
};

// The error category of parse_errc, and the std::error_code of a
// parse_errc (found by argument-dependent lookup).
const std::error_category& http_category() noexcept;
std::error_code make_error_code(parse_errc e) noexcept;

// The status a server answers a request failing with `e` (400, 413, 414,
// 431, 501, 505); 400 for codes of other categories.
int status_for(std::error_code e) noexcept;

// The standard reason phrase of a status ("Not Found"); "Unknown" if none.
std::string_view reason_phrase(int status) noexcept;

// Bounds on what one message may make the parser hold or accept.
struct parser_limits {
  std::size_t max_start_line = 8192;        // request line: 414 past it
  std::size_t max_header_bytes = 1 << 20;   // field lines and trailers, with CRLFs (Go's default)
  std::size_t max_fields = 100;             // header fields (and trailer fields)
  std::size_t max_chunk_line = 4096;        // chunk-size line with its extensions
  std::uint64_t max_body = 0;               // decoded body bytes; 0: no limit
  std::size_t max_leading_empty_lines = 8;  // skipped before a request line
};

// An incremental HTTP/1.1 message parser; see above. Not thread-safe.
class parser {
 public:
  // Which messages it parses: requests (a server) or responses (a client).
  enum class side { request, response };
  // Where it is in the current message.
  enum class state {
    head,      // reading the start line and the header section
    body,      // reading the body (parse_body)
    complete,  // the message ended; reset() before the next one
    failed,    // error() says why; the connection cannot be reused
  };
  // How the body is delimited (RFC 9112 section 6.3).
  enum class framing { none, length, chunked, until_close };

  // A parser of side `s`'s messages within `limits`, ready for a head.
  explicit parser(side s, parser_limits limits = {});

  // Prepares for the next message on the same connection, keeping the
  // strings' capacity. On the response side, `request_method` is the method
  // of the request being answered ("HEAD" means no body); set it before the
  // response's head arrives.
  void reset(std::string_view request_method = {});

  // Consumes head bytes. Returns how many were used: all of `in` while the
  // head is incomplete; on the head's last byte it stops, leaving the state
  // body (or complete if there is no body) and the rest to the caller. On
  // bad input the state becomes failed. Cost: O(in.size()), no allocation
  // once warm except for lines split across calls.
  std::size_t parse_head(std::string_view in);

  // What parse_body returns.
  struct body_piece {
    std::size_t consumed = 0;  // bytes of `in` used (framing included)
    std::string_view data;     // decoded body bytes: a view into `in`
  };
  // Consumes body bytes; returns at most one contiguous run of body data,
  // so call it until `in` is used up or the state leaves body. Cost: O(the
  // bytes consumed).
  body_piece parse_body(std::string_view in);

  // The input ended (the peer closed). A body delimited by the close is then
  // complete; in any other unfinished message this is unexpected_eof.
  // Returns true if the state is now complete.
  bool finish();

  // The state, and whether it is failed.
  state current_state() const noexcept { return state_; }
  bool failed() const noexcept { return state_ == state::failed; }
  // The error once failed; empty otherwise.
  std::error_code error() const noexcept { return error_; }
  // Byte offset into the message (counting from its first byte, skipped
  // empty lines included) of the line where the error was found.
  std::uint64_t error_offset() const noexcept { return error_offset_; }
  // "malformed chunk size at byte 120 (line 7)".
  std::string error_message() const;

  // The head, valid from the end of parse_head until reset().
  std::string_view method() const noexcept { return method_; }  // request
  std::string_view target() const noexcept { return target_; }  // request
  int status() const noexcept { return status_; }               // response
  std::string_view reason() const noexcept { return reason_; }  // response
  int version_minor() const noexcept { return minor_; }         // HTTP/1.<minor>: 0 or 1
  const header& headers() const noexcept { return headers_; }
  // Trailer fields of a chunked body (complete state).
  const header& trailers() const noexcept { return trailers_; }

  // How the body is delimited, known once the head is complete.
  framing body_framing() const noexcept { return framing_; }
  // The Content-Length for framing::length.
  std::uint64_t content_length() const noexcept { return length_; }
  // Whether the connection may carry another message after this one
  // (RFC 9112 section 9.3): HTTP/1.1 without "Connection: close", HTTP/1.0
  // with "Connection: keep-alive", and never after a close-delimited body.
  bool keep_alive() const noexcept;
  // A request with "Expect: 100-continue" (HTTP/1.1).
  bool expect_continue() const noexcept;
  // Total message bytes consumed so far.
  std::uint64_t consumed() const noexcept { return offset_; }

 private:
  enum class chunk_state { size_line, data, data_cr, data_lf, trailers };
  bool take_line(std::string_view& in, std::size_t& used, std::size_t limit, parse_errc too_long,
                 std::string_view& line);
  bool parse_start_line(std::string_view line);
  bool parse_request_line(std::string_view line);
  bool parse_status_line(std::string_view line);
  bool parse_field_line(std::string_view line, header& into);
  bool finish_head();
  bool decide_framing();
  bool check_host();
  bool parse_chunk_size(std::string_view line);
  bool fail(parse_errc e);

  side side_;
  parser_limits limits_;
  state state_ = state::head;
  std::error_code error_;
  std::uint64_t error_offset_ = 0;
  std::uint64_t line_start_ = 0;  // message offset of the current line
  std::uint64_t offset_ = 0;      // message bytes consumed
  std::size_t line_no_ = 0;       // lines completed, for messages
  std::size_t error_line_ = 0;    // 1-based line of the error
  std::string partial_;           // a line split across calls
  bool seen_start_line_ = false;
  std::size_t empty_lines_ = 0;
  std::size_t header_bytes_ = 0;

  std::string method_, target_, reason_, request_method_;
  int status_ = 0;
  int minor_ = 1;
  header headers_, trailers_;

  framing framing_ = framing::none;
  std::uint64_t length_ = 0;     // Content-Length, or the current chunk's size
  std::uint64_t remaining_ = 0;  // bytes left of the body or chunk
  std::uint64_t body_bytes_ = 0;
  chunk_state chunk_ = chunk_state::size_line;
};

}  // namespace goro::http

template <>
struct std::is_error_code_enum<goro::http::parse_errc> : std::true_type {};
