// tests/http_debug_test.cpp: goro::http::debug's endpoints, served by a
// goro::http::server on a loopback port and read the way their users read
// them: the grouped dump as text, the goroutine profile by `go tool pprof`
// (skipped without Go), the gzip framing by gzip(1), the metrics as
// Prometheus text and JSON (python3's json module parses the latter). A known number of
// goroutines waits in a function of this file so the counts can be checked.
#include <goro/goro.hpp>
#include <goro/http/client.hpp>
#include <goro/http/debug.hpp>
#include <goro/http/server.hpp>
#include <goro/metrics.hpp>

#include "helpers/test_util.hpp"
#include "http/debug_gzip.hpp"
#include "http/debug_metrics.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

using namespace std::chrono_literals;
namespace http = goro::http;
namespace net = goro::net;

namespace {

using goro_test::find_program;

// Enough goroutines for grouping to matter, within TSan's fiber limit.
constexpr std::int64_t kParked = goro_test::scaled3(3000, 2000, 1000);

// Runs a shell command off the goroutine's processor (the server keeps
// serving meanwhile); returns its standard output and error.
std::string run(const std::string& cmd, int* status = nullptr) {
  return goro::blocking([&] { return goro_test::run_command(cmd, status); });
}

// The goroutines the tests count: each waits here until `release` closes.
[[gnu::noinline]] void debughttp_wait_for_release(goro::chan<int>& release) {
  (void)release.recv();
  asm volatile("");  // keeps the call above from being a tail call
}

struct fixture_state {
  std::string addr;
  http::client client;
};

// Serves the debug endpoints on a loopback port with kParked goroutines
// waiting, runs `body`, then releases them and stops the server.
void with_debug_server(const std::function<void(fixture_state&)>& body) {
  goro::run([&] {
    http::serve_mux mux;
    http::debug::mount(mux);
    http::server srv;
    srv.handler = std::ref(mux);
    net::listener ln = net::listen("tcp", "127.0.0.1:0");
    fixture_state st;
    st.addr = ln.local_address().to_string();
    st.client.timeout = 60s;
    goro::wait_group serving;
    serving.go([&] { srv.serve(ln); });
    goro::chan<int> release;
    goro::wait_group parked;
    for (std::int64_t i = 0; i < kParked; ++i) parked.go([&] { debughttp_wait_for_release(release); });
    // Each must have parked in the receive: until then it shows as runnable
    // with no frames of ours.
    while (goro::num_goroutine() < kParked + 2) goro::sleep_for(1ms);
    goro::sleep_for(50ms);
    body(st);
    release.close();
    parked.wait();
    srv.close();
    serving.wait();
  });
}

std::string get(fixture_state& st, const std::string& path, int* status = nullptr,
                std::string* content_type = nullptr) {
  http::response r = st.client.get("http://" + st.addr + path);
  if (status != nullptr) *status = r.status;
  if (content_type != nullptr) *content_type = std::string(r.headers.get("Content-Type"));
  return r.read_all();
}

// The count of the debug=1 group whose frames include `function`, or -1.
std::int64_t group_count_with(const std::string& text, const std::string& function) {
  std::istringstream in(text);
  std::string line;
  std::int64_t count = -1;
  while (std::getline(in, line)) {
    if (!line.empty() && line[0] != '#' && line.find(" @") != std::string::npos) {
      count = std::atoll(line.c_str());
    } else if (line.rfind("#\t", 0) == 0 && line.find(function) != std::string::npos) {
      return count;
    }
  }
  return -1;
}

std::size_t occurrences(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / (name + "." + std::to_string(::getpid()))).string();
}

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

TEST(HttpDebug, MountRejectsAPrefixWithoutSlashes) {
  http::serve_mux mux;
  EXPECT_THROW(http::debug::mount(mux, "debug/"), std::invalid_argument);
  EXPECT_THROW(http::debug::mount(mux, "/debug"), std::invalid_argument);
  EXPECT_THROW(http::debug::mount(mux, ""), std::invalid_argument);
  http::debug::mount(mux, "/x/");
  EXPECT_THROW(http::debug::mount(mux, "/x/"), std::invalid_argument);  // patterns taken
}

