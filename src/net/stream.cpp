// net/stream.cpp: stream connections (TCP, Unix): goro::net::conn, dial().
//
// A conn is a pointer to a NetFd (net/netfd.hpp); each call is an OpGuard
// (the descriptor stays open while it runs) plus the direction's mutex
// around one of netfd.cpp's loops. Dial follows Go's connect loop: a
// non-blocking connect, registration after it returned EINPROGRESS (the
// registration itself reports an already finished handshake), then a wait
// for writability under a write deadline, SO_ERROR, and getpeername to
// confirm, since a wakeup alone does not prove the handshake is done.
// dial_context adds Go's interrupter: while the handshake is in flight a
// goroutine waits for the context and, if it is cancelled, moves the write
// deadline into the past so the parked dial wakes.
#include "net/netfd.hpp"

#include <goro/goroutine.hpp>
#include <goro/net.hpp>
#include <goro/runtime.hpp>
#include <goro/select.hpp>

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
  goro::lock_guard lk(fd_->read_mu);
  return detail::read_locked(fd_, buf, "read");
}

std::optional<std::size_t> conn::try_read(std::span<std::byte> buf) {
  OpGuard op(fd_, "read");
  goro::lock_guard lk(fd_->read_mu);
  return detail::try_read_locked(fd_, buf, "read");
}

void conn::read_full(std::span<std::byte> buf) {
  OpGuard op(fd_, "read");
  goro::lock_guard lk(fd_->read_mu);
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
  goro::lock_guard lk(fd_->read_mu);
  detail::wait_readable_locked(fd_);
}

