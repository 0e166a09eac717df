// The workers' event loop: it naps before blocking, and must still run everything, stop, and
// block when idle.
#include "proxy/event_loop.h"

#include <gtest/gtest.h>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <pthread.h>
#include <time.h>

#include <atomic>
#include <thread>

namespace meshd::proxy {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// `io` run by runLoop on a thread of its own, stopped and joined at the end.
struct LoopThread {
  boost::asio::io_context io{1};
  std::thread thread;
  explicit LoopThread(Coalescing c) : thread([this, c] { runLoop(io, c); }) {}
  ~LoopThread() {
    io.stop();
    thread.join();
  }
  // CPU time the loop's thread has used.
  Clock::duration cpu() {
    clockid_t id;
    pthread_getcpuclockid(thread.native_handle(), &id);
    timespec ts{};
    clock_gettime(id, &ts);
    return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
  }
};

class EventLoopTest : public ::testing::TestWithParam<int> {
 protected:
  Coalescing coalescing() const { return Coalescing{std::chrono::microseconds(GetParam()), 2}; }
};

// Work posted from another thread runs whether the loop is busy, napping or blocked.
TEST_P(EventLoopTest, RunsWhatOtherThreadsPost) {
  LoopThread loop(coalescing());
  std::atomic<int> ran{0};
  Clock::duration worst{};
  for (int i = 0; i < 300; ++i) {
    auto posted = Clock::now();
    std::atomic<bool> done{false};
    boost::asio::post(loop.io, [&] {
      ran++;
      done = true;
    });
    while (!done) std::this_thread::yield();
    worst = std::max(worst, Clock::now() - posted);
    // Gaps shorter than, as long as, and longer than the naps.
    std::this_thread::sleep_for(std::chrono::microseconds((i % 3) * 40));
  }
  EXPECT_EQ(ran, 300);
  EXPECT_LT(worst, 100ms);
}

TEST_P(EventLoopTest, TimersFire) {
  LoopThread loop(coalescing());
  boost::asio::steady_timer timer(loop.io, 5ms);
  std::atomic<bool> fired{false};
  auto start = Clock::now();
  timer.async_wait([&](boost::system::error_code ec) { fired = !ec; });
  while (!fired && Clock::now() - start < 2s) std::this_thread::sleep_for(1ms);
  EXPECT_TRUE(fired);
  EXPECT_GE(Clock::now() - start, 5ms);
}

// An idle loop sleeps until there is work: it does not keep napping.
TEST_P(EventLoopTest, AnIdleLoopBlocks) {
  LoopThread loop(coalescing());
  std::this_thread::sleep_for(50ms);
  auto before = loop.cpu();
  std::this_thread::sleep_for(300ms);
  EXPECT_LT(loop.cpu() - before, 10ms);
}

TEST_P(EventLoopTest, StopEndsTheLoop) {
  auto start = Clock::now();
  { LoopThread loop(coalescing()); }
  EXPECT_LT(Clock::now() - start, 1s);
}

INSTANTIATE_TEST_SUITE_P(NapMicros, EventLoopTest, ::testing::Values(0, 20, 200));

}  // namespace
}  // namespace meshd::proxy
