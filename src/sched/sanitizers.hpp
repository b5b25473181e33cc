// sched/sanitizers.hpp: which sanitizer runtime is linked, and its fiber API.
//
// Every context switch is announced to ASan (so it knows which stack is
// live) and TSan (so each goroutine is its own logical thread, and a switch
// is a happens-before edge). In plain builds all of this compiles away.
#pragma once

#ifndef __has_feature
#define __has_feature(x) 0
#endif

#if defined(__SANITIZE_ADDRESS__) || __has_feature(address_sanitizer)
#define GORO_ASAN 1
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#else
#define GORO_ASAN 0
#endif

#if defined(__SANITIZE_THREAD__) || __has_feature(thread_sanitizer)
#define GORO_TSAN 1
#include <sanitizer/tsan_interface.h>
#else
#define GORO_TSAN 0
#endif
