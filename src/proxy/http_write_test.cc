// PieceWrite: a streamed message's pieces reach the peer byte for byte, framed as asked, whether they
// go out as one copied buffer (small) or as a gather write (large), and whether they are sent at once
// (sendNow, then rest() for what did not fit) or through the reactor (write).
#include "proxy/http_write.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/read.hpp>

#include <string>
#include <thread>

namespace meshd::proxy {
namespace {

using tcp = boost::asio::ip::tcp;

// A connected loopback pair: `s` for the writer, `peer` for the reader.
struct Connected {
  boost::asio::io_context io{1};
  Socket s{io.get_executor()};
  Socket peer{io.get_executor()};
  Connected() {
    Acceptor acceptor(io.get_executor(), tcp::endpoint(boost::asio::ip::address_v4::loopback(), 0));
    s.connect(acceptor.local_endpoint());
    peer = acceptor.accept();
  }
};

// Writes each (head, piece, last) in turn with one PieceWrite, closes, and returns what the peer read.
struct Piece {
  std::string head, body;
  bool last;
};
std::string writtenBy(const std::vector<Piece>& pieces, Framing framing, bool now) {
  Connected c;
  auto& io = c.io;
  Socket& s = c.s;
  Socket& peer = c.peer;
  TimedStream stream(std::move(s));
  boost::beast::error_code ec;
  boost::asio::co_spawn(io, [&]() -> Task<> {
    PieceWrite write;
    for (const auto& p : pieces) {
      if (!now) {
        co_await write.write(stream, p.head, p.body, framing, p.last, ec);
      } else if (!write.sendNow(stream, p.head, p.body, framing, p.last, ec)) {
        co_await write.rest(stream, ec);
      }
    }
    stream.socket().shutdown(tcp::socket::shutdown_send);
  }, boost::asio::detached);
  io.run();
  EXPECT_FALSE(ec) << ec.message();
  std::string got;
  boost::system::error_code readEc;
  boost::asio::read(peer, boost::asio::dynamic_buffer(got), readEc);
  return got;
}

// What the peer reads, the same both ways.
std::string written(const std::vector<Piece>& pieces, Framing framing) {
  std::string now = writtenBy(pieces, framing, true);
  EXPECT_EQ(now, writtenBy(pieces, framing, false));
  return now;
}

TEST(PieceWriteTest, SmallHeadAndBodyArriveAsWritten) {
  EXPECT_EQ(written({{"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n", "hello", true}}, Framing::kRaw),
            "HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello");
}

TEST(PieceWriteTest, SmallChunksCarryTheirSizeLinesAndTheLastChunk) {
  EXPECT_EQ(written({{"H\r\n\r\n", "abc", false}, {"", "0123456789", true}}, Framing::kChunked),
            "H\r\n\r\n3\r\nabc\r\na\r\n0123456789\r\n0\r\n\r\n");
}

TEST(PieceWriteTest, AHeadAloneAndAnEmptyLastChunk) {
  EXPECT_EQ(written({{"HEAD\r\n\r\n", "", false}, {"", "", true}}, Framing::kChunked), "HEAD\r\n\r\n0\r\n\r\n");
}

TEST(PieceWriteTest, PiecesLargerThanACopyGoAsAGatherWrite) {
  std::string big(PieceWrite::kCoalesce * 3 + 7, 'x');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + i % 26);
  std::string head = "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n";
  char size[16];
  std::snprintf(size, sizeof size, "%zx\r\n", big.size());
  EXPECT_EQ(written({{head, big, false}, {"", "tail", true}}, Framing::kChunked),
            head + size + big + "\r\n4\r\ntail\r\n0\r\n\r\n");
  EXPECT_EQ(written({{head, std::string(PieceWrite::kCoalesce - head.size(), 'y'), true}}, Framing::kRaw),
            head + std::string(PieceWrite::kCoalesce - head.size(), 'y'));  // exactly the copy's size
}

// A small piece goes out within sendNow itself: the peer has it before the io_context runs at all.
TEST(PieceWriteTest, SendNowSendsASmallPieceWithoutTheReactor) {
  Connected c;
  auto& io = c.io;
  Socket& s = c.s;
  Socket& peer = c.peer;
  TimedStream stream(std::move(s));
  PieceWrite write;
  boost::beast::error_code ec;
  EXPECT_TRUE(write.sendNow(stream, "HTTP/1.1 200 OK\r\n\r\n", "hi", Framing::kChunked, true, ec));
  EXPECT_FALSE(ec);
  std::string expected = "HTTP/1.1 200 OK\r\n\r\n2\r\nhi\r\n0\r\n\r\n";
  std::string got(expected.size(), '\0');
  boost::asio::read(peer, boost::asio::buffer(got));
  EXPECT_EQ(got, expected);
}

// A piece larger than the socket takes: sendNow sends part, rest() the remainder, in order.
TEST(PieceWriteTest, WhatSendNowCannotSendRestWrites) {
  Connected c;
  auto& io = c.io;
  Socket& s = c.s;
  Socket& peer = c.peer;
  s.set_option(boost::asio::socket_base::send_buffer_size(4096));
  TimedStream stream(std::move(s));
  std::string big(1 << 20, 'x');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + i % 23);
  std::string head = "HTTP/1.1 200 OK\r\n\r\n";
  bool sentAtOnce = true;
  boost::beast::error_code ec;
  boost::asio::co_spawn(io, [&]() -> Task<> {
    PieceWrite write;
    sentAtOnce = write.sendNow(stream, head, big, Framing::kRaw, true, ec);
    if (!sentAtOnce) co_await write.rest(stream, ec);
    stream.socket().shutdown(tcp::socket::shutdown_send);
  }, boost::asio::detached);
  std::string got;
  std::thread reader([&] {
    boost::system::error_code readEc;
    boost::asio::read(peer, boost::asio::dynamic_buffer(got), readEc);
  });
  io.run();
  reader.join();
  EXPECT_FALSE(sentAtOnce);
  EXPECT_FALSE(ec) << ec.message();
  EXPECT_EQ(got.size(), head.size() + big.size());
  EXPECT_TRUE(got == head + big);
}

// A peer that reset the connection: sendNow is done, with the error.
TEST(PieceWriteTest, SendNowToAResetPeerFails) {
  Connected c;
  auto& io = c.io;
  Socket& s = c.s;
  Socket& peer = c.peer;
  peer.set_option(boost::asio::socket_base::linger(true, 0));
  peer.close();  // RST
  TimedStream stream(std::move(s));
  PieceWrite write;
  boost::beast::error_code ec;
  for (int i = 0; i < 100 && !ec; ++i) {
    EXPECT_TRUE(write.sendNow(stream, "x", "y", Framing::kRaw, false, ec));
    if (!ec) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(ec == boost::asio::error::connection_reset || ec == boost::asio::error::broken_pipe) << ec.message();
}

}  // namespace
}  // namespace meshd::proxy
