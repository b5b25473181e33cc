// arch/thread_safety.hpp: macros for clang's thread-safety analysis
// (-Wthread-safety), which checks at compile time that a field named
// GORO_GUARDED_BY(mu) is only touched with mu held, and that functions
// acquire and release locks as they declare.
//
// The runtime's lock types are capabilities (SpinLock, Mutex); a field a
// lock guards says so with GORO_GUARDED_BY, a function that expects a lock
// held with GORO_REQUIRES. The analysis follows locks within one function
// only: code that takes a lock in one function and releases it in another
// (a park commit releasing a channel's lock on the system stack, select
// locking a variable set of channels in address order) is marked
// GORO_NO_THREAD_SAFETY_ANALYSIS with a comment saying who releases what.
//
// With g++, which has no such analysis, every macro expands to nothing.
#pragma once

#if defined(__clang__)
#define GORO_THREAD_ANNOTATION(x) __attribute__((x))
#else
#define GORO_THREAD_ANNOTATION(x)
#endif

// A type whose objects are locks ("mutex" names the kind in diagnostics).
#define GORO_CAPABILITY(x) GORO_THREAD_ANNOTATION(capability(x))
// An RAII type that holds a lock for its lifetime.
#define GORO_SCOPED_CAPABILITY GORO_THREAD_ANNOTATION(scoped_lockable)
// A field read or written only with the lock held.
#define GORO_GUARDED_BY(x) GORO_THREAD_ANNOTATION(guarded_by(x))
// A pointer field whose target is read or written only with the lock held.
#define GORO_PT_GUARDED_BY(x) GORO_THREAD_ANNOTATION(pt_guarded_by(x))
// A function called with the lock(s) held, which it leaves held.
#define GORO_REQUIRES(...) GORO_THREAD_ANNOTATION(requires_capability(__VA_ARGS__))
// A function that takes the lock(s) and returns with them held.
#define GORO_ACQUIRE(...) GORO_THREAD_ANNOTATION(acquire_capability(__VA_ARGS__))
// A function that returns `result` when it took the lock(s).
#define GORO_TRY_ACQUIRE(...) GORO_THREAD_ANNOTATION(try_acquire_capability(__VA_ARGS__))
// A function called with the lock(s) held, which it releases.
#define GORO_RELEASE(...) GORO_THREAD_ANNOTATION(release_capability(__VA_ARGS__))
// A function that must not be called with the lock(s) held.
#define GORO_EXCLUDES(...) GORO_THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))
// A function that returns a reference to the lock named.
#define GORO_RETURN_CAPABILITY(x) GORO_THREAD_ANNOTATION(lock_returned(x))
// A function whose locking the analysis cannot follow (see above).
#define GORO_NO_THREAD_SAFETY_ANALYSIS GORO_THREAD_ANNOTATION(no_thread_safety_analysis)
