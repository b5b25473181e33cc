// tests/net_tools/load_client.hpp: a many-connection TCP echo client in
// plain POSIX (one thread, epoll), with no goro in it, so that it can be the
// independent peer of goro's servers: in net_test.cpp (run as a separate
// process) and in bench/net (load_client.cpp, against goro and Go alike).
//
// Two workloads:
//   open_and_echo()  opens N connections (at most `max_connecting` handshakes
//                    in flight, so the server's accept queue never overflows),
//                    does `rounds` echo round trips of `message_size` bytes
//                    on each, and returns with all of them still open: the
//                    caller holds them (idle-connection memory, the
//                    10,000-connection test) and then calls close_all().
//   throughput()     keeps one message in flight on each of C connections
//                    for a while and reports round trips per second and
//                    latency percentiles.
// Connections go round-robin to several target addresses (127.0.0.x), each
// of which has its own ephemeral port space.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace net_tools {

using Clock = std::chrono::steady_clock;

struct load_options {
  std::vector<sockaddr_in> targets;
  int connections = 1;
  int message_size = 64;
  int rounds = 1;
  int max_connecting = 256;
  int timeout_ms = 60000;
};

struct load_result {
  int open = 0;        // connections established and echoed, still open
  int failed = 0;      // connections that failed
  std::string error;   // the first failure
  double seconds = 0;  // time to open and echo everything
};

struct throughput_result {
  std::uint64_t round_trips = 0;
  double seconds = 0;
  double p50_us = 0, p99_us = 0;
  // Fairness: the fewest and the most round trips any one connection made.
  std::uint64_t min_per_conn = 0, max_per_conn = 0;
  int failed = 0;
  std::string error;
};

inline sockaddr_in loopback(int last_octet, std::uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl((127u << 24) | static_cast<std::uint32_t>(last_octet));
  return a;
}

class load_client {
 public:
  explicit load_client(load_options o) : o_(std::move(o)) {
    ep_ = ::epoll_create1(EPOLL_CLOEXEC);
    msg_.resize(static_cast<std::size_t>(o_.message_size));
    for (std::size_t i = 0; i < msg_.size(); i++) msg_[i] = static_cast<char>('a' + i % 26);
  }
  ~load_client() {
    close_all();
    if (ep_ >= 0) ::close(ep_);
  }
  load_client(const load_client&) = delete;
  load_client& operator=(const load_client&) = delete;

  load_result open_and_echo() {
    load_result r;
    auto t0 = Clock::now();
    auto deadline = t0 + std::chrono::milliseconds(o_.timeout_ms);
    conns_.reserve(static_cast<std::size_t>(o_.connections));
    int started = 0, connecting = 0, finished = 0;
    std::vector<epoll_event> evs(1024);
    while (finished < o_.connections) {
      while (started < o_.connections && connecting < o_.max_connecting) {
        if (!start(started, r)) {
          finished++;
        } else {
          connecting++;
        }
        started++;
      }
      if (Clock::now() > deadline) {
        note(r, "timed out with " + std::to_string(o_.connections - finished) + " connections unfinished");
        r.failed += o_.connections - finished;
        break;
      }
      int n = ::epoll_wait(ep_, evs.data(), static_cast<int>(evs.size()), 100);
      for (int i = 0; i < n; i++) {
        Conn& c = conns_[evs[i].data.u32];
        int before = c.state;
        step(c, evs[i].events, r);
        if (before == kConnecting && c.state != kConnecting) connecting--;
        if (c.state == kDone || c.state == kFailed) {
          finished++;
          if (c.state == kDone) r.open++;
          // Done connections stay open but leave the poll set.
          ::epoll_ctl(ep_, EPOLL_CTL_DEL, c.fd, nullptr);
          c.state = c.state == kDone ? kHeld : kDead;
        }
      }
    }
    r.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    return r;
  }

  throughput_result throughput(std::chrono::milliseconds duration) {
    throughput_result t;
    load_result r = open_and_echo();
    if (r.failed > 0) {
      t.failed = r.failed;
      t.error = r.error;
      return t;
    }
    in_open_phase_ = false;
    for (std::uint32_t i = 0; i < conns_.size(); i++) {
      Conn& c = conns_[i];
      c.state = kSending;
      c.done = 0;
      c.completed = 0;
      epoll_event ev{};
      ev.events = EPOLLIN | EPOLLOUT | EPOLLET;
      ev.data.u32 = i;
      ::epoll_ctl(ep_, EPOLL_CTL_ADD, c.fd, &ev);
      c.sent_at = Clock::now();
      pump(c);
    }
    std::vector<double> lat;
    lat.reserve(1 << 20);
    auto t0 = Clock::now(), end = t0 + duration;
    std::vector<epoll_event> evs(1024);
    while (Clock::now() < end) {
      int n = ::epoll_wait(ep_, evs.data(), static_cast<int>(evs.size()), 50);
      for (int i = 0; i < n; i++) {
        Conn& c = conns_[evs[i].data.u32];
        if (c.state == kDead) continue;
        if (!pump(c)) {
          t.failed++;
          if (t.error.empty()) t.error = std::strerror(errno);
          c.state = kDead;
          continue;
        }
        while (c.completed > 0) {
          c.completed--;
          c.total++;
          t.round_trips++;
          if (lat.size() < lat.capacity()) lat.push_back(c.last_us);
        }
      }
    }
    t.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    if (!conns_.empty()) {
      t.min_per_conn = t.max_per_conn = conns_[0].total;
      for (const Conn& c : conns_) {
        t.min_per_conn = std::min(t.min_per_conn, c.total);
        t.max_per_conn = std::max(t.max_per_conn, c.total);
      }
    }
    if (!lat.empty()) {
      std::sort(lat.begin(), lat.end());
      t.p50_us = lat[lat.size() / 2];
      t.p99_us = lat[std::min(lat.size() - 1, lat.size() * 99 / 100)];
    }
    return t;
  }

