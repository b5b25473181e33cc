// tests/http_client_test.cpp: goro::http::client and transport against
// goro's own server in process (pool reuse counted by the server's accepts,
// idle close, per-host limits, redirects, body framings, cancellation,
// timeouts, 100-continue), and against servers nobody here wrote: Python's
// http.server and, when Go is installed, a small net/http program built by
// the test. External servers are child processes on loopback, killed at the
// end; a test skips with a message if its tool is missing.
#include <goro/goro.hpp>
#include <goro/http/client.hpp>
#include <goro/http/server.hpp>

#include "helpers/test_util.hpp"
#include "net_tools/spawn.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

using namespace std::chrono_literals;
namespace http = goro::http;
namespace net = goro::net;

namespace {

// Runs `body` against a goro server on a loopback port.
void with_server(const http::handler_func& handler,
                 const std::function<void(http::server&, const std::string& base)>& body) {
  goro::run([&] {
    http::server srv;
    srv.handler = handler;
    net::listener ln = net::listen("tcp", "127.0.0.1:0");
    std::string base = "http://" + ln.local_address().to_string();
    goro::wait_group serving;
    serving.go([&] { srv.serve(ln); });
    body(srv, base);
    srv.close();
    serving.wait();
  });
}

void hello(http::response_writer& w, const http::request&) {
  w.write("hello");
}

// A client with its own transport, so tests do not share pooled connections.
struct fresh_client {
  std::shared_ptr<http::transport> t = std::make_shared<http::transport>();
  http::client c;
  fresh_client() { c.transport_ptr = t; }
};

template <typename F>
bool eventually(F&& cond, std::chrono::milliseconds within = 5s) {
  auto end = goro::clock::now() + within;
  while (!cond()) {
    if (goro::clock::now() > end) return false;
    goro::sleep_for(10ms);
  }
  return true;
}

TEST(HttpClient, ConnectionsAreReusedOnlyAfterTheBodyWasRead) {
  with_server(hello, [](http::server& srv, const std::string& base) {
    fresh_client fc;
    for (int i = 0; i < 20; i++) {
      http::response r = fc.c.get(base + "/x");
      EXPECT_EQ(r.status, 200);
      EXPECT_EQ(r.read_all(), "hello");
    }
    EXPECT_EQ(srv.stats().accepted, 1);
    EXPECT_EQ(fc.t->stats().dials, 1);
    EXPECT_EQ(fc.t->stats().reused, 19);
    // A response dropped before its body was read does not go back.
    {
      http::response r = fc.c.get(base + "/x");
      EXPECT_EQ(r.status, 200);
    }
    http::response r = fc.c.get(base + "/x");
    EXPECT_EQ(r.read_all(), "hello");
    EXPECT_EQ(srv.stats().accepted, 2);
    EXPECT_EQ(fc.t->stats().dials, 2);
  });
}

TEST(HttpClient, IdleConnectionIsClosedAfterIdleConnTimeout) {
  with_server(hello, [](http::server& srv, const std::string& base) {
    fresh_client fc;
    fc.t->idle_conn_timeout = 200ms;
    EXPECT_EQ(fc.c.get(base + "/").read_all(), "hello");
    EXPECT_EQ(fc.t->stats().idle, 1);
    auto t0 = goro::clock::now();
    EXPECT_TRUE(eventually([&] { return srv.stats().open == 0; }));
    EXPECT_GE(goro::clock::now() - t0, 150ms);
    EXPECT_EQ(fc.t->stats().idle_closed, 1);
    EXPECT_EQ(fc.t->stats().idle, 0);
    // The next request dials again.
    EXPECT_EQ(fc.c.get(base + "/").read_all(), "hello");
    EXPECT_EQ(srv.stats().accepted, 2);
  });
}

// The idle timer is armed once per connection and re-armed from its own
// callback: a connection reused across the first timer's expiry is still
// closed once it has really been idle for idle_conn_timeout.
TEST(HttpClient, IdleTimerOutlivesReusesAndStillClosesTheConnection) {
  with_server(hello, [](http::server& srv, const std::string& base) {
    fresh_client fc;
    fc.t->idle_conn_timeout = 300ms;
    // Reused every 50 ms for about a second: the timer armed at the first
    // pooling fires meanwhile and must neither close the connection early
    // nor stop watching it.
    for (int i = 0; i < 20; i++) {
      EXPECT_EQ(fc.c.get(base + "/").read_all(), "hello");
      goro::sleep_for(50ms);
    }
    if (timing_checks()) {
      EXPECT_EQ(srv.stats().accepted, 1);
      EXPECT_EQ(fc.t->stats().idle_closed, 0);
    }
    EXPECT_TRUE(eventually([&] { return fc.t->stats().idle_closed >= 1 && fc.t->stats().idle == 0; }));
    EXPECT_TRUE(eventually([&] { return srv.stats().open == 0; }));
  });
}

TEST(HttpClient, PerHostLimitsBoundConnections) {
  std::atomic<int> in_flight{0}, peak{0};
  auto slow = [&](http::response_writer& w, const http::request&) {
    int now = ++in_flight;
    int p = peak.load();
    while (now > p && !peak.compare_exchange_weak(p, now)) {
    }
    goro::sleep_for(20ms);
    --in_flight;
    w.write("slow");
  };
  with_server(slow, [&](http::server& srv, const std::string& base) {
    auto burst = [&](fresh_client& fc) {
      goro::wait_group wg;
      std::atomic<int> ok{0};
      for (int i = 0; i < 8; i++) {
        wg.go([&] {
          if (fc.c.get(base + "/").read_all() == "slow") ok++;
        });
      }
      wg.wait();
      return ok.load();
    };
    fresh_client fc;
    fc.t->max_conns_per_host = 2;
    fc.t->max_idle_conns_per_host = 2;
    EXPECT_EQ(burst(fc), 8);
    EXPECT_LE(srv.stats().accepted, 2);  // both kept idle between requests: never more dialed
    EXPECT_LE(peak.load(), 2);
    // With one idle slot, the second connection to finish is closed (a
    // waiting request then dials anew): still never more than 2 at once.
    fresh_client one_idle;
    one_idle.t->max_conns_per_host = 2;
    one_idle.t->max_idle_conns_per_host = 1;
    peak = 0;
    EXPECT_EQ(burst(one_idle), 8);
    EXPECT_LE(peak.load(), 2);
    EXPECT_LE(one_idle.t->stats().idle, 1);
  });
}

TEST(HttpClient, BodiesChunkedLengthAndStreamedUpload) {
  const std::string big(20000, 'q');
  auto handler = [&](http::response_writer& w, const http::request& r) {
    if (r.path == "/big") {
      for (int i = 0; i < 20; i++) w.write(big.substr(0, 1000));  // chunked
    } else {
      w.header().set("X-Len", std::to_string(r.content_length));
      w.write(r.body().read_all());
    }
  };
  with_server(handler, [&](http::server& srv, const std::string& base) {
    fresh_client fc;
    http::response r = fc.c.get(base + "/big");
    EXPECT_EQ(r.content_length, -1);
    EXPECT_EQ(r.headers.get("Transfer-Encoding"), "chunked");
    EXPECT_EQ(r.read_all(), big);
    r = fc.c.post(base + "/echo", "text/plain", "posted body");
    EXPECT_EQ(r.headers.get("X-Len"), "11");
    EXPECT_EQ(r.read_all(), "posted body");
    http::client_request up;
    up.method = "PUT";
    up.url = base + "/echo";
    int pieces = 0;
    up.body_stream = [&](std::span<char> buf) -> std::size_t {
      if (pieces == 5) return 0;
      pieces++;
      std::memset(buf.data(), 'a' + pieces, 100);
      return 100;
    };
    r = fc.c.do_request(up);
    EXPECT_EQ(r.headers.get("X-Len"), "-1");  // chunked upload
    std::string back = r.read_all();
    EXPECT_EQ(back.size(), 500u);
    EXPECT_EQ(back.substr(0, 3), "bbb");
    EXPECT_EQ(srv.stats().accepted, 1);
  });
}

TEST(HttpClient, RedirectsFollowedWithPolicyHook) {
  auto handler = [](http::response_writer& w, const http::request& r) {
    if (r.path == "/loop") {
      w.header().set("Location", "/loop");
      w.write_header(302);
    } else if (r.path == "/a") {
      w.header().set("Location", "/b?x=1");
      w.write_header(301);
    } else if (r.path == "/b") {
      w.header().set("Location", "c");
      w.write_header(307);
    } else if (r.path == "/see") {
      w.header().set("Location", "/c");
      w.write_header(303);
    } else {
      w.write(r.method + " " + r.target + " " + r.body().read_all());
    }
  };
  with_server(handler, [](http::server&, const std::string& base) {
    fresh_client fc;
    http::response r = fc.c.get(base + "/a");
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.read_all(), "GET /c ");
    EXPECT_EQ(r.url, base + "/c");
    r = fc.c.post(base + "/see", "text/plain", "data");
    EXPECT_EQ(r.read_all(), "GET /c ");  // 303: GET without the body
    http::client_request put;
    put.method = "PUT";
    put.url = base + "/b";
    put.body = "kept";
    EXPECT_EQ(fc.c.do_request(put).read_all(), "PUT /c kept");  // 307 keeps both
    try {
      fc.c.get(base + "/loop");
      ADD_FAILURE() << "no error after 10 redirects";
    } catch (const http::client_error& e) {
      EXPECT_NE(std::string(e.what()).find("10 redirects"), std::string::npos) << e.what();
    }
    std::vector<std::string> seen;
    fc.c.check_redirect = [&](const http::client_request& next, const std::vector<std::string>& via) {
      seen.push_back(next.url);
      return via.size() < 2;  // via holds the requests made so far
    };
    r = fc.c.get(base + "/a");
    EXPECT_EQ(r.status, 307);  // stopped at the second hop
    ASSERT_EQ(seen.size(), 2u);
    EXPECT_EQ(seen[0], base + "/b?x=1");
  });
}

