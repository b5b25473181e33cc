// stack/figures.cpp: one stack's figures (resident bytes, high-water mark,
// ceiling) and their one-line form for goroutine dumps, e.g.
// "stack 12 KiB/208 KiB, peak 64 KiB".
//
// Like the rest of the stack layer's accounting this reads resident pages
// (mincore), never reserved bytes. Stacks fill from the top down, so the
// deepest resident page marks how deep the stack has reached: the high-water
// mark since pages below it were last given back (a shrink of a parked
// goroutine, or the scavenger). A stack reused from a cache keeps the pages
// its previous goroutine touched, and they count: the figures describe the
// memory the stack holds, which is what a dump reader wants to know.
//
// Everything here is async-signal-safe: no allocation, no lock, no stdio.
#include "stack/arena.hpp"

#include <cstring>

namespace goro::detail {

using namespace stack_internal;

StackFigures stack_figures(const StackSpan& s) noexcept {
  StackFigures f;
  f.ceiling = s.limit();
  if (!s) return f;
  Residency r = scan_resident(s.base, s.top);
  f.resident = r.pages * kPageSize;
  f.peak = r.pages == 0 ? 0 : static_cast<std::size_t>(s.top - r.lowest);
  return f;
}

namespace {

// Appends `text` to buf[*at, n - 1), truncating; keeps buf terminated.
void append(char* buf, std::size_t n, std::size_t* at, const char* text) noexcept {
  for (; *text != '\0' && *at + 1 < n; ++text) buf[(*at)++] = *text;
  buf[*at] = '\0';
}

// Writes `bytes` in the largest unit that keeps a whole number of at least
// 1 (KiB below 10 MiB, else MiB; GiB from 10 GiB), rounded down.
void append_size(char* buf, std::size_t n, std::size_t* at, std::size_t bytes) noexcept {
  const char* unit = " B";
  std::size_t v = bytes;
  if (bytes >= 10 * kKiB * kMiB) {
    v = bytes / (kKiB * kMiB), unit = " GiB";
  } else if (bytes >= 10 * kMiB) {
    v = bytes / kMiB, unit = " MiB";
  } else if (bytes >= kKiB) {
    v = bytes / kKiB, unit = " KiB";
  }
  char digits[24];
  std::size_t d = sizeof digits;
  digits[--d] = '\0';
  do {
    digits[--d] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  append(buf, n, at, digits + d);
  append(buf, n, at, unit);
}

}  // namespace

std::size_t format_stack_figures(const StackFigures& f, char* buf, std::size_t n) noexcept {
  if (n == 0) return 0;
  std::size_t at = 0;
  buf[0] = '\0';
  append(buf, n, &at, "stack ");
  append_size(buf, n, &at, f.resident);
  append(buf, n, &at, "/");
  append_size(buf, n, &at, f.ceiling);
  append(buf, n, &at, ", peak ");
  append_size(buf, n, &at, f.peak);
  return at;
}

}  // namespace goro::detail
