// tools/tour/main.cpp: goro-tour, a half-minute walk through what the
// reference text claims about goroutine stacks, each claim measured now on
// this machine by goro (and by std::thread for comparison).
//
//   goro-tour            the tour, for people (progress bars on stderr)
//   goro-tour --json     the same figures as one JSON document on stdout
//   goro-tour --quick    small sizes (a few seconds; what the test runs)
//   goro-tour --goroutines N   step 1 with N goroutines instead of a million
//
// Steps: 1. a million parked goroutines; 2. one goroutine recursing 64 MB
// deep; 3. a stack overflow in a child process; 4. ten million items, a
// goroutine each against a worker pool; 5. the same park and spawn figures
// for std::thread; 6. the reference's comparison table with the rows
// measured now. Every measurement runs in a child process of its own
// (`goro-tour --child ...`; see child_io.hpp), and the sizes adapt to what
// the machine allows (machine.hpp), saying why when they shrink.
#include "child_io.hpp"
#include "format.hpp"
#include "tour.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

void usage(const char* argv0, std::FILE* out) {
  std::fprintf(
      out,
      "usage: %s [--quick] [--json] [--goroutines N]\n"
      "  walks through the reference's claims about goroutine stacks, measuring each on this machine\n"
      "  --quick          small sizes (seconds; for tests)\n"
      "  --json           print the figures as JSON on stdout (progress still goes to stderr)\n"
      "  --goroutines N   park N goroutines in step 1 instead of a million\n",
      argv0);
}

// Parses the options; exits on a bad one.
tour::Options parse_options(int argc, char** argv) {
  tour::Options opt;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--quick") {
      opt.quick = true;
    } else if (a == "--json") {
      opt.json = true;
    } else if (a == "--goroutines" && i + 1 < argc && std::atol(argv[i + 1]) > 0) {
      opt.goroutines = std::atol(argv[++i]);
    } else if (a == "-h" || a == "--help") {
      usage(argv[0], stdout);
      std::exit(0);
    } else {
      std::fprintf(stderr, "%s: unknown option %s\n", argv[0], a.c_str());
      usage(argv[0], stderr);
      std::exit(2);
    }
  }
  return opt;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::strcmp(argv[1], "--child") == 0) return tour::child_main(argc, argv);
  const tour::Options opt = parse_options(argc, argv);
  const auto t0 = std::chrono::steady_clock::now();
  tour::Tour t{
      opt,  tour::sizes_for(opt), tour::read_machine(), tour::Runner(tour::self_path(argv[0]), true), {}, {},
      false};
  tour::step_machine(t);
  tour::step_park(t);
  tour::step_deep(t);
  tour::step_overflow(t);
  tour::step_pool_vs_spawn(t);
  tour::step_threads(t);
  tour::step_table(t);
  const double elapsed = tour::seconds_since(t0);
  t.say("\nThe tour took %s s.%s\n", tour::fixed(elapsed, 1).c_str(),
        t.failed ? " Some steps FAILED (see above); exit status 1." : "");
  if (opt.json) {
    t.doc.emplace(t.doc.begin(), "quick", opt.quick);
    t.doc.emplace(t.doc.begin(), "tour", "goro-tour");
    t.doc.emplace_back("elapsed_seconds", elapsed);
    t.doc.emplace_back("ok", !t.failed);
    std::printf("%s\n", goro::json::to_string(goro::json::value(std::move(t.doc))).c_str());
  }
  return t.failed ? 1 : 0;
}
