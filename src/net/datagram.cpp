// net/datagram.cpp: UDP sockets (goro::net::packet_conn, listen_packet()).
//
// Same shape as the stream calls: OpGuard, the direction's mutex, try the
// system call, park on EAGAIN. A datagram is sent whole or not at all, so
// write_to has no partial-write loop.
#include "net/netfd.hpp"

#include <goro/net.hpp>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cerrno>
#include <mutex>
#include <stdexcept>

namespace goro::net {

using detail::NetFd;
using detail::OpGuard;
using detail::PollMode;

packet_conn& packet_conn::operator=(packet_conn&& o) noexcept {
  if (this != &o) {
    if (fd_ != nullptr) fd_->drop_handle();
    fd_ = std::exchange(o.fd_, nullptr);
  }
  return *this;
}

packet_conn::~packet_conn() {
  if (fd_ != nullptr) fd_->drop_handle();
}

std::size_t packet_conn::read_from(std::span<std::byte> buf, address& from) {
  OpGuard op(fd_, "read");
  goro::lock_guard lk(fd_->read_mu);
  detail::check_ready(fd_, PollMode::kRead, "read");
  for (;;) {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    ssize_t n = ::recvfrom(fd_->sysfd, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&ss), &len);
    if (n >= 0) {
      from = address::from_sockaddr(reinterpret_cast<const sockaddr*>(&ss), len);
      return static_cast<std::size_t>(n);
    }
    int err = errno;
    if (err == EINTR) continue;
    if (err != EAGAIN) detail::throw_errno(fd_, "read", err);
    detail::wait_ready(fd_, PollMode::kRead, "read");
  }
}

std::size_t packet_conn::write_to(std::span<const std::byte> buf, const address& to) {
  OpGuard op(fd_, "write");
  goro::lock_guard lk(fd_->write_mu);
  detail::check_ready(fd_, PollMode::kWrite, "write");
  for (;;) {
    ssize_t n = ::sendto(fd_->sysfd, buf.data(), buf.size(), MSG_NOSIGNAL, to.data(),
                         static_cast<socklen_t>(to.size()));
    if (n >= 0) return static_cast<std::size_t>(n);
    int err = errno;
    if (err == EINTR) continue;
    if (err != EAGAIN) {
      throw error(std::error_code(err, std::system_category()), "write", "udp",
                  detail::sock_name(fd_->sysfd).to_string() + "->" + to.to_string());
    }
    detail::wait_ready(fd_, PollMode::kWrite, "write");
  }
}

void packet_conn::close() {
  if (fd_ == nullptr || !fd_->close()) detail::throw_closed(fd_, "close");
}

address packet_conn::local_address() const {
  OpGuard op(fd_, "getsockname");
  return detail::sock_name(fd_->sysfd);
}

void packet_conn::set_deadline(clock::time_point t) {
  OpGuard op(fd_, "set");
  detail::set_deadline(fd_, PollMode::kRead, t);
  detail::set_deadline(fd_, PollMode::kWrite, t);
}

void packet_conn::set_read_deadline(clock::time_point t) {
  OpGuard op(fd_, "set");
  detail::set_deadline(fd_, PollMode::kRead, t);
}

void packet_conn::set_write_deadline(clock::time_point t) {
  OpGuard op(fd_, "set");
  detail::set_deadline(fd_, PollMode::kWrite, t);
}

int packet_conn::native_handle() const noexcept {
  return fd_ != nullptr ? fd_->sysfd : -1;
}

packet_conn listen_packet(std::string_view network, std::string_view addr) {
  if (network != "udp" && network != "udp4" && network != "udp6") {
    throw std::invalid_argument("goro::net::listen_packet: unknown network \"" + std::string(network) + "\"");
  }
  std::vector<address> addrs = resolve(network, addr);
  const address& a = addrs.front();
  std::string where = a.to_string();
  int s = detail::new_socket(a.family(), SOCK_DGRAM, "listen", "udp", where);
  int v6only = network == "udp6" ? 1 : 0;
  if ((a.family() == AF_INET6 && ::setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only) != 0) ||
      ::bind(s, a.data(), static_cast<socklen_t>(a.size())) != 0) {
    int err = errno;
    ::close(s);
    throw error(std::error_code(err, std::system_category()), "listen", "udp", where);
  }
  return packet_conn(NetFd::open(s, detail::Kind::kUdp, "listen", where));
}

}  // namespace goro::net
