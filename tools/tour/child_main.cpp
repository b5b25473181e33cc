// tools/tour/child_main.cpp: `goro-tour --child <step> [N] [FLAG]`, the
// entry of a measuring child (child_io.hpp explains the protocol).
#include "child_io.hpp"
#include "steps.hpp"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace tour {

long resident_with_page_tables() {
  std::FILE* f = std::fopen("/proc/self/status", "r");
  if (f == nullptr) return 0;
  char line[256];
  long total = 0;
  while (std::fgets(line, sizeof line, f) != nullptr) {
    long kib = 0;
    if (std::sscanf(line, "VmRSS: %ld kB", &kib) == 1 || std::sscanf(line, "VmPTE: %ld kB", &kib) == 1) {
      total += kib * 1024;
    }
  }
  std::fclose(f);
  return total;
}

// argv: the program, "--child", the step, then its numbers.
int child_main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s --child STEP [N] [FLAG]\n", argv[0]);
    return 2;
  }
  const std::string step = argv[2];
  const long n = argc > 3 ? std::atol(argv[3]) : 0;
  const long flag = argc > 4 ? std::atol(argv[4]) : 0;
  if (step == "threads") return thread_step(n, flag);
  const int status = goroutine_step(step, n, flag);
  if (status == -1) {
    std::fprintf(stderr, "%s: unknown step %s\n", argv[0], step.c_str());
    return 2;
  }
  return status;
}

}  // namespace tour
