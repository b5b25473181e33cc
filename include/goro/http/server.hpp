// goro/http/server.hpp: an HTTP/1.1 server, one goroutine per connection
// (Go's net/http Server, Handler, ResponseWriter and Request).
//
//   goro::http::serve_mux mux;
//   mux.handle("GET /items/{id}", [](goro::http::response_writer& w, const goro::http::request& r) {
//     w.header().set("Content-Type", "text/plain");
//     w.write("item " + std::string(r.path_value("id")) + "\n");
//   });
//   goro::http::server srv;
//   srv.addr = ":8080";
//   srv.handler = std::ref(mux);
//   srv.read_header_timeout = 5s;
//   srv.listen_and_serve();          // returns once shutdown() or close() ran
//
// Design
//   * Each accepted connection gets a goroutine that reads requests with
//     goro::http::parser from a bufio::reader and calls the handler inline,
//     so a handler may block (on the network, a channel, a mutex) like a Go
//     handler. Requests are read one after another (keep-alive: HTTP/1.1's
//     default, HTTP/1.0 with "Connection: keep-alive"); responses are
//     flushed only when no further request is already buffered, so a
//     pipelined batch is answered in one write.
//   * An idle connection holds no buffer: the reader gives its pooled buffer
//     back before it waits, the writer after each flush. With
//     compact_after set, a connection that waited that long also has its
//     goroutine's stack compacted (goro/compact.hpp): compaction is allowed
//     only in the wait between requests, when nothing points into the
//     stack; handlers run with it forbidden.
//   * Response bodies up to 4 KiB written by a handler are buffered and
//     sent with a Content-Length; past that, or after flush(), the response
//     is streamed with chunked coding (HTTP/1.1) or delimited by the close
//     (HTTP/1.0), unless the handler set Content-Length itself.
//   * Malformed requests get the status status_for() gives (400, 413, 414,
//     431, 501, 505) with "Connection: close", and the connection is closed
//     after a lingering half-close (up to 500 ms of discarding input) so the
//     client reads the answer instead of a reset.
//   * Timeouts are read and write deadlines on the connection, as in Go;
//     zero means none. See docs/HTTP.md for what each defends against.
#pragma once

#include <goro/context.hpp>
#include <goro/http/header.hpp>
#include <goro/http/parser.hpp>
#include <goro/net.hpp>
#include <goro/time.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace goro::http {

class request;
class response_writer;

// Go's http.Handler: called on the connection's goroutine for each request.
// An exception escaping it is logged through server::error_log; the client
// gets a 500 if nothing was sent yet, else the connection is closed.
using handler_func = std::function<void(response_writer&, const request&)>;

// Reads a request body as it arrives (Go's Request.Body).
class body_reader {
 public:
  virtual ~body_reader() = default;
  // Reads up to buf.size() decoded body bytes; 0 at the end of the body.
  // The first read of a request with "Expect: 100-continue" sends the
  // interim "100 Continue" response. Throws goro::net::error (timeouts,
  // resets) and http::body_error for a malformed or oversized body.
  virtual std::size_t read(std::span<char> buf) = 0;
  // Reads the rest of the body into a string (Go's io.ReadAll).
  std::string read_all();
};

// A malformed or oversized request body, found while a handler reads it.
class body_error : public std::system_error {
 public:
  // An error reading a request body: `ec` and a message.
  explicit body_error(std::error_code ec, const std::string& what) : std::system_error(ec, what) {}
};

// An incoming request (Go's http.Request, server side). Valid during the
// handler call only; the strings are reused for the connection's next
// request.
class request {
 public:
  std::string method;                     // "GET"
  std::string target;                     // the request-target as sent: "/items/7?full=1"
  std::string_view path;                  // the target's path, still percent-encoded ("/items/7")
  std::string_view query;                 // after '?', without it ("full=1")
  int proto_minor = 1;                    // HTTP/1.<proto_minor>
  const http::header* headers = nullptr;  // the header section
  std::string_view host;                  // the Host field
  // The body's length, or -1 if chunked; 0 if there is none.
  std::int64_t content_length = 0;
  net::address remote_addr;
  // Cancelled when the server closes its connections (close(), or a
  // shutdown() whose context ended). Unlike Go's Request.Context it is not
  // cancelled when the client goes away or the handler returns.
  context ctx;

  // The value matched by the wildcard {name} of the serve_mux pattern (Go's
  // Request.PathValue), percent-decoded; "" if there is no such wildcard.
  std::string_view path_value(std::string_view name) const noexcept;
  // The first value of query parameter `name`, percent-decoded ("" if
  // absent). Cost: O(query).
  std::string query_value(std::string_view name) const;
  // The request body; mutable through a const request, as Go's Body is.
  body_reader& body() const { return *body_; }

  // Set by serve_mux.
  mutable std::vector<std::pair<std::string, std::string>> path_values;
  // Set by the server.
  body_reader* body_ = nullptr;
};

