// TimedStream: a deadline bounds reads and writes, with one lazily re-armed timer per stream.
#include "proxy/timed_stream.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include <array>
#include <functional>
#include <optional>
#include <string>

namespace meshd::proxy {
namespace {

using namespace std::chrono_literals;
using tcp = boost::asio::ip::tcp;
using Clock = std::chrono::steady_clock;

// A connected loopback pair on one io_context: `stream` under test, `peer` the other end.
struct Pair {
  boost::asio::io_context io{1};
  std::optional<TimedStream> stream;
  Socket peer{io.get_executor()};

  Pair() {
    proxy::Acceptor acceptor(io.get_executor(), tcp::endpoint(boost::asio::ip::address_v4::loopback(), 0));
    Socket s(io.get_executor());
    s.connect(acceptor.local_endpoint());
    peer = acceptor.accept();
    stream.emplace(std::move(s));
  }

  // Runs `task` to its end (or `limit`) and returns how long it took.
  template <typename F>
  Clock::duration run(F task, Clock::duration limit = 5s) {
    auto start = Clock::now();
    // Until the task ends: a stream with a deadline keeps its timer (and so the io_context) busy.
    boost::asio::co_spawn(io, task(), [this](std::exception_ptr) { io.stop(); });
    io.run_for(limit);
    return Clock::now() - start;
  }
};

// A read with the deadlines `set` gives it (the last one holds), on a peer that sends nothing, run
// for at most `limit`: how it ended (would_block: still waiting) and how long it took.
std::pair<boost::system::error_code, std::chrono::steady_clock::duration> silentRead(
    Pair& p, const std::function<void(TimedStream&)>& set, std::chrono::steady_clock::duration limit = 5s) {
  boost::system::error_code ec = boost::asio::error::would_block;
  auto took = p.run([&]() -> Task<> {
    std::array<char, 16> buf;
    set(*p.stream);
    co_await p.stream->async_read_some(boost::asio::buffer(buf), into(ec));
  }, limit);
  return {ec, took};
}

TEST(TimedStreamTest, ReadTimesOutAtTheDeadline) {
  Pair p;
  auto [ec, took] = silentRead(p, [](TimedStream& s) { s.expiresAfter(50ms); });
  EXPECT_EQ(ec, boost::beast::error::timeout);
  EXPECT_GE(took, 50ms);
  EXPECT_LT(took, 2s);
  EXPECT_FALSE(p.stream->socket().is_open());  // as Beast's stream, a timed out one is closed
}

// With cancelOnTimeout the read still fails as a timeout, but the socket stays open for a reply, and
// a write under a new deadline reaches the peer.
TEST(TimedStreamTest, CancelOnTimeoutLeavesTheSocketOpen) {
  Pair p;
  p.stream->cancelOnTimeout();
  auto [ec, took] = silentRead(p, [](TimedStream& s) { s.expiresAfter(50ms); });
  EXPECT_EQ(ec, boost::beast::error::timeout);
  EXPECT_GE(took, 50ms);
  ASSERT_TRUE(p.stream->socket().is_open());
  boost::system::error_code wrote = boost::asio::error::would_block;
  p.io.restart();
  p.run([&]() -> Task<> {
    p.stream->expiresAfter(1s);
    co_await boost::asio::async_write(*p.stream, boost::asio::buffer("408", 3), into(wrote));
  }, 200ms);
  EXPECT_FALSE(wrote) << wrote.message();
  char got[3];
  EXPECT_EQ(boost::asio::read(p.peer, boost::asio::buffer(got)), 3u);
  EXPECT_EQ(std::string(got, 3), "408");
}

// A read that does not fill its buffer drained the socket: the next one waits for the reactor
// instead of a recv() that would fail with EAGAIN, and still gets what the peer sends later, even
// when the peer sent it before that next read was started.
TEST(TimedStreamTest, AShortReadLeavesTheNextReadToTheReactor) {
  Pair p;
  std::string got;
  bool atOnceAfterShort = true;
  p.run([&]() -> Task<> {
    std::array<char, 16> buf;
    boost::system::error_code ec;
    boost::asio::write(p.peer, boost::asio::buffer("one", 3));
    size_t n = co_await p.stream->async_read_some(boost::asio::buffer(buf), into(ec));
    got.append(buf.data(), n);
    atOnceAfterShort = readsAtOnce(p.stream->socket());
    boost::asio::write(p.peer, boost::asio::buffer("two", 3));
    n = co_await p.stream->async_read_some(boost::asio::buffer(buf), into(ec));
    got.append(buf.data(), n);
  });
  EXPECT_FALSE(atOnceAfterShort);
  EXPECT_EQ(got, "onetwo");
}

// The peer's last data and its FIN in one readiness edge, once the stream's first read waits in the
// reactor: the short read takes the edge, and no other comes. What the stream read, how its next
// read ended and how long both took, after `set` prepared the stream.
struct EndWithData {
  std::string got;
  boost::system::error_code end;
  Clock::duration took;
};
EndWithData readEndWithData(Pair& p, const std::function<void(TimedStream&)>& set, Clock::duration limit) {
  EndWithData r;
  r.took = p.run([&]() -> Task<> {
    set(*p.stream);
    boost::asio::co_spawn(p.io, [&]() -> Task<> {
      Timer later(p.io.get_executor(), 50ms);
      co_await later.async_wait(kAwait);
      boost::asio::write(p.peer, boost::asio::buffer("last", 4));
      p.peer.shutdown(tcp::socket::shutdown_send);
    }, boost::asio::detached);
    std::array<char, 16> buf;
    boost::system::error_code ec;
    size_t n = co_await p.stream->async_read_some(boost::asio::buffer(buf), into(ec));
    r.got.append(buf.data(), n);
    co_await p.stream->async_read_some(boost::asio::buffer(buf), into(r.end));
  }, limit);
  return r;
}

// readUntilClosed() attempts the next read anyway, so the end of the stream is seen now (without
// it, the read waits for the stream's probe or its deadline).
TEST(TimedStreamTest, ReadUntilClosedSeesAnEndThatCameWithTheData) {
  Pair p;
  auto r = readEndWithData(p, [](TimedStream& s) { s.readUntilClosed(); }, 2s);
  EXPECT_EQ(r.got, "last");
  EXPECT_EQ(r.end, boost::asio::error::eof);
  EXPECT_LT(r.took, 1s);
}

// Without readUntilClosed, the stream's probe (about every kQuietProbe while a deadline is set)
// finds that end, long before the deadline.
TEST(TimedStreamTest, AnEndThatCameWithTheDataIsFoundWithinTheProbe) {
  Pair p;
  auto r = readEndWithData(p, [](TimedStream& s) { s.expiresAfter(30s); }, 10s);
  EXPECT_EQ(r.got, "last");
  EXPECT_EQ(r.end, boost::asio::error::eof);
  EXPECT_LT(r.took, TimedStream::kQuietProbe * 2 + 500ms);
}

// A read that filled its buffer may have left data behind: the next read tries at once.
TEST(TimedStreamTest, AFullReadKeepsReadingAtOnce) {
  Pair p;
  bool atOnce = false;
  size_t second = 0;
  p.run([&]() -> Task<> {
    std::array<char, 4> buf;
    boost::system::error_code ec;
    boost::asio::write(p.peer, boost::asio::buffer("abcdef", 6));
    co_await p.stream->async_read_some(boost::asio::buffer(buf), into(ec));
    atOnce = readsAtOnce(p.stream->socket());
    second = co_await p.stream->async_read_some(boost::asio::buffer(buf), into(ec));
  });
  EXPECT_TRUE(atOnce);
  EXPECT_EQ(second, 2u);
}

TEST(TimedStreamTest, DataBeforeTheDeadlineIsRead) {
  Pair p;
  boost::system::error_code ec;
  size_t n = 0;
  p.run([&]() -> Task<> {
    std::array<char, 16> buf;
    p.stream->expiresAfter(2s);
    boost::asio::write(p.peer, boost::asio::buffer("hi", 2));
    n = co_await p.stream->async_read_some(boost::asio::buffer(buf), into(ec));
  });
  EXPECT_FALSE(ec);
  EXPECT_EQ(n, 2u);
}

// The timer was armed for 50 ms; moving the deadline later while it sleeps must not time the read
// out at 50 ms: the timer goes back to sleep until the new deadline.
TEST(TimedStreamTest, ALaterDeadlineSetMeanwhileHolds) {
  Pair p;
  auto [ec, took] = silentRead(p, [](TimedStream& s) {
    s.expiresAfter(50ms);
    s.expiresAfter(300ms);
  });
  EXPECT_EQ(ec, boost::beast::error::timeout);
  EXPECT_GE(took, 300ms);
}

// Armed for an hour, the deadline moves to 50 ms from now: the timer is re-armed at once.
TEST(TimedStreamTest, AnEarlierDeadlineRearms) {
  Pair p;
  auto [ec, took] = silentRead(p, [](TimedStream& s) {
    s.expiresAfter(1h);
    s.expiresAfter(50ms);
  });
  EXPECT_EQ(ec, boost::beast::error::timeout);
  EXPECT_LT(took, 2s);
}

TEST(TimedStreamTest, NoDeadlineNeverTimesOut) {
  Pair p;
  auto [ec, took] = silentRead(p, [](TimedStream& s) {
    s.expiresAfter(20ms);
    s.expiresNever();
  }, 300ms);
  EXPECT_EQ(ec, boost::asio::error::would_block);  // still waiting when run_for gave up
}

// A deadline that passed while nothing was pending fails the next operation at once, until a new
// deadline is set.
TEST(TimedStreamTest, APassedDeadlineFailsLaterOperations) {
  Pair p;
  boost::system::error_code first, second;
  p.run([&]() -> Task<> {
    p.stream->expiresAfter(10ms);
    Timer wait(p.io.get_executor(), 100ms);
    co_await wait.async_wait(kAwait);
    co_await p.stream->async_write_some(boost::asio::buffer("x", 1), into(first));
    p.stream->expiresAfter(1s);
    co_await p.stream->async_write_some(boost::asio::buffer("x", 1), into(second));
  }, 300ms);
  EXPECT_EQ(first, boost::beast::error::timeout);
  EXPECT_NE(second, boost::beast::error::timeout);  // a closed socket now, but no longer a timeout
}

// A probe runs about once a second with no deadline set, until it is cleared: the owner looks at the
// socket between its operations.
TEST(TimedStreamTest, AProbeRunsWithoutADeadlineUntilCleared) {
  Pair p;
  int probes = 0;
  auto probe = [](void* n) { ++*static_cast<int*>(n); };
  p.stream->probeWith(probe, &probes);
  p.io.run_for(2500ms);
  EXPECT_GE(probes, 2);
  EXPECT_LE(probes, 3);
  p.stream->probeWith(nullptr, nullptr);
  int seen = probes;
  p.io.restart();
  p.io.run_for(1200ms);
  EXPECT_EQ(probes, seen);
}

// Destroying a stream whose timer is armed leaves nothing dangling for the timer's handler.
TEST(TimedStreamTest, DestroyedWhileArmed) {
  Pair p;
  p.stream->expiresAfter(10ms);
  p.stream.reset();
  p.io.run_for(50ms);
}

}  // namespace
}  // namespace meshd::proxy
