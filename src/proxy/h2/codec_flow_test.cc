// Flow control through the codec: bodies far larger than the windows, a reader that holds the
// peer back by not consuming, a writer that holds one piece at a time.
#include <gtest/gtest.h>

#include "proxy/h2/codec.h"
#include "proxy/h2/codec_test_util.h"

namespace meshd::proxy::h2 {
namespace {

using testing::Link;
using testing::request;
using testing::response;

constexpr uint32_t kWindow = 65535;  // HTTP/2's initial windows: the smallest Envoy allows

Settings smallWindows() {
  Settings s;
  s.initialStreamWindow = kWindow;
  s.initialConnectionWindow = kWindow;
  return s;
}

std::string pattern(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + (i * 7 + i / 4096) % 26);
  return s;
}

// 1.5 MiB through 64 KiB windows: the server gets no more than a window ahead of what it consumed,
// and the body arrives whole once it keeps consuming.
TEST(H2FlowTest, RequestBodyMovesOnlyAsTheServerConsumes) {
  Link link(smallWindows(), smallWindows(), true, /*serverAutoConsume=*/false);
  const std::string body = pattern(1536 * 1024);
  StreamId id = link.client.submitRequest(request(), false);
  ASSERT_TRUE(link.client.submitData(id, body, true));
  ASSERT_TRUE(link.pump());

  auto& in = link.serverEvents.streams[id];
  EXPECT_EQ(in.body.size(), kWindow);  // one window, and nothing more however long we wait
  ASSERT_TRUE(link.pump());
  EXPECT_EQ(in.body.size(), kWindow);
  EXPECT_EQ(link.client.queuedBytes(id), body.size() - kWindow);

  int rounds = 0;
  while (!in.ended && rounds++ < 1000) {
    size_t before = in.body.size();
    link.serverEvents.consumeAll();
    ASSERT_TRUE(link.pump());
    EXPECT_GT(in.body.size(), before);
    EXPECT_LE(link.serverEvents.unconsumedBytes(), kWindow);
  }
  EXPECT_TRUE(in.ended);
  EXPECT_TRUE(in.body == body);
  EXPECT_EQ(link.client.queuedBytes(id), 0u);
  EXPECT_GT(rounds, 20);  // the window really held it back
}

// Envoy's 256 MiB windows: a slow reader holds megabytes before the peer has to wait.
TEST(H2FlowTest, EnvoysDefaultWindowsAreLarge) {
  Link link({}, {}, true, /*serverAutoConsume=*/false);
  const std::string body = pattern(4 * 1024 * 1024);
  StreamId id = link.client.submitRequest(request(), false);
  ASSERT_TRUE(link.client.submitData(id, body, true));
  ASSERT_TRUE(link.pump());
  EXPECT_TRUE(link.serverEvents.streams[id].ended);
  EXPECT_EQ(link.serverEvents.unconsumedBytes(), body.size());
}

// A writer that submits its next 64 KiB piece only when the last one went into frames, with Envoy's
// default 256 MiB windows.
TEST(H2FlowTest, WriterHoldsOnePieceAtATime) {
  Link link;
  const std::string body = pattern(2 * 1024 * 1024 + 123);
  constexpr size_t kPiece = 64 * 1024;
  size_t sent = 0;
  StreamId id = link.client.submitRequest(request(), false);
  auto next = [&](StreamId s) {
    size_t n = std::min(kPiece, body.size() - sent);
    ASSERT_TRUE(link.client.submitData(s, std::string_view(body).substr(sent, n), sent + n == body.size()));
    sent += n;
    EXPECT_LE(link.client.queuedBytes(s), kPiece);
  };
  link.clientEvents.onDrain = next;
  next(id);
  ASSERT_TRUE(link.pump());
  const auto& in = link.serverEvents.streams[id];
  EXPECT_TRUE(in.ended);
  EXPECT_TRUE(in.body == body);
  EXPECT_EQ(link.clientEvents.streams[id].drained, body.size() / kPiece);
}

// The response side: what the client does not consume stays queued in the server's codec.
TEST(H2FlowTest, ResponseWaitsForTheClientsWindow) {
  Link link(smallWindows(), smallWindows(), /*clientAutoConsume=*/false, true);
  StreamId id = link.client.submitRequest(request("GET"), true);
  ASSERT_TRUE(link.pump());
  const std::string body = pattern(300 * 1024);
  ASSERT_TRUE(link.server.submitResponse(id, response(), false));
  ASSERT_TRUE(link.server.submitData(id, body, false));
  ASSERT_TRUE(link.server.submitTrailers(id, {{"grpc-status", "0"}}));
  ASSERT_TRUE(link.pump());
  EXPECT_EQ(link.server.queuedBytes(id), body.size() - kWindow);
  auto& out = link.clientEvents.streams[id];
  while (!out.ended) {
    link.clientEvents.consumeAll();
    ASSERT_TRUE(link.pump());
  }
  EXPECT_TRUE(out.body == body);
  EXPECT_EQ(out.trailers, (Headers{{"grpc-status", "0"}}));
  EXPECT_TRUE(out.closed);
}

// A stream reset with unconsumed data gives the connection window back: other streams keep going.
TEST(H2FlowTest, ResetStreamReturnsItsShareOfTheConnectionWindow) {
  Link link(smallWindows(), smallWindows(), true, /*serverAutoConsume=*/false);
  StreamId first = link.client.submitRequest(request(), false);
  ASSERT_TRUE(link.client.submitData(first, pattern(kWindow), false));
  ASSERT_TRUE(link.pump());
  ASSERT_EQ(link.serverEvents.unconsumedBytes(), kWindow);  // the connection window is spent

  ASSERT_TRUE(link.server.resetStream(first, ErrorCode::kCancel));
  ASSERT_TRUE(link.pump());
  EXPECT_EQ(link.clientEvents.streams[first].reset, ErrorCode::kCancel);
  link.server.consume(first, kWindow);  // late: ignored, the window came back at the reset

  StreamId second = link.client.submitRequest(request(), false);
  ASSERT_TRUE(link.client.submitData(second, pattern(1000), true));
  ASSERT_TRUE(link.pump());
  EXPECT_EQ(link.serverEvents.streams[second].body.size(), 1000u);
  EXPECT_TRUE(link.serverEvents.streams[second].ended);
}

}  // namespace
}  // namespace meshd::proxy::h2
