#include "proxy/bootstrap_loader.h"

#include <envoy/extensions/access_loggers/file/v3/file.pb.h>
#include <envoy/extensions/filters/http/router/v3/router.pb.h>
#include <envoy/extensions/filters/listener/original_dst/v3/original_dst.pb.h>
#include <envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.pb.h>
#include <envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.pb.h>
#include <envoy/extensions/network/dns_resolver/cares/v3/cares_dns_resolver.pb.h>
#include <envoy/extensions/upstreams/http/v3/http_protocol_options.pb.h>
#include <google/protobuf/util/json_util.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "xds/bootstrap.h"

namespace meshd::proxy {

void registerExtensionTypes() {
  (void)envoy::extensions::access_loggers::file::v3::FileAccessLog::descriptor();
  (void)envoy::extensions::filters::http::router::v3::Router::descriptor();
  (void)envoy::extensions::filters::listener::original_dst::v3::OriginalDst::descriptor();
  (void)envoy::extensions::filters::network::http_connection_manager::v3::HttpConnectionManager::descriptor();
  (void)envoy::extensions::filters::network::tcp_proxy::v3::TcpProxy::descriptor();
  (void)envoy::extensions::network::dns_resolver::cares::v3::CaresDnsResolverConfig::descriptor();
  (void)envoy::extensions::upstreams::http::v3::HttpProtocolOptions::descriptor();
}

StatusOr<envoy::config::bootstrap::v3::Bootstrap> parseBootstrapJson(const std::string& json) {
  registerExtensionTypes();
  envoy::config::bootstrap::v3::Bootstrap b;
  google::protobuf::util::JsonParseOptions options;
  auto status = google::protobuf::util::JsonStringToMessage(json, &b, options);
  if (!status.ok()) return badRequest("invalid bootstrap: " + std::string(status.message()));
  return b;
}

StatusOr<envoy::config::bootstrap::v3::Bootstrap> loadBootstrapFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return badRequest("cannot read the bootstrap " + path);
  std::stringstream s;
  s << in.rdbuf();
  return parseBootstrapJson(s.str());
}

bool hostHasIpv6() {
  int fd = ::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in6 a{};
  a.sin6_family = AF_INET6;
  a.sin6_addr = in6addr_any;
  bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;  // port 0: any free one
  ::close(fd);
  return ok;
}

StatusOr<envoy::config::bootstrap::v3::Bootstrap> bootstrapFromEnvironment(const std::map<std::string, std::string>& env) {
  auto withIpv6 = env;
  // Tell meshd whether this host can bind ::, unless the operator said so: meshd then gives us
  // listeners we can bind (0.0.0.0) instead of ones we would have to NACK.
  if (withIpv6.find("MESHD_IPV6_AVAILABLE") == withIpv6.end()) withIpv6["MESHD_IPV6_AVAILABLE"] = hostHasIpv6() ? "true" : "false";
  return xds::makeBootstrap(withIpv6);
}

std::vector<std::string> dnsResolvers(const envoy::config::bootstrap::v3::Bootstrap& b) {
  std::vector<std::string> out;
  if (!b.has_typed_dns_resolver_config()) return out;
  envoy::extensions::network::dns_resolver::cares::v3::CaresDnsResolverConfig cares;
  if (!b.typed_dns_resolver_config().typed_config().UnpackTo(&cares)) return out;
  for (const auto& r : cares.resolvers()) {
    const auto& sa = r.socket_address();
    bool v6 = sa.address().find(':') != std::string::npos;
    out.push_back((v6 ? "[" + sa.address() + "]" : sa.address()) + ":" + std::to_string(sa.port_value() ? sa.port_value() : 53));
  }
  return out;
}

}  // namespace meshd::proxy
