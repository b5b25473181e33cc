// examples/http_server.cpp: an HTTP/1.1 server, one goroutine per connection.
//
//   http_server [--addr :8080] [--read-header-timeout 5s] [--idle-timeout 60s]
//               [--read-timeout 30s] [--write-timeout 30s] [--grace 10s]
//               [--max-header-bytes 16384] [--max-body 1048576] [--procs N]
//               [--compact-after 1s]
//
// Routes: GET /            "Hello, World!"
//         GET /healthz     "ok"
//         GET /debug/goroutines[?dump=1]  goroutine count, stack statistics,
//                          buffer pool and connection figures (and a dump)
//         POST /echo       the request body back
//
// Protocol (RFC 9112, the parts a real server needs)
//   * Keep-alive (HTTP/1.1's default; HTTP/1.0 with "Connection:
//     keep-alive") and pipelining: requests are read one after another from
//     a bufio::reader, and responses are flushed only when no further
//     request is already buffered, so a pipelined batch goes out in one write.
//   * Limits: the request line must fit a 4 KiB line (else 414), the header
//     block max-header-bytes and 100 fields (else 431), a body max-body
//     (else 413).
//   * Bodies: Content-Length or chunked (trailers read and dropped); both at
//     once, a bad length or a bad chunk is a 400; other transfer codings 501.
//     "Expect: 100-continue" gets its interim response before the body is
//     read (curl waits for it on larger uploads).
//   * Timeouts, each a read or write deadline on the connection: the first
//     request's head must arrive within read-header-timeout of accepting (and
//     every later head within it of its first byte), which defeats slowloris;
//     between requests a connection may idle for idle-timeout; a body must
//     arrive within read-timeout; a response must be written within
//     write-timeout. A timed-out connection is closed without a response.
//   * A malformed request gets a 400 (or the status above) with
//     "Connection: close", and the connection is closed after a lingering
//     half-close (shutdown, then up to 500 ms of discarding input) so the
//     client reads the response instead of a reset.
//   * Graceful shutdown on SIGINT/SIGTERM, like Go's Server.Shutdown: stop
//     accepting, close connections that wait between requests, let the
//     others finish their current request (answered with "Connection:
//     close"), and after `grace` close whatever is left.
//
// Memory: a connection waiting for its next request holds no buffer (the
// bufio reader gives its pooled buffer back when drained and waits for
// readability without one; the writer gives its buffer back after each
// flush), so an idle keep-alive connection costs its goroutine's stack page;
// and once it has waited --compact-after (1 s; 0 turns it off) not even
// that: connection goroutines opt into compact stacks (goro/compact.hpp) and
// allow compaction only in the wait for the next request, when nothing
// points into their stacks (their list node and connection are on the heap;
// handler code, which might lend out pointers to its locals, runs with
// compaction forbidden).
#include <goro/goro.hpp>

#include <strings.h>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

using namespace std::chrono_literals;
namespace net = goro::net;
namespace bufio = goro::bufio;

namespace {

// ---------------------------------------------------------------------------
// Configuration

struct config {
  std::string addr = ":8080";
  goro::clock::duration read_header_timeout = 5s;
  goro::clock::duration idle_timeout = 60s;
  goro::clock::duration read_timeout = 30s;
  goro::clock::duration write_timeout = 30s;
  goro::clock::duration grace = 10s;
  std::size_t max_header_bytes = 16 << 10;
  std::size_t max_headers = 100;
  std::size_t max_body = 1 << 20;
  goro::clock::duration compact_after = 1s;
};

constexpr std::size_t kMaxLine = bufio::kDefaultSize;

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
               "usage: http_server [--addr :8080] [--read-header-timeout 5s] [--idle-timeout 60s]\n"
               "                   [--read-timeout 30s] [--write-timeout 30s] [--grace 10s]\n"
               "                   [--max-header-bytes 16384] [--max-body 1048576] [--procs N]\n"
               "                   [--compact-after 1s]\n");
  std::exit(2);
}

