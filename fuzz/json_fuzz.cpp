// fuzz/json_fuzz.cpp: libFuzzer target for goro::json.
//
// For every input it checks what the tests check on fixed inputs:
//   - the recursive and the iterative mode agree exactly (the same value, or
//     the same error code, byte offset, line, column and message), at the
//     default max_depth and at a small one taken from the input, so the
//     depth-limit paths are fuzzed too;
//   - an error points inside the input and its line and column match its
//     offset;
//   - an accepted document serializes to text that parses back to an equal
//     value, and serializing that gives the same text again;
//   - a copy of the value compares equal.
// Any disagreement aborts, which libFuzzer reports as a crash with the input.
//
// The checks run on a helper thread with a 128 KiB stack, so that inputs
// nested a few hundred levels deep already make the recursive mode continue
// on goro stack segments (grow_if_needed) and those are fuzzed as well.
// Built with -fsanitize=fuzzer,address,undefined (fuzz/CMakeLists.txt); run
// by fuzz/run.sh.
#include <pthread.h>
#include <goro/json.hpp>

#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <string_view>

namespace json = goro::json;

namespace {

[[noreturn]] void fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "json_fuzz: %s\n%s\n", what, detail.c_str());
  std::abort();
}

std::string describe(const json::result<json::value>& r) {
  return r ? "value: " + json::to_string(*r) : "error: " + r.error().what();
}

void check_location(std::string_view text, const json::parse_error& e) {
  if (e.offset > text.size()) fail("error offset past the end", e.what());
  std::size_t line = 1, column = 1;
  for (std::size_t i = 0; i < e.offset; ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  if (e.line != line || e.column != column) fail("line/column do not match the offset", e.what());
  if (e.message.empty()) fail("empty error message", e.what());
}

void check_round_trip(const json::value& v) {
  const std::string out = json::to_string(v);
  const auto again = json::parse(out, {.max_depth = SIZE_MAX, .mode = json::parse_mode::iterative});
  if (!again) fail("serialized value does not parse", out + "\n" + again.error().what());
  if (!(*again == v)) fail("round trip changed the value", out);
  if (json::to_string(*again) != out) fail("serializing twice gave different text", out);
  const json::value copy = v;
  if (!(copy == v)) fail("copy differs", out);
}

void check_modes_agree(std::string_view text, std::size_t max_depth) {
  const auto rec = json::parse(text, {.max_depth = max_depth, .mode = json::parse_mode::recursive});
  const auto it = json::parse(text, {.max_depth = max_depth, .mode = json::parse_mode::iterative});
  if (rec.has_value() != it.has_value() || (rec && !(*rec == *it)) ||
      (!rec && !(rec.error() == it.error()))) {
    fail("recursive and iterative modes disagree",
         "recursive " + describe(rec) + "\niterative " + describe(it));
  }
  if (rec) {
    check_round_trip(*rec);
  } else {
    check_location(text, rec.error());
  }
}

void check(std::string_view text) {
  check_modes_agree(text, json::options{}.max_depth);
  if (!text.empty()) check_modes_agree(text, static_cast<unsigned char>(text.back()) % 6);  // limits 0..5
}

// One long-lived thread with a small stack that runs check() for each input.
class SmallStackThread {
 public:
  static constexpr std::size_t kStackBytes = 128 * 1024;

  SmallStackThread() {
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, kStackBytes);
    if (pthread_create(&thread_, &attr, &SmallStackThread::main, this) != 0) fail("pthread_create", "");
    pthread_attr_destroy(&attr);
  }

  void run(std::string_view text) {
    std::unique_lock lock(mu_);
    input_ = text;
    pending_ = true;
    cv_.notify_all();
    cv_.wait(lock, [this] { return !pending_; });
  }

 private:
  static void* main(void* self) {
    auto* t = static_cast<SmallStackThread*>(self);
    for (;;) {
      std::unique_lock lock(t->mu_);
      t->cv_.wait(lock, [t] { return t->pending_; });
      check(t->input_);
      t->pending_ = false;
      t->cv_.notify_all();
    }
  }

  pthread_t thread_{};
  std::mutex mu_;
  std::condition_variable cv_;
  std::string_view input_;
  bool pending_ = false;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static SmallStackThread* runner = new SmallStackThread();  // lives as long as the process
  runner->run(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
