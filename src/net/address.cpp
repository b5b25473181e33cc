// net/address.cpp: socket addresses, "host:port" parsing and name lookup.
//
// An address is a copy of a kernel sockaddr (at most 128 bytes), so it goes
// to bind/connect/sendto as it is. Numeric hosts are parsed here without a
// system call; names go through getaddrinfo inside goro::blocking, which
// hands the processor to another worker while the lookup blocks the thread
// (Go's cgo resolver does the same).
#include <goro/blocking.hpp>
#include <goro/net.hpp>

#include <arpa/inet.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <cstddef>
#include <cstring>
#include <ostream>
#include <stdexcept>

namespace goro::net {

namespace {

constexpr std::size_t kUnixPathOffset = offsetof(sockaddr_un, sun_path);
constexpr std::size_t kUnixPathMax = sizeof(sockaddr_un::sun_path) - 1;

// Splits "host:port" / "[host]:port" as Go's SplitHostPort does, returning
// the error it would (empty: split). A bare IPv6 address without brackets
// has too many colons.
std::error_code split(std::string_view hp, std::string_view& host, std::string_view& port) {
  std::size_t colon = hp.rfind(':');
  if (colon == std::string_view::npos) return make_error_code(errc::missing_port);
  std::size_t host_from = 0, after_host = 0;  // where '[' and ']' may no longer appear
  if (hp[0] == '[') {
    std::size_t close = hp.find(']');
    if (close == std::string_view::npos) return make_error_code(errc::missing_bracket);
    if (close + 1 != colon) {
      // "[::1]" or "[::1]x:80": no port right after the bracket.
      bool colon_follows = close + 1 < hp.size() && hp[close + 1] == ':';
      return make_error_code(colon_follows ? errc::too_many_colons : errc::missing_port);
    }
    host = hp.substr(1, close - 1);
    host_from = 1;
    after_host = close + 1;
  } else {
    host = hp.substr(0, colon);
    if (host.find(':') != std::string_view::npos) return make_error_code(errc::too_many_colons);
  }
  if (hp.find('[', host_from) != std::string_view::npos)
    return make_error_code(errc::unexpected_open_bracket);
  if (hp.find(']', after_host) != std::string_view::npos)
    return make_error_code(errc::unexpected_close_bracket);
  port = hp.substr(colon + 1);
  return {};
}

bool split_host_port(std::string_view hp, std::string_view& host, std::string_view& port) {
  return !split(hp, host, port);
}

std::optional<std::uint16_t> parse_port(std::string_view s) {
  if (s.empty() || s.size() > 5) return std::nullopt;
  unsigned v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<unsigned>(c - '0');
  }
  if (v > 65535) return std::nullopt;
  return static_cast<std::uint16_t>(v);
}

// inet_pton wants a NUL-terminated string.
bool parse_ip(std::string_view host, int family, void* out) {
  char buf[INET6_ADDRSTRLEN + 1];
  if (host.size() >= sizeof buf) return false;
  std::memcpy(buf, host.data(), host.size());
  buf[host.size()] = '\0';
  return ::inet_pton(family, buf, out) == 1;
}

std::optional<std::uint32_t> parse_zone(std::string_view zone) {
  if (zone.empty()) return std::nullopt;
  if (auto n = parse_port(zone)) return *n;  // numeric zone
  char name[IF_NAMESIZE + 1];
  if (zone.size() > IF_NAMESIZE) return std::nullopt;
  std::memcpy(name, zone.data(), zone.size());
  name[zone.size()] = '\0';
  unsigned index = ::if_nametoindex(name);
  if (index == 0) return std::nullopt;
  return index;
}

std::optional<address> make_ip(std::string_view host, std::uint16_t port) {
  if (host.empty()) host = "0.0.0.0";
  sockaddr_in v4{};
  if (parse_ip(host, AF_INET, &v4.sin_addr)) {
    v4.sin_family = AF_INET;
    v4.sin_port = htons(port);
    return address::from_sockaddr(reinterpret_cast<const sockaddr*>(&v4), sizeof v4);
  }
  sockaddr_in6 v6{};
  std::string_view ip = host;
  std::size_t pct = host.find('%');
  if (pct != std::string_view::npos) {
    auto zone = parse_zone(host.substr(pct + 1));
    if (!zone) return std::nullopt;
    v6.sin6_scope_id = *zone;
    ip = host.substr(0, pct);
  }
  if (!parse_ip(ip, AF_INET6, &v6.sin6_addr)) return std::nullopt;
  v6.sin6_family = AF_INET6;
  v6.sin6_port = htons(port);
  return address::from_sockaddr(reinterpret_cast<const sockaddr*>(&v6), sizeof v6);
}

bool ipv6_available() {
  static const bool ok = [] {
    int s = ::socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0) return false;
    ::close(s);
    return true;
  }();
  return ok;
}

