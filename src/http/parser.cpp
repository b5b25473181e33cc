// src/http/parser.cpp: the incremental HTTP/1.1 parser (RFC 9112).
//
// Invariants
//   * partial_ holds the beginning of a line that did not end in the input
//     of the last call, and never more than the limit for that line; a
//     complete line is handed to its parser as a view (into the input or
//     into partial_) and partial_ is cleared once that line is parsed.
//   * offset_ counts every byte consumed since reset(); line_start_ is the
//     offset of the line being parsed, reported as the place of an error.
//   * Once failed, the parser consumes nothing more until reset().
#include <goro/http/parser.hpp>

#include <algorithm>
#include <cstring>

namespace goro::http {

namespace {

bool is_tchar(unsigned char c) noexcept {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return c != 0 && std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
}

bool is_token(std::string_view s) noexcept {
  return !s.empty() &&
         std::all_of(s.begin(), s.end(), [](char c) { return is_tchar(static_cast<unsigned char>(c)); });
}

bool is_ows(char c) noexcept {
  return c == ' ' || c == '\t';
}

std::string_view trim_ows(std::string_view s) noexcept {
  while (!s.empty() && is_ows(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_ows(s.back())) s.remove_suffix(1);
  return s;
}

bool is_digit(char c) noexcept {
  return c >= '0' && c <= '9';
}

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// field-value bytes: VCHAR, obs-text, SP and HTAB (RFC 9110 section 5.5).
bool is_field_value_byte(unsigned char c) noexcept {
  return c == '\t' || (c >= 0x20 && c != 0x7f);
}

// Parses "HTTP/" DIGIT "." DIGIT into major and minor.
bool parse_version(std::string_view v, int& major, int& minor) noexcept {
  if (v.size() != 8 || v.substr(0, 5) != "HTTP/" || !is_digit(v[5]) || v[6] != '.' || !is_digit(v[7])) {
    return false;
  }
  major = v[5] - '0';
  minor = v[7] - '0';
  return true;
}

// uri-host [":" port] (RFC 9110 section 7.2): an IP-literal in brackets, or
// reg-name / IPv4 characters; the port is digits.
bool valid_host(std::string_view h) noexcept {
  std::string_view host = h;
  std::string_view port;
  if (!h.empty() && h.front() == '[') {
    std::size_t close = h.find(']');
    if (close == std::string_view::npos) return false;
    for (char c : h.substr(1, close - 1)) {
      if (hex_value(c) < 0 && c != ':' && c != '.') return false;
    }
    std::string_view rest = h.substr(close + 1);
    if (!rest.empty() && rest.front() != ':') return false;
    port = rest.empty() ? rest : rest.substr(1);
    host = {};
  } else if (std::size_t colon = h.find(':'); colon != std::string_view::npos) {
    host = h.substr(0, colon);
    port = h.substr(colon + 1);
  }
  for (char c : host) {
    unsigned char u = static_cast<unsigned char>(c);
    bool ok = (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || is_digit(c) ||
              (u != 0 && std::strchr("-._~%!$&'()*+,;=", u) != nullptr);
    if (!ok) return false;
  }
  return std::all_of(port.begin(), port.end(), is_digit);
}

// scheme ":" (RFC 3986): the start of an absolute-form target.
bool has_scheme(std::string_view t) noexcept {
  std::size_t colon = t.find(':');
  if (colon == 0 || colon == std::string_view::npos) return false;
  if (!((t[0] >= 'a' && t[0] <= 'z') || (t[0] >= 'A' && t[0] <= 'Z'))) return false;
  for (char c : t.substr(0, colon)) {
    bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '+' || c == '-' || c == '.';
    if (!ok) return false;
  }
  return true;
}

class http_error_category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "goro.http"; }
  std::string message(int c) const override {
    switch (static_cast<parse_errc>(c)) {
      case parse_errc::bad_request_line:
        return "malformed request line";
      case parse_errc::bad_method:
        return "method is not a token";
      case parse_errc::bad_target:
        return "invalid request target";
      case parse_errc::bad_version:
        return "malformed HTTP version";
      case parse_errc::unsupported_version:
        return "unsupported HTTP version";
      case parse_errc::bad_status_line:
        return "malformed status line";
      case parse_errc::uri_too_long:
        return "request line too long";
      case parse_errc::header_too_large:
        return "header section too large";
      case parse_errc::too_many_fields:
        return "too many header fields";
      case parse_errc::bare_cr:
        return "CR not followed by LF";
      case parse_errc::bare_lf:
        return "line ends in LF without CR";
      case parse_errc::obs_fold:
        return "obsolete line folding (a field line starting with whitespace)";
      case parse_errc::bad_field_name:
        return "invalid field name";
      case parse_errc::space_before_colon:
        return "whitespace between field name and colon";
      case parse_errc::missing_colon:
        return "field line without a colon";
      case parse_errc::bad_field_value:
        return "control character in a field value";
      case parse_errc::missing_host:
        return "HTTP/1.1 request without Host";
      case parse_errc::duplicate_host:
        return "more than one Host field";
      case parse_errc::bad_host:
        return "invalid Host";
      case parse_errc::bad_content_length:
        return "invalid Content-Length";
      case parse_errc::conflicting_content_length:
        return "conflicting Content-Length values";
      case parse_errc::transfer_encoding_and_length:
        return "both Transfer-Encoding and Content-Length";
      case parse_errc::transfer_encoding_http10:
        return "Transfer-Encoding in an HTTP/1.0 message";
      case parse_errc::unsupported_transfer_coding:
        return "unsupported transfer coding";
      case parse_errc::chunked_not_last:
        return "chunked is not the last transfer coding, or repeated";
      case parse_errc::bad_chunk_size:
        return "malformed chunk size";
      case parse_errc::bad_chunk_extension:
        return "malformed chunk extension";
      case parse_errc::chunk_line_too_long:
        return "chunk-size line too long";
      case parse_errc::bad_chunk_terminator:
        return "chunk data not followed by CRLF";
      case parse_errc::body_too_large:
        return "body too large";
      case parse_errc::unexpected_eof:
        return "unexpected end of input inside a message";
    }
    return "unknown HTTP parse error";
  }
};

}  // namespace

const std::error_category& http_category() noexcept {
  static const http_error_category c;
  return c;
}

std::error_code make_error_code(parse_errc e) noexcept {
  return {static_cast<int>(e), http_category()};
}

int status_for(std::error_code e) noexcept {
  if (e.category() != http_category()) return 400;
  switch (static_cast<parse_errc>(e.value())) {
    case parse_errc::unsupported_version:
      return 505;
    case parse_errc::uri_too_long:
      return 414;
    case parse_errc::header_too_large:
    case parse_errc::too_many_fields:
      return 431;
    case parse_errc::unsupported_transfer_coding:
      return 501;
    case parse_errc::body_too_large:
      return 413;
    default:
      return 400;
  }
}

std::string_view reason_phrase(int status) noexcept {
  switch (status) {
    case 100:
      return "Continue";
    case 101:
      return "Switching Protocols";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 206:
      return "Partial Content";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 303:
      return "See Other";
    case 304:
      return "Not Modified";
    case 307:
      return "Temporary Redirect";
    case 308:
      return "Permanent Redirect";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 411:
      return "Length Required";
    case 413:
      return "Request Entity Too Large";
    case 414:
      return "Request URI Too Long";
    case 415:
      return "Unsupported Media Type";
    case 417:
      return "Expectation Failed";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Unknown";
  }
}

parser::parser(side s, parser_limits limits) : side_(s), limits_(limits) {}

void parser::reset(std::string_view request_method) {
  state_ = state::head;
  error_ = {};
  error_offset_ = line_start_ = offset_ = 0;
  line_no_ = error_line_ = 0;
  partial_.clear();
  if (partial_.capacity() > 4096) std::string().swap(partial_);  // an idle connection keeps no long line
  seen_start_line_ = false;
  empty_lines_ = header_bytes_ = 0;
  method_.clear();
  target_.clear();
  reason_.clear();
  request_method_.assign(request_method);
  status_ = 0;
  minor_ = 1;
  headers_.clear();
  trailers_.clear();
  framing_ = framing::none;
  length_ = remaining_ = body_bytes_ = 0;
  chunk_ = chunk_state::size_line;
}

bool parser::fail(parse_errc e) {
  state_ = state::failed;
  error_ = e;
  error_offset_ = line_start_;
  error_line_ = line_no_ + 1;
  return false;
}

std::string parser::error_message() const {
  if (!error_) return {};
  return error_.message() + " at byte " + std::to_string(error_offset_) + " (line " +
         std::to_string(error_line_) + ")";
}

// Takes the next complete line from `in` (advancing `used` past its LF)
// into `line`, without its CRLF. Returns false if the line is not complete
// yet (its start is kept in partial_) or it is invalid (state failed).
bool parser::take_line(std::string_view& in, std::size_t& used, std::size_t limit, parse_errc too_long,
                       std::string_view& line) {
  if (partial_.empty()) line_start_ = offset_;
  std::string_view rest = in.substr(used);
  std::size_t lf = rest.find('\n');
  std::size_t take = lf == std::string_view::npos ? rest.size() : lf;
  // The line may hold `limit` bytes plus its CR.
  if (partial_.size() + take > limit + 1) return fail(too_long);
  if (lf == std::string_view::npos) {
    partial_.append(rest);
    used += rest.size();
    offset_ += rest.size();
    return false;
  }
  if (partial_.empty()) {
    line = rest.substr(0, lf);
  } else {
    partial_.append(rest.substr(0, lf));
    line = partial_;
  }
  used += lf + 1;
  offset_ += lf + 1;
  if (line.empty() || line.back() != '\r') return fail(parse_errc::bare_lf);
  line.remove_suffix(1);
  if (line.size() > limit) return fail(too_long);
  if (line.find('\r') != std::string_view::npos) return fail(parse_errc::bare_cr);
  return true;
}

std::size_t parser::parse_head(std::string_view in) {
  std::size_t used = 0;
  while (state_ == state::head && used < in.size()) {
    std::string_view line;
    bool ok;
    if (!seen_start_line_) {
      ok = take_line(in, used, limits_.max_start_line,
                     side_ == side::request ? parse_errc::uri_too_long : parse_errc::bad_status_line, line);
    } else {
      std::size_t budget = limits_.max_header_bytes - std::min(header_bytes_, limits_.max_header_bytes);
      ok = take_line(in, used, budget, parse_errc::header_too_large, line);
    }
    if (!ok) break;
    if (!seen_start_line_) {
      if (line.empty() && side_ == side::request) {
        // RFC 9112 section 2.2: ignore empty lines before a request line.
        if (++empty_lines_ > limits_.max_leading_empty_lines) fail(parse_errc::bad_request_line);
      } else if (parse_start_line(line)) {
        seen_start_line_ = true;
      }
    } else if (line.empty()) {
      finish_head();
    } else {
      header_bytes_ += line.size() + 2;
      parse_field_line(line, headers_);
    }
    partial_.clear();
    line_no_++;
  }
  return used;
}

bool parser::parse_start_line(std::string_view line) {
  return side_ == side::request ? parse_request_line(line) : parse_status_line(line);
}

// method SP request-target SP HTTP-version (RFC 9112 section 3).
bool parser::parse_request_line(std::string_view line) {
  std::size_t sp1 = line.find(' ');
  std::size_t sp2 = line.rfind(' ');
  if (sp1 == std::string_view::npos || sp1 == sp2) return fail(parse_errc::bad_request_line);
  std::string_view method = line.substr(0, sp1);
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string_view version = line.substr(sp2 + 1);
  if (!is_token(method)) return fail(parse_errc::bad_method);
  int major = 0;
  if (!parse_version(version, major, minor_)) return fail(parse_errc::bad_version);
  if (major != 1) return fail(parse_errc::unsupported_version);
  if (minor_ > 1) minor_ = 1;  // a later 1.x speaks at least 1.1 (RFC 9110 section 2.5)
  if (target.empty()) return fail(parse_errc::bad_request_line);
  for (char c : target) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f || c == '#') return fail(parse_errc::bad_target);
  }
  // The four forms of RFC 9112 section 3.2, each only where it is allowed.
  if (method == "CONNECT") {
    if (target.front() == '/' || target.find('/') != std::string_view::npos ||
        target.find(':') == std::string_view::npos || !valid_host(target)) {
      return fail(parse_errc::bad_target);
    }
  } else if (target == "*") {
    if (method != "OPTIONS") return fail(parse_errc::bad_target);
  } else if (target.front() != '/' && !has_scheme(target)) {
    return fail(parse_errc::bad_target);
  }
  method_.assign(method);
  target_.assign(target);
  return true;
}

