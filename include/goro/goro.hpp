// goro/goro.hpp: everything in goro's public API.
#pragma once

#include <goro/config.hpp>

#include <goro/blocking.hpp>
#include <goro/bufio.hpp>
#include <goro/chan.hpp>
#include <goro/compact.hpp>
#include <goro/cond.hpp>
#include <goro/context.hpp>
#include <goro/debug.hpp>
#include <goro/error_group.hpp>
#include <goro/goroutine.hpp>
#include <goro/metrics.hpp>
#include <goro/mutex.hpp>
#include <goro/net.hpp>
#include <goro/once.hpp>
#include <goro/runtime.hpp>
#include <goro/rw_mutex.hpp>
#include <goro/segment.hpp>
#include <goro/select.hpp>
#include <goro/signal.hpp>
#include <goro/stack.hpp>
#include <goro/time.hpp>
#include <goro/timer.hpp>
#include <goro/wait_group.hpp>
#include <goro/worker_pool.hpp>
