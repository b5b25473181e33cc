// http/debug_endpoints.cpp: goro::http::debug::mount, its handlers, and
// the goroutine dump (goro/http/debug.hpp).
//
// Every handler builds its whole body before writing it, so a failure
// (std::bad_alloc) becomes the server's 500 rather than half a response.
// Handlers run on the connection's goroutine. The dump, the grouped dump
// and the profile take one at a time (the dump's sampling lock, held for
// the walk); a second request waits for the first on its worker thread.
#include "http/debug_stacks.hpp"

#include <goro/debug.hpp>
#include <goro/http/debug.hpp>

#include <charconv>
#include <stdexcept>

namespace goro::http::debug {

namespace {

void put_hex(std::string& out, std::uintptr_t v) {
  char buf[2 + 16];
  auto res = std::to_chars(buf, buf + sizeof buf, v, 16);
  out += "0x";
  out.append(buf, res.ptr);
}

void put_frame_line(std::string& out, std::uintptr_t pc, const debug_detail::resolved_frame& r) {
  out += "#\t";
  put_hex(out, pc);
  out += '\t';
  out += r.function;
  out += '+';
  put_hex(out, r.offset);
  out += '\t';
  if (r.line > 0) {
    out += r.file;
    out += ':';
    out += std::to_string(r.line);
  } else if (r.module.empty()) {
    out += '?';
  } else {
    out += r.module;
    out += '+';
    put_hex(out, r.module_offset);
  }
  out += '\n';
}

// Go's goroutine?debug=1 layout, with module+offset where no source line
// is known.
std::string grouped_goroutines() {
  std::vector<debug_detail::stack_group> groups = debug_detail::group_goroutine_stacks();
  std::map<std::uintptr_t, debug_detail::resolved_frame> frames = debug_detail::resolve_frames(groups);
  std::uint64_t total = 0;
  for (const debug_detail::stack_group& g : groups) total += g.count;
  std::string out = "goroutine profile: total " + std::to_string(total) + "\n";
  for (const debug_detail::stack_group& g : groups) {
    out += std::to_string(g.count) + " @";
    for (const detail::Frame& f : g.frames) {
      out += ' ';
      put_hex(out, f.pc);
    }
    out += '\n';
    if (!g.frames_known) out += "#\tframes unavailable (running on another thread, or stack compacted)\n";
    for (std::size_t i = 0; i < g.frames.size(); ++i) {
      if (i == g.elided_at && g.elided > 0)
        out += "#\t..." + std::to_string(g.elided) + " frames elided...\n";
      std::uintptr_t pc = detail::symbol_pc(g.frames[i]);
      put_frame_line(out, pc, frames.at(pc));
    }
    out += '\n';
  }
  return out;
}

void check_prefix(std::string_view prefix) {
  if (prefix.empty() || prefix.front() != '/' || prefix.back() != '/') {
    throw std::invalid_argument("goro::http::debug::mount: prefix \"" + std::string(prefix) +
                                "\" must begin and end with '/'");
  }
}

// ?debug=N as a number; 0 when absent or not a number.
int debug_level(const request& r) {
  std::string v = r.query_value("debug");
  int level = 0;
  std::from_chars(v.data(), v.data() + v.size(), level);
  return level;
}

void serve_goroutines(response_writer& w, const request& r) {
  std::string body = goroutines_text(debug_level(r));
  w.header().set("Content-Type", "text/plain; charset=utf-8");
  w.write(body);
}

void serve_goroutine_profile(response_writer& w, const request&) {
  std::string body = goroutine_profile();
  w.header().set("Content-Type", "application/octet-stream");
  w.header().set("Content-Disposition", "attachment; filename=\"goroutine.pb.gz\"");
  w.write(body);
}

void serve_prometheus(response_writer& w, const request&) {
  std::string body = prometheus_metrics();
  w.header().set("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
  w.write(body);
}

void serve_metrics_json(response_writer& w, const request&) {
  std::string body = metrics_json();
  w.header().set("Content-Type", "application/json");
  w.header().set("Cache-Control", "no-store");
  w.write(body);
}

void serve_dashboard(response_writer& w, const request&) {
  w.header().set("Content-Type", "text/html; charset=utf-8");
  w.write(dashboard_html());
}

}  // namespace

std::string goroutines_text(int debug) {
  return debug == 1 ? grouped_goroutines() : goro::dump_goroutines();
}

void mount(serve_mux& mux, std::string_view prefix) {
  check_prefix(prefix);
  std::string p(prefix);
  mux.handle("GET " + p + "goroutines", &serve_goroutines);
  mux.handle("GET " + p + "pprof/goroutine", &serve_goroutine_profile);
  mux.handle("GET " + p + "metrics", &serve_prometheus);
  mux.handle("GET " + p + "metrics.json", &serve_metrics_json);
  mux.handle("GET " + p + "{$}", &serve_dashboard);
}

}  // namespace goro::http::debug
