// goro/bufio.hpp: buffered reading and writing (Go's bufio.Reader and
// bufio.Writer), with buffers that idle connections give back.
//
//   goro::bufio::reader in(conn);                 // 4 KiB, borrowed on demand
//   goro::bufio::writer out(conn);
//   while (auto line = in.read_line()) {          // std::nullopt at end of file
//     out.write(*line);
//     out.write("\n");
//     if (in.buffered() == 0) out.flush();        // batch pipelined replies
//   }
//
// Design
//   * Small default buffers (4 KiB, the reference's advice for
//     per-connection buffers), taken from goro::net's buffer pool only while
//     they hold data. A reader whose buffer is drained gives it back; when
//     it needs input it waits for readability without a buffer
//     (net::conn::wait_readable, which parks only if the last read drained
//     the socket), then borrows one and reads without parking, giving it
//     back if nothing was there, so a connection idling between requests
//     holds no read buffer; a writer gives its buffer back after flush().
//     Buffers of other sizes come from the heap under the same rule.
//   * Views returned by peek(), read_until() and read_line() point into the
//     buffer and stay valid until the next call on the reader.
//   * Errors are those of the underlying stream (goro::net::error), plus
//     net::errc::buffer_full for a line or peek longer than the buffer and
//     net::errc::unexpected_eof for a line cut short by end of file.
//
// Thread-safety: a reader or writer is used by one goroutine at a time.
#pragma once

#include <goro/config.hpp>

#include <goro/net.hpp>

#include <concepts>
#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <string_view>

namespace goro::bufio {

// Default buffer size of readers and writers: one pooled network buffer.
inline constexpr std::size_t kDefaultSize = net::kPooledBufferSize;

// What a reader reads from, type-erased. `read` blocks (0: end of file);
// `try_read` and `wait_readable` are optional: with them, the reader waits
// without holding a buffer.
struct source {
  // The object read from, and the functions that read from it.
  void* self = nullptr;
  std::size_t (*read)(void* self, std::span<std::byte> buf) = nullptr;
  std::optional<std::size_t> (*try_read)(void* self, std::span<std::byte> buf) = nullptr;
  void (*wait_readable)(void* self) = nullptr;
};

// What a writer writes to: `write_all` writes everything or throws.
struct sink {
  // The object written to, and the function that writes to it.
  void* self = nullptr;
  void (*write_all)(void* self, std::span<const std::byte> buf) = nullptr;
};

// The source and the sink of a connection, which must outlive them.
source source_of(net::conn& c) noexcept;
sink sink_of(net::conn& c) noexcept;

// Any object with `std::size_t read(std::span<std::byte>)`.
template <typename S>
concept byte_reader = requires(S& s, std::span<std::byte> b) {
  { s.read(b) } -> std::convertible_to<std::size_t>;
};
// Any object with `void write_all(std::span<const std::byte>)`.
template <typename S>
concept byte_writer = requires(S& s, std::span<const std::byte> b) {
  s.write_all(b);
};

// A buffered reader (Go's bufio.Reader); see above.
class reader {
 public:
  // Reads from a connection (which must outlive the reader), waiting for
  // readability without a buffer. `size` >= 16.
  explicit reader(net::conn& c, std::size_t size = kDefaultSize) : reader(source_of(c), size) {}
  template <byte_reader S>
  requires(!std::same_as<S, net::conn>) explicit reader(S& s, std::size_t size = kDefaultSize)
      : reader(
            source{&s,
                   [](void* p, std::span<std::byte> b) -> std::size_t { return static_cast<S*>(p)->read(b); },
                   nullptr, nullptr},
            size) {}
  reader(source src, std::size_t size);
  ~reader();
  reader(const reader&) = delete;
  reader& operator=(const reader&) = delete;

