// net/stream.cpp: stream connections (TCP, Unix): goro::net::conn, dial().
//
// A conn is a pointer to a NetFd (net/netfd.hpp); each call is an OpGuard
// (the descriptor stays open while it runs) plus the direction's mutex
// around one of netfd.cpp's loops. Dial follows Go's connect loop: a
// non-blocking connect, registration after it returned EINPROGRESS (the
// registration itself reports an already finished handshake), then a wait
// for writability under a write deadline, SO_ERROR, and getpeername to
// confirm, since a wakeup alone does not prove the handshake is done.
#include "net/netfd.hpp"

#include <goro/net.hpp>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <stdexcept>

namespace goro::net {

using detail::NetFd;
using detail::OpGuard;
using detail::PollMode;

conn& conn::operator=(conn&& o) noexcept {
  if (this != &o) {
    if (fd_ != nullptr) fd_->drop_handle();
    fd_ = std::exchange(o.fd_, nullptr);
  }
  return *this;
}

conn::~conn() {
  if (fd_ != nullptr) fd_->drop_handle();
}

std::size_t conn::read(std::span<std::byte> buf) {
  OpGuard op(fd_, "read");
  std::lock_guard lk(fd_->read_mu);
  return detail::read_locked(fd_, buf, "read");
}

std::optional<std::size_t> conn::try_read(std::span<std::byte> buf) {
  OpGuard op(fd_, "read");
  std::lock_guard lk(fd_->read_mu);
  return detail::try_read_locked(fd_, buf, "read");
}

void conn::read_full(std::span<std::byte> buf) {
  OpGuard op(fd_, "read");
  std::lock_guard lk(fd_->read_mu);
  std::size_t done = 0;
  while (done < buf.size()) {
    std::size_t n = detail::read_locked(fd_, buf.subspan(done), "read");
    if (n == 0)
      detail::throw_error(fd_, "read", make_error_code(done == 0 ? errc::eof : errc::unexpected_eof));
    done += n;
  }
}

void conn::wait_readable() {
  OpGuard op(fd_, "read");
  std::lock_guard lk(fd_->read_mu);
  detail::wait_readable_locked(fd_);
}

std::size_t conn::read_pooled_impl(void (*consume)(void*, std::span<const std::byte>), void* ctx) {
  OpGuard op(fd_, "read");
  pooled_buffer buf;
  std::size_t n = 0;
  {
    std::lock_guard lk(fd_->read_mu);
    for (;;) {
      // Read first (Go's order): under load the data is usually there
      // already, and parking costs a trip through the netpoller. The
      // buffer comes from the thread's pool cache (no lock, no syscall) and
      // goes back before parking, so an idle connection holds none.
      buf = borrow_buffer();
      if (std::optional<std::size_t> got = detail::try_read_locked(fd_, buf.span(), "read")) {
        n = *got;
        break;
      }
      buf.reset();
      detail::wait_readable_locked(fd_);  // EAGAIN cleared read_more: parks
    }
  }
  // Outside the read lock: consume may read this connection again.
  if (n > 0) consume(ctx, std::span<const std::byte>(buf.data(), n));
  return n;
}

std::size_t conn::write(std::span<const std::byte> buf) {
  OpGuard op(fd_, "write");
  std::lock_guard lk(fd_->write_mu);
  return detail::write_locked(fd_, buf, "write");
}

void conn::write_all(std::span<const std::byte> buf) {
  OpGuard op(fd_, "write");
  std::lock_guard lk(fd_->write_mu);
  while (!buf.empty()) buf = buf.subspan(detail::write_locked(fd_, buf, "write"));
}

void conn::shutdown_write() {
  OpGuard op(fd_, "close");
  if (::shutdown(fd_->sysfd, SHUT_WR) != 0) detail::throw_errno(fd_, "close", errno);
}

void conn::shutdown_read() {
  OpGuard op(fd_, "close");
  if (::shutdown(fd_->sysfd, SHUT_RD) != 0) detail::throw_errno(fd_, "close", errno);
}

void conn::close() {
  if (fd_ == nullptr || !fd_->close()) detail::throw_closed(fd_, "close");
}

address conn::local_address() const {
  OpGuard op(fd_, "getsockname");
  return detail::sock_name(fd_->sysfd);
}

address conn::remote_address() const {
  OpGuard op(fd_, "getpeername");
  return fd_->remote();
}

std::string_view conn::network() const noexcept {
  return fd_ != nullptr ? fd_->network() : "";
}

void conn::set_deadline(clock::time_point t) {
  OpGuard op(fd_, "set");
  detail::set_deadline(fd_, PollMode::kRead, t);
  detail::set_deadline(fd_, PollMode::kWrite, t);
}

void conn::set_read_deadline(clock::time_point t) {
  OpGuard op(fd_, "set");
  detail::set_deadline(fd_, PollMode::kRead, t);
}

void conn::set_write_deadline(clock::time_point t) {
  OpGuard op(fd_, "set");
  detail::set_deadline(fd_, PollMode::kWrite, t);
}

void conn::set_no_delay(bool on) {
  OpGuard op(fd_, "set");
  detail::set_int_option(fd_, IPPROTO_TCP, TCP_NODELAY, on ? 1 : 0, "set");
}

void conn::set_keep_alive(bool on, std::chrono::seconds period) {
  OpGuard op(fd_, "set");
  detail::set_int_option(fd_, SOL_SOCKET, SO_KEEPALIVE, on ? 1 : 0, "set");
  if (on && period.count() > 0) {
    int secs = static_cast<int>(std::min<std::int64_t>(period.count(), 32767));
    detail::set_int_option(fd_, IPPROTO_TCP, TCP_KEEPIDLE, secs, "set");
    detail::set_int_option(fd_, IPPROTO_TCP, TCP_KEEPINTVL, secs, "set");
  }
}

void conn::set_linger(std::optional<std::chrono::seconds> linger) {
  OpGuard op(fd_, "set");
  ::linger l{};
  l.l_onoff = linger.has_value() ? 1 : 0;
  l.l_linger = linger.has_value() ? static_cast<int>(linger->count()) : 0;
  if (::setsockopt(fd_->sysfd, SOL_SOCKET, SO_LINGER, &l, sizeof l) != 0)
    detail::throw_errno(fd_, "set", errno);
}

int conn::native_handle() const noexcept {
  return fd_ != nullptr ? fd_->sysfd : -1;
}

// ---------------------------------------------------------------------------
// dial

namespace detail {

namespace {

bool is_unix_network(std::string_view network) {
  if (network == "unix") return true;
  if (network == "tcp" || network == "tcp4" || network == "tcp6") return false;
  throw std::invalid_argument("goro::net::dial: unknown network \"" + std::string(network) + "\"");
}

// Waits for a non-blocking connect to finish. Go's netFD.connect.
void finish_connect(NetFd* fd, std::int64_t deadline_ns) {
  if (deadline_ns != 0) goro::detail::poll_set_deadline(fd->pd, PollMode::kWrite, deadline_ns);
  for (;;) {
    wait_ready(fd, PollMode::kWrite, "dial");
    int err = 0;
    socklen_t len = sizeof err;
    if (::getsockopt(fd->sysfd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
    if (err == EINPROGRESS || err == EALREADY || err == EINTR) continue;
    if (err != 0 && err != EISCONN) throw_errno(fd, "dial", err);
    sockaddr_storage ss{};
    socklen_t sl = sizeof ss;
    if (::getpeername(fd->sysfd, reinterpret_cast<sockaddr*>(&ss), &sl) == 0) break;
    // Woken too early (the registration's first edge): wait again.
  }
  goro::detail::poll_set_deadline(fd->pd, PollMode::kWrite, 0);
}

std::int64_t to_ns(clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

conn dial_one(Kind kind, const address& to, clock::time_point deadline) {
  const char* net = kind == Kind::kUnix ? "unix" : "tcp";
  std::string where = to.to_string();
  if (deadline != clock::time_point{} && clock::now() >= deadline) {
    throw error(make_error_code(errc::timeout), "dial", net, where);
  }
  int s = new_socket(to.family(), SOCK_STREAM, "dial", net, where);
  int rc = ::connect(s, to.data(), static_cast<socklen_t>(to.size()));
  int err = rc == 0 ? 0 : errno;
  if (rc != 0 && err != EINPROGRESS && err != EINTR) {
    ::close(s);
    throw error(std::error_code(err, std::system_category()), "dial", net, where);
  }
  HandleGuard guard{NetFd::open(s, kind, "dial", where)};
  NetFd* fd = guard.fd;
  fd->connected = true;
  if (to.family() == AF_INET || to.family() == AF_INET6) {
    std::memcpy(&fd->peer, to.data(), std::min(to.size(), sizeof fd->peer));
  }
  try {
    if (rc != 0) finish_connect(fd, deadline == clock::time_point{} ? 0 : to_ns(deadline));
  } catch (const error& e) {
    // Name the address dialled, not the half-made connection.
    throw error(e.code(), "dial", net, where);
  }
  if (kind == Kind::kTcp) set_tcp_defaults(fd, std::chrono::seconds(15));
  return conn(std::exchange(guard.fd, nullptr));
}

// Go's partialDeadline: share what is left among the addresses still to
// try, but give each at least 2 s if the total allows.
clock::time_point attempt_deadline(clock::time_point deadline, std::size_t left) {
  if (deadline == clock::time_point{} || left <= 1) return deadline;
  auto now = clock::now();
  auto share = (deadline - now) / static_cast<int>(left);
  auto floor = std::chrono::duration_cast<clock::duration>(std::chrono::seconds(2));
  if (share < floor) share = std::min<clock::duration>(floor, deadline - now);
  return now + share;
}

}  // namespace

}  // namespace detail

conn dial(std::string_view network, std::string_view addr, clock::duration timeout) {
  bool unix_net = detail::is_unix_network(network);
  clock::time_point deadline =
      timeout > clock::duration::zero() ? clock::now() + timeout : clock::time_point{};
  if (unix_net) return detail::dial_one(detail::Kind::kUnix, address::unix_path(addr), deadline);
  std::vector<address> addrs = resolve(network, addr);
  for (std::size_t i = 0; i < addrs.size(); i++) {
    try {
      return detail::dial_one(detail::Kind::kTcp, addrs[i],
                              detail::attempt_deadline(deadline, addrs.size() - i));
    } catch (const error&) {
      if (i + 1 == addrs.size()) throw;
    }
  }
  throw error(make_error_code(errc::no_such_host), "dial", std::string(network), std::string(addr));
}

}  // namespace goro::net
