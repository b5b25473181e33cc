// Tests of the system monitor and of processors changed during a run: a
// worker stuck on one goroutine (a CPU loop that never yields, or a
// blocking read(2) outside goro::blocking) does not stop the goroutines
// queued behind it, and set_maxprocs grows and shrinks a running runtime.
//
// Bound: the monitor notices a stuck processor within 15 ms (a 10 ms
// threshold, looked at every 5 ms); each step below is asserted to finish
// within 2 s when timing checks are on, and a watchdog fails the test after
// 60 s instead of letting it hang.
#include "helpers/test_util.hpp"
#include "sched/scheduler.hpp"

#include <goro/chan.hpp>
#include <goro/goroutine.hpp>
#include <goro/net.hpp>
#include <goro/runtime.hpp>
#include <goro/time.hpp>
#include <goro/timer.hpp>
#include <goro/wait_group.hpp>

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>

using namespace std::chrono_literals;
using goro_test::Clock;

namespace {

// Aborts the process with a message if the test is still running after
// `limit`: a hang is reported as a failure, not as a CI timeout.
class Watchdog {
 public:
  explicit Watchdog(std::chrono::seconds limit) : thread_([this, limit] { watch(limit); }) {}
  ~Watchdog() {
    {
      std::lock_guard lk(mu_);
      done_ = true;
    }
    cv_.notify_one();
    thread_.join();
  }

