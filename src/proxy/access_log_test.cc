#include "proxy/access_log.h"

#include <gtest/gtest.h>
#include <cstdlib>
#include <nlohmann/json.hpp>

namespace meshd::proxy {
namespace {

AccessLogFormat textFormat(const std::string& f) {
  auto r = AccessLogFormat::text(f);
  EXPECT_TRUE(r.ok()) << r.status().message();
  return std::move(r).value();
}

AccessLogFormat jsonFormat(const std::map<std::string, std::string>& fields) {
  auto r = AccessLogFormat::json(fields);
  EXPECT_TRUE(r.ok()) << r.status().message();
  return std::move(r).value();
}

RequestLog sample() {
  RequestLog r;
  r.start = std::chrono::system_clock::time_point(std::chrono::milliseconds(1795474800123));  // 2026-11-23T23:00:00.123Z
  r.method = "GET";
  r.path = "/red";
  r.authority = "gw";
  r.userAgent = "curl/7.88.1";
  r.responseCode = 503;
  r.addFlag("UF");
  r.addFlag("URX");
  r.bytesSent = 19;
  r.duration = std::chrono::milliseconds(7);
  r.upstreamHost = "127.0.0.1:15000";
  return r;
}

TEST(AccessLogTest, DefaultFormatIsEnvoys) {
  EXPECT_EQ(textFormat("").format(sample()),
            "[2026-11-23T23:00:00.123Z] \"GET /red HTTP/1.1\" 503 UF,URX 0 19 7 - \"-\" \"curl/7.88.1\" \"-\" \"gw\" "
            "\"127.0.0.1:15000\"\n");
}

TEST(AccessLogTest, TextOperatorsAndFallbacks) {
  RequestLog r = sample();
  r.responseFlags.clear();
  EXPECT_EQ(textFormat("%RESPONSE_FLAGS% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %REQ(USER-AGENT):5% 100%% %DOWNSTREAM_TLS_CIPHER%\n").format(r),
            "- /red curl/ 100% -\n");  // REQ(...):N keeps N characters; no TLS, no cipher
}

// As Envoy's parser, a format it cannot read is an error (the listener is NACKed), with its words.
TEST(AccessLogTest, FormatsEnvoyRejectsAreErrors) {
  auto error = [](const std::string& f) {
    auto r = AccessLogFormat::text(f);
    return r.ok() ? std::string("accepted") : r.status().message();
  };
  EXPECT_EQ(error("%NOPE%"), "Not supported field in StreamInfo: NOPE");
  EXPECT_EQ(error("%REQ%"), "REQ requires parameters");
  EXPECT_EQ(error("%PROTOCOL(x)%"), "PROTOCOL does not take any parameters or length");
  EXPECT_EQ(error("%PROTOCOL:10%"), "PROTOCOL does not take any parameters or length");
  EXPECT_EQ(error("%START_TIME:10%"), "START_TIME does not allow length to be specified.");
  EXPECT_EQ(error("%REQ(a?b?c)%"), "More than 1 alternative header specified in token: a?b?c");
  EXPECT_EQ(error("%FILTER_STATE()%"), "Invalid filter state configuration, key cannot be empty.");
  EXPECT_EQ(error("ok 100% done"), "Incorrect configuration: ok 100% done. Couldn't find valid command at position 6");
  EXPECT_EQ(error("%response_code%"), "Incorrect configuration: %response_code%. Couldn't find valid command at position 0");
  EXPECT_EQ(error("%DYNAMIC_METADATA(a)% %REQ(x):3% 100%%"), "accepted");
  EXPECT_EQ(error("%REQ(x):%"), "Incorrect configuration: %REQ(x):%. Couldn't find valid command at position 0");
  EXPECT_EQ(error("%REQ(x):99999999999999999999999%"), "Length must be an integer, given: 99999999999999999999999");
  EXPECT_EQ(textFormat("[%REQ(:METHOD):0%]").format(sample()), "[]");  // a length of 0 keeps nothing, as Envoy's
  auto json = AccessLogFormat::json({{"ok", "%RESPONSE_CODE%"}, {"bad", "%NOPE%"}});
  ASSERT_FALSE(json.ok());
  EXPECT_EQ(json.status().message(), "Not supported field in StreamInfo: NOPE");
}

// The details Envoy gives each outcome, the connection's number, the request's own duration.
TEST(AccessLogTest, DetailsConnectionIdAndRequestDuration) {
  RequestLog r = sample();
  r.details = "upstream_reset_before_response_started{remote connection failure|delayed connect error: Connection refused}";
  r.connectionId = 42;
  r.requestDuration = std::chrono::milliseconds(2);
  r.requestTxDuration = std::chrono::milliseconds(3);
  r.upstreamProtocol = "HTTP/1.1";
  r.localReplyBody = "no healthy upstream";
  r.filterChainName = "fc";
  r.requestId = "id-1";
  EXPECT_EQ(textFormat("%RESPONSE_CODE_DETAILS% %CONNECTION_ID% %REQUEST_DURATION% %UPSTREAM_PROTOCOL% %RESPONSE_FLAGS_LONG% "
                       "%CONNECTION_TERMINATION_DETAILS% %FILTER_CHAIN_NAME% %STREAM_ID% %ACCESS_LOG_TYPE% [%LOCAL_REPLY_BODY%]")
                .format(r),
            "upstream_reset_before_response_started{remote_connection_failure|delayed_connect_error:_Connection_refused} 42 2 "
            "HTTP/1.1 UpstreamConnectionFailure,UpstreamRetryLimitExceeded - fc id-1 DownstreamEnd [no healthy upstream]");
  auto j = nlohmann::json::parse(jsonFormat({{"id", "%CONNECTION_ID%"}, {"rq", "%REQUEST_DURATION%"}}).format(r));
  EXPECT_EQ(j["id"], 42);
  EXPECT_EQ(j["rq"], 2);
  r.requestDuration.reset();
  EXPECT_EQ(textFormat("%REQUEST_DURATION% %REQUEST_TX_DURATION%").format(r), "- 3");
  EXPECT_EQ(textFormat("%RESPONSE_CODE_DETAILS(ALLOW_WHITESPACES)%").format(r),
            "upstream_reset_before_response_started{remote connection failure|delayed connect error: Connection refused}");
}

// GRPC_STATUS only for a gRPC request, in Envoy's three spellings; a number in JSON when asked for one.
TEST(AccessLogTest, GrpcStatusSpellings) {
  RequestLog r = sample();
  r.grpcStatus = 1;
  AccessLogFormat f = textFormat("%GRPC_STATUS% %GRPC_STATUS(CAMEL_STRING)% %GRPC_STATUS(SNAKE_STRING)% %GRPC_STATUS(NUMBER)% %GRPC_STATUS_NUMBER%");
  EXPECT_EQ(f.format(r), "- - - - -");  // not a gRPC request
  r.grpc = true;
  EXPECT_EQ(f.format(r), "Canceled Canceled CANCELLED 1 1");
  r.grpcStatus = 40;
  EXPECT_EQ(f.format(r), "40 40 40 40 40");
  r.grpcStatus = 14;
  auto j = nlohmann::json::parse(jsonFormat({{"n", "%GRPC_STATUS(NUMBER)%"}, {"s", "%GRPC_STATUS%"}}).format(r));
  EXPECT_EQ(j["n"], 14);
  EXPECT_EQ(j["s"], "Unavailable");
  EXPECT_EQ(AccessLogFormat::text("%GRPC_STATUS(LOUD)%").status().message(),
            "GrpcStatusFormatter only supports CAMEL_STRING, SNAKE_STRING or NUMBER.");
}

TEST(AccessLogTest, EnvironmentIsReadOnce) {
  ::setenv("MESHPROXY_LOG_TEST_ZONE", "us-west-2a", 1);
  AccessLogFormat f = textFormat("%ENVIRONMENT(MESHPROXY_LOG_TEST_ZONE)% %ENVIRONMENT(MESHPROXY_LOG_TEST_ZONE):5% "
                                 "%ENVIRONMENT(MESHPROXY_LOG_TEST_UNSET)%");
  ::setenv("MESHPROXY_LOG_TEST_ZONE", "changed", 1);
  EXPECT_EQ(f.format(sample()), "us-west-2a us-we -");
}

TEST(AccessLogTest, StartTimeTakesAFormatWithEnvoysExtensions) {
  EXPECT_EQ(textFormat("%START_TIME(%Y/%m/%d %H:%M:%S.%3f|%s|%f|%%)%").format(sample()),
            "2026/11/23 23:00:00.123|1795474800|123000000|%");
}

// Istio's default format's operators, and the addresses' parts.
TEST(AccessLogTest, AddressesRouteAttemptsAndDurations) {
  RequestLog r = sample();
  r.downstreamRemote = "[::1]:40000";
  r.downstreamLocal = boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("10.0.0.1"), 9080);
  r.upstreamLocal = "127.0.0.1:50000";
  r.routeName = "r1";
  r.attempts = 2;
  r.transportFailure = "delayed connect error: Connection refused";
  r.responseDuration = std::chrono::milliseconds(3);
  r.path = "/red?x=1";
  EXPECT_EQ(textFormat("%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT% %DOWNSTREAM_REMOTE_PORT% %DOWNSTREAM_LOCAL_ADDRESS% "
                                  "%DOWNSTREAM_LOCAL_PORT% %UPSTREAM_REMOTE_ADDRESS_WITHOUT_PORT% %UPSTREAM_REMOTE_PORT% "
                                  "%UPSTREAM_LOCAL_ADDRESS% %ROUTE_NAME% %UPSTREAM_REQUEST_ATTEMPT_COUNT% "
                                  "\"%UPSTREAM_TRANSPORT_FAILURE_REASON%\" %RESPONSE_DURATION% %RESPONSE_TX_DURATION% "
                                  "%REQ_WITHOUT_QUERY(:PATH)% %REQUESTED_SERVER_NAME%")
                .format(r),
            "::1 40000 10.0.0.1:9080 9080 127.0.0.1 15000 127.0.0.1:50000 r1 2 "
            "\"delayed connect error: Connection refused\" 3 4 /red -");
  auto j = nlohmann::json::parse(jsonFormat({{"port", "%DOWNSTREAM_REMOTE_PORT%"},
                                                        {"attempts", "%UPSTREAM_REQUEST_ATTEMPT_COUNT%"},
                                                        {"rx", "%RESPONSE_DURATION%"}})
                                     .format(r));
  EXPECT_EQ(j["port"], 40000);
  EXPECT_EQ(j["attempts"], 2);
  EXPECT_EQ(j["rx"], 3);
  r.responseDuration.reset();
  EXPECT_TRUE(nlohmann::json::parse(jsonFormat({{"rx", "%RESPONSE_DURATION%"}}).format(r))["rx"].is_null());
}

// As Envoy's json_format: a value that is one operator alone is typed (numbers for the code, counts
// and duration; null for what there is none of); any other value is a string.
TEST(AccessLogTest, JsonFormatIsOneTypedObjectPerLine) {
  auto line = jsonFormat({{"code", "%RESPONSE_CODE%"}, {"flags", "%RESPONSE_FLAGS%"}, {"ms", "%DURATION%"},
                                     {"sent", "%BYTES_SENT%"}, {"host", "%UPSTREAM_HOST%"}, {"xff", "%REQ(X-FORWARDED-FOR)%"},
                                     {"text", "code %RESPONSE_CODE%"}, {"mixed", "%REQ(X-FORWARDED-FOR)% x"}})
                  .format(sample());
  ASSERT_EQ(line.back(), '\n');
  EXPECT_EQ(nlohmann::json::parse(line),
            (nlohmann::json{{"code", 503}, {"flags", "UF,URX"}, {"ms", 7}, {"sent", 19}, {"host", "127.0.0.1:15000"},
                            {"xff", nullptr}, {"text", "code 503"}, {"mixed", "- x"}}));
}

// RESP(...) reads the response fields the router copied for it, in any case; "-" when absent.
TEST(AccessLogTest, RespReadsTheCopiedResponseFields) {
  RequestLog r = sample();
  r.responseFields = {{"x-envoy-upstream-service-time", "12"}, {"content-type", "text/plain"}};
  r.trailerFields = {{"grpc-message", "gone"}};
  auto f = textFormat("%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% %RESP(Content-Type)% %RESP(x-nope)% %RESP(x-nope?content-type)% "
                      "%TRAILER(GRPC-MESSAGE)% %TRAILER(content-type)%\n");
  EXPECT_EQ(f.format(r), "12 text/plain - text/plain gone -\n");
  EXPECT_EQ(f.trailerFields(), (std::vector<std::string>{"grpc-message", "content-type"}));
  EXPECT_EQ(f.responseFields(), (std::vector<std::string>{"x-envoy-upstream-service-time", "content-type", "x-nope"}));
  EXPECT_EQ(textFormat("").responseFields(), std::vector<std::string>{"x-envoy-upstream-service-time"});
  EXPECT_EQ(jsonFormat({{"t", "%RESP(server)%"}}).responseFields(), std::vector<std::string>{"server"});
}

// REQ(...) of a field RequestLog has no member for reads the fields copied for it; the format says
// which to copy (both sides of A?B, not those RequestLog keeps anyway).
TEST(AccessLogTest, ReqOfAnyFieldReadsTheCopiedRequestFields) {
  RequestLog r = sample();
  r.requestFields = {{"x-b3-traceid", "abc"}};
  auto f = textFormat("%REQ(X-B3-TRACEID)% %REQ(X-NONE?X-B3-TRACEID)% %REQ(USER-AGENT)% %REQ(X-NONE)%\n");
  EXPECT_EQ(f.format(r), "abc abc curl/7.88.1 -\n");
  EXPECT_EQ(f.requestFields(), (std::vector<std::string>{"x-b3-traceid", "x-none"}));
  EXPECT_EQ(textFormat("").requestFields(), std::vector<std::string>{"x-envoy-original-path"});
}

}  // namespace
}  // namespace meshd::proxy
