// bench/json/json_bench.cpp: parse throughput of goro::json's two modes
// against nlohmann-json and RapidJSON (Google Benchmark; a benchmark, not a
// timed test).
//
// Each benchmark parses one document into its library's DOM and frees it,
// and reports MB/s (10^6 bytes of input per CPU second of the benchmark
// thread: CPU time, not wall time, so that other load on a shared machine
// distorts the figures less). The documents are
// generated, deterministic and shaped like real data:
//   deep     20 comment threads, each a reply chain 4,000 levels deep (objects
//            in arrays: nesting 8,001, under goro's default limit of 10,000)
//   wide     20,000 user records (numbers, strings, booleans, a nested address,
//            a tag array): the common API-response shape
//   strings  20,000 text fields with escapes (\n \" \\ \/ \u00e9 \uD83D\uDE00)
//            and raw UTF-8 (Latin, Cyrillic, CJK, emoji)
// Peers run with their usual entry points: nlohmann::json::parse (validates
// UTF-8, exact doubles), RapidJSON's Document::Parse with default flags (no
// UTF-8 validation, fast but inexact double conversion) and with
// kParseValidateEncodingFlag | kParseFullPrecisionFlag ("strict", the closest
// to goro's and nlohmann's checks). "goro/recursive/goroutine" runs the
// recursive mode on a goroutine with the default 240 KiB stack, where deep
// documents continue on stack segments.
#include <benchmark/benchmark.h>
#include <goro/goro.hpp>
#include <goro/json.hpp>

#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>

#if defined(GORO_BENCH_NLOHMANN)
#include <nlohmann/json.hpp>
#endif
#if defined(GORO_BENCH_RAPIDJSON)
#include <rapidjson/document.h>
#endif

