// goro/net.hpp: TCP, UDP and Unix-domain sockets for goroutines (Go's net).
//
//   goro::net::listener ln = goro::net::listen("tcp", ":8080");
//   for (;;) {
//     goro::go([c = ln.accept()]() mutable {      // one goroutine per connection
//       c.set_read_deadline(goro::clock::now() + 30s);
//       while (c.read_some_pooled([&](std::span<const std::byte> b) { c.write_all(b); }) > 0) {
//       }
//     });
//   }
//
// Design (Go's internal/poll.FD and net.netFD)
//   * Every socket is non-blocking and registered once with the netpoller
//     (src/netpoll), edge-triggered for both directions. An operation tries
//     the system call first and parks the goroutine only on EAGAIN, so a
//     call that can make progress never touches the scheduler. Outside a
//     goroutine (a plain thread) the same calls wait in poll(2) instead.
//   * Errors are exceptions: goro::net::error, a std::system_error whose
//     what() says what failed and where, as Go's *net.OpError does
//     ("dial tcp 127.0.0.1:1: connection refused"). Its code() is the errno
//     (std::system_category) or one of goro::net::errc (deadline passed,
//     use of a closed connection, end of file). End of file is not an error
//     for read(), which returns 0, as read(2) does.
//   * Deadlines follow Go: absolute times per direction; once passed, the
//     blocked call and every later one fail with errc::timeout (equal to
//     std::errc::timed_out) until the deadline is moved; the connection
//     stays open.
//   * close() may be called from any goroutine while others are blocked in
//     the same connection: they wake at once with errc::closed. The
//     descriptor is closed when the last call using it has returned, so its
//     number is never reused under a running call.
//   * Idle connections hold no read buffer: read_some_pooled() and
//     goro::bufio::reader borrow a 4 KiB buffer from a shared pool only for
//     the read itself, and give it back before they park (the reference's
//     "shared buffer pool, so idle connections release the buffer"). An idle
//     connection then costs its goroutine's one stack page, about 150 bytes
//     of socket state and the kernel's socket.
//   * Concurrent reads of one connection are serialised, as are concurrent
//     writes (each direction has a goro::mutex), so goroutines may share a
//     connection as Go's net.Conn allows.
#pragma once

#include <goro/config.hpp>

#include <goro/context.hpp>
#include <goro/time.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

struct sockaddr;

namespace goro::net {

// ---------------------------------------------------------------------------
// Errors

// goro's own error codes (category "goro.net"); everything else is an errno
// in std::system_category.
enum class errc : int {
  timeout = 1,     // "i/o timeout": a deadline passed (Go's os.ErrDeadlineExceeded).
                   // Compares equal to std::errc::timed_out.
  closed,          // "use of closed network connection" (Go's net.ErrClosed)
  eof,             // "EOF": read_full found the stream already at its end
  unexpected_eof,  // "unexpected EOF": read_full ended in the middle
  buffer_full,     // "buffer full": a bufio line or peek longer than the buffer
  no_such_host,    // "no such host": a name lookup found nothing
  canceled,        // "operation was canceled": dial_context's context was cancelled
                   // (Go's errCanceled). Compares equal to std::errc::operation_canceled.
  // A "host:port" that does not split (Go's *net.AddrError from
  // SplitHostPort). Each compares equal to std::errc::invalid_argument; the
  // error's op() is "address" and what() is Go's text:
  // "address 127.0.0.1: missing port in address".
  missing_port,              // "missing port in address"
  too_many_colons,           // "too many colons in address" (IPv6 needs [brackets])
  missing_bracket,           // "missing ']' in address"
  unexpected_open_bracket,   // "unexpected '[' in address"
  unexpected_close_bracket,  // "unexpected ']' in address"
};

// The category of errc. Thread-safe; a function-local static.
const std::error_category& net_category() noexcept;
std::error_code make_error_code(errc e) noexcept;

// A failed network operation: code() says what went wrong, op() which
// operation ("dial", "listen", "accept", "read", "write", "close",
// "set"...), net() on what network ("tcp", "udp", "unix") and address()
// where ("127.0.0.1:8080", or "local->remote" for a connection). what() is
// Go's format: "<op> <net> <address>: <reason>".
class error : public std::system_error {
 public:
  // An error of operation `op` on network `net` at `address`, with cause `ec`.
  error(std::error_code ec, std::string op, std::string net, std::string address);

