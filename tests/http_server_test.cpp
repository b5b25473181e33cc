// tests/http_server_test.cpp: goro::http::server and serve_mux in process,
// over loopback connections: the conformance table answered on the wire
// (status, close, no goroutine left behind), routing, response framing,
// Expect: 100-continue, pipelining, timeouts, graceful shutdown and the
// error-log hook. Responses are read with goro::http::parser's response
// side; raw bytes are checked where the exact wire form matters.
#include <goro/bufio.hpp>
#include <goro/goro.hpp>
#include <goro/http/server.hpp>

#include "helpers/test_util.hpp"
#include "http_cases.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <optional>
#include <string>
#include <vector>

using namespace std::chrono_literals;
namespace http = goro::http;
namespace net = goro::net;
namespace bufio = goro::bufio;

namespace {

struct wire_response {
  int status = 0;
  http::header headers;
  std::string body;
  bool keep_alive = false;
  bool failed = false;  // malformed or cut short
};

// A client connection reading responses with the parser.
class client_conn {
 public:
  explicit client_conn(const std::string& addr) : c_(net::dial("tcp", addr, 5s)), in_(c_) {
    c_.set_deadline(goro::clock::now() + 10s);
  }
  void send(std::string_view bytes) {
    try {
      c_.write_all(bytes);
    } catch (const net::error&) {
      // The server may close before reading everything: its answer still comes.
    }
  }
  // One response; std::nullopt if the connection ended before one.
  std::optional<wire_response> read(std::string_view method = "GET") {
    http::parser p(http::parser::side::response);
    std::string none;
    do {  // skip interim 1xx responses
      p.reset(method);
      if (!read_message(p, none)) return std::nullopt;
    } while (p.status() / 100 == 1 && !p.failed());
    wire_response r;
    read_message(p, r.body, true);
    r.failed = p.failed();
    r.status = p.status();
    for (const auto& f : p.headers().fields()) r.headers.add(f.name, f.value);
    r.keep_alive = p.keep_alive();
    return r;
  }
  // Reads what is left until the server closes; "<timeout>" if it does not.
  std::string rest() {
    std::string out;
    try {
      while (in_.buffered() > 0 || true) {
        std::string_view v = in_.peek(1);
        if (v.empty()) break;
        v = in_.peek(in_.buffered());
        out.append(v);
        in_.discard(v.size());
      }
    } catch (const net::error& e) {
      if (e.timeout()) out += "<timeout>";
    }
    return out;
  }
  net::conn& conn() { return c_; }
  bufio::reader& in() { return in_; }

 private:
  // Parses from the connection: the head, and the body if `body_too`.
  bool read_message(http::parser& p, std::string& body, bool body_too = false) {
    using st = http::parser::state;
    try {
      while (p.current_state() == st::head || (body_too && p.current_state() == st::body)) {
        if (in_.peek(1).empty()) return p.finish();
        std::string_view v = in_.peek(in_.buffered());
        if (p.current_state() == st::head) {
          in_.discard(p.parse_head(v));
        } else {
          auto piece = p.parse_body(v);
          body.append(piece.data);
          in_.discard(piece.consumed);
        }
      }
    } catch (const net::error&) {
      return false;
    }
    return !p.failed();
  }

