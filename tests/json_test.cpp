// Tests of goro::json (src/json): conformance against JSONTestSuite (read at
// run time from ../shared/data, never copied here), exact error positions,
// the depth limit, deep documents on a goroutine's small default stack, round
// trips and number edge cases. Every parse runs in both modes, and the two
// results must be identical (same value, or same error at the same byte).
#include <gtest/gtest.h>
#include <goro/goro.hpp>
#include <goro/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <ostream>
#include <sstream>
#include <string>
#include <vector>

namespace json = goro::json;

namespace {

#if defined(GORO_SANITIZER)
constexpr bool kSanitizer = true;
#else
constexpr bool kSanitizer = false;
#endif
#ifndef __has_feature
#define __has_feature(x) 0
#endif
#if defined(__SANITIZE_THREAD__) || __has_feature(thread_sanitizer)
constexpr bool kThreadSanitizer = true;
#else
constexpr bool kThreadSanitizer = false;
#endif

// Levels for the raised-limit tests. TSan keeps a shadow call stack of 64K
// frames per thread and crashes past it (a level is several frames), so
// under TSan the recursion stays near the default limit, which still runs
// on stack segments there; ASan gets 200,000 levels.
constexpr std::size_t kRaisedDepth = kThreadSanitizer ? 8'000 : kSanitizer ? 200'000 : 1'000'000;

json::options with_mode(json::parse_mode mode, std::size_t max_depth = 10'000) {
  json::options o;
  o.mode = mode;
  o.max_depth = max_depth;
  return o;
}

std::string describe(const json::result<json::value>& r) {
  return r ? "value " + json::to_string(*r) : "error " + r.error().what();
}

// Parses in both modes, checks that they agree, returns the recursive one.
json::result<json::value> parse_both(std::string_view text, std::size_t max_depth = 10'000) {
  auto rec = json::parse(text, with_mode(json::parse_mode::recursive, max_depth));
  auto it = json::parse(text, with_mode(json::parse_mode::iterative, max_depth));
  EXPECT_EQ(rec.has_value(), it.has_value())
      << "recursive: " << describe(rec) << "\niterative: " << describe(it);
  if (rec && it) {
    EXPECT_TRUE(*rec == *it);
  } else if (!rec && !it) {
    EXPECT_EQ(rec.error(), it.error()) << rec.error().what() << "\n" << it.error().what();
  }
  return rec;
}

// Runs f as a goroutine with the default stack ceiling and waits for it.
template <typename F>
void in_goroutine(F f) {
  goro::run([&] {
    goro::wait_group wg;
    wg.add(1);
    goro::go([&] {
      f();
      wg.done();
    });
    wg.wait();
  });
}

std::string nested_arrays(std::size_t depth) {
  std::string s(depth, '[');
  s.append(depth, ']');
  return s;
}

std::string read_file(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// --- conformance -------------------------------------------------------------

#if defined(GORO_JSON_TESTSUITE_DIR)
constexpr const char* kSuiteDir = GORO_JSON_TESTSUITE_DIR;
#else
constexpr const char* kSuiteDir = "";
#endif

struct SuiteCase {
  std::string name;
  std::string text;
};

std::vector<SuiteCase> load_suite() {
  std::vector<SuiteCase> cases;
  for (const auto& entry : std::filesystem::directory_iterator(kSuiteDir)) {
    if (entry.path().extension() != ".json") continue;
    cases.push_back({entry.path().filename().string(), read_file(entry.path())});
  }
  std::sort(cases.begin(), cases.end(), [](auto& a, auto& b) { return a.name < b.name; });
  return cases;
}

// y_ must parse, n_ must fail, i_ either, in both modes, identically; every
// accepted document round-trips through to_string.
void check_suite() {
  if (kSuiteDir[0] == '\0' || !std::filesystem::is_directory(kSuiteDir)) {
    GTEST_SKIP() << "JSONTestSuite not found at '" << kSuiteDir
                 << "' (expected ../shared/data/JSONTestSuite/test_parsing beside the repository); "
                    "conformance cases not run";
  }
  const auto cases = load_suite();
  ASSERT_EQ(cases.size(), 318u) << "JSONTestSuite's test_parsing has 318 cases";
  int accepted = 0, rejected = 0;
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const auto r = parse_both(c.text);
    if (c.name.starts_with("y_")) {
      EXPECT_TRUE(r.has_value()) << c.name << ": " << describe(r);
    } else if (c.name.starts_with("n_")) {
      EXPECT_FALSE(r.has_value()) << c.name << ": " << describe(r);
    }
    if (r) {
      ++accepted;
      const std::string out = json::to_string(*r);
      const auto again = parse_both(out);
      ASSERT_TRUE(again.has_value()) << out;
      EXPECT_TRUE(*again == *r) << out;
    } else {
      ++rejected;
      EXPECT_FALSE(r.error().message.empty());
      EXPECT_LE(r.error().offset, c.text.size());
    }
  }
  EXPECT_EQ(accepted + rejected, 318);
}

TEST(JsonConformance, TestSuiteOnThread) {
  check_suite();
}

TEST(JsonConformance, TestSuiteOnGoroutine) {
  if (kSuiteDir[0] == '\0' || !std::filesystem::is_directory(kSuiteDir)) {
    GTEST_SKIP() << "JSONTestSuite not found at '" << kSuiteDir << "'; conformance cases not run";
  }
  in_goroutine([] { check_suite(); });
}

// --- errors: what and where --------------------------------------------------

struct ErrorCase {
  const char* text;
  json::errc code;
  std::size_t offset, line, column;
  const char* says;  // a piece of the message
};

const char* errc_name(json::errc c) {
  switch (c) {
    case json::errc::unexpected_end:
      return "unexpected_end";
    case json::errc::unexpected_character:
      return "unexpected_character";
    case json::errc::invalid_literal:
      return "invalid_literal";
    case json::errc::invalid_number:
      return "invalid_number";
    case json::errc::number_out_of_range:
      return "number_out_of_range";
    case json::errc::control_character:
      return "control_character";
    case json::errc::invalid_escape:
      return "invalid_escape";
    case json::errc::invalid_surrogate:
      return "invalid_surrogate";
    case json::errc::invalid_utf8:
      return "invalid_utf8";
    case json::errc::trailing_characters:
      return "trailing_characters";
    case json::errc::depth_exceeded:
      return "depth_exceeded";
  }
  return "?";
}

// Test names: the expected error and where, e.g. "invalid_number_at_2".
void PrintTo(const ErrorCase& c, std::ostream* os) {
  *os << errc_name(c.code) << " at byte " << c.offset;
}

class JsonErrors : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(JsonErrors, SaysWhatAndWhere) {
  const ErrorCase& c = GetParam();
  const auto r = parse_both(c.text);
  ASSERT_FALSE(r.has_value()) << c.text;
  const json::parse_error& e = r.error();
  EXPECT_EQ(e.code, c.code) << e.what();
  EXPECT_EQ(e.offset, c.offset) << e.what();
  EXPECT_EQ(e.line, c.line) << e.what();
  EXPECT_EQ(e.column, c.column) << e.what();
  EXPECT_NE(e.message.find(c.says), std::string::npos) << e.what();
  EXPECT_NE(e.what().find("line " + std::to_string(c.line) + ", column " + std::to_string(c.column)),
            std::string::npos);
  EXPECT_NE(e.what().find("(byte " + std::to_string(c.offset) + ")"), std::string::npos);
}

using E = json::errc;
INSTANTIATE_TEST_SUITE_P(
    Malformed, JsonErrors,
    ::testing::Values(
        ErrorCase{"", E::unexpected_end, 0, 1, 1, "expected a value"},
        ErrorCase{"   ", E::unexpected_end, 3, 1, 4, "expected a value"},
        ErrorCase{"[1,]", E::unexpected_character, 3, 1, 4, "expected a value, found ']'"},
        ErrorCase{"[1 2]", E::unexpected_character, 3, 1, 4, "',' or ']'"},
        ErrorCase{"{\"a\" 1}", E::unexpected_character, 5, 1, 6, "':' after an object key"},
        ErrorCase{"{\"a\":1,}", E::unexpected_character, 7, 1, 8, "object key"},
        ErrorCase{"{'a':1}", E::unexpected_character, 1, 1, 2, "found '''"},
        ErrorCase{"[1]x", E::trailing_characters, 3, 1, 4, "after the JSON value"},
        ErrorCase{"[1]\n\n  ]", E::trailing_characters, 7, 3, 3, "']'"},
        ErrorCase{"[tru]", E::invalid_literal, 4, 1, 5, "expected 'true'"},
        ErrorCase{"nul", E::unexpected_end, 3, 1, 4, "'null'"},
        ErrorCase{"[NaN]", E::unexpected_character, 1, 1, 2, "found 'N'"},
        ErrorCase{"[Infinity]", E::unexpected_character, 1, 1, 2, "found 'I'"},
        ErrorCase{"+1", E::unexpected_character, 0, 1, 1, "found '+'"},
        ErrorCase{"[012]", E::invalid_number, 2, 1, 3, "leading zeros"},
        ErrorCase{"-", E::unexpected_end, 1, 1, 2, "a digit after '-'"},
        ErrorCase{"[-x]", E::invalid_number, 2, 1, 3, "a digit after '-'"},
        ErrorCase{"[1.]", E::invalid_number, 3, 1, 4, "after '.'"},
        ErrorCase{"[.5]", E::unexpected_character, 1, 1, 2, "found '.'"},
        ErrorCase{"[1e+]", E::invalid_number, 4, 1, 5, "exponent"},
        ErrorCase{"[1e400]", E::number_out_of_range, 1, 1, 2, "out of range"},
        ErrorCase{"[-1e400]", E::number_out_of_range, 1, 1, 2, "out of range"},
        ErrorCase{"\"abc", E::unexpected_end, 4, 1, 5, "opened at byte 0"},
        ErrorCase{"[\"a\tb\"]", E::control_character, 3, 1, 4, "U+0009"},
        ErrorCase{"\"a\\qb\"", E::invalid_escape, 2, 1, 3, "'\\q'"},
        ErrorCase{"\"\\u12G4\"", E::invalid_escape, 5, 1, 6, "4 hex digits"},
        ErrorCase{"\"\\uD800\"", E::invalid_surrogate, 1, 1, 2, "lone high surrogate \\uD800"},
        ErrorCase{"\"\\uD800\\u0041\"", E::invalid_surrogate, 1, 1, 2, "lone high surrogate"},
        ErrorCase{"\"x\\uDC00\"", E::invalid_surrogate, 2, 1, 3, "lone low surrogate \\uDC00"},
        ErrorCase{"\"\xC0\xAF\"", E::invalid_utf8, 1, 1, 2, "overlong"},
        ErrorCase{"\"\xE0\x80\xAF\"", E::invalid_utf8, 1, 1, 2, "overlong"},
        ErrorCase{"\"\xED\xA0\x80\"", E::invalid_utf8, 1, 1, 2, "surrogate"},
        ErrorCase{"\"\xF4\x90\x80\x80\"", E::invalid_utf8, 1, 1, 2, "above U+10FFFF"},
        ErrorCase{"\"\xF5\x80\x80\x80\"", E::invalid_utf8, 1, 1, 2, "never occur"},
        ErrorCase{"\"ab\x80\"", E::invalid_utf8, 3, 1, 4, "continuation byte"},
        ErrorCase{"\"\xE2\x82\x41\"", E::invalid_utf8, 3, 1, 4, "expected a UTF-8 continuation byte"},
        ErrorCase{"\xEF\xBB\xBF{}", E::unexpected_character, 0, 1, 1, "byte 0xEF"},
        ErrorCase{"[1,\f2]", E::unexpected_character, 3, 1, 4, "byte 0x0C"},
        ErrorCase{"{\n  \"a\": [1,\n        2,,\n  ]\n}", E::unexpected_character, 23, 3, 11, "found ','"}),
    [](const ::testing::TestParamInfo<ErrorCase>& param_info) {
      return std::string(errc_name(param_info.param.code)) + "_at_" +
             std::to_string(param_info.param.offset) + "_" + std::to_string(param_info.index);
    });

TEST(JsonErrorsMore, ErrorOffsetPointsIntoLongInput) {
  std::string text = "[" + std::string(100000, ' ') + "1,\n2,\n3 x]";
  const auto r = parse_both(text);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().offset, text.find('x'));
  EXPECT_EQ(r.error().line, 3u);
  EXPECT_EQ(r.error().column, 3u);
}

