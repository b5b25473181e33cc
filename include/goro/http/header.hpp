// goro/http/header.hpp: an HTTP header section (Go's http.Header), kept as
// the ordered list of fields it arrived as.
//
// Field names compare case-insensitively (RFC 9110 section 5.1); values are
// kept verbatim, without the optional whitespace around them. A header is
// reused from message to message on a connection: clear() keeps the
// capacity of its strings and of its field list, so a warm keep-alive
// connection parses heads without allocating.
//
// Thread-safety: none (a value type); use from one goroutine at a time.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace goro::http {

// ASCII case-insensitive equality (field names, tokens). Cost: O(size).
bool iequals(std::string_view a, std::string_view b) noexcept;

// True if the comma-separated list `list` (a field value such as
// "keep-alive, Upgrade") holds `token`, compared case-insensitively.
bool has_token(std::string_view list, std::string_view token) noexcept;

// One field of a header section.
struct header_field {
  // Its name as received or set (compared case-insensitively), and its value.
  std::string name;
  std::string value;
};

// An HTTP header section (Go's http.Header); see above.
class header {
 public:
  // The value of the first field called `name`, or "" if there is none.
  // Cost: O(fields).
  std::string_view get(std::string_view name) const noexcept;
  // True if a field called `name` is present.
  bool has(std::string_view name) const noexcept;
  // How many fields are called `name`.
  std::size_t count(std::string_view name) const noexcept;
  // Appends a field (Go's Header.Add). The caller vouches for the bytes:
  // the parser validates what it stores, and the server rejects a handler's
  // field containing CR or LF when it writes the response.
  void add(std::string_view name, std::string_view value);
  // Replaces every field called `name` by one (Go's Header.Set).
  void set(std::string_view name, std::string_view value);
  // Removes every field called `name` (Go's Header.Del).
  void del(std::string_view name);
  // Forgets every field, keeping the allocated capacity.
  void clear() noexcept { n_ = 0; }

  // The fields in order, how many, and whether there are none.
  std::span<const header_field> fields() const noexcept { return {f_.data(), n_}; }
  std::size_t size() const noexcept { return n_; }
  bool empty() const noexcept { return n_ == 0; }

 private:
  std::vector<header_field> f_;  // f_[0, n_) are live; the rest keep capacity
  std::size_t n_ = 0;
};

}  // namespace goro::http
