// tests/net_test.cpp: goro::net, goro::bufio and goro::signal_notify.
//
// Everything talks over loopback only (127.0.0.1, ::1, Unix sockets) and is
// bounded in time: every blocking step has a deadline or a watchdog.
// Tests that need another process (the 10,000-connection client, the
// EMFILE server with a low RLIMIT_NOFILE) run this same binary again with
// --gtest_filter on a DISABLED_ test and its parameters in the environment,
// so each role starts from a fresh process image (no inherited runtime).
#include <goro/blocking.hpp>
#include <goro/bufio.hpp>
#include <goro/chan.hpp>
#include <goro/goroutine.hpp>
#include <goro/net.hpp>
#include <goro/runtime.hpp>
#include <goro/select.hpp>
#include <goro/signal.hpp>
#include <goro/time.hpp>
#include <goro/timer.hpp>
#include <goro/wait_group.hpp>

#include "helpers/test_util.hpp"
#include "net_tools/load_client.hpp"
#include "net_tools/spawn.hpp"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using goro_test::run_on;
using goro_test::scaled3;
namespace net = goro::net;

namespace {

// Reads exactly n bytes as a string.
std::string read_n(net::conn& c, std::size_t n) {
  std::string s(n, '\0');
  c.read_full(std::span<char>(s));
  return s;
}

// A connected pair over loopback TCP: {client, server side}.
std::pair<net::conn, net::conn> tcp_pair(std::string_view host = "127.0.0.1:0") {
  net::listener ln = net::listen("tcp", host);
  net::conn client = net::dial("tcp", ln.local_address().to_string(), 5s);
  net::conn server = ln.accept();
  return {std::move(client), std::move(server)};
}

bool have_ipv6_loopback() {
  int s = ::socket(AF_INET6, SOCK_STREAM, 0);
  if (s < 0) return false;
  sockaddr_in6 a{};
  a.sin6_family = AF_INET6;
  a.sin6_addr = in6addr_loopback;
  bool ok = ::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(s);
  return ok;
}

// Polls `cond` (from a goroutine) until it holds or 10 s pass: figures
// that other goroutines update settle a moment after the client sees its
// answer (a buffer is given back after the echo was written).
template <typename F>
bool eventually(F&& cond) {
  auto deadline = goro::clock::now() + 10s;
  while (!cond()) {
    if (goro::clock::now() > deadline) return false;
    goro::sleep_for(1ms);
  }
  return true;
}

template <typename F>
net::error catch_net_error(F&& f) {
  try {
    f();
  } catch (const net::error& e) {
    return e;
  }
  ADD_FAILURE() << "expected a goro::net::error";
  return net::error(std::error_code(), "none", "", "");
}

}  // namespace

// ---------------------------------------------------------------------------
// Addresses and errors

TEST(NetAddress, ParsesAndFormats) {
  auto a = net::address::parse("127.0.0.1:8080");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->family(), AF_INET);
  EXPECT_EQ(a->port(), 8080);
  EXPECT_EQ(a->host(), "127.0.0.1");
  EXPECT_EQ(a->to_string(), "127.0.0.1:8080");
  EXPECT_TRUE(a->is_loopback());

  auto b = net::address::parse("[::1]:443");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->family(), AF_INET6);
  EXPECT_EQ(b->to_string(), "[::1]:443");

  auto any = net::address::parse(":80");
  ASSERT_TRUE(any);
  EXPECT_EQ(any->to_string(), "0.0.0.0:80");

  EXPECT_FALSE(net::address::parse("::1:80"));   // needs brackets
  EXPECT_FALSE(net::address::parse("1.2.3.4"));  // no port
  EXPECT_FALSE(net::address::parse("1.2.3.4:99999"));
  EXPECT_FALSE(net::address::parse("example.com:80"));  // names are resolve()'s

  net::address u = net::address::unix_path("/tmp/x.sock");
  EXPECT_EQ(u.family(), AF_UNIX);
  EXPECT_EQ(u.to_string(), "/tmp/x.sock");
  EXPECT_EQ(net::address::unix_path("@abstract").to_string(), "@abstract");
  EXPECT_THROW(net::address::unix_path(std::string(200, 'x')), std::invalid_argument);
}

TEST(NetAddress, ResolvesLocalhostAndWildcards) {
  auto v = net::resolve("tcp4", "localhost:80");
  ASSERT_FALSE(v.empty());
  EXPECT_EQ(v[0].to_string(), "127.0.0.1:80");
  EXPECT_EQ(net::resolve("tcp4", ":7")[0].to_string(), "0.0.0.0:7");
  EXPECT_EQ(net::resolve("tcp", "127.0.0.1:http")[0].port(), 80);
  EXPECT_THROW(net::resolve("tcp4", "[::1]:80"), net::error);
  EXPECT_THROW(net::resolve("bogus", "1.2.3.4:5"), std::invalid_argument);
  net::error e = catch_net_error([] { net::resolve("tcp", "no-such-host.invalid:80"); });
  EXPECT_EQ(e.code(), net::errc::no_such_host) << e.what();
}

