// debug/writer.cpp: see writer.hpp.
#include "debug/writer.hpp"

#include <unistd.h>
#include <algorithm>
#include <cerrno>

namespace goro::detail {

Writer::~Writer() {
  if (fd_ >= 0) drain();
}

Writer& Writer::put(std::string_view s) {
  while (!s.empty()) {
    if (len_ == sizeof buf_) drain();
    std::size_t n = std::min(s.size(), sizeof buf_ - len_);
    for (std::size_t i = 0; i < n; ++i) buf_[len_ + i] = s[i];  // no memcpy: keep it trivially signal-safe
    len_ += n;
    s.remove_prefix(n);
  }
  return *this;
}

Writer& Writer::put(char c) {
  if (len_ == sizeof buf_) drain();
  buf_[len_++] = c;
  return *this;
}

Writer& Writer::hex(std::uintptr_t v) {
  char tmp[2 + 2 * sizeof v];
  std::size_t i = sizeof tmp;
  do {
    tmp[--i] = "0123456789abcdef"[v & 0xf];
    v >>= 4;
  } while (v != 0);
  tmp[--i] = 'x';
  tmp[--i] = '0';
  return put(std::string_view(tmp + i, sizeof tmp - i));
}

Writer& Writer::dec(std::uint64_t v) {
  char tmp[20];
  std::size_t i = sizeof tmp;
  do {
    tmp[--i] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  return put(std::string_view(tmp + i, sizeof tmp - i));
}

void Writer::flush() {
  drain();
}

void Writer::drain() {
  if (out_ != nullptr) {
    out_->append(buf_, len_);
    len_ = 0;
    return;
  }
  const char* p = buf_;
  std::size_t left = len_;
  len_ = 0;
  while (left > 0) {
    ssize_t n = ::write(fd_, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // nowhere to report a failing stderr
    p += n;
    left -= static_cast<std::size_t>(n);
  }
}

}  // namespace goro::detail
