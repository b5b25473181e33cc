// time/context.cpp: goro::context (Go's context package; the public design
// is in goro/context.hpp).
//
// Node kinds: a cancelable node (with_cancel / with_deadline) owns `mu`,
// `err`, `done` and `children`; a value node (with_value) has a key and a
// value. Every node knows its nearest cancelable ancestor-or-self
// (`canceler`), fixed at creation, so done()/err() of value nodes is one hop.
//
// Invariants
//   * err is set once, under mu, and done is closed in the same critical
//     section: whoever sees err() non-empty will find done() closed.
//   * children holds the live cancelable nodes registered with this one; a
//     child is removed by its own cancel_func or destructor (under the
//     parent's mu) or when this node is cancelled (the set is emptied).
//   * `registered_with` (the child's view) is fixed before the child is
//     published, and the parent outlives the child (the child holds the
//     chain of shared_ptrs up to it), so unlinking may lock it at any time.
//   * A node never holds two locks: cancel() copies the children out under
//     mu and cancels them after releasing it.
//   * A deadline timer holds only a weak_ptr to its node.
#include <goro/thread_annotations.hpp>
#include "arch/spinlock.hpp"

#include <goro/context.hpp>
#include <goro/timer.hpp>

#include <string>
#include <unordered_set>
#include <vector>

namespace goro {

namespace {

class ContextCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "goro.context"; }
  std::string message(int v) const override {
    switch (static_cast<context_errc>(v)) {
      case context_errc::canceled:
        return "context canceled";
      case context_errc::deadline_exceeded:
        return "context deadline exceeded";
    }
    return "unknown context error";
  }
  std::error_condition default_error_condition(int v) const noexcept override {
    switch (static_cast<context_errc>(v)) {
      case context_errc::canceled:
        return std::errc::operation_canceled;
      case context_errc::deadline_exceeded:
        return std::errc::timed_out;
    }
    return {v, *this};
  }
};

}  // namespace

const std::error_category& context_category() noexcept {
  static const ContextCategory category;
  return category;
}

namespace detail {

struct ContextNode : std::enable_shared_from_this<ContextNode> {
  std::shared_ptr<ContextNode> parent;
  ContextNode* canceler = nullptr;         // nearest cancelable ancestor-or-self
  ContextNode* registered_with = nullptr;  // the parent's canceler we are a child of

  // Value nodes.
  const void* key = nullptr;
  std::shared_ptr<const void> value;

  // Cancelable nodes.
  std::int64_t deadline_ns = 0;  // own deadline, 0 if none
  SpinLock mu;
  std::error_code err GORO_GUARDED_BY(mu);
  // Made at creation, closed under mu (with err set); a channel needs no
  // lock of ours to be read or waited on.
  chan<std::monostate> done = chan<std::monostate>::nil();
  std::unordered_set<ContextNode*> children GORO_GUARDED_BY(mu);
  timer deadline_timer;

  ContextNode() = default;
  ContextNode(const ContextNode&) = delete;
  ContextNode& operator=(const ContextNode&) = delete;
  ~ContextNode() {
    unlink_from_parent();
    deadline_timer.stop();
  }

  void unlink_from_parent() noexcept {
    if (ContextNode* p = registered_with) {
      p->mu.lock();
      p->children.erase(this);
      p->mu.unlock();
    }
  }

  // Go's cancelCtx.cancel. The deadline timer's own callback passes
  // stop_timer = false: it may fire before with_deadline has finished
  // storing the timer in deadline_timer, which it must then not touch.
  void cancel(std::error_code e, bool remove_from_parent, bool stop_timer = true) noexcept {
    std::vector<std::shared_ptr<ContextNode>> kids;
    mu.lock();
    if (err) {
      mu.unlock();
      return;  // cancelled already
    }
    err = e;
    done.close();  // under mu: err and a closed done appear together
    try {
      kids.reserve(children.size());
      for (ContextNode* k : children) {
        // A child whose last reference is gone is in its destructor,
        // waiting for mu to unlink itself: skip it.
        if (auto sp = k->weak_from_this().lock()) kids.push_back(std::move(sp));
      }
    } catch (...) {
      // Out of memory: children not collected are cancelled below, one by
      // one, still safe because we hold mu only to pick each one.
    }
    const bool all = kids.size() == children.size();
    if (all) children.clear();
    mu.unlock();
    for (auto& k : kids) k->cancel(e, false);
    if (!all) cancel_children_slowly(e);
    if (remove_from_parent) unlink_from_parent();
    if (stop_timer) deadline_timer.stop();
  }

