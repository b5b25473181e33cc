// tests/http_debug_example_test.cpp: the debug endpoints of
// examples/http_server (mounted under /debug/goro/) read by the tools their
// users have: `go tool pprof` for the goroutine profile, `promtool check
// metrics` (Debian's prometheus) for the Prometheus text, and headless
// Chromium for the dashboard. Each test skips with a message when its tool
// or the example is missing.
//
// The server runs as a child process with idle keep-alive connections open
// (their goroutines wait for the next request, the shape of a real server),
// and without stack compaction, so that every connection's frames can be
// read.
#include <goro/net.hpp>

#include "helpers/test_util.hpp"
#include "net_tools/spawn.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

using namespace std::chrono_literals;
namespace net = goro::net;

namespace {

using goro_test::find_program;

constexpr int kIdleConns = static_cast<int>(goro_test::scaled3(200, 100, 100));
// Connections opened and closed first: goro::metrics measures a
// goroutine's stack high-water mark at one exit in 1024 per processor, so
// with the server on 2 processors (--procs 2) 3000 exits give at least one.
constexpr int kClosedConns = 3000;

std::string example_path(const std::string& name) {
  if (const char* dir = std::getenv("GORO_EXAMPLES_DIR")) return std::string(dir) + "/" + name;
  std::filesystem::path self = net_tools::child_process::self_path();
  return (self.parent_path().parent_path() / "examples" / name).string();
}

// Runs a shell command; returns its standard output and error.
std::string run(const std::string& cmd, int* status = nullptr) {
  return goro_test::run_command(cmd, status);
}

// A scratch directory removed at the end of the test.
struct scratch_dir {
  std::filesystem::path path =
      std::filesystem::temp_directory_path() / ("goro-http-debug-" + std::to_string(::getpid()));
  scratch_dir() { std::filesystem::create_directories(path); }
  ~scratch_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string operator/(const std::string& name) const { return (path / name).string(); }
};

// examples/http_server on a loopback port, with kIdleConns idle keep-alive
// connections.
class debug_server {
 public:
  debug_server() {
    std::string path = example_path("http_server");
    if (!std::filesystem::exists(path)) {
      why_ = path + " is not built (configure with GORO_BUILD_EXAMPLES=ON)";
      return;
    }
    if (!proc_.start(
            {path, "--addr", "127.0.0.1:0", "--compact-after", "0", "--idle-timeout", "300s", "--procs", "2"},
            {}, STDOUT_FILENO)) {
      why_ = "cannot start " + path;
      return;
    }
    auto line = proc_.expect("http_server: listening on ", 30s);
    if (!line) {
      why_ = "http_server did not report its address";
      return;
    }
    address_ = line->substr(line->rfind(' ') + 1);
    for (int i = 0; i < kClosedConns; ++i) healthz("Connection: close\r\n");
    for (int i = 0; i < kIdleConns; ++i) conns_.push_back(healthz(""));
  }
  ~debug_server() {
    conns_.clear();
    if (ok()) {
      proc_.signal(SIGINT);
      proc_.wait(20s);
    }
  }
  bool ok() const { return !address_.empty(); }
  const std::string& why() const { return why_; }
  std::string url(const std::string& path) const { return "http://" + address_ + "/debug/goro/" + path; }

 private:
  // A connection that asked for /healthz and read the answer.
  net::conn healthz(const std::string& extra_header) {
    net::conn c = net::dial("tcp", address_, 5s);
    c.set_deadline(goro::clock::now() + 30s);
    c.write_all("GET /healthz HTTP/1.1\r\nHost: x\r\n" + extra_header + "\r\n");
    std::string got;
    char buf[256];
    while (got.find("ok\n") == std::string::npos) {
      std::size_t n = c.read(std::span<char>(buf, sizeof buf));
      if (n == 0) break;
      got.append(buf, n);
    }
    return c;
  }

