#pragma once
// A TCP stream whose operations a deadline bounds, with one timer per connection instead of one per
// operation: Beast's tcp_stream arms, cancels and completes a timer around every read and write,
// about as much work as a small request's read itself. Here setting a deadline only stores it. The
// timer sleeps until the deadline it was armed for, then times the stream out if the deadline it
// finds has passed, or sleeps again until that one; it is re-armed at once only when a deadline
// moves earlier than where it is armed. A stream that timed out is closed (as Beast's is), or only
// cancelled (cancelOnTimeout), and its operations fail with beast::error::timeout until a new
// deadline is set.
// While a deadline is set, the timer also wakes about every kQuietProbe (on whole seconds, so that
// one wakeup serves all of a worker's streams) and has the reactor report the socket again
// (read_readiness.h rearm()): a peer's FIN that came with the data of a short read raises no edge
// of its own, so a read waiting for the next request or the rest of a body learns of it within
// that time instead of at its deadline (a client's half-close, an upstream gone mid-body).
// Worker thread only: the stream, its operations and its timer share one io_context. The stream
// must outlive its pending operations (as a coroutine's local stream does).

#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>

#include <memory>
#include <string>

#include "proxy/io.h"
#include "proxy/read_readiness.h"
#include "proxy/sharded_counter.h"

namespace meshd::proxy {

class TimedStream {
 public:
  using executor_type = Executor;
  using Clock = std::chrono::steady_clock;
  static constexpr std::chrono::seconds kQuietProbe{1};

  explicit TimedStream(Socket socket);
  explicit TimedStream(const Executor& ex) : TimedStream(Socket(ex)) {}
  ~TimedStream();
  TimedStream(const TimedStream&) = delete;
  TimedStream& operator=(const TimedStream&) = delete;

  executor_type get_executor() { return state_->socket.get_executor(); }
  Socket& socket() { return state_->socket; }
  // Hands the socket over; the stream is left without one.
  Socket release() { return std::move(state_->socket); }
  // True after a timeout, until a new deadline is set: operations fail with beast::error::timeout.
  bool timedOut() const { return state_->timedOut; }

  // From now on a timeout cancels the pending operations and leaves the socket open (by default it
  // closes it): the owner still has something to write, as a 408 to a client whose body stalled.
  void cancelOnTimeout() { state_->closeOnTimeout = false; }

  // From now on every read is attempted at once, a short one too: what is read waits for the end of
  // the stream, whose FIN may have come in the readiness edge of the last data (read_readiness.h).
  void readUntilClosed() {
    state_->noteDrained = false;
    undrained(state_->socket);
  }

  // While set, `probe(context)` runs at every probe, with or without a deadline: the owner looks at
  // the socket itself between its operations (a client gone while its upstream works, http_session.cc).
  void probeWith(void (*probe)(void*), void* context);

  // From now on the bytes read and written are counted in `rx` and `tx` (either may be null),
  // which `owner` keeps alive: a connection's stats (Envoy's ..._cx_rx_bytes_total).
  void countBytes(std::shared_ptr<const void> owner, ShardedCounter* rx, ShardedCounter* tx) {
    state_->countsOwner = std::move(owner);
    state_->rx = rx;
    state_->tx = tx;
  }
  // Counts `n` bytes written past the stream's operations (send_now.h).
  void countSent(size_t n) {
    if (state_->tx && n) state_->tx->add(n);
  }

  // Bounds this and later operations by `t`.
  void expiresAt(Clock::time_point t);
  void expiresAfter(Clock::duration d) { expiresAt(Clock::now() + d); }
  void expiresNever() { expiresAt(Clock::time_point::max()); }

  template <typename Buffers, typename Token>
  auto async_read_some(const Buffers& buffers, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, size_t)>(
        [this](auto handler, const Buffers& b) {
          if (state_->timedOut) return fail(std::move(handler), size_t{0});
          state_->socket.async_read_some(
              b, ReadCompletion<decltype(handler)>{{std::move(handler), state_.get()}, boost::asio::buffer_size(b)});
        },
        token, buffers);
  }