  net::conn c_;
  bufio::reader in_;
};

// Runs `body` against a server on a loopback port, configured by `setup`.
void with_server(const std::function<void(http::server&)>& setup,
                 const std::function<void(http::server&, const std::string& addr)>& body) {
  goro::run([&] {
    http::server srv;
    setup(srv);
    net::listener ln = net::listen("tcp", "127.0.0.1:0");
    std::string addr = ln.local_address().to_string();
    goro::wait_group serving;
    serving.go([&] { srv.serve(ln); });
    body(srv, addr);
    srv.close();
    serving.wait();
  });
}

void echo_body(http::response_writer& w, const http::request& r) {
  w.write(r.body().read_all());
}

// Waits until the goroutine count is back to `n` (connection goroutines
// exit shortly after their client closes).
bool goroutines_back_to(std::int64_t n) {
  for (int i = 0; i < 500; i++) {
    if (goro::num_goroutine() <= n) return true;
    goro::sleep_for(10ms);
  }
  return false;
}

TEST(HttpServer, ConformanceTableOnTheWireLeavesNoGoroutine) {
  with_server(
      [](http::server& s) {
        http::parser_limits l = http_cases::case_limits();
        s.max_request_line = l.max_start_line;
        s.max_header_bytes = l.max_header_bytes;
        s.max_header_fields = l.max_fields;
        s.max_body_bytes = l.max_body;
        s.read_header_timeout = 5s;
        s.handler = echo_body;
      },
      [](http::server&, const std::string& addr) {
        std::int64_t base = goro::num_goroutine();
        for (const auto& k : http_cases::request_cases()) {
          // (No SCOPED_TRACE: gtest keeps it per thread, and this goroutine
          // may resume on another thread after it parks.)
          {
            client_conn c(addr);
            c.send(k.input);
            auto r = c.read();
            ASSERT_TRUE(r.has_value()) << k.name;
            if (k.error == http::parse_errc{}) {
              EXPECT_EQ(r->status, 200) << k.name;
              EXPECT_EQ(r->body, k.body) << k.name;
            } else {
              EXPECT_EQ(r->status, http::status_for(k.error)) << k.name << ": " << r->body;
              EXPECT_EQ(r->headers.get("Connection"), "close") << k.name;
              EXPECT_NE(r->body.find(std::string(http::make_error_code(k.error).message())),
                        std::string::npos)
                  << r->body;
              EXPECT_EQ(c.rest(), "") << k.name;  // closed after the answer
            }
          }
          EXPECT_TRUE(goroutines_back_to(base))
              << k.name << ": " << goro::num_goroutine() << " goroutines, " << base << " before";
        }
      });
}

TEST(HttpServer, MuxPatternsWildcardsAndPrecedence) {
  http::serve_mux mux;
  auto say = [](std::string what) {
    return [what](http::response_writer& w, const http::request& r) {
      std::string out = what;
      for (const auto& [k, v] : r.path_values) out += " " + k + "=" + v;
      w.write(out);
    };
  };
  mux.handle("/", say("root"));
  mux.handle("GET /items/{id}", say("item"));
  mux.handle("DELETE /items/{id}", say("delete"));
  mux.handle("/items/special", say("special"));
  mux.handle("/static/", say("static"));
  mux.handle("/files/{path...}", say("files"));
  mux.handle("/exact/{$}", say("exact"));
  mux.handle("api.example:80/", say("api"));  // never matches: a host pattern has no port
  mux.handle("api.example/v1/", say("api-v1"));
  EXPECT_THROW(mux.handle("GET /items/{id}", say("again")), std::invalid_argument);
  EXPECT_THROW(mux.handle("/a/{x}/{x}", say("dup")), std::invalid_argument);
  EXPECT_THROW(mux.handle("/a/{x...}/b", say("rest")), std::invalid_argument);
  EXPECT_THROW(mux.handle("no-slash", say("bad")), std::invalid_argument);
  EXPECT_THROW(mux.handle("/a/b{x}", say("partial")), std::invalid_argument);
  with_server([&](http::server& s) { s.handler = std::ref(mux); },
              [](http::server&, const std::string& addr) {
                client_conn c(addr);
                auto get = [&](const std::string& method, const std::string& target,
                               const std::string& host = "x") {
                  c.send(method + " " + target + " HTTP/1.1\r\nHost: " + host + "\r\n\r\n");
                  auto r = c.read(method);
                  EXPECT_TRUE(r.has_value());
                  return r.value_or(wire_response{});
                };
                EXPECT_EQ(get("GET", "/items/42").body, "item id=42");
                EXPECT_EQ(get("GET", "/items/a%2Fb").body, "item id=a/b");
                EXPECT_EQ(get("HEAD", "/items/42").status, 200);
                EXPECT_EQ(get("DELETE", "/items/42").body, "delete id=42");
                EXPECT_EQ(get("GET", "/items/special").body, "special");
                EXPECT_EQ(get("POST", "/items/42").body, "root");  // "/" takes every method, as in Go
                EXPECT_EQ(get("GET", "/static/css/a.css").body, "static");
                auto redirect = get("GET", "/static?v=1");
                EXPECT_EQ(redirect.status, 301);
                EXPECT_EQ(redirect.headers.get("Location"), "/static/?v=1");
                EXPECT_EQ(get("GET", "/files/a/b/c").body, "files path=a/b/c");
                EXPECT_EQ(get("GET", "/files/").body, "files path=");
                EXPECT_EQ(get("GET", "/exact/").body, "exact");
                EXPECT_EQ(get("GET", "/exact/more").body, "root");
                EXPECT_EQ(get("GET", "/v1/x", "api.example:8080").body, "api-v1");
                EXPECT_EQ(get("GET", "/v1/x", "other").body, "root");
                auto clean = get("GET", "/static/../items/7");
                EXPECT_EQ(clean.status, 301);
                EXPECT_EQ(clean.headers.get("Location"), "/items/7");
                EXPECT_EQ(get("GET", "/nothing/here").body, "root");
              });
  http::serve_mux strict;
  strict.handle("GET /items/{id}", say("item"));
  strict.handle("DELETE /items/{id}", say("delete"));
  with_server([&](http::server& s) { s.handler = std::ref(strict); },
              [](http::server&, const std::string& addr) {
                client_conn c(addr);
                c.send("GET /other HTTP/1.1\r\nHost: x\r\n\r\n");
                auto r = c.read();
                ASSERT_TRUE(r);
                EXPECT_EQ(r->status, 404);
                EXPECT_EQ(r->body, "404 page not found\n");
                c.send("POST /items/4 HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
                r = c.read();
                ASSERT_TRUE(r);
                EXPECT_EQ(r->status, 405);
                EXPECT_EQ(r->headers.get("Allow"), "DELETE, GET, HEAD");
              });
}

TEST(HttpServer, ResponseFramingBufferedStreamedDeclaredAndHead) {
  const std::string big(10000, 'b');
  with_server(
      [&](http::server& s) {
        s.handler = [&](http::response_writer& w, const http::request& r) {
          if (r.path == "/small") {
            w.write("small");
          } else if (r.path == "/big") {
            for (int i = 0; i < 10; i++) w.write(big.substr(0, 1000));
          } else if (r.path == "/flush") {
            w.write("a");
            w.flush();
            w.write("b");
          } else if (r.path == "/declared") {
            w.header().set("Content-Length", "6000");
            w.write(std::string(6000, 'd'));
          } else if (r.path == "/over") {
            w.header().set("Content-Length", "3");
            w.write("abcdef");
          } else if (r.path == "/nocontent") {
            w.write_header(204);
            w.write("ignored");
          } else if (r.path == "/status") {
            w.header().set("X-Bad", "a\r\nInjected: yes");
            w.write_header(418);
          }
        };
      },
      [&](http::server&, const std::string& addr) {
        client_conn c(addr);
        c.send("GET /small HTTP/1.1\r\nHost: x\r\n\r\n");
        auto r = c.read();
        ASSERT_TRUE(r);
        EXPECT_EQ(r->headers.get("Content-Length"), "5");
        EXPECT_EQ(r->body, "small");
        c.send("GET /big HTTP/1.1\r\nHost: x\r\n\r\n");
        r = c.read();
        ASSERT_TRUE(r);
        EXPECT_EQ(r->headers.get("Transfer-Encoding"), "chunked");
        EXPECT_EQ(r->body, big);
        EXPECT_TRUE(r->keep_alive);
        c.send("GET /flush HTTP/1.1\r\nHost: x\r\n\r\n");
        r = c.read();
        ASSERT_TRUE(r);
        EXPECT_EQ(r->body, "ab");
        c.send("GET /declared HTTP/1.1\r\nHost: x\r\n\r\n");
        r = c.read();
        ASSERT_TRUE(r);
        EXPECT_EQ(r->headers.get("Content-Length"), "6000");
        EXPECT_FALSE(r->headers.has("Transfer-Encoding"));
        EXPECT_EQ(r->body.size(), 6000u);
        c.send("HEAD /big HTTP/1.1\r\nHost: x\r\n\r\n");
        r = c.read("HEAD");
        ASSERT_TRUE(r);
        EXPECT_EQ(r->body, "");
        c.send("GET /nocontent HTTP/1.1\r\nHost: x\r\n\r\n");
        r = c.read();
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 204);
        EXPECT_FALSE(r->headers.has("Content-Length"));
        c.send("GET /status HTTP/1.1\r\nHost: x\r\n\r\n");
        r = c.read();
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 418);
        EXPECT_FALSE(r->headers.has("X-Bad"));  // a field with CR LF is never sent
        EXPECT_FALSE(r->headers.has("Injected"));
        // More than the declared length: cut there, and the connection closes.
        client_conn over(addr);
        over.send("GET /over HTTP/1.1\r\nHost: x\r\n\r\n");
        r = over.read();
        ASSERT_TRUE(r);
        EXPECT_EQ(r->body, "abc");
        EXPECT_EQ(over.rest(), "");
        // HTTP/1.0: a streamed body is delimited by the close.
        client_conn old(addr);
        old.send("GET /big HTTP/1.0\r\n\r\n");
        r = old.read();
        ASSERT_TRUE(r);
        EXPECT_EQ(r->body, big);
        EXPECT_FALSE(r->headers.has("Transfer-Encoding"));
        EXPECT_FALSE(r->keep_alive);
      });
}