TEST(HttpClient, ContextCancellationClosesTheConnection) {
  goro::chan<int> never(std::size_t{1});
  std::atomic<bool> handler_saw_close{false};
  auto handler = [&](http::response_writer& w, const http::request& r) {
    if (r.path == "/hang") {
      goro::select(goro::on_recv(never), goro::on_recv(r.ctx.done()));
      return;
    }
    w.write("fine");
  };
  with_server(handler, [&](http::server& srv, const std::string& base) {
    fresh_client fc;
    auto [ctx, cancel] = goro::with_cancel(goro::context::background());
    goro::go([cancel = cancel] {
      goro::sleep_for(100ms);
      cancel();
    });
    try {
      fc.c.get(base + "/hang", ctx);
      ADD_FAILURE() << "no error";
    } catch (const http::client_error& e) {
      EXPECT_EQ(e.code(), goro::context_errc::canceled) << e.what();
    }
    EXPECT_EQ(fc.t->stats().idle, 0);
    // A deadline works the same way, as does the client's own timeout.
    auto [tctx, tcancel] = goro::with_timeout(goro::context::background(), 100ms);
    try {
      fc.c.get(base + "/hang", tctx);
      ADD_FAILURE() << "no error";
    } catch (const http::client_error& e) {
      EXPECT_EQ(e.code(), goro::context_errc::deadline_exceeded) << e.what();
    }
    tcancel();
    fc.c.timeout = 100ms;  // with the background context: a deadline on the connection
    try {
      fc.c.get(base + "/hang");
      ADD_FAILURE() << "no error";
    } catch (const http::client_error& e) {
      EXPECT_EQ(e.code(), goro::context_errc::deadline_exceeded) << e.what();
    }
    try {  // with another context: a child context with the timeout
      auto [pctx, pcancel] = goro::with_cancel(goro::context::background());
      fc.c.get(base + "/hang", pctx);
      ADD_FAILURE() << "no error";
    } catch (const http::client_error& e) {
      EXPECT_EQ(e.code(), goro::context_errc::deadline_exceeded) << e.what();
    }
    EXPECT_EQ(fc.c.get(base + "/ok").read_all(), "fine");  // the timeout covers the body too: read in time
    (void)srv;
    (void)handler_saw_close;
  });
}

