#include "proxy/h2/codec.h"

#include <gtest/gtest.h>

#include <random>

#include "proxy/h2/codec_test_util.h"

namespace meshd::proxy::h2 {
namespace {

using testing::field;
using testing::Link;
using testing::request;
using testing::response;

TEST(H2CodecTest, RequestWithBodyAndResponseWithTrailers) {
  Link link;
  Headers req = request("POST", "/echo");
  req.emplace_back("content-type", "text/plain");
  StreamId id = link.client.submitRequest(req, false);
  ASSERT_EQ(id, 1);
  EXPECT_TRUE(link.client.submitData(id, "hello ", false));
  EXPECT_TRUE(link.client.submitData(id, "world", true));
  EXPECT_FALSE(link.client.submitData(id, "more", false));  // our side has ended
  ASSERT_TRUE(link.pump());

  const auto& in = link.serverEvents.streams[id];
  ASSERT_EQ(in.heads.size(), 1u);
  EXPECT_EQ(in.heads[0], req);  // pseudo-headers first, as sent
  EXPECT_FALSE(in.headEndedStream);
  EXPECT_EQ(in.body, "hello world");
  EXPECT_TRUE(in.ended);

  ASSERT_TRUE(link.server.submitResponse(id, {{":status", "200"}, {"content-type", "application/grpc"}}, false));
  EXPECT_FALSE(link.server.submitResponse(id, response(), false));  // one final head
  EXPECT_TRUE(link.server.submitData(id, "reply", false));
  EXPECT_TRUE(link.server.submitTrailers(id, {{"grpc-status", "0"}, {"grpc-message", "ok"}}));
  ASSERT_TRUE(link.pump());

  const auto& out = link.clientEvents.streams[id];
  ASSERT_EQ(out.heads.size(), 1u);
  EXPECT_EQ(field(out.heads[0], ":status"), "200");
  EXPECT_EQ(out.body, "reply");
  EXPECT_EQ(out.trailers, (Headers{{"grpc-status", "0"}, {"grpc-message", "ok"}}));
  EXPECT_TRUE(out.ended);
  EXPECT_TRUE(out.closed);
  EXPECT_TRUE(link.serverEvents.streams[id].closed);
  EXPECT_EQ(link.client.activeStreams(), 0u);
  EXPECT_EQ(link.server.activeStreams(), 0u);
}

// A GET's HEADERS frame ends the request; a trailers-only response is one HEADERS frame too.
TEST(H2CodecTest, HeadersThatEndTheStream) {
  Link link;
  StreamId id = link.client.submitRequest(request("GET"), true);
  EXPECT_FALSE(link.client.submitData(id, "x", true));  // no body after an ended head
  ASSERT_TRUE(link.pump());
  EXPECT_TRUE(link.serverEvents.streams[id].headEndedStream);
  EXPECT_TRUE(link.serverEvents.streams[id].ended);

  ASSERT_TRUE(link.server.submitResponse(id, {{":status", "200"}, {"grpc-status", "14"}}, true));
  ASSERT_TRUE(link.pump());
  const auto& out = link.clientEvents.streams[id];
  EXPECT_TRUE(out.headEndedStream);
  EXPECT_TRUE(out.ended);
  EXPECT_TRUE(out.trailers.empty());
  EXPECT_TRUE(out.closed);
}

TEST(H2CodecTest, TrailersEndEitherSide) {
  Link link;
  StreamId id = link.client.submitRequest(request(), false);
  ASSERT_TRUE(link.client.submitData(id, "chunk", false));
  ASSERT_TRUE(link.client.submitTrailers(id, {{"x-checksum", "abc"}}));
  EXPECT_FALSE(link.client.submitTrailers(id, {{"x-again", "no"}}));
  StreamId plain = link.client.submitRequest(request(), false);
  ASSERT_TRUE(link.client.submitTrailers(plain, {}));  // no trailers to send: just the end
  ASSERT_TRUE(link.pump());
  const auto& in = link.serverEvents.streams[id];
  EXPECT_EQ(in.body, "chunk");
  EXPECT_EQ(in.trailers, (Headers{{"x-checksum", "abc"}}));
  EXPECT_TRUE(in.ended);
  EXPECT_TRUE(link.serverEvents.streams[plain].ended);
  EXPECT_TRUE(link.serverEvents.streams[plain].trailers.empty());

  // gRPC's usual error answer: a head, no message, trailers with the status.
  ASSERT_TRUE(link.server.submitResponse(id, response(), false));
  ASSERT_TRUE(link.server.submitTrailers(id, {{"grpc-status", "5"}}));
  ASSERT_TRUE(link.pump());
  const auto& out = link.clientEvents.streams[id];
  EXPECT_FALSE(out.headEndedStream);
  EXPECT_EQ(out.body, "");
  EXPECT_EQ(out.trailers, (Headers{{"grpc-status", "5"}}));
  EXPECT_TRUE(out.closed);
}

TEST(H2CodecTest, InformationalHeadPrecedesTheFinalOne) {
  Link link;
  StreamId id = link.client.submitRequest(request(), false);
  ASSERT_TRUE(link.pump());
  ASSERT_TRUE(link.server.submitResponse(id, response("100"), false));
  ASSERT_TRUE(link.pump());
  ASSERT_EQ(link.clientEvents.streams[id].heads.size(), 1u);
  EXPECT_FALSE(link.clientEvents.streams[id].ended);

  ASSERT_TRUE(link.client.submitData(id, "body", true));
  ASSERT_TRUE(link.server.submitResponse(id, response("201"), true));
  ASSERT_TRUE(link.pump());
  const auto& out = link.clientEvents.streams[id];
  ASSERT_EQ(out.heads.size(), 2u);
  EXPECT_EQ(field(out.heads[0], ":status"), "100");
  EXPECT_EQ(field(out.heads[1], ":status"), "201");
  EXPECT_TRUE(out.trailers.empty());  // the final head is not taken for trailers
  EXPECT_TRUE(out.closed);
}

TEST(H2CodecTest, ClientResetReachesBothSides) {
  Link link;
  StreamId id = link.client.submitRequest(request(), false);
  ASSERT_TRUE(link.client.submitData(id, "partial", false));
  ASSERT_TRUE(link.pump());
  EXPECT_EQ(link.serverEvents.streams[id].body, "partial");

  ASSERT_TRUE(link.client.resetStream(id, ErrorCode::kCancel));
  ASSERT_TRUE(link.pump());
  EXPECT_EQ(link.serverEvents.streams[id].reset, ErrorCode::kCancel);
  EXPECT_EQ(link.clientEvents.streams[id].reset, ErrorCode::kCancel);
  EXPECT_FALSE(link.client.submitData(id, "late", true));  // the stream is gone
  EXPECT_FALSE(link.server.submitResponse(id, response(), true));
}

TEST(H2CodecTest, ServerResetCarriesItsCode) {
  Link link;
  StreamId id = link.client.submitRequest(request("GET"), true);
  ASSERT_TRUE(link.pump());
  ASSERT_TRUE(link.server.resetStream(id, ErrorCode::kRefusedStream));
  ASSERT_TRUE(link.pump());
  EXPECT_EQ(link.clientEvents.streams[id].reset, ErrorCode::kRefusedStream);
  EXPECT_FALSE(link.clientEvents.streams[id].closed);
}

// RFC 9113 §8.1: a complete response, then RST_STREAM(NO_ERROR) to stop the upload, completes the
// client's stream.
TEST(H2CodecTest, EarlyResponseThenNoErrorResetCompletes) {
  Link link;
  StreamId id = link.client.submitRequest(request(), false);
  ASSERT_TRUE(link.client.submitData(id, "upload that will not be read", false));
  ASSERT_TRUE(link.pump());
  ASSERT_TRUE(link.server.submitResponse(id, response("413"), true));
  ASSERT_TRUE(link.server.resetStream(id, ErrorCode::kNoError));
  ASSERT_TRUE(link.pump());
  const auto& out = link.clientEvents.streams[id];
  EXPECT_EQ(field(out.heads.at(0), ":status"), "413");
  EXPECT_TRUE(out.closed);
  EXPECT_FALSE(out.reset);
}

TEST(H2CodecTest, GoAwayRefusesStreamsItDidNotTake) {
  Link link;
  StreamId first = link.client.submitRequest(request("GET"), true);
  ASSERT_TRUE(link.pump());
  link.server.goAway();
  StreamId second = link.client.submitRequest(request("GET"), true);  // crosses the GOAWAY
  ASSERT_TRUE(link.pump());

  ASSERT_TRUE(link.clientEvents.goAway);
  EXPECT_EQ(link.clientEvents.goAway->lastStreamId, first);
  EXPECT_EQ(link.clientEvents.goAway->code, ErrorCode::kNoError);
  EXPECT_EQ(link.clientEvents.streams[second].reset, ErrorCode::kRefusedStream);  // safe to retry
  EXPECT_FALSE(link.serverEvents.streams.contains(second));
  EXPECT_FALSE(link.client.canSubmitRequest());
  EXPECT_EQ(link.client.submitRequest(request("GET"), true), 0);

  // The stream it took still completes; then both ends are done.
  EXPECT_FALSE(link.server.done());
  ASSERT_TRUE(link.server.submitResponse(first, response(), true));
  ASSERT_TRUE(link.pump());
  EXPECT_TRUE(link.clientEvents.streams[first].closed);
  EXPECT_TRUE(link.server.done());
  EXPECT_TRUE(link.client.done());
}

// Requests still waiting for a stream slot when the GOAWAY comes were never sent: refused too.
TEST(H2CodecTest, GoAwayRefusesRequestsStillQueued) {
  Settings server;
  server.maxConcurrentStreams = 1;
  Link link({}, server);
  ASSERT_TRUE(link.pump());
  StreamId first = link.client.submitRequest(request("GET"), true);
  StreamId queued = link.client.submitRequest(request("GET"), true);
  StreamId cancelled = link.client.submitRequest(request("GET"), true);
  ASSERT_TRUE(link.client.resetStream(cancelled, ErrorCode::kCancel));  // before it ever went out
  ASSERT_TRUE(link.pump());
  EXPECT_EQ(link.serverEvents.arrivals, std::vector<StreamId>{first});
  link.server.goAway();
  ASSERT_TRUE(link.pump());
  EXPECT_EQ(link.clientEvents.streams[queued].reset, ErrorCode::kRefusedStream);
  EXPECT_EQ(link.clientEvents.streams[cancelled].reset, ErrorCode::kCancel);
  EXPECT_FALSE(link.clientEvents.streams[first].reset);
  EXPECT_EQ(link.client.activeStreams(), 1u);

  // Once the stream it took is answered, nghttp2 drops the held requests without a second word.
  ASSERT_TRUE(link.server.submitResponse(first, response(), true));
  ASSERT_TRUE(link.pump());
  EXPECT_TRUE(link.clientEvents.streams[first].closed);
  EXPECT_EQ(link.clientEvents.streams.size(), 3u);
  EXPECT_TRUE(link.client.done());
  EXPECT_TRUE(link.server.done());
}

TEST(H2CodecTest, ShutdownNoticeNamesTheLastPossibleStream) {
  Link link;
  EXPECT_TRUE(link.client.canSubmitRequest());
  link.server.shutdownNotice();
  ASSERT_TRUE(link.pump());
  ASSERT_TRUE(link.clientEvents.goAway);
  EXPECT_EQ(link.clientEvents.goAway->lastStreamId, 2147483647);
  EXPECT_FALSE(link.client.canSubmitRequest());
}

TEST(H2CodecTest, ManyConcurrentStreams) {
  Link link;
  constexpr int kStreams = 300;
  std::vector<StreamId> ids;
  for (int i = 0; i < kStreams; ++i) {
    StreamId id = link.client.submitRequest(request("POST", "/" + std::to_string(i)), false);
    ASSERT_GT(id, 0);
    ASSERT_TRUE(link.client.submitData(id, "body " + std::to_string(i), true));
    ids.push_back(id);
  }
  ASSERT_TRUE(link.pump());
  ASSERT_EQ(link.server.activeStreams(), size_t{kStreams});
  for (auto it = ids.rbegin(); it != ids.rend(); ++it) {  // answered in the reverse order
    const auto& in = link.serverEvents.streams[*it];
    ASSERT_TRUE(link.server.submitResponse(*it, response(), false));
    ASSERT_TRUE(link.server.submitData(*it, field(in.heads.at(0), ":path") + " " + in.body, true));
  }
  ASSERT_TRUE(link.pump());
  for (int i = 0; i < kStreams; ++i) {
    const auto& out = link.clientEvents.streams[ids[i]];
    EXPECT_EQ(out.body, "/" + std::to_string(i) + " body " + std::to_string(i));
    EXPECT_TRUE(out.closed);
  }
}

// A server's SETTINGS_MAX_CONCURRENT_STREAMS holds the client's extra requests until streams end.
TEST(H2CodecTest, RequestsOverThePeersLimitWait) {
  Settings server;
  server.maxConcurrentStreams = 4;
  Link link({}, server);
  ASSERT_TRUE(link.pump());
  EXPECT_EQ(link.client.peerMaxConcurrentStreams(), 4u);
  link.serverEvents.onEnd = [&](StreamId id) { link.server.submitResponse(id, response(), true); };
  for (int i = 0; i < 20; ++i) ASSERT_GT(link.client.submitRequest(request("GET"), true), 0);
  ASSERT_TRUE(link.pump());
  EXPECT_EQ(link.serverEvents.arrivals.size(), 20u);
  for (const auto& [id, s] : link.clientEvents.streams) EXPECT_TRUE(s.closed) << id;
}

TEST(H2CodecTest, HeadersAreSentInHttp2Form) {
  Link link;
  Headers req = {{"Content-Type", "text/plain"}, {"Connection", "keep-alive"}, {"transfer-encoding", "chunked"},
                 {"te", "trailers"}, {"Cookie", "a=1"}};
  Headers pseudo = request();
  req.insert(req.end(), pseudo.begin(), pseudo.end());  // after the regular fields, as HTTP/1 heads come
  req.emplace_back("cookie", "b=2");
  StreamId id = link.client.submitRequest(req, true);
  ASSERT_TRUE(link.pump());
  Headers want = request();
  want.insert(want.end(), {{"content-type", "text/plain"}, {"te", "trailers"}, {"cookie", "a=1; b=2"}});
  EXPECT_EQ(link.serverEvents.streams[id].heads.at(0), want);
}

TEST(H2CodecTest, OversizedHeadersResetOnlyTheirStream) {
  Link link;
  Headers big = request("GET");
  big.emplace_back("x-big", std::string(61 * 1024, 'a'));
  StreamId bad = link.client.submitRequest(big, true);
  StreamId good = link.client.submitRequest(request("GET"), true);
  ASSERT_TRUE(link.pump());
  EXPECT_EQ(link.clientEvents.streams[bad].reset, ErrorCode::kInternalError);
  EXPECT_FALSE(link.serverEvents.streams.contains(bad));  // the server never saw it
  EXPECT_TRUE(link.serverEvents.streams[good].ended);
}

// A request without :path is malformed: as Envoy, the connection fails unless
// override_stream_error_on_invalid_http_message asks for a stream reset.
TEST(H2CodecTest, MalformedRequestFailsTheConnectionByDefault) {
  Link link;
  link.client.submitRequest({{":method", "GET"}, {":scheme", "http"}, {":authority", "x"}}, true);
  EXPECT_FALSE(link.pump());
  std::string goAway;
  link.server.drainOutput(goAway);
  ASSERT_TRUE(link.client.feed(goAway).ok());
  ASSERT_TRUE(link.clientEvents.goAway);
  EXPECT_EQ(link.clientEvents.goAway->code, ErrorCode::kProtocolError);
  EXPECT_TRUE(link.server.done());
}

TEST(H2CodecTest, MalformedRequestResetsItsStreamWhenOverridden) {
  Settings server;
  server.streamErrorOnInvalidHttpMessage = true;
  Link link({}, server);
  StreamId bad = link.client.submitRequest({{":method", "GET"}, {":scheme", "http"}, {":authority", "x"}}, true);
  StreamId good = link.client.submitRequest(request("GET"), true);
  ASSERT_TRUE(link.pump());
  EXPECT_EQ(link.clientEvents.streams[bad].reset, ErrorCode::kProtocolError);
  EXPECT_TRUE(link.serverEvents.streams[good].ended);
}

TEST(H2CodecTest, HttpOneRequestIsNotAccepted) {
  testing::Recorder events;
  ServerCodec server(events);
  Status st = server.feed("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_FALSE(st.ok());
  std::string out;
  server.drainOutput(out);
  EXPECT_TRUE(server.done());
  EXPECT_TRUE(events.streams.empty());
}

// Garbage after a good preface: the frame header announces more than SETTINGS_MAX_FRAME_SIZE.
TEST(H2CodecTest, GarbageAfterThePrefaceFailsTheConnection) {
  Link link;
  ASSERT_TRUE(link.pump());
  Status st = link.server.feed(std::string_view("\xff\xff\xff\x00\x00\x00\x00\x00\x01garbage", 16));
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("FRAME_SIZE_ERROR"), std::string::npos) << st.message();
  EXPECT_FALSE(link.server.feed("more").ok());  // stays failed
  std::string goAway;
  link.server.drainOutput(goAway);
  ASSERT_TRUE(link.client.feed(goAway).ok());
  ASSERT_TRUE(link.clientEvents.goAway);
  EXPECT_EQ(link.clientEvents.goAway->code, ErrorCode::kFrameSizeError);
}

// Arbitrary bytes after a good preface, in arbitrary pieces: an error or not, never a crash, and
// once failed the codec stays failed.
TEST(H2CodecTest, RandomFramesNeverCrash) {
  std::mt19937 rng(7);
  for (int round = 0; round < 300; ++round) {
    Link link;
    link.client.submitRequest(request(), false);
    ASSERT_TRUE(link.pump());
    std::string junk(rng() % 512, '\0');
    for (char& c : junk) c = static_cast<char>(rng() % (round % 2 ? 256 : 8));  // small values parse further
    bool failed = false;
    for (size_t at = 0; at < junk.size();) {
      size_t n = std::min<size_t>(1 + rng() % 64, junk.size() - at);
      bool ok = link.server.feed(std::string_view(junk).substr(at, n)).ok();
      EXPECT_FALSE(failed && ok);
      failed = failed || !ok;
      at += n;
    }
    std::string out;
    link.server.drainOutput(out);
  }
}

TEST(H2CodecTest, ClientRejectsAnHttpOneServer) {
  testing::Recorder events;
  ClientCodec client(events);
  events.attach(client);
  StreamId id = client.submitRequest(request("GET"), true);
  std::string out;
  client.drainOutput(out);
  EXPECT_EQ(out.substr(0, 24), "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
  EXPECT_FALSE(client.feed("HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n").ok());
  EXPECT_FALSE(events.streams[id].closed);
}

TEST(H2CodecTest, AdvertisesEnvoysDefaults) {
  Link link;
  ASSERT_TRUE(link.pump());
  EXPECT_EQ(link.client.peerMaxConcurrentStreams(), 2147483647u);
}

TEST(H2CodecTest, ErrorCodesHaveTheirRfcNames) {
  EXPECT_EQ(errorCodeName(ErrorCode::kRefusedStream), "REFUSED_STREAM");
  EXPECT_EQ(errorCodeName(ErrorCode::kEnhanceYourCalm), "ENHANCE_YOUR_CALM");
}

}  // namespace
}  // namespace meshd::proxy::h2
