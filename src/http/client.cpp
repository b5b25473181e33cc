// src/http/client.cpp: goro::http::transport and client.
//
// Invariants
//   * Per host, `total` counts the connections dialing, in use and idle; it
//     is decremented exactly once per connection, when it is closed for
//     good (release_broken, an eviction, the idle timer, a failed dial).
//   * A connection is in at most one place: an idle list (owned by the
//     pool) or a request/response in flight (owned by it).
//   * Each connection has one idle timer, armed lazily: pooling a
//     connection only notes the time (and arms the timer if it is not
//     armed); when the timer fires it closes the connection if it has been
//     idle for idle_conn_timeout, re-arms for the rest if it is idle but
//     for less, and disarms if the connection is in use. A busy connection
//     thus costs no timer operation per request.
//   * The client's own timeout, when nothing else can end the call, is a
//     deadline on the connection (set before the pooled connection is
//     probed, so an expired deadline from an earlier request never makes a
//     healthy idle connection look dead); other contexts are watched by a
//     goroutine that closes the connection when they end.
//   * A request's phase (active, finished, cancelled) is decided once by a
//     compare-and-swap, so a context cancelled just as the response ends
//     never closes a connection that went back to the pool.
//   * No goroutine parks inside a catch block: handlers record the error
//     and act after the catch (the C++ runtime keeps the caught exception in
//     per-thread state; the goroutine may resume on another thread).
#include <goro/bufio.hpp>
#include <goro/goroutine.hpp>
#include <goro/http/client.hpp>
#include <goro/mutex.hpp>
#include <goro/net.hpp>
#include <goro/select.hpp>
#include <goro/timer.hpp>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <map>
#include <mutex>

namespace goro::http {

namespace {

client_error bad_url(std::string_view s, const char* why) {
  return client_error(std::make_error_code(std::errc::invalid_argument),
                      "http: bad URL \"" + std::string(s) + "\": " + why);
}

bool istarts_with(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

enum phase : int { kActive = 0, kFinished = 1, kCancelled = 2 };

}  // namespace

url url::parse(std::string_view s) {
  if (istarts_with(s, "https://")) throw bad_url(s, "https is not supported (goro::http has no TLS)");
  if (!istarts_with(s, "http://")) throw bad_url(s, "not an absolute http:// URL");
  url u;
  u.scheme = "http";
  std::string_view rest = s.substr(7);
  std::size_t end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, end);
  rest = end == std::string_view::npos ? std::string_view() : rest.substr(end);
  if (authority.empty()) throw bad_url(s, "no host");
  if (authority.find('@') != std::string_view::npos) throw bad_url(s, "user information is not supported");
  std::string_view port;
  if (authority.front() == '[') {
    std::size_t close = authority.find(']');
    if (close == std::string_view::npos) throw bad_url(s, "unclosed IPv6 literal");
    u.hostname.assign(authority.substr(0, close + 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty() && after.front() != ':') throw bad_url(s, "junk after the IPv6 literal");
    if (!after.empty()) port = after.substr(1);
  } else {
    std::size_t colon = authority.find(':');
    u.hostname.assign(authority.substr(0, colon));
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
  }
  if (u.hostname.empty()) throw bad_url(s, "no host");
  for (char c : port) {
    if (c < '0' || c > '9') throw bad_url(s, "bad port");
  }
  if (port.size() > 5) throw bad_url(s, "bad port");
  u.host = u.hostname + ":" + (port.empty() ? std::string("80") : std::string(port));
  rest = rest.substr(0, rest.find('#'));
  for (char c : rest) {
    unsigned char b = static_cast<unsigned char>(c);
    if (b <= 0x20 || b >= 0x7f)
      throw bad_url(s, "space, control or non-ASCII byte in the path (percent-encode it)");
  }
  u.target = rest.empty() || rest.front() != '/' ? "/" + std::string(rest) : std::string(rest);
  return u;
}

url url::resolve(std::string_view location) const {
  if (istarts_with(location, "http://") || istarts_with(location, "https://")) return parse(location);
  if (location.starts_with("//")) return parse(scheme + ":" + std::string(location));
  url u = *this;
  if (location.starts_with("/")) {
    u.target.assign(location);
  } else {
    std::string_view path = std::string_view(target).substr(0, target.find('?'));
    u.target = std::string(path.substr(0, path.rfind('/') + 1)) + std::string(location);
  }
  u.target = u.target.substr(0, u.target.find('#'));
  return u;
}

// A pooled connection.
struct pconn {
  pconn(net::conn conn, std::string k, const parser_limits& l)
      : c(std::move(conn)), in(c), out(c), p(parser::side::response, l), key(std::move(k)) {}
  net::conn c;
  bufio::reader in;
  bufio::writer out;
  parser p;
  std::string key;                 // "host:port"
  bool reused = false;             // served an earlier request
  clock::time_point deadline{};    // the deadline set on c (zero: none); by the owner
  std::uint64_t idle_gen = 0;      // guarded by transport::state::mu
  bool idle = false;               // in an idle list; guarded by transport::state::mu
  clock::time_point idle_since{};  // guarded by transport::state::mu
  bool timer_armed = false;        // guarded by transport::state::mu
  timer idle_timer;                // guarded by transport::state::mu

