// json/parse.cpp: goro::json::parse(), the entry point, and the error's
// "where": the scanner records a byte offset; line and column are worked out
// here, only when a parse fails, so a successful parse never counts lines.
#include "json/drivers.hpp"

#include <goro/json.hpp>

#include <algorithm>
#include <utility>

namespace goro::json {

namespace {

parse_error locate(std::string_view text, const json_detail::Failure& failure) {
  parse_error e;
  e.code = failure.code;
  e.offset = failure.offset;
  e.message = failure.message;
  const std::string_view before = text.substr(0, failure.offset);
  e.line = 1 + static_cast<std::size_t>(std::count(before.begin(), before.end(), '\n'));
  const std::size_t last_newline = before.rfind('\n');
  e.column = last_newline == std::string_view::npos ? failure.offset + 1 : failure.offset - last_newline;
  return e;
}

}  // namespace

std::string parse_error::what() const {
  return "json: line " + std::to_string(line) + ", column " + std::to_string(column) + " (byte " +
         std::to_string(offset) + "): " + message;
}

result<value> parse(std::string_view text, const options& opts) {
  json_detail::Scanner scanner(text);
  value root;
  bool ok = opts.mode == parse_mode::recursive ? json_detail::parse_recursive(scanner, root, opts.max_depth)
                                               : json_detail::parse_iterative(scanner, root, opts.max_depth);
  if (ok) {
    scanner.skip_whitespace();
    if (!scanner.at_end()) ok = scanner.fail_trailing();
  }
  if (!ok) return locate(text, scanner.failure());
  return root;
}

}  // namespace goro::json
