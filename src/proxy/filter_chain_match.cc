#include "proxy/filter_chain_match.h"

#include <algorithm>
#include <climits>
#include <string_view>

namespace meshd::proxy {

namespace {

using Candidates = std::vector<const FilterChainView*>;

// Keeps the candidates with the highest score; a negative score does not match.
template <typename Score>
Candidates best(const Candidates& in, Score score) {
  Candidates out;
  long top = -1;
  for (const FilterChainView* c : in) {
    long s = score(*c);
    if (s < 0 || s < top) continue;
    if (s > top) out.clear();
    top = s;
    out.push_back(c);
  }
  return out;
}

// An exact name beats any wildcard; a longer wildcard suffix beats a shorter one ("*.b.example.com"
// before "*.example.com"); a chain without names comes last. Without an SNI only that last kind
// matches.
long serverNameScore(const FilterChainView& c, std::string_view sni) {
  if (c.serverNames.empty()) return 0;
  long score = -1;
  for (const std::string& name : c.serverNames) {
    if (sni.empty()) break;
    if (name == sni) return LONG_MAX;
    if (name.size() > 1 && name[0] == '*') {
      std::string_view suffix = std::string_view(name).substr(1);  // ".example.com"
      if (sni.size() > suffix.size() && sni.ends_with(suffix)) score = std::max(score, static_cast<long>(suffix.size()));
    }
  }
  return score;
}

}  // namespace

const FilterChainView* selectFilterChain(const std::vector<FilterChainView>& chains, const ConnectionFacts& facts) {
  Candidates all;
  for (const auto& c : chains) all.push_back(&c);
  Candidates byPort = best(all, [&](const FilterChainView& c) -> long {
    if (c.destinationPort == 0) return 0;
    return c.destinationPort == facts.destinationPort ? 1 : -1;
  });
  Candidates byName = best(byPort, [&](const FilterChainView& c) { return serverNameScore(c, facts.serverName); });
  Candidates byTransport = best(byName, [&](const FilterChainView& c) -> long {
    if (c.transportProtocol.empty()) return 0;
    return c.transportProtocol == facts.transportProtocol ? 1 : -1;
  });
  return byTransport.empty() ? nullptr : byTransport.front();
}

}  // namespace meshd::proxy