TEST(JsonErrorsMore, ValueThrowsParseException) {
  const auto r = json::parse("[1,");
  try {
    (void)r.value();
    FAIL() << "value() of an error did not throw";
  } catch (const json::parse_exception& e) {
    EXPECT_EQ(e.error(), r.error());
    EXPECT_NE(std::string(e.what()).find("byte 3"), std::string::npos) << e.what();
  }
}

// --- whitespace --------------------------------------------------------------

TEST(JsonSyntax, WhitespaceIsExactlyTheFourRfcBytes) {
  EXPECT_TRUE(
      parse_both(" \t\r\n[ \t\r\n1 \t\r\n, \t\r\n{ \t\r\n\"a\" \t\r\n: \t\r\nnull \t\r\n} \t\r\n] \t\r\n"));
  for (const std::string& bad : {std::string("\v[]"), std::string("[]\f"), std::string("[\xC2\xA0]"),
                                 std::string("\0[]", 3), std::string("[]\0", 3)}) {
    EXPECT_FALSE(parse_both(bad)) << bad;
  }
}

TEST(JsonSyntax, ScalarsAtTopLevel) {
  EXPECT_TRUE(parse_both("null")->is_null());
  EXPECT_TRUE(parse_both("true")->as_bool());
  EXPECT_FALSE(parse_both(" false ")->as_bool());
  EXPECT_EQ(parse_both("\"x\"")->as_string(), "x");
  EXPECT_EQ(parse_both("7")->as_int64(), 7);
}