// HTTP-version SP status-code SP [reason-phrase] (RFC 9112 section 4); a
// missing SP after the code is accepted, as most clients do.
bool parser::parse_status_line(std::string_view line) {
  int major = 0;
  if (line.size() < 12 || !parse_version(line.substr(0, 8), major, minor_) || line[8] != ' ') {
    return fail(parse_errc::bad_status_line);
  }
  if (major != 1) return fail(parse_errc::unsupported_version);
  if (minor_ > 1) minor_ = 1;
  if (!is_digit(line[9]) || !is_digit(line[10]) || !is_digit(line[11]))
    return fail(parse_errc::bad_status_line);
  status_ = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
  if (status_ < 100 || status_ > 599) return fail(parse_errc::bad_status_line);
  std::string_view reason = line.substr(12);
  if (!reason.empty()) {
    if (reason.front() != ' ') return fail(parse_errc::bad_status_line);
    reason.remove_prefix(1);
    for (char c : reason) {
      if (!is_field_value_byte(static_cast<unsigned char>(c))) return fail(parse_errc::bad_status_line);
    }
  }
  reason_.assign(reason);
  return true;
}

// field-name ":" OWS field-value OWS (RFC 9112 section 5).
bool parser::parse_field_line(std::string_view line, header& into) {
  // A line starting with whitespace is obs-fold, or (as the first field)
  // whitespace after the start line: both rejected (section 5.2, 2.2).
  if (is_ows(line.front())) return fail(parse_errc::obs_fold);
  std::size_t colon = line.find(':');
  if (colon == std::string_view::npos) return fail(parse_errc::missing_colon);
  std::string_view name = line.substr(0, colon);
  if (name.empty()) return fail(parse_errc::bad_field_name);
  if (is_ows(name.back())) return fail(parse_errc::space_before_colon);
  if (!is_token(name)) return fail(parse_errc::bad_field_name);
  std::string_view value = trim_ows(line.substr(colon + 1));
  for (char c : value) {
    if (!is_field_value_byte(static_cast<unsigned char>(c))) return fail(parse_errc::bad_field_value);
  }
  if (into.size() >= limits_.max_fields) return fail(parse_errc::too_many_fields);
  into.add(name, value);
  return true;
}

