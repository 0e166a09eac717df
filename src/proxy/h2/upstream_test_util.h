#pragma once
// For the upstream HTTP/2 tests: running a test's coroutine on an io_context of its own, requests,
// and reading a response whole.

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>

#include <chrono>
#include <exception>
#include <string>

#include "proxy/h2/upstream_connection.h"
#include "proxy/signal.h"

namespace meshd::proxy::h2::testing {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// Runs `body` (a coroutine lambda) on `io` to its end. What it started must wind down by itself
// once it is over (connections closed, their coroutines ended): `io` must run out of work well
// before `limit`.
template <typename F>
void runTest(boost::asio::io_context& io, F body, Clock::duration limit = 20s) {
  bool finished = false;
  std::exception_ptr error;
  boost::asio::co_spawn(io, body(), [&](std::exception_ptr e) {
    error = e;
    finished = true;
  });
  io.run_for(limit);
  if (error) std::rethrow_exception(error);
  EXPECT_TRUE(finished) << "the test's coroutine did not finish";
  EXPECT_TRUE(io.stopped()) << "work was left behind";
}

// Runs task(0) ... task(n - 1) at once on `io` and waits for them all.
template <typename F>
Task<> concurrently(boost::asio::io_context& io, int n, F task) {
  int left = n;
  Signal allDone(io.get_executor());
  for (int i = 0; i < n; ++i) {
    boost::asio::co_spawn(io, task(i), [&](std::exception_ptr e) {
      if (e) ADD_FAILURE() << "a task threw";
      if (--left == 0) allDone.notify();
    });
  }
  while (left > 0) co_await allDone.wait();
}

inline Headers request(std::string path, std::string method = "GET") {
  return {{":method", std::move(method)}, {":scheme", "http"}, {":authority", "backend"}, {":path", std::move(path)}};
}

inline Clock::time_point in(Clock::duration d) { return Clock::now() + d; }

// The value of the first field with this name, or "".
inline std::string field(const Headers& h, std::string_view name) {
  for (const auto& [n, v] : h) {
    if (n == name) return v;
  }
  return "";
}

// The rest of the response body; `result` says how it ended.
inline Task<std::string> readBody(UpstreamStream& s, StreamResult& result, Clock::time_point deadline) {
  std::string body;
  for (;;) {
    std::string_view piece = co_await s.next(deadline, result);
    if (piece.empty()) break;
    body.append(piece);
  }
  co_return body;
}

// The response's body, read whole once its head came; "<reason>" (StreamResult::describe()) if
// either failed.
inline Task<std::string> responseBody(UpstreamStream& s, Clock::duration within = 5s) {
  StreamResult r = co_await s.awaitHead(in(within));
  std::string body;
  if (r.ok()) body = co_await readBody(s, r, in(within));
  co_return r.ok() ? body : "<" + std::string(r.describe()) + ">";
}

}  // namespace meshd::proxy::h2::testing
