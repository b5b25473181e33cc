// examples/http_server.cpp: an HTTP/1.1 server on goro::http, one goroutine
// per connection.
//
//   http_server [--addr :8080] [--read-header-timeout 5s] [--idle-timeout 60s]
//               [--read-timeout 30s] [--write-timeout 30s] [--grace 10s]
//               [--max-header-bytes 16384] [--max-body 1048576] [--procs N]
//               [--compact-after 1s]
//
// Routes: GET /            "Hello, World!"
//         GET /healthz     "ok"
//         GET /debug/goro/ the debug endpoints of goro/http/debug.hpp: a
//                          live dashboard, goroutines[?debug=1],
//                          pprof/goroutine (for go tool pprof), metrics
//                          (Prometheus) and metrics.json
//         GET /debug/goroutines[?dump=1]  this server's own figures: goroutine
//                          count, stack statistics, buffer pool and
//                          connections (and a dump)
//         POST /echo       the request body back
//
// The protocol work is goro::http::server's (goro/http/server.hpp):
// keep-alive and pipelining, strict parsing with a status and a lingering
// close for malformed requests, Expect: 100-continue, the timeouts (the
// read-header timeout runs from the accept, which defeats slowloris), no
// buffer held by an idle connection and, with --compact-after (1 s; 0 turns
// it off), idle connections' stacks compacted too. The request line may be
// 4 KiB (414 past it), the header block --max-header-bytes and 100 fields
// (431), a body --max-body (413).
//
// SIGINT or SIGTERM shuts down gracefully, like Go's Server.Shutdown: stop
// accepting, close idle connections, let the others finish their request
// (answered with "Connection: close"), and after --grace close what is left.
#include <goro/goro.hpp>
#include <goro/http/debug.hpp>
#include <goro/http/server.hpp>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

using namespace std::chrono_literals;
namespace net = goro::net;
namespace http = goro::http;

