// A program outside the goro tree: built by tests/consumer/check.sh against an
// installed goro (find_package, pkg-config, an extracted .deb or .tar.gz) and
// against the source tree (add_subdirectory), with -Wall -Wextra -Wshadow
// -Wconversion -Werror. It touches the templates most programs instantiate
// (chan, select, context), so their code is checked under those warnings too.
#include <goro/goro.hpp>

#include <cstdio>
#include <optional>

int main() {
  int sum = 0;
  int rc = goro::run([&] {
    goro::chan<int> numbers(4);
    goro::go([&] {
      for (int i = 1; i <= 4; ++i) numbers.send(i);
      numbers.close();
    });
    goro::context ctx = goro::context::background();
    for (bool open = true; open;) {
      goro::select(goro::on_recv(numbers,
                                 [&](std::optional<int> v) {
                                   if (v) sum += *v;
                                   open = v.has_value();
                                 }),
                   goro::on_recv(ctx.done(), [&] { open = false; }));
    }
  });
  std::printf("consumer: sum %d\n", sum);
  return rc == 0 && sum == 10 ? 0 : 1;
}
