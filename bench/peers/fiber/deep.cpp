// bench/peers/fiber/deep.cpp: bench/deep.cpp's recursion on a Boost.Fiber.
//
//   fiber_deep [MB]    (default 64)
//
// A fiber's stack has a fixed size chosen at launch; it cannot grow. Its
// memory is an mmap (protected_fixedsize_stack: with a guard page) whose
// pages the kernel commits on first touch, as for a goroutine. One fiber
// with a stack of MB + 16 MiB recurses MB deep twice; first minus second is
// what committing the pages costs. Prints the same lines as thread_deep.
#include "bench_util.hpp"
#include "recursion.hpp"

#include <boost/fiber/all.hpp>

#include <memory>

int main(int argc, char** argv) {
  const long mb = bench::size_arg(argc, argv, 64);
  const std::size_t bytes = static_cast<std::size_t>(mb) * bench::kMiB;
  bench::Timing first, second;
  boost::fibers::fiber(std::allocator_arg, boost::fibers::protected_fixedsize_stack(bytes + 16 * bench::kMiB),
                       [&] {
                         first = bench::timed_recursion(bytes);
                         second = bench::timed_recursion(bytes);
                       })
      .join();
  bench::print_first_second(mb, first, second);
  return 0;
}
