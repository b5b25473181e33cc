// src/http/header.cpp: goro::http::header, a field list with
// case-insensitive names. Fields past n_ are dead but keep their strings'
// capacity for the next message (invariant: n_ <= f_.size()).
#include <goro/http/header.hpp>

#include <algorithm>

namespace goro::http {

namespace {
char lower(char c) noexcept {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c + ('a' - 'A')) : c;
}
}  // namespace

bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); i++) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

bool has_token(std::string_view list, std::string_view token) noexcept {
  while (!list.empty()) {
    std::size_t comma = list.find(',');
    std::string_view item = list.substr(0, comma);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
    if (iequals(item, token)) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

std::string_view header::get(std::string_view name) const noexcept {
  for (const header_field& f : fields()) {
    if (iequals(f.name, name)) return f.value;
  }
  return {};
}

bool header::has(std::string_view name) const noexcept {
  return std::any_of(fields().begin(), fields().end(),
                     [&](const header_field& f) { return iequals(f.name, name); });
}

std::size_t header::count(std::string_view name) const noexcept {
  return static_cast<std::size_t>(std::count_if(
      fields().begin(), fields().end(), [&](const header_field& f) { return iequals(f.name, name); }));
}

void header::add(std::string_view name, std::string_view value) {
  if (n_ == f_.size()) f_.emplace_back();
  f_[n_].name.assign(name);
  f_[n_].value.assign(value);
  n_++;
}

void header::set(std::string_view name, std::string_view value) {
  del(name);
  add(name, value);
}

void header::del(std::string_view name) {
  std::size_t out = 0;
  for (std::size_t i = 0; i < n_; i++) {
    if (iequals(f_[i].name, name)) continue;
    if (out != i) std::swap(f_[out], f_[i]);
    out++;
  }
  n_ = out;
}

}  // namespace goro::http