TEST(HttpClient, ResponseHeaderTimeoutAndDialErrors) {
  goro::chan<int> never(std::size_t{1});
  auto handler = [&](http::response_writer& w, const http::request& r) {
    goro::select(goro::on_recv(never), goro::on_recv(r.ctx.done()));
    w.write("late");
  };
  with_server(handler, [&](http::server&, const std::string& base) {
    fresh_client fc;
    fc.t->response_header_timeout = 100ms;
    try {
      fc.c.get(base + "/");
      ADD_FAILURE() << "no error";
    } catch (const http::client_error& e) {
      EXPECT_EQ(e.code(), std::errc::timed_out) << e.what();
    }
    EXPECT_THROW(fc.c.get("https://127.0.0.1/"), http::client_error);  // no TLS
    EXPECT_THROW(fc.c.get("ftp://x/"), http::client_error);
    net::listener closed = net::listen("tcp", "127.0.0.1:0");
    std::string dead = "http://" + closed.local_address().to_string() + "/";
    closed.close();
    try {
      fc.c.get(dead);
      ADD_FAILURE() << "no error";
    } catch (const http::client_error& e) {
      EXPECT_EQ(e.code(), std::errc::connection_refused) << e.what();
    }
  });
}

TEST(HttpClient, ExpectContinueWaitsForTheServer) {
  with_server([](http::response_writer& w, const http::request& r) { w.write(r.body().read_all()); },
              [](http::server& srv, const std::string& base) {
                fresh_client fc;
                fc.t->expect_continue_timeout = 5s;
                http::client_request req;
                req.method = "PUT";
                req.url = base + "/";
                req.headers.set("Expect", "100-continue");
                req.body = std::string(50000, 'e');
                auto t0 = goro::clock::now();
                http::response r = fc.c.do_request(req);
                EXPECT_EQ(r.read_all().size(), 50000u);
                if (timing_checks()) {
                  EXPECT_LT(goro::clock::now() - t0, 4s);  // the 100 came; no wait for the timeout
                }
                EXPECT_EQ(srv.stats().accepted, 1);
              });
}

