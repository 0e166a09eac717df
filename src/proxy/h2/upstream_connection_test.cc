// UpstreamConnection against a loopback HTTP/2 server (upstream_test_server.h): streams multiplexed
// on one connection, resets, connection loss, deadlines and flow control.
#include "proxy/h2/upstream_connection.h"

#include <gtest/gtest.h>

#include <boost/asio/read.hpp>

#include "proxy/h2/upstream_test_server.h"
#include "proxy/h2/upstream_test_util.h"

namespace meshd::proxy::h2 {
namespace {

using namespace testing;
using tcp = boost::asio::ip::tcp;

class UpstreamConnectionTest : public ::testing::Test {
 protected:
  Task<std::shared_ptr<UpstreamConnection>> connect(const tcp::endpoint& to, const Settings& settings = {}) {
    boost::system::error_code ec;
    auto c = co_await UpstreamConnection::connect(io_.get_executor(), to, settings, in(5s), ec);
    EXPECT_FALSE(ec) << ec.message();
    co_return c;
  }

  boost::asio::io_context io_{1};
  UpstreamTestServer server_;
};

TEST_F(UpstreamConnectionTest, RequestBodyGoesUpAndTheResponseComesBackWithTrailers) {
  // The server's windows at HTTP/2's initial 64 KiB: the body's pieces wait for WINDOW_UPDATEs.
  Settings small;
  small.initialStreamWindow = small.initialConnectionWindow = 65535;
  UpstreamTestServer server(small);
  std::string sent;
  for (int i = 0; sent.size() < 300 * 1024; ++i) sent += "piece " + std::to_string(i) + "\n";
  runTest(io_, [&]() -> Task<> {
    auto c = co_await connect(server.endpoint());
    auto s = c->open(request("/echo", "POST"), false);
    EXPECT_EQ(c->activeStreams(), 1u);
    std::string_view rest = sent;
    while (!rest.empty()) {
      std::string_view piece = rest.substr(0, 16 * 1024);
      rest.remove_prefix(piece.size());
      EXPECT_TRUE(co_await s->send(piece, rest.empty(), in(5s)));
    }
    EXPECT_FALSE(co_await s->send("more", true, in(5s)));  // our side has ended
    StreamResult r = co_await s->awaitHead(in(5s));
    EXPECT_TRUE(r.ok()) << r.describe();
    EXPECT_EQ(field(s->head(), ":status"), "200");
    EXPECT_EQ(field(s->head(), "content-type"), "application/octet-stream");
    std::string got = co_await readBody(*s, r, in(5s));
    EXPECT_TRUE(r.ok()) << r.describe();
    EXPECT_EQ(got.size(), sent.size());
    EXPECT_TRUE(got == sent);
    EXPECT_NE(s->trailers(), nullptr);
    if (s->trailers()) {
      EXPECT_EQ(field(*s->trailers(), "x-length"), std::to_string(sent.size()));
    }
    EXPECT_TRUE(s->done());
    s.reset();
    EXPECT_EQ(c->activeStreams(), 0u);
    EXPECT_TRUE(c->usable());
    c->close();
    EXPECT_FALSE(c->usable());
    EXPECT_EQ(c->open(request("/"), true), nullptr);
  });
  EXPECT_EQ(server.connections(), 1);
}

// A request's side ends with trailers, or with an empty last piece.
TEST_F(UpstreamConnectionTest, RequestTrailersOrAnEmptyLastPieceEndTheRequest) {
  runTest(io_, [&]() -> Task<> {
    auto c = co_await connect(server_.endpoint());
    auto withTrailers = c->open(request("/echo", "POST"), false);
    auto emptyEnd = c->open(request("/echo", "POST"), false);
    EXPECT_TRUE(co_await withTrailers->send("abc", false, in(5s)));
    EXPECT_TRUE(withTrailers->sendTrailers({{"x-checksum", "1"}}));
    EXPECT_FALSE(withTrailers->sendTrailers({{"x-checksum", "2"}}));
    EXPECT_TRUE(co_await emptyEnd->send("", false, in(5s)));
    EXPECT_TRUE(co_await emptyEnd->send("", true, in(5s)));
    for (auto* s : {withTrailers.get(), emptyEnd.get()}) {
      StreamResult r = co_await s->awaitHead(in(5s));
      EXPECT_TRUE(r.ok()) << r.describe();
      std::string body = co_await readBody(*s, r, in(5s));
      EXPECT_EQ(body, s == emptyEnd.get() ? "" : "abc");
      EXPECT_TRUE(s->done());
    }
    c->close();
  });
  auto trailers = server_.trailers();
  ASSERT_EQ(trailers.size(), 1u);
  EXPECT_EQ(field(trailers[0], "x-checksum"), "1");
}

TEST_F(UpstreamConnectionTest, InformationalHeadsAreSkipped) {
  runTest(io_, [&]() -> Task<> {
    auto c = co_await connect(server_.endpoint());
    auto s = c->open(request("/continue"), true);
    EXPECT_EQ(co_await responseBody(*s), "done");
    EXPECT_EQ(field(s->head(), ":status"), "200");
    EXPECT_EQ(s->trailers(), nullptr);
    c->close();
  });
}

TEST_F(UpstreamConnectionTest, ServerResetsAndRefusalsFailTheirStreamOnly) {
  runTest(io_, [&]() -> Task<> {
    auto c = co_await connect(server_.endpoint());
    auto reset = c->open(request("/reset"), true);
    auto refused = c->open(request("/refuse"), true);
    auto fine = c->open(request("/slow/50"), true);
    StreamResult r = co_await reset->awaitHead(in(5s));
    EXPECT_EQ(r.kind, StreamResult::kReset);
    EXPECT_EQ(r.code, ErrorCode::kInternalError);
    EXPECT_EQ(r.describe(), "remote reset");
    r = co_await refused->awaitHead(in(5s));
    EXPECT_EQ(r.kind, StreamResult::kRefused);
    EXPECT_EQ(r.code, ErrorCode::kRefusedStream);
    std::string_view piece = co_await reset->next(in(5s), r);  // a failed stream stays failed
    EXPECT_TRUE(piece.empty());
    EXPECT_EQ(r.kind, StreamResult::kReset);
    EXPECT_FALSE(co_await reset->send("x", true, in(5s)));
    EXPECT_EQ(co_await responseBody(*fine), "slow");
    EXPECT_TRUE(c->usable());
    c->close();
  });
}

TEST_F(UpstreamConnectionTest, ConnectionClosedMidResponseFailsEveryOpenStream) {
  runTest(io_, [&]() -> Task<> {
    auto c = co_await connect(server_.endpoint());
    auto other = c->open(request("/slow/5000"), true);
    auto s = c->open(request("/close"), true);
    StreamResult r = co_await s->awaitHead(in(5s));
    EXPECT_TRUE(r.ok());
    std::string got = co_await readBody(*s, r, in(5s));
    EXPECT_EQ(got, "partial");
    EXPECT_EQ(r.kind, StreamResult::kConnectionFailure);
    EXPECT_EQ(r.describe(), "connection termination");
    EXPECT_FALSE(s->done());
    EXPECT_EQ(co_await responseBody(*other), "<connection termination>");
    EXPECT_TRUE(c->closed());
    EXPECT_FALSE(c->usable());
    EXPECT_EQ(c->activeStreams(), 0u);
  });
}

TEST_F(UpstreamConnectionTest, AwaitHeadGivesUpAtItsDeadlineAndDroppingTheStreamCancelsIt) {
  runTest(io_, [&]() -> Task<> {
    auto c = co_await connect(server_.endpoint());
    auto s = c->open(request("/slow/3000"), true);
    auto start = Clock::now();
    StreamResult r = co_await s->awaitHead(in(100ms));
    auto took = Clock::now() - start;
    EXPECT_EQ(r.kind, StreamResult::kTimeout);
    EXPECT_GE(took, 100ms);
    EXPECT_LT(took, 1s);
    EXPECT_EQ(c->activeStreams(), 1u);  // still open: the caller decides
    s.reset();                           // gives up: RST_STREAM(CANCEL)
    EXPECT_EQ(c->activeStreams(), 0u);
    EXPECT_TRUE(c->usable());
    auto next = c->open(request("/"), true);
    EXPECT_EQ(co_await responseBody(*next), "hello");
    c->close();
  });
  EXPECT_EQ(server_.connections(), 1);
}

TEST_F(UpstreamConnectionTest, ALargeResponseIsHeldBackByTheStreamWindow) {
  constexpr size_t kSize = 2 * 1024 * 1024;
  Settings settings;
  settings.initialStreamWindow = 65535;
  settings.initialConnectionWindow = 1024 * 1024;
  runTest(io_, [&]() -> Task<> {
    auto c = co_await connect(server_.endpoint(), settings);
    auto s = c->open(request("/big/" + std::to_string(kSize)), true);
    StreamResult r = co_await s->awaitHead(in(5s));
    EXPECT_TRUE(r.ok());
    // A caller that stops reading: the server stops at the window.
    Timer pause(io_.get_executor(), 200ms);
    co_await pause.async_wait(kAwait);
    EXPECT_GT(s->buffered(), 0u);
    EXPECT_LE(s->buffered(), 65535u);
    size_t total = 0, largest = 0, most = 0;
    for (;;) {
      std::string_view piece = co_await s->next(in(5s), r);
      if (piece.empty()) break;
      total += piece.size();
      largest = std::max(largest, piece.size());
      most = std::max(most, piece.size() + s->buffered());
    }
    EXPECT_TRUE(r.ok()) << r.describe();
    EXPECT_EQ(total, kSize);
    EXPECT_LE(largest, 65535u);
    // What was handed out, and what arrived meanwhile: at most a window each.
    EXPECT_LE(most, 2 * 65535u);
    EXPECT_TRUE(s->done());
    c->close();
  });
}

// Streams given up halfway hold none of the connection's window: twenty streams read at once (as
// a proxy relays them) through a window of four streams' worth, half of them given up after their
// first piece, would stall were the dropped streams' unread bytes still charged to it.
TEST_F(UpstreamConnectionTest, StreamsGivenUpMidResponseGiveTheirWindowBack) {
  Settings settings;
  settings.initialStreamWindow = 65535;
  settings.initialConnectionWindow = 4 * 65535;
  runTest(io_, [&]() -> Task<> {
    auto c = co_await connect(server_.endpoint(), settings);
    std::vector<std::unique_ptr<UpstreamStream>> streams;
    for (int i = 0; i < 20; ++i) streams.push_back(c->open(request("/big/300000"), true));
    int complete = 0;
    co_await concurrently(io_, 20, [&](int i) -> Task<> {
      auto& s = streams[i];
      StreamResult r = co_await s->awaitHead(in(5s));
      size_t got = (co_await s->next(in(5s), r)).size();
      if (i % 2 == 0) {
        s.reset();  // gives up: RST_STREAM(CANCEL), what it had not read is dropped
        co_return;
      }
      got += (co_await readBody(*s, r, in(5s))).size();
      if (r.ok() && got == 300000) ++complete;
    });
    EXPECT_EQ(complete, 10);
    auto after = c->open(request("/big/300000"), true);
    EXPECT_EQ((co_await responseBody(*after)).size(), 300000u);
    c->close();
  });
  EXPECT_EQ(server_.connections(), 1);
}

// Not HTTP/2 at all: the codec fails, and so does every stream, as a protocol error.
TEST_F(UpstreamConnectionTest, AServerThatDoesNotSpeakHttp2IsAProtocolError) {
  proxy::Acceptor acceptor(io_.get_executor(), tcp::endpoint(boost::asio::ip::address_v4::loopback(), 0));
  runTest(io_, [&]() -> Task<> {
    boost::asio::co_spawn(io_, [&]() -> Task<> {
      Socket peer = co_await acceptor.async_accept(kAwait);
      std::string preface(24, '\0');
      co_await boost::asio::async_read(peer, boost::asio::buffer(preface), kAwait);
      std::string answer = "HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";
      co_await boost::asio::async_write(peer, boost::asio::buffer(answer), kAwait);
      boost::system::error_code ec;
      char sink[4096];
      while (!ec) co_await peer.async_read_some(boost::asio::buffer(sink), into(ec));  // until the client closes
    }, boost::asio::detached);
    auto c = co_await connect(acceptor.local_endpoint());
    auto s = c->open(request("/"), true);
    StreamResult r = co_await s->awaitHead(in(5s));
    EXPECT_EQ(r.kind, StreamResult::kProtocolError);
    EXPECT_TRUE(c->closed());
  });
}

TEST_F(UpstreamConnectionTest, ConnectFailureIsReported) {
  tcp::endpoint closed;
  {
    proxy::Acceptor a(io_.get_executor(), tcp::endpoint(boost::asio::ip::address_v4::loopback(), 0));
    closed = a.local_endpoint();
  }
  runTest(io_, [&]() -> Task<> {
    boost::system::error_code ec;
    auto c = co_await UpstreamConnection::connect(io_.get_executor(), closed, {}, in(5s), ec);
    EXPECT_EQ(c, nullptr);
    EXPECT_EQ(ec, boost::asio::error::connection_refused);
  });
}

}  // namespace
}  // namespace meshd::proxy::h2
