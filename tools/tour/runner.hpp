// tools/tour/runner.hpp: running one step in a child process, with a
// progress bar.
//
// The tour executes itself (`/proc/self/exe --child STEP N FLAG`) with the
// child's stdout and stderr on pipes. stdout carries `key=value` figures and
// `progress=` lines (child_io.hpp); stderr is kept whole, because for the
// overflow step it is the point (the runtime's report). wait4() gives the
// child's exit status and its own peak resident set (ru_maxrss), which is
// why every step that reports peak memory runs alone in a child.
//
// The progress bar is drawn on stderr, so it never mixes with --json output
// on stdout, and only once a step has run for a second: a single `\r` line
// when stderr is a terminal, otherwise a plain line at each quarter.
#pragma once

#include <cmath>
#include <map>
#include <string>
#include <vector>

namespace tour {

struct StepOutput {
  std::map<std::string, std::string> figures;  // the child's key=value lines
  std::string err;                             // the child's stderr
  int exit_code = -1;                          // when it exited
  int signal = 0;                              // when a signal ended it
  long peak_rss_bytes = 0;                     // ru_maxrss of the child
  double seconds = 0;                          // wall time of the child

  bool ok() const { return exit_code == 0 && signal == 0; }
  bool has(const std::string& key) const { return figures.count(key) != 0; }
  // The figure as a number; NaN when the child did not print it.
  double num(const std::string& key) const;
  // The figure as text; "" when absent.
  std::string text(const std::string& key) const;
  // "exit status 3" or "killed by signal 9 (Killed)".
  std::string how_it_ended() const;
};

class Runner {
 public:
  // `self`: the tour's executable. `bars`: whether to show progress at all.
  Runner(std::string self, bool bars);

  // Runs `--child step args...` and returns what it printed. `label` names
  // the step on the progress bar.
  StepOutput run(const std::string& label, const std::string& step, const std::vector<long>& args) const;

 private:
  std::string self_;
  bool bars_;
  bool tty_;
};

// The path of the running executable (/proc/self/exe resolved), or argv0.
std::string self_path(const char* argv0);

}  // namespace tour