  // A pending after_func timer outlives its handle: stop it, so that no
  // timer (and its closure's weak references, which keep this allocation)
  // outlives the connection.
  ~pconn() { idle_timer.stop(); }
  pconn(const pconn&) = delete;
  pconn& operator=(const pconn&) = delete;

  // Sets the read and write deadlines to d unless they already are.
  void set_deadline(clock::time_point d) {
    if (d == deadline) return;
    c.set_deadline(d);
    deadline = d;
  }
};

struct pool_limits {
  std::size_t max_idle = 100, max_idle_per_host = 2, max_per_host = 0;
  clock::duration idle_timeout{};
  bool no_keep_alive = false;
};

struct transport::state : std::enable_shared_from_this<transport::state> {
  struct host_pool {
    std::vector<std::shared_ptr<pconn>> idle;  // oldest first
    std::size_t total = 0;
    std::size_t waiters = 0;
    chan<int> freed{64};  // a token per release while someone waits
  };
  goro::mutex mu;
  std::map<std::string, host_pool, std::less<>> hosts GORO_GUARDED_BY(mu);
  std::size_t idle_total GORO_GUARDED_BY(mu) = 0;
  pool_limits limits GORO_GUARDED_BY(mu);
  std::atomic<std::int64_t> dials{0}, reused{0}, idle_closed{0};

  // Called with mu held: one connection of `hp` is gone or idle again.
  static void notify(host_pool& hp) {
    if (hp.waiters > 0) hp.freed.try_send(1);
  }

  // Closes a connection that will not be reused.
  void release_broken(const std::shared_ptr<pconn>& pc) {
    {
      goro::lock_guard lk(mu);
      host_pool& hp = hosts[pc->key];
      hp.total--;
      notify(hp);
    }
    close_quietly(*pc);
  }

  static void close_quietly(pconn& pc) {
    try {
      pc.c.close();
    } catch (const net::error&) {
    }
  }

  // Pools a connection whose response was read to the end.
  void put_idle(const std::shared_ptr<pconn>& pc) {
    std::shared_ptr<pconn> evicted, rejected;
    {
      goro::lock_guard lk(mu);
      host_pool& hp = hosts[pc->key];
      if (limits.no_keep_alive || hp.idle.size() >= limits.max_idle_per_host) {
        hp.total--;
        rejected = pc;
      } else {
        pc->reused = true;
        hp.idle.push_back(pc);
        idle_total++;
        mark_idle_locked(pc);
        if (limits.max_idle != 0 && idle_total > limits.max_idle) evicted = evict_oldest_locked();
      }
      notify(hp);
    }
    if (rejected) close_quietly(*rejected);
    if (evicted) close_quietly(*evicted);
  }

