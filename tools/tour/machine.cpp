// tools/tour/machine.cpp: see machine.hpp. Everything is read from /proc,
// /sys and getrlimit; a value that cannot be read counts as "no limit", so
// the tour still runs, and the child reports the real error if one hits.
#include "machine.hpp"

#include "format.hpp"

#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif

namespace tour {
namespace {

// Mappings the tour leaves free for the runtime's own arenas, libraries and
// the sanitizers: a guard per stack is not the only mapping a process makes.
constexpr long kSpareMappings = 1024;

// The first number in a file, or `fallback`.
long long read_number(const char* path, long long fallback) {
  std::ifstream in(path);
  long long v = 0;
  return (in >> v) ? v : fallback;
}

// A "Key: N kB" field of /proc/meminfo, in bytes, or -1.
long long meminfo_bytes(const char* key) {
  std::ifstream in("/proc/meminfo");
  std::string name;
  long long kib = 0;
  while (in >> name >> kib) {
    if (name.size() == std::strlen(key) + 1 && name.compare(0, name.size() - 1, key) == 0) return kib * 1024;
    in.ignore(1 << 10, '\n');
  }
  return -1;
}

long count_lines(const char* path) {
  std::ifstream in(path);
  long lines = 0;
  for (std::string line; std::getline(in, line);) ++lines;
  return lines;
}

// Threads on the whole machine: the denominator of /proc/loadavg's
// "running/total" field.
long machine_tasks() {
  std::ifstream in("/proc/loadavg");
  double a, b, c;
  long running = 0, total = 0;
  char slash = 0;
  if (in >> a >> b >> c >> running >> slash >> total) return total;
  return 0;
}

long long rlimit_or_unlimited(int resource) {
  rlimit r{};
  if (getrlimit(resource, &r) != 0 || r.rlim_cur == RLIM_INFINITY) return kUnlimited;
  return static_cast<long long>(r.rlim_cur);
}

// Bytes a cgroup's limit still allows, given its limit and usage files.
// Limits near 2^63 mean "none" (cgroup v1 writes that for unlimited).
long long cgroup_room(const char* limit_path, const char* usage_path) {
  std::ifstream in(limit_path);
  std::string limit;
  if (!(in >> limit) || limit == "max") return kUnlimited;
  const long long cap = std::atoll(limit.c_str());
  if (cap <= 0 || cap > (1LL << 60)) return kUnlimited;
  return std::max(0LL, cap - read_number(usage_path, 0));
}

long long memory_cgroup_room() {
  long long v2 = cgroup_room("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current");
  if (v2 != kUnlimited) return v2;
  return cgroup_room("/sys/fs/cgroup/memory/memory.limit_in_bytes",
                     "/sys/fs/cgroup/memory/memory.usage_in_bytes");
}

long long pids_cgroup_room() {
  long long v2 = cgroup_room("/sys/fs/cgroup/pids.max", "/sys/fs/cgroup/pids.current");
  if (v2 != kUnlimited) return v2;
  return cgroup_room("/sys/fs/cgroup/pids/pids.max", "/sys/fs/cgroup/pids/pids.current");
}

// GORO_FORCE_MPROTECT_GUARD=1 makes goro use mprotect guards even where the
// kernel has MADV_GUARD_INSTALL (to test that path); the plan honours it.
bool mprotect_guard_forced() {
  const char* forced = std::getenv("GORO_FORCE_MPROTECT_GUARD");
  return forced != nullptr && forced[0] == '1';
}

// The probe goro's stack layer makes too.
bool probe_guard_install() {
  const long page = sysconf(_SC_PAGESIZE);
  void* p = mmap(nullptr, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return false;
  const bool ok = madvise(p, page, MADV_GUARD_INSTALL) == 0;
  munmap(p, 2 * page);
  return ok;
}

std::string kernel_release() {
  utsname u{};
  return uname(&u) == 0 ? std::string(u.release) : std::string("unknown");
}

// Lowers plan.count to `allowed` if that is lower, recording why.
void cap(Plan& plan, long long allowed, const std::string& why) {
  allowed = std::max(allowed, 0LL);
  if (allowed >= plan.count) return;
  plan.count = static_cast<long>(allowed);
  plan.reasons.push_back(why);
}

// The limits goroutines and threads share: memory, address space, commit.
void cap_by_memory(Plan& plan, const Machine& m, long bytes_each, long reserved_each, const char* what) {
  const long long budget = m.memory_budget();
  cap(plan, budget / bytes_each,
      std::string(what) + " cost about " + commas(static_cast<double>(bytes_each)) +
          " bytes each and the tour uses at most half of the " + bytes_text(static_cast<double>(budget) * 2) +
          " of memory available");
  if (m.rlimit_as != kUnlimited) {
    cap(plan, (m.rlimit_as - (1LL << 30)) / reserved_each,
        "RLIMIT_AS (ulimit -v) allows " + bytes_text(static_cast<double>(m.rlimit_as)) +
            " of address space and each reserves " + bytes_text(static_cast<double>(reserved_each)));
  }
  if (m.overcommit == 2) {
    cap(plan, m.commit_room / reserved_each,
        "vm.overcommit_memory is 2, so every reserved stack counts against CommitLimit (" +
            bytes_text(static_cast<double>(m.commit_room)) + " left)");
  }
}

}  // namespace

long long Machine::memory_budget() const {
  long long free_bytes = mem_available > 0 ? mem_available : mem_total;
  if (cgroup_room != kUnlimited) free_bytes = std::min(free_bytes, cgroup_room);
  return free_bytes / 2;
}

Machine read_machine() {
  Machine m;
  m.cpus = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  m.kernel = kernel_release();
  m.mem_total = meminfo_bytes("MemTotal");
  m.mem_available = meminfo_bytes("MemAvailable");
  m.cgroup_room = memory_cgroup_room();
  m.max_map_count = static_cast<long>(read_number("/proc/sys/vm/max_map_count", 65530));
  m.maps_in_use = count_lines("/proc/self/maps");
  m.guard_forced = mprotect_guard_forced();
  m.guard_install = !m.guard_forced && probe_guard_install();
  m.threads_max = static_cast<long>(read_number("/proc/sys/kernel/threads-max", 0));
  m.tasks_in_use = machine_tasks();
  m.pids_room = pids_cgroup_room();
  m.rlimit_as = rlimit_or_unlimited(RLIMIT_AS);
  m.rlimit_nproc = geteuid() == 0 ? kUnlimited : rlimit_or_unlimited(RLIMIT_NPROC);
  m.overcommit = static_cast<int>(read_number("/proc/sys/vm/overcommit_memory", 0));
  m.commit_room = meminfo_bytes("CommitLimit") - meminfo_bytes("Committed_AS");
  return m;
}

Plan plan_goroutines(const Machine& m, long requested, long bytes_each, long slot_bytes) {
  Plan plan{requested, requested, {}};
  cap_by_memory(plan, m, bytes_each, slot_bytes, "parked goroutines");
  if (!m.guard_install) {
    const std::string cause = m.guard_forced ? "GORO_FORCE_MPROTECT_GUARD=1 is set"
                                             : "this kernel has no MADV_GUARD_INSTALL (Linux < 6.13)";
    cap(plan, (m.max_map_count - m.maps_in_use - kSpareMappings) / 2,
        cause + ", so goro guards each stack with mprotect, which costs 2 mappings per goroutine, and " +
            "vm.max_map_count is " + commas(static_cast<double>(m.max_map_count)) +
            " (raise it for a million: sysctl -w vm.max_map_count=2100000)");
  }
  return plan;
}

Plan plan_threads(const Machine& m, long requested, long stack_bytes) {
  Plan plan{requested, requested, {}};
  // Kernel memory per thread (its kernel stack and task) is not in VmRSS;
  // budget 64 KiB each for both sides.
  cap_by_memory(plan, m, 64 * 1024, stack_bytes, "threads");
  cap(plan, (m.max_map_count - m.maps_in_use - kSpareMappings) / 2,
      "each thread's stack costs 2 mappings (stack and guard) and vm.max_map_count is " +
          commas(static_cast<double>(m.max_map_count)));
  if (m.threads_max > 0) {
    cap(plan, (m.threads_max - m.tasks_in_use) / 2,
        "kernel.threads-max is " + commas(static_cast<double>(m.threads_max)) + " with " +
            commas(static_cast<double>(m.tasks_in_use)) +
            " threads running; the tour takes at most half of the rest");
  }
  if (m.pids_room != kUnlimited) {
    cap(plan, m.pids_room / 2,
        "the pids cgroup allows " + commas(static_cast<double>(m.pids_room)) +
            " more tasks; the tour takes at most half");
  }
  if (m.rlimit_nproc != kUnlimited) {
    cap(plan, (m.rlimit_nproc - m.tasks_in_use) / 2,
        "RLIMIT_NPROC (ulimit -u) is " + commas(static_cast<double>(m.rlimit_nproc)) +
            "; the tour takes at most half of the rest");
  }
  return plan;
}

std::string guard_description(const Machine& m) {
  return m.guard_install ? "MADV_GUARD_INSTALL (no mapping per stack)"
                         : "mprotect (2 mappings per stack: vm.max_map_count bounds the goroutines)";
}

}  // namespace tour
