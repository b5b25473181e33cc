// src/http/mux.cpp: serve_mux, Go 1.22's pattern router.
//
// A pattern is parsed once into segments: literals, {name} (one non-empty
// segment), {name...} (the rest of the path) and the anonymous rest a
// trailing slash stands for; "{$}" is the literal empty segment after a
// trailing slash. A request path is split the same way (each segment
// percent-decoded) and matched segment by segment. Among the patterns that
// match, the most specific wins (see goro/http/server.hpp for the order).
#include <goro/http/server.hpp>

#include <algorithm>
#include <stdexcept>

namespace goro::http {

namespace {

enum class seg_kind { literal = 3, wildcard = 2, rest = 1 };

struct segment {
  seg_kind kind;
  std::string text;  // the literal, or the wildcard's name ("" for a trailing slash)
};

int hex_digit(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Percent-decodes s (and '+' as a space if plus_is_space); an invalid
// escape is kept as is.
std::string unescape(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); i++) {
    if (s[i] == '%' && i + 2 < s.size() && hex_digit(s[i + 1]) >= 0 && hex_digit(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex_digit(s[i + 1]) * 16 + hex_digit(s[i + 2])));
      i += 2;
    } else if (plus_is_space && s[i] == '+') {
      out.push_back(' ');
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

// "/a/b/" -> {"a", "b", ""}; "/" -> {""}.
std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> out;
  if (!path.empty() && path.front() == '/') path.remove_prefix(1);
  while (true) {
    std::size_t slash = path.find('/');
    out.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return out;
}

// Go's path.Clean for a URL path: no empty, "." or ".." segments; a
// trailing slash is kept.
std::string clean_path(std::string_view path) {
  std::vector<std::string_view> out;
  for (std::string_view s : split_path(path)) {
    if (s.empty() || s == ".") continue;
    if (s == "..") {
      if (!out.empty()) out.pop_back();
      continue;
    }
    out.push_back(s);
  }
  std::string clean = "/";
  for (std::size_t i = 0; i < out.size(); i++) {
    if (i > 0) clean += '/';
    clean += out[i];
  }
  bool trailing = path.size() > 1 && (path.back() == '/' || path.ends_with("/.") || path.ends_with("/.."));
  if (trailing && clean.size() > 1) clean += '/';
  return clean;
}

std::string_view host_without_port(std::string_view host) {
  if (!host.empty() && host.front() == '[') {
    std::size_t close = host.find(']');
    return close == std::string_view::npos ? host : host.substr(0, close + 1);
  }
  return host.substr(0, host.find(':'));
}

}  // namespace

struct serve_mux::route {
  std::string pattern;
  std::string method;  // "" for any
  std::string host;    // "" for any
  std::vector<segment> segs;
  handler_func h;

  bool method_matches(std::string_view m) const {
    return method.empty() || method == m || (method == "GET" && m == "HEAD");
  }

  // Matches the decoded path segments; fills values for the wildcards.
  bool match(const std::vector<std::string>& path,
             std::vector<std::pair<std::string, std::string>>* values) const {
    std::size_t i = 0;
    for (; i < segs.size(); i++) {
      const segment& s = segs[i];
      if (i >= path.size()) return false;
      if (s.kind == seg_kind::rest) {
        if (values != nullptr && !s.text.empty()) {
          std::string v;
          for (std::size_t j = i; j < path.size(); j++) {
            if (j > i) v += '/';
            v += path[j];
          }
          values->emplace_back(s.text, std::move(v));
        }
        return true;
      }
      if (s.kind == seg_kind::literal) {
        if (path[i] != s.text) return false;
      } else {
        if (path[i].empty()) return false;
        if (values != nullptr) values->emplace_back(s.text, path[i]);
      }
    }
    return i == path.size();
  }

