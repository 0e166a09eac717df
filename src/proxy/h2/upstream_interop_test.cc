// UpstreamConnection against another implementation: nghttpd (Debian's nghttp2-server) serves files
// over h2c; a large one (past its 64 KiB default windows) and several at once on one connection.
// Skipped when nghttpd is not installed.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "proxy/h2/upstream_test_util.h"

namespace meshd::proxy::h2 {
namespace {

using namespace testing;
using tcp = boost::asio::ip::tcp;

constexpr const char* kNghttpd = "/usr/sbin/nghttpd";

// nghttpd on a loopback port, serving `dir`; stopped (by its pid) with the object.
class Nghttpd {
 public:
  explicit Nghttpd(const std::filesystem::path& dir) {
    {
      boost::asio::io_context io;
      tcp::acceptor probe(io, tcp::endpoint(boost::asio::ip::address_v4::loopback(), 0));
      endpoint_ = probe.local_endpoint();
    }
    pid_ = ::fork();
    if (pid_ == 0) {
      std::string port = std::to_string(endpoint_.port());
      ::execl(kNghttpd, kNghttpd, "--no-tls", "-a", "127.0.0.1", "-d", dir.c_str(), port.c_str(),
              static_cast<char*>(nullptr));
      ::_exit(127);
    }
    // Until it listens.
    for (int i = 0; i < 100; ++i) {
      boost::asio::io_context io;
      tcp::socket s(io);
      boost::system::error_code ec;
      s.connect(endpoint_, ec);
      if (!ec) return;
      ::usleep(50 * 1000);
    }
    ADD_FAILURE() << "nghttpd did not start listening";
  }
  ~Nghttpd() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    ::waitpid(pid_, nullptr, 0);
  }
  const tcp::endpoint& endpoint() const { return endpoint_; }

 private:
  pid_t pid_ = -1;
  tcp::endpoint endpoint_;
};

TEST(H2UpstreamInteropTest, FetchesFilesFromNghttpdOverOneConnection) {
  if (::access(kNghttpd, X_OK) != 0) GTEST_SKIP() << "nghttpd is not installed (Debian package nghttp2-server)";
  auto dir = std::filesystem::temp_directory_path() / ("h2_upstream_interop_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::string big(1024 * 1024 + 17, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + i % 61 % 26);
  std::ofstream(dir / "big.bin", std::ios::binary) << big;
  for (int i = 0; i < 10; ++i) std::ofstream(dir / ("f" + std::to_string(i))) << "file " << i << "\n";

  {
    Nghttpd server(dir);
    boost::asio::io_context io{1};
    // Small windows on our side: nghttpd's sending waits on our WINDOW_UPDATEs.
    Settings settings;
    settings.initialStreamWindow = 65535;
    settings.initialConnectionWindow = 128 * 1024;
    runTest(io, [&]() -> Task<> {
      boost::system::error_code ec;
      auto c = co_await UpstreamConnection::connect(io.get_executor(), server.endpoint(), settings, in(5s), ec);
      EXPECT_FALSE(ec) << ec.message();
      if (!c) co_return;
      auto s = c->open(request("/big.bin"), true);
      std::vector<std::unique_ptr<UpstreamStream>> small;
      for (int i = 0; i < 10; ++i) small.push_back(c->open(request("/f" + std::to_string(i)), true));
      StreamResult r = co_await s->awaitHead(in(5s));
      EXPECT_TRUE(r.ok()) << r.describe();
      EXPECT_EQ(field(s->head(), ":status"), "200");
      EXPECT_EQ(field(s->head(), "content-length"), std::to_string(big.size()));
      std::string got = co_await readBody(*s, r, in(10s));
      EXPECT_TRUE(r.ok()) << r.describe();
      EXPECT_EQ(got.size(), big.size());
      EXPECT_TRUE(got == big);
      for (int i = 0; i < 10; ++i) {
        EXPECT_EQ(co_await responseBody(*small[i]), "file " + std::to_string(i) + "\n");
      }
      auto missing = c->open(request("/nope"), true);
      r = co_await missing->awaitHead(in(5s));
      EXPECT_EQ(field(missing->head(), ":status"), "404");
      c->close();
    });
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace meshd::proxy::h2
