// tests/http_test.cpp: examples/http_server and examples/echo_server as real
// programs, driven by clients nobody here wrote (curl, wrk, ab, h2load --h1) and by raw
// sockets for what those clients never send (pipelined batches, malformed
// requests, slowloris heads).
//
// The servers are started as child processes from the build tree
// (<build>/examples/, found next to this test's directory); a test skips
// with a message if a program or tool is missing. Everything is loopback
// and bounded: curl runs with --max-time, sockets have deadlines, and a
// server that does not exit when asked is killed.
#include <goro/net.hpp>

#include "helpers/test_util.hpp"
#include "net_tools/spawn.hpp"

#include <gtest/gtest.h>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

using namespace std::chrono_literals;
namespace net = goro::net;
using goro_test::scaled3;

namespace {

std::string example_path(const std::string& name) {
  if (const char* dir = std::getenv("GORO_EXAMPLES_DIR")) return std::string(dir) + "/" + name;
  std::filesystem::path self = net_tools::child_process::self_path();
  return (self.parent_path().parent_path() / "examples" / name).string();
}

// A server program running as a child, listening on a loopback port.
class server_process {
 public:
  // Starts examples/<name> with args (plus --addr 127.0.0.1:0) and waits for
  // its "listening on" line. Check ok() afterwards.
  server_process(const std::string& name, std::vector<std::string> args) {
    path_ = example_path(name);
    if (!std::filesystem::exists(path_)) {
      why_ = path_ + " is not built (configure with GORO_BUILD_EXAMPLES=ON)";
      return;
    }
    std::vector<std::string> argv{path_, "--addr", "127.0.0.1:0"};
    argv.insert(argv.end(), args.begin(), args.end());
    if (!proc_.start(argv, {}, STDOUT_FILENO)) {
      why_ = "cannot start " + path_;
      return;
    }
    auto line = proc_.expect(name + ": listening on ", 30s);
    if (!line) {
      why_ = name + " did not report its address";
      return;
    }
    address_ = line->substr(line->rfind(' ') + 1);
  }

  bool ok() const { return !address_.empty(); }
  const std::string& why() const { return why_; }
  const std::string& address() const { return address_; }
  std::string url(const std::string& path) const { return "http://" + address_ + path; }
  net_tools::child_process& proc() { return proc_; }

  // SIGINT, then the exit status (nullopt if it had to be killed).
  std::optional<int> stop(std::chrono::milliseconds within = 20s) {
    proc_.signal(SIGINT);
    return proc_.wait(within);
  }

 private:
  std::string path_, why_, address_;
  net_tools::child_process proc_;
};

#define START_SERVER(var, name, ...)       \
  server_process var(name, {__VA_ARGS__}); \
  if (!var.ok()) GTEST_SKIP() << var.why();

// Runs a shell command; returns its standard output (and sets *status).
std::string run(const std::string& cmd, int* status = nullptr) {
  std::string out;
  std::FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return out;
  char buf[4096];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  int st = ::pclose(p);
  if (status != nullptr) *status = st;
  return out;
}

#define REQUIRE_TOOL(tool) \
  if (!net_tools::have_program(tool)) GTEST_SKIP() << tool " is not installed (apt-get install " tool ")";

std::string curl(const std::string& args) {
  return run("curl -sS --max-time 10 " + args + " 2>&1");
}

// A raw client connection (on this plain thread: goro::net waits in poll).
net::conn raw(const server_process& s) {
  net::conn c = net::dial("tcp", s.address(), 5s);
  c.set_deadline(goro::clock::now() + 10s);
  return c;
}

// Reads until end of file (or the deadline); returns everything.
std::string read_all(net::conn& c) {
  std::string out;
  char buf[4096];
  try {
    for (std::size_t n; (n = c.read(std::span<char>(buf))) > 0;) out.append(buf, n);
  } catch (const net::error& e) {
    if (e.timeout()) out += "<timeout>";
  }
  return out;
}

// Reads one response with a Content-Length body.
std::string read_response(net::conn& c) {
  std::string head;
  char ch;
  while (head.size() < 4 || head.compare(head.size() - 4, 4, "\r\n\r\n") != 0) {
    if (c.read(std::span<char>(&ch, 1)) == 0) return head + "<eof>";
    head.push_back(ch);
  }
  std::size_t cl = head.find("Content-Length: ");
  std::size_t n = cl == std::string::npos ? 0 : std::stoul(head.substr(cl + 16));
  std::string body(n, '\0');
  c.read_full(std::span<char>(body));
  return head + body;
}

std::string status_line(const std::string& response) {
  return response.substr(0, response.find("\r\n"));
}

}  // namespace

