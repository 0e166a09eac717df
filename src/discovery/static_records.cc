#include "discovery/static_records.h"

#include <arpa/inet.h>

#include <cctype>

#include "api/rest_json.h"
#include "discovery/keys.h"

namespace meshd::discovery {

using nlohmann::json;

namespace {

constexpr int64_t kMaxTtl = 2147483647;
constexpr size_t kMaxAddresses = 64;

api::HttpResponse ok(const json& body) {
  return {200, {{"content-type", "application/json"}}, body.dump()};
}

Status checkAddresses(const json& body, const char* field, int family) {
  if (!body.contains(field)) return okStatus();
  const json& list = body[field];
  if (!list.is_array()) return badRequest(std::string(field) + ": expected a list of addresses");
  if (list.size() > kMaxAddresses) return badRequest(std::string(field) + ": at most 64 addresses");
  unsigned char buf[16];
  for (const json& a : list) {
    if (!a.is_string() || inet_pton(family, a.get<std::string>().c_str(), buf) != 1) {
      return badRequest(std::string(field) + ": '" + (a.is_string() ? a.get<std::string>() : a.dump()) +
                        "' is not an " + (family == AF_INET ? "IPv4" : "IPv6") + " address");
    }
  }
  return okStatus();
}

}  // namespace

StatusOr<std::string> canonicalDnsName(const std::string& raw) {
  std::string name = raw;
  if (!name.empty() && name.back() == '.') name.pop_back();
  if (name.empty() || name.size() > 253) return badRequest("'" + raw + "' is not a DNS name (1 to 253 characters)");
  size_t label = 0;
  for (char& c : name) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (c == '.') {
      if (label == 0) return badRequest("'" + raw + "' has an empty label");
      label = 0;
      continue;
    }
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') {
      return badRequest("'" + raw + "' has a character DNS names cannot hold");
    }
    if (++label > 63) return badRequest("'" + raw + "' has a label over 63 characters");
  }
  if (label == 0) return badRequest("'" + raw + "' has an empty label");
  return name;
}

StatusOr<json> parseRecordSet(const std::string& rawName, const json& body) {
  auto name = canonicalDnsName(rawName);
  if (!name.ok()) return name.status();
  if (!body.is_object()) return badRequest("body must be a JSON object");
  for (auto& [k, _] : body.items()) {
    if (k != "A" && k != "AAAA" && k != "TTL" && k != "Name") return badRequest(k + ": unknown field");
  }
  MESHD_RETURN_IF_ERROR(checkAddresses(body, "A", AF_INET));
  MESHD_RETURN_IF_ERROR(checkAddresses(body, "AAAA", AF_INET6));
  if (body.value("A", json::array()).empty() && body.value("AAAA", json::array()).empty()) {
    return badRequest("a record set needs at least one A or AAAA address");
  }
  int64_t ttl = 60;
  if (body.contains("TTL")) {
    if (!body["TTL"].is_number_integer() || body["TTL"].get<int64_t>() < 0 || body["TTL"].get<int64_t>() > kMaxTtl) {
      return badRequest("TTL: expected an integer from 0 to 2147483647");
    }
    ttl = body["TTL"];
  }
  return json{{"Name", *name}, {"A", body.value("A", json::array())}, {"AAAA", body.value("AAAA", json::array())},
              {"TTL", ttl}};
}

bool StaticRecordsApi::accepts(const api::HttpRequest& req) const {
  return req.target.rfind(kStaticRecordsPath, 0) == 0;
}

api::HttpResponse StaticRecordsApi::handle(const api::HttpRequest& req) {
  std::string path = req.target.substr(0, req.target.find('?'));
  std::string rest = path.substr(std::string(kStaticRecordsPath).size());
  if (rest.empty() || rest == "/") {
    if (req.method != "GET") return api::restJsonError(badRequest("use GET to list records"));
    auto all = store::listAll(store_, keys::kStaticRecords);
    if (!all.ok()) return api::restJsonError(all.status());
    json records = json::array();
    for (const auto& kv : *all) records.push_back(json::parse(kv.value));
    return ok({{"records", records}});
  }
  auto decoded = percentDecode(rest.substr(1));
  if (!decoded) return api::restJsonError(badRequest("malformed record name"));
  auto name = canonicalDnsName(*decoded);
  if (!name.ok()) return api::restJsonError(name.status());
  std::string key = keys::staticRecord(*name);
  if (req.method == "PUT") {
    json body = json::parse(req.body, nullptr, false);
    if (body.is_discarded()) return api::restJsonError(badRequest("request body is not valid JSON"));
    auto set = parseRecordSet(*name, body);
    if (!set.ok()) return api::restJsonError(set.status());
    auto r = store_.commit({{}, {{store::Op::Type::kPut, key, set->dump()}}});
    if (!r.ok()) return api::restJsonError(r.status());
    return ok(*set);
  }
  auto kv = store_.get(key);
  if (!kv.ok()) return api::restJsonError(kv.status());
  if (!kv->has_value()) return api::restJsonError(notFound("no static records for " + *name));
  if (req.method == "GET") return ok(json::parse((*kv)->value));
  if (req.method == "DELETE") {
    auto r = store_.commit({{{key, (*kv)->modRevision}}, {{store::Op::Type::kDelete, key, ""}}});
    if (!r.ok()) return api::restJsonError(r.status());
    return ok(json::parse((*kv)->value));
  }
  return api::restJsonError(badRequest("unsupported method " + req.method));
}

}  // namespace meshd::discovery
