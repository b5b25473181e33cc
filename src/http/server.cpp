// src/http/server.cpp: goro::http::server, one goroutine per connection.
//
// Invariants
//   * A connection's goroutine is the only one that reads or writes its
//     connection; other goroutines (shutdown, close) only set deadlines on it
//     or close it, through its node in the server's list.
//   * Before the goroutine waits for input it flushes what it has written,
//     so a response is never held back by a wait for the next request; while
//     more requests are already buffered (pipelining) responses accumulate
//     and go out in one write.
//   * The goroutine never parks inside a catch block (the C++ runtime keeps
//     the caught exception in per-thread state and the goroutine may resume
//     on another thread): handlers' failures are recorded in the catch and
//     answered after it.
//   * Stack compaction is allowed only while the goroutine waits for the
//     next request; nothing points into its stack from elsewhere then (its
//     node and connection are on the heap).
#include <goro/bufio.hpp>
#include <goro/compact.hpp>
#include <goro/goroutine.hpp>
#include <goro/http/server.hpp>
#include <goro/mutex.hpp>
#include <goro/select.hpp>
#include <goro/timer.hpp>
#include <goro/wait_group.hpp>

#include <charconv>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <mutex>
#include <stdexcept>

using namespace std::chrono_literals;

namespace goro::http {

namespace {

// Buffered response bodies up to this size get a Content-Length.
constexpr std::size_t kBufferedBody = 4096;
// Unread request body bytes discarded after a handler to keep the
// connection (Go's maxPostHandlerReadBytes); past it, the connection closes.
constexpr std::uint64_t kMaxDrain = 256 << 10;
// Lingering close: how long unread input is discarded after a half-close.
constexpr auto kLinger = 500ms;

clock::time_point deadline_after(clock::duration d) {
  return d > clock::duration::zero() ? clock::now() + d : clock::time_point{};
}

// The Date header value, formatted at most once a second per thread and
// copied out at once (the goroutine may move to another thread later).
void http_date(char (&out)[40]) {
  thread_local std::time_t last = 0;
  thread_local char cached[40];
  std::time_t now = std::time(nullptr);
  if (now != last) {
    std::tm t{};
    gmtime_r(&now, &t);
    std::strftime(cached, sizeof cached, "%a, %d %b %Y %H:%M:%S GMT", &t);
    last = now;
  }
  std::memcpy(out, cached, sizeof out);
}

// v in decimal, in buf.
std::string_view decimal(char (&buf)[24], std::int64_t v) {
  char* end = std::to_chars(buf, buf + sizeof buf, v).ptr;  // 24 bytes always suffice
  return {buf, static_cast<std::size_t>(end - buf)};
}

bool bodyless_status(int status) {
  return status / 100 == 1 || status == 204 || status == 304;
}

bool valid_field(const header_field& f) {
  if (f.name.empty()) return false;
  for (char c : f.name) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f || c == ':') return false;
  }
  for (char c : f.value) {
    if (c == '\r' || c == '\n' || c == '\0') return false;
  }
  return true;
}

}  // namespace

std::string body_reader::read_all() {
  std::string out;
  char buf[4096];
  while (std::size_t n = read(buf)) out.append(buf, n);
  return out;
}

// A connection and its place in the server's list, on the heap.
struct conn_node {
  explicit conn_node(net::conn conn) : c(std::move(conn)), accepted_at(clock::now()) {}
  net::conn c;
  const clock::time_point accepted_at;
  // Waiting between requests: shutdown closes it at once.
  std::atomic<bool> idle{false};
  // Waiting for its first request: shutdown lets it come, for a while
  // (Go's StateNew, closed by Shutdown once 5 s old).
  std::atomic<bool> fresh{true};
  conn_node* prev = nullptr;  // guarded by server::state::mu
  conn_node* next = nullptr;  // guarded by server::state::mu
};

struct server::state {
  goro::mutex mu;
  conn_node* conns GORO_GUARDED_BY(mu) = nullptr;
  std::vector<net::listener*> listeners GORO_GUARDED_BY(mu);
  std::atomic<bool> stopping{false};
  std::atomic<std::int64_t> accepted{0}, open{0}, idle{0}, requests{0};
  goro::wait_group connections;  // connection goroutines
  goro::wait_group serving;      // serve() loops
  context ctx;                   // cancelled by close() and a shutdown that gives up
  cancel_func cancel;