TEST(HttpServer, ExpectContinueIsSentOnFirstBodyReadOnly) {
  with_server(
      [](http::server& s) {
        s.handler = [](http::response_writer& w, const http::request& r) {
          if (r.path == "/read") {
            w.write(r.body().read_all());
          } else {
            http::error(w, "no thanks", 403);  // answers without reading the body
          }
        };
      },
      [](http::server&, const std::string& addr) {
        client_conn c(addr);
        c.send("PUT /read HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n");
        std::string interim(25, '\0');
        c.in().read_full(std::span<char>(interim));
        EXPECT_EQ(interim, "HTTP/1.1 100 Continue\r\n\r\n");
        c.send("hello");
        auto r = c.read();
        ASSERT_TRUE(r);
        EXPECT_EQ(r->body, "hello");
        EXPECT_TRUE(r->keep_alive);
        // Refused without reading: no 100, and the connection closes, since
        // the body the client holds back is never going to be framed.
        c.send("PUT /refuse HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n");
        std::string all = c.rest();
        EXPECT_TRUE(all.starts_with("HTTP/1.1 403 Forbidden\r\n")) << all;
        EXPECT_NE(all.find("Connection: close"), std::string::npos) << all;
      });
}

TEST(HttpServer, PipelinedRequestsAnsweredInOrderInOneWrite) {
  with_server([](http::server& s) { s.handler = echo_body; },
              [](http::server& srv, const std::string& addr) {
                client_conn c(addr);
                std::string batch;
                for (int i = 0; i < 20; i++) {
                  std::string b = "req" + std::to_string(i);
                  batch += "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(b.size()) +
                           "\r\n\r\n" + b;
                }
                c.send(batch);
                for (int i = 0; i < 20; i++) {
                  auto r = c.read();
                  ASSERT_TRUE(r);
                  EXPECT_EQ(r->body, "req" + std::to_string(i));
                }
                EXPECT_EQ(srv.stats().requests, 20);
                EXPECT_EQ(srv.stats().accepted, 1);
              });
}

