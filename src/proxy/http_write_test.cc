// PieceWrite: a streamed message's pieces reach the peer byte for byte, framed as asked, whether they
// go out as one copied buffer (small) or as a gather write (large).
#include "proxy/http_write.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/read.hpp>

#include <string>

namespace meshd::proxy {
namespace {

using tcp = boost::asio::ip::tcp;

// Writes each (head, piece, last) in turn with one PieceWrite, closes, and returns what the peer read.
struct Piece {
  std::string head, body;
  bool last;
};
std::string written(const std::vector<Piece>& pieces, Framing framing) {
  boost::asio::io_context io{1};
  Acceptor acceptor(io.get_executor(), tcp::endpoint(boost::asio::ip::address_v4::loopback(), 0));
  Socket s(io.get_executor());
  s.connect(acceptor.local_endpoint());
  Socket peer = acceptor.accept();
  TimedStream stream(std::move(s));
  boost::beast::error_code ec;
  boost::asio::co_spawn(io, [&]() -> Task<> {
    PieceWrite write;
    for (const auto& p : pieces) co_await write.write(stream, p.head, p.body, framing, p.last, ec);
    stream.socket().shutdown(tcp::socket::shutdown_send);
  }, boost::asio::detached);
  io.run();
  EXPECT_FALSE(ec) << ec.message();
  std::string got;
  boost::system::error_code readEc;
  boost::asio::read(peer, boost::asio::dynamic_buffer(got), readEc);
  return got;
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

}  // namespace
}  // namespace meshd::proxy