namespace {

// --- documents ---------------------------------------------------------------

std::string deep_document() {
  std::mt19937 rng(1);
  std::string s = "[";
  for (int thread = 0; thread < 20; ++thread) {
    if (thread) s += ',';
    constexpr int kLevels = 4000;
    for (int level = 0; level < kLevels; ++level) {
      s += "{\"id\":" + std::to_string(rng() % 1000000) + ",\"user\":\"user" + std::to_string(rng() % 5000) +
           "\",\"score\":" + std::to_string(static_cast<int>(rng() % 200) - 50) + ",\"replies\":[";
    }
    for (int level = 0; level < kLevels; ++level) s += "]}";
  }
  return s + "]";
}

std::string wide_document() {
  std::mt19937 rng(2);
  const char* cities[] = {"Lisbon", "Osaka", "Nairobi", "Toronto", "Tallinn", "Recife"};
  std::string s = "[";
  for (int i = 0; i < 20000; ++i) {
    if (i) s += ',';
    const std::string id = std::to_string(100000 + i);
    s += "{\"id\":" + id + ",\"name\":\"user_" + id + "\",\"email\":\"user_" + id + "@example.com\"";
    s += ",\"active\":" + std::string(rng() % 2 ? "true" : "false");
    s += ",\"balance\":" + std::to_string(rng() % 100000) + "." + std::to_string(10 + rng() % 90);
    s += ",\"created\":\"2024-0" + std::to_string(1 + rng() % 9) + "-1" + std::to_string(rng() % 10) +
         "T12:00:00Z\"";
    s += ",\"tags\":[\"t" + std::to_string(rng() % 50) + "\",\"t" + std::to_string(rng() % 50) + "\"]";
    s += ",\"address\":{\"city\":\"" + std::string(cities[rng() % 6]) + "\",\"zip\":\"" +
         std::to_string(10000 + rng() % 89999) + "\",\"geo\":[" + std::to_string(rng() % 180) + ".25,-" +
         std::to_string(rng() % 90) + ".5]},\"manager\":null}";
  }
  return s + "]";
}

std::string strings_document() {
  std::mt19937 rng(3);
  const char* pieces[] = {
      "plain words of ordinary text ",
      "line\\nbreak ",
      "a \\\"quoted\\\" bit ",
      "back\\\\slash ",
      "caf\\u00e9 ",
      "smile \\uD83D\\uDE00 ",
      "url http:\\/\\/x.y\\/z ",
      "tab\\there ",
      "na\xC3\xAFve r\xC3\xA9sum\xC3\xA9 ",
      "\xD0\x9F\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82 ",
      "\xE4\xB8\xAD\xE6\x96\x87\xE6\x96\x87\xE6\x9C\xAC ",
      "\xF0\x9F\x9A\x80\xF0\x9F\x8C\x8D ",
  };
  std::string s = "[";
  for (int i = 0; i < 20000; ++i) {
    if (i) s += ',';
    s += "{\"id\":" + std::to_string(i) + ",\"text\":\"";
    for (int k = 0; k < 8; ++k) s += pieces[rng() % 12];
    s += "\"}";
  }
  return s + "]";
}

// --- benchmarks --------------------------------------------------------------

void report(benchmark::State& state, const std::string& doc) {
  state.counters["MB/s"] =
      benchmark::Counter(static_cast<double>(doc.size()) * static_cast<double>(state.iterations()) / 1e6,
                         benchmark::Counter::kIsRate);
}

[[noreturn]] void die(const char* who, const std::string& why) {
  std::fprintf(stderr, "json_bench: %s failed to parse: %s\n", who, why.c_str());
  std::exit(1);
}

void goro_parse(benchmark::State& state, const std::string& doc, goro::json::parse_mode mode) {
  goro::json::options opts;
  opts.mode = mode;
  for (auto _ : state) {
    auto r = goro::json::parse(doc, opts);
    if (!r) die("goro::json", r.error().what());
    benchmark::DoNotOptimize(r);
  }
  report(state, doc);
}

void goro_recursive_on_goroutine(benchmark::State& state, const std::string& doc) {
  goro::set_maxprocs(1);
  goro::run([&] {
    goro::wait_group done;
    done.add(1);
    goro::go([&] {  // a fresh goroutine: the default 240 KiB stack ceiling
      goro_parse(state, doc, goro::json::parse_mode::recursive);
      done.done();
    });
    done.wait();
  });
}

#if defined(GORO_BENCH_NLOHMANN)
void nlohmann_parse(benchmark::State& state, const std::string& doc) {
  for (auto _ : state) {
    auto j = nlohmann::json::parse(doc);
    benchmark::DoNotOptimize(j);
  }
  report(state, doc);
}
#endif

#if defined(GORO_BENCH_RAPIDJSON)
template <unsigned Flags>
void rapidjson_parse(benchmark::State& state, const std::string& doc) {
  for (auto _ : state) {
    rapidjson::Document d;
    d.Parse<Flags>(doc.data(), doc.size());
    if (d.HasParseError()) die("RapidJSON", "error code " + std::to_string(d.GetParseError()));
    benchmark::DoNotOptimize(d);
  }
  report(state, doc);
}
#endif

void register_document(const std::string& name, const std::string& doc) {
  using goro::json::parse_mode;
  const std::string& d = *new std::string(doc);  // lives for the whole run
  std::fprintf(stderr, "json_bench: document %s: %.2f MB\n", name.c_str(),
               static_cast<double>(d.size()) / 1e6);
  benchmark::RegisterBenchmark((name + "/goro/recursive").c_str(),
                               [&d](benchmark::State& s) { goro_parse(s, d, parse_mode::recursive); });
  benchmark::RegisterBenchmark((name + "/goro/iterative").c_str(),
                               [&d](benchmark::State& s) { goro_parse(s, d, parse_mode::iterative); });
  benchmark::RegisterBenchmark((name + "/goro/recursive/goroutine").c_str(),
                               [&d](benchmark::State& s) { goro_recursive_on_goroutine(s, d); });
#if defined(GORO_BENCH_NLOHMANN)
  benchmark::RegisterBenchmark((name + "/nlohmann").c_str(),
                               [&d](benchmark::State& s) { nlohmann_parse(s, d); });
#endif
#if defined(GORO_BENCH_RAPIDJSON)
  benchmark::RegisterBenchmark((name + "/rapidjson/default").c_str(), [&d](benchmark::State& s) {
    rapidjson_parse<rapidjson::kParseDefaultFlags>(s, d);
  });
  benchmark::RegisterBenchmark((name + "/rapidjson/strict").c_str(), [&d](benchmark::State& s) {
    rapidjson_parse<rapidjson::kParseValidateEncodingFlag | rapidjson::kParseFullPrecisionFlag>(s, d);
  });
#endif
}

}  // namespace

int main(int argc, char** argv) {
  register_document("deep", deep_document());
  register_document("wide", wide_document());
  register_document("strings", strings_document());
#if !defined(GORO_BENCH_NLOHMANN)
  std::fprintf(stderr, "json_bench: built without nlohmann-json (apt-get install nlohmann-json3-dev)\n");
#endif
#if !defined(GORO_BENCH_RAPIDJSON)
  std::fprintf(stderr, "json_bench: built without RapidJSON (apt-get install rapidjson-dev)\n");
#endif
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
