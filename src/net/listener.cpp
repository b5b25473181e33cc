// net/listener.cpp: listening sockets (goro::net::listener, listen()).
//
// Accept under descriptor exhaustion: when accept4 fails with EMFILE or
// ENFILE (or ENOBUFS/ENOMEM), the pending connection stays in the kernel's
// queue and the listener stays readable, so retrying at once would spin.
// accept() instead pauses 5 ms, doubling to 1 s while the condition lasts
// (Go's net/http Server.Serve), and retries; other goroutines keep running
// meanwhile, so existing connections are served and eventually free
// descriptors. Unlike Go, the pause ends early once one of this process's
// connections has closed its descriptor (a counter bumped on every close),
// and the doubling starts over, so a server at its limit takes the next
// waiting connection within one slice of a close rather than up to a
// second later. The pause is slept in slices of at most 10 ms, checking
// between them for that and for the listener being closed.
#include "net/netfd.hpp"

#include <goro/net.hpp>
#include <goro/time.hpp>

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <stdexcept>

namespace goro::net {

using detail::NetFd;
using detail::OpGuard;
using detail::PollMode;

struct listener::State {
  std::chrono::seconds keep_alive{15};
  std::function<void(const error&, std::chrono::milliseconds)> on_accept_error;
  std::string unlink_path;  // a Unix socket file to remove on close
  std::atomic<bool> closing{false};
  std::atomic<std::uint64_t> backoffs{0};
};

namespace {

constexpr std::chrono::milliseconds kFirstBackoff{5};
constexpr std::chrono::milliseconds kMaxBackoff{1000};
constexpr std::chrono::milliseconds kBackoffSlice{10};

// The kernel's accept queue limit, as Go reads it (capped like Go's).
int default_backlog() {
  static const int backlog = [] {
    int v = 4096;
    if (std::FILE* f = std::fopen("/proc/sys/net/core/somaxconn", "r")) {
      if (std::fscanf(f, "%d", &v) != 1 || v <= 0) v = 4096;
      std::fclose(f);
    }
    return std::min(v, 65535);
  }();
  return backlog;
}

// Closes `s` and throws "listen <net> <where>: <errno>".
[[noreturn]] void fail(int s, int err, const char* net, const std::string& where) {
  ::close(s);
  throw error(std::error_code(err, std::system_category()), "listen", net, where);
}

void set_or_fail(int s, int level, int name, int value, const char* net, const std::string& where) {
  if (::setsockopt(s, level, name, &value, sizeof value) != 0) fail(s, errno, net, where);
}

int bind_and_listen(int family, const address& a, const listen_config& opts, bool v6only, const char* net,
                    const std::string& where) {
  int s = detail::new_socket(family, SOCK_STREAM, "listen", net, where);
  if (family != AF_UNIX) {
    set_or_fail(s, SOL_SOCKET, SO_REUSEADDR, 1, net, where);
    if (family == AF_INET6) set_or_fail(s, IPPROTO_IPV6, IPV6_V6ONLY, v6only ? 1 : 0, net, where);
  }
  if (opts.reuse_port) set_or_fail(s, SOL_SOCKET, SO_REUSEPORT, 1, net, where);
  if (::bind(s, a.data(), static_cast<socklen_t>(a.size())) != 0) fail(s, errno, net, where);
  if (::listen(s, opts.backlog > 0 ? opts.backlog : default_backlog()) != 0) fail(s, errno, net, where);
  return s;
}

// Listens on the first IPv4 address of a name that has both, as Go does.
const address& pick_listen_address(const std::vector<address>& addrs) {
  for (const address& a : addrs) {
    if (a.family() == AF_INET) return a;
  }
  return addrs.front();
}

}  // namespace

listener listen(std::string_view network, std::string_view addr, const listen_config& opts) {
  auto state = std::make_unique<listener::State>();
  state->keep_alive = opts.keep_alive;
  state->on_accept_error = opts.on_accept_error;
  int s;
  detail::Kind kind;
  std::string where;
  if (network == "unix") {
    address a = address::unix_path(addr);
    where = a.to_string();
    s = bind_and_listen(AF_UNIX, a, opts, false, "unix", where);
    if (!addr.empty() && addr[0] != '@') state->unlink_path = std::string(addr);
    kind = detail::Kind::kUnix;
  } else if (network == "tcp" || network == "tcp4" || network == "tcp6") {
    std::vector<address> addrs = resolve(network, addr);
    const address& a = pick_listen_address(addrs);
    where = a.to_string();
    s = bind_and_listen(a.family(), a, opts, network == "tcp6", "tcp", where);
    kind = detail::Kind::kTcp;
  } else {
    throw std::invalid_argument("goro::net::listen: unknown network \"" + std::string(network) + "\"");
  }
  listener l;
  l.fd_ = NetFd::open(s, kind, "listen", where);
  l.state_ = state.release();
  return l;
}

listener listen_config::listen(std::string_view network, std::string_view addr) const {
  return goro::net::listen(network, addr, *this);
}

listener listen_config::listen(const context& ctx, std::string_view network, std::string_view addr) const {
  if (std::error_code ec = ctx.err()) {
    throw error(detail::net_error_of_context(ec), "listen", std::string(network), std::string(addr));
  }
  return goro::net::listen(network, addr, *this);
}

listener::listener(listener&& o) noexcept
    : fd_(std::exchange(o.fd_, nullptr)), state_(std::exchange(o.state_, nullptr)) {}

listener& listener::operator=(listener&& o) noexcept {
  if (this != &o) {
    this->~listener();
    fd_ = std::exchange(o.fd_, nullptr);
    state_ = std::exchange(o.state_, nullptr);
  }
  return *this;
}

listener::~listener() {
  if (fd_ == nullptr) return;
  try {
    if (!state_->closing.load()) close();
  } catch (const error&) {
    // Closed concurrently: nothing left to do.
  }
  fd_->drop_handle();
  delete state_;
  fd_ = nullptr;
  state_ = nullptr;
}

namespace {

// Sleeps `d` in slices, returning early once the listener is closed or
// its deadline passed (the caller's next check reports which), or once a
// descriptor was released since `released` was read.
void pause(NetFd* fd, std::chrono::milliseconds d, std::uint64_t released) {
  auto until = clock::now() + d;
  for (;;) {
    auto left = until - clock::now();
    if (left <= clock::duration::zero()) return;
    if (goro::detail::poll_check(fd->pd, PollMode::kRead) != goro::detail::PollResult::kReady) return;
    if (detail::fds_released() != released) return;
    goro::sleep_for(std::min<clock::duration>(left, kBackoffSlice));
  }
}

bool out_of_resources(int err) {
  return err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM;
}

}  // namespace

conn listener::accept() {
  OpGuard op(fd_, "accept");
  goro::lock_guard lk(fd_->read_mu);
  std::chrono::milliseconds delay{0};
  std::uint64_t released = 0;  // fds_released() at the last EMFILE
  for (;;) {
    detail::check_ready(fd_, PollMode::kRead, "accept");
    // Read before the attempt: a close racing with a failed accept4 then
    // still ends the pause below at once.
    std::uint64_t released_before = detail::fds_released();
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    int s = ::accept4(fd_->sysfd, reinterpret_cast<sockaddr*>(&ss), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (s >= 0) {
      // (No address in a registration failure message: formatting one would
      // cost a getsockname per accepted connection.)
      detail::HandleGuard guard{NetFd::open(s, fd_->kind, "accept", std::string())};
      NetFd* c = guard.fd;
      c->connected = true;
      // Clients usually send right after connecting: the first read is
      // tried at once instead of waiting for the registration's edge.
      c->read_more = true;
      if (fd_->kind == detail::Kind::kTcp) {
        std::memcpy(&c->peer, &ss, std::min<std::size_t>(len, sizeof c->peer));
        detail::set_tcp_defaults(c, state_->keep_alive);
      }
      return conn(std::exchange(guard.fd, nullptr));
    }
    int err = errno;
    if (err == EINTR || err == ECONNABORTED) continue;
    if (err == EAGAIN) {
      detail::wait_ready(fd_, PollMode::kRead, "accept");
      continue;
    }
    if (!out_of_resources(err)) detail::throw_errno(fd_, "accept", err);
    // Descriptors freed since the last failure: start the doubling over.
    bool freed_some = delay.count() != 0 && released_before != released;
    released = released_before;
    delay = delay.count() == 0 || freed_some ? kFirstBackoff : std::min(delay * 2, kMaxBackoff);
    state_->backoffs.fetch_add(1, std::memory_order_relaxed);
    if (state_->on_accept_error) {
      state_->on_accept_error(
          error(std::error_code(err, std::system_category()), "accept", fd_->network(), fd_->describe()),
          delay);
    }
    pause(fd_, delay, released);
  }
}

void listener::close() {
  bool expected = false;
  if (fd_ == nullptr || !state_->closing.compare_exchange_strong(expected, true)) {
    detail::throw_closed(fd_, "close");
  }
  // Remove the socket file first, as Go does: once the descriptor is
  // closed, another listener could bind the same path.
  if (!state_->unlink_path.empty()) ::unlink(state_->unlink_path.c_str());
  fd_->close();
}

address listener::local_address() const {
  OpGuard op(fd_, "getsockname");
  return detail::sock_name(fd_->sysfd);
}

std::string_view listener::network() const noexcept {
  return fd_ != nullptr ? fd_->network() : "";
}

void listener::set_deadline(clock::time_point t) {
  OpGuard op(fd_, "set");
  detail::set_deadline(fd_, PollMode::kRead, t);
}

std::uint64_t listener::accept_backoffs() const noexcept {
  return state_ != nullptr ? state_->backoffs.load(std::memory_order_relaxed) : 0;
}

int listener::native_handle() const noexcept {
  return fd_ != nullptr ? fd_->sysfd : -1;
}

}  // namespace goro::net