  // With mu held: takes the longest-idle connection of all hosts out.
  std::shared_ptr<pconn> evict_oldest_locked() GORO_REQUIRES(mu) {
    host_pool* from = nullptr;
    for (auto& [key, hp] : hosts) {
      if (!hp.idle.empty() && (from == nullptr || hp.idle.front()->idle_gen < from->idle.front()->idle_gen)) {
        from = &hp;
      }
    }
    if (from == nullptr) return nullptr;
    std::shared_ptr<pconn> pc = from->idle.front();
    from->idle.erase(from->idle.begin());
    idle_total--;
    from->total--;
    disarm_locked(*pc);
    return pc;
  }

  // With mu held: pc has just joined an idle list.
  void mark_idle_locked(const std::shared_ptr<pconn>& pc) GORO_REQUIRES(mu) {
    static std::atomic<std::uint64_t> generations{0};
    pc->idle_gen = ++generations;  // orders eviction: smaller is older
    pc->idle = true;
    if (limits.idle_timeout <= clock::duration::zero()) return;
    pc->idle_since = clock::now();
    if (pc->timer_armed) return;  // it fires, finds pc idle for less, re-arms
    pc->timer_armed = true;
    if (pc->idle_timer) {
      pc->idle_timer.reset(limits.idle_timeout);
      return;
    }
    std::weak_ptr<state> weak_st = weak_from_this();
    std::weak_ptr<pconn> weak_pc = pc;
    pc->idle_timer = after_func(limits.idle_timeout, [weak_st, weak_pc] {
      std::shared_ptr<state> st = weak_st.lock();
      std::shared_ptr<pconn> c = weak_pc.lock();
      if (st && c) st->idle_timer_fired(c);
    });
  }

  // With mu held: pc left its idle list for good or for a request.
  static void disarm_locked(pconn& pc) {
    pc.idle = false;
    if (pc.timer_armed) pc.idle_timer.stop();
    pc.timer_armed = false;
  }

  void idle_timer_fired(const std::shared_ptr<pconn>& pc) {
    {
      goro::lock_guard lk(mu);
      if (!pc->timer_armed) return;  // stopped after this run had begun
      if (!pc->idle) {
        pc->timer_armed = false;  // in use: pooling it again re-arms
        return;
      }
      clock::time_point due = pc->idle_since + limits.idle_timeout;
      clock::time_point now = clock::now();
      if (now < due) {
        pc->idle_timer.reset(due - now);
        return;
      }
      auto it = hosts.find(pc->key);
      if (it == hosts.end()) return;
      auto& idle = it->second.idle;
      auto i = std::find(idle.begin(), idle.end(), pc);
      if (i == idle.end()) return;
      idle.erase(i);
      idle_total--;
      it->second.total--;
      pc->idle = false;
      pc->timer_armed = false;
      notify(it->second);
    }
    idle_closed++;
    close_quietly(*pc);
  }

  // Takes an idle connection whose server has not closed it, or nullptr;
  // its deadline is `deadline` from then on.
  std::shared_ptr<pconn> take_idle_locked(host_pool& hp, std::vector<std::shared_ptr<pconn>>& dead,
                                          clock::time_point deadline) GORO_REQUIRES(mu) {
    while (!hp.idle.empty()) {
      std::shared_ptr<pconn> pc = std::move(hp.idle.back());
      hp.idle.pop_back();
      idle_total--;
      pc->idle = false;  // its timer, if armed, finds it in use and disarms
      pc->set_deadline(deadline);
      // A pooled connection must be silent: data or end of file means
      // the server closed it (or broke the protocol).
      std::optional<std::size_t> got;
      std::byte probe[1];
      bool failed = pc->in.buffered() > 0;
      if (!failed) {
        try {
          got = pc->c.try_read(probe);
        } catch (const net::error&) {
          failed = true;
        }
      }
      if (failed || got.has_value()) {
        hp.total--;
        dead.push_back(std::move(pc));
        continue;
      }
      return pc;
    }
    return nullptr;
  }