// ---------------------------------------------------------------------------
// Servers nobody here wrote

class external_server {
 public:
  // Starts argv and waits for a line starting with `ready`; the address is
  // taken from it by `parse`.
  external_server(const std::vector<std::string>& argv, const std::string& ready,
                  const std::function<std::string(const std::string&)>& parse) {
    if (!proc_.start(argv, {}, STDOUT_FILENO)) return;
    auto line = proc_.expect(ready, 30s);
    if (line) base_ = parse(*line);
  }
  ~external_server() {
    proc_.signal(SIGKILL);
    proc_.wait(5s);
  }
  const std::string& base() const { return base_; }

 private:
  net_tools::child_process proc_;
  std::string base_;
};

TEST(HttpClientInterop, PythonHttpServer) {
  if (!net_tools::have_program("python3"))
    GTEST_SKIP() << "python3 is not installed (apt-get install python3)";
  std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("goro-http-py-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::string content;
  for (int i = 0; i < 3000; i++) content += "row " + std::to_string(i) + "\n";
  std::ofstream(dir / "data.txt") << content;
  {
    external_server py({"/usr/bin/env", "python3", "-u", "-m", "http.server", "--bind", "127.0.0.1",
                        "--directory", dir.string(), "0"},
                       "Serving HTTP on ", [](const std::string& line) {
                         // "Serving HTTP on 127.0.0.1 port 41235 (http://127.0.0.1:41235/) ..."
                         std::size_t at = line.find("(http://");
                         return line.substr(at + 1, line.find('/', at + 8) - at - 1);
                       });
    ASSERT_FALSE(py.base().empty()) << "python3 -m http.server did not start";
    goro::run([&] {
      fresh_client fc;
      for (int i = 0; i < 3; i++) {
        http::response r = fc.c.get(py.base() + "/data.txt");
        EXPECT_EQ(r.status, 200);
        EXPECT_EQ(r.content_length, static_cast<std::int64_t>(content.size()));
        EXPECT_EQ(r.read_all(), content);
      }
      // HTTP/1.0 answers close their connection: nothing is pooled.
      EXPECT_EQ(fc.t->stats().dials, 3);
      EXPECT_EQ(fc.t->stats().idle, 0);
      http::response missing = fc.c.get(py.base() + "/nope");
      EXPECT_EQ(missing.status, 404);
      missing.read_all();
      http::response dir_redirect = fc.c.get(py.base() + "/");
      EXPECT_EQ(dir_redirect.status, 200);
      EXPECT_NE(dir_redirect.read_all().find("data.txt"), std::string::npos);
    });
  }
  std::filesystem::remove_all(dir);
}

const char* kGoServer = R"GO(package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync/atomic"
)

