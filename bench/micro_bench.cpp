// bench/micro_bench.cpp: goro's microbenchmarks (Google Benchmark).
//
//   micro_bench [--benchmark_filter=REGEX] [--benchmark_min_time=0.2]
//
// Every benchmark runs its timed loop inside a goroutine: the benchmark
// function sets the processor count (the `/mp:N` argument, like
// GOMAXPROCS=N), starts a fresh runtime with goro::run and runs the loop in
// the main goroutine, so Google Benchmark's repeated calls each get their
// own runtime. Times are wall-clock (UseRealTime): a goroutine may move
// between worker threads, which makes per-thread CPU time meaningless.
//
// Channels, select and timers have whole-program versions with Go peers in
// bench/chan/; the ones here are for quick before/after checks of a change.
//
// Counters: `per_op` is seconds per operation when an iteration is several
// operations (two switches per yield ping-pong, 64 goroutines per batch);
// Google Benchmark prints it with an SI prefix (`12.3n` = 12.3 ns).
#include <goro/chan.hpp>
#include <goro/goro.hpp>
#include <goro/select.hpp>
#include <goro/timer.hpp>

#include "arch/context.hpp"

#include <benchmark/benchmark.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <optional>

namespace {

// Runs body(state) as the main goroutine of a runtime with `mp` processors.
template <typename Body>
void in_runtime(benchmark::State& state, Body body) {
  goro::set_maxprocs(static_cast<int>(state.range(0)));
  goro::run([&] { body(state); });
}

void per_op(benchmark::State& state, double ops_per_iteration) {
  state.counters["per_op"] = benchmark::Counter(
      ops_per_iteration, benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}

// ---------------------------------------------------------------------------
// The floor: the bare assembly switch between two contexts, no scheduler.

void* g_main_sp = nullptr;
void* g_peer_sp = nullptr;

[[noreturn]] void raw_peer(void*) {
  for (;;) goro::detail::goro_switch_context(&g_peer_sp, g_main_sp, nullptr);
}

void BM_RawSwitch(benchmark::State& state) {
  constexpr std::size_t kStack = 64 * 1024;
  auto stack = std::make_unique<char[]>(kStack);
  g_peer_sp = goro::detail::goro_make_context(stack.get() + kStack, &raw_peer);
  for (auto _ : state) {
    goro::detail::goro_switch_context(&g_main_sp, g_peer_sp, nullptr);  // there and back
  }
  per_op(state, 2);
}
BENCHMARK(BM_RawSwitch)->UseRealTime();

// ---------------------------------------------------------------------------
// Switching.

// Two goroutines yielding to each other: one iteration is two switches.
void BM_Switch(benchmark::State& state) {
  in_runtime(state, [](benchmark::State& st) {
    std::atomic<bool> stop{false};
    goro::wait_group done;
    done.add(1);
    goro::go([&] {
      while (!stop.load(std::memory_order_relaxed)) goro::yield();
      done.done();
    });
    goro::yield();  // let the partner start
    for (auto _ : st) goro::yield();
    stop.store(true, std::memory_order_relaxed);
    done.wait();
    per_op(st, 2);
  });
}
BENCHMARK(BM_Switch)->ArgName("mp")->Arg(1)->Arg(2)->UseRealTime();

// One goroutine yielding with nothing else to run: a trip through the
// worker's scheduler and back.
void BM_YieldAlone(benchmark::State& state) {
  in_runtime(state, [](benchmark::State& st) {
    for (auto _ : st) goro::yield();
  });
}
BENCHMARK(BM_YieldAlone)->ArgName("mp")->Arg(1)->Arg(2)->UseRealTime();

// ---------------------------------------------------------------------------
// Spawning.

// Spawn one goroutine and wait for it.
void BM_SpawnJoin(benchmark::State& state) {
  in_runtime(state, [](benchmark::State& st) {
    goro::wait_group wg;
    for (auto _ : st) {
      wg.add(1);
      goro::go([&wg] { wg.done(); });
      wg.wait();
    }
  });
}
BENCHMARK(BM_SpawnJoin)->ArgName("mp")->Arg(1)->Arg(2)->UseRealTime();

// Spawn 64 goroutines, then wait for all of them; per_op is per goroutine.
void BM_SpawnJoinBatch64(benchmark::State& state) {
  in_runtime(state, [](benchmark::State& st) {
    goro::wait_group wg;
    for (auto _ : st) {
      wg.add(64);
      for (int i = 0; i < 64; i++) goro::go([&wg] { wg.done(); });
      wg.wait();
    }
    st.SetItemsProcessed(st.iterations() * 64);
    per_op(st, 64);
  });
}
BENCHMARK(BM_SpawnJoinBatch64)->ArgName("mp")->Arg(1)->Arg(2)->UseRealTime();

// ---------------------------------------------------------------------------
// wait_group.

// add, done, wait with nobody parking.
void BM_WaitGroupUncontended(benchmark::State& state) {
  in_runtime(state, [](benchmark::State& st) {
    goro::wait_group wg;
    for (auto _ : st) {
      wg.add(1);
      wg.done();
      wg.wait();
    }
  });
}
BENCHMARK(BM_WaitGroupUncontended)->ArgName("mp")->Arg(1)->UseRealTime();

// Ping-pong between two goroutines over two wait_groups: each iteration
// wakes the partner and parks until it answers (two parks, two wakeups).
void BM_WaitGroupPingPong(benchmark::State& state) {
  in_runtime(state, [](benchmark::State& st) {
    goro::wait_group ping, pong, done;
    std::atomic<bool> stop{false};
    ping.add(1);
    done.add(1);
    goro::go([&] {
      for (;;) {
        ping.wait();
        if (stop.load(std::memory_order_relaxed)) break;
        ping.add(1);
        pong.done();
      }
      done.done();
    });
    for (auto _ : st) {
      pong.add(1);
      ping.done();
      pong.wait();
    }
    stop.store(true, std::memory_order_relaxed);
    ping.done();
    done.wait();
  });
}
BENCHMARK(BM_WaitGroupPingPong)->ArgName("mp")->Arg(1)->Arg(2)->UseRealTime();

// ---------------------------------------------------------------------------
// mutex.

void BM_MutexUncontended(benchmark::State& state) {
  in_runtime(state, [](benchmark::State& st) {
    goro::mutex mu;
    for (auto _ : st) {
      mu.lock();
      mu.unlock();
    }
  });
}
BENCHMARK(BM_MutexUncontended)->ArgName("mp")->Arg(1)->UseRealTime();

// Two goroutines taking turns: each holds the lock across a yield, so the
// other finds it locked and parks; the unlock wakes it.
void BM_MutexHandoff(benchmark::State& state) {
  in_runtime(state, [](benchmark::State& st) {
    goro::mutex mu;
    goro::wait_group done;
    std::atomic<bool> stop{false};
    done.add(1);
    goro::go([&] {
      while (!stop.load(std::memory_order_relaxed)) {
        mu.lock();
        goro::yield();
        mu.unlock();
      }
      done.done();
    });
    for (auto _ : st) {
      mu.lock();
      goro::yield();
      mu.unlock();
    }
    stop.store(true, std::memory_order_relaxed);
    done.wait();
  });
}
BENCHMARK(BM_MutexHandoff)->ArgName("mp")->Arg(1)->Arg(2)->UseRealTime();

// Two goroutines on two processors hammering one lock with a tiny critical
// section (Go's BenchmarkMutex shape). Time is per lock/unlock of the main
// goroutine; the partner does about as many.
void BM_MutexContended(benchmark::State& state) {
  in_runtime(state, [](benchmark::State& st) {
    goro::mutex mu;
    goro::wait_group done;
    std::atomic<bool> stop{false};
    long shared = 0;
    done.add(1);
    goro::go([&] {
      while (!stop.load(std::memory_order_relaxed)) {
        std::lock_guard lock(mu);
        shared++;
      }
      done.done();
    });
    for (auto _ : st) {
      std::lock_guard lock(mu);
      shared++;
    }
    stop.store(true, std::memory_order_relaxed);
    done.wait();
    benchmark::DoNotOptimize(shared);
  });
}
BENCHMARK(BM_MutexContended)->ArgName("mp")->Arg(2)->UseRealTime();

// ---------------------------------------------------------------------------
// Channels and select.

// Unbuffered ping-pong: one iteration is a round trip (two sends, two
// receives, two parks, two wakeups). Go's peer: bench/chan/go/pingpong.go.
void BM_ChanPingPong(benchmark::State& state) {
  in_runtime(state, [](benchmark::State& st) {
    goro::chan<long> ping, pong;
    goro::wait_group done;
    done.add(1);
    goro::go([ping, pong, &done] {
      for (std::optional<long> v = ping.recv(); v && *v >= 0; v = ping.recv()) pong.send(*v);
      done.done();
    });
    long i = 0;
    for (auto _ : st) {
      ping.send(i++);
      pong.recv();
    }
    ping.send(-1);  // the partner's stop signal
    done.wait();
  });
}
BENCHMARK(BM_ChanPingPong)->ArgName("mp")->Arg(1)->Arg(2)->UseRealTime();

// A buffered channel (capacity 64) that never fills or empties: send then
// receive on the same goroutine, no parking; the channel's fast path.
void BM_ChanBufferedSendRecv(benchmark::State& state) {
  in_runtime(state, [](benchmark::State& st) {
    goro::chan<long> ch(64);
    long i = 0;
    for (auto _ : st) {
      ch.send(i++);
      benchmark::DoNotOptimize(ch.recv());
    }
  });
}
BENCHMARK(BM_ChanBufferedSendRecv)->ArgName("mp")->Arg(1)->UseRealTime();

// select over two ready channels (capacity 1, each holding a value): poll
// order, lock both, take one, and the case puts the value back.
void BM_SelectReady2(benchmark::State& state) {
  in_runtime(state, [](benchmark::State& st) {
    goro::chan<long> a(1), b(1);
    a.send(0);
    b.send(0);
    for (auto _ : st) {
      goro::select(goro::on_recv(a, [&](std::optional<long> v) { a.send(*v); }),
                   goro::on_recv(b, [&](std::optional<long> v) { b.send(*v); }));
    }
  });
}
BENCHMARK(BM_SelectReady2)->ArgName("mp")->Arg(1)->UseRealTime();

// Ping-pong through select: the partner waits in a select over its input
// and a quit channel (nothing ready, so it queues on both and parks), the
// main goroutine sends and receives the answer. One iteration: a round trip
// whose receiving side is a blocking select.
void BM_SelectPingPong(benchmark::State& state) {
  in_runtime(state, [](benchmark::State& st) {
    goro::chan<long> ping, pong, quit;
    goro::wait_group done;
    done.add(1);
    goro::go([ping, pong, quit, &done] {
      for (bool running = true; running;) {
        goro::select(goro::on_recv(ping, [&](std::optional<long> v) { pong.send(*v); }),
                     goro::on_recv(quit, [&] { running = false; }));
      }
      done.done();
    });
    long i = 0;
    for (auto _ : st) {
      ping.send(i++);
      pong.recv();
    }
    quit.close();
    done.wait();
  });
}
BENCHMARK(BM_SelectPingPong)->ArgName("mp")->Arg(1)->Arg(2)->UseRealTime();

// ---------------------------------------------------------------------------
// Timers.

// Timer churn without firing: create a timer an hour out and stop it (Go's
// time.NewTimer(time.Hour).Stop()): a heap insert and a removal.
void BM_TimerStartStop(benchmark::State& state) {
  in_runtime(state, [](benchmark::State& st) {
    for (auto _ : st) goro::timer(std::chrono::hours(1)).stop();
  });
}
BENCHMARK(BM_TimerStartStop)->ArgName("mp")->Arg(1)->UseRealTime();

// Reset one pending timer again and again (a deadline pushed back on every
// request, the common server pattern).
void BM_TimerReset(benchmark::State& state) {
  in_runtime(state, [](benchmark::State& st) {
    goro::timer t(std::chrono::hours(1));
    for (auto _ : st) t.reset(std::chrono::hours(1));
    t.stop();
  });
}
BENCHMARK(BM_TimerReset)->ArgName("mp")->Arg(1)->UseRealTime();

// sleep_for(0) returns at once, as Go's time.Sleep(0).
void BM_SleepZero(benchmark::State& state) {
  in_runtime(state, [](benchmark::State& st) {
    for (auto _ : st) goro::sleep_for(std::chrono::nanoseconds(0));
  });
}
BENCHMARK(BM_SleepZero)->ArgName("mp")->Arg(1)->UseRealTime();

// sleep_for(1us) with nothing else runnable: timer insert, park, the worker
// waits for the deadline, the timer fires. Mostly the kernel's wakeup latency.
void BM_Sleep1us(benchmark::State& state) {
  in_runtime(state, [](benchmark::State& st) {
    for (auto _ : st) goro::sleep_for(std::chrono::microseconds(1));
  });
}
BENCHMARK(BM_Sleep1us)->ArgName("mp")->Arg(1)->UseRealTime();

// Timer churn: 64 goroutines each sleeping 1us in a loop; one iteration is
// one sleep of the main goroutine among them.
void BM_TimerChurn64(benchmark::State& state) {
  in_runtime(state, [](benchmark::State& st) {
    std::atomic<bool> stop{false};
    goro::wait_group done;
    for (int i = 0; i < 63; i++) {
      done.add(1);
      goro::go([&] {
        while (!stop.load(std::memory_order_relaxed)) goro::sleep_for(std::chrono::microseconds(1));
        done.done();
      });
    }
    for (auto _ : st) goro::sleep_for(std::chrono::microseconds(1));
    stop.store(true, std::memory_order_relaxed);
    done.wait();
  });
}
BENCHMARK(BM_TimerChurn64)->ArgName("mp")->Arg(1)->Arg(2)->UseRealTime();

// ---------------------------------------------------------------------------
// The system stack and blocking calls.

void BM_OnSystemStack(benchmark::State& state) {
  in_runtime(state, [](benchmark::State& st) {
    int x = 1;
    for (auto _ : st) {
      int r = goro::on_system_stack([&] { return x + 1; });
      benchmark::DoNotOptimize(r);
    }
  });
}
BENCHMARK(BM_OnSystemStack)->ArgName("mp")->Arg(1)->UseRealTime();

// blocking() around a call that does not block: the processor handoff alone.
void BM_Blocking(benchmark::State& state) {
  in_runtime(state, [](benchmark::State& st) {
    int x = 1;
    for (auto _ : st) {
      int r = goro::blocking([&] { return x + 1; });
      benchmark::DoNotOptimize(r);
    }
  });
}
BENCHMARK(BM_Blocking)->ArgName("mp")->Arg(1)->Arg(2)->UseRealTime();

// blocking() while another goroutine is runnable on the same processor, so
// the processor is handed to another worker thread each time.
void BM_BlockingBusy(benchmark::State& state) {
  in_runtime(state, [](benchmark::State& st) {
    std::atomic<bool> stop{false};
    goro::wait_group done;
    done.add(1);
    goro::go([&] {
      while (!stop.load(std::memory_order_relaxed)) goro::yield();
      done.done();
    });
    int x = 1;
    for (auto _ : st) {
      int r = goro::blocking([&] { return x + 1; });
      benchmark::DoNotOptimize(r);
    }
    stop.store(true, std::memory_order_relaxed);
    done.wait();
  });
}
BENCHMARK(BM_BlockingBusy)->ArgName("mp")->Arg(1)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