  // A connection for u, its deadline set to `deadline` (zero: none).
  std::shared_ptr<pconn> get_conn(const url& u, const context& ctx, clock::time_point deadline,
                                  clock::duration connect_timeout, const parser_limits& plimits) {
    for (;;) {
      std::vector<std::shared_ptr<pconn>> dead;
      std::shared_ptr<pconn> pc;
      bool dial = false;
      chan<int> freed;
      {
        goro::lock_guard lk(mu);
        host_pool& hp = hosts[u.host];
        pc = take_idle_locked(hp, dead, deadline);
        if (pc == nullptr) {
          if (limits.max_per_host == 0 || hp.total < limits.max_per_host) {
            hp.total++;
            dial = true;
          } else {
            hp.waiters++;
            freed = hp.freed;
          }
        }
      }
      for (auto& d : dead) close_quietly(*d);
      if (pc != nullptr) {
        reused++;
        return pc;
      }
      if (dial) {
        pc = dial_conn(u, deadline, connect_timeout, plimits);
        pc->set_deadline(deadline);
        return pc;
      }
      // The wait ends with a released connection, the context, or the
      // deadline (a timer only in this rare case).
      timer expiry;
      chan<clock::time_point> expired = chan<clock::time_point>::nil();
      if (deadline != clock::time_point{}) {
        expiry = timer(deadline - clock::now());
        expired = expiry.c();
      }
      std::size_t got = select(on_recv(freed), on_recv(ctx.done()), on_recv(expired));
      {
        goro::lock_guard lk(mu);
        hosts[u.host].waiters--;
      }
      if (got == 1)
        throw client_error(ctx.err(),
                           "http: waiting for a connection to " + u.host + ": " + ctx.err().message());
      if (got == 2)
        throw client_error(make_error_code(context_errc::deadline_exceeded),
                           "http: waiting for a connection to " + u.host + ": client timeout exceeded");
    }
  }

  std::shared_ptr<pconn> dial_conn(const url& u, clock::time_point deadline, clock::duration timeout,
                                   const parser_limits& plimits) {
    net::conn c;
    std::error_code ec;
    std::string what;
    if (deadline != clock::time_point{}) timeout = std::min(timeout, deadline - clock::now());
    try {
      c = net::dial("tcp", u.host, timeout);
    } catch (const net::error& e) {
      ec = e.code();
      what = e.what();
    }
    if (ec && ec == std::errc::timed_out && deadline != clock::time_point{} && clock::now() >= deadline) {
      ec = make_error_code(context_errc::deadline_exceeded);
      what = "dial " + u.host + ": client timeout exceeded";
    }
    if (ec) {
      {
        goro::lock_guard lk(mu);
        host_pool& hp = hosts[u.host];
        hp.total--;
        notify(hp);
      }
      throw client_error(ec, "http: " + what);
    }
    dials++;
    return std::make_shared<pconn>(std::move(c), u.host, plimits);
  }
};

// What a response needs to stream its body and give its connection back.
struct response::body_state {
  std::shared_ptr<transport::state> st;
  std::shared_ptr<pconn> pc;
  std::shared_ptr<std::atomic<int>> phase;  // shared with the context watcher
  chan<int> stop_watch = chan<int>::nil();  // closed to end the watcher
  bool watched = false;                     // a watcher goroutine runs
  context ctx;
  cancel_func cancel;  // the client's timeout context, released at the end
  bool done = false;
  bool keep = false;             // both sides allow reuse
  std::string what;              // "GET http://..." for errors
  clock::time_point deadline{};  // the client's timeout, on the connection (zero: none)

