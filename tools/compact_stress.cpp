// tools/compact_stress.cpp: a stress program for compact parked stacks
// (goro/compact.hpp).
//
//   goro-compact-stress [--seconds S] [--goroutines N] [--procs P] [--seed X]
//
// N goroutines (default 2,000) opt into compaction after 1 ms and loop until
// S seconds (default 10) have passed. Each keeps a random-sized pattern on
// its stack, at a random recursion depth, and between checks of it parks in
// one of the ways that allow compaction: a short sleep, a contended
// goro::mutex, a wait_group rendezvous with another goroutine, a
// goro::cond broadcast (main broadcasts every 2 ms); or yields, which does
// not. Each also keeps a pointer
// to its own stack in a heap record and writes through it after every park
// (a goroutine may use pointers into its own stack; nobody else does). Any
// mismatch prints what was found and aborts. Main dumps all goroutines
// every 100 ms meanwhile (a dump must never touch a compacted stack). At the end it prints
// `metric=value` lines (iterations, parks, compactions, restores) and fails
// (exit 1) if nothing was compacted.
//
// scripts/soak-compact.sh runs it for 10 minutes.
#include <goro/goro.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string_view>

using namespace std::chrono_literals;

namespace {

struct options {
  long seconds = 10;
  long goroutines = 2000;
  std::uint64_t seed = 1;
};

options parse(int argc, char** argv) {
  options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string_view a = argv[i];
    long v = std::atol(argv[i + 1]);
    if (a == "--seconds") {
      o.seconds = v;
    } else if (a == "--goroutines") {
      o.goroutines = v;
    } else if (a == "--procs") {
      goro::set_maxprocs(static_cast<int>(v));
    } else if (a == "--seed") {
      o.seed = static_cast<std::uint64_t>(v);
    } else {
      std::fprintf(stderr,
                   "usage: goro-compact-stress [--seconds S] [--goroutines N] [--procs P] [--seed X]\n");
      std::exit(2);
    }
  }
  return o;
}

// State shared by all goroutines (on the heap, or in main's stack, which
// never opts in).
struct shared_state {
  goro::mutex mu;
  long counter = 0;  // under mu
  goro::mutex cond_mu;
  goro::cond cond;
  long generation = 0;  // under cond_mu
  goro::mutex meet_mu;
  std::shared_ptr<goro::wait_group> waiting;  // under meet_mu: who waits to meet
  std::atomic<long> iterations{0};
  std::atomic<long> parks{0};
  std::atomic<bool> stop{false};
};

// Where a goroutine keeps a pointer to its own stack.
struct self_record {
  volatile std::uint64_t* own = nullptr;
};

[[noreturn]] void corrupt(const char* what, long id, std::uint64_t want, std::uint64_t got) {
  std::fprintf(stderr, "goro-compact-stress: goroutine %ld: %s: want %016llx, got %016llx\n", id, what,
               static_cast<unsigned long long>(want), static_cast<unsigned long long>(got));
  std::abort();
}

std::uint64_t word_for(std::uint64_t seed, std::size_t i) {
  return seed * 0x9e3779b97f4a7c15ull ^ (i * 0xbf58476d1ce4e5b9ull);
}

class worker {
 public:
  worker(shared_state& s, long id, std::uint64_t seed) : s_(s), id_(id), rng_(seed) {}

  void run() {
    std::uint64_t mark = 0;
    self_.own = &mark;
    for (std::uint64_t round = 1; !s_.stop.load(std::memory_order_relaxed); ++round) {
      mark = round;
      int depth = static_cast<int>(rng_() % 24);
      descend(depth, round);
      // Through the pointer kept on the heap: still our own stack.
      if (*self_.own != round) corrupt("self pointer", id_, round, *self_.own);
      *self_.own = round + 1;
      if (mark != round + 1) corrupt("write through self pointer", id_, round + 1, mark);
      s_.iterations.fetch_add(1, std::memory_order_relaxed);
    }
  }

