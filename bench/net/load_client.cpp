// bench/net/load_client.cpp: the command-line face of
// tests/net_tools/load_client.hpp, for bench/net/run.sh.
//
//   net_load_client echo PORT CONNS SIZE SECONDS [TARGETS]
//       keeps one SIZE-byte message in flight on each of CONNS connections
//       for SECONDS and prints
//       round_trips=N seconds=S rps=R p50_us=P p99_us=Q failed=F
//   net_load_client hold PORT CONNS [TARGETS]
//       opens CONNS connections (one 32-byte echo each, so the server has
//       accepted and parked every one), prints "ready open=N failed=F
//       seconds=S", holds them until standard input closes, then exits.
//   net_load_client http-hold PORT CONNS [TARGETS]
//       the same for an HTTP server: on each connection one keep-alive
//       "GET /healthz" whose response is read to its end, so the server
//       holds CONNS idle keep-alive connections waiting for a next request.
//       Connections are opened one after the other (blocking calls).
//
// TARGETS (default 1) spreads connections over 127.0.0.1..127.0.0.TARGETS,
// each with its own ephemeral port range. Loopback only.
#include "net_tools/load_client.hpp"

#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace {

int usage() {
  std::fprintf(stderr,
               "usage: net_load_client echo PORT CONNS SIZE SECONDS [TARGETS]\n"
               "       net_load_client hold PORT CONNS [TARGETS]\n"
               "       net_load_client http-hold PORT CONNS [TARGETS]\n");
  return 2;
}

// Reads one HTTP response with a Content-Length body from a blocking
// socket; false (with `why`) on an error, a close or a malformed head.
bool read_response(int fd, std::string& why) {
  std::string got;
  char buf[4096];
  for (;;) {
    std::size_t head_end = got.find("\r\n\r\n");
    if (head_end != std::string::npos) {
      std::string_view head(got.data(), head_end);
      std::size_t at = head.find("\r\nContent-Length: ");
      if (!head.starts_with("HTTP/1.1 200") || at == std::string_view::npos) {
        why = "unexpected response head: " + std::string(head.substr(0, head.find('\r')));
        return false;
      }
      std::size_t length = std::strtoul(head.data() + at + 18, nullptr, 10);
      if (got.size() >= head_end + 4 + length) return true;
    }
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) {
      why = n == 0 ? "closed by the server" : std::strerror(errno);
      return false;
    }
    got.append(buf, static_cast<std::size_t>(n));
  }
}

// Opens `conns` keep-alive HTTP connections, one request each; returns the
// open sockets. Stops at the first failure (reported in `why`).
std::vector<int> open_http_idle(int port, int conns, int targets, std::string& why) {
  static constexpr std::string_view request = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  std::vector<int> open;
  for (int i = 0; i < conns; i++) {
    sockaddr_in to = net_tools::loopback(1 + i % targets, static_cast<std::uint16_t>(port));
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      why = std::string("socket: ") + std::strerror(errno);
      break;
    }
    bool ok = ::connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof to) == 0;
    if (!ok) why = std::string("connect: ") + std::strerror(errno);
    ok = ok &&
         ::send(fd, request.data(), request.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(request.size());
    if (ok) {
      ok = read_response(fd, why);
    } else if (why.empty()) {
      why = std::string("send: ") + std::strerror(errno);
    }
    if (!ok) {
      ::close(fd);
      break;
    }
    open.push_back(fd);
  }
  return open;
}

net_tools::load_options options(int port, int conns, int targets) {
  net_tools::load_options o;
  for (int i = 1; i <= targets; i++)
    o.targets.push_back(net_tools::loopback(i, static_cast<std::uint16_t>(port)));
  o.connections = conns;
  o.timeout_ms = 120000;
  return o;
}

void raise_nofile() {
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) return usage();
  raise_nofile();
  std::string mode = argv[1];
  int port = std::atoi(argv[2]);
  int conns = std::atoi(argv[3]);
  if (mode == "echo" && argc >= 6) {
    net_tools::load_options o = options(port, conns, argc >= 7 ? std::atoi(argv[6]) : 1);
    o.message_size = std::atoi(argv[4]);
    net_tools::load_client c(o);
    net_tools::throughput_result r = c.throughput(std::chrono::milliseconds(std::atoi(argv[5]) * 1000));
    std::printf(
        "round_trips=%llu seconds=%.3f rps=%.0f p50_us=%.1f p99_us=%.1f min_conn=%llu max_conn=%llu "
        "failed=%d %s\n",
        static_cast<unsigned long long>(r.round_trips), r.seconds,
        r.seconds > 0 ? static_cast<double>(r.round_trips) / r.seconds : 0.0, r.p50_us, r.p99_us,
        static_cast<unsigned long long>(r.min_per_conn), static_cast<unsigned long long>(r.max_per_conn),
        r.failed, r.error.c_str());
    return r.failed == 0 ? 0 : 1;
  }
  if (mode == "http-hold") {
    auto t0 = std::chrono::steady_clock::now();
    std::string why;
    std::vector<int> open = open_http_idle(port, conns, argc >= 5 ? std::atoi(argv[4]) : 1, why);
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    int failed = conns - static_cast<int>(open.size());
    std::printf("ready open=%zu failed=%d seconds=%.3f %s\n", open.size(), failed, secs, why.c_str());
    std::fflush(stdout);
    char buf[256];
    while (std::fgets(buf, sizeof buf, stdin) != nullptr) {
    }
    for (int fd : open) ::close(fd);
    return failed == 0 ? 0 : 1;
  }
  if (mode == "hold") {
    net_tools::load_options o = options(port, conns, argc >= 5 ? std::atoi(argv[4]) : 1);
    o.message_size = 32;
    net_tools::load_client c(o);
    net_tools::load_result r = c.open_and_echo();
    std::printf("ready open=%d failed=%d seconds=%.3f %s\n", r.open, r.failed, r.seconds, r.error.c_str());
    std::fflush(stdout);
    char buf[256];
    while (std::fgets(buf, sizeof buf, stdin) != nullptr) {
    }
    return 0;
  }
  return usage();
}
