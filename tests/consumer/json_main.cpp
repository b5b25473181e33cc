// A program outside the goro tree using goro::json: parses a document on a
// goroutine, serializes it back and checks the round trip. Built like main.cpp
// (find_package: goro::json; pkg-config: goro-json).
#include <goro/goro.hpp>
#include <goro/json.hpp>

#include <cstdio>
#include <string>

int main() {
  const std::string text = R"({"name":"goro","tags":["go","c++"],"n":12345678901234})";
  std::string out;
  int rc = goro::run([&] {
    goro::json::result<goro::json::value> doc = goro::json::parse(text);
    if (!doc) {
      std::printf("consumer_json: %s\n", doc.error().what().c_str());
      return;
    }
    out = goro::json::to_string(*doc);
  });
  std::printf("consumer_json: %s\n", out.c_str());
  return rc == 0 && out == text ? 0 : 1;
}