  // The operation, network and address it failed on (see above).
  const std::string& op() const noexcept { return op_; }
  const std::string& net() const noexcept { return net_; }
  const std::string& address() const noexcept { return address_; }
  // True if a deadline passed (code() == errc::timeout).
  bool timeout() const noexcept;
  const char* what() const noexcept override { return what_.c_str(); }

 private:
  std::string op_, net_, address_, what_;
};

// ---------------------------------------------------------------------------
// Addresses

// A socket address: IPv4 or IPv6 with a port, or a Unix-domain path
// ("/run/app.sock") or abstract name ("@app"). A value type; cheap to copy
// (at most 128 bytes).
class address {
 public:
  // The empty address (family() == 0).
  address() noexcept;

  // Parses a numeric "host:port": "127.0.0.1:80", "[::1]:80",
  // "[fe80::1%eth0]:80", ":80" (empty host: the IPv4 wildcard). Returns
  // std::nullopt for anything else (names are resolve()'s job).
  // Cost: no system call except if_nametoindex for a zone.
  static std::optional<address> parse(std::string_view host_port);
  // An IPv4 address from 4 bytes in network order, and a port.
  static address ipv4(const std::uint8_t (&ip)[4], std::uint16_t port) noexcept;
  // A Unix-domain address; a leading '@' names the abstract namespace.
  // Throws std::invalid_argument if the path is longer than 107 bytes.
  static address unix_path(std::string_view path);
  // Copies a kernel socket address. len must fit (at most 128 bytes).
  static address from_sockaddr(const ::sockaddr* sa, std::size_t len) noexcept;

  // AF_INET, AF_INET6, AF_UNIX, or 0 for the empty address.
  int family() const noexcept;
  // The port (0 for Unix addresses).
  std::uint16_t port() const noexcept;
  // The host without the port: "127.0.0.1", "::1", "fe80::1%eth0", the Unix
  // path or "@name". An IPv4-mapped IPv6 address shows as IPv4, as in Go.
  std::string host() const;
  // "127.0.0.1:80", "[::1]:80", "/run/app.sock", "@name"; "" when empty.
  std::string to_string() const;
  bool is_loopback() const noexcept;

  // The socket address as the system calls take it, and its length.
  const ::sockaddr* data() const noexcept;
  std::size_t size() const noexcept { return len_; }

  // Whether both hold the same socket address, byte for byte.
  friend bool operator==(const address& a, const address& b) noexcept;
  // Writes to_string().
  friend std::ostream& operator<<(std::ostream& os, const address& a);

 private:
  alignas(8) unsigned char storage_[128];
  std::uint32_t len_ = 0;
};

// Resolves "host:port" for a network ("tcp", "tcp4", "tcp6", "udp",
// "udp4", "udp6") into addresses to try in order. Numeric hosts are parsed
// in place; names ("localhost:8080") go through getaddrinfo inside
// goro::blocking, so the processor keeps serving while it runs. A port may be
// a service name ("http"). An empty host means the wildcard of the network
// ("[::]" for "tcp"/"udp" where IPv6 is available, else "0.0.0.0").
// Throws goro::net::error (op "lookup") if nothing is found, and
// split_host_port's errors.
// Thread-safe. Cost: none for numeric hosts; a getaddrinfo call otherwise.
std::vector<address> resolve(std::string_view network, std::string_view host_port);

// Splits "host:port", "[host]:port" or "[host%zone]:port" into host and port
// (Go's net.SplitHostPort); the views point into host_port. The host may be
// empty (":80"); an IPv6 host must be in brackets.
// Throws goro::net::error with op() "address" and one of errc::missing_port,
// ::too_many_colons, ::missing_bracket, ::unexpected_open_bracket,
// ::unexpected_close_bracket ("address ::1:80: too many colons in address").
// Thread-safe. Cost: a scan of the string.
std::pair<std::string_view, std::string_view> split_host_port(std::string_view host_port);

namespace detail {
struct NetFd;
}  // namespace detail

// ---------------------------------------------------------------------------
// The read buffer pool

// Size of a pooled buffer: small, as the reference advises for per-connection
// buffers, and one page.
inline constexpr std::size_t kPooledBufferSize = 4096;

// A 4 KiB buffer borrowed from the pool; given back when destroyed. Movable.
class pooled_buffer {
 public:
  pooled_buffer() noexcept = default;
  // Moves the buffer; the moved-from one is empty. Assigning gives back the
  // buffer held before.
  pooled_buffer(pooled_buffer&& o) noexcept : data_(std::exchange(o.data_, nullptr)) {}
  pooled_buffer& operator=(pooled_buffer&& o) noexcept {
    if (this != &o) {
      reset();
      data_ = std::exchange(o.data_, nullptr);
    }
    return *this;
  }
  ~pooled_buffer() { reset(); }