// --- strings -----------------------------------------------------------------

TEST(JsonStrings, EscapesDecode) {
  const auto r = parse_both(R"("\"\\\/\b\f\n\r\t\u0000\u00e9\u20AC\uD83D\uDE00")");
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->as_string(), std::string("\"\\/\b\f\n\r\t\0\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80", 18));
}

TEST(JsonStrings, RawUtf8BoundariesAccepted) {
  // U+0080, U+07FF, U+0800, U+D7FF, U+E000, U+FFFF, U+10000, U+10FFFF.
  const std::string s =
      "\"\xC2\x80\xDF\xBF\xE0\xA0\x80\xED\x9F\xBF\xEE\x80\x80\xEF\xBF\xBF\xF0\x90\x80\x80\xF4\x8F\xBF\xBF\"";
  const auto r = parse_both(s);
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->as_string(), s.substr(1, s.size() - 2));
}

TEST(JsonStrings, TruncatedUtf8AtEndOfInput) {
  const auto r = parse_both("\"\xE2\x82");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, json::errc::invalid_utf8);
}

TEST(JsonStrings, SerializerEscapesAndRepairs) {
  EXPECT_EQ(json::to_string(json::value(std::string("a\"b\\c\n\x01\x1f\x7f", 9))),
            "\"a\\\"b\\\\c\\n\\u0001\\u001f\x7f\"");
  // Invalid UTF-8 becomes U+FFFD, so the output always parses.
  const std::string out = json::to_string(json::value(std::string("x\xC0\xAFy\xED\xA0\x80")));
  EXPECT_EQ(out, "\"x\xEF\xBF\xBD\xEF\xBF\xBDy\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\"");
  EXPECT_TRUE(parse_both(out));
}