 private:
  // Recurses `depth` frames, each with a pattern, parks at the bottom, and
  // checks every frame's pattern on the way back.
  [[gnu::noinline]] void descend(int depth, std::uint64_t round) {
    std::uint64_t seed =
        round * 131 + static_cast<std::uint64_t>(depth) + static_cast<std::uint64_t>(id_) * 7919;
    constexpr std::size_t kMax = 96;
    std::uint64_t pattern[kMax];
    std::size_t n = 1 + rng_() % kMax;
    for (std::size_t i = 0; i < n; ++i) pattern[i] = word_for(seed, i);
    asm volatile("" : : "r"(pattern) : "memory");
    if (depth > 0) {
      descend(depth - 1, round);
    } else {
      park_somehow();
    }
    asm volatile("" : : "r"(pattern) : "memory");
    for (std::size_t i = 0; i < n; ++i) {
      if (pattern[i] != word_for(seed, i)) corrupt("stack pattern", id_, word_for(seed, i), pattern[i]);
    }
  }

  void park_somehow() {
    s_.parks.fetch_add(1, std::memory_order_relaxed);
    switch (rng_() % 5) {
      case 0:
        goro::sleep_for(std::chrono::microseconds(rng_() % 5000));
        break;
      case 1: {
        std::lock_guard lk(s_.mu);
        s_.counter++;
        goro::sleep_for(std::chrono::microseconds(rng_() % 200));  // contention
        break;
      }
      case 2: {
        // Meet another goroutine: the first parks on a heap wait_group, the
        // second releases it (main releases the last one at the end).
        std::shared_ptr<goro::wait_group> mine, theirs;
        {
          std::lock_guard lk(s_.meet_mu);
          if (s_.waiting != nullptr) {
            theirs = std::move(s_.waiting);
          } else {
            mine = std::make_shared<goro::wait_group>();
            mine->add(1);
            s_.waiting = mine;
          }
        }
        if (theirs != nullptr) {
          theirs->done();
        } else {
          mine->wait();
        }
        break;
      }
      case 3: {
        std::unique_lock lk(s_.cond_mu);
        long gen = s_.generation;
        if (rng_() % 8 == 0) {
          s_.generation++;
          s_.cond.broadcast();
        } else {
          s_.cond.wait(lk, [&] { return s_.generation != gen || s_.stop.load(); });
        }
        break;
      }
      default:
        goro::yield();
        break;
    }
  }

  shared_state& s_;
  long id_;
  std::mt19937_64 rng_;
  self_record self_;
};

}  // namespace

int main(int argc, char** argv) {
  options opt = parse(argc, argv);
  if (!goro::compaction_supported()) {
    std::printf("goro-compact-stress: compaction is not supported on this kernel; nothing to stress\n");
    return 0;
  }
  return goro::run([&] {
    shared_state s;
    goro::spawn_options so;
    so.compact_after = 1ms;
    goro::wait_group all;
    all.add(opt.goroutines);
    for (long i = 0; i < opt.goroutines; ++i) {
      goro::go(so, [&, i] {
        auto w = std::make_unique<worker>(s, i, opt.seed * 1000003 + static_cast<std::uint64_t>(i));
        w->run();
        all.done();
      });
    }
    // Meanwhile wake a cond waiter now and then, so none waits for long.
    auto end = goro::clock::now() + std::chrono::seconds(opt.seconds);
    for (long tick = 0; goro::clock::now() < end; ++tick) {
      goro::sleep_for(2ms);
      // A dump walks parked goroutines' frames while compaction goes on.
      if (tick % 50 == 0 && goro::dump_goroutines().empty()) std::abort();
      std::unique_lock lk(s.cond_mu);
      s.generation++;
      s.cond.broadcast();
    }
    s.stop.store(true);
    goro::chan<int> finished(1);
    goro::go([&] {
      all.wait();
      finished.send(1);
    });
    // Release whoever still waits for a partner or a broadcast, until all end.
    while (!finished.try_recv()) {
      {
        std::unique_lock lk(s.cond_mu);
        s.generation++;
        s.cond.broadcast();
      }
      std::shared_ptr<goro::wait_group> last;
      {
        std::lock_guard lk(s.meet_mu);
        last = std::move(s.waiting);
      }
      if (last != nullptr) last->done();
      goro::sleep_for(1ms);
    }
    goro::compact_stats cs = goro::read_compact_stats();
    std::printf("iterations=%ld\nparks=%ld\ncompactions=%llu\nrestores=%llu\n", s.iterations.load(),
                s.parks.load(), static_cast<unsigned long long>(cs.compactions),
                static_cast<unsigned long long>(cs.restores));
    if (cs.compactions == 0) {
      std::fprintf(stderr, "goro-compact-stress: nothing was compacted\n");
      return 1;
    }
    return 0;
  });
}
