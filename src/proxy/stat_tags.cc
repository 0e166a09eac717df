#include "proxy/stat_tags.h"

#include <re2/re2.h>

#include <algorithm>
#include <cctype>
#include <set>

namespace meshd::proxy {

namespace {

// The default extractors' names that a stats_tags entry without a regex may name (Envoy then uses
// the default's regex): those of the stats meshproxy has.
constexpr std::string_view kDefaultNames[] = {"envoy.response_code", "envoy.response_code_class", "envoy.cluster_name",
                                              "envoy.http_conn_manager_prefix", "envoy.tcp_prefix", "envoy.listener_address"};

bool digit(char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; }

// Characters cut from the name, [first, second), gathered from every extractor (each matches the
// full name, as Envoy's) and cut at the end.
using Cuts = std::vector<std::pair<size_t, size_t>>;

std::string cut(std::string_view name, Cuts cuts) {
  std::sort(cuts.begin(), cuts.end());
  std::string out;
  size_t at = 0;
  for (auto [from, to] : cuts) {
    if (from > at) out.append(name.substr(at, from - at));
    at = std::max(at, to);
  }
  if (at < name.size()) out.append(name.substr(at));
  return out;
}

}  // namespace

struct TagProducer::Configured {
  std::string name;
  std::string fixed;           // a fixed_value's
  std::unique_ptr<RE2> regex;  // a regex's; null for a fixed value or a default's name
};

TagProducer::TagProducer() = default;
TagProducer::~TagProducer() = default;

StatusOr<std::shared_ptr<const TagProducer>> TagProducer::make(const envoy::config::metrics::v3::StatsConfig& config) {
  auto p = std::make_shared<TagProducer>();
  p->defaults_ = !config.has_use_all_default_tags() || config.use_all_default_tags().value();
  std::set<std::string> names;
  for (const auto& t : config.stats_tags()) {
    if (!names.insert(t.tag_name()).second) return badRequest("Tag name '" + t.tag_name() + "' specified twice.");
    Configured c{t.tag_name(), "", nullptr};
    if (t.tag_value_case() == envoy::config::metrics::v3::TagSpecifier::kFixedValue) {
      c.fixed = t.fixed_value();
    } else if (t.regex().empty()) {
      // The default extractor of that name: it runs anyway.
      if (std::find(std::begin(kDefaultNames), std::end(kDefaultNames), t.tag_name()) == std::end(kDefaultNames)) {
        return badRequest("No regex specified for tag specifier and no default regex for name: '" + t.tag_name() + "'");
      }
      p->named_.insert(t.tag_name());  // that default runs even with use_all_default_tags false
      continue;
    } else {
      c.regex = std::make_unique<RE2>(t.regex(), RE2::Quiet);
      if (!c.regex->ok() || c.regex->NumberOfCapturingGroups() < 1) {
        return badRequest("stats_tags " + t.tag_name() + ": invalid regex '" + t.regex() + "' (it needs a capture group)");
      }
    }
    p->replaced_.insert(c.name);  // a default of that name gives way to it
    p->configured_.push_back(std::move(c));
  }
  return std::shared_ptr<const TagProducer>(std::move(p));
}

bool TagProducer::wants(std::string_view defaultName) const {
  std::string n(defaultName);
  return (defaults_ || named_.count(n)) && !replaced_.count(n);
}

TaggedName TagProducer::produce(std::string_view name) const {
  TaggedName out;
  Cuts cuts;
  // First the extractors keyed by no first token, in Envoy's order: the response code
  // (_rq(_(\d{3}))$) and its class (_rq_((\d))xx$), then the configured ones.
  size_t n = name.size();
  bool rq = n > 7 && name.substr(n - 7, 4) == "_rq_";
  if (rq && wants("envoy.response_code") && digit(name[n - 3]) && digit(name[n - 2]) && digit(name[n - 1])) {
    out.tags.emplace_back("envoy.response_code", std::string(name.substr(n - 3)));
    cuts.emplace_back(n - 4, n);  // _200
  } else if (rq && wants("envoy.response_code_class") && digit(name[n - 3]) && name.substr(n - 2) == "xx") {
    out.tags.emplace_back("envoy.response_code_class", std::string(1, name[n - 3]));
    cuts.emplace_back(n - 3, n - 2);  // the 2 of 2xx
  }
  for (const Configured& c : configured_) {
    if (!c.regex) {
      out.tags.emplace_back(c.name, c.fixed);
      continue;
    }
    int groups = std::min(c.regex->NumberOfCapturingGroups(), 2);
    re2::StringPiece m[3];
    re2::StringPiece text(name.data(), name.size());
    if (!c.regex->Match(text, 0, text.size(), RE2::UNANCHORED, m, groups + 1) || m[1].data() == nullptr) continue;
    const re2::StringPiece& value = groups == 2 ? m[2] : m[1];
    out.tags.emplace_back(c.name, std::string(value.data(), value.size()));
    size_t from = static_cast<size_t>(m[1].data() - name.data());
    cuts.emplace_back(from, from + m[1].size());
  }
  // Envoy's listener address (its own regex: the address has dots): listener.0.0.0.0_15000.**.
  if (name.starts_with("listener.") && wants("envoy.listener_address")) {
    static const RE2 kListener(R"(^listener\.(((?:[_.[:digit:]]*|[_\[\]aAbBcCdDeEfF[:digit:]]*))\.))");
    re2::StringPiece m[3];
    re2::StringPiece text(name.data(), name.size());
    if (kListener.Match(text, 0, text.size(), RE2::UNANCHORED, m, 3)) {
      out.tags.emplace_back("envoy.listener_address", std::string(m[2].data(), m[2].size()));
      size_t from = static_cast<size_t>(m[1].data() - name.data());
      cuts.emplace_back(from, from + m[1].size());
    }
    out.name = cut(name, std::move(cuts));
    return out;
  }
  // Then the one keyed by the first token: cluster.$.**, http.$.**, tcp.$.** (one token's value).
  size_t first = name.find('.');
  size_t second = first == std::string_view::npos ? first : name.find('.', first + 1);
  if (second != std::string_view::npos) {
    std::string_view kind = name.substr(0, first);
    const char* tag = kind == "cluster" ? "envoy.cluster_name"
                      : kind == "http"  ? "envoy.http_conn_manager_prefix"
                      : kind == "tcp"   ? "envoy.tcp_prefix"
                                        : nullptr;
    if (tag && wants(tag)) {
      out.tags.emplace_back(tag, std::string(name.substr(first + 1, second - first - 1)));
      cuts.emplace_back(first + 1, second + 1);
    }
  }
  out.name = cut(name, std::move(cuts));
  return out;
}

}  // namespace meshd::proxy
