// goro/thread_annotations.hpp: macros for clang's thread-safety analysis
// (-Wthread-safety), which checks at compile time that a field named
// GORO_GUARDED_BY(mu) is only touched with mu held, and that functions
// acquire and release locks as they declare (Abseil's
// thread_annotations.h is the model).
//
// goro::mutex and goro::rw_mutex are capabilities, and goro::lock_guard and
// goro::shared_lock_guard (mutex.hpp, rw_mutex.hpp) are scoped ones, so a
// program that marks its shared fields gets them checked:
//
//   goro::mutex mu;
//   int balance GORO_GUARDED_BY(mu) = 0;
//
//   void deposit(int n) {
//     goro::lock_guard lock(mu);
//     balance += n;  // without the guard: "writing variable 'balance'
//   }                //  requires holding mutex 'mu' exclusively"
//
// std::lock_guard and std::unique_lock still work with goro's locks, but
// libstdc++ does not annotate them, so the analysis cannot see what they
// hold. The analysis follows locks within one function only: code that takes
// a lock in one function and releases it in another (Go allows unlocking
// from another goroutine) says so with GORO_NO_THREAD_SAFETY_ANALYSIS.
// The runtime uses the same macros on its internal locks.
//
// With g++, which has no such analysis, every macro expands to nothing.
// Enable the checks with clang's -Wthread-safety.
#pragma once

#if defined(__clang__)
// The attribute `x`, for clang only; the macros below are built on it.
#define GORO_THREAD_ANNOTATION(x) __attribute__((x))
#else
// Nothing: other compilers have no thread-safety analysis.
#define GORO_THREAD_ANNOTATION(x)
#endif

// A type whose objects are locks ("mutex" names the kind in diagnostics).
#define GORO_CAPABILITY(x) GORO_THREAD_ANNOTATION(capability(x))
// An RAII type that holds a lock for its lifetime.
#define GORO_SCOPED_CAPABILITY GORO_THREAD_ANNOTATION(scoped_lockable)
// A field read or written only with the lock held (reads: held shared).
#define GORO_GUARDED_BY(x) GORO_THREAD_ANNOTATION(guarded_by(x))
// A pointer field whose target is read or written only with the lock held.
#define GORO_PT_GUARDED_BY(x) GORO_THREAD_ANNOTATION(pt_guarded_by(x))
// A function called with the lock(s) held, which it leaves held.
#define GORO_REQUIRES(...) GORO_THREAD_ANNOTATION(requires_capability(__VA_ARGS__))
// The same, held at least shared (a reader's lock).
#define GORO_REQUIRES_SHARED(...) GORO_THREAD_ANNOTATION(requires_shared_capability(__VA_ARGS__))
// A function that takes the lock(s) and returns with them held.
#define GORO_ACQUIRE(...) GORO_THREAD_ANNOTATION(acquire_capability(__VA_ARGS__))
// The same, shared.
#define GORO_ACQUIRE_SHARED(...) GORO_THREAD_ANNOTATION(acquire_shared_capability(__VA_ARGS__))
// A function that returns `result` when it took the lock(s).
#define GORO_TRY_ACQUIRE(...) GORO_THREAD_ANNOTATION(try_acquire_capability(__VA_ARGS__))
// The same, shared.
#define GORO_TRY_ACQUIRE_SHARED(...) GORO_THREAD_ANNOTATION(try_acquire_shared_capability(__VA_ARGS__))
// A function called with the lock(s) held, which it releases.
#define GORO_RELEASE(...) GORO_THREAD_ANNOTATION(release_capability(__VA_ARGS__))
// The same, held shared.
#define GORO_RELEASE_SHARED(...) GORO_THREAD_ANNOTATION(release_shared_capability(__VA_ARGS__))
// The same, held either way (a scoped guard's destructor).
#define GORO_RELEASE_GENERIC(...) GORO_THREAD_ANNOTATION(release_generic_capability(__VA_ARGS__))
// A function that must not be called with the lock(s) held.
#define GORO_EXCLUDES(...) GORO_THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))
// A function that returns a reference to the lock named.
#define GORO_RETURN_CAPABILITY(x) GORO_THREAD_ANNOTATION(lock_returned(x))
// A function whose locking the analysis cannot follow (see above).
#define GORO_NO_THREAD_SAFETY_ANALYSIS GORO_THREAD_ANNOTATION(no_thread_safety_analysis)
