// bench/switch.cpp: switching between goroutines, on one processor.
//
//   bench_switch [N]   (default 10,000,000)
//
// With maxprocs 1 (set here, like GOMAXPROCS=1):
//   switch_ns, switch_cpu_ns      two goroutines yielding to each other N times
//                                 each: wall and process CPU time per switch
//   pingpong_ns, pingpong_cpu_ns  round trip between two goroutines over two
//                                 wait_groups (each side parks and is woken),
//                                 N / 10 round trips: time per round trip
//   mutex_pingpong_ns, mutex_pingpong_cpu_ns
//                                 the same round trip over two mutexes used
//                                 as binary semaphores (each side unlocks the
//                                 one the other waits on, then parks locking
//                                 the other), N / 10 round trips
// The Go peer (bench/peers/go/switch.go) does the same with runtime.Gosched,
// sync.WaitGroup and sync.Mutex.
#include "bench_util.hpp"

#include <goro/goro.hpp>

#include <atomic>
#include <chrono>

int main(int argc, char** argv) {
  const long n = bench::size_arg(argc, argv, 10000000);
  const long trips = n / 10 > 0 ? n / 10 : 1;  // round trips of each ping-pong
  goro::set_maxprocs(1);
  return goro::run([n, trips] {
    {
      goro::wait_group done;
      done.add(1);
      goro::go([&] {
        for (long i = 0; i < n; i++) goro::yield();
        done.done();
      });
      auto t0 = std::chrono::steady_clock::now();
      double c0 = bench::cpu_seconds();
      for (long i = 0; i < n; i++) goro::yield();
      done.wait();
      const double switches = 2.0 * static_cast<double>(n);
      bench::metric("switch_ns", bench::seconds_since(t0) * 1e9 / switches);
      bench::metric("switch_cpu_ns", (bench::cpu_seconds() - c0) * 1e9 / switches);
    }
    {
      goro::wait_group ping, pong, done;
      ping.add(1);
      done.add(1);
      goro::go([&] {
        for (long i = 0; i < trips; i++) {
          ping.wait();
          ping.add(1);
          pong.done();
        }
        done.done();
      });
      auto t0 = std::chrono::steady_clock::now();
      double c0 = bench::cpu_seconds();
      for (long i = 0; i < trips; i++) {
        pong.add(1);
        ping.done();
        pong.wait();
      }
      done.wait();
      const double dt = static_cast<double>(trips);
      bench::metric("pingpong_ns", bench::seconds_since(t0) * 1e9 / dt);
      bench::metric("pingpong_cpu_ns", (bench::cpu_seconds() - c0) * 1e9 / dt);
    }
    {
      // Both start locked; a mutex may be unlocked by another goroutine
      // than the one that locked it, as in Go.
      goro::mutex ping, pong;
      goro::wait_group done;
      ping.lock();
      pong.lock();
      done.add(1);
      goro::go([&] {
        for (long i = 0; i < trips; i++) {
          ping.lock();
          pong.unlock();
        }
        done.done();
      });
      auto t0 = std::chrono::steady_clock::now();
      double c0 = bench::cpu_seconds();
      for (long i = 0; i < trips; i++) {
        ping.unlock();
        pong.lock();
      }
      done.wait();
      const double dt = static_cast<double>(trips);
      bench::metric("mutex_pingpong_ns", bench::seconds_since(t0) * 1e9 / dt);
      bench::metric("mutex_pingpong_cpu_ns", (bench::cpu_seconds() - c0) * 1e9 / dt);
    }
    bench::metric("maxprocs", static_cast<long>(goro::maxprocs()));
    return 0;
  });
}
