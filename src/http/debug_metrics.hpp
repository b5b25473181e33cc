// http/debug_metrics.hpp: goro::metrics in Prometheus' text exposition
// format (version 0.0.4) and as JSON, for goro/http/debug.hpp's metrics and
// metrics.json endpoints.
//
// Names follow Prometheus' rules: "/sched/goroutines:goroutines" becomes
// goro_sched_goroutines. The path's '/' and any character Prometheus does
// not allow become '_', "goro_" is put in front unless the path starts with
// /goro/, the unit is appended unless the path already ends with it, and
// counters end in "_total". A histogram becomes cumulative _bucket{le=...}
// series (an +Inf bucket added when its last boundary is finite) and
// _count; it has no _sum, because goro::metrics histograms keep counts only.
#pragma once

#include <goro/metrics.hpp>

#include <string>

namespace goro::http::debug_detail {

// The Prometheus name of a metric (see above).
std::string prometheus_name(const metrics::description& d);

}  // namespace goro::http::debug_detail
