#include "proxy/route_match.h"

#include <re2/re2.h>

#include <algorithm>
#include <memory>
#include <unordered_map>

#include "proxy/load_balancer.h"

namespace meshd::proxy {

using envoy::config::route::v3::HeaderMatcher;
using envoy::config::route::v3::Route;
using envoy::config::route::v3::RouteConfiguration;
using envoy::config::route::v3::VirtualHost;

namespace {

inline char lowerAscii(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c | 0x20) : c; }

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = lowerAscii(c);
  return out;
}

// ASCII, in any case: domains and Host compare so without a lowercased copy of either.
bool iequal(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return lowerAscii(x) == lowerAscii(y); });
}

// Compiled regexes, one cache per thread so workers never share or lock.
const RE2& regex(const std::string& pattern) {
  thread_local std::unordered_map<std::string, std::unique_ptr<RE2>> cache;
  auto& slot = cache[pattern];
  if (!slot) slot = std::make_unique<RE2>(pattern, RE2::Quiet);
  return *slot;
}

bool fullMatch(const std::string& pattern, std::string_view s) {
  const RE2& re = regex(pattern);
  return re.ok() && RE2::FullMatch(re2::StringPiece(s.data(), s.size()), re);
}

// Where `pattern` fails to compile, or nullopt. Envoy also refuses a regex whose compiled program
// is bigger than its runtime's re2.max_program_size.error_level (`maxProgramSize`).
std::optional<std::string> badRegex(const std::string& pattern, uint64_t maxProgramSize) {
  RE2 re(pattern, RE2::Quiet);
  if (!re.ok()) return "invalid regex '" + pattern + "': " + re.error();
  if (int size = re.ProgramSize(); size > 0 && static_cast<uint64_t>(size) > maxProgramSize) {
    return "regex '" + pattern + "' RE2 program size of " + std::to_string(size) + " > max program size of " +
           std::to_string(maxProgramSize) +
           " set for the error level threshold. Increase configured max program size if necessary.";
  }
  return std::nullopt;
}

std::optional<std::string> badRegex(const envoy::type::matcher::v3::StringMatcher& m, uint64_t maxProgramSize) {
  if (!m.has_safe_regex()) return std::nullopt;
  return badRegex(m.safe_regex().regex(), maxProgramSize);
}

bool stringMatches(const envoy::type::matcher::v3::StringMatcher& m, std::string_view v) {
  std::string folded;
  auto cmp = [&](const std::string& want) -> std::pair<std::string, std::string> {
    if (m.ignore_case()) return {lower(want), lower(v)};
    return {want, std::string(v)};
  };
  using SM = envoy::type::matcher::v3::StringMatcher;
  switch (m.match_pattern_case()) {
    case SM::kExact: { auto [w, s] = cmp(m.exact()); return s == w; }
    case SM::kPrefix: { auto [w, s] = cmp(m.prefix()); return s.starts_with(w); }
    case SM::kSuffix: { auto [w, s] = cmp(m.suffix()); return s.ends_with(w); }
    case SM::kContains: { auto [w, s] = cmp(m.contains()); return s.find(w) != std::string::npos; }
    case SM::kSafeRegex: return fullMatch(m.safe_regex().regex(), v);
    default: return false;
  }
}

std::string_view pathOnly(std::string_view target) {
  size_t q = target.find('?');
  return q == std::string_view::npos ? target : target.substr(0, q);
}

std::optional<std::string_view> queryParam(std::string_view target, std::string_view name) {
  size_t q = target.find('?');
  if (q == std::string_view::npos) return std::nullopt;
  std::string_view query = target.substr(q + 1);
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view kv = query.substr(0, amp);
    size_t eq = kv.find('=');
    if (kv.substr(0, eq) == name) return eq == std::string_view::npos ? std::string_view() : kv.substr(eq + 1);
    if (amp == std::string_view::npos) break;
    query = query.substr(amp + 1);
  }
  return std::nullopt;
}

std::optional<std::string_view> headerValue(const RequestView& r, const std::string& name) {
  if (name == ":method") return r.method;
  if (name == ":path") return r.target;
  if (name == ":authority" || name == "host") return r.host;
  return r.header ? r.header(name) : std::nullopt;
}

bool pathMatches(const envoy::config::route::v3::RouteMatch& m, const RequestView& r) {
  std::string_view path = pathOnly(r.target);
  bool cs = !m.has_case_sensitive() || m.case_sensitive().value();
  using RM = envoy::config::route::v3::RouteMatch;
  switch (m.path_specifier_case()) {
    case RM::kPrefix: return cs ? path.starts_with(m.prefix()) : lower(path).starts_with(lower(m.prefix()));
    case RM::kPath: return cs ? path == m.path() : lower(path) == lower(m.path());
    case RM::kSafeRegex: return fullMatch(m.safe_regex().regex(), path);
    default: return false;
  }
}

}  // namespace

