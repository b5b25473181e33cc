// goro/http/debug.hpp: debug endpoints for a goro HTTP server, in the
// spirit of Go's net/http/pprof and expvar: the goroutine dump, a goroutine
// profile for `go tool pprof`, the runtime's metrics for Prometheus, and a
// live dashboard.
//
//   goro::http::serve_mux mux;
//   goro::http::debug::mount(mux);  // under /debug/goro/
//
// Go's net/http/pprof registers itself on DefaultServeMux when imported;
// here the program mounts the handlers where it wants them, explicitly.
// Endpoints (relative to the prefix, GET and HEAD only):
//   ""                 the dashboard: a self-contained HTML page (inline
//                      script and style, nothing fetched from elsewhere)
//                      with live charts of metrics.json, polled every second
//   goroutines         the goroutine dump (goro::dump_goroutines());
//                      ?debug=1 groups goroutines with identical stacks,
//                      as Go's /debug/pprof/goroutine?debug=1
//   pprof/goroutine    the goroutine profile, pprof's gzip-compressed
//                      protobuf (profile.proto): `go tool pprof URL`
//   metrics            goro::metrics in Prometheus' text format 0.0.4
//   metrics.json       goro::metrics as JSON, for the dashboard
//
// They show the state of the whole process, stacks and function names
// included: mount them only where that is safe to show.
#pragma once

#include <goro/http/server.hpp>

#include <string>
#include <string_view>

namespace goro::http::debug {

// Adds the endpoints above to `mux` under `prefix`, which must begin and end
// with '/' ("/debug/goro/"). Throws std::invalid_argument naming the prefix
// if it does not, or if `mux` already has one of the patterns. Not
// thread-safe (as serve_mux::handle): call it before serving.
void mount(serve_mux& mux, std::string_view prefix = "/debug/goro/");

// The bodies of the endpoints, for a program that serves them its own way.
// Each is thread-safe, callable from a goroutine or any other thread while
// the runtime runs, and throws std::bad_alloc if its result cannot be
// allocated.

// The goroutine dump. `debug` 1: one entry per distinct stack, with how
// many goroutines share it, the most frequent first:
//   goroutine profile: total 1003
//   1000 @ 0x55966bf3ec00 0x55966bf3c266 ... 0x55966bf7194e
//   #	0x55966bf3ebff	goro::detail::poll_wait(...)+0xdf	/path/to/program+0x2cbff
//   ...
// (the context-switch frames a parked goroutine's stack starts with are
// left out: they differ with how it was switched out, not where it waits).
// Each `#` line is a frame: its address (one byte before a return address,
// where the call is), function and offset, then module and offset in the
// module (what `addr2line -e <module>` takes; goro has no file:line here).
// Any other value: the full dump, goroutine by goroutine, as
// goro::dump_goroutines() (include/goro/debug.hpp) prints it.
// Cost: a signal to every thread that holds a processor, then a walk of
// every live goroutine's frames: O(goroutines x frames), plus a symbol
// lookup per distinct frame (debug=1) or per printed frame.
std::string goroutines_text(int debug);

// The goroutine profile: one sample per distinct stack, valued by how many
// goroutines share it, with every frame's address, function name and module
// (functions are named in the profile, so pprof needs no binary), and the
// process's executable mappings with their GNU build ids. A goroutine whose
// frames could not be read (running on a thread that did not answer, or
// compacted) is a sample without locations, so the counts add up to every
// goroutine. gzip-compressed (stored deflate blocks: no compression
// library needed). Cost: as goroutines_text(1).
std::string goroutine_profile();

// Every goro::metrics metric in Prometheus' text exposition format,
// version 0.0.4 (Content-Type "text/plain; version=0.0.4"). Names follow
// Prometheus' rules: "/sched/goroutines:goroutines" is goro_sched_goroutines,
// "/sched/latencies:seconds" goro_sched_latencies_seconds (a histogram:
// cumulative _bucket{le="..."} series and _count, no _sum, which
// goro::metrics does not keep), counters end in _total; each HELP line ends
// with the goro::metrics name in parentheses. Cost: one
// goro::metrics::read_all() (which walks the stack slots: see
// goro/metrics.hpp), then O(metrics + histogram buckets).
std::string prometheus_metrics();

// Every goro::metrics metric as one JSON object, read by the dashboard:
//   {"time_ms": <Unix time in ms>, "metrics": [{"name": "/sched/goroutines:goroutines",
//    "unit": "goroutines", "kind": "gauge", "cumulative": false, "value": 12}, ...,
//    {"name": "/sched/latencies:seconds", ..., "kind": "histogram",
//     "buckets": [0, 1e-06, ..., "+Inf"], "counts": [...]}]}
// Infinite boundaries are the strings "+Inf" and "-Inf" (JSON has no
// infinity). Cost: as prometheus_metrics().
std::string metrics_json();

// The dashboard: one HTML page with its script and style inline, which
// polls metrics.json (relative to its own URL) every second and draws
// goroutines and stack bytes over time and the stack high-water and
// scheduling latency histograms on <canvas> elements, with links to the
// other endpoints. Cost: none (a constant).
std::string_view dashboard_html();

}  // namespace goro::http::debug
