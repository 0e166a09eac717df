// request_headers_to_add / _remove as Envoy applies them: removals first, then each append_action,
// route before virtual host before route configuration.
#include "proxy/header_mutation.h"

#include <envoy/config/route/v3/route.pb.h>
#include <google/protobuf/text_format.h>
#include <gtest/gtest.h>

namespace meshd::proxy {
namespace {

template <typename Message>
Message parsed(const std::string& text) {
  Message m;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &m)) << text;
  return m;
}

RequestHead request(const std::string& fields) {
  RequestHead head;
  std::string in = "GET / HTTP/1.1\r\n" + fields + "\r\n";
  EXPECT_EQ(Http1HeadParse::run(in, head, 60 * 1024, 100).kind, Http1HeadParse::kDone);
  return head;
}

std::string fields(const RequestHead& head) {
  std::string out;
  head.forEach([&out](const HeadFields::Field& f) { out += std::string(f.name) + ": " + std::string(f.value) + "\n"; });
  return out;
}

TEST(HeaderMutationTest, AppendActionsAsEnvoy) {
  auto route = parsed<envoy::config::route::v3::Route>(R"(
    request_headers_to_remove: "x-gone"
    request_headers_to_add { header { key: "X-App-Mesh-Virtual-Service" value: "svc.local" } }
    request_headers_to_add { header { key: "x-multi" value: "2" } }
    request_headers_to_add { header { key: "x-absent" value: "new" } append_action: ADD_IF_ABSENT }
    request_headers_to_add { header { key: "x-kept" value: "new" } append_action: ADD_IF_ABSENT }
    request_headers_to_add { header { key: "x-over" value: "new" } append_action: OVERWRITE_IF_EXISTS_OR_ADD }
    request_headers_to_add { header { key: "x-if" value: "new" } append_action: OVERWRITE_IF_EXISTS }
    request_headers_to_add { header { key: "x-legacy" value: "new" } append { value: false } }
    request_headers_to_add { header { key: "x-empty" value: "" } }
  )");
  RequestHead head = request("x-gone: 1\r\nx-multi: 1\r\nx-kept: old\r\nx-over: old\r\nx-legacy: old\r\n");
  mutateRequestHeaders(head, route, envoy::config::route::v3::VirtualHost(), envoy::config::route::v3::RouteConfiguration());
  EXPECT_EQ(fields(head),
            "x-multi: 1\nx-kept: old\nx-app-mesh-virtual-service: svc.local\nx-multi: 2\nx-absent: new\n"
            "x-over: new\nx-legacy: new\n");
}

TEST(HeaderMutationTest, TheRouteConfigurationHasTheLastWord) {
  auto route = parsed<envoy::config::route::v3::Route>(
      R"(request_headers_to_add { header { key: "x-who" value: "route" } append_action: OVERWRITE_IF_EXISTS_OR_ADD })");
  auto vh = parsed<envoy::config::route::v3::VirtualHost>(
      R"(request_headers_to_add { header { key: "x-who" value: "vhost" } append_action: OVERWRITE_IF_EXISTS_OR_ADD })");
  auto rc = parsed<envoy::config::route::v3::RouteConfiguration>(
      R"(request_headers_to_add { header { key: "x-who" value: "config" } append_action: OVERWRITE_IF_EXISTS_OR_ADD })");
  RequestHead head = request("host: a\r\n");
  mutateRequestHeaders(head, route, vh, rc);
  EXPECT_EQ(head.find("x-who"), "config");
  EXPECT_EQ(head.size(), 2u);
}

}  // namespace
}  // namespace meshd::proxy