  void close_all() {
    for (Conn& c : conns_) {
      if (c.fd >= 0) ::close(c.fd);
      c.fd = -1;
    }
    conns_.clear();
  }

 private:
  enum { kConnecting, kSending, kReceiving, kDone, kFailed, kHeld, kDead };
  struct Conn {
    int fd = -1;
    int state = kConnecting;
    int round = 0;
    std::size_t done = 0;  // bytes of the current message sent or received
    Clock::time_point sent_at;
    double last_us = 0;
    int completed = 0;
    std::uint64_t total = 0;  // round trips in throughput()
  };

  void note(load_result& r, const std::string& what) {
    if (r.error.empty()) r.error = what;
  }

  bool start(int i, load_result& r) {
    const sockaddr_in& to = o_.targets[static_cast<std::size_t>(i) % o_.targets.size()];
    Conn c;
    c.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c.fd < 0) {
      note(r, std::string("socket: ") + std::strerror(errno));
      r.failed++;
      c.state = kDead;
      conns_.push_back(c);
      return false;
    }
    int one = 1;
    ::setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (::connect(c.fd, reinterpret_cast<const sockaddr*>(&to), sizeof to) != 0 && errno != EINPROGRESS) {
      note(r, std::string("connect: ") + std::strerror(errno));
      r.failed++;
      ::close(c.fd);
      c.fd = -1;
      c.state = kDead;
      conns_.push_back(c);
      return false;
    }
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLET;
    ev.data.u32 = static_cast<std::uint32_t>(conns_.size());
    ::epoll_ctl(ep_, EPOLL_CTL_ADD, c.fd, &ev);
    conns_.push_back(c);
    return true;
  }

  // Advances one connection of open_and_echo().
  void step(Conn& c, std::uint32_t events, load_result& r) {
    if (c.state == kConnecting) {
      int err = 0;
      socklen_t len = sizeof err;
      ::getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0) {
        note(r, std::string("connect: ") + std::strerror(err));
        r.failed++;
        c.state = kFailed;
        return;
      }
      if (!(events & EPOLLOUT)) return;
      c.state = o_.rounds > 0 ? kSending : kDone;
    }
    if (c.state == kSending || c.state == kReceiving) {
      if (!pump(c)) {
        note(r, std::string("echo: ") + (errno != 0 ? std::strerror(errno) : "closed by the server"));
        r.failed++;
        c.state = kFailed;
        return;
      }
      if (c.completed >= o_.rounds) c.state = kDone;
    }
  }

  // Sends and receives as far as the socket allows. False on an error or
  // an early end of file.
  bool pump(Conn& c) {
    char buf[16384];
    for (;;) {
      if (c.state == kSending) {
        ssize_t n = ::send(c.fd, msg_.data() + c.done, msg_.size() - c.done, MSG_NOSIGNAL);
        if (n < 0) return errno == EAGAIN;
        c.done += static_cast<std::size_t>(n);
        if (c.done == msg_.size()) {
          c.done = 0;
          c.state = kReceiving;
        }
        continue;
      }
      if (c.state != kReceiving) return true;
      ssize_t n = ::recv(c.fd, buf, std::min(sizeof buf, msg_.size() - c.done), 0);
      if (n < 0) return errno == EAGAIN;
      if (n == 0) {
        errno = 0;
        return false;
      }
      c.done += static_cast<std::size_t>(n);
      if (c.done == msg_.size()) {
        c.done = 0;
        c.completed++;
        auto now = Clock::now();
        c.last_us = std::chrono::duration<double, std::micro>(now - c.sent_at).count();
        c.sent_at = now;
        if (c.completed >= o_.rounds && c.state == kReceiving && in_open_phase_) {
          c.state = kDone;
          return true;
        }
        c.state = kSending;
      }
    }
  }

  load_options o_;
  int ep_ = -1;
  std::string msg_;
  std::vector<Conn> conns_;
  bool in_open_phase_ = true;  // open_and_echo(): stop after `rounds`
};

}  // namespace net_tools
