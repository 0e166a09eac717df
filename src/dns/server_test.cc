#include "dns/server.h"

#include <ares.h>
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cstdio>
#include <mutex>
#include <thread>

#include "dns/test_util.h"

namespace meshd::dns {
namespace {

using testing::makeQuery;
using testing::parseOrDie;
using Bytes = std::vector<uint8_t>;

// A c-ares channel aimed at one server only, as meshproxy's resolver will be: no search list, no
// hosts file, one try, and REFUSED reported rather than retried.
class Resolver {
 public:
  Resolver(uint16_t port, bool tcp) {
    static std::once_flag once;
    std::call_once(once, [] { ares_library_init(ARES_LIB_INIT_ALL); });
    ares_options opts{};
    opts.flags = ARES_FLAG_NOSEARCH | ARES_FLAG_NOCHECKRESP | (tcp ? ARES_FLAG_USEVC : 0);
    opts.timeout = 2000;
    opts.tries = 1;
    EXPECT_EQ(ares_init_options(&channel_, &opts, ARES_OPT_FLAGS | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES), ARES_SUCCESS);
    std::string server = "127.0.0.1:" + std::to_string(port);
    EXPECT_EQ(ares_set_servers_ports_csv(channel_, server.c_str()), ARES_SUCCESS);
  }
  ~Resolver() { ares_destroy(channel_); }

  struct Reply {
    int status = -1;
    Bytes raw;
  };

  Reply query(const std::string& name, int type) {
    Reply reply;
    ares_query(channel_, name.c_str(), ns_c_in, type,
               [](void* arg, int status, int, unsigned char* abuf, int alen) {
                 auto* r = static_cast<Reply*>(arg);
                 r->status = status;
                 if (abuf != nullptr) r->raw.assign(abuf, abuf + alen);
               },
               &reply);
    while (reply.status == -1) {
      fd_set readers, writers;
      FD_ZERO(&readers);
      FD_ZERO(&writers);
      int nfds = ares_fds(channel_, &readers, &writers);
      if (nfds == 0) break;
      timeval tv;
      ares_timeout(channel_, nullptr, &tv);
      select(nfds, &readers, &writers, nullptr, &tv);
      ares_process(channel_, &readers, &writers);
    }
    return reply;
  }

  std::vector<std::string> addresses(const std::string& name, int type) {
    Reply r = query(name, type);
    EXPECT_EQ(r.status, ARES_SUCCESS) << ares_strerror(r.status);
    std::vector<std::string> out;
    char text[INET6_ADDRSTRLEN];
    if (type == ns_t_a) {
      std::array<ares_addrttl, 16> ttls;
      int n = static_cast<int>(ttls.size());
      EXPECT_EQ(ares_parse_a_reply(r.raw.data(), static_cast<int>(r.raw.size()), nullptr, ttls.data(), &n), ARES_SUCCESS);
      for (int i = 0; i < n; ++i) out.push_back(inet_ntop(AF_INET, &ttls[i].ipaddr, text, sizeof text));
    } else {
      std::array<ares_addr6ttl, 16> ttls;
      int n = static_cast<int>(ttls.size());
      EXPECT_EQ(ares_parse_aaaa_reply(r.raw.data(), static_cast<int>(r.raw.size()), nullptr, ttls.data(), &n),
                ARES_SUCCESS);
      for (int i = 0; i < n; ++i) out.push_back(inet_ntop(AF_INET6, &ttls[i].ip6addr, text, sizeof text));
    }
    return out;
  }

