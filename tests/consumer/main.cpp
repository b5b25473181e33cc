// A program outside the goro tree: built by tests/consumer/check.sh against an
// installed goro (find_package, pkg-config) and against the source tree
// (add_subdirectory).
#include <goro/goro.hpp>

int main() {
  return goro::run([] { goro::go([] {}); });
}
