// goro::metrics: the table (names, units, kinds), the value types, and each
// family of figures following what the program does: goroutines by state,
// processors and threads, stacks, the two histograms, timers, netpoll.
#include <goro/blocking.hpp>
#include <goro/chan.hpp>
#include <goro/compact.hpp>
#include <goro/debug.hpp>
#include <goro/goroutine.hpp>
#include <goro/metrics.hpp>
#include <goro/net.hpp>
#include <goro/runtime.hpp>
#include <goro/stack.hpp>
#include <goro/time.hpp>
#include <goro/timer.hpp>
#include <goro/wait_group.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>
#include <string>
#include <thread>

#include "debug/traceback_level.hpp"
#include "helpers/test_util.hpp"
#include "sched/sched_stats.hpp"

namespace {

using namespace std::chrono_literals;
namespace metrics = goro::metrics;
using goro_test::kKiB;

std::uint64_t read_count(std::string_view name) {
  metrics::sample s{name, {}};
  metrics::read({&s, 1});
  const auto* v = std::get_if<std::uint64_t>(&s.value);
  EXPECT_NE(v, nullptr) << name;
  return v != nullptr ? *v : 0;
}

metrics::histogram read_histogram(std::string_view name) {
  metrics::sample s{name, {}};
  metrics::read({&s, 1});
  const auto* h = std::get_if<metrics::histogram>(&s.value);
  EXPECT_NE(h, nullptr) << name;
  return h != nullptr ? *h : metrics::histogram{};
}

std::uint64_t total(const metrics::histogram& h) {
  std::uint64_t n = 0;
  for (std::uint64_t c : h.counts) n += c;
  return n;
}

// Samples at or above `at_least` (a bucket boundary or below one).
std::uint64_t total_from(const metrics::histogram& h, double at_least) {
  std::uint64_t n = 0;
  for (std::size_t i = 0; i < h.counts.size(); ++i) {
    if (h.buckets[i] >= at_least) n += h.counts[i];
  }
  return n;
}

// Polls `done` (yielding the goroutine between looks) for up to 10 s.
bool eventually(const std::function<bool()>& done) {
  for (auto until = std::chrono::steady_clock::now() + 10s; std::chrono::steady_clock::now() < until;) {
    if (done()) return true;
    goro::sleep_for(1ms);
  }
  return done();
}

const char* const kRequired[] = {
    "/sched/goroutines:goroutines",
    "/sched/goroutines/running:goroutines",
    "/sched/goroutines/runnable:goroutines",
    "/sched/goroutines/waiting:goroutines",
    "/sched/goroutines/not-in-go:goroutines",
    "/goro/sched/goroutines/compacted:goroutines",
    "/sched/gomaxprocs:threads",
    "/goro/sched/processors:processors",
    "/sched/threads/total:threads",
    "/sched/latencies:seconds",
    "/memory/classes/heap/stacks:bytes",
    "/goro/stacks/inuse:bytes",
    "/goro/stacks/pooled:bytes",
    "/goro/stacks/reserved:bytes",
    "/goro/stacks/released:bytes",
    "/goro/stacks/growth:pages",
    "/goro/stacks/shrinks:shrinks",
    "/goro/stacks/high-water:bytes",
    "/goro/netpoll/waiters:goroutines",
    "/goro/timers/pending:timers",
    "/goro/compact/compactions:stacks",
};

TEST(Metrics, AllDescribesEveryMetricOnce) {
  const auto& all = metrics::all();
  ASSERT_FALSE(all.empty());
  std::set<std::string_view> names;
  for (std::size_t i = 0; i < all.size(); ++i) {
    const metrics::description& d = all[i];
    SCOPED_TRACE(std::string(d.name));
    EXPECT_TRUE(names.insert(d.name).second) << "listed twice";
    if (i > 0) {
      EXPECT_LT(all[i - 1].name, d.name) << "not sorted";
    }
    ASSERT_EQ(d.name.substr(0, 1), "/");
    auto colon = d.name.rfind(':');
    ASSERT_NE(colon, std::string_view::npos);
    EXPECT_EQ(d.unit, d.name.substr(colon + 1));
    EXPECT_FALSE(d.unit.empty());
    EXPECT_GT(d.help.size(), 10u);
    EXPECT_EQ(d.cumulative, d.k != metrics::kind::gauge);
    EXPECT_EQ(d.walks_stacks, d.help.find("walks every stack slot") != std::string_view::npos);
  }
  for (const char* name : {"/goro/stacks/inuse:bytes", "/memory/classes/heap/stacks:bytes"}) {
    auto it = std::find_if(all.begin(), all.end(), [&](const auto& d) { return d.name == name; });
    ASSERT_NE(it, all.end());
    EXPECT_TRUE(it->walks_stacks) << name;
  }
  for (const char* name : kRequired) EXPECT_TRUE(names.count(name)) << name << " missing";
}

TEST(Metrics, UnknownNameReadsAsMonostate) {
  std::array<metrics::sample, 3> s{
      {{"/no/such/metric:bytes", {}}, {"/goro/stacks/reserved:bytes", {}}, {"/sched/goroutines", {}}}};
  metrics::read(s);
  EXPECT_TRUE(std::holds_alternative<std::monostate>(s[0].value));
  EXPECT_TRUE(std::holds_alternative<std::uint64_t>(s[1].value));
  EXPECT_TRUE(std::holds_alternative<std::monostate>(s[2].value));  // no unit: not a name
}

// The value's type follows the kind and unit, and histograms are well formed.
void check_types(const std::vector<metrics::sample>& samples) {
  const auto& all = metrics::all();
  ASSERT_EQ(samples.size(), all.size());
  for (std::size_t i = 0; i < all.size(); ++i) {
    SCOPED_TRACE(std::string(all[i].name));
    ASSERT_EQ(samples[i].name, all[i].name);
    const auto& v = samples[i].value;
    if (all[i].k == metrics::kind::histogram) {
      const auto* h = std::get_if<metrics::histogram>(&v);
      ASSERT_NE(h, nullptr);
      ASSERT_EQ(h->buckets.size(), h->counts.size() + 1);
      for (std::size_t b = 1; b < h->buckets.size(); ++b) EXPECT_LT(h->buckets[b - 1], h->buckets[b]);
      EXPECT_TRUE(std::isinf(h->buckets.back()));
    } else if (all[i].unit == "seconds") {
      EXPECT_TRUE(std::holds_alternative<double>(v));
    } else {
      EXPECT_TRUE(std::holds_alternative<std::uint64_t>(v));
    }
  }
}

TEST(Metrics, ReadAllOutsideARunGivesZeroSchedulerFigures) {
  auto samples = metrics::read_all();
  check_types(samples);
  EXPECT_EQ(read_count("/sched/goroutines:goroutines"), 0u);
  EXPECT_EQ(read_count("/sched/threads/total:threads"), 0u);
  EXPECT_EQ(total(read_histogram("/sched/latencies:seconds")), 0u);
}

TEST(Metrics, ReadAllInsideARunHasEveryType) {
  goro_test::run_on(2, [] {
    check_types(metrics::read_all());
    EXPECT_EQ(read_count("/sched/gomaxprocs:threads"), 2u);
    EXPECT_GE(read_count("/goro/sched/processors:processors"), 2u);
    EXPECT_GE(read_count("/sched/threads/total:threads"), 1u);
    EXPECT_GE(read_count("/sched/goroutines:goroutines"), 1u);
    EXPECT_GE(read_count("/goro/stacks/reserved:bytes"), 16 * kKiB);
  });
}

TEST(Metrics, GoroutinesByStateAddUp) {
  goro_test::run_on(2, [] {
    constexpr int kParked = 100;
    goro::chan<int> release;
    goro::wait_group started, finished;
    for (int i = 0; i < kParked; ++i) {
      started.add(1);
      finished.add(1);
      goro::go([&] {
        started.done();
        (void)release.recv();
        finished.done();
      });
    }
    started.wait();
    // Every one of them parks on the channel soon after it started.
    EXPECT_TRUE(eventually([] { return read_count("/sched/goroutines/waiting:goroutines") >= kParked; }));
    std::array<metrics::sample, 5> s{{{"/sched/goroutines:goroutines", {}},
                                      {"/sched/goroutines/running:goroutines", {}},
                                      {"/sched/goroutines/runnable:goroutines", {}},
                                      {"/sched/goroutines/waiting:goroutines", {}},
                                      {"/sched/goroutines/not-in-go:goroutines", {}}}};
    metrics::read(s);
    std::uint64_t all = std::get<std::uint64_t>(s[0].value);
    std::uint64_t running = std::get<std::uint64_t>(s[1].value);
    EXPECT_GE(all, kParked + 1u);
    EXPECT_GE(running, 1u);  // this one
    EXPECT_LE(running, read_count("/goro/sched/processors:processors"));
    EXPECT_EQ(running + std::get<std::uint64_t>(s[2].value) + std::get<std::uint64_t>(s[3].value) +
                  std::get<std::uint64_t>(s[4].value),
              all);
    release.close();
    finished.wait();
    EXPECT_TRUE(eventually([] { return read_count("/sched/goroutines:goroutines") < 10; }));
    EXPECT_LT(read_count("/sched/goroutines/waiting:goroutines"), 10u);
  });
}

TEST(Metrics, QueuedGoroutinesAreRunnable) {
  goro_test::run_on(1, [] {
    // One processor, and this goroutine does not yield: all ten stay queued.
    std::atomic<int> ran{0};
    for (int i = 0; i < 10; ++i) goro::go([&] { ran.fetch_add(1); });
    EXPECT_GE(read_count("/sched/goroutines/runnable:goroutines"), 10u);
    EXPECT_EQ(ran.load(), 0);
    EXPECT_TRUE(eventually([&] { return ran.load() == 10; }));
    EXPECT_EQ(read_count("/sched/goroutines/runnable:goroutines"), 0u);
  });
}

TEST(Metrics, BlockingCallIsNotInGo) {
  goro_test::run_on(2, [] {
    std::atomic<bool> inside{false}, leave{false};
    goro::wait_group wg;
    wg.add(1);
    goro::go([&] {
      goro::blocking([&] {
        inside.store(true);
        while (!leave.load()) std::this_thread::sleep_for(1ms);
      });
      wg.done();
    });
    EXPECT_TRUE(eventually([&] { return inside.load(); }));
    EXPECT_GE(read_count("/sched/goroutines/not-in-go:goroutines"), 1u);
    EXPECT_GE(read_count("/sched/threads/total:threads"), 2u);
    leave.store(true);
    wg.wait();
    EXPECT_TRUE(eventually([] { return read_count("/sched/goroutines/not-in-go:goroutines") == 0; }));
  });
}

TEST(Metrics, SchedulingLatencyIsSampled) {
  goro_test::run_on(2, [] {
    std::uint64_t before = total(read_histogram("/sched/latencies:seconds"));
    constexpr int kRounds = 8000;
    goro::chan<int> ping, pong;
    goro::go([&] {
      for (int i = 0; i < kRounds; ++i) pong.send(*ping.recv() + 1);
    });
    for (int i = 0; i < kRounds; ++i) {
      ping.send(i);
      EXPECT_EQ(*pong.recv(), i + 1);
    }
    // Each round makes each of the two goroutines runnable once at least,
    // and one transition in 256 per goroutine is timed.
    metrics::histogram h = read_histogram("/sched/latencies:seconds");
    EXPECT_GE(total(h) - before, std::uint64_t{kRounds} / 256);
    // A yield makes the goroutine runnable too: one in 256 per processor is
    // timed.
    std::uint64_t after_pingpong = total(h);
    for (int i = 0; i < 256 * 8; ++i) goro::yield();
    EXPECT_GE(total(read_histogram("/sched/latencies:seconds")) - after_pingpong, 4u);
    EXPECT_EQ(h.buckets.front(), 0.0);
    EXPECT_NEAR(h.buckets[1], 128e-9, 1e-12);
  });
}

constexpr std::size_t kDeep = 40 * kKiB;

[[gnu::noinline]] void touch_stack() {
  volatile char buf[kDeep];
  std::memset(const_cast<char*>(buf), 1, sizeof buf);
  asm volatile("" : : "r"(buf) : "memory");
}

TEST(Metrics, StackHighWaterIsSampledAtExit) {
  goro::detail::set_stack_peak_sampling(1);  // every exit, not one in 1024
  goro_test::run_on(2, [] {
    metrics::histogram before = read_histogram("/goro/stacks/high-water:bytes");
    constexpr int kGoroutines = 1000;
    goro::wait_group wg;
    for (int i = 0; i < kGoroutines; ++i) {
      wg.add(1);
      goro::go([&] {
        touch_stack();
        wg.done();
      });
      if (i % 64 == 63) wg.wait();  // bounded: few live at once, under TSan too
    }
    wg.wait();
    const std::uint64_t least = kGoroutines;
    EXPECT_TRUE(eventually(
        [&] { return total(read_histogram("/goro/stacks/high-water:bytes")) - total(before) >= least; }));
    metrics::histogram after = read_histogram("/goro/stacks/high-water:bytes");
    EXPECT_GE(total_from(after, 32.0 * kKiB) - total_from(before, 32.0 * kKiB), least);
    EXPECT_EQ(after.buckets[1], 4096.0);
  });
  goro::detail::set_stack_peak_sampling(1024);
}

TEST(Metrics, StackFiguresFollowLiveGoroutines) {
  goro_test::run_on(2, [] {
    constexpr std::uint64_t kParked = 200;
    goro::chan<int> release;
    goro::wait_group started, finished;
    for (std::uint64_t i = 0; i < kParked; ++i) {
      started.add(1);
      finished.add(1);
      goro::go([&] {
        started.done();
        (void)release.recv();
        finished.done();
      });
    }
    started.wait();
    std::array<metrics::sample, 6> s{{{"/goro/stacks/live:stacks", {}},
                                      {"/goro/stacks/inuse:bytes", {}},
                                      {"/memory/classes/heap/stacks:bytes", {}},
                                      {"/goro/stacks/reserved:bytes", {}},
                                      {"/goro/stacks/growth:pages", {}},
                                      {"/goro/stacks/pooled:bytes", {}}}};
    metrics::read(s);
    auto v = [&](int i) { return std::get<std::uint64_t>(s[static_cast<std::size_t>(i)].value); };
    EXPECT_GE(v(0), kParked);
    EXPECT_GE(v(1), kParked * 4096);
    EXPECT_GE(v(2), v(1));
    EXPECT_EQ(v(2) - v(1), v(5));
    EXPECT_GE(v(3), kParked * 16 * kKiB);
    EXPECT_GE(v(4) * 4096, v(2));
    release.close();
    finished.wait();
    EXPECT_TRUE(eventually([] { return read_count("/goro/stacks/live:stacks") < 10; }));
    EXPECT_GE(read_count("/goro/stacks/pooled:stacks"), 1u);
  });
}

TEST(Metrics, PendingTimersAreCounted) {
  goro_test::run_on(2, [] {
    std::uint64_t before = read_count("/goro/timers/pending:timers");
    {
      goro::timer t(1h);
      EXPECT_GE(read_count("/goro/timers/pending:timers"), before + 1);
      EXPECT_TRUE(t.stop());
    }
    EXPECT_TRUE(eventually([&] { return read_count("/goro/timers/pending:timers") <= before; }));
  });
}

TEST(Metrics, NetpollWaitersAreCounted) {
  goro_test::run_on(2, [] {
    goro::net::listener ln = goro::net::listen("tcp", "127.0.0.1:0");
    goro::wait_group wg;
    wg.add(1);
    goro::go([&] {
      try {
        (void)ln.accept();
      } catch (const goro::net::error&) {
        // closed below
      }
      wg.done();
    });
    EXPECT_TRUE(eventually([] { return read_count("/goro/netpoll/waiters:goroutines") >= 1; }));
    ln.close();
    wg.wait();
    EXPECT_EQ(read_count("/goro/netpoll/waiters:goroutines"), 0u);
  });
}

TEST(Metrics, CompactedGoroutinesAreCounted) {
  if (!goro::compaction_supported())
    GTEST_SKIP() << "compact stacks need MADV_GUARD_INSTALL and process_madvise on the calling process "
                    "(Linux 6.15)";
  goro_test::run_on(2, [] {
    const std::uint64_t compactions = read_count("/goro/compact/compactions:stacks");
    const std::uint64_t restores = read_count("/goro/compact/restores:stacks");
    constexpr std::uint64_t kParked = 8;
    goro::wait_group started, gate, finished;
    gate.add(1);
    goro::spawn_options opts;
    opts.compact_after = 5ms;
    for (std::uint64_t i = 0; i < kParked; ++i) {
      started.add(1);
      finished.add(1);
      goro::go(opts, [&] {
        started.done();
        gate.wait();
        finished.done();
      });
    }
    started.wait();
    EXPECT_TRUE(
        eventually([] { return read_count("/goro/sched/goroutines/compacted:goroutines") >= kParked; }));
    EXPECT_GE(read_count("/goro/compact/compactions:stacks") - compactions, kParked);
    EXPECT_GT(read_count("/goro/compact/saved:bytes"), 0u);
    // Waiting is what the other states leave; running counts a worker
    // between goroutines for a moment.
    EXPECT_TRUE(eventually([] { return read_count("/sched/goroutines/waiting:goroutines") >= kParked; }));
    gate.done();
    finished.wait();
    EXPECT_GE(read_count("/goro/compact/restores:stacks") - restores, kParked);
    EXPECT_TRUE(eventually([] { return read_count("/goro/sched/goroutines/compacted:goroutines") == 0; }));
  });
}

TEST(Metrics, ObservabilityDocListsEveryMetric) {
  std::ifstream in(std::string(GORO_DOCS_ROOT) + "/docs/OBSERVABILITY.md");
  ASSERT_TRUE(in) << "cannot read docs/OBSERVABILITY.md";
  std::stringstream text;
  text << in.rdbuf();
  for (const auto& d : metrics::all()) {
    std::string quoted = "`" + std::string(d.name) + "`";
    EXPECT_NE(text.str().find(quoted), std::string::npos) << d.name << " is not in docs/OBSERVABILITY.md";
  }
}

}  // namespace

