// stack/size_class.cpp: stack size classes (Go's stack orders; here a
// table of slot sizes, see arena.hpp).
//
// Small classes step by 32 KiB from 64 KiB to 2 MiB: page-table cost is
// 4 KiB per 2 MiB of slots, so a slot a little smaller than a power of two
// (224 KiB for the default limit) keeps an idle goroutine under 4.5 KiB.
// Bigger slots are multiples of 2 MiB, one page-table page each.
//
// Invariants
//   * A slot holds a usable range of `limit` and at least kMinGuard of
//     guard below it.
//   * class_of_slot and slot_size_of_class are inverse on slot sizes that
//     slot_size_for_limit returns.
#include "stack/arena.hpp"

#include <algorithm>

namespace goro::detail::stack_internal {
namespace {

constexpr std::size_t kSlotStep = 32 * kKiB;
constexpr std::uint32_t kSmallClasses = (kHugeSpan - kMinSlot) / kSlotStep + 1;  // 64 KiB .. 2 MiB

}  // namespace

std::size_t slot_size_for_limit(std::size_t limit) noexcept {
  std::size_t need = limit + kMinGuard;
  if (need <= kHugeSpan) return std::max(kMinSlot, round_up(need, kSlotStep));
  return round_up(need, kHugeSpan);
}

std::uint32_t class_of_slot(std::size_t slot) noexcept {
  if (slot <= kHugeSpan) return static_cast<std::uint32_t>((slot - kMinSlot) / kSlotStep);
  return static_cast<std::uint32_t>(slot / kHugeSpan + (kSmallClasses - 2));
}

std::size_t slot_size_of_class(std::uint32_t cls) noexcept {
  if (cls < kSmallClasses) return kMinSlot + cls * kSlotStep;
  return (cls - (kSmallClasses - 2)) * kHugeSpan;
}

}  // namespace goro::detail::stack_internal