// ---------------------------------------------------------------------------
// curl

TEST(HttpCurl, RoutesHealthAndDebugPage) {
  REQUIRE_TOOL("curl");
  START_SERVER(s, "http_server");
  EXPECT_EQ(curl(s.url("/")), "Hello, World!\n");
  EXPECT_EQ(curl(s.url("/healthz")), "ok\n");
  std::string debug = curl(s.url("/debug/goroutines"));
  EXPECT_NE(debug.find("goroutines: "), std::string::npos) << debug;
  EXPECT_NE(debug.find("stack_inuse: "), std::string::npos) << debug;
  EXPECT_NE(curl(s.url("/debug/goroutines?dump=1")).find("goroutine 1 "), std::string::npos);
  EXPECT_EQ(curl("-o /dev/null -w '%{http_code}' " + s.url("/nope")), "404");
  EXPECT_EQ(curl("-o /dev/null -w '%{http_code}' -X POST " + s.url("/healthz")), "405");
  EXPECT_EQ(curl("-o /dev/null -w '%{http_code}' -I " + s.url("/")), "200");
  auto st = s.stop();
  ASSERT_TRUE(st);
  EXPECT_TRUE(WIFEXITED(*st) && WEXITSTATUS(*st) == 0) << *st;
}

TEST(HttpCurl, KeepAliveReusesOneConnection) {
  REQUIRE_TOOL("curl");
  START_SERVER(s, "http_server");
  // num_connects is 1 for the first transfer and 0 for reused connections.
  std::string out = curl("-o /dev/null -o /dev/null -o /dev/null -w '%{num_connects}\\n' " + s.url("/") +
                         " " + s.url("/healthz") + " " + s.url("/"));
  EXPECT_EQ(out, "1\n0\n0\n");
}

TEST(HttpCurl, Http10ClosesUnlessAskedToKeepAlive) {
  REQUIRE_TOOL("curl");
  START_SERVER(s, "http_server");
  EXPECT_EQ(curl("--http1.0 " + s.url("/")), "Hello, World!\n");
  EXPECT_EQ(curl("--http1.0 --data-binary 'old body' " + s.url("/echo")), "old body");
  // Without keep-alive every HTTP/1.0 transfer needs a connection of its own...
  EXPECT_EQ(
      curl("--http1.0 -o /dev/null -o /dev/null -w '%{num_connects}\\n' " + s.url("/") + " " + s.url("/")),
      "1\n1\n");
  // ...with it, the second reuses the first.
  EXPECT_EQ(curl("--http1.0 -H 'Connection: keep-alive' -o /dev/null -o /dev/null -w '%{num_connects}\\n' " +
                 s.url("/") + " " + s.url("/")),
            "1\n0\n");
}

