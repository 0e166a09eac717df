// ServerCodec against another implementation: nghttp (Debian's nghttp2-client) posts a body larger
// than its 64 KiB windows over h2c with prior knowledge and gets it echoed back. Skipped when nghttp
// is not installed.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include "proxy/h2/codec.h"
#include "proxy/h2/codec_test_util.h"

namespace meshd::proxy::h2 {
namespace {

constexpr const char* kNghttp = "/usr/bin/nghttp";

bool writeAll(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// Serves one connection: each request's body comes back as the response, with a trailer.
void serveOne(int listener, std::string* error) {
  int fd = ::accept(listener, nullptr, nullptr);
  if (fd < 0) {
    *error = "accept failed";
    return;
  }
  testing::Recorder events;
  ServerCodec codec(events);
  events.attach(codec);
  events.onEnd = [&](StreamId id) {
    const std::string& body = events.streams[id].body;
    codec.submitResponse(id, {{":status", "200"}, {"content-type", "application/octet-stream"}}, false);
    codec.submitData(id, body, false);
    codec.submitTrailers(id, {{"x-length", std::to_string(body.size())}});
  };
  std::string out;
  char buf[65536];
  while (!codec.done()) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 10000) <= 0) {
      *error = "nghttp went quiet";
      break;
    }
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;  // nghttp closed after its GOAWAY
    if (Status st = codec.feed(std::string_view(buf, static_cast<size_t>(n))); !st.ok()) *error = st.message();
    codec.drainOutput(out);
    if (!writeAll(fd, out)) break;
    out.clear();
  }
  ::close(fd);
}

TEST(H2InteropTest, NghttpPostsAndGetsTheBodyBack) {
  if (::access(kNghttp, X_OK) != 0) GTEST_SKIP() << "nghttp is not installed (Debian package nghttp2-client)";

  int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(listener, 1), 0);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  int port = ntohs(addr.sin_port);

  std::string body(200 * 1024, '\0');
  for (size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>('A' + i % 53 % 26);
  auto path = std::filesystem::temp_directory_path() / ("h2_interop_" + std::to_string(::getpid()));
  std::ofstream(path, std::ios::binary) << body;

  std::string error;
  std::thread server(serveOne, listener, &error);
  std::string cmd = std::string(kNghttp) + " --timeout=10 -d " + path.string() + " http://127.0.0.1:" +
                    std::to_string(port) + "/echo";
  std::string got;
  FILE* p = ::popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  char buf[65536];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) got.append(buf, n);
  int rc = ::pclose(p);
  server.join();
  ::close(listener);
  std::filesystem::remove(path);

  EXPECT_EQ(rc, 0);
  EXPECT_EQ(error, "");
  EXPECT_EQ(got.size(), body.size());
  EXPECT_TRUE(got == body);
}

}  // namespace
}  // namespace meshd::proxy::h2
