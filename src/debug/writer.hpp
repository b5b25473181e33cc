// debug/writer.hpp: a small text builder that is safe in a signal handler.
//
// Fatal reports are written from a SIGSEGV handler, where stdio and
// iostreams may deadlock (their locks may be held by the very frame that
// faulted) and malloc may too. Writer formats into a fixed buffer on its
// own stack and hands full buffers to write(2). The same code builds the
// std::string of a goroutine dump, so the two never drift apart; only that
// mode allocates.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace goro::detail {

class Writer {
 public:
  // Writes to a file descriptor with write(2). Async-signal-safe.
  explicit Writer(int fd) noexcept : fd_(fd) {}
  // Appends to *out. Allocates; not for signal handlers. May throw
  // std::bad_alloc from put() and flush().
  explicit Writer(std::string* out) noexcept : out_(out) {}
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;
  // Flushes a file-descriptor writer; a string writer must be flushed
  // explicitly (flush can throw there).
  ~Writer();

  Writer& put(std::string_view s);
  Writer& put(char c);
  // "0x" followed by lower-case hex digits.
  Writer& hex(std::uintptr_t v);
  Writer& dec(std::uint64_t v);
  void flush();

 private:
  void drain();

  char buf_[512];
  std::size_t len_ = 0;
  int fd_ = -1;
  std::string* out_ = nullptr;
};

}  // namespace goro::detail
