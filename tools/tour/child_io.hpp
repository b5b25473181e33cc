// tools/tour/child_io.hpp: how a measuring child talks to the tour.
//
// Every step of the tour runs in a child process (the tour executes itself
// with `--child <step> ...`), so that a step's peak memory is its own, a
// million goroutines or ten thousand threads leave nothing behind in the
// tour, and a stack overflow ends only that child. The child reports on
// stdout, one `key=value` line per figure, and `progress=<0..1>` lines that
// the parent turns into its progress bar. Every line is flushed at once: the
// parent reads them while the child runs.
#pragma once

#include <chrono>
#include <cstdio>
#include <string>

namespace tour {

inline void emit(const char* key, double value) {
  std::printf("%s=%.17g\n", key, value);
  std::fflush(stdout);
}

inline void emit(const char* key, long value) {
  std::printf("%s=%ld\n", key, value);
  std::fflush(stdout);
}

inline void emit_text(const char* key, const std::string& text) {
  std::string one_line = text;
  for (char& c : one_line) {
    if (c == '\n') c = ' ';
  }
  std::printf("%s=%s\n", key, one_line.c_str());
  std::fflush(stdout);
}

// Reports how far the step is, as a fraction of its work.
inline void progress(double fraction) {
  std::printf("progress=%.3f\n", fraction);
  std::fflush(stdout);
}

// Calls progress() about a hundred times over `total` steps of a loop.
class ProgressTicker {
 public:
  explicit ProgressTicker(long total) : total_(total), every_(total / 100 > 0 ? total / 100 : 1) {}
  void at(long done) const {
    if (done % every_ == 0) progress(static_cast<double>(done) / static_cast<double>(total_));
  }

 private:
  long total_;
  long every_;
};

inline double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// VmRSS + VmPTE of this process, in bytes: resident memory plus the page
// tables that map it. Page tables are part of what a stack costs (DESIGN.md),
// so the per-goroutine and per-thread figures include them.
long resident_with_page_tables();

// The child steps; `args` are what follows `--child <step>`.
int child_main(int argc, char** argv);

}  // namespace tour
