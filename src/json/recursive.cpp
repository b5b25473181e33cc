// json/recursive.cpp: the recursive-descent driver.
//
// One C++ call chain per nesting level: value -> nested -> array/object ->
// value. Two things keep it safe on a small goroutine stack whatever the
// input (the reference's "Designing Recursive-Descent Parsers Safely"):
//
//   - The nesting is bounded at max_depth, checked before anything of the
//     deeper container is read, and reported with goro::depth_exceeded's
//     message. It is the counter of goro::depth_guard, but it returns an
//     error instead of throwing: unwinding an exception through 10,000
//     levels took 20 ms here against 0.44 ms for returning false, a 45-fold
//     cost an attacker could ask for with every too-deep request.
//   - call_deeper runs each level through goro::grow_if_needed: when fewer
//     than kRedZone bytes of stack remain, the rest of the recursion
//     continues on a fresh kSegmentSize segment, so a program that raises
//     max_depth to millions recurses as deep as memory allows.
//
// Each level parses a child into a local value and then pushes it onto the
// scratch stack (a reference into the scratch would not survive its
// growth). The order of scanner calls mirrors iterative.cpp exactly, so both
// modes report the same first error.
#include "json/drivers.hpp"

#include <goro/segment.hpp>

#include <utility>

namespace goro::json_detail {

// Stack headroom each level asks for, and the size of a segment when there
// is not enough. A level's frames take a few hundred bytes (more under
// sanitizers), so 64 KiB leaves a wide margin for the scanner's own calls.
inline constexpr std::size_t kRedZone = 64 * 1024;
inline constexpr std::size_t kSegmentSize = 1024 * 1024;

// Calls f() with at least kRedZone bytes of stack below it.
template <typename F>
decltype(auto) call_deeper(F&& f) {
  return goro::grow_if_needed(kRedZone, kSegmentSize, std::forward<F>(f));
}

namespace {

class RecursiveParser {
 public:
  RecursiveParser(Scanner& scanner, std::size_t max_depth) noexcept : s_(scanner), max_depth_(max_depth) {}

  bool parse_value(json::value& out) {
    if (!s_.value_ahead()) return false;
    const unsigned char c = s_.peek();
    if (c == '[' || c == '{') return parse_nested(out, c == '[');
    return s_.scalar(out);
  }

 private:
  bool parse_nested(json::value& out, bool is_array) {
    if (depth_ >= max_depth_) return s_.fail_depth(max_depth_);
    ++depth_;
    const bool ok = call_deeper([&] { return is_array ? parse_array(out) : parse_object(out); });
    --depth_;  // (not restored if call_deeper throws: the parse is over then)
    return ok;
  }

  bool parse_array(json::value& out) {
    s_.advance();
    if (s_.empty_container(']')) {
      out = json::value(json::array());
      return true;
    }
    const std::size_t start = scratch_.elements.size();
    for (;;) {
      json::value element;
      if (!parse_value(element)) return false;
      scratch_.elements.push_back(std::move(element));
      const Step step = s_.after_element(']');
      if (step == Step::error) return false;
      if (step == Step::close) break;
    }
    out = scratch_.take_elements(start);
    return true;
  }

  bool parse_object(json::value& out) {
    s_.advance();
    if (s_.empty_container('}')) {
      out = json::value(json::object());
      return true;
    }
    const std::size_t start = scratch_.members.size();
    for (;;) {
      std::string key;
      if (!s_.member_key(key)) return false;
      json::value member;
      if (!parse_value(member)) return false;
      scratch_.members.emplace_back(std::move(key), std::move(member));
      const Step step = s_.after_element('}');
      if (step == Step::error) return false;
      if (step == Step::close) break;
    }
    out = scratch_.take_members(start);
    return true;
  }

  Scanner& s_;
  std::size_t max_depth_;
  std::size_t depth_ = 0;
  Scratch scratch_;
};

}  // namespace

bool parse_recursive(Scanner& scanner, json::value& root, std::size_t max_depth) {
  return RecursiveParser(scanner, max_depth).parse_value(root);
}

}  // namespace goro::json_detail
