// bench/peers/thread/deep.cpp: bench/deep.cpp's recursion on a std::thread.
//
//   thread_deep [MB]   (default 64)
//
// A thread cannot grow its stack: its size is fixed when it starts. What is
// comparable is the page-fault path, because a thread stack is an mmap whose
// pages the kernel commits on first touch, exactly like a goroutine's stack.
// One thread with a stack of MB + 16 MiB (pthread_attr_setstacksize) recurses
// MB deep twice; first minus second is what committing the pages costs.
// Prints depth_mb, first_ms_per_mb, second_ms_per_mb, growth_ns_per_page and
// their CPU-time versions (bench/recursion.hpp).
#include "bench_util.hpp"
#include "recursion.hpp"

#include <pthread.h>

#include <cstdio>
#include <cstdlib>

namespace {

struct Job {
  long mb = 0;
  bench::Timing first, second;
};

void* deep_thread(void* arg) {
  auto* job = static_cast<Job*>(arg);
  const std::size_t bytes = static_cast<std::size_t>(job->mb) * bench::kMiB;
  job->first = bench::timed_recursion(bytes);
  job->second = bench::timed_recursion(bytes);
  return nullptr;
}

}  // namespace

int main(int argc, char** argv) {
  Job job;
  job.mb = bench::size_arg(argc, argv, 64);
  // std::thread cannot set a stack size; pthread_attr_setstacksize can.
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, static_cast<std::size_t>(job.mb) * bench::kMiB + 16 * bench::kMiB);
  pthread_t thread;
  if (int rc = pthread_create(&thread, &attr, deep_thread, &job); rc != 0) {
    std::fprintf(stderr, "thread_deep: pthread_create: error %d\n", rc);
    return 1;
  }
  pthread_join(thread, nullptr);
  pthread_attr_destroy(&attr);
  bench::print_first_second(job.mb, job.first, job.second);
  return 0;
}