// Per-goroutine stack figures in dump headers.
namespace {

constexpr std::size_t kParkDepth = 96 * kKiB;

// Touches kParkDepth bytes of stack, then receives from `c` there (a parked
// goroutine keeps the pages above its stack pointer).
[[gnu::noinline]] void park_deep(const goro::chan<int>& c) {
  volatile char buf[kParkDepth];
  std::memset(const_cast<char*>(buf), 1, sizeof buf);
  (void)c.recv();
  asm volatile("" : : "r"(buf) : "memory");
}

// The header line of goroutine `id` in `dump`, or empty.
std::string header_of(const std::string& dump, std::uint64_t id) {
  std::string start = "goroutine " + std::to_string(id) + " ";
  for (std::size_t at = dump.find(start); at != std::string::npos; at = dump.find(start, at + 1)) {
    if (at == 0 || dump[at - 1] == '\n') return dump.substr(at, dump.find('\n', at) - at);
  }
  return {};
}

// The dump's header of a goroutine parked 96 KiB deep.
std::string header_of_deep_goroutine() {
  std::string header;
  goro_test::run_on(2, [&] {
    goro::chan<int> release;
    std::uint64_t id = goro::go([&] { park_deep(release); });
    EXPECT_TRUE(eventually(
        [&] { return header_of(goro::dump_goroutines(), id).find("[chan receive]") != std::string::npos; }));
    header = header_of(goro::dump_goroutines(), id);
    release.close();
  });
  return header;
}

TEST(DumpStackFigures, OffByDefaultKeepsGoFormat) {
  goro::set_dump_stack_figures(false);
  std::string h = header_of_deep_goroutine();
  EXPECT_NE(h.find(" [chan receive]:"), std::string::npos) << h;
  EXPECT_EQ(h.find("stack"), std::string::npos) << h;
}

TEST(DumpStackFigures, HeaderShowsResidentCeilingAndPeak) {
  EXPECT_FALSE(goro::set_dump_stack_figures(true));
  std::string h = header_of_deep_goroutine();
  EXPECT_TRUE(goro::set_dump_stack_figures(false));
  // "goroutine 17 [chan receive] stack 100 KiB/208 KiB, peak 100 KiB:"
  std::size_t at = h.find("[chan receive] stack ");
  ASSERT_NE(at, std::string::npos) << h;
  unsigned long resident = 0, ceiling = 0, peak = 0;
  ASSERT_EQ(std::sscanf(h.c_str() + at, "[chan receive] stack %lu KiB/%lu KiB, peak %lu KiB:", &resident,
                        &ceiling, &peak),
            3)
      << h;
  EXPECT_EQ(ceiling * kKiB, goro::max_stack()) << h;
  EXPECT_GE(peak * kKiB, kParkDepth) << h;
  EXPECT_LE(peak, ceiling) << h;
  EXPECT_GE(resident * kKiB, kParkDepth / 2) << h;  // touched pages, shrink aside
  EXPECT_LE(resident, peak) << h;
  EXPECT_EQ(h.back(), ':') << h;
}

TEST(DumpStackFigures, GoroDebugTurnsThemOn) {
  goro::set_dump_stack_figures(false);
  ASSERT_EQ(::setenv("GORO_DEBUG", "schedtrace=0,stackfigures=1", 1), 0);
  goro::detail::load_traceback_level();
  EXPECT_TRUE(goro::set_dump_stack_figures(false));
  ASSERT_EQ(::setenv("GORO_DEBUG", "stackfigures=0", 1), 0);
  goro::set_dump_stack_figures(true);
  goro::detail::load_traceback_level();
  EXPECT_FALSE(goro::set_dump_stack_figures(false));
  ASSERT_EQ(::setenv("GORO_DEBUG", "nostackfigures=1", 1), 0);
  goro::detail::load_traceback_level();
  EXPECT_FALSE(goro::set_dump_stack_figures(false));
  ::unsetenv("GORO_DEBUG");
}

}  // namespace