config parse_args(int argc, char** argv) {
  config c;
  for (int i = 1; i < argc; i++) {
    std::string_view a = argv[i];
    if (i + 1 >= argc) usage();
    std::string v = argv[++i];
    if (a == "--addr") {
      c.addr = v;
    } else if (a == "--read-header-timeout") {
      c.read_header_timeout = parse_duration(v);
    } else if (a == "--idle-timeout") {
      c.idle_timeout = parse_duration(v);
    } else if (a == "--read-timeout") {
      c.read_timeout = parse_duration(v);
    } else if (a == "--write-timeout") {
      c.write_timeout = parse_duration(v);
    } else if (a == "--grace") {
      c.grace = parse_duration(v);
    } else if (a == "--max-header-bytes") {
      c.max_header_bytes = std::strtoull(v.c_str(), nullptr, 10);
    } else if (a == "--max-body") {
      c.max_body = std::strtoull(v.c_str(), nullptr, 10);
    } else if (a == "--compact-after") {
      c.compact_after = parse_duration(v);
    } else if (a == "--procs") {
      goro::set_maxprocs(std::atoi(v.c_str()));
    } else {
      usage();
    }
  }
  return c;
}

// ---------------------------------------------------------------------------
// Requests and responses

// A request the client got wrong: answered with `status`, then the
// connection is closed.
struct http_error {
  int status;
  const char* why;
};

struct header {
  std::string name, value;
};

// Reused for every request of a connection: clear() keeps the capacity of
// the strings and of the header vector, so a keep-alive connection parses
// without allocating once warm.
struct request {
  std::string method, target;
  std::string_view path, query;  // into target
  int minor = 1;                 // HTTP/1.<minor>
  std::vector<header> headers;
  std::size_t nheaders = 0;
  std::string body;
  bool keep_alive = true;

  void clear() {
    nheaders = 0;
    body.clear();
  }
  // The first value of a header (names are case-insensitive), or "".
  std::string_view get(std::string_view name) const {
    for (std::size_t i = 0; i < nheaders; i++) {
      const header& h = headers[i];
      if (h.name.size() == name.size() && strncasecmp(h.name.data(), name.data(), name.size()) == 0)
        return h.value;
    }
    return {};
  }
  // How many times a header occurs.
  int count(std::string_view name) const {
    int n = 0;
    for (std::size_t i = 0; i < nheaders; i++) {
      const header& h = headers[i];
      n += h.name.size() == name.size() && strncasecmp(h.name.data(), name.data(), name.size()) == 0;
    }
    return n;
  }
  void add(std::string_view name, std::string_view value) {
    if (nheaders == headers.size()) headers.emplace_back();
    headers[nheaders].name.assign(name);
    headers[nheaders].value.assign(value);
    nheaders++;
  }
};

struct response {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::string allow;  // for 405
  bool close = false;

  void reset() {
    status = 200;
    content_type = "text/plain; charset=utf-8";
    body.clear();
    allow.clear();
    close = false;
  }
};

const char* reason_phrase(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 413:
      return "Request Entity Too Large";
    case 414:
      return "Request URI Too Long";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Unknown";
  }
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

// ---------------------------------------------------------------------------
// Parsing (RFC 9112)

bool is_tchar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::strchr("!#$%&'*+-.^_`|~", c) != nullptr && c != '\0';
}

bool is_token(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!is_tchar(c)) return false;
  }
  return true;
}

std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// "GET /path?q HTTP/1.1": exactly one space between the three parts.
void parse_request_line(std::string_view line, request& req) {
  std::size_t sp1 = line.find(' ');
  std::size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos) {
    throw http_error{400, "malformed request line"};
  }
  std::string_view method = line.substr(0, sp1);
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string_view version = line.substr(sp2 + 1);
  if (!is_token(method)) throw http_error{400, "bad method"};
  if (target.empty()) throw http_error{400, "empty request target"};
  for (char c : target) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) throw http_error{400, "bad request target"};
  }
  if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || version[6] != '.' || version[5] < '0' ||
      version[5] > '9' || version[7] < '0' || version[7] > '9') {
    throw http_error{400, "malformed HTTP version"};
  }
  if (version[5] != '1') throw http_error{505, "unsupported HTTP version"};
  req.method.assign(method);
  req.target.assign(target);
  req.minor = version[7] - '0';
  std::string_view t = req.target;
  std::size_t q = t.find('?');
  req.path = t.substr(0, q);
  req.query = q == std::string_view::npos ? std::string_view() : t.substr(q + 1);
}