TEST(HttpDebug, GroupedDumpCountsGoroutinesWithTheSameStack) {
  with_debug_server([](fixture_state& st) {
    int status = 0;
    std::string ct;
    std::string text = get(st, "/debug/goro/goroutines?debug=1", &status, &ct);
    EXPECT_EQ(status, 200);
    EXPECT_EQ(ct, "text/plain; charset=utf-8");
    ASSERT_EQ(text.rfind("goroutine profile: total ", 0), 0u) << text.substr(0, 200);
    std::int64_t total = std::atoll(text.c_str() + std::strlen("goroutine profile: total "));
    EXPECT_GE(total, kParked + 2);  // the waiters, the server's, the handler's
    EXPECT_EQ(group_count_with(text, "debughttp_wait_for_release"), kParked) << text.substr(0, 4000);
    // Each frame line: address, function+offset, file:line (or
    // module+offset without debug information).
    std::istringstream in(text);
    std::string line;
    int frame_lines = 0;
    while (std::getline(in, line)) {
      if (line.rfind("#\t0x", 0) != 0) continue;
      ++frame_lines;
      EXPECT_NE(line.find("+0x"), std::string::npos) << line;
      EXPECT_EQ(occurrences(line, "\t"), 3u) << line;
    }
    EXPECT_GT(frame_lines, 3);
  });
}

TEST(HttpDebug, FullDumpListsEveryGoroutine) {
  with_debug_server([](fixture_state& st) {
    for (const char* path : {"/debug/goro/goroutines", "/debug/goro/goroutines?debug=2"}) {
      std::string text = get(st, path);
      EXPECT_EQ(text.rfind("goroutine ", 0), 0u) << text.substr(0, 200);
      EXPECT_EQ(occurrences(text, "debughttp_wait_for_release"), static_cast<std::size_t>(kParked)) << path;
      EXPECT_GE(occurrences(text, "\ngoroutine "), static_cast<std::size_t>(kParked)) << path;
    }
  });
}

// Recurses `depth` times, then waits until `release` closes.
[[gnu::noinline]] int debughttp_recurse(int depth, goro::chan<int>& release) {
  if (depth == 0) {
    (void)release.recv();
    return 0;
  }
  int r = debughttp_recurse(depth - 1, release);
  asm volatile("" : "+r"(r));  // not a tail call: each level keeps its frame
  return r + 1;
}

TEST(HttpDebug, GroupedDumpElidesTheMiddleOfDeepStacks) {
  goro::run([] {
    constexpr int kDepth = 200;
    constexpr int kDeep = 3;
    goro::chan<int> release;
    goro::wait_group wg;
    for (int i = 0; i < kDeep; ++i) wg.go([&] { debughttp_recurse(kDepth, release); });
    while (goro::num_goroutine() < kDeep + 1) goro::sleep_for(1ms);
    goro::sleep_for(50ms);
    std::string text = http::debug::goroutines_text(1);
    release.close();
    wg.wait();
    EXPECT_EQ(group_count_with(text, "debughttp_recurse"), kDeep) << text;
    // The group keeps the first and last frames, and says how many it left
    // out in between: the recursion is deeper than both together.
    EXPECT_EQ(occurrences(text, " frames elided...\n"), 1u) << text;
    std::size_t shown = occurrences(text, "debughttp_recurse");
    EXPECT_GT(shown, 30u);
    EXPECT_LT(shown, 70u);
    std::size_t at = text.find("#\t...");
    ASSERT_NE(at, std::string::npos);
    long elided = std::atol(text.c_str() + at + 5);
    EXPECT_EQ(static_cast<std::size_t>(elided) + shown, static_cast<std::size_t>(kDepth + 1)) << text;
  });
}

