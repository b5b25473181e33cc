// net/netfd.cpp: NetFd lifetime, the read/write loops and their errors.
//
// Every I/O loop has Go's shape: check the direction (deadline passed?
// closed?), try the system call, and only on EAGAIN park on the netpoller
// and try again. errno is read right after the call that set it, before
// anything can park: a goroutine may resume on another thread, whose errno
// is another variable.
#include "net/netfd.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cerrno>
#include <new>

namespace goro::net::detail {

using goro::detail::PollResult;

NetFd* NetFd::open(int sysfd, Kind kind, const char* op, const std::string& where) {
  auto* fd = new (std::nothrow) NetFd;
  if (fd == nullptr) {
    ::close(sysfd);
    throw std::bad_alloc();
  }
  fd->sysfd = sysfd;
  fd->kind = kind;
  fd->pd = goro::detail::poll_open(sysfd);
  if (fd->pd == nullptr) {
    int err = errno;
    ::close(sysfd);
    const char* net = fd->network();
    delete fd;
    throw error(std::error_code(err, std::system_category()), op, net, where);
  }
  return fd;
}

bool NetFd::enter() noexcept {
  std::uint32_t s = state.load(std::memory_order_relaxed);
  do {
    if (s & kClosed) return false;
  } while (!state.compare_exchange_weak(s, s + kOp, std::memory_order_acquire, std::memory_order_relaxed));
  return true;
}

void NetFd::leave() noexcept {
  std::uint32_t s = state.fetch_sub(kOp, std::memory_order_acq_rel) - kOp;
  if ((s & kClosed) && s < kOp && !(s & kFdClaimed)) release_fd();
}

bool NetFd::close() noexcept {
  std::uint32_t prev = state.fetch_or(kClosed, std::memory_order_acq_rel);
  if (prev & kClosed) return false;
  // Parked readers and writers wake with kClosing and leave; the last one
  // out (or we, if nobody is in) closes the descriptor.
  goro::detail::poll_unblock(pd);
  if (state.load(std::memory_order_acquire) < kOp) release_fd();
  return true;
}

void NetFd::drop_handle() noexcept {
  close();
  std::uint32_t prev = state.fetch_or(kHandleGone, std::memory_order_acq_rel);
  if (prev & kFdDone) delete this;
}

namespace {

std::atomic<std::uint64_t> g_fds_released{0};

}  // namespace

std::uint64_t fds_released() noexcept {
  return g_fds_released.load(std::memory_order_relaxed);
}

void NetFd::release_fd() noexcept {
  if (state.fetch_or(kFdClaimed, std::memory_order_acq_rel) & kFdClaimed) return;
  // Deregister before close: once closed, the number may be reused at once
  // by another thread's socket.
  goro::detail::poll_close(pd);
  ::close(sysfd);
  g_fds_released.fetch_add(1, std::memory_order_relaxed);
  std::uint32_t prev = state.fetch_or(kFdDone, std::memory_order_acq_rel);
  if (prev & kHandleGone) delete this;
}

const char* NetFd::network() const noexcept {
  switch (kind) {
    case Kind::kTcp:
      return "tcp";
    case Kind::kUdp:
      return "udp";
    case Kind::kUnix:
      return "unix";
  }
  return "";
}

std::string NetFd::describe() const {
  std::string local = sock_name(sysfd).to_string();
  if (!connected) return local;
  std::string r = remote().to_string();
  if (r.empty()) return local;
  return local + "->" + r;
}

address NetFd::remote() const {
  if (peer.sin6_family == AF_INET)
    return address::from_sockaddr(reinterpret_cast<const sockaddr*>(&peer), sizeof(sockaddr_in));
  if (peer.sin6_family == AF_INET6)
    return address::from_sockaddr(reinterpret_cast<const sockaddr*>(&peer), sizeof peer);
  return peer_name(sysfd);
}

void throw_error(const NetFd* fd, const char* op, std::error_code ec) {
  if (fd == nullptr) throw error(ec, op, "", "");
  throw error(ec, op, fd->network(), fd->describe());
}

void throw_errno(const NetFd* fd, const char* op, int err) {
  throw_error(fd, op, std::error_code(err, std::system_category()));
}

void throw_closed(const NetFd* fd, const char* op) {
  // The descriptor may be gone: name only the network.
  throw error(make_error_code(errc::closed), op, fd != nullptr ? fd->network() : "", "");
}

namespace {

[[noreturn]] void throw_poll_result(NetFd* fd, PollResult r, const char* op) {
  if (r == PollResult::kTimeout) throw_error(fd, op, make_error_code(errc::timeout));
  throw_closed(fd, op);
}

}  // namespace

void check_ready(NetFd* fd, PollMode mode, const char* op) {
  PollResult r = goro::detail::poll_check(fd->pd, mode);
  if (r != PollResult::kReady) throw_poll_result(fd, r, op);
}

void wait_ready(NetFd* fd, PollMode mode, const char* op) {
  PollResult r = goro::detail::poll_wait(fd->pd, mode);
  if (r != PollResult::kReady) throw_poll_result(fd, r, op);
}

void set_deadline(NetFd* fd, PollMode mode, clock::time_point t) noexcept {
  std::int64_t ns = 0;
  if (t != clock::time_point{}) {
    ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
    // The netpoller reads 0 as "none": a time at or before the clock's
    // epoch is simply in the past.
    if (ns <= 0) ns = 1;
  }
  goro::detail::poll_set_deadline(fd->pd, mode, ns);
}

std::optional<std::size_t> try_read_locked(NetFd* fd, std::span<std::byte> buf, const char* op) {
  if (buf.empty()) return 0;
  check_ready(fd, PollMode::kRead, op);
  for (;;) {
    ssize_t n = ::read(fd->sysfd, buf.data(), buf.size());
    if (n >= 0) {
      // A short read drained the socket's data; a full one may have left
      // more, end of file repeats, and after the peer's shutdown the end of
      // file may still be queued behind the data (its edge is gone).
      fd->read_more =
          n == 0 || static_cast<std::size_t>(n) == buf.size() || goro::detail::poll_read_hup(fd->pd);
      return static_cast<std::size_t>(n);
    }
    int err = errno;
    if (err == EINTR) continue;
    if (err == EAGAIN) {
      fd->read_more = false;
      return std::nullopt;
    }
    fd->read_more = true;
    throw_errno(fd, op, err);
  }
}

std::size_t read_locked(NetFd* fd, std::span<std::byte> buf, const char* op) {
  for (;;) {
    if (std::optional<std::size_t> n = try_read_locked(fd, buf, op)) return *n;
    wait_ready(fd, PollMode::kRead, op);
  }
}

void wait_readable_locked(NetFd* fd) {
  if (fd->read_more) return;
  if (goro::detail::poll_check(fd->pd, PollMode::kRead) != PollResult::kReady) return;
  // Whatever woke us, let the next read find out (possibly EAGAIN again,
  // which resets read_more).
  goro::detail::poll_wait(fd->pd, PollMode::kRead);
  fd->read_more = true;
}

std::size_t write_locked(NetFd* fd, std::span<const std::byte> buf, const char* op) {
  if (buf.empty()) return 0;
  check_ready(fd, PollMode::kWrite, op);
  for (;;) {
    // MSG_NOSIGNAL: a write after the peer closed fails with EPIPE instead
    // of killing the process with SIGPIPE.
    ssize_t n = ::send(fd->sysfd, buf.data(), buf.size(), MSG_NOSIGNAL);
    if (n >= 0) return static_cast<std::size_t>(n);
    int err = errno;
    if (err == EINTR) continue;
    if (err == EAGAIN) {
      wait_ready(fd, PollMode::kWrite, op);
      continue;
    }
    throw_errno(fd, op, err);
  }
}

int new_socket(int family, int type, const char* op, const char* net, const std::string& where) {
  int s = ::socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (s < 0) throw error(std::error_code(errno, std::system_category()), op, net, where);
  return s;
}

void set_int_option(NetFd* fd, int level, int name, int value, const char* what) {
  if (::setsockopt(fd->sysfd, level, name, &value, sizeof value) != 0) throw_errno(fd, what, errno);
}

void set_tcp_defaults(NetFd* fd, std::chrono::seconds keep_alive) noexcept {
  int one = 1;
  ::setsockopt(fd->sysfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (keep_alive.count() <= 0) return;
  int secs = static_cast<int>(std::min<std::int64_t>(keep_alive.count(), 32767));  // the kernel's limit
  ::setsockopt(fd->sysfd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
  ::setsockopt(fd->sysfd, IPPROTO_TCP, TCP_KEEPIDLE, &secs, sizeof secs);
  ::setsockopt(fd->sysfd, IPPROTO_TCP, TCP_KEEPINTVL, &secs, sizeof secs);
}

address sock_name(int sysfd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getsockname(sysfd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return {};
  return address::from_sockaddr(reinterpret_cast<const sockaddr*>(&ss), len);
}

address peer_name(int sysfd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getpeername(sysfd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return {};
  return address::from_sockaddr(reinterpret_cast<const sockaddr*>(&ss), len);
}

}  // namespace goro::net::detail
