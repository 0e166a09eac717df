#include "proxy/route_match.h"

#include <google/protobuf/text_format.h>
#include <gtest/gtest.h>

#include <map>

namespace meshd::proxy {
namespace {

using envoy::config::route::v3::RouteConfiguration;

RouteConfiguration parse(const std::string& text) {
  RouteConfiguration rc;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &rc));
  return rc;
}

struct Req {
  std::string method = "GET";
  std::string target = "/";
  std::string host = "example";
  std::map<std::string, std::string> headers;

  RequestView view() const {
    return {method, target, host, [this](std::string_view n) -> std::optional<std::string_view> {
              auto it = headers.find(std::string(n));
              if (it == headers.end()) return std::nullopt;
              return std::string_view(it->second);
            }};
  }
};

const RouteConfiguration kHosts = parse(R"(
  virtual_hosts { name: "exact" domains: "svc.local" domains: "svc.local:9080" }
  virtual_hosts { name: "suffix" domains: "*.local" }
  virtual_hosts { name: "longer-suffix" domains: "*.svc2.local" }
  virtual_hosts { name: "prefix" domains: "api.*" }
  virtual_hosts { name: "any" domains: "*" }
)");

TEST(RouteMatchTest, VirtualHostOrderIsExactSuffixPrefixAny) {
  EXPECT_EQ(selectVirtualHost(kHosts, "svc.local")->name(), "exact");
  EXPECT_EQ(selectVirtualHost(kHosts, "SVC.local:9080")->name(), "exact");
  EXPECT_EQ(selectVirtualHost(kHosts, "x.svc2.local")->name(), "longer-suffix");
  EXPECT_EQ(selectVirtualHost(kHosts, "other.local")->name(), "suffix");
  EXPECT_EQ(selectVirtualHost(kHosts, "api.example")->name(), "prefix");
  EXPECT_EQ(selectVirtualHost(kHosts, "X.SVC2.Local")->name(), "longer-suffix");  // wildcards in any case too
  EXPECT_EQ(selectVirtualHost(kHosts, "API.example")->name(), "prefix");
  EXPECT_EQ(selectVirtualHost(kHosts, "svc.local:1234")->name(), "any");
}

TEST(RouteMatchTest, NoVirtualHostWithoutWildcard) {
  RouteConfiguration rc = parse(R"(virtual_hosts { name: "a" domains: "a" })");
  EXPECT_EQ(selectVirtualHost(rc, "b"), nullptr);
}

const RouteConfiguration kRoutes = parse(R"(
  virtual_hosts { name: "vh" domains: "*"
    routes { name: "hdr" match { prefix: "/h" headers { name: "x-color" string_match { exact: "red" } } } route { cluster: "h" } }
    routes { name: "present" match { prefix: "/h" headers { name: "x-any" present_match: true } } route { cluster: "p" } }
    routes { name: "invert" match { prefix: "/h" headers { name: "x-no" present_match: true invert_match: true } } route { cluster: "i" } }
    routes { name: "range" match { prefix: "/r" headers { name: "x-n" range_match { start: 10 end: 20 } } } route { cluster: "r" } }
    routes { name: "query" match { prefix: "/q" query_parameters { name: "v" string_match { exact: "1" } } } route { cluster: "q" } }
    routes { name: "method" match { prefix: "/m" headers { name: ":method" string_match { exact: "POST" } } } route { cluster: "m" } }
    routes { name: "path" match { path: "/exact" } route { cluster: "e" } }
    routes { name: "regex" match { safe_regex { regex: "/re/[0-9]+" } } route { cluster: "x" } }
    routes { name: "red" match { prefix: "/red" } route { cluster: "red" prefix_rewrite: "/" host_rewrite_literal: "red.svc" } }
  }
)");

std::string routeOf(const Req& r) {
  const auto* route = matchRoute(kRoutes.virtual_hosts(0), r.view());
  return route ? route->name() : "";
}

TEST(RouteMatchTest, HeadersPresentInvertAndRange) {
  Req r;
  r.target = "/h";
  r.headers = {{"x-color", "red"}, {"x-no", "1"}};
  EXPECT_EQ(routeOf(r), "hdr");
  r.headers = {{"x-color", "blue"}, {"x-any", ""}, {"x-no", "1"}};
  EXPECT_EQ(routeOf(r), "present");
  r.headers = {};
  EXPECT_EQ(routeOf(r), "invert");
  r.headers = {{"x-no", "1"}};
  EXPECT_EQ(routeOf(r), "");
  r.target = "/r";
  r.headers = {{"x-n", "10"}};
  EXPECT_EQ(routeOf(r), "range");
  r.headers = {{"x-n", "20"}};  // the end is exclusive
  EXPECT_EQ(routeOf(r), "");
  r.headers = {{"x-n", "15abc"}};
  EXPECT_EQ(routeOf(r), "");
}

TEST(RouteMatchTest, QueryMethodPathAndRegex) {
  Req r;
  r.target = "/q?a=2&v=1";
  EXPECT_EQ(routeOf(r), "query");
  r.target = "/q?v=2";
  EXPECT_EQ(routeOf(r), "");
  r.target = "/m";
  EXPECT_EQ(routeOf(r), "");
  r.method = "POST";
  EXPECT_EQ(routeOf(r), "method");
  r.target = "/exact?x=1";
  EXPECT_EQ(routeOf(r), "path");
  r.target = "/exact/more";
  EXPECT_EQ(routeOf(r), "");
  r.target = "/re/123";
  EXPECT_EQ(routeOf(r), "regex");
  r.target = "/re/12a";
  EXPECT_EQ(routeOf(r), "");
}

TEST(RouteMatchTest, PrefixRewriteReplacesTheMatchedPrefix) {
  Req r;
  r.target = "/red/x?y=1";
  const auto* route = matchRoute(kRoutes.virtual_hosts(0), r.view());
  ASSERT_NE(route, nullptr);
  EXPECT_EQ(rewriteTarget(*route, r.target), "//x?y=1");
  EXPECT_EQ(rewriteTarget(*route, "/red"), "/");
}

TEST(RouteMatchTest, WeightedClustersSplitByWeight) {
  envoy::config::route::v3::RouteAction a;
  ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(R"(
    weighted_clusters { clusters { name: "a" weight { value: 1 } } clusters { name: "b" weight { value: 3 } } })", &a));
  EXPECT_EQ(pickCluster(a, 0), "a");
  EXPECT_EQ(pickCluster(a, 1), "b");
  EXPECT_EQ(pickCluster(a, 3), "b");
  EXPECT_EQ(pickCluster(a, 4), "a");
}

}  // namespace
}  // namespace meshd::proxy