TEST(HttpDebug, GzipOfStoredBlocksIsReadByGzip) {
  std::string gzip = find_program({"gzip"});
  if (gzip.empty()) GTEST_SKIP() << "gzip is not installed (apt-get install gzip)";
  std::string data;
  for (int i = 0; data.size() < 200000; ++i) data += std::to_string(i * 7919) + ",";
  for (const std::string& in : {std::string(), std::string("x"), data}) {
    std::string path = temp_path("goro-gzip-test");
    write_file(path, goro::http::debug_detail::gzip_stored(in));
    std::string out;
    goro::run([&] { out = run(gzip + " -dc < " + path); });
    std::filesystem::remove(path);
    EXPECT_EQ(out.size(), in.size());
    EXPECT_TRUE(out == in);
  }
}

// `go tool pprof`, if Go is installed (Debian's golang-1.23-go).
std::string find_go() {
  return find_program({"/usr/lib/go-1.23/bin/go", "/usr/lib/go/bin/go", "go"});
}

// The line of `go tool pprof -top` output naming `function`.
std::string top_line_with(const std::string& top, const std::string& function) {
  std::istringstream in(top);
  std::string line;
  while (std::getline(in, line)) {
    if (line.find(function) != std::string::npos) return line;
  }
  return {};
}

TEST(HttpDebug, GoToolPprofReadsTheGoroutineProfile) {
  std::string go = find_go();
  if (go.empty())
    GTEST_SKIP() << "Go is not installed (apt-get install -t bookworm-backports golang-1.23-go)";
  with_debug_server([&](fixture_state& st) {
    int status = 0;
    std::string ct;
    std::string profile = get(st, "/debug/goro/pprof/goroutine", &status, &ct);
    EXPECT_EQ(status, 200);
    EXPECT_EQ(ct, "application/octet-stream");
    ASSERT_GE(profile.size(), 18u);
    EXPECT_EQ(profile.substr(0, 3), std::string("\x1f\x8b\x08", 3));
    std::string home = temp_path("goro-pprof-home");
    std::filesystem::create_directories(home);
    std::string env = "HOME=" + home + " GOCACHE=" + home + "/cache PPROF_TMPDIR=" + home + " ";
    // Straight from the server, as a user would.
    int rc = -1;
    std::string top =
        run(env + "timeout 300 " + go + " tool pprof -top -nodecount=1000 -symbolize=none http://" + st.addr +
                "/debug/goro/pprof/goroutine",
            &rc);
    std::filesystem::remove_all(home);
    ASSERT_EQ(rc, 0) << top;
    // "flat flat% sum% cum cum%" then the name: every waiter is in the
    // function's cumulative count.
    std::string line = top_line_with(top, "debughttp_wait_for_release");
    ASSERT_FALSE(line.empty()) << top;
    std::istringstream fields(line);
    std::string flat, flat_pct, sum_pct, cum;
    fields >> flat >> flat_pct >> sum_pct >> cum;
    EXPECT_EQ(cum, std::to_string(kParked)) << line;
    EXPECT_NE(top.find("Type: goroutine"), std::string::npos) << top;
  });
}

// Prometheus' metric name syntax: [a-zA-Z_:][a-zA-Z0-9_:]*.
bool valid_prometheus_name(const std::string& name) {
  auto letter = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
  };
  if (name.empty() || !letter(name[0])) return false;
  for (char c : name) {
    if (!letter(c) && (c < '0' || c > '9')) return false;
  }
  return true;
}