TEST(NetError, TimeoutIsDistinguishableAndEqualsTimedOut) {
  net::error e(make_error_code(net::errc::timeout), "read", "tcp", "127.0.0.1:1->127.0.0.1:2");
  EXPECT_TRUE(e.timeout());
  EXPECT_EQ(e.code(), net::errc::timeout);
  EXPECT_EQ(e.code(), std::errc::timed_out);
  EXPECT_STREQ(e.what(), "read tcp 127.0.0.1:1->127.0.0.1:2: i/o timeout");
  net::error refused(std::error_code(ECONNREFUSED, std::system_category()), "dial", "tcp", "127.0.0.1:1");
  EXPECT_FALSE(refused.timeout());
  EXPECT_STREQ(refused.what(), "dial tcp 127.0.0.1:1: connection refused");
}

// ---------------------------------------------------------------------------
// TCP basics

TEST(NetTcp, EchoOverIpv4) {
  run_on(2, [] {
    net::listener ln = net::listen("tcp4", "127.0.0.1:0");
    EXPECT_EQ(ln.local_address().host(), "127.0.0.1");
    EXPECT_NE(ln.local_address().port(), 0);
    goro::wait_group wg;
    wg.go([&] {
      net::conn c = ln.accept();
      char buf[64];
      for (std::size_t n; (n = c.read(std::span<char>(buf))) > 0;) c.write_all(std::string_view(buf, n));
    });
    net::conn c = net::dial("tcp", ln.local_address().to_string(), 5s);
    EXPECT_EQ(c.network(), "tcp");
    EXPECT_EQ(c.remote_address(), ln.local_address());
    EXPECT_EQ(c.local_address().host(), "127.0.0.1");
    for (int i = 0; i < 100; i++) {
      std::string msg = "hello " + std::to_string(i);
      c.write_all(msg);
      EXPECT_EQ(read_n(c, msg.size()), msg);
    }
    c.close();
    wg.wait();
  });
}

TEST(NetTcp, EchoOverIpv6) {
  if (!have_ipv6_loopback()) GTEST_SKIP() << "no IPv6 loopback (::1) on this machine";
  run_on(2, [] {
    auto [client, server] = tcp_pair("[::1]:0");
    EXPECT_EQ(client.remote_address().family(), AF_INET6);
    EXPECT_EQ(server.local_address().host(), "::1");
    client.write_all("v6");
    EXPECT_EQ(read_n(server, 2), "v6");
  });
}

TEST(NetTcp, DualStackListenerAcceptsIpv4) {
  if (!have_ipv6_loopback()) GTEST_SKIP() << "no IPv6 on this machine";
  run_on(1, [] {
    net::listener ln = net::listen("tcp", ":0");
    std::string port = std::to_string(ln.local_address().port());
    net::conn c4 = net::dial("tcp4", "127.0.0.1:" + port, 5s);
    net::conn s4 = ln.accept();
    EXPECT_EQ(s4.remote_address().host(), "127.0.0.1");  // mapped address shown as IPv4
    net::conn c6 = net::dial("tcp6", "[::1]:" + port, 5s);
    net::conn s6 = ln.accept();
    EXPECT_EQ(s6.remote_address().host(), "::1");
  });
}

TEST(NetTcp, DialByNameAndDefaultsAreGoLike) {
  run_on(1, [] {
    net::listener ln = net::listen("tcp", "localhost:0");
    EXPECT_EQ(ln.local_address().host(), "127.0.0.1");  // IPv4 first, as Go
    net::conn c = net::dial("tcp", "localhost:" + std::to_string(ln.local_address().port()), 5s);
    net::conn s = ln.accept();
    int v = 0;
    socklen_t len = sizeof v;
    ASSERT_EQ(::getsockopt(c.native_handle(), IPPROTO_TCP, 1 /* TCP_NODELAY */, &v, &len), 0);
    EXPECT_EQ(v, 1);
    ASSERT_EQ(::getsockopt(s.native_handle(), SOL_SOCKET, SO_KEEPALIVE, &v, &len), 0);
    EXPECT_EQ(v, 1);
    c.set_no_delay(false);
    c.set_keep_alive(true, 30s);
  });
}

TEST(NetTcp, DialRefusedSaysWhatAndWhere) {
  run_on(1, [] {
    // A port that was just free: nobody listens there.
    std::string where;
    {
      net::listener ln = net::listen("tcp4", "127.0.0.1:0");
      where = ln.local_address().to_string();
    }
    net::error e = catch_net_error([&] { net::dial("tcp", where, 2s); });
    EXPECT_EQ(e.code(), std::errc::connection_refused);
    EXPECT_EQ(std::string(e.what()), "dial tcp " + where + ": connection refused");
    EXPECT_EQ(e.op(), "dial");
    EXPECT_EQ(e.address(), where);
  });
}

TEST(NetTcp, ListenAddressInUse) {
  run_on(1, [] {
    net::listener a = net::listen("tcp4", "127.0.0.1:0");
    std::string where = a.local_address().to_string();
    net::error e = catch_net_error([&] { net::listen("tcp4", where); });
    EXPECT_EQ(e.code(), std::errc::address_in_use);
    EXPECT_EQ(std::string(e.what()), "listen tcp " + where + ": address already in use");
    // SO_REUSEPORT lets two listeners share a port.
    net::listen_options ro;
    ro.reuse_port = true;
    net::listener r1 = net::listen("tcp4", "127.0.0.1:0", ro);
    net::listener r2 = net::listen("tcp4", r1.local_address().to_string(), ro);
    EXPECT_EQ(r1.local_address(), r2.local_address());
  });
}

