// examples/http_get.cpp: a small load-capable HTTP client on goro::http.
//
//   http_get [--conns C] [--requests N] [--timeout 10s] [--procs P] URL
//
// Sends N GET requests (default 1) for URL over at most C pooled keep-alive
// connections (default 1): C goroutines take requests from a shared counter
// and share one transport limited to C connections to the host. Each body is
// read to the end, so each connection is reused. With N = 1 the body is
// written to standard output; otherwise a progress bar is drawn on standard
// error when it is a terminal, and a summary follows: requests per second,
// connections dialed, latency min / p50 / p90 / p99 / max, and the process's
// CPU time (user + system) per request.
// Exits 1 if any request failed (a network or protocol error, or a status
// of 400 or more), 2 on bad arguments.
#include <goro/goro.hpp>
#include <goro/http/client.hpp>

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

using namespace std::chrono_literals;
namespace http = goro::http;

namespace {

struct config {
  int conns = 1;
  long requests = 1;
  goro::clock::duration timeout = 10s;
  std::string url;
};

[[noreturn]] void usage() {
  std::fprintf(stderr, "usage: http_get [--conns C] [--requests N] [--timeout 10s] [--procs P] URL\n");
  std::exit(2);
}

goro::clock::duration parse_duration(std::string_view s) {
  std::string text(s);
  char* end = nullptr;
  double v = std::strtod(text.c_str(), &end);
  std::string_view unit(end);
  double scale = unit == "ms" ? 1e-3 : unit == "m" ? 60 : unit == "us" ? 1e-6 : 1;
  return std::chrono::duration_cast<goro::clock::duration>(std::chrono::duration<double>(v * scale));
}

config parse_args(int argc, char** argv) {
  config c;
  for (int i = 1; i < argc; i++) {
    std::string_view a = argv[i];
    if (a.starts_with("--")) {
      if (i + 1 >= argc) usage();
      std::string v = argv[++i];
      if (a == "--conns") {
        c.conns = std::atoi(v.c_str());
      } else if (a == "--requests") {
        c.requests = std::atol(v.c_str());
      } else if (a == "--timeout") {
        c.timeout = parse_duration(v);
      } else if (a == "--procs") {
        goro::set_maxprocs(std::atoi(v.c_str()));
      } else {
        usage();
      }
    } else if (c.url.empty()) {
      c.url = a;
    } else {
      usage();
    }
  }
  if (c.url.empty() || c.conns < 1 || c.requests < 1) usage();
  return c;
}

void draw_progress(long done, long total) {
  const int width = 40;
  int filled = static_cast<int>(width * done / total);
  std::fprintf(stderr, "\r[%.*s%*s] %ld/%ld", filled, "########################################",
               width - filled, "", done, total);
  std::fflush(stderr);
}

double ms(goro::clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

// User + system CPU time of the process, in microseconds.
double cpu_us() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

int run(const config& cfg) {
  auto t = std::make_shared<http::transport>();
  t->max_conns_per_host = static_cast<std::size_t>(cfg.conns);
  t->max_idle_conns_per_host = static_cast<std::size_t>(cfg.conns);
  http::client client;
  client.transport_ptr = t;
  client.timeout = cfg.timeout;

  if (cfg.requests == 1) {  // a plain GET: the body to standard output
    try {
      http::response r = client.get(cfg.url);
      std::string body = r.read_all();
      std::fwrite(body.data(), 1, body.size(), stdout);
      if (r.status >= 400) {
        std::fprintf(stderr, "http_get: %s: %d %s\n", cfg.url.c_str(), r.status, r.reason.c_str());
        return 1;
      }
      return 0;
    } catch (const http::client_error& e) {
      std::fprintf(stderr, "http_get: %s\n", e.what());
      return 1;
    }
  }

  std::vector<std::vector<goro::clock::duration>> latencies(static_cast<std::size_t>(cfg.conns));
  std::atomic<long> next{0}, done{0}, failed{0};
  goro::mutex first_error_mu;
  std::string first_error;  // guarded by first_error_mu
  bool tty = ::isatty(STDERR_FILENO) != 0;
  double cpu0 = cpu_us();
  auto start = goro::clock::now();
  goro::wait_group wg;
  for (int w = 0; w < cfg.conns; w++) {
    wg.go([&, w] {
      auto& mine = latencies[static_cast<std::size_t>(w)];
      while (next.fetch_add(1) < cfg.requests) {
        auto t0 = goro::clock::now();
        std::string error;
        try {
          http::response r = client.get(cfg.url);
          r.read_all();
          if (r.status >= 400) error = std::to_string(r.status) + " " + r.reason;
        } catch (const http::client_error& e) {
          error = e.what();
        }
        mine.push_back(goro::clock::now() - t0);
        if (!error.empty()) {
          failed++;
          std::lock_guard lk(first_error_mu);
          if (first_error.empty()) first_error = error;
        }
        done++;
      }
    });
  }
  if (tty) {
    goro::chan<int> finished(std::size_t{1});
    goro::go([&] {
      wg.wait();
      finished.send(1);
    });
    while (goro::select(goro::on_recv(finished), goro::on_recv(goro::after(100ms))) == 1) {
      draw_progress(done.load(), cfg.requests);
    }
    draw_progress(done.load(), cfg.requests);
    std::fprintf(stderr, "\n");
  } else {
    wg.wait();
  }
  auto elapsed = goro::clock::now() - start;
  double cpu = cpu_us() - cpu0;

  std::vector<goro::clock::duration> all;
  for (auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  std::sort(all.begin(), all.end());
  auto pct = [&](double p) {
    return all[std::min(all.size() - 1, static_cast<std::size_t>(p * all.size()))];
  };
  http::transport_stats ts = t->stats();
  std::printf("requests:    %ld in %.3f s, %.0f req/s, %ld failed\n", cfg.requests,
              std::chrono::duration<double>(elapsed).count(),
              static_cast<double>(cfg.requests) / std::chrono::duration<double>(elapsed).count(),
              failed.load());
  std::printf("connections: %lld dialed, %lld reuses (at most %d)\n", static_cast<long long>(ts.dials),
              static_cast<long long>(ts.reused), cfg.conns);
  std::printf("latency ms:  min %.3f  p50 %.3f  p90 %.3f  p99 %.3f  max %.3f\n", ms(all.front()),
              ms(pct(0.5)), ms(pct(0.9)), ms(pct(0.99)), ms(all.back()));
  std::printf("cpu:         %.2f us/request\n", cpu / static_cast<double>(cfg.requests));
  if (failed.load() > 0) {
    std::fprintf(stderr, "http_get: %ld requests failed; first: %s\n", failed.load(), first_error.c_str());
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  config cfg = parse_args(argc, argv);
  return goro::run([&] { return run(cfg); });
}