// Builds the response to one request (Go's http.ResponseWriter).
class response_writer {
 public:
  virtual ~response_writer() = default;
  // The response's header fields, sent with the status line; changes after
  // the head went out have no effect. Date, Content-Length, Transfer-Encoding
  // and Connection are managed by the server unless set here (a handler's
  // Content-Length is honoured: the body must then have that length).
  virtual http::header& header() = 0;
  // Sets the status (Go's WriteHeader). Only the first call counts; without
  // one, the first write() implies 200.
  virtual void write_header(int status) = 0;
  // Appends to the body. Throws goro::net::error if the connection fails
  // (the server then closes it).
  virtual void write(std::string_view data) = 0;
  // Sends the head and everything written so far now (Go's Flusher); the
  // rest of the body is then streamed.
  virtual void flush() = 0;
  // The status sent or to be sent (0 until write_header or write).
  virtual int status() const noexcept = 0;
};

// Go 1.22's ServeMux: routes requests by method, host and path patterns.
//
//   "/"                   every path not matched by a more specific pattern
//   "/static/"            a trailing slash matches the whole subtree
//   "/healthz"            exactly this path
//   "GET /items/{id}"     GET (and HEAD) only; {id} is one path segment
//   "/files/{path...}"    {path...} matches the rest of the path
//   "/exact/{$}"          only "/exact/", not the subtree
//   "api.example.com/"    only requests whose Host is api.example.com
//
// Precedence: the most specific pattern wins. Patterns are compared segment
// by segment (a literal beats {x}, which beats {x...} or a trailing slash),
// then a host beats none, then a method beats none. Where Go refuses two
// patterns as conflicting at registration, the order above decides here.
// A path matched only with a different method gets 405 with Allow; a path
// matched by "/dir/" only with its slash gets a 301 to it; a path needing
// cleaning ("//a/./b/../c") gets a 301 to the clean path; else 404.
// Thread-safety: handle() must not run concurrently with serving.
class serve_mux {
 public:
  serve_mux();
  ~serve_mux();
  // Moves the routes.
  serve_mux(serve_mux&&) noexcept;
  serve_mux& operator=(serve_mux&&) noexcept;

  // Registers h for pattern. Throws std::invalid_argument for a malformed
  // pattern (saying what is wrong) or one registered twice.
  void handle(std::string_view pattern, handler_func h);
  // Dispatches (a serve_mux is a handler itself). Cost: O(patterns x path
  // segments).
  void operator()(response_writer& w, const request& r) const;

 private:
  struct route;
  std::vector<std::unique_ptr<route>> routes_;
};

// Writes a plain-text error response (Go's http.Error).
void error(response_writer& w, std::string_view message, int status);

// Counters of a running server. Thread-safe reads.
struct server_stats {
  std::int64_t accepted = 0;  // connections accepted
  std::int64_t open = 0;      // connections open now
  std::int64_t idle = 0;      // of those, waiting for their next request
  std::int64_t requests = 0;  // requests answered (malformed ones included)
};

// Go's http.Server. Set the fields, then call listen_and_serve() or serve();
// the fields must not change while serving.
class server {
 public:
  std::string addr = ":http";  // listen_and_serve's address: "host:port", ":8080"
  handler_func handler;        // required

  // Go's ReadHeaderTimeout: the time to read a request's head, counted
  // from the accept for the first request and from the first byte for
  // later ones. Zero: read_timeout.
  clock::duration read_header_timeout{};
  // Go's ReadTimeout: the time to read the whole request, body included.
  clock::duration read_timeout{};
  // Go's WriteTimeout: the time to write the response, from the end of the
  // request's head.
  clock::duration write_timeout{};
  // Go's IdleTimeout: how long a keep-alive connection may wait for its
  // next request. Zero: read_timeout; both zero: no limit.
  clock::duration idle_timeout{};
  // Go's MaxHeaderBytes: the header section's size limit (431 past it).
  std::size_t max_header_bytes = 1 << 20;
  // Request line limit (414 past it) and header field count (431).
  std::size_t max_request_line = 8192;
  std::size_t max_header_fields = 100;
  // Body size limit (413 past it, as Go's MaxBytesReader); 0: none.
  std::uint64_t max_body_bytes = 0;
  // Compact a connection goroutine's stack after it waited this long for
  // its next request (goro/compact.hpp); zero: never.
  clock::duration compact_after{};
  // Go's ErrorLog: accept errors and back-offs, exceptions from handlers.
  // Called from connection goroutines; must be thread-safe. Default: none.
  std::function<void(std::string_view)> error_log;
  // Called with the listener's address once listen_and_serve listens.
  std::function<void(const net::address&)> on_listen;

  server();
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  // Listens on addr (TCP) and serves until shutdown() or close(). Throws
  // goro::net::error if it cannot listen, std::logic_error if there is no
  // handler. Must run on a goroutine.
  void listen_and_serve();
  // Serves connections accepted from ln until shutdown() or close() (which
  // close ln), then returns. Several listeners may be served at once.
  void serve(net::listener& ln);

  // Go's Server.Shutdown: stops accepting, closes connections waiting for
  // a request, lets the others finish the request they are serving (the
  // response says "Connection: close") and returns once every connection
  // is gone: an empty error_code. If ctx is done first, closes what is left
  // and returns ctx.err(). Thread-safe; callable once serving started.
  std::error_code shutdown(const context& ctx);
  // Go's Server.Close: closes listeners and every connection at once.
  void close();

  // The server's figures now (see server_stats). Thread-safe.
  server_stats stats() const noexcept;

  struct state;  // internal

 private:
  std::unique_ptr<state> st_;
};

// listen_and_serve with a fresh server (Go's http.ListenAndServe).
void listen_and_serve(std::string_view addr, handler_func h);

}  // namespace goro::http
