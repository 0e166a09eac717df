#pragma once
// A wake-up between coroutines of one worker: one waits (until a deadline) for something another
// will do; the other notifies. A timer serves as the condition variable (its wait is cut short by
// cancel()), so waiting costs no allocation beyond Asio's recycled operation. For the streams of a
// multiplexed connection, whose events arrive on the connection's reader, not the stream's own.
// Worker thread only.

#include <chrono>

#include "proxy/io.h"

namespace meshd::proxy {

class Signal {
 public:
  using Clock = std::chrono::steady_clock;
  explicit Signal(const Executor& ex) : timer_(ex) {}

  // Until notify() (true) or `deadline` (false). A notify() that came before the wait counts: the
  // wait then returns at once. One waiter at a time.
  Task<bool> wait(Clock::time_point deadline = Clock::time_point::max()) {
    if (notified_) {
      notified_ = false;
      co_return true;
    }
    timer_.expires_at(deadline);
    boost::system::error_code ec;
    co_await timer_.async_wait(into(ec));
    bool woken = notified_;
    notified_ = false;
    co_return woken;
  }

  void notify() {
    notified_ = true;
    timer_.cancel();
  }

 private:
  Timer timer_;
  bool notified_ = false;
};

}  // namespace meshd::proxy