 private:
  ares_channel channel_ = nullptr;
};

// A loopback socket with a receive timeout, so a server that fails to answer fails the test instead
// of hanging it.
class Client {
 public:
  Client(uint16_t port, int type) : fd_(socket(AF_INET, type, 0)) {
    timeval tv{2, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  ~Client() { close(fd_); }

  bool connected() const { return connected_; }
  void send(const Bytes& b) { ASSERT_EQ(::send(fd_, b.data(), b.size(), 0), static_cast<ssize_t>(b.size())); }
  // One datagram, or up to `n` bytes of a stream; empty on timeout or end of stream.
  Bytes receive(size_t n = 65536) {
    Bytes b(n);
    ssize_t got = recv(fd_, b.data(), b.size(), 0);
    b.resize(got > 0 ? static_cast<size_t>(got) : 0);
    return b;
  }
  // A length-framed TCP message.
  Bytes receiveFramed() {
    Bytes length = receiveExactly(2);
    if (length.size() < 2) return {};
    return receiveExactly(static_cast<size_t>(length[0]) << 8 | length[1]);
  }

 private:
  Bytes receiveExactly(size_t n) {
    Bytes out;
    while (out.size() < n) {
      Bytes part = receive(n - out.size());
      if (part.empty()) break;
      out.insert(out.end(), part.begin(), part.end());
    }
    return out;
  }

  int fd_;
  bool connected_ = false;
};

Bytes framed(const Bytes& message) {
  Bytes out(2 + message.size());
  out[0] = static_cast<uint8_t>(message.size() >> 8);
  out[1] = static_cast<uint8_t>(message.size());
  std::copy(message.begin(), message.end(), out.begin() + 2);
  return out;
}

class DnsServerTest : public ::testing::Test {
 protected:
  void SetUp() override { start({}); }

  void start(DnsServerOptions options) {
    server_ = std::make_unique<DnsServer>(options);
    auto ports = server_->listen();
    ASSERT_TRUE(ports.ok()) << ports.status().message();
    ASSERT_NE(ports->udp, 0);
    ASSERT_EQ(ports->udp, ports->tcp);
    port_ = ports->udp;
    server_->setZones(testing::exampleZones());
    server_->start(2);
  }

  std::unique_ptr<DnsServer> server_;
  uint16_t port_ = 0;
};

TEST_F(DnsServerTest, CaresResolvesAddressesOverUdpAndTcp) {
  for (bool tcp : {false, true}) {
    Resolver resolver(port_, tcp);
    EXPECT_EQ(resolver.addresses("web.example.local", ns_t_a), (std::vector<std::string>{"10.0.0.1", "10.0.0.2"}));
    EXPECT_EQ(resolver.addresses("v6.example.local", ns_t_aaaa), (std::vector<std::string>{"fd00::1"}));
    EXPECT_EQ(resolver.addresses("alias.example.local", ns_t_a), (std::vector<std::string>{"10.0.0.1", "10.0.0.2"}));
  }
}

TEST_F(DnsServerTest, CaresSeesNxdomainAndNodataApart) {
  for (bool tcp : {false, true}) {
    Resolver resolver(port_, tcp);
    EXPECT_EQ(resolver.query("nope.example.local", ns_t_a).status, ARES_ENOTFOUND);
    EXPECT_EQ(resolver.query("web.example.local", ns_t_aaaa).status, ARES_ENODATA);
    EXPECT_EQ(resolver.query("v6.example.local", ns_t_a).status, ARES_ENODATA);
    EXPECT_EQ(resolver.query("b.c.example.local", ns_t_a).status, ARES_ENODATA);
    EXPECT_EQ(resolver.query("example.com", ns_t_a).status, ARES_EREFUSED);
  }
}

TEST_F(DnsServerTest, CaresParsesSrv) {
  Resolver resolver(port_, false);
  Resolver::Reply r = resolver.query("api.example.local", ns_t_srv);
  ASSERT_EQ(r.status, ARES_SUCCESS);
  ares_srv_reply* srv = nullptr;
  ASSERT_EQ(ares_parse_srv_reply(r.raw.data(), static_cast<int>(r.raw.size()), &srv), ARES_SUCCESS);
  ASSERT_NE(srv, nullptr);
  EXPECT_STREQ(srv->host, "i-1.api.example.local");
  EXPECT_EQ(srv->port, 8080);
  EXPECT_EQ(srv->priority, 1);
  EXPECT_EQ(srv->weight, 10);
  ares_free_data(srv);
  EXPECT_EQ(parseOrDie(r.raw).additional.size(), 2u);
}

TEST_F(DnsServerTest, TruncatesOverUdpThenServesEverythingOverTcp) {
  Bytes query = makeQuery("many.example.local", RecordType::kA);
  Client udp(port_, SOCK_DGRAM);
  udp.send(query);
  Bytes reply = udp.receive();
  ASSERT_FALSE(reply.empty());
  EXPECT_LE(reply.size(), 512u);
  Message truncated = parseOrDie(reply);
  EXPECT_TRUE(truncated.header.tc);
  EXPECT_TRUE(truncated.header.aa);
  EXPECT_TRUE(truncated.answers.empty());

  Client tcp(port_, SOCK_STREAM);
  ASSERT_TRUE(tcp.connected());
  tcp.send(framed(query));
  Message full = parseOrDie(tcp.receiveFramed());
  EXPECT_FALSE(full.header.tc);
  EXPECT_EQ(full.answers.size(), 60u);
}

TEST_F(DnsServerTest, AnswersGarbageWithFormerrAndDropsRunts) {
  Client udp(port_, SOCK_DGRAM);
  udp.send({0x01, 0x02, 0x03});  // no header: dropped, so the next datagram back answers the next query
  udp.send({0xBE, 0xEF, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xC0, 0x0C, 0x00, 0x01});
  Message formerr = parseOrDie(udp.receive());
  EXPECT_EQ(formerr.header.id, 0xBEEF);
  EXPECT_EQ(formerr.header.rcode, Rcode::kFormErr);
  udp.send(makeQuery("web.example.local", RecordType::kA, {}, 0x4242));
  EXPECT_EQ(parseOrDie(udp.receive()).header.id, 0x4242);
}

TEST_F(DnsServerTest, SetZonesSwapsTheSnapshot) {
  Resolver resolver(port_, false);
  server_->setZones(nullptr);
  EXPECT_EQ(resolver.query("web.example.local", ns_t_a).status, ARES_EREFUSED);
  ZoneSetBuilder b;
  ASSERT_TRUE(b.addZone(testing::zoneAt("other.local")).ok());
  ASSERT_TRUE(b.addA("web.other.local", "192.0.2.7", 5).ok());
  server_->setZones(b.build());
  EXPECT_EQ(resolver.addresses("web.other.local", ns_t_a), (std::vector<std::string>{"192.0.2.7"}));
  EXPECT_EQ(server_->zones()->zoneCount(), 1u);
}

TEST_F(DnsServerTest, ServesWhileZonesChange) {
  auto a = testing::exampleZones();
  std::atomic<bool> done{false};
  std::thread swapper([&] {
    ZoneSetBuilder b;
    while (!done) {
      server_->setZones(a);
      server_->setZones(b.build());
    }
  });
  Client udp(port_, SOCK_DGRAM);
  for (uint16_t id = 0; id < 200; ++id) {
    udp.send(makeQuery("web.example.local", RecordType::kA, {}, id));
    Message r = parseOrDie(udp.receive());
    EXPECT_EQ(r.header.id, id);
    EXPECT_TRUE(r.header.rcode == Rcode::kNoError || r.header.rcode == Rcode::kRefused);
  }
  done = true;
  swapper.join();
}

TEST_F(DnsServerTest, TcpAnswersSeveralQueriesOnOneConnection) {
  Client tcp(port_, SOCK_STREAM);
  ASSERT_TRUE(tcp.connected());
  Bytes both = framed(makeQuery("web.example.local", RecordType::kA, {}, 1));
  Bytes second = framed(makeQuery("nope.example.local", RecordType::kA, {}, 2));
  both.insert(both.end(), second.begin(), second.end());
  tcp.send(both);  // pipelined in one write
  Message first = parseOrDie(tcp.receiveFramed());
  EXPECT_EQ(first.header.id, 1);
  EXPECT_EQ(first.answers.size(), 2u);
  Message next = parseOrDie(tcp.receiveFramed());
  EXPECT_EQ(next.header.id, 2);
  EXPECT_EQ(next.header.rcode, Rcode::kNxDomain);
}

TEST_F(DnsServerTest, TcpClosesOversizedAndEmptyMessages) {
  Client big(port_, SOCK_STREAM);
  big.send({0xFF, 0xFF, 0x00});
  EXPECT_TRUE(big.receive().empty()) << "closed";
  Client empty(port_, SOCK_STREAM);
  empty.send({0x00, 0x00});
  EXPECT_TRUE(empty.receive().empty());
}

TEST_F(DnsServerTest, TcpClosesIdleConnections) {
  server_.reset();
  start({.tcpIdleTimeout = std::chrono::milliseconds(100)});
  Client tcp(port_, SOCK_STREAM);
  ASSERT_TRUE(tcp.connected());
  auto begin = std::chrono::steady_clock::now();
  EXPECT_TRUE(tcp.receive().empty());
  EXPECT_LT(std::chrono::steady_clock::now() - begin, std::chrono::seconds(2)) << "closed, not timed out";
}

TEST_F(DnsServerTest, TcpLimitsConnections) {
  server_.reset();
  start({.maxTcpConnections = 1});
  Client first(port_, SOCK_STREAM);
  first.send(framed(makeQuery("web.example.local", RecordType::kA)));
  EXPECT_FALSE(first.receiveFramed().empty()) << "the first is served";
  Client second(port_, SOCK_STREAM);
  EXPECT_TRUE(second.receive().empty()) << "the second is closed at once";
  first.send(framed(makeQuery("web.example.local", RecordType::kA)));
  EXPECT_FALSE(first.receiveFramed().empty()) << "and the first still served";
}

TEST_F(DnsServerTest, ListenReportsErrors) {
  DnsServer other;
  EXPECT_EQ(other.listen("not-an-address").status().kind(), ErrorKind::kBadRequest);
  EXPECT_EQ(other.listen("127.0.0.1", port_).status().kind(), ErrorKind::kInternal) << "port in use";
}

std::string run(const std::string& command) {
  std::string out;
  FILE* p = popen((command + " 2>&1").c_str(), "r");
  if (p == nullptr) return out;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  pclose(p);
  return out;
}

TEST_F(DnsServerTest, DigSeesStatusesAndFlags) {
  if (access("/usr/bin/dig", X_OK) != 0) GTEST_SKIP() << "dig is not installed (Debian package dnsutils)";
  std::string dig = "/usr/bin/dig @127.0.0.1 -p " + std::to_string(port_) + " +time=2 +tries=1 ";
  for (const char* transport : {"+notcp", "+tcp"}) {
    std::string out = run(dig + "web.example.local A " + transport);
    EXPECT_NE(out.find("status: NOERROR"), std::string::npos) << out;
    EXPECT_NE(out.find("flags: qr aa rd;"), std::string::npos) << out;
    EXPECT_NE(out.find("10.0.0.2"), std::string::npos) << out;
    out = run(dig + "nope.example.local A " + transport);
    EXPECT_NE(out.find("status: NXDOMAIN"), std::string::npos) << out;
    EXPECT_NE(out.find("example.local.\t\t60\tIN\tSOA"), std::string::npos) << out;
    out = run(dig + "web.example.local AAAA " + transport);
    EXPECT_NE(out.find("status: NOERROR"), std::string::npos) << out;
    EXPECT_NE(out.find("ANSWER: 0, AUTHORITY: 1"), std::string::npos) << out;
  }
  std::string truncated = run(dig + "many.example.local A +notcp +bufsize=512 +ignore");
  EXPECT_NE(truncated.find("flags: qr aa tc rd;"), std::string::npos) << truncated;
  std::string retried = run(dig + "many.example.local A +notcp +bufsize=512");
  EXPECT_NE(retried.find("Truncated, retrying in TCP mode"), std::string::npos) << retried;
  EXPECT_NE(retried.find("ANSWER: 60,"), std::string::npos) << retried;
  std::string srv = run(dig + "api.example.local SRV");
  EXPECT_NE(srv.find("1 10 8080 i-1.api.example.local."), std::string::npos) << srv;
  EXPECT_NE(srv.find("ADDITIONAL: 3"), std::string::npos) << srv << "two addresses and dig's OPT";
}

}  // namespace
}  // namespace meshd::dns