void parse_header_line(std::string_view line, request& req) {
  if (line.front() == ' ' || line.front() == '\t') throw http_error{400, "obsolete line folding"};
  std::size_t colon = line.find(':');
  if (colon == std::string_view::npos) throw http_error{400, "header line without a colon"};
  std::string_view name = line.substr(0, colon);
  if (!is_token(name)) throw http_error{400, "bad header name"};
  std::string_view value = trim_ows(line.substr(colon + 1));
  for (char c : value) {
    if ((static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7f)
      throw http_error{400, "bad header value"};
  }
  req.add(name, value);
}

// Reads one line of the head within what is left of the header budget.
std::string_view read_head_line(bufio::reader& in, std::size_t budget, int status_if_long) {
  try {
    auto line = in.read_line(std::min(budget, kMaxLine));
    if (!line) throw http_error{400, "connection closed in the request head"};
    return *line;
  } catch (const net::error& e) {
    if (e.code() == net::errc::buffer_full) throw http_error{status_if_long, "request head too large"};
    throw;
  }
}

void read_head(bufio::reader& in, request& req, const config& cfg) {
  std::string_view line = read_head_line(in, kMaxLine, 414);
  parse_request_line(line, req);
  std::size_t used = 0;
  for (;;) {
    if (used >= cfg.max_header_bytes) throw http_error{431, "header block too large"};
    std::string_view h = read_head_line(in, cfg.max_header_bytes - used, 431);
    used += h.size() + 2;
    if (h.empty()) break;
    if (req.nheaders >= cfg.max_headers) throw http_error{431, "too many header fields"};
    parse_header_line(h, req);
  }
  if (req.minor >= 1 && req.count("Host") == 0) throw http_error{400, "missing Host"};
  std::string_view conn = req.get("Connection");
  req.keep_alive = req.minor >= 1 ? !iequals(conn, "close") : iequals(conn, "keep-alive");
}

std::size_t parse_length(std::string_view s, std::size_t max, int base) {
  if (s.empty() || s.size() > 16) throw http_error{400, "bad length"};
  std::size_t v = 0;
  for (char c : s) {
    int d;
    if (c >= '0' && c <= '9') {
      d = c - '0';
    } else if (base == 16 && c >= 'a' && c <= 'f') {
      d = c - 'a' + 10;
    } else if (base == 16 && c >= 'A' && c <= 'F') {
      d = c - 'A' + 10;
    } else {
      throw http_error{400, "bad length"};
    }
    v = v * static_cast<std::size_t>(base) + static_cast<std::size_t>(d);
  }
  if (v > max) throw http_error{413, "body too large"};
  return v;
}

void read_exact(bufio::reader& in, std::string& out, std::size_t n) {
  std::size_t at = out.size();
  out.resize(at + n);
  try {
    in.read_full(std::span<char>(out.data() + at, n));
  } catch (const net::error& e) {
    if (e.code() == net::errc::eof || e.code() == net::errc::unexpected_eof)
      throw http_error{400, "body cut short"};
    throw;
  }
}

void read_chunked(bufio::reader& in, request& req, const config& cfg) {
  for (;;) {
    std::string_view line = read_head_line(in, kMaxLine, 400);
    std::string_view size = line.substr(0, line.find(';'));  // chunk extensions are ignored
    std::size_t n = parse_length(trim_ows(size), cfg.max_body - req.body.size(), 16);
    if (n == 0) break;
    read_exact(in, req.body, n);
    if (!read_head_line(in, kMaxLine, 400).empty()) throw http_error{400, "chunk not followed by CRLF"};
  }
  // Trailer fields: read within the header budget, dropped.
  std::size_t used = 0;
  for (;;) {
    std::string_view t =
        read_head_line(in, cfg.max_header_bytes - std::min(used, cfg.max_header_bytes - 1), 431);
    if (t.empty()) return;
    used += t.size() + 2;
  }
}

// After the head: the body, if the headers announce one.
void read_body(net::conn& c, bufio::reader& in, bufio::writer& out, request& req, const config& cfg) {
  std::string_view te = req.get("Transfer-Encoding");
  std::string_view cl = req.get("Content-Length");
  if (te.empty() && cl.empty()) return;
  if (!te.empty() && !cl.empty()) throw http_error{400, "both Transfer-Encoding and Content-Length"};
  if (!te.empty() && !iequals(te, "chunked")) throw http_error{501, "unsupported transfer coding"};
  if (req.count("Transfer-Encoding") > 1) throw http_error{501, "unsupported transfer coding"};
  std::size_t length = 0;
  if (!cl.empty()) {
    length = parse_length(cl, cfg.max_body, 10);
    for (std::size_t i = 0; i < req.nheaders; i++) {  // repeated lengths must agree
      if (iequals(req.headers[i].name, "Content-Length") && req.headers[i].value != cl) {
        throw http_error{400, "conflicting Content-Length"};
      }
    }
    if (length == 0) return;
  }
  if (iequals(req.get("Expect"), "100-continue") && req.minor >= 1) {
    out.write("HTTP/1.1 100 Continue\r\n\r\n");
    out.flush();
  }
  c.set_read_deadline(goro::clock::now() + cfg.read_timeout);
  if (te.empty()) {
    read_exact(in, req.body, length);
  } else {
    read_chunked(in, req, cfg);
  }
}

// ---------------------------------------------------------------------------
// Responses

// The Date header value, formatted at most once a second per thread, and
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

void write_response(bufio::writer& out, const request& req, const response& resp, bool keep_alive) {
  char date[40];
  http_date(date);
  char head[512];
  int n = std::snprintf(
      head, sizeof head,
      "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nDate: %s\r\n%s%s%s%s\r\n", resp.status,
      reason_phrase(resp.status), resp.content_type.c_str(), resp.body.size(), date,
      keep_alive ? (req.minor == 0 ? "Connection: keep-alive\r\n" : "") : "Connection: close\r\n",
      resp.allow.empty() ? "" : "Allow: ", resp.allow.c_str(), resp.allow.empty() ? "" : "\r\n");
  out.write(std::string_view(head, static_cast<std::size_t>(std::min<int>(n, sizeof head - 1))));
  if (req.method != "HEAD") out.write(resp.body);
}

// ---------------------------------------------------------------------------
// The server: registry of connections, router, handlers

struct server;
using handler_fn = void (*)(server&, const request&, response&);

struct route {
  std::string_view path;     // exact, or a prefix if it ends in '/' (Go's ServeMux)
  std::string_view methods;  // space-separated, e.g. "GET HEAD"
  handler_fn fn;
};

// A connection and its place in the server's list, on the heap: other
// connections link and unlink their nodes next to it, and shutdown reaches
// the connection through it, while its goroutine's stack may be compacted.
struct connection_node {
  explicit connection_node(net::conn conn) : c(std::move(conn)) {}
  net::conn c;
  std::atomic<bool> idle{true};
  connection_node* prev = nullptr;
  connection_node* next = nullptr;
};

struct server {
  explicit server(const config& c) : cfg(c) {}

  config cfg;
  std::vector<route> routes;
  goro::mutex mu;  // guards the connection list
  connection_node* head = nullptr;
  long open = 0;
  std::atomic<bool> stopping{false};
  std::atomic<long> accepted{0};
  std::atomic<long> served{0};  // requests of closed connections
  goro::wait_group handlers;

  void link(connection_node* n) {
    std::lock_guard lk(mu);
    n->next = head;
    if (head != nullptr) head->prev = n;
    head = n;
    open++;
  }
  void unlink(connection_node* n) {
    std::lock_guard lk(mu);
    if (n->prev != nullptr) n->prev->next = n->next;
    if (n->next != nullptr) n->next->prev = n->prev;
    if (head == n) head = n->next;
    open--;
  }
  template <typename F>
  void for_each(F&& f) {
    std::lock_guard lk(mu);
    for (connection_node* n = head; n != nullptr; n = n->next) f(*n);
  }
};

bool method_listed(std::string_view methods, std::string_view m) {
  while (!methods.empty()) {
    std::size_t sp = methods.find(' ');
    if (methods.substr(0, sp) == m) return true;
    if (sp == std::string_view::npos) break;
    methods.remove_prefix(sp + 1);
  }
  return false;
}

void dispatch(server& s, const request& req, response& resp) {
  const route* best = nullptr;
  for (const route& r : s.routes) {
    bool prefix = r.path.size() > 1 && r.path.back() == '/';
    bool match = prefix ? req.path.substr(0, r.path.size()) == r.path : req.path == r.path;
    if (match && (best == nullptr || r.path.size() > best->path.size())) best = &r;
  }
  if (best == nullptr) {
    resp.status = 404;
    resp.body = "404 page not found\n";
    return;
  }
  if (!method_listed(best->methods, req.method)) {
    resp.status = 405;
    resp.allow.assign(best->methods);
    for (char& c : resp.allow) c = c == ' ' ? ',' : c;
    resp.body = "405 method not allowed\n";
    return;
  }
  best->fn(s, req, resp);
}

void hello(server&, const request&, response& resp) {
  resp.body = "Hello, World!\n";
}

void healthz(server&, const request&, response& resp) {
  resp.body = "ok\n";
}

void echo(server&, const request& req, response& resp) {
  resp.body = req.body;
  std::string_view ct = req.get("Content-Type");
  resp.content_type = ct.empty() ? "application/octet-stream" : std::string(ct);
}

void debug_goroutines(server& s, const request& req, response& resp) {
  goro::stack_stats st = goro::read_stack_stats();
  net::buffer_pool_stats bp = net::read_buffer_pool_stats();
  long open;
  {
    std::lock_guard lk(s.mu);
    open = s.open;
  }
  char buf[1024];
  std::snprintf(buf, sizeof buf,
                "goroutines: %lld\n"
                "stack_inuse: %zu bytes\nstack_sys: %zu bytes\nstack_reserved: %zu bytes\n"
                "live_stacks: %zu\npooled_stacks: %zu\ngrowth_pages: %llu\nshrinks: %llu (%llu bytes)\n"
                "read_buffers: borrowed %lld, free %lld, allocated %llu\n"
                "connections: open %ld, accepted %ld\n",
                static_cast<long long>(goro::num_goroutine()), st.stack_inuse, st.stack_sys,
                st.stack_reserved, st.live_stacks, st.pooled_stacks,
                static_cast<unsigned long long>(st.growth_pages), static_cast<unsigned long long>(st.shrinks),
                static_cast<unsigned long long>(st.shrunk_bytes), static_cast<long long>(bp.borrowed),
                static_cast<long long>(bp.free), static_cast<unsigned long long>(bp.allocated), open,
                s.accepted.load());
  resp.body = buf;
  if (req.query.find("dump=1") != std::string_view::npos) {
    resp.body += "\n";
    resp.body += goro::dump_goroutines();
  }
}

// ---------------------------------------------------------------------------
// One connection

// Allows compacting the calling goroutine's stack for as long as it lives.
struct compaction_allowed {
  compaction_allowed() { goro::this_goroutine::allow_compaction(true); }
  ~compaction_allowed() { goro::this_goroutine::allow_compaction(false); }
  compaction_allowed(const compaction_allowed&) = delete;
  compaction_allowed& operator=(const compaction_allowed&) = delete;
};

class connection {
 public:
  explicit connection(server& s, connection_node& node) : s_(s), c_(node.c), in_(c_), out_(c_), node_(node) {}

  void run() {
    // Handler code runs with compaction forbidden; next_request allows it
    // for the wait.
    goro::this_goroutine::allow_compaction(false);
    s_.link(&node_);
    long requests = 0;
    std::optional<http_error> bad;
    try {
      while (next_request(requests == 0) && serve_one()) requests++;
    } catch (const net::error&) {
      // Timeout, reset, end of file in the middle: just close.
    } catch (const http_error& e) {
      // Answered outside the handler: reject() parks, and a goroutine must
      // not park inside a catch block (the C++ runtime keeps the caught
      // exception in per-thread state, and the goroutine may resume on
      // another thread).
      bad = e;
    }
    if (bad) reject(*bad);
    s_.served += requests;
    s_.unlink(&node_);
  }

 private:
  // Waits for the first byte of the next request; false if the connection
  // should close instead (end of file, idle timeout, shutdown).
  bool next_request(bool first) {
    if (in_.buffered() == 0) {
      node_.idle.store(true);
      c_.set_read_deadline(goro::clock::now() + (first ? s_.cfg.read_header_timeout : s_.cfg.idle_timeout));
      // Checked after the deadline is set: a shutdown kick that came before
      // it has set `stopping` by then (both take the deadline's lock).
      if (s_.stopping.load()) return false;
      bool closed;
      {
        compaction_allowed idle_wait;
        closed = in_.peek(1).empty();
      }
      if (closed) return false;  // the client closed
      node_.idle.store(false);
    }
    if (!first) c_.set_read_deadline(goro::clock::now() + s_.cfg.read_header_timeout);
    return true;
  }

  // Reads, handles and answers one request; false if the connection
  // should close after it.
  bool serve_one() {
    req_.clear();
    resp_.reset();
    read_head(in_, req_, s_.cfg);
    read_body(c_, in_, out_, req_, s_.cfg);
    try {
      dispatch(s_, req_, resp_);
    } catch (const std::exception& e) {
      resp_.reset();
      resp_.status = 500;
      resp_.body = std::string("500 internal server error: ") + e.what() + "\n";
      resp_.close = true;
    }
    bool keep = req_.keep_alive && !resp_.close && !s_.stopping.load();
    c_.set_write_deadline(goro::clock::now() + s_.cfg.write_timeout);
    write_response(out_, req_, resp_, keep);
    // Pipelining: answer a batch of buffered requests with one write.
    if (!keep || in_.buffered() == 0) out_.flush();
    if (!keep) linger_close();
    return keep;
  }

  void reject(const http_error& e) {
    resp_.reset();
    resp_.status = e.status;
    resp_.body = std::to_string(e.status) + " " + reason_phrase(e.status) + ": " + e.why + "\n";
    req_.method = "GET";
    try {
      c_.set_write_deadline(goro::clock::now() + s_.cfg.write_timeout);
      write_response(out_, req_, resp_, false);
      out_.flush();
      linger_close();
    } catch (const net::error&) {
    }
  }

  // Half-closes, then discards input for up to 500 ms, so that unread
  // request bytes do not make the kernel answer with a reset that would
  // destroy the response in flight (Go's closeWriteAndWait).
  void linger_close() {
    try {
      c_.shutdown_write();
      c_.set_read_deadline(goro::clock::now() + 500ms);
      while (c_.read_some_pooled([](std::span<const std::byte>) {}) > 0) {
      }
    } catch (const net::error&) {
    }
  }

  server& s_;
  net::conn& c_;
  bufio::reader in_;
  bufio::writer out_;
  request req_;
  response resp_;
  connection_node& node_;
};

void accept_loop(server& s, net::listener& ln) {
  for (;;) {
    net::conn c;
    try {
      c = ln.accept();
    } catch (const net::error& e) {
      if (e.code() == net::errc::closed) return;
      std::fprintf(stderr, "http_server: %s\n", e.what());
      continue;
    }
    s.accepted++;
    s.handlers.add(1);
    goro::spawn_options so;  // compact_after 0: the process default, never
    if (s.cfg.compact_after > goro::clock::duration::zero()) {
      so.compact_after = std::chrono::duration_cast<std::chrono::nanoseconds>(s.cfg.compact_after);
    }
    goro::go(so, [&s, node = std::make_unique<connection_node>(std::move(c))] {
      {
        connection conn(s, *node);
        conn.run();
      }
      s.handlers.done();
    });
  }
}

// Go's Server.Shutdown: stop accepting, close idle connections, wait for
// busy ones to finish their request, give up after the grace period.
void shut_down(server& s, net::listener& ln, goro::wait_group& acceptor) {
  s.stopping.store(true);
  ln.close();
  acceptor.wait();
  s.for_each([](connection_node& n) {
    if (n.idle.load()) n.c.set_read_deadline(goro::clock::now());
  });
  goro::chan<int> done(1);
  goro::go([&s, done] {
    s.handlers.wait();
    done.send(1);
  });
  if (goro::select(goro::on_recv(done), goro::on_recv(goro::after(s.cfg.grace))) == 1) {
    s.for_each([](connection_node& n) {
      try {
        n.c.close();
      } catch (const net::error&) {
      }
    });
    done.recv();
  }
}

int serve(const config& cfg) {
  goro::chan<int> sig(1);
  goro::signal_notify(sig, SIGINT, SIGTERM);
  server s(cfg);
  s.routes = {
      {"/", "GET HEAD", &hello},
      {"/healthz", "GET HEAD", &healthz},
      {"/debug/goroutines", "GET", &debug_goroutines},
      {"/echo", "POST PUT", &echo},
  };
  net::listen_options lo;
  lo.on_accept_error = [](const net::error& e, std::chrono::milliseconds d) {
    std::fprintf(stderr, "http_server: %s; retrying in %lldms\n", e.what(),
                 static_cast<long long>(d.count()));
  };
  net::listener ln;
  try {
    ln = net::listen("tcp", cfg.addr, lo);
  } catch (const net::error& e) {
    std::fprintf(stderr, "http_server: %s\n", e.what());
    return 1;
  }
  std::printf("http_server: listening on %s\n", ln.local_address().to_string().c_str());
  std::fflush(stdout);
  goro::wait_group acceptor;
  acceptor.go([&] { accept_loop(s, ln); });
  int got = sig.recv().value_or(0);
  std::printf("http_server: %s, shutting down\n", strsignal(got));
  std::fflush(stdout);
  shut_down(s, ln, acceptor);
  std::printf("http_server: served %ld requests on %ld connections\n", s.served.load(), s.accepted.load());
  std::fflush(stdout);
  goro::signal_stop(sig);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  config cfg = parse_args(argc, argv);
  goro::block_signals({SIGINT, SIGTERM});
  return goro::run([&] { return serve(cfg); });
}