// The address family a network allows (AF_UNSPEC: either).
int network_family(std::string_view network) {
  if (network == "tcp" || network == "udp") return AF_UNSPEC;
  if (network == "tcp4" || network == "udp4") return AF_INET;
  if (network == "tcp6" || network == "udp6") return AF_INET6;
  throw std::invalid_argument("goro::net: unknown network \"" + std::string(network) + "\"");
}

bool is_udp(std::string_view network) {
  return network.substr(0, 3) == "udp";
}

[[noreturn]] void throw_lookup(std::error_code ec, std::string_view host) {
  throw error(ec, "lookup", "", std::string(host));
}

std::error_code gai_error(int rc, int saved_errno) {
  switch (rc) {
    case EAI_SYSTEM:
      return {saved_errno, std::system_category()};
    case EAI_AGAIN:
      return std::make_error_code(std::errc::resource_unavailable_try_again);
    case EAI_MEMORY:
      return std::make_error_code(std::errc::not_enough_memory);
    case EAI_SERVICE:
    case EAI_SOCKTYPE:
    case EAI_FAMILY:
      return std::make_error_code(std::errc::invalid_argument);
    default:  // EAI_NONAME, EAI_NODATA, EAI_FAIL, ...
      return make_error_code(errc::no_such_host);
  }
}

std::vector<address> lookup(std::string_view network, std::string_view host, std::string_view port,
                            int family) {
  std::string h(host), p(port);
  addrinfo hints{};
  hints.ai_family = family;
  hints.ai_socktype = is_udp(network) ? SOCK_DGRAM : SOCK_STREAM;
  addrinfo* res = nullptr;
  int saved_errno = 0;
  int rc = goro::blocking([&] {
    int r = ::getaddrinfo(h.empty() ? nullptr : h.c_str(), p.c_str(), &hints, &res);
    saved_errno = errno;
    return r;
  });
  if (rc != 0) throw_lookup(gai_error(rc, saved_errno), host.empty() ? port : host);
  std::vector<address> out;
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6) continue;
    address a = address::from_sockaddr(ai->ai_addr, ai->ai_addrlen);
    bool dup = false;
    for (const address& o : out) dup = dup || o == a;
    if (!dup) out.push_back(a);
  }
  ::freeaddrinfo(res);
  if (out.empty()) throw_lookup(make_error_code(errc::no_such_host), host);
  return out;
}

}  // namespace

address::address() noexcept {
  std::memset(storage_, 0, sizeof storage_);
}

std::optional<address> address::parse(std::string_view host_port) {
  std::string_view host, port;
  if (!split_host_port(host_port, host, port)) return std::nullopt;
  auto p = parse_port(port);
  if (!p) return std::nullopt;
  return make_ip(host, *p);
}

address address::ipv4(const std::uint8_t (&ip)[4], std::uint16_t port) noexcept {
  sockaddr_in v4{};
  v4.sin_family = AF_INET;
  v4.sin_port = htons(port);
  std::memcpy(&v4.sin_addr, ip, 4);
  return from_sockaddr(reinterpret_cast<const sockaddr*>(&v4), sizeof v4);
}

address address::unix_path(std::string_view path) {
  if (path.size() > kUnixPathMax) {
    throw std::invalid_argument("goro::net: Unix socket path longer than 107 bytes: " + std::string(path));
  }
  sockaddr_un un{};
  un.sun_family = AF_UNIX;
  std::size_t len = kUnixPathOffset + path.size();
  if (!path.empty() && path[0] == '@') {
    // Abstract namespace: a leading NUL, and the length counts the name
    // exactly (no terminator).
    un.sun_path[0] = '\0';
    std::memcpy(un.sun_path + 1, path.data() + 1, path.size() - 1);
  } else {
    std::memcpy(un.sun_path, path.data(), path.size());
    len += 1;  // the terminating NUL
  }
  return from_sockaddr(reinterpret_cast<const sockaddr*>(&un), len);
}

address address::from_sockaddr(const ::sockaddr* sa, std::size_t len) noexcept {
  address a;
  if (len > sizeof a.storage_) len = sizeof a.storage_;
  std::memcpy(a.storage_, sa, len);
  a.len_ = static_cast<std::uint32_t>(len);
  return a;
}

int address::family() const noexcept {
  if (len_ < sizeof(sa_family_t)) return 0;
  return reinterpret_cast<const sockaddr*>(storage_)->sa_family;
}