// --- numbers -----------------------------------------------------------------

TEST(JsonNumbers, IntegersExactInInt64Range) {
  auto r = parse_both("[9223372036854775807, -9223372036854775808, 9223372036854775808, 9007199254740993]");
  ASSERT_TRUE(r) << r.error().what();
  const auto& a = r->as_array();
  EXPECT_EQ(a[0].as_int64(), std::numeric_limits<std::int64_t>::max());
  EXPECT_EQ(a[1].as_int64(), std::numeric_limits<std::int64_t>::min());
  EXPECT_FALSE(a[2].as_int64().has_value());
  EXPECT_EQ(a[2].as_double(), 9223372036854775808.0);
  EXPECT_EQ(a[3].as_int64(), 9007199254740993);  // not representable as a double
  EXPECT_EQ(json::to_string(*r),
            "[9223372036854775807,-9223372036854775808,9223372036854775808,9007199254740993]");
}

TEST(JsonNumbers, IntegralSpellingsGetTheInteger) {
  auto r = parse_both("[1.0, 1e2, 1.5e1, 120e-1, 0.0, -0, 100000000000000000000e-2, 1.5, 1e19, 0.1]");
  ASSERT_TRUE(r) << r.error().what();
  const auto& a = r->as_array();
  EXPECT_EQ(a[0].as_int64(), 1);
  EXPECT_EQ(a[1].as_int64(), 100);
  EXPECT_EQ(a[2].as_int64(), 15);
  EXPECT_EQ(a[3].as_int64(), 12);
  EXPECT_EQ(a[4].as_int64(), 0);
  EXPECT_EQ(a[5].as_int64(), 0);
  EXPECT_TRUE(std::signbit(a[5].as_double()));
  EXPECT_EQ(a[6].as_int64(), 1000000000000000000);
  EXPECT_FALSE(a[7].as_int64());
  EXPECT_FALSE(a[8].as_int64());
  EXPECT_EQ(a[8].as_double(), 1e19);
  EXPECT_FALSE(a[9].as_int64());
  EXPECT_EQ(a[9].as_double(), 0.1);
}