TEST(HttpServer, UnreadBodyIsDrainedAndTheConnectionKept) {
  with_server(
      [](http::server& s) {
        s.handler = [](http::response_writer& w, const http::request&) { w.write("k"); };
      },
      [](http::server& srv, const std::string& addr) {
        client_conn c(addr);
        c.send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n" + std::string(1000, 'z') +
               "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        for (int i = 0; i < 2; i++) {
          auto r = c.read();
          ASSERT_TRUE(r);
          EXPECT_EQ(r->body, "k");
        }
        EXPECT_EQ(srv.stats().accepted, 1);
      });
}

TEST(HttpServer, HandlerExceptionGives500AndIsLogged) {
  std::vector<std::string> logged;
  goro::mutex mu;
  with_server(
      [&](http::server& s) {
        s.handler = [](http::response_writer&, const http::request&) { throw std::runtime_error("boom"); };
        s.error_log = [&](std::string_view m) {
          std::lock_guard lk(mu);
          logged.emplace_back(m);
        };
      },
      [&](http::server&, const std::string& addr) {
        client_conn c(addr);
        c.send("GET /x HTTP/1.1\r\nHost: x\r\n\r\n");
        auto r = c.read();
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 500);
        EXPECT_FALSE(r->keep_alive);
      });
  ASSERT_EQ(logged.size(), 1u);
  EXPECT_NE(logged[0].find("boom"), std::string::npos) << logged[0];
  EXPECT_NE(logged[0].find("GET /x"), std::string::npos) << logged[0];
}

TEST(HttpServer, IdleAndReadTimeoutsCloseTheConnection) {
  with_server(
      [](http::server& s) {
        s.idle_timeout = 200ms;
        s.read_timeout = 300ms;
        s.read_header_timeout = 2s;
        s.handler = echo_body;
      },
      [](http::server& srv, const std::string& addr) {
        client_conn c(addr);
        c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        ASSERT_TRUE(c.read());
        auto t0 = goro::clock::now();
        EXPECT_EQ(c.rest(), "");  // idle past idle_timeout: closed
        auto idle = goro::clock::now() - t0;
        EXPECT_GE(idle, 150ms);
        // A body that stops arriving: cut by read_timeout.
        client_conn b(addr);
        b.send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nab");
        t0 = goro::clock::now();
        std::string rest = b.rest();
        EXPECT_EQ(rest.find("HTTP/1.1 200"), std::string::npos) << rest;
        EXPECT_GE(goro::clock::now() - t0, 200ms);
        if (timing_checks()) {
          EXPECT_LT(idle, 2s);
        }
        EXPECT_TRUE(goroutines_back_to(2));
        EXPECT_EQ(srv.stats().open, 0);
      });
}