  template <typename Buffers, typename Token>
  auto async_write_some(const Buffers& buffers, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, size_t)>(
        [this](auto handler, const Buffers& b) {
          if (state_->timedOut) return fail(std::move(handler), size_t{0});
          state_->socket.async_write_some(b, WriteCompletion<decltype(handler)>{{std::move(handler), state_.get()}});
        },
        token, buffers);
  }

  // Connects as Envoy's client connection does: the connect() call itself, then the handshake. A
  // failure of the call (no route: ENETUNREACH, say) comes in immediateConnectCategory(); one the
  // handshake ends with (ECONNREFUSED) in the system category. Asio's async_connect tells neither.
  template <typename Token>
  auto async_connect(const boost::asio::ip::tcp::endpoint& to, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code)>(
        [this](auto handler, const boost::asio::ip::tcp::endpoint& e) {
          if (state_->timedOut) return fail(std::move(handler));
          boost::system::error_code ec = startConnect(e);
          if (ec || connectedAtOnce_) {
            boost::asio::post(state_->socket.get_executor(), boost::beast::bind_front_handler(std::move(handler), ec));
            return;
          }
          state_->socket.async_wait(Socket::wait_write,
                                    ConnectCompletion<decltype(handler)>{{std::move(handler), state_.get()}});
        },
        token, to);
  }

 private:
  // Shared with a pending wait of the timer, which may complete after the stream is gone.
  struct State {
    explicit State(Socket s) : socket(std::move(s)), timer(socket.get_executor()) {}
    Socket socket;
    Timer timer;
    Clock::time_point deadline = Clock::time_point::max();
    Clock::time_point armed = Clock::time_point::max();  // max: no wait pending
    bool timedOut = false;
    bool closeOnTimeout = true;
    bool noteDrained = true;
    void (*probe)(void*) = nullptr;
    void* probeContext = nullptr;
    ShardedCounter* rx = nullptr;
    ShardedCounter* tx = nullptr;
    std::shared_ptr<const void> countsOwner;
  };

  // An operation's completion, which tells a timeout from other cancellations.
  template <typename Handler>
  struct Completion {
    Handler handler;
    State* state;
    template <typename... Args>
    void operator()(boost::system::error_code ec, Args... args) {
      if (ec == boost::asio::error::operation_aborted && state->timedOut) ec = boost::beast::error::timeout;
      handler(ec, args...);
    }
  };

  // The handshake's end: the socket's pending error (SO_ERROR) is the connect's.
  template <typename Handler>
  struct ConnectCompletion : Completion<Handler> {
    void operator()(boost::system::error_code ec) {
      if (!ec) ec = pendingError(this->state->socket);
      Completion<Handler>::operator()(ec);
    }
  };

  // Opens the socket if need be and calls connect(): an immediate failure, or none (then
  // connectedAtOnce_ says whether the handshake is over already).
  boost::system::error_code startConnect(const boost::asio::ip::tcp::endpoint& to);
  static boost::system::error_code pendingError(Socket& s);

  // A read that did not fill its buffers drained the socket: the next waits for the reactor.
  template <typename Handler>
  struct ReadCompletion : Completion<Handler> {
    size_t asked;
    void operator()(boost::system::error_code ec, size_t n) {
      if (!ec && n < asked && this->state->noteDrained) drained(this->state->socket);
      if (n && this->state->rx) this->state->rx->add(n);
      Completion<Handler>::operator()(ec, n);
    }
  };

  template <typename Handler>
  struct WriteCompletion : Completion<Handler> {
    void operator()(boost::system::error_code ec, size_t n) {
      if (n && this->state->tx) this->state->tx->add(n);
      Completion<Handler>::operator()(ec, n);
    }
  };

  template <typename Handler, typename... Args>
  void fail(Handler handler, Args... args) {
    boost::system::error_code ec = boost::beast::error::timeout;
    boost::asio::post(state_->socket.get_executor(), boost::beast::bind_front_handler(std::move(handler), ec, args...));
  }

  static void arm(const std::shared_ptr<State>& s, Clock::time_point t);
  static void onTimer(const std::shared_ptr<State>& s);

  std::shared_ptr<State> state_;
  bool connectedAtOnce_ = false;
};

// The category of a connect that failed in the connect() call (TimedStream::async_connect); its
// values are errno values and its messages strerror's.
const boost::system::error_category& immediateConnectCategory();

// Envoy's transport failure reason for a connect that failed with `ec`: "delayed connect error:
// Connection refused", or "immediate connect error: Network is unreachable|remote address:[2001:db8::1]:80".
std::string connectFailureReason(const boost::system::error_code& ec, const boost::asio::ip::tcp::endpoint& remote);

}  // namespace meshd::proxy