TEST(JsonNumbers, DoublesRoundCorrectlyAndRoundTrip) {
  const char* texts[] = {"1.7976931348623157e308",
                         "-1.7976931348623157e308",
                         "4.9e-324",
                         "2.2250738585072014e-308",
                         "0.30000000000000004",
                         "123456789012345678901234567890",
                         "1e-400",
                         "-1e-400",
                         "3.141592653589793",
                         "1E+2",
                         "1e-7",
                         "0.000001e5"};
  for (const char* t : texts) {
    const auto r = parse_both(t);
    ASSERT_TRUE(r) << t << ": " << r.error().what();
    EXPECT_EQ(r->as_double(), std::strtod(t, nullptr)) << t;
    const auto again = parse_both(json::to_string(*r));
    ASSERT_TRUE(again);
    EXPECT_TRUE(*again == *r) << t << " -> " << json::to_string(*r);
    EXPECT_EQ(std::signbit(again->as_double()), std::signbit(r->as_double())) << t;
  }
}

TEST(JsonNumbers, HugeExponentsAndLongMantissas) {
  const auto huge = parse_both("1e999999999999999999999");
  ASSERT_FALSE(huge);
  EXPECT_EQ(huge.error().code, json::errc::number_out_of_range);
  EXPECT_EQ(parse_both("0e999999999999999999999")->as_int64(), 0);
  EXPECT_EQ(parse_both("-1e-999999999999999999999")->as_double(), 0.0);
  const std::string long_int = "1" + std::string(400, '0');
  EXPECT_EQ(parse_both(long_int).error().code, json::errc::number_out_of_range);
  const std::string long_frac = "0." + std::string(400, '0') + "1e400";
  EXPECT_EQ(parse_both(long_frac)->as_double(), 0.1);
  const std::string long_mantissa = "1." + std::string(1000, '3');
  EXPECT_EQ(parse_both(long_mantissa)->as_double(), 1.3333333333333333);
}

TEST(JsonNumbers, SerializationIsStable) {
  // Integral doubles are written as integers (not to_chars' "1e+11"), so the
  // text reads back as the same number and serializes to the same text.
  const auto r = parse_both("[100000000000.00000004, -0, -0.0, -1e-400, 1e300, 0.5, 1E2]");
  ASSERT_TRUE(r) << r.error().what();
  const std::string out = json::to_string(*r);
  EXPECT_EQ(out, "[100000000000,-0,-0,-0,1e+300,0.5,100]");
  EXPECT_EQ(json::to_string(*parse_both(out)), out);
  EXPECT_EQ(json::to_string(json::value(1e11)), "100000000000");
  EXPECT_EQ(json::to_string(json::value(-0.0)), "-0");
}

// --- depth -------------------------------------------------------------------