TEST(HttpCurl, ContentLengthChunkedAndExpectContinueBodies) {
  REQUIRE_TOOL("curl");
  START_SERVER(s, "http_server");
  EXPECT_EQ(curl("--data-binary 'small body' " + s.url("/echo")), "small body");
  EXPECT_EQ(curl("-H 'Transfer-Encoding: chunked' --data-binary 'chunked body' " + s.url("/echo")),
            "chunked body");
  // A large upload: curl sends Expect: 100-continue and waits for it.
  std::string path =
      std::filesystem::temp_directory_path() / ("goro-http-body-" + std::to_string(::getpid()));
  std::string big;
  for (int i = 0; i < 20000; i++) big += "line " + std::to_string(i) + "\n";
  std::ofstream(path) << big;
  auto t0 = std::chrono::steady_clock::now();
  std::string back = curl("--data-binary @" + path + " " + s.url("/echo"));
  EXPECT_EQ(back.size(), big.size());
  EXPECT_TRUE(back == big);
  // Without the interim response curl would wait a full second.
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 900ms);
  std::string chunked = curl("-H 'Transfer-Encoding: chunked' --data-binary @" + path + " " + s.url("/echo"));
  EXPECT_TRUE(chunked == big) << chunked.size();
  std::filesystem::remove(path);
}

// ---------------------------------------------------------------------------
// wrk

TEST(HttpWrk, HelloUnderLoadWithoutErrors) {
  REQUIRE_TOOL("wrk");
  START_SERVER(s, "http_server");
  const int conns = static_cast<int>(scaled3(200, 50, 50));
  int status = 0;
  std::string out =
      run("wrk -t2 -c" + std::to_string(conns) + " -d2s --timeout 5s " + s.url("/") + " 2>&1", &status);
  EXPECT_EQ(status, 0) << out;
  EXPECT_NE(out.find("Requests/sec:"), std::string::npos) << out;
  EXPECT_EQ(out.find("Socket errors"), std::string::npos) << out;
  EXPECT_EQ(out.find("Non-2xx"), std::string::npos) << out;
  std::printf("%s", out.c_str());
  auto st = s.stop();
  ASSERT_TRUE(st);
  EXPECT_TRUE(WIFEXITED(*st) && WEXITSTATUS(*st) == 0) << *st;
}

// ---------------------------------------------------------------------------
// ab (apache2-utils) and h2load --h1 (nghttp2-client)

TEST(HttpAb, KeepAliveAndPostWithoutFailures) {
  if (!net_tools::have_program("ab")) GTEST_SKIP() << "ab is not installed (apt-get install apache2-utils)";
  START_SERVER(s, "http_server");
  const int n = static_cast<int>(scaled3(5000, 1000, 500));
  int status = 0;
  // ab speaks HTTP/1.0 with "Connection: keep-alive" under -k.
  std::string out =
      run("timeout 60 ab -q -k -n " + std::to_string(n) + " -c 20 " + s.url("/") + " 2>&1", &status);
  EXPECT_EQ(status, 0) << out;
  EXPECT_NE(out.find("Complete requests:      " + std::to_string(n)), std::string::npos) << out;
  EXPECT_NE(out.find("Failed requests:        0"), std::string::npos) << out;
  EXPECT_NE(out.find("Keep-Alive requests:    " + std::to_string(n)), std::string::npos) << out;
  std::string body = "/tmp/goro-http-ab-" + std::to_string(::getpid());
  std::ofstream(body) << std::string(3000, 'p');
  out =
      run("timeout 60 ab -q -n 200 -c 4 -p " + body + " -T text/plain " + s.url("/echo") + " 2>&1", &status);
  std::filesystem::remove(body);
  EXPECT_EQ(status, 0) << out;
  EXPECT_NE(out.find("Failed requests:        0"), std::string::npos) << out;
  EXPECT_NE(out.find("Document Length:        3000 bytes"), std::string::npos) << out;
  auto st = s.stop();
  ASSERT_TRUE(st);
  EXPECT_TRUE(WIFEXITED(*st) && WEXITSTATUS(*st) == 0) << *st;
}

