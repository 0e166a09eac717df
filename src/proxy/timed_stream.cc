#include "proxy/timed_stream.h"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

namespace meshd::proxy {

namespace {

// The next probe: the next whole second, so that one wakeup probes every stream of the worker.
// (Not the whole second after now + 1 s: a timer fires just past a whole second, and that would
// space the probes two seconds apart.)
TimedStream::Clock::time_point probeAfter(TimedStream::Clock::time_point now) {
  return TimedStream::Clock::time_point(std::chrono::floor<std::chrono::seconds>(now.time_since_epoch())) +
         TimedStream::kQuietProbe;
}

}  // namespace

TimedStream::TimedStream(Socket socket) : state_(std::make_shared<State>(std::move(socket))) {}

TimedStream::~TimedStream() {
  state_->probe = nullptr;  // a timer completion already queued must not call into the owner
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
  if (t < state_->armed) arm(state_, std::min(t, probeAfter(Clock::now())));
}

void TimedStream::probeWith(void (*probe)(void*), void* context) {
  state_->probe = probe;
  state_->probeContext = context;
  if (probe && state_->armed == Clock::time_point::max()) arm(state_, probeAfter(Clock::now()));
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
  if (s->probe) s->probe(s->probeContext);  // may set a deadline, or clear the probe
  // No deadline and no probe: the stream is idle.
  if (s->deadline == Clock::time_point::max() && !s->probe) return;
  auto now = Clock::now();
  if (now < s->deadline) {
    if (s->socket.is_open()) rearm(s->socket);
    return arm(s, std::min(s->deadline, probeAfter(now)));
  }
  s->timedOut = true;
  boost::system::error_code ignored;
  if (s->closeOnTimeout) {
    s->socket.close(ignored);
  } else {
    s->socket.cancel(ignored);
  }
}

namespace {

class ImmediateConnectCategory : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "immediate connect"; }
  std::string message(int ev) const override { return std::strerror(ev); }
};

}  // namespace

const boost::system::error_category& immediateConnectCategory() {
  static const ImmediateConnectCategory category;
  return category;
}

boost::system::error_code TimedStream::startConnect(const boost::asio::ip::tcp::endpoint& to) {
  boost::system::error_code ec;
  connectedAtOnce_ = false;
  Socket& s = state_->socket;
  if (!s.is_open()) s.open(to.protocol(), ec);
  if (!ec) s.native_non_blocking(true, ec);
  if (ec) return ec;
  if (::connect(s.native_handle(), to.data(), static_cast<socklen_t>(to.size())) == 0) {
    connectedAtOnce_ = true;
  } else if (errno != EINPROGRESS) {
    ec.assign(errno, immediateConnectCategory());
  }
  return ec;
}

boost::system::error_code TimedStream::pendingError(Socket& s) {
  int error = 0;
  socklen_t size = sizeof error;
  if (::getsockopt(s.native_handle(), SOL_SOCKET, SO_ERROR, &error, &size) != 0) error = errno;
  return {error, boost::system::system_category()};
}

std::string connectFailureReason(const boost::system::error_code& ec, const boost::asio::ip::tcp::endpoint& remote) {
  if (ec.category() != immediateConnectCategory()) return "delayed connect error: " + ec.message();
  std::string address = remote.address().to_string();
  if (remote.address().is_v6()) address = "[" + address + "]";
  return "immediate connect error: " + ec.message() + "|remote address:" + address + ":" + std::to_string(remote.port());
}

}  // namespace meshd::proxy
