#include "colorteller/teller.h"

#include <gtest/gtest.h>

namespace meshd::apps {
namespace {

api::HttpResponse get(Teller& t, const std::string& target) { return t.handle({"GET", target, {}, ""}); }

TEST(TellerTest, AnswersItsColorAndPing) {
  Teller t("red");
  auto r = get(t, "/red");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "red");
  EXPECT_EQ(get(t, "/").body, "red");
  auto ping = get(t, "/ping");
  EXPECT_EQ(ping.status, 200);
  EXPECT_EQ(ping.body, "");
}

TEST(TellerTest, FlakesAShareOfAnswers) {
  Teller t("blue");
  EXPECT_EQ(get(t, "/setFlake?rate=30&code=503").status, 200);
  int failed = 0;
  for (int i = 0; i < 100; ++i) failed += get(t, "/").status == 503;
  EXPECT_EQ(failed, 30);
  EXPECT_EQ(get(t, "/ping").status, 200);  // the health check never flakes
  get(t, "/setFlake?rate=0");
  for (int i = 0; i < 10; ++i) EXPECT_EQ(get(t, "/").status, 200);
  EXPECT_EQ(get(t, "/setFlake?rate=101").status, 400);
  EXPECT_EQ(get(t, "/setFlake?rate=x").status, 400);
}

}  // namespace
}  // namespace meshd::apps
