// debug/traceback_level.cpp: GORO_TRACEBACK (see traceback_level.hpp).
#include "debug/traceback_level.hpp"

#include <goro/debug.hpp>

#include <unistd.h>
#include <atomic>
#include <csignal>
#include <cstdlib>

namespace goro::detail {
namespace {

std::atomic<TracebackLevel> g_level{TracebackLevel::kSingle};

}  // namespace

TracebackLevel parse_traceback_level(std::string_view text) noexcept {
  if (text == "none" || text == "0") return TracebackLevel::kNone;
  if (text == "single" || text == "1") return TracebackLevel::kSingle;
  if (text == "all") return TracebackLevel::kAll;
  if (text == "system" || text == "2") return TracebackLevel::kSystem;
  if (text == "crash") return TracebackLevel::kCrash;
  return TracebackLevel::kSingle;
}

TracebackLevel traceback_level() noexcept {
  return g_level.load(std::memory_order_relaxed);
}

void set_traceback_level(TracebackLevel level) noexcept {
  g_level.store(level, std::memory_order_relaxed);
}

void load_traceback_level() noexcept {
  if (const char* env = std::getenv("GORO_TRACEBACK")) set_traceback_level(parse_traceback_level(env));
}

void exit_after_report() noexcept {
  if (traceback_level() == TracebackLevel::kCrash) {
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    ::sigaction(SIGABRT, &dfl, nullptr);
    sigset_t abrt;
    sigemptyset(&abrt);
    sigaddset(&abrt, SIGABRT);
    ::sigprocmask(SIG_UNBLOCK, &abrt, nullptr);
    std::abort();
  }
  ::_exit(2);
}

}  // namespace goro::detail

namespace goro {

void set_traceback(std::string_view level) {
  detail::set_traceback_level(detail::parse_traceback_level(level));
}

}  // namespace goro
