// goro/signal.hpp: receiving signals on a channel (Go's os/signal.Notify).
//
//   int main() {
//     goro::block_signals({SIGINT, SIGTERM});    // before run(): see below
//     return goro::run([] {
//       goro::chan<int> sig(1);
//       goro::signal_notify(sig, SIGINT, SIGTERM);
//       ... start the server ...
//       sig.recv();                               // wait for ^C
//       ... shut down gracefully ...
//     });
//   }
//
// Design
//   * A process-directed signal is delivered to any thread that does not
//     block it. goro reads notified signals from a signalfd, which sees a
//     signal only while every thread blocks it; so block them in main()
//     before goro::run() (block_signals, or signal_notify itself), and every
//     worker thread inherits the mask. A signal that still lands on a thread
//     that does not block it (signal_notify called inside run(), a thread
//     created by a library) is caught by a small handler and delivered the
//     same way, so nothing is lost either way; such a thread's system calls
//     may see EINTR, which goro's own calls retry.
//   * One dispatcher thread waits on the signalfd and sends each signal's
//     number to every channel registered for it, without blocking: if a
//     channel's buffer is full the signal is dropped for that channel (Go's
//     rule: give the channel a buffer).
//   * While any channel is registered, the runtime's deadlock detector
//     assumes a signal may still come (a main goroutine waiting only for ^C
//     is not a deadlock).
//   * SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGKILL and SIGSTOP cannot be
//     notified (goro's stack overflow handler owns SIGSEGV).
#pragma once

#include <goro/config.hpp>

#include <goro/chan.hpp>

#include <initializer_list>
#include <type_traits>

namespace goro {

// Blocks `signals` in the calling thread; threads it creates afterwards
// (goro::run's workers) inherit the mask. Call it in main() before
// goro::run(). Throws std::invalid_argument for a signal that cannot be
// notified. Cost: one pthread_sigmask.
void block_signals(std::initializer_list<int> signals);

// Relays `signals` to `ch` from now on (Go's signal.Notify): each arrival
// sends its number with a non-blocking send. The signals' default actions
// (termination for SIGINT/SIGTERM) no longer happen. Blocks the signals in
// the calling thread (see the top of this file). A channel may be registered
// for several signals by several calls; registering it again for a signal
// is harmless.
// Throws std::invalid_argument for an empty list or a signal that cannot
// be notified, std::system_error if the signalfd or the dispatcher thread
// cannot be created. Thread-safe. Cost: a few system calls.
void signal_notify(const chan<int>& ch, std::initializer_list<int> signals);

// Same, with the signals as arguments: signal_notify(ch, SIGINT, SIGTERM).
template <typename... Signals>
requires(sizeof...(Signals) > 0 && (std::is_convertible_v<Signals, int> &&
                                    ...)) void signal_notify(const chan<int>& ch, Signals... signals) {
  signal_notify(ch, {static_cast<int>(signals)...});
}

// Stops relaying any signal to `ch` (Go's signal.Stop). A signal nobody is
// notified of any more gets its previous disposition back (it stays blocked
// in threads that blocked it). Thread-safe.
void signal_stop(const chan<int>& ch);

}  // namespace goro
