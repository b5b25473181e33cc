// bench/chan/select.cpp: select over 2, 4 and 8 channels; time per select.
//   select<k>_ready      one goroutine; every channel (capacity 1) holds a
//                        value; each select takes one and the case puts it
//                        back: the cost of polling k locked channels.
//   select<k>_prodcons   k producers, each sending on its own unbuffered
//                        channel, one consumer selecting over all k: the
//                        blocking path (queue k waiters, park, dequeue).
// Go's peer: go/select.go (the same cases written out).
//
//   chan_select [N]   (default 2,000,000 selects per measurement)
#include <goro/chan.hpp>
#include <goro/goroutine.hpp>
#include <goro/runtime.hpp>
#include <goro/select.hpp>
#include <goro/wait_group.hpp>

#include "bench_util.hpp"

#include <array>
#include <chrono>
#include <string>
#include <utility>

namespace {

template <std::size_t K>
using Chans = std::array<goro::chan<long>, K>;

// One select over all K channels; a receive case puts the value back when
// `refill`.
template <std::size_t K, std::size_t... I>
void select_all(const Chans<K>& chs, bool refill, std::index_sequence<I...>) {
  goro::select(goro::on_recv(chs[I], [&chs, refill](std::optional<long> v) {
    if (refill) chs[I].send(*v);
  })...);
}

template <std::size_t K>
void ready(long n) {
  Chans<K> chs;
  for (auto& c : chs) {
    c = goro::chan<long>(1);
    c.send(0);
  }
  for (long i = 0; i < n; ++i) select_all<K>(chs, true, std::make_index_sequence<K>{});
}

template <std::size_t K>
void prodcons(long n) {
  Chans<K> chs;
  goro::wait_group wg;
  for (auto& c : chs) {
    wg.go([c, count = n / static_cast<long>(K)] {
      for (long i = 0; i < count; ++i) c.send(i);
    });
  }
  const long total = n / static_cast<long>(K) * static_cast<long>(K);
  for (long i = 0; i < total; ++i) select_all<K>(chs, false, std::make_index_sequence<K>{});
  wg.wait();
}

template <typename F>
void measure(const std::string& name, long n, F f) {
  f(n / 10);  // warm up
  const auto t0 = std::chrono::steady_clock::now();
  const double c0 = bench::cpu_seconds();
  f(n);
  bench::metric((name + "_ns").c_str(), bench::seconds_since(t0) * 1e9 / static_cast<double>(n));
  bench::metric((name + "_cpu_ns").c_str(), (bench::cpu_seconds() - c0) * 1e9 / static_cast<double>(n));
}

}  // namespace

int main(int argc, char** argv) {
  const long n = bench::size_arg(argc, argv, 2000000);
  return goro::run([n] {
    measure("select2_ready", n, ready<2>);
    measure("select4_ready", n, ready<4>);
    measure("select8_ready", n, ready<8>);
    measure("select2_prodcons", n, prodcons<2>);
    measure("select4_prodcons", n, prodcons<4>);
    measure("select8_prodcons", n, prodcons<8>);
    bench::metric("maxprocs", static_cast<long>(goro::maxprocs()));
  });
}
