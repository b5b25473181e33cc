// net/error.cpp: goro::net::error and the "goro.net" error category.
//
// Messages follow Go's *net.OpError: "<op> <net> <address>: <reason>",
// with the reason in lower case as Go prints it ("connection refused",
// not strerror's "Connection refused"). errc::timeout is equivalent to
// std::errc::timed_out so that callers can test either; errc::canceled is
// std::errc::operation_canceled and the address errors std::errc::invalid_argument.
#include "net/netfd.hpp"

#include <goro/net.hpp>

#include <cctype>
#include <string>

namespace goro::net {

namespace {

class NetCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "goro.net"; }

  std::string message(int ev) const override {
    switch (static_cast<errc>(ev)) {
      case errc::timeout:
        return "i/o timeout";
      case errc::closed:
        return "use of closed network connection";
      case errc::eof:
        return "EOF";
      case errc::unexpected_eof:
        return "unexpected EOF";
      case errc::buffer_full:
        return "buffer full";
      case errc::no_such_host:
        return "no such host";
      case errc::canceled:
        return "operation was canceled";
      case errc::missing_port:
        return "missing port in address";
      case errc::too_many_colons:
        return "too many colons in address";
      case errc::missing_bracket:
        return "missing ']' in address";
      case errc::unexpected_open_bracket:
        return "unexpected '[' in address";
      case errc::unexpected_close_bracket:
        return "unexpected ']' in address";
    }
    return "unknown goro.net error " + std::to_string(ev);
  }

  std::error_condition default_error_condition(int ev) const noexcept override {
    switch (static_cast<errc>(ev)) {
      case errc::timeout:
        return std::errc::timed_out;
      case errc::canceled:
        return std::errc::operation_canceled;
      case errc::missing_port:
      case errc::too_many_colons:
      case errc::missing_bracket:
      case errc::unexpected_open_bracket:
      case errc::unexpected_close_bracket:
        return std::errc::invalid_argument;
      default:
        return {ev, *this};
    }
  }
};

// strerror's text, lower-cased at the start as Go's syscall errors are
// ("Connection refused" -> "connection refused"), unless the second letter
// is upper case too (an acronym).
std::string reason(const std::error_code& ec) {
  std::string m = ec.message();
  if (m.size() >= 2 && std::isupper(static_cast<unsigned char>(m[0])) &&
      !std::isupper(static_cast<unsigned char>(m[1]))) {
    m[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(m[0])));
  }
  return m;
}

std::string format(const std::string& op, const std::string& net, const std::string& address,
                   const std::error_code& ec) {
  std::string s = op;
  if (!net.empty()) s += " " + net;
  if (!address.empty()) s += " " + address;
  s += ": ";
  s += reason(ec);
  return s;
}

}  // namespace

const std::error_category& net_category() noexcept {
  static const NetCategory category;
  return category;
}

std::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), net_category()};
}

error::error(std::error_code ec, std::string op, std::string net, std::string address)
    : std::system_error(ec),
      op_(std::move(op)),
      net_(std::move(net)),
      address_(std::move(address)),
      what_(format(op_, net_, address_, ec)) {}

bool error::timeout() const noexcept {
  return code() == errc::timeout;
}

namespace detail {

std::error_code net_error_of_context(std::error_code ctx_err) noexcept {
  if (ctx_err == context_errc::deadline_exceeded) return make_error_code(errc::timeout);
  return make_error_code(errc::canceled);
}

}  // namespace detail

}  // namespace goro::net