bool headerMatches(const HeaderMatcher& m, const RequestView& r) {
  auto value = headerValue(r, lower(m.name()));
  bool match = false;
  switch (m.header_match_specifier_case()) {
    case HeaderMatcher::kPresentMatch: match = value.has_value() == m.present_match(); break;
    case HeaderMatcher::kExactMatch: match = value && *value == m.exact_match(); break;
    case HeaderMatcher::kPrefixMatch: match = value && value->starts_with(m.prefix_match()); break;
    case HeaderMatcher::kSuffixMatch: match = value && value->ends_with(m.suffix_match()); break;
    case HeaderMatcher::kContainsMatch: match = value && value->find(m.contains_match()) != std::string_view::npos; break;
    case HeaderMatcher::kSafeRegexMatch: match = value && fullMatch(m.safe_regex_match().regex(), *value); break;
    case HeaderMatcher::kStringMatch: match = value && stringMatches(m.string_match(), *value); break;
    case HeaderMatcher::kRangeMatch: {
      if (!value) break;
      try {
        size_t used = 0;
        std::string s(*value);
        long long n = std::stoll(s, &used);
        match = used == s.size() && n >= m.range_match().start() && n < m.range_match().end();
      } catch (...) {
        match = false;
      }
      break;
    }
    case HeaderMatcher::HEADER_MATCH_SPECIFIER_NOT_SET: match = value.has_value(); break;
  }
  return m.invert_match() ? !match : match;
}

const VirtualHost* selectVirtualHost(const RouteConfiguration& rc, std::string_view host) {
  const VirtualHost* suffix = nullptr;
  size_t suffixLen = 0;
  const VirtualHost* prefix = nullptr;
  size_t prefixLen = 0;
  const VirtualHost* any = nullptr;
  for (const VirtualHost& vh : rc.virtual_hosts()) {
    for (const std::string& d : vh.domains()) {
      if (d.empty()) continue;
      if (d == "*") {
        if (!any) any = &vh;
      } else if (d.front() == '*') {
        std::string_view s = std::string_view(d).substr(1);
        if (host.size() > s.size() && iequal(host.substr(host.size() - s.size()), s) && s.size() > suffixLen) {
          suffix = &vh;
          suffixLen = s.size();
        }
      } else if (d.back() == '*') {
        std::string_view p = std::string_view(d).substr(0, d.size() - 1);
        if (host.size() > p.size() && iequal(host.substr(0, p.size()), p) && p.size() > prefixLen) {
          prefix = &vh;
          prefixLen = p.size();
        }
      } else if (iequal(d, host)) {
        return &vh;
      }
    }
  }
  if (suffix) return suffix;
  if (prefix) return prefix;
  return any;
}

const Route* matchRoute(const VirtualHost& vh, const RequestView& r) {
  for (const Route& route : vh.routes()) {
    const auto& m = route.match();
    if (!pathMatches(m, r)) continue;
    bool ok = std::all_of(m.headers().begin(), m.headers().end(), [&](const HeaderMatcher& h) { return headerMatches(h, r); });
    for (const auto& q : m.query_parameters()) {
      if (!ok) break;
      auto v = queryParam(r.target, q.name());
      if (q.has_string_match()) ok = v && stringMatches(q.string_match(), *v);
      else ok = v.has_value();
    }
    if (ok) return &route;
  }
  return nullptr;
}

std::string_view pickCluster(const envoy::config::route::v3::RouteAction& a, uint64_t random) {
  if (!a.has_weighted_clusters()) return a.cluster();
  const auto& clusters = a.weighted_clusters().clusters();
  uint64_t total = 0;
  for (const auto& c : clusters) total += c.weight().value();
  if (total == 0) return clusters.empty() ? std::string_view() : std::string_view(clusters[0].name());
  uint64_t pick = random % total;  // as pickWeighted, without copying the names out of the route
  for (const auto& c : clusters) {
    if (pick < c.weight().value()) return c.name();
    pick -= c.weight().value();
  }
  return clusters[0].name();
}

bool rewritesPath(const Route& route) {
  const auto& a = route.route();
  return (!a.prefix_rewrite().empty() && route.match().has_prefix()) || a.has_regex_rewrite();
}

std::string rewriteTarget(const Route& route, std::string_view target) {
  const auto& a = route.route();
  std::string_view path = pathOnly(target);
  std::string_view query = target.substr(path.size());
  if (!a.prefix_rewrite().empty() && route.match().has_prefix()) {
    return a.prefix_rewrite() + std::string(path.substr(std::min(path.size(), route.match().prefix().size()))) +
           std::string(query);
  }
  if (a.has_regex_rewrite()) {
    std::string p(path);
    RE2::GlobalReplace(&p, regex(a.regex_rewrite().pattern().regex()), a.regex_rewrite().substitution());
    return p + std::string(query);
  }
  return std::string(target);
}

std::optional<std::string> invalidRoutes(const RouteConfiguration& rc, uint64_t maxProgramSize) {
  for (const VirtualHost& vh : rc.virtual_hosts()) {
    for (const Route& r : vh.routes()) {
      std::optional<std::string> bad;
      const auto& m = r.match();
      if (m.has_safe_regex()) bad = badRegex(m.safe_regex().regex(), maxProgramSize);
      for (const HeaderMatcher& h : m.headers()) {
        if (!bad && h.has_safe_regex_match()) bad = badRegex(h.safe_regex_match().regex(), maxProgramSize);
        if (!bad && h.has_string_match()) bad = badRegex(h.string_match(), maxProgramSize);
      }
      for (const auto& q : m.query_parameters()) {
        if (!bad && q.has_string_match()) bad = badRegex(q.string_match(), maxProgramSize);
      }
      if (!bad && r.route().has_regex_rewrite()) bad = badRegex(r.route().regex_rewrite().pattern().regex(), maxProgramSize);
      if (!bad && r.route().has_weighted_clusters()) {
        uint64_t total = 0;
        for (const auto& c : r.route().weighted_clusters().clusters()) total += c.weight().value();
        if (total == 0) bad = "Sum of weights in the weighted_cluster must be greater than 0.";
      }
      if (bad) return "virtual host " + vh.name() + ": " + *bad;
    }
  }
  return std::nullopt;
}

}  // namespace meshd::proxy