TEST(NetTcp, DialTimeout) {
  run_on(1, [] {
    // A listener whose accept queue is full and never drained: further
    // handshakes go unanswered, so a dial to it (over loopback) hangs.
    net::listen_options o;
    o.backlog = 1;
    net::listener ln = net::listen("tcp4", "127.0.0.1:0", o);
    std::string where = ln.local_address().to_string();
    std::vector<net::conn> fillers;
    bool timed_out = false;
    for (int i = 0; i < 16 && !timed_out; i++) {
      auto t0 = goro::clock::now();
      try {
        fillers.push_back(net::dial("tcp", where, 300ms));
      } catch (const net::error& e) {
        ASSERT_TRUE(e.timeout()) << e.what();
        EXPECT_NE(std::string(e.what()).find("i/o timeout"), std::string::npos) << e.what();
        auto took = goro::clock::now() - t0;
        EXPECT_GE(took, 250ms);
        EXPECT_LT(took, 3s);
        timed_out = true;
      }
    }
    EXPECT_TRUE(timed_out) << "the kernel kept completing handshakes";
  });
}

TEST(NetTcp, ReadFullAndWriteAllMoveMegabytes) {
  run_on(2, [] {
    auto [client, server] = tcp_pair();
    const std::size_t kSize = scaled3(8 << 20, 2 << 20, 1 << 20);
    std::vector<std::byte> out(kSize);
    for (std::size_t i = 0; i < kSize; i++) out[i] = static_cast<std::byte>(i * 131 + 7);
    goro::wait_group wg;
    wg.go([&, &client = client] {
      client.write_all(out);
      client.shutdown_write();
    });
    std::vector<std::byte> in(kSize);
    server.read_full(in);
    EXPECT_EQ(in, out);
    char extra;
    EXPECT_EQ(server.read(std::span<char>(&extra, 1)), 0u);  // end of file
    net::error e = catch_net_error([&, &server = server] { server.read_full(std::span<char>(&extra, 1)); });
    EXPECT_EQ(e.code(), net::errc::eof);
    wg.wait();
  });
}

TEST(NetTcp, HalfCloseStillReads) {
  run_on(2, [] {
    auto [client, server] = tcp_pair();
    client.write_all("request");
    client.shutdown_write();
    // The server sees the whole request, then end of file...
    std::string got;
    char buf[16];
    for (std::size_t n; (n = server.read(std::span<char>(buf))) > 0;) got.append(buf, n);
    EXPECT_EQ(got, "request");
    // ...and can still answer on its half.
    server.write_all("response");
    server.close();
    EXPECT_EQ(read_n(client, 8), "response");
    EXPECT_EQ(client.read(std::span<char>(buf)), 0u);
  });
}