TEST(JsonDepth, DefaultLimitIsTenThousand) {
  EXPECT_EQ(json::options{}.max_depth, 10'000u);
  EXPECT_TRUE(parse_both(nested_arrays(10'000)));
  const auto r = parse_both(nested_arrays(10'001));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, json::errc::depth_exceeded);
  EXPECT_EQ(r.error().offset, 10'000u);
  EXPECT_NE(r.error().message.find("10000"), std::string::npos) << r.error().what();
  EXPECT_NE(r.error().message.find(goro::depth_exceeded(10'000).what()), std::string::npos)
      << r.error().what();
}

TEST(JsonDepth, ObjectsCountAsLevelsToo) {
  std::string doc;
  for (int i = 0; i < 5; ++i) doc += "{\"k\":[";
  doc += "1";
  for (int i = 0; i < 5; ++i) doc += "]}";
  EXPECT_TRUE(parse_both(doc, 10));
  const auto r = parse_both(doc, 9);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, json::errc::depth_exceeded);
  EXPECT_EQ(r.error().offset, doc.rfind('['));  // the tenth level
}

TEST(JsonDepth, ZeroAdmitsOnlyScalars) {
  EXPECT_TRUE(parse_both("1", 0));
  EXPECT_FALSE(parse_both("[]", 0));
  EXPECT_FALSE(parse_both("{}", 0));
  EXPECT_TRUE(parse_both("[]", 1));
}

TEST(JsonDepth, DepthErrorComesBeforeLaterSyntaxErrors) {
  // Both modes must stop at the same first error.
  const auto r = parse_both("[[[x", 2);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, json::errc::depth_exceeded);
  EXPECT_EQ(r.error().offset, 2u);
}

// A million levels on a goroutine with the default 240 KiB stack: the default
// limit answers with an error, never a stack overflow.
TEST(JsonDepth, MillionDeepOnDefaultGoroutineStackFailsCleanly) {
  const std::string doc = nested_arrays(1'000'000);
  in_goroutine([&] {
    EXPECT_LE(goro::stack_remaining(), goro::max_stack());
    for (auto mode : {json::parse_mode::recursive, json::parse_mode::iterative}) {
      const auto r = json::parse(doc, with_mode(mode));
      ASSERT_FALSE(r);
      EXPECT_EQ(r.error().code, json::errc::depth_exceeded);
      EXPECT_EQ(r.error().offset, 10'000u);
    }
  });
}

// With the limit raised, the recursive mode continues on stack segments:
// the same goroutine parses the whole document, and the value it returns is
// copied, compared, serialized and destroyed without recursion.
TEST(JsonDepth, RaisedLimitParsesMillionDeepOnDefaultGoroutineStack) {
  const std::size_t depth = kRaisedDepth;
  std::string doc;
  for (std::size_t i = 0; i < depth; ++i) doc += i % 2 ? "[" : "{\"k\":";
  doc += "0";
  for (std::size_t i = depth; i-- > 0;) doc += i % 2 ? "]" : "}";
  in_goroutine([&] {
    auto rec = json::parse(doc, with_mode(json::parse_mode::recursive, depth));
    ASSERT_TRUE(rec) << rec.error().what();
    auto it = json::parse(doc, with_mode(json::parse_mode::iterative, depth));
    ASSERT_TRUE(it) << it.error().what();
    EXPECT_TRUE(*rec == *it);
    EXPECT_EQ(json::to_string(*rec), doc);
    json::value copy = *rec;
    EXPECT_TRUE(copy == *it);
    const auto too_deep = json::parse(doc, with_mode(json::parse_mode::recursive, depth - 1));
    ASSERT_FALSE(too_deep);
    EXPECT_EQ(too_deep.error().code, json::errc::depth_exceeded);
  });
}

// The issue's case: a 100 MB document nested ten million deep, on a goroutine
// at the default stack ceiling, returns depth_exceeded in both modes.
TEST(JsonDepth, HundredMegabytesTenMillionDeepFailsCleanly) {
  if (kSanitizer) {
    GTEST_SKIP() << "100 MB document skipped under sanitizers (the 1,000,000-deep test covers it)";
  }
  constexpr std::size_t kDepth = 10'000'000;
  std::string doc;
  doc.reserve(11 * kDepth);
  for (std::size_t i = 0; i < kDepth; ++i) doc += "[\n        ";  // 10 bytes a level
  doc.append(kDepth, ']');
  ASSERT_GE(doc.size(), 100u * 1000 * 1000);
  in_goroutine([&] {
    for (auto mode : {json::parse_mode::recursive, json::parse_mode::iterative}) {
      const auto r = json::parse(doc, with_mode(mode));
      ASSERT_FALSE(r);
      EXPECT_EQ(r.error().code, json::errc::depth_exceeded);
      EXPECT_EQ(r.error().offset, 10u * 10'000);
      EXPECT_EQ(r.error().line, 10'001u);
    }
  });
}

// The issue's other half: with max_depth raised to ten million, the
// recursive mode parses a ten-million-deep document on a goroutine whose own
// stack is 240 KiB, continuing on stack segments (about 1.7 GB of them).
TEST(JsonDepth, RaisedLimitParsesTenMillionDeepOnDefaultGoroutineStack) {
  if (kSanitizer) GTEST_SKIP() << "ten million levels skipped under sanitizers (gigabytes of shadow memory)";
  constexpr std::size_t kDepth = 10'000'000;
  const std::string doc = nested_arrays(kDepth);
  in_goroutine([&] {
    auto r = json::parse(doc, with_mode(json::parse_mode::recursive, kDepth));
    ASSERT_TRUE(r) << r.error().what();
    const json::value* v = &*r;
    std::size_t depth = 0;
    while (!v->as_array().empty()) {
      v = &v->as_array()[0];
      ++depth;
    }
    EXPECT_EQ(depth + 1, kDepth);
  });
}

// --- values ------------------------------------------------------------------

TEST(JsonValue, RoundTrips) {
  const char* docs[] = {"[]",
                        "{}",
                        "[[],{},[[]],{\"\":{}}]",
                        "{\"a\":1,\"a\":2,\"b\":[true,false,null]}",
                        "[\"\\u0000\\u001f\\\"\\\\/\",\"\xE2\x82\xAC\xF0\x9F\x98\x80\"]",
                        "[-0.5,1e-300,12345678.25]",
                        "{\"nested\":{\"deeper\":{\"deepest\":[1,[2,[3,[4]]]]}}}"};
  for (const char* d : docs) {
    const auto r = parse_both(d);
    ASSERT_TRUE(r) << d << ": " << r.error().what();
    const std::string out = json::to_string(*r);
    const auto again = parse_both(out);
    ASSERT_TRUE(again) << out;
    EXPECT_TRUE(*again == *r) << d << " -> " << out;
    EXPECT_EQ(json::to_string(*again), out);
  }
  EXPECT_EQ(json::to_string(*parse_both(" { \"a\" : [ 1 , 2.5 , \"x\" ] } ")), "{\"a\":[1,2.5,\"x\"]}");
}

TEST(JsonValue, DuplicateKeysKeptFindReturnsLast) {
  auto r = parse_both("{\"a\":1,\"b\":2,\"a\":3}");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->as_object().size(), 3u);
  ASSERT_NE(r->find("a"), nullptr);
  EXPECT_EQ(r->find("a")->as_int64(), 3);
  EXPECT_EQ(r->find("zz"), nullptr);
  EXPECT_EQ(json::value(1).find("a"), nullptr);
}

TEST(JsonValue, AccessorsCheckTheKind) {
  json::value v(1.5);
  EXPECT_THROW((void)v.as_string(), std::logic_error);
  EXPECT_THROW((void)v.as_array(), std::logic_error);
  EXPECT_THROW((void)json::value().as_bool(), std::logic_error);
  EXPECT_THROW(json::value{std::nan("")}, std::invalid_argument);
  EXPECT_THROW(json::value{std::numeric_limits<double>::infinity()}, std::invalid_argument);
  EXPECT_EQ(json::value(3.0).as_int64(), 3);
  EXPECT_FALSE(json::value(3.5).as_int64());
  EXPECT_EQ(json::value(std::uint64_t{1} << 63).as_int64(), std::nullopt);
  EXPECT_EQ(json::value("s").type(), json::kind::string);  // not bool
  EXPECT_EQ(json::value(true).type(), json::kind::boolean);
}

TEST(JsonValue, CopiesAreDeepAndSelfMoveIsSafe) {
  json::value a = json::array{1, "two", json::object{{"three", json::array{3}}}};
  json::value b = a;
  b.as_array()[2].as_object()[0].second.as_array().push_back(4);
  EXPECT_EQ(json::to_string(a), "[1,\"two\",{\"three\":[3]}]");
  EXPECT_EQ(json::to_string(b), "[1,\"two\",{\"three\":[3,4]}]");
  EXPECT_FALSE(a == b);
  // Assigning a child to its parent.
  a = std::move(a.as_array()[2]);
  EXPECT_EQ(json::to_string(a), "{\"three\":[3]}");
  b = b.as_array()[1];
  EXPECT_EQ(json::to_string(b), "\"two\"");
}

// A value built in code, a million levels deep, is copied, compared,
// serialized and destroyed on a goroutine's default stack.
TEST(JsonValue, DeepValueHandledWithoutRecursion) {
  in_goroutine([] {
    const std::size_t depth = kSanitizer ? 200'000 : 1'000'000;
    json::value root = json::array();
    json::value* leaf = &root;
    for (std::size_t i = 0; i < depth; ++i) leaf = &leaf->as_array().emplace_back(json::array());
    json::value copy = root;
    EXPECT_TRUE(copy == root);
    EXPECT_EQ(json::to_string(copy).size(), 2 * (depth + 1));
  });
}

// ---------------------------------------------------------------------------
// Indented output (Go's MarshalIndent)

// The expected texts are what Go 1.23's json.Indent prints for the same
// document.
TEST(JsonIndent, MatchesGoByteForByte) {
  const std::string src =
      R"({"name":"goro","tags":["go","c++"],"empty":{},"none":[],"n":[1,-2.5,0.25,true,null,{"deep":[[]]}],"s":"a\"b\n"})";
  const json::value v = json::parse(src).value();
  EXPECT_EQ(json::to_string(v, "", "  "),
            "{\n  \"name\": \"goro\",\n  \"tags\": [\n    \"go\",\n    \"c++\"\n  ],\n  \"empty\": {},\n  "
            "\"none\": "
            "[],\n  \"n\": [\n    1,\n    -2.5,\n    0.25,\n    true,\n    null,\n    {\n      \"deep\": [\n "
            "       "
            "[]\n      ]\n    }\n  ],\n  \"s\": \"a\\\"b\\n\"\n}");
  EXPECT_EQ(
      json::to_string(v, "> ", "\t"),
      "{\n> \t\"name\": \"goro\",\n> \t\"tags\": [\n> \t\t\"go\",\n> \t\t\"c++\"\n> \t],\n> \t\"empty\": "
      "{},\n> "
      "\t\"none\": [],\n> \t\"n\": [\n> \t\t1,\n> \t\t-2.5,\n> \t\t0.25,\n> \t\ttrue,\n> \t\tnull,\n> "
      "\t\t{\n> \t\t\t\"deep\": [\n> \t\t\t\t[]\n> \t\t\t]\n> \t\t}\n> \t],\n> \t\"s\": \"a\\\"b\\n\"\n> }");
  // Scalars and empty containers are a single line without prefix.
  EXPECT_EQ(json::to_string(json::value(json::array()), "> ", "\t"), "[]");
  EXPECT_EQ(json::to_string(json::value(3), "> ", "\t"), "3");
  // Empty prefix and indent: new lines only.
  EXPECT_EQ(json::to_string(json::value(json::array{1, 2}), "", ""), "[\n1,\n2\n]");
  // write() appends.
  std::string out = "x=";
  json::write(json::value(json::array{1}), out, "", " ");
  EXPECT_EQ(out, "x=[\n 1\n]");
}

TEST(JsonIndent, RoundTripsToAnEqualValue) {
  const char* docs[] = {
      R"([])",
      R"({"a":{"b":{"c":[1,2,{"d":null}]}},"e":"\u00e9\ud83d\ude00","f":-0,"g":1.7976931348623157e308})",
      R"([[[[[]]]],{"":{}},"x\ty",12345678901234567,5e-324])",
  };
  for (const char* doc : docs) {
    const json::value v = json::parse(doc).value();
    for (auto [prefix, indent] : {std::pair{"", "  "}, std::pair{"// ", "\t"}, std::pair{"", ""}}) {
      const std::string text = json::to_string(v, prefix, indent);
      if (std::string_view(prefix).empty()) {
        // A prefix that is not whitespace makes the text a template, not
        // JSON; without one it must parse back to the same value.
        auto back = json::parse(text);
        ASSERT_TRUE(back) << text;
        EXPECT_TRUE(*back == v) << text;
        EXPECT_EQ(json::to_string(*back), json::to_string(v));
      }
      // Removing the layout gives the compact text back.
      std::string squeezed;
      bool in_string = false;
      for (std::size_t i = 0; i < text.size(); ++i) {
        char c = text[i];
        if (in_string) {
          squeezed.push_back(c);
          if (c == '\\') {
            squeezed.push_back(text[++i]);
          } else if (c == '"') {
            in_string = false;
          }
        } else if (c == '"') {
          in_string = true;
          squeezed.push_back(c);
        } else if (c == '\n') {
          i += std::string_view(prefix).size();
          const std::string_view ind(indent);
          while (!ind.empty() && text.compare(i + 1, ind.size(), ind) == 0) i += ind.size();
        } else if (c == ' ' && i > 0 && text[i - 1] == ':') {
          // the space after a key's colon
        } else {
          squeezed.push_back(c);
        }
      }
      EXPECT_EQ(squeezed, json::to_string(v)) << text;
    }
  }
}

TEST(JsonIndent, DeepValueWithoutRecursion) {
  in_goroutine([] {
    const std::size_t depth = kSanitizer ? 2'000 : 5'000;
    json::value root = json::array();
    json::value* leaf = &root;
    for (std::size_t i = 0; i < depth; ++i) leaf = &leaf->as_array().emplace_back(json::array());
    const std::string text = json::to_string(root, "", " ");
    // depth non-empty arrays, the one at level k contributing "[" and "]",
    // two newlines and 2k + 1 indents; then the innermost "[]".
    EXPECT_EQ(text.size(), depth * depth + 4 * depth + 2);
    auto back = json::parse(text);
    ASSERT_TRUE(back);
    EXPECT_TRUE(*back == root);
  });
}

}  // namespace
