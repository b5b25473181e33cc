// debug/traceback_level.cpp: GORO_TRACEBACK (see traceback_level.hpp).
#include "debug/traceback_level.hpp"

#include <goro/debug.hpp>

#include <unistd.h>
#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdlib>

namespace goro::detail {
namespace {

std::atomic<TracebackLevel> g_level{TracebackLevel::kSingle};
std::atomic<bool> g_stack_figures{false};

// The value of `key` in a GODEBUG-style list ("a=1,key=0"), or empty.
std::string_view debug_setting(std::string_view list, std::string_view key) noexcept {
  while (!list.empty()) {
    std::string_view item = list.substr(0, list.find(','));
    list.remove_prefix(std::min(list.size(), item.size() + 1));
    if (item.size() > key.size() && item.substr(0, key.size()) == key && item[key.size()] == '=')
      return item.substr(key.size() + 1);
  }
  return {};
}

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
  if (const char* env = std::getenv("GORO_DEBUG")) {
    std::string_view v = debug_setting(env, "stackfigures");
    if (v == "1" || v == "0") g_stack_figures.store(v == "1", std::memory_order_relaxed);
  }
}

bool dump_stack_figures() noexcept {
  return g_stack_figures.load(std::memory_order_relaxed);
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

bool set_dump_stack_figures(bool on) noexcept {
  return detail::g_stack_figures.exchange(on, std::memory_order_relaxed);
}

}  // namespace goro
