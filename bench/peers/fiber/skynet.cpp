// bench/peers/fiber/skynet.cpp: bench/skynet.cpp for Boost.Fiber, on one
// thread. Same tree and the same unbuffered channel per inner node
// (boost::fibers::unbuffered_channel).
//
//   fiber_skynet [SIZE]   (default 100,000; a power of 10)
//
// Children are launched with launch::dispatch (the child runs at once, its
// parent waits in the ready queue). That does not bound the live fibers: a
// parent is back in the FIFO ready queue ahead of its grandchildren, so it
// starts its next child before the first subtree is done, and nearly the
// whole tree is alive at once (about 11 KB resident per fiber here). Stacks
// come from pooled_fixedsize_stack (Boost.Fiber's allocator for many fibers:
// carved from large blocks, reused, never unmapped); the default allocator
// maps every stack on its own and would stop near 65,000 fibers at the
// default vm.max_map_count. bench/compare runs it at 100,000 leaves (111,111
// fibers, about 1.2 GB); the per-fiber figures are the ones to compare. Same
// metrics as bench_skynet.
#include "bench_util.hpp"
#include "skynet_size.hpp"

#include <boost/fiber/all.hpp>

#include <chrono>
#include <memory>

namespace {

using Channel = boost::fibers::unbuffered_channel<long>;

void skynet(boost::fibers::pooled_fixedsize_stack& stacks, Channel& out, long num, long size) {
  if (size == 1) {
    out.push(num);
    return;
  }
  Channel results;
  const long child_size = size / bench::kSkynetDiv;
  for (long i = 0; i < bench::kSkynetDiv; ++i) {
    boost::fibers::fiber(boost::fibers::launch::dispatch, std::allocator_arg, stacks,
                         [&stacks, &results, child = num + i * child_size, child_size] {
                           skynet(stacks, results, child, child_size);
                         })
        .detach();
  }
  long sum = 0;
  for (long i = 0; i < bench::kSkynetDiv; ++i) sum += results.value_pop();
  out.push(sum);
}

}  // namespace

int main(int argc, char** argv) {
  const long size = bench::skynet_size(argc, argv, 100000);
  boost::fibers::pooled_fixedsize_stack stacks;
  const auto t0 = std::chrono::steady_clock::now();
  const double c0 = bench::cpu_seconds();
  Channel root;
  boost::fibers::fiber(boost::fibers::launch::dispatch, std::allocator_arg, stacks, [&] {
    skynet(stacks, root, 0, size);
  }).detach();
  const long sum = root.value_pop();
  bench::print_skynet(size, sum, bench::seconds_since(t0), bench::cpu_seconds() - c0);
  return bench::skynet_sum(size) == sum ? 0 : 1;
}
