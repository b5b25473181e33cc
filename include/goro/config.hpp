// goro/config.hpp: what every goro header requires of the compiler and the
// platform, checked once, before any standard header goro uses can fail with
// a cascade of unrelated errors (std::span, concepts, <=>).
//
// goro needs C++20 (g++ 12 or clang 14 with -std=c++20, or a newer standard)
// and runs on x86-64 Linux only: its context switch is x86-64 System V
// assembly and its poller is epoll. Every public header includes this one
// first; including it has no other effect.
#pragma once

#if !defined(__cplusplus) || __cplusplus < 202002L
#error \
    "goro requires C++20: compile with -std=c++20 (or newer); pkg-config --cflags goro does not add it, CMake's goro::goro target does"
// Stop here: without this, the compiler goes on to report errors in <span>
// and <concepts> that hide the one above. The header does not exist; the
// compiler stops at the first missing include.
#include <goro-stops-here-without-cxx20>
#endif

#if !defined(__x86_64__) || !defined(__linux__)
#error "goro runs on x86-64 Linux only (x86-64 System V context switch, epoll)"
#include <goro-stops-here-not-x86-64-linux>
#endif
