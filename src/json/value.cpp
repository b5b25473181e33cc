// json/value.cpp: the value type's special members, written so that nothing
// recurses on the depth of a value.
//
// The compiler-generated destructor, copy and comparison of a tree of
// vectors recurse once per nesting level; a value parsed with a raised
// max_depth (ten million levels) would overflow any stack on the way out.
// Here:
//   - destroy: recursion, but only kRecursionBudget (32) levels deep;
//     containers below that are moved to a heap work list and freed from
//     there, each again with at most 32 levels of recursion. Typical
//     documents never touch the work list; a ten-million-deep one uses it.
//   - copy and ==: a heap work list of (source, target) or (left, right)
//     pairs. Targets are sized before any pointer to their elements is
//     kept, so those pointers stay valid.
#include <goro/json.hpp>

#include <cmath>
#include <stdexcept>
#include <vector>

namespace goro::json {

namespace {

const char* kind_name(kind k) noexcept {
  switch (k) {
    case kind::null:
      return "null";
    case kind::boolean:
      return "boolean";
    case kind::number:
      return "number";
    case kind::string:
      return "string";
    case kind::array:
      return "array";
    case kind::object:
      return "object";
  }
  return "?";
}

}  // namespace

value::value(double d) : kind_(kind::number) {
  if (!std::isfinite(d)) throw std::invalid_argument("goro::json::value: a JSON number must be finite");
  number_ = {d, 0};
  // 2^63 is exactly representable; [-2^63, 2^63) converts without overflow.
  has_int_ = d == std::trunc(d) && d >= -9223372036854775808.0 && d < 9223372036854775808.0;
  if (has_int_) number_.i = static_cast<std::int64_t>(d);
}

void value::assign_from_inside(value&& other) noexcept {
  value moved(std::move(other));  // out of *this before *this is freed
  destroy();
  take(std::move(moved));
}

value& value::operator=(const value& other) {
  if (this != &other) *this = value(other);
  return *this;
}

// Frees a container. Children that are non-empty containers are freed by
// recursion while `budget` lasts, and beyond it moved to a heap work list
// (`pending`, made by the outermost call on first need) and freed from there
// with a fresh budget. Afterwards every child is null or an empty container,
// so the vector's own destructor does not recurse.
// Allocation failure of the work list terminates (a destructor cannot report
// it); it is only needed for values nested deeper than the budget.
void value::destroy_container(int budget, std::vector<value>* pending) noexcept {
  std::vector<value> own;
  std::vector<value>* work = pending != nullptr ? pending : &own;
  auto strip = [&](value& child) {
    if (!child.is_nonempty_container()) return;
    if (budget > 0) {
      child.destroy_container(budget - 1, work);
    } else {
      work->push_back(std::move(child));  // leaves `child` an empty container
    }
  };
  if (kind_ == kind::array) {
    for (value& child : array_) strip(child);
    array_.~vector();
  } else {
    for (auto& m : object_) strip(m.second);
    object_.~vector();
  }
  kind_ = kind::null;
  if (pending != nullptr) return;  // the outermost call drains the work list
  while (!own.empty()) {
    value v = std::move(own.back());
    own.pop_back();
    if (v.is_nonempty_container()) v.destroy_container(kRecursionBudget, &own);
  }
}

value::value(const value& other) : kind_(kind::null) {
  try {
    copy_tree(other);
  } catch (...) {
    destroy();
    throw;
  }
}

// *this is null on entry. Each target is a valid value at every step (null,
// or a container of nulls), so a throw leaves something destroy() can free.
void value::copy_tree(const value& other) {
  struct Copy {
    const value* from;
    value* to;
  };
  std::vector<Copy> work{{&other, this}};
  while (!work.empty()) {
    const Copy c = work.back();
    work.pop_back();
    switch (c.from->kind_) {
      case kind::null:
        break;
      case kind::boolean:
        c.to->bool_ = c.from->bool_;
        c.to->kind_ = kind::boolean;
        break;
      case kind::number:
        c.to->number_ = c.from->number_;
        c.to->has_int_ = c.from->has_int_;
        c.to->kind_ = kind::number;
        break;
      case kind::string:
        new (&c.to->string_) std::string(c.from->string_);
        c.to->kind_ = kind::string;
        break;
      case kind::array: {
        new (&c.to->array_) json::array(c.from->array_.size());
        c.to->kind_ = kind::array;
        for (std::size_t i = 0; i < c.from->array_.size(); ++i) {
          work.push_back({&c.from->array_[i], &c.to->array_[i]});
        }
        break;
      }
      case kind::object: {
        new (&c.to->object_) json::object();
        c.to->kind_ = kind::object;
        c.to->object_.reserve(c.from->object_.size());
        for (const auto& m : c.from->object_) c.to->object_.emplace_back(m.first, value());
        for (std::size_t i = 0; i < c.from->object_.size(); ++i) {
          work.push_back({&c.from->object_[i].second, &c.to->object_[i].second});
        }
        break;
      }
    }
  }
}

bool operator==(const value& a, const value& b) {
  struct Pair {
    const value* a;
    const value* b;
  };
  std::vector<Pair> work{{&a, &b}};
  while (!work.empty()) {
    const Pair p = work.back();
    work.pop_back();
    const value& x = *p.a;
    const value& y = *p.b;
    if (x.kind_ != y.kind_) return false;
    switch (x.kind_) {
      case kind::null:
        break;
      case kind::boolean:
        if (x.bool_ != y.bool_) return false;
        break;
      case kind::number:
        if (x.has_int_ && y.has_int_ ? x.number_.i != y.number_.i : x.number_.d != y.number_.d) return false;
        break;
      case kind::string:
        if (x.string_ != y.string_) return false;
        break;
      case kind::array:
        if (x.array_.size() != y.array_.size()) return false;
        for (std::size_t i = 0; i < x.array_.size(); ++i) work.push_back({&x.array_[i], &y.array_[i]});
        break;
      case kind::object:
        if (x.object_.size() != y.object_.size()) return false;
        for (std::size_t i = 0; i < x.object_.size(); ++i) {
          if (x.object_[i].first != y.object_[i].first) return false;
          work.push_back({&x.object_[i].second, &y.object_[i].second});
        }
        break;
    }
  }
  return true;
}

void value::expect(kind k) const {
  if (kind_ != k) {
    throw std::logic_error(std::string("goro::json::value: expected ") + kind_name(k) + ", holds " +
                           kind_name(kind_));
  }
}

bool value::as_bool() const {
  return expect(kind::boolean), bool_;
}
double value::as_double() const {
  return expect(kind::number), number_.d;
}
std::optional<std::int64_t> value::as_int64() const {
  expect(kind::number);
  if (!has_int_) return std::nullopt;
  return number_.i;
}
const std::string& value::as_string() const {
  return expect(kind::string), string_;
}
std::string& value::as_string() {
  return expect(kind::string), string_;
}
const json::array& value::as_array() const {
  return expect(kind::array), array_;
}
json::array& value::as_array() {
  return expect(kind::array), array_;
}
const json::object& value::as_object() const {
  return expect(kind::object), object_;
}
json::object& value::as_object() {
  return expect(kind::object), object_;
}

const value* value::find(std::string_view key) const noexcept {
  if (kind_ != kind::object) return nullptr;
  for (auto it = object_.rbegin(); it != object_.rend(); ++it) {
    if (it->first == key) return &it->second;
  }
  return nullptr;
}

value* value::find(std::string_view key) noexcept {
  return const_cast<value*>(static_cast<const value*>(this)->find(key));
}

}  // namespace goro::json