  state() { std::tie(ctx, cancel) = with_cancel(context::background()); }

  void link(conn_node* n) {
    goro::lock_guard lk(mu);
    n->next = conns;
    if (conns != nullptr) conns->prev = n;
    conns = n;
  }
  void unlink(conn_node* n) {
    goro::lock_guard lk(mu);
    if (n->prev != nullptr) n->prev->next = n->next;
    if (n->next != nullptr) n->next->prev = n->prev;
    if (conns == n) conns = n->next;
  }
  template <typename F>
  void for_each(F&& f) {
    goro::lock_guard lk(mu);
    for (conn_node* n = conns; n != nullptr; n = n->next) f(*n);
  }
  void close_listeners() {
    goro::lock_guard lk(mu);
    for (net::listener* ln : listeners) {
      try {
        ln->close();
      } catch (const net::error&) {  // already closed
      }
    }
  }
  void close_connections() {
    for_each([](conn_node& n) {
      try {
        n.c.close();
      } catch (const net::error&) {
      }
    });
  }
};

namespace {

// Allows compacting the calling goroutine's stack for as long as it lives.
struct compaction_allowed {
  compaction_allowed() { goro::this_goroutine::allow_compaction(true); }
  ~compaction_allowed() { goro::this_goroutine::allow_compaction(false); }
  compaction_allowed(const compaction_allowed&) = delete;
  compaction_allowed& operator=(const compaction_allowed&) = delete;
};

class connection;

// The request body as the handler reads it.
class conn_body final : public body_reader {
 public:
  explicit conn_body(connection& c) : c_(c) {}
  std::size_t read(std::span<char> buf) override;
  bool continue_sent = false;
  std::uint64_t read_bytes = 0;

 private:
  connection& c_;
};

// The response as the handler builds it.
class conn_writer final : public response_writer {
 public:
  explicit conn_writer(connection& c) : c_(c) {}
  http::header& header() override { return h_; }
  void write_header(int status) override {
    if (status_ == 0) status_ = status < 100 || status > 999 ? 500 : status;
  }
  void write(std::string_view data) override;
  void flush() override;
  int status() const noexcept override { return status_; }

  void reset() {
    h_.clear();
    status_ = 0;
    buf_.clear();
    committed_ = chunked_ = false;
    declared_ = -1;
    written_ = 0;
  }
  // Sends what the handler left: the head if not sent yet, the buffered
  // body, the last chunk. Returns false if the connection must close
  // (the body is delimited by the close, or shorter than declared).
  bool finish();
  bool committed() const noexcept { return committed_; }
  bool close_after = false;  // decided when the head is written

 private:
  void commit(bool final);
  void send_body(std::string_view data);

  connection& c_;
  http::header h_;
  int status_ = 0;
  std::string buf_;  // body written before the head was sent
  bool committed_ = false, chunked_ = false;
  std::int64_t declared_ = -1;  // the handler's Content-Length
  std::uint64_t written_ = 0;   // body bytes sent after the head
};

class connection {
 public:
  connection(server& srv, server::state& st, conn_node& node)
      : srv_(srv),
        st_(st),
        node_(node),
        c_(node.c),
        in_(c_),
        out_(c_),
        p_(parser::side::request, limits(srv)),
        body_(*this),
        w_(*this) {}

  void run();

  // For conn_body and conn_writer.
  bufio::reader& in() { return in_; }
  bufio::writer& out() { return out_; }
  parser& p() { return p_; }
  request& req() { return req_; }
  const server& srv() const { return srv_; }
  bool stopping() const { return st_.stopping.load(); }
  conn_body& body() { return body_; }
  // Waits for input (flushing output first); false at end of file.
  bool await_input() {
    if (in_.buffered() > 0) return true;
    if (out_.buffered() > 0) out_.flush();
    return !in_.peek(1).empty();
  }

 private:
  static parser_limits limits(const server& s) {
    parser_limits l;
    l.max_start_line = s.max_request_line;
    l.max_header_bytes = s.max_header_bytes;
    l.max_fields = s.max_header_fields;
    l.max_body = s.max_body_bytes;
    return l;
  }
  bool wait_for_request(bool first);
  bool read_head();
  void fill_request();
  bool serve_one(bool first);
  bool drain_body();
  void reject(int status, const std::string& why);
  void linger_close();
  void log(const std::string& what) {
    if (srv_.error_log) srv_.error_log(what);
  }