bool parser::check_host() {
  std::size_t n = headers_.count("Host");
  if (n > 1) return fail(parse_errc::duplicate_host);
  if (n == 0) return minor_ == 0 || fail(parse_errc::missing_host);
  return valid_host(headers_.get("Host")) || fail(parse_errc::bad_host);
}

// RFC 9112 section 6.3, in its order.
bool parser::decide_framing() {
  framing_ = framing::none;
  if (side_ == side::response) {
    bool head = request_method_ == "HEAD";
    bool connect_ok = request_method_ == "CONNECT" && status_ / 100 == 2;
    if (head || connect_ok || status_ / 100 == 1 || status_ == 204 || status_ == 304) return true;
  }
  std::size_t te = headers_.count("Transfer-Encoding");
  std::size_t cl = headers_.count("Content-Length");
  if (te > 0) {
    if (minor_ == 0) return fail(parse_errc::transfer_encoding_http10);
    if (cl > 0) return fail(parse_errc::transfer_encoding_and_length);
    // The codings of every Transfer-Encoding field, in order.
    std::size_t codings = 0, chunked = 0;
    bool chunked_last = false, unknown = false;
    for (const header_field& f : headers_.fields()) {
      if (!iequals(f.name, "Transfer-Encoding")) continue;
      std::string_view list = f.value;
      while (true) {
        std::size_t comma = list.find(',');
        std::string_view item = trim_ows(list.substr(0, comma));
        if (!item.empty()) {
          codings++;
          bool is_chunked = iequals(item, "chunked");
          chunked += is_chunked;
          unknown |= !is_chunked;
          chunked_last = is_chunked;
        }
        if (comma == std::string_view::npos) break;
        list.remove_prefix(comma + 1);
      }
    }
    if (codings == 0) return fail(parse_errc::unsupported_transfer_coding);
    if (chunked > 1 || (chunked == 1 && !chunked_last)) return fail(parse_errc::chunked_not_last);
    if (side_ == side::request) {
      if (unknown) return fail(parse_errc::unsupported_transfer_coding);
      framing_ = framing::chunked;
    } else if (!chunked_last) {
      framing_ = framing::until_close;  // section 6.3 rule 4, response side
    } else if (unknown) {
      return fail(parse_errc::unsupported_transfer_coding);
    } else {
      framing_ = framing::chunked;
    }
    return true;
  }
  if (cl > 0) {
    // Repeated fields or a list are accepted only when every value is the
    // same (section 6.3 rule 5).
    bool first = true;
    for (const header_field& f : headers_.fields()) {
      if (!iequals(f.name, "Content-Length")) continue;
      std::string_view list = f.value;
      while (true) {
        std::size_t comma = list.find(',');
        std::string_view item = trim_ows(list.substr(0, comma));
        if (item.empty() || item.size() > 18 || !std::all_of(item.begin(), item.end(), is_digit)) {
          return fail(parse_errc::bad_content_length);
        }
        std::uint64_t v = 0;
        for (char c : item) v = v * 10 + static_cast<std::uint64_t>(c - '0');
        if (!first && v != length_) return fail(parse_errc::conflicting_content_length);
        length_ = v;
        first = false;
        if (comma == std::string_view::npos) break;
        list.remove_prefix(comma + 1);
      }
    }
    if (limits_.max_body != 0 && length_ > limits_.max_body) return fail(parse_errc::body_too_large);
    framing_ = length_ == 0 ? framing::none : framing::length;
    remaining_ = length_;
    return true;
  }
  if (side_ == side::response) framing_ = framing::until_close;
  return true;
}

