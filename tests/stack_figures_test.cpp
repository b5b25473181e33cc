// Per-goroutine stack figures: goro::read_goroutine_stack (resident bytes,
// high-water mark, ceiling, from resident pages) and the dump header's
// one-line form (detail::format_stack_figures).
#include <goro/chan.hpp>
#include <goro/goroutine.hpp>
#include <goro/runtime.hpp>
#include <goro/stack.hpp>
#include <goro/time.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <string>

#include "helpers/test_util.hpp"
#include "stack/stack.hpp"

namespace {

using namespace std::chrono_literals;
using goro_test::kKiB;

constexpr std::size_t kDeep = 96 * kKiB;

// Touches kDeep bytes of stack below the caller, then runs `at_depth` there
// (so the pages stay above the stack pointer while it runs: a parked
// goroutine is never shrunk above its stack pointer).
template <typename F>
[[gnu::noinline]] void at_depth(F&& f) {
  volatile char buf[kDeep];
  std::memset(const_cast<char*>(buf), 1, sizeof buf);
  f();
  asm volatile("" : : "r"(buf) : "memory");
}

TEST(StackFigures, OwnStackGrowsWithUse) {
  goro::run([] {
    auto before = goro::read_goroutine_stack();
    EXPECT_TRUE(before.has_value());
    if (!before) return 0;
    EXPECT_EQ(before->ceiling, goro::max_stack());
    EXPECT_GE(before->resident, goro_test::kKiB * 4);  // at least the record's page
    EXPECT_LE(before->resident, before->peak);
    EXPECT_LE(before->peak, before->ceiling);
    at_depth([] {
      auto deep = goro::read_goroutine_stack();
      EXPECT_TRUE(deep.has_value());
      if (!deep) return;
      EXPECT_GE(deep->peak, kDeep);
      EXPECT_GE(deep->resident, kDeep);
      EXPECT_LE(deep->resident, deep->peak);
      EXPECT_LE(deep->peak, deep->ceiling);
    });
    return 0;
  });
}

TEST(StackFigures, OtherGoroutineById) {
  goro::run([] {
    goro::chan<int> parked(1), release;
    constexpr std::size_t kCeiling = 512 * kKiB;
    std::uint64_t id = goro::go(goro::spawn_options{.max_stack = kCeiling}, [parked, release] {
      at_depth([&] {
        parked.send(1);
        release.recv();
      });
    });
    parked.recv();
    auto f = goro::read_goroutine_stack(id);
    EXPECT_TRUE(f.has_value());
    if (f) {
      EXPECT_EQ(f->ceiling, kCeiling);
      EXPECT_GE(f->peak, kDeep);
      EXPECT_GE(f->resident, kDeep);
      EXPECT_LE(f->peak, f->ceiling);
    }
    release.close();
    // Once it has exited, its id names no goroutine.
    auto give_up = std::chrono::steady_clock::now() + 30s;
    while (goro::read_goroutine_stack(id).has_value() && std::chrono::steady_clock::now() < give_up) {
      goro::sleep_for(1ms);
    }
    EXPECT_FALSE(goro::read_goroutine_stack(id).has_value());
    EXPECT_FALSE(goro::read_goroutine_stack(0).has_value());
    EXPECT_FALSE(goro::read_goroutine_stack(id + 1000).has_value());
    return 0;
  });
}

TEST(StackFigures, NoneOutsideGoroutines) {
  EXPECT_FALSE(goro::read_goroutine_stack().has_value());
  EXPECT_FALSE(goro::read_goroutine_stack(1).has_value());
}

std::string format(std::size_t resident, std::size_t ceiling, std::size_t peak, std::size_t n = 128) {
  char buf[128];
  std::size_t len = goro::detail::format_stack_figures({resident, peak, ceiling}, buf, n);
  EXPECT_EQ(len, std::strlen(buf));
  return buf;
}

TEST(StackFigures, FormatsForDumpHeaders) {
  EXPECT_EQ(format(12 * kKiB, 208 * kKiB, 64 * kKiB), "stack 12 KiB/208 KiB, peak 64 KiB");
  EXPECT_EQ(format(0, 16 * kKiB, 0), "stack 0 B/16 KiB, peak 0 B");
  EXPECT_EQ(format(4 * kKiB, std::size_t{64} << 20, 9 * kKiB * kKiB + 512 * kKiB),
            "stack 4 KiB/64 MiB, peak 9728 KiB");
  EXPECT_EQ(format(4 * kKiB, std::size_t{64} << 30, std::size_t{10} << 30),
            "stack 4 KiB/64 GiB, peak 10 GiB");
  // Truncated, terminated.
  EXPECT_EQ(format(12 * kKiB, 208 * kKiB, 64 * kKiB, 9), "stack 12");
  char one[1] = {'x'};
  EXPECT_EQ(goro::detail::format_stack_figures({}, one, 1), 0u);
  EXPECT_EQ(one[0], '\0');
}

TEST(StackFigures, OfASpan) {
  goro::run([] {
    goro::detail::StackSpan none;
    auto f = goro::detail::stack_figures(none);
    EXPECT_EQ(f.resident, 0u);
    EXPECT_EQ(f.peak, 0u);
    return 0;
  });
}

}  // namespace
