// examples/echo_server.cpp: a TCP echo server, one goroutine per connection.
//
//   echo_server [--addr :7007] [--idle-timeout 30s] [--grace 5s] [--procs N]
//               [--compact-after 1s]
//
// Shape (the reference's canonical server)
//   * An accept loop starts a goroutine per connection. Each goroutine waits
//     for input holding no buffer (read_some_pooled borrows a 4 KiB pooled
//     buffer only once data is there), echoes it and waits again; an idle
//     connection costs its goroutine's one stack page and the socket.
//   * Compact idle connections (goro/compact.hpp): a connection goroutine
//     parked longer than --compact-after (1 s; 0 turns it off) has its stack
//     page given back, its few hundred used bytes kept on the heap. That is
//     sound because nothing points into a handler's stack: its registry node
//     (which neighbours link to, and shutdown reaches the connection
//     through) is on the heap.
//   * Idle timeout: every read has a deadline `idle` ahead; a connection
//     that stays silent that long is closed (the reference's "read
//     deadlines" mitigation: its goroutine exits and its stack is reused).
//   * Graceful shutdown on SIGINT/SIGTERM: stop accepting, move every
//     connection's read deadline to now (blocked readers wake at once and
//     finish their current echo), wait for the goroutines up to `grace`,
//     then close whatever is left and exit 0.
//
// Prints "echo_server: listening on <address>" once it accepts, and a
// summary when it stops.
#include <goro/goro.hpp>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

using namespace std::chrono_literals;
namespace net = goro::net;

namespace {

struct options {
  std::string addr = ":7007";
  goro::clock::duration idle = 30s;
  goro::clock::duration grace = 5s;
  goro::clock::duration compact_after = 1s;
};

// "250ms", "5s", "2m", or plain seconds.
goro::clock::duration parse_duration(std::string_view s) {
  std::string text(s);  // strtod's end pointer points into it
  char* end = nullptr;
  double v = std::strtod(text.c_str(), &end);
  std::string_view unit(end);
  double scale = unit == "ms" ? 1e-3 : unit == "m" ? 60 : unit == "us" ? 1e-6 : 1;
  return std::chrono::duration_cast<goro::clock::duration>(std::chrono::duration<double>(v * scale));
}

[[noreturn]] void usage() {
  std::fprintf(stderr,
               "usage: echo_server [--addr :7007] [--idle-timeout 30s] [--grace 5s] [--procs N] "
               "[--compact-after 1s]\n");
  std::exit(2);
}

options parse_args(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; i++) {
    std::string_view a = argv[i];
    if (i + 1 >= argc) usage();
    std::string_view v = argv[++i];
    if (a == "--addr") {
      o.addr = v;
    } else if (a == "--idle-timeout") {
      o.idle = parse_duration(v);
    } else if (a == "--grace") {
      o.grace = parse_duration(v);
    } else if (a == "--compact-after") {
      o.compact_after = parse_duration(v);
    } else if (a == "--procs") {
      goro::set_maxprocs(std::atoi(std::string(v).c_str()));
    } else {
      usage();
    }
  }
  return o;
}

// The live connections, so shutdown can reach them. Each handler owns a
// heap node holding its connection, listed for as long as it lives (on the
// heap, not on the handler's stack, which may be compacted while it waits).
class registry {
 public:
  struct node {
    explicit node(net::conn conn) : c(std::move(conn)) {}
    net::conn c;
    node* prev = nullptr;
    node* next = nullptr;
  };

  void add(node* n) {
    goro::lock_guard lk(mu_);
    n->next = head_;
    if (head_ != nullptr) head_->prev = n;
    head_ = n;
    count_++;
  }
  void remove(node* n) {
    goro::lock_guard lk(mu_);
    if (n->prev != nullptr) n->prev->next = n->next;
    if (n->next != nullptr) n->next->prev = n->prev;
    if (head_ == n) head_ = n->next;
    count_--;
  }
  // Calls f(conn&) for every live connection, under the lock (so none of
  // them is destroyed meanwhile).
  template <typename F>
  void for_each(F&& f) {
    goro::lock_guard lk(mu_);
    for (node* n = head_; n != nullptr; n = n->next) f(n->c);
  }
  long count() {
    goro::lock_guard lk(mu_);
    return count_;
  }

