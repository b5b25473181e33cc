// net/netfd.hpp: the socket state behind goro::net's handles (Go's
// internal/poll.FD and net.netFD).
//
// A NetFd is one non-blocking socket registered with the netpoller. Handles
// (conn, listener, packet_conn) point to it; operations borrow it.
//
// Lifetime: one atomic state word
//   bit 0  kClosed      close() was called: new operations fail (errc::closed)
//   bit 1  kHandleGone  the handle was destroyed
//   bit 2  kFdClaimed   someone took the job of closing the descriptor
//   bit 3  kFdDone      the descriptor is closed and deregistered
//   bits 4.. ops        operations running now (OpGuard)
// The descriptor is closed by whoever first sees kClosed with ops == 0
// (close() itself, or the last operation to finish after it), so its number
// is never reused while a call still uses it. The struct is freed by
// whoever completes the pair {kHandleGone, kFdDone} last. Nothing here
// blocks: close() wakes parked operations through poll_unblock and returns.
//
// Reads are serialised by read_mu and writes by write_mu (the netpoller
// allows one parked goroutine per direction). `read_more` is read and
// written only under read_mu.
#pragma once

#include <goro/mutex.hpp>
#include <goro/net.hpp>

#include "netpoll/netpoll.hpp"

#include <netinet/in.h>
#include <atomic>
#include <cstdint>
#include <string>

namespace goro::net::detail {

using goro::detail::PollDesc;
using goro::detail::PollMode;

enum class Kind : std::uint8_t { kTcp, kUnix, kUdp };

struct NetFd {
  static constexpr std::uint32_t kClosed = 1;
  static constexpr std::uint32_t kHandleGone = 2;
  static constexpr std::uint32_t kFdClaimed = 4;
  static constexpr std::uint32_t kFdDone = 8;
  static constexpr std::uint32_t kOp = 16;

  int sysfd = -1;
  PollDesc* pd = nullptr;
  Kind kind = Kind::kTcp;
  // The last read filled its buffer, hit end of file or failed, or the peer
  // has shut down (poll_read_hup): data (or the condition) may still be
  // there, so wait_readable must not park.
  // A fresh socket starts false (its registration reports data already
  // queued as an edge), except an accepted one, whose first request is
  // usually there already: accept sets it true.
  bool read_more = false;
  // A connection (messages show "local->remote"), not a listener or a
  // datagram socket.
  bool connected = false;
  std::atomic<std::uint32_t> state{0};
  goro::mutex read_mu;
  goro::mutex write_mu;
  // The peer of a connected IP socket, kept for error messages (after a
  // reset getpeername fails). family 0: unknown or not IP.
  sockaddr_in6 peer{};

  // Takes ownership of a non-blocking socket and registers it. Throws
  // goro::net::error (op, with `where` as the address) if the netpoller
  // refuses it; the socket is closed then.
  static NetFd* open(int sysfd, Kind kind, const char* op, const std::string& where);

  // Begins an operation: false if closed.
  bool enter() noexcept;
  // Ends one; may close the descriptor and free the struct.
  void leave() noexcept;
  // Marks closed and wakes parked operations; false if already closed.
  bool close() noexcept;
  // The handle's destructor: closes if needed and drops the handle.
  void drop_handle() noexcept;

  // "tcp", "udp", "unix".
  const char* network() const noexcept;
  // The stored peer, or getpeername's answer if none was stored.
  address remote() const;
  // "local->remote" for connections, "local" otherwise (for messages).
  std::string describe() const;

 private:
  void release_fd() noexcept;
};

// How many descriptors NetFds have closed so far (relaxed; it only ever
// grows). accept() backs off under EMFILE until it changes.
std::uint64_t fds_released() noexcept;

// Throws goro::net::error for this descriptor.
[[noreturn]] void throw_error(const NetFd* fd, const char* op, std::error_code ec);
[[noreturn]] void throw_errno(const NetFd* fd, const char* op, int err);
[[noreturn]] void throw_closed(const NetFd* fd, const char* op);
// A context's err() as the network error Go reports for it:
// context_errc::deadline_exceeded -> errc::timeout, anything else ->
// errc::canceled.
std::error_code net_error_of_context(std::error_code ctx_err) noexcept;

// An operation in progress: keeps the descriptor open. Throws errc::closed
// if it is closed (or fd is null).
class OpGuard {
 public:
  OpGuard(NetFd* fd, const char* op) : fd_(fd) {
    if (fd == nullptr || !fd->enter()) throw_closed(fd, op);
  }
  ~OpGuard() { fd_->leave(); }
  OpGuard(const OpGuard&) = delete;
  OpGuard& operator=(const OpGuard&) = delete;

 private:
  NetFd* fd_;
};

// Owns a NetFd until a handle takes it (fd = nullptr).
struct HandleGuard {
  NetFd* fd;
  ~HandleGuard() {
    if (fd != nullptr) fd->drop_handle();
  }
};

// Fails with errc::timeout / errc::closed if the direction cannot proceed.
void check_ready(NetFd* fd, PollMode mode, const char* op);
// Parks until the direction may be ready; throws on deadline or close.
void wait_ready(NetFd* fd, PollMode mode, const char* op);
// Sets a deadline on a direction from a goro::clock time (epoch: none).
void set_deadline(NetFd* fd, PollMode mode, clock::time_point t) noexcept;

// Reads/writes with the direction's mutex held by the caller.
std::size_t read_locked(NetFd* fd, std::span<std::byte> buf, const char* op);
std::optional<std::size_t> try_read_locked(NetFd* fd, std::span<std::byte> buf, const char* op);
void wait_readable_locked(NetFd* fd);
std::size_t write_locked(NetFd* fd, std::span<const std::byte> buf, const char* op);

// socket(2) with SOCK_NONBLOCK | SOCK_CLOEXEC; throws with op and where.
int new_socket(int family, int type, const char* op, const char* net, const std::string& where);
void set_int_option(NetFd* fd, int level, int name, int value, const char* what);
// TCP_NODELAY and keep-alive as Go sets them on every TCP connection.
void set_tcp_defaults(NetFd* fd, std::chrono::seconds keep_alive) noexcept;
address sock_name(int sysfd);
address peer_name(int sysfd);

}  // namespace goro::net::detail
