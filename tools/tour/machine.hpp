// tools/tour/machine.hpp: what this machine allows, and the sizes the tour
// picks from it.
//
// The tour wants a million parked goroutines and ten thousand threads. What
// can stop it:
//   memory        MemAvailable, and a cgroup memory limit if there is one;
//                 the tour plans to use at most half of what is free, since
//                 the machine may be shared;
//   mappings      on kernels without MADV_GUARD_INSTALL (Linux < 6.13) goro
//                 guards each stack with mprotect, two mappings per stack,
//                 so vm.max_map_count caps the goroutines (and thread stacks
//                 cost two mappings on every kernel);
//   address space RLIMIT_AS, and vm.overcommit_memory=2, where reserved stack
//                 ranges count against CommitLimit;
//   tasks         kernel.threads-max, RLIMIT_NPROC and a pids cgroup limit
//                 (threads only).
// A plan keeps the requested count when it fits, else the largest that does,
// with one sentence per limit that cut it.
#pragma once

#include <string>
#include <vector>

namespace tour {

inline constexpr long long kUnlimited = -1;

struct Machine {
  int cpus = 1;
  std::string kernel;
  long long mem_total = 0;             // bytes
  long long mem_available = 0;         // bytes
  long long cgroup_room = kUnlimited;  // bytes a memory cgroup still allows
  long max_map_count = 0;
  long maps_in_use = 0;        // this process's mappings now
  bool guard_install = false;  // goro guards stacks with MADV_GUARD_INSTALL
  bool guard_forced = false;   // GORO_FORCE_MPROTECT_GUARD=1 asks for mprotect
  long threads_max = 0;
  long tasks_in_use = 0;             // threads on the whole machine
  long long pids_room = kUnlimited;  // tasks a pids cgroup still allows
  long long rlimit_as = kUnlimited;
  long long rlimit_nproc = kUnlimited;
  int overcommit = 0;         // vm.overcommit_memory
  long long commit_room = 0;  // CommitLimit - Committed_AS, bytes

  // Bytes the tour lets one step use: half of the free memory.
  long long memory_budget() const;
};

Machine read_machine();

struct Plan {
  long requested = 0;
  long count = 0;
  std::vector<std::string> reasons;  // why count < requested
};

// Parked goroutines: each costs about `bytes_each` resident (a stack page
// and its page table) and reserves `slot_bytes` of address space.
Plan plan_goroutines(const Machine& m, long requested, long bytes_each, long slot_bytes);

// Parked threads: each reserves `stack_bytes` and costs a kernel task.
Plan plan_threads(const Machine& m, long requested, long stack_bytes);

// "MADV_GUARD_INSTALL (no mapping per stack)" or the mprotect fallback.
std::string guard_description(const Machine& m);

}  // namespace tour