std::size_t conn::read_pooled_impl(void (*consume)(void*, std::span<const std::byte>), void* ctx) {
  OpGuard op(fd_, "read");
  pooled_buffer buf;
  std::size_t n = 0;
  {
    goro::lock_guard lk(fd_->read_mu);
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
  goro::lock_guard lk(fd_->write_mu);
  return detail::write_locked(fd_, buf, "write");
}

void conn::write_all(std::span<const std::byte> buf) {
  OpGuard op(fd_, "write");
  goro::lock_guard lk(fd_->write_mu);
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

// Wakes a dial parked in its handshake when its context is cancelled (Go's
// interrupter goroutine in netFD.connect): a goroutine waits for ctx.done()
// and then moves the write deadline into the past. finish() stops it and
// waits until it has exited, so it never touches the NetFd afterwards, and
// says whether it fired (then the dial fails even if the handshake won the
// race, as in Go). Only in a goroutine, and only for a context that can be
// cancelled; otherwise it does nothing.
class CancelWatch {
 public:
  CancelWatch(const context& ctx, NetFd* fd) {
    chan<std::monostate> done = ctx.done();
    if (done.is_nil() || !goro::in_goroutine()) return;
    chan<std::monostate> stop;
    chan<bool> exited(1);
    goro::go([done, stop, exited, fd] {
      bool fired = false;
      goro::select(goro::on_recv(done,
                                 [&] {
                                   goro::detail::poll_set_deadline(fd->pd, PollMode::kWrite, 1);
                                   fired = true;
                                 }),
                   goro::on_recv(stop));
      exited.send(fired);
    });
    // Only once the watcher runs: finish() waits for it.
    stop_ = std::move(stop);
    exited_ = std::move(exited);
  }
  CancelWatch(const CancelWatch&) = delete;
  CancelWatch& operator=(const CancelWatch&) = delete;
  ~CancelWatch() { finish(); }

  // Stops the watcher (idempotent). True if it cancelled the dial.
  bool finish() noexcept {
    if (stop_.is_nil()) return fired_;
    stop_.close();
    fired_ = exited_.recv().value_or(false);
    stop_ = chan<std::monostate>::nil();
    return fired_;
  }

 private:
  chan<std::monostate> stop_ = chan<std::monostate>::nil();
  chan<bool> exited_ = chan<bool>::nil();
  bool fired_ = false;
};

// What one dial needs besides the address.
struct DialPlan {
  Kind kind;
  clock::time_point deadline;  // time_point{}: none
  const dialer* options;
  const context* ctx;
};

[[noreturn]] void throw_dial_error(std::error_code ec, const DialPlan& plan, const std::string& where) {
  throw error(ec, "dial", plan.kind == Kind::kUnix ? "unix" : "tcp", where);
}

bool passed(clock::time_point deadline) {
  return deadline != clock::time_point{} && clock::now() >= deadline;
}

// Fails at once if ctx is done or the deadline has passed (Go checks both
// before each attempt).
void check_dial_limits(const DialPlan& plan, const std::string& where) {
  if (std::error_code ec = plan.ctx->err()) throw_dial_error(net_error_of_context(ec), plan, where);
  if (passed(plan.deadline)) throw_dial_error(make_error_code(errc::timeout), plan, where);
}

int connecting_socket(const DialPlan& plan, const address& to, const std::string& where) {
  const char* net = plan.kind == Kind::kUnix ? "unix" : "tcp";
  int s = new_socket(to.family(), SOCK_STREAM, "dial", net, where);
  const address& local = plan.options->local_address;
  if (local.family() != 0 && ::bind(s, local.data(), static_cast<socklen_t>(local.size())) != 0) {
    int err = errno;
    ::close(s);
    throw_dial_error(std::error_code(err, std::system_category()), plan, where);
  }
  return s;
}

conn dial_one(const DialPlan& plan, const address& to, clock::time_point deadline) {
  std::string where = to.to_string();
  check_dial_limits(plan, where);
  int s = connecting_socket(plan, to, where);
  int rc = ::connect(s, to.data(), static_cast<socklen_t>(to.size()));
  int err = rc == 0 ? 0 : errno;
  if (rc != 0 && err != EINPROGRESS && err != EINTR) {
    ::close(s);
    throw_dial_error(std::error_code(err, std::system_category()), plan, where);
  }
  HandleGuard guard{NetFd::open(s, plan.kind, "dial", where)};
  NetFd* fd = guard.fd;
  fd->connected = true;
  if (to.family() == AF_INET || to.family() == AF_INET6) {
    std::memcpy(&fd->peer, to.data(), std::min(to.size(), sizeof fd->peer));
  }
  if (rc != 0) {
    CancelWatch watch(*plan.ctx, fd);
    try {
      finish_connect(fd, deadline == clock::time_point{} ? 0 : to_ns(deadline));
    } catch (const error& e) {
      // Name the address dialled, not the half-made connection.
      std::error_code ec = e.code();
      if (watch.finish()) ec = net_error_of_context(plan.ctx->err());
      throw_dial_error(ec, plan, where);
    }
    if (watch.finish()) throw_dial_error(net_error_of_context(plan.ctx->err()), plan, where);
  }
  if (plan.kind == Kind::kTcp) set_tcp_defaults(fd, plan.options->keep_alive);
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

// The earliest of the limits, as Go's Dialer.deadline (time_point{}: none).
clock::time_point dial_deadline(const dialer& d, const context& ctx) {
  clock::time_point earliest{};
  auto consider = [&earliest](clock::time_point t) {
    if (t != clock::time_point{} && (earliest == clock::time_point{} || t < earliest)) earliest = t;
  };
  if (d.timeout != clock::duration::zero()) {
    clock::time_point now = clock::now();
    // A timeout so long that now + timeout overflows is no limit.
    if (d.timeout < clock::duration::zero() || d.timeout <= clock::time_point::max() - now) {
      consider(now + d.timeout);
    }
  }
  consider(d.deadline);
  if (std::optional<clock::time_point> cd = ctx.deadline()) consider(*cd);
  // The netpoller reads a deadline at the clock's epoch as "none".
  if (earliest != clock::time_point{} && earliest.time_since_epoch() <= clock::duration::zero()) {
    earliest = clock::time_point{} + clock::duration(1);
  }
  return earliest;
}

}  // namespace

}  // namespace detail

conn dialer::dial(std::string_view network, std::string_view addr) const {
  return dial_context(context::background(), network, addr);
}

conn dialer::dial_context(const context& ctx, std::string_view network, std::string_view addr) const {
  bool unix_net = detail::is_unix_network(network);
  detail::DialPlan plan{unix_net ? detail::Kind::kUnix : detail::Kind::kTcp,
                        detail::dial_deadline(*this, ctx), this, &ctx};
  detail::check_dial_limits(plan, std::string(addr));
  if (unix_net) return detail::dial_one(plan, address::unix_path(addr), plan.deadline);
  std::vector<address> addrs = resolve(network, addr);
  for (std::size_t i = 0; i < addrs.size(); i++) {
    try {
      return detail::dial_one(plan, addrs[i], detail::attempt_deadline(plan.deadline, addrs.size() - i));
    } catch (const error& e) {
      if (i + 1 == addrs.size() || e.code() == errc::canceled) throw;
    }
  }
  throw error(make_error_code(errc::no_such_host), "dial", std::string(network), std::string(addr));
}

conn dial(std::string_view network, std::string_view addr, clock::duration timeout) {
  dialer d;
  d.timeout = timeout;
  return d.dial(network, addr);
}

conn dial_context(const context& ctx, std::string_view network, std::string_view addr) {
  return dialer{}.dial_context(ctx, network, addr);
}

}  // namespace goro::net