TEST(NetTcp, PeerResetIsConnectionReset) {
  run_on(2, [] {
    auto [client, server] = tcp_pair();
    client.write_all("x");
    EXPECT_EQ(read_n(server, 1), "x");
    goro::wait_group wg;
    std::error_code got;
    wg.go([&, &server = server] {
      try {
        char buf[8];
        server.read(std::span<char>(buf));
      } catch (const net::error& e) {
        got = e.code();
        EXPECT_NE(std::string(e.what()).find("connection reset by peer"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("->"), std::string::npos) << e.what();
      }
    });
    goro::sleep_for(20ms);  // let the reader park
    client.set_linger(0s);
    client.close();  // sends RST
    wg.wait();
    EXPECT_EQ(got, std::errc::connection_reset);
    // Writing to a reset connection fails too (EPIPE or ECONNRESET), and
    // never raises SIGPIPE.
    EXPECT_THROW(server.write_all("y"), net::error);
  });
}

TEST(NetTcp, WriteToClosedPeerIsBrokenPipeNotSigpipe) {
  run_on(1, [] {
    auto [client, server] = tcp_pair();
    client.close();
    std::string chunk(64 << 10, 'z');
    net::error e = catch_net_error([&, &server = server] {
      for (int i = 0; i < 1000; i++) server.write_all(chunk);
    });
    EXPECT_TRUE(e.code() == std::errc::broken_pipe || e.code() == std::errc::connection_reset) << e.what();
  });
}

// ---------------------------------------------------------------------------
// Deadlines

TEST(NetDeadline, ReadTimesOutKeepsFailingUntilMovedAndDoesNotClose) {
  run_on(2, [] {
    auto [client, server] = tcp_pair();
    char buf[16];
    auto t0 = goro::clock::now();
    server.set_read_deadline(t0 + 100ms);
    net::error e = catch_net_error([&, &server = server] { server.read(std::span<char>(buf)); });
    EXPECT_TRUE(e.timeout()) << e.what();
    EXPECT_EQ(e.code(), std::errc::timed_out);
    EXPECT_GE(goro::clock::now() - t0, 90ms);
    // Still expired: the next call fails at once, even with data waiting.
    client.write_all("data");
    goro::sleep_for(10ms);
    auto t1 = goro::clock::now();
    EXPECT_THROW(server.read(std::span<char>(buf)), net::error);
    EXPECT_LT(goro::clock::now() - t1, 50ms);
    // Moving the deadline makes the connection usable again: nothing was lost.
    server.set_read_deadline(goro::clock::time_point{});
    EXPECT_EQ(read_n(server, 4), "data");
    // Writing was never affected.
    server.write_all("ok");
    EXPECT_EQ(read_n(client, 2), "ok");
  });
}

TEST(NetDeadline, PastDeadlineFailsAtOnceAndSetDeadlineWakesABlockedReader) {
  run_on(2, [] {
    auto [client, server] = tcp_pair();
    client.write_all("waiting");
    goro::sleep_for(10ms);
    server.set_deadline(goro::clock::now() - 1s);
    char buf[16];
    EXPECT_THROW(server.read(std::span<char>(buf)), net::error);
    EXPECT_THROW(server.write_all("x"), net::error);
    server.set_deadline(goro::clock::time_point{});
    EXPECT_EQ(read_n(server, 7), "waiting");

    // A reader parked with no deadline wakes when another goroutine sets one.
    goro::wait_group wg;
    std::atomic<bool> timed_out{false};
    wg.go([&, &server = server] {
      try {
        server.read(std::span<char>(buf));
      } catch (const net::error& e) {
        timed_out = e.timeout();
      }
    });
    goro::sleep_for(30ms);
    auto t0 = goro::clock::now();
    server.set_read_deadline(goro::clock::now() + 50ms);
    wg.wait();
    EXPECT_TRUE(timed_out.load());
    EXPECT_LT(goro::clock::now() - t0, 2s);
  });
}

TEST(NetDeadline, WriteDeadlineWhenThePeerDoesNotRead) {
  run_on(2, [] {
    auto [client, server] = tcp_pair();
    client.set_write_deadline(goro::clock::now() + 200ms);
    std::string chunk(256 << 10, 'w');
    std::size_t written = 0;
    net::error e = catch_net_error([&, &client = client] {
      for (;;) written += client.write(chunk);
    });
    EXPECT_TRUE(e.timeout()) << e.what();
    EXPECT_GT(written, 0u);
  });
}

TEST(NetDeadline, WorksOnAPlainThreadToo) {
  // No runtime at all: the calls wait in poll(2).
  net::listener ln = net::listen("tcp4", "127.0.0.1:0");
  net::conn c = net::dial("tcp", ln.local_address().to_string(), 2s);
  net::conn s = ln.accept();
  s.set_read_deadline(goro::clock::now() + 50ms);
  char buf[4];
  net::error e = catch_net_error([&] { s.read(std::span<char>(buf)); });
  EXPECT_TRUE(e.timeout());
  s.set_read_deadline({});
  c.write_all("abcd");
  EXPECT_EQ(read_n(s, 4), "abcd");
}

// ---------------------------------------------------------------------------
// Closing from another goroutine

TEST(NetClose, WakesBlockedReaderWriterAndAccept) {
  run_on(2, [] {
    // Separate connections for the reader and the writer: closing one end
    // of a connection must not disturb the other test through an RST.
    auto [peer_r, server] = tcp_pair();
    auto [client, peer_w] = tcp_pair();
    net::listener ln = net::listen("tcp4", "127.0.0.1:0");
    goro::wait_group wg;
    std::atomic<int> closed_errors{0};
    auto expect_closed = [&](auto&& f) {
      try {
        f();
      } catch (const net::error& e) {
        if (e.code() == net::errc::closed) closed_errors++;
        EXPECT_NE(std::string(e.what()).find("use of closed network connection"), std::string::npos);
      }
    };
    wg.go([&, &server = server] {
      expect_closed([&] {
        char buf[8];
        server.read(std::span<char>(buf));
      });
    });
    wg.go([&, &client = client] {
      expect_closed([&] {
        std::string chunk(1 << 20, 'c');
        for (;;) client.write_all(chunk);  // the peer never reads: blocks
      });
    });
    wg.go([&] { expect_closed([&] { ln.accept(); }); });
    goro::sleep_for(100ms);
    int server_fd = server.native_handle();
    auto t0 = goro::clock::now();
    server.close();
    client.close();
    ln.close();
    wg.wait();
    EXPECT_LT(goro::clock::now() - t0, 1s);
    EXPECT_EQ(closed_errors.load(), 3);
    // Every user has returned, so the descriptor is gone...
    EXPECT_EQ(::fcntl(server_fd, F_GETFD), -1);
    // ...and using or closing the handle again says "closed".
    net::error e = catch_net_error([&, &server = server] { server.close(); });
    EXPECT_EQ(e.code(), net::errc::closed);
    EXPECT_THROW(server.write_all("x"), net::error);
  });
}

TEST(NetClose, ConcurrentReadersAreSerialisedNotFatal) {
  run_on(2, [] {
    auto [client, server] = tcp_pair();
    goro::wait_group wg;
    std::atomic<int> got{0};
    for (int i = 0; i < 4; i++) {
      wg.go([&, &server = server] {
        char b;
        if (server.read(std::span<char>(&b, 1)) == 1) got++;
      });
    }
    goro::sleep_for(20ms);
    client.write_all("abcd");
    wg.wait();
    EXPECT_EQ(got.load(), 4);
  });
}

// ---------------------------------------------------------------------------
// UDP and Unix-domain sockets

TEST(NetUdp, ReadFromWriteToAndDeadline) {
  run_on(2, [] {
    net::packet_conn a = net::listen_packet("udp4", "127.0.0.1:0");
    net::packet_conn b = net::listen_packet("udp", "127.0.0.1:0");
    EXPECT_EQ(a.write_to("ping", b.local_address()), 4u);
    char buf[64];
    net::address from;
    std::size_t n = b.read_from(std::span<char>(buf), from);
    EXPECT_EQ(std::string_view(buf, n), "ping");
    EXPECT_EQ(from, a.local_address());
    b.write_to("pong", from);
    n = a.read_from(std::span<char>(buf), from);
    EXPECT_EQ(std::string_view(buf, n), "pong");

    a.set_read_deadline(goro::clock::now() + 50ms);
    net::error e = catch_net_error([&] { a.read_from(std::span<char>(buf), from); });
    EXPECT_TRUE(e.timeout());
    // A reader blocked in read_from wakes on close.
    goro::wait_group wg;
    wg.go([&] { EXPECT_THROW(b.read_from(std::span<char>(buf), from), net::error); });
    goro::sleep_for(20ms);
    b.close();
    wg.wait();
  });
}

TEST(NetUdp, Ipv6) {
  if (!have_ipv6_loopback()) GTEST_SKIP() << "no IPv6 loopback";
  run_on(1, [] {
    net::packet_conn a = net::listen_packet("udp6", "[::1]:0");
    net::packet_conn b = net::listen_packet("udp6", "[::1]:0");
    a.write_to("six", b.local_address());
    char buf[8];
    net::address from;
    EXPECT_EQ(b.read_from(std::span<char>(buf), from), 3u);
    EXPECT_EQ(from.to_string(), a.local_address().to_string());
  });
}

TEST(NetUnix, PathAndAbstractSockets) {
  run_on(2, [] {
    std::string path =
        std::filesystem::temp_directory_path() / ("goro-net-test-" + std::to_string(::getpid()) + ".sock");
    for (const std::string& where : {path, "@goro-net-test-" + std::to_string(::getpid())}) {
      net::listener ln = net::listen("unix", where);
      EXPECT_EQ(ln.local_address().to_string(), where);
      EXPECT_EQ(ln.network(), "unix");
      goro::wait_group wg;
      wg.go([&] {
        net::conn c = ln.accept();
        c.write_all("over unix");
      });
      net::conn c = net::dial("unix", where, 1s);
      EXPECT_EQ(c.network(), "unix");
      EXPECT_EQ(read_n(c, 9), "over unix");
      wg.wait();
      ln.close();
    }
    // Closing the path listener removed its socket file.
    EXPECT_FALSE(std::filesystem::exists(path));
    net::error e = catch_net_error([&] { net::dial("unix", path, 1s); });
    EXPECT_EQ(e.code(), std::errc::no_such_file_or_directory) << e.what();
  });
}

// ---------------------------------------------------------------------------
// Buffers: idle connections hold none

TEST(NetPool, IdleConnectionsHoldNoReadBuffer) {
  run_on(2, [] {
    const int kConns = static_cast<int>(scaled3(500, 200, 100));
    net::listener ln = net::listen("tcp4", "127.0.0.1:0");
    goro::wait_group servers;
    std::atomic<int> parked{0};
    goro::go([&] {
      for (int i = 0; i < kConns; i++) {
        servers.add(1);
        goro::go([&, c = ln.accept()]() mutable {
          parked++;
          while (c.read_some_pooled([&](std::span<const std::byte> b) { c.write_all(b); }) > 0) {
          }
          servers.done();
        });
      }
    });
    std::vector<net::conn> clients;
    for (int i = 0; i < kConns; i++) clients.push_back(net::dial("tcp", ln.local_address().to_string(), 5s));
    // Every connection echoes once, then idles.
    for (auto& c : clients) {
      c.write_all("hi");
      EXPECT_EQ(read_n(c, 2), "hi");
    }
    EXPECT_TRUE(eventually([&] { return parked.load() == kConns; }));
    EXPECT_TRUE(eventually([] { return net::read_buffer_pool_stats().borrowed == 0; }))
        << "idle connections must not hold pooled buffers";
    net::buffer_pool_stats st = net::read_buffer_pool_stats();
    // Far fewer buffers than connections were ever allocated.
    EXPECT_LT(st.allocated, static_cast<std::uint64_t>(kConns) / 2);
    clients.clear();  // closes: the servers see end of file
    servers.wait();
  });
}

// ---------------------------------------------------------------------------
// bufio

namespace {

// An in-memory source that returns at most `chunk` bytes per read.
struct chunked_source {
  std::string data;
  std::size_t chunk = 3;
  std::size_t pos = 0;
  std::size_t read(std::span<std::byte> b) {
    std::size_t n = std::min({b.size(), chunk, data.size() - pos});
    std::memcpy(b.data(), data.data() + pos, n);
    pos += n;
    return n;
  }
};

struct string_sink {
  std::string out;
  int writes = 0;
  void write_all(std::span<const std::byte> b) {
    out.append(reinterpret_cast<const char*>(b.data()), b.size());
    writes++;
  }
};

}  // namespace

TEST(Bufio, LinesPeekLimitsAndEof) {
  chunked_source src{"GET / HTTP/1.1\r\nHost: x\r\n\r\nbody-bytes"};
  goro::bufio::reader r(src, 32);
  EXPECT_EQ(r.read_line().value(), "GET / HTTP/1.1");
  EXPECT_EQ(r.read_line().value(), "Host: x");
  EXPECT_EQ(r.read_line().value(), "");
  EXPECT_EQ(r.peek(4), "body");
  char buf[5];
  r.read_full(std::span<char>(buf));
  EXPECT_EQ(std::string_view(buf, 5), "body-");
  EXPECT_EQ(r.read_byte(), 'b');
  EXPECT_EQ(r.discard(100), 4u);
  EXPECT_EQ(r.read_byte(), -1);
  EXPECT_FALSE(r.read_line().has_value());

  chunked_source longline{std::string(100, 'x') + "\n"};
  goro::bufio::reader r2(longline, 32);
  net::error e = catch_net_error([&] { r2.read_line(); });
  EXPECT_EQ(e.code(), net::errc::buffer_full);
  EXPECT_THROW(r2.peek(33), net::error);

  chunked_source cut{"no newline"};
  goro::bufio::reader r3(cut, 32);
  e = catch_net_error([&] { r3.read_line(); });
  EXPECT_EQ(e.code(), net::errc::unexpected_eof);
}

TEST(Bufio, WriterBatchesAndGivesItsBufferBack) {
  string_sink sink;
  goro::bufio::writer w(sink, 16);
  w.write("hello ");
  w.write("world");
  EXPECT_EQ(sink.writes, 0);
  EXPECT_TRUE(w.holds_buffer());
  w.flush();
  EXPECT_EQ(sink.out, "hello world");
  EXPECT_EQ(sink.writes, 1);
  EXPECT_FALSE(w.holds_buffer());
  w.write(std::string(40, 'L'));  // larger than the buffer: goes straight out
  EXPECT_EQ(sink.writes, 2);
  w.write_byte('!');
  w.flush();
  EXPECT_EQ(sink.out.back(), '!');
}

TEST(Bufio, ConnReaderReleasesItsBufferWhileIdle) {
  run_on(2, [] {
    auto [client, server] = tcp_pair();
    goro::bufio::reader in(server);
    goro::bufio::writer out(server);
    goro::wait_group wg;
    wg.go([&] {
      // Pipelined lines arrive together; answers are flushed once per batch.
      while (auto line = in.read_line()) {
        out.write(*line);
        out.write("\n");
        if (in.buffered() == 0) out.flush();
      }
      out.flush();
      EXPECT_FALSE(in.holds_buffer());
      EXPECT_FALSE(out.holds_buffer());
    });
    client.write_all("one\ntwo\nthree\n");
    EXPECT_EQ(read_n(client, 14), "one\ntwo\nthree\n");
    // The server goroutine now waits for the next line holding no buffer
    // (neither the reader's nor the writer's is borrowed).
    EXPECT_TRUE(eventually([&] { return net::read_buffer_pool_stats().borrowed == 0; }));
    client.write_all("four\n");
    EXPECT_EQ(read_n(client, 5), "four\n");
    client.shutdown_write();
    wg.wait();
  });
}

// The reader waits before reading once a read drained the socket. Data and
// the peer's end of file that arrive together wake it once; the short read
// that takes the data leaves the end of file queued with no edge to come
// for it, so the reader must read again rather than wait (the read
// deadline turns a wait into a failure instead of a hang).
TEST(Bufio, ConnReaderSeesAnEndOfFileQueuedBehindData) {
  run_on(2, [] {
    for (int i = 0; i < 20; i++) {
      auto [client, server] = tcp_pair();
      server.set_read_deadline(goro::clock::now() + 10s);
      goro::bufio::reader in(server);
      std::string got;
      bool timed_out = false;
      goro::wait_group wg;
      wg.go([&] {
        try {
          while (!in.peek(1).empty()) {
            std::string_view v = in.peek(in.buffered());
            got.append(v);
            in.discard(v.size());
          }
        } catch (const net::error& e) {
          timed_out = e.timeout();
        }
      });
      goro::sleep_for(1ms);  // let the reader park first (either order must work)
      client.write_all("last words");
      client.close();
      wg.wait();
      EXPECT_FALSE(timed_out) << "round " << i;
      EXPECT_EQ(got, "last words") << "round " << i;
    }
  });
}

// ---------------------------------------------------------------------------
// Signals

TEST(NetSignal, NotifyDeliversABlockedSignalThroughSignalfd) {
  goro::block_signals({SIGUSR1});  // before run: every worker inherits it
  run_on(2, [] {
    goro::chan<int> sig(1);
    goro::signal_notify(sig, SIGUSR1);
    ::kill(::getpid(), SIGUSR1);
    auto got = goro::select(goro::on_recv(sig, [](std::optional<int> s) { EXPECT_EQ(s, SIGUSR1); }),
                            goro::on_recv(goro::after(5s)));
    EXPECT_EQ(got, 0u);
    goro::signal_stop(sig);
  });
}

TEST(NetSignal, NotifyInsideRunWithoutPriorBlockStillDelivers) {
  run_on(2, [] {
    goro::chan<int> sig(4);
    goro::signal_notify(sig, SIGUSR2, SIGWINCH);
    for (int i = 0; i < 3; i++) {
      ::kill(::getpid(), SIGUSR2);
      auto got = goro::select(goro::on_recv(sig, [](std::optional<int> s) { EXPECT_EQ(s, SIGUSR2); }),
                              goro::on_recv(goro::after(5s)));
      EXPECT_EQ(got, 0u);
    }
    goro::signal_stop(sig);
  });
}

TEST(NetSignal, WaitingOnlyForASignalIsNotADeadlock) {
  goro::block_signals({SIGUSR1});
  std::thread sender([] {
    std::this_thread::sleep_for(300ms);
    ::kill(::getpid(), SIGUSR1);
  });
  run_on(1, [] {
    goro::chan<int> sig(1);
    goro::signal_notify(sig, SIGUSR1);
    EXPECT_EQ(sig.recv(), SIGUSR1);  // nothing else runs meanwhile
    goro::signal_stop(sig);
  });
  sender.join();
}

TEST(NetSignal, RejectsSignalsGoroNeeds) {
  goro::chan<int> sig(1);
  EXPECT_THROW(goro::signal_notify(sig, SIGSEGV), std::invalid_argument);
  EXPECT_THROW(goro::signal_notify(sig, SIGKILL), std::invalid_argument);
  EXPECT_THROW(goro::signal_notify(sig, {}), std::invalid_argument);
}

// ---------------------------------------------------------------------------
// Many connections, with the client in its own process

namespace {

// Serves echo on ln until it is closed; counts connections alive now and at
// most. Each connection's goroutine idles in read_some_pooled.
struct echo_service {
  std::atomic<int> alive{0};
  std::atomic<int> peak{0};
  goro::wait_group conns;

  void serve(net::listener& ln) {
    for (;;) {
      net::conn c;
      try {
        c = ln.accept();
      } catch (const net::error& e) {
        if (e.code() == net::errc::closed) return;
        throw;
      }
      conns.add(1);
      goro::go([this, c = std::move(c)]() mutable {
        int now = ++alive;
        for (int p = peak.load(); now > p && !peak.compare_exchange_weak(p, now);) {
        }
        try {
          while (c.read_some_pooled([&](std::span<const std::byte> b) { c.write_all(b); }) > 0) {
          }
        } catch (const net::error&) {
          // reset by the client: fine
        }
        --alive;
        conns.done();
      });
    }
  }
};

// Runs every path the EMFILE child will take (a connection accepted,
// echoed and closed; an error built, thrown and caught) once while
// descriptors are plentiful. UBSan checks a polymorphic object's type
// against a cache and, on a miss, probes the vtable's memory through a
// pipe; out of descriptors the probe fails and it reports a bogus "invalid
// vptr". Warm, every later check hits the cache.
void warm_up(net::listener& ln) {
  net::conn c = net::dial("tcp", ln.local_address().to_string(), 5s);
  c.set_deadline(goro::clock::now() + 10s);
  c.write_all("warm");
  EXPECT_EQ(read_n(c, 4), "warm");
  bool timed_out = false;
  try {
    c.set_read_deadline(goro::clock::now() - 1s);
    std::byte b[1];
    c.read(b);
  } catch (const net::error& e) {
    timed_out = e.timeout();
  }
  EXPECT_TRUE(timed_out);
  c.close();
}

}  // namespace

// The child: opens GORO_NET_CONNS connections to 127.0.0.1:GORO_NET_PORT,
// echoes once on each, reports "open N failed F", waits for the parent's
// "close", closes them all and reports "closed".
TEST(NetChild, DISABLED_LoadClient) {
  net_tools::raise_nofile_limit();
  net_tools::load_options o;
  int targets = static_cast<int>(net_tools::env_long("GORO_NET_TARGETS", 1));
  for (int i = 1; i <= targets; i++) {
    o.targets.push_back(
        net_tools::loopback(i, static_cast<std::uint16_t>(net_tools::env_long("GORO_NET_PORT", 0))));
  }
  o.connections = static_cast<int>(net_tools::env_long("GORO_NET_CONNS", 100));
  o.message_size = 32;
  o.timeout_ms = 120000;
  net_tools::load_client client(o);
  net_tools::load_result r = client.open_and_echo();
  net_tools::report("open " + std::to_string(r.open) + " failed " + std::to_string(r.failed) + " seconds " +
                    std::to_string(r.seconds) + " error " + r.error);
  net_tools::control_line();  // "close", or end of file
  client.close_all();
  net_tools::report("closed");
}

TEST(NetScale, TenThousandConcurrentConnections) {
  // TSan keeps at most ~8,000 goroutines (fibers) alive; ASan is slow.
  const int kConns = static_cast<int>(scaled3(10000, 3000, 2000));
  long limit = net_tools::raise_nofile_limit();
  if (limit < kConns + 200)
    GTEST_SKIP() << "RLIMIT_NOFILE hard limit " << limit << " is below " << kConns + 200;
  run_on(2, [&] {
    net::listener ln = net::listen("tcp4", "0.0.0.0:0");
    echo_service svc;
    goro::wait_group acceptor;
    acceptor.go([&] { svc.serve(ln); });
    net_tools::child_process client;
    bool started = goro::blocking([&] {
      return client.start_self("NetChild.DISABLED_LoadClient",
                               {"GORO_NET_PORT=" + std::to_string(ln.local_address().port()),
                                "GORO_NET_CONNS=" + std::to_string(kConns), "GORO_NET_TARGETS=4"});
    });
    ASSERT_TRUE(started) << std::strerror(errno);
    auto line = goro::blocking([&] { return client.expect("open ", 150s); });
    ASSERT_TRUE(line) << "the client did not report";
    EXPECT_EQ(line->rfind("open " + std::to_string(kConns) + " failed 0", 0), 0u) << *line;
    // All of them are open at once, each with its parked goroutine.
    EXPECT_TRUE(eventually([&] { return svc.alive.load() == kConns; })) << svc.alive.load();
    EXPECT_TRUE(eventually([] { return net::read_buffer_pool_stats().borrowed == 0; }))
        << net::read_buffer_pool_stats().borrowed;
    std::printf("[ info ] %d connections: goroutines %lld, %s\n", kConns,
                static_cast<long long>(goro::num_goroutine()), line->c_str());
    client.send("close");
    EXPECT_TRUE(goro::blocking([&] { return client.expect("closed", 60s); }));
    auto status = goro::blocking([&] { return client.wait(30s); });
    ASSERT_TRUE(status);
    EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0);
    // Every server goroutine sees end of file and exits.
    auto deadline = goro::clock::now() + 30s;
    while (svc.alive.load() > 0 && goro::clock::now() < deadline) goro::sleep_for(10ms);
    EXPECT_EQ(svc.alive.load(), 0);
    ln.close();
    acceptor.wait();
    svc.conns.wait();
  });
}

