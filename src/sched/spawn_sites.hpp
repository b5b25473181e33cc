// sched/spawn_sites.hpp: how deep the goroutines of each `go` call site grow
// (Go 1.19's average initial stack size, learned per site instead of for the
// whole program).
//
// A site is the return address of goro::go (the creator PC every goroutine
// records for its reports). Only goroutines that start on a stack with
// nothing resident (a fresh slot, or one the scavenger gave back) take part:
// their first touches would fault. Most of them get their site's figure
// committed before they start, in one MADV_POPULATE_WRITE instead of a page
// fault per page. One in kSampleEvery per processor gets no commit and has
// its resident depth measured when it exits (one mincore over the top
// kMaxCommit bytes, the most ever committed): on a stack that was empty and that nothing
// committed, what is resident is what the goroutine itself touched. The
// figure goes up at once and down by a quarter of the difference per
// sample, so a site whose goroutines usually need 16 KiB keeps it through
// an occasional shallow one.
//
// The table is a fixed array of kSites entries, open addressing over at most
// kProbe slots; sites that find no room are not learned. Entries are written
// with relaxed atomics by whichever worker samples: a lost update costs one
// sample, never a wrong address.
#pragma once

#include <cstddef>
#include <cstdint>

namespace goro::detail {

struct StackSpan;

// For a goroutine started at `site` on an empty stack: the bytes to commit
// (0 when the site's goroutines fit in one page, or it is unknown), or 0 and
// *measure set when this goroutine is to be measured at exit instead.
// `spawns` is a per-processor counter. Cost: a hash and one or two shared
// loads.
std::size_t spawn_site_plan(const void* site, std::uint32_t& spawns, bool* measure) noexcept;

// Measures an exiting goroutine's resident stack depth (one mincore) and
// folds it into its site's figure. For goroutines spawn_site_plan chose.
void spawn_site_learn(const void* site, const StackSpan& stack) noexcept;

}  // namespace goro::detail
