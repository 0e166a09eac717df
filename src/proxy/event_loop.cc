#include "proxy/event_loop.h"

#include <sys/prctl.h>
#include <time.h>

namespace meshd::proxy {

void runLoop(boost::asio::io_context& io, Coalescing coalescing) {
  auto guard = boost::asio::make_work_guard(io);
  if (coalescing.nap.count() <= 0 || coalescing.naps <= 0) {
    io.run();
    return;
  }
  // A thread's sleeps are late by its timer slack, 50 µs by default: more than a nap.
  prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
  const timespec nap{0, static_cast<long>(std::chrono::nanoseconds(coalescing.nap).count())};
  int empty = 0;
  while (!io.stopped()) {
    if (io.poll()) {
      empty = 0;
    } else if (empty < coalescing.naps) {
      ++empty;
      nanosleep(&nap, nullptr);
    } else {
      io.run_one();
      empty = 0;
    }
  }
}

}  // namespace meshd::proxy
