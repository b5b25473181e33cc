// goro/http/client.hpp: an HTTP/1.1 client with a pooled transport (Go's
// net/http Client and Transport). Plain HTTP only: there is no TLS
// ("https://" URLs are refused with an error saying so).
//
//   goro::http::client c;                                  // shares a default transport
//   goro::http::response r = c.get("http://127.0.0.1:8080/items/7");
//   std::string body = r.read_all();                       // the connection goes back to the pool
//
// Design
//   * A transport keeps, per host ("host:port"), the idle keep-alive
//     connections, most recently used first. A request takes an idle one
//     (after checking the server has not closed it) or dials a new one; a
//     connection goes back to the pool only once its response body has been
//     read to the end (or had none), and only if both sides allow keep-alive.
//     An idle connection is closed after idle_conn_timeout by a timer, and
//     when the pool is over max_idle_conns_per_host or max_idle_conns.
//     With max_conns_per_host, requests wait (cancellably) for a connection
//     of that host to be released.
//   * A request that fails on a reused connection before any byte of the
//     response arrived (the server closed it while idle) is retried once on
//     a new connection when it can be replayed (its body is a string).
//   * Cancellation: when the request's goro::context is done, the
//     connection is closed, which wakes whatever is blocked on it; the call
//     then throws client_error with the context's error.
//   * Responses are read with goro::http::parser's response side, with
//     limits on the head; the body is streamed through response::read.
#pragma once

#include <goro/context.hpp>
#include <goro/http/header.hpp>
#include <goro/http/parser.hpp>
#include <goro/time.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace goro::http {

// What a client call throws: code() is a goro::net errc or errno (network),
// a parse_errc (a malformed response), a context_errc (cancelled or timed
// out by the context), std::errc::timed_out (a transport timeout), or
// std::errc::invalid_argument (a bad URL). what() says which request.
class client_error : public std::system_error {
 public:
  // `what` is the whole message, reason included.
  client_error(std::error_code ec, std::string what) : std::system_error(ec), what_(std::move(what)) {}
  const char* what() const noexcept override { return what_.c_str(); }

 private:
  std::string what_;
};

// An absolute http URL split into what a request needs.
struct url {
  std::string scheme;    // "http"
  std::string host;      // "example.com:8080" (the port is always present)
  std::string hostname;  // "example.com"
  std::string target;    // "/path?query" ("/" if empty)
  // Parses "http://host[:port][/path][?query]"; a fragment is dropped.
  // Throws client_error (invalid_argument) for anything else, https
  // included.
  static url parse(std::string_view s);
  // Resolves a redirect's Location against this URL (absolute, or
  // absolute-path reference).
  url resolve(std::string_view location) const;
  // The URL as text: scheme://host/target.
  std::string to_string() const { return scheme + "://" + host + target; }
};

// A request to send (Go's http.Request, client side).
struct client_request {
  // The method, "GET" unless set.
  std::string method = "GET";
  std::string url;  // "http://host:port/path?query"
  // The response's header fields.
  header headers;    // sent as given; Host, Content-Length and
                     // Transfer-Encoding are the client's
  std::string body;  // sent with a Content-Length (when not streaming)
  // A streamed body instead: called until it returns 0; sent chunked.
  // Such a request is never retried.
  std::function<std::size_t(std::span<char>)> body_stream;
};

class transport;

// A response being read (Go's http.Response). Movable; destroying it or
// close() before the body was read to the end closes the connection
// instead of pooling it.
class response {
 public:
  response();
  ~response();
  // Moves the response, its unread body included.
  response(response&&) noexcept;
  response& operator=(response&&) noexcept;

  // The status code: 200, 404...
  int status = 0;
  std::string reason;   // "OK"
  int proto_minor = 1;  // HTTP/1.<proto_minor>
  header headers;
  header trailers;                   // of a chunked body, once it is read
  std::int64_t content_length = -1;  // -1 if unknown (chunked, until close)
  std::string url;                   // the URL this response answers (after redirects)

  // Reads body bytes; 0 at the end of the body, when the connection goes
  // back to the pool. Throws client_error.
  std::size_t read(std::span<char> buf);
  // Reads the rest of the body (Go's io.ReadAll).
  std::string read_all();
  // Discards the response: closes the connection unless the body was read.
  void close() noexcept;

  struct body_state;  // internal
  std::unique_ptr<body_state> body_;
};

// Counters of a transport. Thread-safe reads.
struct transport_stats {
  std::int64_t dials = 0;        // connections dialed
  std::int64_t reused = 0;       // requests sent on a pooled connection
  std::int64_t idle = 0;         // idle connections now
  std::int64_t idle_closed = 0;  // idle connections closed by idle_conn_timeout
};

// Go's http.Transport: connection pooling and the wire protocol. Set the
// fields before the first request; thread-safe afterwards.
class transport {
 public:
  std::size_t max_idle_conns = 100;         // idle connections in all (0: no limit)
  std::size_t max_idle_conns_per_host = 2;  // Go's DefaultMaxIdleConnsPerHost
  std::size_t max_conns_per_host = 0;       // dialing, active and idle (0: no limit)
  // How long an idle connection is kept (Go's IdleConnTimeout).
  clock::duration idle_conn_timeout = std::chrono::seconds(90);
  clock::duration response_header_timeout{};  // from the request sent to the head read; 0: none
  clock::duration expect_continue_timeout = std::chrono::seconds(1);  // wait for 100 before the body
  // How long a dial may take, and whether to close each connection after
  // one request (Go's DisableKeepAlives).
  clock::duration dial_timeout = std::chrono::seconds(30);
  bool disable_keep_alives = false;
  parser_limits response_limits{};  // head limits for responses

  transport();
  ~transport();  // closes the idle connections
  transport(const transport&) = delete;
  transport& operator=(const transport&) = delete;

  // Sends one request and reads the response's head (Go's RoundTrip): no
  // redirects. Throws client_error.
  response round_trip(const client_request& req, const context& ctx = {});
  // Closes every idle connection (Go's CloseIdleConnections).
  void close_idle_connections();
  transport_stats stats() const noexcept;

  struct state;  // internal

 private:
  friend class client;
  // round_trip with an overall deadline as well (none if it is the zero
  // time point), enforced through the connection's deadlines: the
  // client's own timeout costs no timer or goroutine per request that way.
  response round_trip_until(const client_request& req, const context& ctx, clock::time_point deadline);

  std::shared_ptr<state> st_;
};

// Go's http.Client: redirects and an overall timeout over a transport.
class client {
 public:
  // Shared; the default client shares one process-wide transport.
  std::shared_ptr<transport> transport_ptr;
  // Overall limit per call, redirects and the body read included (Go's
  // Client.Timeout), on top of the context's; 0: none. It runs until the
  // body has been read to the end or the response is closed. When it ends
  // the call, the error is context_errc::deadline_exceeded.
  clock::duration timeout{};
  // Go's CheckRedirect: called before following a redirect with the next
  // request and the responses so far; throw to stop with an error, or
  // return false to stop and hand back the redirect response itself. The
  // default follows up to 10 redirects.
  std::function<bool(const client_request& next, const std::vector<std::string>& via)> check_redirect;

  client();

  // Sends req, following 301, 302, 303 (as GET without a body), 307 and 308
  // (same method and body). Throws client_error. Thread-safe.
  response do_request(client_request req, const context& ctx = {});
  // A GET of `url`, and a POST of `body` as `content_type`, through
  // do_request.
  response get(std::string_view url, const context& ctx = {});
  response post(std::string_view url, std::string_view content_type, std::string body,
                const context& ctx = {});
};

}  // namespace goro::http
