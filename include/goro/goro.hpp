// goro/goro.hpp: everything in goro's public API.
#pragma once

#include <goro/blocking.hpp>
#include <goro/cond.hpp>
#include <goro/goroutine.hpp>
#include <goro/mutex.hpp>
#include <goro/once.hpp>
#include <goro/runtime.hpp>
#include <goro/segment.hpp>
#include <goro/stack.hpp>
#include <goro/time.hpp>
#include <goro/wait_group.hpp>