 private:
  goro::mutex mu_;
  node* head_ GORO_GUARDED_BY(mu_) = nullptr;
  long count_ GORO_GUARDED_BY(mu_) = 0;
};

struct server {
  explicit server(const options& o) : opt(o) {}

  options opt;
  registry live;
  goro::wait_group handlers;
  std::atomic<long> accepted{0};
  std::atomic<long> idle_closed{0};
  std::atomic<bool> stopping{false};

  // One connection: echo until end of file, idle timeout or shutdown.
  void handle(net::conn conn) {
    auto self = std::make_unique<registry::node>(std::move(conn));
    net::conn& c = self->c;
    live.add(self.get());
    try {
      for (;;) {
        c.set_read_deadline(goro::clock::now() + opt.idle);
        // Checked after the deadline is set: a shutdown that kicked the old
        // deadline before we replaced it has set `stopping` by then (both go
        // through the connection's deadline lock).
        if (stopping.load(std::memory_order_acquire)) break;
        std::size_t n = c.read_some_pooled([&](std::span<const std::byte> b) { c.write_all(b); });
        if (n == 0) break;  // the client closed
      }
    } catch (const net::error& e) {
      // A timeout is an idle connection (or the shutdown kick); anything
      // else (reset, closed) just ends the connection.
      if (e.timeout() && !stopping.load()) idle_closed++;
    }
    live.remove(self.get());
  }

  void accept_loop(net::listener& ln) {
    for (;;) {
      net::conn c;
      try {
        c = ln.accept();
      } catch (const net::error& e) {
        if (e.code() == net::errc::closed) return;  // shutdown
        std::fprintf(stderr, "echo_server: %s\n", e.what());
        continue;
      }
      accepted++;
      handlers.add(1);
      goro::spawn_options so;  // compact_after 0: the process default, never
      if (opt.compact_after > goro::clock::duration::zero()) {
        so.compact_after = std::chrono::duration_cast<std::chrono::nanoseconds>(opt.compact_after);
      }
      goro::go(so, [this, c = std::move(c)]() mutable {
        handle(std::move(c));
        handlers.done();
      });
    }
  }

  // Stops accepting, wakes every reader, waits up to the grace period.
  void shut_down(net::listener& ln, goro::wait_group& acceptor) {
    stopping.store(true, std::memory_order_release);
    ln.close();
    acceptor.wait();
    live.for_each([](net::conn& c) { c.set_read_deadline(goro::clock::now()); });
    goro::chan<int> done(1);
    goro::go([&, done] {
      handlers.wait();
      done.send(1);
    });
    std::size_t which = goro::select(goro::on_recv(done), goro::on_recv(goro::after(opt.grace)));
    if (which == 1) {
      // Grace period over: close what is left; its readers wake and exit.
      live.for_each([](net::conn& c) {
        try {
          c.close();
        } catch (const net::error&) {
        }
      });
      done.recv();
    }
  }
};

int serve(const options& opt) {
  goro::chan<int> sig(1);
  goro::signal_notify(sig, SIGINT, SIGTERM);
  net::listen_options lo;
  lo.on_accept_error = [](const net::error& e, std::chrono::milliseconds d) {
    std::fprintf(stderr, "echo_server: %s; retrying in %lldms\n", e.what(),
                 static_cast<long long>(d.count()));
  };
  net::listener ln;
  try {
    ln = net::listen("tcp", opt.addr, lo);
  } catch (const net::error& e) {
    std::fprintf(stderr, "echo_server: %s\n", e.what());
    return 1;
  }
  std::printf("echo_server: listening on %s\n", ln.local_address().to_string().c_str());
  std::fflush(stdout);

  server s(opt);
  goro::wait_group acceptor;
  acceptor.go([&] { s.accept_loop(ln); });
  int got = sig.recv().value_or(0);
  std::printf("echo_server: %s, shutting down (%ld connections open)\n", strsignal(got), s.live.count());
  s.shut_down(ln, acceptor);
  std::printf("echo_server: served %ld connections, %ld closed idle\n", s.accepted.load(),
              s.idle_closed.load());
  std::fflush(stdout);
  goro::signal_stop(sig);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  options opt = parse_args(argc, argv);
  // Before run(): every worker thread inherits the mask, so the signals
  // reach signal_notify's signalfd and no thread is killed by them.
  goro::block_signals({SIGINT, SIGTERM});
  return goro::run([&] { return serve(opt); });
}