 private:
  void watch(std::chrono::seconds limit) {
    std::unique_lock lk(mu_);
    if (!cv_.wait_for(lk, limit, [this] { return done_; })) {
      std::fprintf(stderr, "watchdog: test still running after %lld s (hung)\n",
                   static_cast<long long>(limit.count()));
      std::abort();
    }
  }
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

double elapsed_s(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

void expect_quick(Clock::time_point since, const char* what) {
  if (timing_checks()) {
    EXPECT_LT(elapsed_s(since), 2.0) << what;
  }
}

// Starts `n` goroutines that spin without yielding until `stop`.
void start_spinners(int n, std::atomic<bool>& stop, goro::wait_group& wg) {
  wg.add(n);
  for (int i = 0; i < n; i++) {
    goro::go([&] {
      while (!stop.load(std::memory_order_relaxed)) goro_test::spin_work(1000);
      wg.done();
    });
  }
}

void others_keep_running(int procs) {
  Watchdog dog(60s);
  goro_test::run_on(procs, [procs] {
    std::atomic<bool> stop{false};
    goro::wait_group spinners;
    start_spinners(procs, stop, spinners);
    goro::sleep_for(1ms);  // the spinners now hold every processor

    auto t0 = Clock::now();
    goro::sleep_for(10ms);
    expect_quick(t0, "sleep_for(10ms)");

    t0 = Clock::now();
    auto fired = goro::after(5ms);
    EXPECT_TRUE(fired.recv().has_value());
    expect_quick(t0, "after(5ms)");

    t0 = Clock::now();
    goro::chan<int> ping;
    goro::chan<int> pong;
    goro::go([&] {
      for (int i = 0; i < 1000; i++) pong.send(*ping.recv() + 1);
    });
    int sum = 0;
    for (int i = 0; i < 1000; i++) {
      ping.send(i);
      sum += *pong.recv() - i;
    }
    EXPECT_EQ(sum, 1000);
    expect_quick(t0, "1,000 channel round trips");

    t0 = Clock::now();
    goro::net::listener ln = goro::net::listen("tcp", "127.0.0.1:0");
    goro::wait_group served;
    served.add(1);
    goro::go([&] {
      goro::net::conn c = ln.accept();
      char buf[5];
      std::size_t n = c.read(std::span<char>(buf));
      c.write(std::string_view(buf, n));
      served.done();
    });
    goro::net::conn c = goro::net::dial("tcp", ln.local_address().to_string());
    c.write("hello");
    char back[5];
    std::size_t got = c.read(std::span<char>(back));
    EXPECT_EQ(std::string_view(back, got), "hello");
    served.wait();
    expect_quick(t0, "a loopback TCP echo");

    stop.store(true);
    spinners.wait();
    return 0;
  });
}

}  // namespace

TEST(Sysmon, SpinningGoroutinesDoNotStopOthersOneProcessor) {
  others_keep_running(1);
}

TEST(Sysmon, SpinningGoroutinesDoNotStopOthersTwoProcessors) {
  others_keep_running(2);
}

// A goroutine blocked in read(2) outside goro::blocking holds its worker;
// the goroutines queued on its processor still run.
TEST(Sysmon, UnwrappedBlockingReadDoesNotStallItsProcessor) {
  Watchdog dog(60s);
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  goro_test::run_on(1, [&] {
    goro::wait_group reader;
    reader.add(1);
    char byte = 0;
    goro::go([&] {
      ssize_t n = ::read(fds[0], &byte, 1);  // blocks this worker's thread
      EXPECT_EQ(n, 1);
      reader.done();
    });
    goro::sleep_for(1ms);  // the reader is now blocked in read(2)

    auto t0 = Clock::now();
    std::atomic<int> ran{0};
    goro::wait_group wg;
    wg.add(100);
    for (int i = 0; i < 100; i++) {
      goro::go([&] {
        goro::yield();
        ran.fetch_add(1);
        wg.done();
      });
    }
    wg.wait();
    EXPECT_EQ(ran.load(), 100);
    expect_quick(t0, "100 goroutines beside a blocked read(2)");

    EXPECT_EQ(::write(fds[1], "x", 1), 1);
    reader.wait();
    EXPECT_EQ(byte, 'x');
    return 0;
  });
  ::close(fds[0]);
  ::close(fds[1]);
}

// How many of the process's threads carry `name` (/proc/self/task/*/comm).
int threads_named(const std::string& name) {
  int n = 0;
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
    std::ifstream comm(task.path() / "comm");
    std::string line;
    std::getline(comm, line);
    if (line == name) n++;
  }
  return n;
}

// Once the stuck goroutine yields again, its spare is retired.
TEST(Sysmon, SpareIsRetiredWhenTheLoopEnds) {
  Watchdog dog(60s);
  goro_test::run_on(1, [] {
    std::atomic<bool> stop{false};
    goro::wait_group spinners;
    start_spinners(1, stop, spinners);
    goro::sleep_for(50ms);
    EXPECT_EQ(goro::detail::sched().nprocs.load(), 2) << "one spare beside the stuck processor";
    EXPECT_EQ(goro::maxprocs(), 1) << "spares do not count against GOMAXPROCS";
    // The monitor started the spare's worker, which must not keep its name.
    EXPECT_EQ(threads_named("goro-sysmon"), 1);
    EXPECT_GE(threads_named("goro-worker"), 1);
    stop.store(true);
    spinners.wait();
    auto t0 = Clock::now();
    while (goro::detail::sched().nprocs.load() != 1 && elapsed_s(t0) < 30) goro::sleep_for(5ms);
    EXPECT_EQ(goro::detail::sched().nprocs.load(), 1);
    return 0;
  });
}

// A goroutine in a CPU loop while another processor is free gets no spare:
// the free one steals what waits behind the loop, and a spare would only
// add a thread competing for the same CPUs. A goroutine it starts while
// looping still runs.
TEST(Sysmon, LoopBesideAFreeProcessorGetsNoSpare) {
  Watchdog dog(60s);
  goro_test::run_on(2, [] {
    std::atomic<bool> stop{false};
    std::atomic<bool> child_ran{false};
    goro::wait_group looper;
    looper.add(1);
    goro::go([&] {
      goro::go([&] { child_ran.store(true); });  // waits in this processor's runnext
      while (!stop.load(std::memory_order_relaxed)) goro_test::spin_work(1000);
      looper.done();
    });
    goro::sleep_for(60ms);
    // On an oversubscribed machine a worker may sit in the kernel while it
    // holds the other processor, which then also counts as stuck.
    if (timing_checks()) {
      EXPECT_EQ(goro::detail::sched().nprocs.load(), 2) << "no spare while a processor is free";
    }
    auto t0 = Clock::now();
    while (!child_ran.load() && elapsed_s(t0) < 30) goro::sleep_for(1ms);
    EXPECT_TRUE(child_ran.load()) << "the free processor runs what waits behind the loop";
    stop.store(true);
    looper.wait();
    return 0;
  });
}

// GOMAXPROCS changed 1 -> 2 -> 1 over and over while many goroutines run:
// every goroutine runs exactly once, and maxprocs() reports each setting.
TEST(Procresize, MaxprocsChangesWhileGoroutinesRun) {
  Watchdog dog(300s);
  const std::int64_t total = goro_test::scaled3(1000000, 200000, 20000);
  constexpr int kBatch = 1000;
  std::atomic<std::int64_t> ran{0};
  goro_test::run_on(1, [&] {
    std::atomic<bool> done{false};
    goro::wait_group toggler;
    toggler.add(1);
    int changes = 0;
    goro::go([&] {
      while (!done.load()) {
        int want = changes % 2 == 0 ? 2 : 1;
        goro::set_maxprocs(want);
        EXPECT_EQ(goro::maxprocs(), want);
        changes++;
        goro::sleep_for(1ms);
      }
      toggler.done();
    });
    for (std::int64_t started = 0; started < total; started += kBatch) {
      goro::wait_group batch;
      batch.add(kBatch);
      for (int i = 0; i < kBatch; i++) {
        goro::go([&] {
          goro::yield();
          ran.fetch_add(1, std::memory_order_relaxed);
          batch.done();
        });
      }
      batch.wait();
    }
    done.store(true);
    toggler.wait();
    EXPECT_GT(changes, 2);
    return 0;
  });
  EXPECT_EQ(ran.load(), total);
}

// Growing while goroutines spin: a second processor runs a second spinner
// at once, so both make progress together.
TEST(Procresize, GrowingAddsParallelism) {
  Watchdog dog(60s);
  goro_test::run_on(1, [] {
    goro::set_maxprocs(2);
    EXPECT_EQ(goro::maxprocs(), 2);
    std::atomic<int> both{0};
    goro::wait_group wg;
    wg.add(2);
    for (int i = 0; i < 2; i++) {
      goro::go([&] {
        both.fetch_add(1);
        // Waits, without yielding, for the other to run beside it.
        auto t0 = Clock::now();
        while (both.load() < 2 && elapsed_s(t0) < 30) goro_test::spin_work(100);
        wg.done();
      });
    }
    wg.wait();
    EXPECT_EQ(both.load(), 2);
    goro::set_maxprocs(1);
    EXPECT_EQ(goro::maxprocs(), 1);
    return 0;
  });
}