  // The body ended: pool the connection if possible.
  void finish() {
    done = true;
    int expected = kActive;
    bool ours = phase->compare_exchange_strong(expected, kFinished);
    if (ours && keep && pc->p.keep_alive()) {
      st->put_idle(pc);
    } else {
      st->release_broken(pc);
    }
    pc.reset();
    end();
  }
  void abandon() noexcept {
    if (done) return;
    done = true;
    int expected = kActive;
    phase->compare_exchange_strong(expected, kFinished);
    if (pc) st->release_broken(pc);
    pc.reset();
    end();
  }
  void end() noexcept {
    if (watched) stop_watch.close();
    watched = false;
    cancel();
  }
};

response::response() = default;
response::~response() {
  close();
}
response::response(response&&) noexcept = default;
response& response::operator=(response&& o) noexcept {
  if (this != &o) {
    close();
    status = o.status;
    reason = std::move(o.reason);
    proto_minor = o.proto_minor;
    headers = std::move(o.headers);
    trailers = std::move(o.trailers);
    content_length = o.content_length;
    url = std::move(o.url);
    body_ = std::move(o.body_);
  }
  return *this;
}

void response::close() noexcept {
  if (body_) body_->abandon();
}

std::size_t response::read(std::span<char> buf) {
  if (!body_ || body_->done || buf.empty()) return 0;
  body_state& b = *body_;
  pconn& pc = *b.pc;
  std::error_code ec;
  std::string why;
  std::size_t n = 0;
  try {
    while (n == 0 && pc.p.current_state() == parser::state::body) {
      if (pc.in.buffered() == 0 && pc.in.peek(1).empty()) {
        pc.p.finish();
        break;
      }
      std::string_view avail = pc.in.peek(std::min(pc.in.buffered(), buf.size()));
      parser::body_piece piece = pc.p.parse_body(avail);
      if (!piece.data.empty()) std::memcpy(buf.data(), piece.data.data(), piece.data.size());
      pc.in.discard(piece.consumed);
      n = piece.data.size();
    }
  } catch (const net::error& e) {
    ec = e.code();
    why = e.what();
  }
  if (!ec && pc.p.failed()) {
    ec = pc.p.error();
    why = pc.p.error_message();
  }
  if (ec) {
    if (b.phase->load() == kCancelled) ec = b.ctx.err();
    if (ec == std::errc::timed_out && b.deadline != clock::time_point{} && clock::now() >= b.deadline) {
      ec = make_error_code(context_errc::deadline_exceeded);
      why = "client timeout exceeded";
    }
    b.abandon();
    throw client_error(ec, "http: " + b.what + ": reading the body: " + why);
  }
  if (pc.p.current_state() == parser::state::complete) {
    for (const auto& f : pc.p.trailers().fields()) trailers.add(f.name, f.value);
    b.finish();
  }
  return n;
}

std::string response::read_all() {
  std::string out;
  char buf[8192];
  while (std::size_t n = read(buf)) out.append(buf, n);
  return out;
}

transport::transport() : st_(std::make_shared<state>()) {}

transport::~transport() {
  close_idle_connections();
}

void transport::close_idle_connections() {
  std::vector<std::shared_ptr<pconn>> all;
  {
    goro::lock_guard lk(st_->mu);
    for (auto& [key, hp] : st_->hosts) {
      for (auto& pc : hp.idle) {
        state::disarm_locked(*pc);
        all.push_back(std::move(pc));
        hp.total--;
      }
      hp.idle.clear();
      state::notify(hp);
    }
    st_->idle_total = 0;
  }
  for (auto& pc : all) state::close_quietly(*pc);
}

transport_stats transport::stats() const noexcept {
  transport_stats s;
  s.dials = st_->dials.load();
  s.reused = st_->reused.load();
  s.idle_closed = st_->idle_closed.load();
  goro::lock_guard lk(st_->mu);
  s.idle = static_cast<std::int64_t>(st_->idle_total);
  return s;
}

namespace {

// Writes the request head (and a string body) to the connection's writer.
void write_head(bufio::writer& out, const client_request& req, const url& u, bool keep_alive, bool has_body) {
  out.write(req.method);
  out.write(" ");
  out.write(u.target);
  out.write(" HTTP/1.1\r\nHost: ");
  out.write(u.host.ends_with(":80") ? std::string_view(u.hostname) : std::string_view(u.host));
  out.write("\r\n");
  bool agent = false;
  for (const header_field& f : req.headers.fields()) {
    if (iequals(f.name, "Host") || iequals(f.name, "Content-Length") ||
        iequals(f.name, "Transfer-Encoding") || (iequals(f.name, "Connection") && !keep_alive)) {
      continue;
    }
    if (f.value.find_first_of("\r\n") != std::string::npos ||
        f.name.find_first_of("\r\n: ") != std::string::npos) {
      throw client_error(std::make_error_code(std::errc::invalid_argument),
                         "http: invalid header field \"" + f.name + "\"");
    }
    agent |= iequals(f.name, "User-Agent");
    out.write(f.name);
    out.write(": ");
    out.write(f.value);
    out.write("\r\n");
  }
  if (!agent) out.write("User-Agent: goro-http\r\n");
  if (req.body_stream) {
    out.write("Transfer-Encoding: chunked\r\n");
  } else if (has_body) {
    out.write("Content-Length: " + std::to_string(req.body.size()) + "\r\n");
  }
  if (!keep_alive) out.write("Connection: close\r\n");
  out.write("\r\n");
}

void write_body(bufio::writer& out, const client_request& req) {
  if (!req.body_stream) {
    out.write(req.body);
    return;
  }
  char buf[8192];
  char size[24];
  while (std::size_t n = req.body_stream(buf)) {
    int len = std::snprintf(size, sizeof size, "%zx\r\n", n);
    out.write(std::string_view(size, static_cast<std::size_t>(len)));
    out.write(std::string_view(buf, n));
    out.write("\r\n");
  }
  out.write("0\r\n\r\n");
}

// Reads a response head into pc.p, skipping interim 1xx responses; returns
// false if the connection ended before any byte of a response.
bool read_head(pconn& pc, std::string_view method) {
  for (;;) {
    pc.p.reset(method);
    while (pc.p.current_state() == parser::state::head) {
      if (pc.in.peek(1).empty()) {
        pc.p.finish();
        return pc.p.failed();
      }
      std::string_view avail = pc.in.peek(pc.in.buffered());
      pc.in.discard(pc.p.parse_head(avail));
    }
    if (pc.p.failed() || pc.p.status() / 100 != 1 || pc.p.status() == 101) return true;
  }
}

}  // namespace

response transport::round_trip(const client_request& req, const context& ctx) {
  return round_trip_until(req, ctx, clock::time_point{});
}

response transport::round_trip_until(const client_request& req, const context& ctx,
                                     clock::time_point deadline) {
  url u = url::parse(req.url);
  {
    goro::lock_guard lk(st_->mu);
    st_->limits = {max_idle_conns, max_idle_conns_per_host, max_conns_per_host, idle_conn_timeout,
                   disable_keep_alives};
  }
  const std::string what = req.method + " " + req.url;
  const bool has_body = req.body_stream || !req.body.empty() || req.method == "POST" || req.method == "PUT" ||
                        req.method == "PATCH";
  const bool replayable = !req.body_stream;
  const bool expect = has_body && iequals(req.headers.get("Expect"), "100-continue");
  const bool cancellable = !(ctx == context::background());
  if (cancellable && ctx.err()) throw client_error(ctx.err(), "http: " + what + ": " + ctx.err().message());
  const bool timed = deadline != clock::time_point{};
  auto past_deadline = [&] { return timed && clock::now() >= deadline; };
  auto timeout_error = [&] {
    return client_error(make_error_code(context_errc::deadline_exceeded),
                        "http: " + what + ": client timeout exceeded");
  };
  if (past_deadline()) throw timeout_error();
  // A temporary read deadline, no later than the call's.
  auto read_deadline_in = [&](clock::duration d) {
    clock::time_point t = clock::now() + d;
    return timed && deadline < t ? deadline : t;
  };

  for (int attempt = 0;; attempt++) {
    std::shared_ptr<pconn> pc = st_->get_conn(u, ctx, deadline, dial_timeout, response_limits);
    auto phase = std::make_shared<std::atomic<int>>(kActive);
    chan<int> stop = chan<int>::nil();
    if (cancellable) {
      stop = chan<int>(std::size_t{1});
      go([ctx, stop, phase, pc] {
        if (select(on_recv(ctx.done()), on_recv(stop)) != 0) return;
        int expected = kActive;
        if (phase->compare_exchange_strong(expected, kCancelled)) transport::state::close_quietly(*pc);
      });
    }
    std::error_code ec;
    std::string why;
    bool answered = false;  // some response bytes arrived
    bool send_body = has_body;
    try {
      write_head(pc->out, req, u, !disable_keep_alives, has_body);
      if (expect) {
        pc->out.flush();
        // Wait up to expect_continue_timeout for "100 Continue" (or a final
        // answer that makes the body unnecessary).
        pc->c.set_read_deadline(read_deadline_in(expect_continue_timeout));
        bool timed_out = false;
        try {
          pc->in.peek(1);
        } catch (const net::error& e) {
          if (!e.timeout() || past_deadline()) throw;
          timed_out = true;
        }
        pc->c.set_read_deadline(deadline);
        if (!timed_out) {
          pc->p.reset(req.method);
          std::string_view avail = pc->in.peek(pc->in.buffered());
          // Only a complete "100 Continue" head is consumed here; anything
          // else is left for read_head.
          if (avail.starts_with("HTTP/1.1 100") || avail.starts_with("HTTP/1.0 100")) {
            std::size_t end = avail.find("\r\n\r\n");
            if (end != std::string_view::npos) pc->in.discard(end + 4);
          } else {
            send_body = false;
          }
        }
      }
      if (send_body) write_body(pc->out, req);
      pc->out.flush();
      const bool head_timeout = response_header_timeout > clock::duration::zero();
      if (head_timeout) pc->c.set_read_deadline(read_deadline_in(response_header_timeout));
      answered = read_head(*pc, req.method);
      if (head_timeout) pc->c.set_read_deadline(deadline);
    } catch (const net::error& e) {
      ec = e.code();
      why = e.what();
      answered = pc->p.consumed() > 0;
    } catch (const client_error& e) {
      ec = e.code();
      why = e.what();
      answered = true;
    }
    if (!ec && !answered) {
      ec = net::errc::eof;
      why = "server closed the connection before answering";
    }
    if (!ec && pc->p.failed()) {
      ec = pc->p.error();
      why = "malformed response: " + pc->p.error_message();
    }
    if (ec) {
      bool cancelled = phase->load() == kCancelled;
      int expected = kActive;
      phase->compare_exchange_strong(expected, kFinished);
      if (cancellable) stop.close();
      bool was_reused = pc->reused;
      st_->release_broken(pc);
      if (cancelled) throw client_error(ctx.err(), "http: " + what + ": " + ctx.err().message());
      if (ec == std::errc::timed_out && past_deadline()) throw timeout_error();
      if (ec == std::errc::timed_out) ec = std::make_error_code(std::errc::timed_out);
      // The server may close an idle connection just as it is reused.
      if (was_reused && !answered && replayable && attempt == 0) continue;
      std::string msg = "http: " + what;
      msg.append(": ").append(why);
      throw client_error(ec, std::move(msg));
    }

    response r;
    parser& p = pc->p;
    r.status = p.status();
    r.reason.assign(p.reason());
    r.proto_minor = p.version_minor();
    for (const auto& f : p.headers().fields()) r.headers.add(f.name, f.value);
    switch (p.body_framing()) {
      case parser::framing::none:
        r.content_length = 0;
        break;
      case parser::framing::length:
        r.content_length = static_cast<std::int64_t>(p.content_length());
        break;
      default:
        r.content_length = -1;
        break;
    }
    r.url = u.to_string();
    r.body_ = std::make_unique<response::body_state>();
    response::body_state& b = *r.body_;
    b.st = st_;
    b.pc = pc;
    b.phase = phase;
    b.stop_watch = stop;
    b.watched = cancellable;
    b.ctx = ctx;
    b.keep = !disable_keep_alives && send_body == has_body;
    b.what = what;
    b.deadline = deadline;
    if (p.current_state() == parser::state::complete) b.finish();
    return r;
  }
}

namespace {
std::shared_ptr<transport> default_transport() {
  // Never destroyed: pooled connections may outlive main's runtime, as Go's
  // DefaultTransport lives as long as the process.
  static auto* t = new std::shared_ptr<transport>(std::make_shared<transport>());
  return *t;
}
}  // namespace

client::client() : transport_ptr(default_transport()) {}

response client::do_request(client_request req, const context& ctx) {
  context c = ctx;
  cancel_func cancel;
  clock::time_point deadline{};
  if (timeout > clock::duration::zero()) {
    if (ctx == context::background()) {
      // Only the timeout can end this call: a deadline on the connection
      // enforces it without a context, timer and watcher per request.
      deadline = clock::now() + timeout;
    } else {
      std::tie(c, cancel) = with_timeout(ctx, timeout);
    }
  }
  std::vector<std::string> via;
  // The timeout runs until the body is read: the response releases it.
  auto hand_over = [&](response& r) {
    if (r.body_ && !r.body_->done) {
      r.body_->cancel = cancel;
    } else {
      cancel();
    }
  };
  for (;;) {
    response r = transport_ptr->round_trip_until(req, c, deadline);
    bool redirect =
        r.status == 301 || r.status == 302 || r.status == 303 || r.status == 307 || r.status == 308;
    std::string_view location = r.headers.get("Location");
    if (!redirect || location.empty()) {
      hand_over(r);
      return r;
    }
    client_request next;
    url here = url::parse(req.url);
    next.url = here.resolve(location).to_string();
    next.headers = req.headers;
    if (r.status == 303 || ((r.status == 301 || r.status == 302) && req.method == "POST")) {
      next.method = req.method == "HEAD" ? "HEAD" : "GET";
      next.headers.del("Content-Type");
    } else {
      if (req.body_stream) {  // a streamed body cannot be sent again
        hand_over(r);
        return r;
      }
      next.method = req.method;
      next.body = req.body;
    }
    via.push_back(req.url);
    bool follow = check_redirect ? check_redirect(next, via) : via.size() < 10;
    if (!follow) {
      if (check_redirect) {
        hand_over(r);
        return r;
      }
      cancel();
      throw client_error(std::make_error_code(std::errc::too_many_links),
                         "http: " + next.url + ": stopped after 10 redirects");
    }
    // A short redirect body is read so the connection can be reused.
    if (r.content_length >= 0 && r.content_length <= 2048) r.read_all();
    r.close();
    req = std::move(next);
  }
}

response client::get(std::string_view u, const context& ctx) {
  client_request r;
  r.url.assign(u);
  return do_request(std::move(r), ctx);
}

response client::post(std::string_view u, std::string_view content_type, std::string body,
                      const context& ctx) {
  client_request r;
  r.method = "POST";
  r.url.assign(u);
  r.headers.set("Content-Type", content_type);
  r.body = std::move(body);
  return do_request(std::move(r), ctx);
}

}  // namespace goro::http
