#pragma once
// For the codec's tests: Callbacks that record what each stream saw, and a client and a server
// codec wired to each other in memory.

#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <optional>
#include <string>

#include "proxy/h2/codec.h"

namespace meshd::proxy::h2::testing {

// What one stream showed the application.
struct StreamLog {
  std::vector<Headers> heads;  // informational heads first, then the final one
  bool headEndedStream = false;
  std::string body;
  Headers trailers;
  bool ended = false;  // onEndStream
  bool closed = false;  // onClose
  std::optional<ErrorCode> reset;
  size_t drained = 0;  // onSendDrained calls
};

class Recorder : public Callbacks {
 public:
  // With autoConsume, body bytes are acknowledged as they arrive (an application that forwards at
  // once); without, the test calls consumeAll() to play a slow reader.
  explicit Recorder(bool autoConsume = true) : autoConsume_(autoConsume) {}
  void attach(Codec& codec) { codec_ = &codec; }

  std::map<StreamId, StreamLog> streams;
  std::vector<StreamId> arrivals;  // streams in the order their first head came
  struct GoAway {
    StreamId lastStreamId;
    ErrorCode code;
    std::string debug;
  };
  std::optional<GoAway> goAway;
  std::map<StreamId, size_t> unconsumed;
  std::function<void(StreamId)> onHead;  // after a final head was recorded
  std::function<void(StreamId)> onEnd;   // after onEndStream was recorded
  std::function<void(StreamId)> onDrain;

  void consumeAll() {
    for (auto& [id, n] : unconsumed) codec_->consume(id, n);
    unconsumed.clear();
  }
  size_t unconsumedBytes() const {
    size_t n = 0;
    for (const auto& [id, b] : unconsumed) n += b;
    return n;
  }

  void onHeaders(StreamId id, Headers headers, bool endStream) override {
    auto& s = streams[id];
    if (s.heads.empty()) arrivals.push_back(id);
    s.heads.push_back(std::move(headers));
    s.headEndedStream = endStream;
    if (onHead && s.heads.back().front().second[0] != '1') onHead(id);
  }
  void onData(StreamId id, std::string_view data) override {
    streams[id].body.append(data);
    if (autoConsume_) {
      codec_->consume(id, data.size());
    } else {
      unconsumed[id] += data.size();
    }
  }
  void onTrailers(StreamId id, Headers trailers) override { streams[id].trailers = std::move(trailers); }
  void onEndStream(StreamId id) override {
    streams[id].ended = true;
    if (onEnd) onEnd(id);
  }
  void onReset(StreamId id, ErrorCode code) override {
    streams[id].reset = code;
    unconsumed.erase(id);
  }
  void onClose(StreamId id) override {
    streams[id].closed = true;
    unconsumed.erase(id);
  }
  void onGoAway(StreamId lastStreamId, ErrorCode code, std::string_view debug) override {
    goAway = GoAway{lastStreamId, code, std::string(debug)};
  }
  void onSendDrained(StreamId id) override {
    ++streams[id].drained;
    if (onDrain) onDrain(id);
  }

 private:
  bool autoConsume_;
  Codec* codec_ = nullptr;
};

// A ClientCodec and a ServerCodec on either end of an in-memory connection.
struct Link {
  explicit Link(const Settings& clientSettings = {}, const Settings& serverSettings = {},
                bool clientAutoConsume = true, bool serverAutoConsume = true)
      : clientEvents(clientAutoConsume),
        serverEvents(serverAutoConsume),
        client(clientEvents, clientSettings),
        server(serverEvents, serverSettings) {
    clientEvents.attach(client);
    serverEvents.attach(server);
  }

  // Carries bytes both ways until neither side has more to say; false if a side failed.
  bool pump() {
    for (int round = 0; round < 100000; ++round) {
      std::string toServer, toClient;
      client.drainOutput(toServer);
      server.drainOutput(toClient);
      if (toServer.empty() && toClient.empty()) return true;
      bytesToServer += toServer.size();
      bool serverOk = server.feed(toServer).ok();
      bool clientOk = client.feed(toClient).ok();  // even so: what the server said before failing
      if (!serverOk || !clientOk) return false;
    }
    ADD_FAILURE() << "the codecs never went quiet";
    return false;
  }

  Recorder clientEvents;
  Recorder serverEvents;
  ClientCodec client;
  ServerCodec server;
  size_t bytesToServer = 0;
};

inline Headers request(std::string method = "POST", std::string path = "/") {
  return {{":method", std::move(method)},
          {":scheme", "http"},
          {":authority", "backend.local"},
          {":path", std::move(path)}};
}

inline Headers response(std::string status = "200") { return {{":status", std::move(status)}}; }

// The value of the first field with this name, or "" (for assertions).
inline std::string field(const Headers& h, std::string_view name) {
  for (const auto& [n, v] : h) {
    if (n == name) return v;
  }
  return "";
}

}  // namespace meshd::proxy::h2::testing