const ::sockaddr* address::data() const noexcept {
  return reinterpret_cast<const sockaddr*>(storage_);
}

std::uint16_t address::port() const noexcept {
  switch (family()) {
    case AF_INET:
      return ntohs(reinterpret_cast<const sockaddr_in*>(storage_)->sin_port);
    case AF_INET6:
      return ntohs(reinterpret_cast<const sockaddr_in6*>(storage_)->sin6_port);
    default:
      return 0;
  }
}

std::string address::host() const {
  char buf[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
  switch (family()) {
    case AF_INET: {
      auto* v4 = reinterpret_cast<const sockaddr_in*>(storage_);
      return ::inet_ntop(AF_INET, &v4->sin_addr, buf, sizeof buf);
    }
    case AF_INET6: {
      auto* v6 = reinterpret_cast<const sockaddr_in6*>(storage_);
      if (IN6_IS_ADDR_V4MAPPED(&v6->sin6_addr))
        return ::inet_ntop(AF_INET, &v6->sin6_addr.s6_addr[12], buf, sizeof buf);
      std::string s = ::inet_ntop(AF_INET6, &v6->sin6_addr, buf, sizeof buf);
      if (v6->sin6_scope_id != 0) {
        char name[IF_NAMESIZE];
        s += '%';
        s += ::if_indextoname(v6->sin6_scope_id, name) != nullptr ? std::string(name)
                                                                  : std::to_string(v6->sin6_scope_id);
      }
      return s;
    }
    case AF_UNIX: {
      auto* un = reinterpret_cast<const sockaddr_un*>(storage_);
      if (len_ <= kUnixPathOffset) return "";  // unnamed (an accepted or unbound socket)
      std::size_t n = len_ - kUnixPathOffset;
      if (un->sun_path[0] == '\0') {
        std::string s(1, '@');
        s.append(un->sun_path + 1, n - 1);
        return s;
      }
      return std::string(un->sun_path, strnlen(un->sun_path, n));
    }
    default:
      return "";
  }
}

std::string address::to_string() const {
  // Built by appending: GCC 12 at -O3 warns (-Wrestrict, a false positive)
  // on "[" + std::string + "]:" chains.
  std::string s;
  switch (family()) {
    case AF_INET:
      s = host();
      break;
    case AF_INET6: {
      auto* v6 = reinterpret_cast<const sockaddr_in6*>(storage_);
      if (IN6_IS_ADDR_V4MAPPED(&v6->sin6_addr)) {
        s = host();
      } else {
        s.push_back('[');
        s += host();
        s.push_back(']');
      }
      break;
    }
    default:
      return host();
  }
  s += ':';
  s += std::to_string(port());
  return s;
}

bool address::is_loopback() const noexcept {
  switch (family()) {
    case AF_INET:
      return (ntohl(reinterpret_cast<const sockaddr_in*>(storage_)->sin_addr.s_addr) >> 24) == 127;
    case AF_INET6: {
      auto* a = &reinterpret_cast<const sockaddr_in6*>(storage_)->sin6_addr;
      return IN6_IS_ADDR_LOOPBACK(a) || (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
    }
    default:
      return false;
  }
}

bool operator==(const address& a, const address& b) noexcept {
  return a.len_ == b.len_ && std::memcmp(a.storage_, b.storage_, a.len_) == 0;
}

std::ostream& operator<<(std::ostream& os, const address& a) {
  return os << a.to_string();
}

std::pair<std::string_view, std::string_view> split_host_port(std::string_view host_port) {
  std::string_view host, port;
  if (std::error_code ec = split(host_port, host, port))
    throw error(ec, "address", "", std::string(host_port));
  return {host, port};
}

std::vector<address> resolve(std::string_view network, std::string_view host_port) {
  int family = network_family(network);
  auto [host, port] = split_host_port(host_port);
  auto numeric_port = parse_port(port);
  if (!numeric_port) return lookup(network, host, port, family);
  std::uint16_t p = *numeric_port;
  if (host.empty()) {
    // The wildcard: dual-stack "[::]" unless the network says IPv4.
    bool v6 = family == AF_INET6 || (family == AF_UNSPEC && ipv6_available());
    return {*make_ip(v6 ? "::" : "0.0.0.0", p)};
  }
  if (auto a = make_ip(host, p)) {
    if (family != AF_UNSPEC && a->family() != family) {
      throw error(std::make_error_code(std::errc::address_family_not_supported), "address",
                  std::string(network), std::string(host_port));
    }
    return {*a};
  }
  return lookup(network, host, port, family);
}

}  // namespace goro::net