func main() {
	var conns atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("/hello", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello from go") })
	mux.HandleFunc("/stream", func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i < 50; i++ {
			fmt.Fprintf(w, "line %d\n", i)
			w.(http.Flusher).Flush()
		}
	})
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Write(b)
	})
	mux.HandleFunc("/conns", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, conns.Load()) })
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/hello", http.StatusFound) })
	srv := &http.Server{Handler: mux, ConnState: func(c net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	fmt.Println("listening on", ln.Addr().String())
	srv.Serve(ln)
}
)GO";

TEST(HttpClientInterop, GoNetHttpServer) {
  const char* go = "/usr/lib/go-1.23/bin/go";
  if (!std::filesystem::exists(go)) GTEST_SKIP() << "Go is not installed at " << go;
  std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("goro-http-go-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "main.go") << kGoServer;
  std::string cache = (std::filesystem::temp_directory_path() / "goro-http-gocache").string();
  std::string build = "cd " + dir.string() + " && GOCACHE=" + cache + " GOFLAGS=-mod=mod GO111MODULE=off " +
                      go + " build -o server main.go 2>&1";
  ASSERT_EQ(std::system(build.c_str()), 0) << build;
  {
    external_server srv({(dir / "server").string()}, "listening on ",
                        [](const std::string& line) { return "http://" + line.substr(line.rfind(' ') + 1); });
    ASSERT_FALSE(srv.base().empty()) << "the Go server did not start";
    goro::run([&] {
      fresh_client fc;
      for (int i = 0; i < 10; i++) EXPECT_EQ(fc.c.get(srv.base() + "/hello").read_all(), "hello from go");
      http::response s = fc.c.get(srv.base() + "/stream");
      EXPECT_EQ(s.headers.get("Transfer-Encoding"), "chunked");
      std::string lines = s.read_all();
      EXPECT_TRUE(lines.starts_with("line 0\n")) << lines;
      EXPECT_TRUE(lines.ends_with("line 49\n")) << lines;
      EXPECT_EQ(fc.c.post(srv.base() + "/echo", "text/plain", std::string(100000, 'g')).read_all().size(),
                100000u);
      EXPECT_EQ(fc.c.get(srv.base() + "/redirect").read_all(), "hello from go");
      // Every request went over the one connection the Go server accepted.
      EXPECT_EQ(fc.c.get(srv.base() + "/conns").read_all(), "1");
      EXPECT_EQ(fc.t->stats().dials, 1);
    });
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
