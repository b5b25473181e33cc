// net/bufio.cpp: goro::bufio::reader and writer.
//
// Reader invariants
//   * buf_ != nullptr only while it may hold unread bytes: r_ <= w_ <= size_.
//     When everything is consumed the buffer is given back at the start of
//     the next call that needs input, not at once, because views returned
//     by the previous call point into it.
//   * Needing input without a buffer, the reader first waits for
//     readability holding none (wait_readable parks only if the last read
//     drained the source), then borrows one and reads without parking; if
//     nothing was there it gives the buffer back and waits again.
//   * eof_ is sticky: once the source reported end of file it is not read
//     again.
#include <goro/bufio.hpp>

#include <algorithm>
#include <cstring>

namespace goro::bufio {

using net::errc;

namespace {

[[noreturn]] void throw_bufio(errc e) {
  throw net::error(make_error_code(e), "read", "", "");
}

std::size_t conn_read(void* c, std::span<std::byte> b) {
  return static_cast<net::conn*>(c)->read(b);
}
std::optional<std::size_t> conn_try_read(void* c, std::span<std::byte> b) {
  return static_cast<net::conn*>(c)->try_read(b);
}
void conn_wait(void* c) {
  static_cast<net::conn*>(c)->wait_readable();
}
void conn_write_all(void* c, std::span<const std::byte> b) {
  static_cast<net::conn*>(c)->write_all(b);
}

// A buffer of `size` bytes: borrowed from the pool when it has that size
// (the default), else allocated for this reader or writer alone.
std::byte* take_buffer(std::size_t size, net::pooled_buffer& pooled, std::unique_ptr<std::byte[]>& owned) {
  if (size == net::kPooledBufferSize) {
    pooled = net::borrow_buffer();
    return pooled.data();
  }
  owned = std::make_unique<std::byte[]>(size);
  return owned.get();
}

}  // namespace

source source_of(net::conn& c) noexcept {
  return {&c, &conn_read, &conn_try_read, &conn_wait};
}
sink sink_of(net::conn& c) noexcept {
  return {&c, &conn_write_all};
}

// ---------------------------------------------------------------------------
// reader

reader::reader(source src, std::size_t size) : src_(src), size_(std::max<std::size_t>(size, 16)) {}

reader::~reader() = default;

void reader::acquire() {
  buf_ = take_buffer(size_, pooled_, owned_);
  r_ = w_ = 0;
}

void reader::release() noexcept {
  pooled_.reset();
  owned_.reset();
  buf_ = nullptr;
  r_ = w_ = 0;
}

std::size_t reader::read_source(std::span<std::byte> buf) {
  std::size_t n = src_.read(src_.self, buf);
  if (n == 0) eof_ = true;
  return n;
}

// Reads more input into the buffer; false at end of file.
bool reader::fill() {
  if (eof_) return false;
  if (buf_ != nullptr && r_ == w_) release();
  if (buf_ == nullptr) {
    if (src_.wait_readable == nullptr || src_.try_read == nullptr) {
      acquire();
    } else {
      for (;;) {
        // Wait first, without a buffer: wait_readable returns at once
        // unless the last read drained the source, and a drained source is
        // nearly always still empty here (a request/response peer sends
        // its next message only after it has read our reply), so reading
        // first would cost an EAGAIN read(2) per message. An edge that came
        // in since the drain makes the wait return at once.
        src_.wait_readable(src_.self);
        acquire();
        std::optional<std::size_t> n = src_.try_read(src_.self, std::span<std::byte>(buf_, size_));
        if (n && *n > 0) {
          w_ = *n;
          return true;
        }
        release();  // nothing there, or end of file: hold nothing
        if (n) {
          eof_ = true;
          return false;
        }
        src_.wait_readable(src_.self);
      }
    }
  } else if (w_ == size_) {
    // Slide unread bytes to the front to make room.
    std::memmove(buf_, buf_ + r_, w_ - r_);
    w_ -= r_;
    r_ = 0;
  }
  std::size_t n = read_source(std::span<std::byte>(buf_ + w_, size_ - w_));
  w_ += n;
  if (n == 0 && buffered() == 0) release();
  return n > 0;
}

std::size_t reader::read(std::span<std::byte> buf) {
  if (buf.empty()) return 0;
  if (buffered() == 0) {
    if (eof_) return 0;
    if (buf_ != nullptr) release();
    // A large read bypasses the buffer (as Go's bufio does).
    if (buf.size() >= size_) return read_source(buf);
    if (!fill()) return 0;
  }
  std::size_t n = std::min(buf.size(), buffered());
  std::memcpy(buf.data(), buf_ + r_, n);
  r_ += n;
  return n;
}

void reader::read_full(std::span<std::byte> buf) {
  std::size_t done = 0;
  while (done < buf.size()) {
    std::size_t n = read(buf.subspan(done));
    if (n == 0) throw_bufio(done == 0 ? errc::eof : errc::unexpected_eof);
    done += n;
  }
}

int reader::read_byte() {
  if (buffered() == 0 && !fill()) return -1;
  return static_cast<int>(static_cast<unsigned char>(buf_[r_++]));
}

std::string_view reader::peek(std::size_t n) {
  if (n > size_) throw_bufio(errc::buffer_full);
  while (buffered() < n && fill()) {
  }
  std::size_t have = std::min(n, buffered());
  return {reinterpret_cast<const char*>(buf_) + r_, have};
}

std::string_view reader::read_until(char delim, std::size_t max) {
  if (max == 0 || max > size_) max = size_;
  std::size_t scanned = 0;  // bytes after r_ already searched (fill keeps them)
  for (;;) {
    std::size_t limit = std::min(buffered(), max);
    if (limit > scanned) {
      const char* start = reinterpret_cast<const char*>(buf_) + r_;
      if (const void* hit = std::memchr(start + scanned, delim, limit - scanned)) {
        std::size_t len = static_cast<std::size_t>(static_cast<const char*>(hit) - start) + 1;
        r_ += len;
        return {start, len};
      }
      scanned = limit;
    }
    if (scanned >= max) throw_bufio(errc::buffer_full);
    if (!fill()) {
      // End of file: hand out the rest.
      std::size_t len = buffered();
      const char* start = buf_ != nullptr ? reinterpret_cast<const char*>(buf_) + r_ : "";
      r_ += len;
      return {start, len};
    }
  }
}

std::optional<std::string_view> reader::read_line(std::size_t max) {
  std::string_view line = read_until('\n', max);
  if (line.empty()) return std::nullopt;
  if (line.back() != '\n') throw_bufio(errc::unexpected_eof);
  line.remove_suffix(1);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

std::size_t reader::discard(std::size_t n) {
  std::size_t done = 0;
  while (done < n) {
    if (buffered() == 0 && !fill()) break;
    std::size_t k = std::min(n - done, buffered());
    r_ += k;
    done += k;
  }
  return done;
}

// ---------------------------------------------------------------------------
// writer

writer::writer(sink dst, std::size_t size) : dst_(dst), size_(std::max<std::size_t>(size, 16)) {}

writer::~writer() = default;

void writer::acquire() {
  buf_ = take_buffer(size_, pooled_, owned_);
  n_ = 0;
}

void writer::release() noexcept {
  pooled_.reset();
  owned_.reset();
  buf_ = nullptr;
  n_ = 0;
}

void writer::drain() {
  if (n_ == 0) return;
  std::size_t n = n_;
  n_ = 0;  // on an error the content is unspecified (documented): drop it
  dst_.write_all(dst_.self, std::span<const std::byte>(buf_, n));
}

void writer::write(std::span<const std::byte> buf) {
  while (!buf.empty()) {
    if (n_ == 0 && buf.size() >= size_) {
      // Nothing buffered and a large write: skip the copy.
      dst_.write_all(dst_.self, buf);
      return;
    }
    if (buf_ == nullptr) acquire();
    std::size_t k = std::min(buf.size(), size_ - n_);
    std::memcpy(buf_ + n_, buf.data(), k);
    n_ += k;
    buf = buf.subspan(k);
    if (n_ == size_) drain();
  }
}

void writer::write_byte(char c) {
  if (buf_ == nullptr) acquire();
  buf_[n_++] = static_cast<std::byte>(c);
  if (n_ == size_) drain();
}

void writer::flush() {
  drain();
  release();
}

}  // namespace goro::bufio