  // The buffer's bytes (null, and an empty span, when empty), its size
  // (always kPooledBufferSize), and whether it holds a buffer.
  std::byte* data() const noexcept { return data_; }
  static constexpr std::size_t size() noexcept { return kPooledBufferSize; }
  std::span<std::byte> span() const noexcept { return {data_, data_ ? kPooledBufferSize : 0}; }
  explicit operator bool() const noexcept { return data_ != nullptr; }
  // Gives the buffer back now.
  void reset() noexcept;

 private:
  friend pooled_buffer borrow_buffer();
  explicit pooled_buffer(std::byte* p) noexcept : data_(p) {}
  std::byte* data_ = nullptr;
};

// Borrows a buffer. Buffers are cached per worker thread (no lock, no atomic
// read-modify-write in the common case) with a bounded shared overflow
// list; at most 4 MiB of free buffers are kept.
// Throws std::bad_alloc. Thread-safe. Cost: a few nanoseconds when cached.
pooled_buffer borrow_buffer();

// The pool's figures (read_buffer_pool_stats); a racy snapshot.
struct buffer_pool_stats {
  std::int64_t borrowed = 0;    // buffers lent out now (idle connections: none)
  std::int64_t free = 0;        // buffers cached for reuse
  std::uint64_t allocated = 0;  // buffers ever allocated from the heap
};
// Sums the per-thread counters. Thread-safe. Cost: a lock and O(threads).
buffer_pool_stats read_buffer_pool_stats();

// ---------------------------------------------------------------------------
// Stream connections: TCP and Unix-domain

// A connected stream socket (Go's net.Conn, *net.TCPConn, *net.UnixConn).
//
// Thread-safety: every member may be called from several goroutines at once
// (reads are serialised with reads, writes with writes), except that the
// object must not be moved, assigned or destroyed while another call runs.
// All calls work on plain threads too.
class conn {
 public:
  conn() noexcept = default;
  // Moves the connection; the moved-from one is closed (operator bool is
  // false). Assigning closes the connection held before.
  conn(conn&& o) noexcept : fd_(std::exchange(o.fd_, nullptr)) {}
  conn& operator=(conn&& o) noexcept;
  // Closes the connection (errors are ignored).
  ~conn();

  // False for a default-constructed or moved-from conn.
  explicit operator bool() const noexcept { return fd_ != nullptr; }

  // Reads up to buf.size() bytes: parks until at least one byte is there,
  // the peer closed its side (returns 0: end of file) or the read deadline
  // passes (throws errc::timeout). An empty buf returns 0 at once.
  // Throws goro::net::error: errc::timeout, errc::closed, or an errno such
  // as ECONNRESET ("connection reset by peer").
  // Cost: one read(2) when data is waiting; else a park until it comes.
  std::size_t read(std::span<std::byte> buf);
  std::size_t read(std::span<char> buf) { return read(std::as_writable_bytes(buf)); }

  // Reads what is there without parking: std::nullopt if nothing is (0 is
  // end of file). Same errors as read().
  std::optional<std::size_t> try_read(std::span<std::byte> buf);

  // Fills buf completely. Throws errc::eof if the stream ended before the
  // first byte, errc::unexpected_eof if it ended later, and read()'s errors.
  void read_full(std::span<std::byte> buf);
  void read_full(std::span<char> buf) { read_full(std::as_writable_bytes(buf)); }

  // Returns once a read would make progress (data, end of file, an error),
  // the read deadline passed or the connection was closed (the next read
  // reports those). Parks only if the last read drained the socket; needs no
  // buffer, which is how idle connections hold none.
  // Cost: nothing if data may be waiting; else a park.
  void wait_readable();