// ---------------------------------------------------------------------------
// Accept under descriptor exhaustion

// The child: an echo server with RLIMIT_NOFILE = GORO_NET_NOFILE. Reports
// "port P", then "backoff <ms>" for each accept backoff; exits 0 on SIGTERM
// after reporting "served N".
TEST(NetChild, DISABLED_EmfileServer) {
  rlimit rl{};
  ::getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = static_cast<rlim_t>(net_tools::env_long("GORO_NET_NOFILE", 64));
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &rl), 0);
  goro::block_signals({SIGTERM});
  int code = run_on(2, [] {
    goro::chan<int> sig(1);
    goro::signal_notify(sig, SIGTERM);
    net::listen_options o;
    if (net_tools::env_long("GORO_NET_LOG_BACKOFF", 1) != 0) {
      o.on_accept_error = [](const net::error& e, std::chrono::milliseconds d) {
        net_tools::report("backoff " + std::to_string(d.count()) + " " + e.what());
      };
    }
    net::listener ln = net::listen("tcp4", "127.0.0.1:0", o);
    echo_service svc;
    goro::wait_group acceptor;
    acceptor.go([&] { svc.serve(ln); });
    warm_up(ln);
    net_tools::report("port " + std::to_string(ln.local_address().port()));
    sig.recv();
    net_tools::report("served " + std::to_string(svc.peak.load()) + " backoffs " +
                      std::to_string(ln.accept_backoffs()));
    ln.close();
    acceptor.wait();
    svc.conns.wait();  // the parent closed every client before signalling
    return 0;
  });
  std::exit(code);  // skip gtest's teardown chatter; the status is the result
}

