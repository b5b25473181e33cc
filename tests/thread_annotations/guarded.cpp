// tests/thread_annotations/guarded.cpp: a program that holds goro's locks
// the way clang's thread-safety analysis can follow. check.sh compiles it
// as is (it must be clean under -Wthread-safety -Werror) and once per
// MISUSE_* macro, each of which must be rejected with the message given.
#include <goro/lock_guard.hpp>
#include <goro/mutex.hpp>
#include <goro/rw_mutex.hpp>
#include <goro/thread_annotations.hpp>

#include <map>
#include <string>

namespace {

class account {
 public:
  void deposit(int n) {
    goro::lock_guard lock(mu_);
    balance_ += n;
#ifdef MISUSE_WRITE_AFTER_UNLOCK  // writing variable 'balance_' requires holding mutex 'mu_'
    lock.unlock();
    balance_ += n;
    lock.lock();
#endif
  }
  int balance() {
#ifdef MISUSE_READ_UNLOCKED  // reading variable 'balance_' requires holding mutex 'mu_'
    return balance_;
#else
    goro::lock_guard lock(mu_);
    return balance_;
#endif
  }
  bool try_add(int n) {
    if (!mu_.try_lock()) return false;
    balance_ += n;
    mu_.unlock();
    return true;
  }
  void add_locked(int n) GORO_REQUIRES(mu_) {
    balance_ += n;
  }
  void add_twice(int n) {
    goro::lock_guard lock(mu_);
    add_locked(n);
    add_locked(n);
#ifdef MISUSE_CALL_UNLOCKED  // calling function 'add_locked' requires holding mutex 'mu_'
    lock.unlock();
    add_locked(n);
    lock.lock();
#endif
  }

 private:
  goro::mutex mu_;
  int balance_ GORO_GUARDED_BY(mu_) = 0;
};

class table {
 public:
  int get(const std::string& k) {
    goro::shared_lock_guard lock(mu_);
    auto it = counts_.find(k);
#ifdef MISUSE_WRITE_UNDER_READ_LOCK  // writing variable 'adds_' requires holding mutex 'mu_' exclusively
    adds_ = 0;
#endif
    return it == counts_.end() ? 0 : it->second;
  }
  void add(const std::string& k) {
    goro::lock_guard lock(mu_);
    counts_[k]++;
    adds_++;
  }
  void add_go_style(const std::string& k) {
    mu_.rlock();
    bool known = counts_.count(k) != 0;
    mu_.runlock();
    if (!known) add(k);
  }

 private:
  goro::rw_mutex mu_;
  std::map<std::string, int> counts_ GORO_GUARDED_BY(mu_);
  long adds_ GORO_GUARDED_BY(mu_) = 0;
};

}  // namespace

int main() {
  // Only compiled: check.sh never runs it (no goro::run, no library).
  account a;
  a.deposit(1);
  a.add_twice(1);
  (void)a.try_add(1);
  table t;
  t.add("x");
  t.add_go_style("y");
  return a.balance() + t.get("x") == 0;
}
