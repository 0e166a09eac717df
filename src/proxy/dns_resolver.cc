#include "proxy/dns_resolver.h"

#include <algorithm>

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <sys/select.h>

#include <mutex>

namespace meshd::proxy {

namespace {

std::once_flag initOnce;

struct Pending {
  bool done = false;
  FamilyAnswer answer;
  RecordFamily family;
};

void onAnswer(void* arg, int status, int, unsigned char* abuf, int alen) {
  auto* p = static_cast<Pending*>(arg);
  p->done = true;
  if (status == ARES_ENOTFOUND || status == ARES_ENODATA) return;  // NXDOMAIN / NODATA: empty success
  if (status != ARES_SUCCESS) {
    p->answer.failed = true;
    return;
  }
  char text[INET6_ADDRSTRLEN];
  if (p->family == RecordFamily::kA) {
    ares_addrttl ttls[32];
    int n = 32;
    int rc = ares_parse_a_reply(abuf, alen, nullptr, ttls, &n);
    if (rc == ARES_ENODATA) return;
    if (rc != ARES_SUCCESS) {
      p->answer.failed = true;
      return;
    }
    for (int i = 0; i < n; ++i) {
      p->answer.addresses.push_back(inet_ntop(AF_INET, &ttls[i].ipaddr, text, sizeof text));
      p->answer.ttl = i == 0 ? ttls[i].ttl : std::min<uint32_t>(p->answer.ttl, ttls[i].ttl);
    }
  } else {
    ares_addr6ttl ttls[32];
    int n = 32;
    int rc = ares_parse_aaaa_reply(abuf, alen, nullptr, ttls, &n);
    if (rc == ARES_ENODATA) return;
    if (rc != ARES_SUCCESS) {
      p->answer.failed = true;
      return;
    }
    for (int i = 0; i < n; ++i) {
      p->answer.addresses.push_back(inet_ntop(AF_INET6, &ttls[i].ip6addr, text, sizeof text));
      p->answer.ttl = i == 0 ? ttls[i].ttl : std::min<uint32_t>(p->answer.ttl, ttls[i].ttl);
    }
  }
}

}  // namespace

CaresResolver::CaresResolver(const std::vector<std::string>& servers, std::chrono::milliseconds timeout) {
  std::call_once(initOnce, [] { ares_library_init(ARES_LIB_INIT_ALL); });
  ares_options o{};
  o.timeout = static_cast<int>(timeout.count());
  o.tries = 2;
  int mask = ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES;
  if (ares_init_options(&channel_, &o, mask) != ARES_SUCCESS) return;
  ok_ = true;
  if (!servers.empty()) {
    std::string csv;
    for (const auto& s : servers) csv += (csv.empty() ? "" : ",") + s;
    ok_ = ares_set_servers_ports_csv(channel_, csv.c_str()) == ARES_SUCCESS;
  }
}

CaresResolver::~CaresResolver() {
  if (channel_) ares_destroy(channel_);
}

FamilyAnswer CaresResolver::query(const std::string& name, RecordFamily family) {
  Pending p;
  p.family = family;
  if (!ok_) {
    p.answer.failed = true;
    return p.answer;
  }
  ares_query(channel_, name.c_str(), ns_c_in, family == RecordFamily::kA ? ns_t_a : ns_t_aaaa, onAnswer, &p);
  while (!p.done) {
    fd_set readers, writers;
    FD_ZERO(&readers);
    FD_ZERO(&writers);
    int nfds = ares_fds(channel_, &readers, &writers);
    if (nfds == 0) break;
    timeval tv{};
    timeval* tvp = ares_timeout(channel_, nullptr, &tv);
    select(nfds, &readers, &writers, nullptr, tvp);
    ares_process(channel_, &readers, &writers);
  }
  if (!p.done) p.answer.failed = true;
  return p.answer;
}

LookupResult CaresResolver::lookup(const std::string& name, LookupFamily family) {
  FamilyAnswer first = query(name, firstQuery(family));
  std::optional<FamilyAnswer> second;
  if (auto next = secondQuery(family, first)) second = query(name, *next);
  return combine(family, first, second);
}

}  // namespace meshd::proxy