  server& srv_;
  server::state& st_;
  conn_node& node_;
  net::conn& c_;
  bufio::reader in_;
  bufio::writer out_;
  parser p_;
  request req_;
  conn_body body_;
  conn_writer w_;
  clock::time_point read_deadline_{};  // for the body of the current request
};

std::size_t conn_body::read(std::span<char> buf) {
  parser& p = c_.p();
  if (buf.empty() || p.current_state() == parser::state::complete) return 0;
  if (p.expect_continue() && !continue_sent) {
    continue_sent = true;
    if (!c_.in().buffered()) {
      c_.out().write("HTTP/1.1 100 Continue\r\n\r\n");
      c_.out().flush();
    }
  }
  while (p.current_state() == parser::state::body) {
    if (!c_.await_input()) {
      p.finish();
      break;
    }
    std::string_view avail = c_.in().peek(std::min(c_.in().buffered(), buf.size()));
    parser::body_piece piece = p.parse_body(avail);
    if (!piece.data.empty()) std::memcpy(buf.data(), piece.data.data(), piece.data.size());
    c_.in().discard(piece.consumed);
    if (!piece.data.empty()) {
      read_bytes += piece.data.size();
      return piece.data.size();
    }
  }
  if (p.failed()) throw body_error(p.error(), "http: request body: " + p.error_message());
  return 0;
}

void conn_writer::write(std::string_view data) {
  if (status_ == 0) status_ = 200;
  if (data.empty() || bodyless_status(status_)) return;
  if (!committed_) {
    buf_.append(data);
    if (buf_.size() > kBufferedBody) commit(false);
    return;
  }
  send_body(data);
}

void conn_writer::flush() {
  if (status_ == 0) status_ = 200;
  if (!committed_) commit(false);
  c_.out().flush();
}

void conn_writer::send_body(std::string_view data) {
  if (c_.req().method == "HEAD" || data.empty()) return;
  if (declared_ >= 0 && written_ + data.size() > static_cast<std::uint64_t>(declared_)) {
    // More than the declared Content-Length: the excess would be read as
    // the next response. Drop it and close after this one (Go reports
    // ErrContentLength).
    data = data.substr(0, static_cast<std::size_t>(static_cast<std::uint64_t>(declared_) - written_));
    close_after = true;
  }
  written_ += data.size();
  if (chunked_) {
    char size[24];
    int n = std::snprintf(size, sizeof size, "%zx\r\n", data.size());
    c_.out().write(std::string_view(size, static_cast<std::size_t>(n)));
    c_.out().write(data);
    c_.out().write("\r\n");
  } else {
    c_.out().write(data);
  }
}

// Writes the head. final: the handler has returned, so the whole body is
// in buf_ and gets a Content-Length.
void conn_writer::commit(bool final) {
  committed_ = true;
  if (status_ == 0) status_ = 200;
  const request& r = c_.req();
  std::string_view cl = h_.get("Content-Length");
  if (!cl.empty()) {
    declared_ = 0;
    for (char ch : cl) {
      if (ch < '0' || ch > '9' || declared_ > (INT64_MAX - 9) / 10) {
        declared_ = -1;
        break;
      }
      declared_ = declared_ * 10 + (ch - '0');
    }
    if (declared_ < 0) h_.del("Content-Length");
  }
  h_.del("Transfer-Encoding");
  bool bodyless = bodyless_status(status_);
  bool keep = c_.p().keep_alive() && !c_.stopping() && !has_token(h_.get("Connection"), "close");
  if (!bodyless && declared_ < 0) {
    if (final) {
      declared_ = static_cast<std::int64_t>(buf_.size());
    } else if (r.proto_minor >= 1) {
      chunked_ = true;
    } else {
      keep = false;  // HTTP/1.0 streaming: the close ends the body
    }
  }
  // An unread body the server would not drain ends the connection.
  parser& p = c_.p();
  if (p.current_state() == parser::state::body) {
    bool unsent_continue = p.expect_continue() && !c_.body().continue_sent;
    bool too_long =
        p.body_framing() == parser::framing::chunked || p.content_length() - c_.body().read_bytes > kMaxDrain;
    if (unsent_continue || too_long) keep = false;
  }
  close_after = !keep;

  bufio::writer& out = c_.out();
  // Formatted by hand: snprintf's setup cost showed in profiles of small
  // responses.
  char digits[24];
  out.write("HTTP/1.1 ");
  out.write(decimal(digits, status_));
  out.write(" ");
  out.write(reason_phrase(status_));
  out.write("\r\n");
  bool has_date = false, has_type = false;
  for (const header_field& f : h_.fields()) {
    if (iequals(f.name, "Connection") || (bodyless && iequals(f.name, "Content-Length"))) continue;
    if (!valid_field(f)) continue;  // a CR or LF would split the response
    has_date |= iequals(f.name, "Date");
    has_type |= iequals(f.name, "Content-Type");
    out.write(f.name);
    out.write(": ");
    out.write(f.value);
    out.write("\r\n");
  }
  if (!has_date) {
    char date[40];
    http_date(date);
    out.write("Date: ");
    out.write(date);
    out.write("\r\n");
  }
  if (!bodyless && !has_type && (!buf_.empty() || !final))
    out.write("Content-Type: text/plain; charset=utf-8\r\n");
  if (!bodyless && cl.empty() && declared_ >= 0) {
    out.write("Content-Length: ");
    out.write(decimal(digits, declared_));
    out.write("\r\n");
  }
  if (chunked_) out.write("Transfer-Encoding: chunked\r\n");
  if (!keep) {
    out.write("Connection: close\r\n");
  } else if (r.proto_minor == 0) {
    out.write("Connection: keep-alive\r\n");
  }
  out.write("\r\n");
  std::string body = std::move(buf_);
  buf_.clear();
  send_body(body);
  if (body.capacity() <= kBufferedBody * 2)
    buf_ = std::move(body);  // keep a small buffer for the next response
  buf_.clear();
}

bool conn_writer::finish() {
  if (!committed_) commit(true);
  if (chunked_) {
    if (c_.req().method != "HEAD") c_.out().write("0\r\n\r\n");
  } else if (declared_ >= 0 && c_.req().method != "HEAD" && !bodyless_status(status_) &&
             written_ != static_cast<std::uint64_t>(declared_)) {
    return false;  // shorter than its Content-Length: only a close can end it
  }
  return !close_after;
}

void connection::run() {
  goro::this_goroutine::allow_compaction(false);
  st_.link(&node_);
  bool first = true;
  try {
    while (wait_for_request(first) && serve_one(first)) first = false;
  } catch (const net::error&) {
    // A timeout, a reset, the server closing the connection: just close.
  }
  st_.unlink(&node_);
}

// Waits for the first byte of the next request; false if the connection
// should close instead (end of file, idle timeout, shutdown).
bool connection::wait_for_request(bool first) {
  if (in_.buffered() > 0) return true;
  if (out_.buffered() > 0) out_.flush();
  clock::duration header =
      srv_.read_header_timeout > clock::duration::zero() ? srv_.read_header_timeout : srv_.read_timeout;
  clock::duration idle = srv_.idle_timeout > clock::duration::zero() ? srv_.idle_timeout : srv_.read_timeout;
  if (!first) node_.idle.store(true);
  st_.idle++;
  struct idle_count {
    server::state& st;
    conn_node& node;
    ~idle_count() {
      st.idle--;
      node.idle.store(false);
      node.fresh.store(false);
    }
  } count{st_, node_};
  c_.set_read_deadline(deadline_after(first ? header : idle));
  // Checked after the deadline is set: a shutdown kick that came before it
  // has set `stopping` by then (both take the deadline's lock). A new
  // connection still gets to send its first request (answered with
  // "Connection: close"), as in Go.
  if (!first && st_.stopping.load()) return false;
  compaction_allowed idle_wait;
  return !in_.peek(1).empty();
}

// Reads the next head into p_; false if the connection ended cleanly
// before a request began. A malformed head leaves p_ failed (serve_one
// answers it); network errors and timeouts throw.
bool connection::read_head() {
  p_.reset();
  read_deadline_ = deadline_after(srv_.read_timeout);
  while (p_.current_state() == parser::state::head) {
    if (!await_input()) return p_.finish() || p_.failed();
    std::string_view avail = in_.peek(in_.buffered());
    in_.discard(p_.parse_head(avail));
  }
  return true;
}

void connection::fill_request() {
  req_.method.assign(p_.method());
  req_.target.assign(p_.target());
  std::string_view t = req_.target;
  if (t.starts_with("http://") ||
      t.starts_with("https://")) {  // absolute-form: the path starts after the authority
    std::size_t slash = t.find('/', t.find("//") + 2);
    t = slash == std::string_view::npos ? std::string_view("/") : t.substr(slash);
  }
  std::size_t q = t.find('?');
  req_.path = t.substr(0, q);
  req_.query = q == std::string_view::npos ? std::string_view() : t.substr(q + 1);
  req_.proto_minor = p_.version_minor();
  req_.headers = &p_.headers();
  req_.host = p_.headers().get("Host");
  switch (p_.body_framing()) {
    case parser::framing::none:
      req_.content_length = 0;
      break;
    case parser::framing::length:
      req_.content_length = static_cast<std::int64_t>(p_.content_length());
      break;
    default:
      req_.content_length = -1;
      break;
  }
  if (!req_.remote_addr.family()) req_.remote_addr = c_.remote_address();
  req_.ctx = st_.ctx;
  req_.path_values.clear();
  req_.body_ = &body_;
  body_.continue_sent = false;
  body_.read_bytes = 0;
}

// Reads, handles and answers one request; false if the connection should
// close after it.
bool connection::serve_one(bool first) {
  // A later head gets the header timeout from its first byte; the first
  // one's deadline runs from the accept (set by wait_for_request).
  if (!first) {
    clock::duration header =
        srv_.read_header_timeout > clock::duration::zero() ? srv_.read_header_timeout : srv_.read_timeout;
    c_.set_read_deadline(deadline_after(header));
  }
  if (!read_head()) return false;
  st_.requests++;
  if (p_.failed()) {
    reject(status_for(p_.error()), p_.error_message());
    return false;
  }
  fill_request();
  c_.set_read_deadline(read_deadline_);
  c_.set_write_deadline(deadline_after(srv_.write_timeout));
  w_.reset();

  enum class outcome { ok, body_failed, handler_failed, conn_failed } result = outcome::ok;
  std::string why;
  std::error_code body_ec;
  try {
    srv_.handler(w_, req_);
  } catch (const body_error& e) {
    result = outcome::body_failed;
    body_ec = e.code();
    why = e.what();
  } catch (const net::error&) {
    result = outcome::conn_failed;
  } catch (const std::exception& e) {
    result = outcome::handler_failed;
    why = e.what();
  } catch (...) {
    result = outcome::handler_failed;
    why = "unknown exception";
  }
  if (result == outcome::conn_failed) return false;
  if (result == outcome::body_failed) {
    if (!w_.committed()) reject(status_for(body_ec), why);
    return false;
  }
  if (result == outcome::handler_failed) {
    log("http: exception serving " + req_.method + " " + req_.target + ": " + why);
    if (!w_.committed()) {
      w_.reset();
      w_.header().set("Content-Type", "text/plain; charset=utf-8");
      w_.header().set("Connection", "close");
      w_.write_header(500);
      w_.write("500 internal server error: " + why + "\n");
      w_.finish();
      out_.flush();
      linger_close();
    }
    return false;
  }
  bool keep = w_.finish();
  if (keep) keep = drain_body();
  if (!keep) {
    out_.flush();
    linger_close();
  }
  return keep;
}

// Discards what the handler left of the body, up to kMaxDrain; false if
// the connection cannot be reused.
bool connection::drain_body() {
  if (p_.current_state() == parser::state::complete) return true;
  if (p_.expect_continue() && !body_.continue_sent) return false;
  char scratch[4096];
  std::uint64_t drained = 0;
  bool ok = true;
  try {
    while (std::size_t n = body_.read(scratch)) {
      drained += n;
      if (drained > kMaxDrain) {
        ok = false;
        break;
      }
    }
  } catch (const body_error&) {
    ok = false;
  }
  return ok;
}

void connection::reject(int status, const std::string& why) {
  std::string body = std::to_string(status) + " " + std::string(reason_phrase(status)) + ": " + why + "\n";
  char date[40];
  http_date(date);
  char head[256];
  std::string_view reason = reason_phrase(status);
  int n =
      std::snprintf(head, sizeof head,
                    "HTTP/1.1 %d %.*s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %zu\r\n"
                    "Date: %s\r\nConnection: close\r\n\r\n",
                    status, static_cast<int>(reason.size()), reason.data(), body.size(), date);
  try {
    c_.set_write_deadline(
        deadline_after(srv_.write_timeout > clock::duration::zero() ? srv_.write_timeout : 5s));
    out_.write(std::string_view(head, static_cast<std::size_t>(n)));
    out_.write(body);
    out_.flush();
  } catch (const net::error&) {
    return;
  }
  linger_close();
}

// Half-closes, then discards input for up to kLinger, so that unread
// request bytes do not make the kernel answer with a reset that would
// destroy the response in flight (Go's closeWriteAndWait).
void connection::linger_close() {
  try {
    c_.shutdown_write();
    c_.set_read_deadline(clock::now() + kLinger);
    while (c_.read_some_pooled([](std::span<const std::byte>) {}) > 0) {
    }
  } catch (const net::error&) {
  }
}

}  // namespace