  // Borrows a pooled 4 KiB buffer, reads into it, calls
  // consume(std::span<const std::byte>) with the bytes read (not called at
  // end of file) and gives the buffer back. If nothing is there yet, the
  // buffer goes back to the pool before the goroutine parks, so a waiting
  // connection holds none. Returns the number of bytes read, 0 at end of
  // file. Errors as read(); exceptions from consume propagate (the buffer
  // is given back).
  // Cost: read()'s plus a pool borrow and return (a few nanoseconds; the
  // pool is per thread).
  template <typename F>
  std::size_t read_some_pooled(F&& consume) {
    auto thunk = [](void* f, std::span<const std::byte> bytes) {
      (*static_cast<std::remove_reference_t<F>*>(f))(bytes);
    };
    return read_pooled_impl(thunk, std::addressof(consume));
  }

  // Writes some of buf (at least one byte unless buf is empty), parking
  // while the socket's send buffer is full. Returns the bytes written.
  // Throws goro::net::error: errc::timeout, errc::closed, EPIPE ("broken
  // pipe") after the peer closed, ECONNRESET... Never raises SIGPIPE.
  std::size_t write(std::span<const std::byte> buf);
  std::size_t write(std::string_view s) { return write(std::as_bytes(std::span<const char>(s))); }

  // Writes all of buf (Go's Write). On an error some prefix may have been
  // written. Errors as write().
  void write_all(std::span<const std::byte> buf);
  void write_all(std::string_view s) { write_all(std::as_bytes(std::span<const char>(s))); }

  // Half close: sends FIN after buffered data; reads still work (Go's
  // CloseWrite). Throws goro::net::error.
  void shutdown_write();
  // Stops reading: later reads return 0 (Go's CloseRead).
  void shutdown_read();

  // Closes the connection and wakes every goroutine blocked in it (they
  // throw errc::closed). Throws errc::closed if already closed. Thread-safe.
  // Cost: an epoll_ctl and close(2) once the last running call has returned.
  void close();

  // The connection's own and its peer's address.
  address local_address() const;
  address remote_address() const;
  // "tcp" or "unix".
  std::string_view network() const noexcept;

  // Deadlines (Go's SetDeadline, SetReadDeadline, SetWriteDeadline): an
  // absolute goro::clock time; clock::time_point{} means none. A time in the
  // past fails blocked and later calls at once with errc::timeout. Setting a
  // deadline wakes nothing that is not affected by it.
  // Thread-safe. Cost: a timer heap update, O(log timers).
  void set_deadline(clock::time_point t);
  void set_read_deadline(clock::time_point t);
  void set_write_deadline(clock::time_point t);

  // TCP_NODELAY (on by default, as in Go: writes go out at once).
  void set_no_delay(bool on);
  // SO_KEEPALIVE, with the idle time and probe interval set to `period`
  // (Go's SetKeepAlive / SetKeepAlivePeriod). period 0 keeps the system's.
  void set_keep_alive(bool on, std::chrono::seconds period = std::chrono::seconds(0));
  // SO_LINGER: std::nullopt restores the default (close returns at once,
  // data is sent in the background); 0 makes close() send a reset (RST) and
  // discard unsent data (Go's SetLinger(0)).
  void set_linger(std::optional<std::chrono::seconds> linger);

  // The socket descriptor, for options goro does not wrap. Do not close it
  // or make it blocking. -1 if not open.
  int native_handle() const noexcept;

  // Internal: adopts a registered descriptor.
  explicit conn(detail::NetFd* fd) noexcept : fd_(fd) {}

 private:
  std::size_t read_pooled_impl(void (*consume)(void*, std::span<const std::byte>), void* ctx);
  detail::NetFd* fd_ = nullptr;
};

// ---------------------------------------------------------------------------
// Listeners

class listener;

// How to listen (Go's net.ListenConfig). An aggregate: set the fields, then
// call listen(). Copyable; listen() is const and thread-safe.
struct listen_config {
  // SO_REUSEPORT: several listeners (processes) share the port and the
  // kernel spreads connections over them.
  bool reuse_port = false;
  // Accept queue length; 0 uses /proc/sys/net/core/somaxconn, as Go does.
  int backlog = 0;
  // TCP keep-alive of accepted connections, as Go's ListenConfig.KeepAlive:
  // probes after 15 s idle by default. Unlike Go, where 0 means the default,
  // 0 (or a negative period) turns keep-alive off.
  std::chrono::seconds keep_alive = std::chrono::seconds(15);
  // Called (on the accepting goroutine) each time accept() backs off because
  // the process or system is out of descriptors or memory, with the error
  // and the pause; for logging ("accept: too many open files; retrying in
  // 10ms").
  std::function<void(const error&, std::chrono::milliseconds)> on_accept_error;

