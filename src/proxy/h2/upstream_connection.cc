#include "proxy/h2/upstream_connection.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <utility>
#include <vector>

namespace meshd::proxy::h2 {

namespace {

constexpr size_t kReadSize = 64 * 1024;
// How long a closing connection may take to send its last frames (a GOAWAY) before the socket closes.
constexpr std::chrono::seconds kFlushTimeout{1};

}  // namespace

std::string_view StreamResult::describe() const {
  switch (kind) {
    case kOk: return "";
    case kReset: return "remote reset";
    case kConnectionFailure: return "connection termination";
    case kProtocolError: return "protocol error";
    case kRefused: return "remote refused stream reset";
    case kTimeout: return "timeout";
  }
  return "";
}

// ---- UpstreamStream ----

UpstreamStream::UpstreamStream(std::shared_ptr<UpstreamConnection> connection, StreamId id)
    : connection_(std::move(connection)),
      id_(id),
      received_(connection_->socket_.get_executor()),
      sent_(connection_->socket_.get_executor()) {}

UpstreamStream::~UpstreamStream() {
  if (!attached_) return;
  connection_->detach(*this);
  if (!connection_->closed_) {
    connection_->codec_.resetStream(id_, ErrorCode::kCancel);
    connection_->wakeWriter();
  }
}

void UpstreamStream::fail(StreamResult r) {
  failure_ = r;
  received_.notify();
  sent_.notify();
}

template <typename Ready>
Task<bool> UpstreamStream::waitFor(Signal& signal, Clock::time_point deadline, StreamResult& result, Ready ready) {
  bool timedOut = false;
  for (;;) {
    if (ready()) co_return true;
    if (!failure_.ok()) {
      result = failure_;
      co_return false;
    }
    if (!attached_) co_return false;  // complete: nothing more will come
    if (timedOut) {
      result = {StreamResult::kTimeout};
      co_return false;
    }
    timedOut = !co_await signal.wait(deadline);
  }
}

Task<bool> UpstreamStream::send(std::string_view piece, bool endStream, Clock::time_point deadline) {
  UpstreamConnection& c = *connection_;
  if (!attached_ || localEnded_ || c.closed_ || !c.codec_.submitData(id_, piece, endStream)) co_return false;
  localEnded_ = endStream;
  c.wakeWriter();
  if (piece.empty() && !endStream) co_return true;
  sendPending_ = true;
  if (endStream) {
    ending_ = true;
    ++c.endingSenders_;
  }
  StreamResult ignored;
  co_return co_await waitFor(sent_, deadline, ignored, [this] { return !sendPending_; });
}

bool UpstreamStream::sendTrailers(const Headers& trailers) {
  UpstreamConnection& c = *connection_;
  if (!attached_ || localEnded_ || c.closed_ || !c.codec_.submitTrailers(id_, trailers)) return false;
  localEnded_ = true;
  c.wakeWriter();
  return true;
}

Task<StreamResult> UpstreamStream::awaitHead(Clock::time_point deadline) {
  StreamResult result;
  co_await waitFor(received_, deadline, result, [this] { return headReceived_; });
  co_return result;
}

Task<std::string_view> UpstreamStream::next(Clock::time_point deadline, StreamResult& result) {
  result = {};
  handed_.clear();
  bool ready = co_await waitFor(received_, deadline, result, [this] { return !pending_.empty() || remoteEnded_; });
  if (!ready || pending_.empty()) co_return std::string_view();  // failed, or the end
  // Arrivals go on into pending_ while the caller holds this piece.
  handed_.swap(pending_);
  UpstreamConnection& c = *connection_;
  if (!c.closed_) {
    c.codec_.consume(id_, handed_.size());
    if (c.codec_.wantsWrite()) c.wakeWriter();  // a WINDOW_UPDATE is due
  }
  co_return std::string_view(handed_);
}

void UpstreamStream::reset(ErrorCode code) {
  if (!attached_) return;
  UpstreamConnection& c = *connection_;
  c.detach(*this);
  if (!c.closed_) {
    c.codec_.resetStream(id_, code);
    c.wakeWriter();
  }
  fail({StreamResult::kReset, code});
}

boost::asio::ip::tcp::endpoint UpstreamStream::localEndpoint() const {
  boost::system::error_code ec;
  auto e = connection_->socket_.socket().local_endpoint(ec);
  return ec ? boost::asio::ip::tcp::endpoint() : e;
}

// ---- UpstreamConnection ----

UpstreamConnection::UpstreamConnection(Executor ex, tcp::endpoint host, const Settings& settings,
                                       const UpstreamOptions& options)
    : settings_(settings),
      options_(options),
      host_(std::move(host)),
      socket_(ex),
      codec_(*this, settings_),
      writable_(ex),
      idleSince_(Clock::now()) {}

UpstreamConnection::~UpstreamConnection() = default;  // active_ counts down, if fail() has not

Task<std::shared_ptr<UpstreamConnection>> UpstreamConnection::connect(Executor ex, tcp::endpoint host,
                                                                      Settings settings,
                                                                      Clock::time_point connectDeadline,
                                                                      boost::system::error_code& ec,
                                                                      UpstreamOptions options,
                                                                      ActiveConnection active) {
  std::shared_ptr<UpstreamConnection> c(new UpstreamConnection(ex, host, settings, options));
  c->active_ = std::move(active);  // a failed attempt counts down as it goes
  if (const auto& stats = c->active_.clusterStats()) {
    c->socket_.countBytes(stats, &stats->upstream_cx_rx_bytes_total, &stats->upstream_cx_tx_bytes_total);
  }
  c->socket_.expiresAt(connectDeadline);
  co_await c->socket_.async_connect(host, into(ec));
  if (ec) co_return nullptr;
  c->socket_.expiresNever();
  // A connection the server closes right after its last frames must fail its streams at once, not
  // when their deadlines pass: its reads are all attempted (read_readiness.h).
  c->socket_.readUntilClosed();
  boost::system::error_code ignored;
  c->socket_.socket().set_option(tcp::no_delay(true), ignored);
  boost::asio::co_spawn(ex, c->readLoop(c), boost::asio::detached);
  boost::asio::co_spawn(ex, c->writeLoop(c), boost::asio::detached);
  co_return c;
}

bool UpstreamConnection::usable() const {
  if (closed_ || goAwayReceived_ || closeWhenIdle_ || !codec_.canSubmitRequest()) return false;
  uint32_t limit = std::min(settings_.maxConcurrentStreams, codec_.peerMaxConcurrentStreams());
  return codec_.activeStreams() < limit;
}

std::unique_ptr<UpstreamStream> UpstreamConnection::open(const Headers& head, bool endStream) {
  if (!usable()) return nullptr;
  StreamId id = codec_.submitRequest(head, endStream);
  if (id == 0) return nullptr;
  std::unique_ptr<UpstreamStream> s(new UpstreamStream(shared_from_this(), id));
  s->localEnded_ = endStream;
  streams_.emplace(id, s.get());
  idleSince_ = Clock::time_point::max();
  if (++streamsOpened_ == options_.maxRequestsPerConnection) {  // Envoy drains the connection
    s->last_ = true;
    closeWhenIdle_ = true;
  }
  wakeWriter();
  return s;
}

void UpstreamConnection::close() {
  if (closed_) return;
  codec_.goAway(ErrorCode::kNoError);
  fail(StreamResult::kConnectionFailure, false);
}

void UpstreamConnection::closeWhenIdle() {
  closeWhenIdle_ = true;
  if (streams_.empty()) close();
}

void UpstreamConnection::wakeWriter() {
  if (!writerIdle_) return;  // it drains the codec again before it waits
  writerIdle_ = false;
  writable_.notify();
}

void UpstreamConnection::afterCodec() {
  if (endingSenders_ > 0) {
    for (auto& [id, s] : streams_) {
      if (!s->ending_ || codec_.queuedBytes(id) > 0) continue;
      s->ending_ = false;
      s->sendPending_ = false;
      --endingSenders_;
      s->sent_.notify();
    }
  }
  if (!closed_ && codec_.done()) fail(StreamResult::kConnectionFailure, false);
}

void UpstreamConnection::fail(StreamResult::Kind kind, bool now) {
  if (!closed_) {
    closed_ = true;
    active_.end();
    auto streams = std::exchange(streams_, {});
    endingSenders_ = 0;
    idleSince_ = Clock::now();
    for (auto& [id, s] : streams) {
      s->attached_ = false;
      s->ending_ = false;
      s->fail({kind});
    }
  }
  if (now) {
    boost::system::error_code ignored;
    socket_.socket().close(ignored);
  } else {
    socket_.expiresAfter(kFlushTimeout);  // the writer closes the socket once the codec's output is out
  }
  // Even with a write in flight: the writer then finds the notification before it would wait again.
  writerIdle_ = false;
  writable_.notify();
}

void UpstreamConnection::detach(UpstreamStream& s) {
  streams_.erase(s.id_);
  s.attached_ = false;
  if (s.ending_) {
    s.ending_ = false;
    --endingSenders_;
  }
  if (!streams_.empty()) return;
  idleSince_ = Clock::now();
  // Not from here: detach() runs inside the codec's callbacks and the stream's own teardown.
  if (closeWhenIdle_) boost::asio::post(socket_.get_executor(), [self = shared_from_this()] { self->close(); });
}

Task<> UpstreamConnection::readLoop(std::shared_ptr<UpstreamConnection> self) {
  std::vector<char> buf(kReadSize);
  for (;;) {
    boost::system::error_code ec;
    size_t n = co_await socket_.async_read_some(boost::asio::buffer(buf), into(ec));
    if (closed_) break;
    if (ec) {  // the server closed the connection, or it broke
      fail(StreamResult::kConnectionFailure, true);
      break;
    }
    if (!codec_.feed(std::string_view(buf.data(), n)).ok()) {
      fail(StreamResult::kProtocolError, false);  // after the GOAWAY that says why
      break;
    }
    afterCodec();
    if (codec_.wantsWrite()) wakeWriter();
    if (closed_) break;
  }
}

Task<> UpstreamConnection::writeLoop(std::shared_ptr<UpstreamConnection> self) {
  std::string buf;
  for (;;) {
    buf.clear();
    codec_.drainOutput(buf);
    afterCodec();
    if (buf.empty()) {
      if (closed_) break;
      writerIdle_ = true;
      co_await writable_.wait();
      continue;
    }
    boost::system::error_code ec;
    co_await boost::asio::async_write(socket_, boost::asio::buffer(buf), into(ec));
    if (ec) {
      fail(StreamResult::kConnectionFailure, true);
      break;
    }
  }
  writerIdle_ = false;
  boost::system::error_code ignored;
  socket_.socket().close(ignored);
}

// ---- Callbacks ----

UpstreamStream* UpstreamConnection::find(StreamId id) {
  auto it = streams_.find(id);
  return it == streams_.end() ? nullptr : it->second;
}

void UpstreamConnection::onHeaders(StreamId id, Headers headers, bool endStream) {
  UpstreamStream* s = find(id);
  if (!s || isInformational(headers) || s->headReceived_) return;
  s->head_ = std::move(headers);
  s->headReceived_ = true;
  s->headEndedStream_ = endStream;
  s->received_.notify();
}

void UpstreamConnection::onData(StreamId id, std::string_view data) {
  UpstreamStream* s = find(id);
  if (!s) {  // given up on: nobody will take it
    codec_.consume(id, data.size());
    return;
  }
  s->pending_.append(data);
  s->received_.notify();
}

void UpstreamConnection::onTrailers(StreamId id, Headers trailers) {
  if (UpstreamStream* s = find(id)) s->trailers_ = std::move(trailers);
}

void UpstreamConnection::onEndStream(StreamId id) {
  UpstreamStream* s = find(id);
  if (!s) return;
  s->remoteEnded_ = true;
  s->received_.notify();
}

void UpstreamConnection::onReset(StreamId id, ErrorCode code) {
  UpstreamStream* s = find(id);
  if (!s) return;
  detach(*s);
  s->fail({code == ErrorCode::kRefusedStream ? StreamResult::kRefused : StreamResult::kReset, code});
}

void UpstreamConnection::onClose(StreamId id) {
  UpstreamStream* s = find(id);
  if (!s) return;
  detach(*s);
  s->received_.notify();
  s->sent_.notify();
}

void UpstreamConnection::onGoAway(StreamId, ErrorCode, std::string_view) {
  // The streams it refuses hear so from onReset right after; the others run to their end.
  goAwayReceived_ = true;
}

void UpstreamConnection::onSendDrained(StreamId id) {
  UpstreamStream* s = find(id);
  if (!s || !s->sendPending_) return;
  s->sendPending_ = false;
  s->sent_.notify();
}

}  // namespace meshd::proxy::h2
