// tests/dial_test.cpp: goro::net::dialer, dial_context, listen_config, Go's
// address errors, and expired limits failing at once across the library
// (dial timeouts and deadlines, connection deadlines, context timeouts,
// timers, sleep).
//
// A dial that hangs is made against a loopback listener whose accept queue
// is full and never drained: the kernel drops further SYNs, so the client
// keeps retransmitting (for about two minutes) unless something stops it.
// Filling the queue takes a handful of descriptors.
#include <goro/chan.hpp>
#include <goro/context.hpp>
#include <goro/goroutine.hpp>
#include <goro/net.hpp>
#include <goro/runtime.hpp>
#include <goro/select.hpp>
#include <goro/time.hpp>
#include <goro/timer.hpp>

#include "helpers/test_util.hpp"

#include <gtest/gtest.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <string>
#include <vector>

using namespace std::chrono_literals;
using goro_test::run_on;
namespace net = goro::net;

namespace {

// A listener that answers no more handshakes, and the connections that
// filled its queue (kept open so it stays full).
struct FullListener {
  net::listener ln;
  std::vector<net::conn> fillers;
  std::string where;
};

FullListener full_listener() {
  FullListener f;
  net::listen_config cfg;
  cfg.backlog = 1;
  f.ln = cfg.listen("tcp4", "127.0.0.1:0");
  f.where = f.ln.local_address().to_string();
  for (int i = 0; i < 32; i++) {
    try {
      f.fillers.push_back(net::dial("tcp", f.where, 200ms));
    } catch (const net::error& e) {
      EXPECT_TRUE(e.timeout()) << e.what();
      return f;
    }
  }
  ADD_FAILURE() << "the kernel kept completing handshakes";
  return f;
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

int int_option(const net::conn& c, int level, int name) {
  int v = -1;
  socklen_t len = sizeof v;
  EXPECT_EQ(::getsockopt(c.native_handle(), level, name, &v, &len), 0);
  return v;
}

}  // namespace

// ---------------------------------------------------------------------------
// Address errors, with Go's texts (compared with Go 1.23's net.Dial output).

TEST(NetAddressError, SplitHostPortSaysWhatIsWrongAsGoDoes) {
  struct Case {
    const char* in;
    net::errc code;
    const char* what;
  };
  const Case cases[] = {
      {"127.0.0.1", net::errc::missing_port, "address 127.0.0.1: missing port in address"},
      {"::1:80", net::errc::too_many_colons, "address ::1:80: too many colons in address"},
      {"[::1]", net::errc::missing_port, "address [::1]: missing port in address"},
      {"[::1:80", net::errc::missing_bracket, "address [::1:80: missing ']' in address"},
      {"a]:80", net::errc::unexpected_close_bracket, "address a]:80: unexpected ']' in address"},
      {"a[:80", net::errc::unexpected_open_bracket, "address a[:80: unexpected '[' in address"},
      {"[a]b:80", net::errc::missing_port, "address [a]b:80: missing port in address"},
      {"[::1]:80:", net::errc::too_many_colons, "address [::1]:80:: too many colons in address"},
      // Go prints the reason alone for an empty address; goro keeps the op.
      {"", net::errc::missing_port, "address: missing port in address"},
  };
  for (const Case& c : cases) {
    net::error e = catch_net_error([&] { net::split_host_port(c.in); });
    EXPECT_EQ(e.code(), c.code) << c.in;
    EXPECT_EQ(e.code(), std::errc::invalid_argument) << c.in;
    EXPECT_EQ(e.op(), "address");
    EXPECT_STREQ(e.what(), c.what);
  }
  auto [host, port] = net::split_host_port("[fe80::1%eth0]:443");
  EXPECT_EQ(host, "fe80::1%eth0");
  EXPECT_EQ(port, "443");
  auto [h2, p2] = net::split_host_port(":80");
  EXPECT_EQ(h2, "");
  EXPECT_EQ(p2, "80");
}

TEST(NetAddressError, DialAndListenReportThem) {
  run_on(1, [] {
    net::error e = catch_net_error([] { net::dial("tcp", "127.0.0.1"); });
    EXPECT_EQ(e.code(), net::errc::missing_port);
    EXPECT_STREQ(e.what(), "address 127.0.0.1: missing port in address");
    e = catch_net_error([] { net::listen("tcp", "::1:0"); });
    EXPECT_EQ(e.code(), net::errc::too_many_colons) << e.what();
    EXPECT_FALSE(net::address::parse("[::1]").has_value());
  });
}

// ---------------------------------------------------------------------------
// Expired limits fail at once.

TEST(NetDialer, ExpiredTimeoutOrDeadlineFailsAtOnce) {
  run_on(1, [] {
    FullListener full = full_listener();
    auto expect_quick_timeout = [&](const char* what, auto&& dial_fn) {
      auto t0 = goro::clock::now();
      net::error e = catch_net_error(dial_fn);
      auto took = goro::clock::now() - t0;
      EXPECT_EQ(e.code(), net::errc::timeout) << what << ": " << e.what();
      EXPECT_TRUE(e.timeout()) << what;
      EXPECT_EQ(std::string(e.what()), "dial tcp " + full.where + ": i/o timeout") << what;
      // Against this listener a dial with no limit hangs for minutes.
      EXPECT_LT(took, 1s) << what;
      if (timing_checks()) {
        EXPECT_LT(took, 20ms) << what;
      }
    };
    expect_quick_timeout("negative timeout", [&] { net::dial("tcp", full.where, -5ms); });
    expect_quick_timeout("1 ns timeout", [&] { net::dial("tcp", full.where, 1ns); });
    net::dialer past;
    past.deadline = goro::clock::now() - 1s;
    expect_quick_timeout("past deadline", [&] { past.dial("tcp", full.where); });
    net::dialer epoch;
    epoch.deadline = goro::clock::time_point{} + 1ns;
    expect_quick_timeout("deadline at the clock's epoch", [&] { epoch.dial("tcp", full.where); });
    auto [ctx, cancel] = goro::with_timeout(goro::context::background(), -1ms);
    expect_quick_timeout("expired context", [&, c = ctx] { net::dial_context(c, "tcp", full.where); });
    cancel();
  });
}

TEST(NetDialer, CancelledContextFailsAtOnceWithGosText) {
  run_on(1, [] {
    FullListener full = full_listener();
    auto [ctx, cancel] = goro::with_cancel(goro::context::background());
    cancel();
    net::error e = catch_net_error([&, c = ctx] { net::dial_context(c, "tcp", full.where); });
    EXPECT_EQ(e.code(), net::errc::canceled);
    EXPECT_EQ(e.code(), std::errc::operation_canceled);
    EXPECT_FALSE(e.timeout());
    EXPECT_STREQ(e.what(), ("dial tcp " + full.where + ": operation was canceled").c_str());
    net::error le = catch_net_error([&, c = ctx] { net::listen_config{}.listen(c, "tcp", "127.0.0.1:0"); });
    EXPECT_EQ(le.code(), net::errc::canceled);
  });
}

TEST(NetDeadline, EveryExpiredLimitInTheLibraryFailsAtOnce) {
  run_on(2, [] {
    auto t0 = goro::clock::now();
    // Connection deadlines in the past (including before the clock's epoch).
    net::listener ln = net::listen("tcp", "127.0.0.1:0");
    net::conn c = net::dial("tcp", ln.local_address().to_string(), 5s);
    net::conn s = ln.accept();
    for (goro::clock::time_point t : {goro::clock::now() - 1ms, goro::clock::time_point::min()}) {
      c.set_read_deadline(t);
      char b[1];
      EXPECT_TRUE(catch_net_error([&] { c.read(std::span<char>(b)); }).timeout());
    }
    ln.set_deadline(goro::clock::now() - 1s);
    EXPECT_TRUE(catch_net_error([&] { ln.accept(); }).timeout());
    // Context timeouts: negative and zero expire at creation.
    for (goro::clock::duration d : {goro::clock::duration(-1s), goro::clock::duration::zero()}) {
      auto [ctx, cancel] = goro::with_timeout(goro::context::background(), d);
      EXPECT_EQ(ctx.err(), goro::context_errc::deadline_exceeded);
      std::optional<std::monostate> got;
      EXPECT_EQ(ctx.done().try_recv(got), goro::chan_status::closed);
      cancel();
    }
    // Timers and sleep.
    EXPECT_TRUE(goro::after(-1s).recv().has_value());
    goro::timer t(-5ms);
    EXPECT_TRUE(t.c().recv().has_value());
    goro::sleep_for(-1h);
    goro::sleep_until(goro::clock::now() - 1h);
    auto took = goro::clock::now() - t0;
    EXPECT_LT(took, 2s);
    if (timing_checks()) {
      EXPECT_LT(took, 50ms);
    }
  });
}

// ---------------------------------------------------------------------------
// Cancellation and deadlines while the handshake is in flight.

TEST(NetDialer, DialContextCancelledMidConnect) {
  run_on(2, [] {
    FullListener full = full_listener();
    auto [ctx, cancel] = goro::with_cancel(goro::context::background());
    goro::chan<net::error> result(1);
    goro::chan<int> started(1);
    goro::go([c = ctx, where = full.where, result, started] {
      started.send(1);
      try {
        net::dial_context(c, "tcp", where);
        result.send(net::error(std::error_code(), "none", "", ""));
      } catch (const net::error& e) {
        result.send(e);
      }
    });
    started.recv();
    goro::sleep_for(100ms);  // let the dial park in its handshake
    EXPECT_TRUE(result.try_recv() == std::nullopt) << "the dial did not hang";
    auto t0 = goro::clock::now();
    cancel();
    std::optional<net::error> e;
    goro::select(goro::on_recv(result, [&](std::optional<net::error> r) { e = std::move(r); }),
                 goro::on_recv(goro::after(30s)));
    ASSERT_TRUE(e.has_value()) << "dial_context did not return after cancel";
    auto took = goro::clock::now() - t0;
    EXPECT_EQ(e->code(), net::errc::canceled) << e->what();
    EXPECT_STREQ(e->what(), ("dial tcp " + full.where + ": operation was canceled").c_str());
    EXPECT_LT(took, 5s);
    if (timing_checks()) {
      EXPECT_LT(took, 50ms);
    }
  });
}

TEST(NetDialer, ContextDeadlineMidConnectIsATimeout) {
  run_on(1, [] {
    FullListener full = full_listener();
    auto [ctx, cancel] = goro::with_timeout(goro::context::background(), 150ms);
    auto t0 = goro::clock::now();
    net::error e = catch_net_error([&, c = ctx] { net::dial_context(c, "tcp", full.where); });
    auto took = goro::clock::now() - t0;
    EXPECT_EQ(e.code(), net::errc::timeout) << e.what();
    EXPECT_GE(took, 140ms);
    EXPECT_LT(took, 5s);
    cancel();
    // The earliest limit wins: the dialer's timeout before the context's.
    auto [long_ctx, cancel_long] = goro::with_timeout(goro::context::background(), 60s);
    net::dialer d;
    d.timeout = 100ms;
    t0 = goro::clock::now();
    e = catch_net_error([&, c = long_ctx] { d.dial_context(c, "tcp", full.where); });
    EXPECT_EQ(e.code(), net::errc::timeout) << e.what();
    EXPECT_LT(goro::clock::now() - t0, 5s);
    cancel_long();
  });
}

TEST(NetDialer, ConnectionMadeBeforeCancelIsKept) {
  run_on(2, [] {
    net::listener ln = net::listen("tcp4", "127.0.0.1:0");
    auto [ctx, cancel] = goro::with_cancel(goro::context::background());
    net::conn c = net::dial_context(ctx, "tcp", ln.local_address().to_string());
    cancel();
    net::conn s = ln.accept();
    c.write_all("ping");
    char buf[4];
    s.read_full(std::span<char>(buf));
    EXPECT_EQ(std::string(buf, 4), "ping");
  });
}

// ---------------------------------------------------------------------------
// Dialer and listen_config options.

TEST(NetDialer, LocalAddressAndKeepAlive) {
  run_on(1, [] {
    net::listen_config cfg;
    cfg.keep_alive = 0s;  // accepted connections without keep-alive
    net::listener ln = cfg.listen("tcp4", "127.0.0.1:0");
    net::dialer d;
    d.local_address = *net::address::parse("127.0.0.2:0");
    d.keep_alive = 42s;
    net::conn c = d.dial("tcp", ln.local_address().to_string());
    net::conn s = ln.accept();
    EXPECT_EQ(c.local_address().host(), "127.0.0.2");
    EXPECT_EQ(s.remote_address(), c.local_address());
    EXPECT_EQ(int_option(c, SOL_SOCKET, SO_KEEPALIVE), 1);
    EXPECT_EQ(int_option(c, IPPROTO_TCP, TCP_KEEPIDLE), 42);
    EXPECT_EQ(int_option(c, IPPROTO_TCP, TCP_NODELAY), 1);
    EXPECT_EQ(int_option(s, SOL_SOCKET, SO_KEEPALIVE), 0);

    net::dialer off;
    off.keep_alive = -1s;
    net::conn c2 = off.dial("tcp", ln.local_address().to_string());
    EXPECT_EQ(int_option(c2, SOL_SOCKET, SO_KEEPALIVE), 0);
    net::conn s2 = ln.accept();

    // A local address that cannot be bound says so, naming the target.
    net::dialer bad;
    bad.local_address = *net::address::parse("192.0.2.1:0");  // not on this host
    net::error e = catch_net_error([&] { bad.dial("tcp", ln.local_address().to_string()); });
    EXPECT_EQ(e.code(), std::errc::address_not_available) << e.what();
    EXPECT_EQ(e.address(), ln.local_address().to_string());
  });
}