bool parser::finish_head() {
  if (side_ == side::request && !check_host()) return false;
  if (!decide_framing()) return false;
  state_ = framing_ == framing::none ? state::complete : state::body;
  return true;
}

// chunk-size [ chunk-ext ] (RFC 9112 section 7.1, 7.1.1):
//   chunk-ext = *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] )
bool parser::parse_chunk_size(std::string_view line) {
  std::size_t i = 0;
  std::uint64_t size = 0;
  while (i < line.size() && hex_value(line[i]) >= 0) {
    if (i == 16) return fail(parse_errc::bad_chunk_size);
    size = size * 16 + static_cast<std::uint64_t>(hex_value(line[i]));
    i++;
  }
  if (i == 0) return fail(parse_errc::bad_chunk_size);
  auto skip_bws = [&] {
    while (i < line.size() && is_ows(line[i])) i++;
  };
  auto token_at = [&] {
    std::size_t start = i;
    while (i < line.size() && is_tchar(static_cast<unsigned char>(line[i]))) i++;
    return i > start;
  };
  while (i < line.size()) {
    std::size_t before = i;
    skip_bws();
    if (i == line.size())
      return fail(before == 0 ? parse_errc::bad_chunk_size : parse_errc::bad_chunk_extension);
    if (line[i] != ';')
      return fail(before == i ? parse_errc::bad_chunk_size : parse_errc::bad_chunk_extension);
    i++;
    skip_bws();
    if (!token_at()) return fail(parse_errc::bad_chunk_extension);
    std::size_t after_name = i;
    skip_bws();
    if (i < line.size() && line[i] == '=') {
      i++;
      skip_bws();
      if (i < line.size() && line[i] == '"') {  // quoted-string
        i++;
        bool closed = false;
        while (i < line.size()) {
          unsigned char c = static_cast<unsigned char>(line[i]);
          if (c == '"') {
            closed = true;
            i++;
            break;
          }
          if (c == '\\') {
            if (i + 1 >= line.size() || !is_field_value_byte(static_cast<unsigned char>(line[i + 1]))) {
              return fail(parse_errc::bad_chunk_extension);
            }
            i += 2;
            continue;
          }
          if (!is_field_value_byte(c)) return fail(parse_errc::bad_chunk_extension);
          i++;
        }
        if (!closed) return fail(parse_errc::bad_chunk_extension);
      } else if (!token_at()) {
        return fail(parse_errc::bad_chunk_extension);
      }
    } else {
      i = after_name;
    }
  }
  if (limits_.max_body != 0 && size > limits_.max_body - body_bytes_) return fail(parse_errc::body_too_large);
  remaining_ = size;
  return true;
}