TEST(HttpH2load, Http1LoadWithoutErrors) {
  if (!net_tools::have_program("h2load"))
    GTEST_SKIP() << "h2load is not installed (apt-get install nghttp2-client)";
  START_SERVER(s, "http_server");
  const int n = static_cast<int>(scaled3(10000, 2000, 1000));
  int status = 0;
  std::string out =
      run("timeout 60 h2load --h1 -n " + std::to_string(n) + " -c 50 -m 4 " + s.url("/") + " 2>&1", &status);
  EXPECT_EQ(status, 0) << out;
  EXPECT_NE(out.find(std::to_string(n) + " succeeded, 0 failed, 0 errored"), std::string::npos) << out;
  EXPECT_NE(out.find("status codes: " + std::to_string(n) + " 2xx"), std::string::npos) << out;
  auto st = s.stop();
  ASSERT_TRUE(st);
  EXPECT_TRUE(WIFEXITED(*st) && WEXITSTATUS(*st) == 0) << *st;
}

// ---------------------------------------------------------------------------
// examples/http_get against examples/http_server

TEST(HttpGet, LoadOverPooledConnectionsAndExitStatus) {
  START_SERVER(s, "http_server");
  std::string get = example_path("http_get");
  if (!std::filesystem::exists(get)) GTEST_SKIP() << get << " is not built";
  int status = 0;
  std::string out = run(get + " " + s.url("/"), &status);
  EXPECT_EQ(status, 0);
  EXPECT_EQ(out, "Hello, World!\n");
  const int n = static_cast<int>(scaled3(3000, 500, 300));
  out = run(get + " --conns 4 --requests " + std::to_string(n) + " " + s.url("/") + " 2>&1", &status);
  EXPECT_EQ(status, 0) << out;
  EXPECT_NE(out.find("requests:    " + std::to_string(n) + " in "), std::string::npos) << out;
  EXPECT_NE(out.find("0 failed"), std::string::npos) << out;
  std::size_t dialed = out.find("connections: ");
  ASSERT_NE(dialed, std::string::npos) << out;
  EXPECT_LE(std::stoi(out.substr(dialed + 13)), 4) << out;  // pooled: at most --conns
  EXPECT_NE(out.find("latency ms:  min "), std::string::npos) << out;
  out = run(get + " --requests 5 " + s.url("/nope") + " 2>&1", &status);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1) << out;
  EXPECT_NE(out.find("5 requests failed; first: 404 Not Found"), std::string::npos) << out;
  auto st = s.stop();
  ASSERT_TRUE(st);
  EXPECT_TRUE(WIFEXITED(*st) && WEXITSTATUS(*st) == 0) << *st;
}

// ---------------------------------------------------------------------------
// Raw sockets: pipelining, malformed input, slow clients