  net_tools::child_process proc_;
  std::string why_, address_;
  std::vector<net::conn> conns_;
};

#define START_DEBUG_SERVER(var) \
  debug_server var;             \
  if (!var.ok()) GTEST_SKIP() << var.why();

// The number right after the first `prefix` in text, or -1.
long number_after(const std::string& text, const std::string& prefix) {
  std::size_t at = text.find(prefix);
  if (at == std::string::npos) return -1;
  const char* p = text.c_str() + at + prefix.size();
  if (*p < '0' || *p > '9') return -1;
  return std::strtol(p, nullptr, 10);
}

std::string curl(const std::string& args) {
  return run("curl -sS --max-time 60 " + args);
}

TEST(HttpDebugExample, GoToolPprofCountsTheIdleConnections) {
  std::string go = find_program({"/usr/lib/go-1.23/bin/go", "/usr/lib/go/bin/go", "go"});
  if (go.empty())
    GTEST_SKIP() << "Go is not installed (apt-get install -t bookworm-backports golang-1.23-go)";
  START_DEBUG_SERVER(s);
  scratch_dir dir;
  std::string env =
      "HOME=" + dir.path.string() + " GOCACHE=" + dir / "cache" + " PPROF_TMPDIR=" + dir.path.string();
  int rc = -1;
  std::string top = run(env + " timeout 300 " + go + " tool pprof -top -nodecount=100000 -symbolize=none " +
                            s.url("pprof/goroutine"),
                        &rc);
  ASSERT_EQ(rc, 0) << top;
  EXPECT_NE(top.find("Type: goroutine"), std::string::npos) << top;
  // Every connection's goroutine is started by a lambda of server::serve:
  // the idle ones and the one serving the profile. Lines are
  // "flat flat% sum% cum cum% name".
  std::istringstream in(top);
  std::string l;
  long cum = -1;
  while (std::getline(in, l)) {
    // g++ names the lambda "serve(...)::{lambda()#1}", clang "serve(...)::$_1".
    if (l.find("goro::http::server::serve(goro::net::listener&)::") == std::string::npos) continue;
    std::istringstream fields(l);
    std::string flat, flat_pct, sum_pct;
    long c = -1;
    fields >> flat >> flat_pct >> sum_pct >> c;
    cum = std::max(cum, c);
  }
  EXPECT_EQ(cum, kIdleConns + 1) << top;
}

TEST(HttpDebugExample, PromtoolAcceptsTheMetrics) {
  std::string promtool = find_program({"promtool"});
  if (promtool.empty()) GTEST_SKIP() << "promtool is not installed (apt-get install prometheus)";
  START_DEBUG_SERVER(s);
  std::string headers = curl("-D - -o /dev/null " + s.url("metrics"));
  EXPECT_NE(headers.find("text/plain; version=0.0.4"), std::string::npos) << headers;
  scratch_dir dir;
  std::string text = curl(s.url("metrics"));
  {
    std::ofstream f(dir / "metrics.txt");
    f << text;
  }
  int rc = -1;
  std::string out = run(promtool + " check metrics < " + dir / "metrics.txt", &rc);
  EXPECT_EQ(rc, 0) << out << "\n" << text.substr(0, 2000);
  EXPECT_EQ(out, "") << out;  // no lint problem either
  // The goroutines: at least one per idle connection.
  EXPECT_GE(number_after(text, "\ngoro_sched_goroutines "), kIdleConns) << text;
  // A histogram with cumulative buckets, the last +Inf, equal to its count.
  long inf = number_after(text, "\ngoro_sched_latencies_seconds_bucket{le=\"+Inf\"} ");
  long count = number_after(text, "\ngoro_sched_latencies_seconds_count ");
  EXPECT_GT(count, 0) << text;
  EXPECT_EQ(inf, count);
}

TEST(HttpDebugExample, DashboardDrawsItsChartsInHeadlessChromium) {
  std::string chromium = find_program({"chromium", "chromium-browser", "google-chrome"});
  if (chromium.empty()) GTEST_SKIP() << "Chromium is not installed (apt-get install chromium)";
  START_DEBUG_SERVER(s);
  scratch_dir dir;
  // Virtual time runs the page's one-second polls without waiting for them
  // in real time (it pauses while a fetch is on the network).
  std::string flags =
      "--headless --disable-gpu --no-sandbox --no-first-run --disable-dev-shm-usage"
      " --user-data-dir=" +
      dir / "profile" + " --window-size=1280,1000 --virtual-time-budget=6000 ";
  std::string dom = run("timeout 180 " + chromium + " " + flags + "--dump-dom " + s.url("") + " 2>/dev/null");
  ASSERT_NE(dom.find("id=\"status\""), std::string::npos) << dom.substr(0, 3000);
  EXPECT_GE(number_after(dom, "id=\"status\" data-polls=\""), 2)
      << "the page polled metrics.json fewer than twice";
  for (const char* chart : {"goroutines", "stacks", "highwater", "latency"}) {
    EXPECT_GT(number_after(dom, std::string("id=\"") + chart + "\" data-drawn=\""), 0)
        << chart << " drew nothing";
  }
  // The goroutine count it shows includes the idle connections.
  EXPECT_GE(number_after(dom, "</b> sched/goroutines = "), kIdleConns) << dom;

  // A screenshot; GORO_DASHBOARD_SCREENSHOT=<file> keeps it (how
  // docs/img/goro-dashboard.png is made).
  std::string png = dir / "dashboard.png";
  run("timeout 180 " + chromium + " " + flags + "--screenshot=" + png + " " + s.url(""));
  std::ifstream f(png, std::ios::binary);
  std::string head(8, '\0');
  f.read(head.data(), 8);
  EXPECT_EQ(head, std::string("\x89PNG\r\n\x1a\n", 8)) << "no screenshot at " << png;
  if (const char* keep = std::getenv("GORO_DASHBOARD_SCREENSHOT")) {
    std::filesystem::copy_file(png, keep, std::filesystem::copy_options::overwrite_existing);
  }
}

}  // namespace