TEST(HttpServer, WriteTimeoutCutsOffAClientThatDoesNotRead) {
  std::atomic<bool> write_failed{false}, handler_started{false};
  with_server(
      [&](http::server& s) {
        s.write_timeout = 300ms;
        s.handler = [&](http::response_writer& w, const http::request&) {
          handler_started = true;
          std::string chunk(64 << 10, 'w');
          try {
            for (int i = 0; i < 1024; i++) w.write(chunk);  // 64 MiB: far more than the socket buffers
          } catch (const net::error& e) {
            write_failed = e.timeout();
            throw;
          }
        };
      },
      [&](http::server& srv, const std::string& addr) {
        client_conn c(addr);
        c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");  // and never read the answer
        auto t0 = goro::clock::now();
        // The connection's goroutine must exist before its end is awaited
        // (the server counts a connection open just before it spawns it).
        while (!handler_started && goro::clock::now() - t0 < 5s) goro::sleep_for(1ms);
        EXPECT_TRUE(handler_started.load());
        EXPECT_TRUE(goroutines_back_to(2));
        EXPECT_GE(goro::clock::now() - t0, 250ms);
        EXPECT_EQ(srv.stats().open, 0);
      });
  EXPECT_TRUE(write_failed.load());
}

TEST(HttpServer, ShutdownWaitsForBusyHandlersUntilItsContextEnds) {
  goro::chan<int> release(1);
  std::atomic<bool> cancelled{false};
  with_server(
      [&](http::server& s) {
        s.handler = [&](http::response_writer& w, const http::request& r) {
          if (r.path == "/slow") {
            goro::select(goro::on_recv(release), goro::on_recv(r.ctx.done()));
            cancelled = r.ctx.err() == goro::context_errc::canceled;
          }
          w.write("done");
        };
      },
      [&](http::server& srv, const std::string& addr) {
        client_conn idle(addr);
        idle.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        ASSERT_TRUE(idle.read());
        client_conn busy(addr);
        busy.send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n");
        while (srv.stats().open < 2 || srv.stats().idle > 1) goro::sleep_for(5ms);
        // First: the handler finishes in time; its answer says close.
        goro::go([&] {
          goro::sleep_for(100ms);
          release.send(1);
        });
        auto [ctx, cancel] = goro::with_timeout(goro::context::background(), 5s);
        EXPECT_FALSE(srv.shutdown(ctx));
        cancel();
        EXPECT_EQ(idle.rest(), "");
        auto r = busy.read();
        ASSERT_TRUE(r);
        EXPECT_EQ(r->body, "done");
        EXPECT_FALSE(r->keep_alive);
        EXPECT_THROW(net::dial("tcp", addr, 1s), net::error);  // no longer listening
      });
  EXPECT_FALSE(cancelled.load());
  // Second: the handler never finishes; shutdown gives up with the context's
  // error and the request's context is cancelled.
  with_server(
      [&](http::server& s) {
        s.handler = [&](http::response_writer& w, const http::request& r) {
          goro::select(goro::on_recv(r.ctx.done()));
          cancelled = r.ctx.err() == goro::context_errc::canceled;
          w.write("late");
        };
      },
      [&](http::server& srv, const std::string& addr) {
        client_conn busy(addr);
        busy.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        while (srv.stats().open < 1 || srv.stats().idle > 0) goro::sleep_for(5ms);
        auto [ctx, cancel] = goro::with_timeout(goro::context::background(), 200ms);
        EXPECT_EQ(srv.shutdown(ctx), goro::context_errc::deadline_exceeded);
        cancel();
        EXPECT_EQ(srv.stats().open, 0);
      });
  EXPECT_TRUE(cancelled.load());
}

TEST(HttpServer, IdleConnectionsHoldNoReadBuffer) {
  with_server([](http::server& s) { s.handler = echo_body; },
              [](http::server& srv, const std::string& addr) {
                const int n = static_cast<int>(goro_test::scaled3(200, 50, 50));
                std::vector<std::unique_ptr<client_conn>> conns;
                for (int i = 0; i < n; i++) {
                  conns.push_back(std::make_unique<client_conn>(addr));
                  conns.back()->send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc");
                  ASSERT_TRUE(conns.back()->read());
                }
                while (srv.stats().idle < n) goro::sleep_for(5ms);
                // The clients' readers keep theirs until their next read;
                // the server's idle connections hold none (a few may still be
                // on their way to their wait on a busy machine).
                std::int64_t clients = 0;
                for (const auto& c : conns) clients += c->in().holds_buffer();
                EXPECT_LE(net::read_buffer_pool_stats().borrowed - clients, 4);
              });
}

}  // namespace
