// json/iterative.cpp: the explicit-stack driver (the reference's
// "Explicit-stack iteration"; no recursion, so no stack growth whatever the
// depth).
//
// `open_` holds the containers being read, innermost last, each with where
// its elements or members start on the scratch stacks. A value is built
// bottom-up: a scalar, or a container when its closing bracket is read, is
// attached to the innermost open container (pushed as an element, or stored
// in the member whose key was read before it). Each step makes the same
// scanner calls, in the same order, as the recursive driver, so both report
// the same first error.
#include "json/drivers.hpp"

#include <string>
#include <utility>
#include <vector>

namespace goro::json_detail {

namespace {

class IterativeParser {
 public:
  IterativeParser(Scanner& scanner, std::size_t max_depth) noexcept : s_(scanner), max_depth_(max_depth) {}

  bool parse(json::value& root) {
    for (;;) {
      if (!s_.value_ahead()) return false;
      json::value v;
      const unsigned char c = s_.peek();
      if (c == '[' || c == '{') {
        bool opened = false;
        if (!open_container(c == '[', v, opened)) return false;
        if (opened) continue;  // its first element or member is next
      } else if (!s_.scalar(v)) {
        return false;
      }
      bool more = false;
      if (!finish_value(std::move(v), root, more)) return false;
      if (!more) return true;
    }
  }

 private:
  struct Open {
    bool is_array;
    std::size_t start;  // into scratch_.elements or scratch_.members
  };

  // At '[' or '{'. An empty container is complete at once (in v); otherwise
  // it is opened (and, for an object, its first key read).
  bool open_container(bool is_array, json::value& v, bool& opened) {
    if (open_.size() >= max_depth_) return s_.fail_depth(max_depth_);
    s_.advance();
    if (s_.empty_container(is_array ? ']' : '}')) {
      v = is_array ? json::value(json::array()) : json::value(json::object());
      return true;
    }
    open_.push_back({is_array, is_array ? scratch_.elements.size() : scratch_.members.size()});
    opened = true;
    return is_array || next_key();
  }

  // Reads `"key":` and adds a member for it; its value comes next.
  bool next_key() {
    std::string key;
    if (!s_.member_key(key)) return false;
    scratch_.members.emplace_back(std::move(key), json::value());
    return true;
  }

  // Attaches a complete value to the innermost open container and closes
  // every container that ends after it. `more` says whether another value
  // follows; when none is open the value is the document's.
  bool finish_value(json::value v, json::value& root, bool& more) {
    for (;;) {
      if (open_.empty()) {
        root = std::move(v);
        more = false;
        return true;
      }
      const Open top = open_.back();
      if (top.is_array) {
        scratch_.elements.push_back(std::move(v));
      } else {
        scratch_.members.back().second = std::move(v);
      }
      const Step step = s_.after_element(top.is_array ? ']' : '}');
      if (step == Step::error) return false;
      if (step == Step::next) {
        more = true;
        return top.is_array || next_key();
      }
      v = top.is_array ? scratch_.take_elements(top.start) : scratch_.take_members(top.start);
      open_.pop_back();
    }
  }

  Scanner& s_;
  std::size_t max_depth_;
  std::vector<Open> open_;
  Scratch scratch_;
};

}  // namespace

bool parse_iterative(Scanner& scanner, json::value& root, std::size_t max_depth) {
  return IterativeParser(scanner, max_depth).parse(root);
}

}  // namespace goro::json_detail
