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
//
// TARGETS (default 1) spreads connections over 127.0.0.1..127.0.0.TARGETS,
// each with its own ephemeral port range. Loopback only.
#include "net_tools/load_client.hpp"

#include <sys/resource.h>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace {

int usage() {
  std::fprintf(stderr,
               "usage: net_load_client echo PORT CONNS SIZE SECONDS [TARGETS]\n"
               "       net_load_client hold PORT CONNS [TARGETS]\n");
  return 2;
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