parser::body_piece parser::parse_body(std::string_view in) {
  body_piece piece;
  if (state_ != state::body) return piece;
  if (framing_ == framing::length || framing_ == framing::until_close) {
    std::size_t n = in.size();
    if (framing_ == framing::length) n = static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, n));
    bool over =
        framing_ == framing::until_close && limits_.max_body != 0 && n > limits_.max_body - body_bytes_;
    if (over)
      n = static_cast<std::size_t>(limits_.max_body - body_bytes_);  // deliver up to the limit, then fail
    piece.consumed = n;
    piece.data = in.substr(0, n);
    offset_ += n;
    body_bytes_ += n;
    if (framing_ == framing::length) {
      remaining_ -= n;
      if (remaining_ == 0) state_ = state::complete;
    }
    if (over) {
      line_start_ = offset_;
      fail(parse_errc::body_too_large);
    }
    return piece;
  }
  std::size_t& used = piece.consumed;
  while (state_ == state::body && used < in.size()) {
    switch (chunk_) {
      case chunk_state::size_line: {
        std::string_view line;
        if (!take_line(in, used, limits_.max_chunk_line, parse_errc::chunk_line_too_long, line)) return piece;
        bool ok = parse_chunk_size(line);
        partial_.clear();
        line_no_++;
        if (!ok) return piece;
        chunk_ = remaining_ == 0 ? chunk_state::trailers : chunk_state::data;
        break;
      }
      case chunk_state::data: {
        std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, in.size() - used));
        piece.data = in.substr(used, n);
        used += n;
        offset_ += n;
        body_bytes_ += n;
        remaining_ -= n;
        if (remaining_ == 0) chunk_ = chunk_state::data_cr;
        return piece;
      }
      case chunk_state::data_cr:
      case chunk_state::data_lf: {
        char want = chunk_ == chunk_state::data_cr ? '\r' : '\n';
        if (in[used] != want) {
          line_start_ = offset_;
          fail(parse_errc::bad_chunk_terminator);
          return piece;
        }
        used++;
        offset_++;
        chunk_ = chunk_ == chunk_state::data_cr ? chunk_state::data_lf : chunk_state::size_line;
        if (chunk_ == chunk_state::size_line) line_no_++;
        break;
      }
      case chunk_state::trailers: {
        std::string_view line;
        std::size_t budget = limits_.max_header_bytes - std::min(header_bytes_, limits_.max_header_bytes);
        if (!take_line(in, used, budget, parse_errc::header_too_large, line)) return piece;
        if (line.empty()) {
          state_ = state::complete;
        } else {
          header_bytes_ += line.size() + 2;
          parse_field_line(line, trailers_);
        }
        partial_.clear();
        line_no_++;
        break;
      }
    }
  }
  return piece;
}

bool parser::finish() {
  if (state_ == state::complete) return true;
  if (state_ == state::failed) return false;
  if (state_ == state::head && offset_ == 0) return false;  // a clean close between messages
  if (state_ == state::body && framing_ == framing::until_close) {
    state_ = state::complete;
    return true;
  }
  line_start_ = offset_;
  return fail(parse_errc::unexpected_eof);
}

bool parser::keep_alive() const noexcept {
  if (framing_ == framing::until_close) return false;
  bool close = false, keep = false;
  for (const header_field& f : headers_.fields()) {
    if (!iequals(f.name, "Connection")) continue;
    close |= has_token(f.value, "close");
    keep |= has_token(f.value, "keep-alive");
  }
  if (close) return false;
  return minor_ >= 1 || keep;
}

bool parser::expect_continue() const noexcept {
  return side_ == side::request && minor_ >= 1 && iequals(headers_.get("Expect"), "100-continue");
}

}  // namespace goro::http