TEST(NetAccept, BacksOffUnderEmfileAndKeepsServing) {
  const int kLimit = 64;
  const int kClients = 100;  // more than the child can hold at once
  std::vector<std::string> env{"GORO_NET_NOFILE=" + std::to_string(kLimit)};
  // UBSan checks every object construction with a memory probe that needs
  // a pipe; with no descriptor left the probe fails and it aborts with a
  // bogus "invalid vptr". So under sanitizers the child does not build
  // error objects while it is out of descriptors (no on_accept_error), and
  // the backoffs are checked through its final count only.
  const bool log_backoffs = !goro_test::kSanitizer;
  env.push_back(std::string("GORO_NET_LOG_BACKOFF=") + (log_backoffs ? "1" : "0"));
  net_tools::child_process server;
  ASSERT_TRUE(server.start_self("NetChild.DISABLED_EmfileServer", env));
  auto port_line = server.expect("port ", 30s);
  ASSERT_TRUE(port_line);
  std::string where = "127.0.0.1:" + port_line->substr(5);
  run_on(2, [&] {
    // Connect everyone (the kernel completes the handshakes into the accept
    // queue) and send one message each; only some can be accepted now.
    std::vector<net::conn> clients;
    for (int i = 0; i < kClients; i++) {
      clients.push_back(net::dial("tcp", where, 5s));
      clients.back().write_all("ping");
    }
    // One budget for the whole test, so that a server that stopped
    // accepting fails it within a minute instead of 20 s per client.
    const auto give_up = goro::clock::now() + 60s;
    auto answered = [&](net::conn& c, std::chrono::milliseconds within) {
      c.set_read_deadline(std::min(goro::clock::now() + within, give_up));
      try {
        return read_n(c, 4) == "ping";
      } catch (const net::error&) {
        return false;
      }
    };
    // The first connections are served while the server is out of descriptors.
    const std::size_t kEarly = 20;
    int served = 0;
    for (std::size_t i = 0; i < kEarly; i++) {
      EXPECT_TRUE(answered(clients[i], 10s)) << i;
      served++;
    }
    if (log_backoffs) {
      auto backoff = goro::blocking([&] { return server.expect("backoff ", 10s); });
      ASSERT_TRUE(backoff) << "accept never backed off";
      EXPECT_NE(backoff->find("accept tcp 127.0.0.1:"), std::string::npos) << *backoff;
      EXPECT_NE(backoff->find("too many open files"), std::string::npos) << *backoff;
    }
    // Free descriptors by closing the served connections in batches; the
    // server recovers and serves the ones that waited in the queue.
    for (std::size_t i = 0; i < clients.size(); i++) {
      if (i < kEarly) {
        clients[i].close();
        continue;
      }
      if (answered(clients[i], 20s)) {
        served++;
      } else {
        ADD_FAILURE() << "connection " << i << " was never served";
      }
      clients[i].close();
    }
    EXPECT_EQ(served, kClients);
  });
  server.signal(SIGTERM);
  auto summary = server.expect("served ", 20s);
  ASSERT_TRUE(summary);
  EXPECT_EQ(summary->find("backoffs 0"), std::string::npos) << "accept never backed off: " << *summary;
  auto status = server.wait(20s);
  ASSERT_TRUE(status);
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << *status;
  std::printf("[ info ] %s\n", summary->c_str());
}
