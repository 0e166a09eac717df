#include "proxy/stats.h"

#include <gtest/gtest.h>

namespace meshd::proxy {
namespace {

using std::chrono::milliseconds;

// Envoy records whole milliseconds; a value on a bound belongs to that bound's bucket (le).
TEST(StatsTest, LatencyHistogramBucketsAreCumulative) {
  LatencyHistogram h;
  for (auto ms : {0, 1, 1, 7, 250, 4000000}) h.record(milliseconds(ms));
  h.record(milliseconds(-3));  // a clock that went back counts as 0
  auto c = h.cumulative();
  EXPECT_EQ(c[0], 2u);   // le 0.5: the two zeros
  EXPECT_EQ(c[1], 4u);   // le 1
  EXPECT_EQ(c[2], 4u);   // le 5
  EXPECT_EQ(c[3], 5u);   // le 10
  EXPECT_EQ(c[7], 6u);   // le 250
  EXPECT_EQ(c[LatencyHistogram::kBuckets - 2], 6u);  // le 3600000
  EXPECT_EQ(c.back(), 7u);                            // +Inf
  EXPECT_EQ(h.sum(), 0u + 1 + 1 + 7 + 250 + 4000000);
}

// Response codes as Envoy's code stats: each code, its class and the total, shown as asked.
TEST(StatsTest, ResponseCodesByCodeClassAndTotal) {
  ResponseCodes codes;
  for (unsigned code : {200u, 200u, 503u, 42u, 600u}) codes.charge(code);  // 42 and 600 are not codes
  StatValues out;
  codes.appendTo(out, "upstream_rq", ResponseCodes::kTotal | ResponseCodes::kPerCode);
  StatValues want = {{"upstream_rq_200", 2}, {"upstream_rq_503", 1}, {"upstream_rq_2xx", 2},
                     {"upstream_rq_5xx", 1}, {"upstream_rq_completed", 3}};
  EXPECT_EQ(out, want);
  StatValues eager;
  ResponseCodes().appendTo(eager, "downstream_rq", ResponseCodes::kTotal | ResponseCodes::kClasses);
  EXPECT_EQ(eager.size(), 6u);  // 1xx..5xx and completed, all 0
  StatValues lazy;
  ResponseCodes().appendTo(lazy, "retry.upstream_rq", ResponseCodes::kPerCode);
  EXPECT_TRUE(lazy.empty());
}

}  // namespace
}  // namespace meshd::proxy