  // Reads up to buf.size() bytes: buffered ones first; if none are
  // buffered, one read of the source (directly into buf when it is at
  // least as large as the buffer). Returns 0 at end of file.
  std::size_t read(std::span<std::byte> buf);
  std::size_t read(std::span<char> buf) { return read(std::as_writable_bytes(buf)); }
  // Fills buf; errors as net::conn::read_full.
  void read_full(std::span<std::byte> buf);
  void read_full(std::span<char> buf) { read_full(std::as_writable_bytes(buf)); }
  // The next byte, or -1 at end of file.
  int read_byte();

  // The next n bytes without consuming them (fewer only at end of file).
  // Throws net::errc::buffer_full if n exceeds the buffer size.
  std::string_view peek(std::size_t n);

  // Reads through the first `delim` and returns the bytes including it. At
  // end of file returns what is left (without delim; empty if nothing).
  // Throws net::errc::buffer_full if no delim turns up within `max` bytes
  // (0: the buffer size; larger values are capped at it); the bytes stay
  // buffered.
  std::string_view read_until(char delim, std::size_t max = 0);

  // Reads a line and returns it without its "\n" or "\r\n"; std::nullopt
  // at end of file. Throws net::errc::unexpected_eof if the input ends in
  // the middle of a line, buffer_full as read_until.
  std::optional<std::string_view> read_line(std::size_t max = 0);

  // Skips up to n bytes; returns how many were skipped (fewer at end of
  // file).
  std::size_t discard(std::size_t n);

  // Bytes buffered and not yet consumed: > 0 means the next call will not
  // wait (pipelined input).
  std::size_t buffered() const noexcept { return w_ - r_; }
  // Whether the reader currently holds a buffer (false while idle).
  bool holds_buffer() const noexcept { return buf_ != nullptr; }
  std::size_t capacity() const noexcept { return size_; }

 private:
  void acquire();
  void release() noexcept;
  bool fill();  // false at end of file
  std::size_t read_source(std::span<std::byte> buf);

  source src_;
  std::size_t size_;
  std::byte* buf_ = nullptr;
  net::pooled_buffer pooled_;
  std::unique_ptr<std::byte[]> owned_;
  std::size_t r_ = 0, w_ = 0;
  bool eof_ = false;
};

// A buffered writer (Go's bufio.Writer); see above.
class writer {
 public:
  // Writes to a connection, to any object with write_all(bytes), or to a
  // sink, through a buffer of `size` bytes (>= 16). The destination must
  // outlive the writer.
  explicit writer(net::conn& c, std::size_t size = kDefaultSize) : writer(sink_of(c), size) {}
  template <byte_writer S>
  requires(!std::same_as<S, net::conn>) explicit writer(S& s, std::size_t size = kDefaultSize)
      : writer(sink{&s, [](void* p, std::span<const std::byte> b) { static_cast<S*>(p)->write_all(b); }},
               size) {}
  writer(sink dst, std::size_t size);
  ~writer();  // discards unflushed bytes (flush() can throw; call it)
  writer(const writer&) = delete;
  writer& operator=(const writer&) = delete;

  // Buffers buf, writing out full buffers as needed (a write at least as
  // large as the buffer goes out directly once the buffer is empty).
  // Errors are the sink's; after one the buffered content is unspecified.
  void write(std::span<const std::byte> buf);
  void write(std::string_view s) { write(std::as_bytes(std::span<const char>(s))); }
  void write_byte(char c);

  // Writes out everything buffered and gives the buffer back.
  void flush();

  // Bytes written but not yet flushed, and whether it holds a buffer now.
  std::size_t buffered() const noexcept { return n_; }
  bool holds_buffer() const noexcept { return buf_ != nullptr; }

 private:
  void acquire();
  void release() noexcept;
  void drain();  // write out, keep the buffer

  sink dst_;
  std::size_t size_;
  std::byte* buf_ = nullptr;
  net::pooled_buffer pooled_;
  std::unique_ptr<std::byte[]> owned_;
  std::size_t n_ = 0;
};

}  // namespace goro::bufio
