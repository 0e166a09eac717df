#include "proxy/timed_stream.h"

namespace meshd::proxy {

TimedStream::TimedStream(Socket socket) : state_(std::make_shared<State>(std::move(socket))) {}

TimedStream::~TimedStream() {
  state_->timer.cancel();
  boost::system::error_code ignored;
  state_->socket.close(ignored);
  // The operations just cancelled complete after this, and look at the state: it goes with a
  // handler queued behind them.
  auto ex = state_->timer.get_executor();
  boost::asio::post(ex, [s = std::move(state_)] {});
}

void TimedStream::expiresAt(Clock::time_point t) {
  state_->deadline = t;
  state_->timedOut = false;
  if (t < state_->armed) arm(state_, t);
}

void TimedStream::arm(const std::shared_ptr<State>& s, Clock::time_point t) {
  s->armed = t;
  s->timer.expires_at(t);  // cancels a pending wait, whose handler then does nothing
  s->timer.async_wait([s](boost::system::error_code ec) {
    if (!ec) onTimer(s);
  });
}

void TimedStream::onTimer(const std::shared_ptr<State>& s) {
  s->armed = Clock::time_point::max();
  if (s->deadline == Clock::time_point::max()) return;
  if (Clock::now() < s->deadline) return arm(s, s->deadline);
  s->timedOut = true;
  boost::system::error_code ignored;
  if (s->closeOnTimeout) {
    s->socket.close(ignored);
  } else {
    s->socket.cancel(ignored);
  }
}

}  // namespace meshd::proxy