  // goro::net::listen(network, address, *this).
  listener listen(std::string_view network, std::string_view address) const;
  // As listen(network, address), first failing with errc::canceled (or
  // errc::timeout for a passed deadline) if ctx is already done, as Go's
  // ListenConfig.Listen does; ctx does not affect the listener afterwards.
  listener listen(const context& ctx, std::string_view network, std::string_view address) const;
};

// The name listen() options had before listen_config gained its methods.
using listen_options = listen_config;

// A listening stream socket (Go's net.Listener). Thread-safety as conn.
class listener {
 public:
  listener() noexcept = default;
  // Moves the listener; the moved-from one is closed (operator bool is
  // false). Assigning closes the listener held before.
  listener(listener&& o) noexcept;
  listener& operator=(listener&& o) noexcept;
  ~listener();

  // Whether this holds an open listener.
  explicit operator bool() const noexcept { return fd_ != nullptr; }

  // Waits for and returns the next connection. Accepted TCP connections
  // have TCP_NODELAY and keep-alive (see listen_config) set, like Go's.
  //
  // Out of descriptors or memory (EMFILE, ENFILE, ENOBUFS, ENOMEM) it
  // does not fail: it calls on_accept_error, sleeps 5 ms, doubling up to 1 s
  // while the condition lasts (Go's net/http Server.Serve), and tries again,
  // so existing connections keep being served and the server recovers when
  // descriptors are freed. close() interrupts the pause within 50 ms.
  // Throws goro::net::error: errc::closed after close(), errc::timeout
  // after the deadline, other errnos.
  // Cost: accept4(2) and one epoll_ctl per connection; a park while none
  // is pending.
  conn accept();

  // Stops listening and wakes a blocked accept() (errc::closed). A Unix
  // listener removes its socket file, as Go's does. Throws errc::closed if
  // already closed.
  void close();

  // The address it listens on (with the port the kernel picked for ":0"),
  // and its network: "tcp" or "unix".
  address local_address() const;
  std::string_view network() const noexcept;
  // Deadline for accept() (Go's TCPListener.SetDeadline).
  void set_deadline(clock::time_point t);
  // Times accept() has backed off so far.
  std::uint64_t accept_backoffs() const noexcept;
  int native_handle() const noexcept;

 private:
  friend listener listen(std::string_view, std::string_view, const listen_config&);
  struct State;
  detail::NetFd* fd_ = nullptr;
  State* state_ = nullptr;
};

// Listens on a stream network: "tcp" (dual-stack on "[::]" when the host is
// empty), "tcp4", "tcp6" or "unix" (address is a path, or "@name" for the
// abstract namespace). ":0" picks a free port: read it with local_address().
// TCP listeners set SO_REUSEADDR, as Go's do.
// Throws goro::net::error ("listen tcp 127.0.0.1:80: address already in use",
// "permission denied", ...), std::invalid_argument for an unknown network.
listener listen(std::string_view network, std::string_view address, const listen_config& opts = {});

// How to connect (Go's net.Dialer). An aggregate: set the fields, then call
// dial() or dial_context(). Copyable; its methods are const and thread-safe.
//
//   goro::net::dialer d;
//   d.timeout = 2s;
//   goro::net::conn c = d.dial_context(ctx, "tcp", "db.internal:5432");
//
// Limits combine as in Go: the earliest of now + timeout, deadline and the
// context's deadline bounds the connection attempts (a name lookup is not
// interrupted; with several addresses each attempt gets a share of what is
// left, at least 2 s when there is that much). A limit that has already passed, including a
// negative timeout, fails at once with errc::timeout.
struct dialer {
  // Zero: no limit of its own. Negative: already expired.
  clock::duration timeout = clock::duration::zero();
  // clock::time_point{}: none.
  clock::time_point deadline = clock::time_point{};
  // TCP keep-alive of the connection: probes after this much idle time
  // (15 s by default, as Go's). Unlike Go, where 0 means the default, 0 (or
  // a negative period) turns keep-alive off.
  std::chrono::seconds keep_alive = std::chrono::seconds(15);
  // The local address to bind before connecting (Go's Dialer.LocalAddr);
  // the empty address lets the kernel choose. Port 0 picks a free port.
  address local_address;