server::server() : st_(std::make_unique<state>()) {}

server::~server() = default;

void server::listen_and_serve() {
  if (!handler) throw std::logic_error("http::server: no handler");
  net::listen_options lo;
  lo.on_accept_error = [this](const net::error& e, std::chrono::milliseconds d) {
    if (error_log)
      error_log("http: accept: " + std::string(e.what()) + "; retrying in " + std::to_string(d.count()) +
                "ms");
  };
  net::listener ln = net::listen("tcp", addr, lo);
  if (on_listen) on_listen(ln.local_address());
  serve(ln);
}

void server::serve(net::listener& ln) {
  if (!handler) throw std::logic_error("http::server: no handler");
  {
    goro::lock_guard lk(st_->mu);
    if (st_->stopping.load()) return;
    st_->listeners.push_back(&ln);
    st_->serving.add(1);
  }
  struct unregister {
    state& st;
    net::listener& ln;
    ~unregister() {
      {
        goro::lock_guard lk(st.mu);
        std::erase(st.listeners, &ln);
      }
      st.serving.done();
    }
  } guard{*st_, ln};
  spawn_options so;
  if (compact_after > clock::duration::zero()) {
    so.compact_after = std::chrono::duration_cast<std::chrono::nanoseconds>(compact_after);
  }
  for (;;) {
    net::conn c;
    std::string failure;
    try {
      c = ln.accept();
    } catch (const net::error& e) {
      if (e.code() == net::errc::closed) return;
      failure = e.what();
    }
    if (!failure.empty()) {
      if (error_log) error_log("http: accept: " + failure);
      continue;
    }
    st_->accepted++;
    st_->open++;
    st_->connections.add(1);
    go(so, [this, node = std::make_unique<conn_node>(std::move(c))] {
      {
        connection conn(*this, *st_, *node);
        conn.run();
      }
      node.get()->c = net::conn();
      st_->open--;
      st_->connections.done();
    });
  }
}

