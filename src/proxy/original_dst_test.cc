#include "proxy/original_dst.h"

#include <gtest/gtest.h>

namespace meshd::proxy {
namespace {

using tcp = boost::asio::ip::tcp;
using namespace std::chrono_literals;

tcp::endpoint at(const std::string& address, uint16_t port) { return {boost::asio::ip::make_address(address), port}; }

TEST(OriginalDstTest, TheHostIsTheDestinationAndOnlyForOriginalDstClusters) {
  ClusterView c;
  Host storage;
  EXPECT_EQ(useOriginalDst(c, at("127.0.0.1", 8080), storage), nullptr);  // not ORIGINAL_DST
  c.originalDst = true;
  c.originalDstHosts = std::make_shared<OriginalDstHosts>(5000ms);
  const Host* h = useOriginalDst(c, at("::ffff:127.0.0.1", 8080), storage);
  ASSERT_NE(h, nullptr);
  EXPECT_EQ(h->key(), "127.0.0.1:8080");  // an IPv4-mapped destination as the IPv4 it is
  EXPECT_TRUE(h->endpoint.address().is_v4());
  EXPECT_TRUE(h->healthy());
  EXPECT_EQ(useOriginalDst(c, tcp::endpoint(), storage), nullptr);  // unknown destination
}

TEST(OriginalDstTest, UsedHostsStayListedForTheCleanupInterval) {
  OriginalDstHosts hosts(5000ms);
  auto t0 = OriginalDstHosts::Clock::now();
  hosts.used(at("127.0.0.1", 80), t0);
  hosts.used(at("127.0.0.2", 443), t0 + 3s);
  auto keys = [&](OriginalDstHosts::Clock::time_point now) {
    std::vector<std::string> out;
    for (const Host& h : hosts.recent(now)) out.push_back(h.key());
    return out;
  };
  EXPECT_EQ(keys(t0 + 4s), (std::vector<std::string>{"127.0.0.1:80", "127.0.0.2:443"}));
  EXPECT_EQ(keys(t0 + 6s), std::vector<std::string>{"127.0.0.2:443"});
  EXPECT_EQ(keys(t0 + 9s), std::vector<std::string>{});
}

}  // namespace
}  // namespace meshd::proxy
