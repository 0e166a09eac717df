#include <gtest/gtest.h>

#include <thread>

#include "store/store.h"
#include "store/testing/temp_store.h"

namespace meshd::store {
namespace {

class SqliteStoreTest : public ::testing::Test {
 protected:
  void reopen() { store_.reopen(); }
  TxnResult put(const std::string& k, const std::string& v, std::vector<Compare> cmp = {}) {
    auto r = store_->commit({std::move(cmp), {{Op::Type::kPut, k, v}}});
    EXPECT_TRUE(r.ok());
    return *r;
  }

  testing::TempStore store_;
};

TEST_F(SqliteStoreTest, PutAssignsRevisionsAndVersions) {
  EXPECT_EQ(put("/a", "1").revision, 1);
  EXPECT_EQ(put("/a", "2").revision, 2);
  auto kv = store_->get("/a");
  ASSERT_TRUE(kv.ok() && kv->has_value());
  EXPECT_EQ((*kv)->value, "2");
  EXPECT_EQ((*kv)->createRevision, 1);
  EXPECT_EQ((*kv)->modRevision, 2);
  EXPECT_EQ((*kv)->version, 2);
}

TEST_F(SqliteStoreTest, CompareFailureChangesNothing) {
  put("/a", "1");
  auto r = store_->commit({{{"/a", 0}}, {{Op::Type::kPut, "/a", "x"}, {Op::Type::kPut, "/b", "y"}}});
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->succeeded);
  EXPECT_EQ(store_->revision(), 1);
  EXPECT_FALSE(store_->get("/b")->has_value());
  EXPECT_EQ((*store_->get("/a"))->value, "1");
}

TEST_F(SqliteStoreTest, TxnAppliesAllOpsUnderOneRevision) {
  auto r = store_->commit({{}, {{Op::Type::kPut, "/a", "1"}, {Op::Type::kPut, "/b", "2"}}});
  ASSERT_TRUE(r.ok() && r->succeeded);
  auto ev = store_->events(0, 100);
  ASSERT_TRUE(ev.ok());
  ASSERT_EQ(ev->size(), 2u);
  EXPECT_EQ((*ev)[0].revision, 1);
  EXPECT_EQ((*ev)[1].revision, 1);
  EXPECT_EQ((*ev)[1].kv.key, "/b");
}

TEST_F(SqliteStoreTest, ListIsPrefixBoundedOrderedAndPaged) {
  for (auto k : {"/m/b", "/m/a", "/m/c", "/n/a", "/m"}) put(k, "v");
  auto all = store_->list("/m/", "", 10);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ((*all)[0].key, "/m/a");
  auto page = store_->list("/m/", "/m/a", 1);
  ASSERT_EQ(page->size(), 1u);
  EXPECT_EQ((*page)[0].key, "/m/b");
  EXPECT_EQ(*store_->count("/m/"), 3u);
}

TEST_F(SqliteStoreTest, DeleteIsAnEventWithTheLastValue) {
  put("/a", "1");
  auto r = store_->commit({{}, {{Op::Type::kDelete, "/a", ""}}});
  ASSERT_TRUE(r.ok() && r->succeeded);
  auto ev = store_->events(1, 10);
  ASSERT_EQ(ev->size(), 1u);
  EXPECT_EQ((*ev)[0].type, Event::Type::kDelete);
  EXPECT_EQ((*ev)[0].kv.value, "1");
  EXPECT_FALSE(store_->get("/a")->has_value());
}

TEST_F(SqliteStoreTest, StateSurvivesReopen) {
  put("/a", "1");
  put("/b", "2");
  reopen();
  EXPECT_EQ(store_->revision(), 2);
  EXPECT_EQ((*store_->get("/b"))->value, "2");
  EXPECT_EQ(put("/c", "3").revision, 3);
}

TEST_F(SqliteStoreTest, WaitForRevisionWakesOnCommit) {
  std::thread writer([&] { put("/a", "1"); });
  Revision r = store_->waitForRevision(0, std::chrono::seconds(5));
  writer.join();
  EXPECT_EQ(r, 1);
}

TEST(PrefixEndTest, IncrementsLastByte) {
  EXPECT_EQ(prefixEnd("/m/"), "/m0");
  EXPECT_EQ(prefixEnd(std::string("a\xff", 2)), "b");
  EXPECT_EQ(prefixEnd(""), "");
}

}  // namespace
}  // namespace meshd::store
