// http/debug_metrics.cpp: see debug_metrics.hpp.
//
// Both formats read every metric with one metrics::read_all() and write
// them in all()'s order, so that a scrape is one consistent pass (each
// figure exact at some instant of that call, as metrics::read promises).
#include "http/debug_metrics.hpp"

#include <goro/http/debug.hpp>

#include <charconv>
#include <chrono>
#include <cmath>

namespace goro::http::debug_detail {

namespace {

bool prometheus_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

// Prometheus' float syntax: shortest round-trip decimal, +Inf, -Inf, NaN.
void put_double(std::string& out, double v) {
  if (std::isnan(v)) {
    out += "NaN";
  } else if (std::isinf(v)) {
    out += v > 0 ? "+Inf" : "-Inf";
  } else {
    char buf[32];
    auto res = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, res.ptr);
  }
}

// HELP text: backslash and newline escaped.
void put_help(std::string& out, std::string_view help) {
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
}

const char* type_name(metrics::kind k) {
  switch (k) {
    case metrics::kind::counter:
      return "counter";
    case metrics::kind::gauge:
      return "gauge";
    case metrics::kind::histogram:
      return "histogram";
  }
  return "untyped";
}

void put_histogram(std::string& out, const std::string& name, const metrics::histogram& h) {
  std::uint64_t total = 0;
  for (std::size_t i = 0; i < h.counts.size() && i + 1 < h.buckets.size(); ++i) {
    total += h.counts[i];
    out += name + "_bucket{le=\"";
    put_double(out, h.buckets[i + 1]);
    out += "\"} " + std::to_string(total) + "\n";
  }
  if (h.buckets.empty() || !std::isinf(h.buckets.back())) {
    out += name + "_bucket{le=\"+Inf\"} " + std::to_string(total) + "\n";
  }
  out += name + "_count " + std::to_string(total) + "\n";
}

// A JSON string of `s` (metric names and units are ASCII; quotes,
// backslashes and control characters are escaped all the same).
void put_json_string(std::string& out, std::string_view s) {
  out += '"';
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\u00";
      out += kHex[(c >> 4) & 15];
      out += kHex[c & 15];
    } else {
      out += c;
    }
  }
  out += '"';
}

// JSON has no infinities: they are written as the strings "+Inf", "-Inf".
void put_json_double(std::string& out, double v) {
  if (std::isnan(v) || std::isinf(v)) {
    out += '"';
    put_double(out, v);
    out += '"';
  } else {
    put_double(out, v);
  }
}

void put_json_value(std::string& out, const metrics::sample& s) {
  if (const auto* u = std::get_if<std::uint64_t>(&s.value)) {
    out += ",\"value\":" + std::to_string(*u);
  } else if (const auto* d = std::get_if<double>(&s.value)) {
    out += ",\"value\":";
    put_json_double(out, *d);
  } else if (const auto* h = std::get_if<metrics::histogram>(&s.value)) {
    out += ",\"buckets\":[";
    for (std::size_t i = 0; i < h->buckets.size(); ++i) {
      if (i > 0) out += ',';
      put_json_double(out, h->buckets[i]);
    }
    out += "],\"counts\":[";
    for (std::size_t i = 0; i < h->counts.size(); ++i) {
      if (i > 0) out += ',';
      out += std::to_string(h->counts[i]);
    }
    out += ']';
  }
}

}  // namespace

std::string prometheus_name(const metrics::description& d) {
  std::string_view path = d.name.substr(0, d.name.find(':'));
  if (path.starts_with('/')) path.remove_prefix(1);
  std::string name;
  if (!path.starts_with("goro/")) name = "goro_";
  for (char c : path) name += prometheus_name_char(c) ? c : '_';
  std::string unit;
  for (char c : d.unit) unit += prometheus_name_char(c) ? c : '_';
  if (!unit.empty() && !name.ends_with("_" + unit)) name += "_" + unit;
  if (d.k == metrics::kind::counter) name += "_total";
  return name;
}

}  // namespace goro::http::debug_detail

namespace goro::http::debug {

std::string prometheus_metrics() {
  const std::vector<metrics::description>& all = metrics::all();
  std::vector<metrics::sample> samples = metrics::read_all();
  std::string out;
  for (std::size_t i = 0; i < all.size() && i < samples.size(); ++i) {
    const metrics::description& d = all[i];
    const metrics::sample& s = samples[i];
    if (std::holds_alternative<std::monostate>(s.value)) continue;
    std::string name = debug_detail::prometheus_name(d);
    out += "# HELP " + name + " ";
    debug_detail::put_help(out, d.help);
    out += " (" + std::string(d.name) + ")\n# TYPE " + name + " " + debug_detail::type_name(d.k) + "\n";
    if (const auto* u = std::get_if<std::uint64_t>(&s.value)) {
      out += name + " " + std::to_string(*u) + "\n";
    } else if (const auto* v = std::get_if<double>(&s.value)) {
      out += name + " ";
      debug_detail::put_double(out, *v);
      out += '\n';
    } else if (const auto* h = std::get_if<metrics::histogram>(&s.value)) {
      debug_detail::put_histogram(out, name, *h);
    }
  }
  return out;
}

std::string metrics_json() {
  const std::vector<metrics::description>& all = metrics::all();
  std::vector<metrics::sample> samples = metrics::read_all();
  auto now = std::chrono::system_clock::now().time_since_epoch();
  std::string out =
      "{\"time_ms\":" + std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(now).count()) +
      ",\"metrics\":[";
  bool first = true;
  for (std::size_t i = 0; i < all.size() && i < samples.size(); ++i) {
    const metrics::description& d = all[i];
    if (std::holds_alternative<std::monostate>(samples[i].value)) continue;
    if (!first) out += ',';
    first = false;
    out += "{\"name\":";
    debug_detail::put_json_string(out, d.name);
    out += ",\"unit\":";
    debug_detail::put_json_string(out, d.unit);
    out += ",\"kind\":";
    debug_detail::put_json_string(out, debug_detail::type_name(d.k));
    out += ",\"cumulative\":";
    out += d.cumulative ? "true" : "false";
    debug_detail::put_json_value(out, samples[i]);
    out += '}';
  }
  out += "]}\n";
  return out;
}

}  // namespace goro::http::debug