  // True if this route is more specific than o (both matched a request).
  bool beats(const route& o) const {
    std::size_t n = std::min(segs.size(), o.segs.size());
    for (std::size_t i = 0; i < n; i++) {
      if (segs[i].kind != o.segs[i].kind) return segs[i].kind > o.segs[i].kind;
    }
    if (segs.size() != o.segs.size()) return segs.size() > o.segs.size();
    if (host.empty() != o.host.empty()) return !host.empty();
    return !method.empty() && o.method.empty();
  }
};

serve_mux::serve_mux() = default;
serve_mux::~serve_mux() = default;
serve_mux::serve_mux(serve_mux&&) noexcept = default;
serve_mux& serve_mux::operator=(serve_mux&&) noexcept = default;

void serve_mux::handle(std::string_view pattern, handler_func h) {
  auto bad = [&](const std::string& why) {
    throw std::invalid_argument("serve_mux: pattern \"" + std::string(pattern) + "\": " + why);
  };
  if (!h) bad("no handler");
  auto r = std::make_unique<route>();
  r->pattern.assign(pattern);
  r->h = std::move(h);
  std::string_view rest = pattern;
  if (std::size_t sp = rest.find_first_of(" \t"); sp != std::string_view::npos) {
    r->method.assign(rest.substr(0, sp));
    rest.remove_prefix(sp);
    while (!rest.empty() && (rest.front() == ' ' || rest.front() == '\t')) rest.remove_prefix(1);
    for (char c : r->method) {
      if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '-' || c == '_')) bad("bad method");
    }
  }
  std::size_t slash = rest.find('/');
  if (slash == std::string_view::npos) bad("no path (it must contain a '/')");
  r->host.assign(rest.substr(0, slash));
  std::vector<std::string_view> parts = split_path(rest.substr(slash));
  for (std::size_t i = 0; i < parts.size(); i++) {
    std::string_view p = parts[i];
    bool last = i + 1 == parts.size();
    if (p.empty()) {
      if (!last) bad("empty segment");
      r->segs.push_back({seg_kind::rest, ""});  // trailing slash: the subtree
    } else if (p.front() == '{') {
      if (p.back() != '}') bad("a wildcard must be a whole segment");
      std::string_view name = p.substr(1, p.size() - 2);
      if (name == "$") {
        if (!last) bad("{$} must be last");
        r->segs.push_back({seg_kind::literal, ""});
        continue;
      }
      bool multi = name.ends_with("...");
      if (multi) {
        if (!last) bad("{" + std::string(name) + "} must be the last segment");
        name.remove_suffix(3);
      }
      if (name.empty()) bad("wildcard without a name");
      for (char c : name) {
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) {
          bad("bad wildcard name");
        }
      }
      for (const segment& s : r->segs) {
        if (s.kind != seg_kind::literal && s.text == name) bad("duplicate wildcard name");
      }
      r->segs.push_back({multi ? seg_kind::rest : seg_kind::wildcard, std::string(name)});
    } else {
      if (p.find('{') != std::string_view::npos || p.find('}') != std::string_view::npos) {
        bad("a wildcard must be a whole segment");
      }
      r->segs.push_back({seg_kind::literal, unescape(p, false)});
    }
  }
  for (const auto& o : routes_) {
    bool same = o->method == r->method && o->host == r->host && o->segs.size() == r->segs.size();
    for (std::size_t i = 0; same && i < r->segs.size(); i++) {
      same = o->segs[i].kind == r->segs[i].kind &&
             (o->segs[i].kind != seg_kind::literal || o->segs[i].text == r->segs[i].text);
    }
    if (same) bad("already registered as \"" + o->pattern + "\"");
  }
  routes_.push_back(std::move(r));
}

void serve_mux::operator()(response_writer& w, const request& r) const {
  // Unclean paths are redirected to their clean form, as Go does.
  if (r.method != "CONNECT" && !r.path.empty() && r.path.front() == '/') {
    std::string clean = clean_path(r.path);
    if (clean != r.path) {
      if (!r.query.empty()) clean += "?" + std::string(r.query);
      w.header().set("Location", clean);
      error(w, "301 moved permanently", 301);
      return;
    }
  }
  std::vector<std::string> path;
  for (std::string_view s : split_path(r.path)) path.push_back(unescape(s, false));
  std::string_view host = host_without_port(r.host);
  const route* best = nullptr;
  std::vector<std::string> allowed;
  for (const auto& rt : routes_) {
    if (!rt->host.empty() && !iequals(rt->host, host)) continue;
    if (!rt->match(path, nullptr)) continue;
    if (!rt->method_matches(r.method)) {
      allowed.push_back(rt->method);
      if (rt->method == "GET") allowed.emplace_back("HEAD");
      continue;
    }
    if (best == nullptr || rt->beats(*best)) best = rt.get();
  }
  if (best == nullptr && !allowed.empty()) {
    std::sort(allowed.begin(), allowed.end());
    allowed.erase(std::unique(allowed.begin(), allowed.end()), allowed.end());
    std::string allow;
    for (const std::string& m : allowed) allow += (allow.empty() ? "" : ", ") + m;
    w.header().set("Allow", allow);
    error(w, "405 method not allowed", 405);
    return;
  }
  // "/dir" matched by no pattern, or only by a subtree pattern such as "/":
  // if "/dir/" is registered, redirect to it (Go's trailing-slash redirect).
  bool exact = best != nullptr && (best->segs.empty() || best->segs.back().kind != seg_kind::rest);
  if (!exact && !path.empty() && !path.back().empty()) {
    std::vector<std::string> dir = path;
    dir.emplace_back();
    for (const auto& rt : routes_) {
      if ((!rt->host.empty() && !iequals(rt->host, host)) || !rt->method_matches(r.method)) continue;
      if (!rt->segs.empty() && rt->segs.back().kind == seg_kind::rest && rt->segs.back().text.empty() &&
          rt->segs.size() == dir.size() && rt->match(dir, nullptr)) {
        std::string to = std::string(r.path) + "/";
        if (!r.query.empty()) to += "?" + std::string(r.query);
        w.header().set("Location", to);
        error(w, "301 moved permanently", 301);
        return;
      }
    }
  }
  if (best != nullptr) {
    r.path_values.clear();
    best->match(path, &r.path_values);
    best->h(w, r);
    return;
  }
  error(w, "404 page not found", 404);
}

std::string_view request::path_value(std::string_view name) const noexcept {
  for (const auto& [k, v] : path_values) {
    if (k == name) return v;
  }
  return {};
}

std::string request::query_value(std::string_view name) const {
  std::string_view q = query;
  while (!q.empty()) {
    std::size_t amp = q.find('&');
    std::string_view pair = q.substr(0, amp);
    std::size_t eq = pair.find('=');
    if (unescape(pair.substr(0, eq), true) == name) {
      return eq == std::string_view::npos ? std::string() : unescape(pair.substr(eq + 1), true);
    }
    if (amp == std::string_view::npos) break;
    q.remove_prefix(amp + 1);
  }
  return {};
}

void error(response_writer& w, std::string_view message, int status) {
  w.header().set("Content-Type", "text/plain; charset=utf-8");
  w.header().set("X-Content-Type-Options", "nosniff");
  w.write_header(status);
  std::string body(message);
  body += '\n';
  w.write(body);
}

}  // namespace goro::http
