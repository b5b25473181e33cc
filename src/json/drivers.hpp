// json/drivers.hpp: the two ways of walking nesting. Each parses one value
// (not the trailing whitespace check) from the scanner into root and returns
// false after recording a failure in the scanner. Containers nested deeper
// than max_depth fail with errc::depth_exceeded at their opening bracket.
//
// Both build values bottom-up through Scratch: the finished elements and
// members of every open container wait on two shared stacks, and a
// container's vector is made, at its exact size, when it closes. That is one
// allocation per container instead of one per doubling, and no spare
// capacity left in the document.
#pragma once

#include "json/scanner.hpp"

#include <cstddef>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

namespace goro::json_detail {

// Elements and members of the open containers, innermost last. A container
// remembers where its own start; values below that belong to its ancestors.
struct Scratch {
  std::vector<json::value> elements;
  std::vector<std::pair<std::string, json::value>> members;

  // Moves elements[start..] into a new array and drops them from the stack.
  json::value take_elements(std::size_t start) {
    json::array a(std::make_move_iterator(elements.begin() + static_cast<std::ptrdiff_t>(start)),
                  std::make_move_iterator(elements.end()));
    elements.resize(start);
    return json::value(std::move(a));
  }
  // Moves members[start..] into a new object and drops them from the stack.
  json::value take_members(std::size_t start) {
    json::object o(std::make_move_iterator(members.begin() + static_cast<std::ptrdiff_t>(start)),
                   std::make_move_iterator(members.end()));
    members.resize(start);
    return json::value(std::move(o));
  }
};

// Recursive descent; every nesting level runs through goro::grow_if_needed.
// Throws std::bad_alloc, or std::system_error when no segment can be had.
bool parse_recursive(Scanner& scanner, json::value& root, std::size_t max_depth);

// An explicit heap stack of open containers; never recurses.
// Throws std::bad_alloc.
bool parse_iterative(Scanner& scanner, json::value& root, std::size_t max_depth);

}  // namespace goro::json_detail