TEST(HttpDebug, PrometheusNamesFollowItsRules) {
  std::set<std::string> seen;
  for (const goro::metrics::description& d : goro::metrics::all()) {
    std::string name = goro::http::debug_detail::prometheus_name(d);
    EXPECT_TRUE(valid_prometheus_name(name)) << d.name << " -> " << name;
    EXPECT_TRUE(name.starts_with("goro_")) << name;
    EXPECT_EQ(name.ends_with("_total"), d.k == goro::metrics::kind::counter) << name;
    EXPECT_TRUE(seen.insert(name).second) << "two metrics named " << name;
  }
  using goro::metrics::kind;
  auto name_of = [](std::string_view n, std::string_view unit, kind k) {
    return goro::http::debug_detail::prometheus_name({n, unit, k, "", k != kind::gauge});
  };
  EXPECT_EQ(name_of("/sched/goroutines:goroutines", "goroutines", kind::gauge), "goro_sched_goroutines");
  EXPECT_EQ(name_of("/sched/latencies:seconds", "seconds", kind::histogram), "goro_sched_latencies_seconds");
  EXPECT_EQ(name_of("/goro/stacks/high-water:bytes", "bytes", kind::histogram),
            "goro_stacks_high_water_bytes");
  EXPECT_EQ(name_of("/goro/stacks/shrinks:shrinks", "shrinks", kind::counter), "goro_stacks_shrinks_total");
  EXPECT_EQ(name_of("/cpu/classes/gc:cpu-seconds", "cpu-seconds", kind::counter),
            "goro_cpu_classes_gc_cpu_seconds_total");
}

TEST(HttpDebug, MetricsEndpointsServeEveryMetric) {
  with_debug_server([](fixture_state& st) {
    std::string ct;
    std::string text = get(st, "/debug/goro/metrics", nullptr, &ct);
    EXPECT_EQ(ct, "text/plain; version=0.0.4; charset=utf-8");
    for (const goro::metrics::description& d : goro::metrics::all()) {
      std::string name = goro::http::debug_detail::prometheus_name(d);
      EXPECT_NE(text.find("\n# TYPE " + name + " "), std::string::npos) << name;
      EXPECT_NE(text.find("(" + std::string(d.name) + ")\n"), std::string::npos) << d.name;
    }
    std::size_t at = text.find("\ngoro_sched_goroutines ");
    ASSERT_NE(at, std::string::npos) << text;
    EXPECT_GE(std::atoll(text.c_str() + at + std::strlen("\ngoro_sched_goroutines ")), kParked);

    std::string json = get(st, "/debug/goro/metrics.json", nullptr, &ct);
    EXPECT_EQ(ct, "application/json");
    for (const goro::metrics::description& d : goro::metrics::all()) {
      EXPECT_NE(json.find("{\"name\":\"" + std::string(d.name) + "\""), std::string::npos) << d.name;
    }
    if (find_program({"python3"}).empty()) return;
    std::string path = temp_path("goro-metrics-json");
    write_file(path, json);
    write_file(
        path + ".py",
        "import json, sys\n"
        "d = json.load(open(sys.argv[1]))\n"
        "print(next(m['value'] for m in d['metrics'] if m['name'] == '/sched/goroutines:goroutines'))\n");
    int status = -1;
    std::string out = run("python3 " + path + ".py " + path, &status);
    std::filesystem::remove(path);
    std::filesystem::remove(path + ".py");
    ASSERT_EQ(status, 0) << out;
    EXPECT_GE(std::atoll(out.c_str()), kParked) << out;
  });
}

TEST(HttpDebug, DashboardIsOneSelfContainedPage) {
  std::string_view page = http::debug::dashboard_html();
  EXPECT_TRUE(page.starts_with("<!doctype html>"));
  EXPECT_EQ(page.find("://"), std::string_view::npos) << "the page must load nothing from elsewhere";
  EXPECT_EQ(page.find(" src="), std::string_view::npos);
  for (const char* link : {"goroutines?debug=1", "pprof/goroutine", "\"metrics\"", "metrics.json"}) {
    EXPECT_NE(page.find(link), std::string_view::npos) << link;
  }
  with_debug_server([](fixture_state& st) {
    int status = 0;
    std::string ct;
    EXPECT_EQ(get(st, "/debug/goro/", &status, &ct), http::debug::dashboard_html());
    EXPECT_EQ(status, 200);
    EXPECT_EQ(ct, "text/html; charset=utf-8");
    get(st, "/debug/goro/nothing-here", &status);
    EXPECT_EQ(status, 404);
  });
}

}  // namespace
