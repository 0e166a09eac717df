#include "api/rest_json.h"

#include <gtest/gtest.h>

namespace meshd::api {
namespace {

using nlohmann::json;

// Records what the adapter passes on and answers with a canned value.
class RecordingService : public ServiceHandler {
 public:
  StatusOr<json> call(const model::Operation& op, const json& input) override {
    lastOp = op.name;
    lastInput = input;
    if (!answer.ok()) return answer;
    return json{{"mesh", {{"meshName", input.value("meshName", "")}}}, {"meshes", json::array()}};
  }
  std::string lastOp;
  json lastInput;
  Status answer;
};

class RestJsonTest : public ::testing::Test {
 protected:
  HttpResponse send(std::string method, std::string target, std::string body = "") {
    return adapter_.handle({std::move(method), std::move(target), {}, std::move(body)});
  }
  static std::string header(const HttpResponse& r, const std::string& name) {
    for (const auto& [k, v] : r.headers) {
      if (k == name) return v;
    }
    return "";
  }
  RecordingService service_;
  RestJsonAdapter adapter_{model::ServiceModel::appMesh(), service_};
};

TEST_F(RestJsonTest, MatchesEveryOperationOfTheModel) {
  EXPECT_EQ(model::ServiceModel::appMesh().operations().size(), 38u);
  for (const model::Operation& op : model::ServiceModel::appMesh().operations()) {
    std::string path;
    for (char c : op.uri) path += (c == '{' || c == '}') ? 'x' : c;
    std::map<std::string, std::string> params;
    const model::Operation* found = adapter_.match(op.method, path, &params);
    ASSERT_NE(found, nullptr) << op.name;
    EXPECT_EQ(found->name, op.name);
  }
}

TEST_F(RestJsonTest, BindsPathQueryAndBody) {
  auto r = send("PUT", "/v20190125/meshes/m%2F1/virtualNodes?meshOwner=123456789012",
                R"({"virtualNodeName": "n", "spec": {}})");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(service_.lastOp, "CreateVirtualNode");
  EXPECT_EQ(service_.lastInput["meshName"], "m/1");
  EXPECT_EQ(service_.lastInput["meshOwner"], "123456789012");
  EXPECT_EQ(service_.lastInput["virtualNodeName"], "n");
}

TEST_F(RestJsonTest, ReturnsThePayloadMemberAsTheBody) {
  auto r = send("GET", "/v20190125/meshes/m");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(json::parse(r.body), json({{"meshName", "m"}}));
}

TEST_F(RestJsonTest, ConvertsQueryIntegersAndValidatesThem) {
  EXPECT_EQ(send("GET", "/v20190125/meshes?limit=5").status, 200);
  EXPECT_EQ(service_.lastInput["limit"], 5);
  auto r = send("GET", "/v20190125/meshes?limit=101");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(header(r, "x-amzn-errortype"), "BadRequestException");
  EXPECT_EQ(json::parse(r.body)["message"], "limit: 101 is greater than the maximum 100");
  EXPECT_EQ(send("GET", "/v20190125/meshes?limit=x").status, 400);
}

TEST_F(RestJsonTest, RejectsMalformedAndUnknownBodies) {
  auto bad = send("PUT", "/v20190125/meshes", "{not json");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(json::parse(bad.body)["message"], "request body is not valid JSON");
  auto unknown = send("PUT", "/v20190125/meshes", R"({"meshName": "m", "spek": {}})");
  EXPECT_EQ(json::parse(unknown.body)["message"], "spek: unknown field");
  EXPECT_EQ(service_.lastOp, "");  // nothing reached the service
}

TEST_F(RestJsonTest, MapsErrorKindsToStatusAndType) {
  service_.answer = notFound("mesh m not found");
  auto r = send("GET", "/v20190125/meshes/m");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(header(r, "x-amzn-errortype"), "NotFoundException");
  EXPECT_EQ(json::parse(r.body)["message"], "mesh m not found");
  service_.answer = resourceInUse("busy");
  EXPECT_EQ(send("DELETE", "/v20190125/meshes/m").status, 409);
  service_.answer = Status(ErrorKind::kTooManyRequests, "slow down");
  EXPECT_EQ(send("GET", "/v20190125/meshes/m").status, 429);
}

TEST_F(RestJsonTest, ClientRequestsRoundTripThroughTheAdapter) {
  const auto& model = model::ServiceModel::appMesh();
  json input = {{"meshName", "m 1"}, {"virtualRouterName", "vr"}, {"routeName", "r"}, {"meshOwner", "123456789012"},
                {"spec", {{"tcpRoute", {{"action", {{"weightedTargets", {{{"virtualNode", "a"}, {"weight", 1}}}}}}}}}}};
  HttpRequest req = restJsonRequest(*model.operation("CreateRoute"), input);
  EXPECT_EQ(req.method, "PUT");
  EXPECT_EQ(req.target, "/v20190125/meshes/m%201/virtualRouter/vr/routes?meshOwner=123456789012");
  EXPECT_EQ(json::parse(req.body), json({{"routeName", "r"}, {"spec", input["spec"]}}));
  EXPECT_EQ(adapter_.handle(req).status, 200);
  EXPECT_EQ(service_.lastOp, "CreateRoute");
  EXPECT_EQ(service_.lastInput, input);
}

TEST_F(RestJsonTest, UnknownPathIsUnknownOperation) {
  auto r = send("GET", "/v20190125/nothing");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(header(r, "x-amzn-errortype"), "UnknownOperationException");
}

}  // namespace
}  // namespace meshd::api
