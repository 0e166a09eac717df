// colorteller: the walkthrough's demo app. It answers every path with its color, /ping with an empty
// 200 (the health check), and can be told to fail a share of requests (/setFlake?rate=&code=).
// Which families it accepts is the point of the walkthrough: --listen ipv4 binds 0.0.0.0 only,
// ipv6 binds :: with IPV6_V6ONLY, dual binds one dual-stack socket.

#include <CLI/CLI.hpp>

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <random>

#include "api/http_server.h"
#include "colorteller/teller.h"

int main(int argc, char** argv) {
  CLI::App app{"colorteller: answers with its color (env COLOR) on port PORT"};
  std::string family = "dual";
  app.add_option("--listen", family, "ipv4, ipv6 or dual")->check(CLI::IsMember({"ipv4", "ipv6", "dual"}))
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  const char* color = std::getenv("COLOR");
  const char* portText = std::getenv("PORT");
  if (!color || !*color) {
    std::cerr << "colorteller: environment variable COLOR is required\n";
    return 2;
  }
  if (!portText || !*portText) {
    std::cerr << "colorteller: environment variable PORT is required\n";
    return 2;
  }
  int port = std::atoi(portText);
  if (port <= 0 || port > 65535) {
    std::cerr << "colorteller: PORT must be 1..65535, got '" << portText << "'\n";
    return 2;
  }

  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);

  meshd::apps::Teller teller(color);
  meshd::api::HttpServer server([&](const meshd::api::HttpRequest& r) { return teller.handle(r); });
  auto bound = family == "ipv4" ? server.listen("0.0.0.0", static_cast<uint16_t>(port))
                                : server.listen("::", static_cast<uint16_t>(port), /*v6only=*/family == "ipv6");
  if (!bound.ok()) {
    std::cerr << "colorteller: " << bound.status().message() << "\n";
    return 1;
  }
  server.start(2);
  std::cerr << "colorteller: " << color << " listening on " << (family == "ipv4" ? "0.0.0.0" : "[::]") << ":" << port
            << " (" << family << ")\n";
  int sig = 0;
  sigwait(&stop, &sig);
  server.stop();
  return 0;
}