std::error_code server::shutdown(const context& ctx) {
  st_->stopping.store(true);
  st_->close_listeners();
  st_->serving.wait();
  chan<int> done(1);
  go([st = st_.get(), done] {
    st->connections.wait();
    done.send(1);
  });
  // Wake the connections waiting between requests (they see `stopping` and
  // close) and those still waiting for a first request after 5 s; again
  // every 100 ms, for connections that became idle since (Go polls too).
  for (;;) {
    clock::time_point now = clock::now();
    st_->for_each([now](conn_node& n) {
      if (n.idle.load() || (n.fresh.load() && now - n.accepted_at > std::chrono::seconds(5))) {
        n.c.set_read_deadline(now);
      }
    });
    std::size_t got = select(on_recv(done), on_recv(ctx.done()), on_recv(after(100ms)));
    if (got == 0) return {};
    if (got == 1) break;
  }
  std::error_code result = ctx.err();
  st_->cancel();
  st_->close_connections();
  done.recv();
  return result;
}

void server::close() {
  st_->stopping.store(true);
  st_->close_listeners();
  st_->cancel();
  st_->close_connections();
  st_->serving.wait();
  st_->connections.wait();
}

server_stats server::stats() const noexcept {
  return {st_->accepted.load(), st_->open.load(), st_->idle.load(), st_->requests.load()};
}

void listen_and_serve(std::string_view addr, handler_func h) {
  server s;
  s.addr.assign(addr);
  s.handler = std::move(h);
  s.listen_and_serve();
}

}  // namespace goro::http