TEST(HttpRaw, PipelinedRequestsAreAnsweredInOrder) {
  START_SERVER(s, "http_server");
  net::conn c = raw(s);
  c.write_all(
      "GET / HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
      "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nabcde"
      "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: "
      "chunked\r\n\r\n3\r\nxyz\r\n2;ext=1\r\n!!\r\n0\r\n\r\n"
      "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string r1 = read_response(c), r2 = read_response(c), r3 = read_response(c), r4 = read_response(c),
              r5 = read_response(c);
  EXPECT_TRUE(r1.ends_with("Hello, World!\n")) << r1;
  EXPECT_TRUE(r2.ends_with("ok\n")) << r2;
  EXPECT_TRUE(r3.ends_with("abcde")) << r3;
  EXPECT_TRUE(r4.ends_with("xyz!!")) << r4;
  EXPECT_EQ(status_line(r5), "HTTP/1.1 404 Not Found");
  // The connection is still usable afterwards.
  c.write_all("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_TRUE(read_response(c).ends_with("ok\n"));
  // HTTP/1.0 closes unless asked to keep alive.
  net::conn old = raw(s);
  old.write_all("GET / HTTP/1.0\r\n\r\n");
  std::string all = read_all(old);
  EXPECT_NE(all.find("Connection: close"), std::string::npos) << all;
  EXPECT_TRUE(all.ends_with("Hello, World!\n")) << all;
}

TEST(HttpRaw, MalformedRequestsGetAStatusAndAClose) {
  START_SERVER(s, "http_server", "--max-body", "1000");
  struct Case {
    std::string request;
    std::string status;
  };
  std::vector<Case> cases = {
      {"garbage\r\n\r\n", "HTTP/1.1 400 Bad Request"},
      {"GET  / HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 400 Bad Request"},
      {"GET / HTTP/1.1\r\nHost x\r\n\r\n", "HTTP/1.1 400 Bad Request"},
      {"GET / HTTP/1.1\r\n\r\n", "HTTP/1.1 400 Bad Request"},  // no Host
      {"GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", "HTTP/1.1 400 Bad Request"},
      {"GET / HTTP/1.1\r\nHo st: x\r\n\r\n", "HTTP/1.1 400 Bad Request"},
      {"GET / HTTP/9.9\r\nHost: x\r\n\r\n", "HTTP/1.1 505 HTTP Version Not Supported"},
      {"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
       "HTTP/1.1 400 Bad Request"},
      {"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", "HTTP/1.1 400 Bad Request"},
      {"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc",
       "HTTP/1.1 400 Bad Request"},
      {"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", "HTTP/1.1 501 Not Implemented"},
      {"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
       "HTTP/1.1 400 Bad Request"},
      {"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcXY\r\n",
       "HTTP/1.1 400 Bad Request"},
      {"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n",
       "HTTP/1.1 413 Request Entity Too Large"},
      {"GET /" + std::string(5000, 'a') + " HTTP/1.1\r\nHost: x\r\n\r\n",
       "HTTP/1.1 414 Request URI Too Long"},
      {"GET / HTTP/1.1\r\nHost: x\r\n" + std::string(400, 'X') + ": " + std::string(3000, 'v') + "\r\n" +
           std::string(400, 'Y') + ": " + std::string(3000, 'v') + "\r\n" + std::string(400, 'Z') + ": " +
           std::string(3000, 'v') + "\r\n" + std::string(400, 'W') + ": " + std::string(3000, 'v') + "\r\n" +
           std::string(400, 'V') + ": " + std::string(3000, 'v') + "\r\n" + std::string(400, 'U') + ": " +
           std::string(3000, 'v') + "\r\n\r\n",
       "HTTP/1.1 431 Request Header Fields Too Large"},
      {std::string("GET / HTTP/1.1\r\nHost: x\r\nBad: a\x01z\r\n\r\n"), "HTTP/1.1 400 Bad Request"},
  };
  for (const Case& k : cases) {
    net::conn c = raw(s);
    try {
      c.write_all(k.request);
    } catch (const net::error&) {
      // The server may close before reading everything: the answer still comes.
    }
    std::string all = read_all(c);
    EXPECT_EQ(status_line(all), k.status) << k.request.substr(0, 80);
    EXPECT_NE(all.find("Connection: close"), std::string::npos) << all;
    EXPECT_EQ(all.find("<timeout>"), std::string::npos) << "not closed: " << all;
  }
  // Nothing crashed: the server still answers.
  net::conn c = raw(s);
  c.write_all("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_TRUE(read_response(c).ends_with("ok\n"));
  auto st = s.stop();
  ASSERT_TRUE(st);
  EXPECT_TRUE(WIFEXITED(*st) && WEXITSTATUS(*st) == 0) << *st;
}

TEST(HttpRaw, SlowlorisHeadIsCutOffByTheReadHeaderTimeout) {
  START_SERVER(s, "http_server", "--read-header-timeout", "300ms", "--idle-timeout", "5s");
  net::conn c = raw(s);
  auto t0 = std::chrono::steady_clock::now();
  c.write_all("GET / HTTP/1.1\r\nHost: x\r\n");  // and never the blank line
  std::string all = read_all(c);
  auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(all, "");  // closed without an answer
  EXPECT_GE(took, 250ms);
  EXPECT_LT(took, 3s);
  // Trickling a byte at a time does not extend it.
  net::conn t = raw(s);
  t0 = std::chrono::steady_clock::now();
  std::string closed_after;
  try {
    for (char ch : std::string("GET / HTTP/1.1\r\nHost: xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx")) {
      t.write_all(std::string_view(&ch, 1));
      std::this_thread::sleep_for(50ms);
    }
  } catch (const net::error&) {
  }
  EXPECT_EQ(read_all(t), "");
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s);
}

TEST(HttpRaw, IdleKeepAliveConnectionIsClosed) {
  START_SERVER(s, "http_server", "--idle-timeout", "400ms");
  net::conn c = raw(s);
  c.write_all("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_TRUE(read_response(c).ends_with("Hello, World!\n"));
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(read_all(c), "");
  auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_GE(took, 350ms);
  EXPECT_LT(took, 3s);
}

TEST(HttpRaw, GracefulShutdownFinishesInFlightRequests) {
  START_SERVER(s, "http_server", "--grace", "5s");
  net::conn idle = raw(s);
  idle.write_all("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  read_response(idle);
  net::conn busy = raw(s);
  busy.write_all("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nab");  // half a body
  std::this_thread::sleep_for(100ms);
  s.proc().signal(SIGINT);
  // The idle connection is closed at once...
  EXPECT_EQ(read_all(idle), "");
  // ...the busy one gets its answer, with Connection: close.
  busy.write_all("cd");
  std::string r = read_all(busy);
  EXPECT_EQ(status_line(r), "HTTP/1.1 200 OK") << r;
  EXPECT_NE(r.find("Connection: close"), std::string::npos) << r;
  EXPECT_TRUE(r.ends_with("abcd")) << r;
  auto st = s.proc().wait(10s);
  ASSERT_TRUE(st);
  EXPECT_TRUE(WIFEXITED(*st) && WEXITSTATUS(*st) == 0) << *st;
  // New connections are refused once it stopped listening.
  EXPECT_THROW(net::dial("tcp", s.address(), 1s), net::error);
}

TEST(HttpRaw, DebugPageCountsParkedConnections) {
  START_SERVER(s, "http_server");
  const int kConns = static_cast<int>(scaled3(300, 100, 100));
  std::vector<net::conn> conns;
  for (int i = 0; i < kConns; i++) {
    conns.push_back(raw(s));
    conns.back().write_all("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    read_response(conns.back());
  }
  net::conn c = raw(s);
  c.write_all("GET /debug/goroutines HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string r = read_response(c);
  std::size_t at = r.find("goroutines: ");
  ASSERT_NE(at, std::string::npos) << r;
  EXPECT_GE(std::stol(r.substr(at + 12)), kConns + 1) << r;
  // Idle keep-alive connections hold no read buffer: only the one serving
  // this request, and connections whose request is still being read on a
  // busy machine, may hold one; never one per idle connection.
  std::size_t b = r.find("read_buffers: borrowed ");
  ASSERT_NE(b, std::string::npos) << r;
  EXPECT_LE(std::stol(r.substr(b + 23)), 8) << r;
}

// ---------------------------------------------------------------------------
// examples/echo_server

TEST(EchoServer, EchoesIdlesOutAndShutsDownOnSigint) {
  START_SERVER(s, "echo_server", "--idle-timeout", "500ms", "--grace", "2s");
  net::conn c = raw(s);
  c.write_all("hello echo");
  std::string got(10, '\0');
  c.read_full(std::span<char>(got));
  EXPECT_EQ(got, "hello echo");
  // Silent for longer than the idle timeout: the server closes it.
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(read_all(c), "");
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 400ms);
  // A connection open at shutdown is closed, and the server exits 0.
  net::conn open = raw(s);
  open.write_all("x");
  char x;
  open.read_full(std::span<char>(&x, 1));
  t0 = std::chrono::steady_clock::now();
  auto st = s.stop(10s);
  ASSERT_TRUE(st);
  EXPECT_TRUE(WIFEXITED(*st) && WEXITSTATUS(*st) == 0) << *st;
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
  EXPECT_EQ(read_all(open), "");
  auto summary = s.proc().expect("echo_server: served ", 1s);
  ASSERT_TRUE(summary);
  EXPECT_NE(summary->find("served 2 connections, 1 closed idle"), std::string::npos) << *summary;
}
