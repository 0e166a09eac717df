#include "proxy/filter_chain_match.h"

#include <gtest/gtest.h>

namespace meshd::proxy {
namespace {

FilterChainView chain(const std::string& name, uint32_t port, std::vector<std::string> serverNames = {},
                      const std::string& transport = "") {
  FilterChainView c;
  c.statPrefix = name;  // names the chain for the test
  c.destinationPort = port;
  c.serverNames = std::move(serverNames);
  c.transportProtocol = transport;
  return c;
}

std::string chosen(const std::vector<FilterChainView>& chains, uint32_t port, const std::string& sni = "",
                   const std::string& transport = "raw_buffer") {
  const FilterChainView* c = selectFilterChain(chains, {port, sni, transport});
  return c ? c->statPrefix : "<none>";
}

// meshd's egress listener under ALLOW_ALL.
std::vector<FilterChainView> egress() {
  return {chain("tcp-5432", 5432), chain("http-9080", 9080), chain("http-15001", 15001),
          chain("aws", 0, {"*.amazonaws.com"}, "tls"), chain("passthrough", 0)};
}

TEST(FilterChainMatchTest, EgressListenerAsMeshdBuildsIt) {
  auto chains = egress();
  EXPECT_EQ(chosen(chains, 5432), "tcp-5432");
  EXPECT_EQ(chosen(chains, 9080), "http-9080");
  EXPECT_EQ(chosen(chains, 15001), "http-15001");
  EXPECT_EQ(chosen(chains, 443, "s3.amazonaws.com", "tls"), "aws");
  EXPECT_EQ(chosen(chains, 443, "a.b.amazonaws.com", "tls"), "aws");
  EXPECT_EQ(chosen(chains, 443, "amazonaws.com", "tls"), "passthrough");  // the wildcard needs a label
  EXPECT_EQ(chosen(chains, 443, "example.com", "tls"), "passthrough");
  EXPECT_EQ(chosen(chains, 443, "", "tls"), "passthrough");
  EXPECT_EQ(chosen(chains, 6379), "passthrough");
}

// The destination port decides first: a chain for the port wins even over a matching server name,
// and once chains for the port exist, the portless ones are not considered.
TEST(FilterChainMatchTest, DestinationPortComesFirstWithoutFallingBack) {
  std::vector<FilterChainView> chains{chain("port-443-tls", 443, {}, "tls"), chain("aws", 0, {"*.amazonaws.com"}, "tls"),
                                      chain("any", 0)};
  EXPECT_EQ(chosen(chains, 443, "s3.amazonaws.com", "tls"), "port-443-tls");
  EXPECT_EQ(chosen(chains, 443, "", "raw_buffer"), "<none>");
  EXPECT_EQ(chosen(chains, 8443, "s3.amazonaws.com", "tls"), "aws");
}

TEST(FilterChainMatchTest, ExactNameBeatsTheLongestWildcardWhichBeatsShorterOnes) {
  std::vector<FilterChainView> chains{chain("short", 0, {"*.example.com"}), chain("long", 0, {"*.api.example.com"}),
                                      chain("exact", 0, {"www.api.example.com", "other.com"}), chain("none", 0)};
  EXPECT_EQ(chosen(chains, 80, "www.api.example.com"), "exact");
  EXPECT_EQ(chosen(chains, 80, "other.com"), "exact");
  EXPECT_EQ(chosen(chains, 80, "v2.api.example.com"), "long");
  EXPECT_EQ(chosen(chains, 80, "www.example.com"), "short");
  EXPECT_EQ(chosen(chains, 80, "example.org"), "none");
  EXPECT_EQ(chosen(chains, 80, ""), "none");
}

// A server name match narrows the choice for good: its chains' transport protocols must then fit.
TEST(FilterChainMatchTest, ServerNameBeforeTransportProtocol) {
  std::vector<FilterChainView> chains{chain("named-tls", 0, {"a.example.com"}, "tls"), chain("any-raw", 0, {}, "raw_buffer")};
  EXPECT_EQ(chosen(chains, 80, "a.example.com", "raw_buffer"), "<none>");
  EXPECT_EQ(chosen(chains, 80, "b.example.com", "raw_buffer"), "any-raw");
  EXPECT_EQ(chosen(chains, 80, "b.example.com", "tls"), "<none>");
}

TEST(FilterChainMatchTest, NoChainsOrNoMatchIsNone) {
  EXPECT_EQ(chosen({}, 80), "<none>");
  EXPECT_EQ(chosen({chain("p", 81)}, 80), "<none>");
  EXPECT_EQ(chosen({chain("tls", 0, {}, "tls")}, 80), "<none>");
}

}  // namespace
}  // namespace meshd::proxy