  // The allocation-free fallback of cancel(): take children one at a time.
  void cancel_children_slowly(std::error_code e) noexcept {
    for (;;) {
      std::shared_ptr<ContextNode> k;
      mu.lock();
      while (!children.empty() && !k) {
        ContextNode* raw = *children.begin();
        children.erase(children.begin());
        k = raw->weak_from_this().lock();
      }
      mu.unlock();
      if (!k) return;
      k->cancel(e, false);
    }
  }

  // Go's propagateCancel: ties this new cancelable node to its parent's
  // canceler (registered_with, set at creation), or cancels it at once if
  // that is cancelled already. A deadline timer may have cancelled this
  // node already: it then unlinked a link not yet made, and the link made
  // here is dropped by the parent's cancel or this node's destructor.
  void attach() {
    ContextNode* p = registered_with;
    if (p == nullptr) return;  // background: never cancelled
    p->mu.lock();
    std::error_code perr = p->err;
    if (!perr) {
      try {
        p->children.insert(this);
      } catch (...) {
        p->mu.unlock();
        throw;  // unlinking a node that is not linked is harmless
      }
    }
    p->mu.unlock();
    if (perr) cancel(perr, false);
  }
};

namespace {

ContextNode* canceler_of(const std::shared_ptr<ContextNode>& n) noexcept {
  return n != nullptr ? n->canceler : nullptr;
}

std::shared_ptr<ContextNode> new_cancelable(const std::shared_ptr<ContextNode>& parent) {
  auto n = std::make_shared<ContextNode>();
  n->parent = parent;
  n->canceler = n.get();
  // Before any timer can fire: the timer's callback reads it.
  n->registered_with = canceler_of(parent);
  n->done = chan<std::monostate>();
  return n;
}

std::int64_t to_ns(clock::time_point t) noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

}  // namespace

context with_value_erased(const context& parent, const void* key, std::shared_ptr<const void> value) {
  auto n = std::make_shared<ContextNode>();
  n->parent = parent.node_;
  n->canceler = canceler_of(parent.node_);
  n->key = key;
  n->value = std::move(value);
  return context(std::move(n));
}

}  // namespace detail

chan<std::monostate> context::done() const {
  detail::ContextNode* c = detail::canceler_of(node_);
  return c != nullptr ? c->done : chan<std::monostate>::nil();
}

std::error_code context::err() const {
  detail::ContextNode* c = detail::canceler_of(node_);
  if (c == nullptr) return {};
  c->mu.lock();
  std::error_code e = c->err;
  c->mu.unlock();
  return e;
}

std::optional<clock::time_point> context::deadline() const {
  for (const detail::ContextNode* n = node_.get(); n != nullptr; n = n->parent.get()) {
    if (n->deadline_ns != 0) return clock::time_point(std::chrono::nanoseconds(n->deadline_ns));
  }
  return std::nullopt;
}

const void* context::find_value(const void* key) const noexcept {
  for (const detail::ContextNode* n = node_.get(); n != nullptr; n = n->parent.get()) {
    if (n->key == key) return n->value.get();
  }
  return nullptr;
}

void cancel_func::operator()() const noexcept {
  if (node_ != nullptr) node_->cancel(context_errc::canceled, true);
}

context_and_cancel with_cancel(const context& parent) {
  auto n = detail::new_cancelable(parent.node_);
  n->attach();
  return {context(n), cancel_func(n)};
}

context_and_cancel with_deadline(const context& parent, clock::time_point d) {
  if (auto pd = parent.deadline(); pd && *pd <= d) return with_cancel(parent);  // the parent's comes first
  auto n = detail::new_cancelable(parent.node_);
  n->deadline_ns = detail::to_ns(d);
  const clock::time_point now = clock::now();
  if (d <= now) {  // compared, not subtracted: d may be time_point::min()
    n->attach();
    n->cancel(context_errc::deadline_exceeded, true);
    return {context(n), cancel_func(n)};
  }
  // The timer goes first: once attached, the parent may cancel (and stop
  // the timer) from another thread at any moment.
  n->deadline_timer = after_func(d - now, [w = std::weak_ptr<detail::ContextNode>(n)] {
    if (auto s = w.lock()) s->cancel(context_errc::deadline_exceeded, true, false);
  });
  n->attach();
  return {context(n), cancel_func(n)};
}

}  // namespace goro
