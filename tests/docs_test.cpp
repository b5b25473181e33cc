// Figures the documentation states and the code can report: each doc that
// states one must state the value the library reports. The docs are read from
// the source tree (GORO_DOCS_ROOT); a figure is found by the wording the docs
// use for it, so a doc that changes the figure without the code (or the code
// without the docs) fails here, naming the file and the sentence.
// g++ 12's std::regex trips -Wmaybe-uninitialized inside libstdc++ at -O1
// with ASan (a false positive in std::function's move); it is not this
// file's code, so it is silenced for the headers below only.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <regex>
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

#include <gtest/gtest.h>
#include <goro/goro.hpp>

#include <cstddef>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace {

constexpr std::size_t kKiB = 1024;
constexpr std::size_t kMiB = 1024 * kKiB;

struct Doc {
  std::string path;
  std::string text;
};

// README.md and docs/*.md.
std::vector<Doc> read_docs() {
  namespace fs = std::filesystem;
  const fs::path root = GORO_DOCS_ROOT;
  std::vector<fs::path> paths{root / "README.md"};
  for (const auto& e : fs::directory_iterator(root / "docs")) {
    if (e.path().extension() == ".md") paths.push_back(e.path());
  }
  std::vector<Doc> docs;
  for (const auto& p : paths) {
    std::ifstream in(p);
    std::stringstream ss;
    ss << in.rdbuf();
    // One space for every run of white space, so a figure wrapped across lines matches.
    docs.push_back({fs::relative(p, root).string(), std::regex_replace(ss.str(), std::regex(R"(\s+)"), " ")});
  }
  return docs;
}

struct Claim {
  std::string where;  // file and the matched words
  std::size_t value;  // the number the doc states
};

// Every match of `pattern` in the docs (white space normalized to one space);
// its first group is a number.
std::vector<Claim> claims(const std::vector<Doc>& docs, const std::string& pattern) {
  const std::regex re(pattern, std::regex::icase);
  std::vector<Claim> out;
  for (const auto& d : docs) {
    for (auto it = std::sregex_iterator(d.text.begin(), d.text.end(), re); it != std::sregex_iterator();
         ++it) {
      out.push_back({d.path + ": \"" + it->str() + "\"", std::stoul((*it)[1].str())});
    }
  }
  return out;
}

TEST(Docs, DefaultStackCeilingIsWhatMaxStackReports) {
  const auto docs = read_docs();
  // "default stack ceiling (goro::max_stack()) is 208 KiB", "the default 208 KiB stack", ...
  auto found = claims(docs, R"(default (?:stack )?(?:ceiling|limit)[^.|]{0,40}?\b(\d+) KiB)");
  const auto more = claims(docs, R"(default (\d+) KiB (?:stack|ceiling|limit))");
  found.insert(found.end(), more.begin(), more.end());
  ASSERT_FALSE(found.empty()) << "no doc states the default stack ceiling";
  for (const auto& c : found) EXPECT_EQ(c.value * kKiB, goro::max_stack()) << c.where;
}

TEST(Docs, StackRetainTargetIsWhatTheLibraryReports) {
  if (std::getenv("GORO_STACK_RETAIN") != nullptr) GTEST_SKIP() << "GORO_STACK_RETAIN is set";
  const auto found = claims(read_docs(), R"(retain[^.|]{0,80}?\b(\d+) MiB,? by default)");
  ASSERT_FALSE(found.empty()) << "no doc states the default retained stack target";
  for (const auto& c : found) EXPECT_EQ(c.value * kMiB, goro::stack_retain_target()) << c.where;
}

TEST(Docs, SmallestStackCeilingIsWhatSetMaxStackKeeps) {
  const auto found = claims(read_docs(), R"(ceilings? below (\d+) KiB are raised)");
  ASSERT_FALSE(found.empty()) << "no doc states the smallest stack ceiling";
  const std::size_t before = goro::set_max_stack(1);
  const std::size_t smallest = goro::max_stack();
  goro::set_max_stack(before);
  for (const auto& c : found) EXPECT_EQ(c.value * kKiB, smallest) << c.where;
}

TEST(Docs, SystemStackSizeIsWhatOnSystemStackGives) {
  const auto docs = read_docs();
  // "the worker thread's own 8 MiB system stack", "the system stack (8 MiB)"
  auto found = claims(docs, R"(\b(\d+) MiB system stack)");
  const auto more = claims(docs, R"(system stack \((\d+) MiB)");
  found.insert(found.end(), more.begin(), more.end());
  ASSERT_FALSE(found.empty()) << "no doc states the size of the system stack";
  std::size_t left = 0;
  goro::run([&] { left = goro::on_system_stack([] { return goro::stack_remaining(); }); });
  for (const auto& c : found) {
    // What is left below the first frame: the stated size less a few pages.
    EXPECT_LE(left, c.value * kMiB) << c.where;
    EXPECT_GE(left, c.value * kMiB - 64 * kKiB) << c.where;
  }
}

}  // namespace
