#include "model/resource_key.h"

#include <gtest/gtest.h>

namespace meshd::model {
namespace {

TEST(ResourceKeyTest, RoundTripsEveryKindWithAwkwardNames) {
  for (const Kind* k : allKinds()) {
    ResourceId id{k, "m/1", k->parent ? "p%2" : "", k->isMesh() ? "m/1" : "a/b c"};
    auto back = parseKey(keyOf(id));
    ASSERT_TRUE(back.has_value()) << keyOf(id);
    EXPECT_EQ(*back, id);
  }
}

TEST(ResourceKeyTest, PrefixesSeparateMeshesAndKinds) {
  ResourceId node{&kVirtualNode, "m", "", "n"};
  EXPECT_EQ(keyOf(node).rfind(kindPrefix(kVirtualNode, "m"), 0), 0u);
  EXPECT_EQ(keyOf(node).rfind(meshContentsPrefix("m"), 0), 0u);
  EXPECT_NE(keyOf(node).rfind(meshContentsPrefix("m2"), 0), 0u);
  // A mesh named "mesh" cannot collide with the contents of other meshes.
  EXPECT_NE(keyOf({&kMesh, "mesh", "", "mesh"}).rfind("appmesh/mesh/", 0), 0u);
}

TEST(ResourceKeyTest, RejectsForeignKeys) {
  EXPECT_FALSE(parseKey("appmesh/mesh/m/virtualNode").has_value());
  EXPECT_FALSE(parseKey("appmesh/mesh/m/route/n").has_value());
  EXPECT_FALSE(parseKey("appmesh/tokens/x").has_value());
  EXPECT_FALSE(parseKey("cloudmap/x").has_value());
}

}  // namespace
}  // namespace meshd::model
