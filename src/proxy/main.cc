// meshproxy: the Envoy-compatible data plane. Starts from an Envoy bootstrap file, or from the App
// Mesh Envoy image's environment variables, and serves what meshd's ADS server sends.
#include <CLI/CLI.hpp>

#include <malloc.h>

#include <csignal>
#include <iostream>
#include <map>
#include <thread>

#include "common/log.h"
#include "proxy/bootstrap_loader.h"
#include "proxy/loggers.h"
#include "proxy/proxy.h"

extern char** environ;

int main(int argc, char** argv) {
  CLI::App app{"meshproxy: an Envoy-compatible sidecar and gateway proxy driven by meshd's xDS"};
  std::string bootstrapFile;
  size_t concurrency = 2;
  std::string logLevel = "info";
  long napMicros = meshd::proxy::Coalescing{}.nap.count();
  app.add_option("--bootstrap,-c", bootstrapFile, "Envoy bootstrap JSON (as `meshctl bootstrap` writes); "
                                                  "without it the APPMESH_* environment variables are used");
  app.add_option("--concurrency", concurrency, "worker threads")->check(CLI::Range(1, 256));
  int naps = meshd::proxy::Coalescing{}.naps;
  app.add_option("--event-nap-us", napMicros,
                 "before a worker with nothing to do blocks, it naps this long (--event-naps times) and polls "
                 "again, so events arriving under load are taken in batches; 0: block at once, as Envoy")
      ->check(CLI::Range(0, 1000));
  app.add_option("--event-naps", naps, "how many naps before a worker with nothing to do blocks")->check(CLI::Range(0, 100));
  app.add_option("--log-level,-l", logLevel, "trace, debug, info, warn, error, off");
  long drainSeconds = 600;
  app.add_option("--drain-time-s", drainSeconds,
                 "how long POST /drain_listeners?graceful drains connections before the listeners stop (Envoy's)")
      ->check(CLI::Range(0L, 86400L));
  CLI11_PARSE(app, argc, argv);
  meshd::log::init(logLevel);

  std::map<std::string, std::string> env;
  for (char** e = environ; *e; ++e) {
    std::string kv(*e);
    size_t eq = kv.find('=');
    if (eq != std::string::npos) env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  auto bootstrap = bootstrapFile.empty() ? meshd::proxy::bootstrapFromEnvironment(env)
                                         : meshd::proxy::loadBootstrapFile(bootstrapFile);
  if (!bootstrap.ok()) {
    std::cerr << "meshproxy: " << bootstrap.status().message() << "\n";
    return 2;
  }
  // Workers allocate and free request and response buffers all the time, in glibc's per-thread
  // arenas. By default an arena whose free top passes 128 KiB gives it back to the kernel (madvise)
  // and the next requests fault the pages in again: that was a fifth of the CPU per 16 KiB response.
  // Keep freed memory for reuse (as Envoy's tcmalloc does), and take bodies up to 1 MiB from it too.
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
  mallopt(M_MMAP_THRESHOLD, 1 << 20);
  std::signal(SIGPIPE, SIG_IGN);
  // SIGTERM and SIGINT are blocked in every thread (they inherit the mask) and taken by sigwait on
  // one thread of their own, which asks the proxy to stop.
  sigset_t stopSignals;
  sigemptyset(&stopSignals);
  sigaddset(&stopSignals, SIGTERM);
  sigaddset(&stopSignals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stopSignals, nullptr);
  meshd::proxy::ProxyOptions options{*bootstrap, concurrency};
  options.coalescing.nap = std::chrono::microseconds(napMicros);
  options.coalescing.naps = naps;
  options.drainTime = std::chrono::seconds(drainSeconds);
  meshd::proxy::Proxy proxy(std::move(options));
  if (auto s = proxy.start(); !s.ok()) {
    std::cerr << "meshproxy: " << s.message() << "\n";
    return 1;
  }
  std::thread waiter([&] {
    int sig = 0;
    sigwait(&stopSignals, &sig);
    proxy.requestStop();
  });
  proxy.run();
  pthread_kill(waiter.native_handle(), SIGTERM);  // stopped otherwise (/quitquitquit): end the wait
  waiter.join();
  meshd::proxy::logger(meshd::proxy::Log::kMain).info("msg=\"meshproxy stopped\"");
  return 0;
}