  // Connects to address on "tcp", "tcp4", "tcp6" or "unix", trying each
  // resolved address in turn until one answers. TCP connections get
  // TCP_NODELAY and keep_alive, as Go's Dial does.
  // Throws goro::net::error: "dial tcp 127.0.0.1:1: connection refused",
  // errc::timeout ("i/o timeout"), address and lookup errors;
  // std::invalid_argument for an unknown network.
  // Cost: socket(2), connect(2), one epoll_ctl, a park until the handshake
  // completes.
  conn dial(std::string_view network, std::string_view address) const;

  // As dial(), also bounded by ctx (Go's DialContext): if ctx is cancelled
  // before the connection is made the dial stops and throws errc::canceled
  // ("dial tcp 10.0.0.1:80: operation was canceled"); if its deadline
  // passes, errc::timeout. A connection already made is not affected by ctx
  // afterwards.
  // Cost: dial()'s; with a cancellable ctx, also one goroutine that watches
  // it while the handshake is in flight (Go does the same). In a goroutine
  // a cancellation wakes the dial at once; on a plain thread only a deadline
  // does, and a cancellation is seen when the handshake ends.
  conn dial_context(const context& ctx, std::string_view network, std::string_view address) const;
};

// dialer{.timeout = timeout}.dial(network, address): a zero timeout means no
// limit but the operating system's, a negative one fails at once with
// errc::timeout (Go's DialTimeout).
conn dial(std::string_view network, std::string_view address,
          clock::duration timeout = clock::duration::zero());

// dialer{}.dial_context(ctx, network, address) (Go's net.Dialer{}.DialContext).
conn dial_context(const context& ctx, std::string_view network, std::string_view address);

// ---------------------------------------------------------------------------
// Datagrams: UDP

// A UDP socket (Go's net.PacketConn, *net.UDPConn). Thread-safety as conn.
class packet_conn {
 public:
  packet_conn() noexcept = default;
  // Moves the socket; the moved-from one is closed (operator bool is false).
  // Assigning closes the socket held before.
  packet_conn(packet_conn&& o) noexcept : fd_(std::exchange(o.fd_, nullptr)) {}
  packet_conn& operator=(packet_conn&& o) noexcept;
  ~packet_conn();

  // Whether this holds an open socket.
  explicit operator bool() const noexcept { return fd_ != nullptr; }

  // Receives one datagram into buf (a longer one is truncated, as Go's)
  // and stores its sender in `from`. Parks until one arrives or the read
  // deadline passes. Returns the bytes stored. Errors as conn::read.
  std::size_t read_from(std::span<std::byte> buf, address& from);
  std::size_t read_from(std::span<char> buf, address& from) {
    return read_from(std::as_writable_bytes(buf), from);
  }

  // Sends buf as one datagram to `to`. Returns buf.size(). Throws
  // goro::net::error (EMSGSIZE for a datagram too large, errc::timeout...).
  std::size_t write_to(std::span<const std::byte> buf, const address& to);
  std::size_t write_to(std::string_view s, const address& to) {
    return write_to(std::as_bytes(std::span<const char>(s)), to);
  }

  // As conn's: close() wakes blocked calls (errc::closed); the address it is
  // bound to; deadlines for reads and writes (both, or each); the file
  // descriptor, which stays owned by the socket.
  void close();
  address local_address() const;
  void set_deadline(clock::time_point t);
  void set_read_deadline(clock::time_point t);
  void set_write_deadline(clock::time_point t);
  int native_handle() const noexcept;

  // Takes over a socket the runtime opened (listen_packet); not for users.
  explicit packet_conn(detail::NetFd* fd) noexcept : fd_(fd) {}

 private:
  detail::NetFd* fd_ = nullptr;
};

// Opens a UDP socket bound to address on "udp", "udp4" or "udp6"
// (":0": any free port). Throws goro::net::error, std::invalid_argument.
packet_conn listen_packet(std::string_view network, std::string_view address);

}  // namespace goro::net

namespace std {
template <>
struct is_error_code_enum<goro::net::errc> : true_type {};
}  // namespace std