namespace {

struct config {
  std::string addr = ":8080";
  goro::clock::duration read_header_timeout = 5s;
  goro::clock::duration idle_timeout = 60s;
  goro::clock::duration read_timeout = 30s;
  goro::clock::duration write_timeout = 30s;
  goro::clock::duration grace = 10s;
  std::size_t max_header_bytes = 16 << 10;
  std::size_t max_body = 1 << 20;
  goro::clock::duration compact_after = 1s;
};

goro::clock::duration parse_duration(std::string_view s) {
  std::string text(s);  // strtod's end pointer points into it
  char* end = nullptr;
  double v = std::strtod(text.c_str(), &end);
  std::string_view unit(end);
  double scale = unit == "ms" ? 1e-3 : unit == "m" ? 60 : unit == "us" ? 1e-6 : 1;
  return std::chrono::duration_cast<goro::clock::duration>(std::chrono::duration<double>(v * scale));
}

[[noreturn]] void usage() {
  std::fprintf(stderr,
               "usage: http_server [--addr :8080] [--read-header-timeout 5s] [--idle-timeout 60s]\n"
               "                   [--read-timeout 30s] [--write-timeout 30s] [--grace 10s]\n"
               "                   [--max-header-bytes 16384] [--max-body 1048576] [--procs N]\n"
               "                   [--compact-after 1s]\n");
  std::exit(2);
}

config parse_args(int argc, char** argv) {
  config c;
  for (int i = 1; i < argc; i++) {
    std::string_view a = argv[i];
    if (i + 1 >= argc) usage();
    std::string v = argv[++i];
    if (a == "--addr") {
      c.addr = v;
    } else if (a == "--read-header-timeout") {
      c.read_header_timeout = parse_duration(v);
    } else if (a == "--idle-timeout") {
      c.idle_timeout = parse_duration(v);
    } else if (a == "--read-timeout") {
      c.read_timeout = parse_duration(v);
    } else if (a == "--write-timeout") {
      c.write_timeout = parse_duration(v);
    } else if (a == "--grace") {
      c.grace = parse_duration(v);
    } else if (a == "--max-header-bytes") {
      c.max_header_bytes = std::strtoull(v.c_str(), nullptr, 10);
    } else if (a == "--max-body") {
      c.max_body = std::strtoull(v.c_str(), nullptr, 10);
    } else if (a == "--compact-after") {
      c.compact_after = parse_duration(v);
    } else if (a == "--procs") {
      goro::set_maxprocs(std::atoi(v.c_str()));
    } else {
      usage();
    }
  }
  return c;
}

void debug_goroutines(const http::server& srv, http::response_writer& w, const http::request& r) {
  goro::stack_stats st = goro::read_stack_stats();
  net::buffer_pool_stats bp = net::read_buffer_pool_stats();
  http::server_stats ss = srv.stats();
  char buf[1024];
  std::snprintf(buf, sizeof buf,
                "goroutines: %lld\n"
                "stack_inuse: %zu bytes\nstack_sys: %zu bytes\nstack_reserved: %zu bytes\n"
                "live_stacks: %zu\npooled_stacks: %zu\ngrowth_pages: %llu\nshrinks: %llu (%llu bytes)\n"
                "read_buffers: borrowed %lld, free %lld, allocated %llu\n"
                "connections: open %lld, idle %lld, accepted %lld\n",
                static_cast<long long>(goro::num_goroutine()), st.stack_inuse, st.stack_sys,
                st.stack_reserved, st.live_stacks, st.pooled_stacks,
                static_cast<unsigned long long>(st.growth_pages), static_cast<unsigned long long>(st.shrinks),
                static_cast<unsigned long long>(st.shrunk_bytes), static_cast<long long>(bp.borrowed),
                static_cast<long long>(bp.free), static_cast<unsigned long long>(bp.allocated),
                static_cast<long long>(ss.open), static_cast<long long>(ss.idle),
                static_cast<long long>(ss.accepted));
  std::string body = buf;
  if (r.query_value("dump") == "1") {
    body += "\n";
    body += goro::dump_goroutines();
  }
  w.write(body);
}

int serve(const config& cfg) {
  goro::chan<int> sig(1);
  goro::signal_notify(sig, SIGINT, SIGTERM);

  http::server srv;
  http::serve_mux mux;
  mux.handle("GET /{$}", [](http::response_writer& w, const http::request&) { w.write("Hello, World!\n"); });
  mux.handle("GET /healthz", [](http::response_writer& w, const http::request&) { w.write("ok\n"); });
  http::debug::mount(mux, "/debug/goro/");
  mux.handle("GET /debug/goroutines",
             [&srv](http::response_writer& w, const http::request& r) { debug_goroutines(srv, w, r); });
  auto echo = [](http::response_writer& w, const http::request& r) {
    std::string_view ct = r.headers->get("Content-Type");
    w.header().set("Content-Type", ct.empty() ? "application/octet-stream" : ct);
    w.write(r.body().read_all());
  };
  mux.handle("POST /echo", echo);
  mux.handle("PUT /echo", echo);

  srv.handler = std::ref(mux);
  srv.read_header_timeout = cfg.read_header_timeout;
  srv.idle_timeout = cfg.idle_timeout;
  srv.read_timeout = cfg.read_timeout;
  srv.write_timeout = cfg.write_timeout;
  srv.max_header_bytes = cfg.max_header_bytes;
  srv.max_request_line = 4096;
  srv.max_body_bytes = cfg.max_body;
  srv.compact_after = cfg.compact_after;
  srv.error_log = [](std::string_view msg) {
    std::fprintf(stderr, "http_server: %.*s\n", static_cast<int>(msg.size()), msg.data());
  };

  net::listen_options lo;
  lo.on_accept_error = [](const net::error& e, std::chrono::milliseconds d) {
    std::fprintf(stderr, "http_server: %s; retrying in %lldms\n", e.what(),
                 static_cast<long long>(d.count()));
  };
  net::listener ln;
  try {
    ln = net::listen("tcp", cfg.addr, lo);
  } catch (const net::error& e) {
    std::fprintf(stderr, "http_server: %s\n", e.what());
    return 1;
  }
  std::printf("http_server: listening on %s\n", ln.local_address().to_string().c_str());
  std::fflush(stdout);
  goro::wait_group serving;
  serving.go([&] { srv.serve(ln); });

  int got = sig.recv().value_or(0);
  std::printf("http_server: %s, shutting down\n", strsignal(got));
  std::fflush(stdout);
  auto [ctx, cancel] = goro::with_timeout(goro::context::background(), cfg.grace);
  srv.shutdown(ctx);
  cancel();
  serving.wait();
  http::server_stats ss = srv.stats();
  std::printf("http_server: served %lld requests on %lld connections\n", static_cast<long long>(ss.requests),
              static_cast<long long>(ss.accepted));
  std::fflush(stdout);
  goro::signal_stop(sig);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  config cfg = parse_args(argc, argv);
  goro::block_signals({SIGINT, SIGTERM});
  return goro::run([&] { return serve(cfg); });
}
